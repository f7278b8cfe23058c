//! Sign-in sessions for people using the web pages: created after a password check, found by
//! the secret in their cookie, ended by signing out or by their expiry.
//!
//! A session's secret is `muses_` followed by 43 base64url characters (32 random bytes), stored
//! only as its SHA-256 like a token's. Each session has its own CSRF token, which every form it
//! posts must carry. A session acts as its user through a read-only grant ([`Session::actor`]):
//! the pages only read, and nothing a cookie presents can write.

use crate::accounts::{user_from_row, UserRow};
use crate::db::with_pool;
use crate::model::{Actor, Role, TokenInfo, User};
use crate::tokens::{random_secret, secret_hash};
use crate::{Hub, HubError};

/// What every session secret starts with.
pub const SESSION_PREFIX: &str = "muses_";

/// The label of the grant a session acts through (see [`Session::actor`]).
const SESSION_LABEL: &str = "web session";

/// A signed-in session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The database id.
    pub id: i64,
    /// Who signed in.
    pub user: User,
    /// The token every form posted in this session must carry.
    pub csrf_token: String,
    /// When it was created (unix seconds).
    pub created_at: i64,
    /// When it ends (unix seconds).
    pub expires_at: i64,
}

impl Session {
    /// The session's user as an actor of the policy, through a grant of `read` scope not limited
    /// to a repository: the user sees what they may read, and can change nothing.
    pub fn actor(&self) -> Actor {
        let token = TokenInfo {
            id: self.id,
            user: self.user.id,
            label: SESSION_LABEL.to_string(),
            scope: Role::Read,
            repo: None,
            repo_name: None,
            created_at: self.created_at,
            expires_at: Some(self.expires_at),
            revoked_at: None,
            last_used_at: None,
        };
        Actor::User { user: self.user.clone(), token }
    }
}

/// A session row with its user: the user's columns, then id, csrf_token, created_at, expires_at.
type SessionRow = (i64, String, Option<String>, i64, i64, String, i64, i64);

impl Hub {
    /// Opens a session for `user` lasting `lifetime_secs`, and returns it with its secret (for
    /// the cookie; stored only as its SHA-256). Sessions already expired are removed on the way.
    pub async fn create_session(&self, user: &User, lifetime_secs: i64) -> Result<(Session, String), HubError> {
        if lifetime_secs <= 0 {
            return Err(HubError::BadRequest("a session must last a positive time".into()));
        }
        let secret = random_secret(SESSION_PREFIX)?;
        let csrf_token = random_secret("")?;
        let now = self.now();
        let expires_at = now.saturating_add(lifetime_secs);
        let id = with_pool!(&self.db, |pool| {
            sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(now).execute(pool).await?;
            sqlx::query_scalar::<_, i64>(
                "INSERT INTO sessions (user_id, session_hash, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(user.id.0)
            .bind(secret_hash(&secret))
            .bind(&csrf_token)
            .bind(now)
            .bind(expires_at)
            .fetch_one(pool)
            .await?
        });
        Ok((Session { id, user: user.clone(), csrf_token, created_at: now, expires_at }, secret))
    }

    /// The live session whose secret is `secret`; `None` when it is malformed, unknown, ended or
    /// expired (a cookie that no longer works is simply no sign-in).
    pub async fn session(&self, secret: &str) -> Result<Option<Session>, HubError> {
        if !secret.starts_with(SESSION_PREFIX) || secret.len() != SESSION_PREFIX.len() + 43 {
            return Ok(None);
        }
        let row = with_pool!(&self.db, |pool| {
            sqlx::query_as::<_, SessionRow>(
                "SELECT u.id, u.name, u.email, u.created_at, s.id, s.csrf_token, s.created_at, s.expires_at \
                 FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.session_hash = $1",
            )
            .bind(secret_hash(secret))
            .fetch_optional(pool)
            .await?
        });
        let Some((user_id, name, email, user_created, id, csrf_token, created_at, expires_at)) = row else { return Ok(None) };
        if expires_at <= self.now() {
            return Ok(None);
        }
        let user: UserRow = (user_id, name, email, user_created);
        Ok(Some(Session { id, user: user_from_row(user), csrf_token, created_at, expires_at }))
    }

    /// Ends the session whose secret is `secret` (ending an unknown one changes nothing).
    pub async fn end_session(&self, secret: &str) -> Result<(), HubError> {
        with_pool!(&self.db, |pool| sqlx::query("DELETE FROM sessions WHERE session_hash = $1").bind(secret_hash(secret)).execute(pool).await.map(drop)?);
        Ok(())
    }
}
