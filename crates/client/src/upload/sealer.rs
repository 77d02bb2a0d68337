//! Turning plaintext parts into the bytes storage keeps: encrypted with the
//! upload's data key (client-side encryption), or unchanged (SSE).

use bytes::Bytes;
use sealdrop_api::CseMaterials;
use sealdrop_envelope::{Encryptor, PartEncryptor};
use sealdrop_transfer::{UploadKeys, UploadPlan};

use crate::error::Error;

/// Seals the parts of one upload, strictly in order.
pub(crate) enum Sealer {
    /// S3EC V3: one GCM stream over all parts, the tag after the last.
    /// `None` only while a part is being encrypted on the blocking pool
    /// (boxed: it moves there and back for every part).
    Encrypt(Option<Box<PartEncryptor>>),
    /// Storage encrypts (SSE-KMS): the plaintext goes as it is.
    Plain,
}

impl Sealer {
    /// An encrypting sealer from the broker's materials, checked by the
    /// transfer core (the metadata commits to this data key and message ID).
    /// The decoded data key is dropped (zeroized) when this returns; the
    /// encryptor keeps only the derived content key.
    pub(crate) fn encrypting(materials: &CseMaterials, plan: &UploadPlan) -> Result<Sealer, Error> {
        let UploadKeys {
            data_key,
            message_id,
        } = UploadKeys::check(materials)?;
        Ok(Sealer::Encrypt(Some(Box::new(PartEncryptor::new(
            Encryptor::v3(&data_key, message_id),
            plan.encryption_plan()?,
        )))))
    }

    /// The stored bytes of the next part.
    pub(crate) async fn seal(&mut self, mut part: Vec<u8>) -> Result<Bytes, Error> {
        let Sealer::Encrypt(slot) = self else {
            return Ok(Bytes::from(part));
        };
        let mut encryptor = slot
            .take()
            .ok_or_else(|| Error::Protocol("an earlier part failed to encrypt".into()))?;
        // Megabytes of AES-GCM would stall the async workers: encrypt on the
        // blocking pool and get the encryptor back for the next part.
        let (encryptor, sealed) = tokio::task::spawn_blocking(move || {
            let sealed = encryptor.encrypt_next(&mut part).map(|_| part);
            (encryptor, sealed)
        })
        .await
        .map_err(|e| Error::Protocol(format!("the encryption task failed: {e}")))?;
        *slot = Some(encryptor);
        Ok(Bytes::from(sealed?))
    }
}
