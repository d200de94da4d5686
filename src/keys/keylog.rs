//! mobikectl's own key log format, `mobikectl-keylog v1`.
//!
//! ```text
//! # mobikectl-keylog v1
//! # SPIi,SPIr,SK_ei,SK_er,"ENCR",SK_ai,SK_ar,"INTEG",SK_d,"PRF",Ni,Nr
//! ADE3A663CDE3F4E0,85C30315A9C141C8,37ECA60CF1B3DA4478631AEA98B0DEF6,9A187EACE4ADC7D04868B45884782B1B,"AES-CBC-128 [RFC3602]",788A…5871,3886…B439,"HMAC_SHA2_256_128 [RFC4868]",2839…9D0B,"PRF_HMAC_SHA2_256 [RFC4868]",9808…7CE5,D56A…A313
//! ```
//!
//! * The file starts with the line `# mobikectl-keylog v1`; that line is how
//!   the format is recognised. Other lines starting with `#` are comments;
//!   blank lines are ignored.
//! * One line per IKE SA, 12 comma-separated fields. The first 8 are exactly
//!   a line of Wireshark's `ikev2_decryption_table` (SPIs and keys as bare
//!   upper-case hex, algorithm names in double quotes, Wireshark's spelling
//!   where Wireshark has one), so `grep -v '^#' keys.log | cut -d, -f1-8`
//!   yields a table Wireshark can use.
//! * Field 9 is SK_d, field 10 the PRF (`PRF_HMAC_MD5 [RFC2104]`,
//!   `PRF_HMAC_SHA1 [RFC2104]`, `PRF_AES128_XCBC [RFC4434]`,
//!   `PRF_HMAC_SHA2_256 [RFC4868]`, `PRF_HMAC_SHA2_384 [RFC4868]`,
//!   `PRF_HMAC_SHA2_512 [RFC4868]`, `PRF_AES128_CMAC [RFC4615]`), fields 11
//!   and 12 the nonces Ni and Nr of the exchange that created the IKE SA. With
//!   them CHILD_SA keys can be derived (`KEYMAT = prf+(SK_d, Ni | Nr)`) for
//!   CHILD_SAs created without PFS. Any of fields 9–12 may be empty.
//! * Lines with only the first 8 fields are accepted too.
//! * Encryption names beyond Wireshark's: `CHACHA20-POLY1305 [RFC7634]`;
//!   integrity: `AES_XCBC_96 [RFC3566]`, `AES_CMAC_96 [RFC4494]`.
//!
//! The file holds secrets: whoever creates it must make it mode 0600.

use std::io::{self, Write};

use zeroize::Zeroize;

use crate::crypto::{IkeSaKeys, PrfAlgorithm, SkKeys};

use super::KeySet;

/// First line of a mobikectl key log; identifies the format.
pub const KEYLOG_MAGIC: &str = "# mobikectl-keylog v1";

/// The header a new key log starts with.
pub const KEYLOG_HEADER: &str = "# mobikectl-keylog v1\n\
    # SPIi,SPIr,SK_ei,SK_er,\"ENCR\",SK_ai,SK_ar,\"INTEG\",SK_d,\"PRF\",Ni,Nr\n";

/// Writes [`KEYLOG_HEADER`].
pub fn write_keylog_header<W: Write + ?Sized>(w: &mut W) -> io::Result<()> {
    w.write_all(KEYLOG_HEADER.as_bytes())
}

fn hex_up(b: &[u8]) -> String {
    hex::encode_upper(b)
}

fn line(
    spi_i: u64,
    spi_r: u64,
    k: &SkKeys,
    prf: Option<PrfAlgorithm>,
    sk_d: &[u8],
    ni: &[u8],
    nr: &[u8],
) -> String {
    format!(
        "{:016X},{:016X},{},{},\"{}\",{},{},\"{}\",{},{},{},{}\n",
        spi_i,
        spi_r,
        hex_up(&k.sk_ei),
        hex_up(&k.sk_er),
        k.encr.name(),
        hex_up(&k.sk_ai),
        hex_up(&k.sk_ar),
        k.integ.name(),
        hex_up(sk_d),
        prf.map(|p| format!("\"{}\"", p.name())).unwrap_or_default(),
        hex_up(ni),
        hex_up(nr),
    )
}

/// One key log line (with trailing newline) for a key set from a
/// [`KeyStore`](super::KeyStore).
pub fn format_keylog_line(spi_i: u64, spi_r: u64, set: &KeySet) -> String {
    line(
        spi_i, spi_r, &set.keys, set.prf, &set.sk_d, &set.ni, &set.nr,
    )
}

/// Appends the record for a newly established IKE SA (the live engine calls
/// this after IKE_SA_INIT or an IKE SA rekey).
pub fn write_keylog_record<W: Write + ?Sized>(
    w: &mut W,
    spi_i: u64,
    spi_r: u64,
    keys: &IkeSaKeys,
    ni: &[u8],
    nr: &[u8],
) -> io::Result<()> {
    let sk = keys.sk_keys();
    let mut l = line(
        spi_i,
        spi_r,
        &sk,
        Some(keys.transforms.prf),
        &keys.sk_d,
        ni,
        nr,
    );
    let r = w.write_all(l.as_bytes());
    l.zeroize();
    r
}
