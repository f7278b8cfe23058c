//! The working copy: scanning it against a snapshot (status), and hashing changed files into a
//! pack on the way (commit). Checkout lives in [`checkout`].

pub mod checkout;
pub mod operation;
pub mod statcache;
pub mod walk;

use std::fs::{self, File};
use std::io::Read;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use muse_core::{EntryKind, ObjectId, Tree, TreeId};
use rayon::prelude::*;

use crate::error::{IoContext, Result, StoreError};
use crate::odb::{self, Encoding, ObjectKind, PackWriter, STREAM_THRESHOLD};
use crate::repo::Repository;
use crate::snapshot::{flatten, PathState};
use statcache::{CacheEntry, StatCache, WorkInfo};
use walk::{kind_of, walk, FileStat, SkipReason, Skipped};

/// Files modified less than this long before a scan started are re-hashed by the next scan:
/// the kernel's file clock is coarse, so a later write may leave every stat field unchanged.
const RACY_WINDOW_NS: i64 = 50_000_000;

/// A path whose working-copy state differs from the base snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkChange {
    /// The path, `/`-separated.
    pub path: String,
    /// Its state in the base snapshot (`None`: new file).
    pub base: Option<PathState>,
    /// Its state in the working copy (`None`: deleted).
    pub work: Option<PathState>,
}

/// The result of comparing a working copy with a snapshot.
pub struct Scan {
    /// The snapshot compared against.
    pub base_snapshot: TreeId,
    /// Every differing path, sorted by path bytes.
    pub changes: Vec<WorkChange>,
    /// Paths whose state could not be learned (unreadable, or named in something else than
    /// UTF-8), sorted by path bytes. They appear in no change, and what the cache knew of them
    /// is kept.
    pub skipped: Vec<Skipped>,
    /// Directories holding a nested repository or workspace (their own `.muse`) that also hold
    /// files this working copy tracks: those files stay tracked (they are never taken for
    /// deletions), and the user is told.
    pub nested: Vec<String>,
    cache: StatCache,
    cache_changed: bool,
}

impl Scan {
    /// Whether the working copy equals its base snapshot.
    pub fn is_clean(&self) -> bool {
        self.changes.is_empty()
    }

    /// Saves the refreshed stat cache if the scan learned anything new.
    pub fn save_cache(&self, repo: &Repository) -> Result<()> {
        if self.cache_changed {
            let path = cache_path(repo);
            self.cache.save(&path).ctx("write", &path)?;
        }
        Ok(())
    }

    /// The cache after committing everything scanned as `snapshot`: base becomes work.
    pub(crate) fn committed_cache(mut self, snapshot: TreeId) -> StatCache {
        self.cache.base_snapshot = Some(snapshot);
        self.cache.entries.retain(|e| e.work.is_some());
        for entry in &mut self.cache.entries {
            entry.base = entry.work.map(|w| (w.kind, w.id));
        }
        self.cache
    }
}

fn cache_path(repo: &Repository) -> std::path::PathBuf {
    repo.state_dir().join("statcache")
}

pub(crate) fn now_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i64).unwrap_or(0)
}

/// Compares the working copy with `base`. With a `sink`, every file hashed on the way is also
/// written into that pack (the commit path: each changed file is read once).
///
/// The clean case reads no file: the walk's stat fields are compared with the cache's, and the
/// cache is merged by moving its entries (no copies), so the cost is one readdir and one lstat
/// per file plus a linear merge.
pub fn scan(repo: &Repository, base: TreeId, sink: Option<&Mutex<PackWriter<'_>>>) -> Result<Scan> {
    scan_reporting(repo, base, sink, &|_, _| {})
}

/// Reports how many of the files that need hashing are done: `(done, total)`.
pub type HashProgress<'p> = &'p (dyn Fn(u64, u64) + Sync);

/// [`scan`], calling `progress` as files are hashed (the part that can take seconds).
pub fn scan_reporting(repo: &Repository, base: TreeId, sink: Option<&Mutex<PackWriter<'_>>>, progress: HashProgress<'_>) -> Result<Scan> {
    let scan_started_ns = now_ns();
    // Loading the cache overlaps with the walk (which keeps the other threads busy).
    let mut skipped = Vec::new();
    let (mut old, walked) = rayon::join(|| StatCache::load(&cache_path(repo)), || walk(repo.work_dir(), &mut skipped));
    let walked = walked?;
    let mut cache_changed = false;
    if old.base_snapshot != Some(base) {
        let files = if base == Tree::empty_id() { Vec::new() } else { flatten(repo.objects(), base)? };
        old.entries = rebase(std::mem::take(&mut old.entries), files);
        cache_changed = true;
    }
    let (walked, nested) = keep_tracked(repo.work_dir(), walked, &old.entries)?;

    // Line the walk up with the cache, comparing each pair of paths once: for each walked file,
    // where the cache cursor stood (entries before it are gone from the working copy) and
    // whether the entry there is the same path. A cached id is trusted when kind and stat are
    // unchanged and the file is not racy.
    let trusted_before = old.scan_started_ns - RACY_WINDOW_NS;
    let mut cursor_at: Vec<(usize, bool)> = Vec::with_capacity(walked.len());
    let mut known: Vec<Option<ObjectId>> = Vec::with_capacity(walked.len());
    let mut cursor = 0;
    for file in &walked {
        let mut same = false;
        while let Some(entry) = old.entries.get(cursor) {
            match entry.path.as_bytes().cmp(file.path.as_bytes()) {
                std::cmp::Ordering::Less => cursor += 1,
                std::cmp::Ordering::Equal => {
                    same = true;
                    break;
                }
                std::cmp::Ordering::Greater => break,
            }
        }
        let hit = same.then(|| old.entries[cursor].work).flatten().filter(|w| w.kind == file.kind && w.stat == file.stat && w.stat.mtime_ns < trusted_before);
        known.push(hit.map(|w| w.id));
        cursor_at.push((cursor, same));
        cursor += usize::from(same);
    }

    // The common case: every file matched a trusted cache entry and no cached file is gone.
    // The cache stays as it is and the changes are those it already records.
    let cached_files = old.entries.iter().filter(|e| e.work.is_some()).count();
    if !cache_changed && known.iter().all(Option::is_some) && walked.len() == cached_files {
        let changes = old
            .entries
            .iter()
            .filter(|e| e.work.map(|w| (w.kind, w.id)) != e.base)
            .map(|e| WorkChange { path: e.path.clone(), base: e.base, work: e.work.map(|w| (w.kind, w.id)) })
            .collect();
        return Ok(Scan { base_snapshot: base, changes, skipped, nested, cache: old, cache_changed: false });
    }

    // Hash the rest, in parallel.
    let to_hash: Vec<usize> = (0..walked.len()).filter(|&i| known[i].is_none()).collect();
    let total = to_hash.len() as u64;
    let done = std::sync::atomic::AtomicU64::new(0);
    progress(0, total);
    // A file that cannot be read is skipped (`Err` with the reason), not a failure of the scan.
    let hashed: Vec<std::result::Result<Option<(ObjectId, FileStat)>, String>> = to_hash
        .par_iter()
        .map(|&i| {
            let abs = repo.work_dir().join(&walked[i].path);
            let result = match hash_path(&abs, walked[i].kind, sink) {
                Ok(found) => Ok(Ok(found)),
                Err(StoreError::Io { op, path, source }) if path == abs => Ok(Err(format!("cannot {op} it: {source}"))),
                Err(e) => Err(e),
            };
            progress(done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1, total);
            result
        })
        .collect::<Result<_>>()?;
    cache_changed |= !to_hash.is_empty();
    let mut hashed = to_hash.into_iter().zip(hashed).peekable();

    // Merge walk and cache by moving entries; record what differs from the base.
    let mut changes = Vec::new();
    let mut entries = Vec::with_capacity(walked.len().max(old.entries.len()));
    let mut old_entries = old.entries.into_iter();
    let walk_skipped = std::mem::take(&mut skipped);
    let gone = |entry: CacheEntry, entries: &mut Vec<CacheEntry>, changes: &mut Vec<WorkChange>, cache_changed: &mut bool| {
        // Inside a directory the walk could not open: its state is unknown, not deleted.
        if !walk_skipped.is_empty() && walk_skipped.iter().any(|s| s.covers(&entry.path)) {
            entries.push(entry);
            return;
        }
        *cache_changed |= entry.work.is_some();
        if let Some(b) = entry.base {
            changes.push(WorkChange { path: entry.path.clone(), base: Some(b), work: None });
            entries.push(CacheEntry { work: None, ..entry });
        }
    };
    let mut taken = 0;
    for (i, file) in walked.into_iter().enumerate() {
        let (at, same) = cursor_at[i];
        while taken < at {
            let entry = old_entries.next().expect("cursor within the cache");
            taken += 1;
            gone(entry, &mut entries, &mut changes, &mut cache_changed);
        }
        let previous = if same {
            taken += 1;
            old_entries.next()
        } else {
            None
        };
        let work = match known[i] {
            Some(id) => Some(WorkInfo { kind: file.kind, id, stat: file.stat }),
            None => {
                match hashed.next().expect("one hash result per unknown file").1 {
                    Ok(found) => found.map(|(id, stat)| WorkInfo { kind: file.kind, id, stat }),
                    Err(reason) => {
                        // State unknown: neither deleted nor modified; the cache keeps what it knew.
                        skipped.push(Skipped { path: file.path.into(), reason: SkipReason::Unreadable(reason) });
                        entries.extend(previous);
                        continue;
                    }
                }
            }
        };
        let (path, base_state, old_work) = match previous {
            Some(e) => (e.path, e.base, e.work),
            None => (file.path, None, None),
        };
        cache_changed |= old_work != work;
        let work_state = work.map(|w| (w.kind, w.id));
        if work_state != base_state {
            changes.push(WorkChange { path: path.clone(), base: base_state, work: work_state });
        }
        if work.is_some() || base_state.is_some() {
            entries.push(CacheEntry { path, base: base_state, work });
        }
    }
    for entry in old_entries {
        gone(entry, &mut entries, &mut changes, &mut cache_changed);
    }
    let scan_started_ns = if cache_changed { scan_started_ns } else { old.scan_started_ns };
    let cache = StatCache { base_snapshot: Some(base), scan_started_ns, entries };
    skipped.extend(walk_skipped);
    skipped.sort_unstable_by(|a, b| a.path.as_os_str().as_bytes().cmp(b.path.as_os_str().as_bytes()));
    Ok(Scan { base_snapshot: base, changes, skipped, nested, cache, cache_changed })
}

/// Tracked files stay tracked: a file of the base that the walk did not return, because an ignore
/// rule matches it or a nested repository's `.muse` sits in one of its directories, is looked up
/// directly and kept in the scan when it is still there (git keeps tracking ignored files too).
/// Only such files cost anything (one pass over two sorted lists otherwise); a parent that is not
/// a real directory (a symlink, say) is never followed. Returns the walk with those files merged
/// in, and the directories holding a nested `.muse` among their parents.
fn keep_tracked(root: &Path, walked: Vec<walk::WalkedFile>, entries: &[CacheEntry]) -> Result<(Vec<walk::WalkedFile>, Vec<String>)> {
    let mut missing = Vec::new();
    let mut at = 0;
    for entry in entries.iter().filter(|e| e.base.is_some()) {
        while walked.get(at).is_some_and(|w| w.path.as_bytes() < entry.path.as_bytes()) {
            at += 1;
        }
        if walked.get(at).is_none_or(|w| w.path != entry.path) {
            missing.push(entry.path.as_str());
        }
    }
    if missing.is_empty() {
        return Ok((walked, Vec::new()));
    }
    let mut real_dirs: std::collections::HashMap<&str, bool> = std::collections::HashMap::new();
    let mut nested = std::collections::BTreeSet::new();
    let mut found = Vec::new();
    'paths: for path in missing {
        // Every parent must be a real directory (never a symlink) for the file to be ours.
        let mut end = 0;
        while let Some(slash) = path[end..].find('/') {
            let dir = &path[..end + slash];
            let is_dir = *real_dirs.entry(dir).or_insert_with(|| fs::symlink_metadata(root.join(dir)).is_ok_and(|m| m.is_dir()));
            if !is_dir {
                continue 'paths;
            }
            if root.join(dir).join(crate::DOT_MUSE).exists() {
                nested.insert(dir.to_string());
            }
            end += slash + 1;
        }
        let full = root.join(path);
        let meta = match fs::symlink_metadata(&full) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(StoreError::Io { op: "stat", path: full, source: e }),
        };
        if let Some(kind) = kind_of(&meta) {
            found.push(walk::WalkedFile { path: path.to_string(), kind, stat: FileStat::of(&meta) });
        }
    }
    if found.is_empty() {
        return Ok((walked, nested.into_iter().collect()));
    }
    let mut merged = walked;
    merged.extend(found);
    merged.sort_unstable_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    Ok((merged, nested.into_iter().collect()))
}

/// Replaces the base side of cache entries with the files of another snapshot, keeping what the
/// cache knows of the working copy.
fn rebase(entries: Vec<CacheEntry>, files: Vec<crate::snapshot::FileEntry>) -> Vec<CacheEntry> {
    let mut out = Vec::with_capacity(entries.len().max(files.len()));
    let mut old = entries.into_iter().filter(|e| e.work.is_some()).peekable();
    for file in files {
        while let Some(entry) = old.next_if(|e| e.path.as_bytes() < file.path.as_bytes()) {
            out.push(CacheEntry { base: None, ..entry });
        }
        let work = old.next_if(|e| e.path == file.path).and_then(|e| e.work);
        out.push(CacheEntry { path: file.path, base: Some((file.kind, file.id)), work });
    }
    out.extend(old.map(|e| CacheEntry { base: None, ..e }));
    out
}

/// Hashes one file (and stores it in `sink` if given). Returns `None` if it vanished. The stat
/// returned is the open file's, taken before reading; a file that changes while being read is
/// read again, and reported as [`StoreError::FileChanged`] if it keeps changing.
pub(crate) fn hash_path(path: &Path, kind: EntryKind, sink: Option<&Mutex<PackWriter<'_>>>) -> Result<Option<(ObjectId, FileStat)>> {
    if kind == EntryKind::Symlink {
        let meta = match fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::Io { op: "stat", path: path.to_path_buf(), source: e }),
        };
        let target = fs::read_link(path).ctx("read link", path)?;
        let bytes = target.into_os_string().into_vec();
        muse_core::check_symlink_target(&bytes)
            .map_err(|reason| StoreError::InvalidPath { path: path.to_path_buf(), reason: format!("cannot store this symlink: {reason}") })?;
        let id = store_bytes(&bytes, sink)?;
        return Ok(Some((id, FileStat::of(&meta))));
    }
    #[cfg(test)]
    if walk::test_unreadable(path) {
        return Err(StoreError::Io { op: "read", path: path.to_path_buf(), source: std::io::ErrorKind::PermissionDenied.into() });
    }
    for _attempt in 0..3 {
        let mut file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::Io { op: "read", path: path.to_path_buf(), source: e }),
        };
        let before = file.metadata().ctx("stat", path)?;
        if kind_of(&before).is_none_or(|k| k == EntryKind::Symlink) {
            return Ok(None);
        }
        let id = if before.len() > STREAM_THRESHOLD {
            match sink {
                Some(sink) => {
                    let tmp_dir = sink.lock().map_err(|_| poisoned())?.store_tmp_dir().to_path_buf();
                    let spilled = odb::spill_blob(&mut file, &tmp_dir)?;
                    let id = spilled.id;
                    sink.lock().map_err(|_| poisoned())?.add_spilled(spilled)?;
                    id
                }
                None => hash_stream(&mut file, path)?,
            }
        } else {
            let mut data = Vec::with_capacity(before.len() as usize);
            file.read_to_end(&mut data).ctx("read", path)?;
            store_bytes(&data, sink)?
        };
        let after = file.metadata().ctx("stat", path)?;
        if FileStat::of(&before) == FileStat::of(&after) {
            return Ok(Some((id, FileStat::of(&before))));
        }
    }
    Err(StoreError::FileChanged(path.to_path_buf()))
}

fn poisoned() -> StoreError {
    StoreError::Workspace("a pack writer was poisoned by a panic in another thread".into())
}

fn hash_stream(reader: &mut dyn Read, path: &Path) -> Result<ObjectId> {
    let mut hasher = muse_core::BlobHasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = reader.read(&mut buf).ctx("read", path)?;
        if n == 0 {
            return Ok(hasher.finish());
        }
        hasher.update(&buf[..n]);
    }
}

/// Hashes `data` and, with a sink, compresses it (outside the lock) and appends it if new.
fn store_bytes(data: &[u8], sink: Option<&Mutex<PackWriter<'_>>>) -> Result<ObjectId> {
    let id = muse_core::blob_id(data);
    if let Some(sink) = sink {
        if sink.lock().map_err(|_| poisoned())?.needs(ObjectKind::Blob, &id)? {
            let payload = odb::compress(data);
            sink.lock().map_err(|_| poisoned())?.add_raw(ObjectKind::Blob, id, Encoding::Zstd, data.len() as u64, &payload)?;
        }
    }
    Ok(id)
}

/// Makes sure every changed file's content is in the store or in `sink` (a file hashed by an
/// earlier `status` is known by id but not stored yet), re-reading files whose content moved on.
pub(crate) fn store_changed_content(repo: &Repository, scan: &mut Scan, sink: &Mutex<PackWriter<'_>>) -> Result<()> {
    let missing: Vec<usize> = (0..scan.changes.len())
        .filter(|&i| scan.changes[i].work.is_some())
        .map(|i| -> Result<Option<usize>> {
            let id = scan.changes[i].work.expect("filtered").1;
            Ok(sink.lock().map_err(|_| poisoned())?.needs(ObjectKind::Blob, &id)?.then_some(i))
        })
        .filter_map(Result::transpose)
        .collect::<Result<_>>()?;
    let results: Vec<Option<(ObjectId, FileStat)>> = missing
        .par_iter()
        .map(|&i| {
            let change = &scan.changes[i];
            hash_path(&repo.work_dir().join(&change.path), change.work.expect("has work").0, Some(sink))
        })
        .collect::<Result<_>>()?;
    for (&i, result) in missing.iter().zip(results) {
        let change = &mut scan.changes[i];
        let (id, stat) = result.ok_or_else(|| StoreError::FileChanged(repo.work_dir().join(&change.path)))?;
        let kind = change.work.expect("has work").0;
        change.work = Some((kind, id));
        if let Ok(pos) = scan.cache.entries.binary_search_by(|e| e.path.as_bytes().cmp(change.path.as_bytes())) {
            scan.cache.entries[pos].work = Some(WorkInfo { kind, id, stat });
        }
    }
    scan.changes.retain(|c| c.work != c.base);
    Ok(())
}

/// Saves the stat cache for a working copy whose files are all committed as `snapshot`.
pub(crate) fn save_committed_cache(repo: &Repository, scan: Scan, snapshot: TreeId) -> Result<()> {
    let path = cache_path(repo);
    scan.committed_cache(snapshot).save(&path).ctx("write", &path)
}

#[cfg(test)]
mod tests {
    use super::walk::{TEST_UNREADABLE, TEST_UNREADABLE_ON};
    use super::*;
    use crate::commit::commit_worktree;
    use muse_core::Commit;

    fn skipped_paths(scan: &Scan) -> Vec<(String, bool)> {
        scan.skipped.iter().map(|s| (s.path.display().to_string(), matches!(s.reason, SkipReason::Unreadable(_)))).collect()
    }

    /// An unreadable tracked file, and a directory of tracked files that cannot be opened, are
    /// skipped: neither deleted nor modified, the cache keeps what it knew, the other files are
    /// reported, and a commit refuses naming both. (Root reads mode-000 files, so the failure is
    /// injected through the test hook.)
    #[test]
    fn unreadable_files_and_directories_are_skipped_not_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path(), "main").unwrap();
        let work = repo.work_dir().to_path_buf();
        for (path, content) in [("a.txt", "a\n"), (&format!("f/{TEST_UNREADABLE}") as &str, "x\n"), (&format!("{TEST_UNREADABLE}/inner") as &str, "y\n")] {
            fs::create_dir_all(work.join(path).parent().unwrap()).unwrap();
            fs::write(work.join(path), content).unwrap();
        }
        let template =
            || Commit { message: "base".into(), author: "A <a@example.com>".into(), committed_at: "2026-11-29T00:00:00Z".into(), ..Commit::default() };
        let outcome = commit_worktree(&repo, template(), false, &|_, _| {}).unwrap();
        let base = outcome.commit.snapshot;

        // Every file must be read again (no cache), and two of them cannot be.
        fs::remove_file(cache_path(&repo)).unwrap();
        TEST_UNREADABLE_ON.store(true, std::sync::atomic::Ordering::Relaxed);
        fs::write(work.join("a.txt"), "changed\n").unwrap();
        let scanned = scan(&repo, base, None).unwrap();
        let want = vec![(format!("f/{TEST_UNREADABLE}"), true), (TEST_UNREADABLE.to_string(), true)];
        assert_eq!(skipped_paths(&scanned), want);
        assert_eq!(scanned.changes.iter().map(|c| c.path.as_str()).collect::<Vec<_>>(), ["a.txt"], "skipped paths are neither deleted nor modified");
        scanned.save_cache(&repo).unwrap();
        // The saved cache still knows the skipped files as tracked: a scan with the warm cache agrees.
        let again = scan(&repo, base, None).unwrap();
        assert_eq!(skipped_paths(&again), want);
        assert_eq!(again.changes.len(), 1);

        let refused = commit_worktree(&repo, template(), false, &|_, _| {}).expect_err("commit refuses unreadable paths");
        assert_eq!(refused.kind(), crate::error::ErrorKind::Io);
        let message = refused.to_string();
        assert!(message.contains(&format!("f/{TEST_UNREADABLE}")) && message.contains(&format!("{TEST_UNREADABLE}: ")), "{message}");

        // Readable again: the files are there, unchanged, and only the real edit is a change.
        TEST_UNREADABLE_ON.store(false, std::sync::atomic::Ordering::Relaxed);
        let readable = scan(&repo, base, None).unwrap();
        assert!(readable.skipped.is_empty());
        assert_eq!(readable.changes.iter().map(|c| c.path.as_str()).collect::<Vec<_>>(), ["a.txt"]);
    }
}
