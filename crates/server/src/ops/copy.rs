//! Copying an object onto itself with new metadata or encryption, without
//! ever bringing back an older version (see the [module docs](super)).

use std::collections::HashMap;

use aws_sdk_s3::Client;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, MetadataDirective, ServerSideEncryption,
};

use super::{CopyOptions, OpError};

/// What an in-place copy changes.
pub(crate) enum Change {
    /// Encrypt at rest with SSE-KMS under this key, with this user metadata.
    Encrypt {
        kms_key: String,
        metadata: HashMap<String, String>,
    },
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
pub(crate) enum Copied {
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
) -> Result<Option<T>, OpError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match request.await {
        Ok(out) => Ok(Some(out)),
        Err(err) if lost_race(&err) => Ok(None),
        Err(err) => Err(OpError::storage(what, &err)),
    }
}

/// Copies an object onto itself with `change`, reading and writing only the
/// version `head` describes (see the module docs).
pub(crate) async fn copy_in_place(
    client: &Client,
    bucket: &str,
    key: &str,
    head: &HeadObjectOutput,
    change: &Change,
    copy: CopyOptions,
) -> Result<Copied, OpError> {
    let size = head.content_length().unwrap_or(0).max(0) as u64;
    let Some(etag) = head.e_tag() else {
        return Err(OpError::Invalid(format!(
            "storage returned no ETag for {key}; cannot copy it safely"
        )));
    };
    let (sse, kms_key, metadata) = match change {
        Change::Encrypt { kms_key, metadata } => (
            Some(ServerSideEncryption::AwsKms),
            Some(kms_key.clone()),
            metadata.clone(),
        ),
        Change::Metadata(metadata) => (
            head.server_side_encryption().cloned(),
            head.ssekms_key_id().map(str::to_owned),
            metadata.clone(),
        ),
    };
    if size <= copy.cutoff {
        let request = client
            .copy_object()
            .bucket(bucket)
            .key(key)
            .copy_source(copy_source(bucket, key))
            .copy_source_if_match(etag)
            .if_match(etag)
            .set_server_side_encryption(sse)
            .set_ssekms_key_id(kms_key)
            .set_bucket_key_enabled(head.bucket_key_enabled())
            // REPLACE drops every stored header not given again: give them again.
            .metadata_directive(MetadataDirective::Replace)
            .set_metadata(Some(metadata))
            .set_content_type(head.content_type().map(str::to_owned))
            .set_cache_control(head.cache_control().map(str::to_owned))
            .set_content_disposition(head.content_disposition().map(str::to_owned))
            .set_content_encoding(head.content_encoding().map(str::to_owned))
            .set_content_language(head.content_language().map(str::to_owned));
        return Ok(match conditional("CopyObject", request.send()).await? {
            Some(_) => Copied::Done,
            None => Copied::Changed,
        });
    }

    // Beyond the cutoff: a multipart upload of the same key, parts copied
    // server-side, completed only if the key still holds what was copied.
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
        .map_err(|e| OpError::storage("CreateMultipartUpload", &e))?;
    let upload_id = upload
        .upload_id()
        .ok_or_else(|| OpError::Invalid("CreateMultipartUpload returned no upload id".into()))?;
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
        Ok::<_, OpError>(
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
