//! A `mobikectl peer` process for the loopback tests (`peer_loopback`, `peer_dataplane`):
//! stdin for commands, its stdout lines collected by a thread and waited for.
// each test crate uses the part it needs
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::UdpSocket;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_mobikectl");
/// How long a wait for an output line lasts before the test fails.
pub const WAIT: Duration = Duration::from_secs(15);

/// A running peer: stdin for commands, stdout lines collected by a thread.
pub struct Proc {
    pub child: Child,
    stdin: Option<ChildStdin>,
    rx: Receiver<String>,
    /// Every output line so far.
    pub seen: Vec<String>,
    /// Lines before it were returned by a wait, or passed over by one.
    pos: usize,
}

impl Proc {
    /// `mobikectl peer ARGS`.
    pub fn start(args: &[&str]) -> Proc {
        let mut cmd = Command::new(BIN);
        cmd.arg("peer").args(args);
        Proc::start_cmd(cmd)
    }

    pub fn start_cmd(cmd: Command) -> Proc {
        Proc::start_cmd_with_stdin(cmd, Stdio::piped())
    }

    pub fn start_cmd_with_stdin(mut cmd: Command, stdin: Stdio) -> Proc {
        let mut child = cmd
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn peer");
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Proc {
            stdin: child.stdin.take(),
            child,
            rx,
            seen: vec![],
            pos: 0,
        }
    }

    /// A command line to the peer's stdin.
    pub fn send(&mut self, l: &str) {
        let s = self.stdin.as_mut().unwrap();
        writeln!(s, "{l}").unwrap();
        s.flush().unwrap();
    }

    /// The next output line (after the last one returned) that satisfies `pred`.
    pub fn wait(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let end = Instant::now() + WAIT;
        loop {
            if let Some(i) = self.seen[self.pos..].iter().position(|l| pred(l)) {
                self.pos += i + 1;
                return self.seen[self.pos - 1].clone();
            }
            match self
                .rx
                .recv_timeout(end.saturating_duration_since(Instant::now()))
            {
                Ok(l) => self.seen.push(l),
                Err(_) => panic!("no {what}; output:\n{}", self.seen.join("\n")),
            }
        }
    }

    /// The next JSON event line named `event`.
    pub fn json(&mut self, event: &str) -> serde_json::Value {
        let tag = format!("\"event\":\"{event}\"");
        let l = self.wait(event, |l| l.contains(&tag));
        serde_json::from_str(&l).unwrap()
    }

    /// The next JSON event (after the last one returned) that satisfies `pred`.
    pub fn wait_json(
        &mut self,
        what: &str,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let l = self.wait(what, |l| {
            serde_json::from_str(l).is_ok_and(|v: serde_json::Value| pred(&v))
        });
        serde_json::from_str(&l).unwrap()
    }

    /// The next JSON event whose `event` field is `name`.
    pub fn event(&mut self, name: &str) -> serde_json::Value {
        self.wait_json(name, |v| v["event"] == name)
    }

    /// Close stdin and wait (10 s at most) for the exit code.
    pub fn exit_status(&mut self) -> i32 {
        self.stdin = None;
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s.code().unwrap_or(-1);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        panic!("peer did not exit");
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A UDP port free on 127.0.0.1 just now.
pub fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
