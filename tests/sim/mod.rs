//! Deterministic in-memory network for driving two engines against each other:
//! simulated clock, latency, injected loss / duplication / delay (reordering), and an
//! optional NAT in front of peer A that rewrites source address and port.
//!
//! Included by the `engine_*` tests with `mod sim;` (a directory, so Cargo does not build it
//! as a test target of its own).
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use mobikectl::engine::{
    Config, ConnConfig, Engine, EngineEvent, Identity, Path, SeededRandom, Timestamp, Transmit,
};
use mobikectl::wire::Message;

/// Which engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    A,
    B,
}

/// What the fault injector decides for a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Deliver,
    Drop,
    Duplicate,
    Delay(Duration),
}

/// A datagram as it crossed the network (after NAT).
#[derive(Debug, Clone)]
pub struct Packet {
    pub n: usize,
    pub sent_at: Timestamp,
    pub from: Side,
    /// As the sender put it (before NAT).
    pub tx: Transmit,
    pub exchange: u8,
    pub message_id: u32,
    pub response: bool,
}

pub struct Nat {
    /// Private address of A.
    pub inside: SocketAddr,
    /// Public address:port A appears as.
    pub outside: SocketAddr,
}

pub struct Net {
    pub now: Timestamp,
    pub a: Engine,
    pub b: Engine,
    pub a_addr: SocketAddr,
    pub b_addr: SocketAddr,
    pub latency: Duration,
    pub nat: Vec<Nat>,
    pub fault: Box<dyn FnMut(&Packet) -> Fault>,
    /// (deliver at, seq, to, local, remote, bytes)
    queue: Vec<(Timestamp, usize, Side, SocketAddr, SocketAddr, Vec<u8>)>,
    seq: usize,
    pub sent: Vec<Packet>,
    /// NAT-T keepalives sent (not in `sent`).
    pub keepalives: Vec<(Timestamp, Side, Transmit)>,
    pub events: Vec<(Timestamp, Side, EngineEvent)>,
}

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// Initiator connection "home" from `a` to `b` and a responder connection accepting
/// anyone, both with PSK `psk_a` / `psk_b`.
pub fn conns(a: SocketAddr, b: SocketAddr, psk_a: &[u8], psk_b: &[u8]) -> (ConnConfig, ConnConfig) {
    let mut ca = ConnConfig::new(
        "home",
        a,
        b,
        Identity::parse("carol@example.org").unwrap(),
        psk_a,
    );
    ca.remote_id = Some(Identity::parse("moon.example").unwrap());
    let mut cb = ConnConfig::new(
        "rw",
        b,
        addr("0.0.0.0:0"),
        Identity::parse("moon.example").unwrap(),
        psk_b,
    );
    cb.local_ts = vec!["10.1.0.0/16".parse_ts()];
    cb.remote_ts = vec![];
    ca.remote_ts = vec!["10.1.0.0/16".parse_ts()];
    (ca, cb)
}

pub trait ParseTs {
    fn parse_ts(&self) -> mobikectl::engine::TsRange;
}

impl ParseTs for str {
    fn parse_ts(&self) -> mobikectl::engine::TsRange {
        mobikectl::engine::TsRange::parse(self).unwrap()
    }
}

impl Net {
    pub fn new(ca: ConnConfig, cb: ConnConfig, cfg_a: Config, cfg_b: Config) -> Net {
        let a_addr = ca.local;
        let b_addr = cb.local;
        let a = Engine::new(
            Config {
                connections: vec![ca],
                ..cfg_a
            },
            Box::new(SeededRandom::new(1)),
        );
        let b = Engine::new(
            Config {
                connections: vec![cb],
                ..cfg_b
            },
            Box::new(SeededRandom::new(2)),
        );
        Net {
            now: Timestamp::from_secs(1000),
            a,
            b,
            a_addr,
            b_addr,
            latency: Duration::from_millis(10),
            nat: vec![],
            fault: Box::new(|_| Fault::Deliver),
            queue: vec![],
            seq: 0,
            sent: vec![],
            keepalives: vec![],
            events: vec![],
        }
    }

    /// Default pair: A 192.0.2.10:500 initiates to B 198.51.100.1:500.
    pub fn pair(psk_a: &[u8], psk_b: &[u8]) -> Net {
        let (ca, cb) = conns(
            addr("192.0.2.10:500"),
            addr("198.51.100.1:500"),
            psk_a,
            psk_b,
        );
        Net::new(ca, cb, Config::default(), Config::default())
    }

    pub fn engine(&mut self, s: Side) -> &mut Engine {
        match s {
            Side::A => &mut self.a,
            Side::B => &mut self.b,
        }
    }

    fn collect(&mut self) {
        for side in [Side::A, Side::B] {
            while let Some(t) = self.engine(side).poll_transmit() {
                // NAT-T keepalives (RFC 3948 §2.3): one 0xFF byte, no marker; recorded apart
                // and delivered without faults (the receiving engine ignores them)
                if t.bytes == [0xff] {
                    assert!(!t.non_esp_marker, "keepalive with a non-ESP marker");
                    self.keepalives.push((self.now, side, t.clone()));
                    self.route(side, &t, self.now + self.latency);
                    continue;
                }
                // Everything we send must parse with our own decoder.
                let msg = Message::parse(&t.bytes)
                    .unwrap_or_else(|e| panic!("engine {side:?} sent unparseable message: {e}"));
                // the marker goes with our NAT-T port (a response from 500 to a NAT port has none)
                assert_eq!(t.non_esp_marker, t.path.local.port() == 4500);
                let p = Packet {
                    n: self.sent.len(),
                    sent_at: self.now,
                    from: side,
                    tx: t.clone(),
                    exchange: msg.header.exchange_type,
                    message_id: msg.header.message_id,
                    response: msg.header.is_response(),
                };
                let fault = (self.fault)(&p);
                self.sent.push(p);
                let copies = match fault {
                    Fault::Drop => 0,
                    Fault::Duplicate => 2,
                    _ => 1,
                };
                let extra = match fault {
                    Fault::Delay(d) => d,
                    _ => Duration::ZERO,
                };
                for _ in 0..copies {
                    self.route(side, &t, self.now + self.latency + extra);
                }
            }
            while let Some(e) = self.engine(side).poll_event() {
                self.events.push((self.now, side, e));
            }
        }
    }

    fn route(&mut self, from: Side, t: &Transmit, at: Timestamp) {
        let (to, local, remote) = match from {
            Side::A => {
                // source NAT
                let src = self
                    .nat
                    .iter()
                    .find(|n| n.inside.ip() == t.path.local.ip())
                    .map(|n| {
                        SocketAddr::new(n.outside.ip(), n.outside.port() + t.path.local.port())
                    })
                    .unwrap_or(t.path.local);
                (Side::B, t.path.remote, src)
            }
            Side::B => {
                let dst = self
                    .nat
                    .iter()
                    .find(|n| {
                        n.outside.ip() == t.path.remote.ip()
                            && t.path.remote.port() >= n.outside.port()
                    })
                    .map(|n| {
                        SocketAddr::new(n.inside.ip(), t.path.remote.port() - n.outside.port())
                    })
                    .unwrap_or(t.path.remote);
                (Side::A, dst, t.path.local)
            }
        };
        self.seq += 1;
        self.queue
            .push((at, self.seq, to, local, remote, t.bytes.clone()));
    }

    /// Run the simulation until nothing is left to do or `limit` passes.
    pub fn run_for(&mut self, limit: Duration) {
        let end = self.now + limit;
        loop {
            self.collect();
            let next_pkt = self.queue.iter().map(|q| (q.0, q.1)).min();
            let ta = self.a.poll_timeout();
            let tb = self.b.poll_timeout();
            let next = [next_pkt.map(|x| x.0), ta, tb].into_iter().flatten().min();
            let Some(next) = next else { break };
            if next > end {
                self.now = end;
                break;
            }
            self.now = self.now.max(next);
            if let Some((_, seq)) = next_pkt.filter(|x| x.0 <= self.now) {
                let i = self.queue.iter().position(|q| q.1 == seq).unwrap();
                let (_, _, to, local, remote, bytes) = self.queue.remove(i);
                let now = self.now;
                self.engine(to)
                    .handle_datagram(now, Path::new(local, remote), &bytes);
                continue;
            }
            let now = self.now;
            if ta.is_some_and(|t| t <= now) {
                self.a.handle_timeout(now);
            }
            if tb.is_some_and(|t| t <= now) {
                self.b.handle_timeout(now);
            }
        }
        self.collect();
    }

    /// Start connection `name` on A.
    pub fn up(&mut self) -> mobikectl::engine::SaId {
        let now = self.now;
        self.a
            .command(now, mobikectl::engine::Command::Up("home".into()))
            .unwrap()
            .unwrap()
    }

    pub fn command(&mut self, side: Side, cmd: mobikectl::engine::Command) {
        let now = self.now;
        self.engine(side).command(now, cmd).unwrap();
    }

    pub fn events_of(&self, side: Side) -> Vec<&EngineEvent> {
        self.events
            .iter()
            .filter(|e| e.1 == side)
            .map(|e| &e.2)
            .collect()
    }

    pub fn count(&self, side: Side, f: impl Fn(&EngineEvent) -> bool) -> usize {
        self.events_of(side).into_iter().filter(|e| f(e)).count()
    }

    pub fn ike_up(&self, side: Side) -> bool {
        self.count(side, |e| matches!(e, EngineEvent::IkeUp { .. })) == 1
    }

    pub fn child_up(&self, side: Side) -> bool {
        self.count(side, |e| matches!(e, EngineEvent::ChildUp { .. })) == 1
    }

    pub fn down_reason(&self, side: Side) -> Option<String> {
        self.events_of(side).into_iter().find_map(|e| match e {
            EngineEvent::IkeDown { reason, .. } => Some(reason.clone()),
            _ => None,
        })
    }

    /// Assert both engines hold one established IKE SA with the same keys and a CHILD_SA
    /// with matching keys and crossed SPIs.
    pub fn assert_same_keys(&self) {
        let sa_a = self.a.sas().next().expect("A has an IKE SA");
        let sa_b = self.b.sas().next().expect("B has an IKE SA");
        assert_eq!((sa_a.spi_i, sa_a.spi_r), (sa_b.spi_i, sa_b.spi_r));
        let ka = sa_a.keys.as_ref().unwrap();
        let kb = sa_b.keys.as_ref().unwrap();
        assert_eq!(ka, kb, "IKE SA keys differ");
        assert_eq!(sa_a.ni, sa_b.ni);
        assert_eq!(sa_a.nr, sa_b.nr);
        assert_eq!(sa_a.children.len(), 1);
        assert_eq!(sa_b.children.len(), 1);
        let (ca, cb) = (&sa_a.children[0], &sa_b.children[0]);
        assert_eq!(ca.spi_in, cb.spi_out);
        assert_eq!(ca.spi_out, cb.spi_in);
        assert_eq!(ca.keys, cb.keys, "CHILD_SA keys differ");
        assert_eq!(ca.outbound_keys(), cb.inbound_keys());
        assert_eq!(ca.proposal, cb.proposal);
        assert_eq!(ca.ts_local, cb.ts_remote);
        assert_eq!(ca.ts_remote, cb.ts_local);
    }
}

impl Net {
    /// The one established IKE SA of a side.
    pub fn established_sa(&self, side: Side) -> &mobikectl::engine::IkeSa {
        let e = match side {
            Side::A => &self.a,
            Side::B => &self.b,
        };
        let est: Vec<_> = e
            .sas()
            .filter(|s| s.state == mobikectl::engine::IkeState::Established)
            .collect();
        assert_eq!(est.len(), 1, "{side:?}: {:#?}", e.sas().collect::<Vec<_>>());
        est[0]
    }

    /// Assert both sides have exactly one established IKE SA, the same one with the same
    /// keys, and the same CHILD_SAs (crossed SPIs, same keys and selectors); returns the
    /// number of CHILD_SAs.
    pub fn assert_agree(&self) -> usize {
        let sa_a = self.established_sa(Side::A);
        let sa_b = self.established_sa(Side::B);
        assert_eq!((sa_a.spi_i, sa_a.spi_r), (sa_b.spi_i, sa_b.spi_r));
        assert_ne!(sa_a.initiator, sa_b.initiator);
        assert_eq!(sa_a.keys, sa_b.keys, "IKE SA keys differ");
        assert_eq!(sa_a.proposal, sa_b.proposal);
        assert_eq!((&sa_a.ni, &sa_a.nr), (&sa_b.ni, &sa_b.nr));
        assert_eq!(
            sa_a.children.len(),
            sa_b.children.len(),
            "{:#?} {:#?}",
            sa_a.children,
            sa_b.children
        );
        for ca in &sa_a.children {
            let cb = sa_b
                .children
                .iter()
                .find(|c| c.spi_in == ca.spi_out)
                .unwrap_or_else(|| panic!("B has no CHILD_SA for {ca:?}"));
            assert_eq!(ca.spi_in, cb.spi_out);
            assert_eq!(ca.keys, cb.keys, "CHILD_SA keys differ");
            assert_ne!(ca.initiator, cb.initiator);
            assert_eq!(ca.outbound_keys(), cb.inbound_keys());
            assert_eq!(ca.inbound_keys(), cb.outbound_keys());
            assert_eq!(ca.proposal, cb.proposal);
            assert_eq!(ca.ts_local, cb.ts_remote);
            assert_eq!(ca.ts_remote, cb.ts_local);
            assert_eq!(ca.rekeyed, cb.rekeyed);
        }
        sa_a.children.len()
    }
}
