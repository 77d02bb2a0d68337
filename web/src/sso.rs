//! "Sign in with …": the browser side of single sign-on. The flow's rules are
//! `sealdrop_transfer::sign_in`; this module gives it randomness, the tab's
//! session storage and `fetch`.
//!
//! What is kept where, and why:
//! - The pending sign-in (PKCE verifier, `state`, `nonce`) lives in
//!   `sessionStorage` only while the browser visits the provider: a redirect
//!   reloads the page, so memory cannot carry it. It is removed when the
//!   browser comes back, whatever the outcome.
//! - The ID token is the session's bearer token and is kept like a pasted
//!   token (`session.rs`): this tab only, gone when it closes, never
//!   `localStorage`. When it expires the broker answers 401 and the app asks
//!   to sign in again; while the provider's own session lasts that is one
//!   click without a password.

use sealdrop_api::OidcConfig;
use sealdrop_transfer::sign_in::{self, ENTROPY_LEN, PendingSignIn, ProviderEndpoints};
use serde::{Deserialize, Serialize};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, RequestCache, RequestInit, Response, Storage};
use zeroize::Zeroizing;

use crate::js;

const PENDING_KEY: &str = "sealdrop.sso.pending";
const SESSION_KEY: &str = "sealdrop.sso.session";

/// What sign-out needs to end the provider's session too.
#[derive(Serialize, Deserialize)]
struct SsoSession {
    endpoints: ProviderEndpoints,
    client_id: String,
}

fn storage() -> Result<Storage, String> {
    crate::session::storage()
        .ok_or_else(|| "this browser keeps no session storage for the page".to_owned())
}

/// This page's address without query or fragment: the redirect URI registered
/// with the provider.
fn redirect_uri() -> Result<String, String> {
    let location = web_sys::window().ok_or("no window")?.location();
    let origin = location.origin().map_err(|e| js::describe(&e))?;
    let path = location.pathname().map_err(|e| js::describe(&e))?;
    Ok(format!("{origin}{path}"))
}

async fn fetch(url: &str, init: &RequestInit) -> Result<(u16, Zeroizing<Vec<u8>>), String> {
    let window = web_sys::window().ok_or("no window")?;
    let response: Response = JsFuture::from(window.fetch_with_str_and_init(url, init))
        .await
        .map_err(|e| {
            format!(
                "the identity provider could not be reached: {}",
                js::describe(&e)
            )
        })?
        .unchecked_into();
    let body = crate::api::read_and_wipe(&response)
        .await
        .map_err(|e| js::describe(&e))?;
    Ok((response.status(), body))
}

async fn discover(issuer: &str) -> Result<ProviderEndpoints, String> {
    let init = RequestInit::new();
    init.set_cache(RequestCache::NoCache);
    let (status, body) = fetch(&sealdrop_api::oidc_discovery_url(issuer), &init).await?;
    if status != 200 {
        return Err(format!(
            "the identity provider's configuration answered HTTP {status}"
        ));
    }
    ProviderEndpoints::from_discovery(&body, issuer).map_err(|e| e.to_string())
}

/// Sends the browser to the provider's sign-in page. Returns only on failure.
pub async fn start(oidc: &OidcConfig) -> Result<(), String> {
    let endpoints = discover(&oidc.issuer).await?;
    let mut entropy = Zeroizing::new([0u8; ENTROPY_LEN]);
    js::crypto()
        .and_then(|c| c.get_random_values_with_u8_array(entropy.as_mut()))
        .map_err(|e| format!("no secure random numbers: {}", js::describe(&e)))?;
    let (url, pending) = sign_in::begin(endpoints, &oidc.audience, &redirect_uri()?, &entropy);
    let kept = Zeroizing::new(serde_json::to_string(&pending).map_err(|e| e.to_string())?);
    storage()?
        .set_item(PENDING_KEY, &kept)
        .map_err(|e| js::describe(&e))?;
    web_sys::window()
        .ok_or("no window")?
        .location()
        .assign(&url)
        .map_err(|e| js::describe(&e))
}

/// The query string of this page if the provider just sent the browser back
/// here, removing it from the address bar (the code is single-use, and a
/// reload must not try it again).
pub fn take_callback() -> Option<String> {
    let window = web_sys::window()?;
    let location = window.location();
    let query = location.search().ok()?;
    if !sign_in::is_callback(&query) {
        return None;
    }
    let clean = format!(
        "{}{}",
        location.pathname().unwrap_or_default(),
        location.hash().unwrap_or_default()
    );
    if let Ok(history) = window.history() {
        let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&clean));
    }
    Some(query)
}

/// Completes the sign-in the provider sent the browser back from: the ID
/// token to use as the bearer token.
pub async fn finish(query: &str) -> Result<Zeroizing<String>, String> {
    let storage = storage()?;
    let kept = storage
        .get_item(PENDING_KEY)
        .ok()
        .flatten()
        .map(Zeroizing::new)
        .ok_or("this tab did not start a sign-in (or it was already used); please sign in again")?;
    let _ = storage.remove_item(PENDING_KEY);
    let pending: PendingSignIn = serde_json::from_str(&kept).map_err(|e| e.to_string())?;
    let request = sign_in::finish(&pending, query).map_err(|e| e.to_string())?;

    let headers = Headers::new().map_err(|e| js::describe(&e))?;
    headers
        .set("Content-Type", "application/x-www-form-urlencoded")
        .map_err(|e| js::describe(&e))?;
    headers
        .set("Accept", "application/json")
        .map_err(|e| js::describe(&e))?;
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_cache(RequestCache::NoStore);
    init.set_headers(&headers);
    init.set_body(&JsValue::from_str(&request.body));
    let (status, body) = fetch(&request.url, &init).await?;
    let token = sign_in::id_token(&pending, status, &body).map_err(|e| e.to_string())?;

    let session = SsoSession {
        endpoints: pending.endpoints().clone(),
        client_id: pending.client_id().to_owned(),
    };
    if let Ok(json) = serde_json::to_string(&session) {
        let _ = storage.set_item(SESSION_KEY, &json);
    }
    Ok(token.token)
}

/// Whether this tab's session came from single sign-on.
pub fn active() -> bool {
    storage().is_ok_and(|s| s.get_item(SESSION_KEY).ok().flatten().is_some())
}

/// Forgets the single sign-on session and returns where to send the browser
/// to end the provider's session too, if the provider supports it.
pub fn end(id_token: Option<&str>) -> Option<String> {
    let storage = storage().ok()?;
    let json = storage.get_item(SESSION_KEY).ok().flatten()?;
    let _ = storage.remove_item(SESSION_KEY);
    let session: SsoSession = serde_json::from_str(&json).ok()?;
    sign_in::sign_out_url(
        &session.endpoints,
        &session.client_id,
        id_token?,
        &redirect_uri().ok()?,
    )
}
