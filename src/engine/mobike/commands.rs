//! The operator's MOBIKE commands.

use std::net::IpAddr;

use super::{MoveCause, Trigger};
use crate::engine::sa::Task;
use crate::engine::{CommandError, Engine, SaId};

impl Engine {
    /// `probe [SA]`: test every path now; move only if the current one is gone.
    pub(crate) fn command_probe(&mut self, id: SaId) -> Result<(), CommandError> {
        let sa = self.sas.get(&id).ok_or(CommandError::UnknownSa(id))?;
        if !sa.peer_mobike {
            return Err(CommandError::Invalid(format!(
                "IKE SA {id}: MOBIKE is not negotiated"
            )));
        }
        let gone = !self.local_addrs.contains(&sa.path.local.ip());
        let paths = self.candidates(id, true);
        let trigger = Trigger {
            at: self.now,
            cause: MoveCause::Operator,
        };
        self.start_probe(id, trigger, paths, gone);
        Ok(())
    }

    /// `update [SA]`: UPDATE_SA_ADDRESSES now.
    pub(crate) fn command_update(&mut self, id: SaId) -> Result<(), CommandError> {
        let sa = self.sas.get_mut(&id).ok_or(CommandError::UnknownSa(id))?;
        if !sa.peer_mobike {
            return Err(CommandError::Invalid(format!(
                "IKE SA {id}: MOBIKE is not negotiated"
            )));
        }
        if !sa.original_initiator {
            return Err(CommandError::Invalid(format!(
                "IKE SA {id}: only the original initiator sends UPDATE_SA_ADDRESSES (use `send {id} UPDATE_SA_ADDRESSES` to break the rule)"
            )));
        }
        sa.mobike.update_due = Some(Trigger {
            at: self.now,
            cause: MoveCause::Operator,
        });
        // an UPDATE in flight describes the path as it was when it left: the operator's
        // comes after it (once), not instead of it
        if !sa.queue.contains(&Task::Update) {
            sa.queue.push_back(Task::Update);
        }
        self.start_queued(id);
        Ok(())
    }

    /// `move LOCAL [REMOTE]`: probe that one path, then move there.
    pub(crate) fn command_move(
        &mut self,
        id: SaId,
        local: IpAddr,
        remote: Option<IpAddr>,
    ) -> Result<(), CommandError> {
        let sa = self.sas.get(&id).ok_or(CommandError::UnknownSa(id))?;
        if !sa.peer_mobike {
            return Err(CommandError::Invalid(format!(
                "IKE SA {id}: MOBIKE is not negotiated"
            )));
        }
        if !self.local_addrs.contains(&local) {
            return Err(CommandError::Invalid(format!(
                "{local} is not one of our addresses ({})",
                self.local_addrs
                    .iter()
                    .map(|a| a.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let path = self
            .candidates(id, true)
            .into_iter()
            .chain(
                self.sas
                    .get(&id)
                    .map(|s| s.mobike.refused.clone())
                    .unwrap_or_default(),
            )
            .find(|p| p.local.ip() == local && remote.is_none_or(|r| p.remote.ip() == r));
        let Some(path) = path else {
            return Err(CommandError::Invalid(format!(
                "no path from {local}{} for IKE SA {id}",
                remote.map(|r| format!(" to {r}")).unwrap_or_default()
            )));
        };
        if let Some(sa) = self.sas.get_mut(&id) {
            sa.mobike.refused.retain(|p| *p != path);
        }
        let trigger = Trigger {
            at: self.now,
            cause: MoveCause::Operator,
        };
        self.start_probe(id, trigger, vec![path], true);
        Ok(())
    }

    /// `send SA NOTIFY...`: a crafted INFORMATIONAL.
    pub(crate) fn command_crafted(
        &mut self,
        id: SaId,
        notifies: Vec<(u16, Vec<u8>)>,
    ) -> Result<(), CommandError> {
        let sa = self.sas.get_mut(&id).ok_or(CommandError::UnknownSa(id))?;
        sa.mobike.crafted.push_back(notifies);
        self.queue_task(id, Task::Crafted);
        Ok(())
    }
}
