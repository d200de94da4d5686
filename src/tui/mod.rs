//! The terminal UI (ratatui + crossterm): the capture browser and the live view.
//!
//! Layers:
//! - data sources know nothing of the screen: [`capture_index`] (captures indexed in the
//!   background), [`live_source`] (the lab or a peer process, and its events);
//! - state, and what each named command of [`keymap`] does to it, tested key by key
//!   without a terminal: [`browser`], [`live`] and [`live_model`], with [`payload_tree`],
//!   [`input_line`], [`search`], [`lanes`];
//! - views only draw that state: [`browser_view`], [`live_view`], [`lanes_view`],
//!   [`live_sas`], [`chrome`] (what both draw alike);
//! - [`screen_loop`] runs either UI ([`live_screen`] joins the live one to its source);
//!   [`terminal`] owns the terminal's modes.
//!
//! Without a terminal (or with `--plain`) the browser prints one line per message instead
//! ([`browser_plain`]).
pub mod browser;
pub mod browser_plain;
pub mod browser_view;
pub mod capture_index;
pub mod chrome;
pub mod display_filter;
pub mod event_texts;
pub mod input_line;
pub mod keymap;
pub mod lanes;
pub mod lanes_view;
pub mod live;
pub mod live_decode;
pub mod live_model;
pub mod live_sas;
pub mod live_screen;
pub mod live_source;
pub mod live_view;
pub mod payload_tree;
pub mod screen_loop;
pub mod search;
pub mod terminal;
pub mod theme;

use std::io::{self, IsTerminal};
use std::path::PathBuf;

use browser::Browser;
use capture_index::{CaptureIndex, LoadOptions};
use keymap::KeyMap;
use theme::Theme;

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
    // indexing a large capture frees as much as it keeps: the peak is what the index holds
    crate::io::memory::return_freed_pages_at_once();
    if options.plain || !io::stdout().is_terminal() {
        return browser_plain::print(options);
    }
    let index = CaptureIndex::spawn(options.load.clone());
    let mut b = Browser::new(index, options.keymap.clone());
    if let Some(f) = &options.filter {
        b.apply_filter(f);
    }
    screen_loop::run(&mut b, options.looks).map_err(|e| format!("terminal: {e}"))?;
    Ok(0)
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
    let mut screen = live_screen::LiveScreen {
        app: &mut app,
        source: &source,
    };
    let result = screen_loop::run(&mut screen, looks).map_err(|e| format!("terminal: {e}"));
    screen.quit_nodes();
    // the source first (a peer may still write into the directory), then the directory
    drop(source);
    drop(dir);
    result.map(|()| 0)
}
