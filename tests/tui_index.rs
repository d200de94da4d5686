//! The capture index's pairing and the analysis agree on how long an answered exchange is
//! remembered ([`mobikectl::analysis::ANSWERED_RETENTION_US`]): a request copy within it is a
//! retransmission in the message list and in the timeline; one after it is a new request in
//! both.
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use mobikectl::analysis::ANSWERED_RETENTION_US;
use mobikectl::capture::{CaptureEvent, CaptureOptions, CaptureReader};
use mobikectl::io::pcap::PcapWriter;
use mobikectl::tui::capture_index::{CaptureIndex, LoadOptions};

fn repo(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(p)
}

#[test]
fn a_request_copy_after_the_retention_is_a_new_request_in_the_list_and_the_timeline() {
    // strongSwan's last INFORMATIONAL (mid 7): request and response
    let mut reader = CaptureReader::open_file(
        repo("testdata/strongswan-move/cap-moon.pcap"),
        &CaptureOptions::default(),
    )
    .expect("capture");
    let mut msgs = Vec::new();
    while let Some(ev) = reader.next_event() {
        if let CaptureEvent::Ike(p) = ev {
            msgs.push(p);
        }
    }
    let (request, response) = (&msgs[18], &msgs[19]);
    assert_eq!((request.frame, response.frame), (19, 20));
    let path =
        std::env::temp_dir().join(format!("mobikectl-retention-{}.pcap", std::process::id()));
    let mut w = PcapWriter::create(&path).expect("write");
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let retention = Duration::from_micros(u64::try_from(ANSWERED_RETENTION_US).expect("positive"));
    let sends = [
        (request, Duration::ZERO),
        (response, Duration::from_millis(1)),
        // within the retention of the response: a retransmission
        (request, Duration::from_secs(60)),
        // the retention after the last copy: a new request
        (
            request,
            Duration::from_secs(60) + retention + Duration::from_secs(1),
        ),
    ];
    for (m, after) in sends {
        let natt = [&[0u8; 4][..], &m.data].concat();
        w.write_udp(
            start + after,
            SocketAddr::new(m.src, m.sport),
            SocketAddr::new(m.dst, m.dport),
            &natt,
        )
        .expect("write");
    }
    drop(w);
    let index = CaptureIndex::load(LoadOptions {
        files: vec![path.clone()],
        ..LoadOptions::default()
    });
    let _ = std::fs::remove_file(&path);
    let list: Vec<(u16, Option<u32>)> =
        index.messages.iter().map(|m| (m.copy, m.partner)).collect();
    assert_eq!(
        list,
        [(0, Some(1)), (0, Some(0)), (1, None), (0, None)],
        "copy numbers and partners"
    );
    let timeline: Vec<String> = index
        .timeline
        .iter()
        .map(|e| format!("{} {}", e.frame, index.timeline_text(e)))
        .collect();
    assert!(
        timeline
            .iter()
            .any(|t| t.starts_with("3 retransmission #1 of INFORMATIONAL mid 7")),
        "{timeline:#?}"
    );
    assert!(
        !timeline.iter().any(|t| t.starts_with("4 retransmission")),
        "{timeline:#?}"
    );
    assert!(
        timeline
            .iter()
            .any(|t| t.starts_with("4 INFORMATIONAL mid 7 from initiator never answered")),
        "{timeline:#?}"
    );
}
