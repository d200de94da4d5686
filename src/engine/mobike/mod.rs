//! MOBIKE (RFC 4555) as one component, in the spirit of strongSwan's `ike_mobike`
//! task: the SA's announced and learned address sets, path probes, the pending
//! UPDATE_SA_ADDRESSES, COOKIE2 in flight and return routability checks. The IKE_AUTH
//! and INFORMATIONAL code calls its `build_*` functions to add payloads to a message
//! and its `process_*` functions to act on the peer's.
//!
//! `paths`: triggers (address changes, failed sends, unanswered requests), candidate
//! paths, probes and moves; `exchange`: the MOBIKE payloads of IKE_AUTH and
//! INFORMATIONAL exchanges in both roles; `commands`: the operator's MOBIKE commands.

mod commands;
mod exchange;
mod hints;
pub use hints::PathHint;
mod paths;

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
    /// The connection's own pair (its configured local and remote address) is usable
    /// again: the original initiator probes it and moves back when it answers.
    AddressGained,
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
    /// The return routability check of an optimistic move failed: back to the old path.
    RrFailed,
}

impl MoveCause {
    /// `address_lost`, `path_failed`, ...
    pub fn name(self) -> &'static str {
        match self {
            MoveCause::AddressLost => "address_lost",
            MoveCause::AddressGained => "address_gained",
            MoveCause::PathFailed => "path_failed",
            MoveCause::Operator => "operator",
            MoveCause::UpdateReceived => "update_received",
            MoveCause::PeerMoved => "peer_moved",
            MoveCause::NatMapping => "nat_mapping",
            MoveCause::NatFollow => "nat_follow",
            MoveCause::RrFailed => "rr_failed",
        }
    }
}

impl fmt::Display for MoveCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

use std::net::IpAddr;

use super::sa::{find_notify, notify};
use super::{Path, Timestamp};
use crate::wire::{
    notify_type as nt, payload_type as pt, Notify, NotifyData, Payload, PayloadBody,
};

/// Bytes of the COOKIE2 we send (RFC 4555 §4.2.5 allows 8..=64; strongSwan uses 16).
pub const COOKIE2_LEN: usize = 16;
/// New UPDATE_SA_ADDRESSES requests after UNEXPECTED_NAT_DETECTED before we give up on
/// the path (RFC 4555 §3.9: "a few times").
pub(super) const NAT_RETRIES: u32 = 3;
/// Paths probed at most at once.
pub(super) const MAX_PROBE_PATHS: usize = 16;

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
    /// Optimistic policy: the SA already moved; where it goes back to if the check fails.
    pub revert_to: Option<Path>,
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

pub(super) fn notify_payload(t: u16, data: NotifyData<'static>) -> Payload<'static> {
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

pub(super) fn d_len(d: &NotifyData<'_>) -> usize {
    let mut v = Vec::new();
    d.emit_into(&mut v);
    v.len()
}

/// The COOKIE2 of a message: `Ok(None)` without one, `Err(len)` for one of a length
/// RFC 4555 §4.2.5 does not allow.
pub(super) fn cookie2_of(payloads: &[Payload<'_>]) -> Result<Option<Vec<u8>>, usize> {
    match find_notify(payloads, nt::COOKIE2).map(|n| &n.data) {
        None => Ok(None),
        Some(NotifyData::Cookie2(c)) => Ok(Some(c.to_vec())),
        Some(d) => Err(d_len(d)),
    }
}

/// The echo of a request's COOKIE2 (of a length RFC 4555 allows), for a response.
pub(crate) fn cookie2_echo(payloads: &[Payload<'_>]) -> Vec<Payload<'static>> {
    match cookie2_of(payloads) {
        Ok(Some(c)) => vec![notify_payload(nt::COOKIE2, NotifyData::Cookie2(c.into()))],
        _ => vec![],
    }
}

/// The NAT_DETECTION_DESTINATION_IP hash of a message, if it has exactly one.
pub(super) fn natd_destination(payloads: &[Payload<'_>]) -> Option<[u8; 20]> {
    payloads
        .iter()
        .filter_map(|p| p.as_notify())
        .find_map(|n| match (n.notify_type, &n.data) {
            (nt::NAT_DETECTION_DESTINATION_IP, NotifyData::NatDetection(h)) => Some(*h),
            _ => None,
        })
}
