//! Parsing speed of every IKE message in testdata/, mobikectl's typed codec against rusticata's
//! ipsec-parser 0.7 on the same bytes. Criterion reports messages per second for each; divide to
//! get ns/message. Run: `cargo bench --bench parse`.
use std::path::{Path, PathBuf};

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use mobikectl::capture::{CaptureEvent, CaptureOptions, CaptureReader};
use mobikectl::wire::Message;

fn captures(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
        if path.is_dir() {
            captures(&path, out);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("pcap" | "pcapng")
        ) {
            out.push(path);
        }
    }
}

/// The IKE messages of the real strongSwan captures (testdata/edge holds synthetic variants of
/// the same messages, left out so that each real message counts once).
fn messages() -> Vec<Vec<u8>> {
    let mut files = Vec::new();
    captures(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata"),
        &mut files,
    );
    files.sort();
    let mut out = Vec::new();
    for file in files
        .iter()
        .filter(|f| !f.components().any(|c| c.as_os_str() == "edge"))
    {
        let Ok(mut reader) = CaptureReader::open_file(file, &CaptureOptions::default()) else {
            continue;
        };
        while let Some(event) = reader.next_event() {
            if let CaptureEvent::Ike(pkt) = event {
                out.push(pkt.data);
            }
        }
    }
    out
}

fn parse(c: &mut Criterion) {
    let msgs = messages();
    assert!(!msgs.is_empty(), "no IKE messages in testdata");
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Elements(msgs.len() as u64));
    group.bench_function("mobikectl", |b| {
        b.iter(|| {
            for m in &msgs {
                let _ = black_box(Message::parse(black_box(m)));
            }
        })
    });
    group.bench_function("ipsec-parser-0.7", |b| {
        b.iter(|| {
            for m in &msgs {
                let _ = black_box(ipsec_parser::parse_ikev2_message(black_box(m)));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
