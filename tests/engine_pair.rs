//! Two engines against each other in the simulated network.

mod sim;

use std::time::Duration;

use mobikectl::engine::{Command, Config, EngineEvent, Path, Proposal, Protocol, TsRange};
use mobikectl::wire::{self, notify_type as nt, Message, PayloadBody};
use sim::{addr, conns, Fault, Nat, Net, ParseTs, Side};

const PSK: &[u8] = b"this is a long enough test PSK";

fn notifies_in(bytes: &[u8]) -> Vec<u16> {
    let m = Message::parse(bytes).unwrap();
    m.payloads
        .iter()
        .filter_map(|p| p.as_notify().map(|n| n.notify_type))
        .collect()
}

#[test]
fn ike_and_child_up_with_same_keys() {
    let mut net = Net::pair(PSK, PSK);
    net.up();
    net.run_for(Duration::from_secs(10));
    assert!(
        net.ike_up(Side::A) && net.ike_up(Side::B),
        "{:#?}",
        net.events
    );
    assert!(
        net.child_up(Side::A) && net.child_up(Side::B),
        "{:#?}",
        net.events
    );
    net.assert_same_keys();
    // four messages, no retransmissions
    assert_eq!(net.sent.len(), 4);
    let ex: Vec<u8> = net.sent.iter().map(|p| p.exchange).collect();
    assert_eq!(
        ex,
        [
            wire::IKE_SA_INIT,
            wire::IKE_SA_INIT,
            wire::IKE_AUTH,
            wire::IKE_AUTH
        ]
    );
    // MOBIKE is on by default: IKE_AUTH floats to 4500 with the non-ESP marker
    assert_eq!(net.sent[2].tx.path.local.port(), 4500);
    assert_eq!(net.sent[2].tx.path.remote.port(), 4500);
    assert!(net.sent[2].tx.non_esp_marker);
    // default proposals: first of each list
    let up = net
        .events_of(Side::A)
        .into_iter()
        .find_map(|e| match e {
            EngineEvent::IkeUp { proposal, .. } => Some(proposal.to_string()),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        up,
        "IKE:AES_CBC_128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/ECP_256"
    );
    let child = net
        .events_of(Side::B)
        .into_iter()
        .find_map(|e| match e {
            EngineEvent::ChildUp {
                proposal,
                ts_local,
                ts_remote,
                ..
            } => Some((proposal.to_string(), ts_local.clone(), ts_remote.clone())),
            _ => None,
        })
        .unwrap();
    assert_eq!(child.0, "ESP:AES_GCM_16_128/NO_EXT_SEQ");
    assert_eq!(child.1, vec!["10.1.0.0/16".parse_ts()]);
    assert_eq!(child.2, vec![TsRange::host(addr("192.0.2.10:0").ip())]);
    // Sent / Received events describe the messages
    let sent: Vec<String> = net
        .events_of(Side::A)
        .into_iter()
        .filter_map(|e| match e {
            EngineEvent::Sent { info, .. } => Some(info.payloads.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        sent[0],
        "SA KE No N(NAT_DETECTION_SOURCE_IP) N(NAT_DETECTION_DESTINATION_IP)"
    );
    assert_eq!(
        sent[1],
        "SK{IDi N(INITIAL_CONTACT) IDr AUTH SA TSi TSr N(MOBIKE_SUPPORTED)}"
    );
    assert_eq!(net.a.stats().icv_failures, 0);
}

#[test]
fn proposal_variants() {
    for (ike, esp, want_ike, want_esp) in [
        (
            "aes256gcm16-prfsha384-ecp384",
            "aes256gcm16",
            "IKE:AES_GCM_16_256/PRF_HMAC_SHA2_384/ECP_384",
            "ESP:AES_GCM_16_256/NO_EXT_SEQ",
        ),
        (
            "aes128ctr-sha256-modp3072",
            "aes128-sha256",
            "IKE:AES_CTR_128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_3072",
            "ESP:AES_CBC_128/HMAC_SHA2_256_128/NO_EXT_SEQ",
        ),
        (
            "chacha20poly1305-prfsha256-x25519",
            "chacha20poly1305-esn",
            "IKE:CHACHA20_POLY1305_256/PRF_HMAC_SHA2_256/CURVE_25519",
            "ESP:CHACHA20_POLY1305_256/EXT_SEQ",
        ),
        (
            "aes192-sha512-modp2048",
            "aes128gcm16-x25519",
            "IKE:AES_CBC_192/HMAC_SHA2_512_256/PRF_HMAC_SHA2_512/MODP_2048",
            "ESP:AES_GCM_16_128/NO_EXT_SEQ",
        ),
        (
            "aes256-sha384-ecp521",
            "aes256-sha1",
            "IKE:AES_CBC_256/HMAC_SHA2_384_192/PRF_HMAC_SHA2_384/ECP_521",
            "ESP:AES_CBC_256/HMAC_SHA1_96/NO_EXT_SEQ",
        ),
    ] {
        let (mut ca, mut cb) = conns(addr("192.0.2.10:500"), addr("198.51.100.1:500"), PSK, PSK);
        ca.ike_proposals = Proposal::parse_list(Protocol::Ike, ike).unwrap();
        ca.esp_proposals = Proposal::parse_list(Protocol::Esp, esp).unwrap();
        // responder: defaults plus these
        cb.ike_proposals.extend(ca.ike_proposals.clone());
        cb.esp_proposals.extend(ca.esp_proposals.clone());
        let mut net = Net::new(ca, cb, Config::default(), Config::default());
        net.up();
        net.run_for(Duration::from_secs(10));
        assert!(
            net.child_up(Side::A) && net.child_up(Side::B),
            "{ike}: {:#?}",
            net.events
        );
        net.assert_same_keys();
        let sa = net.a.sas().next().unwrap();
        assert_eq!(sa.proposal.unwrap().to_string(), want_ike);
        assert_eq!(sa.children[0].proposal.to_string(), want_esp);
    }
}

#[test]
fn no_proposal_chosen() {
    let (mut ca, cb) = conns(addr("192.0.2.10:500"), addr("198.51.100.1:500"), PSK, PSK);
    ca.ike_proposals = Proposal::parse_list(Protocol::Ike, "3des-md5-modp2048").unwrap();
    let mut net = Net::new(ca, cb, Config::default(), Config::default());
    net.up();
    net.run_for(Duration::from_secs(10));
    let r = net.down_reason(Side::A).unwrap();
    assert!(r.contains("NO_PROPOSAL_CHOSEN"), "{r}");
    assert_eq!(net.b.sas().count(), 0);
}

#[test]
fn invalid_ke_payload_retry() {
    let (mut ca, mut cb) = conns(addr("192.0.2.10:500"), addr("198.51.100.1:500"), PSK, PSK);
    ca.ike_proposals =
        Proposal::parse_list(Protocol::Ike, "aes128-sha256-x25519-ecp384-modp2048").unwrap();
    cb.ike_proposals = Proposal::parse_list(Protocol::Ike, "aes128-sha256-ecp384").unwrap();
    let mut net = Net::new(ca, cb, Config::default(), Config::default());
    net.up();
    net.run_for(Duration::from_secs(10));
    assert!(
        net.child_up(Side::A) && net.child_up(Side::B),
        "{:#?}",
        net.events
    );
    net.assert_same_keys();
    // request(x25519), INVALID_KE(ecp384), request(ecp384), response, AUTH x2
    assert_eq!(net.sent.len(), 6);
    assert_eq!(notifies_in(&net.sent[1].tx.bytes), [nt::INVALID_KE_PAYLOAD]);
    let m = Message::parse(&net.sent[1].tx.bytes).unwrap();
    assert!(matches!(
        m.payloads[0].as_notify().unwrap().data,
        wire::NotifyData::KeGroup(20)
    ));
    let m = Message::parse(&net.sent[2].tx.bytes).unwrap();
    let ke = m
        .payloads
        .iter()
        .find_map(|p| match &p.body {
            PayloadBody::Ke(k) => Some(k.dh_group),
            _ => None,
        })
        .unwrap();
    assert_eq!(ke, 20);
    // same SPIi on the retry
    assert_eq!(
        Message::parse(&net.sent[0].tx.bytes).unwrap().header.spi_i,
        m.header.spi_i
    );
    assert_eq!(
        net.a.sas().next().unwrap().proposal.unwrap().to_string(),
        "IKE:AES_CBC_128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/ECP_384"
    );
}

#[test]
fn cookie_demanded_and_answered() {
    let (ca, cb) = conns(addr("192.0.2.10:500"), addr("198.51.100.1:500"), PSK, PSK);
    let cfg_b = Config {
        cookie_threshold: Some(0),
        ..Config::default()
    };
    let mut net = Net::new(ca, cb, Config::default(), cfg_b);
    net.up();
    net.run_for(Duration::from_secs(10));
    assert!(
        net.child_up(Side::A) && net.child_up(Side::B),
        "{:#?}",
        net.events
    );
    net.assert_same_keys();
    assert_eq!(notifies_in(&net.sent[1].tx.bytes), [nt::COOKIE]);
    let retry = Message::parse(&net.sent[2].tx.bytes).unwrap();
    let first = retry.payloads[0].as_notify().unwrap();
    assert_eq!(first.notify_type, nt::COOKIE);
    let demanded = Message::parse(&net.sent[1].tx.bytes).unwrap();
    assert_eq!(demanded.payloads[0].as_notify().unwrap().data, first.data);
}

#[test]
fn cookie_threshold_counts_half_open() {
    // threshold 1: the first initiator gets in without a cookie; while it is half-open a
    // second one must return a cookie.
    let (ca, cb) = conns(addr("192.0.2.10:500"), addr("198.51.100.1:500"), PSK, PSK);
    let cfg_b = Config {
        cookie_threshold: Some(1),
        ..Config::default()
    };
    let mut net = Net::new(ca, cb, Config::default(), cfg_b);
    // drop A's IKE_AUTH so B stays half-open
    net.fault = Box::new(|p| {
        if p.exchange == wire::IKE_AUTH {
            Fault::Drop
        } else {
            Fault::Deliver
        }
    });
    net.up();
    net.run_for(Duration::from_secs(1));
    assert!(!notifies_in(&net.sent[1].tx.bytes).contains(&nt::COOKIE));
    net.up();
    net.run_for(Duration::from_secs(1));
    let cookie_seen = net
        .sent
        .iter()
        .any(|p| p.from == Side::B && notifies_in(&p.tx.bytes) == [nt::COOKIE]);
    assert!(cookie_seen);
    // half-open SA expires after 30 s
    net.run_for(Duration::from_secs(60));
    assert!(net
        .events_of(Side::B)
        .iter()
        .any(|e| matches!(e, EngineEvent::IkeDown { reason, .. } if reason.contains("half-open"))));
}

#[test]
fn wrong_psk_is_authentication_failed() {
    let mut net = Net::pair(PSK, b"another PSK entirely");
    net.up();
    net.run_for(Duration::from_secs(10));
    let a = net.down_reason(Side::A).unwrap();
    let b = net.down_reason(Side::B).unwrap();
    assert!(a.contains("AUTHENTICATION_FAILED"), "{a}");
    assert!(b.contains("AUTHENTICATION_FAILED"), "{b}");
    assert!(!net.ike_up(Side::A) && !net.ike_up(Side::B));
    assert_eq!(net.a.sas().count() + net.b.sas().count(), 0);
    assert!(net.events_of(Side::A).iter().any(|e| matches!(
        e,
        EngineEvent::Error { reason, .. } if reason.contains("AUTHENTICATION_FAILED")
    )));
}

#[test]
fn wrong_peer_identity_is_rejected() {
    let (mut ca, cb) = conns(addr("192.0.2.10:500"), addr("198.51.100.1:500"), PSK, PSK);
    ca.remote_id = Some(mobikectl::engine::Identity::parse("sun.example").unwrap());
    let mut net = Net::new(ca, cb, Config::default(), Config::default());
    net.up();
    net.run_for(Duration::from_secs(10));
    let a = net.down_reason(Side::A).unwrap();
    assert!(a.contains("AUTHENTICATION_FAILED"), "{a}");
}

#[test]
fn retransmission_schedule_and_timeout() {
    let mut net = Net::pair(PSK, PSK);
    net.fault = Box::new(|p| {
        if p.from == Side::A {
            Fault::Drop
        } else {
            Fault::Deliver
        }
    });
    let t0 = net.now;
    net.up();
    net.run_for(Duration::from_secs(600));
    let times: Vec<f64> = net
        .sent
        .iter()
        .map(|p| p.sent_at.saturating_since(t0).as_secs_f64())
        .collect();
    let want = [0.0, 4.0, 11.2, 24.16, 47.488, 89.4784];
    assert_eq!(times.len(), want.len(), "{times:?}");
    for (t, w) in times.iter().zip(want) {
        assert!((t - w).abs() < 0.001, "{times:?}");
    }
    // identical bytes
    assert!(net.sent.iter().all(|p| p.tx.bytes == net.sent[0].tx.bytes));
    let timeout_at = net
        .events
        .iter()
        .find(|e| matches!(e.2, EngineEvent::Timeout { .. }))
        .map(|e| e.0.saturating_since(t0).as_secs_f64())
        .unwrap();
    assert!((timeout_at - 165.06).abs() < 0.01, "{timeout_at}");
    assert_eq!(
        net.count(Side::A, |e| matches!(e, EngineEvent::Retransmit { .. })),
        5
    );
    assert!(net.down_reason(Side::A).unwrap().contains("timeout"));
    assert_eq!(net.a.sas().count(), 0);
}

#[test]
fn configurable_retransmission() {
    let (ca, cb) = conns(addr("192.0.2.10:500"), addr("198.51.100.1:500"), PSK, PSK);
    let cfg_a = Config {
        retransmit: mobikectl::engine::RetransmitConfig {
            timeout: Duration::from_secs(1),
            base: 2.0,
            tries: 2,
        },
        ..Config::default()
    };
    let mut net = Net::new(ca, cb, cfg_a, Config::default());
    net.fault = Box::new(|_| Fault::Drop);
    let t0 = net.now;
    net.up();
    net.run_for(Duration::from_secs(60));
    let times: Vec<f64> = net
        .sent
        .iter()
        .map(|p| p.sent_at.saturating_since(t0).as_secs_f64())
        .collect();
    assert_eq!(times, [0.0, 1.0, 3.0]);
    let t = net
        .events
        .iter()
        .find(|e| matches!(e.2, EngineEvent::Timeout { .. }))
        .unwrap()
        .0;
    assert_eq!(t.saturating_since(t0), Duration::from_secs(7));
}

#[test]
fn duplicates_get_the_cached_response() {
    let mut net = Net::pair(PSK, PSK);
    net.fault = Box::new(|_| Fault::Duplicate);
    net.up();
    net.run_for(Duration::from_secs(10));
    assert!(
        net.child_up(Side::A) && net.child_up(Side::B),
        "{:#?}",
        net.events
    );
    net.assert_same_keys();
    assert_eq!(net.b.sas().count(), 1);
    // B answered the duplicated IKE_SA_INIT and IKE_AUTH requests from its cache
    assert_eq!(net.b.stats().cached_responses, 2);
    // duplicated responses at A are dropped as unexpected
    assert!(net.a.stats().bad_message_id + net.a.stats().dropped >= 2);
}

#[test]
fn lost_auth_response_is_replayed() {
    let mut net = Net::pair(PSK, PSK);
    let mut dropped = false;
    net.fault = Box::new(move |p| {
        if p.exchange == wire::IKE_AUTH && p.response && !dropped {
            dropped = true;
            Fault::Drop
        } else {
            Fault::Deliver
        }
    });
    let t0 = net.now;
    net.up();
    net.run_for(Duration::from_secs(30));
    assert!(
        net.child_up(Side::A) && net.child_up(Side::B),
        "{:#?}",
        net.events
    );
    net.assert_same_keys();
    assert_eq!(net.b.stats().cached_responses, 1);
    let retrans = net
        .events
        .iter()
        .find(|e| matches!(e.2, EngineEvent::Retransmit { .. }))
        .unwrap();
    assert!((retrans.0.saturating_since(t0).as_secs_f64() - 4.02).abs() < 0.01);
    // the replayed response is byte-identical
    let responses: Vec<&Vec<u8>> = net
        .sent
        .iter()
        .filter(|p| p.exchange == wire::IKE_AUTH && p.response)
        .map(|p| &p.tx.bytes)
        .collect();
    assert_eq!(responses.len(), 2);
    assert_eq!(responses[0], responses[1]);
}

#[test]
fn random_loss_duplication_reordering() {
    for seed in 0..20u64 {
        let mut net = Net::pair(PSK, PSK);
        let mut x = seed.wrapping_mul(0x9E3779B97F4A7C15) | 1;
        net.fault = Box::new(move |_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            match x % 10 {
                0 | 1 => Fault::Drop,
                2 => Fault::Duplicate,
                3 | 4 => Fault::Delay(Duration::from_millis(x % 3000)),
                _ => Fault::Deliver,
            }
        });
        net.up();
        net.run_for(Duration::from_secs(400));
        if net.ike_up(Side::A) {
            assert!(net.child_up(Side::A));
            assert!(net.ike_up(Side::B) && net.child_up(Side::B), "seed {seed}");
            net.assert_same_keys();
        } else {
            // gave up: must be a timeout, never a protocol error
            let r = net.down_reason(Side::A).unwrap();
            assert!(r.contains("timeout"), "seed {seed}: {r}");
        }
        assert_eq!(net.a.stats().icv_failures + net.b.stats().icv_failures, 0);
    }
}

#[test]
fn nat_detection_and_virtual_ip() {
    let (mut ca, mut cb) = conns(addr("10.0.0.2:500"), addr("198.51.100.1:500"), PSK, PSK);
    ca.request_vip = true;
    ca.mobike = false; // float only because of the NAT
    cb.mobike = false;
    cb.vip_pool = vec!["10.3.0.1".parse().unwrap(), "10.3.0.2".parse().unwrap()];
    let mut net = Net::new(ca, cb, Config::default(), Config::default());
    net.nat.push(Nat {
        inside: addr("10.0.0.2:0"),
        outside: addr("203.0.113.5:40000"),
    });
    net.up();
    net.run_for(Duration::from_secs(10));
    assert!(
        net.child_up(Side::A) && net.child_up(Side::B),
        "{:#?}",
        net.events
    );
    net.assert_same_keys();
    let nat_a = net.events_of(Side::A).into_iter().find_map(|e| match e {
        EngineEvent::IkeUp {
            nat_local,
            nat_remote,
            path,
            ..
        } => Some((*nat_local, *nat_remote, path.local, path.remote)),
        _ => None,
    });
    assert_eq!(
        nat_a,
        Some((
            true,
            false,
            addr("10.0.0.2:4500"),
            addr("198.51.100.1:4500")
        ))
    );
    let nat_b = net.events_of(Side::B).into_iter().find_map(|e| match e {
        EngineEvent::IkeUp {
            nat_local,
            nat_remote,
            path,
            ..
        } => Some((*nat_local, *nat_remote, path.remote)),
        _ => None,
    });
    // B sees the NAT's mapping of A's port 4500
    assert_eq!(nat_b, Some((false, true, addr("203.0.113.5:44500"))));
    let vip = net.events_of(Side::A).into_iter().find_map(|e| match e {
        EngineEvent::ChildUp { vip, ts_local, .. } => Some((*vip, ts_local.clone())),
        _ => None,
    });
    assert_eq!(
        vip,
        Some((
            Some("10.3.0.1".parse().unwrap()),
            vec![TsRange::host("10.3.0.1".parse().unwrap())]
        ))
    );
    // IKE_AUTH went over 4500 with the marker
    let auth = net
        .sent
        .iter()
        .find(|p| p.exchange == wire::IKE_AUTH)
        .unwrap();
    assert!(auth.tx.non_esp_marker && auth.tx.path.local.port() == 4500);
    // B's later requests go to the NAT mapping
    let sa_b = net.b.sas().next().unwrap().id;
    net.command(Side::B, Command::Dpd(sa_b));
    net.run_for(Duration::from_secs(5));
    let dpd = net.sent.last().unwrap();
    assert!(dpd.from == Side::A && dpd.response, "DPD answered");
}

#[test]
fn no_nat_no_mobike_stays_on_500() {
    let (mut ca, mut cb) = conns(addr("192.0.2.10:500"), addr("198.51.100.1:500"), PSK, PSK);
    ca.mobike = false;
    cb.mobike = false;
    let mut net = Net::new(ca, cb, Config::default(), Config::default());
    net.up();
    net.run_for(Duration::from_secs(10));
    assert!(net.child_up(Side::A));
    assert!(net.sent.iter().all(|p| !p.tx.non_esp_marker
        && p.tx.path.local.port() == 500
        && p.tx.path.remote.port() == 500));
    let ev = net.events_of(Side::A).into_iter().find_map(|e| match e {
        EngineEvent::IkeUp {
            nat_local,
            nat_remote,
            ..
        } => Some((*nat_local, *nat_remote)),
        _ => None,
    });
    assert_eq!(ev, Some((false, false)));
    assert!(!net.a.sas().next().unwrap().peer_mobike);
}

fn established() -> Net {
    let mut net = Net::pair(PSK, PSK);
    net.up();
    net.run_for(Duration::from_secs(10));
    assert!(net.child_up(Side::A) && net.child_up(Side::B));
    net.sent.clear();
    net.events.clear();
    net
}

#[test]
fn dpd_both_ways() {
    let mut net = established();
    let a = net.a.sas().next().unwrap().id;
    let b = net.b.sas().next().unwrap().id;
    net.command(Side::A, Command::Dpd(a));
    net.run_for(Duration::from_secs(5));
    net.command(Side::B, Command::Dpd(b));
    net.run_for(Duration::from_secs(5));
    let kinds: Vec<(Side, u8, u32, bool)> = net
        .sent
        .iter()
        .map(|p| (p.from, p.exchange, p.message_id, p.response))
        .collect();
    assert_eq!(
        kinds,
        [
            (Side::A, wire::INFORMATIONAL, 2, false),
            (Side::B, wire::INFORMATIONAL, 2, true),
            (Side::B, wire::INFORMATIONAL, 0, false),
            (Side::A, wire::INFORMATIONAL, 0, true),
        ]
    );
    // queued DPDs run one at a time (window size 1)
    net.command(Side::A, Command::Dpd(a));
    net.command(Side::A, Command::Dpd(a));
    net.run_for(Duration::from_secs(5));
    let ids: Vec<u32> = net.sent[4..].iter().map(|p| p.message_id).collect();
    assert_eq!(ids, [3, 3, 4, 4]);
    assert!(net.a.sas().next().is_some() && net.b.sas().next().is_some());
}

#[test]
fn dpd_timeout_takes_the_sa_down() {
    let mut net = established();
    let a = net.a.sas().next().unwrap().id;
    net.fault = Box::new(|p| {
        if p.from == Side::B {
            Fault::Drop
        } else {
            Fault::Deliver
        }
    });
    net.command(Side::A, Command::Dpd(a));
    net.run_for(Duration::from_secs(300));
    assert!(net.down_reason(Side::A).unwrap().contains("timeout"));
    assert_eq!(
        net.count(Side::A, |e| matches!(e, EngineEvent::ChildDown { .. })),
        1
    );
    // B answered every retransmission from its cache
    assert_eq!(net.b.stats().cached_responses, 5);
}

#[test]
fn delete_child_both_ways() {
    for side in [Side::A, Side::B] {
        let mut net = established();
        let (id, spi) = {
            let sa = net.engine(side).sas().next().unwrap();
            (sa.id, sa.children[0].spi_in)
        };
        net.command(side, Command::DownChild(id, spi));
        net.run_for(Duration::from_secs(5));
        for s in [Side::A, Side::B] {
            assert_eq!(
                net.count(s, |e| matches!(e, EngineEvent::ChildDown { .. })),
                1,
                "{side:?} {s:?}"
            );
            assert!(net.engine(s).sas().next().unwrap().children.is_empty());
            assert!(net.count(s, |e| matches!(e, EngineEvent::IkeDown { .. })) == 0);
        }
    }
}

#[test]
fn delete_ike_both_ways() {
    for side in [Side::A, Side::B] {
        let mut net = established();
        let id = net.engine(side).sas().next().unwrap().id;
        net.command(side, Command::Down(id));
        net.run_for(Duration::from_secs(5));
        for s in [Side::A, Side::B] {
            assert!(net.down_reason(s).is_some(), "{side:?} {s:?}");
            assert_eq!(net.engine(s).sas().count(), 0);
            assert_eq!(
                net.count(s, |e| matches!(e, EngineEvent::ChildDown { .. })),
                1
            );
        }
        assert_eq!(net.down_reason(side).unwrap(), "deleted");
    }
}

#[test]
fn commands_and_status() {
    let mut net = established();
    let a = net.a.sas().next().unwrap().id;
    let now = net.now;
    assert!(net.a.command(now, Command::Up("nope".into())).is_err());
    assert!(net
        .a
        .command(now, Command::RekeyIke(mobikectl::engine::SaId(999)))
        .is_err());
    assert!(net.a.command(now, Command::RekeyChild(a, 12345)).is_err());
    assert!(net.a.command(now, Command::DownChild(a, 12345)).is_err());
    net.a.command(now, Command::Status).unwrap();
    let st = match net.a.poll_event() {
        Some(EngineEvent::Status(s)) => s,
        e => panic!("{e:?}"),
    };
    assert_eq!(st.len(), 1);
    assert_eq!(st[0].conn, "home");
    assert_eq!(st[0].children.len(), 1);
}

#[test]
fn debug_output_has_no_key_material() {
    let net = established();
    let sa = net.a.sas().next().unwrap();
    let dbg = format!("{sa:?} {:?}", net.a);
    let k = sa.keys.as_ref().unwrap();
    for key in [&k.sk_d, &k.sk_ei, &k.sk_ai, &k.sk_pi] {
        let h = hex::encode(&key[..8]);
        assert!(!dbg.contains(&h), "{dbg}");
        let bytes = format!("{:?}", &key[..4]);
        assert!(!dbg.contains(&bytes[1..bytes.len() - 1]), "{dbg}");
    }
    let psk = format!("{:?}", net.a.config().connections[0].psk);
    assert!(!psk.contains("long enough"));
}

/// A behind a NAT with a 5 s keepalive interval (B without NAT in front of it).
fn natted(keepalive: Duration) -> Net {
    let (mut ca, mut cb) = conns(addr("10.0.0.2:500"), addr("198.51.100.1:500"), PSK, PSK);
    ca.request_vip = true;
    cb.vip_pool = vec!["10.3.0.1".parse().unwrap()];
    let cfg = Config {
        keepalive,
        ..Config::default()
    };
    let mut net = Net::new(ca, cb, cfg.clone(), cfg);
    net.nat.push(Nat {
        inside: addr("10.0.0.2:0"),
        outside: addr("203.0.113.5:40000"),
    });
    net.up();
    net.run_for(Duration::from_secs(2));
    assert!(
        net.child_up(Side::A) && net.child_up(Side::B),
        "{:#?}",
        net.events
    );
    net
}

#[test]
fn nat_t_keepalives_from_the_natted_side_only() {
    let mut net = natted(Duration::from_secs(5));
    let up = net.now;
    // the last IKE message A sent (the IKE_AUTH request) starts the interval
    let last_out = net
        .sent
        .iter()
        .rev()
        .find(|p| p.from == Side::A)
        .unwrap()
        .sent_at;
    net.run_for(Duration::from_secs(30));
    let ka: Vec<_> = net.keepalives.clone();
    assert!(ka.iter().all(|(_, s, _)| *s == Side::A), "{ka:?}");
    let times: Vec<u64> = ka.iter().map(|(t, _, _)| t.as_micros()).collect();
    assert_eq!(times.len(), 6, "{times:?}");
    assert_eq!(times[0], last_out.as_micros() + 5_000_000);
    assert!(
        times.windows(2).all(|w| w[1] - w[0] == 5_000_000),
        "{times:?}"
    );
    for (_, _, t) in &ka {
        assert_eq!(t.bytes, [0xff]);
        assert!(!t.non_esp_marker);
        assert_eq!(t.path.local, addr("10.0.0.2:4500"));
        assert_eq!(t.path.remote, addr("198.51.100.1:4500"));
    }
    // B received and ignored them
    assert_eq!(net.b.stats().keepalives, 6);
    assert_eq!(net.b.stats().malformed, 0);
    assert!(net.down_reason(Side::A).is_none() && net.down_reason(Side::B).is_none());
    assert!(up < net.now);
    // IKE traffic resets the interval: a DPD 2 s after a keepalive delays the next one
    let last = net.keepalives.last().unwrap().0;
    net.run_for(last.saturating_since(net.now) + Duration::from_secs(2));
    let sa = net.a.sas().next().unwrap().id;
    let dpd_at = net.now;
    net.command(Side::A, Command::Dpd(sa));
    net.run_for(Duration::from_secs(10));
    let next = net
        .keepalives
        .iter()
        .map(|k| k.0)
        .find(|t| *t > last)
        .unwrap();
    assert_eq!(next, dpd_at + Duration::from_secs(5));
}

#[test]
fn no_keepalives_without_nat_or_when_disabled() {
    let mut net = Net::new(
        conns(addr("192.0.2.10:500"), addr("198.51.100.1:500"), PSK, PSK).0,
        conns(addr("192.0.2.10:500"), addr("198.51.100.1:500"), PSK, PSK).1,
        Config {
            keepalive: Duration::from_secs(5),
            ..Config::default()
        },
        Config {
            keepalive: Duration::from_secs(5),
            ..Config::default()
        },
    );
    net.up();
    net.run_for(Duration::from_secs(60));
    assert!(net.child_up(Side::A) && net.child_up(Side::B));
    // floated to 4500 (MOBIKE) but no NAT: no keepalives
    assert!(net.a.sas().next().unwrap().uses_nat_t(4500));
    assert!(net.keepalives.is_empty(), "{:?}", net.keepalives);
    // NAT but keepalives off
    let mut net = natted(Duration::ZERO);
    net.run_for(Duration::from_secs(120));
    assert!(net.keepalives.is_empty(), "{:?}", net.keepalives);
    // the default interval is strongSwan's 20 s
    assert_eq!(Config::default().keepalive, Duration::from_secs(20));
}

#[test]
fn engine_ignores_a_received_keepalive() {
    let mut net = established();
    let (local, remote) = (net.b_addr, net.a_addr);
    let now = net.now;
    net.b
        .handle_datagram(now, Path::new(local, remote), &[0xff]);
    assert_eq!(net.b.stats().keepalives, 1);
    assert_eq!(net.b.stats().malformed, 0);
    assert!(net.b.poll_transmit().is_none());
}
