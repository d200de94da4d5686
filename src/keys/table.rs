//! Parser for Wireshark's `ikev2_decryption_table` and for the
//! mobikectl key log (same line format, four more fields).

use std::borrow::Cow;
use std::fmt;

use zeroize::Zeroize;

use crate::crypto::{EncrAlgorithm, IntegAlgorithm, PrfAlgorithm, SkKeys};

use super::{Binding, KeyFileError, KeyFileErrorKind, KeyOrigin, KeySet};

/// [`split_fields`] without copying: the fields of a line without backslashes are slices of
/// it (the common case: a table as Wireshark or strongSwan writes it). Same fields, same
/// errors.
fn split_fields_borrowed(line: &str) -> Result<Vec<Cow<'_, str>>, String> {
    if line.contains('\\') {
        return Ok(split_fields(line)?.into_iter().map(Cow::Owned).collect());
    }
    let mut fields = Vec::with_capacity(12);
    let mut rest = line;
    loop {
        rest = rest.trim_start_matches([' ', '\t']);
        if let Some(quoted) = rest.strip_prefix('"') {
            let Some(close) = quoted.find('"') else {
                return Err("unterminated quoted field".into());
            };
            fields.push(Cow::Borrowed(&quoted[..close]));
            rest = quoted[close + 1..].trim_start_matches([' ', '\t']);
            match rest.chars().next() {
                None => return Ok(fields),
                Some(',') => rest = &rest[1..],
                Some(c) => return Err(format!("unexpected '{c}' after a quoted field")),
            }
        } else {
            match rest.find(',') {
                Some(i) => {
                    fields.push(Cow::Borrowed(rest[..i].trim()));
                    rest = &rest[i + 1..];
                }
                None => {
                    fields.push(Cow::Borrowed(rest.trim()));
                    return Ok(fields);
                }
            }
        }
    }
}

/// Splits one line into fields. Quoted fields may contain commas and the
/// escapes `\\`, `\"` and `\xHH` (as Wireshark's UAT files use); bare
/// fields are trimmed.
pub(crate) fn split_fields(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
            chars.next();
        }
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '"' => {
                        closed = true;
                        break;
                    }
                    '\\' => match chars.next() {
                        Some('x') | Some('X') => {
                            let h: String = chars.by_ref().take(2).collect();
                            let v = u8::from_str_radix(&h, 16)
                                .map_err(|_| format!("bad escape \\x{h} in a quoted field"))?;
                            field.push(char::from(v));
                        }
                        Some(o) => field.push(o),
                        None => return Err("backslash at the end of the line".into()),
                    },
                    other => field.push(other),
                }
            }
            if !closed {
                return Err("unterminated quoted field".into());
            }
            while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
                chars.next();
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => fields.push(field),
                Some(c) => return Err(format!("unexpected '{c}' after a quoted field")),
            }
        } else {
            let mut end = true;
            for c in chars.by_ref() {
                if c == ',' {
                    end = false;
                    break;
                }
                field.push(c);
            }
            fields.push(field.trim().to_string());
            if end {
                return Ok(fields);
            }
        }
    }
}

/// The value of each hex digit; [`SEPARATOR`] for `:`, ` ` and `-`; [`NOT_HEX`] otherwise.
const HEX_VALUE: [u8; 256] = {
    let mut t = [NOT_HEX; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t[b':' as usize] = SEPARATOR;
    t[b' ' as usize] = SEPARATOR;
    t[b'-' as usize] = SEPARATOR;
    t
};
const SEPARATOR: u8 = 0xfe;
const NOT_HEX: u8 = 0xff;

/// Parses a hex field: optional `0x`, optional `:` / space / `-` separators.
pub(crate) fn parse_hex(field: &'static str, s: &str) -> Result<Vec<u8>, KeyFileErrorKind> {
    // Straight into bytes; anything unusual (an error to report) takes the careful way.
    let t = s.trim();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    let bytes = t.as_bytes();
    // The usual field: digits only.
    if bytes.len().is_multiple_of(2) {
        let mut out = vec![0u8; bytes.len() / 2];
        let mut bad = 0u8;
        for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
            let (hi, lo) = (
                HEX_VALUE[usize::from(pair[0])],
                HEX_VALUE[usize::from(pair[1])],
            );
            bad |= (hi | lo) & 0xf0;
            *o = hi << 4 | (lo & 0xf);
        }
        if bad == 0 {
            return Ok(out);
        }
        out.zeroize();
    }
    let mut out = Vec::with_capacity(t.len() / 2);
    let mut i = 0;
    while i < bytes.len() {
        let hi = HEX_VALUE[usize::from(bytes[i])];
        if hi == SEPARATOR {
            i += 1;
            continue;
        }
        let lo = bytes
            .get(i + 1)
            .map_or(NOT_HEX, |&b| HEX_VALUE[usize::from(b)]);
        if hi > 0xf || lo > 0xf {
            // A separator between the digits of a byte, an odd count or a bad character.
            out.zeroize();
            return parse_hex_checked(field, s);
        }
        out.push(hi << 4 | lo);
        i += 2;
    }
    Ok(out)
}

/// [`parse_hex`] digit by digit, with the error for a field that is not hex.
fn parse_hex_checked(field: &'static str, s: &str) -> Result<Vec<u8>, KeyFileErrorKind> {
    let s = s.trim();
    let s = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    let mut digits = String::with_capacity(s.len());
    for (i, c) in s.chars().enumerate() {
        if c.is_ascii_hexdigit() {
            digits.push(c);
        } else if c == ':' || c == ' ' || c == '-' {
            continue;
        } else {
            digits.zeroize();
            return Err(KeyFileErrorKind::BadHex {
                field,
                detail: format!("character {:?} at position {}", c, i + 1),
            });
        }
    }
    if !digits.len().is_multiple_of(2) {
        let n = digits.len();
        digits.zeroize();
        return Err(KeyFileErrorKind::BadHex {
            field,
            detail: format!("odd number of hex digits ({n})"),
        });
    }
    let r = hex::decode(&digits).map_err(|e| KeyFileErrorKind::BadHex {
        field,
        detail: e.to_string(),
    });
    digits.zeroize();
    r
}

fn parse_spi(field: &'static str, s: &str) -> Result<u64, KeyFileErrorKind> {
    let b = parse_hex(field, s)?;
    let a: [u8; 8] = b
        .as_slice()
        .try_into()
        .map_err(|_| KeyFileErrorKind::SpiLength {
            field,
            bytes: b.len(),
        })?;
    Ok(u64::from_be_bytes(a))
}

fn check_len(
    field: &'static str,
    key: &[u8],
    algorithm: &dyn fmt::Display,
    needs: usize,
) -> Result<(), KeyFileErrorKind> {
    if key.len() != needs {
        return Err(KeyFileErrorKind::KeyLength {
            field,
            bytes: key.len(),
            algorithm: algorithm.to_string(),
            needs,
        });
    }
    Ok(())
}

/// Parses one data line (already split) into SPIs and a key set.
/// The algorithms of the last line, by name: the lines of a table mostly repeat them, and
/// looking a name up means formatting every algorithm's name.
#[derive(Default)]
struct LastAlgorithms {
    encr: Option<(String, EncrAlgorithm)>,
    integ: Option<(String, IntegAlgorithm)>,
}

impl LastAlgorithms {
    fn encr(&mut self, name: &str) -> Option<EncrAlgorithm> {
        match &self.encr {
            Some((n, a)) if n == name => Some(*a),
            _ => {
                let a = EncrAlgorithm::from_name(name)?;
                self.encr = Some((name.to_string(), a));
                Some(a)
            }
        }
    }

    fn integ(&mut self, name: &str) -> Option<IntegAlgorithm> {
        match &self.integ {
            Some((n, a)) if n == name => Some(*a),
            _ => {
                let a = IntegAlgorithm::from_name(name)?;
                self.integ = Some((name.to_string(), a));
                Some(a)
            }
        }
    }
}

fn parse_record(
    fields: &[Cow<'_, str>],
    origin: KeyOrigin,
    names: &mut LastAlgorithms,
) -> Result<(u64, u64, KeySet), KeyFileErrorKind> {
    if fields.len() != 8 && fields.len() != 12 {
        return Err(KeyFileErrorKind::FieldCount {
            expected: "8 (Wireshark table) or 12 (mobikectl key log)",
            found: fields.len(),
        });
    }
    let spi_i = parse_spi("SPIi", &fields[0])?;
    let spi_r = parse_spi("SPIr", &fields[1])?;
    let encr = names
        .encr(&fields[4])
        .ok_or_else(|| KeyFileErrorKind::UnknownEncr(fields[4].to_string()))?;
    let mut integ = names
        .integ(&fields[7])
        .ok_or_else(|| KeyFileErrorKind::UnknownInteg(fields[7].to_string()))?;
    let sk_ei = parse_hex("SK_ei", &fields[2])?;
    let sk_er = parse_hex("SK_er", &fields[3])?;
    let mut sk_ai = parse_hex("SK_ai", &fields[5])?;
    let mut sk_ar = parse_hex("SK_ar", &fields[6])?;
    check_len("SK_ei", &sk_ei, &encr, encr.key_len())?;
    check_len("SK_er", &sk_er, &encr, encr.key_len())?;
    check_len("SK_ai", &sk_ai, &integ, integ.key_len())?;
    check_len("SK_ar", &sk_ar, &integ, integ.key_len())?;
    if encr.is_aead() && integ != IntegAlgorithm::None {
        // Wireshark accepts such lines and ignores the integrity algorithm
        // for combined-mode ciphers; so do we.
        integ = IntegAlgorithm::None;
        sk_ai.zeroize();
        sk_ar.zeroize();
        sk_ai.clear();
        sk_ar.clear();
    }
    let keys = SkKeys::new(encr, integ, sk_ei, sk_er, sk_ai, sk_ar)
        .map_err(|e| KeyFileErrorKind::Invalid(e.to_string()))?;
    let mut set = KeySet::new(keys, origin);
    if fields.len() == 12 {
        set.sk_d = parse_hex("SK_d", &fields[8])?;
        if !fields[9].trim().is_empty() {
            let prf = PrfAlgorithm::from_name(&fields[9])
                .ok_or_else(|| KeyFileErrorKind::UnknownPrf(fields[9].to_string()))?;
            if !set.sk_d.is_empty() {
                check_len("SK_d", &set.sk_d, &prf, prf.key_len())?;
            }
            set.prf = Some(prf);
        }
        set.ni = parse_hex("Ni", &fields[10])?;
        set.nr = parse_hex("Nr", &fields[11])?;
    }
    Ok((spi_i, spi_r, set))
}

/// Parses a whole table / key log.
/// Parses a table / key log (or a part of one starting at line `first_line`), handing each record to `record` as it is read (tables can
/// have thousands of lines: no list of records is built). Returns how many there were.
pub(crate) fn parse(
    name: &str,
    text: &str,
    first_line: usize,
    mut record: impl FnMut(u64, u64, KeySet),
) -> Result<usize, KeyFileError> {
    let mut count = 0;
    let mut names = LastAlgorithms::default();
    for (idx, raw) in text.lines().enumerate() {
        let lineno = first_line + idx;
        let t = raw.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let mut fields = split_fields_borrowed(t)
            .map_err(|e| KeyFileError::at(name, lineno, KeyFileErrorKind::Syntax(e)))?;
        let origin = KeyOrigin {
            file: name.to_string(),
            line: lineno,
            binding: Binding::Explicit,
        };
        let r = parse_record(&fields, origin, &mut names);
        for f in fields.iter_mut() {
            if let Cow::Owned(f) = f {
                f.zeroize();
            }
        }
        let (spi_i, spi_r, set) = r.map_err(|k| KeyFileError::at(name, lineno, k))?;
        record(spi_i, spi_r, set);
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_fields_in_every_accepted_form() {
        let ok = |s: &str| parse_hex("f", s).unwrap();
        assert_eq!(ok("00ff7A"), [0, 0xff, 0x7a]);
        assert_eq!(ok(" 0x00FF7a "), [0, 0xff, 0x7a]);
        assert_eq!(ok("0X00"), [0]);
        assert_eq!(ok("00:ff:7a"), [0, 0xff, 0x7a]);
        assert_eq!(ok("00 ff-7a"), [0, 0xff, 0x7a]);
        assert_eq!(ok("0:0ff7a"), [0, 0xff, 0x7a]);
        assert_eq!(ok(""), [0u8; 0]);
        let all: String = (0..=255u8).map(|b| format!("{b:02X}")).collect();
        assert_eq!(ok(&all), (0..=255).collect::<Vec<u8>>());
        for bad in ["0", "0g", "g0", "00:f", "zz", "0x0x00", "\u{e9}0"] {
            assert!(
                matches!(parse_hex("f", bad), Err(KeyFileErrorKind::BadHex { .. })),
                "{bad:?}"
            );
        }
    }
}
