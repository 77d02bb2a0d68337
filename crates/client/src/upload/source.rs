//! Reading the plaintext of an upload part by part, and noticing when the
//! input is not as long as announced.

use tokio::io::{AsyncRead, AsyncReadExt as _};

use crate::error::Error;

/// Plaintext of a known size, read in parts of the caller's choosing.
///
/// The size was given to the broker when the upload was created (it fixes the
/// multipart layout), so a file that grows or shrinks meanwhile fails the
/// upload instead of storing something else than announced.
pub(crate) struct PlaintextSource<R> {
    reader: R,
    size: u64,
    consumed: u64,
    /// The file name (or `input`), for messages.
    name: String,
}

impl<R: AsyncRead + Unpin> PlaintextSource<R> {
    pub(crate) fn new(reader: R, size: u64, name: impl Into<String>) -> Self {
        PlaintextSource {
            reader,
            size,
            consumed: 0,
            name: name.into(),
        }
    }

    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// The next `len` bytes. Reading the last announced byte also checks that
    /// the input ends there.
    pub(crate) async fn read_part(&mut self, len: u64) -> Result<Vec<u8>, Error> {
        let remaining = self.size - self.consumed;
        if len > remaining {
            return Err(Error::Protocol(format!(
                "a part of {len} bytes was asked for with {remaining} bytes left"
            )));
        }
        let len = usize::try_from(len).map_err(|_| {
            Error::Protocol(format!("a part of {len} bytes does not fit in memory"))
        })?;
        let mut buf = vec![0; len];
        let mut filled = 0;
        while filled < len {
            let n = self.read(&mut buf[filled..]).await?;
            if n == 0 {
                return Err(self.changed(format!(
                    "it ended after {} bytes",
                    self.consumed + filled as u64
                )));
            }
            filled += n;
        }
        self.consumed += len as u64;
        if self.consumed == self.size {
            self.expect_end().await?;
        }
        Ok(buf)
    }

    async fn expect_end(&mut self) -> Result<(), Error> {
        let mut probe = [0u8; 1];
        match self.read(&mut probe).await? {
            0 => Ok(()),
            _ => Err(self.changed("it has more".into())),
        }
    }

    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        self.reader
            .read(buf)
            .await
            .map_err(|e| Error::io(format!("reading {}", self.name), e))
    }

    fn changed(&self, found: String) -> Error {
        Error::SourceChanged {
            source_name: self.name.clone(),
            expected: self.size,
            found,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_exact_parts_and_checks_the_end() {
        let data: Vec<u8> = (0..10).collect();
        let mut source = PlaintextSource::new(&data[..], 10, "input");
        assert_eq!(source.read_part(4).await.unwrap(), vec![0, 1, 2, 3]);
        assert_eq!(source.read_part(6).await.unwrap(), vec![4, 5, 6, 7, 8, 9]);
        assert!(matches!(source.read_part(1).await, Err(Error::Protocol(_))));
    }

    #[tokio::test]
    async fn a_longer_or_shorter_input_is_a_changed_source() {
        let data = [7u8; 10];
        let mut longer = PlaintextSource::new(&data[..], 9, "input");
        let err = longer.read_part(9).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "input changed while it was uploaded: expected 9 bytes, it has more"
        );
        let mut shorter = PlaintextSource::new(&data[..], 11, "input");
        let err = shorter.read_part(11).await.unwrap_err();
        assert!(
            err.to_string().ends_with("it ended after 10 bytes"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn an_empty_input_is_one_empty_part() {
        let mut source = PlaintextSource::new(&[][..], 0, "input");
        assert!(source.read_part(0).await.unwrap().is_empty());
    }
}
