//! No input makes decryption, reassembly or the decrypted-payload rendering panic: every IKE
//! message of the keyed captures, with bytes flipped, cut and lengths lied about, goes through
//! `Decryptor::open` and `attach_decryption` (and the JSON record). Longer campaigns:
//! `DECRYPT_MUTATIONS=200000 cargo test --release --test decrypt_robustness`.
use std::path::Path;

use mobikectl::capture::{CaptureEvent, CaptureOptions, CaptureReader, IkePacket};
use mobikectl::cli::decode::{attach_decryption, inner_payloads, message_record};
use mobikectl::decrypt::{Decryptor, FragmentLimits};
use mobikectl::keys::KeyStore;
use mobikectl::wire::Message;

fn packets(rel: &str) -> Vec<IkePacket> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(rel);
    let reader = CaptureReader::open_file(&path, &CaptureOptions::default()).expect("open");
    reader
        .filter_map(|e| match e {
            CaptureEvent::Ike(p) => Some(p),
            _ => None,
        })
        .collect()
}

/// xorshift64*: deterministic, no dependencies.
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

#[test]
fn mutated_messages_never_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let mut keys = KeyStore::new();
    for t in [
        "edge-frag/ikev2_decryption_table",
        "v4-cbc-sha1-frag-cert/ikev2_decryption_table",
        "v6-gcm-mobike/ikev2_decryption_table",
        "v4-ccm-cookie/ikev2_decryption_table",
    ] {
        keys.add_file(dir.join(t)).expect("keys");
    }
    // Unbound candidates too, so the trial path sees garbage.
    keys.add_file(dir.join("v4-ctr-modp-rekey/moon-charon.log"))
        .expect("log");
    let mut pkts = packets("edge-frag/fragments.pcap");
    pkts.extend(packets("v4-cbc-sha1-frag-cert/moon-eth0.pcap"));
    pkts.extend(packets("v6-gcm-mobike/moon-eth0.pcap"));
    pkts.extend(packets("v4-ccm-cookie/moon-eth0.pcap"));
    pkts.extend(packets("v4-ctr-modp-rekey/moon-eth0.pcap"));
    let rounds: usize = std::env::var("DECRYPT_MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4000);
    let mut dec = Decryptor::new(
        keys,
        FragmentLimits {
            max_messages: 8,
            max_bytes: 4096,
            max_fragments: 16,
            timeout_us: 1_000_000,
        },
    );
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut opened = 0;
    for i in 0..rounds {
        let mut pkt = pkts[rng.below(pkts.len())].clone();
        pkt.frame = i as u64 + 1;
        pkt.time_us = i as i64 * 10_000;
        let data = &mut pkt.data;
        for _ in 0..=rng.below(3) {
            match rng.below(5) {
                0 if !data.is_empty() => {
                    let at = rng.below(data.len());
                    data[at] ^= 1 << rng.below(8);
                }
                1 if !data.is_empty() => {
                    let at = rng.below(data.len());
                    data[at] = rng.next() as u8;
                }
                2 => {
                    let cut = rng.below(data.len() + 1);
                    data.truncate(cut);
                    if data.len() >= 28 {
                        let len = (data.len() as u32).to_be_bytes();
                        data[24..28].copy_from_slice(&len);
                    }
                }
                3 if data.len() > 40 => {
                    // SKF fragment fields or SK length: lie.
                    let at = 28 + rng.below(12);
                    data[at] = rng.next() as u8;
                }
                _ => {}
            }
        }
        let bytes = pkt.data.clone();
        if let Ok(msg) = Message::parse(&bytes) {
            let mut record = message_record(&pkt, &msg);
            if let Some(o) = dec.open(&msg, &bytes, pkt.frame, pkt.time_us) {
                opened += 1;
                let inner = inner_payloads(&msg, &o);
                attach_decryption(&mut record, &o, &inner);
                serde_json::to_string(&record).expect("serialize");
            }
        }
        dec.drain_diagnostics().for_each(drop);
    }
    dec.finish_capture();
    assert!(
        opened > rounds / 10,
        "only {opened} of {rounds} reached decryption"
    );
}
