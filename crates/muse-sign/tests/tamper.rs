//! Every status of `docs/formats.md` §4.1, and tampering with each part of a signed commit.

use std::collections::BTreeMap;

use muse_core::{Commit, CommitId, ObjectId, SemVerBump};
use muse_sign::{sign_commit, verify, AllowedSigner, AllowedSigners, Bound, SigningKey, Status};

fn key(n: u8) -> SigningKey {
    SigningKey::from_seed(&[n; 32])
}

fn agent_commit() -> Commit {
    Commit {
        parents: vec![CommitId(ObjectId::sha256(b"parent"))],
        message: "feat: parser\n".into(),
        author: "Ada <ada@example.com>".into(),
        committed_at: "2026-06-01T12:00:00Z".into(),
        agent_id: "agent-7".into(),
        model_id: "claude-opus-4".into(),
        toolchain_id: "muse-cli/0.1".into(),
        prompt_hash: ObjectId::sha256(b"prompt").to_string(),
        sem_ver_bump: SemVerBump::Minor,
        breaking_changes: vec!["removed parse_old()".into()],
        metadata: [("ticket".to_string(), "MUSE-14".to_string())].into_iter().collect(),
        structured_delta: Some("{\"ops\":[]}".into()),
        ..Commit::default()
    }
}

fn signed(signer: &SigningKey, commit: Commit) -> Commit {
    let mut commit = commit;
    sign_commit(signer, &mut commit);
    commit
}

fn allowed(line: &str) -> Vec<AllowedSigner> {
    AllowedSigners::parse(line).expect("allowed signers").entries().cloned().collect()
}

fn agent7() -> Vec<AllowedSigner> {
    allowed(&format!("agent:agent-7 {}\n", key(1).public_key().to_openssh()))
}

#[test]
fn a_signed_commit_verifies_good_and_survives_decoding() {
    let commit = signed(&key(1), agent_commit());
    let v = verify(&commit, &agent7());
    assert_eq!((v.status, v.signer.as_deref(), v.reason.as_str()), (Status::Good, Some("agent:agent-7"), ""));
    assert_eq!(v.key_id, key(1).key_id());
    let (decoded, id) = Commit::decode(&commit.encode()).expect("decodes");
    assert_eq!(id, commit.id());
    assert_eq!(verify(&decoded, &agent7()).status, Status::Good);
}

#[test]
fn changing_any_covered_field_makes_it_bad() {
    let commit = signed(&key(1), agent_commit());
    let tampered: Vec<(&str, Commit)> = vec![
        ("parents", Commit { parents: vec![], ..commit.clone() }),
        ("snapshot", Commit { snapshot: muse_core::TreeId(ObjectId::sha256(b"other")), ..commit.clone() }),
        ("message", Commit { message: "feat: parser!\n".into(), ..commit.clone() }),
        ("author", Commit { author: "Eve <eve@example.com>".into(), ..commit.clone() }),
        ("committed_at", Commit { committed_at: "2026-06-01T12:00:01Z".into(), ..commit.clone() }),
        ("agent_id", Commit { agent_id: "agent-8".into(), ..commit.clone() }),
        ("model_id", Commit { model_id: "gpt-5".into(), ..commit.clone() }),
        ("toolchain_id", Commit { toolchain_id: "other".into(), ..commit.clone() }),
        ("prompt_hash", Commit { prompt_hash: String::new(), ..commit.clone() }),
        ("sem_ver_bump", Commit { sem_ver_bump: SemVerBump::Patch, ..commit.clone() }),
        ("breaking_changes", Commit { breaking_changes: vec![], ..commit.clone() }),
        ("metadata", Commit { metadata: BTreeMap::new(), ..commit.clone() }),
        ("structured_delta", Commit { structured_delta: None, ..commit.clone() }),
        ("signer_key_id", Commit { signer_key_id: key(2).key_id(), ..commit.clone() }),
        ("signer_key_id emptied", Commit { signer_key_id: String::new(), ..commit.clone() }),
    ];
    // Both keys are allowed, so only the signature can decide.
    let mut entries = agent7();
    entries.extend(allowed(&format!("agent:agent-7 {}\n", key(2).public_key().to_openssh())));
    for (what, commit) in tampered {
        // Through the stored bytes, as a reader sees it.
        let (decoded, _) = Commit::decode(&commit.encode()).expect("decodes");
        let v = verify(&decoded, &entries);
        assert_eq!(v.status, Status::Bad, "{what}: {v:?}");
        assert!(!v.reason.is_empty());
    }
}

#[test]
fn changing_the_signature_makes_it_bad() {
    let commit = signed(&key(1), agent_commit());
    let other = signed(&key(1), Commit { message: "other\n".into(), ..agent_commit() });
    let mut flipped = commit.signature.clone().into_bytes();
    let last = flipped.len() - 3;
    flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
    let by_other_key = signed(&key(2), agent_commit());
    for (what, signature) in [
        ("a flipped character", String::from_utf8(flipped).expect("ascii")),
        ("another commit's signature", other.signature.clone()),
        ("another key's signature, same key id", by_other_key.signature.clone()),
        ("garbage", "ed25519 x y".into()),
    ] {
        let tampered = Commit { signature: signature.clone(), ..commit.clone() };
        assert_eq!(verify(&tampered, &agent7()).status, Status::Bad, "{what}");
    }
    let stripped = Commit { signature: String::new(), ..commit };
    assert_eq!(verify(&stripped, &agent7()).status, Status::Unsigned);
}

#[test]
fn an_unlisted_key_is_unknown() {
    let commit = signed(&key(9), agent_commit());
    let v = verify(&commit, &agent7());
    assert_eq!((v.status, v.signer), (Status::UnknownKey, None));
    assert!(v.reason.contains(&key(9).key_id()));
    assert_eq!(verify(&commit, &[]).status, Status::UnknownKey);
}

#[test]
fn a_revoked_key_is_revoked_for_every_commit() {
    let line = format!("agent:agent-7 revoked {}\n", key(1).public_key().to_openssh());
    let commit = signed(&key(1), agent_commit());
    assert_eq!(verify(&commit, &allowed(&line)).status, Status::Revoked);
    // Revoking through the file's API, with the key's other entries: still revoked.
    let mut signers = AllowedSigners::parse(&format!("agent:agent-7 {0}\nada@example.com {0}\n", key(1).public_key().to_openssh())).expect("parses");
    assert_eq!(signers.revoke(&key(1).key_id()), 2);
    let entries: Vec<_> = signers.entries().cloned().collect();
    assert_eq!(verify(&commit, &entries).status, Status::Revoked);
}

#[test]
fn validity_windows_expire() {
    let line = |opts: &str| allowed(&format!("agent:agent-7 {opts} {}\n", key(1).public_key().to_openssh()));
    let commit = signed(&key(1), agent_commit()); // 2026-06-01T12:00:00Z
    assert_eq!(verify(&commit, &line("valid-after=\"20260601120000\"")).status, Status::Good);
    assert_eq!(verify(&commit, &line("valid-after=\"20260601120001\"")).status, Status::Expired);
    assert_eq!(verify(&commit, &line("valid-before=\"20260601120000Z\"")).status, Status::Expired);
    assert_eq!(verify(&commit, &line("valid-before=\"20260601120001\"")).status, Status::Good);
    let offset = signed(&key(1), Commit { committed_at: "2026-06-01T13:30:00+02:00".into(), ..agent_commit() }); // 11:30Z
    assert_eq!(verify(&offset, &line("valid-after=\"202606011200\"")).status, Status::Expired);
    assert_eq!(Bound::parse("20260229").err().map(|_| ()), Some(()), "no 29 February in 2026");
}

#[test]
fn a_key_signing_for_another_identity_is_a_mismatch() {
    // An agent key signing a commit that claims another agent.
    let other_agent = signed(&key(1), Commit { agent_id: "agent-8".into(), ..agent_commit() });
    let v = verify(&other_agent, &agent7());
    assert_eq!(v.status, Status::SignerMismatch);
    assert!(v.reason.contains("agent:agent-7") && v.reason.contains("agent:agent-8"), "{}", v.reason);
    // An agent key signing a person's commit, and a person's key signing an agent's commit.
    let person = signed(&key(1), Commit { agent_id: String::new(), model_id: String::new(), ..agent_commit() });
    assert_eq!(verify(&person, &agent7()).status, Status::SignerMismatch);
    let ada = allowed(&format!("ada@example.com {}\n", key(1).public_key().to_openssh()));
    assert_eq!(verify(&person, &ada).status, Status::Good);
    assert_eq!(verify(&signed(&key(1), agent_commit()), &ada).status, Status::SignerMismatch);
    // A model restriction.
    let models = |m: &str| allowed(&format!("agent:agent-7 models=\"{m}\" {}\n", key(1).public_key().to_openssh()));
    let commit = signed(&key(1), agent_commit());
    assert_eq!(verify(&commit, &models("claude-opus-4,gpt-5")).status, Status::Good);
    assert_eq!(verify(&commit, &models("gpt-5")).status, Status::SignerMismatch);
}
