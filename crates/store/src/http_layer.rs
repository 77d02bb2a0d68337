//! HTTP plumbing around s3s: the signed-header guard, request ids, CORS, and `serve`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use s3s::Body;
use s3s::auth::{S3Auth, SecretKey};
use s3s::service::{S3Service, S3ServiceBuilder};
use s3s::{S3Result, s3_error};
use tower::Service;
use tower_http::cors::{AllowHeaders, AllowOrigin, Cors, CorsLayer};

use crate::Inner;

/// Headers exposed to browsers by CORS.
const EXPOSE: [&str; 6] = [
    "etag",
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-request-id",
    "content-length",
    "content-range",
];

/// A request body the store's services take: bytes, with an error s3s can report.
/// Implemented for every such body.
pub trait RequestBody:
    http_body::Body<Data = Bytes, Error: std::error::Error + Send + Sync + 'static> + Send + 'static
{
}

impl<B> RequestBody for B where
    B: http_body::Body<Data = Bytes, Error: std::error::Error + Send + Sync + 'static>
        + Send
        + 'static
{
}

/// The store's HTTP service: CORS → signed-header guard → s3s. Cheap to clone.
///
/// Implements `tower::Service<http::Request<B>>` (for any [`RequestBody`] `B`,
/// `Error = Infallible`) and `hyper::service::Service<http::Request<hyper::body::Incoming>>`.
#[derive(Clone)]
pub struct StoreService {
    inner: Cors<Guard>,
}

impl std::fmt::Debug for StoreService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreService").finish_non_exhaustive()
    }
}

impl<B: RequestBody> Service<Request<B>> for StoreService {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = tower_http::cors::ResponseFuture<GuardFuture>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Service::<Request<B>>::poll_ready(&mut self.inner, cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        self.inner.call(req)
    }
}

/// What the listener hands over: bodies that fail when the client goes quiet.
type ListenerRequest = Request<sealdrop_http::body::IdleTimeout<hyper::body::Incoming>>;

impl hyper::service::Service<ListenerRequest> for StoreService {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = tower_http::cors::ResponseFuture<GuardFuture>;

    fn call(&self, req: ListenerRequest) -> Self::Future {
        let mut inner = self.inner.clone();
        inner.call(req)
    }
}

/// What the guard answers with: s3s's response, or the guard's own refusal (never an error).
type GuardFuture = BoxFuture<'static, Result<Response<Body>, Infallible>>;

/// Rejects requests that s3s would accept but we must not, then calls s3s.
#[derive(Clone)]
pub(crate) struct Guard {
    s3: S3Service,
    region: Arc<str>,
}

impl<B: RequestBody> Service<Request<B>> for Guard {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = GuardFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let request_id = new_request_id();
        if let Err((status, code, message)) = check_request(&req, &self.region) {
            tracing::debug!(code, message, "request refused by guard");
            let resp = error_response(
                status,
                code,
                message,
                &request_id,
                req.method() == Method::HEAD,
            );
            return Box::pin(async move { Ok(resp) });
        }
        let fut = Service::<Request<B>>::call(&mut self.s3, req);
        Box::pin(async move {
            let mut resp = match fut.await {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(error = ?e, "s3s service error");
                    error_response(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "InternalError",
                        "internal error",
                        &request_id,
                        false,
                    )
                }
            };
            if let Ok(v) = HeaderValue::from_str(&request_id) {
                resp.headers_mut().insert("x-amz-request-id", v);
            }
            Ok(resp)
        })
    }
}

fn new_request_id() -> String {
    let mut b = [0u8; 8];
    if getrandom::fill(&mut b).is_err() {
        return "0000000000000000".to_owned();
    }
    hex::encode_upper(b)
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn error_response(
    status: StatusCode,
    code: &str,
    message: &str,
    request_id: &str,
    head: bool,
) -> Response<Body> {
    let body = if head {
        Body::empty()
    } else {
        Body::from(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message><RequestId>{}</RequestId></Error>",
            xml_escape(code),
            xml_escape(message),
            request_id
        ))
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    if let Ok(v) = HeaderValue::from_str(request_id) {
        resp.headers_mut().insert("x-amz-request-id", v);
    }
    resp
}

/// Longest presigned URL lifetime S3 accepts (7 days).
const MAX_PRESIGN_SECS: u64 = 604_800;

type Refusal = (StatusCode, &'static str, &'static str);

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex_val(bytes[i + 1]), hex_val(bytes[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        if bytes[i] == b'+' {
            out.push(b' ');
        } else {
            out.push(bytes[i]);
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (percent_decode(k) == name).then(|| percent_decode(v))
    })
}

/// Region of a SigV4 credential `AKID/DATE/REGION/SERVICE/aws4_request`.
fn credential_region(credential: &str) -> Option<&str> {
    let mut parts = credential.rsplitn(4, '/');
    let _terminator = parts.next()?;
    let _service = parts.next()?;
    parts.next()
}

/// Every `x-amz-*` header of the request must be among the signed headers.
fn check_signed<B>(req: &Request<B>, signed: &str) -> Result<(), Refusal> {
    let signed: Vec<&str> = signed.split(';').map(str::trim).collect();
    for name in req.headers().keys() {
        let n = name.as_str();
        if n.starts_with("x-amz-") && !signed.contains(&n) {
            return Err((
                StatusCode::FORBIDDEN,
                "AccessDenied",
                "There were headers present in the request which were not signed",
            ));
        }
    }
    Ok(())
}

pub(crate) fn check_request<B>(req: &Request<B>, region: &str) -> Result<(), Refusal> {
    let query = req.uri().query().unwrap_or("");
    let has_query = |name: &str| query_param(query, name).is_some();
    let auth = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());

    // Signature Version 2 (header or query) is refused: SigV4 only.
    if auth.is_some_and(|a| a.starts_with("AWS "))
        || (has_query("Signature") && has_query("AWSAccessKeyId"))
    {
        return Err((
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Signature Version 2 is not supported; use SigV4",
        ));
    }

    if has_query("X-Amz-Signature") {
        let signed = query_param(query, "X-Amz-SignedHeaders").unwrap_or_default();
        check_signed(req, &signed)?;
        let expires = query_param(query, "X-Amz-Expires").and_then(|e| e.parse::<u64>().ok());
        if expires.is_none_or(|e| e > MAX_PRESIGN_SECS) {
            return Err((
                StatusCode::BAD_REQUEST,
                "AuthorizationQueryParametersError",
                "X-Amz-Expires must be a number of seconds between 0 and 604800 (7 days)",
            ));
        }
        let credential = query_param(query, "X-Amz-Credential").unwrap_or_default();
        if credential_region(&credential).is_some_and(|r| r != region) {
            return Err((
                StatusCode::BAD_REQUEST,
                "AuthorizationQueryParametersError",
                "the credential scope names a region this store does not serve",
            ));
        }
        return Ok(());
    }

    if let Some(a) = auth
        && let Some(rest) = a.strip_prefix("AWS4-HMAC-SHA256")
    {
        let mut signed = None;
        let mut credential = None;
        for part in rest.split(',') {
            let part = part.trim();
            if let Some(v) = part.strip_prefix("SignedHeaders=") {
                signed = Some(v);
            } else if let Some(v) = part.strip_prefix("Credential=") {
                credential = Some(v);
            }
        }
        check_signed(req, signed.unwrap_or(""))?;
        if credential
            .and_then(credential_region)
            .is_some_and(|r| r != region)
        {
            return Err((
                StatusCode::BAD_REQUEST,
                "AuthorizationHeaderMalformed",
                "the credential scope names a region this store does not serve",
            ));
        }
    }
    // Unsigned requests go on to s3s, which refuses them (AccessDenied) because an auth
    // provider is configured; POST policy uploads are refused by the S3 implementation.
    Ok(())
}

/// The configured access key → secret pairs; unknown keys get S3's `InvalidAccessKeyId`.
struct Credentials {
    map: HashMap<String, SecretKey>,
}

#[async_trait::async_trait]
impl S3Auth for Credentials {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        self.map.get(access_key).cloned().ok_or_else(|| {
            s3_error!(
                InvalidAccessKeyId,
                "The AWS Access Key Id you provided does not exist in our records."
            )
        })
    }
}

pub(crate) fn build_service(inner: Arc<Inner>) -> StoreService {
    let auth = Credentials {
        map: inner
            .config
            .credentials
            .iter()
            .map(|(ak, sk)| (ak.clone(), SecretKey::from(sk.as_str())))
            .collect(),
    };
    let region: Arc<str> = Arc::from(inner.config.region.as_str());
    let origins = inner.config.cors_origins.clone();
    let mut builder = S3ServiceBuilder::new(crate::s3::S3Impl::new(inner));
    builder.set_auth(auth);
    let s3 = builder.build();
    let guard = Guard { s3, region };

    let allow_origin = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok()),
        )
    };
    let cors = CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([
            Method::GET,
            Method::PUT,
            Method::POST,
            Method::DELETE,
            Method::HEAD,
        ])
        // content-type, content-md5 and any x-amz-* (signed metadata, SSE, checksums): the
        // signature, not CORS, decides what a request may carry.
        .allow_headers(AllowHeaders::mirror_request())
        .expose_headers(EXPOSE.map(http::HeaderName::from_static))
        .max_age(Duration::from_secs(3600));
    StoreService {
        inner: tower::Layer::layer(&cors, guard),
    }
}

pub(crate) async fn serve(
    svc: StoreService,
    listener: tokio::net::TcpListener,
    limits: sealdrop_http::Limits,
) -> std::io::Result<()> {
    sealdrop_http::serve(listener, svc, limits, std::future::pending()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the guard answers to a request for `uri` with `headers`, for a store in
    /// `us-east-1`: `Ok` or the refusal's status.
    fn guard(uri: &str, headers: &[(&str, &str)]) -> Result<(), StatusCode> {
        let mut req = Request::builder().uri(uri);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let req = req.body(()).unwrap();
        check_request(&req, "us-east-1").map_err(|refusal| refusal.0)
    }

    #[test]
    fn unsigned_amz_header_on_presigned_is_refused() {
        assert_eq!(
            guard(
                "/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=60&X-Amz-Credential=AK%2F20250101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-SignedHeaders=host%3Bx-amz-meta-a&X-Amz-Signature=00",
                &[("x-amz-meta-a", "1")],
            ),
            Ok(())
        );
        assert_eq!(
            guard(
                "/b/k?X-Amz-Expires=60&X-Amz-Credential=AK%2F20250101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-SignedHeaders=host&X-Amz-Signature=00",
                &[("x-amz-meta-x", "1")],
            ),
            Err(StatusCode::FORBIDDEN)
        );
        assert_eq!(
            guard(
                "/b/k?X-Amz-Expires=60&X-Amz-Credential=AK%2F20250101%2Feu-west-1%2Fs3%2Faws4_request&X-Amz-SignedHeaders=host&X-Amz-Signature=00",
                &[],
            ),
            Err(StatusCode::BAD_REQUEST)
        );
    }

    #[test]
    fn presign_lifetime_limited() {
        assert_eq!(
            guard(
                "/b/k?X-Amz-Expires=604801&X-Amz-Credential=AK%2F20250101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-SignedHeaders=host&X-Amz-Signature=00",
                &[],
            ),
            Err(StatusCode::BAD_REQUEST)
        );
    }

    #[test]
    fn sigv2_refused() {
        assert!(guard("/b/k", &[("authorization", "AWS AK:sig")]).is_err());
    }
}
