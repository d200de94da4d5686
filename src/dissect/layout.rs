//! Where every field of an IKE message lies in its bytes, as Wireshark's packet tree shows
//! it: the header's fields, each payload's generic header and body fields, and the
//! substructures (proposals, transforms, attributes, selectors, SPIs). The TUI's payload
//! tree uses it to highlight the selected field's bytes in the hex pane.
//!
//! It reads the bytes themselves rather than the decoded [`crate::wire`] values, so a
//! field the codec folds away (reserved bytes, lengths, the last-substructure byte) still
//! has a place. Every read is bounds-checked: a payload shorter than its layout ends in a
//! `truncated` field, never a panic.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::ops::Range;

use crate::wire::registry;

/// One field, or a group of fields (`proposal 1`), with the bytes it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSpan {
    /// Nesting below the payload: 0 for the payload's own fields, 1 inside a group...
    pub depth: usize,
    /// `name: value`, as the tree shows it.
    pub text: String,
    /// Absolute offsets in the buffer given.
    pub range: Range<usize>,
}

/// The fields of the 28-byte IKE header at the start of `raw`.
pub fn header_fields(raw: &[u8]) -> Vec<FieldSpan> {
    let mut l = Layout::new(raw, 0);
    l.hex("initiator SPI", 8);
    l.hex("responder SPI", 8);
    l.number("next payload", 1, |v| payload_text(v as u8));
    l.number("version", 1, |v| format!("{}.{}", v >> 4, v & 0xf));
    l.number("exchange type", 1, |v| {
        named(registry::exchange_name(v as u8), v)
    });
    l.number("flags", 1, |v| flags_text(v as u8));
    l.number("message ID", 4, |v| v.to_string());
    l.number("length", 4, |v| v.to_string());
    l.out
}

/// The fields of one payload of type `payload_type` occupying `bytes[range]` (generic
/// header included); offsets are in `bytes`.
pub fn payload_fields(payload_type: u8, bytes: &[u8], range: Range<usize>) -> Vec<FieldSpan> {
    let end = range.end.min(bytes.len());
    let mut l = Layout::new(&bytes[..end], range.start.min(end));
    l.number("next payload", 1, |v| payload_text(v as u8));
    l.number("critical", 1, |v| {
        format!(
            "{} (flags 0x{v:02x})",
            if v & 0x80 != 0 { "yes" } else { "no" }
        )
    });
    l.number("payload length", 2, |v| v.to_string());
    match payload_type {
        33 => sa_body(&mut l),
        34 => {
            l.number("DH group", 2, |v| named(registry::ke_name(v as u16), v));
            l.reserved(2);
            l.rest("key exchange data");
        }
        35 | 36 => id_body(&mut l),
        37 | 38 => {
            l.number("encoding", 1, |v| {
                named(registry::cert_encoding_name(v as u8), v)
            });
            l.rest(if payload_type == 37 {
                "certificate data"
            } else {
                "certification authority"
            });
        }
        39 => {
            l.number("auth method", 1, |v| {
                named(registry::auth_method_name(v as u8), v)
            });
            l.reserved(3);
            l.rest("authentication data");
        }
        40 => l.rest("nonce data"),
        41 => notify_body(&mut l),
        42 => delete_body(&mut l),
        43 => l.rest("vendor ID"),
        44 | 45 => ts_body(&mut l),
        46 => l.rest("IV, ciphertext, padding and ICV"),
        47 => cp_body(&mut l),
        48 => eap_body(&mut l),
        53 => {
            l.number("fragment number", 2, |v| v.to_string());
            l.number("total fragments", 2, |v| v.to_string());
            l.rest("IV, ciphertext, padding and ICV");
        }
        _ => l.rest("data"),
    }
    l.out
}

/// A cursor over a buffer that records each field it passes.
struct Layout<'a> {
    bytes: &'a [u8],
    at: usize,
    depth: usize,
    out: Vec<FieldSpan>,
}

impl<'a> Layout<'a> {
    fn new(bytes: &'a [u8], at: usize) -> Self {
        Layout {
            bytes,
            at,
            depth: 0,
            out: Vec::new(),
        }
    }

    fn left(&self) -> usize {
        self.bytes.len().saturating_sub(self.at)
    }

    /// Take `len` bytes as a field, or record that the payload ends first.
    fn take(&mut self, name: &str, len: usize) -> Option<&'a [u8]> {
        if len > self.left() {
            if self.left() > 0 || len > 0 {
                self.push(
                    format!("{name}: truncated ({} of {len} bytes)", self.left()),
                    self.at..self.bytes.len(),
                );
            }
            self.at = self.bytes.len();
            return None;
        }
        let range = self.at..self.at + len;
        self.at += len;
        self.bytes.get(range)
    }

    fn push(&mut self, text: String, range: Range<usize>) {
        self.out.push(FieldSpan {
            depth: self.depth,
            text,
            range,
        });
    }

    /// A big-endian number of `len` (1..=4) bytes.
    fn number(&mut self, name: &str, len: usize, show: impl FnOnce(u32) -> String) -> Option<u32> {
        let start = self.at;
        let b = self.take(name, len)?;
        let v = b.iter().fold(0u32, |v, &x| (v << 8) | u32::from(x));
        self.push(format!("{name}: {}", show(v)), start..self.at);
        Some(v)
    }

    fn hex(&mut self, name: &str, len: usize) -> Option<&'a [u8]> {
        let start = self.at;
        let b = self.take(name, len)?;
        self.push(format!("{name}: {}", hex_short(b)), start..self.at);
        Some(b)
    }

    fn reserved(&mut self, len: usize) {
        self.hex("reserved", len);
    }

    /// The rest of the payload as one field (none when nothing is left).
    fn rest(&mut self, name: &str) {
        let len = self.left();
        if len > 0 {
            self.hex(name, len);
        }
    }

    /// A group line over `len` bytes from here; its fields follow one level deeper.
    fn group(&mut self, text: String, len: usize) {
        let end = (self.at + len).min(self.bytes.len());
        self.push(text, self.at..end);
    }

    /// Read without moving.
    fn peek(&self, offset: usize, len: usize) -> Option<u32> {
        let b = self.bytes.get(self.at + offset..self.at + offset + len)?;
        Some(b.iter().fold(0u32, |v, &x| (v << 8) | u32::from(x)))
    }

    /// Run `body` over the next `len` bytes, one level deeper, as if they ended there.
    fn nested(&mut self, len: usize, body: impl FnOnce(&mut Layout<'a>)) {
        let end = (self.at + len).min(self.bytes.len());
        let mut inner = Layout {
            bytes: &self.bytes[..end],
            at: self.at,
            depth: self.depth + 1,
            out: Vec::new(),
        };
        body(&mut inner);
        self.out.append(&mut inner.out);
        self.at = end;
    }
}

fn sa_body(l: &mut Layout) {
    let mut n = 0;
    while l.left() > 0 {
        n += 1;
        let len = l.peek(2, 2).unwrap_or(0) as usize;
        let number = l.peek(4, 1).unwrap_or(0);
        let protocol = l.peek(5, 1).unwrap_or(0) as u8;
        l.group(
            format!(
                "proposal {number}: {}",
                registry::protocol_name(protocol).unwrap_or("?")
            ),
            len.max(8),
        );
        l.nested(len.max(8), proposal_body);
        if n > 255 || len == 0 {
            break;
        }
    }
}

fn proposal_body(l: &mut Layout) {
    l.number("last substructure", 1, more_text);
    l.reserved(1);
    l.number("proposal length", 2, |v| v.to_string());
    l.number("proposal number", 1, |v| v.to_string());
    l.number("protocol ID", 1, |v| {
        named(registry::protocol_name(v as u8), v)
    });
    let spi_size = l.number("SPI size", 1, |v| v.to_string()).unwrap_or(0);
    l.number("transforms", 1, |v| v.to_string());
    if spi_size > 0 {
        l.hex("SPI", spi_size as usize);
    }
    while l.left() > 0 {
        let len = l.peek(2, 2).unwrap_or(0) as usize;
        let kind = l.peek(4, 1).unwrap_or(0) as u8;
        let id = l.peek(6, 2).unwrap_or(0) as u16;
        l.group(
            format!(
                "transform {}: {}",
                registry::transform_type_name(kind).unwrap_or("?"),
                registry::transform_id_name(kind, id).unwrap_or("?")
            ),
            len.max(8),
        );
        l.nested(len.max(8), |l| transform_body(l, kind));
        if len == 0 {
            break;
        }
    }
}

fn transform_body(l: &mut Layout, kind: u8) {
    l.number("last substructure", 1, more_text);
    l.reserved(1);
    l.number("transform length", 2, |v| v.to_string());
    l.number("transform type", 1, |v| {
        named(registry::transform_type_name(v as u8), v)
    });
    l.reserved(1);
    l.number("transform ID", 2, |v| {
        named(registry::transform_id_name(kind, v as u16), v)
    });
    while l.left() > 0 {
        let Some(t) = l.peek(0, 2) else {
            l.rest("attribute");
            break;
        };
        let tv = t & 0x8000 != 0;
        let name = registry::transform_attribute_name((t & 0x7fff) as u16).unwrap_or("attribute");
        let len = if tv {
            4
        } else {
            4 + l.peek(2, 2).unwrap_or(0) as usize
        };
        l.group(format!("attribute: {name}"), len);
        l.nested(len, |l| {
            l.number("type", 2, |v| {
                format!("{} ({})", v & 0x7fff, if tv { "TV" } else { "TLV" })
            });
            if tv {
                l.number("value", 2, |v| v.to_string());
            } else {
                l.number("length", 2, |v| v.to_string());
                l.rest("value");
            }
        });
    }
}

fn id_body(l: &mut Layout) {
    let kind = l
        .number("ID type", 1, |v| named(registry::id_type_name(v as u8), v))
        .unwrap_or(0);
    l.reserved(3);
    let start = l.at;
    let data = l.bytes.get(start..).unwrap_or(&[]);
    if data.is_empty() {
        return;
    }
    let text = match kind {
        1 => address_text(data),
        5 => address_text(data),
        2 | 3 => std::str::from_utf8(data)
            .map(str::to_string)
            .unwrap_or_else(|_| hex_short(data)),
        _ => hex_short(data),
    };
    l.at = l.bytes.len();
    l.push(format!("identification data: {text}"), start..l.at);
}

fn notify_body(l: &mut Layout) {
    l.number("protocol ID", 1, |v| {
        if v == 0 {
            "none (0)".to_string()
        } else {
            named(registry::protocol_name(v as u8), v)
        }
    });
    let spi_size = l.number("SPI size", 1, |v| v.to_string()).unwrap_or(0);
    let kind = l
        .number("notify message type", 2, |v| {
            named(registry::notify_name(v as u16), v)
        })
        .unwrap_or(0) as u16;
    if spi_size > 0 {
        l.hex("SPI", spi_size as usize);
    }
    let start = l.at;
    let data = l.bytes.get(start..).unwrap_or(&[]);
    if data.is_empty() {
        return;
    }
    let name = match registry::notify_name(kind) {
        Some("ADDITIONAL_IP4_ADDRESS" | "ADDITIONAL_IP6_ADDRESS") => "address",
        Some("COOKIE" | "COOKIE2") => "cookie",
        Some("NAT_DETECTION_SOURCE_IP" | "NAT_DETECTION_DESTINATION_IP") => "hash",
        _ => "notification data",
    };
    let text = if name == "address" {
        address_text(data)
    } else {
        hex_short(data)
    };
    l.at = l.bytes.len();
    l.push(format!("{name}: {text}"), start..l.at);
}

fn delete_body(l: &mut Layout) {
    l.number("protocol ID", 1, |v| {
        named(registry::protocol_name(v as u8), v)
    });
    let size = l.number("SPI size", 1, |v| v.to_string()).unwrap_or(0);
    let count = l.number("SPIs", 2, |v| v.to_string()).unwrap_or(0);
    if size == 0 {
        return;
    }
    for _ in 0..count {
        if l.left() == 0 {
            break;
        }
        l.hex("SPI", size as usize);
    }
    l.rest("trailing data");
}

fn ts_body(l: &mut Layout) {
    let count = l.number("selectors", 1, |v| v.to_string()).unwrap_or(0);
    l.reserved(3);
    let mut n = 0;
    while l.left() > 0 {
        n += 1;
        let kind = l.peek(0, 1).unwrap_or(0) as u8;
        let len = l.peek(2, 2).unwrap_or(0) as usize;
        l.group(
            format!(
                "selector {n} of {count}: {}",
                registry::ts_type_name(kind).unwrap_or("?")
            ),
            len.max(8),
        );
        l.nested(len.max(8), |l| {
            l.number("TS type", 1, |v| named(registry::ts_type_name(v as u8), v));
            l.number("IP protocol", 1, |v| v.to_string());
            l.number("selector length", 2, |v| v.to_string());
            l.number("start port", 2, |v| v.to_string());
            l.number("end port", 2, |v| v.to_string());
            let half = l.left() / 2;
            for name in ["start address", "end address"] {
                let start = l.at;
                if let Some(b) = l.take(name, half) {
                    let text = address_text(b);
                    l.push(format!("{name}: {text}"), start..l.at);
                }
            }
            l.rest("trailing data");
        });
        if len == 0 {
            break;
        }
    }
}

fn cp_body(l: &mut Layout) {
    l.number("CFG type", 1, |v| {
        named(registry::cfg_type_name(v as u8), v)
    });
    l.reserved(3);
    while l.left() > 0 {
        let t = l.peek(0, 2).unwrap_or(0) as u16 & 0x7fff;
        let len = 4 + l.peek(2, 2).unwrap_or(0) as usize;
        l.group(
            format!(
                "attribute: {}",
                registry::cfg_attribute_name(t).unwrap_or("?")
            ),
            len,
        );
        l.nested(len, |l| {
            l.number("attribute type", 2, |v| {
                named(
                    registry::cfg_attribute_name((v & 0x7fff) as u16),
                    v & 0x7fff,
                )
            });
            l.number("length", 2, |v| v.to_string());
            l.rest("value");
        });
    }
}

fn eap_body(l: &mut Layout) {
    let code = l
        .number("code", 1, |v| named(registry::eap_code_name(v as u8), v))
        .unwrap_or(0);
    l.number("identifier", 1, |v| v.to_string());
    l.number("length", 2, |v| v.to_string());
    if code == 1 || code == 2 {
        l.number("type", 1, |v| v.to_string());
    }
    l.rest("type data");
}

fn payload_text(v: u8) -> String {
    named(registry::payload_name(v), u32::from(v))
}

fn named(name: Option<&str>, v: u32) -> String {
    format!("{} ({v})", name.unwrap_or("?"))
}

fn more_text(v: u32) -> String {
    match v {
        0 => "0 (last)".to_string(),
        2 | 3 => format!("{v} (more)"),
        _ => format!("{v} (?)"),
    }
}

fn flags_text(v: u8) -> String {
    let mut names = Vec::new();
    if v & 0x08 != 0 {
        names.push("initiator");
    }
    if v & 0x10 != 0 {
        names.push("version");
    }
    if v & 0x20 != 0 {
        names.push("response");
    }
    format!("0x{v:02x} ({})", names.join(", "))
}

fn address_text(b: &[u8]) -> String {
    if let Ok(a) = <[u8; 4]>::try_from(b) {
        Ipv4Addr::from(a).to_string()
    } else if let Ok(a) = <[u8; 16]>::try_from(b) {
        Ipv6Addr::from(a).to_string()
    } else {
        hex_short(b)
    }
}

/// Up to 20 bytes in hex; longer values end in `… (N bytes)`.
fn hex_short(b: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(48);
    for x in b.iter().take(20) {
        let _ = write!(s, "{x:02x}");
    }
    if b.len() > 20 {
        let _ = write!(s, "… ({} bytes)", b.len());
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(f: &[FieldSpan]) -> Vec<String> {
        f.iter()
            .map(|f| format!("{}{} @{:?}", "  ".repeat(f.depth), f.text, f.range))
            .collect()
    }

    #[test]
    fn the_header_fields_cover_its_28_bytes_in_order() {
        let mut raw = vec![0u8; 28];
        raw[0..8].copy_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        raw[16] = 33;
        raw[17] = 0x20;
        raw[18] = 34;
        raw[19] = 0x08;
        raw[27] = 28;
        let f = header_fields(&raw);
        assert_eq!(f.len(), 8);
        assert_eq!(f[0].text, "initiator SPI: 0102030405060708");
        assert_eq!(f[2].text, "next payload: SA (33)");
        assert_eq!(f[3].text, "version: 2.0");
        assert_eq!(f[4].text, "exchange type: IKE_SA_INIT (34)");
        assert_eq!(f[5].text, "flags: 0x08 (initiator)");
        assert_eq!(f[7].range, 24..28);
        // contiguous, no gaps
        assert!(f.windows(2).all(|w| w[0].range.end == w[1].range.start));
    }

    #[test]
    fn a_notify_shows_its_type_and_mobike_address_with_ranges() {
        // generic header, protocol 0, SPI size 0, ADDITIONAL_IP4_ADDRESS, 192.0.2.1
        let p = [
            0, 0, 0, 12, 0, 0, 0x40, 0x0d, 192, 0, 2, 1, /* next payload after */ 0xff,
        ];
        let f = payload_fields(41, &p, 0..12);
        assert_eq!(
            texts(&f),
            vec![
                "next payload: NONE (0) @0..1",
                "critical: no (flags 0x00) @1..2",
                "payload length: 12 @2..4",
                "protocol ID: none (0) @4..5",
                "SPI size: 0 @5..6",
                "notify message type: ADDITIONAL_IP4_ADDRESS (16397) @6..8",
                "address: 192.0.2.1 @8..12",
            ]
        );
    }

    #[test]
    fn an_sa_payload_nests_proposals_transforms_and_attributes() {
        let mut p = vec![0, 0, 0, 0];
        // proposal: last, reserved, len 8+12, number 1, IKE, SPI size 0, 1 transform
        p.extend_from_slice(&[0, 0, 0, 20, 1, 1, 0, 1]);
        // transform: last, reserved, len 12, ENCR, reserved, AES_CBC (12), key length 128 (TV)
        p.extend_from_slice(&[0, 0, 0, 12, 1, 0, 0, 12, 0x80, 14, 0, 128]);
        p[3] = p.len() as u8;
        let f = payload_fields(33, &p, 0..p.len());
        let t = texts(&f);
        assert!(t.contains(&"proposal 1: IKE @4..24".to_string()), "{t:#?}");
        assert!(
            t.contains(&"  transform ENCR: ENCR_AES_CBC @12..24".to_string()),
            "{t:#?}"
        );
        assert!(
            t.iter().any(|l| l.starts_with("      value: 128 @22..24")),
            "{t:#?}"
        );
    }

    #[test]
    fn traffic_selectors_show_ports_and_addresses() {
        let mut p = vec![0, 0, 0, 0, 1, 0, 0, 0];
        p.extend_from_slice(&[7, 0, 0, 16, 0, 0, 0xff, 0xff, 10, 1, 0, 0, 10, 1, 0, 255]);
        p[3] = p.len() as u8;
        let t = texts(&payload_fields(44, &p, 0..p.len()));
        assert!(
            t.contains(&"  start address: 10.1.0.0 @16..20".to_string()),
            "{t:#?}"
        );
        assert!(
            t.contains(&"  end port: 65535 @14..16".to_string()),
            "{t:#?}"
        );
    }

    #[test]
    fn every_payload_type_survives_every_truncation_and_lying_lengths() {
        let mut body = vec![0u8, 0, 0xff, 0xff];
        body.extend((0..60u8).map(|i| i.wrapping_mul(37)));
        for t in 0..=255u8 {
            for cut in 0..body.len() {
                let f = payload_fields(t, &body[..cut], 0..body.len());
                assert!(f.iter().all(|f| f.range.end <= cut), "type {t} cut {cut}");
            }
            // a range past the end, and one ending before it starts
            let (start, end) = (70, 40);
            let _ = payload_fields(t, &body, start..end);
        }
        let _ = header_fields(&[1, 2, 3]);
    }
}
