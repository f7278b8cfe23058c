//! Fault injection at every write step of an apply (spool writes, store writes, publication, ref
//! moves): an I/O error in-process, and a real `kill -9` of a child process. Afterwards `fsck`
//! must be clean, no ref may point at an incomplete commit, and applying again must succeed.

mod common;

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use muse_core::CommitId;
use muse_pack::{apply_bundle, create_bundle, ApplyOptions, BuildOptions, BundleHeader, WriteStep};
use muse_store::{RefName, Repository};

const CHILD: &str = "MUSE_PACK_CRASH_CHILD";

/// A source repository, and a bundle that extends `main` from `base` and adds `feature`.
fn scenario() -> (tempfile::TempDir, Repository, CommitId, Vec<u8>) {
    let (dir, repo) = repo();
    let steps: Vec<Step> = (0..10usize).map(|i| Step { parents: vec![i.wrapping_sub(1)], edits: vec![(i % 7, (i % 2) as u8, i as u8), (1, 0, 3)] }).collect();
    let ids = write_history(repo.objects(), &steps);
    let header = BundleHeader {
        prerequisites: vec![ids[4]],
        refs: vec![(RefName::branch("main").unwrap(), ids[9]), (RefName::branch("feature").unwrap(), ids[7])],
        head: None,
    };
    let mut bundle = Vec::new();
    create_bundle(&repo, &header, &mut bundle, &BuildOptions { level: 1, max_depth: 4 }).unwrap();
    (dir, repo, ids[4], bundle)
}

/// A target repository holding the source's history up to `base` on `main` (HEAD elsewhere, so
/// `main` may move).
fn target(source: &Repository, base: CommitId, dir: &Path) -> Repository {
    let repo = Repository::init(dir, "elsewhere").unwrap();
    let header = BundleHeader { prerequisites: vec![], refs: vec![(RefName::branch("main").unwrap(), base)], head: None };
    let mut bundle = Vec::new();
    create_bundle(source, &header, &mut bundle, &BuildOptions { level: 1, max_depth: 4 }).unwrap();
    apply_bundle(&repo, &bundle[..], false, ApplyOptions::default()).unwrap();
    repo
}

/// fsck is clean and every ref names a commit whose closure is complete.
fn assert_sound(repo: &Repository, context: &str) {
    let report = muse_store::fsck::fsck(repo).unwrap();
    assert!(report.problems.is_empty(), "{context}: fsck found {:?}", report.problems);
    assert!(closure_problems(repo.objects()).is_empty(), "{context}: {:?}", closure_problems(repo.objects()));
    for (name, id) in repo.refs().list("refs/heads/").unwrap() {
        assert!(repo.objects().read_commit(&id).is_ok(), "{context}: {name} points at a missing commit");
    }
}

fn count_steps(source: &Repository, base: CommitId, bundle: &[u8]) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let repo = target(source, base, &dir.path().join("t"));
    let steps = AtomicUsize::new(0);
    let hook = |_: &WriteStep<'_>| {
        steps.fetch_add(1, Ordering::SeqCst);
        Ok(())
    };
    apply_bundle(&repo, bundle, false, ApplyOptions { hook: Some(&hook), ..ApplyOptions::default() }).unwrap();
    steps.into_inner()
}

/// PF-2 as `docs/mpack.md` states it: an I/O error before the new pack is published leaves the
/// store's objects and refs exactly as they were; an error after it (moving a ref) leaves every
/// accepted object in the store and the failing ref unmoved; never anything dangling.
#[test]
fn io_error_at_every_write_step_leaves_a_sound_store() {
    let (_src, source, base, bundle) = scenario();
    let total = count_steps(&source, base, &bundle);
    assert!(total > 20, "only {total} write steps");
    let (main, feature) = (RefName::branch("main").unwrap(), RefName::branch("feature").unwrap());
    for fail_at in 0..total {
        let dir = tempfile::tempdir().unwrap();
        let repo = target(&source, base, &dir.path().join("t"));
        let objects_before = repo.objects().all_objects().unwrap().len();
        let steps = AtomicUsize::new(0);
        let failed_ref = std::sync::Mutex::new(None::<String>);
        let hook = |step: &WriteStep<'_>| match steps.fetch_add(1, Ordering::SeqCst) == fail_at {
            true => {
                if let WriteStep::Ref(name) = step {
                    *failed_ref.lock().unwrap() = Some(name.to_string());
                }
                Err(io::Error::other(format!("injected failure before {step}")))
            }
            false => Ok(()),
        };
        let err = apply_bundle(&repo, &bundle[..], false, ApplyOptions { hook: Some(&hook), ..ApplyOptions::default() }).unwrap_err();
        assert!(err.to_string().contains("injected failure"), "{err}");
        assert_sound(&repo, &format!("error at step {fail_at}"));
        let objects_after = repo.objects().all_objects().unwrap().len();
        let failed_ref = failed_ref.into_inner().unwrap();
        match &failed_ref {
            None => {
                assert_eq!(objects_after, objects_before, "error at step {fail_at} (before publication) wrote objects");
                assert_eq!(repo.refs().read(&main).unwrap(), Some(base), "step {fail_at}");
                assert_eq!(repo.refs().read(&feature).unwrap(), None, "step {fail_at}");
            }
            Some(name) => {
                assert!(objects_after > objects_before, "step {fail_at}: the published objects stay");
                let unmoved = if *name == main.to_string() { Some(base) } else { None };
                assert_eq!(repo.refs().read(&RefName::parse(name).unwrap()).unwrap(), unmoved, "step {fail_at}: {name} moved");
            }
        }
        let report = apply_bundle(&repo, &bundle[..], false, ApplyOptions::default()).unwrap();
        assert!(report.apply.rejected.is_empty());
        if failed_ref.is_some() {
            assert_eq!(report.apply.commits_written + report.apply.snapshots_written + report.apply.blobs_written, 0, "step {fail_at}: objects were all there");
        }
        assert_sound(&repo, &format!("re-apply after error at step {fail_at}"));
        assert!(repo.refs().read(&feature).unwrap().is_some());
    }
}

/// Run by the sweep below in a child process: applies the bundle and kills itself with SIGKILL
/// just before the write step numbered in the environment.
#[test]
fn crash_child() {
    let Ok(spec) = std::env::var(CHILD) else { return };
    let mut parts = spec.splitn(3, '|');
    let (Some(repo_dir), Some(bundle_path), Some(kill_at)) = (parts.next(), parts.next(), parts.next()) else { panic!("bad spec {spec}") };
    let kill_at: usize = kill_at.parse().unwrap();
    let repo = Repository::open(Path::new(repo_dir)).unwrap();
    let bundle = std::fs::read(bundle_path).unwrap();
    let steps = AtomicUsize::new(0);
    let hook = |_: &WriteStep<'_>| {
        if steps.fetch_add(1, Ordering::SeqCst) == kill_at {
            let _ = Command::new("kill").args(["-9", &std::process::id().to_string()]).status();
            std::thread::sleep(std::time::Duration::from_secs(60));
        }
        Ok(())
    };
    apply_bundle(&repo, &bundle[..], false, ApplyOptions { hook: Some(&hook), ..ApplyOptions::default() }).unwrap();
}

#[test]
fn kill_9_at_every_write_step_leaves_a_sound_store() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    let (_src, source, base, bundle) = scenario();
    let total = count_steps(&source, base, &bundle);
    let work = tempfile::tempdir().unwrap();
    let bundle_path = work.path().join("b.bundle");
    std::fs::write(&bundle_path, &bundle).unwrap();
    let exe = std::env::current_exe().unwrap();
    for kill_at in 0..total {
        let dir = work.path().join(format!("t{kill_at}"));
        let repo = target(&source, base, &dir);
        let status = Command::new(&exe)
            .args(["--exact", "crash_child", "--test-threads=1", "--nocapture"])
            .env(CHILD, format!("{}|{}|{kill_at}", dir.display(), bundle_path.display()))
            .output()
            .unwrap()
            .status;
        assert_eq!(status.signal(), Some(9), "child for step {kill_at} was not killed: {status:?}");
        let repo = Repository::open(repo.work_dir()).unwrap();
        assert_sound(&repo, &format!("kill -9 at step {kill_at}"));
        let report = apply_bundle(&repo, &bundle[..], false, ApplyOptions::default()).unwrap();
        assert!(report.apply.rejected.is_empty());
        assert_sound(&repo, &format!("re-apply after kill -9 at step {kill_at}"));
        let leftovers = std::fs::read_dir(repo.objects().tmp_dir()).unwrap().count() as u64;
        let gc = muse_pack::gc(&repo, &muse_pack::GcOptions { build: BuildOptions { level: 1, max_depth: 4 }, ..Default::default() }).unwrap();
        assert_eq!(gc.temp_files_removed, leftovers, "gc removes the killed apply's temporary files");
        assert_eq!(muse_store::fsck::fsck(&repo).unwrap().leftover_temp_files, 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
