//! Key exchange (Diffie-Hellman) groups for IKEv2 (transform type 4).
//!
//! * MODP groups 14, 15, 16 (RFC 3526): public values are `g^x mod p`, big-endian and
//!   left-padded with zeros to the length of the prime (RFC 7296 §3.4). Peer values must
//!   satisfy `1 < y < p-1`. Modular exponentiation is constant-time (`crypto-bigint`).
//! * ECP groups 19, 20, 21 (RFC 5903, `p256` / `p384` / `p521`): public values are `x | y`,
//!   each coordinate padded to the field size, without the SEC1 `0x04` prefix; the shared
//!   secret is the x coordinate of the product. Peer points must be on the curve.
//! * Curve25519, group 31 (RFC 8031, `x25519-dalek`): 32-byte u-coordinates; an all-zero
//!   result (peer sent a low-order point) is rejected as RFC 7748 §6.1 allows.
//!
//! Curve448 (group 32) is not implemented: the only Rust X448 implementation is either
//! unmaintained (`x448` 0.6, 2020) or a pre-release needing a newer Rust than this crate's
//! MSRV.
//!
//! No randomness source lives here: [`KeyExchange::generate`] takes a closure that fills a
//! buffer with random bytes. Private values are zeroized on drop and never printed.
//! A hostile peer's value gives a [`DhError`], never a panic.

use std::fmt;

use crypto_bigint::modular::runtime_mod::{DynResidue, DynResidueParams};
use crypto_bigint::{Encoding, Uint, U2048, U3072, U4096};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use zeroize::{Zeroize, Zeroizing};

/// A key exchange group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DhGroup {
    /// 2048-bit MODP group (RFC 3526), ID 14.
    Modp2048,
    /// 3072-bit MODP group (RFC 3526), ID 15.
    Modp3072,
    /// 4096-bit MODP group (RFC 3526), ID 16.
    Modp4096,
    /// 256-bit random ECP group, NIST P-256 (RFC 5903), ID 19.
    Ecp256,
    /// 384-bit random ECP group, NIST P-384 (RFC 5903), ID 20.
    Ecp384,
    /// 521-bit random ECP group, NIST P-521 (RFC 5903), ID 21.
    Ecp521,
    /// Curve25519 (RFC 8031), ID 31.
    Curve25519,
}

impl DhGroup {
    /// Every supported group.
    pub const ALL: [DhGroup; 7] = [
        DhGroup::Modp2048,
        DhGroup::Modp3072,
        DhGroup::Modp4096,
        DhGroup::Ecp256,
        DhGroup::Ecp384,
        DhGroup::Ecp521,
        DhGroup::Curve25519,
    ];

    /// IANA transform ID (transform type 4).
    pub const fn iana_id(self) -> u16 {
        match self {
            DhGroup::Modp2048 => 14,
            DhGroup::Modp3072 => 15,
            DhGroup::Modp4096 => 16,
            DhGroup::Ecp256 => 19,
            DhGroup::Ecp384 => 20,
            DhGroup::Ecp521 => 21,
            DhGroup::Curve25519 => 31,
        }
    }

    /// From the IANA transform ID; `None` for groups not implemented here.
    pub fn from_iana(id: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.iana_id() == id)
    }

    /// Length of a public value (KE payload data) in bytes.
    pub const fn public_len(self) -> usize {
        match self {
            DhGroup::Modp2048 => 256,
            DhGroup::Modp3072 => 384,
            DhGroup::Modp4096 => 512,
            DhGroup::Ecp256 => 64,
            DhGroup::Ecp384 => 96,
            DhGroup::Ecp521 => 132,
            DhGroup::Curve25519 => 32,
        }
    }

    /// Length of the shared secret `g^ir` in bytes.
    pub const fn shared_len(self) -> usize {
        match self {
            DhGroup::Modp2048 | DhGroup::Modp3072 | DhGroup::Modp4096 => self.public_len(),
            DhGroup::Ecp256 => 32,
            DhGroup::Ecp384 => 48,
            DhGroup::Ecp521 => 66,
            DhGroup::Curve25519 => 32,
        }
    }

    /// strongSwan's proposal keyword (`modp2048`, `ecp256`, `curve25519`, ...).
    pub const fn strongswan_name(self) -> &'static str {
        match self {
            DhGroup::Modp2048 => "modp2048",
            DhGroup::Modp3072 => "modp3072",
            DhGroup::Modp4096 => "modp4096",
            DhGroup::Ecp256 => "ecp256",
            DhGroup::Ecp384 => "ecp384",
            DhGroup::Ecp521 => "ecp521",
            DhGroup::Curve25519 => "curve25519",
        }
    }

    /// From a strongSwan keyword (case-insensitive); `x25519` is accepted for Curve25519.
    pub fn from_strongswan_name(name: &str) -> Option<Self> {
        let n = name.trim().to_ascii_lowercase();
        if n == "x25519" {
            return Some(DhGroup::Curve25519);
        }
        Self::ALL.into_iter().find(|g| g.strongswan_name() == n)
    }
}

impl fmt::Display for DhGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DhGroup::Modp2048 => "MODP_2048",
            DhGroup::Modp3072 => "MODP_3072",
            DhGroup::Modp4096 => "MODP_4096",
            DhGroup::Ecp256 => "ECP_256",
            DhGroup::Ecp384 => "ECP_384",
            DhGroup::Ecp521 => "ECP_521",
            DhGroup::Curve25519 => "CURVE_25519",
        })
    }
}

/// Why a key exchange failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DhError {
    /// The peer's public value has the wrong length.
    PublicValueLength {
        group: DhGroup,
        expected: usize,
        actual: usize,
    },
    /// The peer's public value is not acceptable (out of range, not on the curve,
    /// low order).
    InvalidPublicValue {
        group: DhGroup,
        reason: &'static str,
    },
    /// A private value given by the caller is not usable for the group.
    InvalidPrivateValue { group: DhGroup },
    /// The random source kept producing unusable private values.
    BadRandomness { group: DhGroup },
}

impl fmt::Display for DhError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DhError::PublicValueLength {
                group,
                expected,
                actual,
            } => write!(
                f,
                "{group} public value has {actual} bytes, expected {expected}"
            ),
            DhError::InvalidPublicValue { group, reason } => {
                write!(f, "invalid {group} public value: {reason}")
            }
            DhError::InvalidPrivateValue { group } => write!(f, "invalid {group} private value"),
            DhError::BadRandomness { group } => {
                write!(f, "random source gave no usable {group} private value")
            }
        }
    }
}

impl std::error::Error for DhError {}

/// RFC 3526 2048-bit MODP prime (group 14), big-endian hex.
const MODP_2048_HEX: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74",
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437",
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05",
    "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB",
    "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718",
    "3995497CEA956AE515D2261898FA051015728E5A8AACAA68FFFFFFFFFFFFFFFF",
);

/// RFC 3526 3072-bit MODP prime (group 15), big-endian hex.
const MODP_3072_HEX: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74",
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437",
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05",
    "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB",
    "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718",
    "3995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33",
    "A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7",
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864",
    "D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2",
    "08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF",
);

/// RFC 3526 4096-bit MODP prime (group 16), big-endian hex.
const MODP_4096_HEX: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74",
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437",
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05",
    "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB",
    "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718",
    "3995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33",
    "A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7",
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864",
    "D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2",
    "08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A92108011A723C12A787E6D7",
    "88719A10BDBA5B2699C327186AF4E23C1A946834B6150BDA2583E9CA2AD44CE8",
    "DBBBC2DB04DE8EF92E8EFC141FBECAA6287C59474E6BC05D99B2964FA090C3A2",
    "233BA186515BE7ED1F612970CEE2D7AFB81BDD762170481CD0069127D5B05AA9",
    "93B4EA988D8FDDC186FFB7DC90A6C08F4DF435C934063199FFFFFFFFFFFFFFFF",
);
/// Private exponent length for the MODP groups, in bytes (twice the security strength in
/// bits, rounded up: 256, 384, 512 bits).
const fn modp_exp_len(group: DhGroup) -> usize {
    match group {
        DhGroup::Modp2048 => 32,
        DhGroup::Modp3072 => 48,
        _ => 64,
    }
}

/// Left-pad `exp` (big-endian, at most `Uint<L>` bytes) into a `Uint<L>`.
fn uint_from_short<const L: usize>(exp: &[u8]) -> Uint<L>
where
    Uint<L>: Encoding,
{
    let mut buf = Zeroizing::new(vec![0u8; Uint::<L>::BYTES]);
    let n = exp.len().min(buf.len());
    let off = buf.len() - n;
    buf[off..].copy_from_slice(&exp[exp.len() - n..]);
    Uint::<L>::from_be_slice(&buf)
}

/// `base^exp mod p`, big-endian, full length. `base` must be exactly `Uint<L>::BYTES` long
/// (callers check). When `check_range`, rejects `base <= 1` and `base >= p-1`.
fn modp_pow<const L: usize>(
    group: DhGroup,
    p: &Uint<L>,
    base: &[u8],
    exp: &[u8],
    check_range: bool,
) -> Result<Zeroizing<Vec<u8>>, DhError>
where
    Uint<L>: Encoding,
{
    if base.len() != Uint::<L>::BYTES {
        return Err(DhError::PublicValueLength {
            group,
            expected: Uint::<L>::BYTES,
            actual: base.len(),
        });
    }
    let b = Uint::<L>::from_be_slice(base);
    if check_range {
        let p_minus_1 = p.wrapping_sub(&Uint::<L>::ONE);
        if b <= Uint::<L>::ONE || b >= p_minus_1 {
            return Err(DhError::InvalidPublicValue {
                group,
                reason: "not in the range 1 < y < p-1",
            });
        }
    }
    let params = DynResidueParams::new(p);
    let e = uint_from_short::<L>(exp);
    let r = DynResidue::new(&b, params).pow_bounded_exp(&e, exp.len() * 8);
    let out = r.retrieve();
    let mut bytes = Zeroizing::new(Vec::with_capacity(Uint::<L>::BYTES));
    let repr = out.to_be_bytes();
    bytes.extend_from_slice(repr.as_ref());
    Ok(bytes)
}

fn modp(
    group: DhGroup,
    base: &[u8],
    exp: &[u8],
    check: bool,
) -> Result<Zeroizing<Vec<u8>>, DhError> {
    match group {
        DhGroup::Modp2048 => modp_pow(group, &U2048::from_be_hex(MODP_2048_HEX), base, exp, check),
        DhGroup::Modp3072 => modp_pow(group, &U3072::from_be_hex(MODP_3072_HEX), base, exp, check),
        DhGroup::Modp4096 => modp_pow(group, &U4096::from_be_hex(MODP_4096_HEX), base, exp, check),
        _ => Err(DhError::InvalidPrivateValue { group }),
    }
}

/// The generator 2, as a full-length big-endian value.
fn modp_generator(group: DhGroup) -> Vec<u8> {
    let mut g = vec![0u8; group.public_len()];
    if let Some(last) = g.last_mut() {
        *last = 2;
    }
    g
}

enum Secret {
    /// MODP private exponent, big-endian.
    Modp(Zeroizing<Vec<u8>>),
    P256(p256::SecretKey),
    P384(p384::SecretKey),
    P521(p521::SecretKey),
    X25519(x25519_dalek::StaticSecret),
}

/// One side's key exchange state: the private value and the public value derived from it.
/// The private value is zeroized on drop; `Debug` shows only the group.
pub struct KeyExchange {
    group: DhGroup,
    secret: Secret,
    public: Vec<u8>,
}

impl fmt::Debug for KeyExchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyExchange")
            .field("group", &self.group)
            .field("public_len", &self.public.len())
            .finish_non_exhaustive()
    }
}

/// Strip SEC1's `0x04` prefix from an uncompressed point.
fn strip_sec1(encoded: &[u8]) -> Vec<u8> {
    encoded.get(1..).unwrap_or_default().to_vec()
}

macro_rules! ecp_secret {
    ($krate:ident, $bytes:expr) => {
        $krate::SecretKey::from_slice($bytes).ok()
    };
}

macro_rules! ecp_public {
    ($sk:expr) => {
        strip_sec1($sk.public_key().to_encoded_point(false).as_bytes())
    };
}

macro_rules! ecp_shared {
    ($krate:ident, $group:expr, $sk:expr, $peer:expr) => {{
        let mut sec1 = Vec::with_capacity($peer.len() + 1);
        sec1.push(0x04);
        sec1.extend_from_slice($peer);
        let pk =
            $krate::PublicKey::from_sec1_bytes(&sec1).map_err(|_| DhError::InvalidPublicValue {
                group: $group,
                reason: "not a point on the curve",
            })?;
        let shared = $krate::ecdh::diffie_hellman($sk.to_nonzero_scalar(), pk.as_affine());
        Zeroizing::new(shared.raw_secret_bytes().to_vec())
    }};
}

impl KeyExchange {
    /// Private value length in bytes, as taken by [`KeyExchange::from_private_bytes`].
    pub const fn private_len(group: DhGroup) -> usize {
        match group {
            DhGroup::Modp2048 | DhGroup::Modp3072 | DhGroup::Modp4096 => modp_exp_len(group),
            DhGroup::Ecp256 | DhGroup::Curve25519 => 32,
            DhGroup::Ecp384 => 48,
            DhGroup::Ecp521 => 66,
        }
    }

    /// A fresh private value from `fill` (which must fill its argument with random bytes).
    /// Fails only if `fill` keeps producing unusable values (e.g. all zeros for the ECP
    /// groups).
    pub fn generate(group: DhGroup, fill: &mut dyn FnMut(&mut [u8])) -> Result<Self, DhError> {
        let mut buf = Zeroizing::new(vec![0u8; Self::private_len(group)]);
        for _ in 0..32 {
            fill(&mut buf);
            match group {
                // Keep exactly 521 bits so that most candidates are below the group order.
                DhGroup::Ecp521 => buf[0] &= 0x01,
                // Top bit set: the exponent has its full length.
                DhGroup::Modp2048 | DhGroup::Modp3072 | DhGroup::Modp4096 => buf[0] |= 0x80,
                _ => {}
            }
            if let Ok(kx) = Self::from_private_bytes(group, &buf) {
                return Ok(kx);
            }
        }
        Err(DhError::BadRandomness { group })
    }

    /// From a known private value (big-endian scalar/exponent; for Curve25519 the 32-byte
    /// string of RFC 7748). For tests with known answers, and for fixed keys.
    pub fn from_private_bytes(group: DhGroup, bytes: &[u8]) -> Result<Self, DhError> {
        let bad = || DhError::InvalidPrivateValue { group };
        let (secret, public) = match group {
            DhGroup::Modp2048 | DhGroup::Modp3072 | DhGroup::Modp4096 => {
                if bytes.is_empty()
                    || bytes.len() > group.public_len()
                    || bytes.iter().all(|&b| b == 0)
                {
                    return Err(bad());
                }
                let public = modp(group, &modp_generator(group), bytes, false)?;
                (
                    Secret::Modp(Zeroizing::new(bytes.to_vec())),
                    public.to_vec(),
                )
            }
            DhGroup::Ecp256 => {
                let sk = ecp_secret!(p256, bytes).ok_or_else(bad)?;
                let public = ecp_public!(sk);
                (Secret::P256(sk), public)
            }
            DhGroup::Ecp384 => {
                let sk = ecp_secret!(p384, bytes).ok_or_else(bad)?;
                let public = ecp_public!(sk);
                (Secret::P384(sk), public)
            }
            DhGroup::Ecp521 => {
                let sk = ecp_secret!(p521, bytes).ok_or_else(bad)?;
                let public = ecp_public!(sk);
                (Secret::P521(sk), public)
            }
            DhGroup::Curve25519 => {
                let mut arr: [u8; 32] = bytes.try_into().map_err(|_| bad())?;
                let sk = x25519_dalek::StaticSecret::from(arr);
                arr.zeroize();
                let public = x25519_dalek::PublicKey::from(&sk).as_bytes().to_vec();
                (Secret::X25519(sk), public)
            }
        };
        if public.len() != group.public_len() {
            return Err(bad());
        }
        Ok(KeyExchange {
            group,
            secret,
            public,
        })
    }

    /// The group.
    pub fn group(&self) -> DhGroup {
        self.group
    }

    /// Our public value, as carried in the KE payload.
    pub fn public_value(&self) -> &[u8] {
        &self.public
    }

    /// The shared secret `g^ir` with the peer's public value `peer` (KE payload data),
    /// after validating it. Always [`DhGroup::shared_len`] bytes.
    pub fn shared_secret(&self, peer: &[u8]) -> Result<Zeroizing<Vec<u8>>, DhError> {
        let group = self.group;
        if peer.len() != group.public_len() {
            return Err(DhError::PublicValueLength {
                group,
                expected: group.public_len(),
                actual: peer.len(),
            });
        }
        let out = match &self.secret {
            Secret::Modp(x) => modp(group, peer, x, true)?,
            Secret::P256(sk) => ecp_shared!(p256, group, sk, peer),
            Secret::P384(sk) => ecp_shared!(p384, group, sk, peer),
            Secret::P521(sk) => ecp_shared!(p521, group, sk, peer),
            Secret::X25519(sk) => {
                let arr: [u8; 32] = peer.try_into().map_err(|_| DhError::PublicValueLength {
                    group,
                    expected: 32,
                    actual: peer.len(),
                })?;
                let shared = sk.diffie_hellman(&x25519_dalek::PublicKey::from(arr));
                if !shared.was_contributory() {
                    return Err(DhError::InvalidPublicValue {
                        group,
                        reason: "low-order point (all-zero shared secret)",
                    });
                }
                Zeroizing::new(shared.as_bytes().to_vec())
            }
        };
        if out.len() != group.shared_len() {
            return Err(DhError::InvalidPublicValue {
                group,
                reason: "unexpected shared secret length",
            });
        }
        Ok(out)
    }
}

/// Check a peer's public value without computing anything secret: length, range
/// (MODP), on the curve (ECP). Curve25519 accepts every 32-byte string here (low-order
/// points are caught by [`KeyExchange::shared_secret`]).
pub fn validate_public_value(group: DhGroup, peer: &[u8]) -> Result<(), DhError> {
    if peer.len() != group.public_len() {
        return Err(DhError::PublicValueLength {
            group,
            expected: group.public_len(),
            actual: peer.len(),
        });
    }
    let on_curve = |ok: bool| {
        if ok {
            Ok(())
        } else {
            Err(DhError::InvalidPublicValue {
                group,
                reason: "not a point on the curve",
            })
        }
    };
    let sec1 = || {
        let mut v = vec![0x04];
        v.extend_from_slice(peer);
        v
    };
    match group {
        DhGroup::Modp2048 | DhGroup::Modp3072 | DhGroup::Modp4096 => {
            // exponent 1: just the range check
            modp(group, peer, &[1], true).map(|_| ())
        }
        DhGroup::Ecp256 => on_curve(p256::PublicKey::from_sec1_bytes(&sec1()).is_ok()),
        DhGroup::Ecp384 => on_curve(p384::PublicKey::from_sec1_bytes(&sec1()).is_ok()),
        DhGroup::Ecp521 => on_curve(p521::PublicKey::from_sec1_bytes(&sec1()).is_ok()),
        DhGroup::Curve25519 => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace([' ', '\n'], "")).unwrap()
    }

    /// Deterministic byte source for tests (not random at all).
    fn counter_fill(seed: u8) -> impl FnMut(&mut [u8]) {
        let mut n = seed;
        move |buf: &mut [u8]| {
            for b in buf.iter_mut() {
                n = n.wrapping_mul(181).wrapping_add(71);
                *b = n;
            }
        }
    }

    fn kat(group: DhGroup, i: &str, r: &str, gi: Option<&str>, gr: Option<&str>, z: &str) {
        let a = KeyExchange::from_private_bytes(group, &h(i)).unwrap();
        let b = KeyExchange::from_private_bytes(group, &h(r)).unwrap();
        if let Some(gi) = gi {
            assert_eq!(hex::encode_upper(a.public_value()), gi.to_uppercase());
        }
        if let Some(gr) = gr {
            assert_eq!(hex::encode_upper(b.public_value()), gr.to_uppercase());
        }
        let z1 = a.shared_secret(b.public_value()).unwrap();
        let z2 = b.shared_secret(a.public_value()).unwrap();
        assert_eq!(hex::encode_upper(&*z1), z.to_uppercase());
        assert_eq!(z1, z2);
        validate_public_value(group, a.public_value()).unwrap();
    }

    #[test]
    fn rfc5903_ecp256() {
        kat(
            DhGroup::Ecp256,
            "C88F01F510D9AC3F70A292DAA2316DE544E9AAB8AFE84049C62A9C57862D1433",
            "C6EF9C5D78AE012A011164ACB397CE2088685D8F06BF9BE0B283AB46476BEE53",
            Some(
                "DAD0B65394221CF9B051E1FECA5787D098DFE637FC90B9EF945D0C3772581180\
                 5271A0461CDB8252D61F1C456FA3E59AB1F45B33ACCF5F58389E0577B8990BB3",
            ),
            Some(
                "D12DFB5289C8D4F81208B70270398C342296970A0BCCB74C736FC7554494BF63\
                 56FBF3CA366CC23E8157854C13C58D6AAC23F046ADA30F8353E74F33039872AB",
            ),
            "D6840F6B42F6EDAFD13116E0E12565202FEF8E9ECE7DCE03812464D04B9442DE",
        );
    }

    #[test]
    fn rfc5903_ecp384() {
        kat(
            DhGroup::Ecp384,
            "099F3C7034D4A2C699884D73A375A67F7624EF7C6B3C0F160647B67414DCE655\
             E35B538041E649EE3FAEF896783AB194",
            "41CB0779B4BDB85D47846725FBEC3C9430FAB46CC8DC5060855CC9BDA0AA2942\
             E0308312916B8ED2960E4BD55A7448FC",
            None,
            Some(
                "E558DBEF53EECDE3D3FCCFC1AEA08A89A987475D12FD950D83CFA41732BC509D\
                 0D1AC43A0336DEF96FDA41D0774A3571DCFBEC7AACF3196472169E838430367F\
                 66EEBE3C6E70C416DD5F0C68759DD1FFF83FA40142209DFF5EAAD96DB9E6386C",
            ),
            "11187331C279962D93D604243FD592CB9D0A926F422E47187521287E7156C5C4\
             D603135569B9E9D09CF5D4A270F59746",
        );
    }

    #[test]
    fn rfc5903_ecp521() {
        kat(
            DhGroup::Ecp521,
            "0037ADE9319A89F4DABDB3EF411AACCCA5123C61ACAB57B5393DCE47608172A0\
             95AA85A30FE1C2952C6771D937BA9777F5957B2639BAB072462F68C27A57382D\
             4A52",
            "0145BA99A847AF43793FDD0E872E7CDFA16BE30FDC780F97BCCC3F078380201E\
             9C677D600B343757A3BDBF2A3163E4C2F869CCA7458AA4A4EFFC311F5CB15168\
             5EB9",
            Some(
                "0015417E84DBF28C0AD3C278713349DC7DF153C897A1891BD98BAB4357C9ECBE\
                 E1E3BF42E00B8E380AEAE57C2D107564941885942AF5A7F4601723C4195D176C\
                 ED3E017CAE20B6641D2EEB695786D8C946146239D099E18E1D5A514C739D7CB4\
                 A10AD8A788015AC405D7799DC75E7B7D5B6CF2261A6A7F1507438BF01BEB6CA3\
                 926F9582",
            ),
            None,
            "01144C7D79AE6956BC8EDB8E7C787C4521CB086FA64407F97894E5E6B2D79B04\
             D1427E73CA4BAA240A34786859810C06B3C715A3A8CC3151F2BEE417996D19F3\
             DDEA",
        );
    }

    #[test]
    fn rfc7748_x25519() {
        kat(
            DhGroup::Curve25519,
            "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
            "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
            Some("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"),
            Some("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"),
            "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742",
        );
    }

    #[test]
    fn modp_primes_are_rfc3526() {
        for (group, hexp) in [
            (DhGroup::Modp2048, MODP_2048_HEX),
            (DhGroup::Modp3072, MODP_3072_HEX),
            (DhGroup::Modp4096, MODP_4096_HEX),
        ] {
            let p = h(hexp);
            assert_eq!(p.len(), group.public_len());
            // 2^n - 2^(n-64) - 1 + 2^64 * (...): top and bottom 64 bits are all ones.
            assert!(p[..8].iter().chain(&p[p.len() - 8..]).all(|&b| b == 0xff));
            // pi starts C90FDAA2 2168C234 in every group
            assert_eq!(&p[8..16], &h("C90FDAA22168C234")[..]);
        }
        // Fermat: 2^(p-1) = 1 mod p for the 2048-bit prime.
        let mut pm1 = h(MODP_2048_HEX);
        *pm1.last_mut().unwrap() -= 1;
        let one = modp(
            DhGroup::Modp2048,
            &modp_generator(DhGroup::Modp2048),
            &pm1,
            false,
        )
        .unwrap();
        assert!(one[..255].iter().all(|&b| b == 0) && one[255] == 1);
    }

    #[test]
    fn modp_small_exponents() {
        for group in [DhGroup::Modp2048, DhGroup::Modp3072, DhGroup::Modp4096] {
            let k = KeyExchange::from_private_bytes(group, &[5]).unwrap();
            let pv = k.public_value();
            assert_eq!(pv.len(), group.public_len());
            assert!(pv[..pv.len() - 1].iter().all(|&b| b == 0));
            assert_eq!(pv[pv.len() - 1], 32);
        }
    }

    #[test]
    fn agreement_all_groups() {
        for group in DhGroup::ALL {
            let a = KeyExchange::generate(group, &mut counter_fill(1)).unwrap();
            let b = KeyExchange::generate(group, &mut counter_fill(2)).unwrap();
            assert_eq!(a.public_value().len(), group.public_len(), "{group}");
            assert_ne!(a.public_value(), b.public_value());
            let z1 = a.shared_secret(b.public_value()).unwrap();
            let z2 = b.shared_secret(a.public_value()).unwrap();
            assert_eq!(z1, z2, "{group}");
            assert_eq!(z1.len(), group.shared_len(), "{group}");
            validate_public_value(group, b.public_value()).unwrap();
            assert_eq!(DhGroup::from_iana(group.iana_id()), Some(group));
            assert_eq!(
                DhGroup::from_strongswan_name(group.strongswan_name()),
                Some(group)
            );
            // no key material in Debug
            let dbg = format!("{a:?}");
            assert!(!dbg.contains(&hex::encode(&z1[..8])), "{dbg}");
        }
        assert_eq!(
            DhGroup::from_strongswan_name("X25519"),
            Some(DhGroup::Curve25519)
        );
        assert_eq!(DhGroup::from_iana(32), None);
    }

    #[test]
    fn hostile_public_values() {
        for group in DhGroup::ALL {
            let me = KeyExchange::generate(group, &mut counter_fill(9)).unwrap();
            let n = group.public_len();
            for len in [0, 1, n - 1, n + 1, 2 * n] {
                let v = vec![0x42; len];
                assert!(matches!(
                    me.shared_secret(&v),
                    Err(DhError::PublicValueLength { .. })
                ));
                assert!(validate_public_value(group, &v).is_err());
            }
            let zeros = vec![0u8; n];
            let ones = vec![0xffu8; n];
            assert!(me.shared_secret(&zeros).is_err(), "{group} zero");
            if group != DhGroup::Curve25519 {
                assert!(me.shared_secret(&ones).is_err(), "{group} all ones");
                assert!(validate_public_value(group, &zeros).is_err());
            }
        }
        // MODP: 1, p-1 and p are rejected; 2 is fine.
        let g = DhGroup::Modp2048;
        let me = KeyExchange::generate(g, &mut counter_fill(3)).unwrap();
        let mut v = vec![0u8; 256];
        v[255] = 1;
        assert!(me.shared_secret(&v).is_err());
        v[255] = 2;
        assert!(me.shared_secret(&v).is_ok());
        let p = h(MODP_2048_HEX);
        assert!(me.shared_secret(&p).is_err());
        let mut pm1 = p.clone();
        pm1[255] -= 1;
        assert!(me.shared_secret(&pm1).is_err());
        let mut pm2 = p;
        pm2[255] -= 2;
        assert!(me.shared_secret(&pm2).is_ok());
        // ECP: a valid point with one coordinate byte changed is off the curve.
        let other = KeyExchange::generate(DhGroup::Ecp256, &mut counter_fill(4)).unwrap();
        let me = KeyExchange::generate(DhGroup::Ecp256, &mut counter_fill(5)).unwrap();
        let mut bad = other.public_value().to_vec();
        bad[63] ^= 1;
        assert!(matches!(
            me.shared_secret(&bad),
            Err(DhError::InvalidPublicValue { .. })
        ));
        // X25519 low-order point u = 1.
        let me = KeyExchange::generate(DhGroup::Curve25519, &mut counter_fill(6)).unwrap();
        let mut u1 = [0u8; 32];
        u1[0] = 1;
        assert!(me.shared_secret(&u1).is_err());
    }

    #[test]
    fn broken_rng_is_an_error() {
        let mut zeros = |b: &mut [u8]| b.fill(0);
        assert!(matches!(
            KeyExchange::generate(DhGroup::Ecp256, &mut zeros),
            Err(DhError::BadRandomness { .. })
        ));
        let mut ff = |b: &mut [u8]| b.fill(0xff);
        assert!(KeyExchange::generate(DhGroup::Ecp384, &mut ff).is_err());
    }
}
