//! The one-line editors of the UI: the display filter (`/`) and the command line (`:`),
//! with history and completion.
use super::keymap::{Key, KeyCode};

/// What a key did to the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineOutcome {
    /// Still editing.
    Editing,
    /// Enter: the text.
    Submitted(String),
    /// Esc.
    Cancelled,
}

/// A line being edited.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InputLine {
    /// The text.
    pub text: String,
    /// Cursor position in characters.
    pub cursor: usize,
    history: Vec<String>,
    /// Position in the history while browsing it with Up/Down.
    history_at: Option<usize>,
    /// After a Tab with several completions: all of them, shown above the line until the
    /// next key.
    pub choices: Vec<String>,
}

impl InputLine {
    /// Starts editing with `text` (the cursor at its end).
    pub fn start(&mut self, text: &str) {
        self.text = text.to_string();
        self.cursor = text.chars().count();
        self.history_at = None;
    }

    fn byte_at(&self, chars: usize) -> usize {
        self.text
            .char_indices()
            .nth(chars)
            .map_or(self.text.len(), |(i, _)| i)
    }

    /// One key; `complete` lists the completions of the text before the cursor.
    pub fn key(&mut self, key: Key, complete: &dyn Fn(&str) -> Vec<String>) -> LineOutcome {
        self.choices.clear();
        match key.code {
            KeyCode::Enter => {
                let text = self.text.trim().to_string();
                if !text.is_empty() && self.history.last() != Some(&text) {
                    self.history.push(text.clone());
                }
                return LineOutcome::Submitted(text);
            }
            KeyCode::Esc => return LineOutcome::Cancelled,
            KeyCode::Char('c') if key.ctrl => return LineOutcome::Cancelled,
            KeyCode::Char('u') if key.ctrl => {
                let at = self.byte_at(self.cursor);
                self.text.replace_range(..at, "");
                self.cursor = 0;
            }
            KeyCode::Char('a') if key.ctrl => self.cursor = 0,
            KeyCode::Char('e') if key.ctrl => self.cursor = self.text.chars().count(),
            KeyCode::Char(c) if !key.ctrl && !key.alt => {
                let at = self.byte_at(self.cursor);
                self.text.insert(at, c);
                self.cursor += 1;
            }
            KeyCode::Backspace if self.cursor > 0 => {
                self.cursor -= 1;
                let at = self.byte_at(self.cursor);
                self.text.remove(at);
            }
            KeyCode::Delete if self.cursor < self.text.chars().count() => {
                let at = self.byte_at(self.cursor);
                self.text.remove(at);
            }
            KeyCode::Left => self.cursor = self.cursor.saturating_sub(1),
            KeyCode::Right => self.cursor = (self.cursor + 1).min(self.text.chars().count()),
            KeyCode::Home => self.cursor = 0,
            KeyCode::End => self.cursor = self.text.chars().count(),
            KeyCode::Up => self.history_step(true),
            KeyCode::Down => self.history_step(false),
            KeyCode::Tab => self.complete(complete),
            _ => {}
        }
        LineOutcome::Editing
    }

    fn history_step(&mut self, back: bool) {
        if self.history.is_empty() {
            return;
        }
        let at = match (self.history_at, back) {
            (None, true) => self.history.len() - 1,
            (None, false) => return,
            (Some(i), true) => i.saturating_sub(1),
            (Some(i), false) if i + 1 < self.history.len() => i + 1,
            (Some(_), false) => {
                self.history_at = None;
                self.start("");
                return;
            }
        };
        let text = self.history[at].clone();
        self.start(&text);
        self.history_at = Some(at);
    }

    /// Tab: the longest common prefix of the completions of the last word.
    fn complete(&mut self, complete: &dyn Fn(&str) -> Vec<String>) {
        let at = self.byte_at(self.cursor);
        let before = &self.text[..at];
        let options = complete(before);
        let Some(first) = options.first() else {
            return;
        };
        let common = options.iter().skip(1).fold(first.clone(), |acc, o| {
            acc.chars()
                .zip(o.chars())
                .take_while(|(a, b)| a == b)
                .map(|(a, _)| a)
                .collect()
        });
        let word_start = before.rfind(' ').map_or(0, |i| i + 1);
        let mut text = format!("{}{}", &before[..word_start], common);
        if options.len() == 1 {
            text.push(' ');
        }
        let cursor = text.chars().count();
        text.push_str(&self.text[at..]);
        self.text = text;
        self.cursor = cursor;
        if options.len() > 1 {
            self.choices = options;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &str) -> Vec<String> {
        vec![]
    }

    fn typed(line: &mut InputLine, s: &str) {
        for c in s.chars() {
            line.key(Key::char(c), &none);
        }
    }

    #[test]
    fn edits_and_history() {
        let mut l = InputLine::default();
        typed(&mut l, "mid == 1");
        l.key(Key::plain(KeyCode::Left), &none);
        l.key(Key::plain(KeyCode::Backspace), &none);
        assert_eq!(l.text, "mid ==1");
        assert_eq!(
            l.key(Key::plain(KeyCode::Enter), &none),
            LineOutcome::Submitted("mid ==1".into())
        );
        l.start("");
        l.key(Key::plain(KeyCode::Up), &none);
        assert_eq!(l.text, "mid ==1");
        l.key(Key::plain(KeyCode::Down), &none);
        assert_eq!(l.text, "");
        assert_eq!(
            l.key(Key::plain(KeyCode::Esc), &none),
            LineOutcome::Cancelled
        );
    }

    #[test]
    fn tab_completes_the_last_word() {
        let complete = |before: &str| -> Vec<String> {
            let word = before.rsplit(' ').next().unwrap_or("");
            ["next-message", "next-in-sa", "quit"]
                .iter()
                .filter(|c| c.starts_with(word))
                .map(|c| c.to_string())
                .collect()
        };
        let mut l = InputLine::default();
        for c in "ne".chars() {
            l.key(Key::char(c), &complete);
        }
        l.key(Key::plain(KeyCode::Tab), &complete);
        assert_eq!(l.text, "next-");
        assert_eq!(
            l.choices,
            ["next-message", "next-in-sa"],
            "shown until a key"
        );
        l.key(Key::char('m'), &complete);
        assert!(l.choices.is_empty());
        l.start("q");
        l.key(Key::plain(KeyCode::Tab), &complete);
        assert_eq!(l.text, "quit ");
        assert!(l.choices.is_empty(), "one completion: nothing to choose");
    }
}
