//! Listings: ListObjectsV2, ListObjects (V1) and ListMultipartUploads.
//!
//! The two object listings are one engine listing ([`list`]: prefix, delimiter, a cursor to
//! resume after, `max-keys`, `encoding-type`) with two ways to page through it — an opaque
//! continuation token (V2) or the last key as marker (V1). Only the request fields and the
//! response shape differ, so only those are written twice.

use s3s::dto::*;
use s3s::{S3Response, S3Result, s3_error};

use super::Answer;
use super::S3Impl;
use super::request::{etag, ts, url_encode};
use crate::engine::{ListCursor, ObjectRecord};

/// Listings return at most this many entries per page (S3's limit).
const MAX_PAGE: i32 = 1000;

/// A validated `max-keys`. Invariant: `requested >= 0`; `page <= MAX_PAGE`.
#[derive(Debug, Clone, Copy)]
struct MaxKeys {
    /// As requested (echoed back in the response).
    requested: i32,
    /// What one page holds.
    page: usize,
}

impl MaxKeys {
    /// Checked before anything else of the request (S3 answers a negative `max-keys` first).
    fn parse(max_keys: Option<i32>) -> S3Result<Self> {
        let requested = max_keys.unwrap_or(MAX_PAGE);
        if requested < 0 {
            return Err(s3_error!(InvalidArgument, "max-keys must not be negative"));
        }
        let page = usize::try_from(requested.min(MAX_PAGE)).unwrap_or(1000);
        Ok(Self { requested, page })
    }
}

/// What both object listings ask for.
struct ListRequest<'a> {
    bucket: &'a str,
    prefix: &'a str,
    delimiter: Option<&'a str>,
    after: Option<ListCursor>,
    max_keys: MaxKeys,
    encoding_type: Option<&'a EncodingType>,
}

/// The [`ListRequest`] of a ListObjectsV2 or ListObjects input (the same fields in both).
macro_rules! list_request {
    ($input:expr, $prefix:expr, $after:expr, $max_keys:expr) => {
        ListRequest {
            bucket: &$input.bucket,
            prefix: $prefix,
            delimiter: $input.delimiter.as_deref(),
            after: $after,
            max_keys: $max_keys,
            encoding_type: $input.encoding_type.as_ref(),
        }
    };
}

/// One page of either listing, its names already encoded as the request asked.
struct Listing {
    contents: Vec<Object>,
    common_prefixes: Vec<CommonPrefix>,
    truncated: bool,
    /// The last key or common prefix returned (where the next page starts).
    last: Option<ListCursor>,
    /// Objects plus common prefixes in this page.
    key_count: i32,
    /// `encoding-type=url` was asked for.
    url: bool,
}

/// A key or prefix as the response carries it: percent-encoded for `encoding-type=url`.
fn encode_name(url: bool, s: String) -> String {
    if url { url_encode(&s) } else { s }
}

impl Listing {
    /// Encodes a name of the request echoed in the response, as the page's names are.
    fn enc(&self, s: String) -> String {
        encode_name(self.url, s)
    }
}

fn object_entry(key: String, r: &ObjectRecord) -> Object {
    Object {
        key: Some(key),
        size: Some(i64::try_from(r.size).unwrap_or(i64::MAX)),
        e_tag: Some(etag(&r.etag)),
        last_modified: Some(ts(r.last_modified_ms)),
        storage_class: Some(ObjectStorageClass::from_static(
            ObjectStorageClass::STANDARD,
        )),
        ..Default::default()
    }
}

/// The listing both versions share: reads the page after `req.after` and encodes keys and
/// prefixes.
async fn list(s3: &S3Impl, req: ListRequest<'_>) -> S3Result<Listing> {
    let (b, p, d) = (
        req.bucket.to_owned(),
        req.prefix.to_owned(),
        req.delimiter.map(str::to_owned),
    );
    let (after, max) = (req.after, req.max_keys.page);
    let page = s3
        .run(move |e| e.list_objects(&b, &p, d.as_deref(), after.as_ref(), max))
        .await?;
    let url = req
        .encoding_type
        .is_some_and(|e| e.as_str() == EncodingType::URL);
    let enc = |s: String| encode_name(url, s);
    let key_count =
        i32::try_from(page.objects.len() + page.common_prefixes.len()).unwrap_or(i32::MAX);
    Ok(Listing {
        contents: page
            .objects
            .into_iter()
            .map(|(k, r)| object_entry(enc(k), &r))
            .collect(),
        common_prefixes: page
            .common_prefixes
            .into_iter()
            .map(|p| CommonPrefix {
                prefix: Some(enc(p)),
            })
            .collect(),
        truncated: page.truncated,
        last: page.last,
        key_count,
        url,
    })
}

pub(super) async fn list_objects_v2(
    s3: &S3Impl,
    input: ListObjectsV2Input,
) -> Answer<ListObjectsV2Output> {
    let max_keys = MaxKeys::parse(input.max_keys)?;
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
    let l = list(s3, list_request!(input, &prefix, after, max_keys)).await?;
    Ok(S3Response::new(ListObjectsV2Output {
        name: Some(input.bucket),
        prefix: Some(l.enc(prefix)),
        max_keys: Some(max_keys.requested),
        key_count: Some(l.key_count),
        continuation_token: input.continuation_token,
        is_truncated: Some(l.truncated),
        next_continuation_token: if l.truncated {
            l.last.as_ref().map(ListCursor::encode)
        } else {
            None
        },
        delimiter: input.delimiter.map(|d| l.enc(d)),
        encoding_type: input.encoding_type,
        start_after: input.start_after.map(|s| l.enc(s)),
        contents: Some(l.contents),
        common_prefixes: Some(l.common_prefixes),
        ..Default::default()
    }))
}

pub(super) async fn list_objects(
    s3: &S3Impl,
    input: ListObjectsInput,
) -> Answer<ListObjectsOutput> {
    let max_keys = MaxKeys::parse(input.max_keys)?;
    let after = input
        .marker
        .clone()
        .filter(|m| !m.is_empty())
        .map(ListCursor::Key);
    let prefix = input.prefix.clone().unwrap_or_default();
    let l = list(s3, list_request!(input, &prefix, after, max_keys)).await?;
    // V1 has no opaque token: the next marker is the last key or common prefix returned.
    let next_marker = if l.truncated {
        l.last.clone().map(|c| match c {
            ListCursor::Key(k) | ListCursor::Prefix(k) => l.enc(k),
        })
    } else {
        None
    };
    Ok(S3Response::new(ListObjectsOutput {
        name: Some(input.bucket),
        prefix: Some(l.enc(prefix)),
        marker: input.marker.map(|m| l.enc(m)),
        max_keys: Some(max_keys.requested),
        is_truncated: Some(l.truncated),
        delimiter: input.delimiter.map(|d| l.enc(d)),
        next_marker,
        encoding_type: input.encoding_type,
        contents: Some(l.contents),
        common_prefixes: Some(l.common_prefixes),
        ..Default::default()
    }))
}

pub(super) async fn list_multipart_uploads(
    s3: &S3Impl,
    input: ListMultipartUploadsInput,
) -> Answer<ListMultipartUploadsOutput> {
    let max = input.max_uploads.unwrap_or(MAX_PAGE).clamp(0, MAX_PAGE);
    let (b, p, km, um) = (
        input.bucket.clone(),
        input.prefix.clone().unwrap_or_default(),
        input.key_marker.clone(),
        input.upload_id_marker.clone(),
    );
    let max_usize = usize::try_from(max).unwrap_or(0);
    let (list, truncated) = s3
        .run(move |e| e.list_uploads(&b, &p, km.as_deref(), um.as_deref(), max_usize))
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
