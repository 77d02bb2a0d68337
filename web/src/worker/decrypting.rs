//! Decrypting a download as it streams in, with bounded memory.
//!
//! Bytes are assembled into segments; a segment is processed only once 16 more
//! bytes arrived behind it (the last 16 bytes of the object are its tag). Each
//! segment is hashed (GHASH-via-AAD) and decrypted (AES-CTR) either here or by a
//! helper worker, if the page gave us a port to one: whole segment buffers are
//! transferred (not copied) to the helper while it has fewer than
//! [`HELPER_DEPTH`] in hand, otherwise processed here — so both cores work and
//! neither waits. Plaintext is written at its offset (order does not matter);
//! `T'` results go into the tag accumulator, checked in constant time at the end.

use futures::StreamExt;
use futures::channel::mpsc;
use js_sys::Uint8Array;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{MessageEvent, MessagePort};

use super::job::internal;
use super::open::{integrity, staging_error};
use super::segment::{self, Reply, Request};
use crate::fastgcm::{SegmentKeys, TagBuilder};
use crate::opfs::StagingFile;
use crate::protocol::{FailureKind, JobError};

/// The GCM tag length.
pub const TAG_LEN: u32 = 16;
/// Segments a helper may hold at once (one being decrypted, one queued).
const HELPER_DEPTH: usize = 4;

/// The other worker of a download, behind a `MessagePort`.
pub struct Helper {
    port: MessagePort,
    replies: mpsc::UnboundedReceiver<JsValue>,
    outstanding: usize,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
}

impl Helper {
    /// Listens on `port` for the helper's replies.
    pub fn new(port: MessagePort) -> Helper {
        let (sender, replies) = mpsc::unbounded();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let _ = sender.unbounded_send(event.data());
        });
        port.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        Helper {
            port,
            replies,
            outstanding: 0,
            _on_message: on_message,
        }
    }

    fn has_room(&self) -> bool {
        self.outstanding < HELPER_DEPTH
    }

    fn send(&mut self, request: &Request) -> Result<(), JsValue> {
        let (message, transfer) = request.encode()?;
        self.port
            .post_message_with_transferable(&message, &transfer)?;
        self.outstanding += 1;
        Ok(())
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        self.port.set_onmessage(None);
        self.port.close();
    }
}

/// The decryption state of one download.
pub struct Decrypting {
    keys: SegmentKeys,
    tags: TagBuilder,
    helper: Option<Helper>,
    buffer: Uint8Array,
    segment_len: u32,
    filled: u32,
    /// Content offset of the buffer's first byte.
    offset: u64,
}

impl Decrypting {
    pub fn new(
        keys: SegmentKeys,
        tags: TagBuilder,
        segment_len: u32,
        helper: Option<Helper>,
    ) -> Decrypting {
        Decrypting {
            keys,
            tags,
            helper,
            buffer: Uint8Array::new_with_length(segment_len + TAG_LEN),
            segment_len,
            filled: 0,
            offset: 0,
        }
    }

    /// Takes the next piece of the stored object.
    pub async fn push(
        &mut self,
        chunk: &Uint8Array,
        staging: &StagingFile,
    ) -> Result<(), JobError> {
        let capacity = self.buffer.length();
        let mut taken = 0;
        while taken < chunk.length() {
            let take = (capacity - self.filled).min(chunk.length() - taken);
            self.buffer
                .set(&chunk.subarray(taken, taken + take), self.filled);
            self.filled += take;
            taken += take;
            if self.filled == capacity {
                self.dispatch(staging).await?;
                self.filled = TAG_LEN;
            }
        }
        self.collect(staging, false).await
    }

    /// Processes the full buffer's segment, keeping its last 16 bytes.
    async fn dispatch(&mut self, staging: &StagingFile) -> Result<(), JobError> {
        let len = self.segment_len;
        let capacity = self.buffer.length();
        match &mut self.helper {
            Some(helper) if helper.has_room() => {
                let full =
                    std::mem::replace(&mut self.buffer, Uint8Array::new_with_length(capacity));
                self.buffer.set(&full.subarray(len, capacity), 0);
                let request = Request {
                    offset: self.offset,
                    len,
                    data: full.buffer(),
                };
                helper
                    .send(&request)
                    .map_err(|e| internal("could not reach the helper worker", &e))?;
                self.offset += u64::from(len);
            }
            _ => {
                self.process_here(len, staging).await?;
                self.buffer.copy_within(0, len as i32, capacity as i32);
            }
        }
        Ok(())
    }

    /// Hashes, decrypts and stores the buffer's first `len` bytes. WebCrypto
    /// copies its input when called, so the buffer may be reused afterwards.
    async fn process_here(&mut self, len: u32, staging: &StagingFile) -> Result<(), JobError> {
        let ciphertext = self.buffer.subarray(0, len);
        let (t_prime, plaintext) = segment::open(&self.keys, self.offset, &ciphertext)
            .await
            .map_err(|e| internal("decryption failed", &e))?;
        self.store(
            self.offset,
            len,
            &t_prime,
            &Uint8Array::new(&plaintext),
            staging,
        )?;
        self.offset += u64::from(len);
        Ok(())
    }

    fn store(
        &mut self,
        offset: u64,
        len: u32,
        t_prime: &[u8; 16],
        plaintext: &Uint8Array,
        staging: &StagingFile,
    ) -> Result<(), JobError> {
        self.tags
            .add(offset, u64::from(len), t_prime)
            .map_err(integrity)?;
        staging.write_at(plaintext, offset).map_err(staging_error)
    }

    /// Stores the helper's results: those already there, or (`wait`) all.
    async fn collect(&mut self, staging: &StagingFile, wait: bool) -> Result<(), JobError> {
        loop {
            let Some(helper) = self.helper.as_mut() else {
                return Ok(());
            };
            if helper.outstanding == 0 {
                return Ok(());
            }
            let message = if wait {
                helper.replies.next().await
            } else {
                match helper.replies.try_recv() {
                    Ok(message) => Some(message),
                    Err(mpsc::TryRecvError::Empty) => return Ok(()),
                    Err(mpsc::TryRecvError::Closed) => None,
                }
            };
            let Some(message) = message else {
                return Err(JobError::new(
                    FailureKind::Internal,
                    "the helper worker stopped",
                ));
            };
            helper.outstanding -= 1;
            let reply = Reply::decode(&message).map_err(|why| {
                JobError::new(FailureKind::Internal, format!("decryption failed: {why}"))
            })?;
            let plaintext = Uint8Array::new_with_byte_offset_and_length(&reply.data, 0, reply.len);
            self.store(reply.offset, reply.len, &reply.t_prime, &plaintext, staging)?;
        }
    }

    /// Ends the object: processes the last segment, waits for the helper, and
    /// checks the tag. Returns the plaintext length.
    pub async fn finish(&mut self, staging: &StagingFile) -> Result<u64, JobError> {
        let Some(content) = self.filled.checked_sub(TAG_LEN) else {
            return Err(integrity("the object is shorter than its tag"));
        };
        if content > 0 {
            self.process_here(content, staging).await?;
        }
        self.collect(staging, true).await?;
        let stored_tag = self.buffer.subarray(content, self.filled).to_vec();
        self.tags.verify(&stored_tag).map_err(integrity)?;
        Ok(self.offset)
    }
}
