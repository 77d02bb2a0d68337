//! Downloads: open the object at the broker, stream the presigned GET into a
//! staged file (decrypting client-side encrypted objects on the way), verify,
//! then publish the file under its name. See [`crate::staging`] for why
//! nothing appears under the destination name unless the object verified.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::StreamExt as _;
use reqwest::header::HeaderMap;
use sealdrop_api::{ObjectMode, OpenObjectResponse};
use sealdrop_transfer::{DownloadKeys, Idempotence, ShareLink};
use serde::Serialize;
use zeroize::{Zeroize as _, Zeroizing};

use crate::client::Client;
use crate::error::{Endpoint, Error};
use crate::progress::{Progress, ProgressCounter};
use crate::staging::StagedFile;
use crate::{presigned, retry};

/// A download whose body sends nothing for this long is given up.
const STALL_TIMEOUT: Duration = Duration::from_secs(60);

const SSE_HEADER: &str = "x-amz-server-side-encryption";
const SSE_KEY_HEADER: &str = "x-amz-server-side-encryption-aws-kms-key-id";

/// What a finished download was and how it was protected.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DownloadReport {
    /// The object key.
    pub key: String,
    /// Where the plaintext was written.
    pub path: PathBuf,
    /// Plaintext bytes written.
    pub size: u64,
    /// How the object is encrypted.
    pub mode: ObjectMode,
    /// The KMS key the object's data key (CSE) or the object (SSE) is under.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    /// CSE: the encryption context (or material description) stored with the object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_context: Option<BTreeMap<String, String>>,
    /// The `x-amz-server-side-encryption` header storage answered with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_side_encryption: Option<String>,
    /// The `x-amz-server-side-encryption-aws-kms-key-id` header storage answered with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_side_encryption_kms_key_id: Option<String>,
}

impl Client {
    /// Downloads object `key` to `path`, replacing an existing file.
    ///
    /// Client-side encrypted objects are decrypted and written under `path`
    /// only after the whole object authenticated; on any failure (or if this
    /// future is dropped) no file is left behind, and an existing file at
    /// `path` is untouched. The file is created readable by its owner only.
    pub async fn download_to(
        &self,
        key: &str,
        path: &Path,
        progress: impl Progress + 'static,
    ) -> Result<DownloadReport, Error> {
        self.download(key, path, true, progress).await
    }

    /// Like [`Client::download_to`], but fails with
    /// [`Error::DestinationExists`] instead of replacing a file at `path`
    /// (checked again, atomically, when the download is published).
    pub async fn download_to_new_file(
        &self,
        key: &str,
        path: &Path,
        progress: impl Progress + 'static,
    ) -> Result<DownloadReport, Error> {
        if tokio::fs::symlink_metadata(path).await.is_ok() {
            return Err(Error::DestinationExists(path.to_owned()));
        }
        self.download(key, path, false, progress).await
    }

    async fn download(
        &self,
        key: &str,
        path: &Path,
        replace: bool,
        progress: impl Progress + 'static,
    ) -> Result<DownloadReport, Error> {
        let opened = self.open_object(key).await?;
        self.download_opened(opened, path, replace, progress).await
    }

    /// Downloads file `index` of the share `link` to `path` (a new file
    /// unless `replace`), exactly as [`Client::download_to`] does: verified
    /// before it appears under its name. Counts one download of the file;
    /// the client needs no token ([`Client::anonymous`]).
    pub async fn download_shared(
        &self,
        link: &ShareLink,
        index: u32,
        path: &Path,
        replace: bool,
        progress: impl Progress + 'static,
    ) -> Result<DownloadReport, Error> {
        if !replace && tokio::fs::symlink_metadata(path).await.is_ok() {
            return Err(Error::DestinationExists(path.to_owned()));
        }
        let opened = self
            .call(sealdrop_transfer::calls::open_share(
                &link.open_request(index),
            ))
            .await?;
        self.download_opened(opened, path, replace, progress).await
    }

    async fn download_opened(
        &self,
        opened: OpenObjectResponse,
        path: &Path,
        replace: bool,
        progress: impl Progress + 'static,
    ) -> Result<DownloadReport, Error> {
        // The core checks that mode and key material agree (and the V3
        // commitment) before anything is decrypted. The decryptor releases
        // plaintext before the tag is checked: it goes only to the staged
        // file, which is published under `path` after `finish` verifies.
        let mut decryptor = match DownloadKeys::check(&opened)? {
            Some(keys) => Some(keys.metadata.unverified_object_decryptor(&keys.data_key)?),
            None => None,
        };
        let OpenObjectResponse {
            object, download, ..
        } = opened;
        let mut staged = StagedFile::beside(path).await?;
        let response = retry::run(
            &self.transfer.retry,
            Idempotence::Idempotent,
            "download",
            |_| presigned::download(&self.http, &download, "download"),
        )
        .await?;
        let (server_side_encryption, server_side_encryption_kms_key_id) =
            sse_headers(response.headers());

        let expected = object.stored_size;
        let counter = ProgressCounter::new(expected, progress);
        let mut received = 0u64;
        let mut written = 0u64;
        let mut plaintext = Zeroizing::new(Vec::new());
        let mut body = response.bytes_stream();
        while let Some(chunk) = tokio::time::timeout(STALL_TIMEOUT, body.next())
            .await
            .map_err(|_| Error::Stalled {
                endpoint: Endpoint::Storage,
                after: STALL_TIMEOUT,
            })?
        {
            let chunk = chunk.map_err(|e| Error::network(Endpoint::Storage, e))?;
            received += chunk.len() as u64;
            if received > expected {
                return Err(Error::LengthMismatch {
                    expected,
                    actual: received,
                });
            }
            match decryptor.as_mut() {
                Some(decryptor) => {
                    decryptor
                        .update(&chunk, &mut plaintext)
                        .map_err(sealdrop_envelope::DecryptError::from)?;
                    staged.write(&plaintext).await?;
                    written += plaintext.len() as u64;
                    plaintext.zeroize();
                }
                None => {
                    staged.write(&chunk).await?;
                    written += chunk.len() as u64;
                }
            }
            counter.add(chunk.len() as u64);
        }
        if received != expected {
            return Err(Error::LengthMismatch {
                expected,
                actual: received,
            });
        }
        if let Some(decryptor) = decryptor {
            decryptor.finish()?;
        }
        staged.publish(path, replace).await?;
        Ok(DownloadReport {
            key: object.key,
            path: path.to_owned(),
            size: written,
            mode: object.encryption.mode(),
            kms_key_id: object.encryption.kms_key_id().map(str::to_owned),
            encryption_context: object
                .encryption
                .client_side()
                .map(|cse| cse.encryption_context.clone()),
            server_side_encryption,
            server_side_encryption_kms_key_id,
        })
    }
}

fn sse_headers(headers: &HeaderMap) -> (Option<String>, Option<String>) {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    (get(SSE_HEADER), get(SSE_KEY_HEADER))
}
