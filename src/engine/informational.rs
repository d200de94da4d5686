//! INFORMATIONAL exchanges (RFC 7296 §1.4): dead peer detection (empty message) and
//! Delete of CHILD_SAs and of the IKE SA, in both roles.

use super::sa::{first_error, notify_name, IkeState, Opened, Pending, Task};
use super::{Engine, EngineEvent, Path, SaId};
use crate::wire::{
    self, notify_type as nt, payload_type as pt, protocol_id, Delete, Payload, PayloadBody,
};

impl Engine {
    /// Start one of our exchanges (called with nothing outstanding).
    pub(crate) fn start_task(&mut self, id: SaId, task: Task) {
        if task.exchange() == wire::CREATE_CHILD_SA {
            self.start_create_child(id, task, None, 0);
            return;
        }
        if matches!(
            task,
            Task::Probe
                | Task::Update
                | Task::Announce
                | Task::ReturnRoutability
                | Task::Crafted
                | Task::Check
        ) {
            self.start_mobike_task(id, task);
            return;
        }
        let dpd = self.build_dpd(id);
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        let payloads: Vec<Payload<'static>> = match task {
            Task::Dpd => dpd,
            Task::DeleteIke => {
                sa.state = IkeState::Deleting;
                vec![Payload::new(
                    pt::DELETE,
                    PayloadBody::Delete(Delete::new(protocol_id::IKE, 0, &[])),
                )]
            }
            Task::DeleteChild(spi) => {
                if !sa.children.iter().any(|c| c.spi_in == spi) {
                    return;
                }
                vec![Payload::new(
                    pt::DELETE,
                    PayloadBody::Delete(Delete::new(protocol_id::ESP, 4, &[&spi.to_be_bytes()])),
                )]
            }
            Task::RekeyIke
            | Task::RekeyChild(_)
            | Task::CreateChild
            | Task::Probe
            | Task::Update
            | Task::Announce
            | Task::ReturnRoutability
            | Task::Crafted
            | Task::Check => return,
        };
        self.start_request(id, Pending::Task(task), wire::INFORMATIONAL, &payloads);
    }

    /// The peer's INFORMATIONAL request.
    pub(crate) fn informational_request(
        &mut self,
        id: SaId,
        path: Path,
        opened: Opened,
        request: &[u8],
    ) {
        let mid = opened.header.message_id;
        let mut delete_ike = false;
        let mut esp_spis = Vec::new();
        for p in &opened.payloads {
            if let PayloadBody::Delete(d) = &p.body {
                match (d.protocol_id, d.spi_size) {
                    (protocol_id::IKE, _) => delete_ike = true,
                    (protocol_id::ESP, 4) | (protocol_id::AH, 4) => {
                        for s in d.spis() {
                            if let Ok(b) = <[u8; 4]>::try_from(s) {
                                esp_spis.push(u32::from_be_bytes(b));
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        if delete_ike {
            // a COOKIE2 comes back even on a Delete (RFC 4555 §4.2.5)
            let echo = super::mobike::cookie2_echo(&opened.payloads);
            self.respond_protected(id, path, wire::INFORMATIONAL, mid, &echo, request);
            // Deleting the old SA while our colliding rekey is outstanding: the peer's
            // rekey won (RFC 7296 §2.25.2); continue on the SA it created.
            let theirs = self
                .sas
                .get(&id)
                .and_then(|s| s.exchange.as_ref())
                .and_then(|ex| match ex.collision.as_ref().map(|c| c.created) {
                    Some(super::sa::CollisionSa::Ike(n)) => Some(n),
                    _ => None,
                });
            if let Some(n) = theirs {
                self.adopt(id, n, false);
            }
            self.destroy_sa(id, "deleted by peer");
            return;
        }
        let mut ours = Vec::new();
        let mut gone = Vec::new();
        if let Some(sa) = self.sas.get_mut(&id) {
            // The peer names its inbound SPIs = our outbound SPIs.
            sa.children.retain(|c| {
                if esp_spis.contains(&c.spi_out) {
                    ours.push(c.spi_in.to_be_bytes());
                    gone.push((c.spi_in, c.spi_out));
                    false
                } else {
                    true
                }
            });
        }
        let mut out = Vec::new();
        let mobike = match self.process_mobike_request(id, path, &opened.payloads) {
            Ok(extra) => extra,
            Err(whole) => {
                // UNEXPECTED_NAT_DETECTED: the request changes nothing (RFC 4555 §3.9),
                // not even its Deletes
                self.respond_protected(id, path, wire::INFORMATIONAL, mid, &whole, request);
                return;
            }
        };
        if !ours.is_empty() {
            let refs: Vec<&[u8]> = ours.iter().map(|s| &s[..]).collect();
            out.push(Payload::new(
                pt::DELETE,
                PayloadBody::Delete(Delete::new(protocol_id::ESP, 4, &refs)),
            ));
        }
        out.extend(mobike);
        self.respond_protected(id, path, wire::INFORMATIONAL, mid, &out, request);
        for spis in gone {
            self.event(EngineEvent::ChildDown {
                sa: id,
                spis,
                reason: "deleted by peer".into(),
            });
        }
        // An error notify about the IKE SA in an INFORMATIONAL request (e.g.
        // AUTHENTICATION_FAILED after our IKE_AUTH response) ends it.
        // (MOBIKE's error notifies belong in responses: reported above, not fatal)
        if let Some(n) = first_error(&opened.payloads) {
            let mobike_error = matches!(
                n.notify_type,
                nt::UNACCEPTABLE_ADDRESSES | nt::UNEXPECTED_NAT_DETECTED
            );
            if n.protocol_id <= protocol_id::IKE && !mobike_error {
                let why = format!("peer sent {}", notify_name(n.notify_type));
                self.error(Some(id), why.clone());
                self.destroy_sa(id, &why);
            }
        }
    }

    /// The response to one of our INFORMATIONAL requests.
    pub(crate) fn informational_response(
        &mut self,
        id: SaId,
        task: Task,
        path: Path,
        opened: Opened,
    ) {
        match task {
            Task::Dpd
            | Task::Probe
            | Task::Update
            | Task::Announce
            | Task::ReturnRoutability
            | Task::Crafted
            | Task::Check => self.process_mobike_response(id, task, path, &opened.payloads),
            Task::DeleteIke => self.destroy_sa(id, "deleted"),
            Task::RekeyIke | Task::RekeyChild(_) | Task::CreateChild => {}
            Task::DeleteChild(spi) => {
                let mut gone = None;
                if let Some(sa) = self.sas.get_mut(&id) {
                    if let Some(pos) = sa.children.iter().position(|c| c.spi_in == spi) {
                        let c = sa.children.remove(pos);
                        gone = Some((c.spi_in, c.spi_out));
                    }
                }
                if let Some(spis) = gone {
                    self.event(EngineEvent::ChildDown {
                        sa: id,
                        spis,
                        reason: "deleted".into(),
                    });
                }
                let _ = opened;
            }
        }
    }
}
