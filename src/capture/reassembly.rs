//! IPv4 / IPv6 fragment reassembly with bounded memory.
//!
//! * At most `max_reassemblies` datagrams and `max_reassembly_bytes` buffered bytes; when a
//!   new fragment would exceed either, the oldest reassemblies are dropped (Warning).
//! * A reassembly not completed within `reassembly_timeout_us` of capture time after its
//!   first fragment is dropped (Warning), as are those still pending at the end (`finish`).
//! * Duplicate fragments are ignored; overlapping fragments keep the bytes that arrived
//!   first (RFC 5722 would drop the datagram; for a dissector the first copy is the most
//!   useful) and, if the overlap disagrees, a Malformed diagnostic is reported once.
//! * Buffers of completed datagrams can be handed back with [`Reassembler::recycle`] so
//!   that steady-state reassembly does not allocate.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use super::{CaptureEvent, CaptureOptions, Severity};

/// Largest reassembled payload we accept (the IP length fields are 16 bits).
const MAX_DATAGRAM: u32 = 65535;
/// Completed-datagram buffers kept for reuse.
const POOL_SIZE: usize = 16;

/// Identifies the datagram a fragment belongs to (RFC 791 / RFC 8200).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FragKey {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IPv4 identification (16 bits) or IPv6 fragment header identification.
    pub id: u32,
    /// IPv4 protocol, or the IPv6 fragment header's next header.
    pub proto: u8,
}

/// One fragment: its place in the datagram's payload and its bytes.
#[derive(Debug, Clone, Copy)]
pub struct Fragment<'a> {
    pub key: FragKey,
    /// Byte offset in the reassembled payload.
    pub offset: u32,
    /// More-fragments flag.
    pub more: bool,
    pub data: &'a [u8],
    pub frame: u64,
    pub time_us: i64,
}

/// A completed datagram payload.
#[derive(Debug)]
pub struct Reassembled {
    pub key: FragKey,
    pub data: Vec<u8>,
    pub first_frame: u64,
    pub fragments: u32,
}

#[derive(Debug)]
struct Pending {
    first_frame: u64,
    first_time_us: i64,
    data: Vec<u8>,
    /// Received byte ranges `[start, end)`, sorted and merged.
    ranges: Vec<(u32, u32)>,
    total: Option<u32>,
    fragments: u32,
    conflict_reported: bool,
}

/// How a fragment met the bytes already received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Overlap {
    /// It overlaps none of them.
    Disjoint,
    /// It overlaps some, with the same content (a duplicate).
    Same,
    /// It overlaps some with different content.
    Different,
}

impl Pending {
    fn received(&self) -> u32 {
        self.ranges.iter().map(|(s, e)| e - s).sum()
    }

    /// Why a fragment ending at `end` (`more`: not the final one) contradicts what is
    /// known of the datagram's end, if it does.
    fn end_conflict(&self, more: bool, end: u32) -> Option<String> {
        let have_end = self.ranges.last().map_or(0, |r| r.1);
        match (self.total, more) {
            (Some(t), false) if t != end => Some(format!(
                "conflicting final fragments (datagram ends at {t} and at {end})"
            )),
            (Some(t), true) if end > t => Some(format!(
                "fragment ends at {end}, beyond the final fragment's end {t}"
            )),
            (None, false) if have_end > end => Some(format!(
                "final fragment ends at {end} but earlier fragments reach {have_end}"
            )),
            _ => None,
        }
    }

    /// Take the bytes `[start, end)` of a fragment (`frag`: its data) that were not
    /// received yet; the overlapping ones keep their first copy and are compared.
    fn merge(&mut self, frag: &[u8], start: u32, end: u32) -> Overlap {
        let mut pos = start;
        let mut conflict = false;
        let mut overlapped = false;
        for &(s, e) in &self.ranges {
            if pos >= end || s >= end {
                break;
            }
            if e <= pos {
                continue;
            }
            if s > pos {
                copy(&mut self.data, frag, start, pos, s);
            }
            let (os, oe) = (s.max(pos), e.min(end));
            overlapped = true;
            let old = self.data.get(os as usize..oe as usize);
            let new = frag.get((os - start) as usize..(oe - start) as usize);
            if old != new {
                conflict = true;
            }
            pos = oe;
        }
        if pos < end {
            copy(&mut self.data, frag, start, pos, end);
        }
        if start < end {
            add_range(&mut self.ranges, start, end);
        }
        match (overlapped, conflict) {
            (_, true) => Overlap::Different,
            (true, false) => Overlap::Same,
            (false, false) => Overlap::Disjoint,
        }
    }

    /// Every byte up to the final fragment's end has arrived.
    fn is_complete(&self) -> bool {
        matches!((self.total, self.ranges.as_slice()), (Some(t), [(0, e)]) if *e == t)
            || self.total == Some(0)
    }
}

/// Counters exposed through [`super::CaptureStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReassemblyStats {
    pub fragments: u64,
    pub reassembled: u64,
    pub dropped: u64,
    pub duplicates: u64,
}

/// Fragment reassembly state.
#[derive(Debug)]
pub struct Reassembler {
    pending: HashMap<FragKey, Pending>,
    bytes: usize,
    timeout_us: i64,
    max_entries: usize,
    max_bytes: usize,
    /// Earliest capture time at which some pending datagram expires.
    next_deadline: i64,
    pool: Vec<Vec<u8>>,
    pub stats: ReassemblyStats,
}

fn diag(out: &mut VecDeque<CaptureEvent>, frame: u64, severity: Severity, message: String) {
    out.push_back(CaptureEvent::Diagnostic {
        frame,
        severity,
        message,
    });
}

fn family(key: &FragKey) -> &'static str {
    if key.src.is_ipv4() {
        "IPv4"
    } else {
        "IPv6"
    }
}

fn describe(key: &FragKey, p: &Pending) -> String {
    let total = match p.total {
        Some(t) => t.to_string(),
        None => "?".to_string(),
    };
    format!(
        "{} datagram {} -> {} id 0x{:x} ({} fragments, {} of {} bytes)",
        family(key),
        key.src,
        key.dst,
        key.id,
        p.fragments,
        p.received(),
        total
    )
}

impl Reassembler {
    pub fn new(opts: &CaptureOptions) -> Reassembler {
        Reassembler {
            pending: HashMap::new(),
            bytes: 0,
            timeout_us: opts.reassembly_timeout_us.max(0),
            max_entries: opts.max_reassemblies.max(1),
            max_bytes: opts.max_reassembly_bytes,
            next_deadline: i64::MAX,
            pool: Vec::new(),
            stats: ReassemblyStats::default(),
        }
    }

    /// Number of datagrams being reassembled.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Bytes buffered by pending reassemblies.
    pub fn buffered_bytes(&self) -> usize {
        self.bytes
    }

    /// Hand back the buffer of a [`Reassembled`] datagram for reuse.
    pub fn recycle(&mut self, mut buf: Vec<u8>) {
        if self.pool.len() < POOL_SIZE {
            buf.clear();
            self.pool.push(buf);
        }
    }

    fn remove(&mut self, key: &FragKey) -> Option<Pending> {
        let p = self.pending.remove(key)?;
        self.bytes -= p.data.len();
        Some(p)
    }

    fn drop_with(
        &mut self,
        key: FragKey,
        why: &str,
        out: &mut VecDeque<CaptureEvent>,
    ) -> Option<()> {
        let p = self.remove(&key)?;
        self.stats.dropped += 1;
        diag(
            out,
            p.first_frame,
            Severity::Warning,
            format!("{}: {}", why, describe(&key, &p)),
        );
        self.recycle(p.data);
        Some(())
    }

    fn oldest(&self, except: Option<&FragKey>) -> Option<FragKey> {
        self.pending
            .iter()
            .filter(|(k, _)| Some(*k) != except)
            .min_by_key(|(_, p)| (p.first_time_us, p.first_frame))
            .map(|(k, _)| *k)
    }

    /// Drop reassemblies older than the timeout at capture time `now_us`. Cheap when
    /// nothing is due: one comparison.
    #[inline]
    pub fn expire(&mut self, now_us: i64, out: &mut VecDeque<CaptureEvent>) {
        if now_us >= self.next_deadline {
            self.expire_slow(now_us, out);
        }
    }

    fn expire_slow(&mut self, now_us: i64, out: &mut VecDeque<CaptureEvent>) {
        let timeout = self.timeout_us;
        let mut due: Vec<(u64, FragKey)> = self
            .pending
            .iter()
            .filter(|(_, p)| now_us.saturating_sub(p.first_time_us) >= timeout)
            .map(|(k, p)| (p.first_frame, *k))
            .collect();
        due.sort_by_key(|(f, _)| *f);
        let why = format!(
            "fragment reassembly timed out after {} s",
            timeout / 1_000_000
        );
        for (_, key) in due {
            self.drop_with(key, &why, out);
        }
        self.update_deadline();
    }

    fn update_deadline(&mut self) {
        self.next_deadline = self
            .pending
            .values()
            .map(|p| p.first_time_us.saturating_add(self.timeout_us))
            .min()
            .unwrap_or(i64::MAX);
    }

    /// Report and drop everything still pending (end of capture).
    pub fn finish(&mut self, out: &mut VecDeque<CaptureEvent>) {
        let mut keys: Vec<(u64, FragKey)> = self
            .pending
            .iter()
            .map(|(k, p)| (p.first_frame, *k))
            .collect();
        keys.sort_by_key(|(f, _)| *f);
        for (_, key) in keys {
            self.drop_with(key, "fragment reassembly incomplete at end of capture", out);
        }
        self.next_deadline = i64::MAX;
    }

    /// Add a fragment; returns the datagram payload when this fragment completed it.
    pub fn insert(
        &mut self,
        frag: Fragment<'_>,
        out: &mut VecDeque<CaptureEvent>,
    ) -> Option<Reassembled> {
        self.stats.fragments += 1;
        let key = frag.key;
        let (start, end) = fragment_span(&frag, out)?;
        if !self.pending.contains_key(&key) {
            self.open(&frag, out);
        }
        if let Some(msg) = self
            .pending
            .get(&key)
            .and_then(|p| p.end_conflict(frag.more, end))
        {
            diag(
                out,
                frag.frame,
                Severity::Malformed,
                format!("{} {}; fragment ignored", family(&key), msg),
            );
            return None;
        }
        let grow = self.make_room(key, end, out)?;

        let p = self.pending.get_mut(&key)?;
        p.fragments += 1;
        if !frag.more {
            p.total = Some(end);
        }
        if p.data.len() < end as usize {
            p.data.resize(end as usize, 0);
        }
        self.bytes += grow;
        let overlap = p.merge(frag.data, start, end);
        if overlap == Overlap::Same {
            self.stats.duplicates += 1;
        }
        if overlap == Overlap::Different && !p.conflict_reported {
            p.conflict_reported = true;
            diag(
                out,
                frag.frame,
                Severity::Malformed,
                format!(
                    "{} fragment overlaps earlier data with different content; keeping the first copy",
                    family(&key)
                ),
            );
        }
        if !p.is_complete() {
            return None;
        }
        self.complete(key)
    }

    /// Start reassembling the datagram of `frag`, first dropping the oldest reassemblies
    /// beyond the limit on their number.
    fn open(&mut self, frag: &Fragment<'_>, out: &mut VecDeque<CaptureEvent>) {
        while self.pending.len() >= self.max_entries {
            let Some(old) = self.oldest(None) else { break };
            self.drop_with(old, "too many concurrent fragment reassemblies", out);
        }
        let data = self.pool.pop().unwrap_or_default();
        self.pending.insert(
            frag.key,
            Pending {
                first_frame: frag.frame,
                first_time_us: frag.time_us,
                data,
                ranges: Vec::new(),
                total: None,
                fragments: 0,
                conflict_reported: false,
            },
        );
        self.next_deadline = self
            .next_deadline
            .min(frag.time_us.saturating_add(self.timeout_us));
    }

    /// Memory bound: room for `key`'s datagram to grow to `end` bytes, made by dropping
    /// the oldest other reassemblies. Returns the growth; `None` when `key`'s own
    /// reassembly had to be dropped.
    fn make_room(
        &mut self,
        key: FragKey,
        end: u32,
        out: &mut VecDeque<CaptureEvent>,
    ) -> Option<usize> {
        let grow = self
            .pending
            .get(&key)
            .map_or(0, |p| (end as usize).saturating_sub(p.data.len()));
        while self.bytes + grow > self.max_bytes {
            match self.oldest(Some(&key)) {
                Some(old) => {
                    self.drop_with(old, "fragment reassembly memory limit reached", out);
                }
                None => {
                    self.drop_with(key, "fragment reassembly memory limit reached", out);
                    return None;
                }
            }
        }
        Some(grow)
    }

    /// Hand out the completed datagram of `key`.
    fn complete(&mut self, key: FragKey) -> Option<Reassembled> {
        let p = self.remove(&key)?;
        self.stats.reassembled += 1;
        if self.pending.is_empty() {
            self.next_deadline = i64::MAX;
        }
        let mut data = p.data;
        data.truncate(p.total.unwrap_or(0) as usize);
        Some(Reassembled {
            key,
            data,
            first_frame: p.first_frame,
            fragments: p.fragments,
        })
    }
}

/// The byte range `[start, end)` a fragment covers in its datagram. `None` (reported)
/// when it ends beyond the largest datagram; a non-final fragment whose length is not a
/// multiple of 8 is reported but kept.
fn fragment_span(frag: &Fragment<'_>, out: &mut VecDeque<CaptureEvent>) -> Option<(u32, u32)> {
    let key = frag.key;
    let Ok(len) = u32::try_from(frag.data.len()) else {
        return None;
    };
    let start = frag.offset;
    let end = match start.checked_add(len) {
        Some(e) if e <= MAX_DATAGRAM => e,
        _ => {
            diag(
                out,
                frag.frame,
                Severity::Malformed,
                format!(
                    "{} fragment at offset {} with {} bytes ends beyond the {}-byte maximum; ignored",
                    family(&key),
                    start,
                    len,
                    MAX_DATAGRAM
                ),
            );
            return None;
        }
    };
    if frag.more && len % 8 != 0 {
        diag(
            out,
            frag.frame,
            Severity::Malformed,
            format!(
                "{} non-final fragment length {} is not a multiple of 8",
                family(&key),
                len
            ),
        );
    }
    Some((start, end))
}

/// Copy datagram bytes `[from, to)` out of a fragment starting at `start`.
fn copy(buf: &mut [u8], frag: &[u8], start: u32, from: u32, to: u32) {
    if let (Some(dst), Some(src)) = (
        buf.get_mut(from as usize..to as usize),
        frag.get((from - start) as usize..(to - start) as usize),
    ) {
        dst.copy_from_slice(src);
    }
}

/// Insert `[s, e)` into sorted, merged `ranges`.
fn add_range(ranges: &mut Vec<(u32, u32)>, s: u32, e: u32) {
    let i = ranges.partition_point(|r| r.1 < s);
    let mut j = i;
    let (mut ns, mut ne) = (s, e);
    while j < ranges.len() && ranges[j].0 <= e {
        ns = ns.min(ranges[j].0);
        ne = ne.max(ranges[j].1);
        j += 1;
    }
    ranges.splice(i..j, std::iter::once((ns, ne)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn key(id: u32) -> FragKey {
        FragKey {
            src: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            dst: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)),
            id,
            proto: 17,
        }
    }

    fn frag(id: u32, offset: u32, more: bool, data: &[u8], frame: u64, t: i64) -> Fragment<'_> {
        Fragment {
            key: key(id),
            offset,
            more,
            data,
            frame,
            time_us: t,
        }
    }

    fn payload(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + 3) as u8).collect()
    }

    #[test]
    fn ranges_merge() {
        let mut r = Vec::new();
        add_range(&mut r, 16, 24);
        add_range(&mut r, 0, 8);
        assert_eq!(r, [(0, 8), (16, 24)]);
        add_range(&mut r, 8, 16);
        assert_eq!(r, [(0, 24)]);
        add_range(&mut r, 30, 40);
        add_range(&mut r, 20, 32);
        assert_eq!(r, [(0, 40)]);
    }

    #[test]
    fn out_of_order_with_duplicate() {
        let d = payload(40);
        let mut r = Reassembler::new(&CaptureOptions::default());
        let mut out = VecDeque::new();
        assert!(r
            .insert(frag(1, 32, false, &d[32..], 1, 0), &mut out)
            .is_none());
        assert!(r
            .insert(frag(1, 0, true, &d[..16], 2, 1), &mut out)
            .is_none());
        assert!(r
            .insert(frag(1, 0, true, &d[..16], 3, 2), &mut out)
            .is_none());
        let done = r.insert(frag(1, 16, true, &d[16..32], 4, 3), &mut out);
        let done = done.expect("complete");
        assert_eq!(done.data, d);
        assert_eq!(done.first_frame, 1);
        assert_eq!(done.fragments, 4);
        assert!(out.is_empty(), "{out:?}");
        assert_eq!(r.pending(), 0);
        assert_eq!(r.buffered_bytes(), 0);
        assert_eq!(r.stats.duplicates, 1);
    }

    #[test]
    fn overlap_conflict_keeps_first() {
        let d = payload(24);
        let mut bad = d[8..24].to_vec();
        bad[0] ^= 0xff;
        let mut r = Reassembler::new(&CaptureOptions::default());
        let mut out = VecDeque::new();
        assert!(r
            .insert(frag(1, 0, true, &d[..16], 1, 0), &mut out)
            .is_none());
        let done = r
            .insert(frag(1, 8, false, &bad, 2, 0), &mut out)
            .expect("done");
        assert_eq!(done.data, d);
        assert_eq!(out.len(), 1);
        assert!(matches!(
            &out[0],
            CaptureEvent::Diagnostic {
                frame: 2,
                severity: Severity::Malformed,
                ..
            }
        ));
    }

    #[test]
    fn timeout_and_finish() {
        let d = payload(16);
        let mut r = Reassembler::new(&CaptureOptions::default());
        let mut out = VecDeque::new();
        r.insert(frag(1, 0, true, &d[..8], 5, 1_000_000), &mut out);
        r.insert(frag(2, 0, true, &d[..8], 6, 20_000_000), &mut out);
        r.expire(30_999_999, &mut out);
        assert!(out.is_empty());
        r.expire(31_000_000, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].frame(), 5);
        r.finish(&mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].frame(), 6);
        assert_eq!(r.buffered_bytes(), 0);
        assert_eq!(r.stats.dropped, 2);
    }

    #[test]
    fn bounded_entries_and_bytes() {
        let opts = CaptureOptions {
            max_reassemblies: 2,
            max_reassembly_bytes: 100,
            ..CaptureOptions::default()
        };
        let d = payload(64);
        let mut r = Reassembler::new(&opts);
        let mut out = VecDeque::new();
        for id in 0..5u32 {
            r.insert(frag(id, 0, true, &d[..8], u64::from(id) + 1, 0), &mut out);
        }
        assert_eq!(r.pending(), 2);
        assert_eq!(out.len(), 3);
        // 64 + 8 + 8 > 100 is fine, another 64 is not: evicts others
        r.insert(frag(10, 0, true, &d[..64], 9, 1), &mut out);
        r.insert(frag(11, 0, true, &d[..64], 10, 2), &mut out);
        assert!(r.buffered_bytes() <= 100);
        assert_eq!(r.pending(), 1);
        // a single datagram bigger than the cap is dropped
        let big = payload(200);
        let opts = CaptureOptions {
            max_reassembly_bytes: 100,
            ..CaptureOptions::default()
        };
        let mut r = Reassembler::new(&opts);
        out.clear();
        assert!(r
            .insert(frag(1, 0, true, &big[..120], 1, 0), &mut out)
            .is_none());
        assert_eq!(r.pending(), 0);
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn bad_fragments() {
        let d = payload(64);
        let mut r = Reassembler::new(&CaptureOptions::default());
        let mut out = VecDeque::new();
        // beyond 65535
        assert!(r
            .insert(frag(1, 65528, true, &d[..16], 1, 0), &mut out)
            .is_none());
        // final at 16, then another final at 24
        r.insert(frag(2, 8, false, &d[..8], 2, 0), &mut out);
        r.insert(frag(2, 16, false, &d[..8], 3, 0), &mut out);
        // non-final beyond the end
        r.insert(frag(2, 16, true, &d[..8], 4, 0), &mut out);
        // non-multiple of 8
        r.insert(frag(3, 0, true, &d[..5], 5, 0), &mut out);
        let frames: Vec<u64> = out.iter().map(|e| e.frame()).collect();
        assert_eq!(frames, [1, 3, 4, 5]);
        // datagram 2 still completes
        let done = r.insert(frag(2, 0, true, &d[8..16], 6, 0), &mut out);
        assert_eq!(done.map(|d| d.data.len()), Some(16));
    }
}
