//! The `s3s::S3` implementation: maps S3 operations onto the engine.
//!
//! This file is the dispatch (the `S3` trait, each operation handed to its family's module)
//! and the steps several families share, written once: resolving a bucket, an upload or a
//! pinned object, streaming a request body into a verified segment, copying stored bytes into
//! a new segment, committing a record (and retiring its segments if that fails).
//!
//! * `bucket.rs`: buckets and their stored configuration (default encryption, CORS);
//! * `objects.rs`: PutObject, GetObject/HeadObject (one path), DeleteObject(s), CopyObject;
//! * `listing.rs`: ListObjects V1/V2 (one listing routine), ListMultipartUploads;
//! * `multipart.rs`: create, UploadPart/UploadPartCopy (one way to record a part), complete,
//!   abort, ListParts;
//! * `encryption.rs`: which SSE a write gets, data keys, the SSE response headers;
//! * `request.rs`: validating and translating request fields and response values;
//! * `errors.rs`: how store and key-provider errors are answered (S3 error codes).
//!
//! Authorization is not done here: s3s verifies every signature before an operation runs, and
//! `http_layer.rs` guards the headers around it.

mod bucket;
mod encryption;
mod errors;
mod listing;
mod multipart;
mod objects;
mod request;

use std::sync::Arc;

use s3s::dto::*;
use s3s::{S3, S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

use crate::checksum;
use crate::engine::{BucketRecord, Engine, ObjectRecord, PinGuard, PutCondition, UploadRecord};
use crate::io::{ReadPlan, SegmentSink, WrittenSegment, open_reader};
use crate::{Inner, StoreError};
use request::verify_content_md5;

pub(crate) struct S3Impl {
    inner: Arc<Inner>,
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

/// A request body to store as one segment, with what it must be verified against.
struct BodyUpload<'a> {
    body: Option<StreamingBlob>,
    content_length: Option<i64>,
    content_md5: Option<&'a String>,
    trailers: Option<&'a s3s::TrailingHeaders>,
    plan: checksum::Plan,
}

impl S3Impl {
    pub(crate) fn new(inner: Arc<Inner>) -> Self {
        Self { inner }
    }

    fn engine(&self) -> Arc<Engine> {
        Arc::clone(&self.inner.engine)
    }

    /// Runs an engine call on the blocking pool.
    async fn run<T, F>(&self, f: F) -> S3Result<T>
    where
        F: FnOnce(&Engine) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let engine = self.engine();
        Ok(blocking(move || f(&engine)).await?)
    }

    async fn bucket(&self, bucket: &str) -> S3Result<BucketRecord> {
        let b = bucket.to_owned();
        self.run(move |e| e.get_bucket(&b)).await
    }

    async fn upload(&self, bucket: &str, key: &str, upload_id: &str) -> S3Result<UploadRecord> {
        let (b, k, u) = (bucket.to_owned(), key.to_owned(), upload_id.to_owned());
        self.run(move |e| e.get_upload(&b, &k, &u)).await
    }

    /// The object's record with its segments pinned (readable until the guard is dropped,
    /// whatever happens to the key meanwhile).
    async fn get_pinned(&self, bucket: &str, key: &str) -> S3Result<(ObjectRecord, PinGuard)> {
        let engine = self.engine();
        let (b, k) = (bucket.to_owned(), key.to_owned());
        Ok(blocking(move || engine.get_object_pinned(&b, &k)).await?)
    }

    /// Streams a request body into a new durable segment and verifies its length,
    /// Content-MD5 and flexible checksum. On any error the segment is gone again.
    async fn write_segment(
        &self,
        upload: BodyUpload<'_>,
        data_key: Option<&[u8; 32]>,
    ) -> S3Result<WrittenSegment> {
        let max = self.inner.config.max_object_size;
        let content_length = upload.content_length;
        if content_length.is_some_and(|l| l < 0 || l as u64 > max) {
            return Err(StoreError::TooLarge.into());
        }
        let mut sink = SegmentSink::create(self.engine(), data_key, upload.plan.algo, max).await?;
        if let Some(body) = upload.body {
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
        let verified = verify_content_md5(upload.content_md5, &written).and_then(|()| {
            upload
                .plan
                .verify(written.checksum.as_ref(), upload.trailers)
                .map_err(|m| S3Error::with_message(S3ErrorCode::BadDigest, m))
        });
        if let Err(e) = verified {
            self.inner.engine.retire([written.rec.id.clone()]);
            return Err(e);
        }
        Ok(written)
    }

    /// Streams plaintext bytes `[start, end)` of a pinned object into a new segment
    /// (encrypted under `data_key` if set). A failure to read the source is reported as the
    /// sink sees it (`StoreError::Body`); the caller decides how to answer it.
    async fn copy_into_segment(
        &self,
        src: &ObjectRecord,
        pin: PinGuard,
        (start, end): (u64, u64),
        src_key: Option<zeroize::Zeroizing<[u8; 32]>>,
        data_key: Option<&[u8; 32]>,
    ) -> Result<WrittenSegment, StoreError> {
        let plan = ReadPlan {
            segments: src.segments.clone(),
            start,
            end,
            data_key: src_key,
        };
        let reader = open_reader(self.engine(), plan, pin).await?;
        let mut sink = SegmentSink::create(self.engine(), data_key, None, u64::MAX).await?;
        sink.write_stream(reader).await?;
        sink.finish().await
    }

    /// Commits `rec` at (bucket, key) under `cond`; if that fails, its segments are retired.
    async fn commit(
        &self,
        bucket: &str,
        key: &str,
        rec: ObjectRecord,
        cond: PutCondition,
    ) -> S3Result<ObjectRecord> {
        let (b, k) = (bucket.to_owned(), key.to_owned());
        let ids: Vec<String> = rec.segments.iter().map(|s| s.id.clone()).collect();
        let r = self
            .run(move |e| e.commit_object(&b, &k, &rec, &cond).map(|()| rec))
            .await;
        if r.is_err() {
            self.inner.engine.retire(ids);
        }
        r
    }
}

/// What every operation's handler returns.
pub(super) type Answer<Output> = S3Result<S3Response<Output>>;

/// The `S3` trait, each operation handed to the function of the same name in its family's
/// module. Most handlers take only the request's input; those under `whole_request` take the
/// whole request, because they also read its headers or `aws-chunked` trailers.
macro_rules! s3_operations {
    (
        input_only { $($module:ident :: $op:ident ($input:ident) -> $output:ident;)* }
        whole_request { $($h_module:ident :: $h_op:ident ($h_input:ident) -> $h_output:ident;)* }
    ) => {
        #[async_trait::async_trait]
        impl S3 for S3Impl {
            $(
                async fn $op(&self, req: S3Request<$input>) -> Answer<$output> {
                    $module::$op(self, req.input).await
                }
            )*
            $(
                async fn $h_op(&self, req: S3Request<$h_input>) -> Answer<$h_output> {
                    $h_module::$h_op(self, req).await
                }
            )*
        }
    };
}

s3_operations! {
    input_only {
        bucket::create_bucket(CreateBucketInput) -> CreateBucketOutput;
        bucket::head_bucket(HeadBucketInput) -> HeadBucketOutput;
        bucket::get_bucket_location(GetBucketLocationInput) -> GetBucketLocationOutput;
        bucket::list_buckets(ListBucketsInput) -> ListBucketsOutput;
        bucket::delete_bucket(DeleteBucketInput) -> DeleteBucketOutput;
        bucket::put_bucket_encryption(PutBucketEncryptionInput) -> PutBucketEncryptionOutput;
        bucket::get_bucket_encryption(GetBucketEncryptionInput) -> GetBucketEncryptionOutput;
        bucket::delete_bucket_encryption(DeleteBucketEncryptionInput) -> DeleteBucketEncryptionOutput;
        bucket::put_bucket_cors(PutBucketCorsInput) -> PutBucketCorsOutput;
        bucket::get_bucket_cors(GetBucketCorsInput) -> GetBucketCorsOutput;
        bucket::delete_bucket_cors(DeleteBucketCorsInput) -> DeleteBucketCorsOutput;
        objects::get_object(GetObjectInput) -> GetObjectOutput;
        objects::head_object(HeadObjectInput) -> HeadObjectOutput;
        objects::delete_object(DeleteObjectInput) -> DeleteObjectOutput;
        objects::delete_objects(DeleteObjectsInput) -> DeleteObjectsOutput;
        listing::list_objects_v2(ListObjectsV2Input) -> ListObjectsV2Output;
        listing::list_objects(ListObjectsInput) -> ListObjectsOutput;
        multipart::create_multipart_upload(CreateMultipartUploadInput) -> CreateMultipartUploadOutput;
        multipart::upload_part_copy(UploadPartCopyInput) -> UploadPartCopyOutput;
        multipart::complete_multipart_upload(CompleteMultipartUploadInput) -> CompleteMultipartUploadOutput;
        multipart::abort_multipart_upload(AbortMultipartUploadInput) -> AbortMultipartUploadOutput;
        multipart::list_parts(ListPartsInput) -> ListPartsOutput;
        listing::list_multipart_uploads(ListMultipartUploadsInput) -> ListMultipartUploadsOutput;
    }
    whole_request {
        objects::put_object(PutObjectInput) -> PutObjectOutput;
        objects::copy_object(CopyObjectInput) -> CopyObjectOutput;
        multipart::upload_part(UploadPartInput) -> UploadPartOutput;
    }
}
