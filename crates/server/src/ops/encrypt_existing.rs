//! `encrypt-existing`: SSE-KMS for objects stored without KMS encryption.

use aws_sdk_s3::Client;
use aws_sdk_s3::types::ServerSideEncryption;

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
/// keeping its metadata and content headers; client-side encrypted and SSE-KMS
/// objects are left alone.
pub async fn encrypt_existing(
    stack: &Stack,
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
        encrypt_one(client, bucket, key, &kms_key, options)
    })
    .await
}

async fn encrypt_one(
    client: &Client,
    bucket: &str,
    key: String,
    kms_key: &str,
    options: &EncryptExisting,
) -> Result<Step, OpError> {
    let head = head(client, bucket, &key).await?;
    if head.server_side_encryption() == Some(&ServerSideEncryption::AwsKms) {
        return Ok(Step::Finished("already SSE-KMS"));
    }
    if !matches!(envelope(&user_metadata(&head)), Ok(None)) {
        // Client-side encrypted (or claims to be): storage only ever sees
        // ciphertext of it; leave it alone.
        return Ok(Step::Finished("client-side encrypted (left as is)"));
    }
    if options.dry_run {
        return Ok(Step::Finished("would encrypt with SSE-KMS"));
    }
    let change = Change::Encrypt {
        kms_key: kms_key.to_owned(),
    };
    let copied = copy_in_place(client, bucket, &key, &head, &change, options.copy).await?;
    Ok(Step::copied(copied, "encrypted with SSE-KMS"))
}
