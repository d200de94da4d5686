//! End-to-end tests of `mobikectl decode`: the binary on real and synthetic captures.
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn testdata(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(rel)
        .display()
        .to_string()
}

fn mobikectl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mobikectl"))
        .args(args)
        .output()
        .expect("run mobikectl")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json_lines(o: &Output) -> Vec<Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

const MOON: &str = "strongswan-move/cap-moon.pcap";

#[test]
fn json_lines_follow_the_documented_schema() {
    let out = mobikectl(&["decode", "--format", "json", &testdata(MOON)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let msgs = json_lines(&out);
    assert_eq!(msgs.len(), 20);
    for (i, m) in msgs.iter().enumerate() {
        assert_eq!(m["frame"], i as u64 + 1);
        let time = m["time"].as_str().unwrap();
        assert_eq!(time.len(), "2026-11-23T10:11:28.491855Z".len(), "{time}");
        assert!(
            time.starts_with("2026-11-23T10:11:") && time.ends_with('Z'),
            "{time}"
        );
        for key in ["src", "dst", "exchange"] {
            assert!(m[key].is_string(), "{key} in {m}");
        }
        for key in ["sport", "dport", "exchange_type", "message_id"] {
            assert!(m[key].is_u64(), "{key} in {m}");
        }
        for key in ["initiator", "response"] {
            assert!(m[key].is_boolean(), "{key} in {m}");
        }
        for key in ["spi_i", "spi_r"] {
            let spi = m[key].as_str().unwrap();
            assert!(
                spi.len() == 16 && spi.chars().all(|c| c.is_ascii_hexdigit()),
                "{spi}"
            );
        }
        for p in m["payloads"].as_array().unwrap() {
            assert!(
                p["type"].is_u64() && p["critical"].is_boolean() && p.get("name").is_some(),
                "{p}"
            );
        }
    }
    let first = &msgs[0];
    assert_eq!(first["src"], "192.0.2.10");
    assert_eq!(first["sport"], 500);
    assert_eq!(first["transport"], "udp");
    assert_eq!(first["exchange"], "IKE_SA_INIT");
    assert_eq!(first["spi_i"], "ade3a663cde3f4e0");
    assert_eq!(first["spi_r"], "0000000000000000");
    assert_eq!(
        (first["initiator"].as_bool(), first["response"].as_bool()),
        (Some(true), Some(false))
    );
    let names: Vec<&str> = first["payloads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["SA", "KE", "No", "N", "N", "N", "N", "N"]);
    assert_eq!(first["payloads"][3]["notify"], "NAT_DETECTION_SOURCE_IP");
    assert_eq!(
        first["payloads"][3]["hash"],
        "6c3ca20488fc33926c6c37a8dbcde09ca438019d"
    );
    // The path probe: the same INFORMATIONAL (mid 2) went to both of moon's addresses.
    assert_eq!(msgs[6]["dst"], "203.0.113.2");
    assert_eq!(msgs[6]["message_id"], 2);
    assert_eq!(msgs[6]["transport"], "udp-encap");
    let sk = &msgs[2]["payloads"][0];
    assert_eq!(
        (sk["name"].as_str(), sk["next_payload"].as_u64()),
        (Some("SK"), Some(35))
    );
}

#[test]
fn mobike_notifies_are_typed_in_json() {
    let out = mobikectl(&["decode", "-f", "json", &testdata("edge/mobike-plain.pcap")]);
    // Frame 6 carries two malformed notifies: reported, counted in the exit status, not dropped.
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("frame 6: 2 malformed notify payload(s)"),
        "{}",
        stderr(&out)
    );
    let msgs = json_lines(&out);
    assert_eq!(msgs.len(), 6);
    let n = |m: usize, p: usize| msgs[m]["payloads"][p].clone();
    assert_eq!(n(0, 0)["notify"], "UPDATE_SA_ADDRESSES");
    assert_eq!(n(0, 3)["notify_type"], 16401);
    assert_eq!(n(0, 3)["cookie"], "c2".repeat(16));
    assert_eq!(
        n(1, 2)["cookie"],
        "c2".repeat(16),
        "response echoes COOKIE2"
    );
    assert_eq!(n(2, 0)["address"], "192.0.2.10");
    assert_eq!(n(2, 1)["address"], "2001:db8::a");
    assert_eq!(n(2, 2)["src_address"], "198.51.100.10");
    assert_eq!(n(2, 2)["dst_port"], 4500);
    assert_eq!(n(2, 3)["dst_address"], "2001:db8::cb00:7101");
    assert_eq!(n(3, 0)["notify"], "UNACCEPTABLE_ADDRESSES");
    assert_eq!(n(3, 1)["notify"], "UNEXPECTED_NAT_DETECTED");
    assert_eq!(n(4, 0)["notify"], "MOBIKE_SUPPORTED");
    assert_eq!(
        (n(4, 1)["type"].as_u64(), n(4, 1)["critical"].as_bool()),
        (Some(200), Some(true))
    );
    assert!(
        n(5, 0)["malformed"].as_str().unwrap().contains("offset 36"),
        "{}",
        n(5, 0)
    );
    assert_eq!(n(5, 0)["data"], "c000020a63");
    assert!(
        n(5, 1)["malformed"].as_str().unwrap().contains("8..64"),
        "{}",
        n(5, 1)
    );
}

#[test]
fn text_output_has_a_header_line_and_a_payload_tree() {
    let out = mobikectl(&["decode", &testdata(MOON)]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "frame 1 2026-11-23T10:11:28.491855Z 192.0.2.10:500 -> 203.0.113.1:500 udp IKE_SA_INIT mid=0 \
         initiator request spi_i=ade3a663cde3f4e0 spi_r=0000000000000000"
    );
    assert!(
        text.contains("\n          type=ENCR id=ENCR_AES_CBC attributes=[Key Length=128]\n"),
        "{text}"
    );
    assert!(text.contains(
        "\n  N(NAT_DETECTION_SOURCE_IP) hash=6c3ca20488fc33926c6c37a8dbcde09ca438019d\n"
    ));
    assert_eq!(text.lines().filter(|l| l.starts_with("frame ")).count(), 20);

    let hex = stdout(&mobikectl(&["decode", "--hex", &testdata(MOON)]));
    // The SA payload of frame 1 starts with its generic header: next 34 (KE), length 48.
    assert!(
        hex.contains("\n      0000  22 00 00 30 00 00 00 2c"),
        "{hex}"
    );
}

#[test]
fn filters_select_by_exchange_message_id_address_and_spi() {
    let frames = |filters: &[&str]| -> Vec<u64> {
        let mut args = vec!["decode", "-f", "json"];
        for f in filters {
            args.extend(["--filter", f]);
        }
        let path = testdata(MOON);
        args.push(&path);
        let out = mobikectl(&args);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        json_lines(&out)
            .iter()
            .map(|m| m["frame"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(frames(&["exchange=IKE_SA_INIT"]), [1, 2]);
    assert_eq!(frames(&["exchange=create_child_sa"]), [11, 12]);
    assert_eq!(frames(&["mid=2"]), [6, 7, 8]);
    assert_eq!(frames(&["mid=2", "addr=203.0.113.2"]), [7]);
    assert_eq!(
        frames(&["exchange=IKE_AUTH", "exchange=IKE_SA_INIT"]),
        [1, 2, 3, 4]
    );
    assert_eq!(
        frames(&["spi=85c30315a9c141c8"]).len(),
        19,
        "all but the first request"
    );
    assert!(frames(&["spi=1"]).is_empty());

    let bad = mobikectl(&["decode", "--filter", "port=500", &testdata(MOON)]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("unknown key 'port'"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn table_summarises_sas_exchanges_and_esp() {
    let out = mobikectl(&["decode", "--format", "table", &testdata(MOON)]);
    assert_eq!(out.status.code(), Some(0));
    let t = stdout(&out);
    assert!(
        t.contains("IKE SAs") && t.contains("ade3a663cde3f4e0") && t.contains("85c30315a9c141c8"),
        "{t}"
    );
    assert!(t.contains("INFORMATIONAL ×14"), "{t}");
    assert!(t.contains("Exchanges"), "{t}");
    let natt = stdout(&mobikectl(&[
        "decode",
        "-f",
        "table",
        &testdata("edge/natt.pcap"),
    ]));
    assert!(
        natt.contains("c0ffee01") && natt.contains("NAT-T keepalives: 1"),
        "{natt}"
    );
}

#[test]
fn bad_input_is_reported_per_packet_and_decoding_goes_on() {
    let out = mobikectl(&["decode", &testdata("edge/not-ike.pcap")]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    for expected in [
        "frame 1: malformed: not IKE",
        "frame 2: info: IKEv1",
        "frame 3: malformed: UDP length",
        "frame 6: warning: 4 bytes follow",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in\n{err}");
    }
    // The good messages around the bad ones are decoded.
    let text = stdout(&out);
    assert!(
        text.contains("frame 6 ") && text.contains("frame 7 "),
        "{text}"
    );

    let cut = mobikectl(&["decode", "-f", "json", &testdata("edge/snaplen.pcap")]);
    assert_eq!(cut.status.code(), Some(1));
    let msgs = json_lines(&cut);
    assert_eq!(msgs.len(), 1);
    assert_eq!(
        msgs[0]["exchange"], "IKE_SA_INIT",
        "a cut message still shows its header"
    );
    assert!(msgs[0]["error"].is_string());

    let truncated = mobikectl(&["decode", &testdata("edge/truncated.pcap")]);
    assert_eq!(truncated.status.code(), Some(1));
    assert!(
        stderr(&truncated).contains("malformed"),
        "{}",
        stderr(&truncated)
    );
    assert!(
        stdout(&truncated).contains("frame 1 "),
        "frames before the cut are decoded"
    );

    let missing = mobikectl(&["decode", "/nonexistent/x.pcap"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains("cannot read /nonexistent/x.pcap"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn ike_over_tcp_and_every_link_type_decode_the_same_messages() {
    let tcp = json_lines(&mobikectl(&[
        "decode",
        "-f",
        "json",
        &testdata("edge/tcp.pcap"),
    ]));
    assert!(!tcp.is_empty());
    assert!(tcp.iter().all(|m| m["transport"] == "tcp"));
    for file in ["vlan", "qinq", "sll", "sll2", "raw", "null", "loop"] {
        let out = mobikectl(&[
            "decode",
            "-f",
            "json",
            &testdata(&format!("edge/{file}.pcap")),
        ]);
        assert_eq!(out.status.code(), Some(0), "{file}: {}", stderr(&out));
        let msgs = json_lines(&out);
        assert!(!msgs.is_empty(), "{file}");
        assert!(
            msgs.iter().all(|m| m["spi_i"] == "ade3a663cde3f4e0"),
            "{file}"
        );
    }
}

#[test]
fn several_files_are_decoded_in_order() {
    let out = mobikectl(&[
        "decode",
        "-f",
        "json",
        &testdata("strongswan-move/cap-carol-a.pcap"),
        &testdata("strongswan-move/cap-carol-b.pcap"),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let msgs = json_lines(&out);
    let a = json_lines(&mobikectl(&[
        "decode",
        "-f",
        "json",
        &testdata("strongswan-move/cap-carol-a.pcap"),
    ]));
    assert!(msgs.len() > a.len());
    assert_eq!(msgs[..a.len()], a[..]);
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// The bytes of the first IKE message in a testdata capture (to replay on loopback).
fn first_ike_message(capture: &str) -> Vec<u8> {
    use mobikectl::capture::{CaptureEvent, CaptureOptions, CaptureReader};
    let mut reader =
        CaptureReader::open_file(testdata(capture), &CaptureOptions::default()).unwrap();
    loop {
        match reader.next_event() {
            Some(CaptureEvent::Ike(p)) => return p.data,
            Some(_) => continue,
            None => panic!("no IKE message in {capture}"),
        }
    }
}

#[test]
fn live_capture_on_loopback_decodes_ike() {
    use std::io::Read;
    use std::time::{Duration, Instant};

    if !is_root() {
        eprintln!("SKIPPED: live capture needs root (CAP_NET_RAW); run `sudo -E cargo test --test decode_cli` to include it");
        return;
    }
    let ike = first_ike_message(MOON);
    let mut child = Command::new(env!("CARGO_BIN_EXE_mobikectl"))
        .args([
            "decode",
            "--interface",
            "lo",
            "--count",
            "1",
            "--format",
            "json",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start live decode");
    // Keep sending until the capture has seen one message (it may take a moment to start).
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        let _ = sock.send_to(&ike, "127.0.0.1:500");
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "live decode did not report the message in 20 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    let msg: Value = serde_json::from_str(out.lines().next().unwrap_or(""))
        .unwrap_or_else(|e| panic!("{out:?}: {e}"));
    assert_eq!(msg["exchange"], "IKE_SA_INIT");
    assert_eq!(
        (msg["dst"].as_str(), msg["dport"].as_u64()),
        (Some("127.0.0.1"), Some(500))
    );
    assert_eq!(msg["spi_i"], "ade3a663cde3f4e0");
}

/// A live capture shows each record as it arrives, not when the output buffer fills or the
/// capture ends.
#[test]
fn live_capture_prints_each_record_as_it_arrives() {
    use std::io::BufRead;
    use std::time::{Duration, Instant};

    if !is_root() {
        eprintln!("SKIPPED: live capture needs root (CAP_NET_RAW)");
        return;
    }
    let ike = first_ike_message(MOON);
    let mut child = Command::new(env!("CARGO_BIN_EXE_mobikectl"))
        .args(["decode", "--interface", "lo"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start live decode");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let line = loop {
        let _ = sock.send_to(&ike, "127.0.0.1:500");
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
            break line;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("no record printed within 20 s while the capture runs");
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        line.starts_with("frame ") && line.contains("IKE_SA_INIT"),
        "{line:?}"
    );
}

#[test]
fn timeline_explains_the_mobike_move() {
    let keys = testdata("strongswan-move/ikev2_decryption_table");
    let out = mobikectl(&["decode", "--timeline", "--keys", &keys, &testdata(MOON)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for expected in [
        "frame 8: SA #0 ade3a663cde3f4e0/85c30315a9c141c8: path probe mid 2 by initiator",
        "first answer on [198.51.100.10:4500 <-> 203.0.113.1:4500] (frame 8)",
        "frame 9: SA #0 ade3a663cde3f4e0/85c30315a9c141c8: UPDATE_SA_ADDRESSES mid 3 from initiator: \
         192.0.2.10:4500 <-> 203.0.113.1:4500 -> 198.51.100.10:4500 <-> 203.0.113.1:4500",
        "COOKIE2 of mid 3 (from initiator) echoed",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    // Lines are in time order.
    let times: Vec<&str> = text
        .lines()
        .map(|l| l.split(' ').next().unwrap_or(""))
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{text}");

    let json = json_lines(&mobikectl(&[
        "decode",
        "--timeline",
        "-f",
        "json",
        "-k",
        &keys,
        &testdata(MOON),
    ]));
    let update = json
        .iter()
        .find(|e| e["event"] == "address_update")
        .expect("address_update event");
    assert_eq!(update["frame"], 9);
    assert_eq!(update["new"]["initiator"], "198.51.100.10:4500");
    assert!(update["time"]
        .as_str()
        .unwrap()
        .starts_with("2026-11-23T10:11:29"));
    let rtts: Vec<u64> = json
        .iter()
        .filter(|e| e["event"] == "exchange")
        .map(|e| e["rtt_us"].as_u64().unwrap())
        .collect();
    assert_eq!(rtts.len(), 9);
    assert!(rtts.iter().all(|&r| r > 0 && r < 1_000_000), "{rtts:?}");

    // Without keys the moves inside SK stay invisible, but pairing and probes still work.
    let blind = stdout(&mobikectl(&["decode", "--timeline", &testdata(MOON)]));
    assert!(
        blind.contains("path probe mid 2") && !blind.contains("UPDATE_SA_ADDRESSES"),
        "{blind}"
    );
}

#[test]
fn table_has_per_sa_address_history_and_nat_verdicts() {
    let dir = "v4-nat-chacha";
    let out = mobikectl(&[
        "decode",
        "-f",
        "table",
        "-k",
        &testdata(&format!("{dir}/moon-charon.log")),
        &testdata(&format!("{dir}/nat-outside.pcap")),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let t = stdout(&out);
    assert!(t.contains("MOBIKE per IKE SA"), "{t}");
    assert!(
        t.contains("#6 setup 203.0.113.2:57432 <-> 203.0.113.1:4500"),
        "{t}"
    );
    assert!(
        t.contains("#36 update 203.0.113.2:36472 <-> 203.0.113.1:4500"),
        "{t}"
    );
    assert!(t.contains("behind a NAT"), "carol is behind the NAT:\n{t}");
}

#[test]
fn esp_is_decrypted_with_child_sa_keys() {
    let dir = "v4-nat-chacha";
    let log = testdata(&format!("{dir}/moon-charon.log"));
    let pcap = testdata(&format!("{dir}/nat-outside.pcap"));
    let out = mobikectl(&["decode", "--esp", "-f", "json", "-k", &log, &pcap]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let esp: Vec<Value> = json_lines(&out)
        .into_iter()
        .filter(|r| r.get("esp").is_some())
        .collect();
    assert_eq!(
        esp.len(),
        24,
        "every ping request and reply through the tunnel"
    );
    for r in &esp {
        assert_eq!(r["esp"]["integrity"], "ok", "{r}");
        assert_eq!(
            r["esp"]["encap"], true,
            "behind the NAT ESP is UDP-encapsulated: {r}"
        );
        let inner = r["esp"]["inner"].as_str().unwrap();
        assert!(inner.contains("ICMP echo"), "{inner}");
        assert!(r["sport"].is_u64() && r["dport"].is_u64(), "UDP ports: {r}");
    }
    // The NAT rebinding changed only carol's public port (57432 -> 36472): frame 26 is the
    // first ESP packet on the new mapping, and the only one that moved.
    let moved: Vec<&Value> = esp
        .iter()
        .filter(|r| r["esp"].get("moved_from").is_some())
        .collect();
    assert_eq!(moved.len(), 1, "{moved:?}");
    assert_eq!(moved[0]["frame"], 26);
    assert_eq!(
        (
            &moved[0]["src"],
            &moved[0]["sport"],
            &moved[0]["dst"],
            &moved[0]["dport"]
        ),
        (
            &Value::from("203.0.113.2"),
            &Value::from(36472),
            &Value::from("203.0.113.1"),
            &Value::from(4500)
        )
    );
    assert_eq!(
        moved[0]["esp"]["moved_from"],
        "203.0.113.2:57432 -> 203.0.113.1:4500"
    );
    let text = mobikectl(&[
        "decode",
        "--esp",
        "-k",
        &log,
        "--filter",
        "spi=7d1ee0ec",
        &pcap,
    ]);
    let line = stdout(&text)
        .lines()
        .find(|l| l.starts_with("frame 26 "))
        .map(String::from)
        .unwrap_or_default();
    assert!(
        line.contains(" 203.0.113.2:36472 -> 203.0.113.1:4500 ESP spi=7d1ee0ec ")
            && line.ends_with(" moved_from=203.0.113.2:57432 -> 203.0.113.1:4500"),
        "{line}"
    );
    // The IKE messages are still all there, one object each.
    assert_eq!(
        json_lines(&out)
            .iter()
            .filter(|r| r.get("exchange").is_some())
            .count(),
        16
    );

    // Only the Wireshark table (no SK_d, no child keys): ESP is shown but not decrypted.
    let table = testdata("v6-gcm-mobike/ikev2_decryption_table");
    let v6 = testdata("v6-gcm-mobike/moon-eth0.pcap");
    let out = mobikectl(&["decode", "--esp", "-k", &table, &v6]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lines: Vec<String> = stdout(&out)
        .lines()
        .filter(|l| l.contains(" ESP "))
        .map(String::from)
        .collect();
    assert_eq!(lines.len(), 20);
    assert!(
        lines.iter().all(|l| l.contains("integrity=no-keys")),
        "{lines:?}"
    );

    // A filter on an ESP SPI keeps that SA's packets only.
    let one = mobikectl(&[
        "decode",
        "--esp",
        "--filter",
        "spi=35a8a5e6",
        "-k",
        &testdata("v6-gcm-mobike/carol-charon.log"),
        &v6,
    ]);
    let esp_lines: Vec<String> = stdout(&one)
        .lines()
        .filter(|l| l.contains(" ESP "))
        .map(String::from)
        .collect();
    assert_eq!(esp_lines.len(), 5, "{esp_lines:?}");
    assert!(esp_lines
        .iter()
        .all(|l| l.contains("spi=35a8a5e6") && l.contains("integrity=ok")));
}

#[test]
fn esp_records_have_ports_only_when_encapsulated() {
    let out = mobikectl(&["decode", "--esp", "-f", "json", &testdata("edge/natt.pcap")]);
    let esp: Vec<Value> = json_lines(&out)
        .into_iter()
        .filter(|r| r.get("esp").is_some())
        .collect();
    let ports: Vec<(u64, Value, Value, bool)> = esp
        .iter()
        .map(|r| {
            (
                r["frame"].as_u64().unwrap(),
                r["sport"].clone(),
                r["dport"].clone(),
                r["esp"]["encap"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ports,
        [
            (2, Value::from(4500), Value::from(4500), true),
            (3, Value::from(4500), Value::from(4500), true),
            (4, Value::Null, Value::Null, false),
            (5, Value::Null, Value::Null, false),
        ]
    );
    let text = stdout(&mobikectl(&[
        "decode",
        "--esp",
        &testdata("edge/natt.pcap"),
    ]));
    assert!(
        text.contains(" 198.51.100.10:4500 -> 203.0.113.1:4500 ESP spi=c0ffee01 "),
        "{text}"
    );
    assert!(
        text.contains(" 203.0.113.1 -> 192.0.2.10 ESP spi=c0ffee02 "),
        "{text}"
    );
    assert!(
        text.contains(" 2001:db8::cb00:7101 -> 2001:db8::c000:20a ESP spi=c0ffee03 "),
        "{text}"
    );
}

#[test]
fn ike_sa_rekey_by_responder_timeline_and_table() {
    let dir = "v4-resp-rekey-mobike";
    let keys = testdata(&format!("{dir}/moon-charon.log"));
    let pcap = testdata(&format!("{dir}/moon-eth0.pcap"));
    let out = mobikectl(&["decode", "--timeline", "-f", "json", "-k", &keys, &pcap]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let ev = json_lines(&out);
    let of = |name: &str| -> Vec<&Value> { ev.iter().filter(|e| e["event"] == name).collect() };
    assert!(of("violation").is_empty(), "{:?}", of("violation"));
    let rk = of("ike_sa_rekeyed");
    assert_eq!(rk.len(), 1);
    assert_eq!(rk[0]["requester"], "responder");
    assert_eq!(
        (&rk[0]["old_spi_i"], &rk[0]["new_spi_i"]),
        (
            &Value::from("f55b0b8f89cd8db0"),
            &Value::from("e4c14506ed27fa88")
        )
    );
    let up = of("address_update");
    assert_eq!(up.len(), 1);
    assert_eq!(
        (&up[0]["frame"], &up[0]["sender"], &up[0]["i_flag"]),
        (
            &Value::from(33),
            &Value::from("initiator"),
            &Value::from(false)
        )
    );
    // Every event belongs to the one logical SA.
    assert!(ev.iter().all(|e| e["sa"] == ev[0]["sa"]));

    let table = stdout(&mobikectl(&["decode", "-f", "table", "-k", &keys, &pcap]));
    assert!(
        table.contains("e4c14506ed27fa88/2a4b1c443eb16cc8 (rekeyed by responder #18, deleted #45)"),
        "{table}"
    );
}
