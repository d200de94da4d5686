//! Data-plane interop of `mobikectl peer` against strongSwan 5.9 (kernel-libipsec: ESP in
//! userspace over the TUN device `ipsec0`, always UDP-encapsulated on port 4500) on the
//! `dual` topology of `strongswan-lab/interop/lab.sh`: our ESP-protected ICMP echo (`ping`) reaches
//! moon's protected subnet (198.18.1.1 on moon's `lo`, answered by moon's kernel, the reply
//! routed back into `ipsec0` by the route charon installs in table 220), before and across
//! a MOBIKE move after an address loss, on each of three CHILD_SAs, and the other way
//! round (moon's kernel pings our virtual IP, our echo responder answers). Needs root and
//! the lab packages (see `tests/interop_common`); every test leaves its captures, logs and
//! events in `target/interop/<test>/`.
//!
//! The outage figures (longest time without a reply while pinging every 10 ms across the
//! move, strongSwan-to-strongSwan for comparison) come from `benches/dataplane_outage.sh`;
//! the tests here print theirs.

mod interop_common;

use std::thread::sleep;
use std::time::{Duration, Instant};

use interop_common::*;
use serde_json::Value;

const IKE: &str = "aes128-sha256-x25519";
const ESP: &str = "aes128gcm16";
const PEER_A: &str = "192.0.2.10";
const PEER_B: &str = "198.51.100.10";
const MOON_A: &str = "192.0.2.1";
const MOON_B: &str = "198.51.100.1";
/// moon's address in its protected subnet (198.18.1.0/24, on moon's `lo`)
const MOON_LAN: &str = "198.18.1.1";
/// the first address of moon's pool: our virtual IP
const VIP: &str = "198.18.0.1";

/// The dual lab with moon up; `None`: skipped (no root / strongSwan).
fn lab(test: &str) -> Option<Lab> {
    let lab = Lab::up(test, "dual", &moon_gateway(&[]))?;
    for (k, v) in [
        ("PEER_A", PEER_A),
        ("PEER_B", PEER_B),
        ("MOON_A", MOON_A),
        ("MOON_B", MOON_B),
    ] {
        assert_eq!(lab.var(k), v, "{k}");
    }
    Some(lab)
}

/// `mobikectl peer` initiating from PEER_A (PEER_B its second address) to MOON_A (MOON_B
/// the second), asking for a virtual IP and moon's subnet, following the OS's addresses;
/// returns once the first CHILD_SA is up with the virtual IP [`VIP`].
fn our_initiator(lab: &Lab) -> Peer {
    let mut p = peer_initiator(
        lab,
        MOON_A,
        IKE,
        ESP,
        &[
            "--local",
            PEER_A,
            "--local",
            PEER_B,
            "--remote",
            MOON_B,
            "--vip",
            "0.0.0.0",
            "--remote-ts",
            "198.18.1.0/24",
            "--follow-os",
        ],
    );
    let up = p.wait_event("child_up");
    assert_eq!(up["vip"], VIP, "{up}");
    p
}

fn num(v: &Value, k: &str) -> f64 {
    v[k].as_f64()
        .unwrap_or_else(|| panic!("no number {k} in {v}"))
}

fn seen_text(p: &Peer) -> String {
    p.seen
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// No `esp_error` among the events so far.
fn no_esp_errors(p: &Peer) {
    assert!(
        !p.seen.iter().any(|v| v["event"] == "esp_error"),
        "ESP errors:\n{}",
        seen_text(p)
    );
}

/// The next running `ping` summary with more than `n` replies.
fn replies_over(p: &mut Peer, n: u64) -> Value {
    p.wait(&format!("a ping summary with more than {n} replies"), |v| {
        v["event"] == "ping" && v["received"].as_u64().is_some_and(|r| r > n)
    })
}

/// `ping stop` and its final numbers.
fn ping_stop(p: &mut Peer) -> Value {
    p.send("ping stop");
    p.wait("the final ping numbers", |v| {
        v["event"] == "ping" && v["state"] == "stopped"
    })
}

/// A CHILD_SA of `swanctl --list-sas`.
#[derive(Debug, Clone)]
struct SwanChild {
    state: String,
    spi_in: String,
    in_packets: u64,
    spi_out: String,
    out_packets: u64,
}

/// moon's CHILD_SAs with their ESP counters: `net: #2, reqid 1, INSTALLED, ...` then
/// `in  SPI,  BYTES bytes,  PACKETS packets, ...` and `out ...` lines.
fn swan_children(sas: &str) -> Vec<SwanChild> {
    let lines: Vec<&str> = sas.lines().map(str::trim_start).collect();
    let counters = |l: &str, k: &str| -> Option<(String, u64)> {
        let rest = l.strip_prefix(k)?;
        let mut f = rest.split(',').map(str::trim);
        let spi = f.next()?.to_string();
        let _bytes = f.next()?;
        let packets = f
            .next()
            .and_then(|p| p.strip_suffix(" packets").or(Some("0")))
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or(0);
        Some((spi, packets))
    };
    let mut v = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let Some(state) = l
            .starts_with("net: #")
            .then(|| l.split(',').nth(2).map(|s| s.trim().to_string()))
            .flatten()
        else {
            continue;
        };
        let (mut inb, mut outb) = (None, None);
        for m in lines.iter().skip(i + 1).take(6) {
            inb = inb.or_else(|| counters(m, "in "));
            outb = outb.or_else(|| counters(m, "out "));
        }
        if let (Some((spi_in, in_packets)), Some((spi_out, out_packets))) = (inb, outb) {
            v.push(SwanChild {
                state,
                spi_in,
                in_packets,
                spi_out,
                out_packets,
            });
        }
    }
    v
}

/// moon's IKE SA endpoints (`local ... @ A[P]`, `remote ... @ A[P]`).
fn sa_endpoints(sas: &str) -> (String, String) {
    let get = |key: &str| {
        sas.lines()
            .map(str::trim_start)
            .find(|l| l.starts_with(key))
            .and_then(|l| l.rsplit_once(" @ "))
            .and_then(|(_, a)| a.split_whitespace().next())
            .map(str::to_string)
            .unwrap_or_default()
    };
    (get("local "), get("remote "))
}

/// Our `status`: the first IKE SA's CHILD_SAs as (in SPI, esp counters or Null, out SPI).
fn our_children(p: &mut Peer) -> (Value, Vec<(String, Value, String)>) {
    p.send("status");
    let st = p.wait_event("status");
    let v = st["sas"][0]["children"]
        .as_array()
        .map(|c| {
            c.iter()
                .map(|c| {
                    (
                        c["in"].as_str().unwrap_or("").to_string(),
                        c["esp"].clone(),
                        c["out"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    (st, v)
}

/// Wait until moon lists the IKE SA on PEER_B with exactly `n` INSTALLED CHILD_SAs and
/// nothing else (strongSwan with kernel-libipsec rekeys every CHILD_SA after a MOBIKE
/// address update: the old ones go away), and our `status` has the same `n`.
fn wait_settled_on_b(lab: &Lab, p: &mut Peer, n: usize) -> String {
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        let sas = lab.list_sas();
        let theirs = swan_children(&sas);
        let (_, ours) = our_children(p);
        let mut a: Vec<&str> = theirs.iter().map(|c| c.spi_out.as_str()).collect();
        let mut b: Vec<&str> = ours.iter().map(|(s, _, _)| s.as_str()).collect();
        a.sort();
        b.sort();
        if sa_endpoints(&sas).1 == format!("{PEER_B}[4500]")
            && theirs.len() == n
            && theirs.iter().all(|c| c.state == "INSTALLED")
            && a == b
        {
            return sas;
        }
        assert!(
            Instant::now() < end,
            "not settled on link B with {n} CHILD_SAs: ours {b:?}, moon's\n{sas}"
        );
        sleep(Duration::from_millis(300));
    }
}

/// The move after PEER_A's address goes away (`ip addr flush` of link A in the peer
/// namespace): our `moved` event (to PEER_B, CHILD_SAs along).
///
/// Its cause is `address_lost`, or `path_failed` when an ESP packet of the running ping
/// was still queued on the old path: its failed send ("no socket bound at PEER_A:4500")
/// re-triggers the probe already under way for the address loss (`Engine::send_failed`,
/// src/engine/mobike/paths.rs), and the move is reported with the later cause (seen in 2
/// of 3 runs of `ping_resumes_after_address_loss_move`; the move itself is as fast).
fn lose_link_a(lab: &Lab, p: &mut Peer) -> Value {
    lab.addr("peer", "flush", "eth0", None);
    let m = p.wait("moved (address_lost or path_failed)", |v| {
        v["event"] == "moved" && (v["cause"] == "address_lost" || v["cause"] == "path_failed")
    });
    assert_eq!(m["new"]["local"], format!("{PEER_B}:4500"), "{m}");
    assert_eq!(m["children"], true, "{m}");
    m
}

/// Our ESP-protected echo requests from our virtual IP reach moon's protected subnet
/// through strongSwan's kernel-libipsec tunnel and the replies come back: every request
/// answered, no ESP error, our CHILD_SA's counters and moon's (`swanctl --list-sas`, both
/// directions) moved by at least the replies we counted.
#[test]
fn ping_through_strongswan_tunnel_gets_replies() {
    let test = "ping_through_strongswan_tunnel_gets_replies";
    let Some(lab) = lab(test) else {
        return;
    };
    let mut p = our_initiator(&lab);
    let before = swan_children(&lab.list_sas());
    assert_eq!(before.len(), 1, "{before:?}");
    p.send(&format!("ping {MOON_LAN} 10ms"));
    let r = replies_over(&mut p, 100);
    assert_eq!(r["src"], VIP, "{r}");
    assert_eq!(r["dst"], MOON_LAN, "{r}");
    let fin = ping_stop(&mut p);
    eprintln!("ping through strongSwan: {fin}");
    let received = fin["received"].as_u64().unwrap();
    assert!(received > 100, "{fin}");
    assert_eq!(fin["lost"], 0, "{fin}");
    // at most the request in flight at `ping stop` is unanswered
    assert!(num(&fin, "sent") - num(&fin, "received") <= 1.0, "{fin}");
    assert!(num(&fin, "rtt_max_ms") < 200.0, "{fin}");
    no_esp_errors(&p);
    let (st, ours) = our_children(&mut p);
    assert_eq!(ours.len(), 1, "{st}");
    let esp = &ours[0].1;
    assert!(esp["sent"].as_u64() >= Some(received), "{st}");
    assert!(esp["received"].as_u64() >= Some(received), "{st}");
    assert_eq!(esp["integrity_failures"], 0, "{st}");
    assert_eq!(esp["outside_selectors"], 0, "{st}");
    let sas = lab.list_sas();
    let after = swan_children(&sas);
    assert_eq!(after.len(), 1, "{sas}");
    let c = &after[0];
    assert_eq!(c.state, "INSTALLED", "{sas}");
    assert_eq!(
        c.spi_out, ours[0].0,
        "moon's outbound SPI is our inbound one: {sas}"
    );
    assert_eq!(
        c.spi_in, ours[0].2,
        "moon's inbound SPI is our outbound one: {sas}"
    );
    assert!(c.in_packets >= received, "{sas}");
    assert!(c.out_packets >= received, "{sas}");
    p.quit();
}

/// THE OUTAGE: pinging moon's subnet every 10 ms, PEER_A's address goes away with link B
/// up: we move (address_lost) and the replies go on on link B (moon's SA on PEER_B, its
/// rekeyed CHILD_SA carrying both directions). The longest time without a reply over the
/// whole run (move and strongSwan's CHILD_SA rekey after it included) is printed and
/// bounded by 1 s (the goal is 50 ms; see benches/dataplane_outage.sh for the figures).
#[test]
fn ping_resumes_after_address_loss_move() {
    let test = "ping_resumes_after_address_loss_move";
    let Some(lab) = lab(test) else {
        return;
    };
    let mut p = our_initiator(&lab);
    p.send(&format!("ping {MOON_LAN} 10ms"));
    let r = replies_over(&mut p, 50);
    assert_eq!(r["lost"], 0, "{r}");
    let m = lose_link_a(&lab, &mut p);
    let at_move = p.wait("a summary after the move", |v| v["event"] == "ping")["received"]
        .as_u64()
        .unwrap();
    // strongSwan rekeys the CHILD_SA about 1.5 s after the address update: wait for it
    // and keep pinging through the new one
    let sas = wait_settled_on_b(&lab, &mut p, 1);
    let (_, ours) = our_children(&mut p);
    p.wait("replies on the new CHILD_SA", |v| {
        v["event"] == "ping" && v["received"].as_u64() > Some(at_move + 100)
    });
    let fin = ping_stop(&mut p);
    eprintln!("moved: {m}");
    eprintln!(
        "ping across the move ({}, 10 ms): longest gap {} ms ({} .. {}), sent {} received {} lost {}",
        m["cause"],
        fin["longest_gap_ms"],
        fin["gap_start"],
        fin["gap_end"],
        fin["sent"],
        fin["received"],
        fin["lost"]
    );
    let gap = num(&fin, "longest_gap_ms");
    eprintln!(
        "outage goal 50 ms: {} ({gap} ms)",
        if gap <= 50.0 { "met" } else { "missed" }
    );
    assert_eq!(fin["gap_ongoing"], false, "{fin}");
    assert!(gap < 1000.0, "{fin}");
    assert!(num(&fin, "lost") <= 50.0, "{fin}");
    no_esp_errors(&p);
    // the CHILD_SA on link B carried the replies: moon's counters and ours
    let after = swan_children(&lab.list_sas());
    let c = after
        .iter()
        .find(|c| c.spi_out == ours[0].0)
        .unwrap_or_else(|| panic!("moon lost the CHILD_SA {}:\n{sas}", ours[0].0));
    assert!(c.in_packets >= 50 && c.out_packets >= 50, "{c:?}");
    let (st, ours) = our_children(&mut p);
    assert_eq!(st["sas"][0]["local"], format!("{PEER_B}:4500"), "{st}");
    assert!(ours[0].1["received"].as_u64() >= Some(50), "{st}");
    p.quit();
}

/// Three CHILD_SAs (IKE_AUTH's and two `child create`, the same selectors), then the move
/// after PEER_A's loss: afterwards every CHILD_SA carries traffic again. Our `ping` uses
/// the newest CHILD_SA that covers the address, so each is proven in turn: ping through
/// it, check its counters on both sides (our `sent` and `received`, moon's `in` and
/// `out` of the same SPI pair), then `child down` it and go on with the next one.
#[test]
fn three_child_sas_carry_traffic_after_move() {
    let test = "three_child_sas_carry_traffic_after_move";
    let Some(lab) = lab(test) else {
        return;
    };
    let mut p = our_initiator(&lab);
    for _ in 0..2 {
        p.send("child create");
        p.wait_event("child_up");
    }
    lab.wait_sas("three installed CHILD_SAs", |s| {
        swan_children(s)
            .iter()
            .filter(|c| c.state == "INSTALLED")
            .count()
            == 3
    });
    lose_link_a(&lab, &mut p);
    wait_settled_on_b(&lab, &mut p, 3);
    let mut proven = Vec::new();
    for round in 0..3 {
        p.send(&format!("ping {MOON_LAN} 10ms"));
        replies_over(&mut p, 30);
        let fin = ping_stop(&mut p);
        assert_eq!(fin["lost"], 0, "round {round}: {fin}");
        let (st, ours) = our_children(&mut p);
        assert_eq!(ours.len(), 3 - round, "{st}");
        // the CHILD_SA that sent this round's requests (the others have not sent yet)
        let used: Vec<&(String, Value, String)> = ours
            .iter()
            .filter(|(_, e, _)| e["sent"].as_u64().is_some_and(|n| n >= 30))
            .collect();
        assert_eq!(used.len(), 1, "round {round}: {st}");
        let spi = used[0].0.clone();
        assert!(!proven.contains(&spi), "{spi} again: {st}");
        let sas = lab.list_sas();
        let c = swan_children(&sas)
            .into_iter()
            .find(|c| c.spi_out == spi)
            .unwrap_or_else(|| panic!("moon has no CHILD_SA for {spi}:\n{sas}"));
        assert!(c.in_packets >= 30, "moon received on {spi}: {c:?}\n{sas}");
        // strongSwan answers on the CHILD_SA the request came in on (its `out` of the
        // same pair), and we received the replies on it
        assert!(c.out_packets >= 30, "moon sent on {spi}: {c:?}\n{sas}");
        assert!(
            used[0].1["received"].as_u64() >= Some(30),
            "round {round}: {st}"
        );
        eprintln!(
            "round {round}: CHILD_SA {spi} sent {} (moon in {}), replies {} (moon out on it {})",
            used[0].1["sent"], c.in_packets, fin["received"], c.out_packets
        );
        proven.push(spi.clone());
        if round < 2 {
            p.send(&format!("child down {spi}"));
            p.wait("its child_down", |v| {
                v["event"] == "child_down" && v["spis"]["in"] == spi.as_str()
            });
        }
    }
    assert_eq!(proven.len(), 3);
    no_esp_errors(&p);
    p.quit();
}

/// moon's pings, from its protected subnet's address to our virtual IP, before and after
/// the move: strongSwan routes them into its tunnel, our echo responder answers through
/// the CHILD_SA, and every reply reaches moon (ping's own count), our CHILD_SA counted
/// both directions.
#[test]
fn strongswan_pings_our_virtual_ip_and_we_answer() {
    let test = "strongswan_pings_our_virtual_ip_and_we_answer";
    let Some(lab) = lab(test) else {
        return;
    };
    let mut p = our_initiator(&lab);
    let ping = |what: &str| {
        let out = lab.nsexec(
            "moon",
            &[
                "ping", "-n", "-q", "-c", "100", "-i", "0.01", "-W", "2", "-I", MOON_LAN, VIP,
            ],
        );
        eprintln!("moon's ping {what}: {}", out.trim());
        assert!(
            out.contains("100 packets transmitted, 100 received"),
            "{what}: {out}"
        );
    };
    ping("before the move");
    let (st, ours) = our_children(&mut p);
    assert!(ours[0].1["received"].as_u64() >= Some(100), "{st}");
    assert!(ours[0].1["sent"].as_u64() >= Some(100), "{st}");
    lose_link_a(&lab, &mut p);
    wait_settled_on_b(&lab, &mut p, 1);
    ping("after the move");
    let (st, ours) = our_children(&mut p);
    assert_eq!(st["sas"][0]["local"], format!("{PEER_B}:4500"), "{st}");
    assert!(ours[0].1["received"].as_u64() >= Some(100), "{st}");
    assert!(ours[0].1["sent"].as_u64() >= Some(100), "{st}");
    no_esp_errors(&p);
    p.quit();
}

/// The baseline of benches/dataplane_outage.sh: strongSwan on both sides (carol, MOBIKE
/// initiator with a virtual IP, in the peer namespace), the kernel's `ping -i 0.01` from
/// carol's virtual IP to moon's subnet through kernel-libipsec, the same address loss.
/// carol moves (UPDATE_SA_ADDRESSES, moon's SA on PEER_B) and the replies resume; the
/// longest time between two replies is printed next to ours and bounded by 1 s.
#[test]
fn strongswan_to_strongswan_ping_resumes_after_address_loss_move() {
    let test = "strongswan_to_strongswan_ping_resumes_after_address_loss_move";
    let Some(lab) = lab(test) else {
        return;
    };
    let locals = format!("{PEER_A},{PEER_B}");
    let remotes = format!("{MOON_A},{MOON_B}");
    lab.charon(
        "carol",
        &[
            "--role",
            "initiator",
            "--mobike",
            "yes",
            "--local",
            &locals,
            "--remote",
            &remotes,
            "--id",
            "carol@example.org",
            "--remote-id",
            "moon.example.org",
            "--ike",
            IKE,
            "--esp",
            ESP,
            "--remote-ts",
            "198.18.1.0/24",
        ],
    );
    let out = lab.swanctl_node(
        "carol",
        &["--initiate", "--child", "net", "--timeout", "20"],
    );
    assert!(out.contains("initiate completed successfully"), "{out}");
    lab.wait_node_log("carol", &format!("installing new virtual IP {VIP}"));
    let ping_out = lab.dir.join("carol-ping.txt");
    let mut ping = std::process::Command::new("ip")
        .args(["netns", "exec", &format!("{}-peer", lab.prefix)])
        .args([
            "ping", "-D", "-n", "-i", "0.01", "-W", "2", "-I", VIP, MOON_LAN,
        ])
        .stdout(std::fs::File::create(&ping_out).unwrap())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("ping");
    sleep(Duration::from_secs(1));
    let t0 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    lab.addr("peer", "flush", "eth0", None);
    lab.wait_node_log("carol", "N(UPD_SA_ADDR)");
    lab.wait_sas("moon on PEER_B", |s| {
        sa_endpoints(s).1 == format!("{PEER_B}[4500]")
    });
    sleep(Duration::from_secs(4));
    // SAFETY: kill has no memory preconditions; the pid is our own child's (ip netns exec
    // execs ping in place)
    unsafe { libc::kill(ping.id() as i32, libc::SIGINT) };
    let _ = ping.wait();
    let text = std::fs::read_to_string(&ping_out).unwrap();
    let times: Vec<f64> = text
        .lines()
        .filter(|l| l.contains(" bytes from "))
        .filter_map(|l| l.strip_prefix('[')?.split(']').next()?.parse().ok())
        .collect();
    let after = times.iter().filter(|&&t| t > t0 + 0.5).count();
    assert!(after > 100, "no replies after the move:\n{text}");
    let (gap, a) = times
        .windows(2)
        .map(|w| (w[1] - w[0], w[0]))
        .fold((0.0, 0.0), |m, x| if x.0 > m.0 { x } else { m });
    let summary = text
        .lines()
        .find(|l| l.contains("packets transmitted"))
        .unwrap_or("");
    eprintln!(
        "strongSwan-to-strongSwan ping across the move: longest gap {:.1} ms, starting {:.1} ms \
         after the flush; {summary}",
        gap * 1000.0,
        (a - t0) * 1000.0
    );
    assert!(gap < 1.0, "{text}");
}
