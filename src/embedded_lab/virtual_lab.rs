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

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde_json::Map;

use super::common::{
    self, acted_on, addrs_fields, engine_event, established_sas, filter_fields, home_plan,
    lab_engines, nat_expired_event, owner_of, ping_fields, sa_summaries, LabKeyLog, LabPorts,
    INITIATOR, START,
};
pub use super::common::{
    LabOptions, IKE_PORT, INITIATOR_ADDRS, INITIATOR_ADDRS_V6, LAB_LINE, NATT_PORT, NAT_NODE,
    NAT_PUBLIC, RESPONDER_ADDRS, RESPONDER_ADDRS_V6,
};
use crate::cli::command::{resolve, Action, PeerCommand};
use crate::drill::parse::DrillCommand;
use crate::drill::run::{CaptureFiles, DrillTarget, SaSummary};
use crate::drill::{Applied, TimedEvent};
use crate::engine::{Command, Timestamp};
use crate::netsim::{NatBox, Network, NodeId};

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
    /// Every IKE SA's keys, for the live UI's decoding.
    keylog: LabKeyLog,
}

impl VirtualLab {
    /// A lab with both nodes up and no SA, at simulated time zero.
    pub fn new(options: LabOptions) -> Result<VirtualLab, String> {
        let (initiator_addrs, responder_addrs) =
            (options.initiator_addrs(), options.responder_addrs());
        let (initiator, responder) = lab_engines(&options, LabPorts::default(), START)?;
        let mut net = Network::new(START);
        net.add("initiator", initiator, &initiator_addrs);
        net.add("responder", responder, &responder_addrs);
        if options.nat || options.nat_timeout.is_some() {
            let mut nat = NatBox::new(initiator_addrs.clone(), NAT_PUBLIC, 40000);
            nat.idle_timeout = options.nat_timeout;
            net.nats.push(nat);
        }
        Ok(VirtualLab {
            net,
            home: home_plan(&options),
            reported: 0,
            pending: vec![],
            next_rebind_port: 20000,
            keylog: LabKeyLog::default(),
        })
    }

    /// The events the drill's last statements caused that no wait took in (the runner
    /// does not let time pass after the last one), at this instant.
    pub fn finish(&mut self) -> Vec<TimedEvent> {
        self.net.run_for(Duration::ZERO);
        self.drain_network_events()
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
        let current: Vec<Vec<IpAddr>> = self.net.nodes.iter().map(|n| n.addrs.clone()).collect();
        Ok(owner_of(command, &current, &self.home))
    }

    fn lab_event(&mut self, node: NodeId, name: &str, fields: Map<String, serde_json::Value>) {
        self.pending.push(TimedEvent {
            at: self.net.now,
            node: self.net.nodes[node].name.clone(),
            name: name.to_string(),
            fields,
        });
    }

    fn addrs_event(&mut self, node: NodeId, change: &str, ip: IpAddr) {
        let fields = addrs_fields(change, ip, &self.net.nodes[node].addrs);
        self.lab_event(node, "local_addrs", fields);
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
                let fields = common::stop_ping(&mut self.net.nodes[node].dataplane, now)?;
                self.lab_event(node, "ping", fields);
            }
            Action::Help => {}
            Action::Quit => {
                for id in established_sas(&self.net.nodes[node].engine) {
                    self.engine_command(node, Command::Down(id))?;
                }
            }
        }
        Ok(())
    }

    fn start_ping(&mut self, node: NodeId, dst: IpAddr, interval: Duration) -> Result<(), String> {
        let now = self.net.now;
        let n = &mut self.net.nodes[node];
        let replaced = common::start_ping(&mut n.dataplane, &n.engine, node, (now, dst, interval))?;
        if let Some(fields) = replaced {
            self.lab_event(node, "ping", fields);
        }
        Ok(())
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
            let n = &self.net.nodes[*node];
            out.extend(engine_event(*at, &n.name, ev, &n.engine));
        }
        for n in &self.net.nodes {
            self.keylog.observe(&n.engine);
        }
        self.reported = self.net.events.len();
        let reports: Vec<_> = self.net.ping_reports.drain(..).collect();
        for (at, node, stats) in reports {
            let src = self.net.nodes[node].dataplane.probe().map(|p| p.src());
            if let Some(src) = src {
                let fields = ping_fields("running", &stats, src, at);
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
                let public = SocketAddr::new(nat.outside, e.port);
                out.push(nat_expired_event(e.noticed, e.inside, public, e.idle));
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

    fn command(&mut self, node: Option<&str>, command: &DrillCommand) -> Result<Applied, String> {
        let command = &command.command;
        let n = self.node_for(node, command)?;
        let before = self.pending.len();
        let actions = resolve(&self.net.nodes[n].engine, command.clone())?;
        for a in actions {
            self.apply(n, a)?;
        }
        Ok(acted_on(&self.net.nodes[n].name, &self.pending[before..]))
    }

    fn advance_until(&mut self, deadline: Timestamp) -> Vec<TimedEvent> {
        // what the last command did at this instant first
        self.net.run_for(Duration::ZERO);
        let mut out = self.drain_network_events();
        // engine events a drill does not see (decrypted ESP) do not end the step
        while out.is_empty() && self.net.now < deadline {
            let now = self.net.now;
            let step_to = match self.net.next_wakeup() {
                Some(t) if t <= deadline => t.max(now + Duration::from_micros(1)),
                _ => deadline,
            };
            self.net.run_for(step_to.saturating_since(now));
            self.net.now = self.net.now.max(step_to);
            out = self.drain_network_events();
        }
        out
    }

    fn sa_summaries(&mut self, node: Option<&str>) -> Result<Vec<SaSummary>, String> {
        let n = match node {
            Some(name) => self.node_by_name(name)?,
            None => INITIATOR,
        };
        Ok(sa_summaries(&self.net.nodes[n].engine))
    }

    fn capture_files(&mut self, dir: &std::path::Path) -> Result<CaptureFiles, String> {
        self.keylog.save(dir, &self.net.pcap(), LabPorts::default())
    }
}
