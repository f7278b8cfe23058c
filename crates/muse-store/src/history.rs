//! Reading history: resolving revision expressions and walking commits, optionally only those
//! that changed given paths (the query behind `muse log -- PATH` and the hub's file history).

use std::cell::RefCell;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::Arc;

use muse_core::{rfc3339_to_unix, Commit, CommitId, IdPrefix, ObjectId, Tree, TreeId};

use crate::error::{Result, StoreError};
use crate::odb::{ObjectKind, ObjectStore};
use crate::refs::RefName;
use crate::repo::Repository;
use crate::snapshot::PathState;
use crate::store::{Head, Store};

/// One navigation step after a revision's base.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevisionStep {
    /// `~N`: the N-th first-parent ancestor (`~` alone is `~1`, `~0` the commit itself).
    Ancestor(u64),
    /// `^N`: the N-th parent (`^` alone is `^1`, `^0` the commit itself).
    Parent(u64),
}

/// Splits a revision expression into its base and its `~N` / `^N` steps, without looking
/// anything up. N is a run of ASCII decimal digits (none: 1) that fits a `u64`; anything else
/// after the first `~` or `^` (letters, signs, non-ASCII characters) is
/// [`StoreError::InvalidRevision`]. Total: it never panics, whatever the text.
pub fn parse_revision(text: &str) -> Result<(&str, Vec<RevisionStep>)> {
    let invalid = |reason: String| StoreError::InvalidRevision { revision: text.to_string(), reason };
    let split = text.find(['~', '^']).unwrap_or(text.len());
    let (base, suffix) = text.split_at(split);
    if base.is_empty() {
        return Err(invalid("it has no branch, tag, id or HEAD before '~' or '^'".into()));
    }
    let mut steps = Vec::new();
    let mut rest = suffix.as_bytes();
    while let Some((&op, after)) = rest.split_first() {
        let digits = after.iter().take_while(|b| b.is_ascii_digit()).count();
        let n = match digits {
            0 => 1,
            _ => std::str::from_utf8(&after[..digits])
                .ok()
                .and_then(|d| d.parse::<u64>().ok())
                .ok_or_else(|| invalid(format!("the count after '{}' is too large", op as char)))?,
        };
        steps.push(if op == b'~' { RevisionStep::Ancestor(n) } else { RevisionStep::Parent(n) });
        rest = &after[digits..];
        if let Some(&next) = rest.first() {
            if next != b'~' && next != b'^' {
                let shown = String::from_utf8_lossy(rest);
                return Err(invalid(format!("'{shown}' is not a '~N' or '^N' suffix (N is decimal)")));
            }
        }
    }
    Ok((base, steps))
}

/// Resolves a revision: `HEAD` or `@`, a branch, a tag, a remote-tracking ref (`origin/main`,
/// looked up after branches and tags), a full ref name, an id or a unique id
/// prefix (≥ 7 hex digits), each optionally followed by `~N` (N-th first-parent ancestor) and
/// `^N` (N-th parent) suffixes, as in git. A malformed suffix is
/// [`StoreError::InvalidRevision`] (see [`parse_revision`]); a walk past a root or to a parent
/// that does not exist is [`StoreError::UnknownRevision`]. `HEAD` is `head` (a working copy's,
/// or a bare store's default branch).
pub fn resolve_revision(repo: &Store, head: &Head, text: &str) -> Result<CommitId> {
    let unknown = || StoreError::UnknownRevision(text.to_string());
    let (base, steps) = parse_revision(text)?;
    let mut id = resolve_base(repo, head, base, text)?;
    for step in steps {
        match step {
            RevisionStep::Ancestor(n) => {
                for _ in 0..n {
                    id = *repo.objects().read_commit(&id)?.parents.first().ok_or_else(unknown)?;
                }
            }
            RevisionStep::Parent(0) => {}
            RevisionStep::Parent(n) => {
                let index = usize::try_from(n - 1).map_err(|_| unknown())?;
                id = *repo.objects().read_commit(&id)?.parents.get(index).ok_or_else(unknown)?;
            }
        }
    }
    Ok(id)
}

fn resolve_base(repo: &Store, head: &Head, base: &str, whole: &str) -> Result<CommitId> {
    let unknown = || StoreError::UnknownRevision(whole.to_string());
    if base == "HEAD" || base == "@" {
        let id = match head {
            Head::Branch(name) => repo.refs().read(name)?,
            Head::Detached(id) => Some(*id),
        };
        return id.ok_or_else(unknown);
    }
    // As git: a branch, then a tag, then a remote-tracking ref (`origin/main`).
    let candidates: Vec<RefName> = if base.starts_with("refs/") {
        RefName::parse_any(base).into_iter().collect()
    } else {
        [RefName::branch(base), RefName::tag(base), RefName::parse_any(&format!("refs/remotes/{base}"))].into_iter().filter_map(|r| r.ok()).collect()
    };
    for name in candidates {
        if let Some(id) = repo.refs().read(&name)? {
            return Ok(id);
        }
    }
    if let Ok(id) = ObjectId::parse(base) {
        return match repo.objects().kind(&id)? {
            Some(ObjectKind::Commit) => Ok(CommitId(id)),
            Some(kind) => Err(StoreError::NotACommit { revision: whole.to_string(), kind: kind.as_str() }),
            None => Err(unknown()),
        };
    }
    let hex = base.strip_prefix("sha256:").unwrap_or(base);
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        // `ObjectId::parse` refused it, so it has uppercase digits (docs/formats.md §1).
        let reason = "a full id is written in lowercase hex (only prefixes are case-insensitive), so that every id has one spelling".into();
        return Err(StoreError::InvalidRevision { revision: whole.to_string(), reason });
    }
    let prefix = IdPrefix::parse(base).map_err(|_| unknown())?;
    let all = repo.objects().resolve_prefix(&prefix)?;
    let matches: Vec<ObjectId> = all.iter().copied().filter(|id| matches!(repo.objects().kind(id), Ok(Some(ObjectKind::Commit)))).collect();
    match matches.as_slice() {
        [] => match all.as_slice() {
            [only] => Err(StoreError::NotACommit { revision: whole.to_string(), kind: repo.objects().kind(only)?.map_or("object", ObjectKind::as_str) }),
            _ => Err(unknown()),
        },
        [one] => Ok(CommitId(*one)),
        _ => Err(StoreError::AmbiguousRevision { prefix: base.to_string(), candidates: matches }),
    }
}

/// The time a commit sorts by: `committed_at` as (seconds, nanoseconds) since the epoch.
fn sort_key(commit: &Commit) -> (i64, u32) {
    rfc3339_to_unix(&commit.committed_at).unwrap_or((i64::MIN, 0))
}

/// A queue popped newest first by commit time (seconds, nanoseconds), ties in insertion order:
/// the order of `git log` and of the negotiation walk of a fetch.
#[derive(Debug)]
pub struct NewestFirst<T> {
    heap: BinaryHeap<Queued<T>>,
    inserted: u64,
}

/// An item of a [`NewestFirst`] queue with what orders it.
#[derive(Debug)]
struct Queued<T> {
    time: (i64, u32),
    /// Tie-breaker: insertion order, earlier first (so a stable order among equal times).
    order: std::cmp::Reverse<u64>,
    item: T,
}

impl<T> PartialEq for Queued<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.time, self.order) == (other.time, other.order)
    }
}

impl<T> Eq for Queued<T> {}

impl<T> PartialOrd for Queued<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Queued<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.time, self.order).cmp(&(other.time, other.order))
    }
}

impl<T> Default for NewestFirst<T> {
    fn default() -> Self {
        NewestFirst { heap: BinaryHeap::new(), inserted: 0 }
    }
}

impl<T> NewestFirst<T> {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `item`, committed at `time` (seconds and nanoseconds since the epoch).
    pub fn push(&mut self, time: (i64, u32), item: T) {
        self.inserted += 1;
        self.heap.push(Queued { time, order: std::cmp::Reverse(self.inserted), item });
    }

    /// Takes the newest item (the earliest pushed among equal times).
    pub fn pop(&mut self) -> Option<T> {
        self.heap.pop().map(|queued| queued.item)
    }

    /// The items in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.heap.iter().map(|queued| &queued.item)
    }
}

/// Walks history newest first (by `committed_at`, like `git log`), from `starts`.
///
/// With `paths`, yields only commits that changed one of them, with git's default history
/// simplification: a merge that matches one parent at those paths follows only that parent (and
/// is not shown); a commit is shown when it differs from its (remaining) parents at the paths; a
/// root commit is shown when the paths exist in it.
pub struct LogWalk<'r> {
    repo: &'r Store,
    queue: NewestFirst<(CommitId, Box<Commit>)>,
    seen: HashSet<CommitId>,
    paths: Vec<String>,
    trees: RefCell<HashMap<TreeId, Arc<Tree>>>,
    /// The state of the filtered paths per snapshot: each is looked up once, as a commit and
    /// again as the parent of its children.
    states: HashMap<TreeId, Arc<Vec<Option<PathState>>>>,
}

impl Repository {
    /// Resolves a revision against this working copy's HEAD (see [`resolve_revision`]).
    pub fn resolve(&self, text: &str) -> Result<CommitId> {
        resolve_revision(self, &self.head()?, text)
    }
}

impl<'r> LogWalk<'r> {
    /// Starts a walk at `starts`, restricted to `paths` when not empty.
    pub fn new(repo: &'r Store, starts: &[CommitId], paths: Vec<String>) -> Result<Self> {
        let mut walk = LogWalk { repo, queue: NewestFirst::new(), seen: HashSet::new(), paths, trees: RefCell::new(HashMap::new()), states: HashMap::new() };
        for id in starts {
            walk.push(*id)?;
        }
        Ok(walk)
    }

    fn push(&mut self, id: CommitId) -> Result<()> {
        if self.seen.insert(id) {
            let commit = self.repo.objects().read_commit(&id)?;
            self.queue.push(sort_key(&commit), (id, Box::new(commit)));
        }
        Ok(())
    }

    fn tree(&self, id: TreeId) -> Result<Arc<Tree>> {
        if let Some(tree) = self.trees.borrow().get(&id) {
            return Ok(Arc::clone(tree));
        }
        let tree = Arc::new(self.repo.objects().read_tree(&id)?);
        let mut cache = self.trees.borrow_mut();
        if cache.len() > 100_000 {
            cache.clear();
        }
        cache.insert(id, Arc::clone(&tree));
        Ok(tree)
    }

    /// The state of each filtered path in `snapshot` (memoized).
    fn states(&mut self, snapshot: TreeId) -> Result<Arc<Vec<Option<PathState>>>> {
        if let Some(states) = self.states.get(&snapshot) {
            return Ok(Arc::clone(states));
        }
        let states: Vec<Option<PathState>> = self
            .paths
            .iter()
            .map(|path| {
                let mut current = (muse_core::EntryKind::Tree, snapshot.0);
                for name in path.split('/').filter(|c| !c.is_empty()) {
                    if current.0 != muse_core::EntryKind::Tree {
                        return Ok(None);
                    }
                    match self.tree(TreeId(current.1))?.get(name) {
                        Some(entry) => current = (entry.kind, entry.id),
                        None => return Ok(None),
                    }
                }
                Ok(Some(current))
            })
            .collect::<Result<_>>()?;
        let states = Arc::new(states);
        if self.states.len() > 200_000 {
            self.states.clear();
        }
        self.states.insert(snapshot, Arc::clone(&states));
        Ok(states)
    }

    fn next_commit(&mut self) -> Result<Option<(CommitId, Commit)>> {
        while let Some((id, commit)) = self.queue.pop() {
            let commit = *commit;
            if self.paths.is_empty() {
                for parent in &commit.parents {
                    self.push(*parent)?;
                }
                return Ok(Some((id, commit)));
            }
            let mine = self.states(commit.snapshot)?;
            let mut differs_from_all = true;
            let mut followed = Vec::new();
            for parent in &commit.parents {
                let parent_snapshot = match self.queued_snapshot(parent) {
                    Some(snapshot) => snapshot,
                    None => self.repo.objects().read_commit(parent)?.snapshot,
                };
                if self.states(parent_snapshot)? == mine {
                    // TREESAME to this parent: follow only it, and the commit is not shown.
                    followed = vec![*parent];
                    differs_from_all = false;
                    break;
                }
                followed.push(*parent);
            }
            for parent in followed {
                self.push(parent)?;
            }
            let show = if commit.parents.is_empty() { mine.iter().any(Option::is_some) } else { differs_from_all };
            if show {
                return Ok(Some((id, commit)));
            }
        }
        Ok(None)
    }

    /// The snapshot of a commit already waiting in the queue, without reading it again.
    fn queued_snapshot(&self, id: &CommitId) -> Option<TreeId> {
        if !self.seen.contains(id) {
            return None;
        }
        self.queue.iter().find(|(queued, _)| queued == id).map(|(_, commit)| commit.snapshot)
    }
}

impl Iterator for LogWalk<'_> {
    type Item = Result<(CommitId, Commit)>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_commit().transpose()
    }
}

/// Whether `ancestor` is `descendant` or one of its ancestors.
pub fn is_ancestor(repo: &Repository, ancestor: CommitId, descendant: CommitId) -> Result<bool> {
    Ok(only_reachable_from(repo, ancestor, &[descendant])?.is_empty())
}

/// The commits reachable from `tip` but from none of `others`, newest first (what `git rev-list
/// TIP --not OTHERS` lists). Walks newest first by commit time from all tips at once and stops
/// when every commit still queued is reachable from `others`, so it reads the commits since the
/// histories met, not the whole history.
pub fn only_reachable_from(repo: &Repository, tip: CommitId, others: &[CommitId]) -> Result<Vec<CommitId>> {
    only_reachable_in(repo.objects(), tip, others)
}

/// [`only_reachable_from`] over an object store alone (a bare store, as a hub keeps).
pub fn only_reachable_in(objects: &ObjectStore, tip: CommitId, others: &[CommitId]) -> Result<Vec<CommitId>> {
    // For each commit met: whether it is reachable from `others` (excluded); and the state in
    // which it was last walked (a commit found excluded after it was walked is walked again, to
    // pass that on to its parents).
    let mut excluded: HashMap<CommitId, bool> = HashMap::new();
    let mut walked: HashMap<CommitId, bool> = HashMap::new();
    let mut heap: BinaryHeap<((i64, u32), CommitId)> = BinaryHeap::new();
    let mark = |heap: &mut BinaryHeap<((i64, u32), CommitId)>, excluded: &mut HashMap<CommitId, bool>, id: CommitId, ex: bool| -> Result<()> {
        match excluded.get(&id) {
            Some(true) => Ok(()),
            Some(false) if !ex => Ok(()),
            _ => {
                excluded.insert(id, ex);
                heap.push((sort_key(&objects.read_commit(&id)?), id));
                Ok(())
            }
        }
    };
    for other in others {
        mark(&mut heap, &mut excluded, *other, true)?;
    }
    mark(&mut heap, &mut excluded, tip, false)?;
    let mut order = Vec::new();
    while heap.iter().any(|(_, id)| excluded.get(id) == Some(&false)) {
        let Some((_, id)) = heap.pop() else { break };
        let ex = excluded.get(&id).copied().unwrap_or(false);
        if walked.insert(id, ex) == Some(ex) {
            continue;
        }
        if !ex {
            order.push(id);
        }
        for parent in objects.read_commit(&id)?.parents {
            mark(&mut heap, &mut excluded, parent, ex)?;
        }
    }
    Ok(order.into_iter().filter(|id| excluded.get(id) == Some(&false)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Writes a commit with `parents` at second `time`; returns its id.
    fn commit(repo: &Repository, parents: &[CommitId], time: i64) -> CommitId {
        let mut writer = repo.objects().begin_write().unwrap();
        let commit = Commit {
            parents: parents.to_vec(),
            snapshot: Tree::empty_id(),
            message: format!("at {time}"),
            author: "A <a@example.com>".into(),
            committed_at: muse_core::unix_to_rfc3339_utc(1_700_000_000 + time),
            ..Commit::default()
        };
        let id = writer.add_commit(&commit).unwrap();
        writer.finish().unwrap();
        id
    }

    #[test]
    fn only_reachable_from_stops_where_histories_meet() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path(), "main").unwrap();
        // a - b - c - m (merge of c and e) - n
        //      \- d - e
        //              \- f - g   (g: a detached tip)
        let a = commit(&repo, &[], 0);
        let b = commit(&repo, &[a], 1);
        let c = commit(&repo, &[b], 2);
        let d = commit(&repo, &[b], 3);
        let e = commit(&repo, &[d], 4);
        let m = commit(&repo, &[c, e], 5);
        let n = commit(&repo, &[m], 6);
        let f = commit(&repo, &[e], 7);
        let g = commit(&repo, &[f], 8);
        assert_eq!(only_reachable_from(&repo, g, &[n]).unwrap(), vec![g, f]);
        assert_eq!(only_reachable_from(&repo, n, &[g]).unwrap(), vec![n, m, c]);
        assert_eq!(only_reachable_from(&repo, g, &[g]).unwrap(), Vec::<CommitId>::new());
        assert_eq!(only_reachable_from(&repo, g, &[]).unwrap(), vec![g, f, e, d, b, a]);
        assert!(is_ancestor(&repo, e, n).unwrap());
        assert!(is_ancestor(&repo, n, n).unwrap());
        assert!(!is_ancestor(&repo, f, n).unwrap());
        assert!(!is_ancestor(&repo, n, a).unwrap());
    }

    #[test]
    fn suffixes_are_decimal_counts_or_nothing() {
        use RevisionStep::{Ancestor, Parent};
        assert_eq!(parse_revision("main").unwrap(), ("main", vec![]));
        assert_eq!(parse_revision("HEAD~").unwrap(), ("HEAD", vec![Ancestor(1)]));
        assert_eq!(parse_revision("HEAD~3^2~^0").unwrap(), ("HEAD", vec![Ancestor(3), Parent(2), Ancestor(1), Parent(0)]));
        for bad in ["HEAD~x", "main~é", "HEAD^é", "HEAD~1x", "~1", "^", "HEAD~-1", "HEAD~٣", "HEAD~18446744073709551616"] {
            assert!(matches!(parse_revision(bad), Err(StoreError::InvalidRevision { .. })), "{bad:?} accepted");
        }
        assert_eq!(parse_revision("HEAD~18446744073709551615").unwrap().1, vec![Ancestor(u64::MAX)]);
    }

    proptest! {
        /// The parser is total: any string is parsed or refused, never a panic; and what it
        /// accepts round-trips.
        #[test]
        fn parsing_never_panics(text in "\\PC{0,12}([~^][\\PC0-9]{0,4}){0,4}") {
            if let Ok((base, steps)) = parse_revision(&text) {
                let mut again = base.to_string();
                for step in &steps {
                    match step {
                        RevisionStep::Ancestor(n) => again.push_str(&format!("~{n}")),
                        RevisionStep::Parent(n) => again.push_str(&format!("^{n}")),
                    }
                }
                prop_assert_eq!(parse_revision(&again).unwrap(), (base, steps));
            }
        }

        /// Arbitrary bytes read as text (lossily) never panic the parser either.
        #[test]
        fn parsing_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = parse_revision(&String::from_utf8_lossy(&bytes));
        }
    }
}
