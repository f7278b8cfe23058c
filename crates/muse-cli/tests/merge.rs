//! `muse merge`, `cherry-pick` and `revert`, black-box: fast-forward, clean merge commits,
//! conflicts resolved and continued, abort back to the exact pre-merge state, undo, refusal over
//! uncommitted changes the merge would touch, sequential merges of several branches, and the
//! JSON conflict report an agent resolves from.

mod common;

use common::{exit, listing, TestRepo};
use serde_json::Value;

/// main: a.txt (10 lines) and b.txt; returns the repository.
fn base_repo() -> TestRepo {
    let repo = TestRepo::new();
    repo.write("a.txt", (1..=10).map(|i| format!("line {i}\n")).collect::<String>());
    repo.write("b.txt", "b\n");
    repo.commit("base");
    repo
}

fn edit_line(repo: &TestRepo, path: &str, line: usize, text: &str) {
    let content = repo.read(path);
    let mut lines: Vec<String> = content.lines().map(str::to_string).collect();
    lines[line - 1] = text.to_string();
    repo.write(path, lines.join("\n") + "\n");
}

fn parents(repo: &TestRepo, rev: &str) -> Vec<String> {
    let log = repo.json(["log", "-n", "1", rev]).ok().json();
    log[0]["parents"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_string()).collect()
}

fn step(report: &Value, i: usize) -> &Value {
    &report["steps"][i]
}

#[test]
fn fast_forward_then_no_ff_and_ff_only() {
    let repo = base_repo();
    let base = repo.rev("main");
    repo.muse(["switch", "-c", "topic"]).ok();
    repo.write("c.txt", "c\n");
    let tip = repo.commit("topic");
    repo.muse(["switch", "main"]).ok();
    let report = repo.json(["merge", "topic"]).ok().json();
    assert_eq!(step(&report, 0)["status"], "fast_forward");
    assert_eq!(step(&report, 0)["old"], base.as_str());
    assert_eq!(step(&report, 0)["new"], tip.as_str());
    assert_eq!(repo.rev("main"), tip);
    assert_eq!(repo.read("c.txt"), "c\n");
    // Already merged: up to date, nothing moves.
    let again = repo.json(["merge", "topic"]).ok().json();
    assert_eq!(step(&again, 0)["status"], "up_to_date");
    // Undo puts the branch and the files back.
    repo.muse(["undo"]).ok();
    assert_eq!(repo.rev("main"), base);
    assert!(!repo.path("c.txt").exists());
    // --no-ff makes a merge commit with both parents.
    let report = repo.json(["merge", "--no-ff", "topic", "-m", "merge topic"]).ok().json();
    assert_eq!(step(&report, 0)["status"], "committed");
    let merge = repo.rev("main");
    assert_eq!(parents(&repo, &merge), vec![base.clone(), tip.clone()]);
    assert_eq!(repo.log_messages(&["-n", "1"]), vec!["merge topic".to_string()]);
    repo.assert_fsck_clean();
}

#[test]
fn diverged_branches_merge_cleanly_with_provenance_and_undo_restores() {
    let repo = base_repo();
    repo.muse(["switch", "-c", "topic"]).ok();
    edit_line(&repo, "a.txt", 9, "topic nine");
    repo.write("t.txt", "topic file\n");
    let theirs = repo.commit("topic edits");
    repo.muse(["switch", "main"]).ok();
    edit_line(&repo, "a.txt", 2, "main two");
    let ours = repo.commit("main edits");
    repo.json(["merge", "--ff-only", "topic"]).fails_with(exit::CONFLICT, "diverged");
    let before = listing(&repo.root);
    let report = repo.json(["merge", "topic", "--agent-id", "merger-7", "--model-id", "m1"]).ok().json();
    assert_eq!(report["stopped"], false);
    assert_eq!(step(&report, 0)["status"], "committed");
    assert_eq!(step(&report, 0)["bases"].as_array().unwrap().len(), 1);
    let merge = repo.rev("main");
    assert_eq!(parents(&repo, "main"), vec![ours.clone(), theirs]);
    let shown = repo.json(["log", "-n", "1"]).ok().json();
    assert_eq!(shown[0]["agent_id"], "merger-7");
    assert_eq!(shown[0]["model_id"], "m1");
    assert_eq!(shown[0]["message"], "Merge topic into main");
    let a = repo.read("a.txt");
    assert!(a.contains("main two") && a.contains("topic nine"), "{a}");
    assert_eq!(repo.read("t.txt"), "topic file\n");
    assert!(repo.changes().is_empty());
    // `log` shows the merge as one (a Merge: line in text).
    let text = repo.muse(["log", "-n", "1"]).ok();
    assert!(text.stdout.contains("Merge:"), "{}", text.stdout);
    // Undo: the branch and the working copy are as before the merge.
    repo.muse(["undo"]).ok();
    assert_eq!(repo.rev("main"), ours);
    assert_eq!(listing(&repo.root), before);
    assert_ne!(merge, ours);
    repo.assert_fsck_clean();
}

/// Two branches editing the same line of a.txt; returns (repo, ours, theirs).
fn conflicting() -> (TestRepo, String, String) {
    let repo = base_repo();
    repo.muse(["switch", "-c", "topic"]).ok();
    edit_line(&repo, "a.txt", 5, "topic five");
    repo.write("t.txt", "clean change from topic\n");
    let theirs = repo.commit("topic five");
    repo.muse(["switch", "main"]).ok();
    edit_line(&repo, "a.txt", 5, "main five");
    let ours = repo.commit("main five");
    (repo, ours, theirs)
}

#[test]
fn conflict_report_resolve_and_continue() {
    let (repo, ours, theirs) = conflicting();
    let run = repo.json(["merge", "topic"]).code(exit::FAILED);
    assert_eq!(run.error_json()["kind"], "conflicts");
    let report = run.json();
    assert_eq!(report["stopped"], true);
    let s = step(&report, 0);
    assert_eq!(s["status"], "conflict");
    assert_eq!(s["new"], ours.as_str(), "HEAD does not move on a conflict");
    let conflicts = s["conflicts"].as_array().unwrap();
    assert_eq!(conflicts.len(), 1, "{report}");
    let c = &conflicts[0];
    assert_eq!(c["path"], "a.txt");
    assert_eq!(c["kind"], "content");
    let hunk = &c["hunks"][0];
    assert_eq!(hunk["base"]["text"], "line 5\n");
    assert_eq!(hunk["ours"]["text"], "main five\n");
    assert_eq!(hunk["theirs"]["text"], "topic five\n");
    assert_eq!((hunk["base"]["start"].as_u64(), hunk["base"]["end"].as_u64()), (Some(4), Some(5)));
    // The file holds diff3 markers naming the sides; the clean change is in place.
    let a = repo.read("a.txt");
    assert!(a.contains("<<<<<<< main\nmain five\n||||||| "), "{a}");
    assert!(a.contains("=======\ntopic five\n>>>>>>> topic\n"), "{a}");
    assert_eq!(repo.read("t.txt"), "clean change from topic\n");
    // status lists the conflicted path; commit and switch are refused meanwhile.
    let status = repo.status();
    assert_eq!(status["merge"]["conflicts"], serde_json::json!(["a.txt"]));
    assert_eq!(status["merge"]["kind"], "merge");
    let short = repo.muse(["status", "-s"]).ok();
    assert!(short.stdout.lines().any(|l| l == "U a.txt"), "{}", short.stdout);
    repo.json(["commit", "-m", "x"]).fails_with(exit::CONFLICT, "conflict");
    repo.json(["merge", "topic"]).fails_with(exit::CONFLICT, "conflict");
    // Continue refuses while markers remain.
    repo.json(["merge", "--continue"]).fails_with(exit::CONFLICT, "unresolved");
    edit_line(&repo, "a.txt", 5, "resolved five");
    let a = repo.read("a.txt");
    let resolved: String = a
        .lines()
        .filter(|l| !l.starts_with("<<<<<<<") && !l.starts_with("|||||||") && !l.starts_with("=======") && !l.starts_with(">>>>>>>"))
        .filter(|l| !matches!(*l, "main five" | "topic five" | "line 5"))
        .map(|l| format!("{l}\n"))
        .collect();
    repo.write("a.txt", &resolved);
    let done = repo.json(["merge", "--continue", "--agent-id", "resolver"]).ok().json();
    assert_eq!(step(&done, 0)["status"], "committed");
    assert_eq!(parents(&repo, "main"), vec![ours, theirs]);
    let log = repo.json(["log", "-n", "1"]).ok().json();
    assert_eq!(log[0]["agent_id"], "resolver");
    assert!(repo.changes().is_empty());
    assert!(repo.status()["merge"].is_null());
    repo.json(["merge", "--continue"]).fails_with(exit::NOT_FOUND, "no_merge");
    repo.assert_fsck_clean();
}

#[test]
fn abort_and_undo_restore_the_exact_pre_merge_state() {
    let (repo, ours, _) = conflicting();
    // An uncommitted change to a path the merge does not touch is carried through.
    repo.write("b.txt", "my local edit\n");
    repo.write("untracked.txt", "mine\n");
    let before = listing(&repo.root);
    repo.muse(["merge", "topic"]).code(exit::FAILED);
    assert_ne!(listing(&repo.root), before);
    repo.write("a.txt", "half-resolved\n");
    repo.muse(["merge", "--abort"]).ok();
    assert_eq!(listing(&repo.root), before);
    assert_eq!(repo.rev("main"), ours);
    assert!(repo.status()["merge"].is_null());
    // Undo of the stopped merge is an abort too.
    repo.muse(["merge", "topic"]).code(exit::FAILED);
    let undo = repo.json(["undo"]).ok().json();
    assert_eq!(undo["target"]["command"], "merge");
    assert_eq!(listing(&repo.root), before);
    assert!(repo.status()["merge"].is_null());
    repo.json(["merge", "--abort"]).fails_with(exit::NOT_FOUND, "no_merge");
}

#[test]
fn uncommitted_changes_the_merge_would_touch_refuse_it() {
    let (repo, ours, _) = conflicting();
    repo.write("t.txt", "my own t\n");
    let before = listing(&repo.root);
    repo.json(["merge", "topic"]).fails_with(exit::CONFLICT, "conflict");
    assert_eq!(listing(&repo.root), before, "nothing changed");
    assert_eq!(repo.rev("main"), ours);
    assert!(repo.status()["merge"].is_null());
}

#[test]
fn cherry_pick_and_revert() {
    let repo = base_repo();
    repo.muse(["switch", "-c", "topic"]).ok();
    edit_line(&repo, "a.txt", 8, "picked eight");
    let picked_json = repo.commit_json("fix eight", &["--agent-id", "fixer"]);
    let picked = picked_json["commit_id"].as_str().unwrap().to_string();
    edit_line(&repo, "a.txt", 1, "not wanted");
    repo.commit("other");
    repo.muse(["switch", "main"]).ok();
    edit_line(&repo, "a.txt", 2, "main two");
    let ours = repo.commit("main two");
    let report = repo.json(["cherry-pick", &picked]).ok().json();
    assert_eq!(step(&report, 0)["kind"], "cherry-pick");
    assert_eq!(step(&report, 0)["status"], "committed");
    let a = repo.read("a.txt");
    assert!(a.contains("picked eight") && a.contains("main two") && !a.contains("not wanted"), "{a}");
    let log = repo.json(["log", "-n", "1"]).ok().json();
    assert_eq!(log[0]["parents"], serde_json::json!([ours]));
    assert_eq!(log[0]["agent_id"], "fixer", "the picked change keeps its provenance");
    assert!(log[0]["message"].as_str().unwrap().starts_with("fix eight"));
    // Picking it again changes nothing: exit 1.
    repo.json(["cherry-pick", &picked]).fails_with(exit::FAILED, "nothing_to_commit");
    // Revert the pick.
    let report = repo.json(["revert", "HEAD"]).ok().json();
    assert_eq!(step(&report, 0)["kind"], "revert");
    let a = repo.read("a.txt");
    assert!(!a.contains("picked eight") && a.contains("line 8") && a.contains("main two"), "{a}");
    assert!(repo.log_messages(&["-n", "1"])[0].starts_with("Revert \"fix eight"));
    repo.assert_fsck_clean();
}

#[test]
fn cherry_pick_conflict_continue_and_revert_abort() {
    let (repo, ours, theirs) = conflicting();
    repo.json(["cherry-pick", &theirs]).code(exit::FAILED);
    assert_eq!(repo.status()["merge"]["kind"], "cherry-pick");
    repo.json(["merge", "--continue"]).fails_with(exit::CONFLICT, "conflict");
    repo.write("a.txt", (1..=10).map(|i| if i == 5 { "both\n".to_string() } else { format!("line {i}\n") }).collect::<String>());
    repo.json(["cherry-pick", "--continue"]).ok();
    assert_eq!(parents(&repo, "main"), vec![ours]);
    let picked = repo.rev("main");
    // Revert of a commit whose lines changed since: conflict, then abort.
    edit_line(&repo, "a.txt", 5, "later");
    repo.commit("later");
    let before = listing(&repo.root);
    repo.json(["revert", &picked]).code(exit::FAILED);
    repo.muse(["revert", "--abort"]).ok();
    assert_eq!(listing(&repo.root), before);
}

#[test]
fn several_branches_merge_in_order_and_stop_resumably() {
    let repo = base_repo();
    for (name, line, text) in [("one", 1, "one"), ("two", 10, "two"), ("three", 1, "three")] {
        repo.muse(["switch", "-c", name, "main"]).ok();
        edit_line(&repo, "a.txt", line, text);
        repo.write(&format!("{name}.txt"), format!("{name}\n"));
        repo.commit(name);
    }
    repo.muse(["switch", "main"]).ok();
    edit_line(&repo, "a.txt", 5, "main");
    repo.commit("main");
    // one merges, two merges, three conflicts with one (line 1): stop, three is not merged.
    let run = repo.json(["merge", "one", "two", "three"]).code(exit::FAILED);
    let report = run.json();
    let statuses: Vec<&str> = report["steps"].as_array().unwrap().iter().map(|s| s["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["committed", "committed", "conflict"]);
    assert_eq!(report["remaining"], serde_json::json!([]));
    assert_eq!(step(&report, 2)["conflicts"][0]["path"], "a.txt");
    // Resolve, continue: the last merge commits.
    let a = repo.read("a.txt");
    let fixed: String = a
        .lines()
        .filter(|l| !l.starts_with("<<<<<<<") && !l.starts_with("|||||||") && !l.starts_with("=======") && !l.starts_with(">>>>>>>"))
        .filter(|l| !matches!(*l, "one" | "line 1"))
        .map(|l| format!("{l}\n"))
        .collect();
    repo.write("a.txt", fixed);
    repo.json(["merge", "--continue"]).ok();
    for name in ["one", "two", "three"] {
        assert_eq!(repo.read(&format!("{name}.txt")), format!("{name}\n"));
    }
    assert_eq!(repo.log_ids(&["--first-parent"]).len(), 5);

    // A stop before the last revision keeps the rest for --continue.
    let repo2 = base_repo();
    for (name, text) in [("x", "x"), ("y", "y")] {
        repo2.muse(["switch", "-c", name, "main"]).ok();
        edit_line(&repo2, "a.txt", 3, text);
        repo2.commit(name);
    }
    repo2.muse(["switch", "main"]).ok();
    edit_line(&repo2, "a.txt", 3, "main");
    repo2.commit("main");
    let report = repo2.json(["merge", "x", "y"]).code(exit::FAILED).json();
    assert_eq!(report["remaining"], serde_json::json!(["y"]));
    assert_eq!(repo2.status()["merge"]["remaining"], serde_json::json!(["y"]));
    edit_line(&repo2, "a.txt", 3, "main and x");
    for marker in ["<<<<<<<", "|||||||", "=======", ">>>>>>>"] {
        let a = repo2.read("a.txt");
        repo2.write(
            "a.txt",
            a.lines().filter(|l| !l.starts_with(marker) && *l != "x" && *l != "line 3" && *l != "main").map(|l| format!("{l}\n")).collect::<String>(),
        );
    }
    let next = repo2.json(["merge", "--continue"]).code(exit::FAILED).json();
    let statuses: Vec<&str> = next["steps"].as_array().unwrap().iter().map(|s| s["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["committed", "conflict"]);
    assert_eq!(step(&next, 1)["rev"], "y");
}

#[test]
fn modify_delete_and_binary_conflicts_are_reported_not_corrupted() {
    let repo = TestRepo::new();
    repo.write("gone.txt", "keep me\n");
    repo.write("bin.dat", b"\0\x01\x02base".as_slice());
    repo.commit("base");
    repo.muse(["switch", "-c", "topic"]).ok();
    repo.remove("gone.txt");
    repo.write("bin.dat", b"\0\x01\x02theirs".as_slice());
    repo.commit("topic");
    repo.muse(["switch", "main"]).ok();
    repo.write("gone.txt", "edited\n");
    repo.write("bin.dat", b"\0\x01\x02ours".as_slice());
    repo.commit("main");
    let report = repo.json(["merge", "topic"]).code(exit::FAILED).json();
    let kinds: Vec<(String, String)> = step(&report, 0)["conflicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["path"].as_str().unwrap().to_string(), c["kind"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(kinds, [("bin.dat".to_string(), "binary".to_string()), ("gone.txt".to_string(), "modify_delete".to_string())]);
    assert_eq!(std::fs::read(repo.path("bin.dat")).unwrap(), b"\0\x01\x02ours");
    assert_eq!(repo.read("gone.txt"), "edited\n");
    assert!(step(&report, 0)["conflicts"][1]["theirs"].is_null());
}
