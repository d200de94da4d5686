//! The live UI's SA pane: every IKE SA as `swanctl --list-sas` shows it (state, role,
//! SPIs with our side starred, path, NAT, MOBIKE, virtual IP, age, rekey, message IDs,
//! proposal) and its CHILD_SAs (SPIs, age, rekey, traffic selectors, ESP counters), all
//! read from the node's last `status` event.
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;
use serde_json::{Map, Value};

use super::live::{LiveApp, LivePane};
use super::live_model::{text, texts, NodeView};
use super::theme::Theme;

type Object = Map<String, Value>;

fn short_spi(s: &str) -> String {
    s.chars().take(8).collect()
}

fn yes(v: Option<&Value>) -> bool {
    v.and_then(Value::as_bool).unwrap_or(false)
}

/// Whole seconds of a `*_s` field (ages round down, as swanctl's do).
fn secs(m: &Object, key: &str) -> Option<i64> {
    m.get(key)
        .and_then(Value::as_f64)
        .filter(|s| s.is_finite())
        .map(|s| s.floor() as i64)
}

/// `established 12s ago, rekeying in 3594s, expires in 5s` (the parts the SA has).
pub fn ages(m: &Object, born: &str, born_key: &str) -> String {
    let mut parts = Vec::new();
    if let Some(a) = secs(m, born_key) {
        parts.push(format!("{born} {}s ago", a.max(0)));
    }
    if let Some(r) = secs(m, "rekey_in_s") {
        parts.push(format!("rekeying in {}s", r.max(0)));
    }
    if let Some(e) = secs(m, "expires_in_s") {
        parts.push(format!("expires in {}s", e.max(0)));
    }
    parts.join(", ")
}

/// `NAT: none`, `NAT: us`, `NAT: us+peer`.
fn nat(sa: &Object) -> String {
    match (yes(sa.get("nat_local")), yes(sa.get("nat_remote"))) {
        (false, false) => "none".to_string(),
        (l, r) => [(l, "us"), (r, "peer")]
            .iter()
            .filter(|(b, _)| *b)
            .map(|(_, w)| *w)
            .collect::<Vec<_>>()
            .join("+"),
    }
}

/// The first line: node, handle, state, role, SPIs (ours starred), connection.
fn head(node: &NodeView, sa: &Object, marker: &str) -> String {
    let initiator = sa.get("initiator").and_then(Value::as_bool);
    let (star_i, star_r, role) = match initiator {
        Some(true) => ("*", "", " initiator"),
        Some(false) => ("", "*", " responder"),
        None => ("", "", ""),
    };
    format!(
        "{marker}{} {} {}{role} {}_i{star_i} {}_r{star_r}  {}",
        node.name,
        text(sa, "sa"),
        text(sa, "state"),
        short_spi(&text(sa, "spi_i")),
        short_spi(&text(sa, "spi_r")),
        text(sa, "conn"),
    )
}

/// The path, NAT, MOBIKE and the virtual IP on the side it belongs to.
fn path_line(sa: &Object, arrow: &str) -> String {
    let mobike = if yes(sa.get("mobike")) {
        format!("MOBIKE {}", text(sa, "mobike_state"))
    } else {
        "MOBIKE off".into()
    };
    let vip = text(sa, "vip");
    let (vip_local, vip_remote) = match (vip.is_empty(), yes(sa.get("initiator"))) {
        (true, _) => (String::new(), String::new()),
        (false, true) => (format!(" [{vip}]"), String::new()),
        (false, false) => (String::new(), format!(" [{vip}]")),
    };
    format!(
        "   {}{vip_local} {arrow} {}{vip_remote}  NAT: {}  {mobike}",
        text(sa, "local"),
        text(sa, "remote"),
        nat(sa),
    )
}

/// Age, rekey and message IDs (our next request's, the one the peer's next request
/// must have): `established 12s ago, rekeying in 3594s  mid ours 3 peer 2`; on two
/// lines when one is narrower than `width`.
fn times_lines(sa: &Object, width: usize) -> Vec<String> {
    let waiting = match sa.get("outstanding_mid").and_then(Value::as_u64) {
        Some(m) => format!(" (awaiting {m})"),
        None => String::new(),
    };
    let mids = format!(
        "mid ours {}{waiting} peer {}",
        text(sa, "next_mid"),
        text(sa, "peer_mid")
    );
    let ages = ages(sa, "established", "established_s");
    let one = format!("   {ages}  {mids}");
    if ages.is_empty() {
        vec![format!("   {mids}")]
    } else if one.chars().count() <= width {
        vec![one]
    } else {
        vec![format!("   {ages}"), format!("   {mids}")]
    }
}

/// A CHILD_SA: SPIs and ages; then its selectors and ESP counters.
fn child_lines(c: &Object, arrow: &str) -> [String; 2] {
    let esp = c
        .get("esp")
        .and_then(Value::as_object)
        .map(|e| {
            format!(
                "  ESP {}/{} pkts out/in",
                text(e, "sent"),
                text(e, "received")
            )
        })
        .unwrap_or_default();
    let rekeyed = if yes(c.get("rekeyed")) {
        " REKEYED"
    } else {
        ""
    };
    let ages = ages(c, "installed", "installed_s");
    let first = format!(
        "   CHILD {}_i {}_o{rekeyed}  {ages}",
        text(c, "in"),
        text(c, "out")
    );
    let ts = c.get("ts").and_then(Value::as_object);
    let side = |k: &str| ts.map(|t| texts(t, k).join(",")).unwrap_or_default();
    let second = format!("     {} {arrow} {}{esp}", side("local"), side("remote"));
    [first, second]
}

/// Every line of one IKE SA.
fn sa_lines<'a>(
    app: &LiveApp,
    theme: &Theme,
    node: &NodeView,
    sa: &Object,
    (selected, width): (bool, usize),
) -> Vec<Line<'a>> {
    let marker = if selected {
        theme.glyphs.collapsed
    } else {
        " "
    };
    let arrow = theme.glyphs.arrow;
    let row = super::chrome::row_style(theme, selected, app.focus == LivePane::Sas);
    let mut lines = vec![
        Line::styled(head(node, sa, marker), row),
        Line::raw(path_line(sa, arrow)),
    ];
    lines.extend(times_lines(sa, width).into_iter().map(Line::raw));
    lines.push(Line::styled(
        format!("   {}", text(sa, "proposal")),
        theme.dim,
    ));
    let children = sa
        .get("children")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_object).collect::<Vec<_>>())
        .unwrap_or_default();
    if children.is_empty() {
        lines.push(Line::styled("   no CHILD_SA", theme.dim));
    }
    for c in children {
        let [first, second] = child_lines(c, "===");
        lines.push(Line::raw(first));
        lines.push(Line::styled(second, theme.dim));
    }
    if let Some(p) = node.ping.as_ref().filter(|p| text(p, "state") == "running") {
        lines.push(Line::styled(
            format!(
                "   ping {}: {}/{} replies, lost {}, rtt {} ms",
                text(p, "dst"),
                text(p, "received"),
                text(p, "sent"),
                text(p, "lost"),
                text(p, "rtt_avg_ms"),
            ),
            theme.dim,
        ));
    }
    lines
}

/// Draws the pane: the selected SA is always in view, whole when it fits.
pub fn draw_sas(frame: &mut Frame, app: &LiveApp, theme: &Theme, blk: Block, area: Rect) {
    let inner = blk.inner(area);
    let rows = app.sa_rows();
    let chosen = app.sa_selected.min(rows.len().saturating_sub(1));
    let groups: Vec<Vec<Line>> = rows
        .iter()
        .enumerate()
        .filter_map(|(i, &(n, s))| {
            let node = app.model.nodes.get(n)?;
            let sa = node.sas.get(s)?;
            let width = usize::from(inner.width);
            Some(sa_lines(app, theme, node, sa, (i == chosen, width)))
        })
        .collect();
    // scroll back from the selected SA while whole SAs fit above it
    let height = usize::from(inner.height);
    let mut start = chosen.min(groups.len().saturating_sub(1));
    let mut used = groups.get(start).map_or(0, Vec::len);
    while start > 0 && used + groups[start - 1].len() <= height {
        start -= 1;
        used += groups[start].len();
    }
    let mut lines: Vec<Line> = groups.into_iter().skip(start).flatten().collect();
    if rows.is_empty() {
        lines.push(Line::styled(
            "no IKE SA yet (U brings the connection up)",
            theme.dim,
        ));
    }
    frame.render_widget(Paragraph::new(lines).block(blk), area);
}
