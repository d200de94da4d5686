//! `mobikectl peer`: configuration (command line + TOML), the command language on stdin,
//! events on stdout, key log and pcapng output around the [`io`](crate::io) event loop.
//!
//! * [`config`]: command line and TOML merged into [`config::PeerSettings`];
//! * [`events`]: the JSON object and the text line of every event;
//! * this module: the runtime around the [`io`](crate::io) event loop.

pub mod config;
pub mod events;

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};

pub use config::{settings, ConnOpts, PeerSettings};
pub use events::{event_json, event_text};

use super::args::{EventFormat, PeerArgs};
use super::command::{parse_command, PeerCommand, RekeyTarget};
use crate::engine::{Command, Engine, EngineEvent, IkeState, OsRandom, SaId, Timestamp};
use crate::io::clock::Clock;
use crate::io::event_loop::{self, Direction, Handler};
use crate::io::pcap::PcapWriter;
use crate::io::socket::Sockets;
use crate::keys::keylog;
use events::rfc3339;

/// How long `quit` waits for Delete responses.
pub const QUIT_GRACE: Duration = Duration::from_secs(3);

// ---------------------------------------------------------------- runtime

struct Peer {
    out: Box<dyn Write>,
    format: EventFormat,
    pcap: Option<PcapWriter<BufWriter<File>>>,
    keylog: Option<File>,
    logged: HashSet<(u64, u64)>,
    quitting: Option<Timestamp>,
}

impl Peer {
    fn emit(&mut self, name: &str, body: Map<String, Value>) {
        let mut m = Map::new();
        m.insert("event".into(), Value::from(name));
        m.insert("time".into(), Value::from(rfc3339(SystemTime::now())));
        m.extend(body);
        let line = match self.format {
            EventFormat::Json => Value::Object(m).to_string(),
            EventFormat::Text => event_text(&m),
        };
        // stdout gone: nothing sensible left to report to
        let _ = writeln!(self.out, "{line}");
        let _ = self.out.flush();
    }

    fn error(&mut self, sa: Option<SaId>, reason: impl Into<String>) {
        let mut m = Map::new();
        m.insert(
            "sa".into(),
            sa.map(|s| Value::from(s.to_string()))
                .unwrap_or(Value::Null),
        );
        m.insert("reason".into(), Value::from(reason.into()));
        self.emit("error", m);
    }

    fn established(engine: &Engine) -> Vec<SaId> {
        engine
            .sas()
            .filter(|s| s.state == IkeState::Established)
            .map(|s| s.id)
            .collect()
    }

    fn pick(&mut self, engine: &Engine, sa: Option<SaId>) -> Option<SaId> {
        match sa {
            Some(s) => Some(s),
            None => {
                let newest = Self::established(engine).into_iter().max();
                if newest.is_none() {
                    self.error(None, "no established IKE SA (bring one up with 'up')");
                }
                newest
            }
        }
    }

    fn run_engine(&mut self, engine: &mut Engine, now: Timestamp, c: Command) {
        if let Err(e) = engine.command(now, c) {
            let sa = match &e {
                crate::engine::CommandError::UnknownSa(s)
                | crate::engine::CommandError::UnknownChild(s, _)
                | crate::engine::CommandError::InvalidState(s, _) => Some(*s),
                _ => None,
            };
            self.error(sa, e.to_string());
        }
    }

    fn quit(&mut self, engine: &mut Engine, now: Timestamp) {
        if self.quitting.is_some() {
            return;
        }
        self.quitting = Some(now + QUIT_GRACE);
        for id in Self::established(engine) {
            self.run_engine(engine, now, Command::Down(id));
        }
    }
}

impl Handler for Peer {
    fn command(&mut self, engine: &mut Engine, now: Timestamp, line: &str) {
        let cmd = match parse_command(line) {
            Ok(Some(c)) => c,
            Ok(None) => return,
            Err(e) => {
                self.error(None, e.0);
                return;
            }
        };
        match cmd {
            PeerCommand::Up(name) => {
                let conn = match name {
                    Some(n) => engine.config().connections.iter().find(|c| c.name == n),
                    None => engine.config().connections.first(),
                };
                match conn {
                    Some(c) if c.remote.ip().is_unspecified() => {
                        let msg = format!(
                            "connection '{}' has no remote address to initiate to (--remote)",
                            c.name
                        );
                        self.error(None, msg);
                    }
                    Some(c) => {
                        let n = c.name.clone();
                        self.run_engine(engine, now, Command::Up(n));
                    }
                    None => {
                        let names: Vec<String> = engine
                            .config()
                            .connections
                            .iter()
                            .map(|c| c.name.clone())
                            .collect();
                        self.error(
                            None,
                            format!("no such connection; configured: {}", names.join(", ")),
                        );
                    }
                }
            }
            PeerCommand::Down(Some(id)) => self.run_engine(engine, now, Command::Down(id)),
            PeerCommand::Down(None) => {
                let all = Self::established(engine);
                if all.is_empty() {
                    self.error(None, "no established IKE SA to delete");
                }
                for id in all {
                    self.run_engine(engine, now, Command::Down(id));
                }
            }
            PeerCommand::Dpd(sa) => {
                if let Some(id) = self.pick(engine, sa) {
                    self.run_engine(engine, now, Command::Dpd(id));
                }
            }
            PeerCommand::Rekey(what, sa) => {
                if let Some(id) = self.pick(engine, sa) {
                    let c = match what {
                        RekeyTarget::Ike => Command::RekeyIke(id),
                        RekeyTarget::Child => {
                            match engine.sa(id).and_then(|s| s.children.first()) {
                                Some(c) => Command::RekeyChild(id, c.spi_in),
                                None => {
                                    self.error(Some(id), format!("IKE SA {id} has no CHILD_SA"));
                                    return;
                                }
                            }
                        }
                    };
                    self.run_engine(engine, now, c);
                }
            }
            PeerCommand::Status => self.run_engine(engine, now, Command::Status),
            PeerCommand::Quit => self.quit(engine, now),
        }
    }

    fn input_closed(&mut self, engine: &mut Engine, now: Timestamp) {
        self.quit(engine, now);
    }

    fn event(&mut self, _engine: &Engine, event: EngineEvent) {
        let (name, body) = event_json(&event);
        self.emit(name, body);
    }

    fn packet(&mut self, dir: Direction, path: crate::engine::Path, wire: &[u8]) {
        let (src, dst) = match dir {
            Direction::Sent => (path.local, path.remote),
            Direction::Received => (path.remote, path.local),
        };
        if let Some(p) = self.pcap.as_mut() {
            if let Err(e) = p.write_udp(SystemTime::now(), src, dst, wire) {
                self.pcap = None;
                self.error(None, format!("pcap: {e}; capture stopped"));
            }
        }
    }

    fn io_error(&mut self, message: String) {
        self.error(None, message);
    }

    fn after_round(&mut self, engine: &Engine) {
        let Some(f) = self.keylog.as_mut() else {
            return;
        };
        let mut failed = None;
        for sa in engine.sas() {
            let (Some(keys), true) = (sa.keys.as_ref(), sa.spi_r != 0) else {
                continue;
            };
            if !self.logged.insert((sa.spi_i, sa.spi_r)) {
                continue;
            }
            if let Err(e) = keylog::write_keylog_record(f, sa.spi_i, sa.spi_r, keys, &sa.ni, &sa.nr)
                .and_then(|()| f.flush())
            {
                failed = Some(e);
                break;
            }
        }
        if let Some(e) = failed {
            self.keylog = None;
            self.error(None, format!("key log: {e}; no more keys are written"));
        }
    }

    fn finished(&mut self, engine: &Engine, now: Timestamp) -> bool {
        match self.quitting {
            None => false,
            Some(deadline) => {
                now >= deadline
                    || !engine
                        .sas()
                        .any(|s| matches!(s.state, IkeState::Established | IkeState::Deleting))
            }
        }
    }

    fn deadline(&self) -> Option<Timestamp> {
        self.quitting
    }
}

fn create_keylog(path: &Path) -> io::Result<File> {
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| io::Error::new(e.kind(), format!("key log {}: {e}", path.display())))?;
    // an existing file keeps its mode on open: enforce 0600
    use std::os::unix::fs::PermissionsExt;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    keylog::write_keylog_header(&mut f)?;
    f.flush()?;
    Ok(f)
}

/// Run the peer with stdin commands and stdout events. Returns the process exit code.
pub fn main(args: &PeerArgs) -> ExitCode {
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mobikectl peer: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &PeerArgs) -> Result<(), String> {
    let s = settings(args)?;
    let sockets = Sockets::bind(&s.bind, s.port, s.natt_port).map_err(|e| e.to_string())?;
    let keylog = s
        .keylog
        .as_deref()
        .map(create_keylog)
        .transpose()
        .map_err(|e| e.to_string())?;
    let pcap = s
        .pcap
        .as_deref()
        .map(PcapWriter::create)
        .transpose()
        .map_err(|e| format!("pcap: {e}"))?;
    let names: Vec<String> = s
        .config
        .connections
        .iter()
        .map(|c| c.name.clone())
        .collect();
    let first = names.first().cloned();
    let mut config = s.config;
    // Certificate validity dates: engine time zero is (about) now.
    config.unix_time_at_epoch = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs());
    let mut engine = Engine::new(config, Box::new(OsRandom));
    let clock = Clock::new();
    let mut peer = Peer {
        out: Box::new(io::stdout()),
        format: s.events,
        pcap,
        keylog,
        logged: HashSet::new(),
        quitting: None,
    };
    let mut ready = Map::new();
    ready.insert(
        "listening".into(),
        Value::from(
            sockets
                .local_addrs()
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>(),
        ),
    );
    ready.insert("connections".into(), Value::from(names));
    ready.insert(
        "mode".into(),
        Value::from(if s.listen { "responder" } else { "initiator" }),
    );
    peer.emit("ready", ready);
    if !s.listen {
        if let Some(n) = first {
            peer.run_engine(&mut engine, clock.now(), Command::Up(n));
        }
    }
    let input = event_loop::spawn_line_reader(BufReader::new(io::stdin()))
        .map_err(|e| format!("stdin reader: {e}"))?;
    event_loop::run(&mut engine, &sockets, &clock, Some(input), &mut peer)
        .map_err(|e| format!("event loop: {e}"))?;
    peer.emit("exit", Map::new());
    Ok(())
}
