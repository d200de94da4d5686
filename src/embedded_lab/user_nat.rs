//! The loopback lab's user-space NAT: one real UDP socket on the public address per
//! inside endpoint (a mapping), so the peer really sees the public address and port as
//! the source and NAT detection notices. Replies to a mapping's socket are handed back
//! to the inside endpoint by the lab (in-process: a user-space program cannot forge the
//! peer's source address on a datagram to the inside node). Rebinding forgets every
//! mapping; the next datagram out gets a new port. With an idle timeout a mapping no
//! datagram used that long is forgotten when the NAT next handles a datagram, as
//! [`crate::netsim::NatBox`] does.

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use crate::engine::Timestamp;
use crate::netsim::NatExpiry;

/// How many ports after the next one the NAT tries when a port is taken.
const PORT_TRIES: u16 = 500;

struct Mapping {
    inside: SocketAddr,
    sock: UdpSocket,
    public: SocketAddr,
    last_used: Timestamp,
}

/// A datagram that came back to a mapping: for the inside endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    /// The inside endpoint it goes to.
    pub inside: SocketAddr,
    /// Who sent it (the peer, as the inside node sees it).
    pub remote: SocketAddr,
    /// The bytes as on the wire.
    pub wire: Vec<u8>,
}

/// The NAT.
pub struct UserNat {
    /// The public address.
    pub public: IpAddr,
    next_port: u16,
    mappings: Vec<Mapping>,
    /// Forget a mapping unused this long (`None`: never).
    pub idle_timeout: Option<Duration>,
    /// Mappings forgotten for idleness, not reported yet.
    pub expired: Vec<NatExpiry>,
}

impl UserNat {
    /// A NAT appearing as `public`, with public ports from `first_port` on (the next
    /// free one when a port is taken).
    pub fn new(public: IpAddr, first_port: u16, idle_timeout: Option<Duration>) -> UserNat {
        UserNat {
            public,
            next_port: first_port,
            mappings: Vec::new(),
            idle_timeout,
            expired: Vec::new(),
        }
    }

    /// Forget the mappings idle longer than the timeout at `now`.
    fn expire(&mut self, now: Timestamp) {
        let Some(timeout) = self.idle_timeout else {
            return;
        };
        let (gone, kept): (Vec<Mapping>, Vec<Mapping>) = std::mem::take(&mut self.mappings)
            .into_iter()
            .partition(|m| now.saturating_since(m.last_used) > timeout);
        self.mappings = kept;
        self.expired.extend(gone.iter().map(|m| NatExpiry {
            noticed: now,
            inside: m.inside,
            port: m.public.port(),
            idle: now.saturating_since(m.last_used),
        }));
    }

    /// A socket on the public address at the next free port from `next_port`.
    fn bind_next(&mut self) -> io::Result<UdpSocket> {
        let mut last_error = None;
        for _ in 0..PORT_TRIES {
            let port = self.next_port;
            self.next_port = self.next_port.checked_add(1).unwrap_or(1024);
            match UdpSocket::bind(SocketAddr::new(self.public, port)) {
                Ok(sock) => {
                    sock.set_nonblocking(true)?;
                    return Ok(sock);
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| io::Error::other("no port")))
    }

    /// Send `wire` from `inside` to `remote` through the mapping of `inside` (a new one
    /// when there is none); returns the public endpoint it left from.
    pub fn send(
        &mut self,
        now: Timestamp,
        inside: SocketAddr,
        remote: SocketAddr,
        wire: &[u8],
    ) -> io::Result<SocketAddr> {
        self.expire(now);
        let idx = match self.mappings.iter().position(|m| m.inside == inside) {
            Some(i) => i,
            None => {
                let sock = self.bind_next()?;
                let public = sock.local_addr()?;
                self.mappings.push(Mapping {
                    inside,
                    sock,
                    public,
                    last_used: now,
                });
                self.mappings.len() - 1
            }
        };
        let m = &mut self.mappings[idx];
        m.last_used = now;
        m.sock.send_to(wire, remote)?;
        Ok(m.public)
    }

    /// Everything waiting on the mappings' sockets, for their inside endpoints (what
    /// reaches a mapping the NAT just forgot is lost).
    pub fn receive(&mut self, now: Timestamp, buf: &mut [u8]) -> Vec<Inbound> {
        let mut out = Vec::new();
        for m in &self.mappings {
            while let Ok((n, remote)) = m.sock.recv_from(buf) {
                out.push(Inbound {
                    inside: m.inside,
                    remote,
                    wire: buf.get(..n).unwrap_or_default().to_vec(),
                });
            }
        }
        if out.is_empty() {
            return out;
        }
        self.expire(now);
        let alive: Vec<SocketAddr> = self.mappings.iter().map(|m| m.inside).collect();
        out.retain(|d| alive.contains(&d.inside));
        for m in &mut self.mappings {
            if out.iter().any(|d| d.inside == m.inside) {
                m.last_used = now;
            }
        }
        out
    }

    /// Forget every mapping (a NAT rebinding): the next datagram out gets a new port.
    pub fn rebind(&mut self) {
        self.mappings.clear();
    }

    /// The mappings' descriptors, to poll.
    pub fn fds(&self) -> Vec<RawFd> {
        self.mappings.iter().map(|m| m.sock.as_raw_fd()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("test address")
    }

    /// Read what `sock` got, waiting a little (loopback delivery is not instantaneous).
    fn recv(sock: &UdpSocket) -> (Vec<u8>, SocketAddr) {
        sock.set_read_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        let mut buf = [0u8; 64];
        let (n, from) = sock.recv_from(&mut buf).expect("datagram");
        (buf[..n].to_vec(), from)
    }

    #[test]
    fn maps_out_and_back_and_rebinds_to_a_new_port() {
        let peer = UdpSocket::bind("127.0.0.1:0").expect("peer");
        let peer_addr = peer.local_addr().expect("peer address");
        let public: IpAddr = "127.0.0.100".parse().expect("ip");
        let mut nat = UserNat::new(public, 41000, None);
        let inside = addr("127.0.0.2:4500");
        let t0 = Timestamp::from_secs(1);
        let first = nat.send(t0, inside, peer_addr, b"out").expect("send");
        assert_eq!(first.ip(), public);
        let (bytes, from) = recv(&peer);
        assert_eq!((bytes.as_slice(), from), (&b"out"[..], first));
        // the same inside endpoint keeps its mapping
        assert_eq!(
            nat.send(t0, inside, peer_addr, b"again").expect("send"),
            first
        );
        recv(&peer);
        // the peer's answer goes back to the inside endpoint, from the peer
        peer.send_to(b"back", first).expect("answer");
        let mut buf = [0u8; 64];
        let mut got = Vec::new();
        for _ in 0..200 {
            got = nat.receive(t0, &mut buf);
            if !got.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let want = Inbound {
            inside,
            remote: peer_addr,
            wire: b"back".to_vec(),
        };
        assert_eq!(got, vec![want]);
        // a rebinding: a new public port
        nat.rebind();
        let second = nat.send(t0, inside, peer_addr, b"new").expect("send");
        assert_ne!(second, first);
        assert_eq!(recv(&peer).1, second);
    }

    #[test]
    fn forgets_idle_mappings() {
        let peer = UdpSocket::bind("127.0.0.1:0").expect("peer");
        let peer_addr = peer.local_addr().expect("peer address");
        let public: IpAddr = "127.0.0.100".parse().expect("ip");
        let mut nat = UserNat::new(public, 42000, Some(Duration::from_secs(30)));
        let inside = addr("127.0.0.2:4500");
        let t0 = Timestamp::from_secs(1);
        let first = nat.send(t0, inside, peer_addr, b"a").expect("send");
        let later = t0 + Duration::from_secs(31);
        let second = nat.send(later, inside, peer_addr, b"b").expect("send");
        assert_ne!(first, second);
        assert_eq!(nat.expired.len(), 1);
        assert_eq!(nat.expired[0].port, first.port());
        assert_eq!(
            nat.expired[0].idle,
            Duration::from_secs(30 + 1) - Duration::ZERO
        );
    }
}
