//! The hub's web pages (`docs/hub.md` §Web pages): server-rendered HTML for people, each page
//! with a JSON twin (`Accept: application/json`), and sign-in with a session cookie.
//!
//! Pages read through the hub (who may see what: `muse_hub::Hub::authorize`, the same policy
//! as the wire) and [`crate::content::RepoContent::reader`] (commits, trees, blobs, the history
//! index); none touches SQL or a file. Templates (minijinja, HTML auto-escaping) and the style
//! sheet are compiled into the binary. Every HTML answer carries a Content-Security-Policy
//! that allows no script at all, so an injected `<script>` or `onerror=` cannot run even if
//! escaping failed somewhere.
//!
//! What is computed once and kept: the history index per repository (reopened when a ref
//! points past it), a file's history per (commit, path), highlighted lines per (blob, language);
//! blames are cached by `muse_blame` in the store.

mod highlight;
mod markdown;
mod pages;
mod session;
mod view;

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, OnceLock};

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use minijinja::{Environment, Value};
use muse_core::{CommitId, ObjectId};
use muse_hub::RepoId;
use muse_store::index::HistoryIndex;
use serde::Serialize;

use crate::error::ApiError;
use crate::AppState;

pub use view::model_name;

/// The Content-Security-Policy of every HTML page: nothing but our own style sheet and images.
const PAGE_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The Content-Security-Policy of raw files: a sandbox, nothing loads or runs.
const RAW_CSP: &str = "sandbox; default-src 'none'";

/// The web pages' routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::home))
        .route("/login", get(session::login_form).post(session::login))
        .route("/logout", post(session::logout))
        .route("/static/style.css", get(style))
        .route("/api/repos/{owner}/{name}/history/{ref}/{*path}", get(pages::history_api))
        .route("/{owner}", get(pages::user))
        .route("/{owner}/{name}", get(pages::repo_home))
        .route("/{owner}/{name}/tree/{ref}", get(pages::tree))
        .route("/{owner}/{name}/tree/{ref}/{*path}", get(pages::tree))
        .route("/{owner}/{name}/blob/{ref}/{*path}", get(pages::blob))
        .route("/{owner}/{name}/raw/{ref}/{*path}", get(pages::raw))
        .route("/{owner}/{name}/blame/{ref}/{*path}", get(pages::blame))
        .route("/{owner}/{name}/commits", get(pages::commits))
        .route("/{owner}/{name}/commits/{ref}", get(pages::commits))
        .route("/{owner}/{name}/commit/{id}", get(pages::commit))
        .route("/{owner}/{name}/branches", get(pages::branches))
        .route("/{owner}/{name}/tags", get(pages::tags))
}

const STYLE: &str = include_str!("../../static/style.css");

async fn style() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::X_CONTENT_TYPE_OPTIONS, "nosniff")], STYLE).into_response()
}

/// The compiled templates.
fn templates() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        // HTML escaping of `& < > " '` (minijinja's default also escapes `/`, which makes every
        // URL in an attribute unreadable for nothing).
        env.set_formatter(|out, state, value| match value.as_str() {
            Some(text) if state.auto_escape() == minijinja::AutoEscape::Html && !value.is_safe() => {
                let mut escaped = String::with_capacity(text.len() + 16);
                highlight::escape_into(&mut escaped, text);
                out.write_str(&escaped).map_err(|_| minijinja::Error::new(minijinja::ErrorKind::WriteFailure, "writing a page failed"))
            }
            _ => minijinja::escape_formatter(out, state, value),
        });
        let sources: &[(&str, &str)] = &[
            ("base.html", include_str!("../../templates/base.html")),
            ("macros.html", include_str!("../../templates/macros.html")),
            ("repo_header.html", include_str!("../../templates/repo_header.html")),
            ("error.html", include_str!("../../templates/error.html")),
            ("home.html", include_str!("../../templates/home.html")),
            ("user.html", include_str!("../../templates/user.html")),
            ("login.html", include_str!("../../templates/login.html")),
            ("tree.html", include_str!("../../templates/tree.html")),
            ("blob.html", include_str!("../../templates/blob.html")),
            ("blame.html", include_str!("../../templates/blame.html")),
            ("commits.html", include_str!("../../templates/commits.html")),
            ("commit.html", include_str!("../../templates/commit.html")),
            ("refs.html", include_str!("../../templates/refs.html")),
        ];
        for (name, source) in sources {
            // The templates are part of the binary and tested: a syntax error is a bug.
            if let Err(e) = env.add_template(name, source) {
                tracing::error!(template = name, error = %e, "a template does not compile");
            }
        }
        env
    })
}

/// Renders template `name` with `context`.
fn render(name: &str, context: Value) -> Result<String, ApiError> {
    templates().get_template(name).and_then(|t| t.render(context)).map_err(|e| ApiError::internal(format!("rendering {name}: {e:#}")))
}

/// An HTML page with the page headers.
fn html_response(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(PAGE_CSP));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// A JSON answer.
fn json_response<T: Serialize>(value: &T) -> Response {
    axum::Json(value).into_response()
}

/// Whether the request's `Accept` prefers JSON to HTML: it names `application/json` before
/// `text/html` or `*/*`.
fn wants_json(headers: &HeaderMap) -> bool {
    let accept = headers.get_all(header::ACCEPT).iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>().join(",");
    for media in accept.split(',') {
        match media.split(';').next().unwrap_or("").trim().to_ascii_lowercase().as_str() {
            "application/json" => return true,
            "text/html" | "*/*" | "application/xhtml+xml" => return false,
            _ => {}
        }
    }
    false
}

/// What the layout needs on every page: who is signed in, and the token their sign-out form
/// carries.
#[derive(Debug, Clone, Default, Serialize)]
struct Chrome {
    user: Option<String>,
    csrf: Option<String>,
}

/// An error answered as a page (HTML, with the layout's part) or as the protocol's JSON error
/// (boxed: results stay small).
#[derive(Debug)]
pub(crate) struct WebError(Box<(ApiError, Option<Chrome>)>);

impl WebError {
    /// `error` as a page when `page` is given, else as JSON.
    fn new(error: ApiError, page: Option<Chrome>) -> Self {
        WebError(Box::new((error, page)))
    }

    fn json(error: ApiError) -> Self {
        WebError::new(error, None)
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (error, page) = *self.0;
        let Some(chrome) = page else { return error.into_response() };
        let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let message = error.body().error.message;
        let context = minijinja::context! { chrome => chrome, status => status.as_u16(), code => error.code(), message => message, title => status.canonical_reason().unwrap_or("Error") };
        match render("error.html", context) {
            Ok(body) => html_response(status, body),
            Err(e) => e.into_response(),
        }
    }
}

/// Results of page handlers.
type WebResult<T> = Result<T, WebError>;

/// Bounded memo of immutable values: each entry has a weight (about its bytes), and past
/// `budget` in all the memo starts over (values never go stale: they are keyed by what
/// determines them).
struct Memo<K, V> {
    map: Mutex<(HashMap<K, Arc<V>>, usize)>,
    budget: usize,
}

impl<K: Eq + Hash, V> Memo<K, V> {
    fn new(budget: usize) -> Self {
        Memo { map: Mutex::new((HashMap::new(), 0)), budget }
    }

    fn get(&self, key: &K) -> Option<Arc<V>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).0.get(key).cloned()
    }

    fn put(&self, key: K, value: Arc<V>, weight: usize) {
        if weight > self.budget / 4 {
            return;
        }
        let mut guard = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let (map, used) = &mut *guard;
        if *used + weight > self.budget {
            map.clear();
            *used = 0;
        }
        *used += weight;
        map.insert(key, value);
    }
}

/// What the pages keep between requests (see the module documentation).
pub struct WebCache {
    indexes: Memo<RepoId, HistoryIndex>,
    histories: Memo<(CommitId, String), Vec<CommitId>>,
    lasts: Memo<(CommitId, String), Option<CommitId>>,
    highlighted: Memo<(ObjectId, String), Vec<String>>,
}

impl Default for WebCache {
    fn default() -> Self {
        // Indexes are memory-mapped: weighed one each. The rest by their bytes.
        WebCache { indexes: Memo::new(256), histories: Memo::new(32 << 20), lasts: Memo::new(8 << 20), highlighted: Memo::new(64 << 20) }
    }
}

/// Percent-encodes one path segment for a URL (everything but unreserved characters).
fn enc_segment(text: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
    percent_encoding::utf8_percent_encode(text, SET).to_string()
}

/// Percent-encodes a slash-separated path, segment by segment.
fn enc_path(path: &str) -> String {
    path.split('/').map(enc_segment).collect::<Vec<_>>().join("/")
}
