//! One-line summaries of the IP packets found inside ESP (tunnel mode).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Transport-layer details of an inner packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InnerTransport {
    /// ICMP (IPv4) or ICMPv6; `echo` is `(identifier, sequence)` for echo request / reply.
    Icmp {
        v6: bool,
        icmp_type: u8,
        code: u8,
        echo: Option<(u16, u16)>,
    },
    Tcp {
        sport: u16,
        dport: u16,
        /// The flags byte (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, ...).
        flags: u8,
    },
    Udp {
        sport: u16,
        dport: u16,
    },
    /// A non-first fragment, a protocol not decoded here, or a header cut short.
    Other,
}

/// Summary of an inner IPv4 / IPv6 packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InnerIp {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IP protocol of the upper layer (after IPv6 extension headers).
    pub protocol: u8,
    /// Total length claimed by the IP header.
    pub total_len: usize,
    pub transport: InnerTransport,
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn transport(protocol: u8, l4: &[u8], first_fragment: bool) -> InnerTransport {
    if !first_fragment {
        return InnerTransport::Other;
    }
    let parsed = match protocol {
        1 | 58 => (|| {
            let icmp_type = *l4.first()?;
            let code = *l4.get(1)?;
            let is_echo = if protocol == 1 {
                icmp_type == 0 || icmp_type == 8
            } else {
                icmp_type == 128 || icmp_type == 129
            };
            let echo = if is_echo {
                Some((be16(l4, 4)?, be16(l4, 6)?))
            } else {
                None
            };
            Some(InnerTransport::Icmp {
                v6: protocol == 58,
                icmp_type,
                code,
                echo,
            })
        })(),
        6 => (|| {
            Some(InnerTransport::Tcp {
                sport: be16(l4, 0)?,
                dport: be16(l4, 2)?,
                flags: *l4.get(13)?,
            })
        })(),
        17 => (|| {
            Some(InnerTransport::Udp {
                sport: be16(l4, 0)?,
                dport: be16(l4, 2)?,
            })
        })(),
        _ => None,
    };
    parsed.unwrap_or(InnerTransport::Other)
}

impl InnerIp {
    /// Parses the IP header (version from the first nibble) and the start of the upper
    /// layer. `None` if it is neither a plausible IPv4 nor IPv6 header.
    pub fn parse(p: &[u8]) -> Option<InnerIp> {
        match p.first()? >> 4 {
            4 => {
                let ihl = (*p.first()? & 0x0f) as usize * 4;
                if ihl < 20 || p.len() < ihl {
                    return None;
                }
                let total_len = be16(p, 2)? as usize;
                let frag = be16(p, 6)?;
                let protocol = *p.get(9)?;
                let src = Ipv4Addr::new(p[12], p[13], p[14], p[15]);
                let dst = Ipv4Addr::new(p[16], p[17], p[18], p[19]);
                let end = total_len.clamp(ihl, p.len());
                Some(InnerIp {
                    src: src.into(),
                    dst: dst.into(),
                    protocol,
                    total_len,
                    transport: transport(protocol, &p[ihl..end], frag & 0x1fff == 0),
                })
            }
            6 => {
                if p.len() < 40 {
                    return None;
                }
                let total_len = 40 + be16(p, 4)? as usize;
                let mut a = [0u8; 16];
                a.copy_from_slice(&p[8..24]);
                let src = Ipv6Addr::from(a);
                a.copy_from_slice(&p[24..40]);
                let dst = Ipv6Addr::from(a);
                let mut next = p[6];
                let mut at = 40usize;
                let mut first_fragment = true;
                // Hop-by-hop, routing, fragment, destination options (at most 8 of them).
                for _ in 0..8 {
                    match next {
                        0 | 43 | 60 => {
                            let n = *p.get(at)?;
                            let len = (*p.get(at + 1)? as usize + 1) * 8;
                            next = n;
                            at += len;
                        }
                        44 => {
                            let n = *p.get(at)?;
                            first_fragment = be16(p, at + 2)? & 0xfff8 == 0;
                            next = n;
                            at += 8;
                        }
                        _ => break,
                    }
                }
                let end = total_len.min(p.len());
                let l4 = p.get(at..end.max(at)).unwrap_or(&[]);
                Some(InnerIp {
                    src: src.into(),
                    dst: dst.into(),
                    protocol: next,
                    total_len,
                    transport: transport(next, l4, first_fragment),
                })
            }
            _ => None,
        }
    }
}

fn icmp_name(v6: bool, t: u8) -> Option<&'static str> {
    Some(match (v6, t) {
        (false, 0) | (true, 129) => "echo reply",
        (false, 8) | (true, 128) => "echo request",
        (false, 3) | (true, 1) => "destination unreachable",
        (false, 11) | (true, 3) => "time exceeded",
        (true, 2) => "packet too big",
        (true, 135) => "neighbor solicitation",
        (true, 136) => "neighbor advertisement",
        _ => return None,
    })
}

/// `addr:port`, `[v6addr]:port`.
struct Endpoint(IpAddr, u16);

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(a) => write!(f, "{a}:{}", self.1),
            IpAddr::V6(a) => write!(f, "[{a}]:{}", self.1),
        }
    }
}

impl fmt::Display for InnerIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.transport {
            InnerTransport::Icmp {
                v6,
                icmp_type,
                code,
                echo,
            } => {
                let proto = if v6 { "ICMPv6" } else { "ICMP" };
                write!(f, "{} -> {} {proto} ", self.src, self.dst)?;
                match icmp_name(v6, icmp_type) {
                    Some(n) => f.write_str(n)?,
                    None => write!(f, "type {icmp_type} code {code}")?,
                }
                if let Some((id, seq)) = echo {
                    write!(f, " id 0x{id:04x} seq {seq}")?;
                }
                Ok(())
            }
            InnerTransport::Tcp {
                sport,
                dport,
                flags,
            } => {
                write!(
                    f,
                    "{} -> {} TCP",
                    Endpoint(self.src, sport),
                    Endpoint(self.dst, dport)
                )?;
                const NAMES: [(u8, &str); 6] = [
                    (0x02, "SYN"),
                    (0x10, "ACK"),
                    (0x08, "PSH"),
                    (0x01, "FIN"),
                    (0x04, "RST"),
                    (0x20, "URG"),
                ];
                let mut sep = " [";
                for (bit, n) in NAMES {
                    if flags & bit != 0 {
                        write!(f, "{sep}{n}")?;
                        sep = ",";
                    }
                }
                if sep == "," {
                    f.write_str("]")?;
                }
                Ok(())
            }
            InnerTransport::Udp { sport, dport } => {
                write!(
                    f,
                    "{} -> {} UDP",
                    Endpoint(self.src, sport),
                    Endpoint(self.dst, dport)
                )
            }
            InnerTransport::Other => write!(
                f,
                "{} -> {} protocol {} ({} bytes)",
                self.src, self.dst, self.protocol, self.total_len
            ),
        }
    }
}

/// One-line summary of an inner packet given ESP's Next Header: `198.18.0.1 -> 198.18.1.1
/// ICMP echo request id 0x002a seq 1`; `dummy packet` for Next Header 59 (RFC 4303 §2.6);
/// `next header N, M bytes` for anything that is not IPv4 / IPv6.
pub fn inner_ip_summary(next_header: u8, inner: &[u8]) -> String {
    match next_header {
        4 | 41 => match InnerIp::parse(inner) {
            Some(ip) => ip.to_string(),
            None => format!("malformed IP packet ({} bytes)", inner.len()),
        },
        59 => "dummy packet".to_string(),
        n => format!("next header {n}, {} bytes", inner.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_icmp_and_garbage() {
        let mut p = vec![
            0x45, 0, 0, 28, 0, 0, 0, 0, 64, 1, 0, 0, 198, 18, 0, 1, 198, 18, 1, 1,
        ];
        p.extend_from_slice(&[8, 0, 0, 0, 0, 42, 0, 7]);
        assert_eq!(
            inner_ip_summary(4, &p),
            "198.18.0.1 -> 198.18.1.1 ICMP echo request id 0x002a seq 7"
        );
        for n in 0..p.len() {
            let _ = inner_ip_summary(4, &p[..n]);
        }
        assert_eq!(
            inner_ip_summary(4, &[0x4f]),
            "malformed IP packet (1 bytes)"
        );
        assert_eq!(inner_ip_summary(59, &[]), "dummy packet");
    }

    #[test]
    fn v6_tcp_after_extension_header() {
        let mut p = vec![0x60, 0, 0, 0, 0, 28, 0, 64];
        p.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        p.extend_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
        p.extend_from_slice(&[6, 0, 1, 4, 0, 0, 0, 0]); // hop-by-hop, 8 bytes
        let mut tcp = vec![0u8; 20];
        tcp[..4].copy_from_slice(&[0x30, 0x39, 0, 80]);
        tcp[13] = 0x12;
        p.extend_from_slice(&tcp);
        assert_eq!(
            inner_ip_summary(41, &p),
            "[::1]:12345 -> [2001:db8::1]:80 TCP [SYN,ACK]"
        );
        for n in 0..p.len() {
            let _ = inner_ip_summary(41, &p[..n]);
        }
    }
}
