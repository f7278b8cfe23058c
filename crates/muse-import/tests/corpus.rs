//! Acceptance on a real history (muse-python, the smallest corpus bundle): commit count, every
//! branch and tag tip's files and contents, `log -- PATH` against git's, and re-imports.

mod common;

use std::time::Instant;

use common::{git, git_files, git_id_of, import_into, muse_files, mirror_bundle};
use muse_import::{import_git, ImportOptions};
use muse_store::history::LogWalk;
use muse_store::{Head, RefName};

#[test]
fn muse_python_imports_like_git_sees_it() {
    let tmp = tempfile::tempdir().unwrap();
    let src = mirror_bundle("muse-python.bundle", tmp.path());
    let (repo, summary) = import_into(&src, &tmp.path().join("muse"));

    let git_count: u64 = git(&src, &["rev-list", "--count", "--all"]).trim().parse().unwrap();
    assert_eq!(summary.commits, git_count);
    assert_eq!(summary.commits_written, git_count);

    let refs = git(&src, &["for-each-ref", "--format=%(refname)"]);
    let mut branches = 0;
    for full in refs.lines() {
        let muse_ref = RefName::parse(full).unwrap();
        let id = repo.refs().read(&muse_ref).unwrap().unwrap_or_else(|| panic!("{full} not imported"));
        let peeled = git(&src, &["rev-parse", &format!("{full}^{{commit}}")]);
        assert_eq!(git_id_of(&repo, id), peeled.trim(), "{full} points elsewhere");
        let snapshot = repo.objects().read_commit(&id).unwrap().snapshot;
        assert_eq!(muse_files(&repo, snapshot), git_files(&src, full), "files of {full} differ");
        branches += usize::from(muse_ref.is_branch());
    }
    assert_eq!(summary.branches as usize, branches);
    assert_eq!(summary.tags as usize, refs.lines().count() - branches);
    assert_eq!(repo.head().unwrap(), Head::Branch(RefName::branch("main").unwrap()));

    // `log -- PATH` lists what `git log -- PATH` lists, in the same order.
    let main = repo.refs().read(&RefName::branch("main").unwrap()).unwrap().unwrap();
    for path in ["muse/cli/app.py", "muse/domain.py", "muse/core/store.py", "README.md", "muse"] {
        let expected: Vec<String> = git(&src, &["log", "--format=%H", "main", "--", path]).lines().map(str::to_string).collect();
        let actual: Vec<String> = LogWalk::new(&repo, &[main], vec![path.to_string()])
            .unwrap()
            .map(|c| c.unwrap().1.metadata["git.commit-id"].clone())
            .collect();
        assert!(!expected.is_empty());
        assert_eq!(actual, expected, "log -- {path}");
    }

    // Nothing new: the re-run converts nothing and is fast.
    let started = Instant::now();
    let again = import_git(&src, &repo, &ImportOptions::default(), &mut |_| {}).unwrap();
    assert_eq!((again.commits, again.objects_written, again.refs_updated), (0, 0, 0));
    assert_eq!(again.commits_previously_imported, git_count);
    assert!(started.elapsed().as_secs_f64() < 2.0, "no-op re-import took {:?}", started.elapsed());

    // One new git commit on main: only it is converted, and main moves.
    let tree = git(&src, &["rev-parse", "main^{tree}"]);
    let new = git(&src, &["commit-tree", tree.trim(), "-p", "main", "-m", "feat!: new API\n\nCo-authored-by: Claude <noreply@anthropic.com>"]);
    git(&src, &["update-ref", "refs/heads/main", new.trim()]);
    let third = import_git(&src, &repo, &ImportOptions::default(), &mut |_| {}).unwrap();
    assert_eq!((third.commits, third.refs_updated, third.commits_written), (1, 1, 1));
    let moved = repo.refs().read(&RefName::branch("main").unwrap()).unwrap().unwrap();
    let commit = repo.objects().read_commit(&moved).unwrap();
    assert_eq!(commit.parents, [main]);
    assert_eq!(commit.agent_id, "claude");
    assert_eq!(commit.breaking_changes, ["new API"]);
    assert_eq!(commit.metadata["git.commit-id"], new.trim());
}
