//! Checks the signature vectors of `docs/formats.md` §4.1 against this implementation, reading
//! them from the document itself so the document cannot drift from the code.

use std::collections::BTreeMap;

use muse_core::{Commit, CommitId, ObjectId};
use muse_sign::{check, sign_commit, verify, AllowedSigners, Check, PublicKey, SigningKey, Status};
use serde_json::Value;

fn vectors() -> Value {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/formats.md")).expect("docs/formats.md");
    let start = doc.find("<!-- signature-vectors:begin -->").expect("signature vectors block");
    let block = &doc[start..];
    let json_start = block.find("```json").expect("json fence") + "```json".len();
    let json_end = block[json_start..].find("```").expect("closing fence") + json_start;
    serde_json::from_str(&block[json_start..json_end]).expect("vectors are valid JSON")
}

fn text(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_else(|| panic!("{key} is a string")).to_string()
}

/// The commit of the vector's fields, without its signature.
fn unsigned_commit(f: &Value) -> Commit {
    let strings = |key: &str| f[key].as_array().expect("array").iter().map(|v| v.as_str().expect("string").to_string()).collect::<Vec<_>>();
    let metadata: BTreeMap<String, String> = serde_json::from_value(f["metadata"].clone()).expect("metadata");
    Commit {
        parents: strings("parents").iter().map(|p| CommitId(ObjectId::parse(p).expect("parent"))).collect(),
        snapshot: muse_core::TreeId(ObjectId::parse(&text(f, "snapshot_id")).expect("snapshot")),
        message: text(f, "message"),
        author: text(f, "author"),
        committed_at: text(f, "committed_at"),
        agent_id: text(f, "agent_id"),
        model_id: text(f, "model_id"),
        toolchain_id: text(f, "toolchain_id"),
        prompt_hash: text(f, "prompt_hash"),
        sem_ver_bump: text(f, "sem_ver_bump").parse().expect("bump"),
        breaking_changes: strings("breaking_changes"),
        metadata,
        structured_delta: f["structured_delta"].as_str().map(str::to_string),
        signer_key_id: String::new(),
        signature: String::new(),
    }
}

#[test]
fn the_key_vector() {
    let v = vectors();
    let key = &v["key"];
    let seed: [u8; 32] = hex::decode(text(key, "seed_hex")).expect("hex").try_into().expect("32 bytes");
    let signing = SigningKey::from_seed(&seed);
    assert_eq!(hex::encode(signing.public_key().as_bytes()), text(key, "public_key_hex"));
    assert_eq!(signing.public_key().to_openssh(), text(key, "public_key_openssh"));
    assert_eq!(signing.key_id(), text(key, "key_id"));
    assert_eq!(PublicKey::from_openssh(&text(key, "public_key_openssh")).expect("parses"), signing.public_key());
}

#[test]
fn the_signed_commit_vector() {
    let v = vectors();
    let seed: [u8; 32] = hex::decode(text(&v["key"], "seed_hex")).expect("hex").try_into().expect("32 bytes");
    let key = SigningKey::from_seed(&seed);
    let c = &v["commit"];
    let mut commit = unsigned_commit(&c["fields"]);
    sign_commit(&key, &mut commit);
    assert_eq!(commit.signer_key_id, text(&c["fields"], "signer_key_id"));
    assert_eq!(hex::encode(commit.encode_unsigned()), text(c, "unsigned_hex"));
    assert_eq!(commit.signature, text(c, "signature"), "Ed25519 is deterministic: the same bytes sign the same");
    assert_eq!(commit.signature, text(&c["fields"], "signature"));
    assert_eq!(hex::encode(commit.encode()), text(c, "encoding_hex"));
    assert_eq!(commit.id().to_string(), text(c, "id"));
    let (decoded, id) = Commit::decode(&hex::decode(text(c, "encoding_hex")).expect("hex")).expect("decodes");
    assert_eq!(decoded, commit);
    assert_eq!(id.to_string(), text(c, "id"));
    assert_eq!(check(&decoded), Check::Valid(key.public_key()));
    let signers = AllowedSigners::parse(&text(&v, "allowed_signers")).expect("allowed signers parse");
    let entries: Vec<_> = signers.entries().cloned().collect();
    let verification = verify(&decoded, &entries);
    assert_eq!(verification.status.as_str(), text(&v, "status"));
    assert_eq!(verification.status, Status::Good);
    assert_eq!(verification.signer.as_deref(), Some("agent:agent-7"));
}
