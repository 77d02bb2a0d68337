//! Health, readiness and metrics.

use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use sealdrop_api::routes;
use serde::Serialize;

use crate::state::AppState;

/// How long a readiness answer is reused. The probe is public, and a fresh
/// answer costs a call to storage and one to KMS: anyone could otherwise turn
/// probes into upstream requests (and KMS bills) at will.
const READY_TTL: Duration = Duration::from_secs(5);

/// Outcome of one readiness check: storage's, the key provider's, the state
/// database's.
type Checked = (Result<(), String>, Result<(), String>, Result<(), String>);

/// The last readiness answer and when it was taken. Concurrent probes while
/// it is stale wait for one refresh instead of each calling upstream.
#[derive(Default)]
pub struct ReadinessCache(tokio::sync::Mutex<Option<(Instant, Checked)>>);

impl ReadinessCache {
    async fn get<F, Fut>(&self, now: Instant, refresh: F) -> Checked
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Checked>,
    {
        let mut last = self.0.lock().await;
        if let Some((at, checked)) = last.as_ref()
            && now.saturating_duration_since(*at) < READY_TTL
        {
            return checked.clone();
        }
        let checked = refresh().await;
        *last = Some((now, checked.clone()));
        checked
    }
}

/// `GET /healthz` body.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    /// Always `ok`.
    status: &'static str,
}

/// `GET /readyz` body.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Readiness {
    /// `ready` or `unavailable`.
    status: &'static str,
    /// Object storage.
    storage: Dependency,
    /// KMS or the local keyring.
    key_provider: Dependency,
    /// The database users and tokens live in.
    database: Dependency,
}

/// One dependency's readiness (no detail: the probe is unauthenticated).
#[derive(Serialize, utoipa::ToSchema)]
pub struct Dependency {
    /// It answered.
    ok: bool,
}

/// `GET /healthz`: the process serves requests.
#[utoipa::path(get, path = routes::HEALTH, tag = "system",
    responses((status = 200, description = "The process serves requests", body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// `GET /readyz`: storage, the key provider and the state database answer.
#[utoipa::path(get, path = routes::READY, tag = "system",
    responses((status = 200, description = "Storage, the key provider and the database answer", body = Readiness),
        (status = 503, description = "A dependency does not answer", body = Readiness)))]
pub async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    let (storage, keys, database) = state
        .readiness
        .get(Instant::now(), || async {
            let (storage, keys, database) =
                tokio::join!(state.storage.check(), state.keys.check(), state.db.ping());
            (
                storage.map_err(|e| e.to_string()),
                keys.map_err(|e| e.to_string()),
                database.map_err(|e| e.to_string()),
            )
        })
        .await;
    let status = if storage.is_ok() && keys.is_ok() && database.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    // The probe is unauthenticated: upstream messages (account ids, ARNs) go to
    // the log, the response only says which dependency failed.
    let describe = |what: &str, r: Result<(), String>| match r {
        Ok(()) => Dependency { ok: true },
        Err(e) => {
            tracing::warn!(dependency = what, error = %e, "readiness check failed");
            Dependency { ok: false }
        }
    };
    (
        status,
        Json(Readiness {
            status: if status == StatusCode::OK {
                "ready"
            } else {
                "unavailable"
            },
            storage: describe("storage", storage),
            key_provider: describe("key provider", keys),
            database: describe("database", database),
        }),
    )
}

/// `GET /metrics`
#[utoipa::path(get, path = routes::METRICS, tag = "system",
    responses((status = 200, description = "Prometheus metrics (OpenMetrics text)",
        content_type = "application/openmetrics-text", body = String)))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn readiness_is_checked_upstream_at_most_once_per_ttl() {
        let cache = ReadinessCache::default();
        let calls = AtomicU32::new(0);
        let check = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            (Ok(()), Err("down".to_owned()), Ok(()))
        };
        let start = Instant::now();
        for _ in 0..100 {
            let (storage, keys, database) = cache.get(start, check).await;
            assert!(storage.is_ok() && keys.is_err() && database.is_ok());
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let (_, keys, _) = cache.get(start + READY_TTL, check).await;
        assert!(keys.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
