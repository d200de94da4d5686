//! Capture layer: pcap/pcapng files and live interfaces → a stream of [`CaptureEvent`]s.
//!
//! The pipeline for every frame is: link layer ([`link`]) → IPv4/IPv6 with fragment
//! reassembly ([`reassembly`]) → UDP (ports 500/4500 and user ports) or TCP (RFC 8229
//! stream reassembly and framing, [`tcp`]) or raw ESP. The result is a sequence of
//! events: complete IKE messages (the bytes only; parsing is `wire`'s job), ESP packets,
//! NAT-T keepalives and diagnostics for anything malformed or truncated.
//!
//! Memory use is bounded by the live state only (fragment reassemblies and TCP streams,
//! both capped by [`CaptureOptions`]); packets are never collected.
//!
//! ```no_run
//! use mobikectl::capture::{CaptureEvent, CaptureOptions, CaptureReader};
//! let mut reader = CaptureReader::open_file("cap.pcap", &CaptureOptions::default())?;
//! while let Some(ev) = reader.next_event() {
//!     if let CaptureEvent::Ike(pkt) = ev {
//!         println!("frame {}: {} bytes of IKE", pkt.frame, pkt.data.len());
//!     }
//! }
//! # Ok::<(), mobikectl::capture::CaptureError>(())
//! ```
//!
//! # Diagnostic severities
//!
//! * [`Severity::Malformed`]: the bytes are not what they claim to be: the capture file is
//!   corrupt or truncated, an IP/UDP/TCP header is inconsistent (lengths that lie, bad
//!   header fields), a payload on an IKE port is not IKE, RFC 8229 framing is broken,
//!   IKE header length disagrees with the datagram, conflicting fragments.
//! * [`Severity::Warning`]: the packet may be fine but we could not see (all of) it:
//!   snap-length cuts, reassemblies that timed out, were evicted or were incomplete at the
//!   end of the capture, gaps and overflows in TCP streams, trailing bytes after an IKE
//!   message, overlapping fragments (with identical content: Info, not reported).
//! * [`Severity::Info`]: notable but normal: IKEv1 messages (not delivered as
//!   [`CaptureEvent::Ike`]), joining a TCP stream in the middle.

mod decoder;
pub mod link;
mod reader;
pub mod reassembly;
pub mod tcp;

use std::fmt;
use std::net::{IpAddr, SocketAddr};

pub use decoder::{CaptureStats, Decoder};
pub use reader::{live_filter, live_filter_untagged, CaptureError, CaptureReader};

/// Well-known IKE port (RFC 7296).
pub const IKE_PORT: u16 = 500;
/// Well-known NAT-T / IKE-over-TCP port (RFC 3948, RFC 8229).
pub const NATT_PORT: u16 = 4500;

/// How an IKE message was carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// Plain UDP (port 500 or a user-added port).
    Udp,
    /// UDP with the 4-byte non-ESP marker (port 4500 or a user-added port), RFC 3948.
    UdpEncap,
    /// TCP encapsulation, RFC 8229 / RFC 9329.
    Tcp,
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::Udp => "udp",
            Transport::UdpEncap => "udp-encap",
            Transport::Tcp => "tcp",
        })
    }
}

/// A complete IKE message as seen on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IkePacket {
    /// 1-based frame number (file order); for TCP the segment that completed the message,
    /// for fragmented IP the fragment that completed the datagram.
    pub frame: u64,
    /// Capture time of that frame, microseconds since the Unix epoch.
    pub time_us: i64,
    pub src: IpAddr,
    pub sport: u16,
    pub dst: IpAddr,
    pub dport: u16,
    pub transport: Transport,
    /// The IKE message: starts with the IKE header; non-ESP marker / TCP framing removed.
    pub data: Vec<u8>,
}

/// One end of an ESP packet's path: the outer IP address and, for UDP- or TCP-encapsulated
/// ESP, the port. Raw ESP (IP protocol 50) has no port.
///
/// Displays the way network tools write endpoints: `203.0.113.1:4500`,
/// `[2001:db8::1]:4500`, and the bare address for raw ESP (`203.0.113.1`, `2001:db8::1`).
/// Two endpoints are equal when address and port are, so a NAT rebinding that keeps the
/// address and changes the port is a different endpoint, and so is the same address with and
/// without UDP encapsulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Endpoint {
    pub addr: IpAddr,
    /// `None` for raw ESP.
    pub port: Option<u16>,
}

impl Endpoint {
    pub fn new(addr: IpAddr, port: Option<u16>) -> Endpoint {
        Endpoint { addr, port }
    }
}

/// An address without a port: raw ESP.
impl From<IpAddr> for Endpoint {
    fn from(addr: IpAddr) -> Endpoint {
        Endpoint { addr, port: None }
    }
}

impl From<SocketAddr> for Endpoint {
    fn from(a: SocketAddr) -> Endpoint {
        Endpoint {
            addr: a.ip(),
            port: Some(a.port()),
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.addr, self.port) {
            (addr, None) => write!(f, "{addr}"),
            (IpAddr::V4(a), Some(p)) => write!(f, "{a}:{p}"),
            (IpAddr::V6(a), Some(p)) => write!(f, "[{a}]:{p}"),
        }
    }
}

/// Severity of a [`CaptureEvent::Diagnostic`]; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Info,
    Warning,
    Malformed,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Malformed => "malformed",
        })
    }
}

/// One thing found in a capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureEvent {
    /// A complete IKE message.
    Ike(IkePacket),
    /// An ESP packet (raw IP protocol 50 when `encap` is false; UDP- or TCP-encapsulated
    /// when true). `len` is the ESP length (SPI to the end of the ICV) as declared by the
    /// enclosing headers, even when the capture was cut by the snap length.
    ///
    /// `sport`/`dport` are the ports of the UDP datagram (RFC 3948) or TCP connection
    /// (RFC 8229) that carried the packet, and `None` for raw ESP, which has no ports (not
    /// `Some(0)`: port 0 is a value a packet can carry). They are `Some` exactly when `encap`
    /// is true. A NAT rebinding often changes only the port, so endpoints are address *and*
    /// port.
    Esp {
        frame: u64,
        time_us: i64,
        src: IpAddr,
        /// Source port of the encapsulation; `None` for raw ESP.
        sport: Option<u16>,
        dst: IpAddr,
        /// Destination port of the encapsulation; `None` for raw ESP.
        dport: Option<u16>,
        spi: u32,
        seq: u32,
        len: u32,
        encap: bool,
        /// The ESP packet from the SPI on, as captured (possibly cut by the snap length),
        /// when [`CaptureOptions::esp_data`] is set; empty otherwise.
        data: Vec<u8>,
    },
    /// A NAT-T keepalive (a single 0xFF byte on UDP 4500, RFC 3948).
    Keepalive {
        frame: u64,
        time_us: i64,
        src: IpAddr,
        sport: u16,
        dst: IpAddr,
        dport: u16,
    },
    /// Something malformed, truncated or notable. `message` does not repeat the frame
    /// number; `Display` prints `frame N: message`.
    Diagnostic {
        frame: u64,
        severity: Severity,
        message: String,
    },
}

impl CaptureEvent {
    /// The frame number the event belongs to.
    pub fn frame(&self) -> u64 {
        match self {
            CaptureEvent::Ike(p) => p.frame,
            CaptureEvent::Esp { frame, .. }
            | CaptureEvent::Keepalive { frame, .. }
            | CaptureEvent::Diagnostic { frame, .. } => *frame,
        }
    }
}

impl fmt::Display for CaptureEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureEvent::Ike(p) => write!(
                f,
                "frame {}: IKE {} {}:{} -> {}:{} ({} bytes)",
                p.frame,
                p.transport,
                p.src,
                p.sport,
                p.dst,
                p.dport,
                p.data.len()
            ),
            CaptureEvent::Esp {
                frame,
                src,
                sport,
                dst,
                dport,
                spi,
                seq,
                len,
                encap,
                ..
            } => write!(
                f,
                "frame {frame}: ESP{} {} -> {} spi 0x{spi:08x} seq {seq} ({len} bytes)",
                if *encap { " (encapsulated)" } else { "" },
                Endpoint::new(*src, *sport),
                Endpoint::new(*dst, *dport),
            ),
            CaptureEvent::Keepalive {
                frame,
                src,
                sport,
                dst,
                dport,
                ..
            } => write!(
                f,
                "frame {frame}: NAT-T keepalive {src}:{sport} -> {dst}:{dport}"
            ),
            CaptureEvent::Diagnostic {
                frame,
                severity,
                message,
            } => write!(f, "frame {frame}: {severity}: {message}"),
        }
    }
}

/// Options for reading a capture. `Default` gives the standard ports and sane bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureOptions {
    /// Extra UDP ports carrying plain IKE (500 is always included).
    pub udp_ports: Vec<u16>,
    /// Extra UDP ports carrying NAT-T encapsulation: non-ESP marker + IKE, ESP, keepalives
    /// (4500 is always included).
    pub udp_encap_ports: Vec<u16>,
    /// Extra TCP ports carrying RFC 8229 IKE/ESP over TCP (4500 is always included).
    pub tcp_ports: Vec<u16>,
    /// IP fragment reassembly timeout in capture time (default 30 s).
    pub reassembly_timeout_us: i64,
    /// Maximum number of concurrent IP reassemblies (oldest evicted beyond that).
    pub max_reassemblies: usize,
    /// Maximum bytes buffered across all IP reassemblies (oldest evicted beyond that).
    pub max_reassembly_bytes: usize,
    /// Maximum number of tracked TCP directions (least recently active evicted beyond that).
    pub max_tcp_streams: usize,
    /// Maximum out-of-order bytes buffered per TCP direction before declaring a gap.
    pub max_tcp_buffer: usize,
    /// Live capture: snap length (default 65535).
    pub snaplen: i32,
    /// Live capture: promiscuous mode (default false).
    pub promisc: bool,
    /// Live capture: BPF filter to use instead of [`live_filter`]'s.
    pub filter: Option<String>,
    /// Copy each ESP packet's bytes into [`CaptureEvent::Esp`]'s `data` (default false:
    /// only runs that decrypt ESP pay for the copy).
    pub esp_data: bool,
}

impl Default for CaptureOptions {
    fn default() -> Self {
        CaptureOptions {
            udp_ports: Vec::new(),
            udp_encap_ports: Vec::new(),
            tcp_ports: Vec::new(),
            reassembly_timeout_us: 30_000_000,
            max_reassemblies: 1024,
            max_reassembly_bytes: 8 << 20,
            max_tcp_streams: 1024,
            max_tcp_buffer: 256 << 10,
            snaplen: 65535,
            promisc: false,
            filter: None,
            esp_data: false,
        }
    }
}

/// A set of ports as a 65536-bit bitmap: one lookup per packet, no hashing.
#[derive(Clone)]
pub(crate) struct PortSet(Box<[u64; 1024]>);

impl PortSet {
    pub(crate) fn new(default: u16, extra: &[u16]) -> PortSet {
        let mut s = PortSet(Box::new([0; 1024]));
        s.insert(default);
        for &p in extra {
            s.insert(p);
        }
        s
    }
    fn insert(&mut self, p: u16) {
        self.0[usize::from(p >> 6)] |= 1 << (p & 63);
    }
    #[inline]
    pub(crate) fn contains(&self, p: u16) -> bool {
        self.0[usize::from(p >> 6)] & (1 << (p & 63)) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_set() {
        let s = PortSet::new(500, &[7500, 65535, 0]);
        for p in [500, 7500, 65535, 0] {
            assert!(s.contains(p), "{p}");
        }
        for p in [501, 4500, 64, 65534, 1] {
            assert!(!s.contains(p), "{p}");
        }
    }

    #[test]
    fn endpoint_display() {
        let v4: IpAddr = "203.0.113.2".parse().unwrap();
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(
            Endpoint::new(v4, Some(57432)).to_string(),
            "203.0.113.2:57432"
        );
        assert_eq!(
            Endpoint::new(v6, Some(4500)).to_string(),
            "[2001:db8::1]:4500"
        );
        assert_eq!(Endpoint::from(v4).to_string(), "203.0.113.2");
        assert_eq!(Endpoint::from(v6).to_string(), "2001:db8::1");
        assert_eq!(
            Endpoint::from(SocketAddr::new(v6, 0)),
            Endpoint::new(v6, Some(0))
        );
        // A port-only change is a different endpoint; so is losing the encapsulation.
        assert_ne!(
            Endpoint::new(v4, Some(57432)),
            Endpoint::new(v4, Some(36472))
        );
        assert_ne!(Endpoint::new(v4, Some(4500)), Endpoint::from(v4));
    }

    #[test]
    fn esp_display() {
        let ev = |sport, dport, encap| CaptureEvent::Esp {
            frame: 26,
            time_us: 0,
            src: "203.0.113.2".parse().unwrap(),
            sport,
            dst: "203.0.113.1".parse().unwrap(),
            dport,
            spi: 0x7d1e_e0ec,
            seq: 6,
            len: 120,
            encap,
            data: Vec::new(),
        };
        assert_eq!(
            ev(Some(36472), Some(4500), true).to_string(),
            "frame 26: ESP (encapsulated) 203.0.113.2:36472 -> 203.0.113.1:4500 spi 0x7d1ee0ec seq 6 (120 bytes)"
        );
        assert_eq!(
            ev(None, None, false).to_string(),
            "frame 26: ESP 203.0.113.2 -> 203.0.113.1 spi 0x7d1ee0ec seq 6 (120 bytes)"
        );
    }

    #[test]
    fn display() {
        let ev = CaptureEvent::Diagnostic {
            frame: 7,
            severity: Severity::Warning,
            message: "captured 96 of 300 bytes (snap length); IKE message incomplete".into(),
        };
        assert_eq!(
            ev.to_string(),
            "frame 7: warning: captured 96 of 300 bytes (snap length); IKE message incomplete"
        );
        assert_eq!(ev.frame(), 7);
    }
}
