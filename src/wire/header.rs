//! IKE header (RFC 7296 §3.1).

use super::reader::Reader;
use super::WireError;

/// Length of the fixed IKE header.
pub const HEADER_LEN: usize = 28;

/// Flags bit: the sender is the original initiator of the IKE SA (I).
pub const FLAG_INITIATOR: u8 = 0x08;
/// Flags bit: the sender can speak a higher major version (V).
pub const FLAG_VERSION: u8 = 0x10;
/// Flags bit: this message is a response (R).
pub const FLAG_RESPONSE: u8 = 0x20;

/// Exchange type IKE_SA_INIT.
pub const IKE_SA_INIT: u8 = 34;
/// Exchange type IKE_AUTH.
pub const IKE_AUTH: u8 = 35;
/// Exchange type CREATE_CHILD_SA.
pub const CREATE_CHILD_SA: u8 = 36;
/// Exchange type INFORMATIONAL.
pub const INFORMATIONAL: u8 = 37;

/// The 28-byte IKE header. All fields are kept verbatim.
///
/// When a [`Message`](super::Message) is emitted, `next_payload` and `length` are
/// recomputed from its payloads; when a header is emitted alone they are written as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Header {
    /// IKE SA initiator's SPI.
    pub spi_i: u64,
    /// IKE SA responder's SPI (zero in the first IKE_SA_INIT request).
    pub spi_r: u64,
    /// Type of the first payload (0 = none).
    pub next_payload: u8,
    /// Major version in the high nibble, minor in the low nibble (0x20 for IKEv2).
    pub version: u8,
    /// Exchange type (34 IKE_SA_INIT, 35 IKE_AUTH, 36 CREATE_CHILD_SA, 37 INFORMATIONAL...).
    pub exchange_type: u8,
    /// Flags byte including reserved bits (see `FLAG_*`).
    pub flags: u8,
    /// Message ID.
    pub message_id: u32,
    /// Total message length, header included.
    pub length: u32,
}

impl Header {
    /// Decode the first 28 bytes of `data`. Does not check `version` or `length`
    /// against the buffer; [`Message::parse`](super::Message::parse) does.
    pub fn parse(data: &[u8]) -> Result<Header, WireError> {
        if let Some(b) = data.first_chunk::<28>() {
            let u32_at = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
            let u64_at = |i: usize| u64::from(u32_at(i)) << 32 | u64::from(u32_at(i + 4));
            return Ok(Header {
                spi_i: u64_at(0),
                spi_r: u64_at(8),
                next_payload: b[16],
                version: b[17],
                exchange_type: b[18],
                flags: b[19],
                message_id: u32_at(20),
                length: u32_at(24),
            });
        }
        // Too short: the field-by-field reader says where and what was missing.
        let mut r = Reader::new(data, 0);
        let h = (|| {
            Ok(Header {
                spi_i: r.u64("initiator SPI")?,
                spi_r: r.u64("responder SPI")?,
                next_payload: r.u8("next payload")?,
                version: r.u8("version")?,
                exchange_type: r.u8("exchange type")?,
                flags: r.u8("flags")?,
                message_id: r.u32("message ID")?,
                length: r.u32("length")?,
            })
        })();
        h.map_err(|e: WireError| e.in_ctx("IKE header"))
    }

    /// Append the 28 header bytes, exactly as stored.
    pub fn emit_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.spi_i.to_be_bytes());
        out.extend_from_slice(&self.spi_r.to_be_bytes());
        out.push(self.next_payload);
        out.push(self.version);
        out.push(self.exchange_type);
        out.push(self.flags);
        out.extend_from_slice(&self.message_id.to_be_bytes());
        out.extend_from_slice(&self.length.to_be_bytes());
    }

    /// Major version (high nibble of `version`).
    pub fn major_version(&self) -> u8 {
        self.version >> 4
    }

    /// Minor version (low nibble of `version`).
    pub fn minor_version(&self) -> u8 {
        self.version & 0x0f
    }

    /// The I(nitiator) flag.
    pub fn is_initiator(&self) -> bool {
        self.flags & FLAG_INITIATOR != 0
    }

    /// The R(esponse) flag.
    pub fn is_response(&self) -> bool {
        self.flags & FLAG_RESPONSE != 0
    }

    /// The V(ersion) flag.
    pub fn version_flag(&self) -> bool {
        self.flags & FLAG_VERSION != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HDR: [u8; 28] = [
        0xad, 0xe3, 0xa6, 0x63, 0xcd, 0xe3, 0xf4, 0xe0, // spi_i
        0x85, 0xc3, 0x03, 0x15, 0xa9, 0xc1, 0x41, 0xc8, // spi_r
        0x2e, 0x20, 0x25, 0x08, // SK, 2.0, INFORMATIONAL, I
        0x00, 0x00, 0x00, 0x03, // message id
        0x00, 0x00, 0x00, 0x50, // length
    ];

    #[test]
    fn parse_emit() {
        let h = Header::parse(&HDR).unwrap();
        assert_eq!(h.spi_i, 0xade3_a663_cde3_f4e0);
        assert_eq!(h.spi_r, 0x85c3_0315_a9c1_41c8);
        assert_eq!(h.next_payload, 46);
        assert_eq!((h.major_version(), h.minor_version()), (2, 0));
        assert_eq!(h.exchange_type, INFORMATIONAL);
        assert!(h.is_initiator() && !h.is_response() && !h.version_flag());
        assert_eq!(h.message_id, 3);
        assert_eq!(h.length, 80);
        let mut out = Vec::new();
        h.emit_into(&mut out);
        assert_eq!(out, HDR);
    }

    #[test]
    fn truncated() {
        for n in 0..HEADER_LEN {
            let e = Header::parse(&HDR[..n]).unwrap_err();
            assert!(e.offset <= n, "{e}");
            assert_eq!(e.context, "IKE header");
        }
        assert_eq!(Header::parse(&HDR[..27]).unwrap_err().offset, 24);
    }
}
