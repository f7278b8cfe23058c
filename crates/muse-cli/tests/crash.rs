//! Crash safety: `muse commit` killed with SIGKILL at many moments never leaves a damaged store
//! or a branch pointing at an incomplete commit.
//!
//! A tree of a few thousand files is committed; then, 20 times, files are changed and a
//! `muse commit` is started and killed with SIGKILL. When to kill follows a fixed schedule:
//! some kills come after a delay spread over the commit's measured duration (while files are
//! hashed and objects compressed), the others the moment the test sees a given step of the
//! commit happen on disk (its temporary pack created, the pack renamed into `packs/`, the index
//! published, the branch's new value written to a temporary file, the branch moved), plus a
//! little seeded jitter.
//! Watching the disk makes the interesting windows (between publishing the pack and moving the
//! ref) reachable on a loaded machine, where fixed delays would mostly miss them. After every
//! kill:
//!
//! * `muse fsck` exits 0 (every commit in the store has its whole closure, every ref and HEAD
//!   points at a commit);
//! * the branch points at the old commit or at the new one, and the new one is complete
//!   (parent = the old commit, expected message, `show` works);
//! * `muse log` and `muse status` work, and status agrees with the outcome: clean if the new
//!   commit landed (everything was committed), dirty if it did not.
//!
//! Most iterations rewrite every file, so that a commit hashes, compresses and writes thousands
//! of objects (a few hundred ms in a debug build; with the stat cache, changing only a few files
//! would make commits too quick to interrupt anywhere but at startup). Every fourth iteration
//! changes only a few files, to cover the short commit path too.

mod common;

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use common::{exit, id_of, Muse, Rng, Run, TestRepo};
use serde_json::json;
use std::collections::HashSet;
use std::path::PathBuf;

const DIRS: usize = 20;
const FILES_PER_DIR: usize = 100;
const ITERATIONS: usize = 20;
const SEED: u64 = 0x5eed_c0de_2026;

fn file_path(d: usize, f: usize) -> String {
    format!("d{d:02}/f{f:03}.txt")
}

/// The content of a file in generation `gen`: always the same length, so that files can be
/// rewritten in place (see [`overwrite`]).
fn content(gen: usize, d: usize, f: usize) -> String {
    format!("generation {gen:04} dir {d:02} file {f:03}: the quick brown fox jumps over the lazy dog\n").repeat(16)
}

/// Rewrites an existing file in place (no truncation) or creates it. Truncating and rewriting
/// thousands of files makes ext4 start writeback of each one on close (`auto_da_alloc`), which
/// on a busy disk turns a 50 ms rewrite into seconds; same-length in-place writes avoid that.
fn overwrite(root: &Path, rel: &str, data: &str) {
    use std::io::Write;
    let path = root.join(rel);
    match std::fs::OpenOptions::new().write(true).open(&path) {
        Ok(mut file) => file.write_all(data.as_bytes()).unwrap(),
        Err(_) => common::write_file(root, rel, data),
    }
}

/// Writes generation `gen`: every file when `full`, else five of them; plus one file added and
/// one removed each generation, so that trees change shape too.
fn write_generation(root: &Path, gen: usize, full: bool) {
    if full {
        for d in 0..DIRS {
            for f in 0..FILES_PER_DIR {
                overwrite(root, &file_path(d, f), &content(gen, d, f));
            }
        }
    } else {
        for k in 0..5 {
            let (d, f) = ((gen * 7 + k * 13) % DIRS, (gen * 11 + k * 17) % FILES_PER_DIR);
            overwrite(root, &file_path(d, f), &content(gen, d, f));
        }
    }
    common::write_file(root, &format!("extra/gen-{gen}.txt"), format!("added in generation {gen}\n"));
    let _ = std::fs::remove_file(root.join(format!("extra/gen-{}.txt", gen.wrapping_sub(2))));
}

fn start_commit(repo: &TestRepo, gen: usize) -> Child {
    repo.cmd().args(["--json", "commit", "-m", &format!("generation {gen}"), "--date", &common::date(gen as u32)]).spawn()
}

/// Runs a commit to completion and returns how long it took.
fn timed_commit(repo: &TestRepo, gen: usize) -> (String, Duration) {
    let started = Instant::now();
    let out = start_commit(repo, gen).wait_with_output().unwrap();
    let elapsed = started.elapsed();
    let run = Run::from_output("muse commit", out).ok();
    (id_of(&run.json()), elapsed)
}

fn head(repo: &TestRepo) -> String {
    repo.rev("main")
}

/// When to kill a commit.
#[derive(Debug, Clone, Copy)]
enum Trigger {
    /// This fraction of the measured commit duration after the start.
    After(f64),
    /// When its temporary pack appears in `objects/tmp`.
    TmpPackCreated,
    /// When a new `.pack` appears in `objects/packs` (renamed, index not yet published).
    PackRenamed,
    /// When a new `.idx` appears (the objects are visible; the ref has not moved yet).
    IndexPublished,
    /// When the branch's new value appears in a temporary file next to it (compare-and-swap in
    /// progress, under the ref's lock, before the rename).
    RefTempWritten,
    /// When `refs/heads/main` changes (the commit is recorded; caches not yet saved).
    RefMoved,
}

/// The kill schedule, one trigger per iteration. Iterations with a delay, and the even ones,
/// rewrite every file; the others change only a few.
const SCHEDULE: [Trigger; ITERATIONS] = [
    Trigger::After(0.0),
    Trigger::After(0.15),
    Trigger::After(0.3),
    Trigger::TmpPackCreated,
    Trigger::After(0.45),
    Trigger::TmpPackCreated,
    Trigger::After(0.6),
    Trigger::PackRenamed,
    Trigger::After(0.75),
    Trigger::PackRenamed,
    Trigger::IndexPublished,
    Trigger::IndexPublished,
    Trigger::RefTempWritten,
    Trigger::After(0.9),
    Trigger::RefMoved,
    Trigger::RefMoved,
    Trigger::RefTempWritten,
    Trigger::IndexPublished,
    Trigger::After(1.1),
    Trigger::RefMoved,
];

fn names(dir: &Path) -> HashSet<String> {
    std::fs::read_dir(dir).map(|d| d.filter_map(Result::ok).map(|e| e.file_name().to_string_lossy().into_owned()).collect()).unwrap_or_default()
}

/// What the test watches on disk.
struct Watch {
    tmp_dir: PathBuf,
    packs_dir: PathBuf,
    refs_dir: PathBuf,
    refs_before: HashSet<String>,
    branch: PathBuf,
    tmp_before: HashSet<String>,
    packs_before: HashSet<String>,
    branch_before: Vec<u8>,
}

impl Watch {
    fn new(repo: &TestRepo) -> Watch {
        let store = repo.path(".muse");
        let (tmp_dir, packs_dir) = (store.join("objects/tmp"), store.join("objects/packs"));
        let branch = store.join("refs/heads/main");
        Watch {
            tmp_before: names(&tmp_dir),
            packs_before: names(&packs_dir),
            branch_before: std::fs::read(&branch).unwrap(),
            refs_before: names(&store.join("refs/heads")),
            refs_dir: store.join("refs/heads"),
            tmp_dir,
            packs_dir,
            branch,
        }
    }

    fn new_file(&self, dir: &Path, before: &HashSet<String>, suffix: &str) -> bool {
        names(dir).iter().any(|n| n.ends_with(suffix) && !before.contains(n))
    }

    fn fired(&self, trigger: Trigger) -> bool {
        match trigger {
            Trigger::After(_) => true,
            Trigger::TmpPackCreated => self.new_file(&self.tmp_dir, &self.tmp_before, ".pack"),
            Trigger::PackRenamed => self.new_file(&self.packs_dir, &self.packs_before, ".pack"),
            Trigger::IndexPublished => self.new_file(&self.packs_dir, &self.packs_before, ".idx"),
            Trigger::RefTempWritten => names(&self.refs_dir).iter().any(|n| n.starts_with(".main") && n.ends_with(".tmp") && !self.refs_before.contains(n)),
            Trigger::RefMoved => std::fs::read(&self.branch).is_ok_and(|b| b != self.branch_before),
        }
    }
}

/// Waits for `trigger` (or the child's exit, or a generous deadline); returns whether it fired
/// while the child was still running.
fn wait_for(child: &mut Child, watch: &Watch, trigger: Trigger, duration: Duration) -> bool {
    if let Trigger::After(fraction) = trigger {
        std::thread::sleep(duration.mul_f64(fraction));
        return true;
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if watch.fired(trigger) {
            return true;
        }
        if child.try_wait().unwrap().is_some() || Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_micros(100));
    }
}

#[test]
fn killed_commits_never_damage_the_store() {
    let test_started = Instant::now();
    let repo = TestRepo::new();
    let mut rng = Rng::new(SEED);

    // Generations 0, 1 and 2: uninterrupted, to measure a full commit and a small one.
    write_generation(&repo.root, 0, true);
    let (c0, _) = timed_commit(&repo, 0);
    write_generation(&repo.root, 1, true);
    let (c1, full_duration) = timed_commit(&repo, 1);
    write_generation(&repo.root, 2, false);
    let (c2, small_duration) = timed_commit(&repo, 2);
    let mut chain = vec![c0, c1, c2];
    assert_eq!(repo.log_ids(&[]), chain.iter().rev().cloned().collect::<Vec<_>>());

    let (mut landed, mut not_landed, mut finished_before_kill) = (0, 0, 0);
    let mut outcomes = Vec::new();
    for (i, &trigger) in SCHEDULE.iter().enumerate() {
        let iteration_started = Instant::now();
        let gen = i + 3;
        let full = matches!(trigger, Trigger::After(_)) || i % 2 == 0;
        write_generation(&repo.root, gen, full);
        let duration = if full { full_duration } else { small_duration };
        let old = chain.last().unwrap().clone();

        let watch = Watch::new(&repo);
        let stale_before = watch.refs_before.iter().filter(|n| n.ends_with(".tmp")).count();
        let mut child = start_commit(&repo, gen);
        let fired = wait_for(&mut child, &watch, trigger, duration);
        // Seeded jitter after the trigger: 0 to 2 ms.
        std::thread::sleep(Duration::from_micros(rng.below(2000)));
        let already_done = child.try_wait().unwrap().is_some();
        let _ = child.kill();
        let exit_status = child.wait().unwrap();
        if already_done {
            finished_before_kill += 1;
            assert_eq!(exit_status.code(), Some(0), "iteration {i}: an uninterrupted commit failed");
        }

        let killed_at = iteration_started.elapsed();
        // The store is sound.
        let fsck = Muse::new(&repo.root).args(["--json", "fsck"]).run();
        assert_eq!(fsck.code, Some(exit::OK), "iteration {i} ({trigger:?}): fsck failed:\n{}\n{}", fsck.stdout, fsck.stderr);
        assert_eq!(fsck.json()["ok"], true);
        let checked_at = iteration_started.elapsed();

        // The branch holds the old commit or the complete new one.
        let now = head(&repo);
        let status = repo.status();
        let outcome = if now == old {
            not_landed += 1;
            assert!(!(fired && matches!(trigger, Trigger::RefMoved)), "iteration {i}: the ref was seen moving, yet it holds the old commit");
            assert_eq!(status["clean"], false, "iteration {i}: the commit did not land, so the changes must still show");
            "old"
        } else {
            landed += 1;
            // (`log -n 1` rather than `show`: show would diff thousands of files.)
            let entry = repo.json(["log", "-n", "1", &now]).ok().json()[0].clone();
            assert_eq!(entry["parents"], json!([old]), "iteration {i}: the new head's parent");
            assert_eq!(entry["message"], format!("generation {gen}"));
            assert_eq!(status["clean"], true, "iteration {i}: the commit landed, so the working copy is fully committed: {status}");
            chain.push(now.clone());
            "new"
        };
        assert_eq!(status["head"], now.as_str());
        // History is intact and linear.
        assert_eq!(repo.log_ids(&[]), chain.iter().rev().cloned().collect::<Vec<_>>(), "iteration {i}");
        outcomes.push(
            format!(
                "{}{trigger:?}{}{} -> {outcome} (killed at {killed_at:.0?}, fsck done at {checked_at:.0?}, iteration {:.0?})",
                if full { "full  " } else { "small " },
                if fired { "" } else { " (not seen)" },
                if already_done { " (finished first)" } else { "" },
                iteration_started.elapsed()
            ) + &if stale_before > 0 { format!(" [{stale_before} temp ref file(s) of killed commits present]") } else { String::new() },
        );
    }

    // After all that, a normal commit works and everything is consistent.
    write_generation(&repo.root, ITERATIONS + 3, false);
    let (last, _) = timed_commit(&repo, ITERATIONS + 3);
    chain.push(last.clone());
    assert_eq!(repo.log_ids(&[]).len(), chain.len());
    assert_eq!(repo.status()["clean"], true);
    repo.assert_fsck_clean();
    // Every blob of an early commit is still readable: check it out and come back.
    repo.muse(["switch", "--detach", &chain[1]]).ok();
    assert_eq!(repo.read(&file_path(3, 4)), content(1, 3, 4));
    repo.muse(["switch", "main"]).ok();
    assert_eq!(repo.status()["clean"], true);
    assert_eq!(head(&repo), last);

    let report = Muse::new(&repo.root).args(["--json", "fsck"]).run().ok().json();
    eprintln!("calibration: full commit {full_duration:?}, small commit {small_duration:?}");
    for (i, o) in outcomes.iter().enumerate() {
        eprintln!("  kill {i:2}: {o}");
    }
    eprintln!(
        "{ITERATIONS} kills: {not_landed} before the branch moved, {landed} after, {finished_before_kill} finished first; \
         {} leftover temp file(s); {} packs; {:?} in total",
        report["report"]["leftover_temp_files"],
        report["report"]["packs"],
        test_started.elapsed()
    );
    // The schedule must actually interrupt commits, on both sides of the ref update.
    assert!(ITERATIONS - finished_before_kill >= ITERATIONS / 2, "too few commits were interrupted");
    assert!(not_landed >= 1, "no kill landed before the branch moved");
}

/// A lock file left by a killed writer (whatever it holds: a pid, a commit id, nothing) does not
/// stall the next writer: ref locks are advisory locks the kernel releases when a process dies.
/// (Regression test: with pid-in-file locks, a lock left during the ref update held a commit id,
/// and the next commit waited 5 s before breaking it.)
#[test]
fn a_commit_after_a_kill_during_the_ref_update_does_not_stall() {
    let repo = TestRepo::new();
    repo.write("a", "1\n");
    let c = repo.commit("one");
    repo.write("a", "2\n");
    // What the killed writer left: its lock file, already holding the value it was installing.
    std::fs::write(repo.path(".muse/refs/heads/main.lock"), format!("{c}\n")).unwrap();
    let started = Instant::now();
    repo.commit("after the crash");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "the commit waited {took:?} for a lock whose holder is dead");
}

/// Pack consolidation runs in a commit once the store holds more than 48 packs, under
/// `objects/packs/repack.lock`. A commit killed while consolidating must not disable
/// consolidation for good. (Regression test: with a create_new lock file removed on completion,
/// the leftover file made every later consolidation skip, and packs piled up.)
#[test]
fn a_consolidation_killed_midway_does_not_disable_consolidation() {
    let repo = TestRepo::new();
    let lock = repo.path(".muse/objects/packs/repack.lock");
    let commit = |repo: &TestRepo, n: u32| {
        repo.write("counter", format!("{n}\n"));
        repo.cmd().args(["commit", "-m", &format!("commit {n}"), "--date", &common::date(n)]).run().ok();
    };
    let mut n = 0;
    while repo.packs().len() < 48 {
        n += 1;
        commit(&repo, n);
    }
    // The next commit that pushes the store over 48 packs consolidates: kill it while it does.
    n += 1;
    repo.write("counter", format!("{n}\n"));
    common::write_file(&repo.root, "big", "x".repeat(1 << 20));
    let mut child = repo.cmd().args(["commit", "-m", "consolidating", "--date", &common::date(n)]).spawn();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !lock.exists() && child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_micros(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    if !lock.exists() {
        // The consolidation was too quick to catch: leave what a killed one leaves.
        std::fs::write(&lock, "").unwrap();
    }
    repo.assert_fsck_clean();
    // Later commits must be able to consolidate again.
    for _ in 0..5 {
        n += 1;
        commit(&repo, n);
    }
    repo.assert_fsck_clean();
    let packs = repo.packs().len();
    assert!(packs <= 49, "{packs} packs: consolidation has been disabled by a dead process's lock");
}
