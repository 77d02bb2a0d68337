//! OIDC bearer tokens: JWTs signed by a configured issuer, checked against its
//! JWKS (found through the issuer's discovery document unless set by hand,
//! fetched lazily, re-fetched at most once a minute when an unknown key id
//! appears), with `iss`, `aud`, `exp`, `nbf` and `sub` enforced.
//!
//! A verified token yields an identity, `(iss, sub)`, never a user name: the
//! state database maps it to a user (see `sealdrop_state::Identity`). The
//! configured display claim is carried along for people to read only.

use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;
use tokio::sync::{OnceCell, RwLock};

use crate::config::OidcConfig;

const REFRESH_AFTER: Duration = Duration::from_secs(60);
const ALLOWED: [Algorithm; 6] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Why a JWT was refused. Messages are safe to return to the caller.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("invalid token: {0}")]
    Invalid(String),
    #[error("the identity provider's keys could not be fetched: {0}")]
    Jwks(String),
}

/// What a valid token says about its holder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedIdentity {
    /// `iss` (always the configured issuer).
    pub issuer: String,
    /// `sub`.
    pub subject: String,
    /// The configured display claim, when the token carries it as a string.
    pub display_name: Option<String>,
}

/// The part of the issuer's discovery document the broker needs.
#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

/// A verifier for one issuer.
pub struct OidcVerifier {
    config: OidcConfig,
    http: reqwest::Client,
    /// The JWKS URL: configured, or discovered once.
    jwks_url: OnceCell<String>,
    keys: RwLock<Option<(JwkSet, Instant)>>,
}

impl OidcVerifier {
    /// A verifier; keys are fetched on first use.
    pub fn new(config: OidcConfig) -> OidcVerifier {
        OidcVerifier {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            jwks_url: OnceCell::new_with(config.jwks_url.clone()),
            keys: RwLock::new(None),
            config,
        }
    }

    /// The issuer.
    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }

    /// The audience: the client id the web app signs in with.
    pub fn audience(&self) -> &str {
        &self.config.audience
    }

    /// Whether an identity without a link gets a user of its own.
    pub fn auto_provision(&self) -> bool {
        self.config.auto_provision
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, OidcError> {
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| OidcError::Jwks(e.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(OidcError::Jwks(format!("HTTP {}", response.status())));
        }
        response
            .json::<T>()
            .await
            .map_err(|e| OidcError::Jwks(e.without_url().to_string()))
    }

    /// The JWKS URL, from `<issuer>/.well-known/openid-configuration` unless
    /// configured. The document must name the configured issuer exactly
    /// (OpenID Connect Discovery 1.0, section 4.3).
    async fn jwks_url(&self) -> Result<&str, OidcError> {
        self.jwks_url
            .get_or_try_init(|| async {
                let url = sealdrop_api::oidc_discovery_url(&self.config.issuer);
                let discovery: Discovery = self.get_json(&url).await?;
                if discovery.issuer != self.config.issuer {
                    return Err(OidcError::Jwks(format!(
                        "the discovery document names issuer {:?}, not the configured {:?}",
                        discovery.issuer, self.config.issuer
                    )));
                }
                Ok(discovery.jwks_uri)
            })
            .await
            .map(String::as_str)
    }

    async fn fetch(&self) -> Result<JwkSet, OidcError> {
        let url = self.jwks_url().await?.to_owned();
        self.get_json(&url).await
    }

    async fn key_for(&self, kid: Option<&str>) -> Result<DecodingKey, OidcError> {
        let find = |set: &JwkSet| match kid {
            Some(kid) => set.find(kid).cloned(),
            None if set.keys.len() == 1 => set.keys.first().cloned(),
            None => None,
        };
        {
            let cached = self.keys.read().await;
            if let Some((set, fetched)) = cached.as_ref() {
                if let Some(jwk) = find(set) {
                    return DecodingKey::from_jwk(&jwk)
                        .map_err(|e| OidcError::Invalid(e.to_string()));
                }
                if fetched.elapsed() < REFRESH_AFTER {
                    return Err(OidcError::Invalid("unknown signing key".into()));
                }
            }
        }
        let set = self.fetch().await?;
        let jwk = find(&set);
        *self.keys.write().await = Some((set, Instant::now()));
        let jwk = jwk.ok_or_else(|| OidcError::Invalid("unknown signing key".into()))?;
        DecodingKey::from_jwk(&jwk).map_err(|e| OidcError::Invalid(e.to_string()))
    }

    /// Verifies a JWT and returns the identity it vouches for.
    pub async fn verify(&self, token: &str) -> Result<VerifiedIdentity, OidcError> {
        let header = decode_header(token).map_err(|e| OidcError::Invalid(e.to_string()))?;
        if !ALLOWED.contains(&header.alg) {
            return Err(OidcError::Invalid(format!(
                "signature algorithm {:?} is not accepted",
                header.alg
            )));
        }
        let key = self.key_for(header.kid.as_deref()).await?;
        let mut validation = Validation::new(header.alg);
        validation.set_audience(&[&self.config.audience]);
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        let data = decode::<serde_json::Map<String, serde_json::Value>>(token, &key, &validation)
            .map_err(|e| OidcError::Invalid(e.to_string()))?;
        let claim = |name: &str| data.claims.get(name).and_then(|v| v.as_str());
        let subject = claim("sub")
            .filter(|sub| !sub.is_empty() && sub.len() <= 255)
            .ok_or_else(|| OidcError::Invalid("the token's \"sub\" is empty or too long".into()))?;
        Ok(VerifiedIdentity {
            issuer: self.config.issuer.clone(),
            subject: subject.to_owned(),
            display_name: claim(&self.config.display_claim).map(str::to_owned),
        })
    }
}
