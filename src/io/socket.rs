//! UDP sockets: one per (local address, port), so the source address of a datagram is
//! exactly the engine's [`Transmit::local`].

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};

use crate::engine::{Path, Transmit};

/// The non-ESP marker (RFC 3948 §2.2): four zero bytes before IKE messages on port 4500.
pub const NON_ESP_MARKER: [u8; 4] = [0; 4];

/// What arrived on a socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// An IKE message (non-ESP marker removed) for the engine.
    Ike(Vec<u8>),
    /// ESP in UDP (RFC 3948): not handled by this peer, dropped.
    Esp,
    /// NAT-T keepalive (a single 0xFF byte): dropped.
    Keepalive,
    /// Too short to be anything on the NAT-T port: dropped.
    Runt,
}

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
}

/// The peer's sockets.
pub struct Sockets {
    socks: Vec<Sock>,
    ike_port: u16,
    natt_port: u16,
}

impl std::fmt::Debug for Sockets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.socks.iter().map(|s| s.local))
            .finish()
    }
}

/// Classify a datagram by port: on the NAT-T port strip the marker.
pub fn classify(natt: bool, data: &[u8]) -> Received {
    if !natt {
        return Received::Ike(data.to_vec());
    }
    if data == [0xff] {
        return Received::Keepalive;
    }
    if data.len() < 4 {
        return Received::Runt;
    }
    if data[..4] == NON_ESP_MARKER {
        Received::Ike(data[4..].to_vec())
    } else {
        Received::Esp
    }
}

/// The bytes to put on the wire for a transmit.
pub fn wire_bytes(t: &Transmit) -> Vec<u8> {
    if t.non_esp_marker {
        let mut v = Vec::with_capacity(t.bytes.len() + 4);
        v.extend_from_slice(&NON_ESP_MARKER);
        v.extend_from_slice(&t.bytes);
        v
    } else {
        t.bytes.clone()
    }
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
        let mut socks = Vec::new();
        let mut seen = Vec::new();
        for &ip in addrs {
            if seen.contains(&ip) {
                continue;
            }
            seen.push(ip);
            for (port, natt) in [(ike_port, false), (natt_port, true)] {
                let want = SocketAddr::new(ip, port);
                let sock = UdpSocket::bind(want).map_err(|e| {
                    io::Error::new(e.kind(), format!("cannot bind UDP {want}: {e}"))
                })?;
                sock.set_nonblocking(true)?;
                let local = sock.local_addr()?;
                socks.push(Sock { sock, local, natt });
            }
        }
        Ok(Sockets {
            socks,
            ike_port,
            natt_port,
        })
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
    pub fn recv(&self, idx: usize, buf: &mut [u8]) -> io::Result<Option<Datagram>> {
        let Some(s) = self.socks.get(idx) else {
            return Ok(None);
        };
        match s.sock.recv_from(buf) {
            Ok((n, remote)) => {
                let wire = buf[..n].to_vec();
                let content = classify(s.natt, &wire);
                Ok(Some(Datagram {
                    path: Path::new(s.local, unmap(remote)),
                    wire,
                    content,
                }))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(None),
            // ICMP errors reported on the socket (port unreachable ...): not fatal.
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Send a transmit from the socket bound at `t.local`; returns the wire bytes.
    pub fn send(&self, t: &Transmit) -> io::Result<Vec<u8>> {
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
        let wire = wire_bytes(t);
        s.sock
            .send_to(&wire, t.path.remote)
            .map_err(|e| io::Error::new(e.kind(), format!("send {}: {e}", t.path)))?;
        Ok(wire)
    }
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
        assert_eq!(classify(true, &[1, 2, 3, 4, 5]), Received::Esp);
        assert_eq!(classify(true, &[0, 0]), Received::Runt);
        let t = Transmit {
            path: Path::new(
                "127.0.0.1:4500".parse().unwrap(),
                "127.0.0.1:4501".parse().unwrap(),
            ),
            bytes: vec![7],
            non_esp_marker: true,
        };
        assert_eq!(wire_bytes(&t), vec![0, 0, 0, 0, 7]);
        // a NAT-T keepalive goes out as the single byte
        let ka = Transmit {
            bytes: vec![0xff],
            non_esp_marker: false,
            ..t
        };
        assert_eq!(wire_bytes(&ka), vec![0xff]);
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
        let s = Sockets::bind(&[lo], pa, pb).unwrap();
        let t = Transmit {
            path: Path::new(SocketAddr::new(lo, pb), SocketAddr::new(lo, pb)),
            bytes: vec![1, 2, 3],
            non_esp_marker: true,
        };
        assert_eq!(s.send(&t).unwrap(), vec![0, 0, 0, 0, 1, 2, 3]);
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
    }
}
