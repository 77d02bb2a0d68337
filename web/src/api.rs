//! The broker's JSON API (`sealdrop-api`), as the transfer core's
//! [`sealdrop_transfer::calls`] describe it: this module only runs them over
//! `fetch` (`api.call(calls::me())`). Failures
//! are the core's [`Failure`]s, repeated under its [`RetryPolicy`].
//!
//! Responses are read as bytes, copied into zeroizing memory and the JS buffer
//! wiped, because some of them carry plaintext data keys.

use std::rc::Rc;

use js_sys::{ArrayBuffer, Uint8Array};
use sealdrop_transfer::calls::{Answer, Call};
use sealdrop_transfer::{Endpoint, Failure, FailureKind, RetryPolicy};
use serde::Serialize;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, RequestCache, RequestInit, Response};
use zeroize::Zeroizing;

use crate::js;

/// A failed API call, classified and worded by the transfer core (the same
/// rules as the CLI): `kind` says what to offer, `message()` what to say.
pub type ApiError = Failure;

/// An authenticated API client.
#[derive(Clone)]
pub struct Api {
    base: Rc<str>,
    token: Rc<str>,
    on_unauthenticated: Rc<dyn Fn()>,
}

impl Api {
    /// A client for the broker at `base` (empty: this page's origin). 401 answers
    /// call `on_unauthenticated` (the app signs out).
    pub fn new(base: &str, token: &str, on_unauthenticated: Rc<dyn Fn()>) -> Api {
        Api {
            base: base.trim_end_matches('/').into(),
            token: token.into(),
            on_unauthenticated,
        }
    }

    /// Sends `call` (one of [`sealdrop_transfer::calls`]; repeated as the call allows) and reads
    /// the answer.
    pub async fn call<B: Serialize, R: Answer>(&self, call: Call<'_, B, R>) -> Result<R, ApiError> {
        let body = call.json_body().map_err(|e| local_failure(e.to_string()))?;
        let path = call.path_and_query();
        let policy = RetryPolicy::default();
        let mut attempt = 0;
        loop {
            let error = match self
                .send_once(call.method().as_str(), &path, body.as_deref())
                .await
            {
                Ok(bytes) => return call.parse(&bytes).map_err(|e| local_failure(e.to_string())),
                Err(error) => error,
            };
            match policy.next_delay(&error, call.idempotence(), attempt, js_sys::Math::random()) {
                Some(delay) => {
                    js::sleep(u32::try_from(delay.as_millis()).unwrap_or(u32::MAX), None).await;
                    attempt += 1;
                }
                None => {
                    if error.kind == FailureKind::Unauthenticated {
                        (self.on_unauthenticated)();
                    }
                    return Err(error);
                }
            }
        }
    }

    async fn send_once(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Result<Zeroizing<Vec<u8>>, ApiError> {
        let local = |e: JsValue| local_failure(js::describe(&e));
        let headers = Headers::new().map_err(local)?;
        // The public configuration is read before anyone signs in.
        if !self.token.is_empty() {
            headers
                .set("Authorization", &format!("Bearer {}", self.token))
                .map_err(local)?;
        }
        headers.set("Accept", "application/json").map_err(local)?;
        let init = RequestInit::new();
        init.set_method(method);
        init.set_cache(RequestCache::NoStore);
        if let Some(body) = body {
            headers
                .set("Content-Type", "application/json")
                .map_err(local)?;
            init.set_body(&body.into());
        }
        init.set_headers(&headers);
        let window = web_sys::window().ok_or_else(|| local_failure("no window".into()))?;
        let url = format!("{}{path}", self.base);
        let response: Response = JsFuture::from(window.fetch_with_str_and_init(&url, &init))
            .await
            .map_err(|e| Failure::unreachable(Endpoint::Broker, &js::describe(&e), false))?
            .unchecked_into();
        let bytes = read_and_wipe(&response).await.map_err(|e| {
            Failure::unreachable(
                Endpoint::Broker,
                &format!("the answer was cut off: {}", js::describe(&e)),
                false,
            )
        })?;
        let status = response.status();
        if (200..300).contains(&status) {
            return Ok(bytes);
        }
        let retry_after = response.headers().get("Retry-After").ok().flatten();
        Err(Failure::broker(status, &bytes, retry_after.as_deref()))
    }
}

/// A failure of this page (a browser call, an answer it cannot read).
fn local_failure(detail: String) -> Failure {
    Failure {
        endpoint: Endpoint::Broker,
        kind: FailureKind::Internal,
        status: None,
        code: None,
        detail,
        retry_after_secs: None,
        unprocessed: false,
    }
}

pub(crate) async fn read_and_wipe(response: &Response) -> Result<Zeroizing<Vec<u8>>, JsValue> {
    let buffer: ArrayBuffer = JsFuture::from(response.array_buffer()?)
        .await?
        .unchecked_into();
    let view = Uint8Array::new(&buffer);
    let bytes = Zeroizing::new(view.to_vec());
    view.fill(0, 0, view.length());
    Ok(bytes)
}
