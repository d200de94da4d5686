//! Drawing the live UI: SAs (as `swanctl --list-sas` shows them), addresses, the path
//! matrix, the event log (follow mode), moves and the ping's counters.
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;
use serde_json::Value;

use super::browser::shorten;
use super::chrome;
use super::live::{LiveApp, LiveMode, LivePane};
use super::live_model::{text, texts};
use super::theme::Theme;

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
            Constraint::Percentage(34),
            Constraint::Percentage(28),
            Constraint::Percentage(38),
        ])
        .areas(body);
        let [sas, addrs] =
            Layout::horizontal([Constraint::Percentage(62), Constraint::Percentage(38)])
                .areas(upper);
        let [events, moves] =
            Layout::horizontal([Constraint::Percentage(62), Constraint::Percentage(38)])
                .areas(lower);
        draw_pane(frame, app, theme, LivePane::Sas, sas);
        draw_pane(frame, app, theme, LivePane::Addresses, addrs);
        draw_pane(frame, app, theme, LivePane::Paths, paths);
        draw_pane(frame, app, theme, LivePane::Events, events);
        draw_pane(frame, app, theme, LivePane::Moves, moves);
    }
    draw_bottom(frame, app, theme, bottom);
    if let LiveMode::Help(scroll) = app.mode {
        let footer = ["The : line also takes every peer command (help lists them): addr del 127.0.0.2, responder: probe, ..."];
        chrome::draw_help(frame, &app.keymap, theme, body, scroll, &footer);
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

fn short_spi(s: &str) -> String {
    s.chars().take(8).collect()
}

fn yes(v: Option<&Value>) -> bool {
    v.and_then(Value::as_bool).unwrap_or(false)
}

fn draw_sas(frame: &mut Frame, app: &mut LiveApp, theme: &Theme, area: Rect) {
    let blk = block(app, theme, LivePane::Sas, "IKE SAs".into());
    let inner = blk.inner(area);
    let rows = app.sa_rows();
    let mut lines: Vec<Line> = Vec::new();
    let per_sa = 3;
    let fit = (inner.height as usize / per_sa).max(1);
    let start = (app.sa_selected + 1).saturating_sub(fit);
    for (row, &(n, s)) in rows.iter().enumerate().skip(start).take(fit) {
        let Some(node) = app.model.nodes.get(n) else {
            continue;
        };
        let Some(sa) = node.sas.get(s) else {
            continue;
        };
        let selected = row == app.sa_selected.min(rows.len().saturating_sub(1));
        let marker = if selected {
            theme.glyphs.collapsed
        } else {
            " "
        };
        let nat = match (yes(sa.get("nat_local")), yes(sa.get("nat_remote"))) {
            (false, false) => "none".to_string(),
            (l, r) => [(l, "us"), (r, "peer")]
                .iter()
                .filter(|(b, _)| *b)
                .map(|(_, w)| *w)
                .collect::<Vec<_>>()
                .join("+"),
        };
        let mobike = if yes(sa.get("mobike")) {
            format!("MOBIKE {}", text(sa, "mobike_state"))
        } else {
            "MOBIKE off".into()
        };
        lines.push(Line::styled(
            format!(
                "{marker}{} {} {} {}_i {}_r  {}",
                node.name,
                text(sa, "sa"),
                text(sa, "state"),
                short_spi(&text(sa, "spi_i")),
                short_spi(&text(sa, "spi_r")),
                text(sa, "conn"),
            ),
            selected_style(app, theme, LivePane::Sas, selected),
        ));
        lines.push(Line::raw(format!(
            "   {} {} {}  NAT: {nat}  {mobike}",
            text(sa, "local"),
            theme.glyphs.arrow,
            text(sa, "remote")
        )));
        let children: Vec<String> = sa
            .get("children")
            .and_then(Value::as_array)
            .map(|c| {
                c.iter()
                    .filter_map(Value::as_object)
                    .map(|c| {
                        let esp = c
                            .get("esp")
                            .and_then(Value::as_object)
                            .map(|e| format!(" {}/{} pkts", text(e, "sent"), text(e, "received")))
                            .unwrap_or_default();
                        format!("ESP in {} out {}{esp}", text(c, "in"), text(c, "out"))
                    })
                    .collect()
            })
            .unwrap_or_default();
        lines.push(Line::styled(
            format!(
                "   {}  {}",
                text(sa, "proposal"),
                if children.is_empty() {
                    "no CHILD_SA".to_string()
                } else {
                    children.join("; ")
                }
            ),
            theme.dim,
        ));
    }
    if rows.is_empty() {
        lines.push(Line::styled(
            "no IKE SA yet (U brings the connection up)",
            theme.dim,
        ));
    }
    frame.render_widget(Paragraph::new(lines).block(blk), area);
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
    let mut lines = vec![Line::styled(
        format!(
            "  {:<22} {:<22} {:<22} {:>9} {:>8}  history",
            "local", "remote", "state", "rtt", "since"
        ),
        theme.header,
    )];
    let rows = app.path_rows();
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
        let history: String = p
            .test
            .as_ref()
            .map(|t| {
                t.history
                    .iter()
                    .map(|h| if h.is_some() { 'o' } else { 'x' })
                    .collect()
            })
            .unwrap_or_default();
        let style = match p.state.as_str() {
            "ok" => theme.ok,
            "failed" | "address down" => theme.error,
            _ => Style::new(),
        };
        let selected = i == app.path_selected.min(rows.len().saturating_sub(1));
        lines.push(Line::styled(
            format!(
                "{current}{:<22} {:<22} {:<22} {:>9} {:>8}  {history}",
                p.local,
                p.remote,
                shorten(&state, 22),
                rtt,
                since
            ),
            style.patch(selected_style(app, theme, LivePane::Paths, selected)),
        ));
    }
    if rows.is_empty() {
        lines.push(Line::styled("no SA selected", theme.dim));
    }
    frame.render_widget(Paragraph::new(lines).block(blk), area);
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
