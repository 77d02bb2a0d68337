//! The storage engine: a redb index plus immutable, randomly named segment files.
//!
//! All functions here are synchronous (redb and `std::fs`); the S3 layer calls them through
//! `spawn_blocking`. See the crate README for the on-disk layout and the crash-safety argument.
//!
//! * `records.rs`: the records, their encoding and their format version — the on-disk format,
//!   in one place;
//! * `index.rs`: the tables, their key layout, the format stamp checked at open, and the reads
//!   every transaction shares;
//! * `segments.rs`: segment files, publishing, pins and removal;
//! * `buckets.rs`, `objects.rs`, `listing.rs`, `uploads.rs`: one index transaction per
//!   operation. Each change becomes visible in exactly one committed write transaction, and
//!   segment files dropped by it are retired only after the commit.

mod buckets;
mod index;
mod listing;
mod objects;
mod records;
mod segments;
mod uploads;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use redb::{Database, ReadableTable};

pub(crate) use index::PutCondition;
pub(crate) use listing::ListCursor;
pub(crate) use records::{
    BucketEncryption, BucketRecord, ContentHeaders, ObjectRecord, PartRec, SegmentRec, SseRec,
    UploadRecord,
};
pub(crate) use segments::PinGuard;

use crate::StoreError;
use index::{BUCKETS, OBJECTS, UPLOADS};
use records::decode;

pub(crate) const INDEX_FILE: &str = "index.redb";

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// A random 128-bit identifier in lowercase hex.
pub(crate) fn random_id() -> Result<String, StoreError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| StoreError::Random(e.to_string()))?;
    Ok(hex::encode(b))
}

pub(crate) struct Engine {
    data_dir: PathBuf,
    tmp_dir: PathBuf,
    db: Database,
    pins: Mutex<segments::Pins>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Opens (creating if needed) the store at `root`, then recovers: removes everything in
    /// `tmp/` and every segment file that the index does not reference. An index or record of
    /// a newer format fails with [`StoreError::NewerFormat`] before anything is removed.
    pub(crate) fn open(root: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(root)?;
        let db = Database::create(root.join(INDEX_FILE))?;
        // The format is checked before anything else of the directory is created or changed.
        index::prepare(&db)?;
        let (data_dir, tmp_dir) = segments::create_layout(root)?;
        let engine = Self {
            data_dir,
            tmp_dir,
            db,
            pins: Mutex::new(segments::Pins::default()),
        };
        engine.recover()?;
        Ok(engine)
    }

    /// Removes the files a crash can leave behind: temp files and segments no object or
    /// upload references. Reads every record on the way, so that a record of a newer format
    /// (or a corrupt one) fails the open instead of a later request.
    fn recover(&self) -> Result<(), StoreError> {
        let mut referenced = HashSet::new();
        {
            let txn = self.db.begin_read()?;
            let buckets = txn.open_table(BUCKETS)?;
            for item in buckets.iter()? {
                let (_, v) = item?;
                let _: BucketRecord = decode(v.value())?;
            }
            let objects = txn.open_table(OBJECTS)?;
            for item in objects.iter()? {
                let (_, v) = item?;
                let rec: ObjectRecord = decode(v.value())?;
                referenced.extend(rec.segment_ids());
            }
            let uploads = txn.open_table(UPLOADS)?;
            for item in uploads.iter()? {
                let (_, v) = item?;
                let rec: UploadRecord = decode(v.value())?;
                referenced.extend(rec.segment_ids());
            }
        }
        self.remove_unreferenced(&referenced)
    }
}

impl UploadRecord {
    /// The segments of every part uploaded so far.
    fn segment_ids(self) -> impl Iterator<Item = String> {
        self.parts.into_values().map(|p| p.segment.id)
    }
}

impl ObjectRecord {
    /// The object's segment ids, in order.
    fn segment_ids(self) -> impl Iterator<Item = String> {
        self.segments.into_iter().map(|s| s.id)
    }
}
