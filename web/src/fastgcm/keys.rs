//! The per-object key material of the fast path.
//!
//! The raw content key exists only briefly in wasm memory (zeroized): it is
//! imported into two non-extractable WebCrypto keys (AES-CTR for the content,
//! AES-GCM for segment GHASH values) and used once to compute the two GHASH
//! constants ([`GhashKey::derive`]). `CryptoKey`s are structured-cloneable, so
//! workers receive the keys, never the key bytes.

use js_sys::{Array, Uint8Array};
use sealdrop_envelope::hazmat::{GhashKey, TagBuilder};
use sealdrop_envelope::{IV_LEN, KEY_LEN};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::CryptoKey;
use zeroize::Zeroizing;

use super::webcrypto::subtle;

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
        TagBuilder::new(&self.ghash, &self.aad, text_len)
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
