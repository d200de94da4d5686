//! `mobikectl peer` events: the JSON object of every engine event and its text line.

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use serde_json::{json, Map, Value};

use super::event_kind::EventKind;
use crate::dataplane::PingStats;
use crate::engine::{EngineEvent, Rekey, SaId, SaStatus, Timestamp, TsRange};
use crate::wire::registry;

pub(crate) fn rfc3339(t: SystemTime) -> String {
    time::OffsetDateTime::from(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn exchange(x: u8) -> Value {
    registry::exchange_name(x)
        .map(|s| Value::from(s.to_string()))
        .unwrap_or_else(|| Value::from(x))
}

fn spi64(s: u64) -> String {
    format!("{s:016x}")
}

fn spi32(s: u32) -> String {
    format!("{s:08x}")
}

fn ts_list(v: &[TsRange]) -> Value {
    Value::from(v.iter().map(|t| t.to_string()).collect::<Vec<_>>())
}

/// The JSON object for an engine event (without `time`).
pub fn event_json(ev: &EngineEvent) -> (&'static str, Map<String, Value>) {
    let v = match ev {
        EngineEvent::IkeUp { .. }
        | EngineEvent::ChildUp { .. }
        | EngineEvent::IkeDown { .. }
        | EngineEvent::ChildDown { .. }
        | EngineEvent::Rekeyed { .. } => sa_json(ev),
        EngineEvent::Sent { .. }
        | EngineEvent::Received { .. }
        | EngineEvent::Retransmit { .. }
        | EngineEvent::Timeout { .. }
        | EngineEvent::Error { .. } => exchange_json(ev),
        EngineEvent::Status(list) => status_json(list),
        EngineEvent::Path { .. }
        | EngineEvent::Moved { .. }
        | EngineEvent::Addresses { .. }
        | EngineEvent::Nat { .. }
        | EngineEvent::RrCheck { .. }
        | EngineEvent::MobikeNotify { .. }
        | EngineEvent::Hint { .. } => mobike_json(ev),
        EngineEvent::EspReceived { .. }
        | EngineEvent::EspError { .. }
        | EngineEvent::EspUnexpectedPath { .. } => esp_json(ev),
    };
    let m = match v {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    (EventKind::of(ev).name(), m)
}

fn sa_value(s: &SaId) -> Value {
    Value::from(s.to_string())
}

fn opt_sa_value(s: &Option<SaId>) -> Value {
    s.as_ref().map(sa_value).unwrap_or(Value::Null)
}

/// The SA events' bodies ([`event_json`]): up, down, rekeyed.
fn sa_json(ev: &EngineEvent) -> Value {
    let sa = sa_value;
    match ev {
        EngineEvent::IkeUp {
            sa: id,
            spi_i,
            spi_r,
            path,
            proposal,
            initiator,
            nat_local,
            nat_remote,
        } => json!({"sa": sa(id), "spi_i": spi64(*spi_i), "spi_r": spi64(*spi_r),
                "local": path.local.to_string(), "remote": path.remote.to_string(),
                "proposal": proposal.to_string(), "initiator": initiator,
                "nat_local": nat_local, "nat_remote": nat_remote}),
        EngineEvent::ChildUp {
            sa: id,
            spis,
            ts_local,
            ts_remote,
            proposal,
            vip,
        } => json!({"sa": sa(id), "spis": {"in": spi32(spis.0), "out": spi32(spis.1)},
                "ts": {"local": ts_list(ts_local), "remote": ts_list(ts_remote)},
                "proposal": proposal.to_string(), "vip": vip.map(|v| v.to_string())}),
        EngineEvent::IkeDown { sa: id, reason } => json!({"sa": sa(id), "reason": reason}),
        EngineEvent::ChildDown {
            sa: id,
            spis,
            reason,
        } => json!({"sa": sa(id), "spis": {"in": spi32(spis.0), "out": spi32(spis.1)},
                "reason": reason}),
        EngineEvent::Rekeyed {
            sa: id,
            rekey,
            initiator,
        } => {
            let mut v = json!({"sa": sa(id), "what": rekey.kind(), "initiator": initiator});
            match rekey {
                Rekey::Ike {
                    old_sa,
                    old_spis,
                    new_spis,
                } => {
                    v["old_sa"] = sa(old_sa);
                    v["old_spis"] = json!({"i": spi64(old_spis.0), "r": spi64(old_spis.1)});
                    v["new_spis"] = json!({"i": spi64(new_spis.0), "r": spi64(new_spis.1)});
                }
                Rekey::Child { old_spis, new_spis } => {
                    v["old_spis"] = json!({"in": spi32(old_spis.0), "out": spi32(old_spis.1)});
                    v["new_spis"] = json!({"in": spi32(new_spis.0), "out": spi32(new_spis.1)});
                }
            }
            v
        }
        // only called with the events above
        _ => json!({}),
    }
}

/// The exchange events' bodies ([`event_json`]): messages, retransmissions, errors.
fn exchange_json(ev: &EngineEvent) -> Value {
    let (sa, osa) = (sa_value, opt_sa_value);
    match ev {
        EngineEvent::Sent { sa: id, info } | EngineEvent::Received { sa: id, info } => {
            json!({"sa": osa(id), "exchange": exchange(info.exchange),
                "message_id": info.message_id, "response": info.response,
                "payloads": info.payloads, "crafted": info.crafted, "local": info.path.local.to_string(),
                "remote": info.path.remote.to_string()})
        }
        EngineEvent::Retransmit {
            sa: id,
            exchange: x,
            message_id,
            attempt,
        } => json!({"sa": sa(id), "exchange": exchange(*x), "message_id": message_id,
                "attempt": attempt}),
        EngineEvent::Timeout {
            sa: id,
            exchange: x,
            message_id,
        } => json!({"sa": sa(id), "exchange": exchange(*x), "message_id": message_id}),
        EngineEvent::Error { sa: id, reason } => json!({"sa": osa(id), "reason": reason}),
        // only called with the events above
        _ => json!({}),
    }
}

/// Seconds from `from` to `to` (negative when `to` is earlier), to the millisecond.
fn seconds(from: Timestamp, to: Timestamp) -> f64 {
    let us = i128::from(to.0) - i128::from(from.0);
    (us as f64 / 1e3).round() / 1e3
}

/// The `status` event's body: every IKE SA, with what `swanctl --list-sas` shows (ages
/// and deadlines in seconds from the status' time).
fn status_json(list: &[SaStatus]) -> Value {
    let sa = sa_value;
    json!({"sas": list.iter().map(|s| {
        let now = s.now;
        let since = |t: Option<Timestamp>| t.map(|t| seconds(t, now));
        let until = |t: Option<Timestamp>| t.map(|t| seconds(now, t));
        json!({
                "sa": sa(&s.sa), "conn": s.conn, "state": format!("{:?}", s.state),
                "spi_i": spi64(s.spi_i), "spi_r": spi64(s.spi_r),
                "local": s.path.local.to_string(), "remote": s.path.remote.to_string(),
                "proposal": s.proposal.map(|p| p.to_string()),
                "children": s.children.iter().map(|c| json!({"in": spi32(c.spi_in),
                    "out": spi32(c.spi_out), "ts": {"local": ts_list(&c.ts_local),
                    "remote": ts_list(&c.ts_remote)}, "proposal": c.proposal.to_string(),
                    "installed_s": seconds(c.installed, now), "rekey_in_s": until(c.rekey_at),
                    "rekeyed": c.rekeyed})).collect::<Vec<_>>(),
                "mobike": s.mobike, "mobike_state": s.mobike_state,
                "local_addrs": addr_list(&s.local_addrs), "remote_addrs": addr_list(&s.remote_addrs),
                "nat_local": s.nat_local, "nat_remote": s.nat_remote,
                "initiator": s.initiator, "established_s": since(s.established),
                "rekey_in_s": until(s.rekey_at), "expires_in_s": until(s.expire_at),
                "next_mid": s.next_mid, "peer_mid": s.peer_mid,
                "outstanding_mid": s.outstanding_mid,
                "vip": s.vip.map(|v| v.to_string()), "remote_id": s.peer_id,
            })}).collect::<Vec<_>>()})
}

/// The MOBIKE events' bodies ([`event_json`]): paths, moves, addresses, NAT, checks.
fn mobike_json(ev: &EngineEvent) -> Value {
    let sa = sa_value;
    match ev {
        EngineEvent::Path {
            sa: id,
            path,
            state,
            rtt,
        } => {
            json!({"sa": sa(id), "local": path.local.to_string(), "remote": path.remote.to_string(),
                "state": state.name(), "rtt_ms": rtt.map(|d| d.as_secs_f64() * 1000.0)})
        }
        EngineEvent::Moved {
            sa: id,
            old,
            new,
            cause,
            elapsed,
            children,
        } => json!({"sa": sa(id), "old": path_json(old), "new": path_json(new),
                "cause": cause.name(), "elapsed_ms": elapsed.as_secs_f64() * 1000.0,
                "children": children}),
        EngineEvent::Addresses {
            sa: id,
            local,
            remote,
        } => json!({"sa": sa(id), "local": addr_list(local), "remote": addr_list(remote)}),
        EngineEvent::Nat {
            sa: id,
            local,
            remote,
            mapping_changed,
        } => {
            json!({"sa": sa(id), "local": local, "remote": remote, "mapping_changed": mapping_changed})
        }
        EngineEvent::RrCheck { sa: id, path, ok } => {
            json!({"sa": sa(id), "path": path_json(path), "ok": ok})
        }
        EngineEvent::MobikeNotify {
            sa: id,
            sent,
            notify,
            detail,
        } => json!({"sa": sa(id), "sent": sent,
                "notify": crate::wire::registry::notify_name(*notify).map(str::to_string).unwrap_or_else(|| notify.to_string()),
                "detail": detail}),
        EngineEvent::Hint {
            sa: id,
            path,
            hint,
            checked,
        } => json!({"sa": sa(id), "path": path_json(path), "hint": hint.to_string(),
                "checked": checked}),
        // only called with the events above
        _ => json!({}),
    }
}

/// The `ping` event: a running probe's periodic summary (`state` `running`), its final
/// numbers (`stopped`, `replaced`). Gap times are wall-clock, from engine time `now`.
pub fn ping_json(state: &str, s: &PingStats, src: IpAddr, now: Timestamp) -> Map<String, Value> {
    let ms = |d: Option<Duration>| {
        d.map(|d| Value::from((d.as_secs_f64() * 1e6).round() / 1e3))
            .unwrap_or(Value::Null)
    };
    let wall = |t: Timestamp| {
        SystemTime::now()
            .checked_sub(now.saturating_since(t))
            .map(|w| Value::from(rfc3339(w)))
            .unwrap_or(Value::Null)
    };
    let gap = s.longest_gap;
    let v = json!({"state": state, "src": src.to_string(), "dst": s.dst.to_string(),
        "sent": s.sent, "received": s.received, "lost": s.lost, "late": s.late_or_unknown,
        "rtt_min_ms": ms(s.rtt_min), "rtt_avg_ms": ms(s.rtt_avg), "rtt_max_ms": ms(s.rtt_max),
        "longest_gap_ms": ms(gap.map(|g| g.duration())),
        "gap_start": gap.map(|g| wall(g.start)).unwrap_or(Value::Null),
        "gap_end": gap.map(|g| wall(g.end)).unwrap_or(Value::Null),
        "gap_ongoing": gap.map(|g| g.ongoing)});
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Add each CHILD_SA's ESP counters (`esp`: {`sent`, `received`, ...}, absent before
/// its first packet) to a `status` event's body.
pub fn add_esp_counters(body: &mut Map<String, Value>, engine: &crate::engine::Engine) {
    let Some(Value::Array(sas)) = body.get_mut("sas") else {
        return;
    };
    for sa in sas {
        let Some(Value::Array(children)) = sa.get_mut("children") else {
            continue;
        };
        for child in children {
            let spi = child
                .get("in")
                .and_then(Value::as_str)
                .and_then(|h| u32::from_str_radix(h, 16).ok());
            let Some(esp) = spi.and_then(|s| engine.esp_sa(s)) else {
                continue;
            };
            let c = esp.counters;
            if let Value::Object(m) = child {
                m.insert(
                    "esp".into(),
                    json!({"sent": c.sent, "sent_bytes": c.sent_bytes, "received": c.received,
                        "received_bytes": c.received_bytes, "seq_out": esp.seq_out(),
                        "replay_top": esp.window().top(),
                        "integrity_failures": c.integrity_failures, "replayed": c.replayed,
                        "malformed": c.malformed, "unexpected_path": c.unexpected_path,
                        "outside_selectors": c.outside_selectors}),
                );
            }
        }
    }
}

/// The data-plane events ([`event_json`]).
fn esp_json(ev: &EngineEvent) -> Value {
    let sa = sa_value;
    match ev {
        EngineEvent::EspReceived {
            sa: id,
            spi_in,
            path,
            seq,
            next_header,
            packet,
        } => json!({"sa": sa(id), "spi": spi32(*spi_in), "path": path_json(path), "seq": seq,
                "next_header": next_header, "len": packet.len(),
                "inner": crate::child_sa::inner::inner_ip_summary(*next_header, packet)}),
        EngineEvent::EspError {
            sa: id,
            spi,
            path,
            error,
        } => {
            json!({"sa": id.as_ref().map(sa).unwrap_or(Value::Null), "spi": spi32(*spi), "path": path_json(path),
                "reason": error.to_string()})
        }
        EngineEvent::EspUnexpectedPath {
            sa: id,
            spi_in,
            expected,
            got,
            seq,
        } => json!({"sa": sa(id), "spi": spi32(*spi_in), "expected": path_json(expected),
                "got": path_json(got), "seq": seq}),
        // only called with the three events above
        _ => json!({}),
    }
}

fn path_json(p: &crate::engine::Path) -> Value {
    json!({"local": p.local.to_string(), "remote": p.remote.to_string()})
}

fn addr_list(v: &[IpAddr]) -> Value {
    Value::from(v.iter().map(|a| a.to_string()).collect::<Vec<_>>())
}

fn text_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        Value::Array(a) => a.iter().map(text_value).collect::<Vec<_>>().join(","),
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| format!("{k}:{}", text_value(v)))
            .collect::<Vec<_>>()
            .join(";"),
        other => other.to_string(),
    }
}

/// The text of a `ping` event's body.
fn ping_text(obj: &Map<String, Value>) -> String {
    let get = |k: &str| obj.get(k).map(text_value).unwrap_or_default();
    let ms = |k: &str| {
        obj.get(k)
            .and_then(Value::as_f64)
            .map_or("-".into(), |v| format!("{v:.3}"))
    };
    // wall-clock times of day, as the event lines show them
    let gap = match (obj.get("gap_start"), obj.get("gap_end")) {
        (Some(Value::String(a)), Some(Value::String(b))) => format!(
            " ({} .. {}{})",
            a.get(11..23).unwrap_or(a),
            b.get(11..23).unwrap_or(b),
            if obj.get("gap_ongoing") == Some(&Value::Bool(true)) {
                ", ongoing"
            } else {
                ""
            }
        ),
        _ => String::new(),
    };
    format!(
        "{} {} -> {}: sent {} received {} lost {} rtt min/avg/max {}/{}/{} ms, \
         longest gap {} ms{gap}",
        get("state"),
        get("src"),
        get("dst"),
        get("sent"),
        get("received"),
        get("lost"),
        ms("rtt_min_ms"),
        ms("rtt_avg_ms"),
        ms("rtt_max_ms"),
        ms("longest_gap_ms"),
    )
}

/// The text of an `esp_error` or `esp_unexpected_path` event's body.
fn esp_text(kind: EventKind, obj: &Map<String, Value>) -> String {
    let get = |k: &str| obj.get(k).map(text_value).unwrap_or_default();
    let side = |k: &str, s: &str| {
        obj.get(k)
            .and_then(|o| o.get(s))
            .map(text_value)
            .unwrap_or_default()
    };
    if kind == EventKind::EspError {
        return format!(
            "{} spi {} from {} to {}: {}",
            get("sa"),
            get("spi"),
            side("path", "remote"),
            side("path", "local"),
            get("reason")
        );
    }
    format!(
        "{} spi {} seq {} from {} to {}, expected {} -> {}",
        get("sa"),
        get("spi"),
        get("seq"),
        side("got", "remote"),
        side("got", "local"),
        side("expected", "remote"),
        side("expected", "local")
    )
}

/// One readable line for an event object (`event` and `time` included).
pub fn event_text(obj: &Map<String, Value>) -> String {
    let ev = obj.get("event").and_then(Value::as_str).unwrap_or("?");
    let time = obj
        .get("time")
        .and_then(Value::as_str)
        .map(|t| t.get(11..23).unwrap_or(t).to_string())
        .unwrap_or_default();
    let get = |k: &str| obj.get(k).map(text_value).unwrap_or_default();
    let body = match EventKind::from_name(ev) {
        Some(k @ (EventKind::Sent | EventKind::Received)) => message_text(k, obj),
        Some(EventKind::Path) => path_text(obj),
        Some(EventKind::Moved) => moved_text(obj),
        Some(EventKind::Addresses) => format!(
            "{} local [{}] remote [{}]",
            get("sa"),
            get("local"),
            get("remote")
        ),
        Some(EventKind::Nat) => nat_text(obj),
        Some(EventKind::RrCheck) => rr_check_text(obj),
        Some(EventKind::MobikeNotify) => mobike_notify_text(obj),
        Some(EventKind::Ping) => ping_text(obj),
        Some(k @ (EventKind::EspError | EventKind::EspUnexpectedPath)) => esp_text(k, obj),
        Some(EventKind::LocalAddrs) => {
            format!("{} {}: now [{}]", get("change"), get("addr"), get("addrs"))
        }
        Some(EventKind::Help) => help_text(obj),
        Some(EventKind::Status) => status_text(obj),
        _ => fields_text(obj),
    };
    format!("{time} {ev} {body}")
}

/// A `sent` or `received` event's text: the message and its direction.
fn message_text(kind: EventKind, obj: &Map<String, Value>) -> String {
    let get = |k: &str| obj.get(k).map(text_value).unwrap_or_default();
    format!(
        "{} {} {} {} [ {} ] {} {} {}",
        get("sa"),
        get("exchange"),
        if obj.get("response") == Some(&Value::Bool(true)) {
            "response"
        } else {
            "request"
        },
        get("message_id"),
        get("payloads"),
        get("local"),
        if kind == EventKind::Sent { "->" } else { "<-" },
        get("remote")
    )
}

/// A `path` event's text.
fn path_text(obj: &Map<String, Value>) -> String {
    let get = |k: &str| obj.get(k).map(text_value).unwrap_or_default();
    format!(
        "{} {} -> {} {}{}",
        get("sa"),
        get("local"),
        get("remote"),
        get("state"),
        obj.get("rtt_ms")
            .and_then(Value::as_f64)
            .map(|ms| format!(" rtt {ms:.1} ms"))
            .unwrap_or_default()
    )
}

/// A `moved` event's text: old and new path, cause, time taken.
fn moved_text(obj: &Map<String, Value>) -> String {
    let get = |k: &str| obj.get(k).map(text_value).unwrap_or_default();
    let p = |k: &str| {
        let o = obj.get(k);
        let side = |s: &str| o.and_then(|o| o.get(s)).map(text_value).unwrap_or_default();
        format!("{} -> {}", side("local"), side("remote"))
    };
    format!(
        "{} {} => {} ({}, {:.1} ms{})",
        get("sa"),
        p("old"),
        p("new"),
        get("cause"),
        obj.get("elapsed_ms").and_then(Value::as_f64).unwrap_or(0.0),
        if obj.get("children") == Some(&Value::Bool(true)) {
            ", CHILD_SAs moved"
        } else {
            ", CHILD_SAs not moved yet"
        }
    )
}

/// A `nat` event's text.
fn nat_text(obj: &Map<String, Value>) -> String {
    let get = |k: &str| obj.get(k).map(text_value).unwrap_or_default();
    let yes = |k: &str| obj.get(k) == Some(&Value::Bool(true));
    format!(
        "{} {}, {}{}",
        get("sa"),
        if yes("local") {
            "NAT in front of us"
        } else {
            "no NAT in front of us"
        },
        if yes("remote") {
            "NAT in front of the peer"
        } else {
            "no NAT in front of the peer"
        },
        if yes("mapping_changed") {
            ", mapping changed"
        } else {
            ""
        }
    )
}

/// An `rr_check` event's text.
fn rr_check_text(obj: &Map<String, Value>) -> String {
    let get = |k: &str| obj.get(k).map(text_value).unwrap_or_default();
    let side = |s: &str| {
        obj.get("path")
            .and_then(|o| o.get(s))
            .map(text_value)
            .unwrap_or_default()
    };
    format!(
        "{} {} -> {} {}",
        get("sa"),
        side("local"),
        side("remote"),
        if obj.get("ok") == Some(&Value::Bool(true)) {
            "ok"
        } else {
            "failed"
        }
    )
}

/// A `mobike_notify` event's text.
fn mobike_notify_text(obj: &Map<String, Value>) -> String {
    let get = |k: &str| obj.get(k).map(text_value).unwrap_or_default();
    format!(
        "{} {} {} {}",
        get("sa"),
        if obj.get("sent") == Some(&Value::Bool(true)) {
            "sent"
        } else {
            "received"
        },
        get("notify"),
        get("detail")
    )
}

/// The `help` event's text: a line per command.
fn help_text(obj: &Map<String, Value>) -> String {
    obj.get("commands")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .map(|c| {
                    format!(
                        "\n  {}  {}",
                        text_value(&c["command"]),
                        text_value(&c["help"])
                    )
                })
                .collect::<String>()
        })
        .unwrap_or_default()
}

/// The `status` event's text: the IKE SAs' fields, `|` between SAs.
fn status_text(obj: &Map<String, Value>) -> String {
    let sas = obj
        .get("sas")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if sas.is_empty() {
        "no IKE SAs".into()
    } else {
        sas.iter()
            .map(|s| {
                s.as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| format!("{k}={}", text_value(v)))
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join(" | ")
    }
}

/// Any other event's text: its fields (`sa` and `reason` bare).
fn fields_text(obj: &Map<String, Value>) -> String {
    obj.iter()
        .filter(|(k, _)| *k != "event" && *k != "time")
        .map(|(k, v)| {
            if k == "sa" || k == "reason" {
                text_value(v)
            } else {
                format!("{k}={}", text_value(v))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_lines() {
        let mut m = Map::new();
        m.insert("event".into(), "error".into());
        m.insert("time".into(), "2024-01-01T12:00:00.123456Z".into());
        m.insert("sa".into(), Value::Null);
        m.insert("reason".into(), "boom".into());
        assert_eq!(event_text(&m), "12:00:00.123 error - boom");
    }

    #[test]
    fn mobike_event_lines() {
        use crate::engine::{MoveCause, Path};
        use std::time::Duration;
        let path = Path::new(
            "127.0.0.4:4500".parse().unwrap(),
            "127.0.0.3:4500".parse().unwrap(),
        );
        let old = Path::new(
            "127.0.0.1:4500".parse().unwrap(),
            "127.0.0.2:4500".parse().unwrap(),
        );
        let line = |ev: EngineEvent| {
            let (name, mut m) = event_json(&ev);
            // the name is in the table drills wait by
            assert!(EventKind::from_name(name).is_some_and(EventKind::awaitable));
            m.insert("event".into(), name.into());
            m.insert("time".into(), "2024-01-01T12:00:00.123456Z".into());
            event_text(&m)
        };
        assert_eq!(
            line(EngineEvent::Moved {
                sa: SaId(1),
                old,
                new: path,
                cause: MoveCause::AddressLost,
                elapsed: Duration::from_millis(12),
                children: true,
            }),
            "12:00:00.123 moved #1 127.0.0.1:4500 -> 127.0.0.2:4500 => \
             127.0.0.4:4500 -> 127.0.0.3:4500 (address_lost, 12.0 ms, CHILD_SAs moved)"
        );
        assert_eq!(
            line(EngineEvent::Path {
                sa: SaId(1),
                path,
                state: crate::engine::PathState::Ok,
                rtt: Some(Duration::from_micros(1500)),
            }),
            "12:00:00.123 path #1 127.0.0.4:4500 -> 127.0.0.3:4500 ok rtt 1.5 ms"
        );
        assert_eq!(
            line(EngineEvent::Addresses {
                sa: SaId(2),
                local: vec!["127.0.0.4".parse().unwrap()],
                remote: vec!["127.0.0.2".parse().unwrap(), "127.0.0.3".parse().unwrap()],
            }),
            "12:00:00.123 addresses #2 local [127.0.0.4] remote [127.0.0.2,127.0.0.3]"
        );
        assert_eq!(
            line(EngineEvent::Nat {
                sa: SaId(1),
                local: true,
                remote: false,
                mapping_changed: true,
            }),
            "12:00:00.123 nat #1 NAT in front of us, no NAT in front of the peer, mapping changed"
        );
        assert_eq!(
            line(EngineEvent::RrCheck {
                sa: SaId(1),
                path,
                ok: false
            }),
            "12:00:00.123 rr_check #1 127.0.0.4:4500 -> 127.0.0.3:4500 failed"
        );
        assert_eq!(
            line(EngineEvent::MobikeNotify {
                sa: SaId(1),
                sent: false,
                notify: 40,
                detail: "refused".into(),
            }),
            "12:00:00.123 mobike_notify #1 received UNACCEPTABLE_ADDRESSES refused"
        );
    }

    #[test]
    fn esp_and_ping_event_lines() {
        use crate::dataplane::PingProbe;
        use crate::engine::esp::EspError;
        use crate::engine::Path;
        let path = Path::new(
            "127.0.0.4:4500".parse().unwrap(),
            "127.0.0.3:4500".parse().unwrap(),
        );
        let old = path.with_remote_port(4501);
        let line = |name: &str, mut m: Map<String, Value>| {
            m.insert("event".into(), name.into());
            m.insert("time".into(), "2024-01-01T12:00:00.123456Z".into());
            event_text(&m)
        };
        let (n, m) = event_json(&EngineEvent::EspError {
            sa: None,
            spi: 0xdead_beef,
            path,
            error: EspError::UnknownSpi(0xdead_beef),
        });
        assert_eq!(
            line(n, m),
            "12:00:00.123 esp_error - spi deadbeef from 127.0.0.3:4500 to 127.0.0.4:4500: \
             no CHILD_SA with SPI deadbeef"
        );
        let (n, m) = event_json(&EngineEvent::EspUnexpectedPath {
            sa: SaId(2),
            spi_in: 0xc0ff_ee01,
            expected: path,
            got: old,
            seq: 7,
        });
        assert_eq!(
            line(n, m),
            "12:00:00.123 esp_unexpected_path #2 spi c0ffee01 seq 7 from 127.0.0.3:4501 to \
             127.0.0.4:4500, expected 127.0.0.3:4500 -> 127.0.0.4:4500"
        );
        // a probe that never got a reply: the gap is ongoing since its start
        let t0 = Timestamp::from_secs(5);
        let src: IpAddr = "10.2.0.1".parse().unwrap();
        let mut p = PingProbe::new(
            t0,
            src,
            "10.1.0.1".parse().unwrap(),
            Duration::from_millis(10),
            1,
        );
        p.on_timeout(t0);
        let now = t0 + Duration::from_millis(250);
        let m = ping_json("stopped", &p.stats(now), src, now);
        assert_eq!(m["longest_gap_ms"], Value::from(250.0));
        assert_eq!(m["gap_ongoing"], Value::from(true));
        let text = line("ping", m);
        assert!(
            text.starts_with(
                "12:00:00.123 ping stopped 10.2.0.1 -> 10.1.0.1: sent 1 received 0 lost 0 \
                 rtt min/avg/max -/-/- ms, longest gap 250.000 ms ("
            ),
            "{text}"
        );
        assert!(text.ends_with(", ongoing)"), "{text}");
    }
}
