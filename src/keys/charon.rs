//! strongSwan charon logs as a key source.
//!
//! With `ike 4` (or higher) charon dumps the IKE SA keys after deriving them:
//!
//! ```text
//! Nov 23 10:11:28 09[IKE] SKEYSEED => 32 bytes @ 0x7fd4880108e0
//! Nov 23 10:11:28 09[IKE]    0: CA 56 F5 B4 97 FE A0 F2 38 F4 2C 23 A3 4B AA 97  .V......8.,#.K..
//! Nov 23 10:11:28 09[IKE] Sk_d secret => 32 bytes @ 0x7fd4880108e0
//! ...                     Sk_ai, Sk_ar, Sk_ei, Sk_er, Sk_pi, Sk_pr
//! ```
//!
//! Lines may carry any prefix before the `NN[IKE]` thread/group marker (file
//! logger time stamps, `charon[123]: ` from syslog or the journal) and an
//! optional `<conn|N> ` IKE SA name after it. Lines without a marker are read
//! as one stream.
//!
//! **Which IKE SA.** The dumps carry no SPIs, so a key set is tied to its SPI
//! pair by, in order of preference:
//!
//! 1. the AUTH octets: charon logs `SK_p => ...` followed by
//!    `octets = message + nonce + prf(Sk_px, IDx') => ...`, whose first 16
//!    bytes are the SPIs of the IKE_SA_INIT message being signed; the
//!    responder's message carries both SPIs, and its SK_p is the set's SK_pr
//!    (or SK_pi). This links sets across threads.
//! 2. the NAT-D input `natd_chunk => 22 bytes` (SPIi | SPIr | IPv4 address |
//!    port; 34 bytes with IPv6) logged by the same thread in the same job
//!    (since the last `received packet`, `parsed ...` or `generating ...`
//!    line of that thread) with a non-zero SPIr.
//!
//! Key sets bound by neither (rekeyed IKE SAs, whose keys are derived in a
//! CREATE_CHILD_SA exchange) become [`KeyStore::unbound`](super::KeyStore::unbound)
//! candidates.
//!
//! **Which algorithms.** From `selected proposal: IKE:AES_CBC_128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/CURVE_25519`:
//! the proposal logged by the thread that logged the set's SPIs in the same
//! job, else the one logged by the deriving thread in the same job, else the
//! latest logged anywhere before, else any in the log; in each case only a
//! proposal whose key lengths fit the dumped keys is taken.

use std::collections::HashMap;

use zeroize::Zeroize;

use crate::crypto::{EncrAlgorithm, IntegAlgorithm, PrfAlgorithm, SkKeys};

use super::{Binding, KeyFileError, KeyFileErrorKind, KeyOrigin, KeySet};

/// IKE transforms from a `selected proposal: IKE:...` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proposal {
    pub encr: EncrAlgorithm,
    pub integ: IntegAlgorithm,
    pub prf: PrfAlgorithm,
}

impl Proposal {
    /// Parses the part after `IKE:`; unknown tokens (DH groups, ...) are
    /// skipped. `None` without an encryption algorithm and a PRF.
    pub fn parse(s: &str) -> Option<Proposal> {
        let mut encr = None;
        let mut integ = None;
        let mut prf = None;
        for tok in s.trim().split('/') {
            let tok = tok.trim();
            if let Some(p) = PrfAlgorithm::from_name(tok) {
                prf = prf.or(Some(p));
            } else if let Some(i) = IntegAlgorithm::from_strongswan_name(tok) {
                integ = integ.or(Some(i));
            } else if let Some(e) = EncrAlgorithm::from_strongswan_name(tok) {
                encr = encr.or(Some(e));
            }
        }
        Some(Proposal {
            encr: encr?,
            integ: integ.unwrap_or(IntegAlgorithm::None),
            prf: prf?,
        })
    }

    fn fits(&self, b: &Builder) -> bool {
        let e = self.encr.key_len();
        let a = if self.encr.is_aead() {
            if self.integ != IntegAlgorithm::None {
                return false;
            }
            0
        } else {
            self.integ.key_len()
        };
        let len = |k: &Option<Vec<u8>>| k.as_ref().map_or(0, Vec::len);
        let opt_ok = |k: &Option<Vec<u8>>, n: usize| k.as_ref().is_none_or(|v| v.len() == n);
        len(&b.sk_ei) == e
            && len(&b.sk_er) == e
            && len(&b.sk_ai) == a
            && len(&b.sk_ar) == a
            && opt_ok(&b.sk_d, self.prf.key_len())
            && opt_ok(&b.sk_pi, self.prf.key_len())
            && opt_ok(&b.sk_pr, self.prf.key_len())
    }
}

/// Result of reading a log: key sets (with SPIs when bound) and warnings.
#[derive(Debug, Default)]
pub struct ParsedLog {
    pub sets: Vec<(Option<(u64, u64)>, KeySet)>,
    /// (line, message)
    pub warnings: Vec<(usize, String)>,
}

/// Whether a line carries charon's `NN[GRP] ` thread/group marker.
pub fn looks_like_charon_line(line: &str) -> bool {
    find_marker(line).is_some()
}

/// Finds `NN[GRP] ` and returns (thread, message after the marker).
fn find_marker(line: &str) -> Option<(&str, &str)> {
    let b = line.as_bytes();
    let mut from = 0;
    while let Some(rel) = line[from..].find('[') {
        let i = from + rel;
        from = i + 1;
        // digits before '['
        let mut s = i;
        while s > 0 && b[s - 1].is_ascii_digit() {
            s -= 1;
        }
        if s == i || (s > 0 && b[s - 1] != b' ') {
            continue;
        }
        // three upper-case letters and "]" after
        if i + 5 > b.len()
            || !b[i + 1..i + 4].iter().all(u8::is_ascii_uppercase)
            || b[i + 4] != b']'
        {
            continue;
        }
        let rest = &line[i + 5..];
        let msg = rest.strip_prefix(' ').unwrap_or(rest);
        return Some((&line[s..i], msg));
    }
    None
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DumpKind {
    Skeyseed,
    SkD,
    SkAi,
    SkAr,
    SkEi,
    SkEr,
    SkPi,
    SkPr,
    NatdChunk,
    SkP,
    AuthOctets,
}

impl DumpKind {
    fn from_name(name: &str) -> Option<DumpKind> {
        const NAMES: [(&str, DumpKind); 11] = [
            ("SKEYSEED", DumpKind::Skeyseed),
            ("Sk_d secret", DumpKind::SkD),
            ("Sk_ai secret", DumpKind::SkAi),
            ("Sk_ar secret", DumpKind::SkAr),
            ("Sk_ei secret", DumpKind::SkEi),
            ("Sk_er secret", DumpKind::SkEr),
            ("Sk_pi secret", DumpKind::SkPi),
            ("Sk_pr secret", DumpKind::SkPr),
            ("natd_chunk", DumpKind::NatdChunk),
            ("SK_p", DumpKind::SkP),
            (
                "octets = message + nonce + prf(Sk_px, IDx')",
                DumpKind::AuthOctets,
            ),
        ];
        let name = name.trim();
        NAMES.iter().find_map(|(n, k)| {
            let hit = name == *n
                || name
                    .strip_suffix(n)
                    .is_some_and(|p| p.ends_with(' ') || p.ends_with('>'));
            hit.then_some(*k)
        })
    }
}

struct Dump {
    kind: DumpKind,
    len: usize,
    data: Vec<u8>,
}

impl Drop for Dump {
    fn drop(&mut self) {
        self.data.zeroize();
    }
}

#[derive(Default)]
struct Builder {
    line: usize,
    sk_d: Option<Vec<u8>>,
    sk_ai: Option<Vec<u8>>,
    sk_ar: Option<Vec<u8>>,
    sk_ei: Option<Vec<u8>>,
    sk_er: Option<Vec<u8>>,
    sk_pi: Option<Vec<u8>>,
    sk_pr: Option<Vec<u8>>,
    /// Proposal logged by the same thread in the same job.
    job_proposal: Option<Proposal>,
    /// SPIs from natd_chunk in the same thread and job.
    job_natd: Option<(u64, u64)>,
}

impl Drop for Builder {
    fn drop(&mut self) {
        for v in [
            &mut self.sk_d,
            &mut self.sk_ai,
            &mut self.sk_ar,
            &mut self.sk_ei,
            &mut self.sk_er,
            &mut self.sk_pi,
            &mut self.sk_pr,
        ]
        .into_iter()
        .flatten()
        {
            v.zeroize();
        }
    }
}

#[derive(Default)]
struct ThreadState {
    dump: Option<Dump>,
    builder: Option<Builder>,
    job_proposal: Option<Proposal>,
    job_natd: Option<(u64, u64)>,
    last_skp: Option<Vec<u8>>,
}

impl ThreadState {
    fn new_job(&mut self) {
        self.job_proposal = None;
        self.job_natd = None;
        if let Some(mut k) = self.last_skp.take() {
            k.zeroize();
        }
    }
}

#[derive(Default)]
struct State {
    threads: HashMap<String, ThreadState>,
    finished: Vec<Builder>,
    /// (line, proposal) for every `selected proposal: IKE:` line.
    proposals: Vec<(usize, Proposal)>,
    /// Proposal seen in the same job as a natd_chunk with these SPIs.
    spi_proposals: HashMap<(u64, u64), Proposal>,
    /// (SK_p, SPIi, SPIr) from AUTH octets dumps.
    octets: Vec<(Vec<u8>, u64, u64)>,
    warnings: Vec<(usize, String)>,
}

impl Drop for State {
    fn drop(&mut self) {
        for (k, _, _) in self.octets.iter_mut() {
            k.zeroize();
        }
    }
}

/// Parses `"<name> => <n> bytes @ 0x..."`.
fn dump_header(msg: &str) -> Option<(&str, usize)> {
    let (name, rest) = msg.split_once(" => ")?;
    let n = rest.trim_start().split(' ').next()?.parse::<usize>().ok()?;
    rest.contains(" byte").then_some((name, n))
}

/// Parses a hex dump line `"   16: C1 7D ...  ascii"` continuing a dump that
/// has `have` bytes and expects `want` more; the offset must equal `have`.
fn dump_line(msg: &str, have: usize, want: usize) -> Option<Vec<u8>> {
    let prefix = format!("{have}: ");
    // With a marker the message starts with the offset; without one, find it.
    let start = if msg.trim_start().starts_with(&prefix) {
        msg.len() - msg.trim_start().len()
    } else {
        let pat = format!(" {prefix}");
        msg.find(&pat)? + 1
    };
    let body = &msg[start + prefix.len()..];
    let k = want.min(16);
    let mut out = Vec::with_capacity(k);
    for tok in body.split(' ').filter(|t| !t.is_empty()).take(k) {
        if tok.len() != 2 {
            return None;
        }
        out.push(u8::from_str_radix(tok, 16).ok()?);
    }
    (out.len() == k).then_some(out)
}

/// Lines that start or end a unit of work of a charon thread (a "job"):
/// packets received or sent, messages parsed or generated.
fn is_job_boundary(msg: &str) -> bool {
    let exchange = || msg.contains(" request ") || msg.contains(" response ");
    msg.contains("received packet: ")
        || msg.contains("sending packet: ")
        || (msg.contains("parsed ") && exchange())
        || (msg.contains("generating ") && exchange())
}

impl State {
    fn line(&mut self, lineno: usize, raw: &str) {
        let (thread, msg) = match find_marker(raw) {
            Some((t, m)) => (t.to_string(), m),
            None => (String::new(), raw),
        };
        // Strip an IKE SA name `<conn|N> ` (charon's ike_name option).
        let msg = match msg.strip_prefix('<').and_then(|m| m.split_once("> ")) {
            Some((_, rest)) => rest,
            None => msg,
        };
        let ts = self.threads.entry(thread.clone()).or_default();

        // Continuation of a pending dump?
        if let Some(d) = ts.dump.as_mut() {
            match dump_line(msg, d.data.len(), d.len - d.data.len()) {
                Some(mut bytes) => {
                    d.data.extend_from_slice(&bytes);
                    bytes.zeroize();
                    if d.data.len() == d.len {
                        if let Some(d) = ts.dump.take() {
                            self.complete(&thread, d);
                        }
                    }
                    return;
                }
                None => {
                    self.warnings.push((
                        lineno,
                        format!(
                            "hex dump of {:?} ended after {} of {} bytes",
                            d.kind,
                            d.data.len(),
                            d.len
                        ),
                    ));
                    ts.dump = None;
                }
            }
        }

        if is_job_boundary(msg) {
            ts.new_job();
            if let Some(b) = ts.builder.take() {
                self.finished.push(b);
            }
            return;
        }
        const PROPOSAL: &str = "selected proposal: IKE:";
        if let Some(i) = msg.find(PROPOSAL) {
            match Proposal::parse(&msg[i + PROPOSAL.len()..]) {
                Some(p) => {
                    ts.job_proposal = Some(p);
                    self.proposals.push((lineno, p));
                }
                None => self.warnings.push((
                    lineno,
                    "IKE proposal without a known encryption algorithm and PRF".to_string(),
                )),
            }
            return;
        }
        let Some((name, n)) = dump_header(msg) else {
            return;
        };
        let Some(kind) = DumpKind::from_name(name) else {
            return;
        };
        if kind == DumpKind::Skeyseed || (ts.builder.is_none() && is_key(kind)) {
            if let Some(b) = ts.builder.take() {
                self.finished.push(b);
            }
            let mut b = Builder::default();
            b.line = lineno;
            b.job_proposal = ts.job_proposal;
            // One NAT-D observation binds at most one key set.
            b.job_natd = ts.job_natd.take();
            ts.builder = Some(b);
        }
        let d = Dump {
            kind,
            len: n,
            data: Vec::with_capacity(n.min(4096)),
        };
        if n == 0 {
            self.complete(&thread, d);
        } else {
            ts.dump = Some(d);
        }
    }

    /// A dump of `thread` is complete.
    fn complete(&mut self, thread: &str, mut d: Dump) {
        let Some(ts) = self.threads.get_mut(thread) else {
            return;
        };
        let mut data = std::mem::take(&mut d.data);
        match d.kind {
            DumpKind::Skeyseed => {}
            DumpKind::SkD
            | DumpKind::SkAi
            | DumpKind::SkAr
            | DumpKind::SkEi
            | DumpKind::SkEr
            | DumpKind::SkPi
            | DumpKind::SkPr => {
                if let Some(b) = ts.builder.as_mut() {
                    let target = match d.kind {
                        DumpKind::SkD => &mut b.sk_d,
                        DumpKind::SkAi => &mut b.sk_ai,
                        DumpKind::SkAr => &mut b.sk_ar,
                        DumpKind::SkEi => &mut b.sk_ei,
                        DumpKind::SkEr => &mut b.sk_er,
                        DumpKind::SkPi => &mut b.sk_pi,
                        _ => &mut b.sk_pr,
                    };
                    if let Some(mut old) = target.replace(std::mem::take(&mut data)) {
                        old.zeroize();
                    }
                }
            }
            DumpKind::NatdChunk => {
                if let Some(spis) = spis_of(&data) {
                    ts.job_natd = Some(spis);
                    if let Some(p) = ts.job_proposal {
                        self.spi_proposals.insert(spis, p);
                    }
                }
            }
            DumpKind::SkP => {
                if let Some(mut old) = ts.last_skp.replace(std::mem::take(&mut data)) {
                    old.zeroize();
                }
            }
            DumpKind::AuthOctets => {
                if let (Some(skp), Some((i, r))) = (ts.last_skp.take(), spis_of(&data)) {
                    self.octets.push((skp, i, r));
                }
            }
        }
        data.zeroize();
    }

    /// Turns finished builders into key sets.
    fn finish(mut self, file: &str) -> ParsedLog {
        let mut threads: Vec<_> = self.threads.drain().collect();
        threads.sort_by(|a, b| a.0.cmp(&b.0));
        for (_, mut ts) in threads {
            if let Some(b) = ts.builder.take() {
                self.finished.push(b);
            }
        }
        self.finished.sort_by_key(|b| b.line);
        let mut out = ParsedLog {
            warnings: std::mem::take(&mut self.warnings),
            ..ParsedLog::default()
        };
        for b in std::mem::take(&mut self.finished) {
            let (Some(_), Some(_)) = (&b.sk_ei, &b.sk_er) else {
                out.warnings.push((
                    b.line,
                    "incomplete IKE key dump (no Sk_ei/Sk_er), skipped".to_string(),
                ));
                continue;
            };
            // Binding.
            let by_octets = self.octets.iter().find_map(|(skp, i, r)| {
                let hit = b.sk_pr.as_deref() == Some(skp.as_slice())
                    || b.sk_pi.as_deref() == Some(skp.as_slice());
                hit.then_some((*i, *r))
            });
            let (spis, binding) = match (by_octets, b.job_natd) {
                (Some(s), _) => (Some(s), Binding::AuthOctets),
                (None, Some(s)) => (Some(s), Binding::NatDetection),
                (None, None) => (None, Binding::Unbound),
            };
            // Algorithms.
            let mut candidates: Vec<Proposal> = Vec::new();
            if let Some(p) = spis.and_then(|s| self.spi_proposals.get(&s)) {
                candidates.push(*p);
            }
            candidates.extend(b.job_proposal);
            candidates.extend(
                self.proposals
                    .iter()
                    .rev()
                    .filter(|(l, _)| *l < b.line)
                    .map(|(_, p)| *p),
            );
            candidates.extend(self.proposals.iter().map(|(_, p)| *p));
            let Some(p) = candidates.into_iter().find(|p| p.fits(&b)) else {
                out.warnings.push((
                    b.line,
                    format!(
                    "no 'selected proposal: IKE:' line in this log fits the dumped key lengths \
                     (Sk_ei {} bytes, Sk_ai {} bytes), skipped",
                    b.sk_ei.as_ref().map_or(0, Vec::len),
                    b.sk_ai.as_ref().map_or(0, Vec::len),
                ),
                ));
                continue;
            };
            let get = |k: &Option<Vec<u8>>| k.clone().unwrap_or_default();
            let keys = match SkKeys::new(
                p.encr,
                p.integ,
                get(&b.sk_ei),
                get(&b.sk_er),
                get(&b.sk_ai),
                get(&b.sk_ar),
            ) {
                Ok(k) => k,
                Err(e) => {
                    out.warnings.push((b.line, format!("{e}, skipped")));
                    continue;
                }
            };
            let mut set = KeySet::new(
                keys,
                KeyOrigin {
                    file: file.to_string(),
                    line: b.line,
                    binding,
                },
            );
            set.prf = Some(p.prf);
            set.sk_d = get(&b.sk_d);
            set.sk_pi = get(&b.sk_pi);
            set.sk_pr = get(&b.sk_pr);
            out.sets.push((spis, set));
        }
        out
    }
}

/// SPIi | SPIr from the first 16 bytes of a natd_chunk or AUTH octets dump;
/// `None` when too short or SPIr is zero (IKE_SA_INIT request).
fn spis_of(data: &[u8]) -> Option<(u64, u64)> {
    if data.len() < 16 {
        return None;
    }
    let i = u64::from_be_bytes(data[0..8].try_into().ok()?);
    let r = u64::from_be_bytes(data[8..16].try_into().ok()?);
    (i != 0 && r != 0).then_some((i, r))
}

fn is_key(kind: DumpKind) -> bool {
    matches!(
        kind,
        DumpKind::SkD
            | DumpKind::SkAi
            | DumpKind::SkAr
            | DumpKind::SkEi
            | DumpKind::SkEr
            | DumpKind::SkPi
            | DumpKind::SkPr
    )
}

/// Reads a charon log.
pub(crate) fn parse(file: &str, text: &str) -> Result<ParsedLog, KeyFileError> {
    let mut st = State::default();
    for (idx, line) in text.lines().enumerate() {
        st.line(idx + 1, line);
    }
    let out = st.finish(file);
    if out.sets.is_empty() {
        let mut e = KeyFileError {
            file: file.to_string(),
            line: None,
            kind: KeyFileErrorKind::NoKeysInLog,
        };
        if let Some((line, w)) = out.warnings.first() {
            // Say why the keys that were there could not be used.
            e.line = Some(*line);
            e.kind = KeyFileErrorKind::Invalid(format!("no usable IKE SA keys: {w}"));
        }
        return Err(e);
    }
    Ok(out)
}
