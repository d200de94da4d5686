//! Traffic Selector payloads TSi / TSr (RFC 7296 §3.13).

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::message::patch_len16;
use super::reader::Reader;
use super::WireError;

/// TS type: IPv4 address range.
pub const TS_IPV4_ADDR_RANGE: u8 = 7;
/// TS type: IPv6 address range.
pub const TS_IPV6_ADDR_RANGE: u8 = 8;

/// TSi / TSr payload body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ts<'a> {
    /// The 3 reserved bytes after the count, verbatim.
    pub reserved: [u8; 3],
    /// Selectors (the count is recomputed on emit).
    pub selectors: Vec<TrafficSelector<'a>>,
}

/// One traffic selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrafficSelector<'a> {
    /// TS_IPV4_ADDR_RANGE (selector length 16).
    Ipv4 {
        /// IP protocol (0 = any).
        ip_protocol: u8,
        /// First port.
        start_port: u16,
        /// Last port.
        end_port: u16,
        /// First address.
        start: Ipv4Addr,
        /// Last address.
        end: Ipv4Addr,
    },
    /// TS_IPV6_ADDR_RANGE (selector length 40).
    Ipv6 {
        /// IP protocol (0 = any).
        ip_protocol: u8,
        /// First port.
        start_port: u16,
        /// Last port.
        end_port: u16,
        /// First address.
        start: Ipv6Addr,
        /// Last address.
        end: Ipv6Addr,
    },
    /// Any other TS type, kept raw.
    Other {
        /// TS type.
        ts_type: u8,
        /// The byte after the type (IP protocol ID for the address-range types).
        byte1: u8,
        /// Everything after the 4-byte type/byte1/length header.
        data: Cow<'a, [u8]>,
    },
}

/// The fields the two address-range selector types share, with either family's addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressRange {
    /// IP protocol (0 = any).
    pub ip_protocol: u8,
    /// First port.
    pub start_port: u16,
    /// Last port.
    pub end_port: u16,
    /// First address.
    pub start: IpAddr,
    /// Last address.
    pub end: IpAddr,
}

impl<'a> TrafficSelector<'a> {
    /// The protocol, ports and addresses of a TS_IPV4_ADDR_RANGE or TS_IPV6_ADDR_RANGE
    /// selector; `None` for other types.
    pub fn address_range(&self) -> Option<AddressRange> {
        let (ip_protocol, start_port, end_port, start, end) = match *self {
            TrafficSelector::Ipv4 {
                ip_protocol,
                start_port,
                end_port,
                start,
                end,
            } => (ip_protocol, start_port, end_port, start.into(), end.into()),
            TrafficSelector::Ipv6 {
                ip_protocol,
                start_port,
                end_port,
                start,
                end,
            } => (ip_protocol, start_port, end_port, start.into(), end.into()),
            TrafficSelector::Other { .. } => return None,
        };
        Some(AddressRange {
            ip_protocol,
            start_port,
            end_port,
            start,
            end,
        })
    }

    /// The TS type number.
    pub fn ts_type(&self) -> u8 {
        match self {
            TrafficSelector::Ipv4 { .. } => TS_IPV4_ADDR_RANGE,
            TrafficSelector::Ipv6 { .. } => TS_IPV6_ADDR_RANGE,
            TrafficSelector::Other { ts_type, .. } => *ts_type,
        }
    }

    fn parse(r: &mut Reader<'a>) -> Result<Self, WireError> {
        let start_off = r.offset();
        let ts_type = r.u8("TS type")?;
        let byte1 = r.u8("IP protocol ID")?;
        let len = r.u16("selector length")? as usize;
        let want = match ts_type {
            TS_IPV4_ADDR_RANGE => Some(16),
            TS_IPV6_ADDR_RANGE => Some(40),
            _ => None,
        };
        if let Some(want) = want {
            if len != want {
                return Err(WireError::invalid(
                    start_off + 2,
                    format!("selector length {want} for TS type {ts_type}, got {len}"),
                ));
            }
        } else if len < 4 {
            return Err(WireError::invalid(
                start_off + 2,
                format!("selector length >= 4, got {len}"),
            ));
        }
        if len - 4 > r.remaining() {
            return Err(WireError::truncated(
                start_off + 2,
                format!(
                    "selector length {len} to fit in the {} byte(s) left",
                    r.remaining() + 4
                ),
            ));
        }
        let mut s = r.sub(len - 4, "selector")?;
        Ok(match ts_type {
            TS_IPV4_ADDR_RANGE => TrafficSelector::Ipv4 {
                ip_protocol: byte1,
                start_port: s.u16("start port")?,
                end_port: s.u16("end port")?,
                start: Ipv4Addr::from(s.array::<4>("start address")?),
                end: Ipv4Addr::from(s.array::<4>("end address")?),
            },
            TS_IPV6_ADDR_RANGE => TrafficSelector::Ipv6 {
                ip_protocol: byte1,
                start_port: s.u16("start port")?,
                end_port: s.u16("end port")?,
                start: Ipv6Addr::from(s.array::<16>("start address")?),
                end: Ipv6Addr::from(s.array::<16>("end address")?),
            },
            _ => TrafficSelector::Other {
                ts_type,
                byte1,
                data: Cow::Borrowed(s.rest()),
            },
        })
    }

    /// Append the selector (length recomputed).
    pub fn emit_into(&self, out: &mut Vec<u8>) {
        let start = out.len();
        match self {
            TrafficSelector::Ipv4 {
                ip_protocol,
                start_port,
                end_port,
                start: a,
                end: b,
            } => {
                out.extend_from_slice(&[TS_IPV4_ADDR_RANGE, *ip_protocol, 0, 0]);
                out.extend_from_slice(&start_port.to_be_bytes());
                out.extend_from_slice(&end_port.to_be_bytes());
                out.extend_from_slice(&a.octets());
                out.extend_from_slice(&b.octets());
            }
            TrafficSelector::Ipv6 {
                ip_protocol,
                start_port,
                end_port,
                start: a,
                end: b,
            } => {
                out.extend_from_slice(&[TS_IPV6_ADDR_RANGE, *ip_protocol, 0, 0]);
                out.extend_from_slice(&start_port.to_be_bytes());
                out.extend_from_slice(&end_port.to_be_bytes());
                out.extend_from_slice(&a.octets());
                out.extend_from_slice(&b.octets());
            }
            TrafficSelector::Other {
                ts_type,
                byte1,
                data,
            } => {
                out.extend_from_slice(&[*ts_type, *byte1, 0, 0]);
                out.extend_from_slice(data);
            }
        }
        patch_len16(out, start);
    }

    /// Detach from the input buffer.
    pub fn into_owned(self) -> TrafficSelector<'static> {
        match self {
            TrafficSelector::Ipv4 {
                ip_protocol,
                start_port,
                end_port,
                start,
                end,
            } => TrafficSelector::Ipv4 {
                ip_protocol,
                start_port,
                end_port,
                start,
                end,
            },
            TrafficSelector::Ipv6 {
                ip_protocol,
                start_port,
                end_port,
                start,
                end,
            } => TrafficSelector::Ipv6 {
                ip_protocol,
                start_port,
                end_port,
                start,
                end,
            },
            TrafficSelector::Other {
                ts_type,
                byte1,
                data,
            } => TrafficSelector::Other {
                ts_type,
                byte1,
                data: Cow::Owned(data.into_owned()),
            },
        }
    }
}

impl<'a> Ts<'a> {
    /// A TS payload body with zero reserved bytes.
    pub fn new(selectors: Vec<TrafficSelector<'a>>) -> Self {
        Ts {
            reserved: [0; 3],
            selectors,
        }
    }

    pub(crate) fn parse(mut r: Reader<'a>) -> Result<Self, WireError> {
        let count_at = r.offset();
        let count = r.u8("number of TSs")?;
        let reserved = r.array::<3>("reserved")?;
        let mut selectors = Vec::with_capacity(count as usize);
        while !r.is_empty() {
            let i = selectors.len() + 1;
            let s =
                TrafficSelector::parse(&mut r).map_err(|e| e.within(format!("selector {i}")))?;
            selectors.push(s);
        }
        if selectors.len() != count as usize {
            return Err(WireError::invalid(
                count_at,
                format!(
                    "number of TSs equal to the {} selector(s) present, got {count}",
                    selectors.len()
                ),
            ));
        }
        Ok(Ts {
            reserved,
            selectors,
        })
    }

    /// Append the body (count recomputed).
    pub fn emit_into(&self, out: &mut Vec<u8>) {
        out.push(self.selectors.len().min(255) as u8);
        out.extend_from_slice(&self.reserved);
        for s in &self.selectors {
            s.emit_into(out);
        }
    }

    /// Detach from the input buffer.
    pub fn into_owned(self) -> Ts<'static> {
        Ts {
            reserved: self.reserved,
            selectors: self
                .selectors
                .into_iter()
                .map(TrafficSelector::into_owned)
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut v = vec![3, 0, 0, 0];
        v.extend_from_slice(&[7, 0, 0, 16, 0, 0, 0xff, 0xff, 10, 1, 0, 0, 10, 1, 0, 255]);
        v.extend_from_slice(&[8, 17, 0, 40, 0, 53, 0, 53]);
        v.extend_from_slice(&[0; 16]);
        v.extend_from_slice(&[0xff; 16]);
        v.extend_from_slice(&[10, 0, 0, 6, 0xaa, 0xbb]);
        v
    }

    #[test]
    fn address_range_of_each_type() {
        let b = sample();
        let ts = Ts::parse(Reader::new(&b, 0)).unwrap();
        assert_eq!(
            ts.selectors[0].address_range(),
            Some(AddressRange {
                ip_protocol: 0,
                start_port: 0,
                end_port: 65535,
                start: Ipv4Addr::new(10, 1, 0, 0).into(),
                end: Ipv4Addr::new(10, 1, 0, 255).into(),
            })
        );
        assert_eq!(
            ts.selectors[1].address_range(),
            Some(AddressRange {
                ip_protocol: 17,
                start_port: 53,
                end_port: 53,
                start: Ipv6Addr::UNSPECIFIED.into(),
                end: Ipv6Addr::from([0xff; 16]).into(),
            })
        );
        assert_eq!(ts.selectors[2].address_range(), None);
    }

    #[test]
    fn parse_emit() {
        let b = sample();
        let ts = Ts::parse(Reader::new(&b, 0)).unwrap();
        assert_eq!(ts.selectors.len(), 3);
        assert_eq!(
            ts.selectors[0],
            TrafficSelector::Ipv4 {
                ip_protocol: 0,
                start_port: 0,
                end_port: 65535,
                start: Ipv4Addr::new(10, 1, 0, 0),
                end: Ipv4Addr::new(10, 1, 0, 255),
            }
        );
        match &ts.selectors[1] {
            TrafficSelector::Ipv6 {
                ip_protocol: 17,
                start_port: 53,
                end_port: 53,
                start,
                end,
            } => {
                assert_eq!(*start, Ipv6Addr::UNSPECIFIED);
                assert_eq!(end.octets(), [0xff; 16]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(ts.selectors[2].ts_type(), 10);
        let mut out = Vec::new();
        ts.clone().into_owned().emit_into(&mut out);
        assert_eq!(out, b);
    }

    #[test]
    fn errors() {
        let b = sample();
        let mut bad = b.clone();
        bad[0] = 2;
        assert_eq!(Ts::parse(Reader::new(&bad, 10)).unwrap_err().offset, 10);
        let mut bad = b.clone();
        bad[7] = 20;
        let e = Ts::parse(Reader::new(&bad, 10)).unwrap_err();
        assert_eq!((e.offset, &*e.context), (16, "selector 1"));
        let mut bad = b.clone();
        let n = bad.len();
        bad[n - 3] = 7;
        let e = Ts::parse(Reader::new(&bad, 0)).unwrap_err();
        assert_eq!(e.offset, n - 4);
        for n in 1..b.len() {
            assert!(Ts::parse(Reader::new(&b[..n], 0)).is_err(), "{n}");
        }
    }
}
