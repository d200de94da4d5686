//! The Encrypted (SK, RFC 7296 §3.14) and Encrypted Fragment (SKF, RFC 7383)
//! payloads: integrity check, decryption, and the encrypt direction.
//!
//! Layout of the payload as it sits in the message:
//!
//! ```text
//! generic header (4) | [SKF: fragment number (2) | total fragments (2)]
//!   | IV | ciphertext (inner payloads | padding | pad length) | ICV
//! ```
//!
//! For non-AEAD transforms the ICV is computed with SK_ai/SK_ar over the
//! whole message from the first byte of the IKE header up to the end of the
//! ciphertext. For AEAD transforms (RFC 5282, RFC 7634) the AAD is the message
//! from the IKE header through the end of the SK generic header (for SKF:
//! through the Total Fragments field), the nonce is salt | IV, and the tag is
//! the ICV.

use std::fmt;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::alg::{EncrAlgorithm, IntegAlgorithm};
use super::cipher::{aead_open, aead_seal, plain_cipher, CbcDecryptKey};
use super::mac::{integ_icv, PreparedMac};
use super::CryptoError;

/// Payload type of the Encrypted and Authenticated payload.
pub const PAYLOAD_SK: u8 = 46;
/// Payload type of the Encrypted and Authenticated Fragment payload.
pub const PAYLOAD_SKF: u8 = 53;
/// Length of the IKE header.
pub const IKE_HEADER_LEN: usize = 28;

/// Keys protecting one IKE SA's SK payloads. `_i` keys protect messages sent
/// by the original initiator, `_r` keys those sent by the original responder.
///
/// Key material is zeroized on drop; `Debug` shows only algorithms and
/// key lengths.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct SkKeys {
    #[zeroize(skip)]
    pub encr: EncrAlgorithm,
    #[zeroize(skip)]
    pub integ: IntegAlgorithm,
    /// SK_ei, including the salt for CTR / AEAD transforms.
    pub sk_ei: Vec<u8>,
    pub sk_er: Vec<u8>,
    pub sk_ai: Vec<u8>,
    pub sk_ar: Vec<u8>,
}

impl fmt::Debug for SkKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SkKeys")
            .field("encr", &self.encr)
            .field("integ", &self.integ)
            .field("sk_ei", &Redacted(self.sk_ei.len()))
            .field("sk_er", &Redacted(self.sk_er.len()))
            .field("sk_ai", &Redacted(self.sk_ai.len()))
            .field("sk_ar", &Redacted(self.sk_ar.len()))
            .finish()
    }
}

/// Debug stand-in for a secret: prints only its length.
pub(crate) struct Redacted(pub usize);

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes redacted>", self.0)
    }
}

impl SkKeys {
    /// Builds and validates a key set (see [`SkKeys::validate`]).
    pub fn new(
        encr: EncrAlgorithm,
        integ: IntegAlgorithm,
        sk_ei: Vec<u8>,
        sk_er: Vec<u8>,
        sk_ai: Vec<u8>,
        sk_ar: Vec<u8>,
    ) -> Result<Self, CryptoError> {
        let k = SkKeys {
            encr,
            integ,
            sk_ei,
            sk_er,
            sk_ai,
            sk_ar,
        };
        k.validate()?;
        Ok(k)
    }

    /// Checks every key length against its algorithm, and that AEAD
    /// transforms come without an integrity algorithm.
    pub fn validate(&self) -> Result<(), CryptoError> {
        if self.encr.is_aead() && self.integ != IntegAlgorithm::None {
            return Err(CryptoError::AeadWithIntegrity {
                encr: self.encr.to_string(),
                integ: self.integ.to_string(),
            });
        }
        // Algorithm names are only formatted for the error: this runs for every message.
        let checks: [(&'static str, &[u8], usize, bool); 4] = [
            ("SK_ei", &self.sk_ei, self.encr.key_len(), true),
            ("SK_er", &self.sk_er, self.encr.key_len(), true),
            ("SK_ai", &self.sk_ai, self.integ.key_len(), false),
            ("SK_ar", &self.sk_ar, self.integ.key_len(), false),
        ];
        for (what, key, expected, encr) in checks {
            if key.len() != expected {
                return Err(CryptoError::KeyLength {
                    what,
                    algorithm: if encr {
                        self.encr.to_string()
                    } else {
                        self.integ.to_string()
                    },
                    expected,
                    actual: key.len(),
                });
            }
        }
        Ok(())
    }

    /// ICV length of the SK payload under these transforms.
    pub fn icv_len(&self) -> usize {
        if self.encr.is_aead() {
            self.encr.icv_len()
        } else {
            self.integ.icv_len()
        }
    }

    fn directional(&self, from_initiator: bool) -> (&[u8], &[u8]) {
        if from_initiator {
            (&self.sk_ei, &self.sk_ai)
        } else {
            (&self.sk_er, &self.sk_ar)
        }
    }
}

/// Result of the integrity check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Integrity {
    /// ICV / tag verified. (Also reported for the test-only NULL/NONE
    /// combination, where there is nothing to verify.)
    Ok,
    /// ICV / tag mismatch: wrong keys, wrong direction, or a corrupted message.
    Bad,
}

/// A decrypted SK or SKF payload.
#[derive(Clone, PartialEq, Eq)]
pub struct Decrypted {
    pub integrity: Integrity,
    /// The inner payloads, with padding and the pad-length byte removed.
    ///
    /// Empty when an AEAD tag failed to verify. When a non-AEAD ICV failed,
    /// this is still the decryption result; if in addition the pad length is
    /// impossible, it is the whole decrypted buffer and `pad_length` is 0.
    pub plaintext: Vec<u8>,
    /// The Pad Length byte.
    pub pad_length: u8,
    /// Next Payload field of the SK/SKF generic header: type of the first
    /// inner payload (0 in non-first fragments).
    pub next_payload: u8,
    /// `(fragment number, total fragments)` for SKF.
    pub fragment: Option<(u16, u16)>,
}

impl fmt::Debug for Decrypted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decrypted")
            .field("integrity", &self.integrity)
            .field("plaintext_len", &self.plaintext.len())
            .field("pad_length", &self.pad_length)
            .field("next_payload", &self.next_payload)
            .field("fragment", &self.fragment)
            .finish()
    }
}

/// Finds the type of the payload that starts at `offset` by walking the
/// payload chain from the IKE header.
fn payload_type_at(message: &[u8], offset: usize) -> Result<u8, CryptoError> {
    if message.len() < IKE_HEADER_LEN {
        return Err(CryptoError::Truncated {
            what: "IKE header",
            need: IKE_HEADER_LEN,
            have: message.len(),
        });
    }
    let mut ty = message[16];
    let mut pos = IKE_HEADER_LEN;
    while pos < offset {
        if ty == 0 || pos + 4 > message.len() {
            break;
        }
        let len = u16::from_be_bytes([message[pos + 2], message[pos + 3]]) as usize;
        if len < 4 {
            break;
        }
        ty = message[pos];
        pos += len;
    }
    if pos != offset {
        return Err(CryptoError::NotAPayloadStart { offset });
    }
    Ok(ty)
}

/// Decrypts the SK or SKF payload whose generic header starts at
/// `sk_payload_offset` in `message` (the whole IKE message as received, from
/// the IKE header on). The payload type (SK or SKF) is found by walking the
/// payload chain from the header; use [`decrypt_sk_as`] to state it instead.
///
/// `from_initiator` selects SK_ei/SK_ai (message sent by the original
/// initiator of the IKE SA: the Initiator flag is set) or SK_er/SK_ar.
///
/// Integrity is checked first. A failed check is reported as
/// `Integrity::Bad`, not as an error; errors are for payloads that cannot be
/// processed at all (truncated, ciphertext not a multiple of the block size,
/// key lengths not fitting, or, with a verified ICV, an impossible pad length).
pub fn decrypt_sk(
    keys: &SkKeys,
    from_initiator: bool,
    message: &[u8],
    sk_payload_offset: usize,
) -> Result<Decrypted, CryptoError> {
    let ty = payload_type_at(message, sk_payload_offset)?;
    match ty {
        PAYLOAD_SK => decrypt_sk_as(keys, from_initiator, message, sk_payload_offset, false),
        PAYLOAD_SKF => decrypt_sk_as(keys, from_initiator, message, sk_payload_offset, true),
        other => Err(CryptoError::NotEncryptedPayload {
            offset: sk_payload_offset,
            payload_type: other,
        }),
    }
}

/// Like [`decrypt_sk`], with the payload type given: `fragment == true` for
/// SKF (53), `false` for SK (46).
pub fn decrypt_sk_as(
    keys: &SkKeys,
    from_initiator: bool,
    message: &[u8],
    sk_payload_offset: usize,
    fragment: bool,
) -> Result<Decrypted, CryptoError> {
    SkOpener::new(keys, from_initiator)?.open(message, sk_payload_offset, fragment)
}

/// One direction of an SK key set (SK_ei/SK_ai or SK_er/SK_ar), ready to open many
/// payloads: the key-dependent work (AES key schedule, HMAC pads) is done once in
/// [`SkOpener::new`] instead of for every message. [`SkOpener::open`] gives exactly what
/// [`decrypt_sk_as`] gives for the same key set and direction.
pub struct SkOpener {
    encr: EncrAlgorithm,
    integ: IntegAlgorithm,
    /// SK_e and SK_a of this direction, for the transforms without a prepared form (empty
    /// where `cbc` or `mac` is that form).
    ke: Zeroizing<Vec<u8>>,
    ka: Zeroizing<Vec<u8>>,
    cbc: Option<CbcDecryptKey>,
    mac: Option<PreparedMac>,
}

impl fmt::Debug for SkOpener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SkOpener")
            .field("encr", &self.encr)
            .field("integ", &self.integ)
            .finish_non_exhaustive()
    }
}

impl SkOpener {
    /// Validates `keys` (see [`SkKeys::validate`]) and prepares the direction
    /// `from_initiator` selects.
    pub fn new(keys: &SkKeys, from_initiator: bool) -> Result<Self, CryptoError> {
        keys.validate()?;
        let (ke, ka) = keys.directional(from_initiator);
        let cbc = CbcDecryptKey::new(keys.encr, ke);
        let mac = PreparedMac::new(keys.integ, ka);
        // A key with a prepared form is not needed as bytes any more.
        let bytes = |prepared: bool, key: &[u8]| match prepared {
            true => Zeroizing::new(Vec::new()),
            false => Zeroizing::new(key.to_vec()),
        };
        Ok(SkOpener {
            encr: keys.encr,
            integ: keys.integ,
            ke: bytes(cbc.is_some(), ke),
            ka: bytes(mac.is_some(), ka),
            cbc,
            mac,
        })
    }

    fn icv_len(&self) -> usize {
        if self.encr.is_aead() {
            self.encr.icv_len()
        } else {
            self.integ.icv_len()
        }
    }

    /// Decrypts the SK (`fragment == false`) or SKF payload whose generic header starts at
    /// `sk_payload_offset` in `message` (see [`decrypt_sk`]).
    pub fn open(
        &self,
        message: &[u8],
        sk_payload_offset: usize,
        fragment: bool,
    ) -> Result<Decrypted, CryptoError> {
        let sk = SkLayout::find(message, sk_payload_offset, fragment)?;
        let (body, end) = (sk.body, sk.end);
        let iv_len = self.encr.iv_len();
        let icv_len = self.icv_len();
        if body + iv_len + icv_len + 1 > end {
            return Err(CryptoError::Truncated {
                what: "SK payload body (IV, at least the pad length byte, ICV)",
                need: body + iv_len + icv_len + 1,
                have: end,
            });
        }
        let iv = &message[body..body + iv_len];
        let ct_start = body + iv_len;
        let ct_end = end - icv_len;
        let icv = &message[ct_end..end];
        let ciphertext = &message[ct_start..ct_end];

        let (integrity, data) = if self.encr.is_aead() {
            let Some(data) = self.open_aead(&message[..body], iv, ciphertext, icv)? else {
                return Ok(Decrypted {
                    integrity: Integrity::Bad,
                    plaintext: Vec::new(),
                    pad_length: 0,
                    next_payload: sk.next_payload,
                    fragment: sk.fragment,
                });
            };
            (Integrity::Ok, data)
        } else {
            let ok = self.icv_matches(&message[..ct_end], icv)?;
            let data = self.decipher(iv, ciphertext)?;
            let integrity = if ok { Integrity::Ok } else { Integrity::Bad };
            (integrity, data)
        };
        strip_padding(data, integrity, &sk)
    }

    /// AEAD: the plaintext of `ciphertext`, or `None` when the tag `icv` does not verify
    /// over `aad` (the message up to the IV).
    fn open_aead(
        &self,
        aad: &[u8],
        iv: &[u8],
        ciphertext: &[u8],
        icv: &[u8],
    ) -> Result<Option<Vec<u8>>, CryptoError> {
        let mut data = ciphertext.to_vec();
        if !aead_open(self.encr, &self.ke, iv, aad, &mut data, icv)? {
            return Ok(None);
        }
        Ok(Some(data))
    }

    /// Non-AEAD: does `icv` match the integrity checksum of `signed` (the message up to
    /// the ICV)? Compared in constant time; the computed checksum is wiped.
    fn icv_matches(&self, signed: &[u8], icv: &[u8]) -> Result<bool, CryptoError> {
        match &self.mac {
            Some(mac) => {
                let mut full = [0u8; 64];
                let n = mac.compute(signed, &mut full);
                let n = n.min(self.integ.icv_len());
                let ok = bool::from(full[..n].ct_eq(icv));
                full.zeroize();
                Ok(ok)
            }
            None => {
                let mut computed = integ_icv(self.integ, &self.ka, &[signed])?;
                let ok = bool::from(computed.as_slice().ct_eq(icv));
                computed.zeroize();
                Ok(ok)
            }
        }
    }

    /// Non-AEAD: decrypt `ciphertext` (padding still on).
    fn decipher(&self, iv: &[u8], ciphertext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        match &self.cbc {
            Some(cbc) => {
                let bs = self.encr.block_size();
                if !ciphertext.len().is_multiple_of(bs) {
                    return Err(CryptoError::CiphertextLength {
                        algorithm: self.encr.to_string(),
                        len: ciphertext.len(),
                        block_size: bs,
                    });
                }
                let mut data = vec![0u8; ciphertext.len()];
                cbc.decrypt(iv, ciphertext, &mut data)?;
                Ok(data)
            }
            None => {
                let mut data = ciphertext.to_vec();
                plain_cipher(self.encr, &self.ke, iv, &mut data, false)?;
                Ok(data)
            }
        }
    }
}

/// Where the parts of an SK/SKF payload lie in its message.
struct SkLayout {
    /// The Next Payload field of the SK/SKF header.
    next_payload: u8,
    /// SKF: (fragment number, total fragments).
    fragment: Option<(u16, u16)>,
    /// Offset of the IV, which ends the associated data.
    body: usize,
    /// Offset of the payload's end.
    end: usize,
}

impl SkLayout {
    /// The SK (`fragment == false`) or SKF payload header at `off`, checked against the
    /// message length.
    fn find(message: &[u8], off: usize, fragment: bool) -> Result<SkLayout, CryptoError> {
        if message.len() < IKE_HEADER_LEN
            || off < IKE_HEADER_LEN
            || off > message.len()
            || message.len() - off < 4
        {
            return Err(CryptoError::Truncated {
                what: "SK payload header",
                need: off.max(IKE_HEADER_LEN).saturating_add(4),
                have: message.len(),
            });
        }
        let plen = u16::from_be_bytes([message[off + 2], message[off + 3]]) as usize;
        let end = off + plen;
        if end > message.len() {
            return Err(CryptoError::Truncated {
                what: "SK payload",
                need: end,
                have: message.len(),
            });
        }
        let next_payload = message[off];
        let mut body = off + 4;
        let frag = if fragment {
            if body + 4 > end {
                return Err(CryptoError::Truncated {
                    what: "SKF fragment fields",
                    need: body + 4,
                    have: end,
                });
            }
            let n = u16::from_be_bytes([message[body], message[body + 1]]);
            let t = u16::from_be_bytes([message[body + 2], message[body + 3]]);
            body += 4;
            Some((n, t))
        } else {
            None
        };
        Ok(SkLayout {
            next_payload,
            fragment: frag,
            body,
            end,
        })
    }
}

/// Remove the padding and the pad length byte from decrypted `data`. A pad length beyond
/// the data is an error only when the integrity check passed; otherwise the data is kept
/// as it is, for display.
fn strip_padding(
    mut data: Vec<u8>,
    integrity: Integrity,
    sk: &SkLayout,
) -> Result<Decrypted, CryptoError> {
    // `open` reserved one byte for the pad length, so this error is not expected.
    let Some(&pad_length) = data.last() else {
        return Err(CryptoError::Truncated {
            what: "SK payload body (IV, at least the pad length byte, ICV)",
            need: 1,
            have: 0,
        });
    };
    let strip = pad_length as usize + 1;
    if strip > data.len() {
        if integrity == Integrity::Ok {
            return Err(CryptoError::BadPadding {
                pad_length,
                available: data.len() - 1,
            });
        }
        return Ok(Decrypted {
            integrity,
            plaintext: data,
            pad_length: 0,
            next_payload: sk.next_payload,
            fragment: sk.fragment,
        });
    }
    let keep = data.len() - strip;
    data[keep..].zeroize();
    data.truncate(keep);
    Ok(Decrypted {
        integrity,
        plaintext: data,
        pad_length,
        next_payload: sk.next_payload,
        fragment: sk.fragment,
    })
}

/// What to put inside an SK/SKF payload being built.
#[derive(Debug, Clone, Copy)]
pub struct SkContent<'a> {
    /// Next Payload field of the SK/SKF header: the type of the first inner
    /// payload (for SKF: in fragment 1; 0 in the others).
    pub next_payload: u8,
    /// Inner payloads, already encoded.
    pub payloads: &'a [u8],
    /// `Some((fragment number, total fragments))` to build an SKF payload.
    pub fragment: Option<(u16, u16)>,
    /// Padding beyond the minimum needed for alignment, in blocks of the
    /// cipher's block size; 0 for the minimum. (Lets a peer vary the length.)
    pub extra_pad_blocks: u8,
}

/// Builds a protected message: `prefix` (the IKE header plus any unencrypted
/// payloads before SK; its payload chain must already point to SK (46) or
/// SKF (53)) followed by the SK/SKF payload holding `content`, encrypted with
/// `iv` and integrity-protected. The IKE header's Length field is set; all
/// other header fields are taken from `prefix` as they are.
///
/// The IV must have `keys.encr.iv_len()` bytes. For CBC it must be
/// unpredictable; for CTR and the AEAD modes it must never repeat under the
/// same key. Producing it is the caller's job (this layer has no RNG).
/// Padding bytes are zero.
pub fn encrypt_sk(
    keys: &SkKeys,
    from_initiator: bool,
    prefix: &[u8],
    content: &SkContent<'_>,
    iv: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    keys.validate()?;
    if prefix.len() < IKE_HEADER_LEN {
        return Err(CryptoError::Truncated {
            what: "IKE header",
            need: IKE_HEADER_LEN,
            have: prefix.len(),
        });
    }
    if iv.len() != keys.encr.iv_len() {
        return Err(CryptoError::IvLength {
            algorithm: keys.encr.to_string(),
            expected: keys.encr.iv_len(),
            actual: iv.len(),
        });
    }
    let bs = keys.encr.block_size();
    let min_pad = (bs - (content.payloads.len() + 1) % bs) % bs;
    let pad = min_pad + bs * content.extra_pad_blocks as usize;
    if pad > 255 {
        return Err(CryptoError::TooLong {
            what: "padding",
            len: pad,
            max: 255,
        });
    }
    let frag_len = if content.fragment.is_some() { 4 } else { 0 };
    let icv_len = keys.icv_len();
    let ct_len = content.payloads.len() + pad + 1;
    let payload_len = 4 + frag_len + iv.len() + ct_len + icv_len;
    if payload_len > u16::MAX as usize {
        return Err(CryptoError::TooLong {
            what: "SK payload",
            len: payload_len,
            max: u16::MAX as usize,
        });
    }
    let total = prefix.len() + payload_len;
    let total32 = u32::try_from(total).map_err(|_| CryptoError::TooLong {
        what: "IKE message",
        len: total,
        max: u32::MAX as usize,
    })?;

    let mut msg = Vec::with_capacity(total);
    msg.extend_from_slice(prefix);
    msg[24..28].copy_from_slice(&total32.to_be_bytes());
    msg.push(content.next_payload);
    msg.push(0);
    msg.extend_from_slice(&(payload_len as u16).to_be_bytes());
    if let Some((n, t)) = content.fragment {
        msg.extend_from_slice(&n.to_be_bytes());
        msg.extend_from_slice(&t.to_be_bytes());
    }
    let aad_end = msg.len();
    msg.extend_from_slice(iv);

    let mut data = Vec::with_capacity(ct_len);
    data.extend_from_slice(content.payloads);
    data.resize(content.payloads.len() + pad, 0);
    data.push(pad as u8);

    let (ke, ka) = keys.directional(from_initiator);
    if keys.encr.is_aead() {
        let tag = aead_seal(keys.encr, ke, iv, &msg[..aad_end], &mut data)?;
        msg.extend_from_slice(&data);
        msg.extend_from_slice(&tag);
    } else {
        plain_cipher(keys.encr, ke, iv, &mut data, true)?;
        msg.extend_from_slice(&data);
        let icv = integ_icv(keys.integ, ka, &[&msg])?;
        msg.extend_from_slice(&icv);
    }
    debug_assert_eq!(msg.len(), total);
    Ok(msg)
}
