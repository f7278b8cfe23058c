//! The history index (`docs/formats.md` §11): the commit graph with generation numbers and, for
//! every path (files and directories), the commits that changed it against each of their
//! parents. It answers path-limited history (`log -- PATH`, blame's walk, the hub's file
//! history) without reading trees.
//!
//! The index is derived data in `history/` inside the store: a chain of immutable segment files,
//! each published by an atomic rename and listed by the `history/chain` file, itself replaced
//! atomically. It is brought up to date by its readers: [`HistoryIndex::open`] indexes the
//! commits reachable from the refs, the HEADs and the caller's revisions that it does not hold
//! yet, and publishes them as a new segment when the store is writable (in memory only when it is
//! not, or when another process is publishing at that moment). A missing or damaged index is
//! rebuilt the same way; `muse index rebuild` writes it anew; `fsck` checks it.
//!
//! A [`HistoryIndex`] is immutable once opened and `Send + Sync`: the hub's threads share one.

mod build;
mod format;
mod log;

use std::collections::HashMap;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use muse_core::CommitId;

use crate::error::{IoContext, Result, StoreError};
use crate::fsutil::{create_dir_all_durable, list_dir, write_atomic};
use crate::store::Store;
use format::{Segment, SegmentBytes, SegmentData, FLAG_UNINDEXED};

pub use log::IndexedLog;

/// The directory of the index inside the store.
const DIR: &str = "history";
/// The chain file's first line.
const CHAIN_HEADER: &str = "muse-history-chain 1\n";
/// How often a reader retries when a segment it was about to open was replaced meanwhile.
const OPEN_ATTEMPTS: usize = 3;

/// One indexed commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexedCommit {
    /// The commit.
    pub id: CommitId,
    /// `committed_at` as (seconds, nanoseconds) since the epoch.
    pub time: (i64, u32),
    /// 1 for a root commit, else 1 + the largest generation of its parents: a commit can only
    /// be an ancestor of commits of a larger generation.
    pub generation: u32,
    parents_at: u32,
    parents_len: u32,
    unindexed: bool,
}

/// What the index holds, for `muse index` and `fsck`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct IndexStats {
    /// Commits indexed.
    pub commits: u64,
    /// Segment files in the chain.
    pub segments: u64,
    /// Their total size in bytes.
    pub bytes: u64,
    /// Commits indexed by this call (catch-up or rebuild).
    pub added: u64,
}

/// The history index of a store, as opened (see the module documentation).
pub struct HistoryIndex {
    segments: Vec<Segment>,
    /// The chain's file names of the segments read from disk (the first `persisted` segments).
    chain: Vec<String>,
    commits: Vec<IndexedCommit>,
    parents: Vec<u32>,
    positions: HashMap<CommitId, u32>,
    added: u64,
}

impl HistoryIndex {
    /// Opens the index and brings it up to date with every ref, every HEAD and `tips` (which may
    /// name commits no ref reaches). Commits it lacks are indexed and published as a new segment
    /// when possible, else kept in memory for this index only.
    pub fn open(store: &Store, tips: &[CommitId]) -> Result<HistoryIndex> {
        let mut index = HistoryIndex::read(store)?;
        index.catch_up(store, tips, &|_, _| {})?;
        Ok(index)
    }

    /// Reads the published index as it is (possibly behind the refs, possibly empty), without
    /// writing. A damaged chain reads as empty; [`HistoryIndex::check`] reports it.
    pub fn read(store: &Store) -> Result<HistoryIndex> {
        for _ in 0..OPEN_ATTEMPTS {
            match HistoryIndex::read_chain(store) {
                Ok(index) => return Ok(index),
                // A concurrent compaction removed a segment between our reading the chain and
                // opening it: read the new chain.
                Err(StoreError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {}
                // Damaged or unreadable: the caller catches up from nothing.
                Err(StoreError::CorruptIndex { .. } | StoreError::Io { .. }) => return Ok(HistoryIndex::empty()),
                Err(e) => return Err(e),
            }
        }
        Ok(HistoryIndex::empty())
    }

    /// Writes the index anew from every ref and HEAD, replacing the chain. `progress(done,
    /// total)` as commits are indexed.
    pub fn rebuild(store: &Store, progress: &dyn Fn(u64, u64)) -> Result<IndexStats> {
        let mut index = HistoryIndex::empty();
        let _lock = lock(store, true)?;
        index.catch_up_locked(store, &[], progress, true)?;
        Ok(index.stats())
    }

    /// Checks the published index: every segment's checksum and structure, and every indexed
    /// commit that is still in the store against the commit itself and a fresh computation of
    /// its changes. Returns the problems found (empty: sound or absent). Commits no longer in
    /// the store (removed by `gc` after their branch was deleted) are allowed: no tip reaches
    /// them.
    pub fn check(store: &Store) -> Result<Vec<(PathBuf, String)>> {
        let dir = store.store_dir().join(DIR);
        let index = match HistoryIndex::read_chain(store) {
            Ok(index) => index,
            Err(StoreError::CorruptIndex { path, reason }) => return Ok(vec![(path, reason)]),
            Err(StoreError::Io { path, source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                return Ok(vec![(path, "listed in the chain but missing".into())])
            }
            Err(e) => return Err(e),
        };
        let mut problems = Vec::new();
        for (segment, name) in index.segments.iter().zip(&index.chain) {
            if !segment.verify_checksum() {
                problems.push((dir.join(name), "checksum mismatch".to_string()));
            }
        }
        let mut recorded: HashMap<u32, Vec<(u32, Vec<String>)>> = HashMap::new();
        for segment in &index.segments {
            for (path, list) in segment.decode().paths {
                for (commit, parent) in list {
                    let lists = recorded.entry(commit).or_default();
                    match lists.iter_mut().find(|(p, _)| *p == parent) {
                        Some((_, paths)) => paths.push(path.clone()),
                        None => lists.push((parent, vec![path.clone()])),
                    }
                }
            }
        }
        for (pos, indexed) in index.commits.iter().enumerate() {
            let commit = match store.objects().read_commit(&indexed.id) {
                Ok(commit) => commit,
                Err(StoreError::ObjectNotFound(_)) => continue,
                Err(e) => return Err(e),
            };
            let mut problem = |what: &str| problems.push((dir.join("chain"), format!("commit {}: {what}", indexed.id)));
            let parents: Vec<Option<CommitId>> = index.parents(pos as u32).iter().map(|p| index.commit(*p).map(|c| c.id)).collect();
            if parents != commit.parents.iter().map(|p| Some(*p)).collect::<Vec<_>>() {
                problem("its recorded parents differ from the commit's");
            }
            if indexed.time != muse_core::rfc3339_to_unix(&commit.committed_at).unwrap_or((i64::MIN, 0)) {
                problem("its recorded time differs from the commit's");
            }
            let mut lists = recorded.remove(&(pos as u32)).unwrap_or_default();
            lists.sort();
            match build::commit_changes(store, &commit)? {
                None if !indexed.unindexed => problem("it changed too many paths to list, but it is not flagged so"),
                Some(_) if indexed.unindexed => problem("it is flagged as unlisted, but its changes fit"),
                Some(expected) if expected != lists => problem("its recorded changed paths differ from its trees"),
                _ => {}
            }
        }
        Ok(problems)
    }

    /// What the index holds.
    pub fn stats(&self) -> IndexStats {
        IndexStats {
            commits: self.commits.len() as u64,
            segments: self.chain.len() as u64,
            bytes: self.segments.iter().take(self.chain.len()).map(|s| s.len() as u64).sum(),
            added: self.added,
        }
    }

    /// The number of commits indexed.
    pub fn len(&self) -> usize {
        self.commits.len()
    }

    /// Whether no commit is indexed.
    pub fn is_empty(&self) -> bool {
        self.commits.is_empty()
    }

    /// The position of `id` in the index (positions order parents before children).
    pub fn position(&self, id: &CommitId) -> Option<u32> {
        self.positions.get(id).copied()
    }

    /// The commit at `position`.
    pub fn commit(&self, position: u32) -> Option<&IndexedCommit> {
        self.commits.get(position as usize)
    }

    /// The positions of the parents of the commit at `position`, in order.
    pub fn parents(&self, position: u32) -> &[u32] {
        self.commits
            .get(position as usize)
            .map_or(&[], |c| self.parents.get(c.parents_at as usize..(c.parents_at + c.parents_len) as usize).unwrap_or_default())
    }

    /// The commits at which `path` (a file or a directory; `""` is the whole tree) changed
    /// against a parent, as `(position, parent number)` pairs in ascending order; a root commit
    /// in which the path exists appears with parent number `u32::MAX`. Commits flagged as
    /// unindexed (see [`HistoryIndex::is_unindexed`]) never appear: ask their trees.
    pub fn changes(&self, path: &str) -> Vec<(u32, u32)> {
        let path = path.trim_matches('/');
        let mut out = Vec::new();
        for segment in &self.segments {
            out.extend(segment.changes(path));
        }
        out
    }

    /// Whether the commit at `position` changed more paths than the index lists (its changes
    /// are then answered from its trees).
    pub fn is_unindexed(&self, position: u32) -> bool {
        self.commits.get(position as usize).is_some_and(|c| c.unindexed)
    }

    /// Whether `ancestor` is `descendant` or one of its ancestors; both must be indexed (else
    /// `None`). Generation numbers prune the walk to commits that can lie between them.
    pub fn is_ancestor(&self, ancestor: u32, descendant: u32) -> Option<bool> {
        let floor = self.commit(ancestor)?.generation;
        self.commit(descendant)?;
        let mut seen = vec![false; self.commits.len()];
        let mut stack = vec![descendant];
        while let Some(pos) = stack.pop() {
            if pos == ancestor {
                return Some(true);
            }
            for &parent in self.parents(pos) {
                if !seen[parent as usize] && self.commits[parent as usize].generation >= floor {
                    seen[parent as usize] = true;
                    stack.push(parent);
                }
            }
        }
        Some(false)
    }

    /// A walk of the commits that changed `paths` (all commits when empty), newest first, with
    /// git's default history simplification; only first parents when `first_parent`. Every
    /// start must be indexed (see [`HistoryIndex::open`]).
    pub fn log<'a>(&'a self, store: &'a Store, starts: &[CommitId], paths: &[String], first_parent: bool) -> Result<IndexedLog<'a>> {
        IndexedLog::new(self, store, starts, Vec::new(), paths, first_parent)
    }

    /// [`HistoryIndex::log`] restricted to commits outside `hidden`, a mask by position such as
    /// [`HistoryIndex::ancestors`] gives: `log A..B` is the walk from B hiding A's ancestors,
    /// `log A...B` the walk from both hiding the ancestors they share.
    pub fn log_hiding<'a>(&'a self, store: &'a Store, starts: &[CommitId], hidden: Vec<bool>, paths: &[String], first_parent: bool) -> Result<IndexedLog<'a>> {
        IndexedLog::new(self, store, starts, hidden, paths, first_parent)
    }

    /// The commits reachable from `starts` (themselves included), as a mask by position. Every
    /// start must be indexed.
    pub fn ancestors(&self, starts: &[CommitId]) -> Result<Vec<bool>> {
        let mut reached = vec![false; self.commits.len()];
        let mut stack = Vec::with_capacity(starts.len());
        for start in starts {
            let pos = self.position(start).ok_or(StoreError::ObjectNotFound(start.0))?;
            if !std::mem::replace(&mut reached[pos as usize], true) {
                stack.push(pos);
            }
        }
        while let Some(pos) = stack.pop() {
            for &parent in self.parents(pos) {
                if let Some(mark) = reached.get_mut(parent as usize) {
                    if !std::mem::replace(mark, true) {
                        stack.push(parent);
                    }
                }
            }
        }
        Ok(reached)
    }

    fn empty() -> HistoryIndex {
        HistoryIndex { segments: Vec::new(), chain: Vec::new(), commits: Vec::new(), parents: Vec::new(), positions: HashMap::new(), added: 0 }
    }

    fn read_chain(store: &Store) -> Result<HistoryIndex> {
        let dir = store.store_dir().join(DIR);
        let mut index = HistoryIndex::empty();
        let chain_path = dir.join("chain");
        let text = match fs::read_to_string(&chain_path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(index),
            Err(e) => return Err(StoreError::Io { op: "read", path: chain_path, source: e }),
        };
        let corrupt = |reason: String| StoreError::CorruptIndex { path: chain_path.clone(), reason };
        let names = text.strip_prefix(CHAIN_HEADER).ok_or_else(|| corrupt("bad first line".into()))?;
        for name in names.lines() {
            if name.len() != 68 || !name.ends_with(".mhi") || !name[..64].bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                return Err(corrupt(format!("bad segment name {name:?}")));
            }
            let path = dir.join(name);
            let file = File::open(&path).ctx("open", &path)?;
            // SAFETY: published segments are never modified in place (only replaced by rename
            // and unlinked), so the mapping's bytes do not change under us.
            let map = unsafe { memmap2::Mmap::map(&file) }.ctx("map", &path)?;
            let segment = Segment::parse(SegmentBytes::Mapped(map), index.commits.len() as u32)
                .map_err(|reason| StoreError::CorruptIndex { path: path.clone(), reason })?;
            if hex::encode(segment.checksum()) != name[..64] {
                return Err(StoreError::CorruptIndex { path, reason: "its checksum is not its name".into() });
            }
            index.push_segment(segment);
            index.chain.push(name.to_string());
        }
        Ok(index)
    }

    fn push_segment(&mut self, segment: Segment) {
        for i in 0..segment.count() {
            let record = segment.commit(i);
            let pos = self.commits.len() as u32;
            self.positions.insert(record.id, pos);
            self.commits.push(IndexedCommit {
                id: record.id,
                time: record.time,
                generation: record.generation,
                parents_at: self.parents.len() as u32,
                parents_len: record.parents.len() as u32,
                unindexed: record.flags & FLAG_UNINDEXED != 0,
            });
            self.parents.extend(record.parents);
        }
        self.segments.push(segment);
    }

    /// The tips to index: every ref, every HEAD, and `extra`.
    fn tips(store: &Store, extra: &[CommitId]) -> Result<Vec<CommitId>> {
        let mut tips: Vec<CommitId> = store.refs().list("refs/")?.into_iter().map(|(_, id)| id).collect();
        tips.extend(store.head_commits()?);
        tips.extend_from_slice(extra);
        Ok(tips)
    }

    fn catch_up(&mut self, store: &Store, extra: &[CommitId], progress: &dyn Fn(u64, u64)) -> Result<()> {
        let tips = HistoryIndex::tips(store, extra)?;
        if tips.iter().all(|t| self.positions.contains_key(t)) {
            return Ok(());
        }
        match lock(store, false) {
            Ok(Some(_lock)) => {
                // Another process may have published since we read: start from its chain.
                let fresh = HistoryIndex::read(store)?;
                if fresh.chain != self.chain {
                    *self = fresh;
                }
                self.catch_up_locked(store, extra, progress, false)
            }
            // Busy or not writable: index in memory only.
            Ok(None) | Err(_) => self.catch_up_in_memory(store, &tips, progress),
        }
    }

    fn catch_up_in_memory(&mut self, store: &Store, tips: &[CommitId], progress: &dyn Fn(u64, u64)) -> Result<()> {
        for data in self.index_missing(store, tips, progress)? {
            let expected = self.commits.len() as u32;
            let segment = Segment::parse(SegmentBytes::Owned(data.encode()), expected)
                .map_err(|reason| StoreError::CorruptIndex { path: PathBuf::from("(memory)"), reason })?;
            self.push_segment(segment);
        }
        Ok(())
    }

    /// Index entries for the commits reachable from `tips` that this index lacks, as segments
    /// (each of bounded size) that continue it.
    fn index_missing(&mut self, store: &Store, tips: &[CommitId], progress: &dyn Fn(u64, u64)) -> Result<Vec<SegmentData>> {
        let missing = build::missing_commits(store, tips, &|id| self.positions.contains_key(id))?;
        let total = missing.len() as u64;
        self.added += total;
        let base = self.commits.len() as u32;
        let mut segments = Vec::new();
        let lookup = |id: &CommitId| self.position(id).map(|p| (p, self.commits[p as usize].generation));
        let mut flush = |data| {
            segments.push(data);
            Ok(())
        };
        let last = build::build_segments(store, missing, base, &lookup, &mut flush, &|done| progress(done, total))?;
        segments.push(last);
        segments.retain(|s| !s.commits.is_empty());
        Ok(segments)
    }

    /// Indexes what is missing and publishes it, holding the writers' lock. With `replace`,
    /// the old chain is dropped (a rebuild).
    fn catch_up_locked(&mut self, store: &Store, extra: &[CommitId], progress: &dyn Fn(u64, u64), replace: bool) -> Result<()> {
        let dir = store.store_dir().join(DIR);
        let tips = HistoryIndex::tips(store, extra)?;
        let written = self.index_missing(store, &tips, progress)?;
        let mut chain: Vec<String> = if replace { Vec::new() } else { self.chain.clone() };
        // Publish each new segment, merging the tail of the chain while the newest is at least
        // half the size of the one before it, so the chain stays logarithmically short.
        for mut data in written {
            while let Some(prev_name) = chain.last() {
                let prev = self.segment_by_name(&dir, prev_name)?;
                if (prev.postings + prev.commits.len()) > 2 * (data.postings + data.commits.len()) {
                    break;
                }
                let mut merged = prev;
                merged.append(data);
                data = merged;
                chain.pop();
            }
            let bytes = data.encode();
            let name = format!("{}.mhi", hex::encode(&bytes[bytes.len() - 32..]));
            let path = dir.join(&name);
            write_atomic(&path, &bytes).ctx("write", &path)?;
            chain.push(name);
        }
        let text: String = std::iter::once(CHAIN_HEADER.to_string()).chain(chain.iter().map(|n| format!("{n}\n"))).collect();
        let chain_path = dir.join("chain");
        write_atomic(&chain_path, text.as_bytes()).ctx("write", &chain_path)?;
        remove_unlisted(&dir, &chain);
        let added = self.added;
        *self = HistoryIndex::read_chain(store)?;
        self.added = added;
        Ok(())
    }

    /// The decoded content of a published segment of this index, by chain name.
    fn segment_by_name(&self, dir: &Path, name: &str) -> Result<SegmentData> {
        let at = self.chain.iter().position(|n| n == name);
        match at.and_then(|i| self.segments.get(i)) {
            Some(segment) => Ok(segment.decode()),
            None => Err(StoreError::CorruptIndex { path: dir.join(name), reason: "not in the chain that was read".into() }),
        }
    }
}

/// Takes the index writers' lock (`history/lock`): waiting for it with `wait`, else `None` when
/// another process holds it. Creates `history/` if needed.
fn lock(store: &Store, wait: bool) -> Result<Option<File>> {
    let dir = store.store_dir().join(DIR);
    create_dir_all_durable(&dir).ctx("create", &dir)?;
    let path = dir.join("lock");
    let file = fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).ctx("open", &path)?;
    if wait {
        file.lock().ctx("lock", &path)?;
        return Ok(Some(file));
    }
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(fs::TryLockError::WouldBlock) => Ok(None),
        Err(fs::TryLockError::Error(e)) => Err(StoreError::Io { op: "lock", path, source: e }),
    }
}

/// Removes the segment files the chain no longer lists (merged ones, and leftovers of a writer
/// that died between publishing a segment and the chain). Failures are harmless: they are
/// retried by the next writer.
fn remove_unlisted(dir: &Path, chain: &[String]) {
    let Ok(entries) = list_dir(dir) else { return };
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".mhi") && !chain.contains(&name) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests;
