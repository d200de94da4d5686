//! `mobikectl lab --sas N`: N IKE SAs (each with its CHILD_SA) between the lab's two
//! engines on the in-memory network, all moved at once by one address loss. Reports how
//! fast they were set up (wall clock: the engines' CPU work, since the network is
//! simulated), the simulated time until every SA had moved at both ends, the CPU time per
//! move and the memory (resident set growth) per SA.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::common::{
    initiator_config, responder_config, LabOptions, LabPorts, INITIATOR_ADDRS, RESPONDER_ADDRS,
};
use crate::engine::{Command, Engine, EngineEvent, IkeState, SeededRandom, Timestamp};
use crate::netsim::Network;

const START: Timestamp = Timestamp::from_secs(1000);
const INITIATOR: usize = 0;
const RESPONDER: usize = 1;
/// IKE_SA_INITs started per simulated step while setting up (the responder's cookie
/// threshold is lifted: this is a load test, not a DoS test).
const WAVE: usize = 200;
/// Longest simulated time a phase may take.
const PHASE_LIMIT: Duration = Duration::from_secs(600);

/// What a scale run measured.
#[derive(Debug, Clone)]
pub struct ScaleReport {
    /// IKE SAs asked for.
    pub sas: usize,
    /// Established at both ends after the setup phase.
    pub established: usize,
    /// Wall-clock time of the setup phase (engines and simulated network on one core).
    pub setup_wall: Duration,
    /// Simulated time of the setup phase.
    pub setup_simulated: Duration,
    /// SAs moved at the initiator (UPDATE sent) and at the responder (CHILD_SAs moved).
    pub moved_initiator: usize,
    pub moved_responder: usize,
    /// Simulated time from the address loss until the last SA had moved at both ends.
    pub move_simulated: Duration,
    /// Wall-clock time of the move phase (both engines and the network on one core).
    pub move_wall: Duration,
    /// Process CPU time of the move phase, per SA.
    pub move_cpu_per_sa: Duration,
    /// Resident set growth during setup, per SA (both ends, bytes), where measurable.
    pub rss_per_sa: Option<u64>,
}

impl ScaleReport {
    /// Established SAs per wall-clock second.
    pub fn setup_rate(&self) -> f64 {
        self.established as f64 / self.setup_wall.as_secs_f64().max(1e-9)
    }

    /// The report as text.
    pub fn text(&self) -> String {
        let rss = self
            .rss_per_sa
            .map(|b| format!("{:.1} KiB", b as f64 / 1024.0))
            .unwrap_or_else(|| "n/a".into());
        format!(
            "scale: {} IKE SAs (each with a CHILD_SA), virtual lab\n\
             setup: {} established in {:.3} s wall ({:.0} SAs/s), {:.3} s simulated\n\
             move after one address loss: initiator {} / responder {} moved, all within \
             {:.3} s simulated ({:.3} s wall); CPU per move {:.1} us\n\
             memory: {} per SA (resident set growth, both ends)\n",
            self.sas,
            self.established,
            self.setup_wall.as_secs_f64(),
            self.setup_rate(),
            self.setup_simulated.as_secs_f64(),
            self.moved_initiator,
            self.moved_responder,
            self.move_simulated.as_secs_f64(),
            self.move_wall.as_secs_f64(),
            self.move_cpu_per_sa.as_secs_f64() * 1e6,
            rss,
        )
    }

    /// The report as JSON.
    pub fn json(&self) -> Value {
        json!({
            "sas": self.sas,
            "established": self.established,
            "setup_wall_s": self.setup_wall.as_secs_f64(),
            "setup_simulated_s": self.setup_simulated.as_secs_f64(),
            "setup_sas_per_s": self.setup_rate(),
            "moved_initiator": self.moved_initiator,
            "moved_responder": self.moved_responder,
            "move_simulated_s": self.move_simulated.as_secs_f64(),
            "move_wall_s": self.move_wall.as_secs_f64(),
            "move_cpu_per_sa_us": self.move_cpu_per_sa.as_secs_f64() * 1e6,
            "rss_per_sa_bytes": self.rss_per_sa,
        })
    }
}

/// Run the scale test with `sas` IKE SAs.
pub fn run_scale(sas: usize) -> Result<ScaleReport, String> {
    let options = LabOptions::default();
    let mut cfg_r = responder_config(&options, LabPorts::default())?;
    cfg_r.cookie_threshold = None;
    let mut initiator = Engine::new(
        initiator_config(&options, LabPorts::default())?,
        Box::new(SeededRandom::new(1)),
    );
    let mut responder = Engine::new(cfg_r, Box::new(SeededRandom::new(2)));
    initiator.set_local_addrs(START, &INITIATOR_ADDRS);
    responder.set_local_addrs(START, &RESPONDER_ADDRS);
    let mut net = Network::new(START);
    net.latency = Duration::from_millis(1);
    net.add("initiator", initiator, &INITIATOR_ADDRS);
    net.add("responder", responder, &RESPONDER_ADDRS);

    let rss_before = resident_bytes();
    let wall = Instant::now();
    let established = set_up(&mut net, sas)?;
    let setup_wall = wall.elapsed();
    let setup_simulated = net.now.saturating_since(START);
    let rss_per_sa = match (rss_before, resident_bytes()) {
        (Some(a), Some(b)) if established > 0 => Some(b.saturating_sub(a) / established as u64),
        _ => None,
    };
    net.events.clear();

    let loss_at = net.now;
    let cpu = process_cpu();
    let wall = Instant::now();
    net.del_addr(INITIATOR, INITIATOR_ADDRS[0]);
    let (moved_initiator, moved_responder, last) = wait_moves(&mut net, established);
    let move_wall = wall.elapsed();
    let cpu_used = process_cpu().saturating_sub(cpu);
    Ok(ScaleReport {
        sas,
        established,
        setup_wall,
        setup_simulated,
        moved_initiator,
        moved_responder,
        move_simulated: last.saturating_since(loss_at),
        move_wall,
        move_cpu_per_sa: cpu_used / u32::try_from(established.max(1)).unwrap_or(u32::MAX),
        rss_per_sa,
    })
}

/// Start `sas` IKE SAs in waves; returns how many are established at both ends.
fn set_up(net: &mut Network, sas: usize) -> Result<usize, String> {
    let deadline = net.now + PHASE_LIMIT;
    let mut started = 0;
    while net.now < deadline {
        let wave = WAVE.min(sas - started);
        for _ in 0..wave {
            let now = net.now;
            net.engine(INITIATOR)
                .command(now, Command::Up("lab".into()))
                .map_err(|e| format!("up: {e}"))?;
        }
        started += wave;
        net.run_for(Duration::from_millis(50));
        let done = established(net, INITIATOR).min(established(net, RESPONDER));
        if started == sas && done == sas {
            return Ok(done);
        }
        net.events.clear(); // keep memory for the SAs, not the event log
    }
    Ok(established(net, INITIATOR).min(established(net, RESPONDER)))
}

fn established(net: &Network, node: usize) -> usize {
    net.nodes[node]
        .engine
        .sas()
        .filter(|s| s.state == IkeState::Established)
        .count()
}

/// Run until every SA has moved at both ends (or the phase limit): the moves counted at
/// the initiator and the responder, and when the last one happened.
fn wait_moves(net: &mut Network, sas: usize) -> (usize, usize, Timestamp) {
    let deadline = net.now + PHASE_LIMIT;
    let (mut at_i, mut at_r, mut last) = (0, 0, net.now);
    while net.now < deadline && (at_i < sas || at_r < sas) {
        net.run_for(Duration::from_millis(5));
        for (t, node, e) in net.events.drain(..) {
            match e {
                EngineEvent::Moved { .. } if node == INITIATOR => at_i += 1,
                EngineEvent::Moved { children: true, .. } if node == RESPONDER => at_r += 1,
                _ => continue,
            }
            last = last.max(t);
        }
    }
    (at_i, at_r, last)
}

/// The process's resident set size (Linux), for the memory per SA.
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page).ok()?)
}

/// CPU time used by this process so far.
fn process_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec to fill.
    if unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) } != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sa_is_set_up_and_moved_by_one_address_loss() {
        let r = run_scale(50).unwrap();
        assert_eq!(r.established, 50, "{r:?}");
        assert_eq!((r.moved_initiator, r.moved_responder), (50, 50), "{r:?}");
        assert!(r.move_simulated < Duration::from_secs(5), "{r:?}");
        assert!(r.text().contains("50 IKE SAs"));
        assert_eq!(r.json()["moved_responder"], 50);
    }
}
