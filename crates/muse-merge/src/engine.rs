//! Merging commits: the merge base on the DAG, a virtual base for criss-cross histories, then
//! the tree merge; and the picks (cherry-pick, revert) that are tree merges with a chosen base.

use muse_core::{CommitId, Tree, TreeId};
use muse_store::Store;

use crate::bases::merge_bases;
use crate::lines::Labels;
use crate::tree::{merge_trees, Options, TreeMerge};
use crate::Result;

/// How deep virtual bases nest: merging two bases that themselves have several bases, and so
/// on. Below this depth the oldest base stands for the virtual one (history would need more
/// than this many nested criss-crosses to reach it).
pub const MAX_VIRTUAL_DEPTH: usize = 8;

/// A merge of two commits.
#[derive(Debug, Clone)]
pub struct CommitMerge {
    /// The merge bases used (all lowest common ancestors, oldest first; empty for unrelated
    /// histories, merged from the empty tree).
    pub bases: Vec<CommitId>,
    /// The base tree: the one base's, or the virtual base merged from several.
    pub base_tree: TreeId,
    /// The merged tree and its conflicts.
    pub merge: TreeMerge,
}

fn tree_of(store: &Store, id: CommitId) -> Result<TreeId> {
    Ok(store.objects().read_commit(&id)?.snapshot)
}

/// Merges `theirs` into `ours` over their merge base(s). With several bases (a criss-cross),
/// the bases are merged first, oldest first, into a virtual base, each pair over its own merge
/// bases (as git's merge-ort does; nesting is bounded by [`MAX_VIRTUAL_DEPTH`]); conflicts
/// inside the virtual base stay as marker text. New objects are written and published.
pub fn merge_commits(store: &Store, ours: CommitId, theirs: CommitId, labels: &Labels, options: Options<'_>) -> Result<CommitMerge> {
    let bases = merge_bases(store, ours, theirs)?;
    let base_tree = virtual_base(store, &bases, options, 0)?;
    let merge = merge_tree_objects(store, base_tree, tree_of(store, ours)?, tree_of(store, theirs)?, labels, options)?;
    Ok(CommitMerge { bases, base_tree, merge })
}

/// [`merge_trees`] with its own pack, published before returning (so the tree can be read).
pub fn merge_tree_objects(store: &Store, base: TreeId, ours: TreeId, theirs: TreeId, labels: &Labels, options: Options<'_>) -> Result<TreeMerge> {
    let mut writer = store.objects().begin_write()?;
    let merge = merge_trees(store, &mut writer, base, ours, theirs, labels, options)?;
    if !writer.is_empty() {
        writer.finish()?;
    }
    Ok(merge)
}

/// The base tree for `bases`: the empty tree for none, the one base's tree, or the bases merged
/// into one (oldest first).
fn virtual_base(store: &Store, bases: &[CommitId], options: Options<'_>, depth: usize) -> Result<TreeId> {
    let Some((&first, rest)) = bases.split_first() else { return Ok(Tree::empty_id()) };
    let mut tree = tree_of(store, first)?;
    if depth >= MAX_VIRTUAL_DEPTH {
        return Ok(tree);
    }
    let inner = Options { virtual_base: true, ..options };
    for (i, &next) in rest.iter().enumerate() {
        let labels = Labels {
            base: "merged common ancestors".into(),
            ours: format!("Temporary merge branch {}", i + 1),
            theirs: format!("Temporary merge branch {}", i + 2),
        };
        let inner_bases = merge_bases(store, first, next)?;
        let inner_base = virtual_base(store, &inner_bases, options, depth + 1)?;
        tree = merge_tree_objects(store, inner_base, tree, tree_of(store, next)?, &labels, inner)?.tree;
    }
    Ok(tree)
}

/// Applies the change `commit` made (from its first parent) onto `onto`: a cherry-pick. With
/// `revert`, applies the change undone instead (from `commit` to its parent).
pub fn pick(store: &Store, onto: CommitId, commit: CommitId, revert: bool, labels: &Labels, options: Options<'_>) -> Result<TreeMerge> {
    let picked = store.objects().read_commit(&commit)?;
    let parent = match picked.parents.first() {
        Some(p) => tree_of(store, *p)?,
        None => Tree::empty_id(),
    };
    let (base, theirs) = if revert { (picked.snapshot, parent) } else { (parent, picked.snapshot) };
    merge_tree_objects(store, base, tree_of(store, onto)?, theirs, labels, options)
}
