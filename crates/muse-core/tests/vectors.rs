//! Checks the test vectors of `docs/formats.md` against this implementation, reading them from
//! the document itself so the document cannot drift from the code.

use muse_core::{blob_id, Commit, CommitId, EntryKind, ObjectId, ObjectKind, Tree, TreeEntry};
use serde_json::Value;

fn vectors() -> Value {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/formats.md")).expect("docs/formats.md");
    let start = doc.find("<!-- vectors:begin -->").expect("vectors block");
    let block = &doc[start..];
    let json_start = block.find("```json").expect("json fence") + "```json".len();
    let json_end = block[json_start..].find("```").expect("closing fence") + json_start;
    serde_json::from_str(&block[json_start..json_end]).expect("vectors are valid JSON")
}

fn text(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_else(|| panic!("{key} is a string")).to_string()
}

fn id(v: &Value) -> ObjectId {
    ObjectId::parse(v.as_str().expect("id string")).expect("valid id")
}

#[test]
fn blob_vectors() {
    let vectors = vectors();
    let blobs = vectors["blobs"].as_array().expect("blobs");
    assert!(blobs.len() >= 3);
    for blob in blobs {
        let content = text(blob, "content_utf8");
        assert_eq!(blob_id(content.as_bytes()), id(&blob["id"]));
        assert_eq!(ObjectKind::Blob.id_of(content.as_bytes()), Some(id(&blob["id"])));
        // The kind rule spelled out: SHA-256 of the blob magic, then the content.
        assert_eq!(ObjectId::sha256(&[b"muse-blob/1\n", content.as_bytes()].concat()), id(&blob["id"]));
    }
}

/// The kind rule: a blob whose bytes are a tree's encoding does not share the tree's id.
#[test]
fn a_blob_holding_a_tree_encoding_has_its_own_id() {
    let vectors = vectors();
    let trees = vectors["trees"].as_array().expect("trees");
    let mut shown = 0;
    for blob in vectors["blobs"].as_array().expect("blobs") {
        let content = text(blob, "content_utf8");
        for tree in trees {
            assert_ne!(id(&blob["id"]), id(&tree["id"]), "a blob and a tree share an id");
            if hex::encode(content.as_bytes()) == text(tree, "encoding_hex") {
                shown += 1;
                assert_eq!(ObjectKind::Tree.id_of(content.as_bytes()), Some(id(&tree["id"])));
            }
        }
    }
    assert!(shown >= 1, "the vectors include a blob whose bytes are a tree's encoding");
}

#[test]
fn tree_vectors() {
    let vectors = vectors();
    let trees = vectors["trees"].as_array().expect("trees");
    assert!(trees.len() >= 3);
    for tree in trees {
        let entries = tree["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .map(|e| TreeEntry { name: text(e, "name"), kind: serde_json::from_value::<EntryKind>(e["kind"].clone()).expect("kind"), id: id(&e["id"]) })
            .collect();
        let built = Tree::from_entries(entries).expect("valid tree");
        assert_eq!(hex::encode(built.encode()), text(tree, "encoding_hex"));
        assert_eq!(built.id().0, id(&tree["id"]));
        assert_eq!(Tree::decode(&hex::decode(text(tree, "encoding_hex")).expect("hex")).expect("decodes"), built);
    }
}

#[test]
fn commit_vectors() {
    let vectors = vectors();
    let commits = vectors["commits"].as_array().expect("commits");
    assert!(commits.len() >= 2);
    for vector in commits {
        let f = &vector["fields"];
        let commit = Commit {
            parents: f["parents"].as_array().expect("parents").iter().map(|p| CommitId(id(p))).collect(),
            snapshot: muse_core::TreeId(id(&f["snapshot_id"])),
            message: text(f, "message"),
            author: text(f, "author"),
            committed_at: text(f, "committed_at"),
            agent_id: text(f, "agent_id"),
            model_id: text(f, "model_id"),
            toolchain_id: text(f, "toolchain_id"),
            prompt_hash: text(f, "prompt_hash"),
            sem_ver_bump: text(f, "sem_ver_bump").parse().expect("bump"),
            breaking_changes: f["breaking_changes"].as_array().expect("list").iter().map(|b| b.as_str().expect("string").to_string()).collect(),
            metadata: f["metadata"].as_object().expect("map").iter().map(|(k, v)| (k.clone(), v.as_str().expect("string").to_string())).collect(),
            structured_delta: f["structured_delta"].as_str().map(str::to_string),
            signer_key_id: text(f, "signer_key_id"),
            signature: text(f, "signature"),
        };
        assert_eq!(hex::encode(commit.encode()), text(vector, "encoding_hex"));
        assert_eq!(commit.id().0, id(&vector["id"]));
        let (decoded, decoded_id) = Commit::decode(&hex::decode(text(vector, "encoding_hex")).expect("hex")).expect("decodes");
        assert_eq!(decoded, commit);
        assert_eq!(decoded_id, commit.id());
    }
}
