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

/// The pid of the process that made a temporary file named with [`unique_name`]
/// (`[.]STEM-PID-COUNTER-NANOS[.EXT]`), read from the right since STEM may hold dashes.
pub(crate) fn temp_file_writer(name: &str) -> Option<u32> {
    let mut fields = name.rsplitn(4, '-');
    let nanos = fields.next()?;
    let counter = fields.next()?;
    let pid = fields.next()?;
    fields.next()?;
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (numeric(counter) && nanos.bytes().next().is_some_and(|b| b.is_ascii_digit())).then(|| pid.parse().ok()).flatten()
}

/// Whether process `pid` still runs (this process counts as running).
pub(crate) fn process_runs(pid: u32) -> bool {
    pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists()
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
    let tmp: PathBuf = dir.join(format!(".{}.tmp", unique_name(file_name)));
    let result = (|| {
        let mut file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
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
    fn temp_file_names_carry_their_writer() {
        let name = format!(".{}.tmp", unique_name("feature-x"));
        assert_eq!(temp_file_writer(&name), Some(std::process::id()));
        assert_eq!(temp_file_writer(&format!("{}.pack", unique_name("pack"))), Some(std::process::id()));
        assert_eq!(temp_file_writer("notes.txt"), None);
        assert_eq!(temp_file_writer("a-b-c-d"), None);
        assert!(process_runs(std::process::id()));
    }
}
