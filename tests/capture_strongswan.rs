//! The reference capture read through the whole pipeline.
mod capture_common;

use capture_common::*;
use mobikectl::capture::{CaptureEvent, CaptureOptions, CaptureReader, Transport};

#[test]
fn moon_all_messages() {
    let refs = moon_messages();
    assert_eq!(refs.len(), 20);
    let evs = read_all("strongswan-move/cap-moon.pcap");
    no_diags(&evs);
    let got = ikes(&evs);
    assert_eq!(got.len(), 20);
    let lens: Vec<usize> = got.iter().map(|p| p.data.len()).collect();
    assert_eq!(
        lens,
        [240, 248, 320, 256, 80, 80, 80, 80, 176, 160, 208, 192, 80, 80, 80, 80, 80, 80, 80, 80]
    );
    for (i, (p, r)) in got.iter().zip(&refs).enumerate() {
        assert_eq!(p.frame, i as u64 + 1);
        assert_eq!(p.time_us, r.time_us);
        assert_eq!(
            (p.src, p.sport, p.dst, p.dport),
            (r.src, r.sport, r.dst, r.dport)
        );
        let t = if i < 2 {
            Transport::Udp
        } else {
            Transport::UdpEncap
        };
        assert_eq!(p.transport, t, "frame {}", p.frame);
        assert_eq!(p.data, r.data);
    }
    assert_eq!(got[0].time_us, 1_795_428_688_491_855);
}

#[test]
fn reader_stats_and_iterator() {
    let mut r = CaptureReader::open_file(
        testdata("strongswan-move/cap-moon.pcap"),
        &CaptureOptions::default(),
    )
    .expect("open");
    let mut n = 0;
    while let Some(ev) = r.next_event() {
        assert!(matches!(ev, CaptureEvent::Ike(_)));
        n += 1;
    }
    assert_eq!(n, 20);
    assert!(r.next_event().is_none());
    let s = r.stats();
    assert_eq!((s.frames, s.ike, s.diagnostics), (20, 20, 0));
    assert_eq!(r.frames_read(), 20);
}

#[test]
fn carol_captures() {
    for (f, n) in [
        ("strongswan-move/cap-carol-a.pcap", 6),
        ("strongswan-move/cap-carol-b.pcap", 14),
    ] {
        let evs = read_all(f);
        no_diags(&evs);
        assert_eq!(ikes(&evs).len(), n, "{f}");
    }
}

#[test]
fn open_errors() {
    assert!(
        CaptureReader::open_file(testdata("nonexistent.pcap"), &CaptureOptions::default()).is_err()
    );
    assert!(CaptureReader::open_file(
        testdata("strongswan-move/moon-charon.log"),
        &CaptureOptions::default()
    )
    .is_err());
}
