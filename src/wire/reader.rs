//! A bounds-checked big-endian cursor built on nom's `complete` combinators.
//!
//! Every read reports failure as a [`WireError`] carrying the absolute offset, so the
//! payload parsers never index input-derived positions directly.

use nom::bytes::complete::take;
use nom::number::complete::{be_u16, be_u32, be_u64, be_u8};
use nom::IResult;

use super::WireError;

/// Cursor over `buf`, whose first byte sits at absolute offset `base` in the message.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8], base: usize) -> Self {
        Reader {
            rest: buf,
            pos: 0,
            base,
        }
    }

    /// Absolute offset of the next unread byte.
    #[inline]
    pub(crate) fn offset(&self) -> usize {
        self.base + self.pos
    }

    #[inline]
    pub(crate) fn remaining(&self) -> usize {
        self.rest.len()
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    #[inline]
    fn run<T>(
        &mut self,
        f: impl FnOnce(&'a [u8]) -> IResult<&'a [u8], T, ()>,
        n: usize,
        what: &'static str,
    ) -> Result<T, WireError> {
        match f(self.rest) {
            Ok((rest, v)) => {
                self.rest = rest;
                self.pos += n;
                Ok(v)
            }
            Err(_) => Err(self.short(n, what)),
        }
    }

    #[cold]
    fn short(&self, n: usize, what: &'static str) -> WireError {
        WireError::truncated(
            self.offset(),
            format!("{n} byte(s) of {what}, only {} left", self.rest.len()),
        )
    }

    #[inline]
    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, WireError> {
        self.run(be_u8, 1, what)
    }

    #[inline]
    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, WireError> {
        self.run(be_u16, 2, what)
    }

    #[inline]
    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, WireError> {
        self.run(be_u32, 4, what)
    }

    #[inline]
    pub(crate) fn u64(&mut self, what: &'static str) -> Result<u64, WireError> {
        self.run(be_u64, 8, what)
    }

    #[inline]
    pub(crate) fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], WireError> {
        self.run(take(n), n, what)
    }

    #[inline]
    pub(crate) fn array<const N: usize>(
        &mut self,
        what: &'static str,
    ) -> Result<[u8; N], WireError> {
        let b = self.bytes(N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(b);
        Ok(out)
    }

    /// Take everything that is left.
    #[inline]
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let r = self.rest;
        self.pos += r.len();
        self.rest = &[];
        r
    }

    /// Split off a sub-reader over the next `n` bytes (a nested structure with its own length).
    #[inline]
    pub(crate) fn sub(&mut self, n: usize, what: &'static str) -> Result<Reader<'a>, WireError> {
        let base = self.offset();
        let b = self.bytes(n, what)?;
        Ok(Reader::new(b, base))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_offsets() {
        let data = [1u8, 0, 2, 0, 0, 0, 3, 9, 9];
        let mut r = Reader::new(&data, 100);
        assert_eq!(r.u8("a").unwrap(), 1);
        assert_eq!(r.u16("b").unwrap(), 2);
        assert_eq!(r.u32("c").unwrap(), 3);
        assert_eq!(r.offset(), 107);
        let e = r.u32("d").unwrap_err();
        assert_eq!(e.offset, 107);
        assert_eq!(r.remaining(), 2);
        let mut s = r.sub(1, "e").unwrap();
        assert_eq!(s.offset(), 107);
        assert_eq!(s.rest(), &[9]);
        assert!(s.is_empty());
        assert_eq!(r.offset(), 108);
        assert!(r.sub(5, "f").is_err());
        assert!(r.u64("g").is_err());
        assert_eq!(r.array::<1>("h").unwrap(), [9]);
    }
}
