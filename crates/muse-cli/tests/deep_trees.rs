//! Tree depth: a snapshot may hold paths of at most `MAX_TREE_DEPTH` names (`docs/formats.md`
//! §Limits). Every command works on a store holding a tree exactly that deep; a store holding a
//! deeper one (written around the checks, straight through the store's `PackWriter`) makes the
//! commands that read paths fail with a clear error, never a stack overflow; apply (bundle,
//! clone) rejects such a tree and everything that depends on it; commit refuses to make one.

mod common;

use common::{exit, TestRepo};
use muse_core::{CommitId, EntryKind, Tree, TreeEntry, MAX_TREE_DEPTH};
use muse_store::{ObjectKind, RefName, Repository};

/// The path of the only file of a snapshot `depth` names deep: `d/d/…/d/f`.
fn deep_path(depth: usize) -> String {
    let mut path = "d/".repeat(depth - 1);
    path.push('f');
    path
}

/// Writes, straight into the store of `repo`, a commit on top of HEAD whose snapshot holds one
/// file at `deep_path(depth)`, and points branch `branch` at it. Returns the commit id.
fn plant_deep_commit(repo: &TestRepo, branch: &str, depth: usize) -> String {
    let store = Repository::discover(&repo.root).unwrap();
    let head = store.head_commit().unwrap().expect("HEAD has a commit");
    let mut writer = store.objects().begin_write().unwrap();
    let blob = writer.add(ObjectKind::Blob, b"deep\n").unwrap();
    let mut tree = Tree::from_entries(vec![TreeEntry { name: "f".into(), kind: EntryKind::File, id: blob }]).unwrap();
    let mut id = writer.add_tree(&tree).unwrap();
    for _ in 1..depth {
        tree = Tree::from_entries(vec![TreeEntry { name: "d".into(), kind: EntryKind::Tree, id: id.0 }]).unwrap();
        id = writer.add_tree(&tree).unwrap();
    }
    let mut commit = store.objects().read_commit(&head).unwrap();
    commit.parents = vec![head];
    commit.snapshot = id;
    commit.message = format!("a file {depth} names deep\n");
    let commit_id: CommitId = writer.add_commit(&commit).unwrap();
    writer.finish().unwrap();
    store.refs().compare_and_swap(&RefName::branch(branch).unwrap(), None, Some(commit_id)).unwrap();
    commit_id.to_string()
}

fn repo_with_base() -> TestRepo {
    let repo = TestRepo::new();
    repo.write("top.txt", "top\n");
    repo.commit("base");
    repo
}

#[test]
fn every_command_works_on_a_tree_at_the_depth_limit() {
    let repo = repo_with_base();
    let deep = plant_deep_commit(&repo, "deep", MAX_TREE_DEPTH);
    let path = deep_path(MAX_TREE_DEPTH);

    let show = repo.json(["show", "deep"]).ok().json();
    assert_eq!(show["files"][0]["path"], path.as_str());
    let diff = repo.json(["diff", "main", "deep", "--name-only"]).ok();
    assert!(diff.stdout.contains(&path), "{}", diff.stdout);
    assert_eq!(repo.log_ids(&["deep", "--", &path]), vec![deep.clone()]);
    assert_eq!(repo.log_ids(&["deep", "--", "d/d/d"]), vec![deep.clone()]);
    repo.assert_fsck_clean();

    // Transfer: bundle create, apply into a fresh repository, clone.
    let bundle = repo.tmp.path().join("deep.bundle");
    repo.json(["bundle", "create", bundle.to_str().unwrap(), "deep"]).ok();
    let other = TestRepo::new();
    other.json(["bundle", "apply", bundle.to_str().unwrap()]).ok();
    assert_eq!(other.rev("deep"), deep);
    other.assert_fsck_clean();
    let clone_dir = repo.tmp.path().join("clone");
    repo.json(["clone", repo.root.to_str().unwrap(), clone_dir.to_str().unwrap()]).ok();

    // Checkout, status, and a commit at the limit (the working-copy walk and the tree update).
    repo.json(["switch", "deep"]).ok();
    assert_eq!(repo.read(&path), "deep\n");
    assert_eq!(repo.changes(), vec![]);
    repo.write(&path, "changed\n");
    repo.commit("change the deep file");
    repo.json(["gc"]).ok();
    repo.assert_fsck_clean();
    repo.json(["switch", "main"]).ok();
    assert!(!repo.path("d").exists(), "the deep directories are removed when leaving the branch");
}

/// 10 000 nested trees: far beyond the limit and far beyond what a recursive walk survives.
#[test]
fn a_store_holding_an_over_deep_tree_fails_cleanly_and_never_lets_it_travel() {
    let repo = repo_with_base();
    let main = repo.rev("main");
    plant_deep_commit(&repo, "deep", 10_000);

    for args in [vec!["show", "deep"], vec!["diff", "main", "deep"], vec!["switch", "deep"]] {
        let run = repo.json(&args).fails_with(exit::CORRUPT, "corrupt");
        let message = run.error_json()["message"].as_str().unwrap().to_string();
        assert!(message.contains("more than the 1024"), "{args:?}: {message}");
    }
    // The failed switch left the working copy and HEAD alone.
    assert_eq!(repo.read("top.txt"), "top\n");
    assert_eq!(repo.rev("HEAD"), main);
    let fsck = repo.json(["fsck"]).code(exit::CORRUPT).json();
    let problems = fsck["report"]["problems"].to_string();
    assert!(problems.contains("more than the 1024"), "{problems}");
    // Commands that do not build its paths still work: a shallow path filter, gc, bundle create.
    repo.json(["log", "deep", "--", "d/d"]).ok();
    repo.json(["gc"]).ok();
    let bundle = repo.tmp.path().join("deep.bundle");
    repo.json(["bundle", "create", bundle.to_str().unwrap(), "deep", "main"]).ok();

    // The receiver rejects the over-deep tree, the trees and commit above it, and the ref.
    let other = TestRepo::new();
    let run = other.json(["bundle", "apply", bundle.to_str().unwrap()]).code(exit::FAILED);
    let report = run.json();
    let rejected = report["rejected"].as_array().unwrap();
    assert!(rejected.iter().any(|r| r["reason"].as_str().unwrap().contains("more than the 1024")), "{report}");
    assert!(rejected.iter().any(|r| r["kind"] == "commit"), "{report}");
    let refs = report["refs"].as_array().unwrap();
    assert!(refs.iter().any(|r| r["name"] == "refs/heads/deep" && r["status"] == "rejected"), "{report}");
    assert!(refs.iter().any(|r| r["name"] == "refs/heads/main" && r["status"] == "created"), "{report}");
    other.assert_fsck_clean();

    // clone: exit 1, the rejected records and ref in its output (JSON and text); the rest kept.
    let clone_dir = repo.tmp.path().join("clone");
    let run = repo.json(["clone", repo.root.to_str().unwrap(), clone_dir.to_str().unwrap()]).code(exit::FAILED);
    let report = run.json();
    assert!(report["rejected"].as_array().is_some_and(|r| !r.is_empty()), "{report}");
    assert!(report["refs"].as_array().unwrap().iter().any(|r| r["name"] == "refs/heads/deep" && r["status"] == "rejected"), "{report}");
    assert_eq!(run.error_json()["kind"], "failed");
    assert_eq!(std::fs::read_to_string(clone_dir.join("top.txt")).unwrap(), "top\n");
    let text_dir = repo.tmp.path().join("clone-text");
    let run = repo.muse(["clone", repo.root.to_str().unwrap(), text_dir.to_str().unwrap()]).code(exit::FAILED);
    assert!(run.stdout.contains("rejected ref refs/heads/deep"), "{}", run.stdout);
    assert!(run.stdout.contains("rejected tree"), "{}", run.stdout);
}

/// One name over the limit is rejected on apply; exactly at the limit is accepted (above).
#[test]
fn apply_rejects_one_name_over_the_limit() {
    let repo = repo_with_base();
    plant_deep_commit(&repo, "deep", MAX_TREE_DEPTH + 1);
    let bundle = repo.tmp.path().join("deep.bundle");
    repo.json(["bundle", "create", bundle.to_str().unwrap(), "deep"]).ok();
    let other = TestRepo::new();
    let report = other.json(["bundle", "apply", bundle.to_str().unwrap()]).code(exit::FAILED).json();
    let reasons: Vec<&str> = report["rejected"].as_array().unwrap().iter().map(|r| r["reason"].as_str().unwrap()).collect();
    assert!(reasons.iter().any(|r| r.contains("1025 names")), "{reasons:?}");
}

#[test]
fn commit_refuses_directories_nested_beyond_the_limit() {
    let repo = repo_with_base();
    let before = repo.rev("HEAD");
    let dir: String = "d/".repeat(MAX_TREE_DEPTH);
    repo.write(&format!("{dir}f"), "too deep\n");
    let run = repo.json(["commit", "-m", "too deep"]).fails_with(exit::INVALID, "invalid_input");
    assert!(run.error_json()["message"].as_str().unwrap().contains("1024"), "{}", run.stderr);
    assert_eq!(repo.rev("HEAD"), before);
    // Removing the deepest level makes it committable (a path of exactly 1024 names).
    std::fs::rename(repo.path(&format!("{dir}f")), repo.path(&format!("{}f", "d/".repeat(MAX_TREE_DEPTH - 1)))).unwrap();
    std::fs::remove_dir(repo.path(&dir)).unwrap();
    repo.commit("exactly at the limit");
    repo.assert_fsck_clean();
    assert!(repo.path(&deep_path(MAX_TREE_DEPTH)).exists());
}
