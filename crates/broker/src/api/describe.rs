//! What the broker can say about a stored object's encryption from its HEAD,
//! without any key material.

use std::collections::BTreeMap;

use sealdrop_api::{ClientSideEncryption, Encryption, KeyWrapping as ApiKeyWrapping, ObjectInfo};
use sealdrop_envelope::{ContentCipher, ContentMetadata, KeyWrapping, MetadataError, TAG_LEN};

use crate::keys::KMS_KEY_HINT;
use crate::storage::ObjectHead;

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
                    ApiKeyWrapping::KmsContext,
                    context
                        .iter()
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .collect(),
                    head.metadata.get(KMS_KEY_HINT).cloned(),
                ),
                KeyWrapping::AesGcm { description } => (
                    ApiKeyWrapping::AesGcm,
                    description
                        .iter()
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .collect::<BTreeMap<_, _>>(),
                    description
                        .get(sealdrop_keyring::KEYRING_ID_ENTRY)
                        .map(str::to_owned),
                ),
            };
            let envelope = ClientSideEncryption {
                kms_key_id,
                key_wrapping,
                encryption_context: context,
                server_side_encryption: sse,
            };
            match metadata.cipher() {
                ContentCipher::CommittingAesGcm => Encryption::CseV3(envelope),
                ContentCipher::AesGcm => Encryption::CseV2(envelope),
            }
        }
        Ok(None) if sse.as_deref() == Some("aws:kms") => Encryption::SseKms {
            kms_key_id: head.sse_kms_key_id.clone(),
        },
        Ok(None) => Encryption::None {
            server_side_encryption: sse,
        },
        Err(e) => Encryption::Invalid {
            problem: e.to_string(),
        },
    }
}

/// The API view of an object.
pub fn object_info(key: &str, prefix: &str, head: &ObjectHead) -> ObjectInfo {
    let encryption = encryption(head);
    let client_side = encryption.mode().is_client_side();
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
