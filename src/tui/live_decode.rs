//! The live UI's payload tree: a message the event log reported (`sent`, `received`),
//! decoded from the traffic the source recorded (the lab's capture, or the peer's
//! `--pcap`) and decrypted with the engines' own keys (their key log), by the same
//! pipeline as `decode` and the capture browser ([`CaptureIndex`]). The index is built
//! on its own thread when asked for, so neither the engine nor the UI waits for it.
use std::net::SocketAddr;

use super::capture_index::{CaptureIndex, LoadOptions, MessageEntry};
use super::live_model::{LiveModel, MsgRef, SaWire};
use super::payload_tree::TreeState;
use crate::capture::CaptureOptions;
use crate::drill::CaptureFiles;

/// The message to find: what the event said, and the SA's wire identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageTarget {
    pub node: String,
    pub msg: MsgRef,
    pub wire: Option<SaWire>,
    /// Ports the event log saw: with IKE_SA_INIT (plain IKE), with other exchanges.
    pub init_ports: Vec<u16>,
    pub other_ports: Vec<u16>,
}

impl MessageTarget {
    /// The target for a logged message of `node`.
    pub fn new(model: &LiveModel, node: &str, msg: &MsgRef) -> MessageTarget {
        let wire = model
            .nodes
            .iter()
            .find(|n| n.name == node)
            .and_then(|n| n.wire.get(&msg.sa).copied());
        MessageTarget {
            node: node.to_string(),
            msg: msg.clone(),
            wire,
            init_ports: model.init_ports.iter().copied().collect(),
            other_ports: model.other_ports.iter().copied().collect(),
        }
    }

    /// `initiator sent INFORMATIONAL request mid 9`.
    pub fn describe(&self) -> String {
        format!(
            "{} {} {} {} mid {}",
            self.node,
            if self.msg.sent { "sent" } else { "received" },
            self.msg.exchange,
            if self.msg.response {
                "response"
            } else {
                "request"
            },
            self.msg.message_id
        )
    }

    /// Is `m` this message? (SPIs, exchange, message ID, response flag, sender's role.)
    fn matches(&self, m: &MessageEntry) -> bool {
        if m.exchange_name() != self.msg.exchange
            || m.message_id != self.msg.message_id
            || m.is_response() != self.msg.response
        {
            return false;
        }
        let Some(w) = self.wire else {
            return true;
        };
        let spis = m.spi_i == w.spi_i && (m.spi_r == w.spi_r || m.spi_r == 0 || w.spi_r == 0);
        // the I flag is the sender's role: ours when we sent it
        let role = w
            .initiator
            .is_none_or(|ours| m.from_initiator() == (ours == self.msg.sent));
        spis && role
    }

    /// Sent or received on the event's path (a NAT may have changed what the capture shows).
    fn same_path(&self, m: &MessageEntry) -> bool {
        let (src, dst) = if self.msg.sent {
            (&self.msg.local, &self.msg.remote)
        } else {
            (&self.msg.remote, &self.msg.local)
        };
        let is = |a: &SocketAddr, s: &str| s.parse::<SocketAddr>().is_ok_and(|b| b == *a);
        is(&m.src(), src) && is(&m.dst(), dst)
    }

    /// The best match: on the event's path and a first copy, else any copy.
    pub fn find<'a>(&self, index: &'a CaptureIndex) -> Option<&'a MessageEntry> {
        let candidates: Vec<&MessageEntry> =
            index.messages.iter().filter(|m| self.matches(m)).collect();
        candidates
            .iter()
            .find(|m| self.same_path(m) && m.copy == 0)
            .or_else(|| candidates.iter().find(|m| self.same_path(m)))
            .or_else(|| candidates.first())
            .copied()
    }
}

/// A decoded message, ready to draw: its payload tree (the selected line's bytes are
/// highlighted) and bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageView {
    pub title: String,
    pub tree: TreeState,
    /// The message as captured, and its decrypted SK content (when the keys opened it).
    pub raw: Vec<u8>,
    pub plain: Option<Vec<u8>>,
}

impl MessageView {
    /// The bytes the selected line covers: (all bytes shown, highlighted range, decrypted).
    pub fn shown_bytes(&self) -> (&[u8], Option<(usize, usize)>, bool) {
        let range = self.tree.selected_bytes();
        match (range, &self.plain) {
            (Some(r), Some(p)) if r.decrypted => (p, Some((r.start, r.end)), true),
            (Some(r), _) if !r.decrypted => (&self.raw, Some((r.start, r.end)), false),
            _ => (&self.raw, None, false),
        }
    }
}

/// A decoding under way: the capture being indexed on its own thread.
pub struct Decoding {
    pub target: MessageTarget,
    index: CaptureIndex,
}

impl Decoding {
    /// Starts indexing `files` for `target`.
    pub fn start(target: MessageTarget, files: &CaptureFiles) -> Decoding {
        let mut udp_ports = files.ike_ports.clone();
        udp_ports.extend(&target.init_ports);
        // ports only seen after IKE_SA_INIT carry the NAT-T encapsulation (non-ESP marker)
        let mut udp_encap_ports = files.natt_ports.clone();
        udp_encap_ports.extend(target.other_ports.iter().filter(|p| !udp_ports.contains(p)));
        let options = LoadOptions {
            files: vec![files.pcap.clone()],
            keys: files.keys.iter().cloned().collect(),
            capture: CaptureOptions {
                udp_ports,
                udp_encap_ports,
                ..CaptureOptions::default()
            },
        };
        Decoding {
            target,
            index: CaptureIndex::spawn(options),
        }
    }

    /// The result once the capture is indexed (`None` while it is not yet).
    pub fn poll(&mut self) -> Option<Result<MessageView, String>> {
        self.index.absorb();
        if !self.index.progress.done {
            return None;
        }
        Some(self.view())
    }

    fn view(&self) -> Result<MessageView, String> {
        let what = self.target.describe();
        let Some(m) = self.target.find(&self.index) else {
            let why = match &self.index.error {
                Some(e) => e.clone(),
                None => format!(
                    "not in the capture ({} IKE messages; dropped on the way?)",
                    self.index.messages.len()
                ),
            };
            return Err(format!("{what}: {why}"));
        };
        // the same tree as the browser's, fields folded under each payload
        let mut tree = TreeState::new(None, self.index.tree_lines(m));
        // start on the first decrypted payload (what the engine's keys opened), if any
        if let Some(i) = tree
            .lines
            .iter()
            .position(|l| !l.field && l.bytes.is_some_and(|b| b.decrypted))
        {
            tree.selected = i;
        }
        Ok(MessageView {
            title: format!("{what}, frame {} {} -> {}", m.frame, m.src(), m.dst()),
            tree,
            raw: self.index.raw(m).to_vec(),
            plain: self.index.decrypted(m).map(|(p, _)| p.to_vec()),
        })
    }
}
