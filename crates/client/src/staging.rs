//! Writing a download next to its destination and publishing it only when it
//! is complete and authenticated.
//!
//! The plaintext of a client-side encrypted object is unauthenticated until
//! the tag at its very end verifies, so it is staged in a hidden temporary
//! file in the destination's directory (same file system: the final rename is
//! atomic) and renamed onto the destination after the check. If anything fails
//! or the download is dropped, the temporary file is deleted: nothing, and
//! never a partial file, appears under the destination name.

use std::path::{Path, PathBuf};

use tokio::fs::File;
use tokio::io::{AsyncWriteExt as _, BufWriter};

use crate::error::Error;

/// Writes reach the file in pieces of at least this size.
const WRITE_BUFFER: usize = 1 << 20;

/// A download being written to a temporary file beside its destination.
pub(crate) struct StagedFile {
    writer: BufWriter<File>,
    temp: TempPath,
}

impl StagedFile {
    /// Creates the temporary file, readable by the owner only (it will hold
    /// plaintext), in `destination`'s directory.
    pub(crate) async fn beside(destination: &Path) -> Result<StagedFile, Error> {
        let shown = destination.display();
        let file_name = destination.file_name().ok_or_else(|| {
            Error::io(
                format!("cannot write to {shown}"),
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"),
            )
        })?;
        let dir = directory_of(destination);
        let suffix = getrandom::u64()
            .map_err(|e| Error::io("cannot name a temporary file", std::io::Error::other(e)))?;
        let path = dir.join(format!(
            ".{}.{suffix:016x}.sealdrop-partial",
            file_name.to_string_lossy()
        ));
        let mut options = tokio::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        options.mode(0o600);
        let file = options.open(&path).await.map_err(|e| {
            Error::io(
                format!("cannot create a temporary file in {}", dir.display()),
                e,
            )
        })?;
        Ok(StagedFile {
            writer: BufWriter::with_capacity(WRITE_BUFFER, file),
            temp: TempPath(Some(path)),
        })
    }

    pub(crate) async fn write(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.writer
            .write_all(bytes)
            .await
            .map_err(|e| self.temp.error("cannot write", e))
    }

    /// Makes the content durable and moves it to `destination`: replacing an
    /// existing file, or failing with [`Error::DestinationExists`] if
    /// `replace` is false (checked atomically, by linking).
    pub(crate) async fn publish(self, destination: &Path, replace: bool) -> Result<(), Error> {
        let StagedFile {
            mut writer,
            mut temp,
        } = self;
        writer
            .flush()
            .await
            .map_err(|e| temp.error("cannot write", e))?;
        writer
            .into_inner()
            .sync_all()
            .await
            .map_err(|e| temp.error("cannot flush", e))?;
        let staged = temp.path()?.to_owned();
        let shown = destination.display();
        if replace {
            tokio::fs::rename(&staged, destination)
                .await
                .map_err(|e| Error::io(format!("cannot move the download to {shown}"), e))?;
            temp.forget();
        } else {
            // A hard link fails if the name exists, where a rename would
            // silently replace what another process just created.
            match tokio::fs::hard_link(&staged, destination).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    return Err(Error::DestinationExists(destination.to_owned()));
                }
                Err(e) => {
                    return Err(Error::io(format!("cannot move the download to {shown}"), e));
                }
            }
            // Dropping `temp` removes the staging name; the content stays linked.
        }
        sync_directory(destination).await;
        Ok(())
    }
}

/// Makes a rename durable. Best effort: not every platform can open directories.
async fn sync_directory(destination: &Path) {
    let dir = directory_of(destination);
    if let Ok(handle) = File::open(dir).await
        && let Err(err) = handle.sync_all().await
    {
        tracing::debug!("could not sync directory {}: {err}", dir.display());
    }
}

/// The directory a path names a file in (`.` for a bare file name).
fn directory_of(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// Deletes the temporary file on drop unless it was moved away.
struct TempPath(Option<PathBuf>);

impl TempPath {
    fn path(&self) -> Result<&Path, Error> {
        self.0
            .as_deref()
            .ok_or_else(|| Error::Protocol("the staged download is gone".into()))
    }

    fn forget(&mut self) {
        self.0 = None;
    }

    fn error(&self, what: &str, source: std::io::Error) -> Error {
        let path = self.0.as_deref().unwrap_or(Path::new("?"));
        Error::io(format!("{what} {}", path.display()), source)
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        if let Some(path) = self.0.take()
            && let Err(err) = std::fs::remove_file(&path)
            && err.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!("could not remove {}: {err}", path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[tokio::test]
    async fn publishes_only_on_success() {
        let dir = tempfile::tempdir().unwrap();
        let destination = dir.path().join("out.bin");

        let mut staged = StagedFile::beside(&destination).await.unwrap();
        staged.write(b"partial").await.unwrap();
        assert_eq!(names_in(dir.path()).len(), 1);
        assert!(!destination.exists());
        drop(staged);
        assert!(
            names_in(dir.path()).is_empty(),
            "a dropped download leaves nothing"
        );

        let mut staged = StagedFile::beside(&destination).await.unwrap();
        staged.write(b"complete").await.unwrap();
        staged.publish(&destination, false).await.unwrap();
        assert_eq!(names_in(dir.path()), vec!["out.bin"]);
        assert_eq!(std::fs::read(&destination).unwrap(), b"complete");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&destination)
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[tokio::test]
    async fn replaces_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let destination = dir.path().join("out.bin");
        std::fs::write(&destination, b"old").unwrap();

        let mut staged = StagedFile::beside(&destination).await.unwrap();
        staged.write(b"new").await.unwrap();
        let err = staged.publish(&destination, false).await.unwrap_err();
        assert!(matches!(err, Error::DestinationExists(_)));
        assert_eq!(std::fs::read(&destination).unwrap(), b"old");
        assert_eq!(names_in(dir.path()), vec!["out.bin"]);

        let mut staged = StagedFile::beside(&destination).await.unwrap();
        staged.write(b"new").await.unwrap();
        staged.publish(&destination, true).await.unwrap();
        assert_eq!(std::fs::read(&destination).unwrap(), b"new");
        assert_eq!(names_in(dir.path()), vec!["out.bin"]);
    }
}
