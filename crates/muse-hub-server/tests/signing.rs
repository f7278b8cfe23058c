//! Signed commits on the hub, on both backends: keys registered through the API, a push whose
//! pack carries a bad signature refused with `bad_signature` and nothing stored, a branch that
//! takes only signed commits refusing unsigned, unknown-key and revoked ones with
//! `signature_required` (also when the commit is on the hub already), and the badges of the
//! pages following key revocation and removal.

mod common;

use common::{call, Local, TestHub};
use muse_core::{Commit, CommitId, EntryKind, Tree, TreeEntry};
use muse_hub::{Backend, Role};
use muse_sign::SigningKey;
use muse_store::ObjectKind;
use serde_json::{json, Value};

on_both_backends!(pushes_are_checked_for_signatures, badges_follow_the_keys);

/// A commit on top of `parents` with one file, signed by `key` when given; `tamper` changes the
/// message after signing (a bad signature).
fn commit(local: &Local, parents: &[CommitId], name: &str, key: Option<&SigningKey>, tamper: bool) -> CommitId {
    let mut writer = local.store.begin_write().unwrap();
    let blob = writer.add(ObjectKind::Blob, format!("{name}\n").as_bytes()).unwrap();
    let root = writer.add_tree(&Tree::from_entries(vec![TreeEntry { name: format!("{name}.txt"), kind: EntryKind::File, id: blob }]).unwrap()).unwrap();
    let mut c = Commit {
        parents: parents.to_vec(),
        snapshot: root,
        message: format!("{name}\n"),
        author: "Ada <ada@example.com>".into(),
        committed_at: "2026-06-01T00:00:00Z".into(),
        ..Commit::default()
    };
    if let Some(key) = key {
        muse_sign::sign_commit(key, &mut c);
    }
    if tamper {
        c.message = format!("{name}, changed after signing\n");
    }
    let id = writer.add_commit(&c).unwrap();
    writer.finish().unwrap();
    id
}

fn setup(backend: Backend) -> (TestHub, String, String, SigningKey) {
    let hub = TestHub::start(backend);
    hub.rt.block_on(hub.hub.create_user("ada", Some("ada@example.com"), None)).unwrap();
    hub.repo("ada", "engine", false);
    let admin = hub.token("ada", Role::Admin, None);
    let write = hub.token("ada", Role::Write, None);
    let key = SigningKey::from_seed(&[3; 32]);
    let (status, body) =
        call(&hub.agent, "POST", &hub.url("/api/v1/user/keys"), Some(&admin), Some(json!({"public_key": format!("{} laptop", key.public_key().to_openssh())})));
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["identities"], json!(["ada@example.com"]));
    assert_eq!(body["key_id"], key.key_id());
    assert_eq!(body["label"], "laptop");
    (hub, admin, write, key)
}

fn update(name: &str, old: Option<CommitId>, new: CommitId) -> Value {
    json!([{"name": name, "old": old, "new": new}])
}

fn pushes_are_checked_for_signatures(backend: Backend) {
    let (hub, admin, write, key) = setup(backend);
    let repo = hub.rt.block_on(hub.hub.authorize(&muse_hub::Actor::Anonymous, "ada", "engine", muse_hub::Action::Read)).unwrap();
    let local = Local::new();
    // Claiming another person's e-mail, and registering a key twice, are refused.
    let other = SigningKey::from_seed(&[4; 32]);
    let body = json!({"public_key": other.public_key().to_openssh(), "identities": ["linus@example.com"]});
    assert_eq!(call(&hub.agent, "POST", &hub.url("/api/v1/user/keys"), Some(&admin), Some(body)).0, 400);
    let body = json!({"public_key": key.public_key().to_openssh(), "identities": ["agent:bot"]});
    assert_eq!(call(&hub.agent, "POST", &hub.url("/api/v1/user/keys"), Some(&admin), Some(body)).1["error"]["code"], "conflict");

    // A bad signature is refused on any branch, and nothing of the pack is kept.
    let bad = commit(&local, &[], "bad", Some(&key), true);
    let before = hub.server_packs(&repo);
    let (status, body) = hub.push("ada/engine", &write, Some(&local.pack(&[bad], &[])), update("refs/heads/topic", None, bad));
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("bad_signature")), "{body}");
    assert_eq!(body["error"]["details"]["commits"][0]["commit_id"], json!(bad));
    assert_eq!(body["error"]["details"]["commits"][0]["status"], "bad");
    assert_eq!(hub.server_packs(&repo), before, "nothing stored");
    assert_eq!(hub.refs("ada/engine", None)["refs"], json!([]));

    // Without signed branches, unsigned commits are welcome.
    let root = commit(&local, &[], "root", None, false);
    let (status, body) = hub.push("ada/engine", &write, Some(&local.pack(&[root], &[])), update("refs/heads/main", None, root));
    assert_eq!(status, 200, "{body}");

    // main now takes only commits that verify good.
    let (status, body) = call(&hub.agent, "PUT", &hub.url("/api/v1/repos/ada/engine/signed-branches"), Some(&write), Some(json!({"patterns": ["main"]})));
    assert_eq!(status, 403, "only an admin sets it: {body}");
    let (status, body) =
        call(&hub.agent, "PUT", &hub.url("/api/v1/repos/ada/engine/signed-branches"), Some(&admin), Some(json!({"patterns": ["main", "release/*"]})));
    assert_eq!((status, body["patterns"].clone()), (200, json!(["main", "release/*"])), "{body}");

    let before = hub.server_packs(&repo);
    let unsigned = commit(&local, &[root], "unsigned", None, false);
    let unknown = commit(&local, &[root], "unknown", Some(&other), false);
    for (tip, status_word) in [(unsigned, "unsigned"), (unknown, "unknown_key")] {
        let (status, body) = hub.push("ada/engine", &write, Some(&local.pack(&[tip], &[root])), update("refs/heads/main", Some(root), tip));
        assert_eq!((status, body["error"]["code"].as_str()), (422, Some("signature_required")), "{body}");
        assert_eq!(body["error"]["details"]["commits"][0]["status"], status_word);
        assert_eq!(hub.server_packs(&repo), before, "nothing stored");
    }
    let good = commit(&local, &[root], "good", Some(&key), false);
    let (status, body) = hub.push("ada/engine", &write, Some(&local.pack(&[good], &[root])), update("refs/heads/main", Some(root), good));
    assert_eq!(status, 200, "{body}");

    // An unsigned commit the hub holds already (on an unprotected branch) cannot move main.
    let side = commit(&local, &[good], "side", None, false);
    let (status, body) = hub.push("ada/engine", &write, Some(&local.pack(&[side], &[good])), update("refs/heads/topic", None, side));
    assert_eq!(status, 200, "{body}");
    let (status, body) = hub.push("ada/engine", &write, None, update("refs/heads/main", Some(good), side));
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("signature_required")), "{body}");
    assert_eq!(body["error"]["details"]["commits"][0]["commit_id"], json!(side));
    // Nor can a new protected branch start there; from main it can.
    let (status, _) = hub.push("ada/engine", &write, None, update("refs/heads/release/1", None, side));
    assert_eq!(status, 422);
    let (status, body) = hub.push("ada/engine", &write, None, update("refs/heads/release/1", None, good));
    assert_eq!(status, 200, "{body}");

    // A revoked key no longer signs for main.
    let keys = call(&hub.agent, "GET", &hub.url("/api/v1/user/keys"), Some(&admin), None).1;
    let key_db_id = keys[0]["id"].as_i64().unwrap();
    assert_eq!(call(&hub.agent, "POST", &hub.url(&format!("/api/v1/user/keys/{key_db_id}/revoke")), Some(&admin), None).0, 204);
    let late = commit(&local, &[good], "late", Some(&key), false);
    let (status, body) = hub.push("ada/engine", &write, Some(&local.pack(&[late], &[good])), update("refs/heads/main", Some(good), late));
    assert_eq!((status, body["error"]["details"]["commits"][0]["status"].as_str()), (422, Some("revoked")), "{body}");
    assert_eq!(hub.refs("ada/engine", None)["refs"].as_array().unwrap().len(), 3);
}

/// The commit page's JSON twin's `signature` (the badge), or null.
fn badge(hub: &TestHub, id: CommitId) -> Value {
    let url = hub.url(&format!("/ada/engine/commit/{}", id.0.to_hex()));
    let request = ureq::http::Request::get(url).header("Accept", "application/json").body(Vec::new()).unwrap();
    let response = hub.agent.run(request).unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let page: Value = serde_json::from_slice(&response.into_body().read_to_vec().unwrap()).unwrap();
    page["signature"].clone()
}

fn html(hub: &TestHub, path: &str) -> String {
    let request = ureq::http::Request::get(hub.url(path)).header("Accept", "text/html").body(Vec::new()).unwrap();
    String::from_utf8(hub.agent.run(request).unwrap().into_body().read_to_vec().unwrap()).unwrap()
}

fn badges_follow_the_keys(backend: Backend) {
    let (hub, admin, write, key) = setup(backend);
    let local = Local::new();
    let unsigned = commit(&local, &[], "unsigned", None, false);
    let signed = commit(&local, &[unsigned], "signed", Some(&key), false);
    let (status, body) = hub.push("ada/engine", &write, Some(&local.pack(&[signed], &[])), update("refs/heads/main", None, signed));
    assert_eq!(status, 200, "{body}");
    assert_eq!(badge(&hub, unsigned), Value::Null, "an unsigned commit has no badge");
    let verified = badge(&hub, signed);
    assert_eq!((verified["state"].as_str(), verified["owner"].as_str(), verified["signer"].as_str()), (Some("verified"), Some("ada"), Some("ada@example.com")));
    let page = html(&hub, &format!("/ada/engine/commit/{}", signed.0.to_hex()));
    assert!(page.contains("data-testid=\"signature\" data-status=\"good\"") && page.contains("signed by ada for ada@example.com"), "{page}");
    assert!(html(&hub, "/ada/engine/commits/main").contains("data-status=\"good\""));
    assert!(html(&hub, "/ada/engine/blob/main/signed.txt").contains("data-status=\"good\""), "the File History row has the badge");

    let key_db_id = call(&hub.agent, "GET", &hub.url("/api/v1/user/keys"), Some(&admin), None).1[0]["id"].as_i64().unwrap();
    let epoch = hub.rt.block_on(hub.hub.signing_epoch()).unwrap();
    assert_eq!(call(&hub.agent, "POST", &hub.url(&format!("/api/v1/user/keys/{key_db_id}/revoke")), Some(&admin), None).0, 204);
    assert!(hub.rt.block_on(hub.hub.signing_epoch()).unwrap() > epoch, "a key change moves the epoch caches key on");
    let revoked = badge(&hub, signed);
    assert_eq!((revoked["state"].as_str(), revoked["status"].as_str(), revoked["owner"].as_str()), (Some("unverified"), Some("revoked"), Some("ada")));
    assert!(html(&hub, "/ada/engine/commits/main").contains("data-status=\"revoked\""));
    assert_eq!(call(&hub.agent, "DELETE", &hub.url(&format!("/api/v1/user/keys/{key_db_id}")), Some(&admin), None).0, 204);
    let removed = badge(&hub, signed);
    assert_eq!((removed["state"].as_str(), removed["status"].as_str()), (Some("unverified"), Some("unknown_key")));
    assert_eq!(call(&hub.agent, "DELETE", &hub.url(&format!("/api/v1/user/keys/{key_db_id}")), Some(&admin), None).0, 404);
}
