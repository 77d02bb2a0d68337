//! The records the index stores, and how they are encoded: the on-disk format of the index.
//!
//! This module is the one place to change that format. Every value in the index's tables is
//! one of the records below, encoded as JSON by [`encode`] and read back by [`decode`]; nothing
//! else in the crate serializes or parses them.

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

/// The content headers an object is served with.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct ContentHeaders {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_disposition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
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

/// Reads a record stored in the index.
pub(super) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(format!("index record: {e}")))
}

/// Encodes a record for the index.
pub(super) fn encode<T: Serialize>(rec: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(rec).map_err(|e| StoreError::Corrupt(format!("index record: {e}")))
}
