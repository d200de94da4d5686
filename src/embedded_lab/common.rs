//! What the virtual lab ([`super::virtual_lab`]) and the loopback lab
//! ([`super::loopback_lab`]) share: the address plan, the engines' configurations, the
//! `# lab:` line ([`LabOptions`]), and the events of the lab itself (address and filter
//! changes, ping summaries, NAT expiries) in the form `mobikectl peer` reports them, so
//! that a drill sees the same events on both.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use serde_json::{Map, Value};

use crate::cli::command::PeerCommand;
use crate::cli::peer::event_json;
use crate::cli::peer::event_kind::EventKind;
use crate::cli::peer::events::ping_json;
use crate::dataplane::host::DataPlane;
use crate::dataplane::PingStats;
use crate::drill::run::SaSummary;
use crate::drill::{Applied, TimedEvent};
use crate::engine::{
    Config, ConnConfig, Engine, EngineEvent, Identity, IkeState, SaId, Timestamp, TsRange,
};

/// The initiator's addresses.
pub const INITIATOR_ADDRS: [IpAddr; 2] = [
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)),
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3)),
];
/// The responder's addresses.
pub const RESPONDER_ADDRS: [IpAddr; 2] = [
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 10)),
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 11)),
];
/// The NAT's public address.
pub const NAT_PUBLIC: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 100));
/// IKE port of both nodes (the virtual lab; the loopback lab tries it first).
pub const IKE_PORT: u16 = 10500;
/// NAT-T port of both nodes (the virtual lab; the loopback lab tries it first).
pub const NATT_PORT: u16 = 14500;

const PSK: &[u8] = b"mobikectl-embedded-lab-psk";
/// The initiator's node index.
pub const INITIATOR: usize = 0;
/// The responder's node index.
pub const RESPONDER: usize = 1;
/// The node name of the NAT's own events (`nat_expired`).
pub const NAT_NODE: &str = "nat";
/// Lab time at the start (engine timestamps are relative to any epoch; ping gaps are
/// reported in ms since then).
pub const START: Timestamp = Timestamp::from_secs(1000);

/// The initiator's IPv6 addresses ([`LabOptions::ipv6`]).
pub const INITIATOR_ADDRS_V6: [IpAddr; 2] = [
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2)),
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 3)),
];
/// The responder's IPv6 addresses ([`LabOptions::ipv6`]).
pub const RESPONDER_ADDRS_V6: [IpAddr; 2] = [
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0x10)),
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0x11)),
];

/// How the lab is set up: the `--nat` flag, or a drill's `# lab:` line
/// ([`LabOptions::from_drill`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LabOptions {
    /// A NAT in front of the initiator.
    pub nat: bool,
    /// Both nodes also own IPv6 addresses (fd00::2, fd00::3; fd00::10, fd00::11) and
    /// the SA is initiated over IPv6 (fd00::2 to fd00::10).
    pub ipv6: bool,
    /// The NAT forgets a mapping idle this long (implies `nat`).
    pub nat_timeout: Option<Duration>,
    /// The initiator's NAT-T keepalive interval (default 20 s).
    pub keepalive: Option<Duration>,
    /// Both nodes' dead peer detection delay (default: only on the `dpd` command).
    pub dpd: Option<Duration>,
}

/// The word that starts a drill's lab line: `# lab: nat ipv6 dpd=10s`.
pub const LAB_LINE: &str = "lab:";

impl LabOptions {
    /// The options a drill asks for on a comment line `# lab: WORD ...` (the first
    /// such line; none: the defaults). Words: `nat`, `ipv6`, `nat-timeout=DURATION`,
    /// `keepalive=DURATION`, `dpd=DURATION`. The error names the line.
    pub fn from_drill(file: &str, source: &str) -> Result<LabOptions, String> {
        let mut options = LabOptions::default();
        let found = source.lines().enumerate().find_map(|(i, line)| {
            let rest = line.trim_start().strip_prefix('#')?.trim_start();
            let words = rest.strip_prefix(LAB_LINE)?;
            Some((i + 1, words))
        });
        let Some((line, words)) = found else {
            return Ok(options);
        };
        for word in words.split_whitespace() {
            options
                .apply_word(word)
                .map_err(|e| format!("{file}:{line}: lab: {e}"))?;
        }
        Ok(options)
    }

    fn apply_word(&mut self, word: &str) -> Result<(), String> {
        let duration = |v: &str| crate::drill::parse::parse_duration(v);
        match word.split_once('=') {
            None if word.eq_ignore_ascii_case("nat") => self.nat = true,
            None if word.eq_ignore_ascii_case("ipv6") => self.ipv6 = true,
            Some((k, v)) if k.eq_ignore_ascii_case("nat-timeout") => {
                self.nat = true;
                self.nat_timeout = Some(duration(v)?);
            }
            Some((k, v)) if k.eq_ignore_ascii_case("keepalive") => {
                self.keepalive = Some(duration(v)?)
            }
            Some((k, v)) if k.eq_ignore_ascii_case("dpd") => self.dpd = Some(duration(v)?),
            _ => {
                return Err(format!(
                    "unknown option '{word}' (nat, ipv6, nat-timeout=DURATION, \
                     keepalive=DURATION, dpd=DURATION)"
                ))
            }
        }
        Ok(())
    }

    /// These options and `other`'s (flags of the command line): either's switches,
    /// `other`'s values where it has them.
    pub fn merged(self, other: LabOptions) -> LabOptions {
        LabOptions {
            nat: self.nat || other.nat,
            ipv6: self.ipv6 || other.ipv6,
            nat_timeout: other.nat_timeout.or(self.nat_timeout),
            keepalive: other.keepalive.or(self.keepalive),
            dpd: other.dpd.or(self.dpd),
        }
    }

    /// The initiator's addresses (IPv6 first when `ipv6`).
    pub fn initiator_addrs(&self) -> Vec<IpAddr> {
        let v6 = if self.ipv6 {
            &INITIATOR_ADDRS_V6[..]
        } else {
            &[]
        };
        v6.iter().chain(INITIATOR_ADDRS.iter()).copied().collect()
    }

    /// The responder's addresses (IPv6 first when `ipv6`).
    pub fn responder_addrs(&self) -> Vec<IpAddr> {
        let v6 = if self.ipv6 {
            &RESPONDER_ADDRS_V6[..]
        } else {
            &[]
        };
        v6.iter().chain(RESPONDER_ADDRS.iter()).copied().collect()
    }
}

pub(crate) fn initiator_config(options: &LabOptions, ports: LabPorts) -> Result<Config, String> {
    let (local, remote) = match options.ipv6 {
        true => (INITIATOR_ADDRS_V6[0], RESPONDER_ADDRS_V6[0]),
        false => (INITIATOR_ADDRS[0], RESPONDER_ADDRS[0]),
    };
    let mut conn = ConnConfig::new(
        "lab",
        SocketAddr::new(local, ports.ike),
        SocketAddr::new(remote, ports.ike),
        Identity::parse("initiator@lab.example")?,
        PSK,
    );
    conn.remote_id = Some(Identity::parse("responder.lab.example")?);
    conn.local_ts = vec![TsRange::parse("10.2.0.0/16")?];
    conn.remote_ts = vec![TsRange::parse("10.1.0.0/16")?];
    conn.remote_nat_t_port = ports.natt;
    if let Some(d) = options.dpd {
        conn.dpd_delay = d;
    }
    let mut config = Config {
        connections: vec![conn],
        nat_t_port: ports.natt,
        ..Config::default()
    };
    if let Some(k) = options.keepalive {
        config.keepalive = k;
    }
    Ok(config)
}

pub(crate) fn responder_config(options: &LabOptions, ports: LabPorts) -> Result<Config, String> {
    let any = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);
    let mut conn = ConnConfig::new(
        "lab",
        any,
        any,
        Identity::parse("responder.lab.example")?,
        PSK,
    );
    conn.local_ts = vec![TsRange::parse("10.1.0.0/16")?];
    conn.remote_ts = vec![TsRange::parse("10.2.0.0/16")?];
    conn.remote_nat_t_port = ports.natt;
    if let Some(d) = options.dpd {
        conn.dpd_delay = d;
    }
    Ok(Config {
        connections: vec![conn],
        nat_t_port: ports.natt,
        ..Config::default()
    })
}

/// The fields of a `filter` event, as `mobikectl peer` reports them.
pub fn filter_fields(what: &str, pair: Option<(IpAddr, IpAddr)>) -> Map<String, Value> {
    let side = |a: Option<IpAddr>| a.map(|a| Value::from(a.to_string())).unwrap_or(Value::Null);
    let mut m = Map::new();
    m.insert("what".into(), what.into());
    m.insert("local".into(), side(pair.map(|p| p.0)));
    m.insert("remote".into(), side(pair.map(|p| p.1)));
    m
}

/// The IKE and NAT-T ports both nodes use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabPorts {
    /// IKE port.
    pub ike: u16,
    /// NAT-T port.
    pub natt: u16,
}

impl Default for LabPorts {
    fn default() -> Self {
        LabPorts {
            ike: IKE_PORT,
            natt: NATT_PORT,
        }
    }
}

/// The two engines of a lab (initiator, responder), each knowing its addresses at
/// `now`, with fixed seeds (the same keys and SPIs on every run of the virtual lab).
pub fn lab_engines(
    options: &LabOptions,
    ports: LabPorts,
    now: Timestamp,
) -> Result<(Engine, Engine), String> {
    let mut initiator = Engine::new(
        initiator_config(options, ports)?,
        Box::new(crate::engine::SeededRandom::new(1)),
    );
    let mut responder = Engine::new(
        responder_config(options, ports)?,
        Box::new(crate::engine::SeededRandom::new(2)),
    );
    initiator.set_local_addrs(now, &options.initiator_addrs());
    responder.set_local_addrs(now, &options.responder_addrs());
    Ok((initiator, responder))
}

/// The address a command names, which decides the node it acts on (`addr`, `move`,
/// `drop`, `loss` with a pair).
pub fn named_addr(command: &PeerCommand) -> Option<IpAddr> {
    match command {
        PeerCommand::AddrAdd(a, _) | PeerCommand::AddrDel(a, _) => Some(*a),
        PeerCommand::Move { local, .. } | PeerCommand::Drop { local, .. } => Some(*local),
        PeerCommand::Loss {
            pair: Some((local, _)),
            ..
        } => Some(*local),
        _ => None,
    }
}

/// The address plan: which node each lab address belongs to (also while it is removed).
pub fn home_plan(options: &LabOptions) -> Vec<(IpAddr, usize)> {
    let initiator = options
        .initiator_addrs()
        .into_iter()
        .map(|a| (a, INITIATOR));
    let responder = options
        .responder_addrs()
        .into_iter()
        .map(|a| (a, RESPONDER));
    initiator.chain(responder).collect()
}

/// The node a command without a node prefix acts on: the one that owns the address it
/// names now (`current`), else the one the lab gave it to (`home`), else the initiator.
pub fn owner_of(command: &PeerCommand, current: &[Vec<IpAddr>], home: &[(IpAddr, usize)]) -> usize {
    let owner = named_addr(command).and_then(|a| {
        current
            .iter()
            .position(|addrs| addrs.contains(&a))
            .or_else(|| home.iter().find(|h| h.0 == a).map(|h| h.1))
    });
    owner.unwrap_or(INITIATOR)
}

/// The fields of a `local_addrs` event for an `addr add|del` command.
pub fn addrs_fields(change: &str, ip: IpAddr, addrs: &[IpAddr]) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("change".into(), change.into());
    m.insert("by".into(), "command".into());
    m.insert("addr".into(), ip.to_string().into());
    let addrs: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
    m.insert("addrs".into(), Value::from(addrs));
    m
}

/// A `ping` event's fields as the peer reports them, with the gap's times in ms since
/// the lab's start (`gap_start_ms`, `gap_end_ms`) instead of wall-clock times (the
/// virtual lab's output is then the same on every run).
pub fn ping_fields(
    state: &str,
    stats: &PingStats,
    src: IpAddr,
    now: Timestamp,
) -> Map<String, Value> {
    let mut m = ping_json(state, stats, src, now);
    let since_start =
        |t: Timestamp| Value::from((t.saturating_since(START).as_secs_f64() * 1e6).round() / 1e3);
    let gap = stats.longest_gap;
    m.remove("gap_start");
    m.remove("gap_end");
    m.insert(
        "gap_start_ms".into(),
        gap.map(|g| since_start(g.start)).unwrap_or(Value::Null),
    );
    m.insert(
        "gap_end_ms".into(),
        gap.map(|g| since_start(g.end)).unwrap_or(Value::Null),
    );
    m
}

/// An engine event as a drill sees it. `None` for every decrypted ESP packet (as the
/// peer leaves them out: with a ping running they come a hundred times a second; the
/// ping summaries say what they did).
/// A `status` gets the CHILD_SAs' ESP counters from `engine`, as the peer's does.
pub fn engine_event(
    at: Timestamp,
    node: &str,
    ev: &EngineEvent,
    engine: &Engine,
) -> Option<TimedEvent> {
    if matches!(ev, EngineEvent::EspReceived { .. }) {
        return None;
    }
    let (name, mut fields) = event_json(ev);
    if matches!(ev, EngineEvent::Status(_)) {
        crate::cli::peer::events::add_esp_counters(&mut fields, engine);
    }
    Some(TimedEvent {
        at,
        node: node.to_string(),
        name: name.to_string(),
        fields,
    })
}

/// A `nat_expired` event (node [`NAT_NODE`]): the NAT forgot `inside`'s mapping to
/// `public`, idle for `idle`, and noticed `at`.
pub fn nat_expired_event(
    at: Timestamp,
    inside: SocketAddr,
    public: SocketAddr,
    idle: Duration,
) -> TimedEvent {
    let mut m = Map::new();
    m.insert("inside".into(), inside.to_string().into());
    m.insert("public".into(), public.to_string().into());
    m.insert("idle_s".into(), idle.as_secs_f64().into());
    TimedEvent {
        at,
        node: NAT_NODE.into(),
        name: EventKind::NatExpired.name().into(),
        fields: m,
    }
}

/// The IKE SAs of an engine for `expect sa` and `expect path`, by handle.
pub fn sa_summaries(engine: &Engine) -> Vec<SaSummary> {
    let mut sas: Vec<_> = engine.sas().collect();
    sas.sort_by_key(|s| s.id);
    sas.iter()
        .map(|s| SaSummary {
            sa: s.id.to_string(),
            established: s.state == IkeState::Established,
            local: s.path.local,
            remote: s.path.remote,
        })
        .collect()
}

/// The key log of a lab's IKE SAs (the `--keylog` format), kept as they appear, so
/// that the live UI can decrypt any message of the run, also of SAs gone since.
#[derive(Default)]
pub struct LabKeyLog {
    logged: std::collections::HashSet<(u64, u64)>,
    text: String,
}

impl LabKeyLog {
    /// Notes the keys of every IKE SA of `engine` not logged yet.
    pub fn observe(&mut self, engine: &Engine) {
        for sa in engine.sas() {
            let (Some(keys), true) = (sa.keys.as_ref(), sa.spi_r != 0) else {
                continue;
            };
            if !self.logged.insert((sa.spi_i, sa.spi_r)) {
                continue;
            }
            let mut line = Vec::new();
            if crate::keys::keylog::write_keylog_record(
                &mut line, sa.spi_i, sa.spi_r, keys, &sa.ni, &sa.nr,
            )
            .is_ok()
            {
                self.text.push_str(&String::from_utf8_lossy(&line));
            }
            zeroize::Zeroize::zeroize(&mut line);
        }
    }

    /// Writes the pcap and the key log into `dir` (the key file readable by us alone).
    pub fn save(
        &self,
        dir: &std::path::Path,
        pcap: &[u8],
        ports: LabPorts,
    ) -> Result<crate::drill::run::CaptureFiles, String> {
        use std::io::Write as _;
        let files = crate::drill::run::CaptureFiles {
            pcap: dir.join("lab.pcap"),
            keys: Some(dir.join("lab.keys")),
            ike_ports: vec![ports.ike],
            natt_ports: vec![ports.natt],
        };
        std::fs::write(&files.pcap, pcap).map_err(|e| format!("lab capture: {e}"))?;
        let keys = files.keys.as_deref().unwrap_or(dir);
        use std::os::unix::fs::OpenOptionsExt as _;
        // keys: readable by us alone (the directory is ours too)
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(keys)
            .map_err(|e| format!("lab key log: {e}"))?;
        crate::keys::keylog::write_keylog_header(&mut f)
            .and_then(|()| f.write_all(self.text.as_bytes()))
            .map_err(|e| format!("lab key log: {e}"))?;
        Ok(files)
    }
}

impl Drop for LabKeyLog {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.text);
    }
}

/// The established IKE SAs of an engine (`quit` deletes them).
pub fn established_sas(engine: &Engine) -> Vec<SaId> {
    engine
        .sas()
        .filter(|s| s.state == IkeState::Established)
        .map(|s| s.id)
        .collect()
}

/// A pcap (LINKTYPE_RAW, IPv4/IPv6 + UDP) of datagrams: (µs since the start, sender,
/// receiver, UDP payload).
pub fn raw_udp_pcap<'a>(
    records: impl Iterator<Item = (u64, SocketAddr, SocketAddr, &'a [u8])>,
) -> Vec<u8> {
    let mut out = Vec::new();
    // global header: magic, v2.4, tz 0, sigfigs 0, snaplen, LINKTYPE_RAW (101)
    for word in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 101] {
        out.extend_from_slice(&word.to_le_bytes());
    }
    for (us, from, to, payload) in records {
        let pkt = crate::wire::ip::udp_packet(from, to, payload);
        let len = u32::try_from(pkt.len()).unwrap_or(u32::MAX);
        let secs = u32::try_from(us / 1_000_000).unwrap_or(u32::MAX);
        for word in [secs, (us % 1_000_000) as u32, len, len] {
            out.extend_from_slice(&word.to_le_bytes());
        }
        out.extend_from_slice(&pkt);
    }
    out
}

/// What a command's step says it did: the node it acted on, and for `ping stop` the
/// ping's final numbers (`initiator: ping stopped ...: sent, received, lost, longest
/// gap`), so that the report shows them without `--events`. `new_events`: the lab's
/// events the command made.
pub fn acted_on(node: &str, new_events: &[TimedEvent]) -> Applied {
    let stopped = new_events.iter().rev().find(|e| {
        e.node == node && e.name == "ping" && e.fields.get("state") == Some(&"stopped".into())
    });
    match stopped {
        Some(e) => Applied::on(e.describe()),
        None => Applied::on(node),
    }
}

/// `ping DST INTERVAL` on a node's data plane: the fields of the `ping replaced` event
/// when a probe was running. The ICMP identifier is fixed per node (`node`: its index),
/// so that the virtual lab gives the same packets on every run.
pub fn start_ping(
    dataplane: &mut DataPlane,
    engine: &Engine,
    node: usize,
    (now, dst, interval): (Timestamp, IpAddr, Duration),
) -> Result<Option<Map<String, Value>>, String> {
    let old_src = dataplane.probe().map(|p| p.src());
    let ident = 0x1ab0_u16.wrapping_add(u16::try_from(node).unwrap_or(0));
    let replaced = dataplane
        .start_ping(engine, now, dst, interval, ident)
        .map_err(|e| format!("ping: {e}"))?;
    Ok(replaced
        .zip(old_src)
        .map(|(stats, src)| ping_fields("replaced", &stats, src, now)))
}

/// `ping stop` on a node's data plane: the fields of its `ping stopped` event.
pub fn stop_ping(dataplane: &mut DataPlane, now: Timestamp) -> Result<Map<String, Value>, String> {
    let src = dataplane.probe().map(|p| p.src());
    match (dataplane.stop_ping(now), src) {
        (Some(stats), Some(src)) => Ok(ping_fields("stopped", &stats, src, now)),
        _ => Err("ping stop: no ping is running".into()),
    }
}
