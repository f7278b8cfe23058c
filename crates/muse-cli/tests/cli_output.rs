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
    let lines: Vec<&serde_json::Value> = json["files"].as_array().unwrap().iter().flat_map(|f| f["hunks"].as_array().unwrap()).flat_map(|h| h["lines"].as_array().unwrap()).collect();
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
