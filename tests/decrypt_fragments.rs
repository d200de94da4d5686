//! RFC 7383 fragments through `mobikectl decode`: the real fragmented IKE_AUTH exchange of
//! `v4-cbc-sha1-frag-cert` and the synthetic edge cases of `testdata/edge-frag` (out of order,
//! duplicate, bad ICV, missing fragment reported on timeout and at the end), with and without
//! keys.
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

fn json_lines(o: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

/// The SK/SKF payload object of the message in `frame`.
fn enc(msgs: &[Value], frame: u64) -> &Value {
    let m = msgs
        .iter()
        .find(|m| m["frame"] == frame)
        .unwrap_or_else(|| panic!("no frame {frame}"));
    m["payloads"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["type"] == 46 || p["type"] == 53))
        .unwrap_or_else(|| panic!("no SK/SKF in frame {frame}"))
}

fn names(p: &Value) -> Vec<String> {
    p["payloads"]
        .as_array()
        .unwrap_or_else(|| panic!("no inner payloads: {p}"))
        .iter()
        .map(|q| match (&q["name"], q.get("notify")) {
            (Value::String(n), Some(Value::String(t))) => format!("{n}({t})"),
            (Value::String(n), _) => n.clone(),
            _ => "?".into(),
        })
        .collect()
}

const EDGE: &str = "edge-frag/fragments.pcap";
const EDGE_KEYS: &str = "edge-frag/ikev2_decryption_table";

#[test]
fn strongswan_fragments_are_reassembled_where_the_last_one_arrives() {
    let pcap = testdata("v4-cbc-sha1-frag-cert/moon-eth0.pcap");
    let keys = testdata("v4-cbc-sha1-frag-cert/ikev2_decryption_table");
    let out = mobikectl(&["decode", "-f", "json", "--keys", &keys, &pcap]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let msgs = json_lines(&out);
    for (frames, first) in [([7u64, 8, 9, 10], "IDi"), ([12, 13, 14, 15], "IDr")] {
        for (i, &f) in frames.iter().enumerate() {
            let p = enc(&msgs, f);
            assert_eq!(p["type"], 53);
            assert_eq!(p["fragment_number"], i as u64 + 1);
            assert_eq!(p["total_fragments"], 4);
            assert_eq!(p["integrity"], "ok");
            if i < 3 {
                assert!(
                    p.get("payloads").is_none() && p.get("fragments").is_none(),
                    "{p}"
                );
            }
        }
        let last = enc(&msgs, frames[3]);
        assert_eq!(last["fragments"], serde_json::json!(frames));
        let n = names(last);
        assert_eq!(n[0], first);
        assert!(
            n.contains(&"CERT".to_string()) && n.contains(&"AUTH".to_string()),
            "{n:?}"
        );
    }
    assert_eq!(
        names(enc(&msgs, 10)),
        [
            "IDi",
            "CERT",
            "N(INITIAL_CONTACT)",
            "CERTREQ",
            "IDr",
            "AUTH",
            "CP",
            "SA",
            "TSi",
            "TSr",
            "N(MOBIKE_SUPPORTED)",
            "N(NO_ADDITIONAL_ADDRESSES)",
            "N(MULTIPLE_AUTH_SUPPORTED)",
            "N(EAP_ONLY_AUTHENTICATION)",
            "N(IKEV2_MESSAGE_ID_SYNC_SUPPORTED)"
        ]
    );
    // The certificate is whole: 1101-byte CERT payload, 1096 bytes of DER.
    let cert = &enc(&msgs, 10)["payloads"][1];
    assert_eq!(cert["data_length"], 1096);
}

#[test]
fn edge_fragments_with_keys() {
    let out = mobikectl(&[
        "decode",
        "-f",
        "json",
        "--keys",
        &testdata(EDGE_KEYS),
        &testdata(EDGE),
    ]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    // Missing fragments are warnings (we could not see everything), not malformed input.
    assert_eq!(out.status.code(), Some(0), "{err}");
    let msgs = json_lines(&out);
    assert_eq!(msgs.len(), 11, "every fragment is its own message");
    for (frame, number, total) in [
        (1, 3, 3),
        (2, 1, 3),
        (3, 1, 3),
        (5, 1, 2),
        (8, 1, 3),
        (9, 3, 3),
        (11, 2, 2),
    ] {
        let p = enc(&msgs, frame);
        assert_eq!(
            (p["fragment_number"].as_u64(), p["total_fragments"].as_u64()),
            (Some(number), Some(total)),
            "frame {frame}"
        );
        assert_eq!(p["integrity"], "ok", "frame {frame}");
        assert!(
            p.get("payloads").is_none() && p.get("fragments").is_none(),
            "{p}"
        );
    }
    let a = enc(&msgs, 4);
    assert_eq!(a["fragments"], serde_json::json!([2, 4, 1]));
    assert_eq!(
        names(a),
        [
            "IDi",
            "N(INITIAL_CONTACT)",
            "IDr",
            "AUTH",
            "N(MOBIKE_SUPPORTED)",
            "N(ADDITIONAL_IP4_ADDRESS)"
        ]
    );
    assert_eq!(a["payloads"][5]["address"], "198.51.100.10");
    assert_eq!(a["payloads"][0]["id"], "carol@example.org");

    let bad = enc(&msgs, 6);
    assert_eq!(bad["integrity"], "bad");
    assert!(bad.get("payloads").is_none() && bad.get("fragments").is_none());
    let b = enc(&msgs, 7);
    assert_eq!(b["integrity"], "ok");
    assert_eq!(b["fragments"], serde_json::json!([5, 7]));
    assert_eq!(names(b), ["IDr", "AUTH", "N(MOBIKE_SUPPORTED)"]);

    let d = enc(&msgs, 10);
    assert_eq!(d["type"], 46);
    assert_eq!(
        names(d),
        [
            "N(NAT_DETECTION_SOURCE_IP)",
            "N(NAT_DETECTION_DESTINATION_IP)",
            "N(COOKIE2)"
        ]
    );

    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 3, "{err}");
    assert!(
        lines[0].contains("frame 3: info: duplicate fragment 1/3"),
        "{err}"
    );
    assert!(
        lines[1].contains("frame 8: warning: incomplete fragmented message, 30 s")
            && lines[1].contains("message ID 2 (initiator request)")
            && lines[1].ends_with("have fragment(s) 1,3 of 3, missing 2"),
        "{err}"
    );
    assert!(
        lines[2].contains("frame 11: warning: incomplete fragmented message at end of capture")
            && lines[2].ends_with("have fragment(s) 2 of 2, missing 1"),
        "{err}"
    );
}

#[test]
fn edge_fragments_without_keys_still_show_numbers_and_gaps() {
    let out = mobikectl(&["decode", "-f", "json", &testdata(EDGE)]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{err}");
    let msgs = json_lines(&out);
    assert_eq!(msgs.len(), 11);
    for m in &msgs {
        let frame = m["frame"].as_u64().unwrap();
        let p = enc(&msgs, frame);
        assert_eq!(p["integrity"], "no-keys");
        assert!(p.get("payloads").is_none());
        if p["type"] == 53 {
            assert!(p["fragment_number"].is_u64() && p["total_fragments"].is_u64());
        }
    }
    // Without keys the corrupted fragment cannot be told apart: frame 6 completes the
    // response and the intact copy in frame 7 is reported as a repeat.
    assert_eq!(enc(&msgs, 4)["fragments"], serde_json::json!([2, 4, 1]));
    assert_eq!(enc(&msgs, 6)["fragments"], serde_json::json!([5, 6]));
    assert!(err.contains("frame 7: info: fragment 2/2 of IKE SA 0f0f111122223333/f0f0444455556666 message ID 1 (responder response) repeats a message already reassembled in frame 6"), "{err}");
    assert!(
        err.contains("missing 2") && err.contains("missing 1"),
        "{err}"
    );
}

#[test]
fn text_shows_fragment_numbers_and_the_reassembled_payloads() {
    let out = mobikectl(&[
        "decode",
        "--keys",
        &testdata(EDGE_KEYS),
        "--filter",
        "mid=1",
        &testdata(EDGE),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "  SKF fragment_number=3 total_fragments=3 next_payload=NONE length=80 integrity=ok\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "integrity=ok fragments=[2, 4, 1]\n    payloads:\n      IDi id_type=ID_RFC822_ADDR id=carol@example.org\n      N(INITIAL_CONTACT)\n"
        ),
        "{text}"
    );
    assert!(text.contains("length=80 integrity=bad\n"), "{text}");
}
