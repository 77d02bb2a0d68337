//! Cleaning up after uploads that were abandoned, so that they neither hold
//! storage nor count against anyone's quota for ever.
//!
//! Every replica sweeps on its own ([`run`]); each step is safe to race:
//!
//! - A multipart upload idle for `upload_max_idle_secs` (no part URLs signed)
//!   is aborted, which deletes its parts, and forgotten; a file request's
//!   reservation for it is given back. Only the replica whose forget removed
//!   the record gives it back.
//! - Multipart uploads storage knows but the state does not (a broker that
//!   stopped between creating and recording one, or uploads started outside
//!   sealdrop) are aborted once they are older than the same age. On AWS, a
//!   bucket lifecycle rule (`AbortIncompleteMultipartUpload`, see
//!   `docs/operations.md`) does the same for everything in the bucket.
//! - Single PUTs whose URL expired stop counting as in flight.
//! - A file sent through a file request that never arrived (twice its URL's
//!   lifetime passed, no upload in progress, nothing at its key) gives its
//!   file and bytes back to the request; one that did arrive keeps them for
//!   good.

use std::time::Duration;

use crate::audit::{Action, Outcome};
use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::StorageError;

/// At most this many records of each kind are handled per sweep; the next
/// sweep continues.
const BATCH: u32 = 200;

/// What one sweep did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Swept {
    /// Idle multipart uploads aborted.
    pub aborted: u32,
    /// Multipart uploads storage had and the state did not, aborted.
    pub orphans: u32,
    /// Single PUTs whose URL expired.
    pub expired_puts: u64,
    /// File request files that never arrived, given back.
    pub released: u32,
}

/// One sweep.
pub async fn sweep(state: &AppState) -> Result<Swept, ApiError> {
    let mut swept = Swept::default();
    let idle = Duration::from_secs(state.config.upload_max_idle_secs);
    for upload in state.db.idle_uploads(idle, BATCH).await? {
        match state
            .storage
            .abort_multipart(&upload.key, &upload.upload_id)
            .await
        {
            Ok(()) | Err(StorageError::NotFound) => {}
            Err(e) => {
                tracing::warn!(key = %upload.key, error = %e, "could not abort an idle upload");
                continue;
            }
        }
        if state.db.forget_upload(&upload.upload_id).await? {
            state.db.release_request_upload(&upload.key).await?;
            state.audit.record(
                &upload.user,
                Action::Abort,
                &upload.key,
                None,
                Outcome::Allowed,
                Some("idle upload cancelled by the broker"),
            );
            swept.aborted += 1;
        }
    }
    for (key, upload_id) in state.storage.multipart_uploads_older_than(idle).await? {
        if state.db.upload_plan(&upload_id).await?.is_some() {
            continue; // Old but in use: its record says when it was last active.
        }
        match state.storage.abort_multipart(&key, &upload_id).await {
            Ok(()) | Err(StorageError::NotFound) => swept.orphans += 1,
            Err(e) => tracing::warn!(%key, error = %e, "could not abort an unrecorded upload"),
        }
    }
    swept.expired_puts = state.db.forget_expired_puts().await?;
    // A PUT must start before its URL expires; one that started just before
    // is given as long again to finish. After that the file arrived or never
    // will (should it still arrive, it stays, but no longer counts against
    // the request).
    let arrival = state.config.presign_ttl() * 2;
    for key in state.db.unsettled_request_uploads(arrival, BATCH).await? {
        if state.storage.head(&key).await?.is_some() {
            state.db.settle_request_upload(&key).await?;
        } else {
            state.db.release_request_upload(&key).await?;
            swept.released += 1;
        }
    }
    Ok(swept)
}

/// Sweeps now and then until the task is dropped: a few times per idle limit,
/// at least every ten minutes.
pub async fn run(state: AppState) {
    let every = Duration::from_secs(state.config.upload_max_idle_secs / 4)
        .clamp(Duration::from_secs(5), Duration::from_secs(600));
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match sweep(&state).await {
            Ok(swept) if swept != Swept::default() => {
                tracing::info!(?swept, "cleaned up abandoned uploads");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cleaning up abandoned uploads failed"),
        }
    }
}
