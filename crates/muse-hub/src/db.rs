//! The two database backends behind one small enum, and their migrations.
//!
//! Every query is written once, with `$1`-style placeholders (which sqlx's SQLite driver accepts
//! too), and run on whichever pool the hub holds through [`with_pool!`]: the macro expands the
//! same code once per backend, so no generic bounds over sqlx's database traits are needed.
//!
//! The migrations are the files under `migrations/sqlite/` and `migrations/postgres/`, embedded
//! with `include_str!` and handed to sqlx's migrator (`sqlx::migrate!` would need sqlx's
//! `macros` feature, which compiles sqlx and SQLite a second time for the host).

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use crate::model::Backend;
use crate::HubError;

/// How long a SQLite connection waits for another writer before failing.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// A pool of connections to one of the two backends.
#[derive(Clone, Debug)]
pub(crate) enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the hub's pool, whichever backend it is.
macro_rules! with_pool {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite($pool) => $body,
            $crate::db::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

/// The migrations of one backend: (version, description, SQL).
type Migrations = &'static [(i64, &'static str, &'static str)];

const SQLITE_MIGRATIONS: Migrations = &[
    (1, "accounts tokens refs", include_str!("../migrations/sqlite/0001_accounts_tokens_refs.sql")),
    (2, "sessions", include_str!("../migrations/sqlite/0002_sessions.sql")),
    (3, "signing keys", include_str!("../migrations/sqlite/0003_signing_keys.sql")),
];

const POSTGRES_MIGRATIONS: Migrations = &[
    (1, "accounts tokens refs", include_str!("../migrations/postgres/0001_accounts_tokens_refs.sql")),
    (2, "sessions", include_str!("../migrations/postgres/0002_sessions.sql")),
    (3, "signing keys", include_str!("../migrations/postgres/0003_signing_keys.sql")),
];

/// The embedded migrations as a source for sqlx's migrator.
#[derive(Debug)]
struct Embedded(Migrations);

impl MigrationSource<'static> for Embedded {
    fn resolve(self) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, sqlx::error::BoxDynError>> + Send>> {
        let migrations = self
            .0
            .iter()
            .map(|&(version, description, sql)| Migration::new(version, Cow::Borrowed(description), MigrationType::Simple, Cow::Borrowed(sql), false))
            .collect();
        Box::pin(async move { Ok(migrations) })
    }
}

impl Db {
    /// Connects to `url` (`sqlite://PATH[?…]` or `postgres://…`), creating a SQLite file if it
    /// is missing, and brings the schema up to date.
    pub(crate) async fn open(url: &str) -> Result<Db, HubError> {
        let db = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // A ref update is reported only once durable: fsync at every commit.
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(SQLITE_BUSY_TIMEOUT);
            // Each connection to an in-memory database is a database of its own.
            let max = if url.contains(":memory:") || url.contains("mode=memory") { 1 } else { 8 };
            Db::Sqlite(SqlitePoolOptions::new().max_connections(max).connect_with(options).await?)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Db::Postgres(PgPoolOptions::new().max_connections(16).connect(url).await?)
        } else {
            return Err(HubError::BadRequest(format!("unsupported database URL '{}': use sqlite://PATH or postgres://…", redact(url))));
        };
        db.migrate().await?;
        Ok(db)
    }

    async fn migrate(&self) -> Result<(), HubError> {
        match self {
            Db::Sqlite(pool) => Migrator::new(Embedded(SQLITE_MIGRATIONS)).await?.run(pool).await?,
            Db::Postgres(pool) => Migrator::new(Embedded(POSTGRES_MIGRATIONS)).await?.run(pool).await?,
        }
        Ok(())
    }

    pub(crate) fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// The statement that opens a transaction which will write: SQLite takes the write lock at
    /// once (`BEGIN IMMEDIATE`), so that a transaction never fails to upgrade a read lock when
    /// another writer got in between; PostgreSQL locks rows as it goes.
    pub(crate) fn begin_write(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "BEGIN IMMEDIATE",
            Db::Postgres(_) => "BEGIN",
        }
    }

    /// The query that checks a repository exists at the start of a ref update. On PostgreSQL it
    /// also locks the repository's row against deletion (`FOR KEY SHARE`), so that a ref update
    /// and a repository deletion take their locks in the same order (repository, then refs) and
    /// never deadlock; SQLite's transaction already holds the whole database.
    pub(crate) fn repo_for_ref_update(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "SELECT id FROM repos WHERE id = $1",
            Db::Postgres(_) => "SELECT id FROM repos WHERE id = $1 FOR KEY SHARE",
        }
    }
}

/// `url` without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let user_info = &url[scheme + 3..at];
            let user = user_info.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

/// Whether a database error is a unique-constraint violation (a name or key taken).
pub(crate) fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.is_unique_violation())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file under `migrations/BACKEND/` is embedded, in order, under its own version.
    #[test]
    fn every_migration_file_is_embedded() {
        for (dir, embedded) in [("sqlite", SQLITE_MIGRATIONS), ("postgres", POSTGRES_MIGRATIONS)] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(dir);
            let mut files: Vec<(i64, String)> = std::fs::read_dir(&path)
                .unwrap()
                .map(|entry| {
                    let name = entry.unwrap().file_name().into_string().unwrap();
                    let version = name.split('_').next().unwrap().parse().unwrap();
                    let sql = std::fs::read_to_string(path.join(&name)).unwrap();
                    (version, sql)
                })
                .collect();
            files.sort();
            let embedded: Vec<(i64, String)> = embedded.iter().map(|&(v, _, sql)| (v, sql.to_string())).collect();
            assert_eq!(files, embedded, "{dir}");
        }
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact("mysql://u:secret@h/db"), "mysql://u:***@h/db");
        assert_eq!(redact("mysql://h/db"), "mysql://h/db");
    }
}
