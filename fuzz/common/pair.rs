//! The starting point of the stateful fuzz targets: an initiator and a responder on a
//! simulated network, with an IKE SA and a CHILD SA established between them. A target
//! keeps the pair across inputs while both IKE SAs are up, so inputs act on an SA that
//! has been through earlier ones.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use mobikectl::engine::{
    Command, Config, ConnConfig, Engine, Identity, IkeState, SeededRandom, Timestamp, TsRange,
};
use mobikectl::netsim::Network;

/// The initiator's node index.
pub const I: usize = 0;
/// The responder's node index.
pub const R: usize = 1;

fn ips(list: &[&str]) -> Vec<IpAddr> {
    list.iter().filter_map(|a| a.parse().ok()).collect()
}

/// A fresh pair: the initiator on `initiator_addrs`, the responder on
/// `responder_addrs`; IKE starts between the first address of each.
fn fresh(initiator_addrs: &[&str], responder_addrs: &[&str]) -> Network {
    let (ia, ra) = (ips(initiator_addrs), ips(responder_addrs));
    let first = |a: &[IpAddr]| a.first().copied().unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let mut ci = ConnConfig::new(
        "home",
        SocketAddr::new(first(&ia), 500),
        SocketAddr::new(first(&ra), 500),
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
    net.engine(I)
        .command(t0, Command::Up("home".into()))
        .unwrap();
    net.run_for(Duration::from_secs(2));
    net
}

/// The pair to fuzz: the one `kept` from earlier inputs while both IKE SAs are up,
/// else a fresh one (see [`fresh`] for the addresses).
pub fn established<'n>(
    kept: &'n mut Option<Network>,
    initiator_addrs: &[&str],
    responder_addrs: &[&str],
) -> &'n mut Network {
    let alive = kept.as_ref().is_some_and(|n| {
        n.nodes
            .iter()
            .all(|x| x.engine.sas().any(|s| s.state == IkeState::Established))
    });
    if !alive {
        *kept = None;
    }
    kept.get_or_insert_with(|| fresh(initiator_addrs, responder_addrs))
}
