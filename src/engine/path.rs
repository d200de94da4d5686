//! A path: our endpoint and the peer's (address and port), the unit MOBIKE tests and
//! moves between (RFC 4555 §3.5).

use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// Our endpoint and the peer's endpoint of a datagram or an SA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Path {
    /// Our address and port.
    pub local: SocketAddr,
    /// The peer's address and port.
    pub remote: SocketAddr,
}

impl Path {
    /// A path from our endpoint to the peer's.
    pub const fn new(local: SocketAddr, remote: SocketAddr) -> Path {
        Path { local, remote }
    }

    /// Both ends use the same address family (a usable pair).
    pub fn same_family(&self) -> bool {
        self.local.is_ipv4() == self.remote.is_ipv4()
    }

    /// The two addresses without ports.
    pub fn addrs(&self) -> (IpAddr, IpAddr) {
        (self.local.ip(), self.remote.ip())
    }

    /// This path with another port on our side.
    pub fn with_local_port(mut self, port: u16) -> Path {
        self.local.set_port(port);
        self
    }

    /// This path with another port on the peer's side.
    pub fn with_remote_port(mut self, port: u16) -> Path {
        self.remote.set_port(port);
        self
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} <-> {}", self.local, self.remote)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_family() {
        let p = Path::new(
            "192.0.2.10:4500".parse().unwrap(),
            "198.51.100.1:4500".parse().unwrap(),
        );
        assert_eq!(p.to_string(), "192.0.2.10:4500 <-> 198.51.100.1:4500");
        assert!(p.same_family());
        let mixed = Path::new(p.local, "[2001:db8::1]:4500".parse().unwrap());
        assert!(!mixed.same_family());
        assert_eq!(p.with_local_port(500).local.port(), 500);
        assert_eq!(p.with_remote_port(4501).remote.port(), 4501);
    }
}
