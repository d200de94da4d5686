//! `mobikectl peer` against itself on loopback (127.0.0.1 ↔ 127.0.0.2, unprivileged
//! ports): the binary, TOML config, command language, JSON and text events, key log and
//! pcap — without root. The strongSwan interop tests are in `interop_strongswan.rs`.

mod peer_common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use peer_common::{free_port, Proc, BIN};

#[test]
fn two_peers_on_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let d = |f: &str| dir.path().join(f).display().to_string();
    std::fs::write(dir.path().join("psk"), "loopback-test-psk-0123456789\n").unwrap();
    let (port, natt) = loop {
        let (a, b) = (free_port(), free_port());
        if a != b {
            break (a, b);
        }
    };
    let (port_s, natt_s) = (port.to_string(), natt.to_string());
    let mut resp = Proc::start(&[
        "--listen",
        "--local",
        "127.0.0.2",
        "--id",
        "moon.example.org",
        "--psk-file",
        &d("psk"),
        "--port",
        &port_s,
        "--natt-port",
        &natt_s,
        "--local-ts",
        "198.18.1.0/24",
        "--pool",
        "198.18.0.0/24",
        "--events",
        "text",
    ]);
    resp.wait("ready", |l| l.contains(" ready "));
    std::fs::write(
        dir.path().join("peer.toml"),
        format!(
            r#"
port = {port}
natt_port = {natt}
keylog = "keys.log"
pcap = "peer.pcapng"
psk_file = "psk"
id = "carol@example.org"

[connections.home]
local = "127.0.0.1"
remote = "127.0.0.2"
remote_id = "moon.example.org"
ike = "aes128-sha256-x25519"
esp = "aes128gcm16"
vip = "0.0.0.0"
remote_ts = ["198.18.1.0/24"]
"#
        ),
    )
    .unwrap();
    let mut init = Proc::start(&["--config", &d("peer.toml")]);
    let ready = init.json("ready");
    assert_eq!(ready["connections"][0], "home");
    let up = init.json("ike_up");
    assert_eq!(
        up["proposal"],
        "IKE:AES_CBC_128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/CURVE_25519"
    );
    let child = init.json("child_up");
    assert_eq!(child["vip"], "198.18.0.1");
    assert_eq!(child["ts"]["remote"][0], "198.18.1.0/24");
    let spi = up["spi_i"].as_str().unwrap().to_string();
    let line = resp.wait("text ike_up", |l| l.contains(" ike_up "));
    assert!(line.contains(&format!("spi_i={spi}")), "{line}");
    assert!(line.contains("initiator=false"), "{line}");
    resp.wait("text child_up", |l| {
        l.contains(" child_up ") && l.contains("vip=198.18.0.1")
    });

    // commands
    init.send("dpd");
    init.wait("DPD response", |l| {
        l.contains("\"received\"") && l.contains("INFORMATIONAL") && l.contains("\"response\":true")
    });
    init.send("nonsense");
    assert!(init.json("error")["reason"]
        .as_str()
        .unwrap()
        .contains("unknown command"));
    init.send("down #99");
    assert!(init.json("error")["reason"]
        .as_str()
        .unwrap()
        .contains("#99"));
    init.send("rekey child");
    let r = init.json("rekeyed");
    assert_eq!(r["what"], "child");
    assert_eq!(r["old_spis"]["in"], child["spis"]["in"]);
    resp.wait("text rekeyed child", |l| {
        l.contains(" rekeyed ") && l.contains("what=child")
    });
    init.send("rekey ike");
    let r = init.json("rekeyed");
    assert_eq!(r["what"], "ike");
    assert_eq!(r["old_spis"]["i"], up["spi_i"]);
    resp.wait("text rekeyed ike", |l| {
        l.contains(" rekeyed ") && l.contains("what=ike")
    });
    init.send("status");
    // the old IKE SA may still be listed (Deleting) until its Delete is answered
    let st = init.json("status");
    assert!(
        st["sas"]
            .as_array()
            .unwrap()
            .iter()
            .any(|sa| sa["state"] == "Established"),
        "{st}"
    );
    resp.send("status");
    resp.wait("text status", |l| {
        l.contains(" status ") && l.contains("Established")
    });
    resp.send("down");
    init.json("ike_down");
    resp.wait("text ike_down", |l| l.contains(" ike_down "));
    init.send("up home");
    init.json("ike_up");
    init.send("quit");
    init.json("exit");
    assert_eq!(init.exit_status(), 0);
    resp.wait("responder saw the delete", |l| l.contains(" ike_down "));
    assert_eq!(resp.exit_status(), 0); // EOF on stdin = quit

    // the key log decrypts the initiator's own capture (three IKE SAs: one rekeyed)
    let keys = std::fs::read_to_string(dir.path().join("keys.log")).unwrap();
    assert!(keys.starts_with("# mobikectl-keylog v1"));
    assert_eq!(keys.lines().filter(|l| !l.starts_with('#')).count(), 3);
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(dir.path().join("keys.log"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    let out = Command::new(BIN)
        .args(["decode", "--udp-port", &port_s, "--natt-port", &natt_s])
        .args(["--keys", &d("keys.log")])
        .arg(d("peer.pcapng"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sk: Vec<&str> = text
        .lines()
        .filter(|l| l.trim_start().starts_with("SK "))
        .collect();
    assert!(sk.len() >= 8, "{text}");
    assert!(sk.iter().all(|l| l.contains("integrity=ok")), "{text}");
}

#[test]
fn configuration_errors_exit_2_with_a_hint() {
    let out = Command::new(BIN)
        .args(["peer", "--remote", "127.0.0.1"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--psk-file"), "{err}");
    let out = Command::new(BIN)
        .args(["peer", "--listen", "--psk", "x"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "no PSK on the command line");
}

#[test]
fn unanswered_ike_sa_init_retransmits_on_schedule_then_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let psk = dir.path().join("psk");
    std::fs::write(&psk, "loopback-test-psk-0123456789\n").unwrap();
    let (port, natt) = loop {
        let (a, b) = (free_port(), free_port());
        if a != b {
            break (a, b);
        }
    };
    let (port_s, natt_s) = (port.to_string(), natt.to_string());
    // nobody listens on 127.0.0.3
    let mut p = Proc::start(&[
        "--local",
        "127.0.0.1",
        "--remote",
        "127.0.0.3",
        "--psk-file",
        psk.to_str().unwrap(),
        "--port",
        &port_s,
        "--natt-port",
        &natt_s,
        "--retransmit-timeout",
        "0.2",
        "--retransmit-base",
        "1.5",
        "--retransmit-tries",
        "2",
        "--keepalive",
        "0",
    ]);
    let start = Instant::now();
    let r1 = p.json("retransmit");
    assert_eq!(r1["attempt"], 1, "{r1}");
    assert_eq!(r1["exchange"], "IKE_SA_INIT", "{r1}");
    let r2 = p.json("retransmit");
    assert_eq!(r2["attempt"], 2, "{r2}");
    let t = p.json("timeout");
    assert_eq!(t["exchange"], "IKE_SA_INIT", "{t}");
    // 0.2 + 0.3 + 0.45 s
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(900), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    let down = p.json("ike_down");
    assert!(
        down["reason"]
            .as_str()
            .unwrap()
            .contains("after 2 retransmissions"),
        "{down}"
    );
    assert!(!p.seen.iter().any(|l| l.contains("\"attempt\":3")));
    p.send("quit");
    assert_eq!(p.exit_status(), 0);
}

/// MOBIKE between two address sets on loopback, driven by commands: an address goes
/// away, NAT is faked, paths are probed, a crafted notify is sent and a path is made a
/// black hole.
#[test]
fn mobike_on_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let psk = dir.path().join("psk");
    std::fs::write(&psk, "loopback-test-psk-0123456789\n").unwrap();
    let psk = psk.display().to_string();
    let (port, natt) = loop {
        let (a, b) = (free_port(), free_port());
        if a != b {
            break (a, b);
        }
    };
    let (port_s, natt_s) = (port.to_string(), natt.to_string());
    let common = [
        "--psk-file",
        &psk,
        "--port",
        &port_s,
        "--natt-port",
        &natt_s,
        "--retransmit-timeout",
        "0.3",
        "--retransmit-tries",
        "3",
        "--probe-timeout",
        "0.2",
        "--keepalive",
        "0",
    ];
    let mut args = vec![
        "--listen",
        "--local",
        "127.0.0.2",
        "--local",
        "127.0.0.3",
        "--id",
        "moon.example.org",
        "--local-ts",
        "198.18.1.0/24",
        "--remote-ts",
        "198.18.2.0/24",
    ];
    args.extend(common);
    let mut resp = Proc::start(&args);
    let ready = resp.json("ready");
    assert_eq!(ready["listening"].as_array().unwrap().len(), 4, "{ready}");
    let mut args = vec![
        "--local",
        "127.0.0.1",
        "--local",
        "127.0.0.4",
        "--remote",
        "127.0.0.2",
        "--remote",
        "127.0.0.3",
        "--remote-id",
        "moon.example.org",
        "--local-ts",
        "198.18.2.0/24",
        "--remote-ts",
        "198.18.1.0/24",
    ];
    args.extend(common);
    let mut init = Proc::start(&args);
    let ready = init.json("ready");
    assert_eq!(ready["connections"].as_array().unwrap().len(), 1, "{ready}");
    let up = init.json("ike_up");
    assert_eq!(up["local"], format!("127.0.0.1:{natt}"), "{up}");
    init.json("child_up");
    resp.json("child_up");

    // help comes from the command table
    init.send("help");
    let h = init.json("help");
    assert!(h["commands"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["command"] == "addr del ADDR | --os ADDR/PREFIX dev IFACE"));
    // a bad argument: what was wrong and the usage
    init.send("move nowhere");
    let e = init.json("error");
    let reason = e["reason"].as_str().unwrap();
    assert!(reason.contains("not an IP address"), "{e}");
    assert!(reason.contains("usage: move LOCAL [REMOTE] [SA]"), "{e}");

    // our address goes away: the SA moves to 127.0.0.4 and tells the responder
    init.send("addr del 127.0.0.1");
    let la = init.json("local_addrs");
    assert_eq!(la["addrs"], serde_json::json!(["127.0.0.4"]), "{la}");
    let m = init.json("moved");
    assert_eq!(m["cause"], "address_lost", "{m}");
    assert_eq!(m["new"]["local"], format!("127.0.0.4:{natt}"), "{m}");
    let rm = resp.json("moved");
    assert_eq!(rm["cause"], "update_received", "{rm}");
    assert_eq!(rm["new"]["remote"], format!("127.0.0.4:{natt}"), "{rm}");
    init.send("status");
    let st = init.json("status");
    let sa = &st["sas"][0];
    assert_eq!(sa["local"], format!("127.0.0.4:{natt}"), "{st}");
    assert_eq!(sa["mobike"], true, "{st}");
    let id = sa["sa"].as_str().unwrap().to_string();
    resp.send("status");
    let st = resp.json("status");
    assert_eq!(st["sas"][0]["remote"], format!("127.0.0.4:{natt}"), "{st}");

    // a faked NAT in the next UPDATE_SA_ADDRESSES
    init.send("nat fake on");
    init.send("update");
    init.wait("UPDATE_SA_ADDRESSES sent", |l| {
        l.contains("\"sent\"") && l.contains("UPDATE_SA_ADDRESSES")
    });
    resp.wait("NAT seen by the responder", |l| {
        l.contains("\"event\":\"nat\"") && l.contains("\"remote\":true")
    });
    init.send("nat fake off");

    // probes on every path
    init.send(&format!("probe {id}"));
    let p = init.wait("a path answers", |l| {
        l.contains("\"event\":\"path\"") && l.contains("\"state\":\"ok\"")
    });
    assert!(p.contains("rtt_ms"), "{p}");

    // a crafted notify
    init.send(&format!("send {id} COOKIE2=0102030405060708 40969"));
    let s = init.wait("crafted request", |l| {
        l.contains("\"sent\"") && l.contains("\"crafted\":true")
    });
    assert!(s.contains("COOKIE2"), "{s}");
    init.send("send nope COOKIE2");
    assert!(init.json("error")["reason"]
        .as_str()
        .unwrap()
        .contains("usage: send SA NOTIFY[=HEXDATA] ..."));

    // the current path becomes a black hole: requests go unanswered, another path is
    // probed and taken
    init.send("status");
    let st = init.json("status");
    let remote_ip = st["sas"][0]["remote"]
        .as_str()
        .unwrap()
        .rsplit_once(':')
        .unwrap()
        .0
        .to_string();
    init.send(&format!("drop 127.0.0.4 {remote_ip} on"));
    let f = init.json("filter");
    assert_eq!(f["on"], true, "{f}");
    init.send("dpd");
    init.json("retransmit");
    let m = init.json("moved");
    assert_eq!(m["cause"], "path_failed", "{m}");
    assert_ne!(
        m["new"]["remote"],
        format!("{remote_ip}:{natt}"),
        "moved off the dropped pair: {m}"
    );
    init.send(&format!("drop 127.0.0.4 {remote_ip} off"));
    init.json("filter");

    // the address comes back: announced to the responder
    init.send("addr add 127.0.0.1");
    let la = init.json("local_addrs");
    assert_eq!(
        la["addrs"],
        serde_json::json!(["127.0.0.4", "127.0.0.1"]),
        "{la}"
    );
    assert!(la["listening"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!(format!("127.0.0.1:{natt}"))));
    resp.wait("the responder learns the address", |l| {
        l.contains("\"event\":\"addresses\"") && l.contains("127.0.0.1")
    });
    init.send("addr add 127.0.0.1");
    assert!(init.json("error")["reason"]
        .as_str()
        .unwrap()
        .contains("already"));

    // CHILD_SAs by command
    init.send("child create");
    let c = init.json("child_up");
    let spi = c["spis"]["in"].as_str().unwrap().to_string();
    init.send(&format!("child down {spi}"));
    let d = init.json("child_down");
    assert_eq!(d["spis"]["in"], spi.as_str(), "{d}");

    // total loss: requests go unanswered until it ends
    init.send("loss 100");
    assert_eq!(init.json("filter")["percent"], 100);
    init.send("dpd");
    init.json("retransmit");
    init.send("loss 0");
    init.json("filter");
    init.wait("DPD answered after the loss", |l| {
        l.contains("\"received\"") && l.contains("\"response\":true")
    });

    // a NAT rebinding: we send from a fresh port
    init.send("nat rebind");
    init.send("dpd");
    // (an UPDATE_SA_ADDRESSES from a move after the loss may still go out before)
    let old_port = format!(":{natt}\"");
    let sent = init.wait("DPD from the new port", |l| {
        l.contains("\"event\":\"sent\"")
            && l.contains("INFORMATIONAL")
            && !l.contains(&format!("\"local\":\"127.0.0.4{old_port}"))
            && !l.contains(&format!("\"local\":\"127.0.0.1{old_port}"))
    });
    let v: serde_json::Value = serde_json::from_str(&sent).unwrap();
    let local = v["local"].as_str().unwrap();
    init.wait("DPD answered on the new port", |l| {
        l.contains("\"received\"") && l.contains("\"response\":true") && l.contains(local)
    });

    init.send("quit");
    init.json("exit");
    assert_eq!(init.exit_status(), 0);
    assert_eq!(resp.exit_status(), 0);
}

/// `--follow-os`: the peer follows the addresses of its network namespace (rtnetlink).
/// Needs root (a network namespace of its own, made with unshare(1)); skipped otherwise.
#[test]
fn follow_os_addresses_in_a_namespace() {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let tools = ["unshare", "nsenter", "ip"].iter().all(|t| {
        Command::new(t)
            .arg("--help")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    });
    if !root || !tools {
        eprintln!("skipping follow_os test: needs root and unshare, nsenter, ip");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let psk = dir.path().join("psk");
    std::fs::write(&psk, "loopback-test-psk-0123456789\n").unwrap();
    let mut cmd = Command::new("unshare");
    cmd.args([
        "-n",
        BIN,
        "peer",
        "--listen",
        "--follow-os",
        "--id",
        "moon.example.org",
    ])
    .arg("--psk-file")
    .arg(&psk)
    .args(["--port", "1500", "--natt-port", "14500"]);
    let mut p = Proc::start_cmd(cmd);
    let ready = p.json("ready");
    assert_eq!(ready["listening"], serde_json::json!([]), "{ready}");
    let pid = p.child.id().to_string();
    let ns = |args: &[&str]| {
        let st = Command::new("nsenter")
            .args(["-t", &pid, "-n", "ip"])
            .args(args)
            .status()
            .unwrap();
        assert!(st.success(), "ip {args:?}");
    };
    ns(&["link", "set", "lo", "up"]); // 127.0.0.1 and ::1: loopback, not followed
    ns(&["addr", "add", "192.0.2.77/32", "dev", "lo"]);
    let a = p.wait("192.0.2.77 added", |l| {
        l.contains("\"local_addrs\"") && l.contains("\"addr\":\"192.0.2.77\"")
    });
    assert!(
        a.contains("\"change\":\"add\"") && a.contains("\"by\":\"os\""),
        "{a}"
    );
    assert!(a.contains("192.0.2.77:1500"), "bound: {a}");
    ns(&["addr", "del", "192.0.2.77/32", "dev", "lo"]);
    let d = p.wait("192.0.2.77 removed", |l| {
        l.contains("\"change\":\"del\"") && l.contains("\"addr\":\"192.0.2.77\"")
    });
    assert!(!d.contains("192.0.2.77:1500"), "closed: {d}");
    assert!(!p.seen.iter().any(|l| l.contains("\"addr\":\"127.0.0.1\"")));
    p.send("quit");
    assert_eq!(p.exit_status(), 0);
}

/// Two distinct free ports (IKE, NAT-T).
fn two_ports() -> (String, String) {
    loop {
        let (a, b) = (free_port(), free_port());
        if a != b {
            break (a.to_string(), b.to_string());
        }
    }
}

fn signal(p: &Proc, sig: libc::c_int) {
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(p.child.id() as libc::pid_t, sig) }, 0);
}

/// `mobikectl peer --listen ... &` in a script (stdin at /dev/null) keeps running until a
/// signal; SIGTERM then deletes its IKE SAs at the peer before it exits; SIGINT on the
/// initiator the same.
#[test]
fn background_responder_runs_until_a_signal_and_deletes_its_sas() {
    let dir = tempfile::tempdir().unwrap();
    let psk = dir.path().join("psk").display().to_string();
    std::fs::write(&psk, "loopback-test-psk-0123456789\n").unwrap();
    let (port, natt) = two_ports();
    let common = [
        "--psk-file",
        &psk,
        "--port",
        &port,
        "--natt-port",
        &natt,
        "--events",
        "json",
    ];
    let mut cmd = Command::new(BIN);
    cmd.arg("peer")
        .args([
            "--listen",
            "--local",
            "127.0.0.2",
            "--id",
            "moon.example.org",
        ])
        .args(common)
        .args(["--local-ts", "198.18.1.0/24"]);
    let mut resp = Proc::start_cmd_with_stdin(cmd, Stdio::null());
    let ready = resp.json("ready");
    assert!(
        ready["commands"].as_str().unwrap().starts_with("none"),
        "{ready}"
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        resp.child.try_wait().unwrap().is_none(),
        "still running: {:?}",
        resp.seen
    );

    let mut init = Proc::start(&[
        "--local",
        "127.0.0.1",
        "--remote",
        "127.0.0.2",
        "--id",
        "carol@example.org",
        "--remote-id",
        "moon.example.org",
        "--remote-ts",
        "198.18.1.0/24",
        "--psk-file",
        &psk,
        "--port",
        &port,
        "--natt-port",
        &natt,
        "--events",
        "json",
    ]);
    init.json("child_up");
    resp.json("child_up");
    signal(&resp, libc::SIGTERM);
    let s = resp.json("signal");
    assert_eq!(s["signal"], "SIGTERM");
    // the initiator hears the Delete: its SA ends as deleted by the peer
    let down = init.json("ike_down");
    assert!(down["reason"].as_str().unwrap().contains("peer"), "{down}");
    resp.json("exit");
    assert_eq!(resp.exit_status(), 0);

    // SIGINT on an initiator with nothing left: it exits at once, cleanly
    signal(&init, libc::SIGINT);
    assert_eq!(init.json("signal")["signal"], "SIGINT");
    init.json("exit");
    assert_eq!(init.exit_status(), 0);
}

/// The gateway dies (its port becomes unreachable): the kernel's ICMP port unreachable
/// for our DPD reaches the engine as a lower-layer hint — reported, checked, never a move
/// by itself (RFC 4555 §3.5).
#[test]
fn icmp_port_unreachable_becomes_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let psk = dir.path().join("psk").display().to_string();
    std::fs::write(&psk, "loopback-test-psk-0123456789\n").unwrap();
    let (port, natt) = two_ports();
    let mut resp = Proc::start(&[
        "--listen",
        "--local",
        "127.0.0.2",
        "--id",
        "moon.example.org",
        "--local-ts",
        "198.18.1.0/24",
        "--psk-file",
        &psk,
        "--port",
        &port,
        "--natt-port",
        &natt,
        "--events",
        "json",
    ]);
    resp.json("ready");
    let mut init = Proc::start(&[
        "--local",
        "127.0.0.1",
        "--remote",
        "127.0.0.2",
        "--id",
        "carol@example.org",
        "--remote-id",
        "moon.example.org",
        "--remote-ts",
        "198.18.1.0/24",
        "--psk-file",
        &psk,
        "--port",
        &port,
        "--natt-port",
        &natt,
        "--events",
        "json",
    ]);
    init.json("child_up");
    resp.child.kill().unwrap();
    resp.child.wait().unwrap();
    init.send("dpd");
    let hint = init.json("hint");
    assert_eq!(hint["hint"], "unreachable", "{hint}");
    assert!(hint["path"].to_string().contains("127.0.0.2"), "{hint}");
    // a hint is no reason to leave: the SA is still there
    init.send("status");
    let status = init.json("status");
    assert!(status.to_string().contains("Established"), "{status}");
}

#[test]
fn the_live_tui_without_a_terminal_is_the_peer_printing_one_line_per_event() {
    let dir = tempfile::tempdir().unwrap();
    let psk = dir.path().join("psk");
    std::fs::write(&psk, "loopback-test-psk-0123456789\n").unwrap();
    let (port, natt) = two_ports();
    // stdout is a pipe here: `tui -- OPTIONS` runs the peer itself, commands on stdin
    let mut cmd = std::process::Command::new(BIN);
    cmd.args(["tui", "--", "--local", "127.0.0.1", "--remote", "127.0.0.3"])
        .args(["--psk-file", psk.to_str().unwrap(), "--port", &port])
        .args(["--natt-port", &natt, "--retransmit-timeout", "0.2"])
        .args(["--retransmit-tries", "1", "--events", "json"]);
    let mut p = Proc::start_cmd(cmd);
    let r = p.json("retransmit");
    assert_eq!(r["exchange"], "IKE_SA_INIT", "{r}");
    p.send("status");
    p.json("status");
    p.send("quit");
    assert_eq!(p.exit_status(), 0);
    assert!(
        p.seen.iter().all(|l| l.starts_with('{')),
        "one JSON line per event, no screen: {:?}",
        p.seen
    );
}
