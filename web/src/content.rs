//! From the broker's key material to the fast path's [`ContentKeys`].
//!
//! The transfer core checks the broker's material (`UploadKeys`,
//! `DownloadKeys`); the envelope crate owns the format: metadata parsing, the
//! key commitment and the content-key derivation (`hazmat::v3_encryption_parts` /
//! `hazmat::decryption_parts` hand out the raw key, IV and AAD the fast path
//! imports into WebCrypto); `tests/fastgcm.rs` checks the result against
//! `Encryptor::v3`.

use std::fmt;

use sealdrop_api::{CseMaterials, OpenObjectResponse};
use sealdrop_envelope::{DataKey, DecryptError, MessageId, hazmat};
use sealdrop_transfer::{DownloadKeys, MaterialsError, UploadKeys};
use wasm_bindgen::JsValue;

use crate::fastgcm::ContentKeys;

/// Why key material could not be used.
#[derive(Debug)]
pub enum ContentError {
    /// The broker's response is inconsistent or malformed (a broker bug).
    Materials(String),
    /// The data key does not open the object (commitment mismatch).
    Integrity(DecryptError),
    /// The data key does not match the object's commitment (as the core
    /// checked it).
    Mismatch(String),
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
            ContentError::Mismatch(why) => write!(f, "{why}"),
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
    message_id: MessageId,
) -> Result<ContentKeys, ContentError> {
    import(hazmat::v3_encryption_parts(data_key, message_id)).await
}

/// Keys for an upload, from materials the transfer core checked (the
/// metadata the broker signed into the upload commits to exactly this data key
/// and message ID, so a broker bug cannot produce objects nobody can decrypt).
pub async fn for_upload(materials: &CseMaterials) -> Result<ContentKeys, ContentError> {
    let UploadKeys {
        data_key,
        message_id,
    } = UploadKeys::check(materials).map_err(ContentError::from)?;
    v3_keys(&data_key, message_id).await
}

/// Keys for a download (V3: the commitment is checked in constant time
/// first; V2), or `None` when storage hands out plaintext. The core refuses
/// answers whose mode and key material disagree.
pub async fn for_download(
    opened: &OpenObjectResponse,
) -> Result<Option<ContentKeys>, ContentError> {
    let Some(DownloadKeys { metadata, data_key }) =
        DownloadKeys::check(opened).map_err(ContentError::from)?
    else {
        return Ok(None);
    };
    let parts = hazmat::decryption_parts(&metadata, &data_key).map_err(ContentError::Integrity)?;
    import(parts).await.map(Some)
}

impl From<MaterialsError> for ContentError {
    fn from(error: MaterialsError) -> Self {
        match error {
            MaterialsError::Inconsistent(why) => ContentError::Materials(why),
            MaterialsError::Integrity(why) => ContentError::Mismatch(why),
        }
    }
}
