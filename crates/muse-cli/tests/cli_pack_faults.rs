//! Syscall-level fault injection into `muse bundle apply`, with strace as a test-only
//! filesystem shim: every `write`, `fsync`, `rename`, `unlink` and `mkdir` the apply makes is, in
//! turn, failed with EIO and (in another run) met with SIGKILL. After each run `muse fsck` must
//! pass and applying the bundle again must succeed. (`bench/pack-faults.sh` is the full sweep,
//! `openat` and the rest included.)

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::{bin, TestRepo, AUTHOR};

/// Runs `muse bundle apply BUNDLE` in `dir` under strace with `trace` and, if given, `inject`;
/// returns strace's log.
fn traced_apply(dir: &Path, bundle: &Path, syscall: &str, inject: Option<String>, log: &Path) {
    let mut cmd = Command::new("strace");
    cmd.args(["-f", "-qq", "-o"]).arg(log).arg("-e").arg(format!("trace={syscall}"));
    if let Some(inject) = inject {
        cmd.arg("-e").arg(format!("inject={syscall}:{inject}"));
    }
    cmd.arg(bin()).args(["bundle", "apply"]).arg(bundle);
    cmd.current_dir(dir).env("MUSE_AUTHOR", AUTHOR).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    // The apply fails or dies by design; what matters is the store it leaves.
    let _ = cmd.status().expect("run strace");
}

fn copy_dir(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    let status = Command::new("cp").arg("-a").arg(from).arg(to).status().expect("cp");
    assert!(status.success());
}

#[test]
fn eio_or_sigkill_at_each_write_side_syscall_leaves_a_sound_store() {
    if Command::new("strace").arg("-V").stdout(Stdio::null()).status().is_err() {
        eprintln!("strace is not installed: this sweep cannot run here (apt-get install strace)");
        return;
    }
    let src = TestRepo::new();
    for i in 1..=3 {
        src.write("src/lib.rs", "line\n".repeat(i * 40));
        src.write(&format!("docs/d{i}.md"), format!("doc {i}\n"));
        src.commit(&format!("commit {i}"));
    }
    src.muse(["tag", "v1"]).ok();
    let base = src.tmp.path().join("base.bundle");
    let inc = src.tmp.path().join("inc.bundle");
    src.json(["bundle", "create", inc.to_str().unwrap(), "main", "v1", "--not", "main~2"]).ok();
    // The target holds the first commit on `main`, with HEAD elsewhere so `main` may move.
    let template = TestRepo::new();
    template.muse(["switch", "-c", "elsewhere"]).ok();
    let first = src.rev("main~2");
    src.json(["branch", "first", &first]).ok();
    src.json(["bundle", "create", base.to_str().unwrap(), "first"]).ok();
    template.json(["bundle", "apply", base.to_str().unwrap()]).ok();
    template.json(["branch", "main", &first]).ok();

    let work = src.tmp.path().join("t");
    let log = src.tmp.path().join("strace.log");
    let mut runs = 0;
    for syscall in ["write", "fsync", "rename", "unlink", "mkdir"] {
        copy_dir(&template.root, &work);
        traced_apply(&work, &inc, syscall, None, &log);
        let calls = std::fs::read_to_string(&log).unwrap().lines().filter(|l| l.contains(&format!("{syscall}("))).count();
        for n in 1..=calls {
            for mode in ["error=EIO", "signal=KILL"] {
                copy_dir(&template.root, &work);
                traced_apply(&work, &inc, syscall, Some(format!("{mode}:when={n}")), &log);
                let context = format!("{syscall} #{n} {mode}");
                common::Muse::new(&work).args(["fsck"]).run().ok();
                common::Muse::new(&work).args(["bundle", "apply", inc.to_str().unwrap()]).run().ok();
                common::Muse::new(&work).args(["fsck"]).run().ok();
                assert_eq!(common::Muse::new(&work).args(["--json", "log", "-n", "1", "main"]).run().ok().json()[0]["message"], "commit 3", "{context}");
                runs += 1;
            }
        }
    }
    assert!(runs >= 20, "only {runs} injections");
}
