//! The authorization matrix: every actor × every endpoint (wire and JSON API) × a public and a
//! private repository, each cell asserting its status; and a private repository answers the
//! very same 404 as one that does not exist. On SQLite and on PostgreSQL.

mod common;

use common::*;
use muse_core::CommitId;
use muse_hub::{Backend, Repo, Role};
use serde_json::{json, Value};

on_both_backends!(authz_matrix, private_repositories_answer_exactly_like_missing_ones, bad_revoked_and_expired_tokens_are_401_everywhere);

/// What an actor's effective permission is on a repository (as the policy should decide).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Nothing,
    Read,
    Write,
    Admin,
}

/// One actor of the matrix.
struct Who {
    label: &'static str,
    token: Option<String>,
    /// Its permission on a public and on a private repository; `None`: its token is refused
    /// (401) everywhere.
    levels: Option<(Level, Level)>,
    /// Whether it may manage tokens and create repositories (unlimited token of admin / write
    /// scope).
    manages_tokens: bool,
    creates_repos: bool,
}

/// The expected status of a repository endpoint needing `needs`, for an actor with `has`,
/// anonymous or not; `ok` is the endpoint's success status.
fn expected(who: &Who, private: bool, needs: Level, ok: u16) -> u16 {
    let Some((public_level, private_level)) = who.levels else { return 401 };
    let has = if private { private_level } else { public_level };
    if has >= needs {
        ok
    } else if has == Level::Nothing {
        404
    } else if who.token.is_none() {
        401
    } else {
        403
    }
}

struct Fixture {
    hub: TestHub,
    tip: CommitId,
    pack: Vec<u8>,
}

/// `ada` owns the repositories; `rita` reads, `walt` writes, `adam` administers; `otto` has no
/// role.
fn repo_with_roles(hub: &TestHub, name: &str, private: bool) -> Repo {
    let repo = hub.repo("ada", name, private);
    hub.collaborator(&repo, "rita", Role::Read);
    hub.collaborator(&repo, "walt", Role::Write);
    hub.collaborator(&repo, "adam", Role::Admin);
    repo
}

fn fixture(backend: Backend) -> (Fixture, Vec<Who>) {
    let hub = TestHub::start(backend);
    for user in ["ada", "rita", "walt", "adam", "otto", "zed"] {
        hub.user(user);
    }
    let owner = hub.token("ada", Role::Admin, None);
    hub.repo("ada", "elsewhere", false);
    let local = Local::new();
    let tip = local.commit(&[], &[("a.txt", b"a\n")], "first");
    let pack = local.pack(&[tip], &[]);
    for (name, private) in [("public", false), ("private", true)] {
        repo_with_roles(&hub, name, private);
        let (status, body) = hub.push(&format!("ada/{name}"), &owner, Some(&pack), json!([{"name": "refs/heads/main", "old": null, "new": tip}]));
        assert_eq!(status, 200, "{body}");
    }
    use Level::*;
    let who = |label, token: Option<String>, levels, manages_tokens, creates_repos| Who { label, token, levels, manages_tokens, creates_repos };
    let actors = vec![
        who("anonymous", None, Some((Read, Nothing)), false, false),
        who("reader", Some(hub.token("rita", Role::Admin, None)), Some((Read, Read)), true, true),
        who("writer", Some(hub.token("walt", Role::Admin, None)), Some((Write, Write)), true, true),
        who("admin", Some(hub.token("adam", Role::Admin, None)), Some((Admin, Admin)), true, true),
        who("other user", Some(hub.token("otto", Role::Admin, None)), Some((Read, Nothing)), true, true),
        who("revoked", Some(hub.revoked_token("walt")), None, false, false),
        who("expired", Some(hub.expired_token("walt")), None, false, false),
        who("wrong-repo token", Some(hub.token("adam", Role::Admin, Some(("ada", "elsewhere")))), Some((Read, Nothing)), false, false),
        who("read-scope token", Some(hub.token("walt", Role::Read, None)), Some((Read, Read)), false, false),
    ];
    (Fixture { hub, tip, pack }, actors)
}

fn authz_matrix(backend: Backend) {
    let (f, actors) = fixture(backend);
    let hub = &f.hub;
    let mut cells = 0;
    let mut check = |label: &str, what: &str, status: u16, want: u16, body: &Value| {
        assert_eq!(status, want, "{label} × {what}: {body}");
        cells += 1;
    };
    for (n, who) in actors.iter().enumerate() {
        let token = who.token.as_deref();
        for private in [false, true] {
            let full = if private { "ada/private" } else { "ada/public" };
            let what = |endpoint: &str| format!("{endpoint} on {full}");
            // Wire: reading.
            let (status, body) = call(&hub.agent, "GET", &hub.repo_url(full, "refs"), token, None);
            check(who.label, &what("GET refs"), status, expected(who, private, Level::Read, 200), &body);
            let (status, body) = call(&hub.agent, "POST", &hub.repo_url(full, "negotiate"), token, Some(json!({"haves": [f.tip]})));
            check(who.label, &what("POST negotiate"), status, expected(who, private, Level::Read, 200), &body);
            let (status, body) = call(&hub.agent, "POST", &hub.repo_url(full, "fetch"), token, Some(json!({"wants": [f.tip], "haves": []})));
            let shown = if status == 200 { Value::Null } else { body };
            check(who.label, &what("POST fetch"), status, expected(who, private, Level::Read, 200), &shown);
            // Wire: writing (a partial upload, its status, and a push of a new branch).
            let upload = hub.repo_url(full, &format!("uploads/{}", checksum(&f.pack)));
            let (status, body) = match token {
                Some(token) => put_upload(&hub.agent, &upload, token, 0, f.pack.len() as u64, &f.pack[..10]),
                None => {
                    let request = ureq::http::Request::put(&upload)
                        .header("Upload-Offset", "0")
                        .header("Upload-Length", f.pack.len().to_string())
                        .body(f.pack[..10].to_vec())
                        .unwrap();
                    let mut response = hub.agent.run(request).unwrap();
                    (response.status().as_u16(), serde_json::from_slice(&response.body_mut().read_to_vec().unwrap()).unwrap_or(Value::Null))
                }
            };
            check(who.label, &what("PUT uploads"), status, expected(who, private, Level::Write, 200), &body);
            let mut request = ureq::http::Request::head(&upload);
            if let Some(token) = token {
                request = request.header("Authorization", bearer(token));
            }
            let status = hub.agent.run(request.body(()).unwrap()).unwrap().status().as_u16();
            check(who.label, &what("HEAD uploads"), status, expected(who, private, Level::Write, 200), &Value::Null);
            let push = json!({"pack": null, "updates": [{"name": format!("refs/heads/by-{n}"), "old": null, "new": f.tip}]});
            let (status, body) = call(&hub.agent, "POST", &hub.repo_url(full, "push"), token, Some(push));
            check(who.label, &what("POST push"), status, expected(who, private, Level::Write, 200), &body);
            // API: the repository, its listing, its collaborators.
            let api = hub.url(&format!("/api/v1/repos/{full}"));
            let (status, body) = call(&hub.agent, "GET", &api, token, None);
            check(who.label, &what("GET /api/v1/repos/O/N"), status, expected(who, private, Level::Read, 200), &body);
            let (status, body) = call(&hub.agent, "GET", &hub.url("/api/v1/users/ada/repos"), token, None);
            let listed = status == 200 && body.as_array().unwrap().iter().any(|r| r["full_name"] == full);
            check(who.label, &what("GET /api/v1/users/O/repos"), status, if who.levels.is_some() { 200 } else { 401 }, &body);
            if status == 200 {
                assert_eq!(listed, expected(who, private, Level::Read, 200) == 200, "{} × listing of {full}: {body}", who.label);
            }
            let (status, body) = call(&hub.agent, "PUT", &format!("{api}/collaborators/zed"), token, Some(json!({"role": "read"})));
            check(who.label, &what("PUT collaborators"), status, expected(who, private, Level::Admin, 204), &body);
            let (status, body) = call(&hub.agent, "DELETE", &format!("{api}/collaborators/zed"), token, None);
            check(who.label, &what("DELETE collaborators"), status, expected(who, private, Level::Admin, 204), &body);
            // Signing: which branches take only signed commits (patterns no pushed branch matches).
            let signed = format!("{api}/signed-branches");
            let (status, body) = call(&hub.agent, "GET", &signed, token, None);
            check(who.label, &what("GET signed-branches"), status, expected(who, private, Level::Read, 200), &body);
            let (status, body) = call(&hub.agent, "PUT", &signed, token, Some(json!({"patterns": ["release/*"]})));
            check(who.label, &what("PUT signed-branches"), status, expected(who, private, Level::Admin, 200), &body);
            // Deleting: on a repository of its own with the same roles.
            let doomed = format!("doomed-{n}-{private}");
            repo_with_roles(hub, &doomed, private);
            let (status, body) = call(&hub.agent, "DELETE", &hub.url(&format!("/api/v1/repos/ada/{doomed}")), token, None);
            check(who.label, &what("DELETE /api/v1/repos/O/N"), status, expected(who, private, Level::Admin, 204), &body);
        }
        // Endpoints about the caller, not a repository.
        let (status, body) = call(&hub.agent, "GET", &hub.url("/api/v1/user"), token, None);
        check(who.label, "GET /api/v1/user", status, if who.token.is_some() && who.levels.is_some() { 200 } else { 401 }, &body);
        let refused = if who.levels.is_none() || who.token.is_none() { 401 } else { 403 };
        let (status, body) = call(&hub.agent, "GET", &hub.url("/api/v1/tokens"), token, None);
        check(who.label, "GET /api/v1/tokens", status, if who.manages_tokens { 200 } else { refused }, &body);
        let (status, body) = call(&hub.agent, "POST", &hub.url("/api/v1/tokens"), token, Some(json!({"label": "made", "scope": "read"})));
        check(who.label, "POST /api/v1/tokens", status, if who.manages_tokens { 201 } else { refused }, &body);
        let (status, body) = call(&hub.agent, "DELETE", &hub.url("/api/v1/tokens/999999"), token, None);
        check(who.label, "DELETE /api/v1/tokens/ID", status, if who.manages_tokens { 404 } else { refused }, &body);
        // Signing keys are the caller's own, managed like its tokens (a key that does not parse:
        // 400 once the caller may manage keys).
        let (status, body) = call(&hub.agent, "GET", &hub.url("/api/v1/user/keys"), token, None);
        check(who.label, "GET /api/v1/user/keys", status, if who.manages_tokens { 200 } else { refused }, &body);
        let (status, body) = call(&hub.agent, "POST", &hub.url("/api/v1/user/keys"), token, Some(json!({"public_key": "not a key"})));
        check(who.label, "POST /api/v1/user/keys", status, if who.manages_tokens { 400 } else { refused }, &body);
        let (status, body) = call(&hub.agent, "POST", &hub.url("/api/v1/user/keys/999999/revoke"), token, None);
        check(who.label, "POST /api/v1/user/keys/ID/revoke", status, if who.manages_tokens { 404 } else { refused }, &body);
        let (status, body) = call(&hub.agent, "DELETE", &hub.url("/api/v1/user/keys/999999"), token, None);
        check(who.label, "DELETE /api/v1/user/keys/ID", status, if who.manages_tokens { 404 } else { refused }, &body);
        let (status, body) = call(&hub.agent, "POST", &hub.url("/api/v1/repos"), token, Some(json!({"name": format!("made-{n}")})));
        check(who.label, "POST /api/v1/repos", status, if who.creates_repos { 201 } else { refused }, &body);
    }
    assert_eq!(cells, actors.len() * (2 * 13 + 9));
}

fn private_repositories_answer_exactly_like_missing_ones(backend: Backend) {
    let hub = TestHub::start(backend);
    hub.user("ada");
    hub.user("otto");
    let repo = hub.repo("ada", "secret", true);
    let owner = hub.token("ada", Role::Admin, None);
    let stranger = hub.token("otto", Role::Admin, None);
    let requests: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", hub.repo_url("ada/secret", "refs"), None),
        ("POST", hub.repo_url("ada/secret", "negotiate"), Some(json!({"haves": []}))),
        ("POST", hub.repo_url("ada/secret", "fetch"), Some(json!({"wants": [CommitId(muse_core::ObjectId::sha256(b"x"))], "haves": []}))),
        ("POST", hub.repo_url("ada/secret", "push"), Some(json!({"pack": null, "updates": []}))),
        ("GET", hub.url("/api/v1/repos/ada/secret"), None),
        ("DELETE", hub.url("/api/v1/repos/ada/secret"), None),
        ("PUT", hub.url("/api/v1/repos/ada/secret/collaborators/otto"), Some(json!({"role": "admin"}))),
    ];
    let answers =
        |token: Option<&str>| -> Vec<(u16, Value)> { requests.iter().map(|(method, url, body)| call(&hub.agent, method, url, token, body.clone())).collect() };
    let hidden_anonymous = answers(None);
    let hidden_stranger = answers(Some(&stranger));
    for (status, _) in &hidden_anonymous {
        assert_eq!(*status, 404);
    }
    // Now it really does not exist.
    let (status, _) = call(&hub.agent, "DELETE", &hub.url("/api/v1/repos/ada/secret"), Some(&owner), None);
    assert_eq!(status, 204);
    assert_eq!(answers(None), hidden_anonymous, "a private repository must answer exactly as a missing one");
    assert_eq!(answers(Some(&stranger)), hidden_stranger);
    let _ = repo;
}

fn bad_revoked_and_expired_tokens_are_401_everywhere(backend: Backend) {
    let hub = TestHub::start(backend);
    hub.user("ada");
    hub.repo("ada", "open", false);
    let revoked = hub.revoked_token("ada");
    let expired = hub.expired_token("ada");
    let bad = format!("muse_{}", "A".repeat(43));
    for (token, code) in [(bad.as_str(), "bad_token"), ("garbage", "bad_token"), (revoked.as_str(), "token_revoked"), (expired.as_str(), "token_expired")] {
        for (method, url) in [("GET", hub.repo_url("ada/open", "refs")), ("GET", hub.url("/api/v1/user")), ("GET", hub.url("/api/v1/users/ada/repos"))] {
            let (status, body) = call(&hub.agent, method, &url, Some(token), None);
            assert_eq!((status, body["error"]["code"].as_str()), (401, Some(code)), "{url}: {body}");
        }
    }
    // Basic with the token as password works like Bearer.
    let good = hub.token("ada", Role::Read, None);
    let basic = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("x:{good}"));
    let request = ureq::http::Request::get(hub.url("/api/v1/user")).header("Authorization", format!("Basic {basic}")).body(()).unwrap();
    let mut response = hub.agent.run(request).unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = serde_json::from_slice(&response.body_mut().read_to_vec().unwrap()).unwrap();
    assert_eq!(body["name"], "ada");
    assert!(body["token"].get("token").is_none(), "a listing never shows a secret");
}
