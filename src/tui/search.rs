//! Finding a message by text (Ctrl-F, `n`, `N`), as Wireshark's "Find packet" and less do:
//! the next shown message, from the selection on and wrapping, whose list line or payload
//! tree text (decrypted content included) contains the text, ignoring case.
//!
//! Rendering a message's tree takes microseconds, so a search over a large capture runs
//! in slices of [`SLICE`] per turn of the event loop ([`SearchRun::advance`]) and the
//! screen says how far it got; keys stay answered meanwhile. The search walks message
//! indices, not rows, so the list growing while the capture loads does not upset it.
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use super::capture_index::{CaptureIndex, MessageEntry};

/// The search time per turn of the event loop (the key-press-to-redraw budget is 50 ms).
pub const SLICE: Duration = Duration::from_millis(15);

/// Where a search stands after a slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchStep {
    /// Found at this row of the shown messages; `wrapped`: past the end (or the start).
    Found { row: usize, wrapped: bool },
    /// Every shown message was tried.
    NotFound,
    /// More to try.
    Running,
}

/// A search under way.
#[derive(Debug, Clone)]
pub struct SearchRun {
    /// The text as typed.
    pub text: String,
    needle: String,
    pub forward: bool,
    /// The message selected when it started (tried last); -1: none.
    origin: i64,
    /// The next message index to try.
    next: i64,
    pub wrapped: bool,
    /// The frame last tried (for "searching... frame N").
    pub at_frame: u64,
    /// Messages tried.
    pub tried: usize,
    /// Reused for the rendered tree and the list line.
    tree: Vec<u8>,
    line: String,
}

impl SearchRun {
    /// A search for `text` from `selected` (a message index) on.
    pub fn new(text: &str, forward: bool, selected: Option<u32>) -> SearchRun {
        let origin = selected.map_or(-1, i64::from);
        SearchRun {
            text: text.to_string(),
            needle: text.to_lowercase(),
            forward,
            origin,
            next: if forward { origin + 1 } else { origin - 1 },
            wrapped: false,
            at_frame: 0,
            tried: 0,
            tree: Vec::new(),
            line: String::new(),
        }
    }

    /// Tries messages of `shown` (ascending message indices) for up to `budget`.
    pub fn advance(&mut self, index: &CaptureIndex, shown: &[u32], budget: Duration) -> SearchStep {
        let start = Instant::now();
        if self.needle.is_empty() || shown.is_empty() {
            return SearchStep::NotFound;
        }
        loop {
            let Some(row) = self.next_row(shown) else {
                return SearchStep::NotFound;
            };
            let Some(&i) = shown.get(row) else {
                return SearchStep::NotFound;
            };
            let Some(m) = index.messages.get(i as usize) else {
                return SearchStep::NotFound;
            };
            self.tried += 1;
            self.at_frame = m.frame;
            self.next = if self.forward {
                i64::from(i) + 1
            } else {
                i64::from(i) - 1
            };
            if self.matches(index, m) {
                return SearchStep::Found {
                    row,
                    wrapped: self.wrapped,
                };
            }
            if start.elapsed() >= budget {
                return SearchStep::Running;
            }
        }
    }

    /// The row of the next message to try, wrapping once; `None` when every one was tried.
    fn next_row(&mut self, shown: &[u32]) -> Option<usize> {
        let pos = |next: i64| shown.partition_point(|&i| i64::from(i) < next);
        if self.forward {
            let mut row = pos(self.next);
            if row == shown.len() {
                if self.wrapped {
                    return None;
                }
                self.wrapped = true;
                row = 0;
            }
            let i = i64::from(*shown.get(row)?);
            (!self.wrapped || i <= self.origin || self.origin < 0).then_some(row)
        } else {
            // the last shown message at or before `next`
            let mut end = if self.next < 0 { 0 } else { pos(self.next + 1) };
            if end == 0 {
                if self.wrapped {
                    return None;
                }
                self.wrapped = true;
                end = shown.len();
            }
            let row = end - 1;
            let i = i64::from(*shown.get(row)?);
            (!self.wrapped || i >= self.origin).then_some(row)
        }
    }

    /// Whether the list line or the tree text of `m` contains the needle.
    fn matches(&mut self, index: &CaptureIndex, m: &MessageEntry) -> bool {
        self.line.clear();
        list_text(m, &mut self.line);
        if contains_ignoring_case(self.line.as_bytes(), &self.needle) {
            return true;
        }
        index.tree_text(m, &mut self.tree);
        contains_ignoring_case(&self.tree, &self.needle)
    }
}

/// What the message list shows of `m` (without its padding, time and arrows).
pub fn list_text(m: &MessageEntry, out: &mut String) {
    let _ = write!(
        out,
        "{} {} -> {} {} {} {} ",
        m.frame,
        m.src(),
        m.dst(),
        super::browser_view::exchange_short(m),
        m.exchange_name(),
        m.message_id
    );
    if m.copy > 0 {
        let _ = write!(out, "[retransmission {}] ", m.copy);
    }
    if m.integrity == Some(crate::decrypt::IntegrityStatus::Bad) {
        out.push_str("[integrity FAILED] ");
    }
    out.push_str(m.summary());
}

/// Whether `hay` contains `needle` (already lowercase), ignoring case: ASCII without
/// allocating, anything else through lowercased text.
pub fn contains_ignoring_case(hay: &[u8], needle: &str) -> bool {
    let n = needle.as_bytes();
    if n.is_empty() {
        return true;
    }
    if !needle.is_ascii() {
        return String::from_utf8_lossy(hay).to_lowercase().contains(needle);
    }
    hay.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_is_ignored_for_ascii_and_beyond() {
        assert!(contains_ignoring_case(
            b"N(UPDATE_SA_ADDRESSES)",
            "update_sa"
        ));
        assert!(!contains_ignoring_case(b"N(COOKIE2)", "cookie3"));
        assert!(contains_ignoring_case("ÉTÉ".as_bytes(), "été"));
        assert!(contains_ignoring_case(b"", ""));
    }
}
