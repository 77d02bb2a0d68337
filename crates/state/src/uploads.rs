//! Multipart uploads in flight, as the broker planned them when it created
//! them: which object, whose, how many stored bytes in parts of what size.
//! Part URLs are signed from this plan alone, so a client cannot get a URL
//! for a part the plan does not have, or one that accepts more bytes than
//! the part holds; any replica can sign, since the plan is shared.

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

impl Database {
    /// Records the plan of a multipart upload just created.
    pub async fn record_upload(
        &self,
        upload_id: &str,
        plan: &UploadPlan,
    ) -> Result<(), StateError> {
        let too_large = |_| StateError::InvalidInput("the upload is too large to record".into());
        sqlx::query(
            "INSERT INTO uploads \
             (upload_id, object_key, user_name, stored_size, part_size, part_count, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(upload_id)
        .bind(&plan.key)
        .bind(&plan.user)
        .bind(i64::try_from(plan.stored_size).map_err(too_large)?)
        .bind(i64::try_from(plan.part_size).map_err(too_large)?)
        .bind(i64::from(plan.part_count))
        .bind(now_ms())
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

    /// Forgets an upload that was completed or aborted.
    pub async fn forget_upload(&self, upload_id: &str) -> Result<(), StateError> {
        sqlx::query("DELETE FROM uploads WHERE upload_id = $1")
            .bind(upload_id)
            .execute(&self.pool)
            .await
            .map_err(|e| self.unavailable(e))?;
        Ok(())
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
