//! The page handlers. Each one authenticates ([`super::session::visitor`]), asks the one policy
//! for read access (a repository the visitor may not read is a 404, exactly like a missing
//! one), reads through the repository's [`RepoReader`] on the blocking pool, and answers HTML or,
//! for `Accept: application/json`, the JSON twin documented in `docs/hub.md` §Web pages.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::Value;
use muse_blame::{BlameError, BlameOptions};
use muse_core::{Commit, CommitId, EntryKind, ObjectId, TreeId};
use muse_hub::{Action, Repo, RepoId};
use muse_store::index::HistoryIndex;
use muse_store::snapshot::{diff_snapshots, lookup};
use muse_store::{Store, StoreError};
use serde::{Deserialize, Serialize};

use super::cache::{Cached, PageKey, Refs};
use super::highlight::{self, escape_into};
use super::session::{origin, visitor, Visitor};
use super::view::{ages_change_at, author_label, now, CommitJson, CommitRow};
use super::{cached_response, enc_path, enc_segment, html_response, markdown, render, wants_json, with_nav, Chrome, Fresh, WebError, WebResult};
use crate::content::RepoReader;
use crate::error::ApiError;
use crate::extract::PathParams;
use crate::signing::badged_rows;
use crate::AppState;

/// Rows per page of a file's history and of the commit list.
const PER_PAGE: usize = 50;
/// The most rows a page of the history API may ask for.
const MAX_PER_PAGE: usize = 1000;
/// Files larger than this are offered as a download instead of shown (bytes).
const DISPLAY_MAX: usize = 2 << 20;
/// The most changed files a commit page shows diffs for.
const MAX_DIFF_FILES: usize = 300;
/// Files larger than this get no diff on a commit page (bytes).
const MAX_DIFF_BYTES: usize = 1 << 20;

/// A repository as the pages' JSON shows it (the JSON API's shape).
#[derive(Debug, Clone, Serialize)]
struct RepoJson {
    owner: String,
    name: String,
    full_name: String,
    private: bool,
    created_at: i64,
}

impl From<&Repo> for RepoJson {
    fn from(repo: &Repo) -> Self {
        RepoJson { owner: repo.owner.clone(), name: repo.name.clone(), full_name: repo.full_name(), private: repo.private, created_at: repo.created_at }
    }
}

/// A request for a page, before its repository is known.
struct Ask {
    parts: Parts,
    json: bool,
    visitor: Visitor,
}

impl Ask {
    async fn new(state: &AppState, request: Request) -> WebResult<Ask> {
        let (parts, _) = request.into_parts();
        let json = wants_json(&parts.headers);
        let visitor = visitor(state, &parts).await.map_err(|error| WebError::new(error, (!json).then(Chrome::default)))?;
        Ok(Ask { parts, json, visitor })
    }

    fn fail(&self, error: impl Into<ApiError>) -> WebError {
        WebError::new(error.into(), (!self.json).then(|| self.visitor.chrome()))
    }

    fn not_found(&self, what: impl Into<String>) -> WebError {
        self.fail(ApiError::not_found(what))
    }

    fn query<T: serde::de::DeserializeOwned>(&self) -> WebResult<T> {
        serde_urlencoded::from_str(self.parts.uri.query().unwrap_or("")).map_err(|e| self.fail(ApiError::bad_request(format!("bad query: {e}"))))
    }

    /// An HTML page from template `name` with `context` (its relative ages reading the same
    /// until unix time `until`), or the JSON twin.
    fn answer<T: Serialize>(&self, name: &str, context: Value, json: &T, until: i64) -> WebResult<Fresh> {
        if self.json {
            return Fresh::json(json).map_err(|e| self.fail(e));
        }
        Ok(Fresh::Body { json: false, body: render(name, context).map_err(|e| self.fail(e))?, until })
    }

    /// The JSON twin `json`.
    fn json<T: Serialize>(&self, json: &T) -> WebResult<Fresh> {
        Fresh::json(json).map_err(|e| self.fail(e))
    }

    /// Sends an answer that is not kept, with the visitor's nav bar.
    fn send(&self, fresh: Fresh) -> WebResult<Response> {
        match fresh {
            Fresh::Direct(response) => Ok(response),
            Fresh::Body { json: true, body, .. } => {
                Ok(([(header::CONTENT_TYPE, HeaderValue::from_static(muse_protocol::JSON_CONTENT_TYPE))], body).into_response())
            }
            Fresh::Body { json: false, body, .. } => {
                let (page, _) = with_nav(body, &self.visitor.chrome()).map_err(|e| self.fail(e))?;
                Ok(html_response(StatusCode::OK, page))
            }
        }
    }
}

/// An authorized repository with its refs and content.
struct Opened {
    ask: Ask,
    state: AppState,
    repo: Repo,
    refs: Arc<Refs>,
    reader: tokio::sync::OnceCell<Option<RepoReader>>,
}

async fn open(state: &AppState, request: Request) -> WebResult<(Opened, PathParams)> {
    let (mut parts, body) = request.into_parts();
    let params = <PathParams as axum::extract::FromRequestParts<AppState>>::from_request_parts(&mut parts, state).await;
    let ask = Ask::new(state, Request::from_parts(parts, body)).await?;
    let params = params.map_err(|e| ask.fail(e))?;
    let (owner, name) = (params.get("owner").map_err(|e| ask.fail(e))?, params.get("name").map_err(|e| ask.fail(e))?);
    // The visitor's access, on every request, before anything kept is looked at.
    let repo = state.hub().authorize(&ask.visitor.actor, owner, name, Action::Read).await.map_err(|e| ask.fail(e))?;
    let refs = refs(state, repo.id).await.map_err(|e| ask.fail(e))?;
    Ok((Opened { ask, state: state.clone(), repo, refs, reader: tokio::sync::OnceCell::new() }, params))
}

/// The refs of `repo`: the snapshot kept if the hub counted no change since (and it is
/// recent), else read anew.
async fn refs(state: &AppState, repo: RepoId) -> Result<Arc<Refs>, ApiError> {
    let generation = state.hub().generation(repo);
    if let Some(refs) = state.web().refs.get(repo, generation) {
        return Ok(refs);
    }
    let list = state.hub().refs(repo).await?;
    Ok(state.web().refs.put(repo, generation, list))
}

/// Runs blocking store work on the blocking pool.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, ApiError> + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ApiError::internal(format!("a page worker failed: {e}")))?
}

fn store_error(error: StoreError) -> ApiError {
    match error {
        StoreError::ObjectNotFound(id) => ApiError::not_found(format!("no object {id}")),
        other => ApiError::internal(other),
    }
}

impl Opened {
    fn base(&self) -> String {
        format!("/{}/{}", enc_segment(&self.repo.owner), enc_segment(&self.repo.name))
    }

    fn branches(&self) -> Vec<String> {
        self.refs.list.iter().filter_map(|(n, _)| n.strip_prefix("refs/heads/")).map(str::to_string).collect()
    }

    /// The default branch: `main` if it exists, else the first branch by name.
    fn default_branch(&self) -> Option<String> {
        let branches = self.branches();
        branches.iter().find(|b| *b == "main").or_else(|| branches.first()).cloned()
    }

    /// A ref as written in a URL: a branch, then a tag, then a full commit id.
    fn resolve(&self, text: &str) -> WebResult<CommitId> {
        for prefix in ["refs/heads/", "refs/tags/"] {
            if let Some((_, id)) = self.refs.list.iter().find(|(n, _)| n.strip_prefix(prefix) == Some(text)) {
                return Ok(*id);
            }
        }
        CommitId::parse(text).map_err(|_| self.ask.not_found(format!("no branch, tag or commit '{text}' in {}", self.repo.full_name())))
    }

    /// The repository's content; `not_found` for a repository nothing was pushed to.
    async fn reader(&self) -> WebResult<RepoReader> {
        let reader = self
            .reader
            .get_or_try_init(|| async { self.state.content().reader(self.repo.id).await.map_err(ApiError::internal) })
            .await
            .map_err(|e| self.ask.fail(e))?;
        reader.clone().ok_or_else(|| self.ask.not_found(format!("{} is empty", self.repo.full_name())))
    }

    fn tips(&self) -> Vec<CommitId> {
        self.refs.list.iter().map(|(_, id)| *id).collect()
    }

    /// The repository header's context: name, tabs, branches, clone URL.
    fn header(&self, tab: &str, reference: &str) -> Value {
        let branch_links: Vec<Value> = self
            .branches()
            .into_iter()
            .map(|b| minijinja::context! { url => format!("{}/tree/{}", self.base(), enc_segment(&b)), current => b == reference, name => b })
            .collect();
        minijinja::context! {
            owner => self.repo.owner, name => self.repo.name, private => self.repo.private, base => self.base(),
            owner_url => format!("/{}", enc_segment(&self.repo.owner)), tab => tab, reference => reference,
            ref_url => enc_segment(reference), branches => branch_links,
            clone_url => format!("{}{}", origin(&self.state, &self.ask.parts), self.base()),
        }
    }

    async fn run<T: Send + 'static>(&self, f: impl FnOnce(Work) -> Result<T, ApiError> + Send + 'static) -> WebResult<T> {
        let work = Work { state: self.state.clone(), repo: self.repo.id, reader: self.reader().await?, tips: self.tips() };
        blocking(move || f(work)).await.map_err(|e| self.ask.fail(e))
    }

    /// The key of this repository's page `view` at `commit`, with `parts` (the ref as written,
    /// the path, the query: whatever else the page shows that the request chose).
    fn key(&self, view: &'static str, commit: Option<CommitId>, parts: &[&str]) -> PageKey {
        let mut rest = parts.join("\0");
        rest.push('\0');
        rest.push_str(&origin(&self.state, &self.ask.parts));
        PageKey { repo: self.repo.id, generation: self.refs.generation, refs: self.refs.digest, view, commit, json: self.ask.json, rest }
    }

    /// The answer kept for `key`, else `make`'s (kept when it is a body). One request renders a
    /// key at a time; the others wait for it and send what it kept.
    async fn cached(&self, key: PageKey, make: impl std::future::Future<Output = WebResult<Fresh>>) -> WebResult<Response> {
        let pages = &self.state.web().pages;
        let (entry, hit) = match pages.get(&key, now()) {
            Some(entry) => (entry, true),
            None => {
                let _flight = pages.flight(&key).await;
                match pages.get(&key, now()) {
                    Some(entry) => (entry, true),
                    None => match make.await? {
                        Fresh::Direct(response) => return Ok(response),
                        Fresh::Body { json, body, until } => {
                            let (body, nav) = if json { (body, None) } else { with_nav(body, &Chrome::default()).map_err(|e| self.ask.fail(e))? };
                            let entry = Arc::new(Cached::new(json, body, nav, until));
                            pages.put(key, Arc::clone(&entry));
                            (entry, false)
                        }
                    },
                }
            }
        };
        cached_response(&entry, hit, &self.ask.visitor.chrome(), &self.ask.parts.headers, self.repo.private).map_err(|e| self.ask.fail(e))
    }
}

/// What blocking page work needs.
struct Work {
    state: AppState,
    repo: RepoId,
    reader: RepoReader,
    tips: Vec<CommitId>,
}

impl Work {
    fn store(&self) -> &Store {
        self.reader.store()
    }

    fn commit(&self, id: CommitId) -> Result<Commit, ApiError> {
        self.store().objects().read_commit(&id).map_err(store_error)
    }

    /// The history index, covering every ref and `extra` (built by this call, or by the build
    /// under way that it waits for).
    fn index(&self, extra: CommitId) -> Result<Arc<HistoryIndex>, ApiError> {
        let mut tips = self.tips.clone();
        tips.push(extra);
        self.state.web().indexes.covering(self.repo, self.store(), &tips).map_err(store_error)
    }

    /// Every commit that changed `path` in the history of `commit`, newest first (git's history
    /// simplification, from the index); kept per (commit, path).
    fn history(&self, commit: CommitId, path: &str) -> Result<Arc<Vec<CommitId>>, ApiError> {
        let key = (commit, path.to_string());
        if let Some(found) = self.state.web().histories.get(&key) {
            return Ok(found);
        }
        let index = self.index(commit)?;
        let ids: Vec<CommitId> =
            index.log(self.store(), &[commit], &[path.to_string()], false).map_err(store_error)?.collect::<Result<_, _>>().map_err(store_error)?;
        let ids = Arc::new(ids);
        let weight = 64 + key.1.len() + ids.len() * std::mem::size_of::<CommitId>();
        self.state.web().histories.put(key, Arc::clone(&ids), weight);
        Ok(ids)
    }

    /// The newest commit that changed `path` in the history of `commit`.
    fn last_change(&self, commit: CommitId, path: &str) -> Result<Option<CommitId>, ApiError> {
        if let Some(found) = self.state.web().histories.get(&(commit, path.to_string())) {
            return Ok(found.first().copied());
        }
        let key = (commit, path.to_string());
        if let Some(found) = self.state.web().lasts.get(&key) {
            return Ok(*found);
        }
        let index = self.index(commit)?;
        let first = index.log(self.store(), &[commit], &[path.to_string()], false).map_err(store_error)?.next().transpose().map_err(store_error)?;
        let weight = 64 + key.1.len() + std::mem::size_of::<Option<CommitId>>();
        self.state.web().lasts.put(key, Arc::new(first), weight);
        Ok(first)
    }

    /// The highlighted lines of a text blob, kept per (blob, path's language).
    fn lines(&self, blob: ObjectId, path: &str, text: &str) -> Arc<Vec<String>> {
        self.state.web().lines(blob, path, text)
    }

    /// What `path` names at `commit`: `None` if nothing.
    fn lookup(&self, commit: &Commit, path: &str) -> Result<Option<(EntryKind, ObjectId)>, ApiError> {
        lookup(self.store().objects(), commit.snapshot, path).map_err(store_error)
    }

    fn blob(&self, id: ObjectId) -> Result<Vec<u8>, ApiError> {
        Ok(self.store().objects().read(&id).map_err(store_error)?.data)
    }
}

/// Normalises a path from a URL: no empty, `.` or `..` segments.
fn clean_path(path: &str) -> Option<String> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    if parts.iter().any(|p| *p == "." || *p == "..") {
        return None;
    }
    Some(parts.join("/"))
}

/// Links to each directory above `path` and its last name.
fn crumbs(base: &str, reference: &str, path: &str) -> Vec<Value> {
    let mut out = vec![minijinja::context! { name => "", url => format!("{base}/tree/{}", enc_segment(reference)) }];
    let mut so_far = String::new();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        if !so_far.is_empty() {
            so_far.push('/');
        }
        so_far.push_str(part);
        out.push(minijinja::context! { name => part, url => format!("{base}/tree/{}/{}", enc_segment(reference), enc_path(&so_far)) });
    }
    out
}

/// Whether content is shown as text: valid UTF-8 without a NUL near its start.
fn as_text(data: &[u8]) -> Option<&str> {
    if muse_diff::is_binary(data) {
        return None;
    }
    std::str::from_utf8(data).ok()
}

#[derive(Deserialize, Default)]
struct PageQuery {
    page: Option<usize>,
    per_page: Option<usize>,
}

/// Page `page` (1-based) of `total` rows, `per` a page: the range of rows.
fn page_range(total: usize, page: usize, per: usize) -> std::ops::Range<usize> {
    let start = (page.max(1) - 1).saturating_mul(per).min(total);
    start..(start + per).min(total)
}

// ---- `/`, users ----

/// `GET /`: the repositories the visitor may read.
pub(crate) async fn home(State(state): State<AppState>, request: Request) -> WebResult<Response> {
    let ask = Ask::new(&state, request).await?;
    let repos = state.hub().repos_visible_to(&ask.visitor.actor, None).await.map_err(|e| ask.fail(e))?;
    let json: Vec<RepoJson> = repos.iter().map(RepoJson::from).collect();
    ask.send(ask.answer(
        "home.html",
        minijinja::context! { title => "MuseHub", repos => repo_links(&repos) },
        &serde_json::json!({ "repos": json }),
        i64::MAX,
    )?)
}

fn repo_links(repos: &[Repo]) -> Vec<Value> {
    repos
        .iter()
        .map(
            |r| minijinja::context! { full_name => r.full_name(), private => r.private, url => format!("/{}/{}", enc_segment(&r.owner), enc_segment(&r.name)) },
        )
        .collect()
}

/// `GET /{owner}`: a user and the repositories of theirs the visitor may read.
pub(crate) async fn user(State(state): State<AppState>, params: PathParams, request: Request) -> WebResult<Response> {
    let ask = Ask::new(&state, request).await?;
    let name = params.get("owner").map_err(|e| ask.fail(e))?;
    let user = state.hub().user_by_name(name).await.map_err(|e| ask.fail(e))?.ok_or_else(|| ask.not_found(format!("no user {name}")))?;
    let repos = state.hub().repos_visible_to(&ask.visitor.actor, Some(&user.name)).await.map_err(|e| ask.fail(e))?;
    let json = serde_json::json!({
        "user": {"name": user.name, "created_at": user.created_at},
        "repos": repos.iter().map(RepoJson::from).collect::<Vec<_>>(),
    });
    ask.send(ask.answer("user.html", minijinja::context! { title => user.name, name => user.name, repos => repo_links(&repos) }, &json, i64::MAX)?)
}

// ---- trees ----

/// One entry of a directory listing.
#[derive(Debug, Clone, Serialize)]
struct EntryJson {
    name: String,
    path: String,
    kind: &'static str,
    id: ObjectId,
    last_commit: Option<CommitJson>,
}

/// `GET /{owner}/{name}`: the default branch's root.
pub(crate) async fn repo_home(State(state): State<AppState>, request: Request) -> WebResult<Response> {
    let (opened, _) = open(&state, request).await?;
    match opened.default_branch() {
        Some(branch) => tree_page(opened, branch, String::new()).await,
        None => {
            let json = serde_json::json!({
                "repo": RepoJson::from(&opened.repo), "ref": null, "path": "", "commit": null, "entries": [], "readme": null,
                "branches": [], "clone_url": format!("{}{}", origin(&opened.state, &opened.ask.parts), opened.base()),
            });
            let context = minijinja::context! { title => opened.repo.full_name(), repo => opened.header("code", ""), empty => true };
            let key = opened.key("empty", None, &[]);
            opened.cached(key, async { opened.ask.answer("tree.html", context, &json, i64::MAX) }).await
        }
    }
}

/// `GET /{owner}/{name}/tree/{ref}[/{path}]`: a directory.
pub(crate) async fn tree(State(state): State<AppState>, request: Request) -> WebResult<Response> {
    let (opened, params) = open(&state, request).await?;
    let reference = params.get("ref").map_err(|e| opened.ask.fail(e))?.to_string();
    let path = clean_path(params.get("path").unwrap_or("")).ok_or_else(|| opened.ask.not_found("no such path"))?;
    tree_page(opened, reference, path).await
}

/// What a directory page shows.
struct Listing {
    commit: (CommitId, Commit),
    entries: Vec<(EntryJson, Option<CommitRow>)>,
    readme: Option<(String, String)>,
}

async fn tree_page(opened: Opened, reference: String, path: String) -> WebResult<Response> {
    let commit_id = opened.resolve(&reference)?;
    let key = opened.key("tree", Some(commit_id), &[&reference, &path]);
    opened.cached(key, tree_fresh(&opened, reference, path, commit_id)).await
}

async fn tree_fresh(opened: &Opened, reference: String, path: String, commit_id: CommitId) -> WebResult<Fresh> {
    let dir = path.clone();
    let time = now();
    let listing = opened
        .run(move |work| {
            let commit = work.commit(commit_id)?;
            let tree = match work.lookup(&commit, &dir)? {
                Some((EntryKind::Tree, id)) => work.store().objects().read_tree(&TreeId(id)).map_err(store_error)?,
                Some(_) => return Ok(None),
                None => return Err(ApiError::not_found(format!("no directory '{dir}'"))),
            };
            let mut entries = Vec::new();
            let mut readme = None;
            let mut listed: Vec<_> = tree.into_entries();
            listed.sort_by_key(|e| (e.kind != EntryKind::Tree, e.name.to_lowercase()));
            for entry in listed {
                let path = if dir.is_empty() { entry.name.clone() } else { format!("{dir}/{}", entry.name) };
                let last = match work.last_change(commit_id, &path)? {
                    Some(id) => Some((id, work.commit(id)?)),
                    None => None,
                };
                let lower = entry.name.to_ascii_lowercase();
                if readme.is_none()
                    && entry.kind.is_blob()
                    && entry.kind != EntryKind::Symlink
                    && (lower == "readme.md" || lower == "readme.markdown" || lower == "readme")
                {
                    let data = work.blob(entry.id)?;
                    if let Some(text) = as_text(&data) {
                        let html = if lower == "readme" {
                            let mut out = String::from("<pre>");
                            escape_into(&mut out, text);
                            out.push_str("</pre>");
                            out
                        } else {
                            markdown::render(text)
                        };
                        readme = Some((path.clone(), html));
                    }
                }
                let kind = match entry.kind {
                    EntryKind::Tree => "tree",
                    EntryKind::Symlink => "symlink",
                    EntryKind::File | EntryKind::Executable => "blob",
                };
                let json = EntryJson { name: entry.name, path, kind, id: entry.id, last_commit: last.as_ref().map(|(id, c)| CommitJson::new(*id, c)) };
                entries.push((json, last.as_ref().map(|(id, c)| CommitRow::new(*id, c, time))));
            }
            Ok(Some(Listing { commit: (commit_id, commit), entries, readme }))
        })
        .await?;
    let Some(listing) = listing else {
        return Ok(Fresh::Direct(Redirect::to(&format!("{}/blob/{}/{}", opened.base(), enc_segment(&reference), enc_path(&path))).into_response()));
    };
    let base = opened.base();
    let json = serde_json::json!({
        "repo": RepoJson::from(&opened.repo), "ref": reference, "path": path,
        "commit": CommitJson::new(listing.commit.0, &listing.commit.1),
        "entries": listing.entries.iter().map(|(e, _)| e).collect::<Vec<_>>(),
        "readme": listing.readme.as_ref().map(|(p, html)| serde_json::json!({"path": p, "html": html})),
        "branches": opened.branches(),
        "clone_url": format!("{}{}", origin(&opened.state, &opened.ask.parts), base),
    });
    let entries: Vec<Value> = listing
        .entries
        .iter()
        .map(|(e, row)| {
            let view = if e.kind == "tree" { "tree" } else { "blob" };
            minijinja::context! {
                name => e.name, path => e.path, kind => e.kind,
                url => format!("{base}/{view}/{}/{}", enc_segment(&reference), enc_path(&e.path)),
                last => row, last_url => row.as_ref().map(|r| format!("{base}/commit/{}", r.hex)),
            }
        })
        .collect();
    let latest = CommitRow::new(listing.commit.0, &listing.commit.1, time);
    let until = ages_change_at(time, listing.entries.iter().filter_map(|(_, row)| row.as_ref().map(|r| r.time)).chain([latest.time]));
    let context = minijinja::context! {
        title => if path.is_empty() { opened.repo.full_name() } else { format!("{} · {}", path, opened.repo.full_name()) },
        repo => opened.header("code", &reference), crumbs => crumbs(&base, &reference, &path), path => path,
        latest => latest, latest_url => format!("{base}/commit/{}", latest.hex),
        entries => entries, readme => listing.readme.map(|(_, html)| Value::from_safe_string(html)),
        commits_url => format!("{base}/commits/{}", enc_segment(&reference)),
    };
    opened.ask.answer("tree.html", context, &json, until)
}

// ---- files ----

/// A file's history as the history API and the blob page's JSON show it.
#[derive(Debug, Serialize)]
struct HistoryJson {
    count: usize,
    page: usize,
    per_page: usize,
    commits: Vec<CommitJson>,
}

/// What a file page shows.
struct FileView {
    commit: CommitId,
    kind: EntryKind,
    blob: ObjectId,
    size: usize,
    /// The highlighted lines; `None` for a binary or huge file.
    lines: Option<Arc<Vec<String>>>,
    text: Option<String>,
    count: usize,
    rows: Vec<(CommitId, Commit)>,
    last: Option<(CommitId, Commit)>,
}

/// Page `page` of the history of `path` at `commit`: the count and the rows' commits.
fn history_page(work: &Work, commit: CommitId, path: &str, page: usize, per: usize) -> Result<(usize, Vec<(CommitId, Commit)>), ApiError> {
    let ids = work.history(commit, path)?;
    let rows = ids[page_range(ids.len(), page, per)].iter().map(|id| work.commit(*id).map(|c| (*id, c))).collect::<Result<_, _>>()?;
    Ok((ids.len(), rows))
}

fn file_params(opened: &Opened, params: &PathParams) -> WebResult<(String, String)> {
    let reference = params.get("ref").map_err(|e| opened.ask.fail(e))?.to_string();
    let path = clean_path(params.get("path").map_err(|e| opened.ask.fail(e))?).filter(|p| !p.is_empty()).ok_or_else(|| opened.ask.not_found("no such path"))?;
    Ok((reference, path))
}

/// `GET /api/repos/{owner}/{name}/history/{ref}/{path}`: `{count, page, per_page, commits}`.
pub(crate) async fn history_api(State(state): State<AppState>, request: Request) -> WebResult<Response> {
    let (mut request_parts, body) = request.into_parts();
    request_parts.headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
    let (opened, params) = open(&state, Request::from_parts(request_parts, body)).await?;
    let (reference, path) = file_params(&opened, &params)?;
    let query: PageQuery = opened.ask.query()?;
    let page = query.page.unwrap_or(1).max(1);
    let per = query.per_page.unwrap_or(PER_PAGE).clamp(1, MAX_PER_PAGE);
    let commit = opened.resolve(&reference)?;
    let key = opened.key("history", Some(commit), &[&path, &page.to_string(), &per.to_string()]);
    opened
        .cached(key, async {
            let (count, rows) = opened
                .run(move |work| {
                    let c = work.commit(commit)?;
                    if work.lookup(&c, &path)?.is_none() && work.history(commit, &path)?.is_empty() {
                        return Err(ApiError::not_found(format!("no file '{path}'")));
                    }
                    history_page(&work, commit, &path, page, per)
                })
                .await?;
            opened.ask.json(&HistoryJson { count, page, per_page: per, commits: rows.iter().map(|(id, c)| CommitJson::new(*id, c)).collect() })
        })
        .await
}

/// `GET /{owner}/{name}/blob/{ref}/{path}`: the file, its last commit and its history.
pub(crate) async fn blob(State(state): State<AppState>, request: Request) -> WebResult<Response> {
    let (opened, params) = open(&state, request).await?;
    let (reference, path) = file_params(&opened, &params)?;
    let query: PageQuery = opened.ask.query()?;
    let page = query.page.unwrap_or(1).max(1);
    let commit = opened.resolve(&reference)?;
    let key = opened.key("blob", Some(commit), &[&reference, &path, &page.to_string()]);
    opened.cached(key, blob_fresh(&opened, reference, path, commit, page)).await
}

async fn blob_fresh(opened: &Opened, reference: String, path: String, commit: CommitId, page: usize) -> WebResult<Fresh> {
    let file_path = path.clone();
    let view = opened
        .run(move |work| {
            let c = work.commit(commit)?;
            let (kind, blob) = match work.lookup(&c, &file_path)? {
                Some((EntryKind::Tree, _)) => return Ok(None),
                Some(found) => found,
                None => return Err(ApiError::not_found(format!("no file '{file_path}'"))),
            };
            let data = work.blob(blob)?;
            let size = data.len();
            let text = if size <= DISPLAY_MAX { as_text(&data).map(str::to_string) } else { None };
            let lines = text.as_deref().map(|t| work.lines(blob, &file_path, t));
            let (count, rows) = history_page(&work, commit, &file_path, page, PER_PAGE)?;
            let last = match work.history(commit, &file_path)?.first() {
                Some(id) => Some((*id, work.commit(*id)?)),
                None => None,
            };
            Ok(Some(FileView { commit, kind, blob, size, lines, text, count, rows, last }))
        })
        .await?;
    let base = opened.base();
    let Some(view) = view else {
        return Ok(Fresh::Direct(Redirect::to(&format!("{base}/tree/{}/{}", enc_segment(&reference), enc_path(&path))).into_response()));
    };
    let language = highlight::language(&path);
    if opened.ask.json {
        let json = serde_json::json!({
            "repo": RepoJson::from(&opened.repo), "ref": reference, "path": path, "commit_id": view.commit,
            "kind": if view.kind == EntryKind::Symlink { "symlink" } else { "blob" }, "id": view.blob,
            "language": language, "size": view.size, "binary": view.text.is_none() && view.size <= DISPLAY_MAX,
            "too_large": view.size > DISPLAY_MAX, "content": view.text,
            "last_commit": view.last.as_ref().map(|(id, c)| CommitJson::new(*id, c)),
            "history": HistoryJson { count: view.count, page, per_page: PER_PAGE, commits: view.rows.iter().map(|(id, c)| CommitJson::new(*id, c)).collect() },
        });
        return opened.ask.json(&json);
    }
    let time = now();
    let file_name = path.rsplit('/').next().unwrap_or(&path).to_string();
    let lines: Option<Vec<Value>> = view.lines.as_ref().map(|l| l.iter().map(|h| Value::from_safe_string(h.clone())).collect());
    let rows = badged_rows(opened.state.hub(), &view.rows, time).await.map_err(|e| opened.ask.fail(e))?;
    let last = match &view.last {
        Some(last) => badged_rows(opened.state.hub(), std::slice::from_ref(last), time).await.map_err(|e| opened.ask.fail(e))?.pop(),
        None => None,
    };
    let until = ages_change_at(time, rows.iter().chain(&last).map(|r| r.time));
    let pages = view.count.div_ceil(PER_PAGE).max(1);
    let page_url = |p: usize| format!("{base}/blob/{}/{}?page={p}#history", enc_segment(&reference), enc_path(&path));
    let context = minijinja::context! {
        title => format!("{} · {}", path, opened.repo.full_name()),
        repo => opened.header("code", &reference), crumbs => crumbs(&base, &reference, &path[..path.len() - file_name.len()]),
        file_name => file_name, language => language, size => view.size, lines => lines, line_count => view.lines.as_ref().map(|l| l.len()),
        raw_url => format!("{base}/raw/{}/{}", enc_segment(&reference), enc_path(&path)),
        blame_url => format!("{base}/blame/{}/{}", enc_segment(&reference), enc_path(&path)),
        history_url => format!("{base}/commits/{}?path={}", enc_segment(&reference), enc_segment(&path)),
        last => last,
        count => view.count, rows => rows, base => base,
        prev_url => (page > 1).then(|| page_url(page - 1)), next_url => (page < pages).then(|| page_url(page + 1)),
        page => page, pages => pages,
    };
    opened.ask.answer("blob.html", context, &(), until)
}

/// The content type of a raw file: `text/plain` for text, a few image types by extension,
/// `application/octet-stream` otherwise; never anything a browser renders as a document.
fn raw_type(path: &str, data: &[u8]) -> &'static str {
    if as_text(data).is_some() {
        return "text/plain; charset=utf-8";
    }
    let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        _ => "application/octet-stream",
    }
}

/// `GET /{owner}/{name}/raw/{ref}/{path}`: the file's bytes.
pub(crate) async fn raw(State(state): State<AppState>, request: Request) -> WebResult<Response> {
    let (opened, params) = open(&state, request).await?;
    let (reference, path) = file_params(&opened, &params)?;
    let commit = opened.resolve(&reference)?;
    let file_path = path.clone();
    let data = opened
        .run(move |work| {
            let c = work.commit(commit)?;
            match work.lookup(&c, &file_path)? {
                Some((kind, id)) if kind.is_blob() => work.blob(id),
                _ => Err(ApiError::not_found(format!("no file '{file_path}'"))),
            }
        })
        .await?;
    let content_type = raw_type(&path, &data);
    let mut response = data.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(super::RAW_CSP));
    if content_type == "application/octet-stream" {
        headers.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment"));
    }
    Ok(response)
}

// ---- blame ----

/// One label's share of a file's lines.
#[derive(Debug, Clone, Serialize)]
struct Share {
    label: String,
    lines: usize,
    /// Percent with one decimal; the shares add up to exactly 100.0.
    percent: f64,
}

/// Shares of `counts` in tenths of a percent by the largest remainder, so that they add up to
/// 1000 tenths; most lines first.
fn shares(counts: &BTreeMap<String, usize>) -> Vec<Share> {
    let total: usize = counts.values().sum();
    if total == 0 {
        return Vec::new();
    }
    let mut parts: Vec<(String, usize, usize, usize)> = counts
        .iter()
        .map(|(label, &n)| {
            let scaled = n * 1000;
            (label.clone(), n, scaled / total, scaled % total)
        })
        .collect();
    let given: usize = parts.iter().map(|p| p.2).sum();
    let mut order: Vec<usize> = (0..parts.len()).collect();
    order.sort_by(|&a, &b| parts[b].3.cmp(&parts[a].3).then(parts[b].1.cmp(&parts[a].1)));
    for &i in order.iter().take(1000 - given) {
        parts[i].2 += 1;
    }
    parts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    parts.into_iter().map(|(label, lines, tenths, _)| Share { label, lines, percent: tenths as f64 / 10.0 }).collect()
}

/// One blamed line in JSON.
#[derive(Debug, Serialize)]
struct BlameLineJson {
    line: u32,
    commit_id: CommitId,
    orig_line: u32,
    orig_path: String,
}

/// What a blame page shows.
struct BlameView {
    commit: CommitId,
    lines: Vec<(u32, CommitId, u32, String)>,
    html: Arc<Vec<String>>,
    commits: HashMap<CommitId, Commit>,
}

/// `GET /{owner}/{name}/blame/{ref}/{path}`: each line's commit, in runs, with the shares by
/// model and human.
pub(crate) async fn blame(State(state): State<AppState>, request: Request) -> WebResult<Response> {
    let (opened, params) = open(&state, request).await?;
    let (reference, path) = file_params(&opened, &params)?;
    let commit = opened.resolve(&reference)?;
    let key = opened.key("blame", Some(commit), &[&reference, &path]);
    opened.cached(key, blame_fresh(&opened, reference, path, commit)).await
}

async fn blame_fresh(opened: &Opened, reference: String, path: String, commit: CommitId) -> WebResult<Fresh> {
    let file_path = path.clone();
    let view = opened
        .run(move |work| {
            let c = work.commit(commit)?;
            let blob = match work.lookup(&c, &file_path)? {
                Some((kind, id)) if kind.is_blob() => id,
                _ => return Err(ApiError::not_found(format!("no file '{file_path}'"))),
            };
            let index = work.index(commit)?;
            let blame = match muse_blame::cache::cached_blame(work.store(), &index, commit, &file_path, &BlameOptions::default()) {
                Ok((blame, _)) => blame,
                Err(BlameError::Binary { path }) => return Err(ApiError::bad_request(format!("'{path}' is a binary file: blame needs text"))),
                Err(BlameError::PathNotFound { path, .. }) => return Err(ApiError::not_found(format!("no file '{path}'"))),
                Err(e) => return Err(ApiError::internal(e)),
            };
            let text = String::from_utf8_lossy(&blame.content).into_owned();
            let html = work.lines(blob, &file_path, &text);
            let mut commits = HashMap::new();
            for line in &blame.lines {
                if let std::collections::hash_map::Entry::Vacant(slot) = commits.entry(line.commit) {
                    slot.insert(work.commit(line.commit)?);
                }
            }
            let lines = blame.lines.into_iter().map(|l| (l.line, l.commit, l.orig_line, l.orig_path)).collect();
            Ok(BlameView { commit, lines, html, commits })
        })
        .await?;
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for (_, id, _, _) in &view.lines {
        *counts.entry(view.commits.get(id).map(author_label).unwrap_or_default()).or_default() += 1;
    }
    let shares = shares(&counts);
    if opened.ask.json {
        let json = serde_json::json!({
            "repo": RepoJson::from(&opened.repo), "ref": reference, "path": path, "commit_id": view.commit, "shares": shares,
            "commits": view.commits.iter().map(|(id, c)| CommitJson::new(*id, c)).collect::<Vec<_>>(),
            "lines": view.lines.iter().map(|(line, id, orig_line, orig_path)| BlameLineJson { line: *line, commit_id: *id, orig_line: *orig_line, orig_path: orig_path.clone() }).collect::<Vec<_>>(),
        });
        return opened.ask.json(&json);
    }
    let base = opened.base();
    let time = now();
    let times: Vec<i64> = view.commits.values().filter_map(|c| muse_core::rfc3339_to_unix(&c.committed_at).map(|(s, _)| s)).collect();
    let until = ages_change_at(time, times.iter().copied());
    let (oldest, newest) = (times.iter().copied().min().unwrap_or(0), times.iter().copied().max().unwrap_or(0));
    let mut runs: Vec<Value> = Vec::new();
    let mut i = 0;
    while i < view.lines.len() {
        let (_, id, _, orig_path) = &view.lines[i];
        let mut j = i;
        while j + 1 < view.lines.len() && view.lines[j + 1].1 == *id {
            j += 1;
        }
        let Some(commit) = view.commits.get(id) else { return Err(opened.ask.fail(ApiError::internal("a blamed commit was not read"))) };
        let row = CommitRow::new(*id, commit, time);
        let heat = if newest > oldest { ((row.time - oldest) * 9 / (newest - oldest)).clamp(0, 9) } else { 9 };
        let before = commit.parents.first().map(|p| format!("{base}/blame/{}/{}#L{}", p.0.to_hex(), enc_path(orig_path), view.lines[i].2));
        let lines: Vec<Value> = view.lines[i..=j]
            .iter()
            .map(|(n, ..)| minijinja::context! { n => n, html => Value::from_safe_string(view.html.get(*n as usize - 1).cloned().unwrap_or_default()) })
            .collect();
        runs.push(minijinja::context! { commit => row, url => format!("{base}/commit/{}", id.0.to_hex()), heat => heat, before => before, lines => lines });
        i = j + 1;
    }
    let context = minijinja::context! {
        title => format!("Blame · {} · {}", path, opened.repo.full_name()),
        repo => opened.header("code", &reference), crumbs => crumbs(&base, &reference, &path),
        path => path, shares => shares, runs => runs,
        blob_url => format!("{base}/blob/{}/{}", enc_segment(&reference), enc_path(&path)),
    };
    opened.ask.answer("blame.html", context, &(), until)
}

// ---- commits ----

#[derive(Deserialize, Default)]
struct CommitFilter {
    page: Option<usize>,
    path: Option<String>,
    author: Option<String>,
    agent: Option<String>,
    model: Option<String>,
    bump: Option<String>,
}

impl CommitFilter {
    fn passes(&self, commit: &Commit) -> bool {
        fn given(f: &Option<String>) -> Option<&str> {
            f.as_deref().filter(|v| !v.is_empty())
        }
        given(&self.author).is_none_or(|a| commit.author.to_lowercase().contains(&a.to_lowercase()))
            && given(&self.agent).is_none_or(|a| commit.agent_id == a)
            && given(&self.model).is_none_or(|m| commit.model_id == m || (m == super::view::HUMAN && !muse_blame::stats::is_agent(commit)))
            && given(&self.bump).is_none_or(|b| commit.sem_ver_bump.as_str() == b)
    }
}

/// `GET /{owner}/{name}/commits[/{ref}]`: the history, newest first, filtered and paginated.
pub(crate) async fn commits(State(state): State<AppState>, request: Request) -> WebResult<Response> {
    let (opened, params) = open(&state, request).await?;
    let reference = match params.get("ref") {
        Ok(r) => r.to_string(),
        Err(_) => opened.default_branch().ok_or_else(|| opened.ask.not_found(format!("{} is empty", opened.repo.full_name())))?,
    };
    let filter: CommitFilter = opened.ask.query()?;
    let page = filter.page.unwrap_or(1).max(1);
    let path = match filter.path.as_deref().filter(|p| !p.is_empty()) {
        Some(p) => Some(clean_path(p).ok_or_else(|| opened.ask.not_found("no such path"))?),
        None => None,
    };
    let commit = opened.resolve(&reference)?;
    let given = |f: &Option<String>| f.clone().unwrap_or_default();
    let shown = [given(&path), given(&filter.author), given(&filter.agent), given(&filter.model), given(&filter.bump), page.to_string()];
    let key = opened.key("commits", Some(commit), &[&reference, &shown.join("\0")]);
    opened.cached(key, commits_fresh(&opened, reference, commit, filter, path, page)).await
}

async fn commits_fresh(opened: &Opened, reference: String, commit: CommitId, filter: CommitFilter, path: Option<String>, page: usize) -> WebResult<Fresh> {
    let filter = Arc::new(filter);
    let keep = Arc::clone(&filter);
    let walk_path = path.clone();
    let (rows, more) = opened
        .run(move |work| {
            let index = work.index(commit)?;
            let paths: Vec<String> = walk_path.into_iter().collect();
            let walk = index.log(work.store(), &[commit], &paths, false).map_err(store_error)?;
            let mut rows = Vec::new();
            let mut skip = (page - 1).saturating_mul(PER_PAGE);
            for id in walk {
                let id = id.map_err(store_error)?;
                let c = work.commit(id)?;
                if !keep.passes(&c) {
                    continue;
                }
                if skip > 0 {
                    skip -= 1;
                    continue;
                }
                if rows.len() == PER_PAGE {
                    return Ok((rows, true));
                }
                rows.push((id, c));
            }
            Ok((rows, false))
        })
        .await?;
    if opened.ask.json {
        let json = serde_json::json!({
            "repo": RepoJson::from(&opened.repo), "ref": reference, "page": page, "per_page": PER_PAGE, "has_next": more,
            "commits": rows.iter().map(|(id, c)| CommitJson::new(*id, c)).collect::<Vec<_>>(),
        });
        return opened.ask.json(&json);
    }
    let base = opened.base();
    let time = now();
    let until = ages_change_at(time, rows.iter().map(|(id, c)| CommitRow::new(*id, c, time).time));
    let mut query: Vec<(&str, String)> = Vec::new();
    for (key, value) in [("path", &path), ("author", &filter.author), ("agent", &filter.agent), ("model", &filter.model), ("bump", &filter.bump)] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            query.push((key, v.to_string()));
        }
    }
    let page_url = |p: usize| {
        let mut q = query.clone();
        q.push(("page", p.to_string()));
        format!("{base}/commits/{}?{}", enc_segment(&reference), serde_urlencoded::to_string(&q).unwrap_or_default())
    };
    let badged = badged_rows(opened.state.hub(), &rows, time).await.map_err(|e| opened.ask.fail(e))?;
    let rows: Vec<Value> =
        rows.iter().zip(badged).map(|((id, _), row)| minijinja::context! { commit => row, url => format!("{base}/commit/{}", id.0.to_hex()) }).collect();
    let context = minijinja::context! {
        title => format!("Commits · {}", opened.repo.full_name()), repo => opened.header("commits", &reference), rows => rows,
        filter => minijinja::context! { path => path, author => filter.author, agent => filter.agent, model => filter.model, bump => filter.bump },
        action => format!("{base}/commits/{}", enc_segment(&reference)),
        prev_url => (page > 1).then(|| page_url(page - 1)), next_url => more.then(|| page_url(page + 1)), page => page,
    };
    opened.ask.answer("commits.html", context, &(), until)
}

/// One changed file of a commit.
#[derive(Debug, Serialize)]
struct ChangedFile {
    path: String,
    status: &'static str,
    old_id: Option<ObjectId>,
    new_id: Option<ObjectId>,
    /// No diff shown: binary, too large, or past the number of files shown.
    skipped: Option<&'static str>,
    diff: Option<muse_diff::FileDiff>,
}

/// `GET /{owner}/{name}/commit/{id}`: a commit with its provenance and its changes against its
/// first parent.
pub(crate) async fn commit(State(state): State<AppState>, request: Request) -> WebResult<Response> {
    let (opened, params) = open(&state, request).await?;
    let text = params.get("id").map_err(|e| opened.ask.fail(e))?;
    let id = CommitId::parse(text).map_err(|_| opened.ask.not_found(format!("'{text}' is not a full commit id")))?;
    let key = opened.key("commit", Some(id), &[]);
    opened.cached(key, commit_fresh(&opened, id)).await
}

async fn commit_fresh(opened: &Opened, id: CommitId) -> WebResult<Fresh> {
    let (commit, files) = opened
        .run(move |work| {
            let commit = work.store().objects().read_commit(&id).map_err(|e| match e {
                StoreError::ObjectNotFound(_) => ApiError::not_found(format!("no commit {id}")),
                other => store_error(other),
            })?;
            let parent = match commit.parents.first() {
                Some(p) => Some(work.commit(*p)?.snapshot),
                None => None,
            };
            let changes = diff_snapshots(work.store().objects(), parent, Some(commit.snapshot)).map_err(store_error)?;
            let mut files = Vec::new();
            for (n, change) in changes.into_iter().enumerate() {
                let status = match (&change.old, &change.new) {
                    (None, _) => "added",
                    (_, None) => "deleted",
                    _ => "modified",
                };
                let mut file =
                    ChangedFile { path: change.path, status, old_id: change.old.map(|o| o.1), new_id: change.new.map(|o| o.1), skipped: None, diff: None };
                if n >= MAX_DIFF_FILES {
                    file.skipped = Some("too_many_files");
                } else {
                    let side = |s: Option<(EntryKind, ObjectId)>| -> Result<Vec<u8>, ApiError> { s.map_or(Ok(Vec::new()), |(_, id)| work.blob(id)) };
                    let (old, new) = (side(change.old)?, side(change.new)?);
                    if old.len() > MAX_DIFF_BYTES || new.len() > MAX_DIFF_BYTES {
                        file.skipped = Some("too_large");
                    } else {
                        let diff = muse_diff::diff_lines(&old, &new, 3);
                        if diff.binary {
                            file.skipped = Some("binary");
                        } else {
                            file.diff = Some(diff);
                        }
                    }
                }
                files.push(file);
            }
            Ok((commit, files))
        })
        .await?;
    let row = badged_rows(opened.state.hub(), &[(id, commit.clone())], now())
        .await
        .map_err(|e| opened.ask.fail(e))?
        .pop()
        .unwrap_or_else(|| CommitRow::new(id, &commit, now()));
    if opened.ask.json {
        let json = serde_json::json!({ "repo": RepoJson::from(&opened.repo), "commit": CommitJson::new(id, &commit), "signature": row.badge, "files": files });
        return opened.ask.json(&json);
    }
    let base = opened.base();
    let time = now();
    let until = ages_change_at(time, [row.time]);
    let hex = id.0.to_hex();
    let files: Vec<Value> = files
        .iter()
        .map(|f| {
            let hunks: Vec<Value> = f.diff.as_ref().map_or_else(Vec::new, |d| {
                d.hunks
                    .iter()
                    .map(|h| {
                        let (mut old, mut new) = (h.old_start, h.new_start);
                        let lines: Vec<Value> = h
                            .lines
                            .iter()
                            .map(|l| {
                                let (kind, o, n) = match l.kind {
                                    muse_diff::LineKind::Context => {
                                        old += 1;
                                        new += 1;
                                        ("ctx", Some(old - 1), Some(new - 1))
                                    }
                                    muse_diff::LineKind::Added => {
                                        new += 1;
                                        ("add", None, Some(new - 1))
                                    }
                                    muse_diff::LineKind::Removed => {
                                        old += 1;
                                        ("del", Some(old - 1), None)
                                    }
                                };
                                minijinja::context! { kind => kind, old => o, new => n, text => l.text }
                            })
                            .collect();
                        minijinja::context! { header => format!("@@ -{},{} +{},{} @@", h.old_start, h.old_lines, h.new_start, h.new_lines), lines => lines }
                    })
                    .collect()
            });
            let url = (f.status != "deleted").then(|| format!("{base}/blob/{hex}/{}", enc_path(&f.path)));
            minijinja::context! {
                path => f.path, status => f.status, skipped => f.skipped, hunks => hunks, url => url,
                added => f.diff.as_ref().map(|d| d.added), removed => f.diff.as_ref().map(|d| d.removed),
            }
        })
        .collect();
    let parents: Vec<Value> =
        commit.parents.iter().map(|p| minijinja::context! { id => p.to_string(), url => format!("{base}/commit/{}", p.0.to_hex()) }).collect();
    let context = minijinja::context! {
        title => format!("{} · {}", row.title, opened.repo.full_name()), repo => opened.header("commits", ""),
        commit => row, parents => parents, files => files, tree_url => format!("{base}/tree/{hex}"),
        metadata => commit.metadata,
    };
    opened.ask.answer("commit.html", context, &(), until)
}

// ---- refs ----

async fn ref_list(state: AppState, request: Request, prefix: &'static str, tab: &'static str) -> WebResult<Response> {
    let (opened, _) = open(&state, request).await?;
    let key = opened.key(tab, None, &[]);
    opened.cached(key, ref_list_fresh(&opened, prefix, tab)).await
}

async fn ref_list_fresh(opened: &Opened, prefix: &'static str, tab: &'static str) -> WebResult<Fresh> {
    let named: Vec<(String, CommitId)> = opened.refs.list.iter().filter_map(|(n, id)| n.strip_prefix(prefix).map(|s| (s.to_string(), *id))).collect();
    let lookup_names = named.clone();
    let commits = if named.is_empty() {
        Vec::new()
    } else {
        opened.run(move |work| lookup_names.iter().map(|(_, id)| work.commit(*id)).collect::<Result<Vec<_>, _>>()).await?
    };
    if opened.ask.json {
        let list: Vec<_> = named.iter().zip(&commits).map(|((name, id), c)| serde_json::json!({ "name": name, "commit": CommitJson::new(*id, c) })).collect();
        let mut json = serde_json::Map::new();
        json.insert("repo".into(), serde_json::json!(RepoJson::from(&opened.repo)));
        json.insert(tab.into(), serde_json::Value::Array(list));
        return opened.ask.json(&json);
    }
    let base = opened.base();
    let time = now();
    let rows: Vec<CommitRow> = named.iter().zip(&commits).map(|((_, id), c)| CommitRow::new(*id, c, time)).collect();
    let until = ages_change_at(time, rows.iter().map(|r| r.time));
    let rows: Vec<Value> = named
        .iter()
        .zip(rows)
        .map(|((name, id), row)| {
            minijinja::context! {
                name => name, url => format!("{base}/tree/{}", enc_segment(name)), commit => row,
                commit_url => format!("{base}/commit/{}", id.0.to_hex()),
            }
        })
        .collect();
    let context = minijinja::context! { title => format!("{} · {}", if tab == "branches" { "Branches" } else { "Tags" }, opened.repo.full_name()), repo => opened.header(tab, ""), rows => rows, kind => tab };
    opened.ask.answer("refs.html", context, &(), until)
}

/// `GET /{owner}/{name}/branches`.
pub(crate) async fn branches(State(state): State<AppState>, request: Request) -> WebResult<Response> {
    ref_list(state, request, "refs/heads/", "branches").await
}

/// `GET /{owner}/{name}/tags`.
pub(crate) async fn tags(State(state): State<AppState>, request: Request) -> WebResult<Response> {
    ref_list(state, request, "refs/tags/", "tags").await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up_to_one_hundred() {
        let counts: BTreeMap<String, usize> = [("a", 1usize), ("b", 1), ("c", 1)].into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        let s = shares(&counts);
        assert_eq!(s.iter().map(|s| (s.percent * 10.0).round() as i64).sum::<i64>(), 1000);
        assert_eq!(s.iter().map(|s| s.percent).collect::<Vec<_>>(), [33.4, 33.3, 33.3]);
        let counts: BTreeMap<String, usize> = [("Sonnet 4.6", 71usize), ("human", 29)].into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        let s = shares(&counts);
        assert_eq!((s[0].label.as_str(), s[0].percent, s[1].percent), ("Sonnet 4.6", 71.0, 29.0));
        assert!(shares(&BTreeMap::new()).is_empty());
    }

    #[test]
    fn paths_and_pages() {
        assert_eq!(clean_path("/a//b/"), Some("a/b".into()));
        assert_eq!(clean_path("a/../b"), None);
        assert_eq!(page_range(120, 1, 50), 0..50);
        assert_eq!(page_range(120, 3, 50), 100..120);
        assert_eq!(page_range(120, 9, 50), 120..120);
        assert_eq!(raw_type("a.html", b"<script>alert(1)</script>"), "text/plain; charset=utf-8");
        assert_eq!(raw_type("a.png", b"\x89PNG\0\0"), "image/png");
        assert_eq!(raw_type("a.html", b"\0<html>"), "application/octet-stream");
    }
}
