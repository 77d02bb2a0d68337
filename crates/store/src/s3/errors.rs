//! How errors are answered: every [`StoreError`] and [`SseKeyError`] becomes exactly one S3
//! error code and status, here.

use http::StatusCode;
use s3s::{S3Error, S3ErrorCode, s3_error};

use crate::{SseKeyError, StoreError};

/// `412 PreconditionFailed`, for every precondition (`If-Match`, `If-None-Match`, the
/// `x-amz-copy-source-if-*` headers, the modified-since dates).
pub(super) fn precondition_failed() -> S3Error {
    s3_error!(
        PreconditionFailed,
        "At least one of the pre-conditions you specified did not hold"
    )
}

pub(super) fn custom_error(code: &str, status: StatusCode, msg: impl Into<String>) -> S3Error {
    let code = S3ErrorCode::from_bytes(code.as_bytes()).unwrap_or(S3ErrorCode::InternalError);
    let mut e = S3Error::with_message(code, msg.into());
    e.set_status_code(status);
    e
}

pub(super) fn kms_error(e: SseKeyError) -> S3Error {
    match e {
        SseKeyError::NotFound(id) => custom_error(
            "KMS.NotFoundException",
            StatusCode::BAD_REQUEST,
            format!("Key '{id}' does not exist"),
        ),
        SseKeyError::Disabled(id) => custom_error(
            "KMS.DisabledException",
            StatusCode::BAD_REQUEST,
            format!("Key '{id}' is disabled"),
        ),
        SseKeyError::InvalidCiphertext => custom_error(
            "KMS.InvalidCiphertextException",
            StatusCode::INTERNAL_SERVER_ERROR,
            "the object's data key could not be decrypted",
        ),
        SseKeyError::Other(_) => {
            tracing::warn!(error = %e, "key provider failure");
            custom_error(
                "KMS.KMSInternalException",
                StatusCode::INTERNAL_SERVER_ERROR,
                "key provider failure",
            )
        }
    }
}

impl From<StoreError> for S3Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NoSuchBucket => {
                s3_error!(NoSuchBucket, "The specified bucket does not exist")
            }
            StoreError::NoSuchKey => s3_error!(NoSuchKey, "The specified key does not exist."),
            StoreError::NoSuchUpload => s3_error!(
                NoSuchUpload,
                "The specified multipart upload does not exist. The upload ID might be invalid, or the multipart upload might have been aborted or completed."
            ),
            StoreError::BucketNotEmpty => s3_error!(
                BucketNotEmpty,
                "The bucket you tried to delete is not empty"
            ),
            StoreError::PreconditionFailed => precondition_failed(),
            StoreError::Conflict => s3_error!(
                OperationAborted,
                "A conflicting operation is in progress; retry"
            ),
            StoreError::Busy => s3_error!(SlowDown, "Please reduce your request rate."),
            StoreError::TooLarge => s3_error!(
                EntityTooLarge,
                "Your proposed upload exceeds the maximum allowed size"
            ),
            StoreError::InvalidPart(m) => S3Error::with_message(S3ErrorCode::InvalidPart, m),
            StoreError::InvalidPartOrder => {
                s3_error!(
                    InvalidPartOrder,
                    "The list of parts was not in ascending order. Parts must be ordered by part number."
                )
            }
            StoreError::EntityTooSmall => {
                s3_error!(
                    EntityTooSmall,
                    "Your proposed upload is smaller than the minimum allowed object size."
                )
            }
            StoreError::InvalidBucketName(_) => s3_error!(InvalidBucketName),
            StoreError::Body(m) => {
                tracing::debug!(error = %m, "request body failed");
                s3_error!(
                    IncompleteBody,
                    "The request body could not be read completely"
                )
            }
            StoreError::Kms(k) => kms_error(k),
            StoreError::Tampered => {
                tracing::error!("stored object data failed authentication");
                s3_error!(InternalError, "stored object data failed authentication")
            }
            other => {
                tracing::error!(error = %other, "internal error");
                s3_error!(
                    InternalError,
                    "We encountered an internal error. Please try again."
                )
            }
        }
    }
}
