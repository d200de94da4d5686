//! `--svg FILE`: a self-contained picture of a drill run (no fonts, style sheets or
//! scripts from outside; inline attributes only; every event has a `<title>` tooltip).
//!
//! The picture is a pure function of the [`DrillOutcome`]: the same run gives the same
//! bytes. From top to bottom:
//!
//! * title (the drill file) and a summary line;
//! * an annotation track: every `mark` (a flag, with a dashed line down through the
//!   lanes), every failed step (a red flag), every `measure` (a bracket from its mark to
//!   the event, labelled with the value), every data-plane gap;
//! * one lane per path. A path is a pair of addresses; the two mirror images of a path
//!   (the initiator's `A -> B`, the responder's `B -> A`) share one lane, so that a
//!   message sent on one side and received on the other is one line across the lane:
//!   from the top edge (end A, the end that first used the path) to the bottom edge (end
//!   B) or back, at the times it was sent and received. Requests are solid, responses
//!   dashed, coloured by kind (setup, probe, UPDATE_SA_ADDRESSES, COOKIE2 check,
//!   other); a message seen on one side only is a short stub. Behind a NAT the two
//!   sides see different addresses, hence different lanes. A thick bar in a node's
//!   colour shows while an IKE SA of that node is on the path; the strip at the bottom
//!   edge is the path's state (untested, probing, ok, failed: the latest report of any
//!   node); a diamond is a return-routability check;
//! * `moved` events: arrows from the old lane to the new one in the node's colour
//!   (dashed while the CHILD_SAs have not moved yet);
//! * one row per node: its moves (cause, elapsed), NAT findings, IKE/CHILD SA up and
//!   down, timeouts, errors, pings, and a dot for every other event;
//! * the time axis (ms, s or m:ss, chosen by the span) and a legend.
//!
//! The dark interval is shaded over everything: for now the interval from a trigger to
//! the move completing, i.e. each `measure` (mark to event) and each `moved` with its
//! CHILD_SAs moved (its `elapsed_ms` before it). Data-plane gaps are shaded in red:
//! [`DarkInterval`]s of kind [`DarkKind::DataGap`], read from `ping` events
//! ([`ping_gap`]). Long quiet stretches (a `sleep 10m`) are cut out of the time axis and
//! drawn as a narrow break labelled with the time skipped, so that a 10 ms burst and a
//! 10 min run both stay readable.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

use super::run::{format_duration, DrillOutcome, StepRecord, TimedEvent, Verdict};

/// Total width of the picture.
const WIDTH: f64 = 1280.0;
/// Height of one path lane.
const LANE_H: f64 = 42.0;
/// Height of one packed label row.
const ROW_H: f64 = 14.0;
/// Width of a cut-out quiet stretch on the time axis.
const BREAK_W: f64 = 44.0;
/// At most this many rows of labels in the annotation track and in each node's row.
const MAX_LABEL_ROWS: usize = 8;
/// Page margin.
const MARGIN: f64 = 16.0;
/// Node colours, by order of first appearance.
const NODE_COLOURS: [&str; 6] = [
    "#1f6fb4", "#a0522d", "#2f4f4f", "#8b008b", "#556b2f", "#4b0082",
];

// ---------------------------------------------------------------- the model

/// A path lane: the addresses of its two ends (A used it first).
#[derive(Debug, Clone, PartialEq)]
struct Lane {
    a: String,
    b: String,
    /// Nodes that reported it, in order of first report.
    nodes: Vec<String>,
}

/// What an IKE message was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MessageKind {
    Setup,
    Probe,
    Update,
    Cookie2,
    Other,
}

impl MessageKind {
    fn colour(self) -> &'static str {
        match self {
            MessageKind::Setup => "#666666",
            MessageKind::Probe => "#e08a00",
            MessageKind::Update => "#7b3fb5",
            MessageKind::Cookie2 => "#1a9bb0",
            MessageKind::Other => "#2a6fbf",
        }
    }
}

/// One IKE message on a lane; times in ms since the start; `None`: not seen.
#[derive(Debug, Clone, PartialEq)]
struct Message {
    lane: usize,
    /// Sent by end A (drawn from the top edge down).
    from_a: bool,
    sent: Option<f64>,
    received: Option<f64>,
    kind: MessageKind,
    response: bool,
    /// Exchange, message ID, response: for pairing.
    key: String,
    tooltip: String,
}

/// A path state report.
#[derive(Debug, Clone, PartialEq)]
struct StateChange {
    lane: usize,
    at: f64,
    state: String,
    tooltip: String,
}

/// While an IKE SA of a node was on a lane.
#[derive(Debug, Clone, PartialEq)]
struct SaSpan {
    node: usize,
    lane: usize,
    from: f64,
    to: f64,
}

/// A `moved` event.
#[derive(Debug, Clone, PartialEq)]
struct Move {
    node: usize,
    at: f64,
    old: usize,
    new: usize,
    children: bool,
    label: String,
    tooltip: String,
}

/// Something on a node's row (or, with `lane`, a mark on a lane).
#[derive(Debug, Clone, PartialEq)]
struct NodeMark {
    node: usize,
    at: f64,
    colour: &'static str,
    /// Shown text; empty: only a dot.
    label: String,
    tooltip: String,
    lane: Option<usize>,
}

/// A flag of the annotation track, with a dashed line down: a `mark`, a failed step.
#[derive(Debug, Clone, PartialEq)]
struct Flag {
    at: f64,
    name: String,
    colour: &'static str,
    tooltip: String,
}

/// A bracketed interval of the annotation track.
#[derive(Debug, Clone, PartialEq)]
struct Bracket {
    from: f64,
    to: f64,
    label: String,
    colour: &'static str,
}

/// Why an interval is shaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DarkKind {
    /// From a trigger to the move completing (a `measure`, a `moved` event's elapsed).
    Move,
    /// No data-plane reply got through (a `ping` event's longest gap).
    DataGap,
}

/// A shaded interval, in ms since the drill started.
#[derive(Debug, Clone, PartialEq)]
pub struct DarkInterval {
    /// Start.
    pub from_ms: f64,
    /// End.
    pub to_ms: f64,
    /// Why.
    pub kind: DarkKind,
}

/// Everything the picture shows, times in ms since the drill started.
#[derive(Debug, Clone, Default, PartialEq)]
struct Picture {
    title: String,
    summary: String,
    nodes: Vec<String>,
    lanes: Vec<Lane>,
    messages: Vec<Message>,
    states: Vec<StateChange>,
    spans: Vec<SaSpan>,
    moves: Vec<Move>,
    node_marks: Vec<NodeMark>,
    marks: Vec<Flag>,
    brackets: Vec<Bracket>,
    dark: Vec<DarkInterval>,
    end: f64,
    /// The latest NAT state per node, to label only changes.
    nat_seen: BTreeMap<usize, String>,
}

fn ms_since(outcome: &DrillOutcome, e: &TimedEvent) -> f64 {
    e.at.saturating_since(outcome.started).as_secs_f64() * 1000.0
}

fn text_of(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn field(e: &TimedEvent, key: &str) -> String {
    text_of(e.fields.get(key))
}

/// A path end `key.sub` (`old.local`).
fn sub_end(e: &TimedEvent, key: &str, sub: &str) -> String {
    end_of(e.fields.get(key).and_then(|v| v.get(sub)))
}

/// A path end: only a string is one.
fn end_of(v: Option<&Value>) -> String {
    v.and_then(Value::as_str).unwrap_or("").to_string()
}

fn number(e: &TimedEvent, key: &str) -> Option<f64> {
    e.fields
        .get(key)
        .and_then(Value::as_f64)
        .filter(|v| v.is_finite())
}

fn is_true(e: &TimedEvent, key: &str) -> bool {
    e.fields.get(key) == Some(&Value::Bool(true))
}

/// The lanes seen so far, keyed by their unordered pair of ends.
#[derive(Debug, Default)]
struct LaneBook {
    lanes: Vec<Lane>,
    index: BTreeMap<(String, String), usize>,
}

impl LaneBook {
    /// The lane of `local`-`remote`, reported by `node`; `None` when an end is missing.
    fn lane(&mut self, local: &str, remote: &str, node: &str) -> Option<usize> {
        if local.is_empty() || remote.is_empty() {
            return None;
        }
        let key = if local <= remote {
            (local.to_string(), remote.to_string())
        } else {
            (remote.to_string(), local.to_string())
        };
        let i = *self.index.entry(key).or_insert_with(|| {
            self.lanes.push(Lane {
                a: local.to_string(),
                b: remote.to_string(),
                nodes: vec![],
            });
            self.lanes.len() - 1
        });
        if let Some(lane) = self.lanes.get_mut(i) {
            if !lane.nodes.iter().any(|n| n == node) {
                lane.nodes.push(node.to_string());
            }
        }
        Some(i)
    }

    fn a_end(&self, lane: usize) -> &str {
        self.lanes.get(lane).map(|l| l.a.as_str()).unwrap_or("")
    }
}

fn message_kind(e: &TimedEvent) -> MessageKind {
    let exchange = field(e, "exchange");
    if matches!(
        exchange.as_str(),
        "IKE_SA_INIT" | "IKE_AUTH" | "CREATE_CHILD_SA"
    ) {
        return MessageKind::Setup;
    }
    let payloads = text_of(e.fields.get("payloads"));
    if payloads.contains("UPDATE_SA_ADDRESSES") {
        return MessageKind::Update;
    }
    if payloads.contains("COOKIE2") {
        return MessageKind::Cookie2;
    }
    let rest = payloads
        .replace("N(NAT_DETECTION_SOURCE_IP)", "")
        .replace("N(NAT_DETECTION_DESTINATION_IP)", "")
        .replace("SK", "");
    if rest
        .chars()
        .all(|c| "{}[]\",".contains(c) || c.is_whitespace())
    {
        MessageKind::Probe
    } else {
        MessageKind::Other
    }
}

/// A `sent` or `received` event: a new message, or the other side of one already sent.
fn add_message(book: &mut LaneBook, messages: &mut Vec<Message>, e: &TimedEvent, at: f64) {
    let (local, remote) = (
        end_of(e.fields.get("local")),
        end_of(e.fields.get("remote")),
    );
    let Some(lane) = book.lane(&local, &remote, &e.node) else {
        return;
    };
    let sent = e.name == "sent";
    let sender = if sent { &local } else { &remote };
    let from_a = book.a_end(lane) == sender;
    let response = is_true(e, "response");
    let key = format!(
        "{} {} {}",
        field(e, "exchange"),
        field(e, "message_id"),
        response
    );
    if !sent {
        let pending = messages.iter_mut().rev().find(|m| {
            m.lane == lane
                && m.from_a == from_a
                && m.key == key
                && m.received.is_none()
                && m.sent.is_some_and(|s| s <= at)
        });
        if let Some(m) = pending {
            m.received = Some(at);
            m.tooltip = format!("{}\n{}", m.tooltip, e.describe());
            return;
        }
    }
    messages.push(Message {
        lane,
        from_a,
        sent: sent.then_some(at),
        received: (!sent).then_some(at),
        kind: message_kind(e),
        response,
        key,
        tooltip: e.describe(),
    });
}

/// The node's index, added on first sight.
fn node_index(nodes: &mut Vec<String>, node: &str) -> usize {
    match nodes.iter().position(|n| n == node) {
        Some(i) => i,
        None => {
            nodes.push(node.to_string());
            nodes.len() - 1
        }
    }
}

/// Per node and SA: the lane it is on and since when.
type Current = BTreeMap<(usize, String), (usize, f64)>;

fn close_span(spans: &mut Vec<SaSpan>, current: &mut Current, key: &(usize, String), at: f64) {
    if let Some((lane, from)) = current.remove(key) {
        spans.push(SaSpan {
            node: key.0,
            lane,
            from,
            to: at,
        });
    }
}

fn add_move(p: &mut Picture, book: &mut LaneBook, current: &mut Current, e: &TimedEvent, at: f64) {
    let node = node_index(&mut p.nodes, &e.node);
    let old = book.lane(
        &sub_end(e, "old", "local"),
        &sub_end(e, "old", "remote"),
        &e.node,
    );
    let new = book.lane(
        &sub_end(e, "new", "local"),
        &sub_end(e, "new", "remote"),
        &e.node,
    );
    let (Some(old), Some(new)) = (old, new) else {
        return;
    };
    let key = (node, field(e, "sa"));
    if current.get(&key).map(|c| c.0) != Some(new) {
        close_span(&mut p.spans, current, &key, at);
        current.insert(key, (new, at));
    }
    let elapsed = number(e, "elapsed_ms").unwrap_or(0.0).max(0.0);
    let children = is_true(e, "children");
    if children && elapsed > 0.0 {
        p.dark.push(DarkInterval {
            from_ms: (at - elapsed).max(0.0),
            to_ms: at,
            kind: DarkKind::Move,
        });
    }
    p.moves.push(Move {
        node,
        at,
        old,
        new,
        children,
        label: if children {
            format!("moved: {}, {}", field(e, "cause"), ms_text(elapsed))
        } else {
            format!("moved (IKE SA only): {}", field(e, "cause"))
        },
        tooltip: e.describe(),
    });
}

/// The data-plane gap a `ping` event reports, in ms since the start, from the first of:
/// * `gap_start_ms` and `gap_end_ms`: ms since the drill started;
/// * `gap_start` and `gap_end`: RFC 3339 wall-clock times, placed by the event's own
///   wall-clock `time` (as `mobikectl peer` writes them);
/// * `gap_ongoing` true: a gap of `longest_gap_ms` that ends at the event.
pub fn ping_gap(e: &TimedEvent, at_ms: f64) -> Option<DarkInterval> {
    let wall = |key: &str| {
        let time = seconds_of_day(&field(e, "time"))?;
        let t = seconds_of_day(&field(e, key))?;
        let ahead = (t - time + 43_200.0).rem_euclid(86_400.0) - 43_200.0;
        Some(at_ms + ahead * 1000.0)
    };
    let (from_ms, to_ms) = match (number(e, "gap_start_ms"), number(e, "gap_end_ms")) {
        (Some(s), Some(t)) => (s, t),
        _ => match (wall("gap_start"), wall("gap_end")) {
            (Some(s), Some(t)) => (s, t),
            _ if is_true(e, "gap_ongoing") => (at_ms - number(e, "longest_gap_ms")?, at_ms),
            _ => return None,
        },
    };
    (from_ms < to_ms).then_some(DarkInterval {
        from_ms: from_ms.max(0.0),
        to_ms,
        kind: DarkKind::DataGap,
    })
}

/// The time of day of an RFC 3339 time (`2026-01-02T03:04:05.25Z`: 11045.25 s); the
/// date and offset are left out (the times compared come from one clock).
fn seconds_of_day(rfc3339: &str) -> Option<f64> {
    let time = rfc3339.split_once(['T', 't'])?.1;
    let end = time.find(['Z', 'z', '+', '-']).unwrap_or(time.len());
    let mut parts = time.get(..end)?.split(':');
    let hours: f64 = parts.next()?.parse().ok()?;
    let minutes: f64 = parts.next()?.parse().ok()?;
    let seconds: f64 = parts.next()?.parse().ok()?;
    let total = hours * 3600.0 + minutes * 60.0 + seconds;
    total.is_finite().then_some(total)
}

/// The label and colour of an event on its node's row (`None`: drawn elsewhere).
fn row_label(e: &TimedEvent) -> Option<(String, &'static str)> {
    let label = match e.name.as_str() {
        "sent" | "received" | "path" | "moved" | "status" => return None,
        "ike_up" => ("IKE SA up".to_string(), "#2e8b57"),
        "child_up" => ("CHILD_SA up".to_string(), "#2e8b57"),
        "ike_down" => (format!("IKE SA down: {}", field(e, "reason")), "#d03030"),
        "child_down" => ("CHILD_SA down".to_string(), "#d03030"),
        "timeout" => (format!("timeout {}", field(e, "exchange")), "#d03030"),
        "error" => (format!("error: {}", field(e, "reason")), "#d03030"),
        "nat" => (nat_state(e), "#b8860b"),
        "rr_check" => (String::new(), "#1a9bb0"),
        "local_addrs" => (
            format!("{} {}", field(e, "change"), field(e, "addr")),
            "#555555",
        ),
        "ping" => (ping_label(e), "#d03030"),
        _ => (String::new(), "#888888"),
    };
    Some(label)
}

/// `ping: 3 lost, longest gap 250.0 ms`, with what the event has.
fn ping_label(e: &TimedEvent) -> String {
    let mut parts = vec![];
    if let Some(lost) = number(e, "lost") {
        parts.push(format!("{lost} lost"));
    }
    if let Some(gap) = number(e, "longest_gap_ms") {
        parts.push(format!("longest gap {}", ms_text(gap)));
    }
    if parts.is_empty() {
        "ping".into()
    } else {
        format!("ping: {}", parts.join(", "))
    }
}

/// `NAT here`, `NAT at peer`, both, or `no NAT`.
fn nat_state(e: &TimedEvent) -> String {
    match (is_true(e, "local"), is_true(e, "remote")) {
        (true, true) => "NAT here and at peer".into(),
        (true, false) => "NAT here".into(),
        (false, true) => "NAT at peer".into(),
        (false, false) => "no NAT".into(),
    }
}

fn add_node_mark(p: &mut Picture, book: &mut LaneBook, e: &TimedEvent, at: f64) {
    let Some((mut label, colour)) = row_label(e) else {
        return;
    };
    let node = node_index(&mut p.nodes, &e.node);
    if e.name == "nat" {
        let state = nat_state(e);
        let before = p.nat_seen.insert(node, state.clone());
        let changed = before.as_deref().unwrap_or("no NAT") != state;
        label = match (is_true(e, "mapping_changed"), changed) {
            (true, _) if state == "no NAT" => "NAT mapping changed".into(),
            (true, _) => format!("{state}, mapping changed"),
            (false, true) => state,
            (false, false) => String::new(),
        };
    }
    let lane = if e.name == "rr_check" {
        book.lane(
            &sub_end(e, "path", "local"),
            &sub_end(e, "path", "remote"),
            &e.node,
        )
    } else {
        None
    };
    let colour = if e.name == "rr_check" && !is_true(e, "ok") {
        "#d03030"
    } else {
        colour
    };
    p.node_marks.push(NodeMark {
        node,
        at,
        colour,
        label,
        tooltip: e.describe(),
        lane,
    });
}

/// Lanes, messages, states, SA spans, moves and node marks from the events.
fn collect_events(outcome: &DrillOutcome, p: &mut Picture) {
    let mut book = LaneBook::default();
    let mut current = Current::new();
    for e in &outcome.events {
        let at = ms_since(outcome, e);
        p.end = p.end.max(at);
        let node = node_index(&mut p.nodes, &e.node);
        match e.name.as_str() {
            "sent" | "received" => add_message(&mut book, &mut p.messages, e, at),
            "path" => {
                if let Some(lane) = book.lane(
                    &end_of(e.fields.get("local")),
                    &end_of(e.fields.get("remote")),
                    &e.node,
                ) {
                    p.states.push(StateChange {
                        lane,
                        at,
                        state: field(e, "state"),
                        tooltip: e.describe(),
                    });
                }
            }
            "ike_up" => {
                if let Some(lane) = book.lane(
                    &end_of(e.fields.get("local")),
                    &end_of(e.fields.get("remote")),
                    &e.node,
                ) {
                    let key = (node, field(e, "sa"));
                    close_span(&mut p.spans, &mut current, &key, at);
                    current.insert(key, (lane, at));
                }
            }
            "ike_down" => close_span(&mut p.spans, &mut current, &(node, field(e, "sa")), at),
            "moved" => add_move(p, &mut book, &mut current, e, at),
            "ping" => p.dark.extend(ping_gap(e, at)),
            _ => {}
        }
        add_node_mark(p, &mut book, e, at);
    }
    let end = p.end;
    let keys: Vec<_> = current.keys().cloned().collect();
    for key in keys {
        close_span(&mut p.spans, &mut current, &key, end);
    }
    p.lanes = book.lanes;
}

/// `[NODE:] WORD ARGS...` without the node prefix.
fn statement_words(s: &StepRecord) -> Vec<&str> {
    let mut words: Vec<&str> = s.statement.split_whitespace().collect();
    if words.first().is_some_and(|w| w.ends_with(':')) {
        words.remove(0);
    }
    words
}

/// Marks, measurement brackets and their dark intervals from the steps.
fn collect_steps(outcome: &DrillOutcome, p: &mut Picture) {
    let mut mark_times: BTreeMap<String, f64> = BTreeMap::new();
    for s in &outcome.steps {
        let at = s.at.as_secs_f64() * 1000.0;
        p.end = p.end.max(at);
        let words = statement_words(s);
        let keyword = words.first().map(|w| w.to_ascii_lowercase());
        match (keyword.as_deref(), words.get(1)) {
            (Some("mark"), Some(name)) => {
                mark_times.insert(name.to_string(), at);
                p.marks.push(Flag {
                    at,
                    name: name.to_string(),
                    colour: "#444444",
                    tooltip: format!("line {}: {}", s.line, s.statement),
                });
            }
            (Some("measure"), Some(name)) => {
                let from = words.get(3).and_then(|m| mark_times.get(*m));
                if let (Some(&from), Some(value)) = (from, s.measured) {
                    let to = from + value.as_secs_f64() * 1000.0;
                    p.brackets.push(Bracket {
                        from,
                        to,
                        label: format!("{name} {}", format_duration(value)),
                        colour: "#333333",
                    });
                    p.dark.push(DarkInterval {
                        from_ms: from,
                        to_ms: to,
                        kind: DarkKind::Move,
                    });
                }
            }
            _ => {}
        }
        if s.verdict == Verdict::Failed {
            p.marks.push(Flag {
                at,
                name: format!("line {} FAILED", s.line),
                colour: "#d03030",
                tooltip: format!("line {}: {}\n{}", s.line, s.statement, s.detail),
            });
        }
    }
}

fn summary(outcome: &DrillOutcome, p: &Picture) -> String {
    let failed: Vec<String> = outcome.failures().map(|s| s.line.to_string()).collect();
    let verdict = if failed.is_empty() {
        "every expectation held".to_string()
    } else {
        format!("FAILED at line {}", failed.join(", "))
    };
    let stopped = outcome
        .stopped
        .as_ref()
        .map(|w| format!("; stopped: {w}"))
        .unwrap_or_default();
    format!(
        "{}, {}, {}, {}; {verdict}{stopped}",
        count(outcome.events.len(), "event"),
        count(p.lanes.len(), "path"),
        count(p.nodes.len(), "node"),
        ms_text(p.end)
    )
}

/// `1 path`, `2 paths`.
fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

fn picture(outcome: &DrillOutcome) -> Picture {
    let mut p = Picture {
        title: format!("drill {}", outcome.file),
        ..Picture::default()
    };
    collect_events(outcome, &mut p);
    collect_steps(outcome, &mut p);
    for gap in p.dark.iter().filter(|d| d.kind == DarkKind::DataGap) {
        p.end = p.end.max(gap.to_ms);
    }
    let gaps: Vec<Bracket> = p
        .dark
        .iter()
        .filter(|d| d.kind == DarkKind::DataGap)
        .map(|d| Bracket {
            from: d.from_ms,
            to: d.to_ms,
            label: format!("data-plane gap {}", ms_text(d.to_ms - d.from_ms)),
            colour: "#c0392b",
        })
        .collect();
    p.brackets.extend(gaps);
    p.summary = summary(outcome, &p);
    p
}

// ---------------------------------------------------------------- the time axis

/// `12.5 ms`, `1.25 s`, `2m30s`.
fn ms_text(ms: f64) -> String {
    if !ms.is_finite() {
        return "?".into();
    }
    if ms < 1000.0 {
        format!("{ms:.1} ms")
    } else if ms < 60_000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else {
        let s = (ms / 1000.0).round() as u64;
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

/// A stretch of the axis: linear, or a cut-out quiet stretch.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Piece {
    t0: f64,
    t1: f64,
    x0: f64,
    x1: f64,
    cut: bool,
}

/// Time (ms) to x, piecewise linear with the quiet stretches cut out.
#[derive(Debug, Clone, PartialEq)]
struct TimeScale {
    pieces: Vec<Piece>,
    /// The whole span, for label units.
    span: f64,
}

impl TimeScale {
    fn x(&self, t: f64) -> f64 {
        let t = if t.is_finite() { t } else { 0.0 };
        for p in &self.pieces {
            if t <= p.t1 {
                let f = if p.t1 > p.t0 {
                    ((t - p.t0) / (p.t1 - p.t0)).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                return p.x0 + f * (p.x1 - p.x0);
            }
        }
        self.pieces.last().map(|p| p.x1).unwrap_or(0.0)
    }
}

/// Quiet stretches worth cutting: gaps between activity ten times the median gap and
/// longer than a twentieth of the span (at most the 8 longest), each less a margin on
/// both sides.
fn quiet_stretches(times: &[f64], span: f64) -> Vec<(f64, f64)> {
    let mut sorted: Vec<f64> = times
        .iter()
        .copied()
        .filter(|t| t.is_finite() && *t >= 0.0 && *t <= span)
        .collect();
    sorted.extend([0.0, span]);
    sorted.sort_by(f64::total_cmp);
    let mut gaps: Vec<(f64, f64)> = sorted
        .windows(2)
        .filter_map(|w| match w {
            [a, b] if b > a => Some((*a, *b)),
            _ => None,
        })
        .collect();
    gaps.sort_by(|x, y| (y.1 - y.0).total_cmp(&(x.1 - x.0)));
    let median = gaps.get(gaps.len() / 2).map_or(0.0, |g| g.1 - g.0);
    gaps.retain(|(a, b)| b - a > 10.0 * median && b - a > span / 20.0);
    gaps.truncate(8);
    let active = span - gaps.iter().map(|(a, b)| b - a).sum::<f64>();
    let pad = active * 0.04;
    let mut cuts: Vec<(f64, f64)> = gaps
        .into_iter()
        .map(|(a, b)| (a + pad, b - pad))
        .filter(|(a, b)| b - a > pad)
        .collect();
    cuts.sort_by(|x, y| x.0.total_cmp(&y.0));
    cuts
}

fn time_scale(times: &[f64], span: f64, x0: f64, x1: f64) -> TimeScale {
    let span = if span.is_finite() && span > 0.0 {
        span
    } else {
        1.0
    };
    let cuts = quiet_stretches(times, span);
    let cut_total: f64 = cuts.iter().map(|c| c.1 - c.0).sum();
    let width = x1 - x0 - BREAK_W * cuts.len() as f64;
    let per_ms = width / (span - cut_total).max(1e-9);
    let mut pieces = vec![];
    let (mut t, mut x) = (0.0, x0);
    for (a, b) in cuts {
        let xa = x + (a - t) * per_ms;
        pieces.push(Piece {
            t0: t,
            t1: a,
            x0: x,
            x1: xa,
            cut: false,
        });
        pieces.push(Piece {
            t0: a,
            t1: b,
            x0: xa,
            x1: xa + BREAK_W,
            cut: true,
        });
        (t, x) = (b, xa + BREAK_W);
    }
    pieces.push(Piece {
        t0: t,
        t1: span,
        x0: x,
        x1,
        cut: false,
    });
    TimeScale { pieces, span }
}

/// Tick steps in ms: 1-2-5 up to 5 s, then minutes-friendly ones.
fn tick_step(min_ms: f64) -> f64 {
    let mut steps = vec![];
    let mut decade = 0.001;
    while decade < 10_000.0 {
        steps.extend([decade, 2.0 * decade, 5.0 * decade]);
        decade *= 10.0;
    }
    steps.extend([
        10_000.0,
        15_000.0,
        30_000.0,
        60_000.0,
        120_000.0,
        300_000.0,
        600_000.0,
        900_000.0,
        1_800_000.0,
        3_600_000.0,
        7_200_000.0,
        21_600_000.0,
        43_200_000.0,
        86_400_000.0,
    ]);
    steps
        .iter()
        .copied()
        .find(|s| *s >= min_ms)
        .unwrap_or(86_400_000.0)
}

/// A tick label: ms below a 2 s span, seconds below 2 min, else m:ss.
fn tick_label(t: f64, step: f64, span: f64) -> String {
    let decimals = |unit: f64| ((-(step / unit).log10()).ceil().max(0.0) as usize).min(6);
    if span < 2000.0 {
        format!("{:.*} ms", decimals(1.0), t)
    } else if span < 120_000.0 {
        format!("{:.*} s", decimals(1000.0), t / 1000.0)
    } else {
        let s = t / 1000.0;
        let whole = (s / 60.0).floor();
        let d = decimals(1000.0);
        let width = if d > 0 { d + 3 } else { 2 };
        format!("{}:{:0width$.*}", whole as u64, d, s - whole * 60.0)
    }
}

/// `(t, x, label)` of the ticks of every linear piece.
fn ticks(scale: &TimeScale) -> Vec<(f64, f64, String)> {
    let mut out = vec![];
    for p in scale.pieces.iter().filter(|p| !p.cut && p.t1 > p.t0) {
        let per_ms = (p.x1 - p.x0) / (p.t1 - p.t0);
        let step = tick_step(90.0 / per_ms.max(1e-12));
        let first = (p.t0 / step).ceil() as i64;
        let last = (p.t1 / step).floor() as i64;
        for k in first..=last.min(first.saturating_add(200)) {
            let t = k as f64 * step;
            out.push((t, scale.x(t), tick_label(t, step, scale.span)));
        }
    }
    out
}

// ---------------------------------------------------------------- drawing

/// `&`, `<`, `>`, quotes escaped; control characters XML 1.0 does not allow dropped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// Rough width of sans-serif text at `size` px.
fn text_width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size * 0.58
}

/// At most `max` characters, with `...` when cut.
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max.saturating_sub(3)).collect();
    format!("{cut}...")
}

/// First-fit rows for `(x_start, x_end)` extents in the given order; `None`: no room
/// in [`MAX_LABEL_ROWS`] rows (the label is left out, its tooltip stays).
fn pack(extents: &[(f64, f64)]) -> Vec<Option<usize>> {
    let mut row_ends: Vec<f64> = vec![];
    extents
        .iter()
        .map(|(start, end)| {
            let row = row_ends.iter().position(|e| *e + 6.0 <= *start);
            match row {
                Some(row) => {
                    if let Some(e) = row_ends.get_mut(row) {
                        *e = *end;
                    }
                    Some(row)
                }
                None if row_ends.len() < MAX_LABEL_ROWS => {
                    row_ends.push(*end);
                    Some(row_ends.len() - 1)
                }
                None => None,
            }
        })
        .collect()
}

/// An SVG document being written.
struct Canvas {
    out: String,
}

impl Canvas {
    fn text(&mut self, x: f64, y: f64, attrs: &str, content: &str) {
        let _ = writeln!(
            self.out,
            r#"<text x="{x:.1}" y="{y:.1}" {attrs}>{}</text>"#,
            escape(content)
        );
    }

    fn line(&mut self, (x1, y1): (f64, f64), (x2, y2): (f64, f64), attrs: &str) {
        let _ = writeln!(
            self.out,
            r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" {attrs}/>"#
        );
    }

    fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, attrs: &str) {
        let _ = writeln!(
            self.out,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" {attrs}/>"#,
            w.max(0.0),
            h.max(0.0)
        );
    }

    /// Open a group with a tooltip.
    fn group(&mut self, tooltip: &str) {
        let _ = writeln!(self.out, "<g><title>{}</title>", escape(tooltip));
    }

    fn end_group(&mut self) {
        self.out.push_str("</g>\n");
    }
}

/// Vertical positions of the parts.
struct Layout {
    plot_x0: f64,
    plot_x1: f64,
    track_y: f64,
    lanes_y: f64,
    rows_y: Vec<(f64, usize)>,
    axis_y: f64,
    legend_y: f64,
}

impl Layout {
    fn lane_top(&self, lane: usize) -> f64 {
        self.lanes_y + lane as f64 * LANE_H
    }
}

fn lane_label(lane: &Lane) -> String {
    format!("{} \u{2194} {}", lane.a, lane.b)
}

fn node_colour(node: usize) -> &'static str {
    NODE_COLOURS
        .get(node % NODE_COLOURS.len())
        .copied()
        .unwrap_or("#000000")
}

fn state_colour(state: &str) -> &'static str {
    match state {
        "ok" => "#3aa655",
        "probing" => "#f0b020",
        "failed" => "#d03030",
        _ => "#bbbbbb",
    }
}

/// The rows of the annotation track's flags and brackets (`None`: no room).
fn track_rows(p: &Picture, scale: &TimeScale) -> (Vec<Option<usize>>, Vec<Option<usize>>) {
    let marks: Vec<(f64, f64)> = p
        .marks
        .iter()
        .map(|flag| {
            let x = scale.x(flag.at);
            let end = mark_text_x(&flag.name, x, scale) + text_width(&flag.name, 11.0);
            (x - 4.0, x.max(end))
        })
        .collect();
    let brackets: Vec<(f64, f64)> = p
        .brackets
        .iter()
        .map(|b| {
            let (x0, x1) = (scale.x(b.from), scale.x(b.to));
            let tx = bracket_text_x(b, scale);
            (x0.min(tx), x1.max(tx + text_width(&b.label, 10.0)))
        })
        .collect();
    let all: Vec<(f64, f64)> = marks.iter().chain(brackets.iter()).copied().collect();
    let rows = pack(&all);
    let (m, b) = rows.split_at(marks.len().min(rows.len()));
    (m.to_vec(), b.to_vec())
}

/// Where a label of width `w` wanted at `x` starts so that it ends before `right`.
fn fit(x: f64, w: f64, right: f64) -> f64 {
    x.min(right - w)
}

/// The right end of the time axis.
fn right_end(scale: &TimeScale) -> f64 {
    scale.pieces.last().map(|p| p.x1).unwrap_or(WIDTH - MARGIN)
}

/// Where a mark's name starts (after its flag at `x`).
fn mark_text_x(name: &str, x: f64, scale: &TimeScale) -> f64 {
    fit(x + 9.0, text_width(name, 11.0), right_end(scale))
}

/// Where a bracket's label starts: centred over it when it fits, else from its start.
fn bracket_text_x(b: &Bracket, scale: &TimeScale) -> f64 {
    let (x0, x1) = (scale.x(b.from), scale.x(b.to));
    let w = text_width(&b.label, 10.0);
    if x1 - x0 > w + 4.0 {
        (x0 + x1 - w) / 2.0
    } else {
        fit(x0 + 2.0, w, right_end(scale))
    }
}

/// Each node label: item (as [`node_row_items`]), row, where its text starts.
fn node_label_rows(p: &Picture, scale: &TimeScale, node: usize) -> Vec<(usize, usize, f64)> {
    let items: Vec<(usize, (f64, f64))> = node_row_items(p, node)
        .into_iter()
        .map(|(i, t, label)| {
            let w = text_width(&label, 10.0);
            let x = fit(scale.x(t) + 3.0, w, right_end(scale));
            (i, (x - 3.0, x + w))
        })
        .collect();
    let extents: Vec<(f64, f64)> = items.iter().map(|i| i.1).collect();
    items
        .iter()
        .zip(pack(&extents))
        .filter_map(|((i, (x, _)), row)| Some((*i, row?, x + 3.0)))
        .collect()
}

/// A node's labelled items: move index or `1_000_000 + mark index`, time, label.
fn node_row_items(p: &Picture, node: usize) -> Vec<(usize, f64, String)> {
    let moves = p
        .moves
        .iter()
        .enumerate()
        .filter(|(_, m)| m.node == node)
        .map(|(i, m)| (i, m.at, m.label.clone()));
    let marks = p
        .node_marks
        .iter()
        .enumerate()
        .filter(|(_, m)| m.node == node && !m.label.is_empty() && m.lane.is_none())
        .map(|(i, m)| (1_000_000 + i, m.at, m.label.clone()));
    let mut items: Vec<_> = moves.chain(marks).collect();
    items.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    items
}

fn layout(p: &Picture, scale: &TimeScale, label_w: f64) -> Layout {
    let (m, b) = track_rows(p, scale);
    let track_rows = m
        .iter()
        .chain(b.iter())
        .flatten()
        .map(|r| r + 1)
        .max()
        .unwrap_or(0);
    let track_y = 58.0;
    let lanes_y = track_y + track_rows as f64 * ROW_H + 8.0;
    let mut y = lanes_y + p.lanes.len().max(1) as f64 * LANE_H + 6.0;
    let mut rows_y = vec![];
    for node in 0..p.nodes.len() {
        let rows = node_label_rows(p, scale, node)
            .iter()
            .map(|r| r.1 + 1)
            .max()
            .unwrap_or(0);
        rows_y.push((y, rows));
        y += 16.0 + rows as f64 * ROW_H;
    }
    Layout {
        plot_x0: MARGIN + label_w,
        plot_x1: WIDTH - MARGIN,
        track_y,
        lanes_y,
        rows_y,
        axis_y: y + 4.0,
        legend_y: y + 40.0,
    }
}

const SANS: &str = r#"font-family="sans-serif""#;

/// Background, title, summary, arrow marker definitions.
fn draw_frame(c: &mut Canvas, p: &Picture, height: f64) {
    let _ = writeln!(
        c.out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH:.0}" height="{height:.0}" viewBox="0 0 {WIDTH:.0} {height:.0}">"#
    );
    let _ = writeln!(c.out, "<title>{}</title>", escape(&p.title));
    c.out.push_str("<defs>\n");
    for (i, colour) in NODE_COLOURS.iter().enumerate() {
        let _ = writeln!(
            c.out,
            r#"<marker id="arrow{i}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>"#
        );
    }
    c.out.push_str("</defs>\n");
    c.rect(0.0, 0.0, WIDTH, height, r##"fill="#ffffff""##);
    c.text(
        MARGIN,
        26.0,
        &format!(r##"{SANS} font-size="17" font-weight="bold" fill="#222222""##),
        &clip(&p.title, 120),
    );
    c.text(
        MARGIN,
        44.0,
        &format!(r##"{SANS} font-size="11" fill="#555555""##),
        &clip(&p.summary, 200),
    );
}

/// The shaded dark intervals and cut-out stretches, behind everything time-aligned.
fn draw_shading(c: &mut Canvas, p: &Picture, scale: &TimeScale, l: &Layout) {
    let (top, bottom) = (l.track_y, l.axis_y);
    for piece in scale.pieces.iter().filter(|p| p.cut) {
        c.rect(
            piece.x0,
            top,
            piece.x1 - piece.x0,
            bottom - top,
            r##"fill="#f1f1f1""##,
        );
    }
    for d in &p.dark {
        let (x0, x1) = (scale.x(d.from_ms), scale.x(d.to_ms));
        let fill = match d.kind {
            DarkKind::Move => r##"fill="#20262e" fill-opacity="0.10""##,
            DarkKind::DataGap => r##"fill="#d03030" fill-opacity="0.14""##,
        };
        c.rect(x0, top, (x1 - x0).max(1.5), bottom - top, fill);
    }
}

/// Marks (flag, dashed line through the lanes) and brackets.
fn draw_track(c: &mut Canvas, p: &Picture, scale: &TimeScale, l: &Layout) {
    let (mark_rows, bracket_rows) = track_rows(p, scale);
    let row_y = |r: usize| l.track_y + r as f64 * ROW_H;
    for (flag, row) in p.marks.iter().zip(mark_rows) {
        let (x, colour, name) = (scale.x(flag.at), flag.colour, flag.name.as_str());
        let y = row.map_or(l.lanes_y - 2.0, row_y);
        c.group(&format!("{} at {}", flag.tooltip, ms_text(flag.at)));
        c.line(
            (x, y + 2.0),
            (x, l.axis_y),
            &format!(r#"stroke="{colour}" stroke-width="0.8" stroke-dasharray="4,3""#),
        );
        if row.is_none() {
            c.end_group();
            continue;
        }
        let _ = writeln!(
            c.out,
            r#"<path d="M{:.1},{:.1} l7,3.5 l-7,3.5 z" fill="{}"/>"#,
            x,
            y + 2.0,
            colour
        );
        c.text(
            mark_text_x(name, x, scale),
            y + 10.0,
            &format!(r#"{SANS} font-size="11" font-weight="bold" fill="{colour}""#),
            name,
        );
        c.end_group();
    }
    for (b, row) in p.brackets.iter().zip(bracket_rows) {
        let Some(row) = row else {
            continue;
        };
        let (x0, x1, y) = (scale.x(b.from), scale.x(b.to), row_y(row) + 11.0);
        let stroke = format!(r#"stroke="{}" stroke-width="1.2""#, b.colour);
        c.group(&format!(
            "{}: {} to {}",
            b.label,
            ms_text(b.from),
            ms_text(b.to)
        ));
        c.line((x0, y), (x1, y), &stroke);
        c.line((x0, y - 4.0), (x0, y + 3.0), &stroke);
        c.line((x1, y - 4.0), (x1, y + 3.0), &stroke);
        let tx = bracket_text_x(b, scale);
        c.text(
            tx,
            y - 2.5,
            &format!(r#"{SANS} font-size="10" fill="{}""#, b.colour),
            &b.label,
        );
        c.end_group();
    }
}

/// Lane backgrounds and labels.
fn draw_lanes(c: &mut Canvas, p: &Picture, l: &Layout) {
    if p.lanes.is_empty() {
        c.text(
            l.plot_x0 + 8.0,
            l.lanes_y + 23.0,
            &format!(r##"{SANS} font-size="12" fill="#888888""##),
            "no path seen",
        );
    }
    for (i, lane) in p.lanes.iter().enumerate() {
        let y = l.lane_top(i);
        let fill = if i % 2 == 0 { "#f7f9fc" } else { "#eef2f7" };
        c.rect(
            MARGIN,
            y,
            l.plot_x1 - MARGIN,
            LANE_H - 2.0,
            &format!(r#"fill="{fill}""#),
        );
        let label = lane_label(lane);
        c.group(&format!("{label} (seen by {})", lane.nodes.join(", ")));
        c.text(
            MARGIN + 4.0,
            y + 16.0,
            r##"font-family="monospace" font-size="11" fill="#222222""##,
            &clip(&label, 44),
        );
        c.text(
            MARGIN + 4.0,
            y + 29.0,
            &format!(r##"{SANS} font-size="9" fill="#777777""##),
            &clip(&lane.nodes.join(", "), 50),
        );
        c.end_group();
    }
}

/// Path state strips at the bottom edge of each lane.
fn draw_states(c: &mut Canvas, p: &Picture, scale: &TimeScale, l: &Layout) {
    for (lane, _) in p.lanes.iter().enumerate() {
        let changes: Vec<&StateChange> = p.states.iter().filter(|s| s.lane == lane).collect();
        let y = l.lane_top(lane) + LANE_H - 9.0;
        for (i, s) in changes.iter().enumerate() {
            let to = changes.get(i + 1).map(|n| n.at).unwrap_or(p.end);
            let (x0, x1) = (scale.x(s.at), scale.x(to));
            c.group(&s.tooltip);
            c.rect(
                x0,
                y,
                (x1 - x0).max(1.0),
                4.0,
                &format!(r#"fill="{}""#, state_colour(&s.state)),
            );
            c.end_group();
        }
    }
}

/// Bars while an IKE SA of a node is on a lane.
fn draw_spans(c: &mut Canvas, p: &Picture, scale: &TimeScale, l: &Layout) {
    let n = p.nodes.len().max(1) as f64;
    for s in &p.spans {
        let offset = (s.node as f64 - (n - 1.0) / 2.0) * 5.0;
        let y = l.lane_top(s.lane) + LANE_H / 2.0 - 1.0 + offset;
        let (x0, x1) = (scale.x(s.from), scale.x(s.to));
        c.group(&format!(
            "{}: IKE SA on this path from {} to {}",
            p.nodes.get(s.node).map(String::as_str).unwrap_or("?"),
            ms_text(s.from),
            ms_text(s.to)
        ));
        c.rect(
            x0,
            y - 2.0,
            (x1 - x0).max(1.0),
            4.0,
            &format!(r#"fill="{}" fill-opacity="0.55""#, node_colour(s.node)),
        );
        c.end_group();
    }
}

/// Messages: lines across the lane from the sender's edge to the receiver's.
fn draw_messages(c: &mut Canvas, p: &Picture, scale: &TimeScale, l: &Layout) {
    for m in &p.messages {
        let top = l.lane_top(m.lane) + 5.0;
        let bottom = l.lane_top(m.lane) + LANE_H - 12.0;
        let (from_y, to_y) = if m.from_a {
            (top, bottom)
        } else {
            (bottom, top)
        };
        let mid = (top + bottom) / 2.0;
        let (start, end) = match (m.sent, m.received) {
            (Some(s), Some(r)) => ((scale.x(s), from_y), (scale.x(r), to_y)),
            (Some(s), None) => ((scale.x(s), from_y), (scale.x(s) + 5.0, mid)),
            (None, Some(r)) => ((scale.x(r) - 5.0, mid), (scale.x(r), to_y)),
            (None, None) => continue,
        };
        let dash = if m.response {
            r#" stroke-dasharray="3,2""#
        } else {
            ""
        };
        c.group(&m.tooltip);
        c.line(
            start,
            end,
            &format!(r#"stroke="{}" stroke-width="1.4"{dash}"#, m.kind.colour()),
        );
        let _ = writeln!(
            c.out,
            r#"<circle cx="{:.1}" cy="{:.1}" r="1.6" fill="{}"/>"#,
            end.0,
            end.1,
            m.kind.colour()
        );
        c.end_group();
    }
}

/// Move arrows between lanes, rr_check diamonds on lanes.
fn draw_moves(c: &mut Canvas, p: &Picture, scale: &TimeScale, l: &Layout) {
    for m in &p.moves {
        let x = scale.x(m.at);
        let (y0, y1) = (
            l.lane_top(m.old) + LANE_H / 2.0,
            l.lane_top(m.new) + LANE_H / 2.0,
        );
        let colour = node_colour(m.node);
        let dash = if m.children {
            ""
        } else {
            r#" stroke-dasharray="4,2""#
        };
        c.group(&m.tooltip);
        if m.old == m.new {
            let _ = writeln!(
                c.out,
                r#"<circle cx="{x:.1}" cy="{y0:.1}" r="5" fill="none" stroke="{colour}" stroke-width="2"{dash}/>"#
            );
        } else {
            let marker = m.node % NODE_COLOURS.len();
            c.line(
                (x, y0),
                (x, y1),
                &format!(
                    r#"stroke="{colour}" stroke-width="2.2"{dash} marker-end="url(#arrow{marker})""#
                ),
            );
            let _ = writeln!(
                c.out,
                r#"<circle cx="{x:.1}" cy="{y0:.1}" r="2.5" fill="{colour}"/>"#
            );
        }
        c.end_group();
    }
    for m in p.node_marks.iter().filter(|m| m.lane.is_some()) {
        let (x, y) = (
            scale.x(m.at),
            l.lane_top(m.lane.unwrap_or(0)) + LANE_H / 2.0,
        );
        c.group(&m.tooltip);
        let _ = writeln!(
            c.out,
            r##"<path d="M{x:.1},{:.1} l4,4 l-4,4 l-4,-4 z" fill="{}" stroke="#ffffff" stroke-width="0.8"/>"##,
            y - 4.0,
            m.colour
        );
        c.end_group();
    }
}

/// One row per node: its name, a dot per event, labels packed below.
fn draw_node_rows(c: &mut Canvas, p: &Picture, scale: &TimeScale, l: &Layout) {
    for (node, name) in p.nodes.iter().enumerate() {
        let Some(&(y, _)) = l.rows_y.get(node) else {
            continue;
        };
        let colour = node_colour(node);
        c.line(
            (l.plot_x0, y + 7.0),
            (l.plot_x1, y + 7.0),
            r##"stroke="#dddddd" stroke-width="1""##,
        );
        c.text(
            MARGIN + 4.0,
            y + 11.0,
            &format!(r#"{SANS} font-size="12" font-weight="bold" fill="{colour}""#),
            &clip(name, 30),
        );
        for m in p
            .node_marks
            .iter()
            .filter(|m| m.node == node && m.lane.is_none())
        {
            c.group(&m.tooltip);
            let _ = writeln!(
                c.out,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{}"/>"#,
                scale.x(m.at),
                y + 7.0,
                m.colour
            );
            c.end_group();
        }
        for mv in p.moves.iter().filter(|m| m.node == node) {
            let x = scale.x(mv.at);
            let _ = writeln!(
                c.out,
                r#"<path d="M{:.1},{:.1} l4,6 l-8,0 z" fill="{colour}"/>"#,
                x,
                y + 3.0
            );
        }
        for (item, row, text_x) in node_label_rows(p, scale, node) {
            let (t, label, fill) = match item.checked_sub(1_000_000) {
                Some(i) => match p.node_marks.get(i) {
                    Some(m) => (m.at, m.label.as_str(), m.colour),
                    None => continue,
                },
                None => match p.moves.get(item) {
                    Some(m) => (m.at, m.label.as_str(), colour),
                    None => continue,
                },
            };
            let (x, ty) = (scale.x(t), y + 22.0 + row as f64 * ROW_H);
            c.line(
                (x, y + 10.0),
                (x, ty - 8.0),
                r##"stroke="#cccccc" stroke-width="0.8""##,
            );
            c.text(
                text_x,
                ty,
                &format!(r#"{SANS} font-size="10" fill="{fill}""#),
                label,
            );
        }
    }
}

/// The axis: grid lines, ticks, labels (none overlapping), cut-out stretches.
fn draw_axis(c: &mut Canvas, scale: &TimeScale, l: &Layout) {
    let y = l.axis_y;
    c.line(
        (l.plot_x0, y),
        (l.plot_x1, y),
        r##"stroke="#444444" stroke-width="1""##,
    );
    let mut labels: Vec<(f64, String, bool)> = vec![];
    for (_, x, label) in ticks(scale) {
        c.line(
            (x, l.track_y),
            (x, y),
            r##"stroke="#000000" stroke-opacity="0.06" stroke-width="1""##,
        );
        c.line(
            (x, y),
            (x, y + 4.0),
            r##"stroke="#444444" stroke-width="1""##,
        );
        labels.push((x, label, false));
    }
    for piece in scale.pieces.iter().filter(|p| p.cut) {
        let mid = (piece.x0 + piece.x1) / 2.0;
        for dx in [-3.0, 3.0] {
            c.line(
                (mid + dx - 3.0, y + 5.0),
                (mid + dx + 3.0, y - 5.0),
                r##"stroke="#444444" stroke-width="1.2""##,
            );
        }
        labels.push((mid, format!("+{}", ms_text(piece.t1 - piece.t0)), true));
    }
    labels.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut right_edge = f64::NEG_INFINITY;
    for (x, label, cut) in labels {
        let w = text_width(&label, 10.0);
        if x - w / 2.0 < right_edge + 4.0 {
            continue;
        }
        right_edge = x + w / 2.0;
        let style = if cut {
            r##" font-style="italic" fill="#888888""##
        } else {
            r##" fill="#333333""##
        };
        c.text(
            x,
            y + 16.0,
            &format!(r#"{SANS} font-size="10" text-anchor="middle"{style}"#),
            &label,
        );
    }
}

/// Legend entries: a swatch (SVG fragment at 0,0 to 18,10) and its text.
fn legend_entries(p: &Picture) -> Vec<(String, String)> {
    let bar = |fill: &str| format!(r#"<rect x="0" y="3" width="18" height="4" fill="{fill}"/>"#);
    let stroke = |colour: &str, dash: &str| {
        format!(
            r#"<line x1="0" y1="0" x2="18" y2="10" stroke="{colour}" stroke-width="1.4"{dash}/>"#
        )
    };
    let mut entries: Vec<(String, String)> = p
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            (
                bar(node_colour(i)),
                format!("{} IKE SA on the path, moves", clip(n, 30)),
            )
        })
        .collect();
    for state in ["untested", "probing", "ok", "failed"] {
        entries.push((bar(state_colour(state)), format!("path {state}")));
    }
    for (kind, name) in [
        (MessageKind::Setup, "IKE_SA_INIT / IKE_AUTH"),
        (MessageKind::Probe, "probe / DPD"),
        (MessageKind::Update, "UPDATE_SA_ADDRESSES"),
        (MessageKind::Cookie2, "COOKIE2 check"),
        (MessageKind::Other, "other"),
    ] {
        entries.push((stroke(kind.colour(), ""), name.to_string()));
    }
    entries.push((stroke("#444444", ""), "request".into()));
    entries.push((
        stroke("#444444", r#" stroke-dasharray="3,2""#),
        "response".into(),
    ));
    entries.push((
        r##"<path d="M9,1 l4,4 l-4,4 l-4,-4 z" fill="#1a9bb0"/>"##.into(),
        "return routability ok".into(),
    ));
    entries.push((
        r##"<rect x="0" y="0" width="18" height="10" fill="#20262e" fill-opacity="0.18"/>"##.into(),
        "dark: trigger to move done".into(),
    ));
    entries.push((
        r##"<rect x="0" y="0" width="18" height="10" fill="#d03030" fill-opacity="0.25"/>"##.into(),
        "data-plane gap".into(),
    ));
    entries
}

/// The legend, wrapped to the width; returns its height.
fn draw_legend(c: &mut Canvas, p: &Picture, y0: f64) -> f64 {
    let (mut x, mut y) = (MARGIN, y0);
    for (swatch, text) in legend_entries(p) {
        let w = 26.0 + text_width(&text, 10.0) + 14.0;
        if x + w > WIDTH - MARGIN && x > MARGIN {
            x = MARGIN;
            y += 16.0;
        }
        let _ = writeln!(
            c.out,
            r#"<g transform="translate({x:.1},{:.1})">{swatch}</g>"#,
            y - 9.0
        );
        c.text(
            x + 24.0,
            y,
            &format!(r##"{SANS} font-size="10" fill="#333333""##),
            &text,
        );
        x += w;
    }
    y - y0 + 16.0
}

/// Every time the axis has to show: events, steps, shaded intervals.
fn activity_times(p: &Picture) -> Vec<f64> {
    let mut times: Vec<f64> = p
        .messages
        .iter()
        .flat_map(|m| [m.sent, m.received])
        .flatten()
        .collect();
    times.extend(p.states.iter().map(|s| s.at));
    times.extend(p.moves.iter().map(|m| m.at));
    times.extend(p.node_marks.iter().map(|m| m.at));
    times.extend(p.marks.iter().map(|m| m.at));
    times.extend(p.dark.iter().flat_map(|d| [d.from_ms, d.to_ms]));
    times
}

/// The SVG picture of a run (see the module documentation).
pub fn drill_svg(outcome: &DrillOutcome) -> String {
    let p = picture(outcome);
    let longest = p
        .lanes
        .iter()
        .map(|l| lane_label(l).chars().count().min(44))
        .max()
        .unwrap_or(12);
    let label_w = (longest as f64 * 6.7 + 14.0).clamp(150.0, 320.0);
    let span = p.end.max(1.0);
    let scale = time_scale(
        &activity_times(&p),
        span,
        MARGIN + label_w,
        WIDTH - MARGIN - 12.0,
    );
    let l = layout(&p, &scale, label_w);
    let mut body = Canvas { out: String::new() };
    draw_lanes(&mut body, &p, &l);
    draw_shading(&mut body, &p, &scale, &l);
    draw_track(&mut body, &p, &scale, &l);
    draw_states(&mut body, &p, &scale, &l);
    draw_spans(&mut body, &p, &scale, &l);
    draw_messages(&mut body, &p, &scale, &l);
    draw_moves(&mut body, &p, &scale, &l);
    draw_node_rows(&mut body, &p, &scale, &l);
    draw_axis(&mut body, &scale, &l);
    let legend_h = draw_legend(&mut body, &p, l.legend_y);
    let height = l.legend_y + legend_h + MARGIN;
    let mut c = Canvas {
        out: String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"),
    };
    draw_frame(&mut c, &p, height);
    c.out.push_str(&body.out);
    c.out.push_str("</svg>\n");
    c.out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::{json, Value};

    use super::*;
    use crate::drill::run::Verdict;
    use crate::engine::Timestamp;

    /// Checks that tags nest and close, attributes are quoted, `&` starts an entity.
    pub(super) fn well_formed(xml: &str) -> Result<(), String> {
        let mut open: Vec<String> = vec![];
        let mut rest = xml;
        while let Some(start) = rest.find('<') {
            check_text(&rest[..start])?;
            let end = rest[start..].find('>').ok_or("unclosed tag")? + start;
            let tag = &rest[start + 1..end];
            rest = &rest[end + 1..];
            if tag.starts_with('?') || tag.starts_with('!') {
                continue;
            }
            if let Some(name) = tag.strip_prefix('/') {
                if open.pop().as_deref() != Some(name.trim()) {
                    return Err(format!("</{name}> does not close the open tag"));
                }
                continue;
            }
            if !tag.matches('"').count().is_multiple_of(2) || tag.contains('<') {
                return Err(format!("bad attributes in <{tag}>"));
            }
            let name = tag
                .split_whitespace()
                .next()
                .unwrap_or("")
                .trim_end_matches('/');
            if !tag.ends_with('/') {
                open.push(name.to_string());
            }
        }
        check_text(rest)?;
        match open.is_empty() {
            true => Ok(()),
            false => Err(format!("not closed: {open:?}")),
        }
    }

    fn check_text(text: &str) -> Result<(), String> {
        for (i, _) in text.match_indices('&') {
            let entity = &text[i..text[i..].find(';').map_or(text.len(), |e| i + e + 1)];
            if !["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"].contains(&entity) {
                return Err(format!("bare & in {text:?}"));
            }
        }
        Ok(())
    }

    fn event(ms: u64, node: &str, name: &str, fields: Value) -> TimedEvent {
        let Value::Object(fields) = fields else {
            panic!("an object")
        };
        TimedEvent {
            at: Timestamp::from_micros(ms * 1000),
            node: node.into(),
            name: name.into(),
            fields,
        }
    }

    fn step(ms: u64, statement: &str, measured: Option<Duration>) -> StepRecord {
        StepRecord {
            at: Duration::from_millis(ms),
            line: 1,
            iteration: String::new(),
            statement: statement.into(),
            verdict: if measured.is_some() {
                Verdict::Held
            } else {
                Verdict::Done
            },
            detail: String::new(),
            measured,
        }
    }

    fn outcome(events: Vec<TimedEvent>, steps: Vec<StepRecord>) -> DrillOutcome {
        DrillOutcome {
            file: "x<&>y.drill".into(),
            steps,
            measurements: vec![],
            events,
            stopped: None,
            started: Timestamp::from_micros(0),
            signal: None,
        }
    }

    fn small_run() -> DrillOutcome {
        let (a, b, c) = ("10.0.0.1:4500", "10.0.0.9:4500", "10.0.0.2:4500");
        let events = vec![
            event(
                0,
                "ini<&>",
                "ike_up",
                json!({"sa": "#1", "local": a, "remote": b}),
            ),
            event(
                0,
                "resp",
                "ike_up",
                json!({"sa": "#1", "local": b, "remote": a}),
            ),
            event(
                10,
                "ini<&>",
                "sent",
                json!({"sa": "#1", "exchange": "INFORMATIONAL",
                "message_id": 2, "response": false, "payloads": "SK{}", "local": c, "remote": b}),
            ),
            event(
                20,
                "resp",
                "received",
                json!({"sa": "#1", "exchange": "INFORMATIONAL",
                "message_id": 2, "response": false, "payloads": "SK{}", "local": b, "remote": c}),
            ),
            event(
                30,
                "ini<&>",
                "path",
                json!({"sa": "#1", "local": c, "remote": b, "state": "ok"}),
            ),
            event(
                30,
                "ini<&>",
                "moved",
                json!({"sa": "#1", "old": {"local": a, "remote": b},
                "new": {"local": c, "remote": b}, "cause": "address_lost", "elapsed_ms": 20.0,
                "children": true}),
            ),
            event(
                40,
                "ini<&>",
                "nat",
                json!({"sa": "#1", "local": true, "remote": false,
                "mapping_changed": true}),
            ),
            event(
                45,
                "ini<&>",
                "ping",
                json!({"gap_start_ms": 12.0, "gap_end_ms": 41.0}),
            ),
        ];
        let steps = vec![
            step(10, "mark lost", None),
            step(
                30,
                "ini: measure loss<1> from lost to moved",
                Some(Duration::from_millis(20)),
            ),
            StepRecord {
                line: 7,
                verdict: Verdict::Failed,
                ..step(40, "expect no nat", None)
            },
        ];
        outcome(events, steps)
    }

    #[test]
    fn a_small_run_has_lanes_a_move_and_shading() {
        let svg = drill_svg(&small_run());
        well_formed(&svg).unwrap();
        assert!(
            svg.contains("10.0.0.1:4500 \u{2194} 10.0.0.9:4500"),
            "{svg}"
        );
        assert!(svg.contains("10.0.0.2:4500 \u{2194} 10.0.0.9:4500"));
        assert_eq!(
            svg.matches("font-family=\"monospace\"").count(),
            2,
            "mirror paths share a lane"
        );
        assert!(
            svg.contains("marker-end=\"url(#arrow0)\""),
            "the move arrow"
        );
        assert!(svg.contains("moved: address_lost, 20.0 ms"));
        assert!(
            svg.contains("fill=\"#20262e\" fill-opacity"),
            "dark interval"
        );
        assert!(
            svg.contains("fill=\"#d03030\" fill-opacity"),
            "data-plane gap"
        );
        assert!(svg.contains("data-plane gap 29.0 ms"));
        assert!(svg.contains("loss&lt;1&gt; 20.0ms"), "measurement bracket");
        assert!(svg.contains("NAT here, mapping changed"));
        assert!(svg.contains(">line 7 FAILED<"));
        assert!(svg.contains("drill x&lt;&amp;&gt;y.drill"));
        assert!(svg.contains("ini&lt;&amp;&gt;"));
        assert!(!svg.contains("x<&>y"));
    }

    #[test]
    fn the_picture_is_deterministic() {
        assert_eq!(drill_svg(&small_run()), drill_svg(&small_run()));
    }

    #[test]
    fn a_ping_gap_comes_from_the_fields() {
        let e = event(
            50,
            "n",
            "ping",
            json!({"gap_start_ms": 10.0, "gap_end_ms": 30.0}),
        );
        let gap = ping_gap(&e, 50.0).unwrap();
        assert_eq!(
            (gap.from_ms, gap.to_ms, gap.kind),
            (10.0, 30.0, DarkKind::DataGap)
        );
        let e = event(
            50,
            "n",
            "ping",
            json!({"longest_gap_ms": 20.0, "gap_ongoing": true}),
        );
        assert_eq!(ping_gap(&e, 50.0).map(|g| g.from_ms), Some(30.0));
        let e = event(
            50,
            "n",
            "ping",
            json!({"longest_gap_ms": 20.0, "gap_ongoing": false}),
        );
        assert_eq!(ping_gap(&e, 50.0), None);
        let e = event(
            5000,
            "n",
            "ping",
            json!({"time": "2026-01-01T23:59:59.5Z",
            "gap_start": "2026-01-01T23:59:58.25Z", "gap_end": "2026-01-02T00:00:00.75+00:00",
            "longest_gap_ms": 2500.0, "gap_ongoing": false}),
        );
        let gap = ping_gap(&e, 5000.0).unwrap();
        assert_eq!((gap.from_ms, gap.to_ms), (3750.0, 6250.0));
    }

    #[test]
    fn nothing_at_all_is_still_a_picture() {
        let svg = drill_svg(&outcome(vec![], vec![]));
        well_formed(&svg).unwrap();
        assert!(svg.contains("no path seen"));
    }

    /// 20 paths over 10 minutes, with a quiet stretch cut out; odd field values.
    #[test]
    fn twenty_paths_over_ten_minutes() {
        let mut events = vec![];
        for i in 0..20u64 {
            let local = format!("10.0.{i}.1:4500");
            let fields = json!({"sa": "#1", "local": local, "remote": "[2001:db8::1]:4500",
                "state": if i % 2 == 0 { "ok" } else { "failed" }});
            events.push(event(i * 30_000, "initiator", "path", fields));
        }
        events.push(event(
            10,
            "initiator",
            "moved",
            json!({"old": 1, "new": {"local": null},
            "elapsed_ms": "x"}),
        ));
        events.push(event(
            10,
            "initiator",
            "sent",
            json!({"local": [], "remote": {}}),
        ));
        let svg = drill_svg(&outcome(events, vec![step(600_000, "sleep 10m", None)]));
        well_formed(&svg).unwrap();
        assert_eq!(svg.matches("font-family=\"monospace\"").count(), 20);
        assert!(svg.contains(">5:00<"), "m:ss ticks");
    }

    #[test]
    fn ticks_follow_the_span() {
        let scale = time_scale(&[0.0, 10.0], 10.0, 0.0, 1000.0);
        let labels: Vec<String> = ticks(&scale).into_iter().map(|t| t.2).collect();
        assert!(labels.contains(&"5 ms".to_string()), "{labels:?}");
        let scale = time_scale(&[0.0, 30_000.0], 30_000.0, 0.0, 1000.0);
        let labels: Vec<String> = ticks(&scale).into_iter().map(|t| t.2).collect();
        assert!(labels.contains(&"10 s".to_string()), "{labels:?}");
    }

    #[test]
    fn a_long_quiet_stretch_is_cut_out() {
        let scale = time_scale(
            &[0.0, 10.0, 20.0, 60_000.0, 60_010.0],
            60_010.0,
            0.0,
            1000.0,
        );
        assert_eq!(scale.pieces.iter().filter(|p| p.cut).count(), 1);
        assert!(scale.x(20.0) > 300.0, "the busy start gets room");
    }

    /// Every event name with fields of every odd shape: no panic, well-formed output.
    #[test]
    fn odd_events_never_panic() {
        let odd = [
            json!(null),
            json!(-1e300),
            json!([1, "a", null]),
            json!({"local": {"x": 1}, "remote": "\u{1}<]]>"}),
            json!("\u{0}&\u{fffe}"),
        ];
        let names = [
            "sent",
            "received",
            "path",
            "moved",
            "ike_up",
            "ike_down",
            "nat",
            "rr_check",
            "ping",
            "local_addrs",
            "status",
            "hint",
            "unknown\u{7}<event>",
        ];
        let keys = [
            "local",
            "remote",
            "old",
            "new",
            "path",
            "state",
            "elapsed_ms",
            "children",
            "gap_start_ms",
            "gap_end_ms",
            "longest_gap_ms",
            "gap_ongoing",
            "sa",
            "payloads",
        ];
        let mut events = vec![];
        for (i, name) in names.iter().enumerate() {
            for (j, value) in odd.iter().enumerate() {
                let fields: serde_json::Map<String, Value> = keys
                    .iter()
                    .map(|k| (k.to_string(), value.clone()))
                    .collect();
                let ms = [0, u64::MAX / 1000, 5][(i + j) % 3];
                events.push(event(ms, "n\u{1}<", name, Value::Object(fields)));
            }
        }
        let steps = vec![
            step(0, "mark", None),
            step(1, "measure", Some(Duration::MAX)),
            step(
                2,
                "x: measure m from nowhere",
                Some(Duration::from_millis(1)),
            ),
        ];
        let svg = drill_svg(&outcome(events, steps));
        well_formed(&svg).unwrap();
        assert!(!svg.contains('\u{1}') && !svg.contains('\u{fffe}'));
    }

    /// A `repeat 300 { mark; measure }`: labels stop at eight rows, the picture stays small.
    #[test]
    fn crowded_labels_stay_in_eight_rows() {
        let mut steps = vec![];
        let mut events = vec![];
        for i in 0..300u64 {
            steps.push(step(i, "mark m", None));
            steps.push(step(
                i,
                "measure x from m to nat",
                Some(Duration::from_micros(500)),
            ));
            events.push(event(i, "n", "nat", json!({"mapping_changed": true})));
        }
        let svg = drill_svg(&outcome(events, steps));
        well_formed(&svg).unwrap();
        let height: f64 = svg
            .split("height=\"")
            .nth(1)
            .and_then(|h| h.split('"').next())
            .and_then(|h| h.parse().ok())
            .unwrap();
        assert!(
            height < 2.0 * (16.0 + 58.0 + LANE_H) + 10.0 * 8.0 * ROW_H,
            "{height}"
        );
        assert!(svg.matches(">NAT mapping changed<").count() < 300);
    }

    #[test]
    fn the_checker_finds_bad_xml() {
        assert!(well_formed("<a><b></a></b>").is_err());
        assert!(well_formed("<a>x & y</a>").is_err());
        assert!(well_formed("<a><b/>&amp;</a>").is_ok());
    }
}
