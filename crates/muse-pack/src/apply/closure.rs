//! Reference checks: a tree is accepted only if every entry names an object accepted earlier in
//! the pack or already in the store, of the right kind; a commit only if its snapshot and every
//! parent are. Because an object in the store has its closure in the store (the store's rule),
//! these one-level checks give complete closures by induction over the pack's order.

use muse_core::{check_symlink_target, Commit, EntryKind, ObjectId, Tree, TreeId, TreeShape, MAX_SYMLINK_TARGET};
use muse_store::snapshot::tree_shape;
use muse_store::{ObjectKind, StoreError};

use super::{Applier, CappedVec};
use crate::error::Result;
use crate::format::ID_PREFIX_LEN;

/// Where a referenced object was found.
enum Found {
    /// Accepted in this pack, or in the store, with the expected kind.
    Present,
    /// Nowhere.
    Missing,
    /// In this pack, but rejected.
    Rejected,
    /// Present, but of another kind.
    WrongKind(ObjectKind),
}

impl Applier<'_> {
    fn find(&self, id: &ObjectId, expected: ObjectKind) -> Result<Found> {
        let kind = match self.slots.get(id) {
            Some(slot) if !slot.accepted => return Ok(Found::Rejected),
            Some(slot) => slot.kind,
            None => match self.store.kind(id)? {
                Some(kind) => kind,
                // A record that declared this id was rejected before its bytes could be trusted.
                None if self.rejected_prefixes.contains(&id.as_bytes()[..ID_PREFIX_LEN]) => return Ok(Found::Rejected),
                None => return Ok(Found::Missing),
            },
        };
        Ok(if kind == expected { Found::Present } else { Found::WrongKind(kind) })
    }

    /// Why a reference from a record (described by `what`, e.g. "its parent") fails, if it does.
    fn reference(&self, what: &str, id: &ObjectId, expected: ObjectKind) -> Result<Option<String>> {
        let kind = expected.as_str();
        Ok(match self.find(id, expected)? {
            Found::Present => None,
            Found::Missing => Some(format!("{what} {kind} {id} is neither earlier in the pack nor in the store")),
            Found::Rejected => Some(format!("{what} {kind} {id} was rejected")),
            Found::WrongKind(actual) => Some(format!("{what} {id} should be a {kind} but is a {}", actual.as_str())),
        })
    }

    /// Checks every entry of a received tree (and that every symlink entry names a blob that can
    /// be a symlink's target), then its shape: a tree holding a path beyond the limits
    /// (`MAX_TREE_DEPTH` names, `MAX_PATH_LEN` bytes) is rejected like any invalid record, and
    /// with it everything that depends on it. The shapes of accepted trees are remembered; a
    /// subtree from the store is measured once per apply.
    pub(super) fn check_tree(&self, id: &ObjectId, tree: &Tree) -> Result<std::result::Result<(), String>> {
        for entry in tree.entries() {
            let expected = if entry.kind.is_blob() { ObjectKind::Blob } else { ObjectKind::Tree };
            if let Some(reason) = self.reference(&format!("its entry '{}':", entry.name), &entry.id, expected)? {
                return Ok(Err(reason));
            }
            if entry.kind == EntryKind::Symlink {
                if let Err(reason) = self.symlink_target(&entry.id)? {
                    return Ok(Err(format!("its symlink '{}' names blob {}, which is not a valid symlink target: {reason}", entry.name, entry.id)));
                }
            }
        }
        let mut shapes = self.shapes.borrow_mut();
        for entry in tree.entries().iter().filter(|e| e.kind == EntryKind::Tree) {
            if !shapes.contains_key(&TreeId(entry.id)) {
                tree_shape(self.store, TreeId(entry.id), &mut shapes)?;
            }
        }
        let shape = TreeShape::of(tree, |e| shapes.get(&TreeId(e.id)).copied().unwrap_or_default());
        if let Err(reason) = shape.check() {
            return Ok(Err(reason));
        }
        shapes.insert(TreeId(*id), shape);
        Ok(Ok(()))
    }

    /// Whether present blob `id` can be a symlink's target.
    fn symlink_target(&self, id: &ObjectId) -> Result<std::result::Result<(), String>> {
        if let Some(slot) = self.slots.get(id) {
            return Ok(match slot.link_ok {
                true => Ok(()),
                false if slot.size > MAX_SYMLINK_TARGET as u64 => Err(format!("{} bytes long (at most {MAX_SYMLINK_TARGET})", slot.size)),
                false => Err("empty, or holding a NUL byte or bytes that are not UTF-8".into()),
            });
        }
        let mut capped = CappedVec::with_limit(MAX_SYMLINK_TARGET as u64);
        Ok(match self.store.read_into(id, &mut capped) {
            Ok(_) => check_symlink_target(&capped.data),
            Err(StoreError::Io { op: "write", .. }) if capped.full => Err(format!("longer than {MAX_SYMLINK_TARGET} bytes")),
            Err(e) => return Err(e.into()),
        })
    }

    /// Checks a received commit's snapshot and parents.
    pub(super) fn check_commit(&self, commit: &Commit) -> Result<std::result::Result<(), String>> {
        if let Some(reason) = self.reference("its snapshot", &commit.snapshot.0, ObjectKind::Tree)? {
            return Ok(Err(reason));
        }
        for parent in &commit.parents {
            if let Some(reason) = self.reference("its parent", &parent.0, ObjectKind::Commit)? {
                return Ok(Err(reason));
            }
        }
        Ok(Ok(()))
    }
}
