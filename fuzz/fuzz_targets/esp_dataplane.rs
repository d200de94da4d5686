//! Hostile ESP for an engine with an established CHILD_SA, and hostile inner packets
//! for its echo responder: no input may panic.
//!
//! The first byte picks what the rest is: 0..=127 a raw ESP packet (SPI first) for the
//! responder, 128..=191 the same after the responder's real inbound SPI, 192..=255 an
//! inner packet the initiator encrypts correctly (so it reaches the data plane).
#![no_main]

use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use mobikectl::engine::{
    Command, Config, ConnConfig, Engine, Identity, IkeState, SeededRandom, Timestamp, TsRange,
};
use mobikectl::netsim::Network;

const I: usize = 0;
const R: usize = 1;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn fresh() -> Network {
    let ia = [ip("192.0.2.10")];
    let ra = [ip("192.0.2.1")];
    let mut ci = ConnConfig::new(
        "home",
        SocketAddr::new(ia[0], 500),
        SocketAddr::new(ra[0], 500),
        Identity::parse("carol@example.org").unwrap(),
        b"fuzz",
    );
    ci.remote_ts = vec![TsRange::parse("10.1.0.0/16").unwrap()];
    ci.local_ts = vec![TsRange::parse("10.2.0.0/16").unwrap()];
    let mut cr = ConnConfig::new(
        "rw",
        "0.0.0.0:0".parse().unwrap(),
        "0.0.0.0:0".parse().unwrap(),
        Identity::parse("moon.example.org").unwrap(),
        b"fuzz",
    );
    cr.local_ts = ci.remote_ts.clone();
    cr.remote_ts = ci.local_ts.clone();
    let cfg = |c| Config {
        connections: vec![c],
        ..Config::default()
    };
    let t0 = Timestamp::from_secs(1000);
    let mut ei = Engine::new(cfg(ci), Box::new(SeededRandom::new(1)));
    let mut er = Engine::new(cfg(cr), Box::new(SeededRandom::new(2)));
    ei.set_local_addrs(t0, &ia);
    er.set_local_addrs(t0, &ra);
    let mut net = Network::new(t0);
    net.add("carol", ei, &ia);
    net.add("moon", er, &ra);
    net.engine(I).command(t0, Command::Up("home".into())).unwrap();
    net.run_for(Duration::from_secs(2));
    net
}

static NET: Mutex<Option<Network>> = Mutex::new(None);

fuzz_target!(|data: &[u8]| {
    let Ok(mut guard) = NET.lock() else { return };
    let alive = guard.as_ref().is_some_and(|n| {
        n.nodes
            .iter()
            .all(|x| x.engine.sas().any(|s| s.state == IkeState::Established))
    });
    if !alive {
        *guard = Some(fresh());
    }
    let Some(net) = guard.as_mut() else { return };
    let [mode, rest @ ..] = data else { return };
    let now = net.now;
    let (Some(si), Some(sr)) = (
        net.nodes[I].engine.sas().next().map(|s| (s.path, s.children.first().map(|c| c.spi_in))),
        net.nodes[R].engine.sas().next().map(|s| (s.path, s.children.first().map(|c| c.spi_in))),
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
