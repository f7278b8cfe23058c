//! The `.muse` store: packed objects, refs moved by compare-and-swap, workspaces and the stat cache.
#![warn(missing_docs)]

mod error;
mod fsutil;
pub mod odb;
pub mod refs;
mod repo;
pub mod store;

pub use error::{ErrorKind, Result, StoreError};
pub use fsutil::put_cache_entry;
pub use odb::{Object, ObjectKind, ObjectListing, ObjectStore, PackWriter, RepackLock};
pub use refs::{RefName, RefStore};
pub use repo::{Repository, DOT_MUSE};
pub use store::{Head, Store, WorkingCopy};
pub mod commit;
pub mod fsck;
pub mod history;
pub mod index;
pub mod oplog;
pub mod snapshot;
pub mod workspace;
pub mod worktree;
