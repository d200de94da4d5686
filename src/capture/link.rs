//! Link layers: strip the link header and find the IPv4/IPv6 packet.
//!
//! Ethernet and 802.1Q / 802.1ad (QinQ) tags are sliced with `etherparse`. Linux cooked
//! (SLL v1 and v2) and BSD loopback headers are read by hand: `etherparse` has no SLL2 or
//! NULL/LOOP slicer, and its SLL slicer rejects ARPHRD values of tunnel interfaces
//! (e.g. `ARPHRD_NONE` for `tun0`), which is exactly where VPN traffic shows up when
//! capturing on Linux's `any` device; all we need from those headers is the protocol field.

use std::fmt;

use etherparse::{Ethernet2Slice, SingleVlanSlice};

/// Link types we understand (by libpcap DLT / LINKTYPE value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkType {
    /// DLT_EN10MB (1).
    Ethernet,
    /// DLT_LINUX_SLL (113).
    LinuxSll,
    /// DLT_LINUX_SLL2 (276).
    LinuxSll2,
    /// Raw IP, version from the first nibble: LINKTYPE_RAW (101), DLT_RAW (12 / 14).
    Raw,
    /// LINKTYPE_IPV4 (228).
    Ipv4,
    /// LINKTYPE_IPV6 (229).
    Ipv6,
    /// DLT_NULL (0): 4-byte address family in the writer's byte order.
    Null,
    /// DLT_LOOP (108): 4-byte address family in network byte order.
    Loop,
}

impl LinkType {
    /// Map a libpcap DLT (or LINKTYPE) value; `None` if unsupported.
    pub fn from_dlt(dlt: i32) -> Option<LinkType> {
        Some(match dlt {
            1 => LinkType::Ethernet,
            113 => LinkType::LinuxSll,
            276 => LinkType::LinuxSll2,
            12 | 14 | 101 => LinkType::Raw,
            228 => LinkType::Ipv4,
            229 => LinkType::Ipv6,
            0 => LinkType::Null,
            108 => LinkType::Loop,
            _ => return None,
        })
    }
}

/// The network-layer packet found inside a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network<'a> {
    Ipv4(&'a [u8]),
    Ipv6(&'a [u8]),
    /// Not IP (ARP, LLDP, ...): ignored.
    Other,
}

/// A link header that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkError {
    pub layer: &'static str,
    pub need: usize,
    pub have: usize,
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} header truncated: need {} bytes, have {}",
            self.layer, self.need, self.have
        )
    }
}

const ETH_IPV4: u16 = 0x0800;
const ETH_IPV6: u16 = 0x86dd;
const ETH_VLAN: u16 = 0x8100;
const ETH_QINQ: u16 = 0x88a8;
const ETH_QINQ_OLD: u16 = 0x9100;
/// Maximum number of stacked VLAN tags we follow.
const MAX_VLAN_TAGS: usize = 4;

fn by_ethertype(ether_type: u16, payload: &[u8]) -> Network<'_> {
    match ether_type {
        ETH_IPV4 => Network::Ipv4(payload),
        ETH_IPV6 => Network::Ipv6(payload),
        _ => Network::Other,
    }
}

fn by_version(payload: &[u8]) -> Result<Network<'_>, LinkError> {
    match payload.first() {
        None => Err(LinkError {
            layer: "raw IP",
            need: 1,
            have: 0,
        }),
        Some(b) if b >> 4 == 4 => Ok(Network::Ipv4(payload)),
        Some(b) if b >> 4 == 6 => Ok(Network::Ipv6(payload)),
        Some(_) => Ok(Network::Other),
    }
}

fn by_family(family: u32, payload: &[u8]) -> Network<'_> {
    match family {
        2 => Network::Ipv4(payload),
        // AF_INET6 differs per OS: Linux 10, Windows 23, NetBSD/OpenBSD 24, FreeBSD 28,
        // macOS 30.
        10 | 23 | 24 | 28 | 30 => Network::Ipv6(payload),
        _ => Network::Other,
    }
}

fn need<'a>(data: &'a [u8], n: usize, layer: &'static str) -> Result<&'a [u8], LinkError> {
    if data.len() < n {
        Err(LinkError {
            layer,
            need: n,
            have: data.len(),
        })
    } else {
        Ok(data)
    }
}

/// Strip the link header of `data` (a frame of link type `link`).
pub fn strip(link: LinkType, data: &[u8]) -> Result<Network<'_>, LinkError> {
    match link {
        LinkType::Ethernet => {
            let eth = Ethernet2Slice::from_slice_without_fcs(data).map_err(|e| LinkError {
                layer: "Ethernet",
                need: e.required_len,
                have: e.len,
            })?;
            let mut ether_type = eth.ether_type().0;
            let mut rest = eth.payload_slice();
            for _ in 0..MAX_VLAN_TAGS {
                if !matches!(ether_type, ETH_VLAN | ETH_QINQ | ETH_QINQ_OLD) {
                    break;
                }
                let vlan = SingleVlanSlice::from_slice(rest).map_err(|e| LinkError {
                    layer: "VLAN",
                    need: e.required_len,
                    have: e.len,
                })?;
                ether_type = vlan.ether_type().0;
                rest = vlan.payload_slice();
            }
            Ok(by_ethertype(ether_type, rest))
        }
        LinkType::LinuxSll => {
            // packet type (2), ARPHRD (2), address length (2), address (8), protocol (2)
            let d = need(data, 16, "Linux cooked (SLL)")?;
            Ok(by_ethertype(u16::from_be_bytes([d[14], d[15]]), &d[16..]))
        }
        LinkType::LinuxSll2 => {
            // protocol (2), reserved (2), ifindex (4), ARPHRD (2), packet type (1),
            // address length (1), address (8)
            let d = need(data, 20, "Linux cooked v2 (SLL2)")?;
            Ok(by_ethertype(u16::from_be_bytes([d[0], d[1]]), &d[20..]))
        }
        LinkType::Raw => by_version(data),
        LinkType::Ipv4 => Ok(Network::Ipv4(data)),
        LinkType::Ipv6 => Ok(Network::Ipv6(data)),
        LinkType::Null => {
            let d = need(data, 4, "BSD loopback")?;
            let raw = [d[0], d[1], d[2], d[3]];
            // Written in the capturing host's byte order, which we do not know: the
            // family is small, so whichever order gives a small value is right.
            let le = u32::from_le_bytes(raw);
            let family = if le < 0x1_0000 {
                le
            } else {
                u32::from_be_bytes(raw)
            };
            Ok(by_family(family, &d[4..]))
        }
        LinkType::Loop => {
            let d = need(data, 4, "BSD loopback")?;
            Ok(by_family(
                u32::from_be_bytes([d[0], d[1], d[2], d[3]]),
                &d[4..],
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V4: [u8; 4] = [0x45, 0, 0, 20];
    const V6: [u8; 4] = [0x60, 0, 0, 0];

    fn eth(ether_type: u16, rest: &[u8]) -> Vec<u8> {
        let mut v = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
        v.extend_from_slice(&ether_type.to_be_bytes());
        v.extend_from_slice(rest);
        v
    }

    #[test]
    fn ethernet_plain_vlan_qinq() {
        let f = eth(0x0800, &V4);
        assert_eq!(strip(LinkType::Ethernet, &f), Ok(Network::Ipv4(&V4[..])));
        let f = eth(0x8100, &[0, 5, 0x86, 0xdd, 0x60, 0, 0, 0]);
        assert_eq!(strip(LinkType::Ethernet, &f), Ok(Network::Ipv6(&V6[..])));
        let f = eth(
            0x88a8,
            &[0, 5, 0x81, 0x00, 0, 7, 0x08, 0x00, 0x45, 0, 0, 20],
        );
        assert_eq!(strip(LinkType::Ethernet, &f), Ok(Network::Ipv4(&V4[..])));
        let f = eth(0x0806, &[0; 28]);
        assert_eq!(strip(LinkType::Ethernet, &f), Ok(Network::Other));
        // truncated tag
        let f = eth(0x8100, &[0, 5]);
        assert!(strip(LinkType::Ethernet, &f).is_err());
        assert!(strip(LinkType::Ethernet, &[0; 13]).is_err());
        // too many tags: stop following, not IP
        let mut tags = Vec::new();
        for _ in 0..8 {
            tags.extend_from_slice(&[0, 1, 0x81, 0x00]);
        }
        assert_eq!(
            strip(LinkType::Ethernet, &eth(0x8100, &tags)),
            Ok(Network::Other)
        );
    }

    #[test]
    fn sll_and_sll2() {
        let mut f = vec![0, 0, 0xff, 0xfe, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00];
        f.extend_from_slice(&V4);
        assert_eq!(strip(LinkType::LinuxSll, &f), Ok(Network::Ipv4(&V4[..])));
        assert!(strip(LinkType::LinuxSll, &f[..15]).is_err());
        let mut f = vec![0x86, 0xdd, 0, 0, 0, 0, 0, 3, 0, 1, 0, 6];
        f.extend_from_slice(&[0; 8]);
        f.extend_from_slice(&V6);
        assert_eq!(strip(LinkType::LinuxSll2, &f), Ok(Network::Ipv6(&V6[..])));
        assert!(strip(LinkType::LinuxSll2, &f[..19]).is_err());
    }

    #[test]
    fn raw_and_loopback() {
        assert_eq!(strip(LinkType::Raw, &V4), Ok(Network::Ipv4(&V4[..])));
        assert_eq!(strip(LinkType::Raw, &V6), Ok(Network::Ipv6(&V6[..])));
        assert_eq!(strip(LinkType::Raw, &[0x10]), Ok(Network::Other));
        assert!(strip(LinkType::Raw, &[]).is_err());
        assert_eq!(strip(LinkType::Ipv4, &V4), Ok(Network::Ipv4(&V4[..])));
        assert_eq!(strip(LinkType::Ipv6, &V6), Ok(Network::Ipv6(&V6[..])));
        let le = [2, 0, 0, 0, 0x45, 0, 0, 20];
        assert_eq!(strip(LinkType::Null, &le), Ok(Network::Ipv4(&V4[..])));
        let be = [0, 0, 0, 30, 0x60, 0, 0, 0];
        assert_eq!(strip(LinkType::Null, &be), Ok(Network::Ipv6(&V6[..])));
        let lp = [0, 0, 0, 24, 0x60, 0, 0, 0];
        assert_eq!(strip(LinkType::Loop, &lp), Ok(Network::Ipv6(&V6[..])));
        assert_eq!(strip(LinkType::Loop, &le), Ok(Network::Other));
        assert!(strip(LinkType::Loop, &[0, 0, 0]).is_err());
    }

    #[test]
    fn dlt_mapping() {
        assert_eq!(LinkType::from_dlt(1), Some(LinkType::Ethernet));
        assert_eq!(LinkType::from_dlt(12), Some(LinkType::Raw));
        assert_eq!(LinkType::from_dlt(276), Some(LinkType::LinuxSll2));
        assert_eq!(LinkType::from_dlt(105), None);
    }
}
