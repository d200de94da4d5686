//! The offline browser's state and what each command does to it (no drawing here: the
//! view reads this state, and tests drive it key by key without a terminal).
use super::capture_index::{CaptureIndex, MessageEntry};
use super::display_filter::{DisplayFilter, FilterError, FIELD_NAMES};
use super::input_line::{InputLine, LineOutcome};
use super::keymap::{Key, KeyCode, KeyMap, Ui, UiCommand, UI_COMMANDS};
use super::lanes::{LaneItem, Lanes};
use super::payload_tree::TreeState;
use super::search::{SearchRun, SearchStep, SLICE};

/// The panes, in focus order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Sas,
    Messages,
    Tree,
    Bytes,
    Timeline,
}

const PANES: [Pane; 5] = [
    Pane::Sas,
    Pane::Messages,
    Pane::Tree,
    Pane::Bytes,
    Pane::Timeline,
];

/// What keys go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Normal,
    /// Editing the display filter.
    Filter,
    /// Editing a `:` command.
    Command,
    /// Editing the search text (Ctrl-F).
    Search,
    /// The help overlay, scrolled by this many rows.
    Help(usize),
}

/// How times are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeFormat {
    /// Seconds since the first message.
    SinceStart,
    /// UTC time of day.
    Absolute,
    /// Seconds since the previous shown message.
    Delta,
}

/// The browser.
pub struct Browser {
    pub index: CaptureIndex,
    pub keymap: KeyMap,
    pub focus: Pane,
    pub mode: Mode,
    /// The applied display filter.
    pub filter: Option<DisplayFilter>,
    /// The filter being typed, and what is wrong with it (shown while typing).
    pub filter_line: InputLine,
    pub filter_error: Option<FilterError>,
    pub command_line: InputLine,
    /// Row of the SA list: 0 is every SA, n the SA numbered n - 1 (`#0` is the first, as
    /// in decode's timeline).
    pub sa_selected: usize,
    /// The messages shown (indices into the capture index).
    pub shown: Vec<u32>,
    shown_for: (usize, String, usize),
    /// Selected row of `shown`.
    pub selected: usize,
    /// Keep the last message selected as messages arrive.
    pub follow: bool,
    pub tree: TreeState,
    /// First row of the bytes pane.
    pub bytes_scroll: usize,
    /// Selected row of the timeline (of the lanes or of the event list).
    pub timeline_selected: usize,
    /// The timeline as lanes per path (else the event list).
    pub lanes_view: bool,
    /// The lanes of the SA the timeline shows (rebuilt when that SA changes).
    pub lanes: Lanes,
    /// The search text being typed, the search under way, the last one (for `n`, `N`).
    pub search_line: InputLine,
    pub search: Option<SearchRun>,
    pub last_search: Option<String>,
    /// What the search bar says after Enter ("not found").
    pub search_verdict: Option<String>,
    /// The focused pane fills the screen.
    pub zoom: bool,
    pub time_format: TimeFormat,
    /// A one-line message for the status bar (errors, copies).
    pub status: Option<String>,
    /// Text to put on the clipboard (the front end sends it with OSC 52).
    pub clipboard: Option<String>,
    pub quit: bool,
    /// Rows a page moves (the view sets it from the pane's height).
    pub page: usize,
}

impl Browser {
    /// A browser over `index`.
    pub fn new(index: CaptureIndex, keymap: KeyMap) -> Browser {
        let mut b = Browser {
            index,
            keymap,
            focus: Pane::Messages,
            mode: Mode::Normal,
            filter: None,
            filter_line: InputLine::default(),
            filter_error: None,
            command_line: InputLine::default(),
            sa_selected: 0,
            shown: Vec::new(),
            shown_for: (usize::MAX, String::new(), 0),
            selected: 0,
            follow: false,
            tree: TreeState::default(),
            bytes_scroll: 0,
            timeline_selected: 0,
            lanes_view: true,
            lanes: Lanes::default(),
            search_line: InputLine::default(),
            search: None,
            last_search: None,
            search_verdict: None,
            zoom: false,
            time_format: TimeFormat::SinceStart,
            status: None,
            clipboard: None,
            quit: false,
            page: 10,
        };
        b.refresh();
        b
    }

    /// Takes in what the loader found and runs a slice of the search under way; true
    /// when the screen must be redrawn.
    pub fn tick(&mut self) -> bool {
        let changed = self.index.absorb();
        if changed {
            self.refresh();
        }
        let searching = self.search.is_some();
        if searching {
            self.advance_search();
            self.refresh();
        }
        changed || searching
    }

    /// A search is under way (the event loop should not sleep).
    pub fn busy(&self) -> bool {
        self.search.is_some()
    }

    /// The selected message.
    pub fn selected_message(&self) -> Option<(u32, &MessageEntry)> {
        let i = *self.shown.get(self.selected)?;
        Some((i, self.index.messages.get(i as usize)?))
    }

    /// Recomputes what is shown after the filter, the SA or the index changed.
    pub fn refresh(&mut self) {
        let key = (
            self.index.messages.len(),
            self.filter
                .as_ref()
                .map(|f| f.text().to_string())
                .unwrap_or_default(),
            self.sa_selected,
        );
        if key != self.shown_for {
            let previous = self.selected_message().map(|(i, _)| i);
            let sa = self.sa_selected;
            let filter = self.filter.as_ref();
            // while a capture loads only new messages arrive: look at those alone (a filter
            // looks at them all again: a request is unanswered only until its response comes)
            let grown = filter.is_none()
                && key.1 == self.shown_for.1
                && key.2 == self.shown_for.2
                && key.0 > self.shown_for.0;
            let start = if grown { self.shown_for.0 } else { 0 };
            if !grown {
                self.shown.clear();
            }
            let shown = self
                .index
                .messages
                .iter()
                .enumerate()
                .skip(start)
                .filter(|(_, m)| sa == 0 || m.sa.is_some_and(|s| s as usize + 1 == sa))
                .filter(|(_, m)| filter.is_none_or(|f| f.matches(m)))
                .map(|(i, _)| i as u32);
            self.shown.extend(shown);
            self.shown_for = key;
            self.selected = match (self.follow, previous) {
                (true, _) => self.shown.len().saturating_sub(1),
                (false, Some(p)) => self.shown.iter().position(|&i| i >= p).unwrap_or(0),
                (false, None) => 0,
            }
            .min(self.shown.len().saturating_sub(1));
        }
        self.load_tree();
        self.load_lanes();
    }

    /// The SA the lanes show: the selected one, or with every SA listed, the selected
    /// message's (a capture's thousands of SAs would not fit side by side).
    pub fn lanes_sa(&self) -> Option<u32> {
        match self.sa_selected {
            0 => self
                .selected_message()
                .and_then(|(_, m)| m.sa)
                .or_else(|| (!self.index.sas.is_empty()).then_some(0)),
            n => u32::try_from(n - 1).ok(),
        }
    }

    fn load_lanes(&mut self) {
        if !self.lanes_view {
            return;
        }
        let key = (
            self.lanes_sa(),
            self.index.messages.len(),
            self.index.timeline.len(),
        );
        if key != self.lanes.built_for {
            let same_sa = key.0 == self.lanes.built_for.0;
            self.lanes = Lanes::build(&self.index, key.0);
            if !same_sa {
                self.timeline_selected = 0;
            }
        }
        // the lanes follow the selected message unless the operator is moving in them
        if self.focus != Pane::Timeline {
            if let Some((i, m)) = self.selected_message() {
                let frame = m.frame;
                let rows = &self.lanes.rows;
                let at = rows.partition_point(|r| r.frame < frame);
                let exact = rows
                    .iter()
                    .skip(at)
                    .take_while(|r| r.frame == frame)
                    .position(|r| r.item == LaneItem::Message(i));
                self.timeline_selected =
                    (at + exact.unwrap_or(0)).min(rows.len().saturating_sub(1));
            }
        }
    }

    fn load_tree(&mut self) {
        let selected = self.selected_message().map(|(i, _)| i);
        if selected == self.tree.message {
            return;
        }
        let lines = match selected.and_then(|i| self.index.messages.get(i as usize)) {
            Some(m) => self.index.tree_lines(m),
            None => Vec::new(),
        };
        self.tree = TreeState::new(selected, lines);
        self.bytes_scroll = 0;
    }

    /// One key press.
    pub fn key(&mut self, key: Key) {
        self.status = None;
        match self.mode {
            Mode::Filter => self.filter_key(key),
            Mode::Command => self.command_key(key),
            Mode::Search => self.search_key(key),
            Mode::Help(scroll) => self.help_key(key, scroll),
            Mode::Normal => {
                // a key stops a search under way (n starts the next one from here)
                if self.search.take().is_some() && key.code == KeyCode::Esc {
                    self.status = Some("search stopped".into());
                } else if let Some(c) = self.keymap.command(Ui::Offline, key) {
                    self.run(c);
                } else if key.code == KeyCode::Esc {
                    self.zoom = false;
                }
            }
        }
        self.refresh();
    }

    fn help_key(&mut self, key: Key, scroll: usize) {
        let command = self.keymap.command(Ui::Offline, key);
        self.mode = match (key.code, command) {
            (KeyCode::Down, _) | (_, Some(UiCommand::Down)) => Mode::Help(scroll + 1),
            (KeyCode::Up, _) | (_, Some(UiCommand::Up)) => Mode::Help(scroll.saturating_sub(1)),
            (KeyCode::PageDown, _) => Mode::Help(scroll + self.page),
            (KeyCode::PageUp, _) => Mode::Help(scroll.saturating_sub(self.page)),
            _ => Mode::Normal,
        };
        // no further than the last command
        let last = self.keymap.help_rows(Ui::Offline).len().saturating_sub(1);
        if let Mode::Help(s) = self.mode {
            self.mode = Mode::Help(s.min(last));
        }
    }

    fn filter_key(&mut self, key: Key) {
        let complete = |before: &str| complete_words(before, FIELD_NAMES);
        match self.filter_line.key(key, &complete) {
            LineOutcome::Editing => {
                self.filter_error = DisplayFilter::parse(&self.filter_line.text).err();
            }
            LineOutcome::Cancelled => {
                self.mode = Mode::Normal;
                self.filter_error = None;
            }
            LineOutcome::Submitted(text) => self.apply_filter(&text),
        }
    }

    fn search_key(&mut self, key: Key) {
        match self.search_line.key(key, &|_| Vec::new()) {
            LineOutcome::Editing => {
                self.search = None;
                self.search_verdict = None;
            }
            LineOutcome::Cancelled => {
                self.search = None;
                self.search_verdict = None;
                self.mode = Mode::Normal;
            }
            LineOutcome::Submitted(text) if text.is_empty() => self.mode = Mode::Normal,
            LineOutcome::Submitted(text) => self.start_search(&text, true),
        }
    }

    /// Starts a search for `text` from the selection (forward or back), and runs its
    /// first slice at once.
    pub fn start_search(&mut self, text: &str, forward: bool) {
        self.last_search = Some(text.to_string());
        self.search_verdict = None;
        let from = self.selected_message().map(|(i, _)| i);
        self.search = Some(SearchRun::new(text, forward, from));
        self.advance_search();
    }

    /// One slice of the search under way; what it found goes to the selection and the
    /// status line, "not found" to the search bar (or the status line after n, N).
    fn advance_search(&mut self) {
        let Some(run) = self.search.as_mut() else {
            return;
        };
        let step = run.advance(&self.index, &self.shown, SLICE);
        let (text, forward) = (run.text.clone(), run.forward);
        match step {
            SearchStep::Running => {}
            SearchStep::Found { row, wrapped } => {
                self.search = None;
                self.selected = row;
                self.follow = false;
                let frame = self.selected_message().map_or(0, |(_, m)| m.frame);
                let wrap = match (wrapped, forward) {
                    (false, _) => "",
                    (true, true) => " (wrapped to the top)",
                    (true, false) => " (wrapped to the bottom)",
                };
                self.status = Some(format!("found '{text}' in frame {frame}{wrap}"));
                if self.mode == Mode::Search {
                    self.mode = Mode::Normal;
                }
            }
            SearchStep::NotFound => {
                self.search = None;
                let why = format!("not found: '{text}'");
                if self.mode == Mode::Search {
                    self.search_verdict = Some(why);
                } else {
                    self.status = Some(why);
                }
            }
        }
    }

    /// `n` and `N`: the last search again, from the selection.
    fn search_again(&mut self, forward: bool) {
        match self.last_search.clone() {
            Some(text) => self.start_search(&text, forward),
            None => self.status = Some("nothing searched yet: Ctrl-F".into()),
        }
    }

    /// Applies a filter text (an empty one clears it); a bad one stays in the bar.
    pub fn apply_filter(&mut self, text: &str) {
        self.set_filter(text);
        self.refresh();
    }

    fn set_filter(&mut self, text: &str) {
        match DisplayFilter::parse(text) {
            Ok(f) => {
                self.filter = f;
                self.filter_error = None;
                self.mode = Mode::Normal;
                self.filter_line.start(text);
            }
            Err(e) => {
                self.filter_error = Some(e);
                self.mode = Mode::Filter;
                self.filter_line.start(text);
            }
        }
    }

    fn command_key(&mut self, key: Key) {
        let complete = |before: &str| {
            let names: Vec<&str> = UI_COMMANDS
                .iter()
                .map(|s| s.name)
                .chain(["goto", "sa", "q"])
                .collect();
            if before.contains(' ') {
                complete_words(before, FIELD_NAMES)
            } else {
                complete_words(before, &names)
            }
        };
        match self.command_line.key(key, &complete) {
            LineOutcome::Editing => {}
            LineOutcome::Cancelled => self.mode = Mode::Normal,
            LineOutcome::Submitted(text) => {
                self.mode = Mode::Normal;
                if let Err(e) = self.command(&text) {
                    self.status = Some(e);
                }
            }
        }
    }

    /// A `:` command: a UI command's name, `filter EXPR`, `search TEXT`, `goto FRAME`,
    /// `sa N`.
    pub fn command(&mut self, text: &str) -> Result<(), String> {
        let (name, rest) = text.split_once(' ').unwrap_or((text, ""));
        let rest = rest.trim();
        match name {
            "" => Ok(()),
            "q" => {
                self.quit = true;
                Ok(())
            }
            "filter" if !rest.is_empty() => {
                self.apply_filter(rest);
                match &self.filter_error {
                    Some(e) => Err(format!("filter: {e}")),
                    None => Ok(()),
                }
            }
            "search" if !rest.is_empty() => {
                self.start_search(rest, true);
                Ok(())
            }
            "goto" => {
                let frame: u64 = rest
                    .parse()
                    .map_err(|_| format!("goto: '{rest}' is not a frame number"))?;
                self.select_where(|m| m.frame == frame)
                    .then_some(())
                    .ok_or_else(|| format!("goto: no frame {frame} among the messages shown"))
            }
            "sa" => {
                let n: usize = rest
                    .trim_start_matches('#')
                    .parse()
                    .map_err(|_| format!("sa: '{rest}' is not an SA number"))?;
                if n >= self.index.sas.len() {
                    return Err(format!(
                        "sa: no SA #{n} (there are {})",
                        self.index.sas.len()
                    ));
                }
                self.sa_selected = n + 1;
                Ok(())
            }
            _ => match UiCommand::by_name(name) {
                Some(c) => {
                    self.run(c);
                    Ok(())
                }
                None => Err(format!("unknown command '{name}' (? lists them)")),
            },
        }
    }

    fn select_where(&mut self, pred: impl Fn(&MessageEntry) -> bool) -> bool {
        let found = self
            .shown
            .iter()
            .position(|&i| self.index.messages.get(i as usize).is_some_and(&pred));
        if let Some(row) = found {
            self.selected = row;
            self.follow = false;
        }
        found.is_some()
    }

    /// Runs a named command.
    pub fn run(&mut self, c: UiCommand) {
        match c {
            UiCommand::FocusNext | UiCommand::FocusPrev => {
                let at = PANES.iter().position(|p| *p == self.focus).unwrap_or(0);
                let n = PANES.len();
                let to = if c == UiCommand::FocusNext {
                    at + 1
                } else {
                    at + n - 1
                };
                self.focus = PANES[to % n];
            }
            UiCommand::FocusSas => self.focus = Pane::Sas,
            UiCommand::FocusMessages => self.focus = Pane::Messages,
            UiCommand::FocusTree => self.focus = Pane::Tree,
            UiCommand::FocusBytes => self.focus = Pane::Bytes,
            UiCommand::FocusTimeline => self.focus = Pane::Timeline,
            UiCommand::Up => self.step(false, 1),
            UiCommand::Down => self.step(true, 1),
            UiCommand::PageUp => self.step(false, self.page.max(1)),
            UiCommand::PageDown => self.step(true, self.page.max(1)),
            UiCommand::Top => self.step(false, usize::MAX / 2),
            UiCommand::Bottom => {
                self.step(true, usize::MAX / 2);
                if self.focus == Pane::Messages {
                    self.follow = true;
                }
            }
            UiCommand::NextMessage => self.move_message(true, |_, _| true),
            UiCommand::PrevMessage => self.move_message(false, |_, _| true),
            UiCommand::NextInSa => self.move_message(true, |m, cur| m.sa == cur.sa),
            UiCommand::PrevInSa => self.move_message(false, |m, cur| m.sa == cur.sa),
            UiCommand::NextMobike => self.move_message(true, |m, _| is_mobike(m)),
            UiCommand::PrevMobike => self.move_message(false, |m, _| is_mobike(m)),
            UiCommand::Partner => self.go_to_partner(),
            UiCommand::Expand => self.expand(),
            UiCommand::Collapse => self.collapse(),
            UiCommand::Toggle => self.toggle(),
            UiCommand::ExpandAll => self.tree.set_all(true),
            UiCommand::CollapseAll => self.tree.set_all(false),
            UiCommand::Filter => {
                self.mode = Mode::Filter;
                let text = self.filter.as_ref().map(|f| f.text().to_string());
                self.filter_line.start(text.as_deref().unwrap_or(""));
            }
            UiCommand::ClearFilter => {
                self.filter = None;
                self.filter_line.start("");
            }
            UiCommand::CommandLine => {
                self.mode = Mode::Command;
                self.command_line.start("");
            }
            UiCommand::Help => self.mode = Mode::Help(0),
            UiCommand::Zoom => self.zoom = !self.zoom,
            UiCommand::TimeFormat => {
                self.time_format = match self.time_format {
                    TimeFormat::SinceStart => TimeFormat::Absolute,
                    TimeFormat::Absolute => TimeFormat::Delta,
                    TimeFormat::Delta => TimeFormat::SinceStart,
                }
            }
            UiCommand::Follow => {
                self.follow = !self.follow;
                if self.follow {
                    self.selected = self.shown.len().saturating_sub(1);
                }
            }
            UiCommand::Copy => self.copy(),
            UiCommand::Search => {
                self.mode = Mode::Search;
                self.search_verdict = None;
                let last = self.last_search.clone().unwrap_or_default();
                self.search_line.start(&last);
            }
            UiCommand::SearchNext => self.search_again(true),
            UiCommand::SearchPrev => self.search_again(false),
            UiCommand::TimelineView => self.toggle_lanes(),
            UiCommand::Quit => self.quit = true,
            UiCommand::BringUp
            | UiCommand::Probe
            | UiCommand::Update
            | UiCommand::AddrToggle
            | UiCommand::MoveHere
            | UiCommand::DropToggle
            | UiCommand::NatRebind
            | UiCommand::Dpd
            | UiCommand::PingToggle
            | UiCommand::Rekey
            | UiCommand::Delete => {
                self.status = Some(format!(
                    "'{}' acts on a live peer: mobikectl lab, or mobikectl tui -- PEER-OPTIONS",
                    c.spec().name
                ));
            }
        }
    }

    fn step(&mut self, down: bool, n: usize) {
        let move_row = |row: usize, len: usize| {
            if down {
                row.saturating_add(n).min(len.saturating_sub(1))
            } else {
                row.saturating_sub(n)
            }
        };
        match self.focus {
            Pane::Sas => self.sa_selected = move_row(self.sa_selected, self.index.sas.len() + 1),
            Pane::Messages => {
                self.selected = move_row(self.selected, self.shown.len());
                // scrolling up pauses follow; End resumes it
                if !down {
                    self.follow = false;
                }
            }
            Pane::Tree => self.tree.step(down, n),
            Pane::Bytes => {
                let rows = self
                    .selected_message()
                    .map_or(0, |(_, m)| self.index.raw(m).len().div_ceil(16));
                self.bytes_scroll = move_row(self.bytes_scroll, rows);
            }
            Pane::Timeline => {
                let len = if self.lanes_view {
                    self.lanes.rows.len()
                } else {
                    self.timeline_rows().len()
                };
                self.timeline_selected = move_row(self.timeline_selected, len);
                self.select_timeline_event();
            }
        }
    }

    /// The timeline rows of the selected SA (all SAs: every row), as indices.
    pub fn timeline_rows(&self) -> Vec<usize> {
        let sa = self.sa_selected;
        self.index
            .timeline
            .iter()
            .enumerate()
            .filter(|(_, e)| sa == 0 || e.sa as usize + 1 == sa)
            .map(|(i, _)| i)
            .collect()
    }

    /// Lanes or the event list, keeping the selected row's frame.
    fn toggle_lanes(&mut self) {
        let frame = self.timeline_frame();
        self.lanes_view = !self.lanes_view;
        self.load_lanes();
        let frames: Vec<u64> = if self.lanes_view {
            self.lanes.rows.iter().map(|r| r.frame).collect()
        } else {
            self.timeline_rows()
                .iter()
                .filter_map(|&i| self.index.timeline.get(i))
                .map(|e| e.frame)
                .collect()
        };
        self.timeline_selected = frame
            .and_then(|f| frames.iter().position(|&x| x >= f))
            .unwrap_or(0);
    }

    /// The frame of the selected timeline row.
    fn timeline_frame(&self) -> Option<u64> {
        if self.lanes_view {
            self.lanes.rows.get(self.timeline_selected).map(|r| r.frame)
        } else {
            self.timeline_rows()
                .get(self.timeline_selected)
                .and_then(|&i| self.index.timeline.get(i))
                .map(|e| e.frame)
        }
    }

    fn select_timeline_event(&mut self) {
        if self.lanes_view {
            self.select_lane_row();
            return;
        }
        let rows = self.timeline_rows();
        let Some(e) = rows
            .get(self.timeline_selected)
            .and_then(|&i| self.index.timeline.get(i))
        else {
            return;
        };
        let (frame, sa) = (e.frame, e.sa as usize);
        self.select_where(|m| m.frame == frame && m.sa.is_some_and(|s| s as usize == sa));
    }

    /// Selects the message of the selected lanes row (an event's: its frame's message).
    fn select_lane_row(&mut self) {
        let Some(row) = self.lanes.rows.get(self.timeline_selected).copied() else {
            return;
        };
        let found = match row.item {
            LaneItem::Message(i) => match self.shown.binary_search(&i) {
                Ok(r) => {
                    self.selected = r;
                    self.follow = false;
                    true
                }
                Err(_) => false,
            },
            LaneItem::Event(_) => {
                let (frame, sa) = (row.frame, self.lanes.sa);
                self.select_where(|m| m.frame == frame && m.sa == sa)
            }
        };
        if !found {
            self.status = Some(format!("frame {} is hidden by the filter", row.frame));
        }
    }

    fn move_message(&mut self, down: bool, pred: impl Fn(&MessageEntry, &MessageEntry) -> bool) {
        let Some((_, current)) = self.selected_message() else {
            return;
        };
        let current = current.clone();
        let rows: Vec<usize> = if down {
            (self.selected + 1..self.shown.len()).collect()
        } else {
            (0..self.selected).rev().collect()
        };
        let found = rows.into_iter().find(|&r| {
            self.shown
                .get(r)
                .and_then(|&i| self.index.messages.get(i as usize))
                .is_some_and(|m| pred(m, &current))
        });
        match found {
            Some(r) => {
                self.selected = r;
                self.follow = false;
            }
            None => self.status = Some("no such message further on".into()),
        }
    }

    fn go_to_partner(&mut self) {
        let Some((_, m)) = self.selected_message() else {
            return;
        };
        let Some(p) = m.partner else {
            self.status = Some(if m.is_response() {
                "no request for this response in the capture".into()
            } else {
                "no response to this request in the capture".into()
            });
            return;
        };
        match self.shown.iter().position(|&i| i == p) {
            Some(row) => self.selected = row,
            None => self.status = Some("its partner is hidden by the filter".into()),
        }
    }

    fn expand(&mut self) {
        if self.focus != Pane::Tree {
            return;
        }
        self.tree.expand();
    }

    fn collapse(&mut self) {
        if self.focus != Pane::Tree {
            return;
        }
        self.tree.collapse();
    }

    fn toggle(&mut self) {
        match self.focus {
            Pane::Tree => self.tree.toggle(),
            Pane::Sas | Pane::Messages => self.focus = Pane::Tree,
            Pane::Timeline => {
                self.select_timeline_event();
                self.focus = Pane::Messages;
            }
            Pane::Bytes => {}
        }
    }

    fn copy(&mut self) {
        let text = match self.focus {
            Pane::Tree => self.tree.selected_value(),
            Pane::Bytes => self.selected_message().map(|(_, m)| {
                let range = self.tree.selected_bytes();
                match (range, self.index.decrypted(m)) {
                    (Some(r), Some((plain, _))) if r.decrypted => {
                        hex::encode(plain.get(r.start..r.end).unwrap_or(&[]))
                    }
                    (Some(r), _) if !r.decrypted => {
                        hex::encode(self.index.raw(m).get(r.start..r.end).unwrap_or(&[]))
                    }
                    _ => hex::encode(self.index.raw(m)),
                }
            }),
            _ => match &self.filter {
                Some(f) => Some(f.text().to_string()),
                None => self.selected_message().map(|(_, m)| {
                    format!(
                        "isakmp.ispi == {:016x} && isakmp.messageid == {}",
                        m.spi_i, m.message_id
                    )
                }),
            },
        };
        if let Some(t) = text {
            self.status = Some(format!("copied: {}", shorten(&t, 60)));
            self.clipboard = Some(t);
        }
    }
}

/// Shortens `s` to `n` characters with an ellipsis.
pub fn shorten(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    let mut t: String = s.chars().take(n.saturating_sub(3)).collect();
    t.push_str("...");
    t
}

/// The completions of the last word of `before` among `words`.
fn complete_words(before: &str, words: &[&str]) -> Vec<String> {
    let word = before.rsplit([' ', '(', '!']).next().unwrap_or("");
    words
        .iter()
        .filter(|w| w.starts_with(word))
        .map(|w| w.to_string())
        .collect()
}

/// MOBIKE's notifies (RFC 4555 §4.2) and the NAT detection errors.
pub fn is_mobike(m: &MessageEntry) -> bool {
    m.notifies()
        .iter()
        .any(|&t| matches!(t, 40 | 41 | 16397..=16401))
}
