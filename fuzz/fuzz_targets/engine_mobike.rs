//! Hostile input for an engine with an established MOBIKE IKE SA: arbitrary datagrams,
//! and (the interesting part) arbitrary payload chains inside correctly protected
//! INFORMATIONAL requests and responses, so the MOBIKE notifies are parsed and acted
//! on. No input may panic; the engine must keep running.
//!
//! The first byte picks what the rest is: 0..=63 a raw datagram to the responder,
//! 64..=127 a raw datagram to the initiator, 128..=191 an inner payload chain in a
//! request from the initiator, 192..=255 an inner payload chain in a response to the
//! responder's outstanding request (if any). The next byte is the first payload type,
//! then two bytes pick the source address.
#![no_main]

#[path = "../common/pair.rs"]
mod pair;

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use mobikectl::crypto::{encrypt_sk, SkContent};
use mobikectl::engine::{IkeState, Path};
use mobikectl::netsim::Network;
use mobikectl::wire::{self, Header, FLAG_INITIATOR, FLAG_RESPONSE};
use pair::{established, I, R};

static NET: Mutex<Option<Network>> = Mutex::new(None);

fuzz_target!(|data: &[u8]| {
    let Ok(mut guard) = NET.lock() else { return };
    let net = established(
        &mut guard,
        &["192.0.2.10", "198.51.100.10"],
        &["192.0.2.1", "198.51.100.1"],
    );
    let [mode, first, a, b, rest @ ..] = data else {
        return;
    };
    let srcs = [
        "192.0.2.10:4500",
        "198.51.100.10:4500",
        "203.0.113.9:4500",
        "192.0.2.10:500",
    ];
    let src: SocketAddr = srcs[*a as usize % srcs.len()].parse().unwrap();
    let dst: SocketAddr = ["192.0.2.1:4500", "198.51.100.1:4500"][*b as usize % 2]
        .parse()
        .unwrap();
    let now = net.now;
    match mode {
        0..=63 => net
            .engine(R)
            .handle_datagram(now, Path::new(dst, src), data),
        64..=127 => net
            .engine(I)
            .handle_datagram(now, Path::new(src, dst), data),
        _ => {
            let request = *mode < 192;
            let Some(sa) = net.nodes[R]
                .engine
                .sas()
                .find(|s| s.state == IkeState::Established)
            else {
                return;
            };
            let Some(sk) = sa.sk.clone() else { return };
            // the IDs the responder's window accepts: its next request, the answer to its
            // outstanding one
            let message_id = if request {
                sa.expected_request_id()
            } else {
                sa.outstanding_request_id().unwrap_or(*b as u32 % 4)
            };
            let h = Header {
                spi_i: sa.spi_i,
                spi_r: sa.spi_r,
                next_payload: wire::payload_type::SK,
                version: 0x20,
                exchange_type: wire::INFORMATIONAL,
                flags: FLAG_INITIATOR | if request { 0 } else { FLAG_RESPONSE },
                message_id,
                length: 0,
            };
            let mut prefix = Vec::new();
            h.emit_into(&mut prefix);
            let iv = vec![3u8; sk.encr.iv_len()];
            let Ok(bytes) = encrypt_sk(
                &sk,
                true,
                &prefix,
                &SkContent {
                    next_payload: *first,
                    payloads: rest,
                    fragment: None,
                    extra_pad_blocks: 0,
                },
                &iv,
            ) else {
                return;
            };
            net.engine(R)
                .handle_datagram(now, Path::new(dst, src), &bytes);
        }
    }
    net.run_for(Duration::from_millis(50));
    // the network's record of everything would grow without bound
    net.log.clear();
    net.events.clear();
});
