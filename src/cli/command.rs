//! The peer's command language: one command per line (stdin of `mobikectl peer`; the TUI
//! and drill scripts reuse this parser).
//!
//! ```text
//! up [CONN]              initiate connection CONN (default: the first one)
//! down [SA]              delete IKE SA SA (default: every established IKE SA)
//! rekey ike|child [SA]   rekey the IKE SA / its first CHILD_SA (default SA: the newest)
//! dpd [SA]               send an empty INFORMATIONAL (liveness check)
//! status                 report every IKE SA
//! quit                   delete the IKE SAs, wait briefly for the answers, exit
//! ```
//!
//! `SA` is an engine handle as shown in events: `#3` or `3`. Words are separated by
//! blanks; keywords are case-insensitive; blank lines and lines starting with `#` are
//! ignored.

use std::fmt;

use crate::engine::SaId;

/// What to rekey.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RekeyTarget {
    /// The IKE SA.
    Ike,
    /// A CHILD_SA.
    Child,
}

/// A parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerCommand {
    /// `up [CONN]`.
    Up(Option<String>),
    /// `down [SA]`.
    Down(Option<SaId>),
    /// `rekey ike|child [SA]`.
    Rekey(RekeyTarget, Option<SaId>),
    /// `dpd [SA]`.
    Dpd(Option<SaId>),
    /// `status`.
    Status,
    /// `quit`.
    Quit,
}

/// Why a line is not a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseError {}

/// Usage summary, for error messages.
pub const USAGE: &str =
    "commands: up [CONN], down [SA], rekey ike|child [SA], dpd [SA], status, quit";

fn sa_ref(word: &str) -> Result<SaId, ParseError> {
    let digits = word.strip_prefix('#').unwrap_or(word);
    digits
        .parse::<u64>()
        .ok()
        .filter(|&n| n > 0)
        .map(SaId)
        .ok_or_else(|| ParseError(format!("'{word}' is not an IKE SA handle (like #1)")))
}

fn at_most(cmd: &str, args: &[&str], n: usize, usage: &str) -> Result<(), ParseError> {
    if args.len() > n {
        return Err(ParseError(format!(
            "too many arguments for '{cmd}' (usage: {usage})"
        )));
    }
    Ok(())
}

/// Parse one line; `Ok(None)` for blank lines and comments.
pub fn parse_command(line: &str) -> Result<Option<PeerCommand>, ParseError> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let words: Vec<&str> = line.split_whitespace().collect();
    let cmd = words[0].to_ascii_lowercase();
    let args = &words[1..];
    let opt_sa = |args: &[&str]| args.first().map(|w| sa_ref(w)).transpose();
    let c = match cmd.as_str() {
        "up" => {
            at_most("up", args, 1, "up [CONN]")?;
            PeerCommand::Up(args.first().map(|s| s.to_string()))
        }
        "down" => {
            at_most("down", args, 1, "down [SA]")?;
            PeerCommand::Down(opt_sa(args)?)
        }
        "dpd" => {
            at_most("dpd", args, 1, "dpd [SA]")?;
            PeerCommand::Dpd(opt_sa(args)?)
        }
        "rekey" => {
            at_most("rekey", args, 2, "rekey ike|child [SA]")?;
            let what = match args.first().map(|w| w.to_ascii_lowercase()).as_deref() {
                Some("ike") => RekeyTarget::Ike,
                Some("child") => RekeyTarget::Child,
                Some(w) => {
                    return Err(ParseError(format!(
                        "rekey what? '{w}' is neither 'ike' nor 'child'"
                    )))
                }
                None => return Err(ParseError("usage: rekey ike|child [SA]".into())),
            };
            PeerCommand::Rekey(what, opt_sa(&args[1..])?)
        }
        "status" => {
            at_most("status", args, 0, "status")?;
            PeerCommand::Status
        }
        "quit" | "exit" => {
            at_most("quit", args, 0, "quit")?;
            PeerCommand::Quit
        }
        other => {
            return Err(ParseError(format!("unknown command '{other}'; {USAGE}")));
        }
    };
    Ok(Some(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        use PeerCommand::*;
        assert_eq!(parse_command("up").unwrap(), Some(Up(None)));
        assert_eq!(
            parse_command(" up home ").unwrap(),
            Some(Up(Some("home".into())))
        );
        assert_eq!(parse_command("down").unwrap(), Some(Down(None)));
        assert_eq!(parse_command("DOWN #2").unwrap(), Some(Down(Some(SaId(2)))));
        assert_eq!(
            parse_command("rekey child 3").unwrap(),
            Some(Rekey(RekeyTarget::Child, Some(SaId(3))))
        );
        assert_eq!(
            parse_command("rekey ike").unwrap(),
            Some(Rekey(RekeyTarget::Ike, None))
        );
        assert_eq!(parse_command("dpd").unwrap(), Some(Dpd(None)));
        assert_eq!(parse_command("status").unwrap(), Some(Status));
        assert_eq!(parse_command("quit").unwrap(), Some(Quit));
        assert_eq!(parse_command("").unwrap(), None);
        assert_eq!(parse_command("# comment").unwrap(), None);
    }

    #[test]
    fn rejects() {
        for bad in [
            "fly",
            "up a b",
            "down x",
            "down #0",
            "rekey",
            "rekey esp",
            "rekey ike 1 2",
            "status now",
            "dpd -1",
        ] {
            let e = parse_command(bad).unwrap_err();
            assert!(!e.0.is_empty(), "{bad}");
        }
        assert!(parse_command("fly").unwrap_err().0.contains("up [CONN]"));
    }
}
