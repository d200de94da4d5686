//! The large capture: strongSwan's MOBIKE move (testdata/strongswan-move/cap-moon.pcap,
//! 20 messages) repeated 7,000 times with a different initiator SPI each time (140,000
//! messages), written once to the temporary directory. Shared by the memory test and the
//! large-capture bench.
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use mobikectl::capture::{CaptureEvent, CaptureOptions, CaptureReader};
use mobikectl::io::pcap::PcapWriter;

/// How many times the 20-message capture is repeated.
pub const COPIES: u64 = 7_000;

/// The path of the 140,000-message capture, written on first use.
pub fn big_capture() -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "mobikectl-tui-140k-{}.pcapng",
        env!("CARGO_PKG_VERSION")
    ));
    if path.exists() {
        return path;
    }
    // written under a private name, then renamed: a test running alongside never sees half
    static WRITERS: AtomicU32 = AtomicU32::new(0);
    let writer = WRITERS.fetch_add(1, Ordering::Relaxed);
    let partial = path.with_extension(format!("partial-{}-{writer}", std::process::id()));
    write_capture(&partial);
    std::fs::rename(&partial, &path).expect("rename the capture");
    path
}

fn write_capture(path: &Path) {
    let src =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/strongswan-move/cap-moon.pcap");
    let mut reader = CaptureReader::open_file(&src, &CaptureOptions::default()).expect("capture");
    let mut msgs = Vec::new();
    while let Some(ev) = reader.next_event() {
        if let CaptureEvent::Ike(p) = ev {
            msgs.push(p);
        }
    }
    let mut w = PcapWriter::create(path).expect("write capture");
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    for copy in 0..COPIES {
        for (k, m) in msgs.iter().enumerate() {
            let mut data = m.data.clone();
            // a different initiator SPI for each copy
            for (i, b) in copy.to_be_bytes().iter().enumerate() {
                data[i] ^= b;
            }
            let natt = m.sport == 4500 || m.dport == 4500;
            let payload = if natt {
                [&[0u8; 4][..], &data].concat()
            } else {
                data
            };
            let at = start + Duration::from_millis(copy * 100 + k as u64);
            w.write_udp(
                at,
                SocketAddr::new(m.src, m.sport),
                SocketAddr::new(m.dst, m.dport),
                &payload,
            )
            .expect("write");
        }
    }
}
