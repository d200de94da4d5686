//! The ESP data plane of the engine (RFC 4303, tunnel mode, UDP-encapsulated per RFC
//! 3948): per CHILD_SA outbound sequence numbers (64-bit with ESN), an inbound
//! anti-replay window (§3.4.3) and counters, on top of [`crate::crypto::esp`].
//!
//! * [`Engine::send_esp`] encrypts an inner IP packet with a CHILD_SA's outbound keys
//!   and queues a [`Transmit`] marked [`Transmit::esp`] (no non-ESP marker) on the
//!   CHILD_SA's path.
//! * [`Engine::handle_esp`] takes an ESP packet (as it follows the UDP header, no
//!   marker), decrypts it, checks the replay window *after* the integrity check (so that
//!   forged packets cannot move the window, §3.4.3) and emits
//!   [`EngineEvent::EspReceived`] or [`EngineEvent::EspError`].
//! * ESP from a path other than the CHILD_SA's current one is delivered but counted and
//!   reported ([`EngineEvent::EspUnexpectedPath`], RFC 4555 §3.12-should-1) and does
//!   not count as a sign of life of the peer (§3.12-should-not-1); ESP on the expected
//!   path does (it postpones dead peer detection like an IKE message would).
//!
//! Raw ESP (IP protocol 50) is not supported: our sockets are UDP sockets, so a CHILD_SA
//! carries traffic only when its IKE SA floated to the NAT-T port (a NAT detected, or
//! MOBIKE, which always floats, RFC 4555 §3.2). [`Command::NatFake`](super::Command::NatFake)
//! does not help here: it only changes the NAT detection of MOBIKE updates.
//!
//! The per-CHILD_SA state lives beside the IKE SAs, keyed by our inbound SPI, and is
//! created on first use: the CHILD_SA bookkeeping in [`super::sa`] stays untouched.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;

use crate::child_sa::inner::InnerIp;
use crate::crypto::esp::{decrypt_esp, encrypt_esp, EspKeys, ESP_HEADER_LEN};
use crate::crypto::Integrity;

use super::{ChildSa, Engine, EngineEvent, Path, SaId, Timestamp, Transmit, TsRange};

/// Size of the anti-replay window in packets (RFC 4303 §3.4.3 asks for at least 32,
/// 64 by default; 128 tolerates the reordering of a path switch).
pub const REPLAY_WINDOW: u64 = 128;

/// Next Header of a dummy packet (RFC 4303 §2.6): dropped silently.
const NEXT_HEADER_DUMMY: u8 = 59;

/// Why the replay window refused a sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayError {
    /// Sequence number 0 is never sent (the counter starts at 1, §3.3.3).
    Zero,
    /// Received before (inside the window).
    Duplicate,
    /// Left of the window: too old to tell.
    TooOld,
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReplayError::Zero => "sequence number 0",
            ReplayError::Duplicate => "duplicate (replayed)",
            ReplayError::TooOld => "older than the replay window",
        })
    }
}

/// The receiver's sliding window (RFC 4303 §3.4.3, Appendix A): the highest sequence
/// number authenticated so far and a bitmap of the [`REPLAY_WINDOW`] numbers up to it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayWindow {
    /// Highest authenticated sequence number (0: none yet).
    top: u64,
    /// Bit `i` set: `top - i` was received.
    seen: u128,
}

impl ReplayWindow {
    /// An empty window.
    pub fn new() -> ReplayWindow {
        ReplayWindow::default()
    }

    /// Highest sequence number accepted so far.
    pub fn top(&self) -> u64 {
        self.top
    }

    /// The full sequence number of a packet carrying the low 32 bits `low`: itself
    /// without ESN, else the high half guessed from the window (RFC 4303 Appendix
    /// A2.2): the subspace that puts it inside or right of the window.
    pub fn infer(&self, low: u32, esn: bool) -> u64 {
        if !esn {
            return u64::from(low);
        }
        let top_low = self.top as u32;
        let top_high = (self.top >> 32) as u32;
        // `REPLAY_WINDOW - 1` fits in u32 by construction (128)
        let span = (REPLAY_WINDOW - 1) as u32;
        let high = if top_low >= span {
            // window inside one subspace: below its bottom means the next subspace
            if low >= top_low - span {
                top_high
            } else {
                top_high.wrapping_add(1)
            }
        } else if low >= top_low.wrapping_sub(span) && top_high > 0 {
            // window spans two subspaces: high values belong to the previous one
            top_high - 1
        } else {
            top_high
        };
        (u64::from(high) << 32) | u64::from(low)
    }

    /// Would `seq` be accepted? (No change.)
    pub fn check(&self, seq: u64) -> Result<(), ReplayError> {
        if seq == 0 {
            return Err(ReplayError::Zero);
        }
        if seq > self.top {
            return Ok(());
        }
        let behind = self.top - seq;
        if behind >= REPLAY_WINDOW {
            return Err(ReplayError::TooOld);
        }
        if self.seen & (1u128 << behind) != 0 {
            return Err(ReplayError::Duplicate);
        }
        Ok(())
    }

    /// Check `seq` and record it: call only once the packet's integrity is verified.
    pub fn accept(&mut self, seq: u64) -> Result<(), ReplayError> {
        self.check(seq)?;
        if seq > self.top {
            let ahead = seq - self.top;
            self.seen = if ahead >= REPLAY_WINDOW {
                0
            } else {
                self.seen << ahead
            };
            self.seen |= 1;
            self.top = seq;
        } else {
            self.seen |= 1u128 << (self.top - seq);
        }
        Ok(())
    }
}

/// Packet and byte counters of one CHILD_SA's ESP.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EspCounters {
    /// Packets sent.
    pub sent: u64,
    /// Inner bytes sent.
    pub sent_bytes: u64,
    /// Packets received and accepted (all paths).
    pub received: u64,
    /// Inner bytes received.
    pub received_bytes: u64,
    /// ICV / tag failures (dropped).
    pub integrity_failures: u64,
    /// Replayed or too old (dropped).
    pub replayed: u64,
    /// Authenticated, but not processable (bad padding, truncated): dropped.
    pub malformed: u64,
    /// Accepted from a path other than the CHILD_SA's current one.
    pub unexpected_path: u64,
    /// Authentic, but the inner packet is outside the traffic selectors (dropped).
    pub outside_selectors: u64,
    /// Dummy packets (Next Header 59): dropped.
    pub dummy: u64,
}

/// The ESP state of one CHILD_SA.
#[derive(Debug, Clone)]
pub struct EspSa {
    out_keys: EspKeys,
    in_keys: EspKeys,
    /// Last sequence number sent (0: none yet).
    seq_out: u64,
    window: ReplayWindow,
    /// Counters.
    pub counters: EspCounters,
}

impl EspSa {
    /// From a CHILD_SA's negotiated proposal and keys.
    pub fn new(child: &ChildSa) -> Result<EspSa, EspError> {
        let esn = child.proposal.esn == Some(true);
        let keys = |(encr, integ): (&[u8], &[u8])| {
            EspKeys::new(
                child.proposal.encr,
                child.proposal.integ,
                encr.to_vec(),
                integ.to_vec(),
                esn,
            )
            .map_err(|e| EspError::Crypto(e.to_string()))
        };
        Ok(EspSa {
            out_keys: keys(child.outbound_keys())?,
            in_keys: keys(child.inbound_keys())?,
            seq_out: 0,
            window: ReplayWindow::new(),
            counters: EspCounters::default(),
        })
    }

    /// Last sequence number sent.
    pub fn seq_out(&self) -> u64 {
        self.seq_out
    }

    /// The inbound replay window.
    pub fn window(&self) -> &ReplayWindow {
        &self.window
    }

    /// The next outbound sequence number; it must never cycle (RFC 4303 §3.3.3: the SA
    /// has to be rekeyed before 2^32 packets without ESN).
    fn next_seq(&mut self) -> Result<u64, EspError> {
        let limit = if self.out_keys.esn {
            u64::MAX
        } else {
            u64::from(u32::MAX)
        };
        if self.seq_out >= limit {
            return Err(EspError::SequenceExhausted);
        }
        self.seq_out += 1;
        Ok(self.seq_out)
    }
}

/// ESP problems: returned by [`Engine::send_esp`], reported by
/// [`EngineEvent::EspError`] for received packets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EspError {
    /// No CHILD_SA with this (inbound, for received packets) SPI.
    UnknownSpi(u32),
    /// No CHILD_SA whose remote traffic selectors contain this address.
    NoChildFor(IpAddr),
    /// The CHILD_SA's path is not UDP-encapsulated and raw ESP (IP protocol 50) is not
    /// supported by our sockets.
    NeedsUdpEncapsulation(Path),
    /// The sequence number space is used up: rekey the CHILD_SA.
    SequenceExhausted,
    /// The inner packet is neither IPv4 nor IPv6 (tunnel mode carries IP packets).
    NotAnIpPacket,
    /// The inner packet's addresses or protocol are outside the CHILD_SA's traffic
    /// selectors (RFC 4301 §5.1, §5.2): not sent, or dropped when received.
    OutsideSelectors(String),
    /// Too short, bad length, bad padding.
    Malformed(String),
    /// The ICV / tag did not verify.
    IntegrityFailed,
    /// The anti-replay window refused the sequence number.
    Replay { seq: u64, reason: ReplayError },
    /// Keys or algorithms unusable.
    Crypto(String),
}

impl fmt::Display for EspError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EspError::UnknownSpi(spi) => write!(f, "no CHILD_SA with SPI {spi:08x}"),
            EspError::NoChildFor(a) => write!(f, "no CHILD_SA covers {a}"),
            EspError::NeedsUdpEncapsulation(p) => write!(
                f,
                "the CHILD_SA's path {p} is not UDP-encapsulated and raw ESP (IP protocol 50) \
                 is not supported: UDP encapsulation is needed, i.e. an IKE SA on the NAT-T \
                 port (enable MOBIKE or `encap` for the connection, or have a NAT between the peers)"
            ),
            EspError::SequenceExhausted => {
                f.write_str("ESP sequence numbers used up: rekey the CHILD_SA")
            }
            EspError::NotAnIpPacket => f.write_str("inner packet is not IPv4 or IPv6"),
            EspError::OutsideSelectors(w) => {
                write!(
                    f,
                    "inner packet {w} is outside the CHILD_SA's traffic selectors"
                )
            }
            EspError::Malformed(w) => write!(f, "malformed ESP: {w}"),
            EspError::IntegrityFailed => f.write_str("ESP integrity check failed"),
            EspError::Replay { seq, reason } => write!(f, "ESP sequence number {seq}: {reason}"),
            EspError::Crypto(w) => write!(f, "ESP crypto: {w}"),
        }
    }
}

impl std::error::Error for EspError {}

/// All ESP state of an engine.
#[derive(Debug, Clone, Default)]
pub struct EspTable {
    /// Our inbound SPI → state.
    sas: HashMap<u32, EspSa>,
    /// Packets for no known SPI.
    pub unknown_spi: u64,
    /// Too short to carry an SPI and a sequence number.
    pub runts: u64,
}

/// Does `range` contain `addr` (any protocol and port)?
pub fn ts_contains(range: &TsRange, addr: IpAddr) -> bool {
    range.start.is_ipv4() == addr.is_ipv4() && range.start <= addr && addr <= range.end
}

/// Does an inner packet from `src_ts` to `dst_ts` fit: addresses and protocol (RFC 4301
/// §5.1 / §5.2; ports are not checked)? `Err` describes what does not.
fn within_selectors(src_ts: &[TsRange], dst_ts: &[TsRange], inner: &[u8]) -> Result<(), EspError> {
    let ip = InnerIp::parse(inner).ok_or(EspError::NotAnIpPacket)?;
    let fits = |ts: &[TsRange], a: IpAddr| {
        ts.iter()
            .any(|t| ts_contains(t, a) && (t.protocol == 0 || t.protocol == ip.protocol))
    };
    if fits(src_ts, ip.src) && fits(dst_ts, ip.dst) {
        Ok(())
    } else {
        Err(EspError::OutsideSelectors(format!(
            "{} -> {} (protocol {})",
            ip.src, ip.dst, ip.protocol
        )))
    }
}

/// Next Header for a tunnel-mode inner packet: 4 (IPv4) or 41 (IPv6), from its version.
fn next_header_of(inner: &[u8]) -> Result<u8, EspError> {
    match inner.first().map(|b| b >> 4) {
        Some(4) => Ok(4),
        Some(6) => Ok(41),
        _ => Err(EspError::NotAnIpPacket),
    }
}

impl Engine {
    /// The (IKE SA, CHILD_SA) with inbound SPI `spi_in`.
    fn child_by_spi(&self, spi_in: u32) -> Option<(SaId, &ChildSa)> {
        self.sas.values().find_map(|sa| {
            sa.children
                .iter()
                .find(|c| c.spi_in == spi_in)
                .map(|c| (sa.id, c))
        })
    }

    /// The ESP state of CHILD_SA `spi_in`, created on first use (and the chance to
    /// forget the state of CHILD_SAs that are gone).
    fn esp_state(&mut self, spi_in: u32) -> Result<&mut EspSa, EspError> {
        if !self.esp.sas.contains_key(&spi_in) {
            let (_, child) = self
                .child_by_spi(spi_in)
                .ok_or(EspError::UnknownSpi(spi_in))?;
            let state = EspSa::new(child)?;
            let live: Vec<u32> = self
                .sas
                .values()
                .flat_map(|sa| sa.children.iter().map(|c| c.spi_in))
                .collect();
            self.esp.sas.retain(|spi, _| live.contains(spi));
            self.esp.sas.insert(spi_in, state);
        }
        self.esp
            .sas
            .get_mut(&spi_in)
            .ok_or(EspError::UnknownSpi(spi_in))
    }

    /// The ESP state of CHILD_SA `spi_in` (our inbound SPI), if it carried any.
    pub fn esp_sa(&self, spi_in: u32) -> Option<&EspSa> {
        self.esp.sas.get(&spi_in)
    }

    /// Engine-wide ESP drop counters (unknown SPI, runts).
    pub fn esp_table(&self) -> &EspTable {
        &self.esp
    }

    /// The CHILD_SA (inbound SPI) whose remote traffic selectors contain `dst`: the
    /// newest one (a rekeyed CHILD_SA still lingers until its Delete).
    pub fn esp_child_for(&self, dst: IpAddr) -> Option<(SaId, u32)> {
        self.sas
            .values()
            .filter(|sa| sa.state == super::IkeState::Established)
            .flat_map(|sa| sa.children.iter().map(move |c| (sa.id, c)))
            .filter(|(_, c)| !c.rekeyed && c.ts_remote.iter().any(|t| ts_contains(t, dst)))
            .map(|(id, c)| (id, c.spi_in))
            .next_back()
    }

    /// Is ESP of CHILD_SA `child` of IKE SA `sa` sent inside UDP? When our side of its
    /// path is the NAT-T port or the peer's is its NAT-T port (floated, RFC 7296
    /// §2.23), or NAT detection found a NAT (a rebound port that is neither).
    fn udp_encapsulated(&self, sa: SaId, child: &ChildSa) -> bool {
        let Some(ike) = self.sas.get(&sa) else {
            return false;
        };
        let remote_natt = self
            .config
            .connections
            .get(ike.conn)
            .map(|c| c.remote_nat_t_port);
        child.path.local.port() == self.config.nat_t_port
            || Some(child.path.remote.port()) == remote_natt
            || ike.nat_local
            || ike.nat_remote
    }

    /// Encrypt the inner IP packet `inner` with the outbound keys of CHILD_SA `spi_in`
    /// (our inbound SPI, the handle events show) and queue it on the CHILD_SA's path as
    /// UDP-encapsulated ESP. Returns the sequence number used.
    pub fn send_esp(&mut self, now: Timestamp, spi_in: u32, inner: &[u8]) -> Result<u64, EspError> {
        self.now = self.now.max(now);
        let next_header = next_header_of(inner)?;
        let (sa, child) = self
            .child_by_spi(spi_in)
            .ok_or(EspError::UnknownSpi(spi_in))?;
        let (spi_out, path) = (child.spi_out, child.path);
        within_selectors(&child.ts_local, &child.ts_remote, inner)?;
        if !self.udp_encapsulated(sa, child) {
            return Err(EspError::NeedsUdpEncapsulation(path));
        }
        let iv_len = self.esp_state(spi_in)?.out_keys.iv_len();
        // CBC needs an unpredictable IV; the counter modes only a unique one, and the
        // sequence number (never reused under one key) is that, as in RFC 4106 §3.1.
        let random_iv = if iv_len == 8 {
            None
        } else {
            Some(self.random_bytes(iv_len))
        };
        let esp = self.esp_state(spi_in)?;
        let seq = esp.next_seq()?;
        let iv = random_iv.unwrap_or_else(|| seq.to_be_bytes().to_vec());
        let packet = encrypt_esp(&esp.out_keys, spi_out, seq, &iv, inner, next_header)
            .map_err(|e| EspError::Crypto(e.to_string()))?;
        esp.counters.sent += 1;
        esp.counters.sent_bytes += inner.len() as u64;
        if let Some(ike) = self.sas.get_mut(&sa) {
            // ESP keeps the NAT mapping open: no keepalive needed meanwhile
            ike.last_out = self.now;
        }
        self.transmits.push_back(Transmit {
            path,
            bytes: packet,
            non_esp_marker: false,
            esp: true,
        });
        Ok(seq)
    }

    /// Process an ESP packet (SPI first, no non-ESP marker) that arrived on `path`.
    /// Emits [`EngineEvent::EspReceived`] with the inner packet, or
    /// [`EngineEvent::EspError`]; never panics on any input.
    pub fn handle_esp(&mut self, now: Timestamp, path: Path, bytes: &[u8]) {
        self.now = self.now.max(now);
        if bytes.len() < ESP_HEADER_LEN {
            self.esp.runts += 1;
            let error = EspError::Malformed(format!("{} bytes", bytes.len()));
            self.esp_error(None, 0, path, error);
            return;
        }
        let spi = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        let Some((sa, child)) = self.child_by_spi(spi) else {
            self.esp.unknown_spi += 1;
            self.esp_error(None, spi, path, EspError::UnknownSpi(spi));
            return;
        };
        let expected = child.path;
        // RFC 4301 §5.2 step 4: what came out must match the SA's selectors
        let (ts_remote, ts_local) = (child.ts_remote.clone(), child.ts_local.clone());
        let opened = self.open_esp(spi, bytes).and_then(|packet| match packet {
            Some((_, _, ref inner)) => match within_selectors(&ts_remote, &ts_local, inner) {
                Ok(()) => Ok(packet),
                Err(e) => {
                    if let Some(esp) = self.esp.sas.get_mut(&spi) {
                        esp.counters.outside_selectors += 1;
                    }
                    Err(e)
                }
            },
            None => Ok(None),
        });
        match opened {
            Ok(Some((seq, next_header, inner))) => {
                self.esp_accepted(sa, spi, path, expected, (seq, next_header, inner))
            }
            Ok(None) => {} // a dummy packet
            Err(e) => self.esp_error(Some(sa), spi, path, e),
        }
    }

    /// Decrypt, then check and update the replay window (after the integrity check, so
    /// forged packets cannot move it). `Ok(None)`: a dummy packet.
    fn open_esp(&mut self, spi: u32, bytes: &[u8]) -> Result<Option<(u64, u8, Vec<u8>)>, EspError> {
        let esp = self.esp_state(spi)?;
        let low = u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
        let seq = esp.window.infer(low, esp.in_keys.esn);
        let mut inner = Vec::new();
        let trailer = match decrypt_esp(&esp.in_keys, bytes, (seq >> 32) as u32, &mut inner) {
            Ok(t) => t,
            Err(e) => {
                esp.counters.malformed += 1;
                return Err(EspError::Malformed(e.to_string()));
            }
        };
        if trailer.integrity == Integrity::Bad {
            esp.counters.integrity_failures += 1;
            return Err(EspError::IntegrityFailed);
        }
        if let Err(reason) = esp.window.accept(seq) {
            esp.counters.replayed += 1;
            return Err(EspError::Replay { seq, reason });
        }
        if !trailer.padding_ok {
            // RFC 4303 §2.4: the receiver may check the padding; authentic but broken
            esp.counters.malformed += 1;
            return Err(EspError::Malformed(
                "padding bytes are not 1, 2, 3, ...".into(),
            ));
        }
        if trailer.next_header == NEXT_HEADER_DUMMY {
            esp.counters.dummy += 1;
            return Ok(None);
        }
        Ok(Some((seq, trailer.next_header, inner)))
    }

    /// Count and report an accepted packet; only ESP on the CHILD_SA's own path is a
    /// sign of life (RFC 4555 §3.12).
    fn esp_accepted(
        &mut self,
        sa: SaId,
        spi: u32,
        path: Path,
        expected: Path,
        (seq, next_header, inner): (u64, u8, Vec<u8>),
    ) {
        let now = self.now;
        let newest = self
            .esp
            .sas
            .get(&spi)
            .is_some_and(|e| e.window.top() == seq);
        let on_path = path == expected || (newest && self.esp_follows_nat(sa, path, expected));
        if let Some(esp) = self.esp.sas.get_mut(&spi) {
            esp.counters.received += 1;
            esp.counters.received_bytes += inner.len() as u64;
            if !on_path {
                esp.counters.unexpected_path += 1;
            }
        }
        if on_path {
            if let Some(ike) = self.sas.get_mut(&sa) {
                ike.last_in = ike.last_in.max(now);
            }
        } else {
            self.event(EngineEvent::EspUnexpectedPath {
                sa,
                spi_in: spi,
                expected,
                got: path,
                seq,
            });
        }
        self.event(EngineEvent::EspReceived {
            sa,
            spi_in: spi,
            path,
            seq,
            next_header,
            packet: inner,
        });
    }

    /// RFC 4555 §3.8 (MAY) / RFC 7296 §2.23: the newest authenticated ESP of a peer behind
    /// a NAT arrives from the same address and another port: the NAT rebound, and the SA
    /// (IKE and CHILD_SAs) follows it. Another address is never followed (§3.12: only
    /// counted), nor a peer that is not behind a NAT. Returns true if the SA moved.
    fn esp_follows_nat(&mut self, sa: SaId, path: Path, expected: Path) -> bool {
        let Some(ike) = self.sas.get(&sa) else {
            return false;
        };
        let rebinding = ike.nat_remote
            && path.local == expected.local
            && path.remote.ip() == expected.remote.ip()
            && path.remote.port() != expected.remote.port();
        if !rebinding || ike.path != expected {
            return false;
        }
        let trigger = super::mobike::Trigger {
            at: self.now,
            cause: super::MoveCause::NatFollow,
        };
        self.move_sa(sa, path, trigger, true);
        true
    }

    fn esp_error(&mut self, sa: Option<SaId>, spi: u32, path: Path, error: EspError) {
        self.event(EngineEvent::EspError {
            sa,
            spi,
            path,
            error,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_in_order() {
        let mut w = ReplayWindow::new();
        for s in 1..=300 {
            assert_eq!(w.accept(s), Ok(()), "{s}");
        }
        assert_eq!(w.top(), 300);
        assert_eq!(w.accept(300), Err(ReplayError::Duplicate));
        assert_eq!(w.accept(0), Err(ReplayError::Zero));
    }

    #[test]
    fn replay_reorder_within_window() {
        let mut w = ReplayWindow::new();
        assert_eq!(w.accept(10), Ok(()));
        // late but inside the window: accepted once, in any order
        for s in [3, 9, 1, 7] {
            assert_eq!(w.accept(s), Ok(()), "{s}");
        }
        assert_eq!(w.accept(9), Err(ReplayError::Duplicate));
        assert_eq!(w.check(8), Ok(()));
        assert_eq!(w.top(), 10);
        // the oldest number still inside: top - 127
        assert_eq!(w.accept(200), Ok(()));
        assert_eq!(w.accept(73), Ok(()));
        assert_eq!(w.accept(72), Err(ReplayError::TooOld));
    }

    #[test]
    fn replay_duplicate_and_too_old() {
        let mut w = ReplayWindow::new();
        assert_eq!(w.accept(5), Ok(()));
        assert_eq!(w.accept(5), Err(ReplayError::Duplicate));
        // a jump of more than the window forgets everything below it
        assert_eq!(w.accept(5 + REPLAY_WINDOW + 10), Ok(()));
        assert_eq!(w.accept(6), Err(ReplayError::TooOld));
        assert_eq!(w.accept(5), Err(ReplayError::TooOld));
        // check never changes the window
        assert_eq!(w.check(140), Ok(()));
        assert_eq!(w.accept(140), Ok(()));
        assert_eq!(w.check(140), Err(ReplayError::Duplicate));
    }

    #[test]
    fn replay_esn_wraps_into_the_next_subspace() {
        let mut w = ReplayWindow::new();
        let before = u64::from(u32::MAX) - 2;
        assert_eq!(w.accept(before), Ok(()));
        // low 32 bits 1 after 0xffff_fffd: the next subspace (high 1)
        let next = w.infer(1, true);
        assert_eq!(next, (1u64 << 32) | 1);
        assert_eq!(w.accept(next), Ok(()));
        // a late packet of the old subspace is still recognised (high 0) and accepted
        let late = w.infer(u32::MAX, true);
        assert_eq!(late, u64::from(u32::MAX));
        assert_eq!(w.accept(late), Ok(()));
        assert_eq!(
            w.accept(w.infer(u32::MAX - 2, true)),
            Err(ReplayError::Duplicate)
        );
        // without ESN the low bits are the whole number: 1 is far too old
        assert_eq!(w.infer(1, false), 1);
        assert_eq!(w.check(1), Err(ReplayError::TooOld));
    }

    #[test]
    fn outbound_sequence_stops_before_it_cycles() {
        use crate::crypto::{EncrAlgorithm, IntegAlgorithm};
        let keys = EspKeys::new(
            EncrAlgorithm::Null,
            IntegAlgorithm::None,
            vec![],
            vec![],
            false,
        )
        .unwrap();
        let mut sa = EspSa {
            out_keys: keys.clone(),
            in_keys: keys,
            seq_out: u64::from(u32::MAX) - 1,
            window: ReplayWindow::new(),
            counters: EspCounters::default(),
        };
        assert_eq!(sa.next_seq(), Ok(u64::from(u32::MAX)));
        assert_eq!(sa.next_seq(), Err(EspError::SequenceExhausted));
        sa.out_keys.esn = true;
        assert_eq!(sa.next_seq(), Ok(1u64 << 32));
    }

    #[test]
    fn selectors_are_checked_on_addresses_and_protocol() {
        use crate::dataplane::Echo;
        let ours = TsRange::parse("10.2.0.0/16").unwrap();
        let theirs = TsRange::parse("10.1.0.0/16").unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let pkt = Echo::request(ip("10.2.0.1"), ip("10.1.0.1"), 1, 1, b"")
            .build()
            .unwrap();
        assert_eq!(within_selectors(&[ours], &[theirs], &pkt), Ok(()));
        assert_eq!(
            within_selectors(&[theirs], &[ours], &pkt),
            Err(EspError::OutsideSelectors(
                "10.2.0.1 -> 10.1.0.1 (protocol 1)".into()
            ))
        );
        let mut udp_only = theirs;
        udp_only.protocol = 17;
        assert!(within_selectors(&[ours], &[udp_only], &pkt).is_err());
        udp_only.protocol = 1;
        assert_eq!(within_selectors(&[ours], &[udp_only], &pkt), Ok(()));
        assert_eq!(
            within_selectors(&[ours], &[theirs], &[0x45]),
            Err(EspError::NotAnIpPacket)
        );
    }

    #[test]
    fn ts_contains_checks_family_and_range() {
        let r = TsRange::parse("10.1.0.0/16").unwrap();
        assert!(ts_contains(&r, "10.1.2.3".parse().unwrap()));
        assert!(!ts_contains(&r, "10.2.0.1".parse().unwrap()));
        assert!(!ts_contains(&r, "::1".parse().unwrap()));
        assert_eq!(next_header_of(&[0x45]), Ok(4));
        assert_eq!(next_header_of(&[0x60]), Ok(41));
        assert_eq!(next_header_of(&[]), Err(EspError::NotAnIpPacket));
    }

    /// Two engines on the in-memory network with one CHILD_SA (`esp` proposal), the
    /// initiator's outbound sequence number set to just below 2^32: ESN must carry the
    /// high half in the ICV / AAD and the receiver must infer it.
    #[test]
    fn esn_sequence_numbers_cross_2_pow_32_end_to_end() {
        use crate::engine::{Command, Config, ConnConfig, Identity, Proposal, Protocol};
        use crate::engine::{SeededRandom, TsRange};
        use crate::netsim::Network;
        use std::time::Duration;
        for esp in ["aes128gcm16-esn", "aes128-sha256-esn"] {
            let conn = |name: &str, local: &str, remote: &str, id: &str, ts: (&str, &str)| {
                let mut c = ConnConfig::new(
                    name,
                    local.parse().unwrap(),
                    remote.parse().unwrap(),
                    Identity::parse(id).unwrap(),
                    b"esn-psk",
                );
                c.local_ts = vec![TsRange::parse(ts.0).unwrap()];
                c.remote_ts = vec![TsRange::parse(ts.1).unwrap()];
                c.esp_proposals = Proposal::parse_list(Protocol::Esp, esp).unwrap();
                Config {
                    connections: vec![c],
                    ..Config::default()
                }
            };
            let ts = ("10.2.0.0/16", "10.1.0.0/16");
            let ci = conn("c", "192.0.2.10:500", "192.0.2.1:500", "carol@x", ts);
            let cr = conn("m", "0.0.0.0:0", "0.0.0.0:0", "moon.x", (ts.1, ts.0));
            let t0 = Timestamp::from_secs(10);
            let mut net = Network::new(t0);
            let i = net.add(
                "carol",
                Engine::new(ci, Box::new(SeededRandom::new(1))),
                &["192.0.2.10".parse().unwrap()],
            );
            let r = net.add(
                "moon",
                Engine::new(cr, Box::new(SeededRandom::new(2))),
                &["192.0.2.1".parse().unwrap()],
            );
            net.engine(i).command(t0, Command::Up("c".into())).unwrap();
            net.run_for(Duration::from_secs(1));
            let spi_i = net.nodes[i].engine.sas().next().unwrap().children[0].spi_in;
            let spi_r = net.nodes[r].engine.sas().next().unwrap().children[0].spi_in;
            net.engine(i).esp_state(spi_i).unwrap().seq_out = u64::from(u32::MAX) - 2;
            let now = net.now;
            let node = &mut net.nodes[i];
            let dst = "10.1.0.1".parse().unwrap();
            let interval = Duration::from_millis(10);
            node.dataplane
                .start_ping(&node.engine, now, dst, interval, 1)
                .unwrap();
            net.run_for(Duration::from_millis(100));
            let stats = net.nodes[i].dataplane.stop_ping(net.now).unwrap();
            assert!(stats.received >= 9 && stats.lost == 0, "{esp}: {stats}");
            let top = net.nodes[r].engine.esp_sa(spi_r).unwrap().window().top();
            assert!(top > 1 << 32, "{esp}: {top:#x}");
            assert_eq!(
                net.nodes[r]
                    .engine
                    .esp_sa(spi_r)
                    .unwrap()
                    .counters
                    .integrity_failures,
                0
            );
        }
    }
}
