//! Layer 2: IKEv2 cryptography. No I/O, no clock, no randomness (callers
//! supply IVs).
//!
//! * [`alg`]: transform descriptions and their names and IANA IDs.
//! * [`esp`]: ESP packet decryption (RFC 4303) with CHILD_SA keys.
//! * [`decrypt_sk`] / [`encrypt_sk`]: the SK and SKF payloads.
//! * [`prf`], [`prf_plus`], [`derive_ike_sa_keys`], [`derive_child_sa_keys`]:
//!   key derivation.

pub mod alg;
mod cipher;
pub mod dh;
pub mod esp;
mod mac;
mod prf;
mod sk;

#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) mod testutil;

use std::fmt;

pub use alg::{AeadIcv, AesKeySize, EncrAlgorithm, IntegAlgorithm, PrfAlgorithm};
pub use mac::{aes_cmac, aes_xcbc_mac, integ_icv, AesXcbc};
pub use prf::{
    derive_child_sa_keys, derive_ike_sa_keys, prf, prf_plus, skeyseed_initial, skeyseed_rekey,
    ChildSaKeys, IkeSaKeys, IkeTransforms,
};
pub use sk::{
    decrypt_sk, decrypt_sk_as, encrypt_sk, Decrypted, Integrity, SkContent, SkKeys, SkOpener,
    IKE_HEADER_LEN, PAYLOAD_SK, PAYLOAD_SKF,
};

/// Errors of the crypto layer. A failed integrity check is not an error (see
/// [`Integrity`]); these are inputs that cannot be processed at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CryptoError {
    /// A key does not have the length its algorithm needs.
    KeyLength {
        what: &'static str,
        algorithm: String,
        expected: usize,
        actual: usize,
    },
    /// An IV does not have the length its algorithm needs.
    IvLength {
        algorithm: String,
        expected: usize,
        actual: usize,
    },
    /// An AEAD encryption transform was combined with an integrity transform.
    AeadWithIntegrity { encr: String, integ: String },
    /// The message ends before a structure it must contain.
    Truncated {
        what: &'static str,
        need: usize,
        have: usize,
    },
    /// `sk_payload_offset` is not where a payload starts.
    NotAPayloadStart { offset: usize },
    /// The payload at the offset is neither SK (46) nor SKF (53).
    NotEncryptedPayload { offset: usize, payload_type: u8 },
    /// Ciphertext length is not a multiple of the cipher's block size.
    CiphertextLength {
        algorithm: String,
        len: usize,
        block_size: usize,
    },
    /// Pad Length exceeds the decrypted data (integrity verified, so the
    /// sender built a bad payload).
    BadPadding { pad_length: u8, available: usize },
    /// Something is longer than the format allows.
    TooLong {
        what: &'static str,
        len: usize,
        max: usize,
    },
    /// Should not happen; reported instead of panicking.
    Internal(&'static str),
}

impl fmt::Display for CryptoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CryptoError::KeyLength {
                what,
                algorithm,
                expected,
                actual,
            } => write!(f, "{what} has {actual} bytes, {algorithm} needs {expected}"),
            CryptoError::IvLength {
                algorithm,
                expected,
                actual,
            } => write!(f, "IV has {actual} bytes, {algorithm} needs {expected}"),
            CryptoError::AeadWithIntegrity { encr, integ } => write!(
                f,
                "combined-mode cipher {encr} takes no integrity algorithm, got {integ}"
            ),
            CryptoError::Truncated { what, need, have } => {
                write!(f, "truncated {what}: need {need} bytes, have {have}")
            }
            CryptoError::NotAPayloadStart { offset } => {
                write!(f, "no payload starts at offset {offset}")
            }
            CryptoError::NotEncryptedPayload {
                offset,
                payload_type,
            } => write!(
                f,
                "payload at offset {offset} has type {payload_type}, not SK (46) or SKF (53)"
            ),
            CryptoError::CiphertextLength {
                algorithm,
                len,
                block_size,
            } => write!(
                f,
                "{algorithm} ciphertext of {len} bytes is not a multiple of the {block_size}-byte block size"
            ),
            CryptoError::BadPadding {
                pad_length,
                available,
            } => write!(
                f,
                "pad length {pad_length} exceeds the {available} bytes of decrypted data"
            ),
            CryptoError::TooLong { what, len, max } => {
                write!(f, "{what} too long: {len} bytes, at most {max}")
            }
            CryptoError::Internal(what) => write!(f, "internal crypto error: {what}"),
        }
    }
}

impl std::error::Error for CryptoError {}
