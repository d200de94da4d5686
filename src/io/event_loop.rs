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
    mut input: Option<UnixStream>,
    h: &mut dyn Handler,
) -> io::Result<()> {
    let mut buf = vec![0u8; 65_536];
    let mut pending = Vec::<u8>::new();
    flush_engine(engine, sockets, clock, h);
    loop {
        // re-read every round: commands and address changes bind and close sockets
        let sock_fds = sockets.fds();
        let now = clock.now();
        if h.finished(engine, now) {
            return Ok(());
        }
        let next = [engine.poll_timeout(), h.deadline()]
            .into_iter()
            .flatten()
            .min();
        let timeout_ms: i32 = match next {
            None => MAX_IDLE.as_millis() as i32,
            Some(t) => {
                let d = clock.until(t);
                // round up so that we do not spin just before the deadline
                let ms = d.as_micros().div_ceil(1000);
                ms.min(MAX_IDLE.as_millis()) as i32
            }
        };
        let mut fds: Vec<libc::pollfd> = sock_fds
            .iter()
            .map(|&fd| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        let input_idx = fds.len();
        fds.push(libc::pollfd {
            fd: input.as_ref().map(|i| i.as_raw_fd()).unwrap_or(-1),
            events: libc::POLLIN,
            revents: 0,
        });
        fds.push(libc::pollfd {
            fd: h.extra_fd().unwrap_or(-1),
            events: libc::POLLIN,
            revents: 0,
        });
        fds.push(libc::pollfd {
            fd: h.signal_fd().unwrap_or(-1),
            events: libc::POLLIN,
            revents: 0,
        });
        // SAFETY: `fds` is a valid array of pollfd for the duration of the call.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        // datagrams
        for (idx, pfd) in fds.iter().take(sock_fds.len()).enumerate() {
            if pfd.revents == 0 {
                continue;
            }
            if pfd.revents & libc::POLLERR != 0 {
                // drained, or poll would report it again at once
                for (path, _) in sockets.icmp_errors(idx) {
                    engine.path_hint(clock.now(), path, PathHint::Unreachable);
                    flush_engine(engine, sockets, clock, h);
                }
            }
            loop {
                match sockets.recv(idx, &mut buf) {
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
        // command lines
        if let Some(pfd) = fds.get(input_idx) {
            if pfd.fd >= 0 && pfd.revents != 0 {
                let mut closed = false;
                if let Some(i) = input.as_mut() {
                    loop {
                        match i.read(&mut buf) {
                            Ok(0) => {
                                closed = true;
                                break;
                            }
                            Ok(n) => pending.extend_from_slice(&buf[..n]),
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            Err(_) => {
                                closed = true;
                                break;
                            }
                        }
                    }
                }
                while let Some(pos) = pending.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = pending.drain(..=pos).collect();
                    let text = String::from_utf8_lossy(&line[..line.len() - 1]).into_owned();
                    h.command(engine, sockets, clock.now(), text.trim_end_matches('\r'));
                    flush_engine(engine, sockets, clock, h);
                }
                if closed {
                    input = None;
                    h.input_closed(engine, clock.now());
                    flush_engine(engine, sockets, clock, h);
                }
            }
        }
        // the handler's extra descriptor
        if let Some(pfd) = fds.get(input_idx + 1) {
            if pfd.fd >= 0 && pfd.revents != 0 {
                h.extra_ready(engine, sockets, clock.now());
                flush_engine(engine, sockets, clock, h);
            }
        }
        // SIGINT, SIGTERM
        if let Some(pfd) = fds.get(input_idx + 2) {
            if pfd.fd >= 0 && pfd.revents != 0 {
                h.signalled(engine, clock.now());
                flush_engine(engine, sockets, clock, h);
            }
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

/// Prefix of [`Handler::io_error`] messages about ESP that could not be sent (they come
/// at the data plane's rate, the handler may report only the first).
pub const ESP_SEND_ERROR: &str = "ESP send: ";

/// How long [`run`] sleeps at most without timers.
pub const MAX_IDLE: Duration = Duration::from_secs(1);
