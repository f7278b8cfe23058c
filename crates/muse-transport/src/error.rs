//! The transport's error type: what the server said (its stable code, message and details),
//! what the network did, and what the local store or pack layer reported.

use std::path::PathBuf;

use muse_core::CommitId;
use muse_pack::PackError;
use muse_protocol::{ErrorBody, ErrorCode, RepoUrlError};
use muse_store::{ErrorKind, StoreError};

/// Why a transfer failed.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The server answered with an error response (`docs/protocol.md` §Errors).
    #[error("{url} refused the request: {} ({}{})", .body.error.message, .body.error.code, details_suffix(.body))]
    Server {
        /// The endpoint that answered.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The error as the server sent it (or as derived from the status when the body was not
        /// a protocol error).
        body: ErrorBody,
    },
    /// The server could not be reached, or the connection failed, after the retries.
    #[error("cannot reach {url}: {reason}")]
    Network {
        /// The endpoint.
        url: String,
        /// What failed (connection refused, reset, timed out, ...).
        reason: String,
    },
    /// The server answered something that is not protocol version 1.
    #[error("{url} answered something that is not the Muse protocol: {reason}")]
    Protocol {
        /// The endpoint.
        url: String,
        /// What was wrong with the answer.
        reason: String,
    },
    /// A push would move a remote branch to a commit that does not descend from it.
    #[error("{}", non_fast_forward_message(.name, .remote, *.fetch_first))]
    NonFastForward {
        /// The remote ref.
        name: String,
        /// Its commit on the server.
        remote: CommitId,
        /// Whether the local store lacks that commit (fetch first) rather than holds it on
        /// another line of history.
        fetch_first: bool,
    },
    /// A push deletes a ref the server does not have.
    #[error("cannot delete {0}: the remote has no such ref")]
    NoSuchRemoteRef(String),
    /// The server lacks a capability the operation needs.
    #[error("the server does not support {0}")]
    Unsupported(&'static str),
    /// The repository URL is malformed.
    #[error(transparent)]
    Url(#[from] RepoUrlError),
    /// A hub URL is malformed.
    #[error("'{0}' is not a hub URL; expected http[s]://HOST[:PORT][/PREFIX]")]
    HubUrl(String),
    /// Building or applying a pack failed.
    #[error(transparent)]
    Pack(#[from] PackError),
    /// The local store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A local file (a partial transfer, the credentials file) could not be read or written.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Another process is transferring the same data into this store.
    #[error("another muse process is fetching the same data into this repository ({}); try again when it is done", .0.display())]
    Busy(PathBuf),
    /// The credentials file is malformed.
    #[error("the credentials file {} is malformed: {reason}", path.display())]
    Credentials {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

fn details_suffix(body: &ErrorBody) -> String {
    match (&body.error.details, body.code()) {
        (Some(details), Some(ErrorCode::StaleRef)) => {
            let field = |k: &str| details.get(k).and_then(|v| v.as_str()).unwrap_or("nothing").to_string();
            format!("; {} is at {}, not {}", field("ref"), field("actual"), field("expected"))
        }
        _ => String::new(),
    }
}

fn non_fast_forward_message(name: &str, remote: &CommitId, fetch_first: bool) -> String {
    if fetch_first {
        format!("rejected {name} (fetch first): the remote has {remote}, which this repository does not have; fetch and integrate it, or push with --force")
    } else {
        format!("rejected {name} (non-fast-forward): the remote's {remote} is not an ancestor of what is pushed; integrate it, or push with --force")
    }
}

impl TransportError {
    /// The kind of failure (stable; the CLI maps it to an exit code). A server error maps by
    /// its code: authentication and permission codes are [`ErrorKind::Auth`], `not_found` is
    /// [`ErrorKind::NotFound`], `stale_ref` and `upload_offset` are [`ErrorKind::Conflict`],
    /// server failures and overload are [`ErrorKind::Network`], the rest
    /// [`ErrorKind::InvalidInput`].
    pub fn kind(&self) -> ErrorKind {
        match self {
            TransportError::Server { status, body, .. } => match body.code() {
                Some(code) => code_kind(code),
                None => status_kind(*status),
            },
            TransportError::Network { .. } => ErrorKind::Network,
            TransportError::Protocol { .. } | TransportError::Url(_) | TransportError::HubUrl(_) => ErrorKind::InvalidInput,
            TransportError::NonFastForward { .. } | TransportError::Busy(_) => ErrorKind::Conflict,
            TransportError::NoSuchRemoteRef(_) => ErrorKind::NotFound,
            TransportError::Unsupported(_) => ErrorKind::Unsupported,
            TransportError::Pack(e) => e.kind(),
            TransportError::Store(e) => e.kind(),
            TransportError::Io { .. } => ErrorKind::Io,
            TransportError::Credentials { .. } => ErrorKind::InvalidInput,
        }
    }

    /// The server's error response, when the server refused the request.
    pub fn server_error(&self) -> Option<&ErrorBody> {
        match self {
            TransportError::Server { body, .. } => Some(body),
            _ => None,
        }
    }

    /// An I/O error on `path`.
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TransportError::Io { op, path: path.into(), source }
    }
}

/// The kind of a protocol error code.
fn code_kind(code: ErrorCode) -> ErrorKind {
    use ErrorCode::*;
    match code {
        Unauthorized | BadToken | TokenRevoked | TokenExpired | Forbidden => ErrorKind::Auth,
        NotFound => ErrorKind::NotFound,
        StaleRef | UploadOffset => ErrorKind::Conflict,
        RateLimited | Internal | Unavailable => ErrorKind::Network,
        BadRequest | UnsupportedProtocol | InvalidRef | BadWant | TooLarge | TooManyHaves | BadChecksum | PackRejected | MissingObject | BadSignature
        | SignatureRequired => ErrorKind::InvalidInput,
    }
}

/// The kind of an HTTP status without a code this version knows.
fn status_kind(status: u16) -> ErrorKind {
    match status {
        401 | 403 => ErrorKind::Auth,
        404 => ErrorKind::NotFound,
        409 => ErrorKind::Conflict,
        429 | 500..=599 => ErrorKind::Network,
        _ => ErrorKind::InvalidInput,
    }
}

/// The code a status stands for when the body is not a protocol error (a proxy's page, say).
pub(crate) fn code_of_status(status: u16) -> &'static str {
    match status {
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        409 => "conflict",
        413 => "too_large",
        429 => "rate_limited",
        500..=599 => "internal",
        _ => "bad_request",
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = TransportError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_kind_and_statuses_agree() {
        for &code in ErrorCode::ALL {
            let by_code = code_kind(code);
            let by_status = status_kind(code.http_status());
            // The status alone may be coarser (400 and 422 share InvalidInput), never different
            // across auth, not-found and network families.
            if matches!(by_code, ErrorKind::Auth | ErrorKind::NotFound | ErrorKind::Network) {
                assert_eq!(by_code, by_status, "{code}");
            }
        }
    }

    #[test]
    fn stale_ref_messages_name_the_ref() {
        let body = ErrorBody::new(ErrorCode::StaleRef, "refs/heads/main moved").with_details(serde_json::json!({
            "ref": "refs/heads/main", "expected": "sha256:aa", "actual": "sha256:bb"
        }));
        let e = TransportError::Server { url: "http://h/a/b/muse/push".into(), status: 409, body };
        assert_eq!(e.kind(), ErrorKind::Conflict);
        let text = e.to_string();
        assert!(text.contains("stale_ref; refs/heads/main is at sha256:bb, not sha256:aa"), "{text}");
    }
}
