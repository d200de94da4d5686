//! Drawing the live UI: SAs (as `swanctl --list-sas` shows them), addresses, the path
//! matrix, the event log (follow mode), moves and the ping's counters.
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use super::browser::shorten;
use super::chrome;
use super::keymap::Ui;
use super::live::{LiveApp, LiveMode, LivePane};
use super::live_model::{text, texts};
use super::theme::Theme;

/// Narrower than this, the SA and address panes (and the events and moves) take turns
/// in one column, so that an 80-column terminal shows whole SA lines.
const NARROW: u16 = 100;

/// Draws the whole screen.
pub fn draw(frame: &mut Frame, app: &mut LiveApp, theme: &Theme) {
    let Some([top, body, bottom]) = chrome::screen_rows(frame) else {
        return;
    };
    draw_header(frame, app, theme, top);
    if app.zoom {
        draw_pane(frame, app, theme, app.focus, body);
    } else {
        let [upper, paths, lower] = Layout::vertical([
            Constraint::Percentage(38),
            Constraint::Percentage(26),
            Constraint::Percentage(36),
        ])
        .areas(body);
        draw_pane(frame, app, theme, LivePane::Paths, paths);
        if body.width < NARROW {
            // one column: the focused pane of each row (2 and 5 are one key away)
            let up = match app.focus {
                LivePane::Addresses => LivePane::Addresses,
                _ => LivePane::Sas,
            };
            let down = match app.focus {
                LivePane::Moves => LivePane::Moves,
                _ => LivePane::Events,
            };
            draw_pane(frame, app, theme, up, upper);
            draw_pane(frame, app, theme, down, lower);
        } else {
            let [sas, addrs] =
                Layout::horizontal([Constraint::Percentage(62), Constraint::Percentage(38)])
                    .areas(upper);
            let [events, moves] =
                Layout::horizontal([Constraint::Percentage(62), Constraint::Percentage(38)])
                    .areas(lower);
            draw_pane(frame, app, theme, LivePane::Sas, sas);
            draw_pane(frame, app, theme, LivePane::Addresses, addrs);
            draw_pane(frame, app, theme, LivePane::Events, events);
            draw_pane(frame, app, theme, LivePane::Moves, moves);
        }
    }
    draw_bottom(frame, app, theme, bottom);
    if app.mode == LiveMode::Message {
        draw_message(frame, app, theme, body);
    }
    if let LiveMode::Help(scroll) = app.mode {
        let footer = ["The : line also takes every peer command (help lists them): addr del 127.0.0.2, responder: probe, ..."];
        chrome::draw_help(frame, &app.keymap, Ui::Live, theme, body, scroll, &footer);
    }
    if app.mode == LiveMode::Command {
        chrome::draw_choices(frame, body, &app.command_line.choices, theme);
    }
}

fn draw_header(frame: &mut Frame, app: &LiveApp, theme: &Theme, area: Rect) {
    let nodes: Vec<&str> = app.model.nodes.iter().map(|n| n.name.as_str()).collect();
    let sas = app.sa_rows().len();
    let mut spans = vec![
        Span::styled("mobikectl LIVE ", theme.header),
        Span::raw(format!(
            "{}  {}  {sas} IKE SAs",
            app.title,
            nodes.join(" + ")
        )),
        Span::styled(
            if app.follow { "  FOLLOW" } else { "  PAUSED" },
            theme.header,
        ),
    ];
    if let Some(e) = &app.model.ended {
        spans.push(Span::styled(format!("  ended: {e}"), theme.error));
    }
    spans.push(Span::styled("  ? help", theme.dim));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_bottom(frame: &mut Frame, app: &LiveApp, theme: &Theme, area: Rect) {
    let line = match &app.mode {
        LiveMode::Command => {
            frame.set_cursor_position((
                area.x
                    .saturating_add(1)
                    .saturating_add(u16::try_from(app.command_line.cursor).unwrap_or(u16::MAX)),
                area.y,
            ));
            Line::raw(format!(":{}", app.command_line.text))
        }
        LiveMode::Filter => Line::raw(format!("/{}", app.filter_line.text)),
        LiveMode::Confirm(c) => Line::styled(c.prompt.clone(), theme.error),
        LiveMode::Message if app.status.is_none() => Line::styled(
            "Up/Down move, bytes follow  Right/Left fields  y copy  Esc back",
            theme.dim,
        ),
        _ => match &app.status {
            Some(s) => Line::styled(s.clone(), theme.header),
            None => Line::styled(
                "a addr away/back  p probe  u update  m move  x drop path  n NAT rebind  P ping  R rekey  D delete  : command  ? help  q quit",
                theme.dim,
            ),
        },
    };
    frame.render_widget(Paragraph::new(line), area);
}

fn block<'a>(app: &LiveApp, theme: &Theme, pane: LivePane, title: String) -> Block<'a> {
    let number = match pane {
        LivePane::Sas => 1,
        LivePane::Addresses => 2,
        LivePane::Paths => 3,
        LivePane::Events => 4,
        LivePane::Moves => 5,
    };
    chrome::pane_block(theme, number, &title, app.focus == pane)
}

fn selected_style(app: &LiveApp, theme: &Theme, pane: LivePane, selected: bool) -> Style {
    chrome::row_style(theme, selected, app.focus == pane)
}

fn draw_pane(frame: &mut Frame, app: &mut LiveApp, theme: &Theme, pane: LivePane, area: Rect) {
    match pane {
        LivePane::Sas => draw_sas(frame, app, theme, area),
        LivePane::Addresses => draw_addresses(frame, app, theme, area),
        LivePane::Paths => draw_paths(frame, app, theme, area),
        LivePane::Events => draw_events(frame, app, theme, area),
        LivePane::Moves => draw_moves(frame, app, theme, area),
    }
}

fn draw_sas(frame: &mut Frame, app: &mut LiveApp, theme: &Theme, area: Rect) {
    let blk = block(app, theme, LivePane::Sas, "IKE SAs".into());
    super::live_sas::draw_sas(frame, app, theme, blk, area);
}

fn draw_addresses(frame: &mut Frame, app: &mut LiveApp, theme: &Theme, area: Rect) {
    let node_name = app
        .selected_node()
        .map(|n| n.name.clone())
        .unwrap_or_default();
    let blk = block(
        app,
        theme,
        LivePane::Addresses,
        format!("Addresses ({node_name})"),
    );
    let mut lines = vec![Line::styled(
        format!("{:<24} {}", "ours", "peer's (announced)"),
        theme.header,
    )];
    let ours = app.address_rows();
    let (current_local, current_remote, theirs, changed) = match app.selected_sa() {
        Some((node, sa)) => (
            super::live_model::ip_of(&text(sa, "local")),
            super::live_model::ip_of(&text(sa, "remote")),
            texts(sa, "remote_addrs"),
            node.addresses_changed,
        ),
        None => (String::new(), String::new(), Vec::new(), None),
    };
    let n = ours.len().max(theirs.len());
    for i in 0..n {
        let left = match ours.get(i) {
            Some((a, up)) => {
                let state = if !up {
                    "removed"
                } else if *a == current_local {
                    "current"
                } else {
                    ""
                };
                format!("{a} {state}")
            }
            None => String::new(),
        };
        let right = match theirs.get(i) {
            Some(a) => {
                let a = super::live_model::ip_of(a);
                let state = if a == current_remote { "current" } else { "" };
                format!("{a} {state}")
            }
            None => String::new(),
        };
        let selected = i == app.addr_selected && i < ours.len();
        let style = if ours.get(i).is_some_and(|(_, up)| !up) {
            theme.error
        } else {
            Style::new()
        };
        lines.push(Line::from(vec![
            Span::styled(
                format!("{left:<24}"),
                style.patch(selected_style(app, theme, LivePane::Addresses, selected)),
            ),
            Span::raw(format!(" {right}")),
        ]));
    }
    if let Some(t) = changed {
        let ago = app.model.now.saturating_since(t);
        lines.push(Line::styled(
            format!("address sets changed {:.1}s ago", ago.as_secs_f64()),
            theme.dim,
        ));
    }
    frame.render_widget(Paragraph::new(lines).block(blk), area);
}

fn draw_paths(frame: &mut Frame, app: &mut LiveApp, theme: &Theme, area: Rect) {
    let title = match app.selected_sa() {
        Some((n, sa)) => format!("Paths of {} {}: local x remote", n.name, text(sa, "sa")),
        None => "Paths".into(),
    };
    let blk = block(app, theme, LivePane::Paths, title);
    let inner = blk.inner(area);
    // narrow: tighter columns and no "since", so that the history still shows
    let (aw, sw, since_w) = if inner.width < NARROW {
        (15, 18, 0)
    } else {
        (22, 22, 9)
    };
    let cols = |l: &str, r: &str, s: &str, rtt: &str, since: &str| {
        let since = if since_w == 0 {
            String::new()
        } else {
            format!(" {since:>8}")
        };
        format!(
            "{:<aw$} {:<aw$} {:<sw$} {rtt:>9}{since}  ",
            shorten(l, aw),
            shorten(r, aw),
            shorten(s, sw)
        )
    };
    let mut lines = vec![Line::styled(
        format!(
            "  {}history",
            cols("local", "remote", "state", "rtt", "since")
        ),
        theme.header,
    )];
    let rows = app.path_rows();
    // one scale for the whole matrix, so that a slower path has taller bars
    let top = rows
        .iter()
        .filter_map(|p| p.test.as_ref())
        .flat_map(|t| t.history.iter().flatten())
        .fold(0.0f64, |a, &b| a.max(b));
    let fit = (inner.height as usize).saturating_sub(1).max(1);
    let start = (app.path_selected + 1).saturating_sub(fit);
    for (i, p) in rows.iter().enumerate().skip(start).take(fit) {
        let current = if p.current { "* " } else { "  " };
        let mut state = p.state.to_uppercase();
        if p.current {
            state.push_str(" (current)");
        }
        if p.dropped {
            state.push_str(" dropped");
        }
        let rtt = p
            .test
            .as_ref()
            .and_then(|t| t.rtt_ms)
            .map_or("-".to_string(), |r| format!("{r:.2}ms"));
        let since = p.test.as_ref().map_or("-".to_string(), |t| {
            format!("{:.1}s", app.model.now.saturating_since(t.at).as_secs_f64())
        });
        let style = match p.state.as_str() {
            "ok" => theme.ok,
            "failed" | "address down" => theme.error,
            _ => Style::new(),
        };
        let selected = i == app.path_selected.min(rows.len().saturating_sub(1));
        let row = style.patch(selected_style(app, theme, LivePane::Paths, selected));
        let mut spans = vec![Span::styled(
            format!(
                "{current}{}",
                cols(&p.local, &p.remote, &state, &rtt, &since)
            ),
            row,
        )];
        if let Some(t) = &p.test {
            spans.extend(sparkline(&t.history, top, theme, row));
        }
        lines.push(Line::from(spans));
    }
    if rows.is_empty() {
        lines.push(Line::styled("no SA selected", theme.dim));
    }
    frame.render_widget(Paragraph::new(lines).block(blk), area);
}

/// The RTTs of the last tests as a sparkline, bars scaled to `top` (the matrix' slowest
/// answer); `x` for a test that failed, in the error style as well, so that it reads
/// without colour.
pub fn sparkline<'a>(
    history: &std::collections::VecDeque<Option<f64>>,
    top: f64,
    theme: &Theme,
    row: Style,
) -> Vec<Span<'a>> {
    let levels = theme.glyphs.spark;
    let last = levels.len().saturating_sub(1);
    history
        .iter()
        .map(|h| match h {
            Some(rtt) => {
                let share = if top > 0.0 && rtt.is_finite() {
                    (rtt / top).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                let level = ((share * last as f64).round() as usize).min(last);
                Span::styled(levels.get(level).copied().unwrap_or("o"), row)
            }
            None => Span::styled("x", row.patch(theme.error)),
        })
        .collect()
}

fn draw_events(frame: &mut Frame, app: &mut LiveApp, theme: &Theme, area: Rect) {
    let title = match &app.log_filter {
        Some(f) => format!("Events matching '{f}'"),
        None => "Events".into(),
    };
    let blk = block(app, theme, LivePane::Events, title);
    let inner = blk.inner(area);
    let fit = inner.height as usize;
    if app.focus == LivePane::Events {
        app.page = fit.max(1);
    }
    let rows = app.log_rows();
    let end = rows.len().saturating_sub(app.log_back);
    let start = end.saturating_sub(fit);
    let first = app.model.log.front().map(|l| l.at);
    let chosen = app.selected_log();
    let mut lines = Vec::new();
    for &i in rows.get(start..end).unwrap_or(&[]) {
        let Some(l) = app.model.log.get(i) else {
            continue;
        };
        let t = first.map_or(0.0, |f| l.at.saturating_since(f).as_secs_f64());
        let style = match l.name.as_str() {
            "moved" | "path" | "addresses" | "nat" | "rr_check" => theme.mobike,
            "error" | "timeout" | "ike_down" | "esp_error" => theme.error,
            _ => Style::new(),
        };
        // the selected line (Enter decodes it) shows only while the pane has the focus
        let selected = app.focus == LivePane::Events && chosen == Some(i);
        let style = style.patch(selected_style(app, theme, LivePane::Events, selected));
        lines.push(Line::styled(format!("{t:>8.3} {}", l.text), style));
    }
    if app.model.dropped > 0 {
        lines.insert(
            0,
            Line::styled(
                format!("({} older lines dropped)", app.model.dropped),
                theme.dim,
            ),
        );
    }
    frame.render_widget(Paragraph::new(lines).block(blk), area);
}

fn draw_moves(frame: &mut Frame, app: &mut LiveApp, theme: &Theme, area: Rect) {
    let blk = block(app, theme, LivePane::Moves, "Moves and ping".into());
    let inner = blk.inner(area);
    let mut lines = Vec::new();
    for node in &app.model.nodes {
        if let Some(p) = &node.ping {
            lines.push(Line::styled(
                format!(
                    "{} ping {} {}: {}/{} replies, lost {}, rtt {} ms, longest gap {} ms",
                    node.name,
                    text(p, "dst"),
                    text(p, "state"),
                    text(p, "received"),
                    text(p, "sent"),
                    text(p, "lost"),
                    text(p, "rtt_avg_ms"),
                    text(p, "longest_gap_ms"),
                ),
                theme.header,
            ));
        }
    }
    let mut moves: Vec<(String, &super::live_model::MoveRow)> = app
        .model
        .nodes
        .iter()
        .flat_map(|n| n.moves.iter().map(move |m| (n.name.clone(), m)))
        .collect();
    moves.sort_by_key(|(_, m)| m.at);
    let fit = (inner.height as usize).saturating_sub(lines.len());
    let first = app.model.log.front().map(|l| l.at);
    for (node, m) in moves.iter().rev().take(fit).rev() {
        let t = first.map_or(0.0, |f| m.at.saturating_since(f).as_secs_f64());
        let took = m.elapsed_ms.map_or(String::new(), |e| format!(" {e:.1}ms"));
        lines.push(Line::styled(
            format!("{t:>8.3} {node} {} {}{took} to {}", m.sa, m.cause, m.to),
            theme.mobike,
        ));
    }
    if lines.is_empty() {
        lines.push(Line::styled("no move yet", theme.dim));
    }
    frame.render_widget(Paragraph::new(lines).block(blk), area);
}

/// The selected exchange: its payload tree above, its bytes below (the selected node's
/// highlighted; inner payloads in the decrypted SK content).
fn draw_message(frame: &mut Frame, app: &mut LiveApp, theme: &Theme, area: Rect) {
    frame.render_widget(ratatui::widgets::Clear, area);
    let Some(view) = &app.message else {
        let what = app
            .decoding
            .as_ref()
            .map(|d| &d.target)
            .or(app.wanted.as_ref())
            .map_or(String::new(), |t| t.describe());
        let blk = chrome::pane_block(theme, 4, &format!("Message: {what}"), true);
        let text = Line::styled("decoding the capture... (Esc: back)", theme.dim);
        frame.render_widget(Paragraph::new(text).block(blk), area);
        return;
    };
    let [tree_area, bytes_area] =
        Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(area);
    let blk = chrome::pane_block(theme, 4, &format!("Message: {}", view.title), true);
    let rows = usize::from(blk.inner(tree_area).height);
    app.page = rows.max(1);
    let lines = view.tree.rows(rows, theme, true);
    frame.render_widget(Paragraph::new(lines).block(blk), tree_area);
    let (bytes, range, decrypted) = view.shown_bytes();
    let title = if decrypted {
        format!("Bytes (decrypted SK content, {})", bytes.len())
    } else {
        format!("Bytes ({})", bytes.len())
    };
    let blk = chrome::pane_block(theme, 4, &title, false);
    let inner = blk.inner(bytes_area);
    let lines = hex_lines(bytes, range, inner, theme);
    frame.render_widget(Paragraph::new(lines).block(blk), bytes_area);
}

/// A hex dump that fits `area`, `range` highlighted and on screen.
fn hex_lines<'a>(
    bytes: &[u8],
    range: Option<(usize, usize)>,
    area: Rect,
    theme: &Theme,
) -> Vec<Line<'a>> {
    let per_line = if area.width >= 75 { 16 } else { 8 };
    let rows = usize::from(area.height).max(1);
    let total = bytes.len().div_ceil(per_line);
    let (hl_start, hl_end) = range.unwrap_or((0, 0));
    let first = (hl_start / per_line)
        .saturating_sub(1)
        .min(total.saturating_sub(rows));
    let mut lines = Vec::new();
    for row in first..total.min(first + rows) {
        let off = row * per_line;
        let chunk = bytes
            .get(off..(off + per_line).min(bytes.len()))
            .unwrap_or(&[]);
        lines.push(chrome::hex_row(
            off,
            chunk,
            per_line,
            hl_start..hl_end,
            theme,
        ));
    }
    lines
}
