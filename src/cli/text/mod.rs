//! Text output: one header line per IKE message, then an indented tree of its payloads.
//!
//! The text shows the JSON description of a message ([`crate::dissect`]) for people:
//! scalars go on the payload's line as `key=value`, a number with a registry name is shown by
//! its name, empty values, byte offsets and numbers a name already says are left out, and
//! nested lists of objects (proposals, transforms, selectors, inner payloads) go on indented
//! lines below. [`described`] derives exactly that layout from the description itself, but
//! it has to collect each record first, which made text the slowest output. So the lines are
//! written here straight from the typed payloads, and the tests hold them byte for byte to
//! what [`described`] makes of the JSON description of every message in testdata: the text
//! and the JSON cannot drift apart.
use std::io::{self, Write};
use std::net::IpAddr;

use super::decode::{endpoint, rfc3339_micros, transport_name, Rfc3339Micros};
use crate::capture::IkePacket;
use crate::dissect::{self, CfgValueShown, DecryptionView};
use crate::wire::{
    registry, AttributeValue, Header, Message, NotifyData, Payload, PayloadBody, TrafficSelector,
};

#[cfg(test)]
pub(crate) mod described;

/// Writes one decoded message: the header line, then each payload (with the decryption
/// result added to the SK/SKF payload at the index `decryption` names). Returns how many
/// notifies carry malformed data (outer and decrypted).
pub fn render_message(
    pkt: &IkePacket,
    msg: &Message,
    data: &[u8],
    decryption: Option<(usize, &DecryptionView<'_, '_>)>,
    hex_dump: bool,
    out: &mut Vec<u8>,
) -> u64 {
    header_line(pkt, &msg.header, out);
    let spans = if hex_dump {
        payload_spans(msg, data.len())
    } else {
        Vec::new()
    };
    let mut malformed = 0;
    for (i, p) in msg.payloads.iter().enumerate() {
        let d = decryption.and_then(|(at, d)| (at == i).then_some(d));
        malformed += payload(p, d, 1, out);
        if hex_dump {
            if let Some(bytes) = spans.get(i).and_then(|&(start, end)| data.get(start..end)) {
                hex_lines(bytes, 3, out);
            }
        }
    }
    malformed
}

/// `frame 3 2026-11-23T10:11:28.497901Z 192.0.2.10:4500 -> 203.0.113.1:4500 udp-encap
/// IKE_AUTH mid=1 initiator request spi_i=... spi_r=...`
fn header_line(pkt: &IkePacket, h: &Header, out: &mut Vec<u8>) {
    out.extend_from_slice(b"frame ");
    push_num(out, pkt.frame);
    out.push(b' ');
    Rfc3339Micros(pkt.time_us).push_to(out);
    out.push(b' ');
    push_endpoint(out, pkt.src, pkt.sport);
    out.extend_from_slice(b" -> ");
    push_endpoint(out, pkt.dst, pkt.dport);
    out.push(b' ');
    out.extend_from_slice(transport_name(pkt.transport).as_bytes());
    out.push(b' ');
    match registry::exchange_name(h.exchange_type) {
        Some(name) => out.extend_from_slice(name.as_bytes()),
        None => push_num(out, h.exchange_type.into()),
    }
    out.extend_from_slice(b" mid=");
    push_num(out, h.message_id.into());
    out.extend_from_slice(if h.is_initiator() {
        b" initiator"
    } else {
        b" responder"
    });
    out.extend_from_slice(if h.is_response() {
        b" response"
    } else {
        b" request"
    });
    out.extend_from_slice(b" spi_i=");
    dissect::push_hex(out, &h.spi_i.to_be_bytes());
    out.extend_from_slice(b" spi_r=");
    dissect::push_hex(out, &h.spi_r.to_be_bytes());
    out.push(b'\n');
}

fn push_num(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

fn push_addr(out: &mut Vec<u8>, a: IpAddr) {
    match a {
        IpAddr::V4(a) => {
            let (buf, n) = dissect::ipv4_text(a);
            out.extend_from_slice(&buf[..n]);
        }
        IpAddr::V6(a) => {
            let _ = write!(out, "{a}");
        }
    }
}

fn push_endpoint(out: &mut Vec<u8>, a: IpAddr, port: u16) {
    if a.is_ipv6() {
        out.push(b'[');
        push_addr(out, a);
        out.push(b']');
    } else {
        push_addr(out, a);
    }
    out.push(b':');
    push_num(out, port.into());
}

fn indent(depth: usize, out: &mut Vec<u8>) {
    out.resize(out.len() + 2 * depth, b' ');
}

/// One line of `key=value` fields, separated by spaces.
struct Line<'o> {
    out: &'o mut Vec<u8>,
    /// Where the line's text starts (after the indentation).
    start: usize,
}

impl<'o> Line<'o> {
    fn new(depth: usize, out: &'o mut Vec<u8>) -> Self {
        indent(depth, out);
        let start = out.len();
        Line { out, start }
    }

    fn key(&mut self, key: &str) -> &mut Vec<u8> {
        if self.out.len() > self.start {
            self.out.push(b' ');
        }
        self.out.extend_from_slice(key.as_bytes());
        self.out.push(b'=');
        self.out
    }

    fn num(&mut self, key: &str, v: impl Into<u64>) {
        push_num(self.key(key), v.into());
    }

    /// Left out when empty.
    fn str(&mut self, key: &str, v: &str) {
        if !v.is_empty() {
            self.key(key).extend_from_slice(v.as_bytes());
        }
    }

    /// Left out when empty.
    fn hex(&mut self, key: &str, v: &[u8]) {
        if !v.is_empty() {
            dissect::push_hex(self.key(key), v);
        }
    }

    fn addr(&mut self, key: &str, a: IpAddr) {
        push_addr(self.key(key), a);
    }

    /// A registry number, shown by its name when the registry knows it.
    fn named(&mut self, key: &str, v: impl Into<u64>, name: Option<&str>) {
        match name {
            Some(n) => {
                let out = self.key(key);
                push_plain_or_quotes(out, n);
            }
            None => self.num(key, v),
        }
    }

    /// `protocol=ESP`, or the number when it has no name (and nothing for 0, none).
    fn protocol(&mut self, id: u8) {
        match registry::protocol_name(id) {
            Some(name) => self.str("protocol", name),
            None if id != 0 => self.num("protocol_id", id),
            None => {}
        }
    }

    /// `key=[a, b]`; left out when empty.
    fn list<T>(&mut self, key: &str, items: &[T], mut item: impl FnMut(&mut Vec<u8>, &T)) {
        if items.is_empty() {
            return;
        }
        let out = self.key(key);
        out.push(b'[');
        for (i, v) in items.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(b", ");
            }
            item(out, v);
        }
        out.push(b']');
    }

    fn end(self) {
        self.out.push(b'\n');
    }
}

/// A string inside a list or attribute: `""` when empty (so it is still seen).
fn push_plain_or_quotes(out: &mut Vec<u8>, s: &str) {
    if s.is_empty() {
        out.extend_from_slice(b"\"\"");
    } else {
        out.extend_from_slice(s.as_bytes());
    }
}

fn push_hex_or_quotes(out: &mut Vec<u8>, v: &[u8]) {
    if v.is_empty() {
        out.extend_from_slice(b"\"\"");
    } else {
        dissect::push_hex(out, v);
    }
}

/// The `key:` line that opens a list shown below its object.
fn below(key: &str, depth: usize, out: &mut Vec<u8>) {
    indent(depth, out);
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b":\n");
}

/// Writes payload `p` at `depth` (with its decryption result, for SK/SKF); returns how many
/// notifies in it carry malformed data.
fn payload(
    p: &Payload,
    d: Option<&DecryptionView<'_, '_>>,
    depth: usize,
    out: &mut Vec<u8>,
) -> u64 {
    let mut line = Line::new(depth, out);
    payload_title(p, line.out);
    match &p.body {
        PayloadBody::Sa(sa) => {
            line.end();
            sa_lines(sa, depth, out);
            0
        }
        PayloadBody::Ts(ts) => {
            line.end();
            ts_lines(ts, depth, out);
            0
        }
        PayloadBody::Sk(sk) => {
            line.named(
                "next_payload",
                sk.next_payload,
                registry::payload_name(sk.next_payload),
            );
            line.num("length", sk.data.len() as u64);
            decryption(line, d, depth)
        }
        PayloadBody::Skf(f) => {
            line.num("fragment_number", f.fragment_number);
            line.num("total_fragments", f.total_fragments);
            line.named(
                "next_payload",
                f.next_payload,
                registry::payload_name(f.next_payload),
            );
            line.num("length", f.data.len() as u64);
            decryption(line, d, depth)
        }
        body => {
            let malformed = one_line_fields(&mut line, body);
            line.end();
            malformed
        }
    }
}

/// The fields of a payload shown on its line alone; returns how many notifies carry
/// malformed data (0 or 1).
fn one_line_fields(line: &mut Line, body: &PayloadBody) -> u64 {
    match body {
        PayloadBody::Ke(ke) => {
            line.named(
                "group",
                ke.dh_group,
                registry::transform_id_name(4, ke.dh_group),
            );
            data_fields(line, &ke.data);
        }
        PayloadBody::Id(id) => {
            line.named("id_type", id.id_type, registry::id_type_name(id.id_type));
            match dissect::id_shown(id.id_type, &id.data) {
                dissect::IdShown::Addr(a) => line.addr("id", a),
                dissect::IdShown::Text(t) => line.str("id", t),
                dissect::IdShown::Hex(h) => line.hex("id", h),
            }
        }
        PayloadBody::Cert(c) | PayloadBody::CertReq(c) => {
            line.named(
                "encoding",
                c.encoding,
                registry::cert_encoding_name(c.encoding),
            );
            data_fields(line, &c.data);
        }
        PayloadBody::Auth(a) => {
            line.named("method", a.method, registry::auth_method_name(a.method));
            line.hex("data", &a.data);
        }
        PayloadBody::Nonce(d) | PayloadBody::VendorId(d) | PayloadBody::Unknown(d) => {
            data_fields(line, d)
        }
        PayloadBody::Notify(n) => {
            line.protocol(n.protocol_id);
            line.hex("spi", &n.spi);
            return notify_fields(line, &n.data);
        }
        PayloadBody::Delete(del) => {
            line.protocol(del.protocol_id);
            line.num("spi_size", del.spi_size);
            line.num("num_spis", del.num_spis);
            let spis: Vec<&[u8]> = del.spis().collect();
            line.list("spis", &spis, |out, spi| push_hex_or_quotes(out, spi));
        }
        PayloadBody::Cp(cp) => {
            line.named(
                "cfg_type",
                cp.cfg_type,
                registry::cfg_type_name(cp.cfg_type),
            );
            line.list("attributes", &cp.attributes, cfg_attribute);
        }
        PayloadBody::Eap(e) => eap_fields(line, e),
        // Written by `payload`, with the lines they have below.
        PayloadBody::Sa(_) | PayloadBody::Ts(_) | PayloadBody::Sk(_) | PayloadBody::Skf(_) => {}
    }
    0
}

fn eap_fields(line: &mut Line, e: &crate::wire::Eap) {
    line.named("code", e.code, registry::eap_code_name(e.code));
    line.num("identifier", e.identifier);
    if let Some(t) = e.eap_type {
        line.named("eap_type", t, dissect::eap_type_name(t));
    }
    line.hex("data", &e.data);
}

/// The `selectors:` lines below a TS payload's line (none when it has no selectors).
fn ts_lines(ts: &crate::wire::Ts, depth: usize, out: &mut Vec<u8>) {
    if ts.selectors.is_empty() {
        return;
    }
    below("selectors", depth + 1, out);
    for sel in &ts.selectors {
        selector(sel, depth + 2, out);
    }
}

/// `N(NAT_DETECTION_SOURCE_IP) critical`: the payload's name, its notify type, criticality.
fn payload_title(p: &Payload, out: &mut Vec<u8>) {
    match registry::payload_name(p.payload_type) {
        Some(name) => out.extend_from_slice(name.as_bytes()),
        None => {
            out.extend_from_slice(b"payload ");
            push_num(out, p.payload_type.into());
        }
    }
    if let PayloadBody::Notify(n) = &p.body {
        out.push(b'(');
        match registry::notify_name(n.notify_type) {
            Some(name) => out.extend_from_slice(name.as_bytes()),
            None => push_num(out, n.notify_type.into()),
        }
        out.push(b')');
    }
    if p.critical() {
        out.extend_from_slice(b" critical");
    }
}

/// An SA payload's proposals and their transforms, below its line.
fn sa_lines(sa: &crate::wire::Sa, depth: usize, out: &mut Vec<u8>) {
    if sa.proposals.is_empty() {
        return;
    }
    below("proposals", depth + 1, out);
    for pr in &sa.proposals {
        let mut line = Line::new(depth + 2, out);
        line.num("number", pr.number);
        line.protocol(pr.protocol_id);
        line.hex("spi", &pr.spi);
        line.end();
        if pr.transforms.is_empty() {
            continue;
        }
        below("transforms", depth + 3, out);
        for t in &pr.transforms {
            let mut line = Line::new(depth + 4, out);
            line.named(
                "type",
                t.transform_type,
                registry::transform_type_name(t.transform_type),
            );
            line.named(
                "id",
                t.transform_id,
                registry::transform_id_name(t.transform_type, t.transform_id),
            );
            line.list("attributes", &t.attributes, transform_attribute);
            line.end();
        }
    }
}

/// `Key Length=128`, or every detail of an attribute the registry does not name.
fn transform_attribute(out: &mut Vec<u8>, a: &crate::wire::Attribute) {
    match registry::transform_attribute_name(a.attr_type) {
        Some(name) => {
            out.extend_from_slice(name.as_bytes());
            out.push(b'=');
            match &a.value {
                AttributeValue::Tv(v) => push_num(out, (*v).into()),
                AttributeValue::Tlv(v) => dissect::push_hex(out, v),
            }
        }
        None => {
            out.extend_from_slice(b"type=");
            push_num(out, a.attr_type.into());
            out.extend_from_slice(b" name=- format=");
            match &a.value {
                AttributeValue::Tv(v) => {
                    out.extend_from_slice(b"TV value=");
                    push_num(out, (*v).into());
                }
                AttributeValue::Tlv(v) => {
                    out.extend_from_slice(b"TLV value=");
                    push_hex_or_quotes(out, v);
                }
            }
        }
    }
}

/// `INTERNAL_IP4_ADDRESS=10.1.0.1`, or every detail of an attribute the registry does not
/// name.
fn cfg_attribute(out: &mut Vec<u8>, a: &crate::wire::CfgAttribute) {
    let shown = dissect::cfg_value_shown(a.attr_type, &a.value);
    match registry::cfg_attribute_name(a.attr_type) {
        Some(name) => {
            out.extend_from_slice(name.as_bytes());
            out.push(b'=');
            match shown {
                Some(shown) => push_cfg_shown(out, &shown),
                None => dissect::push_hex(out, &a.value),
            }
        }
        None => {
            out.extend_from_slice(b"type=");
            push_num(out, a.attr_type.into());
            out.extend_from_slice(b" name=- length=");
            push_num(out, a.value.len() as u64);
            out.extend_from_slice(b" value=");
            push_hex_or_quotes(out, &a.value);
            if let Some(shown) = shown {
                out.push(b' ');
                out.extend_from_slice(shown.key().as_bytes());
                out.push(b'=');
                push_cfg_shown(out, &shown);
            }
        }
    }
}

fn push_cfg_shown(out: &mut Vec<u8>, shown: &CfgValueShown) {
    match shown {
        CfgValueShown::Ip4(a) => push_addr(out, (*a).into()),
        CfgValueShown::Text(t) => out.extend_from_slice(t.as_bytes()),
        other => {
            let _ = write!(out, "{other}");
        }
    }
}

fn data_fields(line: &mut Line, d: &[u8]) {
    line.num("data_length", d.len() as u64);
    line.hex("data", d);
}

/// The SK/SKF line's decryption fields, the line's end, and the decrypted payloads below it.
fn decryption(mut line: Line, d: Option<&DecryptionView<'_, '_>>, depth: usize) -> u64 {
    let Some(d) = d else {
        line.end();
        return 0;
    };
    line.str("integrity", d.integrity);
    if let Some(e) = d.error {
        line.str("decrypt_error", e);
    }
    if let Some(frames) = d.fragments {
        line.list("fragments", frames, |out, f| push_num(out, *f));
    }
    let out = line.out;
    out.push(b'\n');
    let mut malformed = 0;
    if let Some(inner) = d.payloads.filter(|p| !p.is_empty()) {
        below("payloads", depth + 1, out);
        for p in inner {
            malformed += payload(p, None, depth + 2, out);
        }
    }
    malformed
}

/// The notify's data fields; returns 1 when the data is malformed.
fn notify_fields(line: &mut Line, d: &NotifyData) -> u64 {
    match d {
        NotifyData::Empty => {}
        NotifyData::Raw(b) => line.hex("data", b),
        NotifyData::AdditionalIp4(a) => line.addr("address", (*a).into()),
        NotifyData::AdditionalIp6(a) => line.addr("address", (*a).into()),
        NotifyData::Cookie(c) | NotifyData::Cookie2(c) => line.hex("cookie", c),
        NotifyData::NoNatsAllowed {
            src,
            dst,
            src_port,
            dst_port,
        } => {
            line.addr("src_address", *src);
            line.addr("dst_address", *dst);
            line.num("src_port", *src_port);
            line.num("dst_port", *dst_port);
        }
        NotifyData::NatDetection(h) => line.hex("hash", h),
        NotifyData::SignatureHashAlgorithms(v) => {
            line.list("algorithms", v, |out, a| push_num(out, (*a).into()));
            line.list(
                "algorithm_names",
                v,
                |out, a| match registry::hash_algorithm_name(*a) {
                    Some(name) => push_plain_or_quotes(out, name),
                    None => out.push(b'-'),
                },
            );
        }
        NotifyData::KeGroup(g) => line.named("group", *g, registry::transform_id_name(4, *g)),
        NotifyData::PayloadType(t) => line.num("payload_type", *t),
        NotifyData::WindowSize(v) => line.num("window_size", *v),
        NotifyData::Lifetime(v) => line.num("lifetime", *v),
        NotifyData::IpcompSupported { cpi, transform_id } => {
            line.num("cpi", *cpi);
            if *transform_id != 0 {
                line.num("transform_id", *transform_id);
            }
        }
        NotifyData::Malformed {
            offset,
            expected,
            raw,
        } => {
            let out = line.key("malformed");
            let _ = write!(
                out,
                "offset {offset}: expected {expected}, got {} byte(s)",
                raw.len()
            );
            line.hex("data", raw);
            return 1;
        }
    }
    0
}

fn selector(sel: &TrafficSelector, depth: usize, out: &mut Vec<u8>) {
    let mut line = Line::new(depth, out);
    let t = sel.ts_type();
    line.named("ts_type", t, registry::ts_type_name(t));
    if let Some(r) = sel.address_range() {
        line.num("protocol", r.ip_protocol);
        line.num("start_port", r.start_port);
        line.num("end_port", r.end_port);
        line.addr("start_address", r.start);
        line.addr("end_address", r.end);
    } else if let TrafficSelector::Other { data, .. } = sel {
        line.hex("data", data);
    }
    line.end();
}

/// A message that did not parse: its addresses, the error and the raw bytes.
pub fn render_malformed(pkt: &IkePacket, error: &str, out: &mut dyn Write) -> io::Result<()> {
    let header = match Header::parse(&pkt.data) {
        Ok(h) => format!(
            " {} mid={} {} {} spi_i={:016x} spi_r={:016x}",
            registry::exchange_name(h.exchange_type)
                .map_or_else(|| h.exchange_type.to_string(), str::to_string),
            h.message_id,
            if h.is_initiator() {
                "initiator"
            } else {
                "responder"
            },
            if h.is_response() {
                "response"
            } else {
                "request"
            },
            h.spi_i,
            h.spi_r,
        ),
        Err(_) => String::new(),
    };
    writeln!(
        out,
        "frame {} {} {} -> {} {}{header} MALFORMED: {error}",
        pkt.frame,
        rfc3339_micros(pkt.time_us),
        endpoint(pkt.src, pkt.sport),
        endpoint(pkt.dst, pkt.dport),
        transport_name(pkt.transport),
    )?;
    let mut lines = Vec::new();
    hex_lines(&pkt.data, 2, &mut lines);
    out.write_all(&lines)
}

/// The byte range of each payload in the message, from the parsed offsets.
pub(crate) fn payload_spans(msg: &Message, len: usize) -> Vec<(usize, usize)> {
    let end = (msg.header.length as usize)
        .min(len)
        .saturating_sub(msg.trailing.len());
    let starts: Vec<usize> = msg.payloads.iter().map(|p| p.offset).collect();
    starts
        .iter()
        .enumerate()
        .map(|(i, &s)| (s, starts.get(i + 1).copied().unwrap_or(end).max(s)))
        .collect()
}

/// `0010  10 11 12 13`: sixteen bytes a line with their offset.
fn hex_lines(bytes: &[u8], depth: usize, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, chunk) in bytes.chunks(16).enumerate() {
        indent(depth, out);
        let _ = write!(out, "{:04x} ", i * 16);
        for &b in chunk {
            out.push(b' ');
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        }
        out.push(b'\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_dump_has_offsets() {
        let mut out = Vec::new();
        hex_lines(&(0u8..20).collect::<Vec<_>>(), 1, &mut out);
        let s = String::from_utf8(out).unwrap();
        assert!(s.starts_with("  0000  00 01 02"), "{s}");
        assert!(s.contains("\n  0010  10 11 12 13\n"), "{s}");
    }
}
