//! RFC 7383 reassembly of IKE fragments (SKF payloads), after decryption.
//!
//! Each fragment is integrity-protected and decrypted on its own; this buffer collects the
//! decrypted pieces per message — `(SPIi, SPIr, message ID, Initiator flag, Response flag)` —
//! in any order and joins them when every fragment number from 1 to Total Fragments is there.
//! The inner payload chain of the joined data starts with the type in fragment 1's
//! next-payload field.
//!
//! Without keys the pieces carry no data, but the buffer still tracks fragment numbers, so
//! duplicates and missing fragments are reported either way.
//!
//! Memory is bounded: at most [`FragmentLimits::max_messages`] messages in reassembly and
//! [`FragmentLimits::max_bytes`] of buffered plaintext (oldest evicted first, with a
//! diagnostic), Total Fragments at most [`FragmentLimits::max_fragments`], and a message whose
//! first fragment is older than [`FragmentLimits::timeout_us`] of capture time is dropped and
//! reported as incomplete.
use std::collections::{BTreeMap, HashMap};

use crate::capture::Severity;

use super::Diagnostic;

/// Bounds of the reassembly buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentLimits {
    /// Messages in reassembly at the same time (1024).
    pub max_messages: usize,
    /// Buffered plaintext over all messages (8 MiB).
    pub max_bytes: usize,
    /// Largest Total Fragments accepted (1024; a 64 KiB message cut into 64-byte pieces).
    pub max_fragments: u16,
    /// Capture time after the first fragment before an incomplete message is dropped (30 s).
    pub timeout_us: i64,
}

impl Default for FragmentLimits {
    fn default() -> Self {
        FragmentLimits {
            max_messages: 1024,
            max_bytes: 8 << 20,
            max_fragments: 1024,
            timeout_us: 30_000_000,
        }
    }
}

/// Which message a fragment belongs to: SPIs, message ID, Initiator and Response flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FragmentKey {
    pub spi_i: u64,
    pub spi_r: u64,
    pub message_id: u32,
    pub initiator: bool,
    pub response: bool,
}

impl FragmentKey {
    fn describe(&self) -> String {
        format!(
            "IKE SA {:016x}/{:016x} message ID {} ({} {})",
            self.spi_i,
            self.spi_r,
            self.message_id,
            if self.initiator {
                "initiator"
            } else {
                "responder"
            },
            if self.response { "response" } else { "request" },
        )
    }
}

/// One received fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment {
    pub frame: u64,
    pub time_us: i64,
    pub number: u16,
    pub total: u16,
    /// The SKF next-payload field (first inner payload type in fragment 1).
    pub next_payload: u8,
    /// Decrypted inner bytes (padding removed); `None` without keys.
    pub data: Option<Vec<u8>>,
}

/// A message whose fragments are all there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reassembled {
    /// Type of the first inner payload (fragment 1's next-payload field).
    pub first_payload: u8,
    /// The joined plaintext; `None` when some fragment was not decrypted (no keys).
    pub data: Option<Vec<u8>>,
    /// Frame numbers of the fragments, in fragment-number order.
    pub frames: Vec<u64>,
}

struct Piece {
    frame: u64,
    next_payload: u8,
    data: Option<Vec<u8>>,
}

struct Pending {
    total: u16,
    first_frame: u64,
    first_time_us: i64,
    /// Insertion order, for eviction of the oldest.
    seq: u64,
    bytes: usize,
    pieces: BTreeMap<u16, Piece>,
}

impl Pending {
    fn status(&self) -> String {
        let missing: Vec<String> = (1..=self.total)
            .filter(|n| !self.pieces.contains_key(n))
            .take(16)
            .map(|n| n.to_string())
            .collect();
        let have: Vec<String> = self.pieces.keys().map(|n| n.to_string()).collect();
        let more = if usize::from(self.total) - self.pieces.len() > missing.len() {
            ", ..."
        } else {
            ""
        };
        format!(
            "have fragment(s) {} of {}, missing {}{more}",
            have.join(","),
            self.total,
            missing.join(",")
        )
    }

    /// The message of a complete set: fragment 1's first payload type, the joined
    /// plaintext (when every fragment was decrypted) and the frames.
    fn joined(self) -> Reassembled {
        let first_payload = self.pieces.get(&1).map_or(0, |p| p.next_payload);
        let frames = self.pieces.values().map(|p| p.frame).collect();
        let data = if self.pieces.values().all(|p| p.data.is_some()) {
            let mut joined = Vec::with_capacity(self.bytes);
            for p in self.pieces.values() {
                if let Some(d) = &p.data {
                    joined.extend_from_slice(d);
                }
            }
            Some(joined)
        } else {
            None
        };
        Reassembled {
            first_payload,
            data,
            frames,
        }
    }
}

/// The reassembly buffer (see the module documentation).
pub struct FragmentReassembly {
    limits: FragmentLimits,
    pending: HashMap<FragmentKey, Pending>,
    /// Recently reassembled messages: capture time and frame of completion. Fragments of a
    /// retransmission arriving within the timeout are reported as repeats, not reassembled
    /// again (without keys, a corrupted fragment would otherwise start a set that never
    /// completes).
    completed: HashMap<FragmentKey, (i64, u64)>,
    bytes: usize,
    seq: u64,
    /// Capture time of the last timeout sweep: sweeps run at most once per capture second, so
    /// the per-message cost stays O(1) however many messages are in reassembly.
    last_sweep_us: Option<i64>,
}

impl Default for FragmentReassembly {
    fn default() -> Self {
        Self::new(FragmentLimits::default())
    }
}

impl FragmentReassembly {
    pub fn new(limits: FragmentLimits) -> Self {
        FragmentReassembly {
            limits,
            pending: HashMap::new(),
            completed: HashMap::new(),
            bytes: 0,
            seq: 0,
            last_sweep_us: None,
        }
    }

    /// Messages currently in reassembly.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Bytes of plaintext currently buffered.
    pub fn buffered_bytes(&self) -> usize {
        self.bytes
    }

    /// Adds one fragment. Returns the reassembled message when this fragment completes it;
    /// problems (duplicates, bad numbering, evictions) go to `diags`.
    pub fn add(
        &mut self,
        key: FragmentKey,
        frag: Fragment,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<Reassembled> {
        self.expire(frag.time_us, diags);
        if let Some(d) = self.refusal(&key, &frag) {
            diags.push(d);
            return None;
        }
        if !self.keep_newest_transmission(&key, &frag, diags) {
            return None;
        }
        let len = frag.data.as_ref().map_or(0, Vec::len);
        if len > self.limits.max_bytes {
            diags.push(Diagnostic {
                frame: frag.frame,
                severity: Severity::Warning,
                message: format!("fragment of {len} bytes exceeds the reassembly buffer"),
            });
            return None;
        }
        self.make_room(&key, len, diags);
        let (time_us, frame) = (frag.time_us, frag.frame);
        if !self.store_piece(key, frag, len, diags) {
            return None;
        }
        let done = self.remove(&key)?;
        self.remember_completed(key, time_us, frame);
        Some(done.joined())
    }

    /// Why a fragment is not reassembled at all: its numbering is out of range or beyond
    /// the limit, or its message was reassembled already.
    fn refusal(&self, key: &FragmentKey, frag: &Fragment) -> Option<Diagnostic> {
        if frag.number == 0 || frag.total == 0 || frag.number > frag.total {
            return Some(Diagnostic {
                frame: frag.frame,
                severity: Severity::Malformed,
                message: format!(
                    "fragment number {} of {} is out of range (RFC 7383 §2.5); not reassembled",
                    frag.number, frag.total
                ),
            });
        }
        if frag.total > self.limits.max_fragments {
            return Some(Diagnostic {
                frame: frag.frame,
                severity: Severity::Warning,
                message: format!(
                    "{} fragments announced, more than the {} reassembled; fragment {} not buffered",
                    frag.total, self.limits.max_fragments, frag.number
                ),
            });
        }
        let &(_, done_frame) = self.completed.get(key)?;
        Some(Diagnostic {
            frame: frag.frame,
            severity: Severity::Info,
            message: format!(
                "fragment {}/{} of {} repeats a message already reassembled in frame {done_frame}; ignored",
                frag.number,
                frag.total,
                key.describe()
            ),
        })
    }

    /// A fragment whose Total Fragments differs from that of the message in reassembly
    /// belongs to another transmission: the newest (larger total) is kept. Returns false
    /// when the fragment is the older one, and ignored.
    fn keep_newest_transmission(
        &mut self,
        key: &FragmentKey,
        frag: &Fragment,
        diags: &mut Vec<Diagnostic>,
    ) -> bool {
        let Some(p) = self.pending.get(key) else {
            return true;
        };
        if frag.total < p.total {
            // RFC 7383 §2.6.2: a smaller Total Fragments belongs to an older transmission.
            diags.push(Diagnostic {
                frame: frag.frame,
                severity: Severity::Info,
                message: format!(
                    "fragment {}/{} of {} ignored: a retransmission with {} fragments is being reassembled",
                    frag.number, frag.total, key.describe(), p.total
                ),
            });
            return false;
        }
        if frag.total > p.total {
            diags.push(Diagnostic {
                frame: frag.frame,
                severity: Severity::Info,
                message: format!(
                    "{} retransmitted with {} fragments instead of {}: the earlier fragments are discarded",
                    key.describe(), frag.total, p.total
                ),
            });
            self.remove(key);
        }
        true
    }

    /// Make room for `len` more bytes and, for a new message, one more message: evict the
    /// oldest messages (never the one this fragment belongs to).
    fn make_room(&mut self, key: &FragmentKey, len: usize, diags: &mut Vec<Diagnostic>) {
        while (self.bytes + len > self.limits.max_bytes
            || (!self.pending.contains_key(key) && self.pending.len() >= self.limits.max_messages))
            && !self.pending.is_empty()
        {
            let oldest = self
                .pending
                .iter()
                .filter(|(k, _)| *k != key)
                .min_by_key(|(_, p)| p.seq)
                .map(|(k, _)| *k);
            let Some(old) = oldest else { break };
            if let Some(p) = self.remove(&old) {
                diags.push(Diagnostic {
                    frame: p.first_frame,
                    severity: Severity::Warning,
                    message: format!(
                        "fragments of {} evicted (reassembly buffer full): {}",
                        old.describe(),
                        p.status()
                    ),
                });
            }
        }
    }

    /// Buffer the fragment (`len` bytes of plaintext) unless its number was seen already.
    /// Returns true when its message now has every fragment.
    fn store_piece(
        &mut self,
        key: FragmentKey,
        frag: Fragment,
        len: usize,
        diags: &mut Vec<Diagnostic>,
    ) -> bool {
        self.seq += 1;
        let seq = self.seq;
        let entry = self.pending.entry(key).or_insert_with(|| Pending {
            total: frag.total,
            first_frame: frag.frame,
            first_time_us: frag.time_us,
            seq,
            bytes: 0,
            pieces: BTreeMap::new(),
        });
        if let Some(first) = entry.pieces.get(&frag.number) {
            diags.push(Diagnostic {
                frame: frag.frame,
                severity: Severity::Info,
                message: format!(
                    "duplicate fragment {}/{} of {} (first seen in frame {}); ignored",
                    frag.number,
                    frag.total,
                    key.describe(),
                    first.frame
                ),
            });
            return false;
        }
        entry.bytes += len;
        self.bytes += len;
        entry.pieces.insert(
            frag.number,
            Piece {
                frame: frag.frame,
                next_payload: frag.next_payload,
                data: frag.data,
            },
        );
        entry.pieces.len() >= usize::from(entry.total)
    }

    /// Note a message reassembled at `time_us` in `frame`, so that its retransmitted
    /// fragments are recognised; the oldest note makes way beyond the message limit.
    fn remember_completed(&mut self, key: FragmentKey, time_us: i64, frame: u64) {
        if self.completed.len() >= self.limits.max_messages {
            let oldest = self
                .completed
                .iter()
                .min_by_key(|(_, v)| v.0)
                .map(|(k, _)| *k);
            if let Some(k) = oldest {
                self.completed.remove(&k);
            }
        }
        self.completed.insert(key, (time_us, frame));
    }

    fn remove(&mut self, key: &FragmentKey) -> Option<Pending> {
        let p = self.pending.remove(key)?;
        self.bytes = self.bytes.saturating_sub(p.bytes);
        Some(p)
    }

    /// Drops messages whose first fragment is older than the timeout at capture time `now_us`,
    /// reporting what was missing. Sweeps at most once per second of capture time.
    pub fn expire(&mut self, now_us: i64, diags: &mut Vec<Diagnostic>) {
        if let Some(last) = self.last_sweep_us {
            if (last..last.saturating_add(1_000_000)).contains(&now_us) {
                return;
            }
        }
        self.last_sweep_us = Some(now_us);
        let timeout = self.limits.timeout_us;
        if !self.completed.is_empty() {
            self.completed
                .retain(|_, (t, _)| now_us.saturating_sub(*t) <= timeout);
        }
        if self
            .pending
            .values()
            .all(|p| now_us.saturating_sub(p.first_time_us) <= timeout)
        {
            return;
        }
        let mut old: Vec<(u64, FragmentKey)> = self
            .pending
            .iter()
            .filter(|(_, p)| now_us.saturating_sub(p.first_time_us) > timeout)
            .map(|(k, p)| (p.seq, *k))
            .collect();
        old.sort_unstable();
        for (_, key) in old {
            if let Some(p) = self.remove(&key) {
                diags.push(Diagnostic {
                    frame: p.first_frame,
                    severity: Severity::Warning,
                    message: format!(
                        "incomplete fragmented message, {} s without the missing fragments: {}: {}",
                        timeout / 1_000_000,
                        key.describe(),
                        p.status()
                    ),
                });
            }
        }
    }

    /// Reports and drops everything still in reassembly (end of a capture).
    pub fn finish(&mut self, diags: &mut Vec<Diagnostic>) {
        self.completed.clear();
        self.last_sweep_us = None;
        let mut all: Vec<(u64, FragmentKey)> =
            self.pending.iter().map(|(k, p)| (p.seq, *k)).collect();
        all.sort_unstable();
        for (_, key) in all {
            if let Some(p) = self.remove(&key) {
                diags.push(Diagnostic {
                    frame: p.first_frame,
                    severity: Severity::Warning,
                    message: format!(
                        "incomplete fragmented message at end of capture: {}: {}",
                        key.describe(),
                        p.status()
                    ),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: FragmentKey = FragmentKey {
        spi_i: 1,
        spi_r: 2,
        message_id: 1,
        initiator: true,
        response: false,
    };

    fn frag(frame: u64, number: u16, total: u16, data: &[u8]) -> Fragment {
        Fragment {
            frame,
            time_us: frame as i64 * 1000,
            number,
            total,
            next_payload: if number == 1 { 35 } else { 0 },
            data: Some(data.to_vec()),
        }
    }

    #[test]
    fn out_of_order_with_a_duplicate() {
        let mut r = FragmentReassembly::default();
        let mut d = Vec::new();
        assert!(r.add(KEY, frag(1, 3, 3, b"cc"), &mut d).is_none());
        assert!(r.add(KEY, frag(2, 1, 3, b"aa"), &mut d).is_none());
        assert!(r.add(KEY, frag(3, 1, 3, b"xx"), &mut d).is_none());
        assert_eq!(d.len(), 1);
        assert!(d[0].message.contains("duplicate fragment 1/3"), "{:?}", d);
        let done = r.add(KEY, frag(4, 2, 3, b"bb"), &mut d).unwrap();
        assert_eq!(done.data.as_deref(), Some(&b"aabbcc"[..]));
        assert_eq!(done.frames, vec![2, 4, 1]);
        assert_eq!(done.first_payload, 35);
        assert_eq!((r.pending(), r.buffered_bytes()), (0, 0));
    }

    #[test]
    fn missing_fragments_are_reported_on_timeout_and_at_the_end() {
        let mut r = FragmentReassembly::default();
        let mut d = Vec::new();
        r.add(KEY, frag(1, 1, 3, b"a"), &mut d);
        let other = FragmentKey {
            message_id: 2,
            ..KEY
        };
        let mut late = frag(2, 2, 2, b"b");
        late.time_us = 31_000_000 + 1000;
        r.add(other, late, &mut d);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].frame, 1);
        assert!(d[0].message.contains("missing 2,3"), "{}", d[0].message);
        r.finish(&mut d);
        assert_eq!(d.len(), 2);
        assert!(d[1].message.contains("end of capture"));
        assert!(d[1].message.contains("missing 1"), "{}", d[1].message);
    }

    #[test]
    fn limits_hold() {
        let mut r = FragmentReassembly::new(FragmentLimits {
            max_messages: 2,
            max_bytes: 10,
            max_fragments: 4,
            timeout_us: 1_000_000_000,
        });
        let mut d = Vec::new();
        for mid in 0..5 {
            let k = FragmentKey {
                message_id: mid,
                ..KEY
            };
            r.add(k, frag(u64::from(mid) + 1, 1, 2, b"1234"), &mut d);
            assert!(r.pending() <= 2 && r.buffered_bytes() <= 10);
        }
        assert_eq!(d.len(), 3, "{d:?}");
        assert!(r.add(KEY, frag(9, 1, 5, b""), &mut d).is_none());
        assert!(d.last().unwrap().message.contains("5 fragments announced"));
        assert!(r.add(KEY, frag(9, 0, 5, b""), &mut d).is_none());
        assert!(r.add(KEY, frag(9, 3, 2, b""), &mut d).is_none());
        assert_eq!(d.last().unwrap().severity, Severity::Malformed);
    }

    #[test]
    fn a_larger_total_restarts_and_a_smaller_one_is_ignored() {
        let mut r = FragmentReassembly::default();
        let mut d = Vec::new();
        r.add(KEY, frag(1, 1, 2, b"a"), &mut d);
        r.add(KEY, frag(2, 1, 3, b"A"), &mut d);
        r.add(KEY, frag(3, 2, 2, b"b"), &mut d);
        r.add(KEY, frag(4, 2, 3, b"B"), &mut d);
        let done = r.add(KEY, frag(5, 3, 3, b"C"), &mut d).unwrap();
        assert_eq!(done.data.as_deref(), Some(&b"ABC"[..]));
        assert_eq!(d.len(), 2);
    }

    #[test]
    fn a_retransmitted_message_is_not_reassembled_twice() {
        let mut r = FragmentReassembly::default();
        let mut d = Vec::new();
        r.add(KEY, frag(1, 1, 2, b"a"), &mut d);
        assert!(r.add(KEY, frag(2, 2, 2, b"b"), &mut d).is_some());
        assert!(r.add(KEY, frag(3, 2, 2, b"b"), &mut d).is_none());
        assert!(
            d[0].message.contains("already reassembled in frame 2"),
            "{d:?}"
        );
        r.finish(&mut d);
        assert_eq!(d.len(), 1);
        // After the timeout the same key reassembles again.
        let mut late = frag(4, 1, 1, b"c");
        late.time_us = 40_000_000;
        assert!(r.add(KEY, late, &mut d).is_some());
    }

    #[test]
    fn without_keys_numbers_still_complete() {
        let mut r = FragmentReassembly::default();
        let mut d = Vec::new();
        let mut f = frag(1, 2, 2, b"");
        f.data = None;
        r.add(KEY, f, &mut d);
        let mut f = frag(2, 1, 2, b"");
        f.data = None;
        let done = r.add(KEY, f, &mut d).unwrap();
        assert_eq!(done.data, None);
        assert_eq!(done.frames, vec![2, 1]);
    }
}
