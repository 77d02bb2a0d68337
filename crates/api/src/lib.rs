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
//!
//! The types make invalid combinations unrepresentable where the protocol has
//! them: what depends on the encryption mode is an enum variant, not a set of
//! optional fields. With the `openapi` feature every type derives
//! `utoipa::ToSchema`; the broker generates its OpenAPI document from them (the
//! browser build leaves the feature off).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

mod requests;
mod shares;

pub use requests::{
    CloseFileRequest, CreateFileRequest, CreateFileRequestResponse, FileRequestStatus,
    FileRequestSummary, INBOX_FOLDER, ListFileRequestsResponse, PublicFileRequest,
    REQUEST_BEARER_PREFIX, request_bearer,
};
pub use shares::{
    CreateShareRequest, CreateShareResponse, LinkCredentials, ListSharesResponse, OpenShareRequest,
    PublicShare, PublicSharedFile, RevokeShareRequest, ShareStatus, ShareSummary, SharedObject,
};

/// Most part URLs one `POST /api/v1/uploads/parts` call presigns.
pub const MAX_SIGN_BATCH: u32 = 100;

/// A secret carried in JSON (a base64 data key): wiped from memory on drop and
/// printed as `[redacted]`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, format = Byte))]
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
    /// Readiness: `200` when storage, the key provider and the state database answer, else `503`.
    pub const READY: &str = "/readyz";
    /// Prometheus metrics (text exposition format).
    pub const METRICS: &str = "/metrics";
    /// Public configuration for the browser app (no authentication).
    pub const CONFIG: &str = "/api/v1/config";
    /// `GET` → [`crate::ListSharesResponse`]; `POST` [`crate::CreateShareRequest`]
    /// → [`crate::CreateShareResponse`].
    pub const SHARES: &str = "/api/v1/shares";
    /// `POST` [`crate::RevokeShareRequest`] → `204`.
    pub const SHARE_REVOKE: &str = "/api/v1/shares/revoke";
    /// Public: `POST` [`crate::LinkCredentials`] → [`crate::PublicShare`].
    pub const PUBLIC_SHARE: &str = "/api/v1/public/share";
    /// Public: `POST` [`crate::OpenShareRequest`] → [`crate::OpenObjectResponse`];
    /// counts one download of the file.
    pub const PUBLIC_SHARE_OPEN: &str = "/api/v1/public/share/open";
    /// The recipient's page: `/s/<id>#<secret>` (served by the web app).
    pub const SHARE_PAGE: &str = "/s/";
    /// `GET` → [`crate::ListFileRequestsResponse`]; `POST`
    /// [`crate::CreateFileRequest`] → [`crate::CreateFileRequestResponse`].
    pub const REQUESTS: &str = "/api/v1/requests";
    /// `POST` [`crate::CloseFileRequest`] → `204`.
    pub const REQUEST_CLOSE: &str = "/api/v1/requests/close";
    /// Public: `POST` [`crate::LinkCredentials`] → [`crate::PublicFileRequest`].
    pub const PUBLIC_REQUEST: &str = "/api/v1/public/request";
    /// The uploader's page: `/r/<id>#<secret>` (served by the web app).
    pub const REQUEST_PAGE: &str = "/r/";
}

/// How an upload is encrypted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Client-side encryption: S3EC V3, the client encrypts; storage sees ciphertext.
    Cse,
    /// Server-side encryption with KMS keys: the storage encrypts at rest.
    Sse,
}

/// How a stored object is encrypted: the badge of [`Encryption`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// Metadata claims client-side encryption but is invalid or unsupported.
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

    /// Client-side encrypted: only a client with the data key can read it.
    pub fn is_client_side(self) -> bool {
        matches!(self, ObjectMode::CseV3 | ObjectMode::CseV2)
    }
}

/// `GET /api/v1/config`: what the browser app needs before sign-in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PublicConfig {
    /// Product name and version of the broker.
    pub version: String,
    /// OIDC sign-in, when configured (tokens always work).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc: Option<OidcConfig>,
}

/// OIDC settings a browser needs to obtain a token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OidcConfig {
    /// Issuer URL.
    pub issuer: String,
    /// Expected audience (client id).
    pub audience: String,
}

/// Where an OpenID provider publishes its configuration (OpenID Connect
/// Discovery 1.0, section 4): the broker reads its `jwks_uri`, the browser its
/// authorization, token and logout endpoints.
pub fn oidc_discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

/// How a caller authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum AuthMethod {
    /// A sealdrop API token (`sdt_…`).
    Token,
    /// A JWT from the configured OpenID provider.
    Oidc,
}

/// `GET /api/v1/me`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Me {
    /// The user name.
    pub user: String,
    /// The key prefix this user owns (`<user>/`).
    pub prefix: String,
    /// How the caller authenticated.
    pub auth: AuthMethod,
    /// The KMS key id new CSE and SSE objects are encrypted under.
    pub kms_key_id: String,
    /// Upload limits and the multipart layout the broker uses.
    pub limits: Limits,
}

/// Upload limits and multipart layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Limits {
    /// Largest plaintext size accepted.
    pub max_object_size: u64,
    /// Uploads of at least this many bytes (as stored) use multipart.
    pub multipart_threshold: u64,
    /// Seconds a presigned request stays valid.
    pub presign_ttl_secs: u64,
}

/// Where an upload goes: a name under the caller's prefix, or a full key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum UploadTarget {
    /// Object name relative to the user's prefix (may contain `/`).
    Name(String),
    /// The full object key; it must lie under the user's prefix (another
    /// user's key is `403`).
    Key(String),
}

/// `POST /api/v1/uploads`: exactly one of `name` and `key`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateUploadRequest {
    /// Where the object goes.
    #[serde(flatten)]
    pub target: UploadTarget,
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

/// The HTTP method of a presigned request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "UPPERCASE")]
pub enum PresignedMethod {
    /// Downloads.
    Get,
    /// Uploads of an object or a part.
    Put,
}

impl PresignedMethod {
    /// `GET` or `PUT`.
    pub fn as_str(self) -> &'static str {
        match self {
            PresignedMethod::Get => "GET",
            PresignedMethod::Put => "PUT",
        }
    }
}

/// A presigned HTTP request: send exactly these headers, and no other `x-amz-*`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PresignedRequest {
    /// HTTP method.
    pub method: PresignedMethod,
    /// The presigned URL.
    pub url: String,
    /// Headers to send (lower-case names); all of them are signed. A
    /// `content-length` is the exact body length the request accepts (HTTP
    /// stacks set it from the body; browsers refuse to set it themselves).
    pub headers: BTreeMap<String, String>,
}

/// A presigned `UploadPart`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PresignedPart {
    /// 1-based part number.
    pub part_number: u32,
    /// The request uploading this part.
    pub request: PresignedRequest,
}

/// How the bytes of an upload travel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

/// The client-side encryption format the broker writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum CseFormat {
    /// S3EC format V3, suite 115 (`ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY`).
    V3,
}

/// Client-side encryption materials for one upload. The data key and message ID
/// must be used for this object only; the metadata is fixed and already signed
/// into the presigned request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CseMaterials {
    /// The format to write.
    pub format: CseFormat,
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

/// Server-side encryption settings applied to an upload (`aws:kms`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SseInfo {
    /// The KMS key id storage encrypts the object under.
    pub kms_key_id: String,
}

/// What an upload needs for its mode.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum UploadEncryption {
    /// The client encrypts with these materials.
    Cse(CseMaterials),
    /// Storage encrypts; the presigned requests carry the SSE-KMS headers.
    Sse(SseInfo),
}

impl UploadEncryption {
    /// The mode.
    pub fn mode(&self) -> Mode {
        match self {
            UploadEncryption::Cse(_) => Mode::Cse,
            UploadEncryption::Sse(_) => Mode::Sse,
        }
    }
}

/// `POST /api/v1/uploads` response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateUploadResponse {
    /// The full object key.
    pub key: String,
    /// Plaintext size the upload was created for.
    pub size: u64,
    /// Bytes that will be stored (CSE adds the 16-byte tag).
    pub stored_size: u64,
    /// How to send the bytes.
    pub transfer: Transfer,
    /// The mode and what it needs.
    pub encryption: UploadEncryption,
}

/// `POST /api/v1/uploads/parts`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SignPartsRequest {
    /// The object key.
    pub key: String,
    /// The multipart upload id.
    pub upload_id: String,
    /// Part numbers to presign (1 to [`MAX_SIGN_BATCH`] per call).
    pub part_numbers: Vec<u32>,
}

/// `POST /api/v1/uploads/parts` response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignPartsResponse {
    /// The presigned parts, in the order requested.
    pub parts: Vec<PresignedPart>,
}

/// One uploaded part, as S3 acknowledged it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CompletedPart {
    /// 1-based part number.
    pub part_number: u32,
    /// The `ETag` response header of the part upload.
    pub etag: String,
}

/// `POST /api/v1/uploads/complete`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CompleteUploadResponse {
    /// The object key.
    pub key: String,
    /// The object's ETag.
    pub etag: String,
}

/// `POST /api/v1/uploads/abort`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AbortUploadRequest {
    /// The object key.
    pub key: String,
    /// The multipart upload id.
    pub upload_id: String,
}

/// Query of `GET /api/v1/objects`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::IntoParams),
    into_params(parameter_in = Query)
)]
pub struct ListObjectsQuery {
    /// Only names starting with this (relative to the user's prefix).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Continue after a previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Page size (1..=1000, default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 1000))]
    pub limit: Option<u32>,
}

/// Query naming one object: `?key=`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::IntoParams),
    into_params(parameter_in = Query)
)]
pub struct ObjectKeyQuery {
    /// The full object key.
    pub key: String,
}

/// How the data key of a client-side encrypted object is wrapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum KeyWrapping {
    /// By KMS, bound to the object by the encryption context.
    #[serde(rename = "kms+context")]
    KmsContext,
    /// By a raw AES-256 key (the local keyring), with a material description.
    #[serde(rename = "AES/GCM")]
    AesGcm,
}

/// The envelope of a client-side encrypted object, as the broker reads it
/// from the metadata (no key material).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClientSideEncryption {
    /// The key that wraps the data key (KMS: as sealdrop last recorded it;
    /// the local keyring: its id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    /// How the data key is wrapped.
    pub key_wrapping: KeyWrapping,
    /// The stored encryption context (KMS) or material description (AES/GCM).
    pub encryption_context: BTreeMap<String, String>,
    /// The `x-amz-server-side-encryption` header storage returned, if the
    /// ciphertext is also encrypted at rest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_side_encryption: Option<String>,
}

/// How one object is encrypted, as far as the broker can tell without key material.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "mode")]
pub enum Encryption {
    /// S3EC format V3 (suite 115, key-committing).
    #[serde(rename = "cse-v3")]
    CseV3(ClientSideEncryption),
    /// S3EC format V2 (AES/GCM/NoPadding).
    #[serde(rename = "cse-v2")]
    CseV2(ClientSideEncryption),
    /// Server-side encryption with a KMS key (`aws:kms`).
    #[serde(rename = "sse-kms")]
    SseKms {
        /// The KMS key id storage reported.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        kms_key_id: Option<String>,
    },
    /// Stored without KMS encryption.
    #[serde(rename = "none")]
    None {
        /// `AES256` when storage encrypts with keys of its own.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        server_side_encryption: Option<String>,
    },
    /// The metadata claims client-side encryption but is invalid or unsupported.
    #[serde(rename = "invalid")]
    Invalid {
        /// Why the metadata could not be used.
        problem: String,
    },
}

impl Encryption {
    /// The badge.
    pub fn mode(&self) -> ObjectMode {
        match self {
            Encryption::CseV3(_) => ObjectMode::CseV3,
            Encryption::CseV2(_) => ObjectMode::CseV2,
            Encryption::SseKms { .. } => ObjectMode::SseKms,
            Encryption::None { .. } => ObjectMode::None,
            Encryption::Invalid { .. } => ObjectMode::Invalid,
        }
    }

    /// The envelope, for client-side encrypted objects.
    pub fn client_side(&self) -> Option<&ClientSideEncryption> {
        match self {
            Encryption::CseV3(cse) | Encryption::CseV2(cse) => Some(cse),
            _ => None,
        }
    }

    /// The KMS key id the object (SSE) or its data key (CSE) is under.
    pub fn kms_key_id(&self) -> Option<&str> {
        match self {
            Encryption::CseV3(cse) | Encryption::CseV2(cse) => cse.kms_key_id.as_deref(),
            Encryption::SseKms { kms_key_id } => kms_key_id.as_deref(),
            Encryption::None { .. } | Encryption::Invalid { .. } => None,
        }
    }

    /// The `x-amz-server-side-encryption` value storage reported, if any.
    pub fn server_side_encryption(&self) -> Option<&str> {
        match self {
            Encryption::CseV3(cse) | Encryption::CseV2(cse) => {
                cse.server_side_encryption.as_deref()
            }
            Encryption::SseKms { .. } => Some("aws:kms"),
            Encryption::None {
                server_side_encryption,
            } => server_side_encryption.as_deref(),
            Encryption::Invalid { .. } => None,
        }
    }
}

/// One object in a listing, or `GET /api/v1/objects/info`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ListObjectsResponse {
    /// Objects in key order.
    pub objects: Vec<ObjectInfo>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `POST /api/v1/objects/open`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OpenObjectRequest {
    /// The object key.
    pub key: String,
}

/// Key material to decrypt a client-side encrypted object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CseOpen {
    /// Plaintext data key, base64 (already checked against the key commitment).
    pub data_key: SecretString,
    /// The validated S3EC metadata (without `x-amz-meta-`).
    pub metadata: BTreeMap<String, String>,
}

/// Who turns the stored bytes into plaintext.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "by", rename_all = "lowercase")]
pub enum Decryption {
    /// The client, with this key material (client-side encrypted objects).
    Client(CseOpen),
    /// Storage: the download is plaintext (SSE or unencrypted objects).
    Storage,
}

/// `POST /api/v1/objects/open` response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OpenObjectResponse {
    /// What the object is.
    pub object: ObjectInfo,
    /// A presigned `GET` of the stored bytes.
    pub download: PresignedRequest,
    /// Who decrypts.
    pub decryption: Decryption,
}

/// Stable error codes: clients branch on these, not on messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// 410: the share link expired, was used up or revoked; the message says which.
    Gone,
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// Code and human-readable message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
                method: PresignedMethod::Put,
                url: "http://s/k".into(),
                headers: BTreeMap::from([("content-type".into(), "text/plain".into())]),
            },
        };
        let json = serde_json::to_value(&transfer).unwrap();
        assert_eq!(json["kind"], "single");
        assert_eq!(json["request"]["method"], "PUT");
        assert_eq!(json["request"]["headers"]["content-type"], "text/plain");
        assert_eq!(serde_json::to_value(ObjectMode::CseV3).unwrap(), "cse-v3");
        assert_eq!(serde_json::to_value(Mode::Sse).unwrap(), "sse");
        assert_eq!(
            serde_json::to_value(ErrorCode::IntegrityError).unwrap(),
            "integrity_error"
        );
        let secret = SecretString::new("c2VjcmV0".into());
        assert_eq!(format!("{secret:?}"), "SecretString([redacted])");
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"c2VjcmV0\"");
    }

    #[test]
    fn an_upload_names_exactly_one_target() {
        let req: CreateUploadRequest =
            serde_json::from_str(r#"{"name":"a.txt","size":3,"mode":"cse"}"#).unwrap();
        assert_eq!(req.target, UploadTarget::Name("a.txt".into()));
        assert!(!req.overwrite && req.content_type.is_none());
        let req: CreateUploadRequest =
            serde_json::from_str(r#"{"key":"alice/a.txt","size":3,"mode":"sse"}"#).unwrap();
        assert_eq!(req.target, UploadTarget::Key("alice/a.txt".into()));
        for invalid in [
            r#"{"name":"a","key":"alice/a","size":1,"mode":"cse"}"#,
            r#"{"size":1,"mode":"cse"}"#,
            r#"{"name":"a","size":1,"mode":"cse","colour":"red"}"#,
        ] {
            assert!(
                serde_json::from_str::<CreateUploadRequest>(invalid).is_err(),
                "{invalid}"
            );
        }
        let json = serde_json::to_value(CreateUploadRequest {
            target: UploadTarget::Name("b".into()),
            size: 1,
            content_type: None,
            mode: Mode::Cse,
            overwrite: false,
        })
        .unwrap();
        assert_eq!(json["name"], "b");
    }

    #[test]
    fn mode_specific_fields_travel_with_their_mode() {
        let sse = UploadEncryption::Sse(SseInfo {
            kms_key_id: "k".into(),
        });
        assert_eq!(
            serde_json::to_value(&sse).unwrap(),
            serde_json::json!({"mode": "sse", "kms_key_id": "k"})
        );
        let encryption: Encryption =
            serde_json::from_str(r#"{"mode":"invalid","problem":"bad x-amz-c"}"#).unwrap();
        assert_eq!(encryption.mode(), ObjectMode::Invalid);
        assert!(
            serde_json::from_str::<Encryption>(r#"{"mode":"cse-v3"}"#).is_err(),
            "a client-side object always has its envelope"
        );
        let storage: Decryption = serde_json::from_str(r#"{"by":"storage"}"#).unwrap();
        assert_eq!(storage, Decryption::Storage);
    }
}
