//! The multipart transfer: parts encrypted in order by one sealer, several
//! uploading at once, URLs presigned on demand, the upload completed at the end
//! or aborted on any failure or cancellation.

use std::sync::Arc;

use bytes::Bytes;
use reqwest::header::ETAG;
use sealdrop_api::{AbortUploadRequest, PresignedPart, PresignedRequest, SignPartsRequest};
use sealdrop_transfer::ledger::MAX_RESIGNS;
use sealdrop_transfer::{FailureKind, PartLedger, PartUrls, UploadPlan};
use tokio::io::AsyncRead;
use tokio::task::JoinSet;

use super::sealer::Sealer;
use super::source::PlaintextSource;
use crate::client::Client;
use crate::error::{Error, with_causes};
use crate::progress::ProgressCounter;

/// One multipart upload the broker created.
pub(crate) struct MultipartUpload<'a> {
    pub(crate) client: &'a Client,
    pub(crate) key: &'a str,
    pub(crate) upload_id: &'a str,
    pub(crate) plan: UploadPlan,
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
            Ok(ledger) => match ledger.completion(self.key, self.upload_id) {
                Ok(request) => self.client.complete_upload(&request).await.map(drop),
                Err(err) => Err(err.into()),
            },
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
    ) -> Result<PartLedger, Error> {
        let count = self.plan.part_count();
        let mut ledger = PartLedger::new(&self.plan);
        let mut urls = PartUrls::new(count);
        // The native client does not know the URLs' lifetime: it uses them
        // until storage says one expired, then signs that part again.
        urls.insert(first_parts, 0.0, f64::INFINITY, 0.0)?;
        // Tasks, not just futures: parts keep moving while the next one is read
        // and encrypted. Dropping the set (an error, a cancellation) stops them.
        let mut in_flight = JoinSet::new();
        let mut next = 1;
        let parts_in_flight = self.client.transfer.parts_in_flight.max(1);
        loop {
            if next <= count && in_flight.len() < parts_in_flight {
                let request = self.url(&mut urls, next).await?;
                let part = self.plan.part(next)?;
                let plaintext = source.read_part(part.len).await?;
                let body = sealer.seal(plaintext).await?;
                in_flight.spawn(upload_part(PartUpload {
                    client: self.client.clone(),
                    key: self.key.to_owned(),
                    upload_id: self.upload_id.to_owned(),
                    request,
                    body,
                    counter: Arc::clone(&self.counter),
                    number: next,
                }));
                next += 1;
            } else if let Some(joined) = in_flight.join_next().await {
                let (number, etag) = joined
                    .map_err(|e| Error::Protocol(format!("a part upload task failed: {e}")))??;
                ledger.record(number, etag)?;
            } else {
                break;
            }
        }
        Ok(ledger)
    }

    /// A URL for part `number`, signing it and the next parts when needed.
    async fn url(&self, urls: &mut PartUrls, number: u32) -> Result<PresignedRequest, Error> {
        if let Some(request) = urls.take(number, 0.0) {
            return Ok(request);
        }
        let count = self.plan.part_count();
        let numbers = urls.to_sign(number, number..=count, 0.0, self.client.transfer.sign_batch);
        let response = self
            .client
            .sign_parts(&SignPartsRequest {
                key: self.key.to_owned(),
                upload_id: self.upload_id.to_owned(),
                part_numbers: numbers,
            })
            .await?;
        urls.insert(response.parts, 0.0, f64::INFINITY, 0.0)?;
        urls.take(number, 0.0)
            .ok_or_else(|| Error::Protocol(format!("the broker did not presign part {number}")))
    }
}

/// One part on its way: everything its task needs.
struct PartUpload {
    client: Client,
    key: String,
    upload_id: String,
    request: PresignedRequest,
    body: Bytes,
    counter: Arc<ProgressCounter>,
    number: u32,
}

/// Sends one part (retrying the same bytes, signing its URL again if it
/// expired) and returns its number and ETag.
async fn upload_part(part: PartUpload) -> Result<(u32, Option<String>), Error> {
    let PartUpload {
        client,
        key,
        upload_id,
        mut request,
        body,
        counter,
        number,
    } = part;
    let operation = format!("upload of part {number}");
    let mut resigns = 0;
    loop {
        match super::send_with_retry(&client, &request, body.clone(), &counter, &operation).await {
            Ok(headers) => {
                let etag = headers
                    .get(ETAG)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                return Ok((number, etag));
            }
            Err(err) if err.kind() == FailureKind::Expired && resigns < MAX_RESIGNS => {
                resigns += 1;
                let signed = client
                    .sign_parts(&SignPartsRequest {
                        key: key.clone(),
                        upload_id: upload_id.clone(),
                        part_numbers: vec![number],
                    })
                    .await?;
                request = signed
                    .parts
                    .into_iter()
                    .find(|p| p.part_number == number)
                    .map(|p| p.request)
                    .ok_or_else(|| {
                        Error::Protocol(format!("the broker did not presign part {number}"))
                    })?;
            }
            Err(err) => return Err(err),
        }
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
             until the broker cancels the idle upload",
            request.key,
            with_causes(&err)
        ),
    }
}
