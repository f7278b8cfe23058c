//! `muse restore PATH… [--source REV]`: files come back to HEAD's (or REV's) content and mode,
//! files only HEAD tracks go when REV lacks them, untracked files are never touched, and
//! nothing is written when a path matches nothing or a parent is a symbolic link.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{exit, listing, Muse, TestRepo};

fn mode(repo: &TestRepo, rel: &str) -> u32 {
    std::fs::symlink_metadata(repo.path(rel)).unwrap().permissions().mode() & 0o777
}

fn set_mode(repo: &TestRepo, rel: &str, mode: u32) {
    std::fs::set_permissions(repo.path(rel), std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A repository whose HEAD holds a file, an executable, a symlink and files in `sub/`.
fn committed() -> TestRepo {
    let repo = TestRepo::new();
    repo.write("a.txt", "a\n");
    repo.write("run.sh", "#!/bin/sh\n");
    set_mode(&repo, "run.sh", 0o755);
    std::os::unix::fs::symlink("a.txt", repo.path("link")).unwrap();
    repo.write("sub/one.txt", "one\n");
    repo.write("sub/deep/two.txt", "two\n");
    repo.commit("first");
    repo
}

fn status_changes(repo: &TestRepo) -> Vec<serde_json::Value> {
    repo.json(["status"]).ok().json()["changes"].as_array().cloned().unwrap_or_default()
}

#[test]
fn modified_deleted_mode_changed_and_symlink_files_come_back_from_head() {
    let repo = committed();
    let before = listing(&repo.root);
    repo.write("a.txt", "changed\n");
    set_mode(&repo, "run.sh", 0o644);
    repo.remove("link");
    std::os::unix::fs::symlink("elsewhere", repo.path("link")).unwrap();
    repo.remove("sub/one.txt");
    repo.write("untracked.txt", "mine\n");
    let out = repo.json(["restore", "a.txt", "run.sh", "link", "sub"]).ok().json();
    assert_eq!(out["restored"], serde_json::json!(["a.txt", "link", "run.sh", "sub/one.txt"]));
    assert_eq!(out["removed"], serde_json::json!([]));
    assert!(out["source"].as_str().unwrap().starts_with("sha256:"), "{out}");
    let mut after = listing(&repo.root);
    assert_eq!(after.remove("untracked.txt").map(|(_, c)| c), Some(b"mine\n".to_vec()));
    assert_eq!(after, before);
    assert_eq!(mode(&repo, "run.sh"), 0o755);
    assert_eq!(std::fs::read_link(repo.path("link")).unwrap(), Path::new("a.txt"));
    // The stat cache holds nothing stale: only the untracked file is a change.
    let changes = status_changes(&repo);
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["path"], "untracked.txt");
    // A second run has nothing to do.
    assert_eq!(repo.muse(["restore", "."]).ok().lines(), vec!["nothing to restore"]);
    repo.assert_fsck_clean();
}

#[test]
fn source_brings_an_older_version_and_removes_what_it_lacks() {
    let repo = committed();
    repo.write("a.txt", "second\n");
    repo.write("sub/new.txt", "new\n");
    repo.commit("second");
    repo.write("later.txt", "untracked\n");
    let first = repo.rev("HEAD~1");
    let out = repo.json(["restore", "--source", &first, "."]).ok().json();
    assert_eq!(out["restored"], serde_json::json!(["a.txt"]));
    assert_eq!(out["removed"], serde_json::json!(["sub/new.txt"]));
    assert_eq!(repo.read("a.txt"), "a\n");
    assert!(!repo.path("sub/new.txt").exists());
    assert_eq!(repo.read("later.txt"), "untracked\n");
    // Back to HEAD: status clean but for the untracked file.
    repo.muse(["restore", "."]).ok();
    assert_eq!(repo.read("a.txt"), "second\n");
    assert_eq!(repo.read("sub/new.txt"), "new\n");
    let changes = status_changes(&repo);
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["path"], "later.txt");
    // Each restore that changed files is in the op log.
    let ops = repo.json(["op", "log"]).ok().json();
    let restores = ops["operations"].as_array().unwrap().iter().filter(|op| op["command"] == "restore").count();
    assert_eq!(restores, 2, "{ops}");
    repo.assert_fsck_clean();
}

#[test]
fn restore_dot_from_a_subdirectory_only_touches_that_subdirectory() {
    let repo = committed();
    repo.write("a.txt", "changed\n");
    repo.write("sub/one.txt", "changed\n");
    repo.remove("sub/deep/two.txt");
    repo.write("sub/extra.txt", "untracked\n");
    let out = Muse::new(&repo.path("sub")).args(["--json", "restore", "."]).run().ok().json();
    assert_eq!(out["restored"], serde_json::json!(["sub/deep/two.txt", "sub/one.txt"]));
    assert_eq!(repo.read("a.txt"), "changed\n");
    assert_eq!(repo.read("sub/one.txt"), "one\n");
    assert_eq!(repo.read("sub/deep/two.txt"), "two\n");
    assert_eq!(repo.read("sub/extra.txt"), "untracked\n");
    // A path relative to the subdirectory.
    repo.write("sub/one.txt", "again\n");
    Muse::new(&repo.path("sub/deep")).args(["restore", "../one.txt"]).run().ok();
    assert_eq!(repo.read("sub/one.txt"), "one\n");
    // Everything from the root: clean.
    repo.muse(["restore", "."]).ok();
    let changes = status_changes(&repo);
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["path"], "sub/extra.txt");
    repo.assert_fsck_clean();
}

#[test]
fn a_path_matching_nothing_exits_4_and_changes_nothing() {
    let repo = committed();
    repo.write("a.txt", "changed\n");
    let before = listing(&repo.root);
    let err = repo.json(["restore", "a.txt", "nope.txt"]).fails_with(exit::NOT_FOUND, "not_found").error_json();
    assert!(err.to_string().contains("nope.txt"), "{err}");
    assert_eq!(listing(&repo.root), before);
}

#[test]
fn a_symlinked_parent_exits_5_and_writes_nothing_outside() {
    let repo = committed();
    let outside = repo.tmp.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::remove_dir_all(repo.path("sub")).unwrap();
    std::os::unix::fs::symlink(&outside, repo.path("sub")).unwrap();
    repo.write("a.txt", "changed\n");
    let before = listing(&repo.root);
    repo.json(["restore", "."]).fails_with(exit::CONFLICT, "conflict");
    assert_eq!(listing(&repo.root), before);
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
    repo.json(["restore", "sub/one.txt"]).fails_with(exit::CONFLICT, "conflict");
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
    assert_eq!(repo.read("a.txt"), "changed\n");
}

#[test]
fn restore_refuses_while_an_operation_is_pending() {
    let repo = committed();
    repo.muse(["switch", "-c", "other"]).ok();
    repo.write("a.txt", "other\n");
    repo.commit("on other");
    let killed = repo.cmd().args(["switch", "main"]).env("MUSE_TEST_CRASH_AFTER", "staged").spawn().wait_with_output().unwrap();
    assert!(!killed.status.success());
    repo.write("sub/one.txt", "changed\n");
    repo.json(["restore", "sub"]).fails_with(exit::CONFLICT, "interrupted");
    assert_eq!(repo.read("sub/one.txt"), "changed\n");
}
