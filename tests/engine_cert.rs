//! Certificate authentication between two engines (test PKI in `testdata/pki`).

mod sim;

use std::time::Duration;

use mobikectl::engine::pubkey::CertAuth;
use mobikectl::engine::{Config, EngineEvent, Identity};
use mobikectl::wire::{notify_type as nt, payload_type as pt, Message, PayloadBody};
use sim::{addr, conns, Net, Side};

/// 2027-01-15, inside the test certificates' validity.
const UNIX_2027: u64 = 1_800_000_000 - 1000;

fn pki(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/testdata/pki/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn cert(name: &str, cas: &[&str]) -> CertAuth {
    cert_file(name, name, cas)
}

fn cert_file(crt: &str, key: &str, cas: &[&str]) -> CertAuth {
    let cas: Vec<String> = cas.iter().map(|c| pki(&format!("{c}.crt"))).collect();
    CertAuth::from_pem(
        &pki(&format!("{crt}.crt")),
        &pki(&format!("{key}.key")),
        &cas,
    )
    .unwrap()
}

/// A = initiator with `a` (identity `a_id`), B = responder with `b` (`b_id`).
fn mknet(a: CertAuth, a_id: &str, b: CertAuth, b_id: &str, unix: u64) -> Net {
    let (mut ca, mut cb) = conns(addr("192.0.2.10:500"), addr("198.51.100.1:500"), b"x", b"x");
    ca.local_id = Identity::parse(a_id).unwrap();
    ca.remote_id = Some(Identity::parse(b_id).unwrap());
    cb.local_id = Identity::parse(b_id).unwrap();
    ca.cert = Some(a);
    cb.cert = Some(b);
    let cfg = Config {
        unix_time_at_epoch: Some(unix),
        ..Config::default()
    };
    Net::new(ca, cb, cfg.clone(), cfg)
}

fn errors(net: &Net, side: Side) -> Vec<String> {
    net.events_of(side)
        .into_iter()
        .filter_map(|e| match e {
            EngineEvent::Error { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect()
}

fn run(mut net: Net) -> Net {
    net.up();
    net.run_for(Duration::from_secs(10));
    net
}

#[test]
fn rsa_initiator_ecdsa_responder() {
    let net = run(mknet(
        cert("moon", &["ec-ca"]),
        "moon.example.org",
        cert("sun", &["rsa-ca"]),
        "sun.example.org",
        UNIX_2027,
    ));
    assert!(
        net.ike_up(Side::A) && net.ike_up(Side::B),
        "{:#?}",
        net.events
    );
    assert!(net.child_up(Side::A) && net.child_up(Side::B));
    net.assert_same_keys();
    // IKE_SA_INIT carries SIGNATURE_HASH_ALGORITHMS both ways, CERTREQ from the responder
    let init_req = Message::parse(&net.sent[0].tx.bytes).unwrap();
    let init_resp = Message::parse(&net.sent[1].tx.bytes).unwrap();
    for m in [&init_req, &init_resp] {
        assert!(m.payloads.iter().any(|p| p
            .as_notify()
            .is_some_and(|n| n.notify_type == nt::SIGNATURE_HASH_ALGORITHMS)));
    }
    let certreq = init_resp.payloads.iter().find_map(|p| match &p.body {
        PayloadBody::CertReq(c) => Some(c.data.len()),
        _ => None,
    });
    assert_eq!(certreq, Some(20));
    assert!(init_resp
        .payloads
        .iter()
        .all(|p| p.payload_type != pt::CERT));
    let sent: Vec<String> = net
        .events_of(Side::A)
        .into_iter()
        .filter_map(|e| match e {
            EngineEvent::Sent { info, .. } => Some(info.payloads.clone()),
            _ => None,
        })
        .collect();
    assert!(
        sent[1].starts_with("SK{IDi CERT N(INITIAL_CONTACT) CERTREQ IDr AUTH"),
        "{sent:?}"
    );
}

#[test]
fn ecdsa_p384_rfc822_identity() {
    let net = run(mknet(
        cert("carol", &["rsa-ca"]),
        "carol@example.org",
        cert("moon", &["ec-ca"]),
        "moon.example.org",
        UNIX_2027,
    ));
    assert!(
        net.ike_up(Side::A) && net.ike_up(Side::B),
        "{:#?}",
        net.events
    );
    // IP address subjectAltName
    let net = run(net_ip());
    assert!(
        net.ike_up(Side::A) && net.ike_up(Side::B),
        "{:#?}",
        net.events
    );
}

fn net_ip() -> Net {
    mknet(
        cert("sun", &["rsa-ca"]),
        "sun.example.org",
        cert("moon", &["ec-ca"]),
        "192.0.2.1",
        UNIX_2027,
    )
}

#[test]
fn untrusted_ca_is_authentication_failed() {
    // The responder (mallory, claims moon.example.org) has a certificate of a CA the
    // initiator does not trust.
    let net = run(mknet(
        cert("sun", &["rsa-ca"]),
        "sun.example.org",
        cert("mallory", &["ec-ca"]),
        "moon.example.org",
        UNIX_2027,
    ));
    assert!(!net.ike_up(Side::A));
    let e = errors(&net, Side::A);
    assert!(
        e.iter().any(|r| r.contains("AUTHENTICATION_FAILED")
            && r.contains("CN=moon.example.org")
            && r.contains("is not signed by a trusted CA")),
        "{e:?}"
    );
    // The initiator's certificate is not trusted by the responder.
    let net = run(mknet(
        cert("sun", &["rsa-ca"]),
        "sun.example.org",
        cert("moon", &["other-ca"]),
        "moon.example.org",
        UNIX_2027,
    ));
    assert!(!net.ike_up(Side::A) && !net.ike_up(Side::B));
    let e = errors(&net, Side::B);
    assert!(
        e.iter().any(
            |r| r.contains("AUTHENTICATION_FAILED") && r.contains("not signed by a trusted CA")
        ),
        "{e:?}"
    );
    let e = errors(&net, Side::A);
    assert!(
        e.iter().any(|r| r.contains("AUTHENTICATION_FAILED")),
        "{e:?}"
    );
}

#[test]
fn identity_not_in_certificate_and_expired() {
    let net = run(mknet(
        cert("sun", &["rsa-ca"]),
        "other.example.org",
        cert("moon", &["ec-ca"]),
        "moon.example.org",
        UNIX_2027,
    ));
    assert!(!net.ike_up(Side::B));
    let e = errors(&net, Side::B);
    assert!(
        e.iter()
            .any(|r| r.contains("does not contain the identity 'other.example.org'")),
        "{e:?}"
    );
    // 2040: expired
    let net = run(mknet(
        cert("sun", &["rsa-ca"]),
        "sun.example.org",
        cert("moon", &["ec-ca"]),
        "moon.example.org",
        2_200_000_000,
    ));
    assert!(!net.ike_up(Side::B));
    let e = errors(&net, Side::B);
    assert!(e.iter().any(|r| r.contains("expired")), "{e:?}");
}

#[test]
fn psk_peer_against_cert_peer_fails() {
    let (ca, mut cb) = conns(addr("192.0.2.10:500"), addr("198.51.100.1:500"), b"x", b"x");
    cb.cert = Some(cert("moon", &["ec-ca"]));
    let mut net = Net::new(ca, cb, Config::default(), Config::default());
    net.up();
    net.run_for(Duration::from_secs(10));
    assert!(!net.ike_up(Side::A) && !net.ike_up(Side::B));
    let e = errors(&net, Side::B);
    assert!(e.iter().any(|r| r.contains("used a PSK")), "{e:?}");
}

#[test]
fn key_must_match_certificate() {
    let e = CertAuth::from_pem(&pki("moon.crt"), &pki("sun.key"), &[pki("ec-ca.crt")]).unwrap_err();
    assert!(e.contains("does not belong"), "{e}");
}

#[test]
fn intermediate_ca_sent_and_verified() {
    // venus sends its certificate and the intermediate; moon trusts only the root.
    let net = run(mknet(
        cert_file("venus-chain", "venus", &["rsa-ca"]),
        "venus.example.org",
        cert("moon", &["rsa-ca"]),
        "moon.example.org",
        UNIX_2027,
    ));
    assert!(
        net.ike_up(Side::A) && net.ike_up(Side::B),
        "{:#?}",
        net.events
    );
    let sent: Vec<String> = net
        .events_of(Side::A)
        .into_iter()
        .filter_map(|e| match e {
            EngineEvent::Sent { info, .. } => Some(info.payloads.clone()),
            _ => None,
        })
        .collect();
    assert!(sent[1].starts_with("SK{IDi CERT CERT "), "{sent:?}");
    // without the intermediate, moon cannot build the chain
    let net = run(mknet(
        cert("venus", &["rsa-ca"]),
        "venus.example.org",
        cert("moon", &["rsa-ca"]),
        "moon.example.org",
        UNIX_2027,
    ));
    assert!(!net.ike_up(Side::B));
    let e = errors(&net, Side::B);
    assert!(e.iter().any(|r| r.contains("CN=venus.example.org") && r.contains("not signed by a trusted CA")), "{e:?}");
}
