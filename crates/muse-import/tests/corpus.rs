//! Acceptance on real histories: commit count, every branch and tag tip's files and contents,
//! `log -- PATH` against git's, and re-imports. CI runs the smallest bundle (muse-python);
//! `bench/import.sh` runs the ignored test over every bundle in release mode.

mod common;

use std::path::Path;
use std::time::Instant;

use common::{corpus_dir, git, git_files, git_id_of, import_into, mirror_bundle, muse_files};
use muse_import::{import_git, ImportOptions, ImportSummary};
use muse_store::history::LogWalk;
use muse_store::{Head, RefName, Repository};

/// Checks that the commit count matches git's and that every ref of `src` was imported, points
/// at the same commit and has the same files with the same contents.
fn check_refs_and_trees(src: &Path, repo: &Repository, summary: &ImportSummary) {
    let git_count: u64 = git(src, &["rev-list", "--count", "--all"]).trim().parse().unwrap();
    assert_eq!(summary.commits, git_count);
    assert_eq!(summary.commits_written, git_count);
    let refs = git(src, &["for-each-ref", "--format=%(refname)"]);
    let mut branches = 0;
    for full in refs.lines() {
        let muse_ref = RefName::parse(full).unwrap();
        let id = repo.refs().read(&muse_ref).unwrap().unwrap_or_else(|| panic!("{full} not imported"));
        let peeled = git(src, &["rev-parse", &format!("{full}^{{commit}}")]);
        assert_eq!(git_id_of(repo, id), peeled.trim(), "{full} points elsewhere");
        let snapshot = repo.objects().read_commit(&id).unwrap().snapshot;
        assert_eq!(muse_files(repo, snapshot), git_files(src, full), "files of {full} differ");
        branches += usize::from(muse_ref.is_branch());
    }
    assert_eq!(summary.branches as usize, branches);
    assert_eq!(summary.tags as usize, refs.lines().count() - branches);
}

/// Checks that the Muse path history of each of `paths` on `branch` is `git log --format=%H`'s.
fn check_path_logs(src: &Path, repo: &Repository, branch: &str, paths: &[String]) {
    let tip = repo.refs().read(&RefName::branch(branch).unwrap()).unwrap().unwrap();
    for path in paths {
        let expected: Vec<String> = git(src, &["log", "--format=%H", branch, "--", path]).lines().map(str::to_string).collect();
        let actual: Vec<String> = LogWalk::new(repo, &[tip], vec![path.clone()]).unwrap().map(|c| c.unwrap().1.metadata["git.commit-id"].clone()).collect();
        assert!(!expected.is_empty(), "{path} has no history");
        assert_eq!(actual, expected, "log -- {path}");
    }
}

/// The `n` paths most often changed on `branch`, as the corpus README lists them.
fn busiest_paths(src: &Path, branch: &str, n: usize) -> Vec<String> {
    let mut counts = std::collections::HashMap::<String, usize>::new();
    for line in git(src, &["log", "--format=", "--name-only", branch]).lines().filter(|l| !l.is_empty()) {
        *counts.entry(line.to_string()).or_default() += 1;
    }
    let mut ranked: Vec<(String, usize)> = counts.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    ranked.into_iter().take(n).map(|(p, _)| p).collect()
}

/// Every bundle of the corpus (or those named in `MUSE_BENCH_BUNDLES`, space-separated):
/// refs, trees and the path history of the three busiest files of the default branch.
#[test]
#[ignore = "minutes of work: run by bench/import.sh in release mode"]
fn every_corpus_bundle_imports_like_git_sees_it() {
    let names: Vec<String> = match std::env::var("MUSE_BENCH_BUNDLES") {
        Ok(list) => list.split_whitespace().map(str::to_string).collect(),
        Err(_) => {
            let entries = std::fs::read_dir(corpus_dir()).unwrap();
            let mut all: Vec<String> = entries.filter_map(|e| e.ok()?.file_name().into_string().ok()).filter(|n| n.ends_with(".bundle")).collect();
            all.sort();
            all
        }
    };
    for name in names {
        let tmp = tempfile::tempdir().unwrap();
        let src = mirror_bundle(&name, tmp.path());
        let (repo, summary) = import_into(&src, &tmp.path().join("muse"));
        check_refs_and_trees(&src, &repo, &summary);
        let default = git(&src, &["symbolic-ref", "--short", "HEAD"]).trim().to_string();
        let paths = busiest_paths(&src, &default, 3);
        check_path_logs(&src, &repo, &default, &paths);
        println!("{name}: {} commits, {} refs; trees and log -- {paths:?} match git", summary.commits, summary.branches + summary.tags);
    }
}

#[test]
fn muse_python_imports_like_git_sees_it() {
    let tmp = tempfile::tempdir().unwrap();
    let src = mirror_bundle("muse-python.bundle", tmp.path());
    let (repo, summary) = import_into(&src, &tmp.path().join("muse"));

    check_refs_and_trees(&src, &repo, &summary);
    assert_eq!(repo.head().unwrap(), Head::Branch(RefName::branch("main").unwrap()));
    let mut paths = busiest_paths(&src, "main", 3);
    assert_eq!(paths, ["muse/cli/app.py", "muse/domain.py", "muse/core/store.py"], "the corpus README's busiest files");
    paths.extend(["README.md".to_string(), "muse".to_string()]);
    check_path_logs(&src, &repo, "main", &paths);
    let main = repo.refs().read(&RefName::branch("main").unwrap()).unwrap().unwrap();
    let git_count = summary.commits;

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
