//! From the broker's key material to the fast path's [`ContentKeys`].
//!
//! The envelope crate owns the format: metadata parsing, the key commitment and
//! the content-key derivation (`hazmat::v3_encryption_parts` /
//! `hazmat::decryption_parts` hand out the raw key, IV and AAD the fast path
//! imports into WebCrypto); `tests/fastgcm.rs` checks the result against
//! `Encryptor::v3`.

use std::fmt;

use sealdrop_api::{CseMaterials, CseOpen, SecretString};
use sealdrop_envelope::{
    ContentMetadata, ContentParams, DataKey, DecryptError, MessageId, hazmat, verify_commitment,
};
use wasm_bindgen::JsValue;

use crate::fastgcm::ContentKeys;

/// Why key material could not be used.
#[derive(Debug)]
pub enum ContentError {
    /// The broker's response is inconsistent or malformed (a broker bug).
    Materials(String),
    /// The data key does not open the object (commitment mismatch).
    Integrity(DecryptError),
    /// WebCrypto refused the key.
    WebCrypto(String),
}

impl fmt::Display for ContentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContentError::Materials(why) => {
                write!(f, "the broker sent unusable key material: {why}")
            }
            ContentError::Integrity(why) => write!(f, "{why}"),
            ContentError::WebCrypto(why) => write!(f, "the browser could not use the key: {why}"),
        }
    }
}

fn web_crypto(error: JsValue) -> ContentError {
    ContentError::WebCrypto(crate::js::describe(&error))
}

/// Imports raw content-key parts into WebCrypto.
async fn import(parts: hazmat::ContentKeyParts) -> Result<ContentKeys, ContentError> {
    ContentKeys::import(parts.key, parts.iv, parts.aad)
        .await
        .map_err(web_crypto)
}

/// Keys for writing a V3 object with this data key and message ID.
pub async fn v3_keys(
    data_key: &DataKey,
    message_id: &MessageId,
) -> Result<ContentKeys, ContentError> {
    import(hazmat::v3_encryption_parts(data_key, message_id)).await
}

fn decode_data_key(encoded: &SecretString) -> Result<DataKey, ContentError> {
    DataKey::from_base64(encoded.expose()).map_err(|e| ContentError::Materials(e.to_string()))
}

/// Keys for an upload. Checks that the metadata the broker signed into the
/// upload describes exactly this data key and message ID, so a broker bug cannot
/// produce objects nobody can decrypt.
pub async fn for_upload(materials: &CseMaterials) -> Result<ContentKeys, ContentError> {
    let data_key = decode_data_key(&materials.data_key)?;
    if materials.format != "v3" {
        return Err(ContentError::Materials(format!(
            "format {:?} (expected v3)",
            materials.format
        )));
    }
    let message_id = MessageId::from_base64(&materials.message_id)
        .map_err(|e| ContentError::Materials(e.to_string()))?;
    let metadata = ContentMetadata::parse(
        materials
            .metadata
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str())),
    )
    .map_err(|e| ContentError::Materials(e.to_string()))?;
    let ContentParams::V3 {
        message_id: stored_id,
        commitment,
    } = metadata.params()
    else {
        return Err(ContentError::Materials("metadata is not format V3".into()));
    };
    if *stored_id != message_id {
        return Err(ContentError::Materials(
            "metadata names another message ID".into(),
        ));
    }
    verify_commitment(&data_key, &message_id, commitment).map_err(|_| {
        ContentError::Materials("the key commitment does not match the data key".into())
    })?;
    v3_keys(&data_key, &message_id).await
}

/// Keys for a download, for V3 (commitment checked in constant time first) and
/// V2 objects.
pub async fn for_download(open: &CseOpen) -> Result<ContentKeys, ContentError> {
    let data_key = decode_data_key(&open.data_key)?;
    let metadata =
        ContentMetadata::parse(open.metadata.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .map_err(|e| ContentError::Materials(e.to_string()))?;
    let parts = hazmat::decryption_parts(&metadata, &data_key).map_err(ContentError::Integrity)?;
    import(parts).await
}
