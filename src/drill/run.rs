//! The drill interpreter. It knows nothing of what it drives: a [`DrillTarget`] takes
//! commands, lets time pass and hands back events, as the embedded virtual lab does on
//! a simulated clock and a live `mobikectl peer` will on the wall clock.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Map, Value};

use super::parse::{
    Drill, DrillCommand, EventPattern, Expectation, FieldMatch, SaCondition, Statement,
    StatementKind,
};
use crate::cli::peer::event_text;
use crate::engine::Timestamp;

/// An event of a node, as the peer reports it: the name and the JSON object of
/// [`event_json`](crate::cli::peer::event_json).
#[derive(Debug, Clone, PartialEq)]
pub struct TimedEvent {
    /// When it happened.
    pub at: Timestamp,
    /// The node that reported it.
    pub node: String,
    /// `moved`, `path`, ...
    pub name: String,
    /// Its fields.
    pub fields: Map<String, Value>,
}

impl TimedEvent {
    /// One readable line: `node: event fields`.
    pub fn describe(&self) -> String {
        let mut m = self.fields.clone();
        m.insert("event".into(), Value::from(self.name.clone()));
        format!("{}: {}", self.node, event_text(&m).trim_start())
    }
}

/// Where a target's traffic and IKE keys are, for decoding its messages (the live UI's
/// payload tree): a capture file, a key log, and the ports IKE and NAT-T use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureFiles {
    pub pcap: std::path::PathBuf,
    pub keys: Option<std::path::PathBuf>,
    pub ike_ports: Vec<u16>,
    pub natt_ports: Vec<u16>,
}

/// One IKE SA of a node, for `expect sa` and `expect path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaSummary {
    /// Its handle (`#1`).
    pub sa: String,
    /// Established (not being set up, deleted or rekeyed away).
    pub established: bool,
    /// Our end of its path.
    pub local: SocketAddr,
    /// The peer's end.
    pub remote: SocketAddr,
}

/// What a `shell` statement's command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellOutcome {
    /// Exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    /// The first line of its standard output.
    pub first_line: String,
}

/// Where a drill's command took effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The node it acted on, with a note when there is one.
    pub on: String,
    /// The target had already done it before the drill asked (a peer that initiated at
    /// start absorbs the drill's first `up`): the events since the previous command
    /// belong to it.
    pub already_done: bool,
}

impl Applied {
    /// Applied now on `on`.
    pub fn on(on: impl Into<String>) -> Self {
        Applied {
            on: on.into(),
            already_done: false,
        }
    }
}

/// What a drill runs against.
pub trait DrillTarget {
    /// The target's clock.
    fn now(&self) -> Timestamp;
    /// The node names a statement may be prefixed with.
    fn node_names(&self) -> Vec<String>;
    /// Apply a peer command on `node` (the target's choice when `None`); returns the
    /// node it acted on, or why it could not be applied.
    fn command(&mut self, node: Option<&str>, command: &DrillCommand) -> Result<Applied, String>;
    /// Let time pass until an event happens or `deadline`; returns the events (in time
    /// order, at most up to `deadline`).
    fn advance_until(&mut self, deadline: Timestamp) -> Vec<TimedEvent>;
    /// The IKE SAs of `node` (the first node when `None`).
    fn sa_summaries(&mut self, node: Option<&str>) -> Result<Vec<SaSummary>, String>;
    /// Run a `shell` statement's command line.
    fn shell(&mut self, command_line: &str) -> Result<ShellOutcome, String> {
        run_shell(command_line)
    }
    /// The events that already happened and were not handed out yet, without letting
    /// time pass: the runner takes them before a command so that they do not count as
    /// its consequences (a live target reads events concurrently; the virtual lab has
    /// none pending).
    fn events_so_far(&mut self) -> Vec<TimedEvent> {
        vec![]
    }
    /// Why the drill must stop now (a signal), if it must: the runner checks before
    /// each statement and while it waits or sleeps.
    fn interrupted(&mut self) -> Option<String> {
        None
    }
    /// The traffic so far and the keys, as files in `dir` (a private temporary
    /// directory) or where the target already writes them.
    fn capture_files(&mut self, _dir: &std::path::Path) -> Result<CaptureFiles, String> {
        Err("this target keeps no capture".into())
    }
}

/// `sh -c COMMAND_LINE`, waiting for it.
pub fn run_shell(command_line: &str) -> Result<ShellOutcome, String> {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(command_line)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("sh: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    Ok(ShellOutcome {
        code: out.status.code(),
        first_line: stdout.lines().next().unwrap_or("").to_string(),
    })
}

/// How the runner may behave.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Run `shell` statements (refused otherwise: the drill is not run at all).
    pub allow_shell: bool,
}

/// The result of one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Done (a command, sleep, mark: nothing to hold).
    Done,
    /// An expectation (wait, expect, measure, shell) held.
    Held,
    /// An expectation failed, or a command could not be applied.
    Failed,
}

impl Verdict {
    /// `done`, `held`, `FAILED`.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Done => "done",
            Verdict::Held => "held",
            Verdict::Failed => "FAILED",
        }
    }
}

/// One executed statement on the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRecord {
    /// Since the drill started (target time).
    pub at: Duration,
    /// Its line in the file.
    pub line: usize,
    /// `2/3` inside a repeat (nested: `2/3 1/2`), else empty.
    pub iteration: String,
    /// The statement as written.
    pub statement: String,
    /// Outcome.
    pub verdict: Verdict,
    /// The event matched, the node acted on, or what was seen instead.
    pub detail: String,
    /// For `measure`: the value.
    pub measured: Option<Duration>,
}

/// A `measure` result.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// Its name.
    pub name: String,
    /// Its line.
    pub line: usize,
    /// Repeat iteration, as in [`StepRecord`].
    pub iteration: String,
    /// From the mark to the event.
    pub value: Duration,
}

/// Everything a run produced.
#[derive(Debug, Clone, PartialEq)]
pub struct DrillOutcome {
    /// The drill's file name.
    pub file: String,
    /// Every executed step, in order.
    pub steps: Vec<StepRecord>,
    /// Every measurement.
    pub measurements: Vec<Measurement>,
    /// Events received from the target.
    pub events: Vec<TimedEvent>,
    /// When the drill ended early: why (a failed `wait` or command).
    pub stopped: Option<String>,
    /// When it started (target time).
    pub started: Timestamp,
    /// The signal (SIGINT, SIGTERM) that stopped it, if one did.
    pub signal: Option<i32>,
}

impl DrillOutcome {
    /// The failed steps.
    pub fn failures(&self) -> impl Iterator<Item = &StepRecord> {
        self.steps.iter().filter(|s| s.verdict == Verdict::Failed)
    }

    /// 0: every expectation held; 1: one failed; 128 + the signal that stopped it.
    pub fn exit_code(&self) -> u8 {
        if let Some(sig) = self.signal {
            return 128u8.saturating_add(u8::try_from(sig).unwrap_or(0));
        }
        if self.failures().next().is_some() {
            1
        } else {
            0
        }
    }
}

/// Check what the drill needs of the target before anything runs: node names exist,
/// `shell` is allowed. The messages name file and line.
pub fn check_drill(drill: &Drill, nodes: &[String], options: RunOptions) -> Result<(), String> {
    fn walk(statements: &[Statement], visit: &mut dyn FnMut(&Statement)) {
        for s in statements {
            visit(s);
            if let StatementKind::Repeat { body, .. } = &s.kind {
                walk(body, visit);
            }
        }
    }
    let mut problems = Vec::new();
    walk(&drill.statements, &mut |s| {
        if let Some(n) = &s.node {
            if !nodes.contains(n) {
                problems.push(format!(
                    "{}:{}: unknown node '{n}' (nodes: {})",
                    drill.file,
                    s.line,
                    nodes.join(", ")
                ));
            }
        }
        if matches!(s.kind, StatementKind::Shell(_)) && !options.allow_shell {
            problems.push(format!(
                "{}:{}: 'shell' is refused unless allowed (--allow-shell)",
                drill.file, s.line
            ));
        }
    });
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

/// Run a drill against a target. `Err`: the drill does not fit the target or the
/// options (see [`check_drill`]); nothing ran.
pub fn run_drill(
    drill: &Drill,
    target: &mut dyn DrillTarget,
    options: RunOptions,
) -> Result<DrillOutcome, String> {
    check_drill(drill, &target.node_names(), options)?;
    let started = target.now();
    let mut interpreter = Interpreter {
        target,
        options,
        waited: BTreeSet::new(),
        command_from: 0,
        marks: BTreeMap::new(),
        outcome: DrillOutcome {
            file: drill.file.clone(),
            steps: vec![],
            measurements: vec![],
            events: vec![],
            stopped: None,
            started,
            signal: None,
        },
    };
    interpreter.block(&drill.statements, "");
    Ok(interpreter.outcome)
}

/// Go on or stop (a failed wait or command: what follows depends on it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}

struct Interpreter<'t> {
    target: &'t mut dyn DrillTarget,
    options: RunOptions,
    /// Events a `wait` matched: no other `wait` takes them.
    waited: BTreeSet<usize>,
    /// Events since the last command: `expect` looks here, `wait` too.
    command_from: usize,
    /// `mark`: its time and the event index then.
    marks: BTreeMap<String, (Timestamp, usize)>,
    outcome: DrillOutcome,
}

impl Interpreter<'_> {
    fn block(&mut self, statements: &[Statement], iteration: &str) -> Flow {
        for s in statements {
            if self.statement(s, iteration) == Flow::Stop {
                return Flow::Stop;
            }
        }
        Flow::Continue
    }

    fn statement(&mut self, s: &Statement, iteration: &str) -> Flow {
        if let Some(why) = self.target.interrupted() {
            self.outcome.stopped.get_or_insert(why);
            return Flow::Stop;
        }
        let node = s.node.as_deref();
        let (verdict, detail, measured) = match &s.kind {
            StatementKind::Repeat { count, body } => {
                for i in 1..=*count {
                    let label = format!("{iteration} {i}/{count}").trim().to_string();
                    if self.block(body, &label) == Flow::Stop {
                        return Flow::Stop;
                    }
                }
                return Flow::Continue;
            }
            StatementKind::Command(c) => self.command(node, c),
            StatementKind::Wait { event, within } => self.wait(node, event, *within),
            StatementKind::Expect(e) => self.expect(node, e),
            StatementKind::Sleep(d) => {
                self.sleep(*d);
                (Verdict::Done, String::new(), None)
            }
            StatementKind::Mark(name) => {
                let at = self.target.now();
                self.marks
                    .insert(name.clone(), (at, self.outcome.events.len()));
                (Verdict::Done, String::new(), None)
            }
            StatementKind::Measure { name, from, to } => self.measure(node, name, from, to),
            StatementKind::MeasureOutage { name, from } => {
                self.measure_outage(node, name, from.as_deref())
            }
            StatementKind::Shell(line) => self.shell(line),
        };
        let at = self.target.now().saturating_since(self.outcome.started);
        let fatal = verdict == Verdict::Failed
            && matches!(
                s.kind,
                StatementKind::Command(_) | StatementKind::Wait { .. }
            );
        let measure_name = match &s.kind {
            StatementKind::Measure { name, .. } | StatementKind::MeasureOutage { name, .. } => {
                Some(name)
            }
            _ => None,
        };
        if let (Some(value), Some(name)) = (measured, measure_name) {
            self.outcome.measurements.push(Measurement {
                name: name.clone(),
                line: s.line,
                iteration: iteration.to_string(),
                value,
            });
        }
        self.outcome.steps.push(StepRecord {
            at,
            line: s.line,
            iteration: iteration.to_string(),
            statement: s.text.clone(),
            verdict,
            detail,
            measured,
        });
        if let Some(why) = self.target.interrupted() {
            self.outcome.stopped = Some(why);
            return Flow::Stop;
        }
        if fatal {
            self.outcome.stopped = Some(format!(
                "line {} failed; the rest of the drill depends on it",
                s.line
            ));
            return Flow::Stop;
        }
        Flow::Continue
    }

    fn command(&mut self, node: Option<&str>, c: &DrillCommand) -> StepResult {
        let before = self.target.events_so_far();
        self.outcome.events.extend(before);
        let previous = self.command_from;
        self.command_from = self.outcome.events.len();
        match self.target.command(node, c) {
            Ok(applied) => {
                if applied.already_done {
                    // its events may already be in: keep them in the window
                    self.command_from = previous;
                }
                (Verdict::Done, format!("on {}", applied.on), None)
            }
            Err(e) => (Verdict::Failed, e, None),
        }
    }

    /// Let time pass to `deadline` or the first event; false when the target did not
    /// move (nothing left to wait for).
    fn advance(&mut self, deadline: Timestamp) -> bool {
        let before = (self.target.now(), self.outcome.events.len());
        let events = self.target.advance_until(deadline);
        self.outcome.events.extend(events);
        (self.target.now(), self.outcome.events.len()) != before
    }

    fn sleep(&mut self, d: Duration) {
        let deadline = self.target.now() + d;
        while self.target.now() < deadline {
            if !self.advance(deadline) || self.target.interrupted().is_some() {
                break;
            }
        }
    }

    fn find(&self, from: usize, node: Option<&str>, pattern: &EventPattern) -> Option<usize> {
        self.outcome
            .events
            .iter()
            .enumerate()
            .skip(from)
            .find(|(_, e)| event_matches(e, node, pattern))
            .map(|(i, _)| i)
    }

    /// Like `find`, skipping events an earlier `wait` matched.
    fn find_unwaited(
        &self,
        from: usize,
        node: Option<&str>,
        pattern: &EventPattern,
    ) -> Option<usize> {
        self.outcome
            .events
            .iter()
            .enumerate()
            .skip(from)
            .find(|(i, e)| !self.waited.contains(i) && event_matches(e, node, pattern))
            .map(|(i, _)| i)
    }

    fn wait(&mut self, node: Option<&str>, pattern: &EventPattern, within: Duration) -> StepResult {
        let from = self.command_from;
        let deadline = self.target.now() + within;
        loop {
            if let Some(i) = self.find_unwaited(from, node, pattern) {
                self.waited.insert(i);
                return (Verdict::Held, self.outcome.events[i].describe(), None);
            }
            if let Some(why) = self.target.interrupted() {
                return (Verdict::Failed, why, None);
            }
            if self.target.now() >= deadline || !self.advance(deadline) {
                let seen = seen_instead(&self.outcome.events[from..], pattern);
                let detail = format!("not within {}; {seen}", format_duration(within));
                return (Verdict::Failed, detail, None);
            }
        }
    }

    fn expect(&mut self, node: Option<&str>, e: &Expectation) -> StepResult {
        let from = self.command_from;
        let window = &self.outcome.events[from..];
        match e {
            Expectation::Event(p) => match self.find(from, node, p) {
                Some(i) => (Verdict::Held, self.outcome.events[i].describe(), None),
                None => (
                    Verdict::Failed,
                    format!(
                        "not seen since the last command; {}",
                        seen_instead(window, p)
                    ),
                    None,
                ),
            },
            Expectation::NoEvent(p) => match self.find(from, node, p) {
                Some(i) => (
                    Verdict::Failed,
                    format!("seen: {}", self.outcome.events[i].describe()),
                    None,
                ),
                None => (Verdict::Held, String::new(), None),
            },
            Expectation::Sa(cond) => self.expect_sa(node, *cond),
            Expectation::Path { local, remote } => {
                let sas = match self.target.sa_summaries(node) {
                    Ok(s) => s,
                    Err(e) => return (Verdict::Failed, e, None),
                };
                let on = sas
                    .iter()
                    .find(|s| s.established && local.matches(s.local) && remote.matches(s.remote));
                match on {
                    Some(s) => (
                        Verdict::Held,
                        format!("{} {} -> {}", s.sa, s.local, s.remote),
                        None,
                    ),
                    None => (Verdict::Failed, describe_sas(&sas), None),
                }
            }
        }
    }

    fn expect_sa(&mut self, node: Option<&str>, cond: SaCondition) -> StepResult {
        let sas = match self.target.sa_summaries(node) {
            Ok(s) => s,
            Err(e) => return (Verdict::Failed, e, None),
        };
        let up = sas.iter().any(|s| s.established);
        let held = match cond {
            SaCondition::Established => up,
            SaCondition::None => !up,
        };
        let verdict = if held { Verdict::Held } else { Verdict::Failed };
        (verdict, describe_sas(&sas), None)
    }

    fn measure(
        &mut self,
        node: Option<&str>,
        name: &str,
        from: &str,
        to: &EventPattern,
    ) -> StepResult {
        let Some(&(at, index)) = self.marks.get(from) else {
            return (
                Verdict::Failed,
                format!("{name}: mark '{from}' was not reached"),
                None,
            );
        };
        match self.find(index, node, to) {
            Some(i) => {
                let ev = &self.outcome.events[i];
                let value = ev.at.saturating_since(at);
                let detail = format!("{name} = {} ({})", format_duration(value), ev.describe());
                (Verdict::Held, detail, Some(value))
            }
            None => {
                let seen = seen_instead(&self.outcome.events[index..], to);
                (
                    Verdict::Failed,
                    format!("no such event since mark '{from}'; {seen}"),
                    None,
                )
            }
        }
    }

    /// The longest `longest_gap_ms` of the `ping` events since the mark (or the start).
    fn measure_outage(&mut self, node: Option<&str>, name: &str, from: Option<&str>) -> StepResult {
        let index = match from {
            None => 0,
            Some(m) => match self.marks.get(m) {
                Some(&(_, index)) => index,
                None => {
                    return (
                        Verdict::Failed,
                        format!("{name}: mark '{m}' was not reached"),
                        None,
                    )
                }
            },
        };
        let longest = self.outcome.events[index..]
            .iter()
            .filter(|e| e.name == "ping" && node.is_none_or(|n| e.node == n))
            .filter_map(|e| e.fields.get("longest_gap_ms").and_then(Value::as_f64))
            .filter(|ms| ms.is_finite() && *ms >= 0.0)
            .fold(None, |acc: Option<f64>, ms| {
                Some(acc.map_or(ms, |a| a.max(ms)))
            });
        match longest {
            Some(ms) => {
                let value = Duration::from_secs_f64(ms / 1e3);
                let detail = format!("{name} = {} (longest ping gap)", format_duration(value));
                (Verdict::Held, detail, Some(value))
            }
            None => (
                Verdict::Failed,
                format!(
                    "{name}: no ping report with a gap{}: start `ping ADDR` before, and                      `ping stop` + `wait ping` before measuring",
                    from.map(|m| format!(" since mark '{m}'")).unwrap_or_default()
                ),
                None,
            ),
        }
    }

    fn shell(&mut self, line: &str) -> StepResult {
        if !self.options.allow_shell {
            return (Verdict::Failed, "shell refused".into(), None);
        }
        self.command_from = self.outcome.events.len();
        match self.target.shell(line) {
            Ok(o) if o.code == Some(0) => (Verdict::Held, o.first_line, None),
            Ok(o) => (
                Verdict::Failed,
                format!(
                    "exit {}; {}",
                    o.code.map(|c| c.to_string()).unwrap_or("by signal".into()),
                    o.first_line
                ),
                None,
            ),
            Err(e) => (Verdict::Failed, e, None),
        }
    }
}

type StepResult = (Verdict, String, Option<Duration>);

fn describe_sas(sas: &[SaSummary]) -> String {
    if sas.is_empty() {
        return "no IKE SA".into();
    }
    sas.iter()
        .map(|s| {
            format!(
                "{} {} {} -> {}",
                s.sa,
                if s.established {
                    "established"
                } else {
                    "not established"
                },
                s.local,
                s.remote
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Does the event match the pattern (and come from `node`, when given)?
pub fn event_matches(e: &TimedEvent, node: Option<&str>, p: &EventPattern) -> bool {
    e.name == p.name
        && node.is_none_or(|n| e.node == n)
        && p.fields.iter().all(|f| field_matches(&e.fields, f))
}

fn field_matches(fields: &Map<String, Value>, f: &FieldMatch) -> bool {
    let mut keys = f.path.iter();
    let Some(first) = keys.next() else {
        return false;
    };
    let mut value = fields.get(first);
    for k in keys {
        value = value.and_then(|v| v.get(k));
    }
    value.is_some_and(|v| value_matches(v, &f.value))
}

/// A JSON value against a written one: strings as written (an `ADDR:PORT` also matches
/// its address alone), numbers by value, booleans and null by name, arrays when an
/// element matches.
fn value_matches(v: &Value, want: &str) -> bool {
    match v {
        Value::String(s) => {
            s == want
                || s.eq_ignore_ascii_case(want)
                || s.parse::<SocketAddr>()
                    .ok()
                    .zip(want.parse::<std::net::IpAddr>().ok())
                    .is_some_and(|(sock, ip)| sock.ip() == ip)
        }
        Value::Number(n) => n
            .as_f64()
            .zip(want.parse::<f64>().ok())
            .is_some_and(|(a, b)| a == b),
        Value::Bool(b) => want.eq_ignore_ascii_case(if *b { "true" } else { "false" }),
        Value::Null => want == "null" || want == "-",
        Value::Array(a) => a.iter().any(|x| value_matches(x, want)),
        Value::Object(_) => false,
    }
}

/// What a failed wait or expect saw instead: events of the same name (other fields,
/// another node, or taken by an earlier wait), or the names of the events seen.
fn seen_instead(window: &[TimedEvent], p: &EventPattern) -> String {
    let same: Vec<&TimedEvent> = window.iter().filter(|e| e.name == p.name).collect();
    if !same.is_empty() {
        let shown: Vec<String> = same.iter().take(3).map(|e| e.describe()).collect();
        let more = same.len().saturating_sub(3);
        let tail = if more > 0 {
            format!(" (and {more} more)")
        } else {
            String::new()
        };
        return format!("seen instead: {}{tail}", shown.join(" | "));
    }
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for e in window {
        match counts.iter_mut().find(|(n, _)| *n == e.name) {
            Some(c) => c.1 += 1,
            None => counts.push((&e.name, 1)),
        }
    }
    if counts.is_empty() {
        return "no events at all".into();
    }
    let list: Vec<String> = counts.iter().map(|(n, c)| format!("{n} x{c}")).collect();
    format!("no '{}' event; seen: {}", p.name, list.join(", "))
}

/// `1.500s`, `12.3ms`.
pub fn format_duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{:.1}ms", d.as_secs_f64() * 1000.0)
    } else {
        format!("{:.3}s", d.as_secs_f64())
    }
}
