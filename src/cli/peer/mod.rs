//! `mobikectl peer`: configuration (command line + TOML), the command language on stdin,
//! events on stdout, key log and pcapng output around the [`io`](crate::io) event loop.
//!
//! * [`config`]: command line and TOML merged into [`config::PeerSettings`];
//! * [`events`]: the JSON object and the text line of every event;
//! * this module: the runtime around the [`io`](crate::io) event loop.

pub mod config;
pub mod event_kind;
pub mod events;

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Write};
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};

pub use config::{settings, ConnOpts, PeerSettings};
pub use events::{event_json, event_text};

use super::args::{EventFormat, PeerArgs};
use super::command::{parse_command, resolve, Action, OsAddr, COMMANDS};
use crate::dataplane::host::DataPlane;
use crate::dataplane::PingStats;
use crate::engine::{Command, Engine, EngineEvent, IkeState, OsRandom, Random, SaId, Timestamp};
use crate::io::clock::Clock;
use crate::io::event_loop::{self, Direction, Handler};
use crate::io::pcap::PcapWriter;
use crate::io::signals::{self, SignalPipe};
use crate::io::socket::Sockets;
use crate::keys::keylog;
use event_kind::EventKind;
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
    /// Our address set (the engine's `set_local_addrs`).
    addrs: Vec<IpAddr>,
    /// `--follow-os`: the OS's address changes.
    #[cfg(target_os = "linux")]
    watch: Option<crate::io::netlink::AddrWatch>,
    /// SIGINT / SIGTERM: Deletes for every IKE SA, then exit.
    signals: Option<SignalPipe>,
    /// The echo responder and the `ping` probe.
    dataplane: DataPlane,
    /// ICMP identifier of our probes (random per process, as ping(8) does).
    ping_ident: u16,
    /// The last data-plane send error reported: repeats are not until the next ping
    /// summary (a probe every 10 ms would flood the output).
    last_send_error: Option<String>,
}

/// Is there anything to read commands from? Not when standard input is /dev/null or
/// closed (`cmd &` in a script, nohup, a service manager): such a peer runs until a
/// signal instead of ending at once on end of input.
fn stdin_has_commands() -> bool {
    // SAFETY: fstat/stat fill the zeroed structs we pass; fd 0 may be closed (error).
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        if libc::fstat(0, &mut st) != 0 {
            return false;
        }
        let mut null: libc::stat = std::mem::zeroed();
        let is_char = st.st_mode & libc::S_IFMT == libc::S_IFCHR;
        !(is_char
            && libc::stat(c"/dev/null".as_ptr(), &mut null) == 0
            && null.st_rdev == st.st_rdev)
    }
}

fn established(engine: &Engine) -> Vec<SaId> {
    engine
        .sas()
        .filter(|s| s.state == IkeState::Established)
        .map(|s| s.id)
        .collect()
}

fn join(v: &[IpAddr]) -> String {
    v.iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `ip addr add|del ADDR/PREFIX dev IFACE`.
fn os_addr(verb: &str, ip: IpAddr, os: &OsAddr) -> Result<(), String> {
    let cidr = format!("{ip}/{}", os.prefix);
    let out = std::process::Command::new("ip")
        .args(["addr", verb, &cidr, "dev", &os.dev])
        .output()
        .map_err(|e| format!("running ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip addr {verb} {cidr} dev {}: {}",
            os.dev,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Peer {
    fn emit(&mut self, kind: EventKind, body: Map<String, Value>) {
        let mut m = Map::new();
        m.insert("event".into(), Value::from(kind.name()));
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
        self.emit(EventKind::Error, m);
    }

    fn act(&mut self, engine: &mut Engine, sockets: &mut Sockets, now: Timestamp, a: Action) {
        match a {
            Action::Engine(c) => self.run_engine(engine, now, c),
            Action::Ping { dst, interval } => self.start_ping(engine, now, dst, interval),
            Action::PingStop => self.stop_ping(now),
            Action::Quit => self.quit(engine, now),
            Action::Help => {
                let mut m = Map::new();
                let list = COMMANDS
                    .iter()
                    .map(|c| serde_json::json!({"command": c.usage(), "help": c.help}))
                    .collect::<Vec<_>>();
                m.insert("commands".into(), Value::from(list));
                self.emit(EventKind::Help, m);
            }
            Action::AddAddr(ip, os) => {
                if self.addrs.contains(&ip) {
                    self.error(
                        None,
                        format!("addr add: {ip} is already one of our addresses"),
                    );
                    return;
                }
                if let Some(os) = &os {
                    if let Err(e) = os_addr("add", ip, os) {
                        self.error(None, format!("addr add: {e}"));
                        return;
                    }
                }
                if let Err(e) = sockets.bind_addr(ip) {
                    self.error(None, format!("addr add: {e}"));
                    return;
                }
                self.addrs.push(ip);
                self.addrs_changed(engine, sockets, now, "add", ip, "command");
            }
            Action::DelAddr(ip, os) => {
                if !self.addrs.contains(&ip) {
                    self.error(
                        None,
                        format!(
                            "addr del: {ip} is not one of our addresses ({})",
                            join(&self.addrs)
                        ),
                    );
                    return;
                }
                sockets.unbind_addr(ip);
                self.addrs.retain(|a| *a != ip);
                if let Some(os) = &os {
                    if let Err(e) = os_addr("del", ip, os) {
                        self.error(None, format!("addr del: {e}"));
                    }
                }
                self.addrs_changed(engine, sockets, now, "del", ip, "command");
            }
            Action::Rebind { sa, local } => {
                match sockets.bind_extra_port(local.ip(), local.port() == sockets.ports().1) {
                    Ok(bound) => self.run_engine(
                        engine,
                        now,
                        Command::Rebind {
                            sa,
                            port: bound.port(),
                        },
                    ),
                    Err(e) => self.error(Some(sa), format!("nat rebind: {e}")),
                }
            }
            Action::Drop { local, remote, on } => {
                sockets.filter.set_drop(local, remote, on);
                let mut m = Map::new();
                m.insert("what".into(), "drop".into());
                m.insert("local".into(), local.to_string().into());
                m.insert("remote".into(), remote.to_string().into());
                m.insert("on".into(), on.into());
                self.emit(EventKind::Filter, m);
            }
            Action::Loss { percent, pair } => {
                sockets.filter.set_loss(percent, pair);
                let mut m = Map::new();
                m.insert("what".into(), "loss".into());
                m.insert(
                    "local".into(),
                    pair.map(|p| Value::from(p.0.to_string()))
                        .unwrap_or(Value::Null),
                );
                m.insert(
                    "remote".into(),
                    pair.map(|p| Value::from(p.1.to_string()))
                        .unwrap_or(Value::Null),
                );
                m.insert("percent".into(), percent.into());
                self.emit(EventKind::Filter, m);
            }
        }
    }

    /// Our address set changed (a command or the OS): tell the engine, report it.
    fn addrs_changed(
        &mut self,
        engine: &mut Engine,
        sockets: &Sockets,
        now: Timestamp,
        change: &str,
        ip: IpAddr,
        by: &str,
    ) {
        engine.set_local_addrs(now, &self.addrs);
        let mut m = Map::new();
        m.insert("change".into(), change.into());
        m.insert("by".into(), by.into());
        m.insert("addr".into(), ip.to_string().into());
        m.insert(
            "addrs".into(),
            Value::from(self.addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>()),
        );
        m.insert(
            "listening".into(),
            Value::from(
                sockets
                    .local_addrs()
                    .iter()
                    .map(|a| a.to_string())
                    .collect::<Vec<_>>(),
            ),
        );
        self.emit(EventKind::LocalAddrs, m);
    }

    fn ping_event(&mut self, state: &str, stats: &PingStats, src: IpAddr, now: Timestamp) {
        self.emit(EventKind::Ping, events::ping_json(state, stats, src, now));
    }

    fn start_ping(&mut self, engine: &Engine, now: Timestamp, dst: IpAddr, interval: Duration) {
        let old = self.dataplane.probe().map(|p| p.src());
        match self
            .dataplane
            .start_ping(engine, now, dst, interval, self.ping_ident)
        {
            Ok(replaced) => {
                if let (Some(stats), Some(src)) = (replaced, old) {
                    self.ping_event("replaced", &stats, src, now);
                }
                self.last_send_error = None;
            }
            Err(e) => self.error(None, format!("ping: {e}")),
        }
    }

    fn stop_ping(&mut self, now: Timestamp) {
        let src = self.dataplane.probe().map(|p| p.src());
        match (self.dataplane.stop_ping(now), src) {
            (Some(stats), Some(src)) => self.ping_event("stopped", &stats, src, now),
            _ => self.error(None, "ping stop: no ping is running"),
        }
    }

    /// A data-plane packet could not be sent: reported once until it works again.
    fn send_error(&mut self, sa: Option<SaId>, e: &crate::engine::esp::EspError) {
        let text = format!("{}{e}", event_loop::ESP_SEND_ERROR);
        if self.last_send_error.as_deref() != Some(text.as_str()) {
            self.error(sa, text.clone());
            self.last_send_error = Some(text);
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
        if self.dataplane.probe().is_some() {
            self.stop_ping(now);
        }
        for id in established(engine) {
            self.run_engine(engine, now, Command::Down(id));
        }
    }
}

impl Handler for Peer {
    fn command(&mut self, engine: &mut Engine, sockets: &mut Sockets, now: Timestamp, line: &str) {
        let cmd = match parse_command(line) {
            Ok(Some(c)) => c,
            Ok(None) => return,
            Err(e) => {
                self.error(None, e.0);
                return;
            }
        };
        match resolve(engine, cmd) {
            Ok(actions) => {
                for a in actions {
                    self.act(engine, sockets, now, a);
                }
            }
            Err(e) => self.error(None, e),
        }
    }

    fn input_closed(&mut self, engine: &mut Engine, now: Timestamp) {
        self.quit(engine, now);
    }

    fn signal_fd(&self) -> Option<std::os::fd::RawFd> {
        self.signals.as_ref().map(|s| s.fd())
    }

    fn signalled(&mut self, engine: &mut Engine, now: Timestamp) {
        let caught = self.signals.as_ref().map(|s| s.take()).unwrap_or_default();
        for sig in caught {
            let mut m = Map::new();
            m.insert("signal".into(), Value::from(signals::name(sig)));
            let again = self.quitting.is_some();
            m.insert(
                "action".into(),
                Value::from(if again {
                    "exit now"
                } else {
                    "deleting every IKE SA, then exit"
                }),
            );
            self.emit(EventKind::Signal, m);
            if again {
                // a second signal: do not wait for the Deletes' answers
                self.quitting = Some(now);
            } else {
                self.quit(engine, now);
            }
        }
    }

    fn event(&mut self, engine: &Engine, event: EngineEvent) {
        // every inner packet would flood the output: the probe reports them in sum
        if matches!(event, EngineEvent::EspReceived { .. }) {
            return;
        }
        let (_, mut body) = event_json(&event);
        if matches!(event, EngineEvent::Status(_)) {
            events::add_esp_counters(&mut body, engine);
        }
        self.emit(EventKind::of(&event), body);
    }

    fn inner_packet(
        &mut self,
        engine: &mut Engine,
        now: Timestamp,
        child: (SaId, u32),
        packet: &[u8],
    ) {
        if let Err(e) = self.dataplane.on_esp(engine, now, child, packet) {
            self.send_error(Some(child.0), &e);
        }
    }

    fn tick(&mut self, engine: &mut Engine, now: Timestamp) {
        if self.dataplane.poll_timeout().is_none_or(|t| t > now) {
            return;
        }
        let out = self.dataplane.on_timeout(engine, now);
        if let (Some(stats), Some(src)) = (out.report, self.dataplane.probe().map(|p| p.src())) {
            self.ping_event("running", &stats, src, now);
            // a lasting send error is repeated at most with every summary (once a second)
            self.last_send_error = None;
        }
        if let Some(e) = out.errors.first() {
            self.send_error(None, e);
        }
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
        // failed ESP sends come at the probe's rate: reported once until one works
        if message.starts_with(event_loop::ESP_SEND_ERROR) {
            if self.last_send_error.as_deref() != Some(message.as_str()) {
                self.error(None, message.clone());
                self.last_send_error = Some(message);
            }
            return;
        }
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

    #[cfg(target_os = "linux")]
    fn extra_fd(&self) -> Option<std::os::fd::RawFd> {
        self.watch.as_ref().map(|w| w.fd())
    }

    #[cfg(target_os = "linux")]
    fn extra_ready(&mut self, engine: &mut Engine, sockets: &mut Sockets, now: Timestamp) {
        let changes = match self.watch.as_ref().map(|w| w.read_changes()) {
            Some(Ok(c)) => c,
            Some(Err(e)) => {
                self.watch = None;
                self.error(
                    None,
                    format!("--follow-os: netlink: {e}; no longer following"),
                );
                return;
            }
            None => return,
        };
        for c in changes {
            let ip = c.addr;
            // link-local IPv6 addresses need a scope, loopback ones are no use to a
            // peer: not followed
            if ip.is_loopback()
                || matches!(ip, IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80)
            {
                continue;
            }
            if c.added && !self.addrs.contains(&ip) {
                // (a tentative IPv6 address cannot be bound yet: its next RTM_NEWADDR,
                // after duplicate address detection, brings it)
                if let Err(e) = sockets.bind_addr(ip) {
                    self.error(None, format!("--follow-os: {ip} appeared: {e}"));
                    continue;
                }
                self.addrs.push(ip);
                self.addrs_changed(engine, sockets, now, "add", ip, "os");
            } else if !c.added && self.addrs.contains(&ip) {
                sockets.unbind_addr(ip);
                self.addrs.retain(|a| *a != ip);
                self.addrs_changed(engine, sockets, now, "del", ip, "os");
            }
        }
    }

    fn deadline(&self) -> Option<Timestamp> {
        [self.quitting, self.dataplane.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
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
    let mut sockets = Sockets::bind(&s.bind, s.port, s.natt_port).map_err(|e| e.to_string())?;
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
    let mut ident = [0u8; 2];
    OsRandom.fill(&mut ident);
    let clock = Clock::new();
    let mut peer = Peer {
        out: Box::new(io::stdout()),
        format: s.events,
        pcap,
        keylog,
        logged: HashSet::new(),
        quitting: None,
        addrs: s.addrs.clone(),
        signals: Some(
            SignalPipe::install(&[libc::SIGINT, libc::SIGTERM])
                .map_err(|e| format!("signal handlers: {e}"))?,
        ),
        #[cfg(target_os = "linux")]
        watch: if s.follow_os {
            Some(
                crate::io::netlink::AddrWatch::open()
                    .map_err(|e| format!("--follow-os: netlink socket: {e}"))?,
            )
        } else {
            None
        },
        dataplane: DataPlane::default(),
        ping_ident: u16::from_be_bytes(ident),
        last_send_error: None,
    };
    #[cfg(not(target_os = "linux"))]
    if s.follow_os {
        return Err("--follow-os needs Linux (rtnetlink)".into());
    }
    // the engine's address set (announced to MOBIKE peers)
    engine.set_local_addrs(clock.now(), &s.addrs);
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
    let commands = stdin_has_commands();
    ready.insert(
        "commands".into(),
        Value::from(if commands {
            "stdin (end of input deletes every IKE SA and exits)"
        } else {
            "none (stdin is /dev/null or closed: runs until SIGINT or SIGTERM)"
        }),
    );
    ready.insert(
        "mode".into(),
        Value::from(if s.listen { "responder" } else { "initiator" }),
    );
    peer.emit(EventKind::Ready, ready);
    if !s.listen {
        if let Some(n) = first {
            peer.run_engine(&mut engine, clock.now(), Command::Up(n));
        }
    }
    let input = if commands {
        Some(
            event_loop::spawn_line_reader(BufReader::new(io::stdin()))
                .map_err(|e| format!("stdin reader: {e}"))?,
        )
    } else {
        None
    };
    event_loop::run(&mut engine, &mut sockets, &clock, input, &mut peer)
        .map_err(|e| format!("event loop: {e}"))?;
    peer.emit(EventKind::Exit, Map::new());
    Ok(())
}
