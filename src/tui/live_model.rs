//! What the live views show, built only from the peer's events (the same JSON events as
//! `mobikectl peer --events json` and the drills): the last `status` of every node, the
//! path tests (`path`), moves, address sets, NAT findings, the ping's counters, and a log.
//! So the UI holds no protocol logic and a peer in another process serves it as well.
use std::collections::{BTreeMap, VecDeque};

use serde_json::{Map, Value};

use crate::drill::TimedEvent;
use crate::engine::Timestamp;

/// Log lines kept (older ones are dropped and counted).
const LOG_LIMIT: usize = 20_000;
/// Path test results remembered per path.
const HISTORY: usize = 24;

/// One path's test results.
#[derive(Debug, Clone, PartialEq)]
pub struct PathRow {
    /// `untested`, `probing`, `ok`, `failed`.
    pub state: String,
    pub rtt_ms: Option<f64>,
    /// Recent results: `Some(rtt)` for ok, `None` for failed, oldest first.
    pub history: VecDeque<Option<f64>>,
    /// When the state last changed.
    pub at: Timestamp,
}

/// A move of an SA.
#[derive(Debug, Clone, PartialEq)]
pub struct MoveRow {
    pub at: Timestamp,
    pub sa: String,
    pub from: String,
    pub to: String,
    pub cause: String,
    pub elapsed_ms: Option<f64>,
}

/// One line of the event log.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    pub at: Timestamp,
    pub node: String,
    pub name: String,
    pub text: String,
    /// A `sent` or `received` event: which message (to decode it from the capture).
    pub msg: Option<MsgRef>,
}

/// An IKE message a `sent` or `received` event reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsgRef {
    /// The SA handle (`#1`).
    pub sa: String,
    /// `INFORMATIONAL`, ...
    pub exchange: String,
    pub message_id: u32,
    pub response: bool,
    /// Sent by the node (else received).
    pub sent: bool,
    /// The node's end and the other end (`ip:port`).
    pub local: String,
    pub remote: String,
}

impl MsgRef {
    fn of(name: &str, f: &Map<String, Value>) -> Option<MsgRef> {
        let sent = match name {
            "sent" => true,
            "received" => false,
            _ => return None,
        };
        Some(MsgRef {
            sa: text(f, "sa"),
            exchange: text(f, "exchange"),
            message_id: u32::try_from(f.get("message_id")?.as_u64()?).ok()?,
            response: f.get("response")?.as_bool()?,
            sent,
            local: text(f, "local"),
            remote: text(f, "remote"),
        })
    }
}

/// What identifies an IKE SA's messages on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaWire {
    pub spi_i: u64,
    /// 0 until the responder chose it.
    pub spi_r: u64,
    /// The node is this IKE SA's initiator (its messages carry the I flag).
    pub initiator: Option<bool>,
}

/// What one node (peer) reported.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeView {
    pub name: String,
    /// The SAs of its last `status` (each the event's object).
    pub sas: Vec<Map<String, Value>>,
    /// Path tests by (SA, local, remote).
    pub paths: BTreeMap<(String, String, String), PathRow>,
    pub moves: Vec<MoveRow>,
    /// Our addresses (`local_addrs`), when reported.
    pub local_addrs: Option<Vec<String>>,
    /// When an SA's address sets last changed (`addresses`).
    pub addresses_changed: Option<Timestamp>,
    /// The ping's last report.
    pub ping: Option<Map<String, Value>>,
    /// The last error the node reported.
    pub last_error: Option<String>,
    /// Every local address seen (so that one taken away stays on screen, to give back).
    pub known_local: Vec<String>,
    /// Pairs `drop` silences: (local, remote) addresses.
    pub dropped: Vec<(String, String)>,
    /// Where `ping` goes: the first host of the last CHILD_SA's remote selector.
    pub ping_target: Option<String>,
    /// SPIs and role of every IKE SA seen, by handle (also of SAs gone since), so that
    /// a logged message can be found in the capture.
    pub wire: BTreeMap<String, SaWire>,
}

impl NodeView {
    /// The SA with this handle.
    pub fn sa(&self, handle: &str) -> Option<&Map<String, Value>> {
        self.sas
            .iter()
            .find(|s| s.get("sa").and_then(Value::as_str) == Some(handle))
    }
}

/// Everything the live views show.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveModel {
    pub nodes: Vec<NodeView>,
    pub log: VecDeque<LogLine>,
    /// Log lines dropped to stay within `LOG_LIMIT`.
    pub dropped: u64,
    /// The last event's time.
    pub now: Timestamp,
    /// Why the source stopped, when it did.
    pub ended: Option<String>,
    /// UDP ports seen carrying IKE_SA_INIT (plain IKE), and other IKE messages.
    pub init_ports: std::collections::BTreeSet<u16>,
    pub other_ports: std::collections::BTreeSet<u16>,
}

fn spi_of(v: Option<&Value>) -> Option<u64> {
    u64::from_str_radix(v?.as_str()?, 16).ok()
}

fn port_of(s: &str) -> Option<u16> {
    s.parse::<std::net::SocketAddr>().ok().map(|a| a.port())
}

/// A field as text (`"#1"`, `192.0.2.1:4500`, numbers).
pub fn text(m: &Map<String, Value>, key: &str) -> String {
    match m.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(v) => v.to_string(),
    }
}

/// A list field as texts.
pub fn texts(m: &Map<String, Value>, key: &str) -> Vec<String> {
    m.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn remember(list: &mut Vec<String>, a: &str) {
    let a = ip_of(a);
    if !a.is_empty() && !list.contains(&a) {
        list.push(a);
    }
}

/// The address of `ip:port`, `[v6]:port` or a bare address.
pub fn ip_of(s: &str) -> String {
    if let Ok(sa) = s.parse::<std::net::SocketAddr>() {
        return sa.ip().to_string();
    }
    s.to_string()
}

/// The first host of a selector (`10.1.0.0/24` gives 10.1.0.1; `a..b` gives a; a single
/// address itself).
pub fn first_host(ts: &str) -> Option<String> {
    let ts = ts.split('[').next()?;
    if let Some((start, _)) = ts.split_once("..") {
        return Some(start.to_string());
    }
    let (addr, prefix) = ts.split_once('/').unwrap_or((ts, ""));
    let ip: std::net::IpAddr = addr.parse().ok()?;
    let full = if ip.is_ipv4() { 32 } else { 128 };
    let prefix: u32 = prefix.parse().unwrap_or(full);
    if prefix >= full {
        return Some(ip.to_string());
    }
    Some(match ip {
        std::net::IpAddr::V4(v4) => {
            std::net::Ipv4Addr::from(u32::from(v4).wrapping_add(1)).to_string()
        }
        std::net::IpAddr::V6(v6) => {
            std::net::Ipv6Addr::from(u128::from(v6).wrapping_add(1)).to_string()
        }
    })
}

impl LiveModel {
    /// A model with these nodes (in the order the views show them).
    pub fn new(nodes: &[String]) -> LiveModel {
        LiveModel {
            nodes: nodes
                .iter()
                .map(|n| NodeView {
                    name: n.clone(),
                    ..NodeView::default()
                })
                .collect(),
            ..LiveModel::default()
        }
    }

    fn node_mut(&mut self, name: &str) -> &mut NodeView {
        if let Some(i) = self.nodes.iter().position(|n| n.name == name) {
            return &mut self.nodes[i];
        }
        self.nodes.push(NodeView {
            name: name.to_string(),
            ..NodeView::default()
        });
        let last = self.nodes.len() - 1;
        &mut self.nodes[last]
    }

    /// Takes in one event.
    pub fn apply(&mut self, e: &TimedEvent) {
        self.now = self.now.max(e.at);
        // the periodic status the UI asks for is state, not news: not logged
        if e.name != "status" {
            self.log_event(e);
        }
        self.node_mut(&e.node).apply(&e.name, &e.fields, e.at);
    }

    /// The event log's line for `e`, and the ports its message went by.
    fn log_event(&mut self, e: &TimedEvent) {
        let msg = MsgRef::of(&e.name, &e.fields);
        if let Some(m) = &msg {
            let ports = if m.exchange == "IKE_SA_INIT" {
                &mut self.init_ports
            } else {
                &mut self.other_ports
            };
            ports.extend(
                [port_of(&m.local), port_of(&m.remote)]
                    .into_iter()
                    .flatten(),
            );
        }
        self.log.push_back(LogLine {
            at: e.at,
            node: e.node.clone(),
            name: e.name.clone(),
            text: e.describe(),
            msg,
        });
        if self.log.len() > LOG_LIMIT {
            self.log.pop_front();
            self.dropped += 1;
        }
    }
}

impl SaWire {
    /// From an event's SPIs (`spi_i`, `spi_r` or a rekey's `i`, `r`) and role.
    fn of(
        spis: &Map<String, Value>,
        i: &str,
        r: &str,
        role: &Map<String, Value>,
    ) -> Option<SaWire> {
        Some(SaWire {
            spi_i: spi_of(spis.get(i))?,
            spi_r: spi_of(spis.get(r)).unwrap_or(0),
            initiator: role.get("initiator").and_then(Value::as_bool),
        })
    }
}

impl NodeView {
    /// What event `name` of this node changes in its view.
    fn apply(&mut self, name: &str, f: &Map<String, Value>, at: Timestamp) {
        match name {
            "status" => self.take_status(f),
            "ike_up" => {
                if let Some(w) = SaWire::of(f, "spi_i", "spi_r", f) {
                    self.wire.insert(text(f, "sa"), w);
                }
            }
            "rekeyed" if text(f, "what") == "ike" => {
                let spis = f.get("new_spis").and_then(Value::as_object);
                if let Some(w) = spis.and_then(|s| SaWire::of(s, "i", "r", f)) {
                    self.wire.insert(text(f, "sa"), w);
                }
            }
            "child_up" => {
                let remote = f
                    .get("ts")
                    .and_then(Value::as_object)
                    .map(|ts| texts(ts, "remote"))
                    .unwrap_or_default();
                if let Some(t) = remote.first().and_then(|r| first_host(r)) {
                    self.ping_target = Some(t);
                }
            }
            "filter" if text(f, "what") == "drop" => {
                let pair = (ip_of(&text(f, "local")), ip_of(&text(f, "remote")));
                self.dropped.retain(|p| *p != pair);
                if f.get("on").and_then(Value::as_bool) == Some(true) {
                    self.dropped.push(pair);
                }
            }
            "path" => self.path_result(f, at),
            "moved" => self.moves.push(MoveRow::of(f, at)),
            "local_addrs" => {
                let addrs = texts(f, "addrs");
                for a in &addrs {
                    remember(&mut self.known_local, a);
                }
                remember(&mut self.known_local, &text(f, "addr"));
                self.local_addrs = Some(addrs);
            }
            "addresses" => self.addresses_changed = Some(at),
            "ping" => self.ping = Some(f.clone()),
            "error" => self.last_error = Some(text(f, "reason")),
            "ike_down" => {
                let sa = text(f, "sa");
                self.sas.retain(|s| text(s, "sa") != sa);
            }
            _ => {}
        }
    }

    /// The periodic status: the SAs as they are, their addresses and wire identities.
    fn take_status(&mut self, f: &Map<String, Value>) {
        self.sas = f
            .get("sas")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|v| v.as_object().cloned()).collect())
            .unwrap_or_default();
        let seen: Vec<String> = self
            .sas
            .iter()
            .flat_map(|s| texts(s, "local_addrs"))
            .collect();
        for a in seen {
            remember(&mut self.known_local, &a);
        }
        for s in &self.sas {
            if let Some(w) = SaWire::of(s, "spi_i", "spi_r", s) {
                self.wire.insert(text(s, "sa"), w);
            }
        }
    }

    /// A path test's result: the pair's state, last RTT and RTT history.
    fn path_result(&mut self, f: &Map<String, Value>, at: Timestamp) {
        let key = (text(f, "sa"), text(f, "local"), text(f, "remote"));
        let state = text(f, "state");
        let rtt = f.get("rtt_ms").and_then(Value::as_f64);
        let row = self.paths.entry(key).or_insert_with(|| PathRow {
            state: String::new(),
            rtt_ms: None,
            history: VecDeque::new(),
            at,
        });
        match state.as_str() {
            "ok" => row.history.push_back(rtt),
            "failed" => row.history.push_back(None),
            _ => {}
        }
        while row.history.len() > HISTORY {
            row.history.pop_front();
        }
        if row.state != state {
            row.at = at;
        }
        row.state = state;
        if rtt.is_some() {
            row.rtt_ms = rtt;
        }
    }
}

impl MoveRow {
    fn of(f: &Map<String, Value>, at: Timestamp) -> MoveRow {
        let end = |k: &str| {
            f.get(k)
                .and_then(Value::as_object)
                .map(|o| format!("{} -> {}", text(o, "local"), text(o, "remote")))
                .unwrap_or_default()
        };
        MoveRow {
            at,
            sa: text(f, "sa"),
            from: end("old"),
            to: end("new"),
            cause: text(f, "cause"),
            elapsed_ms: f.get("elapsed_ms").and_then(Value::as_f64),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(at: u64, node: &str, name: &str, fields: Value) -> TimedEvent {
        TimedEvent {
            at: Timestamp::from_millis(at),
            node: node.into(),
            name: name.into(),
            fields: fields.as_object().cloned().unwrap_or_default(),
        }
    }

    #[test]
    fn selectors_give_a_ping_target() {
        assert_eq!(first_host("10.1.0.0/24").as_deref(), Some("10.1.0.1"));
        assert_eq!(first_host("10.1.0.7/32").as_deref(), Some("10.1.0.7"));
        assert_eq!(
            first_host("10.1.0.5..10.1.0.9[6/0-80]").as_deref(),
            Some("10.1.0.5")
        );
        assert_eq!(first_host("fd00::/64").as_deref(), Some("fd00::1"));
        assert_eq!(first_host("nonsense"), None);
        assert_eq!(ip_of("[fd00::1]:500"), "fd00::1");
    }

    #[test]
    fn paths_keep_their_history_and_status_is_state_not_log() {
        let mut m = LiveModel::new(&["initiator".into()]);
        m.apply(&ev(
            1,
            "initiator",
            "status",
            json!({"sas": [{"sa": "#1", "local": "127.0.0.2:500"}]}),
        ));
        assert!(m.log.is_empty());
        assert_eq!(
            m.nodes[0].sa("#1").map(|s| text(s, "local")),
            Some("127.0.0.2:500".into())
        );
        for (t, state, rtt) in [
            (2, "probing", None),
            (3, "ok", Some(1.5)),
            (4, "failed", None),
        ] {
            let mut f = json!({"sa": "#1", "local": "a", "remote": "b", "state": state});
            if let Some(r) = rtt {
                f["rtt_ms"] = json!(r);
            }
            m.apply(&ev(t, "initiator", "path", f));
        }
        let row = &m.nodes[0].paths[&("#1".into(), "a".into(), "b".into())];
        assert_eq!(row.state, "failed");
        assert_eq!(row.rtt_ms, Some(1.5));
        assert_eq!(row.history, [Some(1.5), None]);
        assert_eq!(m.log.len(), 3);
        m.apply(&ev(
            5,
            "responder",
            "moved",
            json!({"sa": "#1", "cause": "peer_moved",
            "old": {"local": "x", "remote": "y"}, "new": {"local": "x", "remote": "z"}}),
        ));
        assert_eq!(m.nodes.len(), 2, "a node not announced is added");
        assert_eq!(m.nodes[1].moves[0].to, "x -> z");
        m.apply(&ev(6, "initiator", "ike_down", json!({"sa": "#1"})));
        assert!(m.nodes[0].sas.is_empty());
    }
}
