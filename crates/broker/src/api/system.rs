//! Health, readiness and metrics.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use sealdrop_api::routes;
use serde::Serialize;

use crate::state::AppState;

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

/// `GET /readyz`: storage and the key provider answer.
#[utoipa::path(get, path = routes::READY, tag = "system",
    responses((status = 200, description = "Storage and the key provider answer", body = Readiness),
        (status = 503, description = "A dependency does not answer", body = Readiness)))]
pub async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    let (storage, keys) = tokio::join!(state.storage.check(), state.keys.check());
    let status = if storage.is_ok() && keys.is_ok() {
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
            storage: describe("storage", storage.map_err(|e| e.to_string())),
            key_provider: describe("key provider", keys.map_err(|e| e.to_string())),
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
