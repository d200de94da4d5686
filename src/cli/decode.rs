//! `mobikectl decode`: capture events in, one rendering per IKE message out.
use std::fmt;
use std::io::{self, Write};
use std::net::IpAddr;
use std::sync::Mutex;

use serde_json::{Map, Value};

use super::args::{DecodeArgs, Format};
use super::filter::MessageFilter;
use super::table::Summary;
use super::text;
use crate::analysis::{AnalysisEvent, Analyzer, ObservedMessage};
use crate::capture::{CaptureEvent, CaptureOptions, CaptureReader, IkePacket, Severity, Transport};
use crate::child_sa::{inner_ip_summary, parse_child_keys, ChildSaTracker, EspError};
use crate::crypto::Integrity;
use crate::decrypt::{Decryptor, FragmentLimits, IntegrityStatus, Opened};
use crate::dissect::{self, DecryptionView, FieldSink, JsonWriter, ValueSink};
use crate::keys::{KeyFileFormat, KeyStore};
use crate::wire::payload_type::SK as PAYLOAD_SK;
use crate::wire::{parse_payload_chain, Header, Message, Payload, HEADER_LEN};

/// How a decode run ended, for the exit status.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// IKE messages decoded (after filtering).
    pub messages: u64,
    /// Malformed or truncated inputs seen (packets, messages or notify data).
    pub malformed: u64,
}

/// Runs `decode`, writing to `out` and diagnostics to `diag`. An `Err` means an input could not
/// be opened at all; malformed content is counted in the outcome and decoding goes on.
pub fn run(
    args: &DecodeArgs,
    out: &mut dyn Write,
    diag: &mut dyn Write,
) -> Result<Outcome, String> {
    let stages = pipelined(args).then(pipeline::Stages::default);
    run_in(args, stages, out, diag)
}

/// [`run`] in one thread, or in two stages (see [`pipelined`]).
fn run_in(
    args: &DecodeArgs,
    two_stage: Option<pipeline::Stages>,
    out: &mut dyn Write,
    diag: &mut dyn Write,
) -> Result<Outcome, String> {
    let filter = MessageFilter::parse(&args.filter)?;
    let options = CaptureOptions {
        tcp_ports: args.tcp_ports.clone(),
        udp_ports: args.udp_ports.clone(),
        udp_encap_ports: args.natt_ports.clone(),
        esp_data: args.esp,
        ..CaptureOptions::default()
    };
    let mut keys = KeyStore::new();
    let mut children = ChildSaTracker::new();
    for path in &args.keys {
        keys.add_file(path).map_err(|e| e.to_string())?;
        if args.esp {
            // charon logs at `chd 4` also hold CHILD_SA keys (and PFS DH secrets).
            if let Ok(text) = std::fs::read_to_string(path) {
                if KeyFileFormat::detect(&text) == Some(KeyFileFormat::CharonLog) {
                    children.add_logged(parse_child_keys(&text));
                }
            }
        }
    }
    for warning in keys.warnings() {
        let _ = writeln!(diag, "warning: {warning}");
    }
    let mut run = DecodeRun {
        args,
        filter,
        decryptor: Decryptor::new(keys, FragmentLimits::default()),
        analyzer: Analyzer::new(),
        children,
        esp_buffer: Vec::new(),
        renderer: Renderer::new(args),
        pipe: None,
        multiple_files: args.files.len() > 1,
        summary: Summary::default(),
        outcome: Outcome::default(),
    };
    if let Some(stages) = two_stage {
        return pipeline::run(run, &options, stages, out, diag);
    }
    let result = if let Some(iface) = &args.interface {
        let reader = CaptureReader::open_live(iface, &options)
            .map_err(|e| format!("cannot capture on {iface}: {e}"))?;
        run.feed(reader, iface, out, diag)
    } else {
        let mut result = Ok(());
        for path in &args.files {
            let name = path.display().to_string();
            let reader = CaptureReader::open_file(path, &options)
                .map_err(|e| format!("cannot read {name}: {e}"))?;
            result = run.feed(reader, &name, out, diag);
            if result.is_err() {
                break;
            }
        }
        result
    };
    match result {
        Ok(()) => {}
        // A closed pipe (`| head`) ends output early; that is not an error.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(run.outcome),
        Err(e) => return Err(format!("writing output: {e}")),
    }
    if args.format == Format::Table {
        run.summary
            .render(out)
            .map_err(|e| format!("writing output: {e}"))?;
    }
    out.flush().ok();
    Ok(run.outcome)
}

self_cell::self_cell!(
    /// An IKE message's bytes with their parse, which borrows them: a message parsed on the
    /// capture thread is rendered on the other from this same parse.
    struct ParsedMessage {
        owner: Vec<u8>,
        #[covariant]
        dependent: Message,
    }
);

/// The parts of an ESP capture event `--esp` shows. The endpoints have ports for UDP- or
/// TCP-encapsulated ESP.
struct EspView<'d> {
    frame: u64,
    time_us: i64,
    src: crate::capture::Endpoint,
    dst: crate::capture::Endpoint,
    spi: u32,
    encap: bool,
    data: &'d [u8],
}

struct DecodeRun<'a> {
    args: &'a DecodeArgs,
    filter: MessageFilter,
    decryptor: Decryptor,
    // One analysis per capture: frame numbers, and often the capture point, change per file.
    analyzer: Analyzer,
    // CHILD_SAs learnt from the decrypted IKE traffic, for `--esp`.
    children: ChildSaTracker,
    esp_buffer: Vec<u8>,
    renderer: Renderer,
    /// Two-stage decoding: where records go to be rendered on another thread.
    pipe: Option<&'a Mutex<pipeline::Batch>>,
    multiple_files: bool,
    summary: Summary,
    outcome: Outcome,
}

impl DecodeRun<'_> {
    fn feed(
        &mut self,
        mut reader: CaptureReader,
        source: &str,
        out: &mut dyn Write,
        diag: &mut dyn Write,
    ) -> io::Result<()> {
        while let Some(event) = reader.next_event() {
            match event {
                CaptureEvent::Ike(pkt) => self.ike(pkt, source, out, diag)?,
                CaptureEvent::Esp {
                    frame,
                    time_us,
                    src,
                    sport,
                    dst,
                    dport,
                    spi,
                    len,
                    encap,
                    data,
                    ..
                } => {
                    self.summary.esp(spi, src, dst, len, encap);
                    if self.args.esp && self.filter.matches_esp(spi, src, dst) {
                        let esp = EspView {
                            frame,
                            time_us,
                            src: crate::capture::Endpoint::new(src, sport),
                            dst: crate::capture::Endpoint::new(dst, dport),
                            spi,
                            encap,
                            data: &data,
                        };
                        self.esp(&esp, out)?;
                    }
                }
                CaptureEvent::Keepalive { .. } => self.summary.keepalive(),
                CaptureEvent::Diagnostic {
                    frame,
                    severity,
                    message,
                } => {
                    if severity == Severity::Malformed {
                        self.outcome.malformed += 1;
                    }
                    self.summary.diagnostic(severity);
                    writeln!(diag, "{source}: frame {frame}: {severity}: {message}")?;
                }
            }
            if self.args.interface.is_some() {
                // Live: each record is shown as it arrives.
                out.flush()?;
            }
            if let (Some(limit), true) = (self.args.count, self.args.interface.is_some()) {
                if self.outcome.messages >= limit {
                    break;
                }
            }
        }
        self.decryptor.finish_capture();
        self.decrypt_diagnostics(source, diag)?;
        let mut analyzer = std::mem::take(&mut self.analyzer);
        let last = analyzer.finish();
        if self.args.timeline {
            for event in &last {
                write_event(
                    event,
                    self.args.format,
                    self.multiple_files.then_some(source),
                    out,
                )?;
            }
        } else if self.args.format == Format::Table {
            self.summary
                .mobike(self.multiple_files.then_some(source), &analyzer);
        }
        Ok(())
    }

    fn decrypt_diagnostics(&mut self, source: &str, diag: &mut dyn Write) -> io::Result<()> {
        for d in self.decryptor.drain_diagnostics() {
            if d.severity == Severity::Malformed {
                self.outcome.malformed += 1;
            }
            self.summary.diagnostic(d.severity);
            writeln!(
                diag,
                "{source}: frame {}: {}: {}",
                d.frame, d.severity, d.message
            )?;
        }
        Ok(())
    }

    fn ike(
        &mut self,
        mut pkt: IkePacket,
        source: &str,
        out: &mut dyn Write,
        diag: &mut dyn Write,
    ) -> io::Result<()> {
        // Bytes after the header's length were already reported by the capture layer; decode
        // the message itself, as a receiver would.
        let len = match Header::parse(&pkt.data) {
            Ok(h) if (h.length as usize) >= HEADER_LEN && (h.length as usize) < pkt.data.len() => {
                h.length as usize
            }
            _ => pkt.data.len(),
        };
        // Parsed together with its bytes, so that the other thread of a pipelined run renders
        // this very parse.
        let data = std::mem::take(&mut pkt.data);
        let parsed = match ParsedMessage::try_new_or_recover(data, |d| Message::parse(&d[..len])) {
            Ok(parsed) => parsed,
            Err((data, err)) => {
                pkt.data = data;
                self.outcome.malformed += 1;
                writeln!(
                    diag,
                    "{source}: frame {}: malformed IKE message: {err}",
                    pkt.frame
                )?;
                if self.filter.is_empty() {
                    self.malformed_record(&pkt, &err.to_string(), out)?;
                }
                return Ok(());
            }
        };
        let filter = &self.filter;
        if !parsed.with_dependent(|_, msg| filter.matches(&msg.header, pkt.src, pkt.dst)) {
            return Ok(());
        }
        self.outcome.messages += 1;
        if let Some(pipe) = self.pipe {
            // Pipelined (records only): the message goes to the other thread to be decrypted
            // and rendered, unless that thread is behind.
            if pipeline::lock(pipe).delegates() {
                let decryptor = &mut self.decryptor;
                let opening = parsed.with_dependent(|d, msg| {
                    decryptor.prepare(msg, &d[..len], pkt.frame, pkt.time_us)
                });
                // The decryptor's diagnostics go along, to be written after the message's own
                // decryption problem as when it is rendered here.
                let mut after = Vec::new();
                if opening.is_some() {
                    self.decrypt_diagnostics(source, &mut after)?;
                }
                return pipeline::lock(pipe).message(
                    pkt,
                    parsed,
                    len,
                    opening,
                    after,
                    self.outcome,
                );
            }
        }
        parsed.with_dependent(|d, msg| self.message(&pkt, msg, &d[..len], source, out, diag))
    }

    /// A message parsed from `data` (the bytes `pkt` carried, up to the header's length):
    /// decrypted, then analysed or rendered.
    fn message(
        &mut self,
        pkt: &IkePacket,
        msg: &Message<'_>,
        data: &[u8],
        source: &str,
        out: &mut dyn Write,
        diag: &mut dyn Write,
    ) -> io::Result<()> {
        let opened = self.decryptor.open(msg, data, pkt.frame, pkt.time_us);
        let inner = opened.as_ref().map(|o| inner_payloads(msg, o));
        if opened.is_some() {
            if let Some(problem) = inner.as_ref().and_then(|i| i.error.as_ref()) {
                self.outcome.malformed += 1;
                writeln!(diag, "{source}: frame {}: malformed: {problem}", pkt.frame)?;
            }
            self.decrypt_diagnostics(source, diag)?;
        }
        let observed = ObservedMessage {
            frame: pkt.frame,
            time_us: pkt.time_us,
            src: pkt.src,
            sport: pkt.sport,
            dst: pkt.dst,
            dport: pkt.dport,
            header: &msg.header,
            payloads: &msg.payloads,
            inner: inner.as_ref().and_then(|i| i.payloads.as_deref()),
            integrity_ok: opened
                .as_ref()
                .filter(|o| o.integrity != IntegrityStatus::NoKeys)
                .map(|o| o.integrity == IntegrityStatus::Ok),
        };
        if self.args.esp {
            let readable = observed.inner.or(if opened.is_none() {
                Some(&msg.payloads[..])
            } else {
                None
            });
            if let Some(payloads) = readable {
                let keys = self
                    .decryptor
                    .keys()
                    .find_set(msg.header.spi_i, msg.header.spi_r);
                self.children.observe_ike(&msg.header, payloads, keys);
            }
        }
        if self.args.timeline {
            for event in self.analyzer.observe(&observed) {
                write_event(
                    &event,
                    self.args.format,
                    self.multiple_files.then_some(source),
                    out,
                )?;
            }
            return Ok(());
        }
        if self.args.format == Format::Table {
            self.analyzer.observe(&observed).for_each(drop);
            self.summary.message(pkt, &msg.header);
            return Ok(());
        }
        let malformed = self
            .renderer
            .render(pkt, msg, data, opened.as_ref(), inner.as_ref())?;
        if malformed > 0 {
            self.outcome.malformed += malformed;
            writeln!(
                diag,
                "{source}: frame {}: {malformed} malformed notify payload(s)",
                pkt.frame
            )?;
        }
        self.renderer.write(out, 0)?;
        match self.pipe {
            Some(pipe) => pipeline::lock(pipe).rendered(),
            None => Ok(()),
        }
    }

    /// One ESP packet for `--esp`: decrypted by SPI when its CHILD_SA's keys are known.
    fn esp(&mut self, esp: &EspView<'_>, out: &mut dyn Write) -> io::Result<()> {
        if self.args.format == Format::Table {
            return Ok(());
        }
        let result =
            self.children
                .decrypt_esp_into(esp.src, esp.dst, esp.data, &mut self.esp_buffer);
        let mut fields = Map::new();
        fields.insert("spi".into(), Value::from(format!("{:08x}", esp.spi)));
        fields.insert("encap".into(), Value::from(esp.encap));
        match &result {
            Ok(info) => {
                fields.insert("seq".into(), Value::from(info.seq));
                let integrity = if info.integrity == Integrity::Ok {
                    "ok"
                } else {
                    "bad"
                };
                fields.insert("integrity".into(), Value::from(integrity));
                fields.insert("child_sa".into(), Value::from(info.child));
                if info.integrity == Integrity::Ok {
                    fields.insert("next_header".into(), Value::from(info.next_header));
                    fields.insert(
                        "inner".into(),
                        Value::from(inner_ip_summary(info.next_header, &self.esp_buffer)),
                    );
                }
                if let Some((src, dst)) = info.moved_from {
                    fields.insert("moved_from".into(), Value::from(format!("{src} -> {dst}")));
                }
            }
            Err(EspError::UnknownSpi(_)) | Err(EspError::NoKeys { .. }) => {
                fields.insert("integrity".into(), Value::from("no-keys"));
            }
            Err(e) => {
                fields.insert("integrity".into(), Value::from("bad"));
                fields.insert("error".into(), Value::from(e.to_string()));
            }
        }
        match self.args.format {
            Format::Json => {
                let mut record = Map::new();
                record.insert("frame".into(), Value::from(esp.frame));
                record.insert("time".into(), Value::from(rfc3339_micros(esp.time_us)));
                // As for IKE messages: addresses and ports apart (ports null for raw ESP).
                record.insert("src".into(), Value::from(esp.src.addr.to_string()));
                record.insert("sport".into(), Value::from(esp.src.port));
                record.insert("dst".into(), Value::from(esp.dst.addr.to_string()));
                record.insert("dport".into(), Value::from(esp.dst.port));
                record.insert("esp".into(), Value::Object(fields));
                serde_json::to_writer(&mut *out, &Value::Object(record))?;
                out.write_all(b"\n")
            }
            _ => {
                let mut line = format!(
                    "frame {} {} {} -> {} ESP",
                    esp.frame,
                    rfc3339_micros(esp.time_us),
                    esp.src,
                    esp.dst
                );
                for (k, v) in &fields {
                    let v = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    line.push_str(&format!(" {k}={v}"));
                }
                writeln!(out, "{line}")
            }
        }
    }

    /// A message that did not parse is still shown, so nothing is silently lost.
    fn malformed_record(
        &mut self,
        pkt: &IkePacket,
        error: &str,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        match self.args.format {
            Format::Json => {
                let mut record = packet_fields(pkt);
                // A cut or lying message still has a header worth showing.
                if let Ok(header) = Header::parse(&pkt.data) {
                    if let Value::Object(h) = dissect::header_json(&header) {
                        record.extend(h);
                    }
                }
                record.insert("error".into(), Value::from(error));
                record.insert("data".into(), Value::from(hex::encode(&pkt.data)));
                serde_json::to_writer(&mut *out, &Value::Object(record))?;
                out.write_all(b"\n")
            }
            Format::Text => text::render_malformed(pkt, error, out),
            Format::Table => Ok(()),
        }
    }
}

/// Renders records of IKE messages as JSON Lines or text, appended to a buffer of records not
/// written yet (reused, with the JSON writer's state): records go to the output straight from
/// it, several at a time, not through a copy in another buffer.
struct Renderer {
    format: Format,
    hex: bool,
    json: JsonWriter,
    text: Vec<u8>,
}

impl Renderer {
    fn new(args: &DecodeArgs) -> Self {
        Renderer {
            format: args.format,
            hex: args.hex,
            json: JsonWriter::new(),
            text: Vec::new(),
        }
    }

    /// Renders the record of `msg` (the message in `data`, as `pkt` carried it) with what
    /// decryption made of it, after the records not yet written ([`Renderer::write`]).
    /// Returns the count of malformed notify data in it.
    fn render(
        &mut self,
        pkt: &IkePacket,
        msg: &Message,
        data: &[u8],
        opened: Option<&Opened>,
        inner: Option<&InnerPayloads<'_>>,
    ) -> io::Result<u64> {
        let view = opened.zip(inner).map(|(o, i)| (o.payload_index, i.view(o)));
        let decryption = view.as_ref().map(|(at, v)| (*at, v));
        // The record is rendered into a buffer first: the count of malformed notify data is
        // reported before the record is written, as with the JSON value before.
        if self.format == Format::Json {
            self.json.next_record();
            let mut sink = CountMalformed::new(&mut self.json);
            visit_record(pkt, msg, decryption, &mut sink);
            let n = sink.count;
            self.json.push_raw(b"\n");
            Ok(n)
        } else {
            Ok(text::render_message(
                pkt,
                msg,
                data,
                decryption,
                self.hex,
                &mut self.text,
            ))
        }
    }

    /// Writes the records rendered so far to `out` once they are `at_least` bytes (0: now).
    fn write(&mut self, out: &mut dyn Write, at_least: usize) -> io::Result<()> {
        let pending = match self.format {
            Format::Json => self.json.as_bytes(),
            _ => &self.text,
        };
        if pending.is_empty() || pending.len() < at_least {
            return Ok(());
        }
        out.write_all(pending)?;
        match self.format {
            Format::Json => self.json.clear(),
            _ => self.text.clear(),
        }
        Ok(())
    }
}

/// Whether `decode` runs in two stages on two threads: capture, decryption and diagnostics on
/// one, rendering and writing records on the other (same output, same order). Only for
/// records of IKE messages from capture files (not live capture, `--timeline`, `--esp` or the
/// table), only with more than one CPU, and not with `MOBIKECTL_THREADS=1` in the
/// environment.
fn pipelined(args: &DecodeArgs) -> bool {
    matches!(args.format, Format::Json | Format::Text)
        && !args.timeline
        && !args.esp
        && args.interface.is_none()
        && std::env::var_os("MOBIKECTL_THREADS").is_none_or(|v| v != "1")
        && std::thread::available_parallelism().is_ok_and(|n| n.get() > 1)
}

mod pipeline {
    //! Two-stage `decode`: the capture is read, parsed and decrypted on one thread (with all
    //! its sequential state); records are rendered and written in order on the calling thread.
    //! Both streams keep their order: what the first stage writes (diagnostics, records of
    //! messages that did not parse) travels with the records to render, in batches over a
    //! bounded channel (memory stays bounded).
    use std::io::{self, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
    use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

    use super::{inner_payloads, DecodeRun, Outcome, ParsedMessage, Renderer};
    use crate::capture::{CaptureOptions, CaptureReader, IkePacket};
    use crate::decrypt::Opening;

    /// Batches on their way.
    const IN_FLIGHT: usize = 4;

    /// Rendered records are written in pieces of at least this many bytes (the size of the
    /// output's buffer, which then passes them on without copying them).
    const WRITE_TOGETHER: usize = 64 * 1024;

    /// How work is divided between the stages.
    #[derive(Debug, Clone, Copy)]
    pub(super) struct Stages {
        /// Messages per batch.
        pub batch: usize,
        /// With this many batches not written yet, the first stage renders the next batch
        /// itself (the work goes to whichever thread has time: rendering usually costs more
        /// than reading and decrypting).
        pub behind: usize,
    }

    impl Default for Stages {
        fn default() -> Self {
            // Measured on the 28,000-message benchmark (2 CPUs): 256 messages and 3 batches
            // behind were faster than 128 and 2 (fewer hand-overs between the threads) for
            // about 5 MB more memory at most.
            Stages {
                batch: 256,
                behind: 3,
            }
        }
    }

    // Nearly every item is a message: boxing it would cost an allocation per message to save
    // space in the few others.
    #[allow(clippy::large_enum_variant)]
    pub(super) enum Item {
        /// Bytes for stdout.
        Out(Vec<u8>),
        /// Bytes for stderr.
        Diag(Vec<u8>),
        /// The capture whose messages follow, for diagnostics.
        Source(String),
        /// A message to decrypt and render, with the first stage's diagnostics about its
        /// decryption and outcome after it.
        Message {
            /// The packet, its bytes moved into `parsed`.
            pkt: IkePacket,
            parsed: ParsedMessage,
            len: usize,
            opening: Option<Opening>,
            after: Vec<u8>,
            outcome: Outcome,
        },
        /// The end: the first stage's outcome, or why it stopped.
        End(Result<Outcome, String>),
    }

    /// The batch (only ever used by the first stage: the lock is never contended).
    pub(super) fn lock(batch: &Mutex<Batch>) -> MutexGuard<'_, Batch> {
        batch.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The batch being filled by the first stage.
    pub(super) struct Batch {
        items: Vec<Item>,
        messages: usize,
        tx: SyncSender<Vec<Item>>,
        /// Batches sent and not yet written by the second stage.
        unwritten: Arc<AtomicUsize>,
        /// This batch is rendered by the first stage.
        render_here: bool,
        stages: Stages,
    }

    impl Batch {
        /// Whether the next message goes to the second stage to be rendered.
        pub(super) fn delegates(&self) -> bool {
            !self.render_here
        }

        /// Counts a message the first stage rendered (into this batch's bytes).
        pub(super) fn rendered(&mut self) -> io::Result<()> {
            self.messages += 1;
            if self.messages >= self.stages.batch {
                self.send()?;
            }
            Ok(())
        }

        fn push(&mut self, item: Item) {
            self.items.push(item);
        }

        /// Sends the batch; an error when the second stage has stopped (its output closed).
        fn send(&mut self) -> io::Result<()> {
            let items = std::mem::replace(&mut self.items, Vec::with_capacity(self.stages.batch));
            self.messages = 0;
            let behind = self.unwritten.fetch_add(1, Ordering::AcqRel);
            self.render_here = behind >= self.stages.behind;
            self.tx
                .send(items)
                .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))
        }

        pub(super) fn message(
            &mut self,
            pkt: IkePacket,
            parsed: ParsedMessage,
            len: usize,
            opening: Option<Opening>,
            after: Vec<u8>,
            outcome: Outcome,
        ) -> io::Result<()> {
            self.push(Item::Message {
                pkt,
                parsed,
                len,
                opening,
                after,
                outcome,
            });
            self.messages += 1;
            if self.messages >= self.stages.batch {
                self.send()?;
            }
            Ok(())
        }

        /// Appends bytes for stdout (`diag == false`) or stderr.
        fn bytes(&mut self, diag: bool, buf: &[u8]) {
            match (self.items.last_mut(), diag) {
                (Some(Item::Out(b)), false) | (Some(Item::Diag(b)), true) => {
                    b.extend_from_slice(buf)
                }
                _ => {
                    let b = buf.to_vec();
                    self.push(if diag { Item::Diag(b) } else { Item::Out(b) });
                }
            }
        }
    }

    /// stdout or stderr of the first stage.
    struct Stream<'b> {
        batch: &'b Mutex<Batch>,
        diag: bool,
    }

    impl Write for Stream<'_> {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            lock(self.batch).bytes(self.diag, buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// Decodes the capture files of `run` in two stages (see the module documentation).
    pub(super) fn run(
        run: DecodeRun<'_>,
        options: &CaptureOptions,
        stages: Stages,
        out: &mut dyn Write,
        diag: &mut dyn Write,
    ) -> Result<Outcome, String> {
        let (tx, rx) = sync_channel(IN_FLIGHT);
        let unwritten = Arc::new(AtomicUsize::new(0));
        let mut renderer = Renderer::new(run.args);
        std::thread::scope(|scope| {
            let first = std::thread::Builder::new()
                .name("decode-capture".into())
                .spawn_scoped(scope, {
                    let unwritten = Arc::clone(&unwritten);
                    move || first_stage(run, options, stages, tx, unwritten)
                });
            match first {
                Ok(_) => second_stage(rx, &unwritten, &mut renderer, out, diag),
                Err(e) => Err(format!("cannot start a thread: {e}")),
            }
        })
    }

    fn first_stage(
        run: DecodeRun<'_>,
        options: &CaptureOptions,
        stages: Stages,
        tx: SyncSender<Vec<Item>>,
        unwritten: Arc<AtomicUsize>,
    ) {
        let batch = Mutex::new(Batch {
            items: Vec::with_capacity(stages.batch),
            stages,
            messages: 0,
            tx,
            unwritten,
            render_here: false,
        });
        let mut out = Stream {
            batch: &batch,
            diag: false,
        };
        let mut diag = Stream {
            batch: &batch,
            diag: true,
        };
        let mut run = DecodeRun {
            pipe: Some(&batch),
            ..run
        };
        let mut end = Ok(());
        for path in &run.args.files {
            let name = path.display().to_string();
            let reader = match CaptureReader::open_file(path, options) {
                Ok(r) => r,
                Err(e) => {
                    end = Err(Err(format!("cannot read {name}: {e}")));
                    break;
                }
            };
            lock(&batch).push(Item::Source(name.clone()));
            if let Err(e) = run.feed(reader, &name, &mut out, &mut diag) {
                end = Err(Ok(e));
                break;
            }
        }
        let end = match end {
            Ok(()) => Ok(run.outcome),
            // The second stage stopped: nobody is listening any more.
            Err(Ok(_)) => return,
            Err(Err(e)) => Err(e),
        };
        let mut batch = lock(&batch);
        batch.push(Item::End(end));
        let _ = batch.send();
    }

    fn second_stage(
        rx: Receiver<Vec<Item>>,
        unwritten: &AtomicUsize,
        renderer: &mut Renderer,
        out: &mut dyn Write,
        diag: &mut dyn Write,
    ) -> Result<Outcome, String> {
        // The first stage's outcome as of the last message, plus what rendering found.
        let mut outcome = Outcome::default();
        let mut malformed = 0;
        let mut source = String::new();
        let write = || -> io::Result<Result<Outcome, String>> {
            for items in rx {
                for item in items {
                    match item {
                        Item::Out(b) => {
                            renderer.write(out, 0)?;
                            out.write_all(&b)?
                        }
                        Item::Diag(b) => diag.write_all(&b)?,
                        Item::Source(s) => source = s,
                        Item::Message {
                            pkt,
                            parsed,
                            len,
                            opening,
                            after,
                            outcome: first,
                        } => {
                            outcome = first;
                            parsed.with_dependent(|d, msg| -> io::Result<()> {
                                let data = &d[..len];
                                let opened = opening.map(|o| o.finish(data));
                                let inner = opened.as_ref().map(|o| inner_payloads(msg, o));
                                if let Some(problem) = inner.as_ref().and_then(|i| i.error.as_ref())
                                {
                                    malformed += 1;
                                    writeln!(
                                        diag,
                                        "{source}: frame {}: malformed: {problem}",
                                        pkt.frame
                                    )?;
                                }
                                diag.write_all(&after)?;
                                let n = renderer.render(
                                    &pkt,
                                    msg,
                                    data,
                                    opened.as_ref(),
                                    inner.as_ref(),
                                )?;
                                if n > 0 {
                                    malformed += n;
                                    writeln!(
                                        diag,
                                        "{source}: frame {}: {n} malformed notify payload(s)",
                                        pkt.frame
                                    )?;
                                }
                                renderer.write(out, WRITE_TOGETHER)
                            })?;
                        }
                        Item::End(end) => {
                            renderer.write(out, 0)?;
                            return Ok(end);
                        }
                    }
                }
                unwritten.fetch_sub(1, Ordering::AcqRel);
            }
            // The first stage ended without saying how: it panicked (the scope re-raises).
            renderer.write(out, 0)?;
            Ok(Ok(outcome))
        };
        let end = write();
        let with_rendering = |mut o: Outcome| {
            o.malformed += malformed;
            o
        };
        match end {
            Ok(Ok(o)) => {
                out.flush().ok();
                Ok(with_rendering(o))
            }
            Ok(Err(e)) => Err(e),
            // A closed pipe (`| head`) ends output early; that is not an error.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(with_rendering(outcome)),
            Err(e) => Err(format!("writing output: {e}")),
        }
    }
}

/// The JSON Lines object of one IKE message (schema in README).
pub fn message_record(pkt: &IkePacket, msg: &Message) -> Value {
    ValueSink::value(|s| visit_record(pkt, msg, None, s))
}

/// Describes the record of one IKE message (the object [`message_record`] builds) to a sink:
/// packet fields, header fields, payloads, and the decryption result added to the SK/SKF
/// payload at the given index.
pub fn visit_record<S: FieldSink + ?Sized>(
    pkt: &IkePacket,
    msg: &Message,
    decryption: Option<(usize, &DecryptionView<'_, '_>)>,
    s: &mut S,
) {
    s.begin_object("");
    visit_packet_fields(pkt, s);
    dissect::visit_header(&msg.header, s);
    dissect::visit_payloads("payloads", &msg.payloads, decryption, s);
    s.end_object();
}

/// Passes fields on to a sink, counting the `malformed` keys (malformed notify data) at any
/// depth.
struct CountMalformed<'s, S: FieldSink + ?Sized> {
    inner: &'s mut S,
    count: u64,
}

impl<'s, S: FieldSink + ?Sized> CountMalformed<'s, S> {
    fn new(inner: &'s mut S) -> Self {
        CountMalformed { inner, count: 0 }
    }

    #[inline]
    fn see(&mut self, key: &str) {
        self.count += u64::from(key == "malformed");
    }
}

impl<S: FieldSink + ?Sized> FieldSink for CountMalformed<'_, S> {
    fn null(&mut self, key: &str) {
        self.see(key);
        self.inner.null(key);
    }
    fn bool(&mut self, key: &str, v: bool) {
        self.see(key);
        self.inner.bool(key, v);
    }
    fn u64(&mut self, key: &str, v: u64) {
        self.see(key);
        self.inner.u64(key, v);
    }
    fn str(&mut self, key: &str, v: &str) {
        self.see(key);
        self.inner.str(key, v);
    }
    fn hex(&mut self, key: &str, v: &[u8]) {
        self.see(key);
        self.inner.hex(key, v);
    }
    fn display(&mut self, key: &str, v: &dyn fmt::Display) {
        self.see(key);
        self.inner.display(key, v);
    }
    fn begin_object(&mut self, key: &str) {
        self.see(key);
        self.inner.begin_object(key);
    }
    fn end_object(&mut self) {
        self.inner.end_object();
    }
    fn begin_list(&mut self, key: &str) {
        self.see(key);
        self.inner.begin_list(key);
    }
    fn end_list(&mut self) {
        self.inner.end_list();
    }
}

/// The inner payloads of an opened SK/SKF payload, parsed once for both the output and the
/// analysis, and what is wrong with them, if anything.
pub struct InnerPayloads<'o> {
    /// Parsed inner payloads: decrypted SK with integrity ok, or a reassembled SKF message.
    pub payloads: Option<Vec<Payload<'o>>>,
    /// Why the payload or its decrypted content could not be used.
    pub error: Option<String>,
}

impl<'o> InnerPayloads<'o> {
    /// What the output shows of `opened` (whose plaintext these payloads were parsed from).
    pub fn view<'s>(&'s self, opened: &'s Opened) -> DecryptionView<'s, 'o> {
        DecryptionView {
            integrity: opened.integrity.as_str(),
            error: self.error.as_deref(),
            payloads: self.payloads.as_deref(),
            fragments: opened.reassembled.as_ref().map(|r| r.frames.as_slice()),
        }
    }
}

/// Parses what `opened` decrypted from a payload of `msg`.
pub fn inner_payloads<'o>(msg: &Message<'_>, opened: &'o Opened) -> InnerPayloads<'o> {
    let sk_type = msg
        .payloads
        .get(opened.payload_index)
        .map_or(0, |p| p.payload_type);
    let mut error = opened.error.clone();
    let (first, inner) = match &opened.reassembled {
        Some(r) => (r.first_payload, r.data.as_deref()),
        None if opened.integrity == IntegrityStatus::Ok && sk_type == PAYLOAD_SK => {
            (opened.first_payload, Some(opened.plaintext.as_slice()))
        }
        None => (0, None),
    };
    let payloads = match inner.map(|bytes| parse_payload_chain(first, bytes, 0)) {
        Some(Ok((payloads, rest))) => {
            if !rest.is_empty() && error.is_none() {
                error = Some(format!(
                    "{} byte(s) after the inner payload chain",
                    rest.len()
                ));
            }
            Some(payloads)
        }
        Some(Err(e)) => {
            error.get_or_insert_with(|| format!("inner payloads: {e}"));
            None
        }
        None => None,
    };
    InnerPayloads { payloads, error }
}

/// Adds the decryption result to the SK/SKF payload object of `record`.
pub fn attach_decryption(record: &mut Value, opened: &Opened, inner: &InnerPayloads<'_>) {
    let Some(payload) = record
        .get_mut("payloads")
        .and_then(|p| p.get_mut(opened.payload_index))
    else {
        return;
    };
    dissect::add_decryption(payload, &inner.view(opened));
}

/// One `--timeline` line: the event's one-line rendering after its time, or its JSON object
/// with `time` (and `file` when several captures are decoded).
fn write_event(
    event: &AnalysisEvent,
    format: Format,
    file: Option<&str>,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Json => {
            let mut json = event.to_json();
            if let Value::Object(o) = &mut json {
                o.insert("time".into(), Value::from(rfc3339_micros(event.time_us)));
                if let Some(f) = file {
                    o.insert("file".into(), Value::from(f));
                }
            }
            serde_json::to_writer(&mut *out, &json)?;
            out.write_all(b"\n")
        }
        _ => match file {
            Some(f) => writeln!(out, "{f}: {} {event}", rfc3339_micros(event.time_us)),
            None => writeln!(out, "{} {event}", rfc3339_micros(event.time_us)),
        },
    }
}

fn packet_fields(pkt: &IkePacket) -> Map<String, Value> {
    match ValueSink::object(|s| visit_packet_fields(pkt, s)) {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The record's packet fields: `frame`, `time`, `src`, `sport`, `dst`, `dport`, `transport`.
fn visit_packet_fields<S: FieldSink + ?Sized>(pkt: &IkePacket, s: &mut S) {
    s.u64("frame", pkt.frame);
    s.display("time", &Rfc3339Micros(pkt.time_us));
    s.display("src", &dissect::Addr(pkt.src));
    s.u64("sport", pkt.sport.into());
    s.display("dst", &dissect::Addr(pkt.dst));
    s.u64("dport", pkt.dport.into());
    s.str("transport", transport_name(pkt.transport));
}

/// The `transport` value: how the IKE message travelled.
pub fn transport_name(t: Transport) -> &'static str {
    match t {
        Transport::Udp => "udp",
        Transport::UdpEncap => "udp-encap",
        Transport::Tcp => "tcp",
    }
}

/// Malformed notify data is reported by the dissector with a `malformed` key: how many a
/// record (e.g. from [`message_record`]) holds.
pub fn count_malformed(value: &Value) -> u64 {
    match value {
        Value::Object(m) => {
            u64::from(m.contains_key("malformed")) + m.values().map(count_malformed).sum::<u64>()
        }
        Value::Array(a) => a.iter().map(count_malformed).sum(),
        _ => 0,
    }
}

/// `2026-11-23T10:11:28.123456Z` from microseconds since the Unix epoch.
pub fn rfc3339_micros(time_us: i64) -> String {
    Rfc3339Micros(time_us).to_string()
}

/// Displays as [`rfc3339_micros`] (without building a `String`).
pub(crate) struct Rfc3339Micros(pub i64);

impl Rfc3339Micros {
    /// Appends the text to `out`.
    pub(crate) fn push_to(&self, out: &mut Vec<u8>) {
        thread_local! {
            // The last second's text: consecutive messages are mostly in the same second.
            static LAST_SECOND: std::cell::Cell<Option<(i64, [u8; 27])>> =
                const { std::cell::Cell::new(None) };
        }
        let secs = self.0.div_euclid(1_000_000);
        if let Some((last, mut buf)) = LAST_SECOND.get() {
            if last == secs {
                let mut micros = self.0.rem_euclid(1_000_000);
                for b in buf[20..26].iter_mut().rev() {
                    *b = b'0' + (micros % 10) as u8;
                    micros /= 10;
                }
                out.extend_from_slice(&buf);
                return;
            }
        }
        match self.fixed() {
            Some(buf) => {
                LAST_SECOND.set(Some((secs, buf)));
                out.extend_from_slice(&buf);
            }
            None => {
                use std::io::Write as _;
                let _ = write!(out, "{self}");
            }
        }
    }

    /// The text for years 0 to 9999 (fixed width), without the formatting machinery.
    fn fixed(&self) -> Option<[u8; 27]> {
        let time_us = self.0;
        let secs = time_us.div_euclid(1_000_000);
        let micros = time_us.rem_euclid(1_000_000);
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        if !(0..=9999).contains(&y) {
            return None;
        }
        let mut buf = *b"0000-00-00T00:00:00.000000Z";
        let mut put = |at: usize, width: usize, mut v: u64| {
            for i in (at..at + width).rev() {
                buf[i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(0, 4, y as u64);
        put(5, 2, m.into());
        put(8, 2, d.into());
        put(11, 2, (sod / 3600) as u64);
        put(14, 2, (sod % 3600 / 60) as u64);
        put(17, 2, (sod % 60) as u64);
        put(20, 6, micros as u64);
        Some(buf)
    }
}

impl fmt::Display for Rfc3339Micros {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(buf) = self.fixed() {
            return f.write_str(std::str::from_utf8(&buf).unwrap_or_default());
        }
        // Years outside 0..=9999 (signed or wider).
        let secs = self.0.div_euclid(1_000_000);
        let micros = self.0.rem_euclid(1_000_000);
        let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
        let sod = secs.rem_euclid(86_400);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z",
            sod / 3600,
            sod % 3600 / 60,
            sod % 60
        )
    }
}

/// Proleptic Gregorian date from days since 1970-01-01 (H. Hinnant's civil_from_days).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `addr:port`, with brackets for IPv6.
pub fn endpoint(addr: IpAddr, port: u16) -> String {
    match addr {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_pushed_like_displayed() {
        let mut out = Vec::new();
        let times = [
            0,
            5,
            999_999,
            1_000_000,
            -1,
            -1_000_001,
            1_795_428_688_000_042,
            1_795_428_688_999_999,
            1_795_428_689_000_000,
            253_402_300_800_000_000,
            i64::MIN,
            i64::MAX,
        ];
        for t in times.iter().chain(times.iter().rev()) {
            out.clear();
            Rfc3339Micros(*t).push_to(&mut out);
            assert_eq!(
                String::from_utf8(out.clone()).unwrap(),
                rfc3339_micros(*t),
                "{t}"
            );
        }
    }

    #[test]
    fn rfc3339_with_microseconds() {
        assert_eq!(rfc3339_micros(0), "1970-01-01T00:00:00.000000Z");
        // 2026-11-23T10:11:28.000042Z
        assert_eq!(
            rfc3339_micros(1_795_428_688_000_042),
            "2026-11-23T10:11:28.000042Z"
        );
        assert_eq!(
            rfc3339_micros(951_782_400_500_000),
            "2000-02-29T00:00:00.500000Z"
        );
        assert_eq!(rfc3339_micros(-1), "1969-12-31T23:59:59.999999Z");
    }

    #[test]
    fn two_stages_decode_like_one() {
        use clap::Parser;
        let captures = text::described::testdata_captures();
        assert!(captures.len() > 3);
        let decode = |argv: &[&str], two_stage: Option<pipeline::Stages>| {
            let cli = crate::cli::Cli::parse_from(argv);
            let crate::cli::args::Command::Decode(args) = cli.command else {
                unreachable!()
            };
            let (mut out, mut diag) = (Vec::new(), Vec::new());
            let r = run_in(&args, two_stage, &mut out, &mut diag);
            (r, out, diag)
        };
        for cap in &captures {
            let cap = cap.to_str().unwrap();
            let table = std::path::Path::new(cap).with_file_name("ikev2_decryption_table");
            let table = table.to_str().unwrap();
            for format in ["json", "text"] {
                let mut argv = vec!["mobikectl", "decode", "-f", format, cap];
                if std::path::Path::new(table).exists() {
                    argv.extend(["--keys", table]);
                }
                // Several files, one of them twice, and one that cannot be read.
                let mut many = argv.clone();
                many.extend([cap, "testdata/no such capture.pcap"]);
                for argv in [&argv, &many] {
                    let one = decode(argv, None);
                    // As it runs, then with small batches: all rendered by the second stage,
                    // or all after the first by the first stage.
                    for (batch, behind) in [(128, 2), (3, usize::MAX), (3, 0)] {
                        let stages = pipeline::Stages { batch, behind };
                        assert_eq!(one, decode(argv, Some(stages)), "{argv:?} {stages:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn malformed_markers_are_counted_at_any_depth() {
        let v: Value = serde_json::json!({"payloads": [{"malformed": "x"}, {"payloads": [{"malformed": "y"}]}]});
        assert_eq!(count_malformed(&v), 2);
    }
}
