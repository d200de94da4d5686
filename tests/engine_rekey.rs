//! CREATE_CHILD_SA: CHILD_SA and IKE SA rekeying in both directions, PFS, additional
//! CHILD_SAs, lifetimes on the simulated clock, loss and duplication, collisions, and the
//! key log of rekeyed IKE SAs.

mod sim;

use std::time::Duration;

use mobikectl::crypto::dh::DhGroup;
use mobikectl::crypto::{decrypt_sk, derive_child_sa_keys, derive_ike_sa_keys, Integrity, SkKeys};
use mobikectl::engine::{
    Command, Config, ConnConfig, EngineEvent, IkeSa, Proposal, Protocol, Rekey, SaId,
};
use mobikectl::keys::keylog::{write_keylog_header, write_keylog_record};
use mobikectl::keys::KeyStore;
use mobikectl::wire::{
    self, notify_type as nt, parse_payload_chain, Message, Payload, PayloadBody,
};
use sim::{addr, conns, Fault, Net, ParseTs, Side};

const PSK: &[u8] = b"this is a long enough test PSK";

fn pair_with(f: impl FnOnce(&mut ConnConfig, &mut ConnConfig)) -> Net {
    let (mut ca, mut cb) = conns(addr("192.0.2.10:500"), addr("198.51.100.1:500"), PSK, PSK);
    f(&mut ca, &mut cb);
    Net::new(ca, cb, Config::default(), Config::default())
}

fn up(mut net: Net) -> Net {
    net.up();
    net.run_for(Duration::from_secs(10));
    assert!(
        net.child_up(Side::A) && net.child_up(Side::B),
        "{:#?}",
        net.events
    );
    net.assert_agree();
    net.sent.clear();
    net.events.clear();
    net
}

fn established() -> Net {
    up(Net::pair(PSK, PSK))
}

fn pfs(esp: &'static str) -> Net {
    up(pair_with(|a, b| {
        a.esp_proposals = Proposal::parse_list(Protocol::Esp, esp).unwrap();
        b.esp_proposals = Proposal::parse_list(Protocol::Esp, esp).unwrap();
    }))
}

fn sa_of(net: &Net, side: Side) -> SaId {
    net.established_sa(side).id
}

fn child_of(net: &Net, side: Side) -> (u32, u32) {
    let c = &net.established_sa(side).children[0];
    (c.spi_in, c.spi_out)
}

/// Decrypt a protected message with `sk` and return its inner payloads.
fn inner(sk: &SkKeys, bytes: &[u8]) -> Option<Vec<Payload<'static>>> {
    let m = Message::parse(bytes).ok()?;
    let last = m.payloads.last()?;
    let d = decrypt_sk(sk, m.header.is_initiator(), bytes, last.offset).ok()?;
    if d.integrity != Integrity::Ok {
        return None;
    }
    let (p, _) = parse_payload_chain(d.next_payload, &d.plaintext, 0).ok()?;
    Some(p.into_iter().map(Payload::into_owned).collect())
}

fn nonce_of(p: &[Payload<'_>]) -> Vec<u8> {
    p.iter()
        .find_map(|x| match &x.body {
            PayloadBody::Nonce(n) => Some(n.to_vec()),
            _ => None,
        })
        .expect("nonce")
}

fn has_ke(p: &[Payload<'_>]) -> bool {
    p.iter().any(|x| matches!(x.body, PayloadBody::Ke(_)))
}

/// (request, response) inner payloads of the first CREATE_CHILD_SA exchange protected
/// with `sk`.
fn create_child_exchange(net: &Net, sk: &SkKeys) -> (Vec<Payload<'static>>, Vec<Payload<'static>>) {
    let find = |resp: bool| {
        net.sent
            .iter()
            .filter(|p| p.exchange == wire::CREATE_CHILD_SA && p.response == resp)
            .find_map(|p| inner(sk, &p.tx.bytes))
            .expect("CREATE_CHILD_SA message")
    };
    (find(false), find(true))
}

fn rekeyed_events(net: &Net, side: Side) -> Vec<(Rekey, bool)> {
    net.events_of(side)
        .into_iter()
        .filter_map(|e| match e {
            EngineEvent::Rekeyed {
                rekey, initiator, ..
            } => Some((rekey.clone(), *initiator)),
            _ => None,
        })
        .collect()
}

fn no_ike_down(net: &Net) {
    for s in [Side::A, Side::B] {
        assert_eq!(
            net.count(s, |e| matches!(e, EngineEvent::IkeDown { .. })),
            0,
            "{:#?}",
            net.events
        );
    }
}

fn exchanges(net: &Net) -> Vec<(Side, u8, u32, bool)> {
    net.sent
        .iter()
        .map(|p| (p.from, p.exchange, p.message_id, p.response))
        .collect()
}

/// Rekey the CHILD_SA from `side`; check everything a rekey must do.
fn child_rekey(mut net: Net, side: Side, expect_ke: bool) -> Net {
    let sk = net.established_sa(Side::A).sk.clone().unwrap();
    let ike_keys = net.established_sa(Side::A).keys.clone().unwrap();
    let old_a = child_of(&net, Side::A);
    let old_keys = net.established_sa(Side::A).children[0].keys.clone();
    let id = sa_of(&net, side);
    let spi = child_of(&net, side).0;
    net.command(side, Command::RekeyChild(id, spi));
    net.run_for(Duration::from_secs(10));
    assert_eq!(net.assert_agree(), 1);
    let new_a = child_of(&net, Side::A);
    assert!(new_a.0 != old_a.0 && new_a.1 != old_a.1);
    let new = &net.established_sa(Side::A).children[0];
    assert_ne!(new.keys, old_keys);
    assert!(!new.rekeyed);
    // CREATE_CHILD_SA, then the initiator deletes the old CHILD_SA
    let other = if side == Side::A { Side::B } else { Side::A };
    let ex = exchanges(&net);
    assert_eq!(ex.len(), 4, "{ex:?}");
    assert_eq!(
        ex.iter().map(|e| (e.0, e.1, e.3)).collect::<Vec<_>>(),
        [
            (side, wire::CREATE_CHILD_SA, false),
            (other, wire::CREATE_CHILD_SA, true),
            (side, wire::INFORMATIONAL, false),
            (other, wire::INFORMATIONAL, true),
        ]
    );
    // the request names the old SA by the initiator's inbound SPI
    let (req, resp) = create_child_exchange(&net, &sk);
    let rekey = req
        .iter()
        .find_map(|p| p.as_notify().filter(|n| n.notify_type == nt::REKEY_SA))
        .expect("N(REKEY_SA)");
    assert_eq!(rekey.protocol_id, wire::protocol_id::ESP);
    assert_eq!(&rekey.spi[..], &spi.to_be_bytes());
    assert_eq!(has_ke(&req), expect_ke);
    assert_eq!(has_ke(&resp), expect_ke);
    // KEYMAT = prf+(SK_d, [g^ir |] Ni | Nr) with the nonces on the wire
    let (ni, nr) = (nonce_of(&req), nonce_of(&resp));
    let no_pfs = derive_child_sa_keys(
        ike_keys.transforms.prf,
        &ike_keys.sk_d,
        new.proposal.encr,
        new.proposal.integ,
        None,
        &ni,
        &nr,
    )
    .unwrap();
    assert_eq!(no_pfs == new.keys, !expect_ke);
    assert_eq!(new.proposal.dh.is_some(), expect_ke);
    // events on both sides
    for s in [Side::A, Side::B] {
        let r = rekeyed_events(&net, s);
        assert_eq!(r.len(), 1, "{s:?} {:#?}", net.events);
        let (in_old, in_new) = if s == Side::A {
            (old_a, new_a)
        } else {
            ((old_a.1, old_a.0), (new_a.1, new_a.0))
        };
        assert_eq!(
            r[0],
            (
                Rekey::Child {
                    old_spis: in_old,
                    new_spis: in_new
                },
                s == side
            )
        );
        assert_eq!(
            net.count(
                s,
                |e| matches!(e, EngineEvent::ChildUp { spis, .. } if *spis == in_new)
            ),
            1
        );
        assert_eq!(
            net.count(
                s,
                |e| matches!(e, EngineEvent::ChildDown { spis, .. } if *spis == in_old)
            ),
            1
        );
    }
    no_ike_down(&net);
    net.sent.clear();
    net.events.clear();
    net
}

#[test]
fn child_rekey_initiated_by_initiator() {
    child_rekey(established(), Side::A, false);
}

#[test]
fn child_rekey_initiated_by_responder() {
    child_rekey(established(), Side::B, false);
}

#[test]
fn child_rekey_with_pfs_both_ways() {
    for esp in [
        "aes128gcm16-x25519",
        "aes256-sha256-modp2048",
        "aes128-sha1-ecp256",
    ] {
        let net = pfs(esp);
        // IKE_AUTH ignores the group
        assert_eq!(net.established_sa(Side::A).children[0].proposal.dh, None);
        let net = child_rekey(net, Side::A, true);
        let g = net.established_sa(Side::A).children[0].proposal.dh;
        assert!(g.is_some(), "{esp}");
        // again from the other side, with the group of the previous rekey
        let net = child_rekey(net, Side::B, true);
        assert_eq!(net.established_sa(Side::B).children[0].proposal.dh, g);
    }
}

#[test]
fn pfs_group_mismatch_invalid_ke_retry() {
    // A proposes x25519 first, B only accepts ecp256: INVALID_KE_PAYLOAD, retry.
    let net = up(pair_with(|a, b| {
        a.esp_proposals = Proposal::parse_list(Protocol::Esp, "aes128gcm16-x25519-ecp256").unwrap();
        b.esp_proposals = Proposal::parse_list(Protocol::Esp, "aes128gcm16-ecp256").unwrap();
    }));
    let mut net = net;
    let (id, spi) = (sa_of(&net, Side::A), child_of(&net, Side::A).0);
    net.command(Side::A, Command::RekeyChild(id, spi));
    net.run_for(Duration::from_secs(10));
    net.assert_agree();
    let c = &net.established_sa(Side::A).children[0];
    assert_eq!(c.proposal.dh, Some(DhGroup::Ecp256));
    let ex: Vec<_> = exchanges(&net).iter().map(|e| (e.1, e.2)).collect();
    assert_eq!(
        ex,
        [
            (wire::CREATE_CHILD_SA, 2),
            (wire::CREATE_CHILD_SA, 2),
            (wire::CREATE_CHILD_SA, 3),
            (wire::CREATE_CHILD_SA, 3),
            (wire::INFORMATIONAL, 4),
            (wire::INFORMATIONAL, 4),
        ]
    );
}

#[test]
fn repeated_child_rekeys_alternating() {
    let mut net = established();
    for i in 0..6 {
        net = child_rekey(net, if i % 2 == 0 { Side::A } else { Side::B }, false);
    }
}

/// Rekey the IKE SA from `side`; check everything.
fn ike_rekey(mut net: Net, side: Side) -> Net {
    let old = net.established_sa(side).id;
    let old_sa: &IkeSa = net.established_sa(Side::A);
    let old_spis = (old_sa.spi_i, old_sa.spi_r);
    let old_sk = old_sa.sk.clone().unwrap();
    let old_keys = old_sa.keys.clone().unwrap();
    let children_before: Vec<(u32, u32)> = old_sa
        .children
        .iter()
        .map(|c| (c.spi_in, c.spi_out))
        .collect();
    net.command(side, Command::RekeyIke(old));
    net.run_for(Duration::from_secs(10));
    net.assert_agree();
    let other = if side == Side::A { Side::B } else { Side::A };
    let new = net.established_sa(side);
    assert!(
        new.initiator,
        "the rekey initiator is the new SA's initiator"
    );
    assert!(!net.established_sa(other).initiator);
    let new_spis = (new.spi_i, new.spi_r);
    assert!(new_spis.0 != old_spis.0 && new_spis.1 != old_spis.1);
    // CHILD_SAs moved over unchanged
    let a = net.established_sa(Side::A);
    let children: Vec<(u32, u32)> = a.children.iter().map(|c| (c.spi_in, c.spi_out)).collect();
    assert_eq!(children, children_before);
    // the old IKE SA is gone on both sides (deleted by the rekey initiator)
    assert_eq!(net.a.sas().count(), 1);
    assert_eq!(net.b.sas().count(), 1);
    let ex = exchanges(&net);
    assert_eq!(
        ex.iter().map(|e| (e.0, e.1, e.3)).collect::<Vec<_>>(),
        [
            (side, wire::CREATE_CHILD_SA, false),
            (other, wire::CREATE_CHILD_SA, true),
            (side, wire::INFORMATIONAL, false),
            (other, wire::INFORMATIONAL, true),
        ]
    );
    // SKEYSEED = prf(SK_d (old), g^ir | Ni | Nr); the keys follow from it, the nonces
    // and the new SPIs of the exchange
    let (req, resp) = create_child_exchange(&net, &old_sk);
    assert!(has_ke(&req) && has_ke(&resp));
    let (ni, nr) = (nonce_of(&req), nonce_of(&resp));
    let new_keys = a.keys.clone().unwrap();
    assert_eq!((&a.ni, &a.nr), (&ni, &nr));
    assert_ne!(new_keys.skeyseed, old_keys.skeyseed);
    let again = derive_ike_sa_keys(
        new_keys.transforms,
        &new_keys.skeyseed,
        &ni,
        &nr,
        new_spis.0,
        new_spis.1,
    )
    .unwrap();
    assert_eq!(again, new_keys);
    let spi_of = |p: &[Payload<'_>]| {
        p.iter()
            .find_map(|x| match &x.body {
                PayloadBody::Sa(s) => Some(s.proposals[0].spi.to_vec()),
                _ => None,
            })
            .unwrap()
    };
    assert_eq!(spi_of(&req), new_spis.0.to_be_bytes());
    assert_eq!(spi_of(&resp), new_spis.1.to_be_bytes());
    // the Delete of the old SA is protected with the old keys
    let del = net
        .sent
        .iter()
        .find(|p| p.exchange == wire::INFORMATIONAL && !p.response)
        .unwrap();
    let d = inner(&old_sk, &del.tx.bytes).expect("old keys");
    assert!(
        matches!(d[0].body, PayloadBody::Delete(ref x) if x.protocol_id == wire::protocol_id::IKE)
    );
    // events: Rekeyed(ike), no IkeDown / ChildDown
    for s in [Side::A, Side::B] {
        let r = rekeyed_events(&net, s);
        assert_eq!(r.len(), 1, "{:#?}", net.events);
        match &r[0] {
            (
                Rekey::Ike {
                    old_spis: o,
                    new_spis: n,
                    ..
                },
                init,
            ) => {
                assert_eq!((*o, *n, *init), (old_spis, new_spis, s == side));
            }
            e => panic!("{e:?}"),
        }
        assert_eq!(
            net.count(s, |e| matches!(e, EngineEvent::ChildDown { .. })),
            0
        );
    }
    no_ike_down(&net);
    // message IDs of the new SA start at 0 in both directions
    net.sent.clear();
    net.events.clear();
    let (ida, idb) = (sa_of(&net, Side::A), sa_of(&net, Side::B));
    net.command(Side::A, Command::Dpd(ida));
    net.run_for(Duration::from_secs(5));
    net.command(Side::B, Command::Dpd(idb));
    net.run_for(Duration::from_secs(5));
    let ids: Vec<u32> = net.sent.iter().map(|p| p.message_id).collect();
    assert_eq!(ids, [0, 0, 0, 0]);
    for p in &net.sent {
        let h = Message::parse(&p.tx.bytes).unwrap().header;
        assert_eq!((h.spi_i, h.spi_r), new_spis);
        assert_eq!(h.is_initiator(), p.from == side);
    }
    net.sent.clear();
    net.events.clear();
    net
}

#[test]
fn ike_rekey_initiated_by_initiator() {
    ike_rekey(established(), Side::A);
}

#[test]
fn ike_rekey_initiated_by_responder() {
    ike_rekey(established(), Side::B);
}

#[test]
fn ike_rekeys_and_child_rekeys_interleaved() {
    let mut net = established();
    for (i, side) in [Side::A, Side::B, Side::B, Side::A].into_iter().enumerate() {
        net = ike_rekey(net, side);
        net = child_rekey(net, if i % 2 == 0 { Side::B } else { Side::A }, false);
    }
}

#[test]
fn ike_rekey_with_other_group_and_proposal() {
    // B prefers ecp384 and AES-GCM: the rekey may switch proposals (INVALID_KE first).
    let net = up(pair_with(|a, b| {
        a.ike_proposals = Proposal::parse_list(
            Protocol::Ike,
            "aes128-sha256-ecp256,aes256gcm16-prfsha384-ecp384",
        )
        .unwrap();
        b.ike_proposals = Proposal::parse_list(Protocol::Ike, "aes128-sha256-ecp256").unwrap();
    }));
    let mut net = net;
    // now B only takes the second proposal
    net.b.config_mut().connections[0].ike_proposals =
        Proposal::parse_list(Protocol::Ike, "aes256gcm16-prfsha384-ecp384").unwrap();
    let id = sa_of(&net, Side::A);
    net.command(Side::A, Command::RekeyIke(id));
    net.run_for(Duration::from_secs(10));
    net.assert_agree();
    assert_eq!(
        net.established_sa(Side::A).proposal.unwrap().to_string(),
        "IKE:AES_GCM_16_256/PRF_HMAC_SHA2_384/ECP_384"
    );
}

#[test]
fn additional_child_sa_both_ways() {
    let mut net = established();
    let id = sa_of(&net, Side::A);
    net.command(Side::A, Command::CreateChild(id));
    net.run_for(Duration::from_secs(5));
    assert_eq!(net.assert_agree(), 2);
    let idb = sa_of(&net, Side::B);
    net.command(Side::B, Command::CreateChild(idb));
    net.run_for(Duration::from_secs(5));
    assert_eq!(net.assert_agree(), 3);
    for s in [Side::A, Side::B] {
        assert_eq!(
            net.count(s, |e| matches!(e, EngineEvent::ChildUp { .. })),
            2
        );
        assert!(rekeyed_events(&net, s).is_empty());
    }
    // no REKEY_SA in these requests
    let sk = net.established_sa(Side::A).sk.clone().unwrap();
    let (req, _) = create_child_exchange(&net, &sk);
    assert!(req
        .iter()
        .all(|p| p.as_notify().is_none_or(|n| n.notify_type != nt::REKEY_SA)));
    // all three move with an IKE rekey, and each can be rekeyed
    net.sent.clear();
    net.events.clear();
    let mut net = ike_rekey(net, Side::B);
    assert_eq!(net.assert_agree(), 3);
    let id = sa_of(&net, Side::A);
    for spi in net
        .established_sa(Side::A)
        .children
        .iter()
        .map(|c| c.spi_in)
        .collect::<Vec<_>>()
    {
        net.command(Side::A, Command::RekeyChild(id, spi));
    }
    net.run_for(Duration::from_secs(10));
    assert_eq!(net.assert_agree(), 3);
    assert_eq!(rekeyed_events(&net, Side::B).len(), 3);
}

#[test]
fn rekeys_queue_behind_other_exchanges() {
    let mut net = established();
    let id = sa_of(&net, Side::A);
    let spi = child_of(&net, Side::A).0;
    net.command(Side::A, Command::Dpd(id));
    net.command(Side::A, Command::RekeyChild(id, spi));
    net.command(Side::A, Command::RekeyIke(id));
    net.command(Side::A, Command::Dpd(id));
    // nothing but the first DPD is on the wire yet
    net.run_for(Duration::from_secs(20));
    net.assert_agree();
    let a: Vec<(u8, u32)> = exchanges(&net)
        .iter()
        .filter(|e| e.0 == Side::A)
        .map(|e| (e.1, e.2))
        .collect();
    // DPD, child rekey, its Delete, IKE rekey; then the Delete of the old IKE SA (old
    // message IDs) and the queued DPD on the new SA (message ID 0)
    assert_eq!(
        a,
        [
            (wire::INFORMATIONAL, 2),
            (wire::CREATE_CHILD_SA, 3),
            (wire::INFORMATIONAL, 4),
            (wire::CREATE_CHILD_SA, 5),
            (wire::INFORMATIONAL, 0),
            (wire::INFORMATIONAL, 6),
        ]
    );
    // window size 1: every request of A was answered before A's next one on that SA
    let mut open: Vec<(u64, u32)> = vec![];
    for p in &net.sent {
        let h = Message::parse(&p.tx.bytes).unwrap().header;
        let key = (h.spi_i, h.message_id);
        if p.from == Side::A && !p.response {
            assert!(
                !open.iter().any(|o| o.0 == h.spi_i),
                "two requests outstanding"
            );
            open.push(key);
        } else if p.from == Side::B && p.response {
            open.retain(|o| *o != key);
        }
    }
}

fn lossy(seed: u64) -> Box<dyn FnMut(&sim::Packet) -> Fault> {
    let mut x = seed.wrapping_mul(0x9E3779B97F4A7C15) | 1;
    Box::new(move |_| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        match x % 10 {
            0 | 1 => Fault::Drop,
            2 | 3 => Fault::Duplicate,
            4 => Fault::Delay(Duration::from_millis(x % 3000)),
            _ => Fault::Deliver,
        }
    })
}

#[test]
fn rekeys_survive_loss_and_duplication() {
    for seed in 0..30u64 {
        let mut net = established();
        net.fault = lossy(seed);
        let side = if seed % 2 == 0 { Side::A } else { Side::B };
        let id = sa_of(&net, side);
        let spi = child_of(&net, side).0;
        if seed % 3 == 0 {
            net.command(side, Command::RekeyIke(id));
            net.command(side, Command::RekeyChild(id, spi));
        } else {
            net.command(side, Command::RekeyChild(id, spi));
            net.command(side, Command::RekeyIke(id));
        }
        net.run_for(Duration::from_secs(600));
        let down = net.down_reason(Side::A).or(net.down_reason(Side::B));
        if let Some(r) = down {
            // gave up after all retransmissions: only a timeout is acceptable
            assert!(r.contains("timeout"), "seed {seed}: {r}");
            continue;
        }
        assert_eq!(net.assert_agree(), 1, "seed {seed}");
        assert_eq!(net.a.sas().count(), 1, "seed {seed}");
        assert_eq!(net.b.sas().count(), 1, "seed {seed}");
        for s in [Side::A, Side::B] {
            let kinds: Vec<&str> = rekeyed_events(&net, s).iter().map(|r| r.0.kind()).collect();
            assert_eq!(kinds.len(), 2, "seed {seed} {s:?}");
        }
        assert_eq!(net.a.stats().icv_failures + net.b.stats().icv_failures, 0);
    }
}

#[test]
fn lost_rekey_responses_are_replayed() {
    for exchange in [wire::CREATE_CHILD_SA, wire::INFORMATIONAL] {
        for what in ["child", "ike"] {
            let mut net = established();
            let mut dropped = false;
            net.fault = Box::new(move |p| {
                if p.exchange == exchange && p.response && !dropped {
                    dropped = true;
                    Fault::Drop
                } else {
                    Fault::Deliver
                }
            });
            let id = sa_of(&net, Side::A);
            let spi = child_of(&net, Side::A).0;
            net.command(
                Side::A,
                if what == "ike" {
                    Command::RekeyIke(id)
                } else {
                    Command::RekeyChild(id, spi)
                },
            );
            net.run_for(Duration::from_secs(300));
            net.assert_agree();
            no_ike_down(&net);
            assert_eq!(net.a.sas().count() + net.b.sas().count(), 2);
            if what == "ike" && exchange == wire::INFORMATIONAL {
                // B removed the old SA when it answered the Delete, so A's retransmits
                // go unanswered and A drops the old SA after its retransmissions (as
                // strongSwan does)
                assert_eq!(net.b.stats().unknown_sa, 5, "{what} {exchange}");
            } else {
                assert_eq!(net.b.stats().cached_responses, 1, "{what} {exchange}");
            }
        }
    }
}

#[test]
fn lifetimes_trigger_rekeys_on_the_simulated_clock() {
    let mut net = established();
    let t0 = net.now;
    net.run_for(Duration::from_secs(9 * 3600));
    net.assert_agree();
    assert_eq!(net.a.sas().count(), 1);
    let mut child_times = vec![];
    let mut ike_times = vec![];
    for (t, _, e) in &net.events {
        if let EngineEvent::Rekeyed {
            rekey, initiator, ..
        } = e
        {
            if !initiator {
                continue; // each rekey once, from its initiator's view
            }
            let h = t.saturating_since(t0).as_secs_f64() / 3600.0;
            match rekey {
                Rekey::Ike { .. } => ike_times.push(h),
                Rekey::Child { .. } => child_times.push(h),
            }
        }
    }
    // IKE: 4 h minus up to 24 min, twice in 9 h
    assert_eq!(ike_times.len(), 2, "{ike_times:?}");
    assert!(ike_times[0] > 3.59 && ike_times[0] <= 4.0, "{ike_times:?}");
    // CHILD: every 54..60 min
    assert!((9..=10).contains(&child_times.len()), "{child_times:?}");
    let mut last = 0.0;
    for t in &child_times {
        let d = t - last;
        assert!(d > 0.89 && d <= 1.0001, "{child_times:?}");
        last = *t;
    }
    // both sides initiated some (jitter from the injected RNG decides who is first)
    let who = |s: Side| rekeyed_events(&net, s).iter().filter(|r| r.1).count();
    assert!(
        who(Side::A) > 0 && who(Side::B) > 0,
        "{} {}",
        who(Side::A),
        who(Side::B)
    );
    no_ike_down(&net);
    // no collisions with jitter: exactly one CREATE_CHILD_SA per rekey
    let ccsa = net
        .sent
        .iter()
        .filter(|p| p.exchange == wire::CREATE_CHILD_SA && !p.response)
        .count();
    assert_eq!(ccsa, child_times.len() + ike_times.len());
}

#[test]
fn lifetimes_configurable_and_disabled() {
    let mut net = up(pair_with(|a, b| {
        for c in [a, b] {
            c.ike_rekey_time = Duration::from_secs(600);
            c.ike_rand_time = Duration::ZERO;
            c.child_rekey_time = Duration::ZERO;
        }
    }));
    net.run_for(Duration::from_secs(1900));
    net.assert_agree();
    let kinds: Vec<&str> = rekeyed_events(&net, Side::A)
        .iter()
        .map(|r| r.0.kind())
        .collect();
    assert_eq!(kinds, ["ike", "ike", "ike"]);
}

/// Both sides rekey the same CHILD_SA at the same moment.
fn child_collision(delay_b: Duration) -> Net {
    let mut net = established();
    net.fault = Box::new(move |p| {
        if p.from == Side::B && p.exchange == wire::CREATE_CHILD_SA && !p.response {
            Fault::Delay(delay_b)
        } else {
            Fault::Deliver
        }
    });
    let (ia, ib) = (sa_of(&net, Side::A), sa_of(&net, Side::B));
    let (sa_, sb) = (child_of(&net, Side::A).0, child_of(&net, Side::B).0);
    net.command(Side::A, Command::RekeyChild(ia, sa_));
    net.command(Side::B, Command::RekeyChild(ib, sb));
    net.run_for(Duration::from_secs(60));
    assert_eq!(net.assert_agree(), 1, "{:#?}", net.events);
    no_ike_down(&net);
    // both agree who won
    let ra = rekeyed_events(&net, Side::A);
    let rb = rekeyed_events(&net, Side::B);
    assert_eq!(ra.len(), 1, "{:#?}", net.events);
    assert_eq!(
        rb.len(),
        1,
        "{delay_b:?} {:#?}",
        net.events
            .iter()
            .filter(|e| !matches!(e.2, EngineEvent::Sent { .. } | EngineEvent::Received { .. }))
            .collect::<Vec<_>>()
    );
    assert_ne!(ra[0].1, rb[0].1);
    let (new_a, new_b) = (child_of(&net, Side::A), child_of(&net, Side::B));
    assert_eq!(
        ra[0].0,
        Rekey::Child {
            old_spis: (sa_, sb),
            new_spis: new_a
        }
    );
    assert_eq!(
        rb[0].0,
        Rekey::Child {
            old_spis: (sb, sa_),
            new_spis: new_b
        }
    );
    net
}

#[test]
fn child_rekey_collision() {
    let mut net = child_collision(Duration::ZERO);
    // two CREATE_CHILD_SA exchanges, two Deletes (old by the winner, redundant one by
    // the loser)
    let n = |ex: u8| {
        net.sent
            .iter()
            .filter(|p| p.exchange == ex && !p.response)
            .count()
    };
    assert_eq!((n(wire::CREATE_CHILD_SA), n(wire::INFORMATIONAL)), (2, 2));
    // three CHILD_SAs came up on each side, two went down
    for s in [Side::A, Side::B] {
        assert_eq!(
            net.count(s, |e| matches!(e, EngineEvent::ChildUp { .. })),
            2
        );
        assert_eq!(
            net.count(s, |e| matches!(e, EngineEvent::ChildDown { .. })),
            2
        );
    }
    // not wedged: further rekeys work
    net.sent.clear();
    net.events.clear();
    child_rekey(net, Side::B, false);
}

#[test]
fn child_rekey_collision_with_reordering() {
    // B's request arrives after A finished: TEMPORARY_FAILURE (old CHILD_SA being
    // deleted) or CHILD_SA_NOT_FOUND (deleted); A's rekey stands.
    for ms in [5, 15, 25, 100, 1000] {
        let net = child_collision(Duration::from_millis(ms));
        let temp = net.sent.iter().any(|p| {
            p.from == Side::A
                && p.response
                && p.exchange == wire::CREATE_CHILD_SA
                && inner(
                    net.a.sas().next().unwrap().sk.as_ref().unwrap(),
                    &p.tx.bytes,
                )
                .is_some_and(|x| {
                    x.iter().any(|q| {
                        q.as_notify().is_some_and(|n| {
                            n.notify_type == nt::TEMPORARY_FAILURE
                                || n.notify_type == nt::CHILD_SA_NOT_FOUND
                        })
                    })
                })
        });
        if ms >= 25 {
            assert!(temp, "{ms}");
        }
        let mut net = net;
        net.sent.clear();
        net.events.clear();
        child_rekey(net, Side::A, false);
    }
}

fn ike_collision(delay_b: Duration, seed_fault: Option<u64>) -> Net {
    let mut net = established();
    let children: Vec<(u32, u32)> = vec![child_of(&net, Side::A)];
    net.fault = match seed_fault {
        Some(s) => lossy(s),
        None => Box::new(move |p| {
            if p.from == Side::B && p.exchange == wire::CREATE_CHILD_SA && !p.response {
                Fault::Delay(delay_b)
            } else {
                Fault::Deliver
            }
        }),
    };
    let (ia, ib) = (sa_of(&net, Side::A), sa_of(&net, Side::B));
    net.command(Side::A, Command::RekeyIke(ia));
    net.command(Side::B, Command::RekeyIke(ib));
    net.run_for(Duration::from_secs(600));
    if let Some(r) = net.down_reason(Side::A).or(net.down_reason(Side::B)) {
        assert!(
            seed_fault.is_some() && r.contains("timeout"),
            "{r} {:#?}",
            net.events
                .iter()
                .filter(|e| !matches!(e.2, EngineEvent::Sent { .. } | EngineEvent::Received { .. }))
                .collect::<Vec<_>>()
        );
        return net;
    }
    net.assert_agree();
    assert_eq!(vec![child_of(&net, Side::A)], children);
    // the old and the redundant SA are gone on both sides
    assert_eq!(
        net.a.sas().count(),
        1,
        "{:#?}",
        net.a.sas().collect::<Vec<_>>()
    );
    assert_eq!(
        net.b.sas().count(),
        1,
        "{:#?}",
        net.b.sas().collect::<Vec<_>>()
    );
    no_ike_down(&net);
    let ra = rekeyed_events(&net, Side::A);
    let rb = rekeyed_events(&net, Side::B);
    assert_eq!((ra.len(), rb.len()), (1, 1), "{:#?}", net.events);
    assert_ne!(ra[0].1, rb[0].1);
    assert_eq!(
        net.count(Side::A, |e| matches!(e, EngineEvent::ChildDown { .. })),
        0
    );
    net
}

#[test]
fn ike_rekey_collision() {
    let net = ike_collision(Duration::ZERO, None);
    // not wedged: the surviving SA works both ways, and can be rekeyed again
    let net = ike_rekey(
        {
            let mut n = net;
            n.sent.clear();
            n.events.clear();
            n
        },
        Side::A,
    );
    child_rekey(net, Side::B, false);
}

#[test]
fn ike_rekey_collision_with_reordering_and_loss() {
    for ms in [5, 15, 25, 100, 1000] {
        ike_collision(Duration::from_millis(ms), None);
    }
    for seed in 0..20 {
        ike_collision(Duration::ZERO, Some(seed));
    }
}

#[test]
fn ike_rekey_against_child_rekey_retries() {
    // A rekeys the IKE SA while B rekeys the CHILD_SA: both get TEMPORARY_FAILURE
    // (RFC 7296 §2.25.2) and retry after a random delay.
    let mut net = established();
    let (ia, ib) = (sa_of(&net, Side::A), sa_of(&net, Side::B));
    let spi = child_of(&net, Side::B).0;
    net.command(Side::A, Command::RekeyIke(ia));
    net.command(Side::B, Command::RekeyChild(ib, spi));
    net.run_for(Duration::from_secs(120));
    net.assert_agree();
    let kinds = |s: Side| {
        let mut k: Vec<&str> = rekeyed_events(&net, s).iter().map(|r| r.0.kind()).collect();
        k.sort();
        k
    };
    assert_eq!(kinds(Side::A), ["child", "ike"]);
    assert_eq!(kinds(Side::B), ["child", "ike"]);
    assert_eq!(net.a.sas().count() + net.b.sas().count(), 2);
    no_ike_down(&net);
}

#[test]
fn rekey_commands_validate() {
    let mut net = established();
    let id = sa_of(&net, Side::A);
    let now = net.now;
    assert!(net.a.command(now, Command::RekeyChild(id, 7)).is_err());
    assert!(net.a.command(now, Command::RekeyIke(SaId(77))).is_err());
    assert!(net.a.command(now, Command::CreateChild(SaId(77))).is_err());
    // a rekey asked for twice runs once
    net.command(Side::A, Command::RekeyIke(id));
    net.command(Side::A, Command::RekeyIke(id));
    net.run_for(Duration::from_secs(10));
    net.assert_agree();
    assert_eq!(rekeyed_events(&net, Side::A).len(), 1);
    // the old SA handle is gone
    let now = net.now;
    assert!(net.a.command(now, Command::Dpd(id)).is_err());
}

#[test]
fn keylog_decrypts_rekeyed_ike_sa_traffic() {
    let mut net = established();
    let id = sa_of(&net, Side::B);
    net.command(Side::B, Command::RekeyIke(id));
    net.run_for(Duration::from_secs(10));
    // traffic on the new SA: DPD both ways, a CHILD_SA rekey, then another IKE rekey
    let (ia, ib) = (sa_of(&net, Side::A), sa_of(&net, Side::B));
    net.command(Side::A, Command::Dpd(ia));
    net.command(Side::B, Command::Dpd(ib));
    let spi = child_of(&net, Side::A).0;
    net.command(Side::A, Command::RekeyChild(ia, spi));
    net.run_for(Duration::from_secs(10));
    let sa = net.established_sa(Side::A);
    let mut log = Vec::new();
    write_keylog_header(&mut log).unwrap();
    write_keylog_record(
        &mut log,
        sa.spi_i,
        sa.spi_r,
        sa.keys.as_ref().unwrap(),
        &sa.ni,
        &sa.nr,
    )
    .unwrap();
    let store = KeyStore::parse("rekeyed.keylog", std::str::from_utf8(&log).unwrap()).unwrap();
    let keys = store
        .find(sa.spi_i, sa.spi_r)
        .expect("key log has the rekeyed SA");
    let mut seen = 0;
    for p in &net.sent {
        let m = Message::parse(&p.tx.bytes).unwrap();
        if (m.header.spi_i, m.header.spi_r) != (sa.spi_i, sa.spi_r) {
            continue;
        }
        let last = m.payloads.last().unwrap();
        let d = decrypt_sk(keys, m.header.is_initiator(), &p.tx.bytes, last.offset).unwrap();
        assert_eq!(d.integrity, Integrity::Ok);
        let (_, rest) = parse_payload_chain(d.next_payload, &d.plaintext, 0).unwrap();
        assert!(rest.is_empty());
        seen += 1;
    }
    // 2 DPDs, child rekey, its Delete: 8 messages
    assert_eq!(seen, 8);
    // the key log also gives the CHILD_SA keys of rekeys without PFS:
    // KEYMAT = prf+(SK_d, Ni | Nr) with the nonces of the CREATE_CHILD_SA exchange
    let set = store.find_set(sa.spi_i, sa.spi_r).unwrap();
    let (req, resp) = create_child_exchange(&net, keys);
    let c = &sa.children[0];
    let k = derive_child_sa_keys(
        set.prf.unwrap(),
        &set.sk_d,
        c.proposal.encr,
        c.proposal.integ,
        None,
        &nonce_of(&req),
        &nonce_of(&resp),
    )
    .unwrap();
    assert_eq!(k, c.keys);
}

/// A virtual-IP client (A) whose IKE SA the gateway (B) rekeyed is no longer that IKE
/// SA's initiator, but the virtual IP is still A's: CHILD_SA rekeys on the new IKE SA
/// both ways must keep the virtual IP as A's selector. (Found against strongSwan: after
/// its IKE SA rekey we answered its CHILD_SA rekey with TS_UNACCEPTABLE, comparing its
/// TSr with our address instead of our virtual IP; the gateway side had the mirror
/// mistake, taking the virtual IP it handed out for its own.)
#[test]
fn virtual_ip_child_rekeys_both_ways_after_the_gateway_rekeyed_the_ike_sa() {
    let mut net = up(pair_with(|a, b| {
        a.request_vip = true;
        b.vip_pool = vec!["10.3.0.1".parse().unwrap()];
    }));
    let vip = vec!["10.3.0.1/32".parse_ts()];
    assert_eq!(net.established_sa(Side::A).children[0].ts_local, vip);
    let b_sa = sa_of(&net, Side::B);
    net.command(Side::B, Command::RekeyIke(b_sa));
    net.run_for(Duration::from_secs(10));
    assert_eq!(rekeyed_events(&net, Side::A).len(), 1, "{:#?}", net.events);
    assert!(!net.established_sa(Side::A).initiator);
    for side in [Side::B, Side::A] {
        net.events.clear();
        let id = sa_of(&net, side);
        let spi = child_of(&net, side).0;
        net.command(side, Command::RekeyChild(id, spi));
        net.run_for(Duration::from_secs(10));
        for s in [Side::A, Side::B] {
            let children: Vec<_> = rekeyed_events(&net, s)
                .into_iter()
                .filter(|(r, _)| matches!(r, Rekey::Child { .. }))
                .collect();
            assert_eq!(children.len(), 1, "{side:?} rekeyed: {:#?}", net.events);
        }
        assert_eq!(net.assert_agree(), 1);
        assert_eq!(net.established_sa(Side::A).children[0].ts_local, vip);
        assert_eq!(net.established_sa(Side::B).children[0].ts_remote, vip);
    }
    no_ike_down(&net);
}

fn status_of(net: &mut Net, side: Side) -> Vec<mobikectl::engine::SaStatus> {
    let now = net.now;
    net.engine(side).command(now, Command::Status).unwrap();
    loop {
        match net.engine(side).poll_event() {
            Some(EngineEvent::Status(s)) => return s,
            Some(_) => {}
            None => panic!("no status"),
        }
    }
}

/// `status` carries what `swanctl --list-sas` shows: the IKE SA's age, its rekey
/// deadline (from the typed timer), both message IDs, the CHILD_SA's age, rekey
/// deadline and traffic selectors, and the virtual IP; right after setup and again on
/// the IKE SA that replaced it after a rekey.
#[test]
fn status_has_ages_deadlines_message_ids_selectors_and_vip() {
    let mut net = up(pair_with(|a, b| {
        a.ike_rekey_time = Duration::from_secs(600);
        a.ike_rand_time = Duration::ZERO;
        a.child_rekey_time = Duration::from_secs(300);
        a.child_rand_time = Duration::ZERO;
        a.request_vip = true;
        b.vip_pool = vec!["10.3.0.1".parse().unwrap()];
    }));
    let vip: std::net::IpAddr = "10.3.0.1".parse().unwrap();
    let st = status_of(&mut net, Side::A);
    assert_eq!(st.len(), 1);
    let s = &st[0];
    let est = s.established.expect("established");
    assert!(s.initiator);
    assert!(
        s.now.saturating_since(est) >= Duration::from_secs(9),
        "{s:?}"
    );
    assert_eq!(s.rekey_at, Some(est + Duration::from_secs(600)));
    assert_eq!(s.expire_at, None);
    // IKE_SA_INIT (0) and IKE_AUTH (1) were ours; the responder sent no request
    assert_eq!((s.next_mid, s.peer_mid, s.outstanding_mid), (2, 0, None));
    assert_eq!(s.vip, Some(vip));
    let c = &s.children[0];
    assert_eq!(c.ts_local, vec!["10.3.0.1/32".parse_ts()]);
    assert!(!c.ts_remote.is_empty());
    assert_eq!(c.installed, est);
    assert_eq!(c.rekey_at, Some(est + Duration::from_secs(300)));
    let b = &status_of(&mut net, Side::B)[0];
    assert!(!b.initiator && b.vip == Some(vip));
    assert_eq!((b.next_mid, b.peer_mid), (0, 2));

    let old = s.sa;
    net.command(Side::A, Command::RekeyIke(old));
    net.run_for(Duration::from_secs(10));
    let st = status_of(&mut net, Side::A);
    assert_eq!(st.len(), 1, "the old IKE SA is gone");
    let n = &st[0];
    assert_ne!(n.sa, old);
    let new_est = n.established.expect("established");
    assert!(new_est > est, "the new IKE SA's age starts at the rekey");
    assert_eq!(n.rekey_at, Some(new_est + Duration::from_secs(600)));
    // a new IKE SA counts its message IDs from 0; the Delete went on the old one
    assert_eq!((n.next_mid, n.peer_mid), (0, 0));
    assert_eq!(n.vip, Some(vip), "the virtual IP moved with the CHILD_SAs");
    assert_eq!(n.children[0].ts_local, c.ts_local);
    assert_eq!(n.children[0].installed, est, "the CHILD_SA was not rekeyed");
}
