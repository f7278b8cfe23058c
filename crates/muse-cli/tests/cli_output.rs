//! Black-box tests of output that other programs consume: a diff that `patch` applies back,
//! status lines that survive odd file names, and a pack on stdout that stays a pack under `--json`.

mod common;

use std::process::Command;

use common::{bin, TestRepo};

#[test]
fn a_diff_applies_back_with_patch_even_without_final_newlines() {
    let repo = TestRepo::new();
    repo.write("keeps.txt", "one\ntwo\n");
    repo.write("gains.txt", "no newline");
    repo.write("crlf.txt", "a\r\nb\r\n");
    repo.commit("base");
    repo.write("keeps.txt", "one\ntwo");
    repo.write("gains.txt", "no newline\nnow two lines\n");
    repo.write("crlf.txt", "a\r\nB\r\n");
    let diff = repo.muse(["diff"]).ok().stdout;
    assert!(diff.contains("\\ No newline at end of file\n"), "{diff}");
    let edited: Vec<(&str, String)> = ["keeps.txt", "gains.txt", "crlf.txt"].iter().map(|p| (*p, repo.read(p))).collect();

    // Back to HEAD's files, then the diff must reproduce the edits byte for byte.
    let originals = [("keeps.txt", "one\ntwo\n"), ("gains.txt", "no newline"), ("crlf.txt", "a\r\nb\r\n")];
    for (path, content) in originals {
        repo.write(path, content);
    }
    let patch_file = repo.root.join("../changes.patch");
    std::fs::write(&patch_file, &diff).unwrap();
    let out = Command::new("patch").args(["-p1", "--binary", "-i"]).arg(&patch_file).current_dir(&repo.root).output().expect("patch runs");
    assert!(out.status.success(), "patch failed: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    for (path, content) in edited {
        assert_eq!(repo.read(path), content, "{path} after patch");
    }

    // JSON marks the line without a newline.
    let json = repo.json(["diff"]).ok().json();
    let lines: Vec<&serde_json::Value> =
        json["files"].as_array().unwrap().iter().flat_map(|f| f["hunks"].as_array().unwrap()).flat_map(|h| h["lines"].as_array().unwrap()).collect();
    assert!(lines.iter().any(|l| l["no_newline_at_eof"] == true), "{json}");
}

#[test]
fn status_quotes_odd_names_and_z_separates_with_nul() {
    let repo = TestRepo::new();
    repo.write("plain.txt", "x");
    repo.write("two\nlines.txt", "x");
    repo.write("quote\"back\\slash.txt", "x");
    let short = repo.muse(["status", "-s"]).ok().stdout;
    assert_eq!(short, "A plain.txt\nA \"quote\\\"back\\\\slash.txt\"\nA \"two\\nlines.txt\"\n");
    let long = repo.muse(["status"]).ok().stdout;
    assert!(long.contains("\"two\\nlines.txt\"\n"), "{long}");
    let z = repo.muse(["status", "-z"]).ok().stdout;
    assert_eq!(z, "A plain.txt\0A quote\"back\\slash.txt\0A two\nlines.txt\0");
}

#[test]
fn bundle_to_stdout_keeps_the_json_report_out_of_the_pack() {
    let repo = TestRepo::new();
    repo.write("a.txt", "hello\n");
    let head = repo.commit("first");
    let out = Command::new(bin()).args(["--json", "bundle", "create", "-"]).current_dir(&repo.root).env("MUSE_AUTHOR", common::AUTHOR).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_str(String::from_utf8_lossy(&out.stderr).trim()).expect("the report is JSON on stderr");
    assert_eq!(report["file"], "-");
    assert_eq!(report["bytes"].as_u64(), Some(out.stdout.len() as u64));

    // What went to stdout is a whole pack: a fresh repository applies it.
    let other = TestRepo::uninit();
    other.muse(["init"]).ok();
    std::fs::write(other.root.join("../in.mpack"), &out.stdout).unwrap();
    other.muse(["bundle", "apply", "../in.mpack"]).ok();
    assert_eq!(other.rev("refs/heads/main"), head);
}

#[test]
fn tracked_files_stay_tracked_under_ignore_rules_and_nested_repositories() {
    let repo = TestRepo::new();
    repo.write("build/keep.txt", "tracked before the rule\n");
    repo.write("sub/a.txt", "a\n");
    repo.write("sub/deep/b.txt", "b\n");
    repo.commit("base");

    // An ignore rule that matches tracked files: they stay tracked, their edits are committed.
    repo.write(".museignore", "build/\n*.txt\n");
    repo.write("build/new.txt", "untracked and ignored\n");
    assert_eq!(common::changes_of(&repo.status()), vec![("added".to_string(), ".museignore".to_string())]);
    repo.write("build/keep.txt", "edited while ignored\n");
    assert!(common::changes_of(&repo.status()).contains(&("modified".to_string(), "build/keep.txt".to_string())));
    repo.commit("ignore rule");
    let files = repo.muse(["log", "--oneline", "--", "build/keep.txt"]).ok().stdout;
    assert_eq!(files.lines().count(), 2, "{files}");
    repo.remove(".museignore");

    // `muse init` inside a tracked directory: its files are not taken for deletions.
    common::Muse::new(&repo.root.join("sub")).args(["init"]).run().ok();
    let status = repo.status();
    // (Without the rule, build/new.txt is an ordinary new file.)
    let expected = serde_json::json!([
        {"path": ".museignore", "status": "deleted", "kind": "file"},
        {"path": "build/new.txt", "status": "added", "kind": "file"}
    ]);
    assert_eq!(status["changes"], expected, "{status}");
    assert_eq!(status["nested"], serde_json::json!(["sub"]));
    repo.commit("drop the rule");
    let warned = repo.muse(["status"]).ok().stderr;
    assert!(warned.contains("sub holds a nested repository"), "{warned}");

    // Two switches later the user's files are all there, byte for byte.
    repo.muse(["switch", "-c", "other", "HEAD~2"]).ok();
    repo.muse(["switch", "main"]).ok();
    assert_eq!(repo.read("build/keep.txt"), "edited while ignored\n");
    assert_eq!(repo.read("sub/a.txt"), "a\n");
    assert_eq!(repo.read("sub/deep/b.txt"), "b\n");
    assert_eq!(repo.read("build/new.txt"), "untracked and ignored\n");
    assert!(repo.muse(["log", "--oneline", "--", "sub/a.txt"]).ok().stdout.lines().count() == 1, "sub/a.txt was never deleted");
    assert!(repo.root.join("sub/.muse").is_dir());
    repo.assert_fsck_clean();
}
