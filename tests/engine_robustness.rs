//! Hostile and broken input, INVALID_SYNTAX / UNSUPPORTED_CRITICAL_PAYLOAD answers, and the
//! key log checked against the engine's own traffic.

mod sim;

use std::time::Duration;

use mobikectl::crypto::{decrypt_sk, encrypt_sk, Integrity, SkContent};
use mobikectl::engine::{EngineEvent, Path, Timestamp};
use mobikectl::keys::keylog::{write_keylog_header, write_keylog_record};
use mobikectl::keys::KeyStore;
use mobikectl::wire::{
    self, notify_type as nt, parse_payload_chain, Header, Message, PayloadBody, FLAG_INITIATOR,
};
use sim::{Net, Side};

const PSK: &[u8] = b"this is a long enough test PSK";

fn established() -> Net {
    let mut net = Net::pair(PSK, PSK);
    net.up();
    net.run_for(Duration::from_secs(10));
    assert!(net.child_up(Side::A) && net.child_up(Side::B));
    net
}

/// Every datagram of a full session, mangled in many ways, fed to both engines: no
/// panic, and nothing changes state (the SAs stay up with the same keys).
#[test]
fn mangled_datagrams_never_panic() {
    let mut net = established();
    let recorded: Vec<Vec<u8>> = net.sent.iter().map(|p| p.tx.bytes.clone()).collect();
    let (la, lb) = (net.sent[2].tx.path.local, net.sent[2].tx.path.remote);
    let mut x: u64 = 0x1234_5678_9abc_def1;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let now = Timestamp::from_secs(2000);
    for bytes in &recorded {
        let mut variants: Vec<Vec<u8>> = Vec::new();
        for i in (0..bytes.len()).step_by(3) {
            let mut v = bytes.clone();
            v[i] ^= 1 << (rnd() % 8);
            variants.push(v);
        }
        for n in 0..bytes.len() {
            variants.push(bytes[..n].to_vec());
        }
        for _ in 0..50 {
            let mut v = bytes.clone();
            let n = (rnd() % 8) as usize + 1;
            for _ in 0..n {
                let i = (rnd() as usize) % v.len();
                v[i] = rnd() as u8;
            }
            variants.push(v);
        }
        let mut junk = bytes.clone();
        junk.extend_from_slice(&[0; 7]);
        variants.push(junk);
        for v in &variants {
            net.a.handle_datagram(now, Path::new(la, lb), v);
            net.b.handle_datagram(now, Path::new(lb, la), v);
            net.a.handle_timeout(now);
            net.b.handle_timeout(now);
        }
    }
    // Drain output; the established SAs survived.
    while net.a.poll_transmit().is_some() {}
    while net.b.poll_transmit().is_some() {}
    // (mangled IKE_SA_INIT requests may create half-open SAs: A also responds for its
    // connection, like strongSwan)
    let est = |e: &mobikectl::engine::Engine| {
        e.sas()
            .filter(|s| s.state == mobikectl::engine::IkeState::Established)
            .count()
    };
    assert_eq!(est(&net.a), 1);
    let sa_b = net
        .b
        .sas()
        .find(|s| s.state == mobikectl::engine::IkeState::Established);
    assert!(sa_b.is_some());
    assert!(net.a.stats().icv_failures > 0 || net.b.stats().icv_failures > 0);
    assert!(net.b.stats().malformed > 0);
    while let Some(e) = net.a.poll_event() {
        assert!(
            !matches!(e, EngineEvent::IkeDown { .. }),
            "A went down: {e:?}"
        );
    }
}

#[test]
fn random_garbage_never_panics() {
    let mut net = Net::pair(PSK, PSK);
    let mut x: u64 = 99;
    let (a, b) = (net.a_addr, net.b_addr);
    for i in 0..3000u64 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let len = (x >> 40) as usize % 200;
        let mut v: Vec<u8> = (0..len).map(|k| (x >> (k % 56)) as u8).collect();
        if v.len() >= 28 {
            // make many of them look like IKEv2 with a plausible length
            v[17] = 0x20;
            let l = (v.len() as u32).to_be_bytes();
            v[24..28].copy_from_slice(&l);
            v[18] = 34 + (i % 4) as u8;
        }
        net.b
            .handle_datagram(Timestamp::from_secs(i), Path::new(b, a), &v);
        net.a
            .handle_datagram(Timestamp::from_secs(i), Path::new(a, b), &v);
    }
    for (name, e) in [("a", &mut net.a), ("b", &mut net.b)] {
        let st = e.stats();
        assert_eq!(st.received, 3000, "{name}: {st:?}");
        // every datagram is accounted for: dropped with a reason, or an IKE_SA_INIT
        // request that got exactly one answer (a response or an error notify)
        let mut answered = 0u64;
        while let Some(t) = e.poll_transmit() {
            let m = Message::parse(&t.bytes).expect("the engine sends what it can parse");
            assert!(
                m.header.is_response(),
                "{name} sent a request: {:?}",
                m.header
            );
            assert_eq!(m.header.exchange_type, wire::IKE_SA_INIT);
            assert_eq!(t.path.remote, if name == "a" { b } else { a });
            answered += 1;
        }
        let dropped = st.malformed + st.unknown_sa + st.dropped + st.bad_message_id;
        assert_eq!(
            dropped + answered + st.keepalives,
            st.received,
            "{name}: {st:?}"
        );
        assert!(st.malformed > 0 && st.unknown_sa > 0, "{name}: {st:?}");
        // nothing got established by garbage
        assert!(e
            .sas()
            .all(|s| s.state != mobikectl::engine::IkeState::Established));
        while let Some(ev) = e.poll_event() {
            assert!(
                matches!(
                    ev,
                    EngineEvent::Received { .. }
                        | EngineEvent::Sent { .. }
                        | EngineEvent::Error { .. }
                ),
                "{name}: {ev:?}"
            );
        }
    }
}

/// Build a request from A to B protected with A's keys, with arbitrary inner bytes.
fn forged_request(net: &Net, exchange: u8, first: u8, inner: &[u8]) -> Vec<u8> {
    let sa = net.a.sas().next().unwrap();
    let h = Header {
        spi_i: sa.spi_i,
        spi_r: sa.spi_r,
        next_payload: wire::payload_type::SK,
        version: 0x20,
        exchange_type: exchange,
        flags: FLAG_INITIATOR,
        message_id: 2,
        length: 0,
    };
    let mut prefix = Vec::new();
    h.emit_into(&mut prefix);
    let sk = sa.sk.as_ref().unwrap();
    let iv = vec![7u8; sk.encr.iv_len()];
    encrypt_sk(
        sk,
        true,
        &prefix,
        &SkContent {
            next_payload: first,
            payloads: inner,
            fragment: None,
            extra_pad_blocks: 0,
        },
        &iv,
    )
    .unwrap()
}

/// Decrypt B's response with A's keys and list its notifies.
fn response_notifies(net: &Net, bytes: &[u8]) -> Vec<u16> {
    let sa = net.a.sas().next().unwrap();
    let m = Message::parse(bytes).unwrap();
    let off = m.payloads.last().unwrap().offset;
    let d = decrypt_sk(sa.sk.as_ref().unwrap(), false, bytes, off).unwrap();
    assert_eq!(d.integrity, Integrity::Ok);
    let (p, _) = parse_payload_chain(d.next_payload, &d.plaintext, 0).unwrap();
    p.iter()
        .filter_map(|p| p.as_notify().map(|n| n.notify_type))
        .collect()
}

#[test]
fn authenticated_but_malformed_gets_invalid_syntax() {
    let mut net = established();
    // a Notify payload whose length field says 2
    let bad = forged_request(&net, wire::INFORMATIONAL, 41, &[0, 0, 0, 2, 1, 2, 3]);
    let (local, remote) = (net.sent[3].tx.path.local, net.sent[3].tx.path.remote);
    net.b
        .handle_datagram(net.now, Path::new(local, remote), &bad);
    let t = net.b.poll_transmit().expect("B answers");
    assert_eq!(response_notifies(&net, &t.bytes), [nt::INVALID_SYNTAX]);
    let m = Message::parse(&t.bytes).unwrap();
    assert!(m.header.is_response() && m.header.message_id == 2);
    // the same request again is answered from the cache
    net.b
        .handle_datagram(net.now, Path::new(local, remote), &bad);
    assert_eq!(net.b.poll_transmit().unwrap().bytes, t.bytes);
    assert_eq!(net.b.stats().cached_responses, 1);
}

#[test]
fn unknown_critical_payload_is_refused() {
    let mut net = established();
    // payload type 200, critical bit, 4-byte body
    let bad = forged_request(&net, wire::INFORMATIONAL, 200, &[0, 0x80, 0, 8, 1, 2, 3, 4]);
    let (local, remote) = (net.sent[3].tx.path.local, net.sent[3].tx.path.remote);
    net.b
        .handle_datagram(net.now, Path::new(local, remote), &bad);
    let t = net.b.poll_transmit().expect("B answers");
    assert_eq!(
        response_notifies(&net, &t.bytes),
        [nt::UNSUPPORTED_CRITICAL_PAYLOAD]
    );
    // and a non-critical unknown payload is ignored: empty INFORMATIONAL = DPD answer
    let (local, remote) = (net.sent[3].tx.path.local, net.sent[3].tx.path.remote);
    let mut ok = forged_request(&net, wire::INFORMATIONAL, 200, &[0, 0, 0, 8, 1, 2, 3, 4]);
    ok[20..24].copy_from_slice(&3u32.to_be_bytes()); // message ID 3: breaks the ICV
    net.b
        .handle_datagram(net.now, Path::new(local, remote), &ok);
    assert!(net.b.poll_transmit().is_none(), "ICV failure is dropped");
    assert_eq!(net.b.stats().icv_failures, 1);
}

#[test]
fn wrong_message_ids_are_dropped() {
    let mut net = established();
    let (local, remote) = (net.sent[3].tx.path.local, net.sent[3].tx.path.remote);
    let mut req = forged_request(&net, wire::INFORMATIONAL, 0, &[]);
    // message ID 7 (re-encrypt so the ICV is right)
    let sa = net.a.sas().next().unwrap();
    let mut h = Header::parse(&req).unwrap();
    h.message_id = 7;
    let mut prefix = Vec::new();
    h.emit_into(&mut prefix);
    let sk = sa.sk.as_ref().unwrap();
    req = encrypt_sk(
        sk,
        true,
        &prefix,
        &SkContent {
            next_payload: 0,
            payloads: &[],
            fragment: None,
            extra_pad_blocks: 0,
        },
        &vec![1u8; sk.encr.iv_len()],
    )
    .unwrap();
    net.b
        .handle_datagram(net.now, Path::new(local, remote), &req);
    assert!(net.b.poll_transmit().is_none());
    assert_eq!(net.b.stats().bad_message_id, 1);
    // a response nobody asked for
    let mut resp = req.clone();
    resp[19] |= wire::FLAG_RESPONSE;
    net.b
        .handle_datagram(net.now, Path::new(local, remote), &resp);
    assert!(net.b.poll_transmit().is_none());
}

#[test]
fn keylog_decrypts_the_engines_traffic() {
    let net = established();
    let sa = net.a.sas().next().unwrap();
    let mut log = Vec::new();
    write_keylog_header(&mut log).unwrap();
    write_keylog_record(
        &mut log,
        sa.spi_i,
        sa.spi_r,
        sa.keys.as_ref().unwrap(),
        &sa.ni,
        &sa.nr,
    )
    .unwrap();
    let store = KeyStore::parse("engine.keylog", std::str::from_utf8(&log).unwrap()).unwrap();
    let keys = store.find(sa.spi_i, sa.spi_r).expect("key log has the SA");
    let mut decrypted = 0;
    for p in &net.sent {
        let m = Message::parse(&p.tx.bytes).unwrap();
        let Some(last) = m.payloads.last() else {
            continue;
        };
        if !matches!(last.body, PayloadBody::Sk(_)) {
            continue;
        }
        let d = decrypt_sk(keys, m.header.is_initiator(), &p.tx.bytes, last.offset).unwrap();
        assert_eq!(d.integrity, Integrity::Ok);
        let (inner, rest) = parse_payload_chain(d.next_payload, &d.plaintext, 0).unwrap();
        assert!(rest.is_empty());
        let first = inner[0].payload_type;
        if m.header.is_response() {
            assert_eq!(first, wire::payload_type::IDR);
        } else {
            assert_eq!(first, wire::payload_type::IDI);
        }
        decrypted += 1;
    }
    assert_eq!(decrypted, 2);
}

/// A protected message of `sa` with arbitrary inner bytes.
fn forge(
    sa: &mobikectl::engine::IkeSa,
    exchange: u8,
    mid: u32,
    response: bool,
    first: u8,
    inner: &[u8],
) -> Vec<u8> {
    let h = Header {
        spi_i: sa.spi_i,
        spi_r: sa.spi_r,
        next_payload: wire::payload_type::SK,
        version: 0x20,
        exchange_type: exchange,
        flags: if sa.initiator { FLAG_INITIATOR } else { 0 }
            | if response { wire::FLAG_RESPONSE } else { 0 },
        message_id: mid,
        length: 0,
    };
    let mut prefix = Vec::new();
    h.emit_into(&mut prefix);
    let sk = sa.sk.as_ref().unwrap();
    encrypt_sk(
        sk,
        sa.initiator,
        &prefix,
        &SkContent {
            next_payload: first,
            payloads: inner,
            fragment: None,
            extra_pad_blocks: 0,
        },
        &vec![3u8; sk.encr.iv_len()],
    )
    .unwrap()
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
    fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[(self.next() as usize) % v.len()]
    }
}

/// Plausible but hostile CREATE_CHILD_SA payload chains: SA payloads with odd
/// protocols, SPI sizes and transforms, KE payloads of any group and length, nonces of
/// any length, REKEY_SA with wrong protocols / SPIs, odd selectors, missing payloads.
fn hostile_chain(r: &mut Rng, known_spis: &[u32]) -> Vec<u8> {
    use mobikectl::wire::{
        Ke, Notify, NotifyData, Payload, Proposal, Sa, TrafficSelector, Transform, Ts,
    };
    use std::borrow::Cow;
    let mut p: Vec<Payload<'static>> = Vec::new();
    if r.next().is_multiple_of(2) {
        let spi_len = r.pick(&[0usize, 3, 4, 4, 8, 8]);
        let spi = if spi_len == 4 && !known_spis.is_empty() && r.next().is_multiple_of(2) {
            r.pick(known_spis).to_be_bytes().to_vec()
        } else {
            r.bytes(spi_len)
        };
        p.push(Payload::new(
            wire::payload_type::NOTIFY,
            PayloadBody::Notify(Notify {
                protocol_id: r.pick(&[0u8, 1, 2, 3, 3, 9]),
                spi: Cow::Owned(spi),
                notify_type: nt::REKEY_SA,
                data: NotifyData::Empty,
            }),
        ));
    }
    let plausible = r.next().is_multiple_of(3);
    if plausible {
        // close to valid: ESP AES-GCM-128 (maybe with x25519 PFS) or an IKE proposal
        let ike = r.next().is_multiple_of(2);
        let mut t = vec![{
            let mut e = Transform::new(1, if ike { 12 } else { 20 });
            e.attributes.push(wire::Attribute {
                attr_type: wire::ATTR_KEY_LENGTH,
                value: wire::AttributeValue::Tv(128),
            });
            e
        }];
        if ike {
            t.push(Transform::new(2, 5));
            t.push(Transform::new(3, 12));
            t.push(Transform::new(4, 31));
        } else if r.next().is_multiple_of(2) {
            t.push(Transform::new(4, 31));
        }
        p.push(Payload::new(
            wire::payload_type::SA,
            PayloadBody::Sa(Sa::new(vec![Proposal {
                last_substruc: 0,
                reserved: 0,
                number: 1,
                protocol_id: if ike { 1 } else { 3 },
                spi: Cow::Owned(r.bytes(if ike { 8 } else { 4 })),
                transforms: t,
            }])),
        ));
    } else if !r.next().is_multiple_of(8) {
        let mut props = Vec::new();
        for i in 0..(r.next() % 3 + 1) {
            let protocol_id = r.pick(&[1u8, 1, 3, 3, 2, 0, 7]);
            let spi_len = r.pick(&[0usize, 4, 8, 8, 4, 2]);
            let mut transforms = Vec::new();
            for _ in 0..(r.next() % 6) {
                let t = r.pick(&[1u8, 2, 3, 4, 5, 9]);
                let id = match t {
                    1 => r.pick(&[12u16, 20, 28, 3, 999]),
                    2 => r.pick(&[5u16, 6, 7, 0]),
                    3 => r.pick(&[12u16, 13, 0, 2]),
                    4 => r.pick(&[19u16, 31, 14, 0, 1234]),
                    _ => r.pick(&[0u16, 1, 7]),
                };
                let mut tr = Transform::new(t, id);
                if t == 1 && r.next().is_multiple_of(2) {
                    tr.attributes.push(wire::Attribute {
                        attr_type: wire::ATTR_KEY_LENGTH,
                        value: wire::AttributeValue::Tv(r.pick(&[128u16, 256, 0, 77])),
                    });
                }
                transforms.push(tr);
            }
            props.push(Proposal {
                last_substruc: 0,
                reserved: 0,
                number: (i + 1) as u8,
                protocol_id,
                spi: Cow::Owned(r.bytes(spi_len)),
                transforms,
            });
        }
        p.push(Payload::new(
            wire::payload_type::SA,
            PayloadBody::Sa(Sa::new(props)),
        ));
    }
    if plausible || !r.next().is_multiple_of(6) {
        let n = if plausible {
            32
        } else {
            r.pick(&[0usize, 1, 15, 16, 32, 256, 257])
        };
        p.push(Payload::new(
            wire::payload_type::NONCE,
            PayloadBody::Nonce(Cow::Owned(r.bytes(n))),
        ));
    }
    if r.next().is_multiple_of(2) {
        let g = if plausible {
            31
        } else {
            r.pick(&[19u16, 31, 14, 0, 77, 21])
        };
        let n = if plausible {
            32
        } else {
            r.pick(&[0usize, 1, 32, 64, 256, 65, 33])
        };
        let mut data = r.bytes(n);
        if n == 32 && r.next().is_multiple_of(3) {
            data = vec![0; 32]; // x25519 low-order point
        }
        p.push(Payload::new(
            wire::payload_type::KE,
            PayloadBody::Ke(Ke {
                dh_group: g,
                reserved: 0,
                data: Cow::Owned(data),
            }),
        ));
    }
    for ty in [wire::payload_type::TSI, wire::payload_type::TSR] {
        if r.next().is_multiple_of(6) {
            continue;
        }
        let mut sel = Vec::new();
        for _ in 0..(r.next() % 3) {
            let a = std::net::Ipv4Addr::from(r.next() as u32);
            let b = std::net::Ipv4Addr::from(r.next() as u32);
            sel.push(TrafficSelector::Ipv4 {
                ip_protocol: r.pick(&[0u8, 6, 17]),
                start_port: r.pick(&[0u16, 80, 65535]),
                end_port: r.pick(&[0u16, 65535, 80]),
                start: a,
                end: if r.next().is_multiple_of(2) { b } else { a },
            });
        }
        if plausible || r.next().is_multiple_of(3) {
            sel.push(TrafficSelector::Ipv4 {
                ip_protocol: 0,
                start_port: 0,
                end_port: 65535,
                start: [0, 0, 0, 0].into(),
                end: [255, 255, 255, 255].into(),
            });
        }
        p.push(Payload::new(ty, PayloadBody::Ts(Ts::new(sel))));
    }
    // shuffle a little
    if p.len() > 1 && r.next().is_multiple_of(3) {
        let i = (r.next() as usize) % p.len();
        let x = p.remove(i);
        p.push(x);
    }
    let mut out = vec![p.first().map_or(0, |x| x.payload_type)];
    wire::emit_payload_chain(&p, &mut out);
    out
}

/// Authenticated CREATE_CHILD_SA requests with hostile content, to both peers: no panic,
/// every request answered with a response that parses, established SAs stay usable.
#[test]
fn hostile_create_child_sa_requests_never_panic() {
    for (target, seed) in [(Side::B, 11u64), (Side::A, 12), (Side::B, 13)] {
        let mut net = established();
        let mut r = Rng(seed);
        let sender = if target == Side::B { Side::A } else { Side::B };
        let path = {
            let p = net
                .sent
                .iter()
                .find(|p| p.from == sender && p.exchange == wire::IKE_AUTH)
                .unwrap();
            (p.tx.path.local, p.tx.path.remote)
        };
        // the receiver's expected message ID: A's next request is 2, B's is 0
        let first_mid: u32 = if target == Side::B { 2 } else { 0 };
        let now = net.now;
        let mut answered = 0;
        let mut created = 0;
        for i in 0..600u32 {
            let mid = first_mid + i;
            let sa = net.engine(sender).sas().next().unwrap();
            let spis: Vec<u32> = sa
                .children
                .iter()
                .flat_map(|c| [c.spi_in, c.spi_out])
                .collect();
            let chain = if i % 5 == 4 {
                let n = (r.next() % 120) as usize;
                let mut v = vec![r.pick(&[33u8, 34, 40, 41, 44, 45, 0, 200])];
                v.extend(r.bytes(n));
                v
            } else {
                hostile_chain(&mut r, &spis)
            };
            let msg = forge(sa, wire::CREATE_CHILD_SA, mid, false, chain[0], &chain[1..]);
            let sa_spis = (sa.spi_i, sa.spi_r);
            let (local, remote) = (path.1, path.0);
            net.engine(target)
                .handle_datagram(now, Path::new(local, remote), &msg);
            while let Some(t) = net.engine(target).poll_transmit() {
                let m = Message::parse(&t.bytes).expect("response parses");
                assert!(m.header.is_response());
                assert_eq!((m.header.spi_i, m.header.spi_r), sa_spis);
                answered += 1;
            }
            while let Some(e) = net.engine(target).poll_event() {
                if matches!(e, EngineEvent::ChildUp { .. } | EngineEvent::Rekeyed { .. }) {
                    created += 1;
                }
            }
        }
        assert_eq!(answered, 600, "every authenticated request is answered");
        // the generator also reaches the paths that create SAs
        assert!(created > 0, "{target:?}");
        // the target still has its SA (possibly rekeyed by a forged request that happened
        // to be valid) and it still answers DPD on whichever is established
        assert!(net.engine(target).sas().count() >= 1);
        let _ = net.engine(target).stats();
    }
}

/// Hostile responses to our CREATE_CHILD_SA requests: no panic, the SA survives.
#[test]
fn hostile_create_child_sa_responses_never_panic() {
    use mobikectl::engine::{Command, IkeState};
    let mut r = Rng(77);
    let mut net = established();
    let mut consumed = 0;
    for i in 0..400 {
        let path = {
            let p = net
                .sent
                .iter()
                .find(|p| p.from == Side::B && p.exchange == wire::IKE_AUTH)
                .unwrap();
            (p.tx.path.local, p.tx.path.remote)
        };
        let now = net.now;
        let id = net.established_sa(Side::A).id;
        let spi = net.a.sa(id).unwrap().children.first().map(|c| c.spi_in);
        let cmd = match (i % 3, spi) {
            (0, _) => Command::RekeyIke(id),
            (1, Some(s)) => Command::RekeyChild(id, s),
            _ => Command::CreateChild(id),
        };
        net.a.command(now, cmd).unwrap();
        let req = net.a.poll_transmit().expect("request sent");
        let mid = Message::parse(&req.bytes).unwrap().header.message_id;
        let spis: Vec<u32> = net
            .a
            .sa(id)
            .unwrap()
            .children
            .iter()
            .map(|c| c.spi_in)
            .collect();
        let chain = if i % 4 == 3 {
            let mut v = vec![r.pick(&[33u8, 34, 40, 41, 44, 45])];
            let n = (r.next() % 100) as usize;
            v.extend(r.bytes(n));
            v
        } else {
            hostile_chain(&mut r, &spis)
        };
        let sa_b = net.b.sas().next().unwrap();
        let resp = forge(
            sa_b,
            wire::CREATE_CHILD_SA,
            mid,
            true,
            chain[0],
            &chain[1..],
        );
        let before = net.a.stats();
        net.a.handle_datagram(now, Path::new(path.1, path.0), &resp);
        let after = net.a.stats();
        if (after.malformed, after.icv_failures, after.bad_message_id)
            == (before.malformed, before.icv_failures, before.bad_message_id)
        {
            consumed += 1;
        }
        let follow_up = net.a.poll_transmit().is_some();
        while net.a.poll_transmit().is_some() {}
        while net.a.poll_event().is_some() {}
        // A survived; if it started a follow-up exchange (INVALID_KE retry, Delete of a
        // CHILD_SA) or the response broke the SA, continue with a fresh pair
        let ok = net
            .a
            .sa(id)
            .is_some_and(|s| s.state == IkeState::Established);
        if follow_up || !ok {
            net = established();
        }
    }
    assert!(consumed > 300, "{consumed}");
}

/// A session with rekeys of both kinds, replayed and mangled into both engines: no
/// panic, the rekeyed SAs stay up with the same keys.
#[test]
fn replayed_and_mangled_rekey_traffic_never_panics() {
    use mobikectl::engine::{Command, IkeState};
    let mut net = established();
    for side in [Side::A, Side::B] {
        let id = net.established_sa(side).id;
        let spi = net.established_sa(side).children[0].spi_in;
        net.command(side, Command::RekeyChild(id, spi));
        net.command(side, Command::RekeyIke(id));
        net.command(side, Command::CreateChild(id));
        net.run_for(Duration::from_secs(10));
    }
    net.assert_agree();
    let recorded: Vec<(Side, Vec<u8>, std::net::SocketAddr, std::net::SocketAddr)> = net
        .sent
        .iter()
        .filter(|p| p.exchange == wire::CREATE_CHILD_SA || p.exchange == wire::INFORMATIONAL)
        .map(|p| {
            (
                p.from,
                p.tx.bytes.clone(),
                p.tx.path.local,
                p.tx.path.remote,
            )
        })
        .collect();
    assert!(recorded.len() >= 12);
    let mut r = Rng(5);
    let now = net.now;
    for (from, bytes, local, remote) in &recorded {
        let to = if *from == Side::A { Side::B } else { Side::A };
        let mut variants = vec![bytes.clone()];
        for _ in 0..40 {
            let mut v = bytes.clone();
            let i = (r.next() as usize) % v.len();
            v[i] ^= 1 << (r.next() % 8);
            variants.push(v);
        }
        for v in variants {
            net.engine(to)
                .handle_datagram(now, Path::new(*remote, *local), &v);
            net.engine(to).handle_timeout(now);
        }
    }
    while net.a.poll_transmit().is_some() {}
    while net.b.poll_transmit().is_some() {}
    net.assert_agree();
    for e in [&net.a, &net.b] {
        assert!(e.sas().all(|s| s.state == IkeState::Established));
    }
}
