//! SSE-KMS at rest: per-segment keys and authenticated 64 KiB chunks.
//!
//! Format of one encrypted segment file (see the crate README for the rationale):
//!
//! * The object's 256-bit data key `DK` comes from the [`crate::SseKeyProvider`]; only its
//!   wrapped form is stored (in the index record).
//! * Every segment (a single PUT body, one multipart part, one re-encrypted copy) has its own
//!   random 32-byte salt, stored in the index. The segment key is
//!   `HKDF-SHA256(ikm = DK, salt = salt, info = "sealdrop-store/sse/v1/segment")`, so two
//!   segments never share a key even when they share a data key (re-uploading a part gets a new
//!   salt, hence a new key, hence nonces are never reused).
//! * The plaintext is cut into chunks of [`CHUNK`] bytes (the last one may be shorter; an empty
//!   segment has one empty chunk). Chunk `i` is sealed with AES-256-GCM under the segment key,
//!   nonce `0^7 ‖ be32(i) ‖ last` (STREAM construction: `last` is 1 only for the final chunk),
//!   AAD `"sealdrop-store/sse/v1"`, and stored as `ciphertext ‖ tag` at offset
//!   `i * (CHUNK + 16)`. Reordering, truncating, extending or swapping chunks fails
//!   authentication.
//! * A ranged read decrypts only the chunks that overlap the range.

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

/// Plaintext bytes per chunk.
pub(crate) const CHUNK: usize = 64 * 1024;
/// GCM tag length.
pub(crate) const TAG: usize = 16;
/// Stored bytes per full chunk.
pub(crate) const STORED_CHUNK: u64 = (CHUNK + TAG) as u64;

const AAD: &[u8] = b"sealdrop-store/sse/v1";
const INFO: &[u8] = b"sealdrop-store/sse/v1/segment";

/// Encryption/decryption failure (never carries key material).
#[derive(Debug, thiserror::Error)]
pub(crate) enum CryptoError {
    #[error("stored chunk failed authentication")]
    Auth,
    #[error("segment too large for the chunk counter")]
    TooLarge,
    #[error("key derivation failed")]
    Kdf,
}

/// Number of chunks of a segment holding `plain_len` plaintext bytes.
pub(crate) fn chunk_count(plain_len: u64) -> u64 {
    if plain_len == 0 {
        1
    } else {
        plain_len.div_ceil(CHUNK as u64)
    }
}

/// Size on disk of an encrypted segment of `plain_len` bytes.
pub(crate) fn stored_len(plain_len: u64) -> u64 {
    plain_len + chunk_count(plain_len) * TAG as u64
}

/// A random 32-byte salt for a new segment.
pub(crate) fn new_salt() -> Result<[u8; 32], getrandom::Error> {
    let mut salt = [0u8; 32];
    getrandom::fill(&mut salt)?;
    Ok(salt)
}

/// AES-256-GCM keyed for one segment.
pub(crate) struct SegmentCipher {
    aead: Aes256Gcm,
}

impl SegmentCipher {
    pub(crate) fn new(data_key: &[u8; 32], salt: &[u8]) -> Result<Self, CryptoError> {
        let hk = Hkdf::<Sha256>::new(Some(salt), data_key);
        let mut key = Zeroizing::new([0u8; 32]);
        hk.expand(INFO, key.as_mut())
            .map_err(|_| CryptoError::Kdf)?;
        let aead = Aes256Gcm::new_from_slice(key.as_ref()).map_err(|_| CryptoError::Kdf)?;
        Ok(Self { aead })
    }

    /// Encrypts `buf` (the plaintext of chunk `at`) in place, appending the tag.
    pub(crate) fn seal(&self, at: ChunkAt, buf: &mut Vec<u8>) -> Result<(), CryptoError> {
        let nonce = at.nonce()?;
        self.aead
            .encrypt_in_place(&nonce, AAD, buf)
            .map_err(|_| CryptoError::Auth)
    }

    /// Decrypts `buf` (stored chunk `at`, ciphertext ‖ tag) in place.
    pub(crate) fn open(&self, at: ChunkAt, buf: &mut Vec<u8>) -> Result<(), CryptoError> {
        let nonce = at.nonce()?;
        self.aead
            .decrypt_in_place(&nonce, AAD, buf)
            .map_err(|_| CryptoError::Auth)
    }
}

/// Where a chunk stands in its segment: all its nonce is made of. Sealing and opening the
/// same position give the same nonce, and no two positions of a segment share one (the last
/// flag keeps a truncated segment from passing as complete).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChunkAt {
    /// 0-based chunk number (at most `u32::MAX`).
    pub(crate) index: u64,
    /// The segment's final chunk.
    pub(crate) last: bool,
}

impl ChunkAt {
    /// Chunk `index` of a segment of `count` chunks.
    pub(crate) fn of(index: u64, count: u64) -> Self {
        Self {
            index,
            last: index + 1 == count,
        }
    }

    /// `0^7 ‖ be32(index) ‖ last`.
    fn nonce(self) -> Result<Nonce<aes_gcm::aead::consts::U12>, CryptoError> {
        let counter = u32::try_from(self.index).map_err(|_| CryptoError::TooLarge)?;
        let mut n = [0u8; 12];
        n[7..11].copy_from_slice(&counter.to_be_bytes());
        n[11] = u8::from(self.last);
        Ok(Nonce::from(n))
    }
}

/// Streaming encryptor for one segment: feed plaintext, get stored bytes.
pub(crate) struct ChunkSealer {
    cipher: SegmentCipher,
    pending: Zeroizing<Vec<u8>>,
    index: u64,
}

impl ChunkSealer {
    pub(crate) fn new(cipher: SegmentCipher) -> Self {
        Self {
            cipher,
            pending: Zeroizing::new(Vec::with_capacity(CHUNK + TAG)),
            index: 0,
        }
    }

    /// Adds plaintext; returns the stored bytes of every chunk that is now known not to be the
    /// last one. A full chunk is held back until more data (or the end) arrives, because the
    /// last chunk is sealed differently.
    pub(crate) fn update(&mut self, mut data: &[u8], out: &mut Vec<u8>) -> Result<(), CryptoError> {
        while !data.is_empty() {
            if self.pending.len() == CHUNK {
                self.flush_chunk(false, out)?;
            }
            let take = (CHUNK - self.pending.len()).min(data.len());
            self.pending.extend_from_slice(&data[..take]);
            data = &data[take..];
        }
        Ok(())
    }

    fn flush_chunk(&mut self, last: bool, out: &mut Vec<u8>) -> Result<(), CryptoError> {
        let mut buf = std::mem::replace(
            &mut self.pending,
            Zeroizing::new(Vec::with_capacity(CHUNK + TAG)),
        );
        let at = ChunkAt {
            index: self.index,
            last,
        };
        self.cipher.seal(at, &mut buf)?;
        self.index += 1;
        out.extend_from_slice(&buf);
        Ok(())
    }

    /// Seals the final chunk.
    pub(crate) fn finish(mut self, out: &mut Vec<u8>) -> Result<(), CryptoError> {
        self.flush_chunk(true, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seal_all(key: &[u8; 32], salt: &[u8], data: &[u8]) -> Vec<u8> {
        let mut s = ChunkSealer::new(SegmentCipher::new(key, salt).unwrap());
        let mut out = Vec::new();
        for piece in data.chunks(1000) {
            s.update(piece, &mut out).unwrap();
        }
        s.finish(&mut out).unwrap();
        out
    }

    fn open_all(
        key: &[u8; 32],
        salt: &[u8],
        stored: &[u8],
        plain_len: u64,
    ) -> Result<Vec<u8>, CryptoError> {
        let c = SegmentCipher::new(key, salt)?;
        let n = chunk_count(plain_len);
        let mut out = Vec::new();
        for i in 0..n {
            let start = (i * STORED_CHUNK) as usize;
            let end = (start + STORED_CHUNK as usize).min(stored.len());
            let mut buf = stored[start..end].to_vec();
            c.open(ChunkAt::of(i, n), &mut buf)?;
            out.extend_from_slice(&buf);
        }
        Ok(out)
    }

    #[test]
    fn roundtrip_sizes() {
        let key = [7u8; 32];
        let salt = [1u8; 32];
        for len in [
            0usize,
            1,
            CHUNK - 1,
            CHUNK,
            CHUNK + 1,
            2 * CHUNK,
            3 * CHUNK + 17,
        ] {
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let stored = seal_all(&key, &salt, &data);
            assert_eq!(stored.len() as u64, stored_len(len as u64), "len {len}");
            assert_eq!(open_all(&key, &salt, &stored, len as u64).unwrap(), data);
        }
    }

    #[test]
    fn tamper_and_truncation_detected() {
        let key = [7u8; 32];
        let salt = [1u8; 32];
        let data = vec![42u8; 2 * CHUNK];
        let stored = seal_all(&key, &salt, &data);
        let mut bad = stored.clone();
        bad[10] ^= 1;
        assert!(open_all(&key, &salt, &bad, data.len() as u64).is_err());
        // dropping the last chunk: the (new) last chunk was sealed as non-last
        let truncated = &stored[..STORED_CHUNK as usize];
        assert!(open_all(&key, &salt, truncated, CHUNK as u64).is_err());
        // other salt = other key
        assert!(open_all(&key, &[2u8; 32], &stored, data.len() as u64).is_err());
    }
}
