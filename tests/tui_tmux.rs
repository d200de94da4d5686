//! The terminal UI end to end in tmux: the real binary in a real terminal, driven by keys,
//! its screen read back (text and escape codes). Skipped with a message where tmux is
//! missing (`.ci/install-packages` installs it).
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_mobikectl");

fn repo(p: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(p)
        .display()
        .to_string()
}

/// A tmux server of its own (its own socket), killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(name: &str, width: u16, height: u16, env: &[(&str, &str)], cmd: &str) -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            eprintln!("skipped: tmux is not installed (bash .ci/install-packages)");
            return None;
        }
        let t = Tmux {
            socket: format!("mobikectl-{name}-{}", std::process::id()),
        };
        let mut full = String::new();
        for (k, v) in env {
            full.push_str(&format!("{k}={v} "));
        }
        // the shell prints the exit status on the normal screen once the UI left its own
        full.push_str(&format!("{cmd}; echo EXIT=$?; sleep 60"));
        let ok = Command::new("tmux")
            .args(["-L", &t.socket, "-f", "/dev/null", "new-session", "-d"])
            .args(["-x", &width.to_string(), "-y", &height.to_string()])
            .args(["-e", "TERM=xterm-256color"])
            .arg(&full)
            .status()
            .expect("tmux")
            .success();
        assert!(ok, "tmux new-session failed");
        Some(t)
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        for k in keys {
            self.tmux(&["send-keys", "-t", "0", k]);
        }
    }

    fn typed(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "0", "-l", text]);
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "0"])
    }

    fn screen_with_escapes(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-e", "-t", "0"])
    }

    /// Waits (at most 10 s) until the screen shows `what`.
    fn wait_for(&self, what: &str) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(what) {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "'{what}' never appeared; the screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the program exited; its exit status, as the shell printed it.
    fn wait_exit(&self) -> String {
        let s = self.wait_for("EXIT=");
        s.lines()
            .find_map(|l| l.trim().strip_prefix("EXIT="))
            .unwrap_or("")
            .trim()
            .to_string()
    }

    /// The UI's process id (the shell's child).
    fn ui_pid(&self) -> String {
        let shell = self.tmux(&["display-message", "-p", "-t", "0", "#{pane_pid}"]);
        let out = Command::new("pgrep")
            .args(["-P", shell.trim()])
            .output()
            .expect("pgrep");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .to_string()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

fn browser_command() -> String {
    format!(
        "{BIN} tui {} -k {}",
        repo("testdata/strongswan-move/cap-moon.pcap"),
        repo("testdata/strongswan-move/ikev2_decryption_table")
    )
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
    t.keys(&["3", "Down", "Down", "Down"]);
    let s = t.wait_for("Bytes (decrypted SK content)");
    assert!(s.contains("N(UPDATE_SA_ADDRESSES)"), "{s}");
    let esc = t.screen_with_escapes();
    assert!(
        esc.contains("\x1b[7m") || esc.contains(";7m"),
        "no reversed cells:\n{esc}"
    );
    // a bad filter says what is wrong, and the list is unchanged
    t.keys(&["/", "C-u"]);
    t.typed("exch == NOPE");
    t.wait_for("is not an exchange");
    t.keys(&["Escape"]);
    t.keys(&["?"]);
    t.wait_for("next-mobike");
    t.keys(&["Escape", "q"]);
    assert_eq!(t.wait_exit(), "0");
    // the terminal was restored: the alternate screen is gone
    let s = t.screen();
    assert!(!s.contains("Bytes (decrypted"), "{s}");
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

#[test]
fn sigterm_restores_the_terminal() {
    let Some(t) = Tmux::start("sigterm", 100, 30, &[], &browser_command()) else {
        return;
    };
    t.wait_for("20 IKE messages");
    let pid = t.ui_pid();
    assert!(!pid.is_empty(), "no UI process");
    let ok = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    assert_eq!(t.wait_exit(), "0");
    let s = t.screen();
    assert!(!s.contains("IKE messages"), "{s}");
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
