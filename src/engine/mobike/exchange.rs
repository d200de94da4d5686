//! MOBIKE payloads of IKE_AUTH and INFORMATIONAL exchanges, built and processed in
//! both roles (RFC 4555 §3.4-§3.9).

use std::net::IpAddr;

use subtle::ConstantTimeEq;

use super::{
    address_list, announced, cookie2_of, d_len, natd_destination, no_nats_allowed, notify_payload,
    MoveCause, PathState, RrCheck, Trigger, COOKIE2_LEN, NAT_RETRIES,
};
use crate::engine::config::ReturnRoutability;
use crate::engine::natd;
use crate::engine::sa::{find_notify, notify, NewRequest, Pending, Task};
use crate::engine::{Engine, EngineEvent, Path, SaId};
use crate::wire::{self, notify_type as nt, NotifyData, Payload};

impl Engine {
    /// Our addresses to announce on `path`: every usable address but the path's own.
    pub(super) fn our_list(&self, path: Path) -> Vec<IpAddr> {
        self.local_addrs
            .iter()
            .copied()
            .filter(|a| *a != path.local.ip())
            .take(self.config.mobike.max_announced)
            .collect()
    }

    /// IKE_AUTH: MOBIKE_SUPPORTED, our other addresses and, without NAT traversal,
    /// NO_NATS_ALLOWED (RFC 4555 §3.2, §3.4, §3.9).
    pub(crate) fn build_auth_mobike(&self, id: SaId, request: bool) -> Vec<Payload<'static>> {
        let Some(sa) = self.sas.get(&id) else {
            return vec![];
        };
        let Some(conn) = self.config.connections.get(sa.conn) else {
            return vec![];
        };
        if !conn.mobike {
            return vec![];
        }
        let mut out = vec![notify(nt::MOBIKE_SUPPORTED)];
        out.extend(address_list(&self.our_list(sa.path), false));
        if request && !conn.nat_traversal {
            out.push(no_nats_allowed(sa.path));
        }
        out
    }

    /// IKE_AUTH of the peer: its address set is the message's source plus its list.
    pub(crate) fn process_auth_mobike(&mut self, id: SaId, payloads: &[Payload<'_>]) {
        let (list, bad) = announced(payloads);
        for b in bad {
            self.mobike_notify(id, false, nt::ADDITIONAL_IP4_ADDRESS, b);
        }
        let ours = self.sas.get(&id).map(|s| self.our_list(s.path));
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        let mut set = vec![sa.path.remote.ip()];
        for a in list.unwrap_or_default() {
            if !set.contains(&a) {
                set.push(a);
            }
        }
        sa.remote_addrs = set;
        let mut local = vec![sa.path.local.ip()];
        local.extend(ours.unwrap_or_default());
        sa.local_addrs = local;
        // Behind a NAT, the original initiator learns its NAT-T mapping at once with a
        // DPD carrying NAT detection: IKE_AUTH has none, and without a first mapping a
        // rebinding before the first DPD would go unnoticed (RFC 4555 §3.8)
        let learn_mapping = sa.peer_mobike && sa.original_initiator && sa.nat_local;
        if sa.peer_mobike {
            let ev = EngineEvent::Addresses {
                sa: id,
                local: sa.local_addrs.clone(),
                remote: sa.remote_addrs.clone(),
            };
            self.event(ev);
        }
        if learn_mapping {
            self.queue_task(id, Task::Dpd);
        }
    }

    pub(crate) fn mobike_notify(&mut self, id: SaId, sent: bool, notify: u16, detail: String) {
        self.event(EngineEvent::MobikeNotify {
            sa: id,
            sent,
            notify,
            detail,
        });
    }

    /// NAT detection notifies for a message on `path`, honouring `nat fake`.
    pub(super) fn natd_for(&self, id: SaId, path: Path) -> Vec<Payload<'static>> {
        let Some(sa) = self.sas.get(&id) else {
            return vec![];
        };
        let mut p = natd::natd_payloads(sa.spi_i, sa.spi_r, path);
        if let Some(public) = self.nat_map {
            // the mapping the operator says a NAT gives us
            p[0] = notify_payload(
                nt::NAT_DETECTION_SOURCE_IP,
                NotifyData::NatDetection(natd::natd_hash(sa.spi_i, sa.spi_r, public)),
            );
        } else if self.nat_fake {
            // claim a NAT in front of us: a source hash of no real address
            p[0] = notify_payload(
                nt::NAT_DETECTION_SOURCE_IP,
                NotifyData::NatDetection(natd::natd_hash(sa.spi_i ^ 1, sa.spi_r, path.local)),
            );
        }
        p.to_vec()
    }

    pub(super) fn new_cookie2(&mut self, id: SaId) -> Payload<'static> {
        let c = self.random_bytes(COOKIE2_LEN);
        if let Some(sa) = self.sas.get_mut(&id) {
            sa.mobike.cookie2 = Some(c.clone());
        }
        notify_payload(nt::COOKIE2, NotifyData::Cookie2(c.into()))
    }

    /// Build and send one of the MOBIKE exchanges (window permitting).
    pub(crate) fn start_mobike_task(&mut self, id: SaId, task: Task) {
        let Some(sa) = self.sas.get(&id) else {
            return;
        };
        let Some(conn) = self.config.connections.get(sa.conn) else {
            return;
        };
        let natt = conn.nat_traversal;
        let path = sa.path;
        let mut paths = vec![];
        let mut crafted = false;
        let payloads: Vec<Payload<'static>> = match task {
            Task::Probe => {
                let Some(p) = sa.mobike.probe.as_ref() else {
                    return;
                };
                paths = p.paths.clone();
                vec![]
            }
            Task::Update => {
                if !sa.original_initiator || !sa.peer_mobike {
                    return;
                }
                let mut v = vec![notify(nt::UPDATE_SA_ADDRESSES)];
                if natt {
                    v.extend(self.natd_for(id, path));
                }
                v.push(self.new_cookie2(id));
                v.extend(address_list(&self.our_list(path), true));
                if !natt {
                    v.push(no_nats_allowed(path));
                }
                v
            }
            Task::Announce => {
                if !sa.peer_mobike {
                    return;
                }
                let mut v = address_list(&self.our_list(path), true);
                v.push(self.new_cookie2(id));
                if !natt {
                    v.push(no_nats_allowed(path));
                }
                if let Some(sa) = self.sas.get_mut(&id) {
                    sa.mobike.announce_due = false;
                }
                v
            }
            Task::ReturnRoutability => {
                let Some(rr) = sa.mobike.rr else {
                    return;
                };
                paths = vec![rr.path];
                vec![self.new_cookie2(id)]
            }
            Task::Check => {
                let mut v = self.build_dpd(id);
                v.push(self.new_cookie2(id));
                v
            }
            Task::Crafted => {
                let Some(list) = self
                    .sas
                    .get_mut(&id)
                    .and_then(|s| s.mobike.crafted.pop_front())
                else {
                    return;
                };
                crafted = true;
                list.into_iter()
                    .map(|(t, d)| notify_payload(t, NotifyData::Raw(d.into())))
                    .collect()
            }
            _ => return,
        };
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        let mid = sa.next_msg_id;
        sa.next_msg_id = sa.next_msg_id.wrapping_add(1);
        if task == Task::Probe {
            if let Some(p) = sa.mobike.probe.as_mut() {
                p.message_id = Some(mid);
            }
        }
        if let Some(bytes) = self.protect(id, wire::INFORMATIONAL, mid, false, &payloads) {
            let summary = format!("SK{{{}}}", crate::engine::summarize(&payloads));
            let request = NewRequest {
                kind: Pending::Task(task),
                exchange: wire::INFORMATIONAL,
                message_id: mid,
                summary,
                paths,
                crafted,
            };
            self.send_request_on(id, request, bytes);
        }
    }

    /// DPD payloads: NAT detection when MOBIKE runs and a NAT is (or is claimed to
    /// be) in front of us, so a changed mapping shows (RFC 4555 §3.8).
    pub(crate) fn build_dpd(&self, id: SaId) -> Vec<Payload<'static>> {
        let Some(sa) = self.sas.get(&id) else {
            return vec![];
        };
        let natt = self
            .config
            .connections
            .get(sa.conn)
            .is_some_and(|c| c.nat_traversal);
        if sa.peer_mobike && natt && (sa.nat_local || self.nat_fake || self.nat_map.is_some()) {
            self.natd_for(id, sa.path)
        } else {
            vec![]
        }
    }

    /// NO_NATS_ALLOWED against the IP header (RFC 4555 §3.9): true when the request
    /// names other addresses or ports than it came from (to be answered with
    /// UNEXPECTED_NAT_DETECTED, changing nothing). A malformed one is reported, ignored.
    pub(crate) fn no_nats_mismatch(
        &mut self,
        id: SaId,
        path: Path,
        payloads: &[Payload<'_>],
    ) -> bool {
        let Some(n) = find_notify(payloads, nt::NO_NATS_ALLOWED) else {
            return false;
        };
        let NotifyData::NoNatsAllowed {
            src,
            dst,
            src_port,
            dst_port,
        } = &n.data
        else {
            let len = d_len(&n.data);
            self.mobike_notify(
                id,
                false,
                nt::NO_NATS_ALLOWED,
                format!("NO_NATS_ALLOWED with {len} bytes (12 or 36 expected): ignored"),
            );
            return false;
        };
        let seen = (
            path.remote.ip(),
            path.local.ip(),
            path.remote.port(),
            path.local.port(),
        );
        if (*src, *dst, *src_port, *dst_port) == seen {
            return false;
        }
        let detail = format!(
            "NO_NATS_ALLOWED says {src}:{src_port} -> {dst}:{dst_port}, the packet came {} -> {}: answered UNEXPECTED_NAT_DETECTED",
            path.remote, path.local
        );
        self.mobike_notify(id, true, nt::UNEXPECTED_NAT_DETECTED, detail);
        true
    }

    /// The peer's INFORMATIONAL request, MOBIKE part (RFC 4555 §3.5 responder steps):
    /// returns the payloads to add to the response, or `Err` with the whole response
    /// when the request must change nothing (UNEXPECTED_NAT_DETECTED).
    pub(crate) fn process_mobike_request(
        &mut self,
        id: SaId,
        path: Path,
        payloads: &[Payload<'_>],
    ) -> Result<Vec<Payload<'static>>, Vec<Payload<'static>>> {
        let mut out = Vec::new();
        let echo = self.cookie2_echo(id, payloads);
        if self.no_nats_mismatch(id, path, payloads) {
            let mut resp = vec![notify(nt::UNEXPECTED_NAT_DETECTED)];
            resp.extend(echo);
            return Err(resp);
        }
        self.report_response_only_notifies(id, payloads);
        let natd_requested = find_notify(payloads, nt::NAT_DETECTION_SOURCE_IP).is_some();
        let update = find_notify(payloads, nt::UPDATE_SA_ADDRESSES).is_some();
        let (list, bad) = announced(payloads);
        for b in bad {
            self.mobike_notify(id, false, nt::ADDITIONAL_IP4_ADDRESS, b);
        }
        let Some(sa) = self.sas.get(&id) else {
            return Ok(out);
        };
        let mobike = sa.peer_mobike;
        // what the peer announced before this message (its source is not an announcement)
        let announced_before = sa.remote_addrs.clone();
        // an UPDATE we answer UNACCEPTABLE_ADDRESSES changes nothing, its address list
        // (and its source) included
        let refused =
            update && mobike && !sa.original_initiator && self.refused_by_policy(path.remote.ip());
        if (update || list.is_some()) && !mobike {
            self.mobike_notify(
                id,
                false,
                if update {
                    nt::UPDATE_SA_ADDRESSES
                } else {
                    nt::ADDITIONAL_IP4_ADDRESS
                },
                "MOBIKE was not negotiated on this IKE SA: ignored".into(),
            );
        }
        // NAT detection answered over the response's own addresses (§3.8)
        if natd_requested {
            out.extend(self.natd_for(id, path));
        }
        if mobike && !refused {
            if let Some(list) = list {
                self.take_address_list(id, path, list, update);
            }
        }
        let Some(sa) = self.sas.get(&id) else {
            return Ok(out);
        };
        if update && mobike {
            let from_responder = sa.original_initiator;
            out.extend(self.answer_update(
                id,
                path,
                payloads,
                from_responder,
                refused,
                &announced_before,
            ));
        }
        if !mobike {
            self.follow_nat(id, path);
        }
        out.extend(echo);
        Ok(out)
    }

    /// The COOKIE2 notify to echo unchanged (§3.7); a wrong length is reported, not
    /// echoed.
    fn cookie2_echo(&mut self, id: SaId, payloads: &[Payload<'_>]) -> Option<Payload<'static>> {
        let cookie = match cookie2_of(payloads) {
            Ok(c) => c,
            Err(len) => {
                self.mobike_notify(
                    id,
                    false,
                    nt::COOKIE2,
                    format!("COOKIE2 of {len} bytes (8..64 allowed): not echoed"),
                );
                None
            }
        };
        cookie.map(|c| notify_payload(nt::COOKIE2, NotifyData::Cookie2(c.into())))
    }

    /// Notifies only valid in responses, found in a request: reported, ignored.
    fn report_response_only_notifies(&mut self, id: SaId, payloads: &[Payload<'_>]) {
        for t in [nt::UNACCEPTABLE_ADDRESSES, nt::UNEXPECTED_NAT_DETECTED] {
            if find_notify(payloads, t).is_some() {
                self.mobike_notify(
                    id,
                    false,
                    t,
                    "in a request (only valid in responses): ignored".into(),
                );
            }
        }
    }

    /// Our policy refuses UPDATE_SA_ADDRESSES from this peer address.
    fn refused_by_policy(&self, remote: IpAddr) -> bool {
        self.config
            .mobike
            .refuse
            .iter()
            .any(|r| crate::engine::TsRange::host(remote).is_subset_of(r))
    }

    /// The peer's address list: a full replacement plus the packet's source (§3.6). A
    /// responder that announces a list from a new address has moved: we follow it.
    fn take_address_list(&mut self, id: SaId, path: Path, list: Vec<IpAddr>, update: bool) {
        let Some(sa) = self.sas.get(&id) else {
            return;
        };
        let mut set = vec![path.remote.ip()];
        for a in list {
            if !set.contains(&a) {
                set.push(a);
            }
        }
        let moved_peer =
            sa.original_initiator && path.remote.ip() != sa.path.remote.ip() && !update;
        if let Some(sa) = self.sas.get_mut(&id) {
            sa.remote_addrs = set;
            let ev = EngineEvent::Addresses {
                sa: id,
                local: sa.local_addrs.clone(),
                remote: sa.remote_addrs.clone(),
            };
            self.event(ev);
        }
        if moved_peer {
            // the responder moved (its address went away): follow it, then
            // confirm with an UPDATE of our own
            let trigger = Trigger {
                at: self.now,
                cause: MoveCause::PeerMoved,
            };
            self.move_sa(id, path, trigger, true);
            if let Some(sa) = self.sas.get_mut(&id) {
                sa.mobike.update_due = Some(trigger);
            }
            self.queue_task(id, Task::Update);
        }
    }

    /// UPDATE_SA_ADDRESSES on an SA with MOBIKE: ignored from the responder, refused by
    /// policy (the UNACCEPTABLE_ADDRESSES notify to answer), or accepted.
    fn answer_update(
        &mut self,
        id: SaId,
        path: Path,
        payloads: &[Payload<'_>],
        from_responder: bool,
        refused: bool,
        announced_before: &[IpAddr],
    ) -> Option<Payload<'static>> {
        if from_responder {
            self.mobike_notify(
                id,
                false,
                nt::UPDATE_SA_ADDRESSES,
                "from the responder (only the original initiator may send it): ignored".into(),
            );
            None
        } else if refused {
            self.mobike_notify(
                id,
                true,
                nt::UNACCEPTABLE_ADDRESSES,
                format!("{} refused by policy", path.remote.ip()),
            );
            Some(notify(nt::UNACCEPTABLE_ADDRESSES))
        } else {
            self.accept_update(id, path, payloads, announced_before);
            None
        }
    }

    /// UPDATE_SA_ADDRESSES accepted: the IKE SA takes the packet's addresses; the
    /// CHILD_SAs follow now or after a return routability check.
    pub(super) fn accept_update(
        &mut self,
        id: SaId,
        path: Path,
        payloads: &[Payload<'_>],
        announced: &[IpAddr],
    ) {
        let now = self.now;
        let policy = self.config.mobike.return_routability;
        let Some(sa) = self.sas.get(&id) else {
            return;
        };
        let trigger = Trigger {
            at: now,
            cause: MoveCause::UpdateReceived,
        };
        if let Some((nl, nr)) = natd::check(payloads, sa.spi_i, sa.spi_r, path) {
            let changed = (nl, nr) != (sa.nat_local, sa.nat_remote);
            if let Some(sa) = self.sas.get_mut(&id) {
                sa.nat_local = nl;
                sa.nat_remote = nr;
            }
            self.event(EngineEvent::Nat {
                sa: id,
                local: nl,
                remote: nr,
                mapping_changed: changed,
            });
        }
        let Some(sa) = self.sas.get(&id) else {
            return;
        };
        let children_path = sa.children.first().map_or(sa.path, |c| c.path);
        let new_addr = path.remote.ip() != children_path.remote.ip();
        let rr = match policy {
            ReturnRoutability::Always | ReturnRoutability::Optimistic => new_addr,
            ReturnRoutability::Unannounced => new_addr && !announced.contains(&path.remote.ip()),
            ReturnRoutability::Never => false,
        };
        if path == sa.path && !rr {
            return; // nothing changes (an update after a NAT check, say)
        }
        let optimistic = policy == ReturnRoutability::Optimistic;
        let revert_to = optimistic.then_some(sa.path);
        self.move_sa(id, path, trigger, !rr || optimistic);
        if rr {
            if let Some(sa) = self.sas.get_mut(&id) {
                sa.mobike.rr = Some(RrCheck {
                    path,
                    trigger,
                    revert_to,
                });
            }
            self.queue_task(id, Task::ReturnRoutability);
        }
    }

    /// RFC 7296 §2.23: without MOBIKE, a responder follows a NATed peer's new mapping
    /// (authenticated request from another address or port).
    pub(super) fn follow_nat(&mut self, id: SaId, path: Path) {
        let now = self.now;
        let Some(sa) = self.sas.get(&id) else {
            return;
        };
        if sa.original_initiator || !sa.nat_remote || path == sa.path || path.local != sa.path.local
        {
            return;
        }
        let trigger = Trigger {
            at: now,
            cause: MoveCause::NatFollow,
        };
        self.move_sa(id, path, trigger, true);
    }

    /// The response to one of our MOBIKE-carrying INFORMATIONALs (or a DPD).
    pub(crate) fn process_mobike_response(
        &mut self,
        id: SaId,
        task: Task,
        path: Path,
        payloads: &[Payload<'_>],
    ) {
        // only the exchanges that carry our COOKIE2 own it
        let carries_cookie = matches!(
            task,
            Task::Update | Task::Announce | Task::ReturnRoutability | Task::Check
        );
        let sent_cookie = match self.sas.get_mut(&id) {
            Some(s) if carries_cookie => s.mobike.cookie2.take(),
            _ => None,
        };
        if let Some(sent) = sent_cookie {
            let got = cookie2_of(payloads).ok().flatten();
            let same = got
                .as_ref()
                .is_some_and(|g| bool::from(g.as_slice().ct_eq(&sent)));
            if !same {
                // RFC 4555 §3.7: a mismatch ends the IKE SA
                let why = "COOKIE2 mismatch, closing IKE SA".to_string();
                self.mobike_notify(id, false, nt::COOKIE2, why.clone());
                self.error(Some(id), why.clone());
                self.destroy_sa(id, &why);
                return;
            }
        }
        if task == Task::ReturnRoutability {
            self.rr_done(id, true);
            return;
        }
        if find_notify(payloads, nt::UNACCEPTABLE_ADDRESSES).is_some() {
            self.mobike_notify(id, false, nt::UNACCEPTABLE_ADDRESSES, format!("for {path}"));
            self.update_refused(id, path);
            return;
        }
        if find_notify(payloads, nt::UNEXPECTED_NAT_DETECTED).is_some() {
            self.mobike_notify(id, false, nt::UNEXPECTED_NAT_DETECTED, format!("on {path}"));
            let Some(sa) = self.sas.get_mut(&id) else {
                return;
            };
            sa.mobike.nat_retries += 1;
            if sa.mobike.nat_retries <= NAT_RETRIES && task == Task::Update {
                // one forged answer must not win: try again with a new request (§3.9)
                sa.mobike.update_due.get_or_insert(Trigger {
                    at: self.now,
                    cause: MoveCause::Operator,
                });
                self.queue_task(id, Task::Update);
            } else {
                sa.mobike.nat_retries = 0;
                sa.mobike.update_due = None;
                self.error(
                    Some(id),
                    format!("MOBIKE: UNEXPECTED_NAT_DETECTED {NAT_RETRIES} times on {path}; giving up on this update"),
                );
            }
            return;
        }
        self.check_mapping(id, task, path, payloads);
        if task == Task::Update {
            if let Some(sa) = self.sas.get_mut(&id) {
                sa.mobike.update_due = None;
                sa.mobike.nat_retries = 0;
            }
        }
    }

    /// NAT detection in a response: a changed mapping of our side means a NAT rebinding
    /// (RFC 4555 §3.8): the original initiator updates.
    pub(super) fn check_mapping(
        &mut self,
        id: SaId,
        task: Task,
        path: Path,
        payloads: &[Payload<'_>],
    ) {
        let now = self.now;
        let Some(sa) = self.sas.get(&id) else {
            return;
        };
        let Some((nl, nr)) = natd::check(payloads, sa.spi_i, sa.spi_r, path) else {
            return;
        };
        let dst = natd_destination(payloads);
        let changed = matches!((sa.mobike.mapping, dst), (Some(a), Some(b)) if a != b);
        let original_initiator = sa.original_initiator;
        if let Some(sa) = self.sas.get_mut(&id) {
            sa.nat_local = nl;
            sa.nat_remote = nr;
            sa.mobike.mapping = dst;
        }
        self.event(EngineEvent::Nat {
            sa: id,
            local: nl,
            remote: nr,
            mapping_changed: changed,
        });
        if changed && original_initiator && task != Task::Update {
            let trigger = Trigger {
                at: now,
                cause: MoveCause::NatMapping,
            };
            if let Some(sa) = self.sas.get_mut(&id) {
                sa.mobike.update_due = Some(trigger);
            }
            self.queue_task(id, Task::Update);
        }
    }

    /// UNACCEPTABLE_ADDRESSES: try the other paths (RFC 4555 §3.5 MAY), else stay.
    pub(super) fn update_refused(&mut self, id: SaId, path: Path) {
        let now = self.now;
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        if !sa.mobike.refused.contains(&path) {
            sa.mobike.refused.push(path);
        }
        sa.mobike.update_due = None;
        self.event(EngineEvent::Path {
            sa: id,
            path,
            state: PathState::Failed,
            rtt: None,
        });
        let paths = self.candidates(id, false);
        if paths.is_empty() {
            self.error(
                Some(id),
                format!("MOBIKE: the peer refused {path} and no other path is left: staying"),
            );
            return;
        }
        let trigger = Trigger {
            at: now,
            cause: MoveCause::Operator,
        };
        self.start_probe(id, trigger, paths, true);
    }

    /// A return routability check ended: the CHILD_SAs follow the IKE SA, or stay.
    pub(super) fn rr_done(&mut self, id: SaId, ok: bool) {
        let now = self.now;
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        let Some(rr) = sa.mobike.rr.take() else {
            return;
        };
        if let Some(old) = rr.revert_to {
            // optimistic: the SA moved already; a failed check takes it back
            self.event(EngineEvent::RrCheck {
                sa: id,
                path: rr.path,
                ok,
            });
            if !ok {
                self.error(
                    Some(id),
                    format!(
                        "return routability check of {} failed: back to {old}",
                        rr.path
                    ),
                );
                let trigger = Trigger {
                    at: now,
                    cause: MoveCause::RrFailed,
                };
                self.move_sa(id, old, trigger, true);
            }
            return;
        }
        if ok {
            let old = sa.children.first().map_or(rr.path, |c| c.path);
            for c in &mut sa.children {
                c.path = rr.path;
            }
            self.event(EngineEvent::RrCheck {
                sa: id,
                path: rr.path,
                ok,
            });
            self.event(EngineEvent::Moved {
                sa: id,
                old,
                new: rr.path,
                cause: rr.trigger.cause,
                elapsed: now.saturating_since(rr.trigger.at),
                children: true,
            });
        } else {
            // the IKE SA returns to where the CHILD_SAs stayed (the last path known to
            // work): left on the unanswered address, every request of ours would go there
            let back = sa.children.first().map(|c| c.path);
            self.event(EngineEvent::RrCheck {
                sa: id,
                path: rr.path,
                ok,
            });
            self.error(
                Some(id),
                format!(
                    "return routability check of {} failed: the CHILD_SAs stay, the IKE SA returns to them",
                    rr.path
                ),
            );
            if let Some(back) = back.filter(|b| self.sas.get(&id).is_some_and(|s| s.path != *b)) {
                let trigger = Trigger {
                    at: now,
                    cause: MoveCause::PathFailed,
                };
                self.move_sa(id, back, trigger, true);
            }
        }
    }
}
