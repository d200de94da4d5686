//! Issue 11: "a 140,000-message capture stays responsive ... in at most 64 MB". The real
//! binary indexes the capture (strongSwan's MOBIKE move repeated 7,000 times,
//! tests/large_capture), and the kernel's count of its peak resident memory, everything
//! included (binary, index, analysis, allocator), is held to 64 MB: printing it (`--plain`,
//! the same loader) and browsing it in a real terminal.
//!
//! The optimised build is what is measured (`cargo test --release`, as in CI); a debug
//! build's code and speed say nothing about it.
mod large_capture;
mod tmux_common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// 64 MB (10^6 bytes) in KiB, the kernel's unit.
const LIMIT_KIB: u64 = 62_500;

const BIN: &str = env!("CARGO_BIN_EXE_mobikectl");

/// Runs `mobikectl tui --plain` on `capture`; its output and its peak resident memory (KiB).
fn plain_run(capture: &std::path::Path) -> (String, u64) {
    let out = std::env::temp_dir().join(format!("mobikectl-memory-{}.txt", std::process::id()));
    // reaped by wait4 below, which also reports the peak
    #[allow(clippy::zombie_processes)]
    let child = Command::new(BIN)
        .arg("tui")
        .arg("--plain")
        .arg(capture)
        .stdout(std::fs::File::create(&out).expect("output file"))
        .stderr(Stdio::inherit())
        .spawn()
        .expect("mobikectl");
    let pid = libc::pid_t::try_from(child.id()).expect("pid");
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child, with pointers to live locals.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "exit status {status}"
    );
    let text = std::fs::read_to_string(&out).expect("output");
    let _ = std::fs::remove_file(&out);
    (text, u64::try_from(usage.ru_maxrss).unwrap_or(u64::MAX))
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "measures the optimised build: cargo test --release"
)]
fn printing_the_140k_capture_peaks_under_64_mb() {
    let capture = large_capture::big_capture();
    let (text, peak_kib) = plain_run(&capture);
    // every message was indexed, with its SA, and the analysis' events came too
    let messages = text.lines().filter(|l| l.contains(" mid=")).count();
    assert_eq!(messages, 140_000);
    assert!(text.contains("frame 140000 SA #6999 "), "the last SA");
    let events = text.lines().filter(|l| l.contains(": SA #")).count();
    assert!(events >= 7_000 * 9, "{events} events");
    assert_under_limit("tui --plain", peak_kib, "");
}

/// Prints the peak (MB) and holds it to the limit.
fn assert_under_limit(what: &str, peak_kib: u64, also: &str) {
    eprintln!(
        "{what} on 140,000 messages: peak resident {:.1} MB{also}",
        peak_kib as f64 * 1.024 / 1000.0
    );
    assert!(
        peak_kib <= LIMIT_KIB,
        "{what}: peak resident memory {peak_kib} KiB is over 64 MB"
    );
}

/// `VmHWM` (peak resident, KiB) of a process.
fn peak_of(pid: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmHWM")
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "measures the optimised build: cargo test --release"
)]
fn browsing_the_140k_capture_peaks_under_64_mb_and_answers_keys() {
    let capture = large_capture::big_capture();
    let cmd = format!("{BIN} tui {}", capture.display());
    let Some(t) = tmux_common::Tmux::start("memory", 120, 36, &[], &cmd) else {
        return;
    };
    t.wait_for_within(
        "140000 IKE messages · 7000 IKE SAs",
        Duration::from_secs(60),
    );
    let pid = t.ui_pid();
    assert!(!pid.is_empty(), "the UI's process");
    // the end of the list, then up: the screen follows at once
    let asked = Instant::now();
    t.keys(&["End"]);
    t.wait_for("Message, frame 140000 INFORMATIONAL");
    t.keys(&["k"]);
    t.wait_for("Message, frame 139999 INFORMATIONAL");
    let answered = asked.elapsed();
    let peak_kib = peak_of(&pid);
    assert_under_limit(
        "tui",
        peak_kib,
        &format!("; End then k answered in {answered:?}"),
    );
    t.keys(&["q"]);
    t.wait_exit();
}
