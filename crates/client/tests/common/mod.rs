//! A small, real HTTP server playing broker and storage for the client's tests.
//!
//! It speaks the broker's JSON API and serves the "presigned" URLs it hands
//! out itself, storing bodies in memory. It checks what a real store checks
//! that matters to the client (the signed headers are sent exactly, no unsigned
//! `x-amz-*` header, Content-Length), records what happened (bodies of every
//! attempt, aborts, concurrency), and injects failures on request. It is not a
//! model of the broker's policy: keys are `<user>/<name>`, one user.
#![allow(dead_code)] // each test binary uses a different part of the fixture
#![allow(clippy::unwrap_used, clippy::result_large_err)] // a test fixture

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use sealdrop_api::*;
use sealdrop_envelope::{
    ContentCipher, ContentMetadata, DataKey, EncryptionContext, KeyWrapping, MessageId, commitment,
};

pub const TOKEN: &str = "test-token";
pub const USER: &str = "alice";
pub const KMS_KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/test";

/// Upload layout the fake broker uses.
#[derive(Clone, Copy)]
pub struct Layout {
    pub multipart_threshold: u64,
    pub part_size: u64,
    /// Parts presigned in the create response; the rest via `/uploads/parts`.
    pub first_parts: u32,
}

impl Default for Layout {
    fn default() -> Self {
        Layout {
            multipart_threshold: 64 * 1024,
            part_size: 32 * 1024,
            first_parts: 2,
        }
    }
}

/// A failure to inject into uploads of one part (`None`: single PUTs).
#[derive(Clone, Debug)]
pub struct Fault {
    pub part: Option<u32>,
    pub status: u16,
    /// How many requests fail; `u32::MAX` for always.
    pub times: u32,
}

#[derive(Clone)]
pub struct StoredObject {
    pub body: Vec<u8>,
    pub mode: ObjectMode,
    /// S3EC metadata (CSE).
    pub metadata: BTreeMap<String, String>,
    /// Base64 data key (CSE): what the broker would get from KMS.
    pub data_key: Option<String>,
    /// The stored size the broker reports, if not the body's (a truncated object).
    pub declared_size: Option<u64>,
}

pub struct PendingUpload {
    pub key: String,
    pub mode: Mode,
    pub metadata: BTreeMap<String, String>,
    pub data_key: Option<String>,
    pub signed_headers: BTreeMap<String, String>,
    pub parts: BTreeMap<u32, Vec<u8>>,
}

#[derive(Default)]
pub struct Record {
    /// Every body received for a part (or for single PUTs, part 0), in order.
    pub attempts: BTreeMap<u32, Vec<Vec<u8>>>,
    pub aborted: Vec<String>,
    pub completed: Vec<String>,
    pub sign_calls: Vec<Vec<u32>>,
    pub in_flight: usize,
    pub max_in_flight: usize,
}

pub struct Inner {
    pub layout: Layout,
    pub objects: BTreeMap<String, StoredObject>,
    pub uploads: HashMap<String, PendingUpload>,
    pub faults: Vec<Fault>,
    /// How long each part PUT takes, to observe concurrency.
    pub part_delay: Duration,
    /// Listing page size.
    pub page_size: usize,
    pub record: Record,
    next_id: u64,
}

#[derive(Clone)]
pub struct Fake {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<Inner>>,
}

type Shared = State<(Arc<Mutex<Inner>>, SocketAddr)>;

impl Fake {
    pub async fn start(layout: Layout) -> Fake {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(Inner {
            layout,
            objects: BTreeMap::new(),
            uploads: HashMap::new(),
            faults: Vec::new(),
            part_delay: Duration::ZERO,
            page_size: 100,
            record: Record::default(),
            next_id: 0,
        }));
        let app = Router::new()
            .route(routes::ME, get(me))
            .route(routes::UPLOADS, post(create_upload))
            .route(routes::UPLOAD_PARTS, post(sign_parts))
            .route(routes::UPLOAD_COMPLETE, post(complete))
            .route(routes::UPLOAD_ABORT, post(abort))
            .route(routes::OBJECTS, get(list).delete(delete))
            .route(routes::OBJECT_INFO, get(info))
            .route(routes::OBJECT_OPEN, post(open))
            .route("/store/object/{*key}", put(put_object).get(get_object))
            .route("/store/part/{upload_id}/{number}", put(put_part))
            .with_state((Arc::clone(&state), addr));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Fake { addr, state }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn client(&self) -> sealdrop_client::Client {
        sealdrop_client::Client::new(&self.url(), TOKEN).unwrap()
    }

    pub fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }

    pub fn object(&self, key: &str) -> Option<StoredObject> {
        self.with(|s| s.objects.get(key).cloned())
    }
}

fn api_error(status: StatusCode, code: ErrorCode, message: &str) -> Response {
    let body = ErrorBody {
        error: ErrorDetail {
            code,
            message: message.into(),
        },
    };
    (status, Json(body)).into_response()
}

fn authenticate(headers: &HeaderMap) -> Result<(), Response> {
    let expected = format!("Bearer {TOKEN}");
    match headers.get("authorization").and_then(|v| v.to_str().ok()) {
        Some(value) if value == expected => Ok(()),
        _ => Err(api_error(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthenticated,
            "invalid token",
        )),
    }
}

macro_rules! auth {
    ($headers:expr) => {
        if let Err(response) = authenticate(&$headers) {
            return response;
        }
    };
}

async fn me(headers: HeaderMap, State((state, _)): Shared) -> Response {
    auth!(headers);
    let layout = state.lock().unwrap().layout;
    Json(Me {
        user: USER.into(),
        prefix: format!("{USER}/"),
        auth: AuthMethod::Token,
        kms_key_id: KMS_KEY.into(),
        limits: Limits {
            max_object_size: 1 << 40,
            multipart_threshold: layout.multipart_threshold,
            presign_ttl_secs: 900,
        },
    })
    .into_response()
}

fn presigned(url: String, headers: &BTreeMap<String, String>) -> PresignedRequest {
    PresignedRequest {
        method: PresignedMethod::Put,
        url: format!("{url}?X-Amz-Signature=secret"),
        headers: headers.clone(),
    }
}

fn part_request(addr: SocketAddr, upload_id: &str, number: u32) -> PresignedPart {
    PresignedPart {
        part_number: number,
        request: presigned(
            format!("http://{addr}/store/part/{upload_id}/{number}"),
            &BTreeMap::new(),
        ),
    }
}

async fn create_upload(
    headers: HeaderMap,
    State((state, addr)): Shared,
    Json(request): Json<CreateUploadRequest>,
) -> Response {
    auth!(headers);
    let mut s = state.lock().unwrap();
    let UploadTarget::Name(name) = &request.target else {
        return api_error(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, "names only");
    };
    let key = format!("{USER}/{name}");
    if s.objects.contains_key(&key) && !request.overwrite {
        return api_error(StatusCode::CONFLICT, ErrorCode::Conflict, "object exists");
    }
    let (stored_size, cse, metadata, data_key) = match request.mode {
        Mode::Cse => {
            let data_key = DataKey::generate().unwrap();
            let message_id = MessageId::generate().unwrap();
            let encoded_message_id = message_id.to_base64();
            let commitment = commitment(&data_key, &message_id);
            let context = EncryptionContext::for_object(&key);
            let metadata = ContentMetadata::v3(
                b"wrapped-by-fake-kms".to_vec(),
                KeyWrapping::Kms {
                    context: context.to_stored(ContentCipher::CommittingAesGcm),
                },
                message_id,
                commitment,
            )
            .unwrap()
            .to_map();
            let encoded = data_key.to_base64().to_string();
            let materials = CseMaterials {
                format: CseFormat::V3,
                data_key: SecretString::new(encoded.clone()),
                message_id: encoded_message_id,
                kms_key_id: KMS_KEY.into(),
                encryption_context: context
                    .iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect(),
                metadata: metadata.clone(),
            };
            (request.size + 16, Some(materials), metadata, Some(encoded))
        }
        Mode::Sse => (request.size, None, BTreeMap::new(), None),
    };
    // What a presigned request signs: content type and, for single PUTs of
    // CSE objects, the S3EC metadata (multipart puts it on create).
    let mut signed_headers = BTreeMap::from([(
        "content-type".to_owned(),
        "application/octet-stream".to_owned(),
    )]);
    if request.mode == Mode::Sse {
        signed_headers.insert("x-amz-server-side-encryption".into(), "aws:kms".into());
    }
    for (k, v) in &metadata {
        signed_headers.insert(format!("x-amz-meta-{k}"), v.clone());
    }
    let layout = s.layout;
    let transfer = if stored_size < layout.multipart_threshold {
        Transfer::Single {
            request: presigned(format!("http://{addr}/store/object/{key}"), &signed_headers),
        }
    } else {
        s.next_id += 1;
        let upload_id = format!("upload-{}", s.next_id);
        let part_count = request.size.div_ceil(layout.part_size).max(1) as u32;
        let parts = (1..=part_count.min(layout.first_parts))
            .map(|n| part_request(addr, &upload_id, n))
            .collect();
        s.uploads.insert(
            upload_id.clone(),
            PendingUpload {
                key: key.clone(),
                mode: request.mode,
                metadata: metadata.clone(),
                data_key: data_key.clone(),
                signed_headers: BTreeMap::new(),
                parts: BTreeMap::new(),
            },
        );
        Transfer::Multipart {
            upload_id,
            part_size: layout.part_size,
            part_count,
            parts,
        }
    };
    if let Transfer::Single { .. } = transfer {
        s.uploads.insert(
            format!("single:{key}"),
            PendingUpload {
                key: key.clone(),
                mode: request.mode,
                metadata,
                data_key,
                signed_headers,
                parts: BTreeMap::new(),
            },
        );
    }
    let encryption = match cse {
        Some(materials) => UploadEncryption::Cse(materials),
        None => UploadEncryption::Sse(SseInfo {
            kms_key_id: KMS_KEY.into(),
        }),
    };
    Json(CreateUploadResponse {
        key,
        size: request.size,
        stored_size,
        transfer,
        encryption,
    })
    .into_response()
}

async fn sign_parts(
    headers: HeaderMap,
    State((state, addr)): Shared,
    Json(request): Json<SignPartsRequest>,
) -> Response {
    auth!(headers);
    let mut s = state.lock().unwrap();
    if !s.uploads.contains_key(&request.upload_id) {
        return api_error(StatusCode::NOT_FOUND, ErrorCode::NotFound, "no such upload");
    }
    if request.part_numbers.len() > 100 {
        return api_error(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadRequest,
            "too many parts",
        );
    }
    s.record.sign_calls.push(request.part_numbers.clone());
    let parts = request
        .part_numbers
        .iter()
        .map(|&n| part_request(addr, &request.upload_id, n))
        .collect();
    Json(SignPartsResponse { parts }).into_response()
}

async fn complete(
    headers: HeaderMap,
    State((state, _)): Shared,
    Json(request): Json<CompleteUploadRequest>,
) -> Response {
    auth!(headers);
    let mut s = state.lock().unwrap();
    let Some(upload) = s.uploads.remove(&request.upload_id) else {
        return api_error(StatusCode::NOT_FOUND, ErrorCode::NotFound, "no such upload");
    };
    let mut body = Vec::new();
    for (i, part) in request.parts.iter().enumerate() {
        let expected_etag = format!("\"etag-{}\"", part.part_number);
        let stored = upload.parts.get(&part.part_number);
        if part.part_number != i as u32 + 1 || part.etag != expected_etag || stored.is_none() {
            return api_error(
                StatusCode::BAD_REQUEST,
                ErrorCode::BadRequest,
                "InvalidPart",
            );
        }
        body.extend_from_slice(stored.unwrap());
    }
    let mode = match upload.mode {
        Mode::Cse => ObjectMode::CseV3,
        Mode::Sse => ObjectMode::SseKms,
    };
    s.record.completed.push(upload.key.clone());
    s.objects.insert(
        upload.key.clone(),
        StoredObject {
            body,
            mode,
            metadata: upload.metadata,
            data_key: upload.data_key,
            declared_size: None,
        },
    );
    Json(CompleteUploadResponse {
        key: upload.key,
        etag: "\"final\"".into(),
    })
    .into_response()
}

async fn abort(
    headers: HeaderMap,
    State((state, _)): Shared,
    Json(request): Json<AbortUploadRequest>,
) -> Response {
    auth!(headers);
    let mut s = state.lock().unwrap();
    s.uploads.remove(&request.upload_id);
    s.record.aborted.push(request.upload_id);
    StatusCode::NO_CONTENT.into_response()
}

fn object_info(key: &str, object: &StoredObject) -> ObjectInfo {
    let cse = matches!(object.mode, ObjectMode::CseV3 | ObjectMode::CseV2);
    let stored_size = object.declared_size.unwrap_or(object.body.len() as u64);
    ObjectInfo {
        key: key.into(),
        name: key.trim_start_matches(&format!("{USER}/")).into(),
        stored_size,
        size: stored_size - if cse { 16 } else { 0 },
        last_modified: "2026-11-03T12:04:05Z".into(),
        content_type: Some("application/octet-stream".into()),
        etag: Some("\"final\"".into()),
        encryption: match object.mode {
            ObjectMode::CseV3 | ObjectMode::CseV2 => {
                let envelope = ClientSideEncryption {
                    kms_key_id: Some(KMS_KEY.into()),
                    key_wrapping: sealdrop_api::KeyWrapping::KmsContext,
                    encryption_context: BTreeMap::from([(
                        "sealdrop:key".to_owned(),
                        key.to_owned(),
                    )]),
                    server_side_encryption: None,
                };
                if object.mode == ObjectMode::CseV3 {
                    Encryption::CseV3(envelope)
                } else {
                    Encryption::CseV2(envelope)
                }
            }
            ObjectMode::SseKms => Encryption::SseKms {
                kms_key_id: Some(KMS_KEY.into()),
            },
            ObjectMode::None => Encryption::None {
                server_side_encryption: None,
            },
            ObjectMode::Invalid => Encryption::Invalid {
                problem: "invalid".into(),
            },
        },
    }
}

async fn list(
    headers: HeaderMap,
    State((state, _)): Shared,
    Query(query): Query<ListObjectsQuery>,
) -> Response {
    auth!(headers);
    let s = state.lock().unwrap();
    let prefix = format!("{USER}/{}", query.prefix.unwrap_or_default());
    let after = query.cursor.unwrap_or_default();
    let mut matching = s
        .objects
        .iter()
        .filter(|(k, _)| k.starts_with(&prefix) && **k > after);
    let objects: Vec<ObjectInfo> = matching
        .by_ref()
        .take(s.page_size)
        .map(|(k, o)| object_info(k, o))
        .collect();
    let next_cursor = match matching.next() {
        Some(_) => objects.last().map(|o| o.key.clone()),
        None => None,
    };
    Json(ListObjectsResponse {
        objects,
        next_cursor,
    })
    .into_response()
}

#[derive(serde::Deserialize)]
struct KeyQuery {
    key: String,
}

async fn info(
    headers: HeaderMap,
    State((state, _)): Shared,
    Query(query): Query<KeyQuery>,
) -> Response {
    auth!(headers);
    let s = state.lock().unwrap();
    match s.objects.get(&query.key) {
        Some(object) => Json(object_info(&query.key, object)).into_response(),
        None => api_error(StatusCode::NOT_FOUND, ErrorCode::NotFound, "no such object"),
    }
}

async fn delete(
    headers: HeaderMap,
    State((state, _)): Shared,
    Query(query): Query<KeyQuery>,
) -> Response {
    auth!(headers);
    state.lock().unwrap().objects.remove(&query.key);
    StatusCode::NO_CONTENT.into_response()
}

async fn open(
    headers: HeaderMap,
    State((state, addr)): Shared,
    Json(request): Json<OpenObjectRequest>,
) -> Response {
    auth!(headers);
    let s = state.lock().unwrap();
    let Some(object) = s.objects.get(&request.key) else {
        return api_error(StatusCode::NOT_FOUND, ErrorCode::NotFound, "no such object");
    };
    Json(OpenObjectResponse {
        object: object_info(&request.key, object),
        download: PresignedRequest {
            method: PresignedMethod::Get,
            url: format!("http://{addr}/store/object/{}", request.key),
            headers: BTreeMap::new(),
        },
        decryption: match &object.data_key {
            Some(key) => Decryption::Client(CseOpen {
                data_key: SecretString::new(key.clone()),
                metadata: object.metadata.clone(),
            }),
            None => Decryption::Storage,
        },
    })
    .into_response()
}

fn storage_error(status: u16, code: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap();
    let body = format!("<Error><Code>{code}</Code><Message>injected</Message></Error>");
    (status, body).into_response()
}

/// What a signature check would refuse: a signed header missing or changed, an
/// unsigned `x-amz-*` header, a Content-Length that is not the body's.
fn check_headers(
    signed: &BTreeMap<String, String>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(), Response> {
    for (name, value) in signed {
        if headers.get(name.as_str()).and_then(|v| v.to_str().ok()) != Some(value.as_str()) {
            return Err(storage_error(403, "SignatureDoesNotMatch"));
        }
    }
    for name in headers.keys() {
        if name.as_str().starts_with("x-amz-") && !signed.contains_key(name.as_str()) {
            return Err(storage_error(403, "AccessDenied"));
        }
    }
    let length = headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if length != Some(body.len()) || headers.contains_key("transfer-encoding") {
        return Err(storage_error(411, "MissingContentLength"));
    }
    Ok(())
}

/// Records the attempt and returns an injected failure, if one applies.
fn take_fault(s: &mut Inner, part: Option<u32>, body: &Bytes) -> Option<Response> {
    s.record
        .attempts
        .entry(part.unwrap_or(0))
        .or_default()
        .push(body.to_vec());
    let fault = s
        .faults
        .iter_mut()
        .find(|f| f.part == part && f.times > 0)?;
    fault.times = fault.times.saturating_sub(1);
    Some(storage_error(fault.status, "InjectedFault"))
}

async fn put_object(
    State((state, _)): Shared,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut s = state.lock().unwrap();
    let Some(upload) = s.uploads.get(&format!("single:{key}")) else {
        return storage_error(403, "AccessDenied");
    };
    if let Err(response) = check_headers(&upload.signed_headers, &headers, &body) {
        return response;
    }
    if let Some(response) = take_fault(&mut s, None, &body) {
        return response;
    }
    let Some(upload) = s.uploads.remove(&format!("single:{key}")) else {
        return storage_error(403, "AccessDenied");
    };
    let mode = match upload.mode {
        Mode::Cse => ObjectMode::CseV3,
        Mode::Sse => ObjectMode::SseKms,
    };
    s.objects.insert(
        key,
        StoredObject {
            body: body.to_vec(),
            mode,
            metadata: upload.metadata,
            data_key: upload.data_key,
            declared_size: None,
        },
    );
    ([("etag", "\"single\"")], "").into_response()
}

struct InFlight(Arc<Mutex<Inner>>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.lock().unwrap().record.in_flight -= 1;
    }
}

async fn put_part(
    State((state, _)): Shared,
    Path((upload_id, number)): Path<(String, u32)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let delay = {
        let mut s = state.lock().unwrap();
        s.record.in_flight += 1;
        s.record.max_in_flight = s.record.max_in_flight.max(s.record.in_flight);
        s.part_delay
    };
    let _in_flight = InFlight(Arc::clone(&state));
    tokio::time::sleep(delay).await;
    let mut s = state.lock().unwrap();
    if let Err(response) = check_headers(&BTreeMap::new(), &headers, &body) {
        return response;
    }
    if let Some(response) = take_fault(&mut s, Some(number), &body) {
        return response;
    }
    let Some(upload) = s.uploads.get_mut(&upload_id) else {
        return storage_error(404, "NoSuchUpload");
    };
    upload.parts.insert(number, body.to_vec());
    ([("etag", format!("\"etag-{number}\""))], "").into_response()
}

async fn get_object(State((state, _)): Shared, Path(key): Path<String>) -> Response {
    let s = state.lock().unwrap();
    let Some(object) = s.objects.get(&key) else {
        return storage_error(404, "NoSuchKey");
    };
    let mut response = object.body.clone().into_response();
    if object.mode == ObjectMode::SseKms {
        let headers = response.headers_mut();
        headers.insert("x-amz-server-side-encryption", "aws:kms".parse().unwrap());
        headers.insert(
            "x-amz-server-side-encryption-aws-kms-key-id",
            KMS_KEY.parse().unwrap(),
        );
    }
    response
}
