//! `GET /api/v1/me` and the public `GET /api/v1/config`.

use axum::Json;
use axum::extract::State;
use sealdrop_api::{Limits, Me, OidcConfig, PublicConfig, routes};

use crate::auth::AuthUser;
use crate::error::Failures;
use crate::policy;
use crate::state::AppState;

/// Who the caller is and what they may upload.
#[utoipa::path(get, path = routes::ME, tag = "account",
    responses((status = 200, description = "The caller", body = Me),
        Failures),
    security(("bearer" = [])))]
pub async fn me(State(state): State<AppState>, user: AuthUser) -> Json<Me> {
    Json(Me {
        prefix: policy::user_prefix(&user.name),
        auth: user.method,
        user: user.name,
        kms_key_id: state.keys.key_id().to_owned(),
        limits: limits(&state),
    })
}

/// What this broker accepts of any upload.
pub(super) fn limits(state: &AppState) -> Limits {
    Limits {
        max_object_size: state.config.max_object_size,
        multipart_threshold: state.config.multipart_threshold,
        presign_ttl_secs: state.config.presign_ttl_secs,
    }
}

/// What the browser app needs before sign-in.
#[utoipa::path(get, path = routes::CONFIG, tag = "system",
    responses((status = 200, description = "Public configuration", body = PublicConfig)))]
pub async fn public_config(State(state): State<AppState>) -> Json<PublicConfig> {
    Json(PublicConfig {
        version: format!("sealdrop {}", env!("CARGO_PKG_VERSION")),
        oidc: state.oidc.as_ref().map(|o| OidcConfig {
            issuer: o.issuer().to_owned(),
            audience: o.audience().to_owned(),
        }),
    })
}
