//! The hub's records: users, repositories, roles, tokens, actors and ref changes.

use std::fmt;
use std::str::FromStr;

use muse_core::CommitId;
use serde::Serialize;

use crate::HubError;

/// Which database a [`crate::Hub`] stores its metadata in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// An embedded SQLite file (`sqlite://PATH`).
    Sqlite,
    /// A PostgreSQL server (`postgres://…`).
    Postgres,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        })
    }
}

/// The database id of a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct UserId(pub i64);

/// The database id of a hosted repository. Ids are never reused, even after a deletion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct RepoId(pub i64);

impl fmt::Display for RepoId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An account on the hub.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// The database id.
    pub id: UserId,
    /// The name, as spelled at creation (unique case-insensitively).
    pub name: String,
    /// The e-mail address, if given.
    pub email: Option<String>,
    /// When the account was created (unix seconds).
    pub created_at: i64,
}

/// A hosted repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Repo {
    /// The database id.
    pub id: RepoId,
    /// The owner's user name.
    pub owner: String,
    /// The repository's name, as spelled at creation (unique per owner case-insensitively).
    pub name: String,
    /// Whether only the owner and collaborators may see it.
    pub private: bool,
    /// When it was created (unix seconds).
    pub created_at: i64,
}

impl Repo {
    /// `OWNER/NAME`.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }
}

/// A level of access, ordered `Read < Write < Admin`: a collaborator's role on a repository,
/// and a token's scope (each level includes the ones below it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Clone, fetch, list refs.
    Read,
    /// Read, and push (create, move and delete refs).
    Write,
    /// Write, and manage the repository (collaborators, visibility, deletion).
    Admin,
}

impl Role {
    /// The stored and displayed name: `read`, `write` or `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Write => "write",
            Role::Admin => "admin",
        }
    }

    /// A role read back from the database, where the schema allows only the three names.
    pub(crate) fn stored(text: &str) -> Result<Role, HubError> {
        text.parse().map_err(|_| HubError::Internal(format!("a stored role is '{text}'")))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = HubError;
    fn from_str(s: &str) -> Result<Self, HubError> {
        match s {
            "read" => Ok(Role::Read),
            "write" => Ok(Role::Write),
            "admin" => Ok(Role::Admin),
            _ => Err(HubError::BadRequest(format!("'{s}' is not a role (read, write or admin)"))),
        }
    }
}

/// Something an actor wants to do to a repository, needing the [`Role`] of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Needs [`Role::Read`].
    Read,
    /// Needs [`Role::Write`].
    Write,
    /// Needs [`Role::Admin`].
    Admin,
}

impl Action {
    /// The least role that allows this action.
    pub fn needs(self) -> Role {
        match self {
            Action::Read => Role::Read,
            Action::Write => Role::Write,
            Action::Admin => Role::Admin,
        }
    }
}

/// Something an actor wants to do to an account (not to one of its repositories).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountAction {
    /// Create a repository owned by the account: needs a `write` token of that user, not
    /// limited to a repository.
    CreateRepo,
    /// List, create or revoke the account's tokens: needs an `admin` token of that user, not
    /// limited to a repository (a token that can mint tokens is worth as much as one of
    /// admin scope).
    ManageTokens,
}

impl AccountAction {
    /// The least token scope that allows this action.
    pub fn needs(self) -> Role {
        match self {
            AccountAction::CreateRepo => Role::Write,
            AccountAction::ManageTokens => Role::Admin,
        }
    }
}

/// An access token as listed: everything but the secret, which is shown only once at creation
/// and stored only as its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    /// The database id (what `revoke_token` takes).
    pub id: i64,
    /// The user the token acts for.
    pub user: UserId,
    /// The owner's free-text label ("laptop", "CI").
    pub label: String,
    /// The most the token allows, whatever its user's role.
    pub scope: Role,
    /// The one repository the token is limited to, if any.
    pub repo: Option<RepoId>,
    /// `OWNER/NAME` of that repository, for display.
    pub repo_name: Option<String>,
    /// When it was created (unix seconds).
    pub created_at: i64,
    /// When it stops working (unix seconds), if ever.
    pub expires_at: Option<i64>,
    /// When it was revoked (unix seconds), if it was.
    pub revoked_at: Option<i64>,
    /// When it was last presented (unix seconds, updated at most once a minute).
    pub last_used_at: Option<i64>,
}

/// What a new token may do; see [`crate::Hub::create_token`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    /// A free-text label for listings (at most 100 characters).
    pub label: String,
    /// The most the token allows.
    pub scope: Role,
    /// `(OWNER, NAME)` of the one repository the token is limited to, if any.
    pub repo: Option<(String, String)>,
    /// When it stops working (unix seconds), if ever; must lie in the future.
    pub expires_at: Option<i64>,
}

/// Who makes a request: nobody in particular, or a user through one of their tokens.
// One per request, moved rarely: boxing the user and token would only add allocations.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// No credentials were presented.
    Anonymous,
    /// A valid token was presented.
    User {
        /// The token's user.
        user: User,
        /// The token, which caps what the user may do.
        token: TokenInfo,
    },
}

impl Actor {
    /// The authenticated user, if any.
    pub fn user(&self) -> Option<&User> {
        match self {
            Actor::Anonymous => None,
            Actor::User { user, .. } => Some(user),
        }
    }
}

/// One compare-and-swap on a ref of a hosted repository; see [`crate::Hub::update_refs`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefChange {
    /// The full ref name (`refs/heads/…` or `refs/tags/…`).
    pub name: String,
    /// The value the ref must hold now (`None`: it must not exist).
    pub old: Option<CommitId>,
    /// The value it gets (`None`: it is deleted).
    pub new: Option<CommitId>,
}
