//! Changing how existing objects are encrypted, in place, without moving bytes
//! through this machine:
//!
//! - [`encrypt_existing`]: CopyObject onto itself with SSE-KMS (metadata and
//!   content headers copied), for objects that are neither SSE-KMS nor
//!   client-side encrypted;
//! - [`rotate`]: KMS `ReEncrypt` of a client-side encrypted object's data key
//!   under another key (same encryption context), then CopyObject onto itself
//!   with only the metadata replaced. Content and key commitment stay valid.
//!
//! Both are idempotent (finished objects are recognised and skipped) and so
//! resumable: run again after an interruption.
//!
//! A copy onto the same key must never bring back an older version: the object
//! may be overwritten while its bytes are being copied (minutes, for a large
//! object). So both the read and the write are conditional on the ETag that was
//! inspected: `x-amz-copy-source-if-match` for the source and `If-Match` for the
//! destination (CopyObject, or CompleteMultipartUpload beyond the copy
//! cutoff). A copy that loses that race is discarded and reported, and the
//! object inspected again — never clobbered.

mod copy;
mod encrypt_existing;
mod rotate;

use std::collections::HashMap;
use std::sync::Mutex;

use aws_sdk_s3::Client;
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use futures::stream::{self, StreamExt};
use sealdrop_envelope::{ContentMetadata, MetadataError};

pub use encrypt_existing::{EncryptExisting, encrypt_existing};
pub use rotate::{Rotate, rotate};

/// Largest object CopyObject copies in one request (S3's limit).
pub const COPY_LIMIT: u64 = 5 * 1024 * 1024 * 1024;
/// Smallest multipart part S3 accepts (all but the last).
pub const MIN_PART: u64 = 5 * 1024 * 1024;
/// Largest part size for UploadPartCopy of larger objects.
const COPY_PART: u64 = 512 * 1024 * 1024;
/// Times an object that changed while it was copied is inspected again.
pub const ATTEMPTS_PER_OBJECT: u32 = 3;
/// Objects processed concurrently.
const CONCURRENCY: usize = 4;

/// How objects are copied in place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CopyOptions {
    /// Objects larger than this many bytes are copied in parts (UploadPartCopy)
    /// instead of one CopyObject (some S3-compatible services copy less than
    /// S3's 5 GiB in one request). Between [`MIN_PART`] and [`COPY_LIMIT`].
    pub cutoff: u64,
}

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions { cutoff: COPY_LIMIT }
    }
}

impl CopyOptions {
    /// Bytes per UploadPartCopy.
    fn part_size(self) -> u64 {
        self.cutoff.clamp(MIN_PART, COPY_LIMIT).min(COPY_PART)
    }
}

/// Why an object (or the whole operation) failed.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    /// Storage refused or failed a request.
    #[error("{operation}: {message}")]
    Storage {
        /// The S3 operation.
        operation: &'static str,
        /// What storage said.
        message: String,
    },
    /// KMS refused or failed.
    #[error("KMS: {0}")]
    Kms(String),
    /// The object's encryption metadata is invalid.
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    /// The key provider refused (wrong provider, binding, unavailable).
    #[error(transparent)]
    Key(#[from] sealdrop_broker::keys::KeyError),
    /// Anything else that makes the object unprocessable.
    #[error("{0}")]
    Invalid(String),
}

impl OpError {
    fn storage<E: std::error::Error + 'static>(operation: &'static str, err: &E) -> OpError {
        OpError::Storage {
            operation,
            message: DisplayErrorContext(err).to_string(),
        }
    }
}

/// What an operation reports while it runs (the CLI prints it).
pub trait Events: Sync {
    /// An object is done, one way or another.
    fn object_done(&self) {}
    /// `key` was written while it was being copied: the copy was discarded
    /// and the newer version kept; `again` if it is inspected once more.
    fn changed(&self, _key: &str, _again: bool) {}
    /// `key` failed.
    fn failed(&self, _key: &str, _error: &OpError) {}
}

/// Reports nothing.
pub struct Quiet;

impl Events for Quiet {}

/// How many objects ended which way.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// `(outcome, count)`, in the order outcomes first happened.
    pub counts: Vec<(&'static str, u64)>,
    /// Objects that failed, with why (run again to retry them).
    pub failed: Vec<(String, String)>,
}

impl Report {
    fn add(&mut self, what: &'static str) {
        match self.counts.iter_mut().find(|(w, _)| *w == what) {
            Some((_, n)) => *n += 1,
            None => self.counts.push((what, 1)),
        }
    }

    /// How many objects ended `what` way.
    pub fn count(&self, what: &str) -> u64 {
        self.counts
            .iter()
            .find(|(w, _)| *w == what)
            .map_or(0, |(_, n)| *n)
    }
}

/// Counted when a copy lost the race with a newer write.
pub const CHANGED_WHILE_COPYING: &str = "changed while being copied (newer version kept)";

/// What one inspection of an object did.
enum Step {
    /// Done with the object, this way.
    Finished(&'static str),
    /// It changed before the copy could commit.
    Changed,
}

impl Step {
    /// `done` if the copy committed.
    fn copied(copied: copy::Copied, done: &'static str) -> Step {
        match copied {
            copy::Copied::Done => Step::Finished(done),
            copy::Copied::Changed => Step::Changed,
        }
    }
}

/// Every key under `prefix`, page by page.
async fn keys(client: &Client, bucket: &str, prefix: &str) -> Result<Vec<String>, OpError> {
    let mut keys = Vec::new();
    let mut pages = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| OpError::storage("ListObjectsV2", &e))?;
        keys.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
    }
    Ok(keys)
}

async fn head(client: &Client, bucket: &str, key: &str) -> Result<HeadObjectOutput, OpError> {
    client
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| OpError::storage("HeadObject", &e))
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

/// Runs `per_object` over every key under `prefix`, a few at a time; an object
/// that changes under a copy is inspected again, up to [`ATTEMPTS_PER_OBJECT`]
/// times.
async fn for_each_object<F, Fut>(
    client: &Client,
    bucket: &str,
    prefix: &str,
    events: &dyn Events,
    per_object: F,
) -> Result<Report, OpError>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<Step, OpError>>,
{
    let report = Mutex::new(Report::default());
    let record = |f: &dyn Fn(&mut Report)| {
        if let Ok(mut report) = report.lock() {
            f(&mut report);
        }
    };
    let keys = keys(client, bucket, prefix).await?;
    stream::iter(keys)
        .for_each_concurrent(CONCURRENCY, |key| {
            let (record, per_object) = (&record, &per_object);
            async move {
                let mut outcome = Err(OpError::Invalid(format!(
                    "it was written again during each of {ATTEMPTS_PER_OBJECT} copies; \
                     run again to process it"
                )));
                for attempt in 1..=ATTEMPTS_PER_OBJECT {
                    match per_object(key.clone()).await {
                        Ok(Step::Finished(what)) => {
                            outcome = Ok(what);
                            break;
                        }
                        Ok(Step::Changed) => {
                            record(&|r| r.add(CHANGED_WHILE_COPYING));
                            events.changed(&key, attempt < ATTEMPTS_PER_OBJECT);
                        }
                        Err(e) => {
                            outcome = Err(e);
                            break;
                        }
                    }
                }
                match outcome {
                    Ok(what) => record(&|r| r.add(what)),
                    Err(e) => {
                        events.failed(&key, &e);
                        record(&|r| r.failed.push((key.clone(), e.to_string())));
                    }
                }
                events.object_done();
            }
        })
        .await;
    report
        .into_inner()
        .map_err(|_| OpError::Invalid("a worker panicked".into()))
}
