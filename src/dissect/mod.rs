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
#![warn(missing_docs)]

use std::net::{Ipv4Addr, Ipv6Addr};

use serde_json::{json, Map, Value};

use crate::wire::{
    registry, AttributeValue, Header, Message, NotifyData, Payload, PayloadBody, TrafficSelector,
};

fn nm(v: Option<&'static str>) -> Value {
    v.map_or(Value::Null, |s| Value::String(s.to_owned()))
}

fn hx(b: &[u8]) -> Value {
    Value::String(hex::encode(b))
}

/// The header object (see the module documentation for keys).
pub fn header_json(h: &Header) -> Value {
    json!({
        "spi_i": format!("{:016x}", h.spi_i),
        "spi_r": format!("{:016x}", h.spi_r),
        "next_payload": h.next_payload,
        "version": format!("{}.{}", h.major_version(), h.minor_version()),
        "exchange_type": h.exchange_type,
        "exchange": registry::exchange_name(h.exchange_type)
            .map_or_else(|| h.exchange_type.to_string(), str::to_owned),
        "flags": h.flags,
        "initiator": h.is_initiator(),
        "response": h.is_response(),
        "version_flag": h.version_flag(),
        "message_id": h.message_id,
        "length": h.length,
    })
}

/// The array, in wire order, of the message's payload objects.
pub fn payloads_json(msg: &Message) -> Value {
    payload_list_json(&msg.payloads)
}

/// The array of payload objects for any chain (e.g. decrypted SK contents).
pub fn payload_list_json(payloads: &[Payload]) -> Value {
    Value::Array(payloads.iter().map(payload_json).collect())
}

/// `{header, payloads, trailing?, warnings?}` for a whole message.
pub fn message_json(msg: &Message) -> Value {
    let mut m = Map::new();
    m.insert("header".into(), header_json(&msg.header));
    m.insert("payloads".into(), payloads_json(msg));
    if !msg.trailing.is_empty() {
        m.insert("trailing".into(), hx(&msg.trailing));
    }
    let w = msg.warnings();
    if !w.is_empty() {
        m.insert(
            "warnings".into(),
            Value::Array(w.iter().map(|e| Value::String(e.to_string())).collect()),
        );
    }
    Value::Object(m)
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

/// Adds `integrity`, `decrypt_error`, `payloads` and `fragments` (see the module
/// documentation) to an SK/SKF payload object. Does nothing if `payload` is not an object.
pub fn add_decryption(payload: &mut Value, d: &DecryptionView<'_, '_>) {
    let Value::Object(o) = payload else {
        return;
    };
    o.insert("integrity".into(), Value::String(d.integrity.to_owned()));
    if let Some(e) = d.error {
        o.insert("decrypt_error".into(), Value::String(e.to_owned()));
    }
    if let Some(f) = d.fragments {
        o.insert("fragments".into(), json!(f));
    }
    if let Some(p) = d.payloads {
        o.insert("payloads".into(), payload_list_json(p));
    }
}

fn eap_type_name(t: u8) -> Option<&'static str> {
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

fn id_text(id_type: u8, data: &[u8]) -> Value {
    match (id_type, data.len()) {
        (1, 4) => {
            if let Ok(a) = <[u8; 4]>::try_from(data) {
                return Value::String(Ipv4Addr::from(a).to_string());
            }
        }
        (5, 16) => {
            if let Ok(a) = <[u8; 16]>::try_from(data) {
                return Value::String(Ipv6Addr::from(a).to_string());
            }
        }
        (2 | 3, _) => {
            if let Ok(s) = std::str::from_utf8(data) {
                if !s.chars().any(char::is_control) {
                    return Value::String(s.to_owned());
                }
            }
        }
        _ => {}
    }
    hx(data)
}

/// CP attribute rendering: adds `address` or `text` when the value has the usual form.
fn cfg_extra(o: &mut Map<String, Value>, attr_type: u16, v: &[u8]) {
    let v4 = |b: &[u8]| <[u8; 4]>::try_from(b).ok().map(Ipv4Addr::from);
    let v6 = |b: &[u8]| <[u8; 16]>::try_from(b).ok().map(Ipv6Addr::from);
    let addr = match (attr_type, v.len()) {
        (1 | 2 | 3 | 4 | 6, 4) => v4(v).map(|a| a.to_string()),
        (10 | 12, 16) => v6(v).map(|a| a.to_string()),
        (8 | 15, 17) => v6(&v[..16]).map(|a| format!("{a}/{}", v[16])),
        (13, 8) => v4(&v[..4])
            .zip(v4(&v[4..]))
            .map(|(a, m)| format!("{a}/{m}")),
        _ => None,
    };
    if let Some(a) = addr {
        o.insert("address".into(), Value::String(a));
    } else if attr_type == 7 && !v.is_empty() {
        if let Ok(s) = std::str::from_utf8(v) {
            o.insert("text".into(), Value::String(s.to_owned()));
        }
    }
}

fn notify_fields(o: &mut Map<String, Value>, d: &NotifyData) {
    let mut put = |k: &str, v: Value| {
        o.insert(k.to_owned(), v);
    };
    match d {
        NotifyData::Empty => {}
        NotifyData::Raw(b) => put("data", hx(b)),
        NotifyData::AdditionalIp4(a) => put("address", Value::String(a.to_string())),
        NotifyData::AdditionalIp6(a) => put("address", Value::String(a.to_string())),
        NotifyData::Cookie(c) | NotifyData::Cookie2(c) => put("cookie", hx(c)),
        NotifyData::NoNatsAllowed {
            src,
            dst,
            src_port,
            dst_port,
        } => {
            put("src_address", Value::String(src.to_string()));
            put("dst_address", Value::String(dst.to_string()));
            put("src_port", json!(src_port));
            put("dst_port", json!(dst_port));
        }
        NotifyData::NatDetection(h) => put("hash", hx(h)),
        NotifyData::SignatureHashAlgorithms(v) => {
            put("algorithms", json!(v));
            put(
                "algorithm_names",
                Value::Array(
                    v.iter()
                        .map(|a| nm(registry::hash_algorithm_name(*a)))
                        .collect(),
                ),
            );
        }
        NotifyData::KeGroup(g) => {
            put("group", json!(g));
            put("group_name", nm(registry::transform_id_name(4, *g)));
        }
        NotifyData::PayloadType(t) => {
            put("payload_type", json!(t));
            put("payload_name", nm(registry::payload_name(*t)));
        }
        NotifyData::WindowSize(v) => put("window_size", json!(v)),
        NotifyData::Lifetime(v) => put("lifetime", json!(v)),
        NotifyData::IpcompSupported { cpi, transform_id } => {
            put("cpi", json!(cpi));
            put("transform_id", json!(transform_id));
        }
        NotifyData::Malformed {
            offset,
            expected,
            raw,
        } => {
            put(
                "malformed",
                Value::String(format!(
                    "offset {offset}: expected {expected}, got {} byte(s)",
                    raw.len()
                )),
            );
            put("data", hx(raw));
        }
    }
}

fn selector_json(s: &TrafficSelector) -> Value {
    let t = s.ts_type();
    match s {
        TrafficSelector::Ipv4 {
            ip_protocol,
            start_port,
            end_port,
            start,
            end,
        } => json!({
            "ts_type": t, "ts_type_name": nm(registry::ts_type_name(t)),
            "protocol": ip_protocol, "start_port": start_port, "end_port": end_port,
            "start_address": start.to_string(), "end_address": end.to_string(),
        }),
        TrafficSelector::Ipv6 {
            ip_protocol,
            start_port,
            end_port,
            start,
            end,
        } => json!({
            "ts_type": t, "ts_type_name": nm(registry::ts_type_name(t)),
            "protocol": ip_protocol, "start_port": start_port, "end_port": end_port,
            "start_address": start.to_string(), "end_address": end.to_string(),
        }),
        TrafficSelector::Other { data, .. } => json!({
            "ts_type": t, "ts_type_name": nm(registry::ts_type_name(t)), "data": hx(data),
        }),
    }
}

fn data_fields(o: &mut Map<String, Value>, d: &[u8]) {
    o.insert("data_length".into(), json!(d.len()));
    o.insert("data".into(), hx(d));
}

/// One payload object (see the module documentation for keys).
pub fn payload_json(p: &Payload) -> Value {
    let mut o = Map::new();
    o.insert("type".into(), json!(p.payload_type));
    o.insert("name".into(), nm(registry::payload_name(p.payload_type)));
    o.insert("critical".into(), json!(p.critical()));
    o.insert("offset".into(), json!(p.offset));
    match &p.body {
        PayloadBody::Sa(sa) => {
            let props: Vec<Value> = sa
                .proposals
                .iter()
                .map(|pr| {
                    let tr: Vec<Value> = pr
                        .transforms
                        .iter()
                        .map(|t| {
                            let attrs: Vec<Value> = t
                                .attributes
                                .iter()
                                .map(|a| {
                                    let (format, value) = match &a.value {
                                        AttributeValue::Tv(v) => ("TV", json!(v)),
                                        AttributeValue::Tlv(d) => ("TLV", hx(d)),
                                    };
                                    json!({
                                        "type": a.attr_type,
                                        "name": nm(registry::transform_attribute_name(a.attr_type)),
                                        "format": format,
                                        "value": value,
                                    })
                                })
                                .collect();
                            json!({
                                "type": t.transform_type,
                                "type_name": nm(registry::transform_type_name(t.transform_type)),
                                "id": t.transform_id,
                                "id_name": nm(registry::transform_id_name(t.transform_type, t.transform_id)),
                                "attributes": attrs,
                            })
                        })
                        .collect();
                    json!({
                        "number": pr.number,
                        "protocol_id": pr.protocol_id,
                        "protocol": nm(registry::protocol_name(pr.protocol_id)),
                        "spi": hx(&pr.spi),
                        "transforms": tr,
                    })
                })
                .collect();
            o.insert("proposals".into(), Value::Array(props));
        }
        PayloadBody::Ke(ke) => {
            o.insert("group".into(), json!(ke.dh_group));
            o.insert(
                "group_name".into(),
                nm(registry::transform_id_name(4, ke.dh_group)),
            );
            data_fields(&mut o, &ke.data);
        }
        PayloadBody::Id(id) => {
            o.insert("id_type".into(), json!(id.id_type));
            o.insert(
                "id_type_name".into(),
                nm(registry::id_type_name(id.id_type)),
            );
            o.insert("id".into(), id_text(id.id_type, &id.data));
        }
        PayloadBody::Cert(c) | PayloadBody::CertReq(c) => {
            o.insert("encoding".into(), json!(c.encoding));
            o.insert(
                "encoding_name".into(),
                nm(registry::cert_encoding_name(c.encoding)),
            );
            data_fields(&mut o, &c.data);
        }
        PayloadBody::Auth(a) => {
            o.insert("method".into(), json!(a.method));
            o.insert(
                "method_name".into(),
                nm(registry::auth_method_name(a.method)),
            );
            o.insert("data".into(), hx(&a.data));
        }
        PayloadBody::Nonce(d) | PayloadBody::VendorId(d) | PayloadBody::Unknown(d) => {
            data_fields(&mut o, d)
        }
        PayloadBody::Notify(n) => {
            o.insert("protocol_id".into(), json!(n.protocol_id));
            o.insert(
                "protocol".into(),
                nm(registry::protocol_name(n.protocol_id)),
            );
            o.insert("spi".into(), hx(&n.spi));
            o.insert("notify_type".into(), json!(n.notify_type));
            o.insert("notify".into(), nm(registry::notify_name(n.notify_type)));
            o.insert("error".into(), json!(n.is_error()));
            notify_fields(&mut o, &n.data);
        }
        PayloadBody::Delete(d) => {
            o.insert("protocol_id".into(), json!(d.protocol_id));
            o.insert(
                "protocol".into(),
                nm(registry::protocol_name(d.protocol_id)),
            );
            o.insert("spi_size".into(), json!(d.spi_size));
            o.insert("num_spis".into(), json!(d.num_spis));
            o.insert("spis".into(), Value::Array(d.spis().map(hx).collect()));
        }
        PayloadBody::Ts(ts) => {
            o.insert(
                "selectors".into(),
                Value::Array(ts.selectors.iter().map(selector_json).collect()),
            );
        }
        PayloadBody::Sk(sk) => {
            o.insert("next_payload".into(), json!(sk.next_payload));
            o.insert(
                "next_payload_name".into(),
                nm(registry::payload_name(sk.next_payload)),
            );
            o.insert("length".into(), json!(sk.data.len()));
        }
        PayloadBody::Skf(f) => {
            o.insert("fragment_number".into(), json!(f.fragment_number));
            o.insert("total_fragments".into(), json!(f.total_fragments));
            o.insert("next_payload".into(), json!(f.next_payload));
            o.insert(
                "next_payload_name".into(),
                nm(registry::payload_name(f.next_payload)),
            );
            o.insert("length".into(), json!(f.data.len()));
        }
        PayloadBody::Cp(cp) => {
            o.insert("cfg_type".into(), json!(cp.cfg_type));
            o.insert(
                "cfg_type_name".into(),
                nm(registry::cfg_type_name(cp.cfg_type)),
            );
            let attrs: Vec<Value> = cp
                .attributes
                .iter()
                .map(|a| {
                    let mut m = Map::new();
                    m.insert("type".into(), json!(a.attr_type));
                    m.insert("name".into(), nm(registry::cfg_attribute_name(a.attr_type)));
                    m.insert("length".into(), json!(a.value.len()));
                    m.insert("value".into(), hx(&a.value));
                    cfg_extra(&mut m, a.attr_type, &a.value);
                    Value::Object(m)
                })
                .collect();
            o.insert("attributes".into(), Value::Array(attrs));
        }
        PayloadBody::Eap(e) => {
            o.insert("code".into(), json!(e.code));
            o.insert("code_name".into(), nm(registry::eap_code_name(e.code)));
            o.insert("identifier".into(), json!(e.identifier));
            o.insert("eap_type".into(), json!(e.eap_type));
            o.insert(
                "eap_type_name".into(),
                nm(e.eap_type.and_then(eap_type_name)),
            );
            o.insert("data".into(), hx(&e.data));
        }
    }
    Value::Object(o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Delete, Eap, Id, Notify, Sk, Skf, Ts};
    use std::borrow::Cow;

    fn pj(t: u8, body: PayloadBody<'static>) -> Value {
        payload_json(&Payload::new(t, body))
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
