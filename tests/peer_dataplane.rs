//! Two `mobikectl peer` processes on loopback (127.0.0.5/.7 ↔ 127.0.0.6, unprivileged
//! ports) ping each other through their CHILD_SA: ESP in UDP on the NAT-T port, the echo
//! responder of each peer, `ping` events, and the ping going on across a MOBIKE move.

mod peer_common;

use peer_common::{free_port, Proc};

fn num(v: &serde_json::Value, k: &str) -> f64 {
    v[k].as_f64().unwrap_or_else(|| panic!("{k} in {v}"))
}

#[test]
fn two_peers_ping_each_other_through_the_child_sa_and_across_a_move() {
    let dir = tempfile::tempdir().unwrap();
    let psk = dir.path().join("psk");
    std::fs::write(&psk, "dataplane-loopback-psk-0123456789\n").unwrap();
    let psk = psk.display().to_string();
    let (port, natt) = loop {
        let (a, b) = (free_port(), free_port());
        if a != b {
            break (a.to_string(), b.to_string());
        }
    };
    let common = [
        "--psk-file",
        &psk,
        "--port",
        &port,
        "--natt-port",
        &natt,
        "--retransmit-timeout",
        "0.3",
        "--probe-timeout",
        "0.2",
        "--keepalive",
        "0",
    ];
    let mut args = vec![
        "--listen",
        "--local",
        "127.0.0.6",
        "--id",
        "moon.example.org",
        "--local-ts",
        "198.18.1.0/24",
        "--remote-ts",
        "198.18.2.0/24",
    ];
    args.extend(common);
    let mut resp = Proc::start(&args);
    resp.event("ready");
    let mut args = vec![
        "--local",
        "127.0.0.5",
        "--local",
        "127.0.0.7",
        "--remote",
        "127.0.0.6",
        "--remote-id",
        "moon.example.org",
        "--local-ts",
        "198.18.2.0/24",
        "--remote-ts",
        "198.18.1.0/24",
    ];
    args.extend(common);
    let mut init = Proc::start(&args);
    init.event("child_up");
    resp.event("child_up");

    // both ways at once, every 10 ms
    init.send("ping 198.18.1.1");
    resp.send("ping 198.18.2.1 10ms");
    for p in [&mut init, &mut resp] {
        let r = p.wait_json("a ping summary with replies", |v| {
            v["event"] == "ping" && v["state"] == "running" && v["received"].as_u64() > Some(20)
        });
        assert_eq!(r["lost"], 0, "{r}");
        assert!(num(&r, "rtt_max_ms") < 500.0, "{r}");
    }
    let r = init.wait_json("our source", |v| v["event"] == "ping");
    assert_eq!(r["src"], "198.18.2.1", "{r}");
    assert_eq!(r["dst"], "198.18.1.1", "{r}");

    // status shows the CHILD_SA's ESP counters
    init.send("status");
    let st = init.event("status");
    let esp = &st["sas"][0]["children"][0]["esp"];
    assert!(esp["received"].as_u64() > Some(20), "{st}");
    assert!(esp["sent"].as_u64() > Some(20), "{st}");
    assert_eq!(esp["integrity_failures"], 0, "{st}");
    assert_eq!(esp["replayed"], 0, "{st}");

    // MOBIKE moves the SA to 127.0.0.7; the ping goes on
    init.send("addr del 127.0.0.5");
    let m = init.event("moved");
    assert_eq!(m["new"]["local"], format!("127.0.0.7:{natt}"), "{m}");
    resp.wait_json("the responder's CHILD_SAs moved", |v| {
        v["event"] == "moved" && v["children"] == true
    });
    let before = init.wait_json("a summary after the move", |v| v["event"] == "ping")["received"]
        .as_u64()
        .unwrap();
    let after = init.wait_json("replies after the move", |v| {
        v["event"] == "ping" && v["received"].as_u64() > Some(before + 20)
    });
    init.send("ping stop");
    let fin = init.wait_json("the final numbers", |v| {
        v["event"] == "ping" && v["state"] == "stopped"
    });
    eprintln!("initiator's ping across the move: {fin}");
    assert!(num(&fin, "received") >= num(&after, "received"), "{fin}");
    assert!(num(&fin, "longest_gap_ms") > 0.0, "{fin}");
    assert!(
        fin["gap_start"].is_string() && fin["gap_end"].is_string(),
        "{fin}"
    );
    // the responder kept answering (no ESP errors on either side)
    resp.send("ping stop");
    let rfin = resp.wait_json("the responder's numbers", |v| {
        v["event"] == "ping" && v["state"] == "stopped"
    });
    assert!(num(&rfin, "received") > 40.0, "{rfin}");
    for p in [&init, &resp] {
        assert!(
            !p.seen.iter().any(|l| l.contains("\"esp_error\"")),
            "{}",
            p.seen.join("\n")
        );
    }
    // nothing covers this address: said so
    init.send("ping 203.0.113.1");
    let e = init.event("error");
    assert!(
        e["reason"].as_str().unwrap().contains("no CHILD_SA covers"),
        "{e}"
    );
}
