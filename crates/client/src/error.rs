//! The client's error type, and the classification callers branch on
//! ([`ErrorKind`], [`Error::is_retryable`]).

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use sealdrop_api::ErrorCode;
use sealdrop_envelope::{DecryptError, KeyError, MetadataError, PartError};

/// Which side of a transfer an error came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// The sealdrop broker (JSON API).
    Broker,
    /// The object storage, reached through presigned URLs.
    Storage,
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Endpoint::Broker => "the broker",
            Endpoint::Storage => "storage",
        })
    }
}

/// Everything a client operation can fail with. Messages never contain key
/// material or presigned URLs (their query strings are credentials).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The client was given an unusable URL or token.
    #[error("invalid client configuration: {0}")]
    Config(String),
    /// The broker answered with a JSON error.
    #[error("{message} ({}, HTTP {status})", code_name(*code))]
    Api {
        /// HTTP status.
        status: u16,
        /// The stable error code.
        code: ErrorCode,
        /// The broker's message.
        message: String,
        /// `Retry-After`, when the broker sent one (rate limiting).
        retry_after: Option<Duration>,
    },
    /// The broker answered with something that is not its JSON API (a proxy's
    /// error page, a wrong URL).
    #[error("the broker answered HTTP {status} without an API error body: {detail}")]
    UnexpectedResponse {
        /// HTTP status.
        status: u16,
        /// What was wrong, with a short excerpt of the body.
        detail: String,
    },
    /// The broker or storage could not be reached, or the connection broke.
    #[error("cannot reach {endpoint}")]
    Network {
        /// Who could not be reached.
        endpoint: Endpoint,
        /// The transport error (without the URL).
        #[source]
        source: reqwest::Error,
    },
    /// A response stopped arriving.
    #[error("{endpoint} sent nothing for {after:?}")]
    Stalled {
        /// Who stalled.
        endpoint: Endpoint,
        /// How long nothing arrived.
        after: Duration,
    },
    /// Storage refused a presigned request.
    #[error(
        "storage answered HTTP {status} to {operation}{}",
        storage_detail(detail)
    )]
    Storage {
        /// HTTP status.
        status: u16,
        /// What was being done (`upload part 3`, `download`…).
        operation: String,
        /// S3's error code and message, if the body had them.
        detail: String,
    },
    /// The object's encryption metadata is invalid or unsupported.
    #[error("integrity check failed: {0}")]
    Metadata(#[from] MetadataError),
    /// The content or key did not authenticate: the object was modified or
    /// corrupted. No plaintext was kept.
    #[error(transparent)]
    Decrypt(#[from] DecryptError),
    /// Storage sent a different number of bytes than the object has.
    #[error("integrity check failed: storage sent {actual} bytes, the object has {expected}")]
    LengthMismatch {
        /// Bytes the object has.
        expected: u64,
        /// Bytes received.
        actual: u64,
    },
    /// A local file operation failed.
    #[error("{context}")]
    Io {
        /// What was being done, naming the path.
        context: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The file being uploaded grew or shrank while it was read.
    #[error("{source_name} changed while it was uploaded: expected {expected} bytes, {found}")]
    SourceChanged {
        /// The file (or `input`).
        source_name: String,
        /// Bytes announced when the upload started.
        expected: u64,
        /// What was found instead.
        found: String,
    },
    /// The destination of a download exists and replacing it was not asked for.
    #[error("{} already exists", .0.display())]
    DestinationExists(PathBuf),
    /// The broker's answer contradicts the API contract or itself.
    #[error("the broker sent an inconsistent response: {0}")]
    Protocol(String),
}

/// The classes of failure callers act on (exit codes, retries, messages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// No, invalid or expired credentials (401).
    Unauthenticated,
    /// Authenticated but not allowed (403, from the broker or storage).
    Forbidden,
    /// No such object or upload (404).
    NotFound,
    /// The object exists or state conflicts (409).
    Conflict,
    /// The object was modified, corrupted or copied: metadata, commitment, tag
    /// or length did not verify (422 or a local check).
    Integrity,
    /// The broker, storage or KMS is unreachable or unavailable (connection
    /// errors, 502, 503, 504).
    Unreachable,
    /// Anything else.
    Other,
}

impl Error {
    /// The class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Api { code, .. } => match code {
                ErrorCode::Unauthenticated => ErrorKind::Unauthenticated,
                ErrorCode::Forbidden => ErrorKind::Forbidden,
                ErrorCode::NotFound => ErrorKind::NotFound,
                ErrorCode::Conflict => ErrorKind::Conflict,
                ErrorCode::IntegrityError => ErrorKind::Integrity,
                ErrorCode::UpstreamError | ErrorCode::Unavailable => ErrorKind::Unreachable,
                ErrorCode::BadRequest
                | ErrorCode::InvalidName
                | ErrorCode::TooLarge
                | ErrorCode::RateLimited
                | ErrorCode::Internal => ErrorKind::Other,
            },
            Error::UnexpectedResponse { status, .. } | Error::Storage { status, .. } => {
                kind_of_status(*status)
            }
            Error::Network { .. } | Error::Stalled { .. } => ErrorKind::Unreachable,
            Error::Metadata(_) | Error::Decrypt(_) | Error::LengthMismatch { .. } => {
                ErrorKind::Integrity
            }
            Error::Config(_)
            | Error::Io { .. }
            | Error::SourceChanged { .. }
            | Error::DestinationExists(_)
            | Error::Protocol(_) => ErrorKind::Other,
        }
    }

    /// The HTTP status, for errors that came with one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. }
            | Error::UnexpectedResponse { status, .. }
            | Error::Storage { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The broker's error code, for API errors.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Api { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether sending the same request again may succeed: transport errors,
    /// throttling and server-side unavailability.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Network { .. } | Error::Stalled { .. } => true,
            Error::Api { code, .. } => matches!(
                code,
                ErrorCode::RateLimited | ErrorCode::Unavailable | ErrorCode::UpstreamError
            ),
            Error::Storage { status, .. } | Error::UnexpectedResponse { status, .. } => {
                matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
            }
            _ => false,
        }
    }

    /// Whether the request certainly never reached the server, so repeating
    /// even a non-idempotent call is safe.
    pub(crate) fn is_connect(&self) -> bool {
        matches!(self, Error::Network { source, .. } if source.is_connect())
    }

    /// How long the server asked to wait before retrying, if it said.
    pub(crate) fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// A transport error, stripped of the URL (presigned URLs carry credentials).
    pub(crate) fn network(endpoint: Endpoint, source: reqwest::Error) -> Self {
        Error::Network {
            endpoint,
            source: source.without_url(),
        }
    }

    /// A local I/O error, with what was being done.
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

impl From<KeyError> for Error {
    fn from(err: KeyError) -> Self {
        Error::Protocol(format!("unusable key material: {err}"))
    }
}

impl From<PartError> for Error {
    fn from(err: PartError) -> Self {
        Error::Protocol(format!("unusable multipart layout: {err}"))
    }
}

/// An error with its causes, on one line (`a: b: c`), for log messages.
pub(crate) fn with_causes(err: &dyn std::error::Error) -> String {
    let mut line = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        line.push_str(": ");
        line.push_str(&cause.to_string());
        source = cause.source();
    }
    line
}

fn kind_of_status(status: u16) -> ErrorKind {
    match status {
        401 => ErrorKind::Unauthenticated,
        403 => ErrorKind::Forbidden,
        404 => ErrorKind::NotFound,
        409 => ErrorKind::Conflict,
        422 => ErrorKind::Integrity,
        502..=504 => ErrorKind::Unreachable,
        _ => ErrorKind::Other,
    }
}

/// The wire name of an error code (`integrity_error`), as the API documents it.
fn code_name(code: ErrorCode) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{code:?}"))
}

fn storage_detail(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(": {detail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors_classify_by_code_and_print_the_wire_name() {
        let err = Error::Api {
            status: 422,
            code: ErrorCode::IntegrityError,
            message: "context names another object".into(),
            retry_after: None,
        };
        assert_eq!(err.kind(), ErrorKind::Integrity);
        assert!(!err.is_retryable());
        assert_eq!(
            err.to_string(),
            "context names another object (integrity_error, HTTP 422)"
        );
    }

    #[test]
    fn storage_statuses_classify_and_retry_as_s3_documents() {
        let storage = |status| Error::Storage {
            status,
            operation: "upload part 1".into(),
            detail: String::new(),
        };
        assert!(storage(503).is_retryable());
        assert!(storage(500).is_retryable());
        assert!(!storage(400).is_retryable());
        assert!(!storage(403).is_retryable());
        assert_eq!(storage(403).kind(), ErrorKind::Forbidden);
        assert_eq!(storage(503).kind(), ErrorKind::Unreachable);
        assert_eq!(storage(404).kind(), ErrorKind::NotFound);
    }
}
