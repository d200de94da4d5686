//! The UI's named commands and the keys bound to them.
//!
//! Every key runs a named [`UiCommand`]; the same names work on the `:` line, the help
//! overlay is generated from [`KeyMap::bindings`], and a key file rebinds them
//! (`KEY = command` lines), so help, keys and the `:` line cannot drift apart.
use std::fmt;

/// A key with its modifiers, independent of the terminal library.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
    pub alt: bool,
    pub shift: bool,
}

/// The key itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyCode {
    Char(char),
    Enter,
    Esc,
    Tab,
    BackTab,
    Backspace,
    Delete,
    Up,
    Down,
    Left,
    Right,
    Home,
    End,
    PageUp,
    PageDown,
    F(u8),
}

impl Key {
    /// A key without modifiers.
    pub const fn plain(code: KeyCode) -> Key {
        Key {
            code,
            ctrl: false,
            alt: false,
            shift: false,
        }
    }

    /// A character key.
    pub const fn char(c: char) -> Key {
        Key::plain(KeyCode::Char(c))
    }

    /// Ctrl with a character.
    pub const fn ctrl(c: char) -> Key {
        Key {
            code: KeyCode::Char(c),
            ctrl: true,
            alt: false,
            shift: false,
        }
    }

    /// Parses `ctrl-d`, `shift-right`, `F8`, `pgdn`, `?`, `space`.
    pub fn parse(s: &str) -> Option<Key> {
        let mut key = Key::plain(KeyCode::Esc);
        let mut rest = s.trim();
        loop {
            let lower = rest.to_ascii_lowercase();
            if let Some(r) = lower.strip_prefix("ctrl-") {
                key.ctrl = true;
                rest = &rest[rest.len() - r.len()..];
            } else if let Some(r) = lower.strip_prefix("alt-") {
                key.alt = true;
                rest = &rest[rest.len() - r.len()..];
            } else if let Some(r) = lower.strip_prefix("shift-") {
                key.shift = true;
                rest = &rest[rest.len() - r.len()..];
            } else {
                break;
            }
        }
        let lower = rest.to_ascii_lowercase();
        key.code = match lower.as_str() {
            "enter" | "return" => KeyCode::Enter,
            "esc" | "escape" => KeyCode::Esc,
            "tab" if key.shift => {
                key.shift = false;
                KeyCode::BackTab
            }
            "tab" => KeyCode::Tab,
            "backtab" => KeyCode::BackTab,
            "backspace" | "bs" => KeyCode::Backspace,
            "delete" | "del" => KeyCode::Delete,
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "pgup" | "pageup" => KeyCode::PageUp,
            "pgdn" | "pagedown" => KeyCode::PageDown,
            "space" => KeyCode::Char(' '),
            f if f.len() >= 2 && f.starts_with('f') && f[1..].parse::<u8>().is_ok() => {
                KeyCode::F(f[1..].parse().ok()?)
            }
            _ => {
                let mut chars = rest.chars();
                let c = chars.next()?;
                if chars.next().is_some() {
                    return None;
                }
                KeyCode::Char(if key.ctrl { c.to_ascii_lowercase() } else { c })
            }
        };
        Some(key)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ctrl {
            f.write_str("Ctrl-")?;
        }
        if self.alt {
            f.write_str("Alt-")?;
        }
        if self.shift {
            f.write_str("Shift-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("Space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Enter => f.write_str("Enter"),
            KeyCode::Esc => f.write_str("Esc"),
            KeyCode::Tab => f.write_str("Tab"),
            KeyCode::BackTab => f.write_str("Shift-Tab"),
            KeyCode::Backspace => f.write_str("Backspace"),
            KeyCode::Delete => f.write_str("Delete"),
            KeyCode::Up => f.write_str("Up"),
            KeyCode::Down => f.write_str("Down"),
            KeyCode::Left => f.write_str("Left"),
            KeyCode::Right => f.write_str("Right"),
            KeyCode::Home => f.write_str("Home"),
            KeyCode::End => f.write_str("End"),
            KeyCode::PageUp => f.write_str("PgUp"),
            KeyCode::PageDown => f.write_str("PgDn"),
            KeyCode::F(n) => write!(f, "F{n}"),
        }
    }
}

/// What a key or a `:` command of the UI does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UiCommand {
    FocusNext,
    FocusPrev,
    FocusSas,
    FocusMessages,
    FocusTree,
    FocusBytes,
    FocusTimeline,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    NextMessage,
    PrevMessage,
    NextInSa,
    PrevInSa,
    NextMobike,
    PrevMobike,
    Partner,
    Expand,
    Collapse,
    Toggle,
    ExpandAll,
    CollapseAll,
    Filter,
    ClearFilter,
    CommandLine,
    Help,
    Zoom,
    TimeFormat,
    Follow,
    Copy,
    Search,
    SearchNext,
    SearchPrev,
    TimelineView,
    BringUp,
    Probe,
    Update,
    AddrToggle,
    MoveHere,
    DropToggle,
    NatRebind,
    Dpd,
    PingToggle,
    Rekey,
    Delete,
    Quit,
}

/// The two UIs: the capture browser and the live view. A key may run one command in one
/// and another in the other (`n`: the next search match on a capture, a NAT rebinding live).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ui {
    Offline,
    Live,
}

/// One entry of the UI's command table.
pub struct UiCommandSpec {
    pub command: UiCommand,
    /// The only UI whose keys run it (`None`: both).
    pub only: Option<Ui>,
    /// Its name on the `:` line and in key files.
    pub name: &'static str,
    /// One line of help.
    pub help: &'static str,
    /// The help in the live view, where it does something else there (keys 2 to 5 focus
    /// other panes).
    pub live_help: Option<&'static str>,
    /// Default keys.
    pub keys: &'static [&'static str],
}

impl UiCommandSpec {
    /// Its help as `ui` shows it.
    pub fn help_in(&self, ui: Ui) -> &'static str {
        match (ui, self.live_help) {
            (Ui::Live, Some(h)) => h,
            _ => self.help,
        }
    }

    /// Its help in the table of both UIs (the README's): which UI has it, and what it does
    /// in each.
    pub fn help_in_both(&self) -> String {
        match (self.only, self.live_help) {
            (Some(Ui::Live), _) => format!("live: {}", self.help),
            (Some(Ui::Offline), _) => format!("captures: {}", self.help),
            (None, Some(live)) => format!("{}; live: {live}", self.help),
            (None, None) => self.help.to_string(),
        }
    }

    /// With another help in the live view.
    const fn live_help(self, help: &'static str) -> UiCommandSpec {
        UiCommandSpec {
            live_help: Some(help),
            ..self
        }
    }
}

/// The UI's command table: names, help and default keys (Wireshark's and termshark's
/// where an operator's fingers already know them).
pub const UI_COMMANDS: &[UiCommandSpec] = &[
    spec(UiCommand::FocusNext, "focus-next", "next pane", &["tab"]),
    spec(
        UiCommand::FocusPrev,
        "focus-prev",
        "previous pane",
        &["shift-tab"],
    ),
    spec(UiCommand::FocusSas, "focus-sas", "the SA list", &["1"]),
    spec(
        UiCommand::FocusMessages,
        "focus-messages",
        "the message list",
        &["2"],
    )
    .live_help("the addresses"),
    spec(
        UiCommand::FocusTree,
        "focus-tree",
        "the payload tree",
        &["3"],
    )
    .live_help("the path matrix"),
    spec(UiCommand::FocusBytes, "focus-bytes", "the bytes", &["4"])
        .live_help("the event log (Enter decodes the selected exchange)"),
    spec(
        UiCommand::FocusTimeline,
        "focus-timeline",
        "the MOBIKE timeline",
        &["5"],
    )
    .live_help("the moves"),
    spec(UiCommand::Up, "up", "move up", &["up", "k"]),
    spec(UiCommand::Down, "down", "move down", &["down", "j"]),
    spec(
        UiCommand::PageUp,
        "page-up",
        "a page up",
        &["pgup", "ctrl-u"],
    ),
    spec(
        UiCommand::PageDown,
        "page-down",
        "a page down",
        &["pgdn", "ctrl-d"],
    ),
    spec(UiCommand::Top, "top", "first line", &["home", "g"]),
    spec(
        UiCommand::Bottom,
        "bottom",
        "last line (follows new ones)",
        &["end", "G"],
    ),
    offline(
        UiCommand::NextMessage,
        "next-message",
        "next message, whatever has the focus",
        &["F8", "ctrl-down"],
    ),
    offline(
        UiCommand::PrevMessage,
        "prev-message",
        "previous message, whatever has the focus",
        &["F7", "ctrl-up"],
    ),
    offline(
        UiCommand::NextInSa,
        "next-in-sa",
        "next message of the same IKE SA",
        &["]"],
    ),
    offline(
        UiCommand::PrevInSa,
        "prev-in-sa",
        "previous message of the same IKE SA",
        &["["],
    ),
    offline(
        UiCommand::NextMobike,
        "next-mobike",
        "next MOBIKE message (address update, probe, NAT)",
        &["}"],
    ),
    offline(
        UiCommand::PrevMobike,
        "prev-mobike",
        "previous MOBIKE message",
        &["{"],
    ),
    offline(
        UiCommand::Partner,
        "partner",
        "go to the request's response, or the response's request",
        &["="],
    ),
    spec(
        UiCommand::Expand,
        "expand",
        "expand the tree node",
        &["right", "l"],
    )
    .live_help("unfold the node (of a decoded message)"),
    spec(
        UiCommand::Collapse,
        "collapse",
        "collapse the node, or go to its parent",
        &["left", "h"],
    )
    .live_help("fold the node or go to its parent (of a decoded message)"),
    spec(
        UiCommand::Toggle,
        "toggle",
        "expand or collapse the node",
        &["enter"],
    )
    .live_help("decode the selected event (pane 4); in a message, fold or unfold"),
    spec(
        UiCommand::ExpandAll,
        "expand-all",
        "expand every node",
        &["E", "ctrl-right"],
    )
    .live_help("unfold every node (of a decoded message)"),
    spec(
        UiCommand::CollapseAll,
        "collapse-all",
        "collapse every node",
        &["C", "ctrl-left"],
    )
    .live_help("fold every node (of a decoded message)"),
    spec(
        UiCommand::Filter,
        "filter",
        "edit the display filter (isakmp.*, exch==, notify==, sa==)",
        &["/"],
    )
    .live_help("filter the event log by text"),
    spec(
        UiCommand::ClearFilter,
        "clear-filter",
        "show every message",
        &["ctrl-l"],
    )
    .live_help("show every event"),
    spec(
        UiCommand::CommandLine,
        "command",
        "the : command line",
        &[":"],
    ),
    spec(UiCommand::Help, "help", "this help", &["?", "F1"]),
    spec(UiCommand::Zoom, "zoom", "zoom the focused pane", &["\\"]),
    offline(
        UiCommand::TimeFormat,
        "time-format",
        "time: since start, absolute, delta",
        &["t"],
    ),
    spec(UiCommand::Follow, "follow", "follow new messages", &["F"]).live_help("follow new events"),
    offline(
        UiCommand::Search,
        "search",
        "find a message by text (list line or decoded tree)",
        &["ctrl-f"],
    ),
    offline(
        UiCommand::SearchNext,
        "search-next",
        "the search's next match (wraps)",
        &["n"],
    ),
    offline(
        UiCommand::SearchPrev,
        "search-prev",
        "the search's previous match (wraps)",
        &["N"],
    ),
    offline(
        UiCommand::TimelineView,
        "timeline-view",
        "MOBIKE timeline: one lane per path, or the event list",
        &["v"],
    ),
    spec(
        UiCommand::Copy,
        "copy",
        "copy the selected line (OSC 52: works over SSH and in tmux)",
        &["y"],
    ),
    live(
        UiCommand::BringUp,
        "up-sa",
        "bring the connection up",
        &["U"],
    ),
    live(
        UiCommand::Probe,
        "probe",
        "test every path of the selected SA now",
        &["p"],
    ),
    live(
        UiCommand::Update,
        "update",
        "send UPDATE_SA_ADDRESSES now",
        &["u"],
    ),
    live(
        UiCommand::AddrToggle,
        "addr-toggle",
        "take the selected local address away, or give it back",
        &["a"],
    ),
    live(
        UiCommand::MoveHere,
        "move-here",
        "move the selected SA to the selected path",
        &["m"],
    ),
    live(
        UiCommand::DropToggle,
        "drop-toggle",
        "drop the selected path's datagrams silently, or stop",
        &["x"],
    ),
    live(
        UiCommand::NatRebind,
        "nat-rebind",
        "send from a fresh port, as a NAT rebinding would",
        &["n"],
    ),
    live(UiCommand::Dpd, "dpd", "liveness check now", &["d"]),
    live(
        UiCommand::PingToggle,
        "ping-toggle",
        "ping through the CHILD_SA, or stop",
        &["P"],
    ),
    live(
        UiCommand::Rekey,
        "rekey",
        "rekey the selected IKE SA (asks first)",
        &["R"],
    ),
    live(
        UiCommand::Delete,
        "down-sa",
        "delete the selected IKE SA (asks first)",
        &["D"],
    ),
    spec(UiCommand::Quit, "quit", "quit", &["q", "ctrl-c"])
        .live_help("quit: the IKE SAs are deleted (asks first)"),
];

const fn spec(
    command: UiCommand,
    name: &'static str,
    help: &'static str,
    keys: &'static [&'static str],
) -> UiCommandSpec {
    UiCommandSpec {
        command,
        only: None,
        name,
        help,
        live_help: None,
        keys,
    }
}

/// A command of the live view only.
const fn live(
    command: UiCommand,
    name: &'static str,
    help: &'static str,
    keys: &'static [&'static str],
) -> UiCommandSpec {
    UiCommandSpec {
        only: Some(Ui::Live),
        ..spec(command, name, help, keys)
    }
}

/// A command of the capture browser only.
const fn offline(
    command: UiCommand,
    name: &'static str,
    help: &'static str,
    keys: &'static [&'static str],
) -> UiCommandSpec {
    UiCommandSpec {
        only: Some(Ui::Offline),
        ..spec(command, name, help, keys)
    }
}

impl UiCommand {
    /// The command's table entry.
    pub fn spec(self) -> &'static UiCommandSpec {
        // every command has an entry (a test checks it); Quit's is the fallback
        UI_COMMANDS
            .iter()
            .find(|s| s.command == self)
            .unwrap_or(&UI_COMMANDS[UI_COMMANDS.len() - 1])
    }

    /// Whether its keys work in `ui`.
    pub fn in_ui(self, ui: Ui) -> bool {
        self.spec().only.is_none_or(|only| only == ui)
    }

    /// Whether some UI runs both on a key (so that one binding replaces the other).
    fn shares_a_ui(self, other: UiCommand) -> bool {
        [Ui::Offline, Ui::Live]
            .iter()
            .any(|&ui| self.in_ui(ui) && other.in_ui(ui))
    }

    /// The command of that name.
    pub fn by_name(name: &str) -> Option<UiCommand> {
        UI_COMMANDS
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.command)
    }
}

/// Keys to commands.
#[derive(Debug, Clone)]
pub struct KeyMap {
    bindings: Vec<(Key, UiCommand)>,
}

impl Default for KeyMap {
    fn default() -> Self {
        let mut bindings = Vec::new();
        for s in UI_COMMANDS {
            for k in s.keys {
                if let Some(key) = Key::parse(k) {
                    bindings.push((key, s.command));
                }
            }
        }
        KeyMap { bindings }
    }
}

impl KeyMap {
    /// Rebinds the keys the key file at `path` names; the error names the file and the
    /// line to fix.
    pub fn apply_file(&mut self, path: &std::path::Path) -> Result<(), String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        self.apply(&text)
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The command `key` runs in `ui`.
    pub fn command(&self, ui: Ui, key: Key) -> Option<UiCommand> {
        self.bindings
            .iter()
            .find(|(k, c)| *k == key && c.in_ui(ui))
            .map(|(_, c)| *c)
    }

    /// Every binding, in table order.
    pub fn bindings(&self) -> &[(Key, UiCommand)] {
        &self.bindings
    }

    /// The keys bound to `command`.
    pub fn keys_of(&self, command: UiCommand) -> Vec<Key> {
        self.bindings
            .iter()
            .filter(|(_, c)| *c == command)
            .map(|(k, _)| *k)
            .collect()
    }

    /// Applies a key file: `KEY = command` lines (`#` comments); a key bound again loses
    /// its old command in the UIs the new one works in. Errors name the line.
    pub fn apply(&mut self, text: &str) -> Result<(), String> {
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let (k, c) = line
                .rsplit_once('=')
                .ok_or_else(|| format!("line {}: expected KEY = command", n + 1))?;
            let key = Key::parse(k.trim())
                .ok_or_else(|| format!("line {}: unknown key '{}'", n + 1, k.trim()))?;
            let command = UiCommand::by_name(c.trim())
                .ok_or_else(|| format!("line {}: unknown command '{}'", n + 1, c.trim()))?;
            self.bindings
                .retain(|(k, c)| *k != key || !c.shares_a_ui(command));
            self.bindings.push((key, command));
        }
        Ok(())
    }

    /// The help rows of `ui`: keys, command name, help; one per command whose keys work
    /// there, in table order.
    pub fn help_rows(&self, ui: Ui) -> Vec<(String, &'static str, &'static str)> {
        UI_COMMANDS
            .iter()
            .filter(|s| s.command.in_ui(ui))
            .map(|s| {
                let keys: Vec<String> = self
                    .keys_of(s.command)
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                (keys.join(" "), s.name, s.help_in(ui))
            })
            .collect()
    }
}

/// The default keys as a Markdown table (README; a test keeps the two in step).
pub fn keys_markdown() -> String {
    let mut out = String::from("| keys | command | what it does |\n|---|---|---|\n");
    let map = KeyMap::default();
    for s in UI_COMMANDS {
        let keys: Vec<String> = map
            .keys_of(s.command)
            .iter()
            .map(ToString::to_string)
            .collect();
        let keys: Vec<String> = keys
            .iter()
            .map(|k| format!("`{}`", k.replace('|', "\\|")))
            .collect();
        out.push_str(&format!(
            "| {} | `{}` | {} |\n",
            keys.join(" "),
            s.name,
            s.help_in_both()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_key_parses_and_no_key_has_two_commands_in_one_ui() {
        let map = KeyMap::default();
        let declared: usize = UI_COMMANDS.iter().map(|s| s.keys.len()).sum();
        assert_eq!(map.bindings().len(), declared);
        for ui in [Ui::Offline, Ui::Live] {
            let in_ui: Vec<&(Key, UiCommand)> =
                map.bindings().iter().filter(|(_, c)| c.in_ui(ui)).collect();
            for (i, (k, _)) in in_ui.iter().enumerate() {
                assert!(
                    !in_ui[..i].iter().any(|(k2, _)| k2 == k),
                    "{k} bound twice in {ui:?}"
                );
            }
        }
    }

    #[test]
    fn n_searches_on_captures_and_rebinds_nat_live() {
        let map = KeyMap::default();
        let n = Key::char('n');
        assert_eq!(map.command(Ui::Offline, n), Some(UiCommand::SearchNext));
        assert_eq!(map.command(Ui::Live, n), Some(UiCommand::NatRebind));
        assert_eq!(
            map.command(Ui::Offline, Key::char('N')),
            Some(UiCommand::SearchPrev)
        );
        assert_eq!(
            map.command(Ui::Offline, Key::ctrl('f')),
            Some(UiCommand::Search)
        );
        // rebinding n for the browser leaves the live view's n alone
        let mut map = map;
        map.apply("n = down\n").unwrap();
        assert_eq!(map.command(Ui::Offline, n), Some(UiCommand::Down));
        assert_eq!(map.command(Ui::Live, n), Some(UiCommand::Down));
        map.apply("n = nat-rebind\n").unwrap();
        assert_eq!(map.command(Ui::Live, n), Some(UiCommand::NatRebind));
        assert_eq!(map.command(Ui::Offline, n), None);
    }

    #[test]
    fn keys_print_and_parse_back() {
        for (k, _) in KeyMap::default().bindings() {
            assert_eq!(Key::parse(&k.to_string()), Some(*k), "{k}");
        }
        assert_eq!(Key::parse("Ctrl-D"), Some(Key::ctrl('d')));
        assert_eq!(Key::parse("nonsense"), None);
    }

    #[test]
    fn a_key_file_rebinds() {
        let mut map = KeyMap::default();
        map.apply("# vi users\nctrl-n = down\nq = help\n").unwrap();
        assert_eq!(
            map.command(Ui::Offline, Key::ctrl('n')),
            Some(UiCommand::Down)
        );
        assert_eq!(map.command(Ui::Live, Key::char('q')), Some(UiCommand::Help));
        let e = map.apply("x = fly").unwrap_err();
        assert!(e.contains("line 1") && e.contains("fly"), "{e}");
    }

    #[test]
    fn every_command_has_a_unique_name() {
        for (i, s) in UI_COMMANDS.iter().enumerate() {
            assert_eq!(s.command.spec().name, s.name);
            assert!(!UI_COMMANDS[..i].iter().any(|o| o.name == s.name));
        }
    }
}
