//! The operation log and `muse undo` / `muse op restore`, black-box: each mutating command is
//! undone with the user's data intact and `fsck` clean; conflicts change nothing; concurrent
//! operations from several workspaces are all recorded; a torn log tail is ignored with a
//! warning; killed commands leave a readable log. Also the habits around it: `branch -d`/`-D`,
//! the detached-HEAD warning, `commit --amend`, `workspace prune` and `workspace remove`'s
//! refusals.

mod common;

use std::time::Duration;

use common::{exit, id_of, Muse, TestRepo};
use serde_json::Value;

fn ops(repo: &TestRepo) -> Vec<Value> {
    let log = repo.json(["op", "log"]).ok().json();
    log["operations"].as_array().expect("operations").clone()
}

fn branches(repo: &TestRepo) -> Vec<(String, String)> {
    let list = repo.json(["branch"]).ok().json();
    list.as_array().unwrap().iter().map(|b| (b["name"].as_str().unwrap().to_string(), b["commit_id"].as_str().unwrap().to_string())).collect()
}

#[test]
fn undo_of_a_commit_moves_the_branch_back_and_keeps_the_files() {
    let repo = TestRepo::new();
    repo.write("a.txt", "one\n");
    let first = repo.commit("first");
    repo.write("a.txt", "two\n");
    repo.write("b.txt", "new\n");
    let second = repo.commit("second");
    let undo = repo.json(["undo"]).ok().json();
    assert_eq!(undo["target"]["command"], "commit");
    assert_eq!(undo["refs"][0]["name"], "refs/heads/main");
    assert_eq!(undo["refs"][0]["old"], second.as_str());
    assert_eq!(undo["refs"][0]["new"], first.as_str());
    assert_eq!(repo.rev("main"), first);
    assert_eq!(repo.read("a.txt"), "two\n");
    let mut changes = repo.changes();
    changes.sort();
    assert_eq!(changes, vec![("added".to_string(), "b.txt".to_string()), ("modified".to_string(), "a.txt".to_string())]);
    // A second undo goes one operation further back: the first commit.
    repo.muse(["undo"]).ok();
    assert_eq!(branches(&repo), vec![]);
    assert_eq!(repo.read("a.txt"), "two\n");
    repo.json(["undo"]).fails_with(exit::FAILED, "nothing_to_undo");
    let log = ops(&repo);
    assert_eq!(log.iter().map(|o| o["command"].as_str().unwrap()).collect::<Vec<_>>(), ["undo", "undo", "commit", "commit"]);
    assert_eq!(log[0]["undoes"], 1);
    assert_eq!(log[1]["undoes"], 2);
    assert_eq!(log[2]["undone"], true);
    // The commits are still in the store; op restore brings the state after the second back.
    repo.muse(["op", "restore", "2"]).ok();
    assert_eq!(repo.rev("main"), second);
    repo.assert_fsck_clean();
}

#[test]
fn undo_of_an_amend_restores_the_old_commit() {
    let repo = TestRepo::new();
    repo.write("a.txt", "one\n");
    let base = repo.commit("base");
    repo.write("a.txt", "two\n");
    let old = repo.commit_json("wrong message", &["--agent-id", "agent-1", "--bump", "minor"]);
    repo.write("c.txt", "forgotten file\n");
    let amended = repo.json(["commit", "--amend", "-m", "right message"]).ok().json();
    assert_eq!(amended["parents"][0], base.as_str(), "the amend keeps the parents");
    assert_eq!(amended["message"], "right message");
    assert_eq!(amended["agent_id"], "agent-1", "unset flags keep the old commit's fields");
    assert_eq!(amended["sem_ver_bump"], "minor");
    assert_eq!(repo.log_ids(&[]), vec![id_of(&amended), base.clone()]);
    assert!(repo.changes().is_empty());
    repo.muse(["undo"]).ok();
    assert_eq!(repo.rev("main"), id_of(&old));
    assert_eq!(repo.read("c.txt"), "forgotten file\n");
    assert_eq!(repo.changes(), vec![("added".to_string(), "c.txt".to_string())]);
    // Amending without a commit is refused.
    let empty = TestRepo::new();
    empty.json(["commit", "--amend"]).fails_with(exit::INVALID, "invalid_input");
    repo.assert_fsck_clean();
}

#[test]
fn undo_of_a_switch_checks_the_old_branch_out_and_refuses_to_overwrite_changes() {
    let repo = TestRepo::new();
    repo.write("a.txt", "main\n");
    repo.commit("main");
    repo.muse(["switch", "-c", "feature"]).ok();
    repo.write("a.txt", "feature\n");
    repo.write("f.txt", "only on feature\n");
    repo.commit("feature");
    repo.muse(["switch", "main"]).ok();
    assert!(!repo.path("f.txt").exists());
    // An uncommitted change to a file the undo would rewrite: refused, nothing changes.
    repo.write("a.txt", "edited on main\n");
    repo.json(["undo"]).fails_with(exit::CONFLICT, "conflict");
    assert_eq!(repo.read("a.txt"), "edited on main\n");
    assert_eq!(repo.status()["branch"], "main");
    repo.write("a.txt", "main\n");
    let undo = repo.json(["undo"]).ok().json();
    assert_eq!(undo["heads"][0]["old"], "ref: refs/heads/main");
    assert_eq!(undo["heads"][0]["new"], "ref: refs/heads/feature");
    assert_eq!(repo.status()["branch"], "feature");
    assert_eq!(repo.read("a.txt"), "feature\n");
    assert_eq!(repo.read("f.txt"), "only on feature\n");
    assert!(repo.changes().is_empty());
    repo.assert_fsck_clean();
}

#[test]
fn branch_d_refuses_unmerged_branches_and_undo_brings_deleted_ones_back() {
    let repo = TestRepo::new();
    repo.write("a.txt", "a\n");
    repo.commit("base");
    repo.muse(["switch", "-c", "topic"]).ok();
    repo.write("t.txt", "t\n");
    let topic = repo.commit("topic work");
    repo.muse(["switch", "main"]).ok();
    let err = repo.json(["branch", "-d", "topic"]).fails_with(exit::CONFLICT, "conflict").error_json();
    assert!(err["message"].as_str().unwrap().contains("branch -D topic"), "{err}");
    assert_eq!(repo.rev("topic"), topic);
    repo.muse(["branch", "merged"]).ok();
    repo.muse(["branch", "-d", "merged"]).ok();
    repo.json(["branch", "-D", "topic"]).ok();
    repo.json(["log", "-n", "1", "topic"]).code(exit::NOT_FOUND);
    repo.muse(["undo"]).ok();
    assert_eq!(repo.rev("topic"), topic);
    repo.assert_fsck_clean();
}

#[test]
fn switching_away_from_a_detached_head_warns_and_undo_gets_the_commits_back() {
    let repo = TestRepo::new();
    repo.write("a.txt", "a\n");
    let base = repo.commit("base");
    repo.muse(["switch", "--detach", "HEAD"]).ok();
    repo.write("d.txt", "detached work\n");
    let one = repo.commit("detached 1");
    repo.write("d.txt", "more detached work\n");
    let two = repo.commit("detached 2");
    let run = repo.json(["switch", "main"]).ok();
    assert!(run.stderr.contains("2 commit(s) left behind"), "{}", run.stderr);
    assert!(run.stderr.contains("muse undo"), "{}", run.stderr);
    assert_eq!(run.json()["left_behind"], serde_json::json!([two, one]));
    assert!(!repo.path("d.txt").exists());
    // Leaving a detached HEAD that a branch holds says nothing.
    repo.muse(["switch", "--detach", &base]).ok();
    let quiet = repo.json(["switch", "main"]).ok();
    assert!(!quiet.stderr.contains("left behind"), "{}", quiet.stderr);
    assert_eq!(quiet.json()["left_behind"], serde_json::json!([]));
    repo.muse(["undo"]).ok();
    repo.muse(["undo"]).ok();
    repo.muse(["undo"]).ok();
    assert_eq!(repo.rev("HEAD"), two);
    assert_eq!(repo.read("d.txt"), "more detached work\n");
    repo.muse(["branch", "keep", &two]).ok();
    repo.assert_fsck_clean();
}

/// Two repositories sharing history; returns (source, target).
fn pair() -> (TestRepo, TestRepo) {
    let src = TestRepo::new();
    src.write("a.txt", "a\n");
    src.commit("base");
    let dst = TestRepo::uninit();
    Muse::new(src.tmp.path()).args(["clone", src.root.to_str().unwrap(), dst.root.to_str().unwrap()]).run().ok();
    (src, dst)
}

#[test]
fn a_forced_bundle_apply_is_undone_and_a_moved_ref_is_a_conflict() {
    let (src, dst) = pair();
    assert_eq!(ops(&dst)[0]["command"], "clone", "the clone's first operation");
    src.muse(["branch", "side"]).ok();
    src.muse(["switch", "side"]).ok();
    src.write("s.txt", "side 1\n");
    let side1 = src.commit("side 1");
    let bundle = src.tmp.path().join("b1.mpack");
    src.muse(["bundle", "create", bundle.to_str().unwrap()]).ok();
    dst.muse(["bundle", "apply", bundle.to_str().unwrap()]).ok();
    assert_eq!(dst.rev("side"), side1);
    // Rewrite side in the source (not a fast-forward) and force it into the target.
    src.muse(["switch", "main"]).ok();
    src.muse(["branch", "-D", "side"]).ok();
    src.muse(["switch", "-c", "side"]).ok();
    src.write("s.txt", "side rewritten\n");
    let rewritten = src.commit("side rewritten");
    let bundle2 = src.tmp.path().join("b2.mpack");
    src.muse(["bundle", "create", bundle2.to_str().unwrap(), "side"]).ok();
    dst.muse(["bundle", "apply", bundle2.to_str().unwrap()]).code(exit::FAILED);
    dst.muse(["bundle", "apply", "--force", bundle2.to_str().unwrap()]).ok();
    assert_eq!(dst.rev("side"), rewritten);
    dst.muse(["undo"]).ok();
    assert_eq!(dst.rev("side"), side1);
    dst.assert_fsck_clean();

    // A ref moved behind the log's back: undo reports a conflict and changes nothing.
    src.muse(["branch", "b1"]).ok();
    src.muse(["branch", "b2"]).ok();
    let bundle3 = src.tmp.path().join("b3.mpack");
    src.muse(["bundle", "create", bundle3.to_str().unwrap(), "b1", "b2"]).ok();
    dst.muse(["bundle", "apply", bundle3.to_str().unwrap()]).ok();
    let unrecorded = |args: &[&str]| dst.cmd().env("MUSE_OPLOG_BENCH_SKIP", "1").args(args).run().ok();
    unrecorded(&["branch", "-D", "b2"]);
    unrecorded(&["branch", "b2", "main"]);
    let err = dst.json(["undo"]).fails_with(exit::CONFLICT, "conflict").error_json();
    assert!(err["message"].as_str().unwrap().contains("refs/heads/b2 moved"), "{err}");
    assert_eq!(dst.rev("b1"), rewritten, "all or nothing: b1 stays");
    dst.assert_fsck_clean();
}

#[test]
fn workspace_add_and_remove_are_undone() {
    let repo = TestRepo::new();
    repo.write("a.txt", "a\n");
    repo.commit("base");
    let ws = repo.tmp.path().join("agent");
    repo.muse(["workspace", "add", ws.to_str().unwrap()]).ok();
    assert!(ws.join("a.txt").exists());
    repo.muse(["undo"]).ok();
    assert!(!ws.exists(), "undoing the add removes the workspace");
    repo.json(["log", "-n", "1", "agent"]).code(exit::NOT_FOUND);
    assert_eq!(repo.json(["workspace", "list"]).ok().json().as_array().unwrap().len(), 1);

    repo.muse(["workspace", "add", ws.to_str().unwrap()]).ok();
    common::write_file(&ws, "w.txt", "workspace work\n");
    let work = id_of(&Muse::new(&ws).args(["--json", "commit", "-m", "ws work"]).run().ok().json());
    repo.muse(["workspace", "remove", ws.to_str().unwrap()]).ok();
    assert!(!ws.exists());
    repo.muse(["undo"]).ok();
    assert_eq!(std::fs::read_to_string(ws.join("w.txt")).unwrap(), "workspace work\n");
    let status = Muse::new(&ws).args(["--json", "status"]).run().ok().json();
    assert_eq!(status["branch"], "agent");
    assert_eq!(status["head"], work.as_str());
    repo.assert_fsck_clean();
}

#[test]
fn workspace_prune_forgets_deleted_directories() {
    let repo = TestRepo::new();
    repo.write("a.txt", "a\n");
    repo.commit("base");
    let ws = repo.tmp.path().join("gone");
    repo.muse(["workspace", "add", ws.to_str().unwrap()]).ok();
    std::fs::remove_dir_all(&ws).unwrap();
    repo.muse(["workspace", "add", ws.to_str().unwrap(), "-b", "other"]).code(exit::CONFLICT);
    let pruned = repo.json(["workspace", "prune"]).ok().json();
    assert_eq!(pruned["pruned"][0]["name"], "gone");
    assert_eq!(repo.json(["workspace", "list"]).ok().json().as_array().unwrap().len(), 1);
    repo.muse(["workspace", "add", ws.to_str().unwrap()]).ok();
    // remove also works on a directory that is gone.
    std::fs::remove_dir_all(&ws).unwrap();
    repo.muse(["workspace", "remove", ws.to_str().unwrap()]).ok();
    assert_eq!(repo.json(["workspace", "list"]).ok().json().as_array().unwrap().len(), 1);
    repo.assert_fsck_clean();
}

#[test]
fn workspace_remove_refuses_what_it_did_not_scan_and_never_deletes_a_nested_store() {
    let repo = TestRepo::new();
    repo.write("a.txt", "a\n");
    repo.commit("base");
    let ws = repo.tmp.path().join("agent");
    repo.muse(["workspace", "add", ws.to_str().unwrap()]).ok();
    // Uncommitted work.
    common::write_file(&ws, "draft.txt", "draft\n");
    repo.json(["workspace", "remove", ws.to_str().unwrap()]).fails_with(exit::CONFLICT, "conflict");
    std::fs::remove_file(ws.join("draft.txt")).unwrap();
    // A nested repository with its own history.
    let nested = ws.join("vendor/lib");
    std::fs::create_dir_all(&nested).unwrap();
    Muse::new(&nested).args(["init"]).run().ok();
    common::write_file(&nested, "lib.txt", "nested\n");
    Muse::new(&nested).args(["commit", "-m", "nested"]).run().ok();
    let err = repo.json(["workspace", "remove", ws.to_str().unwrap()]).fails_with(exit::CONFLICT, "conflict").error_json();
    assert!(err["message"].as_str().unwrap().contains("nested"), "{err}");
    assert!(ws.join("a.txt").exists());
    let removed = repo.json(["workspace", "remove", "--force", ws.to_str().unwrap()]).ok().json();
    assert_eq!(removed["kept"][0], nested.to_str().unwrap());
    assert!(!ws.join("a.txt").exists());
    assert_eq!(std::fs::read_to_string(nested.join("lib.txt")).unwrap(), "nested\n");
    common::assert_fsck_clean(&nested);
    repo.assert_fsck_clean();
}

#[test]
fn concurrent_operations_from_several_workspaces_are_all_recorded() {
    const AGENTS: usize = 4;
    const ROUNDS: usize = 5;
    let repo = TestRepo::new();
    repo.write("a.txt", "a\n");
    repo.commit("base");
    let spaces: Vec<_> = (0..AGENTS).map(|k| repo.tmp.path().join(format!("agent-{k}"))).collect();
    for dir in &spaces {
        repo.muse(["workspace", "add", dir.to_str().unwrap()]).ok();
    }
    let ids: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = spaces
            .iter()
            .enumerate()
            .map(|(k, dir)| {
                s.spawn(move || {
                    (0..ROUNDS)
                        .map(|r| {
                            common::write_file(dir, "f.txt", format!("{k} {r}\n"));
                            id_of(&Muse::new(dir).env("MUSE_AGENT_ID", &format!("agent-{k}")).args(["--json", "commit", "-m", "x"]).run().ok().json())
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let log = ops(&repo);
    let commits: Vec<&Value> = log.iter().filter(|o| o["command"] == "commit" && o["workspace"].is_string()).collect();
    assert_eq!(commits.len(), AGENTS * ROUNDS);
    for id in &ids {
        assert!(commits.iter().any(|o| o["refs"][0]["new"] == id.as_str()), "commit {id} is missing from the op log");
    }
    for o in &commits {
        let ws = o["workspace"].as_str().unwrap();
        assert_eq!(o["agent_id"], format!("agent-{}", &ws["agent-".len()..]));
    }
    let numbers: Vec<u64> = log.iter().map(|o| o["id"].as_u64().unwrap()).collect();
    assert_eq!(numbers, (1..=numbers.len() as u64).rev().collect::<Vec<_>>(), "ids are dense and ordered");
    repo.assert_fsck_clean();
}

#[test]
fn a_torn_tail_is_ignored_with_a_warning_and_the_log_goes_on() {
    let repo = TestRepo::new();
    repo.write("a.txt", "a\n");
    let first = repo.commit("first");
    repo.write("a.txt", "b\n");
    repo.commit("second");
    let path = repo.path(".muse/oplog");
    let len = std::fs::metadata(&path).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(len - 10).unwrap();
    let run = repo.json(["op", "log"]).ok();
    assert!(run.stderr.contains("unreadable"), "{}", run.stderr);
    let log = run.json();
    assert_eq!(log["operations"].as_array().unwrap().len(), 1);
    assert_eq!(log["operations"][0]["refs"][0]["new"], first.as_str());
    assert_eq!(log["warnings"].as_array().unwrap().len(), 1);
    // The next operation cuts the torn record and is numbered after the last good one.
    repo.muse(["tag", "v1"]).ok();
    let run = repo.json(["op", "log"]).ok();
    assert!(!run.stderr.contains("unreadable"), "{}", run.stderr);
    let log = run.json();
    assert_eq!(log["operations"][0]["id"], 2);
    assert_eq!(log["operations"][0]["command"], "tag");
    assert_eq!(log["warnings"], serde_json::json!([]));
    repo.muse(["undo"]).ok();
    repo.json(["log", "-n", "1", "v1"]).code(exit::NOT_FOUND);
    repo.assert_fsck_clean();
}

#[test]
fn killed_commands_leave_a_readable_log() {
    let repo = TestRepo::new();
    for i in 0..200 {
        repo.write(&format!("d/f{i}.txt"), format!("{i}\n"));
    }
    repo.commit("base");
    for round in 0..12u64 {
        for i in 0..200 {
            repo.write(&format!("d/f{i}.txt"), format!("{i} round {round}\n"));
        }
        let mut child = repo.cmd().args(["commit", "-m", &format!("round {round}")]).spawn();
        std::thread::sleep(Duration::from_millis(round * 3));
        let _ = child.kill();
        let _ = child.wait();
        let log = repo.json(["op", "log"]).ok();
        assert!(!log.stderr.contains("panicked"));
        let ops = log.json()["operations"].as_array().unwrap().clone();
        // Every recorded commit names the commit its branch took at that time.
        for op in ops.iter().filter(|o| o["command"] == "commit") {
            assert!(op["refs"][0]["new"].is_string());
        }
        repo.assert_fsck_clean();
    }
    // The log is still appendable and undo still works.
    repo.muse(["tag", "after"]).ok();
    repo.muse(["undo"]).ok();
    repo.json(["log", "-n", "1", "after"]).code(exit::NOT_FOUND);
}
