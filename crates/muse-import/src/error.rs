//! The importer's error type: each variant names the git object, file or ref and the operation.

use std::path::PathBuf;

use gix::ObjectId as GitId;
use muse_store::{ErrorKind, StoreError};

/// Why an import stopped. Nothing of a failed batch becomes visible in the Muse store; batches
/// published before the failure stay, and a re-run continues from them.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The source path is not a git repository gix can open (missing, not a repository, or an
    /// unsupported object format such as SHA-256).
    #[error("{} is not a git repository that can be imported: {source:#}", path.display())]
    NotAGitRepository {
        /// The path given.
        path: PathBuf,
        /// What gix reported.
        source: gix::Error,
    },
    /// Reading from the git repository failed (a ref, an object, the shallow file).
    #[error("cannot {op} in the git repository: {source:#}")]
    Git {
        /// What was being read, e.g. "list refs" or "read commit 1a2b…".
        op: String,
        /// What gix reported.
        source: gix::Error,
    },
    /// An object the history needs is not in the git repository (and the repository is not
    /// shallow at that point).
    #[error("git {kind} {id} is missing (needed by {needed_by}); the git repository is incomplete or corrupted")]
    MissingObject {
        /// What the object should be ("commit", "tree", "blob").
        kind: &'static str,
        /// The missing object.
        id: GitId,
        /// The object or ref that refers to it.
        needed_by: String,
    },
    /// A git object is damaged: it does not decode, does not hash to its id, or is of the wrong kind.
    #[error("git {kind} {id} is corrupted: {reason}")]
    CorruptObject {
        /// What the object should be.
        kind: &'static str,
        /// The object.
        id: GitId,
        /// What is wrong with it.
        reason: String,
    },
    /// A tree entry's name cannot be stored in Muse, and the import was asked to be strict.
    #[error("git commit {commit}: path {path} cannot be imported: {reason} (rerun without --strict-paths to skip it)")]
    InvalidPath {
        /// A commit whose tree holds the path.
        commit: GitId,
        /// The path, with non-UTF-8 bytes escaped as `\xNN`.
        path: String,
        /// Why Muse cannot store it.
        reason: String,
    },
    /// A path is deeper or longer than a snapshot may hold (`docs/formats.md` §2). Not
    /// skippable: whether a tree's paths are too deep depends on where the tree sits.
    #[error("git commit {commit}: {path}: {reason}; Muse cannot store it")]
    PathTooDeep {
        /// A commit whose tree holds the path.
        commit: GitId,
        /// The path (non-UTF-8 bytes escaped as `\xNN`), or `its snapshot` when the deepest
        /// path was not named (a subtree converted earlier, placed deeper by this commit).
        path: String,
        /// Which limit it exceeds.
        reason: String,
    },
    /// The git-id → muse-id map of earlier imports is damaged or disagrees with the store.
    #[error("import map {} is corrupted at line {line}: {reason}; delete it to re-import from scratch", path.display())]
    CorruptMap {
        /// The map file.
        path: PathBuf,
        /// The 1-based line (0 when the problem is not tied to one line).
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// Another import into the same Muse repository is running.
    #[error("another import into this repository is running (it holds the lock on {}); try again when it is done", path.display())]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// A file of the import's own state could not be read or written.
    #[error("cannot {op} {}: {source}", path.display())]
    Io {
        /// The operation ("read", "append", ...).
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The Muse store refused a write or a ref update.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ImportError {
    /// The kind of failure (stable; see [`ErrorKind`]): problems of the git repository are
    /// [`ErrorKind::InvalidInput`].
    pub fn kind(&self) -> ErrorKind {
        match self {
            ImportError::Store(e) => e.kind(),
            ImportError::Locked { .. } => ErrorKind::Conflict,
            ImportError::CorruptMap { .. } => ErrorKind::Corrupt,
            ImportError::Io { .. } => ErrorKind::Io,
            ImportError::NotAGitRepository { .. }
            | ImportError::Git { .. }
            | ImportError::MissingObject { .. }
            | ImportError::CorruptObject { .. }
            | ImportError::InvalidPath { .. }
            | ImportError::PathTooDeep { .. } => ErrorKind::InvalidInput,
        }
    }

    /// Shorthand for a gix failure while doing `op`.
    pub(crate) fn git(op: impl Into<String>, source: gix::Error) -> Self {
        ImportError::Git { op: op.into(), source }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = ImportError> = std::result::Result<T, E>;
