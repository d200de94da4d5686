//! IKE_SA_INIT (RFC 7296 §1.2): SA, KE, Nonce, NAT detection, INVALID_KE_PAYLOAD retry,
//! COOKIE (§2.6) in both roles, key derivation, and floating to port 4500 (§2.23,
//! RFC 4555 §3.2) before IKE_AUTH.

use std::borrow::Cow;
use std::net::SocketAddr;

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::natd;
use super::proposal::{self, Chosen};
use super::sa::{find_notify, first_error, notify, notify_name, IkeSa, IkeState, Pending};
use super::{summarize, Engine, EngineEvent, MessageInfo, Path, SaId};
use crate::crypto::dh::{DhGroup, KeyExchange};
use crate::crypto::{derive_ike_sa_keys, skeyseed_initial, IkeTransforms};
use crate::wire::{
    self, notify_type as nt, payload_type as pt, Header, Ke, Message, Notify, NotifyData, Payload,
    PayloadBody, FLAG_INITIATOR, FLAG_RESPONSE,
};

/// A key exchange's shared secret `g^ir`.
type SharedSecret = Zeroizing<Vec<u8>>;

/// Cookie format: 4-byte version of the secret | SHA-256(Ni | IPi | SPIi | secret).
const COOKIE_VERSION: u32 = 1;

fn ip_bytes(a: SocketAddr) -> Vec<u8> {
    match a.ip() {
        std::net::IpAddr::V4(a) => a.octets().to_vec(),
        std::net::IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// The SA, KE and Nonce payloads of an IKE_SA_INIT message (the first of each).
fn init_payloads<'m, 'a>(
    payloads: &'m [Payload<'a>],
) -> Option<(&'m wire::Sa<'a>, &'m Ke<'a>, &'m Cow<'a, [u8]>)> {
    let mut sa_p = None;
    let mut ke = None;
    let mut nonce = None;
    for p in payloads {
        match &p.body {
            PayloadBody::Sa(s) if sa_p.is_none() => sa_p = Some(s),
            PayloadBody::Ke(k) if ke.is_none() => ke = Some(k),
            PayloadBody::Nonce(n) if nonce.is_none() => nonce = Some(n),
            _ => {}
        }
    }
    Some((sa_p?, ke?, nonce?))
}

impl Engine {
    pub(crate) fn make_cookie(&self, ni: &[u8], remote: SocketAddr, spi_i: u64) -> Vec<u8> {
        let mut h = Sha256::new();
        h.update(ni);
        h.update(ip_bytes(remote));
        h.update(spi_i.to_be_bytes());
        h.update(self.cookie_secret);
        let mut c = COOKIE_VERSION.to_be_bytes().to_vec();
        c.extend_from_slice(&h.finalize());
        c
    }

    fn half_open_count(&self) -> usize {
        self.sas
            .values()
            .filter(|s| s.state == IkeState::HalfOpen)
            .count()
    }

    /// Initiator: create the SA and send IKE_SA_INIT.
    pub(crate) fn initiate(&mut self, conn: usize) -> SaId {
        let id = self.alloc_id();
        let c = &self.config.connections[conn];
        let path = Path::new(c.local, c.remote);
        let proposals = c.ike_proposals.clone();
        let init_pairs = self.init_pairs(conn);
        let mut sa = IkeSa::new(id, conn, true, path, self.now);
        sa.init_pairs = init_pairs;
        sa.spi_i = self.random_spi();
        sa.ni = self.random_bytes(self.config.nonce_len.clamp(16, 256));
        sa.ike_proposals = proposals;
        self.by_spi.insert(sa.spi_i, id);
        self.sas.insert(id, sa);
        let group = self
            .sas
            .get(&id)
            .and_then(|s| s.ike_proposals.first())
            .and_then(|p| p.dh.first().copied())
            .unwrap_or(DhGroup::Curve25519);
        self.send_init(id, group);
        id
    }

    /// (Re)build and send the IKE_SA_INIT request with a fresh KE for `group`.
    fn send_init(&mut self, id: SaId, group: DhGroup) {
        let kx = {
            let rng = &mut self.rng;
            KeyExchange::generate(group, &mut |b| rng.fill(b))
        };
        let kx = match kx {
            Ok(k) => k,
            Err(e) => {
                self.error(Some(id), format!("key exchange: {e}"));
                self.destroy_sa(id, "no usable key exchange value");
                return;
            }
        };
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        sa.kx = Some(kx);
        sa.next_msg_id = 1;
        sa.init_sent.clear();
        let path = sa.path;
        let Some(bytes) = self.init_message(id, path) else {
            return;
        };
        let summary = self
            .sas
            .get(&id)
            .map(|s| s.init_summary.clone())
            .unwrap_or_default();
        self.send_request(id, Pending::Init, wire::IKE_SA_INIT, 0, bytes, summary);
    }

    /// The IKE_SA_INIT request for `path` (its NAT detection hashes name that pair of
    /// addresses), remembered per path: the copy that reached the responder is the one
    /// IKE_AUTH signs.
    fn init_message(&mut self, id: SaId, path: Path) -> Option<Vec<u8>> {
        let conn = self
            .sas
            .get(&id)
            .and_then(|sa| self.config.connections.get(sa.conn));
        let natt = conn.is_none_or(|c| c.nat_traversal);
        let claim_nat = self.nat_fake || conn.is_some_and(|c| c.encap);
        let certs = super::ike_auth::init_cert_payloads(
            self.sas
                .get(&id)
                .and_then(|sa| self.config.connections.get(sa.conn))
                .into_iter(),
            false,
        );
        let sa = self.sas.get_mut(&id)?;
        let kx = sa.kx.as_ref()?;
        let mut payloads: Vec<Payload<'static>> = Vec::new();
        if let Some(c) = &sa.cookie {
            payloads.push(Payload::new(
                pt::NOTIFY,
                PayloadBody::Notify(Notify::new(
                    nt::COOKIE,
                    NotifyData::Cookie(c.clone().into()),
                )),
            ));
        }
        payloads.push(Payload::new(
            pt::SA,
            PayloadBody::Sa(proposal::sa_payload(&sa.ike_proposals, &[], true)),
        ));
        payloads.push(Payload::new(
            pt::KE,
            PayloadBody::Ke(Ke {
                dh_group: kx.group().iana_id(),
                reserved: 0,
                data: Cow::Owned(kx.public_value().to_vec()),
            }),
        ));
        payloads.push(Payload::new(
            pt::NONCE,
            PayloadBody::Nonce(Cow::Owned(sa.ni.clone())),
        ));
        // NAT traversal off for the connection: no NAT detection, no float (RFC 4555 §3.9)
        if natt {
            payloads.extend(natd::natd_payloads_claiming(sa.spi_i, 0, path, claim_nat));
        }
        payloads.extend(certs);
        let msg = Message {
            header: Header {
                spi_i: sa.spi_i,
                spi_r: 0,
                next_payload: 0,
                version: 0x20,
                exchange_type: wire::IKE_SA_INIT,
                flags: FLAG_INITIATOR,
                message_id: 0,
                length: 0,
            },
            payloads,
            trailing: Cow::Borrowed(&[]),
        };
        let bytes = msg.emit();
        sa.init_summary = summarize(&msg.payloads);
        sa.init_request = bytes.clone();
        sa.init_sent.retain(|(p, _)| *p != path);
        sa.init_sent.push((path, bytes.clone()));
        Some(bytes)
    }

    /// A multihomed initiator's IKE_SA_INIT retransmits rotate over the address pairs
    /// (RFC 4555 §3.1): the SA's path becomes the next pair and the request in flight
    /// the copy for it. One pair: nothing changes.
    pub(crate) fn next_init_pair(&mut self, id: SaId) {
        let Some(sa) = self.sas.get(&id) else {
            return;
        };
        let n = sa.init_pairs.len();
        if n < 2 {
            return;
        }
        let next = sa
            .init_pairs
            .iter()
            .position(|p| *p == sa.path)
            .map_or(0, |i| (i + 1) % n);
        let path = sa.init_pairs[next];
        let Some(bytes) = self.init_message(id, path) else {
            return;
        };
        if let Some(sa) = self.sas.get_mut(&id) {
            sa.path = path;
            if let Some(o) = sa.outstanding.as_mut() {
                o.bytes = bytes;
            }
        }
    }

    /// Every (local, remote) pair an IKE_SA_INIT may use, the configured one first:
    /// our addresses of the remote's family x the configured and additional remotes.
    fn init_pairs(&self, conn: usize) -> Vec<Path> {
        let Some(c) = self.config.connections.get(conn) else {
            return vec![];
        };
        let first = Path::new(c.local, c.remote);
        let mut locals = vec![c.local];
        if !c.local.ip().is_unspecified() {
            for a in &self.local_addrs {
                if a.is_ipv4() == c.local.is_ipv4() && !locals.iter().any(|l| l.ip() == *a) {
                    locals.push(SocketAddr::new(*a, c.local.port()));
                }
            }
        }
        let mut remotes = vec![c.remote];
        for a in &c.remote_addrs {
            if a.is_ipv4() == c.remote.is_ipv4() && !remotes.iter().any(|r| r.ip() == *a) {
                remotes.push(SocketAddr::new(*a, c.remote.port()));
            }
        }
        let mut pairs = vec![first];
        for r in &remotes {
            for l in &locals {
                let p = Path::new(*l, *r);
                if !pairs.contains(&p) {
                    pairs.push(p);
                }
            }
        }
        pairs
    }

    /// Unprotected reply to an IKE_SA_INIT request we do not accept (no state kept).
    fn init_reject(&mut self, path: Path, spi_i: u64, payload: Payload<'static>) {
        let msg = Message {
            header: Header {
                spi_i,
                spi_r: 0,
                next_payload: 0,
                version: 0x20,
                exchange_type: wire::IKE_SA_INIT,
                flags: FLAG_RESPONSE,
                message_id: 0,
                length: 0,
            },
            payloads: vec![payload],
            trailing: Cow::Borrowed(&[]),
        };
        let summary = summarize(&msg.payloads);
        self.send_response(None, path, wire::IKE_SA_INIT, 0, msg.emit(), &[], summary);
    }

    /// Responder: an IKE_SA_INIT request.
    pub(crate) fn ike_init_request(&mut self, path: Path, msg: &Message<'_>, bytes: &[u8]) {
        let (local, remote) = (path.local, path.remote);
        let spi_i = msg.header.spi_i;
        let info = MessageInfo {
            exchange: wire::IKE_SA_INIT,
            message_id: 0,
            response: false,
            payloads: summarize(&msg.payloads),
            path,
            crafted: false,
        };
        if self.replayed_init_request(path, spi_i, bytes) {
            return;
        }
        let Some(conn) = self
            .config
            .connections
            .iter()
            .position(|c| c.matches_addrs(path, self.config.nat_t_port))
        else {
            self.stats.dropped += 1;
            self.error(
                None,
                format!("no connection for IKE_SA_INIT from {remote} to {local}"),
            );
            return;
        };
        self.event(EngineEvent::Received { sa: None, info });
        if let Some(t) = msg
            .payloads
            .iter()
            .find(|p| p.unknown_critical())
            .map(|p| p.payload_type)
        {
            let n = Notify::new(nt::UNSUPPORTED_CRITICAL_PAYLOAD, NotifyData::PayloadType(t));
            self.init_reject(
                path,
                spi_i,
                Payload::new(pt::NOTIFY, PayloadBody::Notify(n)),
            );
            return;
        }
        let Some((sa_p, ke, nonce)) = init_payloads(&msg.payloads) else {
            self.init_reject(path, spi_i, notify(nt::INVALID_SYNTAX));
            return;
        };
        if !(16..=256).contains(&nonce.len()) {
            self.init_reject(path, spi_i, notify(nt::INVALID_SYNTAX));
            return;
        }
        if let Some(want) = self.cookie_wanted(msg, nonce, remote, spi_i) {
            let n = Notify::new(nt::COOKIE, NotifyData::Cookie(want.into()));
            self.init_reject(
                path,
                spi_i,
                Payload::new(pt::NOTIFY, PayloadBody::Notify(n)),
            );
            return;
        }
        let Some(ours) = self
            .config
            .connections
            .get(conn)
            .map(|c| c.ike_proposals.clone())
        else {
            return;
        };
        let (chosen, number, group) = match self.choose_init_proposal(&ours, sa_p, ke, remote) {
            Ok(x) => x,
            Err(reject) => {
                self.init_reject(path, spi_i, reject);
                return;
            }
        };
        let (kx, shared) = match self.responder_key_exchange(group, ke, remote) {
            Ok(x) => x,
            Err(reject) => {
                if let Some(reject) = reject {
                    self.init_reject(path, spi_i, reject);
                }
                return;
            }
        };
        let Some((id, mut sa)) =
            self.new_responder_sa(conn, path, msg, nonce, (ours, chosen), &shared)
        else {
            return;
        };
        let out = self.init_response(&sa, path, &chosen, number, &kx);
        let resp = out.emit();
        sa.init_request = bytes.to_vec();
        sa.init_response = resp.clone();
        sa.peer_msg_id = 1;
        sa.next_msg_id = 0;
        sa.init_key = Some((remote, spi_i));
        self.by_spi.insert(sa.spi_r, id);
        self.by_init.insert((remote, spi_i), id);
        self.sas.insert(id, sa);
        let summary = summarize(&out.payloads);
        self.send_response(Some(id), path, wire::IKE_SA_INIT, 0, resp, bytes, summary);
    }

    /// Responder: our key exchange value for `group` and the shared secret with the
    /// request's KE payload. `Err`: reported, with the notify to reject the request with
    /// (none when our own key exchange failed).
    fn responder_key_exchange(
        &mut self,
        group: DhGroup,
        ke: &Ke<'_>,
        remote: SocketAddr,
    ) -> Result<(KeyExchange, SharedSecret), Option<Payload<'static>>> {
        let kx = {
            let rng = &mut self.rng;
            KeyExchange::generate(group, &mut |b| rng.fill(b))
        };
        let Ok(kx) = kx else {
            self.error(None, "no usable key exchange value");
            return Err(None);
        };
        match kx.shared_secret(&ke.data) {
            Ok(shared) => Ok((kx, shared)),
            Err(e) => {
                self.error(None, format!("IKE_SA_INIT from {remote}: {e}"));
                Err(Some(notify(nt::INVALID_SYNTAX)))
            }
        }
    }

    /// Responder: the new IKE SA of an IKE_SA_INIT request, with our SPI and nonce, NAT
    /// detection's result and its keys. `None` (reported) when key derivation fails.
    fn new_responder_sa(
        &mut self,
        conn: usize,
        path: Path,
        msg: &Message<'_>,
        nonce: &[u8],
        (ours, chosen): (Vec<proposal::Proposal>, Chosen),
        shared: &[u8],
    ) -> Option<(SaId, IkeSa)> {
        let spi_i = msg.header.spi_i;
        let id = self.alloc_id();
        let mut sa = IkeSa::new(id, conn, false, path, self.now);
        sa.spi_i = spi_i;
        sa.spi_r = self.random_spi();
        sa.ni = nonce.to_vec();
        sa.nr = self.random_bytes(self.config.nonce_len.clamp(16, 256));
        sa.ike_proposals = ours;
        sa.proposal = Some(chosen);
        if let Some((nl, nr)) = natd::check(&msg.payloads, spi_i, 0, path) {
            sa.nat_local = nl;
            sa.nat_remote = nr;
        }
        if let Err(e) = derive_keys(&mut sa, &chosen, shared) {
            self.error(None, e);
            return None;
        }
        Some((id, sa))
    }

    /// A retransmission of an IKE_SA_INIT request we answered: the response is sent
    /// again (another request with the same SPI from the same address is dropped).
    fn replayed_init_request(&mut self, path: Path, spi_i: u64, bytes: &[u8]) -> bool {
        let Some(&id) = self.by_init.get(&(path.remote, spi_i)) else {
            return false;
        };
        let Some(sa) = self.sas.get(&id) else {
            return false;
        };
        if sa.init_request == bytes {
            self.stats.cached_responses += 1;
            let r = sa.init_response.clone();
            self.transmit(path, r);
        } else {
            self.stats.dropped += 1;
        }
        true
    }

    /// COOKIE (RFC 7296 §2.6): with too many half-open SAs, the cookie the request must
    /// carry first when it does not.
    fn cookie_wanted(
        &self,
        msg: &Message<'_>,
        nonce: &[u8],
        remote: SocketAddr,
        spi_i: u64,
    ) -> Option<Vec<u8>> {
        let th = self.config.cookie_threshold?;
        if self.half_open_count() < th {
            return None;
        }
        let want = self.make_cookie(nonce, remote, spi_i);
        let got = match msg.payloads.first().and_then(|p| p.as_notify()) {
            Some(n) if n.notify_type == nt::COOKIE => match &n.data {
                NotifyData::Cookie(c) => Some(c.to_vec()),
                _ => None,
            },
            _ => None,
        };
        (got.as_deref() != Some(&want[..])).then_some(want)
    }

    /// Responder: our IKE proposal for the offered ones, its number in the offer, and its
    /// key exchange group, which the KE payload must use. `Err`: the notify to reject
    /// the request with.
    fn choose_init_proposal(
        &mut self,
        ours: &[proposal::Proposal],
        sa_p: &wire::Sa<'_>,
        ke: &Ke<'_>,
        remote: SocketAddr,
    ) -> Result<(Chosen, u8, DhGroup), Payload<'static>> {
        let offered = proposal::offered(sa_p);
        let ke_group = DhGroup::from_iana(ke.dh_group);
        let Some((chosen, their)) = proposal::select(ours, &offered, false, ke_group) else {
            self.error(None, format!("no acceptable IKE proposal from {remote}"));
            return Err(notify(nt::NO_PROPOSAL_CHOSEN));
        };
        let Some(group) = chosen.dh else {
            return Err(notify(nt::NO_PROPOSAL_CHOSEN));
        };
        if Some(group) != ke_group {
            let n = Notify::new(nt::INVALID_KE_PAYLOAD, NotifyData::KeGroup(group.iana_id()));
            return Err(Payload::new(pt::NOTIFY, PayloadBody::Notify(n)));
        }
        Ok((chosen, their.number, group))
    }

    /// Responder: the IKE_SA_INIT response of the new SA: `SA KE Nr [N(NAT_DETECTION_*)]
    /// [CERTREQ]`.
    fn init_response(
        &self,
        sa: &IkeSa,
        path: Path,
        chosen: &Chosen,
        number: u8,
        kx: &KeyExchange,
    ) -> Message<'static> {
        let mut payloads: Vec<Payload<'static>> = vec![
            Payload::new(
                pt::SA,
                PayloadBody::Sa(wire::Sa::new(vec![chosen.to_wire(number, &[])])),
            ),
            Payload::new(
                pt::KE,
                PayloadBody::Ke(Ke {
                    dh_group: kx.group().iana_id(),
                    reserved: 0,
                    data: Cow::Owned(kx.public_value().to_vec()),
                }),
            ),
            Payload::new(pt::NONCE, PayloadBody::Nonce(Cow::Owned(sa.nr.clone()))),
        ];
        let conn = self.config.connections.get(sa.conn);
        if conn.is_none_or(|c| c.nat_traversal) {
            let claim_nat = self.nat_fake || conn.is_some_and(|c| c.encap);
            payloads.extend(natd::natd_payloads_claiming(
                sa.spi_i, sa.spi_r, path, claim_nat,
            ));
        }
        payloads.extend(super::ike_auth::init_cert_payloads(
            self.config.connections.iter(),
            true,
        ));
        Message {
            header: Header {
                spi_i: sa.spi_i,
                spi_r: sa.spi_r,
                next_payload: 0,
                version: 0x20,
                exchange_type: wire::IKE_SA_INIT,
                flags: FLAG_RESPONSE,
                message_id: 0,
                length: 0,
            },
            payloads,
            trailing: Cow::Borrowed(&[]),
        }
    }

    /// Initiator: the IKE_SA_INIT response.
    pub(crate) fn ike_init_response(
        &mut self,
        id: SaId,
        path: Path,
        msg: &Message<'_>,
        bytes: &[u8],
    ) {
        let Some(sa) = self.sas.get(&id) else {
            return;
        };
        if sa.state != IkeState::InitSent
            || msg.header.message_id != 0
            || !msg.header.is_response()
            || sa.outstanding.as_ref().map(|o| o.kind) != Some(Pending::Init)
        {
            self.stats.dropped += 1;
            return;
        }
        self.event(EngineEvent::Received {
            sa: Some(id),
            info: MessageInfo {
                exchange: wire::IKE_SA_INIT,
                message_id: 0,
                response: true,
                payloads: summarize(&msg.payloads),
                path,
                crafted: false,
            },
        });
        // the pair that answered becomes the SA's path, and its copy of the request the
        // one IKE_AUTH signs
        if let Some(sa) = self.sas.get_mut(&id) {
            if let Some((p, b)) = sa.init_sent.iter().find(|(p, _)| *p == path) {
                sa.path = *p;
                sa.init_request = b.clone();
            }
        }
        if self.init_refused(id, msg) {
            return;
        }
        // Regular response
        let Some((sa_p, ke, nonce)) = init_payloads(&msg.payloads) else {
            self.init_response_failed(id, "missing SA, KE or Nonce payload");
            return;
        };
        if !(16..=256).contains(&nonce.len()) {
            self.init_response_failed(id, "bad nonce length");
            return;
        }
        let (chosen, shared) = match self.init_response_keys(id, sa_p, ke) {
            None => return,
            Some(Err(why)) => {
                self.init_response_failed(id, &why);
                return;
            }
            Some(Ok(x)) => x,
        };
        self.adopt_init_response(id, path, msg, bytes, nonce, chosen, &shared);
    }

    /// Initiator: an IKE_SA_INIT response that asks for a COOKIE or another KE group, or
    /// refuses with an error notify; false when it does none of these.
    fn init_refused(&mut self, id: SaId, msg: &Message<'_>) -> bool {
        if let Some(n) = find_notify(&msg.payloads, nt::COOKIE) {
            self.init_cookie_demand(id, n);
            return true;
        }
        if let Some(n) = find_notify(&msg.payloads, nt::INVALID_KE_PAYLOAD) {
            self.init_invalid_ke(id, n);
            return true;
        }
        let Some(n) = first_error(&msg.payloads) else {
            return false;
        };
        let name = notify_name(n.notify_type);
        if let Some(sa) = self.sas.get_mut(&id) {
            sa.outstanding = None;
        }
        self.error(Some(id), format!("IKE_SA_INIT failed: peer sent {name}"));
        self.destroy_sa(id, &format!("peer sent {name}"));
        true
    }

    /// Initiator: takes the accepted IKE_SA_INIT response's SPI, nonce, NAT verdicts and
    /// keys, floats to the NAT-T port when due, and sends IKE_AUTH.
    #[allow(clippy::too_many_arguments)] // the response's parts, each checked by the caller
    fn adopt_init_response(
        &mut self,
        id: SaId,
        path: Path,
        msg: &Message<'_>,
        bytes: &[u8],
        nonce: &[u8],
        chosen: Chosen,
        shared: &[u8],
    ) {
        let Some(sa) = self.sas.get(&id) else {
            return;
        };
        let spi_r = msg.header.spi_r;
        let nat = natd::check(&msg.payloads, msg.header.spi_i, spi_r, path);
        let nat_t_port = self.config.nat_t_port;
        let Some(conn) = self.config.connections.get(sa.conn) else {
            return;
        };
        let (mobike, remote_nat_t_port) = (conn.mobike, conn.remote_nat_t_port);
        // a NAT we claimed ourselves (encap, nat fake) floats as a real one would
        let claimed = conn.encap || self.nat_fake;
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        sa.outstanding = None;
        sa.spi_r = spi_r;
        sa.nr = nonce.to_vec();
        sa.init_response = bytes.to_vec();
        sa.proposal = Some(chosen);
        if let Some((nl, nr)) = nat {
            sa.nat_local = nl;
            sa.nat_remote = nr;
        }
        if let Err(e) = derive_keys(sa, &chosen, shared) {
            self.init_response_failed(id, &e);
            return;
        }
        // Float to 4500 when a NAT was detected (or claimed), or always with MOBIKE (RFC
        // 4555 §3.2), if the peer does NAT-T at all.
        if nat.is_some()
            && (sa.nat_local || sa.nat_remote || mobike || claimed)
            && !sa.uses_nat_t(nat_t_port)
        {
            sa.path = sa
                .path
                .with_local_port(nat_t_port)
                .with_remote_port(remote_nat_t_port);
        }
        sa.kx = None;
        self.send_auth(id);
    }

    /// Initiator: the responder demands a COOKIE: IKE_SA_INIT again with it, up to
    /// `max_init_retries` times.
    fn init_cookie_demand(&mut self, id: SaId, n: &Notify<'_>) {
        let max_retries = self.config.max_init_retries;
        let NotifyData::Cookie(c) = &n.data else {
            self.stats.malformed += 1;
            return;
        };
        let c = c.to_vec();
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        sa.init_retries += 1;
        if sa.init_retries > max_retries {
            self.destroy_sa(id, "too many COOKIE demands");
            return;
        }
        sa.cookie = Some(c);
        sa.outstanding = None;
        let group = sa.kx.as_ref().map_or(DhGroup::Curve25519, |k| k.group());
        self.send_init(id, group);
    }

    /// Initiator: INVALID_KE_PAYLOAD: IKE_SA_INIT again with the group the responder
    /// wants if we propose it, up to `max_init_retries` times; else the SA is gone.
    fn init_invalid_ke(&mut self, id: SaId, n: &Notify<'_>) {
        let max_retries = self.config.max_init_retries;
        let want = match n.data {
            NotifyData::KeGroup(g) => DhGroup::from_iana(g),
            _ => None,
        };
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        let allowed = want.filter(|g| sa.ike_proposals.iter().any(|p| p.dh.contains(g)));
        sa.init_retries += 1;
        match allowed {
            Some(g) if sa.init_retries <= max_retries => {
                sa.outstanding = None;
                self.error(
                    Some(id),
                    format!("peer wants key exchange group {g} (INVALID_KE_PAYLOAD), retrying"),
                );
                self.send_init(id, g);
            }
            _ => {
                sa.outstanding = None;
                self.destroy_sa(id, "INVALID_KE_PAYLOAD asks for a group we do not propose");
            }
        }
    }

    /// Initiator: an IKE_SA_INIT response we cannot use: reported, the SA is gone.
    fn init_response_failed(&mut self, id: SaId, why: &str) {
        if let Some(sa) = self.sas.get_mut(&id) {
            sa.outstanding = None;
        }
        self.error(Some(id), format!("IKE_SA_INIT response: {why}"));
        self.destroy_sa(id, why);
    }

    /// Initiator: the proposal the responder chose, checked against ours, and the shared
    /// secret with its KE payload. `None` when the SA or its key exchange is gone,
    /// `Err(why)` for a response to fail on.
    fn init_response_keys(
        &self,
        id: SaId,
        sa_p: &wire::Sa<'_>,
        ke: &Ke<'_>,
    ) -> Option<Result<(Chosen, SharedSecret), String>> {
        let offered = proposal::offered(sa_p);
        let chosen = match offered.as_slice() {
            [one] => one.as_chosen(),
            _ => None,
        };
        let sa = self.sas.get(&id)?;
        let Some(chosen) = chosen.filter(|c| proposal::acceptable(&sa.ike_proposals, c, false))
        else {
            return Some(Err(
                "responder chose a proposal we did not offer".to_string()
            ));
        };
        let kx = sa.kx.as_ref()?;
        if chosen.dh != Some(kx.group()) || ke.dh_group != kx.group().iana_id() {
            return Some(Err(
                "KE group does not match the chosen proposal".to_string()
            ));
        }
        Some(
            kx.shared_secret(&ke.data)
                .map(|shared| (chosen, shared))
                .map_err(|e| e.to_string()),
        )
    }
}

/// SKEYSEED and the IKE SA keys from the shared secret (drops the KE private value).
fn derive_keys(sa: &mut IkeSa, chosen: &Chosen, shared: &[u8]) -> Result<(), String> {
    let prf = chosen.prf.ok_or("no PRF negotiated")?;
    let t = IkeTransforms {
        encr: chosen.encr,
        integ: chosen.integ,
        prf,
    };
    let mut seed = skeyseed_initial(prf, &sa.ni, &sa.nr, shared);
    let keys = derive_ike_sa_keys(t, &seed, &sa.ni, &sa.nr, sa.spi_i, sa.spi_r)
        .map_err(|e| format!("key derivation: {e}"));
    zeroize::Zeroize::zeroize(&mut seed);
    let keys = keys?;
    sa.sk = Some(keys.sk_keys());
    sa.keys = Some(keys);
    Ok(())
}
