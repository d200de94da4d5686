//! IP and UDP headers, emitted: the packets the live peer's pcap writer and the
//! in-memory network record around IKE and ESP datagrams, and the Internet checksum
//! (RFC 1071) they and ICMP need.

use std::net::{IpAddr, SocketAddr};

/// One's complement sum of 16-bit words (a trailing odd byte padded with zero), added
/// to `acc`: the Internet checksum before [`fold`].
pub fn sum16(data: &[u8], mut acc: u32) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc = carry(acc + u32::from(u16::from_be_bytes([c[0], c[1]])));
    }
    if let [last] = chunks.remainder() {
        acc = carry(acc + (u32::from(*last) << 8));
    }
    acc
}

/// End-around carry, so that a sum of any length never overflows.
fn carry(acc: u32) -> u32 {
    (acc & 0xffff) + (acc >> 16)
}

/// The Internet checksum of `data`, starting from a partial [`sum16`] (a pseudo-header).
pub fn checksum(data: &[u8], initial: u32) -> u16 {
    fold(sum16(data, initial))
}

/// Fold a [`sum16`] into the 16-bit Internet checksum (RFC 1071).
pub fn fold(mut acc: u32) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// An IPv4 or IPv6 packet carrying `payload` in UDP from `src` to `dst` (both of one
/// family; a mixed pair is rendered as IPv6 with v4-mapped addresses).
pub fn udp_packet(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let udp_len = 8 + payload.len();
    let mut udp = Vec::with_capacity(udp_len);
    udp.extend_from_slice(&src.port().to_be_bytes());
    udp.extend_from_slice(&dst.port().to_be_bytes());
    udp.extend_from_slice(&(udp_len as u16).to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(payload);
    match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut pseudo = 0u32;
            pseudo = sum16(&s.octets(), pseudo);
            pseudo = sum16(&d.octets(), pseudo);
            pseudo += 17 + udp_len as u32;
            let c = fold(sum16(&udp, pseudo));
            let c = if c == 0 { 0xffff } else { c };
            udp[6..8].copy_from_slice(&c.to_be_bytes());
            let total = 20 + udp_len;
            let mut ip = vec![
                0x45,
                0,
                (total >> 8) as u8,
                total as u8,
                0,
                0,
                0x40,
                0,
                64,
                17,
                0,
                0,
            ];
            ip.extend_from_slice(&s.octets());
            ip.extend_from_slice(&d.octets());
            let hc = fold(sum16(&ip, 0));
            ip[10..12].copy_from_slice(&hc.to_be_bytes());
            ip.extend_from_slice(&udp);
            ip
        }
        (s, d) => {
            let v6 = |a: IpAddr| match a {
                IpAddr::V4(a) => a.to_ipv6_mapped(),
                IpAddr::V6(a) => a,
            };
            let (s, d) = (v6(s), v6(d));
            let mut pseudo = 0u32;
            pseudo = sum16(&s.octets(), pseudo);
            pseudo = sum16(&d.octets(), pseudo);
            pseudo += udp_len as u32 + 17;
            let c = fold(sum16(&udp, pseudo));
            let c = if c == 0 { 0xffff } else { c };
            udp[6..8].copy_from_slice(&c.to_be_bytes());
            let mut ip = vec![0x60, 0, 0, 0];
            ip.extend_from_slice(&(udp_len as u16).to_be_bytes());
            ip.push(17);
            ip.push(64);
            ip.extend_from_slice(&s.octets());
            ip.extend_from_slice(&d.octets());
            ip.extend_from_slice(&udp);
            ip
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_parse_with_etherparse() {
        for (s, d) in [
            ("192.0.2.10:500", "192.0.2.1:500"),
            ("[2001:db8::1]:4500", "[2001:db8::2]:4500"),
        ] {
            let (s, d): (SocketAddr, SocketAddr) = (s.parse().unwrap(), d.parse().unwrap());
            let f = udp_packet(s, d, b"hello");
            let p = etherparse::SlicedPacket::from_ip(&f).unwrap();
            match p.transport {
                Some(etherparse::TransportSlice::Udp(u)) => {
                    assert_eq!(u.source_port(), s.port());
                    assert_eq!(u.payload(), b"hello");
                }
                other => panic!("{other:?}"),
            }
            if s.is_ipv4() {
                let h = etherparse::Ipv4HeaderSlice::from_slice(&f).unwrap();
                assert_eq!(h.to_header().calc_header_checksum(), h.header_checksum());
            }
        }
    }
}
