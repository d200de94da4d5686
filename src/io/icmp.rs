//! ICMP errors for our UDP sockets (Linux `IP_RECVERR` / `IPV6_RECVERR`): the kernel
//! queues "destination unreachable" and friends on the socket's error queue, with the
//! destination of the datagram that failed. The event loop passes them to the engine as
//! lower-layer hints ([`Engine::path_hint`](crate::engine::Engine::path_hint)): anyone on
//! the path can forge ICMP, so they only ever cause a check (RFC 4555 §3.5, §5.3).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};

/// One error from a socket's error queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpError {
    /// Where the datagram that failed was going.
    pub dest: SocketAddr,
    /// ICMP (or ICMPv6) type and code.
    pub icmp_type: u8,
    pub code: u8,
    /// The router (or host) that reported it.
    pub reporter: Option<IpAddr>,
}

impl IcmpError {
    /// ICMP destination unreachable (type 3) or ICMPv6 destination unreachable (type 1):
    /// the errors that say a path does not work.
    pub fn is_unreachable(&self) -> bool {
        if self.dest.is_ipv4() {
            self.icmp_type == 3
        } else {
            self.icmp_type == 1
        }
    }
}

/// Ask the kernel to queue ICMP errors on `sock` (no effect on other systems).
pub fn enable(sock: &UdpSocket) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        let v6 = sock.local_addr()?.is_ipv6();
        let (level, opt) = if v6 {
            (libc::IPPROTO_IPV6, libc::IPV6_RECVERR)
        } else {
            (libc::IPPROTO_IP, libc::IP_RECVERR)
        };
        let on: libc::c_int = 1;
        // SAFETY: a valid fd and a c_int option value of the size given.
        let r = unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                level,
                opt,
                (&on as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = sock;
    Ok(())
}

/// Take every queued error off `fd` (never blocks). Entries that are not ICMP errors
/// (local errors such as EMSGSIZE) are skipped.
pub fn drain(fd: RawFd) -> Vec<IcmpError> {
    let mut out = Vec::new();
    #[cfg(target_os = "linux")]
    while let Some(e) = read_one(fd) {
        out.extend(e);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = fd;
    out
}

/// One message off the error queue: `None` when it is empty, `Some(None)` for an entry
/// that is not an ICMP error.
#[cfg(target_os = "linux")]
fn read_one(fd: RawFd) -> Option<Option<IcmpError>> {
    let mut data = [0u8; 512];
    let mut control = [0u64; 64]; // u64: aligned for cmsghdr
                                  // SAFETY: zeroed sockaddr_storage is a valid (empty) address buffer.
    let mut name: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    // SAFETY: msghdr is plain data; every pointer set below outlives the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = (&mut name as *mut libc::sockaddr_storage).cast();
    msg.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: fd is ours; msg points at live buffers of the sizes given.
    let n = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT) };
    if n < 0 {
        return None;
    }
    // SAFETY: the kernel filled `name` with msg_namelen bytes of a sockaddr.
    let Some(dest) = (unsafe { sockaddr_to(&name as *const _ as *const libc::sockaddr) }) else {
        return Some(None);
    };
    // SAFETY: walking the control buffer the kernel filled, with the libc macros.
    let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(&msg) };
    while !cmsg.is_null() {
        // SAFETY: non-null cmsg inside the control buffer.
        let (level, kind) = unsafe { ((*cmsg).cmsg_level, (*cmsg).cmsg_type) };
        let ours = (level == libc::IPPROTO_IP && kind == libc::IP_RECVERR)
            || (level == libc::IPPROTO_IPV6 && kind == libc::IPV6_RECVERR);
        if ours {
            // SAFETY: IP_RECVERR data is a sock_extended_err followed by the offender.
            let ee = unsafe { libc::CMSG_DATA(cmsg) as *const libc::sock_extended_err };
            let e = unsafe { std::ptr::read_unaligned(ee) };
            let icmp =
                e.ee_origin == libc::SO_EE_ORIGIN_ICMP || e.ee_origin == libc::SO_EE_ORIGIN_ICMP6;
            if !icmp {
                return Some(None);
            }
            // SAFETY: SO_EE_OFFENDER points just past the struct, inside the cmsg data.
            let reporter = unsafe { sockaddr_to(libc::SO_EE_OFFENDER(ee)) }.map(|a| a.ip());
            return Some(Some(IcmpError {
                dest,
                icmp_type: e.ee_type,
                code: e.ee_code,
                reporter: reporter.filter(|a| !a.is_unspecified()),
            }));
        }
        // SAFETY: advancing within the same control buffer.
        cmsg = unsafe { libc::CMSG_NXTHDR(&msg, cmsg) };
    }
    Some(None)
}

/// A sockaddr_in / sockaddr_in6 as a `SocketAddr` (v4-mapped v6 unmapped).
///
/// # Safety
/// `sa` points at a sockaddr at least as long as its family says.
#[cfg(target_os = "linux")]
unsafe fn sockaddr_to(sa: *const libc::sockaddr) -> Option<SocketAddr> {
    match i32::from(unsafe { (*sa).sa_family }) {
        libc::AF_INET => {
            let s = unsafe { std::ptr::read_unaligned(sa as *const libc::sockaddr_in) };
            let ip = Ipv4Addr::from(u32::from_be(s.sin_addr.s_addr));
            Some(SocketAddr::new(IpAddr::V4(ip), u16::from_be(s.sin_port)))
        }
        libc::AF_INET6 => {
            let s = unsafe { std::ptr::read_unaligned(sa as *const libc::sockaddr_in6) };
            let ip = Ipv6Addr::from(s.sin6_addr.s6_addr);
            let ip = ip.to_ipv4_mapped().map_or(IpAddr::V6(ip), IpAddr::V4);
            Some(SocketAddr::new(ip, u16::from_be(s.sin6_port)))
        }
        _ => None,
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn port_unreachable_on_loopback_is_queued_with_its_destination() {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        enable(&sock).unwrap();
        // a port nobody listens on: bind one, note it, close it
        let closed = UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        sock.send_to(b"hello", closed).unwrap();
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut got = vec![];
        while got.is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
            got = drain(sock.as_raw_fd());
        }
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].dest, closed);
        assert_eq!((got[0].icmp_type, got[0].code), (3, 3), "port unreachable");
        assert!(drain(sock.as_raw_fd()).is_empty(), "queue emptied");
    }

    #[test]
    fn nothing_queued_without_errors() {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        enable(&sock).unwrap();
        assert!(drain(sock.as_raw_fd()).is_empty());
    }
}
