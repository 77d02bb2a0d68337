//! `std::io` adapters for streaming whole objects with bounded memory.
//!
//! - [`EncryptingReader`] turns a plaintext reader into the stored object's bytes
//!   (ciphertext, then the 16-byte tag).
//! - [`UnverifiedDecryptingWriter`] writes the plaintext of stored-object bytes
//!   to an inner writer. Authentication is **delayed** (one GCM tag covers the
//!   whole object): the inner writer sees plaintext before the tag is checked, so
//!   it must be a staging place (e.g. a temporary file) that the caller publishes
//!   only when [`UnverifiedDecryptingWriter::finish`] succeeds.
//!
//! Both fail closed: once the cipher or the inner writer has failed, the adapter
//! refuses every later call, so a caller that ignores an error cannot end up with
//! a stream that is missing bytes yet carries a valid tag.

use std::io::{self, Read, Write};

use zeroize::{Zeroize, Zeroizing};

use crate::error::DecryptError;
use crate::gcm::{Encryptor, UnverifiedObjectDecryptor};
use crate::suite::TAG_LEN;

/// Reads plaintext from `inner` and yields ciphertext followed by the tag.
pub struct EncryptingReader<R> {
    inner: R,
    /// `Some` until the plaintext ends (or encryption fails).
    encryptor: Option<Encryptor>,
    failed: bool,
    tag: [u8; TAG_LEN],
    tag_sent: usize,
}

impl<R: Read> EncryptingReader<R> {
    /// Wraps a plaintext reader.
    ///
    /// The object is complete only once a read returns `Ok(0)`: the tag is
    /// produced after `inner` ends, so whoever stops reading earlier stores an
    /// object that never decrypts. The encryptor carries its own contract (see
    /// [`Encryptor::v3`]); nothing unverified is released.
    pub fn new(inner: R, encryptor: Encryptor) -> Self {
        EncryptingReader {
            inner,
            encryptor: Some(encryptor),
            failed: false,
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
        if self.failed {
            return Err(io::Error::other("encryption already failed"));
        }
        if let Some(encryptor) = self.encryptor.as_mut() {
            // An error from `inner` consumed nothing: the caller may retry.
            let n = self.inner.read(buf)?;
            if n > 0 {
                if let Err(e) = encryptor.encrypt_in_place(&mut buf[..n]) {
                    // Neither leave plaintext in the caller's buffer nor let a
                    // later read skip over these bytes.
                    buf[..n].zeroize();
                    self.failed = true;
                    return Err(io::Error::other(e));
                }
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
pub struct UnverifiedDecryptingWriter<W> {
    inner: W,
    decryptor: UnverifiedObjectDecryptor,
    /// Plaintext on its way to `inner`; wiped after every write and on drop.
    scratch: Zeroizing<Vec<u8>>,
    failed: bool,
}

impl<W: Write> UnverifiedDecryptingWriter<W> {
    /// Wraps the staging writer that receives plaintext.
    ///
    /// Security contract: everything `inner` receives is **unverified** until
    /// [`UnverifiedDecryptingWriter::finish`] returns `Ok`, which is the only way
    /// to get `inner` back. The caller must call `finish` after the last byte of
    /// the object and, if it fails or is never reached, discard everything
    /// `inner` received (with a borrowed `inner`, such as `&mut File`, the bytes
    /// are still there: never publish them). A failed write fails every later
    /// write and `finish`.
    pub fn new(inner: W, decryptor: UnverifiedObjectDecryptor) -> Self {
        UnverifiedDecryptingWriter {
            inner,
            decryptor,
            scratch: Zeroizing::new(Vec::new()),
            failed: false,
        }
    }

    /// Checks the tag. `Ok` returns the inner writer, flushed: its content is now
    /// authenticated. On `Err` everything written to it must be discarded.
    pub fn finish(mut self) -> Result<W, FinishError> {
        if self.failed {
            return Err(FinishError::Incomplete);
        }
        self.inner.flush().map_err(FinishError::Io)?;
        self.decryptor.finish().map_err(FinishError::Decrypt)?;
        Ok(self.inner)
    }

    fn decrypt_and_write(&mut self, buf: &[u8]) -> io::Result<()> {
        self.scratch.clear();
        self.decryptor
            .update(buf, &mut self.scratch)
            .map_err(io::Error::other)?;
        let written = self.inner.write_all(&self.scratch);
        self.scratch.zeroize();
        written
    }
}

impl<W: Write> Write for UnverifiedDecryptingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.failed {
            return Err(io::Error::other("an earlier write failed"));
        }
        // The decryptor has taken `buf` whether or not `inner` then accepts its
        // plaintext: a retry would feed it twice, skipping it would lose it.
        if let Err(e) = self.decrypt_and_write(buf) {
            self.failed = true;
            return Err(e);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Why [`UnverifiedDecryptingWriter::finish`] failed.
#[derive(Debug, thiserror::Error)]
pub enum FinishError {
    /// The object did not authenticate.
    #[error(transparent)]
    Decrypt(DecryptError),
    /// The staging writer failed.
    #[error("writing the plaintext failed: {0}")]
    Io(io::Error),
    /// An earlier write failed, so the staged plaintext is incomplete.
    #[error("an earlier write failed; the plaintext is incomplete")]
    Incomplete,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::gcm::UnverifiedDecryptor;
    use crate::keys::ContentKey;
    use crate::seal;

    const KEY: [u8; 32] = [0x42; 32];
    const IV: [u8; 12] = [0x24; 12];
    const AAD: &[u8] = &[0x00, 0x73];

    fn encryptor() -> Encryptor {
        Encryptor::new(ContentKey(KEY), &IV, AAD)
    }

    fn decryptor() -> UnverifiedObjectDecryptor {
        UnverifiedObjectDecryptor::new(UnverifiedDecryptor::new(ContentKey(KEY), &IV, AAD))
    }

    fn plaintext(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + len) as u8).collect()
    }

    /// Sizes around the block and tag size (16), `io::copy`'s buffer (8 KiB)
    /// and a larger power of two.
    fn sizes() -> impl Iterator<Item = usize> {
        (0..=66).chain(
            [8192, 65536]
                .into_iter()
                .flat_map(|b: usize| b - 17..=b + 17),
        )
    }

    /// A reader that returns at most `max` bytes per call.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(self.1).min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn read_all_in(reader: &mut impl Read, read_size: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; read_size];
        loop {
            let n = reader.read(&mut buf).unwrap();
            if n == 0 {
                return out;
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    fn decrypt_in(object: &[u8], write_size: usize) -> Result<Vec<u8>, FinishError> {
        let mut writer = UnverifiedDecryptingWriter::new(Vec::new(), decryptor());
        for piece in object.chunks(write_size.max(1)) {
            writer.write_all(piece).unwrap();
        }
        writer.finish()
    }

    #[test]
    fn round_trips_at_every_size_around_the_boundaries() {
        for size in sizes() {
            let plaintext = plaintext(size);
            let expected = seal(encryptor(), &plaintext).unwrap();
            for (inner_max, read_size) in
                [(1, 7), (16, 16), (17, 15), (5000, 8192), (usize::MAX, 3)]
            {
                let mut reader = EncryptingReader::new(Trickle(&plaintext, inner_max), encryptor());
                let object = read_all_in(&mut reader, read_size);
                assert_eq!(object, expected, "size {size}, {inner_max}/{read_size}");
                // The end stays the end.
                assert_eq!(reader.read(&mut [0u8; 4]).unwrap(), 0);
            }
            for write_size in [1, 15, 16, 17, 4096, usize::MAX] {
                assert_eq!(
                    decrypt_in(&expected, write_size).unwrap(),
                    plaintext,
                    "size {size}, writes of {write_size}"
                );
            }
        }
    }

    #[test]
    fn io_copy_streams_both_ways() {
        for size in [0, 1, 16, 17, 8191, 8192, 8193, 100_000] {
            let plaintext = plaintext(size);
            let mut object = Vec::new();
            let copied = io::copy(
                &mut EncryptingReader::new(plaintext.as_slice(), encryptor()),
                &mut object,
            )
            .unwrap();
            assert_eq!(copied as usize, size + TAG_LEN);
            assert_eq!(object, seal(encryptor(), &plaintext).unwrap());

            let mut writer = UnverifiedDecryptingWriter::new(Vec::new(), decryptor());
            io::copy(&mut object.as_slice(), &mut writer).unwrap();
            assert_eq!(writer.finish().unwrap(), plaintext, "size {size}");
        }
    }

    #[test]
    fn truncated_and_extended_objects_fail_at_finish() {
        for size in [0, 1, 15, 16, 17, 33, 8193] {
            let object = seal(encryptor(), &plaintext(size)).unwrap();
            for cut in 1..=object.len().min(40) {
                let result = decrypt_in(&object[..object.len() - cut], 7);
                let expected_truncated = object.len() - cut < TAG_LEN;
                assert!(
                    match result {
                        Err(FinishError::Decrypt(DecryptError::Truncated)) => expected_truncated,
                        Err(FinishError::Decrypt(DecryptError::Authentication)) =>
                            !expected_truncated,
                        _ => false,
                    },
                    "size {size}, cut {cut}"
                );
            }
            let mut longer = object.clone();
            longer.push(0);
            assert!(matches!(
                decrypt_in(&longer, 16),
                Err(FinishError::Decrypt(DecryptError::Authentication))
            ));
        }
    }

    #[test]
    fn stopping_before_the_reader_ends_loses_the_tag() {
        // The reader's `finish` is reading to the end: whoever stops once the
        // plaintext's worth of bytes has come out stores an object without a tag.
        for size in [0, 1, 16, 17, 100] {
            let plaintext = plaintext(size);
            let mut reader = EncryptingReader::new(plaintext.as_slice(), encryptor());
            let mut stored = vec![0u8; size];
            reader.read_exact(&mut stored).unwrap();
            assert!(decrypt_in(&stored, 64).is_err(), "size {size}");
        }
    }

    #[test]
    fn a_forgotten_finish_leaves_only_unverified_plaintext() {
        let plaintext = plaintext(100);
        let mut object = seal(encryptor(), &plaintext).unwrap();
        object[3] ^= 1;
        let mut staging = Vec::new();
        {
            let mut writer = UnverifiedDecryptingWriter::new(&mut staging, decryptor());
            writer.write_all(&object).unwrap();
            // Dropped without `finish`: nothing said the bytes are authentic…
        }
        // …and they are not: the staging place holds forged plaintext, which is
        // why only `finish` hands the writer back.
        assert_eq!(staging.len(), plaintext.len());
        assert_ne!(staging, plaintext);
        assert!(matches!(
            decrypt_in(&object, 100),
            Err(FinishError::Decrypt(DecryptError::Authentication))
        ));
    }

    /// Accepts `budget` bytes, then fails.
    struct FailingWriter {
        budget: usize,
        received: Vec<u8>,
    }

    impl Write for FailingWriter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if buf.len() > self.budget {
                return Err(io::Error::other("disk full"));
            }
            self.budget -= buf.len();
            self.received.extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failed_inner_write_fails_every_later_write_and_finish() {
        let plaintext = plaintext(200);
        let object = seal(encryptor(), &plaintext).unwrap();
        let inner = FailingWriter {
            budget: 50,
            received: Vec::new(),
        };
        let mut writer = UnverifiedDecryptingWriter::new(inner, decryptor());
        let mut failures = 0;
        // A careless caller that ignores errors and carries on: without the
        // poisoning, the tag would still match what the decryptor saw.
        for piece in object.chunks(40) {
            failures += usize::from(writer.write(piece).is_err());
        }
        assert_eq!(failures, object.chunks(40).count() - 1);
        assert!(matches!(writer.finish(), Err(FinishError::Incomplete)));
    }

    /// Interrupted on every other call, as a signal-heavy pipe may be.
    struct Interrupting<'a>(&'a [u8], bool);

    impl Read for Interrupting<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.1 = !self.1;
            if self.1 {
                return Err(io::ErrorKind::Interrupted.into());
            }
            self.0.read(buf)
        }
    }

    #[test]
    fn inner_read_errors_consume_nothing() {
        let plaintext = plaintext(20_000);
        let mut object = Vec::new();
        let mut reader = EncryptingReader::new(Interrupting(&plaintext, false), encryptor());
        io::copy(&mut reader, &mut object).unwrap();
        assert_eq!(object, seal(encryptor(), &plaintext).unwrap());
        // An empty buffer reads nothing and changes nothing.
        let mut reader = EncryptingReader::new(plaintext.as_slice(), encryptor());
        assert_eq!(reader.read(&mut []).unwrap(), 0);
        assert_eq!(read_all_in(&mut reader, 999), object);
    }

    #[test]
    fn the_gcm_limit_fails_the_reader_for_good_and_wipes_the_buffer() {
        let mut encryptor = encryptor();
        encryptor.exhaust_all_but(10);
        let mut reader = EncryptingReader::new(Trickle(&[0xAA; 64], 16), encryptor);
        let mut buf = [0u8; 16];
        assert!(reader.read(&mut buf).is_err());
        assert_eq!(buf, [0; 16]);
        // A smaller read would fit the limit, but bytes were already lost.
        assert!(reader.read(&mut buf[..4]).is_err());
        assert!(reader.read(&mut buf).is_err());
    }
}
