//! Changing how existing objects are encrypted, in place, without moving bytes
//! through this machine:
//!
//! - `encrypt-existing`: CopyObject onto itself with SSE-KMS (metadata and
//!   content headers copied), for objects that are neither SSE-KMS nor
//!   client-side encrypted;
//! - `rotate`: KMS `ReEncrypt` of a client-side encrypted object's data key under
//!   another key (same encryption context), then CopyObject onto itself with only
//!   the metadata replaced. Content and key commitment stay valid.
//!
//! Both are idempotent (finished objects are recognised and skipped) and so
//! resumable: rerun after an interruption.
//!
//! A copy onto the same key must never bring back an older version: the object
//! may be overwritten while its bytes are being copied (minutes, for a large
//! object). So both the read and the write are conditional on the ETag that was
//! inspected: `x-amz-copy-source-if-match` for the source and `If-Match` for the
//! destination (CopyObject, or CompleteMultipartUpload beyond the single-copy
//! limit). A copy that loses that race is reported and the object inspected
//! again, never clobbered.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, anyhow, bail};
use aws_sdk_s3::Client;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, MetadataDirective, ServerSideEncryption,
};
use futures::stream::{self, StreamExt};
use sealdrop_broker::Config;
use sealdrop_broker::api::describe::KMS_KEY_HINT;
use sealdrop_envelope::{
    ContentMetadata, ContentParams, DataKey, KeyWrapping, MetadataError, metadata_keys,
    verify_commitment,
};

use crate::stack::{self, Stack};

/// Largest object CopyObject copies in one request (S3's limit).
const COPY_LIMIT: u64 = 5 * 1024 * 1024 * 1024;
/// Smallest multipart part S3 accepts (all but the last).
const MIN_PART: u64 = 5 * 1024 * 1024;
/// Largest part size for UploadPartCopy of larger objects.
const COPY_PART: u64 = 512 * 1024 * 1024;
/// Times an object that changed while it was copied is inspected again.
const ATTEMPTS_PER_OBJECT: u32 = 3;
/// Objects processed concurrently.
const CONCURRENCY: usize = 4;
/// Rotated objects between two verifications.
const VERIFY_EVERY: u64 = 50;

/// Encrypt plaintext objects in place with SSE-KMS.
#[derive(clap::Args, Debug)]
pub struct EncryptExistingArgs {
    /// Only keys starting with this.
    #[arg(long, value_name = "P", default_value = "")]
    prefix: String,
    /// Report what would change without changing anything.
    #[arg(long)]
    dry_run: bool,
    /// KMS key to encrypt with (default: the configured key).
    #[arg(long, value_name = "KEY")]
    kms_key: Option<String>,
    #[command(flatten)]
    copy: CopyArgs,
}

/// How objects are copied in place.
#[derive(clap::Args, Debug, Clone, Copy)]
struct CopyArgs {
    /// Objects larger than this many bytes are copied in parts (UploadPartCopy)
    /// instead of one CopyObject. Some S3-compatible services copy less than
    /// S3's 5 GiB in one request.
    #[arg(long, value_name = "BYTES", default_value_t = COPY_LIMIT,
          value_parser = clap::value_parser!(u64).range(MIN_PART..=COPY_LIMIT))]
    copy_cutoff: u64,
}

impl CopyArgs {
    /// Bytes per UploadPartCopy.
    fn part_size(self) -> u64 {
        self.copy_cutoff.min(COPY_PART)
    }
}

/// Rotate client-side encrypted objects to another KMS key.
#[derive(clap::Args, Debug)]
pub struct RotateArgs {
    /// The KMS key to move data keys to (id, ARN or alias/…).
    #[arg(long, value_name = "KEY")]
    to_key: String,
    /// Only keys starting with this.
    #[arg(long, value_name = "P", default_value = "")]
    prefix: String,
    /// Report what would change without changing anything.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    copy: CopyArgs,
}

/// Counters printed at the end.
#[derive(Default)]
struct Tally {
    counts: std::sync::Mutex<Vec<(&'static str, u64)>>,
    failed: AtomicU64,
}

impl Tally {
    fn add(&self, what: &'static str) {
        if let Ok(mut counts) = self.counts.lock() {
            match counts.iter_mut().find(|(w, _)| *w == what) {
                Some((_, n)) => *n += 1,
                None => counts.push((what, 1)),
            }
        }
    }

    fn fail(&self, key: &str, err: &anyhow::Error) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        eprintln!("failed: {key}: {err:#}");
    }

    fn finish(&self, progress: &indicatif::ProgressBar) -> Result<()> {
        progress.finish_and_clear();
        if let Ok(counts) = self.counts.lock() {
            for (what, n) in counts.iter() {
                println!("{n:>8}  {what}");
            }
        }
        let failed = self.failed.load(Ordering::Relaxed);
        if failed > 0 {
            println!("{failed:>8}  failed (see above; rerun to retry)");
            bail!("{failed} object(s) failed");
        }
        Ok(())
    }
}

fn progress(label: &'static str) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {msg} {pos} objects ({per_sec})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.set_message(label);
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

/// Every key under `prefix`, page by page.
async fn keys(client: &Client, bucket: &str, prefix: &str) -> Result<Vec<String>> {
    let mut keys = Vec::new();
    let mut pages = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.context("listing objects")?;
        keys.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
    }
    Ok(keys)
}

fn user_metadata(head: &HeadObjectOutput) -> HashMap<String, String> {
    head.metadata()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

fn envelope(metadata: &HashMap<String, String>) -> Result<Option<ContentMetadata>, MetadataError> {
    match ContentMetadata::parse(metadata.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
        Ok(m) => Ok(Some(m)),
        Err(MetadataError::NotEncrypted) => Ok(None),
        Err(e) => Err(e),
    }
}

/// What an in-place copy changes.
enum Change {
    /// Keep metadata; encrypt at rest with SSE-KMS under this key.
    Encrypt { kms_key: String },
    /// Replace the user metadata; keep everything else (incl. SSE) as it is.
    Metadata(HashMap<String, String>),
}

fn copy_source(bucket: &str, key: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'/')
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    format!(
        "{bucket}/{}",
        percent_encoding::utf8_percent_encode(key, KEEP)
    )
}

/// How an in-place copy ended.
#[derive(Debug, PartialEq, Eq)]
enum Copied {
    /// The object now holds the copy.
    Done,
    /// The object changed after it was inspected; the newer version was kept.
    Changed,
}

/// Whether storage refused a conditional request because the object is no
/// longer the version it was inspected as (412 Precondition Failed).
fn lost_race<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    err.code() == Some("PreconditionFailed")
}

/// Sends a conditional request: a precondition failure is [`Copied::Changed`].
async fn conditional<T, E, R>(
    what: &'static str,
    request: impl std::future::Future<Output = Result<T, SdkError<E, R>>>,
) -> Result<Option<T>>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match request.await {
        Ok(out) => Ok(Some(out)),
        Err(err) if lost_race(&err) => Ok(None),
        Err(err) => Err(anyhow::Error::new(err).context(what)),
    }
}

/// Copies an object onto itself with `change`, reading and writing only the
/// version `head` describes (see the module docs).
async fn copy_in_place(
    client: &Client,
    bucket: &str,
    key: &str,
    head: &HeadObjectOutput,
    change: &Change,
    copy: CopyArgs,
) -> Result<Copied> {
    let size = head.content_length().unwrap_or(0).max(0) as u64;
    let Some(etag) = head.e_tag() else {
        bail!("storage returned no ETag for {key}; cannot copy it safely");
    };
    let (sse, kms_key) = match change {
        Change::Encrypt { kms_key } => (Some(ServerSideEncryption::AwsKms), Some(kms_key.clone())),
        Change::Metadata(_) => (
            head.server_side_encryption().cloned(),
            head.ssekms_key_id().map(str::to_owned),
        ),
    };
    let replaced = match change {
        Change::Metadata(m) => Some(m.clone()),
        Change::Encrypt { .. } => None,
    };
    if size <= copy.copy_cutoff {
        let mut request = client
            .copy_object()
            .bucket(bucket)
            .key(key)
            .copy_source(copy_source(bucket, key))
            .copy_source_if_match(etag)
            .if_match(etag)
            .set_server_side_encryption(sse)
            .set_ssekms_key_id(kms_key)
            .set_bucket_key_enabled(head.bucket_key_enabled());
        request = match replaced {
            // REPLACE drops every stored header not given again: give them again.
            Some(metadata) => request
                .metadata_directive(MetadataDirective::Replace)
                .set_metadata(Some(metadata))
                .set_content_type(head.content_type().map(str::to_owned))
                .set_cache_control(head.cache_control().map(str::to_owned))
                .set_content_disposition(head.content_disposition().map(str::to_owned))
                .set_content_encoding(head.content_encoding().map(str::to_owned))
                .set_content_language(head.content_language().map(str::to_owned)),
            None => request.metadata_directive(MetadataDirective::Copy),
        };
        return Ok(match conditional("CopyObject", request.send()).await? {
            Some(_) => Copied::Done,
            None => Copied::Changed,
        });
    }

    // Beyond the cutoff: a multipart upload of the same key, parts copied
    // server-side, completed only if the key still holds what was copied.
    let metadata = replaced.unwrap_or_else(|| user_metadata(head));
    let upload = client
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .set_metadata(Some(metadata))
        .set_content_type(head.content_type().map(str::to_owned))
        .set_cache_control(head.cache_control().map(str::to_owned))
        .set_content_disposition(head.content_disposition().map(str::to_owned))
        .set_content_encoding(head.content_encoding().map(str::to_owned))
        .set_content_language(head.content_language().map(str::to_owned))
        .set_server_side_encryption(sse)
        .set_ssekms_key_id(kms_key)
        .send()
        .await
        .context("CreateMultipartUpload")?;
    let upload_id = upload
        .upload_id()
        .ok_or_else(|| anyhow!("CreateMultipartUpload returned no upload id"))?;
    let result = async {
        let mut parts = Vec::new();
        let mut start = 0;
        let mut number = 1;
        while start < size {
            let end = (start + copy.part_size()).min(size) - 1;
            let request = client
                .upload_part_copy()
                .bucket(bucket)
                .key(key)
                .upload_id(upload_id)
                .part_number(number)
                .copy_source(copy_source(bucket, key))
                .copy_source_if_match(etag)
                .copy_source_range(format!("bytes={start}-{end}"))
                .send();
            let Some(out) = conditional("UploadPartCopy", request).await? else {
                return Ok(Copied::Changed);
            };
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(
                        out.copy_part_result()
                            .and_then(|r| r.e_tag())
                            .map(str::to_owned),
                    )
                    .build(),
            );
            start = end + 1;
            number += 1;
        }
        let complete = client
            .complete_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .if_match(etag)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send();
        Ok::<_, anyhow::Error>(
            match conditional("CompleteMultipartUpload", complete).await? {
                Some(_) => Copied::Done,
                None => Copied::Changed,
            },
        )
    }
    .await;
    if !matches!(result, Ok(Copied::Done)) {
        let _ = client
            .abort_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await;
    }
    result
}

/// Runs one object's step again while the object keeps changing under it:
/// each attempt inspects the current version afresh. Objects that changed are
/// named on stderr, so an operator sees that a newer write was kept.
async fn with_reinspection<F, Fut>(key: &str, tally: &Tally, step: F) -> Result<&'static str>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<Step>>,
{
    for attempt in 1..=ATTEMPTS_PER_OBJECT {
        match step().await? {
            Step::Finished(what) => return Ok(what),
            Step::Changed => {
                tally.add("changed while being copied (newer version kept)");
                eprintln!(
                    "note: {key} was written while it was being copied; the copy was \
                     discarded and the newer version kept{}",
                    if attempt < ATTEMPTS_PER_OBJECT {
                        ", inspecting it again"
                    } else {
                        ""
                    }
                );
            }
        }
    }
    bail!(
        "it was written again during each of {ATTEMPTS_PER_OBJECT} copies; run again to process it"
    )
}

/// What one inspection of an object did.
enum Step {
    /// Done with the object, this way.
    Finished(&'static str),
    /// It changed before the copy could commit.
    Changed,
}

impl Step {
    /// `done` if the copy committed.
    fn copied(copied: Copied, done: &'static str) -> Step {
        match copied {
            Copied::Done => Step::Finished(done),
            Copied::Changed => Step::Changed,
        }
    }
}

/// Runs `per_object` over every key under `prefix`, a few at a time, with a
/// progress bar; prints how many objects ended which way, and fails if any failed.
async fn for_each_object<F, Fut>(
    client: &Client,
    bucket: &str,
    prefix: &str,
    label: &'static str,
    per_object: F,
) -> Result<()>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<Step>>,
{
    let tally = Tally::default();
    let bar = progress(label);
    let keys = keys(client, bucket, prefix).await?;
    stream::iter(keys)
        .for_each_concurrent(CONCURRENCY, |key| {
            let (tally, bar, per_object) = (&tally, &bar, &per_object);
            async move {
                let outcome = with_reinspection(&key, tally, || per_object(key.clone())).await;
                match outcome {
                    Ok(what) => tally.add(what),
                    Err(e) => tally.fail(&key, &e),
                }
                bar.inc(1);
            }
        })
        .await;
    tally.finish(&bar)
}

/// `sealdrop admin encrypt-existing`
pub async fn encrypt_existing(config: &Config, args: EncryptExistingArgs) -> Result<()> {
    let stack = stack::connect(config).await?;
    let kms_key = args
        .kms_key
        .clone()
        .unwrap_or_else(|| stack.keys.key_id().to_owned());
    let client = stack.storage.client();
    let bucket = stack.storage.bucket();
    let label = if args.dry_run {
        "checking"
    } else {
        "encrypting"
    };
    for_each_object(client, bucket, &args.prefix, label, |key| {
        encrypt_one(client, bucket, key, &kms_key, args.copy, args.dry_run)
    })
    .await
}

async fn encrypt_one(
    client: &Client,
    bucket: &str,
    key: String,
    kms_key: &str,
    copy: CopyArgs,
    dry_run: bool,
) -> Result<Step> {
    let head = client.head_object().bucket(bucket).key(&key).send().await?;
    if head.server_side_encryption() == Some(&ServerSideEncryption::AwsKms) {
        return Ok(Step::Finished("already SSE-KMS"));
    }
    if !matches!(envelope(&user_metadata(&head)), Ok(None)) {
        // Client-side encrypted (or claims to be): storage only ever sees
        // ciphertext of it; leave it alone.
        return Ok(Step::Finished("client-side encrypted (left as is)"));
    }
    if dry_run {
        return Ok(Step::Finished("would encrypt with SSE-KMS"));
    }
    let change = Change::Encrypt {
        kms_key: kms_key.to_owned(),
    };
    let copied = copy_in_place(client, bucket, &key, &head, &change, copy).await?;
    Ok(Step::copied(copied, "encrypted with SSE-KMS"))
}

/// What every object of one rotation shares.
struct Rotation<'a> {
    stack: &'a Stack,
    kms: aws_sdk_kms::Client,
    /// The target as given, its key id and its ARN: any names an object's hint may use.
    target_names: Vec<String>,
    target_arn: String,
    to_key: &'a str,
    dry_run: bool,
    copy: CopyArgs,
    rotated: AtomicU64,
}

/// `sealdrop admin rotate`
pub async fn rotate(config: &Config, args: RotateArgs) -> Result<()> {
    let stack = stack::connect(config).await?;
    let Some(kms) = stack.kms.clone() else {
        bail!("key rotation needs KMS; this deployment uses the local keyring");
    };
    let described = kms
        .describe_key()
        .key_id(&args.to_key)
        .send()
        .await
        .with_context(|| format!("looking up KMS key {}", args.to_key))?;
    let target = described
        .key_metadata()
        .ok_or_else(|| anyhow!("KMS returned no metadata for {}", args.to_key))?;
    let rotation = Rotation {
        stack: &stack,
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
    let label = if args.dry_run { "checking" } else { "rotating" };
    let client = stack.storage.client();
    for_each_object(client, stack.storage.bucket(), &args.prefix, label, |key| {
        rotation.rotate_one(key)
    })
    .await
}

impl Rotation<'_> {
    async fn rotate_one(&self, key: String) -> Result<Step> {
        let client = self.stack.storage.client();
        let bucket = self.stack.storage.bucket();
        let head = client.head_object().bucket(bucket).key(&key).send().await?;
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
                .with_context(|| format!("verification after rotating {key} failed"))?;
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
async fn verify(stack: &Stack, kms: &aws_sdk_kms::Client, key: &str, target: &str) -> Result<()> {
    let head = stack
        .storage
        .head(key)
        .await?
        .ok_or_else(|| anyhow!("{key} disappeared"))?;
    let envelope =
        ContentMetadata::parse(head.metadata.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
    let KeyWrapping::Kms { context } = envelope.wrapping() else {
        bail!("{key} is no longer KMS-wrapped");
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
        .context("KMS Decrypt with the target key")?;
    let plaintext = zeroize::Zeroizing::new(
        out.plaintext
            .take()
            .ok_or_else(|| anyhow!("KMS returned no plaintext"))?
            .into_inner(),
    );
    let data_key = DataKey::from_slice(&plaintext)?;
    if let ContentParams::V3 {
        message_id,
        commitment,
    } = envelope.params()
    {
        verify_commitment(&data_key, message_id, commitment)?;
    }
    Ok(())
}
