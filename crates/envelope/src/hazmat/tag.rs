//! Combining per-segment GHASH results into the message's GCM tag (the
//! argument is in the [module docs](crate::hazmat)).

use std::collections::BTreeMap;

use ghash::GHash;
use ghash::universal_hash::{KeyInit, UniversalHash};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::BLOCK_LEN;
use super::field::{Block, add, length_block, mul, pow};
use super::keys::GhashKey;

/// Why segments could not be combined. These are programming or protocol
/// errors (a worker reported an impossible segment), except [`TagError::Mismatch`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TagError {
    /// A segment does not start at a multiple of 16 bytes, ends past the content,
    /// or is not a whole number of blocks without being the content's last one.
    #[error("invalid segment of {len} bytes at offset {offset}")]
    BadSegment {
        /// Segment offset.
        offset: u64,
        /// Segment length.
        len: u64,
    },
    /// Two different results were reported for the same segment.
    #[error("conflicting results for the segment at offset {offset}")]
    Conflict {
        /// Segment offset.
        offset: u64,
    },
    /// The segments do not cover the content exactly once.
    #[error("segments do not cover byte {at} exactly once")]
    Coverage {
        /// First byte not covered exactly once.
        at: u64,
    },
    /// The computed tag differs from the stored one.
    #[error("the authentication tag does not match")]
    Mismatch,
}

#[derive(Zeroize, ZeroizeOnDrop)]
struct Share {
    len: u64,
    /// This segment's term of the final GHASH value (see the module docs).
    value: Block,
}

/// Accumulates segment results, in any order, into the tag of a message with a
/// known content length.
///
/// A segment is `[offset, offset + len)` of the content: `offset` a multiple of
/// 16, `len` non-zero and a multiple of 16 unless the segment ends the content.
/// Each is reported once, by either entry point:
/// - [`TagBuilder::add`]: `T'`, the tag of an AES-GCM encryption under the
///   message's key and IV of an empty plaintext with the segment's *ciphertext*
///   as additional data;
/// - [`TagBuilder::add_part_tag`]: the tag of the AES-GCM encryption of the
///   segment's plaintext under the crafted IV of [`GhashKey::part_iv`].
pub struct TagBuilder {
    key: GhashKey,
    aad_len: u64,
    text_len: u64,
    content_blocks: u64,
    aad_share: Block,
    shares: BTreeMap<u64, Share>,
}

impl TagBuilder {
    /// Starts a message with this AAD and `text_len` content bytes, under a copy
    /// of `key`.
    pub fn new(key: &GhashKey, aad: &[u8], text_len: u64) -> Self {
        let key = key.duplicate();
        let content_blocks = text_len.div_ceil(BLOCK_LEN);
        let aad_share = if aad.is_empty() {
            [0; 16]
        } else {
            let mut ghash = <GHash as KeyInit>::new(&(*key.h()).into());
            ghash.update_padded(aad);
            let mut y_aad = [0u8; 16];
            y_aad.copy_from_slice(&ghash.finalize());
            let share = mul(&y_aad, &pow(key.h(), content_blocks + 1));
            y_aad.zeroize();
            share
        };
        TagBuilder {
            key,
            aad_len: aad.len() as u64,
            text_len,
            content_blocks,
            aad_share,
            shares: BTreeMap::new(),
        }
    }

    /// The content length this tag covers.
    pub fn text_len(&self) -> u64 {
        self.text_len
    }

    /// Adds `T'` of the content segment `[offset, offset + len)`: the GCM tag,
    /// under the message's key and IV, of an empty plaintext whose additional
    /// data is the segment's ciphertext. Reporting the same segment twice is
    /// allowed (a retried part) if the result is identical.
    pub fn add(&mut self, offset: u64, len: u64, t_prime: &Block) -> Result<(), TagError> {
        self.check(offset, len)?;
        // T' = (Y_S ⊕ L_S)·H ⊕ E_K(J0) with L_S = be64(8·len) ‖ be64(0).
        let mut y_h = add(t_prime, self.key.tag_mask());
        y_h = add(&y_h, &mul(&length_block(len * 8, 0), self.key.h()));
        self.insert(offset, len, y_h)
    }

    /// Adds the tag `part_tag` of the AES-GCM encryption (no AAD) of the content
    /// segment `[offset, offset + len)` under the 16-byte IV
    /// [`GhashKey::part_iv`]`(iv, offset / 16)`, whose ciphertext is the
    /// message's ciphertext for that segment. `mask` is that encryption's
    /// `E_K(J0_b)`, which is also the tag of the AES-GCM encryption of an empty
    /// plaintext under the same IV (GHASH of the all-zero length block is 0).
    /// Same duplicate rule as [`TagBuilder::add`].
    pub fn add_part_tag(
        &mut self,
        offset: u64,
        len: u64,
        part_tag: &Block,
        mask: &Block,
    ) -> Result<(), TagError> {
        self.check(offset, len)?;
        // T_b = (Y_S ⊕ len_b)·H ⊕ E_K(J0_b) with len_b = be64(0) ‖ be64(8·len).
        let mut y_h = add(part_tag, mask);
        y_h = add(&y_h, &mul(&length_block(0, len * 8), self.key.h()));
        self.insert(offset, len, y_h)
    }

    fn check(&self, offset: u64, len: u64) -> Result<(), TagError> {
        let end = offset.checked_add(len).filter(|end| *end <= self.text_len);
        match end {
            Some(end)
                if offset.is_multiple_of(BLOCK_LEN)
                    && len > 0
                    && (end == self.text_len || len.is_multiple_of(BLOCK_LEN)) =>
            {
                Ok(())
            }
            _ => Err(TagError::BadSegment { offset, len }),
        }
    }

    /// Records `Y_S·H` of a checked segment, moved to its place: `· H^(m − e)`.
    fn insert(&mut self, offset: u64, len: u64, mut y_h: Block) -> Result<(), TagError> {
        let end_block = (offset + len).div_ceil(BLOCK_LEN);
        let share = Share {
            len,
            value: mul(&y_h, &pow(self.key.h(), self.content_blocks - end_block)),
        };
        y_h.zeroize();
        match self.shares.get(&offset) {
            Some(known) if known.len == len && bool::from(known.value.ct_eq(&share.value)) => {
                Ok(())
            }
            Some(_) => Err(TagError::Conflict { offset }),
            None => {
                self.shares.insert(offset, share);
                Ok(())
            }
        }
    }

    /// Whether every content byte has been reported.
    pub fn is_complete(&self) -> bool {
        self.coverage_gap().is_none()
    }

    fn coverage_gap(&self) -> Option<u64> {
        let mut next = 0;
        for (offset, share) in &self.shares {
            if *offset != next {
                return Some(next);
            }
            next += share.len;
        }
        (next != self.text_len).then_some(next)
    }

    /// The tag, once the segments cover the content exactly.
    pub fn finish(&self) -> Result<Block, TagError> {
        if let Some(at) = self.coverage_gap() {
            return Err(TagError::Coverage { at });
        }
        let mut y_h = self.aad_share;
        for share in self.shares.values() {
            y_h = add(&y_h, &share.value);
        }
        let lengths = length_block(self.aad_len * 8, self.text_len * 8);
        let mut tag = add(&y_h, &mul(&lengths, self.key.h()));
        tag = add(&tag, self.key.tag_mask());
        y_h.zeroize();
        Ok(tag)
    }

    /// Checks a stored tag in constant time.
    pub fn verify(&self, stored: &[u8]) -> Result<(), TagError> {
        let mut computed = self.finish()?;
        let matches = bool::from(computed.as_slice().ct_eq(stored));
        computed.zeroize();
        if matches {
            Ok(())
        } else {
            Err(TagError::Mismatch)
        }
    }
}

impl Drop for TagBuilder {
    fn drop(&mut self) {
        self.aad_share.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn impossible_segments_are_refused() {
        let key = GhashKey::derive(&[1; 32], &[2; 12]);
        let mut tags = TagBuilder::new(&key, b"aad", 40);
        let t = [7u8; 16];
        for (offset, len) in [(8, 16), (0, 15), (32, 16), (16, 0), (u64::MAX - 15, 16)] {
            assert_eq!(
                tags.add(offset, len, &t),
                Err(TagError::BadSegment { offset, len })
            );
            assert_eq!(
                tags.add_part_tag(offset, len, &t, &t),
                Err(TagError::BadSegment { offset, len })
            );
        }
        tags.add(0, 16, &t).unwrap();
        tags.add(0, 16, &t).unwrap();
        assert_eq!(
            tags.add(0, 16, &[8; 16]),
            Err(TagError::Conflict { offset: 0 })
        );
        assert_eq!(tags.add(0, 32, &t), Err(TagError::Conflict { offset: 0 }));
        assert!(!tags.is_complete());
        assert_eq!(tags.finish(), Err(TagError::Coverage { at: 16 }));
        tags.add(32, 8, &t).unwrap();
        assert_eq!(tags.finish(), Err(TagError::Coverage { at: 16 }));
        tags.add_part_tag(16, 16, &t, &t).unwrap();
        assert!(tags.is_complete());
        assert!(tags.finish().is_ok());
        assert_eq!(tags.verify(&[0; 16]), Err(TagError::Mismatch));
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn empty_content_needs_no_segments() {
        let key = GhashKey::derive(&[1; 32], &[2; 12]);
        let tags = TagBuilder::new(&key, &[], 0);
        assert!(tags.is_complete());
        // GHASH of the zero length block is 0: the tag is E_K(J0).
        assert_eq!(tags.finish().unwrap(), *key.tag_mask());
    }
}
