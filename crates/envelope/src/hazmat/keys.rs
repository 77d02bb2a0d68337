//! The GHASH constants of one GCM message, and the counter blocks and IVs that
//! place a segment of its content.

use std::fmt;

use aes::Aes256;
use aes::cipher::{BlockCipherEncrypt, KeyInit};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::field::{Block, add, invert, length_block, mul};
use crate::error::LengthError;
use crate::suite::{IV_LEN, KEY_LEN, MAX_PLAINTEXT_LEN};

/// `H = E_K(0¹²⁸)` and `E_K(J0)`: everything that combining segment results
/// into the tag needs. Integrity secrets — with them anyone can forge tags — so
/// not `Clone`, zeroized on drop and redacted in `Debug`; they reveal nothing
/// about the plaintext.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct GhashKey {
    h: Block,
    tag_mask: Block,
}

impl GhashKey {
    /// Computes both constants from the content key and the 96-bit IV with
    /// RustCrypto's `aes`.
    pub fn derive(content_key: &[u8; KEY_LEN], iv: &[u8; IV_LEN]) -> Self {
        let cipher = Aes256::new(&(*content_key).into());
        let mut h = aes::Block::default();
        cipher.encrypt_block(&mut h);
        let mut j0 = aes::Block::from(iv_block(iv, 1));
        cipher.encrypt_block(&mut j0);
        let key = GhashKey {
            h: h.into(),
            tag_mask: j0.into(),
        };
        h.zeroize();
        j0.zeroize();
        key
    }

    /// A copy for a [`crate::hazmat::TagBuilder`], which owns (and wipes) its own.
    pub(super) fn duplicate(&self) -> Self {
        GhashKey {
            h: self.h,
            tag_mask: self.tag_mask,
        }
    }

    /// The hash key `H`.
    pub fn h(&self) -> &Block {
        &self.h
    }

    /// `E_K(J0)`, XORed into the final GHASH value to form the tag.
    pub fn tag_mask(&self) -> &Block {
        &self.tag_mask
    }

    /// The 32-byte form handed to a worker (`H ‖ E_K(J0)`).
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        bytes[..16].copy_from_slice(&self.h);
        bytes[16..].copy_from_slice(&self.tag_mask);
        bytes
    }

    /// Parses [`GhashKey::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != 32 {
            return None;
        }
        let mut key = GhashKey {
            h: [0; 16],
            tag_mask: [0; 16],
        };
        key.h.copy_from_slice(&bytes[..16]);
        key.tag_mask.copy_from_slice(&bytes[16..]);
        Some(key)
    }

    /// The 16-byte IV under which one AES-GCM encryption of the content part
    /// starting at content block `first_block` produces exactly the message's
    /// ciphertext for that part: `IV_b = (J0_b ⊕ L·H)·H⁻²`, with
    /// `J0_b = IV ‖ be32(1 + b)` and `L = be64(0) ‖ be64(128)`.
    ///
    /// GCM derives the pre-counter block of a 16-byte IV as
    /// `GHASH_H(IV_b ‖ L) = IV_b·H² ⊕ L·H`, which is `J0_b` for this `IV_b`, so
    /// its keystream starts at `inc32(J0_b) = IV ‖ be32(2 + b)` — where the
    /// message's keystream is at block `b`. The tag of that encryption is
    /// `T_b = GHASH_H(C_b ‖ pad ‖ len_b) ⊕ E_K(J0_b)`, which
    /// [`crate::hazmat::TagBuilder::add_part_tag`] turns into the part's share.
    ///
    /// `IV_b` is public-looking but derived from `H`: keep it with the other
    /// integrity secrets. The inversion is a fixed sequence of constant-time
    /// products; only `first_block` (a public offset) selects `J0_b`.
    pub fn part_iv(&self, iv: &[u8; IV_LEN], first_block: u64) -> Result<Block, LengthError> {
        let j0_b = part_j0(iv, first_block)?;
        let mut h_inv = invert(&self.h);
        let mut h_inv2 = mul(&h_inv, &h_inv);
        // L: no AAD, a 128-bit IV.
        let mut lengths_h = mul(&length_block(0, 128), &self.h);
        let mut shifted = add(&j0_b, &lengths_h);
        let part_iv = mul(&shifted, &h_inv2);
        h_inv.zeroize();
        h_inv2.zeroize();
        lengths_h.zeroize();
        shifted.zeroize();
        Ok(part_iv)
    }
}

impl fmt::Debug for GhashKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GhashKey([redacted])")
    }
}

/// The last content block index GCM can reach: the counter of block `b` is
/// `2 + b` and must fit 32 bits (`MAX_PLAINTEXT_LEN` is 2³² − 2 blocks).
const LAST_BLOCK: u64 = MAX_PLAINTEXT_LEN / 16 - 1;

fn iv_block(iv: &[u8; IV_LEN], counter: u32) -> Block {
    let mut block = [0u8; 16];
    block[..IV_LEN].copy_from_slice(iv);
    block[IV_LEN..].copy_from_slice(&counter.to_be_bytes());
    block
}

fn counter(offset: u64, block_index: u64) -> Result<u32, LengthError> {
    let too_long = LengthError::TooLong {
        limit: MAX_PLAINTEXT_LEN,
    };
    if block_index > LAST_BLOCK {
        return Err(too_long);
    }
    u32::try_from(block_index + offset).map_err(|_| too_long)
}

/// The CTR counter block of content block `block_index`: `IV ‖ be32(2 + index)`.
/// GCM's content keystream starts at `inc32(J0)`, counter value 2, so AES-CTR
/// from this block (incrementing the low 32 bits) yields the GCM ciphertext of
/// content starting at byte `16·block_index`.
pub fn counter_block(iv: &[u8; IV_LEN], block_index: u64) -> Result<Block, LengthError> {
    Ok(iv_block(iv, counter(2, block_index)?))
}

/// `J0_b = IV ‖ be32(1 + b)`: the pre-counter block of a GCM encryption whose
/// keystream starts at content block `b` (`J0` itself for `b = 0`).
pub fn part_j0(iv: &[u8; IV_LEN], first_block: u64) -> Result<Block, LengthError> {
    Ok(iv_block(iv, counter(1, first_block)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn counter_blocks_follow_j0_and_stop_at_the_gcm_limit() {
        let iv = [7u8; IV_LEN];
        assert_eq!(part_j0(&iv, 0).unwrap()[12..], [0, 0, 0, 1]);
        assert_eq!(counter_block(&iv, 0).unwrap()[12..], [0, 0, 0, 2]);
        assert_eq!(counter_block(&iv, 0).unwrap()[..12], iv);
        assert_eq!(counter_block(&iv, 0x0102).unwrap()[12..], [0, 0, 1, 4]);
        assert_eq!(counter_block(&iv, LAST_BLOCK).unwrap()[12..], [0xff; 4]);
        assert!(counter_block(&iv, LAST_BLOCK + 1).is_err());
        assert!(part_j0(&iv, LAST_BLOCK + 1).is_err());
        assert!(counter_block(&iv, u64::MAX).is_err());
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn the_worker_form_round_trips_and_debug_is_redacted() {
        let key = GhashKey::derive(&[3; KEY_LEN], &[4; IV_LEN]);
        let back = GhashKey::from_bytes(key.to_bytes().as_ref()).unwrap();
        assert_eq!((back.h(), back.tag_mask()), (key.h(), key.tag_mask()));
        assert!(GhashKey::from_bytes(&[0; 31]).is_none());
        assert_eq!(format!("{key:?}"), "GhashKey([redacted])");
    }
}
