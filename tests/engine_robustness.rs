//! Hostile and broken input, INVALID_SYNTAX / UNSUPPORTED_CRITICAL_PAYLOAD answers, and the
//! key log checked against the engine's own traffic.

#[path = "engine_sim.rs"]
mod sim;

use std::time::Duration;

use mobikectl::crypto::{decrypt_sk, encrypt_sk, Integrity, SkContent};
use mobikectl::engine::{EngineEvent, Timestamp};
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
    let (la, lb) = (net.sent[2].tx.local, net.sent[2].tx.remote);
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
            net.a.handle_datagram(now, la, lb, v);
            net.b.handle_datagram(now, lb, la, v);
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
        net.b.handle_datagram(Timestamp::from_secs(i), b, a, &v);
        net.a.handle_datagram(Timestamp::from_secs(i), a, b, &v);
    }
    while net.b.poll_transmit().is_some() {}
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
    let (local, remote) = (net.sent[3].tx.local, net.sent[3].tx.remote);
    net.b.handle_datagram(net.now, local, remote, &bad);
    let t = net.b.poll_transmit().expect("B answers");
    assert_eq!(response_notifies(&net, &t.bytes), [nt::INVALID_SYNTAX]);
    let m = Message::parse(&t.bytes).unwrap();
    assert!(m.header.is_response() && m.header.message_id == 2);
    // the same request again is answered from the cache
    net.b.handle_datagram(net.now, local, remote, &bad);
    assert_eq!(net.b.poll_transmit().unwrap().bytes, t.bytes);
    assert_eq!(net.b.stats().cached_responses, 1);
}

#[test]
fn unknown_critical_payload_is_refused() {
    let mut net = established();
    // payload type 200, critical bit, 4-byte body
    let bad = forged_request(&net, wire::INFORMATIONAL, 200, &[0, 0x80, 0, 8, 1, 2, 3, 4]);
    let (local, remote) = (net.sent[3].tx.local, net.sent[3].tx.remote);
    net.b.handle_datagram(net.now, local, remote, &bad);
    let t = net.b.poll_transmit().expect("B answers");
    assert_eq!(
        response_notifies(&net, &t.bytes),
        [nt::UNSUPPORTED_CRITICAL_PAYLOAD]
    );
    // and a non-critical unknown payload is ignored: empty INFORMATIONAL = DPD answer
    let (local, remote) = (net.sent[3].tx.local, net.sent[3].tx.remote);
    let mut ok = forged_request(&net, wire::INFORMATIONAL, 200, &[0, 0, 0, 8, 1, 2, 3, 4]);
    ok[20..24].copy_from_slice(&3u32.to_be_bytes()); // message ID 3: breaks the ICV
    net.b.handle_datagram(net.now, local, remote, &ok);
    assert!(net.b.poll_transmit().is_none(), "ICV failure is dropped");
    assert_eq!(net.b.stats().icv_failures, 1);
}

#[test]
fn wrong_message_ids_are_dropped() {
    let mut net = established();
    let (local, remote) = (net.sent[3].tx.local, net.sent[3].tx.remote);
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
    net.b.handle_datagram(net.now, local, remote, &req);
    assert!(net.b.poll_transmit().is_none());
    assert_eq!(net.b.stats().bad_message_id, 1);
    // a response nobody asked for
    let mut resp = req.clone();
    resp[19] |= wire::FLAG_RESPONSE;
    net.b.handle_datagram(net.now, local, remote, &resp);
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
