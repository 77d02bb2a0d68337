//! sealdrop's shared state: users, API tokens and OIDC identities (see
//! [`Identity`]: `(issuer, subject)`, linked or provisioned, never a user name),
//! multipart uploads in flight, share links and file requests, in one database that every
//! broker replica reads.
//!
//! - The embedded default keeps a SQLite file in the data directory
//!   (`<data_dir>/sealdrop.db`, zero configuration).
//! - Replicas share one PostgreSQL database (`SEALDROP_DATABASE_URL`).
//!
//! The same SQL runs on both (sqlx's `Any` driver, portable statements,
//! times as BIGINT milliseconds). Versioned migrations run when the database
//! is opened; a database migrated by a newer sealdrop is refused with
//! [`StateError::NewerSchema`] instead of being written by code that does not
//! know its shape.
//!
//! Nothing is cached: every authentication reads the database, so a user
//! disabled or a token revoked through any replica or `sealdrop admin` counts
//! from the next request on every replica.

mod accounts;
mod database;
mod deployment_keys;
mod error;
mod file_requests;
mod identities;
mod import;
mod names;
mod schema;
mod shares;
mod time;
mod uploads;

pub use accounts::{
    Authenticated, IssuedToken, TOKEN_PREFIX, TokenRefusal, TokenSummary, UserSummary,
};
pub use database::{Backend, Database, DatabaseUrl, Location};
pub use deployment_keys::StoredDeploymentKey;
pub use error::StateError;
pub use file_requests::{FileRequestRecord, INBOX, NewFileRequest, ReservationRefusal};
pub use identities::{
    Identity, IdentityRefusal, IdentitySummary, PROVISIONED_PREFIX, SignedIn,
    provisioned_user_name, validate_local_user_name,
};
pub use import::ImportReport;
pub use names::{UserName, validate_user_name};
pub use shares::{
    IssuedLink, MAX_SHARE_NOTE_CHARS, MAX_SHARED_OBJECTS, NewShare, ShareObject, ShareRecord,
};
pub use time::parse_lifetime;
pub use uploads::{IdleUpload, InFlight, PendingPut, UploadPlan};
