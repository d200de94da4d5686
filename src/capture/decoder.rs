//! Frame decoder: link layer → IP (with reassembly) → UDP / TCP / ESP → events.
//!
//! [`Decoder`] is independent of libpcap: feed it frames with [`Decoder::decode`] and pull
//! events with [`Decoder::pop`]; [`super::CaptureReader`] does exactly that.

use std::collections::VecDeque;
use std::net::IpAddr;

use etherparse::{IpNumber, Ipv6ExtensionsSlice, LaxIpv4Slice, LaxIpv6Slice, LenSource};

use super::link::{self, LinkType, Network};
use super::reassembly::{FragKey, Fragment, Reassembler};
use super::tcp::{Segment, TcpReassembler};
use super::{CaptureEvent, CaptureOptions, IkePacket, PortSet, Severity, Transport};

/// Size of the fixed IKE header (RFC 7296 section 3.1).
pub(crate) const IKE_HEADER_LEN: usize = 28;

/// Counters for a summary line. Event counts are taken as events are popped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaptureStats {
    /// Frames fed to the decoder.
    pub frames: u64,
    /// Captured bytes fed to the decoder.
    pub bytes: u64,
    /// Frames that were not IPv4/IPv6.
    pub non_ip: u64,
    /// IP fragments seen / datagrams reassembled / reassemblies dropped.
    pub fragments: u64,
    pub reassembled: u64,
    pub reassembly_dropped: u64,
    /// TCP segments on IKE TCP ports.
    pub tcp_segments: u64,
    /// Events handed out, by kind.
    pub ike: u64,
    pub esp: u64,
    pub keepalives: u64,
    pub diagnostics: u64,
}

/// Where a frame came from; used for diagnostics.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx {
    pub frame: u64,
    pub time_us: i64,
    /// `(captured, original)` when the frame was cut by the snap length.
    pub cut: Option<(u32, u32)>,
    /// Copy ESP packet bytes into [`CaptureEvent::Esp`]'s `data`
    /// ([`CaptureOptions::esp_data`]).
    pub esp_data: bool,
}

/// Addresses and ports of a UDP datagram or TCP segment.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Meta {
    pub src: IpAddr,
    pub sport: u16,
    pub dst: IpAddr,
    pub dport: u16,
}

pub(crate) fn diag(
    out: &mut VecDeque<CaptureEvent>,
    frame: u64,
    severity: Severity,
    message: String,
) {
    out.push_back(CaptureEvent::Diagnostic {
        frame,
        severity,
        message,
    });
}

/// Report data missing at the end of a packet: a snap-length cut (Warning) or, when the
/// frame was captured whole, lying length fields (Malformed).
fn incomplete(out: &mut VecDeque<CaptureEvent>, ctx: &Ctx, what: &str, need: usize, have: usize) {
    match ctx.cut {
        Some((caplen, len)) => diag(
            out,
            ctx.frame,
            Severity::Warning,
            format!("captured {caplen} of {len} bytes (snap length); {what} incomplete"),
        ),
        None => diag(
            out,
            ctx.frame,
            Severity::Malformed,
            format!("{what} incomplete: {need} bytes expected, {have} present"),
        ),
    }
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// Sanity-check an IKE message and queue it.
///
/// `bytes` is what was captured, `full_len` the length the transport says the message has
/// (larger than `bytes.len()` when the packet was cut).
pub(crate) fn emit_ike(
    out: &mut VecDeque<CaptureEvent>,
    ctx: &Ctx,
    meta: &Meta,
    transport: Transport,
    bytes: &[u8],
    full_len: usize,
) {
    if !is_ikev2_header(out, ctx, meta, bytes, full_len) {
        return;
    }
    let Some(data) = within_declared_length(out, ctx, bytes, full_len) else {
        return;
    };
    out.push_back(CaptureEvent::Ike(IkePacket {
        frame: ctx.frame,
        time_us: ctx.time_us,
        src: meta.src,
        sport: meta.sport,
        dst: meta.dst,
        dport: meta.dport,
        transport,
        data: data.to_vec(),
    }));
}

/// Whether `bytes` start with a whole IKEv2 header; says why not otherwise.
fn is_ikev2_header(
    out: &mut VecDeque<CaptureEvent>,
    ctx: &Ctx,
    meta: &Meta,
    bytes: &[u8],
    full_len: usize,
) -> bool {
    if bytes.len() < IKE_HEADER_LEN {
        if bytes.len() < full_len && full_len >= IKE_HEADER_LEN {
            incomplete(out, ctx, "IKE message", full_len, bytes.len());
        } else {
            diag(
                out,
                ctx.frame,
                Severity::Malformed,
                format!(
                    "not IKE: {}-byte payload to port {} is shorter than the {}-byte IKE header",
                    full_len, meta.dport, IKE_HEADER_LEN
                ),
            );
        }
        return false;
    }
    let version = bytes[17];
    let (severity, text) = match version >> 4 {
        2 => return true,
        1 => (
            Severity::Info,
            format!(
                "IKEv1 message (version {}.{}); not decoded",
                version >> 4,
                version & 0xf
            ),
        ),
        _ => (
            Severity::Malformed,
            format!(
                "not IKE: version byte 0x{version:02x} in a {}-byte payload to port {}",
                full_len, meta.dport
            ),
        ),
    };
    diag(out, ctx.frame, severity, text);
    false
}

/// The message as its header's length declares it, reporting a length that disagrees with
/// what was carried; `None` when a cut message's header length is unusable.
fn within_declared_length<'b>(
    out: &mut VecDeque<CaptureEvent>,
    ctx: &Ctx,
    bytes: &'b [u8],
    full_len: usize,
) -> Option<&'b [u8]> {
    let declared = be32(bytes, 24).unwrap_or(0) as usize;
    if bytes.len() < full_len {
        if declared < IKE_HEADER_LEN {
            incomplete(out, ctx, "IKE message", full_len, bytes.len());
            return None;
        }
        if declared > bytes.len() {
            // Still delivered: the header of a cut message says which exchange it was.
            incomplete(out, ctx, "IKE message", declared.max(full_len), bytes.len());
        }
        return Some(&bytes[..declared.min(bytes.len())]);
    }
    let problem = if declared > bytes.len() {
        Some((
            Severity::Malformed,
            format!(
                "IKE header length {declared} exceeds the {} bytes carried",
                bytes.len()
            ),
        ))
    } else if declared < IKE_HEADER_LEN {
        Some((
            Severity::Malformed,
            format!("IKE header length {declared} is smaller than the IKE header"),
        ))
    } else if declared < bytes.len() {
        Some((
            Severity::Warning,
            format!(
                "{} bytes follow the IKE message (header length {declared}, {} bytes carried)",
                bytes.len() - declared,
                bytes.len()
            ),
        ))
    } else {
        None
    };
    if let Some((severity, text)) = problem {
        diag(out, ctx.frame, severity, text);
    }
    Some(bytes)
}

/// Queue an ESP event for `b` (starting at the SPI, as captured); `len` is the declared ESP
/// length. `ports` are the (source, destination) ports of the UDP datagram or TCP stream
/// that carried it, `None` for raw ESP.
pub(crate) fn emit_esp(
    out: &mut VecDeque<CaptureEvent>,
    ctx: &Ctx,
    src: IpAddr,
    dst: IpAddr,
    ports: Option<(u16, u16)>,
    b: &[u8],
    len: usize,
) -> bool {
    match (be32(b, 0), be32(b, 4)) {
        (Some(spi), Some(seq)) => {
            out.push_back(CaptureEvent::Esp {
                frame: ctx.frame,
                time_us: ctx.time_us,
                src,
                sport: ports.map(|p| p.0),
                dst,
                dport: ports.map(|p| p.1),
                spi,
                seq,
                len: u32::try_from(len).unwrap_or(u32::MAX),
                encap: ports.is_some(),
                data: if ctx.esp_data { b.to_vec() } else { Vec::new() },
            });
            true
        }
        _ => false,
    }
}

/// A fragmenting IPv6 fragment header.
#[derive(Debug, Clone, Copy)]
struct V6Frag {
    /// Offset of the fragment data in the IPv6 packet.
    data_start: usize,
    next_header: IpNumber,
    id: u32,
    /// Byte offset of the data in the datagram.
    offset: u16,
    more: bool,
}

/// Find a fragment header that fragments the payload (offset or M flag non-zero) by
/// walking the extension headers of the IPv6 packet `b` ourselves:
///
/// * etherparse 0.16's `Ipv6FragmentHeaderSlice` reads offset and M with the IPv4 bit
///   layout (offset in the low 13 bits, M in the top bit) whereas RFC 8200 puts the
///   offset in the top 13 bits and M in the lowest bit (etherparse issue #150);
/// * its `Ipv6ExtensionsSlice` iterator reads past the end when the lax parse stopped at
///   a broken header, so it must not be used on untrusted input.
fn find_fragment(b: &[u8]) -> Option<V6Frag> {
    let mut next = *b.get(6)?;
    let mut off = 40;
    // Bounded: every header is at least 8 bytes and the packet is finite, but cap the
    // walk anyway.
    for _ in 0..16 {
        let h = b.get(off..off + 8)?;
        match next {
            0 | 43 | 60 => {
                next = h[0];
                off += (usize::from(h[1]) + 1) * 8;
            }
            51 => {
                next = h[0];
                off += (usize::from(h[1]) + 2) * 4;
            }
            44 => {
                let word = u16::from_be_bytes([h[2], h[3]]);
                let (offset, more) = (word & !7, word & 1 != 0);
                return (offset != 0 || more).then_some(V6Frag {
                    data_start: off + 8,
                    next_header: IpNumber(h[0]),
                    id: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
                    offset,
                    more,
                });
            }
            _ => return None,
        }
    }
    None
}

/// Decodes frames of one link type into [`CaptureEvent`]s.
pub struct Decoder {
    link: LinkType,
    ike_ports: PortSet,
    encap_ports: PortSet,
    tcp_ports: PortSet,
    reasm: Reassembler,
    tcp: TcpReassembler,
    out: VecDeque<CaptureEvent>,
    stats: CaptureStats,
    esp_data: bool,
}

impl Decoder {
    /// A decoder for frames of `link`.
    pub fn new(link: LinkType, opts: &CaptureOptions) -> Decoder {
        Decoder {
            link,
            ike_ports: PortSet::new(super::IKE_PORT, &opts.udp_ports),
            encap_ports: PortSet::new(super::NATT_PORT, &opts.udp_encap_ports),
            tcp_ports: PortSet::new(super::NATT_PORT, &opts.tcp_ports),
            reasm: Reassembler::new(opts),
            tcp: TcpReassembler::new(opts),
            out: VecDeque::new(),
            stats: CaptureStats::default(),
            esp_data: opts.esp_data,
        }
    }

    /// The link type this decoder reads.
    pub fn link_type(&self) -> LinkType {
        self.link
    }

    /// Counters so far.
    pub fn stats(&self) -> CaptureStats {
        let mut s = self.stats;
        s.fragments = self.reasm.stats.fragments;
        s.reassembled = self.reasm.stats.reassembled;
        s.reassembly_dropped = self.reasm.stats.dropped;
        s
    }

    /// Next queued event.
    pub fn pop(&mut self) -> Option<CaptureEvent> {
        let ev = self.out.pop_front()?;
        match &ev {
            CaptureEvent::Ike(_) => self.stats.ike += 1,
            CaptureEvent::Esp { .. } => self.stats.esp += 1,
            CaptureEvent::Keepalive { .. } => self.stats.keepalives += 1,
            CaptureEvent::Diagnostic { .. } => self.stats.diagnostics += 1,
        }
        Some(ev)
    }

    /// Queue a diagnostic from outside (e.g. the file reader).
    pub fn push_diagnostic(&mut self, frame: u64, severity: Severity, message: String) {
        diag(&mut self.out, frame, severity, message);
    }

    /// End of input: report pending reassemblies and unfinished TCP frames.
    pub fn finish(&mut self) {
        self.reasm.finish(&mut self.out);
        self.tcp.finish(&mut self.out);
    }

    /// Decode one frame. `data` is what was captured, `orig_len` the frame's length on the
    /// wire; `frame` is 1-based, `time_us` microseconds since the epoch.
    pub fn decode(&mut self, frame: u64, time_us: i64, data: &[u8], orig_len: u32) {
        self.stats.frames += 1;
        self.stats.bytes += data.len() as u64;
        self.reasm.expire(time_us, &mut self.out);
        let caplen = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let ctx = Ctx {
            frame,
            time_us,
            cut: (caplen < orig_len).then_some((caplen, orig_len)),
            esp_data: self.esp_data,
        };
        match link::strip(self.link, data) {
            Ok(Network::Ipv4(b)) => self.ipv4(&ctx, b),
            Ok(Network::Ipv6(b)) => self.ipv6(&ctx, b),
            Ok(Network::Other) => self.stats.non_ip += 1,
            Err(e) => match ctx.cut {
                Some((c, l)) => diag(
                    &mut self.out,
                    frame,
                    Severity::Warning,
                    format!("captured {c} of {l} bytes (snap length); {e}"),
                ),
                None => diag(&mut self.out, frame, Severity::Malformed, e.to_string()),
            },
        }
    }

    fn header_error(&mut self, ctx: &Ctx, what: &str, e: &dyn std::fmt::Display, is_len: bool) {
        match (is_len, ctx.cut) {
            (true, Some((c, l))) => diag(
                &mut self.out,
                ctx.frame,
                Severity::Warning,
                format!("captured {c} of {l} bytes (snap length); {what}: {e}"),
            ),
            _ => diag(
                &mut self.out,
                ctx.frame,
                Severity::Malformed,
                format!("{what}: {e}"),
            ),
        }
    }

    fn ipv4(&mut self, ctx: &Ctx, b: &[u8]) {
        let (ip, ext_err) = match LaxIpv4Slice::from_slice(b) {
            Ok(x) => x,
            Err(e) => {
                let is_len = matches!(e, etherparse::err::ipv4::HeaderSliceError::Len(_));
                return self.header_error(ctx, "IPv4 header", &e, is_len);
            }
        };
        let h = ip.header();
        let pl = ip.payload();
        let src = IpAddr::V4(h.source_addr());
        let dst = IpAddr::V4(h.destination_addr());
        if let Some(e) = ext_err {
            let is_len = matches!(e, etherparse::err::ip_auth::HeaderSliceError::Len(_));
            return self.header_error(ctx, "IPv4 authentication header", &e, is_len);
        }
        let exts_len = ip.extensions().auth.map_or(0, |a| a.slice().len());
        let total = usize::from(h.total_len());
        let declared = if pl.incomplete {
            total.saturating_sub(h.slice().len() + exts_len)
        } else {
            pl.payload.len()
        };
        if pl.len_source == LenSource::Slice && !pl.incomplete {
            diag(
                &mut self.out,
                ctx.frame,
                Severity::Malformed,
                format!(
                    "IPv4 total length {total} is smaller than the {}-byte header; using the captured length",
                    h.slice().len()
                ),
            );
        }
        if pl.incomplete && ctx.cut.is_none() {
            diag(
                &mut self.out,
                ctx.frame,
                Severity::Malformed,
                format!(
                    "IPv4 total length {total} exceeds the {} bytes present",
                    b.len()
                ),
            );
        }
        let proto = pl.ip_number;
        if pl.fragmented {
            if !matches!(
                proto,
                IpNumber::UDP | IpNumber::TCP | IpNumber::ENCAPSULATING_SECURITY_PAYLOAD
            ) {
                return;
            }
            if pl.incomplete {
                return incomplete(
                    &mut self.out,
                    ctx,
                    "IPv4 fragment",
                    declared,
                    pl.payload.len(),
                );
            }
            let frag = Fragment {
                key: FragKey {
                    src,
                    dst,
                    id: u32::from(h.identification()),
                    proto: proto.0,
                },
                offset: u32::from(h.fragments_offset().byte_offset()),
                more: h.more_fragments(),
                data: pl.payload,
                frame: ctx.frame,
                time_us: ctx.time_us,
            };
            if let Some(done) = self.reasm.insert(frag, &mut self.out) {
                let n = done.data.len();
                self.transport(ctx, src, dst, proto, &done.data, n);
                self.reasm.recycle(done.data);
            }
            return;
        }
        self.transport(ctx, src, dst, proto, pl.payload, declared);
    }

    fn ipv6(&mut self, ctx: &Ctx, b: &[u8]) {
        let (ip, ext_err) = match LaxIpv6Slice::from_slice(b) {
            Ok(x) => x,
            Err(e) => {
                let is_len = matches!(e, etherparse::err::ipv6::HeaderSliceError::Len(_));
                return self.header_error(ctx, "IPv6 header", &e, is_len);
            }
        };
        let h = ip.header();
        let pl = ip.payload();
        let src = IpAddr::V6(h.source_addr());
        let dst = IpAddr::V6(h.destination_addr());
        let plen = usize::from(h.payload_length());
        let exts_len = ip.extensions().slice().len();
        if pl.incomplete && ctx.cut.is_none() {
            diag(
                &mut self.out,
                ctx.frame,
                Severity::Malformed,
                format!(
                    "IPv6 payload length {plen} exceeds the {} bytes present",
                    b.len().saturating_sub(40)
                ),
            );
        }
        if let Some(frag) = find_fragment(b) {
            return self.ipv6_fragment(ctx, src, dst, b, plen, pl.incomplete, frag);
        }
        if let Some((e, layer)) = ext_err {
            let is_len = matches!(e, etherparse::err::ipv6_exts::HeaderSliceError::Len(_));
            return self.header_error(ctx, &format!("IPv6 {layer}"), &e, is_len);
        }
        let declared = if pl.incomplete {
            plen.saturating_sub(exts_len)
        } else {
            pl.payload.len()
        };
        self.transport(ctx, src, dst, pl.ip_number, pl.payload, declared);
    }

    #[allow(clippy::too_many_arguments)]
    fn ipv6_fragment(
        &mut self,
        ctx: &Ctx,
        src: IpAddr,
        dst: IpAddr,
        b: &[u8],
        plen: usize,
        cut: bool,
        f: V6Frag,
    ) {
        let proto = f.next_header;
        if !matches!(
            proto,
            IpNumber::UDP
                | IpNumber::TCP
                | IpNumber::ENCAPSULATING_SECURITY_PAYLOAD
                | IpNumber::IPV6_DESTINATION_OPTIONS
                | IpNumber::IPV6_ROUTE_HEADER
                | IpNumber::AUTHENTICATION_HEADER
        ) {
            return;
        }
        let off = f.data_start;
        let end = if cut || plen == 0 {
            b.len()
        } else {
            (40 + plen).min(b.len())
        };
        let data = b.get(off..end).unwrap_or(&[]);
        if cut {
            let declared = (40 + plen).saturating_sub(off);
            return incomplete(&mut self.out, ctx, "IPv6 fragment", declared, data.len());
        }
        let frag = Fragment {
            key: FragKey {
                src,
                dst,
                id: f.id,
                proto: proto.0,
            },
            offset: u32::from(f.offset),
            more: f.more,
            data,
            frame: ctx.frame,
            time_us: ctx.time_us,
        };
        if let Some(done) = self.reasm.insert(frag, &mut self.out) {
            // The reassembled (fragmentable) part may start with more extension headers.
            let (_, ip_number, rest, err) = Ipv6ExtensionsSlice::from_slice_lax(proto, &done.data);
            if let Some((e, layer)) = err {
                diag(
                    &mut self.out,
                    ctx.frame,
                    Severity::Malformed,
                    format!("IPv6 {layer} in reassembled datagram: {e}"),
                );
            } else {
                self.transport(ctx, src, dst, ip_number, rest, rest.len());
            }
            self.reasm.recycle(done.data);
        }
    }

    /// `data` is the captured IP payload, `declared` its length per the IP header.
    fn transport(
        &mut self,
        ctx: &Ctx,
        src: IpAddr,
        dst: IpAddr,
        proto: IpNumber,
        data: &[u8],
        declared: usize,
    ) {
        match proto {
            IpNumber::UDP => self.udp(ctx, src, dst, data, declared),
            IpNumber::TCP => self.tcp(ctx, src, dst, data, declared),
            IpNumber::ENCAPSULATING_SECURITY_PAYLOAD
                if !emit_esp(&mut self.out, ctx, src, dst, None, data, declared) =>
            {
                if data.len() < declared {
                    incomplete(&mut self.out, ctx, "ESP header", 8, data.len());
                } else {
                    diag(
                        &mut self.out,
                        ctx.frame,
                        Severity::Malformed,
                        format!(
                            "ESP packet of {} bytes is shorter than the 8-byte ESP header",
                            data.len()
                        ),
                    );
                }
            }
            _ => {}
        }
    }

    fn udp(&mut self, ctx: &Ctx, src: IpAddr, dst: IpAddr, data: &[u8], declared: usize) {
        let (Some(sp), Some(dp)) = (data.get(0..2), data.get(2..4)) else {
            return;
        };
        let sport = u16::from_be_bytes([sp[0], sp[1]]);
        let dport = u16::from_be_bytes([dp[0], dp[1]]);
        let encap = self.encap_ports.contains(dport) || self.encap_ports.contains(sport);
        if !(encap || self.ike_ports.contains(dport) || self.ike_ports.contains(sport)) {
            return;
        }
        let Some(l) = data.get(4..6) else {
            return incomplete(&mut self.out, ctx, "UDP header", 8, data.len());
        };
        if data.len() < 8 {
            return incomplete(&mut self.out, ctx, "UDP header", 8, data.len());
        }
        let ulen = usize::from(u16::from_be_bytes([l[0], l[1]]));
        let end = self.udp_end(ctx, ulen, declared);
        let full = end.saturating_sub(8);
        let payload = data.get(8..end.min(data.len())).unwrap_or(&[]);
        let meta = Meta {
            src,
            sport,
            dst,
            dport,
        };
        if encap {
            self.udp_encapsulated(ctx, &meta, payload, full);
        } else {
            emit_ike(&mut self.out, ctx, &meta, Transport::Udp, payload, full);
        }
    }

    /// Where the UDP datagram ends: its length field, or the IP payload's length when the
    /// field is impossible (reported).
    fn udp_end(&mut self, ctx: &Ctx, ulen: usize, declared: usize) -> usize {
        if ulen < 8 {
            diag(
                &mut self.out,
                ctx.frame,
                Severity::Malformed,
                format!("UDP length {ulen} is less than the 8-byte UDP header; using the IP payload length {declared}"),
            );
            declared
        } else if ulen > declared {
            diag(
                &mut self.out,
                ctx.frame,
                Severity::Malformed,
                format!("UDP length {ulen} exceeds the IP payload of {declared} bytes"),
            );
            declared
        } else {
            if ulen < declared {
                diag(
                    &mut self.out,
                    ctx.frame,
                    Severity::Warning,
                    format!(
                        "UDP length {ulen} is shorter than the IP payload of {declared} bytes; {} trailing bytes ignored",
                        declared - ulen
                    ),
                );
            }
            ulen
        }
    }

    /// A datagram on a NAT-T port (RFC 3948): keepalive, IKE after the non-ESP marker, or
    /// ESP. `full` is its declared payload length, `payload` what was captured of it.
    fn udp_encapsulated(&mut self, ctx: &Ctx, meta: &Meta, payload: &[u8], full: usize) {
        let (src, sport, dst, dport) = (meta.src, meta.sport, meta.dst, meta.dport);
        if full == 1 && payload == [0xff] {
            self.out.push_back(CaptureEvent::Keepalive {
                frame: ctx.frame,
                time_us: ctx.time_us,
                src,
                sport,
                dst,
                dport,
            });
        } else if payload.len() >= 4 && payload[..4] == [0, 0, 0, 0] {
            emit_ike(
                &mut self.out,
                ctx,
                meta,
                Transport::UdpEncap,
                &payload[4..],
                full - 4,
            );
        } else if emit_esp(
            &mut self.out,
            ctx,
            src,
            dst,
            Some((sport, dport)),
            payload,
            full,
        ) {
        } else if payload.len() < full {
            incomplete(
                &mut self.out,
                ctx,
                "UDP-encapsulated packet",
                full,
                payload.len(),
            );
        } else {
            diag(
                &mut self.out,
                ctx.frame,
                Severity::Malformed,
                format!(
                    "{full}-byte UDP payload to port {dport} is neither a NAT-T keepalive, IKE (non-ESP marker) nor ESP"
                ),
            );
        }
    }

    fn tcp(&mut self, ctx: &Ctx, src: IpAddr, dst: IpAddr, data: &[u8], declared: usize) {
        let (Some(sp), Some(dp)) = (data.get(0..2), data.get(2..4)) else {
            return;
        };
        let sport = u16::from_be_bytes([sp[0], sp[1]]);
        let dport = u16::from_be_bytes([dp[0], dp[1]]);
        if !(self.tcp_ports.contains(dport) || self.tcp_ports.contains(sport)) {
            return;
        }
        self.stats.tcp_segments += 1;
        let tcp = match etherparse::TcpSlice::from_slice(data) {
            Ok(t) => t,
            Err(e) => {
                let is_len = matches!(e, etherparse::err::tcp::HeaderSliceError::Len(_));
                return self.header_error(ctx, "TCP header", &e, is_len);
            }
        };
        let hlen = tcp.header_slice().len();
        let seg = Segment {
            meta: Meta {
                src,
                sport,
                dst,
                dport,
            },
            seq: tcp.sequence_number(),
            syn: tcp.syn(),
            ack: tcp.ack(),
            fin: tcp.fin(),
            rst: tcp.rst(),
            payload: tcp.payload(),
            declared_len: declared.saturating_sub(hlen),
        };
        self.tcp.segment(ctx, &seg, &mut self.out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v6_with(next: u8, exts: &[u8]) -> Vec<u8> {
        let mut b = vec![0x60, 0, 0, 0];
        b.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        b.extend_from_slice(&[next, 64]);
        b.extend_from_slice(&[0; 32]);
        b.extend_from_slice(exts);
        b
    }

    #[test]
    fn fragment_header_rfc8200_layout() {
        // offset 32 bytes, M = 0: etherparse 0.16 would read offset 0 and M = 0.
        let b = v6_with(44, &[17, 0, 0x00, 0x20, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4]);
        let f = find_fragment(&b).expect("fragment");
        assert_eq!(
            (f.offset, f.more, f.id, f.data_start),
            (32, false, 0xdead_beef, 48)
        );
        assert_eq!(f.next_header, IpNumber::UDP);
        // offset 0, M = 1, behind a hop-by-hop header
        let b = v6_with(0, &[44, 0, 1, 4, 0, 0, 0, 0, 60, 0, 0x00, 0x01, 0, 0, 0, 7]);
        let f = find_fragment(&b).expect("fragment");
        assert_eq!((f.offset, f.more, f.id, f.data_start), (0, true, 7, 56));
        assert_eq!(f.next_header, IpNumber::IPV6_DESTINATION_OPTIONS);
        // atomic fragment: not fragmenting
        assert!(find_fragment(&v6_with(44, &[17, 0, 0, 0, 0, 0, 0, 1])).is_none());
        // no fragment header, truncated chain
        assert!(find_fragment(&v6_with(17, &[0; 8])).is_none());
        assert!(find_fragment(&v6_with(0, &[44, 9])).is_none());
        assert!(find_fragment(&[0x60]).is_none());
    }

    fn ike(n: usize) -> Vec<u8> {
        let mut m = vec![0x11; n];
        m[17] = 0x20;
        m[24..28].copy_from_slice(&(n as u32).to_be_bytes());
        m
    }

    /// IPv4 + UDP without checksums.
    fn udp4(sport: u16, dport: u16, ulen: u16, payload: &[u8]) -> Vec<u8> {
        let total = (28 + payload.len()) as u16;
        let mut b = vec![0x45, 0];
        b.extend_from_slice(&total.to_be_bytes());
        b.extend_from_slice(&[0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
        b.extend_from_slice(&sport.to_be_bytes());
        b.extend_from_slice(&dport.to_be_bytes());
        b.extend_from_slice(&ulen.to_be_bytes());
        b.extend_from_slice(&[0, 0]);
        b.extend_from_slice(payload);
        b
    }

    fn run(frames: &[Vec<u8>]) -> Vec<CaptureEvent> {
        let mut d = Decoder::new(LinkType::Raw, &CaptureOptions::default());
        for (i, f) in frames.iter().enumerate() {
            d.decode(i as u64 + 1, 0, f, f.len() as u32);
        }
        d.finish();
        std::iter::from_fn(|| d.pop()).collect()
    }

    #[test]
    fn udp_paths() {
        let m = ike(36);
        let mut marked = vec![0; 4];
        marked.extend_from_slice(&m);
        let evs = run(&[
            udp4(500, 500, 44, &m),
            udp4(4500, 4500, 48, &marked),
            udp4(4500, 4500, 9, &[0xff]),
            udp4(4500, 4500, 9, &[0xfe]),
            udp4(500, 500, 4, &m),
            udp4(500, 500, 40, &m),
            udp4(53, 53, 44, &m),
        ]);
        let kinds: Vec<String> = evs.iter().map(|e| e.to_string()).collect();
        assert!(
            matches!(&evs[0], CaptureEvent::Ike(p) if p.transport == Transport::Udp && p.data == m),
            "{kinds:#?}"
        );
        assert!(
            matches!(&evs[1], CaptureEvent::Ike(p) if p.transport == Transport::UdpEncap && p.data == m)
        );
        assert!(matches!(&evs[2], CaptureEvent::Keepalive { frame: 3, .. }));
        assert!(matches!(
            &evs[3],
            CaptureEvent::Diagnostic {
                frame: 4,
                severity: Severity::Malformed,
                ..
            }
        ));
        // UDP length 4 < 8: reported, IP length used
        assert!(matches!(
            &evs[4],
            CaptureEvent::Diagnostic {
                frame: 5,
                severity: Severity::Malformed,
                ..
            }
        ));
        assert!(matches!(&evs[5], CaptureEvent::Ike(p) if p.frame == 5));
        // UDP length 40 < 44: 4 trailing bytes ignored, then the IKE length (36) no longer fits
        assert!(matches!(
            &evs[6],
            CaptureEvent::Diagnostic {
                frame: 6,
                severity: Severity::Warning,
                ..
            }
        ));
        assert!(
            matches!(
                &evs[7],
                CaptureEvent::Diagnostic {
                    frame: 6,
                    severity: Severity::Malformed,
                    ..
                }
            ),
            "{kinds:#?}"
        );
        assert!(matches!(&evs[8], CaptureEvent::Ike(p) if p.frame == 6 && p.data.len() == 32));
        assert_eq!(evs.len(), 9, "{kinds:#?}");
    }

    #[test]
    fn stats_count_popped_events() {
        let m = ike(36);
        let mut d = Decoder::new(LinkType::Raw, &CaptureOptions::default());
        let f = udp4(500, 500, 44, &m);
        d.decode(1, 0, &f, f.len() as u32);
        d.decode(2, 0, &[0x45], 1);
        d.decode(3, 0, &[0x10], 1);
        while d.pop().is_some() {}
        let s = d.stats();
        assert_eq!((s.frames, s.ike, s.diagnostics, s.non_ip), (3, 1, 1, 1));
    }
}
