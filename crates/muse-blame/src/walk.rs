//! The blame walk, after git's `blame.c` with its default settings: lines are "suspects" held
//! by an origin (a commit and the file's path there); processing an origin passes the whole file
//! to the first parent that has the same blob (found from the history index without reading a
//! tree when the path did not change), else looks the path up in each parent (and, for a parent
//! without it, follows a rename), diffs each parent's version against the origin's (Myers, as
//! git), passes every unchanged line to the first parent that has it, and blames the commit for
//! the rest. Origins are processed newest first.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::Arc;

use muse_core::{CommitId, EntryKind, ObjectId, TreeId};
use muse_diff::ChangedRange;
use muse_store::index::HistoryIndex;
use muse_store::snapshot::lookup;
use muse_store::{Store, StoreError};

use crate::{rename, Blame, BlameError, BlameOptions, BlameResult, BlamedLine};

/// A line of the final file and its number in an origin's version (both 0-based).
type Suspect = (u32, u32);

/// A line's answer from a cached blame: (commit, 0-based line there, path there).
pub(crate) type CachedLine = (CommitId, u32, Arc<str>);

/// Looks up a cached whole-file blame of (commit, path) with the walk's options.
pub(crate) type CacheLookup<'a> = &'a dyn Fn(CommitId, &str) -> Option<Vec<CachedLine>>;

/// A file in a commit holding suspects.
struct Origin {
    pos: u32,
    path: Arc<str>,
    kind: EntryKind,
    blob: ObjectId,
    suspects: Vec<Suspect>,
    queued: bool,
}

/// How many blob contents a walk keeps in memory at most.
const BLOB_CACHE: usize = 64;

struct Walk<'a> {
    store: &'a Store,
    index: &'a HistoryIndex,
    ignored: HashSet<u32>,
    cache: Option<CacheLookup<'a>>,
    origins: Vec<Origin>,
    by_key: HashMap<(u32, Arc<str>), usize>,
    queue: BinaryHeap<((i64, u32), Reverse<u64>, usize)>,
    counter: u64,
    changes: HashMap<Arc<str>, HashSet<(u32, u32)>>,
    snapshots: HashMap<u32, TreeId>,
    blobs: HashMap<ObjectId, Arc<Vec<u8>>>,
    results: Vec<(u32, CommitId, u32, Arc<str>)>,
}

/// Blames `path` at `commit` (which `index` must hold). See the module documentation.
pub fn blame(store: &Store, index: &HistoryIndex, commit: CommitId, path: &str, options: &BlameOptions) -> BlameResult<Blame> {
    blame_with_cache(store, index, commit, path, options, None)
}

/// [`blame`], taking the answer for any origin whose blame `cache` knows.
pub(crate) fn blame_with_cache(
    store: &Store,
    index: &HistoryIndex,
    commit: CommitId,
    path: &str,
    options: &BlameOptions,
    cache: Option<CacheLookup<'_>>,
) -> BlameResult<Blame> {
    let path = path.trim_matches('/');
    let (kind, blob) = file_at(store, commit, path)?;
    let content = store.objects().read(&blob)?.data;
    if muse_diff::is_binary(&content) {
        return Err(BlameError::Binary { path: path.to_string() });
    }
    let total = line_count(&content);
    let (first, last) = match options.lines {
        Some((start, end)) if start >= 1 && start <= end && end <= total => (start, end),
        Some((start, end)) => return Err(BlameError::BadRange { start, end, lines: total }),
        None => (1, total),
    };
    let start = index.position(&commit).ok_or(StoreError::ObjectNotFound(commit.0))?;
    let ignored = options.ignore.iter().filter_map(|id| index.position(id)).collect();
    let mut walk = Walk {
        store,
        index,
        ignored,
        cache,
        origins: Vec::new(),
        by_key: HashMap::new(),
        queue: BinaryHeap::new(),
        counter: 0,
        changes: HashMap::new(),
        snapshots: HashMap::new(),
        blobs: HashMap::new(),
        results: Vec::new(),
    };
    let origin = walk.origin(start, Arc::from(path), kind, blob);
    walk.add_suspects(origin, (first.saturating_sub(1)..last).map(|l| (l, l)).collect());
    while let Some((_, _, o)) = walk.queue.pop() {
        walk.process(o, o == origin)?;
    }
    let mut results = walk.results;
    results.sort_by_key(|r| r.0);
    let lines = results.into_iter().map(|(f, commit, l, path)| BlamedLine { line: f + 1, commit, orig_line: l + 1, orig_path: path.to_string() }).collect();
    Ok(Blame { commit, path: path.to_string(), content, lines })
}

/// The kind and blob of the file `path` at `commit`.
pub(crate) fn file_at(store: &Store, commit: CommitId, path: &str) -> BlameResult<(EntryKind, ObjectId)> {
    let snapshot = store.objects().read_commit(&commit)?.snapshot;
    match lookup(store.objects(), snapshot, path)? {
        None => Err(BlameError::PathNotFound { path: path.to_string(), commit }),
        Some((EntryKind::Tree, _)) => Err(BlameError::NotAFile { path: path.to_string(), kind: "directory" }),
        Some((EntryKind::Symlink, _)) => Err(BlameError::NotAFile { path: path.to_string(), kind: "symlink" }),
        Some(state) => Ok(state),
    }
}

/// The number of lines of `content` (a last line without a newline counts).
pub(crate) fn line_count(content: &[u8]) -> u32 {
    let newlines = content.iter().filter(|b| **b == b'\n').count();
    (newlines + usize::from(!content.is_empty() && !content.ends_with(b"\n"))) as u32
}

/// For each line of the new version, its line in the old one when unchanged.
fn line_map(ranges: &[ChangedRange], new_len: u32) -> Vec<Option<u32>> {
    let mut map = Vec::with_capacity(new_len as usize);
    let mut old = 0u32;
    for range in ranges {
        while (map.len() as u32) < range.new.start {
            map.push(Some(old));
            old += 1;
        }
        map.extend(range.new.clone().map(|_| None));
        old = range.old.end;
    }
    while (map.len() as u32) < new_len {
        map.push(Some(old));
        old += 1;
    }
    map
}

/// For each changed line of the new version, the old line standing at its place (`--ignore-rev`):
/// the k-th line of a replacement goes to the k-th replaced line (the last one past its end),
/// an added line to the old line just above (the first line at the top).
fn guess_map(ranges: &[ChangedRange], new_len: u32, old_len: u32) -> Vec<Option<u32>> {
    let mut map = line_map(ranges, new_len);
    for range in ranges {
        for (k, new) in range.new.clone().enumerate() {
            let k = k as u32;
            let guess = if range.old.start + k < range.old.end {
                Some(range.old.start + k)
            } else if range.old.end > range.old.start {
                Some(range.old.end - 1)
            } else if range.old.start > 0 {
                Some(range.old.start - 1)
            } else if old_len > 0 {
                Some(0)
            } else {
                None
            };
            if let Some(slot) = map.get_mut(new as usize) {
                *slot = guess;
            }
        }
    }
    map
}

impl Walk<'_> {
    fn origin(&mut self, pos: u32, path: Arc<str>, kind: EntryKind, blob: ObjectId) -> usize {
        if let Some(&o) = self.by_key.get(&(pos, Arc::clone(&path))) {
            return o;
        }
        let o = self.origins.len();
        self.origins.push(Origin { pos, path: Arc::clone(&path), kind, blob, suspects: Vec::new(), queued: false });
        self.by_key.insert((pos, path), o);
        o
    }

    fn add_suspects(&mut self, o: usize, suspects: Vec<Suspect>) {
        if suspects.is_empty() {
            return;
        }
        let origin = &mut self.origins[o];
        origin.suspects.extend(suspects);
        if !origin.queued {
            origin.queued = true;
            self.counter += 1;
            let time = self.index.commit(origin.pos).map_or((i64::MIN, 0), |c| c.time);
            self.queue.push((time, Reverse(self.counter), o));
        }
    }

    fn commit_id(&self, pos: u32) -> BlameResult<CommitId> {
        self.index
            .commit(pos)
            .map(|c| c.id)
            .ok_or_else(|| StoreError::CorruptIndex { path: "history".into(), reason: format!("no commit at position {pos}") }.into())
    }

    fn snapshot(&mut self, pos: u32) -> BlameResult<TreeId> {
        if let Some(tree) = self.snapshots.get(&pos) {
            return Ok(*tree);
        }
        let tree = self.store.objects().read_commit(&self.commit_id(pos)?)?.snapshot;
        self.snapshots.insert(pos, tree);
        Ok(tree)
    }

    fn blob(&mut self, id: ObjectId) -> BlameResult<Arc<Vec<u8>>> {
        if let Some(data) = self.blobs.get(&id) {
            return Ok(Arc::clone(data));
        }
        if self.blobs.len() >= BLOB_CACHE {
            self.blobs.clear();
        }
        let data = Arc::new(self.store.objects().read(&id)?.data);
        self.blobs.insert(id, Arc::clone(&data));
        Ok(data)
    }

    /// Whether `path` changed between the commit at `pos` and its parent number `parent`.
    fn changed(&mut self, path: &Arc<str>, pos: u32, parent: u32) -> bool {
        let index = self.index;
        self.changes.entry(Arc::clone(path)).or_insert_with(|| index.changes(path).into_iter().collect()).contains(&(pos, parent))
    }

    fn process(&mut self, o: usize, is_start: bool) -> BlameResult<()> {
        let suspects = std::mem::take(&mut self.origins[o].suspects);
        self.origins[o].queued = false;
        if suspects.is_empty() {
            return Ok(());
        }
        let (pos, path, kind, blob) = {
            let origin = &self.origins[o];
            (origin.pos, Arc::clone(&origin.path), origin.kind, origin.blob)
        };
        let parents = self.index.parents(pos).to_vec();
        let unindexed = self.index.is_unindexed(pos);
        let mut porigins: Vec<Option<usize>> = vec![None; parents.len()];
        // First pass: the same path in each parent; an identical blob takes the whole file.
        for (i, &parent) in parents.iter().enumerate() {
            let found = if !unindexed && !self.changed(&path, pos, i as u32) {
                Some((kind, blob))
            } else {
                match lookup(self.store.objects(), self.snapshot(parent)?, &path)? {
                    Some((k, b)) if k.is_blob() && (k == EntryKind::Symlink) == (kind == EntryKind::Symlink) => Some((k, b)),
                    _ => None,
                }
            };
            if let Some((k, b)) = found {
                if b == blob {
                    let target = self.origin(parent, Arc::clone(&path), k, b);
                    self.add_suspects(target, suspects);
                    return Ok(());
                }
                if !self.seen_blob(&porigins, b) {
                    porigins[i] = Some(self.origin(parent, Arc::clone(&path), k, b));
                }
            }
        }
        let id = self.commit_id(pos)?;
        if !is_start {
            if let Some(cached) = self.cache.and_then(|lookup| lookup(id, &path)) {
                for (f, l) in suspects {
                    if let Some((commit, line, orig_path)) = cached.get(l as usize) {
                        self.results.push((f, *commit, *line, Arc::clone(orig_path)));
                    }
                }
                return Ok(());
            }
        }
        // Second pass: a parent without the path may have had it under another name.
        for (i, &parent) in parents.iter().enumerate() {
            if porigins[i].is_some() {
                continue;
            }
            let (from, to) = (self.snapshot(parent)?, self.snapshot(pos)?);
            let Some((source, k, b)) = rename::find_rename(self.store, from, to, &path)? else { continue };
            if b == blob {
                let target = self.origin(parent, Arc::from(source), k, b);
                self.add_suspects(target, suspects);
                return Ok(());
            }
            if !self.seen_blob(&porigins, b) {
                porigins[i] = Some(self.origin(parent, Arc::from(source), k, b));
            }
        }
        let content = self.blob(blob)?;
        let new_len = line_count(&content);
        let mut remaining = suspects;
        let mut first_diff: Option<(usize, Vec<ChangedRange>, u32)> = None;
        for porigin in porigins.into_iter().flatten() {
            let old = self.blob(self.origins[porigin].blob)?;
            let ranges = muse_diff::changed_ranges(&old, &content);
            let map = line_map(&ranges, new_len);
            let (moved, kept): (Vec<Suspect>, Vec<Suspect>) = remaining.into_iter().partition(|(_, l)| map.get(*l as usize).copied().flatten().is_some());
            let moved = moved.into_iter().filter_map(|(f, l)| map.get(l as usize).copied().flatten().map(|p| (f, p))).collect();
            self.add_suspects(porigin, moved);
            if first_diff.is_none() {
                first_diff = Some((porigin, ranges, line_count(&old)));
            }
            remaining = kept;
            if remaining.is_empty() {
                return Ok(());
            }
        }
        if self.ignored.contains(&pos) {
            if let Some((porigin, ranges, old_len)) = first_diff {
                let map = guess_map(&ranges, new_len, old_len);
                let (moved, kept): (Vec<Suspect>, Vec<Suspect>) = remaining.into_iter().partition(|(_, l)| map.get(*l as usize).copied().flatten().is_some());
                let moved = moved.into_iter().filter_map(|(f, l)| map.get(l as usize).copied().flatten().map(|p| (f, p))).collect();
                self.add_suspects(porigin, moved);
                remaining = kept;
            }
        }
        for (f, l) in remaining {
            self.results.push((f, id, l, Arc::clone(&path)));
        }
        Ok(())
    }

    /// Whether an earlier parent's origin already has blob `b` (git then skips this parent).
    fn seen_blob(&self, porigins: &[Option<usize>], b: ObjectId) -> bool {
        porigins.iter().flatten().any(|p| self.origins[*p].blob == b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_maps_follow_the_unchanged_regions() {
        let ranges = muse_diff::changed_ranges(b"a\nb\nc\n", b"x\na\nc\nd\n");
        assert_eq!(line_map(&ranges, 4), vec![None, Some(0), Some(2), None]);
        assert_eq!(guess_map(&ranges, 4, 3), vec![Some(0), Some(0), Some(2), Some(2)]);
        assert_eq!(line_count(b""), 0);
        assert_eq!(line_count(b"a"), 1);
        assert_eq!(line_count(b"a\nb\n"), 2);
    }
}
