//! Drawing the MOBIKE lanes ([`super::lanes`]): a legend naming each lane's path (`*` on
//! the SA's path at the selected row), a header of lane letters, then one row per message
//! or event: time, the lanes (the current path's line heavier than the others'), the row's
//! mark in its lane, a move's arrow from the old lane, and a short text.
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use super::browser::{shorten, Browser, Pane};
use super::browser_view::{exchange_short, window};
use super::capture_index::EventTag;
use super::chrome;
use super::lanes::{lane_name, LaneItem, LaneRow, Lanes, Mark};
use super::theme::Theme;

/// Width of the time column and its space.
const TIME: usize = 9;

/// Draws the lanes of `b.lanes` in `area`.
pub fn draw(frame: &mut Frame, b: &mut Browser, theme: &Theme, area: Rect, blk: Block<'_>) {
    let inner = blk.inner(area);
    let (width, height) = (inner.width as usize, inner.height as usize);
    let focused = b.focus == Pane::Timeline;
    let lanes = &b.lanes;
    if lanes.rows.is_empty() {
        let why = if lanes.sa.is_none() {
            "no IKE SA"
        } else {
            "no messages of this SA"
        };
        frame.render_widget(
            Paragraph::new(Line::styled(why, theme.dim)).block(blk),
            area,
        );
        return;
    }
    // lanes that do not fit share the last column, named '+'
    let fit = (width.saturating_sub(TIME + 6) / 2).max(1);
    let columns = lanes.paths.len().clamp(1, fit);
    let current = lanes
        .rows
        .get(b.timeline_selected)
        .map(|r| r.current as usize);
    let mut lines = legend(lanes, theme, current, columns, height / 3);
    let mut header = format!("{:>8} ", "time");
    for c in 0..columns {
        let name = if c + 1 == columns && lanes.paths.len() > columns {
            '+'
        } else {
            lane_name(c)
        };
        header.push(name);
        header.push(' ');
    }
    lines.push(Line::styled(header, theme.header));
    let rows = height.saturating_sub(lines.len());
    if focused {
        b.page = rows.max(1);
    }
    let first_time = b.index.messages.first().map_or(0, |m| m.time_us);
    let start = window(b.timeline_selected, rows);
    for (i, row) in lanes.rows.iter().enumerate().skip(start).take(rows) {
        let selected = i == b.timeline_selected;
        let mut spans = vec![Span::raw(format!(
            "{:>8.3} ",
            row.time_us.saturating_sub(first_time) as f64 / 1e6
        ))];
        spans.extend(cells(lanes, i, row, columns, theme));
        spans.push(Span::raw(row_text(b, row)));
        let mut line = Line::from(spans);
        if selected {
            line = line.patch_style(chrome::row_style(theme, true, focused));
        }
        lines.push(line);
    }
    frame.render_widget(Paragraph::new(lines).block(blk), area);
}

/// One line per lane (at most `max` lines, the last saying how many more): its letter,
/// `*` on the current path, the path.
fn legend<'a>(
    lanes: &Lanes,
    theme: &Theme,
    current: Option<usize>,
    columns: usize,
    max: usize,
) -> Vec<Line<'a>> {
    let max = max.max(1);
    let mut lines = Vec::new();
    for (i, p) in lanes.paths.iter().enumerate() {
        if lines.len() + 1 == max && lanes.paths.len() > i + 1 {
            lines.push(Line::styled(
                format!("+ {} more paths (\\ zooms)", lanes.paths.len() - i),
                theme.dim,
            ));
            break;
        }
        let name = if i >= columns { '+' } else { lane_name(i) };
        let mark = if current == Some(i) { '*' } else { ' ' };
        let text = format!("{name}{mark} {} - {}", p.initiator, p.responder);
        let style = if current == Some(i) {
            theme.header
        } else {
            Style::new()
        };
        lines.push(Line::styled(text, style));
    }
    lines
}

/// The column of a lane (lanes past the last column share it).
fn column(lane: u16, columns: usize) -> usize {
    (lane as usize).min(columns.saturating_sub(1))
}

/// The lane cells of row `i`: each lane's line, the mark, a move's arrow.
fn cells<'a>(
    lanes: &Lanes,
    i: usize,
    row: &LaneRow,
    columns: usize,
    theme: &Theme,
) -> Vec<Span<'a>> {
    let g = &theme.glyphs.lanes;
    let here = column(row.lane, columns);
    let current = column(row.current, columns);
    // a move's arrow covers the cells from the old lane up to the new one
    let arrow = row.from.map(|f| {
        let from = column(f, columns);
        (from.min(here), from.max(here), from < here)
    });
    let mut spans = Vec::new();
    for c in 0..columns {
        let on_arrow = arrow.is_some_and(|(lo, hi, _)| c >= lo && c <= hi);
        let (cell, style) = if c == here {
            mark_glyph(row, arrow.map(|(_, _, right)| right), theme)
        } else if on_arrow {
            (g.move_line, theme.mobike)
        } else if lanes.paths.get(c).is_some_and(|p| p.first_row <= i) {
            if c == current {
                (g.current, theme.header)
            } else {
                (g.other, theme.dim)
            }
        } else {
            (" ", Style::new())
        };
        spans.push(Span::styled(cell, style));
        let gap_on_arrow = arrow.is_some_and(|(lo, hi, _)| c >= lo && c < hi);
        spans.push(if gap_on_arrow {
            Span::styled(g.move_line, theme.mobike)
        } else {
            Span::raw(" ")
        });
    }
    spans
}

/// The row's mark and its style; `rightwards`: a move's direction.
fn mark_glyph(row: &LaneRow, rightwards: Option<bool>, theme: &Theme) -> (&'static str, Style) {
    let g = &theme.glyphs.lanes;
    match row.mark {
        Mark::Request => (g.request, Style::new()),
        Mark::Response => (g.response, Style::new()),
        Mark::Retransmission => (g.retransmit, theme.error),
        Mark::Probe => (g.probe, theme.mobike),
        Mark::ProbeAnswered => (g.answered, theme.ok),
        Mark::ProbeUnanswered => (g.unanswered, theme.error),
        Mark::Move if rightwards == Some(false) => (g.move_left, theme.mobike),
        Mark::Move => (g.move_right, theme.mobike),
        Mark::Nat => (g.nat, theme.mobike),
        Mark::NewPath => (g.new_path, Style::new()),
        Mark::Problem => (g.problem, theme.error),
        Mark::Note => (g.note, theme.dim),
    }
}

/// What a row says, short: lanes are named by letter.
fn row_text(b: &Browser, row: &LaneRow) -> String {
    let moved = |to: u16| match row.from {
        Some(f) => format!(
            "moved {}->{}",
            lane_name(f as usize),
            lane_name(to as usize)
        ),
        None => String::new(),
    };
    match row.item {
        LaneItem::Message(i) => {
            let Some(m) = b.index.messages.get(i as usize) else {
                return String::new();
            };
            let what = match row.mark {
                Mark::Probe => "probe ",
                Mark::ProbeAnswered => "answer ",
                _ => "",
            };
            let copy = if m.copy > 0 {
                format!("[copy {}] ", m.copy)
            } else {
                String::new()
            };
            let setup = match row.from {
                Some(_) => format!("{} (setup) ", moved(row.lane)),
                None => String::new(),
            };
            format!(
                "{setup}{what}{} {} {copy}{}",
                exchange_short(m),
                m.message_id,
                m.summary()
            )
        }
        LaneItem::Event(k) => {
            let Some(e) = b.index.timeline.get(k as usize) else {
                return String::new();
            };
            let text = b.index.timeline_text(e);
            let text = text.as_str();
            let lane = lane_name(row.lane as usize);
            match e.kind {
                EventTag::Move if row.from.is_some() => {
                    format!("{} UPDATE_SA_ADDRESSES", moved(row.lane))
                }
                EventTag::Move => "UPDATE_SA_ADDRESSES, path kept".into(),
                EventTag::NatNone => "NAT: none".into(),
                EventTag::NatMaybe => "NAT: none shown (hash mismatch on an IKE port)".into(),
                EventTag::NatShown => {
                    format!("NAT: {}", text.rsplit_once(" -> ").map_or(text, |(_, v)| v))
                }
                EventTag::ProbeAnswered => format!("probe answered on {lane}"),
                EventTag::ProbeUnanswered => "probe unanswered".into(),
                EventTag::NewPath => format!("new path {lane}"),
                _ => shorten(text, 200),
            }
        }
    }
}
