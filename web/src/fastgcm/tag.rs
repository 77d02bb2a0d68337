//! Combining per-segment GHASH values (`T'`, see the module docs of
//! [`crate::fastgcm`]) into the message's GCM tag.

use std::collections::BTreeMap;
use std::fmt;

use ghash::GHash;
use ghash::universal_hash::{KeyInit, UniversalHash};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::BLOCK_LEN;
use super::field::{Block, add, length_block, mul, pow};
use super::keys::GhashKey;

/// Why segments could not be combined. These are programming or protocol
/// errors (a worker reported an impossible segment), except [`TagError::Mismatch`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TagError {
    /// A segment does not start at a multiple of 16 bytes, ends past the content,
    /// or is not a whole number of blocks without being the content's last one.
    BadSegment {
        /// Segment offset.
        offset: u64,
        /// Segment length.
        len: u64,
    },
    /// Two different results were reported for the same segment.
    Conflict {
        /// Segment offset.
        offset: u64,
    },
    /// The segments do not cover the content exactly once.
    Coverage {
        /// First byte not covered exactly once.
        at: u64,
    },
    /// The computed tag differs from the stored one.
    Mismatch,
}

impl fmt::Display for TagError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TagError::BadSegment { offset, len } => {
                write!(f, "invalid segment of {len} bytes at offset {offset}")
            }
            TagError::Conflict { offset } => {
                write!(f, "conflicting results for the segment at offset {offset}")
            }
            TagError::Coverage { at } => write!(f, "segments do not cover byte {at} exactly once"),
            TagError::Mismatch => f.write_str("the authentication tag does not match"),
        }
    }
}

#[derive(Zeroize, ZeroizeOnDrop)]
struct Share {
    len: u64,
    /// This segment's term of `Y·H` (see the module docs).
    value: Block,
}

/// Accumulates segment results, in any order, into the tag of a message with a
/// known content length.
pub struct TagBuilder {
    key: GhashKey,
    aad_len: u64,
    text_len: u64,
    content_blocks: u64,
    aad_share: Block,
    shares: BTreeMap<u64, Share>,
}

impl TagBuilder {
    /// Starts a message with this AAD and `text_len` content bytes.
    pub fn new(key: GhashKey, aad: &[u8], text_len: u64) -> Self {
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

    /// Adds the WebCrypto result `t_prime` of the content segment
    /// `[offset, offset + len)`. Reporting the same segment twice is allowed (a
    /// retried part) if the result is identical.
    pub fn add(&mut self, offset: u64, len: u64, t_prime: &Block) -> Result<(), TagError> {
        let end = offset.checked_add(len).filter(|end| *end <= self.text_len);
        let Some(end) = end else {
            return Err(TagError::BadSegment { offset, len });
        };
        if !offset.is_multiple_of(BLOCK_LEN)
            || len == 0
            || (end != self.text_len && !len.is_multiple_of(BLOCK_LEN))
        {
            return Err(TagError::BadSegment { offset, len });
        }
        // (T' ⊕ E_K(J0) ⊕ L_S·H) = Y_S·H, moved to its place: · H^(m − e).
        let h = self.key.h();
        let mut z = add(t_prime, self.key.tag_mask());
        z = add(&z, &mul(&length_block(len * 8, 0), h));
        let share = Share {
            len,
            value: mul(&z, &pow(h, self.content_blocks - end.div_ceil(BLOCK_LEN))),
        };
        z.zeroize();
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
