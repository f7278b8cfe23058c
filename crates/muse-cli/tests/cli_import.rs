//! Black-box tests of `muse import git`: a fresh import with checkout, JSON summary, no-op and
//! incremental re-runs, the default target directory, and exit codes on bad input.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::{exit, Muse};
use serde_json::Value;

/// Runs git in `dir` with a fixed identity and no user configuration; returns stdout.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Ada")
        .env("GIT_AUTHOR_EMAIL", "ada@example.com")
        .env("GIT_COMMITTER_NAME", "Ada")
        .env("GIT_COMMITTER_EMAIL", "ada@example.com")
        .output()
        .expect("git is installed");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// A git repository with a working tree: main (2 commits: a file, an executable, a symlink),
/// a branch `feature` and an annotated tag `v1`.
fn git_source(root: &Path) -> std::path::PathBuf {
    let src = root.join("src");
    std::fs::create_dir(&src).unwrap();
    git(&src, &["init", "--quiet", "--initial-branch", "main"]);
    std::fs::write(src.join("a.txt"), "one\n").unwrap();
    std::fs::create_dir(src.join("bin")).unwrap();
    std::fs::write(src.join("bin/run.sh"), "#!/bin/sh\necho hi\n").unwrap();
    std::fs::set_permissions(src.join("bin/run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("a.txt", src.join("link")).unwrap();
    git(&src, &["add", "."]);
    git(&src, &["commit", "--quiet", "-m", "first"]);
    std::fs::write(src.join("a.txt"), "two\n").unwrap();
    git(&src, &["commit", "--quiet", "-am", "feat!: second\n\nCo-authored-by: Claude <noreply@anthropic.com>"]);
    git(&src, &["branch", "feature", "HEAD~1"]);
    git(&src, &["tag", "-a", "v1", "-m", "v1", "HEAD~1"]);
    src
}

fn import(cwd: &Path, args: &[&str]) -> common::Run {
    Muse::new(cwd).args(["--json", "import", "git"]).args(args).run()
}

#[test]
fn import_checks_out_the_default_branch_and_reruns_incrementally() {
    let tmp = tempfile::tempdir().unwrap();
    let src = git_source(tmp.path());
    let run = import(tmp.path(), &["src", "dest"]).ok();
    let summary: Value = run.json();
    assert_eq!(summary["commits"], 2);
    assert_eq!((summary["branches"].as_u64(), summary["tags"].as_u64()), (Some(2), Some(1)));
    assert_eq!(summary["head"], "main");
    assert_eq!(summary["checkout"]["written"], 3);
    for field in ["snapshots", "objects_written", "seconds", "skipped_refs", "warnings"] {
        assert!(summary.get(field).is_some(), "summary lacks {field}: {summary}");
    }
    let dest = tmp.path().join("dest");
    assert_eq!(std::fs::read_to_string(dest.join("a.txt")).unwrap(), "two\n");
    assert_eq!(std::fs::metadata(dest.join("bin/run.sh")).unwrap().permissions().mode() & 0o111, 0o111);
    assert_eq!(std::fs::read_link(dest.join("link")).unwrap(), Path::new("a.txt"));
    let log: Value = Muse::new(&dest).args(["--json", "log"]).run().ok().json();
    assert_eq!(log[0]["agent_id"], "claude");
    assert_eq!(log[0]["sem_ver_bump"], "major");
    let status: Value = Muse::new(&dest).args(["--json", "status"]).run().ok().json();
    assert_eq!(status["clean"], true, "{status}");

    let again: Value = import(tmp.path(), &["src", "dest"]).ok().json();
    assert_eq!((again["commits"].as_u64(), again["refs_updated"].as_u64()), (Some(0), Some(0)));
    assert_eq!(again["checkout"], Value::Null);

    std::fs::write(src.join("new.txt"), "new\n").unwrap();
    git(&src, &["add", "new.txt"]);
    git(&src, &["commit", "--quiet", "-m", "third"]);
    let third: Value = import(tmp.path(), &["src", "dest"]).ok().json();
    assert_eq!((third["commits"].as_u64(), third["commits_previously_imported"].as_u64()), (Some(1), Some(2)));
    assert_eq!(std::fs::read_to_string(dest.join("new.txt")).unwrap(), "new\n", "the working copy follows main");
}

#[test]
fn the_target_defaults_to_the_repository_name() {
    let tmp = tempfile::tempdir().unwrap();
    git_source(tmp.path());
    git(tmp.path(), &["clone", "--quiet", "--bare", "src", "other.git"]);
    import(tmp.path(), &["other.git"]).ok();
    assert_eq!(std::fs::read_to_string(tmp.path().join("other/a.txt")).unwrap(), "two\n");
}

#[test]
fn bad_input_has_stable_exit_codes() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("plain")).unwrap();
    let run = import(tmp.path(), &["plain", "dest"]).code(exit::INVALID);
    assert_eq!(run.error_json()["kind"], "invalid_input");
    assert!(!tmp.path().join("dest").exists(), "a failed first import leaves nothing behind");
    std::fs::create_dir(tmp.path().join("empty")).unwrap();
    import(tmp.path(), &["plain", "empty"]).code(exit::INVALID);
    assert!(tmp.path().join("empty").is_dir() && !tmp.path().join("empty/.muse").exists());
    git_source(tmp.path());
    std::fs::create_dir(tmp.path().join("busy")).unwrap();
    std::fs::write(tmp.path().join("busy/file"), "x").unwrap();
    let run = import(tmp.path(), &["src", "busy"]).code(exit::CONFLICT);
    assert_eq!(run.error_json()["kind"], "conflict");
}
