//! IKE SA state, message protection (SK payloads), message IDs, window size 1,
//! retransmission and the response cache.

use std::collections::VecDeque;
use std::fmt;
use std::net::{IpAddr, SocketAddr};

use sha2::{Digest, Sha256};

use super::config::{Config, TsRange};
use super::proposal::{Chosen, Proposal};
use super::{
    summarize, ChildStatus, Engine, EngineEvent, MessageInfo, Path, SaId, SaStatus, Timestamp,
    Transmit,
};
use crate::crypto::dh::KeyExchange;
use crate::crypto::{decrypt_sk, encrypt_sk, ChildSaKeys, IkeSaKeys, Integrity, SkContent, SkKeys};
use crate::wire::{
    self, notify_type as nt, payload_type as pt, Header, Message, Notify, NotifyData, Payload,
    PayloadBody, FLAG_INITIATOR, FLAG_RESPONSE,
};

/// The payload of a NAT-T keepalive (RFC 3948 §2.3).
pub const KEEPALIVE: u8 = 0xff;

/// Life cycle of an IKE SA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IkeState {
    /// Initiator: IKE_SA_INIT request sent.
    InitSent,
    /// Initiator: IKE_AUTH request sent.
    AuthSent,
    /// Responder: IKE_SA_INIT answered, waiting for IKE_AUTH (half-open).
    HalfOpen,
    /// Authenticated.
    Established,
    /// Delete sent, waiting for the response.
    Deleting,
    /// Replaced by a rekey (RFC 7296 §2.18): its CHILD_SAs moved to the new IKE SA; it
    /// only answers the peer's Delete (or is dropped after a while).
    Rekeyed,
}

/// An exchange we start (window size 1: one at a time, the rest queued).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// Empty INFORMATIONAL.
    Dpd,
    /// Delete the IKE SA.
    DeleteIke,
    /// Delete the CHILD_SA with this inbound SPI.
    DeleteChild(u32),
    /// Rekey the IKE SA (CREATE_CHILD_SA, RFC 7296 §1.3.2).
    RekeyIke,
    /// Rekey the CHILD_SA with this inbound SPI (CREATE_CHILD_SA, §1.3.3).
    RekeyChild(u32),
    /// Create an additional CHILD_SA with the connection's child settings (§1.3.1).
    CreateChild,
    /// MOBIKE: the same empty INFORMATIONAL to every path of the probe (RFC 4555 §3.5).
    Probe,
    /// MOBIKE initiator: UPDATE_SA_ADDRESSES (§3.5).
    Update,
    /// MOBIKE: our address list (§3.6).
    Announce,
    /// MOBIKE responder: COOKIE2 to the initiator's new address (§3.7).
    ReturnRoutability,
    /// An INFORMATIONAL with the operator's notifies ([`super::Command::Crafted`]).
    Crafted,
    /// MOBIKE: after a lower-layer hint, a liveness check of the current path carrying
    /// COOKIE2, so that it doubles as a return routability check (RFC 4555 §3.5, §5.3).
    Check,
}

impl Task {
    /// The exchange type the task uses.
    pub fn exchange(self) -> u8 {
        match self {
            Task::Dpd
            | Task::DeleteIke
            | Task::DeleteChild(_)
            | Task::Probe
            | Task::Update
            | Task::Announce
            | Task::ReturnRoutability
            | Task::Crafted
            | Task::Check => wire::INFORMATIONAL,
            Task::RekeyIke | Task::RekeyChild(_) | Task::CreateChild => wire::CREATE_CHILD_SA,
        }
    }
}

/// What an outstanding request was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pending {
    Init,
    Auth,
    Task(Task),
}

/// Our outstanding request.
#[derive(Debug, Clone)]
pub(crate) struct Outstanding {
    pub kind: Pending,
    pub exchange: u8,
    pub message_id: u32,
    pub bytes: Vec<u8>,
    /// Retransmissions so far.
    pub retries: u32,
    pub next_at: Timestamp,
    /// First transmission.
    pub first_sent: Timestamp,
    /// MOBIKE: sent to every one of these paths (a probe), not to the SA's path.
    pub paths: Vec<Path>,
    /// Every local address a copy of it left from (RFC 4555 §3.6: an address list sent
    /// from several sources needs a follow-up, the peer may have recorded any of them).
    pub sources: Vec<IpAddr>,
}

impl Outstanding {
    pub(crate) fn sent_from(&mut self, paths: &[Path]) {
        for p in paths {
            if !self.sources.contains(&p.local.ip()) {
                self.sources.push(p.local.ip());
            }
        }
    }
}

/// An established CHILD_SA (ESP, tunnel mode).
#[derive(Clone)]
pub struct ChildSa {
    /// Our inbound SPI (chosen by us).
    pub spi_in: u32,
    /// Outbound SPI (chosen by the peer).
    pub spi_out: u32,
    /// Negotiated ESP proposal.
    pub proposal: Chosen,
    /// Our traffic selectors.
    pub ts_local: Vec<TsRange>,
    /// The peer's traffic selectors.
    pub ts_remote: Vec<TsRange>,
    /// Keys (`_i`: initiator → responder of the creating exchange). Zeroized on drop.
    pub keys: ChildSaKeys,
    /// Were we the initiator of the exchange that created it?
    pub initiator: bool,
    /// Replaced by a rekey; deleted soon (by whoever initiated the winning rekey).
    pub rekeyed: bool,
    /// Where its ESP goes: the IKE SA's path, except while a MOBIKE return routability
    /// check holds the CHILD_SAs back (RFC 4555 §3.7).
    pub path: Path,
    /// When it was installed (set where it joins its IKE SA; `status` shows its age).
    pub installed: Timestamp,
}

impl ChildSa {
    /// A CHILD_SA that an exchange negotiated, before it joins its IKE SA. `ts_i` and
    /// `ts_r` are the exchange's TSi and TSr: which of them are ours follows from
    /// `initiator`.
    pub(crate) fn new(
        initiator: bool,
        (spi_in, spi_out): (u32, u32),
        proposal: Chosen,
        (ts_i, ts_r): (Vec<TsRange>, Vec<TsRange>),
        keys: ChildSaKeys,
        path: Path,
    ) -> Self {
        let (ts_local, ts_remote) = if initiator {
            (ts_i, ts_r)
        } else {
            (ts_r, ts_i)
        };
        ChildSa {
            spi_in,
            spi_out,
            proposal,
            ts_local,
            ts_remote,
            keys,
            initiator,
            rekeyed: false,
            path,
            installed: Timestamp::default(),
        }
    }

    /// The same CHILD_SA, stamped with when it joins its IKE SA.
    pub(crate) fn installed_at(self, now: Timestamp) -> Self {
        ChildSa {
            installed: now,
            ..self
        }
    }

    /// (encryption key, integrity key) protecting what we send.
    pub fn outbound_keys(&self) -> (&[u8], &[u8]) {
        if self.initiator {
            (&self.keys.encr_i, &self.keys.integ_i)
        } else {
            (&self.keys.encr_r, &self.keys.integ_r)
        }
    }

    /// (encryption key, integrity key) protecting what we receive.
    pub fn inbound_keys(&self) -> (&[u8], &[u8]) {
        if self.initiator {
            (&self.keys.encr_r, &self.keys.integ_r)
        } else {
            (&self.keys.encr_i, &self.keys.integ_i)
        }
    }
}

impl fmt::Debug for ChildSa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildSa")
            .field("spi_in", &format_args!("{:08x}", self.spi_in))
            .field("spi_out", &format_args!("{:08x}", self.spi_out))
            .field("proposal", &self.proposal)
            .field("ts_local", &self.ts_local)
            .field("ts_remote", &self.ts_remote)
            .field("keys", &self.keys)
            .field("rekeyed", &self.rekeyed)
            .field("path", &self.path)
            .finish()
    }
}

/// A CREATE_CHILD_SA exchange we initiated, until its response.
#[derive(Debug)]
pub(crate) struct ExchangeInit {
    /// What it is for (`RekeyIke`, `RekeyChild`, `CreateChild`).
    pub task: Task,
    /// Our nonce.
    pub ni: Vec<u8>,
    /// Our key exchange (IKE rekey; CHILD_SA with PFS).
    pub kx: Option<KeyExchange>,
    /// Our new SPI: the IKE SPI (IKE rekey) or inbound ESP SPI (CHILD_SA).
    pub spi: u64,
    /// Proposed traffic selectors (CHILD_SA).
    pub ts_i: Vec<TsRange>,
    pub ts_r: Vec<TsRange>,
    /// CHILD_SA rekey: (inbound, outbound) SPIs of the old CHILD_SA.
    pub old_spis: Option<(u32, u32)>,
    /// INVALID_KE_PAYLOAD retries so far.
    pub ke_retries: u32,
    /// The peer rekeyed the same SA while this was outstanding (§2.25).
    pub collision: Option<Collision>,
}

/// A simultaneous rekey (RFC 7296 §2.8.1, §2.25): what answering the peer's request
/// created, and the nonces of that exchange.
#[derive(Debug, Clone)]
pub(crate) struct Collision {
    /// The peer's CHILD_SA (our inbound SPI) or IKE SA (its handle).
    pub created: CollisionSa,
    /// Nonces of the peer's exchange (its Ni, our Nr).
    pub ni: Vec<u8>,
    pub nr: Vec<u8>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum CollisionSa {
    Child(u32),
    Ike(SaId),
}

/// Initiator's CHILD_SA request carried in IKE_AUTH, until the response arrives.
#[derive(Debug, Clone)]
pub(crate) struct ChildRequest {
    pub spi_in: u32,
    pub ts_i: Vec<TsRange>,
    pub ts_r: Vec<TsRange>,
}

/// One IKE SA. Key material is zeroized on drop (the key types do it) and not shown by
/// `Debug`.
pub struct IkeSa {
    /// Engine handle.
    pub id: SaId,
    /// Index of the connection in [`Config::connections`].
    pub conn: usize,
    /// Are we the original initiator?
    pub initiator: bool,
    /// SPIs.
    pub spi_i: u64,
    /// SPIs (0 until the IKE_SA_INIT response).
    pub spi_r: u64,
    /// State.
    pub state: IkeState,
    /// Current path of the IKE SA.
    pub path: Path,
    /// Our known addresses (MOBIKE will add to this).
    pub local_addrs: Vec<IpAddr>,
    /// The peer's known addresses (MOBIKE: ADDITIONAL_*_ADDRESS).
    pub remote_addrs: Vec<IpAddr>,
    /// NAT detected in front of us.
    pub nat_local: bool,
    /// NAT detected in front of the peer.
    pub nat_remote: bool,
    /// The peer sent MOBIKE_SUPPORTED.
    pub peer_mobike: bool,
    /// Negotiated IKE proposal.
    pub proposal: Option<Chosen>,
    /// Nonces.
    pub ni: Vec<u8>,
    /// Nonces.
    pub nr: Vec<u8>,
    /// All IKE SA keys (after IKE_SA_INIT).
    pub keys: Option<IkeSaKeys>,
    /// SK payload keys (derived from `keys`).
    pub sk: Option<SkKeys>,
    /// The peer's authenticated identity.
    pub peer_id: Option<super::Identity>,
    /// Virtual IP (assigned to us as initiator, or by us as responder).
    pub vip: Option<IpAddr>,
    /// CHILD_SAs.
    pub children: Vec<ChildSa>,
    pub(crate) kx: Option<KeyExchange>,
    pub(crate) ike_proposals: Vec<Proposal>,
    pub(crate) init_request: Vec<u8>,
    /// Initiator: the address pairs IKE_SA_INIT may use (RFC 4555 §3.1), and the request
    /// as sent on each (NAT detection differs per pair).
    pub(crate) init_pairs: Vec<Path>,
    pub(crate) init_sent: Vec<(Path, Vec<u8>)>,
    pub(crate) init_summary: String,
    /// Initiator: fresh starts so far after UNEXPECTED_NAT_DETECTED in IKE_AUTH.
    pub(crate) nat_restarts: u8,
    pub(crate) init_response: Vec<u8>,
    pub(crate) cookie: Option<Vec<u8>>,
    pub(crate) init_retries: u32,
    pub(crate) init_key: Option<(SocketAddr, u64)>,
    pub(crate) next_msg_id: u32,
    pub(crate) peer_msg_id: u32,
    pub(crate) outstanding: Option<Outstanding>,
    pub(crate) queue: VecDeque<Task>,
    /// (message ID, SHA-256 of the request, response datagrams)
    pub(crate) last_response: Option<(u32, [u8; 32], Vec<Vec<u8>>)>,
    pub(crate) child_request: Option<ChildRequest>,
    pub(crate) created: Timestamp,
    /// Our outstanding CREATE_CHILD_SA exchange.
    pub(crate) exchange: Option<ExchangeInit>,
    /// Replaced by this IKE SA (rekeyed): goes away without `IkeDown`.
    pub(crate) superseded_by: Option<SaId>,
    /// When we last sent something for this SA (NAT-T keepalives are due after
    /// [`Config::keepalive`] of silence).
    pub(crate) last_out: Timestamp,
    /// When the peer's last authenticated message arrived (dead peer detection).
    pub(crate) last_in: Timestamp,
    /// We initiated the first IKE SA of this chain: MOBIKE's initiator role survives
    /// IKE SA rekeys by either side (RFC 4555 §3.5, as strongSwan does).
    pub original_initiator: bool,
    /// MOBIKE state.
    pub mobike: super::mobike::MobikeState,
    /// Typed timers (DPD and MOBIKE).
    pub(crate) timers: super::timer::TimerTable,
    /// When it was established (IKE_AUTH done, or created by a rekey).
    pub(crate) established: Option<Timestamp>,
}

impl fmt::Debug for IkeSa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IkeSa")
            .field("id", &self.id)
            .field("initiator", &self.initiator)
            .field("spi_i", &format_args!("{:016x}", self.spi_i))
            .field("spi_r", &format_args!("{:016x}", self.spi_r))
            .field("state", &self.state)
            .field("path", &self.path)
            .field("proposal", &self.proposal)
            .field("keys", &self.keys)
            .field("children", &self.children)
            .finish_non_exhaustive()
    }
}

impl IkeSa {
    pub(crate) fn new(id: SaId, conn: usize, initiator: bool, path: Path, now: Timestamp) -> IkeSa {
        IkeSa {
            id,
            conn,
            initiator,
            spi_i: 0,
            spi_r: 0,
            state: if initiator {
                IkeState::InitSent
            } else {
                IkeState::HalfOpen
            },
            path,
            local_addrs: vec![path.local.ip()],
            remote_addrs: vec![path.remote.ip()],
            nat_local: false,
            nat_remote: false,
            peer_mobike: false,
            proposal: None,
            ni: vec![],
            nr: vec![],
            keys: None,
            sk: None,
            peer_id: None,
            vip: None,
            children: vec![],
            kx: None,
            ike_proposals: vec![],
            init_request: vec![],
            init_pairs: vec![],
            init_sent: vec![],
            init_summary: String::new(),
            nat_restarts: 0,
            init_response: vec![],
            cookie: None,
            init_retries: 0,
            init_key: None,
            next_msg_id: 0,
            peer_msg_id: 0,
            outstanding: None,
            queue: VecDeque::new(),
            last_response: None,
            child_request: None,
            created: now,
            exchange: None,
            superseded_by: None,
            last_out: now,
            last_in: now,
            original_initiator: initiator,
            mobike: Default::default(),
            timers: Default::default(),
            established: None,
        }
    }

    /// When the next NAT-T keepalive is due (RFC 3948 §2.3): established, a NAT in front
    /// of us, keepalives enabled (`interval` > 0).
    pub(crate) fn keepalive_due(&self, interval: std::time::Duration) -> Option<Timestamp> {
        (self.state == IkeState::Established && self.nat_local && !interval.is_zero())
            .then(|| self.last_out + interval)
    }

    pub(crate) fn next_timer(&self, config: &Config) -> Option<Timestamp> {
        let half_open_timeout = config.half_open_timeout;
        let half_open =
            (self.state == IkeState::HalfOpen).then(|| self.created + half_open_timeout);
        [
            self.outstanding.as_ref().map(|o| o.next_at),
            half_open,
            self.keepalive_due(config.keepalive),
            self.timers.next(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub(crate) fn status(&self, config: &Config, now: Timestamp) -> SaStatus {
        use super::timer::Timer;
        SaStatus {
            sa: self.id,
            conn: config
                .connections
                .get(self.conn)
                .map(|c| c.name.clone())
                .unwrap_or_default(),
            state: self.state,
            spi_i: self.spi_i,
            spi_r: self.spi_r,
            path: self.path,
            proposal: self.proposal,
            children: self
                .children
                .iter()
                .map(|c| ChildStatus {
                    spi_in: c.spi_in,
                    spi_out: c.spi_out,
                    ts_local: c.ts_local.clone(),
                    ts_remote: c.ts_remote.clone(),
                    proposal: c.proposal,
                    installed: c.installed,
                    rekey_at: self.timers.get(Timer::RekeyChild(c.spi_in)),
                    rekeyed: c.rekeyed,
                })
                .collect(),
            mobike: self.peer_mobike,
            local_addrs: self.local_addrs.clone(),
            remote_addrs: self.remote_addrs.clone(),
            mobike_state: self.mobike.activity(),
            nat_local: self.nat_local,
            nat_remote: self.nat_remote,
            initiator: self.initiator,
            now,
            established: self.established,
            rekey_at: self.timers.get(Timer::RekeyIke),
            expire_at: self.timers.get(Timer::Expire),
            next_mid: self.next_msg_id,
            peer_mid: self.peer_msg_id,
            outstanding_mid: self.outstanding_request_id(),
            vip: self.vip,
            peer_id: self.peer_id.as_ref().map(ToString::to_string),
        }
    }

    fn header(&self, exchange: u8, message_id: u32, response: bool) -> Header {
        Header {
            spi_i: self.spi_i,
            spi_r: self.spi_r,
            next_payload: 0,
            version: 0x20,
            exchange_type: exchange,
            flags: if self.initiator { FLAG_INITIATOR } else { 0 }
                | if response { FLAG_RESPONSE } else { 0 },
            message_id,
            length: 0,
        }
    }

    /// The message ID the peer's next request must have (window size 1).
    pub fn expected_request_id(&self) -> u32 {
        self.peer_msg_id
    }

    /// The message ID of our request waiting for its response, if any.
    pub fn outstanding_request_id(&self) -> Option<u32> {
        self.outstanding.as_ref().map(|o| o.message_id)
    }

    /// Is the path floated: does our side use the NAT-T port `nat_t_port`?
    pub fn uses_nat_t(&self, nat_t_port: u16) -> bool {
        self.path.local.port() == nat_t_port
    }
}

/// A request about to be sent ([`Engine::send_request_on`]).
pub(crate) struct NewRequest {
    pub kind: Pending,
    pub exchange: u8,
    pub message_id: u32,
    pub summary: String,
    /// Empty: the SA's path.
    pub paths: Vec<Path>,
    pub crafted: bool,
}

/// A protected request being answered.
#[derive(Clone, Copy)]
pub(crate) struct RequestFrom<'r> {
    pub id: SaId,
    pub path: Path,
    pub exchange: u8,
    pub mid: u32,
    /// Its bytes, to recognize a retransmission of it.
    pub request: &'r [u8],
}

/// The decrypted content of a protected message.
pub(crate) struct Opened {
    pub header: Header,
    pub payloads: Vec<Payload<'static>>,
}

/// Why a protected message could not be opened.
pub(crate) enum OpenError {
    /// ICV / tag mismatch, or no keys: drop silently.
    Integrity,
    /// Not an SK message, or undecryptable structure: drop.
    Structure,
    /// Authenticated but the inner payloads do not parse: INVALID_SYNTAX for requests.
    Syntax,
}

impl Engine {
    /// Encrypt `payloads` into an SK message of SA `id`.
    pub(crate) fn protect(
        &mut self,
        id: SaId,
        exchange: u8,
        message_id: u32,
        response: bool,
        payloads: &[Payload<'_>],
    ) -> Option<Vec<u8>> {
        let sa = self.sas.get(&id)?;
        let sk = sa.sk.clone()?;
        let mut h = sa.header(exchange, message_id, response);
        h.next_payload = pt::SK;
        let initiator = sa.initiator;
        let mut prefix = Vec::with_capacity(28);
        h.emit_into(&mut prefix);
        let mut plain = Vec::new();
        wire::emit_payload_chain(payloads, &mut plain);
        let iv = self.random_bytes(sk.encr.iv_len());
        let content = SkContent {
            next_payload: payloads.first().map_or(0, |p| p.payload_type),
            payloads: &plain,
            fragment: None,
            extra_pad_blocks: 0,
        };
        match encrypt_sk(&sk, initiator, &prefix, &content, &iv) {
            Ok(m) => Some(m),
            Err(e) => {
                self.error(Some(id), format!("cannot protect message: {e}"));
                None
            }
        }
    }

    /// Verify and decrypt a protected message of SA `id`.
    pub(crate) fn open(
        &mut self,
        id: SaId,
        msg: &Message<'_>,
        bytes: &[u8],
    ) -> Result<Opened, OpenError> {
        let Some(sk) = self.sas.get(&id).and_then(|s| s.sk.clone()) else {
            return Err(OpenError::Integrity);
        };
        let Some(skp) = msg.payloads.last() else {
            return Err(OpenError::Structure);
        };
        if skp.payload_type != pt::SK || msg.payloads.len() != 1 {
            return Err(OpenError::Structure);
        }
        let dec = match decrypt_sk(&sk, msg.header.is_initiator(), bytes, skp.offset) {
            Ok(d) => d,
            Err(_) => {
                self.stats.malformed += 1;
                return Err(OpenError::Structure);
            }
        };
        if dec.integrity != Integrity::Ok {
            self.stats.icv_failures += 1;
            return Err(OpenError::Integrity);
        }
        match wire::parse_payload_chain(dec.next_payload, &dec.plaintext, 0) {
            Ok((payloads, _rest)) => Ok(Opened {
                header: msg.header,
                payloads: payloads.into_iter().map(Payload::into_owned).collect(),
            }),
            Err(_) => Err(OpenError::Syntax),
        }
    }

    pub(crate) fn transmit(&mut self, path: Path, bytes: Vec<u8>) {
        // The marker belongs to NAT-T port flows (RFC 3948 §2.2): from our NAT-T port, or
        // to the peer's (after a rebinding our source port is another one); a response
        // from port 500 to a NAT-translated source port has none.
        let to_peer_natt = self
            .config
            .connections
            .iter()
            .any(|c| c.remote_nat_t_port == path.remote.port());
        let non_esp_marker = path.local.port() == self.config.nat_t_port || to_peer_natt;
        self.transmits.push_back(Transmit {
            path,
            bytes,
            non_esp_marker,
            esp: false,
        });
    }

    /// Send a new request (already built) of SA `id` and start its retransmission timer.
    pub(crate) fn send_request(
        &mut self,
        id: SaId,
        kind: Pending,
        exchange: u8,
        message_id: u32,
        bytes: Vec<u8>,
        summary: String,
    ) {
        let request = NewRequest {
            kind,
            exchange,
            message_id,
            summary,
            paths: Vec::new(),
            crafted: false,
        };
        self.send_request_on(id, request, bytes);
    }

    /// Send a new request on the SA's path, or to every path of `request.paths` (a
    /// MOBIKE probe or return routability check), and start its retransmission timer.
    pub(crate) fn send_request_on(&mut self, id: SaId, request: NewRequest, bytes: Vec<u8>) {
        let now = self.now;
        let delay = if request.paths.is_empty() {
            self.config.retransmit.delay(0)
        } else {
            self.config.mobike.probe_timeout
        };
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        let paths = if request.paths.is_empty() {
            vec![sa.path]
        } else {
            request.paths.clone()
        };
        sa.last_out = now;
        let mut o = Outstanding {
            kind: request.kind,
            exchange: request.exchange,
            message_id: request.message_id,
            bytes: bytes.clone(),
            retries: 0,
            next_at: now + delay,
            first_sent: now,
            paths: request.paths,
            sources: vec![],
        };
        o.sent_from(&paths);
        sa.outstanding = Some(o);
        for path in paths {
            self.transmit(path, bytes.clone());
            self.event(EngineEvent::Sent {
                sa: Some(id),
                info: MessageInfo {
                    exchange: request.exchange,
                    message_id: request.message_id,
                    response: false,
                    payloads: request.summary.clone(),
                    path,
                    crafted: request.crafted,
                },
            });
        }
    }

    /// Send a response on the path the request came in on, and cache it for
    /// retransmitted requests.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn send_response(
        &mut self,
        id: Option<SaId>,
        path: Path,
        exchange: u8,
        message_id: u32,
        bytes: Vec<u8>,
        request: &[u8],
        summary: String,
    ) {
        if let Some(sa) = id.and_then(|id| self.sas.get_mut(&id)) {
            sa.last_out = self.now;
            let hash: [u8; 32] = Sha256::digest(request).into();
            sa.last_response = Some((message_id, hash, vec![bytes.clone()]));
        }
        self.transmit(path, bytes);
        self.event(EngineEvent::Sent {
            sa: id,
            info: MessageInfo {
                exchange,
                message_id,
                response: true,
                payloads: summary,
                path,
                crafted: false,
            },
        });
    }

    /// Answer a protected request with `payloads`.
    pub(crate) fn answer(&mut self, from: RequestFrom<'_>, payloads: &[Payload<'_>]) {
        self.respond_protected(
            from.id,
            from.path,
            from.exchange,
            from.mid,
            payloads,
            from.request,
        );
    }

    /// Build and send a protected response.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn respond_protected(
        &mut self,
        id: SaId,
        path: Path,
        exchange: u8,
        message_id: u32,
        payloads: &[Payload<'_>],
        request: &[u8],
    ) {
        if let Some(bytes) = self.protect(id, exchange, message_id, true, payloads) {
            let summary = format!("SK{{{}}}", summarize(payloads));
            self.send_response(
                Some(id),
                path,
                exchange,
                message_id,
                bytes,
                request,
                summary,
            );
        }
    }

    /// Start a new request of ours: allocates the message ID.
    pub(crate) fn start_request(
        &mut self,
        id: SaId,
        kind: Pending,
        exchange: u8,
        payloads: &[Payload<'_>],
    ) {
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        let mid = sa.next_msg_id;
        sa.next_msg_id = sa.next_msg_id.wrapping_add(1);
        if let Some(bytes) = self.protect(id, exchange, mid, false, payloads) {
            let summary = format!("SK{{{}}}", summarize(payloads));
            self.send_request(id, kind, exchange, mid, bytes, summary);
        }
    }

    pub(crate) fn queue_task(&mut self, id: SaId, task: Task) {
        if let Some(sa) = self.sas.get_mut(&id) {
            let running = sa.outstanding.as_ref().map(|o| o.kind) == Some(Pending::Task(task));
            // Rekeys and deletes are idempotent: never queue one twice.
            if task == Task::Dpd || !(running || sa.queue.contains(&task)) {
                sa.queue.push_back(task);
            }
        }
        self.start_queued(id);
    }

    /// Queue a task ahead of the others (the Delete that completes a rekey).
    pub(crate) fn queue_task_first(&mut self, id: SaId, task: Task) {
        if let Some(sa) = self.sas.get_mut(&id) {
            sa.queue.retain(|t| *t != task);
            sa.queue.push_front(task);
        }
        self.start_queued(id);
    }

    /// Window size 1: start the next queued exchange if nothing is outstanding. Tasks
    /// that have become pointless (their CHILD_SA is gone) are skipped.
    pub(crate) fn start_queued(&mut self, id: SaId) {
        loop {
            let Some(sa) = self.sas.get_mut(&id) else {
                return;
            };
            if sa.outstanding.is_some() || sa.state != IkeState::Established {
                return;
            }
            let Some(task) = sa.queue.pop_front() else {
                return;
            };
            self.start_task(id, task);
        }
    }

    /// Rekey timers of the IKE SA and its CHILD_SAs (queued like operator commands).
    /// Send a NAT-T keepalive if one is due: a single 0xFF byte, without the non-ESP
    /// marker, on the SA's (floated) path (RFC 3948 §2.3).
    fn keepalive_timer(&mut self, id: SaId, now: Timestamp) {
        let interval = self.config.keepalive;
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        if sa.keepalive_due(interval).is_none_or(|t| t > now) {
            return;
        }
        sa.last_out = now;
        let path = sa.path;
        self.transmits.push_back(Transmit {
            path,
            bytes: vec![KEEPALIVE],
            non_esp_marker: false,
            esp: false,
        });
    }

    pub(crate) fn sa_timeout(&mut self, id: SaId, now: Timestamp) {
        let tries = self.config.retransmit.tries;
        let half_open_timeout = self.config.half_open_timeout;
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        if sa.state == IkeState::HalfOpen && sa.created + half_open_timeout <= now {
            self.destroy_sa(id, "half-open IKE SA timed out (no IKE_AUTH)");
            return;
        }
        self.keepalive_timer(id, now);
        self.sa_typed_timers(id, now);
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        let Some(o) = sa.outstanding.as_mut() else {
            return;
        };
        if o.next_at > now {
            return;
        }
        if !o.paths.is_empty() {
            self.retransmit_probe(id, now);
            return;
        }
        if self.path_failing(id) {
            return;
        }
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        let Some(o) = sa.outstanding.as_mut() else {
            return;
        };
        // A MOBIKE responder waits longer for an initiator that may be moving (RFC 4555
        // §3.11): it keeps retransmitting at the last interval.
        let hold = sa.peer_mobike
            && !sa.original_initiator
            && sa.state == IkeState::Established
            && now < o.first_sent + self.config.mobike.responder_hold;
        if o.retries >= tries && !hold {
            let (exchange, message_id, kind) = (o.exchange, o.message_id, o.kind);
            sa.outstanding = None;
            self.event(EngineEvent::Timeout {
                sa: id,
                exchange,
                message_id,
            });
            let what = wire::registry::exchange_name(exchange).unwrap_or("?");
            let reason = match kind {
                Pending::Task(Task::DeleteIke) => "deleted (peer did not answer the Delete)".into(),
                _ => format!(
                    "timeout: no response to {what} request {message_id} after {tries} retransmissions"
                ),
            };
            self.destroy_sa(id, &reason);
            return;
        }
        o.retries += 1;
        o.next_at = now + self.config.retransmit.delay(o.retries.min(tries));
        if o.kind == Pending::Init {
            self.next_init_pair(id);
        }
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        let Some(o) = sa.outstanding.as_mut() else {
            return;
        };
        let (bytes, exchange, message_id, attempt) =
            (o.bytes.clone(), o.exchange, o.message_id, o.retries);
        let path = sa.path;
        o.sent_from(&[path]);
        sa.last_out = now;
        self.transmit(path, bytes);
        self.event(EngineEvent::Retransmit {
            sa: id,
            exchange,
            message_id,
            attempt,
        });
    }

    /// A protected request from the peer.
    pub(crate) fn handle_request(&mut self, id: SaId, path: Path, msg: &Message<'_>, bytes: &[u8]) {
        let Some(sa) = self.sas.get(&id) else {
            return;
        };
        let mid = msg.header.message_id;
        // Retransmitted request: replay the cached response.
        if mid.wrapping_add(1) == sa.peer_msg_id {
            if let Some((cmid, hash, resp)) = sa.last_response.clone() {
                if cmid == mid {
                    let same: [u8; 32] = Sha256::digest(bytes).into();
                    let authentic = same == hash || self.open(id, msg, bytes).is_ok();
                    if authentic {
                        self.stats.cached_responses += 1;
                        // on the path this copy came in on (RFC 4555 §3.5)
                        for r in resp {
                            self.transmit(path, r);
                        }
                    }
                    return;
                }
            }
            self.stats.bad_message_id += 1;
            return;
        }
        if mid != sa.peer_msg_id {
            self.stats.bad_message_id += 1;
            return;
        }
        let opened = match self.open(id, msg, bytes) {
            Ok(o) => o,
            Err(OpenError::Syntax) => {
                // authenticated but malformed inside: RFC 7296 §2.21.
                self.bump_peer_msg_id(id);
                let n = notify(nt::INVALID_SYNTAX);
                self.respond_protected(id, path, msg.header.exchange_type, mid, &[n], bytes);
                self.event_received_raw(id, path, msg, "SK{<malformed>}");
                if self
                    .sas
                    .get(&id)
                    .is_some_and(|s| s.state == IkeState::HalfOpen)
                {
                    self.destroy_sa(id, "INVALID_SYNTAX in IKE_AUTH request");
                }
                return;
            }
            Err(_) => return,
        };
        self.bump_peer_msg_id(id);
        let now = self.now;
        if let Some(sa) = self.sas.get_mut(&id) {
            sa.last_in = now;
        }
        let summary = format!("SK{{{}}}", summarize(&opened.payloads));
        self.event_received_raw(id, path, msg, &summary);
        // Unknown critical payloads: UNSUPPORTED_CRITICAL_PAYLOAD (RFC 7296 §2.5).
        if let Some(p) = opened.payloads.iter().find(|p| p.unknown_critical()) {
            let n = Payload::new(
                pt::NOTIFY,
                PayloadBody::Notify(Notify::new(
                    nt::UNSUPPORTED_CRITICAL_PAYLOAD,
                    NotifyData::PayloadType(p.payload_type),
                )),
            );
            self.respond_protected(id, path, msg.header.exchange_type, mid, &[n], bytes);
            return;
        }
        match msg.header.exchange_type {
            wire::IKE_AUTH => self.ike_auth_request(id, path, opened, bytes),
            wire::INFORMATIONAL => self.informational_request(id, path, opened, bytes),
            wire::CREATE_CHILD_SA => self.create_child_request(id, path, opened, bytes),
            _ => {
                self.stats.dropped += 1;
            }
        }
    }

    fn bump_peer_msg_id(&mut self, id: SaId) {
        if let Some(sa) = self.sas.get_mut(&id) {
            sa.peer_msg_id = sa.peer_msg_id.wrapping_add(1);
        }
    }

    pub(crate) fn event_received_raw(
        &mut self,
        id: SaId,
        path: Path,
        msg: &Message<'_>,
        summary: &str,
    ) {
        self.event(EngineEvent::Received {
            sa: Some(id),
            info: MessageInfo {
                exchange: msg.header.exchange_type,
                message_id: msg.header.message_id,
                response: msg.header.is_response(),
                payloads: summary.to_string(),
                path,
                crafted: false,
            },
        });
    }

    /// A protected response from the peer.
    pub(crate) fn handle_response(
        &mut self,
        id: SaId,
        path: Path,
        msg: &Message<'_>,
        bytes: &[u8],
    ) {
        let Some(sa) = self.sas.get(&id) else {
            return;
        };
        let current = sa
            .outstanding
            .as_ref()
            .filter(|o| {
                o.message_id == msg.header.message_id && o.exchange == msg.header.exchange_type
            })
            .map(|o| (o.kind, !o.paths.is_empty()));
        let Some((kind, probing)) = current else {
            // the answer on another path to a probe already answered: only reported
            if !self.late_probe_answer(id, path, msg, bytes) {
                self.stats.bad_message_id += 1;
            }
            return;
        };
        let opened = match self.open(id, msg, bytes) {
            Ok(o) => o,
            Err(OpenError::Syntax) => {
                if let Some(sa) = self.sas.get_mut(&id) {
                    sa.outstanding = None;
                }
                self.error(Some(id), "malformed protected response");
                self.destroy_sa(id, "malformed response (INVALID_SYNTAX)");
                return;
            }
            Err(_) => return,
        };
        let now = self.now;
        let mut spread = false;
        if let Some(sa) = self.sas.get_mut(&id) {
            spread = sa.outstanding.take().is_some_and(|o| o.sources.len() > 1);
            sa.last_in = now;
        }
        let summary = format!("SK{{{}}}", summarize(&opened.payloads));
        self.event_received_raw(id, path, msg, &summary);
        // a probe's answer moves the SA first, so that what the response starts goes
        // out on the new path; the UPDATE comes after it
        let moved = if probing {
            self.probe_answered(id, path, kind)
        } else {
            None
        };
        match kind {
            Pending::Auth => self.ike_auth_response(id, path, opened),
            Pending::Task(t) if t.exchange() == wire::CREATE_CHILD_SA => {
                self.create_child_response(id, t, opened)
            }
            Pending::Task(t) => self.informational_response(id, t, path, opened),
            Pending::Init => {}
        }
        if let Some(trigger) = moved {
            self.after_probe_move(id, trigger);
        }
        if spread {
            self.list_follow_up(id, kind);
        }
    }
}

/// A Notify payload without data about the IKE SA.
pub(crate) fn notify(t: u16) -> Payload<'static> {
    Payload::new(
        pt::NOTIFY,
        PayloadBody::Notify(Notify::new(
            t,
            if t < 16384 {
                NotifyData::Raw(Default::default())
            } else {
                NotifyData::Empty
            },
        )),
    )
}

/// First notify of type `t`.
pub(crate) fn find_notify<'a, 'b>(payloads: &'a [Payload<'b>], t: u16) -> Option<&'a Notify<'b>> {
    payloads
        .iter()
        .filter_map(|p| p.as_notify())
        .find(|n| n.notify_type == t)
}

/// First error notify (type < 16384).
pub(crate) fn first_error<'a, 'b>(payloads: &'a [Payload<'b>]) -> Option<&'a Notify<'b>> {
    payloads
        .iter()
        .filter_map(|p| p.as_notify())
        .find(|n| n.is_error())
}

/// Name of a notify type for messages.
pub(crate) fn notify_name(t: u16) -> String {
    wire::registry::notify_name(t)
        .map(str::to_string)
        .unwrap_or_else(|| format!("notify {t}"))
}
