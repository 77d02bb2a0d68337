//! Decrypting one content segment, and the messages that carry segments between
//! a download's worker and its helper (see `open.rs` and `assist.rs`).

use js_sys::{Array, ArrayBuffer, Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};

use crate::fastgcm::field::Block;
use crate::fastgcm::{SegmentKeys, webcrypto};

/// GHASH-via-AAD over the ciphertext, then AES-CTR: `(T', plaintext)`.
pub async fn open(
    keys: &SegmentKeys,
    offset: u64,
    ciphertext: &Uint8Array,
) -> Result<(Block, ArrayBuffer), JsValue> {
    let t_prime = webcrypto::ghash_segment(keys, ciphertext).await?;
    let plaintext = webcrypto::aes_ctr(keys, offset, ciphertext).await?;
    Ok((t_prime, plaintext))
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

/// A decrypted segment: plaintext (transferred) and its `T'` (an integrity
/// secret: wiped from the message buffers once read or sent).
pub struct Reply {
    pub offset: u64,
    pub len: u32,
    pub data: ArrayBuffer,
    pub t_prime: Block,
}

impl Reply {
    pub fn encode(&self) -> Result<(JsValue, Array), JsValue> {
        let message = Object::new();
        Reflect::set(&message, &"offset".into(), &(self.offset as f64).into())?;
        Reflect::set(&message, &"len".into(), &self.len.into())?;
        Reflect::set(&message, &"data".into(), &self.data)?;
        Reflect::set(
            &message,
            &"secret".into(),
            &Uint8Array::from(&self.t_prime[..]),
        )?;
        Ok((message.into(), Array::of1(&self.data)))
    }

    /// Decodes a reply, or the helper's error message.
    pub fn decode(message: &JsValue) -> Result<Reply, String> {
        if let Some(error) = get(message, "error").ok().and_then(|e| e.as_string()) {
            return Err(error);
        }
        let bad = |e: JsValue| crate::js::describe(&e);
        let secret: Uint8Array = get(message, "secret")
            .map_err(bad)?
            .dyn_into()
            .map_err(bad)?;
        let mut t_prime = [0u8; 16];
        if secret.length() != 16 {
            return Err("segment result of the wrong size".into());
        }
        secret.copy_to(&mut t_prime);
        secret.fill(0, 0, 16);
        Ok(Reply {
            offset: number(message, "offset").map_err(bad)? as u64,
            len: number(message, "len").map_err(bad)? as u32,
            data: get(message, "data").map_err(bad)?.dyn_into().map_err(bad)?,
            t_prime,
        })
    }
}

/// Wipes the `T'` of a sent reply (the receiver got a copy).
pub fn wipe_secret(message: &JsValue) {
    if let Some(secret) = get(message, "secret")
        .ok()
        .and_then(|s| s.dyn_into::<Uint8Array>().ok())
    {
        secret.fill(0, 0, secret.length());
    }
}
