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
//! What is computed once and kept: every rendered page and JSON twin of a repository
//! ([`cache`]: keyed by what determines it, the visitor's authorization checked first), the
//! history index per repository ([`index`]: brought up to date after each push, in the
//! background), a file's history per (commit, path), highlighted lines per (blob, language);
//! blames are cached by `muse_blame` in the store.

mod cache;
mod highlight;
mod index;
mod markdown;
mod pages;
mod session;
pub(crate) mod view;

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
            ("nav.html", include_str!("../../templates/nav.html")),
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

/// Where a page's nav bar goes until the visitor's is put there: an HTML comment no escaped
/// text can contain, and the first thing in a page after its (escaped) title.
const NAV_MARK: &str = "<!--musehub-nav-->";

/// Renders template `name` with `context`, the nav bar left as [`NAV_MARK`].
fn render(name: &str, context: Value) -> Result<String, ApiError> {
    let context = minijinja::context! { nav => Value::from_safe_string(NAV_MARK.to_string()), ..context };
    templates().get_template(name).and_then(|t| t.render(context)).map_err(|e| ApiError::internal(format!("rendering {name}: {e:#}")))
}

/// The nav bar of a visitor: their name and the sign-out form, or the sign-in link.
fn nav_html(chrome: &Chrome) -> Result<String, ApiError> {
    static ANONYMOUS: OnceLock<String> = OnceLock::new();
    if chrome.user.is_none() {
        if let Some(nav) = ANONYMOUS.get() {
            return Ok(nav.clone());
        }
    }
    let nav = templates()
        .get_template("nav.html")
        .and_then(|t| t.render(minijinja::context! { chrome => chrome }))
        .map_err(|e| ApiError::internal(format!("rendering nav.html: {e:#}")))?;
    if chrome.user.is_none() {
        let _ = ANONYMOUS.set(nav.clone());
    }
    Ok(nav)
}

/// `page` with the nav bar of `chrome` in place of [`NAV_MARK`], and where it went.
fn with_nav(mut page: String, chrome: &Chrome) -> Result<(String, Option<(usize, usize)>), ApiError> {
    let Some(at) = page.find(NAV_MARK) else { return Ok((page, None)) };
    let nav = nav_html(chrome)?;
    page.replace_range(at..at + NAV_MARK.len(), &nav);
    Ok((page, Some((at, at + nav.len()))))
}

/// Renders template `name` for the visitor of `chrome`.
fn render_for(name: &str, context: Value, chrome: &Chrome) -> Result<String, ApiError> {
    Ok(with_nav(render(name, context)?, chrome)?.0)
}

/// A page's answer before it is sent: a body to send and maybe keep, or a response as it is.
pub(crate) enum Fresh {
    /// An HTML page (with [`NAV_MARK`]) or a JSON text, which reads the same until unix time
    /// `until`.
    Body {
        /// JSON rather than HTML.
        json: bool,
        /// The text.
        body: String,
        /// When a relative age in it reads differently (`i64::MAX`: never).
        until: i64,
    },
    /// Sent as it is and never kept (a redirect).
    Direct(Response),
}

impl Fresh {
    /// A JSON answer of `value`.
    fn json<T: Serialize>(value: &T) -> Result<Fresh, ApiError> {
        let body = serde_json::to_string(value).map_err(|e| ApiError::internal(format!("encoding JSON: {e}")))?;
        Ok(Fresh::Body { json: true, body, until: i64::MAX })
    }
}

/// The headers of every HTML page.
fn page_headers(headers: &mut HeaderMap) {
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(PAGE_CSP));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

/// An HTML page with the page headers.
fn html_response(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    page_headers(response.headers_mut());
    response
}

/// The response header that says whether a page was kept (`hit`) or rendered for this request
/// (`miss`).
const CACHE_HEADER: &str = "muse-cache";

/// A kept answer for the visitor of `chrome`: their nav bar put in, an entity tag, [`CACHE_HEADER`]
/// (`hit`: it was kept before this request), and `304 Not Modified` when `request_headers` name
/// that tag in `If-None-Match`. `private`: the repository is private, and no browser may store
/// the answer.
fn cached_response(entry: &cache::Cached, hit: bool, chrome: &Chrome, request_headers: &HeaderMap, private: bool) -> Result<Response, ApiError> {
    let (body, etag) = match entry.nav {
        Some((start, end)) if chrome.user.is_some() => {
            let nav = nav_html(chrome)?;
            let mut body = Vec::with_capacity(entry.body.len() - (end - start) + nav.len());
            body.extend_from_slice(&entry.body[..start]);
            body.extend_from_slice(nav.as_bytes());
            body.extend_from_slice(&entry.body[end..]);
            (bytes::Bytes::from(body), cache::etag(&entry.digest, Some(&nav)))
        }
        _ => (entry.body.clone(), cache::etag(&entry.digest, None)),
    };
    let unchanged = request_headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| cache::none_match(v, &etag));
    let mut response = if unchanged { StatusCode::NOT_MODIFIED.into_response() } else { body.into_response() };
    let headers = response.headers_mut();
    if entry.json {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(muse_protocol::JSON_CONTENT_TYPE));
    } else {
        page_headers(headers);
    }
    if unchanged {
        headers.remove(header::CONTENT_TYPE);
    }
    headers.insert(header::ETAG, HeaderValue::from_str(&etag).map_err(ApiError::internal)?);
    headers.insert(CACHE_HEADER, HeaderValue::from_static(if hit { "hit" } else { "miss" }));
    // Answers differ by who asks and what they accept; no shared cache may keep them, and a
    // browser asks again each time (the visitor's access is checked then).
    headers.insert(header::VARY, HeaderValue::from_static("Accept, Authorization, Cookie"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(if private { "no-store" } else { "private, no-cache" }));
    Ok(response)
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
pub(crate) struct Chrome {
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
        let mut response = error_page(status, error.code(), &error.body().error.message, &chrome);
        if let Some(seconds) = error.retry_after() {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// The error page of `status` for the visitor of `chrome` (`data-testid="not-found"` for a
/// 404, `"error"` otherwise); a 401 keeps its `WWW-Authenticate`.
pub(crate) fn error_page(status: StatusCode, code: &str, message: &str, chrome: &Chrome) -> Response {
    let title = status.canonical_reason().unwrap_or("Error");
    let context = minijinja::context! { status => status.as_u16(), code => code, message => message, title => title };
    let mut response = match render_for("error.html", context, chrome) {
        Ok(body) => html_response(status, body),
        Err(e) => return e.into_response(),
    };
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"muse\""));
    }
    response
}

/// Whether a request comes from a browser that wants a page: its `Accept` names `text/html` (or
/// XHTML) before any JSON type. Such a request gets its errors as pages, except under `/api/`.
pub(crate) fn wants_html(headers: &HeaderMap) -> bool {
    let accept = headers.get_all(header::ACCEPT).iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>().join(",");
    for media in accept.split(',') {
        match media.split(';').next().unwrap_or("").trim().to_ascii_lowercase().as_str() {
            "text/html" | "application/xhtml+xml" => return true,
            "application/json" => return false,
            _ => {}
        }
    }
    false
}

/// The nav bar's view of whoever sent `parts` (anonymous when the credentials do not hold).
pub(crate) async fn chrome_of(state: &AppState, parts: &axum::http::request::Parts) -> Chrome {
    match session::visitor(state, parts).await {
        Ok(visitor) => visitor.chrome(),
        Err(_) => Chrome::default(),
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
    pages: cache::PageCache,
    refs: cache::RefsCache,
    indexes: index::Indexes,
    histories: Memo<(CommitId, String), Vec<CommitId>>,
    lasts: Memo<(CommitId, String), Option<CommitId>>,
    highlighted: Memo<(ObjectId, String), Vec<String>>,
}

impl Default for WebCache {
    fn default() -> Self {
        WebCache {
            pages: cache::PageCache::new(cache::PAGE_BUDGET),
            refs: cache::RefsCache::default(),
            indexes: index::Indexes::default(),
            histories: Memo::new(32 << 20),
            lasts: Memo::new(8 << 20),
            highlighted: Memo::new(64 << 20),
        }
    }
}

/// The most bytes of changed files a push gets highlighted in the background (highlighting takes
/// up to about a second per 64 KiB).
const PUSH_HIGHLIGHT_BYTES: usize = 512 << 10;

impl WebCache {
    /// The highlighted lines of a text blob, kept per (blob, path's language). Blocking.
    fn lines(&self, blob: ObjectId, path: &str, text: &str) -> Arc<Vec<String>> {
        let key = (blob, highlight::language(path));
        if let Some(found) = self.highlighted.get(&key) {
            return found;
        }
        let lines = Arc::new(highlight::highlight(path, text));
        let weight = 64 + lines.iter().map(|l| l.len() + std::mem::size_of::<String>()).sum::<usize>();
        self.highlighted.put(key, Arc::clone(&lines), weight);
        lines
    }

    /// Highlights the text files that the branch moves `moved` (old tip, new tip) changed, at
    /// most [`PUSH_HIGHLIGHT_BYTES`] of them in all, so that their pages are quick the first
    /// time too. Returns how many were highlighted. Blocking.
    fn highlight_changes(&self, store: &muse_store::Store, moved: &[(CommitId, CommitId)]) -> Result<usize, muse_store::StoreError> {
        let mut budget = PUSH_HIGHLIGHT_BYTES;
        let mut done = 0;
        for (old, new) in moved {
            let (old, new) = (store.objects().read_commit(old)?.snapshot, store.objects().read_commit(new)?.snapshot);
            for change in muse_store::snapshot::diff_snapshots(store.objects(), Some(old), Some(new))? {
                let Some((muse_core::EntryKind::File | muse_core::EntryKind::Executable, blob)) = change.new else { continue };
                if self.highlighted.get(&(blob, highlight::language(&change.path))).is_some() {
                    continue;
                }
                let data = store.objects().read(&blob)?.data;
                if data.len() > budget.min(highlight::HIGHLIGHT_MAX) || muse_diff::is_binary(&data) {
                    continue;
                }
                let Ok(text) = std::str::from_utf8(&data) else { continue };
                budget -= data.len();
                self.lines(blob, &change.path, text);
                done += 1;
            }
        }
        Ok(done)
    }
}

/// After a push was accepted, in the background: brings the history index of `repo` up to date
/// with its refs, then highlights what the branch moves `moved` (old tip, new tip) changed
/// ([`WebCache::highlight_changes`]). One repository at a time; a push while one is waiting adds
/// its moves to it (it will see the refs as they are when it starts). A page that needs the
/// index meanwhile waits for that build rather than starting a second.
pub(crate) fn after_push(state: &AppState, repo: RepoId, moved: Vec<(CommitId, CommitId)>) {
    if !state.web().indexes.enqueue(repo, moved) {
        return;
    }
    let state = state.clone();
    tokio::spawn(async move {
        let (_slot, moved) = state.web().indexes.start_background(repo).await;
        let tips: Vec<CommitId> = match state.hub().refs(repo).await {
            Ok(refs) => refs.into_iter().map(|(_, id)| id).collect(),
            Err(e) => return tracing::warn!(%repo, error = %e, "reading refs for the history index failed"),
        };
        let reader = match state.content().reader(repo).await {
            Ok(Some(reader)) => reader,
            Ok(None) => return,
            Err(e) => return tracing::warn!(%repo, error = %e, "opening the store for the history index failed"),
        };
        let web = state.clone();
        let started = std::time::Instant::now();
        let work = move || {
            let index = web.web().indexes.covering(repo, reader.store(), &tips)?;
            let highlighted = web.web().highlight_changes(reader.store(), &moved)?;
            Ok::<_, muse_store::StoreError>((index.len(), highlighted))
        };
        match tokio::task::spawn_blocking(work).await {
            Ok(Ok((commits, highlighted))) => {
                tracing::info!(%repo, commits, highlighted, ms = started.elapsed().as_millis() as u64, "pages ready after a push")
            }
            Ok(Err(e)) => tracing::warn!(%repo, error = %e, "preparing pages after a push failed"),
            Err(e) => tracing::warn!(%repo, error = %e, "preparing pages after a push failed"),
        }
    });
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

#[cfg(test)]
mod tests {
    use super::*;
    use muse_core::{Commit, EntryKind, Tree, TreeEntry};
    use muse_store::{ObjectKind, Store};

    fn commit(store: &Store, parent: Option<CommitId>, files: &[(&str, &[u8])]) -> (CommitId, Vec<ObjectId>) {
        let mut writer = store.objects().begin_write().unwrap();
        let mut entries = Vec::new();
        let mut blobs = Vec::new();
        for (name, data) in files {
            let id = writer.add(ObjectKind::Blob, data).unwrap();
            blobs.push(id);
            entries.push(TreeEntry { name: (*name).into(), kind: EntryKind::File, id });
        }
        let snapshot = writer.add_tree(&Tree::from_entries(entries).unwrap()).unwrap();
        let commit = Commit { parents: parent.into_iter().collect(), snapshot, committed_at: "2026-01-01T00:00:00Z".into(), ..Commit::default() };
        let id = writer.add_commit(&commit).unwrap();
        writer.finish().unwrap();
        (id, blobs)
    }

    #[test]
    fn a_push_highlights_the_text_files_it_changed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::init_bare(&dir.path().join("r.muse"), "main").unwrap();
        let big = "x = 1\n".repeat(100_000);
        let (old, _) = commit(&store, None, &[("a.py", b"x = 1\n"), ("b.py", b"y = 2\n")]);
        let (new, blobs) = commit(
            &store,
            Some(old),
            &[("a.py", b"x = 3\n"), ("b.py", b"y = 2\n"), ("big.py", big.as_bytes()), ("c.rs", b"fn main() {}\n"), ("d.bin", b"\0\x01")],
        );
        let cache = WebCache::default();
        assert_eq!(cache.highlight_changes(&store, &[(old, new)]).unwrap(), 2, "a.py and c.rs");
        let kept = |blob: ObjectId, language: &str| cache.highlighted.get(&(blob, language.to_string())).is_some();
        assert!(kept(blobs[0], "python") && kept(blobs[3], "rust"));
        assert!(!kept(blobs[1], "python"), "unchanged");
        assert!(!kept(blobs[2], "python"), "over the highlighting limit: shown plain");
        assert!(cache.highlighted.get(&(blobs[4], highlight::language("d.bin"))).is_none(), "binary");
        assert_eq!(cache.highlight_changes(&store, &[(old, new)]).unwrap(), 0, "kept already");
    }
}
