//! The browser benchmark page (`bench.html?bench`, built with the `bench`
//! feature only, so it never ships in the product's `dist/`): measures the app's crypto
//! path — the same worker jobs uploads and downloads use, workers included —
//! against WebCrypto's one-shot AES-256-GCM in the same page run, and prints
//! JSON lines `{"name", "mbps", "baseline_mbps", …}` to the page and the console
//! (and into `window.sealdropBench` for the headless runner, `web/bench/run.mjs`).
//!
//! The plaintext is the file chosen on `#bench-file` (read from disk like an
//! upload; `&file` makes the page wait for it), or generated.
//!
//! - `?bench` (`&mib=256&runs=3`), per run, each against WebCrypto's one-shot
//!   AES-256-GCM of the same bytes in memory (`baseline_mbps`, measured once
//!   per run in the same page):
//!   - *encrypt-memory*: the app's encrypt path (8 MiB parts sealed by the worker
//!     pool: read, AES-CTR, GHASH-via-AAD, tag combined on the page; no upload)
//!     fed from the baseline's in-memory bytes as a `Blob`, sliced per part as
//!     an upload slices a `File`;
//!   - *encrypt*: the same from the file on disk, also against one-shot
//!     including reading the file (`baseline_with_file_read_mbps`);
//!   - *decrypt-memory*: the app's download pipeline (worker + helper, OPFS
//!     staging, tag check) fed from an in-memory stream (a `Response` over a
//!     copy of the stored object, transferred to the worker), plus the same
//!     pipeline without decryption;
//!   - *decrypt*: the same over HTTP from the bench server's store, plus the
//!     same download without decryption.
//!
//!   Tags are checked against the one-shot results. `&trace=1` adds the
//!   workers' time per stage (`trace` lines, summed over both workers).
//! - `?bench=memory` (`&mib=2048`): a real upload of the parts to the bench
//!   store and the download back, for the runner's memory sampler.
//! - `?bench=e2e` (`&mib=1024`, page served by `sealdrop serve`, `#token=`): a
//!   CSE upload through the app's upload queue against the same file sent
//!   unencrypted through a CSE upload's presigned part requests (see
//!   [`end_to_end`]).
//! - Knobs: `&segment_kib=` (bytes per WebCrypto call), `&workers=`,
//!   `&inflight=` (parts at once).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use futures::StreamExt;
use js_sys::{Array, ArrayBuffer, Reflect, Uint8Array};
use sealdrop_api::{PresignedMethod, PresignedRequest};
use sealdrop_envelope::PartPlan;
use serde_json::json;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AesGcmParams, Blob, HtmlInputElement, MessageEvent, UrlSearchParams};
use zeroize::Zeroizing;

use crate::download;
use crate::fastgcm::{ContentKeys, webcrypto};
use crate::js;
use crate::opfs;
use crate::pool::{self, Job, WorkerPool};
use crate::protocol::{Attachments, Command, Destination, Event, JobId, OpenJob, SealJob};
use crate::trace;
use crate::tuning;
use crate::ui::dom::{self, El};
use sealdrop_transfer::calls;

const MIB: u64 = 1024 * 1024;
/// The broker's default part size.
const PART_SIZE: u64 = 8 * MIB;
/// The V3 content IV and AAD (the benchmark uses a random key directly).
const IV: [u8; 12] = [1; 12];
const AAD: [u8; 2] = [0x00, 0x73];

struct Settings {
    workers: usize,
    inflight: usize,
    memory: bool,
    e2e: bool,
    bytes: u64,
    runs: u32,
    segment_len: u64,
    download_segment_len: u64,
}

impl Settings {
    fn from_query(query: &UrlSearchParams) -> Settings {
        let number = |name: &str| query.get(name).and_then(|v| v.parse::<u64>().ok());
        let memory = query.get("bench").as_deref() == Some("memory");
        let e2e = query.get("bench").as_deref() == Some("e2e");
        Settings {
            workers: number("workers").map_or(tuning::WORKERS, |w| w as usize),
            inflight: number("inflight").map_or(tuning::PARTS_IN_FLIGHT, |w| w as usize),
            memory,
            e2e,
            bytes: number("mib").unwrap_or(if memory {
                2048
            } else if e2e {
                1024
            } else {
                256
            }) * MIB,
            runs: number("runs").map_or(if memory { 1 } else { 3 }, |r| r as u32),
            segment_len: number("segment_kib").map_or(tuning::SEGMENT_LEN, |k| k * 1024),
            download_segment_len: number("segment_kib")
                .map_or(tuning::DOWNLOAD_SEGMENT_LEN, |k| k * 1024),
        }
    }
}

/// Whether this page load is the benchmark.
pub fn requested() -> Option<UrlSearchParams> {
    let search = web_sys::window()?.location().search().ok()?;
    let query = UrlSearchParams::new_with_str(&search).ok()?;
    query.has("bench").then_some(query)
}

/// Runs the benchmark and reports into the page.
pub async fn run(query: UrlSearchParams) {
    let settings = Settings::from_query(&query);
    let output = mount();
    let results = Array::new();
    let _ = Reflect::set(&js_sys::global(), &"sealdropBench".into(), &results);
    let report = |line: serde_json::Value| {
        let text = line.to_string();
        web_sys::console::log_1(&text.clone().into());
        let _ = output.append_child(
            dom::document()
                .create_text_node(&format!("{text}\n"))
                .as_ref(),
        );
        if let Ok(value) = js_sys::JSON::parse(&text) {
            results.push(&value);
        }
    };
    let outcome = async {
        if query.has("file") {
            wait_for_file().await?;
        }
        if settings.e2e {
            return end_to_end(&settings, &report).await;
        }
        let pool = WorkerPool::start(settings.workers).await?;
        report(
            json!({"name": "setup", "workers": settings.workers, "bytes": settings.bytes,
                      "segment_len": settings.segment_len,
                      "download_segment_len": settings.download_segment_len, "part_size": PART_SIZE}),
        );
        if settings.memory {
            memory(&pool, &settings, &report).await
        } else {
            let shared = Shared::new(query.has("trace"));
            for run in 1..=settings.runs {
                throughput(&pool, &settings, run, &report, &shared).await?;
            }
            Ok(())
        }
    };
    if let Err(error) = outcome.await {
        report(json!({"name": "error", "message": error}));
    }
    report(json!({"name": "done"}));
}

fn mount() -> web_sys::Element {
    let output = El::new("pre").testid("bench-output").build();
    let file = El::new("input")
        .attr("type", "file")
        .attr("id", "bench-file")
        .testid("bench-file");
    let page = El::new("main")
        .class("content bench")
        .child(El::new("h1").text("sealdrop browser benchmark"))
        .child(
            El::new("label")
                .attr("for", "bench-file")
                .text("Plaintext for the memory run (optional) "),
        )
        .child(file)
        .child(output.clone());
    if let Some(root) = dom::document().get_element_by_id("app") {
        dom::clear(&root);
        let _ = root.append_child(page.as_ref());
    }
    output
}

fn describe(error: JsValue) -> String {
    js::describe(&error)
}

async fn random_keys() -> Result<ContentKeys, String> {
    let mut key = Zeroizing::new([0u8; 32]);
    js::crypto()
        .and_then(|c| c.get_random_values_with_u8_array(key.as_mut()))
        .map_err(describe)?;
    ContentKeys::import(key, IV, &AAD).await.map_err(describe)
}

/// One MiB of random data (repeated where more is needed: AES does not care).
fn random_block() -> Result<Uint8Array, String> {
    let mut block = vec![0u8; MIB as usize];
    let crypto = js::crypto().map_err(describe)?;
    for chunk in block.chunks_mut(65536) {
        crypto
            .get_random_values_with_u8_array(chunk)
            .map_err(describe)?;
    }
    Ok(Uint8Array::from(&block[..]))
}

fn mbps(bytes: u64, ms: f64) -> f64 {
    (bytes as f64 / 1e6) / (ms / 1000.0)
}

fn round(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

async fn throughput(
    pool: &Rc<WorkerPool>,
    settings: &Settings,
    run: u32,
    report: &impl Fn(serde_json::Value),
    shared: &Shared,
) -> Result<(), String> {
    let source = plaintext_source(settings.bytes).await?;
    let bytes = source.size() as u64;
    let keys = random_keys().await?;
    let read_started = js::now_ms();
    let plaintext = Uint8Array::new(
        &JsFuture::from(source.array_buffer())
            .await
            .map_err(describe)?,
    );
    let started = js::now_ms();
    let sealed = one_shot(&keys, &plaintext, true).await?;
    let baseline_encrypt = mbps(bytes, js::now_ms() - started);
    let baseline_read_encrypt = mbps(bytes, js::now_ms() - read_started);
    // The baseline's bytes as a `Blob`: the app's path from the same in-memory
    // source, sliced per part exactly as an upload slices a `File`. Made once:
    // the page collects dropped `Blob`s late, and Chromium fails reads once too
    // much blob memory is held.
    let in_memory = shared
        .memory_source
        .borrow_mut()
        .get_or_insert_with(|| blob_of(&plaintext))
        .clone()?;
    drop(plaintext);
    let expected_tag = Uint8Array::new(&sealed)
        .subarray(bytes as u32, bytes as u32 + 16)
        .to_vec();

    shared.start();
    let started = js::now_ms();
    let tag = seal(pool, &in_memory, &keys, settings, None).await?;
    let encrypt = mbps(bytes, js::now_ms() - started);
    shared.report("encrypt-memory", run, report).await;
    report(
        json!({"name": "encrypt-memory", "run": run, "bytes": bytes, "mbps": round(encrypt),
                  "baseline_mbps": round(baseline_encrypt), "ratio": ratio(encrypt, baseline_encrypt),
                  "tag_matches_one_shot": tag[..] == expected_tag[..]}),
    );

    shared.start();
    let started = js::now_ms();
    let tag = seal(pool, &source, &keys, settings, None).await?;
    let encrypt = mbps(bytes, js::now_ms() - started);
    shared.report("encrypt", run, report).await;
    report(
        json!({"name": "encrypt", "run": run, "bytes": bytes, "mbps": round(encrypt),
                  "baseline_mbps": round(baseline_encrypt), "ratio": ratio(encrypt, baseline_encrypt),
                  "baseline_with_file_read_mbps": round(baseline_read_encrypt),
                  "ratio_to_baseline_with_file_read": ratio(encrypt, baseline_read_encrypt),
                  "tag_matches_one_shot": tag[..] == expected_tag[..]}),
    );

    let started = js::now_ms();
    one_shot(&keys, &Uint8Array::new(&sealed), false).await?;
    let baseline_decrypt = mbps(bytes, js::now_ms() - started);

    // The stored object as an in-memory stream (a `Response` over a copy of the
    // one-shot output, made before timing and transferred to the worker),
    // through the real download pipeline.
    let copy = || sealed.slice(0);
    let (first, second) = (copy(), copy());
    shared.start();
    let started = js::now_ms();
    let verified = open(
        pool,
        Some(&keys),
        settings,
        "memory",
        bytes + 16,
        Some(first),
    )
    .await;
    let decrypt = mbps(bytes, js::now_ms() - started);
    shared.report("decrypt-memory", run, report).await;
    opfs::remove(&verified?).await;
    let started = js::now_ms();
    let staged = open(pool, None, settings, "memory", bytes + 16, Some(second)).await?;
    let stage_only = mbps(bytes, js::now_ms() - started);
    opfs::remove(&staged).await;
    report(
        json!({"name": "decrypt-memory", "run": run, "bytes": bytes, "mbps": round(decrypt),
                  "baseline_mbps": round(baseline_decrypt), "ratio": ratio(decrypt, baseline_decrypt),
                  "same_pipeline_without_decryption_mbps": round(stage_only),
                  "verified": true}),
    );

    let stored = store(&sealed).await?;
    drop(sealed);
    shared.start();
    let started = js::now_ms();
    let verified = open(pool, Some(&keys), settings, &stored, bytes + 16, None).await;
    let decrypt = mbps(bytes, js::now_ms() - started);
    shared.report("decrypt", run, report).await;
    if let Ok(staged) = &verified {
        opfs::remove(staged).await;
    }
    let started = js::now_ms();
    let staged = open(pool, None, settings, &stored, bytes + 16, None).await?;
    let stage_only = mbps(bytes, js::now_ms() - started);
    opfs::remove(&staged).await;
    report(
        json!({"name": "decrypt", "run": run, "bytes": bytes, "mbps": round(decrypt),
                  "baseline_mbps": round(baseline_decrypt), "ratio": ratio(decrypt, baseline_decrypt),
                  "same_download_without_decryption_mbps": round(stage_only),
                  "verified": verified.is_ok()}),
    );
    verified.map(drop)
}

/// The trace channel and its message handler.
type TraceChannel = (web_sys::BroadcastChannel, Closure<dyn FnMut(MessageEvent)>);

/// What the throughput runs share: the in-memory plaintext source and, for
/// `&trace=1`, the workers' stage timings (see `trace.rs`).
struct Shared {
    enabled: bool,
    /// The in-memory plaintext `Blob` (the same file every run).
    memory_source: RefCell<Option<Result<Blob, String>>>,
    sums: Rc<RefCell<BTreeMap<String, (f64, u32)>>>,
    _channel: Option<TraceChannel>,
}

impl Shared {
    fn new(enabled: bool) -> Shared {
        let sums: Rc<RefCell<BTreeMap<String, (f64, u32)>>> = Rc::default();
        let channel = enabled.then(|| {
            let channel = web_sys::BroadcastChannel::new(trace::CHANNEL).ok()?;
            let into = sums.clone();
            let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                let data = event.data();
                let Ok(keys) = Reflect::own_keys(&data) else {
                    return;
                };
                let mut sums = into.borrow_mut();
                for key in keys.iter() {
                    let pair = Reflect::get(&data, &key).unwrap_or_default();
                    let ms = Reflect::get_u32(&pair, 0).ok().and_then(|v| v.as_f64());
                    let count = Reflect::get_u32(&pair, 1).ok().and_then(|v| v.as_f64());
                    if let (Some(name), Some(ms), Some(count)) = (key.as_string(), ms, count) {
                        let entry = sums.entry(name).or_default();
                        entry.0 += ms;
                        entry.1 += count as u32;
                    }
                }
            });
            channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
            Some((channel, on_message))
        });
        Shared {
            enabled,
            memory_source: RefCell::new(None),
            sums,
            _channel: channel.flatten(),
        }
    }

    fn start(&self) {
        self.sums.borrow_mut().clear();
    }

    /// Reports the stages' total milliseconds (summed over workers) since `start`.
    async fn report(&self, phase: &str, run: u32, report: &impl Fn(serde_json::Value)) {
        if !self.enabled {
            return;
        }
        // Jobs post their sums when they end (helpers when cancelled).
        js::sleep(300, None).await;
        let stages: serde_json::Map<String, serde_json::Value> = self
            .sums
            .borrow()
            .iter()
            .map(|(name, (ms, count))| (name.clone(), json!({"ms": round(*ms), "n": count})))
            .collect();
        report(json!({"name": "trace", "phase": phase, "run": run, "stages": stages}));
    }
}

fn ratio(ours: f64, baseline: f64) -> f64 {
    (ours / baseline * 100.0).round() / 100.0
}

/// Puts `object` on the bench server's store (one PUT) and returns its URL.
async fn store(object: &ArrayBuffer) -> Result<String, String> {
    let url = format!("bench-store/{}", opfs::new_name().map_err(describe)?);
    let init = web_sys::RequestInit::new();
    init.set_method("PUT");
    init.set_body(object);
    let window = web_sys::window().ok_or("no window")?;
    let response: web_sys::Response =
        JsFuture::from(window.fetch_with_str_and_init(&format!("{url}/1"), &init))
            .await
            .map_err(describe)?
            .unchecked_into();
    if !response.ok() {
        return Err(format!("the bench store answered {}", response.status()));
    }
    Ok(url)
}

/// The plaintext: the file the runner put on `#bench-file` (read from disk
/// like a real upload), or generated data.
async fn plaintext_source(bytes: u64) -> Result<Blob, String> {
    match chosen_file() {
        Some(file) => Ok(file.into()),
        None => generated_blob(bytes),
    }
}

/// WebCrypto's one-shot AES-256-GCM over the whole buffer (the baseline).
async fn one_shot(
    keys: &ContentKeys,
    data: &Uint8Array,
    encrypt: bool,
) -> Result<ArrayBuffer, String> {
    let params = AesGcmParams::new("AES-GCM", &Uint8Array::from(&IV[..]));
    params.set_additional_data(&Uint8Array::from(&AAD[..]));
    let subtle = webcrypto::subtle().map_err(describe)?;
    let promise = if encrypt {
        subtle.encrypt_with_object_and_buffer_source(&params, &keys.segment.gcm, data)
    } else {
        subtle.decrypt_with_object_and_buffer_source(&params, &keys.segment.gcm, data)
    };
    JsFuture::from(promise.map_err(describe)?)
        .await
        .map_err(describe)?
        .dyn_into()
        .map_err(|_| "WebCrypto returned no buffer".into())
}

/// Seals `source` part by part through the worker pool, as an upload does;
/// `target` (a URL prefix) receives the parts as `PUT {target}/{part}`.
async fn seal(
    pool: &Rc<WorkerPool>,
    source: &Blob,
    keys: &ContentKeys,
    settings: &Settings,
    target: Option<&str>,
) -> Result<[u8; 16], String> {
    let size = source.size() as u64;
    let plan = PartPlan::new(size, PART_SIZE).map_err(|e| e.to_string())?;
    let mut tags = keys.tag_builder(size);
    let (events, mut receiver) = pool::channel();
    let mut parts = plan.parts();
    let mut in_flight: HashMap<JobId, (bool, Job)> = HashMap::new();
    let mut sent = 0;
    while sent < plan.part_count() {
        while in_flight.len() < settings.inflight
            && let Some(part) = parts.next()
        {
            let end = part.plaintext_offset + part.plaintext_len;
            let blob = source
                .slice_with_f64_and_f64(part.plaintext_offset as f64, end as f64)
                .map_err(describe)?;
            let destination = match target {
                Some(target) => Destination::Storage(PresignedRequest {
                    method: PresignedMethod::Put,
                    url: format!("{target}/{}", part.number),
                    headers: Default::default(),
                }),
                None => Destination::Discard,
            };
            let attachments = Attachments {
                blob: Some(blob),
                keys: Some(keys.segment.clone()),
                ..Attachments::default()
            };
            let job = pool.submit(
                |job| {
                    Command::Seal(SealJob {
                        job,
                        part_number: part.number,
                        offset: part.plaintext_offset,
                        encrypt: true,
                        needs_tag: part.is_last,
                        destination,
                        segment_len: settings.segment_len,
                    })
                },
                &attachments,
                &events,
            )?;
            in_flight.insert(job.id(), (part.is_last, job));
        }
        let Some((event, attachments)) = receiver.next().await else {
            return Err("worker events ended".into());
        };
        match event {
            Event::Segment { offset, len, .. } => {
                let t_prime: [u8; 16] = attachments
                    .secret
                    .as_deref()
                    .and_then(|s| s[..].try_into().ok())
                    .ok_or("segment without result")?;
                tags.add(offset, len, &t_prime).map_err(|e| e.to_string())?;
                if tags.is_complete() {
                    let tag = tags.finish().map_err(|e| e.to_string())?;
                    for (is_last, job) in in_flight.values() {
                        if *is_last {
                            job.send_tag(tag)?;
                        }
                    }
                }
            }
            Event::Sent { job, .. } => {
                in_flight.remove(&job);
                sent += 1;
            }
            Event::Failed { error, .. } => return Err(error.message),
            _ => {}
        }
    }
    tags.finish().map_err(|e| e.to_string())
}

/// Downloads (and with `keys`, decrypts and verifies) through the workers, as
/// a download does; returns the staging file's name. Removing it is not part
/// of a download (the app hands it to the browser): callers do that after
/// their clock stopped.
async fn open(
    pool: &Rc<WorkerPool>,
    keys: Option<&ContentKeys>,
    settings: &Settings,
    url: &str,
    stored_size: u64,
    source: Option<ArrayBuffer>,
) -> Result<String, String> {
    let staging_name = opfs::new_name().map_err(describe)?;
    let (events, mut receiver) = pool::channel();
    let jobs = download::start_open_with(
        pool,
        |job| OpenJob {
            job,
            request: PresignedRequest {
                method: PresignedMethod::Get,
                url: url.into(),
                headers: Default::default(),
            },
            stored_size,
            decrypt_aad: keys.map(|_| AAD.to_vec()),
            staging_name: staging_name.clone(),
            segment_len: settings.download_segment_len,
        },
        keys,
        &events,
        |attachments| attachments.data = source,
    )?;
    let outcome = loop {
        match receiver.next().await {
            Some((event, _)) if event.job() != Some(jobs.id()) => {}
            Some((Event::Staged { .. }, _)) => break Ok(()),
            Some((Event::Failed { error, .. }, _)) => break Err(error.message),
            Some(_) => {}
            None => break Err("worker events ended".into()),
        }
    };
    outcome.map(|()| staging_name)
}

async fn memory(
    pool: &Rc<WorkerPool>,
    settings: &Settings,
    report: &impl Fn(serde_json::Value),
) -> Result<(), String> {
    let source = plaintext_source(settings.bytes).await?;
    let bytes = source.size() as u64;
    let keys = random_keys().await?;
    let id = opfs::new_name().map_err(describe)?;
    let target = format!("bench-store/{id}");

    // A quiet moment first: the runner's sampler records the idle baseline.
    report(json!({"name": "memory-idle"}));
    js::sleep(3000, None).await;
    report(json!({"name": "memory-upload-start", "bytes": bytes}));
    let started = js::now_ms();
    seal(pool, &source, &keys, settings, Some(&target)).await?;
    report(
        json!({"name": "memory-upload", "bytes": bytes, "mbps": round(mbps(bytes, js::now_ms() - started))}),
    );

    let started = js::now_ms();
    let staged = open(pool, Some(&keys), settings, &target, bytes + 16, None).await?;
    report(
        json!({"name": "memory-download", "bytes": bytes, "mbps": round(mbps(bytes, js::now_ms() - started)),
                  "verified": true}),
    );
    opfs::remove(&staged).await;
    Ok(())
}

/// Waits (up to a minute) until the runner has chosen a file on `#bench-file`.
async fn wait_for_file() -> Result<(), String> {
    for _ in 0..600 {
        if chosen_file().is_some() {
            return Ok(());
        }
        js::sleep(100, None).await;
    }
    Err("no file was chosen on #bench-file".into())
}

fn chosen_file() -> Option<web_sys::File> {
    dom::document()
        .get_element_by_id("bench-file")?
        .dyn_into::<HtmlInputElement>()
        .ok()?
        .files()?
        .get(0)
}

/// A `Blob` of `data`, built from 8 MiB `Blob`s (Chromium fails to read back a
/// `Blob` built at once from 256 MiB or more of bytes; 240 MiB worked).
fn blob_of(data: &Uint8Array) -> Result<Blob, String> {
    let parts = Array::new();
    let mut start = 0;
    while start < data.length() {
        let end = data.length().min(start + PART_SIZE as u32);
        let piece = Blob::new_with_u8_array_sequence(&Array::of1(&data.subarray(start, end)))
            .map_err(describe)?;
        parts.push(&piece);
        start = end;
    }
    Blob::new_with_blob_sequence(&parts).map_err(describe)
}

/// A large `Blob` without a large buffer: one random MiB, referenced repeatedly
/// (the browser keeps blob data outside the page's memory).
fn generated_blob(bytes: u64) -> Result<Blob, String> {
    let block = random_block()?;
    let parts = Array::new();
    let mut left = bytes;
    while left > 0 {
        let len = left.min(MIB) as u32;
        parts.push(&block.subarray(0, len));
        left -= u64::from(len);
    }
    Blob::new_with_u8_array_sequence(&parts).map_err(describe)
}

/// `?bench=e2e` against a real `sealdrop serve` (the page is served by it and
/// signed in with `#token=`): the chosen file uploaded (a) through the app's
/// real client-side encrypted upload (the upload queue, as the UI uses it) and
/// (b) unencrypted through the same presigned path — a CSE upload created via
/// the API, then plaintext parts of the same sizes sent by the same worker jobs
/// with `encrypt: false`, the same parts in flight; the multipart upload is then
/// aborted. Timed in turns, `runs` times.
async fn end_to_end(
    settings: &Settings,
    report: &impl Fn(serde_json::Value),
) -> Result<(), String> {
    let token = crate::session::take_from_address_bar().ok_or("no #token= in the address")?;
    let config = crate::config::load().await;
    let api = crate::api::Api::new(&config.api_base, &token, Rc::new(|| {}));
    let me = api.call(calls::me()).await.map_err(|e| e.to_string())?;
    let services = crate::services::Services::new(api, me.user, me.limits);
    let pool = services.pool().await?;
    let file = chosen_file().ok_or("no file was chosen")?;
    let bytes = file.size() as u64;
    report(
        json!({"name": "setup", "workers": pool.size(), "bytes": bytes,
                  "inflight": tuning::PARTS_IN_FLIGHT, "segment_len": tuning::SEGMENT_LEN}),
    );
    for run in 1..=settings.runs {
        let started = js::now_ms();
        let key = app_upload(&services, &file).await?;
        let cse = mbps(bytes, js::now_ms() - started);
        services
            .api
            .call(calls::delete_object(&key))
            .await
            .map_err(|e| e.to_string())?;

        let started = js::now_ms();
        plain_upload(&services, &pool, &file).await?;
        let plain = mbps(bytes, js::now_ms() - started);
        report(
            json!({"name": "e2e-upload", "run": run, "bytes": bytes, "mbps": round(cse),
                      "baseline_mbps": round(plain), "ratio": ratio(cse, plain)}),
        );
    }
    Ok(())
}

/// The app's upload of `file` with client-side encryption; returns the key.
async fn app_upload(
    services: &Rc<crate::services::Services>,
    file: &web_sys::File,
) -> Result<String, String> {
    use crate::upload::{Change, State, UploadQueue};
    let (sender, mut changes) = futures::channel::mpsc::unbounded::<State>();
    let queue = UploadQueue::new(
        services.clone(),
        Box::new(move |change| {
            if let Change::Row(upload) = change {
                let _ = sender.unbounded_send(upload.state());
            }
        }),
    );
    queue.add(vec![file.clone()], sealdrop_api::Mode::Cse);
    while let Some(state) = changes.next().await {
        match state {
            State::Done { key } => return Ok(key),
            State::Failed(failure) => return Err(failure.message),
            _ => {}
        }
    }
    Err("the upload queue stopped".into())
}

/// The same file, unencrypted, through a CSE upload's presigned part requests.
async fn plain_upload(
    services: &Rc<crate::services::Services>,
    pool: &Rc<WorkerPool>,
    file: &web_sys::File,
) -> Result<(), String> {
    use sealdrop_api::{
        AbortUploadRequest, CreateUploadRequest, Mode, SignPartsRequest, Transfer, UploadTarget,
    };
    use sealdrop_transfer::{PartUrls, UploadPlan};
    let size = file.size() as u64;
    let api = &services.api;
    let created = api
        .call(calls::create_upload(&CreateUploadRequest {
            target: UploadTarget::Name(format!(
                "bench-plain-{}",
                opfs::new_name().map_err(describe)?
            )),
            size,
            content_type: None,
            mode: Mode::Cse,
            overwrite: true,
        }))
        .await
        .map_err(|e| e.to_string())?;
    let plan = UploadPlan::check(size, Mode::Cse, &created).map_err(|e| e.to_string())?;
    let Transfer::Multipart {
        upload_id, parts, ..
    } = created.transfer
    else {
        return Err("the e2e bench needs a multipart upload".into());
    };
    let ttl = services.presign_ttl_ms();
    let mut urls = PartUrls::new(plan.part_count());
    urls.insert(parts, js::now_ms(), ttl, tuning::PRESIGN_MARGIN_MS)
        .map_err(|e| e.to_string())?;
    let (events, mut receiver) = pool::channel();
    let mut pending = plan.parts();
    let mut in_flight: HashMap<JobId, Job> = HashMap::new();
    let mut sent = 0;
    while sent < plan.part_count() {
        while in_flight.len() < tuning::PARTS_IN_FLIGHT
            && let Some(part) = pending.next()
        {
            let request = match urls.take(part.number, js::now_ms()) {
                Some(request) => request,
                None => {
                    let numbers = urls.to_sign(
                        part.number,
                        part.number..=plan.part_count(),
                        js::now_ms(),
                        tuning::SIGN_BATCH,
                    );
                    let signed = api
                        .call(calls::sign_parts(&SignPartsRequest {
                            key: created.key.clone(),
                            upload_id: upload_id.clone(),
                            part_numbers: numbers,
                        }))
                        .await
                        .map_err(|e| e.to_string())?;
                    urls.insert(signed.parts, js::now_ms(), ttl, tuning::PRESIGN_MARGIN_MS)
                        .map_err(|e| e.to_string())?;
                    urls.take(part.number, js::now_ms())
                        .ok_or("a part was not signed")?
                }
            };
            let blob = file
                .slice_with_f64_and_f64(part.offset as f64, (part.offset + part.len) as f64)
                .map_err(describe)?;
            let attachments = Attachments {
                blob: Some(blob),
                ..Attachments::default()
            };
            let job = pool.submit(
                |job| {
                    Command::Seal(SealJob {
                        job,
                        part_number: part.number,
                        offset: part.offset,
                        encrypt: false,
                        needs_tag: false,
                        destination: Destination::Storage(request),
                        segment_len: tuning::SEGMENT_LEN,
                    })
                },
                &attachments,
                &events,
            )?;
            in_flight.insert(job.id(), job);
        }
        match receiver.next().await {
            Some((Event::Sent { job, .. }, _)) => {
                in_flight.remove(&job);
                sent += 1;
            }
            Some((Event::Failed { error, .. }, _)) => return Err(error.message),
            Some(_) => {}
            None => return Err("worker events ended".into()),
        }
    }
    api.call(calls::abort_upload(&AbortUploadRequest {
        key: created.key.clone(),
        upload_id,
    }))
    .await
    .map_err(|e| e.to_string())
}
