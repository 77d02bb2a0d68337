//! Key material from the broker, checked before it is used.
//!
//! The broker fixes an object's S3EC metadata and signs it into the upload; if
//! that metadata did not describe exactly the data key and message ID it hands
//! out, the upload would succeed and the object would never decrypt. So the
//! client checks the key commitment itself before encrypting a byte. On
//! download, it checks that the object's mode and the key material agree (a
//! client-side encrypted object always comes with its key, a plain one never)
//! and, for V3, the commitment again, in constant time, before decrypting.

use std::collections::BTreeMap;

use sealdrop_api::{CseFormat, CseMaterials, CseOpen, Decryption, OpenObjectResponse};
use sealdrop_envelope::{ContentMetadata, ContentParams, DataKey, MessageId, verify_commitment};

/// Why key material cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum MaterialsError {
    /// The broker's answer contradicts itself (a broker bug): nothing was
    /// encrypted or decrypted with it.
    #[error("the broker sent unusable key material: {0}")]
    Inconsistent(String),
    /// The object's stored envelope does not verify with the data key: it was
    /// modified or corrupted.
    #[error("integrity check failed: {0}")]
    Integrity(String),
}

fn parse(metadata: &BTreeMap<String, String>) -> Result<ContentMetadata, MaterialsError> {
    ContentMetadata::parse(metadata.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map_err(|e| MaterialsError::Inconsistent(format!("metadata: {e}")))
}

/// The keys of a client-side encrypted upload (S3EC V3).
pub struct UploadKeys {
    /// The object's data key.
    pub data_key: DataKey,
    /// Its message ID (the HKDF salt): one object only.
    pub message_id: MessageId,
}

impl UploadKeys {
    /// The data key and message ID of `materials`, after checking that the
    /// metadata signed into the upload commits to exactly them.
    pub fn check(materials: &CseMaterials) -> Result<UploadKeys, MaterialsError> {
        let CseFormat::V3 = materials.format;
        let data_key = DataKey::from_base64(materials.data_key.expose())
            .map_err(|e| MaterialsError::Inconsistent(format!("data key: {e}")))?;
        let message_id = MessageId::from_base64(&materials.message_id)
            .map_err(|e| MaterialsError::Inconsistent(format!("message ID: {e}")))?;
        let metadata = parse(&materials.metadata)?;
        let ContentParams::V3 {
            message_id: stored,
            commitment,
        } = metadata.params()
        else {
            return Err(MaterialsError::Inconsistent(
                "the upload metadata is not format V3".into(),
            ));
        };
        if stored.as_bytes() != message_id.as_bytes() {
            return Err(MaterialsError::Inconsistent(
                "the upload metadata names another message ID".into(),
            ));
        }
        verify_commitment(&data_key, &message_id, commitment).map_err(|_| {
            MaterialsError::Inconsistent(
                "the upload metadata does not commit to its data key".into(),
            )
        })?;
        Ok(UploadKeys {
            data_key,
            message_id,
        })
    }
}

/// What decrypting a client-side encrypted download needs.
pub struct DownloadKeys {
    /// The object's S3EC metadata, as the broker validated it.
    pub metadata: ContentMetadata,
    /// The unwrapped data key (V3: checked against the key commitment).
    pub data_key: DataKey,
}

impl DownloadKeys {
    /// The keys of `opened`: `Some` for a client-side encrypted object, `None`
    /// when storage hands out plaintext. Refused if the object's mode and the
    /// key material disagree, or if a V3 data key does not match the object's
    /// commitment.
    pub fn check(opened: &OpenObjectResponse) -> Result<Option<DownloadKeys>, MaterialsError> {
        let mode = opened.object.encryption.mode();
        let materials = match (&opened.decryption, mode.is_client_side()) {
            (Decryption::Storage, false) => return Ok(None),
            (Decryption::Client(materials), true) => materials,
            (Decryption::Storage, true) => {
                return Err(MaterialsError::Inconsistent(format!(
                    "the object is client-side encrypted ({}) but came without its key",
                    mode.as_str()
                )));
            }
            (Decryption::Client(_), false) => {
                return Err(MaterialsError::Inconsistent(format!(
                    "the object is {} but came with a data key",
                    mode.as_str()
                )));
            }
        };
        let CseOpen { data_key, metadata } = materials;
        let metadata = parse(metadata)?;
        let data_key = DataKey::from_base64(data_key.expose())
            .map_err(|e| MaterialsError::Inconsistent(format!("data key: {e}")))?;
        if let ContentParams::V3 {
            message_id,
            commitment,
        } = metadata.params()
        {
            verify_commitment(&data_key, message_id, commitment).map_err(|e| {
                MaterialsError::Integrity(format!("the data key does not open this object: {e}"))
            })?;
        }
        Ok(Some(DownloadKeys { metadata, data_key }))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use sealdrop_api::{
        ClientSideEncryption, Encryption, KeyWrapping, ObjectInfo, PresignedMethod,
        PresignedRequest, SecretString,
    };
    use sealdrop_envelope::{ContentMetadata, KeyWrapping as Wrapping, commitment};

    fn v3_materials() -> (CseMaterials, DataKey) {
        let data_key = DataKey::generate().unwrap();
        let message_id = MessageId::generate().unwrap();
        let encoded_id = message_id.to_base64();
        let commitment = commitment(&data_key, &message_id);
        let envelope = ContentMetadata::v3(
            vec![1, 2, 3],
            Wrapping::Kms {
                context: sealdrop_envelope::EncryptionContext::for_object("alice/a")
                    .to_stored(sealdrop_envelope::ContentCipher::CommittingAesGcm),
            },
            message_id,
            commitment,
        )
        .unwrap();
        let materials = CseMaterials {
            format: CseFormat::V3,
            data_key: SecretString::new(data_key.to_base64().to_string()),
            message_id: encoded_id,
            kms_key_id: "k".into(),
            encryption_context: BTreeMap::new(),
            metadata: envelope.to_map().into_iter().collect(),
        };
        (materials, data_key)
    }

    #[test]
    fn upload_materials_must_commit_to_their_key() {
        let (materials, _) = v3_materials();
        assert!(UploadKeys::check(&materials).is_ok());
        let other = DataKey::generate().unwrap();
        let mut wrong_key = materials.clone();
        wrong_key.data_key = SecretString::new(other.to_base64().to_string());
        assert!(matches!(
            UploadKeys::check(&wrong_key),
            Err(MaterialsError::Inconsistent(_))
        ));
        let mut wrong_id = materials;
        wrong_id.message_id = MessageId::generate().unwrap().to_base64();
        assert!(UploadKeys::check(&wrong_id).is_err());
    }

    fn opened(mode: &str, decryption: Decryption) -> OpenObjectResponse {
        let envelope = ClientSideEncryption {
            kms_key_id: None,
            key_wrapping: KeyWrapping::KmsContext,
            encryption_context: BTreeMap::new(),
            server_side_encryption: None,
        };
        OpenObjectResponse {
            object: ObjectInfo {
                key: "alice/a".into(),
                name: "a".into(),
                stored_size: 16,
                size: 0,
                last_modified: String::new(),
                content_type: None,
                etag: None,
                encryption: match mode {
                    "cse" => Encryption::CseV3(envelope),
                    _ => Encryption::SseKms { kms_key_id: None },
                },
            },
            download: PresignedRequest {
                method: PresignedMethod::Get,
                url: "http://s/a".into(),
                headers: BTreeMap::new(),
            },
            decryption,
        }
    }

    #[test]
    fn the_mode_and_the_key_material_must_agree() {
        let (materials, data_key) = v3_materials();
        let client = Decryption::Client(CseOpen {
            data_key: materials.data_key.clone(),
            metadata: materials.metadata.clone(),
        });
        let keys = DownloadKeys::check(&opened("cse", client.clone())).unwrap();
        assert_eq!(
            keys.unwrap().data_key.expose_secret(),
            data_key.expose_secret()
        );
        assert!(
            DownloadKeys::check(&opened("sse", Decryption::Storage))
                .unwrap()
                .is_none()
        );
        assert!(DownloadKeys::check(&opened("cse", Decryption::Storage)).is_err());
        assert!(DownloadKeys::check(&opened("sse", client)).is_err());
        // A key that does not match the commitment never decrypts anything.
        let wrong = Decryption::Client(CseOpen {
            data_key: SecretString::new(DataKey::generate().unwrap().to_base64().to_string()),
            metadata: materials.metadata,
        });
        assert!(matches!(
            DownloadKeys::check(&opened("cse", wrong)),
            Err(MaterialsError::Integrity(_))
        ));
    }
}
