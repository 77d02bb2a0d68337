//! OIDC bearer tokens: JWTs signed by a configured issuer, checked against its
//! JWKS (fetched lazily, re-fetched at most once a minute when an unknown key id
//! appears), with `iss`, `aud` and `exp` enforced. The configured claim (default
//! `sub`) names the user and must be a valid sealdrop user name.

use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use tokio::sync::RwLock;

use crate::config::OidcConfig;
use crate::policy;

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

/// A verifier for one issuer.
pub struct OidcVerifier {
    config: OidcConfig,
    http: reqwest::Client,
    keys: RwLock<Option<(JwkSet, Instant)>>,
}

impl OidcVerifier {
    /// A verifier; keys are fetched on first use.
    pub fn new(config: OidcConfig) -> OidcVerifier {
        OidcVerifier {
            config,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            keys: RwLock::new(None),
        }
    }

    /// The issuer.
    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }

    /// The audience.
    pub fn audience(&self) -> &str {
        &self.config.audience
    }

    async fn fetch(&self) -> Result<JwkSet, OidcError> {
        let response = self
            .http
            .get(&self.config.jwks_url)
            .send()
            .await
            .map_err(|e| OidcError::Jwks(e.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(OidcError::Jwks(format!("HTTP {}", response.status())));
        }
        response
            .json::<JwkSet>()
            .await
            .map_err(|e| OidcError::Jwks(e.without_url().to_string()))
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

    /// Verifies a JWT and returns the user it names.
    pub async fn verify(&self, token: &str) -> Result<String, OidcError> {
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
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let data = decode::<serde_json::Map<String, serde_json::Value>>(token, &key, &validation)
            .map_err(|e| OidcError::Invalid(e.to_string()))?;
        let user = data
            .claims
            .get(&self.config.user_claim)
            .and_then(|v| v.as_str())
            .ok_or_else(|| {
                OidcError::Invalid(format!(
                    "the token has no {:?} claim",
                    self.config.user_claim
                ))
            })?;
        policy::validate_user_name(user).map_err(OidcError::Invalid)?;
        Ok(user.to_owned())
    }
}
