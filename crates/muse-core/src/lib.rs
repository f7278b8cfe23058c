//! Muse's pure object model: content ids, trees, commits, and their canonical encodings.
//!
//! Nothing here touches a file or the network. Every id is the SHA-256 of a byte string that
//! opens with its kind's magic (the kind rule, [`ObjectKind`]), as documented in
//! `docs/formats.md`; the encoders and decoders in this crate are the reference implementation
//! of that document, and `tests/vectors.rs` checks its test vectors.
#![warn(missing_docs)]

mod commit;
mod error;
mod id;
mod kind;
mod path;
mod timestamp;
mod tree;

pub use commit::{Commit, SemVerBump, COMMIT_MAGIC};
pub use error::DecodeError;
pub use id::{BlobId, CommitId, Hasher, IdParseError, IdPrefix, ObjectId, SnapshotId, TreeId};
pub use kind::{blob_id, BlobHasher, ObjectKind, BLOB_MAGIC};
pub use path::{validate_name, PathError, RepoPath};
pub use timestamp::{rfc3339_to_unix, unix_to_rfc3339_utc, validate_rfc3339, TimestampError};
pub use tree::{check_path_limits, check_symlink_target, EntryKind, Tree, TreeEntry, TreeShape, MAX_PATH_LEN, MAX_SYMLINK_TARGET, MAX_TREE_DEPTH, TREE_MAGIC};
