//! The hand-crafted captures of `testdata/edge/` (written by
//! `examples/make_edge_captures.rs`) decode to exactly the expected events.
mod capture_common;

use std::net::{IpAddr, Ipv6Addr};

use capture_common::*;
use mobikectl::capture::{CaptureEvent, CaptureOptions, IkePacket, Severity, Transport};

/// 2001:db8::a.b.c.d, the generator's IPv6 twin of an IPv4 address.
fn v6(a: IpAddr) -> IpAddr {
    match a {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            IpAddr::V6(Ipv6Addr::new(
                0x2001,
                0xdb8,
                0,
                0,
                0,
                0,
                u16::from_be_bytes([o[0], o[1]]),
                u16::from_be_bytes([o[2], o[3]]),
            ))
        }
        v => v,
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("address")
}

/// Time of the generator's synthetic frame `i`.
fn at(i: i64) -> i64 {
    moon_messages()[0].time_us + i * 1000
}

fn transport_of(r: &RefMsg) -> Transport {
    if r.sport == 4500 || r.dport == 4500 {
        Transport::UdpEncap
    } else {
        Transport::Udp
    }
}

/// The IKE event the generator made from reference message `r` (IPv6 twin if `six`).
fn expect_ike(frame: u64, time_us: i64, r: &RefMsg, six: bool) -> CaptureEvent {
    let (src, dst) = if six {
        (v6(r.src), v6(r.dst))
    } else {
        (r.src, r.dst)
    };
    CaptureEvent::Ike(IkePacket {
        frame,
        time_us,
        src,
        sport: r.sport,
        dst,
        dport: r.dport,
        transport: transport_of(r),
        data: r.data.clone(),
    })
}

fn assert_events(got: &[CaptureEvent], want: &[CaptureEvent]) {
    let show = |v: &[CaptureEvent]| v.iter().map(|e| format!("{e}\n")).collect::<String>();
    assert_eq!(got, want, "\ngot:\n{}want:\n{}", show(got), show(want));
}

/// A diagnostic must match frame and severity exactly and contain `text`.
fn assert_diag(ev: &CaptureEvent, frame: u64, severity: Severity, text: &str) {
    match ev {
        CaptureEvent::Diagnostic {
            frame: f,
            severity: s,
            message,
        } => {
            assert_eq!((*f, *s), (frame, severity), "{ev}");
            assert!(message.contains(text), "{ev:?} lacks {text:?}");
        }
        other => panic!("expected a diagnostic, got {other}"),
    }
}

/// The four first messages, with the IPv4/IPv6 pattern `six(i)`.
fn link_variant(file: &str, six: impl Fn(usize) -> bool) {
    let m = moon_messages();
    let want: Vec<CaptureEvent> = (0..4)
        .map(|i| expect_ike(i as u64 + 1, m[i].time_us, &m[i], six(i)))
        .collect();
    assert_events(&read_all(file), &want);
}

#[test]
fn vlan() {
    link_variant("edge/vlan.pcap", |_| false);
}

#[test]
fn qinq() {
    link_variant("edge/qinq.pcap", |_| false);
}

#[test]
fn linux_sll() {
    link_variant("edge/sll.pcap", |i| i % 2 == 1);
}

#[test]
fn linux_sll2() {
    link_variant("edge/sll2.pcap", |i| i % 2 == 0);
}

#[test]
fn raw_ip() {
    link_variant("edge/raw.pcap", |i| i % 2 == 1);
}

#[test]
fn linktype_ipv4() {
    link_variant("edge/ipv4.pcap", |_| false);
}

#[test]
fn linktype_ipv6() {
    link_variant("edge/ipv6.pcap", |_| true);
}

#[test]
fn bsd_null() {
    link_variant("edge/null.pcap", |i| i % 2 == 1);
}

#[test]
fn bsd_loop() {
    link_variant("edge/loop.pcap", |i| i % 2 == 1);
}

#[test]
fn pcapng_nanosecond_timestamps() {
    let m = moon_messages();
    let want: Vec<CaptureEvent> = m
        .iter()
        .enumerate()
        .map(|(i, r)| expect_ike(i as u64 + 1, r.time_us, r, false))
        .collect();
    assert_events(&read_all("edge/moon.pcapng"), &want);
}

#[test]
fn ipv4_fragments() {
    let m = moon_messages();
    let evs = read_all("edge/frag-ipv4.pcap");
    assert_eq!(evs.len(), 7, "{evs:#?}");
    assert_events(
        &evs[0..2],
        &[
            expect_ike(4, at(4), &m[2], false),
            expect_ike(6, at(6), &m[3], false),
        ],
    );
    assert_diag(
        &evs[2],
        8,
        Severity::Malformed,
        "overlaps earlier data with different content",
    );
    assert_events(&evs[3..4], &[expect_ike(8, at(8), &m[1], false)]);
    assert_diag(&evs[4], 9, Severity::Warning, "timed out after 30 s");
    assert_diag(&evs[4], 9, Severity::Warning, "id 0x1004");
    assert_events(
        &evs[5..6],
        &[expect_ike(10, at(9) + 31_000_000, &m[4], false)],
    );
    assert_diag(
        &evs[6],
        11,
        Severity::Warning,
        "incomplete at end of capture",
    );
    assert_diag(&evs[6], 11, Severity::Warning, "44 of 92 bytes");
}

#[test]
fn ipv6_fragments() {
    let m = moon_messages();
    assert_events(
        &read_all("edge/frag-ipv6.pcap"),
        &[
            expect_ike(4, at(4), &m[2], true),
            expect_ike(6, at(6), &m[3], true),
        ],
    );
}

#[test]
fn ike_over_tcp() {
    let m = moon_messages();
    let (c, s) = (ip("192.0.2.10"), ip("203.0.113.1"));
    let tcp = |frame: u64, from_client: bool, r: &RefMsg| {
        let (src, sport, dst, dport) = if from_client {
            (c, 40000, s, 4500)
        } else {
            (s, 4500, c, 40000)
        };
        CaptureEvent::Ike(IkePacket {
            frame,
            time_us: at(frame as i64),
            src,
            sport,
            dst,
            dport,
            transport: Transport::Tcp,
            data: r.data.clone(),
        })
    };
    assert_events(
        &read_all("edge/tcp.pcap"),
        &[
            tcp(7, true, &m[0]),
            tcp(8, false, &m[1]),
            tcp(9, true, &m[2]),
            tcp(9, true, &m[5]),
            tcp(11, true, &m[8]),
            tcp(13, false, &m[3]),
            CaptureEvent::Esp {
                frame: 13,
                time_us: at(13),
                src: s,
                sport: Some(4500),
                dst: c,
                dport: Some(40000),
                spi: 0xc1a2_b3c4,
                seq: 1,
                len: 40,
                encap: true,
                data: Vec::new(),
            },
        ],
    );
}

#[test]
fn ike_over_tcp_midstream() {
    let m = moon_messages();
    let evs = read_all("edge/tcp-midstream.pcap");
    assert_eq!(evs.len(), 3, "{evs:#?}");
    assert_diag(&evs[0], 1, Severity::Info, "connection start not captured");
    let (s, c) = (ip("203.0.113.1"), ip("192.0.2.10"));
    let ev = |r: &RefMsg| {
        CaptureEvent::Ike(IkePacket {
            frame: 1,
            time_us: at(1),
            src: s,
            sport: 4500,
            dst: c,
            dport: 40000,
            transport: Transport::Tcp,
            data: r.data.clone(),
        })
    };
    assert_events(&evs[1..], &[ev(&m[9]), ev(&m[11])]);
}

#[test]
fn natt_keepalive_and_esp() {
    let m = moon_messages();
    let (a, b, c) = (ip("198.51.100.10"), ip("203.0.113.1"), ip("192.0.2.10"));
    let esp = |frame: u64, src, dst, spi, seq, len, ports: Option<(u16, u16)>| CaptureEvent::Esp {
        frame,
        time_us: at(frame as i64),
        src,
        sport: ports.map(|p| p.0),
        dst,
        dport: ports.map(|p| p.1),
        spi,
        seq,
        len,
        encap: ports.is_some(),
        data: Vec::new(),
    };
    let evs = read_all("edge/natt.pcap");
    assert_eq!(evs.len(), 7, "{evs:#?}");
    assert_events(
        &evs[..6],
        &[
            CaptureEvent::Keepalive {
                frame: 1,
                time_us: at(1),
                src: a,
                sport: 4500,
                dst: b,
                dport: 4500,
            },
            esp(2, a, b, 0xc0ff_ee01, 1, 100, Some((4500, 4500))),
            esp(3, a, b, 0xc0ff_ee01, 2, 100, Some((4500, 4500))),
            esp(4, b, c, 0xc0ff_ee02, 7, 120, None),
            esp(5, v6(b), v6(c), 0xc0ff_ee03, 9, 64, None),
            expect_ike(6, at(6), &m[4], false),
        ],
    );
    assert_diag(&evs[6], 7, Severity::Malformed, "neither a NAT-T keepalive");
    // per-SPI counting from the events
    let n = evs
        .iter()
        .filter(|e| {
            matches!(
                e,
                CaptureEvent::Esp {
                    spi: 0xc0ff_ee01,
                    ..
                }
            )
        })
        .count();
    assert_eq!(n, 2);
}

#[test]
fn snap_length() {
    let evs = read_all("edge/snaplen.pcap");
    assert_eq!(evs.len(), 9, "{evs:#?}");
    for (i, ev) in evs[..6].iter().enumerate() {
        assert!(
            matches!(ev, CaptureEvent::Keepalive { frame, .. } if *frame == i as u64 + 1),
            "{ev}"
        );
    }
    assert_eq!(
        evs[6],
        CaptureEvent::Diagnostic {
            frame: 7,
            severity: Severity::Warning,
            message: "captured 96 of 282 bytes (snap length); IKE message incomplete".into(),
        }
    );
    // The captured part is still delivered, so the decoder can show the cut message's header.
    match &evs[7] {
        CaptureEvent::Ike(p) => {
            assert_eq!(p.frame, 7);
            assert_eq!(
                p.data.len(),
                96 - 42,
                "captured bytes after Ethernet/IPv4/UDP headers"
            );
            assert_eq!(
                &p.data[24..28],
                &240u32.to_be_bytes(),
                "header length says 240"
            );
        }
        other => panic!("expected the cut IKE message, got {other}"),
    }
    assert!(
        matches!(
            evs[8],
            CaptureEvent::Esp {
                frame: 8,
                sport: Some(4500),
                dport: Some(4500),
                spi: 0xc0ff_ee01,
                seq: 3,
                len: 200,
                encap: true,
                ..
            }
        ),
        "{}",
        evs[8]
    );
}

#[test]
fn truncated_file() {
    let m = moon_messages();
    let evs = read_all("edge/truncated.pcap");
    assert_eq!(evs.len(), 4, "{evs:#?}");
    let want: Vec<CaptureEvent> = (0..3)
        .map(|i| expect_ike(i as u64 + 1, m[i].time_us, &m[i], false))
        .collect();
    assert_events(&evs[..3], &want);
    assert_diag(&evs[3], 4, Severity::Malformed, "truncated");
}

#[test]
fn not_ike_and_sanity_checks() {
    let m = moon_messages();
    let evs = read_all("edge/not-ike.pcap");
    assert_eq!(evs.len(), 9, "{evs:#?}");
    assert_diag(&evs[0], 1, Severity::Malformed, "not IKE");
    assert_diag(&evs[1], 2, Severity::Info, "IKEv1");
    assert_diag(
        &evs[2],
        3,
        Severity::Malformed,
        "UDP length 600 exceeds the IP payload of 248 bytes",
    );
    assert_events(&evs[3..4], &[expect_ike(3, at(3), &m[0], false)]);
    assert_diag(&evs[4], 4, Severity::Malformed, "IPv4 header");
    assert_diag(&evs[5], 5, Severity::Malformed, "not IKE");
    assert_diag(
        &evs[6],
        6,
        Severity::Warning,
        "4 bytes follow the IKE message",
    );
    let mut trailing = m[0].data.clone();
    trailing.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    let CaptureEvent::Ike(p) = &evs[7] else {
        panic!("{}", evs[7]);
    };
    assert_eq!((p.frame, &p.data), (6, &trailing));
    assert_events(&evs[8..], &[expect_ike(7, at(7), &m[1], false)]);
}

#[test]
fn extra_ports() {
    assert_events(&read_all("edge/extra-ports.pcap"), &[]);
    let opts = CaptureOptions {
        udp_ports: vec![7500],
        udp_encap_ports: vec![14500],
        tcp_ports: vec![8443],
        ..CaptureOptions::default()
    };
    let m = moon_messages();
    let (c, s) = (ip("192.0.2.10"), ip("203.0.113.1"));
    let ike = |frame: u64, sport, dport, transport, r: &RefMsg| {
        CaptureEvent::Ike(IkePacket {
            frame,
            time_us: at(frame as i64),
            src: c,
            sport,
            dst: s,
            dport,
            transport,
            data: r.data.clone(),
        })
    };
    assert_events(
        &read_all_with("edge/extra-ports.pcap", &opts),
        &[
            ike(1, 7500, 7500, Transport::Udp, &m[0]),
            ike(2, 14500, 14500, Transport::UdpEncap, &m[2]),
            ike(4, 50000, 8443, Transport::Tcp, &m[5]),
        ],
    );
}

/// Tiny limits everywhere: still no panic, bounded state, and diagnostics for the drops.
#[test]
fn tiny_limits() {
    let opts = CaptureOptions {
        max_reassemblies: 1,
        max_reassembly_bytes: 64,
        max_tcp_streams: 2,
        max_tcp_buffer: 16,
        reassembly_timeout_us: 1,
        ..CaptureOptions::default()
    };
    for f in [
        "edge/frag-ipv4.pcap",
        "edge/frag-ipv6.pcap",
        "edge/tcp.pcap",
    ] {
        let evs = read_all_with(f, &opts);
        assert!(
            evs.iter().any(|e| matches!(
                e,
                CaptureEvent::Diagnostic {
                    severity: Severity::Warning,
                    ..
                }
            )),
            "{f}: {evs:#?}"
        );
    }
}
