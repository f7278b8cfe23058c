//! Computing index entries for commits not indexed yet: finding them from the tips, ordering
//! them parents first, and listing the paths each changed against each parent.

use std::collections::{HashMap, HashSet};

use muse_core::{rfc3339_to_unix, CommitId};

use super::format::{CommitRecord, SegmentData, FLAG_UNINDEXED, ROOT_PARENT};
use crate::error::Result;
use crate::snapshot::diff_snapshots;
use crate::store::Store;

/// At most this many changed paths (files and their directories) are listed for one commit
/// against one parent; a commit over it is flagged and answered from its trees.
pub(crate) const MAX_PATHS_PER_CHANGE: usize = 100_000;
/// A catch-up writes a segment once it holds this many changes, bounding its memory.
pub(crate) const MAX_POSTINGS_PER_SEGMENT: usize = 4_000_000;

/// The commits reachable from `tips` that `known` does not hold, parents before children (and
/// otherwise in the order met). An iterative depth-first walk: no recursion, whatever the depth
/// of the history.
pub(crate) fn missing_commits(store: &Store, tips: &[CommitId], known: &dyn Fn(&CommitId) -> bool) -> Result<Vec<(CommitId, muse_core::Commit)>> {
    let mut order = Vec::new();
    // Commits met: expanded (their parents pushed) or emitted.
    let mut met: HashSet<CommitId> = HashSet::new();
    // (commit, its decoded form once its parents were pushed)
    let mut stack: Vec<(CommitId, Option<muse_core::Commit>)> = tips.iter().rev().filter(|t| !known(t)).map(|t| (*t, None)).collect();
    while let Some((id, decoded)) = stack.pop() {
        match decoded {
            // Every parent pushed above it has been emitted (a hash-linked history has no cycle).
            Some(commit) => order.push((id, commit)),
            None if met.contains(&id) => {}
            None => {
                met.insert(id);
                let commit = store.objects().read_commit(&id)?;
                let parents: Vec<CommitId> = commit.parents.iter().rev().filter(|p| !known(p) && !met.contains(*p)).copied().collect();
                stack.push((id, Some(commit)));
                stack.extend(parents.into_iter().map(|p| (p, None)));
            }
        }
    }
    Ok(order)
}

/// Every path whose state differs between two snapshots: each changed file, every directory
/// above it, and `""` for the whole tree. `None` when more than [`MAX_PATHS_PER_CHANGE`], or
/// when a changed path is beyond the path limits (a store written around Muse's checks): such a
/// commit is answered from its trees, as far as a query's paths reach.
pub(crate) fn changed_paths(store: &Store, old: Option<muse_core::TreeId>, new: muse_core::TreeId) -> Result<Option<Vec<String>>> {
    let changes = match diff_snapshots(store.objects(), old, Some(new)) {
        Ok(changes) => changes,
        Err(crate::StoreError::TreeTooDeep { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut out: HashSet<&str> = HashSet::new();
    for change in &changes {
        let path = change.path.as_str();
        out.insert(path);
        let mut rest = path;
        while let Some(cut) = rest.rfind('/') {
            rest = &rest[..cut];
            if !out.insert(rest) {
                break;
            }
        }
        if out.len() > MAX_PATHS_PER_CHANGE {
            return Ok(None);
        }
    }
    if !changes.is_empty() {
        out.insert("");
    }
    Ok(Some(out.into_iter().map(str::to_string).collect()))
}

/// The paths a commit changed against one parent: (parent number, paths sorted).
pub(crate) type ParentChanges = (u32, Vec<String>);

/// The paths `commit` changed against each parent (against the empty tree for a root commit,
/// where `""` is always listed), as (parent number, paths sorted); `None` when one parent's
/// list is over [`MAX_PATHS_PER_CHANGE`].
pub(crate) fn commit_changes(store: &Store, commit: &muse_core::Commit) -> Result<Option<Vec<ParentChanges>>> {
    let mut lists = Vec::new();
    if commit.parents.is_empty() {
        let Some(mut paths) = changed_paths(store, None, commit.snapshot)? else { return Ok(None) };
        if !paths.iter().any(String::is_empty) {
            paths.push(String::new());
        }
        paths.sort();
        lists.push((ROOT_PARENT, paths));
    }
    for (n, parent) in commit.parents.iter().enumerate() {
        let parent_snapshot = store.objects().read_commit(parent)?.snapshot;
        let Some(mut paths) = changed_paths(store, Some(parent_snapshot), commit.snapshot)? else { return Ok(None) };
        if !paths.is_empty() {
            paths.sort();
            lists.push((n as u32, paths));
        }
    }
    Ok(Some(lists))
}

/// Builds index entries for `commits` (parents first), whose positions start at `base`; the
/// parents already indexed are found through `position`. Calls `flush` with each full segment
/// (bounded memory) and returns the last, possibly empty one. `progress(done)` after each commit.
pub(crate) fn build_segments(
    store: &Store,
    commits: Vec<(CommitId, muse_core::Commit)>,
    base: u32,
    position: &dyn Fn(&CommitId) -> Option<(u32, u32)>,
    flush: &mut dyn FnMut(SegmentData) -> Result<()>,
    progress: &dyn Fn(u64),
) -> Result<SegmentData> {
    let mut local: HashMap<CommitId, (u32, u32)> = HashMap::new();
    let mut data = SegmentData::new(base);
    let mut next = base;
    for (done, (id, commit)) in commits.into_iter().enumerate() {
        let mut parents = Vec::with_capacity(commit.parents.len());
        let mut generation = 1u32;
        for parent in &commit.parents {
            let (pos, gen) = local.get(parent).copied().or_else(|| position(parent)).ok_or(crate::StoreError::ObjectNotFound(parent.0))?;
            parents.push(pos);
            generation = generation.max(gen.saturating_add(1));
        }
        let (flags, lists) = match commit_changes(store, &commit)? {
            Some(lists) => (0, lists),
            None => (FLAG_UNINDEXED, Vec::new()),
        };
        for (parent, paths) in lists {
            data.postings += paths.len();
            for path in paths {
                data.paths.entry(path).or_default().push((next, parent));
            }
        }
        let time = rfc3339_to_unix(&commit.committed_at).unwrap_or((i64::MIN, 0));
        data.commits.push(CommitRecord { id, time, generation, parents, flags });
        local.insert(id, (next, generation));
        next += 1;
        progress(done as u64 + 1);
        if data.postings >= MAX_POSTINGS_PER_SEGMENT {
            let full = std::mem::replace(&mut data, SegmentData::new(next));
            flush(full)?;
        }
    }
    Ok(data)
}
