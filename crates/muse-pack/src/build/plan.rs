//! What a pack must carry: the commits reachable from `want` and not from `have`, and every
//! tree and blob they reach that the receiver (who has everything reachable from `have`) lacks,
//! in the order the format requires, each with a delta base candidate: the object at the same
//! path in the commit's first parent.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

use muse_core::{CommitId, ObjectId, Tree, TreeId};
use muse_store::odb::{Encoding, RawInfo};
use muse_store::{ObjectKind, ObjectStore, StoreError};

use super::{Source, DELTA_MAX_SIZE};
use crate::error::{PackError, Result};

/// One object to send, with the base to delta it against (if any).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item {
    /// The object.
    pub id: ObjectId,
    /// An object the receiver will have when this one arrives, similar to it.
    pub base: Option<ObjectId>,
    /// Whether the store's entry for the object can be sent as it is (git's pack reuse): it is
    /// whole, or a delta against `base`. Otherwise it is encoded anew.
    pub reuse: bool,
}

/// The objects of a pack, in pack order.
#[derive(Debug, Default)]
pub struct Plan {
    /// Blobs; a base always precedes the blob that deltas against it (or is the receiver's).
    pub blobs: Vec<Item>,
    /// Trees, every subtree before its parent.
    pub trees: Vec<Item>,
    /// Commits, every parent before its children, each with its first parent as delta base.
    pub commits: Vec<Item>,
}

impl Plan {
    /// Every object id the plan sends.
    pub fn ids(&self) -> impl Iterator<Item = ObjectId> + '_ {
        self.blobs.iter().chain(&self.trees).chain(&self.commits).map(|item| item.id)
    }
}

/// Plans a pack of what is reachable from `want` and not from `have`. Ids in `have` that the
/// store does not hold are ignored (a receiver may know commits the sender does not). With
/// `reuse`, stored entries that can travel as they are keep their encoding (see
/// [`Item::reuse`]); without it (gc), every delta base is chosen by path.
pub fn plan(source: &Source<'_>, want: &[CommitId], have: &[CommitId], max_depth: u32, reuse: bool) -> Result<Plan> {
    let store = source.store();
    let mut planner = Planner { source, seen: HashSet::new(), depth: HashMap::new(), by_name: HashMap::new(), max_depth, reuse, plan: Plan::default() };
    let mut known_have = Vec::new();
    for id in have {
        if store.kind(&id.0)? == Some(ObjectKind::Commit) {
            known_have.push(*id);
        }
    }
    // Only the snapshots of the commits the walk met on the `have` side (the edge) are marked
    // received, not the whole history's (sharing subtrees, they cost little more than one);
    // older trees the receiver has are recognised lazily, as the first parent's trees at the
    // same paths (see `Planner::open`). The cost follows what is sent, not the history's
    // length.
    let have_commits = reachable_from_have(store, want, &known_have)?;
    for commit in &have_commits {
        planner.seen.insert(commit.0);
        planner.mark_received(store.read_commit(commit)?.snapshot)?;
    }
    let mut snapshots = HashMap::new();
    let order = commits_to_send(store, want, &have_commits, &mut snapshots)?;
    for commit in &order {
        let (snapshot, first_parent) = snapshots[commit];
        let old = match first_parent {
            Some(parent) => Some(match snapshots.get(&parent) {
                Some((tree, _)) => *tree,
                None => store.read_commit(&parent)?.snapshot,
            }),
            None => None,
        };
        // A first parent the receiver has: so it has the parent's snapshot (a sent parent's
        // snapshot is planned, hence in `seen`, already).
        if let (Some(parent), Some(old)) = (first_parent, old) {
            if have_commits.contains(&parent) {
                planner.seen.insert(old.0);
            }
        }
        planner.visit_tree(snapshot, old)?;
    }
    planner.plan.blobs = chain_order(std::mem::take(&mut planner.plan.blobs));
    for commit in order {
        let first_parent = snapshots[&commit].1;
        let item = planner.item(ObjectKind::Commit, commit.0, first_parent.map(|p| p.0))?;
        planner.plan.commits.push(item);
        planner.seen.insert(commit.0);
    }
    Ok(planner.plan)
}

/// Reorders blobs so that each delta chain is contiguous: a depth-first walk of the forest in
/// which every blob hangs under its base. A base still precedes its deltas, and a receiver then
/// needs only the few most recent objects to resolve each delta.
fn chain_order(items: Vec<Item>) -> Vec<Item> {
    let index: HashMap<ObjectId, usize> = items.iter().enumerate().map(|(i, item)| (item.id, i)).collect();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); items.len()];
    let mut roots = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match item.base.and_then(|base| index.get(&base)) {
            Some(&parent) => children[parent].push(i),
            None => roots.push(i),
        }
    }
    let mut order = Vec::with_capacity(items.len());
    let mut stack: Vec<usize> = roots.into_iter().rev().collect();
    while let Some(i) = stack.pop() {
        order.push(items[i]);
        stack.extend(children[i].iter().rev());
    }
    order
}

/// The commits the walk from `want` meets that are reachable from `have` (the edge): git's "uninteresting"
/// marking. Commits are visited newest first (by `committed_at`), each painted with the sides
/// that reach it; the walk stops as soon as every commit still queued is reachable from
/// `have`, so it costs in proportion to the commits to send, not to the whole history. A
/// commit painted from `have` is certainly reachable from it; clock skew can only stop the walk
/// before some commit the receiver has is painted, which then is sent needlessly (the receiver
/// skips what it has), never the reverse.
fn reachable_from_have(store: &ObjectStore, want: &[CommitId], have: &[CommitId]) -> Result<HashSet<CommitId>> {
    const WANT: u8 = 1;
    const HAVE: u8 = 2;
    let mut paint: HashMap<CommitId, u8> = HashMap::new();
    // The paint each commit had when last expanded (a commit is expanded again if it gains HAVE).
    let mut expanded: HashMap<CommitId, u8> = HashMap::new();
    // Newest first; commits of equal time in the order they were queued, so that both sides
    // advance in step even when every commit has the same time.
    let mut queue: BinaryHeap<(i64, Reverse<u64>, CommitId)> = BinaryHeap::new();
    let mut queued = 0u64;
    let mut push = |paint: &mut HashMap<CommitId, u8>, queue: &mut BinaryHeap<(i64, Reverse<u64>, CommitId)>, id: CommitId, side: u8| -> Result<()> {
        let current = paint.entry(id).or_insert(0);
        if *current | side != *current {
            *current |= side;
            let commit = match store.read_commit(&id) {
                Ok(commit) => commit,
                Err(StoreError::ObjectNotFound(missing)) if missing == id.0 => return Err(PackError::UnknownCommit(id.0)),
                Err(e) => return Err(e.into()),
            };
            let time = muse_core::rfc3339_to_unix(&commit.committed_at).map_or(i64::MIN, |(secs, _)| secs);
            queued += 1;
            queue.push((time, Reverse(queued), id));
        }
        Ok(())
    };
    for id in want {
        push(&mut paint, &mut queue, *id, WANT)?;
    }
    for id in have {
        push(&mut paint, &mut queue, *id, HAVE)?;
    }
    while queue.iter().any(|(_, _, id)| paint[id] == WANT) {
        let Some((_, _, id)) = queue.pop() else { break };
        let side = paint[&id];
        if expanded.get(&id) == Some(&side) {
            continue;
        }
        expanded.insert(id, side);
        for parent in store.read_commit(&id)?.parents {
            push(&mut paint, &mut queue, parent, side)?;
        }
    }
    Ok(paint.into_iter().filter(|(_, side)| side & HAVE != 0).map(|(id, _)| id).collect())
}

/// The commits reachable from `want` but not in `have`, parents first; records each one's
/// snapshot and first parent in `snapshots`.
fn commits_to_send(
    store: &ObjectStore,
    want: &[CommitId],
    have: &HashSet<CommitId>,
    snapshots: &mut HashMap<CommitId, (TreeId, Option<CommitId>)>,
) -> Result<Vec<CommitId>> {
    let mut order = Vec::new();
    let mut stack: Vec<(CommitId, bool)> = want.iter().rev().map(|id| (*id, false)).collect();
    while let Some((id, expanded)) = stack.pop() {
        if expanded {
            order.push(id);
            continue;
        }
        if have.contains(&id) || snapshots.contains_key(&id) {
            continue;
        }
        let commit = match store.read_commit(&id) {
            Ok(commit) => commit,
            Err(StoreError::ObjectNotFound(missing)) if missing == id.0 => return Err(PackError::UnknownCommit(id.0)),
            Err(e) => return Err(e.into()),
        };
        snapshots.insert(id, (commit.snapshot, commit.parents.first().copied()));
        stack.push((id, true));
        for parent in commit.parents.iter().rev() {
            if !have.contains(parent) && !snapshots.contains_key(parent) {
                stack.push((*parent, false));
            }
        }
    }
    Ok(order)
}

/// A tree being planned: the tree, its counterpart in the first parent, the next entry.
struct Frame {
    id: TreeId,
    old: Option<TreeId>,
    tree: Tree,
    old_tree: Option<Tree>,
    next: usize,
}

struct Planner<'s> {
    source: &'s Source<'s>,
    /// Objects (and commits) the receiver has, or that are already placed in the pack.
    seen: HashSet<ObjectId>,
    /// Delta chain length of planned objects (absent: 0).
    depth: HashMap<ObjectId, u32>,
    /// The last blob or tree seen under each file or directory name: the base for an object with
    /// no predecessor at its path (a moved or copied file is often similar to it).
    by_name: HashMap<(String, bool), ObjectId>,
    max_depth: u32,
    /// Whether stored entries may be sent as they are.
    reuse: bool,
    plan: Plan,
}

impl Planner<'_> {
    /// Marks a tree the receiver has, and everything under it.
    fn mark_received(&mut self, root: TreeId) -> Result<()> {
        let mut stack = vec![root];
        while let Some(id) = stack.pop() {
            if !self.seen.insert(id.0) {
                continue;
            }
            for entry in self.source.tree(&id)?.entries() {
                self.by_name.insert((entry.name.clone(), entry.kind.is_blob()), entry.id);
                if entry.kind.is_blob() {
                    self.seen.insert(entry.id);
                } else if !self.seen.contains(&entry.id) {
                    stack.push(TreeId(entry.id));
                }
            }
        }
        Ok(())
    }

    /// Plans a tree the receiver lacks, comparing it with `old`, the tree at the same path in
    /// the first parent, to find delta bases. Depth-first with an explicit stack (stored trees
    /// may nest arbitrarily deep): blobs in entry order, every subtree before its parent.
    fn visit_tree(&mut self, root: TreeId, old: Option<TreeId>) -> Result<()> {
        let mut stack: Vec<Frame> = self.open(root, old)?.into_iter().collect();
        while let Some(frame) = stack.last_mut() {
            let Some(entry) = frame.tree.entries().get(frame.next).cloned() else {
                // A tree joins `seen` once pushed, after its subtrees, so that nothing under it
                // takes it (not yet in the pack) as a delta base. Hash trees are acyclic.
                let Some(done) = stack.pop() else { break };
                let item = self.item(ObjectKind::Tree, done.id.0, done.old.map(|t| t.0))?;
                self.plan.trees.push(item);
                self.seen.insert(done.id.0);
                continue;
            };
            frame.next += 1;
            let same_path = frame.old_tree.as_ref().and_then(|t: &Tree| t.get(&entry.name)).filter(|o| o.kind.is_blob() == entry.kind.is_blob()).map(|o| o.id);
            let key = (entry.name, entry.kind.is_blob());
            let before = same_path.or_else(|| self.by_name.get(&key).copied());
            self.by_name.insert(key, entry.id);
            if entry.kind.is_blob() {
                if self.seen.insert(entry.id) {
                    let item = self.item(ObjectKind::Blob, entry.id, before)?;
                    self.plan.blobs.push(item);
                }
            } else if let Some(child) = self.open(TreeId(entry.id), before.map(TreeId))? {
                stack.push(child);
            }
        }
        Ok(())
    }

    /// A frame for a tree to plan, or `None` when the receiver has it or it is planned already.
    fn open(&mut self, id: TreeId, old: Option<TreeId>) -> Result<Option<Frame>> {
        if self.seen.contains(&id.0) {
            return Ok(None);
        }
        let tree = self.source.tree(&id)?;
        let old_tree = match old {
            Some(old) if old != id => Some(self.source.tree(&old)?),
            _ => None,
        };
        // An `old` tree in `seen` is one the receiver has or one already planned: so are its
        // entries (and their closures). Marking them here, path by path down from the first
        // parent's snapshot, is how the history the receiver has is recognised without walking
        // it. (A name's last tree may still be in progress, not in `seen`: not trusted.)
        if let (Some(old), Some(old_tree)) = (old, &old_tree) {
            if self.seen.contains(&old.0) {
                for entry in old_tree.entries() {
                    self.seen.insert(entry.id);
                }
            }
        }
        Ok(Some(Frame { id, old, tree, old_tree, next: 0 }))
    }

    /// The chain length a delta against `base` would have, if `base` is a base the receiver
    /// will have when the object arrives (placed earlier in the pack, or the receiver's) and the
    /// chain stays within `max_depth`.
    fn depth_over(&self, id: ObjectId, base: ObjectId) -> Option<u32> {
        let depth = self.depth.get(&base).copied().unwrap_or(0) + 1;
        (base != id && self.seen.contains(&base) && depth <= self.max_depth).then_some(depth)
    }

    /// The item for the object `id` of kind `kind`, whose path suggests `candidate` as a delta
    /// base. With reuse, the stored entry is sent as it is when it is a delta against a base
    /// the receiver will have (of the same kind, both small enough, within the chain limit), or
    /// whole when the path suggests no base; otherwise the object is encoded anew against the
    /// candidate, or whole.
    fn item(&mut self, kind: ObjectKind, id: ObjectId, candidate: Option<ObjectId>) -> Result<Item> {
        let candidate = candidate.and_then(|b| self.depth_over(id, b).map(|depth| (b, depth)));
        if self.reuse {
            let store = self.source.store();
            if let Some(info) = store.raw_info(&id)?.filter(|info| info.kind == kind) {
                match info.encoding {
                    Encoding::Zstd if candidate.is_none() => return Ok(Item { id, base: None, reuse: true }),
                    Encoding::ZstdDelta(base) if info.size <= DELTA_MAX_SIZE as u64 => {
                        let small_base = |b: RawInfo| b.kind == kind && b.size <= DELTA_MAX_SIZE as u64;
                        if let Some(depth) = self.depth_over(id, base) {
                            if store.raw_info(&base)?.is_some_and(small_base) {
                                self.depth.insert(id, depth);
                                return Ok(Item { id, base: Some(base), reuse: true });
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(match candidate {
            Some((base, depth)) => {
                self.depth.insert(id, depth);
                Item { id, base: Some(base), reuse: false }
            }
            None => Item { id, base: None, reuse: false },
        })
    }
}
