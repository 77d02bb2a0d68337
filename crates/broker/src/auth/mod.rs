//! Authentication: every API call carries `Authorization: Bearer <token>`, either
//! a sealdrop API token (`sdt_…`, checked against the state database on every
//! request, see `sealdrop_state`) or, when configured, an OIDC JWT (see
//! [`oidc`]). The [`AuthUser`] extractor does the checking, so a handler that
//! takes one cannot run unauthenticated.

pub mod oidc;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

pub use sealdrop_api::AuthMethod;

use crate::audit::{Action, Outcome};
use crate::error::ApiError;
use crate::state::AppState;

/// An authenticated user.
#[derive(Clone, Debug)]
pub struct AuthUser {
    /// The user name; their keys live under `<name>/`.
    pub name: String,
    /// How they authenticated.
    pub method: AuthMethod,
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    /// Authenticates, then takes one token from the user's request budget
    /// (`api_rate_limit`), so no account can flood listing, signing or
    /// deleting; key operations have their own, smaller budget on top.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let user = authenticate(parts, state).await?;
        state
            .api_rate
            .check(&user.name)
            .map_err(ApiError::RateLimited)?;
        Ok(user)
    }
}

/// The caller of a public route (share links need no account): no
/// credentials, but a request budget per client address
/// (`public_rate_limit`), so guessing links or hammering KMS through one is
/// throttled. Behind a reverse proxy every caller is the proxy's address.
#[derive(Clone, Copy, Debug)]
pub struct PublicCaller;

impl FromRequestParts<AppState> for PublicCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let address = parts
            .extensions
            .get::<sealdrop_http::ClientAddr>()
            .map_or_else(|| "unknown".to_owned(), |addr| addr.0.ip().to_string());
        state
            .public_rate
            .check(&format!("address {address}"))
            .map_err(ApiError::RateLimited)?;
        Ok(PublicCaller)
    }
}

/// Who the bearer token names.
async fn authenticate(parts: &Parts, state: &AppState) -> Result<AuthUser, ApiError> {
    let unauthenticated = |why: &str| ApiError::Unauthenticated(why.to_owned());
    let header = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or_else(|| unauthenticated("missing Authorization: Bearer token"))?;
    let value = header
        .to_str()
        .map_err(|_| unauthenticated("malformed Authorization header"))?;
    let token = value
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or_else(|| unauthenticated("expected Authorization: Bearer <token>"))?;

    if token.starts_with(sealdrop_state::TOKEN_PREFIX) {
        return match state.db.authenticate_token(token).await? {
            Ok(who) => Ok(AuthUser {
                name: who.user,
                method: AuthMethod::Token,
            }),
            Err(refusal) => Err(unauthenticated(&refusal.to_string())),
        };
    }
    if let Some(verifier) = &state.oidc
        && token.split('.').count() == 3
    {
        let identity = match verifier.verify(token).await {
            Ok(identity) => identity,
            Err(oidc::OidcError::Invalid(why)) => return Err(ApiError::Unauthenticated(why)),
            Err(e @ oidc::OidcError::Jwks(_)) => return Err(ApiError::Unavailable(e.to_string())),
        };
        let identity = sealdrop_state::Identity {
            issuer: &identity.issuer,
            subject: &identity.subject,
            display_name: identity.display_name.as_deref(),
        };
        // Linked or provisioned, and enabled: a disabled account is locked
        // out of its OIDC sessions as well as its tokens.
        return match state
            .db
            .sign_in_identity(&identity, verifier.auto_provision())
            .await?
        {
            Ok(signed_in) => {
                if signed_in.provisioned {
                    state.audit.record(
                        &signed_in.user,
                        Action::ProvisionUser,
                        &crate::policy::user_prefix(&signed_in.user),
                        None,
                        Outcome::Allowed,
                        Some(&format!(
                            "single sign-on identity {:?} at {}",
                            identity.subject, identity.issuer
                        )),
                    );
                }
                Ok(AuthUser {
                    name: signed_in.user,
                    method: AuthMethod::Oidc,
                })
            }
            Err(refusal) => Err(unauthenticated(&refusal.to_string())),
        };
    }
    Err(unauthenticated("invalid token"))
}
