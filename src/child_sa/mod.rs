//! CHILD_SA tracking and ESP decryption by SPI.
//!
//! A [`ChildSaTracker`] is fed the IKE messages of a capture in order — IKE_SA_INIT as
//! parsed, the others with their SK payload already decrypted (and SKF fragments
//! reassembled) — through [`ChildSaTracker::observe_ike`]. From them it learns:
//!
//! * the nonces of IKE_SA_INIT (Ni, Nr), used for the CHILD_SA created by IKE_AUTH;
//! * for IKE_AUTH and CREATE_CHILD_SA: the ESP proposal the responder chose (transforms and
//!   its SPI) and the initiator's SPI from the request's proposal with the same number;
//!   CREATE_CHILD_SA's own nonces; whether KE payloads were exchanged (PFS);
//!   N(REKEY_SA) links; IKE SA rekeys (the CHILD_SAs move to the new IKE SA);
//! * Delete payloads (ESP SPIs, or the whole IKE SA), which remove CHILD_SAs.
//!
//! Keys come from RFC 7296 §2.17: `KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr)`, split as
//! encryption key then integrity key for initiator→responder (the SA whose SPI the
//! *responder* chose), then the same for responder→initiator. SK_d and the PRF come from the
//! IKE SA's [`KeySet`] (strongSwan logs and the mobikectl key log carry them; Wireshark's
//! table does not). For PFS the new `g^ir` must be known: strongSwan logs it at `chd 4`
//! ([`charon::parse_child_keys`], added with [`ChildSaTracker::add_logged`]), matched to the
//! exchange by its nonces. CHILD_SA keys logged at `chd 4` are also used directly, tied to
//! the SPIs of the `established with SPIs` line, so ESP decrypts even when the IKE messages
//! cannot be.
//!
//! [`ChildSaTracker::decrypt_esp`] then finds the SA by SPI alone, so the traffic is followed
//! across MOBIKE address changes and NAT rebindings (outer endpoints change, SPIs stay);
//! [`EspDecrypted::moved_from`] reports the change. Endpoints ([`Endpoint`]) are address and
//! port for UDP- or TCP-encapsulated ESP, so a rebinding that only changes the NAT's port is
//! a move too; raw ESP has addresses only. [`inner_ip_summary`] describes the inner packet.
//!
//! ```no_run
//! # use mobikectl::child_sa::{ChildSaTracker, inner_ip_summary};
//! # use std::net::SocketAddr;
//! # fn f(tracker: &mut ChildSaTracker, src: SocketAddr, dst: SocketAddr, esp: &[u8]) {
//! // UDP-encapsulated ESP: socket addresses; raw ESP: plain `IpAddr`s.
//! match tracker.decrypt_esp(src, dst, esp) {
//!     Ok(d) => println!("{} {}", d.seq, inner_ip_summary(d.next_header, &d.inner)),
//!     Err(e) => println!("ESP: {e}"),
//! }
//! # }
//! ```
//!
//! State is bounded: at most [`ChildSaTracker::max_sas`] ESP SAs (the oldest are dropped
//! beyond that), 1024 pending requests and 4096 IKE SAs' nonces. No input panics. Keys are
//! zeroized on drop and never shown by `Debug`.

pub mod charon;
pub mod inner;

use std::collections::HashMap;
use std::fmt;

pub use crate::capture::Endpoint;
use crate::crypto::esp::{decrypt_esp, EspKeys};
use crate::crypto::{
    derive_child_sa_keys, CryptoError, EncrAlgorithm, IntegAlgorithm, Integrity, PrfAlgorithm,
};
use crate::keys::KeySet;
use crate::wire::{
    notify_type, protocol_id, Header, Payload, PayloadBody, CREATE_CHILD_SA, IKE_AUTH, IKE_SA_INIT,
    INFORMATIONAL,
};

pub use charon::{parse_child_keys, LoggedChildSa};
pub use inner::{inner_ip_summary, InnerIp, InnerTransport};

/// Identifies one CHILD_SA (the pair of ESP SAs) within a tracker.
pub type ChildSaId = u64;

/// Which way an ESP SA carries traffic, relative to the exchange that created the CHILD_SA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the exchange's initiator to its responder: the SPI the responder chose.
    InitiatorToResponder,
    /// The SPI the initiator chose.
    ResponderToInitiator,
}

/// Where an SA's keys came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// Derived from SK_d and the exchange's nonces (and `g^ir` for PFS).
    Derived { pfs: bool },
    /// Logged by strongSwan at `chd 4`.
    Logged,
}

/// Why a known SA cannot be decrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MissingKeys {
    /// The IKE SA's keys lack SK_d or the PRF (e.g. from a Wireshark table).
    NoSkD,
    /// The nonces of the creating exchange were not seen.
    NoNonces,
    /// PFS: the new Diffie-Hellman shared secret is not known.
    NoDhSecret,
    /// The chosen proposal has a transform mobikectl does not implement.
    UnsupportedTransform(String),
    /// Key derivation failed.
    Crypto(CryptoError),
}

impl fmt::Display for MissingKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MissingKeys::NoSkD => f.write_str("no SK_d/PRF for the IKE SA"),
            MissingKeys::NoNonces => f.write_str("nonces of the creating exchange not seen"),
            MissingKeys::NoDhSecret => {
                f.write_str("PFS CHILD_SA and its Diffie-Hellman secret is not in the key log")
            }
            MissingKeys::UnsupportedTransform(t) => write!(f, "unsupported transform {t}"),
            MissingKeys::Crypto(e) => write!(f, "key derivation failed: {e}"),
        }
    }
}

/// Public description of one ESP SA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EspSaInfo {
    pub spi: u32,
    /// The SPI of the other direction of the same CHILD_SA.
    pub peer_spi: u32,
    pub child: ChildSaId,
    pub direction: Direction,
    /// IKE SA (SPIi, SPIr) the CHILD_SA belongs to (0, 0 when only known from a log).
    pub ike_spis: (u64, u64),
    pub encr: EncrAlgorithm,
    pub integ: IntegAlgorithm,
    pub esn: bool,
    /// Keys: where from, or why missing.
    pub keys: Result<KeySource, MissingKeys>,
    /// The CHILD_SA this one replaced: the SPI named by N(REKEY_SA) (the rekey requester's
    /// inbound SPI of the old CHILD_SA).
    pub rekeyed: Option<u32>,
    /// Outer (source, destination) endpoints of the first and of the latest packet
    /// decrypted: addresses, and ports when the ESP was UDP- or TCP-encapsulated.
    pub first_addrs: Option<(Endpoint, Endpoint)>,
    pub last_addrs: Option<(Endpoint, Endpoint)>,
    /// Packets decrypted with integrity OK / failed.
    pub packets_ok: u64,
    pub packets_bad: u64,
}

struct EspSa {
    info: EspSaInfo,
    keys: Option<EspKeys>,
    /// High 32 bits of the extended sequence number (ESN), and the last full value seen.
    seq_high: u32,
    last_seq: u32,
    /// Creation order, for eviction.
    order: u64,
}

/// Something [`ChildSaTracker::observe_ike`] learned, for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChildSaEvent {
    /// A CHILD_SA was negotiated: `spi_i` is the initiator's inbound SPI (responder →
    /// initiator traffic), `spi_r` the responder's.
    Established {
        child: ChildSaId,
        spi_i: u32,
        spi_r: u32,
        encr: EncrAlgorithm,
        integ: IntegAlgorithm,
        pfs: bool,
        rekeyed: Option<u32>,
        keys: Result<KeySource, MissingKeys>,
    },
    /// ESP SAs removed by a Delete payload (or with their IKE SA).
    Deleted { spis: Vec<u32> },
    /// The IKE SA was rekeyed; its CHILD_SAs now belong to the new one.
    IkeRekeyed { old: (u64, u64), new: (u64, u64) },
}

/// Result of [`ChildSaTracker::decrypt_esp`].
#[derive(Clone, PartialEq, Eq)]
pub struct EspDecrypted {
    pub spi: u32,
    pub seq: u32,
    pub integrity: Integrity,
    /// Next Header (4 IPv4, 41 IPv6, 59 dummy); 0 when integrity failed.
    pub next_header: u8,
    /// The inner packet (empty when integrity failed).
    pub inner: Vec<u8>,
    pub child: ChildSaId,
    pub direction: Direction,
    /// Outer (src, dst) endpoints of the previous packet of this SA when they differ from
    /// this packet's, in address or port: the SA moved (MOBIKE, NAT rebinding, a change of
    /// encapsulation).
    pub moved_from: Option<(Endpoint, Endpoint)>,
    /// Padding was 1, 2, 3, ... (RFC 4303 §2.4).
    pub padding_ok: bool,
}

impl fmt::Debug for EspDecrypted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EspDecrypted")
            .field("spi", &format_args!("{:08x}", self.spi))
            .field("seq", &self.seq)
            .field("integrity", &self.integrity)
            .field("next_header", &self.next_header)
            .field("inner_len", &self.inner.len())
            .field("child", &self.child)
            .field("direction", &self.direction)
            .field("moved_from", &self.moved_from)
            .finish()
    }
}

/// Why an ESP packet was not decrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EspError {
    /// Shorter than SPI + sequence number.
    TooShort(usize),
    /// No CHILD_SA with this SPI is known.
    UnknownSpi(u32),
    /// The SA is known but its keys are not.
    NoKeys { spi: u32, why: MissingKeys },
    /// The packet cannot be processed (truncated, bad block length, bad padding).
    Crypto { spi: u32, error: CryptoError },
}

impl fmt::Display for EspError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EspError::TooShort(n) => write!(f, "ESP packet of {n} bytes has no SPI/sequence"),
            EspError::UnknownSpi(s) => write!(f, "no CHILD_SA known for SPI 0x{s:08x}"),
            EspError::NoKeys { spi, why } => write!(f, "SPI 0x{spi:08x}: no keys: {why}"),
            EspError::Crypto { spi, error } => write!(f, "SPI 0x{spi:08x}: {error}"),
        }
    }
}

impl std::error::Error for EspError {}

/// Metadata of a packet decrypted by [`ChildSaTracker::decrypt_esp_into`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EspInfo {
    pub spi: u32,
    pub seq: u32,
    pub integrity: Integrity,
    pub next_header: u8,
    pub child: ChildSaId,
    pub direction: Direction,
    /// See [`EspDecrypted::moved_from`].
    pub moved_from: Option<(Endpoint, Endpoint)>,
    pub padding_ok: bool,
}

/// An ESP proposal as offered or chosen.
#[derive(Debug, Clone)]
struct EspProposal {
    number: u8,
    spi: u32,
    encr: Result<EncrAlgorithm, String>,
    integ: Result<IntegAlgorithm, String>,
    esn: bool,
}

/// An IKE proposal (IKE SA rekey): number and 8-byte SPI.
#[derive(Debug, Clone, Copy)]
struct IkeProposal {
    number: u8,
    spi: u64,
}

#[derive(Default)]
struct Request {
    esp: Vec<EspProposal>,
    ike: Vec<IkeProposal>,
    nonce: Vec<u8>,
    ke: bool,
    rekey_spi: Option<u32>,
    order: u64,
}

#[derive(Default)]
struct IkeSaState {
    ni: Vec<u8>,
    nr: Vec<u8>,
    order: u64,
}

/// Learns CHILD_SAs from decrypted IKE exchanges and decrypts ESP by SPI. See the module
/// documentation.
pub struct ChildSaTracker {
    sas: HashMap<u32, EspSa>,
    /// IKE_SA_INIT requests by SPIi (nonce), until the response names SPIr.
    init_requests: HashMap<u64, (Vec<u8>, u64)>,
    ike: HashMap<(u64, u64), IkeSaState>,
    /// Pending requests by (SPIi, SPIr, message ID, request sent by the original initiator).
    pending: HashMap<(u64, u64, u32, bool), Request>,
    /// IKE_AUTH SA payloads wait per IKE SA (EAP spreads IKE_AUTH over several exchanges).
    auth_requests: HashMap<(u64, u64), Request>,
    logged: Vec<LoggedChildSa>,
    max_sas: usize,
    next_child: ChildSaId,
    counter: u64,
}

impl fmt::Debug for ChildSaTracker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildSaTracker")
            .field("sas", &self.sas.len())
            .field("ike_sas", &self.ike.len())
            .field("pending", &self.pending.len())
            .field("logged", &self.logged.len())
            .field("max_sas", &self.max_sas)
            .finish()
    }
}

impl Default for ChildSaTracker {
    fn default() -> Self {
        Self::new()
    }
}

const MAX_PENDING: usize = 1024;
const MAX_IKE: usize = 4096;

fn evict_oldest<K: Clone + Eq + std::hash::Hash, V>(
    map: &mut HashMap<K, V>,
    max: usize,
    order: impl Fn(&V) -> u64,
) {
    while map.len() > max {
        let Some(k) = map
            .iter()
            .min_by_key(|(_, v)| order(v))
            .map(|(k, _)| k.clone())
        else {
            return;
        };
        map.remove(&k);
    }
}

fn spi32(b: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(b.try_into().ok()?))
}

fn spi64(b: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(b.try_into().ok()?))
}

/// Transform types.
const T_ENCR: u8 = 1;
const T_INTEG: u8 = 3;
const T_ESN: u8 = 5;

fn read_proposals(sa: &crate::wire::Sa<'_>, req: &mut Request) {
    for p in &sa.proposals {
        match p.protocol_id {
            protocol_id::ESP => {
                let Some(spi) = spi32(&p.spi) else { continue };
                let mut encr = Err("no encryption transform".to_string());
                let mut integ = Ok(IntegAlgorithm::None);
                let mut esn = false;
                for t in &p.transforms {
                    match t.transform_type {
                        T_ENCR if encr.is_err() => {
                            encr = EncrAlgorithm::from_iana(t.transform_id, t.key_length())
                                .ok_or_else(|| {
                                    format!(
                                        "ENCR {} (key length {:?})",
                                        t.transform_id,
                                        t.key_length()
                                    )
                                });
                        }
                        T_INTEG if integ == Ok(IntegAlgorithm::None) => {
                            integ = IntegAlgorithm::from_iana(t.transform_id)
                                .ok_or_else(|| format!("INTEG {}", t.transform_id));
                        }
                        T_ESN if t.transform_id == 1 => esn = true,
                        _ => {}
                    }
                }
                req.esp.push(EspProposal {
                    number: p.number,
                    spi,
                    encr,
                    integ,
                    esn,
                });
            }
            protocol_id::IKE => {
                if let Some(spi) = spi64(&p.spi) {
                    req.ike.push(IkeProposal {
                        number: p.number,
                        spi,
                    });
                }
            }
            _ => {}
        }
    }
}

fn read_message(payloads: &[Payload<'_>]) -> Request {
    let mut r = Request::default();
    for p in payloads {
        match &p.body {
            PayloadBody::Sa(sa) => read_proposals(sa, &mut r),
            PayloadBody::Nonce(n) => r.nonce = n.to_vec(),
            PayloadBody::Ke(_) => r.ke = true,
            PayloadBody::Notify(n)
                if n.notify_type == notify_type::REKEY_SA && n.protocol_id == protocol_id::ESP =>
            {
                r.rekey_spi = spi32(&n.spi);
            }
            _ => {}
        }
    }
    r
}

impl ChildSaTracker {
    /// A tracker holding at most 4096 ESP SAs.
    pub fn new() -> Self {
        Self::with_max_sas(4096)
    }

    /// A tracker holding at most `max_sas` ESP SAs (two per CHILD_SA; at least 2).
    pub fn with_max_sas(max_sas: usize) -> Self {
        ChildSaTracker {
            sas: HashMap::new(),
            init_requests: HashMap::new(),
            ike: HashMap::new(),
            pending: HashMap::new(),
            auth_requests: HashMap::new(),
            logged: Vec::new(),
            max_sas: max_sas.max(2),
            next_child: 1,
            counter: 0,
        }
    }

    /// The ESP SA limit.
    pub fn max_sas(&self) -> usize {
        self.max_sas
    }

    /// Number of ESP SAs known (with or without keys).
    pub fn len(&self) -> usize {
        self.sas.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sas.is_empty()
    }

    /// Every ESP SA known, in no particular order.
    pub fn sas(&self) -> impl Iterator<Item = &EspSaInfo> + '_ {
        self.sas.values().map(|s| &s.info)
    }

    /// One ESP SA by SPI.
    pub fn sa(&self, spi: u32) -> Option<&EspSaInfo> {
        self.sas.get(&spi).map(|s| &s.info)
    }

    fn tick(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    /// Adds CHILD_SA keys logged by strongSwan (see [`charon`]). Those with a known role and
    /// algorithms are installed by SPI at once (replacing nothing that has keys); all of
    /// them also serve PFS exchanges as a source of `g^ir`, matched by nonces.
    pub fn add_logged(&mut self, logged: impl IntoIterator<Item = LoggedChildSa>) {
        self.add_logged_inner(logged, true);
    }

    /// Keeps only the Diffie-Hellman secrets of logged PFS CHILD_SAs (for deriving their
    /// keys from SK_d), without installing the logged keys themselves.
    pub fn add_logged_dh_secrets(&mut self, logged: impl IntoIterator<Item = LoggedChildSa>) {
        self.add_logged_inner(
            logged.into_iter().filter(|l| !l.dh_secret.is_empty()),
            false,
        );
    }

    fn add_logged_inner(&mut self, logged: impl IntoIterator<Item = LoggedChildSa>, install: bool) {
        for l in logged {
            if let (true, Some((spi_r, spi_i)), Some(encr), Some(integ)) =
                (install, l.spis_i_to_r(), l.encr, l.integ)
            {
                let have = |t: &Self, s: u32| t.sas.get(&s).is_some_and(|sa| sa.keys.is_some());
                if !have(self, spi_r) && !have(self, spi_i) {
                    let keys = (
                        EspKeys::new(encr, integ, l.encr_i.clone(), l.integ_i.clone(), l.esn),
                        EspKeys::new(encr, integ, l.encr_r.clone(), l.integ_r.clone(), l.esn),
                    );
                    if let (Ok(ki), Ok(kr)) = keys {
                        let child = self.next_child;
                        self.next_child += 1;
                        let info = EspSaInfo {
                            spi: spi_r,
                            peer_spi: spi_i,
                            child,
                            direction: Direction::InitiatorToResponder,
                            ike_spis: (0, 0),
                            encr,
                            integ,
                            esn: l.esn,
                            keys: Ok(KeySource::Logged),
                            rekeyed: None,
                            first_addrs: None,
                            last_addrs: None,
                            packets_ok: 0,
                            packets_bad: 0,
                        };
                        self.install(info, Some(ki), Some(kr));
                    }
                }
            }
            if self.logged.len() < MAX_PENDING * 4 {
                self.logged.push(l);
            }
        }
    }

    /// Installs a CHILD_SA: `info` describes the initiator→responder SA (SPI chosen by the
    /// responder); the reverse SA is derived from it.
    fn install(&mut self, info: EspSaInfo, ki: Option<EspKeys>, kr: Option<EspKeys>) {
        let order = self.tick();
        let mut rev = info.clone();
        rev.spi = info.peer_spi;
        rev.peer_spi = info.spi;
        rev.direction = Direction::ResponderToInitiator;
        for (i, k) in [(info, ki), (rev, kr)] {
            self.sas.insert(
                i.spi,
                EspSa {
                    info: i,
                    keys: k,
                    seq_high: 0,
                    last_seq: 0,
                    order,
                },
            );
        }
        evict_oldest(&mut self.sas, self.max_sas, |s| s.order);
    }

    fn logged_dh(&self, nonces: &[u8]) -> Option<&[u8]> {
        self.logged
            .iter()
            .find(|l| !l.dh_secret.is_empty() && l.nonces() == nonces)
            .map(|l| l.dh_secret.as_slice())
    }

    /// Feeds one IKE message: `header` as parsed, `payloads` the plaintext payloads
    /// (IKE_SA_INIT) or the decrypted inner payloads of the SK payload (reassembled for
    /// SKF). `keys` is the key set of the IKE SA the message belongs to (needed for
    /// CHILD_SAs: SK_d and the PRF); `None` still lets the tracker follow nonces, SPIs and
    /// Deletes.
    pub fn observe_ike(
        &mut self,
        header: &Header,
        payloads: &[Payload<'_>],
        keys: Option<&KeySet>,
    ) -> Vec<ChildSaEvent> {
        let mut events = Vec::new();
        match header.exchange_type {
            IKE_SA_INIT => self.observe_init(header, payloads),
            IKE_AUTH => self.observe_auth(header, payloads, keys, &mut events),
            CREATE_CHILD_SA => self.observe_create_child(header, payloads, keys, &mut events),
            INFORMATIONAL => self.observe_informational(header, payloads, &mut events),
            _ => {}
        }
        events
    }

    /// IKE_SA_INIT: the nonces of the new IKE SA (the request's until the response).
    fn observe_init(&mut self, header: &Header, payloads: &[Payload<'_>]) {
        let spis = (header.spi_i, header.spi_r);
        let response = header.is_response();
        let msg = read_message(payloads);
        if msg.nonce.is_empty() {
            return;
        }
        let order = self.tick();
        if !response {
            self.init_requests.insert(header.spi_i, (msg.nonce, order));
            evict_oldest(&mut self.init_requests, MAX_PENDING, |v| v.1);
        } else if header.spi_r != 0 {
            if let Some((ni, _)) = self.init_requests.remove(&header.spi_i) {
                self.ike.insert(
                    spis,
                    IkeSaState {
                        ni,
                        nr: msg.nonce,
                        order,
                    },
                );
                evict_oldest(&mut self.ike, MAX_IKE, |v| v.order);
            }
        }
    }

    /// IKE_AUTH: the CHILD SA created with the IKE SA.
    fn observe_auth(
        &mut self,
        header: &Header,
        payloads: &[Payload<'_>],
        keys: Option<&KeySet>,
        events: &mut Vec<ChildSaEvent>,
    ) {
        let spis = (header.spi_i, header.spi_r);
        let response = header.is_response();
        let msg = read_message(payloads);
        if !response {
            if !msg.esp.is_empty() {
                let mut msg = msg;
                msg.order = self.tick();
                self.auth_requests.insert(spis, msg);
                evict_oldest(&mut self.auth_requests, MAX_PENDING, |v| v.order);
            }
        } else if !msg.esp.is_empty() {
            if let Some(req) = self.auth_requests.remove(&spis) {
                let (ni, nr) = match self.ike.get(&spis) {
                    Some(s) => (s.ni.clone(), s.nr.clone()),
                    None => match keys {
                        Some(k) => (k.ni.clone(), k.nr.clone()),
                        None => (Vec::new(), Vec::new()),
                    },
                };
                self.child_from_exchange(spis, &req, &msg, &ni, &nr, false, keys, events);
            }
        }
    }

    /// CREATE_CHILD_SA: a new or rekeyed CHILD SA, or the IKE SA's new SPIs after its
    /// rekey.
    fn observe_create_child(
        &mut self,
        header: &Header,
        payloads: &[Payload<'_>],
        keys: Option<&KeySet>,
        events: &mut Vec<ChildSaEvent>,
    ) {
        let spis = (header.spi_i, header.spi_r);
        let from_orig_initiator = header.is_initiator();
        let response = header.is_response();
        let msg = read_message(payloads);
        if !response {
            let mut msg = msg;
            msg.order = self.tick();
            self.pending.insert(
                (spis.0, spis.1, header.message_id, from_orig_initiator),
                msg,
            );
            evict_oldest(&mut self.pending, MAX_PENDING, |v| v.order);
        } else if let Some(req) =
            self.pending
                .remove(&(spis.0, spis.1, header.message_id, !from_orig_initiator))
        {
            if let Some(chosen) = msg.ike.first() {
                // IKE SA rekey: SPIi from the request's proposal, SPIr from the
                // response's.
                if let Some(offer) = req.ike.iter().find(|p| p.number == chosen.number) {
                    let new = (offer.spi, chosen.spi);
                    for sa in self.sas.values_mut() {
                        if sa.info.ike_spis == spis {
                            sa.info.ike_spis = new;
                        }
                    }
                    events.push(ChildSaEvent::IkeRekeyed { old: spis, new });
                }
            } else if !msg.esp.is_empty() {
                let pfs = req.ke && msg.ke;
                let (ni, nr) = (req.nonce.clone(), msg.nonce.clone());
                self.child_from_exchange(spis, &req, &msg, &ni, &nr, pfs, keys, events);
            }
        }
    }

    /// INFORMATIONAL: Deletes of CHILD SAs, or of the IKE SA with all of its CHILD SAs.
    fn observe_informational(
        &mut self,
        header: &Header,
        payloads: &[Payload<'_>],
        events: &mut Vec<ChildSaEvent>,
    ) {
        let spis = (header.spi_i, header.spi_r);
        for p in payloads {
            let PayloadBody::Delete(d) = &p.body else {
                continue;
            };
            let mut removed = Vec::new();
            match d.protocol_id {
                protocol_id::ESP if d.spi_size == 4 => {
                    for s in d.spis().filter_map(spi32) {
                        if let Some(sa) = self.sas.remove(&s) {
                            removed.push(s);
                            if self.sas.remove(&sa.info.peer_spi).is_some() {
                                removed.push(sa.info.peer_spi);
                            }
                        }
                    }
                }
                protocol_id::IKE => {
                    let gone: Vec<u32> = self
                        .sas
                        .values()
                        .filter(|s| s.info.ike_spis == spis)
                        .map(|s| s.info.spi)
                        .collect();
                    for s in gone {
                        self.sas.remove(&s);
                        removed.push(s);
                    }
                    self.ike.remove(&spis);
                    self.auth_requests.remove(&spis);
                    self.pending.retain(|k, _| (k.0, k.1) != spis);
                }
                _ => {}
            }
            if !removed.is_empty() {
                events.push(ChildSaEvent::Deleted { spis: removed });
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn child_from_exchange(
        &mut self,
        ike_spis: (u64, u64),
        req: &Request,
        resp: &Request,
        ni: &[u8],
        nr: &[u8],
        pfs: bool,
        keys: Option<&KeySet>,
        events: &mut Vec<ChildSaEvent>,
    ) {
        let Some(chosen) = resp.esp.first() else {
            return;
        };
        let Some(offer) = req
            .esp
            .iter()
            .find(|p| p.number == chosen.number)
            .or(req.esp.first())
        else {
            return;
        };
        let (spi_i, spi_r) = (offer.spi, chosen.spi);
        let (encr, integ) = match (&chosen.encr, &chosen.integ) {
            (Ok(e), Ok(i)) => (*e, *i),
            (Err(e), _) | (_, Err(e)) => {
                let why = MissingKeys::UnsupportedTransform(e.clone());
                events.push(ChildSaEvent::Established {
                    child: 0,
                    spi_i,
                    spi_r,
                    encr: EncrAlgorithm::Null,
                    integ: IntegAlgorithm::None,
                    pfs,
                    rekeyed: req.rekey_spi,
                    keys: Err(why),
                });
                return;
            }
        };
        let derived = self.derive(keys, encr, integ, chosen.esn, pfs, ni, nr);
        // Logged keys for the same SPIs are kept when derivation is impossible.
        let existing = self
            .sas
            .get(&spi_r)
            .filter(|s| s.keys.is_some() && s.info.peer_spi == spi_i)
            .map(|s| s.info.child);
        let child = match existing {
            Some(c) if derived.is_err() => c,
            _ => {
                let c = self.next_child;
                self.next_child += 1;
                c
            }
        };
        let rekeyed = req.rekey_spi;
        let source = match &derived {
            Ok(_) => Ok(KeySource::Derived { pfs }),
            Err(_) if existing.is_some() => Ok(KeySource::Logged),
            Err(e) => Err(e.clone()),
        };
        events.push(ChildSaEvent::Established {
            child,
            spi_i,
            spi_r,
            encr,
            integ,
            pfs,
            rekeyed: req.rekey_spi,
            keys: source.clone(),
        });
        match (derived, existing) {
            (Err(_), Some(_)) => {
                // Keep the logged keys; record the IKE SA and the rekey link.
                for s in [spi_r, spi_i] {
                    if let Some(sa) = self.sas.get_mut(&s) {
                        sa.info.ike_spis = ike_spis;
                        sa.info.rekeyed = rekeyed;
                    }
                }
            }
            (derived, _) => {
                let (ki, kr) = match derived {
                    Ok((a, b)) => (Some(a), Some(b)),
                    Err(_) => (None, None),
                };
                let info = EspSaInfo {
                    spi: spi_r,
                    peer_spi: spi_i,
                    child,
                    direction: Direction::InitiatorToResponder,
                    ike_spis,
                    encr,
                    integ,
                    esn: chosen.esn,
                    keys: source,
                    rekeyed,
                    first_addrs: None,
                    last_addrs: None,
                    packets_ok: 0,
                    packets_bad: 0,
                };
                self.install(info, ki, kr);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn derive(
        &self,
        keys: Option<&KeySet>,
        encr: EncrAlgorithm,
        integ: IntegAlgorithm,
        esn: bool,
        pfs: bool,
        ni: &[u8],
        nr: &[u8],
    ) -> Result<(EspKeys, EspKeys), MissingKeys> {
        let (prf, sk_d): (PrfAlgorithm, &[u8]) = match keys {
            Some(k) if !k.sk_d.is_empty() => (k.prf.ok_or(MissingKeys::NoSkD)?, &k.sk_d),
            _ => return Err(MissingKeys::NoSkD),
        };
        if ni.is_empty() || nr.is_empty() {
            return Err(MissingKeys::NoNonces);
        }
        let g_ir = if pfs {
            let mut n = Vec::with_capacity(ni.len() + nr.len());
            n.extend_from_slice(ni);
            n.extend_from_slice(nr);
            Some(self.logged_dh(&n).ok_or(MissingKeys::NoDhSecret)?)
        } else {
            None
        };
        let k = derive_child_sa_keys(prf, sk_d, encr, integ, g_ir, ni, nr)
            .map_err(MissingKeys::Crypto)?;
        let ki = EspKeys::new(encr, integ, k.encr_i.clone(), k.integ_i.clone(), esn)
            .map_err(MissingKeys::Crypto)?;
        let kr = EspKeys::new(encr, integ, k.encr_r.clone(), k.integ_r.clone(), esn)
            .map_err(MissingKeys::Crypto)?;
        Ok((ki, kr))
    }

    /// The ESP keys of an SA (e.g. to compare with logged keys).
    pub fn esp_keys(&self, spi: u32) -> Option<&EspKeys> {
        self.sas.get(&spi)?.keys.as_ref()
    }

    /// Decrypts one ESP packet (`esp` from the SPI to the end of the ICV) from `src` to
    /// `dst`, allocating the inner packet. See [`ChildSaTracker::decrypt_esp_into`].
    pub fn decrypt_esp(
        &mut self,
        src: impl Into<Endpoint>,
        dst: impl Into<Endpoint>,
        esp: &[u8],
    ) -> Result<EspDecrypted, EspError> {
        let mut inner = Vec::new();
        let i = self.decrypt_esp_into(src, dst, esp, &mut inner)?;
        Ok(EspDecrypted {
            spi: i.spi,
            seq: i.seq,
            integrity: i.integrity,
            next_header: i.next_header,
            inner,
            child: i.child,
            direction: i.direction,
            moved_from: i.moved_from,
            padding_ok: i.padding_ok,
        })
    }

    /// Decrypts one ESP packet into `out` (cleared first; reuse it to avoid per-packet
    /// allocation). The SA is found by SPI only; the outer endpoints are recorded to report
    /// moves. `src` and `dst` are [`Endpoint`]s: a `SocketAddr` (or an `Endpoint` with a
    /// port) for UDP- or TCP-encapsulated ESP, an `IpAddr` for raw ESP; a packet whose
    /// endpoints differ from the previous verified packet's in address *or* port gets
    /// `moved_from`. Integrity failure is `Ok` with `Integrity::Bad` (and counted, and not
    /// a move); errors are for unknown SPIs, missing keys and packets that cannot be
    /// processed.
    pub fn decrypt_esp_into(
        &mut self,
        src: impl Into<Endpoint>,
        dst: impl Into<Endpoint>,
        esp: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<EspInfo, EspError> {
        let (src, dst) = (src.into(), dst.into());
        out.clear();
        let spi = esp
            .get(..4)
            .and_then(spi32)
            .ok_or(EspError::TooShort(esp.len()))?;
        let seq = esp
            .get(4..8)
            .and_then(spi32)
            .ok_or(EspError::TooShort(esp.len()))?;
        let sa = self.sas.get_mut(&spi).ok_or(EspError::UnknownSpi(spi))?;
        let Some(keys) = sa.keys.as_ref() else {
            let why = match &sa.info.keys {
                Err(w) => w.clone(),
                Ok(_) => MissingKeys::NoSkD,
            };
            return Err(EspError::NoKeys { spi, why });
        };
        // ESN: guess the high half from the last verified sequence number (RFC 4303 App. A2,
        // simplified: a wrap of the low half means the next epoch).
        let mut high = sa.seq_high;
        if keys.esn && seq < sa.last_seq && sa.last_seq - seq > 0x8000_0000 {
            high = high.wrapping_add(1);
        }
        let t =
            decrypt_esp(keys, esp, high, out).map_err(|error| EspError::Crypto { spi, error })?;
        let moved_from = match sa.info.last_addrs {
            Some(prev) if prev != (src, dst) && t.integrity == Integrity::Ok => Some(prev),
            _ => None,
        };
        if t.integrity == Integrity::Ok {
            sa.info.packets_ok += 1;
            sa.seq_high = high;
            sa.last_seq = seq;
            sa.info.first_addrs.get_or_insert((src, dst));
            sa.info.last_addrs = Some((src, dst));
        } else {
            sa.info.packets_bad += 1;
        }
        Ok(EspInfo {
            spi,
            seq,
            integrity: t.integrity,
            next_header: t.next_header,
            child: sa.info.child,
            direction: sa.info.direction,
            moved_from,
            padding_ok: t.padding_ok,
        })
    }
}
