//! File requests: `<broker>/r/<id>#<secret>` lets anyone who has it upload
//! into the owner's `inbox/<name>/`.
//!
//! As with shares, only the secret's SHA-256 is kept and a wrong secret is an
//! unknown id ([`Database::find_file_request`]). Every upload through a request
//! first reserves one file and its bytes, and its object key, in
//! [`Database::reserve_request_upload`]: one conditional `UPDATE` (limits
//! hold under racing replicas) and an insert into a table keyed by the object
//! key (no two uploads get the same key, so no uploader replaces another's
//! file). An aborted upload gives its reservation back.

use std::time::Duration;

use crate::accounts::hash_hex;
use crate::database::Database;
use crate::error::StateError;
use crate::shares::{IssuedLink, PresentedSecret, check_note, expiry_from};
use crate::time::{now_ms, rfc3339};
use sealdrop_api::{FileRequestStatus, FileRequestSummary};

/// The folder under a user's prefix where file requests deliver.
pub use sealdrop_api::INBOX_FOLDER as INBOX;

/// A file request about to be created.
#[derive(Clone, Debug)]
pub struct NewFileRequest<'a> {
    /// The owner.
    pub user: &'a str,
    /// Its name (a valid single path segment; the broker checks).
    pub name: &'a str,
    /// How long the link takes files.
    pub expires_in: Duration,
    /// Most files in all.
    pub max_files: u32,
    /// Most plaintext bytes in all.
    pub max_bytes: u64,
    /// A note for uploaders.
    pub note: Option<&'a str>,
}

/// A file request as stored (without the secret's hash); times in ms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRequestRecord {
    /// The public id.
    pub id: String,
    /// The owner.
    pub user: String,
    /// The name.
    pub name: String,
    /// The note for uploaders.
    pub note: Option<String>,
    /// Most files.
    pub max_files: u32,
    /// Most plaintext bytes.
    pub max_bytes: u64,
    /// Files reserved so far.
    pub files: u32,
    /// Bytes reserved so far.
    pub bytes: u64,
    /// Created.
    pub created_at: i64,
    /// Stops taking files.
    pub expires_at: i64,
    /// Closed by the owner.
    pub closed_at: Option<i64>,
    /// The owner's account is disabled.
    pub owner_disabled: bool,
}

/// Why an upload could not be reserved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReservationRefusal {
    /// The request expired or was closed.
    #[error("{}", .0.explanation())]
    Ended(FileRequestStatus),
    /// Every file it takes has been sent.
    #[error("this file request takes no more files")]
    NoFilesLeft,
    /// The file is larger than what is left.
    #[error("this file is larger than the {0} bytes this file request still takes")]
    TooLarge(u64),
    /// Another upload holds this object key.
    #[error("the name is taken")]
    NameTaken,
}

impl FileRequestRecord {
    /// Where its files arrive: `<user>/inbox/<name>/`.
    pub fn prefix(&self) -> String {
        format!("{}/{INBOX}{}/", self.user, self.name)
    }

    /// Whether it takes files as of now.
    pub fn status(&self) -> FileRequestStatus {
        if self.closed_at.is_some() || self.owner_disabled {
            FileRequestStatus::Closed
        } else if self.expires_at <= now_ms() {
            FileRequestStatus::Expired
        } else {
            FileRequestStatus::Open
        }
    }

    /// The request as its owner lists it.
    pub fn summary(&self) -> FileRequestSummary {
        FileRequestSummary {
            id: self.id.clone(),
            name: self.name.clone(),
            prefix: self.prefix(),
            status: self.status(),
            max_files: self.max_files,
            max_bytes: self.max_bytes,
            files: self.files,
            bytes: self.bytes,
            note: self.note.clone(),
            created_at: rfc3339(self.created_at),
            expires_at: rfc3339(self.expires_at),
            closed_at: self.closed_at.map(rfc3339),
        }
    }
}

type RequestRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    Option<i64>,
);

/// The columns of [`RequestRow`], in its order.
macro_rules! request_columns {
    () => {
        "id, secret_sha256, user_name, name, note, max_files, max_bytes, files, bytes, \
         created_at, expires_at, closed_at"
    };
}

fn unsigned(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn invalid(why: &str) -> StateError {
    StateError::InvalidInput(why.into())
}

impl Database {
    /// Creates a file request and returns its id and secret.
    pub async fn create_file_request(
        &self,
        request: &NewFileRequest<'_>,
    ) -> Result<IssuedLink, StateError> {
        check_note(request.note)?;
        if request.max_files == 0 || request.max_bytes == 0 {
            return Err(invalid(
                "a file request takes at least one file of one byte",
            ));
        }
        let max_bytes = i64::try_from(request.max_bytes)
            .map_err(|_| invalid("the byte limit is out of range"))?;
        let now = now_ms();
        let expires_at = expiry_from(now, request.expires_in)?;
        let IssuedLink { id, secret } = IssuedLink::generate()?;
        sqlx::query(concat!(
            "INSERT INTO file_requests (",
            request_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, 0, 0, $8, $9, NULL)"
        ))
        .bind(&id)
        .bind(hash_hex(&secret))
        .bind(request.user)
        .bind(request.name)
        .bind(request.note)
        .bind(i64::from(request.max_files))
        .bind(max_bytes)
        .bind(now)
        .bind(expires_at)
        .execute(&self.pool)
        .await
        .map_err(|e| self.unavailable(e))?;
        Ok(IssuedLink { id, secret })
    }

    /// The file request `id`, if `secret` is its secret (a wrong secret and an
    /// unknown id are the same `None`, and cost the same hash).
    pub async fn find_file_request(
        &self,
        id: &str,
        secret: &str,
    ) -> Result<Option<FileRequestRecord>, StateError> {
        let presented = PresentedSecret::new(secret);
        let row: Option<RequestRow> = sqlx::query_as(concat!(
            "SELECT ",
            request_columns!(),
            " FROM file_requests WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.unavailable(e))?;
        let Some(row) = row else { return Ok(None) };
        if !presented.matches(&row.1) {
            return Ok(None);
        }
        self.request_record(row).await.map(Some)
    }

    /// The file requests `user` made, newest first.
    pub async fn file_requests_of(&self, user: &str) -> Result<Vec<FileRequestRecord>, StateError> {
        let rows: Vec<RequestRow> = sqlx::query_as(concat!(
            "SELECT ",
            request_columns!(),
            " FROM file_requests WHERE user_name = $1 ORDER BY created_at DESC, id"
        ))
        .bind(user)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.unavailable(e))?;
        let mut requests = Vec::with_capacity(rows.len());
        for row in rows {
            requests.push(self.request_record(row).await?);
        }
        Ok(requests)
    }

    async fn request_record(&self, row: RequestRow) -> Result<FileRequestRecord, StateError> {
        let (id, _, user, name, note, max_files, max_bytes, files, bytes, created, expires, closed) =
            row;
        Ok(FileRequestRecord {
            owner_disabled: self.owner_disabled(&user).await?,
            id,
            user,
            name,
            note,
            max_files: u32::try_from(max_files).unwrap_or(0),
            max_bytes: unsigned(max_bytes),
            files: u32::try_from(files).unwrap_or(u32::MAX),
            bytes: unsigned(bytes),
            created_at: created,
            expires_at: expires,
            closed_at: closed,
        })
    }

    /// Closes `user`'s file request `id`; `false` if they have no such request.
    pub async fn close_file_request(&self, user: &str, id: &str) -> Result<bool, StateError> {
        let updated = sqlx::query(
            "UPDATE file_requests SET closed_at = COALESCE(closed_at, $1) \
             WHERE id = $2 AND user_name = $3",
        )
        .bind(now_ms())
        .bind(id)
        .bind(user)
        .execute(&self.pool)
        .await
        .map_err(|e| self.unavailable(e))?;
        Ok(updated.rows_affected() > 0)
    }

    /// Reserves one file of `size` plaintext bytes under object `key` for an
    /// upload through request `id`, or says why not (nothing is reserved then).
    pub async fn reserve_request_upload(
        &self,
        id: &str,
        key: &str,
        size: u64,
    ) -> Result<Result<(), ReservationRefusal>, StateError> {
        let size_i64 = i64::try_from(size).map_err(|_| invalid("the size is out of range"))?;
        let now = now_ms();
        let mut tx = self.pool.begin().await.map_err(|e| self.unavailable(e))?;
        let reserved = sqlx::query(
            "UPDATE file_requests SET files = files + 1, bytes = bytes + $1 \
             WHERE id = $2 AND closed_at IS NULL AND expires_at > $3 \
               AND files < max_files AND bytes + $1 <= max_bytes \
               AND EXISTS (SELECT 1 FROM users u WHERE u.name = file_requests.user_name \
                           AND u.disabled_at IS NULL)",
        )
        .bind(size_i64)
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.unavailable(e))?;
        if reserved.rows_affected() == 0 {
            drop(tx);
            return self.why_not_reserved(id, size).await.map(Err);
        }
        let inserted = sqlx::query(
            "INSERT INTO file_request_uploads (object_key, request_id, size, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (object_key) DO NOTHING",
        )
        .bind(key)
        .bind(id)
        .bind(size_i64)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.unavailable(e))?;
        if inserted.rows_affected() == 0 {
            // Rolled back on drop: the file and bytes are not taken.
            return Ok(Err(ReservationRefusal::NameTaken));
        }
        tx.commit().await.map_err(|e| self.unavailable(e))?;
        Ok(Ok(()))
    }

    async fn why_not_reserved(
        &self,
        id: &str,
        size: u64,
    ) -> Result<ReservationRefusal, StateError> {
        let row: Option<RequestRow> = sqlx::query_as(concat!(
            "SELECT ",
            request_columns!(),
            " FROM file_requests WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.unavailable(e))?;
        let Some(row) = row else {
            return Ok(ReservationRefusal::Ended(FileRequestStatus::Closed));
        };
        let record = self.request_record(row).await?;
        Ok(match record.status() {
            FileRequestStatus::Open if record.files >= record.max_files => {
                ReservationRefusal::NoFilesLeft
            }
            FileRequestStatus::Open => {
                let left = record.max_bytes.saturating_sub(record.bytes);
                if size > left {
                    ReservationRefusal::TooLarge(left)
                } else {
                    // Taken by a racing upload meanwhile.
                    ReservationRefusal::NoFilesLeft
                }
            }
            ended => ReservationRefusal::Ended(ended),
        })
    }

    /// Gives back the reservation of an upload through a file request that
    /// was aborted or never arrived; nothing happens for a key no request
    /// reserved, or one another replica already gave back.
    pub async fn release_request_upload(&self, key: &str) -> Result<(), StateError> {
        let mut tx = self.pool.begin().await.map_err(|e| self.unavailable(e))?;
        // Deleting first decides which of two racing releases gives it back.
        let row: Option<(String, i64)> = sqlx::query_as(
            "DELETE FROM file_request_uploads WHERE object_key = $1 RETURNING request_id, size",
        )
        .bind(key)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| self.unavailable(e))?;
        let Some((request_id, size)) = row else {
            return Ok(());
        };
        sqlx::query("UPDATE file_requests SET files = files - 1, bytes = bytes - $1 WHERE id = $2")
            .bind(size)
            .bind(&request_id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.unavailable(e))?;
        tx.commit().await.map_err(|e| self.unavailable(e))?;
        Ok(())
    }

    /// Notes that the file reserved under `key` was stored: it keeps its
    /// place in the request for good.
    pub async fn settle_request_upload(&self, key: &str) -> Result<(), StateError> {
        sqlx::query(
            "UPDATE file_request_uploads SET settled_at = $1 \
             WHERE object_key = $2 AND settled_at IS NULL",
        )
        .bind(now_ms())
        .bind(key)
        .execute(&self.pool)
        .await
        .map_err(|e| self.unavailable(e))?;
        Ok(())
    }

    /// Keys reserved through file requests more than `age` ago that were never
    /// seen stored and have no multipart upload in progress (at most `limit`).
    pub async fn unsettled_request_uploads(
        &self,
        age: std::time::Duration,
        limit: u32,
    ) -> Result<Vec<String>, StateError> {
        let age_ms = i64::try_from(age.as_millis()).unwrap_or(i64::MAX);
        let keys: Vec<(String,)> = sqlx::query_as(
            "SELECT f.object_key FROM file_request_uploads f \
             WHERE f.settled_at IS NULL AND f.created_at < $1 \
               AND NOT EXISTS (SELECT 1 FROM uploads u WHERE u.object_key = f.object_key) \
             ORDER BY f.created_at LIMIT $2",
        )
        .bind(now_ms().saturating_sub(age_ms))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.unavailable(e))?;
        Ok(keys.into_iter().map(|(key,)| key).collect())
    }
}
