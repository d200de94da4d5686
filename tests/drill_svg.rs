//! `--svg FILE` of `mobikectl lab` and `mobikectl drill`: the picture is written,
//! well-formed, and has a lane for every path of the run.

use std::collections::BTreeSet;
use std::process::{Command, Output};

use serde_json::Value;

fn mobikectl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mobikectl"))
        .args(args)
        .output()
        .unwrap()
}

/// Tags nest and close, attributes are quoted, `&` starts an entity.
fn well_formed(xml: &str) -> Result<(), String> {
    let mut open: Vec<&str> = vec![];
    let mut rest = xml;
    while let Some(start) = rest.find('<') {
        bare_ampersand(&rest[..start])?;
        let end = rest[start..].find('>').ok_or("unclosed tag")? + start;
        let tag = &rest[start + 1..end];
        rest = &rest[end + 1..];
        if tag.starts_with('?') || tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            if open.pop() != Some(name.trim()) {
                return Err(format!("</{name}> does not close the open tag"));
            }
        } else if !tag.matches('"').count().is_multiple_of(2) || tag.contains('<') {
            return Err(format!("bad attributes in <{tag}>"));
        } else if !tag.ends_with('/') {
            open.push(tag.split_whitespace().next().unwrap_or(""));
        }
    }
    bare_ampersand(rest)?;
    if open.is_empty() {
        Ok(())
    } else {
        Err(format!("not closed: {open:?}"))
    }
}

fn bare_ampersand(text: &str) -> Result<(), String> {
    for (i, _) in text.match_indices('&') {
        let entity = text[i..].split(';').next().unwrap_or("");
        if !["&amp", "&lt", "&gt", "&quot", "&apos"].contains(&entity) {
            return Err(format!("bare & in {text:?}"));
        }
    }
    Ok(())
}

/// Every path (local, remote) the events of a JSON report mention.
fn paths_of(report: &Value) -> BTreeSet<(String, String)> {
    let mut paths = BTreeSet::new();
    for e in report["events"].as_array().unwrap() {
        let ends = match e["event"].as_str().unwrap() {
            "path" | "sent" | "received" | "ike_up" => (&e["local"], &e["remote"]),
            "moved" => (&e["new"]["local"], &e["new"]["remote"]),
            _ => continue,
        };
        if let (Some(l), Some(r)) = (ends.0.as_str(), ends.1.as_str()) {
            paths.insert((l.to_string(), r.to_string()));
        }
    }
    paths
}

fn check_picture(svg: &str, report: &Value) {
    well_formed(svg).unwrap();
    let paths = paths_of(report);
    assert!(paths.len() >= 4, "{paths:?}");
    for (l, r) in paths {
        let lane = format!("{l} \u{2194} {r}");
        let mirror = format!("{r} \u{2194} {l}");
        assert!(
            svg.contains(&lane) || svg.contains(&mirror),
            "no lane for {lane}"
        );
    }
}

#[test]
fn lab_writes_a_picture_with_every_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("run.svg");
    let out = mobikectl(&["lab", "--virtual", "--svg", file.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(&format!("picture: {}", file.display())),
        "{text}"
    );
    let svg = std::fs::read_to_string(&file).unwrap();
    assert!(svg.contains("drill drills/default.drill"));
    assert!(svg.contains("moved: address_lost"));
    let json = mobikectl(&["lab", "--virtual", "--report", "json", "--events"]);
    let report: Value = serde_json::from_slice(&json.stdout).unwrap();
    check_picture(&svg, &report);
}

#[test]
fn drill_with_a_nat_writes_the_same_picture_as_lab() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.svg"), dir.path().join("b.svg"));
    let drill = concat!(env!("CARGO_MANIFEST_DIR"), "/drills/nat.drill");
    let out = mobikectl(&[
        "drill",
        drill,
        "--lab",
        "--nat",
        "--report",
        "json",
        "--events",
        "--svg",
        a.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{out:?}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["svg"], a.display().to_string());
    let svg = std::fs::read_to_string(&a).unwrap();
    check_picture(&svg, &report);
    let again = mobikectl(&[
        "drill",
        drill,
        "--lab",
        "--nat",
        "--svg",
        b.to_str().unwrap(),
    ]);
    assert!(again.status.success());
    assert_eq!(svg, std::fs::read_to_string(&b).unwrap(), "deterministic");
}

#[test]
fn an_unwritable_picture_is_exit_code_2() {
    let out = mobikectl(&["lab", "--virtual", "--svg", "/nonexistent-dir/x.svg"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--svg /nonexistent-dir/x.svg"));
}
