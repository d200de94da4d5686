//! Every drill shipped in `drills/` runs on the embedded virtual lab (with the lab its
//! `# lab:` line asks for), every expectation holds and every `measure` is reported.
use std::path::{Path, PathBuf};
use std::process::Command;

use mobikectl::drill::run::{run_drill, RunOptions};
use mobikectl::drill::{parse_drill, report, DrillOutcome};
use mobikectl::embedded_lab::{LabOptions, VirtualLab};

/// The field problems the issue asks a drill for, by file name.
const SHIPPED: &[&str] = &[
    "address-loss.drill",
    "move-back.drill",
    "gateway-two-addresses.drill",
    "nat-rebinding.drill",
    "ipv6-to-ipv4.drill",
    "rekey-in-flight.drill",
    "three-child-sas.drill",
    "nat-idle-timeout.drill",
    "black-hole.drill",
    "gateway-address-lost.drill",
];

fn drills_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("drills")
}

fn run_text(name: &str, source: &str) -> DrillOutcome {
    let drill = parse_drill(name, source).unwrap_or_else(|e| panic!("{name}: {e:?}"));
    let options = LabOptions::from_drill(name, source).unwrap();
    let mut lab = VirtualLab::new(options).unwrap();
    run_drill(&drill, &mut lab, RunOptions::default()).unwrap()
}

fn run_shipped(name: &str) -> DrillOutcome {
    let source = std::fs::read_to_string(drills_dir().join(name)).unwrap();
    run_text(name, &source)
}

/// The names of the `measure` statements of a drill.
fn measure_names(source: &str) -> Vec<String> {
    source
        .lines()
        .filter_map(|l| {
            let l = l.split_once(':').map_or(
                l,
                |(node, rest)| {
                    if node.contains(' ') {
                        l
                    } else {
                        rest
                    }
                },
            );
            let mut words = l.split_whitespace();
            (words.next() == Some("measure")).then(|| words.next().map(str::to_string))?
        })
        .collect()
}

#[test]
fn every_shipped_drill_passes_on_the_virtual_lab_with_its_measurements() {
    let mut on_disk: Vec<String> = std::fs::read_dir(drills_dir())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".drill"))
        .collect();
    on_disk.sort();
    for name in SHIPPED {
        assert!(on_disk.iter().any(|n| n == name), "{name} is missing");
    }
    for name in &on_disk {
        let source = std::fs::read_to_string(drills_dir().join(name)).unwrap();
        assert!(
            source.lines().filter(|l| l.starts_with('#')).count() >= 3,
            "{name}: comments say which field problem it reproduces"
        );
        let outcome = run_text(name, &source);
        assert_eq!(
            outcome.exit_code(),
            0,
            "{}",
            report::text_report(&outcome, true)
        );
        let measures = measure_names(&source);
        assert!(!measures.is_empty(), "{name} measures something");
        for m in &measures {
            assert!(
                outcome.measurements.iter().any(|x| &x.name == m),
                "{name}: measurement {m} missing"
            );
        }
    }
}

#[test]
fn a_shipped_drill_gives_the_same_report_on_every_run() {
    for name in ["address-loss.drill", "nat-idle-timeout.drill"] {
        let a = report::json_report(&run_shipped(name), true);
        let b = report::json_report(&run_shipped(name), true);
        assert_eq!(a, b, "{name}");
    }
}

#[test]
fn a_keepalive_longer_than_the_nat_timeout_breaks_the_mapping() {
    let source = std::fs::read_to_string(drills_dir().join("nat-idle-timeout.drill")).unwrap();
    assert!(source.contains("keepalive=20s"));
    let slow = source.replace("keepalive=20s", "keepalive=40s");
    let outcome = run_text("slow-keepalive.drill", &slow);
    assert_eq!(outcome.exit_code(), 1);
    let failed: Vec<_> = outcome.failures().collect();
    assert!(
        failed[0].statement.starts_with("expect no nat_expired")
            && failed[0].detail.contains("public=127.0.0.100:40001"),
        "{failed:?}"
    );
    // the gateway's DPD goes to the forgotten mapping and is never answered
    assert!(failed
        .iter()
        .any(|s| s.statement.starts_with("responder: wait received")));
    assert!(outcome
        .events
        .iter()
        .any(|e| e.node == "responder" && e.name == "retransmit"));
}

#[test]
fn the_black_hole_is_found_without_any_address_event() {
    let outcome = run_shipped("black-hole.drill");
    assert!(!outcome.events.iter().any(|e| e.name == "local_addrs"));
    let escaped = outcome
        .measurements
        .iter()
        .find(|m| m.name == "black_hole_escaped")
        .unwrap();
    // DPD after 5 s, then retransmissions and probes: seconds, not minutes
    assert!(escaped.value.as_secs() >= 5 && escaped.value.as_secs() < 60);
}

#[test]
fn lab_lines_select_the_lab_and_bad_ones_are_refused() {
    let o = LabOptions::from_drill("x", "# lab: nat ipv6 nat-timeout=30s keepalive=1m dpd=5s\n")
        .unwrap();
    assert!(o.nat && o.ipv6);
    assert_eq!(o.nat_timeout.map(|d| d.as_secs()), Some(30));
    assert_eq!(o.keepalive.map(|d| d.as_secs()), Some(60));
    assert_eq!(o.dpd.map(|d| d.as_secs()), Some(5));
    assert_eq!(
        LabOptions::from_drill("x", "up\n").unwrap(),
        LabOptions::default()
    );
    let e = LabOptions::from_drill("x.drill", "\n# lab: nat wormhole\n").unwrap_err();
    assert!(
        e.starts_with("x.drill:2: lab: unknown option 'wormhole'"),
        "{e}"
    );
    let e = LabOptions::from_drill("x.drill", "# lab: dpd=soon\n").unwrap_err();
    assert!(e.contains("not a duration"), "{e}");

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.drill");
    std::fs::write(&bad, "# lab: wormhole\nup\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mobikectl"))
        .args(["drill", &bad.display().to_string(), "--lab"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown option 'wormhole'"));
    let shipped = drills_dir().join("ipv6-to-ipv4.drill");
    let out = Command::new(env!("CARGO_BIN_EXE_mobikectl"))
        .args(["drill", &shipped.display().to_string(), "--lab"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Every shipped drill also runs against strongSwan in namespaces (issue 10): each has its
/// variant in `drills/strongswan/` (same file name), which parses, and
/// `tests/interop_drills.rs` runs it (that test needs root; this check does not).
#[test]
fn every_shipped_drill_has_a_strongswan_variant_run_by_the_interop_tests() {
    let interop = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop_drills.rs"),
    )
    .unwrap();
    for name in SHIPPED {
        let path = drills_dir().join("strongswan").join(name);
        let source =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        parse_drill(name, &source).unwrap_or_else(|e| panic!("strongswan/{name}: {e:?}"));
        assert!(
            interop.contains(&format!("\"{name}\"")),
            "tests/interop_drills.rs does not run drills/strongswan/{name}"
        );
    }
}
