//! The analysis layer on the real strongSwan captures in testdata/ (decrypted with their keys)
//! and on the synthetic plaintext MOBIKE capture.

mod analysis_common;

use std::net::{IpAddr, SocketAddr};

use analysis_common::*;
use mobikectl::analysis::{
    AnalysisEvent, Endpoints, EventKind, NatVerdict, PathReason, Rule, SaId, SaInfo, Side,
};

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn ep(i: &str, r: &str) -> Endpoints {
    Endpoints {
        initiator: sa(i),
        responder: sa(r),
    }
}

/// An SA's address history: frame, path and why it was taken.
fn path_history(s: &SaInfo) -> Vec<(u64, Endpoints, PathReason)> {
    s.paths
        .iter()
        .map(|p| (p.frame, p.path, p.reason))
        .collect()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Sanity every capture must pass: RTTs positive and below 1 s, events in frame order.
fn common_checks(events: &[AnalysisEvent]) {
    for e in events {
        if let EventKind::Exchange { rtt_us, .. } = e.kind {
            assert!(rtt_us > 0 && rtt_us < 1_000_000, "{e}");
        }
        let j = e.to_json();
        assert_eq!(j["event"], e.kind.name(), "{j}");
        assert_eq!(j["frame"], e.frame);
        assert!(!e.to_string().contains('\n'));
    }
}

fn violations(events: &[AnalysisEvent]) -> Vec<&AnalysisEvent> {
    named(events, "violation")
}

#[test]
fn cap_moon_mobike_move() {
    let (ev, a) = analyze(
        "strongswan-move/cap-moon.pcap",
        Some("strongswan-move/ikev2_decryption_table"),
    );
    common_checks(&ev);
    assert_eq!(a.sas().len(), 1);
    let s = &a.sas()[0];
    assert_eq!(s.current_spis(), (0xade3a663cde3f4e0, 0x85c30315a9c141c8));
    assert!(!s.mid_stream);
    assert!(named(&ev, "unanswered").is_empty());
    assert!(named(&ev, "orphan_response").is_empty());
    assert!(violations(&ev).is_empty(), "{:?}", violations(&ev));
    // 9 exchanges: IKE_SA_INIT, IKE_AUTH, mids 2..7 by carol, mid 0 by moon.
    assert_eq!(named(&ev, "exchange").len(), 9);
    assert_eq!(s.exchanges, 9);

    // Path probe: mid 2 to 203.0.113.1 (frame 6) and 203.0.113.2 (frame 7); .1 answered first.
    let probes = named(&ev, "path_probe");
    assert_eq!(probes.len(), 1);
    let EventKind::PathProbe {
        message_id,
        requester,
        tried,
        answered,
        answer_frame,
    } = &probes[0].kind
    else {
        unreachable!()
    };
    assert_eq!((*message_id, *requester), (2, Side::Initiator));
    let tried: Vec<(u64, IpAddr)> = tried
        .iter()
        .map(|t| (t.frame, t.path.responder.ip()))
        .collect();
    assert_eq!(tried, vec![(6, ip("203.0.113.1")), (7, ip("203.0.113.2"))]);
    assert_eq!(answered.unwrap().responder.ip(), ip("203.0.113.1"));
    assert_eq!(*answer_frame, Some(8));

    // Frame 7 is a copy of frame 6 on another path.
    let rt: Vec<_> = named(&ev, "retransmission");
    assert_eq!(rt.len(), 2);
    assert!(matches!(
        rt[0].kind,
        EventKind::Retransmission {
            message_id: 2,
            first_frame: 6,
            same_path: false,
            ..
        }
    ));
    assert_eq!(rt[0].frame, 7);
    // moon's mid 0 (frame 5, to carol's old address) again at frame 17 to the new one.
    assert_eq!(rt[1].frame, 17);
    assert!(matches!(
        rt[1].kind,
        EventKind::Retransmission {
            message_id: 0,
            requester: Side::Responder,
            first_frame: 5,
            same_path: false,
            after_response: false,
            ..
        }
    ));

    // The move, frame 9.
    let moves = named(&ev, "address_update");
    assert_eq!(moves.len(), 1);
    assert_eq!(moves[0].frame, 9);
    let EventKind::AddressUpdate {
        sender,
        old,
        new,
        message_id,
        i_flag,
    } = &moves[0].kind
    else {
        unreachable!()
    };
    assert_eq!((*sender, *message_id, *i_flag), (Side::Initiator, 3, true));
    assert_eq!(*old, Some(ep("192.0.2.10:4500", "203.0.113.1:4500")));
    assert_eq!(*new, ep("198.51.100.10:4500", "203.0.113.1:4500"));

    // COOKIE2 echoed in frame 10.
    let c = named(&ev, "cookie2");
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].frame, 10);
    assert!(
        matches!(&c[0].kind, EventKind::Cookie2 { echoed: true, message_id: 3, request, response: Some(r), .. } if request == r && request.len() == 32)
    );

    // NAT detection: IKE_SA_INIT (1, 2) and the UPDATE exchange (9, 10). Both strongSwans
    // fake their source hash (random address, port 0); destinations match: no NAT shown.
    let nd = named(&ev, "nat_detection");
    assert_eq!(
        nd.iter().map(|e| e.frame).collect::<Vec<_>>(),
        vec![1, 2, 9, 10]
    );
    for e in &nd {
        let EventKind::NatDetection {
            sender_nat,
            receiver_nat,
            behind_nat,
            source,
            destination,
            ..
        } = &e.kind
        else {
            unreachable!()
        };
        assert!(behind_nat.is_empty(), "{e}");
        assert_eq!(*sender_nat, Some(NatVerdict::NatOrFake), "{e}");
        assert_eq!(*receiver_nat, Some(NatVerdict::NoNat), "{e}");
        assert!(!source.as_ref().unwrap().matched);
        assert!(destination.as_ref().unwrap().matched);
    }
    assert_ne!(s.initiator.nat, Some(NatVerdict::Nat));
    assert_ne!(s.responder.nat, Some(NatVerdict::Nat));

    // MOBIKE and the announced address sets.
    assert!(s.mobike_negotiated());
    assert_eq!(s.initiator.mobike_supported, Some(3));
    assert_eq!(s.responder.mobike_supported, Some(4));
    let ann: Vec<(u64, Side, Vec<IpAddr>, bool)> = named(&ev, "addresses_announced")
        .iter()
        .map(|e| match &e.kind {
            EventKind::AddressesAnnounced {
                side,
                addresses,
                no_additional,
                ..
            } => (e.frame, *side, addresses.clone(), *no_additional),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(
        ann,
        vec![
            (3, Side::Initiator, vec![ip("198.51.100.10")], false),
            (4, Side::Responder, vec![ip("203.0.113.2")], false),
            (5, Side::Responder, vec![ip("203.0.113.2")], false),
            (9, Side::Initiator, vec![], true),
            (15, Side::Initiator, vec![], true),
            (19, Side::Initiator, vec![ip("192.0.2.10")], false),
        ]
    );
    assert_eq!(
        s.initiator.announced.as_ref().unwrap().addresses,
        vec![ip("192.0.2.10")]
    );
    assert_eq!(
        s.peer_addresses(Side::Initiator),
        vec![ip("198.51.100.10"), ip("192.0.2.10")]
    );
    assert_eq!(
        s.peer_addresses(Side::Responder),
        vec![ip("203.0.113.1"), ip("203.0.113.2")]
    );

    // Address history: 500, float to 4500, the move.
    let hist = path_history(s);
    assert_eq!(
        hist,
        vec![
            (
                1,
                ep("192.0.2.10:500", "203.0.113.1:500"),
                PathReason::Initial
            ),
            (
                3,
                ep("192.0.2.10:4500", "203.0.113.1:4500"),
                PathReason::Setup
            ),
            (
                9,
                ep("198.51.100.10:4500", "203.0.113.1:4500"),
                PathReason::Update
            ),
        ]
    );
    // The probes' paths were new (frames 6 and 7).
    assert_eq!(
        named(&ev, "new_path")
            .iter()
            .map(|e| e.frame)
            .collect::<Vec<_>>(),
        vec![6, 7]
    );
}

#[test]
fn v6_gcm_mobike_move() {
    let (ev, a) = analyze(
        "v6-gcm-mobike/moon-eth0.pcap",
        Some("v6-gcm-mobike/ikev2_decryption_table"),
    );
    common_checks(&ev);
    assert_eq!(a.sas().len(), 1);
    let s = &a.sas()[0];
    assert!(named(&ev, "unanswered").is_empty());
    assert!(named(&ev, "orphan_response").is_empty());
    assert!(named(&ev, "retransmission").is_empty());
    assert!(violations(&ev).is_empty());
    assert!(s.mobike_negotiated());
    // Path test from the new address (frame 25), then the move (27) and the echo (30).
    let np = named(&ev, "new_path");
    assert_eq!(np.len(), 1);
    assert_eq!(np[0].frame, 25);
    let mv = named(&ev, "address_update");
    assert_eq!(mv.len(), 1);
    assert_eq!(mv[0].frame, 27);
    assert!(
        matches!(&mv[0].kind, EventKind::AddressUpdate { old: Some(o), new, .. }
        if *o == ep("[2001:db8:1::10]:4500", "[2001:db8:3::100]:4500")
        && *new == ep("[2001:db8:2::10]:4500", "[2001:db8:3::100]:4500"))
    );
    let c = named(&ev, "cookie2");
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].frame, 30);
    assert!(matches!(c[0].kind, EventKind::Cookie2 { echoed: true, .. }));
    // carol announced 2001:db8:2::10 in IKE_AUTH and NO_ADDITIONAL_ADDRESSES with the move.
    let ann = named(&ev, "addresses_announced");
    assert!(
        matches!(&ann[0].kind, EventKind::AddressesAnnounced { side: Side::Initiator, addresses, .. } if *addresses == vec![ip("2001:db8:2::10")])
    );
    assert_eq!(s.initiator.announced.as_ref().unwrap().frame, 27);
    assert!(s.initiator.announced.as_ref().unwrap().no_additional);
    assert!(s.initiator.nat != Some(NatVerdict::Nat) && s.responder.nat != Some(NatVerdict::Nat));
    // moon's CHILD_SA rekey (mid 0, I flag clear) interleaved with carol's mid 4.
    assert!(named(&ev, "exchange").iter().any(|e| matches!(
        e.kind,
        EventKind::Exchange {
            requester: Side::Responder,
            message_id: 0,
            request_frame: 28,
            response_frame: 29,
            ..
        }
    )));
    assert!(named(&ev, "exchange").iter().any(|e| matches!(
        e.kind,
        EventKind::Exchange {
            requester: Side::Initiator,
            message_id: 4,
            request_frame: 27,
            response_frame: 30,
            ..
        }
    )));
    let del = named(&ev, "ike_sa_deleted");
    assert_eq!(del.len(), 1);
    assert_eq!(del[0].frame, 51);
    assert_eq!(s.spis[0].deleted_frame, Some(51));
}

#[test]
fn v4_nat_chacha_outside() {
    let (ev, a) = analyze(
        "v4-nat-chacha/nat-outside.pcap",
        Some("v4-nat-chacha/moon-charon.log"),
    );
    common_checks(&ev);
    assert_eq!(a.sas().len(), 1);
    let s = &a.sas()[0];
    assert!(named(&ev, "unanswered").is_empty());
    assert!(violations(&ev).is_empty());
    // carol is behind the NAT: her source hash mismatches and her ports are translated.
    assert_eq!(s.initiator.nat, Some(NatVerdict::Nat));
    assert_ne!(s.responder.nat, Some(NatVerdict::Nat));
    let nd = named(&ev, "nat_detection");
    assert!(!nd.is_empty());
    for e in &nd {
        let EventKind::NatDetection {
            sender, behind_nat, ..
        } = &e.kind
        else {
            unreachable!()
        };
        let want: Vec<Side> = if *sender == Side::Initiator {
            vec![Side::Initiator]
        } else {
            vec![]
        };
        assert_eq!(*behind_nat, want, "{e}");
    }
    assert_eq!(nd[0].frame, 4);
    // Rebinding: DPD mid 3 from the new public port shows a new path, then the update.
    let np = named(&ev, "new_path");
    assert_eq!(np.len(), 1);
    assert_eq!(np[0].frame, 34);
    let mv = named(&ev, "address_update");
    assert_eq!(mv.len(), 1);
    assert_eq!(mv[0].frame, 36);
    assert!(
        matches!(&mv[0].kind, EventKind::AddressUpdate { old: Some(o), new, .. }
        if *o == ep("203.0.113.2:57432", "203.0.113.1:4500") && *new == ep("203.0.113.2:36472", "203.0.113.1:4500"))
    );
    let hist: Vec<(u64, u16, PathReason)> = s
        .paths
        .iter()
        .map(|p| (p.frame, p.path.initiator.port(), p.reason))
        .collect();
    assert_eq!(
        hist,
        vec![
            (4, 140, PathReason::Initial),
            (6, 57432, PathReason::Setup),
            (36, 36472, PathReason::Update)
        ]
    );
    assert!(matches!(
        named(&ev, "cookie2")[0].kind,
        EventKind::Cookie2 { echoed: true, .. }
    ));
}

#[test]
fn v4_nat_chacha_inside() {
    let (ev, a) = analyze(
        "v4-nat-chacha/nat-inside.pcap",
        Some("v4-nat-chacha/carol-charon.log"),
    );
    common_checks(&ev);
    let s = &a.sas()[0];
    // Inside the NAT, moon's destination hashes (for carol's public address) give it away.
    assert_eq!(s.initiator.nat, Some(NatVerdict::Nat));
    assert_ne!(s.responder.nat, Some(NatVerdict::Nat));
    let from_moon: Vec<_> = named(&ev, "nat_detection")
        .into_iter()
        .filter(|e| {
            matches!(
                e.kind,
                EventKind::NatDetection {
                    sender: Side::Responder,
                    ..
                }
            )
        })
        .collect();
    assert!(!from_moon.is_empty());
    for e in from_moon {
        assert!(
            matches!(&e.kind, EventKind::NatDetection { receiver_nat: Some(NatVerdict::Nat), behind_nat, .. } if *behind_nat == vec![Side::Initiator]),
            "{e}"
        );
    }
}

#[test]
fn v4_ctr_ike_sa_rekey_keeps_one_sa() {
    let (ev, a) = analyze(
        "v4-ctr-modp-rekey/moon-eth0.pcap",
        Some("v4-ctr-modp-rekey/ikev2_decryption_table"),
    );
    common_checks(&ev);
    assert_eq!(a.sas().len(), 1, "rekeyed SPIs must join the same SA");
    let s = &a.sas()[0];
    assert_eq!(s.spis.len(), 2);
    assert_eq!(
        (s.spis[0].spi_i, s.spis[0].spi_r),
        (0x1059099D59F5CCEF, 0x9A1DB00859C73DF5)
    );
    assert_eq!(
        (s.spis[1].spi_i, s.spis[1].spi_r),
        (0x4FDE5B8E6D43E8F6, 0xA2E5AA44A244DDD1)
    );
    assert_eq!(s.spis[1].rekeyed_from, Some(0));
    assert_eq!(s.spis[1].first_frame, 39);
    assert_eq!(s.spis[1].initiator, Side::Initiator);
    assert_eq!(s.spis[0].deleted_frame, Some(40));
    assert_eq!(s.spis[1].deleted_frame, Some(54));
    let rk = named(&ev, "ike_sa_rekeyed");
    assert_eq!(rk.len(), 1);
    assert_eq!(rk[0].frame, 39);
    assert_eq!(rk[0].to_json()["new_spi_i"], "4fde5b8e6d43e8f6");
    assert_eq!(rk[0].to_json()["old_spi_r"], "9a1db00859c73df5");
    let del: Vec<(u64, bool)> = named(&ev, "ike_sa_deleted")
        .iter()
        .map(|e| match e.kind {
            EventKind::IkeSaDeleted { superseded, .. } => (e.frame, superseded),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(del, vec![(40, true), (54, false)]);
    // Message IDs restart at 0 under the new SPIs: paired there, not taken for mid 0 of
    // the old SPIs.
    assert!(named(&ev, "exchange").iter().any(|e| e.sa == SaId(0)
        && e.spi_i == 0x4FDE5B8E6D43E8F6
        && matches!(
            e.kind,
            EventKind::Exchange {
                message_id: 0,
                request_frame: 48,
                response_frame: 49,
                ..
            }
        )));
    assert!(named(&ev, "unanswered").is_empty());
    assert!(named(&ev, "orphan_response").is_empty());
    assert!(named(&ev, "retransmission").is_empty());
    assert!(violations(&ev).is_empty());
    assert_eq!(
        a.find_sa(0x4FDE5B8E6D43E8F6, 0xA2E5AA44A244DDD1),
        Some(SaId(0))
    );
}

/// v4-resp-rekey-mobike: moon, the responder, rekeys the IKE SA (frames 17/18) and so holds
/// the I role under the new SPIs; carol then moves the new SA with MOBIKE, sending
/// UPDATE_SA_ADDRESSES (frame 33) without the I flag, as strongSwan keeps the moving role
/// with the original initiator. One logical SA, roles swapped in the new pair, no violation.
#[test]
fn v4_ike_sa_rekey_by_responder_then_mobike() {
    let (ev, a) = analyze(
        "v4-resp-rekey-mobike/moon-eth0.pcap",
        Some("v4-resp-rekey-mobike/ikev2_decryption_table"),
    );
    common_checks(&ev);
    const OLD: (u64, u64) = (0xF55B0B8F89CD8DB0, 0x801EB3D0BC661C35);
    const NEW: (u64, u64) = (0xE4C14506ED27FA88, 0x2A4B1C443EB16CC8);
    assert_eq!(a.sas().len(), 1, "rekeyed SPIs must join the same SA");
    let s = &a.sas()[0];
    assert!(!s.mid_stream);
    assert!(s.mobike_negotiated());

    // The rekey links the old and the new SPIs; moon (the original responder) holds the I
    // role in the new pair.
    assert_eq!(s.spis.len(), 2);
    assert_eq!((s.spis[0].spi_i, s.spis[0].spi_r), OLD);
    assert_eq!(s.spis[0].initiator, Side::Initiator);
    assert_eq!(s.spis[0].rekeyed_from, None);
    assert_eq!((s.spis[1].spi_i, s.spis[1].spi_r), NEW);
    assert_eq!(s.spis[1].initiator, Side::Responder);
    assert_eq!(s.spis[1].rekeyed_from, Some(0));
    assert_eq!(s.spis[1].first_frame, 18);
    assert_eq!(s.current_spis(), NEW);
    assert_eq!(a.find_sa(OLD.0, OLD.1), Some(SaId(0)));
    assert_eq!(a.find_sa(NEW.0, NEW.1), Some(SaId(0)));
    let rk = named(&ev, "ike_sa_rekeyed");
    assert_eq!(rk.len(), 1);
    assert_eq!(rk[0].frame, 18);
    assert!(matches!(
        rk[0].kind,
        EventKind::IkeSaRekeyed {
            requester: Side::Responder,
            message_id: 0,
            old_spi_i: 0xF55B0B8F89CD8DB0,
            old_spi_r: 0x801EB3D0BC661C35,
            new_spi_i: 0xE4C14506ED27FA88,
            new_spi_r: 0x2A4B1C443EB16CC8,
        }
    ));
    let j = rk[0].to_json();
    assert_eq!(j["requester"], "responder");
    assert_eq!(j["new_spi_i"], "e4c14506ed27fa88");
    // moon deletes the old SA (superseded), carol the new one at the end.
    let del: Vec<(u64, Side, bool)> = named(&ev, "ike_sa_deleted")
        .iter()
        .map(|e| match e.kind {
            EventKind::IkeSaDeleted {
                requester,
                superseded,
                ..
            } => (e.frame, requester, superseded),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(
        del,
        vec![(19, Side::Responder, true), (45, Side::Initiator, false)]
    );
    assert_eq!(s.spis[0].deleted_frame, Some(19));
    assert_eq!(s.spis[1].deleted_frame, Some(45));

    // Every exchange (SPIi, requester, message ID, frames); sides keep their first-SA names.
    // Under the new SPIs carol's requests (no I flag) and moon's (I flag) both restart at
    // message ID 0 and are told apart.
    let exchanges: Vec<(u64, Side, u32, u64, u64)> = named(&ev, "exchange")
        .iter()
        .map(|e| match e.kind {
            EventKind::Exchange {
                requester,
                message_id,
                request_frame,
                response_frame,
                ..
            } => (
                e.spi_i,
                requester,
                message_id,
                request_frame,
                response_frame,
            ),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(
        exchanges,
        vec![
            (OLD.0, Side::Initiator, 0, 4, 5),
            (OLD.0, Side::Initiator, 1, 6, 7),
            (OLD.0, Side::Responder, 0, 17, 18),
            (OLD.0, Side::Responder, 1, 19, 20),
            (NEW.0, Side::Initiator, 0, 29, 30),
            (NEW.0, Side::Initiator, 1, 31, 32),
            (NEW.0, Side::Initiator, 2, 33, 35),
            (NEW.0, Side::Responder, 0, 34, 36),
            (NEW.0, Side::Responder, 1, 37, 38),
            (NEW.0, Side::Initiator, 3, 45, 46),
        ]
    );
    assert_eq!(s.exchanges, 10);

    // carol's move in the new SA: the update (no I flag) is not a violation.
    assert!(violations(&ev).is_empty(), "{:?}", violations(&ev));
    let np = named(&ev, "new_path");
    assert_eq!(np.len(), 1);
    assert_eq!(np[0].frame, 31);
    let mv = named(&ev, "address_update");
    assert_eq!(mv.len(), 1);
    assert_eq!(mv[0].frame, 33);
    assert_eq!((mv[0].spi_i, mv[0].spi_r), NEW);
    let EventKind::AddressUpdate {
        sender,
        message_id,
        old,
        new,
        i_flag,
    } = &mv[0].kind
    else {
        unreachable!()
    };
    assert_eq!((*sender, *message_id, *i_flag), (Side::Initiator, 2, false));
    assert_eq!(*old, Some(ep("192.0.2.10:4500", "203.0.113.1:4500")));
    assert_eq!(*new, ep("198.51.100.10:4500", "203.0.113.1:4500"));
    assert_eq!(mv[0].to_json()["i_flag"], false);
    let c = named(&ev, "cookie2");
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].frame, 35);
    assert!(matches!(
        c[0].kind,
        EventKind::Cookie2 {
            echoed: true,
            message_id: 2,
            requester: Side::Initiator,
            ..
        }
    ));
    let hist = path_history(s);
    assert_eq!(
        hist,
        vec![
            (
                4,
                ep("192.0.2.10:500", "203.0.113.1:500"),
                PathReason::Initial
            ),
            (
                6,
                ep("192.0.2.10:4500", "203.0.113.1:4500"),
                PathReason::Setup
            ),
            (
                33,
                ep("198.51.100.10:4500", "203.0.113.1:4500"),
                PathReason::Update
            ),
        ]
    );
    // carol announced 198.51.100.10 in IKE_AUTH, then NO_ADDITIONAL_ADDRESSES with the move.
    let ann = s.initiator.announced.as_ref().unwrap();
    assert_eq!((ann.frame, ann.no_additional), (33, true));
    assert!(named(&ev, "unanswered").is_empty());
    assert!(named(&ev, "orphan_response").is_empty());
    assert!(named(&ev, "retransmission").is_empty());
    assert!(named(&ev, "integrity_failed").is_empty());
}

#[test]
fn cookie_and_invalid_ke_retries_are_new_exchanges() {
    let (ev, a) = analyze(
        "v4-ccm-cookie/moon-eth0.pcap",
        Some("v4-ccm-cookie/ikev2_decryption_table"),
    );
    common_checks(&ev);
    assert_eq!(a.sas().len(), 2); // mallory's half-done SA and carol's
    assert!(named(&ev, "retransmission").is_empty());
    let carol: Vec<(u64, u64)> = named(&ev, "exchange")
        .iter()
        .filter(|e| e.sa == SaId(1))
        .filter_map(|e| match e.kind {
            EventKind::Exchange {
                request_frame,
                response_frame,
                ..
            } => Some((request_frame, response_frame)),
            _ => None,
        })
        .take(3)
        .collect();
    assert_eq!(carol, vec![(9, 10), (11, 12), (13, 14)]);
}

#[test]
fn fragments_are_not_retransmissions() {
    // IKE_AUTH in 4 SKF fragments each way (not decrypted by the helper: SK only).
    let (ev, _) = analyze(
        "v4-cbc-sha1-frag-cert/moon-eth0.pcap",
        Some("v4-cbc-sha1-frag-cert/ikev2_decryption_table"),
    );
    common_checks(&ev);
    assert!(named(&ev, "retransmission").is_empty());
    assert!(named(&ev, "duplicate_response").is_empty());
    assert!(named(&ev, "exchange").iter().any(|e| matches!(
        e.kind,
        EventKind::Exchange {
            message_id: 1,
            request_frame: 7,
            response_frame: 12,
            attempts: 1,
            ..
        }
    )));
}

#[test]
fn mobike_plain_synthetic() {
    let (ev, a) = analyze("edge/mobike-plain.pcap", None);
    common_checks(&ev);
    let s = &a.sas()[0];
    assert!(s.mid_stream);
    // 1-2: UPDATE_SA_ADDRESSES + COOKIE2 echoed.
    assert!(matches!(
        named(&ev, "cookie2")[0].kind,
        EventKind::Cookie2 {
            echoed: true,
            message_id: 3,
            ..
        }
    ));
    assert_eq!(named(&ev, "address_update")[0].frame, 1);
    // 3: announcements and NO_NATS_ALLOWED (IPv4 matching the packet, IPv6 not).
    assert!(named(&ev, "addresses_announced")
        .iter()
        .any(|e| e.frame == 3
            && matches!(&e.kind, EventKind::AddressesAnnounced { addresses, .. }
            if *addresses == vec![ip("192.0.2.10"), ip("2001:db8::a")])));
    let nn: Vec<bool> = named(&ev, "no_nats_allowed")
        .iter()
        .map(|e| match e.kind {
            EventKind::NoNatsAllowed { matches, .. } => matches,
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(nn, vec![true, false]);
    // 4: answered with UNACCEPTABLE_ADDRESSES and UNEXPECTED_NAT_DETECTED: no violation.
    let errs: Vec<u16> = named(&ev, "mobike_error")
        .iter()
        .map(|e| match e.kind {
            EventKind::MobikeError { notify_type, .. } => notify_type,
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(errs, vec![40, 41]);
    // 6: malformed ADDITIONAL_IP4_ADDRESS and COOKIE2.
    let v = violations(&ev);
    assert_eq!(v.len(), 2, "{v:?}");
    assert!(v.iter().all(|e| e.frame == 6
        && matches!(
            e.kind,
            EventKind::Violation {
                rule: Rule::MalformedNotify,
                ..
            }
        )));
    // 5 and 6 are never answered.
    let un: Vec<u64> = named(&ev, "unanswered").iter().map(|e| e.frame).collect();
    assert_eq!(un, vec![5, 6]);
}

#[test]
fn every_capture_analyses_without_panic() {
    let root = testdata("");
    let mut n = 0;
    for dir in std::fs::read_dir(&root).unwrap() {
        let dir = dir.unwrap().path();
        for f in std::fs::read_dir(&dir).unwrap() {
            let f = f.unwrap().path();
            let ext = f.extension().and_then(|e| e.to_str()).unwrap_or("");
            if ext != "pcap" && ext != "pcapng" {
                continue;
            }
            let rel = f.strip_prefix(&root).unwrap().to_str().unwrap().to_string();
            let table = dir.join("ikev2_decryption_table");
            let keys = (table.metadata().map(|m| m.len() > 0).unwrap_or(false)).then(|| {
                table
                    .strip_prefix(&root)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_string()
            });
            let (ev, _) = analyze(&rel, keys.as_deref());
            for e in &ev {
                let _ = (e.to_string(), e.to_json());
            }
            n += 1;
        }
    }
    assert!(n > 20);
}
