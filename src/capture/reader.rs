//! libpcap front end: files (pcap and pcapng) and live interfaces.

use std::fmt;
use std::path::Path;

use pcap::{Activated, Capture};

use super::decoder::{CaptureStats, Decoder};
use super::link::LinkType;
use super::{CaptureEvent, CaptureOptions, Severity};

/// Why a capture could not be opened.
#[derive(Debug)]
pub enum CaptureError {
    /// libpcap refused (missing file, not a capture file, no permission, bad filter...).
    Pcap(pcap::Error),
    /// The capture's link type (libpcap DLT value) is not supported.
    UnsupportedLinkType(i32),
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureError::Pcap(e) => write!(f, "{e}"),
            CaptureError::UnsupportedLinkType(dlt) => {
                let name = pcap::Linktype(*dlt)
                    .get_name()
                    .unwrap_or_else(|_| "unknown".into());
                write!(f, "unsupported link type {dlt} ({name})")
            }
        }
    }
}

impl std::error::Error for CaptureError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CaptureError::Pcap(e) => Some(e),
            CaptureError::UnsupportedLinkType(_) => None,
        }
    }
}

impl From<pcap::Error> for CaptureError {
    fn from(e: pcap::Error) -> Self {
        CaptureError::Pcap(e)
    }
}

/// The BPF filter used for live captures: IKE and NAT-T UDP ports, IKE TCP ports, ESP,
/// and IP fragments (non-first fragments carry no ports), with and without VLAN tags.
/// Link types without VLAN support in libpcap (e.g. Linux `any`) use
/// [`live_filter_untagged`] instead.
pub fn live_filter(opts: &CaptureOptions) -> String {
    let base = live_filter_untagged(opts);
    format!("({base}) or (vlan and ({base}))")
}

/// [`live_filter`] without the VLAN-tagged alternative.
pub fn live_filter_untagged(opts: &CaptureOptions) -> String {
    let mut parts = Vec::new();
    let mut udp: Vec<u16> = vec![super::IKE_PORT, super::NATT_PORT];
    udp.extend(&opts.udp_ports);
    udp.extend(&opts.udp_encap_ports);
    udp.sort_unstable();
    udp.dedup();
    for p in udp {
        parts.push(format!("udp port {p}"));
    }
    let mut tcp: Vec<u16> = vec![super::NATT_PORT];
    tcp.extend(&opts.tcp_ports);
    tcp.sort_unstable();
    tcp.dedup();
    for p in tcp {
        parts.push(format!("tcp port {p}"));
    }
    parts.push("ip proto 50".into());
    parts.push("ip6 proto 50".into());
    parts.push("(ip[6:2] & 0x3fff != 0)".into());
    parts.push("ip6 proto 44".into());
    parts.join(" or ")
}

/// Reads a capture file or a live interface and yields [`CaptureEvent`]s.
///
/// Frame numbers are 1-based in file (or arrival) order. A read error in the middle of a
/// file (e.g. a truncated last record) yields a Malformed diagnostic for the frame that
/// could not be read, then the end-of-capture diagnostics, then `None`.
pub struct CaptureReader {
    cap: Capture<dyn Activated>,
    decoder: Decoder,
    frame: u64,
    /// Bytes of records read so far (headers estimated): a loader's progress.
    bytes_read: u64,
    live: bool,
    done: bool,
}

impl CaptureReader {
    /// Open a pcap or pcapng file.
    pub fn open_file(
        path: impl AsRef<Path>,
        opts: &CaptureOptions,
    ) -> Result<CaptureReader, CaptureError> {
        let cap = Capture::from_file(path)?;
        Self::new(cap.into(), opts, false)
    }

    /// Capture live on `iface` (needs privileges). Uses `opts.filter`, else [`live_filter`]
    /// (or [`live_filter_untagged`] where libpcap cannot filter on VLAN tags).
    pub fn open_live(iface: &str, opts: &CaptureOptions) -> Result<CaptureReader, CaptureError> {
        let mut cap = Capture::from_device(iface)?
            .promisc(opts.promisc)
            .snaplen(opts.snaplen)
            .immediate_mode(true)
            .timeout(500)
            .open()?;
        match &opts.filter {
            Some(f) => cap.filter(f, true)?,
            None => {
                if cap.filter(&live_filter(opts), true).is_err() {
                    cap.filter(&live_filter_untagged(opts), true)?;
                }
            }
        }
        Self::new(cap.into(), opts, true)
    }

    fn new(
        cap: Capture<dyn Activated>,
        opts: &CaptureOptions,
        live: bool,
    ) -> Result<CaptureReader, CaptureError> {
        let dlt = cap.get_datalink().0;
        let link = LinkType::from_dlt(dlt).ok_or(CaptureError::UnsupportedLinkType(dlt))?;
        Ok(CaptureReader {
            cap,
            decoder: Decoder::new(link, opts),
            frame: 0,
            bytes_read: 0,
            live,
            done: false,
        })
    }

    /// The capture's link type.
    pub fn link_type(&self) -> LinkType {
        self.decoder.link_type()
    }

    /// Counters so far.
    pub fn stats(&self) -> CaptureStats {
        self.decoder.stats()
    }

    /// Number of frames read so far.
    pub fn frames_read(&self) -> u64 {
        self.frame
    }

    /// About how many bytes of the file were read so far: the records' captured bytes and
    /// 16 bytes of header each (pcapng's are larger, so this is a lower bound).
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    /// The next event; `None` at the end of the file. For live captures this blocks until
    /// something arrives.
    pub fn next_event(&mut self) -> Option<CaptureEvent> {
        loop {
            if let Some(ev) = self.decoder.pop() {
                return Some(ev);
            }
            if self.done {
                return None;
            }
            match self.cap.next_packet() {
                Ok(p) => {
                    self.frame += 1;
                    self.bytes_read += u64::from(p.header.caplen) + 16;
                    let ts = p.header.ts;
                    // timeval field types differ between platforms
                    #[allow(clippy::useless_conversion)]
                    let time_us = i64::from(ts.tv_sec)
                        .saturating_mul(1_000_000)
                        .saturating_add(i64::from(ts.tv_usec));
                    self.decoder
                        .decode(self.frame, time_us, p.data, p.header.len);
                }
                Err(pcap::Error::NoMorePackets) => {
                    self.done = true;
                    self.decoder.finish();
                }
                Err(pcap::Error::TimeoutExpired) if self.live => {}
                Err(e) => {
                    self.done = true;
                    let msg = if self.live {
                        format!("capture error: {e}")
                    } else {
                        format!("capture file truncated or corrupt; stopped reading: {e}")
                    };
                    self.decoder
                        .push_diagnostic(self.frame + 1, Severity::Malformed, msg);
                    self.decoder.finish();
                }
            }
        }
    }
}

impl Iterator for CaptureReader {
    type Item = CaptureEvent;

    fn next(&mut self) -> Option<CaptureEvent> {
        self.next_event()
    }
}
