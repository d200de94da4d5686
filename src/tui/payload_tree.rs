//! A message's payload tree as both UIs show it: the `decode` lines with each payload's
//! fields under it, folded and unfolded by the operator. The browser's tree pane and the
//! live UI's message overlay hold one each, so they move and draw the same way.
use ratatui::text::Line;

use super::capture_index::{ByteRange, TreeLine};
use super::chrome;
use super::theme::Theme;

/// A payload tree and which of its nodes are unfolded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreeState {
    /// Which message (index in the capture index).
    pub message: Option<u32>,
    pub lines: Vec<TreeLine>,
    pub expanded: Vec<bool>,
    /// Selected line (index in `lines`).
    pub selected: usize,
}

impl TreeState {
    /// A fresh tree: the payloads shown with their fields folded, the SK's inner payloads
    /// shown; the first line selected.
    pub fn new(message: Option<u32>, lines: Vec<TreeLine>) -> TreeState {
        let expanded = lines
            .iter()
            .map(|l| l.depth == 0 || l.text.starts_with("SK") || l.text == "payloads:")
            .collect();
        TreeState {
            message,
            lines,
            expanded,
            selected: 0,
        }
    }

    fn has_children(&self, i: usize) -> bool {
        match (self.lines.get(i), self.lines.get(i + 1)) {
            (Some(a), Some(b)) => b.depth > a.depth,
            _ => false,
        }
    }

    /// The lines shown (ancestors expanded), as indices into `lines`.
    pub fn visible(&self) -> Vec<usize> {
        let mut out = Vec::new();
        let mut hide_below: Option<usize> = None;
        for (i, l) in self.lines.iter().enumerate() {
            if let Some(d) = hide_below {
                if l.depth > d {
                    continue;
                }
                hide_below = None;
            }
            out.push(i);
            if self.is_collapsed(i) {
                hide_below = Some(l.depth);
            }
        }
        out
    }

    /// Whether line `i` has children and they are hidden.
    pub fn is_collapsed(&self, i: usize) -> bool {
        self.has_children(i) && !self.expanded.get(i).copied().unwrap_or(false)
    }

    /// Whether line `i` has children and they are shown.
    pub fn is_expanded(&self, i: usize) -> bool {
        self.has_children(i) && self.expanded.get(i).copied().unwrap_or(false)
    }

    fn parent(&self, i: usize) -> Option<usize> {
        let depth = self.lines.get(i)?.depth;
        (0..i).rev().find(|&j| self.lines[j].depth < depth)
    }

    /// Moves the selection `n` shown lines down or up.
    pub fn step(&mut self, down: bool, n: usize) {
        let visible = self.visible();
        let at = visible
            .iter()
            .position(|&i| i == self.selected)
            .unwrap_or(0);
        let to = if down {
            (at + n).min(visible.len().saturating_sub(1))
        } else {
            at.saturating_sub(n)
        };
        if let Some(&i) = visible.get(to) {
            self.selected = i;
        }
    }

    /// Selects the first or the last shown line.
    pub fn select_end(&mut self, last: bool) {
        self.step(last, usize::MAX / 2);
    }

    /// Right: unfolds the selected node, or steps into it when it is unfolded.
    pub fn expand(&mut self) {
        let i = self.selected;
        if self.is_collapsed(i) {
            self.set_expanded(i, true);
        } else {
            self.step(true, 1);
        }
    }

    /// Left: folds the selected node, or goes to its parent.
    pub fn collapse(&mut self) {
        let i = self.selected;
        if self.is_expanded(i) {
            self.set_expanded(i, false);
        } else if let Some(p) = self.parent(i) {
            self.selected = p;
        }
    }

    /// Enter: folds or unfolds the selected node.
    pub fn toggle(&mut self) {
        let i = self.selected;
        let now = self.expanded.get(i).copied().unwrap_or(false);
        self.set_expanded(i, !now);
    }

    /// Unfolds every node, or folds them all (the header line selected).
    pub fn set_all(&mut self, expanded: bool) {
        self.expanded.iter_mut().for_each(|e| *e = expanded);
        if !expanded {
            self.selected = 0;
        }
    }

    fn set_expanded(&mut self, i: usize, to: bool) {
        if let Some(e) = self.expanded.get_mut(i) {
            *e = to;
        }
    }

    /// The selected line, and the bytes it covers.
    pub fn selected_line(&self) -> Option<&TreeLine> {
        self.lines.get(self.selected)
    }

    pub fn selected_bytes(&self) -> Option<ByteRange> {
        self.selected_line().and_then(|l| l.bytes)
    }

    /// What `y` copies: a field's value (`name: value`), or the whole line of a node.
    pub fn selected_value(&self) -> Option<String> {
        self.selected_line().map(|l| {
            l.text
                .split_once(": ")
                .map_or(l.text.as_str(), |(_, v)| v)
                .to_string()
        })
    }

    /// The shown lines that fit `rows`, the selection on screen: indented, with a fold
    /// marker on each node that has children.
    pub fn rows<'a>(&self, rows: usize, theme: &Theme, focused: bool) -> Vec<Line<'a>> {
        let visible = self.visible();
        let at = visible
            .iter()
            .position(|&i| i == self.selected)
            .unwrap_or(0);
        let start = super::browser_view::window(at, rows);
        let mut out = Vec::new();
        for &i in visible.iter().skip(start).take(rows) {
            let Some(l) = self.lines.get(i) else {
                continue;
            };
            let marker = if self.is_collapsed(i) {
                theme.glyphs.collapsed
            } else if self.is_expanded(i) {
                theme.glyphs.expanded
            } else {
                " "
            };
            out.push(Line::styled(
                format!("{}{marker} {}", "  ".repeat(l.depth), l.text),
                chrome::row_style(theme, i == self.selected, focused),
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(depth: usize, text: &str) -> TreeLine {
        TreeLine {
            depth,
            text: text.into(),
            bytes: None,
            field: false,
        }
    }

    fn tree() -> TreeState {
        TreeState::new(
            Some(0),
            vec![
                line(0, "frame 1"),
                line(1, "SK next_payload=N"),
                line(2, "payloads:"),
                line(3, "N(UPDATE_SA_ADDRESSES)"),
                line(4, "Notify type: 16400"),
                line(3, "N(NO_ADDITIONAL_ADDRESSES)"),
            ],
        )
    }

    #[test]
    fn payloads_start_shown_with_their_fields_folded() {
        let t = tree();
        assert_eq!(t.visible(), vec![0, 1, 2, 3, 5]);
        assert!(t.is_collapsed(3));
        assert!(!t.is_collapsed(5), "no fields: nothing to fold");
    }

    #[test]
    fn right_unfolds_then_steps_in_and_left_folds_then_goes_up() {
        let mut t = tree();
        t.selected = 3;
        t.expand();
        assert_eq!(t.visible(), vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(t.selected, 3);
        t.expand();
        assert_eq!(t.selected, 4);
        t.collapse();
        assert_eq!(t.selected, 3, "a field's parent");
        t.collapse();
        assert!(t.is_collapsed(3));
        t.toggle();
        assert!(t.is_expanded(3));
        t.set_all(false);
        assert_eq!((t.visible(), t.selected), (vec![0], 0));
    }

    #[test]
    fn steps_stay_inside_the_shown_lines_and_rows_keep_the_selection_on_screen() {
        let mut t = tree();
        t.select_end(true);
        assert_eq!(t.selected, 5);
        t.step(true, 100);
        assert_eq!(t.selected, 5);
        let theme = Theme::mono();
        let rows = t.rows(2, &theme, true);
        assert_eq!(rows.len(), 2);
        assert!(rows[1].to_string().contains("N(NO_ADDITIONAL_ADDRESSES)"));
        assert!(t.rows(0, &theme, true).is_empty());
        t.select_end(false);
        assert_eq!(t.selected, 0);
    }

    #[test]
    fn an_empty_tree_has_nothing_to_select_and_does_not_panic() {
        let mut t = TreeState::default();
        t.step(true, 3);
        t.expand();
        t.collapse();
        t.toggle();
        assert!(t.visible().is_empty());
        assert_eq!(t.selected_value(), None);
        assert!(t.rows(5, &Theme::mono(), false).is_empty());
    }
}
