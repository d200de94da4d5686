//! A typed timer table (in the style of quinn-proto's `TimerTable`): each timer of an
//! IKE SA has a name, at most one deadline, and the engine asks the table for the
//! earliest one instead of scanning optional fields by hand.

use std::collections::BTreeMap;

use super::sa::{IkeState, Task};
use super::{Engine, SaId, Timestamp};

/// The timers of one IKE SA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Timer {
    /// Dead peer detection: nothing received for the connection's `dpd_delay`.
    Dpd,
    /// MOBIKE: give up on the SA when no path has answered since the probing began.
    GiveUp,
    /// MOBIKE: address changes settle for a moment before we act (roam debounce).
    Roam,
    /// MOBIKE: periodic path tests of the other pairs while the current one works.
    PathTest,
    /// Rekey the IKE SA (its rekey time minus jitter, or a retry after TEMPORARY_FAILURE).
    RekeyIke,
    /// Rekey the CHILD_SA with this inbound SPI.
    RekeyChild(u32),
    /// A rekeyed IKE SA the peer should have deleted by now: drop it.
    Expire,
}
// Path probes and return routability checks are requests: their retransmissions (to
// every path of the probe, on the probe schedule) ride the outstanding request's timer.
// Deadlines derived from other state are computed, not stored: the half-open limit (from
// the creation time) and NAT-T keepalives (from the last datagram sent).

/// Deadlines by timer.
#[derive(Debug, Clone, Default)]
pub struct TimerTable {
    deadlines: BTreeMap<Timer, Timestamp>,
}

impl TimerTable {
    /// Arm (or re-arm) `timer` for `at`.
    pub fn set(&mut self, timer: Timer, at: Timestamp) {
        self.deadlines.insert(timer, at);
    }

    /// Disarm `timer`.
    pub fn stop(&mut self, timer: Timer) {
        self.deadlines.remove(&timer);
    }

    /// The deadline of `timer`, if armed.
    pub fn get(&self, timer: Timer) -> Option<Timestamp> {
        self.deadlines.get(&timer).copied()
    }

    /// Is `timer` armed?
    pub fn is_set(&self, timer: Timer) -> bool {
        self.deadlines.contains_key(&timer)
    }

    /// Arm `timer` for `at`, or disarm it for `None`.
    pub fn set_or_stop(&mut self, timer: Timer, at: Option<Timestamp>) {
        match at {
            Some(at) => self.set(timer, at),
            None => self.stop(timer),
        }
    }

    /// Disarm and return the timers `which` selects (CHILD_SA timers moving to the IKE
    /// SA that replaces this one).
    pub fn take_where(&mut self, which: impl Fn(Timer) -> bool) -> Vec<(Timer, Timestamp)> {
        let taken: Vec<(Timer, Timestamp)> = self
            .deadlines
            .iter()
            .filter(|(t, _)| which(**t))
            .map(|(t, at)| (*t, *at))
            .collect();
        for (t, _) in &taken {
            self.deadlines.remove(t);
        }
        taken
    }

    /// The earliest deadline of all armed timers.
    pub fn next(&self) -> Option<Timestamp> {
        self.deadlines.values().copied().min()
    }

    /// Disarm and return every timer due at `now`, earliest first.
    pub fn expire(&mut self, now: Timestamp) -> Vec<Timer> {
        let mut due: Vec<(Timestamp, Timer)> = self
            .deadlines
            .iter()
            .filter(|(_, &at)| at <= now)
            .map(|(&t, &at)| (at, t))
            .collect();
        due.sort();
        for (_, t) in &due {
            self.deadlines.remove(t);
        }
        due.into_iter().map(|(_, t)| t).collect()
    }
}

impl Engine {
    /// Act on the timers of an SA that are due.
    pub(crate) fn sa_typed_timers(&mut self, id: SaId, now: Timestamp) {
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        for t in sa.timers.expire(now) {
            match t {
                Timer::Roam => self.roam_timer(id),
                Timer::GiveUp => {
                    if self.give_up_timer(id) {
                        return;
                    }
                }
                Timer::Dpd => self.dpd_timer(id),
                Timer::PathTest => {
                    let _ = self.command_probe(id);
                    self.arm_path_test(id);
                }
                Timer::RekeyIke => self.rekey_timer(id, Task::RekeyIke),
                Timer::RekeyChild(spi) => {
                    let live = self
                        .sas
                        .get(&id)
                        .is_some_and(|s| s.children.iter().any(|c| c.spi_in == spi && !c.rekeyed));
                    if live {
                        self.rekey_timer(id, Task::RekeyChild(spi));
                    }
                }
                Timer::Expire => {
                    self.destroy_sa(id, "rekeyed IKE SA was not deleted by the peer");
                    return;
                }
            }
        }
    }

    /// Rekeys start only on an established SA (a rekeyed one is on its way out).
    fn rekey_timer(&mut self, id: SaId, task: Task) {
        if self
            .sas
            .get(&id)
            .is_some_and(|s| s.state == IkeState::Established)
        {
            self.queue_task(id, task);
        }
    }

    /// MOBIKE: no path answered since the probing began. Returns true if the SA is gone.
    fn give_up_timer(&mut self, id: SaId) -> bool {
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
        }
        still
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_and_disarmed_on_expiry() {
        let mut t = TimerTable::default();
        assert_eq!(t.next(), None);
        t.set(Timer::GiveUp, Timestamp(30));
        t.set(Timer::Roam, Timestamp(10));
        t.set(Timer::Dpd, Timestamp(20));
        assert_eq!(t.next(), Some(Timestamp(10)));
        t.set(Timer::Roam, Timestamp(25)); // re-armed later
        assert_eq!(t.next(), Some(Timestamp(20)));
        assert_eq!(t.expire(Timestamp(26)), vec![Timer::Dpd, Timer::Roam]);
        assert!(!t.is_set(Timer::Roam));
        assert_eq!(t.get(Timer::GiveUp), Some(Timestamp(30)));
        t.stop(Timer::GiveUp);
        assert_eq!(t.next(), None);
    }
}
