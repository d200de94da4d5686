//! Unit tests of the analysis detectors on messages built with the codec.

use std::borrow::Cow;
use std::net::IpAddr;

use super::*;
use crate::wire::{
    payload_type as pt, Delete, Header, Notify, NotifyData, Payload, PayloadBody, Proposal, Sa,
    Skf, FLAG_INITIATOR, FLAG_RESPONSE,
};

const SPI_I: u64 = 0x1111_2222_3333_4444;
const SPI_R: u64 = 0x5555_6666_7777_8888;
const I: &str = "192.0.2.10";
const R: &str = "203.0.113.1";

fn n(t: u16, data: NotifyData<'static>) -> Payload<'static> {
    Payload::new(pt::NOTIFY, PayloadBody::Notify(Notify::new(t, data)))
}

fn ne(t: u16) -> Payload<'static> {
    n(t, NotifyData::Empty)
}

fn ike_sa(spi: u64) -> Payload<'static> {
    Payload::new(
        pt::SA,
        PayloadBody::Sa(Sa::new(vec![Proposal {
            last_substruc: 0,
            reserved: 0,
            number: 1,
            protocol_id: protocol_id::IKE,
            spi: Cow::Owned(spi.to_be_bytes().to_vec()),
            transforms: vec![],
        }])),
    )
}

/// A message to feed: plaintext payloads unless `inner` is used.
struct M {
    frame: u64,
    time_us: i64,
    src: (IpAddr, u16),
    dst: (IpAddr, u16),
    header: Header,
    payloads: Vec<Payload<'static>>,
    inner: Option<Vec<Payload<'static>>>,
    integrity_ok: Option<bool>,
}

impl M {
    fn observed(&self) -> ObservedMessage<'_> {
        ObservedMessage {
            frame: self.frame,
            time_us: self.time_us,
            src: self.src.0,
            sport: self.src.1,
            dst: self.dst.0,
            dport: self.dst.1,
            header: &self.header,
            payloads: &self.payloads,
            inner: self.inner.as_deref(),
            integrity_ok: self.integrity_ok,
        }
    }
}

/// Builds messages of one IKE SA between `I` and `R` on port 4500.
struct Sim {
    a: Analyzer,
    frame: u64,
    /// Added to every message's time (frames are 1 ms apart).
    offset_us: i64,
    spis: (u64, u64),
    events: Vec<AnalysisEvent>,
}

impl Sim {
    fn new() -> Self {
        Sim {
            a: Analyzer::new(),
            frame: 0,
            offset_us: 0,
            spis: (SPI_I, SPI_R),
            events: Vec::new(),
        }
    }

    /// `from_i`: sent by the IKE SA initiator (I flag); `resp`: R flag.
    #[allow(clippy::too_many_arguments)]
    fn send_full(
        &mut self,
        from_i: bool,
        resp: bool,
        exchange: u8,
        mid: u32,
        src: &str,
        dst: &str,
        payloads: Vec<Payload<'static>>,
    ) -> Vec<AnalysisEvent> {
        self.frame += 1;
        let mut flags = 0;
        if from_i {
            flags |= FLAG_INITIATOR;
        }
        if resp {
            flags |= FLAG_RESPONSE;
        }
        let (sp, dp) = if exchange == IKE_SA_INIT {
            (500, 500)
        } else {
            (4500, 4500)
        };
        let m = M {
            frame: self.frame,
            time_us: 1_000_000 + self.frame as i64 * 1000 + self.offset_us,
            src: (src.parse().unwrap(), sp),
            dst: (dst.parse().unwrap(), dp),
            header: Header {
                spi_i: self.spis.0,
                spi_r: self.spis.1,
                version: 0x20,
                exchange_type: exchange,
                flags,
                message_id: mid,
                ..Header::default()
            },
            payloads,
            inner: None,
            integrity_ok: None,
        };
        let ev: Vec<_> = self.a.observe(&m.observed()).collect();
        self.events.extend(ev.iter().cloned());
        ev
    }

    fn req(&mut self, mid: u32, payloads: Vec<Payload<'static>>) -> Vec<AnalysisEvent> {
        self.send_full(true, false, INFORMATIONAL, mid, I, R, payloads)
    }

    fn resp(&mut self, mid: u32, payloads: Vec<Payload<'static>>) -> Vec<AnalysisEvent> {
        self.send_full(false, true, INFORMATIONAL, mid, R, I, payloads)
    }

    /// IKE_AUTH with MOBIKE_SUPPORTED from both sides (or neither).
    fn auth(&mut self, mobike: bool) {
        let p = || {
            if mobike {
                vec![ne(nt::MOBIKE_SUPPORTED)]
            } else {
                vec![]
            }
        };
        self.send_full(true, false, IKE_AUTH, 1, I, R, p());
        self.send_full(false, true, IKE_AUTH, 1, R, I, p());
    }
}

fn kinds(ev: &[AnalysisEvent]) -> Vec<&'static str> {
    ev.iter().map(|e| e.kind.name()).collect()
}

fn rules(ev: &[AnalysisEvent]) -> Vec<Rule> {
    ev.iter()
        .filter_map(|e| match e.kind {
            EventKind::Violation { rule, .. } => Some(rule),
            _ => None,
        })
        .collect()
}

#[test]
fn pairing_rtt_retransmission_unanswered_orphan() {
    let mut s = Sim::new();
    assert_eq!(kinds(&s.req(2, vec![])), ["sa_started"]);
    let ev = s.req(2, vec![]);
    assert!(matches!(
        ev[0].kind,
        EventKind::Retransmission {
            attempt: 2,
            same_path: true,
            first_frame: 1,
            after_response: false,
            ..
        }
    ));
    let ev = s.resp(2, vec![]);
    // RTT from the latest copy on the response's path: frame 2 → frame 3 = 1 ms.
    assert!(matches!(
        ev[0].kind,
        EventKind::Exchange {
            rtt_us: 1000,
            attempts: 2,
            request_frame: 1,
            response_frame: 3,
            ..
        }
    ));
    assert_eq!(kinds(&s.resp(2, vec![])), ["duplicate_response"]);
    let ev = s.req(2, vec![]);
    assert!(matches!(
        ev[0].kind,
        EventKind::Retransmission {
            after_response: true,
            ..
        }
    ));
    // A response to a request never seen; a request from the responder never answered.
    assert_eq!(kinds(&s.resp(9, vec![])), ["orphan_response"]);
    s.send_full(false, false, INFORMATIONAL, 0, R, I, vec![]);
    // Same mid 0 but from the initiator: another direction, not a retransmission.
    assert!(s.req(0, vec![]).is_empty());
    let fin = s.a.finish();
    let un: Vec<(Side, u32)> = fin
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Unanswered {
                requester,
                message_id,
                ..
            } => Some((requester, message_id)),
            _ => None,
        })
        .collect();
    assert_eq!(un, [(Side::Responder, 0), (Side::Initiator, 0)]);
    assert_eq!(s.a.sas()[0].exchanges, 1);
    assert_eq!(s.a.sas()[0].retransmissions, 2);
}

#[test]
fn answered_exchanges_are_forgotten_after_the_retention() {
    let mut s = Sim::new();
    s.req(2, vec![]);
    s.resp(2, vec![]);
    s.req(3, vec![]);
    s.resp(3, vec![]);
    // a copy just inside the retention is still known: a retransmission after the response
    s.offset_us = ANSWERED_RETENTION_US - 10_000;
    let ev = s.req(2, vec![]);
    assert!(matches!(
        ev[0].kind,
        EventKind::Retransmission {
            after_response: true,
            first_frame: 1,
            ..
        }
    ));
    // mid 3 was idle longer than the retention: a copy now is a new request
    s.offset_us = ANSWERED_RETENTION_US + 10_000;
    assert!(s.req(3, vec![]).is_empty());
    assert!(matches!(
        s.resp(3, vec![])[0].kind,
        EventKind::Exchange {
            request_frame: 6,
            attempts: 1,
            ..
        }
    ));
    // mid 2's last copy renewed it
    assert_eq!(kinds(&s.req(2, vec![])), ["retransmission"]);
    assert_eq!(s.a.sas()[0].exchanges, 3);
}

#[test]
fn a_long_capture_keeps_only_the_last_two_minutes_of_exchanges() {
    let mut s = Sim::new();
    for k in 0..2000u32 {
        s.offset_us = i64::from(k) * 1_000_000; // one exchange a second
        s.req(k + 2, vec![]);
        s.resp(k + 2, vec![]);
    }
    let tracked: usize = s.a.tracks.values().map(|m| m.len()).sum();
    // 120 s of exchanges, not MAX_TRACKED_EXCHANGES (256) nor all 2000
    assert!((120..=122).contains(&tracked), "{tracked}");
    assert!(s.a.answered.len() <= 122, "{}", s.a.answered.len());
    assert_eq!(s.a.sas()[0].exchanges, 2000);
    assert!(s.a.finish().is_empty());
    assert!(s.a.answered.is_empty());
}

#[test]
fn ike_sa_init_binds_spi_r_and_nat_hashes() {
    let mut s = Sim::new();
    s.spis = (SPI_I, 0);
    let src = "192.0.2.10:500".parse().unwrap();
    let dst = "203.0.113.1:500".parse().unwrap();
    let nat = |t, h| n(t, NotifyData::NatDetection(h));
    // Request: SPIr zero in the hash; source right, destination wrong → responder behind NAT.
    let ev = s.send_full(
        true,
        false,
        IKE_SA_INIT,
        0,
        I,
        R,
        vec![
            nat(
                nt::NAT_DETECTION_SOURCE_IP,
                nat_detection_hash(SPI_I, 0, src),
            ),
            nat(nt::NAT_DETECTION_DESTINATION_IP, [7; 20]),
        ],
    );
    let nd = ev
        .iter()
        .find(|e| e.kind.name() == "nat_detection")
        .unwrap();
    let EventKind::NatDetection {
        sender_nat,
        receiver_nat,
        behind_nat,
        ..
    } = &nd.kind
    else {
        unreachable!()
    };
    assert_eq!(*sender_nat, Some(NatVerdict::NoNat));
    assert_eq!(*receiver_nat, Some(NatVerdict::Nat));
    assert_eq!(*behind_nat, [Side::Responder]);
    // Response: both SPIs; the SA gets its SPIr; all hashes match.
    s.spis = (SPI_I, SPI_R);
    let ev = s.send_full(
        false,
        true,
        IKE_SA_INIT,
        0,
        R,
        I,
        vec![
            nat(
                nt::NAT_DETECTION_SOURCE_IP,
                nat_detection_hash(SPI_I, SPI_R, dst),
            ),
            nat(
                nt::NAT_DETECTION_DESTINATION_IP,
                nat_detection_hash(SPI_I, SPI_R, src),
            ),
        ],
    );
    assert_eq!(kinds(&ev), ["exchange", "nat_detection"]);
    assert!(
        matches!(&ev[1].kind, EventKind::NatDetection { behind_nat, sender_nat: Some(NatVerdict::NoNat), .. } if behind_nat.is_empty())
    );
    assert_eq!(s.a.sas().len(), 1);
    assert_eq!(s.a.sas()[0].spis[0].spi_r, SPI_R);
    assert_eq!(s.a.find_sa(SPI_I, SPI_R), Some(SaId(0)));
    // Source mismatch on a translated port → Nat; on 4500 → NatOrFake.
    let ev = s.send_full(
        true,
        false,
        INFORMATIONAL,
        2,
        I,
        R,
        vec![nat(nt::NAT_DETECTION_SOURCE_IP, [1; 20])],
    );
    assert!(ev.iter().any(|e| matches!(
        e.kind,
        EventKind::NatDetection {
            sender_nat: Some(NatVerdict::NatOrFake),
            receiver_nat: None,
            ..
        }
    )));
    assert_eq!(s.a.sas()[0].responder.nat, Some(NatVerdict::Nat));
    assert_eq!(s.a.sas()[0].initiator.nat, Some(NatVerdict::NatOrFake));
}

#[test]
fn source_mismatch_on_translated_port_is_a_nat() {
    let mut a = Analyzer::new();
    let h = Header {
        spi_i: 1,
        spi_r: 2,
        version: 0x20,
        exchange_type: INFORMATIONAL,
        flags: FLAG_INITIATOR,
        ..Header::default()
    };
    let p = vec![n(
        nt::NAT_DETECTION_SOURCE_IP,
        NotifyData::NatDetection([0; 20]),
    )];
    let m = ObservedMessage {
        frame: 1,
        time_us: 0,
        src: "198.51.100.1".parse().unwrap(),
        sport: 61000,
        dst: "203.0.113.1".parse().unwrap(),
        dport: 4500,
        header: &h,
        payloads: &p,
        inner: None,
        integrity_ok: None,
    };
    let ev: Vec<_> = a.observe(&m).collect();
    assert!(ev.iter().any(|e| matches!(&e.kind, EventKind::NatDetection { behind_nat, sender_nat: Some(NatVerdict::Nat), .. } if *behind_nat == [Side::Initiator])));
}

#[test]
fn update_cookie2_and_moves() {
    let mut s = Sim::new();
    s.auth(true);
    let cookie = || n(nt::COOKIE2, NotifyData::Cookie2(Cow::Owned(vec![9; 16])));
    // Move: the new pair is the packet's.
    let ev = s.send_full(
        true,
        false,
        INFORMATIONAL,
        2,
        "198.51.100.10",
        R,
        vec![ne(nt::UPDATE_SA_ADDRESSES), cookie()],
    );
    assert_eq!(
        kinds(&ev),
        ["address_update"],
        "no new_path for the update itself"
    );
    let EventKind::AddressUpdate { old, new, .. } = &ev[0].kind else {
        unreachable!()
    };
    assert_eq!(old.unwrap().initiator.ip().to_string(), I);
    assert_eq!(new.initiator.ip().to_string(), "198.51.100.10");
    // Echo missing.
    let ev = s.send_full(false, true, INFORMATIONAL, 2, R, "198.51.100.10", vec![]);
    assert!(matches!(
        &ev[1].kind,
        EventKind::Cookie2 {
            echoed: false,
            response: None,
            ..
        }
    ));
    // Different cookie.
    s.req(3, vec![cookie()]);
    let ev = s.resp(
        3,
        vec![n(nt::COOKIE2, NotifyData::Cookie2(Cow::Owned(vec![8; 16])))],
    );
    assert!(
        matches!(&ev[1].kind, EventKind::Cookie2 { echoed: false, response: Some(r), .. } if r == &"08".repeat(16))
    );
    // Exact echo.
    s.req(4, vec![cookie()]);
    let ev = s.resp(4, vec![cookie()]);
    assert!(matches!(
        &ev[1].kind,
        EventKind::Cookie2 { echoed: true, .. }
    ));
    assert!(rules(&s.events).is_empty());
    let info = &s.a.sas()[0];
    assert_eq!(info.paths.last().unwrap().reason, PathReason::Update);
    // The request from the old address afterwards is on a known path: no new_path.
    assert!(!kinds(&s.req(5, vec![])).contains(&"new_path"));
}

#[test]
fn update_by_responder_and_outside_informational() {
    let mut s = Sim::new();
    s.auth(true);
    let ev = s.send_full(
        false,
        false,
        INFORMATIONAL,
        0,
        R,
        I,
        vec![ne(nt::UPDATE_SA_ADDRESSES)],
    );
    assert_eq!(rules(&ev), [Rule::UpdateByResponder]);
    let ev = s.send_full(
        true,
        false,
        CREATE_CHILD_SA,
        2,
        I,
        R,
        vec![ne(nt::UPDATE_SA_ADDRESSES)],
    );
    assert_eq!(rules(&ev), [Rule::UpdateNotInInformationalRequest]);
    let ev = s.resp(7, vec![ne(nt::UPDATE_SA_ADDRESSES)]);
    assert!(rules(&ev).contains(&Rule::UpdateNotInInformationalRequest));
}

#[test]
fn mobike_not_negotiated() {
    // IKE_AUTH readable on both sides without MOBIKE_SUPPORTED.
    let mut s = Sim::new();
    s.auth(false);
    let ev = s.req(2, vec![ne(nt::UPDATE_SA_ADDRESSES)]);
    assert_eq!(rules(&ev), [Rule::MobikeNotNegotiated]);
    // Only the initiator supports it: still not negotiated.
    let mut s = Sim::new();
    s.send_full(
        true,
        false,
        IKE_AUTH,
        1,
        I,
        R,
        vec![ne(nt::MOBIKE_SUPPORTED)],
    );
    s.send_full(false, true, IKE_AUTH, 1, R, I, vec![]);
    assert!(!s.a.sas()[0].mobike_negotiated());
    assert_eq!(
        rules(&s.req(2, vec![ne(nt::NO_ADDITIONAL_ADDRESSES)])),
        [Rule::MobikeNotNegotiated]
    );
    // In IKE_AUTH: addresses without MOBIKE_SUPPORTED from the sender.
    let mut s = Sim::new();
    let ev = s.send_full(
        true,
        false,
        IKE_AUTH,
        1,
        I,
        R,
        vec![n(
            nt::ADDITIONAL_IP4_ADDRESS,
            NotifyData::AdditionalIp4("192.0.2.99".parse().unwrap()),
        )],
    );
    assert_eq!(rules(&ev), [Rule::MobikeNotNegotiated]);
    // IKE_AUTH not seen (joined mid-stream): no judgement.
    let mut s = Sim::new();
    assert!(rules(&s.req(2, vec![ne(nt::UPDATE_SA_ADDRESSES)])).is_empty());
    // Negotiated: fine; MOBIKE_SUPPORTED reported once per side.
    let mut s = Sim::new();
    s.auth(true);
    assert!(rules(&s.req(2, vec![ne(nt::UPDATE_SA_ADDRESSES)])).is_empty());
    assert_eq!(
        s.events
            .iter()
            .filter(|e| e.kind.name() == "mobike_supported")
            .count(),
        2
    );
}

#[test]
fn announcements_replace_and_conflict() {
    let mut s = Sim::new();
    s.auth(true);
    let a4 = |a: &str| {
        n(
            nt::ADDITIONAL_IP4_ADDRESS,
            NotifyData::AdditionalIp4(a.parse().unwrap()),
        )
    };
    s.req(2, vec![a4("192.0.2.20"), a4("192.0.2.30")]);
    let ev = s.req(3, vec![a4("192.0.2.40")]);
    assert!(
        matches!(&ev[0].kind, EventKind::AddressesAnnounced { previous: Some(p), .. } if p.len() == 2)
    );
    let info = &s.a.sas()[0];
    assert_eq!(
        info.peer_addresses(Side::Initiator),
        vec![I.parse::<IpAddr>().unwrap(), "192.0.2.40".parse().unwrap()]
    );
    let ev = s.req(4, vec![a4("192.0.2.50"), ne(nt::NO_ADDITIONAL_ADDRESSES)]);
    assert_eq!(rules(&ev), [Rule::ConflictingAddressList]);
}

#[test]
fn no_nats_allowed() {
    let nn = |src: &str, dst: &str, sp, dp| {
        n(
            nt::NO_NATS_ALLOWED,
            NotifyData::NoNatsAllowed {
                src: src.parse().unwrap(),
                dst: dst.parse().unwrap(),
                src_port: sp,
                dst_port: dp,
            },
        )
    };
    let mut s = Sim::new();
    s.auth(true);
    let ev = s.req(2, vec![nn(I, R, 4500, 4500)]);
    assert!(matches!(
        ev[0].kind,
        EventKind::NoNatsAllowed { matches: true, .. }
    ));
    assert!(rules(&s.resp(2, vec![])).is_empty());
    // Mismatch answered without UNEXPECTED_NAT_DETECTED → violation.
    let ev = s.req(3, vec![nn("10.0.0.1", R, 4500, 4500)]);
    assert!(matches!(
        ev[0].kind,
        EventKind::NoNatsAllowed { matches: false, .. }
    ));
    assert_eq!(rules(&s.resp(3, vec![])), [Rule::UnexpectedNatNotReported]);
    // Answered properly.
    s.req(4, vec![nn(I, R, 4500, 1)]);
    let ev = s.resp(4, vec![ne(nt::UNEXPECTED_NAT_DETECTED)]);
    assert!(rules(&ev).is_empty());
    assert!(matches!(
        ev[1].kind,
        EventKind::MobikeError {
            notify_type: nt::UNEXPECTED_NAT_DETECTED,
            sender: Side::Responder,
            response: true,
            ..
        }
    ));
}

#[test]
fn path_probe_answered_and_unanswered() {
    let mut s = Sim::new();
    s.auth(true);
    s.send_full(true, false, INFORMATIONAL, 2, "198.51.100.10", R, vec![]);
    s.send_full(
        true,
        false,
        INFORMATIONAL,
        2,
        "198.51.100.10",
        "203.0.113.2",
        vec![],
    );
    let ev = s.send_full(
        false,
        true,
        INFORMATIONAL,
        2,
        "203.0.113.2",
        "198.51.100.10",
        vec![],
    );
    assert_eq!(kinds(&ev), ["exchange", "path_probe"]);
    let EventKind::PathProbe {
        tried, answered, ..
    } = &ev[1].kind
    else {
        unreachable!()
    };
    assert_eq!(tried.len(), 2);
    assert_eq!(answered.unwrap().responder.ip().to_string(), "203.0.113.2");
    // RTT from the copy sent on the answering path.
    assert!(matches!(
        ev[0].kind,
        EventKind::Exchange { rtt_us: 1000, .. }
    ));
    // Unanswered probe: reported at the end with the unanswered request.
    s.send_full(true, false, INFORMATIONAL, 3, "198.51.100.10", R, vec![]);
    s.send_full(
        true,
        false,
        INFORMATIONAL,
        3,
        "198.51.100.10",
        "203.0.113.2",
        vec![],
    );
    let fin = s.a.finish();
    assert_eq!(kinds(&fin), ["path_probe", "unanswered"]);
    assert!(matches!(
        fin[0].kind,
        EventKind::PathProbe { answered: None, .. }
    ));
}

#[test]
fn ike_sa_rekey_by_responder_swaps_roles() {
    let mut s = Sim::new();
    s.auth(true);
    // The original responder rekeys: it becomes the new SA's initiator.
    s.send_full(false, false, CREATE_CHILD_SA, 0, R, I, vec![ike_sa(0xAAAA)]);
    let ev = s.send_full(true, true, CREATE_CHILD_SA, 0, I, R, vec![ike_sa(0xBBBB)]);
    assert!(matches!(
        ev[1].kind,
        EventKind::IkeSaRekeyed {
            requester: Side::Responder,
            new_spi_i: 0xAAAA,
            new_spi_r: 0xBBBB,
            ..
        }
    ));
    // Under the new SPIs the original responder sends with the I flag.
    s.spis = (0xAAAA, 0xBBBB);
    let ev = s.send_full(true, false, INFORMATIONAL, 0, R, I, vec![]);
    assert!(ev.is_empty(), "{ev:?}");
    let ev = s.send_full(false, true, INFORMATIONAL, 0, I, R, vec![]);
    assert!(matches!(
        ev[0].kind,
        EventKind::Exchange {
            requester: Side::Responder,
            ..
        }
    ));
    assert_eq!(ev[0].sa, SaId(0));
    let info = &s.a.sas()[0];
    assert_eq!(info.spis[1].initiator, Side::Responder);
    assert_eq!(info.current_spis(), (0xAAAA, 0xBBBB));
    // The old SPIs are deleted: superseded.
    s.spis = (SPI_I, SPI_R);
    let ev = s.req(
        2,
        vec![Payload::new(
            pt::DELETE,
            PayloadBody::Delete(Delete::new(protocol_id::IKE, 0, &[])),
        )],
    );
    assert!(matches!(
        ev[0].kind,
        EventKind::IkeSaDeleted {
            superseded: true,
            ..
        }
    ));
    // A CHILD_SA rekey (ESP, 4-byte SPI) links nothing.
    let mut s = Sim::new();
    let esp = Payload::new(
        pt::SA,
        PayloadBody::Sa(Sa::new(vec![Proposal {
            last_substruc: 0,
            reserved: 0,
            number: 1,
            protocol_id: protocol_id::ESP,
            spi: Cow::Owned(vec![1, 2, 3, 4]),
            transforms: vec![],
        }])),
    );
    s.send_full(true, false, CREATE_CHILD_SA, 2, I, R, vec![esp.clone()]);
    s.send_full(false, true, CREATE_CHILD_SA, 2, R, I, vec![esp]);
    assert_eq!(s.a.sas()[0].spis.len(), 1);
}

/// UPDATE_SA_ADDRESSES after the original responder rekeyed the IKE SA: from the new SA's
/// initiator (the original responder, I flag) and from the original initiator without the I
/// flag (strongSwan keeps the moving role with it) are both accepted. Once the original
/// initiator rekeys again, the original responder no longer holds either claim.
#[test]
fn address_update_roles_after_ike_sa_rekey_by_responder() {
    let mut s = Sim::new();
    s.auth(true);
    s.send_full(false, false, CREATE_CHILD_SA, 0, R, I, vec![ike_sa(0xAAAA)]);
    s.send_full(true, true, CREATE_CHILD_SA, 0, I, R, vec![ike_sa(0xBBBB)]);
    s.spis = (0xAAAA, 0xBBBB);
    let update = || vec![ne(nt::UPDATE_SA_ADDRESSES)];

    // The original initiator moves to 198.51.100.10, as the new SA's responder.
    let ev = s.send_full(false, false, INFORMATIONAL, 0, "198.51.100.10", R, update());
    assert!(rules(&ev).is_empty(), "{ev:?}");
    let up = ev
        .iter()
        .find(|e| e.kind.name() == "address_update")
        .expect("address_update");
    assert!(matches!(
        &up.kind,
        EventKind::AddressUpdate { sender: Side::Initiator, i_flag: false, new, .. }
            if new.initiator.ip().to_string() == "198.51.100.10"
    ));
    assert_eq!(up.to_json()["i_flag"], false);
    assert!(up.to_string().contains("without the I flag"), "{up}");
    s.send_full(true, true, INFORMATIONAL, 0, R, "198.51.100.10", vec![]);

    // The original responder, initiator of the new SA, moves to 203.0.113.2.
    let ev = s.send_full(
        true,
        false,
        INFORMATIONAL,
        0,
        "203.0.113.2",
        "198.51.100.10",
        update(),
    );
    assert!(rules(&ev).is_empty(), "{ev:?}");
    assert!(ev.iter().any(|e| matches!(
        &e.kind,
        EventKind::AddressUpdate {
            sender: Side::Responder,
            i_flag: true,
            ..
        }
    )));
    s.send_full(
        false,
        true,
        INFORMATIONAL,
        0,
        "198.51.100.10",
        "203.0.113.2",
        vec![],
    );
    let info = &s.a.sas()[0];
    assert_eq!(info.spis[1].initiator, Side::Responder);
    assert_eq!(
        info.current_path(),
        Some(Endpoints {
            initiator: "198.51.100.10:4500".parse().unwrap(),
            responder: "203.0.113.2:4500".parse().unwrap(),
        })
    );

    // The original initiator rekeys: roles as in the first SA again.
    s.send_full(
        false,
        false,
        CREATE_CHILD_SA,
        1,
        "198.51.100.10",
        "203.0.113.2",
        vec![ike_sa(0xCCCC)],
    );
    s.send_full(
        true,
        true,
        CREATE_CHILD_SA,
        1,
        "203.0.113.2",
        "198.51.100.10",
        vec![ike_sa(0xDDDD)],
    );
    s.spis = (0xCCCC, 0xDDDD);
    assert_eq!(s.a.sas()[0].spis[2].initiator, Side::Initiator);
    let ev = s.send_full(false, false, INFORMATIONAL, 0, R, "198.51.100.10", update());
    assert_eq!(rules(&ev), [Rule::UpdateByResponder]);
    let ev = s.send_full(true, false, INFORMATIONAL, 1, "198.51.100.10", R, update());
    assert!(rules(&ev).is_empty(), "{ev:?}");
}

#[test]
fn encrypted_messages_and_integrity() {
    let mut a = Analyzer::new();
    let h = Header {
        spi_i: 1,
        spi_r: 2,
        version: 0x20,
        exchange_type: INFORMATIONAL,
        flags: FLAG_INITIATOR,
        message_id: 5,
        ..Header::default()
    };
    let sk = vec![Payload::new(
        pt::SK,
        PayloadBody::Sk(crate::wire::Sk {
            next_payload: pt::NOTIFY,
            data: Cow::Owned(vec![0; 32]),
        }),
    )];
    let inner = vec![ne(nt::UPDATE_SA_ADDRESSES)];
    let mut m = ObservedMessage {
        frame: 1,
        time_us: 0,
        src: "192.0.2.1".parse().unwrap(),
        sport: 4500,
        dst: "192.0.2.2".parse().unwrap(),
        dport: 4500,
        header: &h,
        payloads: &sk,
        inner: None,
        integrity_ok: None,
    };
    // Not decrypted: paired only, counted as opaque.
    assert_eq!(
        a.observe(&m).map(|e| e.kind.name()).collect::<Vec<_>>(),
        ["sa_started"]
    );
    // A copy that fails its integrity check: contents ignored.
    m.frame = 2;
    m.inner = Some(&inner);
    m.integrity_ok = Some(false);
    let k: Vec<_> = a.observe(&m).map(|e| e.kind.name()).collect();
    assert_eq!(k, ["integrity_failed", "retransmission"]);
    // A decrypted copy: the first readable one is analysed.
    m.frame = 3;
    m.integrity_ok = Some(true);
    let k: Vec<_> = a.observe(&m).map(|e| e.kind.name()).collect();
    assert_eq!(k, ["retransmission", "address_update"]);
    assert_eq!(a.sas()[0].opaque_messages, 2);
}

#[test]
fn skf_fragments_with_inner_on_the_last() {
    let mut a = Analyzer::new();
    let h = Header {
        spi_i: 1,
        spi_r: 2,
        version: 0x20,
        exchange_type: INFORMATIONAL,
        flags: FLAG_INITIATOR,
        message_id: 5,
        ..Header::default()
    };
    let frag = |k: u16| {
        vec![Payload::new(
            pt::SKF,
            PayloadBody::Skf(Skf {
                next_payload: if k == 1 { pt::NOTIFY } else { 0 },
                fragment_number: k,
                total_fragments: 2,
                data: Cow::Owned(vec![0; 32]),
            }),
        )]
    };
    let (f1, f2) = (frag(1), frag(2));
    let inner = vec![n(nt::COOKIE2, NotifyData::Cookie2(Cow::Owned(vec![5; 8])))];
    let obs = |frame: u64, p, inner| ObservedMessage {
        frame,
        time_us: frame as i64,
        src: "192.0.2.1".parse().unwrap(),
        sport: 4500,
        dst: "192.0.2.2".parse().unwrap(),
        dport: 4500,
        header: &h,
        payloads: p,
        inner,
        integrity_ok: inner.map(|_| true),
    };
    let mut all: Vec<&'static str> = Vec::new();
    all.extend(a.observe(&obs(1, &f1, None)).map(|e| e.kind.name()));
    all.extend(a.observe(&obs(2, &f2, Some(&inner))).map(|e| e.kind.name()));
    // Fragment 1 again: a retransmission of the whole message.
    all.extend(a.observe(&obs(3, &f1, None)).map(|e| e.kind.name()));
    assert_eq!(all, ["sa_started", "retransmission"]);
    // The response in two fragments, the echo in the reassembled last one.
    let hr = Header {
        flags: FLAG_RESPONSE,
        ..h
    };
    let obs_r = |frame: u64, p, inner| ObservedMessage {
        header: &hr,
        src: "192.0.2.2".parse().unwrap(),
        dst: "192.0.2.1".parse().unwrap(),
        ..obs(frame, p, inner)
    };
    let k1: Vec<_> = a
        .observe(&obs_r(4, &f1, None))
        .map(|e| e.kind.name())
        .collect();
    let k2: Vec<_> = a
        .observe(&obs_r(5, &f2, Some(&inner)))
        .map(|e| e.kind.name())
        .collect();
    assert_eq!(k1, ["exchange"]);
    assert_eq!(k2, ["cookie2"]);
}

#[test]
fn json_and_display() {
    let mut s = Sim::new();
    s.auth(true);
    s.send_full(
        true,
        false,
        INFORMATIONAL,
        2,
        "198.51.100.10",
        R,
        vec![ne(nt::UPDATE_SA_ADDRESSES)],
    );
    let e = s.events.last().unwrap();
    let j = e.to_json();
    assert_eq!(j["event"], "address_update");
    assert_eq!(j["sa"], 0);
    assert_eq!(j["spi_i"], "1111222233334444");
    assert_eq!(j["sender"], "initiator");
    assert_eq!(j["old"]["initiator"], "192.0.2.10:4500");
    assert_eq!(j["new"]["initiator"], "198.51.100.10:4500");
    assert_eq!(j["new"]["responder"], "203.0.113.1:4500");
    assert_eq!(
        e.to_string(),
        "frame 3: SA #0 1111222233334444/5555666677778888: UPDATE_SA_ADDRESSES mid 2 from \
         initiator: 192.0.2.10:4500 <-> 203.0.113.1:4500 -> 198.51.100.10:4500 <-> 203.0.113.1:4500"
    );
    let ex = s
        .events
        .iter()
        .find(|e| e.kind.name() == "exchange")
        .unwrap();
    let j = ex.to_json();
    assert_eq!(j["exchange"], "IKE_AUTH");
    assert_eq!(j["rtt_us"], 1000);
    assert_eq!(j["requester"], "initiator");
}

#[test]
fn hostile_input_does_not_panic_and_is_bounded() {
    let mut a = Analyzer::new();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let junk = [
        n(
            nt::NAT_DETECTION_SOURCE_IP,
            NotifyData::Raw(Cow::Owned(vec![1, 2])),
        ),
        n(
            nt::NO_NATS_ALLOWED,
            NotifyData::Malformed {
                offset: 0,
                expected: "x",
                raw: Cow::Owned(vec![0; 3]),
            },
        ),
        n(nt::COOKIE2, NotifyData::Empty),
        ne(nt::UPDATE_SA_ADDRESSES),
        ike_sa(7),
        Payload::new(pt::DELETE, PayloadBody::Delete(Delete::new(1, 0, &[]))),
    ];
    for frame in 0..20_000u64 {
        let r = next();
        let h = Header {
            spi_i: r % 5,
            spi_r: (r >> 8) % 3,
            version: 0x20,
            exchange_type: 33 + (r >> 16) as u8 % 6,
            flags: (r >> 24) as u8,
            message_id: ((r >> 32) % 400) as u32,
            ..Header::default()
        };
        let k = (r >> 40) as usize % junk.len();
        let p = &junk[k..(k + 2).min(junk.len())];
        let m = ObservedMessage {
            frame,
            time_us: (r >> 3) as i64 - (1 << 59),
            src: if r & 1 == 0 {
                "::1".parse().unwrap()
            } else {
                "10.0.0.1".parse().unwrap()
            },
            sport: (r >> 48) as u16,
            dst: "10.0.0.2".parse().unwrap(),
            dport: 500,
            header: &h,
            payloads: p,
            inner: (r & 2 == 0).then_some(p),
            integrity_ok: (r & 4 == 0).then_some(r & 8 == 0),
        };
        for e in a.observe(&m) {
            let _ = (e.to_string(), e.to_json());
        }
    }
    for e in a.finish() {
        let _ = (e.to_string(), e.to_json());
    }
    assert!(a.sas().len() <= 5 * 3 + 5);
    assert!(a.tracks.values().all(|m| m.len() <= MAX_TRACKED_EXCHANGES));
}
