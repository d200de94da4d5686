//! MOBIKE (RFC 4555) between two engines on the in-memory network of
//! `mobikectl::netsim`, which routes by destination address, takes links down, makes
//! black holes and runs NAT boxes that rebind. Tests are named after the ledger IDs of
//! `docs/mobike-ledger.md`.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use mobikectl::analysis::{AnalysisEvent, Analyzer, EventKind, ObservedMessage};
use mobikectl::crypto::{decrypt_sk, encrypt_sk, SkContent, SkKeys};
use mobikectl::engine::{
    Command, Config, ConnConfig, Engine, EngineEvent, Identity, IkeSa, IkeState, MoveCause, Path,
    PathHint, SaId, SeededRandom, Timestamp, TsRange,
};
use mobikectl::netsim::{NatBox, Network, NodeId};
use mobikectl::wire::{
    emit_payload_chain, notify_type as nt, parse_payload_chain, payload_type, Message, NotifyData,
    Payload, PayloadBody,
};

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
    // the UPDATE carried our (now empty) address list, and the responder applied it with
    // the update (RFC 4555 §3.6 MAY)
    assert!(upd
        .iter()
        .any(|p| p.contains("N(UPDATE_SA_ADDRESSES)") && p.contains("N(NO_ADDITIONAL_ADDRESSES)")));
    assert_eq!(established(&net, R).remote_addrs, vec![ip("198.51.100.10")]);
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
    assert!(moves(&net, R).iter().all(|m| m.4), "children moved at once");

    // behind a NAT the UPDATE comes from an address carol never announced: checked
    let mut net = lab(&["192.0.2.10", "10.0.0.2"], &["192.0.2.1"], |_, r| {
        r.mobike.return_routability = mobikectl::engine::ReturnRoutability::Unannounced
    });
    net.reachable = |_, _| true;
    net.nats
        .push(NatBox::new(vec![ip("10.0.0.2")], ip("203.0.113.5"), 40000));
    up(&mut net);
    assert!(!established(&net, R)
        .remote_addrs
        .contains(&ip("203.0.113.5")));
    net.del_addr(I, ip("192.0.2.10"));
    net.run_for(Duration::from_secs(5));
    let rr: Vec<(Path, bool)> = net
        .events_of(R)
        .filter_map(|e| match e {
            EngineEvent::RrCheck { path, ok, .. } => Some((*path, *ok)),
            _ => None,
        })
        .collect();
    assert_eq!(rr.len(), 1, "{}", dump(&net));
    assert!(rr[0].1);
    assert_eq!(rr[0].0.remote.ip(), ip("203.0.113.5"));
    let sr = established(&net, R);
    assert!(sr.children.iter().all(|c| c.path == sr.path));
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
    oracle_agrees(&net);
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
    // at most the DPD interval (5 s) plus two round trips
    let moved_at = net
        .events
        .iter()
        .find(|(_, n, e)| *n == R && matches!(e, EngineEvent::Moved { .. }))
        .map(|(at, _, _)| *at)
        .unwrap();
    assert!(moved_at.saturating_since(t) <= Duration::from_millis(5_000 + 40));
    assert!(downs(&net, I).is_empty() && downs(&net, R).is_empty());
    oracle_agrees(&net);
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

/// The same with an IKE SA rekey in flight: the resent CREATE_CHILD_SA is the probe, its
/// answer moves the SA and completes the rekey, and the old IKE SA is deleted at once.
/// The UPDATE_SA_ADDRESSES the move owes the responder must then go on the new IKE SA:
/// queued on the old one (as it was) it died with it, and the responder (strongSwan
/// too) kept the new IKE SA and its CHILD_SAs on the lost address.
#[test]
fn rfc4555_3_5_proc_i_ike_rekey_in_flight_update_follows_the_new_ike_sa() {
    let mut net = lab(
        &["192.0.2.10", "198.51.100.10"],
        &["192.0.2.1", "198.51.100.1"],
        |_, _| {},
    );
    let (i, _) = up(&mut net);
    let now = net.now;
    net.engine(I).command(now, Command::RekeyIke(i)).unwrap();
    // the address goes while the CREATE_CHILD_SA request is in flight
    net.del_addr(I, ip("192.0.2.10"));
    net.run_for(Duration::from_secs(10));
    assert!(
        net.events_of(I).any(|e| matches!(
            e,
            EngineEvent::Rekeyed {
                rekey: mobikectl::engine::Rekey::Ike { .. },
                ..
            }
        )),
        "{}",
        dump(&net)
    );
    assert_ne!(established(&net, I).id, i, "the new IKE SA");
    assert!(
        sent_payloads(&net, I)
            .iter()
            .any(|p| p.contains("N(UPDATE_SA_ADDRESSES)")),
        "{}",
        dump(&net)
    );
    assert_on_path(&net, "198.51.100.10", "198.51.100.1");
    assert_eq!(established(&net, I).children.len(), 1);
    assert_eq!(established(&net, R).children.len(), 1);
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
    let first = established(&net, R);
    let known = [(first.spi_i, first.spi_r, first.sk.clone().unwrap())];
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
    oracle_agrees_with(&net, &known);
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

/// Rewrite the inner payloads of a protected message with `f` (keys of the SA, the
/// message's direction); messages `f` declines are left as they are.
fn rewrite_inner(
    sk: &mobikectl::crypto::SkKeys,
    bytes: &[u8],
    f: &mut dyn FnMut(&mut Vec<Payload<'static>>) -> bool,
) -> Option<Vec<u8>> {
    let m = Message::parse(bytes).ok()?;
    let skp = m.payloads.last()?;
    if skp.payload_type != payload_type::SK {
        return None;
    }
    let from_i = m.header.is_initiator();
    let d = decrypt_sk(sk, from_i, bytes, skp.offset).ok()?;
    let first = match &skp.body {
        PayloadBody::Sk(s) => s.next_payload,
        _ => return None,
    };
    let (inner, _) = parse_payload_chain(first, &d.plaintext, 0).ok()?;
    let mut inner: Vec<Payload<'static>> = inner.into_iter().map(Payload::into_owned).collect();
    if !f(&mut inner) {
        return None;
    }
    let mut plain = Vec::new();
    emit_payload_chain(&inner, &mut plain);
    let mut h = m.header;
    h.length = 0;
    let mut prefix = Vec::new();
    h.emit_into(&mut prefix);
    let iv = vec![9u8; sk.encr.iv_len()];
    encrypt_sk(
        sk,
        from_i,
        &prefix,
        &SkContent {
            next_payload: inner.first().map_or(0, |p| p.payload_type),
            payloads: &plain,
            fragment: None,
            extra_pad_blocks: 0,
        },
        &iv,
    )
    .ok()
}

fn is_response(bytes: &[u8]) -> bool {
    Message::parse(bytes).is_ok_and(|m| m.header.is_response())
}

fn two_path_lab(tweak: impl Fn(&mut Config, &mut Config)) -> Network {
    lab(
        &["192.0.2.10", "198.51.100.10"],
        &["192.0.2.1", "198.51.100.1"],
        tweak,
    )
}

#[test]
fn rfc4555_3_7_must_3_cookie2_mismatch_closes_sa() {
    let mut net = two_path_lab(|_, _| {});
    up(&mut net);
    let sk = established(&net, R).sk.clone().unwrap();
    // moon's answer to the UPDATE carries another COOKIE2 than carol sent
    net.tamper = Some(Box::new(move |from, _, bytes| {
        if from != R || !is_response(bytes) {
            return None;
        }
        rewrite_inner(&sk, bytes, &mut |p| {
            let Some(n) = p.iter_mut().find_map(|x| match &mut x.body {
                PayloadBody::Notify(n) if n.notify_type == nt::COOKIE2 => Some(n),
                _ => None,
            }) else {
                return false;
            };
            n.data = NotifyData::Cookie2(vec![0x5a; 16].into());
            true
        })
    }));
    net.del_addr(I, ip("192.0.2.10"));
    net.run_for(Duration::from_secs(5));
    let d = downs(&net, I);
    assert_eq!(
        d,
        vec!["COOKIE2 mismatch, closing IKE SA".to_string()],
        "{}",
        dump(&net)
    );
    assert!(net.nodes[I].engine.sas().next().is_none());
}

#[test]
fn rfc4555_3_7_must_2_missing_cookie2_counts_as_mismatch() {
    let mut net = two_path_lab(|_, _| {});
    up(&mut net);
    let sk = established(&net, R).sk.clone().unwrap();
    net.tamper = Some(Box::new(move |from, _, bytes| {
        if from != R || !is_response(bytes) {
            return None;
        }
        rewrite_inner(&sk, bytes, &mut |p| {
            let before = p.len();
            p.retain(|x| x.as_notify().is_none_or(|n| n.notify_type != nt::COOKIE2));
            p.len() != before
        })
    }));
    net.del_addr(I, ip("192.0.2.10"));
    net.run_for(Duration::from_secs(5));
    assert!(downs(&net, I)
        .iter()
        .any(|d| d.contains("COOKIE2 mismatch")));
}

#[test]
fn rfc4555_4_2_1_must_2_data_in_mobike_supported_is_ignored() {
    let mut net = two_path_lab(|_, _| {});
    // carol's IKE_AUTH request: 4 junk bytes in MOBIKE_SUPPORTED (iked would refuse)
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let seen2 = seen.clone();
    let now = net.now;
    net.engine(I)
        .command(now, Command::Up("home".into()))
        .unwrap();
    // the first IKE_AUTH (sent at 20 ms, with the keys just derived) is lost; its
    // retransmission is the one rewritten
    net.run_for(Duration::from_millis(15));
    net.blackholes.insert((ip("192.0.2.10"), ip("192.0.2.1")));
    net.run_for(Duration::from_millis(10));
    net.blackholes.clear();
    let sk = net.nodes[I]
        .engine
        .sas()
        .next()
        .unwrap()
        .sk
        .clone()
        .unwrap();
    net.tamper = Some(Box::new(move |from, _, bytes| {
        if from != I {
            return None;
        }
        let r = rewrite_inner(&sk, bytes, &mut |p| {
            let Some(n) = p.iter_mut().find_map(|x| match &mut x.body {
                PayloadBody::Notify(n) if n.notify_type == nt::MOBIKE_SUPPORTED => Some(n),
                _ => None,
            }) else {
                return false;
            };
            n.data = NotifyData::Raw(vec![1, 2, 3, 4].into());
            true
        });
        if r.is_some() {
            seen2.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        r
    }));
    net.run_for(Duration::from_secs(6));
    assert!(
        seen.load(std::sync::atomic::Ordering::SeqCst),
        "the IKE_AUTH request was rewritten"
    );
    assert!(established(&net, R).peer_mobike);
    assert!(established(&net, I).peer_mobike);
}

#[test]
fn rfc4555_4_2_5_must_2_wrong_length_cookie2_is_reported_not_echoed() {
    let mut net = two_path_lab(|_, _| {});
    let (i, _) = up(&mut net);
    let before = established(&net, R).path;
    let now = net.now;
    net.engine(I)
        .command(
            now,
            Command::Crafted {
                sa: i,
                notifies: vec![(nt::COOKIE2, vec![7; 7]), (nt::UPDATE_SA_ADDRESSES, vec![])],
            },
        )
        .unwrap();
    net.run_for(Duration::from_secs(2));
    let reported = net.events_of(R).any(|e| {
        matches!(e, EngineEvent::MobikeNotify { notify, sent: false, detail, .. }
            if *notify == nt::COOKIE2 && detail.contains("7 bytes"))
    });
    assert!(reported, "{}", dump(&net));
    // the crafted request is marked, its answer has no COOKIE2
    assert!(net
        .events_of(I)
        .any(|e| matches!(e, EngineEvent::Sent { info, .. } if info.crafted)));
    assert!(!sent_payloads(&net, R).iter().any(|p| p.contains("COOKIE2")));
    assert_eq!(established(&net, R).path, before);
    assert!(downs(&net, I).is_empty() && downs(&net, R).is_empty());
}

#[test]
fn rfc4555_3_5_may_1_unacceptable_addresses_tries_another_path() {
    let mut net = lab(
        &["192.0.2.10", "198.51.100.10", "203.0.113.10"],
        &["192.0.2.1", "198.51.100.1", "203.0.113.1"],
        |_, r| {
            r.mobike.refuse = vec![TsRange::parse("198.51.100.0/24").unwrap()];
            r.mobike.return_routability = mobikectl::engine::ReturnRoutability::Never;
        },
    );
    up(&mut net);
    net.del_addr(I, ip("192.0.2.10"));
    net.run_for(Duration::from_secs(5));
    let refused = net.events_of(I).any(|e| {
        matches!(e, EngineEvent::MobikeNotify { notify, sent: false, .. }
            if *notify == nt::UNACCEPTABLE_ADDRESSES)
    });
    assert!(refused, "{}", dump(&net));
    assert!(net.events_of(R).any(|e| matches!(e, EngineEvent::MobikeNotify { notify, sent: true, .. } if *notify == nt::UNACCEPTABLE_ADDRESSES)));
    // the refused UPDATE's address list (its source first) was not applied
    assert!(
        !net.events_of(R)
            .any(|e| matches!(e, EngineEvent::Addresses { remote, .. }
            if remote.first() == Some(&ip("198.51.100.10")))),
        "{}",
        dump(&net)
    );
    // never on the refused address, finally on the third
    assert_eq!(established(&net, R).path.remote.ip(), ip("203.0.113.10"));
    assert_on_path(&net, "203.0.113.10", "203.0.113.1");
}

#[test]
fn rfc4555_3_9_must_2_no_nats_allowed_mismatch_answered_unexpected_nat_detected() {
    let mut net = lab(&["192.0.2.10", "10.0.0.2"], &["192.0.2.1"], |i, r| {
        i.connections[0].nat_traversal = false;
        r.connections[0].nat_traversal = false;
        r.mobike.return_routability = mobikectl::engine::ReturnRoutability::Never;
    });
    net.reachable = |_, _| true;
    net.nats
        .push(NatBox::new(vec![ip("10.0.0.2")], ip("203.0.113.5"), 40000));
    up(&mut net);
    assert_eq!(
        established(&net, I).path.local.port(),
        500,
        "no float without NAT-T"
    );
    let before = established(&net, R).path;
    let moved_at = net.now;
    net.del_addr(I, ip("192.0.2.10"));
    net.run_for(Duration::from_secs(10));
    let upd: Vec<String> = sent_payloads(&net, I)
        .into_iter()
        .filter(|p| p.contains("UPDATE_SA_ADDRESSES"))
        .collect();
    assert!(
        !upd.is_empty() && upd.iter().all(|p| p.contains("N(NO_NATS_ALLOWED)")),
        "{upd:?}"
    );
    // one try and three more (RFC 4555 §3.9 SHOULD), every one refused
    assert_eq!(upd.len(), 4, "{upd:?}");
    let n41 = net
        .events_of(R)
        .filter(|e| matches!(e, EngineEvent::MobikeNotify { notify, sent: true, .. } if *notify == nt::UNEXPECTED_NAT_DETECTED))
        .count();
    assert_eq!(n41, 4);
    // moon changed nothing and answered the packets' real source (the NAT)
    assert_eq!(established(&net, R).path, before);
    for (c, _) in net.delivered_to(I) {
        if c.from == R && c.at > moved_at {
            assert_eq!(c.sent.remote.ip(), ip("203.0.113.5"));
        }
    }
    assert!(net
        .events_of(I)
        .any(|e| matches!(e, EngineEvent::Error { reason, .. } if reason.contains("giving up"))));
}

#[test]
fn rfc4555_3_11_should_1_responder_keeps_an_unreachable_initiators_sa() {
    let mut net = two_path_lab(|_, _| {});
    let (_, r) = up(&mut net);
    // carol is unreachable for 4 minutes while moon checks on her
    net.down.insert(ip("192.0.2.10"));
    net.down.insert(ip("198.51.100.10"));
    let now = net.now;
    net.engine(R).command(now, Command::Dpd(r)).unwrap();
    net.run_for(Duration::from_secs(240));
    assert_eq!(established(&net, R).id, r, "gone after 4 min");
    net.down.clear();
    net.run_for(Duration::from_secs(120));
    assert_eq!(established(&net, R).id, r);
    assert!(downs(&net, R).is_empty());
}

#[test]
fn rfc7296_2_23_without_mobike_the_responder_follows_a_natted_peer() {
    let mut net = lab(&["10.0.0.2"], &["198.51.100.1"], |i, _| {
        i.connections[0].mobike = false;
        i.connections[0].dpd_delay = Duration::from_secs(5);
    });
    net.reachable = |_, _| true;
    net.nats
        .push(NatBox::new(vec![ip("10.0.0.2")], ip("203.0.113.5"), 40000));
    up(&mut net);
    assert!(!established(&net, R).peer_mobike);
    let first = established(&net, R).path.remote;
    net.nats[0].rebind();
    net.run_for(Duration::from_secs(8));
    let now_r = established(&net, R).path.remote;
    assert_ne!(now_r, first);
    assert!(moves(&net, R).iter().any(|m| m.2 == MoveCause::NatFollow));
}

/// The decrypted payloads of a protected message, with the engines' keys (or `known`
/// ones of SAs gone by now).
fn inner_payloads(
    net: &Network,
    known: &[(u64, u64, SkKeys)],
    msg: &Message<'_>,
    bytes: &[u8],
) -> Option<Vec<Payload<'static>>> {
    let (si, sr) = (msg.header.spi_i, msg.header.spi_r);
    let sk = net
        .nodes
        .iter()
        .flat_map(|n| n.engine.sas())
        .find(|s| s.spi_i == si && s.spi_r == sr)
        .and_then(|s| s.sk.clone())
        .or_else(|| {
            known
                .iter()
                .find(|k| (k.0, k.1) == (si, sr))
                .map(|k| k.2.clone())
        })?;
    let p = msg.payloads.last()?;
    if p.payload_type != payload_type::SK {
        return None;
    }
    let d = decrypt_sk(&sk, msg.header.is_initiator(), bytes, p.offset).ok()?;
    parse_payload_chain(d.next_payload, &d.plaintext, 0)
        .ok()
        .map(|(v, _)| v.into_iter().map(Payload::into_owned).collect())
}

/// Every COOKIE2 the initiator sent in a request, in order.
fn sent_cookies(net: &Network) -> Vec<Vec<u8>> {
    let mut out = vec![];
    for c in net.log.iter().filter(|c| c.from == I) {
        let Ok(msg) = Message::parse(&c.bytes) else {
            continue;
        };
        if msg.header.is_response() {
            continue;
        }
        for p in inner_payloads(net, &[], &msg, &c.bytes).unwrap_or_default() {
            if let Some(NotifyData::Cookie2(v)) = p.as_notify().map(|n| &n.data) {
                if !out.contains(&v.to_vec()) {
                    out.push(v.to_vec());
                }
            }
        }
    }
    out
}

/// The capture analyzer as an oracle over everything the network delivered, decrypted
/// with the engines' keys: its events.
fn analyze(net: &Network, known: &[(u64, u64, SkKeys)]) -> Vec<AnalysisEvent> {
    let mut a = Analyzer::new();
    let mut out = Vec::new();
    for c in &net.log {
        let Some((_, seen)) = c.delivered else {
            continue;
        };
        let Ok(msg) = Message::parse(&c.bytes) else {
            continue; // keepalives
        };
        let inner = inner_payloads(net, known, &msg, &c.bytes);
        let integrity_ok = inner.as_ref().map(|_| true);
        let obs = ObservedMessage {
            frame: out.len() as u64 + 1,
            time_us: c.at.as_micros() as i64 + 10_000,
            src: seen.remote.ip(),
            sport: seen.remote.port(),
            dst: seen.local.ip(),
            dport: seen.local.port(),
            header: &msg.header,
            payloads: &msg.payloads,
            inner: inner.as_deref(),
            integrity_ok,
        };
        out.extend(a.observe(&obs));
    }
    out.extend(a.finish());
    out
}

/// The analyzer sees no violation, every COOKIE2 echoed, and one `address_update` per
/// UPDATE_SA_ADDRESSES the responder accepted.
fn oracle_agrees(net: &Network) {
    oracle_agrees_with(net, &[]);
}

/// [`oracle_agrees`], with the keys of SAs that are gone by now (rekeyed).
fn oracle_agrees_with(net: &Network, known: &[(u64, u64, SkKeys)]) {
    let ev = analyze(net, known);
    let names = |n: &str| ev.iter().filter(|e| e.kind.name() == n).count();
    let violations: Vec<_> = ev.iter().filter(|e| e.kind.name() == "violation").collect();
    assert!(violations.is_empty(), "{violations:#?}");
    for e in &ev {
        if let EventKind::Cookie2 { echoed, .. } = &e.kind {
            assert!(echoed, "{e:?}");
        }
    }
    let updates = net
        .events_of(R)
        .filter(|e| matches!(e, EngineEvent::Received { info, .. } if info.payloads.contains("UPDATE_SA_ADDRESSES") && !info.response))
        .count();
    assert_eq!(names("address_update"), updates, "{ev:#?}");
    assert!(names("cookie2") >= updates);
}

#[test]
fn oracle_analyzer_agrees_with_the_engines_on_moves() {
    // address loss (with a return routability check), then a responder move, then a v6
    // to v4 switch: the capture analyzer reads the same story from the wire
    let mut net = two_path_lab(|_, _| {});
    up(&mut net);
    net.del_addr(I, ip("192.0.2.10"));
    net.run_for(Duration::from_secs(5));
    net.add_addr(I, ip("192.0.2.10"));
    net.run_for(Duration::from_secs(1));
    net.del_addr(R, ip("198.51.100.1"));
    net.run_for(Duration::from_secs(5));
    assert_on_path(&net, "192.0.2.10", "192.0.2.1");
    oracle_agrees(&net);

    let mut net = lab(
        &["2001:db8:1::10", "192.0.2.10"],
        &["2001:db8:1::1", "192.0.2.1"],
        |_, _| {},
    );
    up(&mut net);
    net.del_addr(I, ip("2001:db8:1::10"));
    net.run_for(Duration::from_secs(5));
    oracle_agrees(&net);
    let ev = analyze(&net, &[]);
    assert_eq!(
        ev.iter()
            .filter(|e| e.kind.name() == "address_update")
            .count(),
        1
    );
}

#[test]
fn hostile_mobike_notifies_get_an_event_and_change_nothing() {
    // (notifies, the notify type the responder reports)
    type Notifies = Vec<(u16, Vec<u8>)>;
    let cases: Vec<(Notifies, u16)> = vec![
        (vec![(nt::COOKIE2, vec![1; 65])], nt::COOKIE2),
        (vec![(nt::NO_NATS_ALLOWED, vec![1; 5])], nt::NO_NATS_ALLOWED),
        (
            vec![(nt::ADDITIONAL_IP4_ADDRESS, vec![192, 0, 2, 99, 7])],
            nt::ADDITIONAL_IP4_ADDRESS,
        ),
        (
            vec![(nt::UNACCEPTABLE_ADDRESSES, vec![])],
            nt::UNACCEPTABLE_ADDRESSES,
        ),
        (
            vec![(nt::UNEXPECTED_NAT_DETECTED, vec![])],
            nt::UNEXPECTED_NAT_DETECTED,
        ),
    ];
    for (notifies, reported) in cases {
        let mut net = two_path_lab(|_, _| {});
        let (i, _) = up(&mut net);
        let (before_i, before_r) = (established(&net, I).path, established(&net, R).path);
        let peer_set = established(&net, R).remote_addrs.clone();
        let now = net.now;
        net.engine(I)
            .command(
                now,
                Command::Crafted {
                    sa: i,
                    notifies: notifies.clone(),
                },
            )
            .unwrap();
        net.run_for(Duration::from_secs(3));
        let seen = net.events_of(R).any(|e| {
            matches!(e, EngineEvent::MobikeNotify { notify, sent: false, .. } if *notify == reported)
        });
        assert!(seen, "{notifies:?}: {}", dump(&net));
        assert_eq!(established(&net, I).path, before_i, "{notifies:?}");
        assert_eq!(established(&net, R).path, before_r, "{notifies:?}");
        assert_eq!(established(&net, R).remote_addrs, peer_set, "{notifies:?}");
        assert!(
            downs(&net, I).is_empty() && downs(&net, R).is_empty(),
            "{notifies:?}"
        );
    }
}

#[test]
fn rfc4555_3_5_proc_i_move_completes_with_ten_percent_loss() {
    for seed in 0..5u64 {
        let mut net = two_path_lab(|_, _| {});
        up(&mut net);
        net.loss.insert(None, 10);
        // a different loss pattern per run
        for _ in 0..seed {
            net.run_for(Duration::from_millis(1));
        }
        net.del_addr(I, ip("192.0.2.10"));
        net.run_for(Duration::from_secs(60));
        assert_on_path(&net, "198.51.100.10", "198.51.100.1");
        assert!(downs(&net, I).is_empty() && downs(&net, R).is_empty());
    }
}

#[test]
fn rfc4555_3_5_proc_i_f_second_change_mid_flight_restarts_cleanly() {
    let mut net = lab(
        &["192.0.2.10", "198.51.100.10", "203.0.113.10"],
        &["192.0.2.1", "198.51.100.1", "203.0.113.1"],
        |_, _| {},
    );
    up(&mut net);
    net.del_addr(I, ip("192.0.2.10"));
    // the probe is in flight (10 ms one way) when the next address goes too
    net.run_for(Duration::from_millis(5));
    net.del_addr(I, ip("198.51.100.10"));
    net.run_for(Duration::from_secs(10));
    assert_on_path(&net, "203.0.113.10", "203.0.113.1");
    assert!(downs(&net, I).is_empty() && downs(&net, R).is_empty());
    oracle_agrees(&net);
}

#[test]
fn rfc4555_4_2_5_may_1_cookie2_echoed_on_a_delete() {
    let mut net = two_path_lab(|_, _| {});
    let (i, _) = up(&mut net);
    let now = net.now;
    net.engine(I)
        .command(
            now,
            Command::Crafted {
                sa: i,
                notifies: vec![(nt::COOKIE2, vec![0xc2; 8])],
            },
        )
        .unwrap();
    net.run_for(Duration::from_secs(1));
    assert!(sent_payloads(&net, R).iter().any(|p| p == "SK{N(COOKIE2)}"));
    let now = net.now;
    net.engine(I).command(now, Command::Down(i)).unwrap();
    net.run_for(Duration::from_secs(1));
    // our Delete carries no COOKIE2; a crafted one does and gets it back
    assert!(net.nodes[R].engine.sas().next().is_none());
}

/// Message IDs of the INFORMATIONAL requests of `n` that carry an address list.
fn list_requests(net: &Network, n: NodeId) -> Vec<u32> {
    let mut ids: Vec<u32> = net
        .events_of(n)
        .filter_map(|e| match e {
            EngineEvent::Sent { info, .. }
                if !info.response
                    && info.exchange == mobikectl::wire::INFORMATIONAL
                    && info.payloads.contains("N(ADDITIONAL_IP4_ADDRESS)") =>
            {
                Some(info.message_id)
            }
            _ => None,
        })
        .collect();
    ids.dedup();
    ids
}

#[test]
fn rfc4555_3_6_must_1_list_sent_from_several_sources_gets_a_follow_up() {
    let mut net = lab(
        &["192.0.2.10", "198.51.100.10"],
        &["192.0.2.1", "198.51.100.1"],
        |_, _| {},
    );
    let (_, r) = up(&mut net);
    net.blackholes.insert((ip("192.0.2.10"), ip("192.0.2.1")));
    // the responder gains an address: its new list is lost on the current path, twice
    net.add_addr(R, ip("203.0.113.1"));
    net.run_for(Duration::from_secs(5));
    assert_eq!(list_requests(&net, R).len(), 1, "{}", dump(&net));
    // the operator probes: the list in flight now leaves from both of its addresses
    let now = net.now;
    net.engine(R).command(now, Command::Probe(r)).unwrap();
    net.run_for(Duration::from_millis(500));
    net.blackholes.clear();
    net.run_for(Duration::from_secs(10));
    let lists = list_requests(&net, R);
    assert_eq!(
        lists.len(),
        2,
        "a follow-up list in a new exchange: {}",
        dump(&net)
    );
    assert!(lists[1] > lists[0]);
    let mut peer_set = established(&net, I).remote_addrs.clone();
    peer_set.sort();
    let mut want = vec![ip("192.0.2.1"), ip("198.51.100.1"), ip("203.0.113.1")];
    want.sort();
    assert_eq!(peer_set, want);
    assert!(downs(&net, I).is_empty() && downs(&net, R).is_empty());
}

#[test]
fn rfc4555_3_6_must_1_list_sent_from_one_source_needs_no_follow_up() {
    let mut net = lab(
        &["192.0.2.10", "198.51.100.10"],
        &["192.0.2.1", "198.51.100.1"],
        |_, _| {},
    );
    up(&mut net);
    // lost twice, then through: every copy left from the same address
    net.blackholes.insert((ip("192.0.2.10"), ip("192.0.2.1")));
    net.add_addr(R, ip("203.0.113.1"));
    net.run_for(Duration::from_millis(1500));
    net.blackholes.clear();
    net.run_for(Duration::from_secs(10));
    let retransmitted = net
        .events_of(R)
        .any(|e| matches!(e, EngineEvent::Retransmit { .. }));
    assert!(retransmitted, "{}", dump(&net));
    assert_eq!(list_requests(&net, R).len(), 1, "{}", dump(&net));
}

/// The distinct (source, destination) address pairs of the IKE_SA_INIT requests of `n`.
fn init_request_pairs(net: &Network, n: NodeId) -> Vec<(IpAddr, IpAddr)> {
    let mut pairs = vec![];
    for c in net.log.iter().filter(|c| c.from == n) {
        let Ok(msg) = mobikectl::wire::Message::parse(&c.bytes) else {
            continue;
        };
        if msg.header.exchange_type == mobikectl::wire::IKE_SA_INIT && !msg.header.is_response() {
            let pair = (c.sent.local.ip(), c.sent.remote.ip());
            if !pairs.contains(&pair) {
                pairs.push(pair);
            }
        }
    }
    pairs
}

#[test]
fn rfc4555_3_1_should_1_ike_sa_init_retransmits_rotate_over_address_pairs() {
    let mut net = lab(
        &["192.0.2.10", "198.51.100.10"],
        &["192.0.2.1", "198.51.100.1"],
        |ci, _| ci.connections[0].remote_addrs = vec![ip("198.51.100.1")],
    );
    // the configured pair is a black hole
    net.blackholes.insert((ip("192.0.2.10"), ip("192.0.2.1")));
    let now = net.now;
    net.engine(I)
        .command(now, Command::Up("home".into()))
        .unwrap();
    net.run_for(Duration::from_secs(60));
    let pairs = init_request_pairs(&net, I);
    assert!(pairs.len() >= 2, "{pairs:?}");
    assert_eq!(
        pairs[0],
        (ip("192.0.2.10"), ip("192.0.2.1")),
        "configured pair first"
    );
    let sa = established(&net, I);
    assert_eq!(sa.path.local.ip(), ip("198.51.100.10"), "{}", dump(&net));
    assert_eq!(sa.path.remote.ip(), ip("198.51.100.1"));
    // the copy that arrived (its own NAT detection) is the one both signed: no NAT seen
    assert!(!sa.nat_local && !sa.nat_remote, "{sa:#?}");
    assert_eq!(established(&net, R).children.len(), 1);
}

#[test]
fn rfc4555_3_1_should_1_one_pair_retransmits_on_that_pair_only() {
    let mut net = lab(&["192.0.2.10"], &["192.0.2.1"], |_, _| {});
    net.blackholes.insert((ip("192.0.2.10"), ip("192.0.2.1")));
    let now = net.now;
    net.engine(I)
        .command(now, Command::Up("home".into()))
        .unwrap();
    net.run_for(Duration::from_secs(30));
    let retransmits = net
        .events_of(I)
        .filter(|e| matches!(e, EngineEvent::Retransmit { .. }))
        .count();
    assert!(retransmits >= 2, "{}", dump(&net));
    assert_eq!(
        init_request_pairs(&net, I),
        vec![(ip("192.0.2.10"), ip("192.0.2.1"))]
    );
}

fn natt_off_behind_nat() -> Network {
    let mut net = lab(&["10.0.0.2"], &["192.0.2.1"], |i, r| {
        i.connections[0].nat_traversal = false;
        r.connections[0].nat_traversal = false;
    });
    net.reachable = |_, _| true;
    net.nats
        .push(NatBox::new(vec![ip("10.0.0.2")], ip("203.0.113.5"), 40000));
    net
}

/// The initiator SPIs of the IKE_SA_INIT requests of `n`, in order.
fn init_spis(net: &Network, n: NodeId) -> Vec<u64> {
    let mut spis = vec![];
    for c in net.log.iter().filter(|c| c.from == n) {
        if let Ok(m) = mobikectl::wire::Message::parse(&c.bytes) {
            let h = m.header;
            if h.exchange_type == mobikectl::wire::IKE_SA_INIT
                && !h.is_response()
                && !spis.contains(&h.spi_i)
            {
                spis.push(h.spi_i);
            }
        }
    }
    spis
}

#[test]
fn rfc4555_3_9_should_2_one_unexpected_nat_in_ike_auth_restarts_with_new_spis() {
    let mut net = natt_off_behind_nat();
    let now = net.now;
    net.engine(I)
        .command(now, Command::Up("home".into()))
        .unwrap();
    // the NAT is there for the first attempt only
    for _ in 0..200 {
        net.run_for(Duration::from_millis(10));
        let refused = net.events_of(R).any(|e| {
            matches!(e, EngineEvent::MobikeNotify { notify, sent: true, .. } if *notify == nt::UNEXPECTED_NAT_DETECTED)
        });
        if refused {
            break;
        }
    }
    net.nats.clear();
    net.run_for(Duration::from_secs(5));
    let sa = established(&net, I);
    assert_eq!(established(&net, R).children.len(), 1);
    let spis = init_spis(&net, I);
    assert_eq!(spis.len(), 2, "one restart: {}", dump(&net));
    assert_eq!(sa.spi_i, spis[1], "the SA is the restarted one");
    assert!(net.events_of(I).any(|e| matches!(e,
        EngineEvent::MobikeNotify { notify, sent: false, .. } if *notify == nt::UNEXPECTED_NAT_DETECTED)));
}

#[test]
fn rfc4555_3_9_should_2_persistent_unexpected_nat_in_ike_auth_gives_up() {
    let mut net = natt_off_behind_nat();
    let now = net.now;
    net.engine(I)
        .command(now, Command::Up("home".into()))
        .unwrap();
    net.run_for(Duration::from_secs(30));
    // the first attempt and three fresh starts, then nothing more
    assert_eq!(init_spis(&net, I).len(), 4, "{}", dump(&net));
    for n in [I, R] {
        assert!(
            net.nodes[n].engine.sas().next().is_none(),
            "no SA left at {}",
            net.nodes[n].name
        );
    }
    assert!(net.events_of(I).any(|e| matches!(e,
        EngineEvent::Error { reason, .. } if reason.contains("NAT traversal is off"))));
}

/// Payload summaries of the INFORMATIONAL requests `n` sent after `since`.
fn informational_requests_since(net: &Network, n: NodeId, since: Timestamp) -> Vec<String> {
    net.events
        .iter()
        .filter(|(t, node, _)| *node == n && *t >= since)
        .filter_map(|(_, _, e)| match e {
            EngineEvent::Sent { info, .. }
                if !info.response && info.exchange == mobikectl::wire::INFORMATIONAL =>
            {
                Some(info.payloads.clone())
            }
            _ => None,
        })
        .collect()
}

fn hint_events(net: &Network, n: NodeId) -> Vec<bool> {
    net.events_of(n)
        .filter_map(|e| match e {
            EngineEvent::Hint { checked, .. } => Some(*checked),
            _ => None,
        })
        .collect()
}

#[test]
fn rfc4555_3_5_should_1_spoofed_unreachable_hint_moves_nothing() {
    let mut net = two_path_lab(|_, _| {});
    up(&mut net);
    let before = established(&net, I).path;
    let t = net.now;
    // a forged ICMP unreachable for the working path, many times
    for _ in 0..50 {
        net.engine(I).path_hint(t, before, PathHint::Unreachable);
    }
    net.run_for(Duration::from_secs(20));
    assert_eq!(established(&net, I).path, before);
    assert!(moves(&net, I).is_empty() && moves(&net, R).is_empty());
    // one check for the whole flood, answered
    assert_eq!(
        informational_requests_since(&net, I, t),
        vec!["SK{N(COOKIE2)}".to_string()]
    );
    let h = hint_events(&net, I);
    assert_eq!(h.len(), 50);
    assert_eq!(h.iter().filter(|c| **c).count(), 1);
    assert!(downs(&net, I).is_empty());
}

#[test]
fn rfc4555_3_5_should_2_hint_checks_the_current_path_and_a_real_failure_moves() {
    let mut net = two_path_lab(|_, _| {});
    up(&mut net);
    let before = established(&net, I).path;
    net.blackholes
        .insert((before.local.ip(), before.remote.ip()));
    // no hint, no traffic: the black hole goes unnoticed (no extra INFORMATIONAL)
    let t0 = net.now;
    net.run_for(Duration::from_secs(20));
    assert!(informational_requests_since(&net, I, t0).is_empty());
    assert_eq!(established(&net, I).path, before);
    // the hint: a check on the current path, unanswered, then probe and move
    let t1 = net.now;
    net.engine(I).path_hint(t1, before, PathHint::Unreachable);
    net.run_for(Duration::from_secs(30));
    let sent = informational_requests_since(&net, I, t1);
    assert_eq!(
        sent.first().map(String::as_str),
        Some("SK{N(COOKIE2)}"),
        "{sent:?}"
    );
    let m = moves(&net, I);
    assert_eq!(m.len(), 1, "{}", dump(&net));
    assert_eq!(m[0].2, MoveCause::PathFailed);
    assert_ne!(established(&net, I).path, before);
    assert!(downs(&net, I).is_empty() && downs(&net, R).is_empty());
}

#[test]
fn rfc4555_5_3_should_1_unprotected_invalid_spi_triggers_a_check_with_cookie2() {
    let mut net = two_path_lab(|_, _| {});
    up(&mut net);
    let sa = established(&net, I);
    let (path, spi_out) = (sa.path, sa.children[0].spi_out);
    // from a third party: unknown IKE SPIs, no SK payload
    let forged = |spi: u32| {
        let mut n = mobikectl::wire::Notify::new(
            nt::INVALID_SPI,
            NotifyData::Raw(spi.to_be_bytes().to_vec().into()),
        );
        n.protocol_id = 3;
        Message {
            header: mobikectl::wire::Header {
                spi_i: 0x1122_3344_5566_7788,
                spi_r: 0,
                next_payload: 0,
                version: 0x20,
                exchange_type: mobikectl::wire::INFORMATIONAL,
                flags: 0,
                message_id: 0,
                length: 0,
            },
            payloads: vec![Payload::new(payload_type::NOTIFY, PayloadBody::Notify(n))],
            trailing: Default::default(),
        }
        .emit()
    };
    let t = net.now;
    let third_party = Path::new(path.local, "203.0.113.66:500".parse().unwrap());
    // an SPI that is not ours: nothing happens
    net.engine(I)
        .handle_datagram(t, third_party, &forged(spi_out ^ 1));
    net.run_for(Duration::from_secs(2));
    assert!(informational_requests_since(&net, I, t).is_empty());
    assert!(hint_events(&net, I).is_empty());
    let t = net.now;
    net.engine(I)
        .handle_datagram(t, third_party, &forged(spi_out));
    net.run_for(Duration::from_secs(5));
    assert_eq!(
        informational_requests_since(&net, I, t),
        vec!["SK{N(COOKIE2)}".to_string()]
    );
    // the peer echoed the cookie (no mismatch): the SA stays where it was
    assert_eq!(established(&net, I).path, path);
    assert_eq!(hint_events(&net, I), vec![true]);
    assert!(downs(&net, I).is_empty());
}

/// The distinct paths the empty INFORMATIONAL requests (probes) of `n` went on.
fn probe_paths(net: &Network, n: NodeId) -> (usize, Vec<Path>) {
    let mut count = 0;
    let mut paths = vec![];
    for e in net.events_of(n) {
        if let EngineEvent::Sent { info, .. } = e {
            if !info.response
                && info.exchange == mobikectl::wire::INFORMATIONAL
                && info.payloads == "SK{}"
            {
                count += 1;
                if !paths.contains(&info.path) {
                    paths.push(info.path);
                }
            }
        }
    }
    (count, paths)
}

#[test]
fn rfc4555_3_10_may_1_periodic_path_tests_probe_every_pair_and_move_nothing() {
    let mut net = two_path_lab(|i, _| i.mobike.path_test_interval = Duration::from_secs(10));
    up(&mut net);
    let before = established(&net, I).path;
    net.run_for(Duration::from_secs(35));
    let (count, paths) = probe_paths(&net, I);
    // three rounds in 35 s, each over both working pairs
    assert!(count >= 6, "{count} probes: {}", dump(&net));
    assert!(paths.len() >= 2, "{paths:?}");
    assert_eq!(established(&net, I).path, before);
    assert!(moves(&net, I).is_empty());
}

#[test]
fn rfc4555_3_10_may_1_no_path_tests_by_default() {
    let mut net = two_path_lab(|_, _| {});
    up(&mut net);
    net.run_for(Duration::from_secs(35));
    assert_eq!(probe_paths(&net, I).0, 0, "{}", dump(&net));
}

#[test]
fn rfc4555_4_2_5_must_3_cookie2_values_are_unpredictable() {
    let mut net = two_path_lab(|_, _| {});
    let (i, _) = up(&mut net);
    for _ in 0..20 {
        let now = net.now;
        net.engine(I).command(now, Command::Update(i)).unwrap();
        net.run_for(Duration::from_secs(1));
    }
    // every COOKIE2 the initiator sent, read back out of the decrypted requests
    let cookies = sent_cookies(&net);
    assert_eq!(cookies.len(), 20, "{}", dump(&net));
    let mut distinct = cookies.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), cookies.len(), "no COOKIE2 repeats");
    assert!(cookies.iter().all(|c| c.len() >= 8 && c.len() <= 64));
    // not a counter: consecutive values differ in many bits
    for w in cookies.windows(2) {
        let diff: u32 = w[0]
            .iter()
            .zip(&w[1])
            .map(|(a, b)| (a ^ b).count_ones())
            .sum();
        assert!(diff > 16, "{w:?}");
    }
}

fn optimistic_lab() -> Network {
    two_path_lab(|_, r| {
        r.mobike.return_routability = mobikectl::engine::ReturnRoutability::Optimistic
    })
}

#[test]
fn rfc4555_3_7_may_2_optimistic_moves_children_at_once_then_checks() {
    let mut net = optimistic_lab();
    up(&mut net);
    net.del_addr(I, ip("192.0.2.10"));
    net.run_for(Duration::from_secs(5));
    assert_on_path(&net, "198.51.100.10", "198.51.100.1");
    // one move of everything at the UPDATE, the check after it
    let order: Vec<&str> = net
        .events_of(R)
        .filter_map(|e| match e {
            EngineEvent::Moved { children: true, .. } => Some("moved"),
            EngineEvent::RrCheck { ok: true, .. } => Some("rr_ok"),
            EngineEvent::RrCheck { ok: false, .. } => Some("rr_failed"),
            _ => None,
        })
        .collect();
    assert_eq!(order, vec!["moved", "rr_ok"], "{}", dump(&net));
}

#[test]
fn rfc4555_3_7_may_2_optimistic_failed_check_moves_the_sa_back() {
    let mut net = optimistic_lab();
    let (i, _) = up(&mut net);
    let old_r = established(&net, R).path;
    // every request moon sends from now on is lost on the way (the check among them)
    net.tamper = Some(Box::new(|from, _, bytes| {
        (from == R && !is_response(bytes)).then(|| vec![0u8; 3])
    }));
    let now = net.now;
    net.engine(I)
        .command(
            now,
            Command::Move {
                sa: i,
                local: ip("198.51.100.10"),
                remote: Some(ip("198.51.100.1")),
            },
        )
        .unwrap();
    net.run_for(Duration::from_secs(20));
    let m = moves(&net, R);
    assert_eq!(m.len(), 2, "{}", dump(&net));
    assert_eq!(m[0].2, MoveCause::UpdateReceived);
    assert_eq!(m[1].2, MoveCause::RrFailed);
    assert_eq!(m[1].1, old_r, "back where it came from");
    let sr = established(&net, R);
    assert_eq!(sr.path, old_r);
    assert!(sr.children.iter().all(|c| c.path == old_r));
    assert!(net
        .events_of(R)
        .any(|e| matches!(e, EngineEvent::RrCheck { ok: false, .. })));
}

/// Run in small steps until `pred` holds for an event of `n` (at most `limit`).
fn run_until(net: &mut Network, n: NodeId, limit: Duration, pred: impl Fn(&EngineEvent) -> bool) {
    let end = net.now + limit;
    while net.now < end && !net.events_of(n).any(&pred) {
        net.run_for(Duration::from_millis(5));
    }
    assert!(net.events_of(n).any(&pred), "{}", dump(net));
}

#[test]
fn rfc4555_3_5_proc_i_f_operator_move_while_the_update_is_in_flight_is_not_lost() {
    let mut net = lab(
        &["192.0.2.10", "192.0.2.20"],
        &["192.0.2.1", "198.51.100.1"],
        |_, _| {},
    );
    let (i, _) = up(&mut net);
    net.del_addr(I, ip("192.0.2.10"));
    run_until(&mut net, I, Duration::from_secs(5), |e| {
        matches!(e, EngineEvent::Moved { .. })
    });
    // the UPDATE for that move is still on its way when the operator moves back
    net.add_addr(I, ip("192.0.2.10"));
    let now = net.now;
    net.engine(I)
        .command(
            now,
            Command::Move {
                sa: i,
                local: ip("192.0.2.10"),
                remote: None,
            },
        )
        .unwrap();
    net.run_for(Duration::from_secs(30));
    assert_on_path(&net, "192.0.2.10", "192.0.2.1");
    assert!(downs(&net, I).is_empty() && downs(&net, R).is_empty());
}

/// The responder's view of NAT in front of the initiator after each UPDATE.
fn responder_sees_nat(net: &Network) -> Vec<bool> {
    net.events_of(R)
        .filter_map(|e| match e {
            EngineEvent::Nat { remote, .. } => Some(*remote),
            _ => None,
        })
        .collect()
}

#[test]
fn rfc4555_3_8_may_2_nat_map_claims_our_public_mapping_in_nat_detection() {
    let mut net = two_path_lab(|_, _| {});
    let (i, _) = up(&mut net);
    let real = established(&net, I).path.local;
    let claims: [Option<SocketAddr>; 3] = [
        Some("203.0.113.5:4500".parse().unwrap()), // a NAT we know of: the peer sees it
        Some(real),                                // the mapping is our own address: no NAT
        None,                                      // plain hashes again
    ];
    for claim in claims {
        let now = net.now;
        net.engine(I).command(now, Command::NatMap(claim)).unwrap();
        net.engine(I).command(now, Command::Update(i)).unwrap();
        net.run_for(Duration::from_secs(2));
    }
    assert_eq!(
        responder_sees_nat(&net),
        vec![true, false, false],
        "{}",
        dump(&net)
    );
    assert!(downs(&net, I).is_empty() && downs(&net, R).is_empty());
}

/// A third party's address in an UPDATE (RFC 4555 §3.7, §5.2): the initiator's UPDATE
/// reaches the responder from 192.0.2.66 (a rewriting box), where nothing answers the
/// responder. The return routability check fails and the CHILD_SAs stay; the check's
/// request keeps its message ID and goes on to the real initiator, the IKE SA returning to
/// the CHILD_SAs' path. Dropped instead, the initiator never saw that ID and ignored every
/// later request of the responder (its DPD here) until the SA died.
#[test]
fn rfc4555_3_7_should_1_failed_rr_check_keeps_message_ids_and_returns_the_ike_sa() {
    let mut net = lab(&["192.0.2.10"], &["192.0.2.1"], |_, r| {
        r.retransmit.tries = 3;
    });
    let (i, r) = up(&mut net);
    let real = established(&net, R).path;
    // the UPDATE comes from 192.0.2.66; the responder's packets there go nowhere
    net.nats
        .push(NatBox::new(vec![ip("192.0.2.10")], ip("192.0.2.66"), 4500));
    net.blackholes.insert((ip("192.0.2.1"), ip("192.0.2.66")));
    let now = net.now;
    net.engine(I).command(now, Command::Update(i)).unwrap();
    net.run_for(Duration::from_secs(1));
    let mr = moves(&net, R);
    assert_eq!(mr.len(), 1, "{mr:?}\n{}", dump(&net));
    assert_eq!(mr[0].1.remote.ip(), ip("192.0.2.66"));
    assert!(!mr[0].4, "CHILD_SAs moved before the check");
    // the initiator's retransmission comes from its real address again
    net.nats.clear();
    net.run_for(Duration::from_secs(30));
    let rr: Vec<bool> = net
        .events_of(R)
        .filter_map(|e| match e {
            EngineEvent::RrCheck { ok, .. } => Some(*ok),
            _ => None,
        })
        .collect();
    assert_eq!(rr, vec![false], "{}", dump(&net));
    let mr = moves(&net, R);
    assert_eq!(mr.len(), 2, "{mr:?}");
    assert_eq!((mr[1].1, mr[1].2), (real, MoveCause::PathFailed), "{mr:?}");
    let sr = established(&net, R);
    assert_eq!(sr.path, real);
    assert!(sr.children.iter().all(|c| c.path == real));
    // the check's request (its COOKIE2) reached the initiator after all, and was answered
    let rr_req = net.events_of(R).find_map(|e| match e {
        EngineEvent::Sent { info, .. } if !info.response && info.payloads.contains("COOKIE2") => {
            Some(info.message_id)
        }
        _ => None,
    });
    assert!(
        net.events_of(I)
            .any(|e| matches!(e, EngineEvent::Received { info, .. }
            if !info.response && Some(info.message_id) == rr_req)),
        "{}",
        dump(&net)
    );
    assert!(net
        .events_of(R)
        .any(|e| matches!(e, EngineEvent::Received { info, .. }
            if info.response && Some(info.message_id) == rr_req)));
    // the responder's next request is in the initiator's window: answered
    let before = net.events_of(R).count();
    let now = net.now;
    net.engine(R).command(now, Command::Dpd(r)).unwrap();
    net.run_for(Duration::from_secs(2));
    let answered = net.events_of(R).skip(before).any(|e| {
        matches!(e, EngineEvent::Received { info, .. } if info.response && info.exchange == mobikectl::wire::INFORMATIONAL)
    });
    assert!(
        answered,
        "the responder's DPD went unanswered:\n{}",
        dump(&net)
    );
    assert!(downs(&net, I).is_empty() && downs(&net, R).is_empty());
}

/// The connection's own address comes back (RFC 4555 §3.5: the initiator decides where
/// the SA goes): after a move away on its loss, the initiator probes its configured pair
/// again when the address returns and moves back (`AddressGained`) with an UPDATE; the
/// responder follows (return routability first) and both end on the original pair.
#[test]
fn rfc4555_3_5_proc_i_address_gain_probes_the_configured_pair_and_moves_back() {
    let mut net = two_path_lab(|_, _| {});
    up(&mut net);
    net.del_addr(I, ip("192.0.2.10"));
    net.run_for(Duration::from_secs(5));
    assert_on_path(&net, "198.51.100.10", "198.51.100.1");
    let t0 = net.now;
    net.add_addr(I, ip("192.0.2.10"));
    net.run_for(Duration::from_secs(5));
    let m = moves(&net, I);
    assert_eq!(m.len(), 2, "{m:?}\n{}", dump(&net));
    let (old, new, cause, _, children) = m[1];
    assert_eq!(cause, MoveCause::AddressGained);
    assert_eq!(old.local.ip(), ip("198.51.100.10"));
    assert_eq!(
        (new.local.ip(), new.remote.ip()),
        (ip("192.0.2.10"), ip("192.0.2.1"))
    );
    assert!(children);
    // the probe went to that one pair only
    let probed: Vec<Path> = net
        .log
        .iter()
        .filter(|c| c.from == I && c.at >= t0 && c.sent.local.ip() == ip("192.0.2.10"))
        .map(|c| c.sent)
        .collect();
    assert!(
        probed.iter().all(|p| p.remote.ip() == ip("192.0.2.1")),
        "{probed:?}"
    );
    assert!(
        sent_payloads(&net, I)
            .iter()
            .filter(|p| p.contains("N(UPDATE_SA_ADDRESSES)"))
            .count()
            >= 2
    );
    assert_on_path(&net, "192.0.2.10", "192.0.2.1");
    for n in [I, R] {
        let sa = established(&net, n);
        assert!(sa.children.iter().all(|c| c.path == sa.path), "{sa:#?}");
    }
}

/// The returned address's pair does not answer (a black hole): the optional probe gives
/// up after the normal tries, the SA stays where it works (no give-up deletion), and the
/// probe's message ID goes on on the current path, so later requests are answered.
#[test]
fn rfc4555_3_5_proc_i_address_gain_unanswered_probe_keeps_the_working_path() {
    let mut net = two_path_lab(|_, _| {});
    let (i, _) = up(&mut net);
    net.del_addr(I, ip("192.0.2.10"));
    net.run_for(Duration::from_secs(5));
    assert_on_path(&net, "198.51.100.10", "198.51.100.1");
    net.blackholes.insert((ip("192.0.2.10"), ip("192.0.2.1")));
    net.add_addr(I, ip("192.0.2.10"));
    // past the MOBIKE give-up time (165 s)
    net.run_for(Duration::from_secs(200));
    assert_eq!(moves(&net, I).len(), 1, "{}", dump(&net));
    assert!(net.events_of(I).any(|e| matches!(e,
        EngineEvent::Path { path, state: mobikectl::engine::PathState::Failed, .. }
            if path.local.ip() == ip("192.0.2.10"))));
    assert_on_path(&net, "198.51.100.10", "198.51.100.1");
    let before = net.events_of(I).count();
    let now = net.now;
    net.engine(I).command(now, Command::Dpd(i)).unwrap();
    net.run_for(Duration::from_secs(2));
    assert!(
        net.events_of(I).skip(before).any(|e| matches!(e,
            EngineEvent::Received { info, .. } if info.response)),
        "{}",
        dump(&net)
    );
    assert!(downs(&net, I).is_empty() && downs(&net, R).is_empty());
}

#[test]
fn rfc4555_3_8_may_2_operator_update_during_an_update_in_flight_follows_it() {
    let mut net = two_path_lab(|_, _| {});
    let (i, _) = up(&mut net);
    let now = net.now;
    net.engine(I).command(now, Command::Update(i)).unwrap();
    // the first is still on its way: the second must not be swallowed by it
    net.engine(I).command(now, Command::Update(i)).unwrap();
    net.engine(I).command(now, Command::Update(i)).unwrap();
    net.run_for(Duration::from_secs(3));
    let updates: Vec<u32> = net
        .events_of(I)
        .filter_map(|e| match e {
            EngineEvent::Sent { info, .. }
                if !info.response && info.payloads.contains("UPDATE_SA_ADDRESSES") =>
            {
                Some(info.message_id)
            }
            _ => None,
        })
        .collect();
    assert_eq!(updates.len(), 2, "one in flight, one after it: {updates:?}");
    assert_ne!(updates[0], updates[1]);
}

#[test]
fn rfc4555_3_8_should_2_rebinding_before_any_dpd_is_still_noticed() {
    // no periodic DPD at all: the mapping is learnt right after IKE_AUTH
    let mut net = lab(&["10.0.0.2"], &["198.51.100.1"], |_, _| {});
    net.nats
        .push(NatBox::new(vec![ip("10.0.0.2")], ip("203.0.113.5"), 40000));
    net.reachable = |_, _| true;
    let (i, _) = up(&mut net);
    let first = established(&net, R).path.remote;
    net.nats[0].rebind();
    let now = net.now;
    net.engine(I).command(now, Command::Dpd(i)).unwrap();
    net.run_for(Duration::from_secs(3));
    assert!(
        net.events_of(I).any(|e| matches!(
            e,
            EngineEvent::Nat {
                mapping_changed: true,
                ..
            }
        )),
        "{}",
        dump(&net)
    );
    let now_r = established(&net, R).path.remote;
    assert_ne!(now_r, first, "the responder follows the new mapping");
    assert!(downs(&net, I).is_empty() && downs(&net, R).is_empty());
}

#[test]
fn rfc4555_3_5_proc_i_send_failure_around_an_address_loss_keeps_its_cause() {
    for failure_first in [true, false] {
        let mut net = two_path_lab(|_, _| {});
        up(&mut net);
        let old = established(&net, I).path;
        // a queued packet (ESP of a running ping, say) fails on the old path just before
        // the address event reaches the engine, or while the probe is in flight
        let now = net.now;
        if failure_first {
            net.engine(I).send_failed(now, old);
            net.del_addr(I, ip("192.0.2.10"));
        } else {
            net.del_addr(I, ip("192.0.2.10"));
            net.run_for(Duration::from_millis(5));
            let now = net.now;
            net.engine(I).send_failed(now, old);
        }
        net.run_for(Duration::from_secs(5));
        let m = moves(&net, I);
        assert_eq!(m.len(), 1, "{}", dump(&net));
        assert_eq!(
            m[0].2,
            MoveCause::AddressLost,
            "failure first: {failure_first}"
        );
    }
}
