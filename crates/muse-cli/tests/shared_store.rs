//! A store opened without a working copy (as a hub opens it) and read by several threads at once,
//! while other processes commit, apply bundles and run gc on it: every read succeeds and sees a
//! consistent history.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use common::TestRepo;
use muse_store::history::LogWalk;
use muse_store::snapshot::flatten;
use muse_store::{RefName, Store};

/// Reads everything reachable from `main` once: the log, each commit's snapshot, every blob of
/// the newest one. Returns how many commits the log had.
fn read_all(store: &Store) -> usize {
    let main = RefName::branch("main").unwrap();
    let head = store.refs().read(&main).expect("read main").expect("main exists");
    let walk = LogWalk::new(store, &[head], Vec::new()).expect("start the walk");
    let mut commits = 0;
    for (i, entry) in walk.enumerate() {
        let (_, commit) = entry.expect("a commit of the log");
        let files = flatten(store.objects(), commit.snapshot).expect("the snapshot's trees");
        if i == 0 {
            for file in &files {
                store.objects().read(&file.id).expect("a blob of the newest snapshot");
            }
        }
        commits += 1;
    }
    commits
}

#[test]
fn threads_read_a_bare_store_while_other_processes_commit_apply_and_gc() {
    let repo = TestRepo::new();
    for i in 0..5 {
        repo.write(&format!("f{i}.txt"), format!("version 0 of {i}\n"));
    }
    repo.commit("base");
    // A second repository whose history arrives by bundle while the readers run.
    let other = TestRepo::uninit();
    let seed = repo.root.join("../seed.mpack");
    repo.muse(["bundle", "create", seed.to_str().unwrap()]).ok();
    other.muse(["init"]).ok();
    other.muse(["bundle", "apply", seed.to_str().unwrap()]).ok();
    other.muse(["switch", "-c", "side"]).ok();
    other.write("side.txt", "from the other repository\n");
    other.commit("side work");
    other.muse(["bundle", "create", "../side.mpack", "side"]).ok();
    let side_bundle = other.root.join("../side.mpack");

    let store = Store::open(&repo.root.join(".muse")).expect("open the store without its working copy");
    let stop = AtomicBool::new(false);
    let reads = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                let mut last = 0;
                while !stop.load(Ordering::Relaxed) {
                    let seen = read_all(&store);
                    assert!(seen >= last, "history went backwards: {seen} commits after {last}");
                    last = seen;
                    reads.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        for round in 1..=6 {
            for i in 0..5 {
                repo.write(&format!("f{i}.txt"), format!("version {round} of {i}\n"));
            }
            repo.commit(&format!("round {round}"));
            if round == 3 {
                repo.muse(["bundle", "apply", side_bundle.to_str().unwrap()]).ok();
            }
            if round % 2 == 0 {
                repo.muse(["gc"]).ok();
            }
        }
        stop.store(true, Ordering::Relaxed);
    });
    assert!(reads.load(Ordering::Relaxed) > 0, "the readers never finished a read");
    assert_eq!(read_all(&store), 7);
    assert!(store.refs().read(&RefName::branch("side").unwrap()).unwrap().is_some());
    repo.assert_fsck_clean();
}

#[test]
fn a_bare_store_receives_a_bundle_and_clones_like_a_working_copy() {
    let repo = TestRepo::new();
    repo.write("src/lib.rs", "pub fn answer() -> u32 { 42 }\n");
    let head = repo.commit("first");
    let bundle = repo.root.join("../all.mpack");
    repo.muse(["bundle", "create", bundle.to_str().unwrap()]).ok();

    let hub = TestRepo::uninit();
    let init = hub.json(["init", "--bare", "-b", "main", "hub/project.muse"]).ok().json();
    assert_eq!(init["bare"], true);
    let bare_dir = hub.root.join("hub/project.muse");
    assert!(bare_dir.join("format").is_file() && !bare_dir.join(".muse").exists());
    hub.json(["init", "--bare", "hub/project.muse"]).fails_with(common::exit::CONFLICT, "conflict");

    // The hub's side: the library applies the bundle to the bare store (no working copy).
    let store = Store::open(&bare_dir).unwrap();
    assert!(store.is_bare());
    let input = std::io::BufReader::new(std::fs::File::open(&bundle).unwrap());
    let report = muse_pack::apply_bundle(&store, input, false, muse_pack::ApplyOptions::default()).unwrap();
    assert!(report.apply.rejected.is_empty());
    assert_eq!(store.refs().read(&RefName::branch("main").unwrap()).unwrap().map(|id| id.to_string()), Some(head.clone()));
    assert!(muse_store::fsck::fsck(&store).unwrap().problems.is_empty());

    // A clone of the bare store is named after it without `.muse` and checks its HEAD out.
    hub.muse(["clone", "hub/project.muse"]).ok();
    assert_eq!(std::fs::read_to_string(hub.root.join("project/src/lib.rs")).unwrap(), "pub fn answer() -> u32 { 42 }\n");
    let status = common::Muse::new(&hub.root.join("project")).args(["--json", "status"]).run().ok().json();
    assert_eq!(status["clean"], true);
    assert_eq!(status["branch"], "main");
}
