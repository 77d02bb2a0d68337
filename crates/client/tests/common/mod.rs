//! The client's tests run against a real deployment: the broker and the
//! embedded store of `sealdrop-server`, on an empty temporary data directory,
//! in this process. Two things sit in between, because the tests need to see
//! and break what happens on the wire:
//!
//! - a **storage proxy**: the broker presigns its URLs for the proxy's
//!   address (`store.public_url`), and the proxy forwards every request to
//!   the store unchanged (the `Host` the signature covers included). It
//!   records the body of every part upload attempt and the parts in flight,
//!   delays part uploads, fails them with a chosen status, and can rewrite
//!   download bodies;
//! - a **call recorder** layered on the broker's router, keeping the route and
//!   JSON body of every API call.
//!
//! Nothing about the broker or the store is imitated: what the client is
//! checked against is what it meets in production.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fixture

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use sealdrop_broker::{AppState, Config};
use sealdrop_envelope::ContentMetadata;
use sealdrop_server::{Deployment, Serving};
use serde_json::Value;
use tokio::net::TcpListener;

pub const USER: &str = "alice";
const MIB: u64 = 1024 * 1024;
/// The smallest part S3 accepts; objects from this stored size on go multipart.
pub const PART_SIZE: u64 = 5 * MIB;

/// A failure the proxy answers instead of storage, for uploads of one part
/// (`None`: single PUTs).
#[derive(Clone, Debug)]
pub struct Fault {
    pub part: Option<u32>,
    pub status: u16,
    /// How many requests fail; `u32::MAX` for always.
    pub times: u32,
}

/// What the storage proxy does and saw.
#[derive(Default)]
pub struct Wire {
    pub faults: Vec<Fault>,
    /// Added before every part upload is forwarded.
    pub part_delay: Duration,
    /// Applied to the body of every successful download.
    pub rewrite_downloads: Option<fn(Vec<u8>) -> Vec<u8>>,
    /// The body of every upload attempt of each part (failed ones too).
    pub attempts: BTreeMap<u32, Vec<Bytes>>,
    pub in_flight: usize,
    pub max_in_flight: usize,
}

/// A broker API call: its path and JSON body (`Null` when it has none).
pub type Call = (String, Value);

pub struct Harness {
    pub state: AppState,
    pub wire: Arc<Mutex<Wire>>,
    calls: Arc<Mutex<Vec<Call>>>,
    broker_url: String,
    token: String,
    _data_dir: tempfile::TempDir,
    _serving: Serving,
    _tasks: Vec<AbortOnDrop>,
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Harness {
    /// The embedded default with 5 MiB parts from 5 MiB on, and one user.
    pub async fn start() -> Harness {
        let data_dir = tempfile::tempdir().unwrap();
        let proxy = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut config = Config {
            data_dir: data_dir.path().to_owned(),
            listen: "127.0.0.1:0".parse().unwrap(),
            part_size: PART_SIZE,
            multipart_threshold: PART_SIZE,
            ..Config::default()
        };
        config.store.listen = "127.0.0.1:0".parse().unwrap();
        config.store.public_url = Some(format!("http://{}", proxy.local_addr().unwrap()));
        let deployment = Deployment::start(config).await.unwrap();
        let store = format!("http://{}", deployment.config().store.listen);
        let state = deployment.state().clone();
        let token = state
            .db
            .add_user(USER, None)
            .await
            .unwrap()
            .token
            .to_string();
        let (router, serving) = deployment.into_router(None);

        let wire = Arc::new(Mutex::new(Wire::default()));
        let forwarder = Forwarder {
            store,
            http: reqwest::Client::new(),
            wire: Arc::clone(&wire),
        };
        let proxy_task = serve(proxy, Router::new().fallback(forward).with_state(forwarder));

        let calls = Arc::new(Mutex::new(Vec::new()));
        let router = router.layer(middleware::from_fn_with_state(Arc::clone(&calls), record));
        let broker = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let broker_url = format!("http://{}", broker.local_addr().unwrap());
        let broker_task = serve(broker, router);
        Harness {
            state,
            wire,
            calls,
            broker_url,
            token,
            _data_dir: data_dir,
            _serving: serving,
            _tasks: vec![proxy_task, broker_task],
        }
    }

    pub fn url(&self) -> String {
        self.broker_url.clone()
    }

    /// A client signed in as [`USER`].
    pub fn client(&self) -> sealdrop_client::Client {
        sealdrop_client::Client::new(&self.broker_url, &self.token).unwrap()
    }

    pub fn with_wire<T>(&self, f: impl FnOnce(&mut Wire) -> T) -> T {
        f(&mut self.wire.lock().unwrap())
    }

    /// The API calls made to `path` (e.g. `/api/v1/uploads/parts`), in order.
    pub fn calls_to(&self, path: &str) -> Vec<Value> {
        let calls = self.calls.lock().unwrap();
        calls
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, body)| body.clone())
            .collect()
    }

    fn s3(&self) -> (&aws_sdk_s3::Client, &str) {
        (self.state.storage.client(), self.state.storage.bucket())
    }

    /// What storage holds at `key`, read directly from the store.
    pub async fn stored(&self, key: &str) -> Option<Stored> {
        let (s3, bucket) = self.s3();
        let object = match s3.get_object().bucket(bucket).key(key).send().await {
            Ok(object) => object,
            Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => return None,
            Err(e) => panic!("reading {key}: {e:?}"),
        };
        Some(Stored {
            metadata: object.metadata().cloned().unwrap_or_default(),
            content_type: object.content_type().map(str::to_owned),
            server_side_encryption: object.server_side_encryption().map(|s| s.to_string()),
            body: object.body.collect().await.unwrap().to_vec(),
        })
    }

    /// Replaces the bytes at `key` with `body`, keeping its metadata: what
    /// someone with write access to the bucket can do.
    pub async fn overwrite(&self, key: &str, body: Vec<u8>) {
        let stored = self.stored(key).await.unwrap();
        let (s3, bucket) = self.s3();
        s3.put_object()
            .bucket(bucket)
            .key(key)
            .set_metadata(Some(stored.metadata.into_iter().collect()))
            .set_content_type(stored.content_type)
            .body(body.into())
            .send()
            .await
            .unwrap();
    }

    /// Multipart uploads storage still holds.
    pub async fn uploads_in_progress(&self) -> usize {
        let (s3, bucket) = self.s3();
        let listed = s3
            .list_multipart_uploads()
            .bucket(bucket)
            .send()
            .await
            .unwrap();
        listed.uploads().len()
    }

    /// The plaintext of a client-side encrypted object, decrypted from what
    /// storage holds with the envelope crate alone (the data key unwrapped by
    /// the deployment's key provider): what any S3EC reader would do.
    pub async fn decrypt_stored(&self, key: &str) -> Vec<u8> {
        let stored = self.stored(key).await.unwrap();
        let metadata = ContentMetadata::parse(
            stored
                .metadata
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        )
        .unwrap();
        let opened = self.state.keys.open(&metadata, key).await.unwrap();
        sealdrop_envelope::open(&metadata, &opened.data_key, &stored.body)
            .unwrap()
            .to_vec()
    }
}

/// An object as storage holds it.
pub struct Stored {
    pub body: Vec<u8>,
    pub metadata: HashMap<String, String>,
    pub content_type: Option<String>,
    pub server_side_encryption: Option<String>,
}

fn serve(listener: TcpListener, router: Router) -> AbortOnDrop {
    AbortOnDrop(tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    }))
}

/// Keeps the path and JSON body of every API call.
async fn record(
    State(calls): State<Arc<Mutex<Vec<Call>>>>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    calls
        .lock()
        .unwrap()
        .push((parts.uri.path().to_owned(), json));
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

#[derive(Clone)]
struct Forwarder {
    store: String,
    http: reqwest::Client,
    wire: Arc<Mutex<Wire>>,
}

/// The part number of a part upload (`PUT ?partNumber=&uploadId=`), or
/// `None` for other requests.
fn part_number(query: Option<&str>) -> Option<u32> {
    let query = query?;
    if !query.contains("uploadId=") {
        return None;
    }
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("partNumber="))
        .and_then(|n| n.parse().ok())
}

/// An S3 error document, as storage would send it.
fn s3_error(status: u16) -> Response {
    let code = match status {
        403 => "AccessDenied",
        500 => "InternalError",
        503 => "SlowDown",
        _ => "InvalidRequest",
    };
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
         <Message>injected by the test proxy</Message></Error>"
    );
    let status = StatusCode::from_u16(status).unwrap();
    (status, [("content-type", "application/xml")], body).into_response()
}

async fn forward(State(f): State<Forwarder>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let is_put = parts.method == axum::http::Method::PUT;
    let part = part_number(parts.uri.query()).filter(|_| is_put);
    let is_single_put = is_put && parts.uri.query().is_none_or(|q| !q.contains("uploadId="));
    let delay = {
        let mut wire = f.wire.lock().unwrap();
        if let Some(number) = part {
            wire.attempts.entry(number).or_default().push(body.clone());
        }
        if part.is_some() || is_single_put {
            let fault = wire
                .faults
                .iter_mut()
                .find(|fault| fault.part == part && fault.times > 0);
            if let Some(fault) = fault {
                fault.times -= 1;
                return s3_error(fault.status);
            }
        }
        if part.is_some() {
            wire.in_flight += 1;
            wire.max_in_flight = wire.max_in_flight.max(wire.in_flight);
            wire.part_delay
        } else {
            Duration::ZERO
        }
    };
    tokio::time::sleep(delay).await;
    let response = pass_on(&f, parts.method, &parts.uri, parts.headers, body).await;
    if part.is_some() {
        f.wire.lock().unwrap().in_flight -= 1;
    }
    response
}

/// Sends the request on to the store and its answer back, rewriting the
/// body of a successful download if asked to.
async fn pass_on(
    f: &Forwarder,
    method: axum::http::Method,
    uri: &axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let is_get = method == axum::http::Method::GET;
    let answer = f
        .http
        .request(method, format!("{}{path}", f.store))
        .headers(headers)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = answer.status();
    let mut headers = answer.headers().clone();
    let mut body = answer.bytes().await.unwrap().to_vec();
    let rewrite = f.wire.lock().unwrap().rewrite_downloads;
    if let Some(rewrite) = rewrite.filter(|_| is_get && status.is_success()) {
        body = rewrite(body);
    }
    // The body is sent whole, with its own length.
    headers.remove("content-length");
    headers.remove("transfer-encoding");
    (status, headers, body).into_response()
}
