//! IKE_AUTH with pre-shared keys (RFC 7296 §2.15) or certificates ([`pubkey`]: CERT,
//! CERTREQ, signature AUTH methods 1, 9, 10 and 14), the CHILD_SA created with it, a CP
//! request for a virtual IP (initiator) / pool assignment (responder), INITIAL_CONTACT
//! and MOBIKE_SUPPORTED.
//!
//! `AUTH = prf(prf(PSK, "Key Pad for IKEv2"), <SignedOctets>)` (or a signature over
//! `<SignedOctets>`) with
//! `InitiatorSignedOctets = RealMessage1 | Nr | prf(SK_pi, IDi')` and
//! `ResponderSignedOctets = RealMessage2 | Ni | prf(SK_pr, IDr')` (IDx' = the ID payload
//! body: type, 3 reserved bytes, data).

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::child_create::{self, ts_acceptable, ts_list, ts_payload};
use super::config::{ConnConfig, Identity};
use super::proposal::{self, Chosen};
use super::pubkey::{self, X509};
use super::sa::{
    find_notify, first_error, notify, notify_name, ChildSa, IkeSa, IkeState, Pending, RequestFrom,
};
use super::{Engine, EngineEvent, Path, SaId};
use crate::crypto::prf;
use crate::wire::{
    self, notify_type as nt, payload_type as pt, Auth, Cert, CfgAttribute, Cp, Id, Notify,
    NotifyData, Payload, PayloadBody, CFG_REPLY, CFG_REQUEST,
};

/// AUTH method: Shared Key Message Integrity Code.
pub const AUTH_PSK: u8 = 2;
/// CP attribute INTERNAL_IP4_ADDRESS.
pub const INTERNAL_IP4_ADDRESS: u16 = 1;
/// CP attribute INTERNAL_IP6_ADDRESS.
pub const INTERNAL_IP6_ADDRESS: u16 = 8;

const KEY_PAD: &[u8] = b"Key Pad for IKEv2";

/// `RealMessage | Nonce | prf(SK_p, ID')` (RFC 7296 §2.15).
pub fn signed_octets(
    prf_alg: crate::crypto::PrfAlgorithm,
    real_message: &[u8],
    other_nonce: &[u8],
    sk_p: &[u8],
    id_body: &[u8],
) -> Vec<u8> {
    let maced_id = prf(prf_alg, sk_p, id_body);
    let mut octets = Vec::with_capacity(real_message.len() + other_nonce.len() + maced_id.len());
    octets.extend_from_slice(real_message);
    octets.extend_from_slice(other_nonce);
    octets.extend_from_slice(&maced_id);
    octets
}

/// The PSK AUTH value.
pub fn psk_auth(
    prf_alg: crate::crypto::PrfAlgorithm,
    psk: &[u8],
    real_message: &[u8],
    other_nonce: &[u8],
    sk_p: &[u8],
    id_body: &[u8],
) -> Vec<u8> {
    let octets = signed_octets(prf_alg, real_message, other_nonce, sk_p, id_body);
    let key = Zeroizing::new(prf(prf_alg, psk, KEY_PAD));
    prf(prf_alg, &key, &octets)
}

/// Payloads for IKE_SA_INIT when certificates are used: SIGNATURE_HASH_ALGORITHMS
/// (RFC 7427) and, from a responder, CERTREQ with the SHA-1 hashes of the CAs' keys.
/// Fresh IKE_SA_INIT attempts after UNEXPECTED_NAT_DETECTED in IKE_AUTH.
const NAT_RESTARTS: u8 = 3;

pub(crate) fn init_cert_payloads<'c>(
    conns: impl Iterator<Item = &'c ConnConfig>,
    certreq: bool,
) -> Vec<Payload<'static>> {
    let mut hashes = Vec::new();
    let mut any = false;
    for c in conns {
        if let Some(cert) = &c.cert {
            any = true;
            for h in cert.certreq().chunks(20) {
                if !hashes.chunks(20).any(|x| x == h) {
                    hashes.extend_from_slice(h);
                }
            }
        }
    }
    let mut out = Vec::new();
    if !any {
        return out;
    }
    if certreq && !hashes.is_empty() {
        out.push(certreq_payload(hashes));
    }
    out.push(Payload::new(
        pt::NOTIFY,
        PayloadBody::Notify(Notify::new(
            nt::SIGNATURE_HASH_ALGORITHMS,
            NotifyData::SignatureHashAlgorithms(
                pubkey::OUR_HASHES.iter().map(|h| h.id()).collect(),
            ),
        )),
    ));
    out
}

fn certreq_payload(hashes: Vec<u8>) -> Payload<'static> {
    Payload::new(
        pt::CERTREQ,
        PayloadBody::CertReq(Cert {
            encoding: pubkey::CERT_X509_SIGNATURE,
            data: Cow::Owned(hashes),
        }),
    )
}

/// The SIGNATURE_HASH_ALGORITHMS of an IKE_SA_INIT message.
fn sig_hashes(init_msg: &[u8]) -> Option<Vec<u16>> {
    let m = wire::Message::parse(init_msg).ok()?;
    match &find_notify(&m.payloads, nt::SIGNATURE_HASH_ALGORITHMS)?.data {
        NotifyData::SignatureHashAlgorithms(v) => Some(v.clone()),
        _ => None,
    }
}

/// Our ID-related payloads and AUTH: `[CERT...] AUTH` (the caller places ID before).
/// `octets`: our signed octets; `peer_init`: the peer's IKE_SA_INIT message.
fn our_auth(
    conn: &ConnConfig,
    prf_alg: crate::crypto::PrfAlgorithm,
    octets: &[u8],
    peer_init: &[u8],
) -> Result<(Vec<Payload<'static>>, Payload<'static>), String> {
    let (certs, method, data) = match &conn.cert {
        None => {
            let key = Zeroizing::new(prf(prf_alg, &conn.psk.0, KEY_PAD));
            (vec![], AUTH_PSK, prf(prf_alg, &key, octets))
        }
        Some(c) => {
            let (m, d) = c.key.auth(sig_hashes(peer_init).as_deref(), octets)?;
            let certs = c
                .chain
                .iter()
                .map(|x| {
                    Payload::new(
                        pt::CERT,
                        PayloadBody::Cert(Cert {
                            encoding: pubkey::CERT_X509_SIGNATURE,
                            data: Cow::Owned(x.der().to_vec()),
                        }),
                    )
                })
                .collect();
            (certs, m, d)
        }
    };
    Ok((
        certs,
        Payload::new(
            pt::AUTH,
            PayloadBody::Auth(Auth {
                method,
                reserved: [0; 3],
                data: Cow::Owned(data),
            }),
        ),
    ))
}

/// Check the peer's AUTH (and certificate) over its signed `octets`.
fn check_peer_auth(
    conn: &ConnConfig,
    prf_alg: crate::crypto::PrfAlgorithm,
    peer_id: &Identity,
    payloads: &[Payload<'_>],
    auth: &Auth<'_>,
    octets: &[u8],
    unix_now: Option<u64>,
) -> Result<(), String> {
    let Some(c) = &conn.cert else {
        if auth.method != AUTH_PSK {
            return Err(format!(
                "'{peer_id}' used AUTH method {}, we expect a PSK",
                auth.method
            ));
        }
        let key = Zeroizing::new(prf(prf_alg, &conn.psk.0, KEY_PAD));
        let expect = prf(prf_alg, &key, octets);
        if !bool::from(expect.ct_eq(&auth.data)) {
            return Err(format!(
                "AUTH payload of '{peer_id}' does not verify with our PSK"
            ));
        }
        return Ok(());
    };
    if auth.method == AUTH_PSK {
        return Err(format!(
            "'{peer_id}' used a PSK, we expect certificate authentication"
        ));
    }
    let mut certs = payloads.iter().filter_map(|p| match &p.body {
        PayloadBody::Cert(x) if x.encoding == pubkey::CERT_X509_SIGNATURE => Some(&x.data),
        _ => None,
    });
    let Some(end) = certs.next() else {
        return Err(format!("'{peer_id}' sent no X.509 certificate"));
    };
    let end = X509::from_der(end)?;
    let intermediates: Vec<X509> = certs.filter_map(|d| X509::from_der(d).ok()).collect();
    if !end.matches_identity(peer_id) {
        return Err(format!(
            "certificate of {} does not contain the identity '{peer_id}' as a subjectAltName",
            end.subject()
        ));
    }
    pubkey::verify_chain(&end, &intermediates, &c.cas, unix_now)?;
    let key = end.public_key()?;
    pubkey::verify_auth(&key, auth.method, &auth.data, octets)
        .map_err(|e| format!("AUTH payload of '{peer_id}': {e}"))
}

fn id_body(id: &Id<'_>) -> Vec<u8> {
    let mut v = Vec::new();
    id.emit_into(&mut v);
    v
}

fn vip_from_cp(cp: &Cp<'_>) -> Option<IpAddr> {
    cp.attributes.iter().find_map(|a| match a.attr_type {
        INTERNAL_IP4_ADDRESS => <[u8; 4]>::try_from(&a.value[..])
            .ok()
            .map(|b| IpAddr::V4(Ipv4Addr::from(b))),
        INTERNAL_IP6_ADDRESS if a.value.len() == 17 => <[u8; 16]>::try_from(&a.value[..16])
            .ok()
            .map(|b| IpAddr::V6(Ipv6Addr::from(b))),
        _ => None,
    })
}

/// The payloads of an IKE_AUTH message that its receiver reads.
#[derive(Default)]
struct AuthPayloads<'p> {
    /// IDi in a request, IDr in a response.
    id: Option<&'p Id<'static>>,
    auth: Option<&'p Auth<'static>>,
    sa: Option<&'p wire::Sa<'static>>,
    tsi: Option<&'p wire::Ts<'static>>,
    tsr: Option<&'p wire::Ts<'static>>,
    /// CFG_REQUEST in a request, CFG_REPLY in a response.
    cp: Option<&'p Cp<'static>>,
}

impl<'p> AuthPayloads<'p> {
    /// The payloads of a request (`response` false) or of a response.
    fn find(payloads: &'p [Payload<'static>], response: bool) -> Self {
        let (id_type, cfg_type) = if response {
            (pt::IDR, CFG_REPLY)
        } else {
            (pt::IDI, CFG_REQUEST)
        };
        let mut found = Self::default();
        for x in payloads {
            match (&x.body, x.payload_type) {
                (PayloadBody::Id(i), t) if t == id_type => found.id = Some(i),
                (PayloadBody::Auth(a), _) => found.auth = Some(a),
                (PayloadBody::Sa(s), _) => found.sa = Some(s),
                (PayloadBody::Ts(t), pt::TSI) => found.tsi = Some(t),
                (PayloadBody::Ts(t), pt::TSR) => found.tsr = Some(t),
                (PayloadBody::Cp(c), _) if c.cfg_type == cfg_type => found.cp = Some(c),
                _ => {}
            }
        }
        found
    }
}

/// The CHILD SA part of the responder's IKE_AUTH.
struct AuthChild {
    /// CP reply, `SA TSi TSr`, as far as they were created.
    payloads: Vec<Payload<'static>>,
    child: Option<ChildSa>,
    vip: Option<IpAddr>,
    /// Why the CHILD SA was not created (notify type).
    error: Option<u16>,
}

/// Initiator: the CHILD SA of the IKE_AUTH response, checked against what we asked
/// for. `Err`: why it was not created (empty when the response says nothing of it).
fn initiator_auth_child(
    sa: &IkeSa,
    conn: &ConnConfig,
    resp: &AuthPayloads<'_>,
    p: &[Payload<'_>],
) -> Result<ChildSa, String> {
    let (Some(s), Some(i), Some(r), Some(req)) = (resp.sa, resp.tsi, resp.tsr, &sa.child_request)
    else {
        return Err(first_error(p)
            .map(|n| notify_name(n.notify_type))
            .unwrap_or_default());
    };
    let Some(keys) = sa.keys.as_ref() else {
        return Err(String::new());
    };
    let offered = proposal::offered(s);
    let chosen_c = match offered.as_slice() {
        [one] => one.as_chosen().map(|c| (c, one.spi.clone())),
        _ => None,
    };
    let (ts_i, ts_r) = (ts_list(i), ts_list(r));
    match chosen_c {
        Some((c, spi)) if proposal::acceptable(&conn.esp_proposals, &c, true) => {
            match <[u8; 4]>::try_from(&spi[..]) {
                Ok(spi) if ts_acceptable(&req.ts_i, &ts_i) && ts_acceptable(&req.ts_r, &ts_r) => {
                    child_create::child_keys(keys, &c, &sa.ni, &sa.nr).map(|k| {
                        let spis = (req.spi_in, u32::from_be_bytes(spi));
                        ChildSa::new(true, spis, c, (ts_i, ts_r), k, sa.path)
                    })
                }
                Ok(_) => Err("responder's traffic selectors are not within ours".into()),
                Err(_) => Err("bad ESP SPI size".into()),
            }
        }
        _ => Err("responder chose an ESP proposal we did not offer".into()),
    }
}

/// What an authenticated IKE_AUTH exchange settled on about the peer.
struct Authenticated {
    peer_id: Identity,
    /// Both ends support MOBIKE and the connection allows it.
    mobike: bool,
    /// Our virtual IP (initiator) or the peer's (responder, if its CHILD SA was created).
    vip: Option<IpAddr>,
    proposal: Chosen,
}

/// Responder: the keys of the CHILD SA chosen in IKE_AUTH, and its `SA TSi TSr` payloads.
/// `None` when the IKE SA has no keys to derive them from.
fn responder_auth_child(
    sa: &IkeSa,
    c: &child_create::ResponderChild,
    spi_in: u32,
) -> Option<([Payload<'static>; 3], ChildSa)> {
    let keys = sa
        .keys
        .as_ref()
        .map(|k| child_create::child_keys(k, &c.chosen, &sa.ni, &sa.nr))?
        .ok()?;
    let payloads = [
        Payload::new(
            pt::SA,
            PayloadBody::Sa(wire::Sa::new(vec![c
                .chosen
                .to_wire(c.number, &spi_in.to_be_bytes())])),
        ),
        ts_payload(pt::TSI, &c.ts_i),
        ts_payload(pt::TSR, &c.ts_r),
    ];
    Some((payloads, c.child_sa(spi_in, keys, sa.path)))
}

impl Engine {
    /// Initiator: send IKE_AUTH (message ID 1) after IKE_SA_INIT.
    pub(crate) fn send_auth(&mut self, id: SaId) {
        let spi_in = self.random_esp_spi();
        let mobike = self.build_auth_mobike(id, true);
        let first_contact = self.first_contact(id);
        let Some(sa) = self.sas.get(&id) else {
            return;
        };
        let Some(conn) = self.config.connections.get(sa.conn) else {
            return;
        };
        let (Some(keys), Some(chosen)) = (sa.keys.as_ref(), sa.proposal) else {
            return;
        };
        let Some(prf_alg) = chosen.prf else {
            return;
        };
        let idi = conn.local_id.to_payload();
        let octets = signed_octets(
            prf_alg,
            &sa.init_request,
            &sa.nr,
            &keys.sk_pi,
            &id_body(&idi),
        );
        let (certs, auth) = match our_auth(conn, prf_alg, &octets, &sa.init_response) {
            Ok(x) => x,
            Err(e) => {
                self.error(Some(id), format!("cannot create our AUTH payload: {e}"));
                self.destroy_sa(id, &format!("cannot create our AUTH payload: {e}"));
                return;
            }
        };
        let mut payloads = vec![Payload::new(pt::IDI, PayloadBody::Id(idi))];
        payloads.extend(certs);
        if conn.initial_contact && first_contact {
            payloads.push(notify(nt::INITIAL_CONTACT));
        }
        if let Some(c) = &conn.cert {
            let h = c.certreq();
            if !h.is_empty() {
                payloads.push(certreq_payload(h));
            }
        }
        if let Some(r) = &conn.remote_id {
            payloads.push(Payload::new(pt::IDR, PayloadBody::Id(r.to_payload())));
        }
        payloads.push(auth);
        if conn.request_vip {
            let attr = if sa.path.local.is_ipv6() {
                INTERNAL_IP6_ADDRESS
            } else {
                INTERNAL_IP4_ADDRESS
            };
            payloads.push(Payload::new(
                pt::CP,
                PayloadBody::Cp(Cp {
                    cfg_type: CFG_REQUEST,
                    reserved: [0; 3],
                    attributes: vec![CfgAttribute::new(attr, Cow::Borrowed(&[]))],
                }),
            ));
        }
        let (child, req) =
            child_create::request_payloads(conn, spi_in, sa.path.local.ip(), sa.path.remote.ip());
        payloads.extend(child);
        payloads.extend(mobike);
        if let Some(sa) = self.sas.get_mut(&id) {
            sa.child_request = Some(req);
            sa.state = IkeState::AuthSent;
        }
        self.start_request(id, Pending::Auth, wire::IKE_AUTH, &payloads);
    }

    /// Responder: the IKE_AUTH request.
    pub(crate) fn ike_auth_request(
        &mut self,
        id: SaId,
        path: Path,
        opened: super::sa::Opened,
        request: &[u8],
    ) {
        let from = RequestFrom {
            exchange: wire::IKE_AUTH,
            id,
            path,
            mid: opened.header.message_id,
            request,
        };
        if !self.half_open_takes_auth_request(from) {
            return;
        }
        let p = &opened.payloads;
        let req = AuthPayloads::find(p, false);
        let (Some(idi), Some(auth)) = (req.id, req.auth) else {
            self.answer_auth_request(from, nt::INVALID_SYNTAX);
            self.destroy_sa(id, "IKE_AUTH request without IDi or AUTH (INVALID_SYNTAX)");
            return;
        };
        let Some((peer_id, conn_idx)) = self.accepted_initiator(from, idi, p) else {
            return;
        };
        let Some(conn) = self.config.connections.get(conn_idx).cloned() else {
            return;
        };
        let (chosen, mut out) =
            match self.responder_auth_payloads(id, &conn, &peer_id, idi, auth, p) {
                None => return,
                Some(Err(why)) => {
                    self.refuse_auth(from, why);
                    return;
                }
                Some(Ok(x)) => x,
            };
        let peer_mobike = find_notify(p, nt::MOBIKE_SUPPORTED).is_some();
        let Some(created) = self.responder_auth_child_sa(id, path, &conn, &req) else {
            return;
        };
        out.extend(created.payloads);
        let (vip, child_sa, child_error) = (created.vip, created.child, created.error);
        self.send_auth_response(from, conn_idx, out, child_error, peer_mobike);
        let authenticated = Authenticated {
            peer_id,
            mobike: peer_mobike && conn.mobike,
            vip: if child_error.is_none() { vip } else { None },
            proposal: chosen,
        };
        self.responder_established(id, conn_idx, authenticated, child_sa, p);
        if let Some(n) = child_error {
            self.error(
                Some(id),
                format!("CHILD_SA not created: {}", notify_name(n)),
            );
        }
    }

    /// Responder: whether the IKE SA takes an IKE_AUTH request: only a half-open one does
    /// (anything else answers INVALID_SYNTAX), and it adopts the request's path.
    fn half_open_takes_auth_request(&mut self, from: RequestFrom<'_>) -> bool {
        let Some(sa) = self.sas.get(&from.id) else {
            return false;
        };
        if sa.state != IkeState::HalfOpen {
            // IKE_AUTH on an established SA: not allowed.
            self.answer_auth_request(from, nt::INVALID_SYNTAX);
            return false;
        }
        // The request is authenticated by the SK keys: adopt its path (NAT mapping,
        // floated ports).
        if let Some(sa) = self.sas.get_mut(&from.id) {
            let path = from.path;
            sa.path = path;
            sa.local_addrs = vec![path.local.ip()];
            sa.remote_addrs = vec![path.remote.ip()];
        }
        true
    }

    /// Responder: the initiator's identity (its IDi) and the connection that accepts it.
    /// `None` when the request is refused (answered, and the SA destroyed) or the SA is
    /// gone.
    fn accepted_initiator(
        &mut self,
        from: RequestFrom<'_>,
        idi: &Id<'_>,
        p: &[Payload<'_>],
    ) -> Option<(Identity, usize)> {
        let (id, path) = (from.id, from.path);
        let Some(peer_id) = Identity::from_payload(idi) else {
            self.refuse_auth(from, "unsupported IDi type".into());
            return None;
        };
        // A NAT where the initiator allows none: no IKE SA (RFC 4555 §3.9; the request is
        // integrity-protected, so the notify is the initiator's)
        if self.no_nats_mismatch(id, path, p) {
            self.answer_auth_request(from, nt::UNEXPECTED_NAT_DETECTED);
            self.destroy_sa(
                id,
                "NO_NATS_ALLOWED but a NAT is in the path (UNEXPECTED_NAT_DETECTED)",
            );
            return None;
        }
        let sa = self.sas.get(&id)?;
        let Some(conn_idx) = self.responder_conn(sa.conn, path, &peer_id) else {
            self.refuse_auth(
                from,
                format!("no connection accepts peer identity '{peer_id}'"),
            );
            return None;
        };
        Some((peer_id, conn_idx))
    }

    /// Responder: answers the IKE_AUTH request with `out` (our AUTH and the CHILD SA's
    /// payloads), the notify saying why the CHILD SA was not created, and our MOBIKE
    /// payloads if the peer supports MOBIKE. The SA takes connection `conn_idx` first:
    /// the MOBIKE payloads are that connection's.
    fn send_auth_response(
        &mut self,
        from: RequestFrom<'_>,
        conn_idx: usize,
        mut out: Vec<Payload<'static>>,
        child_error: Option<u16>,
        peer_mobike: bool,
    ) {
        if let Some(n) = child_error {
            out.push(notify(n));
        }
        if let Some(sa) = self.sas.get_mut(&from.id) {
            sa.conn = conn_idx;
        }
        if peer_mobike {
            out.extend(self.build_auth_mobike(from.id, false));
        }
        self.answer(from, &out);
    }

    /// Answer an IKE_AUTH request with one notify.
    fn answer_auth_request(&mut self, from: RequestFrom<'_>, notify_type: u16) {
        self.answer(from, &[notify(notify_type)]);
    }

    /// AUTHENTICATION_FAILED: answered, reported, and the half-open SA is gone.
    fn refuse_auth(&mut self, from: RequestFrom<'_>, why: String) {
        self.answer_auth_request(from, nt::AUTHENTICATION_FAILED);
        self.error(Some(from.id), format!("AUTHENTICATION_FAILED: {why}"));
        self.destroy_sa(from.id, &format!("AUTHENTICATION_FAILED: {why}"));
    }

    /// Responder: the connection for an authenticating peer: the one chosen in
    /// IKE_SA_INIT (`preferred`) if its remote ID fits, else the first with fitting
    /// addresses and remote ID.
    fn responder_conn(&self, preferred: usize, path: Path, peer_id: &Identity) -> Option<usize> {
        let fits = |c: &super::ConnConfig| c.remote_id.as_ref().accepts(peer_id);
        if self.config.connections.get(preferred).is_some_and(fits) {
            Some(preferred)
        } else {
            self.config
                .connections
                .iter()
                .position(|c| fits(c) && c.matches_addrs(path, self.config.nat_t_port))
        }
    }

    /// Responder: check the initiator's AUTH, then build ours: the proposal of the IKE
    /// SA and `IDr [CERT...] AUTH`. `None` when the SA has no keys (nothing to answer),
    /// `Err(why)` for AUTHENTICATION_FAILED.
    fn responder_auth_payloads(
        &self,
        id: SaId,
        conn: &ConnConfig,
        peer_id: &Identity,
        idi: &Id<'_>,
        auth: &Auth<'_>,
        p: &[Payload<'_>],
    ) -> Option<Result<(Chosen, Vec<Payload<'static>>), String>> {
        let sa = self.sas.get(&id)?;
        let (Some(keys), Some(chosen)) = (sa.keys.as_ref(), sa.proposal) else {
            return None;
        };
        let prf_alg = chosen.prf?;
        let octets = signed_octets(
            prf_alg,
            &sa.init_request,
            &sa.nr,
            &keys.sk_pi,
            &id_body(idi),
        );
        let unix_now = self.unix_now();
        if let Err(why) = check_peer_auth(conn, prf_alg, peer_id, p, auth, &octets, unix_now) {
            return Some(Err(why));
        }
        // Authenticated. Our AUTH.
        let idr = conn.local_id.to_payload();
        let octets = signed_octets(
            prf_alg,
            &sa.init_response,
            &sa.ni,
            &keys.sk_pr,
            &id_body(&idr),
        );
        let (certs, our_auth) = match our_auth(conn, prf_alg, &octets, &sa.init_request) {
            Ok(x) => x,
            Err(e) => return Some(Err(format!("cannot create our AUTH payload: {e}"))),
        };
        let mut out = vec![Payload::new(pt::IDR, PayloadBody::Id(idr))];
        out.extend(certs);
        out.push(our_auth);
        Some(Ok((chosen, out)))
    }

    /// Responder: the CHILD SA created with IKE_AUTH, after the virtual IP a CP request
    /// asks for. `None` when the SA is gone.
    fn responder_auth_child_sa(
        &mut self,
        id: SaId,
        path: Path,
        conn: &ConnConfig,
        req: &AuthPayloads<'_>,
    ) -> Option<AuthChild> {
        let mut payloads = Vec::new();
        let mut vip = None;
        let mut error = None;
        if let Some(cp) = req.cp {
            match self.assign_vip(conn, cp) {
                Some((a, reply)) => {
                    vip = Some(a);
                    payloads.push(reply);
                }
                None => error = Some(nt::INTERNAL_ADDRESS_FAILURE),
            }
        }
        let mut chosen = None;
        if error.is_none() {
            if let (Some(s), Some(i), Some(r)) = (req.sa, req.tsi, req.tsr) {
                match child_create::respond(
                    conn,
                    s,
                    i,
                    r,
                    path.local.ip(),
                    path.remote.ip(),
                    vip,
                    None,
                ) {
                    Ok(c) => chosen = Some(c),
                    Err(n) => error = Some(n),
                }
            }
        }
        let spi_in = self.random_esp_spi();
        let mut child = None;
        if let Some(c) = &chosen {
            let sa = self.sas.get(&id)?;
            match responder_auth_child(sa, c, spi_in) {
                Some((child_payloads, new_child)) => {
                    payloads.extend(child_payloads);
                    child = Some(new_child);
                }
                None => error = Some(nt::NO_PROPOSAL_CHOSEN),
            }
        }
        Some(AuthChild {
            payloads,
            child,
            vip,
            error,
        })
    }

    /// Responder: a free address of the connection's pool, of the family the CP request
    /// asks for, and the CP reply carrying it.
    fn assign_vip(&self, conn: &ConnConfig, cp: &Cp<'_>) -> Option<(IpAddr, Payload<'static>)> {
        let want_v6 = cp
            .attributes
            .iter()
            .any(|a| a.attr_type == INTERNAL_IP6_ADDRESS);
        let used: Vec<IpAddr> = self.sas.values().filter_map(|s| s.vip).collect();
        let vip = conn
            .vip_pool
            .iter()
            .copied()
            .find(|a| a.is_ipv6() == want_v6 && !used.contains(a))?;
        let reply = match vip {
            IpAddr::V4(a) => cp_reply(INTERNAL_IP4_ADDRESS, a.octets().to_vec()),
            IpAddr::V6(a) => {
                let mut v = a.octets().to_vec();
                v.push(128);
                cp_reply(INTERNAL_IP6_ADDRESS, v)
            }
        };
        Some((vip, reply))
    }

    /// Responder: the IKE SA is up. Record the peer, announce the IKE SA and its CHILD
    /// SA, arm their timers, act on MOBIKE and INITIAL_CONTACT notifies.
    fn responder_established(
        &mut self,
        id: SaId,
        conn_idx: usize,
        accepted: Authenticated,
        child: Option<ChildSa>,
        p: &[Payload<'_>],
    ) {
        let now = self.now;
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        sa.conn = conn_idx;
        sa.state = IkeState::Established;
        sa.established = Some(now);
        sa.peer_id = Some(accepted.peer_id);
        sa.peer_mobike = accepted.mobike;
        sa.vip = accepted.vip;
        let up = EngineEvent::IkeUp {
            sa: id,
            spi_i: sa.spi_i,
            spi_r: sa.spi_r,
            path: sa.path,
            proposal: accepted.proposal,
            initiator: false,
            nat_local: sa.nat_local,
            nat_remote: sa.nat_remote,
        };
        let child_up = child.map(|c| {
            let ev = EngineEvent::ChildUp {
                sa: id,
                spis: (c.spi_in, c.spi_out),
                ts_local: c.ts_local.clone(),
                ts_remote: c.ts_remote.clone(),
                proposal: c.proposal,
                vip: sa.vip,
            };
            let spi_in = c.spi_in;
            sa.children.push(c.installed_at(now));
            (spi_in, ev)
        });
        self.event(up);
        self.arm_ike_rekey(id);
        self.arm_liveness(id);
        if let Some((spi_in, ev)) = child_up {
            self.arm_child_rekey(id, spi_in);
            self.event(ev);
        }
        self.process_auth_mobike(id, p);
        if find_notify(p, nt::INITIAL_CONTACT).is_some() {
            self.initial_contact_received(id);
        }
    }

    /// Initiator: the IKE_AUTH response.
    pub(crate) fn ike_auth_response(&mut self, id: SaId, _path: Path, opened: super::sa::Opened) {
        let p = &opened.payloads;
        let Some(sa) = self.sas.get(&id) else {
            return;
        };
        let Some(conn) = self.config.connections.get(sa.conn).cloned() else {
            return;
        };
        let resp = AuthPayloads::find(p, true);
        let (Some(idr), Some(auth)) = (resp.id, resp.auth) else {
            if find_notify(p, nt::UNEXPECTED_NAT_DETECTED).is_some() {
                self.restart_after_unexpected_nat(id);
                return;
            }
            let why = match first_error(p) {
                Some(n) => format!("peer sent {}", notify_name(n.notify_type)),
                None => "IKE_AUTH response without IDr or AUTH".to_string(),
            };
            self.error(Some(id), format!("IKE_AUTH failed: {why}"));
            self.destroy_sa(id, &why);
            return;
        };
        let fail = |e: &mut Engine, why: String| {
            e.error(Some(id), format!("AUTHENTICATION_FAILED: {why}"));
            e.destroy_sa(id, &format!("AUTHENTICATION_FAILED: {why}"));
        };
        let Some(peer_id) = Identity::from_payload(idr) else {
            fail(self, "unsupported IDr type".into());
            return;
        };
        if !conn.remote_id.as_ref().accepts(&peer_id) {
            fail(
                self,
                format!("peer identity '{peer_id}' is not the expected one"),
            );
            return;
        }
        let (Some(keys), Some(chosen)) = (sa.keys.as_ref(), sa.proposal) else {
            return;
        };
        let Some(prf_alg) = chosen.prf else {
            return;
        };
        let octets = signed_octets(
            prf_alg,
            &sa.init_response,
            &sa.ni,
            &keys.sk_pr,
            &id_body(idr),
        );
        if let Err(why) =
            check_peer_auth(&conn, prf_alg, &peer_id, p, auth, &octets, self.unix_now())
        {
            fail(self, why);
            return;
        }
        let child = initiator_auth_child(sa, &conn, &resp, p);
        let authenticated = Authenticated {
            peer_id,
            mobike: find_notify(p, nt::MOBIKE_SUPPORTED).is_some() && conn.mobike,
            vip: resp.cp.and_then(vip_from_cp),
            proposal: chosen,
        };
        self.initiator_established(id, authenticated, child, p);
    }

    /// Initiator: the IKE SA is up. Record the peer, announce the IKE SA, arm its timers,
    /// act on MOBIKE and INITIAL_CONTACT notifies, then install the CHILD SA (`Err`: why
    /// not, empty when the response said nothing about it).
    fn initiator_established(
        &mut self,
        id: SaId,
        accepted: Authenticated,
        child: Result<ChildSa, String>,
        p: &[Payload<'_>],
    ) {
        let vip = accepted.vip;
        let now = self.now;
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        sa.state = IkeState::Established;
        sa.established = Some(now);
        sa.peer_id = Some(accepted.peer_id);
        sa.peer_mobike = accepted.mobike;
        sa.vip = vip;
        sa.child_request = None;
        let up = EngineEvent::IkeUp {
            sa: id,
            spi_i: sa.spi_i,
            spi_r: sa.spi_r,
            path: sa.path,
            proposal: accepted.proposal,
            initiator: true,
            nat_local: sa.nat_local,
            nat_remote: sa.nat_remote,
        };
        self.event(up);
        self.arm_ike_rekey(id);
        self.arm_liveness(id);
        self.process_auth_mobike(id, p);
        if find_notify(p, nt::INITIAL_CONTACT).is_some() {
            self.initial_contact_received(id);
        }
        match child {
            Ok(c) => {
                let spi_in = c.spi_in;
                let ev = EngineEvent::ChildUp {
                    sa: id,
                    spis: (c.spi_in, c.spi_out),
                    ts_local: c.ts_local.clone(),
                    ts_remote: c.ts_remote.clone(),
                    proposal: c.proposal,
                    vip,
                };
                let now = self.now;
                if let Some(sa) = self.sas.get_mut(&id) {
                    sa.children.push(c.installed_at(now));
                }
                self.arm_child_rekey(id, spi_in);
                self.event(ev);
            }
            Err(why) if !why.is_empty() => {
                self.error(Some(id), format!("CHILD_SA not created: {why}"));
            }
            Err(_) => {}
        }
    }
}

impl Engine {
    /// Is SA `id` the first with its peer (RFC 7296 §2.4: send INITIAL_CONTACT only
    /// then)? Other IKE SAs of the same connection or with the expected peer identity
    /// that are up or coming up mean no.
    /// N(UNEXPECTED_NAT_DETECTED) in the IKE_AUTH response: the responder saw a NAT we
    /// said is not there. Start again from a fresh IKE_SA_INIT (new SPIs) a few times, in
    /// case the NAT was a passing forgery, then give up (RFC 4555 §3.9).
    fn restart_after_unexpected_nat(&mut self, id: SaId) {
        let Some(sa) = self.sas.get(&id) else {
            return;
        };
        let (conn, restarts) = (sa.conn, sa.nat_restarts);
        self.mobike_notify(
            id,
            false,
            nt::UNEXPECTED_NAT_DETECTED,
            format!(
                "in the IKE_AUTH response (restart {} of {NAT_RESTARTS})",
                restarts + 1
            ),
        );
        if restarts >= NAT_RESTARTS {
            let why = format!(
                "UNEXPECTED_NAT_DETECTED in IKE_AUTH {} times: a NAT is in the path and NAT traversal is off",
                restarts + 1
            );
            self.error(Some(id), why.clone());
            self.destroy_sa(id, &why);
            return;
        }
        self.destroy_sa(
            id,
            "UNEXPECTED_NAT_DETECTED in IKE_AUTH: restarting from IKE_SA_INIT",
        );
        let new = self.initiate(conn);
        if let Some(sa) = self.sas.get_mut(&new) {
            sa.nat_restarts = restarts + 1;
        }
    }

    fn first_contact(&self, id: SaId) -> bool {
        let Some(sa) = self.sas.get(&id) else {
            return false;
        };
        let expected = self
            .config
            .connections
            .get(sa.conn)
            .and_then(|c| c.remote_id.clone());
        !self.sas.values().any(|o| {
            o.id != id
                && matches!(
                    o.state,
                    IkeState::Established | IkeState::AuthSent | IkeState::InitSent
                )
                && (o.conn == sa.conn
                    || (expected.is_some() && o.peer_id.as_ref() == expected.as_ref()))
        })
    }

    /// The peer sent INITIAL_CONTACT: it has no other IKE SA with us, so ours with the
    /// same peer identity are stale (RFC 7296 §2.4): gone, without Deletes.
    fn initial_contact_received(&mut self, id: SaId) {
        let Some(peer) = self.sas.get(&id).and_then(|s| s.peer_id.clone()) else {
            return;
        };
        let stale: Vec<SaId> = self
            .sas
            .values()
            .filter(|o| {
                o.id != id
                    && o.peer_id.as_ref() == Some(&peer)
                    && o.superseded_by.is_none()
                    && o.state != IkeState::Rekeyed
            })
            .map(|o| o.id)
            .collect();
        for old in stale {
            self.destroy_sa(old, &format!("INITIAL_CONTACT from {peer} in IKE SA {id}"));
        }
    }
}

fn cp_reply(attr: u16, value: Vec<u8>) -> Payload<'static> {
    Payload::new(
        pt::CP,
        PayloadBody::Cp(Cp {
            cfg_type: CFG_REPLY,
            reserved: [0; 3],
            attributes: vec![CfgAttribute::new(attr, Cow::Owned(value))],
        }),
    )
}

trait NoneOrEq<T> {
    fn accepts(self, v: &T) -> bool;
}

impl<T: PartialEq> NoneOrEq<T> for Option<&T> {
    fn accepts(self, v: &T) -> bool {
        self.is_none_or(|x| x == v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::PrfAlgorithm;

    #[test]
    fn psk_auth_is_keyed_by_everything() {
        let base = psk_auth(PrfAlgorithm::HmacSha2_256, b"k", b"m", b"n", b"s", b"i");
        assert_eq!(base.len(), 32);
        for v in [
            psk_auth(PrfAlgorithm::HmacSha2_256, b"K", b"m", b"n", b"s", b"i"),
            psk_auth(PrfAlgorithm::HmacSha2_256, b"k", b"M", b"n", b"s", b"i"),
            psk_auth(PrfAlgorithm::HmacSha2_256, b"k", b"m", b"N", b"s", b"i"),
            psk_auth(PrfAlgorithm::HmacSha2_256, b"k", b"m", b"n", b"S", b"i"),
            psk_auth(PrfAlgorithm::HmacSha2_256, b"k", b"m", b"n", b"s", b"I"),
        ] {
            assert_ne!(v, base);
        }
        // definition
        let inner = prf(PrfAlgorithm::HmacSha2_256, b"k", KEY_PAD);
        let maced = prf(PrfAlgorithm::HmacSha2_256, b"s", b"i");
        let want = prf(
            PrfAlgorithm::HmacSha2_256,
            &inner,
            &[&b"mn"[..], &maced].concat(),
        );
        assert_eq!(base, want);
    }
}
