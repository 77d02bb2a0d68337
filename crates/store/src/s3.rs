//! The `s3s::S3` implementation: maps S3 operations onto the engine.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use base64::Engine as _;
use http::StatusCode;
use md5::{Digest, Md5};
use s3s::dto::*;
use s3s::{S3, S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};
use zeroize::Zeroizing;

use crate::checksum::{self, Algo};
use crate::engine::{
    BucketEncryption, BucketRecord, ContentHeaders, Engine, ListCursor, ObjectRecord, PartRec,
    PutCondition, SegmentRec, SseRec, UploadRecord, now_ms, random_id,
};
use crate::io::{ReadPlan, SegmentSink, WrittenSegment, open_reader};
use crate::{Inner, SseKeyError, StoreError};

const MAX_META_BYTES: usize = 2048;
const MAX_PARTS: i32 = 10_000;

pub(crate) struct S3Impl {
    inner: Arc<Inner>,
}

impl S3Impl {
    pub(crate) fn new(inner: Arc<Inner>) -> Self {
        Self { inner }
    }

    fn engine(&self) -> Arc<Engine> {
        Arc::clone(&self.inner.engine)
    }
}

async fn blocking<T, F>(f: F) -> Result<T, StoreError>
where
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(StoreError::join)?
}

fn custom_error(code: &str, status: StatusCode, msg: impl Into<String>) -> S3Error {
    let code = S3ErrorCode::from_bytes(code.as_bytes()).unwrap_or(S3ErrorCode::InternalError);
    let mut e = S3Error::with_message(code, msg.into());
    e.set_status_code(status);
    e
}

fn kms_error(e: SseKeyError) -> S3Error {
    match e {
        SseKeyError::NotFound(id) => custom_error(
            "KMS.NotFoundException",
            StatusCode::BAD_REQUEST,
            format!("Key '{id}' does not exist"),
        ),
        SseKeyError::Disabled(id) => custom_error(
            "KMS.DisabledException",
            StatusCode::BAD_REQUEST,
            format!("Key '{id}' is disabled"),
        ),
        SseKeyError::InvalidCiphertext => custom_error(
            "KMS.InvalidCiphertextException",
            StatusCode::INTERNAL_SERVER_ERROR,
            "the object's data key could not be decrypted",
        ),
        SseKeyError::Other(_) => {
            tracing::warn!(error = %e, "key provider failure");
            custom_error(
                "KMS.KMSInternalException",
                StatusCode::INTERNAL_SERVER_ERROR,
                "key provider failure",
            )
        }
    }
}

impl From<StoreError> for S3Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NoSuchBucket => {
                s3_error!(NoSuchBucket, "The specified bucket does not exist")
            }
            StoreError::NoSuchKey => s3_error!(NoSuchKey, "The specified key does not exist."),
            StoreError::NoSuchUpload => s3_error!(
                NoSuchUpload,
                "The specified multipart upload does not exist. The upload ID might be invalid, or the multipart upload might have been aborted or completed."
            ),
            StoreError::BucketNotEmpty => s3_error!(
                BucketNotEmpty,
                "The bucket you tried to delete is not empty"
            ),
            StoreError::PreconditionFailed => {
                s3_error!(
                    PreconditionFailed,
                    "At least one of the pre-conditions you specified did not hold"
                )
            }
            StoreError::Conflict => s3_error!(
                OperationAborted,
                "A conflicting operation is in progress; retry"
            ),
            StoreError::Busy => s3_error!(SlowDown, "Please reduce your request rate."),
            StoreError::TooLarge => s3_error!(
                EntityTooLarge,
                "Your proposed upload exceeds the maximum allowed size"
            ),
            StoreError::InvalidPart(m) => S3Error::with_message(S3ErrorCode::InvalidPart, m),
            StoreError::InvalidPartOrder => {
                s3_error!(
                    InvalidPartOrder,
                    "The list of parts was not in ascending order. Parts must be ordered by part number."
                )
            }
            StoreError::EntityTooSmall => {
                s3_error!(
                    EntityTooSmall,
                    "Your proposed upload is smaller than the minimum allowed object size."
                )
            }
            StoreError::InvalidBucketName(_) => s3_error!(InvalidBucketName),
            StoreError::Body(m) => {
                tracing::debug!(error = %m, "request body failed");
                s3_error!(
                    IncompleteBody,
                    "The request body could not be read completely"
                )
            }
            StoreError::Kms(k) => kms_error(k),
            StoreError::Tampered => {
                tracing::error!("stored object data failed authentication");
                s3_error!(InternalError, "stored object data failed authentication")
            }
            other => {
                tracing::error!(error = %other, "internal error");
                s3_error!(
                    InternalError,
                    "We encountered an internal error. Please try again."
                )
            }
        }
    }
}

fn ts(ms: i64) -> Timestamp {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    Timestamp::from(t)
}

fn etag(v: &str) -> ETag {
    ETag::Strong(v.to_owned())
}

fn validate_key(key: &str) -> S3Result<()> {
    if key.is_empty() {
        return Err(s3_error!(InvalidArgument, "object key must not be empty"));
    }
    if key.len() > 1024 {
        return Err(s3_error!(KeyTooLongError, "Your key is too long"));
    }
    Ok(())
}

fn check_metadata(meta: Option<HashMap<String, String>>) -> S3Result<BTreeMap<String, String>> {
    let meta: BTreeMap<String, String> = meta.unwrap_or_default().into_iter().collect();
    let size: usize = meta.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > MAX_META_BYTES {
        return Err(s3_error!(
            MetadataTooLarge,
            "Your metadata headers exceed the maximum allowed metadata size"
        ));
    }
    Ok(meta)
}

fn reject_sse_c(alg: Option<&String>) -> S3Result<()> {
    if alg.is_some() {
        return Err(s3_error!(
            NotImplemented,
            "SSE-C is not supported by this store"
        ));
    }
    Ok(())
}

/// What a write asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SseSpec {
    algorithm: String,
    key_id: String,
    bucket_key_enabled: bool,
}

fn sse_context(bucket: &str) -> Vec<u8> {
    format!("sealdrop-store/sse/v1 bucket={bucket}").into_bytes()
}

fn sse_output(
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

fn md5_hex_of_concat(parts: &[&str]) -> Result<String, StoreError> {
    let mut h = Md5::new();
    for p in parts {
        let raw = hex::decode(p).map_err(|_| StoreError::Corrupt("bad part ETag".into()))?;
        h.update(&raw);
    }
    Ok(format!("{}-{}", hex::encode(h.finalize()), parts.len()))
}

fn verify_content_md5(content_md5: Option<&String>, written: &WrittenSegment) -> S3Result<()> {
    if let Some(b64) = content_md5 {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|_| s3_error!(InvalidDigest, "The Content-MD5 you specified is not valid."))?;
        if raw.len() != 16 {
            return Err(s3_error!(
                InvalidDigest,
                "The Content-MD5 you specified is not valid."
            ));
        }
        if raw.as_slice() != written.plain_md5 {
            return Err(s3_error!(
                BadDigest,
                "The Content-MD5 you specified did not match what we received."
            ));
        }
    }
    Ok(())
}

/// Preconditions of GET/HEAD (RFC 9110 order: If-Match, If-Unmodified-Since, If-None-Match,
/// If-Modified-Since).
fn check_read_conditions(
    rec: &ObjectRecord,
    if_match: Option<&ETagCondition>,
    if_unmodified_since: Option<&Timestamp>,
    if_none_match: Option<&ETagCondition>,
    if_modified_since: Option<&Timestamp>,
) -> S3Result<()> {
    let lm_secs = rec.last_modified_ms.div_euclid(1000);
    let secs = |t: &Timestamp| time::OffsetDateTime::from(t.clone()).unix_timestamp();
    let matches = |c: &ETagCondition| match c {
        ETagCondition::Any => true,
        ETagCondition::ETag(e) => e.value() == rec.etag,
    };
    if let Some(c) = if_match {
        if !matches(c) {
            return Err(s3_error!(
                PreconditionFailed,
                "At least one of the pre-conditions you specified did not hold"
            ));
        }
    } else if let Some(t) = if_unmodified_since
        && lm_secs > secs(t)
    {
        return Err(s3_error!(
            PreconditionFailed,
            "At least one of the pre-conditions you specified did not hold"
        ));
    }
    if let Some(c) = if_none_match {
        if matches(c) {
            return Err(S3Error::new(S3ErrorCode::NotModified));
        }
    } else if let Some(t) = if_modified_since
        && lm_secs <= secs(t)
    {
        return Err(S3Error::new(S3ErrorCode::NotModified));
    }
    Ok(())
}

fn invalid_part_number() -> S3Error {
    custom_error(
        "InvalidPartNumber",
        StatusCode::RANGE_NOT_SATISFIABLE,
        "The requested partnumber is not satisfiable",
    )
}

/// Byte range of part `n` (1-based) of an object.
fn part_range(rec: &ObjectRecord, n: i32) -> S3Result<(u64, u64)> {
    let idx = usize::try_from(n)
        .ok()
        .and_then(|n| n.checked_sub(1))
        .ok_or_else(|| {
            s3_error!(
                InvalidArgument,
                "Part number must be an integer between 1 and 10000, inclusive"
            )
        })?;
    if rec.parts_count.is_none() {
        if idx == 0 {
            return Ok((0, rec.size));
        }
        return Err(invalid_part_number());
    }
    let seg = rec.segments.get(idx).ok_or_else(invalid_part_number)?;
    let start: u64 = rec.segments[..idx].iter().map(|s| s.len).sum();
    Ok((start, start + seg.len))
}

/// Percent-encoding for `encoding-type=url` listings.
fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn parse_copy_source(src: &CopySource) -> S3Result<(String, String)> {
    match src {
        CopySource::Bucket {
            bucket,
            key,
            version_id,
        } => {
            if version_id.as_deref().is_some_and(|v| v != "null") {
                return Err(s3_error!(NotImplemented, "versioning is not supported"));
            }
            Ok((bucket.to_string(), key.to_string()))
        }
        _ => Err(s3_error!(
            NotImplemented,
            "only bucket/key copy sources are supported"
        )),
    }
}

fn parse_copy_range(r: &str, size: u64) -> S3Result<(u64, u64)> {
    let err = || {
        s3_error!(
            InvalidArgument,
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy"
        )
    };
    let rest = r.strip_prefix("bytes=").ok_or_else(err)?;
    let (a, b) = rest.split_once('-').ok_or_else(err)?;
    let a: u64 = a.trim().parse().map_err(|_| err())?;
    let b: u64 = b.trim().parse().map_err(|_| err())?;
    if a > b {
        return Err(err());
    }
    if b >= size {
        return Err(s3_error!(
            InvalidRange,
            "The requested range is not satisfiable"
        ));
    }
    Ok((a, b + 1))
}

fn copy_source_conditions(
    rec: &ObjectRecord,
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
) -> S3Result<()> {
    let matches = |c: &ETagCondition| match c {
        ETagCondition::Any => true,
        ETagCondition::ETag(e) => e.value() == rec.etag,
    };
    if if_match.is_some_and(|c| !matches(c)) || if_none_match.is_some_and(matches) {
        return Err(s3_error!(
            PreconditionFailed,
            "At least one of the pre-conditions you specified did not hold"
        ));
    }
    Ok(())
}

/// The precondition of a write from its `If-Match` / `If-None-Match: *`.
fn write_condition(
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
) -> PutCondition {
    PutCondition {
        if_none_match_any: if_none_match.is_some_and(ETagCondition::is_any),
        if_match: if_match
            .and_then(|c| c.as_etag())
            .map(|e| e.value().to_owned()),
        expect_version: None,
    }
}

/// `If-Match` / `If-None-Match` of a CopyObject request: conditions on the
/// destination, which s3s 0.14 does not parse for this operation.
fn destination_conditions(
    headers: &http::HeaderMap,
) -> S3Result<(Option<ETagCondition>, Option<ETagCondition>)> {
    let parse = |name: http::HeaderName| {
        headers
            .get(&name)
            .map(|v| {
                ETagCondition::parse_http_header(v.as_bytes()).map_err(|_| {
                    S3Error::with_message(
                        S3ErrorCode::InvalidArgument,
                        format!("The {name} header is not a valid entity tag."),
                    )
                })
            })
            .transpose()
    };
    Ok((
        parse(http::header::IF_MATCH)?,
        parse(http::header::IF_NONE_MATCH)?,
    ))
}

impl S3Impl {
    async fn bucket(&self, bucket: &str) -> S3Result<BucketRecord> {
        let engine = self.engine();
        let b = bucket.to_owned();
        Ok(blocking(move || engine.get_bucket(&b)).await?)
    }

    /// SSE requested by headers or, failing that, by the bucket default.
    fn resolve_sse(
        &self,
        bucket: &BucketRecord,
        alg: Option<&ServerSideEncryption>,
        key_id: Option<&str>,
        bucket_key_enabled: Option<bool>,
    ) -> S3Result<Option<SseSpec>> {
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
                    return Err(s3_error!(
                        InvalidArgument,
                        "x-amz-server-side-encryption-aws-kms-key-id requires x-amz-server-side-encryption: aws:kms"
                    ));
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
                    return Err(s3_error!(
                        InvalidArgument,
                        "x-amz-server-side-encryption-aws-kms-key-id requires x-amz-server-side-encryption: aws:kms"
                    ));
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

    async fn new_data_key(
        &self,
        spec: &SseSpec,
        bucket: &str,
    ) -> S3Result<(Zeroizing<[u8; 32]>, SseRec)> {
        let provider = Arc::clone(&self.inner.config.sse);
        let key_id = spec.key_id.clone();
        let ctx = sse_context(bucket);
        let (dk, wrapped) =
            tokio::task::spawn_blocking(move || provider.generate_data_key(&key_id, &ctx))
                .await
                .map_err(|_| S3Error::from(StoreError::Join))?
                .map_err(kms_error)?;
        Ok((
            dk,
            SseRec {
                algorithm: spec.algorithm.clone(),
                key_id: spec.key_id.clone(),
                wrapped_key: hex::encode(wrapped),
                bucket_key_enabled: spec.bucket_key_enabled,
            },
        ))
    }

    async fn unwrap_data_key(
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
        let dk =
            tokio::task::spawn_blocking(move || provider.decrypt_data_key(&key_id, &wrapped, &ctx))
                .await
                .map_err(|_| S3Error::from(StoreError::Join))?
                .map_err(kms_error)?;
        Ok(Some(dk))
    }

    /// Streams `body` into a new durable segment and verifies Content-MD5 and flexible
    /// checksums. On any error the segment is gone again.
    #[allow(clippy::too_many_arguments)]
    async fn write_segment(
        &self,
        body: Option<StreamingBlob>,
        data_key: Option<&[u8; 32]>,
        plan: &checksum::Plan,
        content_length: Option<i64>,
        content_md5: Option<&String>,
        trailers: Option<&s3s::TrailingHeaders>,
    ) -> S3Result<WrittenSegment> {
        let max = self.inner.config.max_object_size;
        if content_length.is_some_and(|l| l < 0 || l as u64 > max) {
            return Err(StoreError::TooLarge.into());
        }
        let mut sink = SegmentSink::create(self.engine(), data_key, plan.algo, max).await?;
        if let Some(body) = body {
            sink.write_stream(body).await?;
        }
        if let Some(l) = content_length
            && l as u64 != sink.len()
        {
            return Err(s3_error!(
                IncompleteBody,
                "You did not provide the number of bytes specified by the Content-Length HTTP header"
            ));
        }
        let written = sink.finish().await?;
        let verified = verify_content_md5(content_md5, &written).and_then(|()| {
            plan.verify(written.checksum.as_ref(), trailers)
                .map_err(|m| S3Error::with_message(S3ErrorCode::BadDigest, m))
        });
        if let Err(e) = verified {
            self.inner.engine.retire([written.rec.id.clone()]);
            return Err(e);
        }
        Ok(written)
    }

    async fn commit(
        &self,
        bucket: &str,
        key: &str,
        rec: ObjectRecord,
        cond: PutCondition,
    ) -> S3Result<ObjectRecord> {
        let engine = self.engine();
        let (b, k) = (bucket.to_owned(), key.to_owned());
        let ids: Vec<String> = rec.segments.iter().map(|s| s.id.clone()).collect();
        let r = blocking(move || engine.commit_object(&b, &k, &rec, &cond).map(|()| rec)).await;
        match r {
            Ok(rec) => Ok(rec),
            Err(e) => {
                self.inner.engine.retire(ids);
                Err(e.into())
            }
        }
    }

    async fn get_pinned(
        &self,
        bucket: &str,
        key: &str,
    ) -> S3Result<(ObjectRecord, crate::engine::PinGuard)> {
        let engine = self.engine();
        let (b, k) = (bucket.to_owned(), key.to_owned());
        Ok(blocking(move || engine.get_object_pinned(&b, &k)).await?)
    }
}

fn object_headers(
    content_type: Option<String>,
    cache_control: Option<String>,
    content_disposition: Option<String>,
    content_encoding: Option<String>,
    content_language: Option<String>,
) -> ContentHeaders {
    // `aws-chunked` describes the request's transfer framing, not the object (S3 drops it).
    let content_encoding = content_encoding.and_then(|ce| {
        let kept: Vec<&str> = ce
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty() && !t.eq_ignore_ascii_case("aws-chunked"))
            .collect();
        (!kept.is_empty()).then(|| kept.join(", "))
    });
    ContentHeaders {
        content_type,
        cache_control,
        content_disposition,
        content_encoding,
        content_language,
    }
}

#[async_trait::async_trait]
impl S3 for S3Impl {
    // ----- buckets -----

    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        let bucket = req.input.bucket;
        let engine = self.engine();
        let b = bucket.clone();
        let created = blocking(move || engine.create_bucket(&b)).await?;
        if !created {
            return Err(s3_error!(
                BucketAlreadyOwnedByYou,
                "Your previous request to create the named bucket succeeded and you already own it."
            ));
        }
        Ok(S3Response::new(CreateBucketOutput {
            location: Some(format!("/{bucket}")),
        }))
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        self.bucket(&req.input.bucket).await?;
        Ok(S3Response::new(HeadBucketOutput {
            bucket_region: Some(self.inner.config.region.clone()),
            ..Default::default()
        }))
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        self.bucket(&req.input.bucket).await?;
        let region = &self.inner.config.region;
        let location_constraint =
            (region != "us-east-1").then(|| BucketLocationConstraint::from(region.clone()));
        Ok(S3Response::new(GetBucketLocationOutput {
            location_constraint,
        }))
    }

    async fn list_buckets(
        &self,
        _req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        let engine = self.engine();
        let list = blocking(move || engine.list_buckets()).await?;
        let region = self.inner.config.region.clone();
        let buckets = list
            .into_iter()
            .map(|(name, rec)| Bucket {
                name: Some(name),
                creation_date: Some(ts(rec.created_ms)),
                bucket_region: Some(region.clone()),
            })
            .collect();
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(buckets),
            owner: Some(Owner {
                display_name: Some("sealdrop".into()),
                id: Some("sealdrop".into()),
            }),
            ..Default::default()
        }))
    }

    async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        let engine = self.engine();
        let b = req.input.bucket;
        blocking(move || engine.delete_bucket(&b)).await?;
        Ok(S3Response::new(DeleteBucketOutput::default()))
    }

    async fn put_bucket_encryption(
        &self,
        req: S3Request<PutBucketEncryptionInput>,
    ) -> S3Result<S3Response<PutBucketEncryptionOutput>> {
        let input = req.input;
        let rule = input
            .server_side_encryption_configuration
            .rules
            .first()
            .ok_or_else(|| s3_error!(MalformedXML, "at least one rule is required"))?;
        let by_default = rule
            .apply_server_side_encryption_by_default
            .as_ref()
            .ok_or_else(|| {
                s3_error!(
                    MalformedXML,
                    "ApplyServerSideEncryptionByDefault is required"
                )
            })?;
        let algorithm = by_default.sse_algorithm.as_str().to_owned();
        let key_id = by_default
            .kms_master_key_id
            .clone()
            .filter(|k| !k.is_empty());
        match algorithm.as_str() {
            ServerSideEncryption::AWS_KMS => {}
            ServerSideEncryption::AES256 => {
                if key_id.is_some() {
                    return Err(s3_error!(
                        InvalidArgument,
                        "KMSMasterKeyID is only allowed with aws:kms"
                    ));
                }
            }
            _ => {
                return Err(s3_error!(
                    InvalidArgument,
                    "The encryption method specified is not supported"
                ));
            }
        }
        let enc = BucketEncryption {
            algorithm,
            key_id,
            bucket_key_enabled: rule.bucket_key_enabled.unwrap_or(false),
        };
        let engine = self.engine();
        let b = input.bucket;
        blocking(move || engine.update_bucket(&b, |r| r.encryption = Some(enc))).await?;
        Ok(S3Response::new(PutBucketEncryptionOutput::default()))
    }

    async fn get_bucket_encryption(
        &self,
        req: S3Request<GetBucketEncryptionInput>,
    ) -> S3Result<S3Response<GetBucketEncryptionOutput>> {
        let rec = self.bucket(&req.input.bucket).await?;
        let enc = rec.encryption.ok_or_else(|| {
            s3_error!(
                ServerSideEncryptionConfigurationNotFoundError,
                "The server side encryption configuration was not found"
            )
        })?;
        let rule = ServerSideEncryptionRule {
            apply_server_side_encryption_by_default: Some(ServerSideEncryptionByDefault {
                kms_master_key_id: enc.key_id,
                sse_algorithm: ServerSideEncryption::from(enc.algorithm),
            }),
            bucket_key_enabled: Some(enc.bucket_key_enabled),
        };
        Ok(S3Response::new(GetBucketEncryptionOutput {
            server_side_encryption_configuration: Some(ServerSideEncryptionConfiguration {
                rules: vec![rule],
            }),
        }))
    }

    async fn delete_bucket_encryption(
        &self,
        req: S3Request<DeleteBucketEncryptionInput>,
    ) -> S3Result<S3Response<DeleteBucketEncryptionOutput>> {
        let engine = self.engine();
        let b = req.input.bucket;
        blocking(move || engine.update_bucket(&b, |r| r.encryption = None)).await?;
        Ok(S3Response::new(DeleteBucketEncryptionOutput::default()))
    }

    async fn put_bucket_cors(
        &self,
        req: S3Request<PutBucketCorsInput>,
    ) -> S3Result<S3Response<PutBucketCorsOutput>> {
        let input = req.input;
        if input.cors_configuration.cors_rules.is_empty() {
            return Err(s3_error!(MalformedXML, "at least one CORSRule is required"));
        }
        let engine = self.engine();
        let cfg = input.cors_configuration;
        let b = input.bucket;
        blocking(move || engine.update_bucket(&b, |r| r.cors = Some(cfg))).await?;
        Ok(S3Response::new(PutBucketCorsOutput::default()))
    }

    async fn get_bucket_cors(
        &self,
        req: S3Request<GetBucketCorsInput>,
    ) -> S3Result<S3Response<GetBucketCorsOutput>> {
        let rec = self.bucket(&req.input.bucket).await?;
        let cfg = rec.cors.ok_or_else(|| {
            s3_error!(
                NoSuchCORSConfiguration,
                "The CORS configuration does not exist"
            )
        })?;
        Ok(S3Response::new(GetBucketCorsOutput {
            cors_rules: Some(cfg.cors_rules),
        }))
    }

    async fn delete_bucket_cors(
        &self,
        req: S3Request<DeleteBucketCorsInput>,
    ) -> S3Result<S3Response<DeleteBucketCorsOutput>> {
        let engine = self.engine();
        let b = req.input.bucket;
        blocking(move || engine.update_bucket(&b, |r| r.cors = None)).await?;
        Ok(S3Response::new(DeleteBucketCorsOutput::default()))
    }

    // ----- objects -----

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let S3Request {
            input,
            headers,
            trailing_headers,
            ..
        } = req;
        reject_sse_c(input.sse_customer_algorithm.as_ref())?;
        validate_key(&input.key)?;
        if input.write_offset_bytes.is_some() {
            return Err(s3_error!(NotImplemented, "appends are not supported"));
        }
        let metadata = check_metadata(input.metadata)?;
        let bucket_rec = self.bucket(&input.bucket).await?;
        let spec = self.resolve_sse(
            &bucket_rec,
            input.server_side_encryption.as_ref(),
            input.ssekms_key_id.as_deref(),
            input.bucket_key_enabled,
        )?;
        let (dk, sse_rec) = match &spec {
            Some(s) => {
                let (dk, rec) = self.new_data_key(s, &input.bucket).await?;
                (Some(dk), Some(rec))
            }
            None => (None, None),
        };
        let plan = checksum::Plan::from_request(
            &headers,
            [
                (Algo::Crc32, input.checksum_crc32.as_ref()),
                (Algo::Crc32c, input.checksum_crc32c.as_ref()),
                (Algo::Crc64Nvme, input.checksum_crc64nvme.as_ref()),
                (Algo::Sha1, input.checksum_sha1.as_ref()),
                (Algo::Sha256, input.checksum_sha256.as_ref()),
            ],
            input
                .checksum_algorithm
                .as_ref()
                .map(ChecksumAlgorithm::as_str),
        );
        let written = self
            .write_segment(
                input.body,
                dk.as_deref(),
                &plan,
                input.content_length,
                input.content_md5.as_ref(),
                trailing_headers.as_ref(),
            )
            .await?;
        drop(dk);
        let etag_hex = if sse_rec.is_some() {
            hex::encode(written.stored_md5)
        } else {
            hex::encode(written.plain_md5)
        };
        let rec = ObjectRecord {
            version: random_id()?,
            size: written.rec.len,
            etag: etag_hex,
            last_modified_ms: now_ms(),
            headers: object_headers(
                input.content_type,
                input.cache_control,
                input.content_disposition,
                input.content_encoding,
                input.content_language,
            ),
            metadata,
            segments: vec![written.rec.clone()],
            sse: sse_rec,
            parts_count: None,
        };
        let cond = write_condition(input.if_match.as_ref(), input.if_none_match.as_ref());
        let rec = self.commit(&input.bucket, &input.key, rec, cond).await?;
        let (sse, kid, bke) = sse_output(rec.sse.as_ref());
        let mut out = PutObjectOutput {
            e_tag: Some(etag(&rec.etag)),
            server_side_encryption: sse,
            ssekms_key_id: kid,
            bucket_key_enabled: bke,
            ..Default::default()
        };
        checksum::set_output(
            written.checksum,
            &mut out.checksum_crc32,
            &mut out.checksum_crc32c,
            &mut out.checksum_crc64nvme,
            &mut out.checksum_sha1,
            &mut out.checksum_sha256,
        );
        Ok(S3Response::new(out))
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let input = req.input;
        reject_sse_c(input.sse_customer_algorithm.as_ref())?;
        if input.version_id.as_deref().is_some_and(|v| v != "null") {
            return Err(s3_error!(NotImplemented, "versioning is not supported"));
        }
        let (rec, pin) = self.get_pinned(&input.bucket, &input.key).await?;
        check_read_conditions(
            &rec,
            input.if_match.as_ref(),
            input.if_unmodified_since.as_ref(),
            input.if_none_match.as_ref(),
            input.if_modified_since.as_ref(),
        )?;
        let (start, end, content_range) = if let Some(n) = input.part_number {
            let (a, b) = part_range(&rec, n)?;
            let cr = (rec.parts_count.is_some() && b > a)
                .then(|| format!("bytes {}-{}/{}", a, b - 1, rec.size));
            (a, b, cr)
        } else if let Some(range) = input.range {
            let r = if rec.size == 0 {
                None
            } else {
                range.check(rec.size).ok()
            };
            let r =
                r.ok_or_else(|| s3_error!(InvalidRange, "The requested range is not satisfiable"))?;
            (
                r.start,
                r.end,
                Some(format!("bytes {}-{}/{}", r.start, r.end - 1, rec.size)),
            )
        } else {
            (0, rec.size, None)
        };
        let data_key = self
            .unwrap_data_key(rec.sse.as_ref(), &input.bucket)
            .await?;
        let plan = ReadPlan {
            segments: rec.segments.clone(),
            start,
            end,
            data_key,
        };
        let body = open_reader(self.engine(), plan, pin).await?;
        let (sse, kid, bke) = sse_output(rec.sse.as_ref());
        let h = rec.headers;
        let out = GetObjectOutput {
            body: Some(StreamingBlob::wrap(body)),
            accept_ranges: Some("bytes".into()),
            content_length: Some(i64::try_from(end - start).unwrap_or(i64::MAX)),
            content_range,
            content_type: Some(
                h.content_type
                    .unwrap_or_else(|| "binary/octet-stream".into()),
            ),
            cache_control: h.cache_control,
            content_disposition: h.content_disposition,
            content_encoding: h.content_encoding,
            content_language: h.content_language,
            e_tag: Some(etag(&rec.etag)),
            last_modified: Some(ts(rec.last_modified_ms)),
            metadata: Some(rec.metadata.into_iter().collect()),
            parts_count: input
                .part_number
                .and(rec.parts_count)
                .and_then(|n| i32::try_from(n).ok()),
            server_side_encryption: sse,
            ssekms_key_id: kid,
            bucket_key_enabled: bke,
            ..Default::default()
        };
        Ok(S3Response::new(out))
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let input = req.input;
        reject_sse_c(input.sse_customer_algorithm.as_ref())?;
        let engine = self.engine();
        let (b, k) = (input.bucket.clone(), input.key.clone());
        let rec = blocking(move || engine.get_object(&b, &k)).await?;
        check_read_conditions(
            &rec,
            input.if_match.as_ref(),
            input.if_unmodified_since.as_ref(),
            input.if_none_match.as_ref(),
            input.if_modified_since.as_ref(),
        )?;
        let (content_length, content_range) = if let Some(n) = input.part_number {
            let (a, b) = part_range(&rec, n)?;
            let cr = (rec.parts_count.is_some() && b > a)
                .then(|| format!("bytes {}-{}/{}", a, b - 1, rec.size));
            (b - a, cr)
        } else if let Some(range) = input.range {
            let r = if rec.size == 0 {
                None
            } else {
                range.check(rec.size).ok()
            };
            let r =
                r.ok_or_else(|| s3_error!(InvalidRange, "The requested range is not satisfiable"))?;
            (
                r.end - r.start,
                Some(format!("bytes {}-{}/{}", r.start, r.end - 1, rec.size)),
            )
        } else {
            (rec.size, None)
        };
        let (sse, kid, bke) = sse_output(rec.sse.as_ref());
        let h = rec.headers;
        Ok(S3Response::new(HeadObjectOutput {
            accept_ranges: Some("bytes".into()),
            content_length: Some(i64::try_from(content_length).unwrap_or(i64::MAX)),
            content_range,
            content_type: Some(
                h.content_type
                    .unwrap_or_else(|| "binary/octet-stream".into()),
            ),
            cache_control: h.cache_control,
            content_disposition: h.content_disposition,
            content_encoding: h.content_encoding,
            content_language: h.content_language,
            e_tag: Some(etag(&rec.etag)),
            last_modified: Some(ts(rec.last_modified_ms)),
            metadata: Some(rec.metadata.into_iter().collect()),
            parts_count: input
                .part_number
                .and(rec.parts_count)
                .and_then(|n| i32::try_from(n).ok()),
            server_side_encryption: sse,
            ssekms_key_id: kid,
            bucket_key_enabled: bke,
            ..Default::default()
        }))
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let input = req.input;
        validate_key(&input.key)?;
        let engine = self.engine();
        blocking(move || engine.delete_object(&input.bucket, &input.key)).await?;
        Ok(S3Response::new(DeleteObjectOutput::default()))
    }

    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let input = req.input;
        if input.delete.objects.len() > 1000 {
            return Err(s3_error!(MalformedXML, "at most 1000 keys per request"));
        }
        self.bucket(&input.bucket).await?;
        let quiet = input.delete.quiet.unwrap_or(false);
        let mut deleted = Vec::new();
        let mut errors = Vec::new();
        for obj in input.delete.objects {
            let engine = self.engine();
            let (b, k) = (input.bucket.clone(), obj.key.clone());
            match blocking(move || engine.delete_object(&b, &k)).await {
                Ok(()) => {
                    if !quiet {
                        deleted.push(DeletedObject {
                            key: Some(obj.key),
                            ..Default::default()
                        });
                    }
                }
                Err(e) => {
                    let e = S3Error::from(e);
                    errors.push(Error {
                        code: Some(e.code().as_str().to_owned()),
                        key: Some(obj.key),
                        message: e.message().map(str::to_owned),
                        version_id: None,
                    });
                }
            }
        }
        Ok(S3Response::new(DeleteObjectsOutput {
            deleted: Some(deleted),
            errors: (!errors.is_empty()).then_some(errors),
            ..Default::default()
        }))
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let input = req.input;
        let max_keys = input.max_keys.unwrap_or(1000);
        if max_keys < 0 {
            return Err(s3_error!(InvalidArgument, "max-keys must not be negative"));
        }
        let max = usize::try_from(max_keys.min(1000)).unwrap_or(1000);
        let after = match (&input.continuation_token, &input.start_after) {
            (Some(t), _) => Some(ListCursor::decode(t).ok_or_else(|| {
                s3_error!(
                    InvalidArgument,
                    "The continuation token provided is incorrect"
                )
            })?),
            (None, Some(s)) if !s.is_empty() => Some(ListCursor::Key(s.clone())),
            _ => None,
        };
        let prefix = input.prefix.clone().unwrap_or_default();
        let engine = self.engine();
        let (b, p, d) = (
            input.bucket.clone(),
            prefix.clone(),
            input.delimiter.clone(),
        );
        let page = blocking(move || engine.list_objects(&b, &p, d.as_deref(), after.as_ref(), max))
            .await?;
        let url = input
            .encoding_type
            .as_ref()
            .is_some_and(|e| e.as_str() == EncodingType::URL);
        let enc = |s: String| if url { url_encode(&s) } else { s };
        let key_count =
            i32::try_from(page.objects.len() + page.common_prefixes.len()).unwrap_or(i32::MAX);
        let contents = page
            .objects
            .into_iter()
            .map(|(k, r)| Object {
                key: Some(enc(k)),
                size: Some(i64::try_from(r.size).unwrap_or(i64::MAX)),
                e_tag: Some(etag(&r.etag)),
                last_modified: Some(ts(r.last_modified_ms)),
                storage_class: Some(ObjectStorageClass::from_static(
                    ObjectStorageClass::STANDARD,
                )),
                ..Default::default()
            })
            .collect();
        let common_prefixes = page
            .common_prefixes
            .into_iter()
            .map(|p| CommonPrefix {
                prefix: Some(enc(p)),
            })
            .collect();
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(input.bucket),
            prefix: Some(enc(prefix)),
            max_keys: Some(max_keys),
            key_count: Some(key_count),
            continuation_token: input.continuation_token,
            is_truncated: Some(page.truncated),
            next_continuation_token: if page.truncated {
                page.last.map(|c| c.encode())
            } else {
                None
            },
            contents: Some(contents),
            common_prefixes: Some(common_prefixes),
            delimiter: input.delimiter.map(enc),
            encoding_type: input.encoding_type,
            start_after: input.start_after.map(enc),
            ..Default::default()
        }))
    }

    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        let input = req.input;
        let max_keys = input.max_keys.unwrap_or(1000);
        if max_keys < 0 {
            return Err(s3_error!(InvalidArgument, "max-keys must not be negative"));
        }
        let max = usize::try_from(max_keys.min(1000)).unwrap_or(1000);
        let after = input
            .marker
            .clone()
            .filter(|m| !m.is_empty())
            .map(ListCursor::Key);
        let prefix = input.prefix.clone().unwrap_or_default();
        let engine = self.engine();
        let (b, p, d) = (
            input.bucket.clone(),
            prefix.clone(),
            input.delimiter.clone(),
        );
        let page = blocking(move || engine.list_objects(&b, &p, d.as_deref(), after.as_ref(), max))
            .await?;
        let url = input
            .encoding_type
            .as_ref()
            .is_some_and(|e| e.as_str() == EncodingType::URL);
        let enc = |s: String| if url { url_encode(&s) } else { s };
        let next_marker = if page.truncated {
            page.last.map(|c| match c {
                ListCursor::Key(k) | ListCursor::Prefix(k) => enc(k),
            })
        } else {
            None
        };
        let contents = page
            .objects
            .into_iter()
            .map(|(k, r)| Object {
                key: Some(enc(k)),
                size: Some(i64::try_from(r.size).unwrap_or(i64::MAX)),
                e_tag: Some(etag(&r.etag)),
                last_modified: Some(ts(r.last_modified_ms)),
                storage_class: Some(ObjectStorageClass::from_static(
                    ObjectStorageClass::STANDARD,
                )),
                ..Default::default()
            })
            .collect();
        let common_prefixes = page
            .common_prefixes
            .into_iter()
            .map(|p| CommonPrefix {
                prefix: Some(enc(p)),
            })
            .collect();
        Ok(S3Response::new(ListObjectsOutput {
            name: Some(input.bucket),
            prefix: Some(enc(prefix)),
            marker: input.marker.map(enc),
            max_keys: Some(max_keys),
            is_truncated: Some(page.truncated),
            contents: Some(contents),
            common_prefixes: Some(common_prefixes),
            delimiter: input.delimiter.map(enc),
            next_marker,
            encoding_type: input.encoding_type,
            ..Default::default()
        }))
    }

    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        let (if_match, if_none_match) = destination_conditions(&req.headers)?;
        let input = req.input;
        reject_sse_c(input.sse_customer_algorithm.as_ref())?;
        reject_sse_c(input.copy_source_sse_customer_algorithm.as_ref())?;
        validate_key(&input.key)?;
        let (src_bucket, src_key) = parse_copy_source(&input.copy_source)?;
        let dst_bucket_rec = self.bucket(&input.bucket).await?;
        let (src, pin) = self.get_pinned(&src_bucket, &src_key).await?;
        copy_source_conditions(
            &src,
            input.copy_source_if_match.as_ref(),
            input.copy_source_if_none_match.as_ref(),
        )?;
        let replace = match input
            .metadata_directive
            .as_ref()
            .map(MetadataDirective::as_str)
        {
            None | Some(MetadataDirective::COPY) => false,
            Some(MetadataDirective::REPLACE) => true,
            Some(_) => return Err(s3_error!(InvalidArgument, "Unknown metadata directive.")),
        };
        let (headers, metadata) = if replace {
            (
                object_headers(
                    input.content_type,
                    input.cache_control,
                    input.content_disposition,
                    input.content_encoding,
                    input.content_language,
                ),
                check_metadata(input.metadata)?,
            )
        } else {
            (src.headers.clone(), src.metadata.clone())
        };
        let spec = self.resolve_sse(
            &dst_bucket_rec,
            input.server_side_encryption.as_ref(),
            input.ssekms_key_id.as_deref(),
            input.bucket_key_enabled,
        )?;
        let src_spec = src
            .sse
            .as_ref()
            .map(|r| (r.algorithm.as_str(), r.key_id.as_str()));
        let dst_spec = spec
            .as_ref()
            .map(|s| (s.algorithm.as_str(), s.key_id.as_str()));
        let same_object = src_bucket == input.bucket && src_key == input.key;
        if same_object && !replace && input.server_side_encryption.is_none() && src_spec == dst_spec
        {
            return Err(s3_error!(
                InvalidRequest,
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."
            ));
        }
        // Same bytes at rest (plaintext → plaintext, or same key id within the bucket the data
        // key is bound to): hard-link the segment files. Otherwise decrypt/re-encrypt.
        let can_link = src_spec == dst_spec && (src.sse.is_none() || src_bucket == input.bucket);
        let (segments, sse_rec, etag_hex, parts_count) = if can_link {
            let engine = self.engine();
            let src_segments = src.segments.clone();
            let segments = blocking(move || {
                let mut out = Vec::with_capacity(src_segments.len());
                for s in src_segments {
                    let id = random_id()?;
                    if let Err(e) = engine.link_segment(&s.id, &id) {
                        engine.retire(
                            out.iter()
                                .map(|s: &SegmentRec| s.id.clone())
                                .collect::<Vec<_>>(),
                        );
                        return Err(e);
                    }
                    out.push(SegmentRec {
                        id,
                        len: s.len,
                        salt: s.salt,
                    });
                }
                Ok(out)
            })
            .await?;
            let sse_rec = src.sse.clone().map(|mut r| {
                if let Some(s) = &spec {
                    r.bucket_key_enabled = s.bucket_key_enabled;
                }
                r
            });
            (segments, sse_rec, src.etag.clone(), src.parts_count)
        } else {
            let (dk, sse_rec) = match &spec {
                Some(s) => {
                    let (dk, rec) = self.new_data_key(s, &input.bucket).await?;
                    (Some(dk), Some(rec))
                }
                None => (None, None),
            };
            let src_dk = self.unwrap_data_key(src.sse.as_ref(), &src_bucket).await?;
            let plan = ReadPlan {
                segments: src.segments.clone(),
                start: 0,
                end: src.size,
                data_key: src_dk,
            };
            let reader = open_reader(self.engine(), plan, pin).await?;
            let mut sink =
                SegmentSink::create(self.engine(), dk.as_deref(), None, u64::MAX).await?;
            sink.write_stream(reader).await.map_err(|e| match e {
                StoreError::Body(m) => StoreError::Read(m),
                other => other,
            })?;
            let written = sink.finish().await?;
            let etag_hex = if sse_rec.is_some() {
                hex::encode(written.stored_md5)
            } else {
                hex::encode(written.plain_md5)
            };
            (vec![written.rec], sse_rec, etag_hex, None)
        };
        let rec = ObjectRecord {
            version: random_id()?,
            size: src.size,
            etag: etag_hex,
            last_modified_ms: now_ms(),
            headers,
            metadata,
            segments,
            sse: sse_rec,
            parts_count,
        };
        let mut cond = write_condition(if_match.as_ref(), if_none_match.as_ref());
        // Copying can take minutes; a write that landed on the key meanwhile is
        // newer than the copied bytes, so an in-place copy commits only over the
        // version it read. With conditions given, that is their failure (412);
        // without, a conflict to retry.
        let conditional = cond.if_match.is_some() || input.copy_source_if_match.is_some();
        if same_object {
            cond.expect_version = Some(src.version.clone());
        }
        let rec = match self.commit(&input.bucket, &input.key, rec, cond).await {
            Err(e) if conditional && *e.code() == S3ErrorCode::OperationAborted => {
                return Err(s3_error!(
                    PreconditionFailed,
                    "At least one of the pre-conditions you specified did not hold"
                ));
            }
            other => other?,
        };
        let (sse, kid, bke) = sse_output(rec.sse.as_ref());
        Ok(S3Response::new(CopyObjectOutput {
            copy_object_result: Some(CopyObjectResult {
                e_tag: Some(etag(&rec.etag)),
                last_modified: Some(ts(rec.last_modified_ms)),
                ..Default::default()
            }),
            server_side_encryption: sse,
            ssekms_key_id: kid,
            bucket_key_enabled: bke,
            ..Default::default()
        }))
    }

    // ----- multipart -----

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let input = req.input;
        reject_sse_c(input.sse_customer_algorithm.as_ref())?;
        validate_key(&input.key)?;
        let metadata = check_metadata(input.metadata)?;
        let bucket_rec = self.bucket(&input.bucket).await?;
        let spec = self.resolve_sse(
            &bucket_rec,
            input.server_side_encryption.as_ref(),
            input.ssekms_key_id.as_deref(),
            input.bucket_key_enabled,
        )?;
        let sse_rec = match &spec {
            Some(s) => Some(self.new_data_key(s, &input.bucket).await?.1),
            None => None,
        };
        let rec = UploadRecord {
            upload_id: random_id()?,
            bucket: input.bucket.clone(),
            key: input.key.clone(),
            initiated_ms: now_ms(),
            headers: object_headers(
                input.content_type,
                input.cache_control,
                input.content_disposition,
                input.content_encoding,
                input.content_language,
            ),
            metadata,
            sse: sse_rec,
            parts: BTreeMap::new(),
        };
        let engine = self.engine();
        let r2 = rec.clone();
        blocking(move || engine.create_upload(&r2)).await?;
        let (sse, kid, bke) = sse_output(rec.sse.as_ref());
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(rec.bucket),
            key: Some(rec.key),
            upload_id: Some(rec.upload_id),
            server_side_encryption: sse,
            ssekms_key_id: kid,
            bucket_key_enabled: bke,
            ..Default::default()
        }))
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let S3Request {
            input,
            headers,
            trailing_headers,
            ..
        } = req;
        reject_sse_c(input.sse_customer_algorithm.as_ref())?;
        if !(1..=MAX_PARTS).contains(&input.part_number) {
            return Err(s3_error!(
                InvalidArgument,
                "Part number must be an integer between 1 and 10000, inclusive"
            ));
        }
        let part_number = u32::try_from(input.part_number).unwrap_or(1);
        let engine = self.engine();
        let (b, k, u) = (
            input.bucket.clone(),
            input.key.clone(),
            input.upload_id.clone(),
        );
        let upload = blocking(move || engine.get_upload(&b, &k, &u)).await?;
        let dk = self
            .unwrap_data_key(upload.sse.as_ref(), &input.bucket)
            .await?;
        let plan = checksum::Plan::from_request(
            &headers,
            [
                (Algo::Crc32, input.checksum_crc32.as_ref()),
                (Algo::Crc32c, input.checksum_crc32c.as_ref()),
                (Algo::Crc64Nvme, input.checksum_crc64nvme.as_ref()),
                (Algo::Sha1, input.checksum_sha1.as_ref()),
                (Algo::Sha256, input.checksum_sha256.as_ref()),
            ],
            input
                .checksum_algorithm
                .as_ref()
                .map(ChecksumAlgorithm::as_str),
        );
        let written = self
            .write_segment(
                input.body,
                dk.as_deref(),
                &plan,
                input.content_length,
                input.content_md5.as_ref(),
                trailing_headers.as_ref(),
            )
            .await?;
        drop(dk);
        let etag_hex = if upload.sse.is_some() {
            hex::encode(written.stored_md5)
        } else {
            hex::encode(written.plain_md5)
        };
        let part = PartRec {
            segment: written.rec.clone(),
            etag: etag_hex.clone(),
            last_modified_ms: now_ms(),
        };
        let engine = self.engine();
        let (b, k, u) = (
            input.bucket.clone(),
            input.key.clone(),
            input.upload_id.clone(),
        );
        let seg_id = written.rec.id.clone();
        if let Err(e) = blocking(move || engine.put_part(&b, &k, &u, part_number, part)).await {
            self.inner.engine.retire([seg_id]);
            return Err(e.into());
        }
        let (sse, kid, bke) = sse_output(upload.sse.as_ref());
        let mut out = UploadPartOutput {
            e_tag: Some(etag(&etag_hex)),
            server_side_encryption: sse,
            ssekms_key_id: kid,
            bucket_key_enabled: bke,
            ..Default::default()
        };
        checksum::set_output(
            written.checksum,
            &mut out.checksum_crc32,
            &mut out.checksum_crc32c,
            &mut out.checksum_crc64nvme,
            &mut out.checksum_sha1,
            &mut out.checksum_sha256,
        );
        Ok(S3Response::new(out))
    }

    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        let input = req.input;
        reject_sse_c(input.sse_customer_algorithm.as_ref())?;
        reject_sse_c(input.copy_source_sse_customer_algorithm.as_ref())?;
        if !(1..=MAX_PARTS).contains(&input.part_number) {
            return Err(s3_error!(
                InvalidArgument,
                "Part number must be an integer between 1 and 10000, inclusive"
            ));
        }
        let part_number = u32::try_from(input.part_number).unwrap_or(1);
        let (src_bucket, src_key) = parse_copy_source(&input.copy_source)?;
        let engine = self.engine();
        let (b, k, u) = (
            input.bucket.clone(),
            input.key.clone(),
            input.upload_id.clone(),
        );
        let upload = blocking(move || engine.get_upload(&b, &k, &u)).await?;
        let (src, pin) = self.get_pinned(&src_bucket, &src_key).await?;
        copy_source_conditions(
            &src,
            input.copy_source_if_match.as_ref(),
            input.copy_source_if_none_match.as_ref(),
        )?;
        let (start, end) = match &input.copy_source_range {
            Some(r) => parse_copy_range(r, src.size)?,
            None => (0, src.size),
        };
        if end - start > self.inner.config.max_object_size {
            return Err(StoreError::TooLarge.into());
        }
        let src_dk = self.unwrap_data_key(src.sse.as_ref(), &src_bucket).await?;
        let dk = self
            .unwrap_data_key(upload.sse.as_ref(), &input.bucket)
            .await?;
        let reader = open_reader(
            self.engine(),
            ReadPlan {
                segments: src.segments.clone(),
                start,
                end,
                data_key: src_dk,
            },
            pin,
        )
        .await?;
        let mut sink = SegmentSink::create(self.engine(), dk.as_deref(), None, u64::MAX).await?;
        sink.write_stream(reader).await?;
        let written = sink.finish().await?;
        drop(dk);
        let etag_hex = if upload.sse.is_some() {
            hex::encode(written.stored_md5)
        } else {
            hex::encode(written.plain_md5)
        };
        let now = now_ms();
        let part = PartRec {
            segment: written.rec.clone(),
            etag: etag_hex.clone(),
            last_modified_ms: now,
        };
        let engine = self.engine();
        let (b, k, u) = (
            input.bucket.clone(),
            input.key.clone(),
            input.upload_id.clone(),
        );
        let seg_id = written.rec.id.clone();
        if let Err(e) = blocking(move || engine.put_part(&b, &k, &u, part_number, part)).await {
            self.inner.engine.retire([seg_id]);
            return Err(e.into());
        }
        let (sse, kid, bke) = sse_output(upload.sse.as_ref());
        Ok(S3Response::new(UploadPartCopyOutput {
            copy_part_result: Some(CopyPartResult {
                e_tag: Some(etag(&etag_hex)),
                last_modified: Some(ts(now)),
                ..Default::default()
            }),
            server_side_encryption: sse,
            ssekms_key_id: kid,
            bucket_key_enabled: bke,
            ..Default::default()
        }))
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let input = req.input;
        let parts: Vec<(Option<i32>, Option<String>)> = input
            .multipart_upload
            .and_then(|m| m.parts)
            .unwrap_or_default()
            .into_iter()
            .map(|p| (p.part_number, p.e_tag.map(|e| e.value().to_owned())))
            .collect();
        if parts.is_empty() {
            return Err(s3_error!(
                MalformedXML,
                "You must specify at least one part"
            ));
        }
        let min_part = self.inner.config.min_part_size;
        let cond = write_condition(input.if_match.as_ref(), input.if_none_match.as_ref());
        let engine = self.engine();
        let (b, k, u) = (
            input.bucket.clone(),
            input.key.clone(),
            input.upload_id.clone(),
        );
        let rec = blocking(move || {
            let version = random_id()?;
            engine.complete_upload(&b, &k, &u, &cond, |upload| {
                let mut prev = 0i32;
                let mut chosen = Vec::with_capacity(parts.len());
                for (n, e) in &parts {
                    let n = n.ok_or_else(|| StoreError::InvalidPart("a part number is missing".into()))?;
                    if n <= prev {
                        return Err(StoreError::InvalidPartOrder);
                    }
                    prev = n;
                    let stored = u32::try_from(n).ok().and_then(|n| upload.parts.get(&n)).ok_or_else(|| {
                        StoreError::InvalidPart(format!(
                            "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag. (part {n})"
                        ))
                    })?;
                    if e.as_deref() != Some(stored.etag.as_str()) {
                        return Err(StoreError::InvalidPart(format!(
                            "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag. (part {n})"
                        )));
                    }
                    chosen.push(stored);
                }
                if let Some((_, init)) = chosen.split_last()
                    && init.iter().any(|p| p.segment.len < min_part)
                {
                    return Err(StoreError::EntityTooSmall);
                }
                let etags: Vec<&str> = chosen.iter().map(|p| p.etag.as_str()).collect();
                Ok(ObjectRecord {
                    version,
                    size: chosen.iter().map(|p| p.segment.len).sum(),
                    etag: md5_hex_of_concat(&etags)?,
                    last_modified_ms: now_ms(),
                    headers: upload.headers.clone(),
                    metadata: upload.metadata.clone(),
                    segments: chosen.iter().map(|p| p.segment.clone()).collect(),
                    sse: upload.sse.clone(),
                    parts_count: u32::try_from(chosen.len()).ok(),
                })
            })
        })
        .await?;
        let (sse, kid, bke) = sse_output(rec.sse.as_ref());
        Ok(S3Response::new(CompleteMultipartUploadOutput {
            bucket: Some(input.bucket.clone()),
            key: Some(input.key.clone()),
            e_tag: Some(etag(&rec.etag)),
            location: Some(format!("/{}/{}", input.bucket, url_encode(&input.key))),
            server_side_encryption: sse,
            ssekms_key_id: kid,
            bucket_key_enabled: bke,
            ..Default::default()
        }))
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let input = req.input;
        let engine = self.engine();
        blocking(move || engine.abort_upload(&input.bucket, &input.key, &input.upload_id)).await?;
        Ok(S3Response::new(AbortMultipartUploadOutput::default()))
    }

    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        let input = req.input;
        let engine = self.engine();
        let (b, k, u) = (
            input.bucket.clone(),
            input.key.clone(),
            input.upload_id.clone(),
        );
        let upload = blocking(move || engine.get_upload(&b, &k, &u)).await?;
        let max = input.max_parts.unwrap_or(1000).clamp(0, 1000);
        let marker = input.part_number_marker.unwrap_or(0);
        let mut parts = Vec::new();
        let mut truncated = false;
        for (n, p) in &upload.parts {
            if i64::from(*n) <= i64::from(marker) {
                continue;
            }
            if parts.len() >= usize::try_from(max).unwrap_or(0) {
                truncated = true;
                break;
            }
            parts.push(Part {
                e_tag: Some(etag(&p.etag)),
                last_modified: Some(ts(p.last_modified_ms)),
                part_number: i32::try_from(*n).ok(),
                size: i64::try_from(p.segment.len).ok(),
                ..Default::default()
            });
        }
        let next = if truncated {
            parts.last().and_then(|p| p.part_number)
        } else {
            None
        };
        Ok(S3Response::new(ListPartsOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(input.upload_id),
            max_parts: Some(max),
            part_number_marker: input.part_number_marker,
            next_part_number_marker: next,
            is_truncated: Some(truncated),
            parts: Some(parts),
            storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
            ..Default::default()
        }))
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let input = req.input;
        let max = input.max_uploads.unwrap_or(1000).clamp(0, 1000);
        let engine = self.engine();
        let (b, p, km, um) = (
            input.bucket.clone(),
            input.prefix.clone().unwrap_or_default(),
            input.key_marker.clone(),
            input.upload_id_marker.clone(),
        );
        let max_usize = usize::try_from(max).unwrap_or(0);
        let (list, truncated) =
            blocking(move || engine.list_uploads(&b, &p, km.as_deref(), um.as_deref(), max_usize))
                .await?;
        let (next_key, next_upload) = match (truncated, list.last()) {
            (true, Some(u)) => (Some(u.key.clone()), Some(u.upload_id.clone())),
            _ => (None, None),
        };
        let uploads = list
            .into_iter()
            .map(|u| MultipartUpload {
                initiated: Some(ts(u.initiated_ms)),
                key: Some(u.key),
                upload_id: Some(u.upload_id),
                storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
                ..Default::default()
            })
            .collect();
        Ok(S3Response::new(ListMultipartUploadsOutput {
            bucket: Some(input.bucket),
            prefix: input.prefix,
            key_marker: input.key_marker,
            upload_id_marker: input.upload_id_marker,
            max_uploads: Some(max),
            is_truncated: Some(truncated),
            next_key_marker: next_key,
            next_upload_id_marker: next_upload,
            uploads: Some(uploads),
            ..Default::default()
        }))
    }
}
