//! Monotonic clock for the engine.

use std::time::{Duration, Instant, SystemTime};

use crate::engine::Timestamp;

/// Engine time: microseconds since the clock was created, from [`Instant`] (monotonic).
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start: Instant,
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

impl Clock {
    /// Starts at zero now.
    pub fn new() -> Clock {
        Clock {
            start: Instant::now(),
        }
    }

    /// The current engine time.
    pub fn now(&self) -> Timestamp {
        Timestamp::from_micros(u64::try_from(self.start.elapsed().as_micros()).unwrap_or(u64::MAX))
    }

    /// How long until `t` (zero if it has passed).
    pub fn until(&self, t: Timestamp) -> Duration {
        t.saturating_since(self.now())
    }

    /// Wall-clock time (for event and capture timestamps only).
    pub fn wall() -> SystemTime {
        SystemTime::now()
    }
}
