//! The redb index: its tables, how keys are laid out in them, and the few reads every
//! transaction starts with (does the bucket exist, what does a key hold).
//!
//! Written once here so that every operation checks a bucket and reads a record the same way;
//! the transactions themselves live with the operations (`buckets.rs`, `objects.rs`,
//! `uploads.rs`).

use redb::{Database, ReadableTable, TableDefinition};

use super::records::{
    BucketRecord, FORMAT_VERSION, IndexRecord, ObjectRecord, check_version, decode,
};
use crate::StoreError;

/// Facts about the index itself. Invariant: this table's name and types and the
/// [`FORMAT_VERSION_KEY`] entry never change, in any version — they are how every version
/// recognizes the format of a directory.
pub(super) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// The format version of the index and its records (absent: version 1, before versioning).
pub(super) const FORMAT_VERSION_KEY: &str = "format_version";

pub(super) const BUCKETS: TableDefinition<&str, &[u8]> = TableDefinition::new("buckets");
/// key: bucket ‖ 0x00 ‖ object key (bucket names never contain NUL, so this sorts by bucket,
/// then by the key's UTF-8 bytes, which is S3's listing order).
pub(super) const OBJECTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("objects");
/// key: bucket ‖ 0x00 ‖ object key ‖ 0x00 ‖ upload id.
pub(super) const UPLOADS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("uploads");

pub(super) fn obj_key(bucket: &str, key: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(bucket.len() + 1 + key.len());
    v.extend_from_slice(bucket.as_bytes());
    v.push(0);
    v.extend_from_slice(key.as_bytes());
    v
}

pub(super) fn upload_key(bucket: &str, key: &str, upload_id: &str) -> Vec<u8> {
    let mut v = obj_key(bucket, key);
    v.push(0);
    v.extend_from_slice(upload_id.as_bytes());
    v
}

/// Smallest byte string greater than every string that starts with `prefix`
/// (`None` if there is none). UTF-8 never contains 0xFF, so for keys this is always `Some`.
pub(super) fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut v = prefix.to_vec();
    while let Some(last) = v.pop() {
        if last < 0xFF {
            v.push(last + 1);
            return Some(v);
        }
    }
    None
}

/// The `[start, end)` range of the OBJECTS or UPLOADS keys of `bucket` under `prefix`.
pub(super) fn prefix_range(bucket: &str, prefix: &str) -> (Vec<u8>, Vec<u8>) {
    let start = obj_key(bucket, prefix);
    let end = prefix_successor(&start).unwrap_or_default();
    (start, end)
}

/// Makes the index ready for this code, in one write transaction: refuses an index stamped
/// with a newer format (before changing anything), stamps a new or older one with
/// [`FORMAT_VERSION`], and creates the tables that are missing.
///
/// Records keep the version they were written with; an older record is read as it is and
/// rewritten in the current format when its key is next written.
pub(super) fn prepare(db: &Database) -> Result<(), StoreError> {
    let txn = db.begin_write()?;
    {
        let mut meta = txn.open_table(META)?;
        let stamped = meta.get(FORMAT_VERSION_KEY)?.map(|v| v.value());
        if let Some(found) = stamped {
            // Dropping `txn` uncommitted leaves a newer index exactly as it was.
            check_version(found)?;
        }
        if stamped != Some(FORMAT_VERSION) {
            meta.insert(FORMAT_VERSION_KEY, FORMAT_VERSION)?;
        }
    }
    txn.open_table(BUCKETS)?;
    txn.open_table(OBJECTS)?;
    txn.open_table(UPLOADS)?;
    txn.commit()?;
    Ok(())
}

/// The bucket's record, if it exists.
pub(super) fn bucket_record(
    buckets: &impl ReadableTable<&'static str, &'static [u8]>,
    bucket: &str,
) -> Result<Option<BucketRecord>, StoreError> {
    match buckets.get(bucket)? {
        Some(v) => Ok(Some(decode(v.value())?)),
        None => Ok(None),
    }
}

/// `NoSuchBucket` unless `bucket` exists.
pub(super) fn require_bucket(
    buckets: &impl ReadableTable<&'static str, &'static [u8]>,
    bucket: &str,
) -> Result<(), StoreError> {
    match buckets.get(bucket)? {
        Some(_) => Ok(()),
        None => Err(StoreError::NoSuchBucket),
    }
}

/// The error for a key or upload that is not there: `NoSuchBucket` takes precedence (S3's
/// order), else `missing`.
pub(super) fn not_found(
    buckets: &impl ReadableTable<&'static str, &'static [u8]>,
    bucket: &str,
    missing: StoreError,
) -> StoreError {
    match require_bucket(buckets, bucket) {
        Ok(()) => missing,
        Err(e) => e,
    }
}

/// The record stored under `key` in OBJECTS or UPLOADS, if any.
pub(super) fn record<T: IndexRecord>(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    key: &[u8],
) -> Result<Option<T>, StoreError> {
    match table.get(key)? {
        Some(v) => Ok(Some(decode(v.value())?)),
        None => Ok(None),
    }
}

/// Precondition for committing an object.
#[derive(Debug, Clone, Default)]
pub(crate) struct PutCondition {
    /// `If-None-Match: *`: fail if the key exists.
    pub if_none_match_any: bool,
    /// `If-Match: "etag"`: fail unless the current ETag equals this.
    pub if_match: Option<String>,
    /// Fail with [`StoreError::Conflict`] unless the key still holds this version
    /// (an in-place copy must not bring back the version it read).
    pub expect_version: Option<String>,
}

impl PutCondition {
    /// Checks the condition against what the key holds inside the committing transaction.
    pub(super) fn check(&self, current: Option<&ObjectRecord>) -> Result<(), StoreError> {
        if self.if_none_match_any && current.is_some() {
            return Err(StoreError::PreconditionFailed);
        }
        if let Some(want) = &self.if_match {
            match current {
                Some(c) if &c.etag == want => {}
                _ => return Err(StoreError::PreconditionFailed),
            }
        }
        if let Some(v) = &self.expect_version {
            match current {
                Some(c) if &c.version == v => {}
                _ => return Err(StoreError::Conflict),
            }
        }
        Ok(())
    }
}
