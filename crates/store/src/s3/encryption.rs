//! Which server-side encryption a write gets, and the data keys that go with it.
//!
//! The wrapped data key is bound to the bucket (the provider's `context`), which is why SSE
//! segments are hard-linked only within a bucket.

use std::sync::Arc;

use s3s::dto::ServerSideEncryption;
use s3s::{S3Error, S3Result, s3_error};
use zeroize::Zeroizing;

use super::S3Impl;
use super::errors::kms_error;
use crate::StoreError;
use crate::engine::{BucketRecord, SseRec};

/// What a write asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SseSpec {
    pub(super) algorithm: String,
    pub(super) key_id: String,
    pub(super) bucket_key_enabled: bool,
}

/// The context every data key of `bucket` is wrapped with.
fn sse_context(bucket: &str) -> Vec<u8> {
    format!("sealdrop-store/sse/v1 bucket={bucket}").into_bytes()
}

/// The `x-amz-server-side-encryption*` response values of an object or upload:
/// (algorithm, KMS key id, bucket-key flag).
pub(super) fn sse_output(
    rec: Option<&SseRec>,
) -> (Option<ServerSideEncryption>, Option<String>, Option<bool>) {
    match rec {
        None => (None, None, None),
        Some(r) => (
            Some(ServerSideEncryption::from(r.algorithm.clone())),
            (r.algorithm == ServerSideEncryption::AWS_KMS).then(|| r.key_id.clone()),
            r.bucket_key_enabled.then_some(true),
        ),
    }
}

/// `$output { $fields }` with the `x-amz-server-side-encryption*` fields set from `$sse` (an
/// `Option<&SseRec>`, see [`sse_output`]) and every other field defaulted: every response of
/// a write, a read or an upload reports the encryption the same way.
macro_rules! with_sse {
    ($sse:expr, $output:ident { $($field:ident: $value:expr),* $(,)? }) => {{
        let (server_side_encryption, ssekms_key_id, bucket_key_enabled) =
            $crate::s3::encryption::sse_output($sse);
        $output {
            $($field: $value,)*
            server_side_encryption,
            ssekms_key_id,
            bucket_key_enabled,
            ..Default::default()
        }
    }};
}
pub(super) use with_sse;

fn key_id_needs_kms() -> S3Error {
    s3_error!(
        InvalidArgument,
        "x-amz-server-side-encryption-aws-kms-key-id requires x-amz-server-side-encryption: aws:kms"
    )
}

/// Runs a key-provider call on the blocking pool.
async fn provider_call<T, F>(f: F) -> S3Result<T>
where
    F: FnOnce() -> Result<T, crate::SseKeyError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| S3Error::from(StoreError::Join))?
        .map_err(kms_error)
}

/// The SSE headers of a write (PutObject, CopyObject, CreateMultipartUpload), as sent.
#[derive(Debug, Clone, Copy)]
pub(super) struct SseRequest<'a> {
    pub(super) algorithm: Option<&'a ServerSideEncryption>,
    pub(super) key_id: Option<&'a str>,
    pub(super) bucket_key_enabled: Option<bool>,
}

/// The [`SseRequest`] of a write's input (the same fields in every input that has them).
macro_rules! sse_request {
    ($input:expr) => {
        $crate::s3::encryption::SseRequest {
            algorithm: $input.server_side_encryption.as_ref(),
            key_id: $input.ssekms_key_id.as_deref(),
            bucket_key_enabled: $input.bucket_key_enabled,
        }
    };
}
pub(super) use sse_request;

impl S3Impl {
    /// SSE requested by headers or, failing that, by the bucket default.
    pub(super) fn resolve_sse(
        &self,
        bucket: &BucketRecord,
        request: SseRequest<'_>,
    ) -> S3Result<Option<SseSpec>> {
        let SseRequest {
            algorithm: alg,
            key_id,
            bucket_key_enabled,
        } = request;
        let provider = &self.inner.config.sse;
        let key_id = key_id.map(str::trim).filter(|k| !k.is_empty());
        match alg.map(ServerSideEncryption::as_str) {
            Some(ServerSideEncryption::AWS_KMS) => Ok(Some(SseSpec {
                algorithm: ServerSideEncryption::AWS_KMS.to_owned(),
                key_id: key_id.map_or_else(|| provider.default_key_id(), str::to_owned),
                bucket_key_enabled: bucket_key_enabled.unwrap_or(false),
            })),
            Some(ServerSideEncryption::AES256) => {
                if key_id.is_some() {
                    return Err(key_id_needs_kms());
                }
                Ok(Some(SseSpec {
                    algorithm: ServerSideEncryption::AES256.to_owned(),
                    key_id: provider.default_key_id(),
                    bucket_key_enabled: false,
                }))
            }
            Some(ServerSideEncryption::AWS_KMS_DSSE) => Err(s3_error!(
                NotImplemented,
                "aws:kms:dsse is not supported by this store"
            )),
            Some(_) => Err(s3_error!(
                InvalidArgument,
                "The encryption method specified is not supported"
            )),
            None => {
                if key_id.is_some() {
                    return Err(key_id_needs_kms());
                }
                Ok(bucket.encryption.as_ref().map(|e| SseSpec {
                    algorithm: e.algorithm.clone(),
                    key_id: e
                        .key_id
                        .clone()
                        .unwrap_or_else(|| provider.default_key_id()),
                    bucket_key_enabled: bucket_key_enabled.unwrap_or(e.bucket_key_enabled),
                }))
            }
        }
    }

    /// The encryption of a new object or upload in `bucket` (which must exist): what
    /// `request` or the bucket default asks for, with a new data key.
    pub(super) async fn new_write_sse(
        &self,
        bucket: &str,
        request: SseRequest<'_>,
    ) -> S3Result<(Option<Zeroizing<[u8; 32]>>, Option<SseRec>)> {
        let bucket_rec = self.bucket(bucket).await?;
        let spec = self.resolve_sse(&bucket_rec, request)?;
        self.new_data_key(spec.as_ref(), bucket).await
    }

    /// A new data key for `spec` (if any), with the record to store.
    pub(super) async fn new_data_key(
        &self,
        spec: Option<&SseSpec>,
        bucket: &str,
    ) -> S3Result<(Option<Zeroizing<[u8; 32]>>, Option<SseRec>)> {
        let Some(spec) = spec else {
            return Ok((None, None));
        };
        let provider = Arc::clone(&self.inner.config.sse);
        let key_id = spec.key_id.clone();
        let ctx = sse_context(bucket);
        let (dk, wrapped) =
            provider_call(move || provider.generate_data_key(&key_id, &ctx)).await?;
        let rec = SseRec {
            algorithm: spec.algorithm.clone(),
            key_id: spec.key_id.clone(),
            wrapped_key: hex::encode(wrapped),
            bucket_key_enabled: spec.bucket_key_enabled,
        };
        Ok((Some(dk), Some(rec)))
    }

    /// The data key of an object or upload of `bucket` (none if it is not encrypted).
    pub(super) async fn unwrap_data_key(
        &self,
        rec: Option<&SseRec>,
        bucket: &str,
    ) -> S3Result<Option<Zeroizing<[u8; 32]>>> {
        let Some(rec) = rec else { return Ok(None) };
        let wrapped = hex::decode(&rec.wrapped_key)
            .map_err(|_| S3Error::from(StoreError::Corrupt("wrapped key".into())))?;
        let provider = Arc::clone(&self.inner.config.sse);
        let key_id = rec.key_id.clone();
        let ctx = sse_context(bucket);
        let dk = provider_call(move || provider.decrypt_data_key(&key_id, &wrapped, &ctx)).await?;
        Ok(Some(dk))
    }
}
