//! MAC primitives: HMAC (MD5, SHA-1, SHA-2), AES-XCBC-MAC (RFC 3566, built
//! here on top of the `aes` block cipher) and AES-CMAC (RFC 4493), plus the
//! truncated IKEv2 integrity transforms built from them.

use aes::cipher::{generic_array::GenericArray, BlockEncrypt, KeyInit};
use aes::Aes128;
use hmac::{Hmac, Mac};
use zeroize::Zeroize;

use super::alg::IntegAlgorithm;
use super::CryptoError;

/// Hash function underlying an HMAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HashKind {
    Md5,
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

/// HMAC over the concatenation of `parts`; output is the full digest.
pub(crate) fn hmac_parts(hash: HashKind, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    macro_rules! run {
        ($t:ty) => {{
            match <Hmac<$t> as Mac>::new_from_slice(key) {
                Ok(mut mac) => {
                    for p in parts {
                        mac.update(p);
                    }
                    mac.finalize().into_bytes().to_vec()
                }
                // HMAC accepts keys of any length.
                Err(_) => unreachable!("HMAC rejected a key"),
            }
        }};
    }
    match hash {
        HashKind::Md5 => run!(md5::Md5),
        HashKind::Sha1 => run!(sha1::Sha1),
        HashKind::Sha256 => run!(sha2::Sha256),
        HashKind::Sha384 => run!(sha2::Sha384),
        HashKind::Sha512 => run!(sha2::Sha512),
    }
}

/// An integrity transform with the key-dependent work done once: for HMAC the hashed inner
/// and outer pads, so each ICV costs only the hash of the message.
#[derive(Clone)]
pub(crate) enum PreparedMac {
    Md5(Box<Hmac<md5::Md5>>),
    Sha1(Box<Hmac<sha1::Sha1>>),
    Sha256(Box<Hmac<sha2::Sha256>>),
    Sha384(Box<Hmac<sha2::Sha384>>),
    Sha512(Box<Hmac<sha2::Sha512>>),
}

impl PreparedMac {
    /// The prepared HMAC of an HMAC-based transform; `None` for every other transform
    /// (including a key of the wrong length).
    pub(crate) fn new(alg: IntegAlgorithm, key: &[u8]) -> Option<Self> {
        if key.len() != alg.key_len() {
            return None;
        }
        macro_rules! mk {
            ($v:ident, $t:ty) => {
                PreparedMac::$v(Box::new(<Hmac<$t> as Mac>::new_from_slice(key).ok()?))
            };
        }
        Some(match alg {
            IntegAlgorithm::HmacMd5_96 | IntegAlgorithm::HmacMd5_128 => mk!(Md5, md5::Md5),
            IntegAlgorithm::HmacSha1_96 | IntegAlgorithm::HmacSha1_160 => mk!(Sha1, sha1::Sha1),
            IntegAlgorithm::HmacSha2_256_128 | IntegAlgorithm::HmacSha2_256_96 => {
                mk!(Sha256, sha2::Sha256)
            }
            IntegAlgorithm::HmacSha2_384_192 => mk!(Sha384, sha2::Sha384),
            IntegAlgorithm::HmacSha2_512_256 => mk!(Sha512, sha2::Sha512),
            IntegAlgorithm::None | IntegAlgorithm::AesXcbc96 | IntegAlgorithm::AesCmac96 => {
                return None
            }
        })
    }

    /// Writes the full HMAC of `data` to the start of `out` and returns its length.
    pub(crate) fn compute(&self, data: &[u8], out: &mut [u8; 64]) -> usize {
        macro_rules! run {
            ($m:expr) => {{
                let mut m = (**$m).clone();
                m.update(data);
                let d = m.finalize().into_bytes();
                out[..d.len()].copy_from_slice(&d);
                d.len()
            }};
        }
        match self {
            PreparedMac::Md5(m) => run!(m),
            PreparedMac::Sha1(m) => run!(m),
            PreparedMac::Sha256(m) => run!(m),
            PreparedMac::Sha384(m) => run!(m),
            PreparedMac::Sha512(m) => run!(m),
        }
    }
}

fn aes128_encrypt_block(cipher: &Aes128, block: &mut [u8; 16]) {
    let b = GenericArray::from_mut_slice(block);
    cipher.encrypt_block(b);
}

/// Incremental AES-XCBC-MAC-128 (RFC 3566).
pub struct AesXcbc {
    k1: Aes128,
    k2: [u8; 16],
    k3: [u8; 16],
    /// Running CBC state E[i].
    state: [u8; 16],
    /// Pending bytes not yet folded into the state; always 0..=16 bytes,
    /// and a full block is only processed once more data arrives.
    buf: [u8; 16],
    buf_len: usize,
}

impl AesXcbc {
    pub fn new(key: &[u8; 16]) -> Self {
        let k = Aes128::new(GenericArray::from_slice(key));
        let mut k1 = [0x01u8; 16];
        let mut k2 = [0x02u8; 16];
        let mut k3 = [0x03u8; 16];
        aes128_encrypt_block(&k, &mut k1);
        aes128_encrypt_block(&k, &mut k2);
        aes128_encrypt_block(&k, &mut k3);
        let s = AesXcbc {
            k1: Aes128::new(GenericArray::from_slice(&k1)),
            k2,
            k3,
            state: [0; 16],
            buf: [0; 16],
            buf_len: 0,
        };
        k1.zeroize();
        s
    }

    pub fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if self.buf_len == 16 {
                // A full block is pending and more data follows: it is not the
                // last block, so fold it in.
                for (s, b) in self.state.iter_mut().zip(self.buf.iter()) {
                    *s ^= *b;
                }
                aes128_encrypt_block(&self.k1, &mut self.state);
                self.buf_len = 0;
            }
            let take = (16 - self.buf_len).min(data.len());
            self.buf[self.buf_len..self.buf_len + take].copy_from_slice(&data[..take]);
            self.buf_len += take;
            data = &data[take..];
        }
    }

    pub fn finalize(mut self) -> [u8; 16] {
        let mut last = [0u8; 16];
        if self.buf_len == 16 {
            for ((l, b), k) in last.iter_mut().zip(self.buf.iter()).zip(self.k2.iter()) {
                *l = *b ^ *k;
            }
        } else {
            last[..self.buf_len].copy_from_slice(&self.buf[..self.buf_len]);
            last[self.buf_len] = 0x80;
            for (l, k) in last.iter_mut().zip(self.k3.iter()) {
                *l ^= *k;
            }
        }
        for (s, l) in self.state.iter_mut().zip(last.iter()) {
            *s ^= *l;
        }
        aes128_encrypt_block(&self.k1, &mut self.state);
        let out = self.state;
        last.zeroize();
        out
    }
}

impl Drop for AesXcbc {
    fn drop(&mut self) {
        self.k2.zeroize();
        self.k3.zeroize();
        self.state.zeroize();
        self.buf.zeroize();
    }
}

/// AES-XCBC-MAC-128 of the concatenation of `parts` (RFC 3566).
pub fn aes_xcbc_mac(key: &[u8; 16], parts: &[&[u8]]) -> [u8; 16] {
    let mut m = AesXcbc::new(key);
    for p in parts {
        m.update(p);
    }
    m.finalize()
}

/// AES-CMAC (RFC 4493) of the concatenation of `parts`.
pub fn aes_cmac(key: &[u8; 16], parts: &[&[u8]]) -> [u8; 16] {
    let mut m = <cmac::Cmac<Aes128> as KeyInit>::new(GenericArray::from_slice(key));
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

fn key16(alg: IntegAlgorithm, key: &[u8]) -> Result<[u8; 16], CryptoError> {
    key.try_into().map_err(|_| CryptoError::KeyLength {
        what: "SK_a",
        algorithm: alg.strongswan_name().to_string(),
        expected: 16,
        actual: key.len(),
    })
}

/// Computes the (truncated) ICV of an integrity transform over the
/// concatenation of `parts`. Returns an empty vector for `None`.
pub fn integ_icv(alg: IntegAlgorithm, key: &[u8], parts: &[&[u8]]) -> Result<Vec<u8>, CryptoError> {
    if key.len() != alg.key_len() {
        return Err(CryptoError::KeyLength {
            what: "SK_a",
            algorithm: alg.strongswan_name().to_string(),
            expected: alg.key_len(),
            actual: key.len(),
        });
    }
    let mut full = match alg {
        IntegAlgorithm::None => Vec::new(),
        IntegAlgorithm::HmacMd5_96 | IntegAlgorithm::HmacMd5_128 => {
            hmac_parts(HashKind::Md5, key, parts)
        }
        IntegAlgorithm::HmacSha1_96 | IntegAlgorithm::HmacSha1_160 => {
            hmac_parts(HashKind::Sha1, key, parts)
        }
        IntegAlgorithm::HmacSha2_256_128 | IntegAlgorithm::HmacSha2_256_96 => {
            hmac_parts(HashKind::Sha256, key, parts)
        }
        IntegAlgorithm::HmacSha2_384_192 => hmac_parts(HashKind::Sha384, key, parts),
        IntegAlgorithm::HmacSha2_512_256 => hmac_parts(HashKind::Sha512, key, parts),
        IntegAlgorithm::AesXcbc96 => {
            let mut k = key16(alg, key)?;
            let r = aes_xcbc_mac(&k, parts).to_vec();
            k.zeroize();
            r
        }
        IntegAlgorithm::AesCmac96 => {
            let mut k = key16(alg, key)?;
            let r = aes_cmac(&k, parts).to_vec();
            k.zeroize();
            r
        }
    };
    full.truncate(alg.icv_len());
    Ok(full)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::testutil::unhex;

    #[test]
    fn xcbc_rfc3566_vectors() {
        let key: [u8; 16] = unhex("000102030405060708090a0b0c0d0e0f")
            .try_into()
            .unwrap();
        let msg: Vec<u8> = (0u8..34).collect();
        let cases: [(usize, &str); 6] = [
            (0, "75f0251d528ac01c4573dfd584d79f29"),
            (3, "5b376580ae2f19afe7219ceef172756f"),
            (16, "d2a246fa349b68a79998a4394ff7a263"),
            (20, "47f51b4564966215b8985c63055ed308"),
            (32, "f54f0ec8d2b9f3d36807734bd5283fd4"),
            (34, "becbb3bccdb518a30677d5481fb6b4d8"),
        ];
        for (len, want) in cases {
            assert_eq!(
                aes_xcbc_mac(&key, &[&msg[..len]]).to_vec(),
                unhex(want),
                "len {len}"
            );
            // Same result when fed in awkward pieces.
            let (a, b) = msg[..len].split_at(len / 3);
            assert_eq!(aes_xcbc_mac(&key, &[a, &[], b]).to_vec(), unhex(want));
        }
        let zeros = vec![0u8; 1000];
        let icv = integ_icv(IntegAlgorithm::AesXcbc96, &key, &[&zeros]).unwrap();
        assert_eq!(icv, unhex("f0dafee895db30253761103b"));
    }

    #[test]
    fn cmac_rfc4493_vectors() {
        let key: [u8; 16] = unhex("2b7e151628aed2a6abf7158809cf4f3c")
            .try_into()
            .unwrap();
        let m = unhex(
            "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51\
             30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710",
        );
        let cases: [(usize, &str); 4] = [
            (0, "bb1d6929e95937287fa37d129b756746"),
            (16, "070a16b46b4d4144f79bdd9dd04a287c"),
            (40, "dfa66747de9ae63030ca32611497c827"),
            (64, "51f0bebf7e3b9d92fc49741779363cfe"),
        ];
        for (len, want) in cases {
            assert_eq!(aes_cmac(&key, &[&m[..len]]).to_vec(), unhex(want));
        }
        let icv = integ_icv(IntegAlgorithm::AesCmac96, &key, &[&m[..16]]).unwrap();
        assert_eq!(icv, unhex("070a16b46b4d4144f79bdd9d"));
    }

    #[test]
    fn hmac_rfc2202_rfc4231() {
        // RFC 2202 test cases 1 and 2.
        let k = [0x0bu8; 20];
        assert_eq!(
            hmac_parts(HashKind::Md5, &k[..16], &[b"Hi There"]),
            unhex("9294727a3638bb1c13f48ef8158bfc9d")
        );
        assert_eq!(
            hmac_parts(HashKind::Sha1, &k, &[b"Hi There"]),
            unhex("b617318655057264e28bc0b6fb378c8ef146be00")
        );
        assert_eq!(
            hmac_parts(
                HashKind::Md5,
                b"Jefe",
                &[b"what do ya want ", b"for nothing?"]
            ),
            unhex("750c783e6ab0b503eaa86e310a5db738")
        );
        assert_eq!(
            hmac_parts(HashKind::Sha1, b"Jefe", &[b"what do ya want for nothing?"]),
            unhex("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")
        );
        // RFC 4231 test case 1 and 2.
        assert_eq!(
            hmac_parts(HashKind::Sha256, &k, &[b"Hi There"]),
            unhex("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        );
        assert_eq!(
            hmac_parts(HashKind::Sha384, &k, &[b"Hi There"]),
            unhex(
                "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59c\
                 faea9ea9076ede7f4af152e8b2fa9cb6"
            )
        );
        assert_eq!(
            hmac_parts(HashKind::Sha512, &k, &[b"Hi There"]),
            unhex(
                "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde\
                 daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"
            )
        );
        assert_eq!(
            hmac_parts(
                HashKind::Sha256,
                b"Jefe",
                &[b"what do ya want for nothing?"]
            ),
            unhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        );
        // RFC 4231 test case 6: key longer than the block size.
        let k131 = [0xaau8; 131];
        assert_eq!(
            hmac_parts(
                HashKind::Sha256,
                &k131,
                &[b"Test Using Larger Than Block-Size Key - Hash Key First"]
            ),
            unhex("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
        );
    }

    #[test]
    fn truncation_and_key_check() {
        // RFC 4868 §2.7.2.1-style: HMAC-SHA-256-128 is the first 16 bytes.
        let k = [0x0bu8; 32];
        let icv = integ_icv(IntegAlgorithm::HmacSha2_256_128, &k, &[b"Hi There"]).unwrap();
        assert_eq!(icv, unhex("198a607eb44bfbc69903a0f1cf2bbdc5"));
        assert!(integ_icv(IntegAlgorithm::HmacSha2_256_128, &k[..31], &[b""]).is_err());
        assert!(integ_icv(IntegAlgorithm::AesXcbc96, &k[..15], &[b""]).is_err());
        assert_eq!(
            integ_icv(IntegAlgorithm::None, &[], &[b"x"]).unwrap(),
            Vec::<u8>::new()
        );
    }
}
