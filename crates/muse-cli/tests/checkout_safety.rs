//! All-or-nothing checkout: a switch that finds anything in its way changes nothing (the tree
//! stays byte for byte, modes included); a switch killed at any point leaves a record that
//! `status` and `commit` respect and `muse recover` repairs; nothing is written through a
//! symbolic link; a bundle applied into a fresh repository checks out its branch.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;

use common::{exit, listing, Muse, TestRepo};

/// A repository with `main` (checked out) and `other`, which differ in many ways: a changed
/// file, an added file in a new directory, a removed file, a file that becomes a directory
/// and a directory that becomes a file.
fn two_branches() -> TestRepo {
    let repo = TestRepo::new();
    repo.write("same.txt", "same\n");
    repo.write("changed.txt", "main\n");
    repo.write("gone.txt", "only on main\n");
    repo.write("becomes_dir", "a file on main\n");
    repo.write("becomes_file/inner.txt", "a directory on main\n");
    repo.write("deep/dir/file.txt", "main\n");
    repo.commit("main");
    repo.muse(["switch", "-c", "other"]).ok();
    repo.write("changed.txt", "other\n");
    repo.write("new/dir/added.txt", "added on other\n");
    repo.remove("gone.txt");
    repo.remove("becomes_dir");
    repo.write("becomes_dir/inner.txt", "a directory on other\n");
    std::fs::remove_dir_all(repo.path("becomes_file")).unwrap();
    repo.write("becomes_file", "a file on other\n");
    repo.write("deep/dir/file.txt", "other\n");
    repo.commit("other");
    repo.muse(["switch", "main"]).ok();
    assert!(repo.changes().is_empty());
    repo
}

/// Asserts that `switch other` fails with exit 5 naming `path` and `reason`, changes nothing
/// (listing, HEAD) and that status, a second attempt and fsck behave.
#[track_caller]
fn assert_switch_blocked(repo: &TestRepo, path: &str, reason: &str, force_helps: bool) {
    let before = listing(&repo.root);
    let head = std::fs::read(repo.path(".muse/HEAD")).unwrap();
    let run = repo.json(["switch", "other"]).fails_with(exit::CONFLICT, "conflict");
    let message = run.error_json()["message"].as_str().unwrap().to_string();
    assert!(message.contains(path) && message.contains(reason), "{message}");
    assert!(message.contains("nothing was changed"), "{message}");
    assert_eq!(listing(&repo.root), before, "a refused switch changed the working copy");
    assert_eq!(std::fs::read(repo.path(".muse/HEAD")).unwrap(), head);
    assert!(!repo.path(".muse/operation").exists());
    repo.muse(["status"]).ok();
    repo.assert_fsck_clean();
    if !force_helps {
        repo.json(["switch", "--force", "other"]).fails_with(exit::CONFLICT, "conflict");
        assert_eq!(listing(&repo.root), before, "a refused forced switch changed the working copy");
    }
}

#[test]
fn uncommitted_changes_block_the_switch_and_nothing_changes() {
    let repo = two_branches();
    repo.write("changed.txt", "my edit\n");
    assert_switch_blocked(&repo, "changed.txt", "uncommitted changes", true);
    // Deleting a file that differs is a change too.
    repo.write("changed.txt", "main\n");
    repo.remove("deep/dir/file.txt");
    assert_switch_blocked(&repo, "deep/dir/file.txt", "uncommitted changes", true);
}

#[test]
fn untracked_and_ignored_files_in_the_way_block_the_switch() {
    let repo = two_branches();
    repo.write("new/dir/added.txt", "mine, untracked\n");
    assert_switch_blocked(&repo, "new/dir/added.txt", "untracked file", true);
    std::fs::remove_dir_all(repo.path("new")).unwrap();
    repo.write(".museignore", "new/\n");
    repo.commit("ignore new/");
    repo.write("new/dir/added.txt", "mine, ignored\n");
    let before = listing(&repo.root);
    let run = repo.json(["switch", "other"]).fails_with(exit::CONFLICT, "conflict");
    assert!(run.stderr.contains("new/dir/added.txt") && run.stderr.contains("ignored file"), "{}", run.stderr);
    assert_eq!(listing(&repo.root), before);
    repo.assert_fsck_clean();
}

#[test]
fn a_file_where_a_directory_goes_and_a_full_directory_where_a_file_goes_block_the_switch() {
    let repo = two_branches();
    // `new` must become a directory on `other`: an untracked file stands there.
    repo.write("new", "untracked file named like a directory of other\n");
    // `becomes_file` must become a file: the directory holds an untracked file.
    repo.write("becomes_file/mine.txt", "untracked, inside a directory that becomes a file\n");
    let before = listing(&repo.root);
    let run = repo.json(["switch", "other"]).fails_with(exit::CONFLICT, "conflict");
    let message = run.error_json()["message"].as_str().unwrap().to_string();
    // Both are reported at once.
    assert!(message.contains("new (a file stands where a directory must go)"), "{message}");
    assert!(message.contains("becomes_file (a directory with other files in it"), "{message}");
    assert_eq!(listing(&repo.root), before);
    // --force may discard the untracked file in the way, never the directory's content.
    repo.json(["switch", "--force", "other"]).fails_with(exit::CONFLICT, "conflict");
    assert_eq!(listing(&repo.root), before);
    repo.assert_fsck_clean();
}

#[test]
fn a_symlink_replacing_a_tracked_directory_is_never_written_through() {
    let repo = two_branches();
    let outside = repo.tmp.path().join("outside");
    std::fs::create_dir_all(outside.join("dir")).unwrap();
    std::fs::write(outside.join("dir/file.txt"), "outside the repository\n").unwrap();
    std::fs::remove_dir_all(repo.path("deep")).unwrap();
    std::os::unix::fs::symlink(&outside, repo.path("deep")).unwrap();
    assert_switch_blocked(&repo, "deep", "symbolic link", false);
    assert_eq!(std::fs::read_to_string(outside.join("dir/file.txt")).unwrap(), "outside the repository\n");
    // Switching to a branch that removes files under it does not remove them through it either.
    repo.muse(["switch", "-c", "without-deep"]).ok();
    assert_eq!(std::fs::read_to_string(outside.join("dir/file.txt")).unwrap(), "outside the repository\n");
}

#[test]
fn an_unwritable_directory_blocks_the_switch() {
    let repo = two_branches();
    let dir = repo.path("deep/dir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    // Root ignores permission bits; an immutable directory stops it too.
    let immutable = std::process::Command::new("chattr").arg("+i").arg(&dir).status().is_ok_and(|s| s.success());
    let unwritable = std::fs::write(dir.join("probe"), "x").is_err();
    if unwritable {
        assert_switch_blocked(&repo, "deep/dir", "not writable", false);
    }
    if immutable {
        std::process::Command::new("chattr").arg("-i").arg(&dir).status().unwrap();
    }
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let _ = std::fs::remove_file(dir.join("probe"));
    assert!(unwritable, "neither mode 555 nor chattr +i made the directory unwritable");
    repo.muse(["switch", "other"]).ok();
    assert_eq!(repo.read("deep/dir/file.txt"), "other\n");
}

/// The listing of `branch`'s files as a fresh checkout has them.
fn listing_of(repo: &TestRepo, branch: &str) -> BTreeMap<String, (u32, Vec<u8>)> {
    let dir = repo.tmp.path().join(format!("clone-{branch}"));
    let _ = std::fs::remove_dir_all(&dir);
    Muse::new(repo.tmp.path()).args(["clone", repo.root.to_str().unwrap(), dir.to_str().unwrap()]).run().ok();
    Muse::new(&dir).args(["switch", branch]).run().ok();
    let out = listing(&dir);
    std::fs::remove_dir_all(&dir).unwrap();
    out
}

/// A larger pair of branches: 300 files change, 100 are added, 100 removed.
fn large_branches() -> TestRepo {
    let repo = TestRepo::new();
    for i in 0..400 {
        repo.write(&format!("d{}/f{i:03}.txt", i % 7), format!("main {i}\n"));
    }
    repo.write("shared.txt", "on both branches\n");
    repo.commit("main");
    repo.muse(["switch", "-c", "other"]).ok();
    for i in 0..300 {
        repo.write(&format!("d{}/f{i:03}.txt", i % 7), format!("other {i}\n"));
    }
    for i in 300..400 {
        repo.remove(&format!("d{}/f{i:03}.txt", i % 7));
    }
    for i in 0..100 {
        repo.write(&format!("n{}/g{i:03}.txt", i % 3), format!("added {i}\n"));
    }
    repo.commit("other");
    repo.muse(["switch", "main"]).ok();
    repo
}

#[test]
fn a_switch_killed_anywhere_is_refused_by_status_and_commit_and_recovered() {
    let repo = large_branches();
    let main_files = listing(&repo.root);
    let other_files = listing_of(&repo, "other");
    let head_main = std::fs::read_to_string(repo.path(".muse/HEAD")).unwrap();
    let points = ["record", "staged", "1", "50", "99", "100", "101", "250", "499", "500", "head"];
    for (i, point) in points.iter().enumerate() {
        let killed = repo.cmd().args(["switch", "other"]).env("MUSE_TEST_CRASH_AFTER", point).spawn().wait_with_output().unwrap();
        assert!(killed.status.code().is_none(), "the switch was not stopped at {point}");
        assert!(repo.path(".muse/operation").exists(), "no record after a kill at {point}");
        // status and commit refuse, and say what to run.
        let status = repo.json(["status"]).fails_with(exit::CONFLICT, "interrupted");
        assert!(status.stderr.contains("switch was interrupted") && status.stderr.contains("muse recover"), "{}", status.stderr);
        repo.json(["commit", "-m", "must not record a mix"]).fails_with(exit::CONFLICT, "interrupted");
        repo.json(["switch", "other"]).fails_with(exit::CONFLICT, "interrupted");
        repo.assert_fsck_clean();
        // Alternately roll back and finish.
        let finish = i % 2 == 1;
        let args: &[&str] = if finish { &["recover", "--continue"] } else { &["recover"] };
        let report = repo.json(args).ok().json();
        assert_eq!(report["outcome"], if finish { "finished" } else { "rolled_back" });
        assert_eq!(report["kept"].as_array().unwrap().len(), 0);
        assert!(!repo.path(".muse/operation").exists());
        let head = std::fs::read_to_string(repo.path(".muse/HEAD")).unwrap();
        if finish {
            assert_eq!(listing(&repo.root), other_files, "after a kill at {point} and recover --continue");
            assert_eq!(head, "ref: refs/heads/other\n");
            repo.muse(["switch", "main"]).ok();
        } else {
            assert_eq!(listing(&repo.root), main_files, "after a kill at {point} and recover");
            assert_eq!(head, head_main);
        }
        assert!(repo.changes().is_empty(), "status is not clean after a kill at {point}");
        repo.assert_fsck_clean();
    }
    // Nothing left over in the state directory.
    let leftovers: Vec<_> =
        std::fs::read_dir(repo.path(".muse")).unwrap().filter_map(Result::ok).filter(|e| e.file_name().to_string_lossy().starts_with("staging")).collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    repo.json(["recover"]).ok();
}

#[test]
fn a_failure_while_applying_rolls_back_and_keeps_uncommitted_work() {
    let repo = large_branches();
    repo.write("shared.txt", "my carried edit\n");
    repo.write("untracked.txt", "mine\n");
    repo.write("n0/mine.txt", "untracked in a directory other adds to\n");
    let before = listing(&repo.root);
    for point in ["staged", "1", "200", "499"] {
        let run = repo.cmd().args(["--json", "switch", "other"]).env("MUSE_TEST_CRASH_AFTER", &format!("fail:{point}")).run();
        assert_eq!(run.code, Some(exit::IO), "{}", run.stderr);
        assert_eq!(listing(&repo.root), before, "a failure at {point} was not rolled back");
        assert!(!repo.path(".muse/operation").exists());
        assert_eq!(std::fs::read_to_string(repo.path(".muse/HEAD")).unwrap(), "ref: refs/heads/main\n");
    }
    repo.muse(["switch", "other"]).ok();
    assert_eq!(repo.read("n0/mine.txt"), "untracked in a directory other adds to\n");
    assert_eq!(repo.read("untracked.txt"), "mine\n");
    assert_eq!(repo.read("shared.txt"), "my carried edit\n");
    repo.assert_fsck_clean();
}

#[test]
fn a_branch_created_by_a_killed_switch_is_rolled_back_with_it() {
    let repo = large_branches();
    let killed = repo.cmd().args(["switch", "-c", "fresh", "other"]).env("MUSE_TEST_CRASH_AFTER", "head").spawn().wait_with_output().unwrap();
    assert!(killed.status.code().is_none());
    assert!(repo.path(".muse/refs/heads/fresh").exists());
    repo.json(["recover"]).ok();
    assert!(!repo.path(".muse/refs/heads/fresh").exists());
    assert!(repo.changes().is_empty());
    repo.assert_fsck_clean();
}

#[test]
fn bundle_apply_into_a_fresh_repository_checks_out_the_branch() {
    let src = two_branches();
    let bundle = src.tmp.path().join("all.bundle");
    src.json(["bundle", "create", bundle.to_str().unwrap()]).ok();
    let dst = TestRepo::new();
    let out = dst.json(["bundle", "apply", bundle.to_str().unwrap()]).ok().json();
    assert_eq!(out["checkout"]["written"], 6);
    assert!(dst.changes().is_empty(), "status after apply: {:?}", dst.changes());
    assert_eq!(dst.read("changed.txt"), "main\n");
    // A commit now records only what changed, not the deletion of everything.
    dst.write("changed.txt", "edited\n");
    let commit = dst.commit_json("edit", &[]);
    assert!(commit["commit_id"].is_string());
    assert_eq!(dst.json(["diff", "HEAD~1", "HEAD"]).ok().json()["files"].as_array().unwrap().len(), 1);
    dst.assert_fsck_clean();

    // Files in the way: nothing is checked out and the branch is not created (HEAD stays unborn).
    let blocked = TestRepo::new();
    blocked.write("changed.txt", "mine\n");
    let run = blocked.json(["bundle", "apply", bundle.to_str().unwrap()]).fails_with(exit::CONFLICT, "conflict");
    assert!(run.stderr.contains("changed.txt"), "{}", run.stderr);
    assert_eq!(blocked.read("changed.txt"), "mine\n");
    assert!(!blocked.path(".muse/refs/heads/main").exists());
    assert_eq!(blocked.changes(), [("added".to_string(), "changed.txt".to_string())]);
    blocked.assert_fsck_clean();
}

#[test]
fn undo_rolls_back_an_interrupted_switch_and_only_that() {
    let repo = large_branches();
    let main_files = listing(&repo.root);
    let killed = repo.cmd().args(["switch", "other"]).env("MUSE_TEST_CRASH_AFTER", "150").spawn().wait_with_output().unwrap();
    assert!(killed.status.code().is_none());
    let report = repo.json(["undo"]).ok().json();
    assert_eq!(report["outcome"], "rolled_back");
    assert_eq!(report["kind"], "switch");
    assert_eq!(listing(&repo.root), main_files);
    assert_eq!(std::fs::read_to_string(repo.path(".muse/HEAD")).unwrap(), "ref: refs/heads/main\n");
    // The next undo undoes the last recorded operation (the switch back to main in setup).
    repo.json(["undo"]).ok();
    assert_eq!(std::fs::read_to_string(repo.path(".muse/HEAD")).unwrap(), "ref: refs/heads/other\n");
    assert!(repo.changes().is_empty());
    repo.assert_fsck_clean();
}
