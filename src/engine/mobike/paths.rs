//! Triggers, candidate paths, probes and moves (RFC 4555 §3.5).

use std::net::IpAddr;
use std::time::Duration;

use super::{MoveCause, PathState, Probe, Trigger, MAX_PROBE_PATHS};
use crate::engine::sa::{IkeState, Pending, Task};
use crate::engine::timer::Timer;
use crate::engine::{Engine, EngineEvent, Path, SaId, Timestamp};
use crate::wire;

impl Engine {
    /// Our usable addresses changed (the OS or the operator): SAs whose path lost its
    /// local address move (after [`MobikeConfig::roam_debounce`]); the others announce
    /// the new set to MOBIKE peers.
    ///
    /// [`MobikeConfig::roam_debounce`]: crate::engine::config::MobikeConfig::roam_debounce
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
        let gained: Vec<IpAddr> = set
            .iter()
            .filter(|a| !self.local_addrs.contains(a))
            .copied()
            .collect();
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
                // the connection's own address came back while the SA is elsewhere: the
                // original initiator (who decides, RFC 4555 §3.5) tries its pair again
                let home_back = self.sas.get(&id).is_some_and(|s| {
                    s.original_initiator
                        && self.config.connections.get(s.conn).is_some_and(|c| {
                            gained.contains(&c.local.ip()) && c.local.ip() != s.path.local.ip()
                        })
                });
                let cause = if stalled {
                    MoveCause::AddressLost
                } else if home_back {
                    MoveCause::AddressGained
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
            // a move already under way for a lost address or a failed path keeps its
            // cause (a queued ESP packet failing on the old path says nothing new)
            .filter(|s| {
                !s.mobike.probe.as_ref().is_some_and(|p| {
                    p.move_on_answer
                        && matches!(
                            p.trigger.cause,
                            MoveCause::AddressLost | MoveCause::PathFailed
                        )
                })
            })
            .map(|s| s.id)
            .collect();
        for id in ids {
            self.roam(id, MoveCause::PathFailed);
        }
    }

    /// Note a trigger and arm the roam timer (address changes come in bursts).
    pub(super) fn roam(&mut self, id: SaId, cause: MoveCause) {
        let now = self.now;
        let debounce = self.config.mobike.roam_debounce;
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        let keep = sa.mobike.roam.filter(|t| t.cause != MoveCause::Operator);
        sa.mobike.roam = Some(match keep {
            // a send that failed just before the address went is the address loss: the
            // earlier time, the truer cause
            Some(t) if t.cause == MoveCause::PathFailed && cause == MoveCause::AddressLost => {
                Trigger { at: t.at, cause }
            }
            Some(t) => t,
            None => Trigger { at: now, cause },
        });
        if !sa.timers.is_set(Timer::Roam) {
            sa.timers.set(Timer::Roam, now + debounce);
        }
    }

    /// The connection's `dpd_delay` of an SA.
    fn dpd_delay(&self, id: SaId) -> Option<Duration> {
        let sa = self.sas.get(&id)?;
        self.config.connections.get(sa.conn).map(|c| c.dpd_delay)
    }

    pub(crate) fn dpd_timer(&mut self, id: SaId) {
        let Some(delay) = self.dpd_delay(id) else {
            return;
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
        let Some(delay) = self.dpd_delay(id) else {
            return;
        };
        if let Some(sa) = self.sas.get_mut(&id) {
            if !delay.is_zero() {
                sa.timers.set(Timer::Dpd, now + delay);
            }
        }
        self.arm_path_test(id);
    }

    pub(crate) fn arm_path_test(&mut self, id: SaId) {
        let every = self.config.mobike.path_test_interval;
        let now = self.now;
        if let Some(sa) = self.sas.get_mut(&id) {
            if !every.is_zero() && sa.peer_mobike {
                sa.timers.set(Timer::PathTest, now + every);
            }
        }
    }

    pub(crate) fn roam_timer(&mut self, id: SaId) {
        let Some(sa) = self.sas.get(&id) else {
            return;
        };
        let Some(trigger) = sa.mobike.roam else {
            return;
        };
        let path_gone = !self.local_addrs.contains(&sa.path.local.ip());
        let must_move = path_gone || trigger.cause == MoveCause::PathFailed;
        if !must_move {
            let mobike = sa.peer_mobike;
            if let Some(sa) = self.sas.get_mut(&id) {
                sa.mobike.roam = None;
            }
            if trigger.cause == MoveCause::AddressGained && mobike {
                if let Some(home) = self.home_path(id) {
                    self.start_probe(id, trigger, vec![home], true);
                }
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

    /// The connection's own pair (configured local and first remote address) as a path
    /// of the SA, when it is a usable candidate other than the current path.
    fn home_path(&self, id: SaId) -> Option<Path> {
        let sa = self.sas.get(&id)?;
        let conn = self.config.connections.get(sa.conn)?;
        let (l, r) = (conn.local.ip(), conn.remote.ip());
        self.candidates(id, false)
            .into_iter()
            .find(|p| p.local.ip() == l && p.remote.ip() == r)
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
    pub(super) fn start_probe(
        &mut self,
        id: SaId,
        trigger: Trigger,
        paths: Vec<Path>,
        move_on_answer: bool,
    ) {
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
        // an address gain's probe is optional: the current path still works
        let optional = trigger.cause == MoveCause::AddressGained;
        if !optional && !sa.timers.is_set(Timer::GiveUp) {
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
        // the request in flight becomes the probe only when its path is gone or failing
        // (RFC 4555 §3.5 d), or it already went unanswered; otherwise it may well be
        // answered on its own path, and the probe waits its turn
        let current_unusable = self.sas.get(&id).is_some_and(|sa| {
            !self.local_addrs.contains(&sa.path.local.ip())
                || matches!(
                    trigger.cause,
                    MoveCause::PathFailed | MoveCause::AddressLost
                )
                || sa.outstanding.as_ref().is_some_and(|o| o.retries > 0)
        });
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        match sa.outstanding.as_mut().filter(|_| current_unusable) {
            Some(o) if !optional => {
                // the request in flight becomes the probe
                o.paths = paths;
                o.next_at = now;
                let mid = o.message_id;
                if let Some(p) = sa.mobike.probe.as_mut() {
                    p.message_id = Some(mid);
                }
                self.retransmit_probe(id, now);
            }
            _ => {
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
        let tries = self.config.retransmit.tries;
        let first_delay = self.config.retransmit.delay(0);
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        let Some(o) = sa.outstanding.as_mut() else {
            return;
        };
        // a return routability check gets the normal number of tries, then fails alone;
        // the request keeps its message ID and goes on as a plain request on the path the
        // IKE SA returns to (rr_done): dropped, the peer would never see that ID and
        // ignore every later request of ours (RFC 7296 §2.3 window)
        if o.kind == Pending::Task(Task::ReturnRoutability) && o.retries >= tries {
            o.paths.clear();
            o.retries = 0;
            o.first_sent = now;
            o.next_at = now + first_delay;
            self.rr_done(id, false);
            return;
        }
        // so does an address gain's probe: unanswered, the SA stays, and the request
        // (its message ID) goes on on the current path
        let optional = sa.mobike.probe.as_ref().is_some_and(|p| {
            p.message_id == Some(o.message_id) && p.trigger.cause == MoveCause::AddressGained
        });
        if optional && o.retries >= tries {
            o.paths.clear();
            o.retries = 0;
            o.first_sent = now;
            o.next_at = now + first_delay;
            let (bytes, path) = (o.bytes.clone(), sa.path);
            let failed = sa.mobike.probe.take().map(|p| p.paths).unwrap_or_default();
            for p in failed {
                self.event(EngineEvent::Path {
                    sa: id,
                    path: p,
                    state: PathState::Failed,
                    rtt: None,
                });
            }
            self.transmit(path, bytes);
            return;
        }
        o.retries += 1;
        let f = base.max(1.0).powi(o.retries.min(32) as i32);
        let delay = Duration::from_secs_f64((timeout.as_secs_f64() * f).min(max.as_secs_f64()));
        o.next_at = now + delay;
        let (bytes, exchange, message_id, attempt) =
            (o.bytes.clone(), o.exchange, o.message_id, o.retries);
        let paths = o.paths.clone();
        o.sent_from(&paths);
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
    /// Returns the trigger when the SA moved: the caller then calls
    /// [`Engine::after_probe_move`] once the response itself is processed (so that what
    /// the response starts goes out on the new path, and the UPDATE after it).
    pub(crate) fn probe_answered(
        &mut self,
        id: SaId,
        path: Path,
        kind: Pending,
    ) -> Option<Trigger> {
        let now = self.now;
        if kind == Pending::Task(Task::ReturnRoutability) {
            // handled with the response (COOKIE2 check first)
            return None;
        }
        let sa = self.sas.get_mut(&id)?;
        sa.timers.stop(Timer::GiveUp);
        let probe = sa.mobike.probe.as_mut()?;
        let rtt = now.saturating_since(probe.sent_at);
        probe.answered.push(path);
        let (trigger, move_on_answer) = (probe.trigger, probe.move_on_answer);
        self.event(EngineEvent::Path {
            sa: id,
            path,
            state: PathState::Ok,
            rtt: Some(rtt),
        });
        let sa = self.sas.get(&id)?;
        if move_on_answer && path != sa.path {
            self.move_sa(id, path, trigger, true);
            return Some(trigger);
        }
        None
    }

    /// After a probe moved the SA: the original initiator sends UPDATE_SA_ADDRESSES, a
    /// responder its address list.
    pub(crate) fn after_probe_move(&mut self, id: SaId, trigger: Trigger) {
        // the answer may have completed our IKE SA rekey (the request in flight was the
        // probe): the old SA is being deleted, the UPDATE goes on the one replacing it
        let id = self
            .sas
            .get(&id)
            .and_then(|sa| sa.superseded_by)
            .unwrap_or(id);
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        if sa.original_initiator {
            sa.mobike.update_due = Some(trigger);
            self.queue_task_first(id, Task::Update);
        } else {
            // a responder whose own address went away tells the initiator where it is
            // now (RFC 4555 §3.5; strongSwan then moves at once)
            sa.mobike.announce_due = true;
            self.queue_task_first(id, Task::Announce);
        }
    }

    /// An address list (UPDATE or list alone) whose copies left from several of our
    /// addresses was answered: the peer may have added any of those sources to our set,
    /// so a fresh list follows in a new exchange (RFC 4555 §3.6), unless one is on its way.
    pub(crate) fn list_follow_up(&mut self, id: SaId, kind: Pending) {
        if !matches!(kind, Pending::Task(Task::Announce | Task::Update)) {
            return;
        }
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        let carries_list = |t: Task| matches!(t, Task::Announce | Task::Update);
        let on_its_way = sa.queue.iter().any(|t| carries_list(*t))
            || sa
                .outstanding
                .as_ref()
                .is_some_and(|o| matches!(o.kind, Pending::Task(t) if carries_list(t)));
        if !sa.peer_mobike || on_its_way {
            return;
        }
        sa.mobike.announce_due = true;
        self.queue_task(id, Task::Announce);
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
            .as_mut()
            .filter(|o| o.paths.is_empty())
            .map(|o| {
                o.sent_from(&[new]);
                o.bytes.clone()
            });
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
}
