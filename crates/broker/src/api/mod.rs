//! The `/api/v1` routes: small handlers over typed extractors, one error type.

pub mod describe;
mod me;
mod objects;
mod system;
mod uploads;

use axum::Router;
use axum::routing::{get, post};
use sealdrop_api::routes;

use crate::error::ApiError;
use crate::state::AppState;

pub use system::OPENAPI;

/// Every API route. Layers (auth is per handler via `AuthUser`) are added by
/// [`crate::router`].
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(routes::CONFIG, get(me::public_config))
        .route(routes::ME, get(me::me))
        .route(routes::UPLOADS, post(uploads::create))
        .route(routes::UPLOAD_PARTS, post(uploads::sign_parts))
        .route(routes::UPLOAD_COMPLETE, post(uploads::complete))
        .route(routes::UPLOAD_ABORT, post(uploads::abort))
        .route(routes::OBJECTS, get(objects::list).delete(objects::delete))
        .route(routes::OBJECT_INFO, get(objects::info))
        .route(routes::OBJECT_OPEN, post(objects::open))
        .route(routes::OPENAPI, get(system::openapi))
        .route(routes::HEALTH, get(system::health))
        .route(routes::READY, get(system::ready))
        .route(routes::METRICS, get(system::metrics))
        .method_not_allowed_fallback(|| async {
            ApiError::MethodNotAllowed("method not allowed on this route".into())
        })
}

/// JSON 404 for unknown `/api/…` paths.
pub async fn not_found() -> ApiError {
    ApiError::NotFound("no such API route".into())
}
