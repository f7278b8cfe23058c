//! Shared helpers for the black-box tests of the `muse` binary: running it in a temporary
//! repository with a controlled environment, and reading its output (text, JSON, exit codes).
//!
//! Every spawned `muse` gets `MUSE_AUTHOR` set to [`AUTHOR`] and the other provenance variables
//! removed, so the tests never depend on the machine's environment. Every run is checked for a
//! panic (exit 101 or a "panicked at" message): whatever a command does, it must not panic.

#![allow(dead_code)]

pub mod history;

use std::collections::HashSet;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::Value;

/// The author every command runs with unless a test overrides it.
pub const AUTHOR: &str = "Test Author <test@example.com>";

/// The fields every commit JSON object (log, show, commit) carries, per docs/cli.md.
pub const COMMIT_FIELDS: [&str; 12] = [
    "commit_id",
    "parents",
    "snapshot_id",
    "message",
    "author",
    "committed_at",
    "agent_id",
    "model_id",
    "toolchain_id",
    "prompt_hash",
    "sem_ver_bump",
    "breaking_changes",
];

/// The provenance variables `muse commit` reads; all cleared before each run.
pub const PROVENANCE_VARS: [&str; 4] = ["MUSE_AUTHOR", "MUSE_AGENT_ID", "MUSE_MODEL_ID", "MUSE_TOOLCHAIN_ID"];

/// Documented exit codes.
pub mod exit {
    pub const OK: i32 = 0;
    pub const FAILED: i32 = 1;
    pub const USAGE: i32 = 2;
    pub const NOT_A_REPO: i32 = 3;
    pub const NOT_FOUND: i32 = 4;
    pub const CONFLICT: i32 = 5;
    pub const CORRUPT: i32 = 6;
    pub const IO: i32 = 7;
    pub const INVALID: i32 = 8;
}

/// The path of the binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_muse")
}

/// A `muse` invocation being built.
pub struct Muse {
    cmd: Command,
    label: String,
}

impl Muse {
    /// `muse` run from `dir`, with the test environment.
    pub fn new(dir: &Path) -> Muse {
        Muse::with_program(Path::new(bin()), dir)
    }

    /// A copy of the `muse` binary at `program` (e.g. one an unprivileged user can run), run
    /// from `dir` with the test environment.
    pub fn with_program(program: &Path, dir: &Path) -> Muse {
        let mut cmd = Command::new(program);
        cmd.current_dir(dir);
        for var in PROVENANCE_VARS {
            cmd.env_remove(var);
        }
        cmd.env("MUSE_AUTHOR", AUTHOR);
        // Signing is on only where a test turns it on.
        cmd.env_remove("MUSE_SIGNING_KEY");
        // No terminal and no colour: progress bars stay hidden and output is plain.
        cmd.env("NO_COLOR", "1");
        cmd.stdin(Stdio::null());
        Muse { cmd, label: String::from("muse") }
    }

    /// Appends arguments.
    pub fn args<I, S>(mut self, args: I) -> Muse
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        for a in args {
            self.label.push(' ');
            self.label.push_str(&a.as_ref().to_string_lossy());
            self.cmd.arg(a);
        }
        self
    }

    /// Sets an environment variable.
    pub fn env(mut self, key: &str, value: &str) -> Muse {
        self.cmd.env(key, value);
        self
    }

    /// Removes an environment variable (e.g. `MUSE_AUTHOR`, set by default).
    pub fn env_remove(mut self, key: &str) -> Muse {
        self.cmd.env_remove(key);
        self
    }

    /// Gives access to the underlying command (e.g. to change the uid).
    pub fn command_mut(&mut self) -> &mut Command {
        &mut self.cmd
    }

    /// Runs to completion and captures the output. Panics (failing the test) if `muse` panicked
    /// or died from a signal.
    pub fn run(mut self) -> Run {
        let out = self.cmd.output().unwrap_or_else(|e| panic!("cannot start {}: {e}", self.label));
        let run = Run {
            label: self.label,
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        run.assert_no_panic();
        run
    }

    /// Starts the command in the background with captured output.
    pub fn spawn(mut self) -> Child {
        self.cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        self.cmd.spawn().unwrap_or_else(|e| panic!("cannot start {}: {e}", self.label))
    }
}

/// The outcome of one `muse` run.
#[derive(Debug, Clone)]
pub struct Run {
    /// The command line, for messages.
    pub label: String,
    /// The exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Builds a run from a finished child's output (see [`Muse::spawn`]).
    pub fn from_output(label: &str, out: std::process::Output) -> Run {
        let run = Run {
            label: label.to_string(),
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        run.assert_no_panic();
        run
    }

    fn assert_no_panic(&self) {
        assert!(self.code != Some(101) && !self.stderr.contains("panicked at"), "`{}` panicked (exit {:?}):\n{}", self.label, self.code, self.stderr);
        assert!(self.code.is_some(), "`{}` was killed by a signal:\n{}", self.label, self.stderr);
    }

    fn describe(&self) -> String {
        format!("`{}` exited with {:?}\n--- stdout:\n{}\n--- stderr:\n{}", self.label, self.code, self.stdout, self.stderr)
    }

    /// Asserts exit code 0 and returns self.
    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(self.code, Some(0), "{}", self.describe());
        self
    }

    /// Asserts a specific exit code and returns self.
    #[track_caller]
    pub fn code(self, expected: i32) -> Run {
        assert_eq!(self.code, Some(expected), "{}", self.describe());
        self
    }

    /// Parses stdout as one JSON document.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.describe()))
    }

    /// The `{"error": {...}}` object printed on stderr under `--json` (the last line that parses
    /// as JSON; other diagnostic lines are ignored). Asserts that its `code` equals the exit
    /// code, that `kind` and `message` are non-empty strings, and returns the inner object.
    #[track_caller]
    pub fn error_json(&self) -> Value {
        let doc: Value = self
            .stderr
            .lines()
            .rev()
            .filter(|l| l.trim_start().starts_with('{'))
            .find_map(|l| serde_json::from_str(l).ok())
            .unwrap_or_else(|| panic!("no JSON error on stderr: {}", self.describe()));
        let error = doc.get("error").unwrap_or_else(|| panic!("JSON on stderr has no \"error\" key: {doc}")).clone();
        assert_eq!(error["code"].as_i64().map(|c| c as i32), self.code, "error code in JSON differs from the exit code: {}", self.describe());
        assert!(error["kind"].as_str().is_some_and(|k| !k.is_empty()), "error.kind missing: {doc}");
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "error.message missing: {doc}");
        error
    }

    /// Asserts the exit code, and under `--json` the error object's code and kind.
    #[track_caller]
    pub fn fails_with(self, code: i32, kind: &str) -> Run {
        let run = self.code(code);
        let error = run.error_json();
        assert_eq!(error["kind"], kind, "{}", run.describe());
        run
    }

    /// Stdout lines.
    pub fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }
}

/// A repository in a temporary directory, deleted on drop.
pub struct TestRepo {
    pub tmp: tempfile::TempDir,
    /// The working-copy root (canonical).
    pub root: PathBuf,
    clock: AtomicU32,
}

impl TestRepo {
    /// `muse init` in a fresh temporary directory.
    pub fn new() -> TestRepo {
        let repo = TestRepo::uninit();
        repo.muse(["init"]).ok();
        repo
    }

    /// A fresh temporary directory with no repository in it.
    pub fn uninit() -> TestRepo {
        let tmp = tempfile::Builder::new().prefix("muse-cli-test-").tempdir().expect("tempdir");
        let root = tmp.path().join("repo");
        std::fs::create_dir_all(&root).unwrap();
        let root = root.canonicalize().unwrap();
        TestRepo { tmp, root, clock: AtomicU32::new(0) }
    }

    /// A `muse` invocation from the working-copy root.
    pub fn cmd(&self) -> Muse {
        Muse::new(&self.root)
    }

    /// Runs `muse ARGS` from the root.
    pub fn muse<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd().args(args).run()
    }

    /// Runs `muse --json ARGS` from the root.
    pub fn json<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd().args(["--json"]).args(args).run()
    }

    /// The path of `rel` in the working copy.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// Writes a file (creating parent directories).
    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) {
        write_file(&self.root, rel, content);
    }

    /// Reads a file of the working copy as text.
    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    /// Removes a file of the working copy.
    pub fn remove(&self, rel: &str) {
        std::fs::remove_file(self.path(rel)).unwrap_or_else(|e| panic!("remove {rel}: {e}"));
    }

    /// A fresh RFC 3339 date, one second after the previous one, so that `log` order (by
    /// committed_at) is the commit order.
    pub fn next_date(&self) -> String {
        let n = self.clock.fetch_add(1, Ordering::SeqCst);
        date(n)
    }

    /// Commits everything with message `msg` (and a fresh date); returns the commit's JSON.
    pub fn commit_json(&self, msg: &str, extra: &[&str]) -> Value {
        let date = self.next_date();
        let mut args = vec!["commit", "-m", msg, "--date", &date];
        args.extend_from_slice(extra);
        self.json(args).ok().json()
    }

    /// Commits everything with message `msg`; returns the commit id.
    pub fn commit(&self, msg: &str) -> String {
        id_of(&self.commit_json(msg, &[]))
    }

    /// The commit id a revision resolves to, via `muse log -n 1 --json REV`.
    pub fn rev(&self, rev: &str) -> String {
        let log = self.json(["log", "-n", "1", rev]).ok().json();
        id_of(&log[0])
    }

    /// The commit ids of `muse log --json ARGS`, newest first.
    pub fn log_ids(&self, args: &[&str]) -> Vec<String> {
        let mut full = vec!["log"];
        full.extend_from_slice(args);
        let log = self.json(full).ok().json();
        log.as_array().expect("log --json prints an array").iter().map(id_of).collect()
    }

    /// The messages of `muse log --json ARGS`, newest first.
    pub fn log_messages(&self, args: &[&str]) -> Vec<String> {
        let mut full = vec!["log"];
        full.extend_from_slice(args);
        let log = self.json(full).ok().json();
        log.as_array().expect("array").iter().map(|c| c["message"].as_str().expect("message").to_string()).collect()
    }

    /// `muse status --json`, parsed.
    pub fn status(&self) -> Value {
        self.json(["status"]).ok().json()
    }

    /// The changed paths `muse status --json` reports, as `(status, path)`.
    pub fn changes(&self) -> Vec<(String, String)> {
        changes_of(&self.status())
    }

    /// Asserts that `muse fsck` exits 0 and reports no problem.
    #[track_caller]
    pub fn assert_fsck_clean(&self) {
        assert_fsck_clean(&self.root);
    }

    /// The pack files of the store.
    pub fn packs(&self) -> Vec<PathBuf> {
        files_with_ext(&self.root.join(".muse/objects/packs"), "pack")
    }
}

impl Default for TestRepo {
    fn default() -> Self {
        TestRepo::new()
    }
}

/// The `n`-th test date: 2024-01-01T00:00:00Z plus `n` seconds (n < 86400).
pub fn date(n: u32) -> String {
    format!("2024-01-01T{:02}:{:02}:{:02}Z", n / 3600, (n / 60) % 60, n % 60)
}

/// Writes `root/rel`, creating parent directories.
pub fn write_file(root: &Path, rel: &str, content: impl AsRef<[u8]>) {
    let path = root.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&path, content).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// The `commit_id` field of a commit JSON object.
#[track_caller]
pub fn id_of(commit: &Value) -> String {
    commit["commit_id"].as_str().unwrap_or_else(|| panic!("no commit_id in {commit}")).to_string()
}

/// `(status, path)` pairs of a `status --json` document.
pub fn changes_of(status: &Value) -> Vec<(String, String)> {
    status["changes"]
        .as_array()
        .expect("status --json has a changes array")
        .iter()
        .map(|c| (c["status"].as_str().unwrap().to_string(), c["path"].as_str().unwrap().to_string()))
        .collect()
}

/// Asserts that `id` looks like `sha256:<64 lowercase hex>`.
#[track_caller]
pub fn assert_is_id(id: &str) {
    let hex = id.strip_prefix("sha256:").unwrap_or_else(|| panic!("{id:?} lacks the sha256: prefix"));
    assert!(hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)), "{id:?} is not 64 lowercase hex digits");
}

/// The 64 hex digits of an id.
pub fn hex_of(id: &str) -> &str {
    id.strip_prefix("sha256:").unwrap_or(id)
}

/// Asserts that `muse fsck` in `dir` exits 0, reports `ok: true` and no problems.
#[track_caller]
pub fn assert_fsck_clean(dir: &Path) {
    let run = Muse::new(dir).args(["--json", "fsck"]).run().ok();
    let report = run.json();
    assert_eq!(report["ok"], true, "fsck not ok: {report}");
    assert_eq!(report["report"]["problems"].as_array().map(Vec::len), Some(0), "fsck problems: {report}");
}

/// Files directly in `dir` whose name ends with `.ext`, sorted.
pub fn files_with_ext(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == ext)).collect())
        .unwrap_or_default();
    out.sort();
    out
}

/// Copies a directory tree (files, directories and symlinks).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let ty = entry.file_type().unwrap();
        let dest = to.join(entry.file_name());
        if ty.is_dir() {
            copy_tree(&entry.path(), &dest);
        } else if ty.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(entry.path()).unwrap(), &dest).unwrap();
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
}

/// Every commit id reachable from the refs, per `muse log --all --json` in `dir`.
pub fn all_commit_ids(dir: &Path) -> HashSet<String> {
    let log = Muse::new(dir).args(["--json", "log", "--all"]).run().ok().json();
    log.as_array().unwrap().iter().map(id_of).collect()
}

/// A small deterministic pseudo-random generator (xorshift64*), for reproducible "random" choices.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// Every entry under `root` except `.muse`: path → (mode, content or link target; a directory
/// has its mode and an empty content). Two listings are equal when the trees are, byte for byte
/// and mode for mode.
pub fn listing(root: &Path) -> std::collections::BTreeMap<String, (u32, Vec<u8>)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if rel == ".muse" {
                continue;
            }
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let mode = meta.permissions().mode();
            if meta.file_type().is_symlink() {
                out.insert(rel, (mode, std::fs::read_link(&path).unwrap().into_os_string().into_encoded_bytes()));
            } else if meta.is_dir() {
                out.insert(rel, (mode, Vec::new()));
                stack.push(path);
            } else {
                out.insert(rel, (mode, std::fs::read(&path).unwrap()));
            }
        }
    }
    out
}

/// SHA-256 of `bytes` (for ids and checksums the tests compute independently of muse).
pub fn sha(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

/// A zstd frame of `data` made of one raw block (no compressor needed), for hand-made packs.
pub fn raw_frame(data: &[u8]) -> Vec<u8> {
    assert!(data.len() < 256);
    let mut out = vec![0x28, 0xb5, 0x2f, 0xfd, 0x20, data.len() as u8];
    out.extend_from_slice(&(1u32 | (data.len() as u32) << 3).to_le_bytes()[..3]);
    out.extend_from_slice(data);
    out
}
