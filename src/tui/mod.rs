//! The terminal UI (ratatui + crossterm).
//!
//! Layers: the data sources ([`capture_index`]: captures indexed in the background) know
//! nothing of the screen; the state and what each named command does to it
//! ([`browser`], [`keymap`], [`input_line`], [`search`], [`lanes`]) are tested key by key
//! without a terminal; the views ([`browser_view`], [`lanes_view`]) only draw that state; [`terminal`] owns the terminal's
//! modes. Without a terminal (or with `--plain`) it prints one line per message instead.
pub mod browser;
pub mod browser_view;
pub mod capture_index;
pub mod chrome;
pub mod display_filter;
pub mod input_line;
pub mod keymap;
pub mod lanes;
pub mod lanes_view;
pub mod live;
pub mod live_decode;
pub mod live_model;
pub mod live_sas;
pub mod live_source;
pub mod live_view;
pub mod payload_tree;
pub mod search;
pub mod terminal;
pub mod theme;

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{self, Event};

use browser::Browser;
use capture_index::{CaptureIndex, LoadOptions};
use keymap::KeyMap;
use theme::Theme;

/// At most this many redraws a second.
const FRAME: Duration = Duration::from_millis(33);

/// How the UI looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Looks {
    /// No colours (NO_COLOR, `--color never`).
    pub mono: bool,
    /// ASCII borders and glyphs.
    pub ascii: bool,
}

impl Looks {
    /// The theme these looks give.
    pub fn theme(self) -> Theme {
        let t = if self.mono {
            Theme::mono()
        } else {
            Theme::colour()
        };
        if self.ascii {
            t.ascii()
        } else {
            t
        }
    }
}

/// What `mobikectl tui FILE...` needs.
#[derive(Debug, Clone)]
pub struct BrowserOptions {
    pub load: LoadOptions,
    /// The keys (defaults rebound by the key file).
    pub keymap: KeyMap,
    pub looks: Looks,
    /// One line per message instead of the UI.
    pub plain: bool,
    /// A display filter to start with.
    pub filter: Option<String>,
}

/// Runs the offline browser; the exit status.
pub fn run_browser(options: BrowserOptions) -> Result<i32, String> {
    if options.plain || !io::stdout().is_terminal() {
        return print_plain(options);
    }
    let index = CaptureIndex::spawn(options.load.clone());
    let mut b = Browser::new(index, options.keymap.clone());
    if let Some(f) = &options.filter {
        b.apply_filter(f);
    }
    browse(&mut b, options.looks).map_err(|e| format!("terminal: {e}"))?;
    Ok(0)
}

/// The UI's loop: input, the loader's progress, redraws at most every [`FRAME`] and only
/// when something changed.
fn browse(b: &mut Browser, looks: Looks) -> io::Result<()> {
    let signals = crate::io::signals::SignalPipe::install(&[libc::SIGTERM, libc::SIGHUP])?;
    let theme = looks.theme();
    let mut guard = terminal::TerminalGuard::enter(looks.mono)?;
    let panic_key = terminal::panic_key();
    let mut dirty = true;
    let mut last_draw: Option<Instant> = None;
    loop {
        if !signals.take().is_empty() {
            break;
        }
        dirty |= b.tick();
        let due = last_draw.is_none_or(|t| t.elapsed() >= FRAME);
        if dirty && due {
            guard.terminal.draw(|f| browser_view::draw(f, b, &theme))?;
            dirty = false;
            last_draw = Some(Instant::now());
        }
        // a search under way runs a slice each turn: no sleeping then
        let wait = if b.busy() { 0 } else { 20 };
        if terminal::wait_input(Duration::from_millis(wait))? == terminal::Input::HungUp {
            break;
        }
        // what crossterm has: keys, and resizes (which do not wake the poll above)
        while event::poll(Duration::ZERO)? {
            match event::read()? {
                Event::Key(k) => {
                    if let Some(key) = terminal::key_of(k) {
                        if Some(key) == panic_key {
                            panic!("panic asked for by MOBIKECTL_TUI_PANIC_KEY");
                        }
                        b.key(key);
                        dirty = true;
                    }
                }
                Event::Paste(text) => {
                    for c in text.chars().filter(|c| !c.is_control()) {
                        b.key(keymap::Key::char(c));
                    }
                    dirty = true;
                }
                Event::Resize(..) => dirty = true,
                _ => {}
            }
        }
        if let Some(text) = b.clipboard.take() {
            let mut out = io::stdout();
            out.write_all(terminal::osc52(&text).as_bytes())?;
            out.flush()?;
        }
        if b.quit {
            break;
        }
    }
    drop(guard);
    Ok(())
}

/// What runs under the live UI.
pub enum LiveTarget {
    /// The embedded lab on loopback (`mobikectl lab` in a terminal).
    Lab(crate::embedded_lab::LabOptions),
    /// A `mobikectl peer` with these options, in its own process.
    Peer(crate::drill::peer_target::PeerSpec),
}

/// A private temporary directory (mode 0700: it holds key logs), removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> io::Result<TempDir> {
        use std::os::unix::fs::DirBuilderExt as _;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path =
            std::env::temp_dir().join(format!("{prefix}-{}-{nanos:08x}", std::process::id()));
        std::fs::DirBuilder::new().mode(0o700).create(&path)?;
        Ok(TempDir(path))
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The peer records its traffic and keys into `dir` for the payload tree, unless its
/// options already name files for them (then those are read).
pub fn with_capture_options(
    mut spec: crate::drill::peer_target::PeerSpec,
    dir: &std::path::Path,
) -> crate::drill::peer_target::PeerSpec {
    use crate::drill::peer_target::option_value;
    if option_value(&spec.options, "--pcap").is_none() {
        let f = dir.join("peer.pcapng").display().to_string();
        spec.options.extend(["--pcap".to_string(), f]);
    }
    if option_value(&spec.options, "--keylog").is_none() {
        let f = dir.join("peer.keys").display().to_string();
        spec.options.extend(["--keylog".to_string(), f]);
    }
    spec
}

/// Runs the live UI over `target`; the exit status.
pub fn run_live(target: LiveTarget, keymap: KeyMap, looks: Looks) -> Result<i32, String> {
    let dir = TempDir::new("mobikectl-tui").map_err(|e| format!("temporary directory: {e}"))?;
    let capture_dir = Some(dir.path().to_path_buf());
    let (title, source) = match target {
        LiveTarget::Lab(options) => {
            let up = live_source::NodeCommand::simple(
                None,
                crate::cli::command::PeerCommand::Up(None),
                "up",
            );
            let make = move || -> Result<Box<dyn crate::drill::DrillTarget>, String> {
                Ok(Box::new(crate::embedded_lab::LoopbackLab::new(options)?))
            };
            (
                "lab (loopback)",
                live_source::LiveSource::spawn(make, vec![up], capture_dir),
            )
        }
        LiveTarget::Peer(spec) => {
            let spec = with_capture_options(spec, dir.path());
            let make = move || -> Result<Box<dyn crate::drill::DrillTarget>, String> {
                Ok(Box::new(crate::drill::peer_target::PeerTarget::spawn(
                    &spec,
                )?))
            };
            (
                "peer",
                live_source::LiveSource::spawn(make, Vec::new(), capture_dir),
            )
        }
    };
    let mut app = live::LiveApp::new(live_model::LiveModel::default(), keymap, title);
    let result = live_loop(&mut app, &source, looks).map_err(|e| format!("terminal: {e}"));
    // the source first (a peer may still write into the directory), then the directory
    drop(source);
    drop(dir);
    result.map(|()| 0)
}

/// Takes in what the source sent; true when something changed.
pub fn absorb(app: &mut live::LiveApp, source: &live_source::LiveSource) -> bool {
    let mut changed = false;
    for u in source.poll() {
        changed = true;
        match u {
            live_source::SourceUpdate::Nodes(n) => {
                for name in n {
                    if !app.model.nodes.iter().any(|x| x.name == name) {
                        app.model.nodes.push(live_model::NodeView {
                            name,
                            ..Default::default()
                        });
                    }
                }
            }
            live_source::SourceUpdate::Events(events) => {
                for e in &events {
                    app.model.apply(e);
                }
            }
            live_source::SourceUpdate::Refused(why) => app.status = Some(why),
            live_source::SourceUpdate::Capture(files) => app.capture_ready(files),
            live_source::SourceUpdate::Ended(why) => app.model.ended = Some(why),
        }
    }
    changed
}

/// Sends what the app queued; refusals go to the status line.
pub fn flush_outbox(app: &mut live::LiveApp, source: &live_source::LiveSource) {
    let names: Vec<String> = app.model.nodes.iter().map(|n| n.name.clone()).collect();
    for (node, line) in std::mem::take(&mut app.outbox) {
        let text = match &node {
            Some(n) => format!("{n}: {line}"),
            None => line.clone(),
        };
        match live_source::parse_node_command(&text, &names) {
            Ok(c) => {
                if !source.send(c) {
                    app.status = Some("the peer is gone".into());
                }
                app.status.get_or_insert(format!("sent: {text}"));
            }
            Err(e) => app.status = Some(format!("{text}: {e}")),
        }
    }
}

fn live_loop(
    app: &mut live::LiveApp,
    source: &live_source::LiveSource,
    looks: Looks,
) -> io::Result<()> {
    let signals = crate::io::signals::SignalPipe::install(&[libc::SIGTERM, libc::SIGHUP])?;
    let theme = looks.theme();
    let mut guard = terminal::TerminalGuard::enter(looks.mono)?;
    let panic_key = terminal::panic_key();
    let mut dirty = true;
    let mut last_draw: Option<Instant> = None;
    let mut last_tick = Instant::now();
    loop {
        if !signals.take().is_empty() {
            break;
        }
        dirty |= absorb(app, source);
        dirty |= app.tick();
        // ages and "since" columns move on even without events
        if last_tick.elapsed() >= Duration::from_secs(1) {
            dirty = true;
            last_tick = Instant::now();
        }
        let due = last_draw.is_none_or(|t| t.elapsed() >= FRAME);
        if dirty && due {
            guard.terminal.draw(|f| live_view::draw(f, app, &theme))?;
            dirty = false;
            last_draw = Some(Instant::now());
        }
        if terminal::wait_input(Duration::from_millis(20))? == terminal::Input::HungUp {
            break;
        }
        while event::poll(Duration::ZERO)? {
            match event::read()? {
                Event::Key(k) => {
                    if let Some(key) = terminal::key_of(k) {
                        if Some(key) == panic_key {
                            panic!("panic asked for by MOBIKECTL_TUI_PANIC_KEY");
                        }
                        app.key(key);
                        dirty = true;
                    }
                }
                Event::Resize(..) => dirty = true,
                _ => {}
            }
        }
        flush_outbox(app, source);
        if std::mem::take(&mut app.capture_wanted) && !source.request_capture() {
            app.capture_ready(Err("the peer is gone".into()));
        }
        if let Some(text) = app.clipboard.take() {
            let mut out = io::stdout();
            out.write_all(terminal::osc52(&text).as_bytes())?;
            out.flush()?;
        }
        if app.quit {
            break;
        }
    }
    // the peer deletes its SAs (dropping the source's channel does the same for the lab)
    for n in app
        .model
        .nodes
        .iter()
        .map(|n| n.name.clone())
        .collect::<Vec<_>>()
    {
        let _ = source.send(live_source::NodeCommand::simple(
            Some(n),
            crate::cli::command::PeerCommand::Quit,
            "quit",
        ));
    }
    drop(guard);
    Ok(())
}

/// One line per message (and the analysis' events), for pipes and screen readers.
fn print_plain(options: BrowserOptions) -> Result<i32, String> {
    let index = CaptureIndex::load(options.load);
    let filter = match &options.filter {
        Some(f) => display_filter::DisplayFilter::parse(f).map_err(|e| format!("filter: {e}"))?,
        None => None,
    };
    let out = io::stdout();
    let mut out = out.lock();
    let mut write = || -> io::Result<()> {
        for m in index.messages.iter() {
            if filter.as_ref().is_some_and(|f| !f.matches(m)) {
                continue;
            }
            let sa = m.sa.map_or("-".to_string(), |s| format!("#{s}"));
            let role = if m.is_response() {
                "response"
            } else {
                "request"
            };
            let copy = if m.copy > 0 {
                format!(" [retransmission {}]", m.copy)
            } else {
                String::new()
            };
            writeln!(
                out,
                "frame {} SA {sa} {} -> {} {} mid={} {role}{copy} {}",
                m.frame,
                m.src,
                m.dst,
                m.exchange_name(),
                m.message_id,
                m.summary
            )?;
        }
        for e in &index.timeline {
            writeln!(
                out,
                "frame {}: SA #{}: {}",
                e.frame,
                e.sa,
                index.timeline_text(e)
            )?;
        }
        for d in &index.diagnostics {
            writeln!(out, "{d}")?;
        }
        Ok(())
    };
    match write() {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
        Err(e) => return Err(format!("writing output: {e}")),
    }
    match index.error {
        Some(e) => Err(e),
        None => Ok(0),
    }
}
