//! Durable file writes: temp file in the same directory, fsync, rename, fsync of the directory.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A name no other writer in any process will pick: pid, a per-process counter and the clock.
pub(crate) fn unique_name(stem: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{stem}-{}-{}-{nanos}", std::process::id(), TEMP_COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// Creates a new temporary file `{prefix}{unique name}{suffix}` in `dir`, open for reading and
/// writing, and holds an exclusive advisory lock (`flock`) on it for as long as the returned
/// handle is open: the mark of a live writer, which [`remove_if_abandoned`] respects. The kernel
/// releases the lock when the writer closes the file, exits or dies, in whatever PID namespace
/// either process runs. The lock stays on the file after it is renamed into place (a harmless
/// lock nobody else takes on a published file).
pub(crate) fn create_temp(dir: &Path, prefix: &str, stem: &str, suffix: &str) -> io::Result<(PathBuf, File)> {
    let mut attempts = 0;
    loop {
        let path = dir.join(format!("{prefix}{}{suffix}", unique_name(stem)));
        let file = OpenOptions::new().read(true).write(true).create_new(true).open(&path)?;
        // A file system without `flock` support: write unlocked; a cleaner that cannot lock
        // the file either keeps it.
        let _ = file.lock();
        // A cleaner may have locked and removed the file between its creation and our lock:
        // then the name no longer leads to our file, and we start again under a new name.
        if same_file(&path, &file)? {
            return Ok((path, file));
        }
        attempts += 1;
        if attempts == 3 {
            return Err(io::Error::new(io::ErrorKind::NotFound, format!("{} was removed while being created", path.display())));
        }
    }
}

/// Whether `path` names the open `file`.
fn same_file(path: &Path, file: &File) -> io::Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let on_disk = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    let open = file.metadata()?;
    Ok((on_disk.dev(), on_disk.ino()) == (open.dev(), open.ino()))
}

/// Removes the temporary file `path` if its writer is gone, which is known by taking the
/// writer's lock (see [`create_temp`]): a live writer holds it; the kernel released it if the
/// writer finished or died. A file whose lock cannot be tested (a file system without `flock`)
/// is kept. Returns whether the file was removed.
pub(crate) fn remove_if_abandoned(path: &Path) -> io::Result<bool> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    match file.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock | fs::TryLockError::Error(_)) => return Ok(false),
    }
    // Removed while holding the lock: a writer that created the file but had not locked it yet
    // waits for our lock, then finds its name gone and starts again (see `create_temp`).
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Fsyncs a directory so that renames and creations inside it are durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Writes `bytes` to `path` atomically and durably: readers see the old file or the new one, and
/// after return the new one survives a crash.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(path, bytes, true)
}

/// Like [`write_atomic`], but without fsync when `durable` is false (for caches that can be
/// rebuilt: a crash may lose them, never leave them half-written).
pub(crate) fn write_atomic_with(path: &Path, bytes: &[u8], durable: bool) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let (tmp, mut file) = create_temp(dir, ".", file_name, ".tmp")?;
    let result = (|| {
        file.write_all(bytes)?;
        if durable {
            file.sync_all()?;
        }
        fs::rename(&tmp, path)?;
        if durable {
            sync_dir(dir)?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Writes one entry of a cache of derived data (anything a command can compute again, like the
/// blame and symbol caches) as `dir/name`, creating `dir` if needed. The write is atomic
/// (readers see an older entry or the whole new one) but not fsynced: a crash may lose an
/// entry, never leave half of one. The temporary file is marked as a live writer's like every
/// other ([`create_temp`]), so cleaners leave it alone while it is written. When `dir` already
/// holds `max_entries` entries (hidden files, such as other writers' temporary files, do not
/// count and are never removed here), every second one is dropped first: the cache stays
/// bounded without keeping any bookkeeping of its own.
pub fn put_cache_entry(dir: &Path, name: &str, bytes: &[u8], max_entries: usize) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let entries: Vec<PathBuf> = fs::read_dir(dir)?
        .filter_map(|entry| entry.ok())
        .filter(|entry| !entry.file_name().as_encoded_bytes().starts_with(b"."))
        .map(|entry| entry.path())
        .collect();
    if entries.len() >= max_entries {
        for old in entries.iter().step_by(2) {
            let _ = fs::remove_file(old);
        }
    }
    write_atomic_with(&dir.join(name), bytes, false)
}

/// Creates `dir` and its parents, fsyncing each directory that was created and its parent.
pub(crate) fn create_dir_all_durable(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_dir_all_durable(parent)?;
    }
    match fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(e),
    }
    if let Some(parent) = dir.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

/// The entries of `dir`, or none if it does not exist.
pub(crate) fn list_dir(dir: &Path) -> crate::error::Result<Vec<fs::DirEntry>> {
    use crate::error::IoContext;
    match fs::read_dir(dir) {
        Ok(entries) => entries.map(|e| e.ctx("list", dir)).collect(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(crate::error::StoreError::Io { op: "list", path: dir.to_path_buf(), source: e }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_temp_file_is_removed_only_once_its_writer_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut file) = create_temp(dir.path(), ".", "feature-x", ".tmp").unwrap();
        file.write_all(b"half").unwrap();
        // The lock is on the open file, not on a pid: another handle (here, of this very
        // process; elsewhere, of a process in another PID namespace) cannot take it.
        assert!(!remove_if_abandoned(&path).unwrap());
        assert!(path.exists());
        drop(file);
        assert!(remove_if_abandoned(&path).unwrap());
        assert!(!path.exists());
        assert!(!remove_if_abandoned(&path).unwrap(), "already gone");
        // A file nobody ever locked (left by a writer that died before locking it) goes too.
        let stray = dir.path().join(".stray.tmp");
        fs::write(&stray, b"x").unwrap();
        assert!(remove_if_abandoned(&stray).unwrap());
    }

    #[test]
    fn a_writer_whose_file_was_removed_before_it_locked_it_starts_again() {
        let dir = tempfile::tempdir().unwrap();
        let (path, file) = create_temp(dir.path(), "", "pack", ".pack").unwrap();
        assert!(same_file(&path, &file).unwrap());
        fs::remove_file(&path).unwrap();
        assert!(!same_file(&path, &file).unwrap());
    }

    #[test]
    fn a_cache_directory_stays_bounded_and_spares_writers_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        for i in 0..4 {
            put_cache_entry(&cache, &format!("e{i}"), b"x", 4).unwrap();
        }
        let writing = cache.join(".e9-in-progress.tmp");
        fs::write(&writing, b"half").unwrap();
        // Full (4 entries; the hidden file does not count): half go before the fifth is written.
        put_cache_entry(&cache, "e4", b"new", 4).unwrap();
        let mut names: Vec<String> = fs::read_dir(&cache).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        assert_eq!(names.len(), 4, "{names:?}");
        assert!(names.contains(&".e9-in-progress.tmp".to_string()), "another writer's file is kept: {names:?}");
        assert_eq!(fs::read(cache.join("e4")).unwrap(), b"new");
        // Replacing an entry is atomic and leaves no temporary file behind.
        put_cache_entry(&cache, "e4", b"newer", 4).unwrap();
        assert_eq!(fs::read(cache.join("e4")).unwrap(), b"newer");
        assert_eq!(fs::read_dir(&cache).unwrap().count(), 4);
    }
}
