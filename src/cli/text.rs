//! Text output: one header line per IKE message, then an indented tree of its payloads.
//!
//! The tree is rendered from the same JSON object the JSON output prints, so both always show
//! the same decoded values: scalars go on the payload's line as `key=value`, nested lists of
//! objects (proposals, transforms, selectors, inner payloads) go on indented lines below.
use std::io::{self, Write};

use serde_json::{Map, Value};

use super::decode::{endpoint, rfc3339_micros, transport_name};
use crate::capture::IkePacket;
use crate::wire::{registry, Header, Message};

/// Keys that the payload's head already shows in another form.
const HEAD_KEYS: &[&str] = &["type", "name", "critical", "notify_type", "notify"];

/// Writes one decoded message.
pub fn render_message(
    record: &Value,
    msg: &Message,
    data: &[u8],
    hex_dump: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    let field = |k: &str| record.get(k).cloned().unwrap_or(Value::Null);
    let flag = |k: &str| record.get(k).and_then(Value::as_bool).unwrap_or(false);
    writeln!(
        out,
        "frame {} {} {} -> {} {} {} mid={} {} {} spi_i={} spi_r={}",
        field("frame"),
        plain(&field("time")),
        endpoint_of(record, "src", "sport"),
        endpoint_of(record, "dst", "dport"),
        plain(&field("transport")),
        plain(&field("exchange")),
        field("message_id"),
        if flag("initiator") {
            "initiator"
        } else {
            "responder"
        },
        if flag("response") {
            "response"
        } else {
            "request"
        },
        plain(&field("spi_i")),
        plain(&field("spi_r")),
    )?;
    let empty = Vec::new();
    let payloads = record
        .get("payloads")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    let spans = payload_spans(msg, data.len());
    for (i, payload) in payloads.iter().enumerate() {
        if let Value::Object(p) = payload {
            render_object(p, 1, true, out)?;
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

fn endpoint_of(record: &Value, addr: &str, port: &str) -> String {
    let port = record.get(port).and_then(Value::as_u64).unwrap_or(0);
    match record.get(addr).and_then(Value::as_str).map(str::parse) {
        Some(Ok(ip)) => endpoint(ip, port as u16),
        _ => format!("?:{port}"),
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

fn render_object(
    obj: &Map<String, Value>,
    depth: usize,
    payload: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    let indent = "  ".repeat(depth);
    let mut line = indent.clone();
    if payload {
        line.push_str(&payload_head(obj));
    }
    let mut nested = Vec::new();
    for (key, value) in obj {
        if payload && HEAD_KEYS.contains(&key.as_str()) {
            continue;
        }
        let Some(shown) = shown_value(obj, key, value) else {
            continue;
        };
        match shown {
            Value::Array(items) if items.iter().any(is_nested) => nested.push((key, shown)),
            Value::Object(_) => nested.push((key, shown)),
            _ => {
                if line.len() > indent.len() {
                    line.push(' ');
                }
                line.push_str(key);
                line.push('=');
                line.push_str(&inline(shown));
            }
        }
    }
    writeln!(out, "{line}")?;
    for (key, value) in nested {
        let inner_payloads = key == "payloads";
        writeln!(out, "{indent}  {key}:")?;
        match value {
            Value::Array(items) => {
                for item in items {
                    match item {
                        Value::Object(o) => render_object(o, depth + 2, inner_payloads, out)?,
                        other => writeln!(out, "{indent}    {}", inline(other))?,
                    }
                }
            }
            Value::Object(o) => render_object(o, depth + 2, false, out)?,
            _ => {}
        }
    }
    Ok(())
}

/// What the text shows for `key`, or `None` to leave it out: empty values and byte offsets are
/// noise here, and a number with a `<key>_name` sibling is shown by its name.
fn shown_value<'v>(obj: &'v Map<String, Value>, key: &str, value: &'v Value) -> Option<&'v Value> {
    let empty = match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    };
    if empty || key == "offset" || key == "error" || key.ends_with("_name") {
        return None;
    }
    // `protocol_id` next to `protocol`: the name says it; 0 (none) says nothing.
    if let Some(base) = key.strip_suffix("_id") {
        if obj.get(base).is_some_and(|v| !v.is_null()) || value.as_u64() == Some(0) {
            return None;
        }
    }
    match obj.get(&format!("{key}_name")) {
        Some(name @ Value::String(_)) => Some(name),
        _ => Some(value),
    }
}

/// Objects that get lines of their own; attributes (`name` + `value`) stay inline.
fn is_nested(v: &Value) -> bool {
    v.as_object()
        .is_some_and(|o| !(o.contains_key("name") && o.contains_key("value")))
}

/// `SA`, `N(COOKIE2)`, `N(16500)`, with `critical` when the critical bit is set.
fn payload_head(obj: &Map<String, Value>) -> String {
    let name = match (obj.get("name"), obj.get("type")) {
        (Some(Value::String(n)), _) => n.clone(),
        (_, Some(t)) => format!("payload {t}"),
        _ => "payload ?".into(),
    };
    let mut head = match (obj.get("notify"), obj.get("notify_type")) {
        (Some(Value::String(n)), _) => format!("{name}({n})"),
        (_, Some(t)) => format!("{name}({t})"),
        _ => name,
    };
    if obj.get("critical").and_then(Value::as_bool) == Some(true) {
        head.push_str(" critical");
    }
    head
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

fn inline(v: &Value) -> String {
    match v {
        Value::Object(o) => match (o.get("name"), o.get("value")) {
            // A decoded form (CP address or text) reads better than the raw value.
            (Some(Value::String(n)), Some(value)) => {
                let shown = o.get("address").or_else(|| o.get("text")).unwrap_or(value);
                format!("{n}={}", plain(shown))
            }
            _ => o
                .iter()
                .map(|(k, v)| format!("{k}={}", inline(v)))
                .collect::<Vec<_>>()
                .join(" "),
        },
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(inline).collect::<Vec<_>>().join(", ")
        ),
        Value::String(s) if s.is_empty() => "\"\"".into(),
        other => plain(other),
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
    use serde_json::json;

    #[test]
    fn payload_lines_put_scalars_inline_and_lists_below() {
        let p = json!({"type": 41, "name": "N", "critical": false, "notify_type": 16397,
            "notify": "ADDITIONAL_IP4_ADDRESS", "protocol_id": 0, "address": "192.0.2.10"});
        let mut out = Vec::new();
        render_object(p.as_object().unwrap(), 1, true, &mut out).unwrap();
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
        render_object(sa.as_object().unwrap(), 1, true, &mut out).unwrap();
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
