//! Refs of hosted repositories: compare-and-swap, all or none, and no lost update under
//! concurrency, on both backends.

mod common;

use std::collections::HashSet;

use common::{commit, on_both_backends};
use muse_hub::{Hub, HubError, RefChange, RepoId};

const MAIN: &str = "refs/heads/main";

async fn hub_with_repo(db: &muse_hub::testing::TestDb) -> (Hub, RepoId) {
    let hub = db.hub().await;
    hub.create_user("ada", None, None).await.unwrap();
    let repo = hub.create_repo("ada", "engine", false).await.unwrap();
    (hub, repo.id)
}

fn change(name: &str, old: Option<u8>, new: Option<u8>) -> RefChange {
    RefChange { name: name.to_string(), old: old.map(commit), new: new.map(commit) }
}

on_both_backends! {
    async fn create_move_force_delete(db: &TestDb) {
        let (hub, repo) = hub_with_repo(db).await;
        assert!(hub.refs(repo).await.unwrap().is_empty());
        hub.update_refs(repo, &[change(MAIN, None, Some(1)), change("refs/tags/v1", None, Some(1))]).await.unwrap();
        hub.update_refs(repo, &[change(MAIN, Some(1), Some(2))]).await.unwrap();
        // A "force" move back to an older commit, and a branch created at an existing commit.
        hub.update_refs(repo, &[change(MAIN, Some(2), Some(1)), change("refs/heads/dev", None, Some(2))]).await.unwrap();
        assert_eq!(
            hub.refs(repo).await.unwrap(),
            [("refs/heads/dev".to_string(), commit(2)), (MAIN.to_string(), commit(1)), ("refs/tags/v1".to_string(), commit(1))]
        );
        hub.update_refs(repo, &[change("refs/heads/dev", Some(2), None)]).await.unwrap();
        assert_eq!(hub.refs(repo).await.unwrap().len(), 2);
        // Moving to the value it already has is fine; nothing at all is fine.
        hub.update_refs(repo, &[change(MAIN, Some(1), Some(1))]).await.unwrap();
        hub.update_refs(repo, &[]).await.unwrap();
    }

    async fn stale_and_existing_refs_are_refused_with_both_values(db: &TestDb) {
        let (hub, repo) = hub_with_repo(db).await;
        hub.update_refs(repo, &[change(MAIN, None, Some(1))]).await.unwrap();
        let error = hub.update_refs(repo, &[change(MAIN, None, Some(2))]).await.unwrap_err();
        assert!(matches!(&error, HubError::StaleRef { name, expected: None, actual } if name == MAIN && *actual == Some(commit(1))), "{error:?}");
        assert_eq!((error.code(), error.http_status()), ("stale_ref", 409));
        let error = hub.update_refs(repo, &[change(MAIN, Some(3), Some(2))]).await.unwrap_err();
        assert!(
            matches!(&error, HubError::StaleRef { name, expected, actual } if name == MAIN && *expected == Some(commit(3)) && *actual == Some(commit(1))),
            "{error:?}"
        );
        assert_eq!(error.code(), "stale_ref");
        let error = hub.update_refs(repo, &[change(MAIN, Some(3), None)]).await.unwrap_err();
        assert_eq!(error.code(), "stale_ref");
        let error = hub.update_refs(repo, &[change("refs/heads/gone", Some(3), Some(4))]).await.unwrap_err();
        assert!(matches!(&error, HubError::StaleRef { actual: None, .. }), "{error:?}");
        assert_eq!(hub.refs(repo).await.unwrap(), [(MAIN.to_string(), commit(1))]);
    }

    async fn all_or_none(db: &TestDb) {
        let (hub, repo) = hub_with_repo(db).await;
        hub.update_refs(repo, &[change(MAIN, None, Some(1)), change("refs/heads/zed", None, Some(1))]).await.unwrap();
        // The first two would apply, the last is stale: nothing changes.
        let error = hub
            .update_refs(repo, &[change("refs/heads/a", None, Some(2)), change(MAIN, Some(1), Some(2)), change("refs/heads/zed", Some(9), None)])
            .await
            .unwrap_err();
        assert_eq!(error.code(), "stale_ref");
        assert_eq!(hub.refs(repo).await.unwrap(), [(MAIN.to_string(), commit(1)), ("refs/heads/zed".to_string(), commit(1))]);
        // The same with a bad name last: checked before anything is written.
        let error = hub.update_refs(repo, &[change(MAIN, Some(1), Some(2)), change("refs/heads/bad..name", None, Some(2))]).await.unwrap_err();
        assert_eq!(error.code(), "invalid_ref");
        assert_eq!(hub.refs(repo).await.unwrap()[0].1, commit(1));
    }

    async fn names_and_repositories_are_checked(db: &TestDb) {
        let (hub, repo) = hub_with_repo(db).await;
        for bad in ["main", "refs/heads/", "refs/heads/a b", "refs/heads/x.lock", "refs/remotes/origin/main", "HEAD", "refs/heads/-x"] {
            let error = hub.update_refs(repo, &[change(bad, None, Some(1))]).await.unwrap_err();
            assert_eq!(error.code(), "invalid_ref", "{bad}");
        }
        let error = hub.update_refs(repo, &[change(MAIN, None, Some(1)), change(MAIN, Some(1), Some(2))]).await.unwrap_err();
        assert_eq!(error.code(), "bad_request");
        let error = hub.update_refs(repo, &[change(MAIN, None, None)]).await.unwrap_err();
        assert_eq!(error.code(), "bad_request");
        assert_eq!(hub.update_refs(RepoId(9999), &[change(MAIN, None, Some(1))]).await.unwrap_err().code(), "not_found");
        assert_eq!(hub.refs(RepoId(9999)).await.unwrap_err().code(), "not_found");
        assert!(hub.refs(repo).await.unwrap().is_empty());
    }

    async fn refs_are_per_repository(db: &TestDb) {
        let (hub, repo) = hub_with_repo(db).await;
        let other = hub.create_repo("ada", "other", true).await.unwrap().id;
        hub.update_refs(repo, &[change(MAIN, None, Some(1))]).await.unwrap();
        hub.update_refs(other, &[change(MAIN, None, Some(2))]).await.unwrap();
        assert_eq!(hub.refs(repo).await.unwrap(), [(MAIN.to_string(), commit(1))]);
        assert_eq!(hub.refs(other).await.unwrap(), [(MAIN.to_string(), commit(2))]);
    }

    async fn concurrent_updates_from_one_old_value_have_one_winner(db: &TestDb) {
        let (hub, repo) = hub_with_repo(db).await;
        hub.update_refs(repo, &[change(MAIN, None, Some(0))]).await.unwrap();
        for round in 0..3u8 {
            let base = round * 20;
            let tasks: Vec<_> = (1..=16u8)
                .map(|i| {
                    let hub = hub.clone();
                    tokio::spawn(async move { (i, hub.update_refs(repo, &[change(MAIN, Some(base), Some(base + i))]).await) })
                })
                .collect();
            let mut winners = Vec::new();
            for task in tasks {
                let (i, result) = task.await.unwrap();
                match result {
                    Ok(()) => winners.push(i),
                    Err(HubError::StaleRef { expected, actual, .. }) => {
                        assert_eq!(expected, Some(commit(base)));
                        assert_ne!(actual, Some(commit(base)));
                    }
                    Err(other) => panic!("task {i}: {other:?}"),
                }
            }
            assert_eq!(winners.len(), 1, "round {round}: winners {winners:?}");
            assert_eq!(hub.refs(repo).await.unwrap(), [(MAIN.to_string(), commit(base + winners[0]))]);
            // Next round starts from a known value.
            hub.update_refs(repo, &[change(MAIN, Some(base + winners[0]), Some(base + 20))]).await.unwrap();
        }
    }

    async fn concurrent_creations_have_one_winner(db: &TestDb) {
        let (hub, repo) = hub_with_repo(db).await;
        let tasks: Vec<_> = (1..=16u8)
            .map(|i| {
                let hub = hub.clone();
                tokio::spawn(async move { hub.update_refs(repo, &[change("refs/heads/new", None, Some(i))]).await })
            })
            .collect();
        let mut won = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(()) => won += 1,
                Err(error) => assert!(matches!(error, HubError::StaleRef { expected: None, actual: Some(_), .. }), "{error:?}"),
            }
        }
        assert_eq!(won, 1);
    }

    async fn retrying_chains_lose_no_update(db: &TestDb) {
        // Each task appends its own steps to a chain: read the ref, move it from what it read
        // to a value naming the task and step; retry on stale_ref. Every step must land.
        let (hub, repo) = hub_with_repo(db).await;
        let steps = 4u8;
        hub.update_refs(repo, &[change(MAIN, None, Some(0))]).await.unwrap();
        let tasks: Vec<_> = (0..16u8)
            .map(|task| {
                let hub = hub.clone();
                tokio::spawn(async move {
                    let mut mine = Vec::new();
                    for step in 0..steps {
                        let value = 1 + task * steps + step;
                        loop {
                            let current = hub.refs(repo).await.unwrap()[0].1;
                            let update = RefChange { name: MAIN.into(), old: Some(current), new: Some(commit(value)) };
                            match hub.update_refs(repo, &[update]).await {
                                Ok(()) => {
                                    mine.push((current, commit(value)));
                                    break;
                                }
                                Err(HubError::StaleRef { .. }) => tokio::task::yield_now().await,
                                Err(other) => panic!("{other:?}"),
                            }
                        }
                    }
                    mine
                })
            })
            .collect();
        let mut moves = Vec::new();
        for task in tasks {
            moves.extend(task.await.unwrap());
        }
        // The successful moves form one chain from 0 through all 64 values: each old value was
        // moved away from exactly once.
        assert_eq!(moves.len(), 16 * steps as usize);
        let olds: HashSet<_> = moves.iter().map(|(old, _)| *old).collect();
        assert_eq!(olds.len(), moves.len(), "some value was moved away from twice: a lost update");
        let news: HashSet<_> = moves.iter().map(|(_, new)| *new).collect();
        let final_value = hub.refs(repo).await.unwrap()[0].1;
        assert!(news.contains(&final_value));
        assert!(!olds.contains(&final_value));
        assert!(olds.contains(&commit(0)));
        let mut current = commit(0);
        for _ in 0..moves.len() {
            current = moves.iter().find(|(old, _)| *old == current).unwrap().1;
        }
        assert_eq!(current, final_value);
    }

    async fn deleting_a_repository_while_refs_move_fails_cleanly(db: &TestDb) {
        // Ref updates and the deletion race; each update either lands before the deletion or
        // finds no repository: never a database error (a deadlock) or a ref left behind.
        let hub = db.hub().await;
        hub.create_user("ada", None, None).await.unwrap();
        for round in 0..4u8 {
            let repo = hub.create_repo("ada", &format!("engine{round}"), false).await.unwrap().id;
            hub.update_refs(repo, &[change(MAIN, None, Some(0))]).await.unwrap();
            let mut tasks = Vec::new();
            for i in 1..=8u8 {
                let pusher = hub.clone();
                tasks.push(tokio::spawn(async move {
                    let name = format!("refs/heads/b{i}");
                    pusher.update_refs(repo, &[change(&name, None, Some(i)), change(MAIN, Some(0), Some(i))]).await.err()
                }));
                if i == 2 + round {
                    let deleter = hub.clone();
                    tasks.push(tokio::spawn(async move { deleter.delete_repo(repo).await.err() }));
                }
            }
            for task in tasks {
                if let Some(error) = task.await.unwrap() {
                    assert!(["stale_ref", "not_found"].contains(&error.code()), "{error:?}");
                }
            }
            assert_eq!(hub.refs(repo).await.unwrap_err().code(), "not_found");
        }
        let leftover = common::raw_strings(db, "SELECT name FROM refs").await;
        assert!(leftover.is_empty(), "{leftover:?}");
    }

    async fn deleting_a_repository_deletes_its_refs(db: &TestDb) {
        let (hub, repo) = hub_with_repo(db).await;
        hub.update_refs(repo, &[change(MAIN, None, Some(1))]).await.unwrap();
        hub.delete_repo(repo).await.unwrap();
        let again = hub.create_repo("ada", "engine", false).await.unwrap();
        assert_ne!(again.id, repo, "ids are never reused");
        assert!(hub.refs(again.id).await.unwrap().is_empty());
        assert_eq!(hub.refs(repo).await.unwrap_err().code(), "not_found");
    }
}
