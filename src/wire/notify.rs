//! Notify payload (RFC 7296 §3.10) with typed notification data for MOBIKE (RFC 4555) and
//! other common status types.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::reader::Reader;
use super::WireError;

/// Notify message type numbers (IANA "IKEv2 Notify Message Error/Status Types") that this
/// codec decodes or that callers commonly test for.
pub mod notify_type {
    /// Error: a critical payload type was not understood (data: 1-byte payload type).
    pub const UNSUPPORTED_CRITICAL_PAYLOAD: u16 = 1;
    /// Error.
    pub const INVALID_IKE_SPI: u16 = 4;
    /// Error.
    pub const INVALID_MAJOR_VERSION: u16 = 5;
    /// Error.
    pub const INVALID_SYNTAX: u16 = 7;
    /// Error.
    pub const INVALID_MESSAGE_ID: u16 = 9;
    /// Error.
    pub const INVALID_SPI: u16 = 11;
    /// Error.
    pub const NO_PROPOSAL_CHOSEN: u16 = 14;
    /// Error: data is the 2-byte accepted DH group.
    pub const INVALID_KE_PAYLOAD: u16 = 17;
    /// Error.
    pub const AUTHENTICATION_FAILED: u16 = 24;
    /// Error.
    pub const SINGLE_PAIR_REQUIRED: u16 = 34;
    /// Error.
    pub const NO_ADDITIONAL_SAS: u16 = 35;
    /// Error.
    pub const INTERNAL_ADDRESS_FAILURE: u16 = 36;
    /// Error.
    pub const FAILED_CP_REQUIRED: u16 = 37;
    /// Error.
    pub const TS_UNACCEPTABLE: u16 = 38;
    /// Error.
    pub const INVALID_SELECTORS: u16 = 39;
    /// Error (RFC 4555): the new addresses are not acceptable. No data.
    pub const UNACCEPTABLE_ADDRESSES: u16 = 40;
    /// Error (RFC 4555): a NAT was detected where NO_NATS_ALLOWED forbids it. No data.
    pub const UNEXPECTED_NAT_DETECTED: u16 = 41;
    /// Error (RFC 5723).
    pub const TEMPORARY_FAILURE: u16 = 43;
    /// Error.
    pub const CHILD_SA_NOT_FOUND: u16 = 44;
    /// Status. No data.
    pub const INITIAL_CONTACT: u16 = 16384;
    /// Status: 4-byte window size.
    pub const SET_WINDOW_SIZE: u16 = 16385;
    /// Status. No data.
    pub const ADDITIONAL_TS_POSSIBLE: u16 = 16386;
    /// Status: 2-byte CPI + 1-byte IPComp transform ID.
    pub const IPCOMP_SUPPORTED: u16 = 16387;
    /// Status: 20-byte SHA-1 hash of SPIs, source address and port.
    pub const NAT_DETECTION_SOURCE_IP: u16 = 16388;
    /// Status: 20-byte SHA-1 hash of SPIs, destination address and port.
    pub const NAT_DETECTION_DESTINATION_IP: u16 = 16389;
    /// Status: 1..64-byte cookie.
    pub const COOKIE: u16 = 16390;
    /// Status. No data.
    pub const USE_TRANSPORT_MODE: u16 = 16391;
    /// Status. No data.
    pub const HTTP_CERT_LOOKUP_SUPPORTED: u16 = 16392;
    /// Status. No data (the SPI field names the SA being rekeyed).
    pub const REKEY_SA: u16 = 16393;
    /// Status. No data.
    pub const ESP_TFC_PADDING_NOT_SUPPORTED: u16 = 16394;
    /// Status. No data.
    pub const NON_FIRST_FRAGMENTS_ALSO: u16 = 16395;
    /// Status (RFC 4555). No data.
    pub const MOBIKE_SUPPORTED: u16 = 16396;
    /// Status (RFC 4555): 4-byte IPv4 address.
    pub const ADDITIONAL_IP4_ADDRESS: u16 = 16397;
    /// Status (RFC 4555): 16-byte IPv6 address.
    pub const ADDITIONAL_IP6_ADDRESS: u16 = 16398;
    /// Status (RFC 4555). No data.
    pub const NO_ADDITIONAL_ADDRESSES: u16 = 16399;
    /// Status (RFC 4555). No data.
    pub const UPDATE_SA_ADDRESSES: u16 = 16400;
    /// Status (RFC 4555): 8..64-byte return routability cookie.
    pub const COOKIE2: u16 = 16401;
    /// Status (RFC 4555): addresses and ports of the protected IP header (12 or 36 bytes).
    pub const NO_NATS_ALLOWED: u16 = 16402;
    /// Status (RFC 4478): 4-byte lifetime in seconds.
    pub const AUTH_LIFETIME: u16 = 16403;
    /// Status (RFC 4739). No data.
    pub const MULTIPLE_AUTH_SUPPORTED: u16 = 16404;
    /// Status (RFC 4739). No data.
    pub const ANOTHER_AUTH_FOLLOWS: u16 = 16405;
    /// Status (RFC 5685). No data.
    pub const REDIRECT_SUPPORTED: u16 = 16406;
    /// Status (RFC 5685).
    pub const REDIRECT: u16 = 16407;
    /// Status (RFC 5685).
    pub const REDIRECTED_FROM: u16 = 16408;
    /// Status (RFC 5998). No data.
    pub const EAP_ONLY_AUTHENTICATION: u16 = 16417;
    /// Status (RFC 6023). No data.
    pub const CHILDLESS_IKEV2_SUPPORTED: u16 = 16418;
    /// Status (RFC 6311). No data.
    pub const IKEV2_MESSAGE_ID_SYNC_SUPPORTED: u16 = 16420;
    /// Status (RFC 7383). No data.
    pub const IKEV2_FRAGMENTATION_SUPPORTED: u16 = 16430;
    /// Status (RFC 7427): list of 2-byte hash algorithm identifiers.
    pub const SIGNATURE_HASH_ALGORITHMS: u16 = 16431;
    /// Status (RFC 8784). No data.
    pub const USE_PPK: u16 = 16435;
    /// Status (RFC 9242). No data.
    pub const INTERMEDIATE_EXCHANGE_SUPPORTED: u16 = 16438;
}

use notify_type as nt;

/// A Notify payload body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notify<'a> {
    /// Protocol ID (0 or 1 for the IKE SA, 2 AH, 3 ESP).
    pub protocol_id: u8,
    /// SPI (its length is the SPI Size field; usually empty).
    pub spi: Cow<'a, [u8]>,
    /// Notify message type.
    pub notify_type: u16,
    /// Notification data, decoded according to `notify_type`.
    pub data: NotifyData<'a>,
}

/// Notification data. Which variant is produced depends on the notify type; data of the
/// wrong size for its type becomes [`NotifyData::Malformed`] (the message still parses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyData<'a> {
    /// A type known to carry no data, and none was present.
    Empty,
    /// A type this codec does not decode: the data as is (possibly empty).
    Raw(Cow<'a, [u8]>),
    /// ADDITIONAL_IP4_ADDRESS.
    AdditionalIp4(Ipv4Addr),
    /// ADDITIONAL_IP6_ADDRESS.
    AdditionalIp6(Ipv6Addr),
    /// COOKIE (1..64 bytes).
    Cookie(Cow<'a, [u8]>),
    /// COOKIE2 (8..64 bytes).
    Cookie2(Cow<'a, [u8]>),
    /// NO_NATS_ALLOWED: the source/destination address and port of the protected IP header.
    /// Both addresses must be of the same family to emit a well-formed notify.
    NoNatsAllowed {
        /// Source IP address.
        src: IpAddr,
        /// Destination IP address.
        dst: IpAddr,
        /// Source port.
        src_port: u16,
        /// Destination port.
        dst_port: u16,
    },
    /// NAT_DETECTION_SOURCE_IP / NAT_DETECTION_DESTINATION_IP: SHA-1 hash.
    NatDetection([u8; 20]),
    /// SIGNATURE_HASH_ALGORITHMS: hash algorithm identifiers.
    SignatureHashAlgorithms(Vec<u16>),
    /// INVALID_KE_PAYLOAD: the DH group the responder wants.
    KeGroup(u16),
    /// UNSUPPORTED_CRITICAL_PAYLOAD: the offending payload type.
    PayloadType(u8),
    /// SET_WINDOW_SIZE: window size.
    WindowSize(u32),
    /// AUTH_LIFETIME: seconds.
    Lifetime(u32),
    /// IPCOMP_SUPPORTED.
    IpcompSupported {
        /// Compression parameter index.
        cpi: u16,
        /// IPComp transform ID.
        transform_id: u8,
    },
    /// Data whose size does not fit the notify type. Emitted unchanged.
    Malformed {
        /// Absolute offset of the notification data in the message.
        offset: usize,
        /// What the type requires, e.g. `"4 bytes (IPv4 address)"`.
        expected: &'static str,
        /// The data as received.
        raw: Cow<'a, [u8]>,
    },
}

fn ip4(b: &[u8]) -> Option<Ipv4Addr> {
    <[u8; 4]>::try_from(b).ok().map(Ipv4Addr::from)
}

fn ip6(b: &[u8]) -> Option<Ipv6Addr> {
    <[u8; 16]>::try_from(b).ok().map(Ipv6Addr::from)
}

fn port(b: &[u8]) -> Option<u16> {
    <[u8; 2]>::try_from(b).ok().map(u16::from_be_bytes)
}

/// Types whose notification data is empty by definition.
fn is_empty_type(t: u16) -> bool {
    matches!(
        t,
        nt::UNACCEPTABLE_ADDRESSES
            | nt::UNEXPECTED_NAT_DETECTED
            | nt::INITIAL_CONTACT
            | nt::ADDITIONAL_TS_POSSIBLE
            | nt::USE_TRANSPORT_MODE
            | nt::HTTP_CERT_LOOKUP_SUPPORTED
            | nt::REKEY_SA
            | nt::ESP_TFC_PADDING_NOT_SUPPORTED
            | nt::NON_FIRST_FRAGMENTS_ALSO
            | nt::MOBIKE_SUPPORTED
            | nt::NO_ADDITIONAL_ADDRESSES
            | nt::UPDATE_SA_ADDRESSES
            | nt::MULTIPLE_AUTH_SUPPORTED
            | nt::ANOTHER_AUTH_FOLLOWS
            | nt::REDIRECT_SUPPORTED
            | nt::EAP_ONLY_AUTHENTICATION
            | nt::CHILDLESS_IKEV2_SUPPORTED
            | nt::IKEV2_MESSAGE_ID_SYNC_SUPPORTED
            | nt::IKEV2_FRAGMENTATION_SUPPORTED
            | nt::USE_PPK
            | nt::INTERMEDIATE_EXCHANGE_SUPPORTED
    )
}

impl<'a> NotifyData<'a> {
    /// Decode `data` (at absolute offset `offset`) for notify type `notify_type`.
    pub fn decode(notify_type: u16, data: &'a [u8], offset: usize) -> NotifyData<'a> {
        let bad = |expected: &'static str| NotifyData::Malformed {
            offset,
            expected,
            raw: Cow::Borrowed(data),
        };
        let n = data.len();
        match notify_type {
            t if is_empty_type(t) => {
                if n == 0 {
                    NotifyData::Empty
                } else {
                    bad("no data")
                }
            }
            nt::ADDITIONAL_IP4_ADDRESS => ip4(data)
                .map(NotifyData::AdditionalIp4)
                .unwrap_or_else(|| bad("4 bytes (IPv4 address)")),
            nt::ADDITIONAL_IP6_ADDRESS => ip6(data)
                .map(NotifyData::AdditionalIp6)
                .unwrap_or_else(|| bad("16 bytes (IPv6 address)")),
            nt::COOKIE if (1..=64).contains(&n) => NotifyData::Cookie(Cow::Borrowed(data)),
            nt::COOKIE => bad("1..64 bytes (cookie)"),
            nt::COOKIE2 if (8..=64).contains(&n) => NotifyData::Cookie2(Cow::Borrowed(data)),
            nt::COOKIE2 => bad("8..64 bytes (cookie)"),
            nt::NO_NATS_ALLOWED => {
                let v = match n {
                    12 => (|| {
                        Some((
                            IpAddr::V4(ip4(data.get(0..4)?)?),
                            IpAddr::V4(ip4(data.get(4..8)?)?),
                            port(data.get(8..10)?)?,
                            port(data.get(10..12)?)?,
                        ))
                    })(),
                    36 => (|| {
                        Some((
                            IpAddr::V6(ip6(data.get(0..16)?)?),
                            IpAddr::V6(ip6(data.get(16..32)?)?),
                            port(data.get(32..34)?)?,
                            port(data.get(34..36)?)?,
                        ))
                    })(),
                    _ => None,
                };
                match v {
                    Some((src, dst, src_port, dst_port)) => NotifyData::NoNatsAllowed {
                        src,
                        dst,
                        src_port,
                        dst_port,
                    },
                    None => bad("12 (IPv4) or 36 (IPv6) bytes of addresses and ports"),
                }
            }
            nt::NAT_DETECTION_SOURCE_IP | nt::NAT_DETECTION_DESTINATION_IP => {
                <[u8; 20]>::try_from(data)
                    .map(NotifyData::NatDetection)
                    .unwrap_or_else(|_| bad("20 bytes (SHA-1 hash)"))
            }
            nt::SIGNATURE_HASH_ALGORITHMS => {
                if n.is_multiple_of(2) {
                    NotifyData::SignatureHashAlgorithms(
                        data.chunks_exact(2)
                            .map(|c| u16::from_be_bytes([c[0], c[1]]))
                            .collect(),
                    )
                } else {
                    bad("a list of 2-byte hash algorithm identifiers")
                }
            }
            nt::INVALID_KE_PAYLOAD => port(data)
                .map(NotifyData::KeGroup)
                .unwrap_or_else(|| bad("2 bytes (DH group)")),
            nt::UNSUPPORTED_CRITICAL_PAYLOAD => match data {
                [t] => NotifyData::PayloadType(*t),
                _ => bad("1 byte (payload type)"),
            },
            nt::SET_WINDOW_SIZE | nt::AUTH_LIFETIME => match <[u8; 4]>::try_from(data) {
                Ok(b) if notify_type == nt::SET_WINDOW_SIZE => {
                    NotifyData::WindowSize(u32::from_be_bytes(b))
                }
                Ok(b) => NotifyData::Lifetime(u32::from_be_bytes(b)),
                Err(_) => bad("4 bytes"),
            },
            nt::IPCOMP_SUPPORTED => match data {
                [a, b, t] => NotifyData::IpcompSupported {
                    cpi: u16::from_be_bytes([*a, *b]),
                    transform_id: *t,
                },
                _ => bad("3 bytes (CPI and IPComp transform ID)"),
            },
            _ => NotifyData::Raw(Cow::Borrowed(data)),
        }
    }

    /// Append the notification data.
    pub fn emit_into(&self, out: &mut Vec<u8>) {
        match self {
            NotifyData::Empty => {}
            NotifyData::Raw(d)
            | NotifyData::Cookie(d)
            | NotifyData::Cookie2(d)
            | NotifyData::Malformed { raw: d, .. } => out.extend_from_slice(d),
            NotifyData::AdditionalIp4(a) => out.extend_from_slice(&a.octets()),
            NotifyData::AdditionalIp6(a) => out.extend_from_slice(&a.octets()),
            NotifyData::NoNatsAllowed {
                src,
                dst,
                src_port,
                dst_port,
            } => {
                for a in [src, dst] {
                    match a {
                        IpAddr::V4(a) => out.extend_from_slice(&a.octets()),
                        IpAddr::V6(a) => out.extend_from_slice(&a.octets()),
                    }
                }
                out.extend_from_slice(&src_port.to_be_bytes());
                out.extend_from_slice(&dst_port.to_be_bytes());
            }
            NotifyData::NatDetection(h) => out.extend_from_slice(h),
            NotifyData::SignatureHashAlgorithms(v) => {
                for a in v {
                    out.extend_from_slice(&a.to_be_bytes());
                }
            }
            NotifyData::KeGroup(g) => out.extend_from_slice(&g.to_be_bytes()),
            NotifyData::PayloadType(t) => out.push(*t),
            NotifyData::WindowSize(v) | NotifyData::Lifetime(v) => {
                out.extend_from_slice(&v.to_be_bytes())
            }
            NotifyData::IpcompSupported { cpi, transform_id } => {
                out.extend_from_slice(&cpi.to_be_bytes());
                out.push(*transform_id);
            }
        }
    }

    /// True for [`NotifyData::Malformed`].
    pub fn is_malformed(&self) -> bool {
        matches!(self, NotifyData::Malformed { .. })
    }

    /// Detach from the input buffer.
    pub fn into_owned(self) -> NotifyData<'static> {
        let own = |c: Cow<'_, [u8]>| Cow::Owned(c.into_owned());
        match self {
            NotifyData::Empty => NotifyData::Empty,
            NotifyData::Raw(d) => NotifyData::Raw(own(d)),
            NotifyData::AdditionalIp4(a) => NotifyData::AdditionalIp4(a),
            NotifyData::AdditionalIp6(a) => NotifyData::AdditionalIp6(a),
            NotifyData::Cookie(d) => NotifyData::Cookie(own(d)),
            NotifyData::Cookie2(d) => NotifyData::Cookie2(own(d)),
            NotifyData::NoNatsAllowed {
                src,
                dst,
                src_port,
                dst_port,
            } => NotifyData::NoNatsAllowed {
                src,
                dst,
                src_port,
                dst_port,
            },
            NotifyData::NatDetection(h) => NotifyData::NatDetection(h),
            NotifyData::SignatureHashAlgorithms(v) => NotifyData::SignatureHashAlgorithms(v),
            NotifyData::KeGroup(g) => NotifyData::KeGroup(g),
            NotifyData::PayloadType(t) => NotifyData::PayloadType(t),
            NotifyData::WindowSize(v) => NotifyData::WindowSize(v),
            NotifyData::Lifetime(v) => NotifyData::Lifetime(v),
            NotifyData::IpcompSupported { cpi, transform_id } => {
                NotifyData::IpcompSupported { cpi, transform_id }
            }
            NotifyData::Malformed {
                offset,
                expected,
                raw,
            } => NotifyData::Malformed {
                offset,
                expected,
                raw: own(raw),
            },
        }
    }
}

impl<'a> Notify<'a> {
    /// A notify about the IKE SA (protocol 0, no SPI).
    pub fn new(notify_type: u16, data: NotifyData<'a>) -> Self {
        Notify {
            protocol_id: 0,
            spi: Cow::Borrowed(&[]),
            notify_type,
            data,
        }
    }

    pub(crate) fn parse(mut r: Reader<'a>) -> Result<Self, WireError> {
        let protocol_id = r.u8("protocol ID")?;
        let spi_size = r.u8("SPI size")?;
        let notify_type = r.u16("notify message type")?;
        let spi = Cow::Borrowed(r.bytes(spi_size as usize, "SPI")?);
        let offset = r.offset();
        let data = NotifyData::decode(notify_type, r.rest(), offset);
        Ok(Notify {
            protocol_id,
            spi,
            notify_type,
            data,
        })
    }

    /// Append the body (everything after the generic payload header).
    pub fn emit_into(&self, out: &mut Vec<u8>) {
        out.push(self.protocol_id);
        out.push(self.spi.len().min(255) as u8);
        out.extend_from_slice(&self.notify_type.to_be_bytes());
        out.extend_from_slice(&self.spi);
        self.data.emit_into(out);
    }

    /// True if the data did not fit the notify type.
    pub fn is_malformed(&self) -> bool {
        self.data.is_malformed()
    }

    /// True for error types (1..16383).
    pub fn is_error(&self) -> bool {
        (1..16384).contains(&self.notify_type)
    }

    /// Detach from the input buffer.
    pub fn into_owned(self) -> Notify<'static> {
        Notify {
            protocol_id: self.protocol_id,
            spi: Cow::Owned(self.spi.into_owned()),
            notify_type: self.notify_type,
            data: self.data.into_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &[u8]) -> Notify<'_> {
        let n = Notify::parse(Reader::new(body, 100)).unwrap();
        let mut out = Vec::new();
        n.emit_into(&mut out);
        assert_eq!(out, body);
        n
    }

    fn body(t: u16, data: &[u8]) -> Vec<u8> {
        let mut v = vec![0, 0];
        v.extend_from_slice(&t.to_be_bytes());
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn mobike_types() {
        let b = body(16397, &[192, 0, 2, 10]);
        assert_eq!(
            parse(&b).data,
            NotifyData::AdditionalIp4(Ipv4Addr::new(192, 0, 2, 10))
        );
        let mut v6 = [0u8; 16];
        v6[0] = 0x20;
        v6[1] = 0x01;
        v6[15] = 1;
        let b = body(16398, &v6);
        assert_eq!(
            parse(&b).data,
            NotifyData::AdditionalIp6("2001::1".parse().unwrap())
        );
        for t in [16396, 16399, 16400, 40, 41] {
            let b = body(t, &[]);
            assert_eq!(parse(&b).data, NotifyData::Empty);
        }
        let b = body(16401, &[7; 16]);
        assert_eq!(
            parse(&b).data,
            NotifyData::Cookie2(Cow::Borrowed(&[7u8; 16][..]))
        );
        let b = body(16402, &[10, 0, 0, 1, 10, 0, 0, 2, 0x11, 0x94, 0x01, 0xf4]);
        assert_eq!(
            parse(&b).data,
            NotifyData::NoNatsAllowed {
                src: "10.0.0.1".parse().unwrap(),
                dst: "10.0.0.2".parse().unwrap(),
                src_port: 4500,
                dst_port: 500
            }
        );
        let mut d = vec![0u8; 36];
        d[15] = 1;
        d[31] = 2;
        d[33] = 1;
        d[35] = 2;
        let b = body(16402, &d);
        assert_eq!(
            parse(&b).data,
            NotifyData::NoNatsAllowed {
                src: "::1".parse().unwrap(),
                dst: "::2".parse().unwrap(),
                src_port: 1,
                dst_port: 2
            }
        );
        let b = body(16388, &[0xab; 20]);
        assert_eq!(parse(&b).data, NotifyData::NatDetection([0xab; 20]));
    }

    #[test]
    fn other_types() {
        let b = body(16431, &[0, 2, 0, 3, 0, 4]);
        assert_eq!(
            parse(&b).data,
            NotifyData::SignatureHashAlgorithms(vec![2, 3, 4])
        );
        let b = body(17, &[0, 19]);
        assert_eq!(parse(&b).data, NotifyData::KeGroup(19));
        let b = body(1, &[33]);
        assert_eq!(parse(&b).data, NotifyData::PayloadType(33));
        let b = body(16385, &[0, 0, 0, 5]);
        assert_eq!(parse(&b).data, NotifyData::WindowSize(5));
        let b = body(16403, &[0, 0, 1, 0]);
        assert_eq!(parse(&b).data, NotifyData::Lifetime(256));
        let b = body(16387, &[1, 2, 3]);
        assert_eq!(
            parse(&b).data,
            NotifyData::IpcompSupported {
                cpi: 0x102,
                transform_id: 3
            }
        );
        let b = body(16390, &[1]);
        assert_eq!(
            parse(&b).data,
            NotifyData::Cookie(Cow::Borrowed(&[1u8][..]))
        );
        let b = body(12345, &[1, 2]);
        assert_eq!(
            parse(&b).data,
            NotifyData::Raw(Cow::Borrowed(&[1u8, 2][..]))
        );
    }

    #[test]
    fn spi_and_rekey() {
        let b = [3, 4, 0x40, 0x09, 0xc1, 0xb2, 0xa3, 0x94];
        let n = parse(&b);
        assert_eq!(n.protocol_id, 3);
        assert_eq!(&n.spi[..], &[0xc1, 0xb2, 0xa3, 0x94]);
        assert_eq!(n.notify_type, nt::REKEY_SA);
        assert_eq!(n.data, NotifyData::Empty);
        assert!(!n.is_error());
    }

    #[test]
    fn malformed_kept() {
        let cases: &[(u16, &[u8], &str)] = &[
            (16397, &[1, 2, 3], "4 bytes (IPv4 address)"),
            (16398, &[1, 2, 3, 4], "16 bytes (IPv6 address)"),
            (16401, &[1; 7], "8..64 bytes (cookie)"),
            (16401, &[1; 65], "8..64 bytes (cookie)"),
            (16390, &[], "1..64 bytes (cookie)"),
            (
                16402,
                &[0; 13],
                "12 (IPv4) or 36 (IPv6) bytes of addresses and ports",
            ),
            (16396, &[0], "no data"),
            (16389, &[0; 19], "20 bytes (SHA-1 hash)"),
            (
                16431,
                &[0; 3],
                "a list of 2-byte hash algorithm identifiers",
            ),
        ];
        for (t, d, exp) in cases {
            let b = body(*t, d);
            let n = parse(&b);
            assert!(n.is_malformed());
            match n.data {
                NotifyData::Malformed {
                    offset,
                    expected,
                    raw,
                } => {
                    assert_eq!(offset, 104);
                    assert_eq!(expected, *exp);
                    assert_eq!(&raw[..], *d);
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn truncated() {
        let e = Notify::parse(Reader::new(&[0, 0, 0x40], 50)).unwrap_err();
        assert_eq!(e.offset, 52);
        let e = Notify::parse(Reader::new(&[3, 4, 0x40, 0x09, 1, 2], 50)).unwrap_err();
        assert_eq!(e.offset, 54);
        assert!(e.expected.contains("SPI"), "{e}");
    }

    #[test]
    fn owned() {
        let b = body(16401, &[9; 8]);
        let n = parse(&b).into_owned();
        assert_eq!(n.data, NotifyData::Cookie2(Cow::Owned(vec![9; 8])));
        let mut out = Vec::new();
        Notify::new(16400, NotifyData::Empty).emit_into(&mut out);
        assert_eq!(out, [0, 0, 0x40, 0x10]);
    }
}
