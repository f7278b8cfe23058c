//! Who visits a page (a token in `Authorization`, else the session cookie, else nobody),
//! sign-in and sign-out.
//!
//! The session cookie `muse_session` is `HttpOnly`, `SameSite=Lax`, `Path=/`, and `Secure` when
//! the request came over TLS through the trusted proxy (`X-Forwarded-Proto: https` from
//! `--trusted-proxy`). Every form is CSRF-safe: the sign-out form carries the session's CSRF
//! token, the sign-in form the value of a `muse_login` cookie set with it (double submit), and
//! a POST whose `Origin` names another host is refused. The wire protocol and the JSON API
//! never read cookies: a browser session can write nothing.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use muse_hub::{Actor, HubError, Session};
use serde::Deserialize;

use super::{html_response, render_for, Chrome, WebError, WebResult};
use crate::auth;
use crate::error::ApiError;
use crate::middleware::{LogUser, PeerAddr};
use crate::AppState;

/// The session cookie's name.
pub(crate) const SESSION_COOKIE: &str = "muse_session";
/// The sign-in form's CSRF cookie.
const LOGIN_COOKIE: &str = "muse_login";
/// The largest form body read (bytes).
const FORM_LIMIT: usize = 16 << 10;

/// Who is asking, and through what.
pub(crate) struct Visitor {
    /// The actor the policy sees.
    pub(crate) actor: Actor,
    /// The session, when signed in through the cookie.
    pub(crate) session: Option<Session>,
}

impl Visitor {
    /// The layout's view of the visitor.
    pub(super) fn chrome(&self) -> Chrome {
        Chrome { user: self.actor.user().map(|u| u.name.clone()), csrf: self.session.as_ref().map(|s| s.csrf_token.clone()) }
    }
}

/// The value of cookie `name`, if sent.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// The visitor of a request: a token in `Authorization` (an invalid one is `401`), else a live
/// session cookie, else anonymous.
pub(crate) async fn visitor(state: &AppState, parts: &Parts) -> Result<Visitor, ApiError> {
    if parts.headers.contains_key(header::AUTHORIZATION) {
        return Ok(Visitor { actor: auth::actor(state, parts).await?, session: None });
    }
    let Some(secret) = cookie(&parts.headers, SESSION_COOKIE) else { return Ok(Visitor { actor: Actor::Anonymous, session: None }) };
    let session = state.hub().session(secret).await?;
    if let (Some(slot), Some(session)) = (parts.extensions.get::<LogUser>(), &session) {
        slot.set(&session.user.name);
    }
    Ok(Visitor { actor: session.as_ref().map_or(Actor::Anonymous, Session::actor), session })
}

/// Whether the request came over TLS: `X-Forwarded-Proto: https` from the trusted proxy.
fn over_tls(state: &AppState, parts: &Parts) -> bool {
    let from_proxy = match (parts.extensions.get::<PeerAddr>(), state.config().trusted_proxy) {
        (Some(peer), Some(proxy)) => peer.0.ip() == proxy,
        _ => false,
    };
    from_proxy && parts.headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

/// The scheme and host the visitor used, for absolute URLs (the clone URL).
pub(crate) fn origin(state: &AppState, parts: &Parts) -> String {
    let host = parts.headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("localhost");
    format!("{}://{host}", if over_tls(state, parts) { "https" } else { "http" })
}

/// A `Set-Cookie` value.
fn set_cookie(name: &str, value: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("muse_invalid=; Max-Age=0"))
}

/// A POST from another site is refused: its `Origin`, when sent, must name this host.
fn same_origin(parts: &Parts) -> bool {
    let Some(origin) = parts.headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else { return true };
    let host = parts.headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    let origin_host = origin.split_once("://").map_or("", |(_, rest)| rest);
    !host.is_empty() && origin_host.eq_ignore_ascii_case(host)
}

/// Compares two secrets in time independent of where they differ.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A 16-byte random value in hex.
fn random_hex() -> Result<String, ApiError> {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).map_err(ApiError::internal)?;
    Ok(hex::encode(bytes))
}

/// `next` if it is a path on this site (one leading `/`, no `\`), else `/`.
fn local_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') && !n.chars().any(char::is_control) => n.to_string(),
        _ => "/".to_string(),
    }
}

/// A 403 page for a form without its CSRF token or from another site.
fn forbidden(chrome: Chrome) -> WebError {
    WebError::new(ApiError::new(muse_protocol::ErrorCode::Forbidden, "the form's CSRF token is missing or wrong, or it came from another site"), Some(chrome))
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

fn login_page(chrome: Chrome, csrf: &str, next: &str, error: Option<&str>, username: &str) -> Result<String, WebError> {
    let context = minijinja::context! { title => "Sign in", csrf => csrf, next => next, error => error, username => username };
    render_for("login.html", context, &chrome).map_err(WebError::json)
}

/// `GET /login`: the sign-in form, with a fresh CSRF cookie.
pub(crate) async fn login_form(State(state): State<AppState>, request: Request) -> WebResult<Response> {
    let (parts, _) = request.into_parts();
    let visitor = visitor(&state, &parts).await.map_err(WebError::json)?;
    let query: NextQuery = serde_urlencoded::from_str(parts.uri.query().unwrap_or("")).unwrap_or(NextQuery { next: None });
    let next = local_next(query.next.as_deref());
    let csrf = random_hex().map_err(WebError::json)?;
    let body = login_page(visitor.chrome(), &csrf, &next, None, "")?;
    let mut response = html_response(StatusCode::OK, body);
    response.headers_mut().append(header::SET_COOKIE, set_cookie(LOGIN_COOKIE, &csrf, 3600, over_tls(&state, &parts)));
    Ok(response)
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
    next: Option<String>,
}

#[derive(Deserialize)]
struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

/// Reads a form body of at most [`FORM_LIMIT`] bytes.
async fn form<T: serde::de::DeserializeOwned>(body: Body) -> Result<T, ApiError> {
    let bytes = axum::body::to_bytes(body, FORM_LIMIT).await.map_err(|_| ApiError::new(muse_protocol::ErrorCode::TooLarge, "the form is too large"))?;
    serde_urlencoded::from_bytes(&bytes).map_err(|e| ApiError::bad_request(format!("the form does not parse: {e}")))
}

/// `POST /login`: checks the CSRF cookie and the password, opens a session and redirects to
/// `next`; a wrong password shows the form again with an error (401).
pub(crate) async fn login(State(state): State<AppState>, request: Request) -> WebResult<Response> {
    let (parts, body) = request.into_parts();
    let chrome = Chrome::default();
    let page = |e: ApiError| WebError::new(e, Some(Chrome::default()));
    let form: LoginForm = form(body).await.map_err(page)?;
    let expected = cookie(&parts.headers, LOGIN_COOKIE).unwrap_or("");
    if !same_origin(&parts) || form.csrf.is_empty() || !same_secret(&form.csrf, expected) {
        return Err(forbidden(chrome));
    }
    let next = local_next(form.next.as_deref());
    let tls = over_tls(&state, &parts);
    match state.hub().verify_password(&form.username, &form.password).await {
        Ok(user) => {
            let lifetime = state.config().limits.session_lifetime.as_secs().max(1) as i64;
            let (_, secret) = state.hub().create_session(&user, lifetime).await.map_err(|e| page(e.into()))?;
            tracing::info!(user = %user.name, "signed in");
            let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, next)]).into_response();
            response.headers_mut().append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, &secret, lifetime, tls));
            response.headers_mut().append(header::SET_COOKIE, set_cookie(LOGIN_COOKIE, "", 0, tls));
            Ok(response)
        }
        Err(HubError::Unauthorized(_)) => {
            let body = login_page(chrome, &form.csrf, &next, Some("Wrong user name or password."), &form.username)?;
            Ok(html_response(StatusCode::UNAUTHORIZED, body))
        }
        Err(e) => Err(page(e.into())),
    }
}

/// `POST /logout`: ends the session (its CSRF token required) and redirects to `/`.
pub(crate) async fn logout(State(state): State<AppState>, request: Request) -> WebResult<Response> {
    let (parts, body) = request.into_parts();
    let visitor = visitor(&state, &parts).await.map_err(WebError::json)?;
    let chrome = visitor.chrome();
    let form: LogoutForm = form(body).await.map_err(|e| WebError::new(e, Some(chrome.clone())))?;
    let tls = over_tls(&state, &parts);
    if let Some(session) = &visitor.session {
        if !same_origin(&parts) || !same_secret(&form.csrf, &session.csrf_token) {
            return Err(forbidden(chrome));
        }
        if let Some(secret) = cookie(&parts.headers, SESSION_COOKIE) {
            state.hub().end_session(secret).await.map_err(|e| WebError::json(e.into()))?;
        }
    }
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, "/")]).into_response();
    response.headers_mut().append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, "", 0, tls));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_next_and_origins() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("a=1; muse_session=muses_x ;b=2"));
        assert_eq!(cookie(&headers, "muse_session"), Some("muses_x"));
        assert_eq!(cookie(&headers, "c"), None);
        assert_eq!(local_next(Some("/ada/repo?x=1")), "/ada/repo?x=1");
        for bad in [None, Some("//evil.org"), Some("https://evil.org"), Some("/\\evil.org"), Some("x")] {
            assert_eq!(local_next(bad), "/", "{bad:?}");
        }
        let request = |origin: Option<&str>| {
            let mut builder = axum::http::Request::builder().header(header::HOST, "hub.test:8080");
            if let Some(origin) = origin {
                builder = builder.header(header::ORIGIN, origin);
            }
            builder.body(()).unwrap().into_parts().0
        };
        assert!(same_origin(&request(None)));
        assert!(same_origin(&request(Some("http://hub.test:8080"))));
        assert!(!same_origin(&request(Some("http://evil.test"))));
        assert!(!same_origin(&request(Some("null"))));
        assert!(same_secret("abc", "abc") && !same_secret("abc", "abd") && !same_secret("abc", "ab"));
    }
}
