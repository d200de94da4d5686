//! Key files → [`SkKeys`] per IKE SA.
//!
//! [`KeyStore::load`] reads one key file (call [`KeyStore::add_file`] or
//! [`KeyStore::merge`] to combine several) and detects its format from its
//! content:
//!
//! 1. **Wireshark's `ikev2_decryption_table`**, as Wireshark and strongSwan's
//!    `save-keys` plugin write it: one line per IKE SA,
//!    `SPIi,SPIr,SK_ei,SK_er,"ENCR NAME",SK_ai,SK_ar,"INTEG NAME"`, hex fields
//!    bare (quoted is accepted too), names quoted, `#` comments and blank
//!    lines. Every name Wireshark 4.0 accepts is accepted (see
//!    `EncrAlgorithm::wireshark_name`, `IntegAlgorithm::wireshark_name`),
//!    plus `CHACHA20-POLY1305 [RFC7634]`, `AES_XCBC_96 [RFC3566]` and
//!    `AES_CMAC_96 [RFC4494]` for transforms Wireshark 4.0 lacks, and
//!    strongSwan's proposal tokens (`AES_CBC_128`, `HMAC_SHA2_256_128`, ...).
//! 2. **strongSwan charon logs** at `ike 4` or higher (file logger, syslog or
//!    journal prefixes): see [`charon`].
//! 3. **mobikectl's own key log**: see [`keylog`].
//!
//! Errors name the file and line: `keys.txt:3: SK_ei has 15 bytes,
//! AES-CBC-128 needs 16`. No input makes the parsers panic.

pub mod charon;
pub mod keylog;
mod table;

#[cfg(test)]
mod tests;

// SPIs come from the capture (any values): foldhash is fast and randomly seeded.
use foldhash::HashMap;
use std::fmt;
use std::path::Path;

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::crypto::{PrfAlgorithm, SkKeys};

pub use keylog::{format_keylog_line, write_keylog_header, write_keylog_record, KEYLOG_HEADER};

/// How a key set got tied to its IKE SA's SPIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    /// The key file names the SPIs (Wireshark table, mobikectl key log).
    Explicit,
    /// strongSwan log: the AUTH payload's signed octets (whose first bytes
    /// are the IKE_SA_INIT response's header with both SPIs) were logged with
    /// an SK_p equal to this set's SK_pi or SK_pr.
    AuthOctets,
    /// strongSwan log: the NAT-D hash input (`natd_chunk`, SPIi | SPIr |
    /// address | port) logged by the same thread in the same job, just before
    /// the keys were derived.
    NatDetection,
    /// Bound by the caller with [`KeyStore::bind`] (trial decryption).
    Trial,
    /// Not bound yet (a candidate in [`KeyStore::unbound`]).
    Unbound,
}

/// Where a key set came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyOrigin {
    /// The file name as given to [`KeyStore::load`].
    pub file: String,
    /// 1-based line (for logs: the `SKEYSEED` line).
    pub line: usize,
    pub binding: Binding,
}

/// One IKE SA's keys as read from a key file: the SK payload keys plus
/// whatever else the file had (empty vectors when unknown). Zeroized on drop;
/// `Debug` shows no key material.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct KeySet {
    pub keys: SkKeys,
    #[zeroize(skip)]
    pub prf: Option<PrfAlgorithm>,
    pub sk_d: Vec<u8>,
    pub sk_pi: Vec<u8>,
    pub sk_pr: Vec<u8>,
    pub ni: Vec<u8>,
    pub nr: Vec<u8>,
    #[zeroize(skip)]
    pub origin: KeyOrigin,
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySet")
            .field("keys", &self.keys)
            .field("prf", &self.prf)
            .field("sk_d_len", &self.sk_d.len())
            .field("sk_pi_len", &self.sk_pi.len())
            .field("sk_pr_len", &self.sk_pr.len())
            .field("ni_len", &self.ni.len())
            .field("nr_len", &self.nr.len())
            .field("origin", &self.origin)
            .finish()
    }
}

impl KeySet {
    /// A key set with only SK payload keys.
    pub fn new(keys: SkKeys, origin: KeyOrigin) -> Self {
        KeySet {
            keys,
            prf: None,
            sk_d: Vec::new(),
            sk_pi: Vec::new(),
            sk_pr: Vec::new(),
            ni: Vec::new(),
            nr: Vec::new(),
            origin,
        }
    }

    /// Fills fields this set lacks (SK_d, PRF, ...) from another set with the
    /// same SK keys.
    fn fill_from(&mut self, other: &KeySet) {
        fn fill(dst: &mut Vec<u8>, src: &[u8]) {
            if dst.is_empty() && !src.is_empty() {
                dst.extend_from_slice(src);
            }
        }
        fill(&mut self.sk_d, &other.sk_d);
        fill(&mut self.sk_pi, &other.sk_pi);
        fill(&mut self.sk_pr, &other.sk_pr);
        fill(&mut self.ni, &other.ni);
        fill(&mut self.nr, &other.nr);
        if self.prf.is_none() {
            self.prf = other.prf;
        }
    }

    /// Same key material (ignores origin).
    pub fn same_keys(&self, other: &KeySet) -> bool {
        self.keys == other.keys
            && (self.sk_d.is_empty() || other.sk_d.is_empty() || self.sk_d == other.sk_d)
    }
}

/// Parses a table into `store`; a large one in two halves at once (a table has one SA a
/// line, and reading keys is the part of `decode` that nothing else runs beside). The result
/// is the same as reading it line by line: the first half's records, then the second's, and
/// the first error in file order.
fn parse_table_in_two(name: &str, text: &str, store: &mut KeyStore) -> Result<usize, KeyFileError> {
    const TWO_HALVES_FROM: usize = 64 * 1024;
    // Split after a newline (an ASCII byte, so a character boundary whatever the text).
    let middle = text.len() / 2;
    let split = (text.len() >= TWO_HALVES_FROM)
        .then(|| text.as_bytes()[middle..].iter().position(|&b| b == b'\n'))
        .flatten()
        .map(|at| middle + at + 1);
    let Some(split) = split else {
        store
            .bound
            .reserve(text.bytes().filter(|&b| b == b'\n').count());
        return table::parse(name, text, 1, |i, r, set| store.insert(i, r, set));
    };
    let (first, second) = text.split_at(split);
    let second_line = 1 + first.bytes().filter(|&b| b == b'\n').count();
    let (first_result, second_result) = std::thread::scope(|scope| {
        let other = scope.spawn(|| {
            let mut half = KeyStore::new();
            let n = table::parse(name, second, second_line, |i, r, set| {
                half.insert(i, r, set)
            });
            n.map(|n| (n, half))
        });
        store.bound.reserve(second_line);
        let n = table::parse(name, first, 1, |i, r, set| store.insert(i, r, set));
        (n, other.join())
    });
    let first_count = first_result?;
    let (second_count, half) = match second_result {
        Ok(r) => r?,
        Err(panic) => std::panic::resume_unwind(panic),
    };
    store.merge(half);
    Ok(first_count + second_count)
}

/// Detected key file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFileFormat {
    WiresharkTable,
    CharonLog,
    MobikectlKeylog,
}

impl KeyFileFormat {
    /// Guesses the format of a key file from its content.
    pub fn detect(text: &str) -> Option<KeyFileFormat> {
        let mut first_data: Option<&str> = None;
        for line in text.lines() {
            let t = line.trim();
            if t.starts_with(keylog::KEYLOG_MAGIC) {
                return Some(KeyFileFormat::MobikectlKeylog);
            }
            if charon::looks_like_charon_line(line)
                || t.contains("Sk_ei secret => ")
                || t.contains("selected proposal: IKE:")
            {
                return Some(KeyFileFormat::CharonLog);
            }
            if first_data.is_none() && !t.is_empty() && !t.starts_with('#') {
                // A table row (16 hex digits of SPI, then a comma) settles it: no need to read
                // the rest of a large table.
                if t.as_bytes()
                    .get(..17)
                    .is_some_and(|b| b[..16].iter().all(u8::is_ascii_hexdigit) && b[16] == b',')
                {
                    return Some(KeyFileFormat::WiresharkTable);
                }
                first_data = Some(t);
            }
        }
        match first_data {
            Some(l) if l.contains(',') => Some(KeyFileFormat::WiresharkTable),
            // Only comments, or nothing at all (Wireshark writes an empty table for no SAs): an
            // empty Wireshark table. The caller warns that it holds no keys.
            None => Some(KeyFileFormat::WiresharkTable),
            _ => None,
        }
    }
}

/// What is wrong in a key file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyFileErrorKind {
    /// The file could not be read.
    Io(String),
    /// Not a key file format mobikectl knows.
    UnknownFormat,
    /// A strongSwan log without any IKE SA keys in it.
    NoKeysInLog,
    /// A table line with the wrong number of comma-separated fields.
    FieldCount {
        expected: &'static str,
        found: usize,
    },
    /// Unterminated quote, bad escape, ...
    Syntax(String),
    /// A hex field that is not hex.
    BadHex {
        field: &'static str,
        detail: String,
    },
    /// An SPI that is not 8 bytes.
    SpiLength {
        field: &'static str,
        bytes: usize,
    },
    UnknownEncr(String),
    UnknownInteg(String),
    UnknownPrf(String),
    /// A key whose length does not fit its algorithm.
    KeyLength {
        field: &'static str,
        bytes: usize,
        algorithm: String,
        needs: usize,
    },
    /// The keys have the right lengths but do not form a usable set.
    Invalid(String),
}

/// A key file error: file, line (when it is about one line) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFileError {
    pub file: String,
    pub line: Option<usize>,
    pub kind: KeyFileErrorKind,
}

impl KeyFileError {
    pub(crate) fn at(file: &str, line: usize, kind: KeyFileErrorKind) -> Self {
        KeyFileError {
            file: file.to_string(),
            line: Some(line),
            kind,
        }
    }
}

impl fmt::Display for KeyFileErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyFileErrorKind::Io(e) => write!(f, "cannot read: {e}"),
            KeyFileErrorKind::UnknownFormat => f.write_str(
                "not a key file mobikectl knows (expected a Wireshark ikev2_decryption_table, \
                 a strongSwan charon log at 'ike 4', or a mobikectl key log)",
            ),
            KeyFileErrorKind::NoKeysInLog => f.write_str(
                "no IKE SA keys in this strongSwan log (charon must log 'ike' at level 4: \
                 lines like 'Sk_ei secret => 16 bytes')",
            ),
            KeyFileErrorKind::FieldCount { expected, found } => {
                write!(
                    f,
                    "expected {expected} comma-separated fields, found {found}"
                )
            }
            KeyFileErrorKind::Syntax(s) => f.write_str(s),
            KeyFileErrorKind::BadHex { field, detail } => write!(f, "{field} is not hex: {detail}"),
            KeyFileErrorKind::SpiLength { field, bytes } => {
                write!(f, "{field} has {bytes} bytes, an SPI has 8")
            }
            KeyFileErrorKind::UnknownEncr(n) => write!(f, "unknown encryption algorithm \"{n}\""),
            KeyFileErrorKind::UnknownInteg(n) => write!(f, "unknown integrity algorithm \"{n}\""),
            KeyFileErrorKind::UnknownPrf(n) => write!(f, "unknown PRF \"{n}\""),
            KeyFileErrorKind::KeyLength {
                field,
                bytes,
                algorithm,
                needs,
            } => write!(f, "{field} has {bytes} bytes, {algorithm} needs {needs}"),
            KeyFileErrorKind::Invalid(s) => f.write_str(s),
        }
    }
}

impl fmt::Display for KeyFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{}: {}", self.file, l, self.kind),
            None => write!(f, "{}: {}", self.file, self.kind),
        }
    }
}

impl std::error::Error for KeyFileError {}

/// Keys for IKE SAs, by SPI pair, plus key sets whose SPIs are unknown.
#[derive(Debug, Default, Clone)]
pub struct KeyStore {
    bound: HashMap<(u64, u64), Vec<KeySet>>,
    unbound: Vec<KeySet>,
    warnings: Vec<String>,
}

impl KeyStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads one key file, detecting its format.
    pub fn load(path: impl AsRef<Path>) -> Result<KeyStore, KeyFileError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| KeyFileError {
            file: name.clone(),
            line: None,
            kind: KeyFileErrorKind::Io(e.to_string()),
        })?;
        // Checked the fast way first: key files are nearly always valid UTF-8.
        let text = match std::str::from_utf8(&bytes) {
            Ok(t) => std::borrow::Cow::Borrowed(t),
            Err(_) => String::from_utf8_lossy(&bytes),
        };
        Self::parse(&name, &text)
    }

    /// Parses key file content; `name` is used in errors and origins.
    pub fn parse(name: &str, text: &str) -> Result<KeyStore, KeyFileError> {
        let mut store = KeyStore::new();
        match KeyFileFormat::detect(text) {
            Some(KeyFileFormat::WiresharkTable) | Some(KeyFileFormat::MobikectlKeylog) => {
                let count = parse_table_in_two(name, text, &mut store)?;
                if count == 0 {
                    store.warnings.push(format!("{name}: no keys in this file"));
                }
            }
            Some(KeyFileFormat::CharonLog) => {
                let parsed = charon::parse(name, text)?;
                for (spis, set) in parsed.sets {
                    match spis {
                        Some((i, r)) => store.insert(i, r, set),
                        None => store.insert_unbound(set),
                    }
                }
                store.warnings.extend(
                    parsed
                        .warnings
                        .into_iter()
                        .map(|(l, w)| format!("{name}:{l}: {w}")),
                );
            }
            None => {
                return Err(KeyFileError {
                    file: name.to_string(),
                    line: None,
                    kind: KeyFileErrorKind::UnknownFormat,
                })
            }
        }
        Ok(store)
    }

    /// Reads another key file into this store.
    pub fn add_file(&mut self, path: impl AsRef<Path>) -> Result<(), KeyFileError> {
        let other = KeyStore::load(path)?;
        if self.bound.is_empty() && self.unbound.is_empty() {
            // The first file: nothing to merge with (the same result, without a second pass).
            let warnings = std::mem::take(&mut self.warnings);
            *self = other;
            self.warnings.splice(0..0, warnings);
        } else {
            self.merge(other);
        }
        Ok(())
    }

    /// Merges another store into this one. Identical key sets are kept once.
    pub fn merge(&mut self, other: KeyStore) {
        let KeyStore {
            bound,
            unbound,
            warnings,
        } = other;
        self.bound.reserve(bound.len());
        for ((i, r), sets) in bound {
            for s in sets {
                self.insert(i, r, s);
            }
        }
        for s in unbound {
            self.insert_unbound(s);
        }
        self.warnings.extend(warnings);
    }

    /// Adds a key set for an SPI pair (kept once if already present; an
    /// unbound candidate with the same keys is dropped).
    pub fn insert(&mut self, spi_i: u64, spi_r: u64, set: KeySet) {
        self.unbound.retain(|u| !u.same_keys(&set));
        let v = self.sets_mut(spi_i, spi_r);
        match v.iter_mut().find(|s| s.same_keys(&set)) {
            Some(existing) => existing.fill_from(&set),
            None => v.push(set),
        }
    }

    /// The key sets bound to an SPI pair, an empty list added if there was none.
    fn sets_mut(&mut self, spi_i: u64, spi_r: u64) -> &mut Vec<KeySet> {
        // Nearly every SA has one key set: a default Vec would reserve room for four (about
        // 1 KB more per SA).
        self.bound
            .entry((spi_i, spi_r))
            .or_insert_with(|| Vec::with_capacity(1))
    }

    /// Adds a candidate without SPIs, unless the same keys are already known.
    pub fn insert_unbound(&mut self, set: KeySet) {
        let known = self.bound.values().flatten().any(|s| s.same_keys(&set))
            || self.unbound.iter().any(|s| s.same_keys(&set));
        if !known {
            self.unbound.push(set);
        }
    }

    /// The SK keys for an IKE SA (the first set if a file offered several).
    pub fn find(&self, spi_i: u64, spi_r: u64) -> Option<&SkKeys> {
        self.find_set(spi_i, spi_r).map(|s| &s.keys)
    }

    /// The full key set for an IKE SA.
    pub fn find_set(&self, spi_i: u64, spi_r: u64) -> Option<&KeySet> {
        self.find_all(spi_i, spi_r).first()
    }

    /// Every key set offered for an IKE SA (normally one).
    pub fn find_all(&self, spi_i: u64, spi_r: u64) -> &[KeySet] {
        self.bound
            .get(&(spi_i, spi_r))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Key sets whose SPIs are unknown (strongSwan logs: rekeyed IKE SAs), for
    /// the decoder to try by trial decryption with integrity verification.
    pub fn unbound(&self) -> &[KeySet] {
        &self.unbound
    }

    /// Binds the unbound candidate at `candidate` (an index into
    /// [`KeyStore::unbound`]) to an SPI pair, moving it out of the unbound
    /// list (later candidates shift down by one). Returns the bound set, or
    /// `None` if the index is out of range.
    pub fn bind(&mut self, spi_i: u64, spi_r: u64, candidate: usize) -> Option<&KeySet> {
        if candidate >= self.unbound.len() {
            return None;
        }
        let mut set = self.unbound.remove(candidate);
        set.origin.binding = Binding::Trial;
        let v = self.sets_mut(spi_i, spi_r);
        v.push(set);
        v.last()
    }

    /// All bound key sets, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, u64, &KeySet)> + '_ {
        self.bound
            .iter()
            .flat_map(|(&(i, r), v)| v.iter().map(move |s| (i, r, s)))
    }

    /// Number of IKE SAs with keys (not counting unbound candidates).
    pub fn len(&self) -> usize {
        self.bound.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bound.is_empty() && self.unbound.is_empty()
    }

    /// Non-fatal findings while reading logs (incomplete key dumps, key
    /// sets no logged proposal fits, ...), each prefixed `file:line:`.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
}
