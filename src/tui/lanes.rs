//! The MOBIKE timeline of one IKE SA as lanes: one lane per path (the initiator's
//! address:port and the responder's) seen for the SA, rows in time order (its messages and
//! the analysis' events), each row's mark in the lane of the path it happened on, moves as
//! arrows from the old lane to the new, and the SA's current path after every row.
//!
//! Built on demand for one SA (the browser keeps the last one), from the index's messages
//! and events: nothing per message is kept in the index for it.
use std::net::{IpAddr, SocketAddr};

use super::capture_index::{CaptureIndex, EventTag, MessageEntry};

/// Notify type of UPDATE_SA_ADDRESSES (RFC 4555).
const UPDATE_SA_ADDRESSES: u16 = 16400;

/// What a row is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaneItem {
    /// A message (index in the capture index).
    Message(u32),
    /// An analysis event (index in the index's timeline).
    Event(u32),
}

/// The mark a row puts in its lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Request,
    Response,
    Retransmission,
    /// A request on a path other than the SA's: a path test (RFC 4555 §3.10).
    Probe,
    /// A probe's answer, or a response on a path other than the SA's.
    ProbeAnswered,
    ProbeUnanswered,
    /// The SA moved to this lane (UPDATE_SA_ADDRESSES).
    Move,
    /// A NAT detection verdict.
    Nat,
    NewPath,
    /// Violations, MOBIKE errors, integrity failures, unanswered requests.
    Problem,
    /// Anything else the analysis said.
    Note,
}

/// One row of the lanes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LaneRow {
    pub time_us: i64,
    pub frame: u64,
    pub item: LaneItem,
    pub mark: Mark,
    /// The lane of its path.
    pub lane: u16,
    /// The lane the SA left on this row (a move, or the setup's port float).
    pub from: Option<u16>,
    /// The SA's current lane after this row.
    pub current: u16,
}

/// A path: the initiator's side and the responder's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LanePath {
    pub initiator: SocketAddr,
    pub responder: SocketAddr,
    /// Row where it first appears.
    pub first_row: usize,
}

/// The lanes of one SA.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lanes {
    /// The SA (its number in the index).
    pub sa: Option<u32>,
    pub paths: Vec<LanePath>,
    pub rows: Vec<LaneRow>,
    /// What it was built from: (SA, messages, events), to rebuild when the index grows.
    pub built_for: (Option<u32>, usize, usize),
}

/// The letter naming lane `i` (A..Z, a..z, then `+`).
pub fn lane_name(i: usize) -> char {
    match i {
        0..=25 => char::from(b'A' + i as u8),
        26..=51 => char::from(b'a' + (i - 26) as u8),
        _ => '+',
    }
}

/// Which side sent each message: the first message's I flag says, then the addresses
/// seen on each side (so a rekey by the responder, which swaps the I flag, keeps the
/// sides; so does a move, which keeps one side's address).
#[derive(Default)]
struct Sides {
    initiator: Vec<IpAddr>,
    responder: Vec<IpAddr>,
}

impl Sides {
    /// The message's path as (initiator side, responder side).
    fn orient(&mut self, m: &MessageEntry) -> (SocketAddr, SocketAddr) {
        let (s, d) = (m.src().ip(), m.dst().ip());
        let from_initiator = if self.initiator.contains(&s) || self.responder.contains(&d) {
            true
        } else if self.responder.contains(&s) || self.initiator.contains(&d) {
            false
        } else {
            m.from_initiator()
        };
        let (i, r) = if from_initiator {
            (m.src(), m.dst())
        } else {
            (m.dst(), m.src())
        };
        for (list, ip) in [(&mut self.initiator, i.ip()), (&mut self.responder, r.ip())] {
            // a handful of addresses per side; a flood of them stops being recorded
            if !list.contains(&ip) && list.len() < 64 {
                list.push(ip);
            }
        }
        (i, r)
    }
}

impl Lanes {
    /// The lanes of SA `sa` in `index`.
    pub fn build(index: &CaptureIndex, sa: Option<u32>) -> Lanes {
        let built_for = (sa, index.messages.len(), index.timeline.len());
        let Some(sa) = sa else {
            return Lanes {
                built_for,
                ..Lanes::default()
            };
        };
        let mut lanes = Lanes {
            sa: Some(sa),
            built_for,
            ..Lanes::default()
        };
        // the SA's messages with their lanes, in capture order (frames ascend: an SA
        // belongs to one file)
        let mut sides = Sides::default();
        let mut messages: Vec<(u32, u16)> = Vec::new();
        // only the SA's stretch of the capture: a large capture's other SAs are not read
        let (first, last) = index
            .sas
            .get(sa as usize)
            .map_or((0, u32::MAX), |s| (s.first_message, s.last_message));
        let end = (last as usize).saturating_add(1).min(index.messages.len());
        for i in (first as usize)..end {
            let Some(m) = index.messages.get(i).filter(|m| m.sa == Some(sa)) else {
                continue;
            };
            let (ini, resp) = sides.orient(m);
            let lane = lanes.lane_of(ini, resp);
            messages.push((u32::try_from(i).unwrap_or(u32::MAX), lane));
        }
        let mut events: Vec<u32> = index
            .timeline
            .iter()
            .enumerate()
            .filter(|(_, e)| e.sa == sa)
            .filter_map(|(i, _)| u32::try_from(i).ok())
            .collect();
        // the analysis reports unanswered requests at the end: put them at their frame
        events.sort_by_key(|&k| index.timeline.get(k as usize).map_or(0, |e| e.frame));
        lanes.merge(index, &messages, &events);
        lanes
    }

    /// The lane of a path, added if new (its first row is set when a row uses it).
    fn lane_of(&mut self, initiator: SocketAddr, responder: SocketAddr) -> u16 {
        let found = self
            .paths
            .iter()
            .position(|p| p.initiator == initiator && p.responder == responder);
        let i = found.unwrap_or_else(|| {
            self.paths.push(LanePath {
                initiator,
                responder,
                first_row: usize::MAX,
            });
            self.paths.len() - 1
        });
        u16::try_from(i).unwrap_or(u16::MAX)
    }

    /// Messages and events in time order (an event right after its message), tracking
    /// the current path.
    fn merge(&mut self, index: &CaptureIndex, messages: &[(u32, u16)], events: &[u32]) {
        let lane_at_frame = |frame: u64| -> Option<u16> {
            let at = messages.partition_point(|&(i, _)| {
                index
                    .messages
                    .get(i as usize)
                    .is_some_and(|m| m.frame < frame)
            });
            let &(i, lane) = messages.get(at)?;
            (index.messages.get(i as usize)?.frame == frame).then_some(lane)
        };
        let mut current: Option<u16> = None;
        let mut e_at = 0;
        for &(i, lane) in messages {
            let Some(m) = index.messages.get(i as usize) else {
                continue;
            };
            // events of earlier frames (an unanswered request's, reported at the end)
            while let Some(e) = events
                .get(e_at)
                .and_then(|&k| index.timeline.get(k as usize))
            {
                if e.frame >= m.frame {
                    break;
                }
                self.push_event(index, events[e_at], lane_at_frame(e.frame), &mut current);
                e_at += 1;
            }
            self.push_message(i, m, lane, &mut current);
            while let Some(e) = events
                .get(e_at)
                .and_then(|&k| index.timeline.get(k as usize))
            {
                if e.frame != m.frame {
                    break;
                }
                self.push_event(index, events[e_at], Some(lane), &mut current);
                e_at += 1;
            }
        }
        for &k in events.get(e_at..).unwrap_or(&[]) {
            let lane = index
                .timeline
                .get(k as usize)
                .and_then(|e| lane_at_frame(e.frame));
            self.push_event(index, k, lane, &mut current);
        }
    }

    fn push_row(&mut self, row: LaneRow) {
        if let Some(p) = self.paths.get_mut(row.lane as usize) {
            p.first_row = p.first_row.min(self.rows.len());
        }
        self.rows.push(row);
    }

    fn push_message(&mut self, i: u32, m: &MessageEntry, lane: u16, current: &mut Option<u16>) {
        let before = current.unwrap_or(lane);
        // IKE_SA_INIT and IKE_AUTH set the path (the NAT-T float to port 4500)
        let setup = matches!(m.exchange, 34 | 35);
        let from = (setup && before != lane).then_some(before);
        let now = if setup { lane } else { before };
        *current = Some(now);
        let off_path = lane != now;
        let mark = if m.is_response() {
            if off_path {
                Mark::ProbeAnswered
            } else {
                Mark::Response
            }
        } else if off_path && !m.notifies().contains(&UPDATE_SA_ADDRESSES) {
            Mark::Probe
        } else if m.copy > 0 {
            Mark::Retransmission
        } else {
            Mark::Request
        };
        self.push_row(LaneRow {
            time_us: m.time_us,
            frame: m.frame,
            item: LaneItem::Message(i),
            mark,
            lane,
            from,
            current: now,
        });
    }

    fn push_event(
        &mut self,
        index: &CaptureIndex,
        k: u32,
        lane: Option<u16>,
        current: &mut Option<u16>,
    ) {
        let Some(e) = index.timeline.get(k as usize) else {
            return;
        };
        let mark = match e.kind {
            // the message rows show these
            EventTag::Retransmission | EventTag::Exchange => return,
            EventTag::ProbeAnswered => Mark::ProbeAnswered,
            EventTag::ProbeUnanswered => Mark::ProbeUnanswered,
            EventTag::Move => Mark::Move,
            EventTag::NatNone | EventTag::NatMaybe | EventTag::NatShown => Mark::Nat,
            EventTag::NewPath => Mark::NewPath,
            EventTag::Unanswered
            | EventTag::OrphanResponse
            | EventTag::MobikeError
            | EventTag::Violation
            | EventTag::IntegrityFailed => Mark::Problem,
            _ => Mark::Note,
        };
        let lane = lane.or(*current).unwrap_or(0);
        let before = current.unwrap_or(lane);
        let (from, now) = match mark {
            Mark::Move if before != lane => (Some(before), lane),
            Mark::Move => (None, lane),
            _ => (None, before),
        };
        *current = Some(now);
        self.push_row(LaneRow {
            time_us: e.time_us,
            frame: e.frame,
            item: LaneItem::Event(k),
            mark,
            lane,
            from,
            current: now,
        });
    }
}
