//! What the TUI's frame tests read from a ratatui TestBackend buffer: its text, and its
//! styles (which TestBackend's text form cannot show, ratatui#1402).
#![allow(dead_code)]

use ratatui::buffer::Buffer;
use ratatui::style::Modifier;

/// The screen's rows, trailing blanks trimmed.
pub fn text(buf: &Buffer) -> String {
    let w = usize::from(buf.area.width);
    buf.content
        .chunks(w)
        .map(|row| {
            let line: String = row.iter().map(|c| c.symbol()).collect();
            line.trim_end().to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs of equal style per row: `row: col..col fg bg modifiers`.
pub fn styles(buf: &Buffer) -> String {
    let w = usize::from(buf.area.width);
    let mut out = String::new();
    for (y, row) in buf.content.chunks(w).enumerate() {
        let mut x = 0;
        while x < row.len() {
            let key = (row[x].fg, row[x].bg, row[x].modifier);
            let start = x;
            while x < row.len() && (row[x].fg, row[x].bg, row[x].modifier) == key {
                x += 1;
            }
            if key != (Default::default(), Default::default(), Modifier::empty()) {
                out.push_str(&format!(
                    "{y:>2}: {start}..{x} {:?} {:?} {:?}\n",
                    key.0, key.1, key.2
                ));
            }
        }
    }
    out
}
