//! The authorization matrix through the database: every kind of actor × Read/Write/Admin ×
//! public/private repository, and a private repository answers exactly like a missing one.

mod common;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use common::{on_both_backends, token};
use muse_hub::{AccountAction, Action, Actor, Hub, HubError, NewToken, Role};

/// An actor of the matrix: how it authenticates.
enum Who {
    Anonymous,
    Token(String),
}

async fn present(hub: &Hub, who: &Who) -> Result<Actor, HubError> {
    match who {
        Who::Anonymous => hub.authenticate(None).await,
        Who::Token(secret) => hub.authenticate(Some(secret)).await,
    }
}

/// The expected answer: `Ok` or an error code.
fn outcome(result: &Result<muse_hub::Repo, HubError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(error) => error.code(),
    }
}

on_both_backends! {
    async fn matrix(db: &TestDb) {
        let now = Arc::new(AtomicI64::new(1_000));
        let clock = now.clone();
        let hub = db.hub().await.with_clock(move || clock.load(Ordering::SeqCst));
        for name in ["owner", "reader", "writer", "adam", "other"] {
            hub.create_user(name, None, None).await.unwrap();
        }
        for (name, private) in [("public", false), ("private", true), ("elsewhere", true)] {
            let repo = hub.create_repo("owner", name, private).await.unwrap();
            if name != "elsewhere" {
                for (user, role) in [("reader", Role::Read), ("writer", Role::Write), ("adam", Role::Admin)] {
                    hub.set_collaborator(repo.id, user, Some(role)).await.unwrap();
                }
            }
        }
        let secret = |user: &str, new: NewToken| {
            let hub = hub.clone();
            let user = user.to_string();
            async move { Who::Token(hub.create_token(&user, new).await.unwrap().1) }
        };
        let revoked = {
            let (info, secret) = hub.create_token("owner", token(Role::Admin)).await.unwrap();
            hub.revoke_token("owner", info.id).await.unwrap();
            Who::Token(secret)
        };
        let expired = secret("owner", NewToken { expires_at: Some(1_500), ..token(Role::Admin) }).await;
        let actors: Vec<(&str, Who)> = vec![
            ("anonymous", Who::Anonymous),
            ("reader", secret("reader", token(Role::Admin)).await),
            ("writer", secret("writer", token(Role::Admin)).await),
            ("admin", secret("adam", token(Role::Admin)).await),
            ("owner", secret("owner", token(Role::Admin)).await),
            ("other user", secret("other", token(Role::Admin)).await),
            ("revoked", revoked),
            ("expired", expired),
            ("owner, token for another repo", secret("owner", NewToken { repo: Some(("owner".into(), "elsewhere".into())), ..token(Role::Admin) }).await),
            ("writer, read-scope token", secret("writer", token(Role::Read)).await),
        ];
        now.store(2_000, Ordering::SeqCst);
        // Expected answers for Read, Write, Admin on the public and on the private repository.
        let expected = |label: &str| -> ([&str; 3], [&str; 3]) {
            match label {
                "anonymous" => (["ok", "unauthorized", "unauthorized"], ["not_found"; 3]),
                "reader" => (["ok", "forbidden", "forbidden"], ["ok", "forbidden", "forbidden"]),
                "writer" => (["ok", "ok", "forbidden"], ["ok", "ok", "forbidden"]),
                "admin" | "owner" => (["ok"; 3], ["ok"; 3]),
                "other user" | "owner, token for another repo" => (["ok", "forbidden", "forbidden"], ["not_found"; 3]),
                "revoked" => (["token_revoked"; 3], ["token_revoked"; 3]),
                "expired" => (["token_expired"; 3], ["token_expired"; 3]),
                "writer, read-scope token" => (["ok", "forbidden", "forbidden"], ["ok", "forbidden", "forbidden"]),
                _ => unreachable!("{label}"),
            }
        };
        let mut cells = 0;
        for (label, who) in &actors {
            let (public, private) = expected(label);
            for (repo, row) in [("public", public), ("private", private)] {
                for (action, want) in [Action::Read, Action::Write, Action::Admin].into_iter().zip(row) {
                    let result = match present(&hub, who).await {
                        Ok(actor) => hub.authorize(&actor, "owner", repo, action).await,
                        Err(error) => Err(error),
                    };
                    assert_eq!(outcome(&result), want, "{label} × {repo} × {action:?}");
                    if let Err(error) = &result {
                        let status = match want {
                            "not_found" => 404,
                            "forbidden" => 403,
                            _ => 401,
                        };
                        assert_eq!(error.http_status(), status);
                    }
                    cells += 1;
                }
            }
        }
        assert_eq!(cells, 60);
    }

    async fn a_private_repository_answers_like_a_missing_one(db: &TestDb) {
        let hub = db.hub().await;
        hub.create_user("ada", None, None).await.unwrap();
        hub.create_user("eve", None, None).await.unwrap();
        hub.create_repo("ada", "secret", true).await.unwrap();
        let eve = common::actor(&hub, "eve", token(Role::Admin)).await;
        for actor in [Actor::Anonymous, eve] {
            for action in [Action::Read, Action::Write, Action::Admin] {
                let private = hub.authorize(&actor, "ada", "secret", action).await.unwrap_err();
                let missing = hub.authorize(&actor, "ada", "absent", action).await.unwrap_err();
                let no_owner = hub.authorize(&actor, "nobody", "secret", action).await.unwrap_err();
                for error in [&private, &missing, &no_owner] {
                    assert_eq!((error.code(), error.http_status()), ("not_found", 404));
                }
                assert_eq!(private.to_string().replace("secret", "absent"), missing.to_string());
                assert_eq!(private.to_string().replace("ada", "nobody"), no_owner.to_string());
            }
        }
    }

    async fn roles_change_take_effect_at_once(db: &TestDb) {
        let hub = db.hub().await;
        hub.create_user("ada", None, None).await.unwrap();
        hub.create_user("bob", None, None).await.unwrap();
        let repo = hub.create_repo("ada", "engine", true).await.unwrap();
        let bob = common::actor(&hub, "bob", token(Role::Admin)).await;
        assert_eq!(hub.authorize(&bob, "ada", "engine", Action::Read).await.unwrap_err().code(), "not_found");
        hub.set_collaborator(repo.id, "bob", Some(Role::Write)).await.unwrap();
        assert_eq!(hub.authorize(&bob, "ada", "engine", Action::Write).await.unwrap(), repo);
        hub.set_collaborator(repo.id, "bob", None).await.unwrap();
        assert_eq!(hub.authorize(&bob, "ada", "engine", Action::Write).await.unwrap_err().code(), "not_found");
    }
}

on_both_backends! {
    async fn account_actions(db: &TestDb) {
        let hub = db.hub().await;
        hub.create_user("ada", None, None).await.unwrap();
        hub.create_user("bob", None, None).await.unwrap();
        hub.create_repo("ada", "engine", false).await.unwrap();
        let limited = NewToken { repo: Some(("ada".into(), "engine".into())), ..token(Role::Admin) };
        let cases: Vec<(&str, Actor, [&str; 2])> = vec![
            ("anonymous", Actor::Anonymous, ["unauthorized", "unauthorized"]),
            ("read token", common::actor(&hub, "ada", token(Role::Read)).await, ["forbidden", "forbidden"]),
            ("write token", common::actor(&hub, "ada", token(Role::Write)).await, ["ok", "forbidden"]),
            ("admin token", common::actor(&hub, "ada", token(Role::Admin)).await, ["ok", "ok"]),
            ("limited admin token", common::actor(&hub, "ada", limited).await, ["forbidden", "forbidden"]),
            ("another user", common::actor(&hub, "bob", token(Role::Admin)).await, ["forbidden", "forbidden"]),
        ];
        for (label, actor, want) in cases {
            for (action, want) in [AccountAction::CreateRepo, AccountAction::ManageTokens].into_iter().zip(want) {
                let got = match hub.authorize_account(&actor, "ADA", action).await {
                    Ok(user) => {
                        assert_eq!(user.name, "ada");
                        "ok"
                    }
                    Err(error) => error.code(),
                };
                assert_eq!(got, want, "{label} × {action:?}");
            }
        }
        let anyone = common::actor(&hub, "bob", token(Role::Admin)).await;
        assert_eq!(hub.authorize_account(&anyone, "nobody", AccountAction::CreateRepo).await.unwrap_err().code(), "not_found");
    }

    async fn visibility_changes_take_effect_at_once(db: &TestDb) {
        let hub = db.hub().await;
        hub.create_user("ada", None, None).await.unwrap();
        let repo = hub.create_repo("ada", "engine", false).await.unwrap();
        hub.authorize(&Actor::Anonymous, "ada", "engine", Action::Read).await.unwrap();
        hub.set_repo_private(repo.id, true).await.unwrap();
        assert_eq!(hub.authorize(&Actor::Anonymous, "ada", "engine", Action::Read).await.unwrap_err().code(), "not_found");
        hub.set_repo_private(repo.id, false).await.unwrap();
        assert!(!hub.authorize(&Actor::Anonymous, "ada", "engine", Action::Read).await.unwrap().private);
        assert_eq!(hub.set_repo_private(muse_hub::RepoId(9999), true).await.unwrap_err().code(), "not_found");
    }
}
