//! SIGINT and SIGTERM as readable bytes (the self-pipe trick): the handler only writes
//! the signal number to a non-blocking pipe, which is async-signal-safe; the event loop
//! polls the other end and shuts down cleanly (Deletes for every IKE SA) instead of
//! dying with SAs left at the peer.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};

/// The write end the handler uses (-1: none installed).
static WRITE_FD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(sig: libc::c_int) {
    let fd = WRITE_FD.load(Ordering::Relaxed);
    if fd >= 0 {
        let b = sig as u8;
        // SAFETY: write(2) is async-signal-safe; a full pipe just drops the byte.
        unsafe {
            libc::write(fd, (&b as *const u8).cast(), 1);
        }
    }
}

/// The read end of the signal pipe (one per process: installing again replaces it).
pub struct SignalPipe {
    read: OwnedFd,
    _write: OwnedFd,
}

impl SignalPipe {
    /// Catch `signals` from now on.
    pub fn install(signals: &[libc::c_int]) -> io::Result<SignalPipe> {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: fds has room for the two descriptors pipe2 writes.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: pipe2 just gave us these descriptors; nobody else owns them.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        WRITE_FD.store(write.as_raw_fd(), Ordering::Relaxed);
        for &sig in signals {
            // SAFETY: a zeroed sigaction with our handler and an empty mask is valid.
            let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
            sa.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            sa.sa_flags = libc::SA_RESTART;
            // SAFETY: installing a handler for a catchable signal.
            if unsafe { libc::sigaction(sig, &sa, std::ptr::null_mut()) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(SignalPipe {
            read,
            _write: write,
        })
    }

    /// The descriptor to poll.
    pub fn fd(&self) -> RawFd {
        self.read.as_raw_fd()
    }

    /// The signals caught since the last call (never blocks).
    pub fn take(&self) -> Vec<libc::c_int> {
        let mut out = vec![];
        let mut buf = [0u8; 16];
        loop {
            // SAFETY: reading into a live buffer of the size given.
            let n =
                unsafe { libc::read(self.read.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                break;
            }
            out.extend(buf[..n as usize].iter().map(|&b| libc::c_int::from(b)));
        }
        out
    }
}

/// `SIGINT`, `SIGTERM`, ... for messages.
pub fn name(sig: libc::c_int) -> String {
    match sig {
        libc::SIGINT => "SIGINT".into(),
        libc::SIGTERM => "SIGTERM".into(),
        libc::SIGHUP => "SIGHUP".into(),
        n => format!("signal {n}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_raised_signal_becomes_a_byte_to_read() {
        let p = SignalPipe::install(&[libc::SIGUSR2]).unwrap();
        assert!(p.take().is_empty());
        // SAFETY: raising a signal we installed a handler for.
        unsafe { libc::raise(libc::SIGUSR2) };
        assert_eq!(p.take(), vec![libc::SIGUSR2]);
        assert!(p.take().is_empty());
        assert_eq!(name(libc::SIGTERM), "SIGTERM");
    }
}
