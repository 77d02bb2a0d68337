//! Multipart upload transactions. Parts are durable one by one; Complete is a single
//! transaction that turns the chosen parts' segments into the object (no bytes copied).

use std::collections::HashSet;

use redb::ReadableTable;

use super::Engine;
use super::index::{
    BUCKETS, OBJECTS, PutCondition, UPLOADS, not_found, prefix_range, record, require_bucket,
    upload_key,
};
use super::objects::replace_object;
use super::records::{ObjectRecord, PartRec, UploadRecord, decode, encode};
use crate::StoreError;

impl Engine {
    pub(crate) fn create_upload(&self, rec: &UploadRecord) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        {
            require_bucket(&txn.open_table(BUCKETS)?, &rec.bucket)?;
            let mut t = txn.open_table(UPLOADS)?;
            t.insert(
                upload_key(&rec.bucket, &rec.key, &rec.upload_id).as_slice(),
                encode(rec)?.as_slice(),
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
        match record(
            &txn.open_table(UPLOADS)?,
            &upload_key(bucket, key, upload_id),
        )? {
            Some(rec) => Ok(rec),
            None => Err(not_found(
                &txn.open_table(BUCKETS)?,
                bucket,
                StoreError::NoSuchUpload,
            )),
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
        let old = {
            let mut t = txn.open_table(UPLOADS)?;
            let k = upload_key(bucket, key, upload_id);
            let mut rec: UploadRecord = record(&t, &k)?.ok_or(StoreError::NoSuchUpload)?;
            let old = rec.parts.insert(part_number, part);
            t.insert(k.as_slice(), encode(&rec)?.as_slice())?;
            old
        };
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
            require_bucket(&txn.open_table(BUCKETS)?, bucket)?;
            let mut uploads = txn.open_table(UPLOADS)?;
            let uk = upload_key(bucket, key, upload_id);
            let upload: UploadRecord = record(&uploads, &uk)?.ok_or(StoreError::NoSuchUpload)?;
            rec = build(&upload)?;
            let current = replace_object(&mut txn.open_table(OBJECTS)?, bucket, key, &rec, cond)?;
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
                dead.extend(cur.segment_ids());
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
        let rec: UploadRecord = {
            require_bucket(&txn.open_table(BUCKETS)?, bucket)?;
            let mut t = txn.open_table(UPLOADS)?;
            let removed = t.remove(upload_key(bucket, key, upload_id).as_slice())?;
            match removed {
                Some(v) => decode(v.value())?,
                None => return Err(StoreError::NoSuchUpload),
            }
        };
        txn.commit()?;
        self.retire(rec.segment_ids());
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
        require_bucket(&txn.open_table(BUCKETS)?, bucket)?;
        let t = txn.open_table(UPLOADS)?;
        let (start, end) = prefix_range(bucket, prefix);
        let mut out = Vec::new();
        let mut truncated = false;
        for item in t.range(start.as_slice()..end.as_slice())? {
            let (_, v) = item?;
            let rec: UploadRecord = decode(v.value())?;
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
                let rec: UploadRecord = decode(v.value())?;
                if rec.initiated_ms < cutoff_ms {
                    keys.push(k.value().to_vec());
                    dead.extend(rec.segment_ids());
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
