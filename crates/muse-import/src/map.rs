//! The import's own state in the store: the git-id → muse-id map and the import lock.
//!
//! `.muse/import/git-map` starts with the line `muse-git-map 1` and then holds one line per
//! imported commit, `<git commit id, 40 hex> sha256:<muse commit id>`. Lines are appended, and
//! fsynced, only after the pack holding those commits has been published, so every commit the
//! map names is durable. A crash mid-append leaves at most a torn last line, which the next load
//! drops (the commits it named are then simply converted again, to the same ids).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use gix::hashtable::HashMap;
use gix::ObjectId as GitId;
use muse_core::CommitId;

use crate::error::{ImportError, Result};

const MAP_HEADER: &str = "muse-git-map 1\n";
/// Bytes of one map line: 40 hex, a space, `sha256:` and 64 hex, a newline.
const LINE_LEN: usize = 40 + 1 + 7 + 64 + 1;

/// Every commit imported so far, by git id.
pub(crate) struct GitMap {
    path: PathBuf,
    entries: HashMap<GitId, CommitId>,
    /// The length of the file's valid prefix (a torn tail is cut off at the next append).
    valid_len: u64,
}

impl GitMap {
    /// The map file of a store.
    pub fn path_in(store_dir: &Path) -> PathBuf {
        store_dir.join("import").join("git-map")
    }

    /// Loads the map (empty if no import ran yet).
    pub fn load(store_dir: &Path) -> Result<GitMap> {
        let path = Self::path_in(store_dir);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(source) => return Err(ImportError::Io { op: "read", path, source }),
        };
        let corrupt = |line: usize, reason: &str| ImportError::CorruptMap { path: path.clone(), line, reason: reason.to_string() };
        let mut entries = HashMap::default();
        if bytes.is_empty() {
            return Ok(GitMap { path, entries, valid_len: 0 });
        }
        let body = bytes.strip_prefix(MAP_HEADER.as_bytes()).ok_or_else(|| corrupt(1, "missing the 'muse-git-map 1' header"))?;
        let mut complete = body.len() - body.len() % LINE_LEN;
        for (i, line) in body[..complete].chunks_exact(LINE_LEN).enumerate() {
            match parse_line(line) {
                Some((git, muse)) => entries.insert(git, muse),
                // A crash can leave a zero-filled tail: a torn append, not damage.
                None if line.contains(&0) => {
                    complete = i * LINE_LEN;
                    break;
                }
                None => return Err(corrupt(i + 2, "expected '<git id> sha256:<muse id>'")),
            };
        }
        let valid_len = (MAP_HEADER.len() + complete) as u64;
        Ok(GitMap { path, entries, valid_len })
    }

    /// The Muse commit a git commit was imported as.
    pub fn get(&self, git: &GitId) -> Option<CommitId> {
        self.entries.get(git).copied()
    }

    /// Whether a git commit was imported.
    pub fn contains(&self, git: &GitId) -> bool {
        self.entries.contains_key(git)
    }

    /// The number of imported commits.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Every Muse commit that came from an import.
    pub fn muse_ids(&self) -> impl Iterator<Item = &CommitId> {
        self.entries.values()
    }

    /// Records commits whose pack is already published: appends and fsyncs their lines.
    pub fn append(&mut self, batch: &[(GitId, CommitId)]) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let io_err = |op, source| ImportError::Io { op, path: self.path.clone(), source };
        if let Some(dir) = self.path.parent() {
            fs::create_dir_all(dir).map_err(|e| io_err("create the directory of", e))?;
        }
        let mut file = OpenOptions::new().create(true).truncate(false).write(true).open(&self.path).map_err(|e| io_err("open", e))?;
        let mut text = String::with_capacity(MAP_HEADER.len() + batch.len() * LINE_LEN);
        if self.valid_len == 0 {
            text.push_str(MAP_HEADER);
        }
        for (git, muse) in batch {
            text.push_str(&format!("{git} {muse}\n"));
        }
        file.set_len(self.valid_len).map_err(|e| io_err("truncate", e))?;
        write_at_end(&mut file, self.valid_len, text.as_bytes()).map_err(|e| io_err("append to", e))?;
        file.sync_data().map_err(|e| io_err("fsync", e))?;
        self.valid_len += text.len() as u64;
        self.entries.extend(batch.iter().copied());
        Ok(())
    }
}

fn write_at_end(file: &mut File, at: u64, bytes: &[u8]) -> io::Result<()> {
    use std::io::Seek;
    file.seek(io::SeekFrom::Start(at))?;
    file.write_all(bytes)
}

fn parse_line(line: &[u8]) -> Option<(GitId, CommitId)> {
    let text = std::str::from_utf8(line).ok()?.strip_suffix('\n')?;
    let (git, muse) = text.split_once(' ')?;
    let git = GitId::from_hex(git.as_bytes()).ok()?;
    let muse = CommitId::parse(muse).ok().filter(|_| muse.starts_with("sha256:"))?;
    Some((git, muse))
}

/// An exclusive lock on importing into one store: an advisory lock (`flock`) on
/// `.muse/import/lock`, held as long as the value lives. The kernel releases it when its holder
/// exits or dies, whatever PID namespace either process runs in; the file itself is never
/// removed (removing a lock file lets two processes lock two different files of one name).
pub(crate) struct ImportLock {
    _file: fs::File,
}

impl ImportLock {
    /// Takes the lock, or fails at once if another process holds it.
    pub fn acquire(store_dir: &Path) -> Result<ImportLock> {
        let dir = store_dir.join("import");
        fs::create_dir_all(&dir).map_err(|source| ImportError::Io { op: "create", path: dir.clone(), source })?;
        let path = dir.join("lock");
        let file = OpenOptions::new().write(true).create(true).truncate(false).open(&path).map_err(|source| ImportError::Io {
            op: "create",
            path: path.clone(),
            source,
        })?;
        match file.try_lock() {
            Ok(()) => Ok(ImportLock { _file: file }),
            Err(fs::TryLockError::WouldBlock) => Err(ImportError::Locked { path }),
            Err(fs::TryLockError::Error(source)) => Err(ImportError::Io { op: "lock", path, source }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use muse_core::ObjectId;

    fn pair(n: u8) -> (GitId, CommitId) {
        (GitId::from_bytes_or_panic(&[n; 20]), CommitId(ObjectId::sha256(&[n])))
    }

    #[test]
    fn appends_survive_reload_and_torn_tails_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let mut map = GitMap::load(dir.path()).unwrap();
        map.append(&[pair(1), pair(2)]).unwrap();
        map.append(&[pair(3)]).unwrap();
        let path = GitMap::path_in(dir.path());
        let mut bytes = fs::read(&path).unwrap();
        bytes.extend_from_slice(b"0123456789abcdef torn");
        fs::write(&path, &bytes).unwrap();
        let mut reloaded = GitMap::load(dir.path()).unwrap();
        assert_eq!(reloaded.len(), 3);
        assert_eq!(reloaded.get(&pair(2).0), Some(pair(2).1));
        reloaded.append(&[pair(4)]).unwrap();
        let again = GitMap::load(dir.path()).unwrap();
        assert_eq!(again.len(), 4);
        assert!(again.contains(&pair(4).0));
    }

    #[test]
    fn damaged_lines_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let mut map = GitMap::load(dir.path()).unwrap();
        map.append(&[pair(1)]).unwrap();
        let path = GitMap::path_in(dir.path());
        let text = fs::read_to_string(&path).unwrap().replace("sha256:", "sha257:");
        fs::write(&path, text).unwrap();
        assert!(matches!(GitMap::load(dir.path()), Err(ImportError::CorruptMap { line: 2, .. })));
    }

    #[test]
    fn the_lock_is_exclusive_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let lock = ImportLock::acquire(dir.path()).unwrap();
        assert!(matches!(ImportLock::acquire(dir.path()), Err(ImportError::Locked { .. })));
        drop(lock);
        // What a dead process leaves (a lock file, whatever it holds) does not block the next.
        fs::write(dir.path().join("import/lock"), "999999999\n").unwrap();
        let again = ImportLock::acquire(dir.path()).unwrap();
        // The lock is on the file, not on a pid: another handle in the same process is refused.
        assert!(matches!(ImportLock::acquire(dir.path()), Err(ImportError::Locked { .. })));
        drop(again);
    }
}
