//! `encrypt-existing`: SSE-KMS for objects stored without KMS encryption, and
//! the broker's binding for SSE objects that were put into the bucket directly.

use aws_sdk_s3::Client;
use aws_sdk_s3::types::ServerSideEncryption;
use sealdrop_broker::binding::{BINDING_META, BindingKey};

use super::copy::{Change, copy_in_place};
use super::{
    CopyOptions, Events, OpError, Report, Step, envelope, for_each_object, head, user_metadata,
};
use crate::stack::Stack;

/// What to encrypt, and how.
#[derive(Clone, Debug, Default)]
pub struct EncryptExisting {
    /// Only keys starting with this.
    pub prefix: String,
    /// Report what would change without changing anything.
    pub dry_run: bool,
    /// KMS key to encrypt with (default: the deployment's key).
    pub kms_key: Option<String>,
    /// How objects are copied.
    pub copy: CopyOptions,
}

/// Encrypts every plaintext object under the prefix in place with SSE-KMS,
/// keeping its metadata and content headers and adding the broker's binding
/// (so that the broker opens it: see `sealdrop_broker::binding`); SSE-KMS
/// objects without a binding get one, others and client-side encrypted
/// objects are left alone. Whatever is found under a user's prefix is adopted
/// as theirs.
pub async fn encrypt_existing(
    stack: &Stack,
    binding: &BindingKey,
    options: &EncryptExisting,
    events: &dyn Events,
) -> Result<Report, OpError> {
    let kms_key = options
        .kms_key
        .clone()
        .unwrap_or_else(|| stack.keys.key_id().to_owned());
    let client = stack.storage.client();
    let bucket = stack.storage.bucket();
    for_each_object(client, bucket, &options.prefix, events, |key| {
        encrypt_one(client, bucket, binding, key, &kms_key, options)
    })
    .await
}

async fn encrypt_one(
    client: &Client,
    bucket: &str,
    binding: &BindingKey,
    key: String,
    kms_key: &str,
    options: &EncryptExisting,
) -> Result<Step, OpError> {
    let head = head(client, bucket, &key).await?;
    let mut metadata = user_metadata(&head);
    if !matches!(envelope(&metadata), Ok(None)) {
        // Client-side encrypted (or claims to be): storage only ever sees
        // ciphertext of it, and its data key binds it; leave it alone.
        return Ok(Step::Finished("client-side encrypted (left as is)"));
    }
    let sse = head.server_side_encryption() == Some(&ServerSideEncryption::AwsKms);
    if sse && metadata.contains_key(BINDING_META) {
        return Ok(Step::Finished("already SSE-KMS"));
    }
    if options.dry_run {
        return Ok(Step::Finished(if sse {
            "would bind to its key"
        } else {
            "would encrypt with SSE-KMS"
        }));
    }
    let size = head.content_length().unwrap_or(0).max(0) as u64;
    metadata.insert(BINDING_META.to_owned(), binding.tag(&key, size));
    let (change, done) = if sse {
        (Change::Metadata(metadata), "bound to its key (SSE-KMS)")
    } else {
        let kms_key = kms_key.to_owned();
        (
            Change::Encrypt { kms_key, metadata },
            "encrypted with SSE-KMS",
        )
    };
    let copied = copy_in_place(client, bucket, &key, &head, &change, options.copy).await?;
    Ok(Step::copied(copied, done))
}
