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
    /// `\x89MPACK\r\n`, version 2, flags 0.
    pub fn new() -> Self {
        let mut bytes = b"\x89MPACK\r\n".to_vec();
        bytes.extend_from_slice(&[0, 0, 0, 2, 0, 0, 0, 0]);
        Craft { bytes, records: 0 }
    }

    /// An object record declaring `id` (its first 8 bytes) with an explicit payload; `base` names
    /// a delta base by id.
    pub fn raw(self, kind: u8, id: ObjectId, base: Option<ObjectId>, size: u64, payload: &[u8]) -> Self {
        let (tag, base_bytes) = match base {
            Some(base) => (kind | 1 << 4, base.as_bytes().to_vec()),
            None => (kind, Vec::new()),
        };
        self.record(tag, id, &base_bytes, size, payload)
    }

    /// A record with an explicit tag byte and base field (an id, a varint distance, or nothing).
    pub fn record(mut self, tag: u8, id: ObjectId, base: &[u8], size: u64, payload: &[u8]) -> Self {
        self.bytes.push(tag);
        self.bytes.extend_from_slice(&id.as_bytes()[..8]);
        self.bytes.extend_from_slice(base);
        self.bytes.extend_from_slice(&varint(size));
        self.bytes.extend_from_slice(&varint(payload.len() as u64));
        self.bytes.extend_from_slice(payload);
        self.records += 1;
        self
    }

    /// A whole object, zstd-compressed, declared under `id`.
    pub fn object(self, kind: u8, id: ObjectId, data: &[u8]) -> Self {
        let payload = zstd::bulk::compress(data, 3).unwrap();
        self.raw(kind, id, None, data.len() as u64, &payload)
    }

    /// A delta: `data` compressed with `base_data` as a raw prefix, base named by id.
    pub fn delta(self, kind: u8, id: ObjectId, base: ObjectId, base_data: &[u8], data: &[u8]) -> Self {
        let payload = delta_frame(base_data, data);
        self.raw(kind, id, Some(base), data.len() as u64, &payload)
    }

    /// A delta whose base is the record `distance` records back.
    pub fn delta_back(self, kind: u8, id: ObjectId, distance: u64, base_data: &[u8], data: &[u8]) -> Self {
        let payload = delta_frame(base_data, data);
        self.record(kind | 2 << 4, id, &varint(distance), data.len() as u64, &payload)
    }

    pub fn blob(self, data: &[u8]) -> Self {
        self.object(BLOB, muse_core::blob_id(data), data)
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
        let sum = ObjectId::sha256(&self.bytes);
        self.bytes.extend_from_slice(sum.as_bytes());
        self.bytes
    }
}

/// One zstd frame of `data` compressed against `base_data` as a raw-content prefix.
pub fn delta_frame(base_data: &[u8], data: &[u8]) -> Vec<u8> {
    let mut cctx = zstd::zstd_safe::CCtx::create();
    cctx.ref_prefix(base_data).unwrap();
    let mut payload = Vec::with_capacity(zstd::zstd_safe::compress_bound(data.len()));
    cctx.compress2(&mut payload, data).unwrap();
    payload
}

/// Unsigned LEB128, as docs/mpack.md specifies.
pub fn varint(mut value: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

pub fn file(name: &str, data: &[u8]) -> TreeEntry {
    TreeEntry { name: name.into(), kind: EntryKind::File, id: muse_core::blob_id(data) }
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
    let store = ObjectStore::create(&dir.path().join("objects")).unwrap();
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

/// Writes the nested trees of `files` (path → bytes; paths use `/`) and their blobs into
/// `writer`; returns the root tree.
pub fn write_snapshot(writer: &mut muse_store::PackWriter<'_>, files: &std::collections::BTreeMap<String, Vec<u8>>) -> TreeId {
    let mut entries = Vec::new();
    let mut dirs: std::collections::BTreeMap<String, std::collections::BTreeMap<String, Vec<u8>>> = Default::default();
    for (path, data) in files {
        match path.split_once('/') {
            Some((dir, rest)) => {
                dirs.entry(dir.to_string()).or_default().insert(rest.to_string(), data.clone());
            }
            None => entries.push(entry(path, EntryKind::File, writer.add(ObjectKind::Blob, data).unwrap())),
        }
    }
    for (dir, sub) in dirs {
        let id = write_snapshot(writer, &sub);
        entries.push(entry(&dir, EntryKind::Tree, id.0));
    }
    writer.add_tree(&tree(entries)).unwrap()
}

/// A random-ish history: each step picks parents among earlier commits and edits some files.
#[derive(Debug, Clone)]
pub struct Step {
    /// Indices (modulo the commits so far) of the parents; empty for a root.
    pub parents: Vec<usize>,
    /// (path index, operation, seed): operation 0 appends, 1 rewrites, 2 deletes.
    pub edits: Vec<(usize, u8, u8)>,
}

pub const PATHS: &[&str] = &["README", "src/lib.rs", "src/main.rs", "src/util/mod.rs", "docs/a.md", "docs/b.md", "bin.dat", "src/src/lib.rs", "docs/docs/a.md"];

/// Writes the history into `store` (one pack per commit); returns the commit ids in order.
pub fn write_history(store: &ObjectStore, steps: &[Step]) -> Vec<CommitId> {
    let mut ids: Vec<CommitId> = Vec::new();
    let mut states: Vec<std::collections::BTreeMap<String, Vec<u8>>> = Vec::new();
    for (n, step) in steps.iter().enumerate() {
        let mut parents: Vec<usize> = if ids.is_empty() { vec![] } else { step.parents.iter().map(|p| p % ids.len()).collect() };
        parents.dedup();
        let mut files = parents.first().map(|p| states[*p].clone()).unwrap_or_default();
        for (path, op, seed) in &step.edits {
            let path = PATHS[path % PATHS.len()].to_string();
            let line = format!("line {seed} of commit {n}: {}\n", "lorem ipsum dolor sit amet ".repeat(*seed as usize % 5 + 1));
            match op % 3 {
                0 => files.entry(path).or_default().extend_from_slice(line.as_bytes()),
                1 => {
                    files.insert(path, line.repeat(*seed as usize % 7 + 1).into_bytes());
                }
                _ => {
                    files.remove(&path);
                }
            }
        }
        let mut writer = store.begin_write().unwrap();
        let root = write_snapshot(&mut writer, &files);
        let c = commit(root, parents.iter().map(|p| ids[*p]).collect(), &format!("commit {n}"));
        ids.push(writer.add_commit(&c).unwrap());
        writer.finish().unwrap();
        states.push(files);
    }
    ids
}

/// Every object reachable from `tips`, as the test understands reachability.
pub fn reachable(store: &ObjectStore, tips: &[CommitId]) -> HashSet<ObjectId> {
    let mut seen = HashSet::new();
    let mut commits: Vec<CommitId> = tips.to_vec();
    let mut trees: Vec<TreeId> = Vec::new();
    while let Some(id) = commits.pop() {
        if seen.insert(id.0) {
            let c = store.read_commit(&id).unwrap();
            trees.push(c.snapshot);
            commits.extend(c.parents);
        }
    }
    while let Some(id) = trees.pop() {
        if seen.insert(id.0) {
            for e in store.read_tree(&id).unwrap().entries() {
                if e.kind.is_blob() {
                    seen.insert(e.id);
                } else {
                    trees.push(TreeId(e.id));
                }
            }
        }
    }
    seen
}
