//! Test helper: a minimal decryption pipeline (capture → wire → keys → crypto → inner
//! payloads) for the ESP tests. The real pipeline lives in the decode command.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use mobikectl::capture::{CaptureEvent, CaptureOptions, CaptureReader, Endpoint};
use mobikectl::crypto::{decrypt_sk, Integrity};
use mobikectl::keys::{KeySet, KeyStore};
use mobikectl::wire::{parse_payload_chain, Header, Message, Payload, PayloadBody};

pub fn testdata(scenario: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(scenario)
}

/// Keys from every charon log of a scenario.
pub fn key_store(scenario: &str) -> KeyStore {
    let mut store = KeyStore::new();
    for log in ["carol-charon.log", "moon-charon.log"] {
        let p = testdata(scenario).join(log);
        if p.exists() {
            store.add_file(&p).expect("key log");
        }
    }
    store
}

/// Everything a test needs from one capture event, in frame order.
pub enum Item {
    /// An IKE message: header, (inner) payloads, the IKE SA's key set if known.
    Ike {
        frame: u64,
        header: Header,
        payloads: Vec<Payload<'static>>,
        keys: Option<Box<KeySet>>,
    },
    /// An ESP packet; the endpoints have the UDP ports when it was encapsulated.
    Esp {
        frame: u64,
        src: Endpoint,
        dst: Endpoint,
        spi: u32,
        data: Vec<u8>,
    },
}

fn find_keys(
    store: &mut KeyStore,
    msg: &[u8],
    header: &Header,
    sk_offset: usize,
) -> Option<KeySet> {
    if let Some(k) = store.find_set(header.spi_i, header.spi_r) {
        return Some(k.clone());
    }
    // Rekeyed IKE SAs: trial decryption with the unbound candidates.
    let hit = store.unbound().iter().position(|c| {
        decrypt_sk(&c.keys, header.is_initiator(), msg, sk_offset)
            .is_ok_and(|d| d.integrity == Integrity::Ok)
    })?;
    store.bind(header.spi_i, header.spi_r, hit).cloned()
}

/// Reads a capture: IKE messages decrypted (SKF reassembled) with keys from `store`, and ESP
/// packets with their bytes.
pub fn read_capture(path: &Path, store: &mut KeyStore) -> Vec<Item> {
    let opts = CaptureOptions {
        esp_data: true,
        ..CaptureOptions::default()
    };
    let reader = CaptureReader::open_file(path, &opts).expect("open capture");
    let mut items = Vec::new();
    // (SPIi, SPIr, message ID, response) → (total, first next payload, fragments)
    type Frags = (u16, u8, HashMap<u16, Vec<u8>>);
    let mut frags: HashMap<(u64, u64, u32, bool), Frags> = HashMap::new();
    for ev in reader {
        match ev {
            CaptureEvent::Esp {
                frame,
                src,
                sport,
                dst,
                dport,
                spi,
                data,
                ..
            } => items.push(Item::Esp {
                frame,
                src: Endpoint::new(src, sport),
                dst: Endpoint::new(dst, dport),
                spi,
                data,
            }),
            CaptureEvent::Ike(pkt) => {
                let Ok(msg) = Message::parse(&pkt.data) else {
                    continue;
                };
                let header = msg.header;
                let enc = msg
                    .payloads
                    .iter()
                    .find(|p| matches!(p.body, PayloadBody::Sk(_) | PayloadBody::Skf(_)));
                let Some(enc) = enc else {
                    items.push(Item::Ike {
                        frame: pkt.frame,
                        header,
                        payloads: msg
                            .payloads
                            .clone()
                            .into_iter()
                            .map(Payload::into_owned)
                            .collect(),
                        keys: None,
                    });
                    continue;
                };
                let Some(keys) = find_keys(store, &pkt.data, &header, enc.offset) else {
                    continue;
                };
                let Ok(d) = decrypt_sk(&keys.keys, header.is_initiator(), &pkt.data, enc.offset)
                else {
                    continue;
                };
                assert_eq!(d.integrity, Integrity::Ok, "frame {}", pkt.frame);
                let (first, plain) = match d.fragment {
                    None => (d.next_payload, d.plaintext.clone()),
                    Some((n, total)) => {
                        let key = (
                            header.spi_i,
                            header.spi_r,
                            header.message_id,
                            header.is_response(),
                        );
                        let e = frags.entry(key).or_insert((total, 0, HashMap::new()));
                        if n == 1 {
                            e.1 = d.next_payload;
                        }
                        e.2.insert(n, d.plaintext.clone());
                        if e.2.len() < usize::from(e.0) {
                            continue;
                        }
                        let Some((total, first, parts)) = frags.remove(&key) else {
                            continue;
                        };
                        let mut all = Vec::new();
                        for i in 1..=total {
                            all.extend_from_slice(&parts[&i]);
                        }
                        (first, all)
                    }
                };
                let Ok((payloads, _)) = parse_payload_chain(first, &plain, 0) else {
                    panic!("frame {}: inner payloads do not parse", pkt.frame);
                };
                items.push(Item::Ike {
                    frame: pkt.frame,
                    header,
                    payloads: payloads.into_iter().map(Payload::into_owned).collect(),
                    keys: Some(Box::new(keys)),
                });
            }
            _ => {}
        }
    }
    items
}

/// `(scenario, capture)` pairs with ESP traffic, and the number of ESP packets in each.
pub const CAPTURES: &[(&str, &str, usize)] = &[
    ("v4-cbc-sha1-frag-cert", "moon-eth0.pcap", 6),
    ("v4-ccm-cookie", "moon-eth0.pcap", 6),
    ("v4-ccm-cookie", "carol-eth0.pcap", 6),
    ("v4-ctr-modp-rekey", "moon-eth0.pcap", 18),
    ("v4-nat-chacha", "nat-outside.pcap", 24),
    ("v4-nat-chacha", "nat-inside.pcap", 22),
    ("v6-gcm-mobike", "moon-eth0.pcap", 20),
    ("v6-gcm-mobike", "carol-eth0.pcap", 10),
    ("v6-gcm-mobike", "carol-eth1.pcap", 10),
    ("v4-resp-rekey-mobike", "moon-eth0.pcap", 18),
];

/// Every CHILD_SA key dump of a scenario's charon logs, with the log's name.
pub fn logged_children(scenario: &str) -> Vec<(String, mobikectl::child_sa::LoggedChildSa)> {
    let mut out = Vec::new();
    for log in ["carol-charon.log", "moon-charon.log"] {
        if let Ok(text) = std::fs::read_to_string(testdata(scenario).join(log)) {
            for l in mobikectl::child_sa::parse_child_keys(&text) {
                out.push((log.to_string(), l));
            }
        }
    }
    out
}
