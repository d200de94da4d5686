//! Presentation-neutral description of decoded IKEv2 messages.
//!
//! The functions here turn [`crate::wire`] values into `serde_json::Value` trees that both the
//! text renderer and `mobikectl decode --format json` render. Key names are a stable
//! interface (they are the README's JSON schema):
//!
//! # Conventions
//! * keys are snake_case; numbers are JSON numbers; byte strings are lowercase hex strings;
//! * every registry number has its name alongside (`*_name`, or the key without `_id`/`_type`
//!   as noted); a name is `null` when the registry does not know the value.
//!
//! # Header ([`header_json`])
//! `spi_i`, `spi_r` (16 lowercase hex digits), `next_payload`, `version` ("2.0"),
//! `exchange_type` (number), `exchange` (name, or the number as a string), `flags` (number),
//! `initiator`, `response`, `version_flag` (bools), `message_id`, `length`.
//!
//! # Payloads ([`payloads_json`], [`payload_json`])
//! Every payload object has `type` (number), `name` (IANA notation: SA, KE, IDi, IDr, CERT,
//! CERTREQ, AUTH, No, N, D, V, TSi, TSr, SK, CP, EAP, GSPM, IDg, GSA, KD, SKF, PS, or null),
//! `critical` (bool) and `offset` (absolute byte offset of the generic payload header), then:
//!
//! | payload | keys |
//! |---|---|
//! | SA | `proposals: [{number, protocol_id, protocol, spi, transforms: [{type, type_name, id, id_name, attributes: [{type, name, format ("TV"/"TLV"), value (number for TV, hex for TLV)}]}]}]` |
//! | KE | `group`, `group_name`, `data_length`, `data` |
//! | IDi/IDr | `id_type`, `id_type_name`, `id` (IPv4/IPv6 text, FQDN/RFC822 string, else hex) |
//! | CERT/CERTREQ | `encoding`, `encoding_name`, `data_length`, `data` |
//! | AUTH | `method`, `method_name`, `data` |
//! | No, V, unknown types | `data_length`, `data` |
//! | N | `protocol_id`, `protocol`, `spi`, `notify_type`, `notify`, `error` (bool), plus the typed data below |
//! | D | `protocol_id`, `protocol`, `spi_size`, `num_spis`, `spis: [hex]` |
//! | TSi/TSr | `selectors: [{ts_type, ts_type_name, protocol, start_port, end_port, start_address, end_address}]`; other TS types: `{ts_type, ts_type_name, data}` |
//! | SK | `next_payload`, `next_payload_name`, `length` (bytes of IV + ciphertext + ICV) |
//! | SKF | `fragment_number`, `total_fragments`, `next_payload`, `next_payload_name`, `length` |
//! | CP | `cfg_type`, `cfg_type_name`, `attributes: [{type, name, length, value (hex), address? , text?}]` |
//! | EAP | `code`, `code_name`, `identifier`, `eap_type` (null for Success/Failure), `eap_type_name`, `data` |
//!
//! Notify data keys by type: ADDITIONAL_IP4/6_ADDRESS → `address`; COOKIE, COOKIE2 →
//! `cookie`; NAT_DETECTION_* → `hash`; NO_NATS_ALLOWED → `src_address`, `dst_address`,
//! `src_port`, `dst_port`; SIGNATURE_HASH_ALGORITHMS → `algorithms` (numbers),
//! `algorithm_names`; INVALID_KE_PAYLOAD → `group`, `group_name`;
//! UNSUPPORTED_CRITICAL_PAYLOAD → `payload_type`, `payload_name`; SET_WINDOW_SIZE →
//! `window_size`; AUTH_LIFETIME → `lifetime`; IPCOMP_SUPPORTED → `cpi`, `transform_id`;
//! types without data → nothing more; other types → `data` (hex, possibly ""); data of the
//! wrong size for its type → `malformed` ("offset N: expected ..., got K byte(s)") and `data`.
//!
//! # Decrypted SK / SKF payloads ([`add_decryption`])
//! `mobikectl decode` adds to the SK or SKF payload object:
//! * `integrity`: `"ok"` (ICV or AEAD tag verified), `"bad"` (keys known, check failed or
//!   the payload could not be processed) or `"no-keys"`;
//! * `decrypt_error` (string): why the payload or its decrypted content could not be used
//!   (truncated, bad padding, inner payload chain malformed);
//! * `payloads`: the inner payloads once decrypted with integrity ok, objects of the same
//!   schema as outer payloads; their `offset` counts from the start of the decrypted data
//!   (for fragments: of the reassembled data). For SKF only on the fragment that completes
//!   the message, holding the whole reassembled message's payloads;
//! * `fragments` (SKF, completing fragment only): frame numbers of the fragments the message
//!   was built from, in fragment-number order (also without keys).
//!
//! # Whole message ([`message_json`])
//! `{header, payloads, trailing?, warnings?}`: `trailing` (hex) and `warnings` (strings)
//! appear only when non-empty.
//!
//! # One description, several renderings
//! Every object above is described once, as a stream of typed fields sent to a [`FieldSink`]
//! ([`visit_header`], [`visit_payload`], [`visit_payloads`], [`visit_decryption`]). The
//! `serde_json::Value` functions ([`header_json`], [`payload_json`], ...) run that
//! description into a [`ValueSink`]; [`JsonWriter`] writes it straight out as JSON text. The
//! text output of `mobikectl decode` is this description laid out as an indented tree; it is
//! written straight from the typed payloads for speed, and its tests hold it to the layout
//! derived from this description.
#![warn(missing_docs)]

mod json;
pub mod layout;
mod sink;

use std::net::{Ipv4Addr, Ipv6Addr};

use serde_json::Value;

use crate::wire::{
    registry, AttributeValue, Cp, Delete, Eap, Header, Message, NotifyData, Payload, PayloadBody,
    Sa, TrafficSelector, Transform,
};

pub use json::{push_hex, write_json_str, JsonWriter};
pub use sink::{replay_value, FieldSink, ValueSink};

/// Displays an address exactly as `Display` for [`std::net::IpAddr`] does, IPv4 without the
/// formatting machinery (addresses are in every record).
#[derive(Debug, Clone, Copy)]
pub struct Addr(pub std::net::IpAddr);

/// The decimal digits of every byte value, left-aligned in three bytes, and how many.
const OCTET_DIGITS: [([u8; 3], u8); 256] = {
    let mut t = [([0u8; 3], 0u8); 256];
    let mut i = 0;
    while i < 256 {
        let v = i as u8;
        let (h, d, u) = (b'0' + v / 100, b'0' + v / 10 % 10, b'0' + v % 10);
        t[i] = if v >= 100 {
            ([h, d, u], 3)
        } else if v >= 10 {
            ([d, u, 0], 2)
        } else {
            ([u, 0, 0], 1)
        };
        i += 1;
    }
    t
};

/// The dotted-decimal text of `a` in a fixed buffer: the bytes and how many are used.
#[inline]
pub fn ipv4_text(a: Ipv4Addr) -> ([u8; 17], usize) {
    // Room for three digits at every octet: each is copied whole, the next one overwrites
    // what is not used.
    let mut buf = [0u8; 17];
    let mut n = 0;
    for (i, octet) in a.octets().into_iter().enumerate() {
        if i > 0 {
            buf[n] = b'.';
            n += 1;
        }
        let (digits, len) = OCTET_DIGITS[usize::from(octet)];
        buf[n..n + 3].copy_from_slice(&digits);
        n += usize::from(len);
    }
    (buf, n)
}

impl std::fmt::Display for Addr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            std::net::IpAddr::V4(a) if f.width().is_none() && f.precision().is_none() => {
                let (buf, n) = ipv4_text(a);
                f.write_str(std::str::from_utf8(&buf[..n]).unwrap_or_default())
            }
            other => other.fmt(f),
        }
    }
}

/// Writes the header fields (see the module documentation for keys) into the open object.
pub fn visit_header<S: FieldSink + ?Sized>(h: &Header, s: &mut S) {
    s.hex("spi_i", &h.spi_i.to_be_bytes());
    s.hex("spi_r", &h.spi_r.to_be_bytes());
    s.u64("next_payload", h.next_payload.into());
    s.display(
        "version",
        &format_args!("{}.{}", h.major_version(), h.minor_version()),
    );
    s.u64("exchange_type", h.exchange_type.into());
    match registry::exchange_name(h.exchange_type) {
        Some(name) => s.str("exchange", name),
        None => s.display("exchange", &h.exchange_type),
    }
    s.u64("flags", h.flags.into());
    s.bool("initiator", h.is_initiator());
    s.bool("response", h.is_response());
    s.bool("version_flag", h.version_flag());
    s.u64("message_id", h.message_id.into());
    s.u64("length", h.length.into());
}

/// The header object (see the module documentation for keys).
pub fn header_json(h: &Header) -> Value {
    ValueSink::object(|s| visit_header(h, s))
}

/// Writes the list `key` of payload objects for any chain; `decrypted` adds the decryption
/// result (see [`visit_decryption`]) to the payload at that index.
pub fn visit_payloads<S: FieldSink + ?Sized>(
    key: &str,
    payloads: &[Payload],
    decrypted: Option<(usize, &DecryptionView<'_, '_>)>,
    s: &mut S,
) {
    s.begin_list(key);
    for (i, p) in payloads.iter().enumerate() {
        let d = decrypted.and_then(|(at, d)| (at == i).then_some(d));
        visit_payload("", p, d, s);
    }
    s.end_list();
}

/// The array, in wire order, of the message's payload objects.
pub fn payloads_json(msg: &Message) -> Value {
    payload_list_json(&msg.payloads)
}

/// The array of payload objects for any chain (e.g. decrypted SK contents).
pub fn payload_list_json(payloads: &[Payload]) -> Value {
    ValueSink::value(|s| visit_payloads("", payloads, None, s))
}

/// `{header, payloads, trailing?, warnings?}` for a whole message.
pub fn message_json(msg: &Message) -> Value {
    ValueSink::object(|s| {
        s.begin_object("header");
        visit_header(&msg.header, s);
        s.end_object();
        visit_payloads("payloads", &msg.payloads, None, s);
        if !msg.trailing.is_empty() {
            s.hex("trailing", &msg.trailing);
        }
        let w = msg.warnings();
        if !w.is_empty() {
            s.begin_list("warnings");
            for e in &w {
                s.display("", e);
            }
            s.end_list();
        }
    })
}

/// What decryption found for one SK/SKF payload (see [`add_decryption`]).
#[derive(Debug, Clone, Copy)]
pub struct DecryptionView<'x, 'p> {
    /// `ok`, `bad` or `no-keys`.
    pub integrity: &'x str,
    /// Why the payload or its content could not be used.
    pub error: Option<&'x str>,
    /// Inner payloads (decrypted and parsed).
    pub payloads: Option<&'x [Payload<'p>]>,
    /// Frames of the fragments of a reassembled message.
    pub fragments: Option<&'x [u64]>,
}

/// Writes `integrity`, `decrypt_error`, `fragments` and `payloads` (see the module
/// documentation) into the open SK/SKF payload object.
pub fn visit_decryption<S: FieldSink + ?Sized>(d: &DecryptionView<'_, '_>, s: &mut S) {
    s.str("integrity", d.integrity);
    if let Some(e) = d.error {
        s.str("decrypt_error", e);
    }
    if let Some(f) = d.fragments {
        s.begin_list("fragments");
        for &frame in f {
            s.u64("", frame);
        }
        s.end_list();
    }
    if let Some(p) = d.payloads {
        visit_payloads("payloads", p, None, s);
    }
}

/// Adds `integrity`, `decrypt_error`, `payloads` and `fragments` (see the module
/// documentation) to an SK/SKF payload object. Does nothing if `payload` is not an object.
pub fn add_decryption(payload: &mut Value, d: &DecryptionView<'_, '_>) {
    let Value::Object(o) = payload else {
        return;
    };
    let mut added = ValueSink::object(|s| visit_decryption(d, s));
    if let Value::Object(a) = &mut added {
        for (k, v) in std::mem::take(a) {
            o.insert(k, v);
        }
    }
}

/// The name of EAP method type `t` (the common ones).
pub fn eap_type_name(t: u8) -> Option<&'static str> {
    Some(match t {
        1 => "Identity",
        2 => "Notification",
        3 => "Nak",
        4 => "MD5-Challenge",
        13 => "EAP-TLS",
        18 => "EAP-SIM",
        21 => "EAP-TTLS",
        23 => "EAP-AKA",
        25 => "PEAP",
        26 => "EAP-MSCHAP-V2",
        43 => "EAP-FAST",
        50 => "EAP-AKA'",
        _ => return None,
    })
}

/// How an identification payload's data is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdShown<'d> {
    /// ID_IPV4_ADDR / ID_IPV6_ADDR of the right length.
    Addr(std::net::IpAddr),
    /// ID_FQDN / ID_RFC822_ADDR that is UTF-8 without control characters.
    Text(&'d str),
    /// Anything else, as hex.
    Hex(&'d [u8]),
}

/// How the data of an identification payload of type `id_type` is shown.
pub fn id_shown(id_type: u8, data: &[u8]) -> IdShown<'_> {
    match (id_type, data.len()) {
        (1, 4) => {
            if let Ok(a) = <[u8; 4]>::try_from(data) {
                return IdShown::Addr(Ipv4Addr::from(a).into());
            }
        }
        (5, 16) => {
            if let Ok(a) = <[u8; 16]>::try_from(data) {
                return IdShown::Addr(Ipv6Addr::from(a).into());
            }
        }
        (2 | 3, _) => {
            if let Ok(text) = std::str::from_utf8(data) {
                if !text.chars().any(char::is_control) {
                    return IdShown::Text(text);
                }
            }
        }
        _ => {}
    }
    IdShown::Hex(data)
}

fn id_text<S: FieldSink + ?Sized>(key: &str, id_type: u8, data: &[u8], s: &mut S) {
    match id_shown(id_type, data) {
        IdShown::Addr(a) => s.display(key, &Addr(a)),
        IdShown::Text(t) => s.str(key, t),
        IdShown::Hex(h) => s.hex(key, h),
    }
}

/// The decoded form of a CP attribute value, when it has the usual form for its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CfgValueShown<'v> {
    /// An IPv4 address (INTERNAL_IP4_ADDRESS, _NETMASK, _DNS, _NBNS, _DHCP).
    Ip4(Ipv4Addr),
    /// An IPv6 address (INTERNAL_IP6_DNS, _DHCP).
    Ip6(Ipv6Addr),
    /// An IPv6 address and prefix length (INTERNAL_IP6_ADDRESS, _SUBNET).
    Ip6Prefix(Ipv6Addr, u8),
    /// An IPv4 subnet and mask (INTERNAL_IP4_SUBNET).
    Ip4Subnet(Ipv4Addr, Ipv4Addr),
    /// Text (APPLICATION_VERSION).
    Text(&'v str),
}

impl CfgValueShown<'_> {
    /// The key the form is described under: `address` or `text`.
    pub fn key(&self) -> &'static str {
        match self {
            CfgValueShown::Text(_) => "text",
            _ => "address",
        }
    }
}

impl std::fmt::Display for CfgValueShown<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CfgValueShown::Ip4(a) => Addr((*a).into()).fmt(f),
            CfgValueShown::Ip6(a) => a.fmt(f),
            CfgValueShown::Ip6Prefix(a, len) => write!(f, "{a}/{len}"),
            CfgValueShown::Ip4Subnet(a, m) => write!(f, "{a}/{m}"),
            CfgValueShown::Text(t) => f.write_str(t),
        }
    }
}

/// The decoded form of CP attribute `attr_type` with value `v`, if it has the usual form.
pub fn cfg_value_shown(attr_type: u16, v: &[u8]) -> Option<CfgValueShown<'_>> {
    let v4 = |b: &[u8]| <[u8; 4]>::try_from(b).ok().map(Ipv4Addr::from);
    let v6 = |b: &[u8]| <[u8; 16]>::try_from(b).ok().map(Ipv6Addr::from);
    match (attr_type, v.len()) {
        (1 | 2 | 3 | 4 | 6, 4) => v4(v).map(CfgValueShown::Ip4),
        (10 | 12, 16) => v6(v).map(CfgValueShown::Ip6),
        (8 | 15, 17) => v6(&v[..16]).map(|a| CfgValueShown::Ip6Prefix(a, v[16])),
        (13, 8) => Some(CfgValueShown::Ip4Subnet(v4(&v[..4])?, v4(&v[4..])?)),
        (7, 1..) => std::str::from_utf8(v).ok().map(CfgValueShown::Text),
        _ => None,
    }
}

/// CP attribute rendering: adds `address` or `text` when the value has the usual form.
fn cfg_extra<S: FieldSink + ?Sized>(attr_type: u16, v: &[u8], s: &mut S) {
    match cfg_value_shown(attr_type, v) {
        Some(CfgValueShown::Text(t)) => s.str("text", t),
        Some(shown) => s.display("address", &shown),
        None => {}
    }
}

fn notify_fields<S: FieldSink + ?Sized>(d: &NotifyData, s: &mut S) {
    match d {
        NotifyData::Empty => {}
        NotifyData::Raw(b) => s.hex("data", b),
        NotifyData::AdditionalIp4(a) => s.display("address", &Addr((*a).into())),
        NotifyData::AdditionalIp6(a) => s.display("address", a),
        NotifyData::Cookie(c) | NotifyData::Cookie2(c) => s.hex("cookie", c),
        NotifyData::NoNatsAllowed {
            src,
            dst,
            src_port,
            dst_port,
        } => {
            s.display("src_address", src);
            s.display("dst_address", dst);
            s.u64("src_port", (*src_port).into());
            s.u64("dst_port", (*dst_port).into());
        }
        NotifyData::NatDetection(h) => s.hex("hash", h),
        NotifyData::SignatureHashAlgorithms(v) => {
            s.begin_list("algorithms");
            for a in v {
                s.u64("", (*a).into());
            }
            s.end_list();
            s.begin_list("algorithm_names");
            for a in v {
                s.name("", registry::hash_algorithm_name(*a));
            }
            s.end_list();
        }
        NotifyData::KeGroup(g) => {
            s.u64("group", (*g).into());
            s.name("group_name", registry::transform_id_name(4, *g));
        }
        NotifyData::PayloadType(t) => {
            s.u64("payload_type", (*t).into());
            s.name("payload_name", registry::payload_name(*t));
        }
        NotifyData::WindowSize(v) => s.u64("window_size", (*v).into()),
        NotifyData::Lifetime(v) => s.u64("lifetime", (*v).into()),
        NotifyData::IpcompSupported { cpi, transform_id } => {
            s.u64("cpi", (*cpi).into());
            s.u64("transform_id", (*transform_id).into());
        }
        NotifyData::Malformed {
            offset,
            expected,
            raw,
        } => {
            s.display(
                "malformed",
                &format_args!(
                    "offset {offset}: expected {expected}, got {} byte(s)",
                    raw.len()
                ),
            );
            s.hex("data", raw);
        }
    }
}

fn visit_selector<S: FieldSink + ?Sized>(sel: &TrafficSelector, s: &mut S) {
    let t = sel.ts_type();
    s.begin_object("");
    s.u64("ts_type", t.into());
    s.name("ts_type_name", registry::ts_type_name(t));
    if let Some(r) = sel.address_range() {
        s.u64("protocol", r.ip_protocol.into());
        s.u64("start_port", r.start_port.into());
        s.u64("end_port", r.end_port.into());
        s.display("start_address", &Addr(r.start));
        s.display("end_address", &Addr(r.end));
    } else if let TrafficSelector::Other { data, .. } = sel {
        s.hex("data", data);
    }
    s.end_object();
}

fn data_fields<S: FieldSink + ?Sized>(d: &[u8], s: &mut S) {
    s.u64("data_length", d.len() as u64);
    s.hex("data", d);
}

/// Writes one payload object under `key` (see the module documentation for keys), with the
/// decryption result when `decrypted` is given.
pub fn visit_payload<S: FieldSink + ?Sized>(
    key: &str,
    p: &Payload,
    decrypted: Option<&DecryptionView<'_, '_>>,
    s: &mut S,
) {
    s.begin_object(key);
    s.u64("type", p.payload_type.into());
    s.name("name", registry::payload_name(p.payload_type));
    s.bool("critical", p.critical());
    s.u64("offset", p.offset as u64);
    body_fields(&p.body, s);
    if let Some(d) = decrypted {
        visit_decryption(d, s);
    }
    s.end_object();
}

/// The fields of a payload's body, which depend on its type.
fn body_fields<S: FieldSink + ?Sized>(body: &PayloadBody, s: &mut S) {
    match body {
        PayloadBody::Sa(sa) => sa_fields(sa, s),
        PayloadBody::Ke(ke) => {
            s.u64("group", ke.dh_group.into());
            s.name("group_name", registry::transform_id_name(4, ke.dh_group));
            data_fields(&ke.data, s);
        }
        PayloadBody::Id(id) => {
            s.u64("id_type", id.id_type.into());
            s.name("id_type_name", registry::id_type_name(id.id_type));
            id_text("id", id.id_type, &id.data, s);
        }
        PayloadBody::Cert(c) | PayloadBody::CertReq(c) => {
            s.u64("encoding", c.encoding.into());
            s.name("encoding_name", registry::cert_encoding_name(c.encoding));
            data_fields(&c.data, s);
        }
        PayloadBody::Auth(a) => {
            s.u64("method", a.method.into());
            s.name("method_name", registry::auth_method_name(a.method));
            s.hex("data", &a.data);
        }
        PayloadBody::Nonce(d) | PayloadBody::VendorId(d) | PayloadBody::Unknown(d) => {
            data_fields(d, s)
        }
        PayloadBody::Notify(n) => {
            s.u64("protocol_id", n.protocol_id.into());
            s.name("protocol", registry::protocol_name(n.protocol_id));
            s.hex("spi", &n.spi);
            s.u64("notify_type", n.notify_type.into());
            s.name("notify", registry::notify_name(n.notify_type));
            s.bool("error", n.is_error());
            notify_fields(&n.data, s);
        }
        PayloadBody::Delete(d) => delete_fields(d, s),
        PayloadBody::Ts(ts) => {
            s.begin_list("selectors");
            for sel in &ts.selectors {
                visit_selector(sel, s);
            }
            s.end_list();
        }
        PayloadBody::Sk(sk) => {
            s.u64("next_payload", sk.next_payload.into());
            s.name("next_payload_name", registry::payload_name(sk.next_payload));
            s.u64("length", sk.data.len() as u64);
        }
        PayloadBody::Skf(f) => {
            s.u64("fragment_number", f.fragment_number.into());
            s.u64("total_fragments", f.total_fragments.into());
            s.u64("next_payload", f.next_payload.into());
            s.name("next_payload_name", registry::payload_name(f.next_payload));
            s.u64("length", f.data.len() as u64);
        }
        PayloadBody::Cp(cp) => cp_fields(cp, s),
        PayloadBody::Eap(e) => eap_fields(e, s),
    }
}

/// An SA payload's proposals.
fn sa_fields<S: FieldSink + ?Sized>(sa: &Sa, s: &mut S) {
    s.begin_list("proposals");
    for pr in &sa.proposals {
        s.begin_object("");
        s.u64("number", pr.number.into());
        s.u64("protocol_id", pr.protocol_id.into());
        s.name("protocol", registry::protocol_name(pr.protocol_id));
        s.hex("spi", &pr.spi);
        s.begin_list("transforms");
        for t in &pr.transforms {
            visit_transform(t, s);
        }
        s.end_list();
        s.end_object();
    }
    s.end_list();
}

/// One transform of a proposal, with its attributes.
fn visit_transform<S: FieldSink + ?Sized>(t: &Transform, s: &mut S) {
    s.begin_object("");
    s.u64("type", t.transform_type.into());
    s.name("type_name", registry::transform_type_name(t.transform_type));
    s.u64("id", t.transform_id.into());
    s.name(
        "id_name",
        registry::transform_id_name(t.transform_type, t.transform_id),
    );
    s.begin_list("attributes");
    for a in &t.attributes {
        s.begin_object("");
        s.u64("type", a.attr_type.into());
        s.name("name", registry::transform_attribute_name(a.attr_type));
        match &a.value {
            AttributeValue::Tv(v) => {
                s.str("format", "TV");
                s.u64("value", (*v).into());
            }
            AttributeValue::Tlv(d) => {
                s.str("format", "TLV");
                s.hex("value", d);
            }
        }
        s.end_object();
    }
    s.end_list();
    s.end_object();
}

fn delete_fields<S: FieldSink + ?Sized>(d: &Delete, s: &mut S) {
    s.u64("protocol_id", d.protocol_id.into());
    s.name("protocol", registry::protocol_name(d.protocol_id));
    s.u64("spi_size", d.spi_size.into());
    s.u64("num_spis", d.num_spis.into());
    s.begin_list("spis");
    for spi in d.spis() {
        s.hex("", spi);
    }
    s.end_list();
}

fn cp_fields<S: FieldSink + ?Sized>(cp: &Cp, s: &mut S) {
    s.u64("cfg_type", cp.cfg_type.into());
    s.name("cfg_type_name", registry::cfg_type_name(cp.cfg_type));
    s.begin_list("attributes");
    for a in &cp.attributes {
        s.begin_object("");
        s.u64("type", a.attr_type.into());
        s.name("name", registry::cfg_attribute_name(a.attr_type));
        s.u64("length", a.value.len() as u64);
        s.hex("value", &a.value);
        cfg_extra(a.attr_type, &a.value, s);
        s.end_object();
    }
    s.end_list();
}

fn eap_fields<S: FieldSink + ?Sized>(e: &Eap, s: &mut S) {
    s.u64("code", e.code.into());
    s.name("code_name", registry::eap_code_name(e.code));
    s.u64("identifier", e.identifier.into());
    match e.eap_type {
        Some(t) => s.u64("eap_type", t.into()),
        None => s.null("eap_type"),
    }
    s.name("eap_type_name", e.eap_type.and_then(eap_type_name));
    s.hex("data", &e.data);
}

/// One payload object (see the module documentation for keys).
pub fn payload_json(p: &Payload) -> Value {
    ValueSink::value(|s| visit_payload("", p, None, s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Delete, Eap, Id, Notify, Sk, Skf, Ts};
    use serde_json::json;
    use std::borrow::Cow;

    fn pj(t: u8, body: PayloadBody<'static>) -> Value {
        payload_json(&Payload::new(t, body))
    }

    #[test]
    fn addr_displays_like_std() {
        for a in [
            [0, 0, 0, 0],
            [255, 255, 255, 255],
            [10, 0, 9, 100],
            [1, 20, 199, 7],
        ] {
            let ip = std::net::IpAddr::from(a);
            assert_eq!(Addr(ip).to_string(), ip.to_string());
        }
        for v in 0..=255u8 {
            let ip = std::net::IpAddr::from([v, 255 - v, v / 3, v.wrapping_mul(7)]);
            assert_eq!(Addr(ip).to_string(), ip.to_string());
        }
        let v6: std::net::IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(Addr(v6).to_string(), "2001:db8::1");
        assert_eq!(format!("{:>9}", Addr([1, 2, 3, 4].into())), "  1.2.3.4");
    }

    #[test]
    fn header_keys() {
        let h = Header {
            spi_i: 0xade3_a663_cde3_f4e0,
            spi_r: 1,
            next_payload: 46,
            version: 0x20,
            exchange_type: 37,
            flags: 0x28,
            message_id: 3,
            length: 80,
        };
        let v = header_json(&h);
        assert_eq!(v["spi_i"], "ade3a663cde3f4e0");
        assert_eq!(v["spi_r"], "0000000000000001");
        assert_eq!(v["exchange"], "INFORMATIONAL");
        assert_eq!(v["exchange_type"], 37);
        assert_eq!(v["initiator"], true);
        assert_eq!(v["response"], true);
        assert_eq!(v["version"], "2.0");
        assert_eq!(v["message_id"], 3);
        let v = header_json(&Header {
            exchange_type: 99,
            ..h
        });
        assert_eq!(v["exchange"], "99");
    }

    #[test]
    fn notify_keys() {
        let v = pj(
            41,
            PayloadBody::Notify(Notify::new(
                16397,
                NotifyData::AdditionalIp4(Ipv4Addr::new(192, 0, 2, 10)),
            )),
        );
        assert_eq!(v["type"], 41);
        assert_eq!(v["name"], "N");
        assert_eq!(v["critical"], false);
        assert_eq!(v["notify_type"], 16397);
        assert_eq!(v["notify"], "ADDITIONAL_IP4_ADDRESS");
        assert_eq!(v["address"], "192.0.2.10");
        let v = pj(
            41,
            PayloadBody::Notify(Notify::new(
                16401,
                NotifyData::Cookie2(Cow::Owned(vec![0xab; 8])),
            )),
        );
        assert_eq!(v["cookie"], "abababababababab");
        let v = pj(
            41,
            PayloadBody::Notify(Notify::new(16388, NotifyData::NatDetection([1; 20]))),
        );
        assert_eq!(v["hash"], "0101010101010101010101010101010101010101");
        let v = pj(
            41,
            PayloadBody::Notify(Notify::new(
                16402,
                NotifyData::NoNatsAllowed {
                    src: "10.0.0.1".parse().unwrap(),
                    dst: "10.0.0.2".parse().unwrap(),
                    src_port: 4500,
                    dst_port: 500,
                },
            )),
        );
        assert_eq!(v["src_address"], "10.0.0.1");
        assert_eq!(v["dst_port"], 500);
        let v = pj(
            41,
            PayloadBody::Notify(Notify::new(
                16397,
                NotifyData::Malformed {
                    offset: 44,
                    expected: "4 bytes (IPv4 address)",
                    raw: Cow::Owned(vec![1, 2, 3]),
                },
            )),
        );
        assert_eq!(
            v["malformed"],
            "offset 44: expected 4 bytes (IPv4 address), got 3 byte(s)"
        );
        assert_eq!(v["data"], "010203");
    }

    #[test]
    fn other_payload_keys() {
        let v = pj(
            35,
            PayloadBody::Id(Id {
                id_type: 2,
                reserved: [0; 3],
                data: Cow::Borrowed(b"moon.strongswan.org"),
            }),
        );
        assert_eq!(v["name"], "IDi");
        assert_eq!(v["id"], "moon.strongswan.org");
        assert_eq!(v["id_type_name"], "ID_FQDN");
        let v = pj(
            46,
            PayloadBody::Sk(Sk {
                next_payload: 41,
                data: Cow::Owned(vec![0; 48]),
            }),
        );
        assert_eq!(
            (v["next_payload"].clone(), v["length"].clone()),
            (json!(41), json!(48))
        );
        let v = pj(
            53,
            PayloadBody::Skf(Skf {
                next_payload: 0,
                fragment_number: 2,
                total_fragments: 3,
                data: Cow::Owned(vec![0; 4]),
            }),
        );
        assert_eq!(v["fragment_number"], 2);
        assert_eq!(v["total_fragments"], 3);
        let v = pj(
            42,
            PayloadBody::Delete(Delete::new(3, 4, &[&[0xc1, 0xb2, 0xa3, 0x94]])),
        );
        assert_eq!(v["spis"], json!(["c1b2a394"]));
        assert_eq!(v["protocol"], "ESP");
        let v = pj(
            44,
            PayloadBody::Ts(Ts::new(vec![TrafficSelector::Ipv4 {
                ip_protocol: 0,
                start_port: 0,
                end_port: 65535,
                start: Ipv4Addr::new(10, 1, 0, 0),
                end: Ipv4Addr::new(10, 1, 255, 255),
            }])),
        );
        assert_eq!(v["name"], "TSi");
        assert_eq!(v["selectors"][0]["start_address"], "10.1.0.0");
        assert_eq!(v["selectors"][0]["end_port"], 65535);
        let v = pj(
            48,
            PayloadBody::Eap(Eap {
                code: 3,
                identifier: 1,
                eap_type: None,
                data: Cow::Borrowed(&[]),
            }),
        );
        assert_eq!(v["code_name"], "Success");
        assert_eq!(v["eap_type"], Value::Null);
        let v = pj(
            47,
            PayloadBody::Cp(crate::wire::Cp {
                cfg_type: 2,
                reserved: [0; 3],
                attributes: vec![crate::wire::CfgAttribute::new(
                    1,
                    Cow::Borrowed(&[10, 3, 0, 1]),
                )],
            }),
        );
        assert_eq!(v["attributes"][0]["address"], "10.3.0.1");
        assert_eq!(v["attributes"][0]["value"], "0a030001");
        let v = pj(222, PayloadBody::Unknown(Cow::Borrowed(&[0xff])));
        assert_eq!(v["name"], Value::Null);
        assert_eq!(v["data"], "ff");
    }
}
