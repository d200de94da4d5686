//! CREATE_CHILD_SA (RFC 7296 §1.3) for CHILD_SAs, both roles: additional CHILD_SAs
//! (§1.3.1) and CHILD_SA rekeying (§1.3.3, `N(REKEY_SA)` naming the old SA by the
//! SPI its sender receives on), with perfect forward secrecy when the ESP proposal
//! has a key exchange group (`KEYMAT = prf+(SK_d, g^ir (new) | Ni | Nr)`, §2.17).
//! The exchange type's dispatcher also hands IKE SA rekeys to [`super::ike_rekey`].
//!
//! # Rekey sequence
//!
//! The initiator of a CHILD_SA rekey installs the new CHILD_SA when the response
//! arrives, marks the old one [`ChildSa::rekeyed`] and deletes it with an
//! INFORMATIONAL exchange queued ahead of everything else. The responder installs the
//! new one when it answers and waits for that Delete.
//!
//! # Collisions (§2.8.1, §2.25.1)
//!
//! * Both peers rekey the same CHILD_SA at once: each answers the other's request (and
//!   remembers the CHILD_SA that created, with the nonces), then compares when its own
//!   response arrives. The exchange that carried the lowest of the four nonces lost;
//!   its initiator deletes the CHILD_SA it created, the winner deletes the old one.
//!   Nonces compare as byte strings (lexicographically, a prefix first).
//! * If our request fails (e.g. `TEMPORARY_FAILURE` because the peer finished its rekey
//!   first) after we answered the peer's rekey of the same SA, the peer's rekey stands.
//! * A rekey request for a CHILD_SA we are deleting or have already rekeyed, or any
//!   CHILD_SA request while we rekey the IKE SA, gets `TEMPORARY_FAILURE` (§2.25); one
//!   for an SA we do not know `CHILD_SA_NOT_FOUND`.
//! * Our rekey answered with `TEMPORARY_FAILURE` is retried after
//!   [`REKEY_RETRY`] plus up to as much again at random.

use std::borrow::Cow;
use std::net::IpAddr;
use std::time::Duration;

use zeroize::Zeroizing;

use super::child_create::{self, initiator_ts, ts_acceptable, ts_list, ts_payload, ResponderChild};
use super::proposal::{self, Chosen};
use super::sa::{
    first_error, notify, notify_name, ChildSa, Collision, CollisionSa, ExchangeInit, IkeSa,
    IkeState, Opened, Pending, RequestFrom, Task,
};
use super::timer::Timer;
use super::{Engine, EngineEvent, Path, Rekey, SaId, Timestamp};
use crate::crypto::derive_child_sa_keys;
use crate::crypto::dh::{DhGroup, KeyExchange};
use crate::wire::{
    self, notify_type as nt, payload_type as pt, protocol_id, Ke, Notify, NotifyData, Payload,
    PayloadBody,
};

/// Base delay before retrying a rekey the peer answered with `TEMPORARY_FAILURE`.
pub const REKEY_RETRY: Duration = Duration::from_secs(10);

/// How often an INVALID_KE_PAYLOAD answer is followed by a retry with the asked group.
const MAX_KE_RETRIES: u32 = 2;

/// The smallest of an exchange's two nonces.
pub(crate) fn lowest<'a>(a: &'a [u8], b: &'a [u8]) -> &'a [u8] {
    a.min(b)
}

/// Did our exchange (nonces `ours`) lose against the peer's (`theirs`)? The one with the
/// lowest of the four nonces loses (RFC 7296 §2.8.1).
pub(crate) fn lost_collision(ours: (&[u8], &[u8]), theirs: (&[u8], &[u8])) -> bool {
    lowest(ours.0, ours.1) < lowest(theirs.0, theirs.1)
}

/// A KE payload.
pub(crate) fn ke_payload(kx: &KeyExchange) -> Payload<'static> {
    Payload::new(
        pt::KE,
        PayloadBody::Ke(Ke {
            dh_group: kx.group().iana_id(),
            reserved: 0,
            data: Cow::Owned(kx.public_value().to_vec()),
        }),
    )
}

/// A notify about an ESP SA (REKEY_SA, CHILD_SA_NOT_FOUND).
fn esp_notify(t: u16, spi: u32) -> Payload<'static> {
    Payload::new(
        pt::NOTIFY,
        PayloadBody::Notify(Notify {
            protocol_id: protocol_id::ESP,
            spi: Cow::Owned(spi.to_be_bytes().to_vec()),
            notify_type: t,
            data: if t < 16384 {
                NotifyData::Raw(Cow::Borrowed(&[]))
            } else {
                NotifyData::Empty
            },
        }),
    )
}

pub(crate) fn invalid_ke(group: DhGroup) -> Payload<'static> {
    Payload::new(
        pt::NOTIFY,
        PayloadBody::Notify(Notify::new(
            nt::INVALID_KE_PAYLOAD,
            NotifyData::KeGroup(group.iana_id()),
        )),
    )
}

/// The payloads of a CREATE_CHILD_SA request we care about.
#[derive(Default)]
pub(crate) struct Parts<'p, 'a> {
    pub rekey: Option<&'p Notify<'a>>,
    pub sa: Option<&'p wire::Sa<'a>>,
    pub nonce: Option<&'p [u8]>,
    pub ke: Option<&'p Ke<'a>>,
    pub tsi: Option<&'p wire::Ts<'a>>,
    pub tsr: Option<&'p wire::Ts<'a>>,
}

pub(crate) fn parts<'p, 'a>(payloads: &'p [Payload<'a>]) -> Parts<'p, 'a> {
    let mut p = Parts::default();
    for x in payloads {
        match (&x.body, x.payload_type) {
            (PayloadBody::Notify(n), _) if n.notify_type == nt::REKEY_SA && p.rekey.is_none() => {
                p.rekey = Some(n)
            }
            (PayloadBody::Sa(s), _) if p.sa.is_none() => p.sa = Some(s),
            (PayloadBody::Nonce(n), _) if p.nonce.is_none() => p.nonce = Some(n),
            (PayloadBody::Ke(k), _) if p.ke.is_none() => p.ke = Some(k),
            (PayloadBody::Ts(t), pt::TSI) if p.tsi.is_none() => p.tsi = Some(t),
            (PayloadBody::Ts(t), pt::TSR) if p.tsr.is_none() => p.tsr = Some(t),
            _ => {}
        }
    }
    p
}

pub(crate) fn nonce_ok(n: &[u8]) -> bool {
    (16..=256).contains(&n.len())
}

/// Our key exchange and the shared secret for a CHILD SA with PFS (none without).
type Pfs = (Option<KeyExchange>, Option<Zeroizing<Vec<u8>>>);

/// A refused CREATE_CHILD_SA request: the notify to answer with, an error to report.
type Refusal = (Payload<'static>, Option<String>);

/// The CHILD SA a CREATE_CHILD_SA request rekeys, if any.
struct RekeyTarget {
    /// Our inbound SPI of the old CHILD SA.
    old: Option<u32>,
    /// We are rekeying the same CHILD SA (RFC 7296 §2.8.1).
    collision: bool,
}

/// Which CHILD SA a request's `N(REKEY_SA)` rekeys (by the SPI the peer receives on =
/// our outbound SPI), and whether our own exchange collides with it. `Err`: the notify
/// to refuse the request with.
fn rekey_target(sa: &IkeSa, rekey: Option<&Notify<'_>>) -> Result<RekeyTarget, Payload<'static>> {
    let mut old = None;
    if let Some(n) = rekey {
        let spi = match <[u8; 4]>::try_from(&n.spi[..]) {
            Ok(b) if n.protocol_id == protocol_id::ESP => u32::from_be_bytes(b),
            _ => return Err(notify(nt::INVALID_SYNTAX)),
        };
        match sa.children.iter().find(|c| c.spi_out == spi) {
            None => return Err(esp_notify(nt::CHILD_SA_NOT_FOUND, spi)),
            Some(c) if c.rekeyed => return Err(notify(nt::TEMPORARY_FAILURE)),
            Some(c) => old = Some(c.spi_in),
        }
    }
    let mut collision = false;
    match sa.outstanding.as_ref().map(|o| o.kind) {
        Some(Pending::Task(Task::RekeyIke)) => return Err(notify(nt::TEMPORARY_FAILURE)),
        Some(Pending::Task(Task::DeleteChild(s))) if Some(s) == old => {
            return Err(notify(nt::TEMPORARY_FAILURE))
        }
        Some(Pending::Task(Task::RekeyChild(s))) if Some(s) == old => collision = true,
        _ => {}
    }
    Ok(RekeyTarget { old, collision })
}

impl Engine {
    /// A rekey deadline `rekey` from now, up to `rand` earlier at random; `None` if
    /// `rekey` is zero.
    pub(crate) fn rekey_deadline(&mut self, rekey: Duration, rand: Duration) -> Option<Timestamp> {
        if rekey.is_zero() {
            return None;
        }
        let span = u64::try_from(rand.min(rekey).as_micros()).unwrap_or(u64::MAX);
        let mut b = [0u8; 8];
        self.rng.fill(&mut b);
        let r = match span.checked_add(1) {
            Some(m) => u64::from_be_bytes(b) % m,
            None => u64::from_be_bytes(b),
        };
        Some(self.now + rekey.saturating_sub(Duration::from_micros(r)))
    }

    /// When to retry a rekey that got `TEMPORARY_FAILURE`.
    pub(crate) fn retry_at(&mut self) -> Timestamp {
        let mut b = [0u8; 4];
        self.rng.fill(&mut b);
        let extra = u64::from(u32::from_be_bytes(b)) % (REKEY_RETRY.as_millis() as u64 + 1);
        self.now + REKEY_RETRY + Duration::from_millis(extra)
    }

    /// Arm the IKE SA's rekey timer from its connection's settings.
    pub(crate) fn arm_ike_rekey(&mut self, id: SaId) {
        let Some((t, r)) = self.sas.get(&id).and_then(|sa| {
            let c = self.config.connections.get(sa.conn)?;
            Some((c.ike_rekey_time, c.ike_rand_time))
        }) else {
            return;
        };
        let at = self.rekey_deadline(t, r);
        if let Some(sa) = self.sas.get_mut(&id) {
            sa.timers.set_or_stop(Timer::RekeyIke, at);
        }
    }

    /// Arm the rekey timer of the CHILD_SA with inbound SPI `spi`.
    pub(crate) fn arm_child_rekey(&mut self, id: SaId, spi: u32) {
        let Some((t, r)) = self.sas.get(&id).and_then(|sa| {
            let c = self.config.connections.get(sa.conn)?;
            Some((c.child_rekey_time, c.child_rand_time))
        }) else {
            return;
        };
        let at = self.rekey_deadline(t, r);
        if let Some(sa) = self.sas.get_mut(&id) {
            if sa.children.iter().any(|c| c.spi_in == spi) {
                sa.timers.set_or_stop(Timer::RekeyChild(spi), at);
            }
        }
    }

    /// Start a CREATE_CHILD_SA task (nothing outstanding). `group`: the key exchange
    /// group the peer asked for with INVALID_KE_PAYLOAD.
    pub(crate) fn start_create_child(
        &mut self,
        id: SaId,
        task: Task,
        group: Option<DhGroup>,
        ke_retries: u32,
    ) {
        match task {
            Task::RekeyIke => self.start_ike_rekey(id, group, ke_retries),
            Task::RekeyChild(_) | Task::CreateChild => {
                self.start_child_exchange(id, task, group, ke_retries)
            }
            _ => {}
        }
    }

    fn start_child_exchange(
        &mut self,
        id: SaId,
        task: Task,
        group: Option<DhGroup>,
        ke_retries: u32,
    ) {
        let spi_in = self.random_esp_spi();
        let ni = self.random_bytes(self.config.nonce_len.clamp(16, 256));
        let Some(sa) = self.sas.get(&id) else {
            return;
        };
        let Some(conn) = self.config.connections.get(sa.conn) else {
            return;
        };
        let (ts_i, ts_r, old_dh, old_spis) = match task {
            Task::RekeyChild(spi) => {
                let Some(c) = sa.children.iter().find(|c| c.spi_in == spi && !c.rekeyed) else {
                    return; // gone or already rekeyed by the peer: nothing to do
                };
                (
                    c.ts_local.clone(),
                    c.ts_remote.clone(),
                    c.proposal.dh,
                    Some((c.spi_in, c.spi_out)),
                )
            }
            _ => match sa.children.iter().find(|c| !c.rekeyed) {
                // another CHILD_SA like the existing one (strongSwan's duplicate)
                Some(c) => (c.ts_local.clone(), c.ts_remote.clone(), None, None),
                None => {
                    // the virtual IP is ours when we set the IKE SA up (a later IKE SA
                    // rekey by the peer does not make it the peer's)
                    let local = if sa.original_initiator {
                        sa.vip.unwrap_or(sa.path.local.ip())
                    } else {
                        sa.path.local.ip()
                    };
                    let (i, r) = initiator_ts(conn, local, sa.path.remote.ip());
                    (i, r, None, None)
                }
            },
        };
        let proposals = conn.esp_proposals.clone();
        let group = group
            .or(old_dh)
            .or_else(|| proposals.iter().find_map(|p| p.dh.first().copied()));
        let kx = match group {
            Some(g) => {
                let rng = &mut self.rng;
                match KeyExchange::generate(g, &mut |b| rng.fill(b)) {
                    Ok(k) => Some(k),
                    Err(e) => {
                        self.error(Some(id), format!("key exchange: {e}"));
                        return;
                    }
                }
            }
            None => None,
        };
        let mut payloads = Vec::new();
        if let Some((spi, _)) = old_spis {
            payloads.push(esp_notify(nt::REKEY_SA, spi));
        }
        payloads.push(Payload::new(
            pt::SA,
            PayloadBody::Sa(proposal::sa_payload(
                &proposals,
                &spi_in.to_be_bytes(),
                true,
            )),
        ));
        payloads.push(Payload::new(
            pt::NONCE,
            PayloadBody::Nonce(Cow::Owned(ni.clone())),
        ));
        if let Some(k) = &kx {
            payloads.push(ke_payload(k));
        }
        payloads.push(ts_payload(pt::TSI, &ts_i));
        payloads.push(ts_payload(pt::TSR, &ts_r));
        if let Some(sa) = self.sas.get_mut(&id) {
            sa.exchange = Some(ExchangeInit {
                task,
                ni,
                kx,
                spi: u64::from(spi_in),
                ts_i,
                ts_r,
                old_spis,
                ke_retries,
                collision: None,
            });
        }
        self.start_request(id, Pending::Task(task), wire::CREATE_CHILD_SA, &payloads);
    }

    /// The peer's CREATE_CHILD_SA request.
    pub(crate) fn create_child_request(
        &mut self,
        id: SaId,
        path: Path,
        opened: Opened,
        request: &[u8],
    ) {
        let from = RequestFrom {
            id,
            path,
            exchange: wire::CREATE_CHILD_SA,
            mid: opened.header.message_id,
            request,
        };
        let answer = |e: &mut Engine, payloads: &[Payload<'_>]| e.answer(from, payloads);
        let Some(sa) = self.sas.get(&id) else {
            return;
        };
        if sa.state != IkeState::Established {
            self.refuse_child_request(from, sa.state);
            return;
        }
        let p = parts(&opened.payloads);
        let (Some(sa_p), Some(nonce)) = (p.sa, p.nonce.filter(|n| nonce_ok(n))) else {
            answer(self, &[notify(nt::INVALID_SYNTAX)]);
            return;
        };
        if sa_p.proposals.first().map(|x| x.protocol_id) == Some(protocol_id::IKE) {
            self.ike_rekey_request(id, path, &opened, request);
            return;
        }
        let rekey = match rekey_target(sa, p.rekey) {
            Ok(r) => r,
            Err(refusal) => {
                answer(self, &[refusal]);
                return;
            }
        };
        let Some(c) = self.choose_responder_child(from, sa_p, &p) else {
            return;
        };
        let (kx, shared) = match self.child_pfs(&c.chosen, p.ke) {
            Ok(x) => x,
            Err((refusal, why)) => {
                answer(self, &[refusal]);
                if let Some(why) = why {
                    self.error(Some(id), why);
                }
                return;
            }
        };
        self.answer_child_request(from, &c, (kx, shared), nonce, rekey);
    }

    /// Answers a CREATE_CHILD_SA request the IKE SA cannot take in `state` (not
    /// established): TEMPORARY_FAILURE while it is going away, else INVALID_SYNTAX, and a
    /// half-open IKE SA is destroyed.
    fn refuse_child_request(&mut self, from: RequestFrom<'_>, state: IkeState) {
        match state {
            IkeState::Rekeyed | IkeState::Deleting => {
                self.answer(from, &[notify(nt::TEMPORARY_FAILURE)]);
            }
            _ => {
                self.answer(from, &[notify(nt::INVALID_SYNTAX)]);
                if self
                    .sas
                    .get(&from.id)
                    .is_some_and(|s| s.state == IkeState::HalfOpen)
                {
                    self.destroy_sa(from.id, "CREATE_CHILD_SA before IKE_AUTH (INVALID_SYNTAX)");
                }
            }
        }
    }

    /// Responder: the CHILD SA for a request's SA payload `sa_p` and its selectors. `None`:
    /// the request is refused (answered, and reported unless it lacks TSi or TSr), or the
    /// SA or its connection is gone.
    fn choose_responder_child(
        &mut self,
        from: RequestFrom<'_>,
        sa_p: &wire::Sa<'_>,
        p: &Parts<'_, '_>,
    ) -> Option<ResponderChild> {
        let (Some(tsi), Some(tsr)) = (p.tsi, p.tsr) else {
            self.answer(from, &[notify(nt::INVALID_SYNTAX)]);
            return None;
        };
        let sa = self.sas.get(&from.id)?;
        let conn = self.config.connections.get(sa.conn).cloned()?;
        // Our side's and the peer's addresses for "dynamic" selectors; the virtual IP
        // belongs to whoever set the IKE SA up (IKE_AUTH's initiator asked for it), not to
        // whoever last rekeyed it.
        let path = from.path;
        let (ours, theirs): (IpAddr, IpAddr) = if sa.original_initiator {
            (sa.vip.unwrap_or(path.local.ip()), path.remote.ip())
        } else {
            (path.local.ip(), sa.vip.unwrap_or(path.remote.ip()))
        };
        let ke_group = p.ke.and_then(|k| DhGroup::from_iana(k.dh_group));
        match child_create::respond(&conn, sa_p, tsi, tsr, ours, theirs, None, Some(ke_group)) {
            Ok(c) => Some(c),
            Err(n) => {
                self.answer(from, &[notify(n)]);
                self.error(
                    Some(from.id),
                    format!("CHILD_SA request refused: {}", notify_name(n)),
                );
                None
            }
        }
    }

    /// Responder: the new CHILD SA's keys, answered with `SA Nr [KE] TSi TSr`, then
    /// installed (`ni`: the request's nonce).
    fn answer_child_request(
        &mut self,
        from: RequestFrom<'_>,
        c: &ResponderChild,
        (kx, shared): Pfs,
        ni: &[u8],
        rekey: RekeyTarget,
    ) {
        let id = from.id;
        let answer = |e: &mut Engine, payloads: &[Payload<'_>]| e.answer(from, payloads);
        let spi_in = self.random_esp_spi();
        let nr = self.random_bytes(self.config.nonce_len.clamp(16, 256));
        let Some(sa) = self.sas.get(&id) else {
            return;
        };
        let (vip, sa_path) = (sa.vip, sa.path);
        let Some(ike_keys) = sa.keys.as_ref() else {
            return;
        };
        let keys = match derive_child_sa_keys(
            ike_keys.transforms.prf,
            &ike_keys.sk_d,
            c.chosen.encr,
            c.chosen.integ,
            shared.as_deref().map(|s| &s[..]),
            ni,
            &nr,
        ) {
            Ok(k) => k,
            Err(e) => {
                answer(self, &[notify(nt::NO_PROPOSAL_CHOSEN)]);
                self.error(Some(id), format!("CHILD_SA key derivation: {e}"));
                return;
            }
        };
        let mut out = vec![
            Payload::new(
                pt::SA,
                PayloadBody::Sa(wire::Sa::new(vec![c
                    .chosen
                    .to_wire(c.number, &spi_in.to_be_bytes())])),
            ),
            Payload::new(pt::NONCE, PayloadBody::Nonce(Cow::Owned(nr.clone()))),
        ];
        if let Some(k) = &kx {
            out.push(ke_payload(k));
        }
        out.push(ts_payload(pt::TSI, &c.ts_i));
        out.push(ts_payload(pt::TSR, &c.ts_r));
        answer(self, &out);
        let child = c.child_sa(spi_in, keys, sa_path);
        self.install_responder_child(id, child, vip, rekey, (ni.to_vec(), nr));
    }

    /// Responder, PFS: with a key exchange group in the chosen proposal, our key
    /// exchange and the shared secret with the request's KE payload, which must use that
    /// group. `Err`: the notify to answer with, and an error to report.
    fn child_pfs(&mut self, chosen: &Chosen, ke: Option<&Ke<'_>>) -> Result<Pfs, Refusal> {
        let Some(g) = chosen.dh else {
            return Ok((None, None));
        };
        let Some(ke) = ke.filter(|k| k.dh_group == g.iana_id()) else {
            return Err((invalid_ke(g), None));
        };
        let k = {
            let rng = &mut self.rng;
            KeyExchange::generate(g, &mut |b| rng.fill(b))
        };
        let Ok(k) = k else {
            return Err((notify(nt::NO_PROPOSAL_CHOSEN), None));
        };
        match k.shared_secret(&ke.data) {
            Ok(s) => Ok((Some(k), Some(s))),
            Err(e) => Err((
                notify(nt::INVALID_SYNTAX),
                Some(format!("CREATE_CHILD_SA KE payload: {e}")),
            )),
        }
    }

    /// Responder: the new CHILD SA (answered) is installed; a rekeyed one is marked so,
    /// and in a collision with our own rekey of it remembered with the nonces `(Ni, Nr)`
    /// for the comparison when our response arrives.
    fn install_responder_child(
        &mut self,
        id: SaId,
        child: ChildSa,
        vip: Option<IpAddr>,
        rekey: RekeyTarget,
        (ni, nr): (Vec<u8>, Vec<u8>),
    ) {
        let (spi_in, spi_out) = (child.spi_in, child.spi_out);
        let up = EngineEvent::ChildUp {
            sa: id,
            spis: (spi_in, spi_out),
            ts_local: child.ts_local.clone(),
            ts_remote: child.ts_remote.clone(),
            proposal: child.proposal,
            vip,
        };
        let now = self.now;
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        sa.children.push(child.installed_at(now));
        let mut rekeyed = None;
        if let Some(old_spi) = rekey.old {
            if let Some(o) = sa.children.iter_mut().find(|c| c.spi_in == old_spi) {
                o.rekeyed = true;
                rekeyed = Some((o.spi_in, o.spi_out));
                sa.timers.stop(Timer::RekeyChild(old_spi));
            }
            if rekey.collision {
                if let Some(ex) = sa.exchange.as_mut() {
                    ex.collision = Some(Collision {
                        created: CollisionSa::Child(spi_in),
                        ni,
                        nr,
                    });
                }
            }
        }
        self.arm_child_rekey(id, spi_in);
        self.event(up);
        if let (Some(old_spis), false) = (rekeyed, rekey.collision) {
            self.event(EngineEvent::Rekeyed {
                sa: id,
                rekey: Rekey::Child {
                    old_spis,
                    new_spis: (spi_in, spi_out),
                },
                initiator: false,
            });
        }
    }

    /// The response to our CREATE_CHILD_SA request.
    pub(crate) fn create_child_response(&mut self, id: SaId, task: Task, opened: Opened) {
        let Some(ex) = self.sas.get_mut(&id).and_then(|sa| sa.exchange.take()) else {
            return;
        };
        if ex.task != task {
            return;
        }
        if task == Task::RekeyIke {
            self.ike_rekey_response(id, ex, opened);
            return;
        }
        let old = match task {
            Task::RekeyChild(s) => Some(ex.old_spis.unwrap_or((s, 0))),
            _ => None,
        };
        let what = if old.is_some() {
            "CHILD_SA rekey"
        } else {
            "CHILD_SA creation"
        };
        let p = &opened.payloads;
        if let Some(n) = first_error(p) {
            self.child_response_error(id, task, &ex, old, n);
            return;
        }
        let child = self.accept_child_response(id, &ex, p);
        let child = match child {
            Ok(c) => c,
            Err(why) => {
                self.error(Some(id), format!("{what} failed: {why}"));
                return;
            }
        };
        let (spi_in, spi_out) = (child.spi_in, child.spi_out);
        let up = EngineEvent::ChildUp {
            sa: id,
            spis: (spi_in, spi_out),
            ts_local: child.ts_local.clone(),
            ts_remote: child.ts_remote.clone(),
            proposal: child.proposal,
            vip: self.sas.get(&id).and_then(|s| s.vip),
        };
        let now = self.now;
        if let Some(sa) = self.sas.get_mut(&id) {
            sa.children.push(child.installed_at(now));
        }
        self.arm_child_rekey(id, spi_in);
        self.event(up);
        let Some(old) = old else {
            return;
        };
        self.finish_child_rekey(id, ex, old, spi_in, p);
    }

    /// The peer refused our CREATE_CHILD_SA request (notify `n`): a colliding rekey of
    /// the peer's stands, INVALID_KE_PAYLOAD is retried with the asked group,
    /// TEMPORARY_FAILURE later, a CHILD_SA_NOT_FOUND SA is dropped, the rest reported.
    fn child_response_error(
        &mut self,
        id: SaId,
        task: Task,
        ex: &ExchangeInit,
        old: Option<(u32, u32)>,
        n: &Notify<'_>,
    ) {
        let what = if old.is_some() {
            "CHILD_SA rekey"
        } else {
            "CHILD_SA creation"
        };
        let t = n.notify_type;
        let asked = match n.data {
            NotifyData::KeGroup(g) => DhGroup::from_iana(g),
            _ => None,
        };
        if let (Some(col), Some(old)) = (&ex.collision, old) {
            // The peer's rekey of the same CHILD_SA stands.
            if let CollisionSa::Child(new) = col.created {
                self.child_rekey_done(id, old, new, false);
            }
            return;
        }
        let allowed = asked.filter(|g| {
            self.sas
                .get(&id)
                .and_then(|sa| self.config.connections.get(sa.conn))
                .is_some_and(|c| c.esp_proposals.iter().any(|p| p.dh.contains(g)))
        });
        match (t, allowed) {
            (nt::INVALID_KE_PAYLOAD, Some(g)) if ex.ke_retries < MAX_KE_RETRIES => {
                self.start_child_exchange(id, task, Some(g), ex.ke_retries + 1);
            }
            (nt::TEMPORARY_FAILURE, _) => {
                let at = self.retry_at();
                match old.map(|o| o.0) {
                    Some(spi) => {
                        if let Some(sa) = self.sas.get_mut(&id) {
                            if sa.children.iter().any(|c| c.spi_in == spi && !c.rekeyed) {
                                sa.timers.set(Timer::RekeyChild(spi), at);
                            }
                        }
                    }
                    None => self.error(Some(id), format!("{what} failed: TEMPORARY_FAILURE")),
                }
            }
            (nt::CHILD_SA_NOT_FOUND, _) => {
                if let Some((spi, _)) = old {
                    self.drop_child(id, spi, "peer does not know it (CHILD_SA_NOT_FOUND)");
                }
            }
            _ => self.error(
                Some(id),
                format!("{what} failed: peer sent {}", notify_name(t)),
            ),
        }
    }

    /// Our rekey of CHILD SA `old` created `spi_in`: the old one goes, or, when the peer
    /// rekeyed it at the same time and our exchange lost (RFC 7296 §2.8.1), ours.
    fn finish_child_rekey(
        &mut self,
        id: SaId,
        ex: ExchangeInit,
        old: (u32, u32),
        spi_in: u32,
        p: &[Payload<'_>],
    ) {
        match ex.collision {
            Some(Collision {
                created: CollisionSa::Child(theirs),
                ni,
                nr,
            }) => {
                let Some(our_nr) = p.iter().find_map(|x| match &x.body {
                    PayloadBody::Nonce(n) => Some(n.to_vec()),
                    _ => None,
                }) else {
                    return;
                };
                if lost_collision((&ex.ni, &our_nr), (&ni, &nr)) {
                    // Ours is redundant: delete it; the peer deletes the old one.
                    self.queue_task_first(id, Task::DeleteChild(spi_in));
                    self.child_rekey_done(id, old, theirs, false);
                } else {
                    self.child_rekey_done(id, old, spi_in, true);
                }
            }
            _ => self.child_rekey_done(id, old, spi_in, true),
        }
    }

    /// A rekey of the CHILD_SA with SPIs `old_spis` is decided: the one with inbound SPI
    /// `new` replaces it. If we initiated the winning exchange, delete the old one now.
    /// (The old one may be gone already: the peer's Delete can overtake the response.)
    fn child_rekey_done(&mut self, id: SaId, old_spis: (u32, u32), new: u32, we_initiated: bool) {
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        let new_spis = sa
            .children
            .iter()
            .find(|c| c.spi_in == new)
            .map(|c| (c.spi_in, c.spi_out));
        let old = old_spis.0;
        let present = match sa.children.iter_mut().find(|c| c.spi_in == old) {
            Some(o) => {
                o.rekeyed = true;
                true
            }
            None => false,
        };
        sa.timers.stop(Timer::RekeyChild(old));
        if let Some(new_spis) = new_spis {
            self.event(EngineEvent::Rekeyed {
                sa: id,
                rekey: Rekey::Child { old_spis, new_spis },
                initiator: we_initiated,
            });
        }
        if we_initiated && present {
            self.queue_task_first(id, Task::DeleteChild(old));
        }
    }

    /// Remove a CHILD_SA without an exchange.
    pub(crate) fn drop_child(&mut self, id: SaId, spi_in: u32, reason: &str) {
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        if let Some(pos) = sa.children.iter().position(|c| c.spi_in == spi_in) {
            let c = sa.children.remove(pos);
            self.event(EngineEvent::ChildDown {
                sa: id,
                spis: (c.spi_in, c.spi_out),
                reason: reason.to_string(),
            });
        }
    }

    /// Check the responder's answer to our CHILD_SA request and derive the keys.
    fn accept_child_response(
        &self,
        id: SaId,
        ex: &ExchangeInit,
        p: &[Payload<'_>],
    ) -> Result<ChildSa, String> {
        let sa = self.sas.get(&id).ok_or("no SA")?;
        let conn = self
            .config
            .connections
            .get(sa.conn)
            .ok_or("no connection")?;
        let ike_keys = sa.keys.as_ref().ok_or("no keys")?;
        let r = parts(p);
        let (Some(sa_p), Some(nonce), Some(tsi), Some(tsr)) = (r.sa, r.nonce, r.tsi, r.tsr) else {
            return Err("response without SA, Nonce, TSi or TSr".into());
        };
        if !nonce_ok(nonce) {
            return Err("bad nonce length".into());
        }
        let (chosen, spi) = proposal::single_choice(sa_p)?;
        if chosen.protocol != proposal::Protocol::Esp
            || !proposal::acceptable(&conn.esp_proposals, &chosen, false)
        {
            return Err("responder chose an ESP proposal we did not offer".into());
        }
        let spi_out = <[u8; 4]>::try_from(&spi[..])
            .map(u32::from_be_bytes)
            .map_err(|_| "bad ESP SPI size")?;
        let shared = match (&ex.kx, chosen.dh) {
            (None, None) => None,
            (Some(kx), Some(g)) if kx.group() == g => {
                let ke =
                    r.ke.filter(|k| k.dh_group == g.iana_id())
                        .ok_or("KE payload missing or of the wrong group")?;
                Some(kx.shared_secret(&ke.data).map_err(|e| e.to_string())?)
            }
            _ => return Err("key exchange group does not match our KE payload".into()),
        };
        let (ts_i, ts_r) = (ts_list(tsi), ts_list(tsr));
        if !(ts_acceptable(&ex.ts_i, &ts_i) && ts_acceptable(&ex.ts_r, &ts_r)) {
            return Err("responder's traffic selectors are not within ours".into());
        }
        let keys = derive_child_sa_keys(
            ike_keys.transforms.prf,
            &ike_keys.sk_d,
            chosen.encr,
            chosen.integ,
            shared.as_deref().map(|s| &s[..]),
            &ex.ni,
            nonce,
        )
        .map_err(|e| format!("key derivation: {e}"))?;
        let spis = (ex.spi as u32, spi_out);
        Ok(ChildSa::new(
            true,
            spis,
            chosen,
            (ts_i, ts_r),
            keys,
            sa.path,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowest_nonce_loses() {
        let (a, b, c, d) = ([1u8, 9], [5u8, 0], [2u8, 0], [3u8, 0]);
        assert!(lost_collision((&a, &b), (&c, &d)));
        assert!(!lost_collision((&c, &d), (&a, &b)));
        // a prefix is smaller
        assert!(lost_collision(
            (&[7u8][..], &[9u8, 9][..]),
            (&[7u8, 0][..], &[8u8][..])
        ));
    }
}
