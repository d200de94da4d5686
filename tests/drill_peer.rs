//! `mobikectl drill FILE -- PEER-OPTIONS` against a real gateway: here a responder
//! `mobikectl peer --listen` on loopback (127.0.0.2, 127.0.0.3, unprivileged ports)
//! started by the test, the drill's peer on 127.0.0.1 and 127.0.0.4. No root needed.
use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_mobikectl");

/// A background responder and its event lines.
struct Gateway {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Gateway {
    fn start(common: &[String]) -> Gateway {
        let mut child = Command::new(BIN)
            .args([
                "peer",
                "--listen",
                "--local",
                "127.0.0.2",
                "--local",
                "127.0.0.3",
            ])
            .args(["--id", "moon.example.org"])
            .args([
                "--local-ts",
                "198.18.1.0/24",
                "--remote-ts",
                "198.18.2.0/24",
            ])
            .args(common)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        let mut gw = Gateway {
            child,
            lines,
            seen: vec![],
        };
        assert!(gw.saw("\"event\":\"ready\"", Duration::from_secs(10)));
        gw
    }

    /// Has a line containing `what` come, within `limit`?
    fn saw(&mut self, what: &str, limit: Duration) -> bool {
        let end = Instant::now() + limit;
        loop {
            if self.seen.iter().any(|l| l.contains(what)) {
                return true;
            }
            match self
                .lines
                .recv_timeout(end.saturating_duration_since(Instant::now()))
            {
                Ok(l) => self.seen.push(l),
                Err(_) => return false,
            }
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_ports() -> (u16, u16) {
    let port = || {
        UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    loop {
        let (a, b) = (port(), port());
        if a != b {
            return (a, b);
        }
    }
}

/// Options both peers share (PSK, ports, quick timers).
fn common_options(dir: &Path) -> Vec<String> {
    let psk = dir.join("psk");
    std::fs::write(&psk, "loopback-drill-psk-0123456789\n").unwrap();
    let (port, natt) = free_ports();
    [
        "--psk-file",
        &psk.display().to_string(),
        "--port",
        &port.to_string(),
        "--natt-port",
        &natt.to_string(),
        "--retransmit-timeout",
        "0.3",
        "--retransmit-tries",
        "3",
        "--probe-timeout",
        "0.2",
        "--keepalive",
        "0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn initiator_options(common: &[String]) -> Vec<String> {
    let mut v: Vec<String> = [
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
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.extend(common.iter().cloned());
    v
}

fn drill(file: &Path, extra: &[&str], peer: &[String]) -> Output {
    Command::new(BIN)
        .arg("drill")
        .arg(file)
        .args(extra)
        .arg("--")
        .args(peer)
        .output()
        .unwrap()
}

const ADDRESS_LOSS: &str = "\
# address loss against a real gateway
up
wait child_up within 5s
expect sa established
expect path 127.0.0.1 127.0.0.2
mark lost
addr del 127.0.0.1
wait moved cause=address_lost new.local=127.0.0.4 within 5s
measure move_after_loss from lost to moved cause=address_lost
expect path 127.0.0.4 127.0.0.2
peer: expect no ike_down
";

#[test]
fn a_drill_drives_a_real_peer_against_a_gateway_on_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let common = common_options(dir.path());
    let mut gateway = Gateway::start(&common);
    let file = dir.path().join("loss.drill");
    std::fs::write(&file, ADDRESS_LOSS).unwrap();

    let out = drill(&file, &["--report", "json"], &initiator_options(&common));
    let report = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{report}");
    let v: serde_json::Value = serde_json::from_str(&report).unwrap();
    let lines: Vec<u64> = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["line"].as_u64())
        .collect();
    assert_eq!(lines, (2..=11).collect::<Vec<u64>>(), "{v}");
    let at: Vec<f64> = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["at_ms"].as_f64())
        .collect();
    assert!(at.windows(2).all(|w| w[0] <= w[1]), "monotonic: {at:?}");
    let m = &v["measurements"][0];
    assert_eq!(m["name"], "move_after_loss", "{v}");
    assert!(m["ms"].as_f64().is_some_and(|ms| ms < 5000.0), "{v}");
    // the gateway followed the move, and the drill's peer deleted its SA at the end
    assert!(gateway.saw("\"cause\":\"update_received\"", Duration::from_secs(5)));
    assert!(gateway.saw("deleted by peer", Duration::from_secs(5)));

    // the same against a failing expectation: exit 1, which line, what was seen
    let file = dir.path().join("false.drill");
    std::fs::write(
        &file,
        "up\nwait child_up within 5s\nexpect path 127.0.0.4 127.0.0.3\nexpect sa established\n",
    )
    .unwrap();
    let out = drill(&file, &[], &initiator_options(&common));
    let report = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert!(report.contains("FAILED at"), "{report}");
    assert!(report.contains("false.drill:3"), "{report}");
    assert!(
        report.contains("127.0.0.1:"),
        "what was seen instead: {report}"
    );
}

#[test]
fn a_drill_drives_a_peer_configured_by_a_toml_file() {
    let dir = tempfile::tempdir().unwrap();
    let common = common_options(dir.path());
    let _gateway = Gateway::start(&common);
    let option = |name: &str| {
        let i = common.iter().position(|o| o == name).unwrap();
        common[i + 1].clone()
    };
    let config = dir.path().join("peer.toml");
    std::fs::write(
        &config,
        format!(
            "events = \"text\"\npsk_file = \"psk\"\nport = {}\nnatt_port = {}\n\
             keepalive = 0\nretransmit_timeout = 0.3\nretransmit_tries = 3\n\
             probe_timeout = 0.2\n\n[connections.gateway]\n\
             local = [\"127.0.0.1\", \"127.0.0.4\"]\n\
             remote = [\"127.0.0.2\", \"127.0.0.3\"]\n\
             remote_id = \"moon.example.org\"\nlocal_ts = [\"198.18.2.0/24\"]\n\
             remote_ts = [\"198.18.1.0/24\"]\n",
            option("--port"),
            option("--natt-port")
        ),
    )
    .unwrap();
    let file = dir.path().join("loss.drill");
    std::fs::write(&file, ADDRESS_LOSS).unwrap();
    let out = Command::new(BIN)
        .arg("drill")
        .arg(&file)
        .arg("--peer-config")
        .arg(&config)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{report}");
    assert!(
        report.contains("measure move_after_loss (line 9)"),
        "{report}"
    );
}

#[test]
fn a_signal_stops_the_drill_deletes_the_sas_and_prints_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let common = common_options(dir.path());
    let mut gateway = Gateway::start(&common);
    let file = dir.path().join("long.drill");
    std::fs::write(
        &file,
        "up\nwait child_up within 5s\nmark t\nsleep 30s\nwait moved within 30s\n",
    )
    .unwrap();
    let child = Command::new(BIN)
        .arg("drill")
        .arg(&file)
        .args(["--report", "json", "--"])
        .args(initiator_options(&common))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(gateway.saw("\"event\":\"child_up\"", Duration::from_secs(10)));
    std::thread::sleep(Duration::from_millis(300));
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: signalling the child we started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let started = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(128 + libc::SIGTERM));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["stopped"], "interrupted by SIGTERM", "{v}");
    assert_eq!(
        v["exit_code"],
        128 + libc::SIGTERM,
        "the report agrees with the exit status"
    );
    assert!(v["steps"].as_array().unwrap().len() >= 3, "{v}");
    assert!(gateway.saw("deleted by peer", Duration::from_secs(5)));
}

#[test]
fn configuration_errors_exit_2_and_start_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("d.drill");
    std::fs::write(&file, "up\nwait child_up within 1s\n").unwrap();
    // no gateway given
    let out = Command::new(BIN).arg("drill").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--peer-config"));
    // the peer refuses its options
    let out = drill(&file, &[], &["--remote".into(), "not-an-address".into()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("exited before it was ready"));
    // the drill names a node the peer target does not have: refused before any peer
    std::fs::write(&file, "responder: addr del 127.0.0.10\n").unwrap();
    let out = drill(&file, &[], &["--remote".into(), "127.0.0.2".into()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown node 'responder'"));
    // --events is the drill's
    std::fs::write(&file, "up\n").unwrap();
    let out = drill(&file, &[], &["--events".into(), "text".into()]);
    assert_eq!(out.status.code(), Some(2));
}
