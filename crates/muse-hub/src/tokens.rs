//! Access tokens: created with a secret shown once, stored as its SHA-256, listed without it,
//! revoked, and turned back into an [`Actor`] by [`Hub::authenticate`].

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::accounts::{user_from_row, UserRow};
use crate::db::with_pool;
use crate::model::{Actor, NewToken, RepoId, Role, TokenInfo, UserId};
use crate::{Hub, HubError};

/// What every token secret starts with, so that secrets are recognisable (in logs, by secret
/// scanners). The rest is 43 base64url characters: 32 random bytes.
pub const TOKEN_PREFIX: &str = "muse_";

/// The length of a whole secret: the prefix and 43 characters.
const TOKEN_LEN: usize = TOKEN_PREFIX.len() + 43;

/// The longest token label, in characters.
const MAX_LABEL_CHARS: usize = 100;

/// `last_used_at` is written only when it is older than this (seconds), so that a busy token
/// does not cost a database write per request.
const LAST_USED_GRANULARITY: i64 = 60;

/// The columns of a [`TokenRow`], from [`TOKEN_FROM`].
const TOKEN_COLUMNS: &str = "t.id, t.user_id, t.label, t.scope, t.repo_id, ou.name || '/' || r.name, \
     t.created_at, t.expires_at, t.revoked_at, t.last_used_at";

/// The tokens `t` with the repository each is limited to (`r`, `ou`: its owner).
const TOKEN_FROM: &str = "tokens t LEFT JOIN repos r ON r.id = t.repo_id LEFT JOIN users ou ON ou.id = r.owner_id";

/// A token as selected by [`TOKEN_COLUMNS`].
type TokenRow = (i64, i64, String, String, Option<i64>, Option<String>, i64, Option<i64>, Option<i64>, Option<i64>);

fn token_from_row(row: TokenRow) -> Result<TokenInfo, HubError> {
    let (id, user, label, scope, repo, repo_name, created_at, expires_at, revoked_at, last_used_at) = row;
    Ok(TokenInfo {
        id,
        user: UserId(user),
        label,
        scope: Role::stored(&scope)?,
        repo: repo.map(RepoId),
        repo_name,
        created_at,
        expires_at,
        revoked_at,
        last_used_at,
    })
}

/// What is stored of a secret (a token's or a session's): its SHA-256, in lowercase hex.
pub(crate) fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A fresh token secret: the prefix and 32 random bytes in base64url.
fn new_secret() -> Result<String, HubError> {
    random_secret(TOKEN_PREFIX)
}

/// `prefix` followed by 32 random bytes in base64url (43 characters).
pub(crate) fn random_secret(prefix: &str) -> Result<String, HubError> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(|e| HubError::Internal(format!("no randomness for a secret: {e}")))?;
    Ok(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

impl Hub {
    /// Creates a token for `user` and returns it with its secret, which is not stored and
    /// cannot be shown again. A token limited to a repository needs the user to be able to
    /// read it (`not_found` otherwise, so that tokens cannot probe for private repositories);
    /// an expiry must lie in the future.
    pub async fn create_token(&self, user: &str, new: NewToken) -> Result<(TokenInfo, String), HubError> {
        let owner = self.existing_user(user).await?;
        if new.label.chars().count() > MAX_LABEL_CHARS || new.label.chars().any(char::is_control) {
            return Err(HubError::BadRequest(format!("a token label has at most {MAX_LABEL_CHARS} characters and no control characters")));
        }
        let now = self.now();
        if new.expires_at.is_some_and(|at| at <= now) {
            return Err(HubError::BadRequest("the token's expiry lies in the past".into()));
        }
        let repo = match &new.repo {
            Some((repo_owner, name)) => Some(self.readable_by(owner.id, repo_owner, name).await?),
            None => None,
        };
        let secret = new_secret()?;
        let id = with_pool!(&self.db, |pool| {
            sqlx::query_scalar::<_, i64>(
                "INSERT INTO tokens (user_id, token_hash, label, scope, repo_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(owner.id.0)
            .bind(secret_hash(&secret))
            .bind(&new.label)
            .bind(new.scope.as_str())
            .bind(repo.as_ref().map(|r| r.id.0))
            .bind(now)
            .bind(new.expires_at)
            .fetch_one(pool)
            .await?
        });
        let info = TokenInfo {
            id,
            user: owner.id,
            label: new.label,
            scope: new.scope,
            repo: repo.as_ref().map(|r| r.id),
            repo_name: repo.as_ref().map(|r| r.full_name()),
            created_at: now,
            expires_at: new.expires_at,
            revoked_at: None,
            last_used_at: None,
        };
        Ok((info, secret))
    }

    /// The tokens of `user`, revoked and expired ones included, oldest first; never a secret.
    pub async fn tokens(&self, user: &str) -> Result<Vec<TokenInfo>, HubError> {
        let owner = self.existing_user(user).await?;
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM {TOKEN_FROM} WHERE t.user_id = $1 ORDER BY t.id");
        let rows = with_pool!(&self.db, |pool| sqlx::query_as::<_, TokenRow>(&sql).bind(owner.id.0).fetch_all(pool).await?);
        rows.into_iter().map(token_from_row).collect()
    }

    /// Revokes token `token_id` of `user`: it stops working at once. Revoking a revoked token
    /// changes nothing; a token of another user is `not_found`.
    pub async fn revoke_token(&self, user: &str, token_id: i64) -> Result<(), HubError> {
        let owner = self.existing_user(user).await?;
        let now = self.now();
        let found = with_pool!(&self.db, |pool| {
            sqlx::query("UPDATE tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2 AND user_id = $3")
                .bind(now)
                .bind(token_id)
                .bind(owner.id.0)
                .execute(pool)
                .await?
                .rows_affected()
        });
        if found == 0 {
            return Err(HubError::NotFound(format!("token {token_id} of {}", owner.name)));
        }
        Ok(())
    }

    /// Who presents `bearer`: [`Actor::Anonymous`] for `None`, the token's user for a valid
    /// secret. A secret that is malformed or unknown is `bad_token`, a revoked one
    /// `token_revoked`, an expired one `token_expired` — whatever the request was for.
    pub async fn authenticate(&self, bearer: Option<&str>) -> Result<Actor, HubError> {
        let Some(secret) = bearer else { return Ok(Actor::Anonymous) };
        if secret.len() != TOKEN_LEN || !secret.starts_with(TOKEN_PREFIX) {
            return Err(HubError::BadToken);
        }
        let sql =
            format!("SELECT u.id, u.name, u.email, u.created_at, {TOKEN_COLUMNS} FROM {TOKEN_FROM} JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1");
        let row = with_pool!(&self.db, |pool| { sqlx::query_as::<_, AuthRow>(&sql).bind(secret_hash(secret)).fetch_optional(pool).await? });
        let Some((user, token)) = row.map(split_auth_row) else { return Err(HubError::BadToken) };
        let token = token_from_row(token)?;
        let now = self.now();
        if token.revoked_at.is_some() {
            return Err(HubError::TokenRevoked);
        }
        if token.expires_at.is_some_and(|at| at <= now) {
            return Err(HubError::TokenExpired);
        }
        self.touch(&token, now).await?;
        Ok(Actor::User { user: user_from_row(user), token })
    }

    /// Records that `token` was used at `now`, at most once per [`LAST_USED_GRANULARITY`].
    async fn touch(&self, token: &TokenInfo, now: i64) -> Result<(), HubError> {
        if token.last_used_at.is_some_and(|at| at > now - LAST_USED_GRANULARITY) {
            return Ok(());
        }
        with_pool!(&self.db, |pool| {
            sqlx::query("UPDATE tokens SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at <= $3)")
                .bind(now)
                .bind(token.id)
                .bind(now - LAST_USED_GRANULARITY)
                .execute(pool)
                .await
                .map(drop)?
        });
        Ok(())
    }
}

/// A token row with its user in front: the user's id, name, email and creation time.
type AuthRow = (i64, String, Option<String>, i64, i64, i64, String, String, Option<i64>, Option<String>, i64, Option<i64>, Option<i64>, Option<i64>);

fn split_auth_row(row: AuthRow) -> (UserRow, TokenRow) {
    let (user_id, name, email, created_at, a, b, c, d, e, f, g, h, i, j) = row;
    ((user_id, name, email, created_at), (a, b, c, d, e, f, g, h, i, j))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_have_the_documented_shape() {
        let a = new_secret().unwrap();
        let b = new_secret().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), TOKEN_LEN);
        assert!(a.starts_with("muse_"));
        assert!(a[5..].bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_eq!(secret_hash("muse_x"), hex::encode(Sha256::digest(b"muse_x")));
    }
}
