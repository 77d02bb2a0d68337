//! Health, readiness, metrics and the OpenAPI document.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::json;

use crate::state::AppState;

/// The OpenAPI 3.1 description of `/api/v1`.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// `GET /healthz`: the process serves requests.
pub async fn health() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /readyz`: storage and the key provider answer.
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
        Ok(()) => json!({"ok": true}),
        Err(e) => {
            tracing::warn!(dependency = what, error = %e, "readiness check failed");
            json!({"ok": false})
        }
    };
    (
        status,
        Json(json!({
            "status": if status == StatusCode::OK { "ready" } else { "unavailable" },
            "storage": describe("storage", storage.map_err(|e| e.to_string())),
            "key_provider": describe("key provider", keys.map_err(|e| e.to_string())),
        })),
    )
}

/// `GET /metrics`
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

/// `GET /api/v1/openapi.json`
pub async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealdrop_api::routes;

    #[test]
    fn openapi_documents_every_route() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        for route in [
            routes::CONFIG,
            routes::ME,
            routes::UPLOADS,
            routes::UPLOAD_PARTS,
            routes::UPLOAD_COMPLETE,
            routes::UPLOAD_ABORT,
            routes::OBJECTS,
            routes::OBJECT_INFO,
            routes::OBJECT_OPEN,
            routes::OPENAPI,
            routes::HEALTH,
            routes::READY,
            routes::METRICS,
        ] {
            assert!(doc["paths"][route].is_object(), "{route} is not documented");
        }
        // Every $ref resolves.
        let text = OPENAPI;
        for piece in text.split("\"$ref\": \"#/components/").skip(1) {
            let path = piece.split('"').next().unwrap();
            let mut node = &doc["components"];
            for part in path.split('/') {
                node = &node[part];
            }
            assert!(!node.is_null(), "dangling $ref {path}");
        }
    }
}
