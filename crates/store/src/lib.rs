//! # sealdrop-store
//!
//! sealdrop's embedded, single-node, S3-compatible object store, built on the
//! [`s3s`](https://docs.rs/s3s) protocol framework with its own storage engine.
//!
//! * **Protocol**: path-style S3 over HTTP/1.1 and HTTP/2 — buckets (create/head/list/delete,
//!   location, default encryption, CORS configuration), objects (put/get with ranges/head/
//!   delete/batch delete/copy), ListObjects V1/V2, multipart uploads (create, upload part,
//!   upload part copy, complete, abort, list parts, list uploads).
//! * **Auth**: every request must carry a valid SigV4 signature (header or presigned query)
//!   from one of the configured credential pairs; presigned URLs expire; any `x-amz-*` header
//!   that is not covered by the signature is rejected; SigV2 is refused.
//! * **Durability/atomicity**: object bodies are immutable, randomly named segment files,
//!   written to `tmp/`, fsynced and renamed into `data/`; a redb index maps keys to records.
//!   A write becomes visible in one index transaction, so readers always see one complete
//!   version (data + metadata + ETag). See `README.md` for the crash-safety argument.
//! * **SSE-KMS**: per-object data keys from an [`SseKeyProvider`], 64 KiB AES-256-GCM chunks,
//!   nothing of the plaintext on disk.
//!
//! The crate's `README.md` documents the on-disk layout, the crash-safety argument, the SSE
//! chunk format, and what is and is not supported.
//!
//! ```no_run
//! # async fn run(provider: std::sync::Arc<dyn sealdrop_store::SseKeyProvider>) -> Result<(), Box<dyn std::error::Error>> {
//! use sealdrop_store::{Store, StoreConfig};
//! let mut config = StoreConfig::new("/var/lib/sealdrop/store", provider);
//! config.credentials = vec![("AKEXAMPLE".into(), "secret".into())];
//! config.cors_origins = vec!["https://app.example".into()];
//! let store = Store::open(config)?;
//! store.create_bucket_if_missing("sealdrop")?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9000").await?;
//! store.serve(listener).await?;
//! # Ok(()) }
//! ```

mod checksum;
mod engine;
mod http_layer;
mod io;
mod s3;
mod sse;
mod static_keys;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use http_layer::{RequestBody, StoreService};
pub use static_keys::StaticKeys;

/// Supplies and unwraps per-object SSE data keys (the local keyring implements it in
/// production; AWS KMS could too).
pub trait SseKeyProvider: Send + Sync + 'static {
    /// The key id reported in `x-amz-server-side-encryption-aws-kms-key-id` when a request (and
    /// the bucket default) names none.
    fn default_key_id(&self) -> String;

    /// A new 256-bit data key for `key_id`, returned with its wrapped form to be stored;
    /// `context` must be bound to the wrapped form (e.g. as AAD / encryption context).
    ///
    /// # Errors
    /// [`SseKeyError::NotFound`] for an unknown key id, other variants for other failures.
    fn generate_data_key(
        &self,
        key_id: &str,
        context: &[u8],
    ) -> Result<(zeroize::Zeroizing<[u8; 32]>, Vec<u8>), SseKeyError>;

    /// Unwraps a data key produced by [`SseKeyProvider::generate_data_key`] for the same
    /// `key_id` and `context`.
    ///
    /// # Errors
    /// Any failure to unwrap (wrong key, wrong context, tampered blob).
    fn decrypt_data_key(
        &self,
        key_id: &str,
        wrapped: &[u8],
        context: &[u8],
    ) -> Result<zeroize::Zeroizing<[u8; 32]>, SseKeyError>;
}

/// Errors of an [`SseKeyProvider`]. Messages must not contain key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SseKeyError {
    /// No such key id (S3 answers 400 `KMS.NotFoundException`).
    #[error("KMS key not found: {0}")]
    NotFound(String),
    /// The key exists but may not be used (S3 answers 400 `KMS.DisabledException`).
    #[error("KMS key disabled: {0}")]
    Disabled(String),
    /// The wrapped key could not be unwrapped (wrong key, context, or tampering).
    #[error("wrapped data key could not be decrypted")]
    InvalidCiphertext,
    /// Anything else (provider unavailable, ...).
    #[error("key provider error: {0}")]
    Other(String),
}

/// Configuration of a [`Store`]. Build it with [`StoreConfig::new`] and adjust the public
/// fields.
#[derive(Clone)]
pub struct StoreConfig {
    /// Directory holding the index, data and temp files (created if missing). Exclusive to
    /// one process at a time (the index file is locked).
    pub root: PathBuf,
    /// Region in the SigV4 credential scope that clients must sign for (default `us-east-1`).
    pub region: String,
    /// Access key id → secret access key pairs accepted for SigV4 (header and presigned).
    pub credentials: Vec<(String, String)>,
    /// Origins allowed by CORS (exact match, e.g. `https://app.example`); `"*"` allows any.
    /// Empty: no CORS headers at all.
    pub cors_origins: Vec<String>,
    /// Source of SSE data keys.
    pub sse: Arc<dyn SseKeyProvider>,
    /// Multipart uploads initiated longer ago than this are aborted (at open and then
    /// periodically while serving). Default 7 days.
    pub multipart_expiry: Duration,
    /// Minimum size of every part but the last at CompleteMultipartUpload (S3: 5 MiB).
    pub min_part_size: u64,
    /// Largest single PUT body or part (S3: 5 GiB).
    pub max_object_size: u64,
}

impl StoreConfig {
    /// A configuration with defaults: region `us-east-1`, no credentials (every request is
    /// then refused), no CORS origins, 7-day multipart expiry, S3's size limits.
    pub fn new(root: impl Into<PathBuf>, sse: Arc<dyn SseKeyProvider>) -> Self {
        Self {
            root: root.into(),
            region: "us-east-1".to_owned(),
            credentials: Vec::new(),
            cors_origins: Vec::new(),
            sse,
            multipart_expiry: Duration::from_secs(7 * 24 * 3600),
            min_part_size: 5 * 1024 * 1024,
            max_object_size: 5 * 1024 * 1024 * 1024,
        }
    }
}

impl fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let access_keys: Vec<&str> = self.credentials.iter().map(|(a, _)| a.as_str()).collect();
        f.debug_struct("StoreConfig")
            .field("root", &self.root)
            .field("region", &self.region)
            .field("access_keys", &access_keys)
            .field("cors_origins", &self.cors_origins)
            .field("multipart_expiry", &self.multipart_expiry)
            .field("min_part_size", &self.min_part_size)
            .field("max_object_size", &self.max_object_size)
            .finish_non_exhaustive()
    }
}

/// Errors of the store (opening, administration, and internally of every operation).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("index error: {0}")]
    Index(String),
    #[error("store data is corrupt: {0}")]
    Corrupt(String),
    /// The index or one of its records was written in a newer on-disk format than this build
    /// knows (see the crate README, "On-disk format"); refused rather than misread. Upgrade
    /// sealdrop to open the directory.
    #[error(
        "store data has on-disk format version {found}, newer than this build supports ({supported})"
    )]
    NewerFormat { found: u64, supported: u64 },
    #[error("random number generator failed: {0}")]
    Random(String),
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    #[error("invalid bucket name: {0:?}")]
    InvalidBucketName(String),
    #[error("no such bucket")]
    NoSuchBucket,
    #[error("no such key")]
    NoSuchKey,
    #[error("no such upload")]
    NoSuchUpload,
    #[error("bucket not empty")]
    BucketNotEmpty,
    #[error("precondition failed")]
    PreconditionFailed,
    #[error("object changed during the operation")]
    Conflict,
    #[error("object is being rewritten too often to be read")]
    Busy,
    #[error("entity too large")]
    TooLarge,
    #[error("invalid part: {0}")]
    InvalidPart(String),
    #[error("parts are not in ascending order")]
    InvalidPartOrder,
    #[error("part smaller than the minimum allowed size")]
    EntityTooSmall,
    #[error("stored data failed authentication (tampered or corrupt)")]
    Tampered,
    #[error("reading the request body failed: {0}")]
    Body(String),
    #[error("reading stored data failed: {0}")]
    Read(String),
    #[error("key provider: {0}")]
    Kms(#[from] SseKeyError),
    #[error("background task failed")]
    Join,
}

impl StoreError {
    pub(crate) fn join(_: tokio::task::JoinError) -> Self {
        Self::Join
    }
}

impl From<sse::CryptoError> for StoreError {
    fn from(e: sse::CryptoError) -> Self {
        match e {
            sse::CryptoError::Auth => Self::Tampered,
            other => Self::Corrupt(other.to_string()),
        }
    }
}

macro_rules! redb_err {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                Self::Index(e.to_string())
            }
        }
    )*};
}
redb_err!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

pub(crate) struct Inner {
    pub(crate) engine: Arc<engine::Engine>,
    pub(crate) config: StoreConfig,
}

/// The embedded S3-compatible store. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the store: creates the directory layout if needed, removes leftover temp files,
    /// segment files not referenced by the index, and expired multipart uploads.
    ///
    /// # Errors
    /// I/O or index errors, an index already opened by another process, an invalid
    /// configuration (empty region, empty access key or secret), or
    /// [`StoreError::NewerFormat`] for a directory written in a newer on-disk format (left
    /// untouched).
    pub fn open(config: StoreConfig) -> Result<Store, StoreError> {
        if config.region.is_empty() {
            return Err(StoreError::InvalidConfig("region must not be empty".into()));
        }
        if config
            .credentials
            .iter()
            .any(|(a, s)| a.is_empty() || s.is_empty())
        {
            return Err(StoreError::InvalidConfig(
                "access keys and secrets must not be empty".into(),
            ));
        }
        let engine = Arc::new(engine::Engine::open(&config.root)?);
        let store = Store {
            inner: Arc::new(Inner { engine, config }),
        };
        store.expire_uploads()?;
        Ok(store)
    }

    /// Creates `bucket` unless it exists (for first start; S3 requests never create buckets
    /// implicitly).
    ///
    /// # Errors
    /// An invalid bucket name (S3 naming rules) or an index error.
    pub fn create_bucket_if_missing(&self, bucket: &str) -> Result<(), StoreError> {
        use s3s::validation::NameValidation as _;
        if !s3s::validation::AwsNameValidation::new().validate_bucket_name(bucket) {
            return Err(StoreError::InvalidBucketName(bucket.to_owned()));
        }
        self.inner.engine.create_bucket(bucket)?;
        Ok(())
    }

    /// Aborts multipart uploads older than [`StoreConfig::multipart_expiry`]; returns how many.
    ///
    /// # Errors
    /// Index errors.
    pub fn expire_uploads(&self) -> Result<usize, StoreError> {
        let age = i64::try_from(self.inner.config.multipart_expiry.as_millis()).unwrap_or(i64::MAX);
        let cutoff = engine::now_ms().saturating_sub(age);
        let n = self.inner.engine.expire_uploads(cutoff)?;
        if n > 0 {
            tracing::info!(aborted = n, "aborted expired multipart uploads");
        }
        Ok(n)
    }

    /// The HTTP service (s3s behind the signed-header guard and CORS). Usable with hyper
    /// (`hyper::service::Service`) and tower/axum (`tower::Service`, `Error = Infallible`;
    /// e.g. `Router::new().fallback_service(svc)` at the root of its own listener — s3s cannot
    /// be nested under a path prefix). When called inside a tokio runtime, also starts the
    /// periodic expiry of abandoned multipart uploads.
    pub fn into_service(self) -> StoreService {
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let weak = Arc::downgrade(&self.inner);
            let period = (self.inner.config.multipart_expiry / 4)
                .clamp(Duration::from_secs(60), Duration::from_secs(3600));
            handle.spawn(async move {
                loop {
                    tokio::time::sleep(period).await;
                    let Some(inner) = weak.upgrade() else { break };
                    let store = Store { inner };
                    let _ = tokio::task::spawn_blocking(move || {
                        if let Err(e) = store.expire_uploads() {
                            tracing::warn!(error = %e, "multipart expiry failed");
                        }
                    })
                    .await;
                }
            });
        }
        http_layer::build_service(self.inner)
    }

    /// Serves the store on `listener` (HTTP/1.1 and HTTP/2 cleartext) until an accept error
    /// that is not transient.
    ///
    /// # Errors
    /// A fatal error from `accept`.
    pub async fn serve(self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        self.serve_within(listener, sealdrop_http::Limits::default())
            .await
    }

    /// [`Store::serve`] with these connection limits.
    pub async fn serve_within(
        self,
        listener: tokio::net::TcpListener,
        limits: sealdrop_http::Limits,
    ) -> std::io::Result<()> {
        http_layer::serve(self.into_service(), listener, limits).await
    }
}
