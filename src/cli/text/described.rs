//! The reference for the text output: the layout derived from the JSON description of a
//! record ([`crate::dissect`]) as a [`FieldSink`] sees it. A record is first collected into a
//! [`TextTree`], because a line can depend on fields that come after it (`type` is shown by its
//! `type_name`), then laid out by generic rules: scalars on the object's line as `key=value`,
//! a number with a `<key>_name` sibling by its name, a `<key>_id` number not when `<key>` names
//! it, empty values, `offset` and `error` left out, lists of objects on lines below.
//! [`super::render_message`] must write exactly this, and the tests here check that it does.
use std::fmt::{self, Write as _};
use std::io::Write;
use std::net::IpAddr;

use crate::dissect::{write_json_str, FieldSink};

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

/// The text of one decoded message from its record in `tree` (one object, as the JSON output
/// prints it).
pub fn render_described(tree: &TextTree, out: &mut Vec<u8>) {
    if tree.nodes.is_empty() {
        return;
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
        return;
    };
    let mut shown = Vec::new();
    for payload in tree.children(payloads) {
        if tree.val(payload) == Val::Object {
            render_object(tree, payload, 1, true, &mut shown, out);
        }
    }
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

/// Every capture under testdata/, in path order.
pub(crate) fn testdata_captures() -> Vec<std::path::PathBuf> {
    let mut captures = Vec::new();
    let mut dirs = vec![std::path::PathBuf::from("testdata")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path
                .extension()
                .is_some_and(|e| e == "pcap" || e == "pcapng")
            {
                captures.push(path);
            }
        }
    }
    captures.sort();
    captures
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

    /// The text [`super::super::render_message`] writes and the text derived from the JSON
    /// description, for one message.
    fn both(
        pkt: &crate::capture::IkePacket,
        msg: &crate::wire::Message,
        data: &[u8],
        decryption: Option<(usize, &crate::dissect::DecryptionView<'_, '_>)>,
    ) -> (String, String) {
        let mut typed = Vec::new();
        super::super::render_message(pkt, msg, data, decryption, false, &mut typed);
        let mut tree = TextTree::default();
        crate::cli::decode::visit_record(pkt, msg, decryption, &mut tree);
        let mut described = Vec::new();
        render_described(&tree, &mut described);
        (
            String::from_utf8(typed).unwrap(),
            String::from_utf8(described).unwrap(),
        )
    }

    /// Every key file next to `capture` (Wireshark tables and charon logs).
    fn keys_for(capture: &std::path::Path) -> crate::keys::KeyStore {
        let mut keys = crate::keys::KeyStore::new();
        for entry in std::fs::read_dir(capture.parent().unwrap()).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name == "ikev2_decryption_table" || name.ends_with("charon.log") {
                keys.add_file(&path).unwrap();
            }
        }
        keys
    }

    /// Every IKE message in testdata, decrypted with every key file there: the typed text is
    /// the text of the JSON description, byte for byte.
    #[test]
    fn text_is_the_described_text_for_every_testdata_message() {
        use crate::capture::{CaptureEvent, CaptureOptions, CaptureReader};
        use crate::cli::decode::inner_payloads;
        use crate::decrypt::{Decryptor, FragmentLimits};
        use crate::wire::Message;

        let (mut messages, mut decrypted) = (0, 0);
        for capture in testdata_captures() {
            let mut decryptor = Decryptor::new(keys_for(&capture), FragmentLimits::default());
            let Ok(reader) = CaptureReader::open_file(&capture, &CaptureOptions::default()) else {
                continue;
            };
            for event in reader {
                let CaptureEvent::Ike(pkt) = event else {
                    continue;
                };
                let Ok(msg) = Message::parse(&pkt.data) else {
                    continue;
                };
                let opened = decryptor.open(&msg, &pkt.data, pkt.frame, pkt.time_us);
                let inner = opened.as_ref().map(|o| inner_payloads(&msg, o));
                let view = opened
                    .as_ref()
                    .zip(inner.as_ref())
                    .map(|(o, i)| (o.payload_index, i.view(o)));
                let decryption = view.as_ref().map(|(at, v)| (*at, v));
                decrypted += usize::from(decryption.is_some_and(|(_, v)| v.payloads.is_some()));
                let (typed, described) = both(&pkt, &msg, &pkt.data, decryption);
                assert_eq!(
                    typed,
                    described,
                    "{} frame {}",
                    capture.display(),
                    pkt.frame
                );
                messages += 1;
            }
        }
        assert!(messages > 250, "{messages} messages");
        assert!(decrypted > 100, "{decrypted} decrypted");
    }

    /// Mutated messages and mutated decrypted payload chains reach the rare forms (unknown
    /// types and names, malformed notify data, empty values, odd selectors): the typed text
    /// still is the described text.
    #[test]
    fn text_is_the_described_text_for_mutated_messages() {
        use crate::capture::{CaptureEvent, CaptureOptions, CaptureReader};
        use crate::dissect::DecryptionView;
        use crate::wire::{parse_payload_chain, Message, PayloadBody};

        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut samples = Vec::new();
        for capture in testdata_captures() {
            let Ok(reader) = CaptureReader::open_file(&capture, &CaptureOptions::default()) else {
                continue;
            };
            samples.extend(reader.filter_map(|e| match e {
                CaptureEvent::Ike(p) => Some(p),
                _ => None,
            }));
        }
        let (mut parsed, mut chains) = (0, 0);
        // How often the rare forms were reached.
        let mut rare = [0usize; 5];
        let mut count_rare = |text: &str| {
            let forms = [
                "malformed=",
                "\n  payload ",
                "name=-",
                "protocol_id=",
                "EAP",
            ];
            for (n, form) in rare.iter_mut().zip(forms) {
                *n += usize::from(text.contains(form));
            }
        };
        for pkt in &samples {
            for _ in 0..40 {
                let mut data = pkt.data.clone();
                for _ in 0..1 + next() % 4 {
                    let at = 28 + (next() as usize) % data.len().saturating_sub(28).max(1);
                    if let Some(b) = data.get_mut(at) {
                        *b = next() as u8;
                    }
                }
                if let Ok(msg) = Message::parse(&data) {
                    let (typed, described) = both(pkt, &msg, &data, None);
                    assert_eq!(typed, described, "{data:02x?}");
                    count_rare(&typed);
                    parsed += 1;
                }
                // The same bytes after the header as a decrypted inner chain of an SK payload.
                let first = data.get(16).copied().unwrap_or(0);
                let Some(body) = data.get(28..) else { continue };
                let Ok((inner, _)) = parse_payload_chain(first, body, 0) else {
                    continue;
                };
                let Ok(outer) = Message::parse(&pkt.data) else {
                    continue;
                };
                // Decryption results go to the SK or SKF payload.
                let Some(sk) = outer
                    .payloads
                    .iter()
                    .position(|p| matches!(p.body, PayloadBody::Sk(_) | PayloadBody::Skf(_)))
                else {
                    continue;
                };
                let view = DecryptionView {
                    integrity: "ok",
                    error: Some("after the chain"),
                    payloads: Some(&inner),
                    fragments: Some(&[4, 5]),
                };
                let (typed, described) = both(pkt, &outer, &pkt.data, Some((sk, &view)));
                assert_eq!(typed, described, "{data:02x?}");
                count_rare(&typed);
                chains += 1;
            }
        }
        assert!(parsed > 1000, "{parsed} parsed");
        assert!(chains > 1000, "{chains} chains");
        assert!(rare.iter().all(|&n| n > 0), "rare forms reached: {rare:?}");
    }

    /// A hand-built message with the forms no capture and few mutations have: unknown names
    /// everywhere, empty values inside lists, a critical unknown payload, every notify data
    /// kind.
    #[test]
    fn text_is_the_described_text_for_rare_forms() {
        use crate::wire::notify_type as nt;
        use crate::wire::*;
        use std::borrow::Cow;
        let b = |v: &'static [u8]| Cow::Borrowed(v);
        let mut enc = Transform::new(1, 12);
        enc.attributes.push(Attribute {
            attr_type: 14,
            value: AttributeValue::Tv(256),
        });
        for (attr_type, value) in [
            (99, AttributeValue::Tlv(b(&[1, 2, 3]))),
            (98, AttributeValue::Tlv(b(&[]))),
            (97, AttributeValue::Tv(7)),
        ] {
            enc.attributes.push(Attribute { attr_type, value });
        }
        let sa = Sa::new(vec![
            Proposal {
                last_substruc: 0,
                reserved: 0,
                number: 1,
                protocol_id: 3,
                spi: b(&[0xc1, 0xb2, 0xa3, 0x94]),
                transforms: vec![enc, Transform::new(3, 999), Transform::new(77, 1)],
            },
            Proposal {
                last_substruc: 0,
                reserved: 0,
                number: 2,
                protocol_id: 9,
                spi: b(&[]),
                transforms: vec![],
            },
        ]);
        let n = |t: u16, d: NotifyData<'static>| PayloadBody::Notify(Notify::new(t, d));
        let mut odd_protocol = Notify::new(nt::REKEY_SA, NotifyData::Empty);
        odd_protocol.protocol_id = 7;
        odd_protocol.spi = b(&[1, 2, 3, 4]);
        let mut critical = Payload::new(200, PayloadBody::Unknown(b(&[0xde, 0xad])));
        critical.flags = 0x80;
        let payloads = vec![
            Payload::new(33, PayloadBody::Sa(sa)),
            Payload::new(33, PayloadBody::Sa(Sa::new(vec![]))),
            Payload::new(
                34,
                PayloadBody::Ke(Ke {
                    dh_group: 999,
                    reserved: 0,
                    data: b(&[]),
                }),
            ),
            Payload::new(
                35,
                PayloadBody::Id(Id {
                    id_type: 2,
                    reserved: [0; 3],
                    data: b(b""),
                }),
            ),
            Payload::new(
                36,
                PayloadBody::Id(Id {
                    id_type: 5,
                    reserved: [0; 3],
                    data: b(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
                }),
            ),
            Payload::new(
                36,
                PayloadBody::Id(Id {
                    id_type: 2,
                    reserved: [0; 3],
                    data: b(b"tab\there"),
                }),
            ),
            Payload::new(
                37,
                PayloadBody::Cert(Cert {
                    encoding: 99,
                    data: b(&[0x30, 0x82]),
                }),
            ),
            Payload::new(
                39,
                PayloadBody::Auth(Auth {
                    method: 99,
                    reserved: [0; 3],
                    data: b(&[]),
                }),
            ),
            Payload::new(41, PayloadBody::Notify(odd_protocol)),
            Payload::new(
                41,
                n(
                    nt::NO_NATS_ALLOWED,
                    NotifyData::NoNatsAllowed {
                        src: "2001:db8::1".parse().unwrap(),
                        dst: "192.0.2.1".parse().unwrap(),
                        src_port: 500,
                        dst_port: 0,
                    },
                ),
            ),
            Payload::new(
                41,
                n(
                    nt::SIGNATURE_HASH_ALGORITHMS,
                    NotifyData::SignatureHashAlgorithms(vec![2, 99]),
                ),
            ),
            Payload::new(
                41,
                n(
                    nt::SIGNATURE_HASH_ALGORITHMS,
                    NotifyData::SignatureHashAlgorithms(vec![]),
                ),
            ),
            Payload::new(41, n(nt::INVALID_KE_PAYLOAD, NotifyData::KeGroup(999))),
            Payload::new(
                41,
                n(
                    nt::UNSUPPORTED_CRITICAL_PAYLOAD,
                    NotifyData::PayloadType(47),
                ),
            ),
            Payload::new(41, n(nt::SET_WINDOW_SIZE, NotifyData::WindowSize(0))),
            Payload::new(41, n(nt::AUTH_LIFETIME, NotifyData::Lifetime(3600))),
            Payload::new(
                41,
                n(
                    nt::IPCOMP_SUPPORTED,
                    NotifyData::IpcompSupported {
                        cpi: 0,
                        transform_id: 0,
                    },
                ),
            ),
            Payload::new(41, n(nt::COOKIE, NotifyData::Cookie(b(&[0xcc; 8])))),
            Payload::new(41, n(12345, NotifyData::Raw(b(&[])))),
            Payload::new(
                41,
                n(
                    nt::ADDITIONAL_IP4_ADDRESS,
                    NotifyData::Malformed {
                        offset: 44,
                        expected: "4 bytes (IPv4 address)",
                        raw: b(&[1, 2, 3]),
                    },
                ),
            ),
            Payload::new(42, PayloadBody::Delete(Delete::new(1, 0, &[]))),
            Payload::new(
                42,
                PayloadBody::Delete(Delete::new(3, 4, &[&[1, 2, 3, 4], &[5, 6, 7, 8]])),
            ),
            Payload::new(
                44,
                PayloadBody::Ts(Ts::new(vec![
                    TrafficSelector::Other {
                        ts_type: 10,
                        byte1: 0,
                        data: b(&[9, 9, 9, 9]),
                    },
                    TrafficSelector::Other {
                        ts_type: 99,
                        byte1: 0,
                        data: b(&[]),
                    },
                ])),
            ),
            Payload::new(45, PayloadBody::Ts(Ts::new(vec![]))),
            Payload::new(
                47,
                PayloadBody::Cp(Cp {
                    cfg_type: 9,
                    reserved: [0; 3],
                    attributes: vec![
                        CfgAttribute::new(1, b(&[])),
                        CfgAttribute::new(13, b(&[10, 0, 0, 0, 255, 0, 0, 0])),
                        CfgAttribute::new(
                            8,
                            b(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 64]),
                        ),
                        CfgAttribute::new(
                            10,
                            b(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
                        ),
                        CfgAttribute::new(7, b(b"strongSwan")),
                        CfgAttribute::new(7, b(&[0xff, 0xfe])),
                        CfgAttribute::new(30000, b(&[])),
                        CfgAttribute::new(30001, b(&[1, 2])),
                    ],
                }),
            ),
            Payload::new(
                47,
                PayloadBody::Cp(Cp {
                    cfg_type: 2,
                    reserved: [0; 3],
                    attributes: vec![],
                }),
            ),
            Payload::new(
                48,
                PayloadBody::Eap(Eap {
                    code: 2,
                    identifier: 1,
                    eap_type: Some(99),
                    data: b(b"carol"),
                }),
            ),
            Payload::new(
                48,
                PayloadBody::Eap(Eap {
                    code: 9,
                    identifier: 0,
                    eap_type: None,
                    data: b(&[]),
                }),
            ),
            critical,
            Payload::new(
                46,
                PayloadBody::Sk(Sk {
                    next_payload: 99,
                    data: b(&[0xee; 48]),
                }),
            ),
        ];
        let msg = Message {
            header: Header {
                spi_i: 1,
                spi_r: 2,
                version: 0x20,
                exchange_type: 99,
                flags: 0x20,
                ..Header::default()
            },
            payloads,
            trailing: Cow::Borrowed(&[]),
        };
        let data = msg.emit();
        let msg = Message::parse(&data).unwrap();
        let pkt = crate::capture::IkePacket {
            frame: 1,
            time_us: -1,
            src: "2001:db8::1".parse().unwrap(),
            sport: 4500,
            dst: "2001:db8::2".parse().unwrap(),
            dport: 4500,
            transport: crate::capture::Transport::Tcp,
            data: data.clone(),
        };
        let sk = msg.payloads.len() - 1;
        let inner = msg.payloads[..sk].to_vec();
        for view in [
            None,
            Some(crate::dissect::DecryptionView {
                integrity: "ok",
                error: None,
                payloads: Some(&inner),
                fragments: Some(&[]),
            }),
            Some(crate::dissect::DecryptionView {
                integrity: "bad",
                error: Some(""),
                payloads: Some(&[]),
                fragments: None,
            }),
        ] {
            let (typed, described) = both(&pkt, &msg, &data, view.as_ref().map(|v| (sk, v)));
            assert_eq!(typed, described);
            for form in [
                "name=-",
                "value=\"\"",
                "payload 200 critical",
                "[SHA2-256, -]",
            ] {
                assert!(typed.contains(form), "{form} in {typed}");
            }
        }
    }
}
