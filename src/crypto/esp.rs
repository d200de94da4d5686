//! ESP packet decryption (RFC 4303) with the IKEv2 transforms: AES-CBC / 3DES-CBC / AES-CTR
//! (RFC 3686) / NULL with an integrity algorithm (HMAC truncations per RFC 2404 / RFC 4868,
//! AES-XCBC, AES-CMAC), and the combined modes AES-GCM (RFC 4106), AES-CCM (RFC 4309) and
//! ChaCha20-Poly1305 (RFC 7634).
//!
//! The ciphers and MACs are the same code that protects SK payloads (`cipher`, `mac`); this
//! module only knows the ESP packet layout:
//!
//! ```text
//! SPI (4) | Sequence Number (4) | IV | ciphertext(payload | padding | pad length | next header) | ICV
//! ```
//!
//! * Non-AEAD: the ICV covers SPI through the end of the ciphertext, followed (for the ICV
//!   computation only) by the high 32 bits of the sequence number when ESN is on
//!   (RFC 4303 §2.2.1, §3.3.2.1).
//! * AEAD: AAD = SPI | sequence number (8 bytes), or SPI | high 32 bits | low 32 bits with ESN
//!   (RFC 4106 §5, RFC 4309 §5, RFC 7634 §2.1); nonce = salt (the end of the key) | IV.
//!
//! Keys are the CHILD_SA KEYMAT slices of RFC 7296 §2.17 ([`super::derive_child_sa_keys`]):
//! the encryption key includes the salt where the transform has one.

use std::fmt;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::alg::{EncrAlgorithm, IntegAlgorithm};
use super::cipher::{aead_open, plain_cipher};
use super::mac::integ_icv;
use super::sk::{Integrity, Redacted};
use super::CryptoError;

/// Length of the SPI and Sequence Number fields.
pub const ESP_HEADER_LEN: usize = 8;

/// Keys of one ESP SA (one direction). Zeroized on drop; `Debug` shows no key material.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct EspKeys {
    #[zeroize(skip)]
    pub encr: EncrAlgorithm,
    /// `IntegAlgorithm::None` with the combined-mode (AEAD) ciphers.
    #[zeroize(skip)]
    pub integ: IntegAlgorithm,
    /// Encryption key, including the salt for CTR / GCM / CCM / ChaCha20-Poly1305.
    pub encr_key: Vec<u8>,
    pub integ_key: Vec<u8>,
    /// Extended (64-bit) sequence numbers negotiated (transform type 5, ESN = 1).
    #[zeroize(skip)]
    pub esn: bool,
}

impl fmt::Debug for EspKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EspKeys")
            .field("encr", &self.encr)
            .field("integ", &self.integ)
            .field("encr_key", &Redacted(self.encr_key.len()))
            .field("integ_key", &Redacted(self.integ_key.len()))
            .field("esn", &self.esn)
            .finish()
    }
}

impl EspKeys {
    /// Builds and validates a key set (see [`EspKeys::validate`]).
    pub fn new(
        encr: EncrAlgorithm,
        integ: IntegAlgorithm,
        encr_key: Vec<u8>,
        integ_key: Vec<u8>,
        esn: bool,
    ) -> Result<Self, CryptoError> {
        let k = EspKeys {
            encr,
            integ,
            encr_key,
            integ_key,
            esn,
        };
        k.validate()?;
        Ok(k)
    }

    /// Key lengths fit their algorithms; AEAD ciphers come without an integrity algorithm.
    pub fn validate(&self) -> Result<(), CryptoError> {
        if self.encr.is_aead() && self.integ != IntegAlgorithm::None {
            return Err(CryptoError::AeadWithIntegrity {
                encr: self.encr.to_string(),
                integ: self.integ.to_string(),
            });
        }
        if self.encr_key.len() != self.encr.key_len() {
            return Err(CryptoError::KeyLength {
                what: "ESP encryption key",
                algorithm: self.encr.to_string(),
                expected: self.encr.key_len(),
                actual: self.encr_key.len(),
            });
        }
        if self.integ_key.len() != self.integ.key_len() {
            return Err(CryptoError::KeyLength {
                what: "ESP integrity key",
                algorithm: self.integ.to_string(),
                expected: self.integ.key_len(),
                actual: self.integ_key.len(),
            });
        }
        Ok(())
    }

    /// ICV length of packets under these keys.
    pub fn icv_len(&self) -> usize {
        if self.encr.is_aead() {
            self.encr.icv_len()
        } else {
            self.integ.icv_len()
        }
    }

    /// Length of the IV that follows the sequence number.
    pub fn iv_len(&self) -> usize {
        self.encr.iv_len()
    }
}

/// What [`decrypt_esp`] found besides the inner packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EspTrailer {
    pub spi: u32,
    /// Sequence number as carried (low 32 bits).
    pub seq: u32,
    pub integrity: Integrity,
    /// Next Header: 4 = IPv4, 41 = IPv6 (tunnel mode), 59 = dummy packet (RFC 4303 §2.6),
    /// 6 / 17 / ... in transport mode. 0 when integrity failed.
    pub next_header: u8,
    pub pad_length: u8,
    /// The padding bytes are 1, 2, 3, ... as RFC 4303 §2.4 requires.
    pub padding_ok: bool,
}

/// Decrypts one ESP packet (`packet` starts with the SPI and ends with the ICV) into `out`
/// (cleared first; reuse it across packets to avoid allocations; traffic, unlike keys, is
/// not zeroized). On success `out` holds the
/// inner packet (padding, pad length and next header removed).
///
/// `seq_high` is the high 32 bits of the extended sequence number; it is only used when
/// `keys.esn` is set.
///
/// A failed integrity check is not an error: the trailer says `Integrity::Bad` and `out` is
/// empty. Errors are for packets that cannot be processed: too short for header, IV, trailer
/// and ICV, ciphertext not a multiple of the block size, bad key lengths, or (integrity
/// verified) a pad length longer than the data.
pub fn decrypt_esp(
    keys: &EspKeys,
    packet: &[u8],
    seq_high: u32,
    out: &mut Vec<u8>,
) -> Result<EspTrailer, CryptoError> {
    keys.validate()?;
    out.clear();
    let iv_len = keys.iv_len();
    let icv_len = keys.icv_len();
    // At least pad length + next header in the ciphertext.
    let need = ESP_HEADER_LEN + iv_len + 2 + icv_len;
    if packet.len() < need {
        return Err(CryptoError::Truncated {
            what: "ESP packet (SPI, sequence number, IV, pad length, next header, ICV)",
            need,
            have: packet.len(),
        });
    }
    let spi = u32::from_be_bytes([packet[0], packet[1], packet[2], packet[3]]);
    let seq = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
    let ct_start = ESP_HEADER_LEN + iv_len;
    let ct_end = packet.len() - icv_len;
    let iv = &packet[ESP_HEADER_LEN..ct_start];
    let icv = &packet[ct_end..];
    let bs = keys.encr.block_size();
    if !(ct_end - ct_start).is_multiple_of(bs) {
        return Err(CryptoError::CiphertextLength {
            algorithm: keys.encr.to_string(),
            len: ct_end - ct_start,
            block_size: bs,
        });
    }
    let bad = EspTrailer {
        spi,
        seq,
        integrity: Integrity::Bad,
        next_header: 0,
        pad_length: 0,
        padding_ok: false,
    };
    let high = seq_high.to_be_bytes();
    out.extend_from_slice(&packet[ct_start..ct_end]);

    if keys.encr.is_aead() {
        let mut aad = [0u8; 12];
        let aad_len = if keys.esn {
            aad[..4].copy_from_slice(&packet[..4]);
            aad[4..8].copy_from_slice(&high);
            aad[8..12].copy_from_slice(&packet[4..8]);
            12
        } else {
            aad[..8].copy_from_slice(&packet[..8]);
            8
        };
        if !aead_open(keys.encr, &keys.encr_key, iv, &aad[..aad_len], out, icv)? {
            out.clear();
            return Ok(bad);
        }
    } else {
        let esn_part: &[u8] = if keys.esn { &high } else { &[] };
        let mut computed = integ_icv(keys.integ, &keys.integ_key, &[&packet[..ct_end], esn_part])?;
        let ok = computed.len() == icv.len() && bool::from(computed.as_slice().ct_eq(icv));
        computed.zeroize();
        if !ok {
            out.clear();
            return Ok(bad);
        }
        plain_cipher(keys.encr, &keys.encr_key, iv, out, false)?;
    }

    // The length check above reserved the two trailer bytes.
    let n = out.len();
    let next_header = out[n - 1];
    let pad_length = out[n - 2];
    let strip = pad_length as usize + 2;
    if strip > n {
        out.clear();
        return Err(CryptoError::BadPadding {
            pad_length,
            available: n - 2,
        });
    }
    let keep = n - strip;
    let padding_ok = out[keep..n - 2]
        .iter()
        .enumerate()
        .all(|(i, &b)| b as usize == i + 1);
    out.truncate(keep);
    Ok(EspTrailer {
        spi,
        seq,
        integrity: Integrity::Ok,
        next_header,
        pad_length,
        padding_ok,
    })
}

/// Builds an ESP packet (for tests and the engine): `SPI | seq | iv | E(payload | 1, 2, ... |
/// pad length | next header) | ICV`, padded to the cipher's block size and to 4 bytes.
/// The IV must have `keys.iv_len()` bytes and must never repeat under one key for CTR and the
/// AEAD modes; producing it is the caller's job.
pub fn encrypt_esp(
    keys: &EspKeys,
    spi: u32,
    seq: u64,
    iv: &[u8],
    payload: &[u8],
    next_header: u8,
) -> Result<Vec<u8>, CryptoError> {
    keys.validate()?;
    if iv.len() != keys.iv_len() {
        return Err(CryptoError::IvLength {
            algorithm: keys.encr.to_string(),
            expected: keys.iv_len(),
            actual: iv.len(),
        });
    }
    let align = keys.encr.block_size().max(4);
    let pad = (align - (payload.len() + 2) % align) % align;
    let mut data = Vec::with_capacity(payload.len() + pad + 2);
    data.extend_from_slice(payload);
    data.extend((1..=pad).map(|i| i as u8));
    data.push(pad as u8);
    data.push(next_header);
    let low = (seq as u32).to_be_bytes();
    let high = ((seq >> 32) as u32).to_be_bytes();
    let mut pkt = Vec::with_capacity(ESP_HEADER_LEN + iv.len() + data.len() + keys.icv_len());
    pkt.extend_from_slice(&spi.to_be_bytes());
    pkt.extend_from_slice(&low);
    pkt.extend_from_slice(iv);
    if keys.encr.is_aead() {
        let mut aad = Vec::with_capacity(12);
        aad.extend_from_slice(&spi.to_be_bytes());
        if keys.esn {
            aad.extend_from_slice(&high);
        }
        aad.extend_from_slice(&low);
        let tag = super::cipher::aead_seal(keys.encr, &keys.encr_key, iv, &aad, &mut data)?;
        pkt.extend_from_slice(&data);
        pkt.extend_from_slice(&tag);
    } else {
        plain_cipher(keys.encr, &keys.encr_key, iv, &mut data, true)?;
        pkt.extend_from_slice(&data);
        let esn_part: &[u8] = if keys.esn { &high } else { &[] };
        let icv = integ_icv(keys.integ, &keys.integ_key, &[&pkt, esn_part])?;
        pkt.extend_from_slice(&icv);
    }
    data.zeroize();
    Ok(pkt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::alg::AesKeySize;

    fn all_keys(esn: bool) -> Vec<EspKeys> {
        let mut v = Vec::new();
        for encr in EncrAlgorithm::all() {
            let integs: &[IntegAlgorithm] = if encr.is_aead() {
                &[IntegAlgorithm::None]
            } else {
                &[
                    IntegAlgorithm::HmacSha1_96,
                    IntegAlgorithm::HmacSha2_256_128,
                    IntegAlgorithm::HmacSha2_384_192,
                    IntegAlgorithm::HmacSha2_512_256,
                    IntegAlgorithm::AesXcbc96,
                ]
            };
            for &integ in integs {
                let ek: Vec<u8> = (0..encr.key_len()).map(|i| i as u8 ^ 0x5a).collect();
                let ik: Vec<u8> = (0..integ.key_len()).map(|i| i as u8 ^ 0xa5).collect();
                v.push(EspKeys::new(encr, integ, ek, ik, esn).unwrap());
            }
        }
        v
    }

    #[test]
    fn roundtrip_every_transform() {
        let mut out = Vec::new();
        for esn in [false, true] {
            for k in all_keys(esn) {
                let iv = vec![7u8; k.iv_len()];
                let payload: Vec<u8> = (0..61u8).collect();
                let seq = (3u64 << 32) | 9;
                let pkt = encrypt_esp(&k, 0x1234_5678, seq, &iv, &payload, 4).unwrap();
                let t = decrypt_esp(&k, &pkt, 3, &mut out).unwrap();
                assert_eq!(t.integrity, Integrity::Ok, "{k:?}");
                assert_eq!((t.spi, t.seq, t.next_header), (0x1234_5678, 9, 4));
                assert!(t.padding_ok);
                assert_eq!(out, payload, "{k:?}");
                // Flipped ICV bit, wrong ESN high bits (ESN only): integrity bad, no error.
                let mut bad = pkt.clone();
                let last = bad.len() - 1;
                bad[last] ^= 1;
                let t = decrypt_esp(&k, &bad, 3, &mut out).unwrap();
                assert_eq!(t.integrity, Integrity::Bad);
                assert!(out.is_empty());
                if esn {
                    let t = decrypt_esp(&k, &pkt, 4, &mut out).unwrap();
                    assert_eq!(t.integrity, Integrity::Bad);
                }
                // Every truncation: an error or integrity bad, never a panic.
                for n in 0..pkt.len() {
                    if let Ok(t) = decrypt_esp(&k, &pkt[..n], 3, &mut out) {
                        assert_eq!(t.integrity, Integrity::Bad);
                    }
                }
            }
        }
    }

    #[test]
    fn errors() {
        let k = EspKeys::new(
            EncrAlgorithm::AesCbc(AesKeySize::Aes128),
            IntegAlgorithm::HmacSha1_96,
            vec![1; 16],
            vec![2; 20],
            false,
        )
        .unwrap();
        let mut out = Vec::new();
        // 8 + 16 IV + 15 bytes ciphertext + 12 ICV: not a block multiple.
        let pkt = vec![0u8; 8 + 16 + 15 + 12];
        assert!(matches!(
            decrypt_esp(&k, &pkt, 0, &mut out),
            Err(CryptoError::CiphertextLength { .. })
        ));
        assert!(matches!(
            decrypt_esp(&k, &[0u8; 10], 0, &mut out),
            Err(CryptoError::Truncated { .. })
        ));
        assert!(EspKeys::new(
            EncrAlgorithm::AesCbc(AesKeySize::Aes128),
            IntegAlgorithm::None,
            vec![0; 15],
            vec![],
            false
        )
        .is_err());
        assert!(!format!("{k:?}").contains("01"));
    }
}
