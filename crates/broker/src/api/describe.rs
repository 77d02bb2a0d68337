//! What the broker can say about a stored object's encryption from its HEAD,
//! without any key material.

use std::collections::BTreeMap;

use sealdrop_api::{Encryption, ObjectInfo, ObjectMode};
use sealdrop_envelope::{ContentCipher, ContentMetadata, KeyWrapping, MetadataError, TAG_LEN};

use crate::storage::ObjectHead;

/// Informational metadata entry: the KMS key that wraps the data key, as last
/// written by sealdrop (upload or rotation). Never trusted for decryption —
/// KMS decides — only shown to people and used to skip rotated objects.
pub const KMS_KEY_HINT: &str = "sealdrop-kms-key-id";

/// The S3EC metadata of an object, if it has any; `Err` if it claims to be
/// client-side encrypted but is invalid or unsupported.
pub fn envelope(head: &ObjectHead) -> Result<Option<ContentMetadata>, MetadataError> {
    match ContentMetadata::parse(head.metadata.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
        Ok(metadata) => Ok(Some(metadata)),
        Err(MetadataError::NotEncrypted) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The encryption summary of an object.
pub fn encryption(head: &ObjectHead) -> Encryption {
    let sse = head.server_side_encryption.clone();
    match envelope(head) {
        Ok(Some(metadata)) => {
            let (key_wrapping, context, kms_key_id) = match metadata.wrapping() {
                KeyWrapping::Kms { context } => (
                    "kms+context",
                    context
                        .iter()
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .collect(),
                    head.metadata.get(KMS_KEY_HINT).cloned(),
                ),
                KeyWrapping::AesGcm { description } => (
                    "AES/GCM",
                    description
                        .iter()
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .collect::<BTreeMap<_, _>>(),
                    description
                        .get(sealdrop_keyring::KEYRING_ID_ENTRY)
                        .map(str::to_owned),
                ),
            };
            Encryption {
                mode: match metadata.cipher() {
                    ContentCipher::CommittingAesGcm => ObjectMode::CseV3,
                    ContentCipher::AesGcm => ObjectMode::CseV2,
                },
                kms_key_id,
                key_wrapping: Some(key_wrapping.to_owned()),
                encryption_context: Some(context),
                server_side_encryption: sse,
                problem: None,
            }
        }
        Ok(None) => Encryption {
            mode: if sse.as_deref() == Some("aws:kms") {
                ObjectMode::SseKms
            } else {
                ObjectMode::None
            },
            kms_key_id: head.sse_kms_key_id.clone(),
            key_wrapping: None,
            encryption_context: None,
            server_side_encryption: sse,
            problem: None,
        },
        Err(e) => Encryption {
            mode: ObjectMode::Invalid,
            kms_key_id: None,
            key_wrapping: None,
            encryption_context: None,
            server_side_encryption: sse,
            problem: Some(e.to_string()),
        },
    }
}

/// The API view of an object.
pub fn object_info(key: &str, prefix: &str, head: &ObjectHead) -> ObjectInfo {
    let encryption = encryption(head);
    let client_side = matches!(encryption.mode, ObjectMode::CseV3 | ObjectMode::CseV2);
    ObjectInfo {
        key: key.to_owned(),
        name: key.strip_prefix(prefix).unwrap_or(key).to_owned(),
        stored_size: head.size,
        size: if client_side {
            head.size.saturating_sub(TAG_LEN as u64)
        } else {
            head.size
        },
        last_modified: head.last_modified.clone().unwrap_or_default(),
        content_type: head.content_type.clone(),
        etag: head.etag.clone(),
        encryption,
    }
}
