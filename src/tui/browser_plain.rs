//! Without a terminal (stdout not a TTY, or `--plain`): one line per message, then the
//! analysis' events and the diagnostics, for pipes and screen readers.
use std::io::{self, Write};

use super::capture_index::CaptureIndex;
use super::display_filter::DisplayFilter;
use super::BrowserOptions;

/// One line per message (and the analysis' events), for pipes and screen readers.
pub fn print(options: BrowserOptions) -> Result<i32, String> {
    let index = CaptureIndex::load(options.load);
    let filter = match &options.filter {
        Some(f) => DisplayFilter::parse(f).map_err(|e| format!("filter: {e}"))?,
        None => None,
    };
    let out = io::stdout();
    let mut out = out.lock();
    let mut write = || -> io::Result<()> {
        for m in index.messages.iter() {
            if filter.as_ref().is_some_and(|f| !f.matches(m)) {
                continue;
            }
            let sa = m.sa.map_or("-".to_string(), |s| format!("#{s}"));
            let role = if m.is_response() {
                "response"
            } else {
                "request"
            };
            let copy = if m.copy > 0 {
                format!(" [retransmission {}]", m.copy)
            } else {
                String::new()
            };
            writeln!(
                out,
                "frame {} SA {sa} {} -> {} {} mid={} {role}{copy} {}",
                m.frame,
                m.src(),
                m.dst(),
                m.exchange_name(),
                m.message_id,
                m.summary()
            )?;
        }
        for e in &index.timeline {
            writeln!(
                out,
                "frame {}: SA #{}: {}",
                e.frame,
                e.sa,
                index.timeline_text(e)
            )?;
        }
        for d in &index.diagnostics {
            writeln!(out, "{d}")?;
        }
        Ok(())
    };
    match write() {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
        Err(e) => return Err(format!("writing output: {e}")),
    }
    match index.error {
        Some(e) => Err(e),
        None => Ok(0),
    }
}
