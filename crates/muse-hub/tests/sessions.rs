//! Sign-in sessions: stored as a hash, found by their secret, read-only, expiring, ended.

mod common;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use common::on_both_backends;
use muse_hub::{Action, Role, SESSION_PREFIX};
use sha2::{Digest, Sha256};

on_both_backends! {
    async fn sessions_are_found_by_their_secret_and_act_read_only(db: &TestDb) {
        let hub = db.hub().await;
        let ada = hub.create_user("ada", None, Some("pw")).await.unwrap();
        hub.create_repo("ada", "secret", true).await.unwrap();
        let (session, secret) = hub.create_session(&ada, 3600).await.unwrap();
        assert!(secret.starts_with(SESSION_PREFIX) && secret.len() == SESSION_PREFIX.len() + 43, "{secret}");
        assert_eq!(session.csrf_token.len(), 43);
        assert_eq!(common::raw_strings(db, "SELECT session_hash FROM sessions").await, [hex::encode(Sha256::digest(secret.as_bytes()))]);
        let found = hub.session(&secret).await.unwrap().expect("the session");
        assert_eq!(found, session);
        let actor = found.actor();
        let Some(user) = actor.user() else { panic!("anonymous") };
        assert_eq!(user, &ada);
        hub.authorize(&actor, "ada", "secret", Action::Read).await.unwrap();
        assert_eq!(hub.authorize(&actor, "ada", "secret", Action::Write).await.unwrap_err().code(), "forbidden");
        let muse_hub::Actor::User { token, .. } = actor else { panic!("anonymous") };
        assert_eq!(token.scope, Role::Read);
        // A second session is another secret with another CSRF token.
        let (other, other_secret) = hub.create_session(&ada, 3600).await.unwrap();
        assert_ne!((other.csrf_token.as_str(), other_secret.as_str()), (session.csrf_token.as_str(), secret.as_str()));
        for bad in ["", "muses_", "muse_x", &secret[..secret.len() - 1], &format!("{}A", &secret[..secret.len() - 1])] {
            if bad != secret {
                assert_eq!(hub.session(bad).await.unwrap(), None, "{bad:?}");
            }
        }
        hub.end_session(&secret).await.unwrap();
        assert_eq!(hub.session(&secret).await.unwrap(), None);
        assert!(hub.session(&other_secret).await.unwrap().is_some());
        hub.end_session(&secret).await.unwrap();
        assert_eq!(hub.create_session(&ada, 0).await.unwrap_err().code(), "bad_request");
    }

    async fn sessions_expire_and_expired_ones_are_removed(db: &TestDb) {
        let now = Arc::new(AtomicI64::new(1_000_000));
        let clock = now.clone();
        let hub = db.hub().await.with_clock(move || clock.load(Ordering::SeqCst));
        let ada = hub.create_user("ada", None, None).await.unwrap();
        let (session, secret) = hub.create_session(&ada, 60).await.unwrap();
        assert_eq!(session.expires_at, 1_000_060);
        now.store(1_000_059, Ordering::SeqCst);
        assert!(hub.session(&secret).await.unwrap().is_some());
        now.store(1_000_060, Ordering::SeqCst);
        assert_eq!(hub.session(&secret).await.unwrap(), None);
        hub.create_session(&ada, 60).await.unwrap();
        assert_eq!(common::raw_strings(db, "SELECT CAST(expires_at AS TEXT) FROM sessions").await, ["1000120"]);
    }
}
