//! The audit log: one JSON line per key operation and per refused attempt on
//! a key (who, what, which object, which key, allowed or denied, and why), and
//! one per account that single sign-on created. Never data keys, tokens or presigned
//! URLs. Also emitted as `tracing` events with target `sealdrop::audit`.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::Path;
use std::sync::Mutex;

use serde::Serialize;

/// An audited action.
#[derive(Clone, Copy, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// A data key was generated (CSE upload) or an SSE upload presigned.
    CreateUpload,
    /// A data key was unwrapped for download (or a plain download presigned).
    Open,
    /// A multipart upload was completed.
    Complete,
    /// A multipart upload was aborted.
    Abort,
    /// An object was deleted.
    Delete,
    /// An object was described (refusals only).
    Info,
    /// Part URLs were presigned (refusals only).
    SignParts,
    /// A single sign-on identity got a user of its own (auto-provisioning);
    /// `key` is the prefix the new user owns.
    ProvisionUser,
    /// An object was put in a share link (one line per object).
    Share,
    /// A share link was revoked; `key` is the owner's prefix.
    RevokeShare,
    /// A recipient opened a shared object through its link: a data key was
    /// unwrapped (or a download presigned) and one download counted.
    OpenShared,
    /// A file request was made; `key` is the folder it delivers to.
    CreateFileRequest,
    /// A file request was closed; `key` is the owner's inbox.
    CloseFileRequest,
}

/// The outcome.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Done.
    Allowed,
    /// Refused (policy, integrity, rate limit) or failed.
    Denied,
}

#[derive(Serialize)]
struct Line<'a> {
    ts: String,
    user: &'a str,
    action: Action,
    key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    kms_key_id: Option<&'a str>,
    outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    /// The id (never the secret) of the share link or file request acted
    /// through.
    #[serde(skip_serializing_if = "Option::is_none")]
    link: Option<&'a str>,
}

/// The audit sink.
pub struct Audit {
    file: Option<Mutex<File>>,
}

impl Audit {
    /// Appends to `path` (created with mode 0600).
    pub fn to_file(path: &Path) -> std::io::Result<Audit> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut options = OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        Ok(Audit {
            file: Some(Mutex::new(options.open(path)?)),
        })
    }

    /// Only `tracing` events (tests).
    pub fn tracing_only() -> Audit {
        Audit { file: None }
    }

    /// Records an operation's result: allowed if it succeeded, denied with the
    /// error's message (which never carries secrets) if not.
    pub fn record_result<T, E: std::fmt::Display>(
        &self,
        user: &str,
        action: Action,
        key: &str,
        kms_key_id: Option<&str>,
        result: &Result<T, E>,
    ) {
        match result {
            Ok(_) => self.record(user, action, key, kms_key_id, Outcome::Allowed, None),
            Err(e) => self.record(
                user,
                action,
                key,
                kms_key_id,
                Outcome::Denied,
                Some(&e.to_string()),
            ),
        }
    }

    /// Records one event.
    pub fn record(
        &self,
        user: &str,
        action: Action,
        key: &str,
        kms_key_id: Option<&str>,
        outcome: Outcome,
        reason: Option<&str>,
    ) {
        self.write(Line {
            ts: String::new(),
            user,
            action,
            key,
            kms_key_id,
            outcome,
            reason,
            link: None,
        });
    }

    /// Records an action through share link or file request `link` on
    /// `owner`'s object `key`:
    /// allowed if `result` is a success, denied with its message if not.
    pub fn record_link<T, E: std::fmt::Display>(
        &self,
        owner: &str,
        link: &str,
        action: Action,
        key: &str,
        kms_key_id: Option<&str>,
        result: &Result<T, E>,
    ) {
        let reason = result.as_ref().err().map(ToString::to_string);
        self.write(Line {
            ts: String::new(),
            user: owner,
            action,
            key,
            kms_key_id,
            outcome: if result.is_ok() {
                Outcome::Allowed
            } else {
                Outcome::Denied
            },
            reason: reason.as_deref(),
            link: Some(link),
        });
    }

    /// Emits `line` (its time stamped now) to `tracing` and the file.
    fn write(&self, mut line: Line<'_>) {
        tracing::info!(
            target: "sealdrop::audit",
            user = line.user, action = ?line.action, key = line.key,
            kms_key_id = line.kms_key_id, outcome = ?line.outcome, reason = line.reason,
            link = line.link,
            "key operation"
        );
        let Some(file) = &self.file else { return };
        line.ts = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let Ok(mut json) = serde_json::to_vec(&line) else {
            return;
        };
        json.push(b'\n');
        if let Ok(mut file) = file.lock()
            && let Err(e) = file.write_all(&json)
        {
            tracing::error!(error = %e, "cannot write the audit log");
        }
    }
}
