//! IKEv2 transform descriptions: encryption, integrity and PRF algorithms.
//!
//! Every algorithm knows its key length (for the ciphers that need a salt, the
//! salt is part of the key, as it is in SK_e: RFC 5930, RFC 5282, RFC 7634), its
//! IV and ICV lengths, its IANA transform ID, and the names under which Wireshark
//! (the `ikev2_decryption_table` UAT) and strongSwan (charon log lines such as
//! `selected proposal: IKE:AES_CBC_128/HMAC_SHA2_256_128/...`) know it.

use std::fmt;

/// AES key size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AesKeySize {
    Aes128,
    Aes192,
    Aes256,
}

impl AesKeySize {
    pub const ALL: [AesKeySize; 3] = [AesKeySize::Aes128, AesKeySize::Aes192, AesKeySize::Aes256];

    /// Key length in bytes (16, 24, 32).
    pub const fn bytes(self) -> usize {
        match self {
            AesKeySize::Aes128 => 16,
            AesKeySize::Aes192 => 24,
            AesKeySize::Aes256 => 32,
        }
    }

    /// Key length in bits (128, 192, 256), the value of the Key Length attribute.
    pub const fn bits(self) -> u16 {
        (self.bytes() * 8) as u16
    }

    pub fn from_bits(bits: u16) -> Option<Self> {
        match bits {
            128 => Some(AesKeySize::Aes128),
            192 => Some(AesKeySize::Aes192),
            256 => Some(AesKeySize::Aes256),
            _ => None,
        }
    }
}

/// ICV (authentication tag) length of an AES-GCM or AES-CCM transform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AeadIcv {
    Icv8,
    Icv12,
    Icv16,
}

impl AeadIcv {
    pub const ALL: [AeadIcv; 3] = [AeadIcv::Icv8, AeadIcv::Icv12, AeadIcv::Icv16];

    pub const fn bytes(self) -> usize {
        match self {
            AeadIcv::Icv8 => 8,
            AeadIcv::Icv12 => 12,
            AeadIcv::Icv16 => 16,
        }
    }

    pub fn from_bytes(n: usize) -> Option<Self> {
        match n {
            8 => Some(AeadIcv::Icv8),
            12 => Some(AeadIcv::Icv12),
            16 => Some(AeadIcv::Icv16),
            _ => None,
        }
    }
}

/// IKEv2 encryption algorithm (transform type 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EncrAlgorithm {
    /// ENCR_NULL (RFC 2410), ID 11.
    Null,
    /// ENCR_3DES (RFC 2451), ID 3.
    TripleDesCbc,
    /// ENCR_AES_CBC (RFC 3602), ID 12.
    AesCbc(AesKeySize),
    /// ENCR_AES_CTR (RFC 3686, RFC 5930), ID 13; 4-byte salt appended to the key.
    AesCtr(AesKeySize),
    /// ENCR_AES_GCM_8/12/16 (RFC 5282), IDs 18/19/20; 4-byte salt.
    AesGcm(AesKeySize, AeadIcv),
    /// ENCR_AES_CCM_8/12/16 (RFC 5282), IDs 14/15/16; 3-byte salt.
    AesCcm(AesKeySize, AeadIcv),
    /// ENCR_CHACHA20_POLY1305 (RFC 7634), ID 28; 4-byte salt.
    ChaCha20Poly1305,
}

/// IANA transform IDs for transform type 1.
pub mod encr_id {
    pub const DES3: u16 = 3;
    pub const NULL: u16 = 11;
    pub const AES_CBC: u16 = 12;
    pub const AES_CTR: u16 = 13;
    pub const AES_CCM_8: u16 = 14;
    pub const AES_CCM_12: u16 = 15;
    pub const AES_CCM_16: u16 = 16;
    pub const AES_GCM_8: u16 = 18;
    pub const AES_GCM_12: u16 = 19;
    pub const AES_GCM_16: u16 = 20;
    pub const CHACHA20_POLY1305: u16 = 28;
}

impl EncrAlgorithm {
    /// Every supported encryption algorithm.
    pub fn all() -> Vec<EncrAlgorithm> {
        let mut v = vec![EncrAlgorithm::Null, EncrAlgorithm::TripleDesCbc];
        for k in AesKeySize::ALL {
            v.push(EncrAlgorithm::AesCbc(k));
        }
        for k in AesKeySize::ALL {
            v.push(EncrAlgorithm::AesCtr(k));
        }
        for icv in AeadIcv::ALL {
            for k in AesKeySize::ALL {
                v.push(EncrAlgorithm::AesGcm(k, icv));
            }
        }
        for icv in AeadIcv::ALL {
            for k in AesKeySize::ALL {
                v.push(EncrAlgorithm::AesCcm(k, icv));
            }
        }
        v.push(EncrAlgorithm::ChaCha20Poly1305);
        v
    }

    /// Length of the salt that follows the cipher key in SK_e.
    pub const fn salt_len(self) -> usize {
        match self {
            EncrAlgorithm::Null | EncrAlgorithm::TripleDesCbc | EncrAlgorithm::AesCbc(_) => 0,
            EncrAlgorithm::AesCtr(_) | EncrAlgorithm::AesGcm(..) => 4,
            EncrAlgorithm::AesCcm(..) => 3,
            EncrAlgorithm::ChaCha20Poly1305 => 4,
        }
    }

    /// Length of the cipher key proper (without salt).
    pub const fn cipher_key_len(self) -> usize {
        match self {
            EncrAlgorithm::Null => 0,
            EncrAlgorithm::TripleDesCbc => 24,
            EncrAlgorithm::AesCbc(k)
            | EncrAlgorithm::AesCtr(k)
            | EncrAlgorithm::AesGcm(k, _)
            | EncrAlgorithm::AesCcm(k, _) => k.bytes(),
            EncrAlgorithm::ChaCha20Poly1305 => 32,
        }
    }

    /// Length of SK_ei / SK_er: the cipher key plus the salt, if any.
    pub const fn key_len(self) -> usize {
        self.cipher_key_len() + self.salt_len()
    }

    /// Length of the IV carried in the SK payload.
    pub const fn iv_len(self) -> usize {
        match self {
            EncrAlgorithm::Null => 0,
            EncrAlgorithm::TripleDesCbc => 8,
            EncrAlgorithm::AesCbc(_) => 16,
            EncrAlgorithm::AesCtr(_)
            | EncrAlgorithm::AesGcm(..)
            | EncrAlgorithm::AesCcm(..)
            | EncrAlgorithm::ChaCha20Poly1305 => 8,
        }
    }

    /// Length of the AEAD authentication tag (the SK payload's ICV); 0 for
    /// non-AEAD ciphers, whose ICV length comes from the integrity algorithm.
    pub const fn icv_len(self) -> usize {
        match self {
            EncrAlgorithm::AesGcm(_, icv) | EncrAlgorithm::AesCcm(_, icv) => icv.bytes(),
            EncrAlgorithm::ChaCha20Poly1305 => 16,
            _ => 0,
        }
    }

    /// The block size the encrypted data (payloads, padding, pad length) must
    /// be a multiple of. 1 for stream and counter-mode ciphers.
    pub const fn block_size(self) -> usize {
        match self {
            EncrAlgorithm::TripleDesCbc => 8,
            EncrAlgorithm::AesCbc(_) => 16,
            _ => 1,
        }
    }

    /// Combined-mode (AEAD) cipher: no separate integrity algorithm.
    pub const fn is_aead(self) -> bool {
        matches!(
            self,
            EncrAlgorithm::AesGcm(..) | EncrAlgorithm::AesCcm(..) | EncrAlgorithm::ChaCha20Poly1305
        )
    }

    /// IANA transform ID (transform type 1).
    pub const fn iana_id(self) -> u16 {
        match self {
            EncrAlgorithm::Null => encr_id::NULL,
            EncrAlgorithm::TripleDesCbc => encr_id::DES3,
            EncrAlgorithm::AesCbc(_) => encr_id::AES_CBC,
            EncrAlgorithm::AesCtr(_) => encr_id::AES_CTR,
            EncrAlgorithm::AesGcm(_, AeadIcv::Icv8) => encr_id::AES_GCM_8,
            EncrAlgorithm::AesGcm(_, AeadIcv::Icv12) => encr_id::AES_GCM_12,
            EncrAlgorithm::AesGcm(_, AeadIcv::Icv16) => encr_id::AES_GCM_16,
            EncrAlgorithm::AesCcm(_, AeadIcv::Icv8) => encr_id::AES_CCM_8,
            EncrAlgorithm::AesCcm(_, AeadIcv::Icv12) => encr_id::AES_CCM_12,
            EncrAlgorithm::AesCcm(_, AeadIcv::Icv16) => encr_id::AES_CCM_16,
            EncrAlgorithm::ChaCha20Poly1305 => encr_id::CHACHA20_POLY1305,
        }
    }

    /// Value of the Key Length transform attribute (bits), for the AES
    /// transforms, which require it.
    pub const fn key_length_attr(self) -> Option<u16> {
        match self {
            EncrAlgorithm::AesCbc(k)
            | EncrAlgorithm::AesCtr(k)
            | EncrAlgorithm::AesGcm(k, _)
            | EncrAlgorithm::AesCcm(k, _) => Some(k.bits()),
            _ => None,
        }
    }

    /// From an IANA transform ID and the Key Length attribute (in bits), if
    /// present. The AES transforms require the attribute; the others must
    /// either omit it or carry their fixed length (ChaCha20-Poly1305: 256).
    pub fn from_iana(id: u16, key_length_attr: Option<u16>) -> Option<Self> {
        let aes = || key_length_attr.and_then(AesKeySize::from_bits);
        let fixed = |bits: u16| match key_length_attr {
            None => true,
            Some(b) => b == bits,
        };
        match id {
            encr_id::NULL if key_length_attr.is_none() => Some(EncrAlgorithm::Null),
            encr_id::DES3 if fixed(192) => Some(EncrAlgorithm::TripleDesCbc),
            encr_id::AES_CBC => aes().map(EncrAlgorithm::AesCbc),
            encr_id::AES_CTR => aes().map(EncrAlgorithm::AesCtr),
            encr_id::AES_GCM_8 => aes().map(|k| EncrAlgorithm::AesGcm(k, AeadIcv::Icv8)),
            encr_id::AES_GCM_12 => aes().map(|k| EncrAlgorithm::AesGcm(k, AeadIcv::Icv12)),
            encr_id::AES_GCM_16 => aes().map(|k| EncrAlgorithm::AesGcm(k, AeadIcv::Icv16)),
            encr_id::AES_CCM_8 => aes().map(|k| EncrAlgorithm::AesCcm(k, AeadIcv::Icv8)),
            encr_id::AES_CCM_12 => aes().map(|k| EncrAlgorithm::AesCcm(k, AeadIcv::Icv12)),
            encr_id::AES_CCM_16 => aes().map(|k| EncrAlgorithm::AesCcm(k, AeadIcv::Icv16)),
            encr_id::CHACHA20_POLY1305 if fixed(256) => Some(EncrAlgorithm::ChaCha20Poly1305),
            _ => None,
        }
    }

    /// The name Wireshark's IKEv2 decryption table uses, e.g.
    /// `AES-CBC-128 [RFC3602]`, `AES-GCM-256 with 16 octet ICV [RFC5282]`.
    /// `None` for ChaCha20-Poly1305, which Wireshark 4.0 cannot decrypt.
    pub fn wireshark_name(self) -> Option<String> {
        let ks = |k: AesKeySize| k.bits();
        Some(match self {
            EncrAlgorithm::Null => "NULL [RFC2410]".to_string(),
            EncrAlgorithm::TripleDesCbc => "3DES [RFC2451]".to_string(),
            EncrAlgorithm::AesCbc(k) => format!("AES-CBC-{} [RFC3602]", ks(k)),
            EncrAlgorithm::AesCtr(k) => format!("AES-CTR-{} [RFC5930]", ks(k)),
            EncrAlgorithm::AesGcm(k, i) => {
                format!("AES-GCM-{} with {} octet ICV [RFC5282]", ks(k), i.bytes())
            }
            EncrAlgorithm::AesCcm(k, i) => {
                format!("AES-CCM-{} with {} octet ICV [RFC5282]", ks(k), i.bytes())
            }
            EncrAlgorithm::ChaCha20Poly1305 => return None,
        })
    }

    /// The name used in key files written by mobikectl: Wireshark's name where
    /// Wireshark has one, otherwise `CHACHA20-POLY1305 [RFC7634]`.
    pub fn name(self) -> String {
        self.wireshark_name()
            .unwrap_or_else(|| "CHACHA20-POLY1305 [RFC7634]".to_string())
    }

    /// strongSwan's proposal token, e.g. `AES_CBC_128`, `AES_GCM_16_256`,
    /// `3DES_CBC`, `CHACHA20_POLY1305_256`.
    pub fn strongswan_name(self) -> String {
        match self {
            EncrAlgorithm::Null => "NULL".to_string(),
            EncrAlgorithm::TripleDesCbc => "3DES_CBC".to_string(),
            EncrAlgorithm::AesCbc(k) => format!("AES_CBC_{}", k.bits()),
            EncrAlgorithm::AesCtr(k) => format!("AES_CTR_{}", k.bits()),
            EncrAlgorithm::AesGcm(k, i) => format!("AES_GCM_{}_{}", i.bytes(), k.bits()),
            EncrAlgorithm::AesCcm(k, i) => format!("AES_CCM_{}_{}", i.bytes(), k.bits()),
            EncrAlgorithm::ChaCha20Poly1305 => "CHACHA20_POLY1305_256".to_string(),
        }
    }

    /// From a Wireshark table name (exact spelling, as Wireshark 4.0 accepts
    /// it) or the mobikectl ChaCha20-Poly1305 name.
    pub fn from_wireshark_name(name: &str) -> Option<Self> {
        let name = name.trim();
        if name.eq_ignore_ascii_case("CHACHA20-POLY1305 [RFC7634]") {
            return Some(EncrAlgorithm::ChaCha20Poly1305);
        }
        Self::all()
            .into_iter()
            .find(|a| a.wireshark_name().as_deref() == Some(name))
    }

    /// From a strongSwan proposal token (`AES_CBC_128`, `AES_GCM_16_256`,
    /// `3DES_CBC`, `CHACHA20_POLY1305_256`, `CHACHA20_POLY1305`, ...).
    /// Case-insensitive.
    pub fn from_strongswan_name(name: &str) -> Option<Self> {
        let up = name.trim().to_ascii_uppercase();
        match up.as_str() {
            "NULL" | "ENCR_NULL" => return Some(EncrAlgorithm::Null),
            "3DES_CBC" | "3DES" | "ENCR_3DES" => return Some(EncrAlgorithm::TripleDesCbc),
            "CHACHA20_POLY1305" | "CHACHA20_POLY1305_256" | "CHACHA20POLY1305" => {
                return Some(EncrAlgorithm::ChaCha20Poly1305)
            }
            _ => {}
        }
        Self::all().into_iter().find(|a| a.strongswan_name() == up)
    }

    /// Accepts any of the spellings above: Wireshark's, strongSwan's, and the
    /// mobikectl ChaCha20 name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::from_wireshark_name(name).or_else(|| Self::from_strongswan_name(name))
    }
}

impl fmt::Display for EncrAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Short, log-friendly form.
        match self {
            EncrAlgorithm::Null => f.write_str("NULL"),
            EncrAlgorithm::TripleDesCbc => f.write_str("3DES"),
            EncrAlgorithm::AesCbc(k) => write!(f, "AES-CBC-{}", k.bits()),
            EncrAlgorithm::AesCtr(k) => write!(f, "AES-CTR-{}", k.bits()),
            EncrAlgorithm::AesGcm(k, i) => write!(f, "AES-GCM-{}-ICV{}", k.bits(), i.bytes()),
            EncrAlgorithm::AesCcm(k, i) => write!(f, "AES-CCM-{}-ICV{}", k.bits(), i.bytes()),
            EncrAlgorithm::ChaCha20Poly1305 => f.write_str("ChaCha20-Poly1305"),
        }
    }
}

/// IKEv2 integrity algorithm (transform type 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IntegAlgorithm {
    /// NONE: used with AEAD ciphers (and with ENCR_NULL in tests only).
    None,
    /// AUTH_HMAC_MD5_96 (RFC 2403), ID 1.
    HmacMd5_96,
    /// AUTH_HMAC_SHA1_96 (RFC 2404), ID 2.
    HmacSha1_96,
    /// AUTH_AES_XCBC_96 (RFC 3566), ID 5.
    AesXcbc96,
    /// AUTH_HMAC_MD5_128 (RFC 4595), ID 6.
    HmacMd5_128,
    /// AUTH_HMAC_SHA1_160 (RFC 4595), ID 7.
    HmacSha1_160,
    /// AUTH_AES_CMAC_96 (RFC 4494), ID 8.
    AesCmac96,
    /// AUTH_HMAC_SHA2_256_128 (RFC 4868), ID 12.
    HmacSha2_256_128,
    /// AUTH_HMAC_SHA2_384_192 (RFC 4868), ID 13.
    HmacSha2_384_192,
    /// AUTH_HMAC_SHA2_512_256 (RFC 4868), ID 14.
    HmacSha2_512_256,
    /// HMAC-SHA-256 truncated to 96 bits (draft-ietf-ipsec-ciph-sha-256-00);
    /// no IANA ID, used by old Linux kernels / strongSwan as a private ID.
    /// Wireshark accepts it, so we do too.
    HmacSha2_256_96,
}

/// IANA transform IDs for transform type 3.
pub mod integ_id {
    pub const NONE: u16 = 0;
    pub const HMAC_MD5_96: u16 = 1;
    pub const HMAC_SHA1_96: u16 = 2;
    pub const AES_XCBC_96: u16 = 5;
    pub const HMAC_MD5_128: u16 = 6;
    pub const HMAC_SHA1_160: u16 = 7;
    pub const AES_CMAC_96: u16 = 8;
    pub const HMAC_SHA2_256_128: u16 = 12;
    pub const HMAC_SHA2_384_192: u16 = 13;
    pub const HMAC_SHA2_512_256: u16 = 14;
}

impl IntegAlgorithm {
    pub const ALL: [IntegAlgorithm; 11] = [
        IntegAlgorithm::None,
        IntegAlgorithm::HmacMd5_96,
        IntegAlgorithm::HmacSha1_96,
        IntegAlgorithm::AesXcbc96,
        IntegAlgorithm::HmacMd5_128,
        IntegAlgorithm::HmacSha1_160,
        IntegAlgorithm::AesCmac96,
        IntegAlgorithm::HmacSha2_256_128,
        IntegAlgorithm::HmacSha2_384_192,
        IntegAlgorithm::HmacSha2_512_256,
        IntegAlgorithm::HmacSha2_256_96,
    ];

    /// Length of SK_ai / SK_ar.
    pub const fn key_len(self) -> usize {
        match self {
            IntegAlgorithm::None => 0,
            IntegAlgorithm::HmacMd5_96 | IntegAlgorithm::HmacMd5_128 => 16,
            IntegAlgorithm::HmacSha1_96 | IntegAlgorithm::HmacSha1_160 => 20,
            IntegAlgorithm::AesXcbc96 | IntegAlgorithm::AesCmac96 => 16,
            IntegAlgorithm::HmacSha2_256_128 | IntegAlgorithm::HmacSha2_256_96 => 32,
            IntegAlgorithm::HmacSha2_384_192 => 48,
            IntegAlgorithm::HmacSha2_512_256 => 64,
        }
    }

    /// Length of the (truncated) ICV.
    pub const fn icv_len(self) -> usize {
        match self {
            IntegAlgorithm::None => 0,
            IntegAlgorithm::HmacMd5_96
            | IntegAlgorithm::HmacSha1_96
            | IntegAlgorithm::AesXcbc96
            | IntegAlgorithm::AesCmac96
            | IntegAlgorithm::HmacSha2_256_96 => 12,
            IntegAlgorithm::HmacMd5_128 => 16,
            IntegAlgorithm::HmacSha1_160 => 20,
            IntegAlgorithm::HmacSha2_256_128 => 16,
            IntegAlgorithm::HmacSha2_384_192 => 24,
            IntegAlgorithm::HmacSha2_512_256 => 32,
        }
    }

    /// Input block size of the underlying MAC (informational).
    pub const fn block_size(self) -> usize {
        match self {
            IntegAlgorithm::None => 1,
            IntegAlgorithm::AesXcbc96 | IntegAlgorithm::AesCmac96 => 16,
            IntegAlgorithm::HmacSha2_384_192 | IntegAlgorithm::HmacSha2_512_256 => 128,
            _ => 64,
        }
    }

    /// IANA transform ID; `None` for the draft HMAC-SHA-256-96.
    pub const fn iana_id(self) -> Option<u16> {
        Some(match self {
            IntegAlgorithm::None => integ_id::NONE,
            IntegAlgorithm::HmacMd5_96 => integ_id::HMAC_MD5_96,
            IntegAlgorithm::HmacSha1_96 => integ_id::HMAC_SHA1_96,
            IntegAlgorithm::AesXcbc96 => integ_id::AES_XCBC_96,
            IntegAlgorithm::HmacMd5_128 => integ_id::HMAC_MD5_128,
            IntegAlgorithm::HmacSha1_160 => integ_id::HMAC_SHA1_160,
            IntegAlgorithm::AesCmac96 => integ_id::AES_CMAC_96,
            IntegAlgorithm::HmacSha2_256_128 => integ_id::HMAC_SHA2_256_128,
            IntegAlgorithm::HmacSha2_384_192 => integ_id::HMAC_SHA2_384_192,
            IntegAlgorithm::HmacSha2_512_256 => integ_id::HMAC_SHA2_512_256,
            IntegAlgorithm::HmacSha2_256_96 => return None,
        })
    }

    pub fn from_iana(id: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.iana_id() == Some(id))
    }

    /// Wireshark's name; `None` for XCBC and CMAC, which Wireshark 4.0 lacks.
    pub const fn wireshark_name(self) -> Option<&'static str> {
        Some(match self {
            IntegAlgorithm::None => "NONE [RFC4306]",
            IntegAlgorithm::HmacMd5_96 => "HMAC_MD5_96 [RFC2403]",
            IntegAlgorithm::HmacSha1_96 => "HMAC_SHA1_96 [RFC2404]",
            IntegAlgorithm::HmacMd5_128 => "HMAC_MD5_128 [RFC4595]",
            IntegAlgorithm::HmacSha1_160 => "HMAC_SHA1_160 [RFC4595]",
            IntegAlgorithm::HmacSha2_256_96 => {
                "HMAC_SHA2_256_96 [draft-ietf-ipsec-ciph-sha-256-00]"
            }
            IntegAlgorithm::HmacSha2_256_128 => "HMAC_SHA2_256_128 [RFC4868]",
            IntegAlgorithm::HmacSha2_384_192 => "HMAC_SHA2_384_192 [RFC4868]",
            IntegAlgorithm::HmacSha2_512_256 => "HMAC_SHA2_512_256 [RFC4868]",
            IntegAlgorithm::AesXcbc96 | IntegAlgorithm::AesCmac96 => return None,
        })
    }

    /// Name used in mobikectl key files: Wireshark's where it has one,
    /// otherwise `AES_XCBC_96 [RFC3566]` / `AES_CMAC_96 [RFC4494]`.
    pub const fn name(self) -> &'static str {
        match self.wireshark_name() {
            Some(n) => n,
            None => match self {
                IntegAlgorithm::AesXcbc96 => "AES_XCBC_96 [RFC3566]",
                _ => "AES_CMAC_96 [RFC4494]",
            },
        }
    }

    /// strongSwan's proposal token (`HMAC_SHA2_256_128`, `AES_XCBC_96`, ...).
    pub const fn strongswan_name(self) -> &'static str {
        match self {
            IntegAlgorithm::None => "NONE",
            IntegAlgorithm::HmacMd5_96 => "HMAC_MD5_96",
            IntegAlgorithm::HmacSha1_96 => "HMAC_SHA1_96",
            IntegAlgorithm::AesXcbc96 => "AES_XCBC_96",
            IntegAlgorithm::HmacMd5_128 => "HMAC_MD5_128",
            IntegAlgorithm::HmacSha1_160 => "HMAC_SHA1_160",
            IntegAlgorithm::AesCmac96 => "AES_CMAC_96",
            IntegAlgorithm::HmacSha2_256_128 => "HMAC_SHA2_256_128",
            IntegAlgorithm::HmacSha2_384_192 => "HMAC_SHA2_384_192",
            IntegAlgorithm::HmacSha2_512_256 => "HMAC_SHA2_512_256",
            IntegAlgorithm::HmacSha2_256_96 => "HMAC_SHA2_256_96",
        }
    }

    /// From a Wireshark table name (exact) or a mobikectl name.
    pub fn from_wireshark_name(name: &str) -> Option<Self> {
        let name = name.trim();
        Self::ALL
            .into_iter()
            .find(|a| a.wireshark_name() == Some(name) || a.name().eq_ignore_ascii_case(name))
    }

    /// From a strongSwan proposal token; case-insensitive.
    pub fn from_strongswan_name(name: &str) -> Option<Self> {
        let name = name.trim();
        Self::ALL
            .into_iter()
            .find(|a| a.strongswan_name().eq_ignore_ascii_case(name))
    }

    /// Any of the spellings above.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::from_wireshark_name(name).or_else(|| Self::from_strongswan_name(name))
    }
}

impl fmt::Display for IntegAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.strongswan_name())
    }
}

/// IKEv2 pseudo-random function (transform type 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PrfAlgorithm {
    /// PRF_HMAC_MD5 (RFC 2104), ID 1.
    HmacMd5,
    /// PRF_HMAC_SHA1 (RFC 2104), ID 2.
    HmacSha1,
    /// PRF_AES128_XCBC (RFC 4434), ID 4.
    Aes128Xcbc,
    /// PRF_HMAC_SHA2_256 (RFC 4868), ID 5.
    HmacSha2_256,
    /// PRF_HMAC_SHA2_384 (RFC 4868), ID 6.
    HmacSha2_384,
    /// PRF_HMAC_SHA2_512 (RFC 4868), ID 7.
    HmacSha2_512,
    /// PRF_AES128_CMAC (RFC 4615), ID 8.
    Aes128Cmac,
}

impl PrfAlgorithm {
    pub const ALL: [PrfAlgorithm; 7] = [
        PrfAlgorithm::HmacMd5,
        PrfAlgorithm::HmacSha1,
        PrfAlgorithm::Aes128Xcbc,
        PrfAlgorithm::HmacSha2_256,
        PrfAlgorithm::HmacSha2_384,
        PrfAlgorithm::HmacSha2_512,
        PrfAlgorithm::Aes128Cmac,
    ];

    /// Output length in bytes.
    pub const fn output_len(self) -> usize {
        match self {
            PrfAlgorithm::HmacMd5 => 16,
            PrfAlgorithm::HmacSha1 => 20,
            PrfAlgorithm::Aes128Xcbc | PrfAlgorithm::Aes128Cmac => 16,
            PrfAlgorithm::HmacSha2_256 => 32,
            PrfAlgorithm::HmacSha2_384 => 48,
            PrfAlgorithm::HmacSha2_512 => 64,
        }
    }

    /// Preferred key length: the length of SK_d, SK_pi and SK_pr (RFC 7296
    /// §2.14), which equals the output length for every PRF here.
    pub const fn key_len(self) -> usize {
        self.output_len()
    }

    /// Whether the PRF takes a fixed-size key (AES-based PRFs), which matters
    /// for SKEYSEED = prf(Ni | Nr, g^ir) (RFC 7296 §2.14).
    pub const fn fixed_key_len(self) -> Option<usize> {
        match self {
            PrfAlgorithm::Aes128Xcbc | PrfAlgorithm::Aes128Cmac => Some(16),
            _ => None,
        }
    }

    pub const fn iana_id(self) -> u16 {
        match self {
            PrfAlgorithm::HmacMd5 => 1,
            PrfAlgorithm::HmacSha1 => 2,
            PrfAlgorithm::Aes128Xcbc => 4,
            PrfAlgorithm::HmacSha2_256 => 5,
            PrfAlgorithm::HmacSha2_384 => 6,
            PrfAlgorithm::HmacSha2_512 => 7,
            PrfAlgorithm::Aes128Cmac => 8,
        }
    }

    pub fn from_iana(id: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.iana_id() == id)
    }

    /// strongSwan's proposal token (`PRF_HMAC_SHA2_256`, `PRF_AES128_XCBC`, ...).
    pub const fn strongswan_name(self) -> &'static str {
        match self {
            PrfAlgorithm::HmacMd5 => "PRF_HMAC_MD5",
            PrfAlgorithm::HmacSha1 => "PRF_HMAC_SHA1",
            PrfAlgorithm::Aes128Xcbc => "PRF_AES128_XCBC",
            PrfAlgorithm::HmacSha2_256 => "PRF_HMAC_SHA2_256",
            PrfAlgorithm::HmacSha2_384 => "PRF_HMAC_SHA2_384",
            PrfAlgorithm::HmacSha2_512 => "PRF_HMAC_SHA2_512",
            PrfAlgorithm::Aes128Cmac => "PRF_AES128_CMAC",
        }
    }

    /// Name used in mobikectl key logs, in the style of Wireshark's names.
    pub const fn name(self) -> &'static str {
        match self {
            PrfAlgorithm::HmacMd5 => "PRF_HMAC_MD5 [RFC2104]",
            PrfAlgorithm::HmacSha1 => "PRF_HMAC_SHA1 [RFC2104]",
            PrfAlgorithm::Aes128Xcbc => "PRF_AES128_XCBC [RFC4434]",
            PrfAlgorithm::HmacSha2_256 => "PRF_HMAC_SHA2_256 [RFC4868]",
            PrfAlgorithm::HmacSha2_384 => "PRF_HMAC_SHA2_384 [RFC4868]",
            PrfAlgorithm::HmacSha2_512 => "PRF_HMAC_SHA2_512 [RFC4868]",
            PrfAlgorithm::Aes128Cmac => "PRF_AES128_CMAC [RFC4615]",
        }
    }

    /// Either spelling (case-insensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        let name = name.trim();
        Self::ALL.into_iter().find(|a| {
            a.name().eq_ignore_ascii_case(name) || a.strongswan_name().eq_ignore_ascii_case(name)
        })
    }
}

impl fmt::Display for PrfAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.strongswan_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encr_lengths() {
        let a = EncrAlgorithm::AesCbc(AesKeySize::Aes128);
        assert_eq!(
            (a.key_len(), a.iv_len(), a.icv_len(), a.block_size()),
            (16, 16, 0, 16)
        );
        let a = EncrAlgorithm::AesCtr(AesKeySize::Aes192);
        assert_eq!((a.key_len(), a.iv_len(), a.block_size()), (28, 8, 1));
        let a = EncrAlgorithm::AesGcm(AesKeySize::Aes256, AeadIcv::Icv16);
        assert_eq!((a.key_len(), a.iv_len(), a.icv_len()), (36, 8, 16));
        let a = EncrAlgorithm::AesCcm(AesKeySize::Aes128, AeadIcv::Icv12);
        assert_eq!((a.key_len(), a.iv_len(), a.icv_len()), (19, 8, 12));
        let a = EncrAlgorithm::ChaCha20Poly1305;
        assert_eq!((a.key_len(), a.iv_len(), a.icv_len()), (36, 8, 16));
        let a = EncrAlgorithm::TripleDesCbc;
        assert_eq!((a.key_len(), a.iv_len(), a.block_size()), (24, 8, 8));
        assert_eq!(EncrAlgorithm::all().len(), 27);
    }

    #[test]
    fn encr_iana_roundtrip() {
        for a in EncrAlgorithm::all() {
            assert_eq!(
                EncrAlgorithm::from_iana(a.iana_id(), a.key_length_attr()),
                Some(a)
            );
        }
        assert_eq!(EncrAlgorithm::from_iana(12, None), None);
        assert_eq!(EncrAlgorithm::from_iana(12, Some(100)), None);
        assert_eq!(
            EncrAlgorithm::from_iana(28, Some(256)),
            Some(EncrAlgorithm::ChaCha20Poly1305)
        );
        assert_eq!(EncrAlgorithm::from_iana(999, None), None);
    }

    #[test]
    fn encr_names() {
        for a in EncrAlgorithm::all() {
            assert_eq!(EncrAlgorithm::from_name(&a.name()), Some(a), "{a}");
            assert_eq!(
                EncrAlgorithm::from_strongswan_name(&a.strongswan_name()),
                Some(a)
            );
            if let Some(w) = a.wireshark_name() {
                assert_eq!(EncrAlgorithm::from_wireshark_name(&w), Some(a));
            }
        }
        assert_eq!(
            EncrAlgorithm::from_wireshark_name("AES-GCM-256 with 16 octet ICV [RFC5282]"),
            Some(EncrAlgorithm::AesGcm(AesKeySize::Aes256, AeadIcv::Icv16))
        );
        assert_eq!(
            EncrAlgorithm::from_strongswan_name("AES_GCM_16_256"),
            Some(EncrAlgorithm::AesGcm(AesKeySize::Aes256, AeadIcv::Icv16))
        );
        assert_eq!(
            EncrAlgorithm::from_strongswan_name("AES_CCM_12_128"),
            Some(EncrAlgorithm::AesCcm(AesKeySize::Aes128, AeadIcv::Icv12))
        );
        assert_eq!(
            EncrAlgorithm::from_strongswan_name("3DES_CBC"),
            Some(EncrAlgorithm::TripleDesCbc)
        );
        assert_eq!(EncrAlgorithm::from_name("AES-CBC [RFC3602]"), None);
    }

    #[test]
    fn integ_and_prf() {
        for a in IntegAlgorithm::ALL {
            if let Some(id) = a.iana_id() {
                assert_eq!(IntegAlgorithm::from_iana(id), Some(a));
            }
            assert_eq!(IntegAlgorithm::from_name(a.name()), Some(a));
            assert_eq!(IntegAlgorithm::from_name(a.strongswan_name()), Some(a));
        }
        assert_eq!(IntegAlgorithm::HmacSha2_512_256.icv_len(), 32);
        for p in PrfAlgorithm::ALL {
            assert_eq!(PrfAlgorithm::from_iana(p.iana_id()), Some(p));
            assert_eq!(PrfAlgorithm::from_name(p.name()), Some(p));
            assert_eq!(PrfAlgorithm::from_name(p.strongswan_name()), Some(p));
        }
    }
}
