//! Request fields validated and translated for the engine, and engine values translated for
//! responses — the small steps every family of operations shares.

use std::collections::{BTreeMap, HashMap};

use base64::Engine as _;
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Result, s3_error};

use super::errors::precondition_failed;
use crate::engine::{ContentHeaders, ObjectRecord, PutCondition};
use crate::io::WrittenSegment;

const MAX_META_BYTES: usize = 2048;
const MAX_PARTS: i32 = 10_000;

pub(super) fn ts(ms: i64) -> Timestamp {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    Timestamp::from(t)
}

pub(super) fn etag(v: &str) -> ETag {
    ETag::Strong(v.to_owned())
}

pub(super) fn validate_key(key: &str) -> S3Result<()> {
    if key.is_empty() {
        return Err(s3_error!(InvalidArgument, "object key must not be empty"));
    }
    if key.len() > 1024 {
        return Err(s3_error!(KeyTooLongError, "Your key is too long"));
    }
    Ok(())
}

pub(super) fn check_metadata(
    meta: Option<HashMap<String, String>>,
) -> S3Result<BTreeMap<String, String>> {
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

pub(super) fn reject_sse_c(alg: Option<&String>) -> S3Result<()> {
    if alg.is_some() {
        return Err(s3_error!(
            NotImplemented,
            "SSE-C is not supported by this store"
        ));
    }
    Ok(())
}

pub(super) fn verify_content_md5(
    content_md5: Option<&String>,
    written: &WrittenSegment,
) -> S3Result<()> {
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

/// Percent-encoding for `encoding-type=url` listings.
pub(super) fn url_encode(s: &str) -> String {
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

pub(super) fn parse_copy_source(src: &CopySource) -> S3Result<(String, String)> {
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

pub(super) fn parse_copy_range(r: &str, size: u64) -> S3Result<(u64, u64)> {
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

/// The precondition of a write from its `If-Match` / `If-None-Match: *`.
pub(super) fn write_condition(
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
pub(super) fn destination_conditions(
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

/// The content headers an object is stored with, from the request fields that set them.
pub(super) fn object_headers(
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

/// The [`object_headers`] of a request that sets them (PutObject, CopyObject,
/// CreateMultipartUpload: the same fields in each input).
macro_rules! object_headers_of {
    ($input:expr) => {
        super::request::object_headers(
            $input.content_type,
            $input.cache_control,
            $input.content_disposition,
            $input.content_encoding,
            $input.content_language,
        )
    };
}
pub(super) use object_headers_of;

/// Does `c` match the object's ETag (`*` matches any existing object)?
pub(super) fn etag_matches(c: &ETagCondition, rec: &ObjectRecord) -> bool {
    match c {
        ETagCondition::Any => true,
        ETagCondition::ETag(e) => e.value() == rec.etag,
    }
}

/// `x-amz-copy-source-if-match` / `-if-none-match`, checked on the source object.
pub(super) fn copy_source_conditions(
    rec: &ObjectRecord,
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
) -> S3Result<()> {
    if if_match.is_some_and(|c| !etag_matches(c, rec))
        || if_none_match.is_some_and(|c| etag_matches(c, rec))
    {
        return Err(precondition_failed());
    }
    Ok(())
}

/// A part number of UploadPart / UploadPartCopy (1..=10000).
pub(super) fn part_number(n: i32) -> S3Result<u32> {
    if !(1..=MAX_PARTS).contains(&n) {
        return Err(s3_error!(
            InvalidArgument,
            "Part number must be an integer between 1 and 10000, inclusive"
        ));
    }
    Ok(u32::try_from(n).unwrap_or(1))
}

/// The parts of a request with a body that storing the body needs: the input, the headers
/// (for the checksum plan) and the `aws-chunked` trailers.
pub(super) fn body_request<T>(
    req: s3s::S3Request<T>,
) -> (T, http::HeaderMap, Option<s3s::TrailingHeaders>) {
    (req.input, req.headers, req.trailing_headers)
}

/// The body of a PutObject or UploadPart request (same fields in both inputs) with what it
/// is verified against: a [`super::BodyUpload`].
macro_rules! body_upload {
    ($input:expr, $headers:expr, $trailers:expr) => {
        super::BodyUpload {
            plan: crate::checksum::Plan::from_request(
                &$headers,
                [
                    (crate::checksum::Algo::Crc32, $input.checksum_crc32.as_ref()),
                    (
                        crate::checksum::Algo::Crc32c,
                        $input.checksum_crc32c.as_ref(),
                    ),
                    (
                        crate::checksum::Algo::Crc64Nvme,
                        $input.checksum_crc64nvme.as_ref(),
                    ),
                    (crate::checksum::Algo::Sha1, $input.checksum_sha1.as_ref()),
                    (
                        crate::checksum::Algo::Sha256,
                        $input.checksum_sha256.as_ref(),
                    ),
                ],
                $input
                    .checksum_algorithm
                    .as_ref()
                    .map(ChecksumAlgorithm::as_str),
            ),
            body: $input.body.take(),
            content_length: $input.content_length,
            content_md5: $input.content_md5.as_ref(),
            trailers: $trailers.as_ref(),
        }
    };
}
pub(super) use body_upload;

/// Sets the `x-amz-checksum-*` fields of a PutObject or UploadPart response.
macro_rules! set_checksum_output {
    ($checksum:expr, $out:expr) => {
        crate::checksum::set_output(
            $checksum,
            &mut $out.checksum_crc32,
            &mut $out.checksum_crc32c,
            &mut $out.checksum_crc64nvme,
            &mut $out.checksum_sha1,
            &mut $out.checksum_sha256,
        )
    };
}
pub(super) use set_checksum_output;
