//! `rotate`: client-side encrypted objects moved to another KMS key without
//! touching their content.

use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_s3::error::DisplayErrorContext;
use sealdrop_broker::keys::KMS_KEY_HINT;
use sealdrop_envelope::{
    ContentMetadata, ContentParams, DataKey, KeyWrapping, metadata_keys, verify_commitment,
};

use super::copy::{Change, Copied, copy_in_place};
use super::{
    CopyOptions, Events, OpError, Report, Step, envelope, for_each_object, head, user_metadata,
};
use crate::stack::Stack;

/// Rotated objects between two verifications.
pub const VERIFY_EVERY: u64 = 50;

/// What every object of one rotation shares.
struct Rotation<'a> {
    stack: &'a Stack,
    kms: aws_sdk_kms::Client,
    /// The target as given, its key id and its ARN: any names an object's hint may use.
    target_names: Vec<String>,
    target_arn: String,
    to_key: &'a str,
    dry_run: bool,
    copy: CopyOptions,
    rotated: AtomicU64,
}

/// What to rotate, to which key.
#[derive(Clone, Debug, Default)]
pub struct Rotate {
    /// The KMS key to move data keys to (id, ARN or alias/…).
    pub to_key: String,
    /// Only keys starting with this.
    pub prefix: String,
    /// Report what would change without changing anything.
    pub dry_run: bool,
    /// How objects are copied.
    pub copy: CopyOptions,
}

/// Re-wraps the data key of every client-side encrypted object under the
/// prefix with `to_key` (KMS `ReEncrypt`, same encryption context) and
/// rewrites only its metadata; every [`VERIFY_EVERY`]th object is read back
/// and opened with the new key.
pub async fn rotate(stack: &Stack, args: &Rotate, events: &dyn Events) -> Result<Report, OpError> {
    let Some(kms) = stack.kms.clone() else {
        return Err(OpError::Invalid(
            "key rotation needs KMS; this deployment uses the local keyring".into(),
        ));
    };
    let described = kms
        .describe_key()
        .key_id(&args.to_key)
        .send()
        .await
        .map_err(|e| {
            OpError::Kms(format!(
                "looking up {}: {}",
                args.to_key,
                DisplayErrorContext(&e)
            ))
        })?;
    let target = described
        .key_metadata()
        .ok_or_else(|| OpError::Kms(format!("no metadata for {}", args.to_key)))?;
    if !broker_uses(stack, &kms, target.key_id()).await {
        return Err(OpError::Invalid(format!(
            "{to} is not one of the KMS keys this broker opens objects with ({configured}): \
             objects rotated to it could not be downloaded. Make it the broker's key first — \
             SEALDROP_KMS_KEY_ID={to}, with the current key added to \
             SEALDROP_KMS_PREVIOUS_KEY_IDS — restart the broker, then rotate",
            to = args.to_key,
            configured = stack.kms_keys.join(", "),
        )));
    }
    let rotation = Rotation {
        stack,
        target_names: [
            Some(args.to_key.as_str()),
            Some(target.key_id()),
            target.arn(),
        ]
        .into_iter()
        .flatten()
        .map(str::to_owned)
        .collect(),
        target_arn: target.arn().unwrap_or(target.key_id()).to_owned(),
        kms,
        to_key: &args.to_key,
        dry_run: args.dry_run,
        copy: args.copy,
        rotated: AtomicU64::new(0),
    };
    let client = stack.storage.client();
    for_each_object(
        client,
        stack.storage.bucket(),
        &args.prefix,
        events,
        |key| rotation.rotate_one(key),
    )
    .await
}

/// Whether the key with id `target` is among the broker's configured keys
/// (which may name it by id, ARN or alias).
async fn broker_uses(stack: &Stack, kms: &aws_sdk_kms::Client, target: &str) -> bool {
    for name in &stack.kms_keys {
        let described = kms.describe_key().key_id(name).send().await;
        if described
            .ok()
            .and_then(|d| d.key_metadata().map(|m| m.key_id() == target))
            .unwrap_or(false)
        {
            return true;
        }
    }
    false
}

impl Rotation<'_> {
    async fn rotate_one(&self, key: String) -> Result<Step, OpError> {
        let client = self.stack.storage.client();
        let bucket = self.stack.storage.bucket();
        let head = head(client, bucket, &key).await?;
        let mut metadata = user_metadata(&head);
        let Some(envelope) = envelope(&metadata)? else {
            return Ok(Step::Finished("not client-side encrypted"));
        };
        if matches!(envelope.wrapping(), KeyWrapping::AesGcm { .. }) {
            return Ok(Step::Finished("local keyring (cannot rotate to KMS)"));
        }
        if metadata
            .get(KMS_KEY_HINT)
            .is_some_and(|hint| self.target_names.contains(hint))
        {
            return Ok(Step::Finished("already under the target key"));
        }
        if self.dry_run {
            return Ok(Step::Finished("would rotate"));
        }
        let (data_key, key_arn) = self.stack.keys.rewrap(&envelope, &key, self.to_key).await?;
        let rewrapped = envelope.with_encrypted_data_key(data_key)?;
        metadata.retain(|k, _| !is_envelope_key(k));
        metadata.extend(rewrapped.to_map());
        metadata.insert(KMS_KEY_HINT.to_owned(), key_arn);
        let change = Change::Metadata(metadata);
        if copy_in_place(client, bucket, &key, &head, &change, self.copy).await? == Copied::Changed
        {
            return Ok(Step::Changed);
        }
        if (self.rotated.fetch_add(1, Ordering::Relaxed) + 1) % VERIFY_EVERY == 1 {
            verify(self.stack, &self.kms, &key, &self.target_arn)
                .await
                .map_err(|e| {
                    OpError::Invalid(format!("verification after rotating failed: {e}"))
                })?;
            return Ok(Step::Finished("rotated (verified)"));
        }
        Ok(Step::Finished("rotated"))
    }
}

fn is_envelope_key(key: &str) -> bool {
    [
        metadata_keys::CONTENT_CIPHER_V3,
        metadata_keys::ENCRYPTED_DATA_KEY_V3,
        metadata_keys::MAT_DESC_V3,
        metadata_keys::ENCRYPTION_CONTEXT_V3,
        metadata_keys::WRAPPING_ALGORITHM_V3,
        metadata_keys::KEY_COMMITMENT_V3,
        metadata_keys::MESSAGE_ID_V3,
        metadata_keys::ENCRYPTED_DATA_KEY_V2,
        metadata_keys::CONTENT_IV,
        metadata_keys::MATDESC,
        metadata_keys::WRAPPING_ALGORITHM_V2,
        metadata_keys::CONTENT_CIPHER_V2,
        metadata_keys::TAG_LENGTH,
    ]
    .contains(&key)
}

/// Reads a rotated object's metadata back and unwraps its data key with KMS
/// pinned to the target key, then checks the key commitment: the object opens
/// under the new key (its content bytes were not touched).
async fn verify(
    stack: &Stack,
    kms: &aws_sdk_kms::Client,
    key: &str,
    target: &str,
) -> Result<(), OpError> {
    let head = stack
        .storage
        .head(key)
        .await
        .map_err(|e| OpError::Invalid(e.to_string()))?
        .ok_or_else(|| OpError::Invalid(format!("{key} disappeared")))?;
    let envelope =
        ContentMetadata::parse(head.metadata.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
    let KeyWrapping::Kms { context } = envelope.wrapping() else {
        return Err(OpError::Invalid(format!("{key} is no longer KMS-wrapped")));
    };
    let mut out = kms
        .decrypt()
        .key_id(target)
        .ciphertext_blob(aws_sdk_kms::primitives::Blob::new(
            envelope.encrypted_data_key(),
        ))
        .set_encryption_context(Some(
            context
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        ))
        .send()
        .await
        .map_err(|e| {
            OpError::Kms(format!(
                "Decrypt with the target key: {}",
                DisplayErrorContext(&e)
            ))
        })?;
    let plaintext = zeroize::Zeroizing::new(
        out.plaintext
            .take()
            .ok_or_else(|| OpError::Kms("Decrypt returned no plaintext".into()))?
            .into_inner(),
    );
    let data_key =
        DataKey::from_slice(&plaintext).map_err(|e| OpError::Kms(format!("the data key: {e}")))?;
    if let ContentParams::V3 {
        message_id,
        commitment,
    } = envelope.params()
    {
        verify_commitment(&data_key, message_id, commitment)
            .map_err(|e| OpError::Invalid(e.to_string()))?;
    }
    Ok(())
}
