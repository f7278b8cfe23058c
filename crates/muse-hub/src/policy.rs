//! The one authorization policy, as a pure function over what the database says.
//!
//! Effective permission of an actor on a repository:
//! - the user's own role: `admin` for the owner, the collaborator role otherwise, none else;
//! - capped by the token's scope, and by nothing at all if the token is limited to another
//!   repository;
//! - and, whatever the above, `read` on a public repository (everyone can read it, anonymous
//!   or not).
//!
//! The decision for an action needing role `P`: allowed if the effective permission is at least
//! `P`; [`Decision::NotFound`] if it is not even `read` (exactly as if the repository did not
//! exist); [`Decision::Unauthorized`] for an anonymous actor (authenticating might help);
//! [`Decision::Forbidden`] for an authenticated one. Tokens that are unknown, revoked or expired
//! never get here: [`crate::Hub::authenticate`] rejects them first.
//!
//! Actions on an account ([`AccountAction`]: creating its repositories, managing its tokens)
//! are for that user alone, through a token not limited to a repository whose scope is enough:
//! [`decide_account`]. Accounts are public, so the answers are `unauthorized` and `forbidden`,
//! never `not_found`.

use crate::model::{AccountAction, Action, RepoId, Role, UserId};

/// What a token allows, as far as the policy cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    /// The token's scope.
    pub scope: Role,
    /// The one repository it is limited to, if any.
    pub repo: Option<RepoId>,
}

/// Everything the policy needs to know about one actor and one repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    /// The repository.
    pub repo: RepoId,
    /// Whether it is private.
    pub private: bool,
    /// The actor's own role on it (owner: `admin`; collaborator: their role); `None` for an
    /// anonymous actor or a user with no role.
    pub role: Option<Role>,
    /// The token presented; `None` for an anonymous actor.
    pub token: Option<Grant>,
}

/// The policy's answer for one action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead.
    Allowed,
    /// Answer as if the repository did not exist.
    NotFound,
    /// The actor is anonymous and needs to authenticate.
    Unauthorized,
    /// The actor is authenticated but may not do this.
    Forbidden,
}

/// The most an actor may do on a repository (`None`: not even read it).
pub fn effective(standing: &Standing) -> Option<Role> {
    let own = match standing.token {
        None => None,
        Some(grant) if grant.repo.is_some_and(|limit| limit != standing.repo) => None,
        Some(grant) => standing.role.map(|role| role.min(grant.scope)),
    };
    let public = (!standing.private).then_some(Role::Read);
    own.max(public)
}

/// Whether the actor may do `action` on the repository, and if not, how to answer.
pub fn decide(standing: &Standing, action: Action) -> Decision {
    match effective(standing) {
        Some(role) if role >= action.needs() => Decision::Allowed,
        None => Decision::NotFound,
        Some(_) if standing.token.is_none() => Decision::Unauthorized,
        Some(_) => Decision::Forbidden,
    }
}

/// Whether `actor` (its user and token; `None`: anonymous) may do `action` to `account`.
pub fn decide_account(actor: Option<(UserId, Grant)>, account: UserId, action: AccountAction) -> Decision {
    match actor {
        None => Decision::Unauthorized,
        Some((user, grant)) if user == account && grant.repo.is_none() && grant.scope >= action.needs() => Decision::Allowed,
        Some(_) => Decision::Forbidden,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Decision::{Allowed as A, Forbidden as F, NotFound as N, Unauthorized as U};

    const REPO: RepoId = RepoId(7);
    const OTHER: RepoId = RepoId(8);

    fn grant(scope: Role) -> Option<Grant> {
        Some(Grant { scope, repo: None })
    }

    /// Every actor the matrix covers: (label, own role, token).
    fn actors() -> Vec<(&'static str, Option<Role>, Option<Grant>)> {
        vec![
            ("anonymous", None, None),
            ("other user", None, grant(Role::Admin)),
            ("reader", Some(Role::Read), grant(Role::Admin)),
            ("writer", Some(Role::Write), grant(Role::Admin)),
            ("admin collaborator", Some(Role::Admin), grant(Role::Admin)),
            ("owner", Some(Role::Admin), grant(Role::Admin)),
            ("owner, token for this repo", Some(Role::Admin), Some(Grant { scope: Role::Admin, repo: Some(REPO) })),
            ("owner, token for another repo", Some(Role::Admin), Some(Grant { scope: Role::Admin, repo: Some(OTHER) })),
            ("writer, read-scope token", Some(Role::Write), grant(Role::Read)),
            ("owner, write-scope token", Some(Role::Admin), grant(Role::Write)),
            ("reader, admin-scope token for this repo", Some(Role::Read), Some(Grant { scope: Role::Admin, repo: Some(REPO) })),
        ]
    }

    /// Expected decisions for Read, Write, Admin on a public and on a private repository.
    fn expected(label: &str) -> ([Decision; 3], [Decision; 3]) {
        match label {
            "anonymous" => ([A, U, U], [N, N, N]),
            "other user" => ([A, F, F], [N, N, N]),
            "reader" => ([A, F, F], [A, F, F]),
            "writer" => ([A, A, F], [A, A, F]),
            "admin collaborator" | "owner" | "owner, token for this repo" => ([A, A, A], [A, A, A]),
            "owner, token for another repo" => ([A, F, F], [N, N, N]),
            "writer, read-scope token" => ([A, F, F], [A, F, F]),
            "owner, write-scope token" => ([A, A, F], [A, A, F]),
            "reader, admin-scope token for this repo" => ([A, F, F], [A, F, F]),
            _ => unreachable!("no expectation for {label}"),
        }
    }

    #[test]
    fn matrix() {
        let mut cells = 0;
        for (label, role, token) in actors() {
            let (public, private) = expected(label);
            for (is_private, row) in [(false, public), (true, private)] {
                let standing = Standing { repo: REPO, private: is_private, role, token };
                for (action, want) in [Action::Read, Action::Write, Action::Admin].into_iter().zip(row) {
                    assert_eq!(decide(&standing, action), want, "{label}, private: {is_private}, {action:?}");
                    cells += 1;
                }
            }
        }
        assert_eq!(cells, 66);
    }

    #[test]
    fn private_without_access_is_not_found_for_every_action() {
        for token in [None, grant(Role::Admin), Some(Grant { scope: Role::Admin, repo: Some(OTHER) })] {
            let standing = Standing { repo: REPO, private: true, role: None, token };
            for action in [Action::Read, Action::Write, Action::Admin] {
                assert_eq!(decide(&standing, action), N);
            }
        }
    }

    #[test]
    fn account_matrix() {
        let me = UserId(1);
        let unlimited = |scope| Some((me, Grant { scope, repo: None }));
        let cases = [
            ("anonymous", None, [U, U]),
            ("read token", unlimited(Role::Read), [F, F]),
            ("write token", unlimited(Role::Write), [A, F]),
            ("admin token", unlimited(Role::Admin), [A, A]),
            ("admin token limited to a repo", Some((me, Grant { scope: Role::Admin, repo: Some(REPO) })), [F, F]),
            ("another user's admin token", Some((UserId(2), Grant { scope: Role::Admin, repo: None })), [F, F]),
        ];
        for (label, actor, want) in cases {
            for (action, want) in [AccountAction::CreateRepo, AccountAction::ManageTokens].into_iter().zip(want) {
                assert_eq!(decide_account(actor, me, action), want, "{label} × {action:?}");
            }
        }
    }

    #[test]
    fn effective_is_the_least_of_role_and_scope_with_the_public_floor() {
        for role in [None, Some(Role::Read), Some(Role::Write), Some(Role::Admin)] {
            for scope in [Role::Read, Role::Write, Role::Admin] {
                for private in [false, true] {
                    let standing = Standing { repo: REPO, private, role, token: grant(scope) };
                    let capped = role.map(|r| r.min(scope));
                    let want = if private { capped } else { capped.max(Some(Role::Read)) };
                    assert_eq!(effective(&standing), want);
                }
            }
        }
    }
}
