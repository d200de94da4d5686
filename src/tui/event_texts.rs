//! The timeline's event texts, kept compressed. A capture's event texts repeat the same
//! addresses and phrases ("retransmission #1 of INFORMATIONAL mid 2 from initiator ..."):
//! about 170 bytes an event as text, a few once compressed in blocks. A 140,000-message
//! capture has tens of thousands of events, megabytes as text.
//!
//! The loader writes texts with [`TextBlockWriter`] and hands over sealed blocks; the index
//! keeps them in [`EventTexts`] and unpacks a block when one of its texts is shown (a few
//! microseconds; the last few blocks stay unpacked).
use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::rc::Rc;

/// Text per block before it is sealed: large enough to compress well, small enough to
/// unpack for one row.
const BLOCK_TEXT: usize = 32 * 1024;
// a text starts before the block is full: its offset fits in 16 bits
const _: () = assert!(BLOCK_TEXT <= u16::MAX as usize);
/// Unpacked blocks kept: a screen of timeline rows spans one or two.
const CACHED_BLOCKS: usize = 4;

/// Where a text is: its block and the range in the unpacked block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextRef {
    pub block: u32,
    pub at: u16,
    pub len: u16,
}

/// Texts being written, in blocks sealed (compressed) as they fill.
#[derive(Default)]
pub struct TextBlockWriter {
    sealed: Vec<Box<[u8]>>,
    open: String,
}

impl TextBlockWriter {
    /// Appends `text`'s display; the block number is relative to this writer's first.
    pub fn push(&mut self, text: &impl std::fmt::Display) -> TextRef {
        if self.open.len() >= BLOCK_TEXT {
            self.seal();
        }
        let at = self.open.len();
        let _ = write!(self.open, "{text}");
        TextRef {
            block: u32::try_from(self.sealed.len()).unwrap_or(u32::MAX),
            at: u16::try_from(at).unwrap_or(u16::MAX),
            // a longer text (thousands of announced addresses) is cut, on a char boundary
            len: u16::try_from(self.open.len() - at).unwrap_or(u16::MAX),
        }
    }

    fn seal(&mut self) {
        if !self.open.is_empty() {
            let packed = lz4_flex::block::compress_prepend_size(self.open.as_bytes());
            self.sealed.push(packed.into_boxed_slice());
            self.open.clear();
        }
    }

    /// Every block, sealed.
    pub fn finish(mut self) -> Vec<Box<[u8]>> {
        self.seal();
        self.sealed
    }
}

/// The sealed blocks of every text, with the last few unpacked.
#[derive(Default)]
pub struct EventTexts {
    blocks: Vec<Box<[u8]>>,
    unpacked: RefCell<VecDeque<(u32, Rc<str>)>>,
}

impl EventTexts {
    /// Adds a writer's blocks; returns the number its block 0 now has.
    pub fn extend(&mut self, blocks: Vec<Box<[u8]>>) -> u32 {
        let first = u32::try_from(self.blocks.len()).unwrap_or(u32::MAX);
        self.blocks.extend(blocks);
        first
    }

    /// Bytes held, compressed.
    pub fn packed_bytes(&self) -> usize {
        self.blocks.iter().map(|b| b.len()).sum()
    }

    /// The text at `r` ("" if `r` is not one of ours).
    pub fn get(&self, r: TextRef) -> String {
        let Some(block) = self.block(r.block) else {
            return String::new();
        };
        let start = usize::from(r.at);
        let mut end = start.saturating_add(r.len as usize).min(block.len());
        while end > start && !block.is_char_boundary(end) {
            end -= 1;
        }
        block.get(start..end).unwrap_or("").to_string()
    }

    fn block(&self, n: u32) -> Option<Rc<str>> {
        let mut cache = self.unpacked.borrow_mut();
        if let Some(k) = cache.iter().position(|(b, _)| *b == n) {
            let hit = cache.remove(k)?;
            cache.push_front(hit.clone());
            return Some(hit.1);
        }
        let packed = self.blocks.get(n as usize)?;
        let bytes = lz4_flex::block::decompress_size_prepended(packed).ok()?;
        let text: Rc<str> = String::from_utf8(bytes).ok()?.into();
        cache.push_front((n, text.clone()));
        cache.truncate(CACHED_BLOCKS);
        Some(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_come_back_across_blocks_and_the_cache() {
        let mut w = TextBlockWriter::default();
        let refs: Vec<(TextRef, String)> = (0..5000)
            .map(|k| {
                let t = format!("retransmission #{k} of INFORMATIONAL mid {k} (é)");
                (w.push(&t), t)
            })
            .collect();
        let mut texts = EventTexts::default();
        assert_eq!(texts.extend(vec![b"junk".to_vec().into_boxed_slice()]), 0);
        let first = texts.extend(w.finish());
        assert_eq!(first, 1);
        assert!(texts.blocks.len() > 3, "several blocks");
        // compressed, the repeated phrases take a fraction of the text
        let plain: usize = refs.iter().map(|(_, t)| t.len()).sum();
        assert!(texts.packed_bytes() * 3 < plain, "{}", texts.packed_bytes());
        // in order, backwards and jumping: every text as written
        for k in (0..5000)
            .chain((0..5000).rev())
            .chain((0..5000).step_by(997))
        {
            let (r, t) = &refs[k];
            let r = TextRef {
                block: r.block + first,
                ..*r
            };
            assert_eq!(&texts.get(r), t);
        }
        // a block that does not unpack, or is not there: nothing, no panic
        let bad = TextRef {
            block: 0,
            at: 0,
            len: 4,
        };
        assert_eq!(texts.get(bad), "");
        assert_eq!(texts.get(TextRef { block: 99, ..bad }), "");
    }

    #[test]
    fn a_long_text_is_cut_on_a_char_boundary() {
        let mut w = TextBlockWriter::default();
        let long = "é".repeat(40_000);
        let r = w.push(&long);
        assert_eq!(r.len, u16::MAX);
        let mut texts = EventTexts::default();
        texts.extend(w.finish());
        let got = texts.get(r);
        assert_eq!(got.len(), usize::from(u16::MAX) - 1);
        assert!(got.chars().all(|c| c == 'é'));
    }
}
