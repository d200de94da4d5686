//! Encrypted and Authenticated payload (SK, RFC 7296 §3.14) and its fragment form
//! (SKF, RFC 7383 §2.5).

use std::borrow::Cow;

use super::reader::Reader;
use super::WireError;

/// SK payload body: IV, ciphertext (with padding and pad length) and ICV, still joined
/// because their sizes depend on the negotiated transform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sk<'a> {
    /// Type of the first payload inside the encrypted data (the SK generic header's
    /// next-payload field).
    pub next_payload: u8,
    /// IV || ciphertext || ICV.
    pub data: Cow<'a, [u8]>,
}

/// `(iv, ciphertext, icv)` slices of an SK/SKF payload's encrypted data.
pub type Split<'b> = (&'b [u8], &'b [u8], &'b [u8]);

fn split3(data: &[u8], iv_len: usize, icv_len: usize) -> Result<Split<'_>, WireError> {
    let need = iv_len.saturating_add(icv_len);
    if data.len() < need {
        return Err(WireError::truncated(
            0,
            format!(
                "at least {iv_len}-byte IV + {icv_len}-byte ICV, got {} byte(s) of encrypted data",
                data.len()
            ),
        ));
    }
    let (iv, rest) = data.split_at(iv_len);
    let (ct, icv) = rest.split_at(rest.len() - icv_len);
    Ok((iv, ct, icv))
}

impl<'a> Sk<'a> {
    /// Split `data` into (IV, ciphertext, ICV). Error offsets are relative to the start of
    /// `data`; use [`Payload::split_encrypted`](super::Payload::split_encrypted) for absolute
    /// ones.
    pub fn split(&self, iv_len: usize, icv_len: usize) -> Result<Split<'_>, WireError> {
        split3(&self.data, iv_len, icv_len).map_err(|e| e.in_ctx("SK"))
    }

    /// Detach from the input buffer.
    pub fn into_owned(self) -> Sk<'static> {
        Sk {
            next_payload: self.next_payload,
            data: Cow::Owned(self.data.into_owned()),
        }
    }
}

/// SKF payload body (RFC 7383).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skf<'a> {
    /// First inner payload type in fragment 1; 0 in the other fragments.
    pub next_payload: u8,
    /// Fragment number, starting at 1.
    pub fragment_number: u16,
    /// Total number of fragments.
    pub total_fragments: u16,
    /// IV || ciphertext || ICV.
    pub data: Cow<'a, [u8]>,
}

impl<'a> Skf<'a> {
    pub(crate) fn parse(next_payload: u8, mut r: Reader<'a>) -> Result<Self, WireError> {
        Ok(Skf {
            next_payload,
            fragment_number: r.u16("fragment number")?,
            total_fragments: r.u16("total fragments")?,
            data: Cow::Borrowed(r.rest()),
        })
    }

    /// Append the body (fragment number, total fragments, encrypted data).
    pub fn emit_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.fragment_number.to_be_bytes());
        out.extend_from_slice(&self.total_fragments.to_be_bytes());
        out.extend_from_slice(&self.data);
    }

    /// Split `data` into (IV, ciphertext, ICV); offsets relative to `data`.
    pub fn split(&self, iv_len: usize, icv_len: usize) -> Result<Split<'_>, WireError> {
        split3(&self.data, iv_len, icv_len).map_err(|e| e.in_ctx("SKF"))
    }

    /// RFC 7383 §2.6 sanity: 1 <= fragment number <= total fragments.
    pub fn numbering_valid(&self) -> bool {
        self.fragment_number >= 1 && self.fragment_number <= self.total_fragments
    }

    /// Detach from the input buffer.
    pub fn into_owned(self) -> Skf<'static> {
        Skf {
            next_payload: self.next_payload,
            fragment_number: self.fragment_number,
            total_fragments: self.total_fragments,
            data: Cow::Owned(self.data.into_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split() {
        let sk = Sk {
            next_payload: 41,
            data: Cow::Borrowed(&[1, 1, 2, 2, 2, 3]),
        };
        let (iv, ct, icv) = sk.split(2, 1).unwrap();
        assert_eq!((iv, ct, icv), (&[1u8, 1][..], &[2u8, 2, 2][..], &[3u8][..]));
        assert!(sk.split(4, 2).is_ok());
        let e = sk.split(4, 3).unwrap_err();
        assert_eq!(e.context, "SK");
        assert!(sk.split(usize::MAX, 2).is_err());
    }

    #[test]
    fn skf_parse_emit() {
        let body = [0, 2, 0, 3, 9, 9, 9];
        let f = Skf::parse(0, Reader::new(&body, 0)).unwrap();
        assert_eq!((f.fragment_number, f.total_fragments), (2, 3));
        assert!(f.numbering_valid());
        assert_eq!(&f.data[..], &[9, 9, 9]);
        let mut out = Vec::new();
        f.emit_into(&mut out);
        assert_eq!(out, body);
        let e = Skf::parse(0, Reader::new(&body[..3], 40)).unwrap_err();
        assert_eq!(e.offset, 42);
        assert!(f.split(2, 2).is_err());
    }
}
