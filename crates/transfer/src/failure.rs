//! What a failed request means: its [`FailureKind`] (which callers branch on:
//! exit codes, retries, what the UI offers), whether repeating it may help,
//! and the sentence a person is told. Broker answers are classified by their
//! stable error code, storage answers by status and S3 error code.
//!
//! Messages never contain credentials: presigned URLs are not part of any
//! failure, and server-provided text is cut short and stripped of control
//! characters.

use std::time::Duration;

use sealdrop_api::{ErrorBody, ErrorCode};
use serde::{Deserialize, Serialize};

/// Which side of a transfer failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Endpoint {
    /// The sealdrop broker (JSON API).
    Broker,
    /// Object storage, reached through presigned URLs.
    Storage,
}

/// The classes of failure clients act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    /// No, invalid, expired or revoked credentials (401).
    Unauthenticated,
    /// Authenticated but not allowed, or storage refused a request (403).
    Forbidden,
    /// No such object or upload (404).
    NotFound,
    /// The object exists, or changed meanwhile (409, 412).
    Conflict,
    /// A share link or file request that stopped working: expired, used
    /// up, revoked or closed (410); the detail says which.
    Ended,
    /// Over a size limit (413).
    TooLarge,
    /// The request is malformed or a value invalid (400 and other 4xx).
    Invalid,
    /// The object was modified, corrupted or copied: metadata, commitment,
    /// tag or length did not verify (422 or a local check).
    Integrity,
    /// Too many requests (429 from the broker); wait and repeat.
    RateLimited,
    /// A presigned request expired: sign it again.
    Expired,
    /// The server answered that it (or what it depends on) is failing or
    /// busy (5xx, 408, 429 from storage): repeat later.
    Unavailable,
    /// No answer at all: offline, DNS, TLS, refused or dropped connections, a
    /// stalled response.
    Unreachable,
    /// The file changed while it was uploaded.
    SourceChanged,
    /// Something local failed: the file, the disk, the browser's storage, the
    /// client's configuration.
    Local,
    /// A bug, or an answer that contradicts the protocol.
    Internal,
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Endpoint::Broker => "the broker",
            Endpoint::Storage => "storage",
        })
    }
}

impl FailureKind {
    /// Whether repeating the same request later may succeed.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            FailureKind::RateLimited | FailureKind::Unavailable | FailureKind::Unreachable
        )
    }
}

/// What the retry policy needs to know about any error.
pub trait Classify {
    /// The class.
    fn kind(&self) -> FailureKind;
    /// How long the server asked to wait, if it said.
    fn retry_after(&self) -> Option<Duration> {
        None
    }
    /// The request certainly had no effect (the connection was refused, or the
    /// server said it did not process it), so even a non-idempotent call may
    /// be repeated.
    fn unprocessed(&self) -> bool {
        false
    }
}

/// A failed request to the broker or to storage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// Who failed.
    pub endpoint: Endpoint,
    /// The class.
    pub kind: FailureKind,
    /// The HTTP status, if there was an answer.
    pub status: Option<u16>,
    /// The broker's error code (`not_found`) or S3's (`NoSuchUpload`).
    pub code: Option<String>,
    /// The server's message, short and plain (may be empty).
    pub detail: String,
    /// `Retry-After`, when the server sent one.
    pub retry_after_secs: Option<u64>,
    /// See [`Classify::unprocessed`].
    pub unprocessed: bool,
}

/// Longest piece of server text quoted in a message.
const DETAIL_LEN: usize = 200;

/// Server text fit for a message: one line, no control characters, short.
fn plain(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut cut: String = one_line
        .chars()
        .filter(|c| !c.is_control())
        .take(DETAIL_LEN)
        .collect();
    if one_line.chars().count() > DETAIL_LEN {
        cut.push('…');
    }
    cut
}

/// The text of the first `<name>…</name>` of an S3 XML error body.
fn xml_element(body: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = body.find(&open)? + open.len();
    let end = start + body[start..].find(&format!("</{name}>"))?;
    Some(plain(&body[start..end]))
}

fn parse_retry_after(value: Option<&str>) -> Option<u64> {
    value.and_then(|v| v.trim().parse().ok())
}

impl Failure {
    /// A broker answer with `status` and `body` (its JSON error, or anything
    /// else a proxy may have sent) and the `Retry-After` header.
    pub fn broker(status: u16, body: &[u8], retry_after: Option<&str>) -> Failure {
        let retry_after_secs = parse_retry_after(retry_after);
        match serde_json::from_slice::<ErrorBody>(body) {
            Ok(ErrorBody { error }) => Failure {
                endpoint: Endpoint::Broker,
                kind: kind_of_code(error.code),
                status: Some(status),
                code: Some(code_name(error.code)),
                detail: plain(&error.message),
                retry_after_secs,
                unprocessed: matches!(error.code, ErrorCode::RateLimited | ErrorCode::Unavailable),
            },
            Err(_) => {
                let text = plain(&String::from_utf8_lossy(body));
                Failure {
                    endpoint: Endpoint::Broker,
                    kind: kind_of_status(status),
                    status: Some(status),
                    code: None,
                    detail: if text.is_empty() {
                        format!("HTTP {status} without an API error body")
                    } else {
                        format!("HTTP {status} without an API error body: {text}")
                    },
                    retry_after_secs,
                    unprocessed: false,
                }
            }
        }
    }

    /// A storage answer with `status` and its (XML) `body`.
    pub fn storage(status: u16, body: &[u8], retry_after: Option<&str>) -> Failure {
        let text = String::from_utf8_lossy(body);
        let code = xml_element(&text, "Code").filter(|c| !c.is_empty());
        let message = xml_element(&text, "Message").unwrap_or_default();
        let detail = match (&code, message.is_empty()) {
            (None, true) => format!("HTTP {status}"),
            (Some(code), true) => format!("HTTP {status} {code}"),
            (Some(code), false) => format!("HTTP {status} {code}: {message}"),
            (None, false) => format!("HTTP {status}: {message}"),
        };
        let code_is = |name: &str| code.as_deref() == Some(name);
        let kind = match status {
            403 if code_is("ExpiredToken")
                || code_is("TokenRefreshRequired")
                || message.to_ascii_lowercase().contains("expired") =>
            {
                FailureKind::Expired
            }
            400 if code_is("RequestTimeout") => FailureKind::Unavailable,
            408 | 429 | 500..=599 => FailureKind::Unavailable,
            412 => FailureKind::Conflict,
            status => kind_of_status(status),
        };
        Failure {
            endpoint: Endpoint::Storage,
            kind,
            status: Some(status),
            code,
            detail,
            retry_after_secs: parse_retry_after(retry_after),
            unprocessed: false,
        }
    }

    /// No answer from `endpoint`. `refused`: the connection was refused, so
    /// the request certainly did not arrive.
    pub fn unreachable(endpoint: Endpoint, cause: &str, refused: bool) -> Failure {
        Failure {
            endpoint,
            kind: FailureKind::Unreachable,
            status: None,
            code: None,
            detail: plain(cause),
            retry_after_secs: None,
            unprocessed: refused,
        }
    }

    /// What a person is told: what happened and, where there is one, what to do.
    pub fn message(&self) -> String {
        let detail = if self.detail.is_empty() {
            String::new()
        } else {
            format!(" ({})", self.detail)
        };
        let d = &self.detail;
        match (self.endpoint, self.kind) {
            (_, FailureKind::Unauthenticated) => format!(
                "Not signed in: the token or session is missing, wrong, expired or revoked{detail}. Sign in again."
            ),
            (Endpoint::Broker, FailureKind::Forbidden) => format!("Not allowed: {d}"),
            (Endpoint::Storage, FailureKind::Forbidden) => {
                format!("Storage refused the request{detail}")
            }
            (Endpoint::Broker, FailureKind::NotFound) => format!("Not found: {d}"),
            (Endpoint::Storage, FailureKind::NotFound)
                if self.code.as_deref() == Some("NoSuchUpload") =>
            {
                "The upload no longer exists on storage: it was aborted or expired".to_owned()
            }
            (Endpoint::Storage, FailureKind::NotFound) => {
                format!("The object is no longer on storage{detail}")
            }
            (Endpoint::Broker, FailureKind::Conflict | FailureKind::Invalid) => d.clone(),
            (Endpoint::Storage, FailureKind::Conflict) => {
                format!("The object changed on storage meanwhile{detail}")
            }
            (Endpoint::Storage, FailureKind::Invalid) => {
                format!("Storage rejected the request{detail}")
            }
            (Endpoint::Broker, FailureKind::Ended) => format!("This link no longer works: {d}"),
            (Endpoint::Storage, FailureKind::Ended) => {
                format!("The object is gone from storage{detail}")
            }
            (_, FailureKind::TooLarge) => format!("Too large: {d}"),
            (_, FailureKind::Integrity) => format!(
                "Integrity check failed — the object's encryption metadata was modified or does not belong to it; nothing was saved{detail}"
            ),
            (_, FailureKind::RateLimited) => match self.retry_after_secs {
                Some(secs) => format!("Too many requests — try again in {secs} s."),
                None => "Too many requests — try again in a moment.".to_owned(),
            },
            (_, FailureKind::Expired) => format!("The storage link expired{detail}"),
            (Endpoint::Broker, FailureKind::Unavailable) => format!(
                "Storage or the key service is unavailable right now; try again shortly{detail}"
            ),
            (Endpoint::Storage, FailureKind::Unavailable) => {
                format!("Storage is failing or busy{detail}")
            }
            (Endpoint::Broker, FailureKind::Unreachable) => format!(
                "Cannot reach the sealdrop server{detail}. Check the connection and try again."
            ),
            (Endpoint::Storage, FailureKind::Unreachable) => format!(
                "Cannot reach storage{detail}: offline, or storage does not allow this site (check its CORS settings)"
            ),
            (_, FailureKind::SourceChanged | FailureKind::Local) => d.clone(),
            (Endpoint::Broker, FailureKind::Internal) => format!("The server failed: {d}"),
            (Endpoint::Storage, FailureKind::Internal) => {
                format!("Storage answered unexpectedly{detail}")
            }
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for Failure {}

impl Classify for Failure {
    fn kind(&self) -> FailureKind {
        self.kind
    }

    fn retry_after(&self) -> Option<Duration> {
        self.retry_after_secs.map(Duration::from_secs)
    }

    fn unprocessed(&self) -> bool {
        self.unprocessed
    }
}

/// The class of a broker error code.
pub fn kind_of_code(code: ErrorCode) -> FailureKind {
    match code {
        ErrorCode::BadRequest | ErrorCode::InvalidName => FailureKind::Invalid,
        ErrorCode::Unauthenticated => FailureKind::Unauthenticated,
        ErrorCode::Forbidden => FailureKind::Forbidden,
        ErrorCode::NotFound => FailureKind::NotFound,
        ErrorCode::Conflict => FailureKind::Conflict,
        ErrorCode::Gone => FailureKind::Ended,
        ErrorCode::TooLarge => FailureKind::TooLarge,
        ErrorCode::IntegrityError => FailureKind::Integrity,
        ErrorCode::RateLimited => FailureKind::RateLimited,
        ErrorCode::UpstreamError | ErrorCode::Unavailable => FailureKind::Unavailable,
        ErrorCode::Internal => FailureKind::Internal,
    }
}

/// The class of a bare HTTP status.
pub fn kind_of_status(status: u16) -> FailureKind {
    match status {
        401 => FailureKind::Unauthenticated,
        403 => FailureKind::Forbidden,
        404 => FailureKind::NotFound,
        409 | 412 => FailureKind::Conflict,
        410 => FailureKind::Ended,
        413 => FailureKind::TooLarge,
        422 => FailureKind::Integrity,
        429 => FailureKind::RateLimited,
        408 | 502..=504 => FailureKind::Unavailable,
        400..=499 => FailureKind::Invalid,
        _ => FailureKind::Internal,
    }
}

/// The wire name of an error code (`integrity_error`), as the API documents it.
pub fn code_name(code: ErrorCode) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{code:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_errors_classify_by_code() {
        let f = Failure::broker(
            422,
            br#"{"error":{"code":"integrity_error","message":"context names another object"}}"#,
            None,
        );
        assert_eq!(f.kind, FailureKind::Integrity);
        assert_eq!(f.code.as_deref(), Some("integrity_error"));
        assert!(!f.kind.is_transient());
        assert!(f.message().contains("context names another object"));
        let limited = Failure::broker(
            429,
            br#"{"error":{"code":"rate_limited","message":"slow down"}}"#,
            Some("3"),
        );
        assert!(limited.kind.is_transient() && limited.unprocessed());
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(3)));
        assert_eq!(limited.message(), "Too many requests — try again in 3 s.");
    }

    #[test]
    fn a_proxy_page_is_classified_by_status_and_quoted_briefly() {
        let f = Failure::broker(502, b"<html>\n  bad gateway </html>", None);
        assert_eq!(f.kind, FailureKind::Unavailable);
        assert!(!f.unprocessed(), "a 502 may have been processed");
        assert_eq!(
            f.detail,
            "HTTP 502 without an API error body: <html> bad gateway </html>"
        );
        let long = Failure::broker(500, &[b'x'; 300], None);
        assert!(long.detail.chars().count() < 260);
    }

    #[test]
    fn storage_errors_classify_as_s3_documents() {
        let expired = Failure::storage(
            403,
            b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
            None,
        );
        assert_eq!(expired.kind, FailureKind::Expired);
        let denied = Failure::storage(
            403,
            b"<Error><Code>SignatureDoesNotMatch</Code></Error>",
            None,
        );
        assert_eq!(denied.kind, FailureKind::Forbidden);
        assert!(denied.message().contains("SignatureDoesNotMatch"));
        let busy = Failure::storage(503, b"<Error><Code>SlowDown</Code></Error>", Some("3"));
        assert!(busy.kind.is_transient());
        assert_eq!(busy.retry_after(), Some(Duration::from_secs(3)));
        for status in [500, 502, 504, 408, 429] {
            assert!(
                Failure::storage(status, b"", None).kind.is_transient(),
                "{status}"
            );
        }
        let timeout = Failure::storage(400, b"<Code>RequestTimeout</Code>", None);
        assert!(timeout.kind.is_transient());
        let gone = Failure::storage(404, b"<Code>NoSuchUpload</Code>", None);
        assert_eq!(gone.kind, FailureKind::NotFound);
        assert!(gone.message().contains("aborted or expired"));
        assert_eq!(Failure::storage(400, b"", None).kind, FailureKind::Invalid);
        assert_eq!(Failure::storage(412, b"", None).kind, FailureKind::Conflict);
    }

    #[test]
    fn no_answer_is_transient_and_refusal_certainly_unprocessed() {
        let dropped = Failure::unreachable(Endpoint::Storage, "connection reset", false);
        assert!(dropped.kind.is_transient() && !dropped.unprocessed());
        assert!(dropped.message().contains("CORS"));
        assert!(Failure::unreachable(Endpoint::Broker, "refused", true).unprocessed());
    }

    #[test]
    fn server_text_cannot_inject_lines_or_markup_noise() {
        let f = Failure::storage(403, b"<Code>X</Code><Message>a\r\nb\x07c</Message>", None);
        assert!(!f.message().contains('\n') && !f.message().contains('\x07'));
    }
}
