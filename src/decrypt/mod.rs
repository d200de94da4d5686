//! Decryption of captured IKE messages: SK payloads, SKF fragments and their reassembly.
//!
//! [`Decryptor`] owns a [`KeyStore`] and a [`FragmentReassembly`]. For every message that
//! carries an SK (46) or SKF (53) payload, [`Decryptor::open`] looks up the IKE SA's keys by
//! SPI pair (a `HashMap` lookup), checks integrity, decrypts, and for fragments feeds the
//! reassembly buffer. The result says `ok`, `bad` or `no-keys` ([`IntegrityStatus`]).
//!
//! Key sets without SPIs (strongSwan logs of rekeyed IKE SAs, [`KeyStore::unbound`]) are
//! matched to an SA the first time an SK/SKF payload of an unknown SPI pair is seen: each
//! candidate is tried, and the first whose integrity check succeeds is bound to the pair
//! ([`KeyStore::bind`]). A pair that no candidate fits is remembered and not tried again.
//!
//! [`Decryptor::prepare`] does only the part that needs the decryptor's state (choosing the
//! keys, fragments): a plain SK payload with its keys chosen comes back as an [`SkJob`], which
//! decrypts it on any thread (`mobikectl decode` runs them on its rendering thread).
//!
//! A failed integrity check never hides anything: the caller still shows the outer message
//! with `integrity: bad`. A fragment that fails its check is not used for reassembly (RFC 7383
//! §2.6.1: each fragment is verified on its own).
pub mod fragments;

// SPIs come from the capture (any values): foldhash is fast and randomly seeded.
use foldhash::{HashMap, HashSet};
use std::sync::Arc;

use crate::capture::Severity;
use crate::crypto::{decrypt_sk_as, CryptoError, Integrity, SkKeys, SkOpener};
use crate::keys::KeyStore;
use crate::wire::{Message, PayloadBody};

pub use fragments::{FragmentKey, FragmentLimits, FragmentReassembly, Reassembled};

/// A problem found while decrypting or reassembling, for the caller to report like a capture
/// diagnostic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub frame: u64,
    pub severity: Severity,
    pub message: String,
}

/// Outcome of the integrity check of one SK/SKF payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntegrityStatus {
    /// ICV / AEAD tag verified: the plaintext is what the sender encrypted.
    Ok,
    /// Keys known but the check failed (wrong keys, corrupted message), or the payload could
    /// not be processed at all (see [`Opened::error`]).
    Bad,
    /// No keys for this IKE SA.
    NoKeys,
}

impl IntegrityStatus {
    /// `ok`, `bad`, `no-keys`: the JSON value of the `integrity` key.
    pub fn as_str(self) -> &'static str {
        match self {
            IntegrityStatus::Ok => "ok",
            IntegrityStatus::Bad => "bad",
            IntegrityStatus::NoKeys => "no-keys",
        }
    }
}

/// What decryption made of a message's SK/SKF payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// Index of the SK/SKF payload in `Message::payloads`.
    pub payload_index: usize,
    pub integrity: IntegrityStatus,
    /// Why the payload could not be decrypted at all (truncated, bad length, bad padding).
    pub error: Option<String>,
    /// SK: the inner payload chain (padding removed) when integrity is ok. SKF: empty (the
    /// pieces go to reassembly).
    pub plaintext: Vec<u8>,
    /// SK: type of the first inner payload.
    pub first_payload: u8,
    /// SKF: the whole message when this fragment completed it.
    pub reassembled: Option<Reassembled>,
}

/// The SK/SKF payload to open: the whole message, the payload's offset, SK or SKF, direction.
struct Target<'d> {
    data: &'d [u8],
    offset: usize,
    fragment: bool,
    from_initiator: bool,
}

/// SK/SKF decryption with fragment reassembly (see the module documentation).
pub struct Decryptor {
    keys: KeyStore,
    /// SPI pairs for which no unbound candidate verified.
    tried: HashSet<(u64, u64)>,
    fragments: FragmentReassembly,
    diagnostics: Vec<Diagnostic>,
    trial_bindings: u64,
    /// Prepared keys per SPI pair, parallel to `keys.find_all(pair)`: the expanded cipher
    /// and MAC keys of each set, built on first use (see [`OPENER_CACHE_PAIRS`]).
    openers: HashMap<(u64, u64), Vec<Arc<OpenerPair>>>,
}

/// Both directions of one key set, prepared: `[from initiator, from responder]`. A set whose
/// keys do not fit its algorithms keeps the error, which every payload then reports.
type OpenerPair = [Result<SkOpener, CryptoError>; 2];

/// A plain SK payload whose keys are chosen: decrypting it needs nothing more from the
/// [`Decryptor`], so it can be done later, on any thread.
#[derive(Debug, Clone)]
pub struct SkJob {
    payload_index: usize,
    offset: usize,
    opener: Arc<OpenerPair>,
    /// 0: from the initiator, 1: from the responder.
    direction: usize,
}

impl SkJob {
    /// Decrypts the payload in `data`, the message [`Decryptor::prepare`] was given.
    pub fn run(&self, data: &[u8]) -> Opened {
        self.run_as(data, false)
    }

    fn run_fragment(&self, data: &[u8]) -> Opened {
        self.run_as(data, true)
    }

    fn run_as(&self, data: &[u8], fragment: bool) -> Opened {
        let result = self.opener[self.direction]
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|o| o.open(data, self.offset, fragment));
        let mut opened = Opened::no_keys(self.payload_index);
        opened.set(result);
        opened
    }
}

/// What [`Decryptor::prepare`] made of a message: done, or an SK payload left to decrypt.
#[derive(Debug)]
pub enum Opening {
    /// Nothing left to do (no keys, fragments, keys chosen by trial decryption).
    Done(Opened),
    /// Keys chosen; [`SkJob::run`] decrypts.
    Job(SkJob),
}

impl Opening {
    /// The result, decrypting now if that was left to do (`data`: the message).
    pub fn finish(self, data: &[u8]) -> Opened {
        match self {
            Opening::Done(o) => o,
            Opening::Job(job) => job.run(data),
        }
    }
}

impl Opened {
    fn no_keys(payload_index: usize) -> Self {
        Opened {
            payload_index,
            integrity: IntegrityStatus::NoKeys,
            error: None,
            plaintext: Vec::new(),
            first_payload: 0,
            reassembled: None,
        }
    }

    /// Takes in what the opener found.
    fn set(&mut self, result: Result<crate::crypto::Decrypted, CryptoError>) {
        match result {
            Ok(d) => {
                self.first_payload = d.next_payload;
                if d.integrity == Integrity::Ok {
                    self.integrity = IntegrityStatus::Ok;
                    self.plaintext = d.plaintext;
                } else {
                    self.integrity = IntegrityStatus::Bad;
                }
            }
            Err(e) => {
                self.integrity = IntegrityStatus::Bad;
                self.error = Some(e.to_string());
            }
        }
    }
}

/// Upper bound of the prepared-key cache, in SPI pairs (about 2 KB each); when full it is
/// emptied and refilled on demand, so memory stays bounded on captures of any size.
const OPENER_CACHE_PAIRS: usize = 4096;

fn prepare(keys: &SkKeys) -> OpenerPair {
    [SkOpener::new(keys, true), SkOpener::new(keys, false)]
}

impl Decryptor {
    pub fn new(keys: KeyStore, limits: FragmentLimits) -> Self {
        Decryptor {
            keys,
            tried: HashSet::default(),
            fragments: FragmentReassembly::new(limits),
            diagnostics: Vec::new(),
            trial_bindings: 0,
            openers: HashMap::default(),
        }
    }

    /// The key store (with the bindings made so far).
    pub fn keys(&self) -> &KeyStore {
        &self.keys
    }

    /// Key sets bound to an SA by trial decryption so far.
    pub fn trial_bindings(&self) -> u64 {
        self.trial_bindings
    }

    /// Decrypts the SK or SKF payload of `msg` (parsed from `data`, the whole message);
    /// `None` when the message has none. `frame` and `time_us` identify fragments and drive
    /// the reassembly timeout.
    pub fn open(
        &mut self,
        msg: &Message<'_>,
        data: &[u8],
        frame: u64,
        time_us: i64,
    ) -> Option<Opened> {
        self.prepare(msg, data, frame, time_us)
            .map(|o| o.finish(data))
    }

    /// [`Decryptor::open`], except that a plain SK payload whose keys are chosen is left as
    /// an [`SkJob`] (the same result, computed by [`Opening::finish`]).
    pub fn prepare(
        &mut self,
        msg: &Message<'_>,
        data: &[u8],
        frame: u64,
        time_us: i64,
    ) -> Option<Opening> {
        let (index, payload) = msg
            .payloads
            .iter()
            .enumerate()
            .find(|(_, p)| matches!(p.body, PayloadBody::Sk(_) | PayloadBody::Skf(_)))?;
        let h = &msg.header;
        let from_initiator = h.is_initiator();
        let fragment = match &payload.body {
            PayloadBody::Skf(f) => Some((f.fragment_number, f.total_fragments, f.next_payload)),
            _ => None,
        };
        let target = Target {
            data,
            offset: payload.offset,
            fragment: fragment.is_some(),
            from_initiator,
        };
        let chosen = self.keys_for(h.spi_i, h.spi_r, &target, frame);
        let mut opened = Opened::no_keys(index);
        if let Some(chosen) = chosen {
            let pair = self.openers(h.spi_i, h.spi_r).get(chosen).map(Arc::clone);
            if let Some(pair) = pair {
                let job = SkJob {
                    payload_index: index,
                    offset: payload.offset,
                    opener: pair,
                    direction: usize::from(!from_initiator),
                };
                if fragment.is_none() {
                    self.fragments.expire(time_us, &mut self.diagnostics);
                    return Some(Opening::Job(job));
                }
                opened = job.run_fragment(data);
            }
        }
        if let Some((number, total, next_payload)) = fragment {
            let key = FragmentKey {
                spi_i: h.spi_i,
                spi_r: h.spi_r,
                message_id: h.message_id,
                initiator: h.is_initiator(),
                response: h.is_response(),
            };
            let piece = match opened.integrity {
                IntegrityStatus::Ok => Some(Some(std::mem::take(&mut opened.plaintext))),
                IntegrityStatus::NoKeys => Some(None),
                IntegrityStatus::Bad => None,
            };
            if let Some(data) = piece {
                opened.reassembled = self.fragments.add(
                    key,
                    fragments::Fragment {
                        frame,
                        time_us,
                        number,
                        total,
                        next_payload,
                        data,
                    },
                    &mut self.diagnostics,
                );
            } else {
                self.fragments.expire(time_us, &mut self.diagnostics);
            }
        } else {
            self.fragments.expire(time_us, &mut self.diagnostics);
        }
        Some(Opening::Done(opened))
    }

    /// The prepared keys of every set bound to an SPI pair, in `find_all` order.
    fn openers(&mut self, spi_i: u64, spi_r: u64) -> &[Arc<OpenerPair>] {
        let sets = self.keys.find_all(spi_i, spi_r);
        let fresh = self
            .openers
            .get(&(spi_i, spi_r))
            .is_some_and(|v| v.len() == sets.len());
        if !fresh {
            if self.openers.len() >= OPENER_CACHE_PAIRS {
                self.openers.clear();
            }
            let prepared = sets.iter().map(|s| Arc::new(prepare(&s.keys))).collect();
            self.openers.insert((spi_i, spi_r), prepared);
        }
        self.openers.get(&(spi_i, spi_r)).map_or(&[], Vec::as_slice)
    }

    /// The keys for an SA, as an index into `find_all`: the bound set (trying every set
    /// offered for the pair if there are several), else an unbound candidate that verifies
    /// this payload (then bound), else `None`.
    fn keys_for(
        &mut self,
        spi_i: u64,
        spi_r: u64,
        target: &Target<'_>,
        frame: u64,
    ) -> Option<usize> {
        let offered = self.keys.find_all(spi_i, spi_r).len();
        if offered > 0 {
            if offered == 1 {
                return Some(0);
            }
            let direction = usize::from(!target.from_initiator);
            let chosen = self
                .openers(spi_i, spi_r)
                .iter()
                .position(|pair| {
                    matches!(
                        pair[direction]
                            .as_ref()
                            .map(|o| o.open(target.data, target.offset, target.fragment)),
                        Ok(Ok(d)) if d.integrity == Integrity::Ok
                    )
                })
                .unwrap_or(0);
            return Some(chosen);
        }
        if self.keys.unbound().is_empty() || self.tried.contains(&(spi_i, spi_r)) {
            return None;
        }
        let verifies = |k: &SkKeys| {
            matches!(
                decrypt_sk_as(k, target.from_initiator, target.data, target.offset, target.fragment),
                Ok(d) if d.integrity == Integrity::Ok
            )
        };
        let found = self.keys.unbound().iter().position(|s| verifies(&s.keys));
        match found {
            Some(i) => {
                self.trial_bindings += 1;
                let bound = self.keys.bind(spi_i, spi_r, i)?;
                self.diagnostics.push(Diagnostic {
                    frame,
                    severity: Severity::Info,
                    message: format!(
                        "keys from {}:{} bound to IKE SA {spi_i:016x}/{spi_r:016x} by trial decryption",
                        bound.origin.file, bound.origin.line
                    ),
                });
                Some(self.keys.find_all(spi_i, spi_r).len() - 1)
            }
            None => {
                self.tried.insert((spi_i, spi_r));
                None
            }
        }
    }

    /// Takes the diagnostics collected so far.
    pub fn drain_diagnostics(&mut self) -> std::vec::Drain<'_, Diagnostic> {
        self.diagnostics.drain(..)
    }

    /// End of a capture: reports fragmented messages left incomplete and empties the buffer
    /// (frame numbers restart with the next file).
    pub fn finish_capture(&mut self) {
        self.fragments.finish(&mut self.diagnostics);
    }
}
