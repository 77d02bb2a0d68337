//! The broker's JSON API (`sealdrop-api`), with errors people can act on.
//!
//! Responses are read as bytes, copied into zeroizing memory and the JS buffer
//! wiped, because some of them carry plaintext data keys.

use std::fmt;
use std::rc::Rc;

use js_sys::{ArrayBuffer, Uint8Array};
use sealdrop_api::{
    AbortUploadRequest, CompleteUploadRequest, CompleteUploadResponse, CreateUploadRequest,
    CreateUploadResponse, ErrorBody, ErrorCode, ListObjectsResponse, Me, OpenObjectRequest,
    OpenObjectResponse, SignPartsRequest, SignPartsResponse, routes,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, RequestCache, RequestInit, Response, UrlSearchParams};
use zeroize::Zeroizing;

use crate::js;

/// Attempts for requests the broker may answer with 429/503, or that fail on
/// the network when they are safe to repeat.
const MAX_ATTEMPTS: u32 = 4;
/// Longest `Retry-After` the client waits for by itself.
const MAX_AUTOMATIC_WAIT_SECS: u32 = 30;

/// What kind of failure an API call had.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiErrorKind {
    /// No HTTP answer (offline, DNS, TLS, CORS).
    Network,
    /// 401.
    Unauthenticated,
    /// 403.
    Forbidden,
    /// 404.
    NotFound,
    /// 409.
    Conflict,
    /// 413.
    TooLarge,
    /// 422: encryption metadata, context or commitment invalid.
    Integrity,
    /// 429.
    RateLimited,
    /// 503: storage or KMS unreachable.
    Unavailable,
    /// 502: storage or KMS answered with an error.
    Upstream,
    /// 400.
    BadRequest,
    /// 500, or an answer the app does not understand.
    Internal,
}

/// A failed API call.
#[derive(Clone, Debug)]
pub struct ApiError {
    /// The category.
    pub kind: ApiErrorKind,
    /// The broker's message (or what went wrong locally).
    pub detail: String,
    /// For 429: seconds to wait.
    pub retry_after_secs: Option<u32>,
}

impl ApiError {
    fn new(kind: ApiErrorKind, detail: impl Into<String>) -> Self {
        ApiError {
            kind,
            detail: detail.into(),
            retry_after_secs: None,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let detail = &self.detail;
        match self.kind {
            ApiErrorKind::Network => write!(
                f,
                "Cannot reach the sealdrop server ({detail}). Check your connection and try again."
            ),
            ApiErrorKind::Unauthenticated => f.write_str(
                "Your session has expired or the token is not valid. Please sign in again.",
            ),
            ApiErrorKind::Forbidden => write!(f, "You are not allowed to do this: {detail}"),
            ApiErrorKind::NotFound => write!(f, "Not found: {detail}"),
            ApiErrorKind::Conflict => write!(f, "{detail}"),
            ApiErrorKind::TooLarge => write!(f, "Too large: {detail}"),
            ApiErrorKind::Integrity => write!(
                f,
                "Integrity check failed — the object's encryption metadata was modified or does not belong to it; nothing was saved ({detail})"
            ),
            ApiErrorKind::RateLimited => match self.retry_after_secs {
                Some(secs) => write!(f, "Too many requests — try again in {secs} s."),
                None => f.write_str("Too many requests — try again in a moment."),
            },
            ApiErrorKind::Unavailable => write!(
                f,
                "Storage or the key service is unavailable right now; try again shortly ({detail})"
            ),
            ApiErrorKind::Upstream => {
                write!(f, "Storage or the key service reported an error: {detail}")
            }
            ApiErrorKind::BadRequest => write!(f, "{detail}"),
            ApiErrorKind::Internal => write!(f, "The server failed: {detail}"),
        }
    }
}

fn kind_of(code: ErrorCode) -> ApiErrorKind {
    match code {
        ErrorCode::BadRequest | ErrorCode::InvalidName => ApiErrorKind::BadRequest,
        ErrorCode::Unauthenticated => ApiErrorKind::Unauthenticated,
        ErrorCode::Forbidden => ApiErrorKind::Forbidden,
        ErrorCode::NotFound => ApiErrorKind::NotFound,
        ErrorCode::Conflict => ApiErrorKind::Conflict,
        ErrorCode::TooLarge => ApiErrorKind::TooLarge,
        ErrorCode::IntegrityError => ApiErrorKind::Integrity,
        ErrorCode::RateLimited => ApiErrorKind::RateLimited,
        ErrorCode::UpstreamError => ApiErrorKind::Upstream,
        ErrorCode::Unavailable => ApiErrorKind::Unavailable,
        ErrorCode::Internal => ApiErrorKind::Internal,
    }
}

fn kind_of_status(status: u16) -> ApiErrorKind {
    match status {
        400 => ApiErrorKind::BadRequest,
        401 => ApiErrorKind::Unauthenticated,
        403 => ApiErrorKind::Forbidden,
        404 => ApiErrorKind::NotFound,
        409 => ApiErrorKind::Conflict,
        413 => ApiErrorKind::TooLarge,
        422 => ApiErrorKind::Integrity,
        429 => ApiErrorKind::RateLimited,
        502 => ApiErrorKind::Upstream,
        503 | 504 => ApiErrorKind::Unavailable,
        _ => ApiErrorKind::Internal,
    }
}

/// Whether repeating a request is harmless if its answer was lost.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Repeat {
    Safe,
    /// Only when the broker said it did not process it (429/503).
    IfRefused,
}

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

    /// `GET /api/v1/me`: validates the token.
    pub async fn me(&self) -> Result<Me, ApiError> {
        self.call("GET", routes::ME, None::<&()>, Repeat::Safe)
            .await
    }

    /// `POST /api/v1/uploads`.
    pub async fn create_upload(
        &self,
        request: &CreateUploadRequest,
    ) -> Result<CreateUploadResponse, ApiError> {
        self.call("POST", routes::UPLOADS, Some(request), Repeat::IfRefused)
            .await
    }

    /// `POST /api/v1/uploads/parts`.
    pub async fn sign_parts(
        &self,
        request: &SignPartsRequest,
    ) -> Result<SignPartsResponse, ApiError> {
        self.call("POST", routes::UPLOAD_PARTS, Some(request), Repeat::Safe)
            .await
    }

    /// `POST /api/v1/uploads/complete`.
    pub async fn complete_upload(
        &self,
        request: &CompleteUploadRequest,
    ) -> Result<CompleteUploadResponse, ApiError> {
        self.call(
            "POST",
            routes::UPLOAD_COMPLETE,
            Some(request),
            Repeat::IfRefused,
        )
        .await
    }

    /// `POST /api/v1/uploads/abort`.
    pub async fn abort_upload(&self, request: &AbortUploadRequest) -> Result<(), ApiError> {
        self.call_empty("POST", routes::UPLOAD_ABORT, Some(request))
            .await
    }

    /// `GET /api/v1/objects` (one page).
    pub async fn list_objects(
        &self,
        cursor: Option<&str>,
    ) -> Result<ListObjectsResponse, ApiError> {
        let query = query(&[("limit", Some("100")), ("cursor", cursor)]);
        let path = format!("{}?{query}", routes::OBJECTS);
        self.call("GET", &path, None::<&()>, Repeat::Safe).await
    }

    /// `DELETE /api/v1/objects?key=`.
    pub async fn delete_object(&self, key: &str) -> Result<(), ApiError> {
        let path = format!("{}?{}", routes::OBJECTS, query(&[("key", Some(key))]));
        self.call_empty("DELETE", &path, None::<&()>).await
    }

    /// `POST /api/v1/objects/open`.
    pub async fn open_object(&self, key: &str) -> Result<OpenObjectResponse, ApiError> {
        let request = OpenObjectRequest {
            key: key.to_owned(),
        };
        self.call(
            "POST",
            routes::OBJECT_OPEN,
            Some(&request),
            Repeat::IfRefused,
        )
        .await
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<&impl Serialize>,
        repeat: Repeat,
    ) -> Result<T, ApiError> {
        let bytes = self.send(method, path, body, repeat).await?;
        serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::new(
                ApiErrorKind::Internal,
                format!("unexpected answer to {path}: {e}"),
            )
        })
    }

    async fn call_empty(
        &self,
        method: &str,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<(), ApiError> {
        self.send(method, path, body, Repeat::Safe).await.map(drop)
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&impl Serialize>,
        repeat: Repeat,
    ) -> Result<Zeroizing<Vec<u8>>, ApiError> {
        let body = body
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| ApiError::new(ApiErrorKind::Internal, e.to_string()))?;
        let mut attempt = 0;
        loop {
            let outcome = self.send_once(method, path, body.as_deref()).await;
            let retry_in = match &outcome {
                Err(error) if attempt + 1 < MAX_ATTEMPTS => retry_delay(error, repeat, attempt),
                _ => None,
            };
            match (outcome, retry_in) {
                (Err(_), Some(ms)) => {
                    js::sleep(ms, None).await;
                    attempt += 1;
                }
                (Err(error), None) => {
                    if error.kind == ApiErrorKind::Unauthenticated {
                        (self.on_unauthenticated)();
                    }
                    return Err(error);
                }
                (Ok(bytes), _) => return Ok(bytes),
            }
        }
    }

    async fn send_once(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Result<Zeroizing<Vec<u8>>, ApiError> {
        let local = |e: JsValue| ApiError::new(ApiErrorKind::Internal, js::describe(&e));
        let headers = Headers::new().map_err(local)?;
        headers
            .set("Authorization", &format!("Bearer {}", self.token))
            .map_err(local)?;
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
        let window =
            web_sys::window().ok_or_else(|| ApiError::new(ApiErrorKind::Internal, "no window"))?;
        let url = format!("{}{path}", self.base);
        let response: Response = JsFuture::from(window.fetch_with_str_and_init(&url, &init))
            .await
            .map_err(|e| ApiError::new(ApiErrorKind::Network, js::describe(&e)))?
            .unchecked_into();
        let bytes = read_and_wipe(&response).await.map_err(|e| {
            ApiError::new(
                ApiErrorKind::Network,
                format!("the answer was cut off: {}", js::describe(&e)),
            )
        })?;
        let status = response.status();
        if (200..300).contains(&status) {
            return Ok(bytes);
        }
        let mut error = match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(body) => ApiError::new(kind_of(body.error.code), body.error.message),
            Err(_) => ApiError::new(kind_of_status(status), format!("HTTP {status}")),
        };
        error.retry_after_secs = response
            .headers()
            .get("Retry-After")
            .ok()
            .flatten()
            .and_then(|v| v.trim().parse().ok());
        Err(error)
    }
}

/// How long to wait before repeating a failed request, if it should be.
fn retry_delay(error: &ApiError, repeat: Repeat, attempt: u32) -> Option<u32> {
    let backoff = 500 * (1 << attempt);
    match error.kind {
        ApiErrorKind::RateLimited => match error.retry_after_secs {
            Some(secs) if secs > MAX_AUTOMATIC_WAIT_SECS => None,
            Some(secs) => Some(secs * 1000),
            None => Some(backoff),
        },
        ApiErrorKind::Unavailable => Some(backoff),
        ApiErrorKind::Network if repeat == Repeat::Safe => Some(backoff),
        _ => None,
    }
}

async fn read_and_wipe(response: &Response) -> Result<Zeroizing<Vec<u8>>, JsValue> {
    let buffer: ArrayBuffer = JsFuture::from(response.array_buffer()?)
        .await?
        .unchecked_into();
    let view = Uint8Array::new(&buffer);
    let bytes = Zeroizing::new(view.to_vec());
    view.fill(0, 0, view.length());
    Ok(bytes)
}

fn query(pairs: &[(&str, Option<&str>)]) -> String {
    let Ok(params) = UrlSearchParams::new() else {
        return String::new();
    };
    for (name, value) in pairs {
        if let Some(value) = value {
            params.append(name, value);
        }
    }
    params.to_string().into()
}
