//! Black-box tests of the read-only history commands: `muse diff`, `muse log`, `muse show`, and
//! revision syntax.

mod common;

use common::{exit, hex_of, id_of, Muse, TestRepo, COMMIT_FIELDS};
use serde_json::{json, Value};

/// A repository with four commits on main:
/// c1 adds a, d/x, g; c2 adds b; c3 changes a; c4 deletes a and changes d/x.
struct History {
    repo: TestRepo,
    c: [String; 4],
}

fn history() -> History {
    let repo = TestRepo::new();
    repo.write("a", "a1\n");
    repo.write("d/x", "x1\n");
    repo.write("g", "g\n");
    let c1 = repo.commit("c1");
    repo.write("b", "b1\n");
    let c2 = repo.commit("c2");
    repo.write("a", "a2\n");
    let c3 = repo.commit("c3");
    repo.remove("a");
    repo.write("d/x", "x2\n");
    let c4 = repo.commit("c4");
    History { repo, c: [c1, c2, c3, c4] }
}

/// Owned ids, for comparing with `log_ids`.
fn ids(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn file_paths(doc: &Value) -> Vec<String> {
    doc["files"].as_array().expect("files array").iter().map(|f| f["path"].as_str().unwrap().to_string()).collect()
}

// ---------------------------------------------------------------------------------------------
// diff

#[test]
fn diff_of_the_working_copy_against_head_as_text() {
    let repo = TestRepo::new();
    repo.write("a", "l1\nl2\nl3\n");
    repo.write("g", "gone\n");
    repo.commit("base");
    // A clean working copy has an empty diff.
    assert_eq!(repo.muse(["diff"]).ok().stdout, "");
    repo.write("a", "l1\nL2\nl3\n");
    repo.remove("g");
    repo.write("n", "new\n");
    let out = repo.muse(["diff"]).ok().stdout;
    let expected = "\
diff --muse a/a b/a
--- a/a
+++ b/a
@@ -1,3 +1,3 @@
 l1
-l2
+L2
 l3
diff --muse a/g b/g
deleted file (file)
--- a/g
+++ /dev/null
@@ -1,1 +0,0 @@
-gone
diff --muse a/n b/n
new file (file)
--- /dev/null
+++ b/n
@@ -0,0 +1,1 @@
+new
";
    assert_eq!(out, expected);
    assert_eq!(repo.muse(["diff", "--name-only"]).ok().stdout, "a\ng\nn\n");
}

#[test]
fn diff_json_shape() {
    let repo = TestRepo::new();
    repo.write("a", "l1\nl2\n");
    repo.commit("base");
    repo.write("a", "l1\nl2 changed\nl3\n");
    repo.write("n", "new\n");
    let doc = repo.json(["diff"]).ok().json();
    assert_eq!(file_paths(&doc), ["a", "n"]);
    let a = &doc["files"][0];
    assert_eq!(a["status"], "modified");
    assert_eq!(a["old_kind"], "file");
    assert_eq!(a["new_kind"], "file");
    common::assert_is_id(a["old_id"].as_str().unwrap());
    common::assert_is_id(a["new_id"].as_str().unwrap());
    assert_ne!(a["old_id"], a["new_id"]);
    assert_eq!(a["binary"], false);
    assert_eq!(a["added"], 2);
    assert_eq!(a["removed"], 1);
    let hunk = &a["hunks"][0];
    assert_eq!(
        (hunk["old_start"].as_u64(), hunk["old_lines"].as_u64(), hunk["new_start"].as_u64(), hunk["new_lines"].as_u64()),
        (Some(1), Some(2), Some(1), Some(3))
    );
    let lines: Vec<(String, String)> =
        hunk["lines"].as_array().unwrap().iter().map(|l| (l["kind"].as_str().unwrap().to_string(), l["text"].as_str().unwrap().to_string())).collect();
    assert_eq!(lines, [("context", "l1"), ("removed", "l2"), ("added", "l2 changed"), ("added", "l3")].map(|(k, t)| (k.to_string(), t.to_string())));
    let n = &doc["files"][1];
    assert_eq!(n["status"], "added");
    assert_eq!(n["old_kind"], Value::Null);
    assert_eq!(n["old_id"], Value::Null);
    assert_eq!(n["new_kind"], "file");
    assert_eq!(n["added"], 1);
    // --name-only does not change the JSON document.
    assert_eq!(repo.json(["diff", "--name-only"]).ok().json(), doc);
}

#[test]
fn diff_with_one_and_two_revisions() {
    let h = history();
    let repo = &h.repo;
    // Two revisions: commit against commit, working copy ignored.
    repo.write("b", "dirty\n");
    let two = repo.json(["diff", &h.c[0], &h.c[3]]).ok().json();
    assert_eq!(file_paths(&two), ["a", "b", "d/x"]);
    let statuses: Vec<&str> = two["files"].as_array().unwrap().iter().map(|f| f["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["deleted", "added", "modified"]);
    // Reversed, additions become deletions.
    let back = repo.json(["diff", &h.c[3], &h.c[0]]).ok().json();
    let statuses: Vec<&str> = back["files"].as_array().unwrap().iter().map(|f| f["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["added", "deleted", "modified"]);
    // Same revision twice: nothing.
    assert_eq!(repo.json(["diff", "HEAD", "main"]).ok().json(), json!({"files": []}));
    // One revision: the working copy against it (the dirty b shows up against c4 as modified).
    let one = repo.json(["diff", "HEAD"]).ok().json();
    assert_eq!(file_paths(&one), ["b"]);
    let one = repo.json(["diff", &h.c[1]]).ok().json();
    assert_eq!(file_paths(&one), ["a", "b", "d/x"]);
    let text = repo.muse(["diff", "HEAD~1", "HEAD", "--name-only"]).ok().stdout;
    assert_eq!(text, "a\nd/x\n");
    let text = repo.muse(["diff", &h.c[1], &h.c[2]]).ok().stdout;
    assert!(text.contains("-a1\n+a2\n"), "{text}");
}

#[test]
fn diff_limited_to_paths() {
    let h = history();
    let repo = &h.repo;
    let only_d = repo.json(["diff", &h.c[0], &h.c[3], "--", "d"]).ok().json();
    assert_eq!(file_paths(&only_d), ["d/x"]);
    let files = repo.json(["diff", &h.c[0], &h.c[3], "--", "a", "b"]).ok().json();
    assert_eq!(file_paths(&files), ["a", "b"]);
    let none = repo.json(["diff", &h.c[0], &h.c[3], "--", "g"]).ok().json();
    assert_eq!(file_paths(&none), Vec::<String>::new());
    // "d" must not match "dd/…" or "d2".
    repo.write("dd/y", "y\n");
    repo.write("d2", "z\n");
    repo.write("d/x", "x3\n");
    let wc = repo.json(["diff", "--", "d"]).ok().json();
    assert_eq!(file_paths(&wc), ["d/x"]);
    // A path relative to the current directory.
    let from_sub = Muse::new(&repo.path("d")).args(["--json", "diff", "--", "x"]).run().ok().json();
    assert_eq!(file_paths(&from_sub), ["d/x"]);
    let from_sub = Muse::new(&repo.path("d")).args(["--json", "diff", "--", "../d2"]).run().ok().json();
    assert_eq!(file_paths(&from_sub), ["d2"]);
    // "." from the root means everything.
    let all = repo.json(["diff", "--", "."]).ok().json();
    assert_eq!(file_paths(&all), ["d/x", "d2", "dd/y"]);
}

#[test]
fn diff_of_binary_files() {
    let repo = TestRepo::new();
    repo.write("img.bin", [0u8, 159, 146, 150, 0, 1, 2]);
    repo.write("t.txt", "text\n");
    repo.commit("base");
    repo.write("img.bin", [0u8, 159, 146, 150, 0, 1, 3, 4]);
    let text = repo.muse(["diff"]).ok().stdout;
    assert_eq!(text, "diff --muse a/img.bin b/img.bin\nBinary files differ\n");
    let doc = repo.json(["diff"]).ok().json();
    let f = &doc["files"][0];
    assert_eq!(f["binary"], true);
    assert_eq!(f["hunks"], json!([]));
    assert_eq!(f["status"], "modified");
    // In committed history, too.
    repo.commit("binary change");
    let show = repo.muse(["show"]).ok().stdout;
    assert!(show.contains("Binary files differ"), "{show}");
    let show = repo.json(["show"]).ok().json();
    assert_eq!(show["files"][0]["binary"], true);
}

// ---------------------------------------------------------------------------------------------
// log

#[test]
fn log_lists_history_newest_first_with_text_header() {
    let h = history();
    let repo = &h.repo;
    assert_eq!(repo.log_ids(&[]), ids(&[h.c[3].as_str(), h.c[2].as_str(), h.c[1].as_str(), h.c[0].as_str()]));
    let text = repo.muse(["log"]).ok().stdout;
    assert!(text.starts_with(&format!("commit {} (HEAD -> main)\nAuthor: {}\nDate:   ", h.c[3], common::AUTHOR)), "{text}");
    for c in &h.c {
        assert!(text.contains(&format!("commit {c}")), "log lacks {c}:\n{text}");
    }
    for m in ["    c1\n", "    c2\n", "    c3\n", "    c4\n"] {
        assert!(text.contains(m), "log lacks message {m:?}");
    }
}

#[test]
fn log_json_shape() {
    let h = history();
    let log = h.repo.json(["log"]).ok().json();
    let entries = log.as_array().unwrap();
    assert_eq!(entries.len(), 4);
    for (i, e) in entries.iter().enumerate() {
        for field in COMMIT_FIELDS {
            assert!(e.get(field).is_some(), "log entry {i} lacks {field}: {e}");
        }
        assert_eq!(e["author"], common::AUTHOR);
    }
    assert_eq!(entries[0]["parents"], json!([h.c[2]]));
    assert_eq!(entries[3]["parents"], json!([]));
    assert_eq!(entries[0]["message"], "c4");
}

#[test]
fn log_from_a_revision_with_max_count_and_oneline() {
    let h = history();
    let repo = &h.repo;
    assert_eq!(repo.log_ids(&[h.c[1].as_str()]), ids(&[h.c[1].as_str(), h.c[0].as_str()]));
    assert_eq!(repo.log_ids(&["HEAD~2"]), ids(&[h.c[1].as_str(), h.c[0].as_str()]));
    assert_eq!(repo.log_ids(&["-n", "2"]), ids(&[h.c[3].as_str(), h.c[2].as_str()]));
    assert_eq!(repo.log_ids(&["--max-count", "1", "HEAD~1"]), ids(&[h.c[2].as_str()]));
    assert_eq!(repo.log_ids(&["-n", "0"]), Vec::<String>::new());
    // Several starting points are merged, without duplicates.
    assert_eq!(repo.log_ids(&[h.c[1].as_str(), h.c[2].as_str()]), ids(&[h.c[2].as_str(), h.c[1].as_str(), h.c[0].as_str()]));

    repo.muse(["tag", "v1", &h.c[1]]).ok();
    let oneline = repo.muse(["log", "--oneline"]).ok().stdout;
    let lines: Vec<&str> = oneline.lines().collect();
    assert_eq!(lines.len(), 4);
    // Undeclared bumps are computed: each commit changes a file that is not documentation.
    assert_eq!(lines[0], format!("{} (HEAD -> main) patch c4", &hex_of(&h.c[3])[..12]));
    assert_eq!(lines[1], format!("{} patch c3", &hex_of(&h.c[2])[..12]));
    assert_eq!(lines[2], format!("{} (tag: v1) patch c2", &hex_of(&h.c[1])[..12]));
    // Model and breaking markers appear in --oneline.
    repo.write("z", "z\n");
    repo.commit_json("with model\nbody", &["--model-id", "m-9", "--bump", "major", "--breaking", "api"]);
    let top = repo.muse(["log", "--oneline", "-n", "1"]).ok().stdout;
    assert!(top.contains("major") && top.contains("[m-9]") && top.contains("with model") && !top.contains("body"), "{top}");
}

#[test]
fn log_all_includes_every_branch_and_tag() {
    let h = history();
    let repo = &h.repo;
    repo.muse(["switch", "-c", "side", &h.c[1]]).ok();
    repo.write("s", "side\n");
    let side = repo.commit("side work");
    repo.muse(["switch", "--detach", &h.c[0]]).ok();
    repo.write("t", "tagged\n");
    let detached = repo.commit("tagged work");
    repo.muse(["tag", "keep", &detached]).ok();
    repo.muse(["switch", "main"]).ok();
    // From HEAD (main) only main's history.
    assert_eq!(repo.log_ids(&[]).len(), 4);
    let all = repo.log_ids(&["--all"]);
    assert_eq!(all.len(), 6, "{all:?}");
    for id in h.c.iter().chain([&side, &detached]) {
        assert!(all.contains(id), "--all lacks {id}");
    }
    // Newest first by date.
    assert_eq!(all[0], detached);
    assert_eq!(all[1], side);
}

#[test]
fn log_with_paths_lists_only_commits_that_changed_them() {
    let h = history();
    let repo = &h.repo;
    let [c1, c2, c3, c4] = &h.c;
    let (c1, c2, c3, c4) = (c1.as_str(), c2.as_str(), c3.as_str(), c4.as_str());
    // a: added by c1, changed by c3, deleted by c4.
    assert_eq!(repo.log_ids(&["--", "a"]), ids(&[c4, c3, c1]));
    // b: added by c2 only.
    assert_eq!(repo.log_ids(&["--", "b"]), ids(&[c2]));
    // A directory: d/x added by c1, changed by c4.
    assert_eq!(repo.log_ids(&["--", "d"]), ids(&[c4, c1]));
    assert_eq!(repo.log_ids(&["--", "d/x"]), ids(&[c4, c1]));
    // g never changed after c1.
    assert_eq!(repo.log_ids(&["--", "g"]), ids(&[c1]));
    // Several paths: union.
    assert_eq!(repo.log_ids(&["--", "b", "g"]), ids(&[c2, c1]));
    // A path that never existed: nothing.
    assert_eq!(repo.log_ids(&["--", "nope"]), Vec::<String>::new());
    // Combined with a start revision and -n.
    assert_eq!(repo.log_ids(&[c2, "--", "a"]), ids(&[c1]));
    assert_eq!(repo.log_ids(&["-n", "1", "--", "a"]), ids(&[c4]));
    // Relative to the current directory.
    let from_sub = Muse::new(&repo.path("d")).args(["--json", "log", "--", "x"]).run().ok().json();
    let sub_ids: Vec<String> = from_sub.as_array().unwrap().iter().map(id_of).collect();
    assert_eq!(sub_ids, ids(&[c4, c1]));
    // The text form too.
    let oneline = repo.muse(["log", "--oneline", "--", "b"]).ok().stdout;
    assert_eq!(oneline.lines().count(), 1);
    assert!(oneline.contains(" c2"), "{oneline}");
}

// ---------------------------------------------------------------------------------------------
// show

#[test]
fn show_prints_one_commit_with_its_changes() {
    let h = history();
    let repo = &h.repo;
    let doc = repo.json(["show"]).ok().json();
    assert_eq!(id_of(&doc["commit"]), h.c[3]);
    assert_eq!(doc["commit"]["message"], "c4");
    assert_eq!(file_paths(&doc), ["a", "d/x"]);
    assert_eq!(doc["files"][0]["status"], "deleted");
    assert_eq!(doc["files"][1]["status"], "modified");
    // A root commit shows every file as added.
    let root = repo.json(["show", &h.c[0]]).ok().json();
    assert_eq!(file_paths(&root), ["a", "d/x", "g"]);
    assert!(root["files"].as_array().unwrap().iter().all(|f| f["status"] == "added"));
    // The commit part equals the log entry.
    let log = repo.json(["log", "-n", "1", &h.c[2]]).ok().json();
    let shown = repo.json(["show", &h.c[2]]).ok().json();
    assert_eq!(shown["commit"], log[0]);
    // Text: header then unified diff.
    let text = repo.muse(["show", "HEAD~1"]).ok().stdout;
    assert!(text.starts_with(&format!("commit {}\n", h.c[2])), "{text}");
    assert!(text.contains("    c3\n"), "{text}");
    assert!(text.contains("diff --muse a/a b/a\n--- a/a\n+++ b/a\n@@ -1,1 +1,1 @@\n-a1\n+a2\n"), "{text}");
}

#[test]
fn revision_syntax() {
    let h = history();
    let repo = &h.repo;
    let [c1, c2, c3, c4] = &h.c;
    repo.muse(["tag", "v2", c2]).ok();
    let cases: Vec<(String, &String)> = vec![
        ("HEAD".into(), c4),
        ("@".into(), c4),
        ("main".into(), c4),
        ("refs/heads/main".into(), c4),
        ("HEAD~1".into(), c3),
        ("HEAD^".into(), c3),
        ("HEAD~3".into(), c1),
        ("HEAD^^".into(), c2),
        ("main~2".into(), c2),
        ("v2".into(), c2),
        ("refs/tags/v2".into(), c2),
        ("v2~1".into(), c1),
        (c3.clone(), c3),
        (hex_of(c3).to_string(), c3),
        (hex_of(c1)[..7].to_string(), c1),
        (format!("sha256:{}", &hex_of(c2)[..10]), c2),
        (hex_of(c4)[..7].to_uppercase(), c4),
    ];
    for (rev, expected) in cases {
        assert_eq!(&repo.rev(&rev), expected, "revision {rev}");
    }
    // Past the root there is nothing.
    repo.json(["log", "HEAD~4"]).fails_with(exit::NOT_FOUND, "not_found");
    repo.json(["show", "HEAD^2"]).fails_with(exit::NOT_FOUND, "not_found");
}

#[test]
fn log_orders_by_instant_not_by_date_text() {
    let repo = TestRepo::new();
    repo.write("a", "0\n");
    let root = repo.json(["commit", "-m", "root", "--date", "2024-01-01T00:00:00Z"]).ok().json();
    // On x: 10:00 at +02:00, i.e. 08:00 UTC. On y: 09:00 UTC, later, though its text sorts first.
    repo.muse(["switch", "-c", "x"]).ok();
    repo.write("a", "x\n");
    let x = repo.json(["commit", "-m", "x", "--date", "2024-01-01T10:00:00+02:00"]).ok().json();
    repo.muse(["switch", "-c", "y", "main"]).ok();
    repo.write("a", "y\n");
    let y = repo.json(["commit", "-m", "y", "--date", "2024-01-01T09:00:00.5Z"]).ok().json();
    assert_eq!(repo.log_ids(&["--all"]), ids(&[id_of(&y).as_str(), id_of(&x).as_str(), id_of(&root).as_str()]));
    assert_eq!(repo.log_ids(&["x", "y"]), ids(&[id_of(&y).as_str(), id_of(&x).as_str(), id_of(&root).as_str()]));
    // The dates are kept exactly as given.
    assert_eq!(x["committed_at"], "2024-01-01T10:00:00+02:00");
    assert_eq!(y["committed_at"], "2024-01-01T09:00:00.5Z");
}
