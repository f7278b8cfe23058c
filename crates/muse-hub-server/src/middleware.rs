//! What every request goes through, around its handler: the protocol version check, rate
//! limits, the `Muse-Protocol` response header, errors rendered as the client asked (a page for
//! a browser, text for `Accept: text/plain`, JSON otherwise), and one log line (method, path,
//! status, duration, user; never a credential).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use muse_protocol::{ErrorBody, ErrorCode, VERSION, VERSION_HEADER};

use crate::error::ApiError;
use crate::rate::client_ip;
use crate::AppState;

/// The socket peer of the connection a request came on (set by the server for each
/// connection).
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

/// Where handlers record the authenticated user's name for the request log.
#[derive(Debug, Clone, Default)]
pub struct LogUser(Arc<Mutex<Option<String>>>);

impl LogUser {
    /// Records `name`.
    pub fn set(&self, name: &str) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(name.to_string());
    }

    fn get(&self) -> String {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone().unwrap_or_else(|| "-".to_string())
    }
}

/// The middleware: see the module's documentation.
pub async fn frame(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let plain = wants_text(request.headers());
    // A browser gets its errors as pages (with its nav bar: its credentials are kept for that),
    // except under `/api/`.
    let browser = (crate::web::wants_html(request.headers()) && !path.starts_with("/api/")).then(|| credentials(&request));
    let head = request.method() == axum::http::Method::HEAD;
    let peer = request.extensions().get::<PeerAddr>().map(|p| p.0).unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
    let ip = client_ip(peer, request.headers(), state.config().trusted_proxy);
    let has_body =
        request.headers().get(header::CONTENT_LENGTH).is_some_and(|v| v.as_bytes() != b"0") || request.headers().contains_key(header::TRANSFER_ENCODING);
    let user = LogUser::default();
    request.extensions_mut().insert(user.clone());
    let response = match admit(&state, &request, ip) {
        Ok(()) => next.run(request).await,
        Err(error) => error.into_response(),
    };
    let response = match browser {
        Some(parts) if response.extensions().get::<ErrorBody>().is_some() => as_page(&state, response, &parts, head).await,
        _ => response,
    };
    let mut response = finish(response, plain);
    if has_body && (response.status().is_client_error() || response.status().is_server_error()) {
        // The handler may have answered without reading the body: the connection cannot carry
        // another request, and the client must know it.
        response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    let status = response.status().as_u16();
    let duration_ms = start.elapsed().as_secs_f64() * 1000.0;
    tracing::info!(target: "musehub::request", %method, %path, status, duration_ms, user = %user.get(), %ip, "request");
    response
}

/// The checks made before the handler runs.
fn admit(state: &AppState, request: &Request, ip: std::net::IpAddr) -> Result<(), ApiError> {
    if let Some(version) = request.headers().get(VERSION_HEADER) {
        if version.to_str().ok().map(str::trim) != Some(&VERSION.to_string()) {
            let shown = String::from_utf8_lossy(version.as_bytes()).chars().take(20).collect::<String>();
            return Err(ApiError::new(ErrorCode::UnsupportedProtocol, format!("protocol version '{shown}' is not spoken here; this server speaks {VERSION}")));
        }
    }
    state.rate_ip().check(format!("ip:{ip}").as_bytes()).map_err(ApiError::rate_limited)?;
    if let Some(credential) = request.headers().get(header::AUTHORIZATION) {
        let mut key = b"credential:".to_vec();
        key.extend_from_slice(credential.as_bytes());
        state.rate_token().check(&key).map_err(ApiError::rate_limited)?;
    }
    Ok(())
}

/// The request's credentials (`Authorization`, `Cookie`) and extensions, to find its visitor
/// after the handler consumed it.
fn credentials(request: &Request) -> axum::http::request::Parts {
    let (mut parts, ()) = Request::new(()).into_parts();
    for name in [header::AUTHORIZATION, header::COOKIE, header::HOST] {
        for value in request.headers().get_all(&name) {
            parts.headers.append(name.clone(), value.clone());
        }
    }
    parts
}

/// An error answered as JSON, as the error page for a browser (the same status, code and
/// message; `Retry-After` kept).
async fn as_page(state: &AppState, response: Response, parts: &axum::http::request::Parts, head: bool) -> Response {
    let Some(body) = response.extensions().get::<ErrorBody>().cloned() else { return response };
    let chrome = crate::web::chrome_of(state, parts).await;
    let mut page = crate::web::error_page(response.status(), &body.error.code, &body.error.message, &chrome);
    for name in [header::RETRY_AFTER, header::CONNECTION] {
        if let Some(value) = response.headers().get(&name) {
            page.headers_mut().insert(name, value.clone());
        }
    }
    if head {
        *page.body_mut() = Body::empty();
    }
    page
}

/// Adds `Muse-Protocol`, and renders an error as `CODE: MESSAGE\n` for a client that prefers
/// text.
fn finish(mut response: Response, plain: bool) -> Response {
    response.headers_mut().insert(VERSION_HEADER, HeaderValue::from(VERSION));
    // Nothing here may be cached by a proxy: answers depend on who asks (private repositories).
    // Pages kept by the server say how a browser may keep them (`private, no-cache` and an
    // entity tag); everything else is `no-store`.
    if !response.headers().contains_key(header::CACHE_CONTROL) {
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if !plain {
        return response;
    }
    let Some(body) = response.extensions().get::<ErrorBody>().cloned() else { return response };
    let text = format!("{}: {}\n", body.error.code, body.error.message.replace('\n', " "));
    let (mut parts, _) = response.into_parts();
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(text))
}

/// Whether the request's `Accept` prefers `text/plain` to JSON: it names `text/plain` before
/// any JSON type.
fn wants_text(headers: &HeaderMap) -> bool {
    let accept = headers.get_all(header::ACCEPT).iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>().join(",");
    for media in accept.split(',') {
        let media = media.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match media.as_str() {
            "text/plain" => return true,
            "application/json" | "*/*" | "application/*" => return false,
            _ => {}
        }
    }
    false
}

/// The answer for a path no route matches, or a method a route does not have.
pub async fn no_such_endpoint(request: Request) -> Response {
    let error = ApiError::not_found(format!("no endpoint {} {}", request.method(), request.uri().path()));
    let mut response = error.into_response();
    if request.method() == axum::http::Method::HEAD {
        *response.body_mut() = Body::empty();
    }
    response
}

/// A panic in a handler becomes `500 internal` (it is a bug; nothing is half-written since
/// every write is atomic).
pub fn panic_response(cause: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let what = cause.downcast_ref::<String>().cloned().or_else(|| cause.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default();
    let mut response = ApiError::internal(format!("handler panicked: {what}")).into_response();
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_negotiation() {
        let accept = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT, HeaderValue::from_str(v).unwrap());
            wants_text(&h)
        };
        assert!(!wants_text(&HeaderMap::new()));
        assert!(accept("text/plain"));
        assert!(accept("text/plain;q=0.9, application/json;q=0.5"));
        assert!(!accept("application/json, text/plain"));
        assert!(!accept("*/*"));
        assert!(accept("text/html, text/plain"));
    }
}
