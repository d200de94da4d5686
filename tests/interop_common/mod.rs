//! The shared harness of the strongSwan interop tests (`mod interop_common;` in a
//! `tests/interop_*.rs` file): [`Lab`] builds a topology of `strongswan-lab/interop/lab.sh` with a
//! strongSwan charon ("moon", optionally "carol") and tears it down on drop, [`Peer`] runs
//! `mobikectl peer` in the peer namespace and reads its JSON events, plus charon_conf
//! option builders, the key-log check and capture helpers.
//!
//! Needs root (CAP_NET_ADMIN) and the packages from `.ci/install-packages`; without them
//! [`lab_available`] prints why and a test returns early (MOBIKECTL_REQUIRE_INTEROP=1 makes
//! a skip a failure).

// each test file uses a part of the harness
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const PSK: &str = "mobikectl-lab-psk-0123456789";
pub const BIN: &str = env!("CARGO_BIN_EXE_mobikectl");
pub const WAIT: Duration = Duration::from_secs(20);

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn script() -> PathBuf {
    repo().join("strongswan-lab/interop/lab.sh")
}

/// `target/` (the directory holding `debug/mobikectl`).
pub fn target_dir() -> PathBuf {
    Path::new(BIN)
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| repo().join("target"))
}

pub fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Can the lab run here? Prints why not.
pub fn lab_available(test: &str) -> bool {
    let mut missing = Vec::new();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        missing.push("root (CAP_NET_ADMIN)".to_string());
    }
    if !Path::new("/usr/lib/ipsec/charon").exists() {
        missing.push("strongSwan charon (/usr/lib/ipsec/charon)".to_string());
    }
    for c in ["swanctl", "tcpdump", "nft", "conntrack", "ip", "tshark"] {
        if !have(c) {
            missing.push(c.to_string());
        }
    }
    if missing.is_empty() {
        return true;
    }
    let msg = format!(
        "skipping interop test {test}: needs {}. Install the packages with \
         `sudo bash .ci/install-packages` and run `sudo -E cargo test --test interop_strongswan`",
        missing.join(", ")
    );
    if std::env::var_os("MOBIKECTL_REQUIRE_INTEROP").is_some_and(|v| v == "1") {
        panic!("{msg} (MOBIKECTL_REQUIRE_INTEROP=1)");
    }
    // straight to fd 2: the test harness captures eprintln! of passing tests
    let _ = writeln!(std::io::stderr(), "{msg}");
    false
}

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A running lab; torn down on drop.
pub struct Lab {
    pub prefix: String,
    pub dir: PathBuf,
    pub vars: Vec<(String, String)>,
}

impl Lab {
    /// Build topology `topo` with moon's charon configured by `charon` (strongswan-lab/lib.sh
    /// `charon_conf` options). `None`: skipped.
    pub fn up(test: &str, topo: &str, charon: &[&str]) -> Option<Lab> {
        Lab::up_in(test, target_dir().join("interop").join(test), topo, charon)
    }

    /// [`Lab::up`] with the lab directory `dir` (captures, logs, configs).
    pub fn up_in(test: &str, dir: PathBuf, topo: &str, charon: &[&str]) -> Option<Lab> {
        if !lab_available(test) {
            return None;
        }
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create interop dir");
        let prefix = format!(
            "mi{}x{}",
            std::process::id() % 100_000,
            SEQ.fetch_add(1, Ordering::SeqCst)
        );
        let out = Command::new("bash")
            .arg(script())
            .args(["up", topo, &prefix])
            .arg(&dir)
            .args(charon)
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .expect("run lab.sh");
        let lab = Lab {
            prefix,
            dir,
            vars: String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        assert!(
            out.status.success(),
            "lab.sh up failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(lab.dir.join("psk"), format!("{PSK}\n")).unwrap();
        Some(lab)
    }

    pub fn var(&self, k: &str) -> String {
        self.vars
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("lab variable {k} missing: {:?}", self.vars))
    }

    pub fn swanctl(&self, args: &[&str]) -> String {
        let out = Command::new("bash")
            .arg(script())
            .args(["swanctl", &self.prefix])
            .arg(&self.dir)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("swanctl");
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    pub fn list_sas(&self) -> String {
        self.swanctl(&["--list-sas"])
    }

    pub fn charon_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("moon/charon.log")).unwrap_or_default()
    }

    /// Wait until moon's charon log contains `needle`.
    pub fn wait_log(&self, needle: &str) {
        let end = Instant::now() + WAIT;
        while Instant::now() < end {
            if self.charon_log().contains(needle) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "charon log never showed '{needle}' (see {})",
            self.dir.display()
        );
    }

    /// Wait until `swanctl --list-sas` satisfies `pred`.
    pub fn wait_sas(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let end = Instant::now() + WAIT;
        let mut last = String::new();
        while Instant::now() < end {
            last = self.list_sas();
            if pred(&last) {
                return last;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("swanctl --list-sas never showed {what}:\n{last}");
    }

    /// `lab.sh CMD PREFIX ARGS...` (the commands that act on a running lab); panics with
    /// lab.sh's stderr when it fails.
    pub fn lab_sh(&self, cmd: &str, args: &[&str]) -> String {
        let out = Command::new("bash")
            .arg(script())
            .args([cmd, &self.prefix])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run lab.sh");
        assert!(
            out.status.success(),
            "lab.sh {cmd} {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Start a second charon `node` (e.g. `carol`) in the peer namespace, configured by
    /// `charon` (charon_conf options); its config and log are in `<dir>/<node>/`.
    pub fn charon(&self, node: &str, charon: &[&str]) {
        let dir = self.dir.display().to_string();
        let mut a = vec![dir.as_str(), node, "--ns", "peer"];
        a.extend_from_slice(charon);
        self.lab_sh("charon", &a);
    }

    /// swanctl against `node`'s charon (`moon` or one started by [`Lab::charon`]).
    pub fn swanctl_node(&self, node: &str, args: &[&str]) -> String {
        let dir = self.dir.display().to_string();
        let out = Command::new("bash")
            .arg(script())
            .args(["swanctl", &self.prefix, &dir, "--node", node])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("swanctl");
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    /// `node`'s charon log.
    pub fn node_log(&self, node: &str) -> String {
        std::fs::read_to_string(self.dir.join(node).join("charon.log")).unwrap_or_default()
    }

    /// Wait until `node`'s charon log contains `needle`.
    pub fn wait_node_log(&self, node: &str, needle: &str) {
        self.wait_node_log_count(node, needle, 1);
    }

    /// How many times `node`'s charon log contains `needle`.
    pub fn node_log_count(&self, node: &str, needle: &str) -> usize {
        self.node_log(node).matches(needle).count()
    }

    /// Wait until `node`'s charon log contains `needle` at least `n` times.
    pub fn wait_node_log_count(&self, node: &str, needle: &str, n: usize) {
        let end = Instant::now() + WAIT;
        while Instant::now() < end {
            if self.node_log_count(node, needle) >= n {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "{node}'s charon log never showed '{needle}' {n} time(s) (see {})",
            self.dir.join(node).display()
        );
    }

    /// Address loss or gain in namespace `ns`: `op` is `add`, `del` or `flush` (`cidr`
    /// optional for `flush`).
    pub fn addr(&self, ns: &str, op: &str, iface: &str, cidr: Option<&str>) {
        let mut a = vec![ns, op, iface];
        a.extend(cidr);
        self.lab_sh("addr", &a);
    }

    /// `ip link set dev IFACE up|down` in namespace `ns` (down keeps the addresses).
    pub fn link(&self, ns: &str, iface: &str, up: bool) {
        self.lab_sh("link", &[ns, iface, if up { "up" } else { "down" }]);
    }

    /// Drop `percent` % of the UDP packets in and out of `ns` (through `iface`, default all
    /// its links) at random, silently; 0 removes the loss.
    pub fn loss(&self, ns: &str, percent: u32, iface: Option<&str>) {
        let p = percent.to_string();
        let mut a = vec![ns, p.as_str()];
        a.extend(iface);
        self.lab_sh("loss", &a);
    }

    /// Silently drop everything from and to `addr` in `ns` (no address or route event).
    pub fn blackhole(&self, ns: &str, addr: &str, on: bool) {
        self.lab_sh("blackhole", &[ns, addr, if on { "on" } else { "off" }]);
    }

    /// Forget the NAT's UDP mappings (`nat4`, `dualnat`): the next packet gets a new one.
    pub fn rebind(&self) {
        self.lab_sh("rebind", &[]);
    }

    /// Run `cmd` in namespace `ns` of this lab; its stdout.
    pub fn nsexec(&self, ns: &str, cmd: &[&str]) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &format!("{}-{ns}", self.prefix)])
            .args(cmd)
            .stdin(Stdio::null())
            .output()
            .expect("ip netns exec");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Stop the charon(s) running in namespace `ns` (SIGTERM, by process id, then wait up
    /// to 5 s): frees the IKE ports for a mobikectl there ([`Lab::peer_in`]).
    pub fn stop_charon(&self, ns: &str) {
        let pids: Vec<i32> = self
            .nsexec_ip(&["netns", "pids", &format!("{}-{ns}", self.prefix)])
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .filter(|p| {
                std::fs::read_to_string(format!("/proc/{p}/comm"))
                    .is_ok_and(|c| c.trim() == "charon")
            })
            .collect();
        assert!(!pids.is_empty(), "no charon in {ns}");
        for p in &pids {
            // SAFETY: kill has no memory preconditions; the pids are charons of this lab
            unsafe { libc::kill(*p, libc::SIGTERM) };
        }
        let end = Instant::now() + Duration::from_secs(5);
        while pids
            .iter()
            .any(|p| Path::new(&format!("/proc/{p}")).exists())
        {
            assert!(Instant::now() < end, "charon in {ns} did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn nsexec_ip(&self, args: &[&str]) -> String {
        let out = Command::new("ip")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("ip");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn path(&self, f: &str) -> String {
        self.dir.join(f).display().to_string()
    }

    /// Start `mobikectl peer` in the peer namespace with `--psk-file` (unless `args`
    /// has `--cert`), `--keylog` and `--pcap` into the lab directory plus `args`.
    pub fn peer(&self, args: &[&str]) -> Peer {
        self.peer_in("peer", "", args)
    }

    /// [`Lab::peer`] in namespace `ns` (e.g. a second mobikectl in `moon`, see
    /// [`Lab::stop_charon`]), its files named with the prefix `tag` (`""`: `keys.log`,
    /// `own.pcapng`, `events.jsonl`, `peer.stderr`; `"moon-"`: `moon-keys.log`, ...).
    pub fn peer_in(&self, ns: &str, tag: &str, args: &[&str]) -> Peer {
        let mut cmd = Command::new("ip");
        cmd.args([
            "netns",
            "exec",
            &format!("{}-{ns}", self.prefix),
            BIN,
            "peer",
        ]);
        if !args.contains(&"--cert") {
            cmd.args(["--psk-file", &self.path("psk")]);
        }
        cmd.args(["--keylog", &self.path(&format!("{tag}keys.log"))])
            .args(["--pcap", &self.path(&format!("{tag}own.pcapng"))])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(self.dir.join(format!("{tag}peer.stderr"))).unwrap());
        let mut child = cmd.spawn().expect("spawn mobikectl peer");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let log = self.dir.join(format!("{tag}events.jsonl"));
        std::thread::spawn(move || {
            let mut f = std::fs::File::create(log).ok();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(f) = f.as_mut() {
                    let _ = writeln!(f, "{line}");
                }
                let v: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("event is not JSON ({e}): {line}"));
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        Peer {
            stdin: child.stdin.take(),
            child,
            rx,
            seen: Vec::new(),
            pos: 0,
            dir: self.dir.clone(),
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .args(["down", &self.prefix])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status();
    }
}

/// A running `mobikectl peer`; told to quit (then killed) on drop.
pub struct Peer {
    pub child: Child,
    pub stdin: Option<ChildStdin>,
    pub rx: Receiver<Value>,
    pub seen: Vec<Value>,
    pub pos: usize,
    pub dir: PathBuf,
}

impl Peer {
    pub fn send(&mut self, line: &str) {
        let s = self.stdin.as_mut().expect("stdin open");
        writeln!(s, "{line}").expect("write command");
        s.flush().unwrap();
    }

    /// The next event (after the previous match) satisfying `pred`.
    pub fn wait(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let end = Instant::now() + WAIT;
        loop {
            if let Some(i) = self.seen[self.pos..].iter().position(&pred) {
                self.pos += i + 1;
                return self.seen[self.pos - 1].clone();
            }
            let left = end.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(v) => self.seen.push(v),
                Err(_) => panic!(
                    "no {what} event within {WAIT:?}; events so far (also in {}/events.jsonl):\n{}",
                    self.dir.display(),
                    self.seen
                        .iter()
                        .map(|v| v.to_string())
                        .collect::<Vec<_>>()
                        .join("\n")
                ),
            }
        }
    }

    pub fn wait_event(&mut self, name: &str) -> Value {
        self.wait(name, |v| v["event"] == name)
    }

    /// Quit and wait for the process to end.
    pub fn quit(&mut self) {
        if self.stdin.is_some() {
            self.send("quit");
            self.stdin = None;
        }
        let end = Instant::now() + Duration::from_secs(8);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        panic!("peer did not exit after quit");
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.stdin = None; // EOF = quit
        let end = Instant::now() + Duration::from_secs(5);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The proposals every MOBIKE interop test configures on both sides.
pub const LAB_IKE: &str = "aes128-sha256-x25519";
pub const LAB_ESP: &str = "aes128gcm16";

/// charon_conf options of moon as the MOBIKE gateway of `mobikectl peer` (responder on any
/// local address, PSK identities moon.example.org / carol@example.org, [`LAB_IKE`],
/// [`LAB_ESP`]) protecting 198.18.1.0/24 (198.18.1.1 on moon's `lo` answers pings) and
/// handing out virtual IPs from 198.18.0.0/24, plus `extra` (more charon_conf options).
pub fn moon_gateway<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "--role",
        "responder",
        "--mobike",
        "yes",
        "--id",
        "moon.example.org",
        "--remote-id",
        "carol@example.org",
        "--ike",
        LAB_IKE,
        "--esp",
        LAB_ESP,
        "--local-ts",
        "198.18.1.0/24",
        "--pool",
        "198.18.0.0/24",
    ];
    v.extend_from_slice(extra);
    v
}

/// [`moon_gateway`] without the pool: both traffic selectors configured (198.18.1.0/24
/// behind moon, 198.18.2.0/24 behind the peer), for a peer that asks for no virtual IP
/// (`--vip 0.0.0.0` over IPv6 IKE asks for an IPv6 one, and the pool is IPv4).
pub fn moon_gateway_no_pool<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = moon_gateway(&[]);
    let pool = v.iter().position(|o| *o == "--pool").expect("--pool");
    v.drain(pool..pool + 2);
    v.extend(["--remote-ts", "198.18.2.0/24"]);
    v.extend_from_slice(extra);
    v
}

/// charon_conf options of a responder gateway.
pub fn moon_responder<'a>(
    local: &'a str,
    ike: &'a str,
    esp: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut v = vec![
        "--role",
        "resp",
        "--local",
        local,
        "--id",
        "moon.example.org",
        "--remote-id",
        "carol@example.org",
        "--ike",
        ike,
        "--esp",
        esp,
    ];
    v.extend_from_slice(extra);
    v
}

pub fn peer_initiator<'a>(
    lab: &'a Lab,
    remote: &'a str,
    ike: &'a str,
    esp: &'a str,
    extra: &[&'a str],
) -> Peer {
    let mut a = vec![
        "--remote",
        remote,
        "--id",
        "carol@example.org",
        "--remote-id",
        "moon.example.org",
        "--ike",
        ike,
        "--esp",
        esp,
    ];
    a.extend_from_slice(extra);
    lab.peer(&a)
}

/// The peer's key log decrypts its own capture, with `mobikectl decode` and with tshark.
pub fn keylog_decrypts_own_pcap(lab: &Lab) {
    let keys = lab.dir.join("keys.log");
    let pcap = lab.dir.join("own.pcapng");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&keys).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "key log mode {mode:o}");
    let out = Command::new(BIN)
        .args(["decode", "--keys"])
        .arg(&keys)
        .arg(&pcap)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "decode failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sk: Vec<&str> = text
        .lines()
        .filter(|l| l.trim_start().starts_with("SK "))
        .collect();
    assert!(sk.len() >= 2, "no encrypted messages in own pcap:\n{text}");
    assert!(
        sk.iter().all(|l| l.contains("integrity=ok")),
        "mobikectl decode could not decrypt everything:\n{text}"
    );
    let table: Vec<String> = std::fs::read_to_string(&keys)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split(',').take(8).collect::<Vec<_>>().join(","))
        .collect();
    let mut args = vec!["-r".to_string(), pcap.display().to_string(), "-V".into()];
    args.extend(ike_decode_as(&pcap));
    for t in &table {
        args.push("-o".into());
        args.push(format!("uat:ikev2_decryption_table:{t}"));
    }
    let out = Command::new("tshark").args(&args).output().unwrap();
    let v = String::from_utf8_lossy(&out.stdout);
    let encrypted = v.matches("Encrypted Data (").count();
    let correct = v
        .matches("Integrity Checksum Data:")
        .filter(|_| true)
        .count();
    let ok = v
        .lines()
        .filter(|l| l.contains("Integrity Checksum Data:") && l.contains("[correct]"))
        .count();
    assert!(encrypted >= 2, "tshark saw no SK payloads:\n{v}");
    assert_eq!(
        ok, encrypted,
        "tshark: {correct} checksums, {ok} correct of {encrypted}"
    );
    assert!(!v.contains("Malformed"), "tshark reports malformed packets");
}

/// tshark `-d` options for the far ends of IKE flows: a NAT may map port 500 or 4500 to a
/// low port that tshark would give to another protocol (49 became XTACACS, "Malformed").
fn ike_decode_as(pcap: &std::path::Path) -> Vec<String> {
    let Ok(out) = Command::new("tshark")
        .arg("-r")
        .arg(pcap)
        .args(["-T", "fields", "-e", "udp.srcport", "-e", "udp.dstport"])
        .output()
    else {
        return vec![];
    };
    let mut opts = vec![];
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let ports: Vec<u16> = line
            .split('\t')
            .filter_map(|p| p.trim().parse().ok())
            .collect();
        let [a, b] = ports[..] else {
            continue;
        };
        for (ours, theirs) in [(a, b), (b, a)] {
            let proto = match ours {
                500 => "isakmp",
                4500 => "udpencap",
                _ => continue,
            };
            if theirs != 500 && theirs != 4500 {
                let o = format!("udp.port=={theirs},{proto}");
                if !opts.contains(&o) {
                    opts.push(o);
                }
            }
        }
    }
    opts.into_iter()
        .flat_map(|o| ["-d".to_string(), o])
        .collect()
}

/// charon_conf options of a strongSwan initiator towards our responder.
pub fn moon_initiator<'a>(
    local: &'a str,
    remote: &'a str,
    ike: &'a str,
    esp: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut v = vec![
        "--role",
        "init",
        "--local",
        local,
        "--remote",
        remote,
        "--id",
        "moon.example.org",
        "--remote-id",
        "carol@example.org",
        "--ike",
        ike,
        "--esp",
        esp,
    ];
    v.extend_from_slice(extra);
    v
}

pub fn peer_responder(lab: &Lab, extra: &[&str]) -> Peer {
    let mut a = vec![
        "--listen",
        "--id",
        "carol@example.org",
        "--remote-id",
        "moon.example.org",
    ];
    a.extend_from_slice(extra);
    lab.peer(&a)
}

/// Seconds since midnight UTC of an event's RFC 3339 `time` (sub-second precision).
pub fn event_secs(v: &Value) -> f64 {
    let t = v["time"].as_str().unwrap_or_else(|| panic!("no time: {v}"));
    let hms = t
        .split_once('T')
        .map(|x| x.1)
        .unwrap()
        .trim_end_matches('Z');
    let hms = hms.split(['+', '-']).next().unwrap();
    let mut p = hms.split(':').map(|x| x.parse::<f64>().unwrap());
    p.next().unwrap() * 3600.0 + p.next().unwrap() * 60.0 + p.next().unwrap()
}

/// Stop the captures (flushed) and tear the lab down before reading the pcaps.
pub fn lab_down(lab: &Lab) {
    Command::new("bash")
        .arg(script())
        .args(["down", &lab.prefix])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .unwrap();
}

/// NAT-T keepalives (1-byte UDP payloads) in a capture: (time, src, src port, dst, dst port).
pub fn keepalives_in(pcap: &Path) -> Vec<(f64, String, u16, String, u16)> {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(pcap)
        .args(["-Y", "udp.length == 9", "-T", "fields"])
        .args([
            "-e",
            "frame.time_epoch",
            "-e",
            "ip.src",
            "-e",
            "udp.srcport",
        ])
        .args(["-e", "ip.dst", "-e", "udp.dstport", "-e", "udp.payload"])
        .output()
        .expect("tshark");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.get(5).copied(), Some("ff"), "not a keepalive: {l}");
            (
                f[0].parse().unwrap(),
                f[1].to_string(),
                f[2].parse().unwrap(),
                f[3].to_string(),
                f[4].parse().unwrap(),
            )
        })
        .collect()
}

/// A file of the throwaway test PKI (`testdata/pki`).
pub fn pki(f: &str) -> String {
    repo().join("testdata/pki").join(f).display().to_string()
}
