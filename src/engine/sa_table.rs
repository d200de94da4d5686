//! The IKE SAs, with an index of their next deadlines.
//!
//! Drivers ask [`Engine::poll_timeout`](super::Engine::poll_timeout) after every datagram;
//! scanning every SA each time made the engine quadratic in the number of SAs. The table
//! notes which SAs were handed out mutably (`get_mut`, `insert`, `remove`) and refreshes
//! only their entries in a `(deadline, SA)` index before answering.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::config::Config;
use super::sa::IkeSa;
use super::{SaId, Timestamp};

/// Deadlines by time, and each SA's entry in it.
#[derive(Debug, Default)]
struct DeadlineIndex {
    by_time: BTreeSet<(Timestamp, SaId)>,
    of: HashMap<SaId, Timestamp>,
    /// SAs whose deadline may have changed since the index saw them.
    stale: BTreeSet<SaId>,
    /// Every SA is stale (the configuration changed: keepalive and half-open limits).
    all_stale: bool,
}

/// The engine's IKE SAs.
#[derive(Debug, Default)]
pub(crate) struct SaTable {
    map: BTreeMap<SaId, IkeSa>,
    index: RefCell<DeadlineIndex>,
}

impl SaTable {
    pub(crate) fn get(&self, id: &SaId) -> Option<&IkeSa> {
        self.map.get(id)
    }

    /// The SA, for changes: its deadline is looked at again before the next answer.
    pub(crate) fn get_mut(&mut self, id: &SaId) -> Option<&mut IkeSa> {
        self.index.get_mut().stale.insert(*id);
        self.map.get_mut(id)
    }

    pub(crate) fn insert(&mut self, id: SaId, sa: IkeSa) -> Option<IkeSa> {
        self.index.get_mut().stale.insert(id);
        self.map.insert(id, sa)
    }

    pub(crate) fn remove(&mut self, id: &SaId) -> Option<IkeSa> {
        self.index.get_mut().stale.insert(*id);
        self.map.remove(id)
    }

    pub(crate) fn keys(&self) -> impl Iterator<Item = &SaId> {
        self.map.keys()
    }

    pub(crate) fn values(&self) -> std::collections::btree_map::Values<'_, SaId, IkeSa> {
        self.map.values()
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// The configuration changed: every deadline is recomputed.
    pub(crate) fn all_stale(&mut self) {
        self.index.get_mut().all_stale = true;
    }

    /// The earliest deadline of any SA.
    pub(crate) fn next_deadline(&self, config: &Config) -> Option<Timestamp> {
        let mut index = self.index.borrow_mut();
        self.refresh(&mut index, config);
        index.by_time.first().map(|(t, _)| *t)
    }

    /// The SAs with a deadline at or before `now`.
    pub(crate) fn due(&self, config: &Config, now: Timestamp) -> Vec<SaId> {
        let mut index = self.index.borrow_mut();
        self.refresh(&mut index, config);
        index
            .by_time
            .iter()
            .take_while(|(t, _)| *t <= now)
            .map(|(_, id)| *id)
            .collect()
    }

    fn refresh(&self, index: &mut DeadlineIndex, config: &Config) {
        let stale: Vec<SaId> = if index.all_stale {
            index.all_stale = false;
            index.stale.clear();
            index.by_time.clear();
            index.of.clear();
            self.map.keys().copied().collect()
        } else {
            std::mem::take(&mut index.stale).into_iter().collect()
        };
        for id in stale {
            if let Some(old) = index.of.remove(&id) {
                index.by_time.remove(&(old, id));
            }
            if let Some(t) = self.map.get(&id).and_then(|sa| sa.next_timer(config)) {
                index.by_time.insert((t, id));
                index.of.insert(id, t);
            }
        }
    }
}
