//! Building storage and the key provider from the configuration, for both
//! deployments: AWS (S3 + KMS through the standard AWS chain and endpoints) and
//! the embedded default (local keyring + the in-process S3-compatible store).
//!
//! `serve` starts the embedded store; the operator commands connect to the one
//! a running `serve` exposes (its index is exclusive to that process).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::config::{Credentials, Region};
use sealdrop_broker::config::ConfigError;
use sealdrop_broker::keys::{KeyProvider, KmsProvider, LocalProvider};
use sealdrop_broker::storage::UploadHeaders;
use sealdrop_broker::{Config, Deployment, Storage};
use sealdrop_keyring::{KeyringError, LocalKeyring, Opened};
use sealdrop_store::{SseKeyError, SseKeyProvider, Store, StoreConfig, StoreError};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// Why a deployment's storage and keys cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The local keyring cannot be opened or created.
    #[error(transparent)]
    Keyring(#[from] KeyringError),
    /// The embedded store cannot be opened.
    #[error("opening the embedded store: {0}")]
    Store(#[from] StoreError),
    /// A file of the data directory or a socket.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, naming the path or address.
        context: String,
        /// The error.
        source: std::io::Error,
    },
    /// The embedded store's credentials file is unreadable.
    #[error("{path}: {source}")]
    Credentials {
        /// The file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
    /// Operator commands need a running `serve`'s data directory.
    #[error("no embedded store in {0} (start `sealdrop serve` with this data directory first)")]
    NoEmbeddedStore(PathBuf),
    /// Presigning a probe request failed (the S3 configuration is unusable).
    #[error("presigning a probe request: {0}")]
    Probe(String),
    /// Storage executes presigned requests with headers they were not signed
    /// with: users could turn an upload URL into a copy of any object.
    #[error(
        "storage accepted a presigned upload carrying an unsigned x-amz-copy-source header \
         (it answered {0}): on this storage, users could copy other users' objects into their \
         own prefix. Use storage that checks presigned signatures (AWS S3, the embedded store); \
         for a test server only, set SEALDROP_S3_INSECURE_SKIP_PRESIGN_CHECK=true"
    )]
    LaxPresignedRequests(u16),
    /// The operating system's random number generator failed.
    #[error("random number generator: {0}")]
    Random(String),
}

pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> StackError {
    let context = context.into();
    move |source| StackError::Io { context, source }
}

type Result<T, E = StackError> = std::result::Result<T, E>;

/// Storage and keys for one deployment.
pub struct Stack {
    /// Object storage.
    pub storage: Storage,
    /// Where data keys come from.
    pub keys: Arc<dyn KeyProvider>,
    /// The KMS client (AWS deployments), for operator commands.
    pub kms: Option<aws_sdk_kms::Client>,
    /// The KMS keys the broker unwraps data keys with, as configured: the
    /// current one first, then the previous ones (empty for the local keyring).
    pub kms_keys: Vec<String>,
    /// The origin browsers reach storage at (for the web app's CSP).
    pub storage_origin: String,
    /// What this is, for people.
    pub description: String,
}

fn timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(20))
        .operation_timeout(Duration::from_secs(60))
        .build()
}

fn origin(url: &str) -> String {
    // scheme://host[:port] of a URL; presigned URLs only ever differ in path/query.
    let (scheme, rest) = url.split_once("://").unwrap_or(("https", url));
    let host = rest.split('/').next().unwrap_or(rest);
    format!("{scheme}://{host}")
}

/// Connects to an AWS deployment.
async fn aws(config: &Config, bucket: &str, kms_key_id: &str) -> Result<Stack> {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(timeouts())
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(3));
    if let Some(region) = &config.region {
        loader = loader.region(Region::new(region.clone()));
    }
    let sdk = loader.load().await;
    let s3_builder = || {
        let mut b =
            aws_sdk_s3::config::Builder::from(&sdk).force_path_style(config.s3.force_path_style);
        if let Some(endpoint) = &config.s3.endpoint {
            b = b.endpoint_url(endpoint);
        }
        b
    };
    let client = aws_sdk_s3::Client::from_conf(s3_builder().build());
    let presigner = match &config.s3.public_endpoint {
        Some(endpoint) => {
            aws_sdk_s3::Client::from_conf(s3_builder().endpoint_url(endpoint).build())
        }
        None => client.clone(),
    };
    let kms = aws_sdk_kms::Client::new(&sdk);
    let storage = Storage::new(client, presigner, bucket.to_owned(), config.presign_ttl());
    // Whatever endpoint the configuration or the AWS chain (AWS_ENDPOINT_URL_S3,
    // virtual-hosted AWS) resolves to, browsers go where presigned URLs point.
    let probe = storage
        .presign_get("sealdrop-origin-probe", "probe")
        .await
        .map_err(|e| StackError::Probe(e.to_string()))?;
    let storage_origin = origin(&probe.url);
    Ok(Stack {
        storage,
        keys: Arc::new(KmsProvider::new(
            kms.clone(),
            kms_key_id.to_owned(),
            config.kms_previous_key_ids.clone(),
        )),
        kms: Some(kms),
        kms_keys: std::iter::once(kms_key_id.to_owned())
            .chain(config.kms_previous_key_ids.iter().cloned())
            .collect(),
        storage_origin,
        description: format!("S3 bucket {bucket}, KMS key {kms_key_id}"),
    })
}

/// Credentials of the embedded store, persisted so operator commands can reach it.
#[derive(Serialize, Deserialize)]
struct StoreCredentials {
    access_key_id: String,
    secret_access_key: String,
}

impl Drop for StoreCredentials {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.secret_access_key);
    }
}

fn credentials_path(config: &Config) -> PathBuf {
    config.data_dir.join("store-credentials.json")
}

fn random_hex(bytes: usize) -> Result<String> {
    let mut buf = Zeroizing::new(vec![0u8; bytes]);
    getrandom::fill(&mut buf).map_err(|e| StackError::Random(e.to_string()))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

fn load_or_create_credentials(config: &Config) -> Result<StoreCredentials> {
    let path = credentials_path(config);
    if path.exists() {
        let text = Zeroizing::new(
            std::fs::read_to_string(&path).map_err(io(format!("reading {}", path.display())))?,
        );
        return serde_json::from_str(&text)
            .map_err(|source| StackError::Credentials { path, source });
    }
    let credentials = StoreCredentials {
        access_key_id: format!("SEALDROP{}", random_hex(6)?.to_uppercase()),
        secret_access_key: random_hex(32)?,
    };
    let json = Zeroizing::new(serde_json::to_vec_pretty(&credentials).map_err(|source| {
        StackError::Credentials {
            path: path.clone(),
            source,
        }
    })?);
    write_private(&path, &json)?;
    Ok(credentials)
}

/// Writes a file only the owner can read, atomically: a crash leaves the old
/// file or the new one, never a torn one (a temporary file in the same
/// directory, synced, then renamed over the target).
pub fn write_private(path: &Path, content: &[u8]) -> Result<()> {
    use std::io::Write as _;
    let context = || format!("writing {}", path.display());
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options.open(&tmp).and_then(|mut file| {
        file.write_all(content)?;
        file.sync_all()
    });
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(context())(e));
    }
    Ok(())
}

/// The local keyring as the embedded store's SSE-KMS key source.
struct KeyringSse(Arc<LocalKeyring>);

impl SseKeyProvider for KeyringSse {
    fn default_key_id(&self) -> String {
        self.0.key_id().to_owned()
    }

    fn generate_data_key(
        &self,
        key_id: &str,
        context: &[u8],
    ) -> Result<(Zeroizing<[u8; 32]>, Vec<u8>), SseKeyError> {
        if key_id != self.0.key_id() {
            return Err(SseKeyError::NotFound(key_id.to_owned()));
        }
        let (key, wrapped) = self
            .0
            .generate_sse_key(context)
            .map_err(|e| SseKeyError::Other(e.to_string()))?;
        Ok((Zeroizing::new(*key.expose_secret()), wrapped))
    }

    fn decrypt_data_key(
        &self,
        key_id: &str,
        wrapped: &[u8],
        context: &[u8],
    ) -> Result<Zeroizing<[u8; 32]>, SseKeyError> {
        if key_id != self.0.key_id() {
            return Err(SseKeyError::NotFound(key_id.to_owned()));
        }
        let key = self
            .0
            .decrypt_sse_key(wrapped, context)
            .map_err(|_| SseKeyError::InvalidCiphertext)?;
        Ok(Zeroizing::new(*key.expose_secret()))
    }
}

fn embedded_client(credentials: &StoreCredentials, endpoint: &str) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::new()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            &credentials.access_key_id,
            &credentials.secret_access_key,
            None,
            None,
            "sealdrop-embedded-store",
        ))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .timeout_config(timeouts())
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// The embedded store's URL for browsers.
pub fn store_public_url(config: &Config) -> String {
    config
        .store
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", config.store.listen))
        .trim_end_matches('/')
        .to_owned()
}

fn open_keyring(config: &Config) -> Result<(Arc<LocalKeyring>, Opened)> {
    let (keyring, opened) = LocalKeyring::open_or_create(&config.data_dir.join("keyring"))?;
    Ok((Arc::new(keyring), opened))
}

fn embedded_stack(
    config: &Config,
    keyring: Arc<LocalKeyring>,
    credentials: &StoreCredentials,
    store_url: &str,
) -> Stack {
    let public = store_public_url(config);
    Stack {
        storage: Storage::new(
            embedded_client(credentials, store_url),
            embedded_client(credentials, &public),
            config.store.bucket.clone(),
            config.presign_ttl(),
        ),
        description: format!(
            "embedded store at {public} (bucket {}), local keyring {}",
            config.store.bucket,
            keyring.key_id()
        ),
        keys: Arc::new(LocalProvider::new(keyring)),
        kms_keys: Vec::new(),
        kms: None,
        storage_origin: origin(&public),
    }
}

/// Sends a presigned upload with an extra, unsigned `x-amz-copy-source` header
/// naming an object that does not exist. Storage that checks what presigned
/// requests are signed for refuses it (400/403); storage that does not would run
/// a CopyObject as the broker (404 for the missing source, or success): refuse
/// to serve on it. Nothing is written on strict storage; a probe object that a
/// lax one created is deleted.
async fn check_presigned_requests_are_strict(storage: &Storage) -> Result<()> {
    let mut nonce = [0u8; 16];
    getrandom::fill(&mut nonce).map_err(|e| StackError::Random(e.to_string()))?;
    let key = format!(".sealdrop-probe/{}", hex::encode(nonce));
    let headers = UploadHeaders {
        content_type: "application/octet-stream".into(),
        metadata: Default::default(),
        sse: None,
    };
    let presigned = storage
        .presign_put(&key, 5, &headers)
        .await
        .map_err(|e| StackError::Probe(e.to_string()))?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .map_err(|e| StackError::Probe(e.to_string()))?;
    let mut request = http.put(&presigned.url).body("probe");
    for (name, value) in &presigned.headers {
        request = request.header(name, value);
    }
    let source = format!("{}/{key}.missing", storage.bucket());
    let status = request
        .header("x-amz-copy-source", source)
        .send()
        .await
        .map_err(|e| StackError::Probe(format!("sending a probe upload: {e}")))?
        .status();
    if matches!(status.as_u16(), 400 | 403) {
        return Ok(());
    }
    if status.is_success() {
        let _ = storage.delete(&key).await;
    }
    Err(StackError::LaxPresignedRequests(status.as_u16()))
}

/// What `serve` runs besides the broker.
pub struct Started {
    /// Storage and keys.
    pub stack: Stack,
    /// The embedded store, if this deployment has one; serve it with [`Store::serve`].
    pub store: Option<(Store, tokio::net::TcpListener)>,
    /// Whether a new local keyring was created (first start).
    pub new_keyring: Option<PathBuf>,
}

/// Builds the stack for `serve`, opening and binding the embedded store if needed
/// (and recording the address it bound in `config.store.listen`).
pub async fn start(config: &mut Config) -> Result<Started> {
    match config.validate()? {
        Deployment::Aws { bucket, kms_key_id } => {
            let stack = aws(config, &bucket, &kms_key_id).await?;
            if config.s3.insecure_skip_presign_check {
                tracing::warn!(
                    "SEALDROP_S3_INSECURE_SKIP_PRESIGN_CHECK is set: not checking that storage \
                     refuses unsigned headers on presigned requests"
                );
            } else {
                check_presigned_requests_are_strict(&stack.storage).await?;
            }
            Ok(Started {
                stack,
                store: None,
                new_keyring: None,
            })
        }
        Deployment::Embedded => {
            let (keyring, opened) = open_keyring(config)?;
            let credentials = load_or_create_credentials(config)?;
            let mut store_config = StoreConfig::new(
                config.data_dir.join("store"),
                Arc::new(KeyringSse(keyring.clone())),
            );
            store_config.credentials = vec![(
                credentials.access_key_id.clone(),
                credentials.secret_access_key.clone(),
            )];
            let mut origins = vec![config.public_url()];
            origins.extend(config.cors_origins.iter().cloned());
            store_config.cors_origins = origins;
            let store = Store::open(store_config)?;
            store.create_bucket_if_missing(&config.store.bucket)?;
            let listener = tokio::net::TcpListener::bind(config.store.listen)
                .await
                .map_err(io(format!(
                    "binding the embedded store to {}",
                    config.store.listen
                )))?;
            config.store.listen = listener
                .local_addr()
                .map_err(io("reading the store's address"))?;
            let local = format!("http://{}", config.store.listen);
            Ok(Started {
                stack: embedded_stack(config, keyring, &credentials, &local),
                store: Some((store, listener)),
                new_keyring: (opened == Opened::Created).then(|| config.data_dir.join("keyring")),
            })
        }
    }
}

/// Connects to the deployment a running `serve` uses (operator commands).
pub async fn connect(config: &Config) -> Result<Stack> {
    match config.validate()? {
        Deployment::Aws { bucket, kms_key_id } => aws(config, &bucket, &kms_key_id).await,
        Deployment::Embedded => {
            let path = credentials_path(config);
            if !path.exists() {
                return Err(StackError::NoEmbeddedStore(config.data_dir.clone()));
            }
            let (keyring, _) = open_keyring(config)?;
            let credentials = load_or_create_credentials(config)?;
            let url = format!("http://{}", config.store.listen);
            Ok(embedded_stack(config, keyring, &credentials, &url))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        assert_eq!(origin("http://127.0.0.1:8081/"), "http://127.0.0.1:8081");
        assert_eq!(
            origin("https://s3.example.com/bucket/key"),
            "https://s3.example.com"
        );
    }
}
