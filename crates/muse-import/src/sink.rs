//! Where converted objects go: one open pack at a time, published every few thousand commits.
//!
//! Objects are written with [`PackWriter::add_raw`] so that the common case, a fresh import,
//! never asks the store whether an object exists (a miss rescans the pack directory). Objects
//! written by this run are remembered by a 64-bit id prefix; a hit is confirmed with the store,
//! so a prefix collision costs one lookup and never skips an object. When the store held packs
//! before the run, objects are also looked up there, so a re-import writes nothing twice.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use gix::ObjectId as GitId;
use muse_core::{Commit, CommitId, ObjectId, Tree, TreeId};
use muse_store::odb::{compress, Encoding};
use muse_store::{ObjectKind, ObjectStore, PackWriter, StoreError};

use crate::error::Result;

/// A hasher for keys that are already uniformly distributed (prefixes of SHA-256 ids).
#[derive(Default)]
struct PrefixHasher(u64);

impl Hasher for PrefixHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes.iter().take(8) {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Counts of what a run wrote.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct WriteStats {
    pub blobs: u64,
    pub trees: u64,
    pub commits: u64,
    /// Compressed payload bytes appended to packs.
    pub bytes: u64,
}

/// The open pack and what this run has written.
pub(crate) struct Sink<'a> {
    store: &'a ObjectStore,
    writer: Option<PackWriter<'a>>,
    written: HashSet<u64, BuildHasherDefault<PrefixHasher>>,
    check_store: bool,
    /// Commits in the open pack, to record in the map once it is published.
    pack_commits: Vec<(GitId, CommitId)>,
    pub stats: WriteStats,
}

fn prefix(id: &ObjectId) -> u64 {
    let bytes = id.as_bytes();
    u64::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7]])
}

impl<'a> Sink<'a> {
    /// A sink writing into `store`; `check_store` makes it skip objects the store already has.
    pub fn new(store: &'a ObjectStore, check_store: bool) -> Self {
        Sink { store, writer: None, written: HashSet::default(), check_store, pack_commits: Vec::new(), stats: WriteStats::default() }
    }

    /// Whether objects are looked up in the store before being written.
    pub fn checks_store(&self) -> bool {
        self.check_store
    }

    fn writer(&mut self) -> Result<&mut PackWriter<'a>> {
        if self.writer.is_none() {
            self.writer = Some(self.store.begin_write()?);
        }
        Ok(self.writer.as_mut().expect("the writer was just created"))
    }

    /// Whether `id` is already written (by this run, or before it when the store is checked).
    fn has(&mut self, kind: ObjectKind, id: &ObjectId) -> Result<bool> {
        if self.written.contains(&prefix(id)) {
            return Ok(!self.writer()?.needs(kind, id)?);
        }
        Ok(self.check_store && self.store.contains_kind(id, kind)?)
    }

    fn put(&mut self, kind: ObjectKind, id: ObjectId, encoding: Encoding, size: u64, payload: &[u8]) -> Result<()> {
        self.writer()?.add_raw(kind, id, encoding, size, payload)?;
        self.written.insert(prefix(&id));
        self.stats.bytes += payload.len() as u64;
        match kind {
            ObjectKind::Blob => self.stats.blobs += 1,
            ObjectKind::Tree => self.stats.trees += 1,
            ObjectKind::Commit => self.stats.commits += 1,
        }
        Ok(())
    }

    /// Adds a blob compressed by a worker (`size` bytes hashing to `id`, in `encoding`; a delta
    /// base must already be in the store or in this pack). Returns whether it was written (not
    /// already there).
    pub fn add_blob(&mut self, id: ObjectId, size: u64, encoding: Encoding, payload: &[u8]) -> Result<bool> {
        if self.has(ObjectKind::Blob, &id)? {
            return Ok(false);
        }
        self.put(ObjectKind::Blob, id, encoding, size, payload)?;
        Ok(true)
    }

    /// Adds a tree; returns its id.
    pub fn add_tree(&mut self, tree: &Tree) -> Result<TreeId> {
        let bytes = tree.encode();
        let id = ObjectId::sha256(&bytes);
        if !self.has(ObjectKind::Tree, &id)? {
            self.put(ObjectKind::Tree, id, Encoding::Zstd, bytes.len() as u64, &compress(&bytes))?;
        }
        Ok(TreeId(id))
    }

    /// Adds the commit converted from git commit `git`; returns its id.
    pub fn add_commit(&mut self, git: GitId, commit: &Commit) -> Result<CommitId> {
        commit.validate().map_err(StoreError::InvalidCommit)?;
        let id = commit.id();
        if !self.has(ObjectKind::Commit, &id.0)? {
            let bytes = commit.encode();
            self.put(ObjectKind::Commit, id.0, Encoding::Zstd, bytes.len() as u64, &compress(&bytes))?;
        }
        self.pack_commits.push((git, id));
        Ok(id)
    }

    /// The number of commits in the open pack.
    pub fn pending_commits(&self) -> usize {
        self.pack_commits.len()
    }

    /// Publishes the open pack (durable and visible at once); returns the commits it holds.
    pub fn publish(&mut self) -> Result<Vec<(GitId, CommitId)>> {
        if let Some(writer) = self.writer.take() {
            writer.finish()?;
        }
        Ok(std::mem::take(&mut self.pack_commits))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_written_once_and_published_together() {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectStore::create(dir.path()).unwrap();
        let mut sink = Sink::new(&store, false);
        let data = b"content";
        let id = muse_core::blob_id(data);
        assert!(sink.add_blob(id, data.len() as u64, Encoding::Zstd, &compress(data)).unwrap());
        assert!(!sink.add_blob(id, data.len() as u64, Encoding::Zstd, &compress(data)).unwrap());
        let tree = Tree::from_entries(vec![muse_core::TreeEntry { name: "f".into(), kind: muse_core::EntryKind::File, id }]).unwrap();
        let tree_id = sink.add_tree(&tree).unwrap();
        let commit = Commit { snapshot: tree_id, committed_at: "2026-01-01T00:00:00Z".into(), ..Commit::default() };
        let git = GitId::from_bytes_or_panic(&[1; 20]);
        let commit_id = sink.add_commit(git, &commit).unwrap();
        assert!(!store.contains(&commit_id.0).unwrap());
        assert_eq!(sink.publish().unwrap(), [(git, commit_id)]);
        assert_eq!(store.read_commit(&commit_id).unwrap(), commit);
        assert_eq!(store.read(&id).unwrap().data, data);
        assert_eq!((sink.stats.blobs, sink.stats.trees, sink.stats.commits), (1, 1, 1));

        let mut rerun = Sink::new(&store, true);
        rerun.add_tree(&tree).unwrap();
        rerun.add_commit(git, &commit).unwrap();
        assert_eq!(rerun.stats.trees + rerun.stats.commits, 0);
        assert_eq!(rerun.publish().unwrap().len(), 1);
    }
}
