//! The end-to-end test harness: real processes on 127.0.0.1, started and torn
//! down by the tests.
//!
//! - [`Moto`]: `moto_server` from the test venv — the AWS KMS and S3 wire protocol.
//! - [`Server`]: `sealdrop serve`, either the embedded default (fresh data
//!   directory) or against a [`Moto`]; it captures the login token and every log
//!   line, so tests can assert what the logs never contain.
//! - [`Peer`]: the official `amazon-s3-encryption-client-python`, driven through
//!   `tests/interop/s3ec_peer.py`.
//!
//! Locations come from the environment `cargo xtask test` sets (`SEALDROP_VENV`,
//! `SEALDROP_BIN`), with defaults that work after `cargo xtask setup`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod browser;
pub mod oidc_provider;
pub mod postgres;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// The workspace root.
pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf()
}

fn cache() -> PathBuf {
    std::env::var_os("SEALDROP_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/sealdrop")
        })
}

/// The Python venv with moto and the official S3EC (`cargo xtask setup`).
pub fn venv() -> PathBuf {
    std::env::var_os("SEALDROP_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache().join("venv"))
}

/// The `sealdrop` binary under test.
pub fn sealdrop_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("SEALDROP_BIN") {
        return PathBuf::from(bin);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache().join("target"));
    target.join("debug/sealdrop")
}

/// The names in `dir`, sorted: to show what a command left behind.
pub fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub(crate) fn wait_for_port(port: u16, what: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("{what} did not listen on port {port} within 30 s")
}

/// Kills the child process when dropped.
pub(crate) struct Reaper(pub(crate) Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A `moto_server` on 127.0.0.1 (KMS + S3), one per test.
pub struct Moto {
    port: u16,
    _child: Reaper,
}

impl Moto {
    /// Starts moto with realistic CORS answers.
    pub fn start() -> Result<Moto> {
        let port = free_port();
        let child = Command::new(venv().join("bin/moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_DISABLE_GLOBAL_CORS", "true")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| {
                format!(
                    "starting moto_server from {} (run `cargo xtask setup`)",
                    venv().display()
                )
            })?;
        let child = Reaper(child);
        wait_for_port(port, "moto_server")?;
        Ok(Moto {
            port,
            _child: child,
        })
    }

    /// The endpoint URL.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Environment for AWS SDK clients (ours and sealdrop's) pointed at moto.
    pub fn aws_env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .chain([("AWS_ENDPOINT_URL".to_owned(), self.endpoint())])
        .collect()
    }

    async fn sdk(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "test", "test", None, None, "moto",
            ))
            .endpoint_url(self.endpoint())
            .load()
            .await
    }

    /// An S3 client (path style) for setting up and inspecting storage.
    pub async fn s3(&self) -> aws_sdk_s3::Client {
        let sdk = self.sdk().await;
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk)
                .force_path_style(true)
                .build(),
        )
    }

    /// `bucket`, seen with moto's credentials.
    pub async fn bucket(&self, bucket: &str) -> Bucket {
        Bucket {
            s3: self.s3().await,
            name: bucket.to_owned(),
        }
    }

    /// A KMS client.
    pub async fn kms(&self) -> aws_sdk_kms::Client {
        aws_sdk_kms::Client::new(&self.sdk().await)
    }

    /// Creates a bucket and a symmetric KMS key; returns the key id.
    pub async fn bucket_and_key(&self, bucket: &str) -> Result<String> {
        self.s3()
            .await
            .create_bucket()
            .bucket(bucket)
            .send()
            .await?;
        self.create_key().await
    }

    /// Creates another KMS key.
    pub async fn create_key(&self) -> Result<String> {
        let key = self.kms().await.create_key().send().await?;
        Ok(key
            .key_metadata()
            .context("CreateKey returned no metadata")?
            .key_id()
            .to_owned())
    }
}

/// A running `sealdrop serve`.
pub struct Server {
    /// The broker URL (API and web app).
    pub url: String,
    /// The embedded store URL, if any.
    pub store_url: Option<String>,
    /// The admin token printed on first start.
    pub admin_token: String,
    data_dir: tempfile::TempDir,
    env: Vec<(String, String)>,
    web_root: Option<PathBuf>,
    logs: Arc<Mutex<Vec<String>>>,
    _child: Reaper,
}

/// How to start a [`Server`].
#[derive(Default)]
pub struct ServerOptions {
    /// Extra environment (e.g. `SEALDROP_RATE_LIMIT_BURST`).
    pub env: Vec<(String, String)>,
    /// Serve this web root.
    pub web_root: Option<PathBuf>,
    /// Do not wait for a first admin's login link (replicas, and starts that
    /// must not print one); `admin_token` is then empty.
    pub no_first_login: bool,
}

impl Server {
    /// The embedded default on an empty data directory.
    pub fn embedded(options: ServerOptions) -> Result<Server> {
        Self::start(options, Vec::new(), tempfile::tempdir()?, None)
    }

    /// Against moto: bucket and KMS key must exist.
    pub fn aws(
        moto: &Moto,
        bucket: &str,
        kms_key_id: &str,
        options: ServerOptions,
    ) -> Result<Server> {
        let mut env = Self::aws_env(moto, bucket, kms_key_id);
        // moto checks no presigned signature, which `serve` refuses unless told.
        env.push((
            "SEALDROP_S3_INSECURE_SKIP_PRESIGN_CHECK".to_owned(),
            "true".to_owned(),
        ));
        // AWS mode prints no login link unless asked to.
        if !options.no_first_login {
            env.push(("SEALDROP_BOOTSTRAP_ADMIN".to_owned(), "true".to_owned()));
        }
        Self::start(options, env, tempfile::tempdir()?, None)
    }

    /// The environment of a broker on moto's bucket and key.
    pub fn aws_env(moto: &Moto, bucket: &str, kms_key_id: &str) -> Vec<(String, String)> {
        let mut env = moto.aws_env();
        env.extend([
            ("SEALDROP_BUCKET".to_owned(), bucket.to_owned()),
            ("SEALDROP_KMS_KEY_ID".to_owned(), kms_key_id.to_owned()),
            ("SEALDROP_S3_FORCE_PATH_STYLE".to_owned(), "true".to_owned()),
        ]);
        env
    }

    /// Stops this server and starts it again on the same data directory and
    /// configuration (the admin token is not printed again, so it is kept).
    pub fn restart(self) -> Result<Server> {
        self.restart_with(Vec::new())
    }

    /// Like [`Server::restart`], with some environment variables changed.
    pub fn restart_with(self, changes: Vec<(String, String)>) -> Result<Server> {
        let Server {
            data_dir,
            mut env,
            admin_token,
            web_root,
            _child,
            ..
        } = self;
        drop(_child);
        for (name, value) in changes {
            env.retain(|(k, _)| *k != name);
            env.push((name, value));
        }
        let options = ServerOptions {
            env: Vec::new(),
            web_root,
            no_first_login: false,
        };
        Self::start(options, env, data_dir, Some(admin_token))
    }

    fn start(
        options: ServerOptions,
        mut env: Vec<(String, String)>,
        data_dir: tempfile::TempDir,
        known_token: Option<String>,
    ) -> Result<Server> {
        env.extend(options.env);
        if !env.iter().any(|(k, _)| k == "SEALDROP_LOG") {
            env.push((
                "SEALDROP_LOG".to_owned(),
                "debug,s3s=off,hyper=info,h2=info,aws_smithy_runtime=info,aws_config=info"
                    .to_owned(),
            ));
        }
        let mut command = Command::new(sealdrop_bin());
        command
            .arg("serve")
            .arg("--data-dir")
            .arg(data_dir.path())
            .args(["--listen", "127.0.0.1:0", "--store-listen", "127.0.0.1:0"])
            .env_remove("AWS_PROFILE")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(root) = &options.web_root {
            command.arg("--web-root").arg(root);
        }
        let mut child = command.spawn().with_context(|| {
            format!(
                "starting {} (build it: cargo build -p sealdrop)",
                sealdrop_bin().display()
            )
        })?;
        let stdout = child.stdout.take().context("stdout")?;
        let stderr = child.stderr.take().context("stderr")?;
        let child = Reaper(child);
        let logs = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            Box::new(stdout) as Box<dyn std::io::Read + Send>,
            Box::new(stderr),
        ] {
            let logs = logs.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    logs.lock().unwrap().push(line);
                }
            });
        }

        let deadline = Instant::now() + Duration::from_secs(60);
        let known_token = known_token.or(options.no_first_login.then(String::new));
        let (mut url, mut store_url, mut token) = (None, None, known_token);
        while Instant::now() < deadline && (url.is_none() || token.is_none()) {
            for line in logs.lock().unwrap().iter() {
                if let Some(rest) = line.split(" serving ").nth(1) {
                    url = Some(rest.trim().to_owned());
                }
                if let Some(rest) = line.split("embedded store at ").nth(1) {
                    store_url = rest.split_whitespace().next().map(str::to_owned);
                }
                if let Some(rest) = line.split("#token=").nth(1) {
                    token = Some(rest.trim().to_owned());
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let (Some(url), Some(token)) = (url, token) else {
            bail!(
                "sealdrop serve did not start:\n{}",
                logs.lock().unwrap().join("\n")
            );
        };
        Ok(Server {
            url,
            store_url,
            admin_token: token,
            data_dir,
            env,
            web_root: options.web_root,
            logs,
            _child: child,
        })
    }

    /// Kills `sealdrop serve` at once, as a crash would (its embedded store
    /// goes with it); the data directory stays for [`Server::restart`].
    pub fn kill(&mut self) {
        let _ = self._child.0.kill();
        let _ = self._child.0.wait();
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// `sealdrop admin ARGS` with this server's configuration, not started.
    pub fn admin_command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(sealdrop_bin());
        command
            .arg("admin")
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env(
                "SEALDROP_STORE_LISTEN",
                self.store_url
                    .as_deref()
                    .and_then(|u| u.strip_prefix("http://"))
                    .unwrap_or("127.0.0.1:8081"),
            );
        command
    }

    /// Runs `sealdrop admin ARGS` with this server's configuration; returns stdout.
    pub fn admin(&self, args: &[&str]) -> Result<String> {
        let output = self.admin_command(args).output()?;
        if !output.status.success() {
            bail!(
                "sealdrop admin {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(String::from_utf8(output.stdout)?)
    }

    /// Creates a user and returns their token.
    pub fn add_user(&self, name: &str) -> Result<String> {
        Ok(self.admin(&["user", "add", name])?.trim().to_owned())
    }

    /// A client of this broker with `token`.
    pub fn client(&self, token: &str) -> sealdrop_client::Client {
        sealdrop_client::Client::new(&self.url, token).expect("a client")
    }

    /// Every log line so far (stdout and stderr).
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }

    /// An S3 client for the embedded store, authenticated with its credentials
    /// (to inspect and tamper with stored objects from outside the broker).
    pub async fn store_s3(&self) -> Result<aws_sdk_s3::Client> {
        let creds: serde_json::Value = serde_json::from_slice(&std::fs::read(
            self.data_dir().join("store-credentials.json"),
        )?)?;
        let conf = aws_sdk_s3::config::Builder::new()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                creds["access_key_id"].as_str().context("access key")?,
                creds["secret_access_key"].as_str().context("secret key")?,
                None,
                None,
                "test",
            ))
            .endpoint_url(self.store_url.clone().context("no embedded store")?)
            .force_path_style(true)
            .build();
        Ok(aws_sdk_s3::Client::from_conf(conf))
    }

    /// The embedded store's bucket, seen with the store's credentials.
    pub async fn store_bucket(&self) -> Result<Bucket> {
        Ok(Bucket {
            s3: self.store_s3().await?,
            name: "sealdrop".into(),
        })
    }
}

/// The official Python S3 Encryption Client, as a command-line peer.
pub struct Peer {
    endpoint: String,
    env: Vec<(String, String)>,
}

impl Peer {
    /// A peer talking to moto.
    pub fn new(moto: &Moto) -> Peer {
        Peer {
            endpoint: moto.endpoint(),
            env: moto.aws_env(),
        }
    }

    /// Runs `s3ec_peer.py ARGS`; returns its JSON output line.
    pub fn run(&self, args: &[&str]) -> Result<serde_json::Value> {
        let output = Command::new(venv().join("bin/python"))
            .arg(workspace().join("tests/interop/s3ec_peer.py"))
            .args(["--endpoint", &self.endpoint])
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .context("running tests/interop/s3ec_peer.py")?;
        if !output.status.success() {
            bail!(
                "s3ec_peer.py {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        let stdout = String::from_utf8(output.stdout)?;
        let line = stdout.lines().last().unwrap_or("{}");
        Ok(serde_json::from_str(line)?)
    }

    /// Decrypts `key` with the official client (context `{"sealdrop:key": key}`).
    pub fn get(&self, bucket: &str, key: &str, kms_key_id: &str, out: &Path) -> Result<Vec<u8>> {
        let context = format!("sealdrop:key={key}");
        self.run(&[
            "get",
            "--bucket",
            bucket,
            "--key",
            key,
            "--out",
            out.to_str().context("path")?,
            "--kms-key-id",
            kms_key_id,
            "--context",
            &context,
        ])?;
        Ok(std::fs::read(out)?)
    }

    /// Encrypts and uploads `file` as `key` with the official client, in format
    /// `format` (`"v3"`, its default, or `"v2"`).
    pub fn put(
        &self,
        bucket: &str,
        key: &str,
        kms_key_id: &str,
        file: &Path,
        format: &str,
        multipart: bool,
    ) -> Result<()> {
        let context = format!("sealdrop:key={key}");
        let mut args = vec![
            "put",
            "--bucket",
            bucket,
            "--key",
            key,
            "--file",
            file.to_str().context("path")?,
            "--kms-key-id",
            kms_key_id,
            "--context",
            &context,
            "--format",
            format,
        ];
        if multipart {
            args.push("--multipart");
        }
        self.run(&args)?;
        Ok(())
    }
}

/// Deterministic test content: distinctive, non-repeating within any 64-byte
/// window (so greps for it are meaningful).
pub fn content(size: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..size)
        .map(|_| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
        })
        .collect()
}

/// A bucket seen from outside the broker, with storage credentials: to check
/// what is stored and to tamper with it as someone with bucket access could.
pub struct Bucket {
    /// The S3 client.
    pub s3: aws_sdk_s3::Client,
    /// The bucket.
    pub name: String,
}

impl Bucket {
    fn head_request(
        &self,
        key: &str,
    ) -> aws_sdk_s3::operation::head_object::builders::HeadObjectFluentBuilder {
        self.s3.head_object().bucket(&self.name).key(key)
    }

    /// HEAD.
    pub async fn head(&self, key: &str) -> aws_sdk_s3::operation::head_object::HeadObjectOutput {
        self.head_request(key).send().await.unwrap()
    }

    /// Whether `key` exists.
    pub async fn exists(&self, key: &str) -> bool {
        self.head_request(key).send().await.is_ok()
    }

    /// GET: the object with its headers.
    pub async fn get(&self, key: &str) -> aws_sdk_s3::operation::get_object::GetObjectOutput {
        self.s3
            .get_object()
            .bucket(&self.name)
            .key(key)
            .send()
            .await
            .unwrap()
    }

    /// The stored bytes.
    pub async fn body(&self, key: &str) -> Vec<u8> {
        let out = self.get(key).await;
        out.body.collect().await.unwrap().into_bytes().to_vec()
    }

    /// Stores `body` with `metadata` and content type.
    pub async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        metadata: std::collections::HashMap<String, String>,
        content_type: &str,
    ) {
        self.s3
            .put_object()
            .bucket(&self.name)
            .key(key)
            .set_metadata(Some(metadata))
            .content_type(content_type)
            .body(aws_sdk_s3::primitives::ByteStream::from(body))
            .send()
            .await
            .unwrap();
    }

    /// Rewrites an object in place with `edit` applied to its metadata and body.
    pub async fn tamper(
        &self,
        key: &str,
        edit: impl FnOnce(&mut std::collections::HashMap<String, String>, &mut Vec<u8>),
    ) {
        let head = self.head(key).await;
        let mut metadata = head.metadata().cloned().unwrap_or_default();
        let mut body = self.body(key).await;
        edit(&mut metadata, &mut body);
        self.put(key, body, metadata, "application/octet-stream")
            .await;
    }

    /// Copies an object to another key, with its metadata or with `metadata`.
    pub async fn copy(
        &self,
        from: &str,
        to: &str,
        metadata: Option<std::collections::HashMap<String, String>>,
    ) {
        let mut request = self
            .s3
            .copy_object()
            .bucket(&self.name)
            .key(to)
            .copy_source(format!("{}/{from}", self.name));
        if let Some(metadata) = metadata {
            request = request
                .metadata_directive(aws_sdk_s3::types::MetadataDirective::Replace)
                .set_metadata(Some(metadata));
        }
        request.send().await.unwrap();
    }

    /// Multipart uploads still open under `prefix`.
    pub async fn pending_uploads(&self, prefix: &str) -> usize {
        self.s3
            .list_multipart_uploads()
            .bucket(&self.name)
            .prefix(prefix)
            .send()
            .await
            .unwrap()
            .uploads()
            .len()
    }
}
