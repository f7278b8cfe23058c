//! Users, passwords, repositories, collaborators and listings, on both backends.

mod common;

use common::{actor, on_both_backends, token};
use muse_hub::{Actor, Backend, Hub, NewToken, Role};

fn names(repos: &[muse_hub::Repo]) -> Vec<String> {
    repos.iter().map(|r| r.full_name()).collect()
}

on_both_backends! {
    async fn users_are_unique_case_insensitively(db: &TestDb) {
        let hub = db.hub().await;
        assert_eq!(hub.backend(), db.backend());
        let ada = hub.create_user("Ada", Some("ada@example.org"), None).await.unwrap();
        assert_eq!((ada.name.as_str(), ada.email.as_deref()), ("Ada", Some("ada@example.org")));
        let error = hub.create_user("ada", None, None).await.unwrap_err();
        assert_eq!((error.code(), error.http_status()), ("conflict", 409));
        assert_eq!(hub.user_by_name("ADA").await.unwrap(), Some(ada.clone()));
        assert_eq!(hub.user_by_name("bob").await.unwrap(), None);
        for bad in ["", "-x", "a/b", "a b", "ümlaut"] {
            assert_eq!(hub.create_user(bad, None, None).await.unwrap_err().code(), "invalid_name", "{bad:?}");
        }
        for reserved in ["login", "Settings", "API", "mcp", "new"] {
            let error = hub.create_user(reserved, None, Some("pw")).await.unwrap_err();
            assert_eq!((error.code(), error.http_status()), ("reserved_name", 400), "{reserved}");
            assert_eq!(hub.user_by_name(reserved).await.unwrap(), None, "nothing was created");
        }
        assert_eq!(hub.create_user("bob", Some("not an address"), None).await.unwrap_err().code(), "bad_request");
        assert_eq!(hub.create_user("bob", None, Some("")).await.unwrap_err().code(), "bad_request");
    }

    async fn concurrent_sign_ups_of_one_name_have_one_winner(db: &TestDb) {
        let hub = db.hub().await;
        let spellings = ["ada", "Ada", "ADA", "aDa", "adA", "AdA", "aDA", "ADa"];
        let tasks: Vec<_> = spellings
            .into_iter()
            .map(|name| {
                let hub = hub.clone();
                tokio::spawn(async move { hub.create_user(name, None, None).await })
            })
            .collect();
        let mut won = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => won += 1,
                Err(error) => assert_eq!(error.code(), "conflict"),
            }
        }
        assert_eq!(won, 1);
    }

    async fn passwords(db: &TestDb) {
        let hub = db.hub().await;
        let ada = hub.create_user("ada", None, Some("correct horse")).await.unwrap();
        hub.create_user("bob", None, None).await.unwrap();
        assert_eq!(hub.verify_password("ADA", "correct horse").await.unwrap(), ada);
        let wrong = hub.verify_password("ada", "battery staple").await.unwrap_err();
        let no_user = hub.verify_password("carol", "correct horse").await.unwrap_err();
        let no_password = hub.verify_password("bob", "").await.unwrap_err();
        for error in [&wrong, &no_user, &no_password] {
            assert_eq!((error.code(), error.http_status()), ("unauthorized", 401));
            assert_eq!(error.to_string(), wrong.to_string(), "the same answer whatever the reason");
        }
        let stored = common::raw_strings(db, "SELECT password_hash FROM users WHERE password_hash IS NOT NULL").await;
        assert_eq!(stored.len(), 1);
        assert!(stored[0].starts_with("$argon2id$"), "{}", stored[0]);
        assert!(!stored[0].contains("correct horse"));
    }

    async fn repositories(db: &TestDb) {
        let hub = db.hub().await;
        hub.create_user("ada", None, None).await.unwrap();
        hub.create_user("bob", None, None).await.unwrap();
        let engine = hub.create_repo("ADA", "Engine", true).await.unwrap();
        assert_eq!((engine.owner.as_str(), engine.name.as_str(), engine.private), ("ada", "Engine", true));
        assert_eq!(hub.create_repo("ada", "engine", false).await.unwrap_err().code(), "conflict");
        hub.create_repo("bob", "engine", false).await.unwrap();
        assert_eq!(hub.create_repo("carol", "engine", false).await.unwrap_err().code(), "not_found");
        for bad in ["x.git", "x.muse", "a/b", ".hidden", ""] {
            assert_eq!(hub.create_repo("ada", bad, false).await.unwrap_err().code(), "invalid_name", "{bad:?}");
        }
        let owner = actor(&hub, "ada", token(Role::Admin)).await;
        assert_eq!(hub.authorize(&owner, "ada", "ENGINE", muse_hub::Action::Admin).await.unwrap(), engine);
        hub.delete_repo(engine.id).await.unwrap();
        assert_eq!(hub.delete_repo(engine.id).await.unwrap_err().code(), "not_found");
        assert_eq!(hub.authorize(&owner, "ada", "engine", muse_hub::Action::Read).await.unwrap_err().code(), "not_found");
    }

    async fn collaborators(db: &TestDb) {
        let hub = db.hub().await;
        for name in ["ada", "bob", "carol"] {
            hub.create_user(name, None, None).await.unwrap();
        }
        let repo = hub.create_repo("ada", "engine", true).await.unwrap().id;
        hub.set_collaborator(repo, "carol", Some(Role::Write)).await.unwrap();
        hub.set_collaborator(repo, "BOB", Some(Role::Read)).await.unwrap();
        let listed = |list: Vec<(muse_hub::User, Role)>| list.into_iter().map(|(u, r)| (u.name, r)).collect::<Vec<_>>();
        assert_eq!(listed(hub.collaborators(repo).await.unwrap()), [("bob".to_string(), Role::Read), ("carol".to_string(), Role::Write)]);
        hub.set_collaborator(repo, "bob", Some(Role::Admin)).await.unwrap();
        hub.set_collaborator(repo, "carol", None).await.unwrap();
        hub.set_collaborator(repo, "carol", None).await.unwrap();
        assert_eq!(listed(hub.collaborators(repo).await.unwrap()), [("bob".to_string(), Role::Admin)]);
        assert_eq!(hub.set_collaborator(repo, "ada", Some(Role::Read)).await.unwrap_err().code(), "bad_request");
        assert_eq!(hub.set_collaborator(repo, "dave", Some(Role::Read)).await.unwrap_err().code(), "not_found");
        assert_eq!(hub.set_collaborator(muse_hub::RepoId(9999), "bob", Some(Role::Read)).await.unwrap_err().code(), "not_found");
        // Deleting the repository removes its collaborators with it.
        hub.delete_repo(repo).await.unwrap();
        assert!(hub.collaborators(repo).await.unwrap().is_empty());
    }

    async fn listings_follow_the_policy(db: &TestDb) {
        let hub = db.hub().await;
        for name in ["ada", "bob", "carol"] {
            hub.create_user(name, None, None).await.unwrap();
        }
        let secret = hub.create_repo("ada", "secret", true).await.unwrap();
        hub.create_repo("ada", "open", false).await.unwrap();
        hub.create_repo("bob", "tools", false).await.unwrap();
        let hidden = hub.create_repo("bob", "hidden", true).await.unwrap();
        hub.set_collaborator(hidden.id, "carol", Some(Role::Read)).await.unwrap();

        let all = |hub: Hub, actor: Actor| async move { names(&hub.repos_visible_to(&actor, None).await.unwrap()) };
        assert_eq!(all(hub.clone(), Actor::Anonymous).await, ["ada/open", "bob/tools"]);
        assert_eq!(all(hub.clone(), actor(&hub, "ada", token(Role::Read)).await).await, ["ada/open", "ada/secret", "bob/tools"]);
        assert_eq!(all(hub.clone(), actor(&hub, "carol", token(Role::Read)).await).await, ["ada/open", "bob/hidden", "bob/tools"]);
        // A token limited to one repository sees the public ones and that one.
        let limited = NewToken { repo: Some(("ada".into(), "secret".into())), ..token(Role::Read) };
        let limited_actor = actor(&hub, "ada", limited).await;
        assert_eq!(all(hub.clone(), limited_actor.clone()).await, ["ada/open", "ada/secret", "bob/tools"]);
        let other_limit = NewToken { repo: Some(("ada".into(), "open".into())), ..token(Role::Admin) };
        assert_eq!(all(hub.clone(), actor(&hub, "ada", other_limit).await).await, ["ada/open", "bob/tools"]);
        assert_eq!(names(&hub.repos_visible_to(&Actor::Anonymous, Some("ADA")).await.unwrap()), ["ada/open"]);
        assert_eq!(names(&hub.repos_visible_to(&limited_actor, Some("ada")).await.unwrap()), ["ada/open", "ada/secret"]);
        assert_eq!(hub.repos_visible_to(&Actor::Anonymous, Some("nobody")).await.unwrap_err().code(), "not_found");
        assert!(secret.private);
    }

    async fn reopening_keeps_data_and_migrations_are_idempotent(db: &TestDb) {
        let hub = db.hub().await;
        hub.create_user("ada", None, None).await.unwrap();
        hub.close().await;
        assert_eq!(hub.user_by_name("ada").await.unwrap_err().code(), "database");
        let again = Hub::open(db.url()).await.unwrap();
        assert!(again.user_by_name("ada").await.unwrap().is_some());
        if db.backend() == Backend::Sqlite {
            let modes = common::raw_strings(db, "SELECT journal_mode FROM pragma_journal_mode").await;
            assert_eq!(modes, ["wal"]);
        }
    }
}

#[tokio::test]
async fn unsupported_database_urls_are_refused() {
    for url in ["mysql://u:secret@h/db", "hub.db", ""] {
        let error = Hub::open(url).await.unwrap_err();
        assert_eq!(error.code(), "bad_request", "{url}");
        assert!(!error.to_string().contains("secret"), "{error}");
    }
}

#[tokio::test]
async fn a_sqlite_database_is_created_on_first_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.db");
    let hub = Hub::open(&format!("sqlite://{}?mode=rwc", path.display())).await.unwrap();
    assert_eq!(hub.backend(), Backend::Sqlite);
    assert!(path.exists());
}
