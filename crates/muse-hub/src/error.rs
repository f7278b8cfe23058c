//! The hub's error type: every failure has a stable machine code and an HTTP status.

use muse_core::CommitId;

/// Errors of the hub's service library.
///
/// [`HubError::code`] is the stable machine name clients match on (`docs/hub.md` lists them;
/// those that can reach the wire protocol are the codes of `docs/protocol.md`, with the same
/// statuses); [`HubError::http_status`] is the status the server answers with.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// A repository, user, token or other named thing does not exist — or exists but the actor
    /// may not read it: both give the same error, so that existence never leaks.
    #[error("{0} not found")]
    NotFound(String),
    /// The request carries no credentials but needs them (the repository is readable to
    /// everyone, the action needs more), or a user name and password did not match.
    #[error("{0}")]
    Unauthorized(String),
    /// A presented token is malformed or unknown.
    #[error("the token is not valid")]
    BadToken,
    /// A presented token has expired.
    #[error("the token expired")]
    TokenExpired,
    /// A presented token was revoked.
    #[error("the token was revoked")]
    TokenRevoked,
    /// The actor is authenticated but its role or token scope is not enough.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// A ref did not hold the value a compare-and-swap expected (`expected: None`: the update
    /// meant to create it, and it exists).
    #[error("ref {name} is at {}, expected {}", fmt_opt(actual), fmt_opt(expected))]
    StaleRef {
        /// The full ref name.
        name: String,
        /// The value the update expected (`None`: absent).
        expected: Option<CommitId>,
        /// The value it holds (`None`: absent).
        actual: Option<CommitId>,
    },
    /// A ref name breaks the ref rules (muse-store's, git's).
    #[error("'{name}' is not a valid ref name: {reason}")]
    InvalidRef {
        /// The rejected name.
        name: String,
        /// Which rule it breaks.
        reason: String,
    },
    /// A user or repository name breaks the naming rules.
    #[error("'{name}' is not a valid {what} name: {reason}")]
    InvalidName {
        /// The rejected name.
        name: String,
        /// "user" or "repository".
        what: &'static str,
        /// Which rule it breaks.
        reason: String,
    },
    /// A user name is one of [`crate::names::RESERVED_NAMES`]: a page of the hub's own.
    #[error("'{name}' is reserved: /{name} is one of the hub's own pages")]
    ReservedName {
        /// The refused name.
        name: String,
    },
    /// Some other input breaks a rule (a token expiring in the past, a ref named twice in one
    /// update, a malformed database URL).
    #[error("{0}")]
    BadRequest(String),
    /// A name is taken (user or repository, case-insensitively).
    #[error("{0} already exists")]
    Conflict(String),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A migration of the database failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Something that should not happen did (a stored value does not parse, a worker thread
    /// died).
    #[error("internal error: {0}")]
    Internal(String),
}

fn fmt_opt(id: &Option<CommitId>) -> String {
    id.map_or_else(|| "nothing".to_string(), |id| id.to_string())
}

impl HubError {
    /// The stable machine code (`not_found`, `stale_ref`, ...), the same across releases.
    pub fn code(&self) -> &'static str {
        match self {
            HubError::NotFound(_) => "not_found",
            HubError::Unauthorized(_) => "unauthorized",
            HubError::BadToken => "bad_token",
            HubError::TokenExpired => "token_expired",
            HubError::TokenRevoked => "token_revoked",
            HubError::Forbidden(_) => "forbidden",
            HubError::StaleRef { .. } => "stale_ref",
            HubError::InvalidRef { .. } => "invalid_ref",
            HubError::InvalidName { .. } => "invalid_name",
            HubError::ReservedName { .. } => "reserved_name",
            HubError::BadRequest(_) => "bad_request",
            HubError::Conflict(_) => "conflict",
            HubError::Database(_) | HubError::Migrate(_) => "database",
            HubError::Internal(_) => "internal",
        }
    }

    /// The HTTP status that goes with [`HubError::code`].
    pub fn http_status(&self) -> u16 {
        match self {
            HubError::NotFound(_) => 404,
            HubError::Unauthorized(_) | HubError::BadToken | HubError::TokenExpired | HubError::TokenRevoked => 401,
            HubError::Forbidden(_) => 403,
            HubError::StaleRef { .. } | HubError::Conflict(_) => 409,
            HubError::InvalidRef { .. } | HubError::InvalidName { .. } | HubError::ReservedName { .. } | HubError::BadRequest(_) => 400,
            HubError::Database(_) | HubError::Migrate(_) | HubError::Internal(_) => 500,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses() {
        let cases: [(HubError, &str, u16); 11] = [
            (HubError::ReservedName { name: "login".into() }, "reserved_name", 400),
            (HubError::NotFound("repository a/b".into()), "not_found", 404),
            (HubError::Unauthorized("x".into()), "unauthorized", 401),
            (HubError::TokenExpired, "token_expired", 401),
            (HubError::Forbidden("x".into()), "forbidden", 403),
            (HubError::StaleRef { name: "refs/heads/main".into(), expected: None, actual: None }, "stale_ref", 409),
            (HubError::Conflict("user a".into()), "conflict", 409),
            (HubError::InvalidName { name: "-".into(), what: "user", reason: "x".into() }, "invalid_name", 400),
            (HubError::InvalidRef { name: "main".into(), reason: "x".into() }, "invalid_ref", 400),
            (HubError::BadRequest("x".into()), "bad_request", 400),
            (HubError::Database(sqlx::Error::PoolTimedOut), "database", 500),
        ];
        for (error, code, status) in cases {
            assert_eq!((error.code(), error.http_status()), (code, status), "{error}");
        }
    }

    #[test]
    fn stale_ref_names_the_ref_and_both_values() {
        let id = CommitId(muse_core::ObjectId::sha256(b"x"));
        let error = HubError::StaleRef { name: "refs/heads/main".into(), expected: Some(id), actual: None };
        assert_eq!(error.to_string(), format!("ref refs/heads/main is at nothing, expected {id}"));
    }
}
