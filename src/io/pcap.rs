//! A minimal pcapng writer: one interface with LINKTYPE_RAW (101, IPv4/IPv6 by the first
//! nibble), one Enhanced Packet Block per UDP datagram, microsecond timestamps. The IP
//! and UDP headers are synthesised from the socket addresses (checksums computed).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// pcapng LINKTYPE_RAW.
pub const LINKTYPE_RAW: u16 = 101;

/// Writes a pcapng file.
pub struct PcapWriter<W: Write> {
    out: W,
}

impl PcapWriter<BufWriter<File>> {
    /// Create (truncate) `path`.
    pub fn create(path: &Path) -> io::Result<Self> {
        let f = File::create(path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        PcapWriter::new(BufWriter::new(f))
    }
}

impl<W: Write> PcapWriter<W> {
    /// Write the section header and the interface description.
    pub fn new(mut out: W) -> io::Result<Self> {
        // Section Header Block
        let mut shb = Vec::new();
        shb.extend_from_slice(&0x0A0D_0D0Au32.to_le_bytes());
        shb.extend_from_slice(&28u32.to_le_bytes());
        shb.extend_from_slice(&0x1A2B_3C4Du32.to_le_bytes());
        shb.extend_from_slice(&1u16.to_le_bytes());
        shb.extend_from_slice(&0u16.to_le_bytes());
        shb.extend_from_slice(&(-1i64).to_le_bytes());
        shb.extend_from_slice(&28u32.to_le_bytes());
        out.write_all(&shb)?;
        // Interface Description Block (default if_tsresol: microseconds)
        let mut idb = Vec::new();
        idb.extend_from_slice(&1u32.to_le_bytes());
        idb.extend_from_slice(&20u32.to_le_bytes());
        idb.extend_from_slice(&LINKTYPE_RAW.to_le_bytes());
        idb.extend_from_slice(&0u16.to_le_bytes());
        idb.extend_from_slice(&262_144u32.to_le_bytes());
        idb.extend_from_slice(&20u32.to_le_bytes());
        out.write_all(&idb)?;
        out.flush()?;
        Ok(PcapWriter { out })
    }

    /// Record one UDP datagram `src` → `dst` (payload as on the wire) at `time`; flushed.
    pub fn write_udp(
        &mut self,
        time: SystemTime,
        src: SocketAddr,
        dst: SocketAddr,
        payload: &[u8],
    ) -> io::Result<()> {
        let frame = udp_frame(src, dst, payload);
        let us = time
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or(0);
        let pad = (4 - frame.len() % 4) % 4;
        let total = 32 + frame.len() + pad;
        let mut b = Vec::with_capacity(total);
        b.extend_from_slice(&6u32.to_le_bytes());
        b.extend_from_slice(&(total as u32).to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&((us >> 32) as u32).to_le_bytes());
        b.extend_from_slice(&(us as u32).to_le_bytes());
        b.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        b.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        b.extend_from_slice(&frame);
        b.resize(b.len() + pad, 0);
        b.extend_from_slice(&(total as u32).to_le_bytes());
        self.out.write_all(&b)?;
        self.out.flush()
    }

    /// The underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }
}

fn sum16(data: &[u8], mut acc: u32) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u32::from(*last) << 8;
    }
    acc
}

fn fold(mut acc: u32) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// An IPv4 or IPv6 packet carrying `payload` in UDP from `src` to `dst` (both of one
/// family; a mixed pair is rendered as IPv6 with v4-mapped addresses).
pub fn udp_frame(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let udp_len = 8 + payload.len();
    let mut udp = Vec::with_capacity(udp_len);
    udp.extend_from_slice(&src.port().to_be_bytes());
    udp.extend_from_slice(&dst.port().to_be_bytes());
    udp.extend_from_slice(&(udp_len as u16).to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(payload);
    match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut pseudo = 0u32;
            pseudo = sum16(&s.octets(), pseudo);
            pseudo = sum16(&d.octets(), pseudo);
            pseudo += 17 + udp_len as u32;
            let c = fold(sum16(&udp, pseudo));
            let c = if c == 0 { 0xffff } else { c };
            udp[6..8].copy_from_slice(&c.to_be_bytes());
            let total = 20 + udp_len;
            let mut ip = vec![
                0x45,
                0,
                (total >> 8) as u8,
                total as u8,
                0,
                0,
                0x40,
                0,
                64,
                17,
                0,
                0,
            ];
            ip.extend_from_slice(&s.octets());
            ip.extend_from_slice(&d.octets());
            let hc = fold(sum16(&ip, 0));
            ip[10..12].copy_from_slice(&hc.to_be_bytes());
            ip.extend_from_slice(&udp);
            ip
        }
        (s, d) => {
            let v6 = |a: IpAddr| match a {
                IpAddr::V4(a) => a.to_ipv6_mapped(),
                IpAddr::V6(a) => a,
            };
            let (s, d) = (v6(s), v6(d));
            let mut pseudo = 0u32;
            pseudo = sum16(&s.octets(), pseudo);
            pseudo = sum16(&d.octets(), pseudo);
            pseudo += udp_len as u32 + 17;
            let c = fold(sum16(&udp, pseudo));
            let c = if c == 0 { 0xffff } else { c };
            udp[6..8].copy_from_slice(&c.to_be_bytes());
            let mut ip = vec![0x60, 0, 0, 0];
            ip.extend_from_slice(&(udp_len as u16).to_be_bytes());
            ip.push(17);
            ip.push(64);
            ip.extend_from_slice(&s.octets());
            ip.extend_from_slice(&d.octets());
            ip.extend_from_slice(&udp);
            ip
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_parse_with_etherparse() {
        for (s, d) in [
            ("192.0.2.10:500", "192.0.2.1:500"),
            ("[2001:db8::1]:4500", "[2001:db8::2]:4500"),
        ] {
            let (s, d): (SocketAddr, SocketAddr) = (s.parse().unwrap(), d.parse().unwrap());
            let f = udp_frame(s, d, b"hello");
            let p = etherparse::SlicedPacket::from_ip(&f).unwrap();
            match p.transport {
                Some(etherparse::TransportSlice::Udp(u)) => {
                    assert_eq!(u.source_port(), s.port());
                    assert_eq!(u.payload(), b"hello");
                }
                other => panic!("{other:?}"),
            }
            if s.is_ipv4() {
                let h = etherparse::Ipv4HeaderSlice::from_slice(&f).unwrap();
                assert_eq!(h.to_header().calc_header_checksum(), h.header_checksum());
            }
        }
    }
}
