//! The loopback lab: the virtual lab's two engines on real UDP sockets on loopback
//! addresses and the wall clock, as a [`DrillTarget`] (`mobikectl lab`). No root, no
//! configuration: 127.0.0.0/8 is all local on Linux, so each node binds its own
//! addresses.
//!
//! * The address plan, configurations and `# lab:` options are the virtual lab's
//!   ([`super::common`]): `initiator` owns 127.0.0.2 and 127.0.0.3, `responder`
//!   127.0.0.10 and 127.0.0.11. The ports are 10500 and 14500 when they are free, else a
//!   free pair from 21000-29000 (several labs may run at once, e.g. tests).
//! * One `poll(2)` loop ([`LoopbackLab::advance_until`]) receives on every socket, runs
//!   both engines' and data planes' timers and sends what they transmit through the
//!   sockets of the node that sent it. The events are the virtual lab's.
//! * `addr del|add` close and bind the node's sockets on the address and tell its
//!   engine; a send from a closed address fails as on a host that lost it (the engine
//!   hears of a failed send, [`Engine::send_failed`], only from an address it still
//!   has: it knows the others are gone).
//! * `drop` and `loss` act on the sockets of the node owning the local address (or the
//!   initiator): `loss PERCENT` without a pair drops that share of what that node sends
//!   and receives (the virtual lab: of every datagram).
//! * With a NAT (`# lab: nat`, `--nat`) the initiator's datagrams leave from the
//!   user-space NAT's sockets on 127.0.0.100 (`user_nat`), public ports from
//!   40000 on as in the virtual lab when free; `nat rebind` makes it forget its mappings.
//!   Without one, `nat rebind` binds a fresh port on the SA's address and the engine
//!   sends from it, as `mobikectl peer` does.
//! * IPv6 (`# lab: ipv6`) is refused: the loopback interface has only ::1, and each node
//!   needs two IPv6 addresses of its own, which only root can add; `--virtual` has them.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde_json::{Map, Value};

use super::common::{
    self, acted_on, addrs_fields, engine_event, established_sas, filter_fields, home_plan,
    lab_engines, nat_expired_event, owner_of, ping_fields, raw_udp_pcap, sa_summaries, LabKeyLog,
    LabOptions, LabPorts, INITIATOR, NAT_PUBLIC, START,
};
use super::user_nat::UserNat;
use crate::cli::command::{resolve, Action};
use crate::dataplane::host::DataPlane;
use crate::drill::parse::DrillCommand;
use crate::drill::run::{CaptureFiles, DrillTarget, SaSummary};
use crate::drill::{Applied, TimedEvent};
use crate::engine::{Command, Engine, EngineEvent, Path, SaId, Timestamp, Transmit};
use crate::io::clock::Clock;
use crate::io::event_loop::path_unusable;
use crate::io::socket::{classify, wire_bytes, Received, Sockets};

/// The longest one `poll(2)` sleeps: the loop looks at the clock at least this often.
const MAX_POLL: Duration = Duration::from_millis(50);
/// The NAT's first public port (the virtual lab's too).
const NAT_FIRST_PORT: u16 = 40000;

/// One engine with its sockets and data plane.
struct LabNode {
    name: &'static str,
    engine: Engine,
    sockets: Sockets,
    dataplane: DataPlane,
    /// Its addresses now (bound, and the engine's set).
    addrs: Vec<IpAddr>,
}

/// The lab.
pub struct LoopbackLab {
    clock: Clock,
    nodes: Vec<LabNode>,
    /// The address plan: which node each lab address belongs to.
    home: Vec<(IpAddr, usize)>,
    ports: LabPorts,
    /// The NAT in front of the initiator.
    nat: Option<UserNat>,
    /// Events not handed out yet.
    pending: Vec<TimedEvent>,
    buf: Vec<u8>,
    /// Every datagram a node received: (when, sender, receiver, bytes as on the wire).
    received: Vec<(Timestamp, SocketAddr, SocketAddr, Vec<u8>)>,
    /// Every IKE SA's keys, for the live UI's decoding.
    keylog: LabKeyLog,
}

/// The port pairs to try: the virtual lab's, then pairs spread by the process id so
/// that labs started at the same time try different ones.
fn port_candidates() -> impl Iterator<Item = LabPorts> {
    let seed = std::process::id().wrapping_mul(2_654_435_761);
    let spread = (0..64u32).map(move |k| {
        let offset = (seed.wrapping_add(k.wrapping_mul(7_919)) % 4000) as u16;
        LabPorts {
            ike: 21000 + offset,
            natt: 25000 + offset,
        }
    });
    std::iter::once(LabPorts::default()).chain(spread)
}

const IPV6_REFUSED: &str = "no IPv6 on loopback: the loopback interface has only ::1, \
     and each node needs two IPv6 addresses of its own (fd00::2 and fd00::3, fd00::10 and \
     fd00::11), which only root can add; run this drill on the virtual lab (--virtual)";

/// Both nodes' sockets on one free port pair.
fn bind_nodes(options: &LabOptions) -> Result<(LabPorts, Sockets, Sockets), String> {
    let mut last_error = String::from("no port pair tried");
    for ports in port_candidates() {
        let initiator = Sockets::bind(&options.initiator_addrs(), ports.ike, ports.natt);
        let responder = Sockets::bind(&options.responder_addrs(), ports.ike, ports.natt);
        match (initiator, responder) {
            (Ok(i), Ok(r)) => return Ok((ports, i, r)),
            (Err(e), _) | (_, Err(e)) if e.kind() == std::io::ErrorKind::AddrInUse => {
                last_error = e.to_string();
            }
            (Err(e), _) | (_, Err(e)) => return Err(e.to_string()),
        }
    }
    Err(format!("no free port pair on loopback: {last_error}"))
}

impl LoopbackLab {
    /// A lab with both nodes' sockets bound and no SA.
    pub fn new(options: LabOptions) -> Result<LoopbackLab, String> {
        if options.ipv6 {
            return Err(IPV6_REFUSED.into());
        }
        let clock = Clock::new();
        let (ports, initiator_sockets, responder_sockets) = bind_nodes(&options)?;
        let (initiator, responder) = lab_engines(&options, ports, START)?;
        let node = |name, engine, sockets, addrs| LabNode {
            name,
            engine,
            sockets,
            dataplane: DataPlane::default(),
            addrs,
        };
        let nodes = vec![
            node(
                "initiator",
                initiator,
                initiator_sockets,
                options.initiator_addrs(),
            ),
            node(
                "responder",
                responder,
                responder_sockets,
                options.responder_addrs(),
            ),
        ];
        let nat = (options.nat || options.nat_timeout.is_some())
            .then(|| UserNat::new(NAT_PUBLIC, NAT_FIRST_PORT, options.nat_timeout));
        Ok(LoopbackLab {
            clock,
            nodes,
            home: home_plan(&options),
            ports,
            nat,
            pending: Vec::new(),
            buf: vec![0; 65_536],
            received: Vec::new(),
            keylog: LabKeyLog::default(),
        })
    }

    /// The IKE and NAT-T ports both nodes use.
    pub fn ports(&self) -> LabPorts {
        self.ports
    }

    /// The events the drill's last statements caused that no wait took in (the runner
    /// does not let time pass after the last one): what arrived by now.
    pub fn finish(&mut self) -> Vec<TimedEvent> {
        self.flush_all();
        self.receive_all();
        self.take_pending()
    }

    /// Every datagram the nodes received, as a pcap (as the receivers saw it).
    pub fn pcap(&self) -> Vec<u8> {
        let records = self
            .received
            .iter()
            .map(|(at, from, to, wire)| (at.as_micros(), *from, *to, wire.as_slice()));
        raw_udp_pcap(records)
    }

    /// Lab time: [`START`] plus the wall-clock time since the lab was made.
    fn time(&self) -> Timestamp {
        START + Duration::from_micros(self.clock.now().as_micros())
    }

    fn node_by_name(&self, name: &str) -> Result<usize, String> {
        self.nodes
            .iter()
            .position(|n| n.name == name)
            .ok_or_else(|| format!("no node '{name}' (nodes: initiator, responder)"))
    }

    fn lab_event(&mut self, node: usize, name: &str, fields: Map<String, Value>) {
        let at = self.time();
        self.pending.push(TimedEvent {
            at,
            node: self.nodes[node].name.to_string(),
            name: name.to_string(),
            fields,
        });
    }

    /// Send one transmit of node `n`: through the NAT for the initiator behind one, else
    /// from the node's socket. A send that fails for want of a path (no such address,
    /// no route) tells the engine, as the peer's event loop does.
    fn send(&mut self, n: usize, t: Transmit) {
        let now = self.time();
        let node = &mut self.nodes[n];
        let result = match self.nat.as_mut().filter(|_| n == INITIATOR) {
            Some(nat) => {
                if node.sockets.filter.drops(t.path) {
                    return;
                }
                if node.sockets.local_addrs().contains(&t.path.local) {
                    nat.send(now, t.path.local, t.path.remote, &wire_bytes(&t))
                        .map(|_| ())
                } else {
                    // what the socket layer says when no socket is bound there
                    Err(std::io::ErrorKind::AddrNotAvailable.into())
                }
            }
            None => node.sockets.send(&t).map(|_| ()),
        };
        // a send from an address the engine was told is gone (addr del) is no news to
        // it: telling it again would only relabel its address_lost move path_failed
        let news = node.addrs.contains(&t.path.local.ip());
        if let Err(e) = result {
            if news && path_unusable(&e) {
                node.engine.send_failed(now, t.path);
            }
        }
    }

    /// Hand node `n`'s transmits to the network and its events to the data plane and
    /// the drill, until it has none.
    fn flush(&mut self, n: usize) {
        loop {
            let transmits: Vec<Transmit> =
                std::iter::from_fn(|| self.nodes[n].engine.poll_transmit()).collect();
            let events: Vec<EngineEvent> =
                std::iter::from_fn(|| self.nodes[n].engine.poll_event()).collect();
            if transmits.is_empty() && events.is_empty() {
                return;
            }
            for t in transmits {
                self.send(n, t);
            }
            let now = self.time();
            for ev in events {
                if let EngineEvent::EspReceived {
                    sa, spi_in, packet, ..
                } = &ev
                {
                    let node = &mut self.nodes[n];
                    // an answer that cannot be sent is a lost echo reply: the probe counts it
                    let _ = node
                        .dataplane
                        .on_esp(&mut node.engine, now, (*sa, *spi_in), packet);
                }
                let node = &self.nodes[n];
                self.pending
                    .extend(engine_event(now, node.name, &ev, &node.engine));
            }
            self.keylog.observe(&self.nodes[n].engine);
        }
    }

    fn flush_all(&mut self) {
        for n in 0..self.nodes.len() {
            self.flush(n);
        }
    }

    /// One datagram for node `n` as its socket would hand it over.
    fn deliver(&mut self, n: usize, path: Path, content: Received, wire: &[u8]) {
        let now = self.time();
        self.received
            .push((now, path.remote, path.local, wire.to_vec()));
        let engine = &mut self.nodes[n].engine;
        match content {
            Received::Ike(msg) => engine.handle_datagram(now, path, &msg),
            Received::Esp(esp) => engine.handle_esp(now, path, &esp),
            // the engine counts keepalives (as in the virtual lab)
            Received::Keepalive => engine.handle_datagram(now, path, wire),
            Received::Runt => {}
        }
        self.flush(n);
    }

    /// Everything waiting on the nodes' sockets and the NAT's.
    fn receive_all(&mut self) {
        for n in 0..self.nodes.len() {
            for idx in 0..self.nodes[n].sockets.fds().len() {
                // the filter reads and discards what it drops; errors are reported
                // datagrams (ICMP) or a closed socket: nothing more on this one
                while let Ok(Some(d)) = self.nodes[n].sockets.recv(idx, &mut self.buf) {
                    self.deliver(n, d.path, d.content, &d.wire);
                }
            }
        }
        self.receive_from_nat();
    }

    /// Datagrams the NAT maps back to the initiator: as its socket at the inside
    /// endpoint would receive them, when it still has that address.
    fn receive_from_nat(&mut self) {
        let now = self.time();
        let Some(nat) = self.nat.as_mut() else {
            return;
        };
        let inbound = nat.receive(now, &mut self.buf);
        self.report_nat_expiries();
        for d in inbound {
            let path = Path::new(d.inside, d.remote);
            let node = &mut self.nodes[INITIATOR];
            if !node.sockets.local_addrs().contains(&d.inside) || node.sockets.filter.drops(path) {
                continue;
            }
            let natt = d.inside.port() == self.ports.natt;
            let content = classify(natt, &d.wire);
            self.deliver(INITIATOR, path, content, &d.wire);
        }
    }

    fn report_nat_expiries(&mut self) {
        let Some(nat) = self.nat.as_mut() else {
            return;
        };
        for e in std::mem::take(&mut nat.expired) {
            let public = SocketAddr::new(nat.public, e.port);
            self.pending
                .push(nat_expired_event(e.noticed, e.inside, public, e.idle));
        }
    }

    /// The engines' and data planes' timers that are due.
    fn run_timers(&mut self) {
        for n in 0..self.nodes.len() {
            let now = self.time();
            let node = &mut self.nodes[n];
            if node.engine.poll_timeout().is_some_and(|t| t <= now) {
                node.engine.handle_timeout(now);
            }
            if node.dataplane.poll_timeout().is_some_and(|t| t <= now) {
                // requests that cannot be sent (no CHILD_SA yet) count as lost
                let out = node.dataplane.on_timeout(&mut node.engine, now);
                let src = node.dataplane.probe().map(|p| p.src());
                if let (Some(stats), Some(src)) = (out.report, src) {
                    let fields = ping_fields("running", &stats, src, now);
                    self.lab_event(n, "ping", fields);
                }
            }
            self.flush(n);
        }
        self.report_nat_expiries();
    }

    /// The next timer of any engine or data plane.
    fn next_timer(&self) -> Option<Timestamp> {
        self.nodes
            .iter()
            .flat_map(|n| [n.engine.poll_timeout(), n.dataplane.poll_timeout()])
            .flatten()
            .min()
    }

    /// Sleep in `poll(2)` until a socket is readable or `until` (at most [`MAX_POLL`]).
    fn wait_for_input(&self, until: Timestamp) {
        let mut fds: Vec<libc::pollfd> = self
            .nodes
            .iter()
            .flat_map(|n| n.sockets.fds())
            .chain(self.nat.iter().flat_map(|nat| nat.fds()))
            .map(|fd| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        let wait = until.saturating_since(self.time()).min(MAX_POLL);
        // round up so that the loop does not spin just before a timer
        let timeout_ms = i32::try_from(wait.as_micros().div_ceil(1000)).unwrap_or(i32::MAX);
        // SAFETY: `fds` is a valid array of pollfd for the duration of the call.
        // Its result does not matter: every socket is read (non-blocking) afterwards.
        let _ = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
    }

    fn engine_command(&mut self, n: usize, c: Command) -> Result<(), String> {
        let now = self.time();
        self.nodes[n]
            .engine
            .command(now, c)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn add_addr(&mut self, n: usize, ip: IpAddr) -> Result<(), String> {
        if self.nodes[n].addrs.contains(&ip) {
            return Err(format!("addr add: {ip} is already one of its addresses"));
        }
        let now = self.time();
        let node = &mut self.nodes[n];
        node.sockets
            .bind_addr(ip)
            .map_err(|e| format!("addr add: {e}"))?;
        node.addrs.push(ip);
        node.engine.set_local_addrs(now, &node.addrs);
        let fields = addrs_fields("add", ip, &node.addrs);
        self.lab_event(n, "local_addrs", fields);
        Ok(())
    }

    fn del_addr(&mut self, n: usize, ip: IpAddr) -> Result<(), String> {
        if !self.nodes[n].addrs.contains(&ip) {
            return Err(format!("addr del: {ip} is not one of its addresses"));
        }
        let now = self.time();
        let node = &mut self.nodes[n];
        node.sockets.unbind_addr(ip);
        node.addrs.retain(|a| *a != ip);
        node.engine.set_local_addrs(now, &node.addrs);
        let fields = addrs_fields("del", ip, &node.addrs);
        self.lab_event(n, "local_addrs", fields);
        Ok(())
    }

    /// `nat rebind`: the NAT forgets its mappings when the node is behind it, else the
    /// engine sends from a fresh port on `local`'s address (as `mobikectl peer` does).
    fn rebind(&mut self, n: usize, sa: SaId, local: SocketAddr) -> Result<(), String> {
        if let Some(nat) = self.nat.as_mut().filter(|_| n == INITIATOR) {
            nat.rebind();
            return Ok(());
        }
        let natt = local.port() == self.ports.natt;
        let bound = self.nodes[n]
            .sockets
            .bind_extra_port(local.ip(), natt)
            .map_err(|e| format!("nat rebind: {e}"))?;
        let port = bound.port();
        self.engine_command(n, Command::Rebind { sa, port })
    }

    fn filter_event(
        &mut self,
        n: usize,
        what: &str,
        pair: Option<(IpAddr, IpAddr)>,
        extra: (&str, Value),
    ) {
        let mut fields = filter_fields(what, pair);
        fields.insert(extra.0.into(), extra.1);
        self.lab_event(n, "filter", fields);
    }

    fn start_ping(&mut self, n: usize, dst: IpAddr, interval: Duration) -> Result<(), String> {
        let now = self.time();
        let node = &mut self.nodes[n];
        let replaced =
            common::start_ping(&mut node.dataplane, &node.engine, n, (now, dst, interval))?;
        if let Some(fields) = replaced {
            self.lab_event(n, "ping", fields);
        }
        Ok(())
    }

    fn stop_ping(&mut self, n: usize) -> Result<(), String> {
        let now = self.time();
        let fields = common::stop_ping(&mut self.nodes[n].dataplane, now)?;
        self.lab_event(n, "ping", fields);
        Ok(())
    }

    fn apply(&mut self, n: usize, action: Action) -> Result<(), String> {
        match action {
            Action::Engine(c) => self.engine_command(n, c)?,
            Action::AddAddr(_, Some(_)) | Action::DelAddr(_, Some(_)) => {
                return Err(
                    "--os changes a real interface; the loopback lab only binds \
                            sockets on loopback addresses"
                        .into(),
                )
            }
            Action::AddAddr(ip, None) => self.add_addr(n, ip)?,
            Action::DelAddr(ip, None) => self.del_addr(n, ip)?,
            Action::Rebind { sa, local } => self.rebind(n, sa, local)?,
            Action::Drop { local, remote, on } => {
                let filter = &mut self.nodes[n].sockets.filter;
                filter.set_drop(local, remote, on);
                if !on {
                    filter.set_drop(remote, local, false);
                }
                self.filter_event(n, "drop", Some((local, remote)), ("on", on.into()));
            }
            Action::Loss { percent, pair } => {
                self.nodes[n].sockets.filter.set_loss(percent, pair);
                self.filter_event(n, "loss", pair, ("percent", percent.into()));
            }
            Action::Ping { dst, interval } => self.start_ping(n, dst, interval)?,
            Action::PingStop => self.stop_ping(n)?,
            Action::Help => {}
            Action::Quit => {
                for id in established_sas(&self.nodes[n].engine) {
                    self.engine_command(n, Command::Down(id))?;
                }
            }
        }
        Ok(())
    }

    /// The events so far, in time order.
    fn take_pending(&mut self) -> Vec<TimedEvent> {
        let mut out = std::mem::take(&mut self.pending);
        out.sort_by_key(|e| e.at);
        out
    }
}

impl DrillTarget for LoopbackLab {
    fn now(&self) -> Timestamp {
        self.time()
    }

    fn node_names(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.name.to_string()).collect()
    }

    fn command(&mut self, node: Option<&str>, command: &DrillCommand) -> Result<Applied, String> {
        let command = &command.command;
        let n = match node {
            Some(name) => self.node_by_name(name)?,
            None => {
                let current: Vec<Vec<IpAddr>> =
                    self.nodes.iter().map(|n| n.addrs.clone()).collect();
                owner_of(command, &current, &self.home)
            }
        };
        let before = self.pending.len();
        let actions = resolve(&self.nodes[n].engine, command.clone())?;
        for a in actions {
            self.apply(n, a)?;
        }
        // what the command made the engine send goes out now
        self.flush_all();
        Ok(acted_on(self.nodes[n].name, &self.pending[before..]))
    }

    fn advance_until(&mut self, deadline: Timestamp) -> Vec<TimedEvent> {
        self.flush_all();
        loop {
            self.receive_all();
            self.run_timers();
            if !self.pending.is_empty() || self.time() >= deadline {
                return self.take_pending();
            }
            let wake = self.next_timer().map_or(deadline, |t| t.min(deadline));
            self.wait_for_input(wake);
        }
    }

    fn events_so_far(&mut self) -> Vec<TimedEvent> {
        // the network does not wait for the drill: take in what arrived meanwhile
        self.receive_all();
        self.take_pending()
    }

    fn sa_summaries(&mut self, node: Option<&str>) -> Result<Vec<SaSummary>, String> {
        let n = match node {
            Some(name) => self.node_by_name(name)?,
            None => INITIATOR,
        };
        Ok(sa_summaries(&self.nodes[n].engine))
    }

    fn capture_files(&mut self, dir: &std::path::Path) -> Result<CaptureFiles, String> {
        self.keylog.save(dir, &self.pcap(), self.ports)
    }
}
