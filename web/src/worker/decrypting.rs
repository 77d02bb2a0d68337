//! Decrypting a download as it streams in, with bounded memory.
//!
//! The stream is read straight into a segment buffer (BYOB reads where the
//! stream is a byte stream, as fetch bodies are in Chromium: no chunk buffers,
//! no copies); a segment is processed only once 16 more bytes arrived behind it
//! (the last 16 bytes of the object are its tag). With a helper worker (the
//! page gave us a port to one), the two WebCrypto calls of a segment run on both
//! cores: this worker computes the segment's GHASH-via-AAD `T'` and transfers
//! the buffer to the helper, which decrypts it (AES-CTR) while this worker
//! reads and hashes the next segment; the helper sends back the plaintext and
//! the buffer (reused for a later segment). When the helper holds
//! [`HELPER_DEPTH`] segments, this worker waits for one of its results. Without
//! a helper, both calls run here. Plaintext is written at its offset (order does
//! not matter); `T'` values go into the tag accumulator (they never leave this
//! worker), checked in constant time at the end. Memory: the buffer being
//! filled, [`HELPER_DEPTH`] at the helper, [`SPARES`] kept for reuse, and the
//! plaintext results — a few segments, whatever the object's size.

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
/// Segments a helper may hold at once (one being decrypted, others queued).
const HELPER_DEPTH: usize = 2;
/// Segment buffers the helper returned, kept for reuse (warm memory, less garbage).
const SPARES: usize = 2;

/// How long [`Decrypting::collect`] waits for the helper.
#[derive(Clone, Copy)]
enum Wait {
    No,
    One,
    All,
}

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
    /// The segment buffer's length: a segment and the 16 bytes behind it.
    capacity: u32,
    /// Segment buffers to reuse.
    spares: Vec<Uint8Array>,
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
            capacity: segment_len + TAG_LEN,
            spares: Vec::new(),
            segment_len,
            filled: 0,
            offset: 0,
        }
    }

    /// Where a BYOB read should put the next bytes: the free end of the segment
    /// buffer. The stream takes the buffer and gives it back with the bytes in
    /// place ([`Decrypting::commit_read`]): no chunk buffers, no copies.
    pub fn read_target(&self) -> Uint8Array {
        self.buffer.subarray(self.filled, self.capacity)
    }

    /// Takes back the buffer of a BYOB read into [`Decrypting::read_target`]
    /// (`value` = the bytes read, a view at their place in the buffer).
    pub async fn commit_read(
        &mut self,
        value: &Uint8Array,
        staging: &StagingFile,
    ) -> Result<(), JobError> {
        let buffer = value.buffer();
        if buffer.byte_length() != self.capacity || value.byte_offset() != self.filled {
            return Err(JobError::new(
                FailureKind::Internal,
                "the download stream returned another buffer",
            ));
        }
        self.buffer = Uint8Array::new(&buffer);
        self.filled += value.length();
        if self.filled == self.capacity {
            self.dispatch(staging).await?;
            self.filled = TAG_LEN;
        }
        self.collect(staging, Wait::No).await
    }

    /// A failed BYOB read keeps the buffer, and the bytes already in it: starts
    /// a fresh one and returns the stored offset to resume the download from.
    pub fn restart_segment(&mut self) -> u64 {
        self.buffer = self
            .spares
            .pop()
            .unwrap_or_else(|| Uint8Array::new_with_length(self.capacity));
        self.filled = 0;
        self.offset
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
            let span = crate::trace::span("open.copy");
            self.buffer
                .set(&chunk.subarray(taken, taken + take), self.filled);
            drop(span);
            self.filled += take;
            taken += take;
            if self.filled == capacity {
                self.dispatch(staging).await?;
                self.filled = TAG_LEN;
            }
        }
        self.collect(staging, Wait::No).await
    }

    /// Processes the full buffer's segment, keeping its last 16 bytes. With a
    /// helper, every segment goes to it (when it is full, this waits for one of
    /// its results): this worker reads the stream and writes the staging file,
    /// which keeps it as busy as the helper is with the crypto. (Deciding by
    /// "has the helper room?" without waiting starved it: its replies are only
    /// delivered when this worker yields to its event loop.)
    async fn dispatch(&mut self, staging: &StagingFile) -> Result<(), JobError> {
        let len = self.segment_len;
        let capacity = self.buffer.length();
        if self.helper.is_none() {
            self.process_here(len, staging).await?;
            self.buffer.copy_within(0, len as i32, capacity as i32);
            return Ok(());
        }
        if self.helper.as_ref().is_some_and(|h| !h.has_room()) {
            self.collect(staging, Wait::One).await?;
        }
        let next = self
            .spares
            .pop()
            .unwrap_or_else(|| Uint8Array::new_with_length(capacity));
        let full = std::mem::replace(&mut self.buffer, next);
        self.buffer.set(&full.subarray(len, capacity), 0);
        // This segment's GHASH here while the helper decrypts the previous one.
        let t_prime = segment::ghash(&self.keys, &full.subarray(0, len))
            .await
            .map_err(|e| internal("decryption failed", &e))?;
        self.tags
            .add(self.offset, u64::from(len), &t_prime)
            .map_err(integrity)?;
        let request = Request {
            offset: self.offset,
            len,
            data: full.buffer(),
        };
        if let Some(helper) = self.helper.as_mut() {
            let _span = crate::trace::span("open.send");
            helper
                .send(&request)
                .map_err(|e| internal("could not reach the helper worker", &e))?;
        }
        self.offset += u64::from(len);
        Ok(())
    }

    /// Hashes, decrypts and stores the buffer's first `len` bytes. WebCrypto
    /// copies its input when called, so the buffer may be reused afterwards.
    async fn process_here(&mut self, len: u32, staging: &StagingFile) -> Result<(), JobError> {
        let ciphertext = self.buffer.subarray(0, len);
        let (t_prime, plaintext) = segment::open(&self.keys, self.offset, &ciphertext)
            .await
            .map_err(|e| internal("decryption failed", &e))?;
        self.tags
            .add(self.offset, u64::from(len), &t_prime)
            .map_err(integrity)?;
        self.store(self.offset, &Uint8Array::new(&plaintext), staging)?;
        self.offset += u64::from(len);
        Ok(())
    }

    fn store(
        &mut self,
        offset: u64,
        plaintext: &Uint8Array,
        staging: &StagingFile,
    ) -> Result<(), JobError> {
        let _span = crate::trace::span("open.write");
        staging.write_at(plaintext, offset).map_err(staging_error)?;
        Ok(())
    }

    /// Stores the helper's results: those already delivered, or at least one,
    /// or all.
    async fn collect(&mut self, staging: &StagingFile, wait: Wait) -> Result<(), JobError> {
        let mut stored = 0;
        loop {
            let Some(helper) = self.helper.as_mut() else {
                return Ok(());
            };
            if helper.outstanding == 0 {
                return Ok(());
            }
            let block = match wait {
                Wait::All => true,
                Wait::One => stored == 0,
                Wait::No => false,
            };
            let message = if block {
                let _span = crate::trace::span("open.wait_helper");
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
            self.store(reply.offset, &plaintext, staging)?;
            if let Some(spare) = reply.spare
                && spare.byte_length() == self.capacity
                && self.spares.len() < SPARES
            {
                self.spares.push(Uint8Array::new(&spare));
            }
            stored += 1;
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
        self.collect(staging, Wait::All).await?;
        let _span = crate::trace::span("open.verify");
        let stored_tag = self.buffer.subarray(content, self.filled).to_vec();
        self.tags.verify(&stored_tag).map_err(integrity)?;
        Ok(self.offset)
    }
}
