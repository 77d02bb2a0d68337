//! Streaming segment writes (temp file → fsync → rename) and ranged segment reads.

use std::io::SeekFrom;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use md5::{Digest, Md5};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio::sync::mpsc;
use zeroize::Zeroizing;

use crate::StoreError;
use crate::engine::{Engine, PinGuard, SegmentRec, random_id};
use crate::sse::{self, ChunkSealer, SegmentCipher};

const WRITE_BUF: usize = 256 * 1024;
const READ_BUF: usize = 256 * 1024;

/// A segment being written to `tmp/`. Dropping it before [`SegmentSink::finish`] removes the
/// temp file.
pub(crate) struct SegmentSink {
    engine: Arc<Engine>,
    id: String,
    tmp: PathBuf,
    file: Option<tokio::fs::File>,
    sealer: Option<ChunkSealer>,
    salt: Option<[u8; 32]>,
    plain_md5: Md5,
    stored_md5: Md5,
    checksum: Option<crate::checksum::Hasher>,
    len: u64,
    max_len: u64,
    out: Vec<u8>,
    finished: bool,
}

/// A segment that is durable in `data/` but not yet referenced by the index.
pub(crate) struct WrittenSegment {
    pub rec: SegmentRec,
    pub plain_md5: [u8; 16],
    pub stored_md5: [u8; 16],
    pub checksum: Option<(crate::checksum::Algo, String)>,
}

impl WrittenSegment {
    /// The ETag (hex, no quotes) of this segment as an object or part: the MD5 of the stored
    /// bytes when encrypted — a plaintext MD5 in the index would let anyone with disk access
    /// confirm guesses — else the MD5 of the body, as S3 does.
    pub(crate) fn etag_hex(&self, encrypted: bool) -> String {
        if encrypted {
            hex::encode(self.stored_md5)
        } else {
            hex::encode(self.plain_md5)
        }
    }
}

impl SegmentSink {
    /// Starts a segment; `data_key` set means the segment is encrypted (with a fresh salt).
    pub(crate) async fn create(
        engine: Arc<Engine>,
        data_key: Option<&[u8; 32]>,
        checksum: Option<crate::checksum::Algo>,
        max_len: u64,
    ) -> Result<Self, StoreError> {
        let id = random_id()?;
        let tmp = engine.tmp_path(&id);
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .await?;
        let (sealer, salt) = match data_key {
            Some(dk) => {
                let salt = sse::new_salt().map_err(|e| StoreError::Random(e.to_string()))?;
                let cipher = SegmentCipher::new(dk, &salt).map_err(StoreError::from)?;
                (Some(ChunkSealer::new(cipher)), Some(salt))
            }
            None => (None, None),
        };
        Ok(Self {
            engine,
            id,
            tmp,
            file: Some(file),
            sealer,
            salt,
            plain_md5: Md5::new(),
            stored_md5: Md5::new(),
            checksum: checksum.map(crate::checksum::Hasher::new),
            len: 0,
            max_len,
            out: Vec::with_capacity(WRITE_BUF + sse::CHUNK),
            finished: false,
        })
    }

    pub(crate) async fn write(&mut self, data: &[u8]) -> Result<(), StoreError> {
        self.len += data.len() as u64;
        if self.len > self.max_len {
            return Err(StoreError::TooLarge);
        }
        self.plain_md5.update(data);
        if let Some(c) = &mut self.checksum {
            c.update(data);
        }
        match &mut self.sealer {
            Some(s) => s.update(data, &mut self.out).map_err(StoreError::from)?,
            None => self.out.extend_from_slice(data),
        }
        if self.out.len() >= WRITE_BUF {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), StoreError> {
        if self.out.is_empty() {
            return Ok(());
        }
        self.stored_md5.update(&self.out);
        if let Some(f) = &mut self.file {
            f.write_all(&self.out).await?;
        }
        self.out.clear();
        Ok(())
    }

    /// Consumes a body stream into the segment.
    pub(crate) async fn write_stream<S, E>(&mut self, mut body: S) -> Result<(), StoreError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| StoreError::Body(e.to_string()))?;
            self.write(&chunk).await?;
        }
        Ok(())
    }

    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Seals the last chunk, fsyncs, and renames the file into `data/` (fsyncing the
    /// directory). The returned segment is durable but unreferenced: the caller commits it to
    /// the index or retires it.
    pub(crate) async fn finish(mut self) -> Result<WrittenSegment, StoreError> {
        if let Some(s) = self.sealer.take() {
            s.finish(&mut self.out).map_err(StoreError::from)?;
        }
        self.flush().await?;
        if let Some(mut f) = self.file.take() {
            f.flush().await?;
            f.sync_all().await?;
        }
        let engine = Arc::clone(&self.engine);
        let tmp = self.tmp.clone();
        let id = self.id.clone();
        tokio::task::spawn_blocking(move || engine.publish(&tmp, &id))
            .await
            .map_err(StoreError::join)??;
        self.finished = true;
        let plain_md5: [u8; 16] = std::mem::take(&mut self.plain_md5).finalize().into();
        let stored_md5: [u8; 16] = std::mem::take(&mut self.stored_md5).finalize().into();
        let checksum = self.checksum.take().map(crate::checksum::Hasher::finish);
        Ok(WrittenSegment {
            rec: SegmentRec {
                id: self.id.clone(),
                len: self.len,
                salt: self.salt.map(hex::encode),
            },
            plain_md5,
            stored_md5,
            checksum,
        })
    }
}

impl Drop for SegmentSink {
    fn drop(&mut self) {
        if !self.finished {
            self.file.take();
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// What to read: segments (with their files) and a plaintext byte range of the whole object.
pub(crate) struct ReadPlan {
    pub segments: Vec<SegmentRec>,
    pub start: u64,
    pub end: u64,
    pub data_key: Option<Zeroizing<[u8; 32]>>,
}

/// Receives the plaintext produced by a reader task.
pub(crate) struct ChannelBody {
    first: Option<Bytes>,
    rx: mpsc::Receiver<Result<Bytes, std::io::Error>>,
}

impl Stream for ChannelBody {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(b) = self.first.take() {
            return Poll::Ready(Some(Ok(b)));
        }
        self.rx.poll_recv(cx)
    }
}

/// Starts reading `plan` in a background task. The first piece is awaited here so that an
/// early failure (missing file, tampered first chunk) becomes a proper error response instead
/// of a broken body.
pub(crate) async fn open_reader(
    engine: Arc<Engine>,
    plan: ReadPlan,
    pin: PinGuard,
) -> Result<ChannelBody, StoreError> {
    let (tx, mut rx) = mpsc::channel(4);
    tokio::spawn(async move {
        let _pin = pin;
        if let Err(e) = produce(&engine, &plan, &tx).await {
            tracing::warn!(error = %e, "object read failed");
            let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
        }
    });
    match rx.recv().await {
        None => Ok(ChannelBody { first: None, rx }),
        Some(Ok(b)) => Ok(ChannelBody { first: Some(b), rx }),
        Some(Err(e)) => Err(StoreError::Read(e.to_string())),
    }
}

async fn produce(
    engine: &Engine,
    plan: &ReadPlan,
    tx: &mpsc::Sender<Result<Bytes, std::io::Error>>,
) -> Result<(), StoreError> {
    let mut seg_start = 0u64;
    for seg in &plan.segments {
        let seg_end = seg_start + seg.len;
        let a = plan.start.max(seg_start);
        let b = plan.end.min(seg_end);
        if a < b {
            let path = engine.segment_path(&seg.id);
            let mut file = tokio::fs::File::open(&path).await?;
            let file_len = file.metadata().await?.len();
            match (&plan.data_key, &seg.salt) {
                (None, None) => {
                    if file_len != seg.len {
                        return Err(StoreError::Corrupt(
                            "segment file has the wrong size".into(),
                        ));
                    }
                    read_plain(&mut file, a - seg_start, b - seg_start, tx).await?;
                }
                (Some(dk), Some(salt_hex)) => {
                    if file_len != sse::stored_len(seg.len) {
                        return Err(StoreError::Corrupt(
                            "encrypted segment file has the wrong size".into(),
                        ));
                    }
                    let salt = hex::decode(salt_hex)
                        .map_err(|_| StoreError::Corrupt("bad segment salt".into()))?;
                    let cipher = SegmentCipher::new(dk, &salt)?;
                    read_sealed(
                        &mut file,
                        &cipher,
                        seg.len,
                        a - seg_start,
                        b - seg_start,
                        tx,
                    )
                    .await?;
                }
                _ => {
                    return Err(StoreError::Corrupt(
                        "segment encryption state mismatch".into(),
                    ));
                }
            }
        }
        seg_start = seg_end;
        if seg_start >= plan.end {
            break;
        }
    }
    Ok(())
}

async fn send(
    tx: &mpsc::Sender<Result<Bytes, std::io::Error>>,
    b: Bytes,
) -> Result<(), StoreError> {
    tx.send(Ok(b))
        .await
        .map_err(|_| StoreError::Body("client went away".into()))
}

async fn read_plain(
    file: &mut tokio::fs::File,
    start: u64,
    end: u64,
    tx: &mpsc::Sender<Result<Bytes, std::io::Error>>,
) -> Result<(), StoreError> {
    file.seek(SeekFrom::Start(start)).await?;
    let mut remaining = end - start;
    while remaining > 0 {
        let n = usize::try_from(remaining.min(READ_BUF as u64)).unwrap_or(READ_BUF);
        let mut buf = vec![0u8; n];
        file.read_exact(&mut buf).await?;
        remaining -= n as u64;
        send(tx, Bytes::from(buf)).await?;
    }
    Ok(())
}

async fn read_sealed(
    file: &mut tokio::fs::File,
    cipher: &SegmentCipher,
    plain_len: u64,
    start: u64,
    end: u64,
    tx: &mpsc::Sender<Result<Bytes, std::io::Error>>,
) -> Result<(), StoreError> {
    let chunk = sse::CHUNK as u64;
    let n = sse::chunk_count(plain_len);
    let first = start / chunk;
    let last = (end - 1) / chunk;
    file.seek(SeekFrom::Start(first * sse::STORED_CHUNK))
        .await?;
    let mut batch: Vec<u8> = Vec::with_capacity(READ_BUF);
    for i in first..=last {
        let chunk_start = i * chunk;
        let plain_in_chunk = (plain_len - chunk_start).min(chunk);
        let stored = usize::try_from(plain_in_chunk).unwrap_or(sse::CHUNK) + sse::TAG;
        let mut buf = vec![0u8; stored];
        file.read_exact(&mut buf).await?;
        cipher.open(sse::ChunkAt::of(i, n), &mut buf)?;
        let from = usize::try_from(start.max(chunk_start) - chunk_start).unwrap_or(0);
        let to = usize::try_from(end.min(chunk_start + plain_in_chunk) - chunk_start).unwrap_or(0);
        batch.extend_from_slice(buf.get(from..to).unwrap_or_default());
        if batch.len() >= READ_BUF {
            send(tx, Bytes::from(std::mem::take(&mut batch))).await?;
        }
    }
    if !batch.is_empty() {
        send(tx, Bytes::from(batch)).await?;
    }
    Ok(())
}
