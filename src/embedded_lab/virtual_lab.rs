//! The virtual lab: two engines on the in-memory network of [`crate::netsim`] with a
//! simulated clock, as a [`DrillTarget`]. Every run of a drill on it gives the same
//! events at the same (simulated) times.
//!
//! * `initiator` owns 127.0.0.2 and 127.0.0.3 (it initiates from 127.0.0.2),
//!   `responder` owns 127.0.0.10 and 127.0.0.11; IKE port 10500, NAT-T port 14500,
//!   PSK authentication, MOBIKE on, return routability checks as RFC 4555 says.
//! * With a NAT ([`LabOptions::nat`]) the initiator's addresses appear as 127.0.0.100;
//!   with `nat_timeout` the NAT forgets mappings idle that long and reports a
//!   `nat_expired` event (node `nat`) when it notices, at the next datagram through it.
//! * With `ipv6` the initiator also owns fd00::2 and fd00::3, the responder fd00::10 and
//!   fd00::11, and the SA is initiated from fd00::2 to fd00::10.
//! * `keepalive` and `dpd` set the NAT-T keepalive interval (initiator) and the dead
//!   peer detection delay (both nodes).
//! * A drill selects these on a comment line, `# lab: nat ipv6 nat-timeout=30s
//!   keepalive=20s dpd=10s` ([`LabOptions::from_drill`]).
//! * The lab starts with no SA: `up` brings one up.
//! * A command acts on the node owning the address it names (`addr`, `move`, `drop`,
//!   `loss` with a pair; an address the lab gave a node counts as that node's even
//!   while it is removed), else on the initiator, unless prefixed with a node name.
//! * `addr add|del` change the node's addresses (routing and the engine's set; `--os`
//!   is refused: there is no interface); `drop LOCAL REMOTE on` makes the pair a black
//!   hole; `loss PERCENT` drops that share of every datagram, `loss PERCENT LOCAL
//!   REMOTE` of those sent from LOCAL (the network keys loss by sender); `nat rebind`
//!   makes the NAT forget its mappings when there is one, else the engine sends from a
//!   fresh port as a rebinding would look to the peer; `quit` deletes the SAs.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use serde_json::{Map, Value};

use crate::cli::command::{resolve, Action, PeerCommand};
use crate::cli::peer::event_json;
use crate::cli::peer::events::ping_json;
use crate::dataplane::PingStats;
use crate::drill::run::{DrillTarget, SaSummary};
use crate::drill::TimedEvent;
use crate::engine::{
    Command, Config, ConnConfig, Engine, Identity, IkeState, SeededRandom, Timestamp, TsRange,
};
use crate::netsim::{NatBox, Network, NodeId};

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
/// IKE port of both nodes.
pub const IKE_PORT: u16 = 10500;
/// NAT-T port of both nodes.
pub const NATT_PORT: u16 = 14500;

const PSK: &[u8] = b"mobikectl-embedded-lab-psk";
const INITIATOR: NodeId = 0;
const RESPONDER: NodeId = 1;
/// The node name of the NAT's own events (`nat_expired`).
pub const NAT_NODE: &str = "nat";
/// Simulated time at the start (engine timestamps are relative to any epoch).
const START: Timestamp = Timestamp::from_secs(1000);

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

/// The lab.
pub struct VirtualLab {
    net: Network,
    /// The address plan: which node each lab address belongs to.
    home: Vec<(IpAddr, NodeId)>,
    /// `net.events` already handed out.
    reported: usize,
    /// Events of the lab itself (address and filter changes), not handed out yet.
    pending: Vec<TimedEvent>,
    /// Next port for `nat rebind` without a NAT.
    next_rebind_port: u16,
}

pub(crate) fn initiator_config(options: &LabOptions) -> Result<Config, String> {
    let (local, remote) = match options.ipv6 {
        true => (INITIATOR_ADDRS_V6[0], RESPONDER_ADDRS_V6[0]),
        false => (INITIATOR_ADDRS[0], RESPONDER_ADDRS[0]),
    };
    let mut conn = ConnConfig::new(
        "lab",
        SocketAddr::new(local, IKE_PORT),
        SocketAddr::new(remote, IKE_PORT),
        Identity::parse("initiator@lab.example")?,
        PSK,
    );
    conn.remote_id = Some(Identity::parse("responder.lab.example")?);
    conn.local_ts = vec![TsRange::parse("10.2.0.0/16")?];
    conn.remote_ts = vec![TsRange::parse("10.1.0.0/16")?];
    conn.remote_nat_t_port = NATT_PORT;
    if let Some(d) = options.dpd {
        conn.dpd_delay = d;
    }
    let mut config = Config {
        connections: vec![conn],
        nat_t_port: NATT_PORT,
        ..Config::default()
    };
    if let Some(k) = options.keepalive {
        config.keepalive = k;
    }
    Ok(config)
}

pub(crate) fn responder_config(options: &LabOptions) -> Result<Config, String> {
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
    conn.remote_nat_t_port = NATT_PORT;
    if let Some(d) = options.dpd {
        conn.dpd_delay = d;
    }
    Ok(Config {
        connections: vec![conn],
        nat_t_port: NATT_PORT,
        ..Config::default()
    })
}

/// The fields of a `filter` event, as `mobikectl peer` reports them.
fn filter_fields(what: &str, pair: Option<(IpAddr, IpAddr)>) -> Map<String, Value> {
    let side = |a: Option<IpAddr>| a.map(|a| Value::from(a.to_string())).unwrap_or(Value::Null);
    let mut m = Map::new();
    m.insert("what".into(), what.into());
    m.insert("local".into(), side(pair.map(|p| p.0)));
    m.insert("remote".into(), side(pair.map(|p| p.1)));
    m
}

impl VirtualLab {
    /// A lab with both nodes up and no SA, at simulated time zero.
    pub fn new(options: LabOptions) -> Result<VirtualLab, String> {
        let (initiator_addrs, responder_addrs) =
            (options.initiator_addrs(), options.responder_addrs());
        let mut initiator =
            Engine::new(initiator_config(&options)?, Box::new(SeededRandom::new(1)));
        let mut responder =
            Engine::new(responder_config(&options)?, Box::new(SeededRandom::new(2)));
        initiator.set_local_addrs(START, &initiator_addrs);
        responder.set_local_addrs(START, &responder_addrs);
        let mut net = Network::new(START);
        net.add("initiator", initiator, &initiator_addrs);
        net.add("responder", responder, &responder_addrs);
        if options.nat || options.nat_timeout.is_some() {
            let mut nat = NatBox::new(initiator_addrs.clone(), NAT_PUBLIC, 40000);
            nat.idle_timeout = options.nat_timeout;
            net.nats.push(nat);
        }
        let home = initiator_addrs
            .iter()
            .map(|a| (*a, INITIATOR))
            .chain(responder_addrs.iter().map(|a| (*a, RESPONDER)))
            .collect();
        Ok(VirtualLab {
            net,
            home,
            reported: 0,
            pending: vec![],
            next_rebind_port: 20000,
        })
    }

    /// Everything the network carried, as a pcap (as the receivers saw it).
    pub fn pcap(&self) -> Vec<u8> {
        self.net.pcap()
    }

    fn node_by_name(&self, name: &str) -> Result<NodeId, String> {
        self.net
            .nodes
            .iter()
            .position(|n| n.name == name)
            .ok_or_else(|| format!("no node '{name}' (nodes: initiator, responder)"))
    }

    /// The node a command acts on: the prefix, else the owner of the address it names,
    /// else the initiator.
    fn node_for(&self, node: Option<&str>, command: &PeerCommand) -> Result<NodeId, String> {
        if let Some(name) = node {
            return self.node_by_name(name);
        }
        let named = match command {
            PeerCommand::AddrAdd(a, _) | PeerCommand::AddrDel(a, _) => Some(*a),
            PeerCommand::Move { local, .. } | PeerCommand::Drop { local, .. } => Some(*local),
            PeerCommand::Loss {
                pair: Some((local, _)),
                ..
            } => Some(*local),
            _ => None,
        };
        let owner = named.and_then(|a| {
            self.net
                .nodes
                .iter()
                .position(|n| n.addrs.contains(&a))
                .or_else(|| self.home.iter().find(|h| h.0 == a).map(|h| h.1))
        });
        Ok(owner.unwrap_or(INITIATOR))
    }

    fn lab_event(&mut self, node: NodeId, name: &str, fields: Map<String, Value>) {
        self.pending.push(TimedEvent {
            at: self.net.now,
            node: self.net.nodes[node].name.clone(),
            name: name.to_string(),
            fields,
        });
    }

    fn addrs_event(&mut self, node: NodeId, change: &str, ip: IpAddr) {
        let mut m = Map::new();
        m.insert("change".into(), change.into());
        m.insert("by".into(), "command".into());
        m.insert("addr".into(), ip.to_string().into());
        let addrs: Vec<String> = self.net.nodes[node]
            .addrs
            .iter()
            .map(|a| a.to_string())
            .collect();
        m.insert("addrs".into(), Value::from(addrs));
        self.lab_event(node, "local_addrs", m);
    }

    fn engine_command(&mut self, node: NodeId, c: Command) -> Result<(), String> {
        let now = self.net.now;
        self.net
            .engine(node)
            .command(now, c)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn apply(&mut self, node: NodeId, action: Action) -> Result<(), String> {
        match action {
            Action::Engine(c) => self.engine_command(node, c)?,
            Action::AddAddr(_, Some(_)) | Action::DelAddr(_, Some(_)) => {
                return Err("--os changes a real interface; the virtual lab has none".into())
            }
            Action::AddAddr(ip, None) => {
                if self.net.nodes[node].addrs.contains(&ip) {
                    return Err(format!("addr add: {ip} is already one of its addresses"));
                }
                self.net.add_addr(node, ip);
                self.addrs_event(node, "add", ip);
            }
            Action::DelAddr(ip, None) => {
                if !self.net.nodes[node].addrs.contains(&ip) {
                    return Err(format!("addr del: {ip} is not one of its addresses"));
                }
                self.net.del_addr(node, ip);
                self.addrs_event(node, "del", ip);
            }
            Action::Rebind { sa, local } => self.rebind(node, sa, local)?,
            Action::Drop { local, remote, on } => {
                if on {
                    self.net.blackholes.insert((local, remote));
                } else {
                    self.net.blackholes.remove(&(local, remote));
                    self.net.blackholes.remove(&(remote, local));
                }
                let mut m = filter_fields("drop", Some((local, remote)));
                m.insert("on".into(), on.into());
                self.lab_event(node, "filter", m);
            }
            Action::Loss { percent, pair } => {
                let key = pair.map(|p| p.0);
                if percent == 0 {
                    self.net.loss.remove(&key);
                } else {
                    self.net.loss.insert(key, percent);
                }
                let mut m = filter_fields("loss", pair);
                m.insert("percent".into(), percent.into());
                self.lab_event(node, "filter", m);
            }
            Action::Ping { dst, interval } => self.start_ping(node, dst, interval)?,
            Action::PingStop => {
                let now = self.net.now;
                let n = &mut self.net.nodes[node];
                let src = n.dataplane.probe().map(|p| p.src());
                match (n.dataplane.stop_ping(now), src) {
                    (Some(stats), Some(src)) => self.ping_event(node, "stopped", &stats, src),
                    _ => return Err("ping stop: no ping is running".into()),
                }
            }
            Action::Help => {}
            Action::Quit => {
                let established: Vec<_> = self.net.nodes[node]
                    .engine
                    .sas()
                    .filter(|s| s.state == IkeState::Established)
                    .map(|s| s.id)
                    .collect();
                for id in established {
                    self.engine_command(node, Command::Down(id))?;
                }
            }
        }
        Ok(())
    }

    fn start_ping(&mut self, node: NodeId, dst: IpAddr, interval: Duration) -> Result<(), String> {
        let now = self.net.now;
        let n = &mut self.net.nodes[node];
        let old = n.dataplane.probe().map(|p| p.src());
        // a fixed ICMP identifier per node keeps the lab deterministic
        let ident = 0x1ab0 + node as u16;
        let replaced = n
            .dataplane
            .start_ping(&n.engine, now, dst, interval, ident)
            .map_err(|e| format!("ping: {e}"))?;
        if let (Some(stats), Some(src)) = (replaced, old) {
            self.ping_event(node, "replaced", &stats, src);
        }
        Ok(())
    }

    /// A `ping` event as the peer reports it, with the gap's times in ms since the lab's
    /// start (`gap_start_ms`, `gap_end_ms`) instead of wall-clock times (the lab's output
    /// is the same on every run).
    fn ping_event(&mut self, node: NodeId, state: &str, stats: &PingStats, src: IpAddr) {
        let now = self.net.now;
        let fields = self.ping_fields(state, stats, src, now);
        self.lab_event(node, "ping", fields);
    }

    fn ping_fields(
        &self,
        state: &str,
        stats: &PingStats,
        src: IpAddr,
        now: Timestamp,
    ) -> Map<String, Value> {
        let mut m = ping_json(state, stats, src, now);
        let since_start = |t: Timestamp| {
            Value::from((t.saturating_since(START).as_secs_f64() * 1e6).round() / 1e3)
        };
        let gap = stats.longest_gap;
        // instead of the peer's wall-clock gap_start/gap_end: ms since the lab started
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

    fn rebind(
        &mut self,
        node: NodeId,
        sa: crate::engine::SaId,
        local: SocketAddr,
    ) -> Result<(), String> {
        if let Some(nat) = self
            .net
            .nats
            .iter_mut()
            .find(|n| n.inside.contains(&local.ip()))
        {
            nat.rebind();
            return Ok(());
        }
        let port = self.next_rebind_port;
        self.next_rebind_port = self.next_rebind_port.wrapping_add(1).max(20000);
        self.engine_command(node, Command::Rebind { sa, port })
    }

    fn drain_network_events(&mut self) -> Vec<TimedEvent> {
        let mut out = std::mem::take(&mut self.pending);
        for (at, node, ev) in &self.net.events[self.reported..] {
            let (name, fields) = event_json(ev);
            out.push(TimedEvent {
                at: *at,
                node: self.net.nodes[*node].name.clone(),
                name: name.to_string(),
                fields,
            });
        }
        self.reported = self.net.events.len();
        let reports: Vec<_> = self.net.ping_reports.drain(..).collect();
        for (at, node, stats) in reports {
            let src = self.net.nodes[node].dataplane.probe().map(|p| p.src());
            if let Some(src) = src {
                let fields = self.ping_fields("running", &stats, src, at);
                out.push(TimedEvent {
                    at,
                    node: self.net.nodes[node].name.clone(),
                    name: "ping".into(),
                    fields,
                });
            }
        }
        out.extend(self.drain_nat_expiries());
        // lab, network and NAT events of one step: in time order (stable)
        out.sort_by_key(|e| e.at);
        out
    }

    /// `nat_expired` events: mappings the NAT forgot for idleness.
    fn drain_nat_expiries(&mut self) -> Vec<TimedEvent> {
        let mut out = Vec::new();
        for nat in &mut self.net.nats {
            for e in std::mem::take(&mut nat.expired) {
                let mut m = Map::new();
                m.insert("inside".into(), e.inside.to_string().into());
                m.insert(
                    "public".into(),
                    SocketAddr::new(nat.outside, e.port).to_string().into(),
                );
                m.insert("idle_s".into(), e.idle.as_secs_f64().into());
                out.push(TimedEvent {
                    at: e.noticed,
                    node: NAT_NODE.into(),
                    name: "nat_expired".into(),
                    fields: m,
                });
            }
        }
        out
    }
}

impl DrillTarget for VirtualLab {
    fn now(&self) -> Timestamp {
        self.net.now
    }

    fn node_names(&self) -> Vec<String> {
        self.net.nodes.iter().map(|n| n.name.clone()).collect()
    }

    fn command(&mut self, node: Option<&str>, command: &PeerCommand) -> Result<String, String> {
        let n = self.node_for(node, command)?;
        let actions = resolve(&self.net.nodes[n].engine, command.clone())?;
        for a in actions {
            self.apply(n, a)?;
        }
        Ok(self.net.nodes[n].name.clone())
    }

    fn advance_until(&mut self, deadline: Timestamp) -> Vec<TimedEvent> {
        // what the last command did at this instant first
        self.net.run_for(Duration::ZERO);
        while self.pending.is_empty() && self.net.events.len() == self.reported {
            let now = self.net.now;
            if now >= deadline {
                break;
            }
            let step_to = match self.net.next_wakeup() {
                Some(t) if t <= deadline => t.max(now + Duration::from_micros(1)),
                _ => deadline,
            };
            self.net.run_for(step_to.saturating_since(now));
            self.net.now = self.net.now.max(step_to);
        }
        self.drain_network_events()
    }

    fn sa_summaries(&mut self, node: Option<&str>) -> Result<Vec<SaSummary>, String> {
        let n = match node {
            Some(name) => self.node_by_name(name)?,
            None => INITIATOR,
        };
        let mut sas: Vec<_> = self.net.nodes[n].engine.sas().collect();
        sas.sort_by_key(|s| s.id);
        Ok(sas
            .iter()
            .map(|s| SaSummary {
                sa: s.id.to_string(),
                established: s.state == IkeState::Established,
                local: s.path.local,
                remote: s.path.remote,
            })
            .collect())
    }
}
