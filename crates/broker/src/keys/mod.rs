//! Key providers: where data keys come from and how they are unwrapped. One
//! trait, two implementations: AWS KMS ([`KmsProvider`]) and the embedded local
//! keyring ([`LocalProvider`]).
//!
//! A provider also enforces the binding of a data key to its object: KMS
//! contexts must name the object being opened (`"sealdrop:key"`), and local
//! keys carry a MAC over the object key. An object copied or renamed by someone
//! with bucket access therefore does not decrypt as something else.

mod kms;
mod local;

pub use kms::KmsProvider;
pub use local::LocalProvider;

/// Informational metadata entry: the KMS key that wraps the data key, as last
/// written by sealdrop (upload or rotation). Never trusted for decryption —
/// KMS decides — only shown to people and used to skip rotated objects.
pub const KMS_KEY_HINT: &str = "sealdrop-kms-key-id";

use async_trait::async_trait;
use sealdrop_envelope::{
    ContentMetadata, ContentParams, DataKey, KeyWrapping, MessageId, commitment, verify_commitment,
};

/// A new data key for one object.
pub struct NewDataKey {
    /// Plaintext data key, for the client that encrypts.
    pub data_key: DataKey,
    /// The wrapped key stored in `x-amz-3`.
    pub encrypted_data_key: Vec<u8>,
    /// How it is wrapped (context / material description).
    pub wrapping: KeyWrapping,
    /// The key that wraps it (KMS key ARN, or the local keyring id).
    pub key_id: String,
}

/// A new data key sealed into its S3EC V3 envelope.
pub struct SealedDataKey {
    /// Plaintext data key, for the client that encrypts.
    pub data_key: DataKey,
    /// The envelope's message ID, base64, for the client (the envelope keeps
    /// the move-only ID itself).
    pub message_id: String,
    /// The envelope: wrapped key, wrapping, message ID and key commitment.
    pub envelope: ContentMetadata,
    /// The key that wraps it.
    pub key_id: String,
}

impl NewDataKey {
    /// Seals the key into a V3 envelope with a fresh message ID and the key
    /// commitment to both.
    pub fn seal_v3(self) -> Result<SealedDataKey, KeyError> {
        let message_id = MessageId::generate().map_err(|e| KeyError::Internal(e.to_string()))?;
        let encoded = message_id.to_base64();
        let commitment = commitment(&self.data_key, &message_id);
        let envelope = ContentMetadata::v3(
            self.encrypted_data_key,
            self.wrapping,
            message_id,
            commitment,
        )
        .map_err(|e| KeyError::Internal(e.to_string()))?;
        Ok(SealedDataKey {
            data_key: self.data_key,
            message_id: encoded,
            envelope,
            key_id: self.key_id,
        })
    }
}

/// An unwrapped data key and the key that unwrapped it.
pub struct OpenedDataKey {
    /// Plaintext data key.
    pub data_key: DataKey,
    /// The wrapping key id.
    pub key_id: String,
}

impl OpenedDataKey {
    /// Checks this key against the V3 key commitment of the `metadata` it was
    /// unwrapped from (V2 has none): a data key is handed out, or used, only
    /// if it holds.
    pub fn verify_commitment(&self, metadata: &ContentMetadata) -> Result<(), KeyError> {
        if let ContentParams::V3 {
            message_id,
            commitment,
        } = metadata.params()
        {
            verify_commitment(&self.data_key, message_id, commitment).map_err(|e| {
                KeyError::Integrity(format!("{e}; refusing to hand out the data key"))
            })?;
        }
        Ok(())
    }
}

/// Why a provider failed. Mapped to API errors below.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key is bound to another object (copied or renamed).
    #[error("{0}")]
    Binding(String),
    /// The wrapped key or its context/description was modified.
    #[error("{0}")]
    Integrity(String),
    /// The object's key is wrapped by a mechanism this broker does not have.
    #[error("{0}")]
    WrongProvider(String),
    /// KMS unreachable or timed out.
    #[error("the key service is unreachable: {0}")]
    Unavailable(String),
    /// KMS answered with an error (access denied, disabled key, …).
    #[error("the key service refused the request: {0}")]
    Upstream(String),
    /// Operation not offered by this provider.
    #[error("{0}")]
    Unsupported(String),
    /// Local failure (randomness).
    #[error("{0}")]
    Internal(String),
}

/// A source of data keys.
#[async_trait]
pub trait KeyProvider: Send + Sync {
    /// The key new data keys (and SSE-KMS uploads) use.
    fn key_id(&self) -> &str;

    /// A new 256-bit data key for `object_key`, bound to it.
    async fn generate(&self, object_key: &str) -> Result<NewDataKey, KeyError>;

    /// Unwraps the data key of `metadata`, refusing unless it is bound to `object_key`.
    async fn open(
        &self,
        metadata: &ContentMetadata,
        object_key: &str,
    ) -> Result<OpenedDataKey, KeyError>;

    /// Re-wraps the data key of `metadata` under `to_key_id` with the same
    /// binding (key rotation); returns the new wrapped key and its key id.
    async fn rewrap(
        &self,
        metadata: &ContentMetadata,
        object_key: &str,
        to_key_id: &str,
    ) -> Result<(Vec<u8>, String), KeyError>;

    /// Readiness probe.
    async fn check(&self) -> Result<(), KeyError>;
}
