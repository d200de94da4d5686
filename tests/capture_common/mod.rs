//! Shared helpers for the capture tests: an independent (deliberately naive) reader for
//! the classic-pcap Ethernet/IPv4/UDP reference capture, and event helpers.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use mobikectl::capture::{CaptureEvent, CaptureOptions, CaptureReader, IkePacket, Severity};

pub fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(rel)
}

/// One IKE message of the reference capture, as located by hand.
#[derive(Debug, Clone)]
pub struct RefMsg {
    pub time_us: i64,
    pub src: IpAddr,
    pub sport: u16,
    pub dst: IpAddr,
    pub dport: u16,
    pub data: Vec<u8>,
}

fn u16be(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// The IKE messages of `testdata/strongswan-move/cap-moon.pcap` (little-endian µs pcap,
/// Ethernet, IPv4 without options, UDP 500/4500).
pub fn moon_messages() -> Vec<RefMsg> {
    let f = std::fs::read(testdata("strongswan-move/cap-moon.pcap")).expect("read cap-moon");
    assert_eq!(&f[..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
    let mut off = 24;
    let mut v = Vec::new();
    while off + 16 <= f.len() {
        let rd = |at: usize| u32::from_le_bytes([f[at], f[at + 1], f[at + 2], f[at + 3]]);
        let (sec, usec, caplen) = (rd(off), rd(off + 4), rd(off + 8) as usize);
        let p = &f[off + 16..off + 16 + caplen];
        off += 16 + caplen;
        assert_eq!(u16be(p, 12), 0x0800);
        let ip = &p[14..];
        assert_eq!(ip[0], 0x45);
        assert_eq!(ip[9], 17);
        let udp = &ip[20..];
        let (sport, dport, ulen) = (u16be(udp, 0), u16be(udp, 2), u16be(udp, 4) as usize);
        let mut payload = &udp[8..ulen];
        if sport == 4500 || dport == 4500 {
            assert_eq!(&payload[..4], &[0, 0, 0, 0]);
            payload = &payload[4..];
        }
        v.push(RefMsg {
            time_us: i64::from(sec) * 1_000_000 + i64::from(usec),
            src: IpAddr::V4(Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15])),
            sport,
            dst: IpAddr::V4(Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19])),
            dport,
            data: payload.to_vec(),
        });
    }
    v
}

pub fn read_all_with(rel: &str, opts: &CaptureOptions) -> Vec<CaptureEvent> {
    let reader =
        CaptureReader::open_file(testdata(rel), opts).unwrap_or_else(|e| panic!("open {rel}: {e}"));
    reader.collect()
}

pub fn read_all(rel: &str) -> Vec<CaptureEvent> {
    read_all_with(rel, &CaptureOptions::default())
}

pub fn ikes(evs: &[CaptureEvent]) -> Vec<&IkePacket> {
    evs.iter()
        .filter_map(|e| match e {
            CaptureEvent::Ike(p) => Some(p),
            _ => None,
        })
        .collect()
}

pub fn diags(evs: &[CaptureEvent]) -> Vec<(u64, Severity, &str)> {
    evs.iter()
        .filter_map(|e| match e {
            CaptureEvent::Diagnostic {
                frame,
                severity,
                message,
            } => Some((*frame, *severity, message.as_str())),
            _ => None,
        })
        .collect()
}

/// Assert there are no diagnostics at all.
pub fn no_diags(evs: &[CaptureEvent]) {
    let d = diags(evs);
    assert!(d.is_empty(), "unexpected diagnostics: {d:#?}");
}
