//! The state every handler gets, passed explicitly through axum's `State`.

use std::ops::Deref;
use std::sync::Arc;

use crate::audit::Audit;
use crate::auth::oidc::OidcVerifier;
use crate::config::Config;
use crate::keys::KeyProvider;
use crate::metrics::Metrics;
use crate::ratelimit::RateLimiter;
use crate::storage::Storage;
use sealdrop_state::Database;

/// Shared, immutable-after-start broker state.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// The parts of [`AppState`].
pub struct Inner {
    /// The configuration.
    pub config: Config,
    /// Object storage.
    pub storage: Storage,
    /// Where data keys come from.
    pub keys: Arc<dyn KeyProvider>,
    /// Users and tokens, shared by every replica.
    pub db: Database,
    /// OIDC, if configured.
    pub oidc: Option<OidcVerifier>,
    /// Per-user limit on key operations.
    pub rate: RateLimiter,
    /// Per-user limit on all authenticated calls.
    pub api_rate: RateLimiter,
    /// Per client address limit on the public (share link) calls.
    pub public_rate: RateLimiter,
    /// The audit log.
    pub audit: Audit,
    /// Metrics.
    pub metrics: Metrics,
    /// The origin browsers upload to and download from (for the web app's CSP).
    pub storage_origin: String,
    /// The last readiness answer (`/readyz` is public; see its handler).
    pub readiness: crate::api::ReadinessCache,
}

impl AppState {
    /// Wraps the parts.
    pub fn new(inner: Inner) -> AppState {
        AppState(Arc::new(inner))
    }
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
