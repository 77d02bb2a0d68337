//! # sealdrop-broker
//!
//! The key broker: a small axum service that authenticates users, decides which
//! keys they may touch, calls KMS (or the local keyring) and hands out presigned
//! S3 requests, so that file bytes go straight between clients and storage and
//! cloud credentials never leave the server. See `docs/api.md` and the OpenAPI
//! document served at `/api/v1/openapi.json`.
//!
//! The pieces: [`Config`]; [`Storage`] (S3 via `aws-sdk-s3`); [`keys`] (the
//! [`keys::KeyProvider`] trait: AWS KMS and the local keyring); [`auth`] (tokens,
//! OIDC); [`policy`] (prefixes and names); the API handlers; rate limiting, audit
//! log and metrics. [`router`] assembles them.
#![forbid(unsafe_code)]

pub mod api;
pub mod audit;
pub mod auth;
pub mod binding;
pub mod config;
pub mod error;
pub mod keys;
pub mod lifecycle;
pub mod metrics;
pub mod openapi;
pub mod policy;
pub mod quota;
pub mod ratelimit;
pub mod state;
pub mod storage;
pub mod web;

use std::path::Path;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware;
use axum::routing::any;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;

pub use config::{Config, Deployment};
pub use error::ApiError;
pub use state::{AppState, Inner};
pub use storage::Storage;

/// Largest JSON request body the API accepts.
pub const MAX_BODY: usize = 64 * 1024;

/// The whole HTTP surface: `/api/v1`, health and metrics, and the web app.
pub fn router(state: AppState, web_root: Option<&Path>) -> Router {
    let (api, document) = openapi::split(api::routes());
    let api = openapi::serve(api, &document)
        .method_not_allowed_fallback(api::method_not_allowed)
        .route("/api/{*rest}", any(api::not_found))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::observe,
        ))
        .with_state(state.clone());
    let api = match cors(&state.config.cors_origins) {
        Some(layer) => api.layer(layer),
        None => api,
    };
    let app = match web_root {
        Some(root) => web::app(
            root,
            web::content_security_policy(
                &state.storage_origin,
                state.oidc.as_ref().map(|o| o.issuer()),
            ),
        ),
        None => web::not_built(),
    };
    api.merge(app)
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
}

fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok())
        .collect();
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST, Method::DELETE])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            .expose_headers([
                header::RETRY_AFTER,
                HeaderName::from_static("www-authenticate"),
            ])
            .max_age(std::time::Duration::from_secs(600)),
    )
}
