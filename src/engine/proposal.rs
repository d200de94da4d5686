//! Algorithm proposals in strongSwan syntax, their wire form, and proposal selection.
//!
//! Syntax (as in `swanctl.conf` `proposals` / `esp_proposals`): a proposal is a list of
//! keywords separated by `-`; several algorithms of one kind may be listed, in order of
//! preference; proposals are separated by `,`. Keywords:
//!
//! * encryption: `aes128` `aes192` `aes256` (`aes` = `aes128`), `aes128ctr`.., `aes128gcm16`
//!   `aes128gcm12` `aes128gcm8` (`aes128gcm` = `gcm16`), `aes128ccm16`.., `chacha20poly1305`,
//!   `3des`, `null`;
//! * integrity: `md5` `sha1`/`sha` `sha256`/`sha2_256` `sha384` `sha512` `aesxcbc` `aescmac`
//!   `md5_128` `sha1_160` `sha256_96`;
//! * PRF: `prfmd5` `prfsha1` `prfsha256` `prfsha384` `prfsha512` `prfaesxcbc` `prfaescmac`;
//! * key exchange: `modp2048` `modp3072` `modp4096` `ecp256` `ecp384` `ecp521` `curve25519`
//!   (`x25519`);
//! * ESP only: `esn`, `noesn` (default `noesn`).
//!
//! In IKE proposals without a `prf*` keyword, the integrity keywords also give the PRFs
//! (`sha256` → PRF_HMAC_SHA2_256), as strongSwan does; with an AEAD cipher, integrity
//! keywords only give PRFs. AEAD and classic ciphers cannot share one proposal.
//!
//! Selection ([`select`]) follows strongSwan's default: the responder walks *its own*
//! proposals in order and takes the first one that some peer proposal satisfies; within it,
//! the first algorithm of each kind (own order) that the peer also offers.

use std::fmt;

use crate::crypto::dh::DhGroup;
use crate::crypto::{AeadIcv, AesKeySize, EncrAlgorithm, IntegAlgorithm, PrfAlgorithm};
use crate::wire::{self, protocol_id, Attribute, AttributeValue, ATTR_KEY_LENGTH};

/// Transform types (RFC 7296 §3.3.2).
pub mod transform_type {
    /// Encryption algorithm.
    pub const ENCR: u8 = 1;
    /// Pseudo-random function.
    pub const PRF: u8 = 2;
    /// Integrity algorithm.
    pub const INTEG: u8 = 3;
    /// Key exchange method.
    pub const KE: u8 = 4;
    /// Extended sequence numbers.
    pub const ESN: u8 = 5;
}
use transform_type as tt;

/// IKE or ESP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// The IKE SA.
    Ike,
    /// An ESP CHILD_SA.
    Esp,
}

impl Protocol {
    /// Protocol ID on the wire.
    pub fn id(self) -> u8 {
        match self {
            Protocol::Ike => protocol_id::IKE,
            Protocol::Esp => protocol_id::ESP,
        }
    }
}

/// One proposal with possibly several algorithms of each kind, in order of preference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    /// IKE or ESP.
    pub protocol: Protocol,
    /// Encryption algorithms.
    pub encr: Vec<EncrAlgorithm>,
    /// Integrity algorithms (empty with AEAD).
    pub integ: Vec<IntegAlgorithm>,
    /// PRFs (IKE only).
    pub prf: Vec<PrfAlgorithm>,
    /// Key exchange groups (for ESP: PFS groups; empty = no PFS).
    pub dh: Vec<DhGroup>,
    /// ESN choices (ESP only): `false` = no ESN.
    pub esn: Vec<bool>,
}

/// A proposal with exactly one algorithm of each kind: what was negotiated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Chosen {
    /// IKE or ESP.
    pub protocol: Protocol,
    /// Encryption.
    pub encr: EncrAlgorithm,
    /// Integrity ([`IntegAlgorithm::None`] with AEAD).
    pub integ: IntegAlgorithm,
    /// PRF (IKE only).
    pub prf: Option<PrfAlgorithm>,
    /// Key exchange group (IKE; ESP with PFS).
    pub dh: Option<DhGroup>,
    /// Extended sequence numbers (ESP only).
    pub esn: Option<bool>,
}

/// A proposal string that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposalError(pub String);

impl fmt::Display for ProposalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProposalError {}

enum Token {
    Encr(EncrAlgorithm),
    Integ(IntegAlgorithm, Option<PrfAlgorithm>),
    Prf(PrfAlgorithm),
    Dh(DhGroup),
    Esn(bool),
}

fn aes_size(s: &str) -> Option<AesKeySize> {
    match s {
        "128" => Some(AesKeySize::Aes128),
        "192" => Some(AesKeySize::Aes192),
        "256" => Some(AesKeySize::Aes256),
        _ => None,
    }
}

fn icv(s: &str) -> Option<AeadIcv> {
    match s {
        "" | "16" => Some(AeadIcv::Icv16),
        "12" => Some(AeadIcv::Icv12),
        "8" => Some(AeadIcv::Icv8),
        _ => None,
    }
}

fn integ_token(t: &str) -> Option<(IntegAlgorithm, Option<PrfAlgorithm>)> {
    use IntegAlgorithm as I;
    use PrfAlgorithm as P;
    Some(match t {
        "md5" => (I::HmacMd5_96, Some(P::HmacMd5)),
        "md5_128" => (I::HmacMd5_128, Some(P::HmacMd5)),
        "sha" | "sha1" => (I::HmacSha1_96, Some(P::HmacSha1)),
        "sha1_160" => (I::HmacSha1_160, Some(P::HmacSha1)),
        "sha256" | "sha2_256" => (I::HmacSha2_256_128, Some(P::HmacSha2_256)),
        "sha256_96" | "sha2_256_96" => (I::HmacSha2_256_96, Some(P::HmacSha2_256)),
        "sha384" | "sha2_384" => (I::HmacSha2_384_192, Some(P::HmacSha2_384)),
        "sha512" | "sha2_512" => (I::HmacSha2_512_256, Some(P::HmacSha2_512)),
        "aesxcbc" => (I::AesXcbc96, Some(P::Aes128Xcbc)),
        "aescmac" => (I::AesCmac96, Some(P::Aes128Cmac)),
        _ => return None,
    })
}

fn token(t: &str) -> Option<Token> {
    use EncrAlgorithm as E;
    if let Some(g) = DhGroup::from_strongswan_name(t) {
        return Some(Token::Dh(g));
    }
    match t {
        "esn" => return Some(Token::Esn(true)),
        "noesn" => return Some(Token::Esn(false)),
        "3des" => return Some(Token::Encr(E::TripleDesCbc)),
        "null" => return Some(Token::Encr(E::Null)),
        "aes" => return Some(Token::Encr(E::AesCbc(AesKeySize::Aes128))),
        "chacha20poly1305" => return Some(Token::Encr(E::ChaCha20Poly1305)),
        _ => {}
    }
    if let Some(p) = t.strip_prefix("prf") {
        return integ_token(p).and_then(|(_, p)| p).map(Token::Prf);
    }
    if let Some((i, p)) = integ_token(t) {
        return Some(Token::Integ(i, p));
    }
    let rest = t.strip_prefix("aes")?;
    let (bits, mode) = rest.split_at(rest.len().min(3));
    let k = aes_size(bits)?;
    Some(Token::Encr(match mode {
        "" => E::AesCbc(k),
        "ctr" => E::AesCtr(k),
        m if m.starts_with("gcm") => E::AesGcm(k, icv(&m[3..])?),
        m if m.starts_with("ccm") => E::AesCcm(k, icv(&m[3..])?),
        _ => return None,
    }))
}

fn push<T: PartialEq>(v: &mut Vec<T>, x: T) {
    if !v.contains(&x) {
        v.push(x);
    }
}

impl Proposal {
    /// Parse one proposal (`aes128-sha256-x25519`).
    pub fn parse(protocol: Protocol, s: &str) -> Result<Proposal, ProposalError> {
        let mut p = Proposal {
            protocol,
            encr: vec![],
            integ: vec![],
            prf: vec![],
            dh: vec![],
            esn: vec![],
        };
        let mut integ_prfs = Vec::new();
        for raw in s.trim().split('-') {
            let t = raw.trim().to_ascii_lowercase();
            let tok = token(&t).ok_or_else(|| {
                ProposalError(format!(
                    "unknown algorithm keyword '{raw}' in proposal '{s}'"
                ))
            })?;
            match tok {
                Token::Encr(e) => push(&mut p.encr, e),
                Token::Integ(i, prf) => {
                    push(&mut p.integ, i);
                    if let Some(prf) = prf {
                        push(&mut integ_prfs, prf);
                    }
                }
                Token::Prf(f) if protocol == Protocol::Ike => push(&mut p.prf, f),
                Token::Prf(_) => {
                    return Err(ProposalError(format!(
                        "'{raw}': ESP proposals take no PRF ('{s}')"
                    )))
                }
                Token::Dh(g) => push(&mut p.dh, g),
                Token::Esn(e) if protocol == Protocol::Esp => push(&mut p.esn, e),
                Token::Esn(_) => {
                    return Err(ProposalError(format!(
                        "'{raw}': IKE proposals take no ESN keyword ('{s}')"
                    )))
                }
            }
        }
        let aead = p.encr.iter().filter(|e| e.is_aead()).count();
        if aead != 0 && aead != p.encr.len() {
            return Err(ProposalError(format!(
                "'{s}' mixes AEAD and classic ciphers; use two proposals"
            )));
        }
        if p.encr.is_empty() {
            return Err(ProposalError(format!("'{s}' has no encryption algorithm")));
        }
        if aead != 0 {
            // integrity keywords with AEAD only name PRFs
            p.integ.clear();
        } else if p.integ.is_empty() && p.encr != [EncrAlgorithm::Null] {
            return Err(ProposalError(format!("'{s}' has no integrity algorithm")));
        }
        match protocol {
            Protocol::Ike => {
                if p.prf.is_empty() {
                    p.prf = integ_prfs;
                }
                if p.prf.is_empty() {
                    return Err(ProposalError(format!("IKE proposal '{s}' has no PRF")));
                }
                if p.dh.is_empty() {
                    return Err(ProposalError(format!(
                        "IKE proposal '{s}' has no key exchange method"
                    )));
                }
            }
            Protocol::Esp => {
                if p.esn.is_empty() {
                    p.esn.push(false);
                }
            }
        }
        Ok(p)
    }

    /// Parse a comma-separated list of proposals.
    pub fn parse_list(protocol: Protocol, s: &str) -> Result<Vec<Proposal>, ProposalError> {
        let list: Vec<Proposal> = s
            .split(',')
            .filter(|x| !x.trim().is_empty())
            .map(|x| Proposal::parse(protocol, x))
            .collect::<Result<_, _>>()?;
        if list.is_empty() {
            return Err(ProposalError("empty proposal list".into()));
        }
        Ok(list)
    }

    /// The default IKE proposals: close to strongSwan 5.9's defaults and accepted by a
    /// strongSwan 5.9 responder with default settings.
    pub fn default_ike() -> Vec<Proposal> {
        Proposal::parse_list(
            Protocol::Ike,
            "aes128-aes192-aes256-sha256-sha384-sha512-ecp256-ecp384-ecp521-x25519-modp3072-modp4096-modp2048,\
             aes128gcm16-aes192gcm16-aes256gcm16-chacha20poly1305-prfsha256-prfsha384-prfsha512-ecp256-ecp384-ecp521-x25519-modp3072-modp4096-modp2048",
        )
        .unwrap_or_default()
    }

    /// The default ESP proposals (no PFS): strongSwan 5.9's defaults.
    pub fn default_esp() -> Vec<Proposal> {
        Proposal::parse_list(
            Protocol::Esp,
            "aes128gcm16-aes192gcm16-aes256gcm16-chacha20poly1305,aes128-aes192-aes256-sha256-sha384-sha512-sha1",
        )
        .unwrap_or_default()
    }

    /// The wire proposal with the given number and SPI. `with_dh = false` leaves out the key
    /// exchange transforms (ESP proposals in IKE_AUTH, RFC 7296 §1.2).
    pub fn to_wire(&self, number: u8, spi: &[u8], with_dh: bool) -> wire::Proposal<'static> {
        let mut t = Vec::new();
        for e in &self.encr {
            t.push(encr_transform(*e));
        }
        for f in &self.prf {
            t.push(wire::Transform::new(tt::PRF, f.iana_id()));
        }
        for i in &self.integ {
            if let Some(id) = i.iana_id() {
                t.push(wire::Transform::new(tt::INTEG, id));
            }
        }
        if with_dh {
            for g in &self.dh {
                t.push(wire::Transform::new(tt::KE, g.iana_id()));
            }
        }
        if self.protocol == Protocol::Esp {
            for e in &self.esn {
                t.push(wire::Transform::new(tt::ESN, u16::from(*e)));
            }
        }
        wire::Proposal {
            last_substruc: 0,
            reserved: 0,
            number,
            protocol_id: self.protocol.id(),
            spi: spi.to_vec().into(),
            transforms: t,
        }
    }

    /// The proposal in strongSwan's keyword syntax.
    pub fn to_keywords(&self) -> String {
        let mut out: Vec<String> = Vec::new();
        for e in &self.encr {
            out.push(encr_keyword(*e));
        }
        for i in &self.integ {
            out.push(integ_keyword(*i).to_string());
        }
        for f in &self.prf {
            out.push(format!("prf{}", prf_keyword(*f)));
        }
        for g in &self.dh {
            out.push(g.strongswan_name().to_string());
        }
        if self.esn.contains(&true) {
            out.push("esn".into());
        }
        if self.esn.contains(&false) && self.esn.contains(&true) {
            out.push("noesn".into());
        }
        out.join("-")
    }
}

fn encr_keyword(e: EncrAlgorithm) -> String {
    match e {
        EncrAlgorithm::Null => "null".into(),
        EncrAlgorithm::TripleDesCbc => "3des".into(),
        EncrAlgorithm::AesCbc(k) => format!("aes{}", k.bits()),
        EncrAlgorithm::AesCtr(k) => format!("aes{}ctr", k.bits()),
        EncrAlgorithm::AesGcm(k, i) => format!("aes{}gcm{}", k.bits(), i.bytes()),
        EncrAlgorithm::AesCcm(k, i) => format!("aes{}ccm{}", k.bits(), i.bytes()),
        EncrAlgorithm::ChaCha20Poly1305 => "chacha20poly1305".into(),
    }
}

fn integ_keyword(i: IntegAlgorithm) -> &'static str {
    match i {
        IntegAlgorithm::None => "none",
        IntegAlgorithm::HmacMd5_96 => "md5",
        IntegAlgorithm::HmacMd5_128 => "md5_128",
        IntegAlgorithm::HmacSha1_96 => "sha1",
        IntegAlgorithm::HmacSha1_160 => "sha1_160",
        IntegAlgorithm::HmacSha2_256_128 => "sha256",
        IntegAlgorithm::HmacSha2_256_96 => "sha256_96",
        IntegAlgorithm::HmacSha2_384_192 => "sha384",
        IntegAlgorithm::HmacSha2_512_256 => "sha512",
        IntegAlgorithm::AesXcbc96 => "aesxcbc",
        IntegAlgorithm::AesCmac96 => "aescmac",
    }
}

fn prf_keyword(f: PrfAlgorithm) -> &'static str {
    match f {
        PrfAlgorithm::HmacMd5 => "md5",
        PrfAlgorithm::HmacSha1 => "sha1",
        PrfAlgorithm::HmacSha2_256 => "sha256",
        PrfAlgorithm::HmacSha2_384 => "sha384",
        PrfAlgorithm::HmacSha2_512 => "sha512",
        PrfAlgorithm::Aes128Xcbc => "aesxcbc",
        PrfAlgorithm::Aes128Cmac => "aescmac",
    }
}

fn encr_transform(e: EncrAlgorithm) -> wire::Transform<'static> {
    let mut t = wire::Transform::new(tt::ENCR, e.iana_id());
    if let Some(bits) = e.key_length_attr() {
        t.attributes.push(Attribute {
            attr_type: ATTR_KEY_LENGTH,
            value: AttributeValue::Tv(bits),
        });
    }
    t
}

impl Chosen {
    /// The wire proposal (one transform of each kind).
    pub fn to_wire(&self, number: u8, spi: &[u8]) -> wire::Proposal<'static> {
        self.as_proposal().to_wire(number, spi, true)
    }

    /// As a [`Proposal`] with one algorithm of each kind.
    pub fn as_proposal(&self) -> Proposal {
        Proposal {
            protocol: self.protocol,
            encr: vec![self.encr],
            integ: if self.integ == IntegAlgorithm::None {
                vec![]
            } else {
                vec![self.integ]
            },
            prf: self.prf.into_iter().collect(),
            dh: self.dh.into_iter().collect(),
            esn: self.esn.into_iter().collect(),
        }
    }
}

impl fmt::Display for Chosen {
    /// strongSwan's log format: `IKE:AES_CBC_128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/CURVE_25519`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = vec![self.encr.strongswan_name()];
        if self.integ != IntegAlgorithm::None {
            parts.push(self.integ.strongswan_name().to_string());
        }
        if let Some(p) = self.prf {
            parts.push(p.strongswan_name().to_string());
        }
        if let Some(g) = self.dh {
            parts.push(g.to_string());
        }
        match self.esn {
            Some(true) => parts.push("EXT_SEQ".into()),
            Some(false) => parts.push("NO_EXT_SEQ".into()),
            None => {}
        }
        let proto = match self.protocol {
            Protocol::Ike => "IKE",
            Protocol::Esp => "ESP",
        };
        write!(f, "{proto}:{}", parts.join("/"))
    }
}

/// A peer's wire proposal, decoded into our algorithm types. Transforms we do not know are
/// counted in `unknown_*` so a type consisting only of unknown values does not match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offered {
    /// Proposal number.
    pub number: u8,
    /// Protocol ID as received.
    pub protocol_id: u8,
    /// SPI as received.
    pub spi: Vec<u8>,
    /// Decoded content.
    pub proposal: Proposal,
    /// Transform types that appeared with only unsupported IDs.
    pub unsupported_types: Vec<u8>,
}

impl Offered {
    /// Decode a wire proposal. `None` for protocols other than IKE and ESP.
    pub fn from_wire(p: &wire::Proposal<'_>) -> Option<Offered> {
        let protocol = match p.protocol_id {
            protocol_id::IKE => Protocol::Ike,
            protocol_id::ESP => Protocol::Esp,
            _ => return None,
        };
        let mut out = Proposal {
            protocol,
            encr: vec![],
            integ: vec![],
            prf: vec![],
            dh: vec![],
            esn: vec![],
        };
        let mut seen = Vec::new();
        let mut known = Vec::new();
        for t in &p.transforms {
            push(&mut seen, t.transform_type);
            let ok = match t.transform_type {
                tt::ENCR => EncrAlgorithm::from_iana(t.transform_id, t.key_length())
                    .map(|e| push(&mut out.encr, e))
                    .is_some(),
                tt::PRF => PrfAlgorithm::from_iana(t.transform_id)
                    .map(|f| push(&mut out.prf, f))
                    .is_some(),
                tt::INTEG => match IntegAlgorithm::from_iana(t.transform_id) {
                    Some(IntegAlgorithm::None) => true,
                    Some(i) => {
                        push(&mut out.integ, i);
                        true
                    }
                    None => false,
                },
                tt::KE => {
                    t.transform_id == 0
                        || DhGroup::from_iana(t.transform_id)
                            .map(|g| push(&mut out.dh, g))
                            .is_some()
                }
                tt::ESN => match t.transform_id {
                    0 | 1 => {
                        push(&mut out.esn, t.transform_id == 1);
                        true
                    }
                    _ => false,
                },
                _ => false,
            };
            if ok {
                push(&mut known, t.transform_type);
            }
        }
        let unsupported_types = seen.into_iter().filter(|t| !known.contains(t)).collect();
        Some(Offered {
            number: p.number,
            protocol_id: p.protocol_id,
            spi: p.spi.to_vec(),
            proposal: out,
            unsupported_types,
        })
    }

    /// Interpret a responder's answer: exactly one algorithm of each kind.
    pub fn as_chosen(&self) -> Option<Chosen> {
        let p = &self.proposal;
        let one = |n: usize| n <= 1;
        if !self.unsupported_types.is_empty()
            || p.encr.len() != 1
            || !one(p.integ.len())
            || !one(p.prf.len())
            || !one(p.dh.len())
            || !one(p.esn.len())
        {
            return None;
        }
        Some(Chosen {
            protocol: p.protocol,
            encr: p.encr[0],
            integ: p.integ.first().copied().unwrap_or(IntegAlgorithm::None),
            prf: p.prf.first().copied(),
            dh: p.dh.first().copied(),
            esn: p.esn.first().copied(),
        })
    }
}

fn pick<T: Copy + PartialEq>(ours: &[T], theirs: &[T], prefer: Option<T>) -> Option<Option<T>> {
    if ours.is_empty() && theirs.is_empty() {
        return Some(None);
    }
    if let Some(x) = prefer {
        if ours.contains(&x) && theirs.contains(&x) {
            return Some(Some(x));
        }
    }
    ours.iter().find(|x| theirs.contains(x)).map(|x| Some(*x))
}

/// Does `ours` accept the peer proposal `theirs`? Returns the choice.
/// `ignore_dh`: key exchange transforms play no role (ESP in IKE_AUTH).
/// `prefer_dh`: the group of the peer's KE payload, chosen if both sides allow it.
pub fn match_proposal(
    ours: &Proposal,
    theirs: &Offered,
    ignore_dh: bool,
    prefer_dh: Option<DhGroup>,
) -> Option<Chosen> {
    if ours.protocol != theirs.proposal.protocol || !theirs.unsupported_types.is_empty() {
        return None;
    }
    let t = &theirs.proposal;
    let encr = pick(&ours.encr, &t.encr, None)??;
    let integ = if encr.is_aead() {
        if !t.integ.is_empty() {
            return None;
        }
        IntegAlgorithm::None
    } else {
        pick(&ours.integ, &t.integ, None)?.unwrap_or(IntegAlgorithm::None)
    };
    let prf = pick(&ours.prf, &t.prf, None)?;
    let dh = if ignore_dh {
        None
    } else {
        pick(&ours.dh, &t.dh, prefer_dh)?
    };
    let esn = if ours.protocol == Protocol::Esp {
        let their_esn: &[bool] = if t.esn.is_empty() { &[false] } else { &t.esn };
        pick(&ours.esn, their_esn, None)?
    } else {
        None
    };
    if ours.protocol == Protocol::Ike && (prf.is_none() || dh.is_none()) {
        return None;
    }
    Some(Chosen {
        protocol: ours.protocol,
        encr,
        integ,
        prf,
        dh,
        esn,
    })
}

/// Responder's selection: the first of `ours` that any of `theirs` satisfies. Returns the
/// choice and the peer proposal it matched (for its number and SPI).
pub fn select<'a>(
    ours: &[Proposal],
    theirs: &'a [Offered],
    ignore_dh: bool,
    prefer_dh: Option<DhGroup>,
) -> Option<(Chosen, &'a Offered)> {
    ours.iter().find_map(|o| {
        theirs
            .iter()
            .find_map(|t| match_proposal(o, t, ignore_dh, prefer_dh).map(|c| (c, t)))
    })
}

/// Initiator's check of the responder's choice: every algorithm must come from one of our
/// proposals.
pub fn acceptable(ours: &[Proposal], chosen: &Chosen, ignore_dh: bool) -> bool {
    ours.iter().any(|o| {
        o.protocol == chosen.protocol
            && o.encr.contains(&chosen.encr)
            && (chosen.integ == IntegAlgorithm::None && o.integ.is_empty()
                || o.integ.contains(&chosen.integ))
            && chosen.prf.is_none_or(|p| o.prf.contains(&p))
            && (ignore_dh || chosen.dh.is_none_or(|g| o.dh.contains(&g)))
            && (ignore_dh || chosen.dh.is_some() || o.dh.is_empty())
            && chosen
                .esn
                .is_none_or(|e| o.esn.contains(&e) || (o.esn.is_empty() && !e))
    })
}

/// The one proposal a responder chose in its SA payload, with its SPI (RFC 7296 §3.3: a
/// response carries exactly one proposal, with one transform of each type).
pub fn single_choice(sa: &wire::Sa<'_>) -> Result<(Chosen, Vec<u8>), &'static str> {
    match offered(sa).as_slice() {
        [one] => Ok((
            one.as_chosen()
                .ok_or("responder's proposal is not a choice")?,
            one.spi.clone(),
        )),
        _ => Err("responder must choose exactly one proposal"),
    }
}

/// Decode all proposals of an SA payload.
pub fn offered(sa: &wire::Sa<'_>) -> Vec<Offered> {
    sa.proposals.iter().filter_map(Offered::from_wire).collect()
}

/// SA payload for a list of our proposals, numbered from 1.
pub fn sa_payload(list: &[Proposal], spi: &[u8], with_dh: bool) -> wire::Sa<'static> {
    wire::Sa::new(
        list.iter()
            .enumerate()
            .map(|(i, p)| p.to_wire((i + 1).min(255) as u8, spi, with_dh))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Message, Payload, PayloadBody};

    #[test]
    fn parse_examples() {
        let p = Proposal::parse(Protocol::Ike, "aes128-sha256-x25519").unwrap();
        assert_eq!(p.encr, [EncrAlgorithm::AesCbc(AesKeySize::Aes128)]);
        assert_eq!(p.integ, [IntegAlgorithm::HmacSha2_256_128]);
        assert_eq!(p.prf, [PrfAlgorithm::HmacSha2_256]);
        assert_eq!(p.dh, [DhGroup::Curve25519]);

        let p = Proposal::parse(Protocol::Ike, "aes256gcm16-prfsha384-ecp384").unwrap();
        assert_eq!(
            p.encr,
            [EncrAlgorithm::AesGcm(AesKeySize::Aes256, AeadIcv::Icv16)]
        );
        assert!(p.integ.is_empty());
        assert_eq!(p.prf, [PrfAlgorithm::HmacSha2_384]);
        assert_eq!(p.dh, [DhGroup::Ecp384]);

        let p = Proposal::parse(Protocol::Ike, "aes128ctr-sha256-modp3072").unwrap();
        assert_eq!(p.encr, [EncrAlgorithm::AesCtr(AesKeySize::Aes128)]);
        assert_eq!(p.dh, [DhGroup::Modp3072]);

        let p = Proposal::parse(Protocol::Ike, "chacha20poly1305-prfsha256-x25519").unwrap();
        assert_eq!(p.encr, [EncrAlgorithm::ChaCha20Poly1305]);

        let l = Proposal::parse_list(
            Protocol::Ike,
            "aes128-sha256-x25519, aes256gcm16-prfsha384-ecp384",
        )
        .unwrap();
        assert_eq!(l.len(), 2);

        let e = Proposal::parse(Protocol::Esp, "aes128gcm16-x25519").unwrap();
        assert_eq!(e.dh, [DhGroup::Curve25519]);
        assert_eq!(e.esn, [false]);
        let e = Proposal::parse(Protocol::Esp, "aes128-sha256").unwrap();
        assert!(e.dh.is_empty() && e.prf.is_empty());
        assert_eq!(e.integ, [IntegAlgorithm::HmacSha2_256_128]);

        let p = Proposal::parse(Protocol::Ike, "aes128gcm16-sha256-ecp256").unwrap();
        assert!(p.integ.is_empty());
        assert_eq!(p.prf, [PrfAlgorithm::HmacSha2_256]);
        assert_eq!(p.to_keywords(), "aes128gcm16-prfsha256-ecp256");
    }

    #[test]
    fn parse_errors() {
        for bad in [
            "",
            "aes128-sha256",
            "aes128-x25519",
            "aes128gcm16-x25519",
            "foo-sha256-x25519",
            "aes128-aes128gcm16-sha256-x25519",
            "aes128-sha256-modp1024",
            "aes128-sha256-x25519-esn",
            "aes999-sha256-x25519",
        ] {
            assert!(Proposal::parse_list(Protocol::Ike, bad).is_err(), "{bad}");
        }
        assert!(Proposal::parse(Protocol::Esp, "aes128-prfsha256").is_err());
        assert!(Proposal::parse(Protocol::Esp, "aes128").is_err());
    }

    #[test]
    fn defaults_parse() {
        assert_eq!(Proposal::default_ike().len(), 2);
        assert_eq!(Proposal::default_esp().len(), 2);
    }

    fn roundtrip(list: &[Proposal], with_dh: bool) -> Vec<Offered> {
        let sa = sa_payload(list, &[], with_dh);
        let msg = Message {
            header: Default::default(),
            payloads: vec![Payload::new(33, PayloadBody::Sa(sa))],
            trailing: Default::default(),
        };
        let mut bytes = msg.emit();
        bytes[17] = 0x20;
        let parsed = Message::parse(&bytes).unwrap();
        match &parsed.payloads[0].body {
            PayloadBody::Sa(sa) => offered(sa),
            _ => unreachable!(),
        }
    }

    #[test]
    fn wire_roundtrip_and_selection() {
        let ours = Proposal::parse_list(
            Protocol::Ike,
            "aes256gcm16-prfsha384-ecp384,aes128-sha256-x25519-ecp256",
        )
        .unwrap();
        let theirs = Proposal::parse_list(
            Protocol::Ike,
            "aes128-aes256-sha1-sha256-ecp256-x25519,chacha20poly1305-prfsha256-x25519",
        )
        .unwrap();
        let off = roundtrip(&theirs, true);
        assert_eq!(off.len(), 2);
        assert_eq!(off[0].proposal, theirs[0]);
        let (c, t) = select(&ours, &off, false, None).unwrap();
        assert_eq!(t.number, 1);
        assert_eq!(c.encr, EncrAlgorithm::AesCbc(AesKeySize::Aes128));
        assert_eq!(c.integ, IntegAlgorithm::HmacSha2_256_128);
        assert_eq!(c.prf, Some(PrfAlgorithm::HmacSha2_256));
        // own order: x25519 before ecp256
        assert_eq!(c.dh, Some(DhGroup::Curve25519));
        // KE payload preference
        let (c2, _) = select(&ours, &off, false, Some(DhGroup::Ecp256)).unwrap();
        assert_eq!(c2.dh, Some(DhGroup::Ecp256));
        assert_eq!(
            c.to_string(),
            "IKE:AES_CBC_128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/CURVE_25519"
        );
        // the chosen proposal survives the wire and is acceptable to the initiator
        let back = roundtrip(&[c.as_proposal()], true);
        assert_eq!(back[0].as_chosen(), Some(c));
        assert!(acceptable(&theirs, &c, false));
        assert!(!acceptable(&ours[..1], &c, false));
        // no match
        let other = Proposal::parse_list(Protocol::Ike, "aes192-sha512-modp4096").unwrap();
        assert!(select(&other, &off, false, None).is_none());
    }

    #[test]
    fn esp_selection() {
        let ours = Proposal::parse_list(Protocol::Esp, "aes128gcm16-x25519,aes128-sha256").unwrap();
        let theirs = Proposal::parse_list(Protocol::Esp, "aes128-sha256-sha1").unwrap();
        let off = roundtrip(&theirs, false);
        let (c, _) = select(&ours, &off, true, None).unwrap();
        assert_eq!(c.esn, Some(false));
        assert_eq!(c.dh, None);
        assert_eq!(
            c.to_string(),
            "ESP:AES_CBC_128/HMAC_SHA2_256_128/NO_EXT_SEQ"
        );
        // PFS group left out of IKE_AUTH's SA payload
        let w = ours[0].to_wire(1, &[1, 2, 3, 4], false);
        assert!(w.transforms.iter().all(|t| t.transform_type != tt::KE));
        // unknown transform ID only: no match
        let mut w = theirs[0].to_wire(1, &[1, 2, 3, 4], false);
        for t in &mut w.transforms {
            if t.transform_type == tt::ENCR {
                t.transform_id = 999;
            }
        }
        let o = Offered::from_wire(&w).unwrap();
        assert!(select(&ours, &[o], true, None).is_none());
    }
}
