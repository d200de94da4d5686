//! No input makes the capture layer panic: every frame of every test capture, cut at every
//! length and with bytes flipped, plus random frames, through every link type.
mod capture_common;

use capture_common::testdata;
use mobikectl::capture::link::LinkType;
use mobikectl::capture::{CaptureEvent, CaptureOptions, Decoder};

const LINKS: [LinkType; 8] = [
    LinkType::Ethernet,
    LinkType::LinuxSll,
    LinkType::LinuxSll2,
    LinkType::Raw,
    LinkType::Ipv4,
    LinkType::Ipv6,
    LinkType::Null,
    LinkType::Loop,
];

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// (link type, frames) of every capture under testdata.
fn corpus() -> Vec<(LinkType, Vec<Vec<u8>>)> {
    let mut v = Vec::new();
    for dir in ["edge", "strongswan-move"] {
        let mut paths: Vec<_> = std::fs::read_dir(testdata(dir))
            .expect("testdata")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
            .collect();
        paths.sort();
        for p in paths {
            let mut cap = pcap::Capture::from_file(&p).expect("open");
            let link = LinkType::from_dlt(cap.get_datalink().0).expect("link type");
            let mut frames = Vec::new();
            while let Ok(pkt) = cap.next_packet() {
                frames.push(pkt.data.to_vec());
            }
            v.push((link, frames));
        }
    }
    v
}

fn drain(d: &mut Decoder) -> usize {
    let mut n = 0;
    while let Some(ev) = d.pop() {
        if let CaptureEvent::Ike(p) = &ev {
            assert!(p.data.len() >= 28);
        }
        n += 1;
    }
    n
}

#[test]
fn truncations_and_bit_flips() {
    let opts = CaptureOptions {
        max_tcp_buffer: 64,
        max_reassemblies: 4,
        ..CaptureOptions::default()
    };
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for (link, frames) in corpus() {
        let mut d = Decoder::new(link, &opts);
        let mut frame = 0u64;
        for f in &frames {
            for cut in 0..=f.len() {
                frame += 1;
                // both a snap-length cut and a lying length
                d.decode(frame, frame as i64, &f[..cut], f.len() as u32);
                d.decode(frame, frame as i64, &f[..cut], cut as u32);
            }
            for _ in 0..200 {
                let mut g = f.clone();
                for _ in 0..1 + rng.below(4) {
                    let i = rng.below(g.len());
                    if let Some(b) = g.get_mut(i) {
                        *b ^= 1 << rng.below(8);
                    }
                }
                frame += 1;
                d.decode(frame, frame as i64 * 1000, &g, g.len() as u32);
            }
            drain(&mut d);
        }
        d.finish();
        drain(&mut d);
    }
}

#[test]
fn random_frames_every_link_type() {
    let mut rng = Rng(42);
    for link in LINKS {
        let mut d = Decoder::new(link, &CaptureOptions::default());
        let rounds: u64 = std::env::var("CAPTURE_FUZZ_ROUNDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(20_000);
        for frame in 1..rounds {
            let len = rng.below(160);
            let mut f: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            // steer towards the interesting paths: plausible link and IP headers
            match (link, f.len()) {
                (LinkType::Ethernet, n) if n > 20 => {
                    f[12..14].copy_from_slice(if frame % 2 == 0 {
                        &[8, 0]
                    } else {
                        &[0x86, 0xdd]
                    });
                    f[14] = if frame % 2 == 0 { 0x45 } else { 0x60 };
                }
                (LinkType::Raw | LinkType::Ipv4, n) if n > 0 => f[0] = 0x45,
                (LinkType::Ipv6, n) if n > 6 => {
                    f[0] = 0x60;
                    f[6] = [17, 6, 44, 50, 0, 60, 51, 43][rng.below(8)];
                }
                _ => {}
            }
            d.decode(
                frame,
                frame as i64,
                &f,
                f.len() as u32 + rng.below(3) as u32,
            );
            drain(&mut d);
        }
        d.finish();
        drain(&mut d);
    }
}
