//! Per-user quotas: the bytes a user keeps in storage, and the multipart
//! uploads they have in progress.
//!
//! A user's usage is what is stored under their prefix (listed from storage,
//! so objects removed or changed behind sealdrop's back count as they are),
//! plus what their uploads in flight may still add: the planned size of each
//! multipart upload and of each single PUT whose URL is valid and whose object
//! has not shown up yet. Files sent to a user through a file request count
//! against that user.
//!
//! An upload is recorded first and checked after ([`verify`]); if it does not
//! fit, the caller withdraws it. Of two uploads racing on any replicas, the one
//! checked later sees both records, so together they never exceed the quota (a
//! race may refuse both, it never admits both).

use std::time::Duration;

use crate::error::ApiError;
use crate::policy;
use crate::state::AppState;

/// Whose storage an upload goes to, for the words of a refusal.
#[derive(Clone, Copy, Debug)]
pub enum Whose {
    /// The caller's own.
    Own,
    /// The owner of the file request it is sent through.
    Recipient,
}

/// Checks that `user`'s uploads in progress, including the one just recorded,
/// fit their quotas; on `Err` the caller withdraws that upload.
pub async fn verify(state: &AppState, user: &str, whose: Whose) -> Result<(), ApiError> {
    let in_flight = state.db.in_flight_of(user).await?;
    let max = state.config.max_uploads_in_flight;
    if in_flight.multipart_uploads > max {
        return Err(ApiError::Conflict(match whose {
            Whose::Own => format!(
                "{max} uploads are already in progress, the most allowed at once: let one \
                 finish or cancel one (uploads left idle are cancelled after {})",
                human_duration(Duration::from_secs(state.config.upload_max_idle_secs))
            ),
            Whose::Recipient => format!(
                "the recipient already has {max} uploads in progress, the most allowed at \
                 once: try again later"
            ),
        }));
    }
    let Some(quota) = state.config.quota_bytes else {
        return Ok(());
    };
    let watched: Vec<&str> = in_flight
        .pending_puts
        .iter()
        .map(|put| put.key.as_str())
        .collect();
    let stored = state
        .storage
        .usage(&policy::user_prefix(user), &watched)
        .await?;
    // A PUT whose object was modified after it was signed has arrived and is
    // counted once, as stored. (Storage times have whole seconds: an object
    // being replaced that was written in the second of the signing is taken
    // for the new one.)
    let (arrived, waiting): (Vec<_>, Vec<_>) = in_flight.pending_puts.iter().partition(|put| {
        stored
            .modified
            .get(&put.key)
            .is_some_and(|&modified| modified >= put.created_at_ms.div_euclid(1000))
    });
    let arrived: Vec<String> = arrived.into_iter().map(|put| put.id.clone()).collect();
    state.db.forget_pending_puts(&arrived).await?;
    let pending: u64 = in_flight
        .multipart_bytes
        .saturating_add(waiting.iter().map(|put| put.stored_size).sum());
    let used = stored.bytes.saturating_add(pending);
    if used <= quota {
        return Ok(());
    }
    // Server text reaches people cut at 200 characters: short sentences.
    Err(ApiError::TooLarge(match whose {
        Whose::Own => format!(
            "storage quota exceeded: {} stored + {} in uploads in progress (this one \
             included) is over your {}; delete files or ask your administrator for more",
            human_bytes(stored.bytes),
            human_bytes(pending),
            human_bytes(quota)
        ),
        Whose::Recipient => {
            "the recipient's storage is full: this file does not fit in their quota".to_owned()
        }
    }))
}

/// Bytes in the largest binary unit that keeps a number ≥ 1 (`1.5 GiB`).
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A duration in whole days, hours or minutes.
pub fn human_duration(duration: Duration) -> String {
    let secs = duration.as_secs();
    let (n, unit) = match secs {
        s if s >= 86_400 && s.is_multiple_of(86_400) => (s / 86_400, "day"),
        s if s >= 3600 && s.is_multiple_of(3600) => (s / 3600, "hour"),
        s if s >= 60 => (s / 60, "minute"),
        s => (s, "second"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_in_words() {
        assert_eq!(human_bytes(0), "0 bytes");
        assert_eq!(human_bytes(1023), "1023 bytes");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(20 << 30), "20.0 GiB");
        assert_eq!(human_duration(Duration::from_secs(86_400)), "1 day");
        assert_eq!(human_duration(Duration::from_secs(7200)), "2 hours");
        assert_eq!(human_duration(Duration::from_secs(900)), "15 minutes");
        assert_eq!(human_duration(Duration::from_secs(5)), "5 seconds");
    }
}
