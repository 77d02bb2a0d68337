//! Single sign-on in the browser: the OpenID Connect Authorization Code flow
//! with PKCE (RFC 7636, `S256`) for a public client, as pure functions: the app
//! supplies randomness, storage and `fetch`; every rule of the flow is here.
//!
//! 1. [`begin`] turns the provider's endpoints and 64 random bytes into the
//!    authorization URL and a [`PendingSignIn`] (verifier, `state`, `nonce`)
//!    that the tab keeps until the provider sends the browser back.
//! 2. [`finish`] checks the callback (`state`, the `iss` of RFC 9207 when sent,
//!    or the provider's error) and writes the token request.
//! 3. [`id_token`] reads the token response and checks the ID token's `nonce`
//!    and `aud`, which bind it to this tab's request. Its signature is not
//!    checked here: the app only forwards the token, and the broker verifies it
//!    (issuer, audience, expiry, signature) on every call.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// How many random bytes [`begin`] takes: 32 for the PKCE verifier (RFC 7636
/// recommends 32 octets), 16 each for `state` and `nonce`.
pub const ENTROPY_LEN: usize = 64;

/// What is asked for: an ID token and the profile claims for display.
const SCOPE: &str = "openid profile";

/// Why a sign-in did not complete. The words are for the person signing in.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignInError {
    /// The discovery document is unreadable or names another issuer.
    #[error("the identity provider's configuration could not be read: {0}")]
    Discovery(String),
    /// The provider answered with an OAuth error.
    #[error("the identity provider refused the sign-in: {0}")]
    Provider(String),
    /// The answer is not for the request this tab made (`state`, `iss`,
    /// `nonce` or `aud` differ): a forged or replayed callback.
    #[error(
        "this sign-in answer does not belong to the sign-in started in this tab; please sign \
         in again"
    )]
    Mismatch,
    /// The answer lacks what the flow needs.
    #[error("the identity provider's answer is incomplete: {0}")]
    Malformed(String),
}

/// The provider endpoints the flow uses, from its discovery document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderEndpoints {
    /// `issuer`.
    pub issuer: String,
    /// Where the browser is sent to sign in.
    pub authorization_endpoint: String,
    /// Where the code is exchanged for tokens.
    pub token_endpoint: String,
    /// Where signing out ends the provider's session too (RP-Initiated Logout).
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
}

impl ProviderEndpoints {
    /// Reads `<issuer>/.well-known/openid-configuration`, which must name
    /// `expected_issuer` exactly (OpenID Connect Discovery 1.0, 4.3).
    pub fn from_discovery(
        document: &[u8],
        expected_issuer: &str,
    ) -> Result<ProviderEndpoints, SignInError> {
        let endpoints: ProviderEndpoints =
            serde_json::from_slice(document).map_err(|e| SignInError::Discovery(e.to_string()))?;
        if endpoints.issuer != expected_issuer {
            return Err(SignInError::Discovery(format!(
                "it names issuer {:?}, not {expected_issuer:?}",
                endpoints.issuer
            )));
        }
        Ok(endpoints)
    }
}

/// A sign-in in progress: kept by the tab (session storage) while the browser
/// visits the provider, used once by [`finish`] and [`id_token`].
#[derive(Clone, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct PendingSignIn {
    #[zeroize(skip)]
    endpoints: ProviderEndpoints,
    client_id: String,
    redirect_uri: String,
    state: String,
    nonce: String,
    /// The PKCE verifier: whoever holds it and the code can get a token.
    verifier: String,
}

impl std::fmt::Debug for PendingSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingSignIn")
            .field("issuer", &self.endpoints.issuer)
            .finish_non_exhaustive()
    }
}

impl PendingSignIn {
    /// The provider this sign-in goes to.
    pub fn endpoints(&self) -> &ProviderEndpoints {
        &self.endpoints
    }

    /// The client id it was started with.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }
}

/// Starts a sign-in: the URL to send the browser to, and what to keep.
pub fn begin(
    endpoints: ProviderEndpoints,
    client_id: &str,
    redirect_uri: &str,
    entropy: &[u8; ENTROPY_LEN],
) -> (String, PendingSignIn) {
    let verifier = URL_SAFE_NO_PAD.encode(&entropy[..32]);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let pending = PendingSignIn {
        client_id: client_id.to_owned(),
        redirect_uri: redirect_uri.to_owned(),
        state: URL_SAFE_NO_PAD.encode(&entropy[32..48]),
        nonce: URL_SAFE_NO_PAD.encode(&entropy[48..]),
        verifier,
        endpoints,
    };
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", &pending.client_id)
        .append_pair("redirect_uri", &pending.redirect_uri)
        .append_pair("scope", SCOPE)
        .append_pair("state", &pending.state)
        .append_pair("nonce", &pending.nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    let base = &pending.endpoints.authorization_endpoint;
    let separator = if base.contains('?') { '&' } else { '?' };
    (format!("{base}{separator}{query}"), pending)
}

/// Whether a page's query string is an authorization response (the provider
/// sent the browser back), so the app knows to call [`finish`].
pub fn is_callback(query: &str) -> bool {
    let query = query.strip_prefix('?').unwrap_or(query);
    form_urlencoded::parse(query.as_bytes()).any(|(name, _)| name == "code" || name == "error")
        && form_urlencoded::parse(query.as_bytes()).any(|(name, _)| name == "state")
}

/// The token request: `POST url` with `body` as
/// `application/x-www-form-urlencoded`.
pub struct TokenRequest {
    /// The token endpoint.
    pub url: String,
    /// The form (it holds the code and the verifier).
    pub body: Zeroizing<String>,
}

fn same(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// Checks the authorization response in `query` against `pending` and writes
/// the token request.
pub fn finish(pending: &PendingSignIn, query: &str) -> Result<TokenRequest, SignInError> {
    let query = query.strip_prefix('?').unwrap_or(query);
    let param = |name: &str| {
        form_urlencoded::parse(query.as_bytes())
            .find(|(key, _)| key == name)
            .map(|(_, value)| Zeroizing::new(value.into_owned()))
    };
    let state = param("state").ok_or(SignInError::Mismatch)?;
    if !same(&state, &pending.state) {
        return Err(SignInError::Mismatch);
    }
    // RFC 9207: a provider that names itself must be the one we went to.
    if let Some(iss) = param("iss")
        && *iss != pending.endpoints.issuer
    {
        return Err(SignInError::Mismatch);
    }
    if let Some(error) = param("error") {
        let description = param("error_description");
        return Err(SignInError::Provider(match description {
            Some(description) => format!("{} ({})", description.as_str(), error.as_str()),
            None => error.to_string(),
        }));
    }
    let code = param("code").ok_or_else(|| SignInError::Malformed("no code".into()))?;
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", &code)
        .append_pair("redirect_uri", &pending.redirect_uri)
        .append_pair("client_id", &pending.client_id)
        .append_pair("code_verifier", &pending.verifier)
        .finish();
    Ok(TokenRequest {
        url: pending.endpoints.token_endpoint.clone(),
        body: Zeroizing::new(body),
    })
}

/// An ID token this tab asked for.
pub struct IdToken {
    /// The JWT, sent to the broker as the bearer token.
    pub token: Zeroizing<String>,
    /// When it expires (`exp`, Unix seconds).
    pub expires_at: Option<u64>,
}

#[derive(Deserialize)]
struct TokenResponse {
    id_token: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

#[derive(Deserialize)]
struct Claims {
    nonce: Option<String>,
    aud: Audience,
    exp: Option<u64>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

/// Reads the token endpoint's answer (`status` and body) and checks the ID
/// token's `nonce` and audience against `pending`.
pub fn id_token(pending: &PendingSignIn, status: u16, body: &[u8]) -> Result<IdToken, SignInError> {
    let response: TokenResponse = serde_json::from_slice(body)
        .map_err(|_| SignInError::Malformed(format!("HTTP {status} without a JSON body")))?;
    if let Some(error) = response.error {
        return Err(SignInError::Provider(match response.error_description {
            Some(description) => format!("{description} ({error})"),
            None => error,
        }));
    }
    let token = Zeroizing::new(
        response
            .id_token
            .ok_or_else(|| SignInError::Malformed("no id_token".into()))?,
    );
    let payload = token
        .split('.')
        .nth(1)
        .and_then(|part| URL_SAFE_NO_PAD.decode(part).ok())
        .ok_or_else(|| SignInError::Malformed("the id_token is not a JWT".into()))?;
    let claims: Claims = serde_json::from_slice(&payload)
        .map_err(|e| SignInError::Malformed(format!("the id_token's claims: {e}")))?;
    let nonce_ok = claims
        .nonce
        .as_deref()
        .is_some_and(|nonce| same(nonce, &pending.nonce));
    let audience_ok = match &claims.aud {
        Audience::One(aud) => *aud == pending.client_id,
        Audience::Many(auds) => auds.contains(&pending.client_id),
    };
    if !nonce_ok || !audience_ok {
        return Err(SignInError::Mismatch);
    }
    Ok(IdToken {
        token,
        expires_at: claims.exp,
    })
}

/// Where to send the browser to end the provider's session as well, if the
/// provider supports it (OpenID Connect RP-Initiated Logout 1.0).
pub fn sign_out_url(
    endpoints: &ProviderEndpoints,
    client_id: &str,
    id_token: &str,
    post_logout_redirect_uri: &str,
) -> Option<String> {
    let base = endpoints.end_session_endpoint.as_deref()?;
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", client_id)
        .append_pair("id_token_hint", id_token)
        .append_pair("post_logout_redirect_uri", post_logout_redirect_uri)
        .finish();
    let separator = if base.contains('?') { '&' } else { '?' };
    Some(format!("{base}{separator}{query}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn endpoints() -> ProviderEndpoints {
        ProviderEndpoints {
            issuer: "https://idp.example".into(),
            authorization_endpoint: "https://idp.example/auth".into(),
            token_endpoint: "https://idp.example/token".into(),
            end_session_endpoint: Some("https://idp.example/logout?x=1".into()),
        }
    }

    fn params(url: &str) -> Vec<(String, String)> {
        let query = url.split_once('?').unwrap().1;
        form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect()
    }

    fn get<'a>(params: &'a [(String, String)], name: &str) -> &'a str {
        &params.iter().find(|(k, _)| k == name).unwrap().1
    }

    fn jwt(claims: serde_json::Value) -> String {
        format!(
            "e30.{}.c2ln",
            URL_SAFE_NO_PAD.encode(claims.to_string().as_bytes())
        )
    }

    fn started() -> (Vec<(String, String)>, PendingSignIn) {
        let (url, pending) = begin(endpoints(), "web", "https://app.example/", &[7; 64]);
        assert!(url.starts_with("https://idp.example/auth?"));
        (params(&url), pending)
    }

    #[test]
    fn the_authorization_request_carries_an_s256_challenge_of_the_kept_verifier() {
        let (params, pending) = started();
        assert_eq!(get(&params, "response_type"), "code");
        assert_eq!(get(&params, "client_id"), "web");
        assert_eq!(get(&params, "redirect_uri"), "https://app.example/");
        assert_eq!(get(&params, "code_challenge_method"), "S256");
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(pending.verifier.as_bytes()));
        assert_eq!(get(&params, "code_challenge"), challenge);
        assert_eq!(pending.verifier.len(), 43, "RFC 7636: 43 to 128 characters");
        assert!(!params.iter().any(|(_, v)| *v == pending.verifier));
        // Different randomness, different secrets.
        let (_, other) = begin(endpoints(), "web", "https://app.example/", &[8; 64]);
        assert_ne!(other.verifier, pending.verifier);
        assert_ne!(other.state, pending.state);
        assert_ne!(other.nonce, pending.nonce);
    }

    #[test]
    fn a_callback_with_the_right_state_becomes_a_token_request() {
        let (params, pending) = started();
        let query = format!(
            "?code=abc&state={}&iss=https%3A%2F%2Fidp.example",
            get(&params, "state")
        );
        assert!(is_callback(&query));
        let request = finish(&pending, &query).unwrap();
        assert_eq!(request.url, "https://idp.example/token");
        let body: Vec<(String, String)> = form_urlencoded::parse(request.body.as_bytes())
            .into_owned()
            .collect();
        assert_eq!(get(&body, "grant_type"), "authorization_code");
        assert_eq!(get(&body, "code"), "abc");
        assert_eq!(get(&body, "code_verifier"), pending.verifier);
        assert_eq!(get(&body, "client_id"), "web");
    }

    #[test]
    fn callbacks_from_elsewhere_are_refused() {
        let (params, pending) = started();
        let state = get(&params, "state").to_owned();
        for query in [
            "code=abc".to_owned(),
            "code=abc&state=forged".to_owned(),
            format!("code=abc&state={state}&iss=https%3A%2F%2Fevil.example"),
        ] {
            assert_eq!(
                finish(&pending, &query).err(),
                Some(SignInError::Mismatch),
                "{query}"
            );
        }
        let denied =
            format!("error=access_denied&error_description=End-User+aborted&state={state}");
        assert_eq!(
            finish(&pending, &denied).err(),
            Some(SignInError::Provider(
                "End-User aborted (access_denied)".into()
            ))
        );
        assert!(!is_callback("?view=files"));
    }

    #[test]
    fn the_id_token_must_carry_this_tabs_nonce_and_client_id() {
        let (_, pending) = started();
        let answer = |claims: serde_json::Value| {
            let body = serde_json::json!({ "id_token": jwt(claims), "token_type": "Bearer" });
            id_token(&pending, 200, body.to_string().as_bytes())
        };
        let good =
            answer(serde_json::json!({"nonce": pending.nonce, "aud": "web", "exp": 99})).unwrap();
        assert_eq!(good.expires_at, Some(99));
        assert!(answer(serde_json::json!({"nonce": pending.nonce, "aud": ["x", "web"]})).is_ok());
        for bad in [
            serde_json::json!({"nonce": "other", "aud": "web"}),
            serde_json::json!({"aud": "web"}),
            serde_json::json!({"nonce": pending.nonce, "aud": "someone-else"}),
        ] {
            assert_eq!(answer(bad).err(), Some(SignInError::Mismatch));
        }
        let refused = id_token(&pending, 400, br#"{"error":"invalid_grant"}"#);
        assert_eq!(
            refused.err(),
            Some(SignInError::Provider("invalid_grant".into()))
        );
        assert!(matches!(
            id_token(&pending, 502, b"<html>"),
            Err(SignInError::Malformed(_))
        ));
    }

    #[test]
    fn discovery_must_name_the_configured_issuer() {
        let doc = serde_json::to_vec(&endpoints()).unwrap();
        assert_eq!(
            ProviderEndpoints::from_discovery(&doc, "https://idp.example").unwrap(),
            endpoints()
        );
        assert!(ProviderEndpoints::from_discovery(&doc, "https://idp.example/").is_err());
        assert_eq!(
            sealdrop_api::oidc_discovery_url("https://idp.example/"),
            "https://idp.example/.well-known/openid-configuration"
        );
    }

    #[test]
    fn sign_out_goes_to_the_end_session_endpoint_when_there_is_one() {
        let url = sign_out_url(&endpoints(), "web", "t.o.k", "https://app.example/").unwrap();
        assert!(url.starts_with("https://idp.example/logout?x=1&"));
        assert_eq!(get(&params(&url), "id_token_hint"), "t.o.k");
        let none = ProviderEndpoints {
            end_session_endpoint: None,
            ..endpoints()
        };
        assert_eq!(
            sign_out_url(&none, "web", "t", "https://app.example/"),
            None
        );
    }
}
