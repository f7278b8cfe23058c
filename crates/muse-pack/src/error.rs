//! The errors of building, reading and applying mpacks. Each names the pack position, object or
//! file concerned. Problems with one record (a poisoned object, a missing parent) are not errors:
//! they are reported per record as [`crate::Rejected`] and the rest of the pack is applied.

use std::io;

use muse_core::ObjectId;
use muse_store::{ErrorKind, StoreError};

/// Why a pack could not be built, read or applied at all.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// Reading the pack or writing a temporary file failed (disk full, broken pipe, ...).
    #[error("{op} {what}: {source}")]
    Io {
        /// What was being done ("read", "write", "create", ...).
        op: &'static str,
        /// The file or stream, e.g. "the mpack stream" or a spool path.
        what: String,
        /// The underlying error.
        source: io::Error,
    },
    /// The local store failed (including I/O errors while publishing objects).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The bytes do not start with the mpack magic.
    #[error("not an mpack (bad magic bytes)")]
    NotAPack,
    /// The pack's version is not one this build reads.
    #[error("unsupported mpack version {0} (this muse reads version 2 only; version 1 predates the kind rule: re-create the pack)")]
    UnsupportedVersion(u32),
    /// The framing is broken: unknown record type, records out of order, a duplicate id, ...
    #[error("malformed mpack at byte {offset}: {reason}")]
    Malformed {
        /// Offset of the offending bytes from the start of the pack.
        offset: u64,
        /// What is wrong there.
        reason: String,
    },
    /// The pack ends before its trailer.
    #[error("truncated mpack: the stream ends at byte {offset}, inside {inside}")]
    Truncated {
        /// How many bytes were read.
        offset: u64,
        /// Which part was being read ("a record header", "the payload of sha256:…", ...).
        inside: String,
    },
    /// The trailing SHA-256 does not match the pack's bytes.
    #[error("mpack checksum mismatch: the trailer says {expected}, the bytes hash to {actual}")]
    ChecksumMismatch {
        /// The checksum written in the trailer.
        expected: ObjectId,
        /// The checksum of the bytes received.
        actual: ObjectId,
    },
    /// A bundle's header is malformed or its prerequisites are missing.
    #[error("bundle: {0}")]
    Bundle(String),
    /// A bundle needs a commit the store does not have.
    #[error("the bundle needs commit {0}, which this repository does not have (apply the bundle it builds on first)")]
    MissingPrerequisite(ObjectId),
    /// A commit asked for by a build is not in the store.
    #[error("cannot pack commit {0}: it is not in the store")]
    UnknownCommit(ObjectId),
    /// Another `gc`, or a commit's pack consolidation, held the store's repack lock too long.
    #[error("another muse gc is running (lock {}); try again later", .0.display())]
    Locked(std::path::PathBuf),
    /// A clone's target directory exists and is not empty.
    #[error("{} exists and is not an empty directory", .0.display())]
    TargetNotEmpty(std::path::PathBuf),
    /// The pack exceeds one of the receiver's whole-pack budgets (`ApplyLimits`); nothing is
    /// written.
    #[error("the pack exceeds this receiver's limit of {limit} {what}")]
    BudgetExceeded {
        /// Which budget: "records", "decoded bytes", "rejected records", "spooled bytes".
        what: &'static str,
        /// The budget.
        limit: u64,
    },
    /// Records were rejected and the apply was all or nothing
    /// ([`crate::ApplyOptions::all_or_nothing`]): nothing is written.
    #[error("{} record(s) of the pack were rejected, so nothing of it was written; the first: {}", .0.len(), first_rejection(.0))]
    Rejected(Vec<crate::Rejected>),
    /// A write step was refused by the caller's hook (fault injection, cancellation).
    #[error("{step}: {source}")]
    Hook {
        /// The step that was refused.
        step: String,
        /// The error the hook returned.
        source: io::Error,
    },
}

impl PackError {
    /// An I/O error on `what`.
    pub(crate) fn io(op: &'static str, what: impl std::fmt::Display, source: io::Error) -> Self {
        PackError::Io { op, what: what.to_string(), source }
    }

    /// The kind of failure (stable; see [`ErrorKind`]). Errors about the pack's bytes are
    /// [`ErrorKind::InvalidInput`], as opposed to the local store's or the disk's.
    pub fn kind(&self) -> ErrorKind {
        match self {
            PackError::Store(e) => e.kind(),
            PackError::Io { .. } | PackError::Hook { .. } => ErrorKind::Io,
            PackError::MissingPrerequisite(_) | PackError::UnknownCommit(_) => ErrorKind::NotFound,
            PackError::Locked(_) | PackError::TargetNotEmpty(_) => ErrorKind::Conflict,
            PackError::NotAPack
            | PackError::UnsupportedVersion(_)
            | PackError::Malformed { .. }
            | PackError::Truncated { .. }
            | PackError::ChecksumMismatch { .. }
            | PackError::Bundle(_)
            | PackError::BudgetExceeded { .. }
            | PackError::Rejected(_) => ErrorKind::InvalidInput,
        }
    }
}

fn first_rejection(rejected: &[crate::Rejected]) -> String {
    rejected.first().map_or_else(String::new, |r| format!("{} {}: {}", r.kind.as_str(), r.id, r.reason))
}

/// Shorthand for results of this crate.
pub type Result<T, E = PackError> = std::result::Result<T, E>;
