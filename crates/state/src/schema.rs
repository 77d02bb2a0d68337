//! The versioned migrations, embedded in the binary, and how they are run.
//!
//! To change the schema, add `migrations/NNNN_what.sql` (portable SQL: it runs
//! on SQLite and PostgreSQL) and list it in [`MIGRATIONS`]; never edit one
//! that has shipped — sqlx checks each applied migration's checksum.

use std::borrow::Cow;

use sqlx::SqlSafeStr as _;
use sqlx::migrate::{MigrateError, Migration, MigrationType, Migrator};

use crate::database::Database;
use crate::error::StateError;

/// Every migration this binary knows, oldest first.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "accounts",
        include_str!("../migrations/0001_accounts.sql"),
    ),
    (2, "uploads", include_str!("../migrations/0002_uploads.sql")),
    (3, "shares", include_str!("../migrations/0003_shares.sql")),
    (
        4,
        "file_requests",
        include_str!("../migrations/0004_file_requests.sql"),
    ),
    (
        5,
        "upload_lifecycle",
        include_str!("../migrations/0005_upload_lifecycle.sql"),
    ),
];

/// The newest schema version this binary knows.
pub fn known_version() -> i64 {
    MIGRATIONS.last().map_or(0, |(version, _, _)| *version)
}

/// Brings the database to [`known_version`].
pub(crate) async fn migrate(database: &Database) -> Result<(), StateError> {
    let migrations = MIGRATIONS
        .iter()
        .map(|(version, description, sql)| {
            Migration::new(
                *version,
                Cow::Borrowed(*description),
                MigrationType::Simple,
                sql.into_sql_str(),
                false,
            )
        })
        .collect();
    let migrator = Migrator::with_migrations(migrations);
    migrator.run(&database.pool).await.map_err(|e| match e {
        // An applied migration this binary does not have: a newer sealdrop ran here.
        MigrateError::VersionMissing(found) => StateError::NewerSchema {
            location: database.location().to_owned(),
            found,
            known: known_version(),
        },
        MigrateError::Execute(source) => database.unavailable(source),
        other => StateError::Migration {
            location: database.location().to_owned(),
            reason: other.to_string(),
        },
    })
}
