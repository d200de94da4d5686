//! UDP sockets: one per (local address, port), so the source address of a datagram is
//! exactly the local side of the engine's [`crate::engine::Transmit::path`]. On the NAT-T
//! port datagrams are told apart as RFC 3948 §2.2 says: the non-ESP marker means IKE, a
//! single 0xFF a keepalive, any other first four bytes an ESP SPI.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};

use crate::engine::{Path, Transmit};

pub use crate::wire::natt::{classify, Received, NON_ESP_MARKER};

/// One received datagram.
#[derive(Debug, Clone)]
pub struct Datagram {
    /// The socket's address (our side) and the sender.
    pub path: Path,
    /// Bytes as they were on the wire (marker included), for captures.
    pub wire: Vec<u8>,
    /// Classified content.
    pub content: Received,
}

struct Sock {
    sock: UdpSocket,
    local: SocketAddr,
    natt: bool,
    /// An extra port standing in for the NAT-T port (a rebinding): IKE messages sent
    /// from it carry the non-ESP marker even when the engine, seeing a port that is not
    /// its NAT-T port, did not ask for one.
    marker: bool,
}

/// The peer's sockets.
pub struct Sockets {
    socks: Vec<Sock>,
    ike_port: u16,
    natt_port: u16,
    /// Drop and loss filters (drills).
    pub filter: Filter,
}

/// Datagrams the I/O layer drops on purpose (failover drills): whole pairs of
/// addresses (ours, the peer's) in both directions, and a share of random loss, on one
/// pair or on all. The loss is drawn from a deterministic generator (same seed, same
/// sequence).
#[derive(Debug, Clone)]
pub struct Filter {
    dropped: Vec<(IpAddr, IpAddr)>,
    loss_all: u8,
    loss_pairs: Vec<((IpAddr, IpAddr), u8)>,
    rng: u64,
}

impl Default for Filter {
    fn default() -> Self {
        Filter {
            dropped: Vec::new(),
            loss_all: 0,
            loss_pairs: Vec::new(),
            rng: 0x9e37_79b9_7f4a_7c15,
        }
    }
}

impl Filter {
    /// Drop every datagram between `local` and `remote` (or stop).
    pub fn set_drop(&mut self, local: IpAddr, remote: IpAddr, on: bool) {
        self.dropped.retain(|p| *p != (local, remote));
        if on {
            self.dropped.push((local, remote));
        }
    }

    /// Drop `percent` % of the datagrams on `pair` (ours, the peer's), or on every pair.
    /// A pair's own setting wins over the one for every pair.
    pub fn set_loss(&mut self, percent: u8, pair: Option<(IpAddr, IpAddr)>) {
        let percent = percent.min(100);
        match pair {
            None => self.loss_all = percent,
            Some(p) => {
                self.loss_pairs.retain(|(q, _)| *q != p);
                self.loss_pairs.push((p, percent));
            }
        }
    }

    fn next(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Should a datagram on `path` (either direction) be dropped?
    pub fn drops(&mut self, path: Path) -> bool {
        let pair = (path.local.ip(), path.remote.ip());
        if self.dropped.contains(&pair) {
            return true;
        }
        let percent = self
            .loss_pairs
            .iter()
            .find(|(p, _)| *p == pair)
            .map(|(_, l)| *l)
            .unwrap_or(self.loss_all);
        percent > 0 && (self.next() % 100) < u64::from(percent)
    }
}

impl std::fmt::Debug for Sockets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.socks.iter().map(|s| s.local))
            .finish()
    }
}

/// The bytes to put on the wire for a transmit (ESP never gets the marker).
pub fn wire_bytes(t: &Transmit) -> Vec<u8> {
    crate::wire::natt::frame(&t.bytes, t.non_esp_marker && !t.esp)
}

impl Sockets {
    /// Bind `addr:ike_port` and `addr:natt_port` for every address (non-blocking).
    pub fn bind(addrs: &[IpAddr], ike_port: u16, natt_port: u16) -> io::Result<Sockets> {
        if ike_port == natt_port {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("IKE port and NAT-T port must differ (both {ike_port})"),
            ));
        }
        let mut s = Sockets {
            socks: Vec::new(),
            ike_port,
            natt_port,
            filter: Filter::default(),
        };
        for &ip in addrs {
            s.bind_addr(ip)?;
        }
        Ok(s)
    }

    fn bind_one(&mut self, want: SocketAddr, natt: bool, marker: bool) -> io::Result<SocketAddr> {
        let sock = UdpSocket::bind(want)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot bind UDP {want}: {e}")))?;
        sock.set_nonblocking(true)?;
        // ICMP errors become lower-layer hints (a check, never a move by themselves);
        // without them the socket still works
        let _ = super::icmp::enable(&sock);
        let local = sock.local_addr()?;
        self.socks.push(Sock {
            sock,
            local,
            natt,
            marker,
        });
        Ok(local)
    }

    /// Bind the IKE and the NAT-T port on `ip` (at run time too); `Ok(false)` when
    /// they are bound already. Nothing stays bound when one of them fails.
    pub fn bind_addr(&mut self, ip: IpAddr) -> io::Result<bool> {
        if self.socks.iter().any(|s| s.local.ip() == ip) {
            return Ok(false);
        }
        self.bind_one(SocketAddr::new(ip, self.ike_port), false, false)?;
        if let Err(e) = self.bind_one(SocketAddr::new(ip, self.natt_port), true, false) {
            self.unbind_addr(ip);
            return Err(e);
        }
        Ok(true)
    }

    /// Close every socket on `ip`; returns how many there were.
    pub fn unbind_addr(&mut self, ip: IpAddr) -> usize {
        let before = self.socks.len();
        self.socks.retain(|s| s.local.ip() != ip);
        before - self.socks.len()
    }

    /// Bind one more socket on `ip` at a fresh port chosen by the kernel, to send as a
    /// NAT rebinding would look; returns its address. `natt`: it stands in for the NAT-T
    /// port (the non-ESP marker is stripped on receive and added on send, as a NAT
    /// would pass it on), else for the IKE port.
    pub fn bind_extra_port(&mut self, ip: IpAddr, natt: bool) -> io::Result<SocketAddr> {
        self.bind_one(SocketAddr::new(ip, 0), natt, natt)
    }

    /// The addresses with sockets, in binding order.
    pub fn bound_ips(&self) -> Vec<IpAddr> {
        let mut v: Vec<IpAddr> = Vec::new();
        for s in &self.socks {
            if !v.contains(&s.local.ip()) {
                v.push(s.local.ip());
            }
        }
        v
    }

    /// Bound addresses.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.socks.iter().map(|s| s.local).collect()
    }

    /// The configured ports (IKE, NAT-T).
    pub fn ports(&self) -> (u16, u16) {
        (self.ike_port, self.natt_port)
    }

    /// File descriptors to poll, in the order [`Sockets::recv`] takes indexes.
    pub fn fds(&self) -> Vec<RawFd> {
        self.socks.iter().map(|s| s.sock.as_raw_fd()).collect()
    }

    /// Receive one datagram from socket `idx`; `Ok(None)` when nothing is waiting.
    /// Datagrams the [`Filter`] drops are read and discarded.
    pub fn recv(&mut self, idx: usize, buf: &mut [u8]) -> io::Result<Option<Datagram>> {
        loop {
            let Some(s) = self.socks.get(idx) else {
                return Ok(None);
            };
            match s.sock.recv_from(buf) {
                Ok((n, remote)) => {
                    let path = Path::new(s.local, unmap(remote));
                    let natt = s.natt;
                    if self.filter.drops(path) {
                        continue;
                    }
                    let wire = buf[..n].to_vec();
                    let content = classify(natt, &wire);
                    return Ok(Some(Datagram {
                        path,
                        wire,
                        content,
                    }));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(None),
                // ICMP errors reported on the socket (port or host unreachable ...): not
                // fatal; they are read from the error queue ([`Sockets::icmp_errors`])
                Err(e) if icmp_reported(&e) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    }

    /// The ICMP destination-unreachable errors queued on socket `idx`, as the path (our
    /// socket's address, the destination that failed) they concern.
    pub fn icmp_errors(&mut self, idx: usize) -> Vec<(Path, super::icmp::IcmpError)> {
        use std::os::fd::AsRawFd;
        let Some(s) = self.socks.get(idx) else {
            return vec![];
        };
        super::icmp::drain(s.sock.as_raw_fd())
            .into_iter()
            .filter(super::icmp::IcmpError::is_unreachable)
            .map(|e| (Path::new(s.local, unmap(e.dest)), e))
            .collect()
    }

    /// Send a transmit from the socket bound at `t.local`; returns the wire bytes, or
    /// `None` when the [`Filter`] dropped it (silently, as a black hole would).
    pub fn send(&mut self, t: &Transmit) -> io::Result<Option<Vec<u8>>> {
        if self.filter.drops(t.path) {
            return Ok(None);
        }
        self.send_unfiltered(t).map(Some)
    }

    /// [`Sockets::send`] without the filter.
    pub fn send_unfiltered(&self, t: &Transmit) -> io::Result<Vec<u8>> {
        let s = self
            .socks
            .iter()
            .find(|s| s.local == t.path.local)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::AddrNotAvailable,
                    format!(
                        "no socket bound at {} (bound: {})",
                        t.path.local,
                        self.local_addrs()
                            .iter()
                            .map(|a| a.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })?;
        // ESP and keepalives go out bare from a rebound port too
        let wire = if s.marker && !t.non_esp_marker && !t.esp && t.bytes != [0xff] {
            wire_bytes(&Transmit {
                non_esp_marker: true,
                ..t.clone()
            })
        } else {
            wire_bytes(t)
        };
        s.sock
            .send_to(&wire, t.path.remote)
            .map_err(|e| io::Error::new(e.kind(), format!("send {}: {e}", t.path)))?;
        Ok(wire)
    }
}

/// Errors a receive reports for an earlier ICMP error (the error queue has the details).
fn icmp_reported(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ECONNREFUSED | libc::EHOSTUNREACH | libc::ENETUNREACH | libc::EHOSTDOWN)
    )
}

fn unmap(a: SocketAddr) -> SocketAddr {
    match a {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), v6.port()),
            None => a,
        },
        a => a,
    }
}

/// The source address the kernel's routing table picks for `remote` (no packet is sent).
pub fn route_source(remote: IpAddr) -> io::Result<IpAddr> {
    let any: IpAddr = if remote.is_ipv4() {
        Ipv4Addr::UNSPECIFIED.into()
    } else {
        Ipv6Addr::UNSPECIFIED.into()
    };
    let s = UdpSocket::bind(SocketAddr::new(any, 0))?;
    s.connect(SocketAddr::new(remote, 500))
        .map_err(|e| io::Error::new(e.kind(), format!("no route to {remote}: {e}")))?;
    Ok(s.local_addr()?.ip())
}

/// Every address configured on the host's interfaces (IPv6 link-local addresses left
/// out: they need a scope), via getifaddrs(3).
pub fn interface_addrs() -> io::Result<Vec<IpAddr>> {
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we free with freeifaddrs below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list returned by getifaddrs, not yet freed.
        let ifa = unsafe { &*cur };
        if !ifa.ifa_addr.is_null() {
            // SAFETY: ifa_addr points to a sockaddr whose family tells its real type.
            let family = unsafe { (*ifa.ifa_addr).sa_family } as i32;
            if family == libc::AF_INET {
                // SAFETY: family AF_INET means sockaddr_in.
                let sin = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
                out.push(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                    sin.sin_addr.s_addr,
                ))));
            } else if family == libc::AF_INET6 {
                // SAFETY: family AF_INET6 means sockaddr_in6.
                let sin6 = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in6) };
                let a = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
                if a.segments()[0] & 0xffc0 != 0xfe80 {
                    out.push(IpAddr::V6(a));
                }
            }
        }
        cur = ifa.ifa_next;
    }
    // SAFETY: `head` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_handling() {
        assert_eq!(classify(false, &[1, 2]), Received::Ike(vec![1, 2]));
        assert_eq!(classify(true, &[0, 0, 0, 0, 9]), Received::Ike(vec![9]));
        assert_eq!(classify(true, &[0xff]), Received::Keepalive);
        assert_eq!(
            classify(true, &[1, 2, 3, 4, 5]),
            Received::Esp(vec![1, 2, 3, 4, 5])
        );
        assert_eq!(classify(true, &[0, 0]), Received::Runt);
        let t = Transmit {
            path: Path::new(
                "127.0.0.1:4500".parse().unwrap(),
                "127.0.0.1:4501".parse().unwrap(),
            ),
            bytes: vec![7],
            non_esp_marker: true,
            esp: false,
        };
        assert_eq!(wire_bytes(&t), vec![0, 0, 0, 0, 7]);
        // a NAT-T keepalive goes out as the single byte
        let ka = Transmit {
            bytes: vec![0xff],
            non_esp_marker: false,
            ..t
        };
        assert_eq!(wire_bytes(&ka), vec![0xff]);
        // ESP goes out as it is
        let esp = Transmit {
            bytes: vec![1, 2, 3, 4, 5, 6, 7, 8],
            non_esp_marker: false,
            esp: true,
            ..ka
        };
        assert_eq!(wire_bytes(&esp), esp.bytes);
    }

    #[test]
    fn loopback_send_and_receive() {
        let lo: IpAddr = Ipv4Addr::LOCALHOST.into();
        // ephemeral ports: bind port 0 twice is not allowed by Sockets::bind (same port)
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let pa = a.local_addr().unwrap().port();
        drop(a);
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        let pb = b.local_addr().unwrap().port();
        drop(b);
        let mut s = Sockets::bind(&[lo], pa, pb).unwrap();
        let t = Transmit {
            path: Path::new(SocketAddr::new(lo, pb), SocketAddr::new(lo, pb)),
            bytes: vec![1, 2, 3],
            non_esp_marker: true,
            esp: false,
        };
        assert_eq!(s.send(&t).unwrap(), Some(vec![0, 0, 0, 0, 1, 2, 3]));
        let mut buf = [0u8; 2048];
        let mut got = None;
        for _ in 0..100 {
            if let Some(d) = s.recv(1, &mut buf).unwrap() {
                got = Some(d);
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let d = got.expect("datagram");
        assert_eq!(d.content, Received::Ike(vec![1, 2, 3]));
        assert_eq!(d.path.local, SocketAddr::new(lo, pb));
        assert!(interface_addrs().unwrap().contains(&lo));
        // dropped pair: nothing goes out
        s.filter.set_drop(lo, lo, true);
        assert_eq!(s.send(&t).unwrap(), None);
        s.filter.set_drop(lo, lo, false);
        // run-time binding
        let other: IpAddr = "127.0.0.9".parse().unwrap();
        assert!(s.bind_addr(other).unwrap());
        assert!(!s.bind_addr(other).unwrap());
        assert_eq!(s.bound_ips(), vec![lo, other]);
        let extra = s.bind_extra_port(other, true).unwrap();
        assert_ne!(extra.port(), 0);
        // the rebound port stands in for the NAT-T port: the marker is added
        let from_extra = Transmit {
            path: Path::new(extra, SocketAddr::new(lo, pb)),
            bytes: vec![5],
            non_esp_marker: false,
            esp: false,
        };
        assert_eq!(s.send(&from_extra).unwrap(), Some(vec![0, 0, 0, 0, 5]));
        // but not to ESP
        let esp_from_extra = Transmit {
            bytes: vec![9; 8],
            esp: true,
            ..from_extra
        };
        assert_eq!(s.send(&esp_from_extra).unwrap(), Some(vec![9; 8]));
        assert_eq!(s.unbind_addr(other), 3);
        assert_eq!(s.fds().len(), 2);
    }

    #[test]
    fn loss_is_deterministic_and_proportional() {
        let p = Path::new(
            "10.0.0.1:500".parse().unwrap(),
            "10.0.0.2:500".parse().unwrap(),
        );
        let q = Path::new(
            "10.0.0.3:500".parse().unwrap(),
            "10.0.0.2:500".parse().unwrap(),
        );
        let mut f = Filter::default();
        assert!(!(0..100).any(|_| f.drops(p)));
        f.set_loss(30, None);
        let n = (0..10_000).filter(|_| f.drops(p)).count();
        assert!((2_500..3_500).contains(&n), "{n}");
        f.set_loss(0, Some((p.local.ip(), p.remote.ip())));
        assert!(!(0..100).any(|_| f.drops(p)));
        assert!((0..100).any(|_| f.drops(q)));
        f.set_loss(100, None);
        assert!((0..100).all(|_| f.drops(q)));
    }
}
