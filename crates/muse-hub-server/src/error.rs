//! Error responses: `{"error": {code, message, details}}` (`docs/protocol.md` §Errors), or
//! `CODE: MESSAGE\n` for a request that accepts `text/plain` (see [`crate::middleware`]).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use muse_hub::HubError;
use muse_protocol::{ErrorBody, ErrorCode};
use serde_json::json;

/// An error answer: an HTTP status, a stable machine code, a message for people, optional
/// details, and the headers some codes carry.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: u16,
    code: &'static str,
    message: String,
    details: Option<serde_json::Value>,
    retry_after: Option<u64>,
}

impl ApiError {
    /// An error with one of the protocol's codes (its status follows from the code).
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError { status: code.http_status(), code: code.as_str(), message: message.into(), details: None, retry_after: None }
    }

    /// The same error with `details`.
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    /// `429 rate_limited` with `Retry-After: seconds`.
    pub fn rate_limited(seconds: u64) -> Self {
        let mut error = ApiError::new(ErrorCode::RateLimited, format!("too many requests; retry in {seconds} s"));
        error.retry_after = Some(seconds);
        error
    }

    /// `503 unavailable` with `Retry-After: seconds`: the server cannot take this request now.
    pub fn unavailable(seconds: u64, message: impl Into<String>) -> Self {
        let mut error = ApiError::new(ErrorCode::Unavailable, message);
        error.retry_after = Some(seconds);
        error
    }

    /// `400 bad_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::BadRequest, message)
    }

    /// `404 not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::NotFound, message)
    }

    /// `500 internal`; the cause is logged, never shown.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        ApiError::new(ErrorCode::Internal, "the server failed; nothing was half-written")
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The machine code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The seconds of `Retry-After`, for the codes that carry it.
    pub fn retry_after(&self) -> Option<u64> {
        self.retry_after
    }

    /// The body, as the protocol's type.
    pub fn body(&self) -> ErrorBody {
        let mut body = ErrorBody::new(ErrorCode::Internal, self.message.clone());
        body.error.code = self.code.to_string();
        body.error.details = self.details.clone();
        body
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl From<HubError> for ApiError {
    /// The hub's errors keep their code where the protocol has one; the JSON API's own codes
    /// (`conflict`, `invalid_name`, `reserved_name`) are listed in `docs/hub.md`.
    fn from(error: HubError) -> Self {
        let message = error.to_string();
        match error {
            HubError::NotFound(_) => ApiError::new(ErrorCode::NotFound, message),
            HubError::Unauthorized(_) => ApiError::new(ErrorCode::Unauthorized, message),
            HubError::BadToken => ApiError::new(ErrorCode::BadToken, message),
            HubError::TokenExpired => ApiError::new(ErrorCode::TokenExpired, message),
            HubError::TokenRevoked => ApiError::new(ErrorCode::TokenRevoked, message),
            HubError::Forbidden(_) => ApiError::new(ErrorCode::Forbidden, message),
            HubError::StaleRef { ref name, expected, actual } => {
                ApiError::new(ErrorCode::StaleRef, message.clone()).with_details(json!({"ref": name, "expected": expected, "actual": actual}))
            }
            HubError::InvalidRef { ref name, .. } => ApiError::new(ErrorCode::InvalidRef, message.clone()).with_details(json!({"ref": name})),
            HubError::InvalidName { .. } => ApiError { status: 400, code: "invalid_name", message, details: None, retry_after: None },
            HubError::ReservedName { .. } => ApiError { status: 400, code: "reserved_name", message, details: None, retry_after: None },
            HubError::BadRequest(_) => ApiError::new(ErrorCode::BadRequest, message),
            HubError::Conflict(_) => ApiError { status: 409, code: "conflict", message, details: None, retry_after: None },
            HubError::Database(_) | HubError::Migrate(_) | HubError::Internal(_) => ApiError::internal(message),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = self.body();
        let text = serde_json::to_string(&body).unwrap_or_default();
        let mut response = (status, [(header::CONTENT_TYPE, HeaderValue::from_static(muse_protocol::JSON_CONTENT_TYPE))], text).into_response();
        if self.status == 401 {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"muse\""));
        }
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        // The middleware re-renders it as text for `Accept: text/plain`.
        response.extensions_mut().insert(body);
        response
    }
}

/// Results of handlers.
pub type ApiResult<T> = Result<T, ApiError>;
