//! Configuration: defaults, then a TOML file, then `SEALDROP_*` environment
//! variables (the binary applies command-line flags last).
//!
//! With `bucket` and `kms_key_id` both set, sealdrop runs against AWS (or any
//! S3/KMS-compatible endpoints given by the standard `AWS_*` variables); with
//! neither, `sealdrop serve` runs the embedded default (local keyring + store).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sealdrop_state::{DatabaseUrl, Location};
use serde::Deserialize;

/// Every setting, with its default. See `docs/configuration.md`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the broker (API + web app) listens on. `SEALDROP_LISTEN`.
    pub listen: SocketAddr,
    /// Where users, the local keyring, the embedded store and the audit log live.
    /// `SEALDROP_DATA_DIR`.
    pub data_dir: PathBuf,
    /// The URL users open (login links, CORS of the embedded store). Defaults to
    /// `http://<listen>`. `SEALDROP_PUBLIC_URL`.
    pub public_url: Option<String>,
    /// The built web app (`dist/`) to serve at `/`. `SEALDROP_WEB_ROOT`.
    pub web_root: Option<PathBuf>,
    /// S3 bucket (AWS mode). `SEALDROP_BUCKET`.
    pub bucket: Option<String>,
    /// KMS key for new data keys and SSE-KMS: id, ARN or `alias/…`. `SEALDROP_KMS_KEY_ID`.
    pub kms_key_id: Option<String>,
    /// Older KMS keys that may still wrap existing objects (during rotation).
    /// `SEALDROP_KMS_PREVIOUS_KEY_IDS` (comma-separated).
    pub kms_previous_key_ids: Vec<String>,
    /// AWS region (else the standard AWS chain decides). `SEALDROP_REGION`.
    pub region: Option<String>,
    /// S3 endpoint settings.
    pub s3: S3Config,
    /// Seconds presigned requests stay valid. `SEALDROP_PRESIGN_TTL_SECS`.
    pub presign_ttl_secs: u64,
    /// Uploads whose stored size reaches this use multipart. `SEALDROP_MULTIPART_THRESHOLD`.
    pub multipart_threshold: u64,
    /// Multipart part size (multiple of 16 bytes, at least 5 MiB). `SEALDROP_PART_SIZE`.
    pub part_size: u64,
    /// Largest object accepted, in plaintext bytes. `SEALDROP_MAX_OBJECT_SIZE`.
    pub max_object_size: u64,
    /// Origins allowed to call the API cross-origin (when the web app is hosted
    /// elsewhere). `SEALDROP_CORS_ORIGINS` (comma-separated).
    pub cors_origins: Vec<String>,
    /// Per-user limit on KMS-backed calls (create upload, open).
    pub rate_limit: RateLimitConfig,
    /// Per-user limit on every authenticated call (listing, part signing,
    /// deleting, …). `SEALDROP_API_RATE_LIMIT_PER_MINUTE`, `SEALDROP_API_RATE_LIMIT_BURST`.
    pub api_rate_limit: RateLimitConfig,
    /// Per client address limit on the public share-link calls, which need no
    /// account (guessing links is throttled here). `SEALDROP_PUBLIC_RATE_LIMIT_*`.
    pub public_rate_limit: RateLimitConfig,
    /// Longest a share link may work, in seconds (default 30 days; a link
    /// asks for 7 days unless it says otherwise). `SEALDROP_SHARE_MAX_EXPIRY_SECS`.
    pub share_max_expiry_secs: u64,
    /// Connections served at once on each listener (the broker's and the
    /// embedded store's); more wait until one ends. `SEALDROP_MAX_CONNECTIONS`.
    pub max_connections: usize,
    /// Seconds a connection may take to send a complete request head, or stay
    /// idle between requests, before it is closed. `SEALDROP_HEADER_TIMEOUT_SECS`.
    pub header_timeout_secs: u64,
    /// Seconds a request body may send nothing while it is being read (an
    /// upload that goes quiet) before the request fails and its connection
    /// closes; steady slow uploads are never cut off. `SEALDROP_BODY_TIMEOUT_SECS`.
    pub body_timeout_secs: u64,
    /// Bytes each user may keep in storage, counting uploads in progress (and
    /// files sent to them through file requests); none = no limit. Bytes or a
    /// size such as `20G`. `SEALDROP_QUOTA_BYTES`.
    #[serde(deserialize_with = "size_or_bytes")]
    pub quota_bytes: Option<u64>,
    /// Multipart uploads each user may have in progress at once (their parts
    /// take storage that no listing shows). `SEALDROP_MAX_UPLOADS_IN_FLIGHT`.
    pub max_uploads_in_flight: u32,
    /// Seconds a multipart upload may go without activity (no part URLs
    /// signed) before the broker aborts it and its parts are deleted.
    /// `SEALDROP_UPLOAD_MAX_IDLE_SECS`.
    pub upload_max_idle_secs: u64,
    /// Accept OIDC JWTs as bearer tokens.
    pub oidc: Option<OidcConfig>,
    /// Audit log file (JSON lines). Default `<data_dir>/audit.log`. `SEALDROP_AUDIT_LOG`.
    pub audit_log: Option<PathBuf>,
    /// The embedded store (used when no bucket is configured).
    pub store: EmbeddedStoreConfig,
    /// PostgreSQL for users and tokens, shared by replicas; without it they
    /// live in SQLite in the data directory. `SEALDROP_DATABASE_URL`.
    pub database_url: Option<DatabaseUrl>,
    /// Create a first `admin` and print its login link when there are no
    /// users, also outside the embedded default. `SEALDROP_BOOTSTRAP_ADMIN`.
    pub bootstrap_admin: bool,
}

/// S3 endpoint settings. Endpoints default to the standard AWS chain
/// (`AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`, else AWS).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct S3Config {
    /// Endpoint the broker uses. `SEALDROP_S3_ENDPOINT`.
    pub endpoint: Option<String>,
    /// Endpoint put into presigned URLs, when browsers reach storage at another
    /// address than the broker does. `SEALDROP_S3_PUBLIC_ENDPOINT`.
    pub public_endpoint: Option<String>,
    /// Path-style addressing (MinIO, Ceph, moto). `SEALDROP_S3_FORCE_PATH_STYLE`.
    pub force_path_style: bool,
    /// Skip the start-time check that storage refuses presigned requests
    /// carrying headers they were not signed with. Only for test servers that
    /// do not check signatures (moto): on such storage, users can turn an
    /// upload URL into a copy of someone else's object.
    /// `SEALDROP_S3_INSECURE_SKIP_PRESIGN_CHECK`.
    pub insecure_skip_presign_check: bool,
}

/// Token bucket per user.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Sustained calls per minute. `SEALDROP_RATE_LIMIT_PER_MINUTE`.
    pub per_minute: u32,
    /// Burst size. `SEALDROP_RATE_LIMIT_BURST`.
    pub burst: u32,
}

/// Single sign-on: OIDC ID tokens as bearer tokens, and the browser's
/// "Sign in with …" (Authorization Code + PKCE, as a public client).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// Expected `iss`, exactly as the provider writes it. `SEALDROP_OIDC_ISSUER`.
    pub issuer: String,
    /// Expected `aud`: the client id registered for the web app (public
    /// client, redirect URI = the app's URL). `SEALDROP_OIDC_AUDIENCE`.
    pub audience: String,
    /// Where the issuer's signing keys are; default: the `jwks_uri` of
    /// `<issuer>/.well-known/openid-configuration`. `SEALDROP_OIDC_JWKS_URL`.
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// Claim shown as the person's name, never used to decide anything.
    /// Default `preferred_username`. `SEALDROP_OIDC_DISPLAY_CLAIM`.
    #[serde(default = "default_display_claim")]
    pub display_claim: String,
    /// Give an identity nobody linked a user of its own (`sso-…`) on its first
    /// sign-in. Default off: an operator links identities with `sealdrop admin
    /// user link`. `SEALDROP_OIDC_AUTO_PROVISION`.
    #[serde(default)]
    pub auto_provision: bool,
    /// Removed: identities are `(issuer, subject)` now. Kept only to refuse it
    /// with an explanation instead of serde's "unknown field".
    #[serde(default, rename = "user_claim")]
    pub removed_user_claim: Option<String>,
}

fn default_display_claim() -> String {
    "preferred_username".into()
}

/// Why `oidc.user_claim` no longer works, and what to do instead.
const USER_CLAIM_REMOVED: &str = "oidc.user_claim (SEALDROP_OIDC_USER_CLAIM) was removed: a \
     single sign-on identity is its issuer and subject, not a claim, so no claim can name an \
     account. Link each identity to its user with `sealdrop admin user link NAME --subject SUB`, \
     or set oidc.auto_provision; oidc.display_claim picks the name shown";

/// The embedded S3-compatible store.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct EmbeddedStoreConfig {
    /// Where the store listens (it needs a root of its own). `SEALDROP_STORE_LISTEN`.
    pub listen: SocketAddr,
    /// The URL browsers use to reach it. Default `http://<listen>`. `SEALDROP_STORE_PUBLIC_URL`.
    pub public_url: Option<String>,
    /// Bucket created on first start.
    pub bucket: String,
}

const MIB: u64 = 1024 * 1024;

/// The longest an operator may let share links work: a year.
const MAX_SHARE_EXPIRY_SECS: u64 = 366 * 86_400;

/// The longest a multipart upload may sit idle before it is aborted.
const MAX_UPLOAD_IDLE_SECS: u64 = 30 * 86_400;

/// A TOML size: a number of bytes or a string [`parse_size`] reads.
fn size_or_bytes<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Size {
        Bytes(u64),
        Text(String),
    }
    match Size::deserialize(d)? {
        Size::Bytes(bytes) => Ok(Some(bytes)),
        Size::Text(text) => parse_size(&text)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

/// A size as operators write it: bytes, or a number with `K`, `M`, `G` or `T`
/// (powers of 1024; `KiB`, `MiB`, … and a trailing `B` are accepted too).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size (bytes, or a number with K, M, G or T)"))?;
    let shift = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        other => return Err(format!("unknown size unit {other:?}: use K, M, G or T")),
    };
    number
        .checked_mul(1u64 << shift)
        .ok_or_else(|| format!("{text:?} is too large"))
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("sealdrop-data"),
            public_url: None,
            web_root: None,
            bucket: None,
            kms_key_id: None,
            kms_previous_key_ids: Vec::new(),
            region: None,
            s3: S3Config::default(),
            presign_ttl_secs: 900,
            multipart_threshold: 16 * MIB,
            part_size: sealdrop_envelope::DEFAULT_PART_SIZE,
            max_object_size: sealdrop_envelope::MAX_PLAINTEXT_LEN,
            cors_origins: Vec::new(),
            rate_limit: RateLimitConfig::default(),
            api_rate_limit: RateLimitConfig {
                per_minute: 1200,
                burst: 600,
            },
            public_rate_limit: RateLimitConfig {
                per_minute: 60,
                burst: 30,
            },
            share_max_expiry_secs: 30 * 86_400,
            max_connections: 1024,
            header_timeout_secs: 20,
            body_timeout_secs: 60,
            quota_bytes: None,
            max_uploads_in_flight: 32,
            upload_max_idle_secs: 86_400,
            oidc: None,
            audit_log: None,
            store: EmbeddedStoreConfig::default(),
            database_url: None,
            bootstrap_admin: false,
        }
    }
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            per_minute: 600,
            burst: 60,
        }
    }
}

impl Default for EmbeddedStoreConfig {
    fn default() -> Self {
        EmbeddedStoreConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8081)),
            public_url: None,
            bucket: "sealdrop".into(),
        }
    }
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Toml {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("environment variable {name}={value:?}: {reason}")]
    Env {
        name: &'static str,
        value: String,
        reason: String,
    },
    #[error("{0}")]
    Invalid(String),
}

/// Where data keys and objects live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Deployment {
    /// AWS S3 + KMS (or compatible endpoints).
    Aws {
        /// The bucket.
        bucket: String,
        /// The KMS key.
        kms_key_id: String,
    },
    /// The local keyring and the embedded store.
    Embedded,
}

impl Config {
    /// Defaults, then the TOML file (if any), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut config = match file {
            Some(path) => Self::from_toml_file(path)?,
            None => Config::default(),
        };
        config.apply_env(|name| std::env::var(name).ok())?;
        Ok(config)
    }

    /// Parses a TOML file.
    pub fn from_toml_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.into(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ConfigError::Toml {
            path: path.into(),
            source,
        })
    }

    /// Applies `SEALDROP_*` variables read through `var`.
    pub fn apply_env(
        &mut self,
        var: impl Fn(&'static str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        fn parse<T: std::str::FromStr>(name: &'static str, value: String) -> Result<T, ConfigError>
        where
            T::Err: std::fmt::Display,
        {
            value.trim().parse().map_err(|e: T::Err| ConfigError::Env {
                name,
                reason: e.to_string(),
                value,
            })
        }
        let list = |value: String| -> Vec<String> {
            value
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let bool_value = |name: &'static str, value: String| match value.trim() {
            "1" | "true" | "yes" => Ok(true),
            "0" | "false" | "no" | "" => Ok(false),
            _ => Err(ConfigError::Env {
                name,
                value,
                reason: "expected true or false".into(),
            }),
        };

        macro_rules! set {
            ($name:literal, $field:expr, $convert:expr) => {
                if let Some(value) = var($name) {
                    #[allow(clippy::redundant_closure_call)]
                    {
                        $field = $convert($name, value)?;
                    }
                }
            };
        }
        let some_string = |_: &'static str, v: String| Ok::<_, ConfigError>(Some(v));
        let some_path = |_: &'static str, v: String| Ok::<_, ConfigError>(Some(PathBuf::from(v)));

        set!("SEALDROP_LISTEN", self.listen, parse);
        set!("SEALDROP_DATA_DIR", self.data_dir, |_, v: String| Ok::<
            _,
            ConfigError,
        >(
            PathBuf::from(v)
        ));
        set!("SEALDROP_PUBLIC_URL", self.public_url, some_string);
        set!("SEALDROP_WEB_ROOT", self.web_root, some_path);
        set!("SEALDROP_BUCKET", self.bucket, some_string);
        set!("SEALDROP_KMS_KEY_ID", self.kms_key_id, some_string);
        set!(
            "SEALDROP_KMS_PREVIOUS_KEY_IDS",
            self.kms_previous_key_ids,
            |_, v| Ok::<_, ConfigError>(list(v))
        );
        set!("SEALDROP_REGION", self.region, some_string);
        set!("SEALDROP_S3_ENDPOINT", self.s3.endpoint, some_string);
        set!(
            "SEALDROP_S3_PUBLIC_ENDPOINT",
            self.s3.public_endpoint,
            some_string
        );
        set!(
            "SEALDROP_S3_FORCE_PATH_STYLE",
            self.s3.force_path_style,
            bool_value
        );
        set!(
            "SEALDROP_S3_INSECURE_SKIP_PRESIGN_CHECK",
            self.s3.insecure_skip_presign_check,
            bool_value
        );
        set!("SEALDROP_PRESIGN_TTL_SECS", self.presign_ttl_secs, parse);
        set!(
            "SEALDROP_MULTIPART_THRESHOLD",
            self.multipart_threshold,
            parse
        );
        set!("SEALDROP_PART_SIZE", self.part_size, parse);
        set!("SEALDROP_MAX_OBJECT_SIZE", self.max_object_size, parse);
        set!("SEALDROP_CORS_ORIGINS", self.cors_origins, |_, v| Ok::<
            _,
            ConfigError,
        >(
            list(v)
        ));
        set!(
            "SEALDROP_RATE_LIMIT_PER_MINUTE",
            self.rate_limit.per_minute,
            parse
        );
        set!("SEALDROP_RATE_LIMIT_BURST", self.rate_limit.burst, parse);
        set!(
            "SEALDROP_API_RATE_LIMIT_PER_MINUTE",
            self.api_rate_limit.per_minute,
            parse
        );
        set!(
            "SEALDROP_API_RATE_LIMIT_BURST",
            self.api_rate_limit.burst,
            parse
        );
        set!(
            "SEALDROP_PUBLIC_RATE_LIMIT_PER_MINUTE",
            self.public_rate_limit.per_minute,
            parse
        );
        set!(
            "SEALDROP_PUBLIC_RATE_LIMIT_BURST",
            self.public_rate_limit.burst,
            parse
        );
        set!(
            "SEALDROP_SHARE_MAX_EXPIRY_SECS",
            self.share_max_expiry_secs,
            parse
        );
        set!("SEALDROP_MAX_CONNECTIONS", self.max_connections, parse);
        set!(
            "SEALDROP_HEADER_TIMEOUT_SECS",
            self.header_timeout_secs,
            parse
        );
        set!("SEALDROP_BODY_TIMEOUT_SECS", self.body_timeout_secs, parse);
        set!(
            "SEALDROP_QUOTA_BYTES",
            self.quota_bytes,
            |name, value: String| {
                if value.trim().is_empty() {
                    return Ok(None);
                }
                parse_size(&value)
                    .map(Some)
                    .map_err(|reason| ConfigError::Env {
                        name,
                        value,
                        reason,
                    })
            }
        );
        set!(
            "SEALDROP_MAX_UPLOADS_IN_FLIGHT",
            self.max_uploads_in_flight,
            parse
        );
        set!(
            "SEALDROP_UPLOAD_MAX_IDLE_SECS",
            self.upload_max_idle_secs,
            parse
        );
        set!("SEALDROP_AUDIT_LOG", self.audit_log, some_path);
        set!("SEALDROP_BOOTSTRAP_ADMIN", self.bootstrap_admin, bool_value);
        if let Some(url) = var("SEALDROP_DATABASE_URL").filter(|v| !v.trim().is_empty()) {
            // Not ConfigError::Env: its message would repeat the value, password included.
            self.database_url =
                Some(DatabaseUrl::parse(url.trim()).map_err(|why| {
                    ConfigError::Invalid(format!("SEALDROP_DATABASE_URL: {why}"))
                })?);
        }
        set!("SEALDROP_STORE_LISTEN", self.store.listen, parse);
        set!(
            "SEALDROP_STORE_PUBLIC_URL",
            self.store.public_url,
            some_string
        );

        let issuer = var("SEALDROP_OIDC_ISSUER");
        let audience = var("SEALDROP_OIDC_AUDIENCE");
        let jwks_url = var("SEALDROP_OIDC_JWKS_URL");
        if issuer.is_some() || audience.is_some() || jwks_url.is_some() {
            let current = self.oidc.take();
            let pick = |env: Option<String>, file: Option<&String>, name: &str| {
                env.or_else(|| file.cloned()).ok_or_else(|| {
                    ConfigError::Invalid(format!("OIDC needs {name} as well (SEALDROP_OIDC_*)"))
                })
            };
            self.oidc = Some(OidcConfig {
                issuer: pick(issuer, current.as_ref().map(|c| &c.issuer), "an issuer")?,
                audience: pick(
                    audience,
                    current.as_ref().map(|c| &c.audience),
                    "an audience",
                )?,
                jwks_url: jwks_url.or_else(|| current.as_ref().and_then(|c| c.jwks_url.clone())),
                display_claim: var("SEALDROP_OIDC_DISPLAY_CLAIM")
                    .or_else(|| current.as_ref().map(|c| c.display_claim.clone()))
                    .unwrap_or_else(default_display_claim),
                auto_provision: match var("SEALDROP_OIDC_AUTO_PROVISION") {
                    Some(flag) => bool_value("SEALDROP_OIDC_AUTO_PROVISION", flag)?,
                    None => current.as_ref().is_some_and(|c| c.auto_provision),
                },
                removed_user_claim: var("SEALDROP_OIDC_USER_CLAIM")
                    .or_else(|| current.and_then(|c| c.removed_user_claim)),
            });
        }
        Ok(())
    }

    /// Checks consistency and says which deployment this is.
    pub fn validate(&self) -> Result<Deployment, ConfigError> {
        if !self.part_size.is_multiple_of(16) || self.part_size < sealdrop_envelope::MIN_PART_SIZE {
            return Err(ConfigError::Invalid(format!(
                "part_size {} must be a multiple of 16 bytes and at least 5 MiB",
                self.part_size
            )));
        }
        if self.part_size > sealdrop_envelope::MAX_PART_SIZE {
            return Err(ConfigError::Invalid(
                "part_size must be at most 5 GiB".into(),
            ));
        }
        if self.max_object_size > sealdrop_envelope::MAX_PLAINTEXT_LEN {
            return Err(ConfigError::Invalid(format!(
                "max_object_size must be at most {} bytes (AES-GCM's limit for one object)",
                sealdrop_envelope::MAX_PLAINTEXT_LEN
            )));
        }
        if self.presign_ttl_secs == 0 || self.presign_ttl_secs > 7 * 24 * 3600 {
            return Err(ConfigError::Invalid(
                "presign_ttl_secs must be between 1 second and 7 days".into(),
            ));
        }
        for (name, limit) in [
            ("rate_limit", self.rate_limit),
            ("api_rate_limit", self.api_rate_limit),
            ("public_rate_limit", self.public_rate_limit),
        ] {
            if limit.per_minute == 0 || limit.burst == 0 {
                return Err(ConfigError::Invalid(format!(
                    "{name}.per_minute and {name}.burst must be positive"
                )));
            }
        }
        if let Some(oidc) = &self.oidc {
            if oidc.removed_user_claim.is_some() {
                return Err(ConfigError::Invalid(USER_CLAIM_REMOVED.into()));
            }
            for (what, url) in [
                ("issuer", Some(&oidc.issuer)),
                ("jwks_url", oidc.jwks_url.as_ref()),
            ] {
                if let Some(url) = url
                    && !(url.starts_with("https://") || url.starts_with("http://"))
                {
                    return Err(ConfigError::Invalid(format!(
                        "oidc.{what} must be an http(s) URL, not {url:?}"
                    )));
                }
            }
            if oidc.audience.trim().is_empty() {
                return Err(ConfigError::Invalid(
                    "oidc.audience (the web app's client id) must not be empty".into(),
                ));
            }
        }
        if !(60..=MAX_SHARE_EXPIRY_SECS).contains(&self.share_max_expiry_secs) {
            return Err(ConfigError::Invalid(format!(
                "share_max_expiry_secs (SEALDROP_SHARE_MAX_EXPIRY_SECS) must be between 60 and {MAX_SHARE_EXPIRY_SECS} (a year)"
            )));
        }
        if self.max_connections == 0 {
            return Err(ConfigError::Invalid(
                "max_connections (SEALDROP_MAX_CONNECTIONS) must be at least 1".into(),
            ));
        }
        for (name, secs) in [
            (
                "header_timeout_secs (SEALDROP_HEADER_TIMEOUT_SECS)",
                self.header_timeout_secs,
            ),
            (
                "body_timeout_secs (SEALDROP_BODY_TIMEOUT_SECS)",
                self.body_timeout_secs,
            ),
        ] {
            if secs == 0 || secs > 3600 {
                return Err(ConfigError::Invalid(format!(
                    "{name} must be between 1 and 3600"
                )));
            }
        }
        if self.quota_bytes == Some(0) {
            return Err(ConfigError::Invalid(
                "quota_bytes (SEALDROP_QUOTA_BYTES) must be positive; leave it unset for no quota"
                    .into(),
            ));
        }
        if self.max_uploads_in_flight == 0 {
            return Err(ConfigError::Invalid(
                "max_uploads_in_flight (SEALDROP_MAX_UPLOADS_IN_FLIGHT) must be at least 1".into(),
            ));
        }
        if !(self.presign_ttl_secs..=MAX_UPLOAD_IDLE_SECS).contains(&self.upload_max_idle_secs) {
            return Err(ConfigError::Invalid(format!(
                "upload_max_idle_secs (SEALDROP_UPLOAD_MAX_IDLE_SECS) must be between \
                 presign_ttl_secs ({}) and {MAX_UPLOAD_IDLE_SECS} (30 days)",
                self.presign_ttl_secs
            )));
        }
        for origin in &self.cors_origins {
            check_origin(origin).map_err(|why| {
                ConfigError::Invalid(format!("cors_origins (SEALDROP_CORS_ORIGINS): {why}"))
            })?;
        }
        match (&self.bucket, &self.kms_key_id) {
            (Some(bucket), Some(kms_key_id)) => Ok(Deployment::Aws {
                bucket: bucket.clone(),
                kms_key_id: kms_key_id.clone(),
            }),
            (None, None) => Ok(Deployment::Embedded),
            (Some(_), None) => Err(ConfigError::Invalid(
                "SEALDROP_BUCKET is set but SEALDROP_KMS_KEY_ID is not: set both for AWS, or neither for the embedded default".into(),
            )),
            (None, Some(_)) => Err(ConfigError::Invalid(
                "SEALDROP_KMS_KEY_ID is set but SEALDROP_BUCKET is not: set both for AWS, or neither for the embedded default".into(),
            )),
        }
    }

    /// The presign lifetime.
    pub fn presign_ttl(&self) -> Duration {
        Duration::from_secs(self.presign_ttl_secs)
    }

    /// The URL users open.
    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
            .trim_end_matches('/')
            .to_owned()
    }

    /// The audit log path.
    pub fn audit_log_path(&self) -> PathBuf {
        self.audit_log
            .clone()
            .unwrap_or_else(|| self.data_dir.join("audit.log"))
    }

    /// The users file of releases before the database (imported on start).
    pub fn users_path(&self) -> PathBuf {
        self.data_dir.join("users.json")
    }

    /// Where users and tokens live.
    pub fn state_location(&self) -> Location {
        match &self.database_url {
            Some(url) => Location::Postgres(url.clone()),
            None => Location::DataDir(self.data_dir.clone()),
        }
    }
}

/// A browser origin the API answers cross-origin requests from: `http(s)://host[:port]`,
/// as a browser sends it in `Origin` (a trailing `/` is tolerated). A wildcard is
/// refused: the API takes bearer tokens and hands out data keys, so only the sites
/// that serve the web app may call it from a browser.
fn check_origin(origin: &str) -> Result<(), String> {
    let trimmed = origin.trim_end_matches('/');
    if trimmed == "*" {
        return Err(
            "\"*\" is not allowed; list the origins that serve the web app \
                    (e.g. https://files.example.com)"
                .into(),
        );
    }
    let host = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"))
        .ok_or_else(|| {
            format!("{origin:?} is not an origin: it must start with https:// or http://")
        })?;
    let well_formed = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if !well_formed {
        return Err(format!(
            "{origin:?} is not an origin: scheme, host and optional port only, no path or wildcard"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&'static str, &str)]) -> impl Fn(&'static str) -> Option<String> {
        let map: HashMap<&'static str, String> =
            pairs.iter().map(|(k, v)| (*k, v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn toml_then_env_and_deployment() {
        let mut config: Config = toml::from_str(
            r#"
            bucket = "files"
            presign_ttl_secs = 60
            cors_origins = ["https://app.example"]
            [s3]
            force_path_style = true
            [rate_limit]
            per_minute = 10
            "#,
        )
        .unwrap();
        assert_eq!(config.rate_limit.burst, 60);
        assert!(matches!(config.validate(), Err(ConfigError::Invalid(_))));
        config
            .apply_env(env(&[
                ("SEALDROP_KMS_KEY_ID", "alias/sealdrop"),
                ("SEALDROP_PRESIGN_TTL_SECS", "120"),
                (
                    "SEALDROP_CORS_ORIGINS",
                    "https://a.example, https://b.example",
                ),
            ]))
            .unwrap();
        assert_eq!(config.presign_ttl_secs, 120);
        assert_eq!(config.cors_origins.len(), 2);
        assert_eq!(
            config.validate().unwrap(),
            Deployment::Aws {
                bucket: "files".into(),
                kms_key_id: "alias/sealdrop".into()
            }
        );
        assert_eq!(Config::default().validate().unwrap(), Deployment::Embedded);
    }

    #[test]
    fn bad_values_are_reported_by_name() {
        let mut config = Config::default();
        let err = config
            .apply_env(env(&[("SEALDROP_PRESIGN_TTL_SECS", "soon")]))
            .unwrap_err();
        assert!(err.to_string().contains("SEALDROP_PRESIGN_TTL_SECS"));
        assert!(toml::from_str::<Config>("unknown_key = 1").is_err());
        let config = Config {
            part_size: 1000,
            ..Config::default()
        };
        assert!(config.validate().is_err());
        let config = Config {
            max_object_size: sealdrop_envelope::MAX_PLAINTEXT_LEN + 1,
            ..Config::default()
        };
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("max_object_size"), "{err}");
        let mut config = Config::default();
        assert!(
            config
                .apply_env(env(&[("SEALDROP_OIDC_ISSUER", "https://idp")]))
                .is_err()
        );
        let mut config = Config::default();
        let err = config
            .apply_env(env(&[("SEALDROP_QUOTA_BYTES", "lots")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("SEALDROP_QUOTA_BYTES"), "{err}");
        for (name, config) in [
            (
                "quota_bytes",
                Config {
                    quota_bytes: Some(0),
                    ..Config::default()
                },
            ),
            (
                "max_uploads_in_flight",
                Config {
                    max_uploads_in_flight: 0,
                    ..Config::default()
                },
            ),
            (
                "upload_max_idle_secs",
                Config {
                    upload_max_idle_secs: 10,
                    ..Config::default()
                },
            ),
        ] {
            let err = config.validate().unwrap_err().to_string();
            assert!(err.contains(name), "{err}");
        }
    }

    #[test]
    fn sizes_read_as_operators_write_them() {
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("20G"), Ok(20 << 30));
        assert_eq!(parse_size(" 512 MiB "), Ok(512 << 20));
        assert_eq!(parse_size("3kb"), Ok(3 << 10));
        assert!(parse_size("G").is_err());
        assert!(parse_size("1.5G").is_err());
        assert!(parse_size("20 parsecs").is_err());
        assert!(parse_size("99999999999T").is_err());
        let config: Config = toml::from_str("quota_bytes = \"2T\"").unwrap();
        assert_eq!(config.quota_bytes, Some(2 << 40));
        let config: Config = toml::from_str("quota_bytes = 4096").unwrap();
        assert_eq!(config.quota_bytes, Some(4096));
        let mut config = Config::default();
        config
            .apply_env(env(&[("SEALDROP_QUOTA_BYTES", "10M")]))
            .unwrap();
        assert_eq!(config.quota_bytes, Some(10 << 20));
    }

    #[test]
    fn oidc_settings_discover_by_default_and_the_old_user_claim_is_explained() {
        let mut config = Config::default();
        config
            .apply_env(env(&[
                ("SEALDROP_OIDC_ISSUER", "https://idp.example"),
                ("SEALDROP_OIDC_AUDIENCE", "sealdrop-web"),
                ("SEALDROP_OIDC_AUTO_PROVISION", "true"),
            ]))
            .unwrap();
        let oidc = config.oidc.clone().unwrap();
        assert_eq!(oidc.jwks_url, None, "found through discovery");
        assert_eq!(oidc.display_claim, "preferred_username");
        assert!(oidc.auto_provision);
        config.validate().unwrap();

        let mut config = Config::default();
        let err = config
            .apply_env(env(&[
                ("SEALDROP_OIDC_ISSUER", "https://idp.example"),
                ("SEALDROP_OIDC_AUDIENCE", "sealdrop-web"),
                ("SEALDROP_OIDC_AUTO_PROVISION", "maybe"),
            ]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("SEALDROP_OIDC_AUTO_PROVISION"), "{err}");

        let config: Config = toml::from_str(
            "[oidc]\nissuer = \"https://idp.example\"\naudience = \"web\"\nuser_claim = \"email\"\n",
        )
        .unwrap();
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("admin user link"), "{err}");

        let config: Config =
            toml::from_str("[oidc]\nissuer = \"idp.example\"\naudience = \"web\"\n").unwrap();
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("oidc.issuer"), "{err}");
    }

    #[test]
    fn cors_origins_are_origins_and_never_a_wildcard() {
        for bad in [
            "*",
            "*/",
            "files.example.com",
            "https://a.example/app",
            "https://*.example",
            "https://",
            "https://a b",
        ] {
            let mut config = Config::default();
            config
                .apply_env(env(&[("SEALDROP_CORS_ORIGINS", bad)]))
                .unwrap();
            let err = config.validate().unwrap_err().to_string();
            assert!(err.contains("SEALDROP_CORS_ORIGINS"), "{bad}: {err}");
        }
        let config = Config {
            cors_origins: vec![
                "https://files.example.com".into(),
                "http://127.0.0.1:8080/".into(),
                "http://[::1]:3000".into(),
            ],
            ..Config::default()
        };
        assert_eq!(config.validate().unwrap(), Deployment::Embedded);
    }
}
