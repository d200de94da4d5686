//! `mobikectl decode --keys` on the real strongSwan captures in testdata/: every SK/SKF payload
//! decrypts with integrity ok using the scenario's Wireshark table and, separately, using only
//! its charon logs (which exercises trial binding for the rekeyed IKE SA); wrong keys give
//! `integrity: bad` without hiding the message; bad key files are clear errors.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

fn mobikectl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mobikectl"))
        .args(args)
        .output()
        .expect("run mobikectl")
}

fn json_lines(o: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

/// The strongSwan scenarios: directories with charon logs.
fn scenarios() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root())
        .expect("testdata")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|d| files(d, "charon.log").next().is_some())
        .collect();
    v.sort();
    v
}

fn files<'a>(dir: &Path, suffix: &'a str) -> impl Iterator<Item = String> + 'a {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path().display().to_string()))
        .filter(|p| p.ends_with(suffix))
        .collect();
    v.sort();
    v.into_iter()
}

fn table_has_lines(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("ikev2_decryption_table"))
        .map(|t| {
            t.lines()
                .any(|l| !l.trim().is_empty() && !l.starts_with('#'))
        })
        .unwrap_or(false)
}

/// Every encrypted payload object of the capture, with its frame.
fn encrypted(msgs: &[Value]) -> Vec<(u64, &Value)> {
    msgs.iter()
        .flat_map(|m| {
            let frame = m["frame"].as_u64().unwrap_or(0);
            m["payloads"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["type"] == 46 || p["type"] == 53)
                .map(move |p| (frame, p))
        })
        .collect()
}

/// Decodes `pcap` with `keys` and checks every SK/SKF: integrity ok, SK with inner payloads,
/// completed SKF with reassembled payloads. Returns (SK/SKF payloads, inner payloads).
fn check_all_ok(pcap: &str, keys: &[String]) -> (usize, usize, String) {
    let mut args = vec!["decode", "--format", "json"];
    for k in keys {
        args.extend(["--keys", k.as_str()]);
    }
    args.push(pcap);
    let out = mobikectl(&args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{pcap} {keys:?}: {err}");
    let msgs = json_lines(&out);
    let enc = encrypted(&msgs);
    let mut inner = 0;
    for (frame, p) in &enc {
        assert_eq!(
            p["integrity"], "ok",
            "{pcap} frame {frame} with {keys:?}: {p}"
        );
        assert!(
            p.get("decrypt_error").is_none(),
            "{pcap} frame {frame}: {p}"
        );
        if p["type"] == 46 || p.get("fragments").is_some() {
            let list = p["payloads"]
                .as_array()
                .unwrap_or_else(|| panic!("{pcap} frame {frame}: no inner payloads: {p}"));
            for q in list {
                assert!(q["type"].is_u64() && q.get("name").is_some(), "{q}");
            }
            inner += list.len();
        } else {
            assert!(p.get("payloads").is_none(), "{p}");
        }
    }
    (enc.len(), inner, err)
}

#[test]
fn every_sk_decrypts_with_each_wireshark_table() {
    let mut total = 0;
    for dir in scenarios() {
        if !table_has_lines(&dir) {
            // v4-nat-chacha: Wireshark 4.0 has no ChaCha20-Poly1305, so its table is empty; its
            // keys are checked through the charon logs below.
            continue;
        }
        let table = dir.join("ikev2_decryption_table").display().to_string();
        for pcap in files(&dir, ".pcap") {
            let (n, inner, _) = check_all_ok(&pcap, std::slice::from_ref(&table));
            assert!(n > 0 && inner > 0, "{pcap}: nothing decrypted");
            total += n;
        }
    }
    assert!(total >= 100, "only {total} SK payloads");
}

#[test]
fn every_sk_decrypts_with_the_charon_logs_only() {
    let mut total = 0;
    let mut trial = 0;
    for dir in scenarios() {
        let logs: Vec<String> = files(&dir, "charon.log").collect();
        for pcap in files(&dir, ".pcap") {
            let (n, inner, err) = check_all_ok(&pcap, &logs);
            assert!(n > 0 && inner > 0, "{pcap}: nothing decrypted");
            total += n;
            trial += err.matches("by trial decryption").count();
        }
    }
    assert!(total >= 100, "only {total} SK payloads");
    // v4-ctr-modp-rekey: the rekeyed IKE SA's SPIs are not in the logs.
    assert!(trial >= 1, "no key set was bound by trial decryption");
}

#[test]
fn the_rekeyed_sa_is_bound_by_trial_decryption() {
    let dir = root().join("v4-ctr-modp-rekey");
    let logs: Vec<String> = files(&dir, "charon.log").collect();
    let pcap = dir.join("moon-eth0.pcap").display().to_string();
    let (_, _, err) = check_all_ok(&pcap, &logs[1..]);
    assert!(
        err.contains("bound to IKE SA 4fde5b8e6d43e8f6/a2e5aa44a244ddd1 by trial decryption"),
        "{err}"
    );
}

#[test]
fn chacha20_poly1305_decrypts_from_the_charon_logs() {
    let dir = root().join("v4-nat-chacha");
    let logs: Vec<String> = files(&dir, "charon.log").collect();
    for pcap in ["nat-outside.pcap", "nat-inside.pcap"] {
        let (n, _, _) = check_all_ok(&dir.join(pcap).display().to_string(), &logs);
        assert_eq!(n, 14, "{pcap}");
    }
}

fn move_table() -> String {
    std::fs::read_to_string(root().join("strongswan-move/ikev2_decryption_table")).expect("table")
}

#[test]
fn wrong_keys_say_integrity_bad_and_still_show_the_message() {
    let table = move_table();
    // Change the last hex digit of SK_ai and SK_ar (fields 6 and 7): HMAC fails both ways.
    let mut fields: Vec<String> = table.trim().split(',').map(str::to_string).collect();
    for f in [5, 6] {
        let last = fields[f].pop().unwrap();
        fields[f].push(if last == '0' { '1' } else { '0' });
    }
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("wrong_keys");
    std::fs::write(&bad, fields.join(",") + "\n").unwrap();
    let bad = bad.display().to_string();
    let pcap = root()
        .join("strongswan-move/cap-moon.pcap")
        .display()
        .to_string();

    let plain = json_lines(&mobikectl(&["decode", "-f", "json", &pcap]));
    let out = mobikectl(&["decode", "-f", "json", "--keys", &bad, &pcap]);
    let msgs = json_lines(&out);
    assert_eq!(msgs.len(), plain.len(), "every message is still printed");
    let enc = encrypted(&msgs);
    assert_eq!(enc.len(), 18);
    for (frame, p) in &enc {
        assert_eq!(p["integrity"], "bad", "frame {frame}: {p}");
        assert!(p.get("payloads").is_none(), "{p}");
        assert!(p["next_payload"].is_u64() && p["length"].is_u64(), "{p}");
    }
    for (m, q) in msgs.iter().zip(&plain) {
        assert_eq!(m["frame"], q["frame"]);
        assert_eq!(m["exchange"], q["exchange"]);
    }

    let out = mobikectl(&["decode", "--keys", &bad, &pcap]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("  SK next_payload=IDi length=288 integrity=bad\n"),
        "{text}"
    );
    assert_eq!(text.lines().filter(|l| l.starts_with("frame ")).count(), 20);
}

#[test]
fn keys_of_another_sa_mean_no_keys() {
    let pcap = root()
        .join("strongswan-move/cap-moon.pcap")
        .display()
        .to_string();
    let other = root()
        .join("v6-gcm-mobike/ikev2_decryption_table")
        .display()
        .to_string();
    let out = mobikectl(&["decode", "-f", "json", "--keys", &other, &pcap]);
    assert_eq!(out.status.code(), Some(0));
    let msgs = json_lines(&out);
    for (_, p) in encrypted(&msgs) {
        assert_eq!(p["integrity"], "no-keys", "{p}");
    }
    // Without --keys as well.
    let msgs = json_lines(&mobikectl(&["decode", "-f", "json", &pcap]));
    assert!(encrypted(&msgs)
        .iter()
        .all(|(_, p)| p["integrity"] == "no-keys"));
}

#[test]
fn text_shows_inner_payloads_under_sk() {
    let pcap = root()
        .join("strongswan-move/cap-moon.pcap")
        .display()
        .to_string();
    let table = root()
        .join("strongswan-move/ikev2_decryption_table")
        .display()
        .to_string();
    let out = mobikectl(&["decode", "--keys", &table, "--filter", "mid=1", &pcap]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "  SK next_payload=IDi length=288 integrity=ok\n    payloads:\n      IDi id_type=ID_RFC822_ADDR id=carol@example.org\n      N(INITIAL_CONTACT)\n"
        ),
        "{text}"
    );
    assert!(text.contains("      N(MOBIKE_SUPPORTED)\n"), "{text}");
}

#[test]
fn a_bad_key_file_is_an_error_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("keys.txt");
    let mut table = move_table();
    // Line 2: SK_ei one byte short.
    let line = table.trim().replacen(
        ",37ECA60CF1B3DA4478631AEA98B0DEF6,",
        ",37ECA60CF1B3DA4478631AEA98B0DE,",
        1,
    );
    table = format!("# comment\n{line}\n");
    std::fs::write(&bad, table).unwrap();
    let pcap = root()
        .join("strongswan-move/cap-moon.pcap")
        .display()
        .to_string();
    let bad_s = bad.display().to_string();
    let out = mobikectl(&["decode", "--keys", &bad_s, &pcap]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{bad_s}:2: SK_ei has 15 bytes")),
        "{err}"
    );

    let missing = dir.path().join("nope").display().to_string();
    let out = mobikectl(&["decode", "--keys", &missing, &pcap]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&missing));
}

#[test]
fn several_key_files_combine() {
    let pcap = root()
        .join("v4-ctr-modp-rekey/moon-eth0.pcap")
        .display()
        .to_string();
    let a = root()
        .join("strongswan-move/ikev2_decryption_table")
        .display()
        .to_string();
    let b = root()
        .join("v4-ctr-modp-rekey/ikev2_decryption_table")
        .display()
        .to_string();
    let (n, _, _) = check_all_ok(&pcap, &[a, b]);
    assert_eq!(n, 26);
}

#[test]
fn the_mobikectl_key_log_format_works() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("keys.log");
    let line = move_table().trim().to_string();
    std::fs::write(
        &log,
        format!("# mobikectl-keylog v1\n# SPIi,SPIr,SK_ei,SK_er,\"ENCR\",SK_ai,SK_ar,\"INTEG\",SK_d,\"PRF\",Ni,Nr\n{line},,,,\n"),
    )
    .unwrap();
    let pcap = root()
        .join("strongswan-move/cap-moon.pcap")
        .display()
        .to_string();
    let (n, inner, _) = check_all_ok(&pcap, &[log.display().to_string()]);
    assert_eq!(n, 18);
    assert!(inner > 20);
}
