//! Checkout: moving a working copy from one snapshot to another, touching only the files that
//! differ, refusing to overwrite uncommitted changes, and leaving a fresh stat cache.

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use muse_core::{EntryKind, ObjectId, TreeId};
use rayon::prelude::*;

use super::statcache::{CacheEntry, StatCache, WorkInfo};
use super::walk::FileStat;
use super::{cache_path, now_ns, scan};
use crate::error::{IoContext, Result, StoreError};
use crate::fsutil::unique_name;
use crate::repo::Repository;
use crate::snapshot::{diff_snapshots, PathState};

/// What a checkout did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CheckoutStats {
    /// Files written (added or changed).
    pub written: usize,
    /// Files removed.
    pub removed: usize,
    /// Uncommitted changes carried over untouched.
    pub carried: usize,
}

/// Moves the working copy from snapshot `from` to snapshot `to`. Uncommitted changes to paths
/// that differ between the two are refused (unless `force`); other uncommitted changes stay.
/// HEAD is not changed here: the caller moves it after this returns.
pub fn checkout(repo: &Repository, from: TreeId, to: TreeId, force: bool) -> Result<CheckoutStats> {
    let current = scan(repo, from, None)?;
    if !current.skipped.is_empty() {
        // What they hold is unknown, so whether they are safe to overwrite is too.
        return Err(StoreError::Unreadable(current.skipped));
    }
    let dirty: HashMap<&str, Option<PathState>> = current.changes.iter().map(|c| (c.path.as_str(), c.work)).collect();
    let diff = diff_snapshots(repo.objects(), Some(from), Some(to))?;
    if !force {
        let mut blocked: Vec<String> = diff
            .iter()
            .filter(|c| dirty.get(c.path.as_str()).is_some_and(|work| *work != c.new))
            .map(|c| c.path.clone())
            .collect();
        // A new file where the working copy has an untracked file in the way of its directory.
        for change in diff.iter().filter(|c| c.old.is_none()) {
            let mut dir = change.path.as_str();
            while let Some((parent, _)) = dir.rsplit_once('/') {
                if dirty.get(parent).is_some_and(Option::is_some) {
                    blocked.push(parent.to_string());
                }
                dir = parent;
            }
        }
        if !blocked.is_empty() {
            blocked.sort();
            blocked.dedup();
            return Err(StoreError::WouldOverwrite { paths: blocked });
        }
    }
    let root = repo.work_dir();
    let mut stats = CheckoutStats { carried: current.changes.len(), ..CheckoutStats::default() };
    for change in diff.iter().filter(|c| c.new.is_none()) {
        remove_path(root, &change.path)?;
        stats.removed += 1;
    }
    let writes: Vec<(&str, PathState)> = diff.iter().filter_map(|c| c.new.map(|n| (c.path.as_str(), n))).collect();
    let written: Vec<(String, WorkInfo)> = writes
        .par_iter()
        .map(|(path, (kind, id))| {
            let stat = write_file(repo, &root.join(path), *kind, id)?;
            Ok((path.to_string(), WorkInfo { kind: *kind, id: *id, stat }))
        })
        .collect::<Result<_>>()?;
    stats.written = written.len();
    let diff_paths: HashMap<&str, Option<PathState>> = diff.iter().map(|c| (c.path.as_str(), c.new)).collect();
    stats.carried = current.changes.iter().filter(|c| !diff_paths.contains_key(c.path.as_str())).count();

    // The new cache: what the scan knew about paths outside the diff, plus every written file.
    let mut entries: Vec<CacheEntry> = current.cache.entries.into_iter().filter(|e| !diff_paths.contains_key(e.path.as_str())).collect();
    entries.extend(written.into_iter().map(|(path, info)| CacheEntry { path, base: Some((info.kind, info.id)), work: Some(info) }));
    entries.sort_unstable_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    let cache = StatCache { base_snapshot: Some(to), scan_started_ns: now_ns(), entries };
    let path = cache_path(repo);
    cache.save(&path).ctx("write", &path)?;
    Ok(stats)
}

/// Removes a file and then every directory above it that became empty.
fn remove_path(root: &Path, rel: &str) -> Result<()> {
    let path = root.join(rel);
    match fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(StoreError::Io { op: "remove", path, source: e }),
    }
    let mut dir = path.parent();
    while let Some(d) = dir.filter(|d| *d != root) {
        if fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
    Ok(())
}

/// Writes one file atomically (temp file + rename) with its mode, or creates a symlink.
fn write_file(repo: &Repository, path: &Path, kind: EntryKind, id: &ObjectId) -> Result<FileStat> {
    let parent = path.parent().expect("a file in the working copy has a parent");
    // A file standing where a directory is needed is in the diff as removed, so it is gone by now;
    // a directory standing where a file goes is removed if it is empty.
    fs::create_dir_all(parent).ctx("create", parent)?;
    if fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
        fs::remove_dir(path).map_err(|_| StoreError::WouldOverwrite { paths: vec![path.display().to_string()] })?;
    }
    let tmp = parent.join(format!(".{}.tmp", unique_name("checkout")));
    let result = (|| {
        if kind == EntryKind::Symlink {
            let target = repo.objects().read(id)?.data;
            muse_core::check_symlink_target(&target).map_err(|reason| StoreError::CorruptObject { id: *id, reason: format!("not a valid symlink: {reason}") })?;
            let target = String::from_utf8(target).map_err(|_| StoreError::CorruptObject { id: *id, reason: "symlink target is not UTF-8".into() })?;
            std::os::unix::fs::symlink(&target, &tmp).ctx("symlink", &tmp)?;
        } else {
            let mut file = OpenOptions::new().write(true).create_new(true).open(&tmp).ctx("create", &tmp)?;
            let mut writer = std::io::BufWriter::with_capacity(1 << 16, &mut file);
            repo.objects().read_into(id, &mut writer)?;
            writer.flush().ctx("write", &tmp)?;
            drop(writer);
            let mode = if kind == EntryKind::Executable { 0o755 } else { 0o644 };
            file.set_permissions(fs::Permissions::from_mode(mode)).ctx("chmod", &tmp)?;
        }
        fs::rename(&tmp, path).ctx("rename", path)?;
        Ok(FileStat::of(&fs::symlink_metadata(path).ctx("stat", path)?))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}
