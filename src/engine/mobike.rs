//! MOBIKE (RFC 4555) as one component, in the spirit of strongSwan's `ike_mobike`
//! task: the SA's announced and learned address sets, path probes, the pending
//! UPDATE_SA_ADDRESSES, COOKIE2 in flight and return routability checks. The IKE_AUTH
//! and INFORMATIONAL code calls its `build_*` functions to add payloads to a message
//! and its `process_*` functions to act on the peer's.

use std::fmt;

/// What we know of a path of an SA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PathState {
    /// Known (announced or configured) but not tested.
    Untested,
    /// A probe is out on it.
    Probing,
    /// The peer answered on it.
    Ok,
    /// Probes or requests on it went unanswered, or the peer refused it.
    Failed,
}

impl PathState {
    /// `untested`, `probing`, `ok`, `failed`.
    pub fn name(self) -> &'static str {
        match self {
            PathState::Untested => "untested",
            PathState::Probing => "probing",
            PathState::Ok => "ok",
            PathState::Failed => "failed",
        }
    }
}

impl fmt::Display for PathState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why an SA moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MoveCause {
    /// Our address of the current path went away.
    AddressLost,
    /// Requests on the current path went unanswered (a black hole).
    PathFailed,
    /// The operator asked ([`Command::Move`](super::Command::Move),
    /// [`Command::Probe`](super::Command::Probe)).
    Operator,
    /// The peer's UPDATE_SA_ADDRESSES (we are the responder).
    UpdateReceived,
    /// The peer's address list came from a new address (the responder moved).
    PeerMoved,
    /// The NAT in front of us changed its mapping (seen in NAT detection).
    NatMapping,
    /// RFC 7296 §2.23: an SA without MOBIKE follows the peer behind a NAT.
    NatFollow,
}

impl MoveCause {
    /// `address_lost`, `path_failed`, ...
    pub fn name(self) -> &'static str {
        match self {
            MoveCause::AddressLost => "address_lost",
            MoveCause::PathFailed => "path_failed",
            MoveCause::Operator => "operator",
            MoveCause::UpdateReceived => "update_received",
            MoveCause::PeerMoved => "peer_moved",
            MoveCause::NatMapping => "nat_mapping",
            MoveCause::NatFollow => "nat_follow",
        }
    }
}

impl fmt::Display for MoveCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

use std::net::IpAddr;
use std::time::Duration;

use subtle::ConstantTimeEq;

use super::config::ReturnRoutability;
use super::natd;
use super::sa::{find_notify, notify, IkeState, NewRequest, Pending, Task};
use super::timer::Timer;
use super::{CommandError, Engine, EngineEvent, Path, SaId, Timestamp};
use crate::wire::{
    self, notify_type as nt, payload_type as pt, Notify, NotifyData, Payload, PayloadBody,
};

/// Bytes of the COOKIE2 we send (RFC 4555 §4.2.5 allows 8..=64; strongSwan uses 16).
pub const COOKIE2_LEN: usize = 16;
/// New UPDATE_SA_ADDRESSES requests after UNEXPECTED_NAT_DETECTED before we give up on
/// the path (RFC 4555 §3.9: "a few times").
const NAT_RETRIES: u32 = 3;
/// Paths probed at most at once.
const MAX_PROBE_PATHS: usize = 16;

/// What set a move in motion, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trigger {
    /// When it happened (the move's `elapsed` counts from here).
    pub at: Timestamp,
    /// What happened.
    pub cause: MoveCause,
}

/// A path probe: the same INFORMATIONAL request to several paths (RFC 4555 §3.5).
#[derive(Debug, Clone)]
pub struct Probe {
    /// Its message ID (once sent).
    pub message_id: Option<u32>,
    /// The paths it goes to, in preference order.
    pub paths: Vec<Path>,
    /// Last round of transmissions.
    pub sent_at: Timestamp,
    /// Why.
    pub trigger: Trigger,
    /// Move to the first path that answers (else only report the paths).
    pub move_on_answer: bool,
    /// Paths that answered.
    pub answered: Vec<Path>,
}

/// A return routability check (RFC 4555 §3.7): the CHILD_SAs stay on `old` until the
/// initiator answers our COOKIE2 at `path`.
#[derive(Debug, Clone, Copy)]
pub struct RrCheck {
    /// The initiator's new path.
    pub path: Path,
    /// The UPDATE that asked for it.
    pub trigger: Trigger,
}

/// MOBIKE state of one IKE SA.
#[derive(Debug, Clone, Default)]
pub struct MobikeState {
    /// An address change or failure waiting for the roam timer.
    pub roam: Option<Trigger>,
    /// The current (or last) path probe.
    pub probe: Option<Probe>,
    /// Initiator: UPDATE_SA_ADDRESSES is owed (after a move or a NAT mapping change).
    pub update_due: Option<Trigger>,
    /// Our address set changed: send it.
    pub announce_due: bool,
    /// The COOKIE2 of our outstanding request.
    pub cookie2: Option<Vec<u8>>,
    /// Responder: a return routability check before the CHILD_SAs move.
    pub rr: Option<RrCheck>,
    /// The peer's NAT_DETECTION_DESTINATION_IP in its last answer to our NAT
    /// detection: a hash of where it sees us (our NAT mapping).
    pub mapping: Option<[u8; 20]>,
    /// UNEXPECTED_NAT_DETECTED answers to our UPDATE so far.
    pub nat_retries: u32,
    /// Paths the peer refused (UNACCEPTABLE_ADDRESSES) or that failed.
    pub refused: Vec<Path>,
    /// The operator's crafted notifies, waiting for the window.
    pub crafted: std::collections::VecDeque<Vec<(u16, Vec<u8>)>>,
}

impl MobikeState {
    /// `idle`, `roaming`, `probing`, `updating`, `rr_check`.
    pub fn activity(&self) -> &'static str {
        if self.probe.as_ref().is_some_and(|p| p.answered.is_empty()) {
            "probing"
        } else if self.rr.is_some() {
            "rr_check"
        } else if self.update_due.is_some() || self.cookie2.is_some() {
            "updating"
        } else if self.roam.is_some() {
            "roaming"
        } else {
            "idle"
        }
    }
}

fn notify_payload(t: u16, data: NotifyData<'static>) -> Payload<'static> {
    Payload::new(pt::NOTIFY, PayloadBody::Notify(Notify::new(t, data)))
}

/// ADDITIONAL_IP4/IP6_ADDRESS for `addrs`, or NO_ADDITIONAL_ADDRESSES when empty
/// (RFC 4555 §3.6: a list is a full replacement).
pub fn address_list(addrs: &[IpAddr], empty_means_none: bool) -> Vec<Payload<'static>> {
    if addrs.is_empty() {
        return if empty_means_none {
            vec![notify(nt::NO_ADDITIONAL_ADDRESSES)]
        } else {
            vec![]
        };
    }
    addrs
        .iter()
        .map(|a| match a {
            IpAddr::V4(v4) => {
                notify_payload(nt::ADDITIONAL_IP4_ADDRESS, NotifyData::AdditionalIp4(*v4))
            }
            IpAddr::V6(v6) => {
                notify_payload(nt::ADDITIONAL_IP6_ADDRESS, NotifyData::AdditionalIp6(*v6))
            }
        })
        .collect()
}

/// NO_NATS_ALLOWED for a message sent on `path` (RFC 4555 §4.2.6).
pub fn no_nats_allowed(path: Path) -> Payload<'static> {
    notify_payload(
        nt::NO_NATS_ALLOWED,
        NotifyData::NoNatsAllowed {
            src: path.local.ip(),
            dst: path.remote.ip(),
            src_port: path.local.port(),
            dst_port: path.remote.port(),
        },
    )
}

/// The peer's announced addresses in `payloads`: `None` when the message carries no
/// list, `Some(list)` for a list (empty for NO_ADDITIONAL_ADDRESSES); the second value
/// names malformed address notifies (ignored).
pub fn announced(payloads: &[Payload<'_>]) -> (Option<Vec<IpAddr>>, Vec<String>) {
    let mut list: Option<Vec<IpAddr>> = None;
    let mut bad = Vec::new();
    for n in payloads.iter().filter_map(|p| p.as_notify()) {
        match (n.notify_type, &n.data) {
            (nt::ADDITIONAL_IP4_ADDRESS, NotifyData::AdditionalIp4(a)) => {
                list.get_or_insert_with(Vec::new).push(IpAddr::V4(*a))
            }
            (nt::ADDITIONAL_IP6_ADDRESS, NotifyData::AdditionalIp6(a)) => {
                list.get_or_insert_with(Vec::new).push(IpAddr::V6(*a))
            }
            (nt::NO_ADDITIONAL_ADDRESSES, _) => {
                list.get_or_insert_with(Vec::new);
            }
            (nt::ADDITIONAL_IP4_ADDRESS | nt::ADDITIONAL_IP6_ADDRESS, d) => {
                bad.push(format!(
                    "{} with {} bytes of data: ignored",
                    super::sa::notify_name(n.notify_type),
                    d_len(d)
                ));
            }
            _ => {}
        }
    }
    (list, bad)
}

fn d_len(d: &NotifyData<'_>) -> usize {
    let mut v = Vec::new();
    d.emit_into(&mut v);
    v.len()
}

/// The COOKIE2 of a message: `Ok(None)` without one, `Err(len)` for one of a length
/// RFC 4555 §4.2.5 does not allow.
fn cookie2_of(payloads: &[Payload<'_>]) -> Result<Option<Vec<u8>>, usize> {
    match find_notify(payloads, nt::COOKIE2).map(|n| &n.data) {
        None => Ok(None),
        Some(NotifyData::Cookie2(c)) => Ok(Some(c.to_vec())),
        Some(d) => Err(d_len(d)),
    }
}

/// The NAT_DETECTION_DESTINATION_IP hash of a message, if it has exactly one.
fn natd_destination(payloads: &[Payload<'_>]) -> Option<[u8; 20]> {
    payloads
        .iter()
        .filter_map(|p| p.as_notify())
        .find_map(|n| match (n.notify_type, &n.data) {
            (nt::NAT_DETECTION_DESTINATION_IP, NotifyData::NatDetection(h)) => Some(*h),
            _ => None,
        })
}

impl Engine {
    /// Our usable addresses changed (the OS or the operator): SAs whose path lost its
    /// local address move (after [`MobikeConfig::roam_debounce`]); the others announce
    /// the new set to MOBIKE peers.
    ///
    /// [`MobikeConfig::roam_debounce`]: super::MobikeConfig::roam_debounce
    pub fn set_local_addrs(&mut self, now: Timestamp, addrs: &[IpAddr]) {
        self.now = self.now.max(now);
        let mut set: Vec<IpAddr> = Vec::new();
        for a in addrs {
            if !a.is_unspecified() && !set.contains(a) {
                set.push(*a);
            }
        }
        if set == self.local_addrs {
            return;
        }
        self.local_addrs = set;
        let ids: Vec<SaId> = self.sas.keys().copied().collect();
        for id in ids {
            let Some(sa) = self.sas.get(&id) else {
                continue;
            };
            if sa.state != IkeState::Established {
                continue;
            }
            let lost = !self.local_addrs.contains(&sa.path.local.ip());
            if lost {
                self.roam(id, MoveCause::AddressLost);
            } else if sa.peer_mobike {
                if let Some(sa) = self.sas.get_mut(&id) {
                    sa.mobike.announce_due = true;
                }
                // a stalled probe (no usable path before) may have one now
                let stalled = self.sas.get(&id).and_then(|s| s.mobike.roam).is_some();
                let cause = if stalled {
                    MoveCause::AddressLost
                } else {
                    MoveCause::Operator
                };
                self.roam(id, cause);
            }
        }
    }

    /// The I/O layer could not send `transmit_path` (no route, address gone): the SAs on
    /// that path look for another one.
    pub fn send_failed(&mut self, now: Timestamp, transmit_path: Path) {
        self.now = self.now.max(now);
        let ids: Vec<SaId> = self
            .sas
            .values()
            .filter(|s| s.state == IkeState::Established && s.path == transmit_path)
            .map(|s| s.id)
            .collect();
        for id in ids {
            self.roam(id, MoveCause::PathFailed);
        }
    }

    /// Note a trigger and arm the roam timer (address changes come in bursts).
    fn roam(&mut self, id: SaId, cause: MoveCause) {
        let now = self.now;
        let debounce = self.config.mobike.roam_debounce;
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        let keep = sa.mobike.roam.filter(|t| t.cause != MoveCause::Operator);
        sa.mobike.roam = Some(keep.unwrap_or(Trigger { at: now, cause }));
        if !sa.timers.is_set(Timer::Roam) {
            sa.timers.set(Timer::Roam, now + debounce);
        }
    }

    /// The typed timers of an SA that are due.
    pub(crate) fn sa_typed_timers(&mut self, id: SaId, now: Timestamp) {
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        for t in sa.timers.expire(now) {
            match t {
                Timer::Roam => self.roam_timer(id),
                Timer::GiveUp => {
                    let still = self.sas.get(&id).is_some_and(|s| {
                        s.mobike
                            .probe
                            .as_ref()
                            .is_some_and(|p| p.answered.is_empty())
                            || s.mobike.roam.is_some()
                    });
                    if still {
                        let secs = self.config.mobike.give_up.as_secs_f64();
                        let why = format!("MOBIKE: no path answered for {secs:.1} s");
                        self.error(Some(id), why.clone());
                        self.destroy_sa(id, &why);
                        return;
                    }
                }
                Timer::Dpd => self.dpd_timer(id),
                Timer::PathTest => {
                    let _ = self.command_probe(id);
                    self.arm_path_test(id);
                }
                Timer::Probe | Timer::ReturnRoutability => {}
            }
        }
    }

    fn dpd_timer(&mut self, id: SaId) {
        let delay = match self
            .sas
            .get(&id)
            .and_then(|s| self.config.connections.get(s.conn))
        {
            Some(c) => c.dpd_delay,
            None => return,
        };
        let now = self.now;
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        if delay.is_zero() || sa.state != IkeState::Established {
            return;
        }
        let due = sa.last_in + delay;
        if due <= now {
            if sa.outstanding.is_none() && !sa.queue.contains(&Task::Dpd) {
                sa.queue.push_back(Task::Dpd);
            }
            sa.timers.set(Timer::Dpd, now + delay);
            self.start_queued(id);
        } else {
            sa.timers.set(Timer::Dpd, due);
        }
    }

    /// Arm dead peer detection and periodic path tests of an established SA.
    pub(crate) fn arm_liveness(&mut self, id: SaId) {
        let now = self.now;
        let delay = match self
            .sas
            .get(&id)
            .and_then(|s| self.config.connections.get(s.conn))
        {
            Some(c) => c.dpd_delay,
            None => return,
        };
        if let Some(sa) = self.sas.get_mut(&id) {
            if !delay.is_zero() {
                sa.timers.set(Timer::Dpd, now + delay);
            }
        }
        self.arm_path_test(id);
    }

    fn arm_path_test(&mut self, id: SaId) {
        let every = self.config.mobike.path_test_interval;
        let now = self.now;
        if let Some(sa) = self.sas.get_mut(&id) {
            if !every.is_zero() && sa.peer_mobike {
                sa.timers.set(Timer::PathTest, now + every);
            }
        }
    }

    fn roam_timer(&mut self, id: SaId) {
        let Some(sa) = self.sas.get(&id) else {
            return;
        };
        let Some(trigger) = sa.mobike.roam else {
            return;
        };
        let path_gone = !self.local_addrs.contains(&sa.path.local.ip());
        let must_move = path_gone || trigger.cause == MoveCause::PathFailed;
        if !must_move {
            if let Some(sa) = self.sas.get_mut(&id) {
                sa.mobike.roam = None;
            }
            if self
                .sas
                .get(&id)
                .is_some_and(|s| s.peer_mobike && s.mobike.announce_due)
            {
                self.queue_task(id, Task::Announce);
            }
            return;
        }
        if !sa.peer_mobike {
            // without MOBIKE there is nothing to move with: the SA waits for its peer
            // (DPD or the retransmissions decide)
            if let Some(sa) = self.sas.get_mut(&id) {
                sa.mobike.roam = None;
            }
            self.error(
                Some(id),
                "local address of the IKE SA is gone and MOBIKE is not negotiated",
            );
            return;
        }
        let paths = self.candidates(id, !path_gone);
        self.start_probe(id, trigger, paths, true);
    }

    /// Every usable path of an SA, in preference order: our addresses (the current one
    /// first) × the peer's (the current one first), same family, minus refused ones.
    pub fn candidates(&self, id: SaId, include_current: bool) -> Vec<Path> {
        let Some(sa) = self.sas.get(&id) else {
            return vec![];
        };
        let Some(conn) = self.config.connections.get(sa.conn) else {
            return vec![];
        };
        let floated = sa.uses_nat_t(self.config.nat_t_port);
        let local_port = if floated {
            self.config.nat_t_port
        } else {
            sa.path.local.port()
        };
        let mut locals: Vec<IpAddr> = Vec::new();
        if self.local_addrs.contains(&sa.path.local.ip()) {
            locals.push(sa.path.local.ip());
        }
        locals.extend(
            self.local_addrs
                .iter()
                .filter(|a| **a != sa.path.local.ip()),
        );
        let mut remotes: Vec<IpAddr> = vec![sa.path.remote.ip()];
        let configured = std::iter::once(conn.remote.ip()).chain(conn.remote_addrs.iter().copied());
        for a in sa.remote_addrs.iter().copied().chain(configured) {
            if !a.is_unspecified() && !remotes.contains(&a) {
                remotes.push(a);
            }
        }
        let mut out = Vec::new();
        for l in &locals {
            for r in &remotes {
                if l.is_ipv4() != r.is_ipv4() {
                    continue;
                }
                let remote_port = if *r == sa.path.remote.ip() {
                    sa.path.remote.port()
                } else if floated {
                    conn.remote_nat_t_port
                } else {
                    sa.path.remote.port()
                };
                let p = Path::new(
                    std::net::SocketAddr::new(*l, local_port),
                    std::net::SocketAddr::new(*r, remote_port),
                );
                if (!include_current && p == sa.path) || sa.mobike.refused.contains(&p) {
                    continue;
                }
                if !out.contains(&p) {
                    out.push(p);
                }
            }
        }
        out.truncate(MAX_PROBE_PATHS);
        out
    }

    /// Start probing `paths`: the outstanding request (if any) is retransmitted to all of
    /// them at once (RFC 4555 §3.5 d), else an empty INFORMATIONAL goes out.
    fn start_probe(&mut self, id: SaId, trigger: Trigger, paths: Vec<Path>, move_on_answer: bool) {
        let now = self.now;
        let m = &self.config.mobike;
        let (give_up, hold) = (m.give_up, m.responder_hold);
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        let give_up = if sa.original_initiator {
            give_up
        } else {
            give_up.max(hold)
        };
        if !sa.timers.is_set(Timer::GiveUp) {
            sa.timers.set(Timer::GiveUp, trigger.at + give_up);
        }
        if paths.is_empty() {
            // nothing to try: wait for an address (set_local_addrs) or give up
            sa.mobike.roam = Some(trigger);
            self.error(
                Some(id),
                "MOBIKE: no usable path (no local address of the peer's family); probing deferred",
            );
            return;
        }
        sa.mobike.roam = None;
        sa.mobike.probe = Some(Probe {
            message_id: None,
            paths: paths.clone(),
            sent_at: now,
            trigger,
            move_on_answer,
            answered: vec![],
        });
        for p in &paths {
            self.event(EngineEvent::Path {
                sa: id,
                path: *p,
                state: PathState::Probing,
                rtt: None,
            });
        }
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        match sa.outstanding.as_mut() {
            Some(o) => {
                // the request in flight becomes the probe
                o.paths = paths;
                o.next_at = now;
                let mid = o.message_id;
                if let Some(p) = sa.mobike.probe.as_mut() {
                    p.message_id = Some(mid);
                }
                self.retransmit_probe(id, now);
            }
            None => {
                sa.queue.retain(|t| *t != Task::Probe);
                sa.queue.push_front(Task::Probe);
                self.start_queued(id);
            }
        }
    }

    /// Resend the outstanding probe to every path, or fail it.
    pub(crate) fn retransmit_probe(&mut self, id: SaId, now: Timestamp) {
        let m = &self.config.mobike;
        let (timeout, base, max) = (m.probe_timeout, m.probe_base, m.probe_max_interval);
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        let Some(o) = sa.outstanding.as_mut() else {
            return;
        };
        // a return routability check gets the normal number of tries, then fails alone
        if o.kind == Pending::Task(Task::ReturnRoutability) && o.retries >= 5 {
            sa.outstanding = None;
            self.rr_done(id, false);
            self.start_queued(id);
            return;
        }
        o.retries += 1;
        let f = base.max(1.0).powi(o.retries.min(32) as i32);
        let delay = Duration::from_secs_f64((timeout.as_secs_f64() * f).min(max.as_secs_f64()));
        o.next_at = now + delay;
        let (bytes, exchange, message_id, attempt) =
            (o.bytes.clone(), o.exchange, o.message_id, o.retries);
        let paths = o.paths.clone();
        sa.last_out = now;
        if let Some(p) = sa
            .mobike
            .probe
            .as_mut()
            .filter(|p| p.message_id == Some(message_id))
        {
            p.sent_at = now;
        }
        for p in paths {
            self.transmit(p, bytes.clone());
        }
        self.event(EngineEvent::Retransmit {
            sa: id,
            exchange,
            message_id,
            attempt,
        });
    }

    /// A request of ours went unanswered `path_fail_after` times: probe every path
    /// instead of retransmitting on the current one. Returns true if it did.
    pub(crate) fn path_failing(&mut self, id: SaId) -> bool {
        let after = self.config.mobike.path_fail_after;
        let Some(sa) = self.sas.get(&id) else {
            return false;
        };
        let Some(o) = sa.outstanding.as_ref() else {
            return false;
        };
        // the responder does not move on its own when the initiator goes quiet (RFC 4555
        // §2.1, §3.11): it keeps retransmitting for `responder_hold`
        if after == 0
            || !sa.original_initiator
            || !sa.peer_mobike
            || sa.state != IkeState::Established
            || o.retries + 1 < after
            || !o.paths.is_empty()
        {
            return false;
        }
        let trigger = Trigger {
            at: o.first_sent,
            cause: MoveCause::PathFailed,
        };
        let failed = sa.path;
        if self.candidates(id, false).is_empty() {
            return false; // no other path: the normal retransmissions decide
        }
        self.event(EngineEvent::Path {
            sa: id,
            path: failed,
            state: PathState::Failed,
            rtt: None,
        });
        let paths = self.candidates(id, true);
        self.start_probe(id, trigger, paths, true);
        true
    }

    /// The outstanding probe was answered on `path`: report it and move there if the
    /// probe is meant to move the SA.
    pub(crate) fn probe_answered(&mut self, id: SaId, path: Path, kind: Pending) {
        let now = self.now;
        if kind == Pending::Task(Task::ReturnRoutability) {
            // handled with the response (COOKIE2 check first)
            return;
        }
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        sa.timers.stop(Timer::GiveUp);
        let Some(probe) = sa.mobike.probe.as_mut() else {
            return;
        };
        let rtt = now.saturating_since(probe.sent_at);
        probe.answered.push(path);
        let (trigger, move_on_answer) = (probe.trigger, probe.move_on_answer);
        self.event(EngineEvent::Path {
            sa: id,
            path,
            state: PathState::Ok,
            rtt: Some(rtt),
        });
        let Some(sa) = self.sas.get(&id) else {
            return;
        };
        if move_on_answer && path != sa.path {
            self.move_sa(id, path, trigger, true);
            let Some(sa) = self.sas.get_mut(&id) else {
                return;
            };
            if sa.original_initiator {
                sa.mobike.update_due = Some(trigger);
                self.queue_task_first(id, Task::Update);
            } else {
                // a responder whose own address went away tells the initiator where it
                // is now (RFC 4555 §3.5; strongSwan then moves at once)
                sa.mobike.announce_due = true;
                self.queue_task_first(id, Task::Announce);
            }
        }
    }

    /// An answer to a probe on another path after the first: report the path.
    pub(crate) fn late_probe_answer(
        &mut self,
        id: SaId,
        path: Path,
        msg: &wire::Message<'_>,
        bytes: &[u8],
    ) -> bool {
        let now = self.now;
        let known = self
            .sas
            .get(&id)
            .and_then(|s| s.mobike.probe.as_ref())
            .is_some_and(|p| {
                p.message_id == Some(msg.header.message_id)
                    && !p.answered.contains(&path)
                    && p.paths.iter().any(|q| q.local == path.local)
            });
        if !known || msg.header.exchange_type != wire::INFORMATIONAL {
            return false;
        }
        if self.open(id, msg, bytes).is_err() {
            return true;
        }
        let Some(probe) = self.sas.get_mut(&id).and_then(|s| s.mobike.probe.as_mut()) else {
            return true;
        };
        probe.answered.push(path);
        let rtt = now.saturating_since(probe.sent_at);
        self.event(EngineEvent::Path {
            sa: id,
            path,
            state: PathState::Ok,
            rtt: Some(rtt),
        });
        true
    }

    /// Move the IKE SA (and the CHILD_SAs if `children`) to `new`.
    pub(crate) fn move_sa(&mut self, id: SaId, new: Path, trigger: Trigger, children: bool) {
        let now = self.now;
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        let old = sa.path;
        sa.path = new;
        if children {
            for c in &mut sa.children {
                c.path = new;
            }
        }
        if !sa.remote_addrs.contains(&new.remote.ip()) {
            sa.remote_addrs.insert(0, new.remote.ip());
        }
        // a request still in flight goes on on the new path (RFC 4555 §3.5 d)
        let resend = sa
            .outstanding
            .as_ref()
            .filter(|o| o.paths.is_empty())
            .map(|o| o.bytes.clone());
        self.event(EngineEvent::Moved {
            sa: id,
            old,
            new,
            cause: trigger.cause,
            elapsed: now.saturating_since(trigger.at),
            children,
        });
        if let Some(bytes) = resend {
            self.transmit(new, bytes);
        }
    }

    /// Our addresses to announce on `path`: every usable address but the path's own.
    fn our_list(&self, path: Path) -> Vec<IpAddr> {
        self.local_addrs
            .iter()
            .copied()
            .filter(|a| *a != path.local.ip())
            .take(self.config.mobike.max_announced)
            .collect()
    }

    /// IKE_AUTH: MOBIKE_SUPPORTED, our other addresses and, without NAT traversal,
    /// NO_NATS_ALLOWED (RFC 4555 §3.2, §3.4, §3.9).
    pub(crate) fn build_auth_mobike(&self, id: SaId, request: bool) -> Vec<Payload<'static>> {
        let Some(sa) = self.sas.get(&id) else {
            return vec![];
        };
        let Some(conn) = self.config.connections.get(sa.conn) else {
            return vec![];
        };
        if !conn.mobike {
            return vec![];
        }
        let mut out = vec![notify(nt::MOBIKE_SUPPORTED)];
        out.extend(address_list(&self.our_list(sa.path), false));
        if request && !conn.nat_traversal {
            out.push(no_nats_allowed(sa.path));
        }
        out
    }

    /// IKE_AUTH of the peer: its address set is the message's source plus its list.
    pub(crate) fn process_auth_mobike(&mut self, id: SaId, payloads: &[Payload<'_>]) {
        let (list, bad) = announced(payloads);
        for b in bad {
            self.mobike_notify(id, false, nt::ADDITIONAL_IP4_ADDRESS, b);
        }
        let ours = self.sas.get(&id).map(|s| self.our_list(s.path));
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        let mut set = vec![sa.path.remote.ip()];
        for a in list.unwrap_or_default() {
            if !set.contains(&a) {
                set.push(a);
            }
        }
        sa.remote_addrs = set;
        let mut local = vec![sa.path.local.ip()];
        local.extend(ours.unwrap_or_default());
        sa.local_addrs = local;
        if sa.peer_mobike {
            let ev = EngineEvent::Addresses {
                sa: id,
                local: sa.local_addrs.clone(),
                remote: sa.remote_addrs.clone(),
            };
            self.event(ev);
        }
    }

    pub(crate) fn mobike_notify(&mut self, id: SaId, sent: bool, notify: u16, detail: String) {
        self.event(EngineEvent::MobikeNotify {
            sa: id,
            sent,
            notify,
            detail,
        });
    }

    /// NAT detection notifies for a message on `path`, honouring `nat fake`.
    fn natd_for(&self, id: SaId, path: Path) -> Vec<Payload<'static>> {
        let Some(sa) = self.sas.get(&id) else {
            return vec![];
        };
        let mut p = natd::natd_payloads(sa.spi_i, sa.spi_r, path);
        if self.nat_fake {
            // claim a NAT in front of us: a source hash of no real address
            p[0] = notify_payload(
                nt::NAT_DETECTION_SOURCE_IP,
                NotifyData::NatDetection(natd::natd_hash(sa.spi_i ^ 1, sa.spi_r, path.local)),
            );
        }
        p.to_vec()
    }

    fn new_cookie2(&mut self, id: SaId) -> Payload<'static> {
        let c = self.random_bytes(COOKIE2_LEN);
        if let Some(sa) = self.sas.get_mut(&id) {
            sa.mobike.cookie2 = Some(c.clone());
        }
        notify_payload(nt::COOKIE2, NotifyData::Cookie2(c.into()))
    }

    /// Build and send one of the MOBIKE exchanges (window permitting).
    pub(crate) fn start_mobike_task(&mut self, id: SaId, task: Task) {
        let Some(sa) = self.sas.get(&id) else {
            return;
        };
        let Some(conn) = self.config.connections.get(sa.conn) else {
            return;
        };
        let natt = conn.nat_traversal;
        let path = sa.path;
        let mut paths = vec![];
        let mut crafted = false;
        let payloads: Vec<Payload<'static>> = match task {
            Task::Probe => {
                let Some(p) = sa.mobike.probe.as_ref() else {
                    return;
                };
                paths = p.paths.clone();
                vec![]
            }
            Task::Update => {
                if !sa.original_initiator || !sa.peer_mobike {
                    return;
                }
                let mut v = vec![notify(nt::UPDATE_SA_ADDRESSES)];
                if natt {
                    v.extend(self.natd_for(id, path));
                }
                v.push(self.new_cookie2(id));
                v.extend(address_list(&self.our_list(path), true));
                if !natt {
                    v.push(no_nats_allowed(path));
                }
                v
            }
            Task::Announce => {
                if !sa.peer_mobike {
                    return;
                }
                let mut v = address_list(&self.our_list(path), true);
                v.push(self.new_cookie2(id));
                if !natt {
                    v.push(no_nats_allowed(path));
                }
                if let Some(sa) = self.sas.get_mut(&id) {
                    sa.mobike.announce_due = false;
                }
                v
            }
            Task::ReturnRoutability => {
                let Some(rr) = sa.mobike.rr else {
                    return;
                };
                paths = vec![rr.path];
                vec![self.new_cookie2(id)]
            }
            Task::Crafted => {
                let Some(list) = self
                    .sas
                    .get_mut(&id)
                    .and_then(|s| s.mobike.crafted.pop_front())
                else {
                    return;
                };
                crafted = true;
                list.into_iter()
                    .map(|(t, d)| notify_payload(t, NotifyData::Raw(d.into())))
                    .collect()
            }
            _ => return,
        };
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        let mid = sa.next_msg_id;
        sa.next_msg_id = sa.next_msg_id.wrapping_add(1);
        if task == Task::Probe {
            if let Some(p) = sa.mobike.probe.as_mut() {
                p.message_id = Some(mid);
            }
        }
        if let Some(bytes) = self.protect(id, wire::INFORMATIONAL, mid, false, &payloads) {
            let summary = format!("SK{{{}}}", super::summarize(&payloads));
            let request = NewRequest {
                kind: Pending::Task(task),
                exchange: wire::INFORMATIONAL,
                message_id: mid,
                summary,
                paths,
                crafted,
            };
            self.send_request_on(id, request, bytes);
        }
    }

    /// DPD payloads: NAT detection when MOBIKE runs and a NAT is (or is claimed to
    /// be) in front of us, so a changed mapping shows (RFC 4555 §3.8).
    pub(crate) fn build_dpd(&self, id: SaId) -> Vec<Payload<'static>> {
        let Some(sa) = self.sas.get(&id) else {
            return vec![];
        };
        let natt = self
            .config
            .connections
            .get(sa.conn)
            .is_some_and(|c| c.nat_traversal);
        if sa.peer_mobike && natt && (sa.nat_local || self.nat_fake) {
            self.natd_for(id, sa.path)
        } else {
            vec![]
        }
    }

    /// The peer's INFORMATIONAL request, MOBIKE part (RFC 4555 §3.5 responder steps):
    /// returns the payloads to add to the response, or `Err` with the whole response
    /// when the request must change nothing (UNEXPECTED_NAT_DETECTED).
    pub(crate) fn process_mobike_request(
        &mut self,
        id: SaId,
        path: Path,
        payloads: &[Payload<'_>],
    ) -> Result<Vec<Payload<'static>>, Vec<Payload<'static>>> {
        let now = self.now;
        let mut out = Vec::new();
        // COOKIE2 is echoed unchanged (§3.7); a wrong length is reported, not echoed
        let cookie = match cookie2_of(payloads) {
            Ok(c) => c,
            Err(len) => {
                self.mobike_notify(
                    id,
                    false,
                    nt::COOKIE2,
                    format!("COOKIE2 of {len} bytes (8..64 allowed): not echoed"),
                );
                None
            }
        };
        let echo = cookie.map(|c| notify_payload(nt::COOKIE2, NotifyData::Cookie2(c.into())));
        // NO_NATS_ALLOWED against the IP header (§3.9)
        if let Some(n) = find_notify(payloads, nt::NO_NATS_ALLOWED) {
            match &n.data {
                NotifyData::NoNatsAllowed {
                    src,
                    dst,
                    src_port,
                    dst_port,
                } => {
                    let seen = (
                        path.remote.ip(),
                        path.local.ip(),
                        path.remote.port(),
                        path.local.port(),
                    );
                    if (*src, *dst, *src_port, *dst_port) != seen {
                        let detail = format!(
                            "NO_NATS_ALLOWED says {src}:{src_port} -> {dst}:{dst_port}, the packet came {} -> {}: answered UNEXPECTED_NAT_DETECTED",
                            path.remote, path.local
                        );
                        self.mobike_notify(id, true, nt::UNEXPECTED_NAT_DETECTED, detail);
                        let mut resp = vec![notify(nt::UNEXPECTED_NAT_DETECTED)];
                        resp.extend(echo);
                        return Err(resp);
                    }
                }
                d => {
                    let len = d_len(d);
                    self.mobike_notify(
                        id,
                        false,
                        nt::NO_NATS_ALLOWED,
                        format!("NO_NATS_ALLOWED with {len} bytes (12 or 36 expected): ignored"),
                    );
                }
            }
        }
        for t in [nt::UNACCEPTABLE_ADDRESSES, nt::UNEXPECTED_NAT_DETECTED] {
            if find_notify(payloads, t).is_some() {
                self.mobike_notify(
                    id,
                    false,
                    t,
                    "in a request (only valid in responses): ignored".into(),
                );
            }
        }
        let natd_requested = find_notify(payloads, nt::NAT_DETECTION_SOURCE_IP).is_some();
        let update = find_notify(payloads, nt::UPDATE_SA_ADDRESSES).is_some();
        let (list, bad) = announced(payloads);
        for b in bad {
            self.mobike_notify(id, false, nt::ADDITIONAL_IP4_ADDRESS, b);
        }
        let Some(sa) = self.sas.get(&id) else {
            return Ok(out);
        };
        let mobike = sa.peer_mobike;
        if (update || list.is_some()) && !mobike {
            self.mobike_notify(
                id,
                false,
                if update {
                    nt::UPDATE_SA_ADDRESSES
                } else {
                    nt::ADDITIONAL_IP4_ADDRESS
                },
                "MOBIKE was not negotiated on this IKE SA: ignored".into(),
            );
        }
        // NAT detection answered over the response's own addresses (§3.8)
        if natd_requested {
            out.extend(self.natd_for(id, path));
        }
        let Some(sa) = self.sas.get(&id) else {
            return Ok(out);
        };
        // the peer's address list: a full replacement plus the packet's source (§3.6)
        if mobike {
            if let Some(list) = list {
                let mut set = vec![path.remote.ip()];
                for a in list {
                    if !set.contains(&a) {
                        set.push(a);
                    }
                }
                let moved_peer =
                    sa.original_initiator && path.remote.ip() != sa.path.remote.ip() && !update;
                if let Some(sa) = self.sas.get_mut(&id) {
                    sa.remote_addrs = set;
                    let ev = EngineEvent::Addresses {
                        sa: id,
                        local: sa.local_addrs.clone(),
                        remote: sa.remote_addrs.clone(),
                    };
                    self.event(ev);
                }
                if moved_peer {
                    // the responder moved (its address went away): follow it, then
                    // confirm with an UPDATE of our own
                    let trigger = Trigger {
                        at: now,
                        cause: MoveCause::PeerMoved,
                    };
                    self.move_sa(id, path, trigger, true);
                    if let Some(sa) = self.sas.get_mut(&id) {
                        sa.mobike.update_due = Some(trigger);
                    }
                    self.queue_task(id, Task::Update);
                }
            }
        }
        let Some(sa) = self.sas.get(&id) else {
            return Ok(out);
        };
        if update && mobike {
            if sa.original_initiator {
                self.mobike_notify(
                    id,
                    false,
                    nt::UPDATE_SA_ADDRESSES,
                    "from the responder (only the original initiator may send it): ignored".into(),
                );
            } else if self
                .config
                .mobike
                .refuse
                .iter()
                .any(|r| crate::engine::TsRange::host(path.remote.ip()).is_subset_of(r))
            {
                self.mobike_notify(
                    id,
                    true,
                    nt::UNACCEPTABLE_ADDRESSES,
                    format!("{} refused by policy", path.remote.ip()),
                );
                out.push(notify(nt::UNACCEPTABLE_ADDRESSES));
            } else {
                self.accept_update(id, path, payloads);
            }
        }
        if !mobike {
            self.follow_nat(id, path);
        }
        out.extend(echo);
        Ok(out)
    }

    /// UPDATE_SA_ADDRESSES accepted: the IKE SA takes the packet's addresses; the
    /// CHILD_SAs follow now or after a return routability check.
    fn accept_update(&mut self, id: SaId, path: Path, payloads: &[Payload<'_>]) {
        let now = self.now;
        let policy = self.config.mobike.return_routability;
        let Some(sa) = self.sas.get(&id) else {
            return;
        };
        let trigger = Trigger {
            at: now,
            cause: MoveCause::UpdateReceived,
        };
        if let Some((nl, nr)) = natd::check(payloads, sa.spi_i, sa.spi_r, path) {
            let changed = (nl, nr) != (sa.nat_local, sa.nat_remote);
            if let Some(sa) = self.sas.get_mut(&id) {
                sa.nat_local = nl;
                sa.nat_remote = nr;
            }
            self.event(EngineEvent::Nat {
                sa: id,
                local: nl,
                remote: nr,
                mapping_changed: changed,
            });
        }
        let Some(sa) = self.sas.get(&id) else {
            return;
        };
        let children_path = sa.children.first().map_or(sa.path, |c| c.path);
        let new_addr = path.remote.ip() != children_path.remote.ip();
        let rr = match policy {
            ReturnRoutability::Always => new_addr,
            ReturnRoutability::Unannounced => {
                new_addr && !sa.remote_addrs.contains(&path.remote.ip())
            }
            ReturnRoutability::Never => false,
        };
        if path == sa.path && !rr {
            return; // nothing changes (an update after a NAT check, say)
        }
        self.move_sa(id, path, trigger, !rr);
        if rr {
            if let Some(sa) = self.sas.get_mut(&id) {
                sa.mobike.rr = Some(RrCheck { path, trigger });
            }
            self.queue_task(id, Task::ReturnRoutability);
        }
    }

    /// RFC 7296 §2.23: without MOBIKE, a responder follows a NATed peer's new mapping
    /// (authenticated request from another address or port).
    fn follow_nat(&mut self, id: SaId, path: Path) {
        let now = self.now;
        let Some(sa) = self.sas.get(&id) else {
            return;
        };
        if sa.original_initiator || !sa.nat_remote || path == sa.path || path.local != sa.path.local
        {
            return;
        }
        let trigger = Trigger {
            at: now,
            cause: MoveCause::NatFollow,
        };
        self.move_sa(id, path, trigger, true);
    }

    /// The response to one of our MOBIKE-carrying INFORMATIONALs (or a DPD).
    pub(crate) fn process_mobike_response(
        &mut self,
        id: SaId,
        task: Task,
        path: Path,
        payloads: &[Payload<'_>],
    ) {
        // only the exchanges that carry our COOKIE2 own it
        let carries_cookie = matches!(
            task,
            Task::Update | Task::Announce | Task::ReturnRoutability
        );
        let sent_cookie = match self.sas.get_mut(&id) {
            Some(s) if carries_cookie => s.mobike.cookie2.take(),
            _ => None,
        };
        if let Some(sent) = sent_cookie {
            let got = cookie2_of(payloads).ok().flatten();
            let same = got
                .as_ref()
                .is_some_and(|g| bool::from(g.as_slice().ct_eq(&sent)));
            if !same {
                // RFC 4555 §3.7: a mismatch ends the IKE SA
                let why = "COOKIE2 mismatch, closing IKE SA".to_string();
                self.mobike_notify(id, false, nt::COOKIE2, why.clone());
                self.error(Some(id), why.clone());
                self.destroy_sa(id, &why);
                return;
            }
        }
        if task == Task::ReturnRoutability {
            self.rr_done(id, true);
            return;
        }
        if find_notify(payloads, nt::UNACCEPTABLE_ADDRESSES).is_some() {
            self.mobike_notify(id, false, nt::UNACCEPTABLE_ADDRESSES, format!("for {path}"));
            self.update_refused(id, path);
            return;
        }
        if find_notify(payloads, nt::UNEXPECTED_NAT_DETECTED).is_some() {
            self.mobike_notify(id, false, nt::UNEXPECTED_NAT_DETECTED, format!("on {path}"));
            let Some(sa) = self.sas.get_mut(&id) else {
                return;
            };
            sa.mobike.nat_retries += 1;
            if sa.mobike.nat_retries <= NAT_RETRIES && task == Task::Update {
                // one forged answer must not win: try again with a new request (§3.9)
                sa.mobike.update_due.get_or_insert(Trigger {
                    at: self.now,
                    cause: MoveCause::Operator,
                });
                self.queue_task(id, Task::Update);
            } else {
                sa.mobike.nat_retries = 0;
                sa.mobike.update_due = None;
                self.error(
                    Some(id),
                    format!("MOBIKE: UNEXPECTED_NAT_DETECTED {NAT_RETRIES} times on {path}; giving up on this update"),
                );
            }
            return;
        }
        self.check_mapping(id, task, path, payloads);
        if task == Task::Update {
            if let Some(sa) = self.sas.get_mut(&id) {
                sa.mobike.update_due = None;
                sa.mobike.nat_retries = 0;
            }
        }
    }

    /// NAT detection in a response: a changed mapping of our side means a NAT rebinding
    /// (RFC 4555 §3.8): the original initiator updates.
    fn check_mapping(&mut self, id: SaId, task: Task, path: Path, payloads: &[Payload<'_>]) {
        let now = self.now;
        let Some(sa) = self.sas.get(&id) else {
            return;
        };
        let Some((nl, nr)) = natd::check(payloads, sa.spi_i, sa.spi_r, path) else {
            return;
        };
        let dst = natd_destination(payloads);
        let changed = matches!((sa.mobike.mapping, dst), (Some(a), Some(b)) if a != b);
        let original_initiator = sa.original_initiator;
        if let Some(sa) = self.sas.get_mut(&id) {
            sa.nat_local = nl;
            sa.nat_remote = nr;
            sa.mobike.mapping = dst;
        }
        self.event(EngineEvent::Nat {
            sa: id,
            local: nl,
            remote: nr,
            mapping_changed: changed,
        });
        if changed && original_initiator && task != Task::Update {
            let trigger = Trigger {
                at: now,
                cause: MoveCause::NatMapping,
            };
            if let Some(sa) = self.sas.get_mut(&id) {
                sa.mobike.update_due = Some(trigger);
            }
            self.queue_task(id, Task::Update);
        }
    }

    /// UNACCEPTABLE_ADDRESSES: try the other paths (RFC 4555 §3.5 MAY), else stay.
    fn update_refused(&mut self, id: SaId, path: Path) {
        let now = self.now;
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        if !sa.mobike.refused.contains(&path) {
            sa.mobike.refused.push(path);
        }
        sa.mobike.update_due = None;
        self.event(EngineEvent::Path {
            sa: id,
            path,
            state: PathState::Failed,
            rtt: None,
        });
        let paths = self.candidates(id, false);
        if paths.is_empty() {
            self.error(
                Some(id),
                format!("MOBIKE: the peer refused {path} and no other path is left: staying"),
            );
            return;
        }
        let trigger = Trigger {
            at: now,
            cause: MoveCause::Operator,
        };
        self.start_probe(id, trigger, paths, true);
    }

    /// A return routability check ended: the CHILD_SAs follow the IKE SA, or stay.
    fn rr_done(&mut self, id: SaId, ok: bool) {
        let now = self.now;
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        let Some(rr) = sa.mobike.rr.take() else {
            return;
        };
        if ok {
            let old = sa.children.first().map_or(rr.path, |c| c.path);
            for c in &mut sa.children {
                c.path = rr.path;
            }
            self.event(EngineEvent::RrCheck {
                sa: id,
                path: rr.path,
                ok,
            });
            self.event(EngineEvent::Moved {
                sa: id,
                old,
                new: rr.path,
                cause: rr.trigger.cause,
                elapsed: now.saturating_since(rr.trigger.at),
                children: true,
            });
        } else {
            self.event(EngineEvent::RrCheck {
                sa: id,
                path: rr.path,
                ok,
            });
            self.error(
                Some(id),
                format!(
                    "return routability check of {} failed: the CHILD_SAs stay",
                    rr.path
                ),
            );
        }
    }

    /// `probe [SA]`: test every path now; move only if the current one is gone.
    pub(crate) fn command_probe(&mut self, id: SaId) -> Result<(), CommandError> {
        let sa = self.sas.get(&id).ok_or(CommandError::UnknownSa(id))?;
        if !sa.peer_mobike {
            return Err(CommandError::Invalid(format!(
                "IKE SA {id}: MOBIKE is not negotiated"
            )));
        }
        let gone = !self.local_addrs.contains(&sa.path.local.ip());
        let paths = self.candidates(id, true);
        let trigger = Trigger {
            at: self.now,
            cause: MoveCause::Operator,
        };
        self.start_probe(id, trigger, paths, gone);
        Ok(())
    }

    /// `update [SA]`: UPDATE_SA_ADDRESSES now.
    pub(crate) fn command_update(&mut self, id: SaId) -> Result<(), CommandError> {
        let sa = self.sas.get_mut(&id).ok_or(CommandError::UnknownSa(id))?;
        if !sa.peer_mobike {
            return Err(CommandError::Invalid(format!(
                "IKE SA {id}: MOBIKE is not negotiated"
            )));
        }
        if !sa.original_initiator {
            return Err(CommandError::Invalid(format!(
                "IKE SA {id}: only the original initiator sends UPDATE_SA_ADDRESSES (use `send {id} UPDATE_SA_ADDRESSES` to break the rule)"
            )));
        }
        sa.mobike.update_due = Some(Trigger {
            at: self.now,
            cause: MoveCause::Operator,
        });
        self.queue_task(id, Task::Update);
        Ok(())
    }

    /// `move LOCAL [REMOTE]`: probe that one path, then move there.
    pub(crate) fn command_move(
        &mut self,
        id: SaId,
        local: IpAddr,
        remote: Option<IpAddr>,
    ) -> Result<(), CommandError> {
        let sa = self.sas.get(&id).ok_or(CommandError::UnknownSa(id))?;
        if !sa.peer_mobike {
            return Err(CommandError::Invalid(format!(
                "IKE SA {id}: MOBIKE is not negotiated"
            )));
        }
        if !self.local_addrs.contains(&local) {
            return Err(CommandError::Invalid(format!(
                "{local} is not one of our addresses ({})",
                self.local_addrs
                    .iter()
                    .map(|a| a.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let path = self
            .candidates(id, true)
            .into_iter()
            .chain(
                self.sas
                    .get(&id)
                    .map(|s| s.mobike.refused.clone())
                    .unwrap_or_default(),
            )
            .find(|p| p.local.ip() == local && remote.is_none_or(|r| p.remote.ip() == r));
        let Some(path) = path else {
            return Err(CommandError::Invalid(format!(
                "no path from {local}{} for IKE SA {id}",
                remote.map(|r| format!(" to {r}")).unwrap_or_default()
            )));
        };
        if let Some(sa) = self.sas.get_mut(&id) {
            sa.mobike.refused.retain(|p| *p != path);
        }
        let trigger = Trigger {
            at: self.now,
            cause: MoveCause::Operator,
        };
        self.start_probe(id, trigger, vec![path], true);
        Ok(())
    }

    /// `send SA NOTIFY...`: a crafted INFORMATIONAL.
    pub(crate) fn command_crafted(
        &mut self,
        id: SaId,
        notifies: Vec<(u16, Vec<u8>)>,
    ) -> Result<(), CommandError> {
        let sa = self.sas.get_mut(&id).ok_or(CommandError::UnknownSa(id))?;
        sa.mobike.crafted.push_back(notifies);
        self.queue_task(id, Task::Crafted);
        Ok(())
    }
}
