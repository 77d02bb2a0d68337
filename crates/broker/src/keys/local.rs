//! The embedded local keyring as a key provider (see `sealdrop-keyring`).

use std::sync::Arc;

use async_trait::async_trait;
use sealdrop_envelope::ContentMetadata;
use sealdrop_keyring::{KeyringError, LocalKeyring};

use super::{KeyError, KeyProvider, NewDataKey, OpenedDataKey};

/// Data keys from the local keyring, wrapped as S3EC AES/GCM (`x-amz-w: 02`).
pub struct LocalProvider {
    keyring: Arc<LocalKeyring>,
}

impl LocalProvider {
    /// A provider over an opened keyring (shared with the embedded store).
    pub fn new(keyring: Arc<LocalKeyring>) -> LocalProvider {
        LocalProvider { keyring }
    }
}

impl From<KeyringError> for KeyError {
    fn from(e: KeyringError) -> KeyError {
        match e {
            KeyringError::Binding => KeyError::Binding(format!("integrity check failed: {e}")),
            KeyringError::Unwrap => KeyError::Integrity(format!("integrity check failed: {e}")),
            KeyringError::NotLocal => KeyError::WrongProvider(
                "this object's data key is wrapped by KMS; this broker uses the local keyring"
                    .into(),
            ),
            KeyringError::WrongKeyring { .. } => KeyError::WrongProvider(e.to_string()),
            other => KeyError::Internal(other.to_string()),
        }
    }
}

#[async_trait]
impl KeyProvider for LocalProvider {
    fn key_id(&self) -> &str {
        self.keyring.key_id()
    }

    async fn generate(&self, object_key: &str) -> Result<NewDataKey, KeyError> {
        let generated = self.keyring.generate_for_object(object_key)?;
        Ok(NewDataKey {
            data_key: generated.data_key,
            encrypted_data_key: generated.encrypted_data_key,
            wrapping: generated.wrapping,
            key_id: self.keyring.key_id().to_owned(),
        })
    }

    async fn open(
        &self,
        metadata: &ContentMetadata,
        object_key: &str,
    ) -> Result<OpenedDataKey, KeyError> {
        Ok(OpenedDataKey {
            data_key: self.keyring.unwrap_for_object(metadata, object_key)?,
            key_id: self.keyring.key_id().to_owned(),
        })
    }

    async fn rewrap(
        &self,
        _metadata: &ContentMetadata,
        _object_key: &str,
        _to_key_id: &str,
    ) -> Result<(Vec<u8>, String), KeyError> {
        Err(KeyError::Unsupported(
            "key rotation needs KMS; the local keyring has a single key".into(),
        ))
    }

    async fn check(&self) -> Result<(), KeyError> {
        Ok(())
    }
}
