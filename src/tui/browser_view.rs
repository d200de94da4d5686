//! Drawing the offline browser: header, SA list, MOBIKE timeline, message list, payload
//! tree, bytes, and the status or input line. Only the rows on screen are built, so a
//! capture of any size draws in the same time.
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use super::browser::{is_mobike, shorten, Browser, Mode, Pane, TimeFormat};
use super::capture_index::{ByteRange, MessageEntry};
use super::chrome;
use super::keymap::Ui;
use super::theme::Theme;
use crate::cli::decode::rfc3339_micros;
use crate::decrypt::IntegrityStatus;

/// Draws the whole screen.
pub fn draw(frame: &mut Frame, b: &mut Browser, theme: &Theme) {
    let Some([top, body, bottom]) = chrome::screen_rows(frame) else {
        return;
    };
    draw_header(frame, b, theme, top);
    draw_body(frame, b, theme, body);
    draw_bottom(frame, b, theme, bottom);
    match b.mode {
        Mode::Help(scroll) => {
            chrome::draw_help(frame, &b.keymap, Ui::Offline, theme, body, scroll, &[])
        }
        Mode::Filter => chrome::draw_choices(frame, body, &b.filter_line.choices, theme),
        Mode::Command => chrome::draw_choices(frame, body, &b.command_line.choices, theme),
        Mode::Normal | Mode::Search => {}
    }
}

fn draw_header(frame: &mut Frame, b: &Browser, theme: &Theme, area: Rect) {
    let ix = &b.index;
    let files = match ix.files.as_slice() {
        [one] => one.rsplit('/').next().unwrap_or(one).to_string(),
        many => format!("{} files", many.len()),
    };
    let mut spans = vec![
        Span::styled("mobikectl ", theme.header),
        Span::raw(format!(
            "{files}  {} IKE messages · {} IKE SAs · {} ESP",
            ix.messages.len(),
            ix.sas.len(),
            ix.esp_packets
        )),
    ];
    if !ix.progress.done {
        let pct = (ix.progress.fraction * 100.0).clamp(0.0, 100.0);
        let full = (pct / 10.0).round() as usize;
        spans.push(Span::raw(format!(
            "  loading [{}{}] {pct:.0}%",
            theme.glyphs.bar_full.repeat(full.min(10)),
            theme.glyphs.bar_empty.repeat(10 - full.min(10))
        )));
    }
    if let Some(e) = &ix.error {
        spans.push(Span::styled(format!("  {e}"), theme.error));
    }
    if b.follow {
        spans.push(Span::styled("  FOLLOW", theme.header));
    }
    spans.push(Span::styled("  ? help", theme.dim));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_bottom(frame: &mut Frame, b: &Browser, theme: &Theme, area: Rect) {
    let line = match b.mode {
        Mode::Filter => {
            let verdict = match &b.filter_error {
                None => Span::styled(format!(" {}", theme.glyphs.ok), theme.ok),
                Some(e) => Span::styled(format!(" {} {e}", theme.glyphs.bad), theme.error),
            };
            frame.set_cursor_position((
                area.x
                    .saturating_add(1)
                    .saturating_add(u16::try_from(b.filter_line.cursor).unwrap_or(u16::MAX)),
                area.y,
            ));
            Line::from(vec![Span::raw(format!("/{}", b.filter_line.text)), verdict])
        }
        Mode::Search => {
            frame.set_cursor_position((
                area.x
                    .saturating_add(6)
                    .saturating_add(u16::try_from(b.search_line.cursor).unwrap_or(u16::MAX)),
                area.y,
            ));
            let mut spans = vec![Span::raw(format!("Find: {}", b.search_line.text))];
            if let Some(run) = &b.search {
                spans.push(Span::styled(
                    format!("  searching... frame {}", run.at_frame),
                    theme.dim,
                ));
            } else if let Some(v) = &b.search_verdict {
                spans.push(Span::styled(format!("  {v}"), theme.error));
            }
            Line::from(spans)
        }
        Mode::Command => {
            frame.set_cursor_position((
                area.x
                    .saturating_add(1)
                    .saturating_add(u16::try_from(b.command_line.cursor).unwrap_or(u16::MAX)),
                area.y,
            ));
            Line::raw(format!(":{}", b.command_line.text))
        }
        _ => {
            let mut spans = Vec::new();
            if let Some(f) = &b.filter {
                spans.push(Span::raw(format!("filter: {} ", f.text())));
                spans.push(Span::styled(theme.glyphs.ok, theme.ok));
                spans.push(Span::raw(format!(
                    "  shown {}/{}  ",
                    b.shown.len(),
                    b.index.messages.len()
                )));
            }
            match (&b.search, &b.status) {
                (Some(run), _) => spans.push(Span::styled(
                    format!(
                        "searching '{}'... frame {} (Esc stops)",
                        run.text, run.at_frame
                    ),
                    theme.header,
                )),
                (None, Some(s)) => spans.push(Span::styled(s.clone(), theme.header)),
                (None, None) => spans.push(Span::styled(
                    "Tab pane  / filter  ^F find  : command  ] [ same SA  } { MOBIKE  ? help  q quit",
                    theme.dim,
                )),
            }
            Line::from(spans)
        }
    };
    frame.render_widget(Paragraph::new(line), area);
}

fn draw_body(frame: &mut Frame, b: &mut Browser, theme: &Theme, area: Rect) {
    if b.zoom {
        draw_pane(frame, b, theme, b.focus, area);
        return;
    }
    let wide = area.width >= 100;
    let timeline_focused = b.focus == Pane::Timeline;
    let right = if wide {
        // the focused lanes get more room: each path is a column
        let left_width = if timeline_focused && b.lanes_view {
            (area.width * 45 / 100).max(32)
        } else {
            32
        };
        let [left, right] =
            Layout::horizontal([Constraint::Length(left_width), Constraint::Min(10)]).areas(area);
        let [sas, timeline] =
            Layout::vertical([Constraint::Percentage(40), Constraint::Percentage(60)]).areas(left);
        draw_pane(frame, b, theme, Pane::Sas, sas);
        draw_pane(frame, b, theme, Pane::Timeline, timeline);
        right
    } else {
        area
    };
    let [list, tree, bytes] = Layout::vertical([
        Constraint::Percentage(40),
        Constraint::Percentage(32),
        Constraint::Percentage(28),
    ])
    .areas(right);
    // narrow: the focused timeline takes the list's and the tree's place
    if !wide && timeline_focused {
        draw_pane(frame, b, theme, Pane::Timeline, list.union(tree));
        draw_pane(frame, b, theme, Pane::Bytes, bytes);
        return;
    }
    // narrow: the SA list and the timeline take the message list's place when focused
    let top = match b.focus {
        Pane::Sas | Pane::Timeline if !wide => b.focus,
        _ => Pane::Messages,
    };
    draw_pane(frame, b, theme, top, list);
    draw_pane(frame, b, theme, Pane::Tree, tree);
    draw_pane(frame, b, theme, Pane::Bytes, bytes);
}

fn block<'a>(b: &Browser, theme: &Theme, pane: Pane, title: String) -> Block<'a> {
    let number = match pane {
        Pane::Sas => 1,
        Pane::Messages => 2,
        Pane::Tree => 3,
        Pane::Bytes => 4,
        Pane::Timeline => 5,
    };
    chrome::pane_block(theme, number, &title, b.focus == pane)
}

fn draw_pane(frame: &mut Frame, b: &mut Browser, theme: &Theme, pane: Pane, area: Rect) {
    match pane {
        Pane::Sas => draw_sas(frame, b, theme, area),
        Pane::Messages => draw_messages(frame, b, theme, area),
        Pane::Tree => draw_tree(frame, b, theme, area),
        Pane::Bytes => draw_bytes(frame, b, theme, area),
        Pane::Timeline => draw_timeline(frame, b, theme, area),
    }
}

/// The first row to show so that `selected` is on screen.
pub fn window(selected: usize, rows: usize) -> usize {
    if rows == 0 {
        return 0;
    }
    (selected + 1).saturating_sub(rows)
}

fn row_style(b: &Browser, theme: &Theme, pane: Pane, selected: bool) -> Style {
    chrome::row_style(theme, selected, b.focus == pane)
}

fn draw_sas(frame: &mut Frame, b: &Browser, theme: &Theme, area: Rect) {
    let blk = block(b, theme, Pane::Sas, "IKE SAs".into());
    let inner = blk.inner(area);
    let rows = inner.height as usize;
    let mut lines = Vec::new();
    let all = format!("all SAs ({} messages)", b.index.messages.len());
    let start = window(b.sa_selected, rows);
    for row in start..(b.index.sas.len() + 1).min(start + rows) {
        let text = if row == 0 {
            all.clone()
        } else {
            match b.index.sas.get(row - 1) {
                Some(sa) => {
                    let (i, r) = (sa.spi_i, sa.spi_r);
                    let mobike = if sa.mobike { " MOBIKE" } else { "" };
                    let moves = sa.moves;
                    format!(
                        "#{} {:08x}../{:08x}..{mobike}{}",
                        row - 1,
                        i >> 32,
                        r >> 32,
                        if moves > 0 {
                            format!(" {moves} moves")
                        } else {
                            String::new()
                        }
                    )
                }
                None => continue,
            }
        };
        let style = row_style(b, theme, Pane::Sas, row == b.sa_selected);
        lines.push(Line::styled(text, style));
    }
    frame.render_widget(Paragraph::new(lines).block(blk), area);
}

/// The message's time as the time format says.
pub fn time_text(b: &Browser, m: &MessageEntry, previous: Option<&MessageEntry>) -> String {
    let first = b.index.messages.first().map_or(0, |f| f.time_us);
    match b.time_format {
        TimeFormat::SinceStart => format!("{:.6}", (m.time_us - first) as f64 / 1e6),
        TimeFormat::Delta => format!(
            "{:.6}",
            (m.time_us - previous.map_or(m.time_us, |p| p.time_us)) as f64 / 1e6
        ),
        TimeFormat::Absolute => {
            let s = rfc3339_micros(m.time_us);
            s.split('T')
                .nth(1)
                .unwrap_or(&s)
                .trim_end_matches('Z')
                .to_string()
        }
    }
}

fn relation(theme: &Theme, m: &MessageEntry) -> &'static str {
    if m.copy > 0 {
        theme.glyphs.retransmit
    } else if m.is_response() {
        theme.glyphs.response
    } else {
        theme.glyphs.request
    }
}

/// Exchange names short enough for the list (the tree says them in full).
pub fn exchange_short(m: &MessageEntry) -> String {
    match m.exchange {
        34 => "INIT".into(),
        35 => "AUTH".into(),
        36 => "CHILD".into(),
        37 => "INFO".into(),
        _ => m.exchange_name(),
    }
}

fn draw_messages(frame: &mut Frame, b: &mut Browser, theme: &Theme, area: Rect) {
    let title = match b.sa_selected {
        0 => "Messages".to_string(),
        n => format!("Messages of SA #{}", n - 1),
    };
    let blk = block(b, theme, Pane::Messages, title);
    let inner = blk.inner(area);
    let rows = (inner.height as usize).saturating_sub(1);
    if b.focus == Pane::Messages {
        b.page = rows.max(1);
    }
    let start = window(b.selected, rows);
    let on_screen: Vec<&MessageEntry> = (start..b.shown.len().min(start + rows))
        .filter_map(|row| b.shown.get(row))
        .filter_map(|&i| b.index.messages.get(i as usize))
        .collect();
    let path = |m: &MessageEntry| format!("{} {} {}", m.src(), theme.glyphs.arrow, m.dst());
    // as wide as the widest path on screen, so the info column gets the rest
    let path_width = on_screen
        .iter()
        .map(|m| path(m).chars().count())
        .max()
        .unwrap_or(20)
        .clamp(20, 50);
    let many_sas = b.index.sas.len() > 1;
    let tw = match b.time_format {
        TimeFormat::Absolute => 15,
        _ => 9,
    };
    let sa_header = if many_sas { "SA  " } else { "" };
    let mut lines = vec![Line::styled(
        format!(
            "{:>5} {:>tw$} {sa_header}{:<path_width$} {:<7} {:>3}   Info",
            "No.", "Time", "Source -> Destination", "Exch", "MID"
        ),
        theme.header,
    )];
    for (k, m) in on_screen.iter().enumerate() {
        let row = start + k;
        let previous = row
            .checked_sub(1)
            .and_then(|r| b.shown.get(r))
            .and_then(|&i| b.index.messages.get(i as usize));
        let sa = if many_sas {
            format!("{:<4}", m.sa.map_or("-".to_string(), |s| format!("#{s}")))
        } else {
            String::new()
        };
        let mut info = String::new();
        if m.copy > 0 {
            info.push_str(&format!("[retransmission {}] ", m.copy));
        }
        if m.integrity == Some(IntegrityStatus::Bad) {
            info.push_str("[integrity FAILED] ");
        }
        info.push_str(m.summary());
        let text = format!(
            "{:>5} {:>tw$} {sa}{:<path_width$} {:<7} {:>3} {} {}",
            m.frame,
            shorten(&time_text(b, m, previous), tw),
            shorten(&path(m), path_width),
            exchange_short(m),
            m.message_id,
            relation(theme, m),
            info
        );
        let mut style = if m.malformed().is_some() || m.integrity == Some(IntegrityStatus::Bad) {
            theme.error
        } else if is_mobike(m) {
            theme.mobike
        } else {
            Style::new()
        };
        if row == b.selected {
            style = style.patch(row_style(b, theme, Pane::Messages, true));
        }
        lines.push(Line::styled(text, style));
    }
    if b.shown.is_empty() {
        let why = if b.filter.is_some() {
            "no message matches the filter"
        } else if b.index.progress.done {
            "no IKE messages in the capture"
        } else {
            "loading..."
        };
        lines.push(Line::styled(why, theme.dim));
    }
    frame.render_widget(Paragraph::new(lines).block(blk), area);
}

fn draw_tree(frame: &mut Frame, b: &mut Browser, theme: &Theme, area: Rect) {
    let title = match b.selected_message() {
        Some((_, m)) => format!(
            "Message, frame {} {} mid {}{}",
            m.frame,
            m.exchange_name(),
            m.message_id,
            match m.partner.and_then(|p| b.index.messages.get(p as usize)) {
                Some(p) if m.is_response() => format!(
                    " [request in {}, {:.1} ms]",
                    p.frame,
                    (m.time_us - p.time_us) as f64 / 1e3
                ),
                Some(p) => format!(" [response in {}]", p.frame),
                None if !m.is_response() => " [no response]".to_string(),
                None => String::new(),
            }
        ),
        None => "Message".into(),
    };
    let blk = block(b, theme, Pane::Tree, title);
    let inner = blk.inner(area);
    let rows = inner.height as usize;
    if b.focus == Pane::Tree {
        b.page = rows.max(1);
    }
    let lines = b.tree.rows(rows, theme, b.focus == Pane::Tree);
    frame.render_widget(Paragraph::new(lines).block(blk), area);
}

fn draw_bytes(frame: &mut Frame, b: &mut Browser, theme: &Theme, area: Rect) {
    let range: Option<ByteRange> = b.tree.selected_bytes();
    let Some((_, m)) = b.selected_message() else {
        let blk = block(b, theme, Pane::Bytes, "Bytes".into());
        frame.render_widget(Paragraph::new("").block(blk), area);
        return;
    };
    let decrypted = range.filter(|r| r.decrypted).and(b.index.decrypted(m));
    let (bytes, title) = match decrypted {
        Some((plain, _)) => (plain, "Bytes (decrypted SK content)".to_string()),
        None => (b.index.raw(m), format!("Bytes ({})", b.index.raw(m).len())),
    };
    let blk = block(b, theme, Pane::Bytes, title);
    let inner = blk.inner(area);
    let rows = inner.height as usize;
    let per_line = if inner.width >= 75 { 16 } else { 8 };
    let total_rows = bytes.len().div_ceil(per_line);
    // the highlighted range on screen unless the operator scrolled
    let mut first = b.bytes_scroll.min(total_rows.saturating_sub(1));
    if let (Some(r), 0) = (range, b.bytes_scroll) {
        let row = r.start / per_line;
        if row >= rows {
            first = row.saturating_sub(1);
        }
    }
    let (hl_start, hl_end) = range.map_or((0, 0), |r| (r.start, r.end));
    let mut lines = Vec::new();
    for row in first..total_rows.min(first + rows) {
        let off = row * per_line;
        let chunk = bytes
            .get(off..(off + per_line).min(bytes.len()))
            .unwrap_or(&[]);
        lines.push(super::chrome::hex_row(
            off,
            chunk,
            per_line,
            hl_start..hl_end,
            theme,
        ));
    }
    frame.render_widget(Paragraph::new(lines).block(blk), area);
}

fn draw_timeline(frame: &mut Frame, b: &mut Browser, theme: &Theme, area: Rect) {
    if b.lanes_view {
        let title = match b.lanes.sa {
            Some(sa) => format!("MOBIKE lanes of SA #{sa}"),
            None => "MOBIKE lanes".into(),
        };
        let blk = block(b, theme, Pane::Timeline, title);
        super::lanes_view::draw(frame, b, theme, area, blk);
        return;
    }
    let blk = block(b, theme, Pane::Timeline, "MOBIKE timeline".into());
    let inner = blk.inner(area);
    let rows = inner.height as usize;
    let events = b.timeline_rows();
    let first = b.index.messages.first().map_or(0, |f| f.time_us);
    let start = window(b.timeline_selected, rows);
    let mut lines = Vec::new();
    for (row, &i) in events.iter().enumerate().skip(start).take(rows) {
        let Some(e) = b.index.timeline.get(i) else {
            continue;
        };
        let text = format!(
            "{:>9.3} #{} {}",
            (e.time_us - first) as f64 / 1e6,
            e.sa,
            b.index.timeline_text(e)
        );
        lines.push(Line::styled(
            text,
            row_style(b, theme, Pane::Timeline, row == b.timeline_selected),
        ));
    }
    if events.is_empty() {
        lines.push(Line::styled("no MOBIKE events", theme.dim));
    }
    frame.render_widget(Paragraph::new(lines).block(blk), area);
}
