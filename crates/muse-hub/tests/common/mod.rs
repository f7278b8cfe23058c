//! Shared by the hub's integration tests: every test runs once per backend.
#![allow(dead_code)] // each test file uses its own part of this module

use muse_core::{CommitId, ObjectId};
use muse_hub::testing::TestDb;
use muse_hub::{Actor, Backend, Hub, NewToken, Role};

/// Defines each `async fn NAME(db: &TestDb) { … }` as a module `NAME` with two tests, `sqlite`
/// and `postgres`, each running the body on a fresh database of that backend.
macro_rules! on_both_backends {
    ($(async fn $name:ident($db:ident: &TestDb) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($db: &muse_hub::testing::TestDb) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                run(&muse_hub::testing::TestDb::new(muse_hub::Backend::Sqlite).await).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                run(&muse_hub::testing::TestDb::new(muse_hub::Backend::Postgres).await).await
            }
        }
    )*};
}
pub(crate) use on_both_backends;

/// A commit id made of one repeated byte.
pub fn commit(byte: u8) -> CommitId {
    CommitId(ObjectId::from_bytes([byte; 32]))
}

/// A token with no repository limit and no expiry.
pub fn token(scope: Role) -> NewToken {
    NewToken { label: format!("{scope} token"), scope, repo: None, expires_at: None }
}

/// The actor presenting a new token of `user` with `new`'s scope and limits.
pub async fn actor(hub: &Hub, user: &str, new: NewToken) -> Actor {
    let (_, secret) = hub.create_token(user, new).await.unwrap();
    hub.authenticate(Some(&secret)).await.unwrap()
}

/// Runs one query returning text rows directly on the test database (to look at what is stored).
pub async fn raw_strings(db: &TestDb, sql: &str) -> Vec<String> {
    match db.backend() {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(db.url()).await.unwrap();
            let rows = sqlx::query_scalar::<_, String>(sql).fetch_all(&pool).await.unwrap();
            pool.close().await;
            rows
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(db.url()).await.unwrap();
            let rows = sqlx::query_scalar::<_, String>(sql).fetch_all(&pool).await.unwrap();
            pool.close().await;
            rows
        }
    }
}
