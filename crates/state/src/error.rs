//! What can go wrong with the state, in words an operator or a caller can act on.
//! No message carries a secret: database URLs appear redacted, tokens never.

/// Errors reading or changing the state.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The database cannot be reached or answered with an error that is not
    /// the caller's fault; the request may succeed later.
    #[error("the database at {location} is unavailable: {reason}")]
    Unavailable { location: String, reason: String },
    /// The database holds a schema newer than this binary knows.
    #[error(
        "the database at {location} was migrated by a newer sealdrop (schema version {found}, \
         this binary knows up to {known}); run that version or newer"
    )]
    NewerSchema {
        location: String,
        found: i64,
        known: i64,
    },
    /// Migrating failed for another reason (a modified or half-applied migration).
    #[error("migrating the database at {location} failed: {reason}")]
    Migration { location: String, reason: String },
    /// A legacy `users.json` could not be imported.
    #[error("importing {path}: {reason}")]
    Import { path: String, reason: String },
    #[error("user {0:?} already exists")]
    UserExists(String),
    #[error("no user {0:?}")]
    NoSuchUser(String),
    #[error("no token {0:?}")]
    NoSuchToken(String),
    #[error("user {name:?} has no token {id:?}")]
    NotUsersToken { name: String, id: String },
    #[error("{0}")]
    InvalidName(String),
    #[error("{0}")]
    InvalidInput(String),
    #[error("the operating system's random number generator failed")]
    Randomness,
}
