//! `std::io` adapters for streaming whole objects with bounded memory.
//!
//! - [`EncryptingReader`] turns a plaintext reader into the stored object's bytes
//!   (ciphertext, then the 16-byte tag).
//! - [`DecryptingWriter`] writes the plaintext of stored-object bytes to an inner
//!   writer. Authentication is **delayed**: the inner writer sees plaintext before
//!   the tag is checked, so it must be a staging place (e.g. a temporary file) that
//!   the caller publishes only when [`DecryptingWriter::finish`] succeeds.

use std::io::{self, Read, Write};

use zeroize::{Zeroize, Zeroizing};

use crate::error::DecryptError;
use crate::gcm::{Encryptor, ObjectDecryptor};
use crate::suite::TAG_LEN;

/// Reads plaintext from `inner` and yields ciphertext followed by the tag.
pub struct EncryptingReader<R> {
    inner: R,
    /// `Some` until the plaintext ends.
    encryptor: Option<Encryptor>,
    tag: [u8; TAG_LEN],
    tag_sent: usize,
}

impl<R: Read> EncryptingReader<R> {
    /// Wraps a plaintext reader.
    pub fn new(inner: R, encryptor: Encryptor) -> Self {
        EncryptingReader {
            inner,
            encryptor: Some(encryptor),
            tag: [0; TAG_LEN],
            tag_sent: 0,
        }
    }
}

impl<R: Read> Read for EncryptingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if let Some(encryptor) = self.encryptor.as_mut() {
            let n = self.inner.read(buf)?;
            if n > 0 {
                encryptor
                    .encrypt_in_place(&mut buf[..n])
                    .map_err(io::Error::other)?;
                return Ok(n);
            }
            // End of plaintext: from now on, emit the tag.
            if let Some(encryptor) = self.encryptor.take() {
                self.tag = *encryptor.finish().as_bytes();
            }
        }
        let n = (TAG_LEN - self.tag_sent).min(buf.len());
        buf[..n].copy_from_slice(&self.tag[self.tag_sent..self.tag_sent + n]);
        self.tag_sent += n;
        Ok(n)
    }
}

/// Decrypts stored-object bytes written to it into `inner`, with delayed
/// authentication (see the module docs).
pub struct DecryptingWriter<W> {
    inner: W,
    decryptor: ObjectDecryptor,
    /// Plaintext on its way to `inner`; wiped after every write and on drop.
    scratch: Zeroizing<Vec<u8>>,
}

impl<W: Write> DecryptingWriter<W> {
    /// Wraps the staging writer that receives (unauthenticated) plaintext.
    pub fn new(inner: W, decryptor: ObjectDecryptor) -> Self {
        DecryptingWriter {
            inner,
            decryptor,
            scratch: Zeroizing::new(Vec::new()),
        }
    }

    /// Checks the tag. `Ok` returns the inner writer, flushed: its content is now
    /// authenticated. On `Err` everything written to it must be discarded.
    pub fn finish(mut self) -> Result<W, FinishError> {
        self.inner.flush().map_err(FinishError::Io)?;
        self.decryptor.finish().map_err(FinishError::Decrypt)?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for DecryptingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.scratch.clear();
        self.decryptor
            .update(buf, &mut self.scratch)
            .map_err(io::Error::other)?;
        self.inner.write_all(&self.scratch)?;
        self.scratch.zeroize();
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Why [`DecryptingWriter::finish`] failed.
#[derive(Debug, thiserror::Error)]
pub enum FinishError {
    /// The object did not authenticate.
    #[error(transparent)]
    Decrypt(DecryptError),
    /// The staging writer failed.
    #[error("writing the plaintext failed: {0}")]
    Io(io::Error),
}
