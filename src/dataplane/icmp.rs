//! ICMP (IPv4, RFC 792) and ICMPv6 (RFC 4443) echo request / reply packets with their
//! IP header, as they travel inside a tunnel-mode CHILD_SA: built with correct checksums
//! (the IPv4 header checksum, the ICMP checksum, the ICMPv6 checksum over the RFC 8200
//! §8.1 pseudo-header) and parsed with the checksum verified.
//!
//! Parsing of addresses and echo fields reuses [`InnerIp`] (the capture decoder's inner
//! packet summary); this module adds the checksum check and the echo payload.

use std::net::IpAddr;

use crate::child_sa::inner::{InnerIp, InnerTransport};
use crate::engine::TsRange;

/// IP protocol numbers.
const PROTO_ICMP: u8 = 1;
const PROTO_ICMPV6: u8 = 58;
/// Echo message types.
const V4_ECHO_REQUEST: u8 = 8;
const V4_ECHO_REPLY: u8 = 0;
const V6_ECHO_REQUEST: u8 = 128;
const V6_ECHO_REPLY: u8 = 129;
/// TTL / hop limit of what we send.
const HOP_LIMIT: u8 = 64;
const IPV4_HEADER_LEN: usize = 20;
const IPV6_HEADER_LEN: usize = 40;
const ICMP_HEADER_LEN: usize = 8;

/// An echo request or reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Echo {
    /// Source and destination (same family).
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Reply (true) or request.
    pub reply: bool,
    /// Identifier and sequence number.
    pub ident: u16,
    pub seq: u16,
    /// The data after the 8-byte ICMP header.
    pub payload: Vec<u8>,
}

/// Why an echo packet could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildError {
    /// Source and destination are of different families.
    MixedFamilies(IpAddr, IpAddr),
    /// The payload does not fit an IP packet.
    TooLong(usize),
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BuildError::MixedFamilies(s, d) => write!(f, "{s} and {d} are of different families"),
            BuildError::TooLong(n) => write!(f, "{n} bytes of payload do not fit an IP packet"),
        }
    }
}

impl std::error::Error for BuildError {}

pub use crate::wire::ip::checksum;

/// The partial sum of the IPv6 pseudo-header for an upper-layer packet of `len` bytes.
fn pseudo_header_sum(src: &[u8; 16], dst: &[u8; 16], len: u32, next_header: u8) -> u32 {
    let mut sum = 0u32;
    for pair in src.chunks_exact(2).chain(dst.chunks_exact(2)) {
        sum = sum.wrapping_add(u32::from(u16::from_be_bytes([pair[0], pair[1]])));
    }
    sum = sum.wrapping_add(len >> 16).wrapping_add(len & 0xffff);
    sum.wrapping_add(u32::from(next_header))
}

impl Echo {
    /// An echo request from `src` to `dst`.
    pub fn request(src: IpAddr, dst: IpAddr, ident: u16, seq: u16, payload: &[u8]) -> Echo {
        Echo {
            src,
            dst,
            reply: false,
            ident,
            seq,
            payload: payload.to_vec(),
        }
    }

    /// The reply to this (request): addresses swapped, the same identifier, sequence
    /// number and data (RFC 792, RFC 4443 §4.2).
    pub fn reply_to(&self) -> Echo {
        Echo {
            src: self.dst,
            dst: self.src,
            reply: true,
            ident: self.ident,
            seq: self.seq,
            payload: self.payload.clone(),
        }
    }

    /// The IP packet (IPv4 + ICMP or IPv6 + ICMPv6).
    pub fn build(&self) -> Result<Vec<u8>, BuildError> {
        let icmp_len = ICMP_HEADER_LEN + self.payload.len();
        match (self.src, self.dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let total = u16::try_from(IPV4_HEADER_LEN + icmp_len)
                    .map_err(|_| BuildError::TooLong(self.payload.len()))?;
                let mut p = Vec::with_capacity(usize::from(total));
                p.extend_from_slice(&[0x45, 0]);
                p.extend_from_slice(&total.to_be_bytes());
                // identification: the echo sequence number (no fragmentation anyway)
                p.extend_from_slice(&self.seq.to_be_bytes());
                p.extend_from_slice(&[0x40, 0, HOP_LIMIT, PROTO_ICMP, 0, 0]); // DF
                p.extend_from_slice(&s.octets());
                p.extend_from_slice(&d.octets());
                let ip_sum = checksum(&p, 0);
                p[10..12].copy_from_slice(&ip_sum.to_be_bytes());
                let t = if self.reply {
                    V4_ECHO_REPLY
                } else {
                    V4_ECHO_REQUEST
                };
                self.push_icmp(&mut p, t);
                let sum = checksum(&p[IPV4_HEADER_LEN..], 0);
                p[IPV4_HEADER_LEN + 2..IPV4_HEADER_LEN + 4].copy_from_slice(&sum.to_be_bytes());
                Ok(p)
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                let len =
                    u16::try_from(icmp_len).map_err(|_| BuildError::TooLong(self.payload.len()))?;
                let mut p = Vec::with_capacity(IPV6_HEADER_LEN + icmp_len);
                p.extend_from_slice(&[0x60, 0, 0, 0]);
                p.extend_from_slice(&len.to_be_bytes());
                p.extend_from_slice(&[PROTO_ICMPV6, HOP_LIMIT]);
                p.extend_from_slice(&s.octets());
                p.extend_from_slice(&d.octets());
                let t = if self.reply {
                    V6_ECHO_REPLY
                } else {
                    V6_ECHO_REQUEST
                };
                self.push_icmp(&mut p, t);
                let pseudo = pseudo_header_sum(&s.octets(), &d.octets(), len.into(), PROTO_ICMPV6);
                let sum = checksum(&p[IPV6_HEADER_LEN..], pseudo);
                p[IPV6_HEADER_LEN + 2..IPV6_HEADER_LEN + 4].copy_from_slice(&sum.to_be_bytes());
                Ok(p)
            }
            (s, d) => Err(BuildError::MixedFamilies(s, d)),
        }
    }

    /// The ICMP header (checksum zero for now) and data.
    fn push_icmp(&self, p: &mut Vec<u8>, icmp_type: u8) {
        p.extend_from_slice(&[icmp_type, 0, 0, 0]);
        p.extend_from_slice(&self.ident.to_be_bytes());
        p.extend_from_slice(&self.seq.to_be_bytes());
        p.extend_from_slice(&self.payload);
    }

    /// An echo request or reply with valid checksums, or `None` (anything else, a
    /// fragment, a bad checksum, a truncated packet). ICMPv6 must follow the IPv6
    /// header directly (what we and `ping` send).
    pub fn parse(packet: &[u8]) -> Option<Echo> {
        let ip = InnerIp::parse(packet)?;
        let InnerTransport::Icmp {
            v6,
            icmp_type,
            code: 0,
            echo: Some((ident, seq)),
        } = ip.transport
        else {
            return None;
        };
        let l4 = if v6 {
            if *packet.get(6)? != PROTO_ICMPV6 {
                return None;
            }
            let l4 = packet.get(IPV6_HEADER_LEN..ip.total_len)?;
            let (IpAddr::V6(s), IpAddr::V6(d)) = (ip.src, ip.dst) else {
                return None;
            };
            let len = u32::try_from(l4.len()).ok()?;
            let pseudo = pseudo_header_sum(&s.octets(), &d.octets(), len, PROTO_ICMPV6);
            (checksum(l4, pseudo) == 0).then_some(l4)?
        } else {
            let ihl = usize::from(*packet.first()? & 0x0f) * 4;
            let header = packet.get(..ihl)?;
            let l4 = packet.get(ihl..ip.total_len)?;
            (checksum(header, 0) == 0 && checksum(l4, 0) == 0).then_some(l4)?
        };
        let reply = matches!(icmp_type, V4_ECHO_REPLY | V6_ECHO_REPLY);
        Some(Echo {
            src: ip.src,
            dst: ip.dst,
            reply,
            ident,
            seq,
            payload: l4.get(ICMP_HEADER_LEN..)?.to_vec(),
        })
    }
}

/// The echo responder: the reply packet to an echo request addressed inside our own
/// traffic selectors `local_ts` (or to `vip`, the virtual IP we got), else `None`. So
/// two peers each answer the other's probes through the CHILD_SA without a kernel.
pub fn answer_echo(packet: &[u8], local_ts: &[TsRange], vip: Option<IpAddr>) -> Option<Vec<u8>> {
    let echo = Echo::parse(packet)?;
    if echo.reply {
        return None;
    }
    let ours = Some(echo.dst) == vip
        || local_ts
            .iter()
            .any(|t| crate::engine::esp::ts_contains(t, echo.dst));
    if !ours {
        return None;
    }
    echo.reply_to().build().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn checksum_of_the_rfc1071_and_a_known_ipv4_header() {
        // RFC 1071 §3: the sum of 0001 f203 f4f5 f6f7 is 0xddf2 (checksum its complement)
        assert_eq!(
            checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7], 0),
            !0xddf2
        );
        // a textbook IPv4 header (192.168.0.1 -> 192.168.0.199, UDP) with checksum b861
        let mut h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(checksum(&h, 0), 0xb861);
        h[10..12].copy_from_slice(&[0xb8, 0x61]);
        assert_eq!(checksum(&h, 0), 0);
        // odd length: the last byte is padded with zero
        assert_eq!(checksum(&[0x01], 0), !0x0100);
    }

    #[test]
    fn ipv4_echo_request_matches_known_bytes() {
        let e = Echo::request(ip("10.2.0.1"), ip("10.1.0.1"), 0x1234, 1, b"abcd");
        let p = e.build().unwrap();
        // checksums computed independently (Python, RFC 1071 sum)
        let known = [
            0x45, 0x00, 0x00, 0x20, 0x00, 0x01, 0x40, 0x00, 0x40, 0x01, 0x26, 0xd8, 10, 2, 0, 1,
            10, 1, 0, 1, // IPv4 header
            0x08, 0x00, 0x21, 0x04, 0x12, 0x34, 0x00, 0x01, b'a', b'b', b'c', b'd',
        ];
        assert_eq!(p, known);
        assert_eq!(Echo::parse(&p), Some(e.clone()));
        let r = e.reply_to().build().unwrap();
        let parsed = Echo::parse(&r).unwrap();
        assert!(parsed.reply);
        assert_eq!((parsed.src, parsed.dst), (e.dst, e.src));
        assert_eq!(parsed.payload, b"abcd");
    }

    #[test]
    fn ipv6_echo_request_matches_known_bytes() {
        let e = Echo::request(ip("2001:db8::1"), ip("2001:db8::2"), 7, 3, b"hi");
        let p = e.build().unwrap();
        let mut known = vec![0x60, 0, 0, 0, 0, 10, 58, 64];
        known.extend_from_slice(&ip6("2001:db8::1"));
        known.extend_from_slice(&ip6("2001:db8::2"));
        // ICMPv6 checksum over the pseudo-header, computed independently (Python)
        known.extend_from_slice(&[128, 0, 0xbb, 0xd2, 0, 7, 0, 3, b'h', b'i']);
        assert_eq!(p, known);
        assert_eq!(Echo::parse(&p), Some(e));
    }

    fn ip6(s: &str) -> [u8; 16] {
        s.parse::<std::net::Ipv6Addr>().unwrap().octets()
    }

    #[test]
    fn bad_checksums_truncation_and_garbage_are_refused() {
        let p = Echo::request(ip("10.2.0.1"), ip("10.1.0.1"), 1, 1, b"xyz")
            .build()
            .unwrap();
        for i in 0..p.len() {
            let mut q = p.clone();
            q[i] ^= 0x01;
            // a flipped bit breaks a checksum, the version or the protocol
            assert_eq!(Echo::parse(&q), None, "bit flipped in byte {i}");
        }
        for n in 0..p.len() {
            assert_eq!(Echo::parse(&p[..n]), None);
        }
        assert_eq!(Echo::parse(&[]), None);
        let v6 = Echo::request(ip("::1"), ip("::2"), 1, 1, b"")
            .build()
            .unwrap();
        let mut bad = v6.clone();
        bad[IPV6_HEADER_LEN + 2] ^= 0xff;
        assert_eq!(Echo::parse(&bad), None);
        assert_eq!(
            Echo::request(ip("::1"), ip("10.0.0.1"), 1, 1, b"").build(),
            Err(BuildError::MixedFamilies(ip("::1"), ip("10.0.0.1")))
        );
    }

    #[test]
    fn responder_answers_only_its_own_selectors() {
        let ts = vec![TsRange::parse("10.1.0.0/16").unwrap()];
        let req = Echo::request(ip("10.2.0.1"), ip("10.1.0.1"), 9, 4, b"p")
            .build()
            .unwrap();
        let reply = answer_echo(&req, &ts, None).unwrap();
        let r = Echo::parse(&reply).unwrap();
        assert!(r.reply);
        assert_eq!(
            (r.src, r.dst, r.ident, r.seq),
            (ip("10.1.0.1"), ip("10.2.0.1"), 9, 4)
        );
        // not ours, a reply, or the virtual IP
        let other = Echo::request(ip("10.2.0.1"), ip("10.3.0.1"), 9, 4, b"p")
            .build()
            .unwrap();
        assert_eq!(answer_echo(&other, &ts, None), None);
        assert!(answer_echo(&other, &ts, Some(ip("10.3.0.1"))).is_some());
        assert_eq!(answer_echo(&reply, &ts, None), None);
    }
}
