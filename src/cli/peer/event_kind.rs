//! The names of the events `mobikectl peer` and the labs emit: one table for the
//! renderer ([`super::events`]) and for the drill files that wait for them
//! ([`crate::drill::parse`]), so a drill cannot name an event that never comes.

use crate::engine::EngineEvent;

/// The enum, its table of every kind and their names, from one list.
macro_rules! event_kinds {
    ($($(#[$doc:meta])* $kind:ident = $name:literal,)*) => {
        /// An event, by kind.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum EventKind {
            $($(#[$doc])* $kind,)*
        }

        impl EventKind {
            /// Every kind.
            pub const ALL: &'static [EventKind] = &[$(EventKind::$kind,)*];

            /// The `event` field's value.
            pub const fn name(self) -> &'static str {
                match self {
                    $(EventKind::$kind => $name,)*
                }
            }
        }
    };
}

event_kinds! {
    /// An IKE SA is established.
    IkeUp = "ike_up",
    /// A CHILD SA is established.
    ChildUp = "child_up",
    /// An IKE SA is gone.
    IkeDown = "ike_down",
    /// A CHILD SA is gone.
    ChildDown = "child_down",
    /// An IKE or CHILD SA was rekeyed.
    Rekeyed = "rekeyed",
    /// An IKE message went out.
    Sent = "sent",
    /// An IKE message came in.
    Received = "received",
    /// A request was sent again.
    Retransmit = "retransmit",
    /// A request got no answer.
    Timeout = "timeout",
    /// Something failed.
    Error = "error",
    /// The answer to `status`.
    Status = "status",
    /// A path's state changed (MOBIKE).
    Path = "path",
    /// An IKE SA moved to another path.
    Moved = "moved",
    /// The address lists of an IKE SA changed.
    Addresses = "addresses",
    /// NAT detection's result.
    Nat = "nat",
    /// A return routability check ended.
    RrCheck = "rr_check",
    /// A MOBIKE notify sent or received.
    MobikeNotify = "mobike_notify",
    /// A hint about a path (e.g. ICMP unreachable).
    Hint = "hint",
    /// A ping probe's summary.
    Ping = "ping",
    /// An inner packet; the peer reports them in sum (`ping`), never one by one.
    Esp = "esp",
    /// An ESP packet that could not be used.
    EspError = "esp_error",
    /// An ESP packet from another path than its CHILD SA's.
    EspUnexpectedPath = "esp_unexpected_path",
    /// The peer's answer to `help`.
    Help = "help",
    /// The peer got SIGINT or SIGTERM.
    Signal = "signal",
    /// The peer's usable addresses changed.
    LocalAddrs = "local_addrs",
    /// A `filter` command took effect.
    Filter = "filter",
    /// The virtual lab's NAT forgot an idle mapping.
    NatExpired = "nat_expired",
    /// The peer is set up (sockets bound), before it initiates or reads commands.
    Ready = "ready",
    /// The peer's event loop ended.
    Exit = "exit",
}

impl EventKind {
    /// The kind named `name`.
    pub fn from_name(name: &str) -> Option<EventKind> {
        EventKind::ALL.iter().copied().find(|k| k.name() == name)
    }

    /// Can a drill wait for it? Not for what the peer never prints on its own (`esp`:
    /// only in sum, as `ping`; `help`: only when asked), nor for its start and end,
    /// which lie outside a drill.
    pub const fn awaitable(self) -> bool {
        !matches!(
            self,
            EventKind::Esp | EventKind::Help | EventKind::Ready | EventKind::Exit
        )
    }

    /// The kind of an engine event.
    pub fn of(ev: &EngineEvent) -> EventKind {
        match ev {
            EngineEvent::IkeUp { .. } => EventKind::IkeUp,
            EngineEvent::ChildUp { .. } => EventKind::ChildUp,
            EngineEvent::IkeDown { .. } => EventKind::IkeDown,
            EngineEvent::ChildDown { .. } => EventKind::ChildDown,
            EngineEvent::Rekeyed { .. } => EventKind::Rekeyed,
            EngineEvent::Sent { .. } => EventKind::Sent,
            EngineEvent::Received { .. } => EventKind::Received,
            EngineEvent::Retransmit { .. } => EventKind::Retransmit,
            EngineEvent::Timeout { .. } => EventKind::Timeout,
            EngineEvent::Error { .. } => EventKind::Error,
            EngineEvent::Status(_) => EventKind::Status,
            EngineEvent::Path { .. } => EventKind::Path,
            EngineEvent::Moved { .. } => EventKind::Moved,
            EngineEvent::Addresses { .. } => EventKind::Addresses,
            EngineEvent::Nat { .. } => EventKind::Nat,
            EngineEvent::RrCheck { .. } => EventKind::RrCheck,
            EngineEvent::MobikeNotify { .. } => EventKind::MobikeNotify,
            EngineEvent::Hint { .. } => EventKind::Hint,
            EngineEvent::EspReceived { .. } => EventKind::Esp,
            EngineEvent::EspError { .. } => EventKind::EspError,
            EngineEvent::EspUnexpectedPath { .. } => EventKind::EspUnexpectedPath,
        }
    }
}

/// The names a drill can wait for.
pub fn awaitable_event_names() -> impl Iterator<Item = &'static str> {
    EventKind::ALL
        .iter()
        .filter(|k| k.awaitable())
        .map(|k| k.name())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_found_again() {
        for k in EventKind::ALL {
            assert_eq!(EventKind::from_name(k.name()), Some(*k));
        }
        let mut names: Vec<_> = EventKind::ALL.iter().map(|k| k.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), EventKind::ALL.len());
    }
}
