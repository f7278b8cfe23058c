//! Odd but real git input, crafted with real git: odd time zones, zero-padded modes, submodules,
//! non-UTF-8 names, empty directories, tags of trees, shallow clones, damaged objects.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::{git, git_bytes, import_into, muse_files};
use muse_core::{CommitId, EntryKind, SemVerBump};
use muse_import::{import_git, ImportError, ImportOptions};
use muse_store::{RefName, Repository};

/// The crafted repository and the ids the assertions need.
struct Fixture {
    git_dir: PathBuf,
    blob_a: String,
    c1: String,
    c2: String,
}

fn hash_object(dir: &Path, kind: &str, content: &[u8]) -> String {
    let out = git_bytes(dir, &["hash-object", "-w", "--literally", "-t", kind, "--stdin"], Some(content));
    String::from_utf8(out).unwrap().trim().to_string()
}

fn mktree(dir: &Path, listing: &[u8]) -> String {
    String::from_utf8(git_bytes(dir, &["mktree"], Some(listing))).unwrap().trim().to_string()
}

fn raw_id(hex: &str) -> Vec<u8> {
    hex::decode(hex).unwrap()
}

/// A bare repository whose `main` is: c1 (every kind of entry) ← c2 (odd time zone, zero-padded
/// tree mode) ← c3 (merge of c2 and c1 with provenance trailers); tags `v1` (annotated, on c1)
/// and `treetag` (on a tree).
fn fixture(tmp: &Path) -> Fixture {
    let git_dir = tmp.join("q.git");
    git(tmp, &["init", "--quiet", "--bare", "q.git"]);
    let blob_a = hash_object(&git_dir, "blob", b"hello\n");
    let blob_x = hash_object(&git_dir, "blob", b"#!/bin/sh\n");
    let target = hash_object(&git_dir, "blob", b"a.txt");
    let sub = mktree(&git_dir, format!("100644 blob {blob_a}\tb.txt\n").as_bytes());
    let empty = mktree(&git_dir, b"");
    let mut listing = format!(
        "100644 blob {blob_a}\ta.txt\n100755 blob {blob_x}\trun.sh\n120000 blob {target}\tlink\n040000 tree {sub}\tdir\n\
         040000 tree {empty}\temptydir\n160000 commit 1111111111111111111111111111111111111111\tvendor\n"
    )
    .into_bytes();
    listing.extend_from_slice(format!("100644 blob {blob_a}\tcaf").as_bytes());
    listing.extend_from_slice(b"\xe9.txt\n");
    let root1 = mktree(&git_dir, &listing);
    let c1 = git(&git_dir, &["commit-tree", &root1, "-m", "first"]).trim().to_string();

    let mut padded = b"100644 a.txt\0".to_vec();
    padded.extend(raw_id(&blob_a));
    padded.extend_from_slice(b"040000 dir\0");
    padded.extend(raw_id(&sub));
    let root2 = hash_object(&git_dir, "tree", &padded);
    let odd = format!("tree {root2}\nparent {c1}\nauthor Odd <odd@x.org> 1313584730 +051800\ncommitter Odd <odd@x.org> 1313584730 +051800\n\nodd tz\n");
    let c2 = hash_object(&git_dir, "commit", odd.as_bytes());
    let message = "merge\n\nCo-authored-by: Claude <noreply@anthropic.com>\nSemver: minor";
    let c3 = git(&git_dir, &["commit-tree", &root1, "-p", &c2, "-p", &c1, "-m", message]).trim().to_string();
    git(&git_dir, &["update-ref", "refs/heads/main", &c3]);
    git(&git_dir, &["symbolic-ref", "HEAD", "refs/heads/main"]);
    git(&git_dir, &["tag", "-a", "v1", "-m", "version 1", &c1]);
    git(&git_dir, &["tag", "treetag", &root1]);
    Fixture { git_dir, blob_a, c1, c2 }
}

fn muse_id(repo: &Repository, map_git: &str) -> CommitId {
    let tip = repo.refs().read(&RefName::branch("main").unwrap()).unwrap().unwrap();
    let mut stack = vec![tip];
    while let Some(id) = stack.pop() {
        let commit = repo.objects().read_commit(&id).unwrap();
        if commit.metadata["git.commit-id"] == map_git {
            return id;
        }
        stack.extend(commit.parents);
    }
    panic!("git commit {map_git} not imported");
}

#[test]
fn quirky_history_imports_without_loss() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = fixture(tmp.path());
    let (repo, summary) = import_into(&fx.git_dir, &tmp.path().join("muse"));
    assert_eq!((summary.commits, summary.branches, summary.tags), (3, 1, 1));
    assert_eq!((summary.submodules_skipped, summary.submodule_paths.clone()), (1, vec!["vendor".to_string()]));
    assert_eq!(summary.paths_skipped, 1);
    assert_eq!(summary.skipped_paths[0].path, "caf\\xe9.txt");
    assert!(summary.skipped_paths[0].reason.contains("UTF-8"));
    assert!(summary.skipped_refs.iter().any(|r| r.name == "refs/tags/treetag" && r.reason.contains("tree")));
    assert_eq!(summary.head.as_deref(), Some("main"));

    let c1 = muse_id(&repo, &fx.c1);
    let first = repo.objects().read_commit(&c1).unwrap();
    let files = muse_files(&repo, first.snapshot);
    let hello = muse_core::blob_id(b"hello\n");
    let expected = [
        ("a.txt", EntryKind::File, hello),
        ("dir/b.txt", EntryKind::File, hello),
        ("link", EntryKind::Symlink, muse_core::blob_id(b"a.txt")),
        ("run.sh", EntryKind::Executable, muse_core::blob_id(b"#!/bin/sh\n")),
    ];
    assert_eq!(files, expected.iter().map(|(p, k, id)| (p.to_string(), (*k, *id))).collect(), "empty dir, submodule and bad name dropped");
    assert_eq!(repo.refs().read(&RefName::tag("v1").unwrap()).unwrap(), Some(c1));
    assert_eq!(first.metadata["git.committer"], "Test Committer <committer@example.com>");

    let c2 = muse_id(&repo, &fx.c2);
    let odd = repo.objects().read_commit(&c2).unwrap();
    assert_eq!(odd.committed_at, "2011-08-17T12:38:50Z");
    assert_eq!(odd.metadata["git.committer-raw-date"], "1313584730 +051800");
    assert_eq!(odd.metadata["git.author-raw-date"], "1313584730 +051800");
    let padded_dir = repo.objects().read_tree(&odd.snapshot).unwrap().get("dir").unwrap().id;
    let normal_dir = repo.objects().read_tree(&first.snapshot).unwrap().get("dir").unwrap().id;
    assert_eq!(padded_dir, normal_dir, "a zero-padded mode converts like a normal one");

    let tip = repo.refs().read(&RefName::branch("main").unwrap()).unwrap().unwrap();
    let merge = repo.objects().read_commit(&tip).unwrap();
    assert_eq!(merge.parents, [c2, c1]);
    assert_eq!((merge.agent_id.as_str(), merge.sem_ver_bump), ("claude", SemVerBump::Minor));

    let strict = Repository::init(&tmp.path().join("strict"), "main").unwrap();
    let opts = ImportOptions { strict_paths: true, ..ImportOptions::default() };
    match import_git(&fx.git_dir, &strict, &opts, &mut |_| {}) {
        Err(ImportError::InvalidPath { path, commit, .. }) => assert_eq!((path.as_str(), commit.to_string()), ("caf\\xe9.txt", fx.c1.clone())),
        other => panic!("expected InvalidPath, got {other:?}"),
    }
}

#[test]
fn shallow_clones_import_what_is_there() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = fixture(tmp.path());
    let url = format!("file://{}", fx.git_dir.display());
    git(tmp.path(), &["clone", "--quiet", "--depth", "1", &url, "shallow"]);
    let (repo, summary) = import_into(&tmp.path().join("shallow"), &tmp.path().join("muse"));
    assert!(summary.shallow);
    assert!(summary.warnings.iter().any(|w| w.contains("shallow")));
    assert_eq!(summary.commits, 1);
    assert!(summary.skipped_refs.iter().any(|r| r.name.starts_with("refs/remotes/")));
    let tip = repo.refs().read(&RefName::branch("main").unwrap()).unwrap().unwrap();
    let commit = repo.objects().read_commit(&tip).unwrap();
    assert!(commit.parents.is_empty());
    assert_eq!(commit.metadata["git.shallow-parents"], format!("{} {}", fx.c2, fx.c1));
}

#[test]
fn bad_input_gives_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repository::init(&tmp.path().join("muse"), "main").unwrap();
    let nowhere = tmp.path().join("not-a-repo");
    std::fs::create_dir(&nowhere).unwrap();
    let err = import_git(&nowhere, &repo, &ImportOptions::default(), &mut |_| {}).unwrap_err();
    assert!(matches!(err, ImportError::NotAGitRepository { .. }), "{err:?}");
    assert!(err.to_string().contains("not-a-repo"));

    let fx = fixture(tmp.path());
    let object = |id: &str| fx.git_dir.join("objects").join(&id[..2]).join(&id[2..]);
    let hello = object(&fx.blob_a);
    let original = std::fs::read(&hello).unwrap();
    std::fs::set_permissions(&hello, std::fs::Permissions::from_mode(0o644)).unwrap();
    let other = hash_object(&fx.git_dir, "blob", b"not hello\n");
    std::fs::write(&hello, std::fs::read(object(&other)).unwrap()).unwrap();
    match import_git(&fx.git_dir, &repo, &ImportOptions::default(), &mut |_| {}) {
        Err(ImportError::CorruptObject { id, kind: "blob", .. }) => assert_eq!(id.to_string(), fx.blob_a),
        other => panic!("expected a corrupted blob, got {other:?}"),
    }
    std::fs::remove_file(&hello).unwrap();
    match import_git(&fx.git_dir, &repo, &ImportOptions::default(), &mut |_| {}) {
        Err(ImportError::MissingObject { id, kind: "blob", .. }) => assert_eq!(id.to_string(), fx.blob_a),
        other => panic!("expected a missing blob, got {other:?}"),
    }
    std::fs::write(&hello, original).unwrap();
    let summary = import_git(&fx.git_dir, &repo, &ImportOptions::default(), &mut |_| {}).unwrap();
    assert_eq!(summary.commits, 3, "nothing of the failed runs was recorded as imported");
}

/// Appends `count` commits after `parent` (none: a new history), each rewriting `notes.txt`
/// with one more line; points `main` at the last and returns it.
fn edit_many_times(git_dir: &Path, from: usize, count: usize, mut parent: Option<String>) -> String {
    for i in from..from + count {
        let text: String = (0..=i).map(|n| format!("line {n}: {}\n", "x".repeat(40))).collect();
        let blob = hash_object(git_dir, "blob", text.as_bytes());
        let tree = mktree(git_dir, format!("100644 blob {blob}\tnotes.txt\n").as_bytes());
        let mut args = vec!["commit-tree", tree.as_str(), "-m", "edit"];
        if let Some(parent) = &parent {
            args.extend(["-p", parent.as_str()]);
        }
        parent = Some(git(git_dir, &args).trim().to_string());
    }
    let tip = parent.expect("at least one commit");
    git(git_dir, &["update-ref", "refs/heads/main", &tip]);
    tip
}

#[test]
fn long_edit_chains_stay_readable() {
    let tmp = tempfile::tempdir().unwrap();
    let git_dir = tmp.path().join("edits.git");
    git(tmp.path(), &["init", "--quiet", "--bare", "edits.git"]);
    git(&git_dir, &["symbolic-ref", "HEAD", "refs/heads/main"]);
    // 80 versions of one file: stored as deltas, the chain must still be cut before the store's
    // read limit of 64 bases.
    let tip = edit_many_times(&git_dir, 0, 80, None);
    let (repo, first) = import_into(&git_dir, &tmp.path().join("muse"));
    assert_eq!(first.commits, 80);
    edit_many_times(&git_dir, 80, 30, Some(tip));
    let second = import_git(&git_dir, &repo, &ImportOptions::default(), &mut |_| {}).unwrap();
    assert_eq!(second.commits, 30);
    let total = first.bytes_written + second.bytes_written;
    let mut tip = repo.refs().read(&RefName::branch("main").unwrap()).unwrap();
    let mut versions = 0;
    while let Some(id) = tip {
        let commit = repo.objects().read_commit(&id).unwrap();
        let file = repo.objects().read_tree(&commit.snapshot).unwrap().get("notes.txt").unwrap().id;
        repo.objects().read(&file).unwrap();
        versions += 1;
        tip = commit.parents.first().copied();
    }
    assert_eq!(versions, 110);
    let whole: u64 = (0..110u64).map(|i| (i + 1) * 50).sum();
    assert!(total < whole / 4, "110 versions took {total} bytes; deltas should make that far less than {whole}");
}

#[test]
fn an_empty_root_tree_is_the_empty_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    let git_dir = tmp.path().join("empty.git");
    git(tmp.path(), &["init", "--quiet", "--bare", "empty.git"]);
    let empty_tree = mktree(&git_dir, b"");
    let root = git(&git_dir, &["commit-tree", &empty_tree, "-m", "nothing yet"]);
    git(&git_dir, &["update-ref", "refs/heads/main", root.trim()]);
    git(&git_dir, &["symbolic-ref", "HEAD", "refs/heads/main"]);
    let (repo, summary) = import_into(&git_dir, &tmp.path().join("muse"));
    assert_eq!((summary.commits, summary.snapshots), (1, 1));
    let tip = repo.refs().read(&RefName::branch("main").unwrap()).unwrap().unwrap();
    let snapshot = repo.objects().read_commit(&tip).unwrap().snapshot;
    assert_eq!(snapshot, muse_core::Tree::empty_id());
    assert!(repo.objects().read_tree(&snapshot).unwrap().is_empty(), "the empty tree object is stored");
}

/// A bare repository whose `main` holds one file `depth` names deep (`d/…/d/f`), via fast-import.
fn deep_git_repo(tmp: &Path, name: &str, depth: usize) -> PathBuf {
    let git_dir = tmp.join(name);
    git(tmp, &["init", "--quiet", "--bare", name]);
    let path = format!("{}f", "d/".repeat(depth - 1));
    let stream = format!("commit refs/heads/main\ncommitter A <a@example.com> 1700000000 +0000\ndata 5\ndeep\nM 100644 inline {path}\ndata 5\ndeep\n\n");
    git_bytes(&git_dir, &["fast-import", "--quiet"], Some(stream.as_bytes()));
    git_dir
}

/// `docs/import-git.md`: a path beyond the limits stops the import (whatever `--strict-paths`
/// says), naming the path; a path exactly at the limit imports.
#[test]
fn paths_beyond_the_depth_limit_stop_the_import() {
    let tmp = tempfile::tempdir().unwrap();
    let at_limit = deep_git_repo(tmp.path(), "ok.git", muse_core::MAX_TREE_DEPTH);
    let (repo, _) = import_into(&at_limit, &tmp.path().join("ok"));
    let tip = repo.refs().read(&RefName::branch("main").unwrap()).unwrap().unwrap();
    let files = muse_files(&repo, repo.objects().read_commit(&tip).unwrap().snapshot);
    assert_eq!(files.keys().map(|p| p.split('/').count()).collect::<Vec<_>>(), [muse_core::MAX_TREE_DEPTH]);

    let too_deep = deep_git_repo(tmp.path(), "deep.git", muse_core::MAX_TREE_DEPTH + 1);
    let target = Repository::init(&tmp.path().join("deep"), "main").unwrap();
    match import_git(&too_deep, &target, &ImportOptions::default(), &mut |_| {}) {
        Err(ImportError::PathTooDeep { path, reason, .. }) => {
            assert_eq!(path.split('/').count(), muse_core::MAX_TREE_DEPTH + 1, "{path}");
            assert!(reason.contains("1025 names"), "{reason}");
        }
        other => panic!("expected PathTooDeep, got {other:?}"),
    }
    assert_eq!(target.refs().read(&RefName::branch("main").unwrap()).unwrap(), None);
}

/// A tree converted once (legal where it first sits) and placed deeper by a later commit is not
/// walked again, yet the later commit is refused: its snapshot is measured from its subtrees.
#[test]
fn a_converted_tree_placed_too_deep_later_stops_the_import() {
    let tmp = tempfile::tempdir().unwrap();
    let git_dir = tmp.path().join("reuse.git");
    git(tmp.path(), &["init", "--quiet", "--bare", "reuse.git"]);
    let deep = format!("a/{}f", "d/".repeat(999));
    let copy_to = format!("{}a", "b/".repeat(30));
    let stream = format!(
        "commit refs/heads/main\ncommitter A <a@example.com> 1700000000 +0000\ndata 6\nfirst\nM 100644 inline {deep}\ndata 5\ndeep\n\n\
         commit refs/heads/main\ncommitter A <a@example.com> 1700000001 +0000\ndata 7\nsecond\nC a {copy_to}\n\n"
    );
    git_bytes(&git_dir, &["fast-import", "--quiet"], Some(stream.as_bytes()));
    let second = git(&git_dir, &["rev-parse", "main"]).trim().to_string();
    let target = Repository::init(&tmp.path().join("reuse"), "main").unwrap();
    match import_git(&git_dir, &target, &ImportOptions::default(), &mut |_| {}) {
        Err(ImportError::PathTooDeep { commit, path, reason }) => {
            assert_eq!((commit.to_string(), path.as_str()), (second, "its snapshot"));
            assert!(reason.contains("1031 names"), "{reason}");
        }
        other => panic!("expected PathTooDeep, got {other:?}"),
    }
}

/// `docs/import-git.md`: a symlink whose target Muse cannot store (`docs/formats.md` §3: 1 to
/// 4095 bytes of UTF-8 without NUL, as `muse commit` requires) is an unstorable entry: skipped
/// and listed with the reason, or refused (exit 8) under `--strict-paths`. The same bytes as a
/// regular file are imported.
#[test]
fn symlinks_with_unstorable_targets_are_skipped_and_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let git_dir = tmp.path().join("links.git");
    git(tmp.path(), &["init", "--quiet", "--bare", "links.git"]);
    let good = hash_object(&git_dir, "blob", b"target.txt");
    let empty = hash_object(&git_dir, "blob", b"");
    let nul = hash_object(&git_dir, "blob", b"a\0b");
    let latin1 = hash_object(&git_dir, "blob", b"caf\xe9");
    let long = hash_object(&git_dir, "blob", &vec![b'x'; muse_core::MAX_SYMLINK_TARGET + 1]);
    let listing = format!(
        "120000 blob {empty}\tempty-link\n120000 blob {good}\tgood-link\n120000 blob {latin1}\tlatin1-link\n\
         120000 blob {long}\tlong-link\n120000 blob {nul}\tnul-link\n100644 blob {nul}\tnul.bin\n"
    );
    let root = mktree(&git_dir, listing.as_bytes());
    let commit = git(&git_dir, &["commit-tree", &root, "-m", "links"]).trim().to_string();
    git(&git_dir, &["update-ref", "refs/heads/main", &commit]);
    git(&git_dir, &["symbolic-ref", "HEAD", "refs/heads/main"]);

    let (repo, summary) = import_into(&git_dir, &tmp.path().join("muse"));
    let skipped: Vec<(&str, &str)> = summary.skipped_paths.iter().map(|s| (s.path.as_str(), s.reason.as_str())).collect();
    assert_eq!(summary.paths_skipped, 4, "{skipped:?}");
    for (path, why) in [("empty-link", "empty"), ("latin1-link", "UTF-8"), ("long-link", "4096 bytes long"), ("nul-link", "NUL")] {
        assert!(skipped.iter().any(|(p, reason)| *p == path && reason.contains("symlink") && reason.contains(why)), "{path}: {skipped:?}");
    }
    let tip = repo.refs().read(&RefName::branch("main").unwrap()).unwrap().unwrap();
    let files = muse_files(&repo, repo.objects().read_commit(&tip).unwrap().snapshot);
    let expected = [("good-link", EntryKind::Symlink, muse_core::blob_id(b"target.txt")), ("nul.bin", EntryKind::File, muse_core::blob_id(b"a\0b"))];
    assert_eq!(files, expected.iter().map(|(p, k, id)| (p.to_string(), (*k, *id))).collect());

    let strict = Repository::init(&tmp.path().join("strict"), "main").unwrap();
    let opts = ImportOptions { strict_paths: true, ..ImportOptions::default() };
    match import_git(&git_dir, &strict, &opts, &mut |_| {}) {
        Err(e @ ImportError::InvalidPath { .. }) => {
            assert!(e.to_string().contains("empty-link") && e.to_string().contains("symlink"), "{e}");
            assert_eq!(e.kind(), muse_store::ErrorKind::InvalidInput);
        }
        other => panic!("expected InvalidPath, got {other:?}"),
    }
}
