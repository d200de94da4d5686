//! A typed timer table (in the style of quinn-proto's `TimerTable`): each timer of an
//! IKE SA has a name, at most one deadline, and the engine asks the table for the
//! earliest one instead of scanning optional fields by hand.

use std::collections::BTreeMap;

use super::Timestamp;

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
}
// Path probes and return routability checks are requests: their retransmissions (to
// every path of the probe, on the probe schedule) ride the outstanding request's timer.

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
