//! CLI errors: one message line and a stable exit code (the table is in docs/cli.md).

use std::process::ExitCode;

use muse_store::{ErrorKind, StoreError};

/// Exit code: the operation ran but reports a failure (e.g. `fsck` found problems).
pub const EXIT_FAILED: u8 = 1;
/// Exit code: the command line is wrong (clap's own code).
pub const EXIT_USAGE: u8 = 2;
/// Exit code: not inside a muse repository.
pub const EXIT_NOT_A_REPO: u8 = 3;
/// Exit code: an unknown or ambiguous revision, or a missing object.
pub const EXIT_NOT_FOUND: u8 = 4;
/// Exit code: a conflict (ref moved, lock held, changes would be overwritten, already exists).
pub const EXIT_CONFLICT: u8 = 5;
/// Exit code: the store is corrupted.
pub const EXIT_CORRUPT: u8 = 6;
/// Exit code: an I/O error (disk full, unreadable file, permission denied).
pub const EXIT_IO: u8 = 7;
/// Exit code: invalid input data (bad path, bad value, bad pack or git repository).
pub const EXIT_INVALID_INPUT: u8 = 8;
/// Exit code: a remote could not be reached or failed (retrying may succeed).
pub const EXIT_NETWORK: u8 = 9;
/// Exit code: a remote refused the credentials (missing, bad, revoked, expired, no permission).
pub const EXIT_AUTH: u8 = 10;

/// Exit code: `commit` refused a declared bump lower than the computed one (`semver.enforce`).
pub const EXIT_BUMP_TOO_LOW: u8 = 11;

/// The kind of an external program's failure (`muse hub`), which reported it itself.
const EXTERNAL: &str = "external";

/// An error that ends a command: what to tell the user and which exit code to return.
#[derive(Debug)]
pub struct CliError {
    /// The exit code (see the constants above).
    pub code: u8,
    /// A short stable word for scripts: "not_a_repository", "conflict", ...
    pub kind: &'static str,
    /// The one-line message.
    pub message: String,
}

impl CliError {
    /// An error with an explicit code and kind.
    pub fn new(code: u8, kind: &'static str, message: impl Into<String>) -> Self {
        CliError { code, kind, message: message.into() }
    }

    /// The error of a library failure of `kind` (the one place kinds become exit codes).
    pub fn of_kind(kind: ErrorKind, message: impl Into<String>) -> Self {
        let code = match kind {
            ErrorKind::NotARepository => EXIT_NOT_A_REPO,
            ErrorKind::NotFound | ErrorKind::Ambiguous => EXIT_NOT_FOUND,
            ErrorKind::Conflict | ErrorKind::Interrupted => EXIT_CONFLICT,
            ErrorKind::Corrupt => EXIT_CORRUPT,
            ErrorKind::Io => EXIT_IO,
            ErrorKind::NothingToCommit => EXIT_FAILED,
            ErrorKind::InvalidInput | ErrorKind::Unsupported => EXIT_INVALID_INPUT,
            ErrorKind::Network => EXIT_NETWORK,
            ErrorKind::Auth => EXIT_AUTH,
        };
        CliError::new(code, kind.as_str(), message)
    }

    /// Invalid user input (exit 8).
    pub fn invalid(message: impl Into<String>) -> Self {
        CliError::new(EXIT_INVALID_INPUT, "invalid_input", message)
    }

    /// The operation ran and reports a failure (exit 1).
    pub fn failed(message: impl Into<String>) -> Self {
        CliError::new(EXIT_FAILED, "failed", message)
    }

    /// An external program's exit code, passed on without a message (it printed its own).
    pub fn external(code: u8) -> Self {
        CliError::new(code, EXTERNAL, String::new())
    }

    /// Prints the error (as JSON on stderr under `--json`) and returns the exit code.
    pub fn report(&self, json: bool) -> ExitCode {
        if self.kind == crate::output::BROKEN_PIPE || self.kind == EXTERNAL {
            return ExitCode::from(self.code);
        }
        if json {
            let body = serde_json::json!({ "error": { "code": self.code, "kind": self.kind, "message": self.message } });
            eprintln!("{body}");
        } else {
            eprintln!("error: {}", self.message);
        }
        ExitCode::from(self.code)
    }
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        CliError::of_kind(e.kind(), e.to_string())
    }
}

/// Shorthand for command results.
pub type CliResult<T = ()> = Result<T, CliError>;
