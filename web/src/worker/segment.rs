//! Decrypting one content segment, and the messages that carry segments between
//! a download's worker and its helper (see `open.rs` and `assist.rs`).

use js_sys::{Array, ArrayBuffer, Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};

use crate::fastgcm::Block;
use crate::fastgcm::{SegmentKeys, webcrypto};

/// GHASH-via-AAD over the ciphertext, then AES-CTR: `(T', plaintext)`.
pub async fn open(
    keys: &SegmentKeys,
    offset: u64,
    ciphertext: &Uint8Array,
) -> Result<(Block, ArrayBuffer), JsValue> {
    let t_prime = ghash(keys, ciphertext).await?;
    let plaintext = decrypt(keys, offset, ciphertext).await?;
    Ok((t_prime, plaintext))
}

/// The segment's `T'` (GHASH-via-AAD over the ciphertext).
pub async fn ghash(keys: &SegmentKeys, ciphertext: &Uint8Array) -> Result<Block, JsValue> {
    let _span = crate::trace::span("open.ghash");
    webcrypto::ghash_segment(keys, ciphertext).await
}

/// The segment's plaintext (AES-CTR at its content offset).
pub async fn decrypt(
    keys: &SegmentKeys,
    offset: u64,
    ciphertext: &Uint8Array,
) -> Result<ArrayBuffer, JsValue> {
    let _span = crate::trace::span("open.ctr");
    webcrypto::aes_ctr(keys, offset, ciphertext).await
}

fn get(object: &JsValue, key: &str) -> Result<JsValue, JsValue> {
    Reflect::get(object, &key.into())
}

fn number(object: &JsValue, key: &str) -> Result<f64, JsValue> {
    get(object, key)?
        .as_f64()
        .ok_or_else(|| JsValue::from_str(&format!("segment message without {key}")))
}

/// Ciphertext to decrypt: `len` bytes at the start of `data` (transferred),
/// at content offset `offset`.
pub struct Request {
    pub offset: u64,
    pub len: u32,
    pub data: ArrayBuffer,
}

impl Request {
    pub fn encode(&self) -> Result<(JsValue, Array), JsValue> {
        let message = Object::new();
        Reflect::set(&message, &"offset".into(), &(self.offset as f64).into())?;
        Reflect::set(&message, &"len".into(), &self.len.into())?;
        Reflect::set(&message, &"data".into(), &self.data)?;
        Ok((message.into(), Array::of1(&self.data)))
    }

    pub fn decode(message: &JsValue) -> Result<Request, JsValue> {
        Ok(Request {
            offset: number(message, "offset")? as u64,
            len: number(message, "len")? as u32,
            data: get(message, "data")?.dyn_into()?,
        })
    }
}

/// A decrypted segment: plaintext (transferred) and the ciphertext's buffer,
/// handed back for reuse (transferred). The helper only decrypts (AES-CTR):
/// the download's worker computes the segment's `T'` before sending it, so the
/// two WebCrypto calls of consecutive segments run on both cores at once.
pub struct Reply {
    pub offset: u64,
    pub len: u32,
    pub data: ArrayBuffer,
    pub spare: Option<ArrayBuffer>,
}

impl Reply {
    pub fn encode(&self) -> Result<(JsValue, Array), JsValue> {
        let message = Object::new();
        Reflect::set(&message, &"offset".into(), &(self.offset as f64).into())?;
        Reflect::set(&message, &"len".into(), &self.len.into())?;
        Reflect::set(&message, &"data".into(), &self.data)?;
        let transfer = Array::of1(&self.data);
        if let Some(spare) = &self.spare {
            Reflect::set(&message, &"spare".into(), spare)?;
            transfer.push(spare);
        }
        Ok((message.into(), transfer))
    }

    /// Decodes a reply, or the helper's error message.
    pub fn decode(message: &JsValue) -> Result<Reply, String> {
        if let Some(error) = get(message, "error").ok().and_then(|e| e.as_string()) {
            return Err(error);
        }
        let bad = |e: JsValue| crate::js::describe(&e);
        Ok(Reply {
            offset: number(message, "offset").map_err(bad)? as u64,
            len: number(message, "len").map_err(bad)? as u32,
            data: get(message, "data").map_err(bad)?.dyn_into().map_err(bad)?,
            spare: get(message, "spare").ok().and_then(|s| s.dyn_into().ok()),
        })
    }
}
