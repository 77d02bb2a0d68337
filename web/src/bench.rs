//! The browser benchmark page (`index.html?bench`): measures the app's crypto
//! path — the same worker jobs uploads and downloads use, workers included —
//! against WebCrypto's one-shot AES-256-GCM in the same page run, and prints
//! JSON lines `{"name", "mbps", "baseline_mbps", …}` to the page and the console
//! (and into `window.sealdropBench` for the headless runner, `web/bench/run.mjs`).
//!
//! The plaintext is the file chosen on `#bench-file` (read from disk like an
//! upload; `&file` makes the page wait for it), or generated.
//!
//! - `?bench` (`&mib=256&runs=3`): *encrypt* = the file cut into 8 MiB parts,
//!   sealed by the worker pool (read, AES-CTR, GHASH-via-AAD, tag combined on
//!   the page; no upload), against one-shot `encrypt` of the file's bytes already
//!   in memory (`baseline_mbps`) and including reading them
//!   (`baseline_with_file_read_mbps`). *decrypt* = the stored object (ciphertext ‖
//!   tag, put on the bench server's store) streamed by a worker with its helper,
//!   decrypted into an OPFS staging file and verified, against one-shot
//!   `decrypt` in memory; plus the same download without decryption. Tags are
//!   checked against the one-shot results.
//! - `?bench=memory` (`&mib=2048`): a real upload of the parts to the bench
//!   store and the download back, for the runner's memory sampler.
//! - Knobs: `&segment_kib=` (bytes per WebCrypto call), `&workers=`,
//!   `&inflight=` (parts at once).

use std::collections::HashMap;
use std::rc::Rc;

use futures::StreamExt;
use js_sys::{Array, ArrayBuffer, Reflect, Uint8Array};
use sealdrop_api::PresignedRequest;
use sealdrop_envelope::PartPlan;
use serde_json::json;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AesGcmParams, Blob, HtmlInputElement, UrlSearchParams};
use zeroize::Zeroizing;

use crate::download;
use crate::fastgcm::{ContentKeys, webcrypto};
use crate::js;
use crate::opfs;
use crate::pool::{self, Job, WorkerPool};
use crate::protocol::{Attachments, Command, Event, JobId, OpenJob, SealJob};
use crate::tuning;
use crate::ui::dom::{self, El};

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
    bytes: u64,
    runs: u32,
    segment_len: u64,
}

impl Settings {
    fn from_query(query: &UrlSearchParams) -> Settings {
        let number = |name: &str| query.get(name).and_then(|v| v.parse::<u64>().ok());
        let memory = query.get("bench").as_deref() == Some("memory");
        Settings {
            workers: number("workers").map_or(tuning::WORKERS, |w| w as usize),
            inflight: number("inflight").map_or(tuning::PARTS_IN_FLIGHT, |w| w as usize),
            memory,
            bytes: number("mib").unwrap_or(if memory { 2048 } else { 256 }) * MIB,
            runs: number("runs").map_or(if memory { 1 } else { 3 }, |r| r as u32),
            segment_len: number("segment_kib").map_or(tuning::SEGMENT_LEN, |k| k * 1024),
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
        let pool = WorkerPool::start(settings.workers).await?;
        report(
            json!({"name": "setup", "workers": settings.workers, "bytes": settings.bytes,
                      "segment_len": settings.segment_len, "part_size": PART_SIZE}),
        );
        if settings.memory {
            memory(&pool, &settings, &report).await
        } else {
            for run in 1..=settings.runs {
                throughput(&pool, &settings, run, &report).await?;
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
    drop(plaintext);
    let expected_tag = Uint8Array::new(&sealed)
        .subarray(bytes as u32, bytes as u32 + 16)
        .to_vec();

    let started = js::now_ms();
    let tag = seal(pool, &source, &keys, settings, None).await?;
    let encrypt = mbps(bytes, js::now_ms() - started);
    report(
        json!({"name": "encrypt", "run": run, "bytes": bytes, "mbps": round(encrypt),
                  "baseline_mbps": round(baseline_encrypt), "ratio": ratio(encrypt, baseline_encrypt),
                  "baseline_with_file_read_mbps": round(baseline_read_encrypt),
                  "tag_matches_one_shot": tag[..] == expected_tag[..]}),
    );

    let started = js::now_ms();
    one_shot(&keys, &Uint8Array::new(&sealed), false).await?;
    let baseline_decrypt = mbps(bytes, js::now_ms() - started);

    let stored = store(&sealed).await?;
    drop(sealed);
    let started = js::now_ms();
    let verified = open(pool, Some(&keys), settings, &stored, bytes + 16).await;
    let decrypt = mbps(bytes, js::now_ms() - started);
    let started = js::now_ms();
    open(pool, None, settings, &stored, bytes + 16).await?;
    let stage_only = mbps(bytes, js::now_ms() - started);
    report(
        json!({"name": "decrypt", "run": run, "bytes": bytes, "mbps": round(decrypt),
                  "baseline_mbps": round(baseline_decrypt), "ratio": ratio(decrypt, baseline_decrypt),
                  "same_download_without_decryption_mbps": round(stage_only),
                  "verified": verified.is_ok()}),
    );
    verified
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
            let request = target.map(|target| PresignedRequest {
                method: "PUT".into(),
                url: format!("{target}/{}", part.number),
                headers: Default::default(),
            });
            let attachments = Attachments {
                blob: Some(blob),
                keys: Some(keys.segment.clone()),
                secret: None,
                port: None,
            };
            let job = pool.submit(
                |job| {
                    Command::Seal(SealJob {
                        job,
                        offset: part.plaintext_offset,
                        encrypt: true,
                        needs_tag: part.is_last,
                        request,
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
/// a download does.
async fn open(
    pool: &Rc<WorkerPool>,
    keys: Option<&ContentKeys>,
    settings: &Settings,
    url: &str,
    stored_size: u64,
) -> Result<(), String> {
    let staging_name = opfs::new_name().map_err(describe)?;
    let (events, mut receiver) = pool::channel();
    let jobs = download::start_open(
        pool,
        |job| OpenJob {
            job,
            request: PresignedRequest {
                method: "GET".into(),
                url: url.into(),
                headers: Default::default(),
            },
            stored_size,
            decrypt_aad: keys.map(|_| AAD.to_vec()),
            staging_name: staging_name.clone(),
            segment_len: settings.segment_len,
        },
        keys,
        &events,
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
    opfs::remove(&staging_name).await;
    outcome
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
    open(pool, Some(&keys), settings, &target, bytes + 16).await?;
    report(
        json!({"name": "memory-download", "bytes": bytes, "mbps": round(mbps(bytes, js::now_ms() - started)),
                  "verified": true}),
    );
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
