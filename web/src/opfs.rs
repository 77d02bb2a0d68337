//! Download staging in the Origin Private File System.
//!
//! A download is written to `sealdrop-staging/<random name>` by a worker through
//! a synchronous access handle (bounded memory, exclusive lock), and handed to
//! the user only after it authenticated. The directory is private to this origin
//! and invisible to the user; files are removed on failure, some minutes after a
//! successful hand-over, at sign-out, and at start-up (leftovers of a closed tab).

use js_sys::{AsyncIterator, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    File, FileSystemDirectoryHandle, FileSystemFileHandle, FileSystemGetDirectoryOptions,
    FileSystemGetFileOptions, FileSystemReadWriteOptions, FileSystemSyncAccessHandle,
    StorageManager,
};

use crate::js;

const STAGING_DIR: &str = "sealdrop-staging";
/// The largest single write (see [`StagingFile::write_at`]).
const WRITE_PIECE: u32 = 1024 * 1024;

fn storage_manager() -> Result<StorageManager, JsValue> {
    let navigator = Reflect::get(&js_sys::global(), &"navigator".into())?;
    Reflect::get(&navigator, &"storage".into())?
        .dyn_into()
        .map_err(|_| JsValue::from_str("this browser has no storage manager"))
}

/// The staging directory (created on first use).
pub async fn staging_dir() -> Result<FileSystemDirectoryHandle, JsValue> {
    let root: FileSystemDirectoryHandle = JsFuture::from(storage_manager()?.get_directory())
        .await?
        .dyn_into()?;
    let options = FileSystemGetDirectoryOptions::new();
    options.set_create(true);
    JsFuture::from(root.get_directory_handle_with_options(STAGING_DIR, &options))
        .await?
        .dyn_into()
}

/// A fresh, unguessable staging file name.
pub fn new_name() -> Result<String, JsValue> {
    let mut bytes = [0u8; 16];
    js::crypto()?.get_random_values_with_u8_array(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// A staging file open for writing (workers only: synchronous access handles
/// exist only in dedicated workers).
pub struct StagingFile {
    dir: FileSystemDirectoryHandle,
    name: String,
    handle: FileSystemSyncAccessHandle,
}

impl StagingFile {
    /// Creates (or empties) the staging file `name`.
    pub async fn create(name: &str) -> Result<StagingFile, JsValue> {
        let dir = staging_dir().await?;
        let options = FileSystemGetFileOptions::new();
        options.set_create(true);
        let file: FileSystemFileHandle =
            JsFuture::from(dir.get_file_handle_with_options(name, &options))
                .await?
                .dyn_into()?;
        let handle: FileSystemSyncAccessHandle = JsFuture::from(file.create_sync_access_handle())
            .await?
            .dyn_into()?;
        handle.truncate_with_f64(0.0)?;
        Ok(StagingFile {
            dir,
            name: name.to_owned(),
            handle,
        })
    }

    /// Writes `data` at byte `offset`, in pieces of at most [`WRITE_PIECE`]
    /// bytes: Chromium writes those several times faster than 8 MiB at once.
    pub fn write_at(&self, data: &Uint8Array, offset: u64) -> Result<(), JsValue> {
        let options = FileSystemReadWriteOptions::new();
        let mut done = 0;
        while done < data.length() {
            let end = data.length().min(done + WRITE_PIECE);
            options.set_at((offset + u64::from(done)) as f64);
            let piece = data.subarray(done, end);
            let written = self
                .handle
                .write_with_buffer_source_and_options(&piece, &options)?;
            if written as u32 != end - done {
                return Err(JsValue::from_str(
                    "short write to the staging file (disk full?)",
                ));
            }
            done = end;
        }
        Ok(())
    }

    /// Flushes and releases the file: it can now be read by the page.
    pub fn close(self) -> Result<(), JsValue> {
        let flushed = self.handle.flush();
        self.handle.close();
        flushed
    }

    /// Closes and deletes the file (the download failed: nothing is kept).
    pub async fn discard(self) {
        self.handle.close();
        let _ = JsFuture::from(self.dir.remove_entry(&self.name)).await;
    }
}

/// The finished staging file `name`, as a `File` for the user to save.
pub async fn staged_file(name: &str) -> Result<File, JsValue> {
    let dir = staging_dir().await?;
    let handle: FileSystemFileHandle = JsFuture::from(dir.get_file_handle(name))
        .await?
        .dyn_into()?;
    JsFuture::from(handle.get_file()).await?.dyn_into()
}

/// Deletes the staging file `name` (ignoring a file that is already gone).
pub async fn remove(name: &str) {
    if let Ok(dir) = staging_dir().await {
        let _ = JsFuture::from(dir.remove_entry(name)).await;
    }
}

/// Deletes staging files last modified more than `max_age_ms` ago. Files another
/// tab is still writing are locked and stay.
pub async fn sweep(max_age_ms: f64) -> Result<(), JsValue> {
    let dir = staging_dir().await?;
    let now = js_sys::Date::now();
    for name in entry_names(&dir).await? {
        let stale = match staged_file(&name).await {
            Ok(file) => now - file.last_modified() > max_age_ms,
            // Locked by a writer (another tab's download in progress).
            Err(_) => false,
        };
        if stale && let Err(error) = JsFuture::from(dir.remove_entry(&name)).await {
            let message = format!(
                "sealdrop: could not remove a stale download: {}",
                js::describe(&error)
            );
            web_sys::console::warn_1(&message.into());
        }
    }
    Ok(())
}

/// The names in `dir`, collected before anything is removed from it.
async fn entry_names(dir: &FileSystemDirectoryHandle) -> Result<Vec<String>, JsValue> {
    let keys: AsyncIterator = dir.keys();
    let mut names = Vec::new();
    loop {
        let step = JsFuture::from(keys.next()?).await?;
        if Reflect::get(&step, &"done".into())?.is_truthy() {
            return Ok(names);
        }
        if let Some(name) = Reflect::get(&step, &"value".into())?.as_string() {
            names.push(name);
        }
    }
}
