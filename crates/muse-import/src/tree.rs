//! Git trees → Muse trees, memoized by git tree id.
//!
//! Conversion runs in windows of commits, in two steps so that file contents can be hashed in
//! parallel in between: [`TreeConverter::collect`] decodes every git tree of a window that was
//! not converted before (children first) and lists the blobs never seen; once the caller has
//! hashed those, [`TreeConverter::build`] writes the Muse trees bottom-up. Gitlinks (submodules)
//! are skipped and counted, empty directories are dropped (Muse stores none), and names Muse
//! cannot store are skipped and reported, or refused under `strict_paths`.
//!
//! New blobs are grouped into chains, one per path: the versions a window adds at that path, in
//! history order, with the last earlier version as the base of the first. Each chain is then
//! compressed as deltas against its predecessors (see `blobs.rs`).

use gix::hashtable::{HashMap, HashSet};
use gix::ObjectId as GitId;
use muse_core::{check_path_limits, validate_name, EntryKind, Tree, TreeEntry, TreeId, TreeShape};

use crate::blobs::{Chain, ChainBase, Converted, UNKNOWN_DEPTH};
use crate::error::{ImportError, Result};
use crate::memo::Memo;
use crate::sink::Sink;
use crate::summary::Skips;
use muse_store::snapshot::tree_shape;
use muse_store::ObjectStore;

/// One entry of a decoded git tree that Muse can store.
struct PendingEntry {
    name: String,
    kind: EntryKind,
    id: GitId,
}

/// A git tree on the collection stack, with the index of the next entry to look at.
struct Frame {
    id: GitId,
    path: String,
    entries: Vec<PendingEntry>,
    next: usize,
}

/// The conversion state of one window of commits.
#[derive(Default)]
pub(crate) struct Window {
    /// Decoded trees not converted yet.
    pending: HashMap<GitId, Vec<PendingEntry>>,
    /// The pending trees, every tree after its subtrees.
    order: Vec<GitId>,
    /// Converted trees this window uses, with their shapes (`None`: empty once converted, so
    /// left out).
    trees: HashMap<GitId, Option<(TreeId, TreeShape)>>,
    /// Converted blobs this window uses.
    blobs: HashMap<GitId, Converted>,
    queued: HashSet<GitId>,
    /// Blobs to read and hash, grouped by path.
    pub chains: Vec<Chain>,
    chain_of_path: std::collections::HashMap<String, usize>,
}

impl Window {
    /// The Muse tree a converted git tree became (`None`: it was empty once converted).
    pub fn tree(&self, id: &GitId) -> Option<Option<TreeId>> {
        self.trees.get(id).map(|converted| converted.map(|(tree, _)| tree))
    }

    /// The shape of a converted git tree (see [`TreeShape`]; empty: the default).
    pub fn shape(&self, id: &GitId) -> Option<TreeShape> {
        self.trees.get(id).map(|converted| converted.map_or_else(TreeShape::default, |(_, shape)| shape))
    }
}

/// Paths remembered for delta bases before the map is reset (bounds its memory).
const MAX_REMEMBERED_PATHS: usize = 1 << 20;

/// Memoized git → Muse tree and blob ids, bounded in memory.
pub(crate) struct TreeConverter {
    trees: Memo<Option<(TreeId, TreeShape)>>,
    blobs: Memo<Converted>,
    /// The last blob seen at each path: the delta base for the next version there.
    last_at_path: std::collections::HashMap<String, GitId>,
    strict_paths: bool,
}

impl TreeConverter {
    /// A converter remembering up to about `2 × memo_capacity` trees and as many blobs.
    pub fn new(memo_capacity: usize, strict_paths: bool) -> Self {
        TreeConverter { trees: Memo::new(memo_capacity), blobs: Memo::new(memo_capacity), last_at_path: Default::default(), strict_paths }
    }

    /// Decodes the not-yet-converted trees under `root` (the tree of `commit`) into `window`.
    pub fn collect(&mut self, repo: &gix::Repository, root: GitId, commit: GitId, window: &mut Window, skips: &mut Skips) -> Result<()> {
        if self.is_resolved(root, window) {
            return Ok(());
        }
        let entries = self.decode(repo, root, "", commit, window, skips)?;
        let mut stack = vec![Frame { id: root, path: String::new(), entries, next: 0 }];
        while let Some(top) = stack.last_mut() {
            let child = top.entries[top.next..].iter().position(|e| e.kind == EntryKind::Tree).map(|i| top.next + i);
            let Some(index) = child else {
                let done = stack.pop().expect("the loop runs only while the stack has a frame");
                window.pending.insert(done.id, done.entries);
                window.order.push(done.id);
                continue;
            };
            top.next = index + 1;
            let entry = &top.entries[index];
            let (id, path) = (entry.id, format!("{}{}/", top.path, entry.name));
            if self.is_resolved(id, window) {
                continue;
            }
            if stack.iter().any(|f| f.id == id) {
                return Err(ImportError::CorruptObject { kind: "tree", id, reason: format!("it contains itself (at {path})") });
            }
            let entries = self.decode(repo, id, &path, commit, window, skips)?;
            stack.push(Frame { id, path, entries, next: 0 });
        }
        Ok(())
    }

    /// Teaches the memo how an earlier run converted a tree: `git_root` became `muse_root`.
    /// Walks both side by side, reading trees only, so that commits on top of an earlier import
    /// re-read only what changed. Blobs learnt this way never serve as delta bases (their depth
    /// in the store is unknown).
    pub fn seed(&mut self, repo: &gix::Repository, store: &ObjectStore, git_root: GitId, muse_root: TreeId) -> Result<()> {
        if muse_root == Tree::empty_id() {
            return Ok(());
        }
        let mut shapes = std::collections::HashMap::new();
        let mut stack = vec![(git_root, muse_root)];
        while let Some((git_id, muse_id)) = stack.pop() {
            if self.trees.get(&git_id).is_some() {
                continue;
            }
            let muse_tree = store.read_tree(&muse_id)?;
            let object = read_git_tree(repo, git_id, || "an imported commit".into())?;
            for entry in gix::objs::TreeRefIter::from_bytes(&object.data, gix::hash::Kind::Sha1) {
                let entry = entry.map_err(|e| ImportError::CorruptObject { kind: "tree", id: git_id, reason: format!("{e:#}") })?;
                let Some(converted) = std::str::from_utf8(entry.filename).ok().and_then(|name| muse_tree.get(name)) else { continue };
                let child = entry.oid.to_owned();
                if entry.mode.is_tree() && converted.kind == EntryKind::Tree {
                    stack.push((child, TreeId(converted.id)));
                } else if (entry.mode.is_blob() || entry.mode.is_link()) && converted.kind.is_blob() && self.blobs.get(&child).is_none() {
                    self.blobs.insert(child, (converted.id, UNKNOWN_DEPTH));
                }
            }
            let shape = tree_shape(store, muse_id, &mut shapes)?;
            self.trees.insert(git_id, Some((muse_id, shape)));
        }
        Ok(())
    }

    /// Whether `id` is converted or pending in `window`; a memo hit is pinned into the window so
    /// that it cannot be evicted before the window is built.
    fn is_resolved(&mut self, id: GitId, window: &mut Window) -> bool {
        if window.trees.contains_key(&id) || window.pending.contains_key(&id) {
            return true;
        }
        match self.trees.get(&id) {
            Some(converted) => {
                window.trees.insert(id, converted);
                true
            }
            None => false,
        }
    }

    /// Reads one git tree, keeping the entries Muse can store and queueing unseen blobs.
    fn decode(&mut self, repo: &gix::Repository, id: GitId, path: &str, commit: GitId, window: &mut Window, skips: &mut Skips) -> Result<Vec<PendingEntry>> {
        let needed_by = || if path.is_empty() { format!("commit {commit}") } else { format!("{path} in commit {commit}") };
        let object = read_git_tree(repo, id, needed_by)?;
        let mut entries = Vec::new();
        for entry in gix::objs::TreeRefIter::from_bytes(&object.data, gix::hash::Kind::Sha1) {
            let entry = entry.map_err(|e| ImportError::CorruptObject { kind: "tree", id, reason: format!("{e:#}") })?;
            let full_path = || format!("{path}{}", escape(entry.filename));
            let mode = entry.mode;
            let kind = if mode.is_tree() {
                EntryKind::Tree
            } else if mode.is_commit() {
                skips.submodule(full_path());
                continue;
            } else if mode.is_link() {
                EntryKind::Symlink
            } else if mode.is_blob() {
                if mode.is_executable() {
                    EntryKind::Executable
                } else {
                    EntryKind::File
                }
            } else {
                self.refuse(commit, full_path(), format!("unsupported git mode {mode:o}"), skips)?;
                continue;
            };
            let name = match std::str::from_utf8(entry.filename) {
                Ok(name) => name,
                Err(_) => {
                    self.refuse(commit, full_path(), "the name is not UTF-8".into(), skips)?;
                    continue;
                }
            };
            if let Err(e) = validate_name(name) {
                self.refuse(commit, full_path(), e.to_string(), skips)?;
                continue;
            }
            // Depth and length depend on where a tree sits, and trees are converted once
            // wherever they appear: a path beyond the limits cannot be skipped, only refused.
            if let Err(reason) = check_path_limits(path.matches('/').count() + 1, path.len() + name.len()) {
                return Err(ImportError::PathTooDeep { commit, path: full_path(), reason });
            }
            let git_id = entry.oid.to_owned();
            // A symlink's target must be storable (docs/formats.md §3), as for `muse commit`: an
            // entry whose target is not is an unstorable entry like an unstorable name.
            if kind == EntryKind::Symlink {
                if let Err(reason) = check_link_target(repo, git_id, || format!("{path}{name} in commit {commit}"))? {
                    self.refuse(commit, full_path(), format!("a symlink whose target Muse cannot store: {reason}"), skips)?;
                    continue;
                }
            }
            if kind.is_blob() {
                self.note_blob(git_id, format!("{path}{name}"), commit, window);
            }
            entries.push(PendingEntry { name: name.to_string(), kind, id: git_id });
        }
        Ok(entries)
    }

    /// Records a blob seen at `path`: pinned if converted before, else queued on the path's chain.
    fn note_blob(&mut self, id: GitId, path: String, commit: GitId, window: &mut Window) {
        let previous = self.last_at_path.get(&path).copied();
        if !window.blobs.contains_key(&id) && !window.queued.contains(&id) {
            match self.blobs.get(&id) {
                Some(converted) => {
                    window.blobs.insert(id, converted);
                }
                None => {
                    window.queued.insert(id);
                    let index = match window.chain_of_path.get(&path) {
                        Some(&index) => index,
                        None => {
                            let base = previous.and_then(|git| self.base(git, window));
                            window.chains.push(Chain { base, versions: Vec::new() });
                            window.chain_of_path.insert(path.clone(), window.chains.len() - 1);
                            window.chains.len() - 1
                        }
                    };
                    window.chains[index].versions.push((id, commit));
                }
            }
        }
        if self.last_at_path.len() >= MAX_REMEMBERED_PATHS && !self.last_at_path.contains_key(&path) {
            self.last_at_path.clear();
        }
        self.last_at_path.insert(path, id);
    }

    /// The converted blob `git` as a delta base, if its depth in the store is known.
    fn base(&mut self, git: GitId, window: &Window) -> Option<ChainBase> {
        let (muse, depth) = window.blobs.get(&git).copied().or_else(|| self.blobs.get(&git))?;
        (depth != UNKNOWN_DEPTH).then_some(ChainBase { git, muse, depth })
    }

    /// The depth in the store of a blob converted earlier (`None` if forgotten).
    pub fn depth_of(&mut self, git: &GitId, window: &Window) -> Option<u8> {
        window.blobs.get(git).map(|c| c.1).or_else(|| self.blobs.get(git).map(|c| c.1))
    }

    fn refuse(&self, commit: GitId, path: String, reason: String, skips: &mut Skips) -> Result<()> {
        if self.strict_paths {
            return Err(ImportError::InvalidPath { commit, path, reason });
        }
        skips.invalid_path(commit, path, reason);
        Ok(())
    }

    /// Records the Muse id of a blob read for `window`, and its delta depth in the store
    /// ([`UNKNOWN_DEPTH`] when this run did not write it).
    pub fn blob_converted(&mut self, git: GitId, converted: Converted, window: &mut Window) {
        window.blobs.insert(git, converted);
        self.blobs.insert(git, converted);
    }

    /// Converts and writes the window's pending trees, subtrees first.
    pub fn build(&mut self, window: &mut Window, sink: &mut Sink<'_>) -> Result<()> {
        for id in std::mem::take(&mut window.order) {
            let entries = window.pending.remove(&id).expect("every ordered tree is pending");
            let mut converted = Vec::with_capacity(entries.len());
            let mut shapes = std::collections::HashMap::new();
            for entry in entries {
                let target = if entry.kind == EntryKind::Tree {
                    match window.trees.get(&entry.id).copied().expect("subtrees are converted before their parents") {
                        Some((tree, shape)) => {
                            shapes.insert(tree.0, shape);
                            tree.0
                        }
                        None => continue,
                    }
                } else {
                    window.blobs.get(&entry.id).expect("blobs are hashed before trees are built").0
                };
                converted.push(TreeEntry { name: entry.name, kind: entry.kind, id: target });
            }
            let muse = if converted.is_empty() {
                None
            } else {
                let tree = Tree::from_entries(converted).map_err(|e| ImportError::CorruptObject { kind: "tree", id, reason: e.reason })?;
                let shape = TreeShape::of(&tree, |e| shapes.get(&e.id).copied().unwrap_or_default());
                Some((sink.add_tree(&tree)?, shape))
            };
            window.trees.insert(id, muse);
            self.trees.insert(id, muse);
        }
        Ok(())
    }
}

/// Checks the target of a git symlink against the rule of `muse commit`
/// ([`muse_core::check_symlink_target`]): `Ok(Err(reason))` when it breaks it. A blob too long
/// to be a target is judged by its header, without reading it.
fn check_link_target(repo: &gix::Repository, id: GitId, needed_by: impl FnOnce() -> String) -> Result<std::result::Result<(), String>> {
    let header = repo.try_find_header(id).map_err(|e| ImportError::git(format!("read blob {id}"), e))?;
    let header = header.ok_or_else(|| ImportError::MissingObject { kind: "blob", id, needed_by: needed_by() })?;
    if header.size() > muse_core::MAX_SYMLINK_TARGET as u64 {
        return Ok(Err(format!("its target is {} bytes long (at most {})", header.size(), muse_core::MAX_SYMLINK_TARGET)));
    }
    let object = repo.try_find_object(id).map_err(|e| ImportError::git(format!("read blob {id}"), e))?;
    let object = object.ok_or_else(|| ImportError::MissingObject { kind: "blob", id, needed_by: String::new() })?;
    crate::commit::verify(&object, "blob")?;
    Ok(muse_core::check_symlink_target(&object.data))
}

/// Reads and checks one git tree; `needed_by` names what refers to it, for the error.
fn read_git_tree<'r>(repo: &'r gix::Repository, id: GitId, needed_by: impl FnOnce() -> String) -> Result<gix::Object<'r>> {
    let object = repo.try_find_object(id).map_err(|e| ImportError::git(format!("read tree {id}"), e))?;
    let object = object.ok_or_else(|| ImportError::MissingObject { kind: "tree", id, needed_by: needed_by() })?;
    crate::commit::verify(&object, "tree")?;
    Ok(object)
}

/// A path's bytes as text, with every byte that is not part of valid UTF-8 written `\xNN`.
pub(crate) fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_keeps_utf8_and_marks_other_bytes() {
        assert_eq!(escape("dir/é.txt".as_bytes()), "dir/é.txt");
        assert_eq!(escape(b"caf\xe9.txt"), "caf\\xe9.txt");
    }
}
