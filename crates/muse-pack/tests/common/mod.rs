//! Test support: packs crafted byte by byte from `docs/mpack.md` alone (no use of the crate's
//! writer), small stores, and a closure check of a whole store.
#![allow(dead_code)]

use std::collections::HashSet;

use muse_core::{Commit, CommitId, EntryKind, ObjectId, Tree, TreeEntry, TreeId};
use muse_store::{ObjectKind, ObjectStore, Repository};

pub const BLOB: u8 = 1;
pub const TREE: u8 = 2;
pub const COMMIT: u8 = 3;

/// A pack under construction, byte by byte.
pub struct Craft {
    pub bytes: Vec<u8>,
    pub records: u64,
}

impl Craft {
    /// `\x89MPACK\r\n`, version 1, flags 0.
    pub fn new() -> Self {
        let mut bytes = b"\x89MPACK\r\n".to_vec();
        bytes.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0]);
        Craft { bytes, records: 0 }
    }

    /// An object record with an explicit payload.
    pub fn raw(mut self, kind: u8, id: ObjectId, base: Option<ObjectId>, size: u64, payload: &[u8]) -> Self {
        self.bytes.push(1);
        self.bytes.push(kind);
        self.bytes.push(if base.is_some() { 1 } else { 0 });
        self.bytes.extend_from_slice(id.as_bytes());
        if let Some(base) = base {
            self.bytes.extend_from_slice(base.as_bytes());
        }
        self.bytes.extend_from_slice(&size.to_be_bytes());
        self.bytes.extend_from_slice(&(payload.len() as u64).to_be_bytes());
        self.bytes.extend_from_slice(payload);
        self.records += 1;
        self
    }

    /// A whole object, zstd-compressed, declared under `id`.
    pub fn object(self, kind: u8, id: ObjectId, data: &[u8]) -> Self {
        let payload = zstd::bulk::compress(data, 3).unwrap();
        self.raw(kind, id, None, data.len() as u64, &payload)
    }

    /// A delta: `data` compressed with `base_data` as a raw prefix.
    pub fn delta(self, kind: u8, id: ObjectId, base: ObjectId, base_data: &[u8], data: &[u8]) -> Self {
        let mut cctx = zstd::zstd_safe::CCtx::create();
        cctx.ref_prefix(base_data).unwrap();
        let mut payload = Vec::with_capacity(zstd::zstd_safe::compress_bound(data.len()));
        cctx.compress2(&mut payload, data).unwrap();
        self.raw(kind, id, Some(base), data.len() as u64, &payload)
    }

    pub fn blob(self, data: &[u8]) -> Self {
        self.object(BLOB, ObjectId::of(data), data)
    }

    pub fn tree(self, tree: &Tree) -> Self {
        self.object(TREE, tree.id().0, &tree.encode())
    }

    pub fn commit(self, commit: &Commit) -> Self {
        self.object(COMMIT, commit.id().0, &commit.encode())
    }

    /// End record and trailer.
    pub fn finish(mut self) -> Vec<u8> {
        self.bytes.push(0);
        self.bytes.extend_from_slice(&self.records.to_be_bytes());
        let sum = ObjectId::of(&self.bytes);
        self.bytes.extend_from_slice(sum.as_bytes());
        self.bytes
    }
}

pub fn file(name: &str, data: &[u8]) -> TreeEntry {
    TreeEntry { name: name.into(), kind: EntryKind::File, id: ObjectId::of(data) }
}

pub fn entry(name: &str, kind: EntryKind, id: ObjectId) -> TreeEntry {
    TreeEntry { name: name.into(), kind, id }
}

pub fn tree(entries: Vec<TreeEntry>) -> Tree {
    Tree::from_entries(entries).unwrap()
}

pub fn commit(snapshot: TreeId, parents: Vec<CommitId>, message: &str) -> Commit {
    Commit {
        parents,
        snapshot,
        message: message.into(),
        author: "Ada <ada@example.com>".into(),
        committed_at: "2026-01-01T00:00:00Z".into(),
        ..Commit::default()
    }
}

/// A fresh object store in a temporary directory.
pub fn store() -> (tempfile::TempDir, ObjectStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = ObjectStore::open(&dir.path().join("objects")).unwrap();
    (dir, store)
}

/// Writes blobs, trees and a commit directly into a store.
pub fn write_all(store: &ObjectStore, blobs: &[&[u8]], trees: &[&Tree], commits: &[&Commit]) {
    let mut writer = store.begin_write().unwrap();
    for blob in blobs {
        writer.add(ObjectKind::Blob, blob).unwrap();
    }
    for tree in trees {
        writer.add_tree(tree).unwrap();
    }
    for commit in commits {
        writer.add_commit(commit).unwrap();
    }
    writer.finish().unwrap();
}

/// Every problem with the store's integrity: unreadable objects, and commits whose snapshot,
/// trees, blobs or parents are missing. Empty means sound.
pub fn closure_problems(store: &ObjectStore) -> Vec<String> {
    let mut problems = Vec::new();
    let mut good_trees = HashSet::new();
    for (id, kind) in store.all_objects().unwrap() {
        match kind {
            ObjectKind::Commit => match store.read_commit(&CommitId(id)) {
                Ok(commit) => {
                    check_tree(store, commit.snapshot, &mut good_trees, &mut problems);
                    for parent in commit.parents {
                        if store.kind(&parent.0).unwrap() != Some(ObjectKind::Commit) {
                            problems.push(format!("commit {id}: parent {parent} missing"));
                        }
                    }
                }
                Err(e) => problems.push(format!("commit {id}: {e}")),
            },
            ObjectKind::Tree => check_tree(store, TreeId(id), &mut good_trees, &mut problems),
            ObjectKind::Blob => {
                if let Err(e) = store.read(&id) {
                    problems.push(format!("blob {id}: {e}"));
                }
            }
        }
    }
    problems
}

fn check_tree(store: &ObjectStore, id: TreeId, good: &mut HashSet<TreeId>, problems: &mut Vec<String>) {
    if good.contains(&id) {
        return;
    }
    let tree = match store.read_tree(&id) {
        Ok(tree) => tree,
        Err(e) => return problems.push(format!("tree {id}: {e}")),
    };
    for e in tree.entries() {
        if e.kind.is_blob() {
            if store.kind(&e.id).unwrap() != Some(ObjectKind::Blob) {
                problems.push(format!("tree {id}: blob {} missing", e.id));
            }
        } else {
            check_tree(store, TreeId(e.id), good, problems);
        }
    }
    good.insert(id);
}

/// Opens a repository store for tests that need refs.
pub fn repo() -> (tempfile::TempDir, Repository) {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repository::init(&dir.path().join("r"), "main").unwrap();
    (dir, repo)
}
