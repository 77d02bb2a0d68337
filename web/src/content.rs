//! From the broker's key material to the fast path's [`ContentKeys`].
//!
//! The envelope crate owns the format (metadata parsing, the key commitment);
//! the content key is derived here because the envelope keeps its derived key
//! private, and the fast path needs its bytes to import into WebCrypto. The
//! derivation is the S3EC one (`key-derivation.md`): HKDF-SHA512, salt = message
//! ID, IKM = data key, info = `00 73 ‖ "DERIVEKEY"`, 32 bytes; `tests/fastgcm.rs`
//! checks it against `Encryptor::v3`.

use std::fmt;

use hkdf::Hkdf;
use sealdrop_api::{CseMaterials, CseOpen, SecretString};
use sealdrop_envelope::{
    COMMITTING_SUITE_ID, ContentMetadata, ContentParams, DataKey, DecryptError, MessageId,
    verify_commitment,
};
use sha2::Sha512;
use wasm_bindgen::JsValue;
use zeroize::Zeroizing;

use crate::fastgcm::ContentKeys;
use crate::fastgcm::keys::{IV_LEN, KEY_LEN};

/// V3 (suite 115) uses a fixed IV: every (data key, message ID) derives a new key.
const V3_IV: [u8; IV_LEN] = [0x01; IV_LEN];

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

/// Keys for writing a V3 object with this data key and message ID.
pub async fn v3_keys(
    data_key: &DataKey,
    message_id: &MessageId,
) -> Result<ContentKeys, ContentError> {
    let content_key = derive_v3_content_key(data_key, message_id);
    ContentKeys::import(content_key, V3_IV, &COMMITTING_SUITE_ID.to_be_bytes())
        .await
        .map_err(web_crypto)
}

fn derive_v3_content_key(data_key: &DataKey, message_id: &MessageId) -> Zeroizing<[u8; KEY_LEN]> {
    let hkdf = Hkdf::<Sha512>::new(Some(message_id.as_bytes()), data_key.expose_secret());
    let mut info = [0u8; 11];
    info[..2].copy_from_slice(&COMMITTING_SUITE_ID.to_be_bytes());
    info[2..].copy_from_slice(b"DERIVEKEY");
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    if hkdf.expand(&info, key.as_mut()).is_err() {
        // 32 bytes is far below HKDF-SHA512's 255·64-byte output limit.
        unreachable!("HKDF-SHA512 can always produce 32 bytes");
    }
    key
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
    match metadata.params() {
        ContentParams::V3 {
            message_id,
            commitment,
        } => {
            verify_commitment(&data_key, message_id, commitment)
                .map_err(ContentError::Integrity)?;
            v3_keys(&data_key, message_id).await
        }
        ContentParams::V2 { iv } => {
            let key = Zeroizing::new(*data_key.expose_secret());
            // V2 (AES/GCM/NoPadding): the data key is the content key, no AAD.
            ContentKeys::import(key, *iv.as_bytes(), &[])
                .await
                .map_err(web_crypto)
        }
    }
}
