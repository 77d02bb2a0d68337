//! Object storage through `aws-sdk-s3`: the control-plane calls the broker makes
//! itself (HEAD, list, delete, create/complete/abort multipart) and the presigned
//! requests it hands to clients. The broker never carries object bytes.
//!
//! Two SDK clients share credentials and region: one for calls the broker makes,
//! one whose endpoint is what browsers reach (they differ when storage sits
//! behind another address for clients, e.g. the embedded store or a proxy).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::{PresignedRequest as SdkPresigned, PresigningConfig};
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ServerSideEncryption};
use sealdrop_api::{PresignedMethod, PresignedRequest};

/// What went wrong talking to storage.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("not found")]
    NotFound,
    #[error("storage is unreachable: {0}")]
    Unavailable(String),
    #[error("storage refused the request: {code}: {message}")]
    Upstream { code: String, message: String },
    #[error("storage request could not be built: {0}")]
    Invalid(String),
}

fn classify<E: ProvideErrorMetadata, R>(err: SdkError<E, R>) -> StorageError {
    match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => {
            StorageError::Unavailable(match &err {
                SdkError::TimeoutError(_) => "timed out".to_owned(),
                _ => "connection failed".to_owned(),
            })
        }
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("Unknown").to_owned();
            match code.as_str() {
                "NoSuchKey" | "NotFound" | "NoSuchUpload" => StorageError::NotFound,
                _ => StorageError::Upstream {
                    message: service.err().message().unwrap_or("").to_owned(),
                    code,
                },
            }
        }
        SdkError::ResponseError(_) => StorageError::Upstream {
            code: "InvalidResponse".into(),
            message: "storage sent a response that could not be read".into(),
        },
        _ => StorageError::Invalid(err.to_string()),
    }
}

/// What a prefix holds, from [`Storage::usage`].
#[derive(Clone, Debug, Default)]
pub struct Usage {
    /// Stored bytes.
    pub bytes: u64,
    /// Last modification of the watched keys that exist, in seconds.
    pub modified: HashMap<String, i64>,
}

/// How a stored object looks from a HEAD request.
#[derive(Clone, Debug, Default)]
pub struct ObjectHead {
    /// Stored bytes.
    pub size: u64,
    /// RFC 3339.
    pub last_modified: Option<String>,
    /// The same, in seconds since the Unix epoch.
    pub last_modified_secs: Option<i64>,
    /// Stored content type.
    pub content_type: Option<String>,
    /// ETag.
    pub etag: Option<String>,
    /// User metadata (keys without `x-amz-meta-`).
    pub metadata: BTreeMap<String, String>,
    /// `x-amz-server-side-encryption`.
    pub server_side_encryption: Option<String>,
    /// `x-amz-server-side-encryption-aws-kms-key-id`.
    pub sse_kms_key_id: Option<String>,
}

/// One entry of a listing.
#[derive(Clone, Debug)]
pub struct Listed {
    /// The key.
    pub key: String,
    /// Stored bytes.
    pub size: u64,
    /// RFC 3339.
    pub last_modified: Option<String>,
}

/// Server-side encryption to request for an upload.
#[derive(Clone, Debug)]
pub struct SseKms {
    /// The KMS key id.
    pub key_id: String,
}

/// What an upload stores besides its bytes.
#[derive(Clone, Debug, Default)]
pub struct UploadHeaders {
    /// Content type.
    pub content_type: String,
    /// User metadata (without `x-amz-meta-`).
    pub metadata: BTreeMap<String, String>,
    /// SSE-KMS, if requested.
    pub sse: Option<SseKms>,
}

impl UploadHeaders {
    fn user_metadata(&self) -> Option<HashMap<String, String>> {
        (!self.metadata.is_empty()).then(|| self.metadata.clone().into_iter().collect())
    }

    fn sse_algorithm(&self) -> Option<ServerSideEncryption> {
        self.sse.as_ref().map(|_| ServerSideEncryption::AwsKms)
    }

    fn sse_key_id(&self) -> Option<String> {
        self.sse.as_ref().map(|sse| sse.key_id.clone())
    }
}

/// Storage access for one bucket.
#[derive(Clone)]
pub struct Storage {
    client: Client,
    presigner: Client,
    bucket: String,
    ttl: Duration,
}

fn rfc3339(t: &aws_smithy_types::DateTime) -> Option<String> {
    t.fmt(aws_smithy_types::date_time::Format::DateTime).ok()
}

impl Storage {
    /// Storage over prepared SDK clients (`presigner` carries the public endpoint).
    pub fn new(client: Client, presigner: Client, bucket: String, ttl: Duration) -> Storage {
        Storage {
            client,
            presigner,
            bucket,
            ttl,
        }
    }

    /// The SDK client the broker uses (for operator commands).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    fn presigning(&self) -> Result<PresigningConfig, StorageError> {
        PresigningConfig::expires_in(self.ttl).map_err(|e| StorageError::Invalid(e.to_string()))
    }

    /// Readiness: the bucket answers.
    pub async fn check(&self) -> Result<(), StorageError> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map(|_| ())
            .map_err(classify)
    }

    /// HEAD; `None` if the object does not exist.
    pub async fn head(&self, key: &str) -> Result<Option<ObjectHead>, StorageError> {
        let out = match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) => {
                return match classify(e) {
                    StorageError::NotFound => Ok(None),
                    other => Err(other),
                };
            }
        };
        Ok(Some(ObjectHead {
            size: out.content_length().unwrap_or(0).max(0) as u64,
            last_modified: out.last_modified().and_then(rfc3339),
            last_modified_secs: out.last_modified().map(|t| t.secs()),
            content_type: out.content_type().map(str::to_owned),
            etag: out.e_tag().map(str::to_owned),
            metadata: out
                .metadata()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                        .collect()
                })
                .unwrap_or_default(),
            server_side_encryption: out.server_side_encryption().map(|s| s.as_str().to_owned()),
            sse_kms_key_id: out.ssekms_key_id().map(str::to_owned),
        }))
    }

    /// One page of keys under `prefix`.
    pub async fn list(
        &self,
        prefix: &str,
        cursor: Option<String>,
        limit: i32,
    ) -> Result<(Vec<Listed>, Option<String>), StorageError> {
        let out = self.list_page(prefix, cursor, Some(limit)).await?;
        let objects = out
            .contents()
            .iter()
            .filter_map(|o| {
                Some(Listed {
                    key: o.key()?.to_owned(),
                    size: o.size().unwrap_or(0).max(0) as u64,
                    last_modified: o.last_modified().and_then(rfc3339),
                })
            })
            .collect();
        let next = out
            .is_truncated()
            .unwrap_or(false)
            .then(|| out.next_continuation_token().map(str::to_owned))
            .flatten();
        Ok((objects, next))
    }

    async fn list_page(
        &self,
        prefix: &str,
        cursor: Option<String>,
        limit: Option<i32>,
    ) -> Result<aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output, StorageError> {
        self.client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .set_continuation_token(cursor)
            .set_max_keys(limit)
            .send()
            .await
            .map_err(classify)
    }

    /// What is stored under `prefix`: the bytes, and when each of the
    /// `watched` keys that exists was last modified (seconds since the Unix
    /// epoch). One LIST per 1,000 objects.
    pub async fn usage(&self, prefix: &str, watched: &[&str]) -> Result<Usage, StorageError> {
        let mut usage = Usage::default();
        let mut cursor = None;
        loop {
            let out = self.list_page(prefix, cursor, None).await?;
            for object in out.contents() {
                usage.bytes = usage
                    .bytes
                    .saturating_add(object.size().unwrap_or(0).max(0) as u64);
                if let (Some(key), Some(modified)) = (object.key(), object.last_modified())
                    && watched.contains(&key)
                {
                    usage.modified.insert(key.to_owned(), modified.secs());
                }
            }
            cursor = out.next_continuation_token().map(str::to_owned);
            if !out.is_truncated().unwrap_or(false) || cursor.is_none() {
                return Ok(usage);
            }
        }
    }

    /// Multipart uploads in the bucket started more than `age` ago (at most a
    /// thousand, oldest listing order), as `(key, upload id)`.
    pub async fn multipart_uploads_older_than(
        &self,
        age: Duration,
    ) -> Result<Vec<(String, String)>, StorageError> {
        let out = self
            .client
            .list_multipart_uploads()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(classify)?;
        let cutoff = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .saturating_sub(age)
            .as_secs() as i64;
        Ok(out
            .uploads()
            .iter()
            .filter(|u| u.initiated().is_some_and(|t| t.secs() < cutoff))
            .filter_map(|u| Some((u.key()?.to_owned(), u.upload_id()?.to_owned())))
            .collect())
    }

    /// Deletes an object.
    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map(|_| ())
            .map_err(classify)
    }

    /// A presigned single-request upload with these headers signed, and its
    /// `Content-Length`: the body must be exactly `len` bytes, so the size the
    /// broker checked is the size storage accepts.
    pub async fn presign_put(
        &self,
        key: &str,
        len: u64,
        headers: &UploadHeaders,
    ) -> Result<PresignedRequest, StorageError> {
        let len = i64::try_from(len)
            .map_err(|_| StorageError::Invalid(format!("{len} bytes is too large")))?;
        let request = self
            .presigner
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_length(len)
            .content_type(&headers.content_type)
            .set_metadata(headers.user_metadata())
            .set_server_side_encryption(headers.sse_algorithm())
            .set_ssekms_key_id(headers.sse_key_id());
        let presigned = request
            .presigned(self.presigning()?)
            .await
            .map_err(classify)?;
        Ok(convert(PresignedMethod::Put, &presigned))
    }

    /// Starts a multipart upload with these headers; returns the upload id.
    pub async fn create_multipart(
        &self,
        key: &str,
        headers: &UploadHeaders,
    ) -> Result<String, StorageError> {
        let request = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .content_type(&headers.content_type)
            .set_metadata(headers.user_metadata())
            .set_server_side_encryption(headers.sse_algorithm())
            .set_ssekms_key_id(headers.sse_key_id());
        let out = request.send().await.map_err(classify)?;
        out.upload_id()
            .map(str::to_owned)
            .ok_or_else(|| StorageError::Upstream {
                code: "InvalidResponse".into(),
                message: "CreateMultipartUpload returned no upload id".into(),
            })
    }

    /// A presigned `UploadPart` whose body must be exactly `len` bytes (the
    /// length is signed, as for [`Storage::presign_put`]).
    pub async fn presign_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: u32,
        len: u64,
    ) -> Result<PresignedRequest, StorageError> {
        let len = i64::try_from(len)
            .map_err(|_| StorageError::Invalid(format!("{len} bytes is too large")))?;
        let presigned = self
            .presigner
            .upload_part()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .content_length(len)
            .part_number(i32::try_from(part_number).map_err(|_| {
                StorageError::Invalid(format!("part number {part_number} out of range"))
            })?)
            .presigned(self.presigning()?)
            .await
            .map_err(classify)?;
        Ok(convert(PresignedMethod::Put, &presigned))
    }

    /// Completes a multipart upload; returns the object's ETag.
    pub async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[(u32, String)],
    ) -> Result<String, StorageError> {
        let parts = parts
            .iter()
            .map(|(n, etag)| {
                CompletedPart::builder()
                    .part_number(*n as i32)
                    .e_tag(etag)
                    .build()
            })
            .collect();
        let out = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(classify)?;
        Ok(out.e_tag().unwrap_or_default().to_owned())
    }

    /// Aborts a multipart upload.
    pub async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<(), StorageError> {
        self.client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await
            .map(|_| ())
            .map_err(classify)
    }

    /// A presigned GET that browsers save as `filename`.
    pub async fn presign_get(
        &self,
        key: &str,
        filename: &str,
    ) -> Result<PresignedRequest, StorageError> {
        let disposition = format!(
            "attachment; filename*=UTF-8''{}",
            percent_encoding::utf8_percent_encode(filename, percent_encoding::NON_ALPHANUMERIC)
        );
        let presigned = self
            .presigner
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .response_content_disposition(disposition)
            .presigned(self.presigning()?)
            .await
            .map_err(classify)?;
        Ok(convert(PresignedMethod::Get, &presigned))
    }
}

fn convert(method: PresignedMethod, presigned: &SdkPresigned) -> PresignedRequest {
    PresignedRequest {
        method,
        url: presigned.uri().to_owned(),
        headers: presigned
            .headers()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
            .collect(),
    }
}
