//! Read-only commands never fail on a cache write, and paths that cannot be read or named are
//! skipped by `status` (with a warning) and refused by name by `commit`.

mod common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;

use common::TestRepo;
use serde_json::json;

/// Whether `status` text lists `path` with `word` (`modified:`, `added:`, …).
fn lists(stdout: &str, word: &str, path: &str) -> bool {
    stdout.lines().any(|l| l.trim_start().strip_prefix(word).is_some_and(|rest| rest.trim_start() == path))
}

const CACHE_WARNING: &str = "warning: could not save the stat cache (";

/// A directory named `statcache` where the cache file goes makes its atomic rename fail, for
/// root too: status and diff still answer, with one warning each; commit still lands.
#[test]
fn status_and_diff_answer_when_the_stat_cache_cannot_be_saved() {
    let repo = TestRepo::new();
    repo.write("a.txt", "one\n");
    repo.commit("base");
    let cache = repo.path(".muse/statcache");
    assert!(cache.is_file(), "the main working copy's cache lives at .muse/statcache");
    std::fs::remove_file(&cache).unwrap();
    std::fs::create_dir(&cache).unwrap();
    std::fs::write(cache.join("keep"), "x").unwrap();
    repo.write("a.txt", "two\n");

    let status = repo.muse(["status"]).ok();
    assert!(lists(&status.stdout, "modified:", "a.txt"), "{}", status.stdout);
    assert_eq!(status.stderr.matches(CACHE_WARNING).count(), 1, "{}", status.stderr);
    assert!(status.stderr.contains("): the next status will re-read files"), "{}", status.stderr);

    let json = repo.json(["status"]).ok();
    assert_eq!(json.json()["changes"], json!([{"path": "a.txt", "status": "modified", "kind": "file"}]));
    assert_eq!(json.json()["skipped"], json!([]));
    assert_eq!(json.stderr.matches(CACHE_WARNING).count(), 1, "under --json the warning goes to stderr: {}", json.stderr);

    let diff = repo.muse(["diff"]).ok();
    assert!(diff.stdout.contains("-one\n+two\n"), "{}", diff.stdout);
    assert_eq!(diff.stderr.matches(CACHE_WARNING).count(), 1, "{}", diff.stderr);
    let diff = repo.json(["diff"]).ok();
    assert_eq!(diff.json()["files"][0]["path"], "a.txt");

    // A commit has landed once its branch moved: the cache is only a warning there too.
    let commit = repo.muse(["commit", "-m", "two", "--author", common::AUTHOR]).ok();
    assert_eq!(commit.stderr.matches(CACHE_WARNING).count(), 1, "{}", commit.stderr);
    assert_eq!(repo.status()["clean"], true);
    repo.muse(["commit", "-m", "nothing", "--author", common::AUTHOR]).code(1);

    // Once the obstacle is gone the cache is written again.
    std::fs::remove_dir_all(&cache).unwrap();
    let status = repo.muse(["status"]).ok();
    assert!(status.stderr.is_empty(), "{}", status.stderr);
    assert!(cache.is_file());
    repo.assert_fsck_clean();
}

/// Names that are not UTF-8 (a file, and a directory with a file inside) are skipped by
/// `status` with a warning each, listed in its JSON, refused by `commit` (exit 8, naming each),
/// and silently left out once `.museignore` excludes them.
#[test]
fn names_that_are_not_utf8_are_skipped_by_status_and_refused_by_commit() {
    let repo = TestRepo::new();
    repo.write("a.txt", "one\n");
    repo.commit("base");
    std::fs::write(repo.root.join(OsStr::from_bytes(b"bad\xff.tmp")), "x").unwrap();
    let dir = repo.root.join(OsStr::from_bytes(b"dir\xfe.tmp"));
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("inner"), "y").unwrap();
    repo.write("new.txt", "new\n");

    let status = repo.muse(["status"]).ok();
    assert!(lists(&status.stdout, "added:", "new.txt"), "{}", status.stdout);
    let warnings: Vec<&str> = status.stderr.lines().collect();
    assert_eq!(warnings.len(), 2, "{}", status.stderr);
    assert!(warnings[0].starts_with("warning: skipped bad\u{fffd}.tmp: the name is not valid UTF-8"), "{}", status.stderr);
    assert!(warnings[1].starts_with("warning: skipped dir\u{fffd}.tmp: the name is not valid UTF-8"), "{}", status.stderr);

    let json = repo.json(["status"]).ok();
    let doc = json.json();
    assert!(json.stderr.is_empty(), "under --json skipped paths are in the document: {}", json.stderr);
    assert_eq!(doc["clean"], false);
    assert_eq!(doc["changes"], json!([{"path": "new.txt", "status": "added", "kind": "file"}]));
    let skipped = doc["skipped"].as_array().unwrap();
    assert_eq!(skipped.iter().map(|s| s["path"].as_str().unwrap()).collect::<Vec<_>>(), ["bad\u{fffd}.tmp", "dir\u{fffd}.tmp"]);
    assert!(skipped.iter().all(|s| s["reason"].as_str().unwrap().contains("not valid UTF-8")), "{doc}");

    let refused = repo.json(["commit", "-m", "add", "--author", common::AUTHOR]).fails_with(8, "invalid_input");
    let message = refused.error_json()["message"].as_str().unwrap().to_string();
    assert!(message.contains("bad\u{fffd}.tmp") && message.contains("dir\u{fffd}.tmp"), "{message}");
    assert_eq!(repo.log_messages(&[]), ["base"], "nothing was committed");

    repo.write(".museignore", "*.tmp\n");
    let status = repo.muse(["status"]).ok();
    assert!(status.stderr.is_empty(), "ignored paths are not warned about: {}", status.stderr);
    repo.commit("add");
    let shown = repo.json(["show"]).ok().json();
    let mut paths: Vec<&str> = shown["files"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    paths.sort_unstable();
    assert_eq!(paths, [".museignore", "new.txt"]);
    repo.assert_fsck_clean();
}

/// A tracked file and a directory that cannot be read (mode 000) are skipped by `status` — not
/// reported deleted or modified — and named by `commit`, which refuses with exit 7. Root reads
/// mode-000 files, so under root this is covered by the unit test
/// `unreadable_files_and_directories_are_skipped_not_deleted` in muse-store, which injects the
/// failure.
#[test]
fn unreadable_files_are_skipped_by_status_and_refused_by_commit() {
    let repo = TestRepo::new();
    repo.write("a.txt", "one\n");
    repo.write("secret.txt", "s\n");
    repo.write("locked/inner.txt", "i\n");
    repo.commit("base");
    let set_mode = |rel: &str, mode: u32| std::fs::set_permissions(repo.path(rel), std::fs::Permissions::from_mode(mode)).unwrap();
    set_mode("secret.txt", 0o000);
    set_mode("locked", 0o000);
    if std::fs::read(repo.path("secret.txt")).is_ok() {
        set_mode("locked", 0o755);
        eprintln!("running with privileges that read mode-000 files: covered by the muse-store unit test instead");
        return;
    }
    repo.write("a.txt", "two\n");
    let status = repo.muse(["status"]).ok();
    assert!(status.stderr.contains("warning: skipped locked: cannot open the directory"), "{}", status.stderr);
    assert!(status.stderr.contains("warning: skipped secret.txt: cannot read it"), "{}", status.stderr);
    let doc = repo.status();
    assert_eq!(doc["changes"], json!([{"path": "a.txt", "status": "modified", "kind": "file"}]));
    assert_eq!(doc["skipped"].as_array().unwrap().len(), 2, "{doc}");
    repo.json(["commit", "-m", "x", "--author", common::AUTHOR]).fails_with(7, "io");
    set_mode("secret.txt", 0o644);
    set_mode("locked", 0o755);
    assert_eq!(repo.changes(), [("modified".to_string(), "a.txt".to_string())]);
    repo.assert_fsck_clean();
}
