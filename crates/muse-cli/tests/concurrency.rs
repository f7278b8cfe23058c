//! Concurrency: many `muse` processes writing the same store at once.
//!
//! * Agents committing in parallel, each in its own workspace on its own branch: every commit
//!   succeeds, every branch ends with exactly its own commits, and readers running meanwhile
//!   (`fsck`, `log --all`) always see a sound store.
//! * Processes racing to move one branch (`commit --allow-empty` from one working copy) while
//!   others create branches and tags at HEAD: a commit either lands or fails with exit 5
//!   (conflict); no successful commit is lost, no failed one appears, history stays linear.
//! * Many processes creating the same tag, or deleting the same branch: exactly one wins.
//! * `muse gc` rewriting every pack while agents commit (and consolidate packs): no commit and
//!   no object is lost.
//!
//! Enough commits are made (more than 48 packs) that pack consolidation runs while other
//! processes read and write. `muse fsck` is clean afterwards in every case.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use common::{exit, id_of, Muse, Run, TestRepo};
use serde_json::json;

const AGENTS: usize = 6;
const ROUNDS: usize = 9;

fn run_json(dir: &Path, args: &[&str]) -> Run {
    Muse::new(dir).args(["--json"]).args(args).run()
}

#[test]
fn agents_commit_in_parallel_from_their_own_workspaces() {
    let repo = TestRepo::new();
    repo.write("shared.txt", "base\n");
    repo.write("src/lib.rs", "pub fn base() {}\n");
    let base = repo.commit("base");
    let spaces: Vec<PathBuf> = (0..AGENTS).map(|k| repo.tmp.path().join(format!("agent-{k}"))).collect();
    for dir in &spaces {
        repo.muse(["workspace", "add", dir.to_str().unwrap()]).ok();
    }

    let writers_done = AtomicBool::new(false);
    let reader_runs = Mutex::new(0usize);
    let results: Vec<Vec<String>> = std::thread::scope(|s| {
        // A reader checking the store while the agents write.
        let reader = s.spawn(|| {
            while !writers_done.load(Ordering::SeqCst) {
                let fsck = run_json(&repo.root, &["fsck"]);
                assert_eq!(fsck.code, Some(exit::OK), "fsck during concurrent commits:\n{}\n{}", fsck.stdout, fsck.stderr);
                run_json(&repo.root, &["log", "--all", "--oneline"]).ok();
                *reader_runs.lock().unwrap() += 1;
            }
        });
        let agents: Vec<_> = spaces
            .iter()
            .enumerate()
            .map(|(k, dir)| {
                s.spawn(move || {
                    let mut ids = Vec::new();
                    for r in 0..ROUNDS {
                        common::write_file(dir, &format!("agent-{k}.txt"), format!("agent {k} round {r}\n"));
                        common::write_file(dir, "shared.txt", format!("agent {k} was here in round {r}\n"));
                        let run = Muse::new(dir)
                            .env("MUSE_AGENT_ID", &format!("agent-{k}"))
                            .args(["--json", "commit", "-m", &format!("agent {k} round {r}"), "--model-id", "model-m"])
                            .run()
                            .ok();
                        let c = run.json();
                        assert_eq!(c["agent_id"], format!("agent-{k}"));
                        ids.push(id_of(&c));
                    }
                    ids
                })
            })
            .collect();
        let ids = agents.into_iter().map(|h| h.join().unwrap()).collect();
        writers_done.store(true, Ordering::SeqCst);
        reader.join().unwrap();
        ids
    });
    assert!(*reader_runs.lock().unwrap() >= 1);

    // Every branch holds exactly its agent's commits, in order, on top of base.
    for (k, ids) in results.iter().enumerate() {
        let log = repo.json(["log", &format!("agent-{k}")]).ok().json();
        let entries = log.as_array().unwrap();
        assert_eq!(entries.len(), ROUNDS + 1, "branch agent-{k}");
        let history: Vec<String> = entries.iter().map(id_of).collect();
        let mut expected: Vec<String> = ids.iter().rev().cloned().collect();
        expected.push(base.clone());
        assert_eq!(history, expected, "branch agent-{k}");
        for (r, e) in entries.iter().rev().skip(1).enumerate() {
            assert_eq!(e["message"], format!("agent {k} round {r}"));
            assert_eq!(e["agent_id"], format!("agent-{k}"));
        }
        // Its files are its own.
        let changed = repo.muse(["diff", "--name-only", &base, &format!("agent-{k}")]).ok().stdout;
        assert_eq!(changed, format!("agent-{k}.txt\nshared.txt\n"));
        let status = run_json(&spaces[k], &["status"]).ok().json();
        assert_eq!(status["clean"], true);
        assert_eq!(status["head"], json!(ids.last().unwrap()));
    }
    // main did not move; everything is reachable; the store is sound.
    assert_eq!(repo.rev("main"), base);
    assert_eq!(common::all_commit_ids(&repo.root).len(), 1 + AGENTS * ROUNDS);
    repo.assert_fsck_clean();
    // Packs were consolidated along the way (one pack per commit would be 55 packs).
    let packs = repo.packs().len();
    eprintln!("{} commits by {AGENTS} agents; {} fsck+log reader passes meanwhile; {packs} packs left", AGENTS * ROUNDS, reader_runs.lock().unwrap());
    assert!(packs <= 49, "{packs} packs: consolidation never ran");
}

/// The outcome of one racing commit.
struct Attempt {
    message: String,
    code: i32,
    id: Option<String>,
}

#[test]
fn racing_commits_on_one_branch_never_lose_an_update() {
    const RACERS: usize = 6;
    const TRIES: usize = 6;
    let repo = TestRepo::new();
    repo.write("a", "base\n");
    let base = repo.commit("base");

    let racing = AtomicBool::new(true);
    let (attempts, refs_made): (Vec<Attempt>, Vec<(String, String)>) = std::thread::scope(|s| {
        let committers: Vec<_> = (0..RACERS)
            .map(|k| {
                let repo = &repo;
                s.spawn(move || {
                    let mut out = Vec::new();
                    for t in 0..TRIES {
                        let message = format!("racer {k} try {t}");
                        let run = repo.json(["commit", "--allow-empty", "-m", &message]);
                        let code = run.code.unwrap();
                        let id = match code {
                            0 => Some(id_of(&run.json())),
                            exit::CONFLICT => {
                                assert_eq!(run.error_json()["kind"], "conflict");
                                None
                            }
                            other => panic!("racing commit exited {other}: {}", run.stderr),
                        };
                        out.push(Attempt { message, code, id });
                    }
                    out
                })
            })
            .collect();
        // Meanwhile, branches and tags are created at whatever HEAD is.
        let ref_maker = s.spawn(|| {
            let mut made = Vec::new();
            let mut n = 0;
            while racing.load(Ordering::SeqCst) || n < 4 {
                for kind in ["branch", "tag"] {
                    let name = format!("{kind}-{n}");
                    let created = repo.json([kind, &name]).ok().json();
                    made.push((name, id_of(&created)));
                }
                n += 1;
            }
            made
        });
        let attempts: Vec<Attempt> = committers.into_iter().flat_map(|h| h.join().unwrap()).collect();
        racing.store(false, Ordering::SeqCst);
        (attempts, ref_maker.join().unwrap())
    });

    let succeeded: HashSet<String> = attempts.iter().filter_map(|a| a.id.clone()).collect();
    let failed: Vec<&Attempt> = attempts.iter().filter(|a| a.code != 0).collect();
    assert_eq!(succeeded.len() + failed.len(), RACERS * TRIES);
    assert!(!succeeded.is_empty());

    // History: base plus exactly the successful commits, each the parent of the next.
    let log = repo.json(["log"]).ok().json();
    let entries = log.as_array().unwrap();
    let history: Vec<String> = entries.iter().map(id_of).collect();
    assert_eq!(history.last(), Some(&base));
    let landed: HashSet<String> = history[..history.len() - 1].iter().cloned().collect();
    assert_eq!(landed, succeeded, "every successful commit is on the branch, and nothing else");
    for pair in entries.windows(2) {
        assert_eq!(pair[0]["parents"], json!([pair[1]["commit_id"]]), "history is linear");
    }
    let messages: HashSet<&str> = entries.iter().map(|e| e["message"].as_str().unwrap()).collect();
    for f in &failed {
        assert!(!messages.contains(f.message.as_str()), "a failed commit appears in history: {}", f.message);
    }
    // Every ref created during the race points at a commit of that history.
    let on_main: HashSet<&String> = history.iter().collect();
    for (name, id) in &refs_made {
        assert!(on_main.contains(id), "{name} points at {id}, not on main");
        assert_eq!(&repo.rev(name), id, "{name} moved");
    }
    eprintln!("{} commits landed, {} lost the race (exit 5); {} refs created meanwhile", succeeded.len(), failed.len(), refs_made.len());
    repo.assert_fsck_clean();
    assert_eq!(repo.status()["clean"], true);
}

#[test]
fn exactly_one_process_creates_a_tag_or_deletes_a_branch() {
    const PROCS: usize = 8;
    let repo = TestRepo::new();
    repo.write("a", "1\n");
    let c1 = repo.commit("one");
    repo.write("a", "2\n");
    let c2 = repo.commit("two");
    for round in 0..3 {
        // Half the processes tag c1, half c2: one wins, and the tag never moves afterwards.
        let tag = format!("release-{round}");
        let runs: Vec<(String, Run)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..PROCS)
                .map(|k| {
                    let (repo, tag) = (&repo, &tag);
                    let target = if k % 2 == 0 { c1.clone() } else { c2.clone() };
                    s.spawn(move || (target.clone(), repo.json(["tag", tag, &target])))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let winners: Vec<&(String, Run)> = runs.iter().filter(|(_, r)| r.code == Some(0)).collect();
        assert_eq!(winners.len(), 1, "round {round}: {} processes created the same tag", winners.len());
        for (_, r) in runs.iter().filter(|(_, r)| r.code != Some(0)) {
            assert_eq!(r.code, Some(exit::CONFLICT), "{}", r.stderr);
            assert_eq!(r.error_json()["kind"], "conflict");
        }
        assert_eq!(repo.rev(&tag), winners[0].0);

        // Everyone deletes the same branch: one succeeds, the others find it gone or moved.
        let branch = format!("doomed-{round}");
        repo.muse(["branch", &branch, &c1]).ok();
        let codes: Vec<i32> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..PROCS).map(|_| s.spawn(|| repo.json(["branch", "-d", &branch]).code.unwrap())).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(codes.iter().filter(|&&c| c == 0).count(), 1, "round {round}: {codes:?}");
        assert!(codes.iter().all(|&c| c == 0 || c == exit::NOT_FOUND || c == exit::CONFLICT), "{codes:?}");
        repo.json(["log", &branch]).fails_with(exit::NOT_FOUND, "not_found");
    }
    // Distinct branches created at once all exist.
    let names: Vec<String> = (0..PROCS).map(|k| format!("parallel-{k}")).collect();
    std::thread::scope(|s| {
        for name in &names {
            let repo = &repo;
            s.spawn(move || repo.muse(["branch", name]).ok());
        }
    });
    let listed: HashMap<String, String> = repo
        .json(["branch"])
        .ok()
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["name"].as_str().unwrap().to_string(), b["commit_id"].as_str().unwrap().to_string()))
        .collect();
    for name in &names {
        assert_eq!(listed.get(name), Some(&c2), "{name}");
    }
    repo.assert_fsck_clean();
}

#[test]
fn gc_while_agents_commit_loses_nothing() {
    const GC_AGENTS: usize = 4;
    const GC_ROUNDS: usize = 13;
    let repo = TestRepo::new();
    for i in 0..30 {
        repo.write(&format!("src/f{i}.txt"), format!("line {i}\n").repeat(40));
    }
    let base = repo.commit("base");
    let spaces: Vec<PathBuf> = (0..GC_AGENTS).map(|k| repo.tmp.path().join(format!("gc-agent-{k}"))).collect();
    for dir in &spaces {
        repo.muse(["workspace", "add", dir.to_str().unwrap()]).ok();
    }
    let writers_done = AtomicBool::new(false);
    let (ids, gc_runs): (Vec<Vec<String>>, usize) = std::thread::scope(|s| {
        let gc = s.spawn(|| {
            let mut runs = 0;
            while !writers_done.load(Ordering::SeqCst) || runs == 0 {
                let run = run_json(&repo.root, &["gc"]);
                assert!(run.code == Some(0) || run.code == Some(exit::CONFLICT), "gc during commits: {:?}\n{}", run.code, run.stderr);
                runs += 1;
            }
            runs
        });
        let agents: Vec<_> = spaces
            .iter()
            .enumerate()
            .map(|(k, dir)| {
                s.spawn(move || {
                    let mut ids = Vec::new();
                    for r in 0..GC_ROUNDS {
                        // Small edits of existing files (delta material for gc) and a new file.
                        common::write_file(dir, &format!("src/f{}.txt", (k * 7 + r) % 30), format!("agent {k} round {r}\n").repeat(40));
                        common::write_file(dir, &format!("agent-{k}/r{r}.txt"), format!("{k}/{r}\n"));
                        let run = Muse::new(dir).args(["--json", "commit", "-m", &format!("agent {k} round {r}")]).run().ok();
                        ids.push(id_of(&run.json()));
                    }
                    ids
                })
            })
            .collect();
        let ids = agents.into_iter().map(|h| h.join().unwrap()).collect();
        writers_done.store(true, Ordering::SeqCst);
        (ids, gc.join().unwrap())
    });
    for (k, ids) in ids.iter().enumerate() {
        let history = repo.log_ids(&[&format!("gc-agent-{k}")]);
        let mut expected: Vec<String> = ids.iter().rev().cloned().collect();
        expected.push(base.clone());
        assert_eq!(history, expected, "branch gc-agent-{k}");
        assert_eq!(run_json(&spaces[k], &["status"]).ok().json()["clean"], true);
    }
    // fsck reads every object of every pack: nothing was lost or damaged.
    repo.assert_fsck_clean();
    // And a final gc leaves one sound pack.
    run_json(&repo.root, &["gc"]).ok();
    repo.assert_fsck_clean();
    assert_eq!(repo.packs().len(), 1);
    // Every file of every branch tip checks out.
    for k in 0..GC_AGENTS {
        let changed = repo.muse(["diff", "--name-only", &base, &format!("gc-agent-{k}")]).ok().stdout;
        assert!(changed.contains(&format!("agent-{k}/r{}.txt", GC_ROUNDS - 1)), "{changed}");
    }
    eprintln!("{} commits by {GC_AGENTS} agents with {gc_runs} gc runs meanwhile", GC_AGENTS * GC_ROUNDS);
}
