//! Writes `testdata/edge-frag/`: IKE fragmentation (RFC 7383) edge cases, encrypted with
//! `mobikectl::crypto::encrypt_sk` under fixed keys, plus the Wireshark key table for them.
//!
//! `cargo run --example make_fragment_captures` — deterministic (fixed keys and IVs); the
//! output is committed. `tests/decrypt_fragments.rs` states what each frame decodes to and
//! `testdata/edge-frag/README.md` lists the frames.
//!
//! Transforms are AES-CBC-128 + HMAC-SHA2-256-128, which Wireshark 4.0 decrypts, so the tshark
//! cross-check covers these files too.

use std::borrow::Cow;
use std::fs;
use std::net::Ipv4Addr;
use std::path::Path;

use mobikectl::crypto::{encrypt_sk, AesKeySize, EncrAlgorithm, IntegAlgorithm, SkContent, SkKeys};
use mobikectl::wire::{
    emit_payload_chain, notify_type as nt, Auth, Id, Notify, NotifyData, Payload, PayloadBody,
};

const SPI_I: u64 = 0x0f0f_1111_2222_3333;
const SPI_R: u64 = 0xf0f0_4444_5555_6666;
const CAROL: [u8; 4] = [192, 0, 2, 10];
const MOON: [u8; 4] = [198, 51, 100, 1];
/// 2027-01-14T08:00:00Z.
const T0: i64 = 1_799_913_600_000_000;

const IKE_AUTH: u8 = 35;
const INFORMATIONAL: u8 = 37;

fn keys() -> SkKeys {
    SkKeys::new(
        EncrAlgorithm::AesCbc(AesKeySize::Aes128),
        IntegAlgorithm::HmacSha2_256_128,
        (0x10..0x20).collect(),
        (0x20..0x30).collect(),
        (0x30..0x50).collect(),
        (0x50..0x70).collect(),
    )
    .expect("valid keys")
}

fn key_table_line(k: &SkKeys) -> String {
    format!(
        "{:016X},{:016X},{},{},\"{}\",{},{},\"{}\"\n",
        SPI_I,
        SPI_R,
        hex::encode_upper(&k.sk_ei),
        hex::encode_upper(&k.sk_er),
        k.encr.wireshark_name().expect("Wireshark name"),
        hex::encode_upper(&k.sk_ai),
        hex::encode_upper(&k.sk_ar),
        k.integ.wireshark_name().expect("Wireshark name"),
    )
}

/// IKE header whose first payload is `first` (46 SK or 53 SKF); the length is set later.
fn header(exchange: u8, mid: u32, initiator: bool, response: bool, first: u8) -> Vec<u8> {
    let mut h = Vec::with_capacity(28);
    h.extend_from_slice(&SPI_I.to_be_bytes());
    h.extend_from_slice(&SPI_R.to_be_bytes());
    h.push(first);
    h.push(0x20);
    h.push(exchange);
    h.push(if initiator { 0x08 } else { 0 } | if response { 0x20 } else { 0 });
    h.extend_from_slice(&mid.to_be_bytes());
    h.extend_from_slice(&[0; 4]);
    h
}

fn chain(payloads: &[Payload<'_>]) -> (u8, Vec<u8>) {
    let mut out = Vec::new();
    emit_payload_chain(payloads, &mut out);
    (payloads.first().map_or(0, |p| p.payload_type), out)
}

fn n(t: u16, d: NotifyData<'static>) -> Payload<'static> {
    Payload::new(41, PayloadBody::Notify(Notify::new(t, d)))
}

fn id(t: u8, ty: u8, s: &'static str) -> Payload<'static> {
    Payload::new(
        t,
        PayloadBody::Id(Id {
            id_type: ty,
            reserved: [0; 3],
            data: Cow::Borrowed(s.as_bytes()),
        }),
    )
}

fn auth(fill: u8) -> Payload<'static> {
    Payload::new(
        39,
        PayloadBody::Auth(Auth {
            method: 2,
            reserved: [0; 3],
            data: Cow::Owned(vec![fill; 32]),
        }),
    )
}

/// Deterministic IVs: 16 bytes counting up.
struct Ivs(u8);

impl Ivs {
    fn next(&mut self) -> [u8; 16] {
        self.0 = self.0.wrapping_add(1);
        [self.0; 16]
    }
}

/// Which message: exchange type, message ID, Initiator and Response flags.
#[derive(Clone, Copy)]
struct Hdr(u8, u32, bool, bool);

/// The `total` SKF messages carrying `payloads`, cut into pieces of nearly equal size.
fn fragments(
    k: &SkKeys,
    ivs: &mut Ivs,
    Hdr(exchange, mid, initiator, response): Hdr,
    payloads: &[Payload<'_>],
    total: u16,
) -> Vec<Vec<u8>> {
    let (first, inner) = chain(payloads);
    let size = inner.len().div_ceil(usize::from(total));
    inner
        .chunks(size)
        .enumerate()
        .map(|(i, piece)| {
            let number = i as u16 + 1;
            let content = SkContent {
                next_payload: if number == 1 { first } else { 0 },
                payloads: piece,
                fragment: Some((number, total)),
                extra_pad_blocks: 0,
            };
            let prefix = header(exchange, mid, initiator, response, 53);
            encrypt_sk(k, initiator, &prefix, &content, &ivs.next()).expect("encrypt")
        })
        .collect()
}

fn sk(
    k: &SkKeys,
    ivs: &mut Ivs,
    Hdr(exchange, mid, initiator, response): Hdr,
    payloads: &[Payload<'_>],
) -> Vec<u8> {
    let (first, inner) = chain(payloads);
    let content = SkContent {
        next_payload: first,
        payloads: &inner,
        fragment: None,
        extra_pad_blocks: 0,
    };
    let prefix = header(exchange, mid, initiator, response, 46);
    encrypt_sk(k, initiator, &prefix, &content, &ivs.next()).expect("encrypt")
}

/// IPv4 + UDP 4500 with the non-ESP marker; UDP checksum 0 (none).
fn packet(from_carol: bool, ike: &[u8]) -> Vec<u8> {
    let (src, dst) = if from_carol {
        (CAROL, MOON)
    } else {
        (MOON, CAROL)
    };
    let udp_len = 8 + 4 + ike.len();
    let total = 20 + udp_len;
    let mut p = vec![0x45, 0];
    p.extend_from_slice(&(total as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0]);
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    let mut sum: u32 = p
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    let c = !(sum as u16);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p.extend_from_slice(&4500u16.to_be_bytes());
    p.extend_from_slice(&4500u16.to_be_bytes());
    p.extend_from_slice(&(udp_len as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    p.extend_from_slice(ike);
    p
}

/// LINKTYPE_RAW pcap, microsecond time stamps.
fn pcap(records: &[(i64, Vec<u8>)]) -> Vec<u8> {
    let mut buf = Vec::new();
    buf.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    buf.extend_from_slice(&2u16.to_le_bytes());
    buf.extend_from_slice(&4u16.to_le_bytes());
    buf.extend_from_slice(&[0; 8]);
    buf.extend_from_slice(&65535u32.to_le_bytes());
    buf.extend_from_slice(&101u32.to_le_bytes());
    for (t, data) in records {
        buf.extend_from_slice(&((t / 1_000_000) as u32).to_le_bytes());
        buf.extend_from_slice(&((t % 1_000_000) as u32).to_le_bytes());
        buf.extend_from_slice(&(data.len() as u32).to_le_bytes());
        buf.extend_from_slice(&(data.len() as u32).to_le_bytes());
        buf.extend_from_slice(data);
    }
    buf
}

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/edge-frag");
    fs::create_dir_all(&dir).expect("mkdir");
    let k = keys();
    let mut ivs = Ivs(0);

    // A: IKE_AUTH request, 3 fragments.
    let a = fragments(
        &k,
        &mut ivs,
        Hdr(IKE_AUTH, 1, true, false),
        &[
            id(35, 3, "carol@example.org"),
            n(nt::INITIAL_CONTACT, NotifyData::Empty),
            id(36, 2, "moon.example.org"),
            auth(0xaa),
            n(nt::MOBIKE_SUPPORTED, NotifyData::Empty),
            n(
                nt::ADDITIONAL_IP4_ADDRESS,
                NotifyData::AdditionalIp4(Ipv4Addr::new(198, 51, 100, 10)),
            ),
        ],
        3,
    );
    // B: IKE_AUTH response, 2 fragments.
    let b = fragments(
        &k,
        &mut ivs,
        Hdr(IKE_AUTH, 1, false, true),
        &[
            id(36, 2, "moon.example.org"),
            auth(0xbb),
            n(nt::MOBIKE_SUPPORTED, NotifyData::Empty),
        ],
        2,
    );
    let mut b2_corrupt = b[1].clone();
    if let Some(last) = b2_corrupt.last_mut() {
        *last ^= 0x01; // last ICV byte
    }
    // C: MOBIKE address update, 3 fragments, fragment 2 never sent.
    let c = fragments(
        &k,
        &mut ivs,
        Hdr(INFORMATIONAL, 2, true, false),
        &[
            n(nt::UPDATE_SA_ADDRESSES, NotifyData::Empty),
            n(
                nt::NAT_DETECTION_SOURCE_IP,
                NotifyData::NatDetection([0x11; 20]),
            ),
            n(
                nt::NAT_DETECTION_DESTINATION_IP,
                NotifyData::NatDetection([0x22; 20]),
            ),
            n(nt::COOKIE2, NotifyData::Cookie2(Cow::Owned(vec![0xc2; 16]))),
        ],
        3,
    );
    // D: its response, one SK payload.
    let d = sk(
        &k,
        &mut ivs,
        Hdr(INFORMATIONAL, 2, false, true),
        &[
            n(
                nt::NAT_DETECTION_SOURCE_IP,
                NotifyData::NatDetection([0x33; 20]),
            ),
            n(
                nt::NAT_DETECTION_DESTINATION_IP,
                NotifyData::NatDetection([0x44; 20]),
            ),
            n(nt::COOKIE2, NotifyData::Cookie2(Cow::Owned(vec![0xc2; 16]))),
        ],
    );
    // E: a request of which only fragment 2 of 2 is captured.
    let e = fragments(
        &k,
        &mut ivs,
        Hdr(INFORMATIONAL, 3, true, false),
        &[
            n(nt::UPDATE_SA_ADDRESSES, NotifyData::Empty),
            n(nt::NO_ADDITIONAL_ADDRESSES, NotifyData::Empty),
        ],
        2,
    );

    let ms = |ms: i64| T0 + ms * 1000;
    let records = vec![
        (ms(0), packet(true, &a[2])),         // 1: A 3/3 first (out of order)
        (ms(1), packet(true, &a[0])),         // 2: A 1/3
        (ms(2), packet(true, &a[0])),         // 3: A 1/3 again (duplicate)
        (ms(3), packet(true, &a[1])),         // 4: A 2/3 completes A
        (ms(10), packet(false, &b[0])),       // 5: B 1/2
        (ms(11), packet(false, &b2_corrupt)), // 6: B 2/2 with a bad ICV
        (ms(12), packet(false, &b[1])),       // 7: B 2/2 intact, completes B
        (ms(1000), packet(true, &c[0])),      // 8: C 1/3
        (ms(1001), packet(true, &c[2])),      // 9: C 3/3 (2/3 lost)
        (ms(32_000), packet(false, &d)),      // 10: D, 31 s later: C times out
        (ms(33_000), packet(true, &e[1])),    // 11: E 2/2, 1/2 never seen
    ];
    fs::write(dir.join("fragments.pcap"), pcap(&records)).expect("write pcap");
    fs::write(dir.join("ikev2_decryption_table"), key_table_line(&k)).expect("write table");
    println!("wrote {}", dir.display());
}
