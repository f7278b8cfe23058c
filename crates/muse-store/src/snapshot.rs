//! Snapshots as Merkle trees: building them from flat listings, updating them path by path
//! (touching only the directories on changed paths), flattening, lookups and tree diffs.

use std::collections::{BTreeMap, HashMap};

use muse_core::{check_path_limits, EntryKind, ObjectId, Tree, TreeEntry, TreeId, TreeShape};

use crate::error::{Result, StoreError};
use crate::odb::{ObjectStore, PackWriter};

/// One file of a snapshot: its full path, kind (never `Tree`) and blob id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct FileEntry {
    /// Path from the snapshot root, `/`-separated.
    pub path: String,
    /// File, executable or symlink.
    pub kind: EntryKind,
    /// The content's blob id.
    pub id: ObjectId,
}

/// The state of one path: its kind and id (a blob, or a tree for directories).
pub type PathState = (EntryKind, ObjectId);

/// Writes the trees of a snapshot holding exactly `files` (sorted by path bytes, unique) and
/// returns the root tree id. Blobs must be written (or known to exist) by the caller.
/// Paths beyond the limits are refused as in [`update_snapshot`].
pub fn build_snapshot(writer: &mut PackWriter<'_>, files: &[FileEntry]) -> Result<TreeId> {
    apply_changes(None, writer, Tree::empty_id(), files.iter().map(|f| (f.path.as_str(), Some((f.kind, f.id)))))
}

/// Applies `changes` (path → new state, `None` = delete; sorted by path bytes) to the snapshot
/// `base`, writing only the trees on changed paths. Directories left empty disappear.
///
/// A changed path beyond the limits (`MAX_TREE_DEPTH` names, `MAX_PATH_LEN` bytes) is refused
/// with [`StoreError::InvalidPath`] before anything is written.
pub fn update_snapshot(store: &ObjectStore, writer: &mut PackWriter<'_>, base: TreeId, changes: &[(String, Option<PathState>)]) -> Result<TreeId> {
    apply_changes(Some(store), writer, base, changes.iter().map(|(path, state)| (path.as_str(), *state)))
}

/// The parent directory of a path (`""` at the top) and its last name.
fn split_dir(path: &str) -> (&str, &str) {
    path.rsplit_once('/').unwrap_or(("", path))
}

/// [`update_snapshot`] without recursion: the directories on changed paths are listed, their
/// base trees read top-down, then rebuilt bottom-up, each after its subdirectories.
fn apply_changes<'c>(
    store: Option<&ObjectStore>,
    writer: &mut PackWriter<'_>,
    base: TreeId,
    changes: impl IntoIterator<Item = (&'c str, Option<PathState>)>,
) -> Result<TreeId> {
    // Every directory on a changed path (parents sort before children), with its direct changes.
    let mut dirs: BTreeMap<&str, Vec<(&str, Option<PathState>)>> = BTreeMap::new();
    dirs.insert("", Vec::new());
    for (path, state) in changes {
        check_path_limits(path.split('/').count(), path.len()).map_err(|reason| StoreError::InvalidPath { path: path.into(), reason })?;
        let (dir, name) = split_dir(path);
        dirs.entry(dir).or_default().push((name, state));
        let mut at = dir;
        while !at.is_empty() {
            let parent = split_dir(at).0;
            if dirs.contains_key(parent) {
                break;
            }
            dirs.insert(parent, Vec::new());
            at = parent;
        }
    }
    let read = |id: TreeId| -> Result<Tree> {
        match store {
            Some(store) if id != Tree::empty_id() => store.read_tree(&id),
            _ => Ok(Tree::default()),
        }
    };
    let mut bases: HashMap<&str, Tree> = HashMap::with_capacity(dirs.len());
    for dir in dirs.keys() {
        let tree = if dir.is_empty() {
            read(base)?
        } else {
            let (parent, name) = split_dir(dir);
            match bases.get(parent).and_then(|t| t.get(name)) {
                Some(e) if e.kind == EntryKind::Tree => read(TreeId(e.id))?,
                _ => Tree::default(),
            }
        };
        bases.insert(dir, tree);
    }
    // Rebuilt subdirectories waiting for their parent: (name, new tree; `None` if now empty).
    let mut done: HashMap<&str, Vec<(&str, Option<TreeId>)>> = HashMap::new();
    let root_changes = dirs.remove("").unwrap_or_default();
    // Reverse path order: every directory after its subdirectories.
    for (dir, direct) in dirs.into_iter().rev() {
        let tree = rebuild(bases.remove(dir).unwrap_or_default(), direct, done.remove(dir).unwrap_or_default(), dir)?;
        let id = if tree.is_empty() { None } else { Some(writer.add_tree(&tree)?) };
        let (parent, name) = split_dir(dir);
        done.entry(parent).or_default().push((name, id));
    }
    let root = rebuild(bases.remove("").unwrap_or_default(), root_changes, done.remove("").unwrap_or_default(), "")?;
    writer.add_tree(&root)
}

/// One directory of [`apply_changes`]: its base tree with its direct changes, then its rebuilt
/// subdirectories (a subdirectory left empty is dropped).
fn rebuild(base: Tree, direct: Vec<(&str, Option<PathState>)>, subdirs: Vec<(&str, Option<TreeId>)>, dir: &str) -> Result<Tree> {
    let mut entries: HashMap<String, TreeEntry> = base.into_entries().into_iter().map(|e| (e.name.clone(), e)).collect();
    for (name, state) in direct {
        match state {
            Some((kind, id)) => entries.insert(name.to_string(), TreeEntry { name: name.to_string(), kind, id }),
            None => entries.remove(name),
        };
    }
    for (name, sub) in subdirs {
        match sub {
            Some(id) => {
                entries.insert(name.to_string(), TreeEntry { name: name.to_string(), kind: EntryKind::Tree, id: id.0 });
            }
            None if entries.get(name).is_some_and(|e| e.kind == EntryKind::Tree) => {
                entries.remove(name);
            }
            None => {}
        }
    }
    Tree::from_entries(entries.into_values().collect()).map_err(|e| StoreError::InvalidPath { path: dir.into(), reason: e.reason })
}

/// Every file of a snapshot, sorted by path bytes. Walks with an explicit stack (no recursion
/// on stored data); a snapshot whose paths exceed the limits is [`StoreError::TreeTooDeep`].
pub fn flatten(store: &ObjectStore, root: TreeId) -> Result<Vec<FileEntry>> {
    let mut out = Vec::new();
    // (tree, its path prefix with a trailing '/', the names in that prefix)
    let mut stack = vec![(root, String::new(), 0usize)];
    while let Some((tree, prefix, depth)) = stack.pop() {
        for entry in store.read_tree(&tree)?.into_entries() {
            let path = format!("{prefix}{}", entry.name);
            within_limits(root, depth + 1, path.len())?;
            if entry.kind == EntryKind::Tree {
                stack.push((TreeId(entry.id), format!("{path}/"), depth + 1));
            } else {
                out.push(FileEntry { path, kind: entry.kind, id: entry.id });
            }
        }
    }
    out.sort_unstable_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    Ok(out)
}

/// Fails with [`StoreError::TreeTooDeep`] when a path of `depth` names and `len` bytes under
/// the snapshot `root` exceeds the limits.
fn within_limits(root: TreeId, depth: usize, len: usize) -> Result<()> {
    check_path_limits(depth, len).map_err(|reason| StoreError::TreeTooDeep { tree: root.0, reason })
}

/// The shape of the tree `root` (see [`TreeShape`]), reading every tree under it once;
/// `memo` keeps the shapes of trees already measured (pass the same map to measure several
/// snapshots sharing subtrees). Iterative: any depth is measured without recursion.
pub fn tree_shape(store: &ObjectStore, root: TreeId, memo: &mut HashMap<TreeId, TreeShape>) -> Result<TreeShape> {
    // Each tree is pushed twice: unread (`None`), then read, after its unmeasured subtrees.
    let mut stack: Vec<(TreeId, Option<Tree>)> = vec![(root, None)];
    while let Some((id, tree)) = stack.pop() {
        if memo.contains_key(&id) {
            continue;
        }
        if id == Tree::empty_id() {
            memo.insert(id, TreeShape::default());
            continue;
        }
        match tree {
            None => {
                let tree = store.read_tree(&id)?;
                let unmeasured: Vec<TreeId> =
                    tree.entries().iter().filter(|e| e.kind == EntryKind::Tree && !memo.contains_key(&TreeId(e.id))).map(|e| TreeId(e.id)).collect();
                stack.push((id, Some(tree)));
                stack.extend(unmeasured.into_iter().map(|child| (child, None)));
            }
            Some(tree) => {
                let shape = TreeShape::of(&tree, |e| memo.get(&TreeId(e.id)).copied().unwrap_or_default());
                memo.insert(id, shape);
            }
        }
    }
    Ok(memo.get(&root).copied().unwrap_or_default())
}

/// Finds what `path` names in a snapshot: a file's blob or a directory's tree.
pub fn lookup(store: &ObjectStore, root: TreeId, path: &str) -> Result<Option<PathState>> {
    let mut current = (EntryKind::Tree, root.0);
    for name in path.split('/').filter(|c| !c.is_empty()) {
        if current.0 != EntryKind::Tree {
            return Ok(None);
        }
        match store.read_tree(&TreeId(current.1))?.get(name) {
            Some(entry) => current = (entry.kind, entry.id),
            None => return Ok(None),
        }
    }
    Ok(Some(current))
}

/// One changed file between two snapshots.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    /// The file's path.
    pub path: String,
    /// Its state before (`None`: added).
    pub old: Option<(EntryKind, ObjectId)>,
    /// Its state after (`None`: deleted).
    pub new: Option<(EntryKind, ObjectId)>,
}

/// The files that differ between snapshots `a` and `b` (either may be absent: empty), sorted by
/// path. Identical subtrees are skipped without being read. Walks with an explicit stack; a
/// differing path beyond the limits is [`StoreError::TreeTooDeep`].
pub fn diff_snapshots(store: &ObjectStore, a: Option<TreeId>, b: Option<TreeId>) -> Result<Vec<Change>> {
    let mut out = Vec::new();
    let (a, b) = (a.filter(|t| *t != Tree::empty_id()), b.filter(|t| *t != Tree::empty_id()));
    let root = b.or(a).unwrap_or_else(Tree::empty_id);
    let read = |t: Option<TreeId>| -> Result<Vec<TreeEntry>> { t.map_or(Ok(Vec::new()), |t| store.read_tree(&t).map(Tree::into_entries)) };
    // (old subtree, new subtree, their path prefix with a trailing '/', the names in it)
    let mut stack = vec![(a, b, String::new(), 0usize)];
    while let Some((a, b, prefix, depth)) = stack.pop() {
        if a == b {
            continue;
        }
        let (old, new) = (read(a)?, read(b)?);
        let (mut i, mut j) = (0, 0);
        while i < old.len() || j < new.len() {
            let order = match (old.get(i), new.get(j)) {
                (Some(x), Some(y)) => x.name.as_bytes().cmp(y.name.as_bytes()),
                (Some(_), None) => std::cmp::Ordering::Less,
                _ => std::cmp::Ordering::Greater,
            };
            let (x, y) = match order {
                std::cmp::Ordering::Less => (old.get(i), None),
                std::cmp::Ordering::Greater => (None, new.get(j)),
                std::cmp::Ordering::Equal => (old.get(i), new.get(j)),
            };
            if order != std::cmp::Ordering::Greater {
                i += 1;
            }
            if order != std::cmp::Ordering::Less {
                j += 1;
            }
            let name = x.or(y).map(|e| e.name.as_str()).unwrap_or_default();
            let path = format!("{prefix}{name}");
            within_limits(root, depth + 1, path.len())?;
            let subtree = |e: Option<&TreeEntry>| e.filter(|e| e.kind == EntryKind::Tree).map(|e| TreeId(e.id));
            let blob = |e: Option<&TreeEntry>| e.filter(|e| e.kind != EntryKind::Tree).map(|e| (e.kind, e.id));
            if subtree(x).is_some() || subtree(y).is_some() {
                stack.push((subtree(x), subtree(y), format!("{path}/"), depth + 1));
            }
            let (bx, by) = (blob(x), blob(y));
            if bx != by {
                out.push(Change { path, old: bx, new: by });
            }
        }
    }
    out.sort_unstable_by(|x, y| x.path.as_bytes().cmp(y.path.as_bytes()));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, content: &[u8]) -> FileEntry {
        FileEntry { path: path.into(), kind: EntryKind::File, id: muse_core::blob_id(content) }
    }

    #[test]
    fn build_update_flatten_and_diff_agree() {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectStore::create(dir.path()).unwrap();
        let mut files = vec![file("a.txt", b"1"), file("a/x", b"2"), file("a/b/y", b"3"), file("z", b"4")];
        files.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
        let mut w = store.begin_write().unwrap();
        let root = build_snapshot(&mut w, &files).unwrap();
        w.finish().unwrap();
        assert_eq!(flatten(&store, root).unwrap(), files);
        assert_eq!(lookup(&store, root, "a/b/y").unwrap(), Some((EntryKind::File, muse_core::blob_id(b"3"))));
        assert_eq!(lookup(&store, root, "a/b").unwrap().unwrap().0, EntryKind::Tree);
        assert_eq!(lookup(&store, root, "a/x/nope").unwrap(), None);

        let changes = vec![("a/b/y".to_string(), None), ("a/new".to_string(), Some((EntryKind::Executable, muse_core::blob_id(b"5"))))];
        let mut w = store.begin_write().unwrap();
        let updated = update_snapshot(&store, &mut w, root, &changes).unwrap();
        w.finish().unwrap();
        let mut expected = vec![
            file("a.txt", b"1"),
            file("a/x", b"2"),
            file("z", b"4"),
            FileEntry { path: "a/new".into(), kind: EntryKind::Executable, id: muse_core::blob_id(b"5") },
        ];
        expected.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
        assert_eq!(flatten(&store, updated).unwrap(), expected);
        let mut w = store.begin_write().unwrap();
        assert_eq!(build_snapshot(&mut w, &expected).unwrap(), updated, "the id is a function of the mapping alone");
        drop(w);
        let diff = diff_snapshots(&store, Some(root), Some(updated)).unwrap();
        let paths: Vec<&str> = diff.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, ["a/b/y", "a/new"]);
        assert_eq!(diff_snapshots(&store, None, Some(root)).unwrap().len(), 4);
    }

    #[test]
    fn deep_updates_need_no_recursion_and_limits_are_checked_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectStore::create(dir.path()).unwrap();
        let deep = format!("{}f", "d/".repeat(muse_core::MAX_TREE_DEPTH - 1));
        let mut w = store.begin_write().unwrap();
        let root = build_snapshot(&mut w, &[file("top", b"0")]).unwrap();
        w.finish().unwrap();
        let mut w = store.begin_write().unwrap();
        let changes = vec![(deep.clone(), Some((EntryKind::File, muse_core::blob_id(b"1")))), ("top".to_string(), None)];
        let updated = update_snapshot(&store, &mut w, root, &changes).unwrap();
        w.finish().unwrap();
        assert_eq!(flatten(&store, updated).unwrap(), vec![file(&deep, b"1")]);
        // Deleting the deep file removes every directory above it.
        let mut w = store.begin_write().unwrap();
        let emptied = update_snapshot(&store, &mut w, updated, &[(deep.clone(), None)]).unwrap();
        w.finish().unwrap();
        assert_eq!(emptied, Tree::empty_id());
        let too_deep = format!("d/{deep}");
        let mut w = store.begin_write().unwrap();
        let err = update_snapshot(&store, &mut w, root, &[(too_deep, None)]).unwrap_err();
        assert!(matches!(err, StoreError::InvalidPath { .. }), "{err}");
        assert!(w.is_empty(), "nothing written before the check");
    }
}
