//! PRFs, prf+ (RFC 7296 §2.13) and key derivation for IKE SAs (§2.14,
//! §2.18) and CHILD_SAs (§2.17).

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

use super::alg::{EncrAlgorithm, IntegAlgorithm, PrfAlgorithm};
use super::mac::{aes_cmac, aes_xcbc_mac, hmac_parts, HashKind};
use super::sk::{Redacted, SkKeys};
use super::CryptoError;

/// Applies the PRF to the concatenation of `parts`.
pub(crate) fn prf_parts(alg: PrfAlgorithm, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    match alg {
        PrfAlgorithm::HmacMd5 => hmac_parts(HashKind::Md5, key, parts),
        PrfAlgorithm::HmacSha1 => hmac_parts(HashKind::Sha1, key, parts),
        PrfAlgorithm::HmacSha2_256 => hmac_parts(HashKind::Sha256, key, parts),
        PrfAlgorithm::HmacSha2_384 => hmac_parts(HashKind::Sha384, key, parts),
        PrfAlgorithm::HmacSha2_512 => hmac_parts(HashKind::Sha512, key, parts),
        PrfAlgorithm::Aes128Xcbc => {
            // RFC 4434: a 16-byte key is used as is, a shorter one is padded
            // with zeros, a longer one is first reduced with XCBC under the
            // all-zero key.
            let mut k = [0u8; 16];
            if key.len() <= 16 {
                k[..key.len()].copy_from_slice(key);
            } else {
                k = aes_xcbc_mac(&[0u8; 16], &[key]);
            }
            let out = aes_xcbc_mac(&k, parts).to_vec();
            k.zeroize();
            out
        }
        PrfAlgorithm::Aes128Cmac => {
            // RFC 4615: any key that is not 16 bytes long is reduced with
            // CMAC under the all-zero key.
            let mut k: [u8; 16] = match key.try_into() {
                Ok(k) => k,
                Err(_) => aes_cmac(&[0u8; 16], &[key]),
            };
            let out = aes_cmac(&k, parts).to_vec();
            k.zeroize();
            out
        }
    }
}

/// `prf(key, data)`.
pub fn prf(alg: PrfAlgorithm, key: &[u8], data: &[u8]) -> Vec<u8> {
    prf_parts(alg, key, &[data])
}

/// `prf+(key, seed)` truncated to `len` bytes (RFC 7296 §2.13):
/// `T1 = prf(K, S | 0x01)`, `Tn = prf(K, Tn-1 | S | n)`. At most 255
/// iterations, so `len <= 255 * output_len`.
pub fn prf_plus(
    alg: PrfAlgorithm,
    key: &[u8],
    seed: &[u8],
    len: usize,
) -> Result<Vec<u8>, CryptoError> {
    let max = 255 * alg.output_len();
    if len > max {
        return Err(CryptoError::TooLong {
            what: "prf+ output",
            len,
            max,
        });
    }
    let mut out = Vec::with_capacity(len + alg.output_len());
    let mut prev: Vec<u8> = Vec::new();
    let mut n: u8 = 1;
    while out.len() < len {
        let t = prf_parts(alg, key, &[&prev, seed, &[n]]);
        out.extend_from_slice(&t);
        prev.zeroize();
        prev = t;
        n = n.wrapping_add(1);
    }
    prev.zeroize();
    out[len..].zeroize();
    out.truncate(len);
    Ok(out)
}

/// The transforms of an IKE SA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IkeTransforms {
    pub encr: EncrAlgorithm,
    pub integ: IntegAlgorithm,
    pub prf: PrfAlgorithm,
}

/// All keys of an IKE SA (RFC 7296 §2.14). Zeroized on drop; `Debug` shows
/// no key material.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct IkeSaKeys {
    #[zeroize(skip)]
    pub transforms: IkeTransforms,
    pub skeyseed: Vec<u8>,
    pub sk_d: Vec<u8>,
    pub sk_ai: Vec<u8>,
    pub sk_ar: Vec<u8>,
    pub sk_ei: Vec<u8>,
    pub sk_er: Vec<u8>,
    pub sk_pi: Vec<u8>,
    pub sk_pr: Vec<u8>,
}

impl fmt::Debug for IkeSaKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IkeSaKeys")
            .field("transforms", &self.transforms)
            .field("skeyseed", &Redacted(self.skeyseed.len()))
            .field("sk_d", &Redacted(self.sk_d.len()))
            .field("sk_ai", &Redacted(self.sk_ai.len()))
            .field("sk_ar", &Redacted(self.sk_ar.len()))
            .field("sk_ei", &Redacted(self.sk_ei.len()))
            .field("sk_er", &Redacted(self.sk_er.len()))
            .field("sk_pi", &Redacted(self.sk_pi.len()))
            .field("sk_pr", &Redacted(self.sk_pr.len()))
            .finish()
    }
}

impl IkeSaKeys {
    /// The subset needed to protect SK payloads.
    pub fn sk_keys(&self) -> SkKeys {
        SkKeys {
            encr: self.transforms.encr,
            integ: self.transforms.integ,
            sk_ei: self.sk_ei.clone(),
            sk_er: self.sk_er.clone(),
            sk_ai: self.sk_ai.clone(),
            sk_ar: self.sk_ar.clone(),
        }
    }
}

/// `SKEYSEED = prf(Ni | Nr, g^ir)` for an IKE SA created by IKE_SA_INIT
/// (RFC 7296 §2.14). For PRFs with a fixed key size (AES-XCBC, AES-CMAC)
/// the key is the first half-key-length bytes of Ni followed by as many of Nr.
pub fn skeyseed_initial(prf_alg: PrfAlgorithm, ni: &[u8], nr: &[u8], g_ir: &[u8]) -> Vec<u8> {
    let mut key = match prf_alg.fixed_key_len() {
        Some(klen) => {
            let half = klen / 2;
            let mut k = Vec::with_capacity(klen);
            k.extend_from_slice(&ni[..half.min(ni.len())]);
            k.extend_from_slice(&nr[..half.min(nr.len())]);
            k
        }
        None => [ni, nr].concat(),
    };
    let out = prf(prf_alg, &key, g_ir);
    key.zeroize();
    out
}

/// `SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr)` for an IKE SA created
/// by rekeying (RFC 7296 §2.18), using the PRF of the old IKE SA.
pub fn skeyseed_rekey(
    old_prf: PrfAlgorithm,
    old_sk_d: &[u8],
    g_ir_new: &[u8],
    ni: &[u8],
    nr: &[u8],
) -> Vec<u8> {
    prf_parts(old_prf, old_sk_d, &[g_ir_new, ni, nr])
}

/// `{SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} =
/// prf+(SKEYSEED, Ni | Nr | SPIi | SPIr)` (RFC 7296 §2.14).
pub fn derive_ike_sa_keys(
    transforms: IkeTransforms,
    skeyseed: &[u8],
    ni: &[u8],
    nr: &[u8],
    spi_i: u64,
    spi_r: u64,
) -> Result<IkeSaKeys, CryptoError> {
    if transforms.encr.is_aead() && transforms.integ != IntegAlgorithm::None {
        return Err(CryptoError::AeadWithIntegrity {
            encr: transforms.encr.to_string(),
            integ: transforms.integ.to_string(),
        });
    }
    let p = transforms.prf.key_len();
    let a = transforms.integ.key_len();
    let e = transforms.encr.key_len();
    let mut seed = Vec::with_capacity(ni.len() + nr.len() + 16);
    seed.extend_from_slice(ni);
    seed.extend_from_slice(nr);
    seed.extend_from_slice(&spi_i.to_be_bytes());
    seed.extend_from_slice(&spi_r.to_be_bytes());
    let mut km = prf_plus(transforms.prf, skeyseed, &seed, 3 * p + 2 * a + 2 * e)?;
    let mut rest: &[u8] = &km;
    let mut take = |n: usize| {
        let (h, t) = rest.split_at(n);
        rest = t;
        h.to_vec()
    };
    let keys = IkeSaKeys {
        transforms,
        skeyseed: skeyseed.to_vec(),
        sk_d: take(p),
        sk_ai: take(a),
        sk_ar: take(a),
        sk_ei: take(e),
        sk_er: take(e),
        sk_pi: take(p),
        sk_pr: take(p),
    };
    km.zeroize();
    Ok(keys)
}

/// Keys of a CHILD_SA (ESP or AH) as derived from KEYMAT (RFC 7296 §2.17).
/// `_i` keys protect traffic from the initiator of the exchange that created
/// the CHILD_SA to the responder (the SA whose SPI the responder chose),
/// `_r` keys the other direction.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct ChildSaKeys {
    #[zeroize(skip)]
    pub encr: EncrAlgorithm,
    #[zeroize(skip)]
    pub integ: IntegAlgorithm,
    pub encr_i: Vec<u8>,
    pub integ_i: Vec<u8>,
    pub encr_r: Vec<u8>,
    pub integ_r: Vec<u8>,
}

impl fmt::Debug for ChildSaKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildSaKeys")
            .field("encr", &self.encr)
            .field("integ", &self.integ)
            .field("encr_i", &Redacted(self.encr_i.len()))
            .field("integ_i", &Redacted(self.integ_i.len()))
            .field("encr_r", &Redacted(self.encr_r.len()))
            .field("integ_r", &Redacted(self.integ_r.len()))
            .finish()
    }
}

/// `KEYMAT = prf+(SK_d, Ni | Nr)`, or `prf+(SK_d, g^ir (new) | Ni | Nr)`
/// when the CREATE_CHILD_SA exchange carried a KE payload, split as
/// encryption key i→r, integrity key i→r, encryption key r→i, integrity key
/// r→i. Encryption keys include the salt where the transform has one (the
/// same lengths as for IKE: RFC 4106, RFC 4309, RFC 7634, RFC 3686).
pub fn derive_child_sa_keys(
    prf_alg: PrfAlgorithm,
    sk_d: &[u8],
    encr: EncrAlgorithm,
    integ: IntegAlgorithm,
    g_ir_new: Option<&[u8]>,
    ni: &[u8],
    nr: &[u8],
) -> Result<ChildSaKeys, CryptoError> {
    let e = encr.key_len();
    let a = integ.key_len();
    let mut seed = Vec::new();
    if let Some(g) = g_ir_new {
        seed.extend_from_slice(g);
    }
    seed.extend_from_slice(ni);
    seed.extend_from_slice(nr);
    let mut km = prf_plus(prf_alg, sk_d, &seed, 2 * (e + a))?;
    seed.zeroize();
    let keys = ChildSaKeys {
        encr,
        integ,
        encr_i: km[..e].to_vec(),
        integ_i: km[e..e + a].to_vec(),
        encr_r: km[e + a..2 * e + a].to_vec(),
        integ_r: km[2 * e + a..].to_vec(),
    };
    km.zeroize();
    Ok(keys)
}
