//! # sealdrop-api
//!
//! The broker's versioned JSON API. Every route is under [`routes::PREFIX`]
//! (`/api/v1`) and needs `Authorization: Bearer <token>`; errors are an
//! [`ErrorBody`] with a stable [`ErrorCode`]. The OpenAPI document is served at
//! [`routes::OPENAPI`].
//!
//! Object keys are full S3 keys: `<user>/<name>`. A user may only touch keys
//! under their own prefix (`Me::prefix`).
//!
//! Binary values (data keys, message IDs) are standard base64. Responses that
//! carry a plaintext data key are sent with `Cache-Control: no-store`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A secret carried in JSON (a base64 data key): wiped from memory on drop and
/// printed as `[redacted]`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a secret value.
    pub fn new(value: String) -> SecretString {
        SecretString(value)
    }

    /// The secret. Keep copies short-lived.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretString([redacted])")
    }
}

impl Drop for SecretString {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

/// Route paths.
pub mod routes {
    /// Version prefix of every API route.
    pub const PREFIX: &str = "/api/v1";
    /// `GET`: [`crate::Me`].
    pub const ME: &str = "/api/v1/me";
    /// `POST` [`crate::CreateUploadRequest`] → [`crate::CreateUploadResponse`].
    pub const UPLOADS: &str = "/api/v1/uploads";
    /// `POST` [`crate::SignPartsRequest`] → [`crate::SignPartsResponse`].
    pub const UPLOAD_PARTS: &str = "/api/v1/uploads/parts";
    /// `POST` [`crate::CompleteUploadRequest`] → [`crate::CompleteUploadResponse`].
    pub const UPLOAD_COMPLETE: &str = "/api/v1/uploads/complete";
    /// `POST` [`crate::AbortUploadRequest`] → `204`.
    pub const UPLOAD_ABORT: &str = "/api/v1/uploads/abort";
    /// `GET ?prefix=&cursor=&limit=` → [`crate::ListObjectsResponse`];
    /// `DELETE ?key=` → `204`.
    pub const OBJECTS: &str = "/api/v1/objects";
    /// `GET ?key=` → [`crate::ObjectInfo`] (no key material).
    pub const OBJECT_INFO: &str = "/api/v1/objects/info";
    /// `POST` [`crate::OpenObjectRequest`] → [`crate::OpenObjectResponse`].
    pub const OBJECT_OPEN: &str = "/api/v1/objects/open";
    /// The OpenAPI 3.1 document of this API.
    pub const OPENAPI: &str = "/api/v1/openapi.json";
    /// Liveness: `200` while the process serves requests.
    pub const HEALTH: &str = "/healthz";
    /// Readiness: `200` when storage and the key provider answer, else `503`.
    pub const READY: &str = "/readyz";
    /// Prometheus metrics (text exposition format).
    pub const METRICS: &str = "/metrics";
    /// Public configuration for the browser app (no authentication).
    pub const CONFIG: &str = "/api/v1/config";
}

/// How an upload is encrypted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Client-side encryption: S3EC V3, the client encrypts; storage sees ciphertext.
    Cse,
    /// Server-side encryption with KMS keys: the storage encrypts at rest.
    Sse,
}

/// How a stored object is encrypted, as reported by list and info.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ObjectMode {
    /// S3EC format V3 (suite 115, key-committing).
    #[serde(rename = "cse-v3")]
    CseV3,
    /// S3EC format V2 (AES/GCM/NoPadding).
    #[serde(rename = "cse-v2")]
    CseV2,
    /// Server-side encryption with a KMS key (`aws:kms`).
    #[serde(rename = "sse-kms")]
    SseKms,
    /// Stored unencrypted (or only with storage-managed keys, `AES256`).
    #[serde(rename = "none")]
    None,
    /// Metadata claims client-side encryption but is invalid or unsupported
    /// (see [`Encryption::problem`]).
    #[serde(rename = "invalid")]
    Invalid,
}

impl ObjectMode {
    /// The stable string form (`cse-v3`, `cse-v2`, `sse-kms`, `none`, `invalid`).
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectMode::CseV3 => "cse-v3",
            ObjectMode::CseV2 => "cse-v2",
            ObjectMode::SseKms => "sse-kms",
            ObjectMode::None => "none",
            ObjectMode::Invalid => "invalid",
        }
    }
}

/// `GET /api/v1/config`: what the browser app needs before sign-in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicConfig {
    /// Product name and version of the broker.
    pub version: String,
    /// Whether OIDC sign-in is configured (tokens always work).
    pub oidc: Option<OidcConfig>,
}

/// OIDC settings a browser needs to obtain a token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcConfig {
    /// Issuer URL.
    pub issuer: String,
    /// Expected audience (client id).
    pub audience: String,
}

/// `GET /api/v1/me`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    /// The user name.
    pub user: String,
    /// The key prefix this user owns (`<user>/`).
    pub prefix: String,
    /// How the caller authenticated: `token` or `oidc`.
    pub auth: String,
    /// The KMS key id new CSE and SSE objects are encrypted under.
    pub kms_key_id: String,
    /// Upload limits and the multipart layout the broker uses.
    pub limits: Limits,
}

/// Upload limits and multipart layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Largest plaintext size accepted.
    pub max_object_size: u64,
    /// Uploads of at least this many bytes (as stored) use multipart.
    pub multipart_threshold: u64,
    /// Seconds a presigned request stays valid.
    pub presign_ttl_secs: u64,
}

/// `POST /api/v1/uploads`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateUploadRequest {
    /// Object name relative to the user's prefix (may contain `/`). Empty when
    /// `key` is given instead.
    #[serde(default)]
    pub name: String,
    /// Alternatively, the full object key; it must lie under the user's prefix
    /// (another user's key is `403`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Plaintext size in bytes.
    pub size: u64,
    /// Content type to store (default `application/octet-stream`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Encryption mode.
    pub mode: Mode,
    /// Replace an existing object of the same name instead of failing with 409.
    #[serde(default)]
    pub overwrite: bool,
}

/// A presigned HTTP request: send exactly these headers, and no other `x-amz-*`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresignedRequest {
    /// HTTP method.
    pub method: String,
    /// The presigned URL.
    pub url: String,
    /// Headers to send (lower-case names); all of them are signed. A
    /// `content-length` is the exact body length the request accepts (HTTP
    /// stacks set it from the body; browsers refuse to set it themselves).
    pub headers: BTreeMap<String, String>,
}

/// A presigned `UploadPart`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresignedPart {
    /// 1-based part number.
    pub part_number: u32,
    /// The request uploading this part.
    pub request: PresignedRequest,
}

/// How the bytes of an upload travel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Transfer {
    /// One presigned `PUT` of the whole object.
    Single {
        /// The request.
        request: PresignedRequest,
    },
    /// S3 multipart upload: parts of `part_size` bytes (as stored) except the
    /// last; the first parts are presigned, sign more with
    /// [`routes::UPLOAD_PARTS`], then complete or abort.
    Multipart {
        /// The S3 upload id.
        upload_id: String,
        /// Size of every part but the last, in stored bytes. For CSE, parts are
        /// cut at the same plaintext offsets (ciphertext is as long as plaintext);
        /// the 16-byte tag is appended to the last part.
        part_size: u64,
        /// Number of parts.
        part_count: u32,
        /// Presigned requests for the first parts.
        parts: Vec<PresignedPart>,
    },
}

/// Client-side encryption materials for one upload. The data key and message ID
/// must be used for this object only; the metadata is fixed and already signed
/// into the presigned request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CseMaterials {
    /// Always `v3` (suite 115).
    pub format: String,
    /// Plaintext data key, base64.
    pub data_key: SecretString,
    /// Message ID (`x-amz-i`), base64.
    pub message_id: String,
    /// KMS key id (or the local keyring's id) the data key is wrapped under.
    pub kms_key_id: String,
    /// The encryption context binding the key to the object (reserved keys excluded).
    pub encryption_context: BTreeMap<String, String>,
    /// The complete S3EC metadata stored with the object (without `x-amz-meta-`).
    pub metadata: BTreeMap<String, String>,
}

/// Server-side encryption settings applied to an object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SseInfo {
    /// `aws:kms`.
    pub algorithm: String,
    /// The KMS key id.
    pub kms_key_id: String,
}

/// `POST /api/v1/uploads` response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateUploadResponse {
    /// The full object key.
    pub key: String,
    /// The mode.
    pub mode: Mode,
    /// Plaintext size the upload was created for.
    pub size: u64,
    /// Bytes that will be stored (CSE adds the 16-byte tag).
    pub stored_size: u64,
    /// How to send the bytes.
    pub transfer: Transfer,
    /// Present for [`Mode::Cse`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cse: Option<CseMaterials>,
    /// Present for [`Mode::Sse`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sse: Option<SseInfo>,
}

/// `POST /api/v1/uploads/parts`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignPartsRequest {
    /// The object key.
    pub key: String,
    /// The multipart upload id.
    pub upload_id: String,
    /// Part numbers to presign (at most 100 per call).
    pub part_numbers: Vec<u32>,
}

/// `POST /api/v1/uploads/parts` response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignPartsResponse {
    /// The presigned parts, in the order requested.
    pub parts: Vec<PresignedPart>,
}

/// One uploaded part, as S3 acknowledged it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompletedPart {
    /// 1-based part number.
    pub part_number: u32,
    /// The `ETag` response header of the part upload.
    pub etag: String,
}

/// `POST /api/v1/uploads/complete`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompleteUploadRequest {
    /// The object key.
    pub key: String,
    /// The multipart upload id.
    pub upload_id: String,
    /// Every part, in ascending order.
    pub parts: Vec<CompletedPart>,
}

/// `POST /api/v1/uploads/complete` response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompleteUploadResponse {
    /// The object key.
    pub key: String,
    /// The object's ETag.
    pub etag: String,
}

/// `POST /api/v1/uploads/abort`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AbortUploadRequest {
    /// The object key.
    pub key: String,
    /// The multipart upload id.
    pub upload_id: String,
}

/// Query of `GET /api/v1/objects`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListObjectsQuery {
    /// Only names starting with this (relative to the user's prefix).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Continue after a previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Page size (1..=1000, default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// How one object is encrypted, as far as the broker can tell without key material.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Encryption {
    /// The mode badge.
    pub mode: ObjectMode,
    /// The KMS key id (CSE: from the encrypted data key's wrapping; SSE: from storage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    /// CSE: how the data key is wrapped (`kms+context` or `AES/GCM`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_wrapping: Option<String>,
    /// CSE: the stored encryption context (KMS) or material description (AES/GCM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_context: Option<BTreeMap<String, String>>,
    /// The `x-amz-server-side-encryption` header storage returned, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_side_encryption: Option<String>,
    /// Why the metadata could not be used, for [`ObjectMode::Invalid`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// One object in a listing, or `GET /api/v1/objects/info`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectInfo {
    /// The full object key.
    pub key: String,
    /// The name relative to the user's prefix.
    pub name: String,
    /// Bytes stored.
    pub stored_size: u64,
    /// Plaintext bytes (CSE: stored size minus the tag).
    pub size: u64,
    /// Last modified, RFC 3339.
    pub last_modified: String,
    /// Stored content type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// ETag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// Encryption details.
    pub encryption: Encryption,
}

/// `GET /api/v1/objects` response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListObjectsResponse {
    /// Objects in key order.
    pub objects: Vec<ObjectInfo>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `POST /api/v1/objects/open`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenObjectRequest {
    /// The object key.
    pub key: String,
}

/// Key material to decrypt a client-side encrypted object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CseOpen {
    /// Plaintext data key, base64 (already checked against the key commitment).
    pub data_key: SecretString,
    /// The validated S3EC metadata (without `x-amz-meta-`).
    pub metadata: BTreeMap<String, String>,
}

/// `POST /api/v1/objects/open` response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenObjectResponse {
    /// What the object is.
    pub object: ObjectInfo,
    /// A presigned `GET` of the stored bytes.
    pub download: PresignedRequest,
    /// Present for client-side encrypted objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cse: Option<CseOpen>,
}

/// Stable error codes: clients branch on these, not on messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: the request is malformed or a value is invalid.
    BadRequest,
    /// 400: the object name is not acceptable.
    InvalidName,
    /// 401: no, invalid, expired or revoked credentials.
    Unauthenticated,
    /// 403: authenticated, but not allowed to touch this key.
    Forbidden,
    /// 404: no such object or upload.
    NotFound,
    /// 409: the object exists (use `overwrite`), or state conflicts.
    Conflict,
    /// 413: request body or object size over the limit.
    TooLarge,
    /// 422: the object's encryption metadata, context or commitment is invalid:
    /// it was modified, copied from another key, or corrupted.
    IntegrityError,
    /// 429: rate limit exceeded; retry after `Retry-After` seconds.
    RateLimited,
    /// 502: storage or KMS answered with an error.
    UpstreamError,
    /// 503: storage or KMS is unreachable or timed out.
    Unavailable,
    /// 500: a bug; details are in the broker log.
    Internal,
}

/// The body of every error response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// Code and human-readable message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable code.
    pub code: ErrorCode,
    /// A message for people; never contains secrets.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_format_is_stable() {
        let transfer = Transfer::Single {
            request: PresignedRequest {
                method: "PUT".into(),
                url: "http://s/k".into(),
                headers: BTreeMap::from([("content-type".into(), "text/plain".into())]),
            },
        };
        let json = serde_json::to_value(&transfer).unwrap();
        assert_eq!(json["kind"], "single");
        assert_eq!(json["request"]["headers"]["content-type"], "text/plain");
        assert_eq!(serde_json::to_value(ObjectMode::CseV3).unwrap(), "cse-v3");
        assert_eq!(serde_json::to_value(Mode::Sse).unwrap(), "sse");
        assert_eq!(
            serde_json::to_value(ErrorCode::IntegrityError).unwrap(),
            "integrity_error"
        );
        let req: CreateUploadRequest =
            serde_json::from_str(r#"{"name":"a.txt","size":3,"mode":"cse"}"#).unwrap();
        assert!(!req.overwrite && req.content_type.is_none());
        let secret = SecretString::new("c2VjcmV0".into());
        assert_eq!(format!("{secret:?}"), "SecretString([redacted])");
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"c2VjcmV0\"");
    }
}
