//! The semantic diff of two commits read from a store opened without its working copy, and the
//! symbol cache it fills there.

use muse_code::{diff_snapshots_semantic, SymbolCache};
use muse_core::{Commit, SemVerBump};
use muse_store::commit::commit_worktree;
use muse_store::{Repository, Store};

#[test]
fn two_snapshots_of_a_bare_store() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repository::init(dir.path(), "main").unwrap();
    let template = |message: &str| Commit {
        message: message.into(),
        author: "A <a@example.com>".into(),
        committed_at: "2026-11-30T00:00:00Z".into(),
        ..Commit::default()
    };
    std::fs::create_dir_all(dir.path().join("pkg")).unwrap();
    std::fs::write(dir.path().join("pkg/api.py"), "def get(url, params=None):\n    return url\n").unwrap();
    std::fs::write(dir.path().join("README.md"), "# pkg\n").unwrap();
    let first = commit_worktree(&repo, template("first"), false, &|_, _| {}).unwrap();
    std::fs::write(dir.path().join("pkg/api.py"), "def get(url):\n    return url\n").unwrap();
    let second = commit_worktree(&repo, template("second"), false, &|_, _| {}).unwrap();
    let store_dir = repo.store().store_dir().to_path_buf();
    drop(repo);

    let store = Store::open(&store_dir).unwrap();
    let diff = diff_snapshots_semantic(&store, Some(first.commit.snapshot), Some(second.commit.snapshot)).unwrap();
    assert_eq!(diff.bump, SemVerBump::Major);
    assert_eq!(diff.breaking.iter().map(|f| f.to_text()).collect::<Vec<_>>(), ["param-removed pkg/api.py:1 get: parameter 'params' removed"]);
    let root = diff_snapshots_semantic(&store, None, Some(first.commit.snapshot)).unwrap();
    assert_eq!((root.bump, root.additions.len(), root.files.len()), (SemVerBump::Minor, 1, 2));
    // Both versions of the Python file are now in the cache, under this extractor's directory.
    let cached: usize =
        std::fs::read_dir(SymbolCache::in_store(&store_dir).dir()).unwrap().map(|d| std::fs::read_dir(d.unwrap().path()).unwrap().count()).sum();
    assert_eq!(cached, 2);
    assert_eq!(diff_snapshots_semantic(&store, Some(first.commit.snapshot), Some(second.commit.snapshot)).unwrap(), diff);
}
