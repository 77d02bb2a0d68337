//! Object transactions: read (with pinning), commit a new version, delete.

use std::sync::Arc;

use redb::Table;

use super::Engine;
use super::index::{BUCKETS, OBJECTS, PutCondition, not_found, obj_key, record, require_bucket};
use super::records::{ObjectRecord, decode, encode};
use super::segments::PinGuard;
use crate::StoreError;

/// Inside a write transaction: checks `cond` against what (bucket, key) holds and makes `rec`
/// the object there. Returns the record it replaced (whose segments the caller retires after
/// the commit).
pub(super) fn replace_object(
    objects: &mut Table<'_, &'static [u8], &'static [u8]>,
    bucket: &str,
    key: &str,
    rec: &ObjectRecord,
    cond: &PutCondition,
) -> Result<Option<ObjectRecord>, StoreError> {
    let k = obj_key(bucket, key);
    let current: Option<ObjectRecord> = record(objects, &k)?;
    cond.check(current.as_ref())?;
    objects.insert(k.as_slice(), encode(rec)?.as_slice())?;
    Ok(current)
}

impl Engine {
    pub(crate) fn get_object(&self, bucket: &str, key: &str) -> Result<ObjectRecord, StoreError> {
        let txn = self.db.begin_read()?;
        match record(&txn.open_table(OBJECTS)?, &obj_key(bucket, key))? {
            Some(rec) => Ok(rec),
            None => Err(not_found(
                &txn.open_table(BUCKETS)?,
                bucket,
                StoreError::NoSuchKey,
            )),
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
        let old = {
            require_bucket(&txn.open_table(BUCKETS)?, bucket)?;
            replace_object(&mut txn.open_table(OBJECTS)?, bucket, key, rec, cond)?
        };
        txn.commit()?;
        if let Some(old) = old {
            self.retire(old.segment_ids());
        }
        Ok(())
    }

    pub(crate) fn delete_object(&self, bucket: &str, key: &str) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        let old: Option<ObjectRecord> = {
            require_bucket(&txn.open_table(BUCKETS)?, bucket)?;
            let mut t = txn.open_table(OBJECTS)?;
            let removed = t.remove(obj_key(bucket, key).as_slice())?;
            removed.map(|v| decode(v.value())).transpose()?
        };
        txn.commit()?;
        if let Some(old) = old {
            self.retire(old.segment_ids());
        }
        Ok(())
    }
}
