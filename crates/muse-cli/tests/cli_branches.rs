//! Black-box tests of `muse branch`, `muse switch` and `muse tag`.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{exit, hex_of, TestRepo};
use serde_json::{json, Value};

/// main: c1 (a=1, b=1, old=o) -> c2 (a=2, b=1, new=n, no old). Returns (repo, c1, c2).
fn two_commits() -> (TestRepo, String, String) {
    let repo = TestRepo::new();
    repo.write("a", "1\n");
    repo.write("b", "1\n");
    repo.write("old", "o\n");
    let c1 = repo.commit("c1");
    repo.write("a", "2\n");
    repo.write("new/n", "n\n");
    repo.remove("old");
    let c2 = repo.commit("c2");
    (repo, c1, c2)
}

fn branch_names(list: &Value) -> Vec<(String, bool)> {
    list.as_array().unwrap().iter().map(|b| (b["name"].as_str().unwrap().to_string(), b["current"].as_bool().unwrap())).collect()
}

// ---------------------------------------------------------------------------------------------
// branch

#[test]
fn branch_lists_and_creates() {
    let (repo, c1, c2) = two_commits();
    let created = repo.json(["branch", "feature/x"]).ok().json();
    assert_eq!(created, json!({"name": "feature/x", "commit_id": c2, "current": false}));
    let text = repo.muse(["branch", "old-start", &c1]).ok().stdout;
    assert_eq!(text, format!("Created branch old-start at {}\n", &hex_of(&c1)[..12]));
    let list = repo.json(["branch"]).ok().json();
    assert_eq!(branch_names(&list), [("feature/x".to_string(), false), ("main".to_string(), true), ("old-start".to_string(), false)]);
    assert_eq!(list[2]["commit_id"], c1);
    let text = repo.muse(["branch"]).ok().stdout;
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[1].starts_with("* main") && lines[1].ends_with(&hex_of(&c2)[..12]), "{text}");
    assert!(lines[0].starts_with("  feature/x"), "{text}");
    // Creating a branch moves nothing else.
    assert_eq!(repo.status()["branch"], "main");
    assert_eq!(repo.rev("old-start"), c1);
}

#[test]
fn branch_creation_errors() {
    let (repo, _c1, _c2) = two_commits();
    repo.muse(["branch", "dup"]).ok();
    repo.json(["branch", "dup"]).fails_with(exit::CONFLICT, "conflict");
    repo.json(["branch", "main"]).fails_with(exit::CONFLICT, "conflict");
    repo.json(["branch", "x", "no-such-rev"]).fails_with(exit::NOT_FOUND, "not_found");
    for bad in ["has space", "a..b", "a/-dash", "x.lock", "HEAD", "end/", "we:ird"] {
        repo.json(["branch", bad]).fails_with(exit::INVALID, "invalid_input");
    }
    // A branch on an unborn HEAD has nothing to point at.
    let empty = TestRepo::new();
    empty.json(["branch", "x"]).fails_with(exit::NOT_FOUND, "not_found");
}

#[test]
fn branch_delete() {
    let (repo, c1, _c2) = two_commits();
    repo.muse(["branch", "gone", &c1]).ok();
    let deleted = repo.json(["branch", "-d", "gone"]).ok().json();
    assert_eq!(deleted, json!({"deleted": "gone", "commit_id": c1}));
    assert_eq!(branch_names(&repo.json(["branch"]).ok().json()), [("main".to_string(), true)]);
    repo.json(["branch", "-d", "gone"]).fails_with(exit::NOT_FOUND, "not_found");
    repo.muse(["branch", "again"]).ok();
    let text = repo.muse(["branch", "--delete", "again"]).ok().stdout;
    assert!(text.starts_with("Deleted branch again (was "), "{text}");
    // The commits stay reachable through main and the store stays sound.
    repo.assert_fsck_clean();
    // -d needs a name and takes no start point.
    repo.muse(["branch", "-d"]).code(exit::USAGE);
    repo.muse(["branch", "-d", "x", "HEAD"]).code(exit::USAGE);
}

#[test]
fn branch_delete_refuses_the_checked_out_branch() {
    let (repo, _c1, c2) = two_commits();
    let err = repo.json(["branch", "-d", "main"]).fails_with(exit::CONFLICT, "conflict").error_json();
    assert!(err["message"].as_str().unwrap().contains("checked out"), "{err}");
    assert_eq!(repo.rev("main"), c2);
    // After switching away it can be deleted.
    repo.muse(["switch", "-c", "other"]).ok();
    repo.muse(["branch", "-d", "main"]).ok();
    repo.json(["log", "main"]).fails_with(exit::NOT_FOUND, "not_found");
    repo.json(["branch", "-d", "other"]).fails_with(exit::CONFLICT, "conflict");
}

// ---------------------------------------------------------------------------------------------
// switch

#[test]
fn switch_to_an_existing_branch_updates_only_differing_files() {
    let (repo, c1, c2) = two_commits();
    repo.muse(["branch", "back", &c1]).ok();
    let out = repo.json(["switch", "back"]).ok().json();
    assert_eq!(out["branch"], "back");
    assert_eq!(out["commit_id"], c1);
    // a changes, old comes back: two written; new/n goes away: one removed.
    assert_eq!((out["written"].as_u64(), out["removed"].as_u64(), out["carried"].as_u64()), (Some(2), Some(1), Some(0)));
    assert_eq!(repo.read("a"), "1\n");
    assert_eq!(repo.read("old"), "o\n");
    assert!(!repo.path("new/n").exists());
    assert!(!repo.path("new").exists(), "the emptied directory is removed");
    let status = repo.status();
    assert_eq!(status["branch"], "back");
    assert_eq!(status["head"], c1);
    assert_eq!(status["clean"], true);
    let text = repo.muse(["switch", "main"]).ok().stdout;
    assert_eq!(text, "Switched to branch 'main'\n");
    assert_eq!(repo.read("a"), "2\n");
    assert_eq!(repo.read("new/n"), "n\n");
    assert!(!repo.path("old").exists());
    assert_eq!(repo.status()["clean"], true);
    assert_eq!(repo.rev("HEAD"), c2);
}

#[test]
fn switch_restores_modes_and_symlinks() {
    let repo = TestRepo::new();
    repo.write("plain", "p\n");
    let base = repo.commit("base");
    repo.write("run.sh", "#!/bin/sh\necho hi\n");
    std::fs::set_permissions(repo.path("run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("plain", repo.path("link")).unwrap();
    repo.commit("exe and link");
    repo.muse(["switch", "--detach", &base]).ok();
    assert!(!repo.path("run.sh").exists() && std::fs::symlink_metadata(repo.path("link")).is_err());
    repo.muse(["switch", "main"]).ok();
    let mode = std::fs::metadata(repo.path("run.sh")).unwrap().permissions().mode();
    assert!(mode & 0o100 != 0, "run.sh lost its executable bit: {mode:o}");
    assert_eq!(std::fs::read_link(repo.path("link")).unwrap().to_str(), Some("plain"));
    assert_eq!(repo.status()["clean"], true);
}

#[test]
fn switch_create_and_detach() {
    let (repo, c1, c2) = two_commits();
    // -c at HEAD.
    let out = repo.json(["switch", "-c", "topic"]).ok().json();
    assert_eq!(out["branch"], "topic");
    assert_eq!(out["commit_id"], c2);
    assert_eq!(repo.rev("topic"), c2);
    assert_eq!(repo.status()["branch"], "topic");
    // -c at a start point.
    let text = repo.muse(["switch", "-c", "from-c1", &c1]).ok().stdout;
    assert_eq!(text, "Switched to a new branch 'from-c1'\n");
    assert_eq!(repo.rev("HEAD"), c1);
    assert_eq!(repo.read("a"), "1\n");
    // Commits go to the new branch.
    repo.write("a", "topic\n");
    let t = repo.commit("on from-c1");
    assert_eq!(repo.rev("from-c1"), t);
    assert_eq!(repo.rev("main"), c2);
    // -c with an existing name is a conflict, and nothing moves.
    repo.json(["switch", "-c", "main"]).fails_with(exit::CONFLICT, "conflict");
    assert_eq!(repo.status()["branch"], "from-c1");
    // --detach.
    let out = repo.json(["switch", "--detach", "main~1"]).ok().json();
    assert_eq!(out["branch"], Value::Null);
    assert_eq!(out["commit_id"], c1);
    let status = repo.status();
    assert_eq!(status["branch"], Value::Null);
    assert_eq!(status["head"], c1);
    let text = repo.muse(["switch", "--detach", &c2]).ok().stdout;
    assert_eq!(text, format!("HEAD is now at {} (detached)\n", &hex_of(&c2)[..12]));
    // Unknown targets.
    repo.json(["switch", "nope"]).fails_with(exit::NOT_FOUND, "not_found");
    repo.json(["switch", "--detach", "nope"]).fails_with(exit::NOT_FOUND, "not_found");
    repo.json(["switch", "-c", "x", "nope"]).fails_with(exit::NOT_FOUND, "not_found");
    repo.muse(["switch", "-c", "x", "--detach"]).code(exit::USAGE);
    assert_eq!(repo.rev("HEAD"), c2);
}

#[test]
fn switch_refuses_to_overwrite_uncommitted_changes_to_differing_files() {
    let (repo, c1, c2) = two_commits();
    repo.muse(["branch", "back", &c1]).ok();
    // a differs between c2 and c1: a local edit to it blocks the switch.
    repo.write("a", "local edit\n");
    let err = repo.json(["switch", "back"]).fails_with(exit::CONFLICT, "conflict").error_json();
    assert!(err["message"].as_str().unwrap().contains('a'), "{err}");
    assert_eq!(repo.read("a"), "local edit\n", "the edit survives");
    assert_eq!(repo.status()["branch"], "main");
    assert_eq!(repo.rev("HEAD"), c2);
    assert_eq!(repo.read("new/n"), "n\n", "nothing was touched");
    // Same with --detach and -c.
    repo.json(["switch", "--detach", &c1]).fails_with(exit::CONFLICT, "conflict");
    repo.json(["switch", "-c", "fresh", &c1]).fails_with(exit::CONFLICT, "conflict");
    repo.json(["log", "fresh"]).fails_with(exit::NOT_FOUND, "not_found");
    // An untracked file where the target has a file is also protected.
    repo.write("a", "2\n");
    repo.write("old", "untracked, precious\n");
    repo.json(["switch", "back"]).fails_with(exit::CONFLICT, "conflict");
    assert_eq!(repo.read("old"), "untracked, precious\n");
    // A deleted file that the target changes: the deletion is protected too.
    repo.remove("old");
    repo.remove("a");
    repo.json(["switch", "back"]).fails_with(exit::CONFLICT, "conflict");
    assert!(!repo.path("a").exists());
    // --force discards the conflicting changes.
    repo.write("a", "doomed\n");
    repo.muse(["switch", "back", "--force"]).ok();
    assert_eq!(repo.read("a"), "1\n");
    assert_eq!(repo.status()["clean"], true);
}

#[test]
fn switch_carries_other_uncommitted_changes() {
    let (repo, c1, _c2) = two_commits();
    repo.muse(["branch", "back", &c1]).ok();
    // b is the same in both commits: its edit is carried. An untracked file is carried too.
    repo.write("b", "carried edit\n");
    repo.write("scratch.txt", "notes\n");
    let out = repo.json(["switch", "back"]).ok().json();
    assert_eq!(out["carried"], 2);
    assert_eq!(repo.read("b"), "carried edit\n");
    assert_eq!(repo.read("scratch.txt"), "notes\n");
    assert_eq!(repo.read("a"), "1\n");
    let changes = repo.changes();
    assert_eq!(changes, [("modified".to_string(), "b".to_string()), ("added".to_string(), "scratch.txt".to_string())]);
    // A change that already equals the target is not a conflict either.
    repo.write("a", "2\n");
    repo.muse(["switch", "main"]).ok();
    assert_eq!(repo.read("a"), "2\n");
    let text = repo.muse(["switch", "back"]).ok().stdout;
    assert!(text.contains("2 uncommitted change(s) carried over"), "{text}");
}

// ---------------------------------------------------------------------------------------------
// tag

#[test]
fn tag_lists_creates_and_deletes() {
    let (repo, c1, c2) = two_commits();
    let created = repo.json(["tag", "v1.0", &c1]).ok().json();
    assert_eq!(created, json!({"name": "v1.0", "commit_id": c1}));
    let text = repo.muse(["tag", "v2.0"]).ok().stdout;
    assert_eq!(text, format!("Tagged {} as v2.0\n", &hex_of(&c2)[..12]));
    let list = repo.json(["tag"]).ok().json();
    assert_eq!(list, json!([{"name": "v1.0", "commit_id": c1}, {"name": "v2.0", "commit_id": c2}]));
    let text = repo.muse(["tag"]).ok().stdout;
    assert_eq!(text.lines().count(), 2);
    assert!(text.starts_with("v1.0") && text.contains(&hex_of(&c1)[..12]), "{text}");
    assert_eq!(repo.rev("v1.0"), c1);
    // Deleting.
    let deleted = repo.json(["tag", "-d", "v1.0"]).ok().json();
    assert_eq!(deleted, json!({"deleted": "v1.0", "commit_id": c1}));
    assert_eq!(repo.json(["tag"]).ok().json(), json!([{"name": "v2.0", "commit_id": c2}]));
    repo.json(["tag", "-d", "v1.0"]).fails_with(exit::NOT_FOUND, "not_found");
    let text = repo.muse(["tag", "--delete", "v2.0"]).ok().stdout;
    assert!(text.starts_with("Deleted tag v2.0 (was "), "{text}");
    assert_eq!(repo.json(["tag"]).ok().json(), json!([]));
}

#[test]
fn an_existing_tag_is_a_conflict_and_never_moves() {
    let (repo, c1, c2) = two_commits();
    repo.muse(["tag", "rel", &c1]).ok();
    let err = repo.json(["tag", "rel", &c2]).fails_with(exit::CONFLICT, "conflict").error_json();
    assert!(err["message"].as_str().unwrap().contains("already exists"), "{err}");
    repo.json(["tag", "rel"]).fails_with(exit::CONFLICT, "conflict");
    assert_eq!(repo.rev("rel"), c1);
    // Tags and branches are separate namespaces; bad names and revisions are rejected.
    repo.muse(["tag", "main"]).ok();
    repo.json(["tag", "bad name"]).fails_with(exit::INVALID, "invalid_input");
    repo.json(["tag", "t", "nope"]).fails_with(exit::NOT_FOUND, "not_found");
    let empty = TestRepo::new();
    empty.json(["tag", "t"]).fails_with(exit::NOT_FOUND, "not_found");
}

#[test]
fn switch_between_a_file_and_a_directory_of_the_same_name() {
    let repo = TestRepo::new();
    repo.write("x", "a file\n");
    repo.write("keep", "k\n");
    let c1 = repo.commit("x is a file");
    repo.remove("x");
    repo.write("x/y", "now a directory\n");
    let c2 = repo.commit("x is a directory");
    repo.muse(["switch", "--detach", &c1]).ok();
    assert_eq!(repo.read("x"), "a file\n");
    assert_eq!(repo.status()["clean"], true);
    repo.muse(["switch", "main"]).ok();
    assert_eq!(repo.read("x/y"), "now a directory\n");
    assert_eq!(repo.status()["clean"], true);
    assert_eq!(repo.rev("HEAD"), c2);
    // An untracked file inside the directory blocks going back to the file.
    repo.write("x/untracked", "mine\n");
    repo.json(["switch", "--detach", &c1]).fails_with(exit::CONFLICT, "conflict");
    assert_eq!(repo.read("x/untracked"), "mine\n");
}
