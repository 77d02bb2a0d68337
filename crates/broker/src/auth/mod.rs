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

/// Whoever may upload: a signed-in user, or the holder of a file request
/// link (`Authorization: Bearer sdr_<id>.<secret>`), who may only create new
/// objects under the request's folder, within its limits, and sees nothing.
#[derive(Clone, Debug)]
pub enum Uploader {
    /// A user, anywhere under their prefix.
    User(AuthUser),
    /// Through a file request.
    Request(RequestCaller),
}

/// The holder of a file request link.
#[derive(Clone, Debug)]
pub struct RequestCaller {
    /// The request's id (for the audit log).
    pub id: String,
    /// Its owner, whose prefix and key budget uploads use.
    pub owner: String,
    /// The folder uploads land in: `<owner>/inbox/<name>/`.
    pub prefix: String,
}

impl Uploader {
    /// Whose prefix, budget and audit lines the upload is under.
    pub fn owner(&self) -> &str {
        match self {
            Uploader::User(user) => &user.name,
            Uploader::Request(request) => &request.owner,
        }
    }

    /// The file request acted through, if any.
    pub fn link(&self) -> Option<&str> {
        match self {
            Uploader::User(_) => None,
            Uploader::Request(request) => Some(&request.id),
        }
    }
}

impl FromRequestParts<AppState> for Uploader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some((id, secret)) = bearer(parts)
            .and_then(|token| token.strip_prefix(sealdrop_api::REQUEST_BEARER_PREFIX))
            .map(|rest| rest.split_once('.').unwrap_or((rest, "")))
            .map(|(id, secret)| (id.to_owned(), zeroize::Zeroizing::new(secret.to_owned())))
        else {
            return AuthUser::from_request_parts(parts, state)
                .await
                .map(Uploader::User);
        };
        PublicCaller::from_request_parts(parts, state).await?;
        let request = state
            .db
            .find_file_request(&id, &secret)
            .await?
            .ok_or_else(|| {
                ApiError::NotFound(
                    "no such file request link: check that the whole link was copied".into(),
                )
            })?;
        match request.status() {
            sealdrop_api::FileRequestStatus::Open => Ok(Uploader::Request(RequestCaller {
                prefix: request.prefix(),
                id: request.id,
                owner: request.user,
            })),
            ended => Err(ApiError::Gone(ended.explanation().into())),
        }
    }
}

/// The bearer token of the request, if it has one.
fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    value
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
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
