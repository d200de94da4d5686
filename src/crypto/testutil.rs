//! Test helpers: hex decoding and a minimal classic-pcap / Ethernet / IP /
//! UDP reader, just enough to pull IKE messages out of the test captures
//! (the real capture layer lives in `src/capture`).

pub(crate) fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(s).expect("test hex")
}

/// One IKE message found in a capture.
#[derive(Debug, Clone)]
#[allow(dead_code)]
pub(crate) struct CapturedIke {
    /// 1-based frame number.
    pub frame: usize,
    pub sport: u16,
    pub dport: u16,
    /// The IKE message (non-ESP marker removed).
    pub data: Vec<u8>,
}

/// Reads a classic little- or big-endian pcap with Ethernet link type and
/// returns the IKE messages on UDP 500/4500 (skipping ESP and keepalives).
pub(crate) fn read_pcap_ike(bytes: &[u8]) -> Vec<CapturedIke> {
    let magic = u32::from_le_bytes(bytes[0..4].try_into().unwrap());
    let le = match magic {
        0xa1b2c3d4 | 0xa1b23c4d => true,
        0xd4c3b2a1 | 0x4d3cb2a1 => false,
        _ => panic!("not a classic pcap file"),
    };
    let u32_at = |b: &[u8], o: usize| {
        let a: [u8; 4] = b[o..o + 4].try_into().unwrap();
        if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    assert_eq!(u32_at(bytes, 20), 1, "expected Ethernet link type");
    let mut pos = 24;
    let mut frame = 0;
    let mut out = Vec::new();
    while pos + 16 <= bytes.len() {
        frame += 1;
        let incl = u32_at(bytes, pos + 8) as usize;
        let pkt = &bytes[pos + 16..pos + 16 + incl];
        pos += 16 + incl;
        let mut ethertype = u16::from_be_bytes([pkt[12], pkt[13]]);
        let mut l3 = 14;
        while ethertype == 0x8100 {
            ethertype = u16::from_be_bytes([pkt[l3 + 2], pkt[l3 + 3]]);
            l3 += 4;
        }
        let (proto, l4) = match ethertype {
            0x0800 => {
                let ihl = (pkt[l3] & 0x0f) as usize * 4;
                (pkt[l3 + 9], l3 + ihl)
            }
            0x86dd => (pkt[l3 + 6], l3 + 40),
            _ => continue,
        };
        if proto != 17 {
            continue;
        }
        let sport = u16::from_be_bytes([pkt[l4], pkt[l4 + 1]]);
        let dport = u16::from_be_bytes([pkt[l4 + 2], pkt[l4 + 3]]);
        let ulen = u16::from_be_bytes([pkt[l4 + 4], pkt[l4 + 5]]) as usize;
        let mut payload = &pkt[l4 + 8..l4 + ulen];
        if sport == 4500 || dport == 4500 {
            if payload.len() < 4 || payload[..4] != [0, 0, 0, 0] {
                continue; // ESP or NAT-T keepalive
            }
            payload = &payload[4..];
        } else if sport != 500 && dport != 500 {
            continue;
        }
        out.push(CapturedIke {
            frame,
            sport,
            dport,
            data: payload.to_vec(),
        });
    }
    out
}

/// Walks the unencrypted payload chain of an IKE message and returns the
/// offset and type of the SK/SKF payload, if any.
pub(crate) fn find_sk_payload(msg: &[u8]) -> Option<(usize, u8)> {
    let mut ty = msg[16];
    let mut pos = 28;
    while ty != 0 && pos + 4 <= msg.len() {
        if ty == 46 || ty == 53 {
            return Some((pos, ty));
        }
        let len = u16::from_be_bytes([msg[pos + 2], msg[pos + 3]]) as usize;
        ty = msg[pos];
        pos += len;
    }
    None
}

/// Checks that `plain` is a well-formed payload chain starting with
/// `first_type`: every generic header fits, lengths chain exactly to the end,
/// and the last payload's Next Payload is 0. Returns the payload types.
pub(crate) fn check_inner_chain(first_type: u8, plain: &[u8]) -> Result<Vec<u8>, String> {
    let mut types = Vec::new();
    let mut ty = first_type;
    let mut pos = 0;
    while ty != 0 {
        if pos + 4 > plain.len() {
            return Err(format!(
                "payload type {ty} header at {pos} runs past the end"
            ));
        }
        let len = u16::from_be_bytes([plain[pos + 2], plain[pos + 3]]) as usize;
        if len < 4 || pos + len > plain.len() {
            return Err(format!("payload type {ty} at {pos} has bad length {len}"));
        }
        types.push(ty);
        ty = plain[pos];
        pos += len;
    }
    if pos != plain.len() {
        return Err(format!(
            "chain ends at {pos}, plaintext has {} bytes",
            plain.len()
        ));
    }
    Ok(types)
}
