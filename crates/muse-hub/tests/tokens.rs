//! Tokens: shown once, stored only as a hash, scoped, limited, expiring, revocable.

mod common;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use common::{on_both_backends, token};
use muse_hub::{Action, Actor, NewToken, Role, TOKEN_PREFIX};
use sha2::{Digest, Sha256};

on_both_backends! {
    async fn the_secret_is_shown_once_and_stored_as_its_hash(db: &TestDb) {
        let hub = db.hub().await;
        let ada = hub.create_user("ada", None, None).await.unwrap();
        let (info, secret) = hub.create_token("ada", token(Role::Write)).await.unwrap();
        assert!(secret.starts_with(TOKEN_PREFIX) && secret.len() == 48, "{secret}");
        assert_eq!((info.user, info.scope, info.label.as_str(), info.repo), (ada.id, Role::Write, "write token", None));
        let stored = common::raw_strings(db, "SELECT token_hash FROM tokens").await;
        assert_eq!(stored, [hex::encode(Sha256::digest(secret.as_bytes()))]);
        // No column of the table holds the secret or any part of it.
        let everything = common::raw_strings(
            db,
            "SELECT COALESCE(CAST(id AS TEXT), '') || '|' || token_hash || '|' || label || '|' || scope || '|' || COALESCE(CAST(repo_id AS TEXT), '') FROM tokens",
        )
        .await;
        assert!(!everything[0].contains(&secret[TOKEN_PREFIX.len()..TOKEN_PREFIX.len() + 16]));
        assert_eq!(hub.tokens("ada").await.unwrap(), std::slice::from_ref(&info));
        let Actor::User { user, token: presented } = hub.authenticate(Some(&secret)).await.unwrap() else { panic!("anonymous") };
        assert_eq!(user, ada);
        assert_eq!(presented.id, info.id);
        assert_eq!(hub.authenticate(None).await.unwrap(), Actor::Anonymous);
    }

    async fn bad_tokens_are_refused_even_on_public_repositories(db: &TestDb) {
        let hub = db.hub().await;
        hub.create_user("ada", None, None).await.unwrap();
        hub.create_repo("ada", "open", false).await.unwrap();
        let (_, secret) = hub.create_token("ada", token(Role::Read)).await.unwrap();
        let mut unknown = secret.clone();
        unknown.replace_range(10..11, if &secret[10..11] == "A" { "B" } else { "A" });
        for bad in ["", "muse_", "Bearer x", &secret[..47], &format!("{secret}x"), &unknown, &secret.replace("muse_", "mus3_")] {
            let error = hub.authenticate(Some(bad)).await.unwrap_err();
            assert_eq!((error.code(), error.http_status()), ("bad_token", 401), "{bad:?}");
        }
    }

    async fn revoked_tokens_stop_working(db: &TestDb) {
        let hub = db.hub().await;
        hub.create_user("ada", None, None).await.unwrap();
        hub.create_user("bob", None, None).await.unwrap();
        let (info, secret) = hub.create_token("ada", token(Role::Admin)).await.unwrap();
        let (kept, kept_secret) = hub.create_token("ada", token(Role::Read)).await.unwrap();
        assert_eq!(hub.revoke_token("bob", info.id).await.unwrap_err().code(), "not_found");
        hub.authenticate(Some(&secret)).await.unwrap();
        hub.revoke_token("ada", info.id).await.unwrap();
        let error = hub.authenticate(Some(&secret)).await.unwrap_err();
        assert_eq!((error.code(), error.http_status()), ("token_revoked", 401));
        // Revoking twice keeps the first time; the other token still works.
        let revoked_at = hub.tokens("ada").await.unwrap()[0].revoked_at;
        assert!(revoked_at.is_some());
        hub.revoke_token("ada", info.id).await.unwrap();
        assert_eq!(hub.tokens("ada").await.unwrap()[0].revoked_at, revoked_at);
        assert_eq!(hub.tokens("ada").await.unwrap()[1].id, kept.id);
        hub.authenticate(Some(&kept_secret)).await.unwrap();
        assert_eq!(hub.revoke_token("ada", 9999).await.unwrap_err().code(), "not_found");
        assert!(hub.tokens("bob").await.unwrap().is_empty());
        assert_eq!(hub.tokens("nobody").await.unwrap_err().code(), "not_found");
    }

    async fn tokens_expire_and_record_their_last_use(db: &TestDb) {
        let now = Arc::new(AtomicI64::new(1_000_000));
        let clock = now.clone();
        let hub = db.hub().await.with_clock(move || clock.load(Ordering::SeqCst));
        hub.create_user("ada", None, None).await.unwrap();
        let error = hub.create_token("ada", NewToken { expires_at: Some(1_000_000), ..token(Role::Read) }).await.unwrap_err();
        assert_eq!(error.code(), "bad_request");
        let (info, secret) = hub.create_token("ada", NewToken { expires_at: Some(1_000_100), ..token(Role::Read) }).await.unwrap();
        assert_eq!(info.expires_at, Some(1_000_100));
        assert_eq!(info.last_used_at, None);
        hub.authenticate(Some(&secret)).await.unwrap();
        assert_eq!(hub.tokens("ada").await.unwrap()[0].last_used_at, Some(1_000_000));
        // Within a minute the time is not written again; after it, it is.
        now.store(1_000_030, Ordering::SeqCst);
        hub.authenticate(Some(&secret)).await.unwrap();
        assert_eq!(hub.tokens("ada").await.unwrap()[0].last_used_at, Some(1_000_000));
        now.store(1_000_099, Ordering::SeqCst);
        hub.authenticate(Some(&secret)).await.unwrap();
        assert_eq!(hub.tokens("ada").await.unwrap()[0].last_used_at, Some(1_000_099));
        now.store(1_000_100, Ordering::SeqCst);
        let error = hub.authenticate(Some(&secret)).await.unwrap_err();
        assert_eq!((error.code(), error.http_status()), ("token_expired", 401));
    }

    async fn tokens_limited_to_one_repository(db: &TestDb) {
        let hub = db.hub().await;
        hub.create_user("ada", None, None).await.unwrap();
        hub.create_user("bob", None, None).await.unwrap();
        let engine = hub.create_repo("ada", "engine", true).await.unwrap();
        hub.create_repo("ada", "other", true).await.unwrap();
        hub.create_repo("bob", "private", true).await.unwrap();
        let limited = |owner: &str, name: &str| NewToken { repo: Some((owner.into(), name.into())), ..token(Role::Write) };
        let (info, secret) = hub.create_token("ada", limited("ada", "ENGINE")).await.unwrap();
        assert_eq!((info.repo, info.repo_name.as_deref()), (Some(engine.id), Some("ada/engine")));
        assert_eq!(hub.tokens("ada").await.unwrap()[0].repo_name.as_deref(), Some("ada/engine"));
        let actor = hub.authenticate(Some(&secret)).await.unwrap();
        assert_eq!(hub.authorize(&actor, "ada", "engine", Action::Write).await.unwrap().id, engine.id);
        assert_eq!(hub.authorize(&actor, "ada", "engine", Action::Admin).await.unwrap_err().code(), "forbidden");
        assert_eq!(hub.authorize(&actor, "ada", "other", Action::Read).await.unwrap_err().code(), "not_found");
        // A token cannot be limited to a repository its user cannot read, nor probe for one.
        let hidden = hub.create_token("ada", limited("bob", "private")).await.unwrap_err();
        let missing = hub.create_token("ada", limited("bob", "missing")).await.unwrap_err();
        assert_eq!(hidden.code(), "not_found");
        assert_eq!(hidden.to_string().replace("private", "missing"), missing.to_string());
        // Deleting the repository deletes the tokens limited to it.
        hub.delete_repo(engine.id).await.unwrap();
        assert_eq!(hub.authenticate(Some(&secret)).await.unwrap_err().code(), "bad_token");
        assert!(hub.tokens("ada").await.unwrap().is_empty());
        assert_eq!(hub.create_token("nobody", token(Role::Read)).await.unwrap_err().code(), "not_found");
        let long = NewToken { label: "x".repeat(101), ..token(Role::Read) };
        assert_eq!(hub.create_token("ada", long).await.unwrap_err().code(), "bad_request");
    }
}
