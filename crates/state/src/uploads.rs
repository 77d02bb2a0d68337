//! Uploads in flight.
//!
//! - Multipart uploads, as the broker planned them when it created them:
//!   which object, whose, how many stored bytes in parts of what size. Part
//!   URLs are signed from this plan alone, so a client cannot get a URL for a
//!   part the plan does not have, or one that accepts more bytes than the part
//!   holds; any replica can sign, since the plan is shared. Each plan records
//!   its last activity, so that abandoned uploads can be aborted.
//! - Single-request uploads while their presigned PUT is valid: the bytes
//!   they may still add to storage.
//!
//! Together they are what a user's quota counts beside the objects stored.

use std::time::Duration;

use crate::accounts::random_base64url;
use crate::database::Database;
use crate::error::StateError;
use crate::time::now_ms;

/// The layout of one multipart upload: every part but the last holds
/// `part_size` bytes, the last the rest (for client-side encryption that
/// includes the 16-byte tag, so it may exceed `part_size`). Invariant:
/// `part_count ≥ 1` and `(part_count - 1) × part_size < stored_size`, so the
/// last part holds at least one byte.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadPlan {
    /// The object key.
    pub key: String,
    /// Who started it.
    pub user: String,
    stored_size: u64,
    part_size: u64,
    part_count: u32,
}

impl UploadPlan {
    /// A plan, if the sizes are consistent (see the invariant).
    pub fn new(
        key: &str,
        user: &str,
        stored_size: u64,
        part_size: u64,
        part_count: u32,
    ) -> Option<UploadPlan> {
        let before_last = u64::from(part_count.checked_sub(1)?).checked_mul(part_size)?;
        (part_size > 0 && before_last < stored_size).then(|| UploadPlan {
            key: key.to_owned(),
            user: user.to_owned(),
            stored_size,
            part_size,
            part_count,
        })
    }

    /// How many parts.
    pub fn part_count(&self) -> u32 {
        self.part_count
    }

    /// The exact stored length of part `number` (1-based), or `None` outside
    /// the plan.
    pub fn part_len(&self, number: u32) -> Option<u64> {
        if number == 0 || number > self.part_count {
            return None;
        }
        if number < self.part_count {
            return Some(self.part_size);
        }
        Some(self.stored_size - u64::from(number - 1) * self.part_size)
    }
}

/// A single-request upload whose presigned PUT may still be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingPut {
    /// Its record's id.
    pub id: String,
    /// The object key.
    pub key: String,
    /// The exact length the PUT was signed for.
    pub stored_size: u64,
    /// When it was signed, in milliseconds since the Unix epoch.
    pub created_at_ms: i64,
}

/// What a user's uploads in flight may still add to storage.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InFlight {
    /// Multipart uploads in progress (their parts take storage no listing shows).
    pub multipart_uploads: u32,
    /// Their planned stored bytes.
    pub multipart_bytes: u64,
    /// Single-request uploads whose URL has not expired.
    pub pending_puts: Vec<PendingPut>,
}

/// A multipart upload nobody has touched for a while.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdleUpload {
    /// The upload id.
    pub upload_id: String,
    /// The object key.
    pub key: String,
    /// Whose it is.
    pub user: String,
}

fn stored_len(value: u64) -> Result<i64, StateError> {
    i64::try_from(value)
        .map_err(|_| StateError::InvalidInput("the upload is too large to record".into()))
}

fn ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

impl Database {
    /// Records the plan of a multipart upload just created.
    pub async fn record_upload(
        &self,
        upload_id: &str,
        plan: &UploadPlan,
    ) -> Result<(), StateError> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO uploads (upload_id, object_key, user_name, stored_size, part_size, \
             part_count, created_at, touched_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        )
        .bind(upload_id)
        .bind(&plan.key)
        .bind(&plan.user)
        .bind(stored_len(plan.stored_size)?)
        .bind(stored_len(plan.part_size)?)
        .bind(i64::from(plan.part_count))
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(|e| self.unavailable(e))?;
        Ok(())
    }

    /// The plan of an upload in flight, if there is one with this id.
    pub async fn upload_plan(&self, upload_id: &str) -> Result<Option<UploadPlan>, StateError> {
        let row: Option<(String, String, i64, i64, i64)> = sqlx::query_as(
            "SELECT object_key, user_name, stored_size, part_size, part_count \
             FROM uploads WHERE upload_id = $1",
        )
        .bind(upload_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.unavailable(e))?;
        Ok(row.and_then(|(key, user, stored, part_size, count)| {
            UploadPlan::new(
                &key,
                &user,
                u64::try_from(stored).ok()?,
                u64::try_from(part_size).ok()?,
                u32::try_from(count).ok()?,
            )
        }))
    }

    /// Notes activity on a multipart upload (parts being signed), so it is
    /// not taken for abandoned.
    pub async fn touch_upload(&self, upload_id: &str) -> Result<(), StateError> {
        sqlx::query("UPDATE uploads SET touched_at = $1 WHERE upload_id = $2")
            .bind(now_ms())
            .bind(upload_id)
            .execute(&self.pool)
            .await
            .map_err(|e| self.unavailable(e))?;
        Ok(())
    }

    /// Forgets an upload that was completed or aborted; `false` if it was not
    /// recorded (any more), so of two replicas forgetting it only one is told
    /// it did.
    pub async fn forget_upload(&self, upload_id: &str) -> Result<bool, StateError> {
        let deleted = sqlx::query("DELETE FROM uploads WHERE upload_id = $1")
            .bind(upload_id)
            .execute(&self.pool)
            .await
            .map_err(|e| self.unavailable(e))?;
        Ok(deleted.rows_affected() > 0)
    }

    /// Multipart uploads with no activity for `idle` (oldest first, at most
    /// `limit`).
    pub async fn idle_uploads(
        &self,
        idle: Duration,
        limit: u32,
    ) -> Result<Vec<IdleUpload>, StateError> {
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT upload_id, object_key, user_name FROM uploads \
             WHERE COALESCE(touched_at, created_at) < $1 \
             ORDER BY COALESCE(touched_at, created_at) LIMIT $2",
        )
        .bind(now_ms().saturating_sub(ms(idle)))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.unavailable(e))?;
        Ok(rows
            .into_iter()
            .map(|(upload_id, key, user)| IdleUpload {
                upload_id,
                key,
                user,
            })
            .collect())
    }

    /// Records a single-request upload of `stored_size` bytes to `key`, signed
    /// for `valid_for`; returns the record's id.
    pub async fn record_pending_put(
        &self,
        key: &str,
        user: &str,
        stored_size: u64,
        valid_for: Duration,
    ) -> Result<String, StateError> {
        let id = random_base64url::<16>()?.to_string();
        let now = now_ms();
        sqlx::query(
            "INSERT INTO single_uploads \
             (id, object_key, user_name, stored_size, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id)
        .bind(key)
        .bind(user)
        .bind(stored_len(stored_size)?)
        .bind(now)
        .bind(now.saturating_add(ms(valid_for)))
        .execute(&self.pool)
        .await
        .map_err(|e| self.unavailable(e))?;
        Ok(id)
    }

    /// Forgets single-request uploads: their object arrived, or they were
    /// withdrawn.
    pub async fn forget_pending_puts(&self, ids: &[String]) -> Result<(), StateError> {
        for id in ids {
            sqlx::query("DELETE FROM single_uploads WHERE id = $1")
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(|e| self.unavailable(e))?;
        }
        Ok(())
    }

    /// Forgets single-request uploads whose URL expired; returns how many.
    pub async fn forget_expired_puts(&self) -> Result<u64, StateError> {
        let deleted = sqlx::query("DELETE FROM single_uploads WHERE expires_at <= $1")
            .bind(now_ms())
            .execute(&self.pool)
            .await
            .map_err(|e| self.unavailable(e))?;
        Ok(deleted.rows_affected())
    }

    /// What `user`'s uploads in flight may still add to storage.
    pub async fn in_flight_of(&self, user: &str) -> Result<InFlight, StateError> {
        // (PostgreSQL sums BIGINT as NUMERIC, which the Any driver cannot read.)
        let (multipart_uploads, multipart_bytes): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), CAST(COALESCE(SUM(stored_size), 0) AS BIGINT) \
             FROM uploads WHERE user_name = $1",
        )
        .bind(user)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.unavailable(e))?;
        let puts: Vec<(String, String, i64, i64)> = sqlx::query_as(
            "SELECT id, object_key, stored_size, created_at FROM single_uploads \
             WHERE user_name = $1 AND expires_at > $2",
        )
        .bind(user)
        .bind(now_ms())
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.unavailable(e))?;
        Ok(InFlight {
            multipart_uploads: u32::try_from(multipart_uploads).unwrap_or(u32::MAX),
            multipart_bytes: u64::try_from(multipart_bytes).unwrap_or(0),
            pending_puts: puts
                .into_iter()
                .map(|(id, key, size, created_at_ms)| PendingPut {
                    id,
                    key,
                    stored_size: u64::try_from(size).unwrap_or(0),
                    created_at_ms,
                })
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_cover_the_stored_bytes_exactly() {
        let plan = UploadPlan::new("k", "u", 10, 4, 3).unwrap_or_else(|| unreachable!());
        let lens: Vec<Option<u64>> = (0..=4).map(|n| plan.part_len(n)).collect();
        assert_eq!(lens, [None, Some(4), Some(4), Some(2), None]);
        let even = UploadPlan::new("k", "u", 8, 4, 2).unwrap_or_else(|| unreachable!());
        assert_eq!(even.part_len(2), Some(4));
        // The tag of client-side encryption rides on the last part.
        let tagged = UploadPlan::new("k", "u", 8 + 16, 4, 2).unwrap_or_else(|| unreachable!());
        assert_eq!(tagged.part_len(2), Some(4 + 16));
        // Inconsistent layouts are not plans.
        assert!(
            UploadPlan::new("k", "u", 8, 4, 3).is_none(),
            "an empty part"
        );
        assert!(UploadPlan::new("k", "u", 1, 4, 0).is_none());
        assert!(UploadPlan::new("k", "u", 1, 0, 1).is_none());
    }
}
