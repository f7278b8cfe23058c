//! What the hub keeps of its pages, and the pages of errors (`docs/hub.md` §Caching, §Web
//! pages): a push changes what a branch's pages show; a private repository's kept page reaches
//! no one without access, however it was kept; the invalidation hook; entity tags; another
//! visitor's nav bar in a kept page; the history index built after a push without a page
//! request; errors as pages for browsers and JSON for everything else; reserved user names.
//! A real server on a free port, on both database backends.

mod common;

use std::time::{Duration, Instant};

use common::{test_limits, Local, TestHub};
use muse_core::CommitId;
use muse_hub::{Backend, Repo, Role};
use serde_json::{json, Value};

const BROWSER: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

/// A GET with extra headers; returns status, headers and body text.
fn get(url: &str, headers: &[(&str, &str)]) -> (u16, ureq::http::HeaderMap, String) {
    request("GET", url, headers, None)
}

fn request(method: &str, url: &str, headers: &[(&str, &str)], body: Option<Vec<u8>>) -> (u16, ureq::http::HeaderMap, String) {
    let agent: ureq::Agent =
        ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).timeout_global(Some(Duration::from_secs(120))).build().into();
    let mut builder = ureq::http::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let response = agent.run(builder.body(body.unwrap_or_default()).unwrap()).unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().into_with_config().limit(u64::MAX).read_to_string().unwrap_or_default();
    (status, headers, body)
}

fn header(headers: &ureq::http::HeaderMap, name: &str) -> String {
    headers.get(name).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default()
}

/// `ada` owns the public `ada/open` and the private `ada/secret` (`rita` reads it, `otto` has no
/// role; everyone's password is `pw`); each has `main` with two commits of `notes.txt`.
struct World {
    hub: TestHub,
    local: Local,
    main: Vec<CommitId>,
    owner: String,
    reader: String,
    other: String,
    open: Repo,
    secret: Repo,
}

fn world(backend: Backend) -> World {
    let hub = TestHub::start(backend);
    for user in ["ada", "rita", "otto"] {
        hub.user_with_password(user, "pw");
    }
    let local = Local::new();
    let first = local.commit(&[], &[("notes.txt", b"first\n")], "first notes");
    let second = local.commit(&[first], &[("notes.txt", b"first\nsecond\n")], "second notes");
    let owner = hub.token("ada", Role::Admin, None);
    let open = hub.repo("ada", "open", false);
    let secret = hub.repo("ada", "secret", true);
    hub.collaborator(&secret, "rita", Role::Read);
    for name in ["open", "secret"] {
        let (status, body) =
            hub.push(&format!("ada/{name}"), &owner, Some(&local.pack(&[second], &[])), json!([{"name": "refs/heads/main", "new": second.to_string()}]));
        assert_eq!(status, 200, "{body}");
    }
    let reader = hub.token("rita", Role::Read, None);
    let other = hub.token("otto", Role::Admin, None);
    World { hub, local, main: vec![first, second], owner, reader, other, open, secret }
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn a_push_changes_what_a_branch_shows(backend: Backend) {
    let w = world(backend);
    let page = w.hub.url("/ada/open/blob/main/notes.txt");
    let history = w.hub.url("/api/repos/ada/open/history/main/notes.txt");
    let (_, headers, html) = get(&page, &[]);
    assert_eq!(header(&headers, "muse-cache"), "miss");
    assert!(html.contains(">2 commits<") && !html.contains("third"), "{html}");
    let (_, headers, again) = get(&page, &[]);
    assert_eq!(header(&headers, "muse-cache"), "hit");
    assert_eq!(again, html, "the kept page is the page");
    let (_, _, body) = get(&history, &[]);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["count"], 2);
    // A third commit on main and a new branch.
    let third = w.local.commit(&[w.main[1]], &[("notes.txt", b"first\nsecond\nthird\n")], "third notes");
    let pack = w.local.pack(&[third], &[w.main[1]]);
    let updates = json!([
        {"name": "refs/heads/main", "old": w.main[1].to_string(), "new": third.to_string()},
        {"name": "refs/heads/topic", "new": w.main[0].to_string()},
    ]);
    let (status, body) = w.hub.push("ada/open", &w.owner, Some(&pack), updates);
    assert_eq!(status, 200, "{body}");
    let (_, headers, html) = get(&page, &[]);
    assert_eq!(header(&headers, "muse-cache"), "miss");
    assert!(html.contains(">3 commits<") && html.contains("third"), "{html}");
    assert!(html.contains("/ada/open/tree/topic"), "the branch selector lists the new branch");
    let (_, _, body) = get(&history, &[]);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["count"], 3);
    // The page of a commit id never changes: the old main is still there, as it was.
    let (status, _, old) = get(&w.hub.url(&format!("/ada/open/blob/{}/notes.txt", w.main[1].0.to_hex())), &[]);
    assert_eq!(status, 200);
    assert!(old.contains(">2 commits<"), "{old}");
    // The other repository's pages were not touched.
    let (_, headers, _) = get(&w.hub.url("/ada/secret/blob/main/notes.txt"), &[("Authorization", &bearer(&w.owner))]);
    assert_eq!(header(&headers, "muse-cache"), "miss");
    let (_, headers, _) = get(&w.hub.url("/ada/secret/blob/main/notes.txt"), &[("Authorization", &bearer(&w.owner))]);
    assert_eq!(header(&headers, "muse-cache"), "hit");
}

fn a_kept_private_page_reaches_no_one_without_access(backend: Backend) {
    let w = world(backend);
    let paths = ["/ada/secret", "/ada/secret/blob/main/notes.txt", "/ada/secret/commits/main", "/api/repos/ada/secret/history/main/notes.txt"];
    for path in paths {
        let url = w.hub.url(path);
        for accept in [BROWSER, "application/json"] {
            // Kept once the reader saw it.
            let (status, _, _) = get(&url, &[("Authorization", &bearer(&w.reader)), ("Accept", accept)]);
            assert_eq!(status, 200, "{path}");
            let (status, headers, _) = get(&url, &[("Authorization", &bearer(&w.reader)), ("Accept", accept)]);
            assert_eq!((status, header(&headers, "muse-cache").as_str()), (200, "hit"), "{path}");
            assert_eq!(header(&headers, "cache-control"), "no-store", "no browser stores a private page");
            for (who, auth) in [("anonymous", None), ("otto", Some(bearer(&w.other)))] {
                let mut headers = vec![("Accept", accept)];
                if let Some(auth) = &auth {
                    headers.push(("Authorization", auth));
                }
                let (status, _, body) = get(&url, &headers);
                assert_eq!(status, 404, "{who} {path}");
                assert!(!body.contains("notes") && !body.contains("first"), "{who} {path}: {body}");
            }
        }
    }
    // Access taken away: the kept pages are gone for that visitor at once.
    w.hub.rt.block_on(w.hub.hub.set_collaborator(w.secret.id, "rita", None)).unwrap();
    for path in paths {
        let (status, _, _) = get(&w.hub.url(path), &[("Authorization", &bearer(&w.reader))]);
        assert_eq!(status, 404, "{path}");
    }
    // A public page kept for everyone, then the repository made private.
    let url = w.hub.url("/ada/open/blob/main/notes.txt");
    let (status, headers, _) = get(&url, &[]);
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "cache-control"), "private, no-cache");
    w.hub.rt.block_on(w.hub.hub.set_repo_private(w.open.id, true)).unwrap();
    let (status, _, _) = get(&url, &[]);
    assert_eq!(status, 404);
    let (status, headers, html) = get(&url, &[("Authorization", &bearer(&w.owner))]);
    assert_eq!((status, header(&headers, "muse-cache").as_str()), (200, "miss"), "visibility is shown: the page is new");
    assert!(html.contains(">private<"), "{html}");
}

fn the_invalidation_hook_and_entity_tags(backend: Backend) {
    let w = world(backend);
    let url = w.hub.url("/ada/open/commits/main");
    let cache = |headers: &[(&str, &str)]| header(&get(&url, headers).1, "muse-cache");
    assert_eq!(cache(&[]), "miss");
    assert_eq!(cache(&[]), "hit");
    w.hub.hub.invalidate(Some(w.secret.id));
    assert_eq!(cache(&[]), "hit", "another repository's change");
    w.hub.hub.invalidate(Some(w.open.id));
    assert_eq!(cache(&[]), "miss");
    assert_eq!(cache(&[]), "hit");
    w.hub.hub.invalidate(None);
    assert_eq!(cache(&[]), "miss", "a change to every repository (a signing key revoked)");
    // Entity tags: 304 for the same page, a tag per nav bar.
    let (status, headers, body) = get(&url, &[]);
    let tag = header(&headers, "etag");
    assert!(status == 200 && tag.starts_with('"') && body.contains("data-testid=\"signin-link\""), "{tag}");
    let (status, headers, body) = get(&url, &[("If-None-Match", &tag)]);
    assert_eq!((status, body.as_str(), header(&headers, "etag")), (304, "", tag.clone()));
    let (status, _, _) = get(&url, &[("If-None-Match", "\"something-else\"")]);
    assert_eq!(status, 200);
    let auth = bearer(&w.owner);
    let (status, headers, html) = get(&url, &[("Authorization", &auth), ("If-None-Match", &tag)]);
    assert_eq!(status, 200, "a signed-in visitor's page differs from the anonymous one");
    assert!(html.contains("data-testid=\"user-menu\"") && !html.contains("data-testid=\"signin-link\""), "{html}");
    assert_eq!(header(&headers, "muse-cache"), "hit");
    let own = header(&headers, "etag");
    assert_ne!(own, tag);
    assert_eq!(get(&url, &[("Authorization", &auth), ("If-None-Match", &own)]).0, 304);
    // The JSON twin has its own tag.
    let (_, headers, _) = get(&url, &[("Accept", "application/json")]);
    assert_ne!(header(&headers, "etag"), tag);
    assert!(header(&headers, "content-type").starts_with("application/json"));
}

fn a_kept_page_carries_each_visitors_own_nav_bar(backend: Backend) {
    let w = world(backend);
    // Rita signs in through the form and sees the page first: it is kept with no trace of her.
    let session = sign_in(&w, "rita");
    let url = w.hub.url("/ada/open/blob/main/notes.txt");
    let (_, headers, html) = get(&url, &[("Cookie", &session.0)]);
    assert_eq!(header(&headers, "muse-cache"), "miss");
    assert!(html.contains(">rita<") && html.contains(&format!("value=\"{}\"", session.1)), "her nav bar with her sign-out token");
    let (_, headers, html) = get(&url, &[]);
    assert_eq!(header(&headers, "muse-cache"), "hit");
    assert!(!html.contains("rita") && !html.contains(&session.1) && html.contains("data-testid=\"signin-link\""), "{html}");
    let (_, _, html) = get(&url, &[("Authorization", &bearer(&w.owner))]);
    assert!(html.contains(">ada<") && !html.contains("rita"));
}

/// Signs `user` in (password `pw`); returns the cookie header and the session's CSRF token.
fn sign_in(w: &World, user: &str) -> (String, String) {
    let (_, headers, _) = get(&w.hub.url("/login"), &[]);
    let login = headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap()).find(|v| v.starts_with("muse_login=")).unwrap();
    let csrf = login["muse_login=".len()..].split(';').next().unwrap().to_string();
    let form = serde_urlencoded::to_string([("username", user), ("password", "pw"), ("csrf", &csrf)]).unwrap();
    let cookie = format!("muse_login={csrf}");
    let (status, headers, body) =
        request("POST", &w.hub.url("/login"), &[("Content-Type", "application/x-www-form-urlencoded"), ("Cookie", &cookie)], Some(form.into_bytes()));
    assert_eq!(status, 303, "{body}");
    let session = headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap()).find(|v| v.starts_with("muse_session=")).unwrap();
    let cookie = session.split(';').next().unwrap().to_string();
    let (_, _, html) = get(&w.hub.url("/"), &[("Cookie", &cookie)]);
    let at = html.find("name=\"csrf\" value=\"").unwrap() + 19;
    let token = html[at..].split('"').next().unwrap().to_string();
    (cookie, token)
}

fn the_history_index_is_built_after_a_push(backend: Backend) {
    let w = world(backend);
    let index = |repo: &Repo| w.hub.data.path().join("repos").join(format!("{}.muse", repo.id.0)).join("history").join("chain");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !(index(&w.open).exists() && index(&w.secret).exists()) {
        assert!(Instant::now() < deadline, "no history index 60 s after the push, with no page asked for");
        std::thread::sleep(Duration::from_millis(50));
    }
    // A burst of page requests right after a push: every one answers, from one build.
    let next = w.local.commit(&[w.main[1]], &[("notes.txt", b"more\n")], "more notes");
    let (status, body) = w.hub.push(
        "ada/open",
        &w.owner,
        Some(&w.local.pack(&[next], &[w.main[1]])),
        json!([{"name": "refs/heads/main", "old": w.main[1].to_string(), "new": next.to_string()}]),
    );
    assert_eq!(status, 200, "{body}");
    let pages: Vec<_> = (0..8)
        .map(|n| {
            let url = w.hub.url(&format!("/api/repos/ada/open/history/main/notes.txt?per_page={}", 10 + n % 2));
            std::thread::spawn(move || get(&url, &[]))
        })
        .collect();
    for page in pages {
        let (status, _, body) = page.join().unwrap();
        assert_eq!(status, 200, "{body}");
        assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["count"], 3, "{body}");
    }
}

fn errors_are_pages_for_browsers_and_json_for_the_rest(backend: Backend) {
    let w = world(backend);
    let page = |path: &str, status: u16, testid: &str| {
        let (got, headers, body) = get(&w.hub.url(path), &[("Accept", BROWSER)]);
        assert_eq!(got, status, "{path}: {body}");
        assert!(header(&headers, "content-type").starts_with("text/html"), "{path}");
        assert!(header(&headers, "content-security-policy").contains("default-src 'none'"), "{path}");
        assert!(body.starts_with("<!doctype html>") && body.contains(&format!("data-testid=\"{testid}\"")), "{path}: {body}");
        assert!(!body.contains("<script"), "{path}");
    };
    for path in ["/no/such/thing/deep", "/nobody", "/ada/nothing", "/ada/open/blob/main/none.txt", "/ada/open/muse/nothing/at/all", "/static/none.css"] {
        page(path, 404, "not-found");
    }
    // JSON for clients that ask for it, for those that name no type, and under /api/ always.
    for (path, accept) in
        [("/no/such/thing/deep", "application/json"), ("/no/such/thing/deep", ""), ("/api/v1/nothing", BROWSER), ("/api/repos/ada/x/history/main/a", BROWSER)]
    {
        let (status, headers, body) = get(&w.hub.url(path), &[("Accept", accept)]);
        assert_eq!(status, 404, "{path}");
        assert!(header(&headers, "content-type").starts_with("application/json"), "{path} {accept}");
        assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["error"]["code"], "not_found");
    }
    // A signed-in visitor's 404 page has their nav bar.
    let (_, _, body) = get(&w.hub.url("/no/such/thing"), &[("Accept", BROWSER), ("Authorization", &bearer(&w.owner))]);
    assert!(body.contains("data-testid=\"user-menu\""), "{body}");
    // A method a route does not have (404, as docs/protocol.md says), 401 and 413 as pages.
    let (status, headers, body) = request("POST", &w.hub.url("/ada/open"), &[("Accept", BROWSER)], None);
    assert_eq!(status, 404, "{body}");
    assert!(header(&headers, "content-type").starts_with("text/html") && body.contains("data-testid=\"not-found\""), "{body}");
    let (status, headers, body) = get(&w.hub.url("/login"), &[("Accept", BROWSER), ("Authorization", "Bearer muse_nonsense")]);
    assert_eq!(status, 401, "{body}");
    assert!(header(&headers, "content-type").starts_with("text/html") && body.contains("data-testid=\"error\""), "{body}");
    assert!(!header(&headers, "www-authenticate").is_empty());
    let big = vec![b'x'; 20 << 10];
    let (status, headers, body) =
        request("POST", &w.hub.url("/login"), &[("Accept", BROWSER), ("Content-Type", "application/x-www-form-urlencoded")], Some(big));
    assert_eq!(status, 413, "{body}");
    assert!(header(&headers, "content-type").starts_with("text/html"), "{body}");
    // HEAD: the status, no body.
    let (status, _, body) = request("HEAD", &w.hub.url("/no/such/thing"), &[("Accept", BROWSER)], None);
    assert_eq!((status, body.as_str()), (404, ""));
}

fn rate_limited_browsers_get_a_page(backend: Backend) {
    let limits = muse_hub_server::Limits { rate_per_ip: muse_hub_server::rate::Rate { per_minute: 60, burst: 2 }, ..test_limits() };
    let hub = TestHub::with_limits(backend, limits);
    let mut last = (0, ureq::http::HeaderMap::new(), String::new());
    for _ in 0..3 {
        last = get(&hub.url("/"), &[("Accept", BROWSER)]);
    }
    let (status, headers, body) = last;
    assert_eq!(status, 429, "{body}");
    assert!(header(&headers, "content-type").starts_with("text/html") && body.contains("data-testid=\"error\""), "{body}");
    assert!(!header(&headers, "retry-after").is_empty());
}

fn reserved_user_names_are_refused(backend: Backend) {
    let hub = TestHub::start(backend);
    for name in ["login", "Static", "api", "new", "settings", "explore", "mcp"] {
        let error = hub.rt.block_on(hub.hub.create_user(name, None, None)).unwrap_err();
        assert_eq!((error.code(), error.http_status()), ("reserved_name", 400), "{name}");
    }
    // The command line says so too, with its exit code for bad input.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_musehub"))
        .args(["user", "add", "settings", "--json", "--data"])
        .arg(hub.data.path().join("other"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(8), "{}", String::from_utf8_lossy(&out.stderr));
    let error: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!((error["error"]["code"].as_u64(), error["error"]["kind"].as_str()), (Some(8), Some("reserved_name")), "{error}");
}

on_both_backends!(
    a_push_changes_what_a_branch_shows,
    a_kept_private_page_reaches_no_one_without_access,
    the_invalidation_hook_and_entity_tags,
    a_kept_page_carries_each_visitors_own_nav_bar,
    the_history_index_is_built_after_a_push,
    errors_are_pages_for_browsers_and_json_for_the_rest,
    rate_limited_browsers_get_a_page,
    reserved_user_names_are_refused
);
