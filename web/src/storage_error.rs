//! What a storage (S3) response means for the user, and whether to retry.
//! Used by the workers for presigned uploads and downloads.

use crate::protocol::{FailureKind, JobError};

/// A failed storage request: the error, and a retry delay hint when the failure
/// is transient.
pub struct StorageFailure {
    /// What to report if no retry helps.
    pub error: JobError,
    /// `Some` if retrying may help: the server's `Retry-After` in ms, or 0.
    pub retry_after_ms: Option<u32>,
}

impl StorageFailure {
    /// A failure that retrying cannot fix.
    pub fn fatal(error: JobError) -> Self {
        StorageFailure {
            error,
            retry_after_ms: None,
        }
    }

    fn transient(kind: FailureKind, message: String, retry_after_ms: u32) -> Self {
        StorageFailure {
            error: JobError::new(kind, message),
            retry_after_ms: Some(retry_after_ms),
        }
    }
}

/// Exponential backoff with jitter: 0.5 s, 1 s, 2 s, … capped at 16 s, or the
/// server's hint if it is longer (capped at 60 s).
pub fn backoff_ms(attempt: u32, hint_ms: u32) -> u32 {
    let exponential = 500u32.saturating_mul(1 << attempt.min(5)).min(16_000);
    let jitter = (js_sys::Math::random() * 250.0) as u32;
    exponential.max(hint_ms.min(60_000)) + jitter
}

/// Classifies a storage response (`status` 0: no response at all).
pub fn classify(status: u16, body: &str, retry_after: Option<&str>) -> StorageFailure {
    let code = xml_element(body, "Code").unwrap_or_default();
    let message = xml_element(body, "Message").unwrap_or_default();
    let detail = match (code.is_empty(), message.is_empty()) {
        (true, true) => format!("HTTP {status}"),
        (false, true) => format!("HTTP {status} {code}"),
        (_, false) => format!("HTTP {status} {code}: {message}"),
    };
    let retry_after_ms = retry_after
        .and_then(|v| v.trim().parse::<u32>().ok())
        .map_or(0, |s| s.saturating_mul(1000));
    match status {
        0 => StorageFailure::transient(
            FailureKind::Unreachable,
            "Storage is unreachable (network error, or storage does not allow this site — check its CORS settings)".into(),
            0,
        ),
        403 if is_expiry(&code, &message) => StorageFailure::fatal(JobError::new(
            FailureKind::Expired,
            format!("The storage link expired ({detail})"),
        )),
        403 => StorageFailure::fatal(JobError::new(
            FailureKind::Refused,
            format!("Storage refused the request ({detail})"),
        )),
        404 if code == "NoSuchUpload" => StorageFailure::fatal(JobError::new(
            FailureKind::Refused,
            "The upload no longer exists on storage (it was aborted or expired)",
        )),
        404 => StorageFailure::fatal(JobError::new(
            FailureKind::Refused,
            format!("The object no longer exists on storage ({detail})"),
        )),
        400 if code == "RequestTimeout" => StorageFailure::transient(
            FailureKind::Storage,
            format!("Storage timed out ({detail})"),
            0,
        ),
        408 | 429 | 500..=599 => StorageFailure::transient(
            FailureKind::Storage,
            format!("Storage is failing or busy ({detail})"),
            retry_after_ms,
        ),
        _ => StorageFailure::fatal(JobError::new(
            FailureKind::Refused,
            format!("Storage rejected the request ({detail})"),
        )),
    }
}

fn is_expiry(code: &str, message: &str) -> bool {
    code == "ExpiredToken"
        || code == "TokenRefreshRequired"
        || message.to_ascii_lowercase().contains("expired")
}

/// The text of the first `<name>…</name>` in an S3 XML error body.
fn xml_element(body: &str, name: &str) -> Option<String> {
    let start = body.find(&format!("<{name}>"))? + name.len() + 2;
    let end = start + body[start..].find(&format!("</{name}>"))?;
    let text = body[start..end].trim();
    // Keep messages short and free of markup.
    Some(text.chars().filter(|c| !c.is_control()).take(200).collect())
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
    fn s3_errors_are_classified() {
        let expired = classify(
            403,
            "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
            None,
        );
        assert_eq!(expired.error.kind, FailureKind::Expired);
        assert!(expired.retry_after_ms.is_none());
        let denied = classify(
            403,
            "<Error><Code>SignatureDoesNotMatch</Code></Error>",
            None,
        );
        assert_eq!(denied.error.kind, FailureKind::Refused);
        assert!(denied.error.message.contains("SignatureDoesNotMatch"));
        let busy = classify(503, "<Error><Code>SlowDown</Code></Error>", Some("3"));
        assert_eq!(busy.retry_after_ms, Some(3000));
        assert_eq!(classify(0, "", None).error.kind, FailureKind::Unreachable);
        assert_eq!(
            classify(404, "<Code>NoSuchUpload</Code>", None).error.kind,
            FailureKind::Refused
        );
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn signed_browser_headers_are_skipped() {
        assert!(is_forbidden_header("Host"));
        assert!(is_forbidden_header("content-length"));
        assert!(!is_forbidden_header("x-amz-meta-x-amz-c"));
        assert!(!is_forbidden_header("content-type"));
    }
}
