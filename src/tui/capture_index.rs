//! The offline browser's data: an index of the IKE messages of capture files.
//!
//! A loader thread reads the captures once (the `decode` pipeline: capture reader,
//! decryptor, MOBIKE analysis) and sends the index in batches, so that the first screen
//! shows at once and a large capture fills in behind a progress bar. Each entry keeps what
//! the message list and the filter need; the message's bytes (and its decrypted SK content)
//! are kept in one arena, and its payload tree is built only when it is shown
//! ([`CaptureIndex::tree_lines`]).
use std::collections::HashMap;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::sync::Arc;
use std::thread;

use super::event_texts::{EventTexts, TextBlockWriter, TextRef};
use crate::analysis::{
    AnalysisEvent, Analyzer, EventKind, ObservedMessage, RetentionQueue, SaInfo,
};
use crate::capture::{CaptureEvent, CaptureOptions, CaptureReader, IkePacket, Transport};
use crate::cli::decode::inner_payloads;
use crate::cli::text;
use crate::decrypt::{Decryptor, FragmentLimits, IntegrityStatus, Opened};
use crate::dissect::layout;
use crate::keys::KeyStore;
use crate::wire::{parse_payload_chain, registry, Header, Message, Payload, PayloadBody};

/// Messages per batch sent by the loader.
const BATCH: usize = 2000;
/// Loader updates waiting for the UI, at most.
const IN_FLIGHT: usize = 4;

/// What to load.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Capture files, in order.
    pub files: Vec<PathBuf>,
    /// Key files (`--keys`, as for `decode`).
    pub keys: Vec<PathBuf>,
    /// Ports and the like.
    pub capture: CaptureOptions,
}

/// Where a message's decrypted content is, in the arena chunk of its raw bytes, and its
/// first payload's type (12 bytes: an entry is kept for every message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PlainSpan {
    at: u32,
    /// The length plus one: `Option<PlainSpan>` takes no room of its own.
    len_plus_one: NonZeroU32,
    first: u8,
}

/// Where a message's bytes are: a batch's arena, and the range in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Span {
    chunk: u32,
    at: u32,
    len: u32,
}

/// The messages, kept in the loader's batches: a large capture never reallocates (and
/// copies) one huge vector, which would cost twice its size while it grows.
#[derive(Debug, Default)]
pub struct Messages {
    chunks: Vec<Vec<MessageEntry>>,
    /// Index of each chunk's first message.
    starts: Vec<usize>,
    len: usize,
}

impl Messages {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn get(&self, i: usize) -> Option<&MessageEntry> {
        let c = self.starts.partition_point(|&s| s <= i).checked_sub(1)?;
        self.chunks.get(c)?.get(i - self.starts[c])
    }

    fn get_mut(&mut self, i: usize) -> Option<&mut MessageEntry> {
        let c = self.starts.partition_point(|&s| s <= i).checked_sub(1)?;
        let start = self.starts[c];
        self.chunks.get_mut(c)?.get_mut(i - start)
    }

    pub fn first(&self) -> Option<&MessageEntry> {
        self.get(0)
    }

    pub fn iter(&self) -> impl Iterator<Item = &MessageEntry> {
        self.chunks.iter().flatten()
    }

    fn push_chunk(&mut self, chunk: Vec<MessageEntry>) {
        if chunk.is_empty() {
            return;
        }
        self.starts.push(self.len);
        self.len += chunk.len();
        self.chunks.push(chunk);
    }
}

/// One IKE message of the captures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageEntry {
    /// Index of its file in [`CaptureIndex::files`].
    pub file: u16,
    /// Frame number in its file (1-based).
    pub frame: u64,
    /// Capture time, µs since the Unix epoch.
    pub time_us: i64,
    pub transport: Transport,
    pub spi_i: u64,
    pub spi_r: u64,
    pub exchange: u8,
    pub message_id: u32,
    /// Header flags (I = 0x08, R = 0x20).
    pub flags: u8,
    /// The logical IKE SA (index in [`CaptureIndex::sas`]).
    pub sa: Option<u32>,
    /// Endpoints, payload list, notify types, why it is malformed: one copy for every
    /// message that has the same (a capture repeats a few of them; 8 bytes a message).
    shared: Arc<SharedFacts>,
    /// The SK/SKF payload's decryption.
    pub integrity: Option<IntegrityStatus>,
    /// The request this response answers, or the response to this request (index).
    pub partner: Option<u32>,
    /// 0 for the first copy of a request, n for its n-th retransmission.
    pub copy: u16,
    raw: Span,
    plain: Option<PlainSpan>,
}

/// What messages share, kept once ([`MessageEntry`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SharedFacts {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    /// Payload types in wire order, then the decrypted ones: `SA KE Ni N(NAT_D_S) ...`.
    pub summary: Box<str>,
    /// Notify types, outer and decrypted.
    pub notifies: Box<[u16]>,
    /// Why the message could not be parsed.
    pub malformed: Option<Box<str>>,
}

impl MessageEntry {
    pub fn src(&self) -> SocketAddr {
        self.shared.src
    }

    pub fn dst(&self) -> SocketAddr {
        self.shared.dst
    }

    /// Payload types in wire order, then the decrypted ones: `SA KE Ni N(NAT_D_S) ...`.
    pub fn summary(&self) -> &str {
        &self.shared.summary
    }

    /// Notify types, outer and decrypted.
    pub fn notifies(&self) -> &[u16] {
        &self.shared.notifies
    }

    /// Why the message could not be parsed.
    pub fn malformed(&self) -> Option<&str> {
        self.shared.malformed.as_deref()
    }

    /// Takes the identity a header gives: SPIs, exchange, message ID, flags.
    fn take_header(&mut self, h: &Header) {
        self.spi_i = h.spi_i;
        self.spi_r = h.spi_r;
        self.exchange = h.exchange_type;
        self.message_id = h.message_id;
        self.flags = h.flags;
    }

    /// The response flag.
    pub fn is_response(&self) -> bool {
        self.flags & 0x20 != 0
    }

    /// Sent by the original initiator (I flag).
    pub fn from_initiator(&self) -> bool {
        self.flags & 0x08 != 0
    }

    /// The exchange's name, or its number.
    pub fn exchange_name(&self) -> String {
        registry::exchange_name(self.exchange)
            .map(str::to_string)
            .unwrap_or_else(|| self.exchange.to_string())
    }
}

/// What the SA list shows of a logical IKE SA (the analysis' full state stays with the
/// loader: a large capture's thousands of SAs would cost kilobytes each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaEntry {
    /// The newest SPI pair.
    pub spi_i: u64,
    pub spi_r: u64,
    /// Both sides sent MOBIKE_SUPPORTED.
    pub mobike: bool,
    /// Address changes after the first path.
    pub moves: u32,
    /// Its first and last message (indices): the lanes read only that stretch.
    pub first_message: u32,
    pub last_message: u32,
}

impl SaEntry {
    fn of(sa: &SaInfo, span: Option<(u32, u32)>) -> SaEntry {
        let (spi_i, spi_r) = sa.current_spis();
        let (first_message, last_message) = span.unwrap_or((0, u32::MAX));
        SaEntry {
            spi_i,
            spi_r,
            mobike: sa.mobike_negotiated(),
            moves: u32::try_from(sa.paths.len().saturating_sub(1)).unwrap_or(u32::MAX),
            first_message,
            last_message,
        }
    }
}

/// One event of the MOBIKE analysis, as the timeline shows it; its text (what happened,
/// as `decode --timeline` says it) is kept compressed with the others
/// ([`CaptureIndex::timeline_text`]), not an allocation per event. 32 bytes: a large
/// capture has about one event per message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimelineEntry {
    /// The frame of the message that produced it.
    pub frame: u64,
    pub time_us: i64,
    /// The logical SA, numbered across files.
    pub sa: u32,
    text: TextRef,
    /// What kind of event (the lanes view draws each kind its own way).
    pub kind: EventTag,
}

// a large capture has as many events as messages: keep them at 32 bytes
const _: () = assert!(std::mem::size_of::<TimelineEntry>() <= 32);

/// The kind of an analysis event, in one byte (the lanes view's glyph and short text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventTag {
    SaStarted,
    Retransmission,
    DuplicateResponse,
    Unanswered,
    OrphanResponse,
    /// A request sent on several paths, answered on this frame's path.
    ProbeAnswered,
    /// A request sent on several paths, never answered.
    ProbeUnanswered,
    NewPath,
    /// NAT detection: no NAT.
    NatNone,
    /// NAT detection: a hash mismatched on an IKE port (a NAT keeping it, or a fake).
    NatMaybe,
    /// NAT detection: a side is behind a NAT.
    NatShown,
    MobikeSupported,
    AddressesAnnounced,
    /// UPDATE_SA_ADDRESSES: the SA moved to this frame's path.
    Move,
    Cookie2,
    NoNatsAllowed,
    MobikeError,
    Violation,
    IkeSaRekeyed,
    IkeSaDeleted,
    IntegrityFailed,
    Exchange,
}

impl EventTag {
    fn of(kind: &EventKind) -> EventTag {
        match kind {
            EventKind::SaStarted { .. } => EventTag::SaStarted,
            EventKind::Exchange { .. } => EventTag::Exchange,
            EventKind::Retransmission { .. } => EventTag::Retransmission,
            EventKind::DuplicateResponse { .. } => EventTag::DuplicateResponse,
            EventKind::Unanswered { .. } => EventTag::Unanswered,
            EventKind::OrphanResponse { .. } => EventTag::OrphanResponse,
            EventKind::PathProbe { answered, .. } => match answered {
                Some(_) => EventTag::ProbeAnswered,
                None => EventTag::ProbeUnanswered,
            },
            EventKind::NewPath { .. } => EventTag::NewPath,
            EventKind::NatDetection {
                behind_nat,
                sender_nat,
                ..
            } => {
                if !behind_nat.is_empty() {
                    EventTag::NatShown
                } else if *sender_nat == Some(crate::analysis::NatVerdict::NatOrFake) {
                    EventTag::NatMaybe
                } else {
                    EventTag::NatNone
                }
            }
            EventKind::MobikeSupported { .. } => EventTag::MobikeSupported,
            EventKind::AddressesAnnounced { .. } => EventTag::AddressesAnnounced,
            EventKind::AddressUpdate { .. } => EventTag::Move,
            EventKind::Cookie2 { .. } => EventTag::Cookie2,
            EventKind::NoNatsAllowed { .. } => EventTag::NoNatsAllowed,
            EventKind::MobikeError { .. } => EventTag::MobikeError,
            EventKind::Violation { .. } => EventTag::Violation,
            EventKind::IkeSaRekeyed { .. } => EventTag::IkeSaRekeyed,
            EventKind::IkeSaDeleted { .. } => EventTag::IkeSaDeleted,
            EventKind::IntegrityFailed { .. } => EventTag::IntegrityFailed,
        }
    }
}

/// The events of a batch being built.
#[derive(Default)]
struct TimelineBuilder {
    entries: Vec<TimelineEntry>,
    /// Their texts; block numbers count from the batch's first block until the batch
    /// joins the index.
    texts: TextBlockWriter,
}

impl TimelineBuilder {
    fn push(&mut self, e: &AnalysisEvent, sa_base: u32) {
        self.entries.push(TimelineEntry {
            frame: e.frame,
            time_us: e.time_us,
            sa: u32::try_from(e.sa.0)
                .unwrap_or(u32::MAX)
                .saturating_add(sa_base),
            text: self.texts.push(&e.kind),
            kind: EventTag::of(&e.kind),
        });
    }

    /// The entries and their sealed text blocks.
    fn finish(self) -> TimelineBatch {
        TimelineBatch {
            entries: self.entries,
            blocks: self.texts.finish(),
        }
    }
}

/// A batch's events, their texts compressed.
struct TimelineBatch {
    entries: Vec<TimelineEntry>,
    blocks: Vec<Box<[u8]>>,
}

/// What the loader sends.
enum LoadUpdate {
    Progress {
        file: usize,
        fraction: f64,
        frames: u64,
    },
    Messages {
        entries: Vec<MessageEntry>,
        arena: Vec<u8>,
        /// (request, response) pairs found in this batch, possibly of earlier entries.
        pairs: Vec<(u32, u32)>,
        /// The analysis' events of this batch's messages (at the end of a file: the events
        /// only its end reveals), and their texts.
        timeline: TimelineBatch,
    },
    FileDone {
        sas: Vec<SaEntry>,
        diagnostics: Vec<String>,
        esp_packets: u64,
    },
    Failed(String),
}

/// Progress of the loader.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadProgress {
    /// The file being read.
    pub file: usize,
    /// Of that file, about (0..=1).
    pub fraction: f64,
    /// Frames read in that file.
    pub frames: u64,
    /// Every file was read.
    pub done: bool,
}

/// The index of the captures, filled in by the loader.
pub struct CaptureIndex {
    /// The capture files, as given.
    pub files: Vec<String>,
    /// Every IKE message, in file then capture order.
    pub messages: Messages,
    /// The logical IKE SAs (the MOBIKE analysis), numbered across files.
    pub sas: Vec<SaEntry>,
    /// The MOBIKE analysis' events, with SA numbers across files.
    pub timeline: Vec<TimelineEntry>,
    /// Problems found (malformed packets, decryption failures), one line each.
    pub diagnostics: Vec<String>,
    /// ESP packets seen.
    pub esp_packets: u64,
    /// Where loading stands.
    pub progress: LoadProgress,
    /// Why loading stopped early.
    pub error: Option<String>,
    /// The batches' message bytes.
    arenas: Vec<Vec<u8>>,
    /// The timeline's texts, compressed.
    timeline_texts: EventTexts,
    updates: Option<Receiver<LoadUpdate>>,
}

impl CaptureIndex {
    /// Starts the loader thread; the index fills in as [`CaptureIndex::absorb`] is called.
    pub fn spawn(options: LoadOptions) -> CaptureIndex {
        // a few batches in flight at most: when the UI is slow to take them (a busy
        // machine), the loader waits instead of piling up memory
        let (tx, rx) = mpsc::sync_channel(IN_FLIGHT);
        let files = options
            .files
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        thread::spawn(move || load(&options, &tx));
        CaptureIndex {
            files,
            messages: Messages::default(),
            sas: Vec::new(),
            timeline: Vec::new(),
            diagnostics: Vec::new(),
            esp_packets: 0,
            progress: LoadProgress {
                file: 0,
                fraction: 0.0,
                frames: 0,
                done: false,
            },
            error: None,
            arenas: Vec::new(),
            timeline_texts: EventTexts::default(),
            updates: Some(rx),
        }
    }

    /// Loads everything before returning (tests, `--plain`).
    pub fn load(options: LoadOptions) -> CaptureIndex {
        let mut index = CaptureIndex::spawn(options);
        while !index.progress.done {
            index.absorb_blocking();
        }
        index
    }

    /// Takes in what the loader sent since the last call, without waiting; true when
    /// something changed.
    pub fn absorb(&mut self) -> bool {
        let mut changed = false;
        while let Some(rx) = &self.updates {
            match rx.try_recv() {
                Ok(u) => {
                    self.apply(u);
                    changed = true;
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    self.finish();
                    changed = true;
                }
            }
        }
        changed
    }

    /// Waits for the loader's next update.
    fn absorb_blocking(&mut self) {
        let Some(rx) = &self.updates else {
            self.progress.done = true;
            return;
        };
        match rx.recv() {
            Ok(u) => self.apply(u),
            Err(_) => self.finish(),
        }
    }

    fn finish(&mut self) {
        self.updates = None;
        self.progress.done = true;
        self.progress.fraction = 1.0;
        // the loader's temporaries (parses, decryption, analysis state) are freed now, but
        // the allocator keeps their pages; hand them back, so that a large capture's browser
        // holds about what its index needs (benches/tui_large_capture.rs)
        crate::io::memory::release_free_memory();
    }

    fn apply(&mut self, u: LoadUpdate) {
        match u {
            LoadUpdate::Progress {
                file,
                fraction,
                frames,
            } => {
                self.progress.file = file;
                self.progress.fraction = fraction;
                self.progress.frames = frames;
            }
            LoadUpdate::Messages {
                mut entries,
                arena,
                pairs,
                timeline,
            } => {
                self.add_events(timeline);
                let chunk = u32::try_from(self.arenas.len()).unwrap_or(u32::MAX);
                for e in &mut entries {
                    e.raw.chunk = chunk;
                }
                self.arenas.push(arena);
                self.messages.push_chunk(entries);
                for (req, resp) in pairs {
                    if let Some(e) = self.messages.get_mut(req as usize) {
                        e.partner = Some(resp);
                    }
                    if let Some(e) = self.messages.get_mut(resp as usize) {
                        e.partner = Some(req);
                    }
                }
            }
            LoadUpdate::FileDone {
                sas,
                diagnostics,
                esp_packets,
            } => {
                self.sas.extend(sas);
                self.diagnostics.extend(diagnostics);
                self.esp_packets += esp_packets;
            }
            LoadUpdate::Failed(e) => {
                self.error = Some(e);
            }
        }
    }

    /// A batch's events join the timeline.
    fn add_events(&mut self, batch: TimelineBatch) {
        let first = self.timeline_texts.extend(batch.blocks);
        self.timeline
            .extend(batch.entries.into_iter().map(|e| TimelineEntry {
                text: TextRef {
                    block: e.text.block.saturating_add(first),
                    ..e.text
                },
                ..e
            }));
    }

    /// What a timeline event says.
    pub fn timeline_text(&self, e: &TimelineEntry) -> String {
        self.timeline_texts.get(e.text)
    }

    /// The timeline texts' size, compressed.
    pub fn timeline_text_bytes(&self) -> usize {
        self.timeline_texts.packed_bytes()
    }

    /// The message's bytes as captured (from the IKE header on).
    pub fn raw(&self, m: &MessageEntry) -> &[u8] {
        self.slice(m.raw)
    }

    /// The decrypted inner payload chain of its SK payload, and the first inner type.
    pub fn decrypted(&self, m: &MessageEntry) -> Option<(&[u8], u8)> {
        m.plain.map(|p| {
            let span = Span {
                chunk: m.raw.chunk,
                at: p.at,
                len: p.len_plus_one.get() - 1,
            };
            (self.slice(span), p.first)
        })
    }

    fn slice(&self, s: Span) -> &[u8] {
        let start = s.at as usize;
        let end = start.saturating_add(s.len as usize);
        self.arenas
            .get(s.chunk as usize)
            .and_then(|a| a.get(start..end))
            .unwrap_or(&[])
    }

    /// The message's payload tree as the `decode` text output shows it: one line per node,
    /// with its depth and the bytes it covers.
    pub fn tree_lines(&self, m: &MessageEntry) -> Vec<TreeLine> {
        tree_lines(self, m)
    }

    /// The text of the message's payload tree (what [`CaptureIndex::tree_lines`] shows,
    /// decrypted content included), written into `out` (cleared first): the search reads
    /// it without building the lines.
    pub fn tree_text(&self, m: &MessageEntry, out: &mut Vec<u8>) {
        out.clear();
        let raw = self.raw(m);
        match Message::parse(raw) {
            Ok(msg) => {
                let plain = self.decrypted(m);
                let inner = inner_chain(plain);
                render_tree(m, &msg, raw, inner.as_deref(), out);
            }
            Err(e) => {
                use std::io::Write as _;
                let _ = write!(out, "malformed IKE message: {e}");
            }
        }
    }
}

/// One line of a message's payload tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeLine {
    /// Nesting depth (0: the header line).
    pub depth: usize,
    /// The text, without indentation.
    pub text: String,
    /// The bytes this node covers: in the message, or in the decrypted SK content.
    pub bytes: Option<ByteRange>,
    /// One of the fields a payload or the header unfolds into (`dissect::layout`), not a
    /// line of the `decode` text.
    pub field: bool,
}

/// A range of a message's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    /// In the decrypted SK content rather than the message.
    pub decrypted: bool,
    pub start: usize,
    pub end: usize,
}

/// The payload tree of `m`, from the text renderer of `decode` (so both show the same).
fn tree_lines(index: &CaptureIndex, m: &MessageEntry) -> Vec<TreeLine> {
    let raw = index.raw(m);
    let msg = match Message::parse(raw) {
        Ok(msg) => msg,
        Err(e) => {
            return vec![TreeLine {
                field: false,
                depth: 0,
                text: format!("malformed IKE message: {e}"),
                bytes: Some(ByteRange {
                    decrypted: false,
                    start: 0,
                    end: raw.len(),
                }),
            }]
        }
    };
    let plain = index.decrypted(m);
    let inner = inner_chain(plain);
    let sk_index = msg
        .payloads
        .iter()
        .position(|p| matches!(p.body, PayloadBody::Sk(_) | PayloadBody::Skf(_)));
    let mut out = Vec::new();
    render_tree(m, &msg, raw, inner.as_deref(), &mut out);
    let text = String::from_utf8_lossy(&out);
    let outer = text::payload_spans(&msg, raw.len());
    let inner_spans = match (&inner, plain) {
        (Some(p), Some((bytes, _))) => chain_spans(p, bytes.len()),
        _ => Vec::new(),
    };
    let nodes = text_nodes(&text, sk_index, &outer, &inner_spans, raw.len());
    let types = PayloadTypes {
        outer: msg.payloads.iter().map(|p| p.payload_type).collect(),
        inner: inner
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .map(|p| p.payload_type)
            .collect(),
    };
    let buffers = FieldBuffers {
        raw,
        plain: plain.map(|(b, _)| b),
    };
    with_field_lines(nodes, &types, &buffers)
}

/// A tree line and, for a payload's line, which payload it is.
struct TextNode {
    line: TreeLine,
    payload: Option<PayloadRef>,
}

/// The n-th payload of the message (`inner: false`) or of its decrypted SK content.
#[derive(Clone, Copy)]
struct PayloadRef {
    inner: bool,
    n: usize,
}

struct PayloadTypes {
    outer: Vec<u8>,
    inner: Vec<u8>,
}

struct FieldBuffers<'a> {
    raw: &'a [u8],
    plain: Option<&'a [u8]>,
}

/// The renderer's lines with the bytes each covers: the header line the header, a payload's
/// line its payload (inner payloads in the decrypted content); deeper lines their node's.
fn text_nodes(
    text: &str,
    sk_index: Option<usize>,
    outer: &[(usize, usize)],
    inner: &[(usize, usize)],
    raw_len: usize,
) -> Vec<TextNode> {
    let mut nodes = Vec::new();
    let (mut outer_at, mut inner_at) = (0usize, 0usize);
    let mut in_sk = false;
    for line in text.lines() {
        let trimmed = line.trim_start_matches(' ');
        let depth = (line.len() - trimmed.len()) / 2;
        let (bytes, payload) = match depth {
            0 => (
                Some(ByteRange {
                    decrypted: false,
                    start: 0,
                    end: crate::wire::HEADER_LEN.min(raw_len),
                }),
                None,
            ),
            1 => {
                let span = outer.get(outer_at).copied();
                in_sk = sk_index == Some(outer_at);
                let r = PayloadRef {
                    inner: false,
                    n: outer_at,
                };
                outer_at += 1;
                (
                    span.map(|(start, end)| byte_range(false, start, end)),
                    Some(r),
                )
            }
            3 if in_sk => {
                let span = inner.get(inner_at).copied();
                let r = PayloadRef {
                    inner: true,
                    n: inner_at,
                };
                inner_at += 1;
                (
                    span.map(|(start, end)| byte_range(true, start, end)),
                    Some(r),
                )
            }
            _ => (None, None),
        };
        nodes.push(TextNode {
            line: TreeLine {
                depth,
                text: trimmed.to_string(),
                bytes,
                field: false,
            },
            payload,
        });
    }
    // deeper lines belong to the nearest node above that has bytes
    let mut last: Vec<Option<ByteRange>> = Vec::new();
    for n in &mut nodes {
        let l = &mut n.line;
        last.truncate(l.depth);
        if l.bytes.is_none() {
            l.bytes = last.iter().rev().flatten().next().copied();
        }
        last.resize(l.depth, None);
        last.push(l.bytes);
    }
    nodes
}

fn byte_range(decrypted: bool, start: usize, end: usize) -> ByteRange {
    ByteRange {
        decrypted,
        start,
        end,
    }
}

/// Each node followed by its fields, field by field with their own bytes (as Wireshark's
/// tree): the header's under an `IKE header` line first, a payload's after its subtree.
fn with_field_lines(
    nodes: Vec<TextNode>,
    types: &PayloadTypes,
    buffers: &FieldBuffers,
) -> Vec<TreeLine> {
    let mut out = Vec::with_capacity(nodes.len() * 4);
    // fields waiting for the end of their node's subtree: (node depth, lines)
    let mut pending: Vec<(usize, Vec<TreeLine>)> = Vec::new();
    for (i, node) in nodes.into_iter().enumerate() {
        while pending.last().is_some_and(|(d, _)| *d >= node.line.depth) {
            if let Some((_, lines)) = pending.pop() {
                out.extend(lines);
            }
        }
        let depth = node.line.depth;
        let fields = node
            .payload
            .and_then(|p| payload_field_lines(p, node.line.bytes, depth, types, buffers));
        out.push(node.line);
        if i == 0 {
            out.extend(header_field_lines(buffers.raw));
        }
        if let Some(f) = fields {
            pending.push((depth, f));
        }
    }
    while let Some((_, lines)) = pending.pop() {
        out.extend(lines);
    }
    out
}

fn header_field_lines(raw: &[u8]) -> Vec<TreeLine> {
    let end = crate::wire::HEADER_LEN.min(raw.len());
    let mut lines = vec![TreeLine {
        field: true,
        depth: 1,
        text: format!("IKE header ({end} bytes)"),
        bytes: Some(byte_range(false, 0, end)),
    }];
    lines.extend(layout::header_fields(raw).into_iter().map(|f| TreeLine {
        field: true,
        depth: 2 + f.depth,
        text: f.text,
        bytes: Some(byte_range(false, f.range.start, f.range.end)),
    }));
    lines
}

fn payload_field_lines(
    p: PayloadRef,
    bytes: Option<ByteRange>,
    depth: usize,
    types: &PayloadTypes,
    buffers: &FieldBuffers,
) -> Option<Vec<TreeLine>> {
    let bytes = bytes?;
    let (kind, buffer) = if p.inner {
        (types.inner.get(p.n)?, buffers.plain?)
    } else {
        (types.outer.get(p.n)?, buffers.raw)
    };
    let fields = layout::payload_fields(*kind, buffer, bytes.start..bytes.end);
    Some(
        fields
            .into_iter()
            .map(|f| TreeLine {
                field: true,
                depth: depth + 1 + f.depth,
                text: f.text,
                bytes: Some(byte_range(p.inner, f.range.start, f.range.end)),
            })
            .collect(),
    )
}

/// The decrypted inner payloads, parsed.
fn inner_chain(plain: Option<(&[u8], u8)>) -> Option<Vec<Payload<'_>>> {
    plain.and_then(|(bytes, first)| {
        parse_payload_chain(first, bytes, 0)
            .ok()
            .map(|(payloads, _)| payloads)
    })
}

/// The `decode` text of a message (header line, payloads, decrypted ones) into `out`.
fn render_tree(
    m: &MessageEntry,
    msg: &Message,
    raw: &[u8],
    inner: Option<&[Payload]>,
    out: &mut Vec<u8>,
) {
    let pkt = IkePacket {
        frame: m.frame,
        time_us: m.time_us,
        src: m.src().ip(),
        sport: m.src().port(),
        dst: m.dst().ip(),
        dport: m.dst().port(),
        transport: m.transport,
        data: Vec::new(),
    };
    let integrity = m.integrity.map(IntegrityStatus::as_str);
    let view = integrity.map(|integrity| crate::dissect::DecryptionView {
        integrity,
        error: None,
        payloads: inner,
        fragments: None,
    });
    let sk_index = msg
        .payloads
        .iter()
        .position(|p| matches!(p.body, PayloadBody::Sk(_) | PayloadBody::Skf(_)));
    let decryption = match (sk_index, view.as_ref()) {
        (Some(i), Some(v)) => Some((i, v)),
        _ => None,
    };
    text::render_message(&pkt, msg, raw, decryption, false, out);
}

/// The byte range of each payload of a chain parsed from `len` bytes.
fn chain_spans(payloads: &[Payload], len: usize) -> Vec<(usize, usize)> {
    let starts: Vec<usize> = payloads.iter().map(|p| p.offset).collect();
    starts
        .iter()
        .enumerate()
        .map(|(i, &s)| (s, starts.get(i + 1).copied().unwrap_or(len).max(s)))
        .collect()
}

/// The loader thread: every file in turn.
fn load(options: &LoadOptions, tx: &SyncSender<LoadUpdate>) {
    let mut keys = KeyStore::new();
    for path in &options.keys {
        if let Err(e) = keys.add_file(path) {
            let _ = tx.send(LoadUpdate::Failed(e.to_string()));
            return;
        }
    }
    let mut loader = Loader {
        decryptor: Decryptor::new(keys, FragmentLimits::default()),
        batch: Batch::default(),
        next_index: 0,
        sa_base: 0,
        requests: HashMap::new(),
        answered: RetentionQueue::default(),
        interned: Interned::default(),
        sa_spans: Vec::new(),
    };
    for (file, path) in options.files.iter().enumerate() {
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let reader = match CaptureReader::open_file(path, &options.capture) {
            Ok(r) => r,
            Err(e) => {
                let _ = tx.send(LoadUpdate::Failed(format!(
                    "cannot read {}: {e}",
                    path.display()
                )));
                return;
            }
        };
        if loader.file(file, reader, size, tx).is_err() {
            return; // the UI is gone
        }
    }
}

/// A batch being filled.
#[derive(Default)]
struct Batch {
    entries: Vec<MessageEntry>,
    arena: Vec<u8>,
    pairs: Vec<(u32, u32)>,
    timeline: TimelineBuilder,
}

struct Loader {
    decryptor: Decryptor,
    batch: Batch,
    next_index: u32,
    sa_base: u32,
    /// (initiator SPI, I flag of the requester, message ID) -> the request's copies.
    requests: HashMap<RequestKey, RequestCopies>,
    /// Answered requests by the time of a copy, oldest first: forgotten after
    /// [`crate::analysis::ANSWERED_RETENTION_US`], as the analysis forgets them.
    answered: RetentionQueue<RequestKey>,
    interned: Interned,
    /// Per SA (numbered across files): its first and last message.
    sa_spans: Vec<(u32, u32)>,
}

/// (initiator SPI, I flag of the requester, message ID)
type RequestKey = (u64, bool, u32);

/// The copies of a request seen so far.
struct RequestCopies {
    count: u16,
    /// The latest copy (index).
    last: u32,
    /// Capture time of the latest copy or response.
    last_us: i64,
    /// A response came: it is forgotten once no copy came for the retention.
    answered: bool,
}

/// One copy of each distinct [`SharedFacts`].
#[derive(Default)]
struct Interned {
    facts: HashMap<SharedFacts, Arc<SharedFacts>>,
}

impl Interned {
    fn get(&mut self, facts: SharedFacts) -> Arc<SharedFacts> {
        if let Some(f) = self.facts.get(&facts) {
            return f.clone();
        }
        let shared = Arc::new(facts.clone());
        self.facts.insert(facts, shared.clone());
        shared
    }
}

impl Loader {
    fn file(
        &mut self,
        file: usize,
        mut reader: CaptureReader,
        size: u64,
        tx: &SyncSender<LoadUpdate>,
    ) -> Result<(), mpsc::SendError<LoadUpdate>> {
        let mut analyzer = Analyzer::new();
        let mut diagnostics = Vec::new();
        let mut esp_packets = 0;
        let name = reader_name(file);
        while let Some(event) = reader.next_event() {
            match event {
                CaptureEvent::Ike(pkt) => self.message(file, pkt, &mut analyzer, &mut diagnostics),
                CaptureEvent::Esp { .. } => esp_packets += 1,
                CaptureEvent::Keepalive { .. } => {}
                CaptureEvent::Diagnostic {
                    frame,
                    severity,
                    message,
                } => diagnostics.push(format!("{name}frame {frame}: {severity}: {message}")),
            }
            for d in self.decryptor.drain_diagnostics() {
                diagnostics.push(format!(
                    "{name}frame {}: {}: {}",
                    d.frame, d.severity, d.message
                ));
            }
            if self.batch.entries.len() >= BATCH {
                self.flush(tx)?;
                let fraction = if size > 0 {
                    (reader.bytes_read() as f64 / size as f64).min(0.99)
                } else {
                    0.0
                };
                tx.send(LoadUpdate::Progress {
                    file,
                    fraction,
                    frames: reader.frames_read(),
                })?;
            }
        }
        self.decryptor.finish_capture();
        let base = self.sa_base;
        for e in analyzer.finish() {
            if !matches!(e.kind, EventKind::Exchange { .. }) {
                self.batch.timeline.push(&e, base);
            }
        }
        let sas: Vec<SaEntry> = analyzer
            .sas()
            .iter()
            .enumerate()
            .map(|(k, sa)| {
                let global = usize::try_from(self.sa_base).unwrap_or(usize::MAX);
                SaEntry::of(sa, self.sa_spans.get(global.saturating_add(k)).copied())
            })
            .collect();
        self.sa_base = self
            .sa_base
            .saturating_add(u32::try_from(sas.len()).unwrap_or(u32::MAX));
        self.flush(tx)?;
        tx.send(LoadUpdate::Progress {
            file,
            fraction: 1.0,
            frames: reader.frames_read(),
        })?;
        tx.send(LoadUpdate::FileDone {
            sas,
            diagnostics,
            esp_packets,
        })
    }

    fn flush(&mut self, tx: &SyncSender<LoadUpdate>) -> Result<(), mpsc::SendError<LoadUpdate>> {
        let b = &self.batch;
        if b.entries.is_empty() && b.pairs.is_empty() && b.timeline.entries.is_empty() {
            return Ok(());
        }
        let mut b = std::mem::take(&mut self.batch);
        // the index keeps these as they are: without room to grow
        b.arena.shrink_to_fit();
        b.entries.shrink_to_fit();
        tx.send(LoadUpdate::Messages {
            entries: b.entries,
            arena: b.arena,
            pairs: b.pairs,
            timeline: b.timeline.finish(),
        })
    }

    fn store(&mut self, bytes: &[u8]) -> Span {
        let at = u32::try_from(self.batch.arena.len()).unwrap_or(u32::MAX);
        self.batch.arena.extend_from_slice(bytes);
        Span {
            chunk: 0, // set when the batch joins the index
            at,
            len: u32::try_from(bytes.len()).unwrap_or(u32::MAX),
        }
    }

    fn message(
        &mut self,
        file: usize,
        pkt: IkePacket,
        analyzer: &mut Analyzer,
        diagnostics: &mut Vec<String>,
    ) {
        // the header's length, when it is sane, cuts off trailing bytes
        let len = match Header::parse(&pkt.data) {
            Ok(h) if (h.length as usize) >= crate::wire::HEADER_LEN => {
                (h.length as usize).min(pkt.data.len())
            }
            _ => pkt.data.len(),
        };
        let data = &pkt.data[..len];
        let raw = self.store(data);
        let mut entry = self.blank_entry(file, &pkt, raw);
        let msg = match Message::parse(data) {
            Ok(m) => m,
            Err(e) => {
                if let Ok(h) = Header::parse(data) {
                    entry.take_header(&h);
                }
                diagnostics.push(format!(
                    "{}frame {}: malformed IKE message: {e}",
                    reader_name(file),
                    pkt.frame
                ));
                entry.shared = self.interned.get(SharedFacts {
                    summary: "[malformed]".into(),
                    malformed: Some(e.to_string().into()),
                    ..(*entry.shared).clone()
                });
                self.push(entry);
                return;
            }
        };
        let h = &msg.header;
        entry.take_header(h);
        let opened: Option<Opened> = self.decryptor.open(&msg, data, pkt.frame, pkt.time_us);
        let inner = opened.as_ref().map(|o| inner_payloads(&msg, o));
        entry.integrity = opened.as_ref().map(|o| o.integrity);
        entry.plain = opened.as_ref().and_then(|o| self.store_plain(o));
        let inner_payloads = inner.as_ref().and_then(|i| i.payloads.as_deref());
        let (summary, notifies) = summarize(&msg.payloads, inner_payloads, h.is_initiator());
        entry.shared = self.interned.get(SharedFacts {
            summary: summary.into(),
            notifies: notifies.into(),
            ..(*entry.shared).clone()
        });
        let observed = ObservedMessage {
            frame: pkt.frame,
            time_us: pkt.time_us,
            src: pkt.src,
            sport: pkt.sport,
            dst: pkt.dst,
            dport: pkt.dport,
            header: h,
            payloads: &msg.payloads,
            inner: inner_payloads,
            integrity_ok: opened
                .as_ref()
                .filter(|o| o.integrity != IntegrityStatus::NoKeys)
                .map(|o| o.integrity == IntegrityStatus::Ok),
        };
        // the exchange-by-exchange events are the message list's job, not the timeline's
        let base = self.sa_base;
        for e in analyzer.observe(&observed) {
            if !matches!(e.kind, EventKind::Exchange { .. }) {
                self.batch.timeline.push(&e, base);
            }
        }
        entry.sa = analyzer
            .find_sa(h.spi_i, h.spi_r)
            .and_then(|s| u32::try_from(s.0).ok())
            .map(|s| s.saturating_add(self.sa_base));
        self.push(entry);
    }

    /// An entry for `pkt` before its header is read.
    fn blank_entry(&mut self, file: usize, pkt: &IkePacket, raw: Span) -> MessageEntry {
        MessageEntry {
            file: u16::try_from(file).unwrap_or(u16::MAX),
            frame: pkt.frame,
            time_us: pkt.time_us,
            transport: pkt.transport,
            spi_i: 0,
            spi_r: 0,
            exchange: 0,
            message_id: 0,
            flags: 0,
            sa: None,
            shared: self.interned.get(SharedFacts {
                src: SocketAddr::new(pkt.src, pkt.sport),
                dst: SocketAddr::new(pkt.dst, pkt.dport),
                summary: "".into(),
                notifies: Box::new([]),
                malformed: None,
            }),
            integrity: None,
            partner: None,
            copy: 0,
            raw,
            plain: None,
        }
    }

    /// Keeps the decrypted content (a reassembled message's, or one whose ICV held) and
    /// where its first payload is.
    fn store_plain(&mut self, o: &Opened) -> Option<PlainSpan> {
        let (bytes, first) = match &o.reassembled {
            Some(r) => (r.data.as_deref()?, r.first_payload),
            None if o.integrity == IntegrityStatus::Ok => (&o.plaintext[..], o.first_payload),
            None => return None,
        };
        // a message is at most 64 KiB: its length plus one fits
        let len_plus_one = NonZeroU32::new(u32::try_from(bytes.len()).ok()?.checked_add(1)?)?;
        Some(PlainSpan {
            at: self.store(bytes).at,
            len_plus_one,
            first,
        })
    }

    /// Appends the entry, numbering retransmissions and pairing requests and responses.
    fn push(&mut self, mut entry: MessageEntry) {
        let index = self.next_index;
        self.next_index = self.next_index.saturating_add(1);
        if let Some(sa) = entry.sa.and_then(|s| usize::try_from(s).ok()) {
            // SAs are numbered in order of appearance: a new one is the next number
            if sa >= self.sa_spans.len() && sa < self.sa_spans.len() + 1024 {
                self.sa_spans.resize(sa + 1, (index, index));
            }
            if let Some(span) = self.sa_spans.get_mut(sa) {
                span.1 = index;
            }
        }
        if entry.malformed().is_none() {
            self.pair(&mut entry, index);
        }
        self.batch.entries.push(entry);
    }

    /// Numbers a request's copies; pairs a response with the request's latest copy.
    fn pair(&mut self, entry: &mut MessageEntry, index: u32) {
        let now = entry.time_us;
        self.forget_answered(now);
        let requester_is_initiator = entry.from_initiator() != entry.is_response();
        let key = (entry.spi_i, requester_is_initiator, entry.message_id);
        if entry.is_response() {
            if let Some(copies) = self.requests.get_mut(&key) {
                entry.partner = Some(copies.last);
                self.batch.pairs.push((copies.last, index));
                copies.last_us = now;
                copies.answered = true;
                self.answered.note(now, key);
            }
            return;
        }
        let copies = self.requests.entry(key).or_insert(RequestCopies {
            count: 0,
            last: index,
            last_us: now,
            answered: false,
        });
        entry.copy = copies.count;
        copies.count = copies.count.saturating_add(1);
        copies.last = index;
        copies.last_us = now;
        if copies.answered {
            self.answered.note(now, key);
        }
    }

    /// Forgets the requests answered before the retention, unless a copy came since.
    fn forget_answered(&mut self, now: i64) {
        for (at, key) in self.answered.expire(now) {
            if self.requests.get(&key).is_some_and(|c| c.last_us == at) {
                self.requests.remove(&key);
            }
        }
    }
}

fn reader_name(_file: usize) -> String {
    String::new()
}

/// `SA KE Ni N(NAT_DETECTION_SOURCE_IP) SK{IDi AUTH ...}` and the notify types.
fn summarize(outer: &[Payload], inner: Option<&[Payload]>, initiator: bool) -> (String, Vec<u16>) {
    let mut s = String::new();
    let mut notifies = Vec::new();
    for p in outer {
        if !s.is_empty() {
            s.push(' ');
        }
        let is_sk = matches!(p.body, PayloadBody::Sk(_) | PayloadBody::Skf(_));
        push_payload_name(&mut s, p, initiator, &mut notifies);
        if let (true, Some(inner)) = (is_sk, inner) {
            s.push('{');
            for (i, q) in inner.iter().enumerate() {
                if i > 0 {
                    s.push(' ');
                }
                push_payload_name(&mut s, q, initiator, &mut notifies);
            }
            s.push('}');
        }
    }
    (s, notifies)
}

fn push_payload_name(s: &mut String, p: &Payload, initiator: bool, notifies: &mut Vec<u16>) {
    match &p.body {
        PayloadBody::Notify(n) => {
            notifies.push(n.notify_type);
            match registry::notify_name(n.notify_type) {
                Some(name) => s.push_str(&format!("N({name})")),
                None => s.push_str(&format!("N({})", n.notify_type)),
            }
        }
        PayloadBody::Nonce(_) => s.push_str(if initiator { "Ni" } else { "Nr" }),
        _ => match registry::payload_name(p.payload_type) {
            Some(name) => s.push_str(name),
            None => s.push_str(&format!("#{}", p.payload_type)),
        },
    }
}
