//! Shared test fixtures: a real AES-256-GCM key provider, in-process and out-of-process
//! servers, SDK clients.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::operation::{
    abort_multipart_upload::{AbortMultipartUploadError, AbortMultipartUploadOutput},
    complete_multipart_upload::CompleteMultipartUploadOutput,
    copy_object::{CopyObjectError, CopyObjectOutput},
    create_multipart_upload::{CreateMultipartUploadError, CreateMultipartUploadOutput},
    delete_object::DeleteObjectOutput,
    get_bucket_cors::{GetBucketCorsError, GetBucketCorsOutput},
    get_bucket_encryption::{GetBucketEncryptionError, GetBucketEncryptionOutput},
    get_object::{GetObjectError, GetObjectOutput},
    head_object::{HeadObjectError, HeadObjectOutput},
    list_multipart_uploads::ListMultipartUploadsOutput,
    list_objects_v2::ListObjectsV2Output,
    list_parts::{ListPartsError, ListPartsOutput},
    put_object::{PutObjectError, PutObjectOutput},
    upload_part::{UploadPartError, UploadPartOutput},
};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ServerSideEncryption};
use sealdrop_store::{StaticKeys, Store, StoreConfig};
use tokio::io::AsyncBufReadExt;
use zeroize::Zeroizing;

pub const AK: &str = "AKTESTSEALDROP";
pub const SK: &str = "test-secret-key-do-not-use";
pub const BUCKET: &str = "sealdrop-test";
pub const KEY_ID: &str = "test-key";
pub const OTHER_KEY_ID: &str = "other-key";

/// The key provider of the tests: the store's [`StaticKeys`] (AES-256-GCM wrapping, the
/// context as AAD) with the key ids [`KEY_ID`] (the default) and [`OTHER_KEY_ID`].
pub struct TestKms;

impl TestKms {
    /// Random key-encryption keys.
    #[allow(clippy::new_ret_no_self)]
    pub fn new() -> StaticKeys {
        Self::with(|_| {
            let mut key = Zeroizing::new([0u8; 32]);
            getrandom::fill(key.as_mut()).unwrap();
            key
        })
    }

    /// Key-encryption keys derived from fixed strings, so that a data directory written with
    /// one instance can be read with another: the committed format fixtures
    /// (`tests/fixtures/`) were written with these keys.
    pub fn fixed() -> StaticKeys {
        use sha2::{Digest, Sha256};
        Self::with(|id| {
            Zeroizing::new(Sha256::digest(format!("sealdrop-store fixture kek {id}")).into())
        })
    }

    fn with(kek: impl Fn(&str) -> Zeroizing<[u8; 32]>) -> StaticKeys {
        let keys = [KEY_ID, OTHER_KEY_ID]
            .into_iter()
            .map(|id| (id.to_owned(), kek(id)))
            .collect();
        StaticKeys::new(keys).unwrap()
    }
}

pub struct TestServer {
    pub store: Store,
    pub addr: SocketAddr,
    pub root: PathBuf,
    /// What the store was opened with (to open it again after [`TestServer::stop`]).
    pub config: StoreConfig,
    serving: tokio::task::JoinHandle<std::io::Result<()>>,
    /// Holds the directory for as long as the server lives.
    dir: tempfile::TempDir,
}

/// A data directory whose store has been closed: its files may be examined or changed, and it
/// may be opened again.
pub struct StoppedStore {
    pub dir: tempfile::TempDir,
    pub root: PathBuf,
    pub config: StoreConfig,
}

impl StoppedStore {
    /// Opens and serves the directory again with the same configuration.
    pub async fn start(self) -> TestServer {
        let store = Store::open(self.config.clone()).unwrap();
        TestServer::serve(store, self.config, self.dir, self.root).await
    }

    /// The redb index of the directory, opened directly (to look at what is on disk).
    pub fn index(&self) -> redb::Database {
        redb::Database::open(self.root.join("index.redb")).unwrap()
    }
}

impl TestServer {
    /// An in-process store on a fresh directory with bucket [`BUCKET`].
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(f: impl FnOnce(&mut StoreConfig)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("store");
        Self::start_in(dir, root, f).await
    }

    /// An in-process store on `root` (inside `dir`, which lives as long as the server), which
    /// may already hold data.
    pub async fn start_in(
        dir: tempfile::TempDir,
        root: PathBuf,
        f: impl FnOnce(&mut StoreConfig),
    ) -> Self {
        let mut config = StoreConfig::new(&root, Arc::new(TestKms::new()));
        config.credentials = vec![(AK.into(), SK.into())];
        config.cors_origins = vec!["http://app.test".into()];
        f(&mut config);
        let store = Store::open(config.clone()).unwrap();
        store.create_bucket_if_missing(BUCKET).unwrap();
        Self::serve(store, config, dir, root).await
    }

    async fn serve(
        store: Store,
        config: StoreConfig,
        dir: tempfile::TempDir,
        root: PathBuf,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let serving = tokio::spawn(store.clone().serve(listener));
        Self {
            store,
            addr,
            root,
            config,
            serving,
            dir,
        }
    }

    /// Stops serving and waits until the store is closed. Every client of this server must
    /// have been dropped: a connection still open keeps the store open.
    pub async fn stop(mut self) -> StoppedStore {
        self.serving.abort();
        let _ = (&mut self.serving).await;
        let TestServer {
            store,
            root,
            config,
            dir,
            ..
        } = self;
        drop(store);
        // The connections' tasks end (and let go of the store) once they see the clients
        // close; until then the index is still locked.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            match redb::Database::open(root.join("index.redb")) {
                Ok(_) => break,
                Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                    assert!(
                        std::time::Instant::now() < deadline,
                        "the store was not closed"
                    );
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("index: {e}"),
            }
        }
        StoppedStore { dir, root, config }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn client(&self) -> aws_sdk_s3::Client {
        client_for(&self.endpoint())
    }
}

/// An SDK client with default settings (checksums "when supported", i.e. what real SDK users
/// send: `aws-chunked` bodies with CRC trailers on PUT/UploadPart).
pub fn client_for(endpoint: &str) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(AK, SK, None, None, "test"))
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// A distinctive, non-repeating byte pattern (a counter hashed into bytes).
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut out = Vec::with_capacity(len + 32);
    let mut i = 0u64;
    while out.len() < len {
        let mut h = Sha256::new();
        h.update(seed.to_le_bytes());
        h.update(i.to_le_bytes());
        out.extend_from_slice(&h.finalize());
        i += 1;
    }
    out.truncate(len);
    out
}

pub fn md5_hex(data: &[u8]) -> String {
    use md5::{Digest, Md5};
    hex::encode(Md5::digest(data))
}

/// All regular files under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Defines `async fn $name(c, bucket, key, args...)` (`object`) or `async fn $name(c,
/// bucket, args...)` (`bucket`): the SDK request `$op` of the bucket (and key) with the given
/// setters and nothing else, sent, then finished with `$outcome`: `unwrap` (it must succeed),
/// `unwrap_err` (it must fail) or `is_err` (whether it failed); without one, the result as it
/// is. For the plain requests the tests make over and over.
macro_rules! request {
    (@ $(#[$doc:meta])* [$($address:ident)*] $name:ident = $op:ident
        $(.$setter:ident($arg:ident: $ty:ty))* $(=> $outcome:ident)? -> $out:ty) => {
        $(#[$doc])*
        pub async fn $name(
            c: &aws_sdk_s3::Client,
            $($address: impl Into<String>,)*
            $($arg: $ty),*
        ) -> $out {
            c.$op()
                $(.$address($address))*
                $(.$setter($arg))*
                .send()
                .await
                $(.$outcome())?
        }
    };
    ($(#[$doc:meta])* object $($rest:tt)*) => {
        request!(@ $(#[$doc])* [bucket key] $($rest)*);
    };
    ($(#[$doc:meta])* bucket $($rest:tt)*) => {
        request!(@ $(#[$doc])* [bucket] $($rest)*);
    };
}

/// An SDK error of operation `E`.
type SdkErr<E> = aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>;

request!(
    /// GetObject of (bucket, key), which must succeed.
    object get = get_object => unwrap -> GetObjectOutput
);
request!(
    /// The error of a GetObject of (bucket, key), which must fail.
    object get_err = get_object => unwrap_err -> SdkErr<GetObjectError>
);
request!(
    /// GetObject of `range` ("bytes=a-b") of (bucket, key), which must succeed.
    object get_range = get_object.range(range: impl Into<String>) => unwrap -> GetObjectOutput
);
request!(
    /// Whether a GetObject of `range` of (bucket, key) fails (a read of damaged data must).
    object range_fails = get_object.range(range: impl Into<String>) => is_err -> bool
);
request!(
    /// GetObject of part `part_number` of (bucket, key), which must succeed.
    object get_part = get_object.part_number(part_number: i32) => unwrap -> GetObjectOutput
);
request!(
    /// HeadObject of (bucket, key), which must succeed.
    object head = head_object => unwrap -> HeadObjectOutput
);
request!(
    /// The error of a HeadObject of (bucket, key), which must fail.
    object head_err = head_object => unwrap_err -> SdkErr<HeadObjectError>
);
request!(
    /// PutObject of `body` at (bucket, key), which must succeed.
    object put = put_object.body(body: ByteStream) => unwrap -> PutObjectOutput
);
request!(
    /// The error of a PutObject of `body` at (bucket, key), which must fail.
    object put_err = put_object.body(body: ByteStream) => unwrap_err -> SdkErr<PutObjectError>
);
request!(
    /// PutObject of `body` at (bucket, key) with the SSE headers given (`None`: not sent).
    object put_sse = put_object
        .set_server_side_encryption(sse: Option<ServerSideEncryption>)
        .set_ssekms_key_id(key_id: Option<String>)
        .body(body: ByteStream)
        -> Result<PutObjectOutput, SdkErr<PutObjectError>>
);
request!(
    /// CopyObject of `source` ("bucket/key") to (bucket, key), which must succeed.
    object copy = copy_object.copy_source(source: impl Into<String>) => unwrap -> CopyObjectOutput
);
request!(
    /// The error of a CopyObject as [`copy`] sends it, which must fail.
    object copy_err = copy_object.copy_source(source: impl Into<String>)
        => unwrap_err -> SdkErr<CopyObjectError>
);
request!(
    /// DeleteObject of (bucket, key), which must succeed.
    object delete = delete_object => unwrap -> DeleteObjectOutput
);
request!(
    /// CreateMultipartUpload of (bucket, key), which must succeed.
    object create_upload = create_multipart_upload => unwrap -> CreateMultipartUploadOutput
);
request!(
    /// CreateMultipartUpload of (bucket, key) with the SSE headers given (`None`: not sent).
    object create_upload_sse = create_multipart_upload
        .set_server_side_encryption(sse: Option<ServerSideEncryption>)
        .set_ssekms_key_id(key_id: Option<String>)
        -> Result<CreateMultipartUploadOutput, SdkErr<CreateMultipartUploadError>>
);
request!(
    /// UploadPart of `body` as part `part_number` of `upload_id`, which must succeed.
    object upload_part = upload_part
        .upload_id(upload_id: &str)
        .part_number(part_number: i32)
        .body(body: ByteStream)
        => unwrap -> UploadPartOutput
);
request!(
    /// The error of an UploadPart as [`upload_part`] sends it, which must fail.
    object upload_part_err = upload_part
        .upload_id(upload_id: &str)
        .part_number(part_number: i32)
        .body(body: ByteStream)
        => unwrap_err -> SdkErr<UploadPartError>
);
request!(
    /// ListParts of `upload_id`, which must succeed.
    object list_parts = list_parts.upload_id(upload_id: &str) => unwrap -> ListPartsOutput
);
request!(
    /// The error of a ListParts of `upload_id`, which must fail.
    object list_parts_err = list_parts.upload_id(upload_id: &str) => unwrap_err -> SdkErr<ListPartsError>
);
request!(
    /// CompleteMultipartUpload of `upload_id` with `parts`, which must succeed.
    object complete_upload = complete_multipart_upload
        .upload_id(upload_id: &str)
        .multipart_upload(parts: CompletedMultipartUpload)
        => unwrap -> CompleteMultipartUploadOutput
);
request!(
    /// AbortMultipartUpload of `upload_id`, which must succeed.
    object abort_upload = abort_multipart_upload.upload_id(upload_id: &str)
        => unwrap -> AbortMultipartUploadOutput
);
request!(
    /// The error of an AbortMultipartUpload of `upload_id`, which must fail.
    object abort_upload_err = abort_multipart_upload.upload_id(upload_id: &str)
        => unwrap_err -> SdkErr<AbortMultipartUploadError>
);
request!(
    /// ListObjectsV2 of the whole bucket (one page), which must succeed.
    bucket list_objects = list_objects_v2 => unwrap -> ListObjectsV2Output
);
request!(
    /// ListMultipartUploads of the bucket, which must succeed.
    bucket list_uploads = list_multipart_uploads => unwrap -> ListMultipartUploadsOutput
);
request!(
    /// GetBucketEncryption, which must succeed.
    bucket get_encryption = get_bucket_encryption => unwrap -> GetBucketEncryptionOutput
);
request!(
    /// The error of a GetBucketEncryption, which must fail.
    bucket get_encryption_err = get_bucket_encryption
        => unwrap_err -> SdkErr<GetBucketEncryptionError>
);
request!(
    /// GetBucketCors, which must succeed.
    bucket get_cors = get_bucket_cors => unwrap -> GetBucketCorsOutput
);
request!(
    /// The error of a GetBucketCors, which must fail.
    bucket get_cors_err = get_bucket_cors => unwrap_err -> SdkErr<GetBucketCorsError>
);

/// PutObject of `body` at (bucket, key) with `content_type` (if given) and user `metadata`,
/// which must succeed.
pub async fn put_described(
    c: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    content_type: Option<&str>,
    metadata: &[(&str, &str)],
    body: ByteStream,
) -> PutObjectOutput {
    let metadata = metadata
        .iter()
        .map(|&(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    c.put_object()
        .bucket(bucket)
        .key(key)
        .set_content_type(content_type.map(str::to_owned))
        .set_metadata(Some(metadata))
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Uploads `parts` as parts 1, 2, ... of `upload_id` and returns them as they are to be
/// completed.
pub async fn upload_parts(
    c: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    upload_id: &str,
    parts: &[Vec<u8>],
) -> Vec<CompletedPart> {
    let mut done = Vec::new();
    for (i, p) in (1..).zip(parts) {
        let out = upload_part(c, bucket, key, upload_id, i, ByteStream::from(p.clone())).await;
        done.push(completed_part(i, out.e_tag().unwrap()));
    }
    done
}

/// The names (keys, prefixes) of listing entries, each of which must have one.
pub fn names<'a, T>(entries: &'a [T], name: impl Fn(&'a T) -> Option<&'a str>) -> Vec<&'a str> {
    entries.iter().map(|e| name(e).unwrap()).collect()
}

/// Asserts that HeadObject of (bucket, key) fails: a refused write left nothing behind.
pub async fn assert_absent(c: &aws_sdk_s3::Client, bucket: &str, key: &str) {
    let head = c.head_object().bucket(bucket).key(key).send().await;
    assert!(head.is_err(), "{bucket}/{key} exists");
}

/// Asserts that `bucket` has no multipart upload in progress.
pub async fn assert_no_uploads(c: &aws_sdk_s3::Client, bucket: &str) {
    let list = list_uploads(c, bucket).await;
    assert!(list.uploads().is_empty(), "{:?}", list.uploads());
}

/// Asserts that a response reports SSE `aws:kms` (and, if given, that key id).
macro_rules! assert_kms {
    ($response:expr) => {
        assert_eq!(
            $response.server_side_encryption(),
            Some(&aws_sdk_s3::types::ServerSideEncryption::AwsKms)
        )
    };
    ($response:expr, $key_id:expr) => {
        assert_kms!($response);
        assert_eq!($response.ssekms_key_id(), Some($key_id))
    };
}
pub(crate) use assert_kms;

/// Asserts that a response carries user metadata `key` with `value`.
macro_rules! assert_meta {
    ($response:expr, $key:expr, $value:expr) => {
        assert_eq!(
            $response.metadata().unwrap().get($key).map(String::as_str),
            Some($value)
        )
    };
}
pub(crate) use assert_meta;

/// The CompletedPart of part `n` with `etag` (as UploadPart returned it).
pub fn completed_part(n: i32, etag: &str) -> CompletedPart {
    CompletedPart::builder().part_number(n).e_tag(etag).build()
}

/// The CompleteMultipartUpload body choosing `parts` (part number, ETag as returned).
pub fn completed(parts: &[(i32, &str)]) -> CompletedMultipartUpload {
    completed_parts(
        parts
            .iter()
            .map(|&(n, etag)| completed_part(n, etag))
            .collect(),
    )
}

/// The CompleteMultipartUpload body of `parts` as they are.
pub fn completed_parts(parts: Vec<CompletedPart>) -> CompletedMultipartUpload {
    CompletedMultipartUpload::builder()
        .set_parts(Some(parts))
        .build()
}

/// Sets `bucket`'s default encryption to aws:kms (with `key_id`, else the provider's default
/// key; `bucket_key`: the BucketKeyEnabled flag of the rule, unset if `None`).
pub async fn put_default_kms(
    c: &aws_sdk_s3::Client,
    bucket: &str,
    key_id: Option<&str>,
    bucket_key: Option<bool>,
) {
    use aws_sdk_s3::types::{
        ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    };
    let by_default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::AwsKms)
        .set_kms_master_key_id(key_id.map(str::to_owned))
        .build()
        .unwrap();
    let rule = ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(by_default)
        .set_bucket_key_enabled(bucket_key)
        .build();
    let cfg = ServerSideEncryptionConfiguration::builder()
        .rules(rule)
        .build()
        .unwrap();
    c.put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(cfg)
        .send()
        .await
        .unwrap();
}

/// The rule of `bucket`'s default encryption, which must be aws:kms; the key id and the
/// BucketKeyEnabled flag are for the caller to check.
pub async fn default_kms_rule(
    c: &aws_sdk_s3::Client,
    bucket: &str,
) -> aws_sdk_s3::types::ServerSideEncryptionRule {
    let got = get_encryption(c, bucket).await;
    let rule = got.server_side_encryption_configuration().unwrap().rules()[0].clone();
    let by_default = rule.apply_server_side_encryption_by_default().unwrap();
    assert_eq!(
        by_default.sse_algorithm(),
        &ServerSideEncryption::AwsKms,
        "{bucket}"
    );
    rule
}

/// The key id of a default encryption rule.
pub fn default_key_id(rule: &aws_sdk_s3::types::ServerSideEncryptionRule) -> Option<&str> {
    rule.apply_server_side_encryption_by_default()
        .unwrap()
        .kms_master_key_id()
}

pub async fn body_bytes(out: aws_sdk_s3::operation::get_object::GetObjectOutput) -> Vec<u8> {
    out.body.collect().await.unwrap().into_bytes().to_vec()
}

/// The error code of an SDK error (from the XML body), or the HTTP status for bodiless errors.
pub fn err_code<E, R>(e: &aws_sdk_s3::error::SdkError<E, R>) -> String
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    match e.as_service_error() {
        Some(se) => se.code().unwrap_or("").to_owned(),
        None => format!("{e:?}"),
    }
}

/// A store in a separate process (`sealdrop-store-server`), for kill -9 tests.
pub struct ServerProcess {
    pub child: tokio::process::Child,
    pub addr: SocketAddr,
}

pub const TEST_KEK: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

impl ServerProcess {
    pub async fn start(root: &Path) -> Self {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_sealdrop-store-server"))
            .env("SEALDROP_STORE_ROOT", root)
            .env("SEALDROP_STORE_ACCESS_KEY", AK)
            .env("SEALDROP_STORE_SECRET_KEY", SK)
            .env("SEALDROP_STORE_KEK", TEST_KEK)
            .env("SEALDROP_STORE_BUCKETS", BUCKET)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let addr = line.strip_prefix("listening on ").unwrap().parse().unwrap();
        Self { child, addr }
    }

    pub fn client(&self) -> aws_sdk_s3::Client {
        client_for(&format!("http://{}", self.addr))
    }

    pub async fn kill9(mut self) {
        self.child.start_kill().unwrap(); // SIGKILL
        self.child.wait().await.unwrap();
    }
}
