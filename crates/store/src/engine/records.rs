//! The records the index stores, and how they are encoded: the on-disk format of the index.
//!
//! This module is the one place to change that format. Every value in the index's tables is
//! one of the [`IndexRecord`]s below, encoded as JSON by [`encode`] and read back by
//! [`decode`]; nothing else in the crate serializes or parses them.
//!
//! ## Versions
//!
//! Every record carries its format version as a top-level field `"v"` (written by [`encode`],
//! checked by [`decode`]); the index carries the version it was last opened with in its
//! `meta` table (`index.rs`). The nested types ([`SegmentRec`], [`PartRec`], [`SseRec`], ...)
//! are versioned by the record that holds them.
//!
//! * version 1: the format before versioning: no `"v"` field, no `meta` table. Still read.
//! * version 2 ([`FORMAT_VERSION`]): `"v": 2` on every record written, `meta.format_version
//!   = 2`. The fields are those of version 1, so a version-1 record decodes unchanged.
//!
//! A record or index of a version above [`FORMAT_VERSION`] was written by newer code that
//! may have changed what a field means; it is refused with [`StoreError::NewerFormat`], never
//! guessed at. To change the format: bump [`FORMAT_VERSION`], change the types, and make
//! [`decode`] turn every older version it must still read into the current types (the
//! version is known there before the record is parsed).

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::StoreError;

/// Server-side encryption of an object or upload: which key wraps its data key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct SseRec {
    /// "aws:kms" or "AES256".
    pub algorithm: String,
    pub key_id: String,
    /// Hex of the wrapped data key as returned by the key provider.
    pub wrapped_key: String,
    #[serde(default)]
    pub bucket_key_enabled: bool,
}

/// One immutable segment file and the plaintext bytes it holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SegmentRec {
    /// File name under `data/<id[..2]>/`.
    pub id: String,
    /// Plaintext length.
    pub len: u64,
    /// Hex salt of the segment key (SSE only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<String>,
}

/// The content headers an object is served with, each of them optional: a missing field
/// reads as unset (the container's `default`), and an unset one is not written.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub(crate) struct ContentHeaders {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_disposition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_language: Option<String>,
}

/// One version of an object: everything a GET needs, committed in one transaction.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ObjectRecord {
    /// Random id of this write; changes on every overwrite.
    pub version: String,
    pub size: u64,
    /// ETag without quotes.
    pub etag: String,
    pub last_modified_ms: i64,
    #[serde(default)]
    pub headers: ContentHeaders,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    pub segments: Vec<SegmentRec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sse: Option<SseRec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parts_count: Option<u32>,
}

/// A part of a multipart upload (its segment is already durable).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PartRec {
    pub segment: SegmentRec,
    pub etag: String,
    pub last_modified_ms: i64,
}

/// A multipart upload in progress: what the object will be, and the parts so far.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct UploadRecord {
    pub upload_id: String,
    pub bucket: String,
    pub key: String,
    pub initiated_ms: i64,
    #[serde(default)]
    pub headers: ContentHeaders,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sse: Option<SseRec>,
    #[serde(default)]
    pub parts: BTreeMap<u32, PartRec>,
}

/// A bucket's default encryption.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct BucketEncryption {
    pub algorithm: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    #[serde(default)]
    pub bucket_key_enabled: bool,
}

/// A bucket and its configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct BucketRecord {
    pub created_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<BucketEncryption>,
    /// Stored CORS configuration (returned by GetBucketCors; enforcement uses the store-wide
    /// origin list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cors: Option<s3s::dto::CORSConfiguration>,
}

/// The format version of the records and the index this code writes, and the newest it reads.
pub(crate) const FORMAT_VERSION: u64 = 2;

/// The version of a record without `"v"`: written before versioning.
const UNVERSIONED: u64 = 1;

/// A record stored as a value of an index table (and so versioned). Implemented only by the
/// top-level records; what they contain is versioned with them.
pub(super) trait IndexRecord: Serialize + DeserializeOwned {}

impl IndexRecord for ObjectRecord {}
impl IndexRecord for UploadRecord {}
impl IndexRecord for BucketRecord {}

/// `Ok` if this code can read data of format version `found`.
pub(super) fn check_version(found: u64) -> Result<(), StoreError> {
    match found {
        0 => Err(StoreError::Corrupt("format version 0".into())),
        v if v > FORMAT_VERSION => Err(StoreError::NewerFormat {
            found: v,
            supported: FORMAT_VERSION,
        }),
        _ => Ok(()),
    }
}

/// A record as written: its version first, then its own fields.
#[derive(Serialize)]
struct Stamped<'a, T> {
    v: u64,
    #[serde(flatten)]
    record: &'a T,
}

/// The version of a stored record, read before the record itself (ignoring its fields).
#[derive(Deserialize)]
struct StoredVersion {
    #[serde(default = "unversioned")]
    v: u64,
}

fn unversioned() -> u64 {
    UNVERSIONED
}

fn corrupt(e: &serde_json::Error) -> StoreError {
    StoreError::Corrupt(format!("index record: {e}"))
}

/// Reads a record stored in the index: refuses a version newer than [`FORMAT_VERSION`]
/// before looking at the fields. Versions 1 and 2 have the same fields.
pub(super) fn decode<T: IndexRecord>(bytes: &[u8]) -> Result<T, StoreError> {
    let StoredVersion { v } = serde_json::from_slice(bytes).map_err(|e| corrupt(&e))?;
    check_version(v)?;
    // Deserialized without flatten: serde's flatten buffers the fields and then cannot
    // read the `parts` map's numeric keys back from JSON strings. The `v` field is ignored.
    serde_json::from_slice(bytes).map_err(|e| corrupt(&e))
}

/// Encodes a record for the index, stamped with [`FORMAT_VERSION`].
pub(super) fn encode<T: IndexRecord>(rec: &T) -> Result<Vec<u8>, StoreError> {
    let stamped = Stamped {
        v: FORMAT_VERSION,
        record: rec,
    };
    serde_json::to_vec(&stamped).map_err(|e| corrupt(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An object record as version 1 wrote it (no `"v"`), with every kind of field.
    const V1_OBJECT: &str = r#"{"version":"0123","size":5,"etag":"abc","last_modified_ms":7,"headers":{"content_type":"text/plain"},"metadata":{"k":"v"},"segments":[{"id":"00112233445566778899aabbccddeeff","len":5,"salt":"ff"}],"sse":{"algorithm":"aws:kms","key_id":"k1","wrapped_key":"aa","bucket_key_enabled":true},"parts_count":1}"#;

    #[test]
    fn v1_records_without_a_version_decode() {
        let rec: ObjectRecord = decode(V1_OBJECT.as_bytes()).unwrap();
        assert_eq!(rec.version, "0123");
        assert_eq!(rec.size, 5);
        assert_eq!(rec.headers.content_type.as_deref(), Some("text/plain"));
        assert_eq!(rec.metadata.get("k").map(String::as_str), Some("v"));
        assert_eq!(rec.segments[0].salt.as_deref(), Some("ff"));
        assert_eq!(rec.sse.as_ref().map(|s| s.key_id.as_str()), Some("k1"));
        assert_eq!(rec.parts_count, Some(1));

        let upload = r#"{"upload_id":"u","bucket":"b","key":"k","initiated_ms":1,"parts":{"2":{"segment":{"id":"00112233445566778899aabbccddeeff","len":3},"etag":"e","last_modified_ms":2}}}"#;
        let upload: UploadRecord = decode(upload.as_bytes()).unwrap();
        assert_eq!(upload.parts[&2].segment.len, 3);

        let bucket: BucketRecord = decode(br#"{"created_ms":3}"#).unwrap();
        assert_eq!(bucket.created_ms, 3);
        assert!(bucket.encryption.is_none());
    }

    #[test]
    fn records_are_written_with_the_current_version_and_read_back() {
        let rec: ObjectRecord = decode(V1_OBJECT.as_bytes()).unwrap();
        let bytes = encode(&rec).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(json["v"], FORMAT_VERSION);
        let again: ObjectRecord = decode(&bytes).unwrap();
        assert_eq!(encode(&again).unwrap(), bytes);

        // The parts map's numeric keys survive the stamped encoding.
        let upload: UploadRecord = decode(
            br#"{"upload_id":"u","bucket":"b","key":"k","initiated_ms":1,"parts":{"2":{"segment":{"id":"00112233445566778899aabbccddeeff","len":3},"etag":"e","last_modified_ms":2}}}"#,
        )
        .unwrap();
        let upload_bytes = encode(&upload).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&upload_bytes).unwrap();
        assert_eq!(json["v"], FORMAT_VERSION);
        let again: UploadRecord = decode(&upload_bytes).unwrap();
        assert_eq!(again.parts[&2].etag, "e");
    }

    #[test]
    fn records_of_a_newer_version_are_refused() {
        let newer = V1_OBJECT.replacen('{', r#"{"v":3,"#, 1);
        match decode::<ObjectRecord>(newer.as_bytes()) {
            Err(StoreError::NewerFormat { found, supported }) => {
                assert_eq!((found, supported), (3, FORMAT_VERSION));
            }
            other => panic!("expected NewerFormat, got {other:?}"),
        }
        // Refused on the version alone, whatever the fields are.
        assert!(matches!(
            decode::<BucketRecord>(br#"{"v":99,"created_ms":"not a number"}"#),
            Err(StoreError::NewerFormat { found: 99, .. })
        ));
        assert!(matches!(
            decode::<BucketRecord>(br#"{"v":0,"created_ms":1}"#),
            Err(StoreError::Corrupt(_))
        ));
        assert!(decode::<BucketRecord>(br#"{"v":2,"created_ms":1}"#).is_ok());
    }
}
