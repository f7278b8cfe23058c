//! Black-box tests of `muse init`, `muse commit` (every flag and default), `muse config` and
//! `muse status`.

mod common;

use common::{assert_is_id, changes_of, exit, id_of, Muse, TestRepo, AUTHOR, COMMIT_FIELDS};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

#[track_caller]
fn assert_commit_shape(commit: &Value) {
    let obj = commit.as_object().unwrap_or_else(|| panic!("a commit is a JSON object: {commit}"));
    for field in COMMIT_FIELDS {
        assert!(obj.contains_key(field), "commit JSON lacks {field}: {commit}");
    }
    assert_is_id(commit["commit_id"].as_str().unwrap());
    assert_is_id(commit["snapshot_id"].as_str().unwrap());
    assert!(commit["parents"].is_array() && commit["breaking_changes"].is_array());
    for p in commit["parents"].as_array().unwrap() {
        assert_is_id(p.as_str().unwrap());
    }
}

// ---------------------------------------------------------------------------------------------
// init

#[test]
fn init_creates_an_empty_repository_on_main() {
    let repo = TestRepo::uninit();
    let run = repo.muse(["init"]).ok();
    assert!(run.stdout.contains(".muse") && run.stdout.contains("main"), "init message: {}", run.stdout);
    assert!(repo.path(".muse").is_dir());
    let status = repo.status();
    assert_eq!(status["branch"], "main");
    assert_eq!(status["head"], Value::Null);
    assert_eq!(status["workspace"], Value::Null);
    assert_eq!(status["clean"], true);
    assert_eq!(status["changes"], json!([]));
    let text = repo.muse(["status"]).ok();
    assert!(text.stdout.contains("On branch main (no commits yet)"), "{}", text.stdout);
    assert!(text.stdout.contains("nothing to commit, working copy clean"), "{}", text.stdout);
    // An unborn branch has no history and nothing to list.
    assert_eq!(repo.json(["log"]).ok().json(), json!([]));
    assert_eq!(repo.json(["branch"]).ok().json(), json!([]));
    assert_eq!(repo.json(["tag"]).ok().json(), json!([]));
}

#[test]
fn init_json_with_directory_and_initial_branch() {
    let repo = TestRepo::uninit();
    let out = repo.json(["init", "sub/dir", "-b", "trunk"]).ok().json();
    let expected_path = repo.root.join("sub/dir");
    assert_eq!(out["path"], expected_path.display().to_string());
    assert_eq!(out["branch"], "trunk");
    assert!(expected_path.join(".muse").is_dir());
    // -C runs as if started in the directory.
    let status = Muse::new(&repo.root).args(["--json", "-C", "sub/dir", "status"]).run().ok().json();
    assert_eq!(status["branch"], "trunk");
}

#[test]
fn init_refuses_an_existing_repository() {
    let repo = TestRepo::new();
    repo.json(["init"]).fails_with(exit::CONFLICT, "conflict");
    repo.muse(["init"]).code(exit::CONFLICT);
    // The existing repository is untouched.
    assert_eq!(repo.status()["branch"], "main");
}

#[test]
fn commands_work_from_a_subdirectory() {
    let repo = TestRepo::new();
    repo.write("a/b/c.txt", "deep\n");
    let id = repo.commit("deep");
    let sub = repo.path("a/b");
    let log = Muse::new(&sub).args(["--json", "log"]).run().ok().json();
    assert_eq!(id_of(&log[0]), id);
    std::fs::write(sub.join("c.txt"), "changed\n").unwrap();
    let status = Muse::new(&sub).args(["--json", "status"]).run().ok().json();
    // Paths are always relative to the working-copy root.
    assert_eq!(changes_of(&status), [("modified".to_string(), "a/b/c.txt".to_string())]);
}

// ---------------------------------------------------------------------------------------------
// commit

#[test]
fn commit_records_every_flag() {
    let repo = TestRepo::new();
    repo.write("src/lib.rs", "pub fn f() {}\n");
    repo.write("README", "hello\n");
    let prompt = "Refactor f into g.\nKeep the API.\n";
    std::fs::write(repo.tmp.path().join("prompt.txt"), prompt).unwrap();
    let prompt_path = repo.tmp.path().join("prompt.txt");
    let run = repo
        .json([
            "commit",
            "-m",
            "First commit\n\nWith a body.",
            "--author",
            "Ada Lovelace <ada@example.com>",
            "--date",
            "2025-03-04T05:06:07+02:00",
            "--agent-id",
            "agent-7",
            "--model-id",
            "model-x",
            "--toolchain-id",
            "toolchain-1.2",
            "--prompt-file",
            prompt_path.to_str().unwrap(),
            "--bump",
            "major",
            "--breaking",
            "removed f",
            "--breaking",
            "renamed g",
            "--meta",
            "ticket=MUSE-2",
            "--meta",
            "eq=a=b",
            "--meta",
            "empty=",
        ])
        .ok();
    let c = run.json();
    assert_commit_shape(&c);
    assert_eq!(c["parents"], json!([]));
    assert_eq!(c["message"], "First commit\n\nWith a body.");
    assert_eq!(c["author"], "Ada Lovelace <ada@example.com>");
    // The date is kept exactly as given, offset included.
    assert_eq!(c["committed_at"], "2025-03-04T05:06:07+02:00");
    assert_eq!(c["agent_id"], "agent-7");
    assert_eq!(c["model_id"], "model-x");
    assert_eq!(c["toolchain_id"], "toolchain-1.2");
    let expected_hash = format!("sha256:{:x}", Sha256::digest(prompt.as_bytes()));
    assert_eq!(c["prompt_hash"], expected_hash);
    assert_eq!(c["sem_ver_bump"], "major");
    assert_eq!(c["breaking_changes"], json!(["removed f", "renamed g"]));
    assert_eq!(c["metadata"], json!({"empty": "", "eq": "a=b", "ticket": "MUSE-2"}));

    // `commit --json` prints exactly what `log --json` and `show --json` print for that commit,
    // plus the semver check it made.
    assert_eq!(c["semver"]["declared"], "major");
    let mut c = c;
    c.as_object_mut().unwrap().remove("semver");
    let log = repo.json(["log"]).ok().json();
    assert_eq!(log.as_array().unwrap().len(), 1);
    assert_eq!(log[0], c);
    let show = repo.json(["show"]).ok().json();
    assert_eq!(show["commit"], c);

    // The text views show the provenance.
    let text = repo.muse(["show"]).ok().stdout;
    for needle in [
        "Ada Lovelace <ada@example.com>",
        "2025-03-04T05:06:07+02:00",
        "agent agent-7",
        "model model-x",
        "toolchain toolchain-1.2",
        &expected_hash,
        "major",
        "removed f",
        "renamed g",
        "    First commit",
    ] {
        assert!(text.contains(needle), "show lacks {needle:?}:\n{text}");
    }
}

#[test]
fn commit_text_output_names_branch_short_id_and_file_count() {
    let repo = TestRepo::new();
    repo.write("a", "1\n");
    repo.write("b", "1\n");
    let run = repo.muse(["commit", "-m", "two files\nbody", "--date", "2024-01-01T00:00:00Z"]).ok();
    let id = repo.rev("HEAD");
    let short = &common::hex_of(&id)[..12];
    assert_eq!(run.lines()[0], format!("[main {short}] two files"));
    assert!(run.stdout.contains("2 file(s) changed"), "{}", run.stdout);
}

#[test]
fn commit_accepts_a_prompt_hash_and_rejects_both_prompt_flags() {
    let repo = TestRepo::new();
    repo.write("a", "1\n");
    let hash = format!("sha256:{}", "ab".repeat(32));
    let c = repo.commit_json("hashed", &["--prompt-hash", &hash]);
    assert_eq!(c["prompt_hash"], hash);
    repo.write("a", "2\n");
    std::fs::write(repo.path("p.txt"), "x").unwrap();
    repo.cmd().args(["commit", "-m", "x", "--prompt-file", "p.txt", "--prompt-hash", &hash]).run().code(exit::USAGE);
    // Without a prompt, the hash is empty.
    let c = repo.commit_json("no prompt", &[]);
    assert_eq!(c["prompt_hash"], "");
}

#[test]
fn commit_bump_values_and_defaults() {
    let repo = TestRepo::new();
    repo.write("a", "0\n");
    let c = repo.commit_json("default", &[]);
    // Undeclared, the bump is computed: a changed file that is not documentation is a patch.
    assert_eq!(c["sem_ver_bump"], "patch");
    assert_eq!(c["breaking_changes"], json!([]));
    assert_eq!(c["metadata"], json!({}));
    assert_eq!(c["agent_id"], "");
    assert_eq!(c["model_id"], "");
    assert_eq!(c["toolchain_id"], "");
    assert_eq!(c["author"], AUTHOR);
    for (i, bump) in ["none", "patch", "minor", "major"].into_iter().enumerate() {
        repo.write("a", format!("{i}{bump}\n"));
        let c = repo.commit_json(bump, &["--bump", bump]);
        assert_eq!(c["sem_ver_bump"], bump);
    }
    let oneline = repo.muse(["log", "--oneline", "-n", "1"]).ok().stdout;
    assert!(oneline.contains(" major "), "{oneline}");
}

#[test]
fn commit_parents_chain_and_snapshot_changes() {
    let repo = TestRepo::new();
    repo.write("a", "1\n");
    let first = repo.commit_json("one", &[]);
    repo.write("a", "2\n");
    let second = repo.commit_json("two", &[]);
    assert_eq!(second["parents"], json!([first["commit_id"]]));
    assert_ne!(second["snapshot_id"], first["snapshot_id"]);
    assert_eq!(repo.log_ids(&[]), [id_of(&second), id_of(&first)]);
}

#[test]
fn nothing_to_commit_fails_with_exit_1_unless_allow_empty() {
    let repo = TestRepo::new();
    // Even the first commit needs something (or --allow-empty).
    repo.json(["commit", "-m", "empty"]).fails_with(exit::FAILED, "nothing_to_commit");
    repo.write("a", "1\n");
    let first = repo.commit_json("one", &[]);
    let run = repo.json(["commit", "-m", "again"]).fails_with(exit::FAILED, "nothing_to_commit");
    assert_eq!(run.stdout, "");
    repo.muse(["commit", "-m", "again"]).code(exit::FAILED);
    assert_eq!(repo.log_ids(&[]), [id_of(&first)]);
    let empty = repo.commit_json("empty on purpose", &["--allow-empty"]);
    assert_eq!(empty["parents"], json!([first["commit_id"]]));
    assert_eq!(empty["snapshot_id"], first["snapshot_id"]);
    assert_eq!(repo.log_ids(&[]).len(), 2);
}

#[test]
fn provenance_defaults_come_from_the_environment() {
    let repo = TestRepo::new();
    repo.write("a", "1\n");
    let c = repo
        .cmd()
        .env("MUSE_AUTHOR", "Env Author <env@example.com>")
        .env("MUSE_AGENT_ID", "env-agent")
        .env("MUSE_MODEL_ID", "env-model")
        .env("MUSE_TOOLCHAIN_ID", "env-toolchain")
        .args(["--json", "commit", "-m", "from env", "--date", "2024-01-01T00:00:00Z"])
        .run()
        .ok()
        .json();
    assert_eq!(c["author"], "Env Author <env@example.com>");
    assert_eq!(c["agent_id"], "env-agent");
    assert_eq!(c["model_id"], "env-model");
    assert_eq!(c["toolchain_id"], "env-toolchain");
    // Flags win over the environment.
    repo.write("a", "2\n");
    let c = repo
        .cmd()
        .env("MUSE_AGENT_ID", "env-agent")
        .env("MUSE_MODEL_ID", "env-model")
        .args(["--json", "commit", "-m", "flags", "--agent-id", "flag-agent", "--model-id", "flag-model", "--author", "Flag <f@example.com>"])
        .run()
        .ok()
        .json();
    assert_eq!(c["author"], "Flag <f@example.com>");
    assert_eq!(c["agent_id"], "flag-agent");
    assert_eq!(c["model_id"], "flag-model");
    assert_eq!(c["toolchain_id"], "");
}

#[test]
fn provenance_defaults_come_from_config_after_the_environment() {
    let repo = TestRepo::new();
    for (k, v) in
        [("user.author", "Config Author <c@example.com>"), ("agent.id", "cfg-agent"), ("agent.model", "cfg-model"), ("agent.toolchain", "cfg-toolchain")]
    {
        repo.muse(["config", k, v]).ok();
    }
    repo.write("a", "1\n");
    // No environment at all: config supplies everything.
    let c = repo.cmd().env_remove("MUSE_AUTHOR").args(["--json", "commit", "-m", "cfg"]).run().ok().json();
    assert_eq!(c["author"], "Config Author <c@example.com>");
    assert_eq!(c["agent_id"], "cfg-agent");
    assert_eq!(c["model_id"], "cfg-model");
    assert_eq!(c["toolchain_id"], "cfg-toolchain");
    // The environment wins over config; an empty variable counts as unset.
    repo.write("a", "2\n");
    let c = repo
        .cmd()
        .env("MUSE_AUTHOR", "Env <e@example.com>")
        .env("MUSE_AGENT_ID", "env-agent")
        .env("MUSE_MODEL_ID", "")
        .args(["--json", "commit", "-m", "env"])
        .run()
        .ok()
        .json();
    assert_eq!(c["author"], "Env <e@example.com>");
    assert_eq!(c["agent_id"], "env-agent");
    assert_eq!(c["model_id"], "cfg-model");
    assert_eq!(c["toolchain_id"], "cfg-toolchain");
}

#[test]
fn commit_without_any_author_is_invalid_input() {
    let repo = TestRepo::new();
    repo.write("a", "1\n");
    let run = repo.cmd().env_remove("MUSE_AUTHOR").args(["--json", "commit", "-m", "who?"]).run();
    run.fails_with(exit::INVALID, "invalid_input");
    assert_eq!(repo.json(["log"]).ok().json(), json!([]));
}

#[test]
fn commit_ids_are_deterministic_across_repositories() {
    let make = |date: &str| {
        let repo = TestRepo::new();
        repo.write("src/main.rs", "fn main() {}\n");
        repo.write("docs/a.md", "# A\n");
        repo.write("bin.dat", [0u8, 1, 2, 255]);
        let flags = ["--agent-id", "a1", "--model-id", "m1", "--toolchain-id", "t1", "--bump", "minor", "--breaking", "b1", "--meta", "k=v"];
        let mut args = vec!["commit", "-m", "same", "--date", date];
        args.extend_from_slice(&flags);
        let first = repo.json(&args).ok().json();
        repo.write("docs/a.md", "# A\nmore\n");
        let second = repo.json(["commit", "-m", "second", "--date", "2024-02-02T00:00:00Z"]).ok().json();
        (repo, first, second)
    };
    let (_r1, a1, a2) = make("2024-02-01T10:00:00Z");
    let (_r2, b1, b2) = make("2024-02-01T10:00:00Z");
    assert_eq!(a1, b1, "same tree, same fields: same commit");
    assert_eq!(a2, b2, "same history: same ids");
    let (_r3, c1, c2) = make("2024-02-01T10:00:01Z");
    assert_eq!(c1["snapshot_id"], a1["snapshot_id"], "the tree does not depend on the date");
    assert_ne!(c1["commit_id"], a1["commit_id"], "the date is part of the commit id");
    assert_ne!(c2["commit_id"], a2["commit_id"], "a different parent changes the id");
}

// ---------------------------------------------------------------------------------------------
// config

#[test]
fn config_lists_reads_sets_and_removes() {
    let repo = TestRepo::new();
    assert_eq!(repo.json(["config"]).ok().json(), json!({}));
    assert_eq!(repo.muse(["config"]).ok().stdout, "");
    repo.json(["config", "user.author"]).fails_with(exit::NOT_FOUND, "not_found");
    let set = repo.json(["config", "user.author", "Ada <ada@example.com>"]).ok().json();
    assert_eq!(set, json!({"key": "user.author", "value": "Ada <ada@example.com>"}));
    repo.muse(["config", "agent.id", "bot-1"]).ok();
    assert_eq!(repo.muse(["config", "user.author"]).ok().stdout, "Ada <ada@example.com>\n");
    assert_eq!(repo.json(["config", "agent.id"]).ok().json(), json!({"key": "agent.id", "value": "bot-1"}));
    assert_eq!(repo.json(["config"]).ok().json(), json!({"agent.id": "bot-1", "user.author": "Ada <ada@example.com>"}));
    let text = repo.muse(["config"]).ok().stdout;
    assert_eq!(text, "agent.id = bot-1\nuser.author = Ada <ada@example.com>\n");
    // Overwrite, then remove with an empty value.
    repo.muse(["config", "agent.id", "bot-2"]).ok();
    assert_eq!(repo.muse(["config", "agent.id"]).ok().stdout, "bot-2\n");
    repo.muse(["config", "agent.id", ""]).ok();
    repo.muse(["config", "agent.id"]).code(exit::NOT_FOUND);
    assert_eq!(repo.json(["config"]).ok().json(), json!({"user.author": "Ada <ada@example.com>"}));
    // A key that cannot be stored is invalid input.
    repo.json(["config", "bad=key", "v"]).fails_with(exit::INVALID, "invalid_input");
}

// ---------------------------------------------------------------------------------------------
// status

#[test]
fn status_reports_added_modified_deleted_and_type_changes() {
    let repo = TestRepo::new();
    repo.write("keep", "k\n");
    repo.write("mod", "1\n");
    repo.write("del", "d\n");
    repo.write("exe", "#!/bin/sh\n");
    repo.write("dir/f", "f\n");
    let head = repo.commit("base");
    assert_eq!(repo.status()["clean"], true);

    repo.write("mod", "2\n");
    repo.remove("del");
    repo.write("new/file", "n\n");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(repo.path("exe"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("keep", repo.path("link")).unwrap();

    let status = repo.status();
    assert_eq!(status["branch"], "main");
    assert_eq!(status["head"], head);
    assert_eq!(status["workspace"], Value::Null);
    assert_eq!(status["clean"], false);
    let changes = status["changes"].as_array().unwrap();
    let find = |p: &str| changes.iter().find(|c| c["path"] == p).unwrap_or_else(|| panic!("{p} not in {status}")).clone();
    assert_eq!(find("mod"), json!({"path": "mod", "status": "modified", "kind": "file"}));
    assert_eq!(find("del"), json!({"path": "del", "status": "deleted", "kind": "file"}));
    assert_eq!(find("new/file"), json!({"path": "new/file", "status": "added", "kind": "file"}));
    assert_eq!(find("exe"), json!({"path": "exe", "status": "type_changed", "kind": "executable"}));
    assert_eq!(find("link"), json!({"path": "link", "status": "added", "kind": "symlink"}));
    assert_eq!(changes.len(), 5, "only the changed paths: {status}");
    // Sorted by path.
    let paths: Vec<&str> = changes.iter().map(|c| c["path"].as_str().unwrap()).collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted);

    let short = repo.muse(["status", "--short"]).ok().stdout;
    assert_eq!(short, "D del\nT exe\nA link\nM mod\nA new/file\n");
    let long = repo.muse(["status"]).ok().stdout;
    assert!(long.starts_with("On branch main\n"), "{long}");
    for needle in ["modified:", "deleted:", "added:", "type changed:", "new/file"] {
        assert!(long.contains(needle), "status lacks {needle}:\n{long}");
    }

    // Committing makes the working copy clean again, and the symlink and mode are recorded.
    repo.commit("all");
    assert_eq!(repo.status()["clean"], true);
    assert_eq!(repo.muse(["status", "--short"]).ok().stdout, "");
}

#[test]
fn status_honours_museignore() {
    let repo = TestRepo::new();
    repo.write(".museignore", "*.log\nbuild/\n");
    repo.write("app.log", "noise\n");
    repo.write("build/out.o", "obj\n");
    repo.write("src/a.rs", "a\n");
    let changes = repo.changes();
    let paths: Vec<&str> = changes.iter().map(|(_, p)| p.as_str()).collect();
    assert_eq!(paths, [".museignore", "src/a.rs"]);
    repo.commit("ignored stays out");
    let show = repo.json(["show"]).ok().json();
    let files: Vec<&str> = show["files"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(files, [".museignore", "src/a.rs"]);
}

#[test]
fn status_on_a_detached_head() {
    let repo = TestRepo::new();
    repo.write("a", "1\n");
    let first = repo.commit("one");
    repo.write("a", "2\n");
    repo.commit("two");
    repo.muse(["switch", "--detach", &first]).ok();
    let status = repo.status();
    assert_eq!(status["branch"], Value::Null);
    assert_eq!(status["head"], first);
    let text = repo.muse(["status"]).ok().stdout;
    assert!(text.starts_with(&format!("HEAD detached at {}", &common::hex_of(&first)[..12])), "{text}");
    // Committing on a detached HEAD moves HEAD, not the branch.
    repo.write("a", "3\n");
    let run = repo.json(["commit", "-m", "detached work"]).ok().json();
    assert_eq!(run["parents"], json!([first]));
    assert_eq!(repo.rev("HEAD"), id_of(&run));
    assert_ne!(repo.rev("main"), id_of(&run));
    assert_eq!(repo.status()["head"], run["commit_id"]);
}

#[test]
fn commit_records_the_whole_working_copy_from_a_subdirectory_and_skips_nested_repositories() {
    let repo = TestRepo::new();
    repo.write("top.txt", "top\n");
    repo.write("sub/inner.txt", "inner\n");
    // A nested repository is its own working copy: its files are not part of this one.
    Muse::new(&repo.root).args(["init", "nested"]).run().ok();
    repo.write("nested/own.txt", "not ours\n");
    // A symlink to a directory is stored as a link, not followed.
    std::os::unix::fs::symlink("sub", repo.path("link-to-sub")).unwrap();
    let c = Muse::new(&repo.path("sub")).args(["--json", "commit", "-m", "from sub"]).run().ok().json();
    let show = repo.json(["show", c["commit_id"].as_str().unwrap()]).ok().json();
    let files: Vec<(&str, &str)> = show["files"].as_array().unwrap().iter().map(|f| (f["path"].as_str().unwrap(), f["new_kind"].as_str().unwrap())).collect();
    assert_eq!(files, [("link-to-sub", "symlink"), ("sub/inner.txt", "file"), ("top.txt", "file")]);
    assert_eq!(repo.status()["clean"], true);
}

/// The stat cache must never hide a change: a file rewritten in place with the same size right
/// after `status` cached it (often within the same file-system clock tick, so size, inode and
/// even mtime may be unchanged) is still seen with its new content by `status`, `diff` and
/// `commit`.
#[test]
fn the_stat_cache_never_hides_a_quick_same_size_rewrite() {
    use std::io::Write;
    let repo = TestRepo::new();
    repo.write("f.txt", "version 000\n");
    repo.write("other", "o\n");
    repo.commit("base");
    // A blob's id hashes the blob magic first (docs/formats.md §1), computed here independently.
    let sha = |data: &str| format!("sha256:{:x}", Sha256::digest([b"muse-blob/1\n", data.as_bytes()].concat()));
    for i in 1..=25 {
        let before = format!("version {:03}\n", 2 * i - 1);
        let after = format!("version {:03}\n", 2 * i);
        std::fs::OpenOptions::new().write(true).open(repo.path("f.txt")).unwrap().write_all(before.as_bytes()).unwrap();
        repo.muse(["status"]).ok();
        std::fs::OpenOptions::new().write(true).open(repo.path("f.txt")).unwrap().write_all(after.as_bytes()).unwrap();
        let diff = repo.json(["diff"]).ok().json();
        assert_eq!(diff["files"][0]["new_id"], sha(&after), "iteration {i}: diff sees stale content");
        if i % 5 == 0 {
            let c = repo.commit_json(&format!("commit {i}"), &[]);
            let shown = repo.json(["show", c["commit_id"].as_str().unwrap()]).ok().json();
            assert_eq!(shown["files"][0]["new_id"], sha(&after), "iteration {i}: commit recorded stale content");
            assert_eq!(repo.status()["clean"], true);
        }
    }
}

#[test]
fn fsck_reports_a_sound_store() {
    let repo = TestRepo::new();
    // An empty repository is sound.
    repo.assert_fsck_clean();
    repo.write("a", "1\n");
    repo.write("d/x", "x\n");
    repo.commit("one");
    repo.write("a", "2\n");
    repo.commit("two");
    repo.muse(["tag", "v1"]).ok();
    let out = repo.json(["fsck"]).ok().json();
    assert_eq!(out["ok"], true);
    let r = &out["report"];
    // Blobs 1, x, 2; trees root, d, root'; commits 2.
    assert_eq!(r["objects"], 8, "{out}");
    assert_eq!(r["commits"], 2);
    assert_eq!(r["packs"], 2);
    assert_eq!(r["refs"].as_u64().map(|n| n >= 2), Some(true), "main and v1: {out}");
    assert_eq!(r["problems"], json!([]));
    assert_eq!(r["leftover_temp_files"], 0);
    let text = repo.muse(["fsck"]).ok().stdout;
    assert!(text.starts_with("checked 8 objects (2 commits) in 2 packs") && text.trim_end().ends_with(": ok"), "{text}");
}
