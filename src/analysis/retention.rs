//! How long an answered exchange is remembered ([`ANSWERED_RETENTION_US`]): the times of
//! its copies queue up, oldest first, and come out once the retention has passed. The
//! analysis and the capture browser's request pairing forget by the same queue, so that
//! they agree on which copy is a retransmission.
use std::collections::VecDeque;

/// How long an answered exchange is remembered after its last copy (request or response),
/// in µs of capture time: 120 s. Implementations' default timers send copies of a request
/// at most 42 s apart (strongSwan: 4 s x 1.8^4; libreswan: 0.5 s doubled up to 60 s), so a
/// copy arrives well within it; a later one is analysed as a new request.
pub const ANSWERED_RETENTION_US: i64 = 120_000_000;

/// The copies of answered exchanges, by capture time, oldest first.
#[derive(Debug)]
pub struct RetentionQueue<K> {
    queue: VecDeque<(i64, K)>,
}

impl<K> Default for RetentionQueue<K> {
    fn default() -> Self {
        RetentionQueue {
            queue: VecDeque::new(),
        }
    }
}

impl<K: Copy> RetentionQueue<K> {
    /// A copy of the answered exchange `key` at `at`.
    pub fn note(&mut self, at: i64, key: K) {
        self.queue.push_back((at, key));
    }

    /// Takes out the copies older than the retention at `now`. The caller forgets an
    /// exchange only if the copy is still its latest: a later one has its own entry.
    pub fn expire(&mut self, now: i64) -> impl Iterator<Item = (i64, K)> + '_ {
        let horizon = now.saturating_sub(ANSWERED_RETENTION_US);
        std::iter::from_fn(move || {
            let &(at, _) = self.queue.front()?;
            if at < horizon {
                self.queue.pop_front()
            } else {
                None
            }
        })
    }

    /// Copies queued.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Nothing queued.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Forgets everything, and the room it took.
    pub fn clear(&mut self) {
        self.queue = VecDeque::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_come_out_once_the_retention_has_passed_in_order() {
        let mut q = RetentionQueue::default();
        q.note(0, 'a');
        q.note(10, 'b');
        q.note(ANSWERED_RETENTION_US, 'c');
        assert_eq!(q.expire(ANSWERED_RETENTION_US).collect::<Vec<_>>(), []);
        assert_eq!(
            q.expire(ANSWERED_RETENTION_US + 11).collect::<Vec<_>>(),
            [(0, 'a'), (10, 'b')]
        );
        assert_eq!(q.len(), 1);
        // time going back takes nothing out
        assert_eq!(q.expire(i64::MIN).count(), 0);
        assert_eq!(
            q.expire(i64::MAX).collect::<Vec<_>>(),
            [(ANSWERED_RETENTION_US, 'c')]
        );
        assert!(q.is_empty());
    }
}
