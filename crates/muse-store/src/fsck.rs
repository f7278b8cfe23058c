//! `fsck`: checks every pack, every object's hash (by the kind rule) and encoding, the closure of
//! every commit (snapshot trees, blobs of the right kind, symlink targets, parents), that every
//! snapshot is within the path limits (`MAX_TREE_DEPTH`, `MAX_PATH_LEN`), every ref and HEAD, and
//! the history index (`crate::index`).

use std::collections::{HashMap, HashSet};

use muse_core::{CommitId, EntryKind, ObjectId, Tree, TreeId};
use rayon::prelude::*;

use crate::error::Result;
use crate::odb::ObjectKind;
use crate::snapshot::tree_shape;
use crate::store::{Head, Store};

/// One problem found by [`fsck`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// What is affected: an object id, a ref name or a file.
    pub subject: String,
    /// What is wrong.
    pub message: String,
}

/// The result of [`fsck`].
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct FsckReport {
    /// Objects checked.
    pub objects: usize,
    /// Commits whose closure was checked.
    pub commits: usize,
    /// Packs checked.
    pub packs: usize,
    /// Refs checked.
    pub refs: usize,
    /// Problems found; empty means the store is sound.
    pub problems: Vec<Problem>,
    /// Leftover temporary files of interrupted writes (harmless; removed by `muse gc`).
    pub leftover_temp_files: usize,
}

/// Checks the whole store. Read-only: it reports, it does not repair.
pub fn fsck(repo: &Store) -> Result<FsckReport> {
    let store = repo.objects();
    let mut report = FsckReport::default();
    let mut problems = Vec::new();
    for (path, reason) in store.verify_packs()? {
        problems.push(Problem { subject: path.display().to_string(), message: reason });
    }
    report.packs = store.packs()?.len();
    let listing = store.list_objects()?;
    for (id, reason) in listing.damaged {
        problems.push(Problem { subject: id.to_string(), message: reason });
    }
    let objects = listing.objects;
    report.objects = objects.len();
    let bad: Vec<Problem> = objects
        .par_iter()
        .filter_map(|(id, kind)| {
            let result = match kind {
                ObjectKind::Commit => store.read_commit(&CommitId(*id)).map(drop),
                ObjectKind::Tree => store.read_tree(&TreeId(*id)).map(drop),
                ObjectKind::Blob => store.read_into(id, &mut std::io::sink()).map(drop),
            };
            result.err().map(|e| Problem { subject: id.to_string(), message: e.to_string() })
        })
        .collect();
    let broken: HashSet<String> = bad.iter().map(|p| p.subject.clone()).collect();
    problems.extend(bad);

    // Closure of every commit: parents, snapshot, every tree and blob under it.
    let mut checked_trees: HashSet<ObjectId> = HashSet::new();
    let mut shapes = HashMap::new();
    for (id, kind) in &objects {
        if *kind != ObjectKind::Commit || broken.contains(&id.to_string()) {
            continue;
        }
        report.commits += 1;
        let Ok(commit) = store.read_commit(&CommitId(*id)) else {
            continue;
        };
        for parent in &commit.parents {
            if store.kind(&parent.0).ok().flatten() != Some(ObjectKind::Commit) {
                problems.push(Problem { subject: id.to_string(), message: format!("parent {parent} is missing") });
            }
        }
        check_tree(repo, commit.snapshot, &mut checked_trees, id, &mut problems);
        // Unreadable trees were reported just above; a readable snapshot must be within limits.
        if let Ok(shape) = tree_shape(store, commit.snapshot, &mut shapes) {
            if let Err(reason) = shape.check() {
                problems.push(Problem { subject: id.to_string(), message: format!("snapshot tree {}: {reason}", commit.snapshot) });
            }
        }
    }

    let mut check_target = |name: String, target: CommitId, problems: &mut Vec<Problem>| {
        report.refs += 1;
        if store.kind(&target.0).ok().flatten() != Some(ObjectKind::Commit) {
            problems.push(Problem { subject: name, message: format!("points at {target}, which is not a commit in the store") });
        }
    };
    for prefix in ["refs/heads/", "refs/tags/", "refs/remotes/"] {
        for name in repo.refs().names(prefix)? {
            match repo.refs().read(&name) {
                Ok(Some(target)) => check_target(name.to_string(), target, &mut problems),
                Ok(None) => {}
                Err(e) => problems.push(Problem { subject: name.to_string(), message: e.to_string() }),
            }
        }
    }
    for (wc, head) in repo.heads()? {
        let label = wc.name.as_ref().map_or_else(|| "HEAD".to_string(), |n| format!("HEAD of workspace {n}"));
        match head {
            Ok(Head::Detached(id)) => check_target(label, id, &mut problems),
            Ok(Head::Branch(_)) => {}
            Err(e) => problems.push(Problem { subject: label, message: format!("{e} (working copy {})", wc.path.display()) }),
        }
    }
    for (path, reason) in crate::index::HistoryIndex::check(repo)? {
        problems.push(Problem {
            subject: path.display().to_string(),
            message: format!("{reason} (the history index is derived data: `muse index rebuild` writes it anew)"),
        });
    }
    report.leftover_temp_files = repo.leftover_temp_files()?.len();
    report.problems = problems;
    Ok(report)
}

/// Whether blob `id` can be a symlink's target (`muse_core::check_symlink_target`).
fn symlink_target_ok(repo: &Store, id: &ObjectId) -> std::result::Result<(), String> {
    let mut target = Vec::new();
    let mut capped = CappedWriter { out: &mut target, left: muse_core::MAX_SYMLINK_TARGET + 1 };
    match repo.objects().read_into(id, &mut capped) {
        Ok(_) => muse_core::check_symlink_target(&target),
        Err(_) if capped.left == 0 => Err(format!("its target is longer than {} bytes", muse_core::MAX_SYMLINK_TARGET)),
        // An unreadable blob is reported by the object checks.
        Err(_) => Ok(()),
    }
}

/// Collects at most `left` bytes, then fails.
struct CappedWriter<'a> {
    out: &'a mut Vec<u8>,
    left: usize,
}

impl std::io::Write for CappedWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.left);
        self.out.extend_from_slice(&buf[..n]);
        self.left -= n;
        if n < buf.len() {
            return Err(std::io::Error::other("symlink target too long"));
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn check_tree(repo: &Store, root: TreeId, checked: &mut HashSet<ObjectId>, commit: &ObjectId, problems: &mut Vec<Problem>) {
    let mut stack = vec![root];
    while let Some(tree_id) = stack.pop() {
        if !checked.insert(tree_id.0) || tree_id == Tree::empty_id() && !repo.objects().contains(&tree_id.0).unwrap_or(false) {
            continue;
        }
        let tree = match repo.objects().read_tree(&tree_id) {
            Ok(tree) => tree,
            Err(e) => {
                problems.push(Problem { subject: commit.to_string(), message: format!("snapshot tree {tree_id}: {e}") });
                continue;
            }
        };
        for entry in tree.entries() {
            if entry.kind == EntryKind::Tree {
                stack.push(TreeId(entry.id));
                continue;
            }
            let first_visit = checked.insert(entry.id);
            let kind = repo.objects().kind(&entry.id).ok().flatten();
            if first_visit && kind != Some(ObjectKind::Blob) {
                let what = kind.map_or_else(|| "is missing".to_string(), |k| format!("is a {k}, not a blob"));
                problems.push(Problem { subject: commit.to_string(), message: format!("blob {} ({}) {what}", entry.id, entry.name) });
            } else if entry.kind == EntryKind::Symlink && kind == Some(ObjectKind::Blob) {
                if let Err(reason) = symlink_target_ok(repo, &entry.id) {
                    problems.push(Problem { subject: commit.to_string(), message: format!("symlink {} in tree {tree_id} is invalid: {reason}", entry.name) });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use muse_core::{Commit, TreeEntry};

    use super::*;
    use crate::refs::RefName;
    use crate::Repository;

    /// A store that holds a symlink to an empty target (written below every check that would
    /// refuse it) is reported, naming the link; a valid one is not.
    #[test]
    fn invalid_symlink_targets_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path(), "main").unwrap();
        let mut writer = repo.objects().begin_write().unwrap();
        let empty = writer.add(ObjectKind::Blob, b"").unwrap();
        let fine = writer.add(ObjectKind::Blob, b"target").unwrap();
        let link = |name: &str, id| TreeEntry { name: name.into(), kind: EntryKind::Symlink, id };
        let root = writer.add_tree(&Tree::from_entries(vec![link("bad", empty), link("good", fine)]).unwrap()).unwrap();
        let commit = writer.add_commit(&Commit { snapshot: root, committed_at: "2026-01-01T00:00:00Z".into(), ..Commit::default() }).unwrap();
        writer.finish().unwrap();
        repo.refs().compare_and_swap(&RefName::branch("main").unwrap(), None, Some(commit)).unwrap();
        let report = fsck(&repo).unwrap();
        assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
        assert!(report.problems[0].message.contains("symlink bad") && report.problems[0].message.contains("empty"), "{:?}", report.problems);
    }
}
