//! Failover drills: a small language of peer commands, waits and expectations, its
//! parser ([`parse`]), an interpreter that drives any [`DrillTarget`]
//! ([`run`]), its reports ([`report`]) and a picture of a run ([`svg`], `--svg FILE`).
//! `mobikectl drill --lab` and `mobikectl lab --virtual` run them on the embedded virtual
//! lab, `mobikectl lab` on the loopback lab (real sockets; [`crate::embedded_lab`]); `mobikectl drill FILE -- PEER-OPTIONS` runs them against a
//! real gateway through a `mobikectl peer` process ([`peer_target`]: one node, `peer`; its
//! first `up` lets the peer's own initiation at start be seen; SIGINT or SIGTERM stop the
//! drill, the peer deletes its SAs, the report shows what was measured so far).
//!
//! # Grammar
//!
//! One statement per line; blank lines and comments (a word starting with `#` that is
//! not an SA handle like `#2`, to the end of the line) are ignored. Keywords are
//! case-insensitive.
//!
//! ```text
//! [NODE:] PEER-COMMAND                       any command of the peer's command table
//! [NODE:] wait EVENT [FIELD=VALUE ...] [within DURATION]
//! [NODE:] expect EVENT [FIELD=VALUE ...]
//! [NODE:] expect no EVENT [FIELD=VALUE ...]
//! [NODE:] expect sa established|none
//! [NODE:] expect path LOCAL REMOTE
//! sleep DURATION
//! mark NAME
//! [NODE:] measure NAME from MARK to EVENT [FIELD=VALUE ...]
//! [NODE:] measure NAME outage [from MARK]
//! shell COMMAND LINE                         only with --allow-shell
//! repeat N {                                 N: 0 to 10000; blocks nest
//! }
//! ```
//!
//! * `NODE:` (`responder: addr del 127.0.0.10`) picks the node a command acts on, or
//!   whose events / SAs a wait, expect or measure looks at. Without it, a command goes where
//!   the target sends it (the virtual lab: the node owning the address it names, else
//!   the initiator), waits and event expectations take events of any node, and state
//!   expectations look at the first node (the initiator).
//! * `EVENT` is an event name of `mobikectl peer` (`moved`, `path`, `ike_up`, ...);
//!   `FIELD=VALUE` compares a field of its JSON object; `FIELD` may be a dotted path
//!   (`new.local=127.0.0.3`). Strings compare as written (case-insensitive), and an
//!   `ADDR:PORT` string also matches `ADDR` alone; numbers by value; `true`/`false`;
//!   an array matches when one of its elements does.
//! * `wait` lets time pass until an event matches, at most `DURATION` (default 30 s).
//!   It looks at the events since the previous command (or `shell`) that no earlier
//!   `wait` matched: the answer to a command is never missed, the order of waits for
//!   events of the same moment does not matter, and one event never satisfies two
//!   waits. A `wait` that times out ends the drill.
//! * `expect EVENT` holds when such an event was seen since the last command (or
//!   `shell`), also during the waits and sleeps after it; `expect no EVENT` when none
//!   was. `expect sa established` holds when the node has an established IKE SA,
//!   `expect sa none` when it has none; `expect path LOCAL REMOTE` when an established
//!   IKE SA of the node uses this path (addresses, or `ADDR:PORT`). `expect path`
//!   followed by `FIELD=VALUE` words or nothing is the `path` event instead. A failed
//!   `expect` is reported and the drill goes on.
//! * `mark NAME` notes the time; `measure NAME from MARK to EVENT` takes the first
//!   matching event since the mark (it does not wait: put a `wait` before it) and
//!   reports the time between them.
//! * `measure NAME outage [from MARK]` is the data plane's outage: the longest interval
//!   without an echo reply (`longest_gap_ms`) of the `ping` reports since the mark (or
//!   the start). Start `ping ADDR` before the event, and `ping stop` + `wait ping
//!   state=stopped` before measuring, so the final report is in.
//! * `shell` runs `sh -c COMMAND LINE` and holds when it exits 0; on the virtual lab no
//!   simulated time passes meanwhile.
//! * A peer command that cannot be applied (no SA to move, an unknown address) fails
//!   and ends the drill.
//! * `DURATION`: a number and a unit: `250ms`, `1.5s`, `2m`, `1h` (at most 24 h).
//!
//! # The virtual lab's options: the `# lab:` line
//!
//! A drill says which virtual lab it needs on a comment line (the first one starting
//! `# lab:`; other targets ignore it), e.g. `# lab: nat nat-timeout=30s keepalive=20s`:
//!
//! * `nat`: a NAT in front of the initiator (public address 127.0.0.100);
//! * `ipv6`: both nodes also own IPv6 addresses (initiator fd00::2, fd00::3; responder
//!   fd00::10, fd00::11) and the SA is initiated over IPv6;
//! * `nat-timeout=DURATION`: the NAT forgets mappings idle that long (implies `nat`);
//!   a `nat_expired` event (node `nat`) reports each one when the NAT notices;
//! * `keepalive=DURATION`: the initiator's NAT-T keepalive interval (default 20 s);
//! * `dpd=DURATION`: both nodes' dead peer detection delay (default: only `dpd`).
//!
//! Command-line flags (`--nat`) add to it. An unknown word is a configuration error
//! (exit 2). The drills shipped in `drills/` (one per field problem: address loss, move
//! back, a gateway's second address, NAT rebinding, IPv6 to IPv4, a move during a
//! rekey, three CHILD_SAs, NAT idle timeout, a black hole, the gateway's address lost)
//! all run on the virtual lab (`tests/drill_shipped.rs`).
//!
//! Exit codes of a run: 0 every expectation held, 1 one failed, 2 the file or the
//! configuration is wrong (nothing ran); against a peer, 128 + N when signal N
//! interrupted it.
pub mod parse;
pub mod peer_target;
pub mod report;
pub mod run;
pub mod svg;

pub use parse::{parse_drill, Drill, SyntaxError};
pub use run::{
    run_drill, Applied, CaptureFiles, DrillOutcome, DrillTarget, RunOptions, TimedEvent,
};
