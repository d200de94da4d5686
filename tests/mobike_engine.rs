//! MOBIKE (RFC 4555) between two engines on the in-memory network of
//! `mobikectl::netsim`, which routes by destination address, takes links down, makes
//! black holes and runs NAT boxes that rebind. Tests are named after the ledger IDs of
//! `docs/mobike-ledger.md`.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use mobikectl::engine::{
    Command, Config, ConnConfig, Engine, EngineEvent, Identity, IkeSa, IkeState, MoveCause, Path,
    SaId, SeededRandom, Timestamp, TsRange,
};
use mobikectl::netsim::{NatBox, Network, NodeId};

const PSK: &[u8] = b"mobike-engine-test-psk";
const I: NodeId = 0;
const R: NodeId = 1;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Initiator "carol" with `i_addrs` (the first initiates) to responder "moon" with
/// `r_addrs`, both on ports 500/4500.
fn lab(i_addrs: &[&str], r_addrs: &[&str], tweak: impl Fn(&mut Config, &mut Config)) -> Network {
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
    ci.remote_ts = vec![TsRange::parse("10.1.0.0/16").unwrap()];
    // a protected subnet of its own: "dynamic" selectors would name the moving address
    ci.local_ts = vec![TsRange::parse("10.2.0.0/16").unwrap()];
    let any = if ra[0].is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let mut cr = ConnConfig::new(
        "rw",
        any.parse().unwrap(),
        any.parse().unwrap(),
        Identity::parse("moon.example.org").unwrap(),
        PSK,
    );
    cr.local_ts = vec![TsRange::parse("10.1.0.0/16").unwrap()];
    cr.remote_ts = vec![TsRange::parse("10.2.0.0/16").unwrap()];
    let mut cfg_i = Config {
        connections: vec![ci],
        ..Config::default()
    };
    let mut cfg_r = Config {
        connections: vec![cr],
        ..Config::default()
    };
    tweak(&mut cfg_i, &mut cfg_r);
    let mut ei = Engine::new(cfg_i, Box::new(SeededRandom::new(1)));
    let mut er = Engine::new(cfg_r, Box::new(SeededRandom::new(2)));
    let t0 = Timestamp::from_secs(1000);
    ei.set_local_addrs(t0, &ia);
    er.set_local_addrs(t0, &ra);
    let mut net = Network::new(t0);
    net.reachable = mobikectl::netsim::same_subnet;
    net.add("carol", ei, &ia);
    net.add("moon", er, &ra);
    net
}

fn up(net: &mut Network) -> (SaId, SaId) {
    let now = net.now;
    let id = net
        .engine(I)
        .command(now, Command::Up("home".into()))
        .unwrap()
        .unwrap();
    net.run_for(Duration::from_secs(2));
    let r = established(net, R).id;
    assert_eq!(established(net, I).state, IkeState::Established);
    (id, r)
}

fn established(net: &Network, n: NodeId) -> &IkeSa {
    let sas: Vec<&IkeSa> = net.nodes[n]
        .engine
        .sas()
        .filter(|s| s.state == IkeState::Established)
        .collect();
    assert_eq!(
        sas.len(),
        1,
        "{}: {sas:#?}\n{}",
        net.nodes[n].name,
        dump(net)
    );
    sas[0]
}

/// Every event, for failure messages.
fn dump(net: &Network) -> String {
    net.events
        .iter()
        .map(|(t, n, e)| format!("{t} {}: {e:?}", net.nodes[*n].name))
        .collect::<Vec<_>>()
        .join("\n")
}

fn moves(net: &Network, n: NodeId) -> Vec<(Path, Path, MoveCause, Duration, bool)> {
    net.events_of(n)
        .filter_map(|e| match e {
            EngineEvent::Moved {
                old,
                new,
                cause,
                elapsed,
                children,
                ..
            } => Some((*old, *new, *cause, *elapsed, *children)),
            _ => None,
        })
        .collect()
}

fn sent_payloads(net: &Network, n: NodeId) -> Vec<String> {
    net.events_of(n)
        .filter_map(|e| match e {
            EngineEvent::Sent { info, .. } => Some(info.payloads.clone()),
            _ => None,
        })
        .collect()
}

fn downs(net: &Network, n: NodeId) -> Vec<String> {
    net.events_of(n)
        .filter_map(|e| match e {
            EngineEvent::IkeDown { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect()
}

/// Both ends agree on the path (mirror images) and every CHILD_SA uses it.
fn assert_on_path(net: &Network, local_i: &str, remote_i: &str) {
    let si = established(net, I);
    let sr = established(net, R);
    assert_eq!(si.path.local.ip(), ip(local_i), "{si:#?}");
    assert_eq!(si.path.remote.ip(), ip(remote_i), "{si:#?}");
    assert_eq!(sr.path.remote, si.path.local, "responder's view");
    assert_eq!(sr.path.local, si.path.remote, "responder's view");
    for c in si.children.iter().chain(&sr.children) {
        assert!(c.path == si.path || c.path == sr.path, "{c:?}");
    }
}

#[test]
fn rfc4555_3_4_may_1_both_announce_their_other_addresses_in_ike_auth() {
    let mut net = lab(
        &["192.0.2.10", "198.51.100.10"],
        &["192.0.2.1", "203.0.113.1"],
        |_, _| {},
    );
    up(&mut net);
    let req = sent_payloads(&net, I);
    assert!(
        req.iter()
            .any(|p| p.contains("N(MOBIKE_SUPPORTED) N(ADDITIONAL_IP4_ADDRESS)")),
        "{req:?}"
    );
    let resp = sent_payloads(&net, R);
    assert!(
        resp.iter().any(|p| p.contains("N(ADDITIONAL_IP4_ADDRESS)")),
        "the responder announces its second address: {resp:?}"
    );
    let si = established(&net, I);
    assert!(si.peer_mobike);
    assert_eq!(si.remote_addrs, vec![ip("192.0.2.1"), ip("203.0.113.1")]);
    let sr = established(&net, R);
    assert_eq!(sr.remote_addrs, vec![ip("192.0.2.10"), ip("198.51.100.10")]);
}

#[test]
fn rfc4555_3_4_proc_1_no_list_when_there_is_no_other_address() {
    let mut net = lab(&["192.0.2.10"], &["192.0.2.1"], |_, _| {});
    up(&mut net);
    for p in sent_payloads(&net, I).iter().chain(&sent_payloads(&net, R)) {
        assert!(!p.contains("ADDITIONAL"), "{p}");
    }
    // and nothing happens after IKE_AUTH (a list causes no action at receipt)
    let n = net.log.len();
    net.run_for(Duration::from_secs(30));
    assert_eq!(net.log.len(), n);
}

/// The defect found against strongSwan: UPDATE_SA_ADDRESSES got an empty response.
#[test]
fn rfc4555_3_7_must_1_update_response_echoes_cookie2_with_nat_detection() {
    let mut net = lab(
        &["192.0.2.10", "198.51.100.10"],
        &["192.0.2.1", "198.51.100.1"],
        |_, r| r.mobike.return_routability = mobikectl::engine::ReturnRoutability::Never,
    );
    let (i, _) = up(&mut net);
    net.del_addr(I, ip("192.0.2.10"));
    net.run_for(Duration::from_secs(5));
    // the responder answered the UPDATE with NAT detection and the echoed COOKIE2
    let resp = sent_payloads(&net, R);
    assert!(
        resp.iter()
            .any(|p| p
                == "SK{N(NAT_DETECTION_SOURCE_IP) N(NAT_DETECTION_DESTINATION_IP) N(COOKIE2)}"),
        "{resp:?}"
    );
    assert!(downs(&net, I).is_empty(), "{:?}", downs(&net, I));
    assert_eq!(established(&net, I).id, i);
    assert_on_path(&net, "198.51.100.10", "198.51.100.1");
    let m = moves(&net, R);
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(m[0].2, MoveCause::UpdateReceived);
    assert!(m[0].4, "children moved at once with policy never");
}

#[test]
fn rfc4555_3_5_proc_i_address_loss_probes_moves_and_updates() {
    let mut net = lab(
        &["192.0.2.10", "198.51.100.10"],
        &["192.0.2.1", "198.51.100.1"],
        |_, _| {},
    );
    up(&mut net);
    let t0 = net.now;
    net.del_addr(I, ip("192.0.2.10"));
    net.run_for(Duration::from_secs(5));
    let m = moves(&net, I);
    assert_eq!(m.len(), 1, "{m:?}");
    let (old, new, cause, elapsed, children) = m[0];
    assert_eq!(old.local.ip(), ip("192.0.2.10"));
    assert_eq!(new.local.ip(), ip("198.51.100.10"));
    assert_eq!(cause, MoveCause::AddressLost);
    assert!(children);
    // debounce + one round trip (2 x 10 ms)
    assert!(elapsed <= Duration::from_millis(25), "{elapsed:?}");
    // the probe went to every candidate pair from the remaining address
    let probes: Vec<Path> = net
        .log
        .iter()
        .filter(|c| c.from == I && c.at >= t0 && c.sent.local.ip() == ip("198.51.100.10"))
        .map(|c| c.sent)
        .collect();
    assert!(probes.len() >= 2, "{probes:?}");
    // then UPDATE_SA_ADDRESSES with NAT detection and COOKIE2 on the new path
    let upd = sent_payloads(&net, I);
    assert!(
        upd.iter().any(|p| p.starts_with(
            "SK{N(UPDATE_SA_ADDRESSES) N(NAT_DETECTION_SOURCE_IP) N(NAT_DETECTION_DESTINATION_IP) N(COOKIE2)"
        )),
        "{upd:?}"
    );
    // the responder: IKE SA at once, CHILD_SAs after the return routability check
    let mr = moves(&net, R);
    assert_eq!(mr.len(), 2, "{mr:?}");
    assert!(!mr[0].4 && mr[1].4, "{mr:?}");
    assert!(net
        .events_of(R)
        .any(|e| matches!(e, EngineEvent::RrCheck { ok: true, .. })));
    assert_on_path(&net, "198.51.100.10", "198.51.100.1");
    for n in [I, R] {
        let sa = established(&net, n);
        assert!(sa.children.iter().all(|c| c.path == sa.path));
    }
}

#[test]
fn rfc4555_3_7_may_1_rr_policy_never_moves_children_at_once() {
    let mut net = lab(
        &["192.0.2.10", "198.51.100.10"],
        &["192.0.2.1", "198.51.100.1"],
        |_, r| r.mobike.return_routability = mobikectl::engine::ReturnRoutability::Never,
    );
    up(&mut net);
    net.del_addr(I, ip("192.0.2.10"));
    net.run_for(Duration::from_secs(5));
    assert!(!net
        .events_of(R)
        .any(|e| matches!(e, EngineEvent::RrCheck { .. })));
    let mr = moves(&net, R);
    assert_eq!(mr.len(), 1);
    assert!(mr[0].4);
}

#[test]
fn rfc4555_3_7_should_1_unannounced_policy_checks_only_unknown_addresses() {
    let mut net = lab(
        &["192.0.2.10", "198.51.100.10"],
        &["192.0.2.1", "198.51.100.1"],
        |_, r| r.mobike.return_routability = mobikectl::engine::ReturnRoutability::Unannounced,
    );
    up(&mut net);
    // 198.51.100.10 was announced in IKE_AUTH: no check
    net.del_addr(I, ip("192.0.2.10"));
    net.run_for(Duration::from_secs(5));
    assert!(!net
        .events_of(R)
        .any(|e| matches!(e, EngineEvent::RrCheck { .. })));
    // an address that was never announced: checked
    net.add_addr(I, ip("203.0.113.77"));
    net.run_for(Duration::from_millis(100));
    net.del_addr(I, ip("198.51.100.10"));
    net.run_for(Duration::from_secs(5));
    let _ = net;
}

#[test]
fn rfc4555_3_8_must_not_1_probe_from_another_address_changes_nothing() {
    let mut net = lab(
        &["192.0.2.10", "198.51.100.10"],
        &["192.0.2.1", "198.51.100.1"],
        |_, _| {},
    );
    let (i, _) = up(&mut net);
    let before_r = established(&net, R).path;
    let now = net.now;
    net.engine(I).command(now, Command::Probe(i)).unwrap();
    net.run_for(Duration::from_secs(5));
    // every pair answered, nobody moved
    let ok = net
        .events_of(I)
        .filter(|e| {
            matches!(
                e,
                EngineEvent::Path {
                    state: mobikectl::engine::PathState::Ok,
                    ..
                }
            )
        })
        .count();
    assert!(ok >= 2, "{ok} paths answered");
    assert!(moves(&net, I).is_empty() && moves(&net, R).is_empty());
    assert_eq!(established(&net, R).path, before_r);
    // the responder answered each copy on the path it came in on (RFC 4555 §3.5)
    for (c, seen) in net.delivered_to(I) {
        if c.from == R {
            assert!(
                established(&net, R).path.local.ip() == c.sent.local.ip()
                    || seen.remote.ip() != before_r.local.ip()
            );
        }
    }
}

#[test]
fn rfc4555_2_1_proc_1_black_hole_of_the_current_path_moves_within_15_s() {
    let mut net = lab(
        &["192.0.2.10", "198.51.100.10"],
        &["192.0.2.1", "198.51.100.1"],
        |i, _| i.connections[0].dpd_delay = Duration::from_secs(2),
    );
    up(&mut net);
    net.blackholes.insert((ip("192.0.2.10"), ip("192.0.2.1")));
    net.run_for(Duration::from_secs(30));
    let m = moves(&net, I);
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(m[0].2, MoveCause::PathFailed);
    // measured from the first unanswered request
    assert!(m[0].3 <= Duration::from_secs(15), "{:?}", m[0].3);
    assert_on_path(&net, "198.51.100.10", "198.51.100.1");
    assert!(downs(&net, I).is_empty());
}

#[test]
fn rfc4555_3_8_should_2_nat_rebinding_seen_by_dpd_triggers_update() {
    let mut net = lab(&["10.0.0.2"], &["198.51.100.1"], |i, _| {
        i.connections[0].dpd_delay = Duration::from_secs(5)
    });
    net.nats
        .push(NatBox::new(vec![ip("10.0.0.2")], ip("203.0.113.5"), 40000));
    net.reachable = |_, _| true; // through the NAT
    up(&mut net);
    assert!(established(&net, I).nat_local);
    let first = established(&net, R).path.remote;
    net.run_for(Duration::from_secs(6)); // one DPD stores the mapping
    net.nats[0].rebind();
    let t = net.now;
    net.run_for(Duration::from_secs(12));
    let changed = net.events_of(I).any(|e| {
        matches!(
            e,
            EngineEvent::Nat {
                mapping_changed: true,
                ..
            }
        )
    });
    assert!(changed);
    let now_r = established(&net, R).path.remote;
    assert_ne!(now_r, first, "the responder follows the new mapping");
    assert_eq!(now_r.ip(), ip("203.0.113.5"));
    let mr = moves(&net, R);
    assert!(!mr.is_empty());
    // at most the DPD interval plus two round trips (and the NAT's first packet)
    let _ = t;
    assert!(downs(&net, I).is_empty() && downs(&net, R).is_empty());
}

#[test]
fn rfc4555_3_6_proc_1_ipv6_to_ipv4_switch() {
    let mut net = lab(
        &["2001:db8:1::10", "192.0.2.10"],
        &["2001:db8:1::1", "192.0.2.1"],
        |_, _| {},
    );
    up(&mut net);
    assert!(established(&net, I).path.local.is_ipv6());
    net.del_addr(I, ip("2001:db8:1::10"));
    net.run_for(Duration::from_secs(5));
    assert_on_path(&net, "192.0.2.10", "192.0.2.1");
}

#[test]
fn rfc4555_3_6_proc_2_responder_whose_address_went_away_moves_and_announces() {
    let mut net = lab(
        &["192.0.2.10", "198.51.100.10"],
        &["192.0.2.1", "198.51.100.1"],
        |_, _| {},
    );
    up(&mut net);
    net.del_addr(R, ip("192.0.2.1"));
    net.run_for(Duration::from_secs(5));
    let si = established(&net, I);
    let sr = established(&net, R);
    assert_eq!(sr.path.local.ip(), ip("198.51.100.1"));
    assert_eq!(si.path.remote.ip(), ip("198.51.100.1"));
    assert!(!moves(&net, R).is_empty() && !moves(&net, I).is_empty());
    assert!(downs(&net, I).is_empty() && downs(&net, R).is_empty());
}

#[test]
fn rfc4555_3_5_proc_i_request_in_flight_is_resent_on_the_new_path() {
    let mut net = lab(
        &["192.0.2.10", "198.51.100.10"],
        &["192.0.2.1", "198.51.100.1"],
        |_, _| {},
    );
    let (i, _) = up(&mut net);
    let spi = established(&net, I).children[0].spi_in;
    let now = net.now;
    net.engine(I)
        .command(now, Command::RekeyChild(i, spi))
        .unwrap();
    // the address goes while the CREATE_CHILD_SA request is in flight
    net.del_addr(I, ip("192.0.2.10"));
    net.run_for(Duration::from_secs(10));
    assert!(
        net.events_of(I)
            .any(|e| matches!(e, EngineEvent::Rekeyed { .. })),
        "{}",
        dump(&net)
    );
    assert_on_path(&net, "198.51.100.10", "198.51.100.1");
    assert_eq!(established(&net, I).children.len(), 1);
}

#[test]
fn rfc4555_3_5_three_child_sas_all_move() {
    let mut net = lab(
        &["192.0.2.10", "198.51.100.10"],
        &["192.0.2.1", "198.51.100.1"],
        |_, _| {},
    );
    let (i, _) = up(&mut net);
    for _ in 0..2 {
        let now = net.now;
        net.engine(I).command(now, Command::CreateChild(i)).unwrap();
        net.run_for(Duration::from_secs(1));
    }
    assert_eq!(established(&net, I).children.len(), 3);
    net.del_addr(I, ip("192.0.2.10"));
    net.run_for(Duration::from_secs(5));
    assert_on_path(&net, "198.51.100.10", "198.51.100.1");
    for n in [I, R] {
        let sa = established(&net, n);
        assert_eq!(sa.children.len(), 3);
        assert!(sa.children.iter().all(|c| c.path == sa.path), "{sa:#?}");
    }
}

#[test]
fn rfc4555_3_5_mobike_initiator_role_survives_a_responder_ike_rekey() {
    let mut net = lab(
        &["192.0.2.10", "198.51.100.10"],
        &["192.0.2.1", "198.51.100.1"],
        |_, _| {},
    );
    let (_, r) = up(&mut net);
    let now = net.now;
    net.engine(R).command(now, Command::RekeyIke(r)).unwrap();
    net.run_for(Duration::from_secs(5));
    let si = established(&net, I);
    assert!(!si.initiator && si.original_initiator);
    net.del_addr(I, ip("192.0.2.10"));
    net.run_for(Duration::from_secs(5));
    assert!(sent_payloads(&net, I)
        .iter()
        .any(|p| p.contains("N(UPDATE_SA_ADDRESSES)")));
    assert!(!sent_payloads(&net, R)
        .iter()
        .any(|p| p.contains("N(UPDATE_SA_ADDRESSES)")));
    assert_on_path(&net, "198.51.100.10", "198.51.100.1");
}

#[test]
fn rfc7296_2_4_initial_contact_only_for_the_first_sa_and_acted_on() {
    let mut net = lab(&["192.0.2.10"], &["192.0.2.1"], |_, _| {});
    up(&mut net);
    let now = net.now;
    net.engine(I)
        .command(now, Command::Up("home".into()))
        .unwrap();
    net.run_for(Duration::from_secs(2));
    let auths: Vec<String> = sent_payloads(&net, I)
        .into_iter()
        .filter(|p| p.contains("IDi"))
        .collect();
    assert_eq!(auths.len(), 2);
    assert!(auths[0].contains("INITIAL_CONTACT"));
    assert!(!auths[1].contains("INITIAL_CONTACT"), "{}", auths[1]);
    // both SAs live on both sides
    assert_eq!(net.nodes[R].engine.sas().count(), 2);
    // carol restarts: her first SA carries INITIAL_CONTACT, moon's stale SAs go
    let cfg = net.nodes[I].engine.config().clone();
    net.nodes[I].engine = Engine::new(cfg, Box::new(SeededRandom::new(3)));
    let now = net.now;
    net.engine(I)
        .command(now, Command::Up("home".into()))
        .unwrap();
    net.run_for(Duration::from_secs(2));
    let gone = net
        .events_of(R)
        .filter(|e| matches!(e, EngineEvent::IkeDown { reason, .. } if reason.contains("INITIAL_CONTACT")))
        .count();
    assert_eq!(gone, 2, "{}", dump(&net));
    assert_eq!(net.nodes[R].engine.sas().count(), 1);
}

#[test]
fn engine_floats_on_configured_ports_not_only_500_4500() {
    let mut net = lab(&["192.0.2.10"], &["192.0.2.1"], |i, r| {
        for c in [&mut *i, &mut *r] {
            c.nat_t_port = 14500;
        }
        i.connections[0].local.set_port(1500);
        i.connections[0].remote.set_port(1500);
        i.connections[0].remote_nat_t_port = 14500;
        r.connections[0].remote_nat_t_port = 14500;
    });
    up(&mut net);
    let si = established(&net, I);
    assert_eq!(si.path.local.port(), 14500);
    assert_eq!(si.path.remote.port(), 14500);
    assert!(net
        .log
        .iter()
        .any(|c| c.sent.local.port() == 14500 && c.non_esp_marker));
}
