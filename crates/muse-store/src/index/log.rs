//! Path-limited history from the index: the walk of [`crate::history::LogWalk`] (git's default
//! simplification, newest first), with "did this commit change the paths against that parent"
//! answered by the change lists instead of by reading trees.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};

use muse_core::CommitId;

use super::format::ROOT_PARENT;
use super::HistoryIndex;
use crate::error::{Result, StoreError};
use crate::snapshot::lookup;
use crate::store::Store;

/// A walk over indexed history, newest first (see [`HistoryIndex::log`]). Yields commit ids.
pub struct IndexedLog<'a> {
    index: &'a HistoryIndex,
    store: &'a Store,
    paths: Vec<String>,
    /// `(position, parent number)` at which one of `paths` changed.
    changed: HashSet<(u32, u32)>,
    queue: BinaryHeap<((i64, u32), Reverse<u64>, u32)>,
    seen: Vec<bool>,
    counter: u64,
    first_parent: bool,
}

impl<'a> IndexedLog<'a> {
    /// A walk from `starts` that never shows nor walks through the positions set in `hidden`
    /// (a mask by position; shorter than the index: the rest is not hidden).
    pub(super) fn new(
        index: &'a HistoryIndex,
        store: &'a Store,
        starts: &[CommitId],
        mut hidden: Vec<bool>,
        paths: &[String],
        first_parent: bool,
    ) -> Result<Self> {
        let paths: Vec<String> = paths.iter().map(|p| p.trim_matches('/').to_string()).collect();
        let changed = paths.iter().flat_map(|p| index.changes(p)).collect();
        // A hidden commit counts as seen: it is never queued, so neither it nor the history
        // behind it (hidden too, being its ancestors) is walked.
        hidden.resize(index.len(), false);
        let mut walk = IndexedLog { index, store, paths, changed, queue: BinaryHeap::new(), seen: hidden, counter: 0, first_parent };
        for start in starts {
            let pos = index.position(start).ok_or(StoreError::ObjectNotFound(start.0))?;
            walk.push(pos);
        }
        Ok(walk)
    }

    fn push(&mut self, pos: u32) {
        if let Some(seen) = self.seen.get_mut(pos as usize) {
            if !*seen {
                *seen = true;
                self.counter += 1;
                let time = self.index.commit(pos).map_or((i64::MIN, 0), |c| c.time);
                self.queue.push((time, Reverse(self.counter), pos));
            }
        }
    }

    /// Whether the paths differ between the commit at `pos` and its parent number `parent`
    /// (`ROOT_PARENT`: whether they exist in a root commit).
    fn changed(&self, pos: u32, parent: u32) -> Result<bool> {
        if !self.index.is_unindexed(pos) {
            return Ok(self.changed.contains(&(pos, parent)));
        }
        let objects = self.store.objects();
        let snapshot = |p: u32| -> Result<muse_core::TreeId> {
            let id = self.index.commit(p).map(|c| c.id).ok_or(StoreError::CorruptIndex { path: "history".into(), reason: format!("no commit at {p}") })?;
            Ok(objects.read_commit(&id)?.snapshot)
        };
        let mine = snapshot(pos)?;
        let theirs = match self.index.parents(pos).get(parent as usize) {
            Some(p) => Some(snapshot(*p)?),
            None => None,
        };
        for path in &self.paths {
            let new = lookup(objects, mine, path)?;
            let old = match theirs {
                Some(tree) => lookup(objects, tree, path)?,
                None => None,
            };
            if old != new {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn next_position(&mut self) -> Result<Option<u32>> {
        while let Some((_, _, pos)) = self.queue.pop() {
            let all_parents = self.index.parents(pos).to_vec();
            let parents = if self.first_parent { &all_parents[..all_parents.len().min(1)] } else { &all_parents[..] };
            if self.paths.is_empty() {
                for parent in parents {
                    self.push(*parent);
                }
                return Ok(Some(pos));
            }
            let mut differs_from_all = true;
            let mut followed = Vec::new();
            for (n, parent) in parents.iter().enumerate() {
                if !self.changed(pos, n as u32)? {
                    // TREESAME to this parent: follow only it, and the commit is not shown.
                    followed = vec![*parent];
                    differs_from_all = false;
                    break;
                }
                followed.push(*parent);
            }
            for parent in followed {
                self.push(parent);
            }
            let show = if parents.is_empty() { self.changed(pos, ROOT_PARENT)? } else { differs_from_all };
            if show {
                return Ok(Some(pos));
            }
        }
        Ok(None)
    }
}

impl Iterator for IndexedLog<'_> {
    type Item = Result<CommitId>;
    fn next(&mut self) -> Option<Self::Item> {
        match self.next_position() {
            Ok(Some(pos)) => self.index.commit(pos).map(|c| Ok(c.id)),
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }
}
