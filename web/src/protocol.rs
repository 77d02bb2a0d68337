//! Messages between the page and its workers.
//!
//! A message is a plain JS object `{ json, blob?, ctr?, gcm?, iv?, secret?, port?, data? }`:
//! `json` is a serde-encoded [`Command`] or [`Event`]; the other fields carry what
//! JSON cannot (a `Blob`, `CryptoKey`s, a `MessagePort`, transferred) or should
//! not (`secret`: GHASH key material or segment results, as bytes the receiver
//! copies into zeroizing memory and wipes).
//!
//! A download's worker and its helper talk directly over a `MessagePort`:
//! `{ offset, len, data }` (ciphertext, transferred) one way, `{ offset, len,
//! data, spare }` (plaintext and the ciphertext's buffer for reuse, both
//! transferred) back. The segments' `T'` are computed by the download's worker
//! and never cross the port.

use js_sys::{Object, Reflect, Uint8Array};
use sealdrop_api::PresignedRequest;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Blob, CryptoKey, MessagePort};
use zeroize::Zeroizing;

use crate::fastgcm::SegmentKeys;
use sealdrop_envelope::IV_LEN;

/// What people are told when a download does not authenticate.
pub const INTEGRITY_MESSAGE: &str =
    "Integrity check failed — the object was modified or corrupted; nothing was saved";

/// Identifies one job across the page and a worker.
pub type JobId = u32;

/// Page → worker.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Command {
    /// Encrypt (or not) and upload one part. Attachments: `blob` (the part's
    /// plaintext), and for encryption the segment keys.
    Seal(SealJob),
    /// Download one object into an OPFS staging file, decrypting and verifying
    /// it if it is client-side encrypted. Attachments for decryption: the segment
    /// keys, `secret` = the GHASH key (`H ‖ E_K(J0)`), and optionally `port` to
    /// an [`Command::Assist`] job in another worker.
    Open(OpenJob),
    /// Decrypt segments sent by an [`Command::Open`] job over the attached
    /// `port`, with the attached segment keys, until cancelled.
    Assist {
        /// The job.
        job: JobId,
    },
    /// The object's tag, for a [`SealJob`] with `needs_tag`.
    Tag {
        /// The job.
        job: JobId,
        /// The tag (public: it is stored with the object).
        tag: [u8; 16],
    },
    /// Stop the job (its upload or download is aborted).
    Cancel {
        /// The job.
        job: JobId,
    },
}

/// One part of an upload.
#[derive(Debug, Serialize, Deserialize)]
pub struct SealJob {
    /// The job.
    pub job: JobId,
    /// The part's number (for messages).
    pub part_number: u32,
    /// Offset of the part in the plaintext (a multiple of 16 when encrypting).
    pub offset: u64,
    /// Encrypt with the attached keys (client-side encryption). When the part
    /// was encrypted before, `secret` carries the GHASH shares recorded then
    /// (16 bytes per segment, from the first): each segment must come out the
    /// same before anything is sent.
    pub encrypt: bool,
    /// The last part of an encrypted object: wait for [`Command::Tag`] and
    /// append it.
    pub needs_tag: bool,
    /// Where the part goes.
    pub destination: Destination,
    /// Plaintext bytes per WebCrypto call (a multiple of 16).
    pub segment_len: u64,
}

/// Where a sealed part goes.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Destination {
    /// Storage, through this presigned request.
    Storage(PresignedRequest),
    /// Nowhere (the benchmark's encrypt-only measurement; not in the product).
    #[cfg(feature = "bench")]
    Discard,
}

/// One object download.
#[derive(Debug, Serialize, Deserialize)]
pub struct OpenJob {
    /// The job.
    pub job: JobId,
    /// The presigned GET.
    pub request: PresignedRequest,
    /// Bytes stored (for client-side encryption: ciphertext and the 16-byte tag).
    pub stored_size: u64,
    /// Decrypt with the attached keys; the content AAD.
    pub decrypt_aad: Option<Vec<u8>>,
    /// Name of the staging file in the OPFS staging directory.
    pub staging_name: String,
    /// Ciphertext bytes per WebCrypto call (a multiple of 16).
    pub segment_len: u64,
}

/// Worker → page.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Event {
    /// The worker loaded the app module and accepts commands.
    Ready,
    /// A content segment of a [`SealJob`] is encrypted; `secret` = its `T'`.
    Segment {
        /// The job.
        job: JobId,
        /// Content offset.
        offset: u64,
        /// Content length.
        len: u64,
    },
    /// Bytes of the job's transfer done so far (sent or received).
    Progress {
        /// The job.
        job: JobId,
        /// Bytes so far.
        bytes: u64,
    },
    /// A part upload succeeded.
    Sent {
        /// The job.
        job: JobId,
        /// The part's ETag (needed to complete multipart uploads).
        etag: Option<String>,
    },
    /// A download is complete, authenticated if encrypted, and its staging file
    /// closed.
    Staged {
        /// The job.
        job: JobId,
        /// Plaintext bytes in the staging file.
        bytes: u64,
        /// The storage's `x-amz-server-side-encryption` response header.
        server_side_encryption: Option<String>,
        /// The storage's `x-amz-server-side-encryption-aws-kms-key-id` header.
        sse_kms_key_id: Option<String>,
    },
    /// The job failed (or was cancelled); nothing more will come from it.
    Failed {
        /// The job.
        job: JobId,
        /// Why.
        error: JobError,
    },
}

impl Event {
    /// The job this event belongs to.
    pub fn job(&self) -> Option<JobId> {
        match self {
            Event::Ready => None,
            Event::Segment { job, .. }
            | Event::Progress { job, .. }
            | Event::Sent { job, .. }
            | Event::Staged { job, .. }
            | Event::Failed { job, .. } => Some(*job),
        }
    }

    /// Whether the job is over after this event.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            Event::Sent { .. } | Event::Staged { .. } | Event::Failed { .. }
        )
    }
}

/// What went wrong in a worker job, in terms the page can act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    /// A transfer failure as the transfer core classifies it (storage
    /// answers, no answer, integrity, a file that changed).
    Transfer(sealdrop_transfer::FailureKind),
    /// The local file could not be read (moved, changed, or permission lost).
    ReadFile,
    /// The browser's private storage (OPFS) failed.
    Staging,
    /// The page cancelled the job.
    Cancelled,
    /// A bug or an unexpected browser error.
    Internal,
}

/// A job failure with a message for people.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JobError {
    /// The category.
    pub kind: FailureKind,
    /// What happened, readable.
    pub message: String,
}

impl JobError {
    /// A failure of this kind.
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        JobError {
            kind,
            message: message.into(),
        }
    }
}

/// The non-JSON parts of a message.
#[derive(Default)]
pub struct Attachments {
    /// A part's plaintext.
    pub blob: Option<Blob>,
    /// Segment keys.
    pub keys: Option<SegmentKeys>,
    /// Secret bytes (wiped in transit buffers once copied).
    pub secret: Option<Zeroizing<Vec<u8>>>,
    /// A channel to another worker (transferred).
    pub port: Option<MessagePort>,
    /// Bytes for an open job to read instead of sending its request
    /// (transferred; the benchmark's in-memory source, not in the product).
    #[cfg(feature = "bench")]
    pub data: Option<js_sys::ArrayBuffer>,
}

impl Attachments {
    /// The objects to transfer rather than copy.
    pub fn transfer_list(&self) -> js_sys::Array {
        let list: js_sys::Array = self.port.iter().collect();
        #[cfg(feature = "bench")]
        if let Some(data) = &self.data {
            list.push(data);
        }
        list
    }
}

/// Encodes a message.
pub fn encode<T: Serialize>(body: &T, attachments: &Attachments) -> Result<JsValue, JsValue> {
    let json = serde_json::to_string(body).map_err(|e| JsValue::from_str(&e.to_string()))?;
    let message = Object::new();
    Reflect::set(&message, &"json".into(), &json.into())?;
    if let Some(blob) = &attachments.blob {
        Reflect::set(&message, &"blob".into(), blob)?;
    }
    if let Some(keys) = &attachments.keys {
        Reflect::set(&message, &"ctr".into(), &keys.ctr)?;
        Reflect::set(&message, &"gcm".into(), &keys.gcm)?;
        Reflect::set(&message, &"iv".into(), &Uint8Array::from(&keys.iv[..]))?;
    }
    if let Some(secret) = &attachments.secret {
        Reflect::set(&message, &"secret".into(), &Uint8Array::from(&secret[..]))?;
    }
    if let Some(port) = &attachments.port {
        Reflect::set(&message, &"port".into(), port)?;
    }
    #[cfg(feature = "bench")]
    if let Some(data) = &attachments.data {
        Reflect::set(&message, &"data".into(), data)?;
    }
    Ok(message.into())
}

/// Wipes the secret bytes of a message after `postMessage` cloned it.
pub fn wipe(message: &JsValue) {
    if let Ok(secret) = Reflect::get(message, &"secret".into())
        && let Ok(secret) = secret.dyn_into::<Uint8Array>()
    {
        secret.fill(0, 0, secret.length());
    }
}

/// Decodes a message.
pub fn decode<T: DeserializeOwned>(message: &JsValue) -> Result<(T, Attachments), String> {
    let field = |name: &str| {
        Reflect::get(message, &name.into())
            .ok()
            .filter(|v| !v.is_undefined())
    };
    let json = field("json")
        .and_then(|v| v.as_string())
        .ok_or("message without a json field")?;
    let body = serde_json::from_str(&json).map_err(|e| format!("malformed message: {e}"))?;
    let blob = field("blob").and_then(|v| v.dyn_into::<Blob>().ok());
    let keys = match (field("ctr"), field("gcm"), field("iv")) {
        (Some(ctr), Some(gcm), Some(iv)) => {
            let iv = Uint8Array::new(&iv).to_vec();
            Some(SegmentKeys {
                ctr: ctr
                    .dyn_into::<CryptoKey>()
                    .map_err(|_| "ctr is not a CryptoKey")?,
                gcm: gcm
                    .dyn_into::<CryptoKey>()
                    .map_err(|_| "gcm is not a CryptoKey")?,
                iv: <[u8; IV_LEN]>::try_from(iv.as_slice()).map_err(|_| "iv must be 12 bytes")?,
            })
        }
        _ => None,
    };
    let secret = field("secret").map(|v| {
        let array = Uint8Array::new(&v);
        let bytes = Zeroizing::new(array.to_vec());
        array.fill(0, 0, array.length());
        bytes
    });
    let port = field("port").and_then(|v| v.dyn_into::<MessagePort>().ok());
    Ok((
        body,
        Attachments {
            blob,
            keys,
            secret,
            port,
            #[cfg(feature = "bench")]
            data: field("data").and_then(|v| v.dyn_into::<js_sys::ArrayBuffer>().ok()),
        },
    ))
}
