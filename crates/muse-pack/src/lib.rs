//! mpack: Muse's transfer pack. One streaming format carries every clone, fetch, push and bundle
//! (`docs/mpack.md` specifies it byte by byte); this crate builds packs from a store, applies
//! them to a store under the seed's integrity rules, and repacks a store (`gc`).
//!
//! The rule everything here serves: a commit is never written whose chain (snapshot trees,
//! blobs, parents) is not complete and durable, whatever a pack contains and whatever fails
//! while applying it; refs move only after the commits they name are durable.
#![warn(missing_docs)]

mod apply;
mod build;
mod bundle;
mod cache;
mod clone;
mod compress;
mod error;
pub mod format;
mod gc;
mod input;
mod pipe;
mod refs;

pub use apply::{apply, ApplyLimits, ApplyOptions, ApplyReport, CommitCheck, Rejected, WriteHook, WriteStep};
pub use build::{build, BuildOptions, BuildStats};
pub use bundle::{apply_bundle, create_bundle, BundleHeader, BundleReport};
pub use clone::{clone_local, CloneReport};
pub use error::{PackError, Result};
pub use format::{MpackWriter, RecordHeader};
pub use gc::{gc, roots, GcOptions, GcReport, Prune, DEFAULT_PRUNE_EXPIRE, MIN_PRUNE_AGE};
pub use input::{BaseRef, Record};
pub use refs::{update_refs, RefStatus, RefUpdate};
