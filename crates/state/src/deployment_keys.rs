//! Secrets of the whole deployment, stored wrapped: the state database holds
//! an envelope (the key provider's wrapped data key and its description, as
//! JSON) that only the deployment's KMS key or local keyring opens. The first
//! replica to store one wins; every replica then reads the same.

use crate::database::Database;
use crate::error::StateError;
use crate::time::now_ms;

/// A stored deployment secret: its envelope and when it was first stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredDeploymentKey {
    /// The wrapped secret, as its key provider wrote it.
    pub envelope: String,
    /// When it was stored, in milliseconds since the Unix epoch.
    pub created_at_ms: i64,
}

impl Database {
    /// The deployment secret `name`, if one was stored.
    pub async fn deployment_key(
        &self,
        name: &str,
    ) -> Result<Option<StoredDeploymentKey>, StateError> {
        let row: Option<(String, i64)> =
            sqlx::query_as("SELECT envelope, created_at FROM deployment_keys WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| self.unavailable(e))?;
        Ok(row.map(|(envelope, created_at_ms)| StoredDeploymentKey {
            envelope,
            created_at_ms,
        }))
    }

    /// Stores `envelope` as secret `name` unless one is stored already, and
    /// returns the one stored: of replicas racing, the first insert wins.
    pub async fn add_deployment_key(
        &self,
        name: &str,
        envelope: &str,
    ) -> Result<StoredDeploymentKey, StateError> {
        sqlx::query(
            "INSERT INTO deployment_keys (name, envelope, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(envelope)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(|e| self.unavailable(e))?;
        self.deployment_key(name)
            .await?
            .ok_or_else(|| StateError::Unavailable {
                location: self.location().to_owned(),
                reason: format!("the deployment key {name} vanished as it was stored"),
            })
    }

    /// Replaces the envelope of secret `name` (the same secret, wrapped anew),
    /// keeping when it was first stored.
    pub async fn rewrap_deployment_key(
        &self,
        name: &str,
        envelope: &str,
    ) -> Result<(), StateError> {
        sqlx::query("UPDATE deployment_keys SET envelope = $1 WHERE name = $2")
            .bind(envelope)
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(|e| self.unavailable(e))?;
        Ok(())
    }
}
