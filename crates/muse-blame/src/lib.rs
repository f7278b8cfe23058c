//! Line-by-line provenance: for every line of a file at a revision, the commit that last changed
//! it and that line's number there, computed as `git blame` computes it (its default settings),
//! so that the two agree; then, from the commits' provenance, each line's author, agent and
//! model, and the share of lines per model and agent ([`stats`]).
//!
//! The walk runs over the store's history index ([`muse_store::index`]): a commit that did not
//! change the file passes all of it to its parent without a tree being read, so only the commits
//! that changed the file cost a blob read and a diff. Results are cached by (commit, path,
//! ignored revisions) in the store ([`cache`]), and a walk that reaches a commit whose blame of
//! the same path is cached takes the answer from there.
#![warn(missing_docs)]

pub mod cache;
mod rename;
pub mod stats;
pub mod trace;
mod walk;

use std::collections::BTreeSet;

use muse_core::CommitId;
use muse_store::StoreError;

pub use rename::chunk_hashes;
pub use walk::blame;

/// Errors of blame and stats.
#[derive(Debug, thiserror::Error)]
pub enum BlameError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The path is not in the revision.
    #[error("path '{path}' is not in commit {commit}")]
    PathNotFound {
        /// The path asked for.
        path: String,
        /// The revision.
        commit: CommitId,
    },
    /// The path is a directory (or a symlink) where a file was needed.
    #[error("'{path}' is a {kind}, not a file")]
    NotAFile {
        /// The path asked for.
        path: String,
        /// What it is.
        kind: &'static str,
    },
    /// The file is binary (a NUL byte in its first 8000 bytes): it has no lines to blame.
    #[error("'{path}' is a binary file: blame needs text")]
    Binary {
        /// The path asked for.
        path: String,
    },
    /// A line range outside the file.
    #[error("line range {start},{end} is outside the file's {lines} lines")]
    BadRange {
        /// First line asked for (1-based).
        start: u32,
        /// Last line asked for.
        end: u32,
        /// Lines in the file.
        lines: u32,
    },
}

/// Shorthand for results of this crate.
pub type BlameResult<T> = Result<T, BlameError>;

/// What to blame and how.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlameOptions {
    /// Commits whose changes are ignored (`--ignore-rev`): their lines go to the line at the same
    /// place in the parent's version (the nearest line for pure additions), as if they had not
    /// changed; a line with no counterpart stays theirs.
    pub ignore: BTreeSet<CommitId>,
    /// Only these lines (1-based, inclusive).
    pub lines: Option<(u32, u32)>,
}

/// One blamed line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlamedLine {
    /// The line's number in the blamed revision (1-based).
    pub line: u32,
    /// The commit that last changed it.
    pub commit: CommitId,
    /// Its number in that commit's version of the file (1-based).
    pub orig_line: u32,
    /// The file's path in that commit (differs from the blamed path across a rename).
    pub orig_path: String,
}

/// The blame of one file at one revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blame {
    /// The revision blamed.
    pub commit: CommitId,
    /// The path blamed.
    pub path: String,
    /// The file's content at that revision.
    pub content: Vec<u8>,
    /// The lines blamed, in order (all of them, or the range asked for).
    pub lines: Vec<BlamedLine>,
}

impl Blame {
    /// The text of line `line` (1-based), without its newline.
    pub fn text(&self, line: u32) -> &[u8] {
        let mut rest: &[u8] = &self.content;
        for _ in 1..line {
            match rest.iter().position(|b| *b == b'\n') {
                Some(at) => rest = &rest[at + 1..],
                None => return &[],
            }
        }
        let end = rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
        &rest[..end]
    }

    /// Every line's text, in order, without newlines.
    pub fn texts(&self) -> Vec<&[u8]> {
        let mut out: Vec<&[u8]> = self.content.split(|b| *b == b'\n').collect();
        if self.content.ends_with(b"\n") || self.content.is_empty() {
            out.pop();
        }
        out
    }
}
