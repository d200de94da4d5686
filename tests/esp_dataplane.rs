//! The ESP data plane between two engines on the in-memory network of
//! `mobikectl::netsim`: pings through a CHILD_SA (UDP-encapsulated ESP on the NAT-T
//! port), replay and tampering refused with events, ESP on an old path after a MOBIKE
//! move reported (RFC 4555 §3.12), and the outage of a move measured by the probe.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use mobikectl::dataplane::{Echo, PingStats};
use mobikectl::engine::esp::{EspError, ReplayError};
use mobikectl::engine::{
    Command, Config, ConnConfig, Engine, EngineEvent, Identity, IkeSa, IkeState, MoveCause, Path,
    Proposal, Protocol, SeededRandom, Timestamp, TsRange,
};
use mobikectl::netsim::{NatBox, Network, NodeId};

const PSK: &[u8] = b"esp-dataplane-test-psk";
const I: NodeId = 0;
const R: NodeId = 1;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Initiator "carol" (10.2.0.0/16 behind it) with `i_addrs` to responder "moon"
/// (10.1.0.0/16) with `r_addrs`; both with the ESP proposal `esp`.
fn lab(i_addrs: &[&str], r_addrs: &[&str], esp: &str, mobike: bool) -> Network {
    let ia: Vec<IpAddr> = i_addrs.iter().map(|s| ip(s)).collect();
    let ra: Vec<IpAddr> = r_addrs.iter().map(|s| ip(s)).collect();
    let mut ci = ConnConfig::new(
        "home",
        SocketAddr::new(ia[0], 500),
        SocketAddr::new(ra[0], 500),
        Identity::parse("carol@example.org").unwrap(),
        PSK,
    );
    ci.remote_id = Some(Identity::parse("moon.example.org").unwrap());
    ci.local_ts = vec![TsRange::parse("10.2.0.0/16").unwrap()];
    ci.remote_ts = vec![TsRange::parse("10.1.0.0/16").unwrap()];
    ci.esp_proposals = Proposal::parse_list(Protocol::Esp, esp).unwrap();
    ci.mobike = mobike;
    let mut cr = ConnConfig::new(
        "rw",
        "0.0.0.0:0".parse().unwrap(),
        "0.0.0.0:0".parse().unwrap(),
        Identity::parse("moon.example.org").unwrap(),
        PSK,
    );
    cr.local_ts = vec![TsRange::parse("10.1.0.0/16").unwrap()];
    cr.remote_ts = vec![TsRange::parse("10.2.0.0/16").unwrap()];
    cr.esp_proposals = Proposal::parse_list(Protocol::Esp, esp).unwrap();
    let cfg = |c| Config {
        connections: vec![c],
        ..Config::default()
    };
    let mut ei = Engine::new(cfg(ci), Box::new(SeededRandom::new(11)));
    let mut er = Engine::new(cfg(cr), Box::new(SeededRandom::new(12)));
    let t0 = Timestamp::from_secs(1000);
    ei.set_local_addrs(t0, &ia);
    er.set_local_addrs(t0, &ra);
    let mut net = Network::new(t0);
    net.reachable = mobikectl::netsim::same_subnet;
    net.add("carol", ei, &ia);
    net.add("moon", er, &ra);
    net
}

fn up(net: &mut Network) {
    let now = net.now;
    net.engine(I)
        .command(now, Command::Up("home".into()))
        .unwrap();
    net.run_for(Duration::from_secs(2));
    established(net, I);
    established(net, R);
}

fn established(net: &Network, n: NodeId) -> &IkeSa {
    let sas: Vec<&IkeSa> = net.nodes[n]
        .engine
        .sas()
        .filter(|s| s.state == IkeState::Established)
        .collect();
    assert_eq!(sas.len(), 1, "{}: {}", net.nodes[n].name, dump(net));
    sas[0]
}

fn dump(net: &Network) -> String {
    net.events
        .iter()
        .map(|(t, n, e)| format!("{t} {}: {e:?}", net.nodes[*n].name))
        .collect::<Vec<_>>()
        .join("\n")
}

fn start_ping(net: &mut Network, n: NodeId, dst: &str, interval_ms: u64) {
    let now = net.now;
    let node = &mut net.nodes[n];
    node.dataplane
        .start_ping(
            &node.engine,
            now,
            ip(dst),
            Duration::from_millis(interval_ms),
            0x4242 + n as u16,
        )
        .unwrap();
}

fn stop_ping(net: &mut Network, n: NodeId) -> PingStats {
    let now = net.now;
    net.nodes[n].dataplane.stop_ping(now).unwrap()
}

fn esp_errors(net: &Network, n: NodeId) -> Vec<EspError> {
    net.events_of(n)
        .filter_map(|e| match e {
            EngineEvent::EspError { error, .. } => Some(error.clone()),
            _ => None,
        })
        .collect()
}

/// Ping both ways at once for one second; both see every reply (bar the ones in flight
/// at the stop) with the round-trip time of the network (2 x 10 ms).
fn ping_both_ways(esp: &str) {
    let mut net = lab(&["192.0.2.10"], &["192.0.2.1"], esp, true);
    up(&mut net);
    // MOBIKE floats IKE to the NAT-T port: ESP goes UDP-encapsulated there
    assert_eq!(established(&net, I).path.local.port(), 4500);
    let esn = established(&net, I).children[0].proposal.esn;
    assert_eq!(esn, Some(esp.ends_with("-esn")), "{esn:?}");
    start_ping(&mut net, I, "10.1.0.1", 10);
    start_ping(&mut net, R, "10.2.0.1", 10);
    net.run_for(Duration::from_secs(1));
    for n in [I, R] {
        let s = stop_ping(&mut net, n);
        assert!(s.sent >= 100, "{esp}: {s}");
        assert_eq!(s.lost, 0, "{esp}: {s}");
        // at most the two requests still on their way when we stopped
        assert!(s.received + 2 >= s.sent, "{esp}: {s}");
        assert_eq!(s.rtt_min, Some(Duration::from_millis(20)), "{s}");
        assert_eq!(s.rtt_max, Some(Duration::from_millis(20)), "{s}");
        assert!(esp_errors(&net, n).is_empty(), "{:?}", esp_errors(&net, n));
        assert!(net.esp_send_errors.is_empty(), "{:?}", net.esp_send_errors);
        let spi = established(&net, n).children[0].spi_in;
        let c = net.nodes[n].engine.esp_sa(spi).unwrap().counters;
        // our requests and our answers to the peer's
        assert_eq!(c.sent, s.sent + net.nodes[n].dataplane.answered, "{c:?}");
        assert_eq!(c.integrity_failures + c.replayed + c.unexpected_path, 0);
    }
    // on the wire: ESP without marker, from and to the NAT-T port
    let esp_pkts: Vec<_> = net.log.iter().filter(|c| c.esp).collect();
    assert!(esp_pkts.len() >= 400, "{}", esp_pkts.len());
    assert!(esp_pkts
        .iter()
        .all(|c| !c.non_esp_marker && c.sent.local.port() == 4500 && c.sent.remote.port() == 4500));
    // and the inner packets really are encrypted: no echo pattern in the clear
    assert!(esp_pkts
        .iter()
        .all(|c| !c.bytes.windows(9).any(|w| w == b"mobikectl")));
}

#[test]
fn ping_through_child_sa_aes_gcm() {
    ping_both_ways("aes128gcm16");
}

#[test]
fn ping_through_child_sa_aes_cbc_hmac_sha256() {
    ping_both_ways("aes256-sha256");
}

#[test]
fn ping_through_child_sa_chacha20_poly1305() {
    ping_both_ways("chacha20poly1305");
}

#[test]
fn ping_through_child_sa_aes_gcm_with_esn() {
    ping_both_ways("aes256gcm16-esn");
}

#[test]
fn without_udp_encapsulation_send_esp_says_so() {
    // no MOBIKE, no NAT: IKE stays on port 500 and ESP would have to be raw
    let mut net = lab(&["192.0.2.10"], &["192.0.2.1"], "aes128gcm16", false);
    up(&mut net);
    let spi = established(&net, I).children[0].spi_in;
    let now = net.now;
    let pkt = Echo::request(ip("10.2.0.1"), ip("10.1.0.1"), 1, 1, b"x")
        .build()
        .unwrap();
    let err = net.engine(I).send_esp(now, spi, &pkt).unwrap_err();
    assert!(matches!(err, EspError::NeedsUdpEncapsulation(_)), "{err}");
    assert!(
        err.to_string().contains("UDP encapsulation is needed"),
        "{err}"
    );
    assert!(err.to_string().contains("MOBIKE"), "{err}");
    // nothing was queued, and the sequence number was not used up
    assert!(net.engine(I).poll_transmit().is_none());
    assert!(net.engine(I).esp_sa(spi).is_none_or(|e| e.seq_out() == 0));
}

/// An ESP packet the network delivered to `to`, and the path it arrived on.
fn delivered_esp(net: &Network, to: NodeId) -> (Vec<u8>, Path) {
    net.delivered_to(to)
        .filter(|(c, _)| c.esp)
        .map(|(c, p)| (c.bytes.clone(), p))
        .last()
        .expect("an ESP packet")
}

#[test]
fn replayed_esp_is_rejected_with_an_event() {
    let mut net = lab(&["192.0.2.10"], &["192.0.2.1"], "aes128gcm16", true);
    up(&mut net);
    start_ping(&mut net, I, "10.1.0.1", 10);
    net.run_for(Duration::from_millis(100));
    stop_ping(&mut net, I);
    net.run_for(Duration::from_millis(100));
    let (bytes, path) = delivered_esp(&net, R);
    let spi = established(&net, R).children[0].spi_in;
    let answered = net.nodes[R].dataplane.answered;
    let now = net.now;
    net.engine(R).handle_esp(now, path, &bytes);
    net.run_for(Duration::from_millis(100));
    let errs = esp_errors(&net, R);
    assert!(
        matches!(
            errs.as_slice(),
            [EspError::Replay {
                reason: ReplayError::Duplicate,
                ..
            }]
        ),
        "{errs:?}"
    );
    let c = net.nodes[R].engine.esp_sa(spi).unwrap().counters;
    assert_eq!(c.replayed, 1);
    // not answered a second time
    assert_eq!(net.nodes[R].dataplane.answered, answered);
}

#[test]
fn tampered_esp_is_rejected_with_an_event() {
    let mut net = lab(&["192.0.2.10"], &["192.0.2.1"], "aes256-sha256", true);
    up(&mut net);
    let spi_r = established(&net, R).children[0].spi_in.to_be_bytes();
    // flip one ciphertext bit of every ESP packet for the responder
    net.tamper = Some(Box::new(move |_, _, b: &[u8]| {
        (b.len() > 40 && b[..4] == spi_r).then(|| {
            let mut v = b.to_vec();
            v[30] ^= 0x01;
            v
        })
    }));
    start_ping(&mut net, I, "10.1.0.1", 10);
    net.run_for(Duration::from_millis(200));
    let s = stop_ping(&mut net, I);
    assert_eq!(s.received, 0, "{s}");
    let errs = esp_errors(&net, R);
    assert!(!errs.is_empty());
    assert!(
        errs.iter().all(|e| *e == EspError::IntegrityFailed),
        "{errs:?}"
    );
    let c = net.nodes[R]
        .engine
        .esp_sa(u32::from_be_bytes(spi_r))
        .unwrap()
        .counters;
    assert_eq!(c.integrity_failures, errs.len() as u64);
    assert_eq!(c.received, 0);
    // garbage and unknown SPIs: events, no panic
    let now = net.now;
    let path = delivered_esp(&net, R).1;
    for junk in [
        &[][..],
        &[1, 2, 3],
        &[0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 1, 9, 9],
    ] {
        net.engine(R).handle_esp(now, path, junk);
    }
    let mut short = spi_r.to_vec();
    short.extend_from_slice(&[0, 0, 0, 9, 1]);
    net.engine(R).handle_esp(now, path, &short);
    net.run_for(Duration::from_millis(10));
    let errs = esp_errors(&net, R);
    assert!(
        errs.contains(&EspError::UnknownSpi(0xdead_beef)),
        "{errs:?}"
    );
    assert!(
        errs.iter()
            .filter(|e| matches!(e, EspError::Malformed(_)))
            .count()
            >= 3,
        "{errs:?}"
    );
}

/// Two addresses on the initiator; the first goes away, MOBIKE moves the SA.
fn move_lab() -> Network {
    let mut net = lab(
        &["192.0.2.10", "198.51.100.10"],
        &["192.0.2.1", "198.51.100.1"],
        "aes128gcm16",
        true,
    );
    up(&mut net);
    net
}

#[test]
fn esp_on_the_old_path_after_a_mobike_move_is_counted_unexpected() {
    let mut net = move_lab();
    let old_path_r = established(&net, R).path;
    net.del_addr(I, ip("192.0.2.10"));
    net.run_for(Duration::from_secs(3));
    let sr = established(&net, R);
    assert_ne!(sr.path, old_path_r);
    assert_eq!(sr.children[0].path, sr.path);
    let spi_r = sr.children[0].spi_in;
    // a fresh (not replayed) packet from the initiator, arriving on the old path as if
    // it had been in flight during the move
    let now = net.now;
    let spi_i = established(&net, I).children[0].spi_in;
    let pkt = Echo::request(ip("10.2.0.1"), ip("10.1.0.1"), 5, 5, b"late")
        .build()
        .unwrap();
    net.engine(I).send_esp(now, spi_i, &pkt).unwrap();
    let t = net.engine(I).poll_transmit().unwrap();
    assert!(t.esp && !t.non_esp_marker);
    net.engine(R).handle_esp(now, old_path_r, &t.bytes);
    net.run_for(Duration::from_millis(100));
    let unexpected: Vec<_> = net
        .events_of(R)
        .filter_map(|e| match e {
            EngineEvent::EspUnexpectedPath { expected, got, .. } => Some((*expected, *got)),
            _ => None,
        })
        .collect();
    assert_eq!(unexpected, vec![(established(&net, R).path, old_path_r)]);
    let c = net.nodes[R].engine.esp_sa(spi_r).unwrap().counters;
    assert_eq!(c.unexpected_path, 1);
    // authentic all the same: delivered and answered on the current path
    assert_eq!(c.received, 1);
    assert_eq!(net.nodes[R].dataplane.answered, 1);
    let answer = net
        .log
        .iter()
        .rfind(|c| c.from == R && c.esp)
        .expect("the answer");
    assert_eq!(answer.sent, established(&net, R).path);
}

#[test]
fn ping_continues_across_a_mobike_move_with_the_outage_measured() {
    let mut net = move_lab();
    start_ping(&mut net, I, "10.1.0.1", 10);
    net.run_for(Duration::from_secs(1));
    let lost_at = net.now;
    net.del_addr(I, ip("192.0.2.10"));
    net.run_for(Duration::from_secs(3));
    let s = stop_ping(&mut net, I);
    assert_eq!(
        established(&net, I).path.local.ip(),
        ip("198.51.100.10"),
        "{}",
        dump(&net)
    );
    let gap = s.longest_gap.unwrap();
    eprintln!("ping across the move: {s}");
    // the gap spans the address loss and ends with a reply on the new path
    assert!(gap.start <= lost_at && gap.end > lost_at, "{s}");
    assert!(!gap.ongoing, "{s}");
    // debounce, probe, UPDATE and the responder's return routability check: well
    // under a second on a 10 ms network, more than a normal interval
    assert!(gap.duration() > Duration::from_millis(10), "{s}");
    assert!(gap.duration() < Duration::from_millis(200), "{s}");
    assert!(s.sent >= 390, "{s}");
    // requests sent into the dead link are lost; everything after the move arrives
    assert!(s.received + s.lost + 2 >= s.sent, "{s}");
    assert!(s.received >= 350, "{s}");
}

#[test]
fn ping_through_a_nat_in_front_of_the_initiator() {
    let mut net = lab(&["10.0.0.2"], &["198.51.100.1"], "chacha20poly1305", false);
    net.reachable = |_, _| true;
    net.nats
        .push(NatBox::new(vec![ip("10.0.0.2")], ip("203.0.113.5"), 40000));
    up(&mut net);
    let sr = established(&net, R);
    assert!(sr.nat_remote);
    assert_eq!(sr.path.remote.ip(), ip("203.0.113.5"));
    start_ping(&mut net, I, "10.1.0.1", 10);
    start_ping(&mut net, R, "10.2.0.1", 10);
    net.run_for(Duration::from_millis(500));
    for n in [I, R] {
        let s = stop_ping(&mut net, n);
        assert!(s.received >= 45 && s.lost == 0, "{s}");
    }
    assert!(esp_errors(&net, R).is_empty());
    // the responder's ESP went to the NAT's public mapping of the initiator's NAT-T port
    let mapped = established(&net, R).path.remote;
    assert_eq!(mapped.ip(), ip("203.0.113.5"));
    let from_r: Vec<_> = net.log.iter().filter(|c| c.from == R && c.esp).collect();
    assert!(!from_r.is_empty());
    assert!(from_r
        .iter()
        .all(|c| c.sent.remote == mapped && c.delivered.is_some()));
}

/// Our DPD requests (empty INFORMATIONAL requests) sent at or after `since`.
fn dpds_sent(net: &Network, n: NodeId, since: Timestamp) -> usize {
    net.events
        .iter()
        .filter(|(t, node, e)| {
            *node == n
                && *t >= since
                && matches!(e, EngineEvent::Sent { info, .. }
                    if info.exchange == 37 && !info.response && info.payloads == "SK{}")
        })
        .count()
}

#[test]
fn rfc4555_3_12_esp_on_the_path_is_liveness_esp_on_another_path_is_not() {
    let mut net = lab(&["192.0.2.10"], &["192.0.2.1"], "aes128gcm16", true);
    net.engine(I).config_mut().connections[0].dpd_delay = Duration::from_secs(1);
    up(&mut net);
    // control: an idle SA gets a DPD every second
    let t0 = net.now;
    net.run_for(Duration::from_millis(3500));
    assert!(dpds_sent(&net, I, t0) >= 3, "{}", dump(&net));
    // the peer's ESP on the SA's path: a sign of life, no DPD needed
    start_ping(&mut net, R, "10.2.0.1", 10);
    net.run_for(Duration::from_millis(1100));
    let t1 = net.now;
    net.run_for(Duration::from_millis(3500));
    assert_eq!(dpds_sent(&net, I, t1), 0, "{}", dump(&net));
    stop_ping(&mut net, R);
    // the same ESP from another path (another port of the peer): delivered, reported,
    // but DPD goes on as if nothing came (RFC 4555 §3.12-should-not-1)
    let spi_r = established(&net, R).children[0].spi_in;
    let path_i = established(&net, I).path;
    let elsewhere = path_i.with_remote_port(path_i.remote.port() + 1);
    let t2 = net.now;
    for k in 0..70u16 {
        let now = net.now;
        let pkt = Echo::request(ip("10.1.0.1"), ip("10.2.0.1"), 9, k, b"stray")
            .build()
            .unwrap();
        net.engine(R).send_esp(now, spi_r, &pkt).unwrap();
        let t = net.engine(R).poll_transmit().unwrap();
        net.engine(I).handle_esp(now, elsewhere, &t.bytes);
        net.run_for(Duration::from_millis(50));
    }
    assert!(dpds_sent(&net, I, t2) >= 3, "{}", dump(&net));
    let spi_i = established(&net, I).children[0].spi_in;
    let c = net.nodes[I].engine.esp_sa(spi_i).unwrap().counters;
    assert_eq!(c.unexpected_path, 70);
}

/// Every truncation and every single-bit flip of valid ESP packets, and garbage after a
/// valid SPI, for block, counter and AEAD ciphers: each gives an `esp_error` event,
/// none is delivered, nothing panics, and the CHILD_SA keeps working.
#[test]
fn no_damaged_esp_packet_is_delivered_or_panics() {
    for esp in [
        "aes128-sha1",
        "aes128ctr-sha256",
        "aes256gcm16-esn",
        "chacha20poly1305",
    ] {
        let mut net = lab(&["192.0.2.10"], &["192.0.2.1"], esp, true);
        up(&mut net);
        let spi_i = established(&net, I).children[0].spi_in;
        let spi_r = established(&net, R).children[0].spi_in;
        let path_r = established(&net, R).path;
        let now = net.now;
        let pkt = Echo::request(ip("10.2.0.1"), ip("10.1.0.1"), 1, 1, b"0123456789")
            .build()
            .unwrap();
        net.engine(I).send_esp(now, spi_i, &pkt).unwrap();
        let valid = net.engine(I).poll_transmit().unwrap().bytes;
        let mut damaged: Vec<Vec<u8>> = (0..valid.len()).map(|n| valid[..n].to_vec()).collect();
        for bit in 0..valid.len() * 8 {
            let mut v = valid.clone();
            v[bit / 8] ^= 1 << (bit % 8);
            damaged.push(v);
        }
        for len in [9, 16, 17, 31, 64, 65, 200] {
            let mut v = spi_r.to_be_bytes().to_vec();
            v.extend((0..len).map(|i| (i * 37 + 11) as u8));
            damaged.push(v);
        }
        for d in &damaged {
            net.engine(R).handle_esp(now, path_r, d);
        }
        let mut delivered = 0;
        let mut errors = 0;
        while let Some(e) = net.engine(R).poll_event() {
            match e {
                EngineEvent::EspReceived { .. } => delivered += 1,
                EngineEvent::EspError { .. } => errors += 1,
                _ => {}
            }
        }
        assert_eq!(delivered, 0, "{esp}");
        assert_eq!(errors, damaged.len(), "{esp}");
        // the undamaged packet still gets through afterwards (the window did not move)
        net.engine(R).handle_esp(now, path_r, &valid);
        let got = std::iter::from_fn(|| net.engine(R).poll_event())
            .filter(|e| matches!(e, EngineEvent::EspReceived { packet, .. } if *packet == pkt))
            .count();
        assert_eq!(got, 1, "{esp}");
    }
}

#[test]
fn probes_come_from_the_virtual_ip_and_it_is_answered() {
    let mut net = lab(&["192.0.2.10"], &["192.0.2.1"], "aes128gcm16", true);
    // "dynamic" selectors on the initiator's side: its virtual IP
    net.engine(I).config_mut().connections[0].request_vip = true;
    net.engine(I).config_mut().connections[0].local_ts = vec![];
    net.engine(R).config_mut().connections[0].vip_pool = vec![ip("10.3.0.1")];
    net.engine(R).config_mut().connections[0].remote_ts = vec![];
    up(&mut net);
    assert_eq!(
        established(&net, I).vip,
        Some(ip("10.3.0.1")),
        "{}",
        dump(&net)
    );
    let c = &established(&net, R).children[0];
    assert_eq!(c.ts_remote, vec![TsRange::host(ip("10.3.0.1"))], "{c:?}");
    start_ping(&mut net, I, "10.1.0.1", 10);
    start_ping(&mut net, R, "10.3.0.1", 10);
    assert_eq!(
        net.nodes[I].dataplane.probe().map(|p| p.src()),
        Some(ip("10.3.0.1"))
    );
    net.run_for(Duration::from_millis(300));
    for n in [I, R] {
        let s = stop_ping(&mut net, n);
        assert!(s.received >= 25 && s.lost == 0, "{s}");
    }
}

#[test]
fn a_virtual_ip_outside_our_selectors_is_not_used_as_the_source() {
    // configured selectors (10.2.0.0/16) win over the virtual IP (10.3.0.1): the CHILD_SA
    // could not carry packets from the virtual IP
    let mut net = lab(&["192.0.2.10"], &["192.0.2.1"], "aes128gcm16", true);
    net.engine(I).config_mut().connections[0].request_vip = true;
    net.engine(R).config_mut().connections[0].vip_pool = vec![ip("10.3.0.1")];
    up(&mut net);
    assert_eq!(established(&net, I).vip, Some(ip("10.3.0.1")));
    start_ping(&mut net, I, "10.1.0.1", 10);
    assert_eq!(
        net.nodes[I].dataplane.probe().map(|p| p.src()),
        Some(ip("10.2.0.1"))
    );
    net.run_for(Duration::from_millis(300));
    let s = stop_ping(&mut net, I);
    assert!(s.received >= 25 && s.lost == 0, "{s}");
}

#[test]
fn inner_packets_outside_the_traffic_selectors_are_neither_sent_nor_accepted() {
    use mobikectl::crypto::esp::{encrypt_esp, EspKeys};
    let mut net = lab(&["192.0.2.10"], &["192.0.2.1"], "aes256-sha256", true);
    up(&mut net);
    let now = net.now;
    let ci = established(&net, I).children[0].clone();
    let spoofed = Echo::request(ip("10.9.0.1"), ip("10.1.0.1"), 1, 1, b"spoof")
        .build()
        .unwrap();
    // outbound: refused before anything is queued
    let err = net
        .engine(I)
        .send_esp(now, ci.spi_in, &spoofed)
        .unwrap_err();
    assert!(matches!(err, EspError::OutsideSelectors(_)), "{err}");
    assert!(net.engine(I).poll_transmit().is_none());
    // inbound: a peer that encrypts it anyway (authentic, fresh sequence number)
    let (encr, integ) = ci.outbound_keys();
    let keys = EspKeys::new(
        ci.proposal.encr,
        ci.proposal.integ,
        encr.to_vec(),
        integ.to_vec(),
        false,
    )
    .unwrap();
    let bytes = encrypt_esp(&keys, ci.spi_out, 77, &[7u8; 16], &spoofed, 4).unwrap();
    let path_r = established(&net, R).path;
    net.engine(R).handle_esp(now, path_r, &bytes);
    net.run_for(Duration::from_millis(50));
    let errs = esp_errors(&net, R);
    assert!(
        matches!(errs.as_slice(), [EspError::OutsideSelectors(w)] if w.starts_with("10.9.0.1 -> 10.1.0.1")),
        "{errs:?}"
    );
    let spi_r = established(&net, R).children[0].spi_in;
    let c = net.nodes[R].engine.esp_sa(spi_r).unwrap().counters;
    assert_eq!((c.outside_selectors, c.received), (1, 0));
    assert_eq!(net.nodes[R].dataplane.answered, 0);
}

#[test]
fn encap_claims_a_nat_so_esp_is_udp_encapsulated_without_mobike() {
    // no MOBIKE, no NAT: with `encap` the initiator's NAT detection claims a NAT, both
    // float to the NAT-T port and ESP travels UDP-encapsulated (strongSwan `encap = yes`)
    let mut net = lab(&["192.0.2.10"], &["192.0.2.1"], "aes128gcm16", false);
    if let Some(c) = net.nodes[I].engine.config_mut().connections.first_mut() {
        c.encap = true;
    }
    up(&mut net);
    let si = established(&net, I);
    assert_eq!(si.path.local.port(), 4500, "{si:#?}");
    assert!(
        !si.nat_local && !si.nat_remote,
        "no real NAT seen by the claimant"
    );
    assert!(
        established(&net, R).nat_remote,
        "the responder believes the claim"
    );
    start_ping(&mut net, I, "10.1.0.1", 10);
    net.run_for(Duration::from_millis(500));
    let stats = stop_ping(&mut net, I);
    assert!(stats.received >= 45, "{stats:?}");
    assert!(esp_errors(&net, I).is_empty() && esp_errors(&net, R).is_empty());
}

/// The initiator's pings through a NAT that forgets its mapping: the next ESP arrives at
/// the gateway from a new public port, and the gateway's SA (without MOBIKE: nothing
/// else would tell it) follows so its replies reach the initiator again.
#[test]
fn rfc4555_3_8_may_3_esp_from_a_rebound_nat_port_moves_the_gateway() {
    let mut net = lab(&["10.0.0.2"], &["198.51.100.1"], "aes128gcm16", false);
    net.reachable = |_, _| true;
    net.nats
        .push(NatBox::new(vec![ip("10.0.0.2")], ip("203.0.113.5"), 40000));
    up(&mut net);
    let before = established(&net, R).path.remote;
    start_ping(&mut net, I, "10.1.0.1", 10);
    net.run_for(Duration::from_millis(200));
    net.nats[0].rebind();
    net.run_for(Duration::from_millis(300));
    let s = stop_ping(&mut net, I);
    let after = established(&net, R).path.remote;
    assert_eq!(after.ip(), before.ip());
    assert_ne!(after.port(), before.port(), "followed the new mapping");
    let sr = established(&net, R);
    assert!(sr.children.iter().all(|c| c.path == sr.path));
    // replies resumed: at most a few lost around the rebinding
    assert!(s.received >= 40, "{s}");
    assert!(net.events_of(R).any(|e| matches!(
        e,
        EngineEvent::Moved {
            cause: MoveCause::NatFollow,
            ..
        }
    )));
}

/// Authenticated ESP from another address (the NAT's public address changed, not just its
/// port) is delivered and counted, never followed: only IKE (an UPDATE) may move to
/// another address (RFC 4555 §3.12).
#[test]
fn rfc4555_3_8_may_3_esp_from_another_address_is_not_followed() {
    let mut net = lab(&["10.0.0.2"], &["198.51.100.1"], "aes128gcm16", false);
    net.reachable = |_, _| true;
    net.nats
        .push(NatBox::new(vec![ip("10.0.0.2")], ip("203.0.113.5"), 40000));
    up(&mut net);
    let before = established(&net, R).path;
    net.nats[0].outside = ip("203.0.113.77");
    net.nats[0].rebind();
    start_ping(&mut net, I, "10.1.0.1", 10);
    net.run_for(Duration::from_millis(200));
    stop_ping(&mut net, I);
    assert_eq!(established(&net, R).path, before);
    assert!(!net
        .events_of(R)
        .any(|e| matches!(e, EngineEvent::Moved { .. })));
    assert!(net
        .events_of(R)
        .any(|e| matches!(e, EngineEvent::EspUnexpectedPath { .. })));
}
