//! Lower-layer hints (RFC 4555 §3.5, §5.3 / RFC 7296 §2.21): ICMP errors and
//! unauthenticated INVALID_SPI notifies can be forged by anyone on the path, so they never
//! move an SA by themselves. They make the engine check the current path with one
//! liveness check carrying COOKIE2 (which doubles as a return routability check); only if
//! that check goes unanswered does the usual path-failure handling probe and move.

use std::fmt;

use crate::engine::sa::{IkeState, Task};
use crate::engine::{Engine, EngineEvent, Path, SaId, Timestamp};
use crate::wire::{notify_type as nt, payload_type as pt, Message, NotifyData};

/// What the lower layers said about a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathHint {
    /// An ICMP destination unreachable (or a send error) for `path`.
    Unreachable,
    /// An unprotected INFORMATIONAL with INVALID_SPI naming one of our outbound ESP SPIs.
    InvalidSpi(u32),
}

impl fmt::Display for PathHint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathHint::Unreachable => f.write_str("unreachable"),
            PathHint::InvalidSpi(spi) => write!(f, "INVALID_SPI {spi:08x}"),
        }
    }
}

impl Engine {
    /// A lower-layer hint about `path` (our address, the peer's): every established SA it
    /// concerns checks its current path, unless a request of its own is already in flight
    /// (its retransmissions are the check). At most one check per SA at a time, so a flood
    /// of forged hints costs one INFORMATIONAL.
    pub fn path_hint(&mut self, now: Timestamp, path: Path, hint: PathHint) {
        self.now = self.now.max(now);
        let concerned: Vec<SaId> = self
            .sas
            .values()
            .filter(|sa| sa.state == IkeState::Established)
            .filter(|sa| match hint {
                PathHint::Unreachable => {
                    sa.path.local.ip() == path.local.ip() && sa.path.remote.ip() == path.remote.ip()
                }
                PathHint::InvalidSpi(spi) => sa.children.iter().any(|c| c.spi_out == spi),
            })
            .map(|sa| sa.id)
            .collect();
        if concerned.is_empty() {
            self.stats.dropped += 1;
        }
        for id in concerned {
            self.check_after_hint(id, path, hint);
        }
    }

    fn check_after_hint(&mut self, id: SaId, path: Path, hint: PathHint) {
        let Some(sa) = self.sas.get(&id) else {
            return;
        };
        let check = if sa.peer_mobike {
            Task::Check
        } else {
            Task::Dpd
        };
        let busy = sa.outstanding.is_some() || sa.queue.iter().any(|t| *t == check);
        self.event(EngineEvent::Hint {
            sa: id,
            path,
            hint,
            checked: !busy,
        });
        if !busy {
            self.queue_task(id, check);
        }
    }

    /// An unprotected INFORMATIONAL carrying INVALID_SPI for an ESP SPI (RFC 7296
    /// §2.21.4): a hint, whatever its IKE SPIs say. Returns false for anything else.
    pub(crate) fn unprotected_invalid_spi(&mut self, path: Path, msg: &Message<'_>) -> bool {
        if msg.payloads.iter().any(|p| p.payload_type == pt::SK) {
            return false;
        }
        let spi = msg
            .payloads
            .iter()
            .filter_map(|p| p.as_notify())
            .filter(|n| n.notify_type == nt::INVALID_SPI)
            .find_map(|n| {
                let from_data = match &n.data {
                    NotifyData::Raw(d) => <[u8; 4]>::try_from(&d[..]).ok(),
                    _ => None,
                };
                from_data.or_else(|| <[u8; 4]>::try_from(&n.spi[..]).ok())
            });
        let Some(spi) = spi else {
            return false;
        };
        let now = self.now;
        self.path_hint(now, path, PathHint::InvalidSpi(u32::from_be_bytes(spi)));
        true
    }
}
