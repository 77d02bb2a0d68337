//! OpenID Connect identities: `(issuer, subject)`, in a namespace of their own.
//!
//! An identity is never a user name. It reaches a sealdrop user only
//!
//! - by an explicit link an operator made (`sealdrop admin user link`), or
//! - when the deployment enables auto-provisioning, by a user created for it on
//!   first sign-in, named [`PROVISIONED_PREFIX`] + a digest of the identity. No
//!   local user can take such a name ([`validate_local_user_name`]), so no claim
//!   an identity provider puts in a token can make its holder `admin`.
//!
//! The display name (a claim such as `preferred_username`) is recorded for
//! people to read and is never used to decide anything.

use sha2::{Digest, Sha256};

use crate::database::Database;
use crate::error::StateError;
use crate::names::{UserName, validate_user_name};
use crate::time::now_ms;

/// Names of auto-provisioned users start so; local users cannot.
pub const PROVISIONED_PREFIX: &str = "sso-";

/// `last_seen_at` of an identity is written at most this often.
const LAST_SEEN_RESOLUTION_MS: i64 = 60_000;

/// Longest display name kept (longer ones are cut at a character boundary).
const MAX_DISPLAY_LEN: usize = 200;

/// The name rule for users an operator creates: the general rule, minus the
/// namespace reserved for auto-provisioned identities.
pub fn validate_local_user_name(name: &str) -> Result<(), String> {
    validate_user_name(name)?;
    if name.starts_with(PROVISIONED_PREFIX) {
        return Err(format!(
            "user names starting with {PROVISIONED_PREFIX:?} are reserved for users \
             provisioned from single sign-on"
        ));
    }
    Ok(())
}

/// The user name an auto-provisioned identity gets: stable, and a function of
/// the identity only (so two replicas provisioning it at once agree).
pub fn provisioned_user_name(issuer: &str, subject: &str) -> String {
    let digest = Sha256::new()
        .chain_update(issuer.as_bytes())
        .chain_update([0])
        .chain_update(subject.as_bytes())
        .finalize();
    format!("{PROVISIONED_PREFIX}{}", hex::encode(&digest[..10]))
}

/// An OIDC identity as the identity provider vouched for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity<'a> {
    /// `iss`.
    pub issuer: &'a str,
    /// `sub`.
    pub subject: &'a str,
    /// A claim for display (`preferred_username`, say), if the token has it.
    pub display_name: Option<&'a str>,
}

/// Why a verified identity does not get a session. The words are safe to show
/// to its holder.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdentityRefusal {
    #[error(
        "this sign-in ({subject:?} at {issuer}) is not linked to a sealdrop account; ask an \
         administrator to link it"
    )]
    NotLinked { issuer: String, subject: String },
    #[error("the account is disabled")]
    Disabled,
}

/// Who a verified identity signs in as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedIn {
    /// The sealdrop user.
    pub user: String,
    /// Whether this sign-in created the user (auto-provisioning): worth an
    /// audit line, since an account appeared without an operator.
    pub provisioned: bool,
}

/// An identity as `admin user list` shows it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct IdentitySummary {
    /// `iss`.
    pub issuer: String,
    /// `sub`.
    pub subject: String,
    /// The display claim last seen.
    pub display_name: Option<String>,
}

fn display(name: Option<&str>) -> Option<String> {
    let name = name?.trim();
    if name.is_empty() {
        return None;
    }
    let mut cut = name.len().min(MAX_DISPLAY_LEN);
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    Some(name[..cut].chars().filter(|c| !c.is_control()).collect())
}

impl Database {
    /// The user a verified identity signs in as, provisioning one when
    /// `auto_provision` allows and none is linked yet.
    pub async fn sign_in_identity(
        &self,
        identity: &Identity<'_>,
        auto_provision: bool,
    ) -> Result<Result<SignedIn, IdentityRefusal>, StateError> {
        let (user, provisioned) = match self.linked_user(identity).await? {
            Some(user) => (user, false),
            None if auto_provision => self.provision(identity).await?,
            None => {
                return Ok(Err(IdentityRefusal::NotLinked {
                    issuer: identity.issuer.to_owned(),
                    subject: identity.subject.to_owned(),
                }));
            }
        };
        if !self.user_enabled(&user).await? {
            return Ok(Err(IdentityRefusal::Disabled));
        }
        self.touch_identity(identity, &user).await?;
        Ok(Ok(SignedIn { user, provisioned }))
    }

    async fn linked_user(&self, identity: &Identity<'_>) -> Result<Option<String>, StateError> {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT user_name FROM oidc_identities WHERE issuer = $1 AND subject = $2",
        )
        .bind(identity.issuer)
        .bind(identity.subject)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.unavailable(e))?;
        Ok(row.map(|(user,)| user))
    }

    /// Creates the identity's own user and links it; says whether this call
    /// made the link. Idempotent and safe to race: both inserts ignore a row
    /// that is already there, and the link read back afterwards is the one
    /// that won.
    async fn provision(&self, identity: &Identity<'_>) -> Result<(String, bool), StateError> {
        let name = provisioned_user_name(identity.issuer, identity.subject);
        let now = now_ms();
        let mut tx = self.pool.begin().await.map_err(|e| self.unavailable(e))?;
        sqlx::query(
            "INSERT INTO users (name, origin, created_at) VALUES ($1, 'oidc', $2) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(&name)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.unavailable(e))?;
        let linked = sqlx::query(
            "INSERT INTO oidc_identities (issuer, subject, user_name, display_name, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (issuer, subject) DO NOTHING",
        )
        .bind(identity.issuer)
        .bind(identity.subject)
        .bind(&name)
        .bind(display(identity.display_name))
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.unavailable(e))?;
        tx.commit().await.map_err(|e| self.unavailable(e))?;
        let user = self
            .linked_user(identity)
            .await?
            .ok_or_else(|| StateError::Unavailable {
                location: self.location().to_owned(),
                reason: "a provisioned identity was not found after it was written".into(),
            })?;
        Ok((user, linked.rows_affected() == 1))
    }

    async fn touch_identity(&self, identity: &Identity<'_>, user: &str) -> Result<(), StateError> {
        let now = now_ms();
        let display = display(identity.display_name);
        sqlx::query(
            "UPDATE oidc_identities SET last_seen_at = $1, display_name = $2 \
             WHERE issuer = $3 AND subject = $4 \
             AND (last_seen_at IS NULL OR last_seen_at < $5 \
                  OR display_name IS DISTINCT FROM $2)",
        )
        .bind(now)
        .bind(display)
        .bind(identity.issuer)
        .bind(identity.subject)
        .bind(now - LAST_SEEN_RESOLUTION_MS)
        .execute(&self.pool)
        .await
        .map_err(|e| self.unavailable(e))?;
        sqlx::query(
            "UPDATE users SET last_seen_at = $1 WHERE name = $2 \
             AND (last_seen_at IS NULL OR last_seen_at < $3)",
        )
        .bind(now)
        .bind(user)
        .bind(now - LAST_SEEN_RESOLUTION_MS)
        .execute(&self.pool)
        .await
        .map_err(|e| self.unavailable(e))?;
        Ok(())
    }

    /// Links an identity to an existing user (`admin user link`). An identity
    /// links to one user only: linking it elsewhere is refused, not moved.
    pub async fn link_identity(
        &self,
        user: &str,
        issuer: &str,
        subject: &str,
    ) -> Result<(), StateError> {
        let user = UserName::parse(user).map_err(StateError::InvalidName)?;
        if issuer.trim().is_empty() || subject.is_empty() {
            return Err(StateError::InvalidInput(
                "an identity needs an issuer and a subject".into(),
            ));
        }
        if self.disabled_at(user.as_str()).await?.is_none() {
            return Err(StateError::NoSuchUser(user.to_string()));
        }
        let identity = Identity {
            issuer,
            subject,
            display_name: None,
        };
        match self.linked_user(&identity).await? {
            Some(linked) if linked == user.as_str() => return Ok(()),
            Some(linked) => {
                return Err(StateError::InvalidInput(format!(
                    "{subject:?} at {issuer} is already linked to user {linked:?}; unlink it first"
                )));
            }
            None => {}
        }
        sqlx::query(
            "INSERT INTO oidc_identities (issuer, subject, user_name, created_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(issuer)
        .bind(subject)
        .bind(user.as_str())
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(|e| self.unavailable(e))?;
        Ok(())
    }

    /// Removes a link (`admin user unlink`): the identity can no longer sign
    /// in (or, with auto-provisioning, gets its own user next time).
    pub async fn unlink_identity(&self, issuer: &str, subject: &str) -> Result<(), StateError> {
        let removed = sqlx::query("DELETE FROM oidc_identities WHERE issuer = $1 AND subject = $2")
            .bind(issuer)
            .bind(subject)
            .execute(&self.pool)
            .await
            .map_err(|e| self.unavailable(e))?;
        if removed.rows_affected() == 0 {
            return Err(StateError::InvalidInput(format!(
                "no identity {subject:?} at {issuer} is linked"
            )));
        }
        Ok(())
    }

    /// Every linked identity, by user: `(user, identity)` pairs.
    pub(crate) async fn identities(&self) -> Result<Vec<(String, IdentitySummary)>, StateError> {
        let rows: Vec<(String, String, String, Option<String>)> = sqlx::query_as(
            "SELECT user_name, issuer, subject, display_name FROM oidc_identities \
             ORDER BY user_name, issuer, subject",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.unavailable(e))?;
        Ok(rows
            .into_iter()
            .map(|(user, issuer, subject, display_name)| {
                (
                    user,
                    IdentitySummary {
                        issuer,
                        subject,
                        display_name,
                    },
                )
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provisioned_names_are_valid_reserved_and_distinct() {
        let a = provisioned_user_name("https://idp", "alice");
        assert!(validate_user_name(&a).is_ok(), "{a}");
        assert!(validate_local_user_name(&a).is_err());
        assert_eq!(a, provisioned_user_name("https://idp", "alice"));
        // The separator keeps ("ab", "c") and ("a", "bc") apart.
        assert_ne!(
            provisioned_user_name("ab", "c"),
            provisioned_user_name("a", "bc")
        );
        assert_ne!(a, provisioned_user_name("https://other", "alice"));
        assert!(validate_local_user_name("admin").is_ok());
    }

    #[test]
    fn display_names_are_trimmed_cut_and_cleaned() {
        assert_eq!(display(Some("  Alice ")), Some("Alice".into()));
        assert_eq!(display(Some("   ")), None);
        assert_eq!(display(Some("a\u{7}b")), Some("ab".into()));
        let long = "é".repeat(150);
        let cut = display(Some(&long)).unwrap_or_default();
        assert!(cut.len() <= MAX_DISPLAY_LEN && !cut.is_empty());
    }
}
