//! The live UI's state and what each named command does to it: selections, the `:` line,
//! confirmations. Actions on the peer become peer command lines (the one command table)
//! in [`LiveApp::outbox`]; the front end sends them. Tested key by key without a terminal.
use super::input_line::{InputLine, LineOutcome};
use super::keymap::{Key, KeyCode, KeyMap, Ui, UiCommand, UI_COMMANDS};
use super::live_decode::{Decoding, MessageTarget, MessageView};
use super::live_model::{ip_of, text, texts, LiveModel, NodeView, PathRow};
use super::live_source::parse_node_command;
use crate::drill::CaptureFiles;

/// The live panes, in focus order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LivePane {
    Sas,
    Addresses,
    Paths,
    Events,
    Moves,
}

const PANES: [LivePane; 5] = [
    LivePane::Sas,
    LivePane::Addresses,
    LivePane::Paths,
    LivePane::Events,
    LivePane::Moves,
];

/// A command waiting for `y`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirm {
    pub prompt: String,
    /// What to send (node, line); none for quit.
    pub send: Vec<(Option<String>, String)>,
    pub quit: bool,
}

/// What keys go to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveMode {
    Normal,
    Command,
    /// The event log's filter being typed.
    Filter,
    Help(usize),
    Confirm(Confirm),
    /// The selected exchange's payload tree and bytes (decoding, or [`LiveApp::message`]).
    Message,
}

/// One pair of the path matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct PathView {
    pub local: String,
    pub remote: String,
    /// The SA's current pair.
    pub current: bool,
    /// `ok`, `failed`, `probing`, `untested`, or why the pair cannot be used.
    pub state: String,
    pub test: Option<PathRow>,
    pub dropped: bool,
}

/// The live UI.
pub struct LiveApp {
    pub model: LiveModel,
    pub keymap: KeyMap,
    /// What runs: `lab`, or the peer's connection.
    pub title: String,
    pub focus: LivePane,
    pub mode: LiveMode,
    pub command_line: InputLine,
    pub filter_line: InputLine,
    /// Substring the event log is filtered by.
    pub log_filter: Option<String>,
    /// Selected row of the SA list (every node's SAs in turn).
    pub sa_selected: usize,
    pub addr_selected: usize,
    pub path_selected: usize,
    /// Log lines scrolled up from the end (0 with follow).
    pub log_back: usize,
    pub follow: bool,
    pub zoom: bool,
    pub status: Option<String>,
    /// Peer command lines to send: (node, line).
    pub outbox: Vec<(Option<String>, String)>,
    pub clipboard: Option<String>,
    pub quit: bool,
    pub page: usize,
    /// The front end should ask the source for its capture files (then call
    /// [`LiveApp::capture_ready`]).
    pub capture_wanted: bool,
    /// The message asked for, until the capture files arrive.
    pub wanted: Option<MessageTarget>,
    /// The capture being indexed for it.
    pub decoding: Option<Decoding>,
    /// The decoded message shown (mode [`LiveMode::Message`]).
    pub message: Option<MessageView>,
}

impl LiveApp {
    pub fn new(model: LiveModel, keymap: KeyMap, title: &str) -> LiveApp {
        LiveApp {
            model,
            keymap,
            title: title.to_string(),
            focus: LivePane::Sas,
            mode: LiveMode::Normal,
            command_line: InputLine::default(),
            filter_line: InputLine::default(),
            log_filter: None,
            sa_selected: 0,
            addr_selected: 0,
            path_selected: 0,
            log_back: 0,
            follow: true,
            zoom: false,
            status: None,
            outbox: Vec::new(),
            clipboard: None,
            quit: false,
            page: 10,
            capture_wanted: false,
            wanted: None,
            decoding: None,
            message: None,
        }
    }

    /// The event log's selected line (the last one shown): an index into the log.
    pub fn selected_log(&self) -> Option<usize> {
        let rows = self.log_rows();
        let end = rows.len().checked_sub(self.log_back)?;
        rows.get(end.checked_sub(1)?).copied()
    }

    /// Asks for the selected exchange's payload tree: the capture files first.
    fn open_message(&mut self) {
        let Some(line) = self.selected_log().and_then(|i| self.model.log.get(i)) else {
            self.status = Some("no event selected".into());
            return;
        };
        let Some(msg) = &line.msg else {
            self.status = Some(format!(
                "'{}' is not a message: select a sent or received one (4, then k/j)",
                line.name
            ));
            return;
        };
        let target = MessageTarget::new(&self.model, &line.node, msg);
        self.status = Some(format!("decoding {}...", target.describe()));
        self.wanted = Some(target);
        self.capture_wanted = true;
        self.message = None;
        self.mode = LiveMode::Message;
    }

    /// The source's capture files arrived: index them for the message asked for.
    pub fn capture_ready(&mut self, files: Result<CaptureFiles, String>) {
        let Some(target) = self.wanted.take() else {
            return;
        };
        match files {
            Ok(f) => self.decoding = Some(Decoding::start(target, &f)),
            Err(e) => {
                self.status = Some(format!("cannot decode: {e}"));
                self.mode = LiveMode::Normal;
            }
        }
    }

    /// Looks at the decoding under way; true when something changed.
    pub fn tick(&mut self) -> bool {
        let Some(result) = self.decoding.as_mut().and_then(Decoding::poll) else {
            return false;
        };
        self.decoding = None;
        match result {
            Ok(view) => {
                self.status = None;
                self.message = Some(view);
            }
            Err(e) => {
                self.status = Some(e);
                if self.mode == LiveMode::Message {
                    self.mode = LiveMode::Normal;
                }
            }
        }
        true
    }

    /// Keys while the payload tree is shown: move in the tree, anything else closes it.
    fn message_key(&mut self, key: Key) {
        let command = self.keymap.command(Ui::Live, key);
        let Some(view) = self.message.as_mut() else {
            // still decoding: Esc gives up
            if key.code == KeyCode::Esc || command == Some(UiCommand::Quit) {
                self.mode = LiveMode::Normal;
                self.decoding = None;
                self.wanted = None;
            }
            return;
        };
        let page = self.page.max(1);
        let tree = &mut view.tree;
        match command {
            Some(UiCommand::Up) => tree.step(false, 1),
            Some(UiCommand::Down) => tree.step(true, 1),
            Some(UiCommand::Expand) => tree.expand(),
            Some(UiCommand::Collapse) => tree.collapse(),
            Some(UiCommand::Toggle) => tree.toggle(),
            Some(UiCommand::ExpandAll) => tree.set_all(true),
            Some(UiCommand::CollapseAll) => tree.set_all(false),
            Some(UiCommand::PageUp) => tree.step(false, page),
            Some(UiCommand::PageDown) => tree.step(true, page),
            Some(UiCommand::Top) => tree.select_end(false),
            Some(UiCommand::Bottom) => tree.select_end(true),
            Some(UiCommand::Copy) => {
                self.clipboard = tree.selected_value();
                self.status = self
                    .clipboard
                    .as_deref()
                    .map(|t| format!("copied: {}", super::browser::shorten(t, 60)));
            }
            _ => self.mode = LiveMode::Normal,
        }
    }

    /// Every SA of every node: (node index, SA index).
    pub fn sa_rows(&self) -> Vec<(usize, usize)> {
        self.model
            .nodes
            .iter()
            .enumerate()
            .flat_map(|(n, node)| (0..node.sas.len()).map(move |s| (n, s)))
            .collect()
    }

    /// The selected SA's node and its status object.
    pub fn selected_sa(&self) -> Option<(&NodeView, &serde_json::Map<String, serde_json::Value>)> {
        let rows = self.sa_rows();
        let &(n, s) = rows.get(self.sa_selected.min(rows.len().saturating_sub(1)))?;
        let node = self.model.nodes.get(n)?;
        Some((node, node.sas.get(s)?))
    }

    /// The node the live keys act on: the selected SA's, else the first.
    pub fn selected_node(&self) -> Option<&NodeView> {
        self.selected_sa()
            .map(|(n, _)| n)
            .or_else(|| self.model.nodes.first())
    }

    /// Our addresses on the selected node: every one seen, those in use first.
    pub fn address_rows(&self) -> Vec<(String, bool)> {
        let Some(node) = self.selected_node() else {
            return Vec::new();
        };
        let current: Vec<String> = match (&node.local_addrs, self.selected_sa()) {
            (Some(a), _) => a.iter().map(|a| ip_of(a)).collect(),
            (None, Some((_, sa))) => texts(sa, "local_addrs").iter().map(|a| ip_of(a)).collect(),
            (None, None) => Vec::new(),
        };
        node.known_local
            .iter()
            .map(|a| (a.clone(), current.contains(a)))
            .collect()
    }

    /// The selected SA's path matrix: every local x remote pair.
    pub fn path_rows(&self) -> Vec<PathView> {
        let Some((node, sa)) = self.selected_sa() else {
            return Vec::new();
        };
        let handle = text(sa, "sa");
        let (cur_local, cur_remote) = (ip_of(&text(sa, "local")), ip_of(&text(sa, "remote")));
        // the node's own set when it reported one (an address taken away leaves it at once)
        let in_use: Vec<String> = match &node.local_addrs {
            Some(a) => a.iter().map(|a| ip_of(a)).collect(),
            None => texts(sa, "local_addrs").iter().map(|a| ip_of(a)).collect(),
        };
        let mut locals = in_use.clone();
        for a in &node.known_local {
            if !locals.contains(a) {
                locals.push(a.clone());
            }
        }
        let remotes: Vec<String> = texts(sa, "remote_addrs").iter().map(|a| ip_of(a)).collect();
        let mut rows = Vec::new();
        for l in &locals {
            for r in &remotes {
                let test = node
                    .paths
                    .iter()
                    .filter(|((s, pl, pr), _)| *s == handle && ip_of(pl) == *l && ip_of(pr) == *r)
                    .map(|(_, row)| row.clone())
                    .max_by_key(|row| row.at);
                let family = l.contains(':') != r.contains(':');
                let dropped = node.dropped.iter().any(|(a, b)| a == l && b == r);
                let state = if family {
                    "n/a (address family)".to_string()
                } else if !in_use.contains(l) {
                    "address down".to_string()
                } else {
                    test.as_ref()
                        .map_or("untested".to_string(), |t| t.state.clone())
                };
                rows.push(PathView {
                    local: l.clone(),
                    remote: r.clone(),
                    current: *l == cur_local && *r == cur_remote,
                    state,
                    test,
                    dropped,
                });
            }
        }
        rows
    }

    /// The log lines shown (after the filter), as indices.
    pub fn log_rows(&self) -> Vec<usize> {
        self.model
            .log
            .iter()
            .enumerate()
            .filter(|(_, l)| {
                self.log_filter
                    .as_ref()
                    .is_none_or(|f| l.text.contains(f.as_str()))
            })
            .map(|(i, _)| i)
            .collect()
    }

    /// One key press.
    pub fn key(&mut self, key: Key) {
        self.status = None;
        match self.mode.clone() {
            LiveMode::Command => self.command_key(key),
            LiveMode::Message => self.message_key(key),
            LiveMode::Filter => self.filter_key(key),
            LiveMode::Help(scroll) => {
                self.mode = match (key.code, self.keymap.command(Ui::Live, key)) {
                    (KeyCode::Down, _) | (_, Some(UiCommand::Down)) => {
                        // no further than the last command
                        let last = self.keymap.help_rows(Ui::Live).len().saturating_sub(1);
                        LiveMode::Help((scroll + 1).min(last))
                    }
                    (KeyCode::Up, _) | (_, Some(UiCommand::Up)) => {
                        LiveMode::Help(scroll.saturating_sub(1))
                    }
                    _ => LiveMode::Normal,
                }
            }
            LiveMode::Confirm(c) => {
                self.mode = LiveMode::Normal;
                if key == Key::char('y') || key == Key::char('Y') {
                    self.outbox.extend(c.send);
                    self.quit |= c.quit;
                } else {
                    self.status = Some("cancelled".into());
                }
            }
            LiveMode::Normal => {
                if let Some(c) = self.keymap.command(Ui::Live, key) {
                    self.run(c);
                } else if key.code == KeyCode::Esc {
                    self.zoom = false;
                }
            }
        }
    }

    fn filter_key(&mut self, key: Key) {
        match self.filter_line.key(key, &|_| Vec::new()) {
            LineOutcome::Editing => {}
            LineOutcome::Cancelled => self.mode = LiveMode::Normal,
            LineOutcome::Submitted(t) => {
                self.log_filter = (!t.is_empty()).then_some(t);
                self.mode = LiveMode::Normal;
            }
        }
    }

    fn command_key(&mut self, key: Key) {
        let complete = |before: &str| -> Vec<String> {
            if before.contains(' ') {
                return crate::cli::command::complete(before)
                    .into_iter()
                    .map(|c| c.rsplit(' ').next().unwrap_or(&c).to_string())
                    .collect();
            }
            // the live view's own commands, then the peer's (some share a name: rekey)
            let mut names: Vec<String> = UI_COMMANDS
                .iter()
                .filter(|s| s.command.in_ui(Ui::Live))
                .map(|s| s.name.to_string())
                .collect();
            for c in crate::cli::command::complete(before) {
                if !names.contains(&c) {
                    names.push(c);
                }
            }
            names.retain(|n| n.starts_with(before));
            names
        };
        match self.command_line.key(key, &complete) {
            LineOutcome::Editing => {}
            LineOutcome::Cancelled => self.mode = LiveMode::Normal,
            LineOutcome::Submitted(text) => {
                self.mode = LiveMode::Normal;
                if let Err(e) = self.command(&text) {
                    self.status = Some(e);
                }
            }
        }
    }

    /// A `:` line: a UI command's name, or a peer command (`[NODE:] COMMAND`).
    pub fn command(&mut self, line: &str) -> Result<(), String> {
        let line = line.trim();
        if line.is_empty() {
            return Ok(());
        }
        if let Some(c) = UiCommand::by_name(line) {
            self.run(c);
            return Ok(());
        }
        if line == "q" {
            self.run(UiCommand::Quit);
            return Ok(());
        }
        let names: Vec<String> = self.model.nodes.iter().map(|n| n.name.clone()).collect();
        let parsed = parse_node_command(line, &names)?;
        let rest = match &parsed.node {
            Some(n) => line
                .strip_prefix(n.as_str())
                .map(|r| r.trim_start_matches(':').trim())
                .unwrap_or(line),
            None => line,
        };
        self.outbox.push((parsed.node, rest.to_string()));
        Ok(())
    }

    fn send_on_sa(&mut self, verb: &str) {
        match self.selected_sa() {
            Some((node, sa)) => {
                let line = format!("{verb} {}", text(sa, "sa"));
                let node = node.name.clone();
                self.outbox.push((Some(node), line));
            }
            None => self.status = Some("no IKE SA selected (none is up)".into()),
        }
    }

    /// Runs a named command.
    pub fn run(&mut self, c: UiCommand) {
        use UiCommand as C;
        match c {
            C::FocusNext
            | C::FocusPrev
            | C::FocusSas
            | C::FocusMessages
            | C::FocusTree
            | C::FocusBytes
            | C::FocusTimeline => self.focus_pane(c),
            C::Up | C::Down | C::PageUp | C::PageDown | C::Top | C::Bottom | C::Follow => {
                self.navigate(c)
            }
            C::Filter | C::ClearFilter | C::CommandLine | C::Help | C::Zoom | C::Copy => {
                self.view_command(c)
            }
            C::BringUp => {
                let node = self.model.nodes.first().map(|n| n.name.clone());
                self.outbox.push((node, "up".into()));
            }
            C::Probe => self.send_on_sa("probe"),
            C::Update => self.send_on_sa("update"),
            C::Dpd => self.send_on_sa("dpd"),
            C::NatRebind => self.send_on_sa("nat rebind"),
            C::AddrToggle => self.addr_toggle(),
            C::MoveHere => self.path_action(true),
            C::DropToggle => self.path_action(false),
            C::PingToggle => self.ping_toggle(),
            C::Rekey | C::Delete => self.confirm_sa_action(c == C::Rekey),
            C::Quit => self.ask_quit(),
            C::Toggle if self.focus == LivePane::Events => self.open_message(),
            C::Toggle | C::Expand | C::Collapse | C::ExpandAll | C::CollapseAll => {
                self.status = Some(
                    "Enter on a sent or received event (pane 4) decodes it; its tree unfolds there"
                        .into(),
                )
            }
            // the capture browser's commands
            C::NextMessage
            | C::PrevMessage
            | C::NextInSa
            | C::PrevInSa
            | C::NextMobike
            | C::PrevMobike
            | C::Partner
            | C::TimeFormat
            | C::Search
            | C::SearchNext
            | C::SearchPrev
            | C::TimelineView => {
                self.status = Some(format!(
                    "'{}' is for captures (mobikectl tui FILE)",
                    c.spec().name
                ));
            }
        }
    }

    fn focus_pane(&mut self, c: UiCommand) {
        self.focus = match c {
            UiCommand::FocusNext | UiCommand::FocusPrev => {
                let at = PANES.iter().position(|p| *p == self.focus).unwrap_or(0);
                let to = if c == UiCommand::FocusNext {
                    at + 1
                } else {
                    at + PANES.len() - 1
                };
                PANES[to % PANES.len()]
            }
            UiCommand::FocusMessages => LivePane::Addresses,
            UiCommand::FocusTree => LivePane::Paths,
            UiCommand::FocusBytes => LivePane::Events,
            UiCommand::FocusTimeline => LivePane::Moves,
            _ => LivePane::Sas,
        };
    }

    fn navigate(&mut self, c: UiCommand) {
        match c {
            UiCommand::Up => self.step(false, 1),
            UiCommand::Down => self.step(true, 1),
            UiCommand::PageUp => self.step(false, self.page.max(1)),
            UiCommand::PageDown => self.step(true, self.page.max(1)),
            UiCommand::Top => self.step(false, usize::MAX / 2),
            UiCommand::Bottom => {
                self.step(true, usize::MAX / 2);
                if self.focus == LivePane::Events {
                    self.follow = true;
                }
            }
            _ => {
                self.follow = !self.follow;
                self.log_back = 0;
            }
        }
    }

    fn view_command(&mut self, c: UiCommand) {
        match c {
            UiCommand::Filter => {
                self.mode = LiveMode::Filter;
                let t = self.log_filter.clone().unwrap_or_default();
                self.filter_line.start(&t);
            }
            UiCommand::ClearFilter => self.log_filter = None,
            UiCommand::CommandLine => {
                self.mode = LiveMode::Command;
                self.command_line.start("");
            }
            UiCommand::Help => self.mode = LiveMode::Help(0),
            UiCommand::Zoom => self.zoom = !self.zoom,
            _ => self.copy(),
        }
    }

    /// Rekey or delete the selected IKE SA, once the operator says yes.
    fn confirm_sa_action(&mut self, rekey: bool) {
        let Some((node, sa)) = self.selected_sa() else {
            self.status = Some("no IKE SA selected (none is up)".into());
            return;
        };
        let handle = text(sa, "sa");
        let (line, what) = if rekey {
            (format!("rekey ike {handle}"), "rekey")
        } else {
            (format!("down {handle}"), "delete")
        };
        self.mode = LiveMode::Confirm(Confirm {
            prompt: format!("{what} IKE SA {handle} of {}? [y/N]", node.name),
            send: vec![(Some(node.name.clone()), line)],
            quit: false,
        });
    }

    /// Quits at once when no SA is up; otherwise asks (quitting deletes them).
    fn ask_quit(&mut self) {
        if self.sa_rows().is_empty() {
            self.quit = true;
        } else {
            self.mode = LiveMode::Confirm(Confirm {
                prompt: "quit? the IKE SAs are deleted [y/N]".into(),
                send: Vec::new(),
                quit: true,
            });
        }
    }

    fn step(&mut self, down: bool, n: usize) {
        let mv = |row: usize, len: usize| {
            if down {
                row.saturating_add(n).min(len.saturating_sub(1))
            } else {
                row.saturating_sub(n)
            }
        };
        match self.focus {
            LivePane::Sas => {
                self.sa_selected = mv(self.sa_selected, self.sa_rows().len());
                self.path_selected = 0;
            }
            LivePane::Addresses => {
                self.addr_selected = mv(self.addr_selected, self.address_rows().len())
            }
            LivePane::Paths => self.path_selected = mv(self.path_selected, self.path_rows().len()),
            LivePane::Events => {
                let len = self.log_rows().len();
                // rows back from the end: down goes towards the newest
                self.log_back = if down {
                    self.log_back.saturating_sub(n)
                } else {
                    self.log_back.saturating_add(n).min(len.saturating_sub(1))
                };
                self.follow = self.log_back == 0 && down;
            }
            LivePane::Moves => {}
        }
    }

    fn addr_toggle(&mut self) {
        let rows = self.address_rows();
        let Some((addr, up)) = rows.get(self.addr_selected.min(rows.len().saturating_sub(1)))
        else {
            self.status = Some("no address to toggle".into());
            return;
        };
        let node = self.selected_node().map(|n| n.name.clone());
        let verb = if *up { "del" } else { "add" };
        self.outbox.push((node, format!("addr {verb} {addr}")));
    }

    fn path_action(&mut self, move_there: bool) {
        let rows = self.path_rows();
        let Some(p) = rows.get(self.path_selected.min(rows.len().saturating_sub(1))) else {
            self.status = Some("no path selected (focus the path matrix: 3)".into());
            return;
        };
        let Some((node, sa)) = self.selected_sa() else {
            return;
        };
        let line = if move_there {
            format!("move {} {} {}", p.local, p.remote, text(sa, "sa"))
        } else {
            let on = if p.dropped { "off" } else { "on" };
            format!("drop {} {} {on}", p.local, p.remote)
        };
        let node = node.name.clone();
        self.outbox.push((Some(node), line));
    }

    fn ping_toggle(&mut self) {
        let Some(node) = self.selected_node() else {
            return;
        };
        let running = node
            .ping
            .as_ref()
            .is_some_and(|p| text(p, "state") == "running");
        let line = match (running, &node.ping_target) {
            (true, _) => "ping stop".to_string(),
            (false, Some(t)) => format!("ping {t}"),
            (false, None) => {
                self.status = Some("no CHILD_SA selector to ping into yet: :ping ADDR".into());
                return;
            }
        };
        let name = node.name.clone();
        self.outbox.push((Some(name), line));
    }

    fn copy(&mut self) {
        let text = match self.focus {
            LivePane::Paths => self
                .path_rows()
                .get(self.path_selected)
                .map(|p| format!("{} {} {}", p.local, p.remote, p.state)),
            LivePane::Events => {
                let rows = self.log_rows();
                let at = rows.len().saturating_sub(1 + self.log_back);
                rows.get(at)
                    .and_then(|&i| self.model.log.get(i))
                    .map(|l| l.text.clone())
            }
            _ => self.selected_sa().map(|(n, sa)| {
                format!(
                    "{} {} {} -> {}",
                    n.name,
                    text(sa, "sa"),
                    text(sa, "local"),
                    text(sa, "remote")
                )
            }),
        };
        if let Some(t) = text {
            self.status = Some(format!("copied: {}", super::browser::shorten(&t, 60)));
            self.clipboard = Some(t);
        }
    }
}
