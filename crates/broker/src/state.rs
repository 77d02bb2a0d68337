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
    /// The MAC key that binds SSE objects to their key: opened at start, or
    /// on first use if the key provider was unreachable then (see [`AppState::binding`]).
    pub binding: tokio::sync::OnceCell<crate::binding::BindingKey>,
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

    /// The deployment's binding key, opened through the key provider the
    /// first time it is needed (and tried again next time if that failed:
    /// a broker started while KMS was away serves once KMS is back).
    pub async fn binding(&self) -> Result<&crate::binding::BindingKey, crate::ApiError> {
        self.binding
            .get_or_try_init(|| {
                crate::binding::BindingKey::load_or_create(&self.db, self.keys.as_ref())
            })
            .await
            .map_err(|e| match e {
                crate::binding::BindingError::State(e) => e.into(),
                crate::binding::BindingError::Key(why) => {
                    tracing::warn!(%why, "the object binding key is not available");
                    crate::ApiError::Unavailable(
                        "the key service is unavailable; try again shortly".into(),
                    )
                }
            })
    }
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
