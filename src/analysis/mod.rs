//! What happened in a capture: request/response pairing, retransmissions, NAT detection and
//! MOBIKE (RFC 4555) per IKE SA.
//!
//! Sans-IO and pure: the caller feeds decoded messages in capture order; nothing here reads a
//! clock, a file or a socket. Times are the capture's.
//!
//! ```no_run
//! use mobikectl::analysis::{Analyzer, ObservedMessage};
//! # fn msgs() -> Vec<(u64, i64, std::net::SocketAddr, std::net::SocketAddr,
//! #     mobikectl::wire::Message<'static>)> { vec![] }
//! let mut analyzer = Analyzer::new();
//! for (frame, time_us, src, dst, msg) in msgs() {
//!     let observed = ObservedMessage {
//!         frame, time_us,
//!         src: src.ip(), sport: src.port(), dst: dst.ip(), dport: dst.port(),
//!         header: &msg.header,
//!         payloads: &msg.payloads,
//!         inner: None,          // Some(&decrypted_inner_payloads) when the SK payload was decrypted
//!         integrity_ok: None,   // Some(true/false) when it was
//!     };
//!     for event in analyzer.observe(&observed) {
//!         println!("{event}");                 // one line
//!         println!("{}", event.to_json());     // {"event": "...", ...}
//!     }
//! }
//! for event in analyzer.finish() { println!("{event}"); } // unanswered requests, lone probes
//! for sa in analyzer.sas() { println!("{:?} {:?}", sa.spis, sa.paths); }
//! ```
//!
//! # Integration (for `mobikectl decode --timeline` and `--format table`)
//! * Build one [`ObservedMessage`] per `CaptureEvent::Ike` that parsed: `payloads` are the
//!   message's (outer) payloads; `inner` the payloads parsed from the decrypted SK payload
//!   (`wire::parse_payload_chain`), or `None` if there is no SK payload or it was not
//!   decrypted; `integrity_ok` the ICV verdict when decrypted. For SKF, pass the reassembled
//!   inner payloads with the last fragment (and `None` with the others). A message whose
//!   integrity check failed is paired but its inner payloads are ignored.
//! * `observe` returns the events the message produced (drain it before the next call);
//!   `finish` the events only the end of the capture reveals. Events of one SA come in capture
//!   order, so the timeline can print them as they come (grouped by [`AnalysisEvent::sa`] if
//!   wanted), then `finish()`'s.
//! * The table: [`Analyzer::sas`] → [`SaInfo`]: SPI pairs with rekey links
//!   ([`SpiPair::rekeyed_from`]), the address history ([`SaInfo::paths`]), the paths seen,
//!   per side ([`SaInfo::side`] → [`SideInfo`]) MOBIKE support, the announced additional
//!   addresses ([`SideInfo::announced`]; [`SaInfo::peer_addresses`] for the full set) and the
//!   latest NAT verdict, plus counters.
//!
//! # Identity
//! An SA is found by its SPIs, never by addresses, so it stays one SA across address moves.
//! An IKE_SA_INIT request (SPIr zero) opens a half-open SA keyed by SPIi; the first message
//! with that SPIi and a non-zero SPIr completes it. A CREATE_CHILD_SA exchange whose SA
//! payloads carry an IKE proposal with an 8-byte SPI rekeys the IKE SA: the new SPI pair
//! (initiator SPI from the request, responder SPI from the response) joins the same logical
//! SA ([`SaId`]). Sides ([`Side`]) are named by the roles in the first SPI pair seen; after
//! a rekey initiated by the original responder the I flag belongs to the original
//! responder (RFC 7296 §2.2: it is the original initiator of the new IKE SA), which the
//! analysis accounts for: each [`SpiPair`] records which side holds the I role, messages are
//! attributed to sides by it, and request/response pairing restarts under the new SPIs.
//! MOBIKE's "only the initiator updates addresses" then accepts either side that can claim
//! the initiator role: the new SA's initiator, or the side that initiated the first IKE SA,
//! which strongSwan keeps as the side that moves (its UPDATE_SA_ADDRESSES then lacks the I
//! flag; `address_update` says so with `i_flag: false`).
//!
//! # Pairing
//! Key: SPI pair, message ID, and who initiated the exchange (a request's I flag; the
//! opposite of a response's I flag). A request seen again is a `retransmission` (with
//! `same_path`); copies of one request on several paths within one address epoch (no
//! UPDATE_SA_ADDRESSES in between) are a `path_probe`, reported with the first response (the
//! path that answered first) or at `finish`. The RTT runs from the latest copy sent on the
//! path the response came back on. SKF fragments (RFC 7383) with distinct fragment numbers
//! are one copy (times are the first fragment's); a fragment number seen again starts a new
//! copy. An IKE_SA_INIT request after its exchange was answered
//! (COOKIE or INVALID_KE_PAYLOAD retry) starts a new exchange.
//!
//! # Content checks (only on messages whose payloads are readable; once per request)
//! * NAT detection: each NAT_DETECTION_SOURCE_IP / _DESTINATION_IP hash is compared with
//!   SHA-1(SPIi | SPIr | IP | port) ([`nat_detection_hash`], header SPIs) of the packet's
//!   source / destination; no destination match → the receiver is behind a NAT; no source
//!   match → the sender is, *if* its source port was translated (not 500/4500) — otherwise
//!   [`NatVerdict::NatOrFake`], because implementations fake the source hash to force UDP
//!   encapsulation (strongSwan `encap = yes` hashes a random address; every strongSwan
//!   capture in testdata/ does this). Verdicts hold for the capture point: outside a NAT only
//!   the translated source port shows it, inside it the peer's destination hash does.
//!   Rechecked for copies of a request on a new path.
//! * MOBIKE_SUPPORTED per side; ADDITIONAL_IP4/6_ADDRESS and NO_ADDITIONAL_ADDRESSES
//!   announcements (replacing the previous set); UPDATE_SA_ADDRESSES (old path → the
//!   packet's path, which becomes the SA's path); COOKIE2 echo; NO_NATS_ALLOWED against the
//!   packet; UNACCEPTABLE_ADDRESSES / UNEXPECTED_NAT_DETECTED; IKE SA Delete.
//! * Violations ([`Rule`]): UPDATE_SA_ADDRESSES from the responder of the IKE SA (I flag
//!   clear; after an IKE SA rekey by the original responder the original initiator may still
//!   send it without the I flag, as strongSwan does, see *Identity*) or outside an
//!   INFORMATIONAL request, MOBIKE notifies when MOBIKE_SUPPORTED was
//!   not exchanged (judged only when IKE_AUTH from both sides was readable; in IKE_AUTH the
//!   sender must have sent MOBIKE_SUPPORTED), ADDITIONAL_* with NO_ADDITIONAL_ADDRESSES, a
//!   NO_NATS_ALLOWED mismatch answered without UNEXPECTED_NAT_DETECTED, malformed MOBIKE / NAT
//!   detection notify data.
//!
//! # Events and JSON keys
//! Every event: `event`, `frame`, `time_us`, `sa` (index), `spi_i`, `spi_r` (hex), then:
//!
//! | event | keys |
//! |---|---|
//! | `sa_started` | `exchange`, `mid_stream` |
//! | `exchange` | `exchange`, `message_id`, `requester`, `request_frame`, `response_frame`, `rtt_us`, `attempts` |
//! | `retransmission` | `exchange`, `message_id`, `requester`, `first_frame`, `attempt`, `same_path`, `after_response`, `path` |
//! | `duplicate_response` | `exchange`, `message_id`, `requester`, `first_response_frame`, `path` |
//! | `unanswered` | `exchange`, `message_id`, `requester`, `request_frame`, `last_frame`, `attempts` |
//! | `orphan_response` | `exchange`, `message_id`, `requester` |
//! | `path_probe` | `message_id`, `requester`, `tried: [{frame, path}]`, `answered`, `answer_frame` |
//! | `new_path` | `sender`, `path`, `current` |
//! | `nat_detection` | `exchange`, `message_id`, `response`, `sender`, `source`, `destination` (`{address, payloads: [bool], matched}` or null), `sender_nat`, `receiver_nat` (`"no_nat"`, `"nat_or_fake"`, `"nat"` or null), `behind_nat: [side]` |
//! | `mobike_supported` | `side`, `negotiated` |
//! | `addresses_announced` | `side`, `addresses`, `no_additional`, `previous` |
//! | `address_update` | `sender`, `message_id`, `old`, `new`, `i_flag` |
//! | `cookie2` | `message_id`, `requester`, `echoed`, `request`, `response` (hex) |
//! | `no_nats_allowed` | `sender`, `message_id`, `response`, `declared_src`, `declared_dst`, `actual_src`, `actual_dst`, `matches` |
//! | `mobike_error` | `notify_type`, `notify`, `sender`, `message_id`, `response` |
//! | `violation` | `rule`, `detail` |
//! | `ike_sa_rekeyed` | `requester`, `message_id`, `old_spi_i`, `old_spi_r`, `new_spi_i`, `new_spi_r` |
//! | `ike_sa_deleted` | `requester`, `message_id`, `superseded` |
//! | `integrity_failed` | `exchange`, `message_id`, `response` |
//!
//! Sides are `"initiator"` / `"responder"`; paths are `{"initiator": "ip:port", "responder":
//! "ip:port"}`; `exchange` is the exchange name.
//!
//! # Limits
//! At most [`MAX_SAS`] logical SAs are tracked (messages of further SAs are ignored) and
//! [`MAX_TRACKED_EXCHANGES`] exchanges per SPI pair and direction (the oldest are dropped;
//! an unanswered one is then reported as `unanswered`). An answered exchange is forgotten
//! once no copy of it was seen for [`ANSWERED_RETENTION_US`] of capture time: a copy that
//! late is taken for a new request. The state of a long capture is then what its last two
//! minutes hold, not the whole capture (the capture browser indexes 140,000 messages in
//! a few MB of analysis state).
#![warn(missing_docs)]

mod event;
mod nat;
mod retention;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};

pub use event::{
    AnalysisEvent, Endpoints, EventKind, Exchange, HashCheck, NatVerdict, PathAttempt, PathReason,
    Rule, SaId, Side,
};
pub use nat::nat_detection_hash;
pub use retention::{RetentionQueue, ANSWERED_RETENTION_US};

use crate::wire::{
    notify_type as nt, payload_type as pt, protocol_id, registry, Header, Notify, NotifyData,
    Payload, PayloadBody, CREATE_CHILD_SA, IKE_AUTH, IKE_SA_INIT, INFORMATIONAL,
};

/// Most logical SAs tracked.
pub const MAX_SAS: usize = 100_000;
/// Most exchanges remembered per SPI pair and direction.
pub const MAX_TRACKED_EXCHANGES: usize = 256;
/// Most copies of one request remembered (more are counted only).
const MAX_ATTEMPTS: usize = 64;
/// Most distinct paths remembered per SA.
const MAX_SEEN_PATHS: usize = 256;

/// One IKE message as seen on the wire, decoded (see the module docs for how to fill it).
#[derive(Debug, Clone, Copy)]
pub struct ObservedMessage<'a> {
    /// Capture frame number.
    pub frame: u64,
    /// Capture time, µs since the Unix epoch.
    pub time_us: i64,
    /// Packet source address.
    pub src: IpAddr,
    /// Packet source port.
    pub sport: u16,
    /// Packet destination address.
    pub dst: IpAddr,
    /// Packet destination port.
    pub dport: u16,
    /// The IKE header.
    pub header: &'a Header,
    /// The message's payloads (an SK/SKF payload last, if any).
    pub payloads: &'a [Payload<'a>],
    /// The decrypted SK contents, when available.
    pub inner: Option<&'a [Payload<'a>]>,
    /// The integrity check of the decrypted SK payload (`None`: not decrypted).
    pub integrity_ok: Option<bool>,
}

/// One SPI pair of a logical SA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpiPair {
    /// Initiator SPI.
    pub spi_i: u64,
    /// Responder SPI (0 while only the IKE_SA_INIT request was seen).
    pub spi_r: u64,
    /// The side holding the I(nitiator) role in this pair.
    pub initiator: Side,
    /// First frame with these SPIs (for a rekeyed pair: the rekey response).
    pub first_frame: u64,
    /// Index in [`SaInfo::spis`] of the pair this one replaced by an IKE SA rekey.
    pub rekeyed_from: Option<usize>,
    /// Frame of the Delete request for these SPIs.
    pub deleted_frame: Option<u64>,
}

/// An entry of an SA's address history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathChange {
    /// Frame of the message that set the path.
    pub frame: u64,
    /// Its time.
    pub time_us: i64,
    /// The path from then on.
    pub path: Endpoints,
    /// Why.
    pub reason: PathReason,
}

/// An address announcement (RFC 4555 §3.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressSet {
    /// Frame of the announcing message.
    pub frame: u64,
    /// The additional addresses.
    pub addresses: Vec<IpAddr>,
    /// NO_ADDITIONAL_ADDRESSES was present.
    pub no_additional: bool,
}

/// What is known about one end of an SA.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SideInfo {
    /// Frame where this side sent MOBIKE_SUPPORTED.
    pub mobike_supported: Option<u64>,
    /// The latest address announcement.
    pub announced: Option<AddressSet>,
    /// The strongest NAT detection verdict seen for this side (`Nat` > `NatOrFake` >
    /// `NoNat`; `None`: no hashes about it were seen).
    pub nat: Option<NatVerdict>,
    /// An IKE_AUTH message from this side was readable.
    pub auth_seen: bool,
}

/// A logical IKE SA (all SPI pairs linked by rekeys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaInfo {
    /// Its index.
    pub id: SaId,
    /// SPI pairs, oldest first.
    pub spis: Vec<SpiPair>,
    /// The first message was not an IKE_SA_INIT request.
    pub mid_stream: bool,
    /// First frame.
    pub first_frame: u64,
    /// Its time.
    pub first_time_us: i64,
    /// Last frame.
    pub last_frame: u64,
    /// Its time.
    pub last_time_us: i64,
    /// Address history: the initial path, setup changes, UPDATE_SA_ADDRESSES moves.
    pub paths: Vec<PathChange>,
    /// Every distinct path a message used, in order of appearance.
    pub seen_paths: Vec<Endpoints>,
    /// The original initiator.
    pub initiator: SideInfo,
    /// The original responder.
    pub responder: SideInfo,
    /// Answered exchanges.
    pub exchanges: u32,
    /// Retransmitted request copies.
    pub retransmissions: u32,
    /// Messages whose payloads could not be read (not decrypted or integrity failure).
    pub opaque_messages: u32,
}

impl SaInfo {
    /// One side's state.
    pub fn side(&self, side: Side) -> &SideInfo {
        match side {
            Side::Initiator => &self.initiator,
            Side::Responder => &self.responder,
        }
    }

    fn side_mut(&mut self, side: Side) -> &mut SideInfo {
        match side {
            Side::Initiator => &mut self.initiator,
            Side::Responder => &mut self.responder,
        }
    }

    /// The current path (the last address history entry).
    pub fn current_path(&self) -> Option<Endpoints> {
        self.paths.last().map(|p| p.path)
    }

    /// The newest SPI pair.
    pub fn current_spis(&self) -> (u64, u64) {
        self.spis.last().map_or((0, 0), |p| (p.spi_i, p.spi_r))
    }

    /// Both sides sent MOBIKE_SUPPORTED.
    pub fn mobike_negotiated(&self) -> bool {
        self.initiator.mobike_supported.is_some() && self.responder.mobike_supported.is_some()
    }

    /// A side's addresses: its address on the current path, then its announced additional
    /// addresses (without duplicates).
    pub fn peer_addresses(&self, side: Side) -> Vec<IpAddr> {
        let mut v = Vec::new();
        if let Some(p) = self.current_path() {
            v.push(p.of(side).ip());
        }
        if let Some(a) = &self.side(side).announced {
            for x in &a.addresses {
                if !v.contains(x) {
                    v.push(*x);
                }
            }
        }
        v
    }
}

#[derive(Debug, Clone)]
struct Attempt {
    frame: u64,
    time_us: i64,
    path: Endpoints,
    /// `SaInfo::paths.len()` when sent: copies in the same epoch on different paths probe.
    epoch: usize,
}

#[derive(Debug, Clone)]
struct Track {
    exchange: u8,
    requester: Side,
    attempts: Vec<Attempt>,
    attempt_count: u32,
    /// The first response's frame.
    response: Option<u64>,
    /// SKF fragment numbers of the request copy being sent / of the response.
    req_frags: Vec<u16>,
    resp_frags: Vec<u16>,
    /// The request's / response's payloads were analysed.
    req_content: bool,
    resp_content: bool,
    cookie2: Option<Vec<u8>>,
    no_nats_mismatch: bool,
    rekey_spi: Option<u64>,
    nat_checked: Vec<Endpoints>,
    probe_reported: bool,
    /// Capture time of the last copy of the request or the response.
    last_us: i64,
}

/// The message being processed.
#[derive(Debug, Clone, Copy)]
struct Ctx {
    frame: u64,
    time_us: i64,
    sa: usize,
    pair: usize,
    spi_i: u64,
    spi_r: u64,
    /// The SPIs in the message header (NAT detection hashes use these).
    hdr_spis: (u64, u64),
    sender: Side,
    src: SocketAddr,
    dst: SocketAddr,
    path: Endpoints,
    response: bool,
    i_flag: bool,
    exchange: u8,
    mid: u32,
}

/// What is readable in the message being processed.
struct Seen<'p, 'a> {
    visible: &'p [&'p Payload<'a>],
    readable: bool,
    /// SKF fragment number.
    fragment: Option<u16>,
}

/// (SA, SPI pair index, request carried the I flag)
type DirKey = (usize, usize, bool);

/// The analysis state machine. See the module docs.
#[derive(Debug, Default)]
pub struct Analyzer {
    sas: Vec<SaInfo>,
    by_spis: HashMap<(u64, u64), (usize, usize)>,
    half_open: HashMap<u64, (usize, usize)>,
    /// Boxed: a direction's map holds a handful of exchanges, and a B-tree node has room
    /// for eleven values.
    tracks: HashMap<DirKey, BTreeMap<u32, Box<Track>>>,
    /// Answered exchanges with the time of a copy, oldest first (a time the exchange has
    /// moved past is skipped when it comes up): what [`ANSWERED_RETENTION_US`] forgets.
    answered: RetentionQueue<(DirKey, u32)>,
    out: Vec<AnalysisEvent>,
}

/// Pushes, growing one element at a time while the vector is short: an SA's history and an
/// exchange's paths hold one or two entries, and room for four in each of thousands of SAs
/// is megabytes for nothing.
fn push_short<T>(v: &mut Vec<T>, x: T) {
    if v.len() == v.capacity() && v.len() < 8 {
        v.reserve_exact(1);
    }
    v.push(x);
}

/// Appends the path `ctx`'s message came on to the SA's address history.
fn note_path(info: &mut SaInfo, ctx: &Ctx, reason: PathReason) {
    push_short(
        &mut info.paths,
        PathChange {
            frame: ctx.frame,
            time_us: ctx.time_us,
            path: ctx.path,
            reason,
        },
    );
}

fn notifies<'p, 'a: 'p>(ps: &'p [&'p Payload<'a>]) -> impl Iterator<Item = &'p Notify<'a>> + 'p {
    ps.iter().filter_map(|p| p.as_notify())
}

fn has_notify(ps: &[&Payload<'_>], t: u16) -> bool {
    notifies(ps).any(|n| n.notify_type == t)
}

fn notify_name(t: u16) -> &'static str {
    registry::notify_name(t).unwrap_or("notify")
}

/// MOBIKE notify types (RFC 4555 §4), MOBIKE_SUPPORTED excluded.
fn is_mobike_notify(t: u16) -> bool {
    matches!(
        t,
        nt::ADDITIONAL_IP4_ADDRESS
            | nt::ADDITIONAL_IP6_ADDRESS
            | nt::NO_ADDITIONAL_ADDRESSES
            | nt::UPDATE_SA_ADDRESSES
            | nt::COOKIE2
            | nt::NO_NATS_ALLOWED
            | nt::UNACCEPTABLE_ADDRESSES
            | nt::UNEXPECTED_NAT_DETECTED
    )
}

/// The data of a COOKIE2 notify, also when its size is wrong.
fn cookie2_bytes(n: &Notify<'_>) -> Option<Vec<u8>> {
    match &n.data {
        NotifyData::Cookie2(c) => Some(c.to_vec()),
        NotifyData::Malformed { raw, .. } => Some(raw.to_vec()),
        NotifyData::Raw(r) => Some(r.to_vec()),
        NotifyData::Empty => Some(Vec::new()),
        _ => None,
    }
}

/// First IKE proposal with an 8-byte SPI in an SA payload (IKE SA rekey).
fn ike_rekey_spi(ps: &[&Payload<'_>]) -> Option<u64> {
    ps.iter().find_map(|p| match &p.body {
        PayloadBody::Sa(sa) => sa.proposals.iter().find_map(|pr| {
            if pr.protocol_id != protocol_id::IKE {
                return None;
            }
            <[u8; 8]>::try_from(pr.spi.as_ref())
                .ok()
                .map(u64::from_be_bytes)
        }),
        _ => None,
    })
}

impl Analyzer {
    /// An analyzer with no state.
    pub fn new() -> Self {
        Self::default()
    }

    /// The logical SAs seen so far, in order of appearance ([`SaId`] is the index).
    pub fn sas(&self) -> &[SaInfo] {
        &self.sas
    }

    /// One SA.
    pub fn sa(&self, id: SaId) -> Option<&SaInfo> {
        self.sas.get(id.0)
    }

    /// The logical SA a pair of SPIs belongs to (any of its SPI pairs).
    pub fn find_sa(&self, spi_i: u64, spi_r: u64) -> Option<SaId> {
        self.by_spis
            .get(&(spi_i, spi_r))
            .or_else(|| (spi_r == 0).then(|| self.half_open.get(&spi_i)).flatten())
            .map(|&(s, _)| SaId(s))
    }

    /// Feed one message (in capture order). Returns the events it produced.
    pub fn observe(&mut self, msg: &ObservedMessage<'_>) -> std::vec::Drain<'_, AnalysisEvent> {
        self.out.clear();
        self.process(msg);
        self.out.drain(..)
    }

    /// End of input: report requests never answered (and probes without an answer). The
    /// per-SA state stays available through [`Analyzer::sas`].
    pub fn finish(&mut self) -> Vec<AnalysisEvent> {
        self.out.clear();
        let mut keys: Vec<DirKey> = self.tracks.keys().copied().collect();
        keys.sort_unstable();
        let mut pending = Vec::new();
        for k in keys {
            if let Some(map) = self.tracks.remove(&k) {
                for (mid, t) in map {
                    if t.response.is_none() {
                        pending.push((k, mid, t));
                    }
                }
            }
        }
        self.answered.clear();
        for ((sa, pair, _), mid, t) in pending {
            self.report_unanswered(sa, pair, mid, &t);
        }
        self.out.sort_by_key(|e| (e.sa, e.frame));
        std::mem::take(&mut self.out)
    }

    fn report_unanswered(&mut self, sa: usize, pair: usize, mid: u32, t: &Track) {
        let (Some(first), Some(last)) = (t.attempts.first(), t.attempts.last()) else {
            return;
        };
        let (first_frame, last_frame, last_time) = (first.frame, last.frame, last.time_us);
        let ctx = self.pair_ctx(sa, pair, last_frame, last_time);
        if let Some(tried) = probe_group(&t.attempts) {
            self.push(
                &ctx,
                EventKind::PathProbe {
                    message_id: mid,
                    requester: t.requester,
                    tried,
                    answered: None,
                    answer_frame: None,
                },
            );
        }
        self.push(
            &ctx,
            EventKind::Unanswered {
                exchange: Exchange(t.exchange),
                message_id: mid,
                requester: t.requester,
                request_frame: first_frame,
                last_frame,
                attempts: t.attempt_count,
            },
        );
    }

    /// A context for events not tied to a live message.
    fn pair_ctx(&self, sa: usize, pair: usize, frame: u64, time_us: i64) -> Ctx {
        let (spi_i, spi_r) = self.sas[sa]
            .spis
            .get(pair)
            .map_or((0, 0), |p| (p.spi_i, p.spi_r));
        let unspec: SocketAddr = SocketAddr::from(([0, 0, 0, 0], 0));
        Ctx {
            frame,
            time_us,
            sa,
            pair,
            spi_i,
            spi_r,
            hdr_spis: (spi_i, spi_r),
            sender: Side::Initiator,
            src: unspec,
            dst: unspec,
            path: Endpoints {
                initiator: unspec,
                responder: unspec,
            },
            response: false,
            i_flag: true,
            exchange: 0,
            mid: 0,
        }
    }

    fn push(&mut self, ctx: &Ctx, kind: EventKind) {
        self.out.push(AnalysisEvent {
            frame: ctx.frame,
            time_us: ctx.time_us,
            sa: SaId(ctx.sa),
            spi_i: ctx.spi_i,
            spi_r: ctx.spi_r,
            kind,
        });
    }

    fn violation(&mut self, ctx: &Ctx, rule: Rule, detail: String) {
        self.push(ctx, EventKind::Violation { rule, detail });
    }

    /// Find or create the SA and SPI pair of a message. `None`: SA limit reached.
    fn resolve(&mut self, msg: &ObservedMessage<'_>) -> Option<(usize, usize, bool)> {
        let h = msg.header;
        if h.spi_r != 0 {
            if let Some(&(s, p)) = self.by_spis.get(&(h.spi_i, h.spi_r)) {
                return Some((s, p, false));
            }
            if let Some((s, p)) = self.half_open.remove(&h.spi_i) {
                self.sas[s].spis[p].spi_r = h.spi_r;
                self.by_spis.insert((h.spi_i, h.spi_r), (s, p));
                return Some((s, p, false));
            }
        } else if let Some(&(s, p)) = self.half_open.get(&h.spi_i) {
            return Some((s, p, false));
        }
        if self.sas.len() >= MAX_SAS {
            return None;
        }
        let s = self.sas.len();
        // The side holding the I role sends with the I flag set; the first pair defines the
        // side names, so its I role is the initiator.
        let mid_stream = h.exchange_type != IKE_SA_INIT || h.is_response();
        self.sas.push(SaInfo {
            id: SaId(s),
            spis: vec![SpiPair {
                spi_i: h.spi_i,
                spi_r: h.spi_r,
                initiator: Side::Initiator,
                first_frame: msg.frame,
                rekeyed_from: None,
                deleted_frame: None,
            }],
            mid_stream,
            first_frame: msg.frame,
            first_time_us: msg.time_us,
            last_frame: msg.frame,
            last_time_us: msg.time_us,
            paths: Vec::new(),
            seen_paths: Vec::new(),
            initiator: SideInfo::default(),
            responder: SideInfo::default(),
            exchanges: 0,
            retransmissions: 0,
            opaque_messages: 0,
        });
        if h.spi_r == 0 {
            self.half_open.insert(h.spi_i, (s, 0));
        } else {
            self.by_spis.insert((h.spi_i, h.spi_r), (s, 0));
        }
        Some((s, 0, true))
    }

    fn process(&mut self, msg: &ObservedMessage<'_>) {
        self.forget_answered(msg.time_us);
        let Some((sa, pair, created)) = self.resolve(msg) else {
            return;
        };
        let h = msg.header;
        let i_side = self.sas[sa].spis[pair].initiator;
        let sender = if h.is_initiator() {
            i_side
        } else {
            i_side.other()
        };
        let src = SocketAddr::new(msg.src, msg.sport);
        let dst = SocketAddr::new(msg.dst, msg.dport);
        let (spi_i, spi_r) = {
            let p = &self.sas[sa].spis[pair];
            (p.spi_i, p.spi_r)
        };
        let ctx = Ctx {
            frame: msg.frame,
            time_us: msg.time_us,
            sa,
            pair,
            spi_i,
            spi_r,
            hdr_spis: (h.spi_i, h.spi_r),
            sender,
            src,
            dst,
            path: Endpoints::from_message(sender, src, dst),
            response: h.is_response(),
            i_flag: h.is_initiator(),
            exchange: h.exchange_type,
            mid: h.message_id,
        };
        {
            let info = &mut self.sas[sa];
            info.last_frame = msg.frame;
            info.last_time_us = msg.time_us;
        }
        if created {
            let mid_stream = self.sas[sa].mid_stream;
            self.push(
                &ctx,
                EventKind::SaStarted {
                    exchange: Exchange(h.exchange_type),
                    mid_stream,
                },
            );
        }

        // Readable payloads: the outer ones (SK/SKF excluded) plus the decrypted ones.
        let mut visible: Vec<&Payload<'_>> = msg
            .payloads
            .iter()
            .filter(|p| !matches!(p.body, PayloadBody::Sk(_) | PayloadBody::Skf(_)))
            .collect();
        let encrypted = msg.payloads.len() != visible.len();
        let readable = match (encrypted, msg.inner, msg.integrity_ok) {
            (_, Some(_), Some(false)) => {
                self.push(
                    &ctx,
                    EventKind::IntegrityFailed {
                        exchange: Exchange(ctx.exchange),
                        message_id: ctx.mid,
                        response: ctx.response,
                    },
                );
                false
            }
            (_, Some(inner), _) => {
                visible.extend(inner.iter());
                true
            }
            (true, None, _) => false,
            (false, None, _) => true,
        };
        if !readable {
            self.sas[sa].opaque_messages += 1;
        }

        let has_update = readable && has_notify(&visible, nt::UPDATE_SA_ADDRESSES);
        self.track_path(&ctx, has_update);

        let fragment = msg.payloads.iter().find_map(|p| match &p.body {
            PayloadBody::Skf(f) => Some(f.fragment_number),
            _ => None,
        });
        let seen = Seen {
            visible: &visible,
            readable,
            fragment,
        };
        if ctx.response {
            self.on_response(&ctx, &seen);
        } else {
            self.on_request(&ctx, &seen);
        }
    }

    fn track_path(&mut self, ctx: &Ctx, has_update: bool) {
        let info = &mut self.sas[ctx.sa];
        if info.paths.is_empty() {
            note_path(info, ctx, PathReason::Initial);
            push_short(&mut info.seen_paths, ctx.path);
            return;
        }
        if info.seen_paths.contains(&ctx.path) {
            return;
        }
        if info.seen_paths.len() < MAX_SEEN_PATHS {
            push_short(&mut info.seen_paths, ctx.path);
        }
        if matches!(ctx.exchange, IKE_SA_INIT | IKE_AUTH) {
            note_path(info, ctx, PathReason::Setup);
        } else if !has_update || ctx.response {
            let current = info.current_path();
            self.push(
                ctx,
                EventKind::NewPath {
                    sender: ctx.sender,
                    path: ctx.path,
                    current,
                },
            );
        }
    }

    fn on_request(&mut self, ctx: &Ctx, m: &Seen<'_, '_>) {
        let key = (ctx.sa, ctx.pair, ctx.i_flag);
        let epoch = self.sas[ctx.sa].paths.len();
        let attempt = Attempt {
            frame: ctx.frame,
            time_us: ctx.time_us,
            path: ctx.path,
            epoch,
        };
        let map = self.tracks.entry(key).or_default();
        let restart = matches!(map.get(&ctx.mid), Some(t) if t.response.is_some() && ctx.exchange == IKE_SA_INIT);
        let existing = if restart { None } else { map.get_mut(&ctx.mid) };
        let content = match existing {
            // Another fragment of the copy being sent (RFC 7383): not a retransmission.
            Some(t)
                if m.fragment.is_some_and(|n| !t.req_frags.contains(&n))
                    && t.response.is_none() =>
            {
                Self::another_request_fragment(t, ctx, m)
            }
            Some(t) => {
                let ev = Self::retransmission(&mut self.answered, t, key, ctx, m.fragment, attempt);
                let recheck_nat = m.readable && !t.nat_checked.contains(&ctx.path);
                if recheck_nat && t.nat_checked.len() < MAX_ATTEMPTS {
                    push_short(&mut t.nat_checked, ctx.path);
                }
                // The content of a copy is the first copy's, unless that was not readable.
                let content = Self::first_readable_request(t, m.readable);
                self.sas[ctx.sa].retransmissions += 1;
                self.push(ctx, ev);
                if recheck_nat && !content {
                    self.check_nat(ctx, m.visible);
                }
                content
            }
            None => {
                map.insert(ctx.mid, Self::request_track(ctx, attempt, m));
                self.prune(key, ctx.mid);
                m.readable
            }
        };
        if content {
            self.analyse_request_content(ctx, key, m.visible);
        }
    }

    /// Notes another fragment of the request copy being sent; returns whether the payloads
    /// are to be analysed (see [`Self::first_readable_request`]).
    fn another_request_fragment(t: &mut Track, ctx: &Ctx, m: &Seen<'_, '_>) -> bool {
        if let Some(n) = m.fragment {
            if t.req_frags.len() < MAX_ATTEMPTS {
                t.req_frags.push(n);
            }
        }
        t.last_us = ctx.time_us;
        Self::first_readable_request(t, m.readable)
    }

    /// Counts another copy of `t`'s request (`attempt`, carrying SKF `fragment`, if any);
    /// returns its Retransmission event.
    fn retransmission(
        answered: &mut RetentionQueue<(DirKey, u32)>,
        t: &mut Track,
        key: DirKey,
        ctx: &Ctx,
        fragment: Option<u16>,
        attempt: Attempt,
    ) -> EventKind {
        Self::touched(answered, t, key, ctx);
        t.attempt_count = t.attempt_count.saturating_add(1);
        t.req_frags.clear();
        t.req_frags.extend(fragment);
        let same_path = t.attempts.last().is_some_and(|a| a.path == ctx.path);
        let first_frame = t.attempts.first().map_or(ctx.frame, |a| a.frame);
        let ev = EventKind::Retransmission {
            exchange: Exchange(t.exchange),
            message_id: ctx.mid,
            requester: t.requester,
            first_frame,
            attempt: t.attempt_count,
            same_path,
            after_response: t.response.is_some(),
            path: ctx.path,
        };
        if t.attempts.len() < MAX_ATTEMPTS {
            t.attempts.push(attempt);
        }
        ev
    }

    /// Whether a copy of `t`'s request (`readable` or not) is its first readable one, whose
    /// payloads are analysed; `t` remembers that one was seen.
    fn first_readable_request(t: &mut Track, readable: bool) -> bool {
        let first = readable && !t.req_content;
        t.req_content |= first;
        first
    }

    /// The track of a request's first copy (`attempt`).
    fn request_track(ctx: &Ctx, attempt: Attempt, m: &Seen<'_, '_>) -> Box<Track> {
        Box::new(Track {
            exchange: ctx.exchange,
            requester: ctx.sender,
            attempts: vec![attempt],
            attempt_count: 1,
            response: None,
            req_frags: m.fragment.into_iter().collect(),
            resp_frags: Vec::new(),
            req_content: m.readable,
            resp_content: false,
            cookie2: None,
            no_nats_mismatch: false,
            rekey_spi: None,
            nat_checked: Vec::new(),
            probe_reported: false,
            last_us: ctx.time_us,
        })
    }

    /// Checks the payloads of a request's first readable copy, and keeps in its track what
    /// the response is checked against.
    fn analyse_request_content(&mut self, ctx: &Ctx, key: DirKey, visible: &[&Payload<'_>]) {
        let cookie2 = notifies(visible)
            .find(|n| n.notify_type == nt::COOKIE2)
            .and_then(cookie2_bytes);
        let rekey_spi = if ctx.exchange == CREATE_CHILD_SA {
            ike_rekey_spi(visible)
        } else {
            None
        };
        let mismatch = self.check_content(ctx, visible);
        if let Some(t) = self.tracks.get_mut(&key).and_then(|x| x.get_mut(&ctx.mid)) {
            if !t.nat_checked.contains(&ctx.path) {
                push_short(&mut t.nat_checked, ctx.path);
            }
            t.cookie2 = cookie2;
            t.rekey_spi = rekey_spi;
            t.no_nats_mismatch = mismatch;
        }
    }

    /// Forgets the answered exchanges with no copy since [`ANSWERED_RETENTION_US`] before
    /// `now`.
    fn forget_answered(&mut self, now: i64) {
        for (at, (key, mid)) in self.answered.expire(now) {
            let Some(map) = self.tracks.get_mut(&key) else {
                continue;
            };
            // a later copy (or a new exchange under the same ID) keeps it
            if map
                .get(&mid)
                .is_some_and(|t| t.response.is_some() && t.last_us == at)
            {
                map.remove(&mid);
                if map.is_empty() {
                    self.tracks.remove(&key);
                }
            }
        }
    }

    /// Notes a copy of an exchange at `ctx`'s time; an answered one is queued to be forgotten.
    fn touched(
        answered: &mut RetentionQueue<(DirKey, u32)>,
        t: &mut Track,
        key: DirKey,
        ctx: &Ctx,
    ) {
        t.last_us = ctx.time_us;
        if t.response.is_some() {
            answered.note(ctx.time_us, (key, ctx.mid));
        }
    }

    /// Drop the oldest exchanges of a direction beyond the limit (reporting unanswered ones).
    fn prune(&mut self, key: DirKey, newest: u32) {
        let Some(map) = self.tracks.get_mut(&key) else {
            return;
        };
        let mut dropped = Vec::new();
        while map.len() > MAX_TRACKED_EXCHANGES {
            let Some((&mid, _)) = map.iter().find(|(&m, _)| m != newest) else {
                break;
            };
            if let Some(t) = map.remove(&mid) {
                if t.response.is_none() {
                    dropped.push((mid, t));
                }
            }
        }
        for (mid, t) in dropped {
            self.report_unanswered(key.0, key.1, mid, &t);
        }
    }

    fn on_response(&mut self, ctx: &Ctx, m: &Seen<'_, '_>) {
        // The request was sent with the opposite I flag.
        let key = (ctx.sa, ctx.pair, !ctx.i_flag);
        let requester = ctx.sender.other();
        let Some(t) = self.tracks.get_mut(&key).and_then(|x| x.get_mut(&ctx.mid)) else {
            self.push(
                ctx,
                EventKind::OrphanResponse {
                    exchange: Exchange(ctx.exchange),
                    message_id: ctx.mid,
                    requester,
                },
            );
            if m.readable {
                self.check_content(ctx, m.visible);
            }
            return;
        };
        if let Some(first_response_frame) = t.response {
            Self::touched(&mut self.answered, t, key, ctx);
            let more_fragments = m.fragment.is_some_and(|n| !t.resp_frags.contains(&n));
            let mut dup = None;
            if more_fragments {
                if let Some(n) = m.fragment {
                    if t.resp_frags.len() < MAX_ATTEMPTS {
                        t.resp_frags.push(n);
                    }
                }
            } else {
                t.resp_frags.clear();
                t.resp_frags.extend(m.fragment);
                dup = Some(EventKind::DuplicateResponse {
                    exchange: Exchange(t.exchange),
                    message_id: ctx.mid,
                    requester: t.requester,
                    first_response_frame,
                    path: ctx.path,
                });
            }
            let late_content = (m.readable && !t.resp_content).then(|| {
                t.resp_content = true;
                t.clone()
            });
            if let Some(ev) = dup {
                self.push(ctx, ev);
            }
            if let Some(t) = late_content {
                self.response_content(ctx, &t, m.visible);
            }
            return;
        }
        t.response = Some(ctx.frame);
        Self::touched(&mut self.answered, t, key, ctx);
        t.resp_frags.extend(m.fragment);
        t.resp_content = m.readable;
        let base = t
            .attempts
            .iter()
            .rev()
            .find(|a| a.path == ctx.path)
            .or(t.attempts.last());
        let rtt_us = base.map_or(0, |a| ctx.time_us.saturating_sub(a.time_us));
        let request_frame = t.attempts.first().map_or(ctx.frame, |a| a.frame);
        let probe = if t.probe_reported {
            None
        } else {
            probe_group(&t.attempts)
        };
        t.probe_reported |= probe.is_some();
        let t = t.clone();
        self.sas[ctx.sa].exchanges += 1;
        self.push(
            ctx,
            EventKind::Exchange {
                exchange: Exchange(t.exchange),
                message_id: ctx.mid,
                requester: t.requester,
                request_frame,
                response_frame: ctx.frame,
                rtt_us,
                attempts: t.attempt_count,
            },
        );
        if let Some(tried) = probe {
            self.push(
                ctx,
                EventKind::PathProbe {
                    message_id: ctx.mid,
                    requester: t.requester,
                    tried,
                    answered: Some(ctx.path),
                    answer_frame: Some(ctx.frame),
                },
            );
        }
        if m.readable {
            self.response_content(ctx, &t, m.visible);
        }
    }

    /// Checks of a readable response against its request.
    fn response_content(&mut self, ctx: &Ctx, t: &Track, visible: &[&Payload<'_>]) {
        self.check_content(ctx, visible);
        if let Some(c) = &t.cookie2 {
            let got = notifies(visible)
                .find(|n| n.notify_type == nt::COOKIE2)
                .and_then(cookie2_bytes);
            self.push(
                ctx,
                EventKind::Cookie2 {
                    message_id: ctx.mid,
                    requester: t.requester,
                    echoed: got.as_deref() == Some(c.as_slice()),
                    request: hex::encode(c),
                    response: got.map(hex::encode),
                },
            );
        }
        if t.no_nats_mismatch && !has_notify(visible, nt::UNEXPECTED_NAT_DETECTED) {
            self.violation(
                ctx,
                Rule::UnexpectedNatNotReported,
                format!(
                    "NO_NATS_ALLOWED in request mid {} did not match the packet, \
                     but the response lacks UNEXPECTED_NAT_DETECTED",
                    ctx.mid
                ),
            );
        }
        if let (Some(new_i), Some(new_r)) = (t.rekey_spi, ike_rekey_spi(visible)) {
            self.rekey(ctx, t.requester, new_i, new_r);
        }
    }

    fn rekey(&mut self, ctx: &Ctx, requester: Side, new_i: u64, new_r: u64) {
        if self.by_spis.contains_key(&(new_i, new_r)) {
            return;
        }
        let info = &mut self.sas[ctx.sa];
        let idx = info.spis.len();
        info.spis.push(SpiPair {
            spi_i: new_i,
            spi_r: new_r,
            initiator: requester,
            first_frame: ctx.frame,
            rekeyed_from: Some(ctx.pair),
            deleted_frame: None,
        });
        self.by_spis.insert((new_i, new_r), (ctx.sa, idx));
        self.push(
            ctx,
            EventKind::IkeSaRekeyed {
                requester,
                message_id: ctx.mid,
                old_spi_i: ctx.spi_i,
                old_spi_r: ctx.spi_r,
                new_spi_i: new_i,
                new_spi_r: new_r,
            },
        );
    }

    fn check_nat(&mut self, ctx: &Ctx, visible: &[&Payload<'_>]) {
        let check = |t: u16, addr: SocketAddr| -> Option<HashCheck> {
            let want = nat_detection_hash(ctx.hdr_spis.0, ctx.hdr_spis.1, addr);
            let payloads: Vec<bool> = notifies(visible)
                .filter(|n| n.notify_type == t)
                .map(|n| matches!(&n.data, NotifyData::NatDetection(h) if *h == want))
                .collect();
            if payloads.is_empty() {
                return None;
            }
            let matched = payloads.iter().any(|&b| b);
            Some(HashCheck {
                address: addr,
                payloads,
                matched,
            })
        };
        let source = check(nt::NAT_DETECTION_SOURCE_IP, ctx.src);
        let destination = check(nt::NAT_DETECTION_DESTINATION_IP, ctx.dst);
        if source.is_none() && destination.is_none() {
            return;
        }
        let receiver = ctx.sender.other();
        let sender_nat = source.as_ref().map(|s| {
            if s.matched {
                NatVerdict::NoNat
            } else if matches!(ctx.src.port(), 500 | 4500) {
                NatVerdict::NatOrFake
            } else {
                NatVerdict::Nat
            }
        });
        let receiver_nat = destination.as_ref().map(|d| {
            if d.matched {
                NatVerdict::NoNat
            } else {
                NatVerdict::Nat
            }
        });
        let mut behind_nat = Vec::new();
        for (side, v) in [(ctx.sender, sender_nat), (receiver, receiver_nat)] {
            let Some(v) = v else { continue };
            let info = self.sas[ctx.sa].side_mut(side);
            info.nat = info.nat.max(Some(v));
            if v == NatVerdict::Nat && !behind_nat.contains(&side) {
                behind_nat.push(side);
            }
        }
        self.push(
            ctx,
            EventKind::NatDetection {
                exchange: Exchange(ctx.exchange),
                message_id: ctx.mid,
                response: ctx.response,
                sender: ctx.sender,
                source,
                destination,
                sender_nat,
                receiver_nat,
                behind_nat,
            },
        );
    }

    /// Everything about a readable message's payloads. Returns true if a NO_NATS_ALLOWED
    /// notify did not match the packet.
    fn check_content(&mut self, ctx: &Ctx, visible: &[&Payload<'_>]) -> bool {
        self.check_nat(ctx, visible);
        if ctx.exchange == IKE_AUTH {
            self.sas[ctx.sa].side_mut(ctx.sender).auth_seen = true;
        }
        self.check_notify_sizes(ctx, visible);
        self.note_mobike_supported(ctx, visible);
        self.check_mobike_negotiated(ctx, visible);
        self.note_address_announcement(ctx, visible);
        self.check_address_update(ctx, visible);
        let mismatch = self.check_no_nats_allowed(ctx, visible);
        self.note_mobike_errors(ctx, visible);
        self.note_ike_sa_delete(ctx, visible);
        mismatch
    }

    /// Malformed notify data of the types this analysis relies on.
    fn check_notify_sizes(&mut self, ctx: &Ctx, visible: &[&Payload<'_>]) {
        let sender = ctx.sender;
        for n in notifies(visible) {
            let relevant = is_mobike_notify(n.notify_type)
                || matches!(
                    n.notify_type,
                    nt::MOBIKE_SUPPORTED
                        | nt::NAT_DETECTION_SOURCE_IP
                        | nt::NAT_DETECTION_DESTINATION_IP
                );
            if let (true, NotifyData::Malformed { expected, raw, .. }) = (relevant, &n.data) {
                let detail = format!(
                    "{} from {sender}: expected {expected}, got {} byte(s)",
                    notify_name(n.notify_type),
                    raw.len()
                );
                self.violation(ctx, Rule::MalformedNotify, detail);
            }
        }
    }

    /// MOBIKE_SUPPORTED, the first time a side sends it.
    fn note_mobike_supported(&mut self, ctx: &Ctx, visible: &[&Payload<'_>]) {
        let sender = ctx.sender;
        if has_notify(visible, nt::MOBIKE_SUPPORTED)
            && self.sas[ctx.sa].side(sender).mobike_supported.is_none()
        {
            let info = &mut self.sas[ctx.sa];
            info.side_mut(sender).mobike_supported = Some(ctx.frame);
            let negotiated = info.mobike_negotiated();
            self.push(
                ctx,
                EventKind::MobikeSupported {
                    side: sender,
                    negotiated,
                },
            );
        }
    }

    /// MOBIKE notifies without MOBIKE.
    fn check_mobike_negotiated(&mut self, ctx: &Ctx, visible: &[&Payload<'_>]) {
        let sender = ctx.sender;
        let mobike_types: Vec<u16> = notifies(visible)
            .map(|n| n.notify_type)
            .filter(|&t| is_mobike_notify(t))
            .collect();
        if let Some(&first) = mobike_types.first() {
            let info = &self.sas[ctx.sa];
            let problem = if ctx.exchange == IKE_AUTH {
                info.side(sender).mobike_supported.is_none().then(|| {
                    format!(
                        "{sender} sent {} without MOBIKE_SUPPORTED",
                        notify_name(first)
                    )
                })
            } else if info.initiator.auth_seen
                && info.responder.auth_seen
                && !info.mobike_negotiated()
            {
                Some(format!(
                    "{sender} sent {} but MOBIKE was not negotiated in IKE_AUTH",
                    notify_name(first)
                ))
            } else {
                None
            };
            if let Some(detail) = problem {
                self.violation(ctx, Rule::MobikeNotNegotiated, detail);
            }
        }
    }

    /// Address announcements (ADDITIONAL_*_ADDRESS, NO_ADDITIONAL_ADDRESSES).
    fn note_address_announcement(&mut self, ctx: &Ctx, visible: &[&Payload<'_>]) {
        let sender = ctx.sender;
        let addrs: Vec<IpAddr> = notifies(visible)
            .filter_map(|n| match n.data {
                NotifyData::AdditionalIp4(a) => Some(IpAddr::V4(a)),
                NotifyData::AdditionalIp6(a) => Some(IpAddr::V6(a)),
                _ => None,
            })
            .collect();
        let no_additional = has_notify(visible, nt::NO_ADDITIONAL_ADDRESSES);
        if !addrs.is_empty() || no_additional {
            if !addrs.is_empty() && no_additional {
                self.violation(
                    ctx,
                    Rule::ConflictingAddressList,
                    format!(
                        "{sender} sent ADDITIONAL_*_ADDRESS together with NO_ADDITIONAL_ADDRESSES"
                    ),
                );
            }
            let side = self.sas[ctx.sa].side_mut(sender);
            let previous = side.announced.take().map(|a| a.addresses);
            side.announced = Some(AddressSet {
                frame: ctx.frame,
                addresses: addrs.clone(),
                no_additional,
            });
            self.push(
                ctx,
                EventKind::AddressesAnnounced {
                    side: sender,
                    addresses: addrs,
                    no_additional,
                    previous,
                },
            );
        }
    }

    /// UPDATE_SA_ADDRESSES: where it may appear and who may send it; a request moves the SA.
    fn check_address_update(&mut self, ctx: &Ctx, visible: &[&Payload<'_>]) {
        let sender = ctx.sender;
        if has_notify(visible, nt::UPDATE_SA_ADDRESSES) {
            if ctx.response || ctx.exchange != INFORMATIONAL {
                self.violation(
                    ctx,
                    Rule::UpdateNotInInformationalRequest,
                    format!(
                        "UPDATE_SA_ADDRESSES in a {} {}",
                        Exchange(ctx.exchange),
                        if ctx.response { "response" } else { "request" }
                    ),
                );
            }
            // Only the initiator sends it (RFC 4555 §3.5). After an IKE SA rekey by the
            // original responder "the initiator" has two readings: the rekey's initiator,
            // which RFC 7296 §2.2 makes the original initiator of the new IKE SA (I flag),
            // or the side that initiated the first IKE SA, which keeps the MOBIKE role in
            // strongSwan (it sends the update without the I flag). Both are accepted; a
            // sender that is neither breaks the rule.
            if !ctx.i_flag && sender == Side::Responder {
                self.violation(
                    ctx,
                    Rule::UpdateByResponder,
                    format!(
                        "UPDATE_SA_ADDRESSES sent by the IKE SA's responder ({sender}); \
                         only the initiator may send it (RFC 4555 §3.5)"
                    ),
                );
            }
            if !ctx.response {
                let info = &mut self.sas[ctx.sa];
                let old = info.current_path();
                if old != Some(ctx.path) {
                    note_path(info, ctx, PathReason::Update);
                }
                self.push(
                    ctx,
                    EventKind::AddressUpdate {
                        sender,
                        message_id: ctx.mid,
                        old,
                        new: ctx.path,
                        i_flag: ctx.i_flag,
                    },
                );
            }
        }
    }

    /// NO_NATS_ALLOWED against the packet. Returns true if one did not match.
    fn check_no_nats_allowed(&mut self, ctx: &Ctx, visible: &[&Payload<'_>]) -> bool {
        let sender = ctx.sender;
        let mut mismatch = false;
        let no_nats: Vec<(SocketAddr, SocketAddr)> = notifies(visible)
            .filter_map(|n| match n.data {
                NotifyData::NoNatsAllowed {
                    src,
                    dst,
                    src_port,
                    dst_port,
                } => Some((
                    SocketAddr::new(src, src_port),
                    SocketAddr::new(dst, dst_port),
                )),
                _ => None,
            })
            .collect();
        for (declared_src, declared_dst) in no_nats {
            let matches = declared_src == ctx.src && declared_dst == ctx.dst;
            mismatch |= !matches;
            self.push(
                ctx,
                EventKind::NoNatsAllowed {
                    sender,
                    message_id: ctx.mid,
                    response: ctx.response,
                    declared_src,
                    declared_dst,
                    actual_src: ctx.src,
                    actual_dst: ctx.dst,
                    matches,
                },
            );
        }
        mismatch
    }

    /// MOBIKE error notifies.
    fn note_mobike_errors(&mut self, ctx: &Ctx, visible: &[&Payload<'_>]) {
        let sender = ctx.sender;
        let errors: Vec<u16> = notifies(visible)
            .map(|n| n.notify_type)
            .filter(|&t| matches!(t, nt::UNACCEPTABLE_ADDRESSES | nt::UNEXPECTED_NAT_DETECTED))
            .collect();
        for t in errors {
            self.push(
                ctx,
                EventKind::MobikeError {
                    notify_type: t,
                    notify: notify_name(t),
                    sender,
                    message_id: ctx.mid,
                    response: ctx.response,
                },
            );
        }
    }

    /// A Delete of the IKE SA (these SPIs).
    fn note_ike_sa_delete(&mut self, ctx: &Ctx, visible: &[&Payload<'_>]) {
        let sender = ctx.sender;
        if !ctx.response && ctx.exchange == INFORMATIONAL && visible.iter().any(|p| {
            p.payload_type == pt::DELETE
                && matches!(&p.body, PayloadBody::Delete(d) if d.protocol_id == protocol_id::IKE)
        }) {
            let info = &mut self.sas[ctx.sa];
            let superseded = ctx.pair + 1 < info.spis.len();
            if let Some(p) = info.spis.get_mut(ctx.pair) {
                p.deleted_frame.get_or_insert(ctx.frame);
            }
            self.push(
                ctx,
                EventKind::IkeSaDeleted {
                    requester: sender,
                    message_id: ctx.mid,
                    superseded,
                },
            );
        }
    }
}

/// The latest group of copies sent within one address epoch on more than one path.
fn probe_group(attempts: &[Attempt]) -> Option<Vec<PathAttempt>> {
    let last_epoch = attempts
        .iter()
        .filter(|a| {
            attempts
                .iter()
                .any(|b| b.epoch == a.epoch && b.path != a.path)
        })
        .map(|a| a.epoch)
        .max()?;
    Some(
        attempts
            .iter()
            .filter(|a| a.epoch == last_epoch)
            .map(|a| PathAttempt {
                frame: a.frame,
                path: a.path,
            })
            .collect(),
    )
}
