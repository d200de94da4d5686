//! CHILD_SA key material from strongSwan charon logs at `chd 4`.
//!
//! When charon installs a CHILD_SA it logs (group `CHD`, level 4), in the thread that handles
//! the exchange:
//!
//! ```text
//! 15[CFG] <home|1> selected proposal: ESP:AES_CTR_192/HMAC_SHA2_384_192/MODP_3072/NO_EXT_SEQ
//! 15[CHD] <home|1> DH secret => 384 bytes @ 0x...        (PFS only: g^ir)
//! 15[CHD] <home|1> seed => 448 bytes @ 0x...             ([g^ir |] Ni | Nr)
//! 15[CHD] <home|1> encryption initiator key => 28 bytes @ 0x...
//! 15[CHD] <home|1> encryption responder key => 28 bytes @ 0x...
//! 15[CHD] <home|1> integrity initiator key => 48 bytes @ 0x...   (not with AEAD)
//! 15[CHD] <home|1> integrity responder key => 48 bytes @ 0x...
//! 15[IKE] <home|1> inbound CHILD_SA net{2} established with SPIs 61b202a0_i c3462069_o ...
//! ```
//!
//! each dump followed by hex lines `   0: 1C 99 BD ...`. "initiator" / "responder" refer to the
//! exchange that created the CHILD_SA: the initiator keys protect traffic to the SPI the
//! responder chose. `_i` / `_o` in the SPI line are the logging host's inbound / outbound SPI;
//! whether the host was the exchange's initiator follows from the last `parsed <EXCHANGE>
//! request|response` line of the same thread (a host that parsed a response initiated it).
//!
//! The DH secret and the seed give PFS CHILD_SAs their `g^ir` and tie it to the exchange by
//! its nonces: [`LoggedChildSa::dh_secret`] and [`LoggedChildSa::nonces`].

use std::collections::HashMap;
use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::crypto::{EncrAlgorithm, IntegAlgorithm};

/// One CHILD_SA's keys as charon logged them. Zeroized on drop; `Debug` shows no keys.
#[derive(Clone, Default, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct LoggedChildSa {
    /// 1-based line that completed the `encryption initiator key` dump.
    #[zeroize(skip)]
    pub line: usize,
    /// The logging host's inbound / outbound SPI (`established with SPIs X_i Y_o`).
    #[zeroize(skip)]
    pub inbound_spi: u32,
    #[zeroize(skip)]
    pub outbound_spi: u32,
    /// Whether the logging host initiated the exchange that created the CHILD_SA (`None` if
    /// the log does not say).
    #[zeroize(skip)]
    pub logger_initiated: Option<bool>,
    /// From `selected proposal: ESP:...` (`None` if missing or unknown).
    #[zeroize(skip)]
    pub encr: Option<EncrAlgorithm>,
    #[zeroize(skip)]
    pub integ: Option<IntegAlgorithm>,
    #[zeroize(skip)]
    pub esn: bool,
    pub encr_i: Vec<u8>,
    pub encr_r: Vec<u8>,
    pub integ_i: Vec<u8>,
    pub integ_r: Vec<u8>,
    /// `g^ir` of a PFS exchange (empty without PFS).
    pub dh_secret: Vec<u8>,
    /// The KEYMAT seed `[g^ir |] Ni | Nr` (empty if not logged).
    pub seed: Vec<u8>,
}

impl fmt::Debug for LoggedChildSa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoggedChildSa")
            .field("line", &self.line)
            .field("inbound_spi", &format_args!("{:08x}", self.inbound_spi))
            .field("outbound_spi", &format_args!("{:08x}", self.outbound_spi))
            .field("logger_initiated", &self.logger_initiated)
            .field("encr", &self.encr)
            .field("integ", &self.integ)
            .field("esn", &self.esn)
            .field("encr_i_len", &self.encr_i.len())
            .field("integ_i_len", &self.integ_i.len())
            .field("dh_secret_len", &self.dh_secret.len())
            .field("seed_len", &self.seed.len())
            .finish()
    }
}

impl LoggedChildSa {
    /// `Ni | Nr`: the seed without the DH secret in front.
    pub fn nonces(&self) -> &[u8] {
        self.seed
            .strip_prefix(self.dh_secret.as_slice())
            .unwrap_or(&[])
    }

    /// `(SPI the responder chose, SPI the initiator chose)`: the SPIs of the
    /// initiator→responder and responder→initiator SAs, when the role is known.
    pub fn spis_i_to_r(&self) -> Option<(u32, u32)> {
        match self.logger_initiated? {
            true => Some((self.outbound_spi, self.inbound_spi)),
            false => Some((self.inbound_spi, self.outbound_spi)),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Dh,
    Seed,
    EncrI,
    EncrR,
    IntegI,
    IntegR,
}

struct Dump {
    field: Field,
    len: usize,
    data: Vec<u8>,
}

impl Drop for Dump {
    fn drop(&mut self) {
        self.data.zeroize();
    }
}

#[derive(Default)]
struct Thread {
    initiated: Option<bool>,
    proposal: Option<(Option<EncrAlgorithm>, Option<IntegAlgorithm>, bool)>,
    dump: Option<Dump>,
    current: Option<LoggedChildSa>,
    /// DH secret / seed seen before the keys (they precede `encryption initiator key`).
    dh: Vec<u8>,
    seed: Vec<u8>,
}

impl Drop for Thread {
    fn drop(&mut self) {
        self.dh.zeroize();
        self.seed.zeroize();
    }
}

/// `NN[GRP] ` marker: (thread, message after it); a line without one is its own thread "".
fn split_marker(line: &str) -> (&str, &str) {
    let b = line.as_bytes();
    let mut i = 0;
    while let Some(rel) = line.get(i..).and_then(|s| s.find('[')) {
        let open = i + rel;
        i = open + 1;
        let mut s = open;
        while s > 0 && b[s - 1].is_ascii_digit() {
            s -= 1;
        }
        let ok = s < open
            && (s == 0 || b[s - 1] == b' ')
            && b.get(open + 1..open + 4)
                .is_some_and(|g| g.iter().all(u8::is_ascii_uppercase))
            && b.get(open + 4) == Some(&b']');
        if ok {
            let rest = line.get(open + 5..).unwrap_or("");
            let msg = rest.strip_prefix(' ').unwrap_or(rest);
            let msg = match msg.strip_prefix('<').and_then(|m| m.split_once("> ")) {
                Some((_, m)) => m,
                None => msg,
            };
            return (&line[s..open], msg);
        }
    }
    ("", line)
}

fn parse_proposal(p: &str) -> (Option<EncrAlgorithm>, Option<IntegAlgorithm>, bool) {
    let mut encr = None;
    let mut integ = None;
    let mut esn = false;
    for tok in p.split('/') {
        let tok = tok.trim();
        if tok == "EXT_SEQ" {
            esn = true;
        } else if let Some(e) = EncrAlgorithm::from_strongswan_name(tok) {
            encr.get_or_insert(e);
        } else if let Some(i) = IntegAlgorithm::from_strongswan_name(tok) {
            integ.get_or_insert(i);
        }
    }
    if encr.is_some_and(EncrAlgorithm::is_aead) {
        integ.get_or_insert(IntegAlgorithm::None);
    }
    (encr, integ, esn)
}

fn parse_spi(tok: &str, suffix: &str) -> Option<u32> {
    u32::from_str_radix(tok.strip_suffix(suffix)?, 16).ok()
}

/// Reads every CHILD_SA key dump from a charon log (any prefix before the `NN[GRP]` marker;
/// no input panics). CHILD_SAs whose SPI line is missing are dropped.
pub fn parse_child_keys(text: &str) -> Vec<LoggedChildSa> {
    let mut threads: HashMap<&str, Thread> = HashMap::new();
    let mut out = Vec::new();
    for (idx, line) in text.lines().enumerate() {
        let (tid, msg) = split_marker(line);
        let t = threads.entry(tid).or_default();
        if let Some(d) = t.dump.as_mut() {
            let body = msg.trim_start();
            let prefix = format!("{}: ", d.data.len());
            if let Some(hex) = body.strip_prefix(&prefix) {
                let want = (d.len - d.data.len()).min(16);
                let bytes: Vec<u8> = hex
                    .split(' ')
                    .filter(|s| !s.is_empty())
                    .take(want)
                    .filter_map(|s| (s.len() == 2).then(|| u8::from_str_radix(s, 16).ok())?)
                    .collect();
                if bytes.len() == want {
                    d.data.extend_from_slice(&bytes);
                    if d.data.len() == d.len {
                        if let Some(d) = t.dump.take() {
                            store(t, d, idx + 1);
                        }
                    }
                    continue;
                }
            }
            t.dump = None;
        }
        if let Some(rest) = msg.strip_prefix("parsed ") {
            if rest.contains(" response ") {
                t.initiated = Some(true);
            } else if rest.contains(" request ") {
                t.initiated = Some(false);
            }
        } else if let Some(p) = msg.strip_prefix("selected proposal: ESP:") {
            t.proposal = Some(parse_proposal(p));
        } else if let Some((name, rest)) = msg.split_once(" => ") {
            let field = match name.trim() {
                "DH secret" => Some(Field::Dh),
                "seed" => Some(Field::Seed),
                "encryption initiator key" => Some(Field::EncrI),
                "encryption responder key" => Some(Field::EncrR),
                "integrity initiator key" => Some(Field::IntegI),
                "integrity responder key" => Some(Field::IntegR),
                _ => None,
            };
            let len = rest.split(' ').next().and_then(|n| n.parse::<usize>().ok());
            if let (Some(field), Some(len)) = (field, len) {
                if len > 0 && len <= 4096 {
                    t.dump = Some(Dump {
                        field,
                        len,
                        data: Vec::with_capacity(len),
                    });
                }
            }
        } else if msg.contains("CHILD_SA ") && msg.contains(" established with SPIs ") {
            if let Some(mut c) = t.current.take() {
                let mut words = msg
                    .split(" established with SPIs ")
                    .nth(1)
                    .unwrap_or("")
                    .split(' ');
                let inb = words.next().and_then(|w| parse_spi(w, "_i"));
                let outb = words.next().and_then(|w| parse_spi(w, "_o"));
                if let (Some(i), Some(o)) = (inb, outb) {
                    c.inbound_spi = i;
                    c.outbound_spi = o;
                    out.push(c);
                }
            }
        }
    }
    out
}

fn store(t: &mut Thread, mut d: Dump, line: usize) {
    let data = std::mem::take(&mut d.data);
    match d.field {
        Field::Dh => {
            t.dh.zeroize();
            t.dh = data;
        }
        Field::Seed => {
            t.seed.zeroize();
            t.seed = data;
        }
        Field::EncrI => {
            // The first key dump starts a new CHILD_SA.
            let (encr, integ, esn) = t.proposal.unwrap_or((None, None, false));
            let mut c = LoggedChildSa::default();
            c.line = line;
            c.logger_initiated = t.initiated;
            c.encr = encr;
            c.integ = integ;
            c.esn = esn;
            c.encr_i = data;
            c.dh_secret = std::mem::take(&mut t.dh);
            c.seed = std::mem::take(&mut t.seed);
            t.current = Some(c);
        }
        Field::EncrR | Field::IntegI | Field::IntegR => {
            if let Some(c) = t.current.as_mut() {
                let slot = match d.field {
                    Field::EncrR => &mut c.encr_r,
                    Field::IntegI => &mut c.integ_i,
                    _ => &mut c.integ_r,
                };
                *slot = data;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
Nov 23 10:52:03 15[ENC] <home|1> parsed CREATE_CHILD_SA response 3 [ SA No KE TSi TSr ]
Nov 23 10:52:03 15[CFG] <home|1> selected proposal: ESP:AES_CBC_128/HMAC_SHA2_256_128/MODP_2048/EXT_SEQ
Nov 23 10:52:03 16[CHD] <home|1> encryption initiator key => 16 bytes @ 0x1
Nov 23 10:52:03 15[CHD] <home|1> DH secret => 2 bytes @ 0x1
Nov 23 10:52:03 15[CHD] <home|1>    0: AA BB                                            ..
Nov 23 10:52:03 15[CHD] <home|1> seed => 4 bytes @ 0x1
Nov 23 10:52:03 15[CHD] <home|1>    0: AA BB 01 02                                      ....
Nov 23 10:52:03 15[CHD] <home|1> encryption initiator key => 16 bytes @ 0x1
Nov 23 10:52:03 15[CHD] <home|1>    0: 00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F  ................
Nov 23 10:52:03 15[CHD] <home|1> encryption responder key => 16 bytes @ 0x1
Nov 23 10:52:03 15[CHD] <home|1>    0: 10 11 12 13 14 15 16 17 18 19 1A 1B 1C 1D 1E 1F  ................
Nov 23 10:52:03 15[CHD] <home|1> integrity initiator key => 2 bytes @ 0x1
Nov 23 10:52:03 15[CHD] <home|1>    0: 20 21
Nov 23 10:52:03 15[CHD] <home|1> integrity responder key => 2 bytes @ 0x1
Nov 23 10:52:03 15[CHD] <home|1>    0: 30 31
Nov 23 10:52:03 15[IKE] <home|1> inbound CHILD_SA net{2} established with SPIs 61b202a0_i c3462069_o and TS x
Nov 23 10:52:03 15[IKE] <home|1> outbound CHILD_SA net{2} established with SPIs 61b202a0_i c3462069_o and TS x
";

    #[test]
    fn parses_a_pfs_child() {
        let v = parse_child_keys(LOG);
        assert_eq!(v.len(), 1);
        let c = &v[0];
        assert_eq!((c.inbound_spi, c.outbound_spi), (0x61b2_02a0, 0xc346_2069));
        assert_eq!(c.logger_initiated, Some(true));
        assert_eq!(c.spis_i_to_r(), Some((0xc346_2069, 0x61b2_02a0)));
        assert_eq!(c.encr_i, (0u8..16).collect::<Vec<_>>());
        assert_eq!(c.encr_r, (16u8..32).collect::<Vec<_>>());
        assert_eq!(
            (c.integ_i.as_slice(), c.integ_r.as_slice()),
            (&[0x20, 0x21][..], &[0x30, 0x31][..])
        );
        assert_eq!(c.dh_secret, [0xaa, 0xbb]);
        assert_eq!(c.nonces(), [1, 2]);
        assert!(c.esn);
        assert_eq!(c.integ, Some(IntegAlgorithm::HmacSha2_256_128));
        assert!(!format!("{c:?}").contains("0x20"));
    }

    #[test]
    fn garbage_never_panics() {
        // Every prefix of the log, cut at any byte (including inside multi-byte characters).
        let text = LOG.replace("..", "é€[X");
        for n in 0..text.len() {
            if let Some(s) = text.get(..n) {
                let _ = parse_child_keys(s);
            }
        }
        let _ = parse_child_keys("7[ABC] x => 99999999999999999999 bytes\n[[[]] 1[AAA]");
        let _ = parse_child_keys("1[CHD] seed => 3 bytes\n1[CHD] 0: FFF 0\n");
    }
}
