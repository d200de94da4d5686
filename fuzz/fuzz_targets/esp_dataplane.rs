//! Hostile ESP for an engine with an established CHILD_SA, and hostile inner packets
//! for its echo responder: no input may panic.
//!
//! The first byte picks what the rest is: 0..=127 a raw ESP packet (SPI first) for the
//! responder, 128..=191 the same after the responder's real inbound SPI, 192..=255 an
//! inner packet the initiator encrypts correctly (so it reaches the data plane).
#![no_main]

#[path = "../common/pair.rs"]
mod pair;

use std::sync::Mutex;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use mobikectl::netsim::Network;
use pair::{established, I, R};

static NET: Mutex<Option<Network>> = Mutex::new(None);

fuzz_target!(|data: &[u8]| {
    let Ok(mut guard) = NET.lock() else { return };
    let net = established(&mut guard, &["192.0.2.10"], &["192.0.2.1"]);
    let [mode, rest @ ..] = data else { return };
    let now = net.now;
    let (Some(si), Some(sr)) = (
        net.nodes[I]
            .engine
            .sas()
            .next()
            .map(|s| (s.path, s.children.first().map(|c| c.spi_in))),
        net.nodes[R]
            .engine
            .sas()
            .next()
            .map(|s| (s.path, s.children.first().map(|c| c.spi_in))),
    ) else {
        return;
    };
    match mode {
        0..=127 => net.engine(R).handle_esp(now, sr.0, rest),
        128..=191 => {
            let Some(spi) = sr.1 else { return };
            let mut v = spi.to_be_bytes().to_vec();
            v.extend_from_slice(rest);
            net.engine(R).handle_esp(now, sr.0, &v);
        }
        _ => {
            let Some(spi) = si.1 else { return };
            // errors (not an IP packet, ...) are fine: only panics are not
            let _ = net.engine(I).send_esp(now, spi, rest);
        }
    }
    net.run_for(Duration::from_millis(50));
    net.log.clear();
    net.events.clear();
    net.esp_send_errors.clear();
});
