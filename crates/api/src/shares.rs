//! Share links: a user hands one or more of their objects to someone without
//! an account, through a link `<broker>/s/<id>#<secret>`.
//!
//! The secret lives in the link's fragment, which browsers never send to a
//! server; clients carry it (and the id) in the JSON body of the public calls,
//! never in a URL, so neither lands in an access log. The broker keeps only the
//! secret's SHA-256. A wrong secret gets the same `404` as an unknown id.

use serde::{Deserialize, Serialize};

use crate::{ObjectMode, SecretString};

/// `POST /api/v1/shares`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateShareRequest {
    /// The objects to share: full keys under the caller's prefix (1–100, no repeats).
    pub keys: Vec<String>,
    /// Seconds until the link stops working (default 7 days; at most the
    /// operator's maximum, `SEALDROP_SHARE_MAX_EXPIRY_SECS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in_secs: Option<u64>,
    /// How many times each file may be downloaded (default: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub max_downloads: Option<u32>,
    /// A note shown to the recipient (at most 1000 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Why a share link no longer works. Said only to whoever holds the secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ShareStatus {
    /// Works.
    Active,
    /// Past its expiry.
    Expired,
    /// Every file was downloaded as often as the link allows.
    Exhausted,
    /// The owner revoked it, or their account was disabled.
    Revoked,
    /// Every shared file was deleted or replaced.
    Deleted,
}

impl ShareStatus {
    /// What the recipient is told when a link stopped working.
    pub fn explanation(self) -> &'static str {
        match self {
            ShareStatus::Active => "this link works",
            ShareStatus::Expired => "this link has expired",
            ShareStatus::Exhausted => "this link's download limit has been reached",
            ShareStatus::Revoked => {
                "the sender revoked this link, or their account is no longer active"
            }
            ShareStatus::Deleted => "the shared files were deleted or replaced",
        }
    }
}

/// One file of a share, as its owner sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SharedObject {
    /// The object key.
    pub key: String,
    /// Downloads so far.
    pub downloads: u32,
    /// `false` once the object was deleted or replaced (a share serves the
    /// version that was shared, never a later one).
    pub available: bool,
}

/// A share as its owner lists it (never the secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShareSummary {
    /// The public part of the link.
    pub id: String,
    /// Whether the link works, and if not why.
    pub status: ShareStatus,
    /// The shared objects, in the order given.
    pub objects: Vec<SharedObject>,
    /// Downloads allowed per file, if limited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_downloads: Option<u32>,
    /// The note for the recipient.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub expires_at: String,
    /// When a recipient last opened the link or a file (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_access_at: Option<String>,
    /// When it was revoked (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

/// `POST /api/v1/shares` response: the secret is shown this once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateShareResponse {
    /// The share.
    pub share: ShareSummary,
    /// The link's secret (base64url, 256 bits): put it in the fragment,
    /// `<broker>/s/<id>#<secret>`.
    pub secret: SecretString,
}

/// `GET /api/v1/shares` response: the caller's shares, newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ListSharesResponse {
    /// The shares, ended ones included.
    pub shares: Vec<ShareSummary>,
}

/// `POST /api/v1/shares/revoke`: the id in the body, so it stays out of URLs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RevokeShareRequest {
    /// The share's id.
    pub id: String,
}

/// The body of `POST /api/v1/public/share` and `POST /api/v1/public/request`:
/// a link's two parts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LinkCredentials {
    /// The id (the link's path).
    pub id: String,
    /// The secret (the link's fragment).
    pub secret: SecretString,
}

/// `POST /api/v1/public/share/open`: one file of a share.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OpenShareRequest {
    /// The id (the link's path).
    pub id: String,
    /// The secret (the link's fragment).
    pub secret: SecretString,
    /// Which file: its index in [`PublicShare::files`].
    pub file: u32,
}

/// One file of a share, as the recipient sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PublicSharedFile {
    /// Index to pass as [`OpenShareRequest::file`].
    pub index: u32,
    /// The file's name (the last segment of the object's name).
    pub name: String,
    /// Plaintext bytes.
    pub size: u64,
    /// How it is encrypted.
    pub mode: ObjectMode,
    /// Downloads left, if limited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub downloads_left: Option<u32>,
}

/// `POST /api/v1/public/share` response: what the link holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PublicShare {
    /// Who shared it (their user name).
    pub sender: String,
    /// The sender's note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// RFC 3339.
    pub expires_at: String,
    /// The files still available.
    pub files: Vec<PublicSharedFile>,
}
