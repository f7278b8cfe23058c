//! Signature badges in Chromium: a file changed by an unsigned commit, a commit signed by a key
//! registered on the hub and one signed by an unknown key shows, in its File History, the commit
//! list and each commit page, nothing, **Verified** (with the key's owner) and **Unverified**
//! (with the reason); revoking the key turns the verified badge to Unverified (revoked).

use muse_core::{Commit, CommitId, EntryKind, Tree, TreeEntry};
use muse_hub::{Backend, NewSigningKey, Role};
use muse_sign::SigningKey;
use muse_store::ObjectKind;
use serde_json::json;

use crate::common::{Local, TestHub};
use crate::harness::Browser;

fn commit(local: &Local, parent: Option<CommitId>, n: usize, key: Option<&SigningKey>) -> CommitId {
    let mut writer = local.store.begin_write().unwrap();
    let blob = writer.add(ObjectKind::Blob, format!("version {n}\n").as_bytes()).unwrap();
    let root = writer.add_tree(&Tree::from_entries(vec![TreeEntry { name: "lib.rs".into(), kind: EntryKind::File, id: blob }]).unwrap()).unwrap();
    let mut c = Commit {
        parents: parent.into_iter().collect(),
        snapshot: root,
        message: format!("change {n}\n"),
        author: "Ada <ada@example.com>".into(),
        committed_at: format!("2026-06-0{}T00:00:00Z", n + 1),
        ..Commit::default()
    };
    if let Some(key) = key {
        muse_sign::sign_commit(key, &mut c);
    }
    let id = writer.add_commit(&c).unwrap();
    writer.finish().unwrap();
    id
}

/// `[data-status]` of each row's badge (`""` for none), rows in page order.
async fn row_badges(browser: &Browser, rows: &str) -> Vec<(String, String, String)> {
    let script = format!(
        r#"return Array.from(document.querySelectorAll('{rows}')).map(row => {{
            const b = row.querySelector('[data-testid=signature]');
            return [row.getAttribute('data-commit'), b ? b.getAttribute('data-status') : '', b ? b.textContent.trim() : ''];
        }});"#
    );
    let value = browser.js(&script).await;
    value.as_array().unwrap().iter().map(|r| (r[0].as_str().unwrap().into(), r[1].as_str().unwrap().into(), r[2].as_str().unwrap().into())).collect()
}

#[test]
fn badges_show_verified_unverified_or_nothing_and_follow_revocation() {
    let hub = TestHub::start(Backend::Sqlite);
    hub.rt.block_on(hub.hub.create_user("ada", Some("ada@example.com"), None)).unwrap();
    hub.repo("ada", "engine", false);
    let write = hub.token("ada", Role::Write, None);
    let key = SigningKey::from_seed(&[5; 32]);
    let stranger = SigningKey::from_seed(&[6; 32]);
    let registered =
        hub.rt.block_on(hub.hub.add_signing_key("ada", NewSigningKey { public_key: key.public_key().to_openssh(), ..NewSigningKey::default() })).unwrap();
    let local = Local::new();
    let unsigned = commit(&local, None, 0, None);
    let verified = commit(&local, Some(unsigned), 1, Some(&key));
    let unknown = commit(&local, Some(verified), 2, Some(&stranger));
    let (status, body) = hub.push("ada/engine", &write, Some(&local.pack(&[unknown], &[])), json!([{"name": "refs/heads/main", "new": unknown}]));
    assert_eq!(status, 200, "{body}");
    let hex = |id: CommitId| id.0.to_hex();
    let expected = vec![
        (hex(unknown), "unknown_key".to_string(), "Unverified".to_string()),
        (hex(verified), "good".to_string(), "Verified".to_string()),
        (hex(unsigned), String::new(), String::new()),
    ];

    let Some(browser) = Browser::start("signatures", &hub.base) else { return };
    browser.run(async {
        browser.visit("/ada/engine/blob/main/lib.rs").await;
        assert_eq!(row_badges(&browser, "[data-testid=file-history] [data-testid=history-row]").await, expected, "File History rows");
        browser.visit("/ada/engine/commits/main").await;
        assert_eq!(row_badges(&browser, "[data-testid=commit-row]").await, expected, "commit list rows");

        browser.visit(&format!("/ada/engine/commit/{}", hex(verified))).await;
        assert_eq!(browser.one("[data-testid=provenance] [data-testid=signature]").await.text().await.unwrap(), "Verified");
        let detail = browser.one("[data-testid=signature-detail]").await.text().await.unwrap();
        assert_eq!(detail, "signed by ada for ada@example.com");
        browser.visit(&format!("/ada/engine/commit/{}", hex(unknown))).await;
        assert_eq!(browser.one("[data-testid=provenance] [data-testid=signature]").await.text().await.unwrap(), "Unverified");
        let detail = browser.one("[data-testid=signature-detail]").await.text().await.unwrap();
        assert!(detail.starts_with("unknown key: no allowed signer has the key"), "{detail}");
        browser.visit(&format!("/ada/engine/commit/{}", hex(unsigned))).await;
        assert!(browser.all("[data-testid=signature]").await.is_empty(), "no badge for an unsigned commit");
    });

    // Revoking the key changes the badge of the commit it signed, at once.
    hub.rt.block_on(hub.hub.revoke_signing_key("ada", registered.id)).unwrap();
    browser.run(async {
        browser.visit("/ada/engine/blob/main/lib.rs").await;
        let rows = row_badges(&browser, "[data-testid=file-history] [data-testid=history-row]").await;
        assert_eq!((rows[1].1.as_str(), rows[1].2.as_str()), ("revoked", "Unverified"));
        browser.visit(&format!("/ada/engine/commit/{}", hex(verified))).await;
        let detail = browser.one("[data-testid=signature-detail]").await.text().await.unwrap();
        assert!(detail.starts_with("revoked: the key"), "{detail}");
        assert!(!browser.alert_open().await);
    });
}
