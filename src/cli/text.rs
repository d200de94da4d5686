//! Text output: one header line per IKE message, then an indented tree of its payloads.
//!
//! The tree is rendered from the same description the JSON output prints (the record's
//! fields as [`crate::dissect`] sends them to a [`FieldSink`]), so both always show the same
//! decoded values: scalars go on the payload's line as `key=value`, nested lists of objects
//! (proposals, transforms, selectors, inner payloads) go on indented lines below. A record is
//! first collected into a [`TextTree`], a flat arena reused from message to message, because
//! a line can depend on fields that come after it (`type` is shown by its `type_name`).
use std::fmt::{self, Write as _};
use std::io::{self, Write};
use std::net::IpAddr;

use super::decode::{endpoint, rfc3339_micros, transport_name};
use crate::capture::IkePacket;
use crate::dissect::{write_json_str, FieldSink};
use crate::wire::{registry, Header, Message};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Val {
    Null,
    Bool(bool),
    Num(u64),
    /// A byte range of [`TextTree::text`].
    Str(u32, u32),
    List,
    Object,
}

#[derive(Debug, Clone, Copy)]
struct Node {
    /// A byte range of [`TextTree::text`].
    key: (u32, u32),
    /// [`key_hash`] of the key: sibling lookups compare this before the key itself.
    hash: u32,
    val: Val,
    /// One past the last node of this node's subtree (nodes are in pre-order).
    end: u32,
}

/// One record as a tree: the [`FieldSink`] the text output collects a message into.
#[derive(Debug, Default)]
pub struct TextTree {
    nodes: Vec<Node>,
    text: String,
    /// Open containers.
    stack: Vec<u32>,
}

impl TextTree {
    /// Empties the tree for the next record (keeping its capacity).
    pub fn clear(&mut self) {
        self.nodes.clear();
        self.text.clear();
        self.stack.clear();
    }

    fn span(&mut self, f: impl FnOnce(&mut String)) -> (u32, u32) {
        let start = self.text.len();
        f(&mut self.text);
        (start as u32, self.text.len() as u32)
    }

    fn push(&mut self, key: &str, val: Val) {
        let hash = key_hash(FNV_START, key);
        let key = self.span(|t| t.push_str(key));
        let end = self.nodes.len() as u32 + 1;
        self.nodes.push(Node {
            key,
            hash,
            val,
            end,
        });
    }

    fn open(&mut self, key: &str, val: Val) {
        let at = self.nodes.len() as u32;
        self.push(key, val);
        self.stack.push(at);
    }

    fn close(&mut self) {
        if let Some(at) = self.stack.pop() {
            let end = self.nodes.len() as u32;
            self.nodes[at as usize].end = end;
        }
    }

    fn range(&self, (a, b): (u32, u32)) -> &str {
        self.text.get(a as usize..b as usize).unwrap_or("")
    }

    fn key(&self, n: usize) -> &str {
        self.range(self.nodes[n].key)
    }

    fn val(&self, n: usize) -> Val {
        self.nodes[n].val
    }

    fn as_str(&self, n: usize) -> Option<&str> {
        match self.val(n) {
            Val::Str(a, b) => Some(self.range((a, b))),
            _ => None,
        }
    }

    /// The direct children of container `n`.
    fn children(&self, n: usize) -> Children<'_> {
        Children {
            tree: self,
            next: n + 1,
            end: self.nodes[n].end as usize,
        }
    }

    /// The child of object `n` named `key`.
    fn get(&self, n: usize, key: &str) -> Option<usize> {
        let hash = key_hash(FNV_START, key);
        self.children(n)
            .find(|&c| self.nodes[c].hash == hash && self.key(c) == key)
    }

    /// The sibling of `c` (a child of object `n`) named like `c` followed by `suffix`.
    fn get_suffixed(&self, n: usize, c: usize, suffix: &str) -> Option<usize> {
        let key = self.key(c);
        let hash = key_hash(self.nodes[c].hash, suffix);
        self.children(n).find(|&s| {
            let k = self.key(s);
            self.nodes[s].hash == hash
                && k.len() == key.len() + suffix.len()
                && k.starts_with(key)
                && k.ends_with(suffix)
        })
    }
}

const FNV_START: u32 = 0x811c_9dc5;

/// FNV-1a of `key`, continuing from `state` (so the hash of `a + b` is
/// `key_hash(key_hash(FNV_START, a), b)`).
const fn key_hash(state: u32, key: &str) -> u32 {
    let bytes = key.as_bytes();
    let mut h = state;
    let mut i = 0;
    while i < bytes.len() {
        h = (h ^ bytes[i] as u32).wrapping_mul(0x0100_0193);
        i += 1;
    }
    h
}

/// A key with its hash computed at compile time.
#[derive(Clone, Copy)]
struct Key(&'static str, u32);

macro_rules! key {
    ($k:literal) => {
        Key($k, key_hash(FNV_START, $k))
    };
}

/// Keys that the payload's head already shows in another form.
const HEAD_KEYS: [Key; 5] = [
    key!("type"),
    key!("name"),
    key!("critical"),
    key!("notify_type"),
    key!("notify"),
];

impl TextTree {
    /// The first child of object `n` named like each of `keys`, in one pass.
    fn find<const N: usize>(&self, n: usize, keys: [Key; N]) -> [Option<usize>; N] {
        let mut found = [None; N];
        for c in self.children(n) {
            let hash = self.nodes[c].hash;
            for (slot, key) in found.iter_mut().zip(keys) {
                if slot.is_none() && hash == key.1 && self.key(c) == key.0 {
                    *slot = Some(c);
                }
            }
        }
        found
    }
}

struct Children<'t> {
    tree: &'t TextTree,
    next: usize,
    end: usize,
}

impl Iterator for Children<'_> {
    type Item = usize;
    fn next(&mut self) -> Option<usize> {
        (self.next < self.end).then(|| {
            let n = self.next;
            self.next = self.tree.nodes[n].end as usize;
            n
        })
    }
}

impl FieldSink for TextTree {
    fn null(&mut self, key: &str) {
        self.push(key, Val::Null);
    }
    fn bool(&mut self, key: &str, v: bool) {
        self.push(key, Val::Bool(v));
    }
    fn u64(&mut self, key: &str, v: u64) {
        self.push(key, Val::Num(v));
    }
    fn str(&mut self, key: &str, v: &str) {
        let (a, b) = self.span(|t| t.push_str(v));
        self.push(key, Val::Str(a, b));
    }
    fn hex(&mut self, key: &str, v: &[u8]) {
        let (a, b) = self.span(|t| {
            t.reserve(v.len() * 2);
            let mut buf = [0u8; 128];
            for chunk in v.chunks(64) {
                let digits = &mut buf[..chunk.len() * 2];
                if hex::encode_to_slice(chunk, digits).is_ok() {
                    t.push_str(std::str::from_utf8(digits).unwrap_or(""));
                }
            }
        });
        self.push(key, Val::Str(a, b));
    }
    fn display(&mut self, key: &str, v: &dyn fmt::Display) {
        let (a, b) = self.span(|t| {
            let _ = write!(t, "{v}");
        });
        self.push(key, Val::Str(a, b));
    }
    fn begin_object(&mut self, key: &str) {
        self.open(key, Val::Object);
    }
    fn end_object(&mut self) {
        self.close();
    }
    fn begin_list(&mut self, key: &str) {
        self.open(key, Val::List);
    }
    fn end_list(&mut self) {
        self.close();
    }
}

/// Writes one decoded message: `tree` holds its record (one object, as the JSON output
/// prints it).
pub fn render_message(
    tree: &TextTree,
    msg: &Message,
    data: &[u8],
    hex_dump: bool,
    out: &mut Vec<u8>,
) -> io::Result<()> {
    if tree.nodes.is_empty() {
        return Ok(());
    }
    let [frame, time, src, sport, dst, dport, transport, exchange, mid, initiator, response, spi_i, spi_r, payloads] =
        tree.find(
            0,
            [
                key!("frame"),
                key!("time"),
                key!("src"),
                key!("sport"),
                key!("dst"),
                key!("dport"),
                key!("transport"),
                key!("exchange"),
                key!("message_id"),
                key!("initiator"),
                key!("response"),
                key!("spi_i"),
                key!("spi_r"),
                key!("payloads"),
            ],
        );
    let field = |f: Option<usize>, out: &mut Vec<u8>| match f {
        Some(n) => json(tree, n, out),
        None => out.extend_from_slice(b"null"),
    };
    let plain_field = |f: Option<usize>, out: &mut Vec<u8>| match f {
        Some(n) => plain(tree, n, out),
        None => out.push(b'-'),
    };
    let flag = |f: Option<usize>| f.map(|n| tree.val(n)) == Some(Val::Bool(true));
    out.extend_from_slice(b"frame ");
    field(frame, out);
    out.push(b' ');
    plain_field(time, out);
    out.push(b' ');
    endpoint_of(tree, src, sport, out);
    out.extend_from_slice(b" -> ");
    endpoint_of(tree, dst, dport, out);
    out.push(b' ');
    plain_field(transport, out);
    out.push(b' ');
    plain_field(exchange, out);
    out.extend_from_slice(b" mid=");
    field(mid, out);
    out.extend_from_slice(if flag(initiator) {
        b" initiator"
    } else {
        b" responder"
    });
    out.extend_from_slice(if flag(response) {
        b" response"
    } else {
        b" request"
    });
    out.extend_from_slice(b" spi_i=");
    plain_field(spi_i, out);
    out.extend_from_slice(b" spi_r=");
    plain_field(spi_r, out);
    out.push(b'\n');
    let Some(payloads) = payloads.filter(|&n| tree.val(n) == Val::List) else {
        return Ok(());
    };
    let spans = if hex_dump {
        payload_spans(msg, data.len())
    } else {
        Vec::new()
    };
    let mut shown = Vec::new();
    for (i, payload) in tree.children(payloads).enumerate() {
        if tree.val(payload) == Val::Object {
            render_object(tree, payload, 1, true, &mut shown, out);
            if hex_dump {
                if let Some(bytes) = spans.get(i).and_then(|&(start, end)| data.get(start..end)) {
                    hex_lines(bytes, 3, out)?;
                }
            }
        }
    }
    Ok(())
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
    hex_lines(&pkt.data, 2, out)
}

fn endpoint_of(tree: &TextTree, addr: Option<usize>, port: Option<usize>, out: &mut Vec<u8>) {
    let port = match port.map(|n| tree.val(n)) {
        Some(Val::Num(p)) => p,
        _ => 0,
    };
    let addr = addr.and_then(|n| tree.as_str(n));
    match addr.map(|a| (a, a.parse::<IpAddr>())) {
        // Dotted decimal that parses displays as itself.
        Some((text, Ok(IpAddr::V4(_)))) => {
            out.extend_from_slice(text.as_bytes());
            out.push(b':');
            out.extend_from_slice(itoa::Buffer::new().format(port as u16).as_bytes());
        }
        Some((_, Ok(IpAddr::V6(a)))) => {
            let _ = write!(out, "[{a}]:{}", port as u16);
        }
        _ => {
            let _ = write!(out, "?:{port}");
        }
    }
}

/// The byte range of each payload in the message, from the parsed offsets.
fn payload_spans(msg: &Message, len: usize) -> Vec<(usize, usize)> {
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

fn indent(depth: usize, out: &mut Vec<u8>) {
    out.resize(out.len() + 2 * depth, b' ');
}

/// Whether the shown value `v` goes on lines of its own below its object's line.
fn goes_below(tree: &TextTree, v: usize) -> bool {
    match tree.val(v) {
        Val::List => tree.children(v).any(|item| is_nested(tree, item)),
        Val::Object => true,
        _ => false,
    }
}

/// Renders object `obj` at `depth`: its line (for a payload, after the payload's head), then
/// the values that go below it. `shown` is scratch space, kept by the caller between calls.
fn render_object(
    tree: &TextTree,
    obj: usize,
    depth: usize,
    payload: bool,
    shown: &mut Vec<(usize, usize, bool)>,
    out: &mut Vec<u8>,
) {
    indent(depth, out);
    let line_start = out.len();
    if payload {
        payload_head(tree, obj, out);
    }
    // (field, the value shown for it, whether that goes below): this object's entries are
    // shown[mine..].
    let mine = shown.len();
    for c in tree.children(obj) {
        if payload
            && HEAD_KEYS
                .iter()
                .any(|k| tree.nodes[c].hash == k.1 && tree.key(c) == k.0)
        {
            continue;
        }
        if let Some(v) = shown_value(tree, obj, c) {
            shown.push((c, v, goes_below(tree, v)));
        }
    }
    for &(c, v, below) in &shown[mine..] {
        if below {
            continue;
        }
        if out.len() > line_start {
            out.push(b' ');
        }
        out.extend_from_slice(tree.key(c).as_bytes());
        out.push(b'=');
        inline(tree, v, out);
    }
    out.push(b'\n');
    let mut i = mine;
    while i < shown.len() {
        let (c, v, below) = shown[i];
        i += 1;
        if !below {
            continue;
        }
        let key = tree.key(c);
        let inner_payloads = key == "payloads";
        indent(depth + 1, out);
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b":\n");
        match tree.val(v) {
            Val::List => {
                for item in tree.children(v) {
                    if tree.val(item) == Val::Object {
                        render_object(tree, item, depth + 2, inner_payloads, shown, out);
                    } else {
                        indent(depth + 2, out);
                        inline(tree, item, out);
                        out.push(b'\n');
                    }
                }
            }
            Val::Object => render_object(tree, v, depth + 2, false, shown, out),
            _ => {}
        }
    }
    shown.truncate(mine);
}

/// What the text shows for field `c` of `obj`, or `None` to leave it out: empty values and
/// byte offsets are noise here, and a number with a `<key>_name` sibling is shown by its name.
fn shown_value(tree: &TextTree, obj: usize, c: usize) -> Option<usize> {
    let key = tree.key(c);
    let empty = match tree.val(c) {
        Val::Null => true,
        Val::Str(a, b) => a == b,
        Val::List => tree.children(c).next().is_none(),
        _ => false,
    };
    if empty || key == "offset" || key == "error" || key.ends_with("_name") {
        return None;
    }
    // `protocol_id` next to `protocol`: the name says it; 0 (none) says nothing.
    if let Some(base) = key.strip_suffix("_id") {
        let named = tree
            .get(obj, base)
            .is_some_and(|b| tree.val(b) != Val::Null);
        if named || tree.val(c) == Val::Num(0) {
            return None;
        }
    }
    match tree.get_suffixed(obj, c, "_name") {
        Some(name) if matches!(tree.val(name), Val::Str(..)) => Some(name),
        _ => Some(c),
    }
}

/// Objects that get lines of their own; attributes (`name` + `value`) stay inline.
fn is_nested(tree: &TextTree, v: usize) -> bool {
    tree.val(v) == Val::Object && {
        let [name, value] = tree.find(v, [key!("name"), key!("value")]);
        !(name.is_some() && value.is_some())
    }
}

/// `SA`, `N(COOKIE2)`, `N(16500)`, with `critical` when the critical bit is set.
fn payload_head(tree: &TextTree, obj: usize, out: &mut Vec<u8>) {
    let [name, ty, notify, notify_type, critical] = tree.find(
        obj,
        [
            key!("name"),
            key!("type"),
            key!("notify"),
            key!("notify_type"),
            key!("critical"),
        ],
    );
    match (name, ty) {
        (Some(n), _) if tree.as_str(n).is_some() => plain(tree, n, out),
        (_, Some(t)) => {
            out.extend_from_slice(b"payload ");
            json(tree, t, out);
        }
        _ => out.extend_from_slice(b"payload ?"),
    }
    match (notify, notify_type) {
        (Some(n), _) if tree.as_str(n).is_some() => {
            out.push(b'(');
            plain(tree, n, out);
            out.push(b')');
        }
        (_, Some(t)) => {
            out.push(b'(');
            json(tree, t, out);
            out.push(b')');
        }
        _ => {}
    }
    if critical.map(|c| tree.val(c)) == Some(Val::Bool(true)) {
        out.extend_from_slice(b" critical");
    }
}

/// The value as compact JSON (what `serde_json::Value` displays as).
fn json(tree: &TextTree, n: usize, out: &mut Vec<u8>) {
    match tree.val(n) {
        Val::Null => out.extend_from_slice(b"null"),
        Val::Bool(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
        Val::Num(v) => out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes()),
        Val::Str(a, b) => write_json_str(out, tree.range((a, b))),
        Val::List => {
            out.push(b'[');
            for (i, item) in tree.children(n).enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                json(tree, item, out);
            }
            out.push(b']');
        }
        Val::Object => {
            out.push(b'{');
            for (i, item) in tree.children(n).enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json_str(out, tree.key(item));
                out.push(b':');
                json(tree, item, out);
            }
            out.push(b'}');
        }
    }
}

fn plain(tree: &TextTree, n: usize, out: &mut Vec<u8>) {
    match tree.val(n) {
        Val::Str(a, b) => out.extend_from_slice(tree.range((a, b)).as_bytes()),
        Val::Null => out.push(b'-'),
        _ => json(tree, n, out),
    }
}

fn inline(tree: &TextTree, n: usize, out: &mut Vec<u8>) {
    match tree.val(n) {
        Val::Object => match tree.find(
            n,
            [key!("name"), key!("value"), key!("address"), key!("text")],
        ) {
            // A decoded form (CP address or text) reads better than the raw value.
            [Some(name), Some(value), address, text] if tree.as_str(name).is_some() => {
                plain(tree, name, out);
                out.push(b'=');
                let shown = address.or(text).unwrap_or(value);
                plain(tree, shown, out);
            }
            _ => {
                for (i, c) in tree.children(n).enumerate() {
                    if i > 0 {
                        out.push(b' ');
                    }
                    out.extend_from_slice(tree.key(c).as_bytes());
                    out.push(b'=');
                    inline(tree, c, out);
                }
            }
        },
        Val::List => {
            out.push(b'[');
            for (i, item) in tree.children(n).enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                inline(tree, item, out);
            }
            out.push(b']');
        }
        Val::Str(a, b) if a == b => out.extend_from_slice(b"\"\""),
        _ => plain(tree, n, out),
    }
}

fn hex_lines(bytes: &[u8], depth: usize, out: &mut dyn Write) -> io::Result<()> {
    let indent = "  ".repeat(depth);
    for (i, chunk) in bytes.chunks(16).enumerate() {
        let hex = hex::encode(chunk);
        let spaced: Vec<&str> = (0..chunk.len())
            .filter_map(|j| hex.get(2 * j..2 * j + 2))
            .collect();
        writeln!(out, "{indent}{:04x}  {}", i * 16, spaced.join(" "))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::replay_value;
    use serde_json::json;

    fn tree_of(v: &serde_json::Value) -> TextTree {
        let mut tree = TextTree::default();
        replay_value("", v, &mut tree);
        tree
    }

    #[test]
    fn payload_lines_put_scalars_inline_and_lists_below() {
        let p = json!({"type": 41, "name": "N", "critical": false, "notify_type": 16397,
            "notify": "ADDITIONAL_IP4_ADDRESS", "protocol_id": 0, "address": "192.0.2.10"});
        let mut out = Vec::new();
        render_object(&tree_of(&p), 0, 1, true, &mut Vec::new(), &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "  N(ADDITIONAL_IP4_ADDRESS) address=192.0.2.10\n"
        );

        let sa = json!({"type": 33, "name": "SA", "critical": true,
            "offset": 28, "proposals": [{"number": 1, "protocol_id": 1, "protocol": "IKE", "spi": "",
            "transforms": [{"type": 1, "type_name": "ENCR", "id": 12, "id_name": "ENCR_AES_CBC",
            "attributes": [{"type": 14, "name": "Key Length", "format": "TV", "value": 128}]},
            {"type": 4, "type_name": "KE", "id": 99, "id_name": null, "attributes": []}]}]});
        let mut out = Vec::new();
        render_object(&tree_of(&sa), 0, 1, true, &mut Vec::new(), &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "  SA critical\n    proposals:\n      number=1 protocol=IKE\n        transforms:\n          type=ENCR id=ENCR_AES_CBC attributes=[Key Length=128]\n          type=KE id=99\n"
        );
    }

    #[test]
    fn hex_dump_has_offsets() {
        let mut out = Vec::new();
        hex_lines(&(0u8..20).collect::<Vec<_>>(), 1, &mut out).unwrap();
        let s = String::from_utf8(out).unwrap();
        assert!(s.starts_with("  0000  00 01 02"), "{s}");
        assert!(s.contains("\n  0010  10 11 12 13\n"), "{s}");
    }
}
