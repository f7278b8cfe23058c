//! The store's error type: every variant names the object or file and the operation.

use std::path::PathBuf;

use muse_core::{CommitId, DecodeError, ObjectId};

/// Errors of the `.muse` store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An I/O operation on a named file failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done ("read", "write", "rename", ...).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// No `.muse` directory was found at or above the given directory.
    #[error("not a muse repository (or any parent up to /): {}", .0.display())]
    NotARepository(PathBuf),
    /// `init` was asked to create a repository where one exists.
    #[error("a muse repository already exists at {}", .0.display())]
    AlreadyExists(PathBuf),
    /// An object is not in the store.
    #[error("object {0} not found")]
    ObjectNotFound(ObjectId),
    /// An object's bytes do not hash to its id: the store is corrupted.
    #[error("object {id} is corrupted: {reason}")]
    CorruptObject {
        /// The id the object was stored under.
        id: ObjectId,
        /// What is wrong with it.
        reason: String,
    },
    /// A pack or index file is damaged.
    #[error("pack file {} is corrupted: {reason}", path.display())]
    CorruptPack {
        /// The pack or index file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// An object exists but is not of the kind the caller needed.
    #[error("object {id} is a {actual}, not a {expected}")]
    WrongKind {
        /// The object.
        id: ObjectId,
        /// The kind that was needed.
        expected: &'static str,
        /// The kind that is stored.
        actual: &'static str,
    },
    /// An object's canonical encoding did not decode.
    #[error("object {id}: {source}")]
    Decode {
        /// The object.
        id: ObjectId,
        /// The decoding error.
        source: DecodeError,
    },
    /// A snapshot in the store holds a path deeper or longer than the limits (`MAX_TREE_DEPTH`,
    /// `MAX_PATH_LEN`); nothing Muse writes does, so the store was written around its checks.
    #[error("snapshot {tree}: {reason}")]
    TreeTooDeep {
        /// The snapshot's root tree.
        tree: ObjectId,
        /// Which limit it exceeds.
        reason: String,
    },
    /// A ref name breaks the naming rules.
    #[error("'{name}' is not a valid {what} name: {reason}")]
    InvalidRefName {
        /// The rejected name.
        name: String,
        /// "branch", "tag" or "ref".
        what: &'static str,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// A compare-and-swap on a ref found a different value than expected.
    #[error("ref {name} moved: expected {}, found {}", fmt_opt(.expected), fmt_opt(.actual))]
    RefConflict {
        /// The ref.
        name: String,
        /// The value the caller expected.
        expected: Option<CommitId>,
        /// The value it actually had.
        actual: Option<CommitId>,
    },
    /// A history-index segment or its chain file is damaged (`docs/formats.md` §11). The index
    /// is derived data: `muse index rebuild` writes it anew.
    #[error("history index {} is damaged: {reason}", path.display())]
    CorruptIndex {
        /// The segment or chain file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A ref's lock is held by a live process and was not released in time.
    #[error("ref {name} is locked by another muse process ({}); try again", path.display())]
    RefLocked {
        /// The ref.
        name: String,
        /// The lock file.
        path: PathBuf,
    },
    /// A ref file does not hold a commit id.
    #[error("ref {name} is corrupted: {reason}")]
    CorruptRef {
        /// The ref.
        name: String,
        /// What it holds instead.
        reason: String,
    },
    /// A revision expression names nothing.
    #[error("unknown revision '{0}'")]
    UnknownRevision(String),
    /// A revision expression is malformed (a suffix other than `~N` / `^N` with N decimal).
    #[error("invalid revision '{revision}': {reason}")]
    InvalidRevision {
        /// The revision as typed.
        revision: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A revision names an object that is not a commit (a tree or a blob).
    #[error("revision '{revision}' names a {kind}, not a commit")]
    NotACommit {
        /// The revision as typed.
        revision: String,
        /// The kind of object it names.
        kind: &'static str,
    },
    /// A workspace (or its directory) already exists.
    #[error("{0}")]
    WorkspaceExists(String),
    /// An id prefix names more than one object.
    #[error("ambiguous revision '{prefix}': it matches {} objects ({})", candidates.len(), candidates.iter().map(|c| c.short(12)).collect::<Vec<_>>().join(", "))]
    AmbiguousRevision {
        /// The prefix typed.
        prefix: String,
        /// The objects it matches.
        candidates: Vec<ObjectId>,
    },
    /// A commit could not be built because its input is invalid.
    #[error("invalid commit: {0}")]
    InvalidCommit(String),
    /// A path cannot be stored (outside the repository, reserved, not UTF-8, ...).
    #[error("invalid path {}: {reason}", path.display())]
    InvalidPath {
        /// The path.
        path: PathBuf,
        /// Why it cannot be stored.
        reason: String,
    },
    /// Paths of the working copy that could not be read, or whose names are not UTF-8: a
    /// commit (or a checkout over them) would not know what they hold, so it refuses.
    #[error("{} path(s) of the working copy cannot be taken in: {}", .0.len(), .0.iter().map(|s| format!("{}: {}", s.path.display(), s.reason)).collect::<Vec<_>>().join("; "))]
    Unreadable(Vec<crate::worktree::walk::Skipped>),
    /// A file changed while it was being read into the store.
    #[error("{} changed while it was being committed; try again", .0.display())]
    FileChanged(PathBuf),
    /// A path given to a command matches nothing in the snapshots or the working copy.
    #[error("path '{0}' matches no file in the source, HEAD or the working copy")]
    PathNotFound(String),
    /// A checkout found paths in its way; nothing was changed.
    #[error("nothing was changed: {} path(s) in the way: {}", obstacles.len(), obstacles.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Blocked {
        /// Every obstacle found.
        obstacles: Vec<crate::worktree::checkout::Obstacle>,
    },
    /// An interrupted operation must be rolled back or finished first.
    #[error(
        "a {kind} was interrupted in this working copy; `muse {command}` waits until `muse recover` rolls it back (or `muse recover --continue` finishes it)"
    )]
    OperationPending {
        /// The interrupted operation.
        kind: String,
        /// The command refused.
        command: String,
    },
    /// `commit` found no change to record.
    #[error("nothing to commit: the working copy equals HEAD (use --allow-empty to commit anyway)")]
    NothingToCommit,
    /// The store was written by a version of muse with another layout.
    #[error("{} holds a store of an unsupported format ({found:?}); this muse reads {:?} only (a clean break, no migration: re-create it with muse init, muse clone or muse import)", path.display(), crate::store::FORMAT_LINE.trim())]
    UnsupportedFormat {
        /// The store directory.
        path: PathBuf,
        /// The first line of its `format` file.
        found: String,
    },
    /// A workspace operation was refused.
    #[error("workspace error: {0}")]
    Workspace(String),
    /// An operation was refused because the state it expected has changed (a ref or HEAD moved
    /// since an operation being undone, a workspace holds work that would be lost).
    #[error("{0}")]
    Conflict(String),
}

/// What kind of failure an error is, in words that stay the same across releases: the CLI maps
/// each kind to an exit code and the hub to an HTTP status (`docs/cli.md` lists both names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// No store at or above the given directory.
    NotARepository,
    /// An object, revision, ref or other named thing does not exist.
    NotFound,
    /// An id prefix names more than one object.
    Ambiguous,
    /// Someone else got there first: a ref moved, a lock is held, something already exists,
    /// files are in the way of a checkout.
    Conflict,
    /// Stored data is damaged.
    Corrupt,
    /// The operating system failed a read or write.
    Io,
    /// The input (a name, a path, a value, a pack) breaks a rule.
    InvalidInput,
    /// `commit` found nothing to record.
    NothingToCommit,
    /// An interrupted operation (a checkout killed midway) must be recovered first.
    Interrupted,
    /// The store or data was written in a format this build does not read.
    Unsupported,
    /// A remote could not be reached or failed (connection refused or cut, timeout, a server
    /// error or overload); retrying later may succeed.
    Network,
    /// A remote refused the credentials: none given where needed, unknown, revoked or expired
    /// token, or no permission.
    Auth,
}

impl ErrorKind {
    /// The stable machine name (`not_found`, `conflict`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotARepository => "not_a_repository",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Ambiguous => "ambiguous",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Corrupt => "corrupt",
            ErrorKind::Io => "io",
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::NothingToCommit => "nothing_to_commit",
            ErrorKind::Interrupted => "interrupted",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Network => "network",
            ErrorKind::Auth => "auth",
        }
    }
}

impl StoreError {
    /// The kind of failure (stable; see [`ErrorKind`]).
    pub fn kind(&self) -> ErrorKind {
        match self {
            StoreError::NotARepository(_) => ErrorKind::NotARepository,
            StoreError::ObjectNotFound(_) | StoreError::PathNotFound(_) | StoreError::UnknownRevision(_) | StoreError::NotACommit { .. } => ErrorKind::NotFound,
            StoreError::AmbiguousRevision { .. } => ErrorKind::Ambiguous,
            StoreError::RefConflict { .. }
            | StoreError::Conflict(_)
            | StoreError::RefLocked { .. }
            | StoreError::Blocked { .. }
            | StoreError::AlreadyExists(_)
            | StoreError::WorkspaceExists(_) => ErrorKind::Conflict,
            StoreError::CorruptObject { .. }
            | StoreError::CorruptPack { .. }
            | StoreError::CorruptRef { .. }
            | StoreError::CorruptIndex { .. }
            | StoreError::Decode { .. }
            | StoreError::WrongKind { .. }
            | StoreError::TreeTooDeep { .. } => ErrorKind::Corrupt,
            StoreError::Io { .. } | StoreError::FileChanged(_) => ErrorKind::Io,
            // A name that is not UTF-8 is invalid input; otherwise the system failed a read.
            StoreError::Unreadable(skipped) if skipped.iter().any(|s| s.reason == crate::worktree::walk::SkipReason::NotUtf8) => ErrorKind::InvalidInput,
            StoreError::Unreadable(_) => ErrorKind::Io,
            StoreError::NothingToCommit => ErrorKind::NothingToCommit,
            StoreError::OperationPending { .. } => ErrorKind::Interrupted,
            StoreError::UnsupportedFormat { .. } => ErrorKind::Unsupported,
            StoreError::InvalidRefName { .. }
            | StoreError::InvalidRevision { .. }
            | StoreError::InvalidCommit(_)
            | StoreError::InvalidPath { .. }
            | StoreError::Workspace(_) => ErrorKind::InvalidInput,
        }
    }
}

fn fmt_opt(id: &Option<CommitId>) -> String {
    id.map_or_else(|| "nothing".to_string(), |id| id.to_string())
}

/// Shorthand for results of this crate.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Attaches an operation and a path to an I/O error.
pub(crate) trait IoContext<T> {
    fn ctx(self, op: &'static str, path: &std::path::Path) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, op: &'static str, path: &std::path::Path) -> Result<T> {
        self.map_err(|source| StoreError::Io { op, path: path.to_path_buf(), source })
    }
}
