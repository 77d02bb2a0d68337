//! Bucket transactions: create, read, configure, delete (only when empty).

use redb::ReadableTable;

use super::index::{BUCKETS, OBJECTS, UPLOADS, bucket_record, prefix_range, require_bucket};
use super::records::{BucketRecord, UploadRecord, decode, encode};
use super::{Engine, now_ms};
use crate::StoreError;

impl Engine {
    /// Creates `bucket`; `false` if it already existed.
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
                t.insert(bucket, encode(&rec)?.as_slice())?;
                created = true;
            }
        }
        txn.commit()?;
        Ok(created)
    }

    pub(crate) fn get_bucket(&self, bucket: &str) -> Result<BucketRecord, StoreError> {
        let txn = self.db.begin_read()?;
        bucket_record(&txn.open_table(BUCKETS)?, bucket)?.ok_or(StoreError::NoSuchBucket)
    }

    pub(crate) fn list_buckets(&self) -> Result<Vec<(String, BucketRecord)>, StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(BUCKETS)?;
        let mut out = Vec::new();
        for item in t.iter()? {
            let (k, v) = item?;
            out.push((k.value().to_owned(), decode(v.value())?));
        }
        Ok(out)
    }

    /// Changes a bucket's configuration with `f`.
    pub(crate) fn update_bucket(
        &self,
        bucket: &str,
        f: impl FnOnce(&mut BucketRecord),
    ) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        {
            let mut t = txn.open_table(BUCKETS)?;
            let mut rec = bucket_record(&t, bucket)?.ok_or(StoreError::NoSuchBucket)?;
            f(&mut rec);
            t.insert(bucket, encode(&rec)?.as_slice())?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Deletes an empty bucket, aborting its multipart uploads.
    pub(crate) fn delete_bucket(&self, bucket: &str) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        let mut dead = Vec::new();
        {
            let mut t = txn.open_table(BUCKETS)?;
            require_bucket(&t, bucket)?;
            let (start, end) = prefix_range(bucket, "");
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
                let rec: UploadRecord = decode(v.value())?;
                dead.extend(rec.segment_ids());
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
}
