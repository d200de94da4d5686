//! The error type returned by every parser in [`crate::wire`].

use std::borrow::Cow;
use std::fmt;

/// Broad class of a [`WireError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WireErrorKind {
    /// The input ended before a field or structure was complete.
    Truncated,
    /// A field has a value that makes the structure undecodable (bad length, count, version...).
    Invalid,
}

/// Why a byte string could not be decoded.
///
/// `offset` is absolute: the index of the offending byte in the buffer that was handed to
/// [`Message::parse`](crate::wire::Message::parse) (or the `base_offset` given to
/// [`parse_payload_chain`](crate::wire::parse_payload_chain)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError {
    /// Absolute byte offset of the problem.
    pub offset: usize,
    /// The structure being read, outermost first, e.g. `"SA payload #1, proposal 2 transform 3"`.
    pub context: Cow<'static, str>,
    /// What was expected, e.g. `"transform length >= 8, got 4"`.
    pub expected: Cow<'static, str>,
    /// Truncation or invalid value.
    pub kind: WireErrorKind,
}

impl WireError {
    /// An error of kind [`WireErrorKind::Invalid`].
    pub fn invalid(offset: usize, expected: impl Into<Cow<'static, str>>) -> Self {
        WireError {
            offset,
            context: Cow::Borrowed(""),
            expected: expected.into(),
            kind: WireErrorKind::Invalid,
        }
    }

    /// An error of kind [`WireErrorKind::Truncated`].
    pub fn truncated(offset: usize, expected: impl Into<Cow<'static, str>>) -> Self {
        WireError {
            offset,
            context: Cow::Borrowed(""),
            expected: expected.into(),
            kind: WireErrorKind::Truncated,
        }
    }

    /// Prefix the context with an enclosing structure's description.
    #[must_use]
    pub fn within(mut self, outer: impl fmt::Display) -> Self {
        self.context = if self.context.is_empty() {
            Cow::Owned(outer.to_string())
        } else {
            Cow::Owned(format!("{outer}, {}", self.context))
        };
        self
    }

    /// Replace the context when it is still empty (used for leaf structures).
    #[must_use]
    pub(crate) fn in_ctx(mut self, ctx: &'static str) -> Self {
        if self.context.is_empty() {
            self.context = Cow::Borrowed(ctx);
        } else {
            self.context = Cow::Owned(format!("{ctx} {}", self.context));
        }
        self
    }
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            WireErrorKind::Truncated => "truncated",
            WireErrorKind::Invalid => "invalid",
        };
        if self.context.is_empty() {
            write!(
                f,
                "{what} at byte {}: expected {}",
                self.offset, self.expected
            )
        } else {
            write!(
                f,
                "{what} {} at byte {}: expected {}",
                self.context, self.offset, self.expected
            )
        }
    }
}

impl std::error::Error for WireError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_context() {
        let e = WireError::invalid(40, "transform length >= 8, got 4")
            .in_ctx("transform 3")
            .within("proposal 2")
            .within("SA payload #1");
        assert_eq!(e.context, "SA payload #1, proposal 2, transform 3");
        assert_eq!(
            e.to_string(),
            "invalid SA payload #1, proposal 2, transform 3 at byte 40: expected transform length >= 8, got 4"
        );
        let e = WireError::truncated(3, "28-byte IKE header");
        assert_eq!(
            e.to_string(),
            "truncated at byte 3: expected 28-byte IKE header"
        );
    }
}
