//! [`JsonWriter`]: the dissector's description written straight out as compact JSON, byte for
//! byte what `serde_json` prints for the equivalent `Value` (same key order, same escaping).
use std::fmt::{self, Write as _};

use super::sink::FieldSink;

/// A [`FieldSink`] that appends compact JSON to a byte buffer. Reused across records: the
/// buffer and the nesting stack keep their capacity.
#[derive(Debug, Default)]
pub struct JsonWriter {
    buf: Vec<u8>,
    /// One entry per open container: `true` for a list (values without keys).
    in_list: Vec<bool>,
    /// A value was written in the innermost container: the next needs a comma.
    comma: bool,
    scratch: String,
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `s` as a JSON string literal with `serde_json`'s escaping: `"` and `\`, the
/// control characters as `\b \t \n \f \r` or `\u00XX`; everything else (also non-ASCII) as is.
#[inline(always)]
pub fn write_json_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    // Almost every string needs no escape: one check, eight bytes at a time, one copy (inlined
    // where keys are written: records are mostly short keys and values).
    if !needs_escape(bytes) {
        out.reserve(bytes.len() + 2);
        out.push(b'"');
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    write_escaped(out, bytes);
}

#[cold]
#[inline(never)]
fn write_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x09 => b"\\t",
            0x0a => b"\\n",
            0x0c => b"\\f",
            0x0d => b"\\r",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if esc.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(esc);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Bytes `serde_json` escapes: control characters, `"` and `\`.
const ESCAPED: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// Whether any byte of `bytes` is [`ESCAPED`]: words of eight bytes tested at once (strings
/// are short: keys, names, hex), the rest byte by byte.
#[inline]
fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Whether a byte of `x` is below `n` (exact for n <= 0x80 as a yes/no answer).
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGH;
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        let mut word = [0u8; 8];
        word.copy_from_slice(w);
        let x = u64::from_le_bytes(word);
        let found = below(x, 0x20) | below(x ^ (ONES * 0x22), 1) | below(x ^ (ONES * 0x5c), 1);
        if found != 0 {
            return true;
        }
    }
    words.remainder().iter().any(|&b| ESCAPED[usize::from(b)])
}

/// The two lowercase hex digits of every byte value.
const HEX_PAIRS: [[u8; 2]; 256] = {
    let mut t = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = [HEX[i >> 4], HEX[i & 0xf]];
        i += 1;
    }
    t
};

/// Appends the lowercase hex digits of `bytes`.
pub fn push_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    let start = out.len();
    out.resize(start + 2 * bytes.len(), 0);
    for (pair, &b) in out[start..].chunks_exact_mut(2).zip(bytes) {
        pair.copy_from_slice(&HEX_PAIRS[usize::from(b)]);
    }
}

impl JsonWriter {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// The JSON written since the last [`JsonWriter::clear`].
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Empties the buffer for the next record.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.in_list.clear();
        self.comma = false;
    }

    /// Starts the next record after the ones in the buffer (which stay).
    pub fn next_record(&mut self) {
        self.in_list.clear();
        self.comma = false;
    }

    /// Appends raw bytes (e.g. the newline after a record).
    pub fn push_raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Comma and key before a value.
    #[inline(always)]
    fn lead(&mut self, key: &str) {
        if self.comma {
            self.buf.push(b',');
        }
        self.comma = true;
        if self.in_list.last() == Some(&false) {
            write_json_str(&mut self.buf, key);
            self.buf.push(b':');
        }
    }
}

impl FieldSink for JsonWriter {
    fn null(&mut self, key: &str) {
        self.lead(key);
        self.buf.extend_from_slice(b"null");
    }
    fn bool(&mut self, key: &str, v: bool) {
        self.lead(key);
        self.buf
            .extend_from_slice(if v { b"true" as &[u8] } else { b"false" });
    }
    fn u64(&mut self, key: &str, v: u64) {
        self.lead(key);
        let mut b = itoa::Buffer::new();
        self.buf.extend_from_slice(b.format(v).as_bytes());
    }
    fn str(&mut self, key: &str, v: &str) {
        self.lead(key);
        write_json_str(&mut self.buf, v);
    }
    fn hex(&mut self, key: &str, v: &[u8]) {
        self.lead(key);
        self.buf.push(b'"');
        push_hex(&mut self.buf, v);
        self.buf.push(b'"');
    }
    fn display(&mut self, key: &str, v: &dyn fmt::Display) {
        self.lead(key);
        self.scratch.clear();
        let _ = write!(self.scratch, "{v}");
        write_json_str(&mut self.buf, &self.scratch);
    }
    fn begin_object(&mut self, key: &str) {
        self.lead(key);
        self.buf.push(b'{');
        self.in_list.push(false);
        self.comma = false;
    }
    fn end_object(&mut self) {
        self.buf.push(b'}');
        self.in_list.pop();
        self.comma = true;
    }
    fn begin_list(&mut self, key: &str) {
        self.lead(key);
        self.buf.push(b'[');
        self.in_list.push(true);
        self.comma = false;
    }
    fn end_list(&mut self) {
        self.buf.push(b']');
        self.in_list.pop();
        self.comma = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::replay_value;
    use serde_json::json;

    #[test]
    fn hex_digits_of_every_byte() {
        let all: Vec<u8> = (0..=255).collect();
        let mut out = b"x".to_vec();
        push_hex(&mut out, &all);
        assert_eq!(out[1..], *hex::encode(&all).as_bytes());
        push_hex(&mut out, &[]);
        assert_eq!(out.len(), 513);
    }

    #[test]
    fn same_bytes_as_serde_json() {
        let v = json!({"a": null, "b": [1, 2, {"c": "x\"y\\z\n\t\u{1}\u{7f}é/"}], "d": {}, "e": [],
            "f": true, "g": false, "h": 18446744073709551615u64, "k\"ey": ""});
        let mut w = JsonWriter::new();
        replay_value("", &v, &mut w);
        assert_eq!(
            std::str::from_utf8(w.as_bytes()).unwrap(),
            serde_json::to_string(&v).unwrap()
        );
        for s in [
            "plain text, long enough for words",
            "\u{7f}\u{80}é!#[]~ \u{ff}ÿ",
        ] {
            assert!(!needs_escape(s.as_bytes()), "{s:?}");
        }
        // Every byte at every place of a word or the rest, among bytes that are not escaped.
        for b in 0..=255u8 {
            for fill in [b'a', 0x80, 0xff, 0x21, 0x5b] {
                for at in 0..17 {
                    let mut s = vec![fill; 17];
                    s[at] = b;
                    let expected = b < 0x20 || b == b'"' || b == b'\\';
                    assert_eq!(needs_escape(&s), expected, "{b} at {at} among {fill}");
                }
            }
        }
        let mut out = Vec::new();
        write_json_str(&mut out, "\u{0}\u{8}\u{c}\r\u{1f} ");
        assert_eq!(out, serde_json::to_vec("\u{0}\u{8}\u{c}\r\u{1f} ").unwrap());
    }
}
