//! The client's error type. What a failure means — its [`ErrorKind`], whether
//! it is worth repeating, what a person is told about an answer from the broker
//! or storage — is decided by `sealdrop-transfer`, the same rules the browser
//! app follows; this type adds what only a native client has (transport
//! errors with their causes, local files).

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use sealdrop_envelope::{DecryptError, KeyError, MetadataError, PartError};
use sealdrop_transfer::ledger::{Changed, LedgerError};
use sealdrop_transfer::{CallError, Classify, Failure, MaterialsError, PlanError};

pub use sealdrop_transfer::{Endpoint, FailureKind as ErrorKind};

/// Everything a client operation can fail with. Messages never contain key
/// material or presigned URLs (their query strings are credentials).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The client was given an unusable URL or token.
    #[error("invalid client configuration: {0}")]
    Config(String),
    /// The broker or storage answered with an error (classified and worded by
    /// `sealdrop-transfer`).
    #[error("{0}")]
    Remote(Failure),
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
    /// The object's encryption metadata is invalid or unsupported.
    #[error("integrity check failed: {0}")]
    Metadata(#[from] MetadataError),
    /// The content or key did not authenticate: the object was modified or
    /// corrupted. No plaintext was kept.
    #[error(transparent)]
    Decrypt(#[from] DecryptError),
    /// The object's key material does not verify (e.g. its key commitment).
    #[error("{0}")]
    Integrity(String),
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

impl Error {
    /// The class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Remote(failure) => failure.kind,
            Error::Network { .. } | Error::Stalled { .. } => ErrorKind::Unreachable,
            Error::Metadata(_)
            | Error::Decrypt(_)
            | Error::Integrity(_)
            | Error::LengthMismatch { .. } => ErrorKind::Integrity,
            Error::SourceChanged { .. } => ErrorKind::SourceChanged,
            Error::DestinationExists(_) => ErrorKind::Conflict,
            Error::Config(_) | Error::Io { .. } => ErrorKind::Local,
            Error::Protocol(_) => ErrorKind::Internal,
        }
    }

    /// The HTTP status, for errors that came with one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Remote(failure) => failure.status,
            _ => None,
        }
    }

    /// The broker's or storage's error code (`not_found`, `NoSuchUpload`).
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Remote(failure) => failure.code.as_deref(),
            _ => None,
        }
    }

    /// Whether sending the same request again may succeed.
    pub fn is_retryable(&self) -> bool {
        self.kind().is_transient()
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

impl Classify for Error {
    fn kind(&self) -> ErrorKind {
        Error::kind(self)
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Remote(failure) => failure.retry_after(),
            _ => None,
        }
    }

    fn unprocessed(&self) -> bool {
        match self {
            Error::Remote(failure) => failure.unprocessed(),
            // Refused: the request never arrived.
            Error::Network { source, .. } => source.is_connect(),
            _ => false,
        }
    }
}

impl From<Failure> for Error {
    fn from(failure: Failure) -> Self {
        Error::Remote(failure)
    }
}

/// The transfer core's refusals of what the broker answered: protocol
/// errors, reported with the core's own words.
macro_rules! protocol_errors {
    ($($error:ty),*) => {$(
        impl From<$error> for Error {
            fn from(err: $error) -> Self {
                Error::Protocol(err.to_string())
            }
        }
    )*};
}
protocol_errors!(PlanError, CallError, LedgerError, Changed);

impl From<MaterialsError> for Error {
    fn from(err: MaterialsError) -> Self {
        match err {
            MaterialsError::Inconsistent(why) => Error::Protocol(format!("key material: {why}")),
            integrity @ MaterialsError::Integrity(_) => Error::Integrity(integrity.to_string()),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_failures_keep_the_core_classification() {
        let err = Error::from(Failure::broker(
            422,
            br#"{"error":{"code":"integrity_error","message":"context names another object"}}"#,
            None,
        ));
        assert_eq!(err.kind(), ErrorKind::Integrity);
        assert!(!err.is_retryable());
        assert_eq!(err.code(), Some("integrity_error"));
        assert!(err.to_string().contains("context names another object"));
        let busy = Error::from(Failure::storage(503, b"", None));
        assert!(busy.is_retryable());
        assert_eq!(busy.kind(), ErrorKind::Unavailable);
    }
}
