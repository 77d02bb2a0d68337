//! Encrypting and uploading one part.
//!
//! The part's plaintext (a `Blob.slice` of the user's `File`) is read, encrypted
//! with AES-CTR and hashed with GHASH-via-AAD segment by segment at its content
//! offset; the segments' `T'` go to the page, which alone can combine all parts
//! into the tag. The ciphertext is kept until the part is stored, so a retry
//! re-sends identical bytes; a part encrypted again (after a pause or an
//! expired URL) is checked segment by segment against the shares recorded the
//! first time before it is sent (the transfer core's invariant).

use futures::channel::oneshot;
use js_sys::Uint8Array;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use web_sys::Blob;

use super::job::{JobContext, cancelled, internal};
use super::put;
use crate::fastgcm::{BLOCK_LEN, SegmentKeys, webcrypto};
use crate::js;
use crate::protocol::{Attachments, Destination, Event, FailureKind, JobError, SealJob};
use crate::trace;
use sealdrop_transfer::FailureKind as TransferKind;
use sealdrop_transfer::ledger::{Changed, matches_expected};

/// The GCM tag length, appended to the last part.
const TAG_LEN: u64 = 16;

pub async fn run(
    job: SealJob,
    attachments: Attachments,
    ctx: &JobContext,
    tag: Option<oneshot::Receiver<[u8; 16]>>,
) -> Result<Event, JobError> {
    let Some(plaintext) = attachments.blob else {
        return Err(JobError::new(
            FailureKind::Internal,
            "seal job without data",
        ));
    };
    let body: JsValue = if job.encrypt {
        let Some(keys) = attachments.keys else {
            return Err(JobError::new(
                FailureKind::Internal,
                "seal job without keys",
            ));
        };
        let expected = attachments.secret.unwrap_or_default();
        encrypt(&job, &plaintext, &keys, &expected, ctx, tag).await?
    } else {
        plaintext.into()
    };
    let _span = trace::span("seal.put");
    let etag = match &job.destination {
        Destination::Storage(request) => put::send(request, &body, ctx).await?,
        #[cfg(feature = "bench")]
        Destination::Discard => None,
    };
    Ok(Event::Sent { job: job.job, etag })
}

/// The part's upload body: its ciphertext, and the tag if `tag` is given (the
/// last part). One WebCrypto call per segment; a part of a single segment
/// without tag is sent as WebCrypto returned it, otherwise segments are copied
/// into one buffer (XHR sends one buffer; a `Blob` would cost more).
async fn encrypt(
    job: &SealJob,
    plaintext: &Blob,
    keys: &SegmentKeys,
    expected: &[u8],
    ctx: &JobContext,
    tag: Option<oneshot::Receiver<[u8; 16]>>,
) -> Result<JsValue, JobError> {
    if !job.offset.is_multiple_of(BLOCK_LEN)
        || job.segment_len == 0
        || !job.segment_len.is_multiple_of(BLOCK_LEN)
    {
        return Err(JobError::new(FailureKind::Internal, "misaligned part"));
    }
    let len = plaintext.size() as u64;
    let input = read(plaintext).await?;
    let tag_len = if tag.is_some() { TAG_LEN } else { 0 };
    let single = len <= job.segment_len && tag.is_none();
    let body = if single {
        None
    } else {
        let stored = u32::try_from(len + tag_len)
            .map_err(|_| JobError::new(FailureKind::Internal, "part too large"))?;
        Some(Uint8Array::new_with_length(stored))
    };
    let mut start = 0;
    while start < len {
        ctx.check()?;
        let end = (start + job.segment_len).min(len);
        let segment = input.subarray(start as u32, end as u32);
        let offset = job.offset + start;
        let span = trace::span("seal.ctr");
        let ciphertext = webcrypto::aes_ctr(keys, offset, &segment)
            .await
            .map_err(|e| internal("encryption failed", &e))?;
        drop(span);
        let span = trace::span("seal.ghash");
        let t_prime = webcrypto::ghash_segment(keys, &ciphertext)
            .await
            .map_err(|e| internal("encryption failed", &e))?;
        drop(span);
        let segment = (start / job.segment_len) as usize;
        if matches_expected(expected, segment, &t_prime) == Some(false) {
            // The file changed since this part was first encrypted: sending
            // it would put a second plaintext under the same keystream.
            return Err(JobError::new(
                FailureKind::Transfer(TransferKind::SourceChanged),
                Changed(job.part_number).to_string(),
            ));
        }
        ctx.segment(offset, end - start, &t_prime);
        match &body {
            None => return Ok(ciphertext.into()),
            Some(body) => body.set(&Uint8Array::new(&ciphertext), start as u32),
        }
        start = end;
    }
    let body = body.unwrap_or_else(|| Uint8Array::new_with_length(0));
    if let Some(tag) = tag {
        let tag = tag.await.map_err(|_| cancelled())?;
        body.set(&Uint8Array::from(&tag[..]), len as u32);
    }
    Ok(body.buffer().into())
}

/// Reads the whole part (the part is the unit of memory: a few are in flight).
async fn read(blob: &Blob) -> Result<Uint8Array, JobError> {
    let unreadable = |e: JsValue| {
        JobError::new(
            FailureKind::ReadFile,
            format!(
                "The file could not be read — it may have been changed, moved or deleted since you chose it ({})",
                js::describe(&e)
            ),
        )
    };
    // For files on disk, one `arrayBuffer()` per part is the fastest read
    // Chromium offers a worker (faster than `stream()` or `FileReaderSync`).
    let _span = trace::span("seal.read");
    let buffer = JsFuture::from(blob.array_buffer())
        .await
        .map_err(unreadable)?;
    Ok(Uint8Array::new(&buffer))
}
