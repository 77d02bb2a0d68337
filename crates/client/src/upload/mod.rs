//! Uploads: create the upload at the broker, then stream the file to storage
//! through the presigned request(s), encrypting it on the way for client-side
//! encryption.
//!
//! The protocol rules come from `sealdrop-transfer` (the plan and its checks,
//! the key material's checks, retries, the part ledger); this module moves the
//! bytes. Memory stays bounded whatever the file size: one part is read and
//! sealed at a time, and at most [`TransferConfig::parts_in_flight`] sealed
//! parts are held until storage acknowledges them. Holding them is how this
//! client keeps the core's invariant for retries (a part is only ever re-sent
//! as the same bytes) without re-reading a file that may have changed.
//!
//! [`TransferConfig::parts_in_flight`]: crate::TransferConfig::parts_in_flight

mod multipart;
mod sealer;
mod source;

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use reqwest::header::HeaderMap;
use sealdrop_api::{
    CreateUploadRequest, CreateUploadResponse, Mode, PresignedRequest, Transfer, UploadEncryption,
    UploadTarget,
};
use sealdrop_transfer::{Idempotence, UploadPlan};
use tokio::io::AsyncRead;

use crate::client::Client;
use crate::error::Error;
use crate::progress::{Progress, ProgressCounter};
use crate::retry;
use multipart::MultipartUpload;
use sealer::Sealer;
use source::PlaintextSource;

impl Client {
    /// Uploads the file at `path` as `name` (relative to the user's prefix)
    /// and returns the object key. `mode` chooses client-side encryption
    /// (S3EC V3) or SSE-KMS; `overwrite` replaces an existing object instead of
    /// failing with [`ErrorKind::Conflict`](crate::ErrorKind::Conflict).
    ///
    /// The file is streamed; if its size changes while it is read, the upload
    /// fails with [`Error::SourceChanged`] and nothing is stored. A multipart
    /// upload that fails or whose future is dropped is aborted.
    pub async fn upload_file(
        &self,
        path: &Path,
        name: &str,
        mode: Mode,
        overwrite: bool,
        progress: impl Progress + 'static,
    ) -> Result<String, Error> {
        let shown = path.display().to_string();
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|e| Error::io(format!("cannot open {shown}"), e))?;
        let metadata = file
            .metadata()
            .await
            .map_err(|e| Error::io(format!("cannot read the size of {shown}"), e))?;
        if !metadata.is_file() {
            return Err(Error::io(
                format!("cannot upload {shown}"),
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file"),
            ));
        }
        let source = PlaintextSource::new(file, metadata.len(), shown);
        self.upload(source, name, mode, overwrite, progress).await
    }

    /// Like [`Client::upload_file`], from any reader that yields exactly
    /// `size` bytes (e.g. `&[u8]` in tests).
    pub async fn upload_reader<R: AsyncRead + Unpin + Send>(
        &self,
        reader: R,
        size: u64,
        name: &str,
        mode: Mode,
        overwrite: bool,
        progress: impl Progress + 'static,
    ) -> Result<String, Error> {
        let source = PlaintextSource::new(reader, size, "input");
        self.upload(source, name, mode, overwrite, progress).await
    }

    async fn upload<R: AsyncRead + Unpin>(
        &self,
        mut source: PlaintextSource<R>,
        name: &str,
        mode: Mode,
        overwrite: bool,
        progress: impl Progress + 'static,
    ) -> Result<String, Error> {
        let created = self
            .create_upload(&CreateUploadRequest {
                target: UploadTarget::Name(name.to_owned()),
                size: source.size(),
                content_type: None,
                mode,
                overwrite,
            })
            .await?;
        let plan = UploadPlan::check(source.size(), mode, &created)?;
        let CreateUploadResponse {
            key,
            transfer,
            encryption,
            ..
        } = created;
        let mut sealer = match encryption {
            UploadEncryption::Cse(materials) => Sealer::encrypting(&materials, &plan)?,
            UploadEncryption::Sse(_) => Sealer::Plain,
        };
        let counter = ProgressCounter::new(plan.stored_size(), progress);
        match transfer {
            Transfer::Single { request } => {
                let plaintext = source.read_part(plan.size()).await?;
                let body = sealer.seal(plaintext).await?;
                send_with_retry(self, &request, body, &counter, "upload").await?;
            }
            Transfer::Multipart {
                upload_id, parts, ..
            } => {
                let upload = MultipartUpload {
                    client: self,
                    key: &key,
                    upload_id: &upload_id,
                    plan,
                    counter,
                };
                upload.run(parts, &mut source, &mut sealer).await?;
            }
        }
        Ok(key)
    }
}

/// Sends one presigned upload, re-sending the same bytes after transient
/// failures (their progress is taken back).
async fn send_with_retry(
    client: &Client,
    request: &PresignedRequest,
    body: Bytes,
    counter: &Arc<ProgressCounter>,
    operation: &str,
) -> Result<HeaderMap, Error> {
    retry::run(
        &client.transfer.retry,
        Idempotence::Idempotent,
        operation,
        |_| {
            let attempt = counter.attempt();
            let body = body.clone();
            async move {
                let headers = crate::presigned::upload(
                    &client.http,
                    request,
                    body,
                    attempt.meter(),
                    operation,
                )
                .await?;
                attempt.keep();
                Ok(headers)
            }
        },
    )
    .await
}
