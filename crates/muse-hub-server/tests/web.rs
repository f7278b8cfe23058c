//! The web pages over HTTP: every page and its JSON twin across the authorization matrix, the
//! file page's history, escaping of everything a pusher controls, raw files, sign-in, CSRF and
//! session expiry. A real server on a free port, on both database backends.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{test_limits, Local, TestHub};
use muse_core::{Commit, CommitId, EntryKind, SemVerBump, Tree, TreeEntry, TreeId};
use muse_hub::{Backend, Role};
use muse_store::ObjectKind;
use serde_json::{json, Value};

const SCRIPT: &str = "<script>alert(1)</script>";
const IMG: &str = "\"><img src=x onerror=alert(1)>";

/// A commit's provenance for [`commit_tree`].
#[derive(Default, Clone)]
struct Meta {
    message: String,
    model: String,
    agent: String,
    bump: SemVerBump,
    breaking: Vec<String>,
    days_ago: i64,
}

fn meta(message: &str, model: &str, bump: SemVerBump, breaking: &[&str], days_ago: i64) -> Meta {
    Meta {
        message: message.into(),
        model: model.into(),
        agent: if model.is_empty() { String::new() } else { "claude-code".into() },
        bump,
        breaking: breaking.iter().map(|s| s.to_string()).collect(),
        days_ago,
    }
}

/// Writes the nested tree of `files` (paths with `/`) and returns its id.
fn write_tree(writer: &mut muse_store::PackWriter<'_>, files: &BTreeMap<String, Vec<u8>>, prefix: &str) -> TreeId {
    let mut entries = Vec::new();
    let mut dirs: BTreeMap<String, ()> = BTreeMap::new();
    for (path, data) in files.range(prefix.to_string()..) {
        let Some(rest) = path.strip_prefix(prefix) else { break };
        match rest.split_once('/') {
            Some((dir, _)) => {
                dirs.insert(dir.to_string(), ());
            }
            None => {
                let id = writer.add(ObjectKind::Blob, data).unwrap();
                entries.push(TreeEntry { name: rest.to_string(), kind: EntryKind::File, id });
            }
        }
    }
    for dir in dirs.keys() {
        let id = write_tree(writer, files, &format!("{prefix}{dir}/"));
        entries.push(TreeEntry { name: dir.clone(), kind: EntryKind::Tree, id: id.0 });
    }
    writer.add_tree(&Tree::from_entries(entries).unwrap()).unwrap()
}

fn commit_tree(local: &Local, parent: Option<CommitId>, files: &BTreeMap<String, Vec<u8>>, m: &Meta) -> CommitId {
    let mut writer = local.store.begin_write().unwrap();
    let root = write_tree(&mut writer, files, "");
    // Days before now, an hour more, and one second later for each commit: in order, and
    // "N days ago" whatever the time of day.
    static SEQUENCE: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let seq = SEQUENCE.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let at = muse_core::unix_to_rfc3339_utc(now - m.days_ago * 86_400 - 3600 + seq);
    let commit = Commit {
        parents: parent.into_iter().collect(),
        snapshot: root,
        message: m.message.clone(),
        author: "Ada <ada@example.com>".into(),
        committed_at: at,
        agent_id: m.agent.clone(),
        model_id: m.model.clone(),
        sem_ver_bump: m.bump,
        breaking_changes: m.breaking.clone(),
        ..Commit::default()
    };
    let id = writer.add_commit(&commit).unwrap();
    writer.finish().unwrap();
    id
}

const SEED_FILE: &str = "tests/test_apply_mpack_partial_failure.py";

/// The history every repository of these tests gets: the seed's file changed six times (two
/// of them breaking), other agent and human commits, 55 commits to `many.txt`, a README, a
/// binary file and names and texts that try to inject markup. Returns the commits, oldest first.
fn history(local: &Local) -> Vec<CommitId> {
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut ids = Vec::new();
    let mut tip = None;
    let mut step = |files: &BTreeMap<String, Vec<u8>>, m: Meta, ids: &mut Vec<CommitId>| {
        let id = commit_tree(local, tip, files, &m);
        tip = Some(id);
        ids.push(id);
    };
    files.insert("README.md".into(), format!("# Demo\n\nSome *text*. {SCRIPT}\n\n[bad](javascript:alert(1))\n").into_bytes());
    files.insert("logo.bin".into(), vec![0, 1, 2, 3, 0, 255]);
    step(&files, meta("initial import", "", SemVerBump::None, &[], 40), &mut ids);
    let seed = [
        ("fix: unified object store migration — idempotent writes, JSON everywhere", SemVerBump::Minor, &["objects are JSON now"][..], 28),
        ("fix: repair four test failures from post-migration audit", SemVerBump::Patch, &[], 28),
        ("fix(push): step 0 log shows full /refs URL instead of misleading base", SemVerBump::Patch, &[], 22),
        ("rename: delta_add → delta_upsert across wire format, sources and tests", SemVerBump::Minor, &["delta_add is now delta_upsert"][..], 22),
        ("fix: rename objects→blobs in push client and all stale test names", SemVerBump::Patch, &[], 22),
        ("fix: remove commit_exists filter from have anchors — server must keep them", SemVerBump::Patch, &[], 20),
    ];
    for (i, (message, bump, breaking, days)) in seed.iter().enumerate() {
        files.insert(
            SEED_FILE.into(),
            format!("\"\"\"TDD — apply_mpack partial failure atomicity.\"\"\"\nimport pytest\n\n\ndef test_{i}():\n    assert {i} == {i}\n").into_bytes(),
        );
        step(&files, meta(message, "claude-sonnet-4-6", *bump, breaking, *days), &mut ids);
        files.insert("src/other.rs".into(), format!("fn main() {{ println!(\"{i}\"); }}\n").into_bytes());
        step(&files, meta(&format!("human change {i}"), "", SemVerBump::None, &[], *days), &mut ids);
    }
    for i in 0..55 {
        files.insert("many.txt".into(), format!("version {i}\n").into_bytes());
        step(&files, meta(&format!("many {i}"), "gpt-5.1-codex", SemVerBump::Patch, &[], 10), &mut ids);
    }
    files.insert(format!("xss/{SCRIPT}.py"), format!("# {SCRIPT}\nx = '{IMG}'\n").into_bytes());
    files.insert(format!("xss/{IMG}.txt"), b"plain\n".to_vec());
    step(&files, meta(&format!("evil {SCRIPT} {IMG}"), &format!("model{SCRIPT}"), SemVerBump::Major, &[SCRIPT, IMG], 1), &mut ids);
    ids
}

/// A hub with users `ada` (owner, password `pw-ada`), `rita` (reader of both repositories),
/// `otto` (no role), and the same history in the public `ada/open` and the private
/// `ada/secret`, with branches `main` and an injecting one, and a tag.
struct World {
    hub: TestHub,
    ids: Vec<CommitId>,
    owner: String,
    reader: String,
    other: String,
}

const EVIL_BRANCH: &str = "\"><img/src=x/onerror=alert(1)>";

fn world(backend: Backend, limits: muse_hub_server::Limits) -> World {
    let hub = TestHub::with_limits(backend, limits);
    hub.user_with_password("ada", "pw-ada");
    hub.user_with_password("rita", "pw-rita");
    hub.user("otto");
    let local = Local::new();
    let ids = history(&local);
    let tip = *ids.last().unwrap();
    let pack = local.pack(&[tip], &[]);
    let owner = hub.token("ada", Role::Admin, None);
    for (name, private) in [("open", false), ("secret", true)] {
        let repo = hub.repo("ada", name, private);
        hub.collaborator(&repo, "rita", Role::Read);
        let updates = json!([
            {"name": "refs/heads/main", "new": tip.to_string()},
            {"name": format!("refs/heads/{EVIL_BRANCH}"), "new": ids[3].to_string()},
            {"name": format!("refs/heads/{SCRIPT}"), "new": ids[2].to_string()},
            {"name": "refs/tags/v1.0", "new": ids[5].to_string()},
        ]);
        let (status, body) = hub.push(&format!("ada/{name}"), &owner, Some(&pack), updates);
        assert_eq!(status, 200, "{body}");
    }
    let reader = hub.token("rita", Role::Read, None);
    let other = hub.token("otto", Role::Admin, None);
    World { hub, ids, owner, reader, other }
}

fn web_agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).timeout_global(Some(Duration::from_secs(120))).build().into()
}

/// A GET with optional bearer token, cookie and Accept; returns status, headers and body text.
fn get(url: &str, token: Option<&str>, cookie: Option<&str>, json: bool) -> (u16, ureq::http::HeaderMap, String) {
    let mut request = ureq::http::Request::get(url);
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    if let Some(cookie) = cookie {
        request = request.header("Cookie", cookie);
    }
    request = request.header("Accept", if json { "application/json" } else { "text/html,application/xhtml+xml" });
    let response = web_agent().run(request.body(()).unwrap()).unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().into_with_config().limit(u64::MAX).read_to_string().unwrap_or_default();
    (status, headers, body)
}

/// A form POST; returns status, headers and body text.
fn post_form(url: &str, form: &[(&str, &str)], cookie: Option<&str>, origin: Option<&str>) -> (u16, ureq::http::HeaderMap, String) {
    let body = serde_urlencoded::to_string(form).unwrap();
    let mut request = ureq::http::Request::post(url).header("Content-Type", "application/x-www-form-urlencoded");
    if let Some(cookie) = cookie {
        request = request.header("Cookie", cookie);
    }
    if let Some(origin) = origin {
        request = request.header("Origin", origin);
    }
    let response = web_agent().run(request.body(body.into_bytes()).unwrap()).unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().read_to_string().unwrap_or_default();
    (status, headers, body)
}

fn hex(id: CommitId) -> String {
    id.0.to_hex()
}

/// Every page of a repository, as paths under `/ada/NAME`, and the history API.
fn pages(name: &str, w: &World) -> Vec<String> {
    let tip = hex(*w.ids.last().unwrap());
    vec![
        format!("/ada/{name}"),
        format!("/ada/{name}/tree/main"),
        format!("/ada/{name}/tree/main/tests"),
        format!("/ada/{name}/blob/main/{SEED_FILE}"),
        format!("/ada/{name}/raw/main/{SEED_FILE}"),
        format!("/ada/{name}/blame/main/{SEED_FILE}"),
        format!("/ada/{name}/commits/main"),
        format!("/ada/{name}/commits"),
        format!("/ada/{name}/commit/{tip}"),
        format!("/ada/{name}/branches"),
        format!("/ada/{name}/tags"),
        format!("/api/repos/ada/{name}/history/main/{SEED_FILE}"),
    ]
}

fn authz_matrix(backend: Backend) {
    let w = world(backend, test_limits());
    let actors = [("anonymous", None), ("other user", Some(w.other.as_str())), ("reader", Some(w.reader.as_str())), ("owner", Some(w.owner.as_str()))];
    for (name, private) in [("open", false), ("secret", true)] {
        for path in pages(name, &w) {
            for (who, token) in actors {
                let allowed = !private || matches!(who, "reader" | "owner");
                for json in [false, true] {
                    let (status, headers, body) = get(&w.hub.url(&path), token, None, json);
                    let kind = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                    if allowed {
                        assert_eq!(status, 200, "{who} {path} json={json}: {body}");
                    } else {
                        assert_eq!(status, 404, "{who} {path} json={json}: {body}");
                        assert!(!body.contains("test_apply_mpack") && !body.contains("Sonnet"), "{who} {path}: {body}");
                        if json || path.starts_with("/api/") || kind.starts_with("application/json") {
                            let value: Value = serde_json::from_str(&body).unwrap();
                            assert_eq!(value["error"]["code"], "not_found", "{path}");
                        } else {
                            assert!(body.contains("data-testid=\"not-found\""), "{who} {path}: {body}");
                        }
                    }
                    if status == 200 && !path.contains("/raw/") {
                        if json || path.starts_with("/api/") {
                            assert!(kind.starts_with("application/json"), "{path}: {kind}");
                            serde_json::from_str::<Value>(&body).unwrap();
                        } else {
                            assert!(kind.starts_with("text/html"), "{path}: {kind}");
                            let csp = headers.get("content-security-policy").unwrap().to_str().unwrap();
                            assert!(csp.contains("default-src 'none'") && !csp.contains("script-src"), "{csp}");
                            assert!(body.starts_with("<!doctype html>") && body.contains("<html lang=\"en\">"), "{path}");
                            assert!(body.contains("name=\"viewport\""));
                            let bar = if token.is_some() { "data-testid=\"user-menu\"" } else { "data-testid=\"signin-link\"" };
                            assert!(body.contains(bar), "{who} {path}");
                        }
                    }
                }
            }
        }
    }
    // A missing repository, user, file, ref and commit are plain 404s.
    for path in
        ["/ada/nothing", "/nobody", "/ada/open/blob/main/none.txt", "/ada/open/tree/nobranch", "/ada/open/commit/abc", "/ada/open/blame/main/logo.bin/x"]
    {
        let (status, _, body) = get(&w.hub.url(path), None, None, false);
        assert_eq!(status, 404, "{path}: {body}");
        assert!(body.contains("data-testid=\"not-found\""), "{path}");
    }
    // The home page and the user page list only what the visitor may read.
    let (_, _, body) = get(&w.hub.url("/"), None, None, false);
    assert!(body.contains("href=\"/ada/open\"") && !body.contains("/ada/secret"), "{body}");
    let (_, _, body) = get(&w.hub.url("/ada"), Some(&w.reader), None, true);
    let listed: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(listed["repos"].as_array().unwrap().len(), 2, "{listed}");
    let (_, _, body) = get(&w.hub.url("/ada"), Some(&w.other), None, true);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["repos"].as_array().unwrap().len(), 1);
    // An invalid token is refused, not taken for anonymous.
    let (status, _, _) = get(&w.hub.url("/ada/open"), Some("muse_nonsense"), None, false);
    assert_eq!(status, 401);
}

/// The `data-testid` elements of `html` with their text, for assertions.
fn count(html: &str, needle: &str) -> usize {
    html.matches(needle).count()
}

fn file_page_and_history(backend: Backend) {
    let w = world(backend, test_limits());
    let (status, _, html) = get(&w.hub.url(&format!("/ada/open/blob/main/{SEED_FILE}")), None, None, false);
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("data-testid=\"file-name\">test_apply_mpack_partial_failure.py<"), "{html}");
    assert!(html.contains("data-testid=\"file-language\">python<"));
    assert!(html.contains("data-testid=\"history-count\" class=\"count\">6 commits<"), "{html}");
    assert_eq!(count(&html, "data-testid=\"history-row\""), 6);
    assert_eq!(count(&html, "data-testid=\"breaking\""), 2);
    assert_eq!(count(&html, ">Sonnet 4.6<"), 7, "six rows and the header");
    assert!(html.contains("fix: remove commit_exists filter from have anchors — server…"), "{html}");
    assert!(html.contains("title=\"fix: remove commit_exists filter from have anchors — server must keep them\""));
    assert!(html.contains("20 days ago") || html.contains("days ago"));
    assert!(html.contains("id=\"L1\"") && html.contains("href=\"#L6\"") && !html.contains("id=\"L7\""), "{html}");
    assert!(html.contains("hl-keyword") || html.contains("hl-string"), "highlighted: {html}");
    // Rows are newest first and link to their commit.
    let seed_commits: Vec<CommitId> = (0..6).map(|i| w.ids[1 + 2 * i]).collect();
    let positions: Vec<usize> = seed_commits.iter().rev().map(|id| html.find(&format!("data-commit=\"{}\"", hex(*id))).unwrap()).collect();
    assert!(positions.windows(2).all(|p| p[0] < p[1]), "{positions:?}");
    assert!(html.contains(&format!("href=\"/ada/open/commit/{}\"", hex(seed_commits[5]))));
    // The breaking changes are in the title and in a <details> list.
    assert!(html.contains("title=\"delta_add is now delta_upsert\"") && html.contains("<li>delta_add is now delta_upsert</li>"));
    // The JSON twins.
    let (_, _, body) = get(&w.hub.url(&format!("/api/repos/ada/open/history/main/{SEED_FILE}")), None, None, false);
    let history: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(history["count"], 6);
    assert_eq!(history["commits"].as_array().unwrap().len(), 6);
    assert_eq!(history["commits"][0]["commit_id"], seed_commits[5].to_string());
    assert_eq!(history["commits"][0]["model_id"], "claude-sonnet-4-6");
    assert_eq!(history["commits"][2]["breaking_changes"], json!(["delta_add is now delta_upsert"]));
    for key in [
        "parents",
        "snapshot_id",
        "message",
        "author",
        "committed_at",
        "agent_id",
        "toolchain_id",
        "prompt_hash",
        "sem_ver_bump",
        "metadata",
        "structured_delta",
        "signer_key_id",
        "signature",
    ] {
        assert!(history["commits"][0].get(key).is_some(), "{key}");
    }
    let (_, _, body) = get(&w.hub.url(&format!("/ada/open/blob/main/{SEED_FILE}")), None, None, true);
    let twin: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(twin["history"]["count"], 6);
    assert_eq!(twin["language"], "python");
    assert!(twin["content"].as_str().unwrap().contains("import pytest"));
    // Past 50 rows: pages.
    let (_, _, html) = get(&w.hub.url("/ada/open/blob/main/many.txt"), None, None, false);
    assert!(html.contains(">55 commits<"));
    assert_eq!(count(&html, "data-testid=\"history-row\""), 50);
    assert!(html.contains("data-testid=\"history-next\"") && !html.contains("data-testid=\"history-prev\""));
    assert_eq!(count(&html, ">GPT-5.1 Codex<"), 51);
    let (_, _, html) = get(&w.hub.url("/ada/open/blob/main/many.txt?page=2"), None, None, false);
    assert_eq!(count(&html, "data-testid=\"history-row\""), 5);
    assert!(html.contains("data-testid=\"history-prev\"") && !html.contains("data-testid=\"history-next\""));
    let (_, _, body) = get(&w.hub.url("/api/repos/ada/open/history/main/many.txt?per_page=10&page=6"), None, None, true);
    let page: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((page["count"].as_u64(), page["commits"].as_array().unwrap().len()), (Some(55), 5));
    // A binary file offers a download; the raw file is served inert.
    let (_, _, html) = get(&w.hub.url("/ada/open/blob/main/logo.bin"), None, None, false);
    assert!(html.contains("data-testid=\"download\" href=\"/ada/open/raw/main/logo.bin\"") && !html.contains("id=\"L1\""), "{html}");
    let (status, headers, _) = get(&w.hub.url("/ada/open/raw/main/logo.bin"), None, None, false);
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/octet-stream");
    let (_, headers, body) = get(&w.hub.url("/ada/open/raw/main/README.md"), None, None, false);
    assert_eq!(headers["content-type"], "text/plain; charset=utf-8");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(headers["content-security-policy"].to_str().unwrap().starts_with("sandbox"));
    assert!(body.starts_with("# Demo"));
    // The home page: entries with their last commit, the README rendered safely.
    let (_, _, html) = get(&w.hub.url("/ada/open"), None, None, false);
    assert!(html.contains("data-testid=\"tree-entry\" data-path=\"tests\" data-kind=\"tree\""), "{html}");
    assert!(html.contains("data-testid=\"tree-entry\" data-path=\"README.md\" data-kind=\"blob\""));
    assert_eq!(count(&html, "data-testid=\"entry-last-commit\""), 6);
    assert!(html.contains("data-testid=\"readme\"") && html.contains("<em>text</em>") && html.contains("<a href=\"#\">bad</a>"), "{html}");
    assert!(html.contains("data-testid=\"clone-url\">http://127.0.0.1:"));
    let (_, _, body) = get(&w.hub.url("/ada/open/tree/main/tests"), None, None, true);
    let tree: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(tree["entries"][0]["path"], SEED_FILE);
    assert_eq!(tree["entries"][0]["last_commit"]["commit_id"], seed_commits[5].to_string());
    // Blame: shares add up, runs link to the blame before them.
    let (_, _, html) = get(&w.hub.url(&format!("/ada/open/blame/main/{SEED_FILE}")), None, None, false);
    assert!(html.contains("data-testid=\"share\" data-label=\"Sonnet 4.6\" data-percent=\"100.0\""), "{html}");
    assert!(html.contains("data-testid=\"blame-before\""));
    let (_, _, body) = get(&w.hub.url("/ada/open/blame/main/src/other.rs"), None, None, true);
    let blame: Value = serde_json::from_str(&body).unwrap();
    let total: f64 = blame["shares"].as_array().unwrap().iter().map(|s| s["percent"].as_f64().unwrap()).sum();
    assert!((total - 100.0).abs() < 0.05, "{blame}");
    assert_eq!(blame["shares"][0]["label"], "human");
    // Commits: filters and pages.
    let (_, _, body) = get(&w.hub.url("/ada/open/commits/main?model=claude-sonnet-4-6"), None, None, true);
    let list: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(list["commits"].as_array().unwrap().len(), 6);
    let (_, _, body) = get(&w.hub.url(&format!("/ada/open/commits/main?path={SEED_FILE}&bump=minor")), None, None, true);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["commits"].as_array().unwrap().len(), 2);
    let (_, _, html) = get(&w.hub.url("/ada/open/commits/main"), None, None, false);
    assert_eq!(count(&html, "data-testid=\"commit-row\""), 50);
    assert!(html.contains("data-testid=\"commits-next\""));
    // The commit page: provenance, breaking list, changed files with a diff.
    let (_, _, html) = get(&w.hub.url(&format!("/ada/open/commit/{}", hex(seed_commits[3]))), None, None, false);
    assert!(html.contains("data-testid=\"provenance\"") && html.contains("claude-code") && html.contains("<code>claude-sonnet-4-6</code>"));
    assert!(html.contains("data-testid=\"breaking-list\"><li>delta_add is now delta_upsert</li>"), "{html}");
    assert!(html.contains(&format!("data-testid=\"changed-file\" data-path=\"{SEED_FILE}\"")) && html.contains("class=\"add\""));
    assert!(html.contains(&format!("data-testid=\"parent\" class=\"cid\" href=\"/ada/open/commit/{}\"", hex(w.ids[6]))));
    // Branches and tags.
    let (_, _, html) = get(&w.hub.url("/ada/open/tags"), None, None, false);
    assert!(html.contains("data-testid=\"ref-row\" data-name=\"v1.0\""));
    let (_, _, body) = get(&w.hub.url("/ada/open/branches"), None, None, true);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["branches"].as_array().unwrap().len(), 3);
}

fn everything_a_pusher_controls_is_escaped(backend: Backend) {
    let w = world(backend, test_limits());
    let evil = hex(*w.ids.last().unwrap());
    let enc = |s: &str| s.replace('<', "%3C").replace('>', "%3E").replace('"', "%22").replace(' ', "%20").replace('/', "%2F");
    let urls = [
        "/ada/open".to_string(),
        "/ada/open/tree/main/xss".to_string(),
        format!("/ada/open/blob/main/xss/{}/{}.py", enc("<script>alert(1)<"), enc("script>")),
        format!("/ada/open/blame/main/xss/{}/{}.py", enc("<script>alert(1)<"), enc("script>")),
        format!("/ada/open/blob/main/xss/{}.txt", enc(IMG)),
        "/ada/open/commits/main".to_string(),
        format!("/ada/open/commit/{evil}"),
        "/ada/open/branches".to_string(),
        format!("/ada/open/tree/{}", enc(EVIL_BRANCH)),
        format!("/ada/open/tree/{}", enc(SCRIPT)),
    ];
    for url in urls {
        let (status, _, html) = get(&w.hub.url(&url), None, None, false);
        assert_eq!(status, 200, "{url}: {html}");
        for raw in ["<script>", "<img", "onerror=alert(1)>"] {
            assert!(!html.contains(raw), "{url} has {raw}: {html}");
        }
        assert!(html.contains("&lt;script&gt;") || html.contains("&lt;img"), "{url}: {html}");
    }
    let (_, _, html) = get(&w.hub.url(&format!("/ada/open/commit/{evil}")), None, None, false);
    assert!(html.contains("model&lt;script&gt;alert(1)&lt;/script&gt;"), "{html}");
}

/// The value of `name` in the response's `Set-Cookie` headers, with the whole header.
fn set_cookie(headers: &ureq::http::HeaderMap, name: &str) -> Option<(String, String)> {
    headers.get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).find(|v| v.starts_with(&format!("{name}="))).map(|v| {
        let value = v[name.len() + 1..].split(';').next().unwrap().to_string();
        (value, v.to_string())
    })
}

/// Signs in through the form; returns the session cookie header value.
fn sign_in(hub: &TestHub, user: &str, password: &str) -> String {
    let (status, headers, html) = get(&hub.url("/login?next=/ada/secret"), None, None, false);
    assert_eq!(status, 200);
    let (csrf, _) = set_cookie(&headers, "muse_login").unwrap();
    assert!(html.contains(&format!("name=\"csrf\" value=\"{csrf}\"")) && html.contains("data-testid=\"login-form\""));
    let (status, headers, body) = post_form(
        &hub.url("/login"),
        &[("username", user), ("password", password), ("csrf", &csrf), ("next", "/ada/secret")],
        Some(&format!("muse_login={csrf}")),
        Some(&hub.base),
    );
    assert_eq!(status, 303, "{body}");
    assert_eq!(headers["location"], "/ada/secret");
    let (session, header) = set_cookie(&headers, "muse_session").unwrap();
    assert!(header.contains("HttpOnly") && header.contains("SameSite=Lax") && header.contains("Path=/") && !header.contains("Secure"), "{header}");
    format!("muse_session={session}")
}

fn sign_in_csrf_and_sign_out(backend: Backend) {
    let w = world(backend, test_limits());
    let hub = &w.hub;
    let (_, headers, _) = get(&hub.url("/login"), None, None, false);
    let (csrf, _) = set_cookie(&headers, "muse_login").unwrap();
    let jar = format!("muse_login={csrf}");
    // A wrong password shows the form again with an error.
    let (status, _, html) = post_form(&hub.url("/login"), &[("username", "rita"), ("password", "nope"), ("csrf", &csrf)], Some(&jar), None);
    assert_eq!(status, 401);
    assert!(html.contains("data-testid=\"flash-error\""), "{html}");
    // No CSRF token, a wrong one, or another site's Origin: 403, whatever the password.
    for (form_csrf, cookie, origin) in [
        ("", Some(jar.as_str()), None),
        ("x", Some(jar.as_str()), None),
        (csrf.as_str(), None, None),
        (csrf.as_str(), Some(jar.as_str()), Some("http://evil.test")),
    ] {
        let (status, headers, _) = post_form(&hub.url("/login"), &[("username", "rita"), ("password", "pw-rita"), ("csrf", form_csrf)], cookie, origin);
        assert_eq!(status, 403, "{form_csrf:?} {cookie:?} {origin:?}");
        assert!(set_cookie(&headers, "muse_session").is_none());
    }
    // `next` stays on this site.
    let (status, headers, _) =
        post_form(&hub.url("/login"), &[("username", "rita"), ("password", "pw-rita"), ("csrf", &csrf), ("next", "//evil.test/x")], Some(&jar), None);
    assert_eq!((status, headers["location"].to_str().unwrap()), (303, "/"));
    // Signed in, the reader sees the private repository; signed out, they do not.
    let session = sign_in(hub, "rita", "pw-rita");
    let (status, _, html) = get(&hub.url("/ada/secret"), None, Some(&session), false);
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("data-testid=\"user-menu\"") && html.contains(">rita<") && html.contains("data-testid=\"signout-form\""));
    let (status, _, _) = get(&hub.url(&format!("/api/repos/ada/secret/history/main/{SEED_FILE}")), None, Some(&session), true);
    assert_eq!(status, 200);
    // The wire protocol and the JSON API never take the cookie.
    let (status, _, _) = get(&hub.url("/ada/secret/muse/refs"), None, Some(&session), true);
    assert_eq!(status, 404);
    let (status, _, _) = get(&hub.url("/api/v1/user"), None, Some(&session), true);
    assert_eq!(status, 401);
    // Signing out needs the session's CSRF token.
    let token = {
        let (_, _, html) = get(&hub.url("/"), None, Some(&session), false);
        let at = html.find("name=\"csrf\" value=\"").unwrap() + 19;
        html[at..at + 43].to_string()
    };
    let (status, _, _) = post_form(&hub.url("/logout"), &[("csrf", "wrong")], Some(&session), None);
    assert_eq!(status, 403);
    let (status, _, _) = get(&hub.url("/ada/secret"), None, Some(&session), false);
    assert_eq!(status, 200, "a refused sign-out changes nothing");
    let (status, headers, _) = post_form(&hub.url("/logout"), &[("csrf", &token)], Some(&session), Some(&hub.base));
    assert_eq!((status, headers["location"].to_str().unwrap()), (303, "/"));
    assert!(set_cookie(&headers, "muse_session").unwrap().1.contains("Max-Age=0"));
    let (status, _, html) = get(&hub.url("/ada/secret"), None, Some(&session), false);
    assert_eq!(status, 404);
    assert!(html.contains("data-testid=\"signin-link\""));
}

fn sessions_expire(backend: Backend) {
    // Long enough for a sign-in and a page on a loaded machine; the wait below counts from
    // before the sign-in, so the session has certainly expired by then.
    let lifetime = Duration::from_secs(4);
    let limits = muse_hub_server::Limits { session_lifetime: lifetime, ..test_limits() };
    let w = world(backend, limits);
    let signed_in_at = std::time::Instant::now();
    let session = sign_in(&w.hub, "ada", "pw-ada");
    let (status, _, _) = get(&w.hub.url("/ada/secret"), None, Some(&session), false);
    assert_eq!(status, 200);
    std::thread::sleep((lifetime + Duration::from_millis(1100)).saturating_sub(signed_in_at.elapsed()));
    let (status, _, html) = get(&w.hub.url("/ada/secret"), None, Some(&session), false);
    assert_eq!(status, 404);
    assert!(html.contains("data-testid=\"signin-link\""));
}

fn merges_are_shown_as_such(backend: Backend) {
    let w = world(backend, test_limits());
    // A merge of main's tip and an older commit, pushed as main of a third repository.
    let local = Local::new();
    let ids = history(&local);
    let tip = *ids.last().unwrap();
    let mut writer = local.store.begin_write().unwrap();
    let snapshot = local.store.read_commit(&tip).unwrap().snapshot;
    let merge = Commit {
        parents: vec![tip, ids[3]],
        snapshot,
        message: "Merge branch 'agent/x'".into(),
        author: "Ada <ada@example.com>".into(),
        committed_at: muse_core::unix_to_rfc3339_utc(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64),
        ..Commit::default()
    };
    let merge = writer.add_commit(&merge).unwrap();
    writer.finish().unwrap();
    w.hub.repo("ada", "merged", false);
    let pack = local.pack(&[merge], &[]);
    let (status, body) = w.hub.push("ada/merged", &w.owner, Some(&pack), json!([{"name": "refs/heads/main", "new": merge.to_string()}]));
    assert_eq!(status, 200, "{body}");
    let (status, _, html) = get(&w.hub.url(&format!("/ada/merged/commit/{}", hex(merge))), None, None, false);
    assert_eq!(status, 200);
    assert_eq!(count(&html, "data-testid=\"merge\""), 1, "the merge commit's page says so");
    assert_eq!(count(&html, "data-testid=\"parent\""), 2);
    let (_, _, html) = get(&w.hub.url("/ada/merged/commits/main"), None, None, false);
    assert_eq!(count(&html, "data-testid=\"merge\""), 1, "only the merge's row is marked");
    let (_, _, html) = get(&w.hub.url(&format!("/ada/merged/commit/{}", hex(tip))), None, None, false);
    assert_eq!(count(&html, "data-testid=\"merge\""), 0);
}

on_both_backends!(
    merges_are_shown_as_such,
    authz_matrix,
    file_page_and_history,
    everything_a_pusher_controls_is_escaped,
    sign_in_csrf_and_sign_out,
    sessions_expire
);
