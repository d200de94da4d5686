//! What both UIs draw the same way: the screen's rows, the "too small" notice, pane
//! borders with their number and focus, the selection style, and the help overlay.
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use ratatui::Frame;

use super::keymap::KeyMap;
use super::theme::Theme;

/// Smallest screen that holds the panes; below it the screen says so.
const MIN_WIDTH: u16 = 30;
const MIN_HEIGHT: u16 = 8;

/// The header row, the body and the status row; `None` (after saying so on screen)
/// when the terminal is too small.
pub fn screen_rows(frame: &mut Frame) -> Option<[Rect; 3]> {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let msg = format!(
            "terminal too small ({}x{}): {MIN_WIDTH}x{MIN_HEIGHT} at least",
            area.width, area.height
        );
        frame.render_widget(Paragraph::new(msg), area);
        return None;
    }
    Some(
        Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(1),
            Constraint::Length(1),
        ])
        .areas(area),
    )
}

/// A pane's border titled `N title`; the focused one is bracketed and highlighted, so
/// focus reads without colour.
pub fn pane_block<'a>(theme: &Theme, number: u8, title: &str, focused: bool) -> Block<'a> {
    let title = format!("{number} {title}");
    Block::bordered()
        .border_set(theme.glyphs.border)
        .border_style(if focused { theme.focused } else { theme.border })
        .title(Span::styled(
            if focused { format!("[{title}]") } else { title },
            if focused { theme.focused } else { theme.header },
        ))
}

/// The style of a row: selected in the focused pane, selected elsewhere, or plain.
pub fn row_style(theme: &Theme, selected: bool, focused: bool) -> Style {
    match (selected, focused) {
        (false, _) => Style::new(),
        (true, true) => theme.selected,
        (true, false) => theme.selected_unfocused,
    }
}

/// The help overlay over `body`: one row per command of the key map, from `scroll` on,
/// then `footer` lines.
pub fn draw_help(
    frame: &mut Frame,
    keymap: &KeyMap,
    theme: &Theme,
    body: Rect,
    scroll: usize,
    footer: &[&str],
) {
    let width = body.width.min(110);
    let area = Rect {
        x: body.x + (body.width - width) / 2,
        y: body.y,
        width,
        height: body.height,
    };
    let mut lines: Vec<Line> = vec![Line::styled(
        format!("{:<22} {:<16} {}", "keys", "command", "what it does"),
        theme.header,
    )];
    for (keys, name, help) in keymap.help_rows().iter().skip(scroll) {
        lines.push(Line::raw(format!("{keys:<22} {name:<16} {help}")));
    }
    lines.extend(
        footer
            .iter()
            .map(|f| Line::styled(f.to_string(), theme.dim)),
    );
    let blk = Block::bordered()
        .border_set(theme.glyphs.border)
        .border_style(theme.focused)
        .title(Span::styled(
            "Help: keys (rebind: --bindings FILE); :NAME runs a command; Esc closes",
            theme.focused,
        ));
    frame.render_widget(Clear, area);
    frame.render_widget(Paragraph::new(lines).block(blk), area);
}

/// One row of a hex dump: offset, `per_line` bytes in hex, then as text; the bytes in
/// `lit` (offsets into the whole dump) highlighted.
pub fn hex_row<'a>(
    off: usize,
    chunk: &[u8],
    per_line: usize,
    lit: std::ops::Range<usize>,
    theme: &Theme,
) -> Line<'a> {
    let mut spans = vec![Span::styled(format!("{off:04x}  "), theme.dim)];
    for (k, byte) in chunk.iter().enumerate() {
        let style = if lit.contains(&(off + k)) {
            theme.highlight
        } else {
            Style::new()
        };
        spans.push(Span::styled(format!("{byte:02x}"), style));
        spans.push(Span::raw(" "));
    }
    spans.push(Span::raw(
        "   ".repeat(per_line.saturating_sub(chunk.len())) + " ",
    ));
    for (k, &byte) in chunk.iter().enumerate() {
        let c = if byte.is_ascii_graphic() || byte == b' ' {
            byte as char
        } else {
            '.'
        };
        let style = if lit.contains(&(off + k)) {
            theme.highlight
        } else {
            theme.dim
        };
        spans.push(Span::styled(c.to_string(), style));
    }
    Line::from(spans)
}
