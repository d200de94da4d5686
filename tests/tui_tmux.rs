//! The terminal UI end to end in tmux: the real binary in a real terminal, driven by keys,
//! its screen read back (text and escape codes). Skipped with a message where tmux is
//! missing (`.ci/install-packages` installs it).
mod tmux_common;

use std::path::PathBuf;
use std::process::Command;

use tmux_common::Tmux;

const BIN: &str = env!("CARGO_BIN_EXE_mobikectl");

fn repo(p: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(p)
        .display()
        .to_string()
}

fn browser_command() -> String {
    format!(
        "{BIN} tui {} -k {}",
        repo("testdata/strongswan-move/cap-moon.pcap"),
        repo("testdata/strongswan-move/ikev2_decryption_table")
    )
}

/// Esc, then the screen back in normal mode (the key hints): a key sent right after a bare
/// Esc would be read with it as Alt-key.
fn escape(t: &Tmux) {
    t.keys(&["Escape"]);
    t.wait_for("Tab pane");
}

#[test]
fn the_browser_filters_expands_and_highlights_in_a_real_terminal() {
    let Some(t) = Tmux::start("browser", 120, 36, &[], &browser_command()) else {
        return;
    };
    t.wait_for("20 IKE messages");
    t.keys(&["/"]);
    t.typed("notify==UPDATE_SA_ADDRESSES");
    t.wait_for("✓");
    t.keys(&["Enter"]);
    let s = t.wait_for("shown 1/20");
    assert!(s.contains("frame 9 INFORMATIONAL mid 3"), "{s}");
    // the tree: down to the first inner payload, whose bytes are highlighted in the
    // decrypted content
    t.keys(&["3", "Down", "Down", "Down", "Down"]);
    let s = t.wait_for("Bytes (decrypted SK content)");
    assert!(s.contains("N(UPDATE_SA_ADDRESSES)"), "{s}");
    // its fields unfold: the notify type is two bytes of it
    t.keys(&["Right", "Down", "Down", "Down", "Down", "Down", "Down"]);
    t.wait_for("notify message type: UPDATE_SA_ADDRESSES (16400)");
    let esc = t.screen_with_escapes();
    assert!(
        esc.contains("\x1b[7m") || esc.contains(";7m"),
        "no reversed cells:\n{esc}"
    );
    // a bad filter says what is wrong, and the list is unchanged
    t.keys(&["/", "C-u"]);
    t.typed("exch == NOPE");
    t.wait_for("is not an exchange");
    escape(&t);
    t.keys(&["?"]);
    t.wait_for("next-mobike");
    escape(&t);
    t.keys(&["q"]);
    assert_eq!(t.wait_exit(), "0");
    // the terminal was restored: the alternate screen is gone
    let s = t.screen();
    assert!(!s.contains("Bytes (decrypted"), "{s}");
    t.assert_restored();
}

#[test]
fn ctrl_f_finds_decrypted_text_and_n_goes_on_in_a_real_terminal() {
    let Some(t) = Tmux::start("search", 120, 36, &[], &browser_command()) else {
        return;
    };
    t.wait_for("20 IKE messages");
    // COOKIE2's value is only in the decrypted payloads of frames 9 and 10
    t.keys(&["C-f"]);
    t.wait_for("Find:");
    t.typed("69D2243E");
    t.keys(&["Enter"]);
    let s = t.wait_for("found '69D2243E' in frame 9");
    assert!(s.contains("frame 9 INFORMATIONAL mid 3"), "{s}");
    t.keys(&["n"]);
    t.wait_for("found '69D2243E' in frame 10");
    t.keys(&["n"]);
    t.wait_for("in frame 9 (wrapped to the top)");
    t.keys(&["C-f", "C-u"]);
    t.typed("nowhere to be found");
    t.keys(&["Enter"]);
    t.wait_for("not found: 'nowhere to be found'");
    // the lanes: pane 5, the move on its own row
    escape(&t);
    t.keys(&["5", "j", "j", "j"]);
    let s = t.wait_for("moved B->C UPDATE_SA_ADDRESSES");
    assert!(
        s.contains("C* 198.51.100.10:4500 - 203.0.113.1:4500"),
        "{s}"
    );
    t.keys(&["q"]);
    assert_eq!(t.wait_exit(), "0");
}

#[test]
fn the_browser_without_colour_keeps_the_selection_reversed() {
    let Some(t) = Tmux::start("mono", 80, 24, &[("NO_COLOR", "1")], &browser_command()) else {
        return;
    };
    t.wait_for("20 IKE messages");
    t.keys(&["3"]);
    t.wait_for("[3 Message");
    let esc = t.screen_with_escapes();
    // no colour codes at all, and reversed video still there
    for colour in ["[31m", "[32m", "[33m", "[35m", "[36m", ";31m", ";36m"] {
        assert!(
            !esc.contains(colour),
            "colour {colour:?} under NO_COLOR:\n{esc}"
        );
    }
    assert!(esc.contains("7m"), "no reversed video:\n{esc}");
    t.keys(&["q"]);
    assert_eq!(t.wait_exit(), "0");
}

/// The browser killed by `signal`: it leaves as after `q`.
fn a_signal_restores_the_terminal(signal: &str) {
    let Some(t) = Tmux::start(signal, 100, 30, &[], &browser_command()) else {
        return;
    };
    t.wait_for("20 IKE messages");
    let pid = t.ui_pid();
    assert!(!pid.is_empty(), "no UI process");
    let ok = Command::new("kill")
        .args([&format!("-{signal}"), &pid])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    assert_eq!(t.wait_exit(), "0");
    let s = t.screen();
    assert!(!s.contains("IKE messages"), "{s}");
    t.assert_restored();
}

#[test]
fn sigterm_restores_the_terminal() {
    a_signal_restores_the_terminal("TERM");
}

#[test]
fn sighup_restores_the_terminal() {
    a_signal_restores_the_terminal("HUP");
}

#[test]
fn a_panic_restores_the_terminal_before_its_message() {
    let env = [("MOBIKECTL_TUI_PANIC_KEY", "F9")];
    let Some(t) = Tmux::start("panic", 100, 30, &env, &browser_command()) else {
        return;
    };
    t.wait_for("20 IKE messages");
    t.keys(&["j", "F9"]);
    assert_eq!(t.wait_exit(), "101");
    // the message is on the normal screen, readable, not lost in the alternate one
    let s = t.screen();
    assert!(
        s.contains("panic asked for by MOBIKECTL_TUI_PANIC_KEY"),
        "{s}"
    );
    assert!(!s.contains("IKE messages"), "{s}");
    t.assert_restored();
}

#[test]
fn quitting_restores_the_terminal() {
    let Some(t) = Tmux::start("quit", 100, 30, &[], &browser_command()) else {
        return;
    };
    t.wait_for("20 IKE messages");
    t.keys(&["q"]);
    assert_eq!(t.wait_exit(), "0");
    t.assert_restored();
}

#[test]
fn lab_in_a_terminal_runs_a_failover_drill_by_keys() {
    let Some(t) = Tmux::start("lab", 120, 36, &[], &format!("{BIN} lab")) else {
        return;
    };
    let s = t.wait_for("initiator #1 Established");
    assert!(s.contains("UNTESTED (current)"), "{s}");
    // ping through the CHILD_SA, then take the SA's address away (pane 2, first address)
    t.keys(&["P"]);
    t.wait_for("ping 10.1.0.1 running");
    t.keys(&["2", "a"]);
    let s = t.wait_for("address_lost");
    assert!(s.contains("127.0.0.2 removed"), "{s}");
    t.wait_for("ADDRESS DOWN");
    // probe from pane 1: the paths from the other address test ok
    t.keys(&["1", "p"]);
    let s = t.wait_for("OK (current)");
    assert!(s.contains("127.0.0.3"), "{s}");
    // give the address back: the SA returns to its configured pair
    t.keys(&["2", "a"]);
    t.wait_for("address_gained");
    t.keys(&["q"]);
    t.wait_for("quit? the IKE SAs are deleted");
    t.keys(&["y"]);
    assert_eq!(t.wait_exit(), "0");
}

#[test]
fn closing_the_terminal_ends_the_ui_instead_of_spinning() {
    let Some(t) = Tmux::start("hangup", 100, 30, &[], &browser_command()) else {
        return;
    };
    t.wait_for("20 IKE messages");
    let pid = t.ui_pid();
    assert!(!pid.is_empty(), "no UI process");
    // the window goes away: the terminal hangs up under the UI
    t.tmux(&["kill-server"]);
    let proc_dir = std::path::PathBuf::from(format!("/proc/{pid}"));
    let start = std::time::Instant::now();
    while proc_dir.exists() && start.elapsed() < std::time::Duration::from_secs(5) {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let gone = !proc_dir.exists()
        || std::fs::read_to_string(proc_dir.join("stat")).is_ok_and(|s| s.contains(") Z "));
    if !gone {
        let _ = Command::new("kill").args(["-9", &pid]).status();
    }
    assert!(gone, "the UI still runs 5 s after its terminal closed");
}

#[test]
fn pasted_text_goes_into_the_filter_bar_and_runs_no_commands_elsewhere() {
    let Some(t) = Tmux::start("paste", 120, 36, &[], &browser_command()) else {
        return;
    };
    t.wait_for("20 IKE messages");
    // in the list, pasted keys are not commands: "q" would quit, "/" open the bar
    t.paste("q/x");
    t.keys(&["?"]);
    t.wait_for("next-mobike");
    escape(&t);
    t.keys(&["/"]);
    t.paste("notify==UPDATE_SA_ADDRESSES");
    t.wait_for("✓");
    t.keys(&["Enter"]);
    let s = t.wait_for("shown 1/20");
    assert!(s.contains("frame 9 INFORMATIONAL mid 3"), "{s}");
    t.keys(&["q"]);
    assert_eq!(t.wait_exit(), "0");
}

#[test]
fn the_loopback_lab_decodes_a_logged_exchange_with_the_engines_keys() {
    let Some(t) = Tmux::start("lab-decode", 120, 36, &[], &format!("{BIN} lab")) else {
        return;
    };
    t.wait_for("initiator #1 Established");
    // the event log, filtered to the IKE_AUTH exchange; the last line is selected
    t.keys(&["4", "/"]);
    t.typed("IKE_AUTH response");
    t.keys(&["Enter"]);
    t.wait_for("Events matching 'IKE_AUTH response'");
    t.keys(&["Enter"]);
    // the loopback lab's own capture, decrypted with its key log: IDr is inside SK
    let s = t.wait_for("integrity=ok");
    assert!(s.contains("Message: "), "{s}");
    assert!(s.contains("IKE_AUTH response mid 1"), "{s}");
    assert!(s.contains("IDr"), "{s}");
    assert!(s.contains("Bytes (decrypted SK content"), "{s}");
    // the selected payload's fields unfold
    t.keys(&["Right"]);
    t.wait_for("payload length: ");
    escape_live(&t);
    t.keys(&["q"]);
    t.wait_for("quit? the IKE SAs are deleted");
    t.keys(&["y"]);
    assert_eq!(t.wait_exit(), "0");
}

/// Esc out of the live message overlay, then the screen back in normal mode.
fn escape_live(t: &Tmux) {
    t.keys(&["Escape"]);
    t.wait_for("a addr away/back");
}
