//! Sending presigned requests to storage exactly as they were signed.
//!
//! Every header of a [`PresignedRequest`] is part of its signature, and storage
//! rejects `x-amz-*` headers that are not: the request carries those headers,
//! `Content-Length`, and nothing else of note (reqwest adds only `accept`).

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt as _;
use reqwest::header::{CONTENT_LENGTH, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, RequestBuilder, Response};
use sealdrop_api::PresignedRequest;

use sealdrop_transfer::Failure;

use crate::error::{Endpoint, Error};
use crate::progress::Meter;

/// Request bodies are handed to the connection in pieces of this size, which is
/// also the granularity of upload progress.
const BODY_CHUNK: usize = 64 * 1024;

/// A part upload must not hang forever on a stalled connection, but its
/// duration depends on the link: allow a minute plus the time the body takes
/// at a slow 32 KiB/s.
fn upload_timeout(len: usize) -> Duration {
    Duration::from_secs(60 + (len / (32 * 1024)) as u64)
}

/// The request as presigned: method, URL and exactly the signed headers.
fn build(http: &reqwest::Client, request: &PresignedRequest) -> Result<RequestBuilder, Error> {
    let method = match request.method {
        sealdrop_api::PresignedMethod::Get => Method::GET,
        sealdrop_api::PresignedMethod::Put => Method::PUT,
    };
    let url = reqwest::Url::parse(&request.url)
        .map_err(|_| Error::Protocol("a presigned URL does not parse".into()))?;
    let mut headers = HeaderMap::with_capacity(request.headers.len());
    // A signed Content-Length is the length of the body `upload` sends; the
    // connection sets it from the body (as browsers do), never twice.
    for (name, value) in request
        .headers
        .iter()
        .filter(|(name, _)| !name.eq_ignore_ascii_case(CONTENT_LENGTH.as_str()))
    {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| Error::Protocol(format!("presigned header name {name:?}")))?;
        let value = HeaderValue::from_str(value).map_err(|_| {
            Error::Protocol(format!("presigned header {name} has an invalid value"))
        })?;
        headers.insert(name, value);
    }
    Ok(http.request(method, url).headers(headers))
}

/// Sends a presigned upload (`PUT` object or part) with `body`, reporting sent
/// bytes to `meter`. Returns the response headers (the part's `ETag`).
pub(crate) async fn upload(
    http: &reqwest::Client,
    request: &PresignedRequest,
    body: Bytes,
    meter: Meter,
    operation: &str,
) -> Result<HeaderMap, Error> {
    let len = body.len();
    let response = build(http, request)?
        // Set explicitly: a streamed body has no length of its own, and hyper
        // sends a Content-Length that is present instead of chunked encoding.
        .header(CONTENT_LENGTH, len)
        .timeout(upload_timeout(len))
        .body(metered_body(body, meter))
        .send()
        .await
        .map_err(|e| Error::network(Endpoint::Storage, e))?;
    let response = check(response, operation).await?;
    Ok(response.headers().clone())
}

/// Sends a presigned download (`GET`); the caller streams the body.
pub(crate) async fn download(
    http: &reqwest::Client,
    request: &PresignedRequest,
    operation: &str,
) -> Result<Response, Error> {
    let response = build(http, request)?
        .send()
        .await
        .map_err(|e| Error::network(Endpoint::Storage, e))?;
    check(response, operation).await
}

fn metered_body(body: Bytes, meter: Meter) -> reqwest::Body {
    if body.is_empty() {
        return reqwest::Body::from(body);
    }
    let chunks = (0..body.len()).step_by(BODY_CHUNK).map(move |start| {
        let end = (start + BODY_CHUNK).min(body.len());
        body.slice(start..end)
    });
    // `Bytes::slice` shares the buffer: re-sending a part copies nothing.
    let stream = futures::stream::iter(chunks).map(move |chunk| {
        meter.add(chunk.len() as u64);
        Ok::<_, Infallible>(chunk)
    });
    reqwest::Body::wrap_stream(stream)
}

/// Turns a storage error response into the core's classified [`Failure`].
async fn check(response: Response, operation: &str) -> Result<Response, Error> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    // The body of an error is small; if it cannot be read, the status says enough.
    let body = response.bytes().await.unwrap_or_default();
    let mut failure = Failure::storage(status.as_u16(), &body, retry_after.as_deref());
    failure.detail = format!("{operation}: {}", failure.detail);
    Err(Error::Remote(failure))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_links_get_more_time() {
        assert_eq!(upload_timeout(0), Duration::from_secs(60));
        assert_eq!(upload_timeout(8 << 20), Duration::from_secs(60 + 256));
    }
}
