//! ESP decryption of every ESP packet in the strongSwan captures: keys derived from the
//! decrypted exchanges (PFS g^ir from the log), or strongSwan's logged CHILD_SA keys alone.

mod esp_common;

use std::net::IpAddr;

use esp_common::*;
use mobikectl::capture::Endpoint;
use mobikectl::child_sa::{
    inner_ip_summary, ChildSaTracker, EspDecrypted, EspError, InnerIp, InnerTransport,
};
use mobikectl::crypto::Integrity;

struct Decrypted {
    frame: u64,
    src: Endpoint,
    dst: Endpoint,
    d: EspDecrypted,
}

/// Decrypts a capture. `derive`: learn CHILD_SAs from the IKE exchanges (with the logged DH
/// secrets for PFS); otherwise only strongSwan's logged CHILD_SA keys are used.
fn run(scenario: &str, pcap: &str, derive: bool) -> (Vec<Decrypted>, Vec<(u64, EspError)>) {
    let mut store = if derive {
        key_store(scenario)
    } else {
        mobikectl::keys::KeyStore::new()
    };
    let mut tracker = ChildSaTracker::new();
    let logged = logged_children(scenario).into_iter().map(|(_, l)| l);
    if derive {
        tracker.add_logged_dh_secrets(logged);
    } else {
        tracker.add_logged(logged);
    }
    let mut ok = Vec::new();
    let mut errors = Vec::new();
    for item in read_capture(&testdata(scenario).join(pcap), &mut store) {
        match item {
            Item::Ike {
                header,
                payloads,
                keys,
                ..
            } => {
                if derive {
                    tracker.observe_ike(&header, &payloads, keys.as_deref());
                }
            }
            Item::Esp {
                frame,
                src,
                dst,
                spi,
                data,
            } => match tracker.decrypt_esp(src, dst, &data) {
                Ok(d) => {
                    assert_eq!(d.spi, spi);
                    ok.push(Decrypted { frame, src, dst, d })
                }
                Err(e) => errors.push((frame, e)),
            },
        }
    }
    (ok, errors)
}

/// Every packet is an ICMP echo between the virtual IP and the protected host, replies
/// matching requests.
fn check_pings(scenario: &str, pcap: &str, packets: &[Decrypted]) {
    let (vip, host): (IpAddr, IpAddr) = if scenario.starts_with("v6") {
        (
            "2001:db8:ffff::1".parse().unwrap(),
            "2001:db8:100::1".parse().unwrap(),
        )
    } else {
        ("198.18.0.1".parse().unwrap(), "198.18.1.1".parse().unwrap())
    };
    let mut last_request = None;
    for p in packets {
        let ctx = format!("{scenario}/{pcap} frame {}", p.frame);
        assert_eq!(p.d.integrity, Integrity::Ok, "{ctx}");
        assert!(p.d.padding_ok, "{ctx}");
        assert_eq!(p.d.next_header, if vip.is_ipv6() { 41 } else { 4 }, "{ctx}");
        let ip = InnerIp::parse(&p.d.inner).unwrap_or_else(|| panic!("{ctx}: inner IP"));
        assert_eq!(ip.total_len, p.d.inner.len(), "{ctx}");
        let InnerTransport::Icmp {
            icmp_type,
            echo: Some(echo),
            ..
        } = ip.transport
        else {
            panic!("{ctx}: not an ICMP echo: {ip}");
        };
        let request = matches!(icmp_type, 8 | 128);
        if request {
            assert_eq!((ip.src, ip.dst), (vip, host), "{ctx}");
            last_request = Some(echo);
        } else {
            assert_eq!((ip.src, ip.dst), (host, vip), "{ctx}");
            assert_eq!(Some(echo), last_request, "{ctx}: reply matches request");
        }
        let s = inner_ip_summary(p.d.next_header, &p.d.inner);
        assert!(
            s.starts_with(&format!("{} -> {} ICMP", ip.src, ip.dst)),
            "{s}"
        );
        assert!(s.contains(&format!("seq {}", echo.1)), "{s}");
    }
}

#[test]
fn every_esp_packet_decrypts_with_derived_keys() {
    for &(scenario, pcap, count) in CAPTURES {
        // carol-eth1 (v6) starts after IKE_AUTH: nothing to derive from.
        if pcap == "carol-eth1.pcap" {
            continue;
        }
        let (ok, errors) = run(scenario, pcap, true);
        assert!(errors.is_empty(), "{scenario}/{pcap}: {errors:?}");
        assert_eq!(ok.len(), count, "{scenario}/{pcap}");
        check_pings(scenario, pcap, &ok);
    }
}

#[test]
fn every_esp_packet_decrypts_with_logged_keys_only() {
    for &(scenario, pcap, count) in CAPTURES {
        let (ok, errors) = run(scenario, pcap, false);
        assert!(errors.is_empty(), "{scenario}/{pcap}: {errors:?}");
        assert_eq!(ok.len(), count, "{scenario}/{pcap}");
        check_pings(scenario, pcap, &ok);
    }
}

/// v6-gcm-mobike: the pings before the MOBIKE move come from carol's old address on the
/// first CHILD_SA; after UPDATE_SA_ADDRESSES moon rekeys (kernel-libipsec cannot move SAs)
/// and the pings continue from the new address on the CHILD_SA that replaced it
/// (N(REKEY_SA)), with the same inner addresses.
#[test]
fn v6_mobike_traffic_followed_across_the_address_change() {
    let (ok, _) = run("v6-gcm-mobike", "moon-eth0.pcap", true);
    let old: IpAddr = "2001:db8:1::10".parse().unwrap();
    let new: IpAddr = "2001:db8:2::10".parse().unwrap();
    let carol = |p: &Decrypted| {
        if p.src.addr.is_ipv6() && (p.src.addr == old || p.src.addr == new) {
            p.src.addr
        } else {
            p.dst.addr
        }
    };
    let (before, after): (Vec<_>, Vec<_>) = ok.iter().partition(|p| carol(p) == old);
    assert_eq!((before.len(), after.len()), (10, 10));
    assert!(before.iter().all(|p| p.d.child == before[0].d.child));
    assert!(after.iter().all(|p| p.d.child == after[0].d.child));
    assert_ne!(before[0].d.child, after[0].d.child);
    assert!(after.iter().all(|p| carol(p) == new));
    assert!(before.iter().map(|p| p.frame).max() < after.iter().map(|p| p.frame).min());

    // The new CHILD_SA names the old one in REKEY_SA: re-run to inspect the tracker.
    let mut store = key_store("v6-gcm-mobike");
    let mut tracker = ChildSaTracker::new();
    let mut rekeyed = None;
    for item in read_capture(
        &testdata("v6-gcm-mobike").join("moon-eth0.pcap"),
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
                if let mobikectl::child_sa::ChildSaEvent::Established {
                    rekeyed: Some(r), ..
                } = ev
                {
                    rekeyed = Some(r);
                }
            }
        }
    }
    let old_spis = [
        before[0].d.spi,
        before
            .iter()
            .find(|p| p.d.spi != before[0].d.spi)
            .unwrap()
            .d
            .spi,
    ];
    assert!(old_spis.contains(&rekeyed.expect("REKEY_SA")));
}

/// The same SA keeps decrypting when its outer addresses change (a MOBIKE update without
/// rekeying, as Linux kernels do it): `moved_from` reports the change. Simulated by
/// replaying the v6 pings of the first CHILD_SA with carol's new address.
#[test]
fn same_sa_continues_after_address_change() {
    let mut store = key_store("v6-gcm-mobike");
    let mut tracker = ChildSaTracker::new();
    let old: IpAddr = "2001:db8:1::10".parse().unwrap();
    let new: IpAddr = "2001:db8:2::10".parse().unwrap();
    let mut moved = 0;
    let mut n = 0;
    for item in read_capture(
        &testdata("v6-gcm-mobike").join("moon-eth0.pcap"),
        &mut store,
    ) {
        match item {
            Item::Ike {
                header,
                payloads,
                keys,
                ..
            } => {
                tracker.observe_ike(&header, &payloads, keys.as_deref());
            }
            Item::Esp { src, dst, data, .. } if src.addr == old || dst.addr == old => {
                n += 1;
                // The last three packets "after the move" (same ports).
                let moved_addr = |e: Endpoint| {
                    if e.addr == old {
                        Endpoint::new(new, e.port)
                    } else {
                        e
                    }
                };
                let (s, d) = if n > 7 {
                    (moved_addr(src), moved_addr(dst))
                } else {
                    (src, dst)
                };
                let r = tracker.decrypt_esp(s, d, &data).unwrap();
                assert_eq!(r.integrity, Integrity::Ok);
                if let Some(prev) = r.moved_from {
                    assert!(prev.0.addr == old || prev.1.addr == old);
                    assert_eq!((prev.0.port, prev.1.port), (s.port, d.port));
                    moved += 1;
                    let sa = tracker.sa(r.spi).expect("SA");
                    assert!(sa
                        .first_addrs
                        .is_some_and(|a| a.0.addr == old || a.1.addr == old));
                    assert!(sa
                        .last_addrs
                        .is_some_and(|a| a.0.addr == new || a.1.addr == new));
                }
            }
            _ => {}
        }
    }
    assert_eq!(n, 10);
    // First packet on the new path in each direction.
    assert_eq!(moved, 2);
}

/// v4-nat-chacha, outside the NAT: `conntrack -D` makes the NAT map carol's next ESP packet
/// (frame 26, still on the first CHILD_SA) to a new public port on the same address. Only
/// the port changed, and that is a move. moon's replies (frames 27 and 30) still go to the
/// old port, so that direction did not move; the CHILD_SA that replaces it after
/// UPDATE_SA_ADDRESSES starts on the new port. Inside the NAT nothing moved.
#[test]
fn port_only_nat_rebinding_is_a_move() {
    let ep = |s: &str| Endpoint::from(s.parse::<std::net::SocketAddr>().unwrap());
    let (nat_old, nat_new, moon) = (
        ep("203.0.113.2:57432"),
        ep("203.0.113.2:36472"),
        ep("203.0.113.1:4500"),
    );
    for derive in [true, false] {
        let (ok, errors) = run("v4-nat-chacha", "nat-outside.pcap", derive);
        assert!(errors.is_empty(), "{errors:?}");
        let moved: Vec<_> = ok.iter().filter(|p| p.d.moved_from.is_some()).collect();
        assert_eq!(moved.len(), 1, "derive={derive}");
        let p = moved[0];
        assert_eq!(p.frame, 26);
        assert_eq!(p.d.spi, 0x7d1e_e0ec);
        assert_eq!((p.src, p.dst), (nat_new, moon));
        assert_eq!(p.d.moved_from, Some((nat_old, moon)));
        let (from, to) = p.d.moved_from.unwrap();
        assert_eq!(
            format!("{from} -> {to}"),
            "203.0.113.2:57432 -> 203.0.113.1:4500"
        );
        // moon -> carol kept using the stale mapping on the same SA.
        for f in [27, 30] {
            let r = ok.iter().find(|p| p.frame == f).unwrap();
            assert_eq!((r.src, r.dst, r.d.spi), (moon, nat_old, 0xb5d9_1186));
            assert_eq!(r.d.moved_from, None);
        }

        let (inside, errors) = run("v4-nat-chacha", "nat-inside.pcap", derive);
        assert!(errors.is_empty(), "{errors:?}");
        assert!(inside.iter().all(|p| p.d.moved_from.is_none()));
        assert!(inside
            .iter()
            .all(|p| p.src.port == Some(4500) && p.dst.port == Some(4500)));
    }

    // The tracker's record of the SAs: first and last endpoints, ports included (logged
    // keys only: with the IKE exchanges, the Delete after the CHILD_SA rekey removes them).
    let mut tracker = ChildSaTracker::new();
    tracker.add_logged(logged_children("v4-nat-chacha").into_iter().map(|(_, l)| l));
    let mut store = mobikectl::keys::KeyStore::new();
    for item in read_capture(
        &testdata("v4-nat-chacha").join("nat-outside.pcap"),
        &mut store,
    ) {
        if let Item::Esp { src, dst, data, .. } = item {
            tracker.decrypt_esp(src, dst, &data).unwrap();
        }
    }
    let sa = tracker
        .sa(0x7d1e_e0ec)
        .expect("first CHILD_SA, carol -> moon");
    assert_eq!(sa.first_addrs, Some((nat_old, moon)));
    assert_eq!(sa.last_addrs, Some((nat_new, moon)));
    let sa = tracker
        .sa(0xb5d9_1186)
        .expect("first CHILD_SA, moon -> carol");
    assert_eq!(sa.first_addrs, Some((moon, nat_old)));
    assert_eq!(sa.last_addrs, Some((moon, nat_old)));
}

/// Synthetic port changes on real IPv6 packets: v6-gcm-mobike's first CHILD_SA replayed
/// with carol's UDP port changed (a rebinding that keeps the address), then without UDP
/// encapsulation (raw ESP, no port). Each change is a move, shown `[addr]:port`; the same
/// endpoints again are not.
#[test]
fn port_only_change_ipv6_and_encapsulation_change() {
    let mut store = key_store("v6-gcm-mobike");
    let mut tracker = ChildSaTracker::new();
    let carol: IpAddr = "2001:db8:1::10".parse().unwrap();
    let mut seen = Vec::new();
    for item in read_capture(
        &testdata("v6-gcm-mobike").join("moon-eth0.pcap"),
        &mut store,
    ) {
        match item {
            Item::Ike {
                header,
                payloads,
                keys,
                ..
            } => {
                tracker.observe_ike(&header, &payloads, keys.as_deref());
            }
            // carol -> moon on the first CHILD_SA
            Item::Esp { src, dst, data, .. } if src.addr == carol => {
                assert_eq!((src.port, dst.port), (Some(4500), Some(4500)));
                let n = seen.len();
                let src = match n {
                    0 | 1 => src,
                    2 | 3 => Endpoint::new(src.addr, Some(61000)),
                    _ => Endpoint::from(src.addr),
                };
                let dst = if n >= 4 {
                    Endpoint::from(dst.addr)
                } else {
                    dst
                };
                let r = tracker.decrypt_esp(src, dst, &data).unwrap();
                assert_eq!(r.integrity, Integrity::Ok);
                seen.push(r.moved_from.map(|(a, b)| format!("{a} -> {b}")));
            }
            _ => {}
        }
    }
    assert_eq!(seen.len(), 5, "{seen:?}");
    let moon = "2001:db8:3::100";
    assert_eq!(
        seen,
        [
            None,
            None,
            Some(format!("[2001:db8:1::10]:4500 -> [{moon}]:4500")),
            None,
            Some(format!("[2001:db8:1::10]:61000 -> [{moon}]:4500")),
        ]
    );
}

/// Wrong keys: integrity bad, no panic. Truncated or garbage ESP: an error or integrity bad,
/// never a panic.
#[test]
fn wrong_keys_and_garbage() {
    let scenario = "v4-cbc-sha1-frag-cert";
    let mut wrong: Vec<_> = logged_children(scenario)
        .into_iter()
        .map(|(_, l)| l)
        .collect();
    for l in &mut wrong {
        l.integ_i[0] ^= 1;
        l.integ_r[0] ^= 1;
    }
    let mut tracker = ChildSaTracker::new();
    tracker.add_logged(wrong.into_iter().take(1));
    let mut store = mobikectl::keys::KeyStore::new();
    let items = read_capture(&testdata(scenario).join("moon-eth0.pcap"), &mut store);
    let esp: Vec<(Endpoint, Endpoint, Vec<u8>)> = items
        .into_iter()
        .filter_map(|i| match i {
            Item::Esp { src, dst, data, .. } => Some((src, dst, data)),
            _ => None,
        })
        .collect();
    assert_eq!(esp.len(), 6);
    for (s, d, data) in &esp {
        let r = tracker.decrypt_esp(*s, *d, data).unwrap();
        assert_eq!(r.integrity, Integrity::Bad);
        assert!(r.inner.is_empty());
    }
    assert!(tracker
        .sas()
        .all(|s| s.packets_bad == 3 && s.packets_ok == 0));

    // Correct keys, damaged packets.
    let mut tracker = ChildSaTracker::new();
    tracker.add_logged(
        logged_children(scenario)
            .into_iter()
            .map(|(_, l)| l)
            .take(1),
    );
    let (s, d, pkt) = &esp[0];
    for n in 0..pkt.len() {
        match tracker.decrypt_esp(*s, *d, &pkt[..n]) {
            Ok(r) => assert_eq!(r.integrity, Integrity::Bad),
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }
    let mut flipped = pkt.clone();
    flipped[30] ^= 0x80;
    assert_eq!(
        tracker.decrypt_esp(*s, *d, &flipped).unwrap().integrity,
        Integrity::Bad
    );
    // Garbage behind a known SPI, of every length up to 100.
    let mut state = 0x1234_5678u32;
    for n in 8..100 {
        let mut g = pkt[..8].to_vec();
        for _ in 8..n {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
            g.push((state >> 16) as u8);
        }
        if let Ok(r) = tracker.decrypt_esp(*s, *d, &g) {
            assert_eq!(r.integrity, Integrity::Bad);
        }
    }
    assert!(matches!(
        tracker.decrypt_esp(*s, *d, &[1, 2, 3]),
        Err(EspError::TooShort(3))
    ));
    assert!(matches!(
        tracker.decrypt_esp(*s, *d, &[0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 1]),
        Err(EspError::UnknownSpi(0xdead_beef))
    ));
    // The original still decrypts.
    assert_eq!(
        tracker.decrypt_esp(*s, *d, pkt).unwrap().integrity,
        Integrity::Ok
    );
}

/// Delete removes SAs; the SA cap bounds the state.
#[test]
fn delete_and_cap() {
    let (ok, errors) = run("v4-cbc-sha1-frag-cert", "moon-eth0.pcap", true);
    assert_eq!((ok.len(), errors.len()), (6, 0));
    let mut store = key_store("v4-cbc-sha1-frag-cert");
    let mut tracker = ChildSaTracker::new();
    for item in read_capture(
        &testdata("v4-cbc-sha1-frag-cert").join("moon-eth0.pcap"),
        &mut store,
    ) {
        if let Item::Ike {
            header,
            payloads,
            keys,
            ..
        } = item
        {
            tracker.observe_ike(&header, &payloads, keys.as_deref());
        }
    }
    // The IKE SA delete at the end removed the CHILD_SA.
    assert!(tracker.is_empty());

    let mut tracker = ChildSaTracker::with_max_sas(4);
    let many: Vec<_> = ["v4-ctr-modp-rekey"]
        .iter()
        .flat_map(|s| logged_children(s))
        .map(|(_, l)| l)
        .collect();
    assert_eq!(many.len(), 8);
    tracker.add_logged(many);
    assert_eq!(tracker.len(), 4);
}
