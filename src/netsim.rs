//! A deterministic in-memory network for engines: nodes own addresses, datagrams are
//! routed by destination address after a latency, links (addresses) go down, pairs
//! turn into black holes, loss is seeded, and NAT boxes rewrite a node's source address
//! and port and can forget their mappings (a NAT rebinding). Shared by the engine
//! tests, and meant for the embedded lab and drills.
//!
//! Everything that crosses the network is kept ([`Network::log`]) so that tests can
//! feed it to the capture analyzer as an oracle.
//!
//! ESP travels as on the wire: UDP-encapsulated (RFC 3948), told apart from IKE on the
//! receiving NAT-T socket by the non-ESP marker ([`crate::wire::natt::classify`], as
//! the sockets do), and
//! handed to [`Engine::handle_esp`]. Each node has a [`DataPlane`] (echo responder,
//! ping probe) fed with the inner packets, so tests can ping through a CHILD_SA.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::dataplane::host::DataPlane;
use crate::dataplane::PingStats;
use crate::engine::esp::EspError;
use crate::engine::{Engine, EngineEvent, Path, Timestamp, Transmit};
use crate::wire::natt::{classify, frame, Received};

/// Reachability of one link per /24 (IPv4) or /64 (IPv6): hosts reach only their own
/// subnet, as on a lab with one link per uplink and no router between them.
pub fn same_subnet(a: IpAddr, b: IpAddr) -> bool {
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => a.octets()[..3] == b.octets()[..3],
        (IpAddr::V6(a), IpAddr::V6(b)) => a.octets()[..8] == b.octets()[..8],
        _ => false,
    }
}

/// See [`Network::tamper`].
pub type Tamper = Box<dyn FnMut(NodeId, Path, &[u8]) -> Option<Vec<u8>> + Send>;

/// Index of a node.
pub type NodeId = usize;

/// A source NAT in front of some addresses (RFC 3948 style endpoint-dependent mapping is
/// not modelled: one mapping per inside endpoint). With an idle timeout
/// ([`NatBox::with_idle_timeout`]) a mapping no datagram used (either way) for that long
/// is forgotten, as NATs and stateful firewalls do: the next datagram out gets a new
/// public port, and what the peer sends to the old one is lost.
#[derive(Debug, Clone)]
pub struct NatBox {
    /// Private addresses it translates.
    pub inside: Vec<IpAddr>,
    /// The public address.
    pub outside: IpAddr,
    next_port: u16,
    /// inside endpoint -> (public port, last used)
    map: HashMap<SocketAddr, (u16, Timestamp)>,
    /// Forget a mapping unused this long (`None`: never).
    pub idle_timeout: Option<Duration>,
    /// Mappings forgotten for idleness, oldest first.
    pub expired: Vec<NatExpiry>,
}

/// A mapping a [`NatBox`] forgot because it was idle longer than its timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NatExpiry {
    /// When the NAT noticed (the next datagram through it).
    pub noticed: Timestamp,
    /// The inside endpoint.
    pub inside: SocketAddr,
    /// Its public port, now gone.
    pub port: u16,
    /// How long it had been idle.
    pub idle: Duration,
}

impl NatBox {
    /// A NAT for `inside` appearing as `outside`, with public ports from `first_port`.
    pub fn new(inside: Vec<IpAddr>, outside: IpAddr, first_port: u16) -> NatBox {
        NatBox {
            inside,
            outside,
            next_port: first_port,
            map: HashMap::new(),
            idle_timeout: None,
            expired: vec![],
        }
    }

    /// The same NAT, forgetting mappings idle for `timeout`.
    pub fn with_idle_timeout(mut self, timeout: Duration) -> NatBox {
        self.idle_timeout = Some(timeout);
        self
    }

    /// Forget the mappings idle for longer than the timeout at `now`.
    fn expire(&mut self, now: Timestamp) {
        let Some(timeout) = self.idle_timeout else {
            return;
        };
        let mut gone: Vec<NatExpiry> = self
            .map
            .iter()
            .filter(|(_, (_, last))| now.saturating_since(*last) > timeout)
            .map(|(inside, (port, last))| NatExpiry {
                noticed: now,
                inside: *inside,
                port: *port,
                idle: now.saturating_since(*last),
            })
            .collect();
        gone.sort_by_key(|e| (e.port, e.inside));
        for e in &gone {
            self.map.remove(&e.inside);
        }
        self.expired.extend(gone);
    }

    /// The public endpoint of `src` (a new mapping when there is none), used at `now`.
    pub fn translate(&mut self, src: SocketAddr, now: Timestamp) -> SocketAddr {
        self.expire(now);
        let port = match self.map.get_mut(&src) {
            Some((p, last)) => {
                *last = now;
                *p
            }
            None => {
                let p = self.next_port;
                self.next_port = self.next_port.wrapping_add(1).max(1024);
                self.map.insert(src, (p, now));
                p
            }
        };
        SocketAddr::new(self.outside, port)
    }

    /// The inside endpoint a datagram to public `dst` goes to, used at `now` (`None`:
    /// no such mapping, the datagram is lost).
    pub fn reverse(&mut self, dst: SocketAddr, now: Timestamp) -> Option<SocketAddr> {
        self.expire(now);
        let (inside, (_, last)) = self.map.iter_mut().find(|(_, (p, _))| *p == dst.port())?;
        *last = now;
        Some(*inside)
    }

    /// Forget every mapping: the next datagram out gets a new public port.
    pub fn rebind(&mut self) {
        self.map.clear();
    }
}

/// A datagram as the network carried it.
#[derive(Debug, Clone)]
pub struct Carried {
    /// When it was sent.
    pub at: Timestamp,
    /// Sender.
    pub from: NodeId,
    /// As the sender addressed it.
    pub sent: Path,
    /// As the receiver sees it (after NAT), or `None` when it was lost.
    pub delivered: Option<(NodeId, Path)>,
    /// The bytes (IKE message, keepalive) as the engine gave them.
    pub bytes: Vec<u8>,
    /// The non-ESP marker flag of the transmit.
    pub non_esp_marker: bool,
    /// An ESP packet.
    pub esp: bool,
}

struct InFlight {
    to: NodeId,
    path: Path,
    /// As on the wire (marker included).
    wire: Vec<u8>,
    /// The receiving socket treats it as its NAT-T socket would (see [`Network::deliver`]).
    natt: bool,
}

/// One engine and the addresses it owns.
pub struct Node {
    /// For messages.
    pub name: String,
    /// The engine.
    pub engine: Engine,
    /// Addresses routed to it.
    pub addrs: Vec<IpAddr>,
    /// Its echo responder and ping probe.
    pub dataplane: DataPlane,
}

/// The network.
pub struct Network {
    /// Simulated time.
    pub now: Timestamp,
    /// The nodes.
    pub nodes: Vec<Node>,
    /// One-way latency.
    pub latency: Duration,
    /// NAT boxes.
    pub nats: Vec<NatBox>,
    /// Addresses whose link is down: nothing leaves or reaches them.
    pub down: HashSet<IpAddr>,
    /// Address pairs (either direction) that silently drop everything.
    pub blackholes: HashSet<(IpAddr, IpAddr)>,
    /// Share (0..=100) of datagrams lost, per sending address (`None` key: every one).
    pub loss: HashMap<Option<IpAddr>, u8>,
    /// Rewrites datagrams in flight (a hostile network or peer): given the sender and
    /// the bytes, returns replacement bytes or `None` to leave them.
    pub tamper: Option<Tamper>,
    /// Which source address reaches which destination (before NAT); every pair by
    /// default. [`same_subnet`] models one link per /24 (IPv4) or /64 (IPv6).
    pub reachable: fn(IpAddr, IpAddr) -> bool,
    rng: u64,
    queue: BTreeMap<(Timestamp, u64), InFlight>,
    seq: u64,
    /// Every datagram sent.
    pub log: Vec<Carried>,
    /// Every event, with its node.
    pub events: Vec<(Timestamp, NodeId, EngineEvent)>,
    /// Data-plane packets that could not be sent, with their node.
    pub esp_send_errors: Vec<(Timestamp, NodeId, EspError)>,
    /// Periodic ping summaries, with their node.
    pub ping_reports: Vec<(Timestamp, NodeId, PingStats)>,
}

impl Network {
    /// An empty network at time `start`, 10 ms latency.
    pub fn new(start: Timestamp) -> Network {
        Network {
            now: start,
            nodes: vec![],
            latency: Duration::from_millis(10),
            nats: vec![],
            down: HashSet::new(),
            blackholes: HashSet::new(),
            loss: HashMap::new(),
            reachable: |_, _| true,
            tamper: None,
            rng: 0x9e37_79b9_7f4a_7c15,
            queue: BTreeMap::new(),
            seq: 0,
            log: vec![],
            events: vec![],
            esp_send_errors: vec![],
            ping_reports: vec![],
        }
    }

    /// Add a node owning `addrs`.
    pub fn add(&mut self, name: &str, engine: Engine, addrs: &[IpAddr]) -> NodeId {
        self.nodes.push(Node {
            name: name.to_string(),
            engine,
            addrs: addrs.to_vec(),
            dataplane: DataPlane::default(),
        });
        self.nodes.len() - 1
    }

    /// The engine of a node.
    pub fn engine(&mut self, n: NodeId) -> &mut Engine {
        &mut self.nodes[n].engine
    }

    /// Remove an address from a node (routing and the engine's address set).
    pub fn del_addr(&mut self, n: NodeId, a: IpAddr) {
        self.nodes[n].addrs.retain(|x| *x != a);
        let addrs = self.nodes[n].addrs.clone();
        let now = self.now;
        self.nodes[n].engine.set_local_addrs(now, &addrs);
    }

    /// Give a node an address (routing and the engine's address set).
    pub fn add_addr(&mut self, n: NodeId, a: IpAddr) {
        if !self.nodes[n].addrs.contains(&a) {
            self.nodes[n].addrs.push(a);
        }
        let addrs = self.nodes[n].addrs.clone();
        let now = self.now;
        self.nodes[n].engine.set_local_addrs(now, &addrs);
    }

    fn random_percent(&mut self) -> u8 {
        // xorshift64*: deterministic, good enough for loss
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8 % 100
    }

    fn owner(&self, a: IpAddr) -> Option<NodeId> {
        self.nodes.iter().position(|n| n.addrs.contains(&a))
    }

    fn route(&mut self, from: NodeId, mut t: Transmit) {
        let now = self.now;
        if let Some(f) = self.tamper.as_mut() {
            if let Some(b) = f(from, t.path, &t.bytes) {
                t.bytes = b;
            }
        }
        let mut carried = Carried {
            at: now,
            from,
            sent: t.path,
            delivered: None,
            bytes: t.bytes.clone(),
            non_esp_marker: t.non_esp_marker,
            esp: t.esp,
        };
        let (src, dst) = (t.path.local, t.path.remote);
        let lost = {
            let p = self
                .loss
                .get(&Some(src.ip()))
                .or(self.loss.get(&None))
                .copied()
                .unwrap_or(0);
            p > 0 && self.random_percent() < p
        };
        let blocked = !self.nodes[from].addrs.contains(&src.ip())
            || self.down.contains(&src.ip())
            || self.down.contains(&dst.ip())
            || self.blackholes.contains(&(src.ip(), dst.ip()))
            || self.blackholes.contains(&(dst.ip(), src.ip()))
            || !(self.reachable)(src.ip(), dst.ip());
        // source NAT, then the destination (or a NAT's public address: reverse mapping)
        let src_seen = match self.nats.iter_mut().find(|n| n.inside.contains(&src.ip())) {
            Some(nat) => nat.translate(src, now),
            None => src,
        };
        let dst_real = match self.nats.iter_mut().find(|n| n.outside == dst.ip()) {
            Some(nat) => nat.reverse(dst, now),
            None => Some(dst),
        };
        if !(lost || blocked) {
            if let Some(dst_real) = dst_real {
                if let Some(to) = self.owner(dst_real.ip()) {
                    let path = Path::new(dst_real, src_seen);
                    carried.delivered = Some((to, path));
                    self.seq += 1;
                    // a receiving socket of the NAT-T kind: the receiver's NAT-T port, or
                    // the sender spoke NAT-T (a rebound port stands in for it, as in io)
                    let natt = path.local.port() == self.nodes[to].engine.config().nat_t_port
                        || t.non_esp_marker
                        || t.esp;
                    self.queue.insert(
                        (now + self.latency, self.seq),
                        InFlight {
                            to,
                            path,
                            wire: frame(&t.bytes, t.non_esp_marker && !t.esp),
                            natt,
                        },
                    );
                }
            }
        }
        self.log.push(carried);
    }

    fn collect(&mut self) {
        for n in 0..self.nodes.len() {
            while let Some(t) = self.nodes[n].engine.poll_transmit() {
                self.route(n, t);
            }
            while let Some(e) = self.nodes[n].engine.poll_event() {
                if let EngineEvent::EspReceived {
                    sa, spi_in, packet, ..
                } = &e
                {
                    let node = &mut self.nodes[n];
                    let answered =
                        node.dataplane
                            .on_esp(&mut node.engine, self.now, (*sa, *spi_in), packet);
                    if let Err(err) = answered {
                        self.esp_send_errors.push((self.now, n, err));
                    }
                }
                self.events.push((self.now, n, e));
            }
        }
    }

    /// Run until nothing is left to do or `limit` has passed.
    pub fn run_for(&mut self, limit: Duration) {
        let end = self.now + limit;
        loop {
            self.collect();
            let next_pkt = self.queue.keys().next().copied();
            let next_timer = self
                .nodes
                .iter()
                .flat_map(|n| [n.engine.poll_timeout(), n.dataplane.poll_timeout()])
                .flatten()
                .min();
            let next = [next_pkt.map(|k| k.0), next_timer]
                .into_iter()
                .flatten()
                .min();
            let Some(next) = next else { break };
            if next > end {
                self.now = end;
                break;
            }
            self.now = self.now.max(next);
            let now = self.now;
            if let Some(k) = next_pkt.filter(|k| k.0 <= now) {
                if let Some(p) = self.queue.remove(&k) {
                    // a link that went down meanwhile loses what was in flight
                    if !self.down.contains(&p.path.local.ip())
                        && self.nodes[p.to].addrs.contains(&p.path.local.ip())
                    {
                        self.deliver(now, p);
                    }
                }
                continue;
            }
            self.dataplane_timers(now);
            for n in 0..self.nodes.len() {
                if self.nodes[n]
                    .engine
                    .poll_timeout()
                    .is_some_and(|t| t <= now)
                {
                    self.nodes[n].engine.handle_timeout(now);
                }
            }
        }
        self.collect();
    }

    /// When something is next due: a datagram's delivery or an engine's timer (`None`:
    /// nothing will happen by itself). For drivers that stop at the first event.
    pub fn next_wakeup(&self) -> Option<Timestamp> {
        let next_pkt = self.queue.keys().next().map(|k| k.0);
        let next_timer = self
            .nodes
            .iter()
            .flat_map(|n| [n.engine.poll_timeout(), n.dataplane.poll_timeout()])
            .flatten()
            .min();
        [next_pkt, next_timer].into_iter().flatten().min()
    }

    /// Hand a datagram to the receiving engine as its socket would: IKE without the
    /// marker, ESP to [`Engine::handle_esp`], keepalives (engines count them) as they are.
    fn deliver(&mut self, now: Timestamp, p: InFlight) {
        let engine = &mut self.nodes[p.to].engine;
        match classify(p.natt, &p.wire) {
            Received::Ike(msg) => engine.handle_datagram(now, p.path, &msg),
            Received::Esp(esp) => engine.handle_esp(now, p.path, &esp),
            Received::Keepalive | Received::Runt => engine.handle_datagram(now, p.path, &p.wire),
        }
    }

    /// Run the nodes' ping probes that are due.
    fn dataplane_timers(&mut self, now: Timestamp) {
        for n in 0..self.nodes.len() {
            let node = &mut self.nodes[n];
            if node.dataplane.poll_timeout().is_some_and(|t| t <= now) {
                let out = node.dataplane.on_timeout(&mut node.engine, now);
                if let Some(r) = out.report {
                    self.ping_reports.push((now, n, r));
                }
                for e in out.errors {
                    self.esp_send_errors.push((now, n, e));
                }
            }
        }
    }

    /// Events of node `n`.
    pub fn events_of(&self, n: NodeId) -> impl Iterator<Item = &EngineEvent> {
        self.events.iter().filter(move |e| e.1 == n).map(|e| &e.2)
    }

    /// Datagrams that reached node `n` from `from`, as the receiver saw them.
    pub fn delivered_to(&self, n: NodeId) -> impl Iterator<Item = (&Carried, Path)> {
        self.log.iter().filter_map(move |c| match c.delivered {
            Some((to, p)) if to == n => Some((c, p)),
            _ => None,
        })
    }

    /// The log as a pcap (LINKTYPE_RAW, IPv4/IPv6 + UDP), for the capture analyzer.
    pub fn pcap(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // pcap global header: magic, v2.4, tz 0, sigfigs 0, snaplen, LINKTYPE_RAW (101)
        out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        out.extend_from_slice(&2u16.to_le_bytes());
        out.extend_from_slice(&4u16.to_le_bytes());
        out.extend_from_slice(&0i32.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&65535u32.to_le_bytes());
        out.extend_from_slice(&101u32.to_le_bytes());
        for c in &self.log {
            // what the receiver would capture: after NAT, so addresses are as seen
            let Some((_, seen)) = c.delivered else {
                continue;
            };
            let mut payload = Vec::new();
            if c.non_esp_marker {
                payload.extend_from_slice(&[0, 0, 0, 0]);
            }
            payload.extend_from_slice(&c.bytes);
            let pkt = crate::wire::ip::udp_packet(seen.remote, seen.local, &payload);
            let us = c.at.as_micros();
            out.extend_from_slice(&((us / 1_000_000) as u32).to_le_bytes());
            out.extend_from_slice(&((us % 1_000_000) as u32).to_le_bytes());
            out.extend_from_slice(&(pkt.len() as u32).to_le_bytes());
            out.extend_from_slice(&(pkt.len() as u32).to_le_bytes());
            out.extend_from_slice(&pkt);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sock(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn nat_idle_timeout_forgets_unused_mappings_only() {
        let t0 = Timestamp::from_secs(100);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let mut nat = NatBox::new(vec![ip("10.0.0.2")], ip("203.0.113.5"), 40000)
            .with_idle_timeout(Duration::from_secs(30));
        let inside = sock("10.0.0.2:4500");
        assert_eq!(nat.translate(inside, t0), sock("203.0.113.5:40000"));
        // used every 20 s (a keepalive shorter than the timeout): the mapping stays
        let t20 = t0 + Duration::from_secs(20);
        assert_eq!(nat.translate(inside, t20), sock("203.0.113.5:40000"));
        let t40 = t0 + Duration::from_secs(40);
        assert_eq!(nat.reverse(sock("203.0.113.5:40000"), t40), Some(inside));
        assert!(nat.expired.is_empty());
        // idle for 31 s: gone; the peer's datagram to the old port is lost, the next
        // one out gets a new port
        let t71 = t40 + Duration::from_secs(31);
        assert_eq!(nat.reverse(sock("203.0.113.5:40000"), t71), None);
        assert_eq!(
            nat.expired,
            vec![NatExpiry {
                noticed: t71,
                inside,
                port: 40000,
                idle: Duration::from_secs(31),
            }]
        );
        assert_eq!(nat.translate(inside, t71), sock("203.0.113.5:40001"));
    }

    #[test]
    fn nat_without_timeout_keeps_mappings() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let mut nat = NatBox::new(vec![ip("10.0.0.2")], ip("203.0.113.5"), 40000);
        let inside = sock("10.0.0.2:500");
        nat.translate(inside, Timestamp::from_secs(0));
        let later = Timestamp::from_secs(100_000);
        assert_eq!(nat.reverse(sock("203.0.113.5:40000"), later), Some(inside));
        assert!(nat.expired.is_empty());
    }
}
