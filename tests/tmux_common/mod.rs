//! A tmux server of its own for end-to-end tests of the terminal UI: start a command in a
//! real terminal, send keys, read the screen back (text and escape codes).
#![allow(dead_code)]

use std::process::Command;
use std::time::{Duration, Instant};

/// A tmux server of its own (its own socket), killed on drop.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    pub fn start(
        name: &str,
        width: u16,
        height: u16,
        env: &[(&str, &str)],
        cmd: &str,
    ) -> Option<Tmux> {
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
        // the shell prints the exit status on the normal screen once the UI left its own,
        // then the terminal's line modes (raw mode left on would show -icanon -echo -isig)
        full.push_str(&format!(
            "{cmd}; echo EXIT=$?; echo MODES=$(stty -a | tr -s ' ;' '\\n' | grep -xE -- '-?(isig|icanon|echo)' | tr '\\n' ' '); sleep 60"
        ));
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

    pub fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn keys(&self, keys: &[&str]) {
        for k in keys {
            self.tmux(&["send-keys", "-t", "0", k]);
        }
    }

    pub fn typed(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "0", "-l", text]);
    }

    /// Pastes `text` as a terminal does with bracketed paste on (the UI asked for it).
    pub fn paste(&self, text: &str) {
        self.tmux(&["set-buffer", "--", text]);
        self.tmux(&["paste-buffer", "-p", "-t", "0"]);
    }

    pub fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "0"])
    }

    pub fn screen_with_escapes(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-e", "-t", "0"])
    }

    /// Waits (at most 10 s) until the screen shows `what`.
    pub fn wait_for(&self, what: &str) -> String {
        self.wait_for_within(what, Duration::from_secs(10))
    }

    /// Waits (at most `limit`) until the screen shows `what`.
    pub fn wait_for_within(&self, what: &str, limit: Duration) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(what) {
                return s;
            }
            assert!(
                start.elapsed() < limit,
                "'{what}' never appeared; the screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the program exited; its exit status, as the shell printed it.
    pub fn wait_exit(&self) -> String {
        let s = self.wait_for("EXIT=");
        s.lines()
            .find_map(|l| l.trim().strip_prefix("EXIT="))
            .unwrap_or("")
            .trim()
            .to_string()
    }

    /// After [`Tmux::wait_exit`]: the line modes the shell found, e.g. `isig icanon echo`.
    pub fn line_modes(&self) -> String {
        let s = self.wait_for("MODES=");
        s.lines()
            .find_map(|l| l.trim().strip_prefix("MODES="))
            .unwrap_or("")
            .trim()
            .to_string()
    }

    /// Asserts the terminal is back as it was: line modes on, normal screen, cursor shown.
    pub fn assert_restored(&self) {
        assert_eq!(self.line_modes(), "isig icanon echo", "raw mode left on");
        let flags = self.tmux(&[
            "display-message",
            "-p",
            "-t",
            "0",
            "#{alternate_on} #{cursor_flag}",
        ]);
        assert_eq!(
            flags.trim(),
            "0 1",
            "alternate screen or hidden cursor left"
        );
    }

    /// The UI's process id (the shell's child).
    pub fn ui_pid(&self) -> String {
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
