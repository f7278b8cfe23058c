//! Refs: branches and tags as files holding a commit id, moved only by compare-and-swap.
//!
//! A ref `refs/heads/NAME` lives at `.muse/refs/heads/NAME` and holds `sha256:<hex>\n`. To move
//! it, a writer takes an exclusive advisory lock (`flock`) on `NAME.lock`, re-reads the ref,
//! compares it with the value it expects, and replaces the ref atomically (temp file, fsync,
//! rename, directory fsync). Two writers can therefore never both succeed from the same old value
//! (no lost update). The kernel releases the lock when its holder exits, however it exits, so a
//! crash never leaves a stale lock behind; lock files themselves stay (they are never deleted,
//! since deleting a lock file others may be waiting on would split the lock in two).

use std::fs::{self, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use muse_core::CommitId;

use crate::error::{IoContext, Result, StoreError};
use crate::fsutil::{create_dir_all_durable, list_dir, sync_dir, write_atomic};

/// How long a writer waits for another writer's lock before giving up.
const LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// A full ref name such as `refs/heads/main` or `refs/tags/v1.0`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RefName(String);

impl RefName {
    /// The ref of branch `name`, after checking the name.
    pub fn branch(name: &str) -> Result<Self> {
        validate_short_name(name, "branch")?;
        Ok(RefName(format!("refs/heads/{name}")))
    }

    /// The ref of tag `name`, after checking the name.
    pub fn tag(name: &str) -> Result<Self> {
        validate_short_name(name, "tag")?;
        Ok(RefName(format!("refs/tags/{name}")))
    }

    /// The remote-tracking ref `refs/remotes/REMOTE/BRANCH`: where a fetch from remote
    /// `remote` keeps its branch `branch`. A remote name follows the branch rules and has no `/`.
    pub fn remote(remote: &str, branch: &str) -> Result<Self> {
        validate_remote_name(remote)?;
        validate_short_name(branch, "branch")?;
        Ok(RefName(format!("refs/remotes/{remote}/{branch}")))
    }

    /// Parses the full name of a branch or tag (`refs/heads/…` or `refs/tags/…`): the refs that
    /// bundles carry and hubs hold.
    pub fn parse(full: &str) -> Result<Self> {
        if let Some(b) = full.strip_prefix("refs/heads/") {
            Self::branch(b)
        } else if let Some(t) = full.strip_prefix("refs/tags/") {
            Self::tag(t)
        } else {
            Err(StoreError::InvalidRefName { name: full.to_string(), what: "ref", reason: "must start with refs/heads/ or refs/tags/" })
        }
    }

    /// Parses the full name of any ref a store holds: a branch, a tag, or a remote-tracking ref
    /// (`refs/remotes/REMOTE/BRANCH`).
    pub fn parse_any(full: &str) -> Result<Self> {
        match full.strip_prefix("refs/remotes/") {
            Some(r) => {
                let (remote, branch) = r.split_once('/').unwrap_or((r, ""));
                Self::remote(remote, branch)
            }
            None => Self::parse(full),
        }
    }

    /// The full name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name without `refs/heads/`, `refs/tags/` or `refs/remotes/` (`origin/main`).
    pub fn short(&self) -> &str {
        ["refs/heads/", "refs/tags/", "refs/remotes/"].iter().find_map(|p| self.0.strip_prefix(p)).unwrap_or(&self.0)
    }

    /// Whether this is a branch.
    pub fn is_branch(&self) -> bool {
        self.0.starts_with("refs/heads/")
    }

    /// Whether this is a remote-tracking ref (`refs/remotes/…`).
    pub fn is_remote(&self) -> bool {
        self.0.starts_with("refs/remotes/")
    }
}

impl std::fmt::Display for RefName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The longest branch or tag name, in bytes (`docs/formats.md` §5).
pub const MAX_REF_NAME_LEN: usize = 1024;

/// Git's ref-format rules, which keep names safe as file paths and in revision expressions.
fn validate_short_name(name: &str, what: &'static str) -> Result<()> {
    let bad = |reason| Err(StoreError::InvalidRefName { name: name.to_string(), what, reason });
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.len() > MAX_REF_NAME_LEN {
        return bad("it is longer than 1024 bytes");
    }
    if name == "@" || name == "HEAD" {
        return bad("it is reserved");
    }
    if name.bytes().any(|b| b < 0x20 || b == 0x7f || b" ~^:?*[\\".contains(&b)) {
        return bad("it contains a space, a control character or one of ~^:?*[\\");
    }
    if name.contains("..") || name.contains("@{") || name.contains("//") {
        return bad("it contains '..', '@{' or '//'");
    }
    if name.starts_with('/') || name.ends_with('/') || name.ends_with('.') {
        return bad("it starts or ends with '/' or ends with '.'");
    }
    if name.split('/').any(|c| c.starts_with('.') || c.ends_with(".lock") || c.starts_with('-')) {
        return bad("a component starts with '.' or '-' or ends with '.lock'");
    }
    Ok(())
}

/// A remote's name (`origin`): the branch rules, and no `/` (it is one component of
/// `refs/remotes/REMOTE/BRANCH`).
pub fn validate_remote_name(name: &str) -> Result<()> {
    validate_short_name(name, "remote")?;
    if name.contains('/') {
        return Err(StoreError::InvalidRefName { name: name.to_string(), what: "remote", reason: "it contains '/'" });
    }
    Ok(())
}

/// The refs of one store.
pub struct RefStore {
    root: PathBuf,
}

impl RefStore {
    /// The refs under `store_dir/refs`.
    pub fn new(store_dir: &Path) -> Self {
        RefStore { root: store_dir.to_path_buf() }
    }

    fn path_of(&self, name: &RefName) -> PathBuf {
        self.root.join(&name.0)
    }

    /// The commit a ref points at, or `None` if it does not exist.
    pub fn read(&self, name: &RefName) -> Result<Option<CommitId>> {
        read_id_file(&self.path_of(name), name.as_str())
    }

    /// Every ref under `prefix` (`refs/heads/` or `refs/tags/`), sorted by name.
    pub fn list(&self, prefix: &str) -> Result<Vec<(RefName, CommitId)>> {
        let mut refs = Vec::new();
        for name in self.names(prefix)? {
            if let Some(id) = self.read(&name)? {
                refs.push((name, id));
            }
        }
        Ok(refs)
    }

    /// The names of the refs under `prefix`, sorted, without reading them (so that `fsck` can
    /// report a damaged ref and go on).
    pub fn names(&self, prefix: &str) -> Result<Vec<RefName>> {
        let mut out = Vec::new();
        let dir = self.root.join(prefix.trim_end_matches('/'));
        collect_refs(&dir, prefix.trim_end_matches('/'), &mut out)?;
        out.sort();
        Ok(out.into_iter().map(RefName).collect())
    }

    /// Moves `name` from `expected` (`None`: must not exist) to `new` (`None`: delete), atomically.
    /// Fails with [`StoreError::RefConflict`] if the ref holds anything else.
    pub fn compare_and_swap(&self, name: &RefName, expected: Option<CommitId>, new: Option<CommitId>) -> Result<()> {
        let path = self.path_of(name);
        let parent = path.parent().expect("refs have a parent directory");
        create_dir_all_durable(parent).map_err(|source| match source.kind() {
            io::ErrorKind::NotADirectory | io::ErrorKind::AlreadyExists => {
                StoreError::InvalidRefName { name: name.short().to_string(), what: "ref", reason: "a ref exists where a directory of this name is needed" }
            }
            _ => StoreError::Io { op: "create", path: parent.to_path_buf(), source },
        })?;
        if path.is_dir() {
            return Err(StoreError::InvalidRefName { name: name.short().to_string(), what: "ref", reason: "refs exist under this name as a directory" });
        }
        let lock = acquire_lock(&path, name)?;
        let result = (|| {
            let actual = self.read(name)?;
            if actual != expected {
                return Err(StoreError::RefConflict { name: name.to_string(), expected, actual });
            }
            match new {
                Some(id) => write_atomic(&path, format!("{id}\n").as_bytes()).ctx("write", &path),
                None => {
                    fs::remove_file(&path).ctx("remove", &path)?;
                    sync_dir(parent).ctx("fsync", parent)
                }
            }
        })();
        drop(lock);
        result
    }
}

fn collect_refs(dir: &Path, prefix: &str, out: &mut Vec<String>) -> Result<()> {
    // An explicit stack: the ref directories on disk may nest as deep as anything put there.
    let mut stack = vec![(dir.to_path_buf(), prefix.to_string())];
    while let Some((dir, prefix)) = stack.pop() {
        for entry in list_dir(&dir)? {
            let Some(name) = entry.file_name().to_str().map(str::to_string) else { continue };
            if name.ends_with(".lock") || name.starts_with('.') {
                continue;
            }
            let full = format!("{prefix}/{name}");
            if entry.file_type().ctx("stat", &entry.path())?.is_dir() {
                stack.push((entry.path(), full));
            } else {
                out.push(full);
            }
        }
    }
    Ok(())
}

/// Reads a file holding one commit id (a ref, or a detached HEAD).
pub(crate) fn read_id_file(path: &Path, what: &str) -> Result<Option<CommitId>> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StoreError::Io { op: "read", path: path.to_path_buf(), source: e }),
    };
    let id = text.strip_suffix('\n').unwrap_or(&text);
    CommitId::parse(id).map(Some).map_err(|_| StoreError::CorruptRef { name: what.to_string(), reason: format!("holds {:?}", truncate(id)) })
}

fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

/// An exclusive advisory lock on a lock file, released when dropped (or when the process dies).
pub(crate) struct LockFile {
    _file: fs::File,
}

/// Locks `<target>.lock` exclusively, waiting up to [`LOCK_TIMEOUT`] for another holder.
pub(crate) fn acquire_lock(target: &Path, name: &impl std::fmt::Display) -> Result<LockFile> {
    let mut lock_name = target.file_name().unwrap_or_default().to_os_string();
    lock_name.push(".lock");
    let path = target.with_file_name(lock_name);
    let file = OpenOptions::new().write(true).create(true).truncate(false).open(&path).ctx("create", &path)?;
    let started = Instant::now();
    let mut delay = Duration::from_micros(200);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(LockFile { _file: file }),
            Err(fs::TryLockError::WouldBlock) if started.elapsed() < LOCK_TIMEOUT => {
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_millis(20));
            }
            Err(fs::TryLockError::WouldBlock) => return Err(StoreError::RefLocked { name: name.to_string(), path }),
            Err(fs::TryLockError::Error(e)) => return Err(StoreError::Io { op: "lock", path, source: e }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use muse_core::ObjectId;

    fn id(n: u8) -> CommitId {
        CommitId(ObjectId::sha256(&[n]))
    }

    #[test]
    fn names_are_at_most_1024_bytes_and_deep_ref_directories_are_listed() {
        assert!(RefName::branch(&"a".repeat(MAX_REF_NAME_LEN)).is_ok());
        assert!(matches!(RefName::branch(&"a".repeat(MAX_REF_NAME_LEN + 1)), Err(StoreError::InvalidRefName { .. })));
        let deep = vec!["d"; MAX_REF_NAME_LEN / 2].join("/");
        let dir = tempfile::tempdir().unwrap();
        let refs = RefStore::new(dir.path());
        let name = RefName::branch(&deep).unwrap();
        refs.compare_and_swap(&name, None, Some(id(1))).unwrap();
        assert_eq!(refs.names("refs/heads/").unwrap(), vec![name]);
    }

    #[test]
    fn cas_moves_only_from_the_expected_value() {
        let dir = tempfile::tempdir().unwrap();
        let refs = RefStore::new(dir.path());
        let main = RefName::branch("main").unwrap();
        refs.compare_and_swap(&main, None, Some(id(1))).unwrap();
        assert!(matches!(refs.compare_and_swap(&main, None, Some(id(2))), Err(StoreError::RefConflict { .. })));
        refs.compare_and_swap(&main, Some(id(1)), Some(id(2))).unwrap();
        assert_eq!(refs.read(&main).unwrap(), Some(id(2)));
        let feature = RefName::branch("feature/x").unwrap();
        refs.compare_and_swap(&feature, None, Some(id(3))).unwrap();
        let names: Vec<String> = refs.list("refs/heads/").unwrap().into_iter().map(|(n, _)| n.short().to_string()).collect();
        assert_eq!(names, ["feature/x", "main"]);
        refs.compare_and_swap(&main, Some(id(2)), None).unwrap();
        assert_eq!(refs.read(&main).unwrap(), None);
    }

    #[test]
    fn concurrent_increments_never_lose_an_update() {
        let dir = tempfile::tempdir().unwrap();
        let refs = RefStore::new(dir.path());
        let name = RefName::branch("counter").unwrap();
        refs.compare_and_swap(&name, None, Some(id(0))).unwrap();
        let ids: Vec<CommitId> = (0..=40).map(id).collect();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    let mut done = 0;
                    while done < 10 {
                        let current = refs.read(&name).unwrap().unwrap();
                        let pos = ids.iter().position(|i| *i == current).unwrap();
                        if refs.compare_and_swap(&name, Some(current), Some(ids[pos + 1])).is_ok() {
                            done += 1;
                        }
                    }
                });
            }
        });
        assert_eq!(refs.read(&name).unwrap(), Some(ids[40]));
    }

    #[test]
    fn leftover_lock_files_do_not_block_and_held_locks_do() {
        let dir = tempfile::tempdir().unwrap();
        let refs = RefStore::new(dir.path());
        let name = RefName::branch("main").unwrap();
        fs::create_dir_all(dir.path().join("refs/heads")).unwrap();
        fs::write(dir.path().join("refs/heads/main.lock"), "left by a crash\n").unwrap();
        refs.compare_and_swap(&name, None, Some(id(1))).unwrap();
        let held = acquire_lock(&dir.path().join("refs/heads/main"), &"main").unwrap();
        let other = fs::File::open(dir.path().join("refs/heads/main.lock")).unwrap();
        assert!(matches!(other.try_lock(), Err(fs::TryLockError::WouldBlock)));
        drop(held);
        other.try_lock().unwrap();
    }

    #[test]
    fn names_follow_the_rules() {
        for bad in ["", "a..b", "a b", "-x", "x.lock", "a/.b", "HEAD", "a:b", "a/", "x."] {
            assert!(RefName::branch(bad).is_err(), "{bad:?} accepted");
        }
        assert!(RefName::branch("feature/agent-7").is_ok());
        assert!(RefName::parse("refs/remotes/origin/main").is_err(), "branches and tags only");
        let tracking = RefName::parse_any("refs/remotes/origin/feature/x").unwrap();
        assert_eq!((tracking.short(), tracking.is_remote(), tracking.is_branch()), ("origin/feature/x", true, false));
        assert_eq!(RefName::remote("origin", "feature/x").unwrap(), tracking);
        for bad in ["refs/remotes/origin", "refs/remotes/origin/", "refs/remotes//main", "refs/remotes/.o/main", "refs/other/x"] {
            assert!(RefName::parse_any(bad).is_err(), "{bad:?} accepted");
        }
        assert!(RefName::remote("a/b", "main").is_err());
    }
}
