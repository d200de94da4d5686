//! Drill reports: a text timeline with a summary table (comfy-table), or one JSON
//! document.

use comfy_table::{presets::ASCII_MARKDOWN, Table};
use serde_json::{json, Value};

use super::parse::SyntaxError;
use super::run::{format_duration, DrillOutcome, StepRecord, Verdict};

/// `+12.345s`.
fn offset(s: &StepRecord) -> String {
    format!("+{:.3}s", s.at.as_secs_f64())
}

fn where_(s: &StepRecord) -> String {
    if s.iteration.is_empty() {
        s.line.to_string()
    } else {
        format!("{} [{}]", s.line, s.iteration)
    }
}

fn event_line(outcome: &DrillOutcome, e: &super::TimedEvent) -> String {
    let at = e.at.saturating_since(outcome.started);
    format!(
        "{:>10}      . {}\n",
        format!("+{:.3}s", at.as_secs_f64()),
        e.describe()
    )
}

/// The timeline: one line per step; with `events`, every event of the target too (a
/// `.` line, before the step that was running when it came).
pub fn timeline_text(outcome: &DrillOutcome, events: bool) -> String {
    let mut out = String::new();
    let mut next_event = 0;
    for s in &outcome.steps {
        while events && next_event < outcome.events.len() {
            let e = &outcome.events[next_event];
            if e.at.saturating_since(outcome.started) > s.at {
                break;
            }
            out.push_str(&event_line(outcome, e));
            next_event += 1;
        }
        let loc = if s.iteration.is_empty() {
            format!("{:>4}", s.line)
        } else {
            format!("{:>4} [{}]", s.line, s.iteration)
        };
        out.push_str(&format!(
            "{:>10} {loc} {:<6} {}",
            offset(s),
            s.verdict.name(),
            s.statement
        ));
        if !s.detail.is_empty() {
            out.push_str(&format!("  => {}", s.detail));
        }
        out.push('\n');
    }
    if events {
        for e in &outcome.events[next_event..] {
            out.push_str(&event_line(outcome, e));
        }
    }
    out
}

/// The summary table: every expectation (wait, expect, measure, shell) and failed
/// command with its result.
pub fn summary_table(outcome: &DrillOutcome) -> String {
    let mut table = Table::new();
    table.load_preset(ASCII_MARKDOWN);
    table.set_header(vec!["line", "statement", "result", "value / seen"]);
    for s in &outcome.steps {
        if s.verdict == Verdict::Done {
            continue;
        }
        let value = match s.measured {
            Some(d) => format_duration(d),
            None => shorten(&s.detail, 100),
        };
        table.add_row(vec![
            where_(s),
            s.statement.clone(),
            s.verdict.name().into(),
            value,
        ]);
    }
    table.to_string()
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max).collect();
    format!("{cut}...")
}

/// The whole text report: timeline (with every event when `events`), table,
/// measurements and the verdict.
pub fn text_report(outcome: &DrillOutcome, events: bool) -> String {
    let mut out = format!("drill {}\n", outcome.file);
    out.push_str(&timeline_text(outcome, events));
    out.push('\n');
    out.push_str(&summary_table(outcome));
    out.push('\n');
    for m in &outcome.measurements {
        let it = if m.iteration.is_empty() {
            String::new()
        } else {
            format!(" [{}]", m.iteration)
        };
        out.push_str(&format!(
            "measure {}{it} (line {}): {}\n",
            m.name,
            m.line,
            format_duration(m.value)
        ));
    }
    if let Some(why) = &outcome.stopped {
        out.push_str(&format!("stopped: {why}\n"));
    }
    let failed: Vec<String> = outcome
        .failures()
        .map(|s| format!("{}:{}", outcome.file, s.line))
        .collect();
    if failed.is_empty() {
        out.push_str("result: every expectation held\n");
    } else {
        out.push_str(&format!("result: FAILED at {}\n", failed.join(", ")));
    }
    out
}

fn millis(d: std::time::Duration) -> Value {
    Value::from((d.as_secs_f64() * 1_000_000.0).round() / 1000.0)
}

/// The JSON report; with `events`, every event too (`at_ms`, `node`, `event` and its
/// fields).
pub fn json_report(outcome: &DrillOutcome, events: bool) -> Value {
    let steps: Vec<Value> = outcome
        .steps
        .iter()
        .map(|s| {
            json!({"at_ms": millis(s.at), "line": s.line, "iteration": s.iteration,
                "statement": s.statement, "result": s.verdict.name().to_ascii_lowercase(),
                "detail": s.detail, "measured_ms": s.measured.map(millis)})
        })
        .collect();
    let measurements: Vec<Value> = outcome
        .measurements
        .iter()
        .map(|m| json!({"name": m.name, "line": m.line, "iteration": m.iteration, "ms": millis(m.value)}))
        .collect();
    let failures: Vec<Value> = outcome
        .failures()
        .map(|s| json!({"line": s.line, "iteration": s.iteration, "statement": s.statement, "seen": s.detail}))
        .collect();
    let mut report = json!({"file": outcome.file, "exit_code": outcome.exit_code(),
        "steps": steps, "measurements": measurements, "failures": failures,
        "stopped": outcome.stopped, "event_count": outcome.events.len()});
    if events {
        let list: Vec<Value> = outcome
            .events
            .iter()
            .map(|e| {
                let mut m = serde_json::Map::new();
                m.insert(
                    "at_ms".into(),
                    millis(e.at.saturating_since(outcome.started)),
                );
                m.insert("node".into(), Value::from(e.node.clone()));
                m.insert("event".into(), Value::from(e.name.clone()));
                m.extend(e.fields.clone());
                Value::Object(m)
            })
            .collect();
        report["events"] = Value::from(list);
    }
    report
}

/// The text report's line about the picture written with `--svg`.
pub fn svg_note(path: &str) -> String {
    format!("picture: {path} (SVG)\n")
}

/// Syntax errors, one per line (`file:line:column: message`).
pub fn syntax_errors_text(errors: &[SyntaxError]) -> String {
    errors.iter().map(|e| format!("{e}\n")).collect()
}

/// Syntax or configuration errors as the JSON report (exit code 2, nothing ran).
pub fn json_errors(file: &str, errors: &[String]) -> Value {
    json!({"file": file, "exit_code": 2, "errors": errors, "steps": []})
}
