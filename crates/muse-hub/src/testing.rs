//! Fresh databases of either backend for tests (feature `testing`), for this crate's tests and
//! the server's.
//!
//! ```no_run
//! # async fn example() {
//! use muse_hub::testing::{TestDb, BACKENDS};
//! for backend in BACKENDS {
//!     let db = TestDb::new(backend).await; // panics, saying why, if PostgreSQL is unreachable
//!     let hub = db.hub().await;
//!     // … or hand db.url() to a server under test.
//! }
//! # }
//! ```
//!
//! A SQLite database is a file in a temporary directory; a PostgreSQL one is a new database
//! `muse_hub_test_<random>` on the server at [`POSTGRES_URL_VAR`] (default
//! [`DEFAULT_POSTGRES_URL`]), so tests run in parallel. Dropping the [`TestDb`] removes either.

use sqlx::Connection as _;

use crate::{Backend, Hub};

/// The environment variable naming the PostgreSQL server tests use (any database on it: tests
/// create their own).
pub const POSTGRES_URL_VAR: &str = "MUSE_TEST_POSTGRES_URL";

/// The PostgreSQL server tests use when [`POSTGRES_URL_VAR`] is not set (trust authentication).
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Both backends, for tests that run once on each.
pub const BACKENDS: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];

/// A fresh, empty database of one backend, removed when dropped.
pub struct TestDb {
    backend: Backend,
    url: String,
    /// Keeps the SQLite file's directory alive.
    _dir: Option<tempfile::TempDir>,
    /// The server and the name of the PostgreSQL database to drop.
    postgres: Option<(String, String)>,
}

impl TestDb {
    /// Creates the database. Panics with a message saying what to do if it cannot: a test that
    /// cannot reach PostgreSQL fails, it never passes silently.
    pub async fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("a temporary directory for the SQLite test database");
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("hub.db").display());
                TestDb { backend, url, _dir: Some(dir), postgres: None }
            }
            Backend::Postgres => {
                let server = std::env::var(POSTGRES_URL_VAR).unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_string());
                let mut random = [0u8; 8];
                getrandom::getrandom(&mut random).expect("randomness for a database name");
                let name = format!("muse_hub_test_{}", hex::encode(random));
                let mut admin = sqlx::PgConnection::connect(&server).await.unwrap_or_else(|e| {
                    panic!(
                        "PostgreSQL is not reachable at {server} ({e}). The hub's tests need it: start it \
                         (pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) or set {POSTGRES_URL_VAR}"
                    )
                });
                sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.unwrap_or_else(|e| panic!("CREATE DATABASE {name} on {server}: {e}"));
                let _ = admin.close().await;
                TestDb { backend, url: with_database(&server, &name), _dir: None, postgres: Some((server, name)) }
            }
        }
    }

    /// Which backend it is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URL to give [`Hub::open`] (or a server's `--database`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A hub on this database (migrated). Panics if it cannot be opened.
    pub async fn hub(&self) -> Hub {
        Hub::open(&self.url).await.unwrap_or_else(|e| panic!("opening the {} test database {}: {e}", self.backend, self.url))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((server, name)) = self.postgres.take() else { return };
        // Drop may run inside the test's runtime, which cannot be blocked on: use a thread with
        // a runtime of its own. FORCE ends the connections hubs still hold.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            runtime.block_on(async {
                let mut admin = sqlx::PgConnection::connect(&server).await.ok()?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin).await.ok()?;
                admin.close().await.ok()
            })
        })
        .join();
        // A database left behind costs disk space, not correctness: never panic in drop.
        let _ = dropped;
    }
}

/// `url` with its database (the path) replaced by `name`, query string kept.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_the_database_of_a_url() {
        assert_eq!(with_database("postgres://postgres@127.0.0.1:5432/postgres", "x"), "postgres://postgres@127.0.0.1:5432/x");
        assert_eq!(with_database("postgres://u:p@h/db?sslmode=disable", "x"), "postgres://u:p@h/x?sslmode=disable");
        assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
        assert_eq!(with_database("postgresql://h:1/", "x"), "postgresql://h:1/x");
    }
}
