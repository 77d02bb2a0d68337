//! Where the state lives and the connection pool to it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;

use crate::error::StateError;
use crate::schema;

/// The file the embedded default keeps its state in, inside the data directory.
pub const SQLITE_FILE: &str = "sealdrop.db";

/// How long a request waits for a connection before it is told the database
/// is unavailable (a 503), rather than hanging while the database is away.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// A database URL (`postgres://user:password@host/db`), which holds a
/// password: its `Debug` and [`DatabaseUrl::redacted`] never show it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct DatabaseUrl(String);

impl TryFrom<String> for DatabaseUrl {
    type Error = String;
    fn try_from(url: String) -> Result<DatabaseUrl, String> {
        DatabaseUrl::parse(&url)
    }
}

impl DatabaseUrl {
    /// Checks that `url` is a PostgreSQL URL sealdrop can use.
    pub fn parse(url: &str) -> Result<DatabaseUrl, String> {
        let parsed = url::Url::parse(url).map_err(|e| {
            format!("not a URL ({e}); expected postgres://user:password@host:port/database")
        })?;
        match parsed.scheme() {
            "postgres" | "postgresql" => {}
            "sqlite" => {
                return Err(
                    "SQLite is the default and needs no URL (it lives in the data directory); \
                     a database URL is for PostgreSQL"
                        .into(),
                );
            }
            other => {
                return Err(format!(
                    "unsupported scheme {other:?}: expected postgres://user:password@host:port/database"
                ));
            }
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err("the URL names no host".into());
        }
        Ok(DatabaseUrl(url.to_owned()))
    }

    /// The URL with its password replaced by `***`, for messages and logs.
    pub fn redacted(&self) -> String {
        match url::Url::parse(&self.0) {
            Ok(mut url) => {
                if url.password().is_some() {
                    let _ = url.set_password(Some("***"));
                }
                // libpq also takes the password as a query parameter.
                if url.query_pairs().any(|(k, _)| k == "password") {
                    let pairs: Vec<(String, String)> = url
                        .query_pairs()
                        .map(|(k, v)| {
                            let v = if k == "password" {
                                "***".into()
                            } else {
                                v.into_owned()
                            };
                            (k.into_owned(), v)
                        })
                        .collect();
                    url.query_pairs_mut().clear().extend_pairs(pairs);
                }
                url.to_string()
            }
            Err(_) => "(a database URL)".into(),
        }
    }

    fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Where the state lives.
#[derive(Clone, Debug)]
pub enum Location {
    /// SQLite in `<data_dir>/sealdrop.db` (the embedded default, one process).
    DataDir(PathBuf),
    /// PostgreSQL, shared by replicas.
    Postgres(DatabaseUrl),
}

impl Location {
    /// Where, in words that hold no password.
    pub fn describe(&self) -> String {
        match self {
            Location::DataDir(dir) => dir.join(SQLITE_FILE).display().to_string(),
            Location::Postgres(url) => url.redacted(),
        }
    }

    fn connect_url(&self) -> String {
        match self {
            Location::DataDir(dir) => {
                // sqlx percent-decodes the path, so characters such as `%`, `?`
                // or `#` in a directory name must be encoded.
                const PATH: &AsciiSet = &NON_ALPHANUMERIC
                    .remove(b'/')
                    .remove(b'.')
                    .remove(b'-')
                    .remove(b'_');
                let path = dir.join(SQLITE_FILE);
                let path = utf8_percent_encode(&path.to_string_lossy(), PATH).to_string();
                format!("sqlite://{path}?mode=rwc")
            }
            Location::Postgres(url) => url.expose().to_owned(),
        }
    }
}

/// Which database engine is behind the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The state database: a connection pool, migrated to the schema this binary knows.
#[derive(Clone)]
pub struct Database {
    pub(crate) pool: AnyPool,
    backend: Backend,
    location: String,
}

impl Database {
    /// Connects to `location` and migrates it. An unreachable database, or one
    /// migrated by a newer sealdrop, is an error naming where it is (without a
    /// password). Concurrent first starts migrate once: PostgreSQL migrations
    /// run under an advisory lock, SQLite's under the file's write lock.
    pub async fn open(location: &Location) -> Result<Database, StateError> {
        sqlx::any::install_default_drivers();
        let described = location.describe();
        if let Location::DataDir(dir) = location {
            std::fs::create_dir_all(dir).map_err(|e| StateError::Unavailable {
                location: described.clone(),
                reason: format!("creating {}: {e}", dir.display()),
            })?;
        }
        let backend = match location {
            Location::DataDir(_) => Backend::Sqlite,
            Location::Postgres(_) => Backend::Postgres,
        };
        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                // One writer at a time in SQLite anyway; a few readers.
                Backend::Sqlite => 4,
                Backend::Postgres => 10,
            })
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(&location.connect_url())
            .await
            .map_err(|e| StateError::Unavailable {
                location: described.clone(),
                reason: describe_sqlx(&e),
            })?;
        let database = Database {
            pool,
            backend,
            location: described,
        };
        if backend == Backend::Sqlite {
            // WAL lets `sealdrop admin` write while the server reads; it is a
            // property of the file, so setting it once per open is enough.
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&database.pool)
                .await
                .map_err(|e| database.unavailable(e))?;
            if let Location::DataDir(dir) = location {
                restrict_permissions(&dir.join(SQLITE_FILE));
            }
        }
        schema::migrate(&database).await?;
        Ok(database)
    }

    /// Which engine.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Where, without a password.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Whether the database answers (for readiness).
    pub async fn ping(&self) -> Result<(), StateError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(|e| self.unavailable(e))
    }

    /// Closes the pool (waits for connections in use to be returned).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// A database error that is not the caller's fault.
    pub(crate) fn unavailable(&self, error: sqlx::Error) -> StateError {
        StateError::Unavailable {
            location: self.location.clone(),
            reason: describe_sqlx(&error),
        }
    }
}

/// An sqlx error in words. sqlx's messages do not include the connection URL;
/// they may include SQL text, which holds no secrets (values are bound).
fn describe_sqlx(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::PoolTimedOut => "no connection within 3 s (is it running?)".into(),
        sqlx::Error::Io(e) => e.to_string(),
        other => other.to_string(),
    }
}

/// The state file holds token hashes: readable by the owner only.
fn restrict_permissions(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for file in [
            path.to_path_buf(),
            path.with_extension("db-wal"),
            path.with_extension("db-shm"),
        ] {
            let _ = std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600));
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_never_show_the_password() {
        let url = DatabaseUrl::parse("postgres://sd:s3cret@db.internal:5432/sealdrop").unwrap();
        assert_eq!(
            url.redacted(),
            "postgres://sd:***@db.internal:5432/sealdrop"
        );
        assert!(!format!("{url:?}").contains("s3cret"));
        let url = DatabaseUrl::parse("postgres://sd@db/sealdrop?password=s3cret&sslmode=require")
            .unwrap();
        assert!(!url.redacted().contains("s3cret"), "{}", url.redacted());
        assert!(url.redacted().contains("sslmode=require"));
        let parsed: Result<DatabaseUrl, _> = serde_json::from_str("\"mysql://x@h/db\"");
        assert!(parsed.is_err(), "deserializing checks the URL too");
        for bad in [
            "",
            "db.internal",
            "mysql://x@h/db",
            "sqlite://x.db",
            "postgres:///db",
        ] {
            assert!(DatabaseUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sqlite_paths_are_encoded() {
        let location = Location::DataDir(PathBuf::from("/tmp/a %?#b"));
        assert_eq!(
            location.connect_url(),
            "sqlite:///tmp/a%20%25%3F%23b/sealdrop.db?mode=rwc"
        );
    }
}
