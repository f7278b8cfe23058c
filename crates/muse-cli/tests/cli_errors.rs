//! Exit codes and JSON errors for bad input and damaged stores: not a repository, unknown
//! revisions and prefixes, invalid values, paths outside the repository, unreadable files,
//! corrupted packs, indexes and refs, missing objects, held locks, usage errors.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;

use common::{exit, hex_of, Muse, Run, TestRepo};
use serde_json::json;

/// Every command that needs a repository, with valid arguments.
const REPO_COMMANDS: &[&[&str]] = &[
    &["status"],
    &["status", "--short"],
    &["commit", "-m", "x"],
    &["diff"],
    &["log"],
    &["show"],
    &["branch"],
    &["branch", "b"],
    &["switch", "main"],
    &["tag"],
    &["tag", "t"],
    &["fsck"],
    &["workspace", "list"],
    &["config"],
    &["config", "user.author", "X"],
];

#[test]
fn outside_a_repository_every_command_exits_3() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plain");
    std::fs::create_dir(&dir).unwrap();
    for args in REPO_COMMANDS {
        let run = Muse::new(&dir).args(["--json"]).args(*args).run().fails_with(exit::NOT_A_REPO, "not_a_repository");
        assert_eq!(run.stdout, "", "{args:?} printed on stdout");
        let text = Muse::new(&dir).args(*args).run().code(exit::NOT_A_REPO);
        assert!(text.stderr.starts_with("error: not a muse repository"), "{args:?}: {}", text.stderr);
    }
    // -C pointing nowhere is not a repository either.
    Muse::new(&dir).args(["--json", "-C", "/nonexistent/place", "status"]).run().fails_with(exit::NOT_A_REPO, "not_a_repository");
    // Nothing was created.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
}

#[test]
fn unknown_revisions_exit_4() {
    let repo = TestRepo::new();
    repo.write("a", "1\n");
    let c = repo.commit("one");
    for args in [
        vec!["log", "nope"],
        vec!["log", "main", "nope"],
        vec!["show", "nope"],
        vec!["diff", "nope"],
        vec!["diff", "HEAD", "nope"],
        vec!["branch", "b", "nope"],
        vec!["tag", "t", "nope"],
        vec!["switch", "--detach", "nope"],
        vec!["switch", "nope"],
        vec!["show", "HEAD~1"],
        vec!["show", "main~5"],
        vec!["log", "HEAD^2"],
        vec!["branch", "-d", "nope"],
        vec!["tag", "-d", "nope"],
        vec!["config", "no.such.key"],
    ] {
        let run = repo.json(&args).code(exit::NOT_FOUND);
        assert_eq!(run.error_json()["kind"], "not_found", "{args:?}");
        assert_eq!(run.stdout, "", "{args:?}");
    }
    // A well-formed id that is not in the store.
    let absent = format!("sha256:{}", "0".repeat(64));
    repo.json(["show", &absent]).fails_with(exit::NOT_FOUND, "not_found");
    // The message names the revision.
    let err = repo.json(["show", "nope"]).error_json();
    assert!(err["message"].as_str().unwrap().contains("nope"), "{err}");
    assert_eq!(repo.rev("HEAD"), c);
}

/// A malformed revision suffix is invalid input (8), never a panic nor a silent guess:
/// `HEAD~x` used to mean `HEAD~2`, and `main~é` sliced inside a UTF-8 character.
#[test]
fn malformed_revision_suffixes_exit_8() {
    let repo = TestRepo::new();
    repo.write("a", "1\n");
    repo.commit("one");
    repo.write("a", "2\n");
    repo.commit("two");
    repo.write("a", "3\n");
    repo.commit("three");
    for rev in ["main~é", "HEAD~x", "HEAD^x", "HEAD~1x", "HEAD~-1", "HEAD~+1", "HEAD~ 1", "@~é~", "main^é", "~1", "^", "HEAD~99999999999999999999999"] {
        for cmd in [vec!["show", rev], vec!["log", rev], vec!["diff", rev, "HEAD"], vec!["switch", "--detach", rev], vec!["branch", "b", rev]] {
            let run = repo.json(&cmd).fails_with(exit::INVALID, "invalid_input");
            assert!(run.error_json()["message"].as_str().unwrap().contains("invalid revision"), "{cmd:?}: {}", run.stderr);
            assert_eq!(run.stdout, "", "{cmd:?}");
        }
    }
    // The well-formed forms still resolve, repeated and mixed.
    let grandparent = repo.rev("HEAD~2");
    assert_eq!(repo.rev("HEAD~~"), grandparent);
    assert_eq!(repo.rev("HEAD^^"), grandparent);
    assert_eq!(repo.rev("HEAD~1^1"), grandparent);
    assert_eq!(repo.rev("main~0^0~2"), grandparent);
    repo.json(["show", "HEAD~3"]).fails_with(exit::NOT_FOUND, "not_found");
}

#[test]
fn id_prefixes_need_at_least_7_hex_digits() {
    let repo = TestRepo::new();
    repo.write("a", "1\n");
    let c = repo.commit("one");
    let hex = hex_of(&c);
    // 7 digits resolve (with or without sha256:), 6 or fewer are rejected as unknown.
    assert_eq!(repo.rev(&hex[..7]), c);
    assert_eq!(repo.rev(&format!("sha256:{}", &hex[..7])), c);
    for short in [&hex[..6], &hex[..4], &hex[..1]] {
        repo.json(["show", short]).fails_with(exit::NOT_FOUND, "not_found");
        repo.json(["log", &format!("sha256:{short}")]).fails_with(exit::NOT_FOUND, "not_found");
    }
    // Not hex at all.
    repo.json(["show", "zzzzzzzz"]).fails_with(exit::NOT_FOUND, "not_found");
    // A prefix matching no commit (flip the first digit).
    let other = if hex.starts_with('0') { "1" } else { "0" };
    repo.json(["show", &format!("{other}{}", &hex[1..9])]).fails_with(exit::NOT_FOUND, "not_found");
}

/// A full id (or prefix) of an object that exists but is not a commit (a tree, a blob) is a user
/// error, not a corrupted store: not found (4), not corrupt (6).
#[test]
fn a_tree_or_blob_id_is_not_a_revision() {
    let repo = TestRepo::new();
    repo.write("a", "1\n");
    let c = repo.commit_json("one", &[]);
    let tree = c["snapshot_id"].as_str().unwrap();
    repo.json(["show", &tree[..20]]).fails_with(exit::NOT_FOUND, "not_found");
    repo.json(["show", tree]).fails_with(exit::NOT_FOUND, "not_found");
    repo.json(["log", hex_of(tree)]).fails_with(exit::NOT_FOUND, "not_found");
    let blob = repo.json(["show"]).ok().json()["files"][0]["new_id"].as_str().unwrap().to_string();
    repo.json(["branch", "b", &blob]).fails_with(exit::NOT_FOUND, "not_found");
    repo.json(["switch", "--detach", &blob]).fails_with(exit::NOT_FOUND, "not_found");
}

#[test]
fn invalid_commit_input_exits_8_and_commits_nothing() {
    let repo = TestRepo::new();
    repo.write("a", "1\n");
    let c = repo.commit("one");
    repo.write("a", "2\n");
    let bad: &[&[&str]] = &[
        &["--bump", "huge"],
        &["--bump", "MAJOR"],
        &["--bump", ""],
        &["--date", "yesterday"],
        &["--date", "2024-13-01T00:00:00Z"],
        &["--date", "2024-01-01T00:00:00"],
        &["--date", "2024-01-01 00:00:00Z"],
        &["--date", ""],
        &["--prompt-hash", "abc"],
        &["--prompt-hash", "sha256:XYZ"],
        &["--prompt-hash", &"a".repeat(64)],
        &["--meta", "novalue"],
        &["--meta", "=v"],
    ];
    for extra in bad {
        let mut args = vec!["commit", "-m", "bad"];
        args.extend_from_slice(extra);
        let run = repo.json(&args).fails_with(exit::INVALID, "invalid_input");
        assert_eq!(run.stdout, "", "{extra:?}");
        repo.cmd().args(&args).run().code(exit::INVALID);
    }
    assert_eq!(repo.log_ids(&[]), [c]);
    assert_eq!(repo.changes().len(), 1, "the working copy is untouched");
}

#[test]
fn a_file_name_that_is_not_utf8_exits_8() {
    use std::os::unix::ffi::OsStrExt;
    let repo = TestRepo::new();
    repo.write("ok.txt", "fine\n");
    let bad = repo.root.join(std::ffi::OsStr::from_bytes(b"bad-\xff-name"));
    std::fs::write(&bad, "x").unwrap();
    // status skips it (docs/cli.md, "Paths that cannot be taken in"); commit refuses, naming it.
    let status = repo.json(["status"]).ok().json();
    assert_eq!(status["skipped"][0]["path"], "bad-\u{fffd}-name", "{status}");
    let err = repo.json(["commit", "-m", "x"]).fails_with(exit::INVALID, "invalid_input").error_json();
    assert!(err["message"].as_str().unwrap().contains("bad-\u{fffd}-name"), "{err}");
    assert_eq!(repo.json(["log"]).ok().json(), json!([]));
}

/// The error for a non-UTF-8 name says "rename it or add it to .museignore": ignoring it works,
/// because the walk applies the ignore rules before it checks the name.
#[test]
fn a_non_utf8_file_name_can_be_ignored() {
    use std::os::unix::ffi::OsStrExt;
    let repo = TestRepo::new();
    repo.write("ok.txt", "fine\n");
    std::fs::write(repo.root.join(std::ffi::OsStr::from_bytes(b"bad-\xff-name")), "x").unwrap();
    std::fs::create_dir(repo.root.join(std::ffi::OsStr::from_bytes(b"dir-\xfe"))).unwrap();
    repo.write(".museignore", "bad-*\ndir-*/\n");
    let c = repo.json(["commit", "-m", "without them"]).ok().json();
    assert_eq!(repo.json(["show", c["commit_id"].as_str().unwrap()]).ok().json()["files"].as_array().unwrap().len(), 2);
}

#[test]
fn paths_outside_the_repository_exit_8() {
    let repo = TestRepo::new();
    repo.write("a", "1\n");
    repo.commit("one");
    let outside = repo.tmp.path().join("elsewhere");
    std::fs::create_dir_all(&outside).unwrap();
    for args in [
        vec!["log", "--", "/etc/passwd"],
        vec!["log", "--", "../elsewhere"],
        vec!["diff", "--", "../elsewhere"],
        vec!["diff", "HEAD", "HEAD", "--", outside.to_str().unwrap()],
        vec!["log", "--", "a", "../../x"],
    ] {
        let run = repo.json(&args).fails_with(exit::INVALID, "invalid_input");
        assert!(run.error_json()["message"].as_str().unwrap().contains("outside"), "{args:?}: {}", run.stderr);
    }
    // A path that climbs out and back in is fine.
    let ok = repo.json(["log", "--", "../repo/a"]).ok().json();
    assert_eq!(ok.as_array().unwrap().len(), 1);
}

/// Makes a tree readable and writable by everyone (for running `muse` as an unprivileged user).
fn open_up(path: &Path) {
    let meta = std::fs::symlink_metadata(path).unwrap();
    if meta.file_type().is_symlink() {
        return;
    }
    let mode = if meta.is_dir() { 0o777 } else { 0o666 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    if meta.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            open_up(&entry.unwrap().path());
        }
    }
}

/// Runs `muse --json ARGS` so that a mode-000 file really is unreadable: directly when the test
/// runs unprivileged, or as user `nobody` (uid/gid 65534) when it runs as root (root reads
/// mode-000 files), using a copy of the binary inside the opened-up temporary directory (the
/// build directory may not be reachable for `nobody`). Returns `None` if neither is possible
/// (e.g. no CAP_SETUID).
fn run_unprivileged(repo: &TestRepo, args: &[&str], privileged: bool) -> Option<Run> {
    if !privileged {
        return Some(repo.cmd().args(["--json"]).args(args).run());
    }
    let program = repo.tmp.path().join("muse-for-nobody");
    if !program.exists() {
        std::fs::copy(common::bin(), &program).unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let as_nobody = |extra: &[&str]| {
        let mut muse = Muse::with_program(&program, &repo.root).args(extra);
        muse.command_mut().uid(65534).gid(65534);
        muse
    };
    if let Err(e) = as_nobody(&["--version"]).command_mut().output() {
        eprintln!("cannot run muse as uid 65534: {e}");
        return None;
    }
    Some(as_nobody(&["--json"]).args(args).run())
}

#[test]
fn unreadable_files_exit_7() {
    let repo = TestRepo::new();
    repo.write("ok.txt", "fine\n");
    let c = repo.commit("one");
    repo.write("secret.txt", "cannot read me\n");
    let secret = repo.path("secret.txt");
    // chmod 000 does not stop root (CAP_DAC_OVERRIDE): detect that, and then run muse as
    // `nobody` with the rest of the repository opened up, so the file is unreadable for it.
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o000)).unwrap();
    let privileged = std::fs::File::open(&secret).is_ok();
    if privileged {
        open_up(repo.tmp.path());
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o000)).unwrap();
    }
    let Some(status) = run_unprivileged(&repo, &["status"], privileged) else {
        eprintln!("skipping: running as root and cannot switch to an unprivileged user");
        return;
    };
    eprintln!("unreadable-file checks run {}", if privileged { "as uid 65534 (the test runs as root)" } else { "as the current user" });
    // status and diff skip it with a warning (docs/cli.md, "Paths that cannot be taken in");
    // commit refuses, naming it.
    let status = status.ok().json();
    assert_eq!(status["skipped"][0]["path"], "secret.txt", "{status}");
    assert!(status["skipped"][0]["reason"].as_str().unwrap().starts_with("cannot read it"), "{status}");
    assert_eq!(status["changes"], json!([]), "an unreadable file is not reported as added: {status}");
    let commit = run_unprivileged(&repo, &["commit", "-m", "nope"], privileged).unwrap();
    let err = commit.fails_with(exit::IO, "io").error_json();
    assert!(err["message"].as_str().unwrap().contains("secret.txt"), "{err}");
    let diff = run_unprivileged(&repo, &["diff"], privileged).unwrap().ok();
    assert!(diff.stderr.contains("warning: skipped secret.txt"), "{}", diff.stderr);
    // Nothing was committed, and once readable again, it commits.
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(repo.log_ids(&[]), std::slice::from_ref(&c));
    let next = repo.commit_json("now readable", &[]);
    assert_eq!(next["parents"], json!([c]));
    repo.assert_fsck_clean();
}

#[test]
fn an_unreadable_prompt_file_exits_7() {
    let repo = TestRepo::new();
    repo.write("a", "1\n");
    let missing = repo.tmp.path().join("no-such-prompt.txt");
    repo.json(["commit", "-m", "x", "--prompt-file", missing.to_str().unwrap()]).fails_with(exit::IO, "io");
    // A directory is not a readable prompt either.
    repo.json(["commit", "-m", "x", "--prompt-file", repo.tmp.path().to_str().unwrap()]).fails_with(exit::IO, "io");
    assert_eq!(repo.json(["log"]).ok().json(), json!([]));
}

#[test]
fn usage_errors_exit_2() {
    let repo = TestRepo::new();
    for args in [
        vec!["bogus"],
        vec!["commit"],
        vec!["commit", "-m"],
        vec!["status", "--nope"],
        vec!["log", "-n", "many"],
        vec!["diff", "a", "b", "c"],
        vec!["switch"],
        vec!["tag", "-d"],
        vec!["workspace", "frobnicate"],
    ] {
        let run = repo.muse(&args).code(exit::USAGE);
        assert!(run.stderr.contains("error"), "{args:?}: {}", run.stderr);
        assert_eq!(run.stdout, "");
    }
    repo.cmd().run().code(exit::USAGE);
    // Help and version are not errors.
    let help = repo.muse(["--help"]).ok();
    assert!(help.stdout.contains("commit"), "{}", help.stdout);
    assert!(repo.muse(["--version"]).ok().stdout.starts_with("muse "));
    repo.muse(["commit", "--help"]).ok();
}

/// Under `--json` (anywhere on the command line), usage errors are JSON too.
#[test]
fn usage_errors_are_json_under_json() {
    let repo = TestRepo::new();
    for args in [vec!["--json", "commit"], vec!["--json", "bogus"], vec!["log", "-n", "x", "--json"], vec!["status", "--json", "--nope"]] {
        let run = repo.muse(&args).fails_with(exit::USAGE, "usage");
        assert_eq!(run.stdout, "", "{args:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Damaged stores

/// A repository with two commits (nested files, a binary file), each in its own pack.
fn damaged_fixture() -> (TestRepo, String, String) {
    let repo = TestRepo::new();
    for i in 0..20 {
        repo.write(&format!("src/m{i}.rs"), format!("pub fn f{i}() -> u32 {{ {i} }}\n").repeat(20));
    }
    repo.write("bin/data.bin", (0..=255u8).collect::<Vec<u8>>());
    let c1 = repo.commit("one");
    repo.write("src/m3.rs", "changed\n");
    repo.write("README", "read me\n");
    let c2 = repo.commit("two");
    assert_eq!(repo.packs().len(), 2);
    (repo, c1, c2)
}

fn flip_byte(path: &Path, offset: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[offset as usize] ^= 0xff;
    std::fs::write(path, bytes).unwrap();
}

/// The pack holding `commit` (the one whose index lists its raw id bytes).
fn pack_of(repo: &TestRepo, commit: &str) -> std::path::PathBuf {
    let raw: Vec<u8> = (0..32).map(|i| u8::from_str_radix(&hex_of(commit)[2 * i..2 * i + 2], 16).unwrap()).collect();
    repo.packs()
        .into_iter()
        .find(|p| {
            let idx = std::fs::read(p.with_extension("idx")).unwrap();
            idx.windows(32).any(|w| w == raw.as_slice())
        })
        .expect("a pack holds the commit")
}

#[test]
fn a_corrupted_commit_object_is_reported_by_fsck_and_reading_commands_exit_6() {
    let (repo, _c1, c2) = damaged_fixture();
    let pack = pack_of(&repo, &c2);
    let len = std::fs::metadata(&pack).unwrap().len();
    // The commit is the last entry written; its payload ends right before the 32-byte checksum.
    flip_byte(&pack, len - 33);
    let fsck = repo.json(["fsck"]).fails_with(exit::CORRUPT, "corrupt");
    let report = fsck.json();
    assert_eq!(report["ok"], false);
    let problems = report["report"]["problems"].as_array().unwrap();
    assert!(!problems.is_empty());
    assert!(problems.iter().any(|p| p["subject"].as_str().unwrap().ends_with(".pack")), "the pack checksum: {report}");
    assert!(problems.iter().any(|p| p["subject"] == c2.as_str()), "the commit object: {report}");
    let text = repo.muse(["fsck"]).code(exit::CORRUPT);
    assert!(text.stdout.contains("PROBLEMS FOUND"), "{}", text.stdout);
    for args in [vec!["log"], vec!["show"], vec!["status"], vec!["diff"], vec!["log", "--oneline"], vec!["commit", "-m", "x", "--allow-empty"]] {
        let run = repo.json(&args).fails_with(exit::CORRUPT, "corrupt");
        assert_eq!(run.stdout, "", "{args:?}");
    }
    // Refs that do not need the damaged object still work.
    repo.muse(["branch"]).ok();
}

#[test]
fn every_flipped_pack_byte_is_caught_by_fsck_and_no_command_panics() {
    let (pristine, c1, _c2) = damaged_fixture();
    let mut cases = 0;
    for (pack_no, pack) in pristine.packs().iter().enumerate() {
        let len = std::fs::metadata(pack).unwrap().len();
        // Header, first entry header fields, payloads, the last entry and the trailer.
        let mut offsets = vec![0, 8, 11, 12, 13, 15, 21, 25, 29, 40, len / 3, len / 2, 2 * len / 3, len - 40, len - 33, len - 32, len - 1];
        offsets.retain(|&o| o < len);
        offsets.dedup();
        for offset in offsets {
            let scratch = tempfile::tempdir().unwrap();
            let copy = scratch.path().join("repo");
            common::copy_tree(&pristine.root, &copy);
            let name = pack.file_name().unwrap();
            flip_byte(&copy.join(".muse/objects/packs").join(name), offset);
            let label = format!("pack {pack_no} offset {offset}/{len}");
            let fsck = Muse::new(&copy).args(["--json", "fsck"]).run();
            assert_eq!(fsck.code, Some(exit::CORRUPT), "{label}: fsck missed it: {}", fsck.stdout);
            let report = fsck.json();
            assert_eq!(report["ok"], false, "{label}");
            assert!(!report["report"]["problems"].as_array().unwrap().is_empty(), "{label}: {report}");
            for args in [
                vec!["log"],
                vec!["log", "--all", "--", "src"],
                vec!["show"],
                vec!["show", c1.as_str()],
                vec!["status"],
                vec!["diff", "HEAD~1", "HEAD"],
                vec!["switch", "--detach", c1.as_str()],
                vec!["commit", "-m", "on a damaged store", "--allow-empty"],
            ] {
                let run = Muse::new(&copy).args(["--json"]).args(&args).run();
                match run.code {
                    Some(0) => {}
                    Some(code) => {
                        let err = run.error_json();
                        assert!(
                            code == exit::CORRUPT && err["kind"] == "corrupt" || code == exit::CONFLICT && args[0] == "switch",
                            "{label}: `{args:?}` exited {code}: {err}"
                        );
                    }
                    None => unreachable!("checked by run()"),
                }
                cases += 1;
            }
        }
    }
    assert!(cases > 100, "only {cases} cases ran");
    eprintln!("{cases} command runs on damaged copies");
}

#[test]
fn a_corrupted_pack_index_fails_every_command_with_6() {
    let (repo, _c1, c2) = damaged_fixture();
    let idx = pack_of(&repo, &c2).with_extension("idx");
    flip_byte(&idx, 100);
    repo.json(["fsck"]).fails_with(exit::CORRUPT, "corrupt");
    for args in [vec!["log"], vec!["status"], vec!["show"], vec!["branch"]] {
        repo.json(&args).fails_with(exit::CORRUPT, "corrupt");
    }
}

#[test]
fn a_corrupted_ref_exits_6() {
    let (repo, c1, _c2) = damaged_fixture();
    repo.muse(["tag", "v1", &c1]).ok();
    std::fs::write(repo.path(".muse/refs/heads/main"), "not an id\n").unwrap();
    repo.json(["log"]).fails_with(exit::CORRUPT, "corrupt");
    repo.json(["status"]).fails_with(exit::CORRUPT, "corrupt");
    repo.json(["fsck"]).fails_with(exit::CORRUPT, "corrupt");
    // A ref pointing at something that is not a commit in the store: fsck reports it.
    std::fs::write(repo.path(".muse/refs/heads/main"), format!("sha256:{}\n", "ab".repeat(32))).unwrap();
    let fsck = repo.json(["fsck"]).fails_with(exit::CORRUPT, "corrupt");
    let problems = fsck.json()["report"]["problems"].clone();
    assert!(problems.as_array().unwrap().iter().any(|p| p["subject"] == "refs/heads/main"), "{problems}");
    // Reading through it: the commit is missing (4).
    repo.json(["log"]).fails_with(exit::NOT_FOUND, "not_found");
    // The tag is still usable.
    assert_eq!(repo.rev("v1"), c1);
}

#[test]
fn a_missing_pack_means_missing_objects() {
    let (repo, c1, c2) = damaged_fixture();
    let pack = pack_of(&repo, &c2);
    std::fs::remove_file(pack.with_extension("idx")).unwrap();
    std::fs::remove_file(&pack).unwrap();
    let fsck = repo.json(["fsck"]).fails_with(exit::CORRUPT, "corrupt");
    assert_eq!(fsck.json()["ok"], false);
    repo.json(["log"]).fails_with(exit::NOT_FOUND, "not_found");
    repo.json(["show", &c2]).fails_with(exit::NOT_FOUND, "not_found");
    // The older commit is intact.
    let shown = repo.json(["show", &c1]).ok().json();
    assert_eq!(shown["commit"]["message"], "one");
}

#[test]
fn a_held_ref_lock_is_a_conflict_after_a_timeout() {
    let repo = TestRepo::new();
    repo.write("a", "1\n");
    let c = repo.commit("one");
    repo.write("a", "2\n");
    // Another process holding the branch's lock (an advisory lock on `main.lock`, here taken by
    // this test): the commit waits, then gives up with a conflict.
    let lock_path = repo.path(".muse/refs/heads/main.lock");
    let lock = std::fs::OpenOptions::new().write(true).create(true).truncate(false).open(&lock_path).unwrap();
    lock.lock().unwrap();
    let started = std::time::Instant::now();
    let run = repo.json(["commit", "-m", "blocked"]).fails_with(exit::CONFLICT, "conflict");
    assert!(started.elapsed() >= std::time::Duration::from_secs(5), "gave up too early");
    assert!(run.error_json()["message"].as_str().unwrap().contains("locked"), "{}", run.stderr);
    assert_eq!(repo.rev("main"), c);
    // Tags and other branches are not blocked by main's lock.
    repo.muse(["tag", "while-locked"]).ok();
    // Once released, committing works, and the store is sound despite the abandoned pack.
    drop(lock);
    repo.commit("unblocked");
    repo.assert_fsck_clean();
    // A lock file nobody holds (left by a dead process, whatever it contains) does not block.
    repo.write("a", "3\n");
    std::fs::write(&lock_path, "999999999\n").unwrap();
    let started = std::time::Instant::now();
    repo.commit("after a crash");
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "waited for a dead writer's lock");
}

/// docs/cli.md: fsck verifies everything and prints its report (`{"ok", "report": {"problems":
/// […]}}`), exit 6 when problems is not empty; an unparsable pack entry header or a ref file that
/// does not hold an id is one problem in the report, not a reason to stop early.
#[test]
fn fsck_reports_damaged_entry_headers_and_refs_as_problems() {
    let (repo, c1, c2) = damaged_fixture();
    // The kind byte of the first entry of c2's pack.
    let pack = pack_of(&repo, &c2);
    flip_byte(&pack, 12);
    let fsck = repo.json(["fsck"]).fails_with(exit::CORRUPT, "corrupt");
    let report = fsck.json();
    assert_eq!(report["ok"], false);
    assert!(!report["report"]["problems"].as_array().unwrap().is_empty());

    let (repo, _c1, _c2) = damaged_fixture();
    repo.muse(["tag", "v1", &c1]).ok();
    std::fs::write(repo.path(".muse/refs/tags/v1"), "not an id\n").unwrap();
    let fsck = repo.json(["fsck"]).fails_with(exit::CORRUPT, "corrupt");
    let problems = fsck.json()["report"]["problems"].clone();
    assert!(problems.as_array().unwrap().iter().any(|p| p["subject"] == "refs/tags/v1"), "{problems}");
}

// ---------------------------------------------------------------------------------------------
// Closed stdout

/// Starts `muse ARGS` with stdout on a pipe, reads a few bytes, closes the pipe, and returns
/// the finished run (the helper asserts there was no panic).
fn run_with_closed_stdout(dir: &Path, args: &[&str]) -> Run {
    use std::io::Read;
    let mut child = Muse::new(dir).args(args).spawn();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 16];
    let _ = stdout.read(&mut first);
    drop(stdout);
    Run::from_output(&format!("muse {}", args.join(" ")), child.wait_with_output().unwrap())
}

/// docs/cli.md: "Writing to a closed pipe (`muse log | head`) ends the command quietly." Every
/// command whose output grows with the repository must stop without a panic or a message.
#[test]
fn a_closed_stdout_ends_commands_quietly() {
    let repo = TestRepo::new();
    // Enough output to overflow a pipe buffer (64 KiB) several times.
    // (2000 paths of ~64 bytes: every listing below is well over 64 KiB.)
    for i in 0..2000 {
        repo.write(&format!("some/deeper/directory/a-file-with-a-rather-long-name-{i:05}.txt"), format!("{i}\n"));
    }
    repo.write("big.txt", (0..20000).map(|i| format!("line {i}\n")).collect::<String>());
    for args in [&["status"][..], &["status", "--short"], &["diff", "--name-only"], &["diff"], &["--json", "status"], &["--json", "diff"]] {
        let run = run_with_closed_stdout(&repo.root, args);
        assert_eq!(run.stderr, "", "`muse {args:?}` with a closed stdout");
    }
    let c = repo.commit("many files");
    repo.write("big.txt", (0..20000).map(|i| format!("LINE {i}\n")).collect::<String>());
    // Many refs (written directly, as an import would leave them: quicker than 1000 processes).
    // 1500 refs of each kind, ~87 bytes per listed line: about 130 KB per listing.
    for i in 0..1500 {
        for kind in ["heads", "tags"] {
            let name = format!("a-fairly-long-ref-name-to-fill-the-pipe-buffer-of-the-reader-quickly-{i:04}");
            std::fs::write(repo.path(&format!(".muse/refs/{kind}/{name}")), format!("{c}\n")).unwrap();
        }
    }
    for args in [&["show"][..], &["--json", "show"], &["diff", "HEAD"], &["log", "--all"], &["tag"], &["--json", "tag"], &["branch"], &["--json", "branch"]] {
        let run = run_with_closed_stdout(&repo.root, args);
        assert_eq!(run.stderr, "", "`muse {args:?}` with a closed stdout");
    }
}

/// Runs `muse ARGS` with its stdout a pipe whose reader is already gone (`muse branch x | true`).
fn run_with_stdout_gone(dir: &Path, args: &[&str]) -> Run {
    let mut child = Muse::new(dir).args(args).spawn();
    drop(child.stdout.take());
    Run::from_output(&format!("muse {}", args.join(" ")), child.wait_with_output().unwrap())
}

/// Even a one-line confirmation must not panic when nobody reads it; the command still does its
/// work and ends quietly.
#[test]
fn a_stdout_closed_before_any_output_is_not_a_panic() {
    let repo = TestRepo::uninit();
    let ws = repo.tmp.path().join("ws");
    let steps: Vec<Vec<String>> = vec![
        vec!["init".into()],
        vec!["config".into(), "user.author".into(), "Piped <p@example.com>".into()],
        vec!["config".into(), "user.author".into()],
        vec!["config".into()],
        vec!["commit".into(), "-m".into(), "one".into(), "--allow-empty".into()],
        vec!["branch".into(), "b1".into()],
        vec!["branch".into(), "-d".into(), "b1".into()],
        vec!["tag".into(), "t1".into()],
        vec!["tag".into(), "-d".into(), "t1".into()],
        vec!["switch".into(), "-c".into(), "b2".into()],
        vec!["switch".into(), "main".into()],
        vec!["switch".into(), "--detach".into(), "HEAD".into()],
        vec!["switch".into(), "main".into()],
        vec!["fsck".into()],
        vec!["workspace".into(), "add".into(), ws.display().to_string()],
        vec!["workspace".into(), "list".into()],
        vec!["workspace".into(), "remove".into(), ws.display().to_string()],
        vec!["status".into()],
        vec!["log".into()],
        vec!["show".into()],
        vec!["--json".into(), "log".into()],
    ];
    for step in &steps {
        let args: Vec<&str> = step.iter().map(String::as_str).collect();
        let run = run_with_stdout_gone(&repo.root, &args);
        assert_eq!(run.stderr, "", "`muse {args:?}` with no reader");
    }
    // Every step did its work.
    assert_eq!(repo.muse(["config", "user.author"]).ok().stdout, "Piped <p@example.com>\n");
    assert_eq!(repo.json(["log"]).ok().json().as_array().unwrap().len(), 1);
    let branches: Vec<String> = repo.json(["branch"]).ok().json().as_array().unwrap().iter().map(|b| b["name"].as_str().unwrap().to_string()).collect();
    assert_eq!(branches, ["b2", "main", "ws"]);
    assert_eq!(repo.json(["tag"]).ok().json(), json!([]));
    assert_eq!(repo.status()["branch"], "main");
    assert!(!ws.exists());
}
