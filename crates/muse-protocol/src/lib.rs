//! The Muse wire protocol, version 1: the messages a client and a hub exchange over HTTP, their
//! error codes, and repository URLs. `docs/protocol.md` is the specification; this crate holds
//! its types so that the client (`muse-transport`) and the server (`muse-hub-server`) cannot
//! disagree on a shape. No I/O here.
#![warn(missing_docs)]

mod error;
mod messages;
mod url;

pub use error::{ErrorBody, ErrorCode, ErrorInfo};
pub use messages::{
    AdvertisedRef, FetchRequest, NegotiateRequest, NegotiateResponse, PushRequest, PushResponse, RefAdvertisement, RefUpdate, UploadStatus, Written,
};
pub use url::{valid_name, RepoUrl, RepoUrlError};

/// The protocol version this crate speaks.
pub const VERSION: u32 = 1;

/// The request and response header carrying the protocol version.
pub const VERSION_HEADER: &str = "Muse-Protocol";
/// The upload header giving where a `PUT` body starts in the pack (and, on `HEAD`, how much the
/// server holds).
pub const UPLOAD_OFFSET_HEADER: &str = "Upload-Offset";
/// The upload header giving the whole pack's length.
pub const UPLOAD_LENGTH_HEADER: &str = "Upload-Length";

/// The content type of mpack bodies.
pub const MPACK_CONTENT_TYPE: &str = "application/vnd.muse.mpack";
/// The content type of every other body.
pub const JSON_CONTENT_TYPE: &str = "application/json";

/// Capabilities a version-1 server may list in its advertisement.
pub mod capability {
    /// Fetches answer `Range` requests (`docs/protocol.md` §Fetch, Resuming).
    pub const FETCH_RESUME: &str = "fetch-resume";
    /// Uploads can be resumed (`HEAD`/`PUT REPO/muse/uploads/CHECKSUM`).
    pub const PUSH_RESUME: &str = "push-resume";
    /// A push moves all its refs or none.
    pub const ATOMIC_PUSH: &str = "atomic-push";
    /// A push may delete refs (`new: null`).
    pub const REF_DELETE: &str = "ref-delete";
}

/// Most haves in one negotiation request.
pub const MAX_NEGOTIATE_HAVES: usize = 4096;
/// Most wants in one fetch request.
pub const MAX_FETCH_WANTS: usize = 4096;
/// Most haves in one fetch request.
pub const MAX_FETCH_HAVES: usize = 65536;
/// Most ref updates in one push.
pub const MAX_PUSH_UPDATES: usize = 1024;
/// How long a server keeps an upload after its last write, in seconds.
pub const UPLOAD_EXPIRY_SECS: u64 = 24 * 3600;

/// The endpoint paths under a repository URL.
pub mod endpoint {
    /// `GET`: the ref advertisement.
    pub const REFS: &str = "muse/refs";
    /// `POST`: negotiation.
    pub const NEGOTIATE: &str = "muse/negotiate";
    /// `POST`: fetch an mpack.
    pub const FETCH: &str = "muse/fetch";
    /// `HEAD`/`PUT`: uploads, followed by `/CHECKSUM`.
    pub const UPLOADS: &str = "muse/uploads";
    /// `POST`: push.
    pub const PUSH: &str = "muse/push";
}
