//! A [`DrillTarget`] for a live `mobikectl peer` process (against a real gateway): the
//! drill's commands go to its standard input, its JSON events (`--events json`) come
//! back on a reader thread that stamps each with a monotonic clock, and `expect sa` /
//! `expect path` ask it with the `status` command.
//!
//! * The target has one node, `peer` ([`PEER_NODE`]).
//! * Every command is followed by a `status` command, whose answer marks the end of
//!   what the peer did with the command: an `error` event before it means the command
//!   could not be applied (the drill stops). These marker `status` events are not
//!   handed to the drill.
//! * `mobikectl peer` initiates its first connection at start (unless `--listen`), so
//!   a drill's first `up` only lets that initiation be seen instead of starting a
//!   second IKE SA.
//! * When the peer exits, its clock stops: waits fail at once.
//! * A caught SIGINT or SIGTERM ([`PeerTarget::watch_signals`]) sends SIGTERM to the
//!   peer (it deletes every IKE SA, then exits) and interrupts the drill.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use super::parse::DrillCommand;
use super::run::{Applied, CaptureFiles, DrillTarget, SaSummary, TimedEvent};
use crate::cli::command::PeerCommand;
use crate::cli::peer::event_kind::EventKind;
use crate::engine::Timestamp;
use crate::io::signals::{self, SignalPipe};

/// The node name of the peer process.
pub const PEER_NODE: &str = "peer";
/// How long the peer may take to say `ready`.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the peer may take to answer a command (and its `status` marker).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the peer may take to exit after end of input or SIGTERM (its own grace
/// for Delete answers is 3 s).
const EXIT_TIMEOUT: Duration = Duration::from_secs(6);
/// How often a wait looks at the signal pipe.
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// Which `mobikectl peer` to run.
#[derive(Debug, Clone)]
pub struct PeerSpec {
    /// The `mobikectl` binary.
    pub program: PathBuf,
    /// The options after `peer` (`--events json` is added; `--events` is refused).
    pub options: Vec<String>,
}

/// What the reader thread hands over.
enum Received {
    /// An event line, when it was read.
    Event(Instant, Map<String, Value>),
    /// End of the peer's output.
    Closed,
}

/// A running `mobikectl peer` as a drill target.
pub struct PeerTarget {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<Received>,
    origin: Instant,
    /// Events read, not handed to the drill yet.
    pending: VecDeque<TimedEvent>,
    /// The peer is gone or the drill interrupted: the clock stopped here.
    stopped_at: Option<Timestamp>,
    /// The peer initiated at start and no `up` of the drill has been absorbed yet.
    initiated_at_start: bool,
    signals: Option<SignalPipe>,
    /// The signal that interrupted the drill.
    caught: Option<libc::c_int>,
    /// The peer's options (where it writes its capture and keys).
    options: Vec<String>,
}

/// The event of one output line of the peer, `None` for anything else.
fn parse_event_line(line: &str) -> Option<Map<String, Value>> {
    match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(m)) if m.get("event").is_some_and(Value::is_string) => Some(m),
        _ => None,
    }
}

fn spawn_reader(out: std::process::ChildStdout) -> Result<Receiver<Received>, String> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("peer-events".into())
        .spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(m) = parse_event_line(&line) {
                    if tx.send(Received::Event(Instant::now(), m)).is_err() {
                        return;
                    }
                }
            }
            let _ = tx.send(Received::Closed);
        })
        .map_err(|e| format!("event reader thread: {e}"))?;
    Ok(rx)
}

impl PeerTarget {
    /// Start the peer and wait for its `ready` event. `Err`: it could not be started,
    /// or it exited (a configuration error: its message went to standard error).
    pub fn spawn(spec: &PeerSpec) -> Result<PeerTarget, String> {
        if spec.options.iter().any(|o| o.starts_with("--events")) {
            return Err("--events: the drill reads the peer's events as JSON; leave it out".into());
        }
        let mut child = Command::new(&spec.program)
            .arg("peer")
            .args(&spec.options)
            .args(["--events", "json"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("{}: {e}", spec.program.display()))?;
        let stdin = child.stdin.take();
        let Some(out) = child.stdout.take() else {
            let _ = child.kill();
            return Err("the peer's output is not a pipe".into());
        };
        let lines = spawn_reader(out)?;
        let mut target = PeerTarget {
            child,
            stdin,
            lines,
            origin: Instant::now(),
            pending: VecDeque::new(),
            stopped_at: None,
            initiated_at_start: false,
            signals: None,
            caught: None,
            options: spec.options.clone(),
        };
        target.await_ready()?;
        Ok(target)
    }

    /// Interrupt the drill on the signals this pipe catches.
    pub fn watch_signals(&mut self, pipe: SignalPipe) {
        self.signals = Some(pipe);
    }

    /// The signal that interrupted the drill, if one did.
    pub fn caught_signal(&self) -> Option<libc::c_int> {
        self.caught
    }

    fn await_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(Received::Event(at, m)) => {
                    let is_ready =
                        m.get("event").and_then(Value::as_str) == Some(EventKind::Ready.name());
                    let mode = m.get("mode").and_then(Value::as_str).map(str::to_string);
                    self.pending.push_back(self.timed(at, m));
                    if is_ready {
                        self.initiated_at_start = mode.as_deref() == Some("initiator");
                        return Ok(());
                    }
                }
                Ok(Received::Closed) | Err(RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait().map(|s| s.to_string());
                    return Err(format!(
                        "mobikectl peer exited before it was ready ({})",
                        status.unwrap_or_else(|e| e.to_string())
                    ));
                }
                Err(RecvTimeoutError::Timeout) => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return Err("mobikectl peer did not say 'ready' within 10 s".into());
                }
            }
        }
    }

    fn stamp(&self, at: Instant) -> Timestamp {
        let us = at.saturating_duration_since(self.origin).as_micros();
        Timestamp::from_micros(u64::try_from(us).unwrap_or(u64::MAX))
    }

    fn timed(&self, at: Instant, mut fields: Map<String, Value>) -> TimedEvent {
        let name = match fields.remove("event") {
            Some(Value::String(s)) => s,
            _ => String::new(),
        };
        fields.remove("time");
        TimedEvent {
            at: self.stamp(at),
            node: PEER_NODE.into(),
            name,
            fields,
        }
    }

    fn stop_clock(&mut self) {
        if self.stopped_at.is_none() {
            self.stopped_at = Some(self.stamp(Instant::now()));
        }
    }

    /// A signal caught: SIGTERM to the peer (it deletes its SAs), the drill stops.
    fn check_signals(&mut self) {
        let Some(sig) = self
            .signals
            .as_ref()
            .and_then(|p| p.take().first().copied())
        else {
            return;
        };
        if self.caught.is_none() {
            self.caught = Some(sig);
            self.terminate_peer();
            self.stop_clock();
        }
    }

    fn terminate_peer(&mut self) {
        if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: kill(2) on our own child's pid; it is not reaped yet.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
    }

    fn send_lines(&mut self, text: &str) -> Result<(), String> {
        let Some(stdin) = self.stdin.as_mut() else {
            return Err("the peer's input is closed".into());
        };
        stdin
            .write_all(text.as_bytes())
            .and_then(|()| stdin.flush())
            .map_err(|e| format!("the peer does not read commands any more: {e}"))
    }

    /// Send `line` (may be empty) and a `status` marker; read until the marker's
    /// answer, the `skip`-th `status` event after the line's own ones. Returns the
    /// errors the peer reported meanwhile and the marker's SA list.
    fn exchange(
        &mut self,
        line: &str,
        own_statuses: usize,
    ) -> Result<(Vec<String>, Value), String> {
        let text = if line.is_empty() {
            "status\n".to_string()
        } else {
            format!("{line}\nstatus\n")
        };
        self.send_lines(&text)?;
        let deadline = Instant::now() + ANSWER_TIMEOUT;
        let (mut statuses, mut errors) = (0, Vec::new());
        loop {
            self.check_signals();
            if let Some(sig) = self.caught {
                return Err(format!("interrupted by {}", signals::name(sig)));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left.min(SIGNAL_POLL)) {
                Ok(Received::Event(at, m)) => {
                    let event = self.timed(at, m);
                    if event.name == "status" {
                        statuses += 1;
                        if statuses > own_statuses {
                            let sas = event.fields.get("sas").cloned().unwrap_or(Value::Null);
                            return Ok((errors, sas));
                        }
                    }
                    if event.name == "error" {
                        errors.push(error_reason(&event));
                    }
                    self.pending.push_back(event);
                }
                Ok(Received::Closed) | Err(RecvTimeoutError::Disconnected) => {
                    self.stop_clock();
                    return Err("mobikectl peer exited".into());
                }
                Err(RecvTimeoutError::Timeout) if Instant::now() >= deadline => {
                    return Err(format!("mobikectl peer did not answer '{line}' within 5 s"));
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
    }

    /// End the peer: end of input (it deletes every IKE SA and exits) unless a signal
    /// already told it; kill it when it does not exit in time. The events it reported
    /// meanwhile are returned. Idempotent.
    pub fn finish(&mut self) -> Vec<TimedEvent> {
        self.stdin = None;
        let deadline = Instant::now() + EXIT_TIMEOUT;
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        while let Ok(Received::Event(at, m)) = self.lines.recv_timeout(SIGNAL_POLL) {
            let event = self.timed(at, m);
            self.pending.push_back(event);
        }
        self.stop_clock();
        self.pending.drain(..).collect()
    }
}

/// The value of option `name` (`--pcap FILE` or `--pcap=FILE`; the last one given).
pub fn option_value(options: &[String], name: &str) -> Option<String> {
    let mut found = None;
    for (i, o) in options.iter().enumerate() {
        if o == name {
            found = options.get(i + 1).cloned();
        } else if let Some(v) = o.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
            found = Some(v.to_string());
        }
    }
    found
}

/// The capture and key log the peer writes (`--pcap`, `--keylog`), and its ports.
fn peer_capture_files(options: &[String]) -> Result<CaptureFiles, String> {
    let pcap = option_value(options, "--pcap")
        .ok_or("the peer writes no capture: give it --pcap FILE (and --keylog FILE)")?;
    let port = |name: &str, default: u16| {
        option_value(options, name)
            .and_then(|p| p.parse::<u16>().ok())
            .unwrap_or(default)
    };
    let (ike, natt) = (port("--port", 500), port("--natt-port", 4500));
    Ok(CaptureFiles {
        pcap: PathBuf::from(pcap),
        keys: option_value(options, "--keylog").map(PathBuf::from),
        ike_ports: vec![ike, port("--remote-port", ike)],
        natt_ports: vec![natt, port("--remote-natt-port", natt)],
    })
}

fn error_reason(event: &TimedEvent) -> String {
    match event.fields.get("reason") {
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => "error".into(),
    }
}

fn sa_summary(v: &Value) -> Option<SaSummary> {
    let text = |k: &str| v.get(k).and_then(Value::as_str);
    Some(SaSummary {
        sa: text("sa")?.to_string(),
        established: text("state")? == "Established",
        local: text("local")?.parse::<SocketAddr>().ok()?,
        remote: text("remote")?.parse::<SocketAddr>().ok()?,
    })
}

impl Drop for PeerTarget {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.finish();
        }
    }
}

impl DrillTarget for PeerTarget {
    fn now(&self) -> Timestamp {
        self.stopped_at
            .unwrap_or_else(|| self.stamp(Instant::now()))
    }

    fn node_names(&self) -> Vec<String> {
        vec![PEER_NODE.into()]
    }

    fn command(&mut self, node: Option<&str>, command: &DrillCommand) -> Result<Applied, String> {
        let (line, command) = (&command.text, &command.command);
        if let Some(n) = node.filter(|n| *n != PEER_NODE) {
            return Err(format!("no node '{n}' (nodes: {PEER_NODE})"));
        }
        if self.initiated_at_start && matches!(command, PeerCommand::Up(None)) {
            self.initiated_at_start = false;
            return Ok(Applied {
                on: format!("{PEER_NODE} (it initiated at start)"),
                already_done: true,
            });
        }
        let own_statuses = usize::from(matches!(command, PeerCommand::Status));
        let (errors, _) = self.exchange(line, own_statuses)?;
        match errors.is_empty() {
            true => Ok(Applied::on(PEER_NODE)),
            false => Err(errors.join("; ")),
        }
    }

    fn advance_until(&mut self, deadline: Timestamp) -> Vec<TimedEvent> {
        loop {
            if !self.pending.is_empty() || self.stopped_at.is_some() {
                return self.pending.drain(..).collect();
            }
            self.check_signals();
            let now = self.now();
            if now >= deadline || self.caught.is_some() {
                return vec![];
            }
            let left = deadline.saturating_since(now).min(SIGNAL_POLL);
            match self.lines.recv_timeout(left) {
                Ok(Received::Event(at, m)) => {
                    let event = self.timed(at, m);
                    self.pending.push_back(event);
                    while let Ok(Received::Event(at, m)) = self.lines.try_recv() {
                        let event = self.timed(at, m);
                        self.pending.push_back(event);
                    }
                }
                Ok(Received::Closed) | Err(RecvTimeoutError::Disconnected) => self.stop_clock(),
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
    }

    fn sa_summaries(&mut self, node: Option<&str>) -> Result<Vec<SaSummary>, String> {
        if let Some(n) = node.filter(|n| *n != PEER_NODE) {
            return Err(format!("no node '{n}' (nodes: {PEER_NODE})"));
        }
        let (_, sas) = self.exchange("", 0)?;
        let list = sas.as_array().cloned().unwrap_or_default();
        Ok(list.iter().filter_map(sa_summary).collect())
    }

    fn events_so_far(&mut self) -> Vec<TimedEvent> {
        while let Ok(Received::Event(at, m)) = self.lines.try_recv() {
            let event = self.timed(at, m);
            self.pending.push_back(event);
        }
        self.pending.drain(..).collect()
    }

    fn capture_files(&mut self, _dir: &std::path::Path) -> Result<CaptureFiles, String> {
        peer_capture_files(&self.options)
    }

    fn interrupted(&mut self) -> Option<String> {
        self.check_signals();
        self.caught
            .map(|sig| format!("interrupted by {}", signals::name(sig)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::command::parse_command;
    use crate::drill::parse::{parse_drill, StatementKind};

    /// The peer is sent a command as the drill wrote it (node prefix and comment left
    /// out), and its parser reads the drill's command from that text.
    #[test]
    fn the_peer_is_sent_the_command_as_written() {
        let same = [
            "up",
            "up lab",
            "down #2",
            "rekey ike",
            "rekey child #1",
            "dpd",
            "status",
            "addr add 192.0.2.1",
            "addr del --os 2001:db8::1/64 dev eth0",
            "move 192.0.2.1 198.51.100.1 #3",
            "move 192.0.2.1",
            "probe",
            "update #1",
            "nat fake on",
            "nat rebind",
            "nat map 203.0.113.5:4500",
            "nat map off",
            "ping 10.1.0.1",
            "ping 10.1.0.1 25ms",
            "ping stop",
            "drop 192.0.2.1 198.51.100.1 off",
            "loss 30 192.0.2.1 198.51.100.1",
            "loss 5",
            "send #1 UPDATE_SA_ADDRESSES COOKIE2=0102",
            "child create",
            "child down 0badcafe #1",
            "help",
            "quit",
        ];
        let cases = same.iter().map(|l| (l.to_string(), l.to_string())).chain([
            ("peer: down #2   # the second SA".into(), "down #2".into()),
            ("  rekey   child #1".into(), "rekey   child #1".into()),
        ]);
        for (line, sent) in cases {
            let drill = parse_drill("commands.drill", &format!("{line}\n"));
            let kind = drill.map(|d| d.statements.into_iter().next().map(|s| s.kind));
            let Ok(Some(StatementKind::Command(c))) = kind else {
                panic!("{line}: {kind:?}");
            };
            assert_eq!(c.text, sent, "{line}");
            assert_eq!(
                parse_command(&c.text).ok().flatten(),
                Some(c.command),
                "{line}"
            );
        }
    }

    #[test]
    fn the_capture_files_come_from_the_peer_options() {
        let o: Vec<String> = ["--pcap", "a.pcapng", "--keylog=k.log", "--port", "10500"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let f = peer_capture_files(&o).unwrap();
        assert_eq!(f.pcap, PathBuf::from("a.pcapng"));
        assert_eq!(f.keys, Some(PathBuf::from("k.log")));
        assert_eq!(f.ike_ports, [10500, 10500]);
        assert_eq!(f.natt_ports, [4500, 4500]);
        assert!(peer_capture_files(&[]).is_err());
    }

    #[test]
    fn only_json_event_lines_are_events() {
        assert!(parse_event_line(r##"{"event":"moved","sa":"#1"}"##).is_some());
        assert!(parse_event_line(r##"{"sa":"#1"}"##).is_none());
        assert!(parse_event_line("12:00 moved #1").is_none());
        assert!(parse_event_line("[1,2]").is_none());
    }

    #[test]
    fn status_entries_become_sa_summaries() {
        let v = serde_json::json!({"sa": "#1", "state": "Established",
            "local": "127.0.0.1:4500", "remote": "127.0.0.2:4500"});
        let s = sa_summary(&v).unwrap();
        assert!(s.established && s.sa == "#1");
        assert!(sa_summary(&serde_json::json!({"sa": "#1"})).is_none());
    }
}
