//! Multipart uploads: create, upload a part (from a body or by copying), complete, abort,
//! and list parts (ListMultipartUploads is with the other listings, in `listing.rs`).
//!
//! A part is its own segment; Complete makes the chosen parts' segments the object's (no
//! bytes copied), in the engine's single transaction.

use std::collections::BTreeMap;

use md5::{Digest, Md5};
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::Answer;
use super::S3Impl;
use super::encryption::{sse_request, with_sse};
use super::request::{
    body_request, body_upload, check_metadata, copy_source_conditions, etag, object_headers_of,
    parse_copy_range, parse_copy_source, part_number, reject_sse_c, set_checksum_output, ts,
    url_encode, validate_key, write_condition,
};
use crate::StoreError;
use crate::engine::{ObjectRecord, PartRec, SseRec, UploadRecord, now_ms, random_id};
use crate::io::WrittenSegment;

/// The multipart ETag: MD5 of the concatenated binary part MD5s, then `-N`.
fn md5_hex_of_concat(parts: &[&str]) -> Result<String, StoreError> {
    let mut h = Md5::new();
    for p in parts {
        let raw = hex::decode(p).map_err(|_| StoreError::Corrupt("bad part ETag".into()))?;
        h.update(&raw);
    }
    Ok(format!("{}-{}", hex::encode(h.finalize()), parts.len()))
}

fn invalid_part(n: i32) -> StoreError {
    StoreError::InvalidPart(format!(
        "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag. (part {n})"
    ))
}

/// Where a part goes, with the upload it belongs to — read before any of the part's bytes
/// are, so that an unknown upload fails first. Invariant: `number` is in 1..=10000.
struct PartSlot {
    bucket: String,
    key: String,
    upload_id: String,
    number: u32,
    upload: UploadRecord,
}

/// A part recorded in its upload: what the UploadPart and UploadPartCopy responses report.
struct RecordedPart {
    etag: ETag,
    last_modified: Timestamp,
    /// The upload's encryption (reported in the response headers).
    sse: Option<SseRec>,
}

impl S3Impl {
    /// The slot for part `number` (checked by [`part_number`]) of an upload.
    async fn part_slot(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        number: u32,
    ) -> S3Result<PartSlot> {
        Ok(PartSlot {
            upload: self.upload(bucket, key, upload_id).await?,
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            upload_id: upload_id.to_owned(),
            number,
        })
    }

    /// Records a written segment as the slot's part (retiring the segment if that fails),
    /// replacing a part of the same number.
    async fn record_part(
        &self,
        slot: PartSlot,
        written: &WrittenSegment,
    ) -> S3Result<RecordedPart> {
        let PartSlot {
            bucket,
            key,
            upload_id,
            number,
            upload,
        } = slot;
        let etag_hex = written.etag_hex(upload.sse.is_some());
        let now = now_ms();
        let part = PartRec {
            segment: written.rec.clone(),
            etag: etag_hex.clone(),
            last_modified_ms: now,
        };
        if let Err(e) = self
            .run(move |e| e.put_part(&bucket, &key, &upload_id, number, part))
            .await
        {
            self.inner.engine.retire([written.rec.id.clone()]);
            return Err(e);
        }
        Ok(RecordedPart {
            etag: etag(&etag_hex),
            last_modified: ts(now),
            sse: upload.sse,
        })
    }
}

pub(super) async fn create_multipart_upload(
    s3: &S3Impl,
    input: CreateMultipartUploadInput,
) -> Answer<CreateMultipartUploadOutput> {
    reject_sse_c(input.sse_customer_algorithm.as_ref())?;
    validate_key(&input.key)?;
    let metadata = check_metadata(input.metadata)?;
    // Only the wrapped key is kept: every part unwraps it again.
    let (_, sse_rec) = s3.new_write_sse(&input.bucket, sse_request!(input)).await?;
    let rec = UploadRecord {
        upload_id: random_id()?,
        bucket: input.bucket.clone(),
        key: input.key.clone(),
        initiated_ms: now_ms(),
        headers: object_headers_of!(input),
        metadata,
        sse: sse_rec,
        parts: BTreeMap::new(),
    };
    let r2 = rec.clone();
    s3.run(move |e| e.create_upload(&r2)).await?;
    Ok(S3Response::new(with_sse!(
        rec.sse.as_ref(),
        CreateMultipartUploadOutput {
            bucket: Some(rec.bucket),
            key: Some(rec.key),
            upload_id: Some(rec.upload_id),
        }
    )))
}

pub(super) async fn upload_part(
    s3: &S3Impl,
    req: S3Request<UploadPartInput>,
) -> Answer<UploadPartOutput> {
    let (mut input, headers, trailers) = body_request(req);
    reject_sse_c(input.sse_customer_algorithm.as_ref())?;
    let number = part_number(input.part_number)?;
    let slot = s3
        .part_slot(&input.bucket, &input.key, &input.upload_id, number)
        .await?;
    let dk = s3
        .unwrap_data_key(slot.upload.sse.as_ref(), &input.bucket)
        .await?;
    let written = s3
        .write_segment(body_upload!(input, headers, trailers), dk.as_deref())
        .await?;
    drop(dk);
    let part = s3.record_part(slot, &written).await?;
    let mut out = with_sse!(
        part.sse.as_ref(),
        UploadPartOutput {
            e_tag: Some(part.etag),
        }
    );
    set_checksum_output!(written.checksum, out);
    Ok(S3Response::new(out))
}

pub(super) async fn upload_part_copy(
    s3: &S3Impl,
    input: UploadPartCopyInput,
) -> Answer<UploadPartCopyOutput> {
    reject_sse_c(input.sse_customer_algorithm.as_ref())?;
    reject_sse_c(input.copy_source_sse_customer_algorithm.as_ref())?;
    let number = part_number(input.part_number)?;
    let (src_bucket, src_key) = parse_copy_source(&input.copy_source)?;
    let slot = s3
        .part_slot(&input.bucket, &input.key, &input.upload_id, number)
        .await?;
    let (src, pin) = s3.get_pinned(&src_bucket, &src_key).await?;
    copy_source_conditions(
        &src,
        input.copy_source_if_match.as_ref(),
        input.copy_source_if_none_match.as_ref(),
    )?;
    let range = match &input.copy_source_range {
        Some(r) => parse_copy_range(r, src.size)?,
        None => (0, src.size),
    };
    if range.1 - range.0 > s3.inner.config.max_object_size {
        return Err(StoreError::TooLarge.into());
    }
    let src_dk = s3.unwrap_data_key(src.sse.as_ref(), &src_bucket).await?;
    let dk = s3
        .unwrap_data_key(slot.upload.sse.as_ref(), &input.bucket)
        .await?;
    let written = s3
        .copy_into_segment(&src, pin, range, src_dk, dk.as_deref())
        .await?;
    drop(dk);
    let part = s3.record_part(slot, &written).await?;
    Ok(S3Response::new(with_sse!(
        part.sse.as_ref(),
        UploadPartCopyOutput {
            copy_part_result: Some(CopyPartResult {
                e_tag: Some(part.etag),
                last_modified: Some(part.last_modified),
                ..Default::default()
            }),
        }
    )))
}

pub(super) async fn complete_multipart_upload(
    s3: &S3Impl,
    input: CompleteMultipartUploadInput,
) -> Answer<CompleteMultipartUploadOutput> {
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
    let min_part = s3.inner.config.min_part_size;
    let cond = write_condition(input.if_match.as_ref(), input.if_none_match.as_ref());
    let (b, k, u) = (
        input.bucket.clone(),
        input.key.clone(),
        input.upload_id.clone(),
    );
    let rec = s3
        .run(move |engine| {
            let version = random_id()?;
            engine.complete_upload(&b, &k, &u, &cond, |upload| {
                let mut prev = 0i32;
                let mut chosen = Vec::with_capacity(parts.len());
                for (n, e) in &parts {
                    let n = n.ok_or_else(|| {
                        StoreError::InvalidPart("a part number is missing".into())
                    })?;
                    if n <= prev {
                        return Err(StoreError::InvalidPartOrder);
                    }
                    prev = n;
                    let stored = u32::try_from(n)
                        .ok()
                        .and_then(|n| upload.parts.get(&n))
                        .filter(|stored| e.as_deref() == Some(stored.etag.as_str()))
                        .ok_or_else(|| invalid_part(n))?;
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
    Ok(S3Response::new(with_sse!(
        rec.sse.as_ref(),
        CompleteMultipartUploadOutput {
            bucket: Some(input.bucket.clone()),
            key: Some(input.key.clone()),
            e_tag: Some(etag(&rec.etag)),
            location: Some(format!("/{}/{}", input.bucket, url_encode(&input.key))),
        }
    )))
}

pub(super) async fn abort_multipart_upload(
    s3: &S3Impl,
    input: AbortMultipartUploadInput,
) -> Answer<AbortMultipartUploadOutput> {
    s3.run(move |e| e.abort_upload(&input.bucket, &input.key, &input.upload_id))
        .await?;
    Ok(S3Response::new(AbortMultipartUploadOutput::default()))
}

pub(super) async fn list_parts(s3: &S3Impl, input: ListPartsInput) -> Answer<ListPartsOutput> {
    let upload = s3
        .upload(&input.bucket, &input.key, &input.upload_id)
        .await?;
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
