//! The live UI's data source: a thread that drives a peer or the embedded lab (any drill
//! target) and hands its events over a channel. The engine runs on that thread (or in the
//! peer's own process), so a slow terminal never delays a retransmission or a DPD answer:
//! the UI only reads what arrived when it draws.
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::thread;
use std::time::{Duration, Instant};

use crate::cli::command::{parse_command, PeerCommand};
use crate::drill::parse::DrillCommand;
use crate::drill::{DrillTarget, TimedEvent};

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
    /// The target could not start or stopped (why).
    Ended(String),
}

/// The UI's end of a running source.
pub struct LiveSource {
    commands: Sender<NodeCommand>,
    updates: Receiver<SourceUpdate>,
}

impl LiveSource {
    /// Starts the thread: `make` builds the target there (so it need not be `Send`), then
    /// every `start` command is applied (e.g. `up`).
    pub fn spawn<F>(make: F, start: Vec<NodeCommand>) -> LiveSource
    where
        F: FnOnce() -> Result<Box<dyn DrillTarget>, String> + Send + 'static,
    {
        let (ctx, crx) = mpsc::channel::<NodeCommand>();
        let (utx, urx) = mpsc::channel::<SourceUpdate>();
        thread::spawn(move || {
            let mut target = match make() {
                Ok(t) => t,
                Err(e) => {
                    let _ = utx.send(SourceUpdate::Ended(e));
                    return;
                }
            };
            drive(target.as_mut(), start, &crx, &utx);
        });
        LiveSource {
            commands: ctx,
            updates: urx,
        }
    }

    /// Sends a command; false when the source is gone.
    pub fn send(&self, c: NodeCommand) -> bool {
        self.commands.send(c).is_ok()
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
    commands: &Receiver<NodeCommand>,
    updates: &Sender<SourceUpdate>,
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
                Ok(c) => {
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
