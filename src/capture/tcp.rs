//! IKE and ESP over TCP (RFC 8229, updated by RFC 9329): per-direction stream reassembly
//! and length-prefixed framing.
//!
//! Each direction of a connection is a separate stream keyed by addresses and ports.
//! Segments are placed by sequence number: retransmitted bytes are dropped, segments that
//! arrive early wait (bounded by `max_tcp_buffer` bytes per direction) until the gap is
//! filled. When the gap cannot be filled (buffer limit, snap-length cut) a Warning is
//! reported and framing restarts at the next segment. The initiator's stream (the SYN
//! sender's, or when the SYN was not captured any stream that starts with it) begins with
//! the 6-byte "IKETCP" prefix, which may be split across segments. Every frame is a 2-byte
//! length (counting itself) followed by either the 4-byte non-ESP marker and an IKE
//! message, or an ESP packet.
//!
//! Streams are bounded in number (`max_tcp_streams`, least recently active evicted); a
//! stream buffers at most one partial frame (< 64 KiB) plus the out-of-order limit.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use super::decoder::{diag, emit_esp, emit_ike, Ctx, Meta};
use super::{CaptureEvent, CaptureOptions, Severity, Transport};

/// The stream prefix sent by the initiator (RFC 8229 section 3).
pub const PREFIX: &[u8; 6] = b"IKETCP";
/// Maximum number of out-of-order segments kept per direction.
const MAX_OOO_SEGMENTS: usize = 64;

/// A TCP segment as seen by the stream reassembler.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Segment<'a> {
    pub meta: Meta,
    pub seq: u32,
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
    /// Captured payload.
    pub payload: &'a [u8],
    /// Payload length according to the IP and TCP headers.
    pub declared_len: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    src: IpAddr,
    sport: u16,
    dst: IpAddr,
    dport: u16,
}

#[derive(Debug, Default)]
struct Stream {
    /// Next expected sequence number.
    next_seq: u32,
    /// The prefix may still be at the start of the data (stream start seen or assumed).
    expect_prefix: bool,
    /// The prefix must be there (the SYN was seen from this side).
    prefix_required: bool,
    /// FIN or RST processed: ignore further data (retransmissions).
    closed: bool,
    /// Sequence number of the FIN, when it arrived before all data.
    fin_seq: Option<u32>,
    /// Bytes of a partial frame (or of a partial prefix).
    buf: Vec<u8>,
    /// Early segments: (sequence number, bytes).
    ooo: Vec<(u32, Vec<u8>)>,
    ooo_bytes: usize,
    last_time_us: i64,
    last_frame: u64,
}

impl Key {
    /// The direction a segment travels in.
    fn of(m: &Meta) -> Key {
        Key {
            src: m.src,
            sport: m.sport,
            dst: m.dst,
            dport: m.dport,
        }
    }

    /// The opposite direction of the same connection.
    fn reversed(self) -> Key {
        Key {
            src: self.dst,
            sport: self.dport,
            dst: self.src,
            dport: self.sport,
        }
    }
}

/// Sequence number comparison modulo 2^32: `a - b` as a signed distance.
fn seq_diff(a: u32, b: u32) -> i64 {
    i64::from(a.wrapping_sub(b) as i32)
}

/// TCP stream state for all connections on IKE TCP ports.
#[derive(Debug)]
pub struct TcpReassembler {
    streams: HashMap<Key, Stream>,
    max_streams: usize,
    max_buffer: usize,
}

fn describe(k: &Key) -> String {
    format!("TCP {}:{} -> {}:{}", k.src, k.sport, k.dst, k.dport)
}

impl TcpReassembler {
    pub fn new(opts: &CaptureOptions) -> TcpReassembler {
        TcpReassembler {
            streams: HashMap::new(),
            max_streams: opts.max_tcp_streams.max(2),
            max_buffer: opts.max_tcp_buffer,
        }
    }

    /// Number of tracked stream directions.
    pub fn streams(&self) -> usize {
        self.streams.len()
    }

    fn evict_one(&mut self, out: &mut VecDeque<CaptureEvent>) {
        let victim = self
            .streams
            .iter()
            .min_by_key(|(_, s)| (!s.closed, s.last_time_us, s.last_frame))
            .map(|(k, _)| *k);
        if let Some(k) = victim {
            if let Some(s) = self.streams.remove(&k) {
                if !s.closed && (!s.buf.is_empty() || !s.ooo.is_empty()) {
                    diag(
                        out,
                        s.last_frame,
                        Severity::Warning,
                        format!(
                            "{}: too many TCP streams; dropped this one with {} bytes buffered",
                            describe(&k),
                            s.buf.len() + s.ooo_bytes
                        ),
                    );
                }
            }
        }
    }

    /// End of capture: report streams with unfinished frames or gaps.
    pub fn finish(&mut self, out: &mut VecDeque<CaptureEvent>) {
        let mut left: Vec<(u64, Key, Stream)> = self
            .streams
            .drain()
            .map(|(k, s)| (s.last_frame, k, s))
            .collect();
        left.sort_by_key(|(f, _, _)| *f);
        for (frame, k, s) in left {
            if s.closed {
                continue;
            }
            if !s.ooo.is_empty() {
                diag(
                    out,
                    frame,
                    Severity::Warning,
                    format!(
                        "{}: capture ended with {} bytes after a gap in the stream",
                        describe(&k),
                        s.ooo_bytes
                    ),
                );
            } else if !s.buf.is_empty() && !s.expect_prefix {
                diag(
                    out,
                    frame,
                    Severity::Warning,
                    format!(
                        "{}: capture ended inside a frame ({} bytes buffered)",
                        describe(&k),
                        s.buf.len()
                    ),
                );
            }
        }
    }

    /// A captured segment: placed in its stream direction by sequence number, and its
    /// bytes framed once they are in order.
    pub(crate) fn segment(
        &mut self,
        ctx: &Ctx,
        seg: &Segment<'_>,
        out: &mut VecDeque<CaptureEvent>,
    ) {
        let key = Key::of(&seg.meta);
        if seg.rst {
            for k in [key, key.reversed()] {
                if let Some(s) = self.streams.get_mut(&k) {
                    close(s, &k, ctx, out, "reset");
                }
            }
            return;
        }
        let mut seq = seg.seq;
        if seg.syn {
            seq = self.restart_at_syn(key, seq, seg.ack, out);
        }
        let data = seg.payload;
        if data.is_empty() && seg.declared_len == 0 && !seg.fin {
            if let Some(s) = self.streams.get_mut(&key) {
                s.last_time_us = ctx.time_us;
                s.last_frame = ctx.frame;
            }
            return;
        }
        if !self.streams.contains_key(&key) {
            if data.is_empty() {
                return;
            }
            self.join_midstream(key, seq, ctx, out);
        }
        let max_buffer = self.max_buffer;
        let Some(s) = self.streams.get_mut(&key) else {
            return;
        };
        s.last_time_us = ctx.time_us;
        s.last_frame = ctx.frame;
        if s.closed {
            return;
        }
        if seg.fin {
            s.fin_seq = Some(seq.wrapping_add(u32::try_from(seg.declared_len).unwrap_or(0)));
        }
        if seq_diff(seq, s.next_seq) > 0 {
            take_early(s, &key, ctx, (seq, data), max_buffer, out);
        } else {
            take_in_order(s, &key, ctx, seq, seg, out);
        }
        if let Some(f) = s.fin_seq {
            if seq_diff(f, s.next_seq) <= 0 {
                close(s, &key, ctx, out, "closed");
            }
        }
    }

    /// A SYN (re)starts its stream direction. Returns the sequence number of the first
    /// data byte.
    fn restart_at_syn(
        &mut self,
        key: Key,
        seq: u32,
        ack: bool,
        out: &mut VecDeque<CaptureEvent>,
    ) -> u32 {
        if !self.streams.contains_key(&key) && self.streams.len() >= self.max_streams {
            self.evict_one(out);
        }
        let s = self.streams.entry(key).or_default();
        *s = Stream {
            buf: std::mem::take(&mut s.buf),
            ..Stream::default()
        };
        s.buf.clear();
        let seq = seq.wrapping_add(1);
        s.next_seq = seq;
        // SYN without ACK: the connecting side, which sends the prefix.
        s.expect_prefix = !ack;
        s.prefix_required = !ack;
        seq
    }

    /// Data on a stream whose start was not captured: framing starts at this segment.
    fn join_midstream(&mut self, key: Key, seq: u32, ctx: &Ctx, out: &mut VecDeque<CaptureEvent>) {
        if self.streams.len() >= self.max_streams {
            self.evict_one(out);
        }
        diag(
            out,
            ctx.frame,
            Severity::Info,
            format!(
                "{}: connection start not captured; assuming this segment starts a frame",
                describe(&key)
            ),
        );
        self.streams.insert(
            key,
            Stream {
                next_seq: seq,
                expect_prefix: true,
                ..Stream::default()
            },
        );
    }
}

/// A segment (`seq`, `data`) beyond the next expected byte waits for the gap to fill,
/// unless the early bytes outgrow the limits: then the gap is skipped.
fn take_early(
    s: &mut Stream,
    key: &Key,
    ctx: &Ctx,
    (seq, data): (u32, &[u8]),
    max_buffer: usize,
    out: &mut VecDeque<CaptureEvent>,
) {
    if data.is_empty() {
        return;
    }
    store_early(s, seq, data);
    if s.ooo_bytes > max_buffer || s.ooo.len() > MAX_OOO_SEGMENTS {
        // The missing bytes are not coming (lost in the capture): skip them.
        let first = s
            .ooo
            .iter()
            .map(|(q, _)| *q)
            .min_by_key(|q| seq_diff(*q, s.next_seq));
        if let Some(first) = first {
            diag(
                out,
                ctx.frame,
                Severity::Warning,
                format!(
                    "{}: {} bytes missing from the stream (not captured); {} buffered bytes dropped, framing restarts",
                    describe(key),
                    seq_diff(first, s.next_seq),
                    s.buf.len()
                ),
            );
            s.buf.clear();
            s.expect_prefix = false;
            s.next_seq = first;
            drain_early(s, key, ctx, out);
        }
    }
}

/// A segment starting at or before the next expected byte: its new bytes are framed,
/// then the early segments it made contiguous.
fn take_in_order(
    s: &mut Stream,
    key: &Key,
    ctx: &Ctx,
    seq: u32,
    seg: &Segment<'_>,
    out: &mut VecDeque<CaptureEvent>,
) {
    let data = seg.payload;
    let skip = usize::try_from(-seq_diff(seq, s.next_seq)).unwrap_or(usize::MAX);
    if skip < data.len() {
        let fresh = &data[skip..];
        s.next_seq = s
            .next_seq
            .wrapping_add(u32::try_from(fresh.len()).unwrap_or(0));
        feed(s, key, ctx, fresh, out);
    }
    if data.len() < seg.declared_len && skip < seg.declared_len {
        // Cut segment (snap length, or IP length fields that lie, reported by the
        // IP layer): the rest of it is lost, and with it the frame in progress.
        let lost = seg.declared_len - skip.max(data.len());
        if let Some((c, l)) = ctx.cut {
            diag(
                out,
                ctx.frame,
                Severity::Warning,
                format!(
                    "captured {c} of {l} bytes (snap length); {}: {lost} stream bytes lost, {} buffered bytes dropped",
                    describe(key),
                    s.buf.len()
                ),
            );
        }
        s.buf.clear();
        s.expect_prefix = false;
        s.next_seq = seq.wrapping_add(u32::try_from(seg.declared_len).unwrap_or(0));
    }
    drain_early(s, key, ctx, out);
}

fn close(s: &mut Stream, k: &Key, ctx: &Ctx, out: &mut VecDeque<CaptureEvent>, how: &str) {
    if s.closed {
        return;
    }
    if !s.buf.is_empty() && !s.expect_prefix {
        diag(
            out,
            ctx.frame,
            Severity::Warning,
            format!(
                "{}: connection {how} inside a frame ({} bytes buffered)",
                describe(k),
                s.buf.len()
            ),
        );
    }
    s.closed = true;
    s.buf = Vec::new();
    s.ooo = Vec::new();
    s.ooo_bytes = 0;
}

fn store_early(s: &mut Stream, seq: u32, data: &[u8]) {
    if s.ooo
        .iter()
        .any(|(q, d)| *q == seq && d.len() >= data.len())
    {
        return; // retransmission of an early segment
    }
    s.ooo_bytes += data.len();
    s.ooo.push((seq, data.to_vec()));
}

/// Deliver early segments that have become contiguous.
fn drain_early(s: &mut Stream, key: &Key, ctx: &Ctx, out: &mut VecDeque<CaptureEvent>) {
    while !s.ooo.is_empty() {
        let next = s.next_seq;
        let Some(i) = s.ooo.iter().position(|(q, _)| seq_diff(*q, next) <= 0) else {
            break;
        };
        let (q, d) = s.ooo.swap_remove(i);
        s.ooo_bytes -= d.len();
        let skip = usize::try_from(seq_diff(next, q)).unwrap_or(usize::MAX);
        if skip < d.len() {
            let fresh = &d[skip..];
            s.next_seq = next.wrapping_add(u32::try_from(fresh.len()).unwrap_or(0));
            feed(s, key, ctx, fresh, out);
        }
    }
}

/// Process in-order stream bytes.
fn feed(s: &mut Stream, key: &Key, ctx: &Ctx, mut data: &[u8], out: &mut VecDeque<CaptureEvent>) {
    if s.expect_prefix {
        let have = s.buf.len().min(PREFIX.len());
        let take = (PREFIX.len() - have).min(data.len());
        let mut candidate = [0u8; 6];
        candidate[..have].copy_from_slice(&s.buf[..have]);
        candidate[have..have + take].copy_from_slice(&data[..take]);
        let n = have + take;
        if candidate[..n] == PREFIX[..n] {
            if n < PREFIX.len() {
                s.buf.extend_from_slice(&data[..take]);
                return;
            }
            // Prefix complete: drop it.
            s.buf.clear();
            data = &data[take..];
            s.expect_prefix = false;
        } else {
            s.expect_prefix = false;
            if s.prefix_required {
                diag(
                    out,
                    ctx.frame,
                    Severity::Malformed,
                    format!(
                        "{}: stream does not start with the \"IKETCP\" prefix",
                        describe(key)
                    ),
                );
            }
            // Bytes held back as a possible prefix are stream data after all: keep them in
            // `buf`, framing below continues from there.
        }
    }
    if s.buf.is_empty() {
        // Fast path: frame straight from the segment, keep only the remainder.
        let used = frames(data, key, ctx, out);
        match used {
            Some(n) => s.buf.extend_from_slice(&data[n..]),
            None => s.buf.clear(),
        }
    } else {
        s.buf.extend_from_slice(data);
        match frames(&s.buf, key, ctx, out) {
            Some(n) => {
                s.buf.drain(..n);
            }
            None => s.buf.clear(),
        }
    }
}

/// Emit all complete frames at the start of `b`; returns the bytes consumed, or `None`
/// when the framing is broken (the caller drops the stream data it holds).
fn frames(b: &[u8], key: &Key, ctx: &Ctx, out: &mut VecDeque<CaptureEvent>) -> Option<usize> {
    let meta = Meta {
        src: key.src,
        sport: key.sport,
        dst: key.dst,
        dport: key.dport,
    };
    let mut off = 0;
    while let Some(l) = b.get(off..off + 2) {
        let flen = usize::from(u16::from_be_bytes([l[0], l[1]]));
        if flen < 2 {
            diag(
                out,
                ctx.frame,
                Severity::Malformed,
                format!(
                    "{}: frame length {flen} is less than 2; framing lost until the next segment",
                    describe(key)
                ),
            );
            return None;
        }
        let Some(frame) = b.get(off + 2..off + flen) else {
            break;
        };
        off += flen;
        if frame.len() >= 4 && frame[..4] == [0, 0, 0, 0] {
            emit_ike(
                out,
                ctx,
                &meta,
                Transport::Tcp,
                &frame[4..],
                frame.len() - 4,
            );
        } else if !emit_esp(
            out,
            ctx,
            key.src,
            key.dst,
            Some((key.sport, key.dport)),
            frame,
            frame.len(),
        ) {
            diag(
                out,
                ctx.frame,
                Severity::Malformed,
                format!(
                    "{}: {}-byte frame is too short for IKE or ESP",
                    describe(key),
                    frame.len()
                ),
            );
        }
    }
    Some(off)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::IkePacket;
    use std::net::Ipv4Addr;

    const C: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    const S: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));

    fn ike(n: usize, tag: u8) -> Vec<u8> {
        let mut m = vec![tag; n];
        m[17] = 0x20;
        m[24..28].copy_from_slice(&(n as u32).to_be_bytes());
        m
    }

    fn framed(msg: &[u8]) -> Vec<u8> {
        let mut v = ((msg.len() + 6) as u16).to_be_bytes().to_vec();
        v.extend_from_slice(&[0; 4]);
        v.extend_from_slice(msg);
        v
    }

    struct T {
        r: TcpReassembler,
        out: VecDeque<CaptureEvent>,
        frame: u64,
    }

    impl T {
        fn new() -> T {
            T {
                r: TcpReassembler::new(&CaptureOptions::default()),
                out: VecDeque::new(),
                frame: 0,
            }
        }
        fn seg(&mut self, client: bool, seq: u32, flags: &str, payload: &[u8]) {
            self.frame += 1;
            let (src, sport, dst, dport) = if client {
                (C, 40000, S, 4500)
            } else {
                (S, 4500, C, 40000)
            };
            let ctx = Ctx {
                frame: self.frame,
                time_us: self.frame as i64,
                cut: None,
                esp_data: false,
            };
            let seg = Segment {
                meta: Meta {
                    src,
                    sport,
                    dst,
                    dport,
                },
                seq,
                syn: flags.contains('S'),
                ack: flags.contains('A'),
                fin: flags.contains('F'),
                rst: flags.contains('R'),
                payload,
                declared_len: payload.len(),
            };
            self.r.segment(&ctx, &seg, &mut self.out);
        }
        fn ikes(&mut self) -> Vec<(u64, Vec<u8>)> {
            let mut v = Vec::new();
            for ev in self.out.drain(..) {
                match ev {
                    CaptureEvent::Ike(IkePacket { frame, data, .. }) => v.push((frame, data)),
                    other => panic!("unexpected {other:?}"),
                }
            }
            v
        }
    }

    #[test]
    fn prefix_split_and_multiple_messages() {
        let (a, b, c) = (ike(40, 1), ike(60, 2), ike(300, 3));
        let mut stream = PREFIX.to_vec();
        stream.extend(framed(&a));
        stream.extend(framed(&b));
        stream.extend(framed(&c));
        let mut t = T::new();
        t.seg(true, 999, "S", &[]);
        t.seg(false, 5000, "SA", &[]);
        // "IKE" | "TCP" + a + b + half of c | rest of c
        let cut = 6 + 46 + 66 + 100;
        t.seg(true, 1000, "A", &stream[..3]);
        t.seg(true, 1003, "A", &stream[3..cut]);
        t.seg(true, 1000 + cut as u32, "AF", &stream[cut..]);
        assert_eq!(t.ikes(), vec![(4, a), (4, b), (5, c)]);
        assert_eq!(t.r.streams(), 2);
    }

    #[test]
    fn out_of_order_and_retransmission() {
        let (a, b) = (ike(40, 1), ike(50, 2));
        let mut stream = framed(&a);
        stream.extend(framed(&b));
        let mut t = T::new();
        t.seg(false, 7, "SA", &[]);
        let mid = 20;
        t.seg(false, 8 + mid as u32, "A", &stream[mid..]); // early
        assert!(t.ikes().is_empty());
        t.seg(false, 8, "A", &stream[..mid + 10]); // fills the gap, overlaps
        assert_eq!(t.ikes(), vec![(3, a.clone()), (3, b.clone())]);
        t.seg(false, 8, "A", &stream[..mid]); // retransmission
        assert!(t.ikes().is_empty());
    }

    #[test]
    fn midstream_join_and_esp() {
        let a = ike(40, 1);
        let mut esp = vec![0, 14, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 9, 1, 2, 3, 4];
        esp.extend(framed(&a));
        let mut t = T::new();
        t.seg(false, 77, "A", &esp);
        let evs: Vec<_> = t.out.drain(..).collect();
        assert!(matches!(
            evs[0],
            CaptureEvent::Diagnostic {
                severity: Severity::Info,
                ..
            }
        ));
        assert!(matches!(
            evs[1],
            CaptureEvent::Esp {
                spi: 0xdeadbeef,
                seq: 9,
                len: 12,
                encap: true,
                sport: Some(4500),
                dport: Some(40000),
                ..
            }
        ));
        assert!(matches!(&evs[2], CaptureEvent::Ike(p) if p.data == a));
    }

    #[test]
    fn missing_prefix_and_bad_length() {
        let a = ike(40, 1);
        let mut t = T::new();
        t.seg(true, 0, "S", &[]);
        t.seg(true, 1, "A", &framed(&a));
        let evs: Vec<_> = t.out.drain(..).collect();
        assert!(matches!(
            evs[0],
            CaptureEvent::Diagnostic {
                severity: Severity::Malformed,
                ..
            }
        ));
        assert!(matches!(&evs[1], CaptureEvent::Ike(p) if p.data == a));
        // a zero length breaks framing for the rest of the segment only
        let mut bad = vec![0, 0, 1, 2, 3];
        bad.extend(framed(&a));
        t.seg(true, 47, "A", &bad);
        let n = 47 + bad.len() as u32;
        t.seg(true, n, "A", &framed(&a));
        let evs: Vec<_> = t.out.drain(..).collect();
        assert_eq!(evs.len(), 2, "{evs:?}");
        assert!(matches!(
            evs[0],
            CaptureEvent::Diagnostic {
                frame: 3,
                severity: Severity::Malformed,
                ..
            }
        ));
        assert!(matches!(&evs[1], CaptureEvent::Ike(p) if p.frame == 4));
    }

    #[test]
    fn snap_cut_segment_skips_lost_bytes() {
        let (a, b) = (ike(40, 1), ike(300, 2));
        let mut t = T::new();
        t.seg(false, 0, "SA", &[]);
        // frame 2: message a whole, then b cut by the snap length
        let mut data = framed(&a);
        let whole = data.len() + 306;
        data.extend(framed(&b));
        t.frame += 1;
        let ctx = Ctx {
            frame: t.frame,
            time_us: 0,
            cut: Some((100, 400)),
            esp_data: false,
        };
        let seg = Segment {
            meta: Meta {
                src: S,
                sport: 4500,
                dst: C,
                dport: 40000,
            },
            seq: 1,
            syn: false,
            ack: true,
            fin: false,
            rst: false,
            payload: &data[..60],
            declared_len: whole,
        };
        t.r.segment(&ctx, &seg, &mut t.out);
        // frame 3: the next message arrives in order after the lost bytes
        t.seg(false, 1 + whole as u32, "A", &framed(&a));
        let evs: Vec<_> = t.out.drain(..).collect();
        assert_eq!(evs.len(), 3, "{evs:?}");
        assert!(matches!(&evs[0], CaptureEvent::Ike(p) if p.frame == 2 && p.data == a));
        assert!(matches!(
            &evs[1],
            CaptureEvent::Diagnostic {
                frame: 2,
                severity: Severity::Warning,
                ..
            }
        ));
        assert!(matches!(&evs[2], CaptureEvent::Ike(p) if p.frame == 3 && p.data == a));
    }

    #[test]
    fn gap_gives_up_and_resyncs() {
        let a = ike(40, 1);
        let opts = CaptureOptions {
            max_tcp_buffer: 100,
            ..CaptureOptions::default()
        };
        let mut t = T::new();
        t.r = TcpReassembler::new(&opts);
        t.seg(false, 0, "SA", &[]);
        t.seg(false, 1, "A", &framed(&a)[..10]); // partial frame, rest lost
        let mut later = framed(&a);
        later.extend(framed(&a));
        later.extend(framed(&a));
        t.seg(false, 1000, "A", &later); // > 100 bytes early: give up on the gap
        let evs: Vec<_> = t.out.drain(..).collect();
        assert!(
            matches!(
                evs[0],
                CaptureEvent::Diagnostic {
                    frame: 3,
                    severity: Severity::Warning,
                    ..
                }
            ),
            "{evs:?}"
        );
        assert_eq!(
            evs.iter()
                .filter(|e| matches!(e, CaptureEvent::Ike(_)))
                .count(),
            3
        );
    }

    #[test]
    fn finish_reports_partial_frames_and_bounds_streams() {
        let a = ike(40, 1);
        let opts = CaptureOptions {
            max_tcp_streams: 2,
            ..CaptureOptions::default()
        };
        let mut t = T::new();
        t.r = TcpReassembler::new(&opts);
        t.seg(false, 0, "SA", &[]);
        t.seg(false, 1, "A", &framed(&a)[..10]);
        t.r.finish(&mut t.out);
        assert!(matches!(
            t.out[0],
            CaptureEvent::Diagnostic {
                frame: 2,
                severity: Severity::Warning,
                ..
            }
        ));
        t.out.clear();
        for i in 0..10u16 {
            t.frame += 1;
            let ctx = Ctx {
                frame: t.frame,
                time_us: 0,
                cut: None,
                esp_data: false,
            };
            let seg = Segment {
                meta: Meta {
                    src: C,
                    sport: 1000 + i,
                    dst: S,
                    dport: 4500,
                },
                seq: 0,
                syn: true,
                ack: false,
                fin: false,
                rst: false,
                payload: &[],
                declared_len: 0,
            };
            t.r.segment(&ctx, &seg, &mut t.out);
        }
        assert!(t.r.streams() <= 2);
    }
}
