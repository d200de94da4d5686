//! The terminal's lifecycle: one guard enters raw mode and the alternate screen, and one
//! `restore` undoes every mode it set, in order, on every way out: normal exit, error
//! (the guard's `Drop`), panic (the hook), SIGTERM and SIGHUP (the loop sees them through
//! the signal pipe and returns, so the guard runs).
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{
    DisableBracketedPaste, EnableBracketedPaste, KeyCode as CKey, KeyEvent, KeyEventKind,
    KeyModifiers,
};
use ratatui::crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::crossterm::{cursor, execute};
use ratatui::Terminal;

use super::keymap::{Key, KeyCode};

/// Set while the terminal is in the UI's modes (the panic hook restores only then).
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Undoes everything [`TerminalGuard::enter`] did; safe to call twice.
pub fn restore() {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return;
    }
    let mut out = io::stdout();
    let _ = execute!(out, DisableBracketedPaste);
    // keys typed while leaving must not reach the shell: flush pending input while raw
    // SAFETY: tcflush on stdin's descriptor has no memory effects.
    unsafe {
        libc::tcflush(libc::STDIN_FILENO, libc::TCIFLUSH);
    }
    let _ = execute!(out, cursor::Show, LeaveAlternateScreen);
    let _ = disable_raw_mode();
    let _ = out.flush();
}

/// The terminal in the UI's modes, restored on drop.
pub struct TerminalGuard {
    pub terminal: Terminal<CrosstermBackend<io::Stdout>>,
}

impl TerminalGuard {
    /// Raw mode, alternate screen, bracketed paste; a panic hook that restores first.
    pub fn enter(mono: bool) -> io::Result<TerminalGuard> {
        if mono {
            // crossterm 0.29 writes a bare SGR reset for colours under NO_COLOR, which
            // cancels reversed video; with no colours used, it has nothing to write
            ratatui::crossterm::style::Colored::set_ansi_color_disabled(false);
        }
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
        enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        let mut out = io::stdout();
        execute!(out, EnterAlternateScreen, EnableBracketedPaste)?;
        let terminal = Terminal::new(CrosstermBackend::new(out))?;
        Ok(TerminalGuard { terminal })
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// What the terminal has for the UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// Something to read (crossterm reads it).
    Ready,
    /// Nothing within the timeout.
    Idle,
    /// The terminal is gone (its window closed, the SSH session dropped).
    HungUp,
}

/// Waits at most `timeout` for input. crossterm 0.29 reads a hung-up terminal forever (each
/// read returns 0 bytes and it tries again, never returning), so the UI polls the terminal
/// itself and lets crossterm read only what is there.
pub fn wait_input(timeout: std::time::Duration) -> io::Result<Input> {
    use std::io::IsTerminal;
    if !io::stdin().is_terminal() {
        // crossterm reads /dev/tty then, not our stdin
        let ready = ratatui::crossterm::event::poll(timeout)?;
        return Ok(if ready { Input::Ready } else { Input::Idle });
    }
    let mut fd = libc::pollfd {
        fd: libc::STDIN_FILENO,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    // SAFETY: one valid pollfd for the duration of the call.
    let n = unsafe { libc::poll(&mut fd, 1, ms) };
    if n < 0 {
        let e = io::Error::last_os_error();
        return match e.kind() {
            io::ErrorKind::Interrupted => Ok(Input::Idle),
            _ => Err(e),
        };
    }
    if fd.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
        return Ok(Input::HungUp);
    }
    Ok(if fd.revents & libc::POLLIN != 0 {
        Input::Ready
    } else {
        Input::Idle
    })
}

/// Test hook: with `MOBIKECTL_TUI_PANIC_KEY=KEY` set, that key panics, so an end-to-end
/// test can prove the panic hook gives the terminal back (tests/tui_tmux.rs).
pub fn panic_key() -> Option<Key> {
    std::env::var("MOBIKECTL_TUI_PANIC_KEY")
        .ok()
        .and_then(|k| Key::parse(&k))
}

/// A crossterm key as the UI's [`Key`] (`None` for releases and keys the UI has no use for).
pub fn key_of(ev: KeyEvent) -> Option<Key> {
    if ev.kind == KeyEventKind::Release {
        return None;
    }
    let m = ev.modifiers;
    let code = match ev.code {
        CKey::Char(c) => KeyCode::Char(c),
        CKey::Enter => KeyCode::Enter,
        CKey::Esc => KeyCode::Esc,
        CKey::Tab => KeyCode::Tab,
        CKey::BackTab => KeyCode::BackTab,
        CKey::Backspace => KeyCode::Backspace,
        CKey::Delete => KeyCode::Delete,
        CKey::Up => KeyCode::Up,
        CKey::Down => KeyCode::Down,
        CKey::Left => KeyCode::Left,
        CKey::Right => KeyCode::Right,
        CKey::Home => KeyCode::Home,
        CKey::End => KeyCode::End,
        CKey::PageUp => KeyCode::PageUp,
        CKey::PageDown => KeyCode::PageDown,
        CKey::F(n) => KeyCode::F(n),
        _ => return None,
    };
    // a character already says whether Shift was down ('G'); Shift-Tab is BackTab
    let shift =
        m.contains(KeyModifiers::SHIFT) && !matches!(code, KeyCode::Char(_) | KeyCode::BackTab);
    Some(Key {
        code,
        ctrl: m.contains(KeyModifiers::CONTROL),
        alt: m.contains(KeyModifiers::ALT),
        shift,
    })
}

/// The OSC 52 sequence that puts `text` on the terminal's clipboard (works over SSH; tmux
/// passes it on with `set -g set-clipboard on`).
pub fn osc52(text: &str) -> String {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = text.as_bytes();
    let mut enc = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                enc.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                enc.push('=');
            }
        }
    }
    format!("\x1b]52;c;{enc}\x07")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn osc52_is_base64() {
        assert_eq!(osc52("hello"), "\x1b]52;c;aGVsbG8=\x07");
        assert_eq!(osc52("ab"), "\x1b]52;c;YWI=\x07");
        assert_eq!(osc52("abc"), "\x1b]52;c;YWJj\x07");
    }

    #[test]
    fn crossterm_keys_map_to_ui_keys() {
        let k = |code, m| key_of(KeyEvent::new(code, m));
        assert_eq!(
            k(CKey::Char('G'), KeyModifiers::SHIFT),
            Some(Key::char('G'))
        );
        assert_eq!(
            k(CKey::Char('d'), KeyModifiers::CONTROL),
            Some(Key::ctrl('d'))
        );
        assert_eq!(
            k(CKey::BackTab, KeyModifiers::SHIFT),
            Some(Key::plain(KeyCode::BackTab))
        );
    }
}
