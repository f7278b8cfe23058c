//! Black-box tests of the remote commands that need no hub: `remote add/list/remove`, the
//! errors of `fetch`/`push`/`clone URL` when the hub is unreachable or the input is bad,
//! remote-tracking refs in revisions, `auth` without a hub, and `hub` without `musehub`.

mod common;

use std::net::TcpListener;

use common::{exit, TestRepo};

/// A URL on 127.0.0.1 where nothing listens (a port bound, then released).
fn dead_url() -> String {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    format!("http://127.0.0.1:{port}/ada/parser")
}

#[test]
fn remotes_are_added_listed_and_removed() {
    let repo = TestRepo::new();
    repo.write("a.txt", "a\n");
    let id = repo.commit("first");
    let added = repo.json(["remote", "add", "origin", "http://127.0.0.1:9/ada/parser"]).ok().json();
    assert_eq!(added, serde_json::json!({"name": "origin", "url": "http://127.0.0.1:9/ada/parser"}));
    repo.json(["remote", "add", "origin", "http://h/a/b"]).fails_with(exit::CONFLICT, "conflict");
    repo.json(["remote", "add", "bad/name", "http://h/a/b"]).fails_with(exit::INVALID, "invalid_input");
    repo.json(["remote", "add", "up", "ftp://h/a/b"]).fails_with(exit::INVALID, "invalid_input");
    repo.json(["remote", "add", "up", "http://h/only-one-part"]).fails_with(exit::INVALID, "invalid_input");
    let list = repo.json(["remote"]).ok().json();
    assert_eq!(list, serde_json::json!([{"name": "origin", "url": "http://127.0.0.1:9/ada/parser"}]));

    // A remote-tracking ref resolves as `origin/main`, after branches and tags, and shows in
    // `branch -r`; removing the remote removes it (and undo brings it back).
    let tracking = repo.path(".muse/refs/remotes/origin/main");
    std::fs::create_dir_all(tracking.parent().unwrap()).unwrap();
    std::fs::write(&tracking, format!("{id}\n")).unwrap();
    assert_eq!(repo.rev("origin/main"), id);
    assert_eq!(repo.rev("refs/remotes/origin/main"), id);
    assert_eq!(repo.json(["branch", "-r"]).ok().json(), serde_json::json!([{"name": "origin/main", "commit_id": id}]));
    assert!(repo.muse(["log", "--oneline"]).ok().stdout.contains("origin/main"));
    assert_eq!(repo.json(["fsck"]).ok().json()["report"]["refs"], 2);
    let removed = repo.json(["remote", "remove", "origin"]).ok().json();
    assert_eq!(removed["refs_removed"], 1);
    assert!(!tracking.exists());
    repo.json(["remote", "remove", "origin"]).fails_with(exit::NOT_FOUND, "not_found");
    repo.json(["undo"]).ok();
    assert_eq!(repo.rev("origin/main"), id);
}

#[test]
fn unreachable_hubs_and_bad_input_have_stable_exit_codes() {
    let repo = TestRepo::new();
    repo.write("a.txt", "a\n");
    repo.commit("first");
    repo.json(["fetch"]).fails_with(exit::NOT_FOUND, "not_found");
    repo.json(["push", "nowhere"]).fails_with(exit::NOT_FOUND, "not_found");
    repo.json(["remote", "add", "origin", &dead_url()]).ok();
    let run = repo.cmd().env("MUSE_NET_RETRIES", "0").args(["--json", "fetch"]).run().fails_with(9, "network");
    assert!(run.error_json()["message"].as_str().unwrap().contains("cannot reach"));
    repo.cmd().env("MUSE_NET_RETRIES", "0").args(["--json", "push"]).run().fails_with(9, "network");
    repo.cmd().env("MUSE_NET_RETRIES", "0").args(["--json", "pull"]).run().fails_with(9, "network");
    for bad in ["main:", "a:b:c", ":"] {
        repo.json(["push", "origin", bad]).fails_with(exit::INVALID, "invalid_input");
    }
    repo.json(["push", "origin", "HEAD:refs/remotes/origin/x"]).fails_with(exit::INVALID, "invalid_input");
    repo.json(["push", "origin", "nosuchbranch"]).fails_with(exit::NOT_FOUND, "not_found");
    repo.json(["push", "--delete", "origin"]).fails_with(exit::INVALID, "invalid_input");

    let dir = repo.tmp.path();
    let url = dead_url();
    common::Muse::new(dir).env("MUSE_NET_RETRIES", "0").args(["--json", "clone", &url, "c"]).run().fails_with(9, "network");
    assert!(!dir.join("c").exists(), "a clone that never reached the hub leaves nothing");
    common::Muse::new(dir).args(["--json", "clone", "http://h/x", "d"]).run().fails_with(exit::INVALID, "invalid_input");
}

#[test]
fn auth_keeps_tokens_private_and_hub_needs_musehub() {
    let repo = TestRepo::new();
    let config = repo.tmp.path().join("config");
    let with_config = || repo.cmd().env("MUSE_CONFIG_DIR", config.to_str().unwrap()).env_remove("MUSE_TOKEN");
    let status = with_config().args(["--json", "auth", "status"]).run().ok().json();
    assert_eq!(status["hubs"], serde_json::json!([]));
    with_config().args(["--json", "auth", "login", "http://127.0.0.1:9"]).run().code(exit::USAGE);
    // --token-stdin with nothing on stdin: refused.
    with_config().args(["--json", "auth", "login", "http://127.0.0.1:9", "--token-stdin"]).run().fails_with(exit::INVALID, "invalid_input");
    with_config().args(["--json", "auth", "login", "not a url", "--token-stdin"]).run().fails_with(exit::INVALID, "invalid_input");
    let logout = with_config().args(["--json", "auth", "logout", "http://127.0.0.1:9/"]).run().ok().json();
    assert_eq!(logout, serde_json::json!({"hub": "http://127.0.0.1:9", "removed": false}));

    // `muse hub` runs `musehub` beside muse or on PATH; without one, exit 4.
    let run = repo.cmd().env("PATH", "/nonexistent").args(["--json", "hub", "serve"]).run();
    let beside = std::path::Path::new(common::bin()).with_file_name("musehub");
    if !beside.exists() {
        run.fails_with(exit::NOT_FOUND, "not_found");
    }
}
