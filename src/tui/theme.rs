//! Colours and glyphs. State is always written as text first; colour only adds to it, and
//! the selection is reversed video, so the monochrome theme loses nothing.
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::border;

/// The styles the views use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    /// The selected row of the focused pane.
    pub selected: Style,
    /// The selected row of a pane without the focus.
    pub selected_unfocused: Style,
    /// The focused pane's border and title.
    pub focused: Style,
    /// Other borders.
    pub border: Style,
    /// Title and header rows.
    pub header: Style,
    /// Errors, failed checks, malformed messages.
    pub error: Style,
    /// Good states.
    pub ok: Style,
    /// Secondary text.
    pub dim: Style,
    /// The bytes of the selected tree node.
    pub highlight: Style,
    /// MOBIKE messages in the list.
    pub mobike: Style,
    /// Box drawing and arrows, or ASCII.
    pub glyphs: Glyphs,
}

/// Glyphs that need Unicode, with ASCII stand-ins for `--ascii`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Glyphs {
    pub border: border::Set<'static>,
    pub request: &'static str,
    pub response: &'static str,
    pub retransmit: &'static str,
    pub collapsed: &'static str,
    pub expanded: &'static str,
    pub ok: &'static str,
    pub bad: &'static str,
    pub arrow: &'static str,
    pub bar_full: &'static str,
    pub bar_empty: &'static str,
    /// Sparkline levels, lowest first (the path matrix's RTT history).
    pub spark: &'static [&'static str],
    /// The MOBIKE lanes' marks, one cell each.
    pub lanes: LaneGlyphs,
}

/// One-cell marks of the MOBIKE lanes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LaneGlyphs {
    pub request: &'static str,
    pub response: &'static str,
    pub retransmit: &'static str,
    pub probe: &'static str,
    pub answered: &'static str,
    pub unanswered: &'static str,
    pub nat: &'static str,
    pub new_path: &'static str,
    pub problem: &'static str,
    pub note: &'static str,
    /// A move's line and its heads.
    pub move_line: &'static str,
    pub move_right: &'static str,
    pub move_left: &'static str,
    /// The SA's current path: a heavier line than the other paths'.
    pub current: &'static str,
    pub other: &'static str,
}

const UNICODE: Glyphs = Glyphs {
    border: border::PLAIN,
    request: "→",
    response: "←",
    retransmit: "⟳",
    collapsed: "▶",
    expanded: "▼",
    ok: "✓",
    bad: "✗",
    arrow: "→",
    bar_full: "█",
    bar_empty: "░",
    lanes: LaneGlyphs {
        request: "→",
        response: "←",
        retransmit: "⟳",
        probe: "?",
        answered: "●",
        unanswered: "✗",
        nat: "◆",
        new_path: "+",
        problem: "!",
        note: "·",
        move_line: "─",
        move_right: "▶",
        move_left: "◀",
        current: "┃",
        other: "│",
    },
    spark: &["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"],
};

const ASCII_BORDER: border::Set<'static> = border::Set {
    top_left: "+",
    top_right: "+",
    bottom_left: "+",
    bottom_right: "+",
    vertical_left: "|",
    vertical_right: "|",
    horizontal_top: "-",
    horizontal_bottom: "-",
};

const ASCII: Glyphs = Glyphs {
    border: ASCII_BORDER,
    request: ">",
    response: "<",
    retransmit: "R",
    collapsed: "+",
    expanded: "-",
    ok: "ok",
    bad: "!!",
    arrow: "->",
    bar_full: "#",
    bar_empty: ".",
    lanes: LaneGlyphs {
        request: ">",
        response: "<",
        retransmit: "R",
        probe: "?",
        answered: "o",
        unanswered: "x",
        nat: "N",
        new_path: "+",
        problem: "!",
        note: ".",
        move_line: "-",
        move_right: ">",
        move_left: "<",
        current: "|",
        other: ":",
    },
    spark: &[".", ":", "-", "=", "#"],
};

impl Theme {
    /// The 16 ANSI colours only: they follow the terminal's palette, light or dark.
    pub fn colour() -> Theme {
        Theme {
            selected: Style::new().add_modifier(Modifier::REVERSED),
            selected_unfocused: Style::new().add_modifier(Modifier::UNDERLINED),
            focused: Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            border: Style::new(),
            header: Style::new().add_modifier(Modifier::BOLD),
            error: Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
            ok: Style::new().fg(Color::Green),
            dim: Style::new().add_modifier(Modifier::DIM),
            highlight: Style::new()
                .fg(Color::Yellow)
                .add_modifier(Modifier::REVERSED),
            mobike: Style::new().fg(Color::Magenta),
            glyphs: UNICODE,
        }
    }

    /// No colour at all (NO_COLOR, `--color never`): modifiers only.
    pub fn mono() -> Theme {
        Theme {
            focused: Style::new().add_modifier(Modifier::BOLD),
            error: Style::new().add_modifier(Modifier::BOLD),
            ok: Style::new(),
            highlight: Style::new().add_modifier(Modifier::REVERSED),
            mobike: Style::new().add_modifier(Modifier::ITALIC),
            ..Theme::colour()
        }
    }

    /// ASCII glyphs and borders.
    pub fn ascii(mut self) -> Theme {
        self.glyphs = ASCII;
        self
    }
}
