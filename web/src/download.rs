//! Downloading an object to the user's disk — only if it authenticates.
//!
//! The broker opens the object (checks the encryption context binding, unwraps
//! the data key); a worker streams the presigned GET into an OPFS staging file,
//! decrypting and verifying client-side encrypted objects as it goes (see
//! `worker/open.rs`). Only a complete, authenticated staging file is handed to the
//! browser's download (`<a download>` on an object URL); on any failure the
//! worker has already deleted it.

use std::rc::Rc;

use futures::StreamExt;
use sealdrop_api::ObjectInfo;
use wasm_bindgen::JsCast;
use web_sys::{HtmlAnchorElement, MessageChannel, Url};
use zeroize::Zeroizing;

use crate::content::{self, ContentError};
use crate::fastgcm::ContentKeys;
use crate::js;
use crate::opfs;
use crate::pool::{self, EventSender, Job, WorkerPool};
use crate::protocol::{
    Attachments, Command, Event, FailureKind, INTEGRITY_MESSAGE, JobId, OpenJob,
};
use crate::services::Services;
use crate::tuning;
use sealdrop_api::{OpenObjectRequest, OpenObjectResponse};
use sealdrop_transfer::FailureKind as TransferKind;
use sealdrop_transfer::calls;

/// How long a handed-over staging file is kept for the browser to copy it.
const KEEP_STAGED_MS: u32 = 10 * 60 * 1000;

/// What storage said about a completed download.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Delivered {
    /// `x-amz-server-side-encryption` as storage returned it.
    pub server_side_encryption: Option<String>,
    /// `x-amz-server-side-encryption-aws-kms-key-id` as storage returned it.
    pub sse_kms_key_id: Option<String>,
}

/// Downloads `object`, reporting `(bytes done, total)` as it goes.
pub async fn download(
    services: &Services,
    object: &ObjectInfo,
    on_progress: &dyn Fn(u64, u64),
) -> Result<Delivered, String> {
    let opened = services
        .api
        .call(calls::open_object(&OpenObjectRequest {
            key: object.key.clone(),
        }))
        .await
        .map_err(|e| match e.kind {
            TransferKind::Integrity => INTEGRITY_MESSAGE.to_owned(),
            _ => e.to_string(),
        })?;
    let pool = services.pool().await?;
    download_opened(&pool, opened, &object.name, on_progress).await
}

/// Downloads what the broker opened (an object of the user's, or a file of a
/// share link) and saves it as `name`: decrypted and verified in a worker,
/// handed to the browser only once it authenticated.
pub async fn download_opened(
    pool: &Rc<WorkerPool>,
    opened: OpenObjectResponse,
    name: &str,
    on_progress: &dyn Fn(u64, u64),
) -> Result<Delivered, String> {
    let keys = content::for_download(&opened).await.map_err(|e| match e {
        ContentError::Integrity(_) | ContentError::Mismatch(_) => INTEGRITY_MESSAGE.to_owned(),
        other => other.to_string(),
    })?;
    let stored_size = opened.object.stored_size;
    let staging_name = opfs::new_name().map_err(|e| js::describe(&e))?;
    let (events, mut receiver) = pool::channel();
    let jobs = start_open(
        pool,
        |job| OpenJob {
            job,
            request: opened.download.clone(),
            stored_size,
            decrypt_aad: keys.as_ref().map(|k| k.aad.clone()),
            staging_name: staging_name.clone(),
            segment_len: tuning::DOWNLOAD_SEGMENT_LEN,
        },
        keys.as_ref(),
        &events,
    )?;
    drop(keys);
    let delivered = loop {
        let Some((event, _)) = receiver.next().await else {
            return Err("The download worker stopped unexpectedly.".into());
        };
        if event.job() != Some(jobs.id()) {
            continue;
        }
        match event {
            Event::Progress { bytes, .. } => on_progress(bytes.min(stored_size), stored_size),
            Event::Staged {
                server_side_encryption,
                sse_kms_key_id,
                ..
            } => {
                break Delivered {
                    server_side_encryption,
                    sse_kms_key_id,
                };
            }
            Event::Failed { error, .. } => {
                return Err(match error.kind {
                    FailureKind::Transfer(TransferKind::Integrity) => INTEGRITY_MESSAGE.to_owned(),
                    _ => error.message,
                });
            }
            Event::Ready | Event::Segment { .. } | Event::Sent { .. } => {}
        }
    };
    drop(jobs);
    save(&staging_name, name)
        .await
        .map_err(|e| format!("The browser could not save the file: {e}"))?;
    Ok(delivered)
}

/// A download in the worker pool: the job that streams and stages the object,
/// and for client-side encrypted objects its decryption helper in another
/// worker. Dropping it cancels both.
pub struct OpenJobs {
    main: Job,
    _helper: Option<Job>,
}

impl OpenJobs {
    /// The id of the staging job (whose events report the download).
    pub fn id(&self) -> JobId {
        self.main.id()
    }
}

/// Starts downloading an object through the pool (see [`OpenJobs`]).
pub fn start_open(
    pool: &Rc<WorkerPool>,
    make: impl FnOnce(JobId) -> OpenJob,
    keys: Option<&ContentKeys>,
    events: &EventSender,
) -> Result<OpenJobs, String> {
    start_open_with(pool, make, keys, events, |_| {})
}

/// [`start_open`], with `extra` filling in more of the job's attachments (the
/// benchmark's in-memory source).
pub(crate) fn start_open_with(
    pool: &Rc<WorkerPool>,
    make: impl FnOnce(JobId) -> OpenJob,
    keys: Option<&ContentKeys>,
    events: &EventSender,
    extra: impl FnOnce(&mut Attachments),
) -> Result<OpenJobs, String> {
    let channel = match keys {
        Some(_) if pool.size() > 1 => Some(MessageChannel::new().map_err(|e| js::describe(&e))?),
        _ => None,
    };
    let mut attachments = Attachments {
        keys: keys.map(|k| k.segment.clone()),
        secret: keys.map(|k| Zeroizing::new(k.ghash.to_bytes().to_vec())),
        port: channel.as_ref().map(MessageChannel::port1),
        ..Attachments::default()
    };
    extra(&mut attachments);
    let main = pool.submit(|job| Command::Open(make(job)), &attachments, events)?;
    let helper = match (&channel, keys) {
        (Some(channel), Some(keys)) => {
            let attachments = Attachments {
                keys: Some(keys.segment.clone()),
                port: Some(channel.port2()),
                ..Attachments::default()
            };
            pool.submit_beside(&main, |job| Command::Assist { job }, &attachments, events)?
        }
        _ => None,
    };
    Ok(OpenJobs {
        main,
        _helper: helper,
    })
}

/// Hands the staged file to the browser's download manager under `name`'s last
/// path segment, and deletes it once the browser had time to copy it.
async fn save(staging_name: &str, name: &str) -> Result<(), String> {
    let file = opfs::staged_file(staging_name)
        .await
        .map_err(|e| js::describe(&e))?;
    let url = Url::create_object_url_with_blob(&file).map_err(|e| js::describe(&e))?;
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("no document")?;
    let link: HtmlAnchorElement = document
        .create_element("a")
        .map_err(|e| js::describe(&e))?
        .unchecked_into();
    link.set_href(&url);
    link.set_download(name.rsplit('/').next().unwrap_or(name));
    link.set_hidden(true);
    let body = document.body().ok_or("no body")?;
    body.append_child(&link).map_err(|e| js::describe(&e))?;
    link.click();
    link.remove();
    let staging_name = staging_name.to_owned();
    wasm_bindgen_futures::spawn_local(async move {
        js::sleep(KEEP_STAGED_MS, None).await;
        let _ = Url::revoke_object_url(&url);
        opfs::remove(&staging_name).await;
    });
    Ok(())
}
