//! Downloading one object into an OPFS staging file.
//!
//! The presigned GET is read as a stream. For client-side encrypted objects the
//! bytes are cut into segments; each is hashed (GHASH-via-AAD) and decrypted
//! (AES-CTR) with WebCrypto and written at its offset. The last 16 bytes are held
//! back: they are the tag, checked in constant time against the combination of
//! all segments. Any failure — including a tag mismatch — deletes the staging
//! file, so unauthenticated plaintext never reaches the user. An interrupted
//! stream is resumed with a `Range` request from the first missing byte.

use js_sys::{ArrayBuffer, Uint8Array};
use sealdrop_api::PresignedRequest;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    Headers, ReadableStream, ReadableStreamByobReader, ReadableStreamDefaultReader,
    ReadableStreamGetReaderOptions, ReadableStreamReaderMode, RequestCache, RequestInit,
    RequestMode, Response, WorkerGlobalScope,
};

use super::decrypting::{Decrypting, Helper, TAG_LEN};
use super::job::{JobContext, cancelled, internal};
use crate::fastgcm::{GhashKey, TagBuilder};
use crate::js;
use crate::opfs::StagingFile;
use crate::protocol::{Attachments, Event, FailureKind, INTEGRITY_MESSAGE, JobError, OpenJob};
use crate::storage_error::{self, StorageFailure};
use sealdrop_transfer::FailureKind as TransferKind;

pub async fn run(
    job: OpenJob,
    attachments: Attachments,
    ctx: &JobContext,
) -> Result<Event, JobError> {
    // A `data` attachment replaces the request (the benchmark's in-memory source).
    #[cfg(feature = "bench")]
    let source = attachments.data.clone();
    #[cfg(not(feature = "bench"))]
    let source = None;
    let mut sink = Sink::new(&job, attachments)?;
    let span = crate::trace::span("open.create_staging");
    let staging = StagingFile::create(&job.staging_name)
        .await
        .map_err(staging_error)?;
    drop(span);
    let outcome = match transfer(&job, source.as_ref(), &mut sink, &staging, ctx).await {
        Ok(headers) => sink.finish(&staging).await.map(|bytes| (bytes, headers)),
        Err(error) => Err(error),
    };
    match outcome {
        Ok((bytes, headers)) => {
            let span = crate::trace::span("open.close_staging");
            let closed = staging.close();
            drop(span);
            if let Err(error) = closed {
                crate::opfs::remove(&job.staging_name).await;
                return Err(staging_error(error));
            }
            Ok(Event::Staged {
                job: job.job,
                bytes,
                server_side_encryption: headers.server_side_encryption,
                sse_kms_key_id: headers.sse_kms_key_id,
            })
        }
        Err(error) => {
            staging.discard().await;
            Err(error)
        }
    }
}

pub(super) fn staging_error(error: JsValue) -> JobError {
    // Say what the browser said; do not guess at a cause (a full disk, a
    // missing storage API and a quota look alike from here).
    JobError::new(
        FailureKind::Staging,
        format!(
            "The browser could not store the download: {}",
            js::describe(&error)
        ),
    )
}

pub(super) fn integrity(detail: impl std::fmt::Display) -> JobError {
    web_sys::console::warn_1(&format!("sealdrop: authentication failed: {detail}").into());
    JobError::new(
        FailureKind::Transfer(TransferKind::Integrity),
        INTEGRITY_MESSAGE,
    )
}

/// Response headers shown to the user.
#[derive(Default)]
struct ResponseHeaders {
    server_side_encryption: Option<String>,
    sse_kms_key_id: Option<String>,
}

impl ResponseHeaders {
    fn of(response: &Response) -> Self {
        let get = |name: &str| response.headers().get(name).ok().flatten();
        ResponseHeaders {
            server_side_encryption: get("x-amz-server-side-encryption"),
            sse_kms_key_id: get("x-amz-server-side-encryption-aws-kms-key-id"),
        }
    }
}

/// Fetches the object (resuming after interruptions) and feeds it to `sink`.
async fn transfer(
    job: &OpenJob,
    source: Option<&ArrayBuffer>,
    sink: &mut Sink,
    staging: &StagingFile,
    ctx: &JobContext,
) -> Result<ResponseHeaders, JobError> {
    let mut received = 0u64;
    let mut headers = None;
    let mut attempt = 0;
    loop {
        ctx.check()?;
        let resume_from = (received > 0).then_some(received);
        let response = match source {
            #[cfg(feature = "bench")]
            Some(data) => from_memory(data, resume_from),
            _ => fetch(&job.request, resume_from, ctx).await,
        };
        let failure = match response {
            Ok(response) => {
                let headers = headers.get_or_insert_with(|| ResponseHeaders::of(&response));
                match pump(&response, sink, staging, ctx, &mut received).await {
                    Ok(()) => return Ok(std::mem::take(headers)),
                    Err(failure) => failure,
                }
            }
            Err(failure) => failure,
        };
        let Some(delay) = storage_error::retry_delay_ms(&failure, attempt) else {
            return Err(failure.into_job_error());
        };
        web_sys::console::warn_1(
            &format!("sealdrop: resuming a download: {}", failure.describe()).into(),
        );
        if !js::sleep(delay, ctx.signal()).await {
            return Err(cancelled());
        }
        attempt += 1;
    }
}

async fn fetch(
    request: &PresignedRequest,
    resume_from: Option<u64>,
    ctx: &JobContext,
) -> Result<Response, StorageFailure> {
    let fatal = |e: JsValue| StorageFailure::fatal(internal("could not start the download", &e));
    let headers = Headers::new().map_err(fatal)?;
    for (name, value) in &request.headers {
        if !storage_error::is_forbidden_header(name) {
            headers.append(name, value).map_err(fatal)?;
        }
    }
    if let Some(from) = resume_from {
        headers
            .append("Range", &format!("bytes={from}-"))
            .map_err(fatal)?;
    }
    let init = RequestInit::new();
    init.set_method(request.method.as_str());
    init.set_headers(&headers);
    init.set_cache(RequestCache::NoStore);
    init.set_mode(RequestMode::Cors);
    init.set_signal(ctx.signal());
    let scope: WorkerGlobalScope = js_sys::global().unchecked_into();
    let response = match JsFuture::from(scope.fetch_with_str_and_init(&request.url, &init)).await {
        Ok(response) => Response::from(response),
        Err(_) if ctx.is_cancelled() => return Err(StorageFailure::fatal(cancelled())),
        Err(_) => return Err(StorageFailure::no_answer()),
    };
    let status = response.status();
    let expected = if resume_from.is_some() { 206 } else { 200 };
    if status == expected {
        if let Some(from) = resume_from {
            check_resumed_range(&response, from)?;
        }
        return Ok(response);
    }
    let body = match response.text() {
        Ok(text) => JsFuture::from(text).await.ok().and_then(|t| t.as_string()),
        Err(_) => None,
    };
    let retry_after = response.headers().get("Retry-After").ok().flatten();
    Err(StorageFailure::answer(
        status,
        body.as_deref().unwrap_or_default(),
        retry_after.as_deref(),
    ))
}

/// A response streaming `data` (from `resume_from`), as if storage sent it.
#[cfg(feature = "bench")]
fn from_memory(data: &ArrayBuffer, resume_from: Option<u64>) -> Result<Response, StorageFailure> {
    let fatal = |e: JsValue| StorageFailure::fatal(internal("unreadable source", &e));
    let from = resume_from.unwrap_or(0) as u32;
    let view = Uint8Array::new_with_byte_offset(data, from);
    Response::new_with_opt_buffer_source(Some(&view)).map_err(fatal)
}

/// A resumed response must start exactly where the previous one stopped.
fn check_resumed_range(response: &Response, from: u64) -> Result<(), StorageFailure> {
    let range = response.headers().get("Content-Range").ok().flatten();
    match range {
        Some(range) if !range.starts_with(&format!("bytes {from}-")) => {
            Err(StorageFailure::fatal(JobError::new(
                FailureKind::Transfer(TransferKind::Internal),
                format!("Storage resumed the download at the wrong place ({range})"),
            )))
        }
        // Without an exposed Content-Range, the 206 status is all there is to check.
        _ => Ok(()),
    }
}

/// Reads the response body into the sink until it ends; a broken stream is a
/// transient failure (the caller resumes with a range request).
async fn pump(
    response: &Response,
    sink: &mut Sink,
    staging: &StagingFile,
    ctx: &JobContext,
    received: &mut u64,
) -> Result<(), StorageFailure> {
    let Some(body) = response.body() else {
        return Err(StorageFailure::fatal(JobError::new(
            FailureKind::Transfer(TransferKind::Internal),
            "Storage sent no content",
        )));
    };
    if let Sink::Decrypt(decrypting) = sink
        && let Some(reader) = byob_reader(&body)
    {
        return pump_byob(&reader, decrypting, staging, ctx, received).await;
    }
    let reader: ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    loop {
        let span = crate::trace::span("open.read");
        let step = JsFuture::from(reader.read()).await;
        drop(span);
        let step = match step {
            Ok(step) => step,
            Err(_) if ctx.is_cancelled() => return Err(StorageFailure::fatal(cancelled())),
            Err(_) => return Err(StorageFailure::no_answer()),
        };
        if js_sys::Reflect::get(&step, &"done".into()).is_ok_and(|done| done.is_truthy()) {
            return Ok(());
        }
        let chunk: Uint8Array = js_sys::Reflect::get(&step, &"value".into())
            .map_err(|e| StorageFailure::fatal(internal("unreadable download stream", &e)))?
            .unchecked_into();
        sink.push(&chunk, staging)
            .await
            .map_err(StorageFailure::fatal)?;
        *received += u64::from(chunk.length());
        ctx.progress(*received, false);
    }
}

/// A BYOB reader on `body`, if it is a byte stream.
fn byob_reader(body: &ReadableStream) -> Option<ReadableStreamByobReader> {
    let options = ReadableStreamGetReaderOptions::new();
    options.set_mode(ReadableStreamReaderMode::Byob);
    let get_reader: js_sys::Function = js_sys::Reflect::get(body, &"getReader".into())
        .ok()?
        .dyn_into()
        .ok()?;
    get_reader.call1(body, &options).ok()?.dyn_into().ok()
}

/// [`pump`] for decryption, reading straight into the segment buffer.
async fn pump_byob(
    reader: &ReadableStreamByobReader,
    decrypting: &mut Decrypting,
    staging: &StagingFile,
    ctx: &JobContext,
    received: &mut u64,
) -> Result<(), StorageFailure> {
    loop {
        let span = crate::trace::span("open.read");
        let step =
            JsFuture::from(reader.read_with_array_buffer_view(&decrypting.read_target())).await;
        drop(span);
        let step = match step {
            Ok(step) => step,
            Err(_) => {
                // The buffer went with the failed read: resume from its start.
                *received = decrypting.restart_segment();
                if ctx.is_cancelled() {
                    return Err(StorageFailure::fatal(cancelled()));
                }
                return Err(StorageFailure::no_answer());
            }
        };
        let done = js_sys::Reflect::get(&step, &"done".into()).is_ok_and(|d| d.is_truthy());
        let value = js_sys::Reflect::get(&step, &"value".into())
            .ok()
            .and_then(|v| v.dyn_into::<Uint8Array>().ok());
        let Some(value) = value else {
            // No buffer back (a cancelled stream): resume from the segment's start.
            *received = decrypting.restart_segment();
            return if done {
                Err(StorageFailure::no_answer())
            } else {
                Err(StorageFailure::fatal(internal(
                    "unreadable download stream",
                    &JsValue::UNDEFINED,
                )))
            };
        };
        let len = value.length();
        decrypting
            .commit_read(&value, staging)
            .await
            .map_err(StorageFailure::fatal)?;
        *received += u64::from(len);
        ctx.progress(*received, false);
        if done {
            return Ok(());
        }
    }
}

/// Where downloaded bytes go.
enum Sink {
    /// Stored as they arrive (server-side encrypted or unencrypted objects).
    Plain { written: u64, expected: u64 },
    /// Client-side encrypted: decrypted and authenticated.
    Decrypt(Box<Decrypting>),
}

impl Sink {
    fn new(job: &OpenJob, attachments: Attachments) -> Result<Sink, JobError> {
        let Some(aad) = &job.decrypt_aad else {
            return Ok(Sink::Plain {
                written: 0,
                expected: job.stored_size,
            });
        };
        let missing = || JobError::new(FailureKind::Internal, "open job without keys");
        let keys = attachments.keys.ok_or_else(missing)?;
        let ghash = attachments
            .secret
            .as_deref()
            .and_then(|bytes| GhashKey::from_bytes(bytes))
            .ok_or_else(missing)?;
        let Some(text_len) = job.stored_size.checked_sub(u64::from(TAG_LEN)) else {
            return Err(integrity("the object is shorter than its tag"));
        };
        let segment_len = u32::try_from(job.segment_len)
            .ok()
            .filter(|len| *len > 0 && len % 16 == 0)
            .ok_or_else(|| JobError::new(FailureKind::Internal, "bad segment length"))?;
        let tags = TagBuilder::new(&ghash, aad, text_len);
        let helper = attachments.port.map(Helper::new);
        Ok(Sink::Decrypt(Box::new(Decrypting::new(
            keys,
            tags,
            segment_len,
            helper,
        ))))
    }

    async fn push(&mut self, chunk: &Uint8Array, staging: &StagingFile) -> Result<(), JobError> {
        match self {
            Sink::Plain { written, .. } => {
                let len = u64::from(chunk.length());
                let _span = crate::trace::span("open.write");
                staging.write_at(chunk, *written).map_err(staging_error)?;
                *written += len;
                Ok(())
            }
            Sink::Decrypt(decrypting) => decrypting.push(chunk, staging).await,
        }
    }

    /// Plaintext bytes staged, once the download is complete (and authentic).
    async fn finish(&mut self, staging: &StagingFile) -> Result<u64, JobError> {
        match self {
            Sink::Plain { written, expected } if written == expected => Ok(*written),
            Sink::Plain { written, expected } => Err(JobError::new(
                FailureKind::Transfer(TransferKind::Integrity),
                format!("The download is incomplete: storage sent {written} of {expected} bytes"),
            )),
            Sink::Decrypt(decrypting) => decrypting.finish(staging).await,
        }
    }
}
