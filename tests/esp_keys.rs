//! CHILD_SA keys derived from SK_d and the decrypted exchanges equal the keys strongSwan
//! logged at `chd 4`, for every CHILD_SA of every scenario that logs them (PFS included:
//! `g^ir` comes from the `DH secret` dump, tied to the exchange by its nonces).

mod esp_common;

use std::collections::HashMap;

use esp_common::*;
use mobikectl::child_sa::{ChildSaEvent, ChildSaTracker, KeySource};
use mobikectl::crypto::esp::EspKeys;

/// Keys by (responder's SPI, initiator's SPI): (i→r, r→i, PFS).
type Derived = HashMap<(u32, u32), (EspKeys, EspKeys, bool)>;

/// Runs the tracker over a capture; returns the keys of every CHILD_SA established, by
/// (responder's SPI, initiator's SPI), and the events.
fn derive_all(scenario: &str, pcap: &str) -> (Derived, Vec<ChildSaEvent>) {
    let mut store = key_store(scenario);
    let mut tracker = ChildSaTracker::new();
    tracker.add_logged_dh_secrets(logged_children(scenario).into_iter().map(|(_, l)| l));
    let mut keys = HashMap::new();
    let mut events = Vec::new();
    for item in read_capture(&testdata(scenario).join(pcap), &mut store) {
        if let Item::Ike {
            header,
            payloads,
            keys: ks,
            ..
        } = item
        {
            for ev in tracker.observe_ike(&header, &payloads, ks.as_deref()) {
                if let ChildSaEvent::Established {
                    spi_i,
                    spi_r,
                    keys: Ok(KeySource::Derived { pfs }),
                    ..
                } = ev
                {
                    let ki = tracker.esp_keys(spi_r).expect("i->r keys").clone();
                    let kr = tracker.esp_keys(spi_i).expect("r->i keys").clone();
                    keys.insert((spi_r, spi_i), (ki, kr, pfs));
                }
                events.push(ev);
            }
        }
    }
    (keys, events)
}

#[test]
fn derived_child_keys_match_strongswan_logs() {
    let scenarios = [
        ("v4-cbc-sha1-frag-cert", "moon-eth0.pcap", 1, 0),
        ("v4-ccm-cookie", "moon-eth0.pcap", 1, 0),
        ("v4-ctr-modp-rekey", "moon-eth0.pcap", 4, 3),
        ("v4-nat-chacha", "nat-outside.pcap", 2, 0),
        ("v6-gcm-mobike", "moon-eth0.pcap", 2, 0),
        ("v4-resp-rekey-mobike", "moon-eth0.pcap", 2, 0),
    ];
    let mut matched = 0;
    for (scenario, pcap, children, pfs_children) in scenarios {
        let (derived, _) = derive_all(scenario, pcap);
        assert_eq!(derived.len(), children, "{scenario}: CHILD_SAs derived");
        assert_eq!(
            derived.values().filter(|k| k.2).count(),
            pfs_children,
            "{scenario}: PFS CHILD_SAs"
        );
        let logged = logged_children(scenario);
        // Both peers log every CHILD_SA.
        assert_eq!(logged.len(), 2 * children, "{scenario}: logged key sets");
        for (log, l) in &logged {
            let spis = l.spis_i_to_r().expect("role known from the log");
            let (ki, kr, pfs) = derived.get(&spis).unwrap_or_else(|| {
                panic!("{scenario} {log}:{}: SPIs {spis:08x?} not derived", l.line)
            });
            assert_eq!(*pfs, !l.dh_secret.is_empty());
            assert_eq!(Some(ki.encr), l.encr);
            assert_eq!(Some(ki.integ), l.integ);
            assert_eq!(ki.encr_key, l.encr_i, "{scenario} {log}:{} encr i", l.line);
            assert_eq!(kr.encr_key, l.encr_r, "{scenario} {log}:{} encr r", l.line);
            assert_eq!(
                ki.integ_key, l.integ_i,
                "{scenario} {log}:{} integ i",
                l.line
            );
            assert_eq!(
                kr.integ_key, l.integ_r,
                "{scenario} {log}:{} integ r",
                l.line
            );
            matched += 1;
        }
    }
    assert_eq!(matched, 24);
}

/// strongswan-move logs no CHILD_SA keys and carries no ESP, but the CHILD_SAs learned from
/// the capture are the ones charon reports (`established with SPIs X_i Y_o`, carol = initiator
/// of both exchanges), with keys derived.
#[test]
fn strongswan_move_child_sas_match_log() {
    let (derived, events) = derive_all("strongswan-move", "cap-moon.pcap");
    let mut spis: Vec<(u32, u32)> = derived.keys().copied().collect();
    spis.sort();
    // (responder's = carol's outbound, initiator's = carol's inbound)
    assert_eq!(
        spis,
        vec![(0x3ed7_8665, 0xb62a_b86b), (0x545a_0b4f, 0x23e8_94b6)]
    );
    assert!(events.iter().any(|e| matches!(
        e,
        ChildSaEvent::Established {
            spi_i: 0x23e8_94b6,
            rekeyed: Some(0xb62a_b86b),
            ..
        }
    )));
    assert!(events
        .iter()
        .any(|e| matches!(e, ChildSaEvent::Deleted { spis } if spis.contains(&0xb62a_b86b))));
}

/// Without the DH secrets a PFS CHILD_SA is known but has no keys.
#[test]
fn pfs_without_dh_secret_reports_missing_keys() {
    let mut store = key_store("v4-ctr-modp-rekey");
    let mut tracker = ChildSaTracker::new();
    let mut missing = 0;
    for item in read_capture(
        &testdata("v4-ctr-modp-rekey").join("moon-eth0.pcap"),
        &mut store,
    ) {
        if let Item::Ike {
            header,
            payloads,
            keys,
            ..
        } = item
        {
            for ev in tracker.observe_ike(&header, &payloads, keys.as_deref()) {
                if let ChildSaEvent::Established {
                    pfs: true,
                    keys: Err(e),
                    ..
                } = ev
                {
                    assert_eq!(e, mobikectl::child_sa::MissingKeys::NoDhSecret);
                    missing += 1;
                }
            }
        }
    }
    assert_eq!(missing, 3);
}
