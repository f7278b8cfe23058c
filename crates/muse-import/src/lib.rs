//! Imports git histories into a Muse store, reading git with `gix` (never the `git` binary).
//!
//! [`import_git`] converts every commit reachable from a git repository's branches and tags:
//! each git tree becomes a Muse tree (file modes, executable bits and symlinks kept, empty
//! directories and submodules dropped), each git commit a Muse commit with the same parents,
//! author, time zone and message, plus agent provenance read from its trailers. What Muse has no
//! field for is kept in the commit's `metadata` under `git.*` keys. `docs/import-git.md` documents
//! the mapping, what is skipped, and how re-imports work.
//!
//! Memory stays bounded on long histories: commits are converted in windows, file contents are
//! hashed and compressed on every core (rayon) and streamed into the pack being written, and the
//! memo of converted trees and blobs forgets what has not been used for a while.
#![warn(missing_docs)]

mod blobs;
mod commit;
mod error;
mod graph;
mod import;
mod map;
mod memo;
mod refs;
mod sink;
mod summary;
mod time;
mod trailers;
mod tree;

pub use error::{ImportError, Result};
pub use import::import_git;
pub use summary::{ImportOptions, ImportPhase, ImportProgress, ImportSummary, SkippedPath, SkippedRef};
