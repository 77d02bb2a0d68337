//! Share links: a user's objects handed to whoever holds
//! `<broker>/s/<id>#<secret>`.
//!
//! The id is public (it names the share in the owner's list and the audit
//! log); the secret is 256 random bits of which only the SHA-256 is kept, so a
//! copy of the database opens nothing. [`Database::find_share`] treats a wrong
//! secret exactly like an unknown id: no oracle for guessing either.
//!
//! Every shared object is pinned to the ETag it had when it was shared and
//! counts its own downloads. [`Database::count_share_download`] is the one
//! place a download is counted: a single conditional `UPDATE` that succeeds
//! only while the share is live and the object has downloads left, so replicas
//! racing on the last download cannot both win.

use std::time::Duration;

use sealdrop_api::{ShareStatus, ShareSummary, SharedObject};
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use crate::accounts::{hash_hex, random_base64url};
use crate::database::Database;
use crate::error::StateError;
use crate::time::{now_ms, rfc3339};

/// Longest note for the recipient, in characters.
pub const MAX_SHARE_NOTE_CHARS: usize = 1000;
/// Most objects in one share.
pub const MAX_SHARED_OBJECTS: usize = 100;

/// A share about to be created.
#[derive(Clone, Debug)]
pub struct NewShare<'a> {
    /// The owner.
    pub user: &'a str,
    /// The objects, each with the ETag it has now, in the order shown.
    pub objects: &'a [(String, String)],
    /// How long the link works.
    pub expires_in: Duration,
    /// Downloads allowed per object, if limited.
    pub max_downloads: Option<u32>,
    /// A note for the recipient.
    pub note: Option<&'a str>,
}

/// A share or file request just created: the secret is shown once, then
/// only its hash remains.
pub struct IssuedLink {
    /// The public id.
    pub id: String,
    /// The link's secret (base64url).
    pub secret: Zeroizing<String>,
}

impl IssuedLink {
    /// A fresh id (128 random bits) and secret (256 random bits).
    pub(crate) fn generate() -> Result<IssuedLink, StateError> {
        Ok(IssuedLink {
            id: random_base64url::<16>()?.to_string(),
            secret: random_base64url::<32>()?,
        })
    }
}

/// A secret presented with a link, hashed as soon as it arrives: before the
/// lookup, so an unknown id costs the same hash as a wrong secret.
pub(crate) struct PresentedSecret(String);

impl PresentedSecret {
    pub(crate) fn new(secret: &str) -> PresentedSecret {
        PresentedSecret(hash_hex(secret))
    }

    /// Whether it is the secret whose SHA-256 (hex) is `stored`, in constant time.
    pub(crate) fn matches(&self, stored: &str) -> bool {
        bool::from(self.0.as_bytes().ct_eq(stored.as_bytes()))
    }
}

/// One shared object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShareObject {
    /// Its place in the share (0-based).
    pub position: u32,
    /// The object key.
    pub key: String,
    /// The ETag it had when it was shared; another one is another object.
    pub etag: String,
    /// Downloads counted so far.
    pub downloads: u32,
    /// Whether the object was deleted since.
    pub deleted: bool,
}

/// A share as stored (without the secret's hash). Times are milliseconds
/// since the Unix epoch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShareRecord {
    /// The public id.
    pub id: String,
    /// The owner.
    pub user: String,
    /// The note for the recipient.
    pub note: Option<String>,
    /// Downloads allowed per object.
    pub max_downloads: Option<u32>,
    /// Created.
    pub created_at: i64,
    /// Stops working.
    pub expires_at: i64,
    /// Last opened by a recipient.
    pub last_access_at: Option<i64>,
    /// Revoked by the owner.
    pub revoked_at: Option<i64>,
    /// The owner's account is disabled: their links stop working with it.
    pub owner_disabled: bool,
    /// The objects, by position.
    pub objects: Vec<ShareObject>,
}

impl ShareRecord {
    /// How many more times `object` may be downloaded, if that is limited.
    pub fn downloads_left(&self, object: &ShareObject) -> Option<u32> {
        self.max_downloads
            .map(|max| max.saturating_sub(object.downloads))
    }

    /// Whether the link works as of now, and if not why (revocation first,
    /// then expiry, then the files).
    pub fn status(&self) -> ShareStatus {
        let mut available = self.objects.iter().filter(|o| !o.deleted).peekable();
        if self.revoked_at.is_some() || self.owner_disabled {
            ShareStatus::Revoked
        } else if self.expires_at <= now_ms() {
            ShareStatus::Expired
        } else if available.peek().is_none() {
            ShareStatus::Deleted
        } else if available.all(|o| self.downloads_left(o) == Some(0)) {
            ShareStatus::Exhausted
        } else {
            ShareStatus::Active
        }
    }

    /// The share as its owner lists it.
    pub fn summary(&self) -> ShareSummary {
        ShareSummary {
            id: self.id.clone(),
            status: self.status(),
            objects: self
                .objects
                .iter()
                .map(|o| SharedObject {
                    key: o.key.clone(),
                    downloads: o.downloads,
                    available: !o.deleted,
                })
                .collect(),
            max_downloads: self.max_downloads,
            note: self.note.clone(),
            created_at: rfc3339(self.created_at),
            expires_at: rfc3339(self.expires_at),
            last_access_at: self.last_access_at.map(rfc3339),
            revoked_at: self.revoked_at.map(rfc3339),
        }
    }
}

type ShareRow = (
    String,
    String,
    String,
    Option<String>,
    Option<i64>,
    i64,
    i64,
    Option<i64>,
    Option<i64>,
);

/// The columns of [`ShareRow`], in its order (a macro, since sqlx takes only
/// static SQL).
macro_rules! share_columns {
    () => {
        "id, secret_sha256, user_name, note, max_downloads, created_at, expires_at, \
         last_access_at, revoked_at"
    };
}

fn count(value: i64) -> u32 {
    u32::try_from(value.max(0)).unwrap_or(u32::MAX)
}

/// Checks a note for whoever opens a link (a share's or a file request's).
pub(crate) fn check_note(note: Option<&str>) -> Result<(), StateError> {
    match note {
        Some(note)
            if note.chars().count() > MAX_SHARE_NOTE_CHARS
                || note.chars().any(|c| c.is_control() && c != '\n') =>
        {
            Err(StateError::InvalidInput(format!(
                "a note is at most {MAX_SHARE_NOTE_CHARS} printable characters (line breaks allowed)"
            )))
        }
        _ => Ok(()),
    }
}

/// `now + lifetime` in database time, for a link's expiry (never zero).
pub(crate) fn expiry_from(now: i64, lifetime: Duration) -> Result<i64, StateError> {
    i64::try_from(lifetime.as_millis())
        .ok()
        .and_then(|ms| now.checked_add(ms))
        .filter(|_| !lifetime.is_zero())
        .ok_or_else(|| StateError::InvalidInput("the expiry is out of range".into()))
}

impl Database {
    /// Whether `user` is disabled or gone: their links stop working with them.
    pub(crate) async fn owner_disabled(&self, user: &str) -> Result<bool, StateError> {
        let owner: Option<(Option<i64>,)> =
            sqlx::query_as("SELECT disabled_at FROM users WHERE name = $1")
                .bind(user)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| self.unavailable(e))?;
        Ok(!matches!(owner, Some((None,))))
    }

    /// Creates a share and returns its id and secret.
    pub async fn create_share(&self, share: &NewShare<'_>) -> Result<IssuedLink, StateError> {
        check_note(share.note)?;
        if share.objects.is_empty() || share.objects.len() > MAX_SHARED_OBJECTS {
            return Err(StateError::InvalidInput(format!(
                "a share holds 1-{MAX_SHARED_OBJECTS} objects"
            )));
        }
        if share.max_downloads == Some(0) {
            return Err(StateError::InvalidInput(
                "the download limit must be at least 1".into(),
            ));
        }
        let now = now_ms();
        let expires_at = expiry_from(now, share.expires_in)?;
        let IssuedLink { id, secret } = IssuedLink::generate()?;
        let max_downloads = share.max_downloads.map(i64::from);
        let mut tx = self.pool.begin().await.map_err(|e| self.unavailable(e))?;
        sqlx::query(concat!(
            "INSERT INTO shares (",
            share_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, NULL)"
        ))
        .bind(&id)
        .bind(hash_hex(&secret))
        .bind(share.user)
        .bind(share.note)
        .bind(max_downloads)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.unavailable(e))?;
        for (position, (key, etag)) in (0i64..).zip(share.objects) {
            sqlx::query(
                "INSERT INTO share_objects (share_id, position, object_key, etag, max_downloads) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&id)
            .bind(position)
            .bind(key)
            .bind(etag)
            .bind(max_downloads)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.unavailable(e))?;
        }
        tx.commit().await.map_err(|e| self.unavailable(e))?;
        Ok(IssuedLink { id, secret })
    }

    /// The share `id`, if it exists and `secret` is its secret. A wrong secret
    /// and an unknown id are the same `None`, and cost the same hash.
    pub async fn find_share(
        &self,
        id: &str,
        secret: &str,
    ) -> Result<Option<ShareRecord>, StateError> {
        let presented = PresentedSecret::new(secret);
        let row: Option<ShareRow> = sqlx::query_as(concat!(
            "SELECT ",
            share_columns!(),
            " FROM shares WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.unavailable(e))?;
        let Some(row) = row else { return Ok(None) };
        if !presented.matches(&row.1) {
            return Ok(None);
        }
        self.with_objects(row).await.map(Some)
    }

    /// The shares `user` made, newest first, ended ones included.
    pub async fn shares_of(&self, user: &str) -> Result<Vec<ShareRecord>, StateError> {
        let rows: Vec<ShareRow> = sqlx::query_as(concat!(
            "SELECT ",
            share_columns!(),
            " FROM shares WHERE user_name = $1 ORDER BY created_at DESC, id"
        ))
        .bind(user)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.unavailable(e))?;
        let mut shares = Vec::with_capacity(rows.len());
        for row in rows {
            shares.push(self.with_objects(row).await?);
        }
        Ok(shares)
    }

    async fn with_objects(&self, row: ShareRow) -> Result<ShareRecord, StateError> {
        let (id, _, user, note, max_downloads, created_at, expires_at, last_access_at, revoked_at) =
            row;
        let objects: Vec<(i64, String, String, i64, Option<i64>)> = sqlx::query_as(
            "SELECT position, object_key, etag, downloads, deleted_at FROM share_objects \
             WHERE share_id = $1 ORDER BY position",
        )
        .bind(&id)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.unavailable(e))?;
        Ok(ShareRecord {
            owner_disabled: self.owner_disabled(&user).await?,
            id,
            user,
            note,
            max_downloads: max_downloads.map(count),
            created_at,
            expires_at,
            last_access_at,
            revoked_at,
            objects: objects
                .into_iter()
                .map(|(position, key, etag, downloads, deleted_at)| ShareObject {
                    position: count(position),
                    key,
                    etag,
                    downloads: count(downloads),
                    deleted: deleted_at.is_some(),
                })
                .collect(),
        })
    }

    /// Revokes `user`'s share `id`; `false` if they have no such share.
    /// Revoking twice is the same as once.
    pub async fn revoke_share(&self, user: &str, id: &str) -> Result<bool, StateError> {
        let updated = sqlx::query(
            "UPDATE shares SET revoked_at = COALESCE(revoked_at, $1) \
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

    /// Counts one download of the object at `position` of share `id`, if the
    /// share is live (not revoked, not expired) and the object is not deleted
    /// and has downloads left; `false` if not, and then nothing changed. One
    /// statement, so it is atomic on SQLite and on PostgreSQL (where a racing
    /// update waits for the row and re-checks the condition).
    pub async fn count_share_download(&self, id: &str, position: u32) -> Result<bool, StateError> {
        let now = now_ms();
        let counted = sqlx::query(
            "UPDATE share_objects SET downloads = downloads + 1 \
             WHERE share_id = $1 AND position = $2 AND deleted_at IS NULL \
               AND (max_downloads IS NULL OR downloads < max_downloads) \
               AND EXISTS (SELECT 1 FROM shares s JOIN users u ON u.name = s.user_name \
                           WHERE s.id = $1 AND s.revoked_at IS NULL AND s.expires_at > $3 \
                           AND u.disabled_at IS NULL)",
        )
        .bind(id)
        .bind(i64::from(position))
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(|e| self.unavailable(e))?;
        let counted = counted.rows_affected() == 1;
        if counted {
            self.note_share_access(id).await?;
        }
        Ok(counted)
    }

    /// Records that a recipient opened share `id` (its page or a file).
    pub async fn note_share_access(&self, id: &str) -> Result<(), StateError> {
        sqlx::query("UPDATE shares SET last_access_at = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(|e| self.unavailable(e))?;
        Ok(())
    }

    /// Marks the object at `position` of share `id` as gone (deleted or
    /// replaced on storage behind sealdrop's back): the share no longer serves it.
    pub async fn retire_shared_object(&self, id: &str, position: u32) -> Result<(), StateError> {
        sqlx::query(
            "UPDATE share_objects SET deleted_at = $1 \
             WHERE share_id = $2 AND position = $3 AND deleted_at IS NULL",
        )
        .bind(now_ms())
        .bind(id)
        .bind(i64::from(position))
        .execute(&self.pool)
        .await
        .map_err(|e| self.unavailable(e))?;
        Ok(())
    }

    /// Ends the shares of object `key` (it was deleted): they no longer serve it.
    pub async fn unshare_object(&self, key: &str) -> Result<(), StateError> {
        sqlx::query(
            "UPDATE share_objects SET deleted_at = $1 \
             WHERE object_key = $2 AND deleted_at IS NULL",
        )
        .bind(now_ms())
        .bind(key)
        .execute(&self.pool)
        .await
        .map_err(|e| self.unavailable(e))?;
        Ok(())
    }
}
