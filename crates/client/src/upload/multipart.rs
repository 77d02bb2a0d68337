//! The multipart transfer: parts encrypted in order by one sealer, several
//! uploading at once, URLs presigned on demand, the upload completed at the end
//! or aborted on any failure or cancellation.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use reqwest::header::ETAG;
use sealdrop_api::{
    AbortUploadRequest, CompleteUploadRequest, CompletedPart, PresignedPart, PresignedRequest,
    SignPartsRequest,
};
use tokio::io::AsyncRead;
use tokio::task::JoinSet;

use super::layout::Layout;
use super::sealer::Sealer;
use super::source::PlaintextSource;
use crate::client::Client;
use crate::error::{Error, with_causes};
use crate::progress::ProgressCounter;

/// The API presigns at most this many parts per call.
const MAX_SIGN_BATCH: u32 = 100;

/// One multipart upload the broker created.
pub(crate) struct MultipartUpload<'a> {
    pub(crate) client: &'a Client,
    pub(crate) key: &'a str,
    pub(crate) upload_id: &'a str,
    pub(crate) layout: Layout,
    pub(crate) counter: Arc<ProgressCounter>,
}

impl MultipartUpload<'_> {
    /// Uploads every part and completes the upload; aborts it on failure, and
    /// (through [`AbortOnDrop`]) when this future is dropped unfinished.
    pub(crate) async fn run<R: AsyncRead + Unpin>(
        self,
        first_parts: Vec<PresignedPart>,
        source: &mut PlaintextSource<R>,
        sealer: &mut Sealer,
    ) -> Result<(), Error> {
        let guard = AbortOnDrop {
            client: self.client.clone(),
            request: Some(AbortUploadRequest {
                key: self.key.to_owned(),
                upload_id: self.upload_id.to_owned(),
            }),
        };
        let result = match self.upload_parts(first_parts, source, sealer).await {
            Ok(parts) => self
                .client
                .complete_upload(&CompleteUploadRequest {
                    key: self.key.to_owned(),
                    upload_id: self.upload_id.to_owned(),
                    parts,
                })
                .await
                .map(drop),
            Err(err) => Err(err),
        };
        match result {
            Ok(()) => guard.disarm(),
            Err(_) => guard.abort_now().await,
        }
        result
    }

    async fn upload_parts<R: AsyncRead + Unpin>(
        &self,
        first_parts: Vec<PresignedPart>,
        source: &mut PlaintextSource<R>,
        sealer: &mut Sealer,
    ) -> Result<Vec<CompletedPart>, Error> {
        let count = self.layout.part_count();
        let mut urls = PartUrls::new(self.layout.part_count(), first_parts)?;
        // Tasks, not just futures: parts keep moving while the next one is read
        // and encrypted. Dropping the set (an error, a cancellation) stops them.
        let mut in_flight = JoinSet::new();
        let mut completed = Vec::with_capacity(count as usize);
        let mut next = 1;
        let parts_in_flight = self.client.transfer.parts_in_flight.max(1);
        loop {
            if next <= count && in_flight.len() < parts_in_flight {
                let request = urls.take(self, next).await?;
                let plaintext = source.read_part(self.layout.plaintext_len(next)).await?;
                let body = sealer.seal(plaintext).await?;
                in_flight.spawn(upload_part(
                    self.client.clone(),
                    request,
                    body,
                    Arc::clone(&self.counter),
                    next,
                ));
                next += 1;
            } else if let Some(joined) = in_flight.join_next().await {
                let part = joined
                    .map_err(|e| Error::Protocol(format!("a part upload task failed: {e}")))??;
                completed.push(part);
            } else {
                break;
            }
        }
        completed.sort_by_key(|p| p.part_number);
        Ok(completed)
    }
}

/// Sends one part (retrying the same bytes) and returns its ETag.
async fn upload_part(
    client: Client,
    request: PresignedRequest,
    body: Bytes,
    counter: Arc<ProgressCounter>,
    number: u32,
) -> Result<CompletedPart, Error> {
    let operation = format!("upload of part {number}");
    let headers = super::send_with_retry(&client, &request, body, &counter, &operation).await?;
    let etag = headers
        .get(ETAG)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            Error::Protocol(format!(
                "storage returned no ETag for part {number} (is the ETag header exposed?)"
            ))
        })?;
    Ok(CompletedPart {
        part_number: number,
        etag: etag.to_owned(),
    })
}

/// Presigned part URLs not used yet; more are asked for when a part needs one.
struct PartUrls {
    count: u32,
    signed: BTreeMap<u32, PresignedRequest>,
}

impl PartUrls {
    fn new(count: u32, first_parts: Vec<PresignedPart>) -> Result<PartUrls, Error> {
        let mut urls = PartUrls {
            count,
            signed: BTreeMap::new(),
        };
        urls.insert(first_parts)?;
        Ok(urls)
    }

    fn insert(&mut self, parts: Vec<PresignedPart>) -> Result<(), Error> {
        for part in parts {
            if part.part_number == 0 || part.part_number > self.count {
                return Err(Error::Protocol(format!(
                    "presigned part {} of an upload with {} parts",
                    part.part_number, self.count
                )));
            }
            self.signed.insert(part.part_number, part.request);
        }
        Ok(())
    }

    async fn take(
        &mut self,
        upload: &MultipartUpload<'_>,
        number: u32,
    ) -> Result<PresignedRequest, Error> {
        if let Some(request) = self.signed.remove(&number) {
            return Ok(request);
        }
        let batch = upload.client.transfer.sign_batch.clamp(1, MAX_SIGN_BATCH);
        let last = number.saturating_add(batch - 1).min(self.count);
        let response = upload
            .client
            .sign_parts(&SignPartsRequest {
                key: upload.key.to_owned(),
                upload_id: upload.upload_id.to_owned(),
                part_numbers: (number..=last).collect(),
            })
            .await?;
        self.insert(response.parts)?;
        self.signed
            .remove(&number)
            .ok_or_else(|| Error::Protocol(format!("the broker did not presign part {number}")))
    }
}

/// Aborts a multipart upload that did not finish, so storage does not keep
/// (and bill) its parts. Awaited on failure; on drop (cancellation) the abort
/// is scheduled on the runtime, see [`Client::finish_pending_aborts`].
struct AbortOnDrop {
    client: Client,
    request: Option<AbortUploadRequest>,
}

impl AbortOnDrop {
    fn disarm(mut self) {
        self.request = None;
    }

    async fn abort_now(mut self) {
        if let Some(request) = self.request.take() {
            abort(self.client.clone(), request).await;
        }
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        let Some(request) = self.request.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(
                "multipart upload of {} left unfinished: no runtime to abort it",
                request.key
            );
            return;
        };
        let task = abort(self.client.clone(), request);
        match self.client.pending_aborts.lock() {
            Ok(mut pending) => drop(pending.spawn_on(task, &runtime)),
            Err(poisoned) => drop(poisoned.into_inner().spawn_on(task, &runtime)),
        }
    }
}

async fn abort(client: Client, request: AbortUploadRequest) {
    match client.abort_upload(&request).await {
        Ok(()) => tracing::info!("aborted the multipart upload of {}", request.key),
        Err(err) => tracing::warn!(
            "could not abort the multipart upload of {} ({}); storage keeps its parts \
             until a lifecycle rule removes them",
            request.key,
            with_causes(&err)
        ),
    }
}
