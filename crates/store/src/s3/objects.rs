//! Object operations: PutObject, GetObject/HeadObject, DeleteObject(s), CopyObject.
//!
//! GET and HEAD share one path (resolve the record, check the preconditions, pick the byte
//! range, describe the object); only GET opens a body.

use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

use super::Answer;
use super::encryption::{sse_request, with_sse};
use super::errors::precondition_failed;
use super::request::{
    body_request, body_upload, check_metadata, copy_source_conditions, destination_conditions,
    etag, etag_matches, object_headers_of, parse_copy_source, reject_sse_c, set_checksum_output,
    ts, validate_key, write_condition,
};
use super::{S3Impl, blocking};
use crate::StoreError;
use crate::engine::{ObjectRecord, SegmentRec, now_ms, random_id};
use crate::io::{ReadPlan, open_reader};

pub(super) async fn put_object(
    s3: &S3Impl,
    req: S3Request<PutObjectInput>,
) -> Answer<PutObjectOutput> {
    let (mut input, headers, trailers) = body_request(req);
    reject_sse_c(input.sse_customer_algorithm.as_ref())?;
    validate_key(&input.key)?;
    if input.write_offset_bytes.is_some() {
        return Err(s3_error!(NotImplemented, "appends are not supported"));
    }
    let metadata = check_metadata(input.metadata.take())?;
    let (dk, sse_rec) = s3.new_write_sse(&input.bucket, sse_request!(input)).await?;
    let written = s3
        .write_segment(body_upload!(input, headers, trailers), dk.as_deref())
        .await?;
    drop(dk);
    let rec = ObjectRecord {
        version: random_id()?,
        size: written.rec.len,
        etag: written.etag_hex(sse_rec.is_some()),
        last_modified_ms: now_ms(),
        headers: object_headers_of!(input),
        metadata,
        segments: vec![written.rec.clone()],
        sse: sse_rec,
        parts_count: None,
    };
    let cond = write_condition(input.if_match.as_ref(), input.if_none_match.as_ref());
    let rec = s3.commit(&input.bucket, &input.key, rec, cond).await?;
    let mut out = with_sse!(
        rec.sse.as_ref(),
        PutObjectOutput {
            e_tag: Some(etag(&rec.etag)),
        }
    );
    set_checksum_output!(written.checksum, out);
    Ok(S3Response::new(out))
}

/// What GET and HEAD ask for beyond the key (the same fields in both inputs).
struct ReadRequest<'a> {
    if_match: Option<&'a ETagCondition>,
    if_unmodified_since: Option<&'a Timestamp>,
    if_none_match: Option<&'a ETagCondition>,
    if_modified_since: Option<&'a Timestamp>,
    part_number: Option<i32>,
    range: Option<Range>,
}

macro_rules! read_request {
    ($input:expr) => {
        ReadRequest {
            if_match: $input.if_match.as_ref(),
            if_unmodified_since: $input.if_unmodified_since.as_ref(),
            if_none_match: $input.if_none_match.as_ref(),
            if_modified_since: $input.if_modified_since.as_ref(),
            part_number: $input.part_number,
            range: $input.range,
        }
    };
}

/// The plaintext bytes `[start, end)` a GET or HEAD answers with.
struct Served {
    start: u64,
    end: u64,
    content_range: Option<String>,
}

/// Preconditions of GET/HEAD (RFC 9110 order: If-Match, If-Unmodified-Since, If-None-Match,
/// If-Modified-Since), then the range (a part or a `Range`) to serve.
fn resolve_read(rec: &ObjectRecord, req: &ReadRequest<'_>) -> S3Result<Served> {
    let lm_secs = rec.last_modified_ms.div_euclid(1000);
    let secs = |t: &Timestamp| time::OffsetDateTime::from(t.clone()).unix_timestamp();
    if let Some(c) = req.if_match {
        if !etag_matches(c, rec) {
            return Err(precondition_failed());
        }
    } else if let Some(t) = req.if_unmodified_since
        && lm_secs > secs(t)
    {
        return Err(precondition_failed());
    }
    if let Some(c) = req.if_none_match {
        if etag_matches(c, rec) {
            return Err(S3Error::new(S3ErrorCode::NotModified));
        }
    } else if let Some(t) = req.if_modified_since
        && lm_secs <= secs(t)
    {
        return Err(S3Error::new(S3ErrorCode::NotModified));
    }

    if let Some(n) = req.part_number {
        let (start, end) = part_range(rec, n)?;
        let content_range = (rec.parts_count.is_some() && end > start)
            .then(|| format!("bytes {}-{}/{}", start, end - 1, rec.size));
        Ok(Served {
            start,
            end,
            content_range,
        })
    } else if let Some(range) = req.range {
        let r = if rec.size == 0 {
            None
        } else {
            range.check(rec.size).ok()
        };
        let r =
            r.ok_or_else(|| s3_error!(InvalidRange, "The requested range is not satisfiable"))?;
        Ok(Served {
            start: r.start,
            end: r.end,
            content_range: Some(format!("bytes {}-{}/{}", r.start, r.end - 1, rec.size)),
        })
    } else {
        Ok(Served {
            start: 0,
            end: rec.size,
            content_range: None,
        })
    }
}

fn invalid_part_number() -> S3Error {
    super::errors::custom_error(
        "InvalidPartNumber",
        http::StatusCode::RANGE_NOT_SATISFIABLE,
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

/// A GetObjectOutput or HeadObjectOutput describing `rec` served as `served` (the fields
/// both have), plus the given extra fields.
macro_rules! object_output {
    ($output:ident { $($field:ident: $value:expr),* $(,)? }, $rec:expr, $served:expr, $part_number:expr) => {{
        let rec: ObjectRecord = $rec;
        let served: Served = $served;
        let h = rec.headers;
        with_sse!(rec.sse.as_ref(), $output {
            $($field: $value,)*
            accept_ranges: Some("bytes".into()),
            content_length: Some(i64::try_from(served.end - served.start).unwrap_or(i64::MAX)),
            content_range: served.content_range,
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
            parts_count: $part_number
                .and(rec.parts_count)
                .and_then(|n| i32::try_from(n).ok()),
        })
    }};
}

pub(super) async fn get_object(s3: &S3Impl, input: GetObjectInput) -> Answer<GetObjectOutput> {
    reject_sse_c(input.sse_customer_algorithm.as_ref())?;
    if input.version_id.as_deref().is_some_and(|v| v != "null") {
        return Err(s3_error!(NotImplemented, "versioning is not supported"));
    }
    let (rec, pin) = s3.get_pinned(&input.bucket, &input.key).await?;
    let served = resolve_read(&rec, &read_request!(input))?;
    let data_key = s3.unwrap_data_key(rec.sse.as_ref(), &input.bucket).await?;
    let plan = ReadPlan {
        segments: rec.segments.clone(),
        start: served.start,
        end: served.end,
        data_key,
    };
    let body = open_reader(s3.engine(), plan, pin).await?;
    let out = object_output!(
        GetObjectOutput {
            body: Some(StreamingBlob::wrap(body))
        },
        rec,
        served,
        input.part_number
    );
    Ok(S3Response::new(out))
}

pub(super) async fn head_object(s3: &S3Impl, input: HeadObjectInput) -> Answer<HeadObjectOutput> {
    reject_sse_c(input.sse_customer_algorithm.as_ref())?;
    let (b, k) = (input.bucket.clone(), input.key.clone());
    let rec = s3.run(move |e| e.get_object(&b, &k)).await?;
    let served = resolve_read(&rec, &read_request!(input))?;
    let out = object_output!(HeadObjectOutput {}, rec, served, input.part_number);
    Ok(S3Response::new(out))
}

pub(super) async fn delete_object(
    s3: &S3Impl,
    input: DeleteObjectInput,
) -> Answer<DeleteObjectOutput> {
    validate_key(&input.key)?;
    s3.run(move |e| e.delete_object(&input.bucket, &input.key))
        .await?;
    Ok(S3Response::new(DeleteObjectOutput::default()))
}

pub(super) async fn delete_objects(
    s3: &S3Impl,
    input: DeleteObjectsInput,
) -> Answer<DeleteObjectsOutput> {
    if input.delete.objects.len() > 1000 {
        return Err(s3_error!(MalformedXML, "at most 1000 keys per request"));
    }
    s3.bucket(&input.bucket).await?;
    let quiet = input.delete.quiet.unwrap_or(false);
    let mut deleted = Vec::new();
    let mut errors = Vec::new();
    for obj in input.delete.objects {
        let (b, k) = (input.bucket.clone(), obj.key.clone());
        match s3.run(move |e| e.delete_object(&b, &k)).await {
            Ok(()) => {
                if !quiet {
                    deleted.push(DeletedObject {
                        key: Some(obj.key),
                        ..Default::default()
                    });
                }
            }
            Err(e) => {
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

/// Hard-links every segment of a copy source under a new id (all or none).
fn link_segments(
    engine: &crate::engine::Engine,
    src: Vec<SegmentRec>,
) -> Result<Vec<SegmentRec>, StoreError> {
    let mut out: Vec<SegmentRec> = Vec::with_capacity(src.len());
    for s in src {
        let id = random_id()?;
        if let Err(e) = engine.link_segment(&s.id, &id) {
            engine.retire(out.iter().map(|s| s.id.clone()).collect::<Vec<_>>());
            return Err(e);
        }
        out.push(SegmentRec {
            id,
            len: s.len,
            salt: s.salt,
        });
    }
    Ok(out)
}

pub(super) async fn copy_object(
    s3: &S3Impl,
    req: S3Request<CopyObjectInput>,
) -> Answer<CopyObjectOutput> {
    let (if_match, if_none_match) = destination_conditions(&req.headers)?;
    let input = req.input;
    reject_sse_c(input.sse_customer_algorithm.as_ref())?;
    reject_sse_c(input.copy_source_sse_customer_algorithm.as_ref())?;
    validate_key(&input.key)?;
    let (src_bucket, src_key) = parse_copy_source(&input.copy_source)?;
    let dst_bucket_rec = s3.bucket(&input.bucket).await?;
    let (src, pin) = s3.get_pinned(&src_bucket, &src_key).await?;
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
        (object_headers_of!(input), check_metadata(input.metadata)?)
    } else {
        (src.headers.clone(), src.metadata.clone())
    };
    let spec = s3.resolve_sse(&dst_bucket_rec, sse_request!(input))?;
    let src_spec = src
        .sse
        .as_ref()
        .map(|r| (r.algorithm.as_str(), r.key_id.as_str()));
    let dst_spec = spec
        .as_ref()
        .map(|s| (s.algorithm.as_str(), s.key_id.as_str()));
    let same_object = src_bucket == input.bucket && src_key == input.key;
    if same_object && !replace && input.server_side_encryption.is_none() && src_spec == dst_spec {
        return Err(s3_error!(
            InvalidRequest,
            "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."
        ));
    }
    // Same bytes at rest (plaintext → plaintext, or same key id within the bucket the data
    // key is bound to): hard-link the segment files. Otherwise decrypt/re-encrypt.
    let can_link = src_spec == dst_spec && (src.sse.is_none() || src_bucket == input.bucket);
    let (segments, sse_rec, etag_hex, parts_count) = if can_link {
        let engine = s3.engine();
        let src_segments = src.segments.clone();
        let segments = blocking(move || link_segments(&engine, src_segments)).await?;
        let sse_rec = src.sse.clone().map(|mut r| {
            if let Some(s) = &spec {
                r.bucket_key_enabled = s.bucket_key_enabled;
            }
            r
        });
        (segments, sse_rec, src.etag.clone(), src.parts_count)
    } else {
        let (dk, sse_rec) = s3.new_data_key(spec.as_ref(), &input.bucket).await?;
        let src_dk = s3.unwrap_data_key(src.sse.as_ref(), &src_bucket).await?;
        let written = s3
            .copy_into_segment(&src, pin, (0, src.size), src_dk, dk.as_deref())
            .await
            .map_err(|e| match e {
                // The source is stored data: failing to read it is ours, not the client's.
                StoreError::Body(m) => StoreError::Read(m),
                other => other,
            })?;
        let etag_hex = written.etag_hex(sse_rec.is_some());
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
    let rec = match s3.commit(&input.bucket, &input.key, rec, cond).await {
        Err(e) if conditional && *e.code() == S3ErrorCode::OperationAborted => {
            return Err(precondition_failed());
        }
        other => other?,
    };
    Ok(S3Response::new(with_sse!(
        rec.sse.as_ref(),
        CopyObjectOutput {
            copy_object_result: Some(CopyObjectResult {
                e_tag: Some(etag(&rec.etag)),
                last_modified: Some(ts(rec.last_modified_ms)),
                ..Default::default()
            }),
        }
    )))
}
