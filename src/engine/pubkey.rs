//! Certificate (public key) authentication: X.509 certificates from PEM, chain
//! verification against configured CAs, and AUTH payloads with RSA PKCS#1 v1.5
//! (method 1, SHA-1, RFC 7296 §3.8), ECDSA (methods 9/10, RFC 4754) and RFC 7427
//! digital signatures (method 14: sha256/384/512WithRSAEncryption,
//! ecdsa-with-SHA256/384/512).
//!
//! Signatures are deterministic (PKCS#1 v1.5; ECDSA with RFC 6979 nonces), so no
//! randomness is needed here. Validity dates are checked against a wall-clock time the
//! caller supplies ([`Config::unix_time_at_epoch`](super::Config::unix_time_at_epoch)).
//!
//! Method-14 AUTH data: one byte with the length of the ASN.1 AlgorithmIdentifier, its
//! DER, then the signature (RFC 7427 §3). The signed octets are those of RFC 7296
//! §2.15, as for PSK.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use der::{Decode, Encode};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};
use signature::hazmat::{PrehashSigner, PrehashVerifier};
use spki::{AlgorithmIdentifierOwned, ObjectIdentifier, SubjectPublicKeyInfoOwned};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{BasicConstraints, SubjectAltName};
use x509_cert::Certificate;

use super::config::Identity;

/// AUTH method: RSA Digital Signature (PKCS#1 v1.5 with SHA-1).
pub const AUTH_RSA: u8 = 1;
/// AUTH method: ECDSA with SHA-256 on P-256 (RFC 4754).
pub const AUTH_ECDSA_256: u8 = 9;
/// AUTH method: ECDSA with SHA-384 on P-384 (RFC 4754).
pub const AUTH_ECDSA_384: u8 = 10;
/// AUTH method: Digital Signature (RFC 7427).
pub const AUTH_DIGITAL_SIGNATURE: u8 = 14;
/// CERT encoding: X.509 Certificate - Signature.
pub const CERT_X509_SIGNATURE: u8 = 4;

const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_SHA1_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.5");
const OID_SHA256_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const OID_SHA384_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const OID_SHA512_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const OID_EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_ECDSA_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.1");
const OID_ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const OID_ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const OID_ECDSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_SAN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
const OID_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");

/// Hash algorithms of RFC 7427 (SIGNATURE_HASH_ALGORITHMS values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlg {
    /// SHA1 (1).
    Sha1,
    /// SHA2-256 (2).
    Sha256,
    /// SHA2-384 (3).
    Sha384,
    /// SHA2-512 (4).
    Sha512,
}

impl HashAlg {
    /// The IANA identifier.
    pub fn id(self) -> u16 {
        match self {
            HashAlg::Sha1 => 1,
            HashAlg::Sha256 => 2,
            HashAlg::Sha384 => 3,
            HashAlg::Sha512 => 4,
        }
    }

    /// From the IANA identifier.
    pub fn from_id(id: u16) -> Option<HashAlg> {
        Some(match id {
            1 => HashAlg::Sha1,
            2 => HashAlg::Sha256,
            3 => HashAlg::Sha384,
            4 => HashAlg::Sha512,
            _ => return None,
        })
    }

    fn digest(self, m: &[u8]) -> Vec<u8> {
        match self {
            HashAlg::Sha1 => Sha1::digest(m).to_vec(),
            HashAlg::Sha256 => Sha256::digest(m).to_vec(),
            HashAlg::Sha384 => Sha384::digest(m).to_vec(),
            HashAlg::Sha512 => Sha512::digest(m).to_vec(),
        }
    }

    fn pkcs1(self) -> rsa::Pkcs1v15Sign {
        match self {
            HashAlg::Sha1 => rsa::Pkcs1v15Sign::new::<Sha1>(),
            HashAlg::Sha256 => rsa::Pkcs1v15Sign::new::<Sha256>(),
            HashAlg::Sha384 => rsa::Pkcs1v15Sign::new::<Sha384>(),
            HashAlg::Sha512 => rsa::Pkcs1v15Sign::new::<Sha512>(),
        }
    }
}

/// Hash algorithms we announce in SIGNATURE_HASH_ALGORITHMS (SHA-1 only for method 1).
pub const OUR_HASHES: [HashAlg; 3] = [HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512];

/// A signature scheme as named by an AlgorithmIdentifier (DER-encoded ECDSA signatures).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigAlg {
    /// shaXWithRSAEncryption.
    Rsa(HashAlg),
    /// ecdsa-with-SHAx.
    Ecdsa(HashAlg),
}

impl SigAlg {
    fn from_oid(oid: &ObjectIdentifier) -> Option<SigAlg> {
        Some(match *oid {
            OID_SHA1_RSA => SigAlg::Rsa(HashAlg::Sha1),
            OID_SHA256_RSA => SigAlg::Rsa(HashAlg::Sha256),
            OID_SHA384_RSA => SigAlg::Rsa(HashAlg::Sha384),
            OID_SHA512_RSA => SigAlg::Rsa(HashAlg::Sha512),
            OID_ECDSA_SHA1 => SigAlg::Ecdsa(HashAlg::Sha1),
            OID_ECDSA_SHA256 => SigAlg::Ecdsa(HashAlg::Sha256),
            OID_ECDSA_SHA384 => SigAlg::Ecdsa(HashAlg::Sha384),
            OID_ECDSA_SHA512 => SigAlg::Ecdsa(HashAlg::Sha512),
            _ => return None,
        })
    }

    /// The AlgorithmIdentifier DER (RSA with NULL parameters, ECDSA without).
    pub fn algorithm_identifier(self) -> Vec<u8> {
        let (oid, null) = match self {
            SigAlg::Rsa(HashAlg::Sha1) => (OID_SHA1_RSA, true),
            SigAlg::Rsa(HashAlg::Sha256) => (OID_SHA256_RSA, true),
            SigAlg::Rsa(HashAlg::Sha384) => (OID_SHA384_RSA, true),
            SigAlg::Rsa(HashAlg::Sha512) => (OID_SHA512_RSA, true),
            SigAlg::Ecdsa(HashAlg::Sha1) => (OID_ECDSA_SHA1, false),
            SigAlg::Ecdsa(HashAlg::Sha256) => (OID_ECDSA_SHA256, false),
            SigAlg::Ecdsa(HashAlg::Sha384) => (OID_ECDSA_SHA384, false),
            SigAlg::Ecdsa(HashAlg::Sha512) => (OID_ECDSA_SHA512, false),
        };
        let oid = oid.as_bytes();
        let mut body = vec![0x06, oid.len() as u8];
        body.extend_from_slice(oid);
        if null {
            body.extend_from_slice(&[0x05, 0x00]);
        }
        let mut v = vec![0x30, body.len() as u8];
        v.extend_from_slice(&body);
        v
    }

    /// Name for messages.
    pub fn name(self) -> String {
        match self {
            SigAlg::Rsa(h) => format!("RSA PKCS#1 v1.5 with {h:?}"),
            SigAlg::Ecdsa(h) => format!("ECDSA with {h:?}"),
        }
    }
}

/// A public key from a certificate.
#[derive(Debug, Clone)]
pub enum PublicKey {
    /// RSA.
    Rsa(rsa::RsaPublicKey),
    /// ECDSA on P-256.
    P256(p256::ecdsa::VerifyingKey),
    /// ECDSA on P-384.
    P384(p384::ecdsa::VerifyingKey),
}

impl PublicKey {
    /// From a SubjectPublicKeyInfo.
    pub fn from_spki(spki: &SubjectPublicKeyInfoOwned) -> Result<PublicKey, String> {
        let bits = spki.subject_public_key.raw_bytes();
        match spki.algorithm.oid {
            OID_RSA => {
                use rsa::pkcs1::DecodeRsaPublicKey;
                rsa::RsaPublicKey::from_pkcs1_der(bits)
                    .map(PublicKey::Rsa)
                    .map_err(|e| format!("bad RSA public key: {e}"))
            }
            OID_EC => {
                let curve = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
                match curve {
                    Some(OID_P256) => p256::ecdsa::VerifyingKey::from_sec1_bytes(bits)
                        .map(PublicKey::P256)
                        .map_err(|e| format!("bad P-256 public key: {e}")),
                    Some(OID_P384) => p384::ecdsa::VerifyingKey::from_sec1_bytes(bits)
                        .map(PublicKey::P384)
                        .map_err(|e| format!("bad P-384 public key: {e}")),
                    _ => Err("unsupported elliptic curve (P-256 and P-384 are)".into()),
                }
            }
            o => Err(format!("unsupported public key algorithm {o}")),
        }
    }

    /// Verify a signature named by an AlgorithmIdentifier (ECDSA: DER).
    pub fn verify(&self, alg: SigAlg, msg: &[u8], sig: &[u8]) -> bool {
        match (self, alg) {
            (PublicKey::Rsa(k), SigAlg::Rsa(h)) => k.verify(h.pkcs1(), &h.digest(msg), sig).is_ok(),
            (PublicKey::P256(k), SigAlg::Ecdsa(h)) => p256::ecdsa::Signature::from_der(sig)
                .is_ok_and(|s| k.verify_prehash(&h.digest(msg), &s).is_ok()),
            (PublicKey::P384(k), SigAlg::Ecdsa(h)) => p384::ecdsa::Signature::from_der(sig)
                .is_ok_and(|s| k.verify_prehash(&h.digest(msg), &s).is_ok()),
            _ => false,
        }
    }

    /// Name for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            PublicKey::Rsa(_) => "RSA",
            PublicKey::P256(_) => "ECDSA P-256",
            PublicKey::P384(_) => "ECDSA P-384",
        }
    }
}

/// Our private key; never printed.
pub enum PrivateKey {
    /// RSA.
    Rsa(Box<rsa::RsaPrivateKey>),
    /// ECDSA on P-256.
    P256(p256::ecdsa::SigningKey),
    /// ECDSA on P-384.
    P384(p384::ecdsa::SigningKey),
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let k = match self {
            PrivateKey::Rsa(_) => "RSA",
            PrivateKey::P256(_) => "P-256",
            PrivateKey::P384(_) => "P-384",
        };
        write!(f, "PrivateKey({k}, <redacted>)")
    }
}

impl PrivateKey {
    /// From PEM: PKCS#8 (`PRIVATE KEY`), PKCS#1 (`RSA PRIVATE KEY`) or SEC1
    /// (`EC PRIVATE KEY`), as written by `pki --gen` or openssl.
    pub fn from_pem(pem: &str) -> Result<PrivateKey, String> {
        use rsa::pkcs1::DecodeRsaPrivateKey;
        use rsa::pkcs8::DecodePrivateKey;
        if pem.contains("-----BEGIN RSA PRIVATE KEY-----") {
            return rsa::RsaPrivateKey::from_pkcs1_pem(pem)
                .map(|k| PrivateKey::Rsa(Box::new(k)))
                .map_err(|e| format!("bad RSA private key: {e}"));
        }
        if pem.contains("-----BEGIN EC PRIVATE KEY-----") {
            if let Ok(k) = p256::SecretKey::from_sec1_pem(pem) {
                return Ok(PrivateKey::P256(k.into()));
            }
            return p384::SecretKey::from_sec1_pem(pem)
                .map(|k| PrivateKey::P384(k.into()))
                .map_err(|e| format!("bad EC private key (P-256 and P-384 are supported): {e}"));
        }
        if pem.contains("-----BEGIN PRIVATE KEY-----") {
            if let Ok(k) = rsa::RsaPrivateKey::from_pkcs8_pem(pem) {
                return Ok(PrivateKey::Rsa(Box::new(k)));
            }
            if let Ok(k) = p256::SecretKey::from_pkcs8_pem(pem) {
                return Ok(PrivateKey::P256(k.into()));
            }
            if let Ok(k) = p384::SecretKey::from_pkcs8_pem(pem) {
                return Ok(PrivateKey::P384(k.into()));
            }
            return Err("unsupported PKCS#8 private key (RSA, P-256, P-384 are)".into());
        }
        Err("no PEM private key (RSA PRIVATE KEY, EC PRIVATE KEY or PRIVATE KEY) found".into())
    }

    /// Sign with an AlgorithmIdentifier-named scheme (ECDSA: DER signature).
    pub fn sign(&self, alg: SigAlg, msg: &[u8]) -> Result<Vec<u8>, String> {
        let r = match (self, alg) {
            (PrivateKey::Rsa(k), SigAlg::Rsa(h)) => k.sign(h.pkcs1(), &h.digest(msg)).ok(),
            (PrivateKey::P256(k), SigAlg::Ecdsa(h)) => {
                let s: Result<p256::ecdsa::Signature, _> = k.sign_prehash(&h.digest(msg));
                s.ok().map(|s| s.to_der().as_bytes().to_vec())
            }
            (PrivateKey::P384(k), SigAlg::Ecdsa(h)) => {
                let s: Result<p384::ecdsa::Signature, _> = k.sign_prehash(&h.digest(msg));
                s.ok().map(|s| s.to_der().as_bytes().to_vec())
            }
            _ => None,
        };
        r.ok_or_else(|| format!("cannot sign with {}", alg.name()))
    }

    fn is_rsa(&self) -> bool {
        matches!(self, PrivateKey::Rsa(_))
    }

    /// AUTH method and data for `octets`. `peer_hashes`: the peer's
    /// SIGNATURE_HASH_ALGORITHMS (`None`: it sent none, use methods 1/9/10).
    pub fn auth(
        &self,
        peer_hashes: Option<&[u16]>,
        octets: &[u8],
    ) -> Result<(u8, Vec<u8>), String> {
        let Some(peer) = peer_hashes else {
            return match self {
                PrivateKey::Rsa(k) => k
                    .sign(HashAlg::Sha1.pkcs1(), &HashAlg::Sha1.digest(octets))
                    .map(|s| (AUTH_RSA, s))
                    .map_err(|e| e.to_string()),
                PrivateKey::P256(k) => {
                    let s: p256::ecdsa::Signature = k
                        .sign_prehash(&Sha256::digest(octets))
                        .map_err(|e| e.to_string())?;
                    Ok((AUTH_ECDSA_256, s.to_bytes().to_vec()))
                }
                PrivateKey::P384(k) => {
                    let s: p384::ecdsa::Signature = k
                        .sign_prehash(&Sha384::digest(octets))
                        .map_err(|e| e.to_string())?;
                    Ok((AUTH_ECDSA_384, s.to_bytes().to_vec()))
                }
            };
        };
        let preferred: &[HashAlg] = match self {
            PrivateKey::P384(_) => &[HashAlg::Sha384, HashAlg::Sha256, HashAlg::Sha512],
            PrivateKey::P256(_) | PrivateKey::Rsa(_) => {
                &[HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512]
            }
        };
        let Some(h) = preferred.iter().copied().find(|h| peer.contains(&h.id())) else {
            return Err(format!(
                "the peer's SIGNATURE_HASH_ALGORITHMS {peer:?} has none of SHA2-256/384/512"
            ));
        };
        let alg = if self.is_rsa() {
            SigAlg::Rsa(h)
        } else {
            SigAlg::Ecdsa(h)
        };
        let ai = alg.algorithm_identifier();
        let sig = self.sign(alg, octets)?;
        let mut data = Vec::with_capacity(1 + ai.len() + sig.len());
        data.push(ai.len() as u8);
        data.extend_from_slice(&ai);
        data.extend_from_slice(&sig);
        Ok((AUTH_DIGITAL_SIGNATURE, data))
    }
}

/// Verify an AUTH payload made with `key` over `octets`.
pub fn verify_auth(key: &PublicKey, method: u8, data: &[u8], octets: &[u8]) -> Result<(), String> {
    let ok = match (method, key) {
        (AUTH_RSA, PublicKey::Rsa(k)) => k
            .verify(HashAlg::Sha1.pkcs1(), &HashAlg::Sha1.digest(octets), data)
            .is_ok(),
        (AUTH_ECDSA_256, PublicKey::P256(k)) => p256::ecdsa::Signature::from_slice(data)
            .is_ok_and(|s| k.verify_prehash(&Sha256::digest(octets), &s).is_ok()),
        (AUTH_ECDSA_384, PublicKey::P384(k)) => p384::ecdsa::Signature::from_slice(data)
            .is_ok_and(|s| k.verify_prehash(&Sha384::digest(octets), &s).is_ok()),
        (AUTH_DIGITAL_SIGNATURE, _) => {
            let (&n, rest) = data
                .split_first()
                .ok_or("empty digital signature AUTH data")?;
            let n = n as usize;
            if rest.len() < n {
                return Err("truncated AlgorithmIdentifier in AUTH data".into());
            }
            let ai = AlgorithmIdentifierOwned::from_der(&rest[..n])
                .map_err(|e| format!("bad AlgorithmIdentifier in AUTH data: {e}"))?;
            let alg = SigAlg::from_oid(&ai.oid)
                .ok_or_else(|| format!("unsupported signature algorithm {}", ai.oid))?;
            if matches!(
                alg,
                SigAlg::Rsa(HashAlg::Sha1) | SigAlg::Ecdsa(HashAlg::Sha1)
            ) {
                return Err("SHA-1 digital signatures are not accepted".into());
            }
            if !key.verify(alg, octets, &rest[n..]) {
                return Err(format!(
                    "{} signature does not verify with the {} key of its certificate",
                    alg.name(),
                    key.kind()
                ));
            }
            true
        }
        (m, k) => {
            return Err(format!(
                "AUTH method {m} does not fit the {} key of its certificate",
                k.kind()
            ))
        }
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "AUTH method {method} signature does not verify with the {} key of its certificate",
            key.kind()
        ))
    }
}

/// An X.509 certificate.
#[derive(Clone)]
pub struct X509 {
    der: Vec<u8>,
    cert: Certificate,
}

impl fmt::Debug for X509 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "X509({})", self.subject())
    }
}

impl PartialEq for X509 {
    fn eq(&self, o: &X509) -> bool {
        self.der == o.der
    }
}

impl X509 {
    /// From DER.
    pub fn from_der(der: &[u8]) -> Result<X509, String> {
        let cert = Certificate::from_der(der).map_err(|e| format!("bad X.509 certificate: {e}"))?;
        Ok(X509 {
            der: der.to_vec(),
            cert,
        })
    }

    /// Every `CERTIFICATE` in a PEM text.
    pub fn from_pem_all(pem: &str) -> Result<Vec<X509>, String> {
        let certs = Certificate::load_pem_chain(pem.as_bytes())
            .map_err(|e| format!("bad PEM certificate: {e}"))?;
        let v = certs
            .into_iter()
            .map(|c| {
                let der = c.to_der().map_err(|e| e.to_string())?;
                Ok(X509 { der, cert: c })
            })
            .collect::<Result<Vec<_>, String>>()?;
        if v.is_empty() {
            return Err("no PEM certificate found".into());
        }
        Ok(v)
    }

    /// The DER bytes.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The subject DN (RFC 4514 string).
    pub fn subject(&self) -> String {
        self.cert.tbs_certificate.subject.to_string()
    }

    /// The public key.
    pub fn public_key(&self) -> Result<PublicKey, String> {
        PublicKey::from_spki(&self.cert.tbs_certificate.subject_public_key_info)
    }

    /// SHA-1 of the DER SubjectPublicKeyInfo (CERTREQ entries, RFC 7296 §3.7).
    pub fn spki_sha1(&self) -> [u8; 20] {
        let spki = self
            .cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .unwrap_or_default();
        Sha1::digest(spki).into()
    }

    fn extension<T: for<'a> Decode<'a>>(&self, oid: ObjectIdentifier) -> Option<T> {
        self.cert
            .tbs_certificate
            .extensions
            .as_ref()?
            .iter()
            .find(|e| e.extn_id == oid)
            .and_then(|e| T::from_der(e.extn_value.as_bytes()).ok())
    }

    fn is_ca(&self) -> bool {
        self.extension::<BasicConstraints>(OID_BASIC_CONSTRAINTS)
            .is_some_and(|b| b.ca)
    }

    /// Is `id` the certificate's subject (a DN identity) or one of its subjectAltNames
    /// (dNSName, rfc822Name, iPAddress; case-insensitive for names)?
    pub fn matches_identity(&self, id: &Identity) -> bool {
        if let Identity::Dn(d) = id {
            // Compare as RFC 4514 text: string types (PrintableString, UTF8String) differ.
            let subject = &self.cert.tbs_certificate.subject;
            return subject.to_der().is_ok_and(|s| &s == d)
                || x509_cert::name::Name::from_der(d)
                    .is_ok_and(|n| n.to_string() == subject.to_string());
        }
        let Some(san) = self.extension::<SubjectAltName>(OID_SAN) else {
            return false;
        };
        san.0.iter().any(|g| match (g, id) {
            (GeneralName::DnsName(n), Identity::Fqdn(f)) => n.as_str().eq_ignore_ascii_case(f),
            (GeneralName::Rfc822Name(n), Identity::Rfc822(r)) => n.as_str().eq_ignore_ascii_case(r),
            (GeneralName::IpAddress(a), Identity::Ipv4(_) | Identity::Ipv6(_)) => {
                let want: IpAddr = match id {
                    Identity::Ipv4(v) => (*v).into(),
                    Identity::Ipv6(v) => (*v).into(),
                    _ => return false,
                };
                match a.as_bytes().len() {
                    4 => <[u8; 4]>::try_from(a.as_bytes()).is_ok_and(|b| IpAddr::from(b) == want),
                    16 => <[u8; 16]>::try_from(a.as_bytes()).is_ok_and(|b| IpAddr::from(b) == want),
                    _ => false,
                }
            }
            _ => false,
        })
    }

    /// The first subjectAltName usable as an IKE identity (DNS, e-mail, IP address).
    pub fn first_identity(&self) -> Option<Identity> {
        let san = self.extension::<SubjectAltName>(OID_SAN)?;
        san.0.iter().find_map(|g| match g {
            GeneralName::DnsName(n) => Some(Identity::Fqdn(n.as_str().to_string())),
            GeneralName::Rfc822Name(n) => Some(Identity::Rfc822(n.as_str().to_string())),
            GeneralName::IpAddress(a) => match a.as_bytes().len() {
                4 => <[u8; 4]>::try_from(a.as_bytes())
                    .ok()
                    .map(|b| IpAddr::from(b).into()),
                16 => <[u8; 16]>::try_from(a.as_bytes())
                    .ok()
                    .map(|b| IpAddr::from(b).into()),
                _ => None,
            },
            _ => None,
        })
    }

    fn check_dates(&self, unix_now: Option<u64>) -> Result<(), String> {
        let Some(now) = unix_now else {
            return Ok(());
        };
        let v = &self.cert.tbs_certificate.validity;
        let nb = v.not_before.to_unix_duration().as_secs();
        let na = v.not_after.to_unix_duration().as_secs();
        if now < nb {
            return Err(format!(
                "certificate of {} is not valid before {}",
                self.subject(),
                v.not_before
            ));
        }
        if now > na {
            return Err(format!(
                "certificate of {} expired at {}",
                self.subject(),
                v.not_after
            ));
        }
        Ok(())
    }

    /// Is `self` signed by `issuer`'s key (and issued under its name)?
    fn signed_by(&self, issuer: &X509) -> bool {
        if self.cert.tbs_certificate.issuer != issuer.cert.tbs_certificate.subject {
            return false;
        }
        let Some(alg) = SigAlg::from_oid(&self.cert.signature_algorithm.oid) else {
            return false;
        };
        let (Ok(key), Ok(tbs)) = (issuer.public_key(), self.cert.tbs_certificate.to_der()) else {
            return false;
        };
        let Some(sig) = self.cert.signature.as_bytes() else {
            return false;
        };
        key.verify(alg, &tbs, sig)
    }
}

/// Verify that `end` chains to one of `cas`, possibly through `intermediates` (which must
/// be CA certificates), with every certificate valid at `unix_now` (if given).
pub fn verify_chain(
    end: &X509,
    intermediates: &[X509],
    cas: &[X509],
    unix_now: Option<u64>,
) -> Result<(), String> {
    let mut cur = end;
    for _ in 0..8 {
        cur.check_dates(unix_now)?;
        if cas.contains(cur) {
            return Ok(());
        }
        if let Some(ca) = cas.iter().find(|ca| cur.signed_by(ca)) {
            return ca.check_dates(unix_now);
        }
        match intermediates
            .iter()
            .find(|i| *i != cur && i.is_ca() && cur.signed_by(i))
        {
            Some(i) => cur = i,
            None => break,
        }
    }
    Err(format!(
        "certificate of {} is not signed by a trusted CA",
        end.subject()
    ))
}

/// Certificate authentication settings of a connection.
#[derive(Debug, Clone)]
pub struct CertAuth {
    /// Our certificate, then intermediate CA certificates to send.
    pub chain: Vec<X509>,
    /// The private key of `chain[0]`.
    pub key: Arc<PrivateKey>,
    /// Trusted CA certificates for the peer's certificate.
    pub cas: Vec<X509>,
}

impl CertAuth {
    /// From PEM texts: our certificate (chain), our private key, trusted CAs. Checks that
    /// the key belongs to the certificate.
    pub fn from_pem(cert: &str, key: &str, cas: &[String]) -> Result<CertAuth, String> {
        let chain = X509::from_pem_all(cert)?;
        let key = PrivateKey::from_pem(key)?;
        let mut trusted = Vec::new();
        for c in cas {
            trusted.extend(X509::from_pem_all(c)?);
        }
        CertAuth::new(chain, key, trusted)
    }

    /// From parsed parts. Checks that the key belongs to the certificate.
    pub fn new(chain: Vec<X509>, key: PrivateKey, cas: Vec<X509>) -> Result<CertAuth, String> {
        let first = chain.first().ok_or("no certificate")?;
        let pk = first.public_key()?;
        let probe = b"mobikectl key check";
        let alg = if key.is_rsa() {
            SigAlg::Rsa(HashAlg::Sha256)
        } else {
            SigAlg::Ecdsa(HashAlg::Sha256)
        };
        let sig = key.sign(alg, probe)?;
        if !pk.verify(alg, probe, &sig) {
            return Err(format!(
                "the private key does not belong to the certificate of {}",
                first.subject()
            ));
        }
        Ok(CertAuth {
            chain,
            key: Arc::new(key),
            cas,
        })
    }

    /// CERTREQ data: SHA-1 hashes of our CAs' public keys.
    pub fn certreq(&self) -> Vec<u8> {
        self.cas.iter().flat_map(|c| c.spki_sha1()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pki(f: &str) -> String {
        std::fs::read_to_string(format!("{}/testdata/pki/{f}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    fn key_and_cert(n: &str) -> (PrivateKey, X509) {
        let k = PrivateKey::from_pem(&pki(&format!("{n}.key"))).unwrap();
        let c = X509::from_pem_all(&pki(&format!("{n}.crt")))
            .unwrap()
            .remove(0);
        (k, c)
    }

    #[test]
    fn auth_methods_round_trip() {
        let octets = b"RealMessage | Nonce | prf(SK_p, ID')";
        for (name, legacy) in [
            ("moon", AUTH_RSA),
            ("sun", AUTH_ECDSA_256),
            ("carol", AUTH_ECDSA_384),
        ] {
            let (k, c) = key_and_cert(name);
            let pk = c.public_key().unwrap();
            // no SIGNATURE_HASH_ALGORITHMS: the legacy method of the key type
            let (m, d) = k.auth(None, octets).unwrap();
            assert_eq!(m, legacy, "{name}");
            verify_auth(&pk, m, &d, octets).unwrap();
            assert!(verify_auth(&pk, m, &d, b"other octets").is_err());
            // RFC 7427 with each hash the peer may offer
            for h in OUR_HASHES {
                let (m, d) = k.auth(Some(&[h.id()]), octets).unwrap();
                assert_eq!(m, AUTH_DIGITAL_SIGNATURE);
                let ai_len = d[0] as usize;
                let want = if name == "moon" {
                    SigAlg::Rsa(h)
                } else {
                    SigAlg::Ecdsa(h)
                };
                assert_eq!(&d[1..1 + ai_len], &want.algorithm_identifier()[..]);
                verify_auth(&pk, m, &d, octets).unwrap();
                let mut bad = d.clone();
                *bad.last_mut().unwrap() ^= 1;
                assert!(verify_auth(&pk, m, &bad, octets).is_err(), "{name} {h:?}");
            }
            // SHA-1 only: refused
            assert!(k.auth(Some(&[1]), octets).is_err());
        }
        // a signature by another key does not verify
        let (k, _) = key_and_cert("sun");
        let (_, c) = key_and_cert("mallory");
        let (m, d) = k.auth(Some(&[2]), octets).unwrap();
        assert!(verify_auth(&c.public_key().unwrap(), m, &d, octets).is_err());
    }

    #[test]
    fn pkcs8_private_keys() {
        use rsa::pkcs8::{EncodePrivateKey, LineEnding};
        let pems = match (key_and_cert("moon").0, key_and_cert("carol").0) {
            (PrivateKey::Rsa(r), PrivateKey::P384(e)) => [
                r.to_pkcs8_pem(LineEnding::LF).unwrap().to_string(),
                p384::SecretKey::from(e)
                    .to_pkcs8_pem(LineEnding::LF)
                    .unwrap()
                    .to_string(),
            ],
            k => panic!("{k:?}"),
        };
        assert!(matches!(
            PrivateKey::from_pem(&pems[0]),
            Ok(PrivateKey::Rsa(_))
        ));
        assert!(matches!(
            PrivateKey::from_pem(&pems[1]),
            Ok(PrivateKey::P384(_))
        ));
        assert!(PrivateKey::from_pem("nothing").is_err());
    }

    #[test]
    fn algorithm_identifiers_parse_back() {
        for alg in [
            SigAlg::Rsa(HashAlg::Sha256),
            SigAlg::Rsa(HashAlg::Sha512),
            SigAlg::Ecdsa(HashAlg::Sha384),
        ] {
            let der = alg.algorithm_identifier();
            let ai = AlgorithmIdentifierOwned::from_der(&der).unwrap();
            assert_eq!(SigAlg::from_oid(&ai.oid), Some(alg));
            assert_eq!(ai.to_der().unwrap(), der);
        }
    }

    #[test]
    fn chains_names_and_dates() {
        let cas = |n: &[&str]| -> Vec<X509> {
            n.iter()
                .flat_map(|c| X509::from_pem_all(&pki(&format!("{c}.crt"))).unwrap())
                .collect()
        };
        let (_, moon) = key_and_cert("moon");
        let now = Some(1_800_000_000);
        verify_chain(&moon, &[], &cas(&["ec-ca", "rsa-ca"]), now).unwrap();
        let e = verify_chain(&moon, &[], &cas(&["ec-ca"]), now).unwrap_err();
        assert!(e.contains("is not signed by a trusted CA"), "{e}");
        // an end-entity certificate is no intermediate CA
        let (_, sun) = key_and_cert("sun");
        assert!(verify_chain(&moon, std::slice::from_ref(&sun), &cas(&["ec-ca"]), now).is_err());
        assert!(
            verify_chain(&moon, &[], &cas(&["rsa-ca"]), Some(1_000_000_000))
                .unwrap_err()
                .contains("not valid before")
        );
        assert!(moon.matches_identity(&Identity::parse("moon.example.org").unwrap()));
        assert!(moon.matches_identity(&Identity::parse("MOON.example.org").unwrap()));
        assert!(moon.matches_identity(&Identity::parse("192.0.2.1").unwrap()));
        assert!(!moon.matches_identity(&Identity::parse("192.0.2.2").unwrap()));
        assert!(!sun.matches_identity(&Identity::parse("moon.example.org").unwrap()));
        let (_, carol) = key_and_cert("carol");
        assert!(carol.matches_identity(&Identity::parse("carol@example.org").unwrap()));
        assert_eq!(
            carol.first_identity(),
            Identity::parse("carol@example.org").ok()
        );
        assert_eq!(
            moon.first_identity(),
            Identity::parse("moon.example.org").ok()
        );
        assert_eq!(moon.spki_sha1().len(), 20);
        let dn = Identity::parse("C=XX, O=mobikectl test, CN=moon.example.org").unwrap();
        assert!(moon.matches_identity(&dn));
        assert!(!sun.matches_identity(&dn));
        assert_eq!(dn.to_string(), "CN=moon.example.org,O=mobikectl test,C=XX");
        assert_eq!(Identity::from_payload(&dn.to_payload()), Some(dn));
    }
}
