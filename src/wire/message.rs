//! The IKE message, the generic payload header and the payload chain.

use std::borrow::Cow;

use super::header::{Header, HEADER_LEN};
use super::reader::Reader;
use super::sk::Split;
use super::{payload_type as pt, registry};
use super::{Auth, Cert, Cp, Delete, Eap, Id, Ke, Notify, NotifyData, Sa, Sk, Skf, Ts, WireError};

/// A decoded IKEv2 message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    /// The IKE header, as received. `next_payload` and `length` are recomputed on emit.
    pub header: Header,
    /// Payloads in wire order. If there is an SK or SKF payload it is the last one.
    pub payloads: Vec<Payload<'a>>,
    /// Bytes after the last payload (inside the header's length); normally empty.
    pub trailing: Cow<'a, [u8]>,
}

/// One payload: the generic payload header (RFC 7296 §3.2) plus its typed body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload<'a> {
    /// This payload's type (the previous header's next-payload value).
    pub payload_type: u8,
    /// The byte after next-payload: critical bit (0x80) and seven reserved bits, verbatim.
    pub flags: u8,
    /// Absolute offset of the generic payload header in the message (diagnostics only; emit
    /// ignores it; 0 for payloads built by hand).
    pub offset: usize,
    /// The decoded body.
    pub body: PayloadBody<'a>,
}

/// Typed payload bodies. Payload types this codec does not decode are kept in
/// [`PayloadBody::Unknown`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadBody<'a> {
    /// SA (33).
    Sa(Sa<'a>),
    /// KE (34).
    Ke(Ke<'a>),
    /// IDi (35) or IDr (36).
    Id(Id<'a>),
    /// CERT (37).
    Cert(Cert<'a>),
    /// CERTREQ (38): same layout as CERT.
    CertReq(Cert<'a>),
    /// AUTH (39).
    Auth(Auth<'a>),
    /// Nonce (40): the nonce data.
    Nonce(Cow<'a, [u8]>),
    /// Notify (41).
    Notify(Notify<'a>),
    /// Delete (42).
    Delete(Delete<'a>),
    /// Vendor ID (43): the vendor ID data.
    VendorId(Cow<'a, [u8]>),
    /// TSi (44) or TSr (45).
    Ts(Ts<'a>),
    /// SK (46): encrypted and authenticated inner payloads.
    Sk(Sk<'a>),
    /// CP (47).
    Cp(Cp<'a>),
    /// EAP (48).
    Eap(Eap<'a>),
    /// SKF (53, RFC 7383).
    Skf(Skf<'a>),
    /// Any other payload type: the body bytes after the generic header.
    Unknown(Cow<'a, [u8]>),
}

fn own(c: Cow<'_, [u8]>) -> Cow<'static, [u8]> {
    Cow::Owned(c.into_owned())
}

impl<'a> PayloadBody<'a> {
    fn parse(ty: u8, next: u8, mut r: Reader<'a>) -> Result<Self, WireError> {
        Ok(match ty {
            pt::SA => PayloadBody::Sa(Sa::parse(r)?),
            pt::KE => PayloadBody::Ke(Ke::parse(r)?),
            pt::IDI | pt::IDR => PayloadBody::Id(Id::parse(r)?),
            pt::CERT => PayloadBody::Cert(Cert::parse(r)?),
            pt::CERTREQ => PayloadBody::CertReq(Cert::parse(r)?),
            pt::AUTH => PayloadBody::Auth(Auth::parse(r)?),
            pt::NONCE => PayloadBody::Nonce(Cow::Borrowed(r.rest())),
            pt::NOTIFY => PayloadBody::Notify(Notify::parse(r)?),
            pt::DELETE => PayloadBody::Delete(Delete::parse(r)?),
            pt::VENDOR_ID => PayloadBody::VendorId(Cow::Borrowed(r.rest())),
            pt::TSI | pt::TSR => PayloadBody::Ts(Ts::parse(r)?),
            pt::SK => PayloadBody::Sk(Sk {
                next_payload: next,
                data: Cow::Borrowed(r.rest()),
            }),
            pt::CP => PayloadBody::Cp(Cp::parse(r)?),
            pt::EAP => PayloadBody::Eap(Eap::parse(r)?),
            pt::SKF => PayloadBody::Skf(Skf::parse(next, r)?),
            _ => PayloadBody::Unknown(Cow::Borrowed(r.rest())),
        })
    }

    fn emit_into(&self, out: &mut Vec<u8>) {
        match self {
            PayloadBody::Sa(x) => x.emit_into(out),
            PayloadBody::Ke(x) => x.emit_into(out),
            PayloadBody::Id(x) => x.emit_into(out),
            PayloadBody::Cert(x) | PayloadBody::CertReq(x) => x.emit_into(out),
            PayloadBody::Auth(x) => x.emit_into(out),
            PayloadBody::Notify(x) => x.emit_into(out),
            PayloadBody::Delete(x) => x.emit_into(out),
            PayloadBody::Ts(x) => x.emit_into(out),
            PayloadBody::Sk(x) => out.extend_from_slice(&x.data),
            PayloadBody::Cp(x) => x.emit_into(out),
            PayloadBody::Eap(x) => x.emit_into(out),
            PayloadBody::Skf(x) => x.emit_into(out),
            PayloadBody::Nonce(d) | PayloadBody::VendorId(d) | PayloadBody::Unknown(d) => {
                out.extend_from_slice(d)
            }
        }
    }

    /// Detach from the input buffer.
    pub fn into_owned(self) -> PayloadBody<'static> {
        match self {
            PayloadBody::Sa(x) => PayloadBody::Sa(x.into_owned()),
            PayloadBody::Ke(x) => PayloadBody::Ke(x.into_owned()),
            PayloadBody::Id(x) => PayloadBody::Id(x.into_owned()),
            PayloadBody::Cert(x) => PayloadBody::Cert(x.into_owned()),
            PayloadBody::CertReq(x) => PayloadBody::CertReq(x.into_owned()),
            PayloadBody::Auth(x) => PayloadBody::Auth(x.into_owned()),
            PayloadBody::Nonce(d) => PayloadBody::Nonce(own(d)),
            PayloadBody::Notify(x) => PayloadBody::Notify(x.into_owned()),
            PayloadBody::Delete(x) => PayloadBody::Delete(x.into_owned()),
            PayloadBody::VendorId(d) => PayloadBody::VendorId(own(d)),
            PayloadBody::Ts(x) => PayloadBody::Ts(x.into_owned()),
            PayloadBody::Sk(x) => PayloadBody::Sk(x.into_owned()),
            PayloadBody::Cp(x) => PayloadBody::Cp(x.into_owned()),
            PayloadBody::Eap(x) => PayloadBody::Eap(x.into_owned()),
            PayloadBody::Skf(x) => PayloadBody::Skf(x.into_owned()),
            PayloadBody::Unknown(d) => PayloadBody::Unknown(own(d)),
        }
    }
}

/// Generic payload header flags byte: the critical bit.
pub const CRITICAL: u8 = 0x80;

impl<'a> Payload<'a> {
    /// A payload built by hand: flags 0 (not critical), offset 0.
    pub fn new(payload_type: u8, body: PayloadBody<'a>) -> Self {
        Payload {
            payload_type,
            flags: 0,
            offset: 0,
            body,
        }
    }

    /// The critical bit of the generic payload header. For a payload type the receiver does
    /// not understand ([`PayloadBody::Unknown`]) it means the message must be rejected
    /// (RFC 7296 §2.5); the codec still parses it and leaves the decision to the caller.
    pub fn critical(&self) -> bool {
        self.flags & CRITICAL != 0
    }

    /// True if the body is [`PayloadBody::Unknown`] and the critical bit is set.
    pub fn unknown_critical(&self) -> bool {
        matches!(self.body, PayloadBody::Unknown(_)) && self.critical()
    }

    /// The notify body, if this is a Notify payload.
    pub fn as_notify(&self) -> Option<&Notify<'a>> {
        match &self.body {
            PayloadBody::Notify(n) => Some(n),
            _ => None,
        }
    }

    /// For SK and SKF payloads: split the encrypted data into (IV, ciphertext, ICV) once the
    /// transform is known. Errors carry the absolute offset of the payload's data.
    pub fn split_encrypted(&self, iv_len: usize, icv_len: usize) -> Result<Split<'_>, WireError> {
        let (res, data_off) = match &self.body {
            PayloadBody::Sk(sk) => (sk.split(iv_len, icv_len), 4),
            PayloadBody::Skf(skf) => (skf.split(iv_len, icv_len), 8),
            _ => {
                return Err(WireError::invalid(
                    self.offset,
                    "an SK or SKF payload to split",
                ))
            }
        };
        res.map_err(|mut e| {
            e.offset += self.offset + data_off;
            e
        })
    }

    /// Append generic header + body; `next` is the type of the following payload (ignored
    /// for SK/SKF, which write their stored inner next-payload type).
    pub fn emit_into(&self, next: u8, out: &mut Vec<u8>) {
        let next = match &self.body {
            PayloadBody::Sk(sk) => sk.next_payload,
            PayloadBody::Skf(skf) => skf.next_payload,
            _ => next,
        };
        let start = out.len();
        out.extend_from_slice(&[next, self.flags, 0, 0]);
        self.body.emit_into(out);
        patch_len16(out, start);
    }

    /// Detach from the input buffer.
    pub fn into_owned(self) -> Payload<'static> {
        Payload {
            payload_type: self.payload_type,
            flags: self.flags,
            offset: self.offset,
            body: self.body.into_owned(),
        }
    }
}

/// Write `out.len() - start` (truncated to 16 bits) big-endian at `start + 2`: the length
/// field of a structure whose 4-byte header begins at `start`.
#[inline]
pub(crate) fn patch_len16(out: &mut [u8], start: usize) {
    let len = out.len().saturating_sub(start);
    let v = (len.min(u16::MAX as usize) as u16).to_be_bytes();
    if let Some(dst) = out.get_mut(start + 2..start + 4) {
        dst.copy_from_slice(&v);
    }
}

fn payload_label(ty: u8) -> &'static str {
    registry::payload_name(ty).unwrap_or("unknown")
}

/// Cheap pre-scan: how many payloads the chain appears to hold (for the Vec capacity only).
fn count_payloads(first_type: u8, bytes: &[u8]) -> usize {
    let (mut ty, mut at, mut n) = (first_type, 0usize, 0usize);
    while ty != pt::NONE && n < 64 {
        let Some(&[next, _, hi, lo]) = bytes.get(at..at + 4) else {
            break;
        };
        n += 1;
        if matches!(ty, pt::SK | pt::SKF) {
            break;
        }
        ty = next;
        at += (u16::from_be_bytes([hi, lo]) as usize).max(4);
    }
    n.max(1)
}

/// Parse a chain of payloads starting with type `first_type`, from `bytes` whose first byte
/// sits at absolute offset `base_offset` (used in error offsets and [`Payload::offset`]).
///
/// Used for the message body and for the *decrypted* contents of SK/SKF payloads (pass the
/// SK payload's `next_payload`, the plaintext with padding and pad length removed, and the
/// offset you want errors reported against). The chain ends at a next-payload of 0 or after
/// an SK/SKF payload; the bytes after the chain are returned as the second element.
pub fn parse_payload_chain(
    first_type: u8,
    bytes: &[u8],
    base_offset: usize,
) -> Result<(Vec<Payload<'_>>, &[u8]), WireError> {
    let mut r = Reader::new(bytes, base_offset);
    let mut payloads = Vec::with_capacity(count_payloads(first_type, bytes));
    let mut ty = first_type;
    let mut index = 0usize;
    while ty != pt::NONE {
        index += 1;
        let start = r.offset();
        let ctx = || format!("{} payload #{index}", payload_label(ty));
        if r.remaining() < 4 {
            return Err(WireError::truncated(
                start,
                format!(
                    "4-byte generic payload header (announced by the previous next-payload \
                     field), only {} byte(s) left",
                    r.remaining()
                ),
            )
            .within(ctx()));
        }
        let next = r.u8("next payload").map_err(|e| e.within(ctx()))?;
        let flags = r.u8("flags").map_err(|e| e.within(ctx()))?;
        let len = r.u16("payload length").map_err(|e| e.within(ctx()))? as usize;
        if len < 4 {
            return Err(
                WireError::invalid(start + 2, format!("payload length >= 4, got {len}"))
                    .within(ctx()),
            );
        }
        if len - 4 > r.remaining() {
            return Err(WireError::truncated(
                start + 2,
                format!(
                    "payload length {len} to fit in the {} byte(s) left",
                    r.remaining() + 4
                ),
            )
            .within(ctx()));
        }
        let body_r = r
            .sub(len - 4, "payload body")
            .map_err(|e| e.within(ctx()))?;
        let body = PayloadBody::parse(ty, next, body_r).map_err(|e| e.within(ctx()))?;
        let last = matches!(body, PayloadBody::Sk(_) | PayloadBody::Skf(_));
        payloads.push(Payload {
            payload_type: ty,
            flags,
            offset: start,
            body,
        });
        if last {
            break;
        }
        ty = next;
    }
    Ok((payloads, r.rest()))
}

/// Append a chain of payloads, each next-payload field naming the following payload's type
/// (0 after the last one; SK/SKF write their stored inner type). The counterpart of
/// [`parse_payload_chain`]; the engine uses it to build SK plaintext.
pub fn emit_payload_chain(payloads: &[Payload<'_>], out: &mut Vec<u8>) {
    for (i, p) in payloads.iter().enumerate() {
        let next = payloads.get(i + 1).map_or(pt::NONE, |q| q.payload_type);
        p.emit_into(next, out);
    }
}

impl<'a> Message<'a> {
    /// Decode a complete IKEv2 message (no non-ESP marker, no TCP framing). The header's
    /// length must equal `data.len()` and its major version must be 2.
    pub fn parse(data: &'a [u8]) -> Result<Message<'a>, WireError> {
        let header = Header::parse(data)?;
        if header.major_version() != 2 {
            return Err(WireError::invalid(
                17,
                format!(
                    "IKE major version 2, got {}.{}",
                    header.major_version(),
                    header.minor_version()
                ),
            )
            .within("IKE header"));
        }
        if header.length as usize != data.len() {
            let err = if (header.length as usize) > data.len() {
                WireError::truncated
            } else {
                WireError::invalid
            };
            return Err(err(
                24,
                format!(
                    "message length field equal to the {} byte(s) received, got {}",
                    data.len(),
                    header.length
                ),
            )
            .within("IKE header"));
        }
        let body = data.get(HEADER_LEN..).unwrap_or(&[]);
        let (payloads, trailing) = parse_payload_chain(header.next_payload, body, HEADER_LEN)?;
        Ok(Message {
            header,
            payloads,
            trailing: Cow::Borrowed(trailing),
        })
    }

    /// Encode; `header.next_payload` and `header.length` are recomputed.
    pub fn emit(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity((self.header.length as usize).clamp(256, 65536));
        self.emit_into(&mut out);
        out
    }

    /// Append the encoding to `out` (see [`Message::emit`]).
    pub fn emit_into(&self, out: &mut Vec<u8>) {
        let start = out.len();
        let mut h = self.header;
        h.next_payload = self.payloads.first().map_or(pt::NONE, |p| p.payload_type);
        h.emit_into(out);
        emit_payload_chain(&self.payloads, out);
        out.extend_from_slice(&self.trailing);
        let len = u32::try_from(out.len() - start).unwrap_or(u32::MAX);
        if let Some(dst) = out.get_mut(start + 24..start + 28) {
            dst.copy_from_slice(&len.to_be_bytes());
        }
    }

    /// Detach from the input buffer.
    pub fn into_owned(self) -> Message<'static> {
        Message {
            header: self.header,
            payloads: self.payloads.into_iter().map(Payload::into_owned).collect(),
            trailing: own(self.trailing),
        }
    }

    /// The first payload of type `payload_type`.
    pub fn find(&self, payload_type: u8) -> Option<&Payload<'a>> {
        self.payloads
            .iter()
            .find(|p| p.payload_type == payload_type)
    }

    /// All Notify payloads, in order.
    pub fn notifies(&self) -> impl Iterator<Item = &Notify<'a>> {
        self.payloads.iter().filter_map(Payload::as_notify)
    }

    /// The first notify of the given type.
    pub fn notify(&self, notify_type: u16) -> Option<&Notify<'a>> {
        self.notifies().find(|n| n.notify_type == notify_type)
    }

    /// The SK payload, if the message has one.
    pub fn sk(&self) -> Option<&Sk<'a>> {
        self.payloads.iter().find_map(|p| match &p.body {
            PayloadBody::Sk(sk) => Some(sk),
            _ => None,
        })
    }

    /// Non-fatal problems found while parsing: notifies whose data does not fit their type
    /// ([`NotifyData::Malformed`]), unknown payloads with the critical bit set, and trailing
    /// bytes after the last payload.
    pub fn warnings(&self) -> Vec<WireError> {
        let mut w = payload_warnings(&self.payloads);
        if !self.trailing.is_empty() {
            let off =
                self.header.length as usize - self.trailing.len().min(self.header.length as usize);
            w.push(WireError::invalid(
                off,
                format!(
                    "no bytes after the last payload, got {}",
                    self.trailing.len()
                ),
            ));
        }
        w
    }
}

/// The per-payload part of [`Message::warnings`], usable on a decrypted inner chain.
pub fn payload_warnings(payloads: &[Payload<'_>]) -> Vec<WireError> {
    let mut w = Vec::new();
    for (i, p) in payloads.iter().enumerate() {
        let ctx = || format!("{} payload #{}", payload_label(p.payload_type), i + 1);
        if p.unknown_critical() {
            w.push(
                WireError::invalid(
                    p.offset,
                    format!(
                        "a payload type this codec understands, got critical type {}",
                        p.payload_type
                    ),
                )
                .within(ctx()),
            );
        }
        if let PayloadBody::Notify(Notify {
            data:
                NotifyData::Malformed {
                    offset,
                    expected,
                    raw,
                },
            ..
        }) = &p.body
        {
            w.push(
                WireError::invalid(
                    *offset,
                    format!("notification data of {expected}, got {} byte(s)", raw.len()),
                )
                .within(ctx()),
            );
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{notify_type as nt, CRITICAL};
    use std::net::Ipv4Addr;

    /// INFORMATIONAL request: N(UPDATE_SA_ADDRESSES), N(ADDITIONAL_IP4_ADDRESS 192.0.2.10),
    /// N(COOKIE2), then an unknown critical payload type 200.
    fn plain() -> Vec<u8> {
        let mut m = vec![
            1,
            2,
            3,
            4,
            5,
            6,
            7,
            8,
            9,
            10,
            11,
            12,
            13,
            14,
            15,
            16, // SPIs
            41,
            0x20,
            37,
            0x08,
            0,
            0,
            0,
            7,
            0,
            0,
            0,
            0, // header, length patched below
            41,
            0,
            0,
            8,
            0,
            0,
            0x40,
            0x10, // N(UPDATE_SA_ADDRESSES)
            41,
            0,
            0,
            12,
            0,
            0,
            0x40,
            0x0d,
            192,
            0,
            2,
            10, // N(ADDITIONAL_IP4_ADDRESS)
            200,
            0,
            0,
            16,
            0,
            0,
            0x40,
            0x11,
            1,
            2,
            3,
            4,
            5,
            6,
            7,
            8, // N(COOKIE2)
            0,
            CRITICAL | 0x01,
            0,
            6,
            0xde,
            0xad, // unknown type 200, critical + reserved bit
        ];
        let l = m.len() as u32;
        m[24..28].copy_from_slice(&l.to_be_bytes());
        m
    }

    #[test]
    fn parse_plain_message() {
        let b = plain();
        let m = Message::parse(&b).unwrap();
        assert_eq!(m.header.exchange_type, crate::wire::INFORMATIONAL);
        assert_eq!(m.header.message_id, 7);
        assert_eq!(m.payloads.len(), 4);
        assert_eq!(m.payloads[0].offset, 28);
        assert_eq!(m.payloads[1].offset, 36);
        assert_eq!(
            m.notify(nt::ADDITIONAL_IP4_ADDRESS).unwrap().data,
            NotifyData::AdditionalIp4(Ipv4Addr::new(192, 0, 2, 10))
        );
        assert_eq!(m.notifies().count(), 3);
        let u = &m.payloads[3];
        assert_eq!(u.payload_type, 200);
        assert!(u.critical() && u.unknown_critical());
        assert_eq!(
            u.body,
            PayloadBody::Unknown(Cow::Borrowed(&[0xde, 0xad][..]))
        );
        assert!(!m.payloads[0].critical());
        assert!(m.trailing.is_empty());
        let w = m.warnings();
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].offset, 64);
        assert_eq!(m.emit(), b);
        let owned = m.into_owned();
        assert_eq!(owned.emit(), b);
    }

    #[test]
    fn malformed_notify_does_not_fail_message() {
        let mut b = plain();
        // ADDITIONAL_IP4_ADDRESS with 3 bytes: shorten the payload, drop one address byte
        b[36 + 3] = 11;
        b.remove(47);
        let l = b.len() as u32;
        b[24..28].copy_from_slice(&l.to_be_bytes());
        let m = Message::parse(&b).unwrap();
        match &m.payloads[1].as_notify().unwrap().data {
            NotifyData::Malformed {
                offset,
                expected,
                raw,
            } => {
                assert_eq!(*offset, 44);
                assert_eq!(*expected, "4 bytes (IPv4 address)");
                assert_eq!(&raw[..], &[192, 0, 2]);
            }
            other => panic!("{other:?}"),
        }
        let w = m.warnings();
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].offset, 44);
        assert_eq!(w[0].context, "N payload #2");
        assert_eq!(m.emit(), b);
    }

    #[test]
    fn trailing_bytes_kept() {
        let mut b = plain();
        let n = b.len();
        b.extend_from_slice(&[0xee, 0xff]);
        let l = b.len() as u32;
        b[24..28].copy_from_slice(&l.to_be_bytes());
        let m = Message::parse(&b).unwrap();
        assert_eq!(&m.trailing[..], &[0xee, 0xff]);
        assert_eq!(m.emit(), b);
        assert_eq!(m.warnings().last().unwrap().offset, n);
    }

    #[test]
    fn header_errors() {
        let b = plain();
        let e = Message::parse(&b[..20]).unwrap_err();
        assert_eq!(e.context, "IKE header");
        // length field larger than the data
        let e = Message::parse(&b[..b.len() - 1]).unwrap_err();
        assert_eq!(
            (e.offset, e.kind),
            (24, crate::wire::WireErrorKind::Truncated)
        );
        // length field smaller than the data
        let mut long = b.clone();
        long.push(0);
        let e = Message::parse(&long).unwrap_err();
        assert_eq!(
            (e.offset, e.kind),
            (24, crate::wire::WireErrorKind::Invalid)
        );
        // IKEv1
        let mut v1 = b.clone();
        v1[17] = 0x10;
        let e = Message::parse(&v1).unwrap_err();
        assert_eq!(e.offset, 17);
        assert!(e.to_string().contains("major version 2, got 1.0"), "{e}");
    }

    #[test]
    fn lying_payload_lengths() {
        let b = plain();
        // second payload claims 200 bytes
        let mut x = b.clone();
        x[36 + 3] = 200;
        let e = Message::parse(&x).unwrap_err();
        assert_eq!(e.offset, 38);
        assert_eq!(e.context, "N payload #2");
        assert_eq!(e.kind, crate::wire::WireErrorKind::Truncated);
        // payload length below 4
        let mut x = b.clone();
        x[28 + 3] = 3;
        let e = Message::parse(&x).unwrap_err();
        assert_eq!((e.offset, &*e.context), (30, "N payload #1"));
        assert_eq!(e.expected, "payload length >= 4, got 3");
        // notify too short for its fixed part
        let mut x = b.clone();
        x[28 + 3] = 6;
        let e = Message::parse(&x).unwrap_err();
        assert_eq!(e.context, "N payload #1");
        // last payload announces another one that is not there
        let mut x = b.clone();
        let n = x.len();
        x[n - 6] = 41;
        let e = Message::parse(&x).unwrap_err();
        assert_eq!(e.offset, n);
        assert_eq!(e.context, "N payload #5");
        // every truncation with a consistent header length is an error
        for cut in 28..b.len() {
            let mut t = b[..cut].to_vec();
            t[24..28].copy_from_slice(&(cut as u32).to_be_bytes());
            assert!(Message::parse(&t).is_err() || cut == 28, "{cut}");
        }
    }

    #[test]
    fn sk_ends_chain_and_inner_chain_round_trips() {
        // inner chain: N(UPDATE_SA_ADDRESSES), N(NO_ADDITIONAL_ADDRESSES)
        let inner = [41, 0, 0, 8, 0, 0, 0x40, 0x10, 0, 0, 0, 8, 0, 0, 0x40, 0x0f];
        let (p, rest) = parse_payload_chain(41, &inner, 1000).unwrap();
        assert!(rest.is_empty());
        assert_eq!(p.len(), 2);
        assert_eq!(p[1].offset, 1008);
        assert_eq!(
            p[1].as_notify().unwrap().notify_type,
            nt::NO_ADDITIONAL_ADDRESSES
        );
        let mut out = Vec::new();
        emit_payload_chain(&p, &mut out);
        assert_eq!(out, inner);

        // message: SK with next payload 41 and 8 bytes of "encrypted" data
        let mut m = vec![0u8; 28];
        m[16] = 46;
        m[17] = 0x20;
        m[18] = 37;
        m.extend_from_slice(&[41, 0, 0, 12, 1, 2, 3, 4, 5, 6, 7, 8]);
        let l = m.len() as u32;
        m[24..28].copy_from_slice(&l.to_be_bytes());
        let msg = Message::parse(&m).unwrap();
        let sk = msg.sk().unwrap();
        assert_eq!(sk.next_payload, 41);
        assert_eq!(&sk.data[..], &[1, 2, 3, 4, 5, 6, 7, 8]);
        let (iv, ct, icv) = msg.payloads[0].split_encrypted(2, 2).unwrap();
        assert_eq!((iv, ct, icv), (&[1, 2][..], &[3, 4, 5, 6][..], &[7, 8][..]));
        let e = msg.payloads[0].split_encrypted(8, 4).unwrap_err();
        assert_eq!(e.offset, 32);
        assert_eq!(msg.emit(), m);

        // building by hand: header fields are recomputed
        let built = Message {
            header: Header {
                version: 0x20,
                exchange_type: 37,
                ..Header::default()
            },
            payloads: vec![Payload::new(
                46,
                PayloadBody::Sk(Sk {
                    next_payload: 41,
                    data: Cow::Owned(vec![1, 2, 3, 4, 5, 6, 7, 8]),
                }),
            )],
            trailing: Cow::Borrowed(&[]),
        };
        assert_eq!(built.emit(), m);
    }

    #[test]
    fn skf_payload() {
        let mut m = vec![0u8; 28];
        m[16] = 53;
        m[17] = 0x20;
        m[18] = 35;
        m.extend_from_slice(&[0, 0, 0, 12, 0, 2, 0, 2, 9, 9, 9, 9]);
        let l = m.len() as u32;
        m[24..28].copy_from_slice(&l.to_be_bytes());
        let msg = Message::parse(&m).unwrap();
        match &msg.payloads[0].body {
            PayloadBody::Skf(f) => {
                assert_eq!(
                    (f.next_payload, f.fragment_number, f.total_fragments),
                    (0, 2, 2)
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(msg.payloads[0].split_encrypted(1, 1).unwrap().1, &[9, 9]);
        assert_eq!(msg.emit(), m);
    }
}
