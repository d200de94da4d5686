//! The single-threaded event loop: `poll(2)` on the UDP sockets and a command pipe,
//! engine timers from [`Engine::poll_timeout`], a monotonic [`Clock`].
//!
//! Command lines come from any [`BufRead`] (stdin) read by a helper thread that forwards
//! them over a Unix socket pair, so the loop never blocks on input.

use std::io::{self, BufRead, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use super::clock::Clock;
use super::socket::{Received, Sockets};
use crate::engine::{Engine, EngineEvent, Path, PathHint, SaId, Timestamp};

/// Direction of a packet, for captures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// We sent it.
    Sent,
    /// We received it.
    Received,
}

/// What the loop reports to its owner (the `peer` command).
pub trait Handler {
    /// A command line (without the newline). The handler may bind and close sockets;
    /// the loop re-reads the socket list afterwards.
    fn command(&mut self, engine: &mut Engine, sockets: &mut Sockets, now: Timestamp, line: &str);
    /// Called when the loop polls `extra_fd` and it became readable (e.g. a netlink
    /// socket for the OS's address changes).
    fn extra_ready(&mut self, _engine: &mut Engine, _sockets: &mut Sockets, _now: Timestamp) {}
    /// One more file descriptor to poll (see [`Handler::extra_ready`]).
    fn extra_fd(&self) -> Option<std::os::fd::RawFd> {
        None
    }
    /// A descriptor that becomes readable when the process got SIGINT or SIGTERM (see
    /// [`super::signals::SignalPipe`]); [`Handler::signalled`] is then called.
    fn signal_fd(&self) -> Option<std::os::fd::RawFd> {
        None
    }
    /// The signal descriptor became readable.
    fn signalled(&mut self, _engine: &mut Engine, _now: Timestamp) {}
    /// The command input reached its end.
    fn input_closed(&mut self, engine: &mut Engine, now: Timestamp);
    /// An engine event.
    fn event(&mut self, engine: &Engine, event: EngineEvent);
    /// An inner packet came through CHILD_SA `spi_in` of `sa` (called just before
    /// [`Handler::event`] with its [`EngineEvent::EspReceived`]); the handler may answer
    /// through the engine ([`Engine::send_esp`]).
    fn inner_packet(
        &mut self,
        _engine: &mut Engine,
        _now: Timestamp,
        _child: (SaId, u32),
        _packet: &[u8],
    ) {
    }
    /// The handler's own timers, called every round after the engine's (wake-ups come
    /// from [`Handler::deadline`]).
    fn tick(&mut self, _engine: &mut Engine, _now: Timestamp) {}
    /// A datagram as it was on the wire, on `path` (our side, the peer's side).
    fn packet(&mut self, dir: Direction, path: Path, wire: &[u8]);
    /// An I/O problem that does not stop the loop.
    fn io_error(&mut self, message: String);
    /// Called after every round of engine input (e.g. to write new keys to a key log).
    fn after_round(&mut self, engine: &Engine);
    /// Stop the loop? Checked after every round.
    fn finished(&mut self, engine: &Engine, now: Timestamp) -> bool;
    /// An extra wake-up time (e.g. a shutdown deadline).
    fn deadline(&self) -> Option<Timestamp> {
        None
    }
}

/// Spawn a thread that copies lines from `input` into a socket pair; the returned end
/// becomes readable when a line arrives and reads EOF when the input ends.
pub fn spawn_line_reader<R: BufRead + Send + 'static>(mut input: R) -> io::Result<UnixStream> {
    let (ours, mut theirs) = UnixStream::pair()?;
    ours.set_nonblocking(true)?;
    std::thread::Builder::new()
        .name("command-input".into())
        .spawn(move || {
            let mut line = String::new();
            loop {
                line.clear();
                match input.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if !line.ends_with('\n') {
                            line.push('\n');
                        }
                        if theirs.write_all(line.as_bytes()).is_err() {
                            break;
                        }
                    }
                }
            }
            // dropping `theirs` signals EOF
        })?;
    Ok(ours)
}

/// Does a send error mean the path is unusable (address gone, no route)? Then the
/// engine hears of it ([`Engine::send_failed`]) and looks for another path.
pub fn path_unusable(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::AddrNotAvailable
            | io::ErrorKind::NetworkUnreachable
            | io::ErrorKind::HostUnreachable
    ) || matches!(
        e.raw_os_error(),
        Some(libc::EADDRNOTAVAIL | libc::ENETUNREACH | libc::EHOSTUNREACH)
    )
}

fn flush_engine(engine: &mut Engine, sockets: &mut Sockets, clock: &Clock, h: &mut dyn Handler) {
    loop {
        let mut idle = true;
        while let Some(t) = engine.poll_transmit() {
            idle = false;
            match sockets.send(&t) {
                Ok(Some(wire)) => h.packet(Direction::Sent, t.path, &wire),
                Ok(None) => {} // dropped by the filter, as a black hole would
                Err(e) if t.esp => {
                    h.io_error(format!("{ESP_SEND_ERROR}{e}"));
                    // the address is gone: the same hint as for IKE (MOBIKE checks)
                    if path_unusable(&e) {
                        engine.send_failed(clock.now(), t.path);
                    }
                }
                Err(e) => {
                    h.io_error(e.to_string());
                    if path_unusable(&e) {
                        engine.send_failed(clock.now(), t.path);
                    }
                }
            }
        }
        while let Some(ev) = engine.poll_event() {
            idle = false;
            if let EngineEvent::EspReceived {
                sa, spi_in, packet, ..
            } = &ev
            {
                h.inner_packet(engine, clock.now(), (*sa, *spi_in), packet);
            }
            h.event(engine, ev);
        }
        if idle {
            break;
        }
    }
    h.after_round(engine);
}

/// Run until [`Handler::finished`] says so. `input` is the command pipe from
/// [`spawn_line_reader`] (or `None`: no commands).
pub fn run(
    engine: &mut Engine,
    sockets: &mut Sockets,
    clock: &Clock,
    input: Option<UnixStream>,
    h: &mut dyn Handler,
) -> io::Result<()> {
    let mut buf = vec![0u8; 65_536];
    let mut input = CommandInput {
        stream: input,
        pending: Vec::new(),
    };
    flush_engine(engine, sockets, clock, h);
    loop {
        // re-read every round: commands and address changes bind and close sockets
        let sock_fds = sockets.fds();
        let now = clock.now();
        if h.finished(engine, now) {
            return Ok(());
        }
        let timeout_ms = poll_timeout_ms(engine, clock, h);
        let mut fds: Vec<libc::pollfd> = sock_fds
            .iter()
            .chain(&[
                input.fd(),
                h.extra_fd().unwrap_or(-1),
                h.signal_fd().unwrap_or(-1),
            ])
            .map(|&fd| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        let input_idx = sock_fds.len();
        // SAFETY: `fds` is a valid array of pollfd for the duration of the call.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        for (idx, pfd) in fds.iter().take(sock_fds.len()).enumerate() {
            if pfd.revents != 0 {
                receive_datagrams(engine, sockets, clock, h, (idx, pfd.revents), &mut buf);
            }
        }
        if readable(&fds, input_idx) {
            run_commands(engine, sockets, clock, h, &mut input, &mut buf);
        }
        // the handler's extra descriptor
        if readable(&fds, input_idx + 1) {
            h.extra_ready(engine, sockets, clock.now());
            flush_engine(engine, sockets, clock, h);
        }
        // SIGINT, SIGTERM
        if readable(&fds, input_idx + 2) {
            h.signalled(engine, clock.now());
            flush_engine(engine, sockets, clock, h);
        }
        // timers
        let now = clock.now();
        if engine.poll_timeout().is_some_and(|t| t <= now) {
            engine.handle_timeout(now);
        }
        h.tick(engine, now);
        flush_engine(engine, sockets, clock, h);
    }
}

/// How long to wait in `poll(2)`: until the engine's or the handler's next deadline,
/// at most [`MAX_IDLE`].
fn poll_timeout_ms(engine: &Engine, clock: &Clock, h: &dyn Handler) -> i32 {
    let next = [engine.poll_timeout(), h.deadline()]
        .into_iter()
        .flatten()
        .min();
    match next {
        None => MAX_IDLE.as_millis() as i32,
        Some(t) => {
            let d = clock.until(t);
            // round up so that we do not spin just before the deadline
            let ms = d.as_micros().div_ceil(1000);
            ms.min(MAX_IDLE.as_millis()) as i32
        }
    }
}

/// Did `poll(2)` find the descriptor at `idx` (if any) readable?
fn readable(fds: &[libc::pollfd], idx: usize) -> bool {
    fds.get(idx).is_some_and(|p| p.fd >= 0 && p.revents != 0)
}

/// Socket `idx` is ready (`revents`): its ICMP errors become path hints, its datagrams
/// go to the engine until none is left.
fn receive_datagrams(
    engine: &mut Engine,
    sockets: &mut Sockets,
    clock: &Clock,
    h: &mut dyn Handler,
    (idx, revents): (usize, libc::c_short),
    buf: &mut [u8],
) {
    if revents & libc::POLLERR != 0 {
        // drained, or poll would report it again at once
        for (path, _) in sockets.icmp_errors(idx) {
            engine.path_hint(clock.now(), path, PathHint::Unreachable);
            flush_engine(engine, sockets, clock, h);
        }
    }
    loop {
        match sockets.recv(idx, buf) {
            Ok(Some(d)) => {
                h.packet(Direction::Received, d.path, &d.wire);
                match d.content {
                    Received::Ike(msg) => {
                        engine.handle_datagram(clock.now(), d.path, &msg);
                        flush_engine(engine, sockets, clock, h);
                    }
                    Received::Esp(esp) => {
                        engine.handle_esp(clock.now(), d.path, &esp);
                        flush_engine(engine, sockets, clock, h);
                    }
                    Received::Keepalive | Received::Runt => {}
                }
            }
            Ok(None) => break,
            Err(e) => {
                h.io_error(format!("receive: {e}"));
                break;
            }
        }
    }
}

/// The command pipe, and the start of a line not complete yet.
struct CommandInput {
    /// `None` once the input ended.
    stream: Option<UnixStream>,
    pending: Vec<u8>,
}

impl CommandInput {
    fn fd(&self) -> std::os::fd::RawFd {
        self.stream.as_ref().map(|i| i.as_raw_fd()).unwrap_or(-1)
    }

    /// Read what the pipe holds; true when the input ended.
    fn read_available(&mut self, buf: &mut [u8]) -> bool {
        let Some(i) = self.stream.as_mut() else {
            return false;
        };
        loop {
            match i.read(buf) {
                Ok(0) => return true,
                Ok(n) => self
                    .pending
                    .extend_from_slice(buf.get(..n).unwrap_or_default()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return true,
            }
        }
    }

    /// The next complete line, without its line end.
    fn next_line(&mut self) -> Option<String> {
        let pos = self.pending.iter().position(|&b| b == b'\n')?;
        let line: Vec<u8> = self.pending.drain(..=pos).collect();
        let text = String::from_utf8_lossy(&line[..pos]);
        Some(text.trim_end_matches('\r').to_owned())
    }
}

/// The command pipe is readable: each complete line goes to [`Handler::command`], and
/// the end of the input to [`Handler::input_closed`].
fn run_commands(
    engine: &mut Engine,
    sockets: &mut Sockets,
    clock: &Clock,
    h: &mut dyn Handler,
    input: &mut CommandInput,
    buf: &mut [u8],
) {
    let closed = input.read_available(buf);
    while let Some(line) = input.next_line() {
        h.command(engine, sockets, clock.now(), &line);
        flush_engine(engine, sockets, clock, h);
    }
    if closed {
        input.stream = None;
        h.input_closed(engine, clock.now());
        flush_engine(engine, sockets, clock, h);
    }
}

/// Prefix of [`Handler::io_error`] messages about ESP that could not be sent (they come
/// at the data plane's rate, the handler may report only the first).
pub const ESP_SEND_ERROR: &str = "ESP send: ";

/// How long [`run`] sleeps at most without timers.
pub const MAX_IDLE: Duration = Duration::from_secs(1);
