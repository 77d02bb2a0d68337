//! The storage engine: a redb index plus immutable, randomly named segment files.
//!
//! All functions here are synchronous (redb and `std::fs`); the S3 layer calls them through
//! `spawn_blocking`. See the crate README for the on-disk layout and the crash-safety argument.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use redb::{Database, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::StoreError;

const BUCKETS: TableDefinition<&str, &[u8]> = TableDefinition::new("buckets");
/// key: bucket ‖ 0x00 ‖ object key (bucket names never contain NUL, so this sorts by bucket,
/// then by the key's UTF-8 bytes, which is S3's listing order).
const OBJECTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("objects");
/// key: bucket ‖ 0x00 ‖ object key ‖ 0x00 ‖ upload id.
const UPLOADS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("uploads");

pub(crate) const INDEX_FILE: &str = "index.redb";
pub(crate) const DATA_DIR: &str = "data";
pub(crate) const TMP_DIR: &str = "tmp";

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

fn is_segment_id(name: &str) -> bool {
    name.len() == 32
        && name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

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

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PartRec {
    pub segment: SegmentRec,
    pub etag: String,
    pub last_modified_ms: i64,
}

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

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct BucketEncryption {
    pub algorithm: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    #[serde(default)]
    pub bucket_key_enabled: bool,
}

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

/// One page of a listing.
#[derive(Debug, Default)]
pub(crate) struct ListPage {
    pub objects: Vec<(String, ObjectRecord)>,
    pub common_prefixes: Vec<String>,
    pub truncated: bool,
    /// Last key or common prefix returned (to build the continuation token).
    pub last: Option<ListCursor>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ListCursor {
    /// Continue strictly after this key.
    Key(String),
    /// Continue after every key starting with this prefix.
    Prefix(String),
}

impl ListCursor {
    pub(crate) fn encode(&self) -> String {
        match self {
            ListCursor::Key(k) => format!("k{}", hex::encode(k.as_bytes())),
            ListCursor::Prefix(p) => format!("p{}", hex::encode(p.as_bytes())),
        }
    }

    pub(crate) fn decode(token: &str) -> Option<Self> {
        let (kind, rest) = token.split_at_checked(1)?;
        let bytes = hex::decode(rest).ok()?;
        let s = String::from_utf8(bytes).ok()?;
        match kind {
            "k" => Some(ListCursor::Key(s)),
            "p" => Some(ListCursor::Prefix(s)),
            _ => None,
        }
    }
}

fn obj_key(bucket: &str, key: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(bucket.len() + 1 + key.len());
    v.extend_from_slice(bucket.as_bytes());
    v.push(0);
    v.extend_from_slice(key.as_bytes());
    v
}

fn upload_key(bucket: &str, key: &str, upload_id: &str) -> Vec<u8> {
    let mut v = obj_key(bucket, key);
    v.push(0);
    v.extend_from_slice(upload_id.as_bytes());
    v
}

/// Smallest byte string greater than every string that starts with `prefix`
/// (`None` if there is none). UTF-8 never contains 0xFF, so for keys this is always `Some`.
fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut v = prefix.to_vec();
    while let Some(last) = v.pop() {
        if last < 0xFF {
            v.push(last + 1);
            return Some(v);
        }
    }
    None
}

fn de<T: for<'a> Deserialize<'a>>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(format!("index record: {e}")))
}

fn ser<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|e| StoreError::Corrupt(format!("index record: {e}")))
}

#[derive(Default)]
struct Pins {
    counts: HashMap<String, usize>,
    /// Segments no longer referenced by the index but still being read.
    doomed: HashSet<String>,
}

/// Keeps segment files alive while a reader or copier uses them.
pub(crate) struct PinGuard {
    engine: Arc<Engine>,
    ids: Vec<String>,
}

impl Drop for PinGuard {
    fn drop(&mut self) {
        self.engine.unpin(&self.ids);
    }
}

pub(crate) struct Engine {
    data_dir: PathBuf,
    tmp_dir: PathBuf,
    db: Database,
    pins: Mutex<Pins>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

fn fsync_dir(path: &Path) -> io::Result<()> {
    fs::File::open(path)?.sync_all()
}

impl Engine {
    /// Opens (creating if needed) the store at `root`, then recovers: removes everything in
    /// `tmp/` and every segment file that the index does not reference.
    pub(crate) fn open(root: &Path) -> Result<Self, StoreError> {
        fs::create_dir_all(root)?;
        let data_dir = root.join(DATA_DIR);
        let tmp_dir = root.join(TMP_DIR);
        fs::create_dir_all(&data_dir)?;
        fs::create_dir_all(&tmp_dir)?;
        for i in 0..=255u8 {
            let shard = data_dir.join(format!("{i:02x}"));
            if !shard.exists() {
                fs::create_dir(&shard)?;
            }
        }
        fsync_dir(&data_dir)?;
        fsync_dir(root)?;

        let db = Database::create(root.join(INDEX_FILE))?;
        {
            let txn = db.begin_write()?;
            txn.open_table(BUCKETS)?;
            txn.open_table(OBJECTS)?;
            txn.open_table(UPLOADS)?;
            txn.commit()?;
        }
        let engine = Self {
            data_dir,
            tmp_dir,
            db,
            pins: Mutex::new(Pins::default()),
        };
        engine.recover()?;
        Ok(engine)
    }

    fn recover(&self) -> Result<(), StoreError> {
        // 1. temp files: never referenced by anything.
        for entry in fs::read_dir(&self.tmp_dir)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                fs::remove_dir_all(&path)?;
            } else {
                fs::remove_file(&path)?;
            }
        }
        // 2. unreferenced segment files.
        let mut referenced = HashSet::new();
        {
            let txn = self.db.begin_read()?;
            let objects = txn.open_table(OBJECTS)?;
            for item in objects.iter()? {
                let (_, v) = item?;
                let rec: ObjectRecord = de(v.value())?;
                referenced.extend(rec.segments.into_iter().map(|s| s.id));
            }
            let uploads = txn.open_table(UPLOADS)?;
            for item in uploads.iter()? {
                let (_, v) = item?;
                let rec: UploadRecord = de(v.value())?;
                referenced.extend(rec.parts.into_values().map(|p| p.segment.id));
            }
        }
        let mut removed = 0usize;
        for shard in fs::read_dir(&self.data_dir)? {
            let shard = shard?;
            if !shard.file_type()?.is_dir() {
                continue;
            }
            for entry in fs::read_dir(shard.path())? {
                let entry = entry?;
                let name = entry.file_name();
                let keep = name
                    .to_str()
                    .is_some_and(|n| is_segment_id(n) && referenced.contains(n));
                if !keep {
                    fs::remove_file(entry.path())?;
                    removed += 1;
                }
            }
        }
        if removed > 0 {
            tracing::info!(removed, "removed unreferenced segment files");
        }
        Ok(())
    }

    pub(crate) fn tmp_path(&self, id: &str) -> PathBuf {
        self.tmp_dir.join(id)
    }

    pub(crate) fn segment_path(&self, id: &str) -> PathBuf {
        let shard = id.get(..2).unwrap_or("00");
        self.data_dir.join(shard).join(id)
    }

    /// Moves a fully written and fsynced temp file into `data/` and makes the rename durable.
    pub(crate) fn publish(&self, tmp: &Path, id: &str) -> Result<(), StoreError> {
        let dst = self.segment_path(id);
        fs::rename(tmp, &dst)?;
        if let Some(parent) = dst.parent() {
            fsync_dir(parent)?;
        }
        Ok(())
    }

    /// Hard-links an existing segment under a new id (no bytes copied) and makes it durable.
    pub(crate) fn link_segment(&self, src_id: &str, new_id: &str) -> Result<(), StoreError> {
        let dst = self.segment_path(new_id);
        fs::hard_link(self.segment_path(src_id), &dst)?;
        if let Some(parent) = dst.parent() {
            fsync_dir(parent)?;
        }
        Ok(())
    }

    /// Removes segment files that the index no longer references (now, or when the last
    /// reader lets go of them). Failures are only logged: a leftover file is removed at the
    /// next start.
    pub(crate) fn retire<I: IntoIterator<Item = String>>(&self, ids: I) {
        let mut to_remove = Vec::new();
        {
            let mut pins = match self.pins.lock() {
                Ok(p) => p,
                Err(poisoned) => poisoned.into_inner(),
            };
            for id in ids {
                if pins.counts.contains_key(&id) {
                    pins.doomed.insert(id);
                } else {
                    to_remove.push(id);
                }
            }
        }
        for id in to_remove {
            self.remove_segment_file(&id);
        }
    }

    fn remove_segment_file(&self, id: &str) {
        if let Err(e) = fs::remove_file(self.segment_path(id))
            && e.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(segment = id, error = %e, "could not remove segment file");
        }
    }

    /// Pins `ids`; the files will not be removed until the guard is dropped.
    pub(crate) fn pin(self: &Arc<Self>, ids: Vec<String>) -> PinGuard {
        {
            let mut pins = match self.pins.lock() {
                Ok(p) => p,
                Err(poisoned) => poisoned.into_inner(),
            };
            for id in &ids {
                *pins.counts.entry(id.clone()).or_insert(0) += 1;
            }
        }
        PinGuard {
            engine: Arc::clone(self),
            ids,
        }
    }

    fn unpin(&self, ids: &[String]) {
        let mut to_remove = Vec::new();
        {
            let mut pins = match self.pins.lock() {
                Ok(p) => p,
                Err(poisoned) => poisoned.into_inner(),
            };
            for id in ids {
                let gone = match pins.counts.get_mut(id) {
                    Some(c) => {
                        *c -= 1;
                        *c == 0
                    }
                    None => false,
                };
                if gone {
                    pins.counts.remove(id);
                    if pins.doomed.remove(id) {
                        to_remove.push(id.clone());
                    }
                }
            }
        }
        for id in to_remove {
            self.remove_segment_file(&id);
        }
    }

    /// Reads an object record and pins its segments so that they stay readable even if the
    /// object is overwritten or deleted meanwhile.
    pub(crate) fn get_object_pinned(
        self: &Arc<Self>,
        bucket: &str,
        key: &str,
    ) -> Result<(ObjectRecord, PinGuard), StoreError> {
        for _ in 0..64 {
            let rec = self.get_object(bucket, key)?;
            let guard = self.pin(rec.segments.iter().map(|s| s.id.clone()).collect());
            // If the record is unchanged after pinning, any later overwrite sees the pin.
            let again = self.get_object(bucket, key)?;
            if again.version == rec.version {
                return Ok((rec, guard));
            }
        }
        Err(StoreError::Busy)
    }

    // ----- buckets -----

    pub(crate) fn create_bucket(&self, bucket: &str) -> Result<bool, StoreError> {
        let txn = self.db.begin_write()?;
        let created;
        {
            let mut t = txn.open_table(BUCKETS)?;
            if t.get(bucket)?.is_some() {
                created = false;
            } else {
                let rec = BucketRecord {
                    created_ms: now_ms(),
                    encryption: None,
                    cors: None,
                };
                t.insert(bucket, ser(&rec)?.as_slice())?;
                created = true;
            }
        }
        txn.commit()?;
        Ok(created)
    }

    pub(crate) fn get_bucket(&self, bucket: &str) -> Result<BucketRecord, StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(BUCKETS)?;
        match t.get(bucket)? {
            Some(v) => de(v.value()),
            None => Err(StoreError::NoSuchBucket),
        }
    }

    pub(crate) fn list_buckets(&self) -> Result<Vec<(String, BucketRecord)>, StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(BUCKETS)?;
        let mut out = Vec::new();
        for item in t.iter()? {
            let (k, v) = item?;
            out.push((k.value().to_owned(), de(v.value())?));
        }
        Ok(out)
    }

    pub(crate) fn update_bucket(
        &self,
        bucket: &str,
        f: impl FnOnce(&mut BucketRecord),
    ) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        {
            let mut t = txn.open_table(BUCKETS)?;
            let mut rec: BucketRecord = match t.get(bucket)? {
                Some(v) => de(v.value())?,
                None => return Err(StoreError::NoSuchBucket),
            };
            f(&mut rec);
            t.insert(bucket, ser(&rec)?.as_slice())?;
        }
        txn.commit()?;
        Ok(())
    }

    pub(crate) fn delete_bucket(&self, bucket: &str) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        let mut dead = Vec::new();
        {
            let mut t = txn.open_table(BUCKETS)?;
            if t.get(bucket)?.is_none() {
                return Err(StoreError::NoSuchBucket);
            }
            let start = obj_key(bucket, "");
            let end = prefix_successor(&start).unwrap_or_default();
            let objects = txn.open_table(OBJECTS)?;
            if objects
                .range(start.as_slice()..end.as_slice())?
                .next()
                .is_some()
            {
                return Err(StoreError::BucketNotEmpty);
            }
            let mut uploads = txn.open_table(UPLOADS)?;
            let mut keys = Vec::new();
            for item in uploads.range(start.as_slice()..end.as_slice())? {
                let (k, v) = item?;
                let rec: UploadRecord = de(v.value())?;
                dead.extend(rec.parts.into_values().map(|p| p.segment.id));
                keys.push(k.value().to_vec());
            }
            for k in keys {
                uploads.remove(k.as_slice())?;
            }
            t.remove(bucket)?;
        }
        txn.commit()?;
        self.retire(dead);
        Ok(())
    }

    // ----- objects -----

    pub(crate) fn get_object(&self, bucket: &str, key: &str) -> Result<ObjectRecord, StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(OBJECTS)?;
        match t.get(obj_key(bucket, key).as_slice())? {
            Some(v) => de(v.value()),
            None => {
                let b = txn.open_table(BUCKETS)?;
                if b.get(bucket)?.is_none() {
                    Err(StoreError::NoSuchBucket)
                } else {
                    Err(StoreError::NoSuchKey)
                }
            }
        }
    }

    /// Atomically makes `rec` the object at (bucket, key). The segment files of `rec` must
    /// already be durable in `data/`. On failure the caller still owns (and must retire) them.
    pub(crate) fn commit_object(
        &self,
        bucket: &str,
        key: &str,
        rec: &ObjectRecord,
        cond: &PutCondition,
    ) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        let old: Option<ObjectRecord>;
        {
            let b = txn.open_table(BUCKETS)?;
            if b.get(bucket)?.is_none() {
                return Err(StoreError::NoSuchBucket);
            }
            let mut t = txn.open_table(OBJECTS)?;
            let k = obj_key(bucket, key);
            let current: Option<ObjectRecord> = match t.get(k.as_slice())? {
                Some(v) => Some(de(v.value())?),
                None => None,
            };
            check_condition(current.as_ref(), cond)?;
            t.insert(k.as_slice(), ser(rec)?.as_slice())?;
            old = current;
        }
        txn.commit()?;
        if let Some(old) = old {
            self.retire(old.segments.into_iter().map(|s| s.id));
        }
        Ok(())
    }

    pub(crate) fn delete_object(&self, bucket: &str, key: &str) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        let old: Option<ObjectRecord>;
        {
            let b = txn.open_table(BUCKETS)?;
            if b.get(bucket)?.is_none() {
                return Err(StoreError::NoSuchBucket);
            }
            let mut t = txn.open_table(OBJECTS)?;
            old = match t.remove(obj_key(bucket, key).as_slice())? {
                Some(v) => Some(de(v.value())?),
                None => None,
            };
        }
        txn.commit()?;
        if let Some(old) = old {
            self.retire(old.segments.into_iter().map(|s| s.id));
        }
        Ok(())
    }

    /// ListObjects(V2) core: keys of `bucket` starting with `prefix`, strictly after `after`,
    /// grouped by `delimiter`, at most `max` entries (objects + common prefixes).
    pub(crate) fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        after: Option<&ListCursor>,
        max: usize,
    ) -> Result<ListPage, StoreError> {
        let txn = self.db.begin_read()?;
        {
            let b = txn.open_table(BUCKETS)?;
            if b.get(bucket)?.is_none() {
                return Err(StoreError::NoSuchBucket);
            }
        }
        let t = txn.open_table(OBJECTS)?;
        let base = obj_key(bucket, "");
        let bucket_end = prefix_successor(&base).unwrap_or_default();
        let prefix_start = obj_key(bucket, prefix);
        let prefix_end = prefix_successor(&prefix_start).unwrap_or_else(|| bucket_end.clone());

        // Where to start scanning (inclusive lower bound).
        let mut start = prefix_start.clone();
        match after {
            Some(ListCursor::Key(k)) => {
                let mut s = obj_key(bucket, k);
                s.push(0); // strictly after k
                if s > start {
                    start = s;
                }
            }
            Some(ListCursor::Prefix(p)) => {
                if let Some(s) = prefix_successor(&obj_key(bucket, p))
                    && s > start
                {
                    start = s;
                }
            }
            None => {}
        }

        let mut page = ListPage::default();
        if max == 0 {
            return Ok(page);
        }
        let delimiter = delimiter.filter(|d| !d.is_empty());
        'outer: loop {
            if start >= prefix_end {
                break;
            }
            let mut next_start: Option<Vec<u8>> = None;
            for item in t.range(start.as_slice()..prefix_end.as_slice())? {
                let (k, v) = item?;
                let raw = k.value();
                let key_bytes = raw.get(base.len()..).unwrap_or_default();
                let key = std::str::from_utf8(key_bytes)
                    .map_err(|_| StoreError::Corrupt("non-UTF-8 key in index".into()))?;
                let mut common_prefix = None;
                if let Some(d) = delimiter {
                    let rest = key.get(prefix.len()..).unwrap_or_default();
                    if let Some(pos) = rest.find(d) {
                        let cp = format!("{prefix}{}", &rest[..pos + d.len()]);
                        // A common prefix at or before a ListObjects marker was already
                        // returned: skip all of it.
                        if matches!(after, Some(ListCursor::Key(m)) if cp.as_str() <= m.as_str()) {
                            next_start = prefix_successor(&obj_key(bucket, &cp));
                            break;
                        }
                        common_prefix = Some(cp);
                    }
                }
                if page.objects.len() + page.common_prefixes.len() >= max {
                    page.truncated = true;
                    break 'outer;
                }
                if let Some(cp) = common_prefix {
                    page.last = Some(ListCursor::Prefix(cp.clone()));
                    next_start = prefix_successor(&obj_key(bucket, &cp));
                    page.common_prefixes.push(cp);
                    break; // restart the scan after this common prefix
                }
                page.last = Some(ListCursor::Key(key.to_owned()));
                page.objects.push((key.to_owned(), de(v.value())?));
            }
            match next_start {
                Some(s) => start = s,
                None => break,
            }
        }
        Ok(page)
    }

    // ----- multipart uploads -----

    pub(crate) fn create_upload(&self, rec: &UploadRecord) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        {
            let b = txn.open_table(BUCKETS)?;
            if b.get(rec.bucket.as_str())?.is_none() {
                return Err(StoreError::NoSuchBucket);
            }
            let mut t = txn.open_table(UPLOADS)?;
            t.insert(
                upload_key(&rec.bucket, &rec.key, &rec.upload_id).as_slice(),
                ser(rec)?.as_slice(),
            )?;
        }
        txn.commit()?;
        Ok(())
    }

    pub(crate) fn get_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<UploadRecord, StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(UPLOADS)?;
        match t.get(upload_key(bucket, key, upload_id).as_slice())? {
            Some(v) => de(v.value()),
            None => {
                let b = txn.open_table(BUCKETS)?;
                if b.get(bucket)?.is_none() {
                    Err(StoreError::NoSuchBucket)
                } else {
                    Err(StoreError::NoSuchUpload)
                }
            }
        }
    }

    /// Records a part (its segment already durable). A replaced part's segment is retired.
    pub(crate) fn put_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        part: PartRec,
    ) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        let old;
        {
            let mut t = txn.open_table(UPLOADS)?;
            let k = upload_key(bucket, key, upload_id);
            let mut rec: UploadRecord = match t.get(k.as_slice())? {
                Some(v) => de(v.value())?,
                None => return Err(StoreError::NoSuchUpload),
            };
            old = rec.parts.insert(part_number, part);
            t.insert(k.as_slice(), ser(&rec)?.as_slice())?;
        }
        txn.commit()?;
        if let Some(old) = old {
            self.retire([old.segment.id]);
        }
        Ok(())
    }

    /// Completes an upload: `build` validates the chosen parts and returns the object record.
    /// Parts not used by the object are retired, as are the segments of the object replaced.
    pub(crate) fn complete_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        cond: &PutCondition,
        build: impl FnOnce(&UploadRecord) -> Result<ObjectRecord, StoreError>,
    ) -> Result<ObjectRecord, StoreError> {
        let txn = self.db.begin_write()?;
        let mut dead = Vec::new();
        let rec;
        {
            let b = txn.open_table(BUCKETS)?;
            if b.get(bucket)?.is_none() {
                return Err(StoreError::NoSuchBucket);
            }
            let mut uploads = txn.open_table(UPLOADS)?;
            let uk = upload_key(bucket, key, upload_id);
            let upload: UploadRecord = match uploads.get(uk.as_slice())? {
                Some(v) => de(v.value())?,
                None => return Err(StoreError::NoSuchUpload),
            };
            rec = build(&upload)?;
            let mut objects = txn.open_table(OBJECTS)?;
            let ok = obj_key(bucket, key);
            let current: Option<ObjectRecord> = match objects.get(ok.as_slice())? {
                Some(v) => Some(de(v.value())?),
                None => None,
            };
            check_condition(current.as_ref(), cond)?;
            objects.insert(ok.as_slice(), ser(&rec)?.as_slice())?;
            uploads.remove(uk.as_slice())?;
            let used: HashSet<&str> = rec.segments.iter().map(|s| s.id.as_str()).collect();
            dead.extend(
                upload
                    .parts
                    .values()
                    .filter(|p| !used.contains(p.segment.id.as_str()))
                    .map(|p| p.segment.id.clone()),
            );
            if let Some(cur) = current {
                dead.extend(cur.segments.into_iter().map(|s| s.id));
            }
        }
        txn.commit()?;
        self.retire(dead);
        Ok(rec)
    }

    pub(crate) fn abort_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        let rec: UploadRecord;
        {
            let b = txn.open_table(BUCKETS)?;
            if b.get(bucket)?.is_none() {
                return Err(StoreError::NoSuchBucket);
            }
            let mut t = txn.open_table(UPLOADS)?;
            rec = match t.remove(upload_key(bucket, key, upload_id).as_slice())? {
                Some(v) => de(v.value())?,
                None => return Err(StoreError::NoSuchUpload),
            };
        }
        txn.commit()?;
        self.retire(rec.parts.into_values().map(|p| p.segment.id));
        Ok(())
    }

    /// Uploads of `bucket` whose key starts with `prefix`, in (key, upload id) order, after
    /// the (key marker, upload id marker) position.
    pub(crate) fn list_uploads(
        &self,
        bucket: &str,
        prefix: &str,
        key_marker: Option<&str>,
        upload_id_marker: Option<&str>,
        max: usize,
    ) -> Result<(Vec<UploadRecord>, bool), StoreError> {
        let txn = self.db.begin_read()?;
        {
            let b = txn.open_table(BUCKETS)?;
            if b.get(bucket)?.is_none() {
                return Err(StoreError::NoSuchBucket);
            }
        }
        let t = txn.open_table(UPLOADS)?;
        let start = obj_key(bucket, prefix);
        let end = prefix_successor(&start).unwrap_or_default();
        let mut out = Vec::new();
        let mut truncated = false;
        for item in t.range(start.as_slice()..end.as_slice())? {
            let (_, v) = item?;
            let rec: UploadRecord = de(v.value())?;
            if let Some(km) = key_marker {
                let after = match upload_id_marker {
                    Some(um) if !um.is_empty() => {
                        (rec.key.as_str(), rec.upload_id.as_str()) > (km, um)
                    }
                    _ => rec.key.as_str() > km,
                };
                if !after {
                    continue;
                }
            }
            if out.len() >= max {
                truncated = true;
                break;
            }
            out.push(rec);
        }
        Ok((out, truncated))
    }

    /// Aborts uploads initiated before `cutoff_ms`. Returns how many were removed.
    pub(crate) fn expire_uploads(&self, cutoff_ms: i64) -> Result<usize, StoreError> {
        let txn = self.db.begin_write()?;
        let mut dead = Vec::new();
        let mut n = 0;
        {
            let mut t = txn.open_table(UPLOADS)?;
            let mut keys = Vec::new();
            for item in t.iter()? {
                let (k, v) = item?;
                let rec: UploadRecord = de(v.value())?;
                if rec.initiated_ms < cutoff_ms {
                    keys.push(k.value().to_vec());
                    dead.extend(rec.parts.into_values().map(|p| p.segment.id));
                }
            }
            for k in keys {
                t.remove(k.as_slice())?;
                n += 1;
            }
        }
        txn.commit()?;
        self.retire(dead);
        Ok(n)
    }
}

fn check_condition(current: Option<&ObjectRecord>, cond: &PutCondition) -> Result<(), StoreError> {
    if cond.if_none_match_any && current.is_some() {
        return Err(StoreError::PreconditionFailed);
    }
    if let Some(want) = &cond.if_match {
        match current {
            Some(c) if &c.etag == want => {}
            _ => return Err(StoreError::PreconditionFailed),
        }
    }
    if let Some(v) = &cond.expect_version {
        match current {
            Some(c) if &c.version == v => {}
            _ => return Err(StoreError::Conflict),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(v: &str) -> ObjectRecord {
        ObjectRecord {
            version: v.into(),
            size: 0,
            etag: "e".into(),
            last_modified_ms: 0,
            headers: ContentHeaders::default(),
            metadata: BTreeMap::new(),
            segments: vec![],
            sse: None,
            parts_count: None,
        }
    }

    #[test]
    fn listing_with_delimiter_and_cursor() {
        let dir = tempfile::tempdir().unwrap();
        let e = Engine::open(dir.path()).unwrap();
        e.create_bucket("b").unwrap();
        for k in ["a", "a/b", "a/c", "b", "c/d/e", "c/f", "d"] {
            e.commit_object("b", k, &rec(k), &PutCondition::default())
                .unwrap();
        }
        let p = e.list_objects("b", "", Some("/"), None, 1000).unwrap();
        let keys: Vec<_> = p.objects.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["a", "b", "d"]);
        assert_eq!(p.common_prefixes, ["a/", "c/"]);
        let p = e.list_objects("b", "", Some("/"), None, 2).unwrap();
        assert!(p.truncated);
        assert_eq!(p.last, Some(ListCursor::Prefix("a/".into())));
        let p2 = e
            .list_objects("b", "", Some("/"), p.last.as_ref(), 2)
            .unwrap();
        let keys: Vec<_> = p2.objects.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["b"]);
        assert_eq!(p2.common_prefixes, ["c/"]);
        let p = e.list_objects("b", "c/", None, None, 10).unwrap();
        assert_eq!(p.objects.len(), 2);
        assert!(!p.truncated);
        assert_eq!(
            ListCursor::decode(&ListCursor::Key("x/é".into()).encode()),
            Some(ListCursor::Key("x/é".into()))
        );
    }
}
