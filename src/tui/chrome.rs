//! What both UIs draw the same way: the screen's rows, the "too small" notice, pane
//! borders with their number and focus, the selection style, and the help overlay.
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use ratatui::Frame;

use super::keymap::{KeyMap, Ui};
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

/// The help overlay over `body`: one row per command of `ui`'s key map (its help wrapped
/// when narrow), from `scroll` on, then `footer` lines.
pub fn draw_help(
    frame: &mut Frame,
    keymap: &KeyMap,
    ui: Ui,
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
    let rows = keymap.help_rows(ui);
    let key_w = rows
        .iter()
        .map(|r| r.0.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let name_w = rows.iter().map(|r| r.1.len()).max().unwrap_or(7).max(7);
    // the help wraps in what is left of the width (borders, two gaps)
    let help_w = usize::from(width)
        .saturating_sub(key_w + name_w + 4)
        .max(10);
    let mut lines: Vec<Line> = vec![Line::styled(
        format!(
            "{:<key_w$} {:<name_w$} {}",
            "keys", "command", "what it does"
        ),
        theme.header,
    )];
    // scrolled no further than the last command
    for (keys, name, help) in rows.iter().skip(scroll.min(rows.len().saturating_sub(1))) {
        for (i, part) in wrap_words(help, help_w).into_iter().enumerate() {
            let (k, n) = if i == 0 {
                (keys.as_str(), *name)
            } else {
                ("", "")
            };
            lines.push(Line::raw(format!("{k:<key_w$} {n:<name_w$} {part}")));
        }
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
            "Help: keys (rebind: --bindings FILE); :NAME runs a command; Up/Down scroll; Esc closes",
            theme.focused,
        ));
    frame.render_widget(Clear, area);
    frame.render_widget(Paragraph::new(lines).block(blk), area);
}

/// `text` in lines of at most `width` characters, broken between words (a longer word
/// alone on its line).
fn wrap_words(text: &str, width: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            out.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push(line);
    out
}

/// The completions a Tab found, over the last rows of `body` (just above the line being
/// typed), as many as fit in three rows; the rest counted.
pub fn draw_choices(frame: &mut Frame, body: Rect, choices: &[String], theme: &Theme) {
    if choices.is_empty() || body.width == 0 || body.height == 0 {
        return;
    }
    let width = usize::from(body.width);
    let mut rows: Vec<String> = vec![String::new()];
    let mut shown = 0;
    for c in choices {
        let last = rows.len() - 1;
        let fits = rows[last].is_empty() || rows[last].len() + 2 + c.len() <= width;
        if !fits {
            if rows.len() == 3 {
                break;
            }
            rows.push(String::new());
        }
        let last = rows.len() - 1;
        if !rows[last].is_empty() {
            rows[last].push_str("  ");
        }
        rows[last].push_str(c);
        shown += 1;
    }
    if shown < choices.len() {
        let more = format!("  (+{} more)", choices.len() - shown);
        let last = rows.len() - 1;
        let keep = width.saturating_sub(more.len());
        let cut: String = rows[last].chars().take(keep).collect();
        rows[last] = cut + &more;
    }
    let height = u16::try_from(rows.len()).unwrap_or(3).min(body.height);
    let area = Rect {
        x: body.x,
        y: body.y + body.height - height,
        width: body.width,
        height,
    };
    let lines: Vec<Line> = rows
        .into_iter()
        .map(|r| Line::styled(r, theme.selected_unfocused))
        .collect();
    frame.render_widget(Clear, area);
    frame.render_widget(Paragraph::new(lines).style(theme.selected_unfocused), area);
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

#[cfg(test)]
mod tests {
    use super::wrap_words;

    #[test]
    fn words_wrap_at_the_width_and_a_long_word_keeps_its_line() {
        assert_eq!(wrap_words("a bc def", 4), ["a bc", "def"]);
        assert_eq!(wrap_words("abcdefgh x", 4), ["abcdefgh", "x"]);
        assert_eq!(wrap_words("", 4), [""]);
    }
}
