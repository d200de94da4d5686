//! Shared helper for the analysis tests: capture → parse → decrypt SK → `ObservedMessage`s.
//! (The real decryption pipeline lives in the CLI; this one is deliberately small.)
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use mobikectl::analysis::{AnalysisEvent, Analyzer, ObservedMessage};
use mobikectl::capture::{CaptureEvent, CaptureOptions, CaptureReader};
use mobikectl::crypto::{decrypt_sk, Integrity};
use mobikectl::keys::KeyStore;
use mobikectl::wire::{parse_payload_chain, Message, Payload, PayloadBody};

pub fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(rel)
}

/// One decoded IKE message with owned data.
pub struct Decoded {
    pub frame: u64,
    pub time_us: i64,
    pub src: std::net::IpAddr,
    pub sport: u16,
    pub dst: std::net::IpAddr,
    pub dport: u16,
    pub msg: Message<'static>,
    pub inner: Option<Vec<Payload<'static>>>,
    pub integrity_ok: Option<bool>,
}

impl Decoded {
    pub fn observed(&self) -> ObservedMessage<'_> {
        ObservedMessage {
            frame: self.frame,
            time_us: self.time_us,
            src: self.src,
            sport: self.sport,
            dst: self.dst,
            dport: self.dport,
            header: &self.msg.header,
            payloads: &self.msg.payloads,
            inner: self.inner.as_deref(),
            integrity_ok: self.integrity_ok,
        }
    }
}

fn decrypt(
    keys: &mut KeyStore,
    msg: &Message<'_>,
    data: &[u8],
) -> Option<(Vec<Payload<'static>>, bool)> {
    let sk = msg
        .payloads
        .iter()
        .find(|p| matches!(p.body, PayloadBody::Sk(_)))?;
    let (i, r) = (msg.header.spi_i, msg.header.spi_r);
    let from_i = msg.header.is_initiator();
    if keys.find(i, r).is_none() {
        // Key sets without SPIs (charon logs of rekeyed SAs): bind by trial decryption.
        let idx = keys.unbound().iter().position(|set| {
            matches!(decrypt_sk(&set.keys, from_i, data, sk.offset),
                     Ok(d) if d.integrity == Integrity::Ok)
        })?;
        keys.bind(i, r, idx);
    }
    let d = decrypt_sk(keys.find(i, r)?, from_i, data, sk.offset).ok()?;
    let ok = d.integrity == Integrity::Ok;
    let inner = parse_payload_chain(d.next_payload, &d.plaintext, 0)
        .ok()
        .map(|(v, _)| v.into_iter().map(Payload::into_owned).collect())
        .unwrap_or_default();
    Some((inner, ok))
}

/// Every IKE message of `capture` (relative to testdata/), decrypted with `keys` if given.
pub fn decode(capture: &str, keys: Option<&str>) -> Vec<Decoded> {
    let mut store = match keys {
        Some(k) => KeyStore::load(testdata(k)).expect("key file"),
        None => KeyStore::new(),
    };
    let mut reader =
        CaptureReader::open_file(testdata(capture), &CaptureOptions::default()).expect("open");
    let mut out = Vec::new();
    while let Some(ev) = reader.next_event() {
        let CaptureEvent::Ike(pkt) = ev else { continue };
        let Ok(msg) = Message::parse(&pkt.data) else {
            continue;
        };
        let dec = decrypt(&mut store, &msg, &pkt.data);
        out.push(Decoded {
            frame: pkt.frame,
            time_us: pkt.time_us,
            src: pkt.src,
            sport: pkt.sport,
            dst: pkt.dst,
            dport: pkt.dport,
            msg: msg.clone().into_owned(),
            integrity_ok: dec.as_ref().map(|d| d.1),
            inner: dec.map(|d| d.0),
        });
    }
    out
}

/// Run the analyzer over a capture: all events (observe + finish) and the analyzer.
pub fn analyze(capture: &str, keys: Option<&str>) -> (Vec<AnalysisEvent>, Analyzer) {
    let msgs = decode(capture, keys);
    let mut a = Analyzer::new();
    let mut events = Vec::new();
    for m in &msgs {
        events.extend(a.observe(&m.observed()));
    }
    events.extend(a.finish());
    (events, a)
}

/// Events named `name`.
pub fn named<'e>(events: &'e [AnalysisEvent], name: &str) -> Vec<&'e AnalysisEvent> {
    events.iter().filter(|e| e.kind.name() == name).collect()
}
