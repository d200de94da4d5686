//! Analysis events: what the [`Analyzer`](super::Analyzer) found, one value per finding.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::wire::registry;

/// Index of a logical IKE SA in [`Analyzer::sas`](super::Analyzer::sas). One logical SA spans
/// all SPI pairs linked by IKE SA rekeys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct SaId(pub usize);

impl fmt::Display for SaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// One end of a logical IKE SA, named by its role in the *first* SPI pair seen for the SA
/// (the original initiator / responder). Rekeys that swap roles do not rename the sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The original initiator.
    Initiator,
    /// The original responder.
    Responder,
}

impl Side {
    /// The other end.
    pub fn other(self) -> Side {
        match self {
            Side::Initiator => Side::Responder,
            Side::Responder => Side::Initiator,
        }
    }

    /// `"initiator"` / `"responder"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Initiator => "initiator",
            Side::Responder => "responder",
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An exchange type; serialized as its name (`"INFORMATIONAL"`), or the number as a string
/// when the registry does not know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Exchange(pub u8);

impl fmt::Display for Exchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match registry::exchange_name(self.0) {
            Some(n) => f.write_str(n),
            None => write!(f, "exchange {}", self.0),
        }
    }
}

impl Serialize for Exchange {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match registry::exchange_name(self.0) {
            Some(n) => s.serialize_str(n),
            None => s.serialize_str(&self.0.to_string()),
        }
    }
}

/// The two ends of a path, by side: where the original initiator and the original responder
/// were (address and port) in a message. Serialized as
/// `{"initiator": "192.0.2.10:4500", "responder": "203.0.113.1:4500"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Endpoints {
    /// The original initiator's address and port.
    pub initiator: SocketAddr,
    /// The original responder's address and port.
    pub responder: SocketAddr,
}

impl Endpoints {
    /// The endpoints of a message sent by `sender` from `src` to `dst`.
    pub fn from_message(sender: Side, src: SocketAddr, dst: SocketAddr) -> Endpoints {
        match sender {
            Side::Initiator => Endpoints {
                initiator: src,
                responder: dst,
            },
            Side::Responder => Endpoints {
                initiator: dst,
                responder: src,
            },
        }
    }

    /// The address and port of `side`.
    pub fn of(&self, side: Side) -> SocketAddr {
        match side {
            Side::Initiator => self.initiator,
            Side::Responder => self.responder,
        }
    }
}

impl fmt::Display for Endpoints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} <-> {}", self.initiator, self.responder)
    }
}

/// One copy of a request sent to a path (path probes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PathAttempt {
    /// Frame of the copy.
    pub frame: u64,
    /// Its path.
    pub path: Endpoints,
}

/// The check of one kind of NAT_DETECTION_*_IP payload against the packet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HashCheck {
    /// The packet's address and port the hashes were compared with (source for
    /// NAT_DETECTION_SOURCE_IP, destination for NAT_DETECTION_DESTINATION_IP).
    pub address: SocketAddr,
    /// Per payload, in message order: whether its hash equals SHA-1(SPIi | SPIr | IP | port)
    /// of `address` (malformed payloads count as not matching).
    pub payloads: Vec<bool>,
    /// True if any payload matched.
    pub matched: bool,
}

/// What the NAT detection hashes say about one side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NatVerdict {
    /// The hash matched: no NAT in front of this side.
    NoNat,
    /// The sender's source hash did not match, but its source port is an IKE port (500 or
    /// 4500): either a NAT that kept the port, or a sender pretending to be behind a NAT to
    /// force UDP encapsulation (RFC 7296 §2.23; strongSwan `encap = yes` sends a hash of a
    /// random address). Not proof of a NAT.
    NatOrFake,
    /// A NAT is shown: the destination hash did not match the receiver's address, or the
    /// source hash did not match and the source port was translated (not 500/4500).
    Nat,
}

impl NatVerdict {
    /// The snake_case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            NatVerdict::NoNat => "no_nat",
            NatVerdict::NatOrFake => "nat_or_fake",
            NatVerdict::Nat => "nat",
        }
    }
}

/// Rules whose breach [`EventKind::Violation`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// UPDATE_SA_ADDRESSES sent by the responder of the IKE SA (RFC 4555 §3.5: only the
    /// initiator sends it).
    UpdateByResponder,
    /// UPDATE_SA_ADDRESSES outside an INFORMATIONAL request (RFC 4555 §3.5).
    UpdateNotInInformationalRequest,
    /// A MOBIKE notify in an IKE SA where MOBIKE_SUPPORTED was not exchanged by both ends
    /// (RFC 4555 §3.3; only judged when both IKE_AUTH messages were readable).
    MobikeNotNegotiated,
    /// ADDITIONAL_*_ADDRESS together with NO_ADDITIONAL_ADDRESSES (RFC 4555 §3.6).
    ConflictingAddressList,
    /// NO_NATS_ALLOWED did not match the packet, but the response lacks
    /// UNEXPECTED_NAT_DETECTED (RFC 4555 §3.9).
    UnexpectedNatNotReported,
    /// A MOBIKE or NAT detection notify whose data has the wrong size.
    MalformedNotify,
}

impl Rule {
    /// The snake_case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::UpdateByResponder => "update_by_responder",
            Rule::UpdateNotInInformationalRequest => "update_not_in_informational_request",
            Rule::MobikeNotNegotiated => "mobike_not_negotiated",
            Rule::ConflictingAddressList => "conflicting_address_list",
            Rule::UnexpectedNatNotReported => "unexpected_nat_not_reported",
            Rule::MalformedNotify => "malformed_notify",
        }
    }
}

/// Why an SA's current path changed ([`super::PathChange::reason`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PathReason {
    /// The first message seen for the SA.
    Initial,
    /// IKE_SA_INIT / IKE_AUTH moved (NAT-T port float to 4500, or a NAT's mapping).
    Setup,
    /// UPDATE_SA_ADDRESSES (RFC 4555).
    Update,
}

impl PathReason {
    /// The snake_case name also used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            PathReason::Initial => "initial",
            PathReason::Setup => "setup",
            PathReason::Update => "update",
        }
    }
}

fn hex_spi<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{v:016x}"))
}

/// What was found. Serialized with `"event"` holding the snake_case variant name and the
/// fields as keys (see the module documentation for the list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    /// First message of a logical IKE SA. `mid_stream`: the capture did not start with its
    /// IKE_SA_INIT request.
    SaStarted {
        /// Exchange of the first message.
        exchange: Exchange,
        /// True unless the first message was an IKE_SA_INIT request.
        mid_stream: bool,
    },
    /// A request and its (first) response.
    Exchange {
        /// Exchange type.
        exchange: Exchange,
        /// Message ID.
        message_id: u32,
        /// Who sent the request.
        requester: Side,
        /// Frame of the first copy of the request.
        request_frame: u64,
        /// Frame of the response.
        response_frame: u64,
        /// Round-trip time in µs, from the last copy of the request sent on the path the
        /// response came back on (else the last copy) to the response.
        rtt_us: i64,
        /// Copies of the request seen (1 = no retransmission).
        attempts: u32,
    },
    /// A request seen again.
    Retransmission {
        /// Exchange type.
        exchange: Exchange,
        /// Message ID.
        message_id: u32,
        /// Who sent the request.
        requester: Side,
        /// Frame of the first copy.
        first_frame: u64,
        /// 2 for the first retransmission, ...
        attempt: u32,
        /// True if sent on the same path as the previous copy.
        same_path: bool,
        /// True if the exchange had already been answered.
        after_response: bool,
        /// This copy's path.
        path: Endpoints,
    },
    /// A response seen again (answer to a retransmitted or probing request).
    DuplicateResponse {
        /// Exchange type.
        exchange: Exchange,
        /// Message ID.
        message_id: u32,
        /// Who sent the request.
        requester: Side,
        /// Frame of the first response.
        first_response_frame: u64,
        /// This copy's path.
        path: Endpoints,
    },
    /// A request never answered (reported by [`Analyzer::finish`](super::Analyzer::finish)).
    Unanswered {
        /// Exchange type.
        exchange: Exchange,
        /// Message ID.
        message_id: u32,
        /// Who sent the request.
        requester: Side,
        /// Frame of the first copy.
        request_frame: u64,
        /// Frame of the last copy.
        last_frame: u64,
        /// Copies seen.
        attempts: u32,
    },
    /// A response whose request was not seen.
    OrphanResponse {
        /// Exchange type.
        exchange: Exchange,
        /// Message ID.
        message_id: u32,
        /// Who sent the (unseen) request.
        requester: Side,
    },
    /// The same request was sent on several paths (RFC 4555 §3.10 path testing). Reported
    /// with the first response, or at the end if none came.
    PathProbe {
        /// Message ID.
        message_id: u32,
        /// Who probed.
        requester: Side,
        /// Each copy and its path, in order.
        tried: Vec<PathAttempt>,
        /// The path the first response came back on (`null`: none).
        answered: Option<Endpoints>,
        /// Frame of the first response.
        answer_frame: Option<u64>,
    },
    /// A message on a path not seen before for this SA (a probe, a move, a NAT rebinding).
    NewPath {
        /// Sender of the message.
        sender: Side,
        /// The message's path.
        path: Endpoints,
        /// The SA's current path (set at setup and by UPDATE_SA_ADDRESSES).
        current: Option<Endpoints>,
    },
    /// NAT_DETECTION_*_IP payloads checked against the packet's addresses and ports.
    NatDetection {
        /// Exchange type.
        exchange: Exchange,
        /// Message ID.
        message_id: u32,
        /// True for a response.
        response: bool,
        /// Sender of the message.
        sender: Side,
        /// NAT_DETECTION_SOURCE_IP payloads vs the packet source (`null`: none present).
        source: Option<HashCheck>,
        /// NAT_DETECTION_DESTINATION_IP payloads vs the packet destination.
        destination: Option<HashCheck>,
        /// Verdict for the sender, from the source hashes (`null`: none present).
        sender_nat: Option<NatVerdict>,
        /// Verdict for the receiver, from the destination hashes.
        receiver_nat: Option<NatVerdict>,
        /// Sides shown to be behind a NAT on this path ([`NatVerdict::Nat`]).
        behind_nat: Vec<Side>,
    },
    /// MOBIKE_SUPPORTED seen from a side for the first time.
    MobikeSupported {
        /// Who sent it.
        side: Side,
        /// True if both sides have now sent it.
        negotiated: bool,
    },
    /// A side announced its additional addresses (ADDITIONAL_IP4/6_ADDRESS,
    /// NO_ADDITIONAL_ADDRESSES); the new list replaces the previous one.
    AddressesAnnounced {
        /// Who announced.
        side: Side,
        /// The additional addresses (empty with NO_ADDITIONAL_ADDRESSES).
        addresses: Vec<IpAddr>,
        /// NO_ADDITIONAL_ADDRESSES was present.
        no_additional: bool,
        /// The list it replaces (`null`: first announcement).
        previous: Option<Vec<IpAddr>>,
    },
    /// UPDATE_SA_ADDRESSES: the SA moves to the request's addresses.
    AddressUpdate {
        /// Who sent it (should be the initiator).
        sender: Side,
        /// Message ID.
        message_id: u32,
        /// The SA's path before (`null`: unknown).
        old: Option<Endpoints>,
        /// The request's path, now the SA's path.
        new: Endpoints,
        /// The request carried the I flag: its sender is the initiator of the current SPI
        /// pair. False for an update by the original initiator after the original
        /// responder rekeyed the IKE SA (strongSwan does this), and for a
        /// `update_by_responder` violation.
        i_flag: bool,
    },
    /// COOKIE2 in a request checked against its response.
    Cookie2 {
        /// Message ID.
        message_id: u32,
        /// Who sent the request.
        requester: Side,
        /// True if the response echoed the cookie exactly.
        echoed: bool,
        /// The request's cookie (hex).
        request: String,
        /// The response's cookie (hex; `null`: missing).
        response: Option<String>,
    },
    /// NO_NATS_ALLOWED checked against the packet.
    NoNatsAllowed {
        /// Sender of the message.
        sender: Side,
        /// Message ID.
        message_id: u32,
        /// True for a response.
        response: bool,
        /// Source address and port in the notify.
        declared_src: SocketAddr,
        /// Destination address and port in the notify.
        declared_dst: SocketAddr,
        /// Packet source.
        actual_src: SocketAddr,
        /// Packet destination.
        actual_dst: SocketAddr,
        /// True if the notify matches the packet; if not, the receiver should answer
        /// UNEXPECTED_NAT_DETECTED.
        matches: bool,
    },
    /// UNACCEPTABLE_ADDRESSES or UNEXPECTED_NAT_DETECTED seen.
    MobikeError {
        /// Notify type number.
        notify_type: u16,
        /// Its name.
        notify: &'static str,
        /// Who sent it.
        sender: Side,
        /// Message ID.
        message_id: u32,
        /// True for a response.
        response: bool,
    },
    /// A protocol rule broken.
    Violation {
        /// Which rule.
        rule: Rule,
        /// Human explanation.
        detail: String,
    },
    /// The IKE SA was rekeyed: new SPIs now belong to this logical SA.
    IkeSaRekeyed {
        /// Who initiated the rekey (initiator of the new SPI pair).
        requester: Side,
        /// Message ID of the CREATE_CHILD_SA exchange.
        message_id: u32,
        /// Old initiator SPI (hex).
        #[serde(serialize_with = "hex_spi")]
        old_spi_i: u64,
        /// Old responder SPI (hex).
        #[serde(serialize_with = "hex_spi")]
        old_spi_r: u64,
        /// New initiator SPI (hex): the request's proposal SPI.
        #[serde(serialize_with = "hex_spi")]
        new_spi_i: u64,
        /// New responder SPI (hex): the response's proposal SPI.
        #[serde(serialize_with = "hex_spi")]
        new_spi_r: u64,
    },
    /// An INFORMATIONAL request deleting the IKE SA (these SPIs).
    IkeSaDeleted {
        /// Who deleted it.
        requester: Side,
        /// Message ID.
        message_id: u32,
        /// True if a rekey had already replaced these SPIs (the logical SA lives on).
        superseded: bool,
    },
    /// A decrypted message failed its integrity check; its contents were not analysed.
    IntegrityFailed {
        /// Exchange type.
        exchange: Exchange,
        /// Message ID.
        message_id: u32,
        /// True for a response.
        response: bool,
    },
}

impl EventKind {
    /// The `"event"` value of this kind.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::SaStarted { .. } => "sa_started",
            EventKind::Exchange { .. } => "exchange",
            EventKind::Retransmission { .. } => "retransmission",
            EventKind::DuplicateResponse { .. } => "duplicate_response",
            EventKind::Unanswered { .. } => "unanswered",
            EventKind::OrphanResponse { .. } => "orphan_response",
            EventKind::PathProbe { .. } => "path_probe",
            EventKind::NewPath { .. } => "new_path",
            EventKind::NatDetection { .. } => "nat_detection",
            EventKind::MobikeSupported { .. } => "mobike_supported",
            EventKind::AddressesAnnounced { .. } => "addresses_announced",
            EventKind::AddressUpdate { .. } => "address_update",
            EventKind::Cookie2 { .. } => "cookie2",
            EventKind::NoNatsAllowed { .. } => "no_nats_allowed",
            EventKind::MobikeError { .. } => "mobike_error",
            EventKind::Violation { .. } => "violation",
            EventKind::IkeSaRekeyed { .. } => "ike_sa_rekeyed",
            EventKind::IkeSaDeleted { .. } => "ike_sa_deleted",
            EventKind::IntegrityFailed { .. } => "integrity_failed",
        }
    }
}

fn addr_list(v: &[IpAddr]) -> String {
    if v.is_empty() {
        return "none".into();
    }
    v.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn req_resp(response: bool) -> &'static str {
    if response {
        "response"
    } else {
        "request"
    }
}

fn hash_check(f: &mut fmt::Formatter<'_>, what: &str, c: &Option<HashCheck>) -> fmt::Result {
    match c {
        None => write!(f, "{what} hash absent"),
        Some(c) => write!(
            f,
            "{what} {} {}",
            c.address,
            if c.matched { "matches" } else { "MISMATCH" }
        ),
    }
}

/// What a NAT detection shows: who is behind a NAT, and whether the sender's source hash
/// may be faked.
fn nat_conclusion(
    f: &mut fmt::Formatter<'_>,
    sender: Side,
    sender_nat: Option<NatVerdict>,
    behind_nat: &[Side],
) -> fmt::Result {
    let faked = sender_nat == Some(NatVerdict::NatOrFake);
    if behind_nat.is_empty() {
        f.write_str(if faked {
            " -> no NAT shown"
        } else {
            " -> no NAT"
        })?;
    } else {
        let s: Vec<&str> = behind_nat.iter().map(|s| s.as_str()).collect();
        write!(f, " -> {} behind a NAT", s.join(" and "))?;
    }
    if faked {
        write!(
            f,
            " ({sender}'s source hash mismatches on an IKE port: a NAT keeping \
             the port, or a faked hash forcing UDP encapsulation)"
        )?;
    }
    Ok(())
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventKind::SaStarted { .. }
            | EventKind::IkeSaRekeyed { .. }
            | EventKind::IkeSaDeleted { .. } => self.fmt_sa_event(f),
            EventKind::Exchange { .. }
            | EventKind::Retransmission { .. }
            | EventKind::DuplicateResponse { .. } => self.fmt_exchange(f),
            EventKind::Unanswered { .. }
            | EventKind::OrphanResponse { .. }
            | EventKind::IntegrityFailed { .. } => self.fmt_exchange_anomaly(f),
            EventKind::PathProbe { .. }
            | EventKind::NewPath { .. }
            | EventKind::AddressUpdate { .. } => self.fmt_path_event(f),
            EventKind::NatDetection { .. } | EventKind::NoNatsAllowed { .. } => {
                self.fmt_nat_event(f)
            }
            EventKind::MobikeSupported { .. }
            | EventKind::AddressesAnnounced { .. }
            | EventKind::Cookie2 { .. } => self.fmt_mobike_event(f),
            EventKind::MobikeError { .. } | EventKind::Violation { .. } => {
                self.fmt_protocol_error(f)
            }
        }
    }
}

impl EventKind {
    /// An IKE SA's life: first seen, rekeyed, deleted.
    fn fmt_sa_event(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventKind::SaStarted {
                exchange,
                mid_stream,
            } => {
                write!(f, "IKE SA seen, first message {exchange}")?;
                if *mid_stream {
                    f.write_str(" (joined mid-stream)")?;
                }
                Ok(())
            }
            EventKind::IkeSaRekeyed {
                requester,
                message_id,
                old_spi_i,
                old_spi_r,
                new_spi_i,
                new_spi_r,
            } => write!(
                f,
                "IKE SA rekeyed by {requester} (mid {message_id}): \
                 {old_spi_i:016x}/{old_spi_r:016x} -> {new_spi_i:016x}/{new_spi_r:016x}"
            ),
            EventKind::IkeSaDeleted {
                requester,
                message_id,
                superseded,
            } => {
                write!(f, "IKE SA deleted by {requester} (mid {message_id})")?;
                if *superseded {
                    f.write_str(", replaced by its rekeyed SA")?;
                }
                Ok(())
            }
            // The other kinds belong to the other families (see `fmt`).
            _ => Ok(()),
        }
    }

    /// An exchange and the copies of its messages.
    fn fmt_exchange(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventKind::Exchange {
                exchange,
                message_id,
                requester,
                request_frame,
                response_frame,
                rtt_us,
                attempts,
            } => {
                write!(
                    f,
                    "{exchange} mid {message_id} from {requester}: request frame {request_frame}, \
                     response frame {response_frame}, rtt {:.3} ms",
                    *rtt_us as f64 / 1000.0
                )?;
                if *attempts > 1 {
                    write!(f, " ({attempts} copies of the request)")?;
                }
                Ok(())
            }
            EventKind::Retransmission {
                exchange,
                message_id,
                requester,
                first_frame,
                attempt,
                same_path,
                after_response,
                path,
            } => {
                write!(
                    f,
                    "retransmission #{} of {exchange} mid {message_id} from {requester} \
                     (first frame {first_frame}) on {} path {path}",
                    attempt.saturating_sub(1),
                    if *same_path { "the same" } else { "another" },
                )?;
                if *after_response {
                    f.write_str(", after the response")?;
                }
                Ok(())
            }
            EventKind::DuplicateResponse {
                exchange,
                message_id,
                requester,
                first_response_frame,
                path,
            } => write!(
                f,
                "response to {exchange} mid {message_id} from {requester} seen again \
                 (first frame {first_response_frame}) on {path}"
            ),
            // The other kinds belong to the other families (see `fmt`).
            _ => Ok(()),
        }
    }

    /// An exchange that could not be followed: a request without response, a response without
    /// request, a message failing its integrity check.
    fn fmt_exchange_anomaly(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventKind::Unanswered {
                exchange,
                message_id,
                requester,
                request_frame,
                last_frame,
                attempts,
            } => write!(
                f,
                "{exchange} mid {message_id} from {requester} never answered \
                 (frames {request_frame}..{last_frame}, {attempts} cop{})",
                if *attempts == 1 { "y" } else { "ies" }
            ),
            EventKind::OrphanResponse {
                exchange,
                message_id,
                requester,
            } => write!(
                f,
                "response to {exchange} mid {message_id} from {requester} without a request"
            ),
            EventKind::IntegrityFailed {
                exchange,
                message_id,
                response,
            } => write!(
                f,
                "{exchange} mid {message_id} {}: integrity check failed, contents not analysed",
                req_resp(*response)
            ),
            // The other kinds belong to the other families (see `fmt`).
            _ => Ok(()),
        }
    }

    /// Paths: probes, a new path, an UPDATE_SA_ADDRESSES move.
    fn fmt_path_event(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventKind::PathProbe {
                message_id,
                requester,
                tried,
                answered,
                answer_frame,
            } => {
                write!(f, "path probe mid {message_id} by {requester} on ")?;
                for (i, t) in tried.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "[{}] (frame {})", t.path, t.frame)?;
                }
                match (answered, answer_frame) {
                    (Some(p), Some(fr)) => write!(f, "; first answer on [{p}] (frame {fr})"),
                    _ => f.write_str("; no answer"),
                }
            }
            EventKind::NewPath {
                sender,
                path,
                current,
            } => {
                write!(f, "new path {path} (sent by {sender})")?;
                if let Some(c) = current {
                    write!(f, "; SA path is {c}")?;
                }
                Ok(())
            }
            EventKind::AddressUpdate {
                sender,
                message_id,
                old,
                new,
                i_flag,
            } => {
                write!(f, "UPDATE_SA_ADDRESSES mid {message_id} from {sender}: ")?;
                match old {
                    Some(o) if o == new => write!(f, "{new} (unchanged)"),
                    Some(o) => write!(f, "{o} -> {new}"),
                    None => write!(f, "now {new}"),
                }?;
                if !*i_flag && *sender == Side::Initiator {
                    f.write_str(
                        " (without the I flag: responder of the IKE SA \
                         since the responder rekeyed it)",
                    )?;
                }
                Ok(())
            }
            // The other kinds belong to the other families (see `fmt`).
            _ => Ok(()),
        }
    }

    /// NAT detection hashes and NO_NATS_ALLOWED checked against the packet.
    fn fmt_nat_event(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventKind::NatDetection {
                exchange,
                message_id,
                response,
                sender,
                source,
                destination,
                sender_nat,
                behind_nat,
                ..
            } => {
                write!(
                    f,
                    "NAT detection in {exchange} mid {message_id} {} from {sender}: ",
                    req_resp(*response)
                )?;
                hash_check(f, "source", source)?;
                f.write_str(", ")?;
                hash_check(f, "destination", destination)?;
                nat_conclusion(f, *sender, *sender_nat, behind_nat)
            }
            EventKind::NoNatsAllowed {
                sender,
                message_id,
                response,
                declared_src,
                declared_dst,
                actual_src,
                actual_dst,
                matches,
            } => {
                write!(
                    f,
                    "NO_NATS_ALLOWED in mid {message_id} {} from {sender}: declares {declared_src} -> {declared_dst}, ",
                    req_resp(*response)
                )?;
                if *matches {
                    f.write_str("matches the packet")
                } else {
                    write!(
                        f,
                        "packet is {actual_src} -> {actual_dst}: receiver should answer UNEXPECTED_NAT_DETECTED"
                    )
                }
            }
            // The other kinds belong to the other families (see `fmt`).
            _ => Ok(()),
        }
    }

    /// MOBIKE support, additional addresses and COOKIE2.
    fn fmt_mobike_event(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventKind::MobikeSupported { side, negotiated } => {
                write!(f, "MOBIKE_SUPPORTED from {side}")?;
                if *negotiated {
                    f.write_str(" (MOBIKE negotiated)")?;
                }
                Ok(())
            }
            EventKind::AddressesAnnounced {
                side,
                addresses,
                no_additional,
                previous,
            } => {
                write!(
                    f,
                    "{side} announces additional addresses: {}",
                    addr_list(addresses)
                )?;
                if *no_additional {
                    f.write_str(" (NO_ADDITIONAL_ADDRESSES)")?;
                }
                match previous {
                    Some(p) if p == addresses => f.write_str(" (unchanged)")?,
                    Some(p) => write!(f, "; replaces: {}", addr_list(p))?,
                    None => {}
                }
                Ok(())
            }
            EventKind::Cookie2 {
                message_id,
                requester,
                echoed,
                request,
                response,
            } => {
                if *echoed {
                    write!(
                        f,
                        "COOKIE2 of mid {message_id} (from {requester}) echoed: {request}"
                    )
                } else {
                    write!(
                        f,
                        "COOKIE2 of mid {message_id} (from {requester}) NOT echoed: sent {request}, got {}",
                        response.as_deref().unwrap_or("none")
                    )
                }
            }
            // The other kinds belong to the other families (see `fmt`).
            _ => Ok(()),
        }
    }

    /// A MOBIKE error notify or a broken rule.
    fn fmt_protocol_error(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventKind::MobikeError {
                notify,
                sender,
                message_id,
                response,
                ..
            } => write!(
                f,
                "{notify} from {sender} in mid {message_id} {}",
                req_resp(*response)
            ),
            EventKind::Violation { rule, detail } => {
                write!(f, "protocol violation ({}): {detail}", rule.as_str())
            }
            // The other kinds belong to the other families (see `fmt`).
            _ => Ok(()),
        }
    }
}

/// One finding, tied to a frame, a time and an SA.
///
/// JSON ([`AnalysisEvent::to_json`]): `{"event", "frame", "time_us", "sa", "spi_i", "spi_r",
/// ...kind fields}`; `spi_i`/`spi_r` are the SPI pair of the message (16 lowercase hex digits;
/// `spi_r` is all zeros while unknown).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AnalysisEvent {
    /// Frame of the message that produced the event (for `unanswered`: the last copy).
    pub frame: u64,
    /// Its capture time, µs since the Unix epoch.
    pub time_us: i64,
    /// The logical SA.
    pub sa: SaId,
    /// Initiator SPI of the message's SPI pair.
    #[serde(serialize_with = "hex_spi")]
    pub spi_i: u64,
    /// Responder SPI of the message's SPI pair.
    #[serde(serialize_with = "hex_spi")]
    pub spi_r: u64,
    /// What was found.
    #[serde(flatten)]
    pub kind: EventKind,
}

impl AnalysisEvent {
    /// The event as a JSON object with an `"event"` key.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

impl fmt::Display for AnalysisEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "frame {}: SA {} {:016x}/{:016x}: {}",
            self.frame, self.sa, self.spi_i, self.spi_r, self.kind
        )
    }
}
