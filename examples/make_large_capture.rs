//! Builds a large capture for speed and memory measurements by replicating a real testdata
//! capture into N distinct IKE SAs: every copy gets its own SPIs, its SK payloads are decrypted
//! with the original keys and re-encrypted under the new header (so they still verify), and its
//! NAT detection hashes are recomputed. Writes OUT/large.pcap and OUT/ikev2_decryption_table.
//!
//! `cargo run --release --example make_large_capture -- testdata/strongswan-move/cap-moon.pcap \
//!     testdata/strongswan-move/ikev2_decryption_table 1400 target/large`
//! (cap-moon.pcap has 20 IKE messages: 1,400 copies = 28,000 messages.)
use std::fs;
use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;

use etherparse::PacketBuilder;
use mobikectl::capture::{CaptureEvent, CaptureOptions, CaptureReader, IkePacket};
use mobikectl::crypto::{decrypt_sk, encrypt_sk, Integrity, SkContent};
use mobikectl::keys::KeyStore;
use mobikectl::wire::{notify_type, Message, NotifyData, PayloadBody};
use sha1::{Digest, Sha1};

fn usage() -> ! {
    eprintln!("usage: make_large_capture CAPTURE KEY_TABLE COPIES OUT_DIR");
    std::process::exit(2)
}

fn natd_hash(spi_i: u64, spi_r: u64, ip: IpAddr, port: u16) -> [u8; 20] {
    let mut h = Sha1::new();
    h.update(spi_i.to_be_bytes());
    h.update(spi_r.to_be_bytes());
    match ip {
        IpAddr::V4(a) => h.update(a.octets()),
        IpAddr::V6(a) => h.update(a.octets()),
    }
    h.update(port.to_be_bytes());
    h.finalize().into()
}

/// The message of `pkt` as copy `copy` would have sent it.
fn rewrite(pkt: &IkePacket, keys: &KeyStore, copy: u64) -> Result<Vec<u8>, String> {
    let msg = Message::parse(&pkt.data).map_err(|e| e.to_string())?;
    let (old_i, old_r) = (msg.header.spi_i, msg.header.spi_r);
    let new_spi = |spi: u64| if spi == 0 { 0 } else { spi ^ (copy << 20) };
    let mut out = msg.clone();
    out.header.spi_i = new_spi(old_i);
    out.header.spi_r = new_spi(old_r);
    for p in &mut out.payloads {
        if let PayloadBody::Notify(n) = &mut p.body {
            let (ip, port) = match n.notify_type {
                notify_type::NAT_DETECTION_SOURCE_IP => (pkt.src, pkt.sport),
                notify_type::NAT_DETECTION_DESTINATION_IP => (pkt.dst, pkt.dport),
                _ => continue,
            };
            n.data =
                NotifyData::NatDetection(natd_hash(out.header.spi_i, out.header.spi_r, ip, port));
        }
    }
    let Some(sk_at) = msg
        .payloads
        .iter()
        .position(|p| matches!(p.body, PayloadBody::Sk(_)))
    else {
        return Ok(out.emit());
    };
    let sk_keys = keys
        .find(old_i, old_r)
        .ok_or("no keys for the original SPIs")?;
    let offset = msg.payloads[sk_at].offset;
    let from_initiator = msg.header.is_initiator();
    let plain =
        decrypt_sk(sk_keys, from_initiator, &pkt.data, offset).map_err(|e| e.to_string())?;
    if plain.integrity != Integrity::Ok {
        return Err("original message does not verify with the given keys".into());
    }
    let iv_len = sk_keys.encr.iv_len();
    let iv = pkt
        .data
        .get(offset + 4..offset + 4 + iv_len)
        .ok_or("SK payload too short")?;
    let emitted = out.emit();
    let prefix = emitted.get(..offset).ok_or("prefix")?;
    let content = SkContent {
        next_payload: plain.next_payload,
        payloads: &plain.plaintext,
        fragment: None,
        extra_pad_blocks: 0,
    };
    encrypt_sk(sk_keys, from_initiator, prefix, &content, iv).map_err(|e| e.to_string())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [capture, table, copies, out_dir] = args.as_slice() else {
        usage()
    };
    let copies: u64 = copies.parse().unwrap_or_else(|_| usage());
    let keys = KeyStore::load(table).unwrap_or_else(|e| panic!("{e}"));
    let mut reader =
        CaptureReader::open_file(capture, &CaptureOptions::default()).expect("open capture");
    let mut packets = Vec::new();
    while let Some(ev) = reader.next_event() {
        if let CaptureEvent::Ike(p) = ev {
            packets.push(p);
        }
    }
    let table_text = fs::read_to_string(table).expect("read key table");
    let out_dir = PathBuf::from(out_dir);
    fs::create_dir_all(&out_dir).expect("create output directory");

    let span = packets.last().map_or(0, |p| p.time_us) - packets.first().map_or(0, |p| p.time_us)
        + 1_000_000;
    let mut pcap = Vec::with_capacity(24 + packets.len() * copies as usize * 300);
    for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 262_144, 1] {
        pcap.extend_from_slice(&v.to_le_bytes());
    }
    let mut frame = Vec::with_capacity(1600);
    let mut new_table = String::new();
    for copy in 1..=copies {
        for line in table_text
            .lines()
            .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        {
            let mut fields = line.splitn(3, ',');
            let (Some(i), Some(r), Some(rest)) = (fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            let spi = |s: &str| u64::from_str_radix(s.trim(), 16).unwrap_or(0) ^ (copy << 20);
            new_table.push_str(&format!("{:016X},{:016X},{rest}\n", spi(i), spi(r)));
        }
        for pkt in &packets {
            let ike =
                rewrite(pkt, &keys, copy).unwrap_or_else(|e| panic!("frame {}: {e}", pkt.frame));
            let mut udp_payload = Vec::with_capacity(ike.len() + 4);
            if pkt.sport == 4500 || pkt.dport == 4500 {
                udp_payload.extend_from_slice(&[0; 4]);
            }
            udp_payload.extend_from_slice(&ike);
            let builder = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
            frame.clear();
            let written = match (pkt.src, pkt.dst) {
                (IpAddr::V4(s), IpAddr::V4(d)) => builder
                    .ipv4(s.octets(), d.octets(), 64)
                    .udp(pkt.sport, pkt.dport)
                    .write(&mut frame, &udp_payload),
                (IpAddr::V6(s), IpAddr::V6(d)) => builder
                    .ipv6(s.octets(), d.octets(), 64)
                    .udp(pkt.sport, pkt.dport)
                    .write(&mut frame, &udp_payload),
                _ => continue,
            };
            written.expect("build frame");
            let t = pkt.time_us + (copy as i64 - 1) * span;
            for v in [
                (t / 1_000_000) as u32,
                (t % 1_000_000) as u32,
                frame.len() as u32,
                frame.len() as u32,
            ] {
                pcap.extend_from_slice(&v.to_le_bytes());
            }
            pcap.extend_from_slice(&frame);
        }
    }
    fs::write(out_dir.join("large.pcap"), &pcap).expect("write pcap");
    let mut t = fs::File::create(out_dir.join("ikev2_decryption_table")).expect("create key table");
    t.write_all(new_table.as_bytes()).expect("write key table");
    println!(
        "{} messages in {} IKE SAs: {}",
        packets.len() as u64 * copies,
        copies,
        out_dir.join("large.pcap").display()
    );
}
