//! The JSON API's behaviour beyond authorization (which `authz.rs` covers): repositories,
//! listings, collaborators and tokens, on SQLite and on PostgreSQL.

mod common;

use common::*;
use muse_hub::{Backend, Role};
use serde_json::{json, Value};

on_both_backends!(repositories_collaborators_and_tokens);

fn repositories_collaborators_and_tokens(backend: Backend) {
    let hub = TestHub::start(backend);
    hub.user("ada");
    hub.user("bob");
    let ada = hub.token("ada", Role::Admin, None);
    let bob = hub.token("bob", Role::Write, None);
    let (status, body) = call(&hub.agent, "GET", &hub.url("/api/v1/user"), Some(&ada), None);
    assert_eq!(status, 200);
    assert_eq!((body["name"].as_str(), body["token"]["scope"].as_str()), (Some("ada"), Some("admin")));
    // Create: under the caller; the name rules; taken names.
    let (status, body) = call(&hub.agent, "POST", &hub.url("/api/v1/repos"), Some(&ada), Some(json!({"name": "engine", "private": true})));
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["full_name"], "ada/engine");
    assert_eq!(body["private"], true);
    let (status, body) = call(&hub.agent, "POST", &hub.url("/api/v1/repos"), Some(&ada), Some(json!({"name": "Engine"})));
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("conflict")), "{body}");
    let (status, body) = call(&hub.agent, "POST", &hub.url("/api/v1/repos"), Some(&ada), Some(json!({"name": "../x"})));
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_name")), "{body}");
    let (status, body) = call(&hub.agent, "POST", &hub.url("/api/v1/repos"), Some(&ada), Some(json!({"private": true})));
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("bad_request")), "{body}");
    call(&hub.agent, "POST", &hub.url("/api/v1/repos"), Some(&ada), Some(json!({"name": "open"})));
    // Listings show only what the caller may read.
    let names = |token: Option<&str>| -> Vec<String> {
        let (status, body) = call(&hub.agent, "GET", &hub.url("/api/v1/users/ada/repos"), token, None);
        assert_eq!(status, 200, "{body}");
        body.as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(names(Some(&ada)), ["engine", "open"]);
    assert_eq!(names(None), ["open"]);
    assert_eq!(names(Some(&bob)), ["open"]);
    let (status, _) = call(&hub.agent, "GET", &hub.url("/api/v1/users/nobody/repos"), None, None);
    assert_eq!(status, 404);
    // A collaborator sees and may push; removed, the repository is gone for them.
    let (status, body) = call(&hub.agent, "PUT", &hub.url("/api/v1/repos/ada/engine/collaborators/bob"), Some(&ada), Some(json!({"role": "write"})));
    assert_eq!(status, 204, "{body}");
    assert_eq!(names(Some(&bob)), ["engine", "open"]);
    let (status, body) = call(&hub.agent, "PUT", &hub.url("/api/v1/repos/ada/engine/collaborators/bob"), Some(&ada), Some(json!({"role": "owner"})));
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("bad_request")), "{body}");
    let (status, _) = call(&hub.agent, "PUT", &hub.url("/api/v1/repos/ada/engine/collaborators/nobody"), Some(&ada), Some(json!({"role": "read"})));
    assert_eq!(status, 404);
    let (status, body) = call(&hub.agent, "GET", &hub.url("/api/v1/repos/ada/engine"), Some(&bob), None);
    assert_eq!((status, body["name"].as_str()), (200, Some("engine")));
    let (status, _) = call(&hub.agent, "DELETE", &hub.url("/api/v1/repos/ada/engine/collaborators/bob"), Some(&ada), None);
    assert_eq!(status, 204);
    let (status, _) = call(&hub.agent, "GET", &hub.url("/api/v1/repos/ada/engine"), Some(&bob), None);
    assert_eq!(status, 404);
    // Tokens: the secret once, listings without it, revocation takes effect at once.
    let (status, made) = call(
        &hub.agent,
        "POST",
        &hub.url("/api/v1/tokens"),
        Some(&ada),
        Some(json!({"label": "ci", "scope": "read", "repo": "ada/engine", "expires_in_days": 7})),
    );
    assert_eq!(status, 201, "{made}");
    let secret = made["token"].as_str().unwrap().to_string();
    assert_eq!((made["scope"].as_str(), made["repo"].as_str()), (Some("read"), Some("ada/engine")));
    assert!(made["expires_at"].as_i64().unwrap() > made["created_at"].as_i64().unwrap() + 6 * 86_400);
    let (status, listed) = call(&hub.agent, "GET", &hub.url("/api/v1/tokens"), Some(&ada), None);
    assert_eq!(status, 200);
    assert!(!listed.to_string().contains(&secret));
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let (status, _) = call(&hub.agent, "GET", &hub.repo_url("ada/engine", "refs"), Some(&secret), None);
    assert_eq!(status, 200);
    let (status, _) = call(&hub.agent, "DELETE", &hub.url(&format!("/api/v1/tokens/{}", made["id"])), Some(&ada), None);
    assert_eq!(status, 204);
    let (status, body) = call(&hub.agent, "GET", &hub.repo_url("ada/engine", "refs"), Some(&secret), None);
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("token_revoked")));
    for bad in [json!({"label": "x", "scope": "root"}), json!({"label": "x", "scope": "read", "repo": "no-slash"}), json!({"scope": "read"})] {
        let (status, body) = call(&hub.agent, "POST", &hub.url("/api/v1/tokens"), Some(&ada), Some(bad.clone()));
        assert_eq!(status, 400, "{bad}: {body}");
    }
    let (status, _) = call(&hub.agent, "POST", &hub.url("/api/v1/tokens"), Some(&ada), Some(json!({"label": "x", "scope": "read", "repo": "bob/none"})));
    assert_eq!(status, 404);
    // Deleting a repository removes its content and its name is free again.
    let (status, _) = call(&hub.agent, "DELETE", &hub.url("/api/v1/repos/ada/engine"), Some(&ada), None);
    assert_eq!(status, 204);
    let (status, _) = call(&hub.agent, "GET", &hub.url("/api/v1/repos/ada/engine"), Some(&ada), None);
    assert_eq!(status, 404);
    let (status, body) = call(&hub.agent, "POST", &hub.url("/api/v1/repos"), Some(&ada), Some(json!({"name": "engine"})));
    assert_eq!(status, 201, "{body}");
    let (_, body) = call(&hub.agent, "GET", &hub.repo_url("ada/engine", "refs"), Some(&ada), None);
    assert_eq!(body["refs"], Value::Array(vec![]));
}
