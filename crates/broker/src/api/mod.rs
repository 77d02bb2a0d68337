//! The `/api/v1` routes: small handlers over typed extractors, one error type.
//!
//! Each handler carries its OpenAPI description (`#[utoipa::path]`: method,
//! path from [`sealdrop_api::routes`], request and response types), and
//! [`routes`] registers handlers through `utoipa_axum`, so the router and the
//! document are built from the same list: a route cannot exist undocumented.

pub mod describe;
mod me;
mod objects;
mod requests;
mod shares;
mod system;
mod uploads;

pub use system::ReadinessCache;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::{Action, Outcome};
use crate::error::ApiError;
use crate::policy;
use crate::state::AppState;

/// [`policy::authorize_key`], with refusals written to the audit log: an
/// attempt on another user's key, or on a malformed one, is worth knowing
/// about even though nothing happened.
fn authorize<'k>(
    state: &AppState,
    user: &str,
    action: Action,
    key: &'k str,
) -> Result<&'k str, ApiError> {
    policy::authorize_key(user, key).map_err(|refused| {
        let reason = refused.to_string();
        state
            .audit
            .record(user, action, key, None, Outcome::Denied, Some(&reason));
        refused.into()
    })
}

/// Every API route, with its OpenAPI description. Layers (auth is per handler
/// via `AuthUser`) are added by [`crate::router`]; the document itself is
/// served by [`crate::openapi`].
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me::public_config))
        .routes(routes!(me::me))
        .routes(routes!(uploads::create))
        .routes(routes!(uploads::sign_parts))
        .routes(routes!(uploads::complete))
        .routes(routes!(uploads::abort))
        .routes(routes!(objects::list, objects::delete))
        .routes(routes!(objects::info))
        .routes(routes!(objects::open))
        .routes(routes!(shares::list, shares::create))
        .routes(routes!(shares::revoke))
        .routes(routes!(shares::describe))
        .routes(routes!(shares::open))
        .routes(routes!(requests::list, requests::create))
        .routes(routes!(requests::close))
        .routes(routes!(requests::describe))
        .routes(routes!(system::health))
        .routes(routes!(system::ready))
        .routes(routes!(system::metrics))
}

/// JSON 404 for unknown `/api/…` paths.
pub async fn not_found() -> ApiError {
    ApiError::NotFound("no such API route".into())
}

/// JSON 405 for a known route with another method.
pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed("method not allowed on this route".into())
}
