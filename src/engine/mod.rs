//! Layer 4: the sans-IO IKEv2 peer engine.
//!
//! A deterministic state machine in the style of quinn-proto: no sockets, threads, clock
//! reads or randomness inside. The caller
//!
//! * feeds received datagrams with [`Engine::handle_datagram`] (IKE message bytes: the
//!   I/O layer strips the 4-byte non-ESP marker on port 4500 and does not pass
//!   NAT-T keepalives) and ESP packets with [`Engine::handle_esp`] ([`esp`]: the data
//!   plane of the CHILD_SAs; [`Engine::send_esp`] sends),
//! * calls [`Engine::handle_timeout`] when [`Engine::poll_timeout`] says so,
//! * issues operator [`Command`]s with [`Engine::command`],
//! * drains [`Engine::poll_transmit`] (datagrams to send; [`Transmit::non_esp_marker`]
//!   tells the I/O layer to prepend the four zero bytes: set whenever we send from the
//!   NAT-T port ([`Config::nat_t_port`], 4500), i.e. after floating, RFC 3948 §2.2 /
//!   RFC 7296 §2.23; a response from port 500 to a NAT-translated port has none) and
//!   [`Engine::poll_event`].
//!
//! Time is a [`Timestamp`] chosen by the caller (monotonic, any epoch). Randomness
//! (SPIs, nonces, private keys, IVs, cookie secret) comes from a [`Random`] given at
//! construction: [`OsRandom`] in the binary, [`SeededRandom`] in tests.
//!
//! Exchanges live in one module each, like strongSwan's tasks: [`ike_init`]
//! (IKE_SA_INIT, cookies, INVALID_KE_PAYLOAD, NAT detection, key derivation),
//! [`ike_auth`] (PSK or certificate authentication, CHILD_SA in IKE_AUTH, CP virtual IP),
//! [`pubkey`] (X.509 chains, RSA/ECDSA signatures, RFC 7427),
//! [`child_create`] (ESP proposals, traffic selector narrowing, CHILD_SA keys),
//! [`create_child`] (CREATE_CHILD_SA: new CHILD_SAs, CHILD_SA rekeying with PFS,
//! collisions), [`ike_rekey`] (IKE SA rekeying), [`informational`] (DPD, Delete).
//! Message protection, message IDs, retransmission, the response cache and the
//! lifetime (rekey) timers are in [`sa`].
//!
//! NAT-T keepalives (RFC 3948 §2.3) are timer-driven [`Transmit`]s of a single 0xFF byte
//! (no marker) while an established IKE SA has a NAT in front of us and sent nothing for
//! [`Config::keepalive`]; received ones are ignored.
//!
//! Not yet: MOBIKE address updates, EAP, CRL/OCSP, fragmentation,
//! hard lifetimes (CHILD_SAs and IKE SAs are rekeyed, never expired). The SA
//! already stores the current path and address sets so that MOBIKE (`mobike`) and NAT
//! handling ([`natd`]) slot in.
//!
//! # Design decisions
//!
//! * **Non-ESP marker**: the engine deals in bare IKE messages. The I/O layer strips the
//!   marker on receive (and hands ESP / keepalives elsewhere) and adds it on send when
//!   [`Transmit::non_esp_marker`] is set. Keeps the engine independent of the socket
//!   layout (one socket per port, or TCP encapsulation later).
//! * **Floating**: after IKE_SA_INIT the initiator moves the path to
//!   `local:nat_t_port` → `remote:4500` if either NAT-D hash mismatched, or if MOBIKE is
//!   enabled for the connection (RFC 4555 §3.2), provided the peer sent NAT-D at all.
//!   The responder adopts the path of the authenticated IKE_AUTH request; responses
//!   always go back where the request came from.
//! * **Connections**: the initiator uses the named connection; a responder picks the
//!   first connection whose addresses match in IKE_SA_INIT and re-checks the peer's IDi
//!   against `remote_id` in IKE_AUTH (switching to another matching connection if
//!   needed). Every engine answers IKE_SA_INIT for its connections, as charon does.
//! * **Message IDs** (RFC 7296 §2.3): window size 1 in both directions. A request with
//!   the previous message ID gets the cached response (if its bytes are identical or it
//!   authenticates); any other unexpected ID is dropped and counted. Responses must match
//!   the outstanding request's ID and exchange.
//! * **Errors from the peer**: unparseable datagrams and ICV failures are dropped and
//!   counted ([`Stats`]); an authenticated request whose inner payloads do not parse gets
//!   INVALID_SYNTAX, one with an unknown critical payload UNSUPPORTED_CRITICAL_PAYLOAD
//!   (§2.5). IKE_SA_INIT requests missing SA/KE/Nonce get an unprotected INVALID_SYNTAX.
//! * **Secrets**: private DH values, SKEYSEED and all SK_* / KEYMAT keys and the PSK are
//!   zeroized on drop and redacted in `Debug`. [`IkeSa::keys`] exposes them on purpose
//!   (key log, tests). Certificate private keys ([`pubkey::PrivateKey`]) are redacted in
//!   `Debug` and zeroized on drop by their crates (`rsa`, `p256`, `p384`); note that the
//!   `rsa` crate's private-key operations are not constant-time (RUSTSEC-2023-0071).

pub mod child_create;
pub mod config;
pub mod create_child;
pub mod esp;
pub mod ike_auth;
pub mod ike_init;
pub mod ike_rekey;
pub mod informational;
pub mod mobike;
pub mod natd;
pub mod path;
pub mod proposal;
pub mod pubkey;
pub mod sa;
mod sa_table;
pub mod timer;

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::ops::Add;
use std::time::Duration;

use sha2::{Digest, Sha256};

pub use config::{
    Config, ConnConfig, Identity, MobikeConfig, Psk, RetransmitConfig, ReturnRoutability, TsRange,
};
pub use mobike::{MoveCause, PathHint, PathState};
pub use path::Path;
pub use proposal::{Chosen, Proposal, Protocol};
pub use sa::{ChildSa, IkeSa, IkeState};

use crate::wire::{self, Message};

/// A point in time, in microseconds since an epoch of the caller's choosing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// From microseconds.
    pub const fn from_micros(us: u64) -> Self {
        Timestamp(us)
    }
    /// From milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        Timestamp(ms.saturating_mul(1000))
    }
    /// From whole seconds.
    pub const fn from_secs(s: u64) -> Self {
        Timestamp(s.saturating_mul(1_000_000))
    }
    /// Microseconds since the epoch.
    pub const fn as_micros(self) -> u64 {
        self.0
    }
    /// `self - earlier`, or zero.
    pub fn saturating_since(self, earlier: Timestamp) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Timestamp {
    type Output = Timestamp;
    fn add(self, d: Duration) -> Timestamp {
        Timestamp(
            self.0
                .saturating_add(u64::try_from(d.as_micros()).unwrap_or(u64::MAX)),
        )
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:06}", self.0 / 1_000_000, self.0 % 1_000_000)
    }
}

/// Source of random bytes, injected so that tests are deterministic.
pub trait Random {
    /// Fill `buf` with random bytes.
    fn fill(&mut self, buf: &mut [u8]);
}

/// The operating system's random source (`getrandom`).
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRandom;

impl Random for OsRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        if getrandom::getrandom(buf).is_err() {
            // No usable OS randomness: refuse to continue rather than use weak values.
            panic!("OS random source unavailable");
        }
    }
}

/// Deterministic generator for tests and simulations: SHA-256 in counter mode over a
/// seed. Not for production keys.
#[derive(Debug, Clone)]
pub struct SeededRandom {
    seed: [u8; 32],
    counter: u64,
    buf: Vec<u8>,
}

impl SeededRandom {
    /// From a seed.
    pub fn new(seed: u64) -> Self {
        let mut s = [0u8; 32];
        s[..8].copy_from_slice(&seed.to_be_bytes());
        SeededRandom {
            seed: s,
            counter: 0,
            buf: Vec::new(),
        }
    }
}

impl Random for SeededRandom {
    fn fill(&mut self, out: &mut [u8]) {
        for b in out.iter_mut() {
            if self.buf.is_empty() {
                let mut h = Sha256::new();
                h.update(self.seed);
                h.update(self.counter.to_be_bytes());
                self.counter += 1;
                self.buf = h.finalize().to_vec();
            }
            *b = self.buf.pop().unwrap_or(0);
        }
    }
}

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Source (`local`: the I/O layer must have a socket there) and destination.
    pub path: Path,
    /// The IKE message.
    pub bytes: Vec<u8>,
    /// Prepend the 4-byte non-ESP marker (port 4500 traffic).
    pub non_esp_marker: bool,
    /// An ESP packet ([`Engine::send_esp`]): UDP-encapsulated as it is, never with a
    /// marker (RFC 3948 §2.1).
    pub esp: bool,
}

/// Engine-local handle of an IKE SA (stable for the SA's life).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SaId(pub u64);

impl fmt::Display for SaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Operator commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Initiate the connection with this name.
    Up(String),
    /// Delete an IKE SA (and its CHILD_SAs).
    Down(SaId),
    /// Delete one CHILD_SA, by our inbound SPI.
    DownChild(SaId, u32),
    /// Rekey the IKE SA (CREATE_CHILD_SA; queued behind other exchanges). The new IKE
    /// SA gets a new [`SaId`], announced by [`EngineEvent::Rekeyed`].
    RekeyIke(SaId),
    /// Rekey a CHILD_SA, by our inbound SPI (CREATE_CHILD_SA with REKEY_SA).
    RekeyChild(SaId, u32),
    /// Create an additional CHILD_SA with the connection's child settings
    /// (CREATE_CHILD_SA without REKEY_SA).
    CreateChild(SaId),
    /// Send an empty INFORMATIONAL (dead peer detection).
    Dpd(SaId),
    /// Emit an [`EngineEvent::Status`].
    Status,
    /// MOBIKE: test every usable path now (the same INFORMATIONAL on every pair, RFC
    /// 4555 §3.5); the SA moves to the first that answers if its own path is gone.
    Probe(SaId),
    /// MOBIKE initiator: send UPDATE_SA_ADDRESSES (with NAT detection and COOKIE2) on
    /// the current path now.
    Update(SaId),
    /// MOBIKE: move the SA to a path from our address `local` (to `remote`, or to the
    /// peer's first address of the same family): it is probed, then the SA moves.
    Move {
        sa: SaId,
        local: IpAddr,
        remote: Option<IpAddr>,
    },
    /// Claim a NAT in front of us in our NAT detection hashes from now on (like
    /// strongSwan's `encap=yes`), or stop claiming one.
    NatFake(bool),
    /// Claim that our public mapping is this address and port in our NAT detection hashes
    /// (a NAT whose mapping we know, e.g. a static port forward), or stop (`None`).
    NatMap(Option<SocketAddr>),
    /// Send from another local port on the SA's path from now on without telling the
    /// peer, as a NAT rebinding would look to it (the I/O layer needs a socket there).
    Rebind { sa: SaId, port: u16 },
    /// Send a crafted INFORMATIONAL request with these notifies (type, data), also ones
    /// the rules forbid; its events are marked `crafted`.
    Crafted {
        sa: SaId,
        notifies: Vec<(u16, Vec<u8>)>,
    },
}

/// Summary of an IKE message for `Sent` / `Received` events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageInfo {
    /// Exchange type.
    pub exchange: u8,
    /// Message ID.
    pub message_id: u32,
    /// Is it a response?
    pub response: bool,
    /// Payload list in strongSwan's log style, e.g. `SA KE No N(NATD_S_IP) N(NATD_D_IP)`
    /// or `SK{IDi AUTH SA TSi TSr}` for the decrypted content of protected messages.
    pub payloads: String,
    /// The path it was sent or received on.
    pub path: Path,
    /// Built by [`Command::Crafted`] (possibly breaking the rules on purpose).
    pub crafted: bool,
}

impl fmt::Display for MessageInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} [ {} ] {}",
            wire::registry::exchange_name(self.exchange).unwrap_or("?"),
            if self.response { "response" } else { "request" },
            self.message_id,
            self.payloads,
            self.path,
        )
    }
}

/// Status of one IKE SA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaStatus {
    /// Handle.
    pub sa: SaId,
    /// Connection name.
    pub conn: String,
    /// State.
    pub state: IkeState,
    /// SPIs.
    pub spi_i: u64,
    /// SPIs.
    pub spi_r: u64,
    /// Current path.
    pub path: Path,
    /// Negotiated IKE proposal.
    pub proposal: Option<Chosen>,
    /// CHILD_SAs.
    pub children: Vec<ChildStatus>,
    /// MOBIKE negotiated (both sent MOBIKE_SUPPORTED).
    pub mobike: bool,
    /// Our and the peer's address sets.
    pub local_addrs: Vec<IpAddr>,
    pub remote_addrs: Vec<IpAddr>,
    /// MOBIKE activity: `idle`, `probing`, `updating`, `rr_check`, ...
    pub mobike_state: &'static str,
    /// NAT in front of us / of the peer.
    pub nat_local: bool,
    pub nat_remote: bool,
    /// We are this IKE SA's initiator (the I flag: the original initiator, or the side
    /// that rekeyed it).
    pub initiator: bool,
    /// The engine's clock when the status was taken (ages and deadlines count from it).
    pub now: Timestamp,
    /// When it was established (`None` while it is being set up).
    pub established: Option<Timestamp>,
    /// When it will be rekeyed (its typed rekey timer), if armed.
    pub rekey_at: Option<Timestamp>,
    /// A rekeyed IKE SA: when it is dropped if the peer has not deleted it by then.
    pub expire_at: Option<Timestamp>,
    /// Message ID of our next request.
    pub next_mid: u32,
    /// Message ID the peer's next request must have (window size 1).
    pub peer_mid: u32,
    /// Our request waiting for its response, if any.
    pub outstanding_mid: Option<u32>,
    /// Virtual IP: assigned to us (initiator) or by us (responder).
    pub vip: Option<IpAddr>,
    /// The peer's authenticated identity.
    pub peer_id: Option<String>,
}

/// Status of one CHILD_SA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildStatus {
    /// Our inbound SPI and the peer's (outbound).
    pub spi_in: u32,
    pub spi_out: u32,
    /// Our and the peer's traffic selectors.
    pub ts_local: Vec<TsRange>,
    pub ts_remote: Vec<TsRange>,
    /// Negotiated ESP proposal.
    pub proposal: Chosen,
    /// When it was installed.
    pub installed: Timestamp,
    /// When it will be rekeyed, if armed.
    pub rekey_at: Option<Timestamp>,
    /// Replaced by a rekey, waiting for its Delete.
    pub rekeyed: bool,
}

/// What the engine reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineEvent {
    /// An IKE SA is established (after IKE_AUTH).
    IkeUp {
        sa: SaId,
        spi_i: u64,
        spi_r: u64,
        path: Path,
        proposal: Chosen,
        /// Are we the original initiator?
        initiator: bool,
        /// NAT in front of us / of the peer (from NAT detection).
        nat_local: bool,
        nat_remote: bool,
    },
    /// A CHILD_SA is established.
    ChildUp {
        sa: SaId,
        /// (inbound, outbound) ESP SPIs.
        spis: (u32, u32),
        /// Our and the peer's traffic selectors.
        ts_local: Vec<TsRange>,
        ts_remote: Vec<TsRange>,
        proposal: Chosen,
        /// Virtual IP assigned to the initiator, if any.
        vip: Option<IpAddr>,
    },
    /// An IKE SA is gone.
    IkeDown { sa: SaId, reason: String },
    /// A CHILD_SA is gone.
    ChildDown {
        sa: SaId,
        spis: (u32, u32),
        reason: String,
    },
    /// An IKE SA or a CHILD_SA was rekeyed (RFC 7296 §2.8, §2.18).
    ///
    /// * [`Rekey::Ike`]: `sa` is the *new* IKE SA; the CHILD_SAs of `old_sa` now belong
    ///   to it. `old_sa` is retired: it only lingers until the Delete exchange that ends
    ///   it, and no `IkeDown` (or `ChildDown`) follows for it.
    /// * [`Rekey::Child`]: a `ChildUp` for the new CHILD_SA came just before; the old one
    ///   stays installed until its Delete, which brings its `ChildDown`.
    ///
    /// `initiator`: we initiated the (winning, in a collision) rekey exchange.
    Rekeyed {
        sa: SaId,
        rekey: Rekey,
        initiator: bool,
    },
    /// A message was sent (first transmission).
    Sent { sa: Option<SaId>, info: MessageInfo },
    /// A message was received and accepted.
    Received { sa: Option<SaId>, info: MessageInfo },
    /// A request was retransmitted (`attempt` 1..=tries).
    Retransmit {
        sa: SaId,
        exchange: u8,
        message_id: u32,
        attempt: u32,
    },
    /// A request got no response after all retransmissions.
    Timeout {
        sa: SaId,
        exchange: u8,
        message_id: u32,
    },
    /// Something failed; `reason` says what (e.g. `AUTHENTICATION_FAILED`).
    Error { sa: Option<SaId>, reason: String },
    /// Answer to [`Command::Status`].
    Status(Vec<SaStatus>),
    /// MOBIKE: what we know of one path of an SA (probes, RFC 4555 §3.5).
    Path {
        sa: SaId,
        path: Path,
        state: PathState,
        /// Round-trip time of the answer (state `Ok`).
        rtt: Option<Duration>,
    },
    /// The IKE SA (and its CHILD_SAs, unless a return routability check is still
    /// running) now uses another path.
    Moved {
        sa: SaId,
        old: Path,
        new: Path,
        cause: MoveCause,
        /// From the trigger (address change, failed request, update received) to now.
        elapsed: Duration,
        /// The CHILD_SAs moved too.
        children: bool,
    },
    /// Our and the peer's address sets as the SA knows them (after IKE_AUTH, after
    /// each address list or change).
    Addresses {
        sa: SaId,
        local: Vec<IpAddr>,
        remote: Vec<IpAddr>,
    },
    /// NAT detection result of an exchange: a NAT in front of us / of the peer, and
    /// whether the mapping seen by the peer changed since the last check.
    Nat {
        sa: SaId,
        local: bool,
        remote: bool,
        mapping_changed: bool,
    },
    /// A return routability check (INFORMATIONAL with COOKIE2 to a new address, RFC
    /// 4555 §3.7) ended.
    RrCheck { sa: SaId, path: Path, ok: bool },
    /// A MOBIKE error notify (UNACCEPTABLE_ADDRESSES, UNEXPECTED_NAT_DETECTED) or a
    /// MOBIKE notify that was malformed or broke the rules, sent or received.
    MobikeNotify {
        sa: SaId,
        sent: bool,
        notify: u16,
        detail: String,
    },
    /// A lower-layer hint about the SA's path ([`Engine::path_hint`]); `checked`: a
    /// liveness check of the current path went out (else one was already in flight).
    Hint {
        sa: SaId,
        path: Path,
        hint: PathHint,
        checked: bool,
    },
    /// An ESP packet of CHILD_SA `spi_in` was decrypted and passed the replay check
    /// ([`Engine::handle_esp`]).
    EspReceived {
        sa: SaId,
        spi_in: u32,
        path: Path,
        seq: u64,
        /// 4 (IPv4) or 41 (IPv6) in tunnel mode.
        next_header: u8,
        /// The inner packet.
        packet: Vec<u8>,
    },
    /// A received ESP packet was dropped (unknown SPI, integrity, replay, malformed).
    /// `sa` is `None` when no CHILD_SA has the SPI.
    EspError {
        sa: Option<SaId>,
        spi: u32,
        path: Path,
        error: esp::EspError,
    },
    /// An ESP packet arrived on a path other than its CHILD_SA's current one (RFC 4555
    /// §3.12): delivered and counted, but not a sign of life.
    EspUnexpectedPath {
        sa: SaId,
        spi_in: u32,
        expected: Path,
        got: Path,
        seq: u64,
    },
}

/// What [`EngineEvent::Rekeyed`] replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rekey {
    /// The IKE SA `old_sa` with SPIs `old_spis` (SPIi, SPIr) was replaced by the event's
    /// SA, with SPIs `new_spis`.
    Ike {
        old_sa: SaId,
        old_spis: (u64, u64),
        new_spis: (u64, u64),
    },
    /// A CHILD_SA of the event's SA: (inbound, outbound) ESP SPIs of the old and the new
    /// one.
    Child {
        old_spis: (u32, u32),
        new_spis: (u32, u32),
    },
}

impl Rekey {
    /// `"ike"` or `"child"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Rekey::Ike { .. } => "ike",
            Rekey::Child { .. } => "child",
        }
    }
}

/// Counters of dropped input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Datagrams received.
    pub received: u64,
    /// Not parseable as an IKE message.
    pub malformed: u64,
    /// SK payloads whose ICV / tag did not verify (dropped).
    pub icv_failures: u64,
    /// Messages for unknown SAs.
    pub unknown_sa: u64,
    /// Messages with an unexpected message ID (dropped).
    pub bad_message_id: u64,
    /// Retransmitted requests answered from the response cache.
    pub cached_responses: u64,
    /// Other drops (wrong state, unexpected exchange).
    pub dropped: u64,
    /// NAT-T keepalives (a single 0xFF byte) handed in: ignored.
    pub keepalives: u64,
}

/// The IKEv2 engine: all IKE SAs of one peer.
pub struct Engine {
    pub(crate) config: Config,
    pub(crate) rng: Box<dyn Random + Send>,
    pub(crate) sas: sa_table::SaTable,
    /// Our SPI → SA.
    pub(crate) by_spi: HashMap<u64, SaId>,
    /// Responder: (peer address, SPIi) of IKE_SA_INIT requests → SA (retransmit detection).
    pub(crate) by_init: HashMap<(SocketAddr, u64), SaId>,
    pub(crate) transmits: VecDeque<Transmit>,
    pub(crate) events: VecDeque<EngineEvent>,
    pub(crate) next_id: u64,
    pub(crate) cookie_secret: [u8; 32],
    pub(crate) stats: Stats,
    pub(crate) now: Timestamp,
    /// Our usable addresses (MOBIKE): from the configuration, then
    /// [`Engine::set_local_addrs`].
    pub(crate) local_addrs: Vec<IpAddr>,
    /// Claim a NAT in our NAT detection hashes ([`Command::NatFake`]).
    pub(crate) nat_fake: bool,
    /// Our claimed public mapping ([`Command::NatMap`]).
    pub(crate) nat_map: Option<SocketAddr>,
    /// ESP state of the CHILD_SAs ([`esp`]).
    pub(crate) esp: esp::EspTable,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("sas", &self.sas.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// Errors of [`Engine::command`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    /// No connection with this name.
    UnknownConnection(String),
    /// No such IKE SA.
    UnknownSa(SaId),
    /// No such CHILD_SA.
    UnknownChild(SaId, u32),
    /// The SA cannot do this now.
    InvalidState(SaId, IkeState),
    /// Not implemented yet.
    Unsupported(&'static str),
    /// The command does not make sense for this SA now (the text says why).
    Invalid(String),
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::UnknownConnection(n) => write!(f, "no connection named '{n}'"),
            CommandError::UnknownSa(s) => write!(f, "no IKE SA {s}"),
            CommandError::UnknownChild(s, spi) => write!(f, "IKE SA {s} has no CHILD_SA {spi:08x}"),
            CommandError::InvalidState(s, st) => write!(f, "IKE SA {s} is {st:?}"),
            CommandError::Unsupported(w) => write!(f, "{w} is not implemented yet"),
            CommandError::Invalid(w) => f.write_str(w),
        }
    }
}

impl std::error::Error for CommandError {}

impl Engine {
    /// A new engine. Draws the cookie secret from `rng`.
    pub fn new(config: Config, mut rng: Box<dyn Random + Send>) -> Engine {
        let mut cookie_secret = [0u8; 32];
        rng.fill(&mut cookie_secret);
        Engine {
            config,
            rng,
            sas: sa_table::SaTable::default(),
            by_spi: HashMap::new(),
            by_init: HashMap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            next_id: 1,
            cookie_secret,
            stats: Stats::default(),
            now: Timestamp::default(),
            local_addrs: Vec::new(),
            nat_fake: false,
            nat_map: None,
            esp: esp::EspTable::default(),
        }
        .with_configured_addrs()
    }

    fn with_configured_addrs(mut self) -> Engine {
        let mut addrs: Vec<IpAddr> = Vec::new();
        for c in &self.config.connections {
            let a = c.local.ip();
            if !a.is_unspecified() && !addrs.contains(&a) {
                addrs.push(a);
            }
        }
        self.local_addrs = addrs;
        self
    }

    /// Our usable local addresses, as the engine knows them.
    pub fn local_addrs(&self) -> &[IpAddr] {
        &self.local_addrs
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The configuration, for changes at run time: they apply to exchanges started
    /// afterwards (e.g. proposals and lifetimes for the next rekey). Existing SAs refer
    /// to connections by index: do not remove or reorder connections.
    pub fn config_mut(&mut self) -> &mut Config {
        self.sas.all_stale();
        &mut self.config
    }

    /// Drop counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// An IKE SA, for inspection (keys included: handle with care).
    pub fn sa(&self, id: SaId) -> Option<&IkeSa> {
        self.sas.get(&id)
    }

    /// All IKE SAs.
    pub fn sas(&self) -> impl Iterator<Item = &IkeSa> {
        self.sas.values()
    }

    /// Next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// Next event.
    pub fn poll_event(&mut self) -> Option<EngineEvent> {
        self.events.pop_front()
    }

    /// When [`Engine::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.sas.next_deadline(&self.config)
    }

    /// Process a received IKE message (marker stripped) that arrived on `path` (our
    /// socket's address, the sender's address). Never panics on any input; what cannot
    /// be used is counted in [`Engine::stats`] and dropped, or answered as RFC 7296
    /// requires.
    pub fn handle_datagram(&mut self, now: Timestamp, path: Path, bytes: &[u8]) {
        self.now = self.now.max(now);
        self.stats.received += 1;
        if bytes == [sa::KEEPALIVE] {
            // a NAT-T keepalive the I/O layer passed on after all: nothing to do
            self.stats.keepalives += 1;
            return;
        }
        let msg = match Message::parse(bytes) {
            Ok(m) => m,
            Err(_) => {
                self.stats.malformed += 1;
                return;
            }
        };
        let h = msg.header;
        if h.exchange_type == wire::IKE_SA_INIT && !h.is_response() {
            if h.spi_r == 0 && h.message_id == 0 && h.is_initiator() {
                self.ike_init_request(path, &msg, bytes);
            } else {
                self.stats.dropped += 1;
            }
            return;
        }
        if h.exchange_type == wire::INFORMATIONAL && self.unprotected_invalid_spi(path, &msg) {
            return;
        }
        // Our SPI: the responder's if the sender is the original initiator.
        let ours = if h.is_initiator() { h.spi_r } else { h.spi_i };
        let Some(&id) = self.by_spi.get(&ours) else {
            self.stats.unknown_sa += 1;
            return;
        };
        let Some(sa) = self.sas.get(&id) else {
            self.stats.unknown_sa += 1;
            return;
        };
        // The other SPI must match too (once known).
        let (theirs, known) = if sa.initiator {
            (h.spi_r, sa.spi_r)
        } else {
            (h.spi_i, sa.spi_i)
        };
        if h.is_initiator() == sa.initiator
            || (known != 0 && theirs != known)
            || (h.exchange_type != wire::IKE_SA_INIT && known == 0)
        {
            self.stats.unknown_sa += 1;
            return;
        }
        if h.exchange_type == wire::IKE_SA_INIT {
            self.ike_init_response(id, path, &msg, bytes);
        } else if h.is_response() {
            self.handle_response(id, path, &msg, bytes);
        } else {
            self.handle_request(id, path, &msg, bytes);
        }
        self.start_queued(id);
    }

    /// Advance timers: retransmissions, exchange timeouts, half-open SA expiry, rekeying,
    /// NAT-T keepalives.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        self.now = self.now.max(now);
        // only the SAs with something due (the table's deadline index)
        let due = self.sas.due(&self.config, now);
        for id in due {
            self.sa_timeout(id, now);
        }
    }

    /// Run an operator command.
    pub fn command(&mut self, now: Timestamp, cmd: Command) -> Result<Option<SaId>, CommandError> {
        self.now = self.now.max(now);
        match cmd {
            Command::Up(name) => {
                let idx = self
                    .config
                    .connections
                    .iter()
                    .position(|c| c.name == name)
                    .ok_or(CommandError::UnknownConnection(name))?;
                Ok(Some(self.initiate(idx)))
            }
            Command::Down(id) => {
                self.require_established(id)?;
                self.queue_task(id, sa::Task::DeleteIke);
                Ok(Some(id))
            }
            Command::DownChild(id, spi) => {
                let sa = self.require_established(id)?;
                if !sa.children.iter().any(|c| c.spi_in == spi) {
                    return Err(CommandError::UnknownChild(id, spi));
                }
                self.queue_task(id, sa::Task::DeleteChild(spi));
                Ok(Some(id))
            }
            Command::Dpd(id) => {
                self.require_established(id)?;
                self.queue_task(id, sa::Task::Dpd);
                Ok(Some(id))
            }
            Command::RekeyIke(id) => {
                self.require_established(id)?;
                self.queue_task(id, sa::Task::RekeyIke);
                Ok(Some(id))
            }
            Command::RekeyChild(id, spi) => {
                let sa = self.require_established(id)?;
                if !sa.children.iter().any(|c| c.spi_in == spi && !c.rekeyed) {
                    return Err(CommandError::UnknownChild(id, spi));
                }
                self.queue_task(id, sa::Task::RekeyChild(spi));
                Ok(Some(id))
            }
            Command::CreateChild(id) => {
                self.require_established(id)?;
                self.queue_task(id, sa::Task::CreateChild);
                Ok(Some(id))
            }
            Command::Probe(id) => {
                self.require_established(id)?;
                self.command_probe(id).map(|_| Some(id))
            }
            Command::Update(id) => {
                self.require_established(id)?;
                self.command_update(id).map(|_| Some(id))
            }
            Command::Move { sa, local, remote } => {
                self.require_established(sa)?;
                self.command_move(sa, local, remote).map(|_| Some(sa))
            }
            Command::NatMap(m) => {
                self.nat_map = m;
                Ok(None)
            }
            Command::NatFake(on) => {
                self.nat_fake = on;
                Ok(None)
            }
            Command::Rebind { sa, port } => {
                self.require_established(sa)?;
                if let Some(s) = self.sas.get_mut(&sa) {
                    s.path.local.set_port(port);
                }
                Ok(Some(sa))
            }
            Command::Crafted { sa, notifies } => {
                self.require_established(sa)?;
                self.command_crafted(sa, notifies).map(|_| Some(sa))
            }
            Command::Status => {
                let st = self
                    .sas
                    .values()
                    .map(|sa| sa.status(&self.config, self.now))
                    .collect();
                self.events.push_back(EngineEvent::Status(st));
                Ok(None)
            }
        }
    }

    fn require_established(&self, id: SaId) -> Result<&IkeSa, CommandError> {
        let sa = self.sas.get(&id).ok_or(CommandError::UnknownSa(id))?;
        if sa.state != IkeState::Established {
            return Err(CommandError::InvalidState(id, sa.state));
        }
        Ok(sa)
    }

    pub(crate) fn random_bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = vec![0u8; n];
        self.rng.fill(&mut v);
        v
    }

    pub(crate) fn random_spi(&mut self) -> u64 {
        loop {
            let mut b = [0u8; 8];
            self.rng.fill(&mut b);
            let spi = u64::from_be_bytes(b);
            if spi != 0 && !self.by_spi.contains_key(&spi) {
                return spi;
            }
        }
    }

    pub(crate) fn random_esp_spi(&mut self) -> u32 {
        loop {
            let mut b = [0u8; 4];
            self.rng.fill(&mut b);
            // SPIs 1..255 are reserved (RFC 4303 §2.1)
            let spi = u32::from_be_bytes(b);
            if spi > 255 {
                return spi;
            }
        }
    }

    pub(crate) fn alloc_id(&mut self) -> SaId {
        let id = SaId(self.next_id);
        self.next_id += 1;
        id
    }

    pub(crate) fn event(&mut self, e: EngineEvent) {
        self.events.push_back(e);
    }

    /// Wall-clock Unix time for certificate validity, if the caller gave one.
    pub(crate) fn unix_now(&self) -> Option<u64> {
        self.config
            .unix_time_at_epoch
            .map(|t| t.saturating_add(self.now.as_micros() / 1_000_000))
    }

    pub(crate) fn error(&mut self, sa: Option<SaId>, reason: impl Into<String>) {
        self.events.push_back(EngineEvent::Error {
            sa,
            reason: reason.into(),
        });
    }

    /// Remove an SA for good, with an `IkeDown` (and `ChildDown`s).
    pub(crate) fn destroy_sa(&mut self, id: SaId, reason: &str) {
        let Some(sa) = self.sas.remove(&id) else {
            return;
        };
        let ours = if sa.initiator { sa.spi_i } else { sa.spi_r };
        self.by_spi.remove(&ours);
        if let Some(k) = sa.init_key {
            self.by_init.remove(&k);
        }
        for c in &sa.children {
            self.events.push_back(EngineEvent::ChildDown {
                sa: id,
                spis: (c.spi_in, c.spi_out),
                reason: reason.to_string(),
            });
        }
        // A rekeyed IKE SA was retired by `Rekeyed` already.
        if sa.superseded_by.is_none() {
            self.events.push_back(EngineEvent::IkeDown {
                sa: id,
                reason: reason.to_string(),
            });
        }
    }
}

/// strongSwan-style payload summary: `SA KE No N(NATD_S_IP)`.
pub(crate) fn summarize(payloads: &[wire::Payload<'_>]) -> String {
    payloads
        .iter()
        .map(|p| match &p.body {
            wire::PayloadBody::Notify(n) => format!(
                "N({})",
                wire::registry::notify_name(n.notify_type)
                    .map(str::to_string)
                    .unwrap_or_else(|| n.notify_type.to_string())
            ),
            wire::PayloadBody::Delete(d) => format!(
                "D({})",
                wire::registry::protocol_name(d.protocol_id).unwrap_or("?")
            ),
            _ => wire::registry::payload_name(p.payload_type)
                .map(str::to_string)
                .unwrap_or_else(|| format!("UNKNOWN({})", p.payload_type)),
        })
        .collect::<Vec<_>>()
        .join(" ")
}
