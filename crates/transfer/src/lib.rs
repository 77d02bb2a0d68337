//! # sealdrop-transfer
//!
//! The rules of a sealdrop transfer, once, for every client. The CLI
//! (`sealdrop-client`, tokio + reqwest) and the browser app (`sealdrop-web`,
//! workers + fetch/XHR) are drivers of this crate: they move bytes, read files
//! and draw progress; what they send and when they give up is decided here.
//! No I/O, no clock, no randomness of its own (callers pass the time and a
//! jitter sample), so it compiles for native and `wasm32-unknown-unknown` and
//! is tested natively.
//!
//! - [`calls`]: the broker's API calls — method, route, body or query,
//!   answer type, and whether each may be repeated.
//! - [`plan`]: the broker's answer to `POST /uploads`, checked against what
//!   was asked for, as the parts the client sends ([`UploadPlan`]).
//! - [`materials`]: the key material of an upload or a download, checked
//!   before anything is encrypted or decrypted with it.
//! - [`failure`]: what a failed broker or storage request means — its
//!   [`FailureKind`], whether it is worth repeating, and the sentence a person
//!   is told.
//! - [`retry`]: the retry policy with its idempotence classes.
//! - [`sign_in`]: single sign-on in the browser — the Authorization Code +
//!   PKCE flow's requests and the checks on what comes back.
//! - [`links`]: share links and file request links, `<broker>/s/<id>#<secret>`
//!   and `<broker>/r/<id>#<secret>`, written and read.
//! - [`ledger`]: resume bookkeeping — which parts are stored, with which
//!   ETags, which part URLs are still fresh, what to sign next.
//!
//! ## The one invariant for retries and resume
//!
//! Under one data key and message ID, GCM's keystream block `i` encrypts
//! content block `i`, whatever request carries it. **A part may therefore be
//! sent more than once — a retry, a pause and resume, a resume after a reload —
//! only as the very same stored bytes.** A client either keeps a part's stored
//! bytes until storage acknowledged them (the CLI does; memory is bounded by the
//! parts in flight), or re-derives them from plaintext it proves unchanged
//! before any of the new bytes leave it: the part's GHASH shares (the `T'` of
//! its segments) must equal the ones recorded when it was first encrypted
//! ([`ledger::Fingerprints`]; the browser does this on resume). A part that
//! differs means the file changed underneath the upload: the upload fails
//! ([`FailureKind::SourceChanged`]) rather than send a second plaintext under
//! the same keystream, and a new upload (new data key, new message ID) is the
//! only way forward. Storage never holds a mix of two versions of a file.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod calls;
pub mod failure;
pub mod ledger;
pub mod links;
pub mod materials;
pub mod plan;
pub mod retry;
pub mod sign_in;

pub use calls::{Call, CallError};
pub use failure::{Classify, Endpoint, Failure, FailureKind};
pub use ledger::{Fingerprints, PartLedger, PartUrls};
pub use links::{LinkError, RequestLink, ShareLink};
pub use materials::{DownloadKeys, MaterialsError, UploadKeys};
pub use plan::{Part, PlanError, UploadPlan};
pub use retry::{Idempotence, RetryPolicy};
