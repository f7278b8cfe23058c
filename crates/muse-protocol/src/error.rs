//! Error responses: a stable machine code, a message for people, and optional details.

use serde::{Deserialize, Serialize};

macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident = ($text:literal, $status:literal),)*) => {
        /// The stable machine codes of error responses (`docs/protocol.md` §Errors).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)*
        }

        impl ErrorCode {
            /// Every code, in the document's order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The code as it appears on the wire (`stale_ref`).
            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $text,)* }
            }

            /// The HTTP status that carries it.
            pub fn http_status(self) -> u16 {
                match self { $(ErrorCode::$variant => $status,)* }
            }

            /// The code named `text`, if it is one.
            pub fn parse(text: &str) -> Option<ErrorCode> {
                match text { $($text => Some(ErrorCode::$variant),)* _ => None }
            }
        }
    };
}

error_codes! {
    /// Malformed JSON, a missing member, duplicate refs, too many updates.
    BadRequest = ("bad_request", 400),
    /// The `Muse-Protocol` version is not spoken here.
    UnsupportedProtocol = ("unsupported_protocol", 400),
    /// A ref name breaks the ref rules.
    InvalidRef = ("invalid_ref", 400),
    /// A want is not the commit of a ref.
    BadWant = ("bad_want", 400),
    /// Authentication needed (anonymous caller).
    Unauthorized = ("unauthorized", 401),
    /// The token is not one the hub issued.
    BadToken = ("bad_token", 401),
    /// The token was revoked.
    TokenRevoked = ("token_revoked", 401),
    /// The token expired.
    TokenExpired = ("token_expired", 401),
    /// Authenticated, but without the permission.
    Forbidden = ("forbidden", 403),
    /// No such repository (or no read access), upload or endpoint.
    NotFound = ("not_found", 404),
    /// A ref is not at the `old` the push named; nothing moved.
    StaleRef = ("stale_ref", 409),
    /// An upload resumed at the wrong offset.
    UploadOffset = ("upload_offset", 409),
    /// A body over the server's size limit.
    TooLarge = ("too_large", 413),
    /// Over the per-request id limits.
    TooManyHaves = ("too_many_haves", 413),
    /// An upload whose bytes do not match its checksum.
    BadChecksum = ("bad_checksum", 422),
    /// The pack is malformed, over a budget, or a record failed verification.
    PackRejected = ("pack_rejected", 422),
    /// A `new` commit (or its closure) is not in the repository.
    MissingObject = ("missing_object", 422),
    /// A pushed commit carries a signature that does not verify (malformed, another key's, or
    /// not matching the commit's bytes): nothing of the push was kept.
    BadSignature = ("bad_signature", 422),
    /// A push to a branch that takes only signed commits carries a commit that does not verify
    /// as `good` against the hub's keys (unsigned, unknown key, revoked, expired, mismatch).
    SignatureRequired = ("signature_required", 422),
    /// Too many requests.
    RateLimited = ("rate_limited", 429),
    /// The server failed; nothing was half-written.
    Internal = ("internal", 500),
    /// The server is shutting down.
    Unavailable = ("unavailable", 503),
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The body of every error response: `{"error": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorInfo,
}

/// One error: its code, a message, and details for the codes that have them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorInfo {
    /// The machine code, as text: a client keeps codes it does not know (a newer server may add
    /// some) and falls back on the HTTP status.
    pub code: String,
    /// For people; may change between versions.
    pub message: String,
    /// Code-specific details (`stale_ref`: `ref`, `expected`, `actual`; `upload_offset`:
    /// `offset`; `pack_rejected`: `rejected`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

impl ErrorBody {
    /// An error body with `code` and `message` and no details.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorBody { error: ErrorInfo { code: code.as_str().to_string(), message: message.into(), details: None } }
    }

    /// The same body with `details`.
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.error.details = Some(details);
        self
    }

    /// The code, if it is one this version knows.
    pub fn code(&self) -> Option<ErrorCode> {
        ErrorCode::parse(&self.error.code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_distinct() {
        let mut seen = std::collections::HashSet::new();
        for &code in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
            assert!(seen.insert(code.as_str()));
            assert!((400..600).contains(&code.http_status()));
        }
        assert_eq!(ErrorCode::parse("no_such_code"), None);
    }

    #[test]
    fn every_code_is_in_the_document() {
        let doc = include_str!("../../../docs/protocol.md");
        for &code in ErrorCode::ALL {
            let row = format!("| {} | `{}` |", code.http_status(), code.as_str());
            assert!(doc.contains(&row), "docs/protocol.md lacks the row {row}");
        }
    }

    #[test]
    fn body_shape() {
        let body = ErrorBody::new(ErrorCode::UploadOffset, "resume at 10").with_details(serde_json::json!({"offset": 10}));
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({"error": {"code": "upload_offset", "message": "resume at 10", "details": {"offset": 10}}})
        );
        let plain: ErrorBody = serde_json::from_str(r#"{"error":{"code":"whatever_new","message":"m"}}"#).unwrap();
        assert_eq!(plain.code(), None);
    }
}
