//! The one loop both UIs run: input, what the data source brought, redraws at most every
//! [`FRAME`] and only when something changed, the clipboard, and the way out (a key, a
//! signal, or a terminal that hung up). The UIs plug in through [`Screen`].
use std::io::{self, Write};
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{self, Event};
use ratatui::Frame;

use super::keymap::Key;
use super::terminal;
use super::theme::Theme;
use super::Looks;

/// At most this many redraws a second.
pub const FRAME: Duration = Duration::from_millis(33);

/// How long the loop sleeps on input when nothing is under way.
const IDLE_WAIT: Duration = Duration::from_millis(20);

/// A UI as the loop sees it.
pub trait Screen {
    /// Takes in what the data source brought since the last turn; true when something
    /// changed.
    fn update(&mut self) -> bool;
    fn draw(&mut self, frame: &mut Frame, theme: &Theme);
    fn key(&mut self, key: Key);
    /// A line is being typed (pasted text goes there; elsewhere it would run commands).
    fn editing(&self) -> bool;
    /// Work is under way in slices (a search): the loop does not sleep.
    fn busy(&self) -> bool {
        false
    }
    /// Shows clocks (ages, "since" columns): redrawn each second even without events.
    fn has_clocks(&self) -> bool {
        false
    }
    /// After the keys of a turn: send what they asked for.
    fn after_input(&mut self) {}
    fn take_clipboard(&mut self) -> Option<String>;
    fn wants_quit(&self) -> bool;
}

/// Runs `screen` in the terminal until it quits, a signal ends it or the terminal hangs
/// up; the terminal is restored on every way out (the guard's drop, and its panic hook).
pub fn run(screen: &mut dyn Screen, looks: Looks) -> io::Result<()> {
    let signals = crate::io::signals::SignalPipe::install(&[libc::SIGTERM, libc::SIGHUP])?;
    let theme = looks.theme();
    let mut guard = terminal::TerminalGuard::enter(looks.mono)?;
    let panic_key = terminal::panic_key();
    let mut dirty = true;
    let mut last_draw: Option<Instant> = None;
    let mut last_clock = Instant::now();
    loop {
        if !signals.take().is_empty() {
            break;
        }
        dirty |= screen.update();
        if screen.has_clocks() && last_clock.elapsed() >= Duration::from_secs(1) {
            dirty = true;
            last_clock = Instant::now();
        }
        let due = last_draw.is_none_or(|t| t.elapsed() >= FRAME);
        if dirty && due {
            guard.terminal.draw(|f| screen.draw(f, &theme))?;
            dirty = false;
            last_draw = Some(Instant::now());
        }
        let wait = if screen.busy() {
            Duration::ZERO
        } else {
            IDLE_WAIT
        };
        if terminal::wait_input(wait)? == terminal::Input::HungUp {
            break;
        }
        // what crossterm has: keys, pastes, and resizes (which do not wake the poll above)
        while event::poll(Duration::ZERO)? {
            match event::read()? {
                Event::Key(k) => {
                    if let Some(key) = terminal::key_of(k) {
                        if Some(key) == panic_key {
                            panic!("panic asked for by MOBIKECTL_TUI_PANIC_KEY");
                        }
                        screen.key(key);
                        dirty = true;
                    }
                }
                Event::Paste(text) if screen.editing() => {
                    for c in text.chars().filter(|c| !c.is_control()) {
                        screen.key(Key::char(c));
                    }
                    dirty = true;
                }
                Event::Resize(..) => dirty = true,
                _ => {}
            }
        }
        screen.after_input();
        if let Some(text) = screen.take_clipboard() {
            let mut out = io::stdout();
            out.write_all(terminal::osc52(&text).as_bytes())?;
            out.flush()?;
        }
        if screen.wants_quit() {
            break;
        }
    }
    drop(guard);
    Ok(())
}

/// The capture browser on the loop: its source is the background indexer.
impl Screen for super::browser::Browser {
    fn update(&mut self) -> bool {
        self.tick()
    }

    fn draw(&mut self, frame: &mut Frame, theme: &Theme) {
        super::browser_view::draw(frame, self, theme);
    }

    fn key(&mut self, key: Key) {
        super::browser::Browser::key(self, key);
    }

    fn editing(&self) -> bool {
        use super::browser::Mode;
        matches!(self.mode, Mode::Filter | Mode::Command | Mode::Search)
    }

    fn busy(&self) -> bool {
        super::browser::Browser::busy(self)
    }

    fn take_clipboard(&mut self) -> Option<String> {
        self.clipboard.take()
    }

    fn wants_quit(&self) -> bool {
        self.quit
    }
}
