//! Round trip over every IKE message in every capture under `testdata/` (recursively), and a
//! mutation test: mutated real messages must never panic the parser, and anything that parses
//! must re-emit stably.

use std::path::{Path, PathBuf};

use std::borrow::Cow;

use mobikectl::capture::{CaptureEvent, CaptureOptions, CaptureReader};

use mobikectl::wire::{
    notify_type as nt, parse_payload_chain, Attribute, AttributeValue, Auth, Cert, CfgAttribute,
    Cp, Delete, Eap, Header, Id, Ke, Message, Notify, NotifyData, Payload, PayloadBody, Proposal,
    Sa, Skf, TrafficSelector, Transform, Ts,
};

fn captures(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = rd.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            captures(&p, out);
        } else if matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("pcap" | "pcapng" | "cap")
        ) {
            out.push(p);
        }
    }
}

/// A message built through the public API with one of every payload type the codec decodes
/// (semantically silly, structurally valid), plus an SKF fragment at the end.
fn kitchen_sink() -> Vec<u8> {
    let b = |v: &'static [u8]| Cow::Borrowed(v);
    let mut enc = Transform::new(1, 12);
    enc.attributes.push(Attribute {
        attr_type: 14,
        value: AttributeValue::Tv(256),
    });
    enc.attributes.push(Attribute {
        attr_type: 99,
        value: AttributeValue::Tlv(b(&[1, 2, 3])),
    });
    let sa = Sa::new(vec![
        Proposal {
            last_substruc: 0,
            reserved: 0,
            number: 1,
            protocol_id: 3,
            spi: b(&[0xc1, 0xb2, 0xa3, 0x94]),
            transforms: vec![enc, Transform::new(3, 12), Transform::new(5, 0)],
        },
        Proposal {
            last_substruc: 0,
            reserved: 0,
            number: 2,
            protocol_id: 1,
            spi: b(&[]),
            transforms: vec![Transform::new(4, 31)],
        },
    ]);
    let n = |t: u16, d: NotifyData<'static>| PayloadBody::Notify(Notify::new(t, d));
    let payloads = vec![
        Payload::new(33, PayloadBody::Sa(sa)),
        Payload::new(
            34,
            PayloadBody::Ke(Ke {
                dh_group: 31,
                reserved: 0,
                data: b(&[7; 32]),
            }),
        ),
        Payload::new(40, PayloadBody::Nonce(b(&[5; 32]))),
        Payload::new(
            35,
            PayloadBody::Id(Id {
                id_type: 2,
                reserved: [0; 3],
                data: b(b"carol"),
            }),
        ),
        Payload::new(
            36,
            PayloadBody::Id(Id {
                id_type: 1,
                reserved: [0; 3],
                data: b(&[192, 0, 2, 1]),
            }),
        ),
        Payload::new(
            37,
            PayloadBody::Cert(Cert {
                encoding: 4,
                data: b(&[0x30, 0x82]),
            }),
        ),
        Payload::new(
            38,
            PayloadBody::CertReq(Cert {
                encoding: 4,
                data: b(&[0xaa; 20]),
            }),
        ),
        Payload::new(
            39,
            PayloadBody::Auth(Auth {
                method: 2,
                reserved: [0; 3],
                data: b(&[0xbb; 32]),
            }),
        ),
        Payload::new(41, n(nt::MOBIKE_SUPPORTED, NotifyData::Empty)),
        Payload::new(
            41,
            n(
                nt::ADDITIONAL_IP4_ADDRESS,
                NotifyData::AdditionalIp4("192.0.2.10".parse().unwrap()),
            ),
        ),
        Payload::new(
            41,
            n(
                nt::ADDITIONAL_IP6_ADDRESS,
                NotifyData::AdditionalIp6("2001:db8::10".parse().unwrap()),
            ),
        ),
        Payload::new(41, n(nt::COOKIE2, NotifyData::Cookie2(b(&[0xcc; 16])))),
        Payload::new(
            41,
            n(
                nt::NO_NATS_ALLOWED,
                NotifyData::NoNatsAllowed {
                    src: "2001:db8::1".parse().unwrap(),
                    dst: "2001:db8::2".parse().unwrap(),
                    src_port: 500,
                    dst_port: 500,
                },
            ),
        ),
        Payload::new(
            41,
            n(
                nt::NAT_DETECTION_SOURCE_IP,
                NotifyData::NatDetection([0xdd; 20]),
            ),
        ),
        Payload::new(
            41,
            n(
                nt::SIGNATURE_HASH_ALGORITHMS,
                NotifyData::SignatureHashAlgorithms(vec![2, 3, 4]),
            ),
        ),
        Payload::new(41, n(nt::INVALID_KE_PAYLOAD, NotifyData::KeGroup(19))),
        Payload::new(
            41,
            n(
                nt::IPCOMP_SUPPORTED,
                NotifyData::IpcompSupported {
                    cpi: 0x1234,
                    transform_id: 2,
                },
            ),
        ),
        Payload::new(41, n(nt::REKEY_SA, NotifyData::Empty)),
        Payload::new(41, n(12345, NotifyData::Raw(b(&[1, 2, 3])))),
        Payload::new(
            42,
            PayloadBody::Delete(Delete::new(3, 4, &[&[1, 2, 3, 4], &[5, 6, 7, 8]])),
        ),
        Payload::new(43, PayloadBody::VendorId(b(b"mobikectl"))),
        Payload::new(
            44,
            PayloadBody::Ts(Ts::new(vec![
                TrafficSelector::Ipv4 {
                    ip_protocol: 0,
                    start_port: 0,
                    end_port: 65535,
                    start: "10.1.0.0".parse().unwrap(),
                    end: "10.1.255.255".parse().unwrap(),
                },
                TrafficSelector::Other {
                    ts_type: 10,
                    byte1: 0,
                    data: b(&[9, 9, 9, 9]),
                },
            ])),
        ),
        Payload::new(
            45,
            PayloadBody::Ts(Ts::new(vec![TrafficSelector::Ipv6 {
                ip_protocol: 6,
                start_port: 80,
                end_port: 80,
                start: "2001:db8::".parse().unwrap(),
                end: "2001:db8::ffff".parse().unwrap(),
            }])),
        ),
        Payload::new(
            47,
            PayloadBody::Cp(Cp {
                cfg_type: 1,
                reserved: [0; 3],
                attributes: vec![
                    CfgAttribute::new(1, b(&[])),
                    CfgAttribute::new(
                        8,
                        b(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 64]),
                    ),
                    CfgAttribute::new(7, b(b"strongSwan")),
                ],
            }),
        ),
        Payload::new(
            48,
            PayloadBody::Eap(Eap {
                code: 2,
                identifier: 1,
                eap_type: Some(1),
                data: b(b"carol"),
            }),
        ),
        Payload::new(
            48,
            PayloadBody::Eap(Eap {
                code: 3,
                identifier: 2,
                eap_type: None,
                data: b(&[]),
            }),
        ),
        Payload::new(200, PayloadBody::Unknown(b(&[0xde, 0xad]))),
        Payload::new(
            53,
            PayloadBody::Skf(Skf {
                next_payload: 41,
                fragment_number: 1,
                total_fragments: 2,
                data: b(&[0xee; 48]),
            }),
        ),
    ];
    let msg = Message {
        header: Header {
            spi_i: 1,
            spi_r: 2,
            version: 0x20,
            exchange_type: 35,
            flags: 0x08,
            ..Header::default()
        },
        payloads,
        trailing: Cow::Borrowed(&[]),
    };
    msg.emit()
}

#[test]
fn kitchen_sink_round_trips() {
    let bytes = kitchen_sink();
    let msg = Message::parse(&bytes).unwrap();
    assert_eq!(msg.payloads.len(), 28);
    assert_eq!(msg.emit(), bytes);
    assert!(msg.warnings().is_empty(), "{:?}", msg.warnings());
    let json = mobikectl::dissect::payloads_json(&msg);
    assert_eq!(json.as_array().unwrap().len(), 28);
    assert_eq!(json[12]["src_address"], "2001:db8::1");
    assert_eq!(json[27]["fragment_number"], 1);
}

/// Every IKE message the capture layer finds under testdata/, tagged with whether it comes
/// from a real capture (must parse) or from testdata/edge, whose synthetic files break some
/// messages on purpose (cut, lying lengths, trailing bytes).
fn all_messages() -> Vec<(String, bool, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let mut files = Vec::new();
    captures(&root, &mut files);
    let mut msgs = Vec::new();
    for f in files {
        let real = !f.components().any(|c| c.as_os_str() == "edge");
        for (i, m) in ike_messages(&f).into_iter().enumerate() {
            msgs.push((format!("{} #{}", f.display(), i + 1), real, m));
        }
    }
    msgs.push(("kitchen sink".into(), true, kitchen_sink()));
    msgs
}

fn ike_messages(path: &Path) -> Vec<Vec<u8>> {
    let mut reader = CaptureReader::open_file(path, &CaptureOptions::default())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    while let Some(ev) = reader.next_event() {
        if let CaptureEvent::Ike(p) = ev {
            out.push(p.data);
        }
    }
    out
}

#[test]
fn every_captured_message_round_trips() {
    let msgs = all_messages();
    assert!(
        msgs.len() >= 20,
        "only {} IKE messages found under testdata/",
        msgs.len()
    );
    let mut by_type = std::collections::BTreeMap::new();
    for (name, real, m) in &msgs {
        let msg = match Message::parse(m) {
            Ok(msg) => msg,
            Err(e) if !real => {
                eprintln!("{name}: deliberately broken: {e}");
                continue;
            }
            Err(e) => panic!("{name}: {e}"),
        };
        assert_eq!(&msg.emit(), m, "{name}: emit differs");
        let owned = msg.clone().into_owned();
        assert_eq!(owned, msg);
        assert_eq!(&owned.emit(), m);
        assert!(
            !real || msg.warnings().is_empty(),
            "{name}: {:?}",
            msg.warnings()
        );
        for p in &msg.payloads {
            *by_type.entry(p.payload_type).or_insert(0) += 1;
        }
    }
    // the strongSwan MOBIKE captures contain at least these plaintext payload types
    for t in [33u8, 34, 40, 41, 46] {
        assert!(
            by_type.contains_key(&t),
            "no payload of type {t} seen: {by_type:?}"
        );
    }
}

#[test]
fn mobike_capture_contents() {
    let msgs = ike_messages(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/strongswan-move/cap-moon.pcap"),
    );
    let init = Message::parse(&msgs[0]).unwrap();
    assert_eq!(init.header.exchange_type, 34);
    assert!(init.header.is_initiator() && !init.header.is_response());
    let types: Vec<u8> = init.payloads.iter().map(|p| p.payload_type).collect();
    assert_eq!(&types[..3], &[33, 34, 40]);
    let notifies: Vec<u16> = init.notifies().map(|n| n.notify_type).collect();
    assert!(notifies.contains(&16388) && notifies.contains(&16389) && notifies.contains(&16430));
    // every later message is encrypted: exactly one SK payload, last
    for m in &msgs[2..] {
        let msg = Message::parse(m).unwrap();
        let last = msg.payloads.last().unwrap();
        assert!(matches!(last.body, PayloadBody::Sk(_)), "{:?}", msg.header);
        // AES-CBC-128 + HMAC-SHA2-256-128 (see ikev2_decryption_table): 16-byte IV, 16-byte ICV
        let (iv, ct, icv) = last.split_encrypted(16, 16).unwrap();
        assert_eq!((iv.len(), icv.len()), (16, 16));
        assert_eq!(ct.len() % 16, 0);
    }
}

/// xorshift64*: deterministic, dependency-free randomness.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

fn check_stable(input: &[u8]) -> bool {
    match Message::parse(input) {
        Ok(msg) => {
            let once = msg.emit();
            assert_eq!(once, input, "parsed input must re-emit identically");
            let again = Message::parse(&once).expect("re-parse of emitted bytes");
            assert_eq!(again.emit(), once);
            let _ = msg.warnings();
            let _ = mobikectl::dissect::payloads_json(&msg);
            // an SK body is opaque here, but the inner-chain parser must survive its bytes too
            if let Some(sk) = msg.sk() {
                let _ = parse_payload_chain(sk.next_payload, &sk.data, 0);
            }
            true
        }
        Err(e) => {
            let _ = e.to_string();
            assert!(
                e.offset <= input.len().max(28),
                "offset {} beyond input {}",
                e.offset,
                input.len()
            );
            false
        }
    }
}

#[test]
fn mutations_never_panic_and_reemit_stably() {
    let msgs = all_messages();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut parsed = 0usize;
    let mut total = 0usize;
    // WIRE_MUTATIONS=<n> runs a longer campaign (default 300 mutants per message)
    let per_msg: usize = std::env::var("WIRE_MUTATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    for (_, _, m) in &msgs {
        for _ in 0..per_msg {
            let mut v = m.clone();
            let n_mut = 1 + rng.below(3);
            for _ in 0..n_mut {
                match rng.below(6) {
                    0 => {
                        let at = rng.below(v.len() + 1);
                        v.truncate(at);
                    }
                    1 => {
                        if !v.is_empty() {
                            let i = rng.below(v.len());
                            v[i] ^= 1 << rng.below(8);
                        }
                    }
                    2 => {
                        if !v.is_empty() {
                            let i = rng.below(v.len());
                            v[i] = rng.next() as u8;
                        }
                    }
                    3 => {
                        // rewrite a 16-bit length-like field at a random even position
                        if v.len() >= 2 {
                            let i = rng.below(v.len() - 1);
                            let val = match rng.below(4) {
                                0 => 0u16,
                                1 => 4,
                                2 => v.len() as u16,
                                _ => rng.next() as u16,
                            };
                            v[i..i + 2].copy_from_slice(&val.to_be_bytes());
                        }
                    }
                    4 => {
                        // insert random bytes
                        let at = rng.below(v.len() + 1);
                        let k = 1 + rng.below(8);
                        for _ in 0..k {
                            v.insert(at, rng.next() as u8);
                        }
                    }
                    _ => {
                        // keep the header length consistent with the mutated size so the
                        // mutation reaches the payload parsers
                        if v.len() >= 28 {
                            let l = (v.len() as u32).to_be_bytes();
                            v[24..28].copy_from_slice(&l);
                        }
                    }
                }
            }
            if v.len() >= 28 && rng.below(2) == 0 {
                let l = (v.len() as u32).to_be_bytes();
                v[24..28].copy_from_slice(&l);
            }
            total += 1;
            if check_stable(&v) {
                parsed += 1;
            }
        }
    }
    eprintln!("mutants: {parsed}/{total} parsed");
    // sanity: the mutator leaves a fair share parseable (exercises emit), and breaks some
    assert!(parsed > total / 20, "{parsed}/{total}");
    assert!(parsed < total, "{parsed}/{total}");
}

#[test]
fn garbage_never_panics() {
    let mut rng = Rng(42);
    for _ in 0..20_000 {
        let len = rng.below(200);
        let mut v: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if v.len() >= 28 {
            v[17] = 0x20;
            let l = (v.len() as u32).to_be_bytes();
            v[24..28].copy_from_slice(&l);
            v[16] = 33 + rng.below(22) as u8;
        }
        check_stable(&v);
        for first in [33u8, 41, 44, 46, 47, 48, 53] {
            if let Ok((p, rest)) = parse_payload_chain(first, &v, 0) {
                let mut out = Vec::new();
                mobikectl::wire::emit_payload_chain(&p, &mut out);
                out.extend_from_slice(rest);
                // a chain that stops on next-payload 0 re-emits identically; a trailing SK's
                // inner type is preserved too
                assert_eq!(out, v);
            }
        }
    }
}
