//! The per-object key material of the fast path.
//!
//! The raw content key exists only briefly in wasm memory (zeroized): it is
//! imported into two non-extractable WebCrypto keys (AES-CTR for the content,
//! AES-GCM for segment GHASH values) and used once to compute the two GHASH
//! constants with RustCrypto's `aes`. `CryptoKey`s are structured-cloneable, so
//! workers receive the keys, never the key bytes.

use aes::Aes256;
use aes::cipher::{BlockCipherEncrypt, KeyInit};
use js_sys::{Array, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::CryptoKey;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::field::Block;
use super::tag::TagBuilder;
use super::webcrypto::subtle;

/// AES-256 key length.
pub const KEY_LEN: usize = 32;
/// GCM IV length (96 bits: `J0 = IV ‖ be32(1)`).
pub const IV_LEN: usize = 12;

/// `H = E_K(0¹²⁸)` and `E_K(J0)`: everything GHASH combination and the tag need.
/// Integrity secrets (they allow forging tags), zeroized on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct GhashKey {
    h: Block,
    tag_mask: Block,
}

impl GhashKey {
    /// Computes both constants from the content key and IV.
    pub fn derive(content_key: &[u8; KEY_LEN], iv: &[u8; IV_LEN]) -> Self {
        let cipher = Aes256::new(&(*content_key).into());
        let mut h = aes::Block::default();
        cipher.encrypt_block(&mut h);
        let mut j0 = aes::Block::default();
        j0[..IV_LEN].copy_from_slice(iv);
        j0[15] = 1;
        cipher.encrypt_block(&mut j0);
        let key = GhashKey {
            h: h.into(),
            tag_mask: j0.into(),
        };
        h.zeroize();
        j0.zeroize();
        key
    }

    /// The hash key `H`.
    pub fn h(&self) -> &Block {
        &self.h
    }

    /// `E_K(J0)`, XORed into the final GHASH value to form the tag.
    pub fn tag_mask(&self) -> &Block {
        &self.tag_mask
    }

    /// The 32-byte form sent to a worker (`H ‖ E_K(J0)`).
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
}

/// What one segment operation needs: the WebCrypto keys and the IV. Cheap to
/// clone and structured-cloneable to workers (see [`crate::protocol`]).
#[derive(Clone)]
pub struct SegmentKeys {
    /// AES-CTR key (content keystream).
    pub ctr: CryptoKey,
    /// AES-GCM key (segment GHASH values via additional data).
    pub gcm: CryptoKey,
    /// The content IV.
    pub iv: [u8; IV_LEN],
}

/// Everything needed to encrypt or decrypt one object's content and compute its tag.
pub struct ContentKeys {
    /// For the segment operations (workers).
    pub segment: SegmentKeys,
    /// GHASH constants (combining segments into the tag).
    pub ghash: GhashKey,
    /// The content AAD (V3: the suite id `00 73`; V2: empty).
    pub aad: Vec<u8>,
}

impl ContentKeys {
    /// Imports a raw content key (consumed and zeroized).
    pub async fn import(
        content_key: Zeroizing<[u8; KEY_LEN]>,
        iv: [u8; IV_LEN],
        aad: &[u8],
    ) -> Result<ContentKeys, JsValue> {
        let ghash = GhashKey::derive(&content_key, &iv);
        let ctr = import_raw(&content_key, "AES-CTR").await?;
        let gcm = import_raw(&content_key, "AES-GCM").await?;
        Ok(ContentKeys {
            segment: SegmentKeys { ctr, gcm, iv },
            ghash,
            aad: aad.to_vec(),
        })
    }

    /// A tag accumulator for content of `text_len` bytes under these keys.
    pub fn tag_builder(&self, text_len: u64) -> TagBuilder {
        TagBuilder::new(self.ghash.clone(), &self.aad, text_len)
    }
}

async fn import_raw(key: &[u8; KEY_LEN], algorithm: &str) -> Result<CryptoKey, JsValue> {
    // WebCrypto copies the bytes during the call; wipe the JS-side copy afterwards.
    let raw = Uint8Array::from(&key[..]);
    let usages = Array::of2(&"encrypt".into(), &"decrypt".into());
    let promise = subtle()?.import_key_with_str("raw", &raw, algorithm, false, &usages);
    raw.fill(0, 0, KEY_LEN as u32);
    let key = JsFuture::from(promise?).await?;
    key.dyn_into::<CryptoKey>()
        .map_err(|_| JsValue::from_str("importKey did not return a CryptoKey"))
}
