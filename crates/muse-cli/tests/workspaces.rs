//! Black-box tests of `muse workspace add|list|remove`: extra working copies that share the
//! store and keep their own HEAD.

mod common;

use common::{exit, Muse, TestRepo};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// A repository with one commit (a=1, dir/b=1).
fn base() -> (TestRepo, String) {
    let repo = TestRepo::new();
    repo.write("a", "1\n");
    repo.write("dir/b", "1\n");
    let c = repo.commit("base");
    (repo, c)
}

fn ws_dir(repo: &TestRepo, name: &str) -> PathBuf {
    repo.tmp.path().join("spaces").join(name)
}

fn in_dir(dir: &Path) -> Muse {
    Muse::new(dir)
}

fn json_in(dir: &Path, args: &[&str]) -> common::Run {
    in_dir(dir).args(["--json"]).args(args).run()
}

#[test]
fn add_creates_a_working_copy_on_a_new_branch() {
    let (repo, c) = base();
    let dir = ws_dir(&repo, "agent-1");
    let out = repo.json(["workspace", "add", dir.to_str().unwrap()]).ok().json();
    let canonical = dir.canonicalize().unwrap();
    assert_eq!(out, json!({"name": "agent-1", "path": canonical.display().to_string(), "branch": "agent-1", "head": c}));
    // The files of HEAD are checked out there, and the branch exists in the shared store.
    assert_eq!(std::fs::read_to_string(dir.join("a")).unwrap(), "1\n");
    assert_eq!(std::fs::read_to_string(dir.join("dir/b")).unwrap(), "1\n");
    assert_eq!(repo.rev("agent-1"), c);
    let status = json_in(&dir, &["status"]).ok().json();
    assert_eq!(status["branch"], "agent-1");
    assert_eq!(status["workspace"], "agent-1");
    assert_eq!(status["head"], c);
    assert_eq!(status["clean"], true, "the .muse pointer file is not a change: {status}");
    // Text form.
    let dir2 = ws_dir(&repo, "agent-2");
    let text = repo.muse(["workspace", "add", dir2.to_str().unwrap(), "-b", "named"]).ok().stdout;
    assert!(text.contains("'agent-2'") && text.contains("'named'") && text.contains("(2 files)"), "{text}");
    assert_eq!(json_in(&dir2, &["status"]).ok().json()["branch"], "named");
}

#[test]
fn add_with_existing_branch_or_start_point() {
    let (repo, c1) = base();
    repo.write("a", "2\n");
    let c2 = repo.commit("second");
    repo.muse(["branch", "existing", &c1]).ok();
    let d1 = ws_dir(&repo, "w1");
    let out = repo.json(["workspace", "add", d1.to_str().unwrap(), "--branch", "existing"]).ok().json();
    assert_eq!(out["branch"], "existing");
    assert_eq!(out["head"], c1);
    assert_eq!(std::fs::read_to_string(d1.join("a")).unwrap(), "1\n");
    let d2 = ws_dir(&repo, "w2");
    let out = repo.json(["workspace", "add", d2.to_str().unwrap(), "-b", "fresh", "--start", &c1]).ok().json();
    assert_eq!(out["head"], c1);
    assert_eq!(repo.rev("fresh"), c1);
    let d3 = ws_dir(&repo, "w3");
    let out = repo.json(["workspace", "add", d3.to_str().unwrap(), "-b", "tip"]).ok().json();
    assert_eq!(out["head"], c2);
    // --start only applies to a new branch.
    let d4 = ws_dir(&repo, "w4");
    repo.json(["workspace", "add", d4.to_str().unwrap(), "-b", "tip2", "--start", "nope"]).fails_with(exit::NOT_FOUND, "not_found");
    repo.muse(["branch", "taken"]).ok();
    repo.json(["workspace", "add", d4.to_str().unwrap(), "-b", "taken", "--start", &c1]).fails_with(exit::CONFLICT, "conflict");
    repo.assert_fsck_clean();
}

#[test]
fn workspaces_share_the_store_and_keep_their_own_head() {
    let (repo, c) = base();
    let dir = ws_dir(&repo, "agent");
    repo.muse(["workspace", "add", dir.to_str().unwrap()]).ok();
    // A commit in the workspace moves its branch, not main, and is visible from the main copy.
    std::fs::write(dir.join("a"), "from agent\n").unwrap();
    let w = json_in(&dir, &["commit", "-m", "agent work"]).ok().json();
    let wid = common::id_of(&w);
    assert_eq!(w["parents"], json!([c]));
    assert_eq!(repo.rev("agent"), wid);
    assert_eq!(repo.rev("HEAD"), c);
    assert_eq!(repo.read("a"), "1\n", "the main working copy is untouched");
    assert_eq!(repo.status()["clean"], true);
    let shown = repo.json(["show", &wid]).ok().json();
    assert_eq!(shown["commit"]["message"], "agent work");
    // And the other way round.
    repo.write("dir/b", "from main\n");
    let m = repo.commit("main work");
    assert_eq!(common::id_of(&json_in(&dir, &["log", "-n", "1", "main"]).ok().json()[0]), m);
    assert_eq!(json_in(&dir, &["status"]).ok().json()["clean"], true);
    // Switching in the workspace does not move the main copy's HEAD.
    json_in(&dir, &["switch", "-c", "agent-2", &c]).ok();
    assert_eq!(json_in(&dir, &["status"]).ok().json()["branch"], "agent-2");
    assert_eq!(repo.status()["branch"], "main");
    // Working from a subdirectory of the workspace finds the workspace.
    let sub = json_in(&dir.join("dir"), &["status"]).ok().json();
    assert_eq!(sub["workspace"], "agent");
    repo.assert_fsck_clean();
    common::assert_fsck_clean(&dir);
}

#[test]
fn list_shows_every_working_copy() {
    let (repo, c) = base();
    let only_main = repo.json(["workspace", "list"]).ok().json();
    assert_eq!(only_main, json!([{"name": null, "path": repo.root.display().to_string(), "branch": "main", "head": c}]));
    let d1 = ws_dir(&repo, "one");
    let d2 = ws_dir(&repo, "two");
    repo.muse(["workspace", "add", d1.to_str().unwrap()]).ok();
    repo.muse(["workspace", "add", d2.to_str().unwrap()]).ok();
    json_in(&d2, &["switch", "--detach", "HEAD"]).ok();
    let list = repo.json(["workspace", "list"]).ok().json();
    let arr = list.as_array().unwrap();
    assert_eq!(arr.len(), 3);
    assert_eq!(arr[0]["name"], Value::Null);
    assert_eq!(arr[1]["name"], "one");
    assert_eq!(arr[1]["branch"], "one");
    assert_eq!(arr[1]["path"], d1.canonicalize().unwrap().display().to_string());
    assert_eq!(arr[2]["name"], "two");
    assert_eq!(arr[2]["branch"], Value::Null, "detached");
    assert_eq!(arr[2]["head"], c);
    // The same list from inside a workspace.
    assert_eq!(json_in(&d1, &["workspace", "list"]).ok().json(), list);
    let text = repo.muse(["workspace", "list"]).ok().stdout;
    assert_eq!(text.lines().count(), 3);
    assert!(text.contains("[main]") && text.contains("[one]") && text.contains("[detached]"), "{text}");
}

#[test]
fn checked_out_branches_are_protected_across_workspaces() {
    let (repo, _c) = base();
    let dir = ws_dir(&repo, "agent");
    repo.muse(["workspace", "add", dir.to_str().unwrap()]).ok();
    // main is checked out in the main copy, agent in the workspace.
    let d2 = ws_dir(&repo, "other");
    repo.json(["workspace", "add", d2.to_str().unwrap(), "-b", "main"]).fails_with(exit::CONFLICT, "conflict");
    assert!(!d2.join(".muse").exists());
    repo.json(["workspace", "add", d2.to_str().unwrap(), "-b", "agent"]).fails_with(exit::CONFLICT, "conflict");
    repo.json(["switch", "agent"]).fails_with(exit::CONFLICT, "conflict");
    json_in(&dir, &["switch", "main"]).fails_with(exit::CONFLICT, "conflict");
    let err = repo.json(["branch", "-d", "agent"]).fails_with(exit::CONFLICT, "conflict").error_json();
    assert!(err["message"].as_str().unwrap().contains("workspace 'agent'"), "{err}");
    json_in(&dir, &["branch", "-d", "main"]).fails_with(exit::CONFLICT, "conflict");
}

#[test]
fn remove_deletes_a_clean_workspace_and_refuses_a_dirty_one() {
    let (repo, _c) = base();
    let dir = ws_dir(&repo, "agent");
    repo.muse(["workspace", "add", dir.to_str().unwrap()]).ok();
    // Dirty: refused, nothing removed.
    std::fs::write(dir.join("a"), "uncommitted\n").unwrap();
    let err = repo.json(["workspace", "remove", dir.to_str().unwrap()]).fails_with(exit::CONFLICT, "conflict").error_json();
    assert!(err["message"].as_str().unwrap().contains("uncommitted"), "{err}");
    assert_eq!(std::fs::read_to_string(dir.join("a")).unwrap(), "uncommitted\n");
    assert_eq!(repo.json(["workspace", "list"]).ok().json().as_array().unwrap().len(), 2);
    // An untracked file counts as dirty too.
    std::fs::write(dir.join("a"), "1\n").unwrap();
    std::fs::write(dir.join("untracked"), "x\n").unwrap();
    repo.json(["workspace", "remove", dir.to_str().unwrap()]).fails_with(exit::CONFLICT, "conflict");
    std::fs::remove_file(dir.join("untracked")).unwrap();
    // Clean: removed, forgotten; the branch and its commits stay.
    let canonical = dir.canonicalize().unwrap();
    let out = repo.json(["workspace", "remove", dir.to_str().unwrap()]).ok().json();
    assert_eq!(out, json!({"removed": "agent", "path": canonical.display().to_string(), "kept": []}));
    assert!(!dir.exists());
    assert_eq!(repo.json(["workspace", "list"]).ok().json().as_array().unwrap().len(), 1);
    assert!(repo.rev("agent").starts_with("sha256:"));
    // The branch is no longer checked out anywhere, so it can be deleted now.
    repo.muse(["branch", "-d", "agent"]).ok();
    repo.assert_fsck_clean();
}

#[test]
fn remove_force_and_invalid_targets() {
    let (repo, _c) = base();
    let dir = ws_dir(&repo, "agent");
    repo.muse(["workspace", "add", dir.to_str().unwrap()]).ok();
    std::fs::write(dir.join("a"), "uncommitted\n").unwrap();
    let text = repo.muse(["workspace", "remove", "--force", dir.to_str().unwrap()]).ok().stdout;
    assert!(text.starts_with("Removed workspace 'agent'"), "{text}");
    assert!(!dir.exists());
    // The main working copy cannot be removed.
    repo.json(["workspace", "remove", repo.root.to_str().unwrap()]).fails_with(exit::INVALID, "invalid_input");
    assert!(repo.path(".muse").is_dir());
    // Neither can a directory that is not a workspace.
    let stranger = repo.tmp.path().join("stranger");
    std::fs::create_dir_all(&stranger).unwrap();
    repo.json(["workspace", "remove", stranger.to_str().unwrap()]).fails_with(exit::INVALID, "invalid_input");
    assert!(stranger.exists());
    // A path that does not exist fails cleanly.
    let run = repo.json(["workspace", "remove", repo.tmp.path().join("missing").to_str().unwrap()]);
    assert_ne!(run.code, Some(0));
    run.error_json();
    // A usage error without a subcommand.
    repo.muse(["workspace"]).code(exit::USAGE);
}

#[test]
fn add_refuses_a_non_empty_directory() {
    let (repo, _c) = base();
    let dir = ws_dir(&repo, "busy");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("mine"), "keep\n").unwrap();
    repo.json(["workspace", "add", dir.to_str().unwrap()]).fails_with(exit::CONFLICT, "conflict");
    assert_eq!(std::fs::read_to_string(dir.join("mine")).unwrap(), "keep\n");
    assert!(!dir.join(".muse").exists());
    assert_eq!(repo.json(["workspace", "list"]).ok().json().as_array().unwrap().len(), 1);
}

/// "Something already exists" is a conflict (5): a workspace of the same name (named after the
/// directory's last component), or a non-empty target directory.
#[test]
fn add_reports_an_existing_workspace_as_a_conflict() {
    let (repo, _c) = base();
    let d1 = repo.tmp.path().join("a").join("agent");
    let d2 = repo.tmp.path().join("b").join("agent");
    repo.muse(["workspace", "add", d1.to_str().unwrap()]).ok();
    repo.json(["workspace", "add", d2.to_str().unwrap(), "-b", "other"]).fails_with(exit::CONFLICT, "conflict");
    repo.json(["log", "other"]).fails_with(exit::NOT_FOUND, "not_found");
    assert_eq!(repo.json(["workspace", "list"]).ok().json().as_array().unwrap().len(), 2);
}
