//! Drills against strongSwan 5.9 in network namespaces (`strongswan-lab/interop/lab.sh`,
//! topologies `dual` and `nat4`): `mobikectl drill FILE --allow-shell -- PEER-OPTIONS` run
//! in the peer's namespace drives a `mobikectl peer` against moon's charon
//! (kernel-libipsec), the drill's `shell` steps take addresses away, black-hole them or
//! flush the NAT for real (LAB_PREFIX, LAB_DIR and LAB_SH in their environment reach
//! the other namespaces), and its `ping` measures the data plane through strongSwan's
//! tunnel. Every drill of `drills/` has its strongSwan variant in `drills/strongswan/`,
//! run here. Needs root and the lab packages (see `tests/interop_common`); skipped with
//! a message otherwise.

mod interop_common;

use std::process::{Command, Stdio};

use interop_common::*;
use serde_json::Value;

/// The peer options of the drills on `dual`: both our addresses, both of moon's, a
/// virtual IP, moon's subnet, the OS's address changes followed.
const DUAL_PEER: &[&str] = &[
    "--local",
    "192.0.2.10",
    "--local",
    "198.51.100.10",
    "--remote",
    "192.0.2.1",
    "--remote",
    "198.51.100.1",
    "--vip",
    "0.0.0.0",
    "--remote-ts",
    "198.18.1.0/24",
    "--follow-os",
];

/// The peer options of the drills on `nat4`: our one address behind the NAT, moon's
/// one address, a virtual IP, moon's subnet.
const NAT4_PEER: &[&str] = &[
    "--local",
    "198.51.100.10",
    "--remote",
    "192.0.2.1",
    "--vip",
    "0.0.0.0",
    "--remote-ts",
    "198.18.1.0/24",
];

/// Run a drill of `drills/strongswan/` in the peer's namespace with [`DUAL_PEER`]; its
/// JSON report.
fn run_drill(lab: &Lab, drill: &str) -> (Option<i32>, Value) {
    run_drill_with(lab, drill, &[])
}

/// [`run_drill`] with more peer options.
fn run_drill_with(lab: &Lab, drill: &str, extra: &[&str]) -> (Option<i32>, Value) {
    run_drill_peer(lab, drill, &[DUAL_PEER, extra].concat())
}

/// Run a drill of `drills/strongswan/` in the peer's namespace, the peer started with the
/// lab's PSK, identities and proposals, a capture and `peer` (addresses, selectors, ...);
/// its JSON report with every event (`--events`). The drill's `shell` steps see
/// LAB_PREFIX (the namespaces are LAB_PREFIX-moon, -nat, -peer), LAB_DIR and LAB_SH
/// (`strongswan-lab/interop/lab.sh`).
fn run_drill_peer(lab: &Lab, drill: &str, peer: &[&str]) -> (Option<i32>, Value) {
    let file = repo().join("drills/strongswan").join(drill);
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &format!("{}-peer", lab.prefix),
            BIN,
            "drill",
        ])
        .arg(&file)
        .args(["--allow-shell", "--events", "--report", "json", "--svg"])
        .arg(lab.dir.join("drill.svg"))
        .args(["--", "--psk-file", &lab.path("psk")])
        .args([
            "--id",
            "carol@example.org",
            "--remote-id",
            "moon.example.org",
        ])
        .args(["--ike", LAB_IKE, "--esp", LAB_ESP])
        .args(["--pcap", &lab.path("drill.pcapng")])
        .args(peer)
        .env("LAB_PREFIX", &lab.prefix)
        .env("LAB_DIR", &lab.dir)
        .env("LAB_SH", script())
        .stdin(Stdio::null())
        .output()
        .expect("run mobikectl drill");
    let _ = std::fs::write(lab.dir.join("drill.json"), &out.stdout);
    let _ = std::fs::write(lab.dir.join("drill.stderr"), &out.stderr);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), report)
}

/// The report's steps, failures and measurements, one line each (for assertion messages:
/// the whole report with its events is in `drill.json` in the lab directory).
fn summary(report: &Value) -> String {
    let mut out = String::new();
    for s in report["steps"].as_array().into_iter().flatten() {
        out += &format!(
            "{:>10} {:<6} {} | {}\n",
            s["at_ms"], s["result"], s["statement"], s["detail"]
        );
    }
    out += &format!(
        "failures: {}\nmeasurements: {}\n",
        report["failures"], report["measurements"]
    );
    out
}

/// Did the step with this statement hold?
fn held(report: &Value, statement: &str) -> bool {
    report["steps"].as_array().is_some_and(|steps| {
        steps
            .iter()
            .any(|s| s["statement"] == statement && s["result"] == "held")
    })
}

/// The time (ms since the drill's start) of the first step with this statement.
fn step_at(report: &Value, statement: &str) -> f64 {
    report["steps"]
        .as_array()
        .and_then(|steps| steps.iter().find(|s| s["statement"] == statement))
        .and_then(|s| s["at_ms"].as_f64())
        .unwrap_or_else(|| panic!("no step '{statement}':\n{}", summary(report)))
}

/// The peer's events named `name`, in order (the report has them with `--events`).
fn events<'a>(report: &'a Value, name: &str) -> Vec<&'a Value> {
    report["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["event"] == name)
        .collect()
}

/// The ping's final numbers (`ping stop`): the replies resumed after the trouble (no gap
/// still open at the end; every drill pings 1 s before it and 2 s after it).
fn final_ping(report: &Value) -> Value {
    let fin = events(report, "ping")
        .into_iter()
        .rev()
        .find(|e| e["state"] == "stopped")
        .cloned()
        .unwrap_or_else(|| panic!("no final ping report:\n{}", summary(report)));
    assert_eq!(fin["gap_ongoing"], false, "{fin}");
    let sent = fin["sent"].as_u64().unwrap_or(0);
    let received = fin["received"].as_u64().unwrap_or(0);
    assert!(sent >= 250 && received >= 200, "{fin}");
    fin
}

fn measurement(report: &Value, name: &str) -> f64 {
    report["measurements"]
        .as_array()
        .and_then(|m| m.iter().find(|x| x["name"] == name))
        .and_then(|x| x["ms"].as_f64())
        .unwrap_or_else(|| panic!("no measurement {name}:\n{}", summary(report)))
}

#[test]
fn drill_address_loss_against_strongswan_moves_and_measures_the_outage() {
    let Some(lab) = Lab::up("drill-address-loss", "dual", &moon_gateway(&[])) else {
        return;
    };
    let (code, report) = run_drill(&lab, "address-loss.drill");
    assert_eq!(code, Some(0), "{}", summary(&report));
    assert_eq!(report["exit_code"], 0);
    let moved = measurement(&report, "move_after_loss");
    let outage = measurement(&report, "outage");
    eprintln!(
        "drill against strongSwan: moved {moved:.2} ms after the loss, outage {outage:.1} ms"
    );
    assert!(moved < 1000.0, "{}", summary(&report));
    // the goal is 50 ms; a loaded CI machine gets some slack, never strongSwan's
    // own ~110 ms
    assert!(outage < 100.0, "outage {outage} ms: {}", summary(&report));
    // the SA was on the second pair (the drill's state check), and the peer deleted it
    // at the drill's end: moon has none left
    assert!(
        held(&report, "expect path 198.51.100.10 198.51.100.1"),
        "{}",
        summary(&report)
    );
    let sas = lab.swanctl(&["--list-sas"]);
    assert!(!sas.contains("ESTABLISHED"), "{sas}");
}

#[test]
fn drill_move_back_against_strongswan_returns_when_the_address_does() {
    let Some(lab) = Lab::up("drill-move-back", "dual", &moon_gateway(&[])) else {
        return;
    };
    let (code, report) = run_drill(&lab, "move-back.drill");
    assert_eq!(code, Some(0), "{}", summary(&report));
    let back = measurement(&report, "move_back");
    let outage = measurement(&report, "outage");
    eprintln!("drill against strongSwan: moved back {back:.2} ms after the address returned, outage {outage:.1} ms");
    assert!(back < 2000.0 && outage < 100.0, "{}", summary(&report));
}

#[test]
fn drill_black_hole_against_strongswan_is_found_by_dpd_and_escaped() {
    let Some(lab) = Lab::up("drill-black-hole", "dual", &moon_gateway(&[])) else {
        return;
    };
    let (code, report) = run_drill_with(&lab, "black-hole.drill", &["--dpd", "1"]);
    assert_eq!(code, Some(0), "{}", summary(&report));
    let escaped = measurement(&report, "black_hole_escaped");
    let outage = measurement(&report, "outage");
    eprintln!(
        "drill against strongSwan: black hole escaped after {escaped:.0} ms, outage {outage:.0} ms"
    );
    // the goal: at most 15 s from the first unanswered request
    assert!(escaped < 15_000.0, "{}", summary(&report));
}

/// moon's second address, silently unreachable (`gateway-two-addresses.drill`): the peer
/// is told only moon's first address, learns the second from strongSwan's IKE_AUTH
/// (ADDITIONAL_IP4_ADDRESS), finds the first dead by its DPD (1 s) going unanswered and
/// moves there: no address event anywhere, so the move takes the liveness check's time
/// (DPD delay, then the retransmission schedule of 1 s × (1 + 1.8)), seconds rather than
/// milliseconds.
#[test]
fn drill_gateway_two_addresses_against_strongswan_dpd_finds_the_dead_one_and_moves_to_the_announced_one(
) {
    let Some(lab) = Lab::up("drill-gateway-two-addresses", "dual", &moon_gateway(&[])) else {
        return;
    };
    let peer = [
        "--local",
        "192.0.2.10",
        "--local",
        "198.51.100.10",
        "--remote",
        "192.0.2.1",
        "--vip",
        "0.0.0.0",
        "--remote-ts",
        "198.18.1.0/24",
        "--follow-os",
        "--dpd",
        "1",
        "--retransmit-timeout",
        "1",
    ];
    let (code, report) = run_drill_peer(&lab, "gateway-two-addresses.drill", &peer);
    assert_eq!(code, Some(0), "{}", summary(&report));
    assert!(
        held(&report, "expect addresses remote=198.51.100.1"),
        "{}",
        summary(&report)
    );
    let detected = measurement(&report, "failure_detected");
    let moved = measurement(&report, "failover_to_second_address");
    let outage = measurement(&report, "outage");
    eprintln!(
        "drill against strongSwan: the dead gateway address found after {detected:.0} ms (DPD \
         retransmitted), moved to its second address after {moved:.0} ms, outage {outage:.0} ms"
    );
    // nothing but the liveness check can find it: a DPD after 1 s without traffic, its
    // first retransmission 1 s later, the probes after 1 s x (1 + 1.8)
    assert!((1000.0..5000.0).contains(&detected), "{}", summary(&report));
    assert!(moved > detected && moved < 10_000.0, "{}", summary(&report));
    let m = events(&report, "moved");
    assert_eq!(m.len(), 1, "one move: {m:?}");
    assert_eq!(m[0]["cause"], "path_failed", "{}", m[0]);
    assert_eq!(m[0]["new"]["remote"], "198.51.100.1:4500", "{}", m[0]);
    assert_eq!(m[0]["children"], true, "{}", m[0]);
    // the ping was dark from the black hole to the move, then came back
    final_ping(&report);
    assert!(outage < moved + 1000.0, "{}", summary(&report));
}

/// moon loses its link-A address (`gateway-address-lost.drill`): strongSwan, the
/// responder, checks a path from its remaining address and sends its new address list
/// there at once; we follow (`peer_moved`) and confirm with UPDATE_SA_ADDRESSES. No DPD,
/// no retransmission: the gateway's own announcement moves the tunnel in about the time
/// strongSwan takes to notice (its kernel-netlink roam delay, ~100 ms).
#[test]
fn drill_gateway_address_lost_against_strongswan_follows_its_address_list_update() {
    let Some(lab) = Lab::up("drill-gateway-address-lost", "dual", &moon_gateway(&[])) else {
        return;
    };
    let (code, report) = run_drill(&lab, "gateway-address-lost.drill");
    assert_eq!(code, Some(0), "{}", summary(&report));
    let announced = measurement(&report, "gateway_announced");
    let moved = measurement(&report, "client_moved");
    let outage = measurement(&report, "outage");
    eprintln!(
        "drill against strongSwan: gateway's address list {announced:.1} ms after its loss, \
         we moved after {moved:.1} ms, outage {outage:.1} ms"
    );
    assert!(announced < 1000.0 && moved >= announced && moved < 1000.0);
    assert!(outage < 1000.0, "{}", summary(&report));
    let m = events(&report, "moved");
    assert_eq!(m.len(), 1, "one move: {m:?}");
    assert_eq!(m[0]["new"]["local"], "198.51.100.10:4500", "{}", m[0]);
    assert_eq!(m[0]["new"]["remote"], "198.51.100.1:4500", "{}", m[0]);
    assert_eq!(m[0]["children"], true, "{}", m[0]);
    assert!(
        events(&report, "retransmit").is_empty(),
        "{}",
        summary(&report)
    );
    // our UPDATE_SA_ADDRESSES after the move
    assert!(
        events(&report, "sent")
            .iter()
            .any(|e| e["response"] == false
                && e["payloads"]
                    .as_str()
                    .is_some_and(|p| p.contains("UPDATE_SA_ADDRESSES"))),
        "{}",
        summary(&report)
    );
    final_ping(&report);
}

/// The NAT in front of the peer forgets its mappings (`nat-rebinding.drill`, topology
/// nat4): the replies stop, the peer's DPD (1 s) with NAT detection shows the new public
/// port, our UPDATE_SA_ADDRESSES moves strongSwan's SA to it and the ping resumes.
#[test]
fn drill_nat_rebinding_against_strongswan_dpd_finds_the_new_port_and_the_update_moves_moon() {
    let Some(lab) = Lab::up("drill-nat-rebinding", "nat4", &moon_gateway(&[])) else {
        return;
    };
    assert_eq!(lab.var("NAT"), "192.0.2.254");
    let (code, report) = run_drill_peer(
        &lab,
        "nat-rebinding.drill",
        &[NAT4_PEER, &["--dpd", "1"]].concat(),
    );
    assert_eq!(code, Some(0), "{}", summary(&report));
    let detected = measurement(&report, "rebinding_detected");
    let followed = measurement(&report, "rebinding_followed");
    let outage = measurement(&report, "outage");
    eprintln!(
        "drill against strongSwan: NAT rebinding detected after {detected:.0} ms, strongSwan \
         on the new mapping after {followed:.0} ms, outage {outage:.0} ms"
    );
    // the DPD goes out 1 s after the last packet from moon
    assert!((500.0..5000.0).contains(&detected), "{}", summary(&report));
    assert!(followed >= detected && followed < 5000.0);
    assert!(outage < 5000.0, "{}", summary(&report));
    // after the mapping changed: our UPDATE, answered
    let rebind = step_at(&report, "mark rebind");
    let update = events(&report, "sent")
        .into_iter()
        .find(|e| {
            e["at_ms"].as_f64() > Some(rebind)
                && e["payloads"]
                    .as_str()
                    .is_some_and(|p| p.contains("UPDATE_SA_ADDRESSES"))
        })
        .unwrap_or_else(|| panic!("no UPDATE after the rebinding:\n{}", summary(&report)));
    assert_eq!(update["local"], "198.51.100.10:4500", "{update}");
    // no move of ours: our address did not change, only the NAT's port
    assert!(events(&report, "moved").is_empty(), "{}", summary(&report));
    final_ping(&report);
}

/// moon's options for the NAT idle timeout drill: its DPD after 6 s without anything
/// from us (our keepalives do not count), longer than the NAT's 3 s idle timeout.
fn moon_idle_gateway() -> Vec<&'static str> {
    moon_gateway(&["--dpd", "6s"])
}

/// The NAT forgets mappings idle for 3 s (`nat-idle-timeout.drill`, topology nat4); with
/// the peer's keepalive every second the mapping survives 8 s of idleness: strongSwan's
/// DPD (6 s) reaches us, our own DPD's NAT detection sees the mapping unchanged and the
/// tunnel carries a ping at once.
#[test]
fn drill_nat_idle_timeout_against_strongswan_keepalive_below_the_timeout_keeps_the_mapping() {
    let Some(lab) = Lab::up("drill-nat-idle-keepalive-1s", "nat4", &moon_idle_gateway()) else {
        return;
    };
    let (code, report) = run_drill_peer(
        &lab,
        "nat-idle-timeout.drill",
        &[NAT4_PEER, &["--keepalive", "1"]].concat(),
    );
    assert_eq!(code, Some(0), "{}", summary(&report));
    let dpd = measurement(&report, "gateway_dpd_after_idle");
    let outage = measurement(&report, "outage");
    eprintln!(
        "drill against strongSwan: keepalive 1 s, NAT timeout 3 s: strongSwan's DPD arrived \
         {dpd:.0} ms into the idle spell, ping outage afterwards {outage:.1} ms"
    );
    assert!((4000.0..9000.0).contains(&dpd), "{}", summary(&report));
    assert!(outage < 200.0, "{}", summary(&report));
    assert!(events(&report, "moved").is_empty(), "{}", summary(&report));
    assert!(
        !events(&report, "nat")
            .iter()
            .any(|e| e["mapping_changed"] == true),
        "{}",
        summary(&report)
    );
    // strongSwan never had to retransmit its DPD
    let log = lab.charon_log();
    assert!(
        !log.contains("retransmit 1 of request"),
        "moon retransmitted"
    );
    // our keepalives kept the mapping: one a second through the idle spell
    lab_down(&lab);
    let ka = keepalives_in(&lab.dir.join("drill.pcapng"));
    assert!(ka.len() >= 6, "{} keepalives: {ka:?}", ka.len());
    assert!(ka.windows(2).all(|w| w[1].0 - w[0].0 < 2.5), "{ka:?}");
}

/// The same drill with the peer's keepalive every 10 s, above the NAT's 3 s: the mapping
/// expires while idle, strongSwan's DPD goes to a mapping that is gone (it retransmits)
/// and never reaches us: the drill fails at that wait, as the lab drill does with
/// `keepalive=40s`.
#[test]
fn drill_nat_idle_timeout_against_strongswan_keepalive_above_the_timeout_loses_the_mapping() {
    let Some(lab) = Lab::up("drill-nat-idle-keepalive-10s", "nat4", &moon_idle_gateway()) else {
        return;
    };
    let (code, report) = run_drill_peer(
        &lab,
        "nat-idle-timeout.drill",
        &[NAT4_PEER, &["--keepalive", "10"]].concat(),
    );
    assert_eq!(code, Some(1), "{}", summary(&report));
    let failures = report["failures"].as_array().cloned().unwrap_or_default();
    assert_eq!(failures.len(), 1, "{}", summary(&report));
    assert_eq!(
        failures[0]["statement"],
        "wait received exchange=INFORMATIONAL response=false within 8s",
        "{}",
        summary(&report)
    );
    // strongSwan sent its DPD and retransmitted it into the void
    let log = lab.charon_log();
    assert!(
        log.contains("retransmit 1 of request with message ID 0"),
        "moon's DPD was not retransmitted (see {})",
        lab.dir.display()
    );
    eprintln!(
        "drill against strongSwan: keepalive 10 s, NAT timeout 3 s: the mapping expired, \
         strongSwan's DPD went out {} time(s) and never arrived",
        1 + log.matches("of request with message ID 0").count()
    );
}

/// IPv6 to IPv4 (`ipv6-to-ipv4.drill`): the SA comes up over IPv6 on link A, moon's IPv4
/// addresses known only from its IKE_AUTH; our IPv6 address goes and the SA moves to
/// IPv4 on the same link, the IPv4 traffic inside with it.
#[test]
fn drill_ipv6_to_ipv4_against_strongswan_moves_to_the_announced_ipv4_address() {
    let Some(lab) = Lab::up("drill-ipv6-to-ipv4", "dual", &moon_gateway_no_pool(&[])) else {
        return;
    };
    assert_eq!(lab.var("PEER_A6"), "2001:db8:1::10");
    assert_eq!(lab.var("MOON_A6"), "2001:db8:1::1");
    let peer = [
        "--local",
        "2001:db8:1::10",
        "--local",
        "192.0.2.10",
        "--local",
        "198.51.100.10",
        "--remote",
        "2001:db8:1::1",
        "--local-ts",
        "198.18.2.0/24",
        "--remote-ts",
        "198.18.1.0/24",
        "--follow-os",
    ];
    let (code, report) = run_drill_peer(&lab, "ipv6-to-ipv4.drill", &peer);
    assert_eq!(code, Some(0), "{}", summary(&report));
    let switched = measurement(&report, "switch_to_ipv4");
    let outage = measurement(&report, "outage");
    eprintln!(
        "drill against strongSwan: IPv6 -> IPv4 {switched:.1} ms after the IPv6 address \
         went, outage {outage:.1} ms"
    );
    assert!(switched < 1000.0, "{}", summary(&report));
    assert!(outage < 100.0, "{}", summary(&report));
    let up = &events(&report, "ike_up")[0];
    assert_eq!(up["local"], "[2001:db8:1::10]:4500", "{up}");
    let m = events(&report, "moved");
    assert_eq!(m.len(), 1, "one move: {m:?}");
    assert_eq!(m[0]["old"]["remote"], "[2001:db8:1::1]:4500", "{}", m[0]);
    // an IPv4 pair (the first probed, 192.0.2.10 -> 192.0.2.1, unless another answered
    // first)
    let v4 = |a: &Value, of: &[&str]| of.iter().any(|x| *a == format!("{x}:4500"));
    assert!(
        v4(&m[0]["new"]["local"], &["192.0.2.10", "198.51.100.10"])
            && v4(&m[0]["new"]["remote"], &["192.0.2.1", "198.51.100.1"]),
        "{}",
        m[0]
    );
    assert_eq!(m[0]["children"], true, "{}", m[0]);
    let fin = final_ping(&report);
    assert_eq!(fin["src"], "198.18.2.1", "{fin}");
}

/// A move while our CHILD_SA rekey is in flight (`rekey-in-flight.drill`): strongSwan's
/// answer is dropped on link A (nftables, IKE only), our address goes; the request is
/// resent on the new path with its message ID, strongSwan answers the retransmission,
/// the rekey completes there and the SA is on link B.
#[test]
fn drill_rekey_in_flight_against_strongswan_resends_the_request_on_the_new_path() {
    let Some(lab) = Lab::up("drill-rekey-in-flight", "dual", &moon_gateway(&[])) else {
        return;
    };
    let (code, report) = run_drill(&lab, "rekey-in-flight.drill");
    assert_eq!(code, Some(0), "{}", summary(&report));
    let moved = measurement(&report, "move_with_rekey_in_flight");
    let rekeyed = measurement(&report, "rekey_done");
    let outage = measurement(&report, "outage");
    eprintln!(
        "drill against strongSwan: moved {moved:.1} ms after the loss with the rekey in \
         flight, rekey done after {rekeyed:.1} ms, outage {outage:.1} ms"
    );
    assert!(moved < 1000.0 && rekeyed < 2000.0, "{}", summary(&report));
    assert!(outage < 200.0, "{}", summary(&report));
    // the same request (message ID) on the wire twice: first on link A, then on link B
    let reqs: Vec<&Value> = events(&report, "sent")
        .into_iter()
        .filter(|e| e["exchange"] == "CREATE_CHILD_SA" && e["response"] == false)
        .collect();
    assert!(!reqs.is_empty(), "{}", summary(&report));
    let mid = &reqs[0]["message_id"];
    assert_eq!(reqs[0]["local"], "192.0.2.10:4500", "{}", reqs[0]);
    let answer = events(&report, "received")
        .into_iter()
        .find(|e| {
            e["exchange"] == "CREATE_CHILD_SA" && e["response"] == true && e["message_id"] == *mid
        })
        .unwrap_or_else(|| panic!("no answer to the rekey:\n{}", summary(&report)));
    assert_eq!(answer["local"], "198.51.100.10:4500", "{answer}");
    let ours: Vec<&Value> = events(&report, "rekeyed")
        .into_iter()
        .filter(|e| e["initiator"] == true)
        .collect();
    assert_eq!(ours.len(), 1, "{ours:?}");
    assert!(
        events(&report, "child_down")
            .iter()
            .all(|e| e["reason"] != "timeout"),
        "{}",
        summary(&report)
    );
    // strongSwan saw the request again and answered it on the new path
    let log = lab.charon_log();
    assert!(
        log.contains("received retransmit of request with ID"),
        "moon's log has no retransmitted request (see {})",
        lab.dir.display()
    );
    final_ping(&report);
}

/// Three CHILD_SAs and an address loss (`three-child-sas.drill`): the move takes all
/// three (`children=true`), strongSwan re-creates each of them on link B (kernel-libipsec
/// rekeys after an address update), and afterwards our status lists exactly the three
/// new ones on link B, the ping's CHILD_SA with traffic in both directions.
#[test]
fn drill_three_child_sas_against_strongswan_all_move() {
    let Some(lab) = Lab::up("drill-three-child-sas", "dual", &moon_gateway(&[])) else {
        return;
    };
    let (code, report) = run_drill(&lab, "three-child-sas.drill");
    assert_eq!(code, Some(0), "{}", summary(&report));
    let moved = measurement(&report, "three_children_moved");
    let outage = measurement(&report, "outage");
    let statuses = events(&report, "status");
    assert_eq!(statuses.len(), 2, "{}", summary(&report));
    let children = |st: &Value| -> Vec<String> {
        let mut v: Vec<String> = st["sas"][0]["children"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| c["in"].as_str().unwrap_or_default().to_string())
            .collect();
        v.sort();
        v
    };
    let before = children(statuses[0]);
    let after = children(statuses[1]);
    assert_eq!(before.len(), 3, "{}", statuses[0]);
    assert_eq!(statuses[0]["sas"][0]["local"], "192.0.2.10:4500");
    assert_eq!(statuses[1]["sas"][0]["local"], "198.51.100.10:4500");
    assert_eq!(statuses[1]["sas"][0]["remote"], "198.51.100.1:4500");
    // every one of the three was re-created by strongSwan after the move, and the three
    // new ones are what we have now
    let lost = step_at(&report, "mark lost");
    let rekeys: Vec<&Value> = events(&report, "rekeyed")
        .into_iter()
        .filter(|e| e["what"] == "child" && e["at_ms"].as_f64() > Some(lost))
        .collect();
    let mut old: Vec<String> = rekeys
        .iter()
        .map(|e| e["old_spis"]["in"].as_str().unwrap_or_default().to_string())
        .collect();
    let mut new: Vec<String> = rekeys
        .iter()
        .map(|e| e["new_spis"]["in"].as_str().unwrap_or_default().to_string())
        .collect();
    old.sort();
    new.sort();
    assert_eq!(old, before, "{rekeys:?}");
    assert_eq!(new, after, "{rekeys:?}");
    let last_rekey = rekeys
        .iter()
        .filter_map(|e| e["at_ms"].as_f64())
        .fold(0.0, f64::max)
        - lost;
    // the ping's CHILD_SA carried both ways after the move
    let used: Vec<&Value> = statuses[1]["sas"][0]["children"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["esp"]["received"].as_u64() > Some(0))
        .collect();
    assert!(!used.is_empty(), "{}", statuses[1]);
    assert!(used.iter().all(|c| c["esp"]["integrity_failures"] == 0));
    eprintln!(
        "drill against strongSwan: three CHILD_SAs moved {moved:.1} ms after the loss, all \
         three re-created on the new path after {last_rekey:.1} ms, outage {outage:.1} ms"
    );
    assert!(
        moved < 1000.0 && last_rekey < 10_000.0,
        "{}",
        summary(&report)
    );
    assert!(outage < 100.0, "{}", summary(&report));
    final_ping(&report);
}

/// The same with our IKE SA rekey in flight (`rekey-ike-in-flight.drill`): the resent
/// rekey request is the probe, its answer moves the SA and completes the rekey, and the
/// UPDATE_SA_ADDRESSES goes on the new IKE SA, so strongSwan's new IKE SA (made from the
/// old one's addresses) moves to link B too. Before the engine sent it on the new SA,
/// the UPDATE died with the old one and the data plane stayed dark for good. The outage
/// is ~20 ms, or about 2 s when strongSwan drops our answer to its CHILD_SA rekey (same
/// message ID 0 as our UPDATE it is still processing: a race on its side) until it
/// retransmits.
#[test]
fn drill_rekey_ike_in_flight_against_strongswan_updates_on_the_new_ike_sa() {
    let Some(lab) = Lab::up("drill-rekey-ike-in-flight", "dual", &moon_gateway(&[])) else {
        return;
    };
    let (code, report) = run_drill(&lab, "rekey-ike-in-flight.drill");
    assert_eq!(code, Some(0), "{}", summary(&report));
    let moved = measurement(&report, "move_with_ike_rekey_in_flight");
    let rekeyed = measurement(&report, "ike_rekey_done");
    let updated = measurement(&report, "update_answered");
    let outage = measurement(&report, "outage");
    eprintln!(
        "drill against strongSwan: moved {moved:.1} ms after the loss with the IKE SA rekey \
         in flight, rekey done after {rekeyed:.1} ms, UPDATE on the new IKE SA answered after \
         {updated:.1} ms, outage {outage:.0} ms"
    );
    assert!(moved < 1000.0 && rekeyed < 2000.0 && updated < 2000.0);
    // strongSwan's retransmission timeout (2 s in the lab) plus slack
    assert!(outage < 5000.0, "{}", summary(&report));
    let new_sa = events(&report, "rekeyed")
        .into_iter()
        .find(|e| e["what"] == "ike")
        .map(|e| e["sa"].clone())
        .unwrap_or_else(|| panic!("no IKE SA rekey:\n{}", summary(&report)));
    let update = events(&report, "sent")
        .into_iter()
        .find(|e| {
            e["payloads"]
                .as_str()
                .is_some_and(|p| p.contains("UPDATE_SA_ADDRESSES"))
        })
        .unwrap_or_else(|| panic!("no UPDATE:\n{}", summary(&report)));
    assert_eq!(
        update["sa"], new_sa,
        "the UPDATE goes on the new IKE SA: {update}"
    );
    assert_eq!(update["local"], "198.51.100.10:4500", "{update}");
    // strongSwan moved its new IKE SA (#2) to link B
    let log = lab.charon_log();
    assert!(
        log.lines()
            .any(|l| l.contains("<home|2> remote endpoint changed")
                && l.ends_with("to 198.51.100.10[4500]")),
        "strongSwan's new IKE SA did not move (see {})",
        lab.dir.display()
    );
    final_ping(&report);
}

/// strongSwan's own IKE SA rekey in flight when our address goes
/// (`gateway-rekey-in-flight.drill`): we move and UPDATE, strongSwan's retransmitted
/// rekey request completes on link B, and its CHILD_SA re-created on the new IKE SA is
/// accepted (our virtual IP in its selectors, although strongSwan is now that IKE SA's
/// initiator); the ping comes back once it is in place.
#[test]
fn drill_gateway_rekey_in_flight_against_strongswan_completes_on_the_new_path() {
    let Some(lab) = Lab::up("drill-gateway-rekey-in-flight", "dual", &moon_gateway(&[])) else {
        return;
    };
    let (code, report) = run_drill(&lab, "gateway-rekey-in-flight.drill");
    assert_eq!(code, Some(0), "{}", summary(&report));
    let moved = measurement(&report, "move_with_gateway_rekey_in_flight");
    let rekeyed = measurement(&report, "gateway_rekey_done");
    let child = measurement(&report, "child_recreated");
    let outage = measurement(&report, "outage");
    eprintln!(
        "drill against strongSwan: moved {moved:.1} ms after the loss with strongSwan's IKE SA \
         rekey in flight, its rekey done after {rekeyed:.0} ms, CHILD_SA re-created after \
         {child:.0} ms, outage {outage:.0} ms"
    );
    assert!(moved < 1000.0, "{}", summary(&report));
    // strongSwan's retransmission timeout (2 s in the lab) plus slack
    assert!(rekeyed < 6000.0 && child >= rekeyed && child < 8000.0);
    assert!(outage < 8000.0, "{}", summary(&report));
    assert!(
        !events(&report, "error").iter().any(|e| e["reason"]
            .as_str()
            .is_some_and(|r| r.contains("TS_UNACCEPTABLE"))),
        "{}",
        summary(&report)
    );
    let ike = events(&report, "rekeyed")
        .into_iter()
        .find(|e| e["what"] == "ike")
        .cloned()
        .unwrap_or_else(|| panic!("no IKE SA rekey:\n{}", summary(&report)));
    assert_eq!(ike["initiator"], false, "{ike}");
    let child_up = events(&report, "child_up")
        .into_iter()
        .find(|e| e["sa"] == ike["sa"])
        .cloned()
        .unwrap_or_else(|| panic!("no CHILD_SA on the new IKE SA:\n{}", summary(&report)));
    assert_eq!(child_up["ts"]["local"][0], "198.18.0.1/32", "{child_up}");
    final_ping(&report);
}
