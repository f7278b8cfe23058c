//! The errors of the code domain.

use std::path::PathBuf;

use muse_core::ObjectId;
use muse_store::{ErrorKind, StoreError};

/// Why a semantic diff could not be computed. Extraction itself never fails (a file it cannot
/// read as code gets no symbol claims); only reading the files can.
#[derive(Debug, thiserror::Error)]
pub enum CodeError {
    /// The store failed (a missing or damaged object, an I/O error).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A working-copy file no longer has the content the commit recorded.
    #[error("{} changed while it was read (its content is no longer {id})", path.display())]
    FileChanged {
        /// The file.
        path: PathBuf,
        /// The id it was expected to have.
        id: ObjectId,
    },
    /// A working-copy file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

impl CodeError {
    /// The stable kind of the error (the CLI maps it to an exit code).
    pub fn kind(&self) -> ErrorKind {
        match self {
            CodeError::Store(e) => e.kind(),
            CodeError::FileChanged { .. } | CodeError::Io { .. } => ErrorKind::Io,
        }
    }
}

/// Results of this crate.
pub type Result<T, E = CodeError> = std::result::Result<T, E>;
