//! Importing the `users.json` that sealdrop kept before it had a database.
//!
//! The import is idempotent (rows that exist are left alone) and loses
//! nothing: users, token hashes, ids, dates and revocations carry over, and
//! the file is kept beside the database as `users.json.imported`.

use std::path::Path;

use serde::Deserialize;

use crate::database::Database;
use crate::error::StateError;
use crate::names::validate_user_name;
use crate::time::{now_ms, parse_rfc3339};

#[derive(Deserialize)]
struct UsersFile {
    users: Vec<UserRecord>,
}

#[derive(Deserialize)]
struct UserRecord {
    name: String,
    created_at: String,
    tokens: Vec<TokenRecord>,
}

#[derive(Deserialize)]
struct TokenRecord {
    id: String,
    sha256: String,
    created_at: String,
    #[serde(default)]
    revoked_at: Option<String>,
}

/// What an import found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Users in the file.
    pub users: usize,
    /// Tokens in the file (active and revoked).
    pub tokens: usize,
    /// Rows that were new to the database (0 when it ran before).
    pub inserted: u64,
}

impl Database {
    /// Imports `path` (a legacy `users.json`) if it exists, then renames it to
    /// `users.json.imported`. Returns `None` when there was nothing to import.
    pub async fn import_users_file(&self, path: &Path) -> Result<Option<ImportReport>, StateError> {
        let failed = |reason: String| StateError::Import {
            path: path.display().to_string(),
            reason,
        };
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(failed(e.to_string())),
        };
        let file: UsersFile =
            serde_json::from_slice(&bytes).map_err(|e| failed(format!("not a users file: {e}")))?;
        let mut report = ImportReport::default();
        let mut tx = self.pool.begin().await.map_err(|e| self.unavailable(e))?;
        for user in &file.users {
            validate_user_name(&user.name).map_err(failed)?;
            let created = parse_rfc3339(&user.created_at).unwrap_or_else(now_ms);
            report.users += 1;
            report.inserted += sqlx::query(
                "INSERT INTO users (name, origin, created_at) VALUES ($1, 'local', $2) \
                 ON CONFLICT (name) DO NOTHING",
            )
            .bind(&user.name)
            .bind(created)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.unavailable(e))?
            .rows_affected();
            for token in &user.tokens {
                let hash_ok =
                    token.sha256.len() == 64 && token.sha256.bytes().all(|b| b.is_ascii_hexdigit());
                if !hash_ok || token.id.is_empty() {
                    return Err(failed(format!(
                        "token {:?} of {:?} has no valid hash",
                        token.id, user.name
                    )));
                }
                report.tokens += 1;
                report.inserted += sqlx::query(
                    "INSERT INTO api_tokens (id, sha256, user_name, created_at, revoked_at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                )
                .bind(&token.id)
                .bind(token.sha256.to_ascii_lowercase())
                .bind(&user.name)
                .bind(parse_rfc3339(&token.created_at).unwrap_or_else(now_ms))
                .bind(
                    token
                        .revoked_at
                        .as_ref()
                        .map(|at| parse_rfc3339(at).unwrap_or_else(now_ms)),
                )
                .execute(&mut *tx)
                .await
                .map_err(|e| self.unavailable(e))?
                .rows_affected();
            }
        }
        tx.commit().await.map_err(|e| self.unavailable(e))?;
        // Only after the rows are committed: a crash before this rename
        // imports again on the next start, which changes nothing.
        let backup = path.with_extension("json.imported");
        std::fs::rename(path, &backup)
            .map_err(|e| failed(format!("keeping it as {}: {e}", backup.display())))?;
        Ok(Some(report))
    }
}
