//! File requests: a link `<broker>/r/<id>#<secret>` that lets anyone who has
//! it upload into the owner's `inbox/<request name>/`, without seeing, listing
//! or reading anything there.
//!
//! Whoever holds the link uploads through the ordinary upload routes
//! (`/api/v1/uploads…`) with `Authorization: Bearer sdr_<id>.<secret>`
//! ([`request_bearer`]): such a caller may only create new objects under the
//! request's folder, within its limits on files and bytes, which the broker
//! reserves atomically before it signs anything (sizes are signed into the
//! presigned requests, so storage takes no more).

use serde::{Deserialize, Serialize};

/// The folder under a user's prefix where file requests deliver
/// (`<user>/inbox/<request name>/`).
pub const INBOX_FOLDER: &str = "inbox/";

/// Prefix of the bearer credential a file request link carries.
pub const REQUEST_BEARER_PREFIX: &str = "sdr_";

/// The bearer credential of file request `id` with `secret`.
pub fn request_bearer(id: &str, secret: &str) -> String {
    format!("{REQUEST_BEARER_PREFIX}{id}.{secret}")
}

/// `POST /api/v1/requests`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateFileRequest {
    /// The request's name: files arrive in `inbox/<name>/` (one path segment).
    pub name: String,
    /// Seconds until the link stops taking files (default 7 days; at most
    /// the operator's maximum, `SEALDROP_SHARE_MAX_EXPIRY_SECS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in_secs: Option<u64>,
    /// Most files the link takes (default 10, at most 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1000))]
    pub max_files: Option<u32>,
    /// Most plaintext bytes the link takes in all (default 1 GiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub max_bytes: Option<u64>,
    /// A note shown to whoever uploads (at most 1000 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Whether a file request takes files, and if not why.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FileRequestStatus {
    /// Takes files.
    Open,
    /// Past its expiry.
    Expired,
    /// The owner closed it (or their account is no longer active).
    Closed,
}

impl FileRequestStatus {
    /// What an uploader is told when a link no longer takes files.
    pub fn explanation(self) -> &'static str {
        match self {
            FileRequestStatus::Open => "this link takes files",
            FileRequestStatus::Expired => "this file request has expired",
            FileRequestStatus::Closed => "the recipient closed this file request",
        }
    }
}

/// A file request as its owner lists it (never the secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FileRequestSummary {
    /// The public part of the link.
    pub id: String,
    /// The request's name.
    pub name: String,
    /// Where its files arrive: `<user>/inbox/<name>/`.
    pub prefix: String,
    /// Whether it takes files.
    pub status: FileRequestStatus,
    /// Files it takes in all.
    pub max_files: u32,
    /// Plaintext bytes it takes in all.
    pub max_bytes: u64,
    /// Files uploaded or being uploaded so far.
    pub files: u32,
    /// Their plaintext bytes.
    pub bytes: u64,
    /// The note for uploaders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub expires_at: String,
    /// When it was closed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<String>,
}

/// `POST /api/v1/requests` response: the secret is shown this once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateFileRequestResponse {
    /// The request.
    pub request: FileRequestSummary,
    /// The link's secret: `<broker>/r/<id>#<secret>`.
    pub secret: crate::SecretString,
}

/// `GET /api/v1/requests` response, newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ListFileRequestsResponse {
    /// The requests, closed ones included.
    pub requests: Vec<FileRequestSummary>,
}

/// `POST /api/v1/requests/close`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CloseFileRequest {
    /// The request's id.
    pub id: String,
}

/// `POST /api/v1/public/request` response: what an uploader may send.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PublicFileRequest {
    /// Who asks (their user name).
    pub recipient: String,
    /// The request's name.
    pub name: String,
    /// The recipient's note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// RFC 3339.
    pub expires_at: String,
    /// Files it still takes.
    pub files_left: u32,
    /// Plaintext bytes it still takes.
    pub bytes_left: u64,
    /// What the broker accepts of any upload.
    pub limits: crate::Limits,
}
