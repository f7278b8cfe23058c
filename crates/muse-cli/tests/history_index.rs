//! Black-box tests of the history index: `log -- PATH` against `git log -- PATH` on a built
//! history (merges, a revert, a rename, directories) and on a corpus history, `muse index`,
//! `fsck` finding a damaged index, and `muse index rebuild` killed at many moments.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::history::{git_map, GitHistory};
use common::{exit, Muse};

/// `muse log --json [ARGS] -- PATH` as git ids (through the import's map), newest first.
fn muse_log(dir: &Path, args: &[&str], path: &str) -> Vec<String> {
    let back: std::collections::HashMap<String, String> = git_map(dir).into_iter().map(|(g, m)| (m, g)).collect();
    let mut all = vec!["--json", "log"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--", path]);
    let run = Muse::new(dir).args(all).run().ok();
    run.json().as_array().unwrap().iter().map(|c| back[c["commit_id"].as_str().unwrap()].clone()).collect()
}

fn git_log(git_dir: &Path, args: &[&str], path: &str) -> Vec<String> {
    let mut all = vec!["log", "--format=%H"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--", path]);
    common::history::git(git_dir, &all).lines().map(str::to_string).collect()
}

/// A history with a branch merged back, a merge that takes one side, a revert, a rename and
/// a directory touched from both sides.
fn built_history(root: &Path) -> GitHistory {
    let mut h = GitHistory::new(root);
    h.commit(&[("a.txt", Some("one\n")), ("src/x.py", Some("x = 1\n")), ("README", Some("r\n"))], "root");
    h.git(&["branch", "feature"]);
    h.commit(&[("a.txt", Some("one\ntwo\n"))], "main edits a");
    h.git(&["switch", "--quiet", "feature"]);
    h.commit(&[("src/x.py", Some("x = 2\n"))], "feature edits x");
    h.commit(&[("src/z.py", Some("z\n"))], "feature adds z");
    h.git(&["switch", "--quiet", "main"]);
    h.merge("feature", "merge feature");
    h.commit(&[("a.txt", Some("one\n"))], "revert: main edits a");
    h.commit(&[("src/x.py", None), ("src/y.py", Some("x = 2\n"))], "rename x to y");
    h.git(&["branch", "side"]);
    h.commit(&[("README", Some("r2\n"))], "readme");
    h.git(&["switch", "--quiet", "side"]);
    h.commit(&[("README", Some("r2\n"))], "same readme on side");
    h.git(&["switch", "--quiet", "main"]);
    h.merge("side", "merge side (same content)");
    h
}

#[test]
fn log_of_a_path_lists_what_git_log_lists() {
    let root = tempfile::tempdir().unwrap();
    let h = built_history(root.path());
    let dir = h.import(root.path());
    for path in ["a.txt", "src", "src/x.py", "src/y.py", "src/z.py", "README", "missing", "."] {
        assert_eq!(muse_log(&dir, &[], path), git_log(&h.dir, &[], path), "log -- {path}");
        assert_eq!(muse_log(&dir, &["--first-parent"], path), git_log(&h.dir, &["--first-parent"], path), "log --first-parent -- {path}");
    }
    // The history index was written by the first log and is sound.
    let status = Muse::new(&dir).args(["--json", "index", "status"]).run().ok().json();
    assert_eq!(status["commits"], 10);
    assert_eq!(status["added"], 0);
    Muse::new(&dir).args(["fsck"]).run().ok();
}

#[test]
fn a_damaged_index_fails_fsck_until_rebuilt_and_log_stays_right() {
    let root = tempfile::tempdir().unwrap();
    let h = built_history(root.path());
    let dir = h.import(root.path());
    let rebuilt = Muse::new(&dir).args(["--json", "index", "rebuild"]).run().ok().json();
    assert_eq!((rebuilt["commits"].as_u64(), rebuilt["segments"].as_u64(), rebuilt["added"].as_u64()), (Some(10), Some(1), Some(10)));
    let segment = std::fs::read_dir(dir.join(".muse/history")).unwrap().map(|e| e.unwrap().path()).find(|p| p.extension().is_some_and(|e| e == "mhi")).unwrap();
    let mut bytes = std::fs::read(&segment).unwrap();
    let at = bytes.len() - 40;
    bytes[at] ^= 0xff;
    std::fs::write(&segment, bytes).unwrap();
    let fsck = Muse::new(&dir).args(["fsck"]).run().code(exit::CORRUPT);
    assert!(fsck.stdout.contains("muse index rebuild"), "{}", fsck.stdout);
    // Readers do not trust a damaged index: they index anew.
    assert_eq!(muse_log(&dir, &[], "a.txt"), git_log(&h.dir, &[], "a.txt"));
    Muse::new(&dir).args(["index", "rebuild"]).run().ok();
    Muse::new(&dir).args(["fsck"]).run().ok();
}

/// The corpus history `name`, mirrored from its bundle and imported, in `root`.
fn corpus(root: &Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let bundle = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus").join(format!("{name}.bundle"));
    let git_dir = root.join(format!("{name}.git"));
    common::history::git(root, &["clone", "--quiet", "--mirror", bundle.to_str().unwrap(), git_dir.to_str().unwrap()]);
    let dir = root.join(name);
    Muse::new(root).args(["import", "git", git_dir.to_str().unwrap(), dir.to_str().unwrap()]).run().ok();
    (git_dir, dir)
}

/// `muse index rebuild` killed with SIGKILL at moments spread over its duration never leaves an
/// index that fsck refuses or that answers wrongly; and on the corpus history, `log -- PATH`
/// of its two most-changed files is git's list, before and after.
#[test]
fn a_killed_rebuild_leaves_a_sound_index() {
    let root = tempfile::tempdir().unwrap();
    let (git_dir, dir) = corpus(root.path(), "muse-python");
    let paths = ["muse/cli/app.py", "muse/domain.py", "muse"];
    let expected: Vec<Vec<String>> = paths.iter().map(|p| git_log(&git_dir, &[], p)).collect();
    for (path, want) in paths.iter().zip(&expected) {
        assert_eq!(&muse_log(&dir, &[], path), want, "log -- {path}");
    }
    let started = Instant::now();
    Muse::new(&dir).args(["index", "rebuild"]).run().ok();
    let full = started.elapsed();
    for i in 0..8u32 {
        let mut child = Muse::new(&dir).args(["index", "rebuild"]).spawn();
        std::thread::sleep(full.mul_f64(f64::from(i) / 7.0).min(Duration::from_secs(10)));
        let _ = child.kill();
        let _ = child.wait();
        Muse::new(&dir).args(["fsck"]).run().ok();
        assert_eq!(muse_log(&dir, &[], paths[0]), expected[0], "after kill {i}");
    }
    // A segment published by a killed rebuild just before its chain is removed by the next.
    Muse::new(&dir).args(["index", "rebuild"]).run().ok();
    let leftovers: Vec<_> = std::fs::read_dir(dir.join(".muse/history"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".mhi"))
        .collect();
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");
}
