//! The merge engine: merge bases on the commit DAG, the three-way merge of snapshots (renames,
//! modify/delete, add/add, file/directory, mode and symlink conflicts), a per-file line merge
//! behind [`FileMerger`] (so a structural merge can replace it), and the merge state a stopped
//! merge leaves in a working copy. docs/cli.md §Merging describes the commands built on it.
//!
//! Every walk is iterative: merge bases walk the DAG with a queue, tree merges look only at the
//! paths the sides changed, and virtual bases (criss-cross histories) nest at most
//! [`MAX_VIRTUAL_DEPTH`] deep.
#![warn(missing_docs)]

mod bases;
mod engine;
mod lines;
pub mod state;
mod tree;

pub use bases::merge_bases;
pub use engine::{merge_commits, merge_tree_objects, pick, CommitMerge, MAX_VIRTUAL_DEPTH};
pub use lines::{has_conflict_markers, merge_lines, split_lines, ConflictHunk, FileMerge, FileMerger, Labels, LineMerger, LineSpan, MARKER_LEN};
pub use tree::{merge_trees, Conflict, ConflictKind, Options, TreeMerge, Version};

/// Results of the engine: its failures are the store's (reading objects, writing packs).
pub type Result<T> = muse_store::Result<T>;

impl Options<'static> {
    /// The defaults: the line merge, rename detection on.
    pub fn standard() -> Self {
        Options { merger: &LineMerger, renames: true, virtual_base: false }
    }
}
