//! Cross-check of `mobikectl decode --format json` against tshark on every capture in testdata/:
//! for each IKE message, the exchange type, message ID, I/R flags, payload types and notify types
//! must equal what tshark decodes.
//!
//! Decrypted payloads too: each capture directory's `ikev2_decryption_table` is given to both
//! tools (`--keys FILE` to us, one `-o uat:ikev2_decryption_table:LINE` per line to tshark), and
//! the integrity verdict of the SK/SKF payload and the inner payload types and inner notify
//! types must agree. tshark shows the inner payloads of an SK payload under the SK payload's
//! tree (`isakmp.enc.decrypted` → `isakmp.enc.contained`), and those of a reassembled message
//! directly in the tree of the SKF payload of the fragment that completed it; we put them in
//! the same places (`payloads` of the SK / completing SKF payload object).
//!
//! A second test checks the field layout of the TUI's payload tree (`dissect::layout`): the
//! bytes of every header field, generic payload header, proposal, transform, KE group, nonce
//! and notify type must be where tshark's PDML puts them.
//!
//! tshark is needed: `.ci/run` installs it and sets MOBIKECTL_REQUIRE_TSHARK=1 so CI fails
//! rather than skips when it is missing. Locally without tshark the test says it skipped.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// What both decoders must agree on for one IKE message.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Summary {
    exchange_type: u64,
    message_id: u64,
    initiator: bool,
    response: bool,
    payload_types: Vec<u64>,
    notify_types: Vec<u64>,
    /// Integrity of the SK/SKF payload: "ok", "bad", "no-keys"; `None` without SK/SKF.
    integrity: Option<String>,
    /// Inner payload types and inner notify types of a decrypted SK payload or reassembled
    /// message; `None` when there are none to show.
    inner: Option<(Vec<u64>, Vec<u64>)>,
}

/// Captures deliberately made unreadable for tshark, with the reason tshark differs.
fn tshark_skip_reason(path: &Path) -> Option<&'static str> {
    let name = path.file_name()?.to_str()?;
    if name.contains("truncated") {
        // tshark stops at the cut record and reports the file as damaged; we decode up to it.
        return Some("tshark prints no JSON for a file whose last record is cut");
    }
    if name.starts_with("tcp") {
        // RFC 8229 streams here split the "IKETCP" prefix and IKE frames across segments and
        // start mid-stream; tshark 4.0's TCPENCAP dissector reassembles neither, marks the
        // prefix malformed and reads the rest as ESP. tests/capture_edge.rs checks these
        // files message by message instead.
        return Some("tshark 4.0 does not reassemble RFC 8229 frames split across TCP segments");
    }
    None
}

/// Captures whose decrypted content tshark cannot show: only the outer payloads are compared.
fn decryption_skip_reason(path: &Path) -> Option<&'static str> {
    let dir = path.parent()?.file_name()?.to_str()?;
    if dir == "v4-nat-chacha" {
        // Wireshark 4.0 has no ChaCha20-Poly1305 for IKEv2 (its table in testdata is empty);
        // we decrypt it with the charon logs, checked in tests/decrypt_captures.rs.
        return Some("tshark 4.0 cannot decrypt ChaCha20-Poly1305 IKEv2 messages");
    }
    None
}

/// Single messages where tshark's reassembly is wrong, with the reason; their inner payloads
/// are not compared (the outer message and the integrity verdict still are).
fn inner_skip_reason(path: &Path, frame: u64) -> Option<&'static str> {
    let dir = path.parent()?.file_name()?.to_str()?;
    match (dir, frame) {
        // Fragment 1 arrives twice (frames 2 and 3). tshark feeds both copies to its
        // reassembly, flags an overlap, and shows no payloads for the message; we ignore the
        // duplicate and reassemble frames 2, 4, 1.
        ("edge-frag", 4) => Some("tshark reassembles a duplicated fragment twice and fails"),
        // Frame 6 is fragment 2 with a corrupted ICV: tshark says "incorrect" but uses it for
        // reassembly anyway (CBC still decrypts the ciphertext, untouched here); RFC 7383 §2.6.1
        // has the receiver discard it, so we complete the message with frame 7.
        ("edge-frag", 6 | 7) => {
            Some("tshark reassembles with a fragment whose ICV it found incorrect")
        }
        _ => None,
    }
}

/// The decryption table lines of the capture's directory (blank lines and comments dropped).
fn table_lines(path: &Path) -> Vec<String> {
    let Some(table) = path.parent().map(|d| d.join("ikev2_decryption_table")) else {
        return Vec::new();
    };
    std::fs::read_to_string(table)
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// Keys for our run: the table, or for captures tshark cannot decrypt, the charon logs.
fn our_keys(path: &Path) -> Vec<PathBuf> {
    let Some(dir) = path.parent() else {
        return Vec::new();
    };
    if !table_lines(path).is_empty() {
        return vec![dir.join("ikev2_decryption_table")];
    }
    let mut logs: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with("charon.log"))
        .collect();
    logs.sort();
    logs
}

fn captures(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            captures(&path, out);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("pcap" | "pcapng")
        ) {
            out.push(path);
        }
    }
}

fn as_list(v: Option<&Value>) -> Vec<&Value> {
    match v {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(other) => vec![other],
        None => Vec::new(),
    }
}

fn num(v: &Value) -> u64 {
    let s = v.as_str().unwrap_or_default();
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).unwrap_or(u64::MAX),
        None => s.parse().unwrap_or(u64::MAX),
    }
}

/// tshark's view: frame number → IKE messages in that frame, in order.
fn tshark_messages(path: &Path) -> BTreeMap<u64, Vec<Summary>> {
    let mut keys = Vec::new();
    for line in table_lines(path) {
        keys.push("-o".to_string());
        keys.push(format!("uat:ikev2_decryption_table:{line}"));
    }
    let output = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(path)
        .args(&keys)
        .args(["-T", "json", "--no-duplicate-keys", "-Y", "isakmp"])
        .output()
        .expect("run tshark");
    let text = String::from_utf8_lossy(&output.stdout);
    let packets: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "tshark JSON for {}: {e}\n{}",
            path.display(),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let mut by_frame: BTreeMap<u64, Vec<Summary>> = BTreeMap::new();
    for packet in packets.as_array().into_iter().flatten() {
        let layers = &packet["_source"]["layers"];
        let frame = num(&layers["frame"]["frame.number"]);
        if layers.get("_ws.malformed").is_some() || layers.get("_ws.short").is_some() {
            // Garbage on port 500 or a message cut by the snap length: we report these as
            // diagnostics and `error` records (checked in tests/capture_edge.rs and
            // tests/decode_cli.rs), tshark as malformed or short packets.
            continue;
        }
        for ike in as_list(layers.get("isakmp")) {
            if ike["isakmp.version"].as_str() == Some("0x10") {
                continue; // IKEv1: out of scope, reported as an info diagnostic
            }
            let flags = num(&ike["isakmp.flags"]);
            let trees = as_list(ike.get("isakmp.typepayload_tree"));
            by_frame.entry(frame).or_default().push(Summary {
                exchange_type: num(&ike["isakmp.exchangetype"]),
                message_id: num(&ike["isakmp.messageid"]),
                initiator: flags & 0x08 != 0,
                response: flags & 0x20 != 0,
                payload_types: as_list(ike.get("isakmp.typepayload"))
                    .into_iter()
                    .map(num)
                    .collect(),
                notify_types: trees
                    .iter()
                    .filter_map(|t| t.get("isakmp.notify.msgtype"))
                    .map(num)
                    .collect(),
                integrity: trees.iter().find_map(|t| tshark_integrity(t)),
                inner: trees.iter().find_map(|t| tshark_inner(t)),
            });
        }
    }
    by_frame
}

/// Types and notify types of a list of payloads as tshark shows them (`isakmp.typepayload`
/// and `isakmp.typepayload_tree` side by side).
fn tshark_payloads(container: &Value) -> Option<(Vec<u64>, Vec<u64>)> {
    let types: Vec<u64> = as_list(container.get("isakmp.typepayload"))
        .into_iter()
        .map(num)
        .collect();
    if types.is_empty() {
        return None;
    }
    let notifies = as_list(container.get("isakmp.typepayload_tree"))
        .iter()
        .filter_map(|t| t.get("isakmp.notify.msgtype"))
        .map(num)
        .collect();
    Some((types, notifies))
}

/// The integrity verdict tshark gives an SK/SKF payload tree: decrypted and no "incorrect"
/// expert note on the ICV → ok; not decrypted → no keys.
fn tshark_integrity(tree: &Value) -> Option<String> {
    tree.get("isakmp.enc.iv")?;
    if tree.get("isakmp.enc.decrypted").is_none() {
        return Some("no-keys".into());
    }
    let incorrect = tree
        .get("isakmp.enc.icd_tree")
        .is_some_and(|t| t.to_string().contains("incorrect"));
    Some(if incorrect { "bad" } else { "ok" }.into())
}

/// Inner payloads of a decrypted SK payload, or of the message a fragment completed.
fn tshark_inner(tree: &Value) -> Option<(Vec<u64>, Vec<u64>)> {
    if let Some(contained) = tree
        .get("isakmp.enc.decrypted")
        .and_then(|d| d.get("isakmp.enc.contained"))
    {
        if contained.is_object() {
            return tshark_payloads(contained);
        }
    }
    if tree.get("isakmp.fragments").is_some() {
        return tshark_payloads(tree);
    }
    None
}

/// Our view, from the binary's JSON Lines.
fn our_messages(path: &Path) -> BTreeMap<u64, Vec<Summary>> {
    let mut keys = Vec::new();
    for k in our_keys(path) {
        keys.push("--keys".into());
        keys.push(k.into_os_string());
    }
    let output = Command::new(env!("CARGO_BIN_EXE_mobikectl"))
        .args(["decode", "--format", "json"])
        .args(&keys)
        .arg(path)
        .output()
        .expect("run mobikectl");
    let mut by_frame: BTreeMap<u64, Vec<Summary>> = BTreeMap::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let m: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("our JSON line {line}: {e}"));
        if m.get("error").is_some() {
            continue; // malformed on purpose; tshark shows it malformed too, differently
        }
        let payloads = m["payloads"].as_array().cloned().unwrap_or_default();
        by_frame
            .entry(m["frame"].as_u64().unwrap_or(0))
            .or_default()
            .push(Summary {
                exchange_type: m["exchange_type"].as_u64().unwrap_or(u64::MAX),
                message_id: m["message_id"].as_u64().unwrap_or(u64::MAX),
                initiator: m["initiator"] == Value::Bool(true),
                response: m["response"] == Value::Bool(true),
                payload_types: payloads.iter().filter_map(|p| p["type"].as_u64()).collect(),
                notify_types: payloads
                    .iter()
                    .filter_map(|p| p["notify_type"].as_u64())
                    .collect(),
                integrity: payloads
                    .iter()
                    .find_map(|p| p["integrity"].as_str().map(str::to_string)),
                inner: payloads.iter().find_map(|p| {
                    let inner = p["payloads"].as_array()?;
                    if inner.is_empty() {
                        // An empty SK (e.g. a DPD): tshark lists nothing either.
                        return None;
                    }
                    Some((
                        inner.iter().filter_map(|q| q["type"].as_u64()).collect(),
                        inner
                            .iter()
                            .filter_map(|q| q["notify_type"].as_u64())
                            .collect(),
                    ))
                }),
            });
    }
    by_frame
}

fn tshark_available() -> bool {
    Command::new("tshark")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[test]
fn decode_agrees_with_tshark_on_every_testdata_capture() {
    if !tshark_available() {
        assert!(
            std::env::var_os("MOBIKECTL_REQUIRE_TSHARK").is_none(),
            "tshark is required (MOBIKECTL_REQUIRE_TSHARK is set) but not installed"
        );
        eprintln!("SKIPPED: tshark not installed; install it (apt-get install tshark) to run the cross-check");
        return;
    }
    let mut files = Vec::new();
    captures(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata"),
        &mut files,
    );
    assert!(!files.is_empty(), "no captures in testdata/");
    let mut compared = 0;
    let mut decrypted = 0;
    let mut verdicts = 0;
    let mut inner_payloads = 0;
    let mut failures = Vec::new();
    for path in &files {
        if let Some(reason) = tshark_skip_reason(path) {
            eprintln!("skip {}: {reason}", path.display());
            continue;
        }
        let mut theirs = tshark_messages(path);
        let mut ours = our_messages(path);
        if let Some(reason) = decryption_skip_reason(path) {
            eprintln!("{}: outer payloads only: {reason}", path.display());
            for m in theirs.values_mut().chain(ours.values_mut()).flatten() {
                m.integrity = None;
                m.inner = None;
            }
        }
        let frames: std::collections::BTreeSet<u64> =
            theirs.keys().chain(ours.keys()).copied().collect();
        for frame in frames {
            if let Some(reason) = inner_skip_reason(path, frame) {
                eprintln!(
                    "{} frame {frame}: inner payloads not compared: {reason}",
                    path.display()
                );
                for m in [theirs.get_mut(&frame), ours.get_mut(&frame)]
                    .into_iter()
                    .flatten()
                    .flatten()
                {
                    m.inner = None;
                }
            }
            let (t, o) = (theirs.get(&frame), ours.get(&frame));
            if t != o {
                failures.push(format!(
                    "{} frame {frame}:\n  tshark: {t:?}\n  ours:   {o:?}",
                    path.display()
                ));
            } else {
                for m in t.into_iter().flatten() {
                    compared += 1;
                    if m.integrity.as_deref().is_some_and(|i| i != "no-keys") {
                        verdicts += 1;
                    }
                    if let Some((types, _)) = &m.inner {
                        decrypted += 1;
                        inner_payloads += types.len();
                    }
                }
            }
        }
    }
    eprintln!(
        "cross-checked {compared} IKE messages in {} captures against tshark: \
         {verdicts} SK/SKF integrity verdicts, {decrypted} decrypted messages with \
         {inner_payloads} inner payloads",
        files.len()
    );
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(compared > 0, "nothing was cross-checked");
    assert!(decrypted > 0, "no decrypted message was cross-checked");
}

/// Which of tshark's fields is which of ours in the payload tree (`mobikectl tui`): the field
/// layout is checked on these, byte for byte.
const FIELD_PAIRS: &[(&[&str], &[&str])] = &[
    (&["isakmp.ispi"], &["initiator SPI"]),
    (&["isakmp.rspi"], &["responder SPI"]),
    (
        &["isakmp.nextpayload"],
        &["next payload", "last substructure"],
    ),
    (&["isakmp.exchangetype"], &["exchange type"]),
    (&["isakmp.flags"], &["flags"]),
    (&["isakmp.messageid"], &["message ID"]),
    (
        &["isakmp.payloadlength"],
        &["payload length", "proposal length", "transform length"],
    ),
    (&["isakmp.prop.number"], &["proposal number"]),
    (&["isakmp.prop.transforms"], &["transforms"]),
    (&["isakmp.tf.type"], &["transform type"]),
    (&["isakmp.key_exchange.dh_group"], &["DH group"]),
    (&["isakmp.nonce"], &["nonce data"]),
    (&["isakmp.notify.msgtype"], &["notify message type"]),
];

/// Byte ranges (relative to the IKE header) of the fields of FIELD_PAIRS, per frame: the
/// group's index, start, length. Fields inside tshark's decrypted or reassembled data are
/// left out (their offsets are in another buffer).
type FieldRanges = BTreeMap<u64, Vec<(usize, usize, usize)>>;

fn tshark_field_ranges(path: &Path) -> FieldRanges {
    let out = Command::new("tshark")
        .args(["-n", "-T", "pdml", "-r"])
        .arg(path)
        .output()
        .expect("tshark runs");
    let pdml = String::from_utf8_lossy(&out.stdout);
    let mut by_frame = FieldRanges::new();
    let (mut frame, mut base, mut ikes) = (0u64, None::<usize>, 0);
    // names of the open elements, to leave out what is inside decrypted data
    let mut open: Vec<String> = Vec::new();
    for line in pdml.lines() {
        let line = line.trim();
        if line.starts_with("<packet>") {
            (base, ikes) = (None, 0);
        }
        if line.starts_with("</") {
            open.pop();
            continue;
        }
        let (Some(name), Some(pos), Some(size)) = (
            attr(line, "name"),
            attr(line, "pos").and_then(|p| p.parse::<usize>().ok()),
            attr(line, "size").and_then(|p| p.parse::<usize>().ok()),
        ) else {
            if line.starts_with('<') && !line.ends_with("/>") && !line.starts_with("<?") {
                open.push(String::new());
            }
            continue;
        };
        if name == "frame.number" {
            frame = attr(line, "show").and_then(|s| s.parse().ok()).unwrap_or(0);
        }
        if line.starts_with("<proto name=\"isakmp\"") {
            ikes += 1;
        }
        let hidden = open
            .iter()
            .any(|n| n == "isakmp.enc.decrypted" || n.contains("reassembled"));
        if name == "isakmp.ispi" && !hidden {
            base = Some(pos);
        }
        if let (Some(b), false, 1) = (base, hidden, ikes) {
            if let Some(g) = FIELD_PAIRS.iter().position(|(t, _)| t.contains(&name)) {
                by_frame
                    .entry(frame)
                    .or_default()
                    .push((g, pos.saturating_sub(b), size));
            }
        }
        if !line.ends_with("/>") {
            open.push(name.to_string());
        }
    }
    by_frame
}

fn attr<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let at = line.find(&key)? + key.len();
    let len = line.get(at..)?.find('"')?;
    line.get(at..at + len)
}

fn our_field_ranges(path: &Path) -> FieldRanges {
    use mobikectl::tui::capture_index::{CaptureIndex, LoadOptions};
    let index = CaptureIndex::load(LoadOptions {
        files: vec![path.to_path_buf()],
        ..LoadOptions::default()
    });
    let mut by_frame = FieldRanges::new();
    for m in index.messages.iter() {
        for line in index.tree_lines(m) {
            let (Some(name), Some(r)) = (line.text.split(": ").next(), line.bytes) else {
                continue;
            };
            if r.decrypted || !line.text.contains(": ") {
                continue;
            }
            if let Some(g) = FIELD_PAIRS.iter().position(|(_, o)| o.contains(&name)) {
                by_frame
                    .entry(m.frame)
                    .or_default()
                    .push((g, r.start, r.end - r.start));
            }
        }
    }
    by_frame
}

#[test]
fn the_payload_trees_field_bytes_agree_with_tshark_on_every_testdata_capture() {
    if !tshark_available() {
        assert!(
            std::env::var_os("MOBIKECTL_REQUIRE_TSHARK").is_none(),
            "tshark is required (MOBIKECTL_REQUIRE_TSHARK is set) but not installed"
        );
        eprintln!("SKIPPED: tshark not installed");
        return;
    }
    let mut files = Vec::new();
    captures(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata"),
        &mut files,
    );
    let (mut fields, mut frames_checked) = (0, 0);
    let mut failures = Vec::new();
    for path in &files {
        if tshark_skip_reason(path).is_some() {
            continue;
        }
        let theirs = tshark_field_ranges(path);
        let ours = our_field_ranges(path);
        // frames only one side reads as IKE (not-IKE traffic, a cut record) are the message
        // cross-check's business; here the layout of the messages both read
        for (frame, t) in &theirs {
            let Some(o) = ours.get(frame) else { continue };
            let (mut t, mut o) = (t.clone(), o.clone());
            t.sort();
            o.sort();
            if t != o {
                let only_t: Vec<_> = t.iter().filter(|x| !o.contains(x)).collect();
                let only_o: Vec<_> = o.iter().filter(|x| !t.contains(x)).collect();
                failures.push(format!(
                    "{} frame {frame}: only tshark {only_t:?}, only ours {only_o:?}",
                    path.display()
                ));
            } else {
                fields += t.len();
                frames_checked += 1;
            }
        }
    }
    eprintln!("{fields} field ranges in {frames_checked} messages agree with tshark");
    assert!(
        failures.is_empty(),
        "{} disagreements (group index into FIELD_PAIRS, offset, length):\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(fields > 1000, "only {fields} fields compared");
}
