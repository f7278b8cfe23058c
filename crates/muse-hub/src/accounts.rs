//! Users, repositories and collaborators, and the authorization of an actor on a repository.

use crate::db::{is_unique_violation, with_pool};
use crate::model::{AccountAction, Action, Actor, Repo, RepoId, Role, User, UserId};
use crate::names::{key, validate_repo_name, validate_user_name};
use crate::policy::{self, Decision, Grant, Standing};
use crate::{password, Hub, HubError};

/// A `users` row: id, name, email, created_at.
pub(crate) type UserRow = (i64, String, Option<String>, i64);

pub(crate) fn user_from_row((id, name, email, created_at): UserRow) -> User {
    User { id: UserId(id), name, email, created_at }
}

/// A repository with what the policy needs: id, owner, name, private, created_at, owner_id,
/// the actor's collaborator role.
type StandingRow = (i64, String, String, bool, i64, i64, Option<String>);

/// The columns of [`StandingRow`]; the query binds the actor's user id as `$1`.
const STANDING_SELECT: &str = "SELECT r.id, u.name, r.name, r.private, r.created_at, r.owner_id, c.role \
     FROM repos r JOIN users u ON u.id = r.owner_id \
     LEFT JOIN collaborators c ON c.repo_id = r.id AND c.user_id = $1";

impl Hub {
    /// Creates a user. `password`, if given, is stored as an argon2id hash. Fails with
    /// `invalid_name`, or `conflict` if the name is taken (case-insensitively).
    pub async fn create_user(&self, name: &str, email: Option<&str>, password: Option<&str>) -> Result<User, HubError> {
        validate_user_name(name)?;
        if let Some(email) = email {
            validate_email(email)?;
        }
        let password_hash = match password {
            Some("") => return Err(HubError::BadRequest("the password is empty".into())),
            Some(password) => Some(password::hash(password.to_string()).await?),
            None => None,
        };
        let now = self.now();
        let inserted = with_pool!(&self.db, |pool| {
            sqlx::query_scalar::<_, i64>("INSERT INTO users (name, name_key, email, password_hash, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id")
                .bind(name)
                .bind(key(name))
                .bind(email)
                .bind(&password_hash)
                .bind(now)
                .fetch_one(pool)
                .await
        });
        match inserted {
            Ok(id) => Ok(User { id: UserId(id), name: name.to_string(), email: email.map(str::to_string), created_at: now }),
            Err(e) if is_unique_violation(&e) => Err(HubError::Conflict(format!("user {name}"))),
            Err(e) => Err(e.into()),
        }
    }

    /// The user called `name` (case-insensitively), if any.
    pub async fn user_by_name(&self, name: &str) -> Result<Option<User>, HubError> {
        let row = with_pool!(&self.db, |pool| {
            sqlx::query_as::<_, UserRow>("SELECT id, name, email, created_at FROM users WHERE name_key = $1").bind(key(name)).fetch_optional(pool).await?
        });
        Ok(row.map(user_from_row))
    }

    /// The user called `name`, or `not_found`.
    pub(crate) async fn existing_user(&self, name: &str) -> Result<User, HubError> {
        self.user_by_name(name).await?.ok_or_else(|| HubError::NotFound(format!("user {name}")))
    }

    /// The user `name` if `password` is theirs; `unauthorized` otherwise, with the same message
    /// and about the same time whether the user is missing, has no password, or gave a wrong
    /// one.
    pub async fn verify_password(&self, name: &str, password: &str) -> Result<User, HubError> {
        let row = with_pool!(&self.db, |pool| {
            sqlx::query_as::<_, (i64, String, Option<String>, i64, Option<String>)>(
                "SELECT id, name, email, created_at, password_hash FROM users WHERE name_key = $1",
            )
            .bind(key(name))
            .fetch_optional(pool)
            .await?
        });
        let (user, stored) = match row {
            Some((id, name, email, created_at, stored)) => (Some(user_from_row((id, name, email, created_at))), stored),
            None => (None, None),
        };
        match (password::verify(stored, password.to_string()).await?, user) {
            (true, Some(user)) => Ok(user),
            _ => Err(HubError::Unauthorized("wrong user name or password".into())),
        }
    }

    /// Creates the repository `OWNER/NAME`. Fails with `not_found` if the owner does not exist,
    /// `invalid_name`, or `conflict` if the owner has a repository of that name
    /// (case-insensitively).
    pub async fn create_repo(&self, owner: &str, name: &str, private: bool) -> Result<Repo, HubError> {
        validate_repo_name(name)?;
        let owner_user = self.existing_user(owner).await?;
        let now = self.now();
        let inserted = with_pool!(&self.db, |pool| {
            sqlx::query_scalar::<_, i64>("INSERT INTO repos (owner_id, name, name_key, private, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id")
                .bind(owner_user.id.0)
                .bind(name)
                .bind(key(name))
                .bind(private)
                .bind(now)
                .fetch_one(pool)
                .await
        });
        match inserted {
            Ok(id) => Ok(Repo { id: RepoId(id), owner: owner_user.name, name: name.to_string(), private, created_at: now }),
            Err(e) if is_unique_violation(&e) => Err(HubError::Conflict(format!("repository {}/{name}", owner_user.name))),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes a repository with its refs, collaborators and the tokens limited to it. Its
    /// content is the server's to remove.
    pub async fn delete_repo(&self, repo: RepoId) -> Result<(), HubError> {
        let deleted = with_pool!(&self.db, |pool| sqlx::query("DELETE FROM repos WHERE id = $1").bind(repo.0).execute(pool).await?.rows_affected());
        if deleted == 0 {
            return Err(HubError::NotFound(format!("repository #{repo}")));
        }
        self.forget_generation(repo);
        Ok(())
    }

    /// The repositories `actor` may read, of `owner` only if given, sorted by owner and name.
    /// An unknown owner is `not_found`.
    pub async fn repos_visible_to(&self, actor: &Actor, owner: Option<&str>) -> Result<Vec<Repo>, HubError> {
        if let Some(owner) = owner {
            self.existing_user(owner).await?;
        }
        let user_id = actor.user().map(|u| u.id.0);
        let sql = format!(
            "{STANDING_SELECT} WHERE ($2 IS NULL OR u.name_key = $2) AND (r.private = $3 OR r.owner_id = $1 OR c.role IS NOT NULL) \
             ORDER BY u.name_key, r.name_key"
        );
        let rows =
            with_pool!(&self.db, |pool| { sqlx::query_as::<_, StandingRow>(&sql).bind(user_id).bind(owner.map(key)).bind(false).fetch_all(pool).await? });
        let mut repos = Vec::new();
        let (user, grant) = actor_parts(actor);
        for row in rows {
            let (repo, standing) = standing_from_row(row, user, grant)?;
            if policy::decide(&standing, Action::Read) == Decision::Allowed {
                repos.push(repo);
            }
        }
        Ok(repos)
    }

    /// Gives `user` the role `role` on a repository, or removes them with `None`. The owner is
    /// always admin and cannot be changed here.
    pub async fn set_collaborator(&self, repo: RepoId, user: &str, role: Option<Role>) -> Result<(), HubError> {
        let user = self.existing_user(user).await?;
        let owner_id =
            with_pool!(&self.db, |pool| { sqlx::query_scalar::<_, i64>("SELECT owner_id FROM repos WHERE id = $1").bind(repo.0).fetch_optional(pool).await? });
        match owner_id {
            None => return Err(HubError::NotFound(format!("repository #{repo}"))),
            Some(owner) if owner == user.id.0 => {
                return Err(HubError::BadRequest(format!("{} owns the repository and is always its admin", user.name)));
            }
            Some(_) => {}
        }
        with_pool!(&self.db, |pool| match role {
            Some(role) => sqlx::query(
                "INSERT INTO collaborators (repo_id, user_id, role) VALUES ($1, $2, $3) \
                 ON CONFLICT (repo_id, user_id) DO UPDATE SET role = excluded.role",
            )
            .bind(repo.0)
            .bind(user.id.0)
            .bind(role.as_str())
            .execute(pool)
            .await
            .map(drop)?,
            None => sqlx::query("DELETE FROM collaborators WHERE repo_id = $1 AND user_id = $2").bind(repo.0).bind(user.id.0).execute(pool).await.map(drop)?,
        });
        Ok(())
    }

    /// The collaborators of a repository (not its owner) with their roles, sorted by name.
    pub async fn collaborators(&self, repo: RepoId) -> Result<Vec<(User, Role)>, HubError> {
        let rows = with_pool!(&self.db, |pool| {
            sqlx::query_as::<_, (i64, String, Option<String>, i64, String)>(
                "SELECT u.id, u.name, u.email, u.created_at, c.role FROM collaborators c JOIN users u ON u.id = c.user_id \
                 WHERE c.repo_id = $1 ORDER BY u.name_key",
            )
            .bind(repo.0)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(|(id, name, email, created_at, role)| Ok((user_from_row((id, name, email, created_at)), Role::stored(&role)?))).collect()
    }

    /// The one authorization check: the repository `OWNER/NAME` if `actor` may do `action` on
    /// it (see [`policy`]). Otherwise `not_found` (the actor may not even read it, or it does
    /// not exist: the same error with the same message), `unauthorized` (anonymous, and
    /// authenticating might help) or `forbidden`.
    pub async fn authorize(&self, actor: &Actor, owner: &str, name: &str, action: Action) -> Result<Repo, HubError> {
        let (user, grant) = actor_parts(actor);
        self.decide(user, grant, owner, name, action).await
    }

    /// The one check for actions on an account: the user `user` if `actor` may do `action`
    /// to it (see [`policy::decide_account`]); `not_found` if there is no such user (accounts
    /// are public), `unauthorized` for an anonymous actor, `forbidden` otherwise.
    pub async fn authorize_account(&self, actor: &Actor, user: &str, action: AccountAction) -> Result<User, HubError> {
        let account = self.existing_user(user).await?;
        let (actor_user, grant) = actor_parts(actor);
        let what = match action {
            AccountAction::CreateRepo => "creating repositories",
            AccountAction::ManageTokens => "managing tokens",
        };
        match policy::decide_account(actor_user.zip(grant), account.id, action) {
            Decision::Allowed => Ok(account),
            Decision::Unauthorized => Err(HubError::Unauthorized(format!("authentication required: {what} of {} needs a token", account.name))),
            _ => Err(HubError::Forbidden(format!("{what} of {} needs a {} token of that user, not limited to a repository", account.name, action.needs()))),
        }
    }

    /// Makes a repository private or public.
    pub async fn set_repo_private(&self, repo: RepoId, private: bool) -> Result<(), HubError> {
        let changed = with_pool!(&self.db, |pool| {
            sqlx::query("UPDATE repos SET private = $1 WHERE id = $2").bind(private).bind(repo.0).execute(pool).await?.rows_affected()
        });
        if changed == 0 {
            return Err(HubError::NotFound(format!("repository #{repo}")));
        }
        // Pages show the visibility.
        self.invalidate(Some(repo));
        Ok(())
    }

    /// Whether `user`, with full power (as through an unlimited admin token), may read
    /// `OWNER/NAME`: the repository, or `not_found`.
    pub(crate) async fn readable_by(&self, user: UserId, owner: &str, name: &str) -> Result<Repo, HubError> {
        self.decide(Some(user), Some(Grant { scope: Role::Admin, repo: None }), owner, name, Action::Read).await
    }

    /// Looks up `OWNER/NAME` and the user's role on it, and asks the policy.
    async fn decide(&self, user: Option<UserId>, grant: Option<Grant>, owner: &str, name: &str, action: Action) -> Result<Repo, HubError> {
        let not_found = || HubError::NotFound(format!("repository {owner}/{name}"));
        let sql = format!("{STANDING_SELECT} WHERE u.name_key = $2 AND r.name_key = $3");
        let row = with_pool!(&self.db, |pool| {
            sqlx::query_as::<_, StandingRow>(&sql).bind(user.map(|u| u.0)).bind(key(owner)).bind(key(name)).fetch_optional(pool).await?
        });
        let Some(row) = row else { return Err(not_found()) };
        let (repo, standing) = standing_from_row(row, user, grant)?;
        let needs = action.needs();
        match policy::decide(&standing, action) {
            Decision::Allowed => Ok(repo),
            Decision::NotFound => Err(not_found()),
            Decision::Unauthorized => Err(HubError::Unauthorized(format!("authentication required: {needs} access to {} needs a token", repo.full_name()))),
            Decision::Forbidden => {
                let has = policy::effective(&standing).map_or("no", Role::as_str);
                Err(HubError::Forbidden(format!("{needs} access to {} is needed; this token gives {has} access", repo.full_name())))
            }
        }
    }
}

/// The actor's user and what its token allows (both `None`: anonymous).
fn actor_parts(actor: &Actor) -> (Option<UserId>, Option<Grant>) {
    match actor {
        Actor::Anonymous => (None, None),
        Actor::User { user, token } => (Some(user.id), Some(Grant { scope: token.scope, repo: token.repo })),
    }
}

/// The repository, and the standing on it of `user` presenting `grant` (both `None`:
/// anonymous).
fn standing_from_row(row: StandingRow, user: Option<UserId>, grant: Option<Grant>) -> Result<(Repo, Standing), HubError> {
    let (id, owner, name, private, created_at, owner_id, collaborator) = row;
    let role = match user {
        Some(user) if user.0 == owner_id => Some(Role::Admin),
        Some(_) => collaborator.as_deref().map(Role::stored).transpose()?,
        None => None,
    };
    let repo = Repo { id: RepoId(id), owner, name, private, created_at };
    Ok((repo, Standing { repo: RepoId(id), private, role, token: grant }))
}

/// A plausible e-mail address: one `@` with text on both sides, no spaces or control
/// characters, at most 254 bytes.
fn validate_email(email: &str) -> Result<(), HubError> {
    let plausible = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty() && !domain.contains('@'))
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if plausible {
        Ok(())
    } else {
        Err(HubError::BadRequest(format!("'{email}' is not an e-mail address")))
    }
}
