//! What a failed storage request in a worker means, and whether to repeat
//! it: the transfer core classifies storage answers and decides retries (the
//! same rules as the CLI); this module adapts them to the worker protocol.

use sealdrop_transfer::{Classify, Endpoint, Failure, FailureKind, Idempotence, RetryPolicy};

use crate::protocol::{FailureKind as JobFailureKind, JobError};

/// A failed storage request: an answer (or none) the core classified, or a
/// local failure no retry can fix (cancelled, a browser error).
pub enum StorageFailure {
    /// Classified by the transfer core.
    Remote(Failure),
    /// Local, final.
    Local(JobError),
}

impl StorageFailure {
    /// A failure that retrying cannot fix.
    pub fn fatal(error: JobError) -> Self {
        StorageFailure::Local(error)
    }

    /// Storage answered `status` with `body`.
    pub fn answer(status: u16, body: &str, retry_after: Option<&str>) -> Self {
        StorageFailure::Remote(Failure::storage(status, body.as_bytes(), retry_after))
    }

    /// No answer at all. Browsers do not say why (a network error, or a
    /// response CORS hides look the same).
    pub fn no_answer() -> Self {
        StorageFailure::Remote(Failure::unreachable(Endpoint::Storage, "", false))
    }

    /// What the page is told.
    pub fn into_job_error(self) -> JobError {
        match self {
            StorageFailure::Remote(failure) => {
                JobError::new(JobFailureKind::Transfer(failure.kind), failure.message())
            }
            StorageFailure::Local(error) => error,
        }
    }

    /// For the console.
    pub fn describe(&self) -> String {
        match self {
            StorageFailure::Remote(failure) => failure.message(),
            StorageFailure::Local(error) => error.message.clone(),
        }
    }
}

impl Classify for StorageFailure {
    fn kind(&self) -> FailureKind {
        match self {
            StorageFailure::Remote(failure) => failure.kind,
            StorageFailure::Local(_) => FailureKind::Local,
        }
    }

    fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            StorageFailure::Remote(failure) => failure.retry_after(),
            StorageFailure::Local(_) => None,
        }
    }
}

/// Milliseconds to wait before attempt `attempt + 1` of a presigned request
/// (always the same bytes: idempotent), or `None` to report `failure`.
pub fn retry_delay_ms(failure: &StorageFailure, attempt: u32) -> Option<u32> {
    RetryPolicy::default()
        .next_delay(
            failure,
            Idempotence::Idempotent,
            attempt,
            js_sys::Math::random(),
        )
        .map(|d| u32::try_from(d.as_millis()).unwrap_or(u32::MAX))
}

/// Headers the browser sets itself and refuses from scripts; presigned requests
/// may list them (e.g. `host`, `content-length`) because they are signed.
pub fn is_forbidden_header(name: &str) -> bool {
    const FORBIDDEN: [&str; 21] = [
        "accept-charset",
        "accept-encoding",
        "access-control-request-headers",
        "access-control-request-method",
        "connection",
        "content-length",
        "cookie",
        "cookie2",
        "date",
        "dnt",
        "expect",
        "host",
        "keep-alive",
        "origin",
        "referer",
        "set-cookie",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "via",
    ];
    let name = name.to_ascii_lowercase();
    FORBIDDEN.contains(&name.as_str()) || name.starts_with("proxy-") || name.starts_with("sec-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn signed_browser_headers_are_skipped() {
        assert!(is_forbidden_header("Host"));
        assert!(is_forbidden_header("content-length"));
        assert!(!is_forbidden_header("x-amz-meta-x-amz-c"));
        assert!(!is_forbidden_header("content-type"));
    }
}
