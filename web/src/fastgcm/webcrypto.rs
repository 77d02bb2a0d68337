//! The two WebCrypto calls of the fast path. Inputs and outputs stay JS
//! `ArrayBuffer`s: bulk data never enters wasm memory (which can only grow).

use js_sys::{ArrayBuffer, Object, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AesCtrParams, AesGcmParams, SubtleCrypto};

use sealdrop_envelope::hazmat::{Block, counter_block};

use super::keys::SegmentKeys;

/// `crypto.subtle` of the current global (window or worker).
pub fn subtle() -> Result<SubtleCrypto, JsValue> {
    Ok(crate::js::crypto()?.subtle())
}

/// GCM-encrypts or -decrypts (the same operation) `data`, the content segment
/// starting at content byte `offset` (a multiple of 16), returning the result.
pub async fn aes_ctr(
    keys: &SegmentKeys,
    offset: u64,
    data: &Object,
) -> Result<ArrayBuffer, JsValue> {
    let counter =
        counter_block(&keys.iv, offset / 16).map_err(|e| JsValue::from_str(&e.to_string()))?;
    let counter = Uint8Array::from(&counter[..]);
    let params = AesCtrParams::new("AES-CTR", &counter, 32);
    let promise = subtle()?.encrypt_with_object_and_buffer_source(&params, &keys.ctr, data)?;
    JsFuture::from(promise).await?.dyn_into()
}

/// `T'` of a content segment: the GCM tag of an empty message whose additional
/// data is the segment (ciphertext), under the object's key and IV.
pub async fn ghash_segment(keys: &SegmentKeys, ciphertext: &Object) -> Result<Block, JsValue> {
    let params = AesGcmParams::new("AES-GCM", &Uint8Array::from(&keys.iv[..]));
    params.set_additional_data(ciphertext);
    params.set_tag_length(128);
    let empty = Uint8Array::new_with_length(0);
    let promise = subtle()?.encrypt_with_object_and_buffer_source(&params, &keys.gcm, &empty)?;
    let tag = Uint8Array::new(&JsFuture::from(promise).await?);
    let mut block = [0u8; 16];
    if tag.length() != 16 {
        return Err(JsValue::from_str(
            "AES-GCM returned a tag of unexpected length",
        ));
    }
    tag.copy_to(&mut block);
    tag.fill(0, 0, 16);
    Ok(block)
}
