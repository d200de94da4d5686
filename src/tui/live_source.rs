//! The live UI's data source: a thread that drives a peer or the embedded lab (any drill
//! target) and hands its events over a channel. The engine runs on that thread (or in the
//! peer's own process), so a slow terminal never delays a retransmission or a DPD answer:
//! the UI only reads what arrived when it draws.
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::thread;
use std::time::{Duration, Instant};

use crate::cli::command::{parse_command, PeerCommand};
use crate::drill::parse::DrillCommand;
use crate::drill::{CaptureFiles, DrillTarget, TimedEvent};
use std::path::{Path, PathBuf};

/// How often the source asks every node for its `status` (the SA list's state).
const STATUS_EVERY: Duration = Duration::from_millis(250);
/// Longest wait for events before looking at the UI's commands again.
const SLICE: Duration = Duration::from_millis(20);

/// A command for a node (`None`: the target chooses, as in drills).
pub struct NodeCommand {
    pub node: Option<String>,
    /// The command and its text (what a peer process is sent).
    pub command: DrillCommand,
}

impl NodeCommand {
    /// A command without arguments (`up`, `status`, `quit`) for `node`.
    pub fn simple(node: Option<String>, command: PeerCommand, text: &str) -> NodeCommand {
        NodeCommand {
            node,
            command: DrillCommand {
                command,
                text: text.to_string(),
            },
        }
    }
}

/// What the source sends.
pub enum SourceUpdate {
    /// The node names, first.
    Nodes(Vec<String>),
    Events(Vec<TimedEvent>),
    /// A command was refused (why).
    Refused(String),
    /// The capture files asked for ([`LiveSource::request_capture`]).
    Capture(Result<CaptureFiles, String>),
    /// The target could not start or stopped (why).
    Ended(String),
}

/// What the UI asks of the source.
enum Request {
    Command(NodeCommand),
    /// The traffic so far and the keys, as files (for the payload tree).
    Capture,
}

/// The UI's end of a running source.
pub struct LiveSource {
    commands: Sender<Request>,
    updates: Receiver<SourceUpdate>,
}

impl LiveSource {
    /// Starts the thread: `make` builds the target there (so it need not be `Send`), then
    /// every `start` command is applied (e.g. `up`).
    /// `capture_dir`: a private directory where a target that keeps its capture in memory
    /// (the labs) writes it when asked.
    pub fn spawn<F>(make: F, start: Vec<NodeCommand>, capture_dir: Option<PathBuf>) -> LiveSource
    where
        F: FnOnce() -> Result<Box<dyn DrillTarget>, String> + Send + 'static,
    {
        let (ctx, crx) = mpsc::channel::<Request>();
        let (utx, urx) = mpsc::channel::<SourceUpdate>();
        thread::spawn(move || {
            let mut target = match make() {
                Ok(t) => t,
                Err(e) => {
                    let _ = utx.send(SourceUpdate::Ended(e));
                    return;
                }
            };
            drive(target.as_mut(), start, &crx, &utx, capture_dir.as_deref());
        });
        LiveSource {
            commands: ctx,
            updates: urx,
        }
    }

    /// Sends a command; false when the source is gone.
    pub fn send(&self, c: NodeCommand) -> bool {
        self.commands.send(Request::Command(c)).is_ok()
    }

    /// Asks for the capture files; they come as [`SourceUpdate::Capture`].
    pub fn request_capture(&self) -> bool {
        self.commands.send(Request::Capture).is_ok()
    }

    /// What arrived, without waiting.
    pub fn poll(&self) -> Vec<SourceUpdate> {
        let mut out = Vec::new();
        loop {
            match self.updates.try_recv() {
                Ok(u) => out.push(u),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    out.push(SourceUpdate::Ended("the peer stopped".into()));
                    break;
                }
            }
        }
        out
    }
}

fn drive(
    target: &mut dyn DrillTarget,
    start: Vec<NodeCommand>,
    commands: &Receiver<Request>,
    updates: &Sender<SourceUpdate>,
    capture_dir: Option<&Path>,
) {
    let nodes = target.node_names();
    if updates.send(SourceUpdate::Nodes(nodes.clone())).is_err() {
        return;
    }
    let apply = |target: &mut dyn DrillTarget, c: NodeCommand| {
        if let Err(e) = target.command(c.node.as_deref(), &c.command) {
            let _ = updates.send(SourceUpdate::Refused(e));
        }
    };
    for c in start {
        apply(target, c);
    }
    let mut last_status: Option<Instant> = None;
    loop {
        loop {
            match commands.try_recv() {
                Ok(Request::Capture) => {
                    let files = match capture_dir {
                        Some(dir) => target.capture_files(dir),
                        None => Err("no directory for the capture".into()),
                    };
                    let _ = updates.send(SourceUpdate::Capture(files));
                }
                Ok(Request::Command(c)) => {
                    let quit = matches!(c.command.command, PeerCommand::Quit);
                    apply(target, c);
                    if quit {
                        let _ = updates.send(SourceUpdate::Events(target.events_so_far()));
                        return;
                    }
                }
                Err(TryRecvError::Empty) => break,
                // the UI is gone: end the SAs as `quit` does
                Err(TryRecvError::Disconnected) => {
                    for n in &nodes {
                        let quit = NodeCommand::simple(None, PeerCommand::Quit, "quit");
                        let _ = target.command(Some(n), &quit.command);
                    }
                    return;
                }
            }
        }
        if last_status.is_none_or(|t| t.elapsed() >= STATUS_EVERY) {
            let status = NodeCommand::simple(None, PeerCommand::Status, "status");
            for n in &nodes {
                let _ = target.command(Some(n), &status.command);
            }
            last_status = Some(Instant::now());
        }
        let mut events = target.events_so_far();
        let deadline = target.now() + SLICE;
        events.extend(target.advance_until(deadline));
        if !events.is_empty() && updates.send(SourceUpdate::Events(events)).is_err() {
            return;
        }
        if let Some(why) = target.interrupted() {
            let _ = updates.send(SourceUpdate::Ended(why));
            return;
        }
    }
}

/// A `:` line for the peer: `[NODE:] COMMAND ...`.
pub fn parse_node_command(line: &str, nodes: &[String]) -> Result<NodeCommand, String> {
    let (node, rest) = match line.split_once(':') {
        Some((n, rest)) if nodes.iter().any(|x| x == n.trim()) => {
            (Some(n.trim().to_string()), rest)
        }
        _ => (None, line),
    };
    let text = rest.trim();
    match parse_command(text) {
        Ok(Some(command)) => Ok(NodeCommand {
            node,
            command: DrillCommand {
                command,
                text: text.to_string(),
            },
        }),
        Ok(None) => Err("empty command".into()),
        Err(e) => Err(e.to_string()),
    }
}
