//! Turning plaintext parts into the bytes storage keeps: encrypted with the
//! upload's data key (client-side encryption), or unchanged (SSE).

use bytes::Bytes;
use sealdrop_api::CseMaterials;
use sealdrop_envelope::{
    ContentMetadata, ContentParams, DataKey, Encryptor, MessageId, PartEncryptor, PartPlan,
    verify_commitment,
};

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
    /// An encrypting sealer from the broker's materials. The plaintext data key
    /// (base64 and decoded) is zeroized when this returns; the encryptor keeps
    /// only the derived content key.
    pub(crate) fn encrypting(materials: CseMaterials, plan: PartPlan) -> Result<Sealer, Error> {
        let CseMaterials {
            format,
            data_key,
            message_id,
            metadata,
            ..
        } = materials;
        if format != "v3" {
            return Err(Error::Protocol(format!(
                "client-side encryption format {format:?} (only v3 is written)"
            )));
        }
        let data_key = DataKey::from_base64(data_key.expose())?;
        let message_id = MessageId::from_base64(&message_id)
            .map_err(|e| Error::Protocol(format!("message ID: {e}")))?;
        check_metadata_commits(&metadata, &data_key, &message_id)?;
        Ok(Sealer::Encrypt(Some(Box::new(PartEncryptor::new(
            Encryptor::v3(&data_key, &message_id),
            plan,
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

/// The object's metadata is fixed by the broker and signed into the upload
/// request. If it did not commit to this data key and message ID, the upload
/// would succeed and the object would never decrypt: refuse it up front.
fn check_metadata_commits(
    metadata: &std::collections::BTreeMap<String, String>,
    data_key: &DataKey,
    message_id: &MessageId,
) -> Result<(), Error> {
    let parsed = ContentMetadata::parse(metadata.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map_err(|e| Error::Protocol(format!("upload metadata: {e}")))?;
    match parsed.params() {
        ContentParams::V3 {
            message_id: stored,
            commitment,
        } if stored == message_id => {
            verify_commitment(data_key, message_id, commitment).map_err(|_| {
                Error::Protocol("the upload metadata does not commit to its data key".into())
            })
        }
        _ => Err(Error::Protocol(
            "the upload metadata is not V3 with the upload's message ID".into(),
        )),
    }
}
