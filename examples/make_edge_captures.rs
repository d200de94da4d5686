//! Writes the hand-crafted edge-case captures in `testdata/edge/` from the real IKE messages
//! of `testdata/strongswan-move/cap-moon.pcap`.
//!
//! `cargo run --example make_edge_captures` — the output is deterministic and committed;
//! `tests/capture_edge.rs` describes what each file must decode to. pcap and pcapng are
//! written by hand (no dependencies): both formats are a few fixed headers.

use std::fs;
use std::path::{Path, PathBuf};

// ---------------------------------------------------------------------------------------
// Reference messages

/// One IKE message of the reference capture.
struct Msg {
    time_us: i64,
    src: [u8; 4],
    dst: [u8; 4],
    sport: u16,
    dport: u16,
    /// The IKE message (non-ESP marker removed).
    ike: Vec<u8>,
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn moon_messages(path: &Path) -> Vec<Msg> {
    let f = fs::read(path).expect("read cap-moon.pcap");
    assert_eq!(
        &f[..4],
        &[0xd4, 0xc3, 0xb2, 0xa1],
        "little-endian µs pcap expected"
    );
    let le32 = |at: usize| u32::from_le_bytes([f[at], f[at + 1], f[at + 2], f[at + 3]]);
    let mut off = 24;
    let mut v = Vec::new();
    while off + 16 <= f.len() {
        let (sec, usec, caplen) = (le32(off), le32(off + 4), le32(off + 8) as usize);
        let p = &f[off + 16..off + 16 + caplen];
        off += 16 + caplen;
        assert_eq!(be16(p, 12), 0x0800);
        let ip = &p[14..];
        assert_eq!((ip[0], ip[9]), (0x45, 17));
        let udp = &ip[20..];
        let (sport, dport, ulen) = (be16(udp, 0), be16(udp, 2), be16(udp, 4) as usize);
        let mut payload = &udp[8..ulen];
        if sport == 4500 || dport == 4500 {
            payload = &payload[4..];
        }
        v.push(Msg {
            time_us: i64::from(sec) * 1_000_000 + i64::from(usec),
            src: [ip[12], ip[13], ip[14], ip[15]],
            dst: [ip[16], ip[17], ip[18], ip[19]],
            sport,
            dport,
            ike: payload.to_vec(),
        });
    }
    v
}

impl Msg {
    /// UDP payload as originally sent (with the non-ESP marker on 4500).
    fn udp_payload(&self) -> Vec<u8> {
        if self.sport == 4500 || self.dport == 4500 {
            let mut v = vec![0; 4];
            v.extend_from_slice(&self.ike);
            v
        } else {
            self.ike.clone()
        }
    }
    fn src6(&self) -> [u8; 16] {
        v6(self.src)
    }
    fn dst6(&self) -> [u8; 16] {
        v6(self.dst)
    }
}

/// 2001:db8::a.b.c.d
fn v6(a: [u8; 4]) -> [u8; 16] {
    let mut x = [0u8; 16];
    x[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
    x[12..].copy_from_slice(&a);
    x
}

// ---------------------------------------------------------------------------------------
// Packet building

fn csum(chunks: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    for c in chunks {
        let mut it = c.chunks(2);
        for w in &mut it {
            let v = if w.len() == 2 {
                u16::from_be_bytes([w[0], w[1]])
            } else {
                u16::from_be_bytes([w[0], 0])
            };
            sum += u32::from(v);
        }
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

const UDP: u8 = 17;
const TCP: u8 = 6;
const ESP: u8 = 50;

/// Pseudo header for transport checksums.
fn pseudo(src: &[u8], dst: &[u8], proto: u8, len: usize) -> Vec<u8> {
    let mut p = src.to_vec();
    p.extend_from_slice(dst);
    if src.len() == 4 {
        p.extend_from_slice(&[0, proto]);
        p.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        p.extend_from_slice(&(len as u32).to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, proto]);
    }
    p
}

fn udp(src: &[u8], dst: &[u8], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let len = 8 + payload.len();
    let mut u = Vec::with_capacity(len);
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&(len as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    let mut c = csum(&[&pseudo(src, dst, UDP, len), &u]);
    if c == 0 {
        c = 0xffff;
    }
    u[6..8].copy_from_slice(&c.to_be_bytes());
    u
}

const SYN: u8 = 0x02;
const FIN: u8 = 0x01;
const ACK: u8 = 0x10;
const PSH: u8 = 0x08;

#[allow(clippy::too_many_arguments)]
fn tcp(
    src: &[u8],
    dst: &[u8],
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut t = Vec::with_capacity(20 + payload.len());
    t.extend_from_slice(&sport.to_be_bytes());
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&ack.to_be_bytes());
    t.extend_from_slice(&[5 << 4, flags]);
    t.extend_from_slice(&64240u16.to_be_bytes());
    t.extend_from_slice(&[0, 0, 0, 0]);
    t.extend_from_slice(payload);
    let c = csum(&[&pseudo(src, dst, TCP, t.len()), &t]);
    t[16..18].copy_from_slice(&c.to_be_bytes());
    t
}

/// IPv4 packet; `frag` is the flags/fragment-offset field.
fn ipv4_frag(src: [u8; 4], dst: [u8; 4], proto: u8, id: u16, frag: u16, payload: &[u8]) -> Vec<u8> {
    let total = 20 + payload.len();
    let mut h = vec![0x45, 0];
    h.extend_from_slice(&(total as u16).to_be_bytes());
    h.extend_from_slice(&id.to_be_bytes());
    h.extend_from_slice(&frag.to_be_bytes());
    h.extend_from_slice(&[64, proto, 0, 0]);
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    let c = csum(&[&h]);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h.extend_from_slice(payload);
    h
}

fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, id: u16, payload: &[u8]) -> Vec<u8> {
    ipv4_frag(src, dst, proto, id, 0, payload)
}

/// IPv6 packet; `payload` includes any extension headers, `next` is the first of them.
fn ipv6(src: [u8; 16], dst: [u8; 16], next: u8, payload: &[u8]) -> Vec<u8> {
    let mut h = vec![0x60, 0, 0, 0];
    h.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    h.extend_from_slice(&[next, 64]);
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    h.extend_from_slice(payload);
    h
}

fn udp4(m: &Msg, id: u16, payload: &[u8]) -> Vec<u8> {
    ipv4(
        m.src,
        m.dst,
        UDP,
        id,
        &udp(&m.src, &m.dst, m.sport, m.dport, payload),
    )
}

fn udp6(m: &Msg, payload: &[u8]) -> Vec<u8> {
    let (s, d) = (m.src6(), m.dst6());
    ipv6(s, d, UDP, &udp(&s, &d, m.sport, m.dport, payload))
}

const MAC_A: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x0a];
const MAC_B: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x0b];

/// Ethernet frame with VLAN tags `(tpid, vid)` outermost first.
fn eth_tagged(tags: &[(u16, u16)], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = MAC_B.to_vec();
    f.extend_from_slice(&MAC_A);
    for &(tpid, vid) in tags {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&vid.to_be_bytes());
    }
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

fn eth4(ip: &[u8]) -> Vec<u8> {
    eth_tagged(&[], 0x0800, ip)
}

fn eth6(ip: &[u8]) -> Vec<u8> {
    eth_tagged(&[], 0x86dd, ip)
}

fn ethertype_of(ip: &[u8]) -> u16 {
    if ip[0] >> 4 == 6 {
        0x86dd
    } else {
        0x0800
    }
}

/// Linux cooked v1 header: packet type, ARPHRD, address, protocol.
fn sll(arphrd: u16, ip: &[u8]) -> Vec<u8> {
    let mut f = vec![0, 0];
    f.extend_from_slice(&arphrd.to_be_bytes());
    f.extend_from_slice(&6u16.to_be_bytes());
    f.extend_from_slice(&MAC_A);
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(&ethertype_of(ip).to_be_bytes());
    f.extend_from_slice(ip);
    f
}

/// Linux cooked v2 header: protocol, reserved, ifindex, ARPHRD, packet type, address.
fn sll2(ip: &[u8]) -> Vec<u8> {
    let mut f = ethertype_of(ip).to_be_bytes().to_vec();
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(&3u32.to_be_bytes());
    f.extend_from_slice(&1u16.to_be_bytes());
    f.extend_from_slice(&[4, 6]);
    f.extend_from_slice(&MAC_A);
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(ip);
    f
}

fn esp(spi: u32, seq: u32, len: usize) -> Vec<u8> {
    let mut e = spi.to_be_bytes().to_vec();
    e.extend_from_slice(&seq.to_be_bytes());
    e.extend((0..len - 8).map(|i| (i as u8).wrapping_mul(37).wrapping_add(11)));
    e
}

// ---------------------------------------------------------------------------------------
// File writers

struct Pcap {
    buf: Vec<u8>,
}

impl Pcap {
    fn new(linktype: u32, snaplen: u32) -> Pcap {
        let mut buf = Vec::new();
        buf.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        buf.extend_from_slice(&2u16.to_le_bytes());
        buf.extend_from_slice(&4u16.to_le_bytes());
        buf.extend_from_slice(&[0; 8]);
        buf.extend_from_slice(&snaplen.to_le_bytes());
        buf.extend_from_slice(&linktype.to_le_bytes());
        Pcap { buf }
    }
    /// Add a record holding `data` of a frame that was `orig_len` bytes on the wire.
    fn cut(&mut self, time_us: i64, data: &[u8], orig_len: usize) {
        self.buf
            .extend_from_slice(&((time_us / 1_000_000) as u32).to_le_bytes());
        self.buf
            .extend_from_slice(&((time_us % 1_000_000) as u32).to_le_bytes());
        self.buf
            .extend_from_slice(&(data.len() as u32).to_le_bytes());
        self.buf.extend_from_slice(&(orig_len as u32).to_le_bytes());
        self.buf.extend_from_slice(data);
    }
    fn add(&mut self, time_us: i64, data: &[u8]) {
        self.cut(time_us, data, data.len());
    }
}

/// pcapng with one interface and nanosecond time stamps (if_tsresol = 9).
struct PcapNg {
    buf: Vec<u8>,
}

impl PcapNg {
    fn block(&mut self, kind: u32, body: &[u8]) {
        let pad = (4 - body.len() % 4) % 4;
        let len = (12 + body.len() + pad) as u32;
        self.buf.extend_from_slice(&kind.to_le_bytes());
        self.buf.extend_from_slice(&len.to_le_bytes());
        self.buf.extend_from_slice(body);
        self.buf.extend(std::iter::repeat_n(0, pad));
        self.buf.extend_from_slice(&len.to_le_bytes());
    }
    fn new(linktype: u16) -> PcapNg {
        let mut ng = PcapNg { buf: Vec::new() };
        // Section header: byte-order magic, version 1.0, unknown section length.
        let mut shb = 0x1a2b_3c4du32.to_le_bytes().to_vec();
        shb.extend_from_slice(&1u16.to_le_bytes());
        shb.extend_from_slice(&0u16.to_le_bytes());
        shb.extend_from_slice(&(-1i64).to_le_bytes());
        ng.block(0x0a0d_0d0a, &shb);
        // Interface description: link type, snap length, if_tsresol option, end of options.
        let mut idb = linktype.to_le_bytes().to_vec();
        idb.extend_from_slice(&[0, 0]);
        idb.extend_from_slice(&262_144u32.to_le_bytes());
        idb.extend_from_slice(&9u16.to_le_bytes());
        idb.extend_from_slice(&1u16.to_le_bytes());
        idb.extend_from_slice(&[9, 0, 0, 0]);
        idb.extend_from_slice(&[0, 0, 0, 0]);
        ng.block(1, &idb);
        ng
    }
    fn add(&mut self, time_us: i64, data: &[u8]) {
        let ns = (time_us as u64) * 1000 + 123; // sub-µs part that must be dropped
        let mut epb = 0u32.to_le_bytes().to_vec();
        epb.extend_from_slice(&((ns >> 32) as u32).to_le_bytes());
        epb.extend_from_slice(&(ns as u32).to_le_bytes());
        epb.extend_from_slice(&(data.len() as u32).to_le_bytes());
        epb.extend_from_slice(&(data.len() as u32).to_le_bytes());
        epb.extend_from_slice(data);
        epb.extend(std::iter::repeat_n(0, (4 - data.len() % 4) % 4));
        self.block(6, &epb);
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    let p = dir.join(name);
    fs::write(&p, bytes).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
    println!("{:>6} bytes  {}", bytes.len(), p.display());
}

// ---------------------------------------------------------------------------------------
// The captures

/// Time of synthetic frame `i` (1-based): the first message's time plus i ms.
fn at(m: &[Msg], i: i64) -> i64 {
    m[0].time_us + i * 1000
}

fn link_variants(dir: &Path, m: &[Msg]) {
    let four = &m[..4];
    let v4: Vec<Vec<u8>> = four
        .iter()
        .enumerate()
        .map(|(i, x)| udp4(x, 0x100 + i as u16, &x.udp_payload()))
        .collect();
    let v6: Vec<Vec<u8>> = four.iter().map(|x| udp6(x, &x.udp_payload())).collect();

    let mut p = Pcap::new(1, 262_144);
    for (x, ip) in four.iter().zip(&v4) {
        p.add(x.time_us, &eth_tagged(&[(0x8100, 100)], 0x0800, ip));
    }
    write(dir, "vlan.pcap", &p.buf);

    let mut p = Pcap::new(1, 262_144);
    for (x, ip) in four.iter().zip(&v4) {
        p.add(
            x.time_us,
            &eth_tagged(&[(0x88a8, 10), (0x8100, 20)], 0x0800, ip),
        );
    }
    write(dir, "qinq.pcap", &p.buf);

    // SLL: an Ethernet interface and a tun interface (ARPHRD_NONE), v4 and v6.
    let mut p = Pcap::new(113, 262_144);
    for (i, x) in four.iter().enumerate() {
        let (arphrd, ip) = if i % 2 == 0 {
            (1, &v4[i])
        } else {
            (0xfffe, &v6[i])
        };
        p.add(x.time_us, &sll(arphrd, ip));
    }
    write(dir, "sll.pcap", &p.buf);

    let mut p = Pcap::new(276, 262_144);
    for (i, x) in four.iter().enumerate() {
        let ip = if i % 2 == 0 { &v6[i] } else { &v4[i] };
        p.add(x.time_us, &sll2(ip));
    }
    write(dir, "sll2.pcap", &p.buf);

    // LINKTYPE_RAW: version from the first nibble, alternating.
    let mut p = Pcap::new(101, 262_144);
    for (i, x) in four.iter().enumerate() {
        p.add(x.time_us, if i % 2 == 0 { &v4[i] } else { &v6[i] });
    }
    write(dir, "raw.pcap", &p.buf);

    let mut p = Pcap::new(228, 262_144);
    for (x, ip) in four.iter().zip(&v4) {
        p.add(x.time_us, ip);
    }
    write(dir, "ipv4.pcap", &p.buf);

    let mut p = Pcap::new(229, 262_144);
    for (x, ip) in four.iter().zip(&v6) {
        p.add(x.time_us, ip);
    }
    write(dir, "ipv6.pcap", &p.buf);

    // BSD loopback: NULL in little-endian (AF_INET 2, macOS AF_INET6 30),
    // LOOP in network order (AF_INET 2, OpenBSD AF_INET6 24).
    let mut p = Pcap::new(0, 262_144);
    for (i, x) in four.iter().enumerate() {
        let (af, ip) = if i % 2 == 0 {
            (2u32, &v4[i])
        } else {
            (30, &v6[i])
        };
        let mut f = af.to_le_bytes().to_vec();
        f.extend_from_slice(ip);
        p.add(x.time_us, &f);
    }
    write(dir, "null.pcap", &p.buf);

    let mut p = Pcap::new(108, 262_144);
    for (i, x) in four.iter().enumerate() {
        let (af, ip) = if i % 2 == 0 {
            (2u32, &v4[i])
        } else {
            (24, &v6[i])
        };
        let mut f = af.to_be_bytes().to_vec();
        f.extend_from_slice(ip);
        p.add(x.time_us, &f);
    }
    write(dir, "loop.pcap", &p.buf);
}

/// IPv4 fragments of `m`'s UDP datagram cut at the given byte offsets (multiples of 8).
fn frags4(m: &Msg, id: u16, cuts: &[usize]) -> Vec<Vec<u8>> {
    let dgram = udp(&m.src, &m.dst, m.sport, m.dport, &m.udp_payload());
    let mut bounds = vec![0];
    bounds.extend_from_slice(cuts);
    bounds.push(dgram.len());
    bounds
        .windows(2)
        .map(|w| {
            let more = if w[1] < dgram.len() { 0x2000 } else { 0 };
            let field = more | (w[0] / 8) as u16;
            eth4(&ipv4_frag(m.src, m.dst, UDP, id, field, &dgram[w[0]..w[1]]))
        })
        .collect()
}

fn fragments_v4(dir: &Path, m: &[Msg]) {
    let mut p = Pcap::new(1, 262_144);
    let f3 = frags4(&m[2], 0x1001, &[136, 264]);
    let t = |i: i64| at(m, i);
    // 1-4: out of order with a duplicate; completes on frame 4
    p.add(t(1), &f3[1]);
    p.add(t(2), &f3[2]);
    p.add(t(3), &f3[1]);
    p.add(t(4), &f3[0]);
    // 5-6: in order; completes on frame 6
    let f4 = frags4(&m[3], 0x1002, &[128]);
    p.add(t(5), &f4[0]);
    p.add(t(6), &f4[1]);
    // 7-8: overlapping fragments, the overlap differs: keep the first copy
    let dgram = udp(
        &m[1].src,
        &m[1].dst,
        m[1].sport,
        m[1].dport,
        &m[1].udp_payload(),
    );
    let a = ipv4_frag(m[1].src, m[1].dst, UDP, 0x1003, 0x2000, &dgram[..128]);
    let mut tail = dgram[64..].to_vec();
    for b in &mut tail[..8] {
        *b ^= 0x5a;
    }
    let b = ipv4_frag(m[1].src, m[1].dst, UDP, 0x1003, 64 / 8, &tail);
    p.add(t(7), &eth4(&a));
    p.add(t(8), &eth4(&b));
    // 9: a first fragment whose rest never comes; 10: 31 s later, a whole datagram,
    // which expires the reassembly of frame 9 first
    let f1 = frags4(&m[0], 0x1004, &[128]);
    p.add(t(9), &f1[0]);
    p.add(
        t(9) + 31_000_000,
        &eth4(&udp4(&m[4], 0x1005, &m[4].udp_payload())),
    );
    // 11: another lone fragment, pending at the end of the capture
    let f6 = frags4(&m[5], 0x1006, &[48]);
    p.add(t(9) + 31_001_000, &f6[1]);
    write(dir, "frag-ipv4.pcap", &p.buf);
}

/// IPv6 fragment: unfragmentable headers `unfrag` (first next header `first`), then the
/// fragment header (next header `next`) and `data`.
#[allow(clippy::too_many_arguments)]
fn frag6(
    m: &Msg,
    unfrag: &[u8],
    first: Option<u8>,
    next: u8,
    id: u32,
    off: usize,
    more: bool,
    data: &[u8],
) -> Vec<u8> {
    let mut pl = unfrag.to_vec();
    pl.extend_from_slice(&[next, 0]);
    let field = (off as u16) | u16::from(more);
    pl.extend_from_slice(&field.to_be_bytes());
    pl.extend_from_slice(&id.to_be_bytes());
    pl.extend_from_slice(data);
    eth6(&ipv6(m.src6(), m.dst6(), first.unwrap_or(44), &pl))
}

fn fragments_v6(dir: &Path, m: &[Msg]) {
    let mut p = Pcap::new(1, 262_144);
    let t = |i: i64| at(m, i);
    // 1-4: message 3 in three fragments: last, first, first again, middle
    let x = &m[2];
    let (s, d) = (x.src6(), x.dst6());
    let dg = udp(&s, &d, x.sport, x.dport, &x.udp_payload());
    let fr = |off: usize, end: usize| {
        frag6(
            x,
            &[],
            None,
            UDP,
            0xabcd_0001,
            off,
            end < dg.len(),
            &dg[off..end],
        )
    };
    p.add(t(1), &fr(272, dg.len()));
    p.add(t(2), &fr(0, 136));
    p.add(t(3), &fr(0, 136));
    p.add(t(4), &fr(136, 272));
    // 5-6: message 4 with a hop-by-hop header before the fragment header (in every
    // fragment) and a destination options header after it (inside the reassembled part).
    let x = &m[3];
    let (s, d) = (x.src6(), x.dst6());
    let dg = udp(&s, &d, x.sport, x.dport, &x.udp_payload());
    let mut fragmentable = vec![UDP, 0, 1, 4, 0, 0, 0, 0]; // dest options: PadN
    fragmentable.extend_from_slice(&dg);
    let hbh = [44u8, 0, 1, 4, 0, 0, 0, 0]; // next = fragment header, PadN
    p.add(
        t(5),
        &frag6(
            x,
            &hbh,
            Some(0),
            60,
            0xabcd_0002,
            0,
            true,
            &fragmentable[..160],
        ),
    );
    p.add(
        t(6),
        &frag6(
            x,
            &hbh,
            Some(0),
            60,
            0xabcd_0002,
            160,
            false,
            &fragmentable[160..],
        ),
    );
    write(dir, "frag-ipv6.pcap", &p.buf);
}

/// RFC 8229 frame of an IKE message.
fn ike_frame(ike: &[u8]) -> Vec<u8> {
    let mut v = ((ike.len() + 6) as u16).to_be_bytes().to_vec();
    v.extend_from_slice(&[0; 4]);
    v.extend_from_slice(ike);
    v
}

fn esp_frame(e: &[u8]) -> Vec<u8> {
    let mut v = ((e.len() + 2) as u16).to_be_bytes().to_vec();
    v.extend_from_slice(e);
    v
}

/// A TCP connection between `c` (client) and `s` (server, port `port`).
struct Conn {
    c: [u8; 4],
    s: [u8; 4],
    cport: u16,
    port: u16,
    id: u16,
}

impl Conn {
    fn seg(&mut self, from_client: bool, seq: u32, ack: u32, flags: u8, data: &[u8]) -> Vec<u8> {
        self.id += 1;
        let (a, b, pa, pb) = if from_client {
            (self.c, self.s, self.cport, self.port)
        } else {
            (self.s, self.c, self.port, self.cport)
        };
        eth4(&ipv4(
            a,
            b,
            TCP,
            self.id,
            &tcp(&a, &b, pa, pb, seq, ack, flags, data),
        ))
    }
}

fn tcp_capture(dir: &Path, m: &[Msg]) {
    let t = |i: i64| at(m, i);
    let mut k = Conn {
        c: m[0].src,
        s: m[0].dst,
        cport: 40000,
        port: 4500,
        id: 0x2000,
    };
    const CI: u32 = 1000; // client ISN
    const SI: u32 = 5000; // server ISN
    let mut cs = b"IKETCP".to_vec(); // client stream
    cs.extend(ike_frame(&m[0].ike));
    let c1 = cs.len();
    cs.extend(ike_frame(&m[2].ike));
    cs.extend(ike_frame(&m[5].ike));
    cs.extend(ike_frame(&m[8].ike));
    let mut ss = ike_frame(&m[1].ike); // server stream
    let s1 = ss.len();
    ss.extend(ike_frame(&m[3].ike));
    ss.extend(esp_frame(&esp(0xc1a2_b3c4, 1, 40)));
    let cseq = |off: usize| CI + 1 + off as u32;
    let sseq = |off: usize| SI + 1 + off as u32;

    let mut p = Pcap::new(1, 262_144);
    p.add(t(1), &k.seg(true, CI, 0, SYN, &[]));
    p.add(t(2), &k.seg(false, SI, CI + 1, SYN | ACK, &[]));
    p.add(t(3), &k.seg(true, CI + 1, SI + 1, ACK, &[]));
    // 4-5: the prefix split across segments, message 1 split too; 7 completes it
    p.add(t(4), &k.seg(true, cseq(0), SI + 1, ACK | PSH, &cs[..3]));
    p.add(t(5), &k.seg(true, cseq(3), SI + 1, ACK | PSH, &cs[3..100]));
    p.add(t(6), &k.seg(false, SI + 1, cseq(100), ACK, &[]));
    p.add(
        t(7),
        &k.seg(true, cseq(100), SI + 1, ACK | PSH, &cs[100..c1]),
    );
    // 8: message 2 from the server
    p.add(t(8), &k.seg(false, sseq(0), cseq(c1), ACK | PSH, &ss[..s1]));
    // 9: messages 3 and 6 and the start of 9 in one segment
    let m9 = cs.len() - (m[8].ike.len() + 6);
    let c2 = m9 + 50;
    p.add(
        t(9),
        &k.seg(true, cseq(c1), sseq(s1), ACK | PSH, &cs[c1..c2]),
    );
    // 10-11: the rest of message 9 in two segments, the later one first; 12 retransmits 11
    let c3 = c2 + 60;
    p.add(
        t(10),
        &k.seg(true, cseq(c3), sseq(s1), ACK | PSH, &cs[c3..]),
    );
    p.add(
        t(11),
        &k.seg(true, cseq(c2), sseq(s1), ACK | PSH, &cs[c2..c3]),
    );
    p.add(
        t(12),
        &k.seg(true, cseq(c2), sseq(s1), ACK | PSH, &cs[c2..c3]),
    );
    // 13: message 4 and an ESP packet in one segment
    p.add(
        t(13),
        &k.seg(false, sseq(s1), cseq(cs.len()), ACK | PSH, &ss[s1..]),
    );
    // 14-16: close
    let cend = cseq(cs.len());
    let send = sseq(ss.len());
    p.add(t(14), &k.seg(true, cend, send, FIN | ACK, &[]));
    p.add(t(15), &k.seg(false, send, cend + 1, FIN | ACK, &[]));
    p.add(t(16), &k.seg(true, cend + 1, send + 1, ACK, &[]));
    write(dir, "tcp.pcap", &p.buf);

    // Joining a connection after its start: no SYN, no prefix.
    let mut p = Pcap::new(1, 262_144);
    let mut two = ike_frame(&m[9].ike);
    two.extend(ike_frame(&m[11].ike));
    p.add(t(1), &k.seg(false, 777_777, 1, ACK | PSH, &two));
    write(dir, "tcp-midstream.pcap", &p.buf);
}

fn natt(dir: &Path, m: &[Msg]) {
    let t = |i: i64| at(m, i);
    let x = &m[4]; // 203.0.113.1:4500 -> 192.0.2.10:4500
    let y = &m[5]; // 198.51.100.10:4500 -> 203.0.113.1:4500
    let mut p = Pcap::new(1, 262_144);
    // Ethernet pads the keepalive to the 60-byte minimum: the IP length must win.
    let mut ka = eth4(&udp4(y, 0x3001, &[0xff]));
    ka.resize(60, 0);
    p.add(t(1), &ka);
    p.add(t(2), &eth4(&udp4(y, 0x3002, &esp(0xc0ff_ee01, 1, 100))));
    p.add(t(3), &eth4(&udp4(y, 0x3003, &esp(0xc0ff_ee01, 2, 100))));
    p.add(
        t(4),
        &eth4(&ipv4(x.src, x.dst, ESP, 0x3004, &esp(0xc0ff_ee02, 7, 120))),
    );
    p.add(
        t(5),
        &eth6(&ipv6(x.src6(), x.dst6(), ESP, &esp(0xc0ff_ee03, 9, 64))),
    );
    p.add(t(6), &eth4(&udp4(x, 0x3006, &x.udp_payload())));
    p.add(t(7), &eth4(&udp4(y, 0x3007, &[1, 2])));
    write(dir, "natt.pcap", &p.buf);
}

fn snaplen(dir: &Path, m: &[Msg]) {
    let t = |i: i64| at(m, i);
    let y = &m[5];
    let mut p = Pcap::new(1, 96);
    for i in 1..=6 {
        p.add(t(i), &eth4(&udp4(y, 0x4000 + i as u16, &[0xff])));
    }
    let f = eth4(&udp4(&m[0], 0x4007, &m[0].udp_payload()));
    p.cut(t(7), &f[..96], f.len());
    let f = eth4(&udp4(y, 0x4008, &esp(0xc0ff_ee01, 3, 200)));
    p.cut(t(8), &f[..96], f.len());
    write(dir, "snaplen.pcap", &p.buf);
}

fn truncated(dir: &Path, m: &[Msg]) {
    let mut p = Pcap::new(1, 262_144);
    for (i, x) in m[..4].iter().enumerate() {
        p.add(
            x.time_us,
            &eth4(&udp4(x, 0x5000 + i as u16, &x.udp_payload())),
        );
    }
    let keep = p.buf.len() - 200;
    write(dir, "truncated.pcap", &p.buf[..keep]);
}

fn not_ike(dir: &Path, m: &[Msg]) {
    let t = |i: i64| at(m, i);
    let x = &m[0]; // 192.0.2.10:500 -> 203.0.113.1:500
    let mut p = Pcap::new(1, 262_144);
    // 1: something else on port 500
    let junk: Vec<u8> = b"GET / HTTP/1.1\r\nHost: 203.0.113.1\r\n\r\n".to_vec();
    p.add(t(1), &eth4(&udp4(x, 0x6001, &junk)));
    // 2: IKEv1 (version 1.0, Identity Protection)
    let mut v1 = x.ike.clone();
    v1[17] = 0x10;
    v1[18] = 2;
    p.add(t(2), &eth4(&udp4(x, 0x6002, &v1)));
    // 3: UDP length claims more than the IP packet holds; the IKE message is whole
    let mut ip = udp4(x, 0x6003, &x.ike);
    ip[24..26].copy_from_slice(&600u16.to_be_bytes());
    p.add(t(3), &eth4(&ip));
    // 4: IPv4 header length 12 bytes
    let mut ip = udp4(x, 0x6004, &x.ike);
    ip[0] = 0x43;
    p.add(t(4), &eth4(&ip));
    // 5: 3 bytes of payload
    p.add(t(5), &eth4(&udp4(x, 0x6005, &[1, 2, 3])));
    // 6: trailing bytes after the IKE message
    let mut pl = x.ike.clone();
    pl.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    p.add(t(6), &eth4(&udp4(x, 0x6006, &pl)));
    // 7: a good one
    p.add(t(7), &eth4(&udp4(&m[1], 0x6007, &m[1].ike)));
    write(dir, "not-ike.pcap", &p.buf);
}

fn pcapng(dir: &Path, m: &[Msg]) {
    let mut ng = PcapNg::new(1);
    for (i, x) in m.iter().enumerate() {
        ng.add(
            x.time_us,
            &eth4(&udp4(x, 0x7000 + i as u16, &x.udp_payload())),
        );
    }
    write(dir, "moon.pcapng", &ng.buf);
}

fn extra_ports(dir: &Path, m: &[Msg]) {
    let t = |i: i64| at(m, i);
    let mut p = Pcap::new(1, 262_144);
    let mut a = Msg {
        sport: 7500,
        dport: 7500,
        ..clone_msg(&m[0])
    };
    p.add(t(1), &eth4(&udp4(&a, 0x8001, &a.ike)));
    a = Msg {
        sport: 14500,
        dport: 14500,
        ..clone_msg(&m[2])
    };
    let mut pl = vec![0; 4];
    pl.extend_from_slice(&a.ike);
    p.add(t(2), &eth4(&udp4(&a, 0x8002, &pl)));
    let mut k = Conn {
        c: m[4].dst,
        s: m[4].src,
        cport: 50000,
        port: 8443,
        id: 0x8100,
    };
    let mut cs = b"IKETCP".to_vec();
    cs.extend(ike_frame(&m[5].ike));
    p.add(t(3), &k.seg(true, 10, 0, SYN, &[]));
    p.add(t(4), &k.seg(true, 11, 1, ACK | PSH, &cs));
    write(dir, "extra-ports.pcap", &p.buf);
}

fn clone_msg(m: &Msg) -> Msg {
    Msg {
        time_us: m.time_us,
        src: m.src,
        dst: m.dst,
        sport: m.sport,
        dport: m.dport,
        ike: m.ike.clone(),
    }
}

/// Plaintext MOBIKE exchanges built with the codec itself (`mobikectl::wire`), so every MOBIKE
/// notify type and a malformed one reach the decoder and the tshark cross-check unencrypted
/// (real peers send them inside SK). Frames: 1-2 an address update with COOKIE2 and NAT
/// detection, 3-4 additional addresses and NO_NATS_ALLOWED answered with MOBIKE errors,
/// 5 MOBIKE_SUPPORTED plus a critical unknown payload, 6 ADDITIONAL_IP4_ADDRESS with 5 bytes
/// and COOKIE2 with 4 (both malformed: the message must still decode).
fn mobike_plain(dir: &Path, m: &[Msg]) {
    use mobikectl::wire::{
        notify_type as nt, Header, Message, Notify, NotifyData, Payload, PayloadBody,
    };
    use std::borrow::Cow;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    let t = |i: i64| at(m, i);
    let x = &m[8]; // 198.51.100.10:4500 -> 203.0.113.1:4500, initiator request
    let y = &m[9]; // the response
    let message = |exchange: u8, mid: u32, response: bool, payloads: Vec<Payload<'static>>| {
        let header = Header {
            spi_i: 0xade3_a663_cde3_f4e0,
            spi_r: 0x85c3_0315_a9c1_41c8,
            next_payload: 0,
            version: 0x20,
            exchange_type: exchange,
            flags: if response { 0x20 } else { 0x08 },
            message_id: mid,
            length: 0,
        };
        Message {
            header,
            payloads,
            trailing: Cow::Borrowed(&[]),
        }
        .emit()
    };
    let n =
        |t: u16, d: NotifyData<'static>| Payload::new(41, PayloadBody::Notify(Notify::new(t, d)));
    let cookie2: &'static [u8] = &[0xc2; 16];
    let v4 = |a: [u8; 4]| IpAddr::V4(Ipv4Addr::from(a));
    let msgs = [
        (
            x,
            message(
                37,
                3,
                false,
                vec![
                    n(nt::UPDATE_SA_ADDRESSES, NotifyData::Empty),
                    n(
                        nt::NAT_DETECTION_SOURCE_IP,
                        NotifyData::NatDetection([0x11; 20]),
                    ),
                    n(
                        nt::NAT_DETECTION_DESTINATION_IP,
                        NotifyData::NatDetection([0x22; 20]),
                    ),
                    n(nt::COOKIE2, NotifyData::Cookie2(Cow::Borrowed(cookie2))),
                    n(nt::NO_ADDITIONAL_ADDRESSES, NotifyData::Empty),
                ],
            ),
        ),
        (
            y,
            message(
                37,
                3,
                true,
                vec![
                    n(
                        nt::NAT_DETECTION_SOURCE_IP,
                        NotifyData::NatDetection([0x33; 20]),
                    ),
                    n(
                        nt::NAT_DETECTION_DESTINATION_IP,
                        NotifyData::NatDetection([0x44; 20]),
                    ),
                    n(nt::COOKIE2, NotifyData::Cookie2(Cow::Borrowed(cookie2))),
                ],
            ),
        ),
        (
            x,
            message(
                37,
                4,
                false,
                vec![
                    n(
                        nt::ADDITIONAL_IP4_ADDRESS,
                        NotifyData::AdditionalIp4(Ipv4Addr::new(192, 0, 2, 10)),
                    ),
                    n(
                        nt::ADDITIONAL_IP6_ADDRESS,
                        NotifyData::AdditionalIp6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 10)),
                    ),
                    n(
                        nt::NO_NATS_ALLOWED,
                        NotifyData::NoNatsAllowed {
                            src: v4(x.src),
                            dst: v4(x.dst),
                            src_port: x.sport,
                            dst_port: x.dport,
                        },
                    ),
                    n(
                        nt::NO_NATS_ALLOWED,
                        NotifyData::NoNatsAllowed {
                            src: IpAddr::V6(Ipv6Addr::from(x.src6())),
                            dst: IpAddr::V6(Ipv6Addr::from(x.dst6())),
                            src_port: 500,
                            dst_port: 500,
                        },
                    ),
                ],
            ),
        ),
        (
            y,
            message(
                37,
                4,
                true,
                vec![
                    n(nt::UNACCEPTABLE_ADDRESSES, NotifyData::Empty),
                    n(nt::UNEXPECTED_NAT_DETECTED, NotifyData::Empty),
                ],
            ),
        ),
        (
            x,
            message(
                35,
                5,
                false,
                vec![
                    n(nt::MOBIKE_SUPPORTED, NotifyData::Empty),
                    Payload {
                        flags: 0x80,
                        ..Payload::new(200, PayloadBody::Unknown(Cow::Borrowed(b"unknown")))
                    },
                ],
            ),
        ),
        (
            x,
            message(
                37,
                6,
                false,
                vec![
                    n(
                        nt::ADDITIONAL_IP4_ADDRESS,
                        NotifyData::Raw(Cow::Borrowed(&[192, 0, 2, 10, 99])),
                    ),
                    n(nt::COOKIE2, NotifyData::Raw(Cow::Borrowed(&[1, 2, 3, 4]))),
                ],
            ),
        ),
    ];
    let mut p = Pcap::new(1, 262_144);
    for (i, (endpoints, ike)) in msgs.iter().enumerate() {
        let frame = Msg {
            ike: ike.clone(),
            ..clone_msg(endpoints)
        };
        p.add(
            t(i as i64 + 1),
            &eth4(&udp4(&frame, 0x4000 + i as u16, &frame.udp_payload())),
        );
    }
    write(dir, "mobike-plain.pcap", &p.buf);
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let m = moon_messages(&root.join("strongswan-move/cap-moon.pcap"));
    assert_eq!(m.len(), 20);
    let dir = root.join("edge");
    fs::create_dir_all(&dir).expect("create testdata/edge");
    link_variants(&dir, &m);
    fragments_v4(&dir, &m);
    fragments_v6(&dir, &m);
    tcp_capture(&dir, &m);
    natt(&dir, &m);
    snaplen(&dir, &m);
    truncated(&dir, &m);
    not_ike(&dir, &m);
    pcapng(&dir, &m);
    extra_ports(&dir, &m);
    mobike_plain(&dir, &m);
}
