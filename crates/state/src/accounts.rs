//! Users and their API tokens.
//!
//! A token is `sdt_` + 43 characters of base64url (256 random bits). Only its
//! SHA-256 is stored: tokens are random, so a fast hash loses nothing, and a
//! copy of the database does not hold a usable token. Lookup is by hash.
//! Each user may hold several tokens, each with an optional name and expiry;
//! issuing one never reveals another.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::database::Database;
use crate::error::StateError;
use crate::identities::IdentitySummary;
use crate::names::UserName;
use crate::time::{now_ms, rfc3339};

/// Every token starts so, which tells sealdrop tokens from JWTs.
pub const TOKEN_PREFIX: &str = "sdt_";

/// `last_used_at`/`last_seen_at` are written at most this often per token, so
/// authenticating is a read, not a write per request.
const LAST_USED_RESOLUTION_MS: i64 = 60_000;

/// Longest token name.
const MAX_LABEL_LEN: usize = 100;

/// A token just issued: shown once, then only its hash remains.
pub struct IssuedToken {
    /// Public identifier (for `admin token revoke`).
    pub id: String,
    /// The bearer token.
    pub token: Zeroizing<String>,
    /// When it stops working (RFC 3339), if it does.
    pub expires_at: Option<String>,
}

/// Who a valid token belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authenticated {
    /// The user.
    pub user: String,
    /// The token's id.
    pub token_id: String,
}

/// Why a token was refused. The words are safe to return to its holder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenRefusal {
    #[error("invalid or revoked token")]
    Unknown,
    #[error("the token has expired; ask an administrator for a new one")]
    Expired,
    #[error("the account is disabled")]
    Disabled,
}

/// A user as `admin user list` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct UserSummary {
    /// The user name (also their key prefix).
    pub name: String,
    /// `local` (made by an operator or imported) or `oidc` (auto-provisioned).
    pub origin: String,
    /// When the user was created (RFC 3339).
    pub created_at: String,
    /// When the user was disabled, if they are.
    pub disabled_at: Option<String>,
    /// When the user last authenticated (to a minute).
    pub last_seen_at: Option<String>,
    /// Their tokens, oldest first.
    pub tokens: Vec<TokenSummary>,
    /// The single sign-on identities that sign in as them.
    pub identities: Vec<IdentitySummary>,
}

/// A token as `admin user list` shows it (never the token itself).
#[derive(Clone, Debug, Serialize)]
pub struct TokenSummary {
    /// Public identifier.
    pub id: String,
    /// The name given when it was issued.
    pub label: Option<String>,
    /// When it was issued.
    pub created_at: String,
    /// When it stops working.
    pub expires_at: Option<String>,
    /// When it was last used (to a minute).
    pub last_used_at: Option<String>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<String>,
}

impl TokenSummary {
    /// `active`, `expired` or `revoked`, as of now.
    pub fn status(&self) -> &'static str {
        if self.revoked_at.is_some() {
            "revoked"
        } else if self
            .expires_at
            .as_deref()
            .and_then(crate::time::parse_rfc3339)
            .is_some_and(|at| at <= now_ms())
        {
            "expired"
        } else {
            "active"
        }
    }
}

pub(crate) fn hash_hex(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// `N` random bytes from the operating system, as base64url without padding.
pub(crate) fn random_base64url<const N: usize>() -> Result<Zeroizing<String>, StateError> {
    let mut secret = Zeroizing::new([0u8; N]);
    getrandom::fill(secret.as_mut()).map_err(|_| StateError::Randomness)?;
    Ok(Zeroizing::new(URL_SAFE_NO_PAD.encode(*secret)))
}

fn new_token() -> Result<(Zeroizing<String>, String), StateError> {
    let token = Zeroizing::new(format!("{TOKEN_PREFIX}{}", *random_base64url::<32>()?));
    let hash = hash_hex(&token);
    Ok((token, hash))
}

fn expiry(expires_in: Option<Duration>) -> Result<Option<i64>, StateError> {
    expires_in
        .map(|d| {
            i64::try_from(d.as_millis())
                .ok()
                .and_then(|ms| now_ms().checked_add(ms))
                .filter(|_| !d.is_zero())
                .ok_or_else(|| StateError::InvalidInput(format!("expiry {d:?} is out of range")))
        })
        .transpose()
}

fn check_label(label: Option<&str>) -> Result<(), StateError> {
    match label {
        Some(l) if l.is_empty() || l.len() > MAX_LABEL_LEN || l.chars().any(char::is_control) => {
            Err(StateError::InvalidInput(format!(
                "a token name is 1-{MAX_LABEL_LEN} printable characters"
            )))
        }
        _ => Ok(()),
    }
}

impl Database {
    /// Whether there are no users at all (a fresh deployment).
    pub async fn is_empty(&self) -> Result<bool, StateError> {
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.unavailable(e))?;
        Ok(count == 0)
    }

    /// Creates a user with a first token; returns the token (shown once).
    pub async fn add_user(
        &self,
        name: &str,
        expires_in: Option<Duration>,
    ) -> Result<IssuedToken, StateError> {
        let (name, mut tx) = self.insert_local_user(name).await?;
        let issued = self
            .insert_token(&mut tx, name.as_str(), None, expires_in)
            .await?;
        tx.commit().await.map_err(|e| self.unavailable(e))?;
        Ok(issued)
    }

    /// Creates a user with no token: one who signs in only through single
    /// sign-on (`admin user link`), so no unused credential exists for them.
    pub async fn add_user_without_token(&self, name: &str) -> Result<(), StateError> {
        let (_, tx) = self.insert_local_user(name).await?;
        tx.commit().await.map_err(|e| self.unavailable(e))
    }

    /// Inserts a local user in a transaction the caller commits.
    async fn insert_local_user(
        &self,
        name: &str,
    ) -> Result<(UserName, sqlx::Transaction<'static, sqlx::Any>), StateError> {
        crate::identities::validate_local_user_name(name).map_err(StateError::InvalidName)?;
        let name = UserName::parse(name).map_err(StateError::InvalidName)?;
        let mut tx = self.pool.begin().await.map_err(|e| self.unavailable(e))?;
        let inserted = sqlx::query(
            "INSERT INTO users (name, origin, created_at) VALUES ($1, 'local', $2) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name.as_str())
        .bind(now_ms())
        .execute(&mut *tx)
        .await
        .map_err(|e| self.unavailable(e))?;
        if inserted.rows_affected() == 0 {
            return Err(StateError::UserExists(name.to_string()));
        }
        Ok((name, tx))
    }

    /// Issues another token for an existing user; returns it (shown once).
    pub async fn issue_token(
        &self,
        name: &str,
        label: Option<&str>,
        expires_in: Option<Duration>,
    ) -> Result<IssuedToken, StateError> {
        let mut tx = self.pool.begin().await.map_err(|e| self.unavailable(e))?;
        let issued = self.insert_token(&mut tx, name, label, expires_in).await?;
        tx.commit().await.map_err(|e| self.unavailable(e))?;
        Ok(issued)
    }

    async fn insert_token(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        name: &str,
        label: Option<&str>,
        expires_in: Option<Duration>,
    ) -> Result<IssuedToken, StateError> {
        check_label(label)?;
        let expires_at = expiry(expires_in)?;
        let exists: Option<(String,)> = sqlx::query_as("SELECT name FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut **tx)
            .await
            .map_err(|e| self.unavailable(e))?;
        if exists.is_none() {
            return Err(StateError::NoSuchUser(name.into()));
        }
        let (token, hash) = new_token()?;
        // 48 bits of the hash: unique among any realistic number of tokens
        // (the primary key would refuse a collision rather than mix them up).
        let id = hash[..12].to_owned();
        sqlx::query(
            "INSERT INTO api_tokens (id, sha256, user_name, label, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id)
        .bind(&hash)
        .bind(name)
        .bind(label)
        .bind(now_ms())
        .bind(expires_at)
        .execute(&mut **tx)
        .await
        .map_err(|e| self.unavailable(e))?;
        Ok(IssuedToken {
            id,
            token,
            expires_at: expires_at.map(rfc3339),
        })
    }

    /// Who `token` belongs to, if it is known, not revoked, not expired and its
    /// user is enabled. Reads the database every time (no cache), so a change
    /// made anywhere counts from the next request.
    pub async fn authenticate_token(
        &self,
        token: &str,
    ) -> Result<Result<Authenticated, TokenRefusal>, StateError> {
        if !token.starts_with(TOKEN_PREFIX) {
            return Ok(Err(TokenRefusal::Unknown));
        }
        type Row = (
            String,
            String,
            Option<i64>,
            Option<i64>,
            Option<i64>,
            Option<i64>,
            Option<i64>,
        );
        let row: Option<Row> = sqlx::query_as(
            "SELECT t.id, t.user_name, t.expires_at, t.revoked_at, t.last_used_at, \
                    u.disabled_at, u.last_seen_at \
             FROM api_tokens t JOIN users u ON u.name = t.user_name \
             WHERE t.sha256 = $1",
        )
        .bind(hash_hex(token))
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.unavailable(e))?;
        let Some((id, user, expires_at, revoked_at, last_used, disabled_at, last_seen)) = row
        else {
            return Ok(Err(TokenRefusal::Unknown));
        };
        let now = now_ms();
        if revoked_at.is_some() {
            return Ok(Err(TokenRefusal::Unknown));
        }
        if expires_at.is_some_and(|at| at <= now) {
            return Ok(Err(TokenRefusal::Expired));
        }
        if disabled_at.is_some() {
            return Ok(Err(TokenRefusal::Disabled));
        }
        let stale = |at: Option<i64>| at.is_none_or(|at| now - at >= LAST_USED_RESOLUTION_MS);
        if stale(last_used) {
            sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
                .bind(now)
                .bind(&id)
                .execute(&self.pool)
                .await
                .map_err(|e| self.unavailable(e))?;
        }
        if stale(last_seen) {
            self.touch_user(&user, now).await?;
        }
        Ok(Ok(Authenticated { user, token_id: id }))
    }

    async fn touch_user(&self, name: &str, now: i64) -> Result<(), StateError> {
        sqlx::query("UPDATE users SET last_seen_at = $1 WHERE name = $2")
            .bind(now)
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(|e| self.unavailable(e))?;
        Ok(())
    }

    /// Disables (`true`) or re-enables a user. A disabled user's tokens and
    /// OIDC sessions are refused from the next request on; their objects stay.
    pub async fn set_disabled(&self, name: &str, disabled: bool) -> Result<(), StateError> {
        let query = if disabled {
            sqlx::query("UPDATE users SET disabled_at = COALESCE(disabled_at, $1) WHERE name = $2")
                .bind(now_ms())
        } else {
            sqlx::query("UPDATE users SET disabled_at = NULL WHERE name = $1")
        };
        let changed = query
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(|e| self.unavailable(e))?;
        if changed.rows_affected() == 0 {
            return Err(StateError::NoSuchUser(name.into()));
        }
        Ok(())
    }

    /// Whether `name` exists and is enabled.
    pub async fn user_enabled(&self, name: &str) -> Result<bool, StateError> {
        Ok(matches!(self.disabled_at(name).await?, Some(None)))
    }

    /// `None` for no such user, else when they were disabled, if they were.
    pub(crate) async fn disabled_at(&self, name: &str) -> Result<Option<Option<i64>>, StateError> {
        let row: Option<(Option<i64>,)> =
            sqlx::query_as("SELECT disabled_at FROM users WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| self.unavailable(e))?;
        Ok(row.map(|(at,)| at))
    }

    /// Revokes one token by its id.
    pub async fn revoke_token(&self, id: &str) -> Result<(), StateError> {
        let changed = sqlx::query(
            "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2",
        )
        .bind(now_ms())
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(|e| self.unavailable(e))?;
        if changed.rows_affected() == 0 {
            return Err(StateError::NoSuchToken(id.into()));
        }
        Ok(())
    }

    /// Revokes all of a user's active tokens, or the one with `id`; returns how
    /// many were active and are now revoked.
    pub async fn revoke_user_tokens(
        &self,
        name: &str,
        id: Option<&str>,
    ) -> Result<u64, StateError> {
        if !self.user_exists(name).await? {
            return Err(StateError::NoSuchUser(name.into()));
        }
        let revoked = match id {
            None => sqlx::query(
                "UPDATE api_tokens SET revoked_at = $1 \
                 WHERE user_name = $2 AND revoked_at IS NULL",
            )
            .bind(now_ms())
            .bind(name),
            Some(id) => sqlx::query(
                "UPDATE api_tokens SET revoked_at = $1 \
                 WHERE user_name = $2 AND revoked_at IS NULL AND id = $3",
            )
            .bind(now_ms())
            .bind(name)
            .bind(id),
        }
        .execute(&self.pool)
        .await
        .map_err(|e| self.unavailable(e))?
        .rows_affected();
        if let Some(id) = id
            && revoked == 0
        {
            let owned: Option<(String,)> =
                sqlx::query_as("SELECT id FROM api_tokens WHERE user_name = $1 AND id = $2")
                    .bind(name)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|e| self.unavailable(e))?;
            if owned.is_none() {
                return Err(StateError::NotUsersToken {
                    name: name.into(),
                    id: id.into(),
                });
            }
        }
        Ok(revoked)
    }

    async fn user_exists(&self, name: &str) -> Result<bool, StateError> {
        let row: Option<(String,)> = sqlx::query_as("SELECT name FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.unavailable(e))?;
        Ok(row.is_some())
    }

    /// Every user and their tokens (without secrets), by name.
    pub async fn list_users(&self) -> Result<Vec<UserSummary>, StateError> {
        type UserRow = (String, String, i64, Option<i64>, Option<i64>);
        let users: Vec<UserRow> = sqlx::query_as(
            "SELECT name, origin, created_at, disabled_at, last_seen_at FROM users ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.unavailable(e))?;
        type TokenRow = (
            String,
            String,
            Option<String>,
            i64,
            Option<i64>,
            Option<i64>,
            Option<i64>,
        );
        let tokens: Vec<TokenRow> = sqlx::query_as(
            "SELECT user_name, id, label, created_at, expires_at, last_used_at, revoked_at \
             FROM api_tokens ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.unavailable(e))?;
        let identities = self.identities().await?;
        Ok(users
            .into_iter()
            .map(
                |(name, origin, created_at, disabled_at, last_seen_at)| UserSummary {
                    identities: identities
                        .iter()
                        .filter(|(user, _)| *user == name)
                        .map(|(_, identity)| identity.clone())
                        .collect(),
                    origin,
                    tokens: tokens
                        .iter()
                        .filter(|t| t.0 == name)
                        .map(
                            |(_, id, label, created, expires, used, revoked)| TokenSummary {
                                id: id.clone(),
                                label: label.clone(),
                                created_at: rfc3339(*created),
                                expires_at: expires.map(rfc3339),
                                last_used_at: used.map(rfc3339),
                                revoked_at: revoked.map(rfc3339),
                            },
                        )
                        .collect(),
                    name,
                    created_at: rfc3339(created_at),
                    disabled_at: disabled_at.map(rfc3339),
                    last_seen_at: last_seen_at.map(rfc3339),
                },
            )
            .collect())
    }
}
