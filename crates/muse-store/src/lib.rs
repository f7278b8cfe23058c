//! The `.muse` store: packed objects, refs moved by compare-and-swap, workspaces and the stat cache.

mod error;
mod fsutil;
pub mod odb;
pub mod refs;
mod repo;

pub use error::{Result, StoreError};
pub use odb::{Object, ObjectKind, ObjectListing, ObjectStore, PackWriter, RepackLock};
pub use refs::{RefName, RefStore};
pub use repo::{Head, Repository, DOT_MUSE};
pub mod snapshot;
pub mod worktree;
pub mod commit;
pub mod history;
pub mod fsck;
pub mod oplog;
pub mod workspace;
