//! MuseHub's service library: the metadata database, accounts, tokens, the one authorization
//! policy, and the refs of hosted repositories moved by compare-and-swap. No HTTP here: the
//! server (`muse-hub-server`) parses requests, calls [`Hub::authenticate`] and
//! [`Hub::authorize`] on every route, and calls the rest.
//!
//! - **Database.** [`Hub::open`] takes `sqlite://PATH?mode=rwc` (an embedded file, created on
//!   first start, in WAL mode with foreign keys on) or `postgres://…`, and runs the versioned
//!   migrations of that backend (`migrations/sqlite/`, `migrations/postgres/`). Both backends run
//!   the same queries and pass the same tests.
//! - **Accounts.** Users (optional argon2id password), repositories (public or private; names
//!   unique case-insensitively, see [`names`]), collaborators with a [`Role`]; the owner is
//!   always admin.
//! - **Tokens.** `muse_` followed by 43 base64url characters (32 random bytes), shown once by
//!   [`Hub::create_token`] and stored only as a SHA-256; a [`Role`] as scope, optionally limited
//!   to one repository, optionally expiring, revocable.
//! - **Policy.** [`policy`] is the one place that decides who may do what: a pure function,
//!   tested as a matrix; [`Hub::authorize`] (actions on a repository) and
//!   [`Hub::authorize_account`] (creating an account's repositories, managing its tokens) feed
//!   it from the database. A private repository the actor cannot read answers exactly like a
//!   repository that does not exist.
//! - **Refs.** [`Hub::update_refs`] applies a list of [`RefChange`]s in one transaction, each a
//!   compare-and-swap against its `old` value: all apply or none, and of concurrent updates
//!   from the same old value exactly one wins.
//!
//! - **Signing keys.** Users register OpenSSH `ssh-ed25519` public keys for themselves (their
//!   e-mail) and their agents (`agent:ID`); [`Hub::verify_commit`] verifies a commit against
//!   them with the one verifier of `muse-sign`, and says whose key signed. A repository may
//!   list branches that only take commits that verify `good` ([`Hub::signed_branches`]).
//!
//! Errors are [`HubError`]s, each with a stable [`HubError::code`] and an
//! [`HubError::http_status`].
//!
//! ## Tests against both backends
//! With the `testing` feature, [`testing::TestDb`] gives a fresh database of either backend: a
//! SQLite file in a temporary directory, or a new PostgreSQL database (`muse_hub_test_…`,
//! dropped again with the `TestDb`) on the server at `MUSE_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`). An unreachable PostgreSQL fails the test
//! with a message saying so; it never passes silently.
//!
//! ```no_run
//! # async fn example() -> Result<(), muse_hub::HubError> {
//! use muse_hub::{Action, Hub, NewToken, Role};
//! let hub = Hub::open("sqlite:///var/lib/musehub/hub.db?mode=rwc").await?;
//! hub.create_user("ada", None, None).await?;
//! hub.create_repo("ada", "engine", true).await?;
//! let (_info, secret) = hub.create_token("ada", NewToken { label: "laptop".into(), scope: Role::Write, repo: None, expires_at: None }).await?;
//! let actor = hub.authenticate(Some(&secret)).await?;
//! let repo = hub.authorize(&actor, "ada", "engine", Action::Write).await?;
//! # let _ = repo; Ok(()) }
//! ```
#![warn(missing_docs)]

mod accounts;
mod db;
mod error;
mod generations;
mod model;
pub mod names;
mod password;
pub mod policy;
mod refs;
mod sessions;
mod signing;
#[cfg(feature = "testing")]
pub mod testing;
mod tokens;

use std::sync::Arc;

pub use error::HubError;
pub use generations::Generation;
pub use model::{AccountAction, Action, Actor, Backend, NewToken, RefChange, Repo, RepoId, Role, TokenInfo, User, UserId};
pub use sessions::{Session, SESSION_PREFIX};
pub use signing::{branch_requires_signatures, verify_with_keys, HubVerification, NewSigningKey, SigningKeyInfo};
pub use tokens::TOKEN_PREFIX;

use db::{with_pool, Db};

/// The current time as unix seconds; replaceable for tests of expiry.
type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The hub's services over one metadata database. Cheap to clone (a connection pool, a clock
/// and the change counters of [`Hub::generation`] behind `Arc`s); share one per server.
#[derive(Clone)]
pub struct Hub {
    db: Db,
    clock: Clock,
    generations: Arc<generations::Generations>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").field("backend", &self.backend()).finish_non_exhaustive()
    }
}

const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<Hub>();
};

impl Hub {
    /// Opens the database at `database_url` (`sqlite://PATH?mode=rwc` or `postgres://…`),
    /// creating a SQLite file if needed, and migrates it to the current schema.
    pub async fn open(database_url: &str) -> Result<Hub, HubError> {
        Ok(Hub { db: Db::open(database_url).await?, clock: Arc::new(system_now), generations: Arc::default() })
    }

    /// The same hub reading the time (unix seconds) from `clock`: for tests of token expiry.
    pub fn with_clock(self, clock: impl Fn() -> i64 + Send + Sync + 'static) -> Hub {
        Hub { db: self.db, clock: Arc::new(clock), generations: self.generations }
    }

    /// Which database this hub uses.
    pub fn backend(&self) -> Backend {
        self.db.backend()
    }

    /// Closes the connection pool, waiting for connections in use to be returned (for a
    /// graceful shutdown; on SQLite the last connection closed checkpoints the WAL). Calls on
    /// this hub or its clones fail afterwards.
    pub async fn close(&self) {
        with_pool!(&self.db, |pool| pool.close().await)
    }

    /// The current time, unix seconds.
    fn now(&self) -> i64 {
        (self.clock)()
    }
}

fn system_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}
