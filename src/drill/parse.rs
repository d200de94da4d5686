//! The drill file parser: text in, a typed [`Drill`] out, or every syntax error with its
//! file, line and column. Peer commands are checked with the command table's
//! [`parse_command`], so a drill never holds a command the peer would refuse to parse.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::cli::command::{parse_command, PeerCommand};
use crate::cli::peer::event_kind::awaitable_event_names;

/// `wait` without `within` gives up after this long.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(30);

/// Most iterations of one `repeat`.
pub const MAX_REPEAT: u32 = 10_000;

/// Longest duration a drill may name.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

/// A parsed drill.
#[derive(Debug, Clone, PartialEq)]
pub struct Drill {
    /// The file name, for messages.
    pub file: String,
    /// The statements, in order.
    pub statements: Vec<Statement>,
}

/// One statement with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// 1-based line number.
    pub line: usize,
    /// The line as written, trimmed.
    pub text: String,
    /// `NODE:` prefix: the node it acts on or listens to.
    pub node: Option<String>,
    /// What it does.
    pub kind: StatementKind,
}

/// A peer command of a drill, with its text as written: a peer process is sent that
/// text, so what it runs is what the drill says (node prefix and comment left out).
#[derive(Debug, Clone, PartialEq)]
pub struct DrillCommand {
    pub command: PeerCommand,
    pub text: String,
}

/// What a statement does.
#[derive(Debug, Clone, PartialEq)]
pub enum StatementKind {
    /// A peer command of the command table.
    Command(DrillCommand),
    /// `wait EVENT [FIELD=VALUE ...] [within DURATION]`.
    Wait {
        /// The event to wait for.
        event: EventPattern,
        /// How long at most.
        within: Duration,
    },
    /// `expect ...`.
    Expect(Expectation),
    /// `sleep DURATION`.
    Sleep(Duration),
    /// `mark NAME`.
    Mark(String),
    /// `measure NAME from MARK to EVENT [FIELD=VALUE ...]`.
    Measure {
        /// The measurement's name.
        name: String,
        /// The mark it starts at.
        from: String,
        /// The event it ends at.
        to: EventPattern,
    },
    /// `measure NAME outage [from MARK]`: the data plane's longest interval without an
    /// echo reply, from the `ping` events since the mark (or since the start).
    MeasureOutage {
        /// The measurement's name.
        name: String,
        /// The mark the events are looked at from.
        from: Option<String>,
    },
    /// `shell CMD`.
    Shell(String),
    /// `repeat N { ... }`.
    Repeat {
        /// Iterations.
        count: u32,
        /// The statements repeated.
        body: Vec<Statement>,
    },
}

/// An event name and conditions on its fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventPattern {
    /// Event name (`moved`).
    pub name: String,
    /// Every one must hold.
    pub fields: Vec<FieldMatch>,
}

/// `FIELD=VALUE`: `FIELD` is a dotted path into the event's JSON object (`new.local`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldMatch {
    /// The path's keys.
    pub path: Vec<String>,
    /// The value, as written.
    pub value: String,
}

/// What `expect` checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expectation {
    /// `expect EVENT ...`: such an event was seen since the last command.
    Event(EventPattern),
    /// `expect no EVENT ...`: no such event since the last command.
    NoEvent(EventPattern),
    /// `expect sa established|none`.
    Sa(SaCondition),
    /// `expect path LOCAL REMOTE`: an established IKE SA is on this path.
    Path {
        /// Our end.
        local: Endpoint,
        /// The peer's end.
        remote: Endpoint,
    },
}

/// The state `expect sa` checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaCondition {
    /// At least one IKE SA is established.
    Established,
    /// No IKE SA is established.
    None,
}

/// An address, with or without a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// Any port.
    Ip(IpAddr),
    /// This port.
    Socket(SocketAddr),
}

impl Endpoint {
    /// Does `addr` match?
    pub fn matches(&self, addr: SocketAddr) -> bool {
        match self {
            Endpoint::Ip(ip) => addr.ip() == *ip,
            Endpoint::Socket(s) => addr == *s,
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Ip(ip) => write!(f, "{ip}"),
            Endpoint::Socket(s) => write!(f, "{s}"),
        }
    }
}

/// A syntax error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// The file name.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (characters).
    pub column: usize,
    /// What was wrong or expected.
    pub message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// A word of a line and its 1-based column.
#[derive(Debug, Clone, Copy)]
struct Word<'a> {
    text: &'a str,
    column: usize,
    /// Byte offset in the line.
    offset: usize,
}

/// The words of a line up to a comment (a word starting with `#` that is not an SA
/// handle such as `#2`).
fn words(line: &str) -> Vec<Word<'_>> {
    let word = |s: usize, e: usize| Word {
        text: &line[s..e],
        column: line[..s].chars().count() + 1,
        offset: s,
    };
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    for (i, c) in line.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push(word(s, i));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(word(s, line.len()));
    }
    let comment = out.iter().position(|w| {
        w.text.starts_with('#') && !w.text[1..].starts_with(|c: char| c.is_ascii_digit())
    });
    if let Some(c) = comment {
        out.truncate(c);
    }
    out
}

/// An error at a word, before the file name is known.
#[derive(Debug)]
struct LineError {
    column: usize,
    message: String,
}

fn err_at<T>(w: &Word<'_>, message: impl Into<String>) -> Result<T, LineError> {
    Err(LineError {
        column: w.column,
        message: message.into(),
    })
}

/// `10ms`, `1.5s`, `2m`, `1h`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("'{text}' is not a duration (like 10ms, 1.5s, 2m)");
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let scale = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err(bad()),
    };
    let digits_ok = !number.is_empty()
        && !number.starts_with('.')
        && !number.ends_with('.')
        && number.matches('.').count() <= 1;
    if !digits_ok {
        return Err(bad());
    }
    let value: f64 = number.parse().map_err(|_| bad())?;
    let seconds = value * scale;
    if !seconds.is_finite() || seconds > MAX_DURATION.as_secs_f64() {
        return Err(format!(
            "'{text}' is longer than {} h",
            MAX_DURATION.as_secs() / 3600
        ));
    }
    Ok(Duration::from_secs_f64(seconds))
}

fn duration_word(w: &Word<'_>) -> Result<Duration, LineError> {
    parse_duration(w.text).or_else(|m| err_at(w, m))
}

fn is_name(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn name_word(w: Option<&Word<'_>>, what: &str, after: &Word<'_>) -> Result<String, LineError> {
    match w {
        Some(w) if is_name(w.text) => Ok(w.text.to_string()),
        Some(w) => err_at(
            w,
            format!(
                "expected {what} (letters, digits, _ or -), found '{}'",
                w.text
            ),
        ),
        None => err_at(after, format!("expected {what} after '{}'", after.text)),
    }
}

fn event_name(w: Option<&Word<'_>>, after: &Word<'_>) -> Result<String, LineError> {
    let Some(w) = w else {
        return err_at(
            after,
            format!("expected an event name after '{}'", after.text),
        );
    };
    let name = w.text.to_ascii_lowercase();
    if awaitable_event_names().any(|n| n == name) {
        Ok(name)
    } else {
        err_at(
            w,
            format!(
                "expected an event name, found '{}'; events: {}",
                w.text,
                awaitable_event_names().collect::<Vec<_>>().join(", ")
            ),
        )
    }
}

fn field_match(w: &Word<'_>) -> Result<FieldMatch, LineError> {
    let Some((field, value)) = w.text.split_once('=') else {
        return err_at(w, format!("expected FIELD=VALUE, found '{}'", w.text));
    };
    let path: Vec<String> = field.split('.').map(str::to_string).collect();
    if path.iter().any(|k| !is_name(k)) {
        return err_at(w, format!("'{field}' is not a field name (like new.local)"));
    }
    if value.is_empty() {
        return err_at(w, format!("'{field}=' needs a value"));
    }
    Ok(FieldMatch {
        path,
        value: value.to_string(),
    })
}

/// `EVENT [FIELD=VALUE ...]` from `ws[0]`; `after` is the keyword before it.
fn event_pattern(ws: &[Word<'_>], after: &Word<'_>) -> Result<EventPattern, LineError> {
    let name = event_name(ws.first(), after)?;
    let fields = ws
        .iter()
        .skip(1)
        .map(field_match)
        .collect::<Result<_, _>>()?;
    Ok(EventPattern { name, fields })
}

fn parse_wait(ws: &[Word<'_>]) -> Result<StatementKind, LineError> {
    let (pattern_words, within) = match ws
        .iter()
        .position(|w| w.text.eq_ignore_ascii_case("within"))
    {
        Some(i) => {
            let kw = &ws[i];
            let duration = match ws.get(i + 1) {
                Some(d) => duration_word(d)?,
                None => return err_at(kw, "expected a duration after 'within' (like 5s)"),
            };
            if let Some(extra) = ws.get(i + 2) {
                return err_at(
                    extra,
                    "expected the end of the line after 'within DURATION'",
                );
            }
            (&ws[1..i], duration)
        }
        None => (&ws[1..], DEFAULT_WAIT),
    };
    Ok(StatementKind::Wait {
        event: event_pattern(pattern_words, &ws[0])?,
        within,
    })
}

fn endpoint(w: Option<&Word<'_>>, after: &Word<'_>, what: &str) -> Result<Endpoint, LineError> {
    let Some(w) = w else {
        return err_at(
            after,
            format!("expected {what} (an address, with or without port)"),
        );
    };
    if let Ok(s) = w.text.parse::<SocketAddr>() {
        return Ok(Endpoint::Socket(s));
    }
    match w.text.parse::<IpAddr>() {
        Ok(ip) => Ok(Endpoint::Ip(ip)),
        Err(_) => err_at(w, format!("expected {what}, found '{}'", w.text)),
    }
}

fn no_more(ws: &[Word<'_>], n: usize) -> Result<(), LineError> {
    match ws.get(n) {
        Some(w) => err_at(
            w,
            format!("expected the end of the line, found '{}'", w.text),
        ),
        None => Ok(()),
    }
}

fn parse_expect(ws: &[Word<'_>]) -> Result<StatementKind, LineError> {
    let kw = &ws[0];
    let Some(first) = ws.get(1) else {
        return err_at(
            kw,
            "expected what to expect: an event, 'no EVENT', 'sa established|none' or 'path LOCAL REMOTE'",
        );
    };
    let is_state_path = first.text.eq_ignore_ascii_case("path")
        && ws.len() > 2
        && ws[2..].iter().all(|w| !w.text.contains('='));
    let expectation = match first.text.to_ascii_lowercase().as_str() {
        "sa" => {
            let cond = match ws.get(2).map(|w| w.text.to_ascii_lowercase()).as_deref() {
                Some("established") => SaCondition::Established,
                Some("none") => SaCondition::None,
                Some(_) => {
                    return err_at(&ws[2], "expected 'established' or 'none' after 'expect sa'")
                }
                None => return err_at(first, "expected 'established' or 'none' after 'sa'"),
            };
            no_more(ws, 3)?;
            Expectation::Sa(cond)
        }
        "path" if is_state_path => {
            let local = endpoint(ws.get(2), first, "our address LOCAL")?;
            let remote = endpoint(ws.get(3), &ws[2], "the peer's address REMOTE")?;
            no_more(ws, 4)?;
            Expectation::Path { local, remote }
        }
        "no" => Expectation::NoEvent(event_pattern(&ws[2..], first)?),
        _ => Expectation::Event(event_pattern(&ws[1..], kw)?),
    };
    Ok(StatementKind::Expect(expectation))
}

fn parse_measure(ws: &[Word<'_>], marks: &[String]) -> Result<StatementKind, LineError> {
    let name = name_word(ws.get(1), "a measurement name", &ws[0])?;
    let keyword = |i: usize, kw: &str| -> Result<(), LineError> {
        match ws.get(i) {
            Some(w) if w.text.eq_ignore_ascii_case(kw) => Ok(()),
            Some(w) => err_at(w, format!("expected '{kw}', found '{}'", w.text)),
            None => err_at(
                &ws[i - 1],
                format!("expected '{kw}' after '{}'", ws[i - 1].text),
            ),
        }
    };
    if ws
        .get(2)
        .is_some_and(|w| w.text.eq_ignore_ascii_case("outage"))
    {
        return parse_measure_outage(ws, name, marks);
    }
    keyword(2, "from")?;
    let from = name_word(ws.get(3), "a mark name", &ws[2])?;
    if !marks.contains(&from) {
        return err_at(&ws[3], format!("no 'mark {from}' before this line"));
    }
    keyword(4, "to")?;
    let to = event_pattern(&ws[5..], &ws[4])?;
    Ok(StatementKind::Measure { name, from, to })
}

/// `measure NAME outage [from MARK]` (words 0..2 read already).
fn parse_measure_outage(
    ws: &[Word<'_>],
    name: String,
    marks: &[String],
) -> Result<StatementKind, LineError> {
    let from = match ws.get(3) {
        None => None,
        Some(w) if w.text.eq_ignore_ascii_case("from") => {
            let m = name_word(ws.get(4), "a mark name", w)?;
            if !marks.contains(&m) {
                return err_at(&ws[4], format!("no 'mark {m}' before this line"));
            }
            no_more(ws, 5)?;
            Some(m)
        }
        Some(w) => {
            return err_at(
                w,
                format!("expected 'from MARK' or the end, found '{}'", w.text),
            )
        }
    };
    Ok(StatementKind::MeasureOutage { name, from })
}

/// What a line opens or closes besides a statement.
enum LineOutcome {
    Statement(Option<String>, StatementKind),
    OpenRepeat(u32),
    Close,
    Empty,
}

fn parse_repeat(ws: &[Word<'_>]) -> Result<LineOutcome, LineError> {
    let kw = &ws[0];
    let count = match ws.get(1) {
        Some(w) => match w.text.parse::<u32>() {
            Ok(n) if n <= MAX_REPEAT => n,
            _ => {
                return err_at(
                    w,
                    format!("expected a count 0 to {MAX_REPEAT}, found '{}'", w.text),
                )
            }
        },
        None => return err_at(kw, "expected a count after 'repeat' (repeat N {)"),
    };
    match ws.get(2) {
        Some(w) if w.text == "{" => {}
        Some(w) => return err_at(w, format!("expected '{{', found '{}'", w.text)),
        None => return err_at(&ws[1], "expected '{' at the end of the line (repeat N {)"),
    }
    no_more(ws, 3)?;
    Ok(LineOutcome::OpenRepeat(count))
}

/// The node prefix `NAME:` and the words after it.
fn split_node<'a, 'b>(ws: &'b [Word<'a>]) -> (Option<String>, &'b [Word<'a>]) {
    match ws.first() {
        Some(w) if w.text.len() > 1 && w.text.ends_with(':') => {
            let name = &w.text[..w.text.len() - 1];
            if is_name(name) {
                return (Some(name.to_string()), &ws[1..]);
            }
            (None, ws)
        }
        _ => (None, ws),
    }
}

fn parse_line(line: &str, marks: &mut Vec<String>) -> Result<LineOutcome, LineError> {
    let all = words(line);
    let (node, ws) = split_node(&all);
    let Some(first) = ws.first() else {
        return match all.first() {
            Some(w) => err_at(w, format!("expected a statement after '{}'", w.text)),
            None => Ok(LineOutcome::Empty),
        };
    };
    let keyword = first.text.to_ascii_lowercase();
    let node_allowed = !matches!(
        keyword.as_str(),
        "sleep" | "mark" | "shell" | "repeat" | "}"
    );
    if node.is_some() && !node_allowed {
        return err_at(
            &all[0],
            format!("a node prefix goes only before a command, wait, expect or measure, not '{keyword}'"),
        );
    }
    let kind = match keyword.as_str() {
        "}" => {
            no_more(ws, 1)?;
            return Ok(LineOutcome::Close);
        }
        "repeat" => return parse_repeat(ws),
        "wait" => parse_wait(ws)?,
        "expect" => parse_expect(ws)?,
        "sleep" => match ws.get(1) {
            Some(w) => {
                no_more(ws, 2)?;
                StatementKind::Sleep(duration_word(w)?)
            }
            None => return err_at(first, "expected a duration after 'sleep' (like 1.5s)"),
        },
        "mark" => {
            let name = name_word(ws.get(1), "a mark name", first)?;
            no_more(ws, 2)?;
            marks.push(name.clone());
            StatementKind::Mark(name)
        }
        "measure" => parse_measure(ws, marks)?,
        "shell" => {
            let rest = ws.get(1).map(|w| line[w.offset..].trim()).unwrap_or("");
            if rest.is_empty() {
                return err_at(first, "expected a command line after 'shell'");
            }
            StatementKind::Shell(rest.to_string())
        }
        _ => {
            let text = &line[first.offset..];
            let end = ws
                .last()
                .map(|w| w.offset + w.text.len())
                .unwrap_or(line.len());
            let command_text = &line[first.offset..end.max(first.offset)];
            match parse_command(command_text) {
                Ok(Some(command)) => StatementKind::Command(DrillCommand {
                    command,
                    text: command_text.to_string(),
                }),
                Ok(None) => return err_at(first, format!("expected a statement, found '{text}'")),
                Err(e) => return err_at(first, e.0),
            }
        }
    };
    Ok(LineOutcome::Statement(node, kind))
}

/// An open `repeat` block.
struct OpenBlock {
    line: usize,
    column: usize,
    text: String,
    count: u32,
    body: Vec<Statement>,
}

/// Parse a drill; `file` names it in errors. Every error of the file is returned.
pub fn parse_drill(file: &str, source: &str) -> Result<Drill, Vec<SyntaxError>> {
    let mut errors = Vec::new();
    let mut marks = Vec::new();
    let mut top: Vec<Statement> = Vec::new();
    let mut open: Vec<OpenBlock> = Vec::new();
    let error = |line: usize, column: usize, message: String| SyntaxError {
        file: file.to_string(),
        line,
        column,
        message,
    };
    for (index, raw) in source.lines().enumerate() {
        let line_no = index + 1;
        let text = raw.trim().to_string();
        let outcome = match parse_line(raw, &mut marks) {
            Ok(o) => o,
            Err(e) => {
                errors.push(error(line_no, e.column, e.message));
                continue;
            }
        };
        let body = |open: &mut Vec<OpenBlock>, top: &mut Vec<Statement>, s: Statement| match open
            .last_mut()
        {
            Some(b) => b.body.push(s),
            None => top.push(s),
        };
        match outcome {
            LineOutcome::Empty => {}
            LineOutcome::Statement(node, kind) => {
                let s = Statement {
                    line: line_no,
                    text,
                    node,
                    kind,
                };
                body(&mut open, &mut top, s);
            }
            LineOutcome::OpenRepeat(count) => open.push(OpenBlock {
                line: line_no,
                column: raw.chars().take_while(|c| c.is_whitespace()).count() + 1,
                text,
                count,
                body: vec![],
            }),
            LineOutcome::Close => match open.pop() {
                Some(b) => {
                    let s = Statement {
                        line: b.line,
                        text: b.text,
                        node: None,
                        kind: StatementKind::Repeat {
                            count: b.count,
                            body: b.body,
                        },
                    };
                    body(&mut open, &mut top, s);
                }
                None => {
                    let column = raw.chars().take_while(|c| c.is_whitespace()).count() + 1;
                    errors.push(error(line_no, column, "'}' closes no 'repeat'".into()));
                }
            },
        }
    }
    for b in open.iter().rev() {
        errors.push(error(
            b.line,
            b.column,
            "expected '}' to close this 'repeat' before the end of the file".into(),
        ));
    }
    if errors.is_empty() {
        Ok(Drill {
            file: file.to_string(),
            statements: top,
        })
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::peer::event_kind::EventKind;

    /// A drill can wait for every event the peer or a lab prints during a drill; the
    /// others (`esp`, `help`, `ready`, `exit`) are refused.
    #[test]
    fn every_rendered_event_can_be_waited_for() {
        for k in EventKind::ALL {
            let parsed = parse_drill("events.drill", &format!("wait {}\n", k.name()));
            assert_eq!(parsed.is_ok(), k.awaitable(), "wait {}", k.name());
        }
    }
}
