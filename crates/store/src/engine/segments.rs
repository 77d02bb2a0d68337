//! Segment files: where they live, how a finished one becomes durable, and when an
//! unreferenced one may be removed.
//!
//! Promises: a published segment is never modified; a segment the index no longer references
//! is unlinked only once no reader or copier has it pinned (or at the next start, when nothing
//! can have it pinned). File names are random ids, never derived from keys.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, MutexGuard};

use super::Engine;
use crate::StoreError;

pub(crate) const DATA_DIR: &str = "data";
pub(crate) const TMP_DIR: &str = "tmp";

/// Is `name` a segment file name (32 lowercase hex digits)?
pub(super) fn is_segment_id(name: &str) -> bool {
    name.len() == 32
        && name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

pub(super) fn fsync_dir(path: &Path) -> io::Result<()> {
    fs::File::open(path)?.sync_all()
}

/// Creates `data/00` … `data/ff` and `tmp/` under `root` (those missing) and makes them
/// durable.
pub(super) fn create_layout(root: &Path) -> Result<(PathBuf, PathBuf), StoreError> {
    fs::create_dir_all(root)?;
    let data_dir = root.join(DATA_DIR);
    let tmp_dir = root.join(TMP_DIR);
    fs::create_dir_all(&data_dir)?;
    fs::create_dir_all(&tmp_dir)?;
    for i in 0..=255u8 {
        let shard = data_dir.join(format!("{i:02x}"));
        if !shard.exists() {
            fs::create_dir(&shard)?;
        }
    }
    fsync_dir(&data_dir)?;
    fsync_dir(root)?;
    Ok((data_dir, tmp_dir))
}

#[derive(Default)]
pub(super) struct Pins {
    counts: HashMap<String, usize>,
    /// Segments no longer referenced by the index but still being read.
    doomed: HashSet<String>,
}

/// Keeps segment files alive while a reader or copier uses them.
pub(crate) struct PinGuard {
    engine: Arc<Engine>,
    ids: Vec<String>,
}

impl Drop for PinGuard {
    fn drop(&mut self) {
        self.engine.unpin(&self.ids);
    }
}

impl Engine {
    /// Start-up cleanup of the files: empties `tmp/` (nothing references a temp file) and
    /// removes every file in `data/` that is not a segment in `referenced`.
    pub(super) fn remove_unreferenced(
        &self,
        referenced: &HashSet<String>,
    ) -> Result<(), StoreError> {
        for entry in fs::read_dir(&self.tmp_dir)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                fs::remove_dir_all(&path)?;
            } else {
                fs::remove_file(&path)?;
            }
        }
        let mut removed = 0usize;
        for shard in fs::read_dir(&self.data_dir)? {
            let shard = shard?;
            if !shard.file_type()?.is_dir() {
                continue;
            }
            for entry in fs::read_dir(shard.path())? {
                let entry = entry?;
                let name = entry.file_name();
                let keep = name
                    .to_str()
                    .is_some_and(|n| is_segment_id(n) && referenced.contains(n));
                if !keep {
                    fs::remove_file(entry.path())?;
                    removed += 1;
                }
            }
        }
        if removed > 0 {
            tracing::info!(removed, "removed unreferenced segment files");
        }
        Ok(())
    }

    pub(crate) fn tmp_path(&self, id: &str) -> PathBuf {
        self.tmp_dir.join(id)
    }

    pub(crate) fn segment_path(&self, id: &str) -> PathBuf {
        let shard = id.get(..2).unwrap_or("00");
        self.data_dir.join(shard).join(id)
    }

    /// Makes a new name in `data/` durable by fsyncing its directory.
    fn sync_parent(path: &Path) -> Result<(), StoreError> {
        if let Some(parent) = path.parent() {
            fsync_dir(parent)?;
        }
        Ok(())
    }

    /// Moves a fully written and fsynced temp file into `data/` and makes the rename durable.
    pub(crate) fn publish(&self, tmp: &Path, id: &str) -> Result<(), StoreError> {
        let dst = self.segment_path(id);
        fs::rename(tmp, &dst)?;
        Self::sync_parent(&dst)
    }

    /// Hard-links an existing segment under a new id (no bytes copied) and makes it durable.
    pub(crate) fn link_segment(&self, src_id: &str, new_id: &str) -> Result<(), StoreError> {
        let dst = self.segment_path(new_id);
        fs::hard_link(self.segment_path(src_id), &dst)?;
        Self::sync_parent(&dst)
    }

    /// The pin table. A panic while it was held cannot leave it inconsistent (every update
    /// is a single map operation), so a poisoned lock is used as is.
    fn pins(&self) -> MutexGuard<'_, Pins> {
        match self.pins.lock() {
            Ok(p) => p,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Removes segment files that the index no longer references (now, or when the last
    /// reader lets go of them). Failures are only logged: a leftover file is removed at the
    /// next start.
    pub(crate) fn retire<I: IntoIterator<Item = String>>(&self, ids: I) {
        let mut to_remove = Vec::new();
        {
            let mut pins = self.pins();
            for id in ids {
                if pins.counts.contains_key(&id) {
                    pins.doomed.insert(id);
                } else {
                    to_remove.push(id);
                }
            }
        }
        for id in to_remove {
            self.remove_segment_file(&id);
        }
    }

    fn remove_segment_file(&self, id: &str) {
        if let Err(e) = fs::remove_file(self.segment_path(id))
            && e.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(segment = id, error = %e, "could not remove segment file");
        }
    }

    /// Pins `ids`; the files will not be removed until the guard is dropped.
    pub(crate) fn pin(self: &Arc<Self>, ids: Vec<String>) -> PinGuard {
        {
            let mut pins = self.pins();
            for id in &ids {
                *pins.counts.entry(id.clone()).or_insert(0) += 1;
            }
        }
        PinGuard {
            engine: Arc::clone(self),
            ids,
        }
    }

    fn unpin(&self, ids: &[String]) {
        let mut to_remove = Vec::new();
        {
            let mut pins = self.pins();
            for id in ids {
                let gone = match pins.counts.get_mut(id) {
                    Some(c) => {
                        *c -= 1;
                        *c == 0
                    }
                    None => false,
                };
                if gone {
                    pins.counts.remove(id);
                    if pins.doomed.remove(id) {
                        to_remove.push(id.clone());
                    }
                }
            }
        }
        for id in to_remove {
            self.remove_segment_file(&id);
        }
    }
}
