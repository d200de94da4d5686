//! The peer's command language: one command per line (stdin of `mobikectl peer`; the TUI
//! and drill scripts reuse this parser and [`resolve`]).
//!
//! Everything about a command is in one table, [`COMMANDS`]: its words, its argument
//! synopsis, its one-line help and its parser. The parser ([`parse_command`]), the
//! `help` command ([`help_text`]), the README's command table ([`commands_markdown`],
//! checked by a test) and completion of command words ([`complete`]) come from it.
//!
//! `SA` is an engine handle as shown in events: `#3` or `3`. Words are separated by
//! blanks; keywords are case-insensitive; blank lines and lines starting with `#` are
//! ignored.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::engine::{Command, Engine, IkeState, SaId};
use crate::wire::registry;

/// What to rekey.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RekeyTarget {
    /// The IKE SA.
    Ike,
    /// A CHILD_SA.
    Child,
}

/// `--os ADDR/PREFIX dev IFACE` of `addr add|del`: also change the interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsAddr {
    /// Prefix length.
    pub prefix: u8,
    /// Interface name.
    pub dev: String,
}

/// A parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerCommand {
    /// `up [CONN]`.
    Up(Option<String>),
    /// `down [SA]`.
    Down(Option<SaId>),
    /// `rekey ike|child [SA]`.
    Rekey(RekeyTarget, Option<SaId>),
    /// `dpd [SA]`.
    Dpd(Option<SaId>),
    /// `status`.
    Status,
    /// `addr add [--os] ADDR[/PREFIX dev IFACE]`.
    AddrAdd(IpAddr, Option<OsAddr>),
    /// `addr del [--os] ADDR[/PREFIX dev IFACE]`.
    AddrDel(IpAddr, Option<OsAddr>),
    /// `move LOCAL [REMOTE] [SA]`.
    Move {
        /// Our address.
        local: IpAddr,
        /// The peer's address.
        remote: Option<IpAddr>,
        /// The IKE SA.
        sa: Option<SaId>,
    },
    /// `probe [SA]`.
    Probe(Option<SaId>),
    /// `update [SA]`.
    Update(Option<SaId>),
    /// `nat fake on|off`.
    NatFake(bool),
    NatMap(Option<std::net::SocketAddr>),
    /// `nat rebind [SA]`.
    NatRebind(Option<SaId>),
    /// `drop LOCAL REMOTE on|off`.
    Drop {
        /// Our address.
        local: IpAddr,
        /// The peer's address.
        remote: IpAddr,
        /// Drop (true) or stop dropping.
        on: bool,
    },
    /// `loss PERCENT [LOCAL REMOTE]`.
    Loss {
        /// Share of datagrams dropped, 0..=100.
        percent: u8,
        /// Only on this pair (ours, the peer's); `None`: every pair.
        pair: Option<(IpAddr, IpAddr)>,
    },
    /// `send SA NOTIFY[=HEXDATA] ...`.
    Send {
        /// The IKE SA.
        sa: SaId,
        /// Notify types and data.
        notifies: Vec<(u16, Vec<u8>)>,
    },
    /// `child create [SA]`.
    ChildCreate(Option<SaId>),
    /// `child down SPI [SA]`.
    ChildDown {
        /// Our inbound SPI.
        spi: u32,
        /// The IKE SA.
        sa: Option<SaId>,
    },
    /// `ping ADDR [INTERVAL]`.
    Ping {
        /// Target inside the peer's traffic selectors.
        dst: IpAddr,
        /// Between requests (default 10 ms).
        interval: Option<Duration>,
    },
    /// `ping stop`.
    PingStop,
    /// `help`.
    Help,
    /// `quit`.
    Quit,
}

/// Why a line is not a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseError {}

/// One command of the language.
pub struct CommandSpec {
    /// The command words (`up`, `addr add`).
    pub name: &'static str,
    /// The arguments after the words (`[SA]`).
    pub synopsis: &'static str,
    /// One line of help.
    pub help: &'static str,
    /// Parses the arguments after the words; the message says what was wrong.
    pub parse: fn(&[&str]) -> Result<PeerCommand, String>,
}

impl CommandSpec {
    /// `name synopsis`.
    pub fn usage(&self) -> String {
        if self.synopsis.is_empty() {
            self.name.to_string()
        } else {
            format!("{} {}", self.name, self.synopsis)
        }
    }
}

/// Every command, in the order `help` lists them.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "up",
        synopsis: "[CONN]",
        help: "initiate connection CONN (default: the first one)",
        parse: |a| {
            at_most(a, 1)?;
            Ok(PeerCommand::Up(a.first().map(|s| s.to_string())))
        },
    },
    CommandSpec {
        name: "down",
        synopsis: "[SA]",
        help: "delete IKE SA SA (default: every established IKE SA)",
        parse: |a| {
            at_most(a, 1)?;
            Ok(PeerCommand::Down(opt_sa(a)?))
        },
    },
    CommandSpec {
        name: "rekey",
        synopsis: "ike|child [SA]",
        help: "rekey the IKE SA / its first CHILD_SA (CREATE_CHILD_SA)",
        parse: |a| {
            at_most(a, 2)?;
            let what = match a.first().map(|w| w.to_ascii_lowercase()).as_deref() {
                Some("ike") => RekeyTarget::Ike,
                Some("child") => RekeyTarget::Child,
                Some(w) => return Err(format!("'{w}' is neither 'ike' nor 'child'")),
                None => return Err("rekey what: 'ike' or 'child'?".into()),
            };
            Ok(PeerCommand::Rekey(what, opt_sa(&a[1..])?))
        },
    },
    CommandSpec {
        name: "dpd",
        synopsis: "[SA]",
        help: "send an empty INFORMATIONAL (liveness check)",
        parse: |a| {
            at_most(a, 1)?;
            Ok(PeerCommand::Dpd(opt_sa(a)?))
        },
    },
    CommandSpec {
        name: "child create",
        synopsis: "[SA]",
        help: "create another CHILD_SA with the connection's settings",
        parse: |a| {
            at_most(a, 1)?;
            Ok(PeerCommand::ChildCreate(opt_sa(a)?))
        },
    },
    CommandSpec {
        name: "child down",
        synopsis: "SPI [SA]",
        help: "delete the CHILD_SA with our inbound SPI (hex)",
        parse: |a| {
            at_most(a, 2)?;
            let w = a.first().ok_or("which CHILD_SA: give our inbound SPI")?;
            let h = w.trim_start_matches("0x");
            let spi = u32::from_str_radix(h, 16)
                .ok()
                .filter(|_| !h.is_empty() && h.len() <= 8)
                .ok_or_else(|| format!("'{w}' is not a SPI (hex, like c1a2b3d4)"))?;
            Ok(PeerCommand::ChildDown {
                spi,
                sa: opt_sa(&a[1..])?,
            })
        },
    },
    CommandSpec {
        name: "status",
        synopsis: "",
        help: "report every IKE SA (paths, address sets, MOBIKE state)",
        parse: |a| {
            at_most(a, 0)?;
            Ok(PeerCommand::Status)
        },
    },
    CommandSpec {
        name: "addr add",
        synopsis: "ADDR | --os ADDR/PREFIX dev IFACE",
        help: "add a local address: bind sockets on it and tell the SAs (--os: ip addr add first)",
        parse: |a| {
            let (addr, os) = addr_args(a)?;
            Ok(PeerCommand::AddrAdd(addr, os))
        },
    },
    CommandSpec {
        name: "addr del",
        synopsis: "ADDR | --os ADDR/PREFIX dev IFACE",
        help: "remove a local address: close its sockets, SAs on it move (--os: ip addr del too)",
        parse: |a| {
            let (addr, os) = addr_args(a)?;
            Ok(PeerCommand::AddrDel(addr, os))
        },
    },
    CommandSpec {
        name: "move",
        synopsis: "LOCAL [REMOTE] [SA]",
        help: "MOBIKE: probe the path from our address LOCAL and move the SA there",
        parse: |a| {
            at_most(a, 3)?;
            let local = ip(a.first().ok_or("move where: give our address LOCAL")?)?;
            let (remote, rest) = match a.get(1) {
                Some(w) if w.parse::<IpAddr>().is_ok() => (Some(ip(w)?), &a[2..]),
                _ => (None, &a[1..]),
            };
            at_most(rest, 1)?;
            Ok(PeerCommand::Move {
                local,
                remote,
                sa: opt_sa(rest)?,
            })
        },
    },
    CommandSpec {
        name: "probe",
        synopsis: "[SA]",
        help: "MOBIKE: test every path of the SA now",
        parse: |a| {
            at_most(a, 1)?;
            Ok(PeerCommand::Probe(opt_sa(a)?))
        },
    },
    CommandSpec {
        name: "update",
        synopsis: "[SA]",
        help: "MOBIKE: send UPDATE_SA_ADDRESSES (with NAT detection and COOKIE2) now",
        parse: |a| {
            at_most(a, 1)?;
            Ok(PeerCommand::Update(opt_sa(a)?))
        },
    },
    CommandSpec {
        name: "nat fake",
        synopsis: "on|off",
        help: "claim a NAT in front of us in NAT detection hashes (or stop)",
        parse: |a| {
            at_most(a, 1)?;
            Ok(PeerCommand::NatFake(on_off(a.first())?))
        },
    },
    CommandSpec {
        name: "nat map",
        synopsis: "ADDR:PORT|off",
        help:
            "claim our public mapping is ADDR:PORT in NAT detection hashes (a known NAT), or stop",
        parse: |a| {
            at_most(a, 1)?;
            match a.first().copied() {
                None => Err("ADDR:PORT or off?".into()),
                Some("off") => Ok(PeerCommand::NatMap(None)),
                Some(s) => s
                    .parse()
                    .map(|m| PeerCommand::NatMap(Some(m)))
                    .map_err(|_| {
                        format!(
                        "'{s}' is not ADDR:PORT (e.g. 203.0.113.5:4500, [2001:db8::5]:4500) or off"
                    )
                    }),
            }
        },
    },
    CommandSpec {
        name: "nat rebind",
        synopsis: "[SA]",
        help: "send from a fresh port on the SA's local address, as a NAT rebinding would",
        parse: |a| {
            at_most(a, 1)?;
            Ok(PeerCommand::NatRebind(opt_sa(a)?))
        },
    },
    CommandSpec {
        name: "drop",
        synopsis: "LOCAL REMOTE on|off",
        help: "silently drop our datagrams between LOCAL and REMOTE, both directions",
        parse: |a| {
            at_most(a, 3)?;
            if a.len() < 3 {
                return Err("give our address, the peer's address and on or off".into());
            }
            Ok(PeerCommand::Drop {
                local: ip(a[0])?,
                remote: ip(a[1])?,
                on: on_off(a.get(2))?,
            })
        },
    },
    CommandSpec {
        name: "loss",
        synopsis: "PERCENT [LOCAL REMOTE]",
        help: "drop this share of datagrams sent and received (on one pair, or all)",
        parse: |a| {
            at_most(a, 3)?;
            let w = a.first().ok_or("how much: give a percentage 0 to 100")?;
            let percent = w
                .trim_end_matches('%')
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= 100)
                .ok_or_else(|| format!("'{w}' is not a percentage 0 to 100"))?;
            let pair = match a.len() {
                1 => None,
                3 => Some((ip(a[1])?, ip(a[2])?)),
                _ => return Err("give both LOCAL and REMOTE, or neither".into()),
            };
            Ok(PeerCommand::Loss { percent, pair })
        },
    },
    CommandSpec {
        name: "send",
        synopsis: "SA NOTIFY[=HEXDATA] ...",
        help: "send a crafted INFORMATIONAL with these notifies (name or number)",
        parse: |a| {
            let sa = sa_ref(a.first().ok_or("send on which IKE SA: give SA, like #1")?)?;
            if a.len() < 2 {
                return Err("give at least one NOTIFY, like UPDATE_SA_ADDRESSES".into());
            }
            let notifies = a[1..]
                .iter()
                .map(|w| notify_arg(w))
                .collect::<Result<_, _>>()?;
            Ok(PeerCommand::Send { sa, notifies })
        },
    },
    CommandSpec {
        name: "ping",
        synopsis: "ADDR [INTERVAL] | stop",
        help: "ping ADDR through the CHILD_SA every INTERVAL (10ms; 5ms, 0.5s, ...) and \
               report loss, RTT and the longest gap; or stop and report",
        parse: |a| {
            at_most(a, 2)?;
            let w = a
                .first()
                .ok_or("ping what: give an address inside the peer's traffic selectors")?;
            if w.eq_ignore_ascii_case("stop") {
                at_most(a, 1)?;
                return Ok(PeerCommand::PingStop);
            }
            Ok(PeerCommand::Ping {
                dst: ip(w)?,
                interval: a.get(1).map(|i| interval(i)).transpose()?,
            })
        },
    },
    CommandSpec {
        name: "help",
        synopsis: "",
        help: "list the commands",
        parse: |a| {
            at_most(a, 0)?;
            Ok(PeerCommand::Help)
        },
    },
    CommandSpec {
        name: "quit",
        synopsis: "",
        help: "delete the IKE SAs, wait briefly for the answers, exit (also: end of input)",
        parse: |a| {
            at_most(a, 0)?;
            Ok(PeerCommand::Quit)
        },
    },
];

fn sa_ref(word: &str) -> Result<SaId, String> {
    let digits = word.strip_prefix('#').unwrap_or(word);
    digits
        .parse::<u64>()
        .ok()
        .filter(|&n| n > 0)
        .map(SaId)
        .ok_or_else(|| format!("'{word}' is not an IKE SA handle (like #1)"))
}

fn opt_sa(args: &[&str]) -> Result<Option<SaId>, String> {
    args.first().map(|w| sa_ref(w)).transpose()
}

fn at_most(args: &[&str], n: usize) -> Result<(), String> {
    if args.len() > n {
        return Err(format!("too many arguments ('{}')", args[n..].join(" ")));
    }
    Ok(())
}

fn ip(word: &str) -> Result<IpAddr, String> {
    word.parse()
        .map_err(|_| format!("'{word}' is not an IP address"))
}

/// `10ms`, `0.5s`, `2s` or a bare number of milliseconds; at least 1 ms, at most 1 h.
fn interval(word: &str) -> Result<Duration, String> {
    let w = word.to_ascii_lowercase();
    let (num, scale) = if let Some(n) = w.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = w.strip_suffix('s') {
        (n, 1.0)
    } else {
        (w.as_str(), 1e-3)
    };
    num.parse::<f64>()
        .ok()
        .map(|n| n * scale)
        .filter(|secs| (0.001..=3600.0).contains(secs))
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("'{word}' is not an interval from 1ms to 3600s (like 10ms or 0.5s)"))
}

fn on_off(word: Option<&&str>) -> Result<bool, String> {
    match word.map(|w| w.to_ascii_lowercase()).as_deref() {
        Some("on") => Ok(true),
        Some("off") => Ok(false),
        Some(w) => Err(format!("'{w}' is neither 'on' nor 'off'")),
        None => Err("on or off?".into()),
    }
}

fn addr_args(a: &[&str]) -> Result<(IpAddr, Option<OsAddr>), String> {
    match a {
        [] => Err("which address?".into()),
        ["--os", cidr, dev_kw, dev] if dev_kw.eq_ignore_ascii_case("dev") => {
            let (addr, prefix) = cidr
                .split_once('/')
                .ok_or_else(|| format!("'{cidr}': --os needs ADDR/PREFIX"))?;
            let addr = ip(addr)?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let prefix = prefix
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("'{prefix}' is not a prefix length 0 to {max}"))?;
            Ok((
                addr,
                Some(OsAddr {
                    prefix,
                    dev: dev.to_string(),
                }),
            ))
        }
        ["--os", ..] => Err("--os needs ADDR/PREFIX dev IFACE".into()),
        [addr] => Ok((ip(addr)?, None)),
        _ => Err(format!("too many arguments ('{}')", a[1..].join(" "))),
    }
}

/// A notify type by name (`UPDATE_SA_ADDRESSES`, case-insensitive) or number.
pub fn notify_type(word: &str) -> Option<u16> {
    if let Ok(n) = word.parse::<u16>() {
        return Some(n);
    }
    (0..=u16::MAX).find(|&t| registry::notify_name(t).is_some_and(|n| n.eq_ignore_ascii_case(word)))
}

fn notify_arg(word: &str) -> Result<(u16, Vec<u8>), String> {
    let (name, data) = match word.split_once('=') {
        Some((n, d)) => (n, d),
        None => (word, ""),
    };
    let t = notify_type(name).ok_or_else(|| {
        format!("'{name}' is not a notify type (a name like COOKIE2, or a number)")
    })?;
    let hex = data.trim_start_matches("0x");
    let data = hex::decode(hex).map_err(|e| format!("'{data}': bad hex data: {e}"))?;
    Ok((t, data))
}

/// Parse one line; `Ok(None)` for blank lines and comments. Errors say what was wrong
/// and the usage of the command (or every command, when the command is unknown).
pub fn parse_command(line: &str) -> Result<Option<PeerCommand>, ParseError> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let words: Vec<&str> = line.split_whitespace().collect();
    let first = words[0].to_ascii_lowercase();
    let first = if first == "exit" {
        "quit".into()
    } else {
        first
    };
    let second = words.get(1).map(|w| w.to_ascii_lowercase());
    let mut group = Vec::new();
    for spec in COMMANDS {
        let mut names = spec.name.split(' ');
        if names.next() != Some(first.as_str()) {
            continue;
        }
        match names.next() {
            None => return run(spec, &words[1..]),
            Some(sub) if second.as_deref() == Some(sub) => return run(spec, &words[2..]),
            Some(_) => group.push(spec.usage()),
        }
    }
    if !group.is_empty() {
        let what = match &second {
            Some(w) => format!("unknown '{first}' command '{w}'"),
            None => format!("'{first}' needs a subcommand"),
        };
        return Err(ParseError(format!("{what} (usage: {})", group.join(" | "))));
    }
    Err(ParseError(format!(
        "unknown command '{first}'; commands: {}",
        COMMANDS
            .iter()
            .map(CommandSpec::usage)
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

fn run(spec: &CommandSpec, args: &[&str]) -> Result<Option<PeerCommand>, ParseError> {
    (spec.parse)(args)
        .map(Some)
        .map_err(|e| ParseError(format!("{}: {e} (usage: {})", spec.name, spec.usage())))
}

/// The `help` command's text: one line per command.
pub fn help_text() -> String {
    let w = COMMANDS.iter().map(|c| c.usage().len()).max().unwrap_or(0);
    COMMANDS
        .iter()
        .map(|c| format!("{:w$}  {}\n", c.usage(), c.help))
        .collect()
}

/// The README's command table (Markdown).
pub fn commands_markdown() -> String {
    let mut s = String::from("| command | what it does |\n|---|---|\n");
    for c in COMMANDS {
        s.push_str(&format!(
            "| `{}` | {} |\n",
            c.usage().replace('|', "\\|"),
            c.help
        ));
    }
    s
}

/// Completions of a partial line's command words (`"ad"` → `["addr"]`, `"addr "` →
/// `["addr add", "addr del"]`).
pub fn complete(prefix: &str) -> Vec<String> {
    let p = prefix.trim_start().to_ascii_lowercase();
    let mut out: Vec<String> = Vec::new();
    for c in COMMANDS {
        let cand = if p.contains(' ') {
            c.name.to_string()
        } else {
            c.name.split(' ').next().unwrap_or(c.name).to_string()
        };
        if cand.starts_with(&p) && !out.contains(&cand) {
            out.push(cand);
        }
    }
    out
}

// ---------------------------------------------------------------- resolving defaults

/// What a command asks of a front end, defaults resolved against the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Run this engine command.
    Engine(Command),
    /// Add a local address (bind sockets, then `Engine::set_local_addrs`).
    AddAddr(IpAddr, Option<OsAddr>),
    /// Remove a local address (close sockets, then `Engine::set_local_addrs`).
    DelAddr(IpAddr, Option<OsAddr>),
    /// Bind a socket on a fresh port at `local`'s address, then run
    /// [`Command::Rebind`] for `sa` with that port.
    Rebind {
        /// The IKE SA.
        sa: SaId,
        /// Its current local endpoint.
        local: SocketAddr,
    },
    /// Drop our datagrams on a pair (I/O filter).
    Drop {
        /// Our address.
        local: IpAddr,
        /// The peer's.
        remote: IpAddr,
        /// On or off.
        on: bool,
    },
    /// Random loss (I/O filter).
    Loss {
        /// Percent.
        percent: u8,
        /// Pair or every pair.
        pair: Option<(IpAddr, IpAddr)>,
    },
    /// Start pinging `dst` through the CHILD_SA that covers it (replacing a running
    /// ping).
    Ping {
        /// Target.
        dst: IpAddr,
        /// Between requests.
        interval: Duration,
    },
    /// Stop the ping and report its numbers.
    PingStop,
    /// Show the help.
    Help,
    /// Shut down.
    Quit,
}

fn established(engine: &Engine) -> Vec<SaId> {
    engine
        .sas()
        .filter(|s| s.state == IkeState::Established)
        .map(|s| s.id)
        .collect()
}

fn pick(engine: &Engine, sa: Option<SaId>) -> Result<SaId, String> {
    match sa {
        Some(s) => Ok(s),
        None => established(engine)
            .into_iter()
            .max()
            .ok_or_else(|| "no established IKE SA (bring one up with 'up')".to_string()),
    }
}

/// Resolve a command's defaults (the newest established IKE SA, the first connection,
/// the first CHILD_SA) into what to do; shared by every front end. The error says what
/// is missing.
pub fn resolve(engine: &Engine, cmd: PeerCommand) -> Result<Vec<Action>, String> {
    use PeerCommand as P;
    let one = |c: Command| Ok(vec![Action::Engine(c)]);
    match cmd {
        P::Up(name) => {
            let conns = &engine.config().connections;
            let conn = match &name {
                Some(n) => conns.iter().find(|c| &c.name == n),
                None => conns.first(),
            };
            match conn {
                Some(c) if c.remote.ip().is_unspecified() => Err(format!(
                    "connection '{}' has no remote address to initiate to (--remote)",
                    c.name
                )),
                Some(c) => one(Command::Up(c.name.clone())),
                None => Err(format!(
                    "no such connection; configured: {}",
                    conns
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            }
        }
        P::Down(Some(id)) => one(Command::Down(id)),
        P::Down(None) => {
            let all = established(engine);
            if all.is_empty() {
                return Err("no established IKE SA to delete".into());
            }
            Ok(all
                .into_iter()
                .map(|id| Action::Engine(Command::Down(id)))
                .collect())
        }
        P::Dpd(sa) => one(Command::Dpd(pick(engine, sa)?)),
        P::Rekey(RekeyTarget::Ike, sa) => one(Command::RekeyIke(pick(engine, sa)?)),
        P::Rekey(RekeyTarget::Child, sa) => {
            let id = pick(engine, sa)?;
            let sa = engine
                .sa(id)
                .ok_or_else(|| crate::engine::CommandError::UnknownSa(id).to_string())?;
            match sa.children.first() {
                Some(c) => one(Command::RekeyChild(id, c.spi_in)),
                None => Err(format!("IKE SA {id} has no CHILD_SA")),
            }
        }
        P::Status => one(Command::Status),
        P::ChildCreate(sa) => one(Command::CreateChild(pick(engine, sa)?)),
        P::ChildDown { spi, sa } => one(Command::DownChild(pick(engine, sa)?, spi)),
        P::Probe(sa) => one(Command::Probe(pick(engine, sa)?)),
        P::Update(sa) => one(Command::Update(pick(engine, sa)?)),
        P::Move { local, remote, sa } => one(Command::Move {
            sa: pick(engine, sa)?,
            local,
            remote,
        }),
        P::NatFake(on) => one(Command::NatFake(on)),
        P::NatMap(m) => one(Command::NatMap(m)),
        P::NatRebind(sa) => {
            let id = pick(engine, sa)?;
            let s = engine
                .sa(id)
                .ok_or_else(|| crate::engine::CommandError::UnknownSa(id).to_string())?;
            Ok(vec![Action::Rebind {
                sa: id,
                local: s.path.local,
            }])
        }
        P::Send { sa, notifies } => one(Command::Crafted { sa, notifies }),
        P::AddrAdd(a, os) => Ok(vec![Action::AddAddr(a, os)]),
        P::AddrDel(a, os) => Ok(vec![Action::DelAddr(a, os)]),
        P::Drop { local, remote, on } => Ok(vec![Action::Drop { local, remote, on }]),
        P::Loss { percent, pair } => Ok(vec![Action::Loss { percent, pair }]),
        P::Ping { dst, interval } => match engine.esp_child_for(dst) {
            Some(_) => Ok(vec![Action::Ping {
                dst,
                interval: interval.unwrap_or(crate::dataplane::ping::DEFAULT_INTERVAL),
            }]),
            None => Err(format!(
                "ping: no CHILD_SA covers {dst} (its remote traffic selectors must contain it)"
            )),
        },
        P::PingStop => Ok(vec![Action::PingStop]),
        P::Help => Ok(vec![Action::Help]),
        P::Quit => Ok(vec![Action::Quit]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(line: &str) -> PeerCommand {
        parse_command(line)
            .unwrap_or_else(|e| panic!("{line}: {e}"))
            .unwrap_or_else(|| panic!("{line}: nothing"))
    }

    #[test]
    fn parses_every_command() {
        use PeerCommand::*;
        let a = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(ok("up"), Up(None));
        assert_eq!(ok(" up home "), Up(Some("home".into())));
        assert_eq!(ok("down"), Down(None));
        assert_eq!(ok("DOWN #2"), Down(Some(SaId(2))));
        assert_eq!(
            ok("rekey child 3"),
            Rekey(RekeyTarget::Child, Some(SaId(3)))
        );
        assert_eq!(ok("rekey ike"), Rekey(RekeyTarget::Ike, None));
        assert_eq!(ok("dpd"), Dpd(None));
        assert_eq!(ok("status"), Status);
        assert_eq!(ok("quit"), Quit);
        assert_eq!(ok("exit"), Quit);
        assert_eq!(ok("help"), Help);
        assert_eq!(ok("addr add 192.0.2.7"), AddrAdd(a("192.0.2.7"), None));
        assert_eq!(
            ok("addr del --os 2001:db8::7/64 dev eth1"),
            AddrDel(
                a("2001:db8::7"),
                Some(OsAddr {
                    prefix: 64,
                    dev: "eth1".into()
                })
            )
        );
        assert_eq!(
            ok("move 10.0.0.1"),
            Move {
                local: a("10.0.0.1"),
                remote: None,
                sa: None
            }
        );
        assert_eq!(
            ok("move 10.0.0.1 #4"),
            Move {
                local: a("10.0.0.1"),
                remote: None,
                sa: Some(SaId(4))
            }
        );
        assert_eq!(
            ok("move 10.0.0.1 10.0.0.2 4"),
            Move {
                local: a("10.0.0.1"),
                remote: Some(a("10.0.0.2")),
                sa: Some(SaId(4))
            }
        );
        assert_eq!(ok("probe #1"), Probe(Some(SaId(1))));
        assert_eq!(ok("update"), Update(None));
        assert_eq!(ok("nat fake ON"), NatFake(true));
        assert_eq!(ok("nat fake off"), NatFake(false));
        assert_eq!(
            ok("nat map 203.0.113.5:4500"),
            NatMap(Some("203.0.113.5:4500".parse().unwrap()))
        );
        assert_eq!(ok("nat map off"), NatMap(None));
        assert_eq!(ok("nat rebind"), NatRebind(None));
        assert_eq!(
            ok("drop 10.0.0.1 10.0.0.2 on"),
            Drop {
                local: a("10.0.0.1"),
                remote: a("10.0.0.2"),
                on: true
            }
        );
        assert_eq!(
            ok("loss 30%"),
            Loss {
                percent: 30,
                pair: None
            }
        );
        assert_eq!(
            ok("loss 100 10.0.0.1 10.0.0.2"),
            Loss {
                percent: 100,
                pair: Some((a("10.0.0.1"), a("10.0.0.2")))
            }
        );
        assert_eq!(
            ok("send #1 update_sa_addresses COOKIE2=0102 40961"),
            Send {
                sa: SaId(1),
                notifies: vec![(16400, vec![]), (16401, vec![1, 2]), (40961, vec![])]
            }
        );
        assert_eq!(ok("child create"), ChildCreate(None));
        assert_eq!(
            ok("child down 0xc1a2b3d4 #2"),
            ChildDown {
                spi: 0xc1a2_b3d4,
                sa: Some(SaId(2))
            }
        );
        assert_eq!(
            ok("ping 10.1.0.1"),
            Ping {
                dst: a("10.1.0.1"),
                interval: None
            }
        );
        assert_eq!(
            ok("ping 2001:db8::1 0.5s"),
            Ping {
                dst: a("2001:db8::1"),
                interval: Some(Duration::from_millis(500))
            }
        );
        assert_eq!(
            ok("ping 10.1.0.1 5"),
            Ping {
                dst: a("10.1.0.1"),
                interval: Some(Duration::from_millis(5))
            }
        );
        assert_eq!(ok("ping STOP"), PingStop);
        assert_eq!(parse_command("").unwrap(), None);
        assert_eq!(parse_command("# comment").unwrap(), None);
    }

    #[test]
    fn every_table_entry_parses_its_own_example() {
        for c in COMMANDS {
            let line = match c.name {
                "rekey" => "rekey ike".to_string(),
                "addr add" | "addr del" => format!("{} 10.0.0.1", c.name),
                "move" => "move 10.0.0.1".into(),
                "nat fake" => "nat fake on".into(),
                "nat map" => "nat map 192.0.2.1:4500".into(),
                "drop" => "drop 10.0.0.1 10.0.0.2 off".into(),
                "loss" => "loss 5".into(),
                "send" => "send 1 COOKIE2".into(),
                "child down" => "child down 1234abcd".into(),
                "ping" => "ping 10.1.0.1 10ms".into(),
                n => n.to_string(),
            };
            ok(&line);
        }
    }

    #[test]
    fn rejects_with_reason_and_usage() {
        for (bad, want) in [
            ("fly", "unknown command"),
            ("up a b", "usage: up [CONN]"),
            ("down x", "not an IKE SA handle"),
            ("down #0", "not an IKE SA handle"),
            ("rekey", "usage: rekey ike|child [SA]"),
            ("rekey esp", "neither 'ike' nor 'child'"),
            ("rekey ike 1 2", "too many arguments"),
            ("status now", "usage: status"),
            ("dpd -1", "usage: dpd [SA]"),
            ("addr", "'addr' needs a subcommand"),
            ("addr flip 1.2.3.4", "unknown 'addr' command 'flip'"),
            ("addr add", "which address"),
            ("addr add banana", "not an IP address"),
            ("addr add 1.2.3.4 5.6.7.8", "too many arguments"),
            ("addr add --os 1.2.3.4 dev eth0", "ADDR/PREFIX"),
            ("addr add --os 1.2.3.4/33 dev eth0", "prefix length"),
            ("addr del --os 1.2.3.4/24", "--os needs"),
            ("move", "usage: move LOCAL [REMOTE] [SA]"),
            ("move x", "not an IP address"),
            ("move 1.2.3.4 5.6.7.8 #1 #2", "too many arguments"),
            ("move 1.2.3.4 x", "not an IKE SA handle"),
            ("probe a", "not an IKE SA handle"),
            ("update 1 2", "too many"),
            ("nat", "needs a subcommand"),
            ("nat fake", "on or off"),
            ("nat fake maybe", "neither 'on' nor 'off'"),
            ("nat rebind 0", "not an IKE SA handle"),
            ("drop 1.2.3.4 5.6.7.8", "usage: drop LOCAL REMOTE on|off"),
            ("drop 1.2.3.4 x on", "not an IP address"),
            ("drop 1.2.3.4 5.6.7.8 yes", "neither 'on' nor 'off'"),
            ("loss", "percentage"),
            ("loss 101", "not a percentage"),
            ("loss 5 1.2.3.4", "both LOCAL and REMOTE"),
            ("send", "which IKE SA"),
            ("send #1", "at least one NOTIFY"),
            ("send #1 BOGUS_NOTIFY", "not a notify type"),
            ("send #1 COOKIE2=zz", "bad hex"),
            ("send x COOKIE2", "not an IKE SA handle"),
            ("child", "needs a subcommand"),
            ("child down", "inbound SPI"),
            ("child down xyz", "not a SPI"),
            ("child down 123456789", "not a SPI"),
            ("child create 1 2", "too many"),
            ("ping", "give an address"),
            ("ping x", "not an IP address"),
            ("ping 10.1.0.1 0", "not an interval"),
            ("ping 10.1.0.1 fast", "not an interval"),
            ("ping 10.1.0.1 10ms 3", "too many"),
            ("ping stop now", "too many"),
            ("help me", "usage: help"),
            ("quit now", "usage: quit"),
        ] {
            let e = parse_command(bad).expect_err(bad).0;
            assert!(e.contains(want), "{bad}: {e}");
            assert!(e.contains("usage") || e.contains("commands:"), "{bad}: {e}");
        }
        assert!(parse_command("fly").unwrap_err().0.contains("up [CONN]"));
    }

    #[test]
    fn help_and_completion_come_from_the_table() {
        let h = help_text();
        assert_eq!(h.lines().count(), COMMANDS.len());
        assert!(h.contains("nat rebind [SA]"));
        assert_eq!(complete("ad"), vec!["addr"]);
        assert_eq!(complete("addr "), vec!["addr add", "addr del"]);
        assert_eq!(complete("nat r"), vec!["nat rebind"]);
        assert!(complete("").len() < COMMANDS.len());
    }

    /// README.md's command table is [`commands_markdown`]; regenerate it from there.
    #[test]
    fn readme_command_table_is_generated() {
        let readme = include_str!("../../README.md");
        let table = commands_markdown();
        assert!(
            readme.contains(&table),
            "README.md's command table differs from the command table in src/cli/command.rs; \
             replace it with this (commands_markdown()):\n{table}"
        );
    }
}
