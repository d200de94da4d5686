//! IKE SA rekeying with CREATE_CHILD_SA (RFC 7296 §1.3.2, §2.18), both roles.
//!
//! The request carries an SA payload with IKE proposals and the initiator's new 8-byte
//! SPI, Ni and KEi; the response the chosen proposal with the responder's new SPI, Nr
//! and KEr. Both derive `SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr)` with the old
//! SA's PRF and the new keys with the new SA's transforms and SPIs. The initiator of the
//! rekey is the original initiator of the new IKE SA. The new SA gets a new [`SaId`]
//! and message IDs start at 0 in both directions; the CHILD_SAs, the virtual IP and
//! queued tasks move to it ([`EngineEvent::Rekeyed`] with [`Rekey::Ike`]).
//!
//! The old SA enters [`IkeState::Rekeyed`]: the rekey initiator deletes it at once; the
//! responder waits for that Delete and drops the old SA silently if it has not come
//! after the whole retransmission schedule.
//!
//! Collisions (§2.25.2): a rekey request while we delete the IKE SA or create, rekey or
//! delete a CHILD_SA gets `TEMPORARY_FAILURE`. When both peers rekey the IKE SA at once,
//! each answers the other's request (creating an SA that stays unused for now); when its
//! own response arrives, the exchange with the lowest of the four nonces lost. The
//! loser deletes the SA it initiated and moves the CHILD_SAs to the winner's; the winner
//! moves them to its own and deletes the old SA.

use std::borrow::Cow;

use super::config::ConnConfig;
use super::create_child::{invalid_ke, ke_payload, lost_collision, nonce_ok, parts};
use super::proposal::{self, Chosen};
use super::sa::{
    first_error, notify, notify_name, Collision, CollisionSa, ExchangeInit, IkeSa, IkeState,
    Opened, Pending, Task,
};
use super::timer::Timer;
use super::{Engine, EngineEvent, Path, Rekey, SaId};
use crate::crypto::dh::{DhGroup, KeyExchange};
use crate::crypto::{derive_ike_sa_keys, skeyseed_rekey, IkeTransforms};
use crate::wire::{self, notify_type as nt, payload_type as pt, Ke, Payload, PayloadBody};

/// What the responder chose for the peer's IKE SA rekey.
struct RekeyChoice {
    chosen: Chosen,
    /// Its proposal number in the offer.
    number: u8,
    /// The initiator's SPI of the new IKE SA.
    spi_i: u64,
    /// The key exchange group the KE payload must use.
    group: DhGroup,
}

/// A refused request: the notify to answer with, and an error to report.
type Refusal = (Payload<'static>, Option<&'static str>);

/// Responder: our choice among the proposals of the peer's IKE SA rekey, checked
/// against its KE payload.
fn rekey_choice(
    conn: &ConnConfig,
    sa_p: &wire::Sa<'_>,
    ke: &Ke<'_>,
) -> Result<RekeyChoice, Refusal> {
    let offered = proposal::offered(sa_p);
    let ke_group = DhGroup::from_iana(ke.dh_group);
    let Some((chosen, their)) = proposal::select(&conn.ike_proposals, &offered, false, ke_group)
    else {
        return Err((
            notify(nt::NO_PROPOSAL_CHOSEN),
            Some("IKE SA rekey refused: NO_PROPOSAL_CHOSEN"),
        ));
    };
    let spi_i = match <[u8; 8]>::try_from(&their.spi[..]).map(u64::from_be_bytes) {
        Ok(s) if s != 0 => s,
        _ => return Err((notify(nt::INVALID_SYNTAX), None)),
    };
    let Some(group) = chosen.dh else {
        return Err((notify(nt::NO_PROPOSAL_CHOSEN), None));
    };
    if ke_group != Some(group) {
        return Err((invalid_ke(group), None));
    }
    Ok(RekeyChoice {
        chosen,
        number: their.number,
        spi_i,
        group,
    })
}

impl Engine {
    /// Send our IKE SA rekey request.
    pub(crate) fn start_ike_rekey(&mut self, id: SaId, group: Option<DhGroup>, ke_retries: u32) {
        let spi = self.random_spi();
        let ni = self.random_bytes(self.config.nonce_len.clamp(16, 256));
        let Some(sa) = self.sas.get(&id) else {
            return;
        };
        let Some(conn) = self.config.connections.get(sa.conn) else {
            return;
        };
        let proposals = conn.ike_proposals.clone();
        let group = group
            .or(sa.proposal.and_then(|p| p.dh))
            .or_else(|| proposals.iter().find_map(|p| p.dh.first().copied()))
            .unwrap_or(DhGroup::Curve25519);
        let kx = {
            let rng = &mut self.rng;
            KeyExchange::generate(group, &mut |b| rng.fill(b))
        };
        let kx = match kx {
            Ok(k) => k,
            Err(e) => {
                self.error(Some(id), format!("key exchange: {e}"));
                return;
            }
        };
        let payloads = vec![
            Payload::new(
                pt::SA,
                PayloadBody::Sa(proposal::sa_payload(&proposals, &spi.to_be_bytes(), true)),
            ),
            Payload::new(pt::NONCE, PayloadBody::Nonce(Cow::Owned(ni.clone()))),
            ke_payload(&kx),
        ];
        if let Some(sa) = self.sas.get_mut(&id) {
            sa.exchange = Some(ExchangeInit {
                task: Task::RekeyIke,
                ni,
                kx: Some(kx),
                spi,
                ts_i: vec![],
                ts_r: vec![],
                old_spis: None,
                ke_retries,
                collision: None,
            });
        }
        self.start_request(
            id,
            Pending::Task(Task::RekeyIke),
            wire::CREATE_CHILD_SA,
            &payloads,
        );
    }

    /// The peer's IKE SA rekey request (the SA payload has IKE proposals).
    pub(crate) fn ike_rekey_request(
        &mut self,
        id: SaId,
        path: Path,
        opened: &Opened,
        request: &[u8],
    ) {
        let mid = opened.header.message_id;
        let answer = |e: &mut Engine, payloads: &[Payload<'_>]| {
            e.respond_protected(id, path, wire::CREATE_CHILD_SA, mid, payloads, request);
        };
        let Some(sa) = self.sas.get(&id) else {
            return;
        };
        let collision = match sa.outstanding.as_ref().map(|o| o.kind) {
            Some(Pending::Task(Task::RekeyIke)) => true,
            Some(Pending::Task(
                Task::RekeyChild(_) | Task::CreateChild | Task::DeleteChild(_) | Task::DeleteIke,
            )) => {
                answer(self, &[notify(nt::TEMPORARY_FAILURE)]);
                return;
            }
            _ => false,
        };
        let p = parts(&opened.payloads);
        let (Some(sa_p), Some(nonce), Some(ke)) = (p.sa, p.nonce.filter(|n| nonce_ok(n)), p.ke)
        else {
            answer(self, &[notify(nt::INVALID_SYNTAX)]);
            return;
        };
        let Some(conn) = self.config.connections.get(sa.conn) else {
            return;
        };
        let RekeyChoice {
            chosen,
            number,
            spi_i,
            group,
        } = match rekey_choice(conn, sa_p, ke) {
            Ok(x) => x,
            Err((refusal, why)) => {
                answer(self, &[refusal]);
                if let Some(why) = why {
                    self.error(Some(id), why);
                }
                return;
            }
        };
        let kx = {
            let rng = &mut self.rng;
            KeyExchange::generate(group, &mut |b| rng.fill(b))
        };
        let Ok(kx) = kx else {
            answer(self, &[notify(nt::NO_PROPOSAL_CHOSEN)]);
            return;
        };
        let shared = match kx.shared_secret(&ke.data) {
            Ok(s) => s,
            Err(e) => {
                answer(self, &[notify(nt::INVALID_SYNTAX)]);
                self.error(Some(id), format!("IKE SA rekey KE payload: {e}"));
                return;
            }
        };
        let spi_r = self.random_spi();
        let nr = self.random_bytes(self.config.nonce_len.clamp(16, 256));
        let new = match self.new_rekeyed_sa(id, false, spi_i, spi_r, &chosen, nonce, &nr, &shared) {
            Ok(n) => n,
            Err(e) => {
                answer(self, &[notify(nt::NO_PROPOSAL_CHOSEN)]);
                self.error(Some(id), format!("IKE SA rekey: {e}"));
                return;
            }
        };
        let out = vec![
            Payload::new(
                pt::SA,
                PayloadBody::Sa(wire::Sa::new(vec![
                    chosen.to_wire(number, &spi_r.to_be_bytes())
                ])),
            ),
            Payload::new(pt::NONCE, PayloadBody::Nonce(Cow::Owned(nr.clone()))),
            ke_payload(&kx),
        ];
        answer(self, &out);
        if collision {
            self.keep_colliding_rekey(id, new, nonce.to_vec(), nr);
        } else {
            self.adopt(id, new, false);
        }
    }

    /// Responder: the IKE SA `new` we created for the peer's rekey while ours of the same
    /// SA runs. Undecided until our own response arrives; if the peer lost, it deletes
    /// this SA, quietly (`adopt` makes it a real SA if it wins). `(ni, nr)`: the nonces
    /// of the peer's exchange, for the comparison.
    fn keep_colliding_rekey(&mut self, id: SaId, new: SaId, ni: Vec<u8>, nr: Vec<u8>) {
        if let Some(n) = self.sas.get_mut(&new) {
            n.superseded_by = Some(id);
        }
        if let Some(ex) = self.sas.get_mut(&id).and_then(|s| s.exchange.as_mut()) {
            ex.collision = Some(Collision {
                created: CollisionSa::Ike(new),
                ni,
                nr,
            });
        }
    }

    /// The response to our IKE SA rekey request.
    pub(crate) fn ike_rekey_response(&mut self, id: SaId, ex: ExchangeInit, opened: Opened) {
        let p = &opened.payloads;
        let peer_sa = match ex.collision {
            Some(Collision {
                created: CollisionSa::Ike(n),
                ..
            }) => Some(n),
            _ => None,
        };
        if let Some(n) = first_error(p) {
            if let Some(theirs) = peer_sa {
                // The peer's rekey stands; it deletes the old SA.
                self.adopt(id, theirs, false);
                return;
            }
            let t = n.notify_type;
            let asked = match n.data {
                wire::NotifyData::KeGroup(g) => DhGroup::from_iana(g),
                _ => None,
            };
            let allowed = asked.filter(|g| {
                self.sas
                    .get(&id)
                    .and_then(|sa| self.config.connections.get(sa.conn))
                    .is_some_and(|c| c.ike_proposals.iter().any(|p| p.dh.contains(g)))
            });
            match (t, allowed) {
                (nt::INVALID_KE_PAYLOAD, Some(g)) if ex.ke_retries < 2 => {
                    self.start_ike_rekey(id, Some(g), ex.ke_retries + 1)
                }
                (nt::TEMPORARY_FAILURE, _) => {
                    let at = self.retry_at();
                    if let Some(sa) = self.sas.get_mut(&id) {
                        sa.timers.set(Timer::RekeyIke, at);
                    }
                }
                _ => self.error(
                    Some(id),
                    format!("IKE SA rekey failed: peer sent {}", notify_name(t)),
                ),
            }
            return;
        }
        let accepted = self.accept_ike_rekey_response(id, &ex, p);
        let (new, nr) = match accepted {
            Ok(x) => x,
            Err(why) => {
                self.error(Some(id), format!("IKE SA rekey failed: {why}"));
                if let Some(theirs) = peer_sa {
                    self.adopt(id, theirs, false);
                }
                return;
            }
        };
        match (peer_sa, &ex.collision) {
            (Some(theirs), Some(col)) if lost_collision((&ex.ni, &nr), (&col.ni, &col.nr)) => {
                // Ours is redundant: delete it and continue on the peer's.
                if let Some(sa) = self.sas.get_mut(&new) {
                    sa.superseded_by = Some(theirs);
                }
                self.start_task(new, Task::DeleteIke);
                self.adopt(id, theirs, false);
            }
            (Some(theirs), _) => {
                // We won: the peer deletes the SA it created.
                self.adopt(id, new, true);
                let timeout = self.config.retransmit.total();
                if let Some(sa) = self.sas.get_mut(&theirs) {
                    sa.superseded_by = Some(new);
                    sa.state = IkeState::Rekeyed;
                    sa.timers.set(Timer::Expire, self.now + timeout);
                }
                self.start_task(id, Task::DeleteIke);
            }
            (None, _) => {
                self.adopt(id, new, true);
                self.start_task(id, Task::DeleteIke);
            }
        }
    }

    /// Check the responder's answer and create the new SA; returns it and Nr.
    fn accept_ike_rekey_response(
        &mut self,
        id: SaId,
        ex: &ExchangeInit,
        p: &[Payload<'_>],
    ) -> Result<(SaId, Vec<u8>), String> {
        let sa = self.sas.get(&id).ok_or("no SA")?;
        let r = parts(p);
        let (Some(sa_p), Some(nonce), Some(ke)) = (r.sa, r.nonce, r.ke) else {
            return Err("response without SA, Nonce or KE".into());
        };
        if !nonce_ok(nonce) {
            return Err("bad nonce length".into());
        }
        let (chosen, spi) = proposal::single_choice(sa_p)?;
        if chosen.protocol != proposal::Protocol::Ike
            || !proposal::acceptable(&sa.ike_proposals, &chosen, false)
        {
            return Err("responder chose an IKE proposal we did not offer".into());
        }
        let spi_r = match <[u8; 8]>::try_from(&spi[..]).map(u64::from_be_bytes) {
            Ok(s) if s != 0 => s,
            _ => return Err("bad IKE SPI in the SA payload".into()),
        };
        let kx = ex.kx.as_ref().ok_or("no key exchange")?;
        if chosen.dh != Some(kx.group()) || ke.dh_group != kx.group().iana_id() {
            return Err("KE group does not match the chosen proposal".into());
        }
        let shared = kx.shared_secret(&ke.data).map_err(|e| e.to_string())?;
        let nr = nonce.to_vec();
        let new = self.new_rekeyed_sa(id, true, ex.spi, spi_r, &chosen, &ex.ni, &nr, &shared)?;
        Ok((new, nr))
    }

    /// Create the IKE SA that replaces `old` (established, no CHILD_SAs yet).
    #[allow(clippy::too_many_arguments)]
    fn new_rekeyed_sa(
        &mut self,
        old: SaId,
        initiator: bool,
        spi_i: u64,
        spi_r: u64,
        chosen: &Chosen,
        ni: &[u8],
        nr: &[u8],
        shared: &[u8],
    ) -> Result<SaId, String> {
        let o = self.sas.get(&old).ok_or("no SA")?;
        let old_keys = o.keys.as_ref().ok_or("old SA has no keys")?;
        let prf = chosen.prf.ok_or("no PRF negotiated")?;
        let t = IkeTransforms {
            encr: chosen.encr,
            integ: chosen.integ,
            prf,
        };
        let mut seed = skeyseed_rekey(old_keys.transforms.prf, &old_keys.sk_d, shared, ni, nr);
        let keys = derive_ike_sa_keys(t, &seed, ni, nr, spi_i, spi_r)
            .map_err(|e| format!("key derivation: {e}"));
        zeroize::Zeroize::zeroize(&mut seed);
        let keys = keys?;
        let id = SaId(self.next_id);
        let mut n = IkeSa::new(id, o.conn, initiator, o.path, self.now);
        n.spi_i = spi_i;
        n.spi_r = spi_r;
        n.state = IkeState::Established;
        n.established = Some(self.now);
        n.local_addrs = o.local_addrs.clone();
        n.remote_addrs = o.remote_addrs.clone();
        n.nat_local = o.nat_local;
        n.nat_remote = o.nat_remote;
        n.peer_mobike = o.peer_mobike;
        // MOBIKE's initiator stays the original initiator (RFC 4555 §3.5), whoever
        // rekeyed; NAT detection hashes start over with the new SPIs
        n.original_initiator = o.original_initiator;
        n.mobike.refused = o.mobike.refused.clone();
        n.proposal = Some(*chosen);
        n.ni = ni.to_vec();
        n.nr = nr.to_vec();
        n.sk = Some(keys.sk_keys());
        n.keys = Some(keys);
        n.peer_id = o.peer_id.clone();
        n.ike_proposals = o.ike_proposals.clone();
        let ours = if initiator { spi_i } else { spi_r };
        self.next_id += 1;
        self.by_spi.insert(ours, id);
        self.sas.insert(id, n);
        Ok(id)
    }

    /// `new` replaces `old`: move the CHILD_SAs, virtual IP and queued tasks, retire
    /// `old`, announce the rekey.
    pub(crate) fn adopt(&mut self, old: SaId, new: SaId, we_initiated: bool) {
        let timeout = self.config.retransmit.total();
        let now = self.now;
        let Some(o) = self.sas.get_mut(&old) else {
            return;
        };
        let children = std::mem::take(&mut o.children);
        let mut queue = std::mem::take(&mut o.queue);
        queue.retain(|t| *t != Task::RekeyIke);
        let vip = o.vip.take();
        o.superseded_by = Some(new);
        o.state = IkeState::Rekeyed;
        o.timers.stop(Timer::RekeyIke);
        // the CHILD_SAs' rekey timers go with them
        let child_timers = o.timers.take_where(|t| matches!(t, Timer::RekeyChild(_)));
        o.exchange = None;
        o.timers.set(Timer::Expire, now + timeout);
        let old_spis = (o.spi_i, o.spi_r);
        let Some(n) = self.sas.get_mut(&new) else {
            return;
        };
        n.children = children;
        n.queue = queue;
        n.vip = vip;
        n.superseded_by = None;
        n.state = IkeState::Established;
        n.timers.stop(Timer::Expire);
        for (t, at) in child_timers {
            n.timers.set(t, at);
        }
        let new_spis = (n.spi_i, n.spi_r);
        self.arm_ike_rekey(new);
        self.arm_liveness(new);
        self.event(EngineEvent::Rekeyed {
            sa: new,
            rekey: Rekey::Ike {
                old_sa: old,
                old_spis,
                new_spis,
            },
            initiator: we_initiated,
        });
        self.start_queued(new);
    }
}
