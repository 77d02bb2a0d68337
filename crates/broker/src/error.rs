//! The one error type of the API and how it becomes a response: a status, a
//! stable [`ErrorCode`] and a message for people, as JSON. Internal details go to
//! the log, never to the client; no message ever carries key material or tokens.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sealdrop_api::{ErrorBody, ErrorCode, ErrorDetail};
use sealdrop_state::StateError;
use serde::de::DeserializeOwned;

use crate::keys::KeyError;
use crate::policy::PolicyError;
use crate::storage::StorageError;

/// A failed API call.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: malformed request or invalid value.
    #[error("{0}")]
    BadRequest(String),
    /// 400: unacceptable object name.
    #[error("{0}")]
    InvalidName(String),
    /// 401: missing, invalid or revoked credentials.
    #[error("{0}")]
    Unauthenticated(String),
    /// 403: not allowed to touch this key.
    #[error("{0}")]
    Forbidden(String),
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 405.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 409.
    #[error("{0}")]
    Conflict(String),
    /// 410: a share link that stopped working (the message says why).
    #[error("{0}")]
    Gone(String),
    /// 413.
    #[error("{0}")]
    TooLarge(String),
    /// 422: the object's envelope does not check out.
    #[error("{0}")]
    Integrity(String),
    /// 429, with the seconds to wait.
    #[error("rate limit exceeded; retry in {0} s")]
    RateLimited(u64),
    /// 502: storage or KMS answered with an error.
    #[error("{0}")]
    Upstream(String),
    /// 503: storage or KMS unreachable.
    #[error("{0}")]
    Unavailable(String),
    /// 500: logged in full, reported generically.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::BadRequest(_) => ErrorCode::BadRequest,
            ApiError::InvalidName(_) => ErrorCode::InvalidName,
            ApiError::Unauthenticated(_) => ErrorCode::Unauthenticated,
            ApiError::Forbidden(_) => ErrorCode::Forbidden,
            ApiError::NotFound(_) => ErrorCode::NotFound,
            ApiError::MethodNotAllowed(_) => ErrorCode::BadRequest,
            ApiError::Conflict(_) => ErrorCode::Conflict,
            ApiError::Gone(_) => ErrorCode::Gone,
            ApiError::TooLarge(_) => ErrorCode::TooLarge,
            ApiError::Integrity(_) => ErrorCode::IntegrityError,
            ApiError::RateLimited(_) => ErrorCode::RateLimited,
            ApiError::Upstream(_) => ErrorCode::UpstreamError,
            ApiError::Unavailable(_) => ErrorCode::Unavailable,
            ApiError::Internal(_) => ErrorCode::Internal,
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::InvalidName(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Gone(_) => StatusCode::GONE,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Integrity(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Upstream(_) => StatusCode::BAD_GATEWAY,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(detail) = &self {
            tracing::error!(%detail, "internal error");
        }
        let status = self.status();
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message: self.to_string(),
            },
        };
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        match &self {
            ApiError::RateLimited(seconds) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*seconds));
            }
            ApiError::Unauthenticated(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        response
    }
}

/// The failures every authenticated route may answer with, documented once
/// for the OpenAPI document: a JSON [`ErrorBody`] with a stable code.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // describes responses; never constructed
pub enum Failures {
    /// Refused.
    #[response(status = "4XX", description = "Refused: see the error code")]
    Refused(ErrorBody),
    /// Storage or KMS.
    #[response(
        status = "5XX",
        description = "Storage or KMS failed or is unavailable"
    )]
    Failed(ErrorBody),
}

/// `axum::Json`, with rejections turned into [`ApiError`]s (413 for bodies over
/// the limit, 400 with the parser's message otherwise).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(JsonRejection::BytesRejection(e))
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                Err(ApiError::TooLarge("request body is too large".into()))
            }
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::BadRequest(
                "expected a JSON body with Content-Type: application/json".into(),
            )),
            Err(e) => Err(ApiError::BadRequest(e.body_text())),
        }
    }
}

/// `axum::extract::Query`, with rejections turned into 400s.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|e: QueryRejection| ApiError::BadRequest(e.body_text()))
    }
}

// Domain errors become HTTP here, once: handlers only use `?`.

impl From<PolicyError> for ApiError {
    fn from(e: PolicyError) -> ApiError {
        match e {
            PolicyError::InvalidName(_) => ApiError::InvalidName(e.to_string()),
            PolicyError::Forbidden { .. } => ApiError::Forbidden(e.to_string()),
            PolicyError::ContentType(_) => ApiError::BadRequest(e.to_string()),
        }
    }
}

// What storage and KMS say goes to the log, not to clients: their messages
// name ARNs, account ids, buckets and policies. Clients get the error code
// (storage) or what kind of failure it was, which is what they can act on.

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> ApiError {
        if matches!(
            e,
            StorageError::Upstream { .. } | StorageError::Unavailable(_)
        ) {
            tracing::warn!(error = %e, "storage request failed");
        }
        match e {
            StorageError::NotFound => ApiError::NotFound("no such object or upload".into()),
            StorageError::Unavailable(_) => {
                ApiError::Unavailable("storage is unreachable; try again later".into())
            }
            StorageError::Upstream { code, .. } => {
                let said = format!("storage refused the request ({code})");
                match code.as_str() {
                    "EntityTooSmall" => ApiError::BadRequest(said),
                    "InvalidPart" | "InvalidPartOrder" => ApiError::Conflict(said),
                    _ => ApiError::Upstream(said),
                }
            }
            StorageError::Invalid(_) => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<KeyError> for ApiError {
    fn from(e: KeyError) -> ApiError {
        if matches!(e, KeyError::Upstream(_) | KeyError::Unavailable(_)) {
            tracing::warn!(error = %e, "key service request failed");
        }
        match e {
            KeyError::Binding(_) | KeyError::Integrity(_) => ApiError::Integrity(e.to_string()),
            KeyError::WrongProvider(_) => ApiError::Conflict(e.to_string()),
            KeyError::Unavailable(_) => {
                ApiError::Unavailable("the key service is unreachable; try again later".into())
            }
            KeyError::Upstream(_) => ApiError::Upstream(
                "the key service refused the request; the broker's log has the details".into(),
            ),
            KeyError::Unsupported(_) => ApiError::BadRequest(e.to_string()),
            KeyError::Internal(_) => ApiError::Internal(e.to_string()),
        }
    }
}

// The database's location (host, database name) goes to the log only.
impl From<StateError> for ApiError {
    fn from(e: StateError) -> ApiError {
        match e {
            StateError::Unavailable { .. } => {
                tracing::warn!(error = %e, "state database request failed");
                ApiError::Unavailable("the state database is unreachable; try again later".into())
            }
            StateError::UserExists(_) => ApiError::Conflict(e.to_string()),
            StateError::NoSuchUser(_)
            | StateError::NoSuchToken(_)
            | StateError::NotUsersToken { .. } => ApiError::NotFound(e.to_string()),
            StateError::InvalidName(_) => ApiError::InvalidName(e.to_string()),
            StateError::InvalidInput(_) => ApiError::BadRequest(e.to_string()),
            StateError::NewerSchema { .. }
            | StateError::Migration { .. }
            | StateError::Import { .. }
            | StateError::Randomness => ApiError::Internal(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_details_stay_in_the_log() {
        let denied = "User: arn:aws:iam::123456789012:user/broker is not authorized to \
                      perform: s3:PutObject on resource: arn:aws:s3:::secret-bucket/x";
        let errors = [
            ApiError::from(StorageError::Upstream {
                code: "AccessDenied".into(),
                message: denied.into(),
            }),
            ApiError::from(StorageError::Upstream {
                code: "EntityTooSmall".into(),
                message: denied.into(),
            }),
            ApiError::from(StorageError::Unavailable(denied.into())),
            ApiError::from(KeyError::Upstream(format!(
                "AccessDeniedException: {denied}"
            ))),
            ApiError::from(KeyError::Unavailable(denied.into())),
        ];
        for error in errors {
            let said = error.to_string();
            assert!(
                !said.contains("arn:") && !said.contains("123456789012"),
                "{said}"
            );
        }
        let said = ApiError::from(StorageError::Upstream {
            code: "AccessDenied".into(),
            message: denied.into(),
        })
        .to_string();
        assert_eq!(said, "storage refused the request (AccessDenied)");
    }
}
