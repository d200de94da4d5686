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
use crate::keys::{KeySet, KeyStore};
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
    /// and MAC keys of each set, built on first use.
    openers: OpenerCache,
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

/// SPI pairs per generation of the [`OpenerCache`].
const OPENER_GENERATION: usize = 128;

/// The prepared keys of the SAs seen last, about 2 KB per SPI pair: two generations of at most
/// [`OPENER_GENERATION`] pairs each. A pair found in the older generation moves to the newer;
/// when the newer is full it becomes the older and the older is dropped. So memory stays small
/// and bounded on captures of any size (the memory of dropped keys is reused for the next SAs'
/// instead of touching new pages, which costs more than building keys again), while the SAs
/// active together stay prepared.
#[derive(Default)]
struct OpenerCache {
    newer: HashMap<(u64, u64), Vec<Arc<OpenerPair>>>,
    older: HashMap<(u64, u64), Vec<Arc<OpenerPair>>>,
}

impl OpenerCache {
    /// The prepared keys of `sets` (the sets bound to `pair`), built if not cached or if the
    /// sets changed since (a set bound by trial decryption).
    fn get(&mut self, pair: (u64, u64), sets: &[KeySet]) -> &[Arc<OpenerPair>] {
        let fresh = |v: &Vec<Arc<OpenerPair>>| v.len() == sets.len();
        if !self.newer.get(&pair).is_some_and(fresh) {
            let prepared = match self.older.remove(&pair) {
                Some(v) if fresh(&v) => v,
                _ => sets.iter().map(|s| Arc::new(prepare(&s.keys))).collect(),
            };
            if self.newer.len() >= OPENER_GENERATION && !self.newer.contains_key(&pair) {
                // The older generation's table is kept for the next newer one.
                std::mem::swap(&mut self.newer, &mut self.older);
                self.newer.clear();
            }
            self.newer.insert(pair, prepared);
        }
        self.newer.get(&pair).map_or(&[], Vec::as_slice)
    }
}

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
            openers: OpenerCache::default(),
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
        self.openers.get((spi_i, spi_r), sets)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{AesKeySize, EncrAlgorithm, IntegAlgorithm};
    use crate::keys::{Binding, KeyOrigin};

    fn set(n: u8) -> KeySet {
        let keys = SkKeys {
            encr: EncrAlgorithm::AesCbc(AesKeySize::Aes128),
            integ: IntegAlgorithm::HmacSha2_256_128,
            sk_ei: vec![n; 16],
            sk_er: vec![n ^ 0xff; 16],
            sk_ai: vec![n; 32],
            sk_ar: vec![n ^ 0xff; 32],
        };
        let origin = KeyOrigin {
            file: "test".into(),
            line: usize::from(n),
            binding: Binding::Explicit,
        };
        KeySet::new(keys, origin)
    }

    #[test]
    fn opener_cache_keeps_two_generations_and_moves_the_reused_forward() {
        let mut cache = OpenerCache::default();
        let sets: Vec<KeySet> = (0..3).map(set).collect();
        let first = Arc::clone(&cache.get((1, 1), &sets[..1])[0]);
        // A full generation later the first pair is in the older one: reused, not rebuilt.
        for i in 0..OPENER_GENERATION as u64 {
            cache.get((100 + i, 0), &sets[1..2]);
        }
        assert!(cache.older.contains_key(&(1, 1)));
        assert!(Arc::ptr_eq(&first, &cache.get((1, 1), &sets[..1])[0]));
        assert!(cache.newer.contains_key(&(1, 1)) && !cache.older.contains_key(&(1, 1)));
        // Many more SAs: memory stays bounded and pairs not seen for two generations go.
        for i in 0..(5 * OPENER_GENERATION) as u64 {
            cache.get((10_000 + i, 0), &sets[1..2]);
        }
        assert!(cache.newer.len() + cache.older.len() <= 2 * OPENER_GENERATION);
        assert!(!cache.newer.contains_key(&(1, 1)) && !cache.older.contains_key(&(1, 1)));
        let again = Arc::clone(&cache.get((1, 1), &sets[..1])[0]);
        assert!(!Arc::ptr_eq(&first, &again));
        // A set bound later (trial decryption) makes the cached list stale: rebuilt in order.
        let both = cache.get((1, 1), &sets[..2]).to_vec();
        assert_eq!(both.len(), 2);
        assert!(!Arc::ptr_eq(&both[0], &both[1]));
        assert!(Arc::ptr_eq(&both[1], &cache.get((1, 1), &sets[..2])[1]));
    }
}
