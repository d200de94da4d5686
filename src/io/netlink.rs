//! The OS's address changes (Linux rtnetlink): a non-blocking NETLINK_ROUTE socket in
//! the IPv4 and IPv6 interface-address groups, read when `poll(2)` says so.

use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, RawFd};

use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

/// An address came or went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddrChange {
    /// RTM_NEWADDR (true) or RTM_DELADDR.
    pub added: bool,
    /// The address.
    pub addr: IpAddr,
    /// Interface index.
    pub ifindex: u32,
}

/// Subscribed to RTM_NEWADDR / RTM_DELADDR.
pub struct AddrWatch {
    sock: Socket,
}

impl std::fmt::Debug for AddrWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AddrWatch")
    }
}

impl AddrWatch {
    /// Open and subscribe (no privileges needed).
    pub fn open() -> io::Result<AddrWatch> {
        let mut sock = Socket::new(NETLINK_ROUTE)?;
        let groups = (libc::RTMGRP_IPV4_IFADDR | libc::RTMGRP_IPV6_IFADDR) as u32;
        sock.bind(&SocketAddr::new(0, groups))?;
        sock.set_non_blocking(true)?;
        Ok(AddrWatch { sock })
    }

    /// The descriptor to poll.
    pub fn fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }

    /// Every change waiting on the socket (none when nothing is).
    pub fn read_changes(&self) -> io::Result<Vec<AddrChange>> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 65_536];
        loop {
            buf.clear();
            match self.sock.recv(&mut buf, 0) {
                Ok(0) => break,
                Ok(_) => out.extend(parse_changes(&buf)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
}

fn address_of(m: &AddressMessage) -> Option<IpAddr> {
    // IPv4: IFA_LOCAL is the address (IFA_ADDRESS the peer on point-to-point links);
    // IPv6: only IFA_ADDRESS
    let local = m.attributes.iter().find_map(|a| match a {
        AddressAttribute::Local(ip) => Some(*ip),
        _ => None,
    });
    local.or_else(|| {
        m.attributes.iter().find_map(|a| match a {
            AddressAttribute::Address(ip) => Some(*ip),
            _ => None,
        })
    })
}

/// The address changes in one netlink datagram (several messages may follow each other).
pub fn parse_changes(mut data: &[u8]) -> Vec<AddrChange> {
    let mut out = Vec::new();
    while data.len() >= 16 {
        let len = u32::from_ne_bytes([data[0], data[1], data[2], data[3]]) as usize;
        if len < 16 || len > data.len() {
            break;
        }
        if let Ok(msg) = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&data[..len]) {
            if let NetlinkPayload::InnerMessage(inner) = msg.payload {
                let (added, m) = match &inner {
                    RouteNetlinkMessage::NewAddress(m) => (true, m),
                    RouteNetlinkMessage::DelAddress(m) => (false, m),
                    _ => {
                        data = &data[len.next_multiple_of(4).min(data.len())..];
                        continue;
                    }
                };
                if let Some(addr) = address_of(m) {
                    out.push(AddrChange {
                        added,
                        addr,
                        ifindex: m.header.index,
                    });
                }
            }
        }
        data = &data[len.next_multiple_of(4).min(data.len())..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::{NetlinkHeader, NLM_F_REQUEST};
    use netlink_packet_route::AddressFamily;

    #[test]
    fn parses_new_and_del_addr() {
        let mut bytes = Vec::new();
        for (new, ip) in [(true, "192.0.2.7"), (false, "2001:db8::7")] {
            let ip: IpAddr = ip.parse().unwrap();
            let mut m = AddressMessage::default();
            m.header.family = if ip.is_ipv4() {
                AddressFamily::Inet
            } else {
                AddressFamily::Inet6
            };
            m.header.prefix_len = 24;
            m.header.index = 3;
            m.attributes.push(AddressAttribute::Address(ip));
            let inner = if new {
                RouteNetlinkMessage::NewAddress(m)
            } else {
                RouteNetlinkMessage::DelAddress(m)
            };
            let mut h = NetlinkHeader::default();
            h.flags = NLM_F_REQUEST;
            let mut msg = NetlinkMessage::new(h, NetlinkPayload::InnerMessage(inner));
            msg.finalize();
            let mut b = vec![0u8; msg.buffer_len()];
            msg.serialize(&mut b);
            bytes.extend(b);
        }
        let c = parse_changes(&bytes);
        assert_eq!(
            c,
            vec![
                AddrChange {
                    added: true,
                    addr: "192.0.2.7".parse().unwrap(),
                    ifindex: 3
                },
                AddrChange {
                    added: false,
                    addr: "2001:db8::7".parse().unwrap(),
                    ifindex: 3
                }
            ]
        );
        assert!(parse_changes(&[1, 2, 3]).is_empty());
        // opening needs no privileges
        let w = AddrWatch::open().unwrap();
        assert!(w.fd() >= 0);
        assert!(w.read_changes().unwrap().is_empty());
    }
}
