//! Cross-checks with an independent implementation written from `docs/formats.md` alone:
//! `tests/independent.py`, on Python's `cryptography` package. A commit it encodes and signs
//! verifies `good` here, and a commit signed here verifies there. The test fails (never skips)
//! when `python3` or `cryptography` is missing: `.ci/run` installs them.

use std::process::Command;

use muse_core::Commit;
use muse_sign::{sign_commit, verify, AllowedSigner, SigningKey, Status};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/independent.py");

fn python(args: &[&str]) -> String {
    let out = Command::new("python3").arg(SCRIPT).args(args).output().expect("python3 runs (install python3 and its cryptography package)");
    assert!(out.status.success(), "independent.py {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8").trim().to_string()
}

fn fields() -> serde_json::Value {
    serde_json::json!({
        "parents": ["sha256:19827eec6ed25eed2d665cf68efa9d706dd438fef9ab01ddc9efa6a61552edb3"],
        "snapshot_id": "sha256:11b2b42be73c46b408cd9c2b716174dd4a09586eb39ee57ff528333b1cb920eb",
        "message": "feat: signed by Python\n\nwith a body ✓\n",
        "author": "Ada Lovelace <ada@example.com>",
        "committed_at": "2026-11-30T08:00:00.25+01:00",
        "agent_id": "agent-py",
        "model_id": "claude-opus-4",
        "toolchain_id": "python",
        "prompt_hash": "",
        "sem_ver_bump": "minor",
        "breaking_changes": ["removed x()"],
        "metadata": {"z": "last", "a": "first\u{0}?"},
        "structured_delta": "{}",
    })
}

#[test]
fn a_commit_signed_by_python_verifies_here() {
    let seed = [42u8; 32];
    let key = SigningKey::from_seed(&seed);
    let stored = hex::decode(python(&["sign", &hex::encode(seed), &fields().to_string()])).expect("hex");
    let (commit, _) = Commit::decode(&stored).expect("Python's encoding decodes");
    assert_eq!(commit.signer_key_id, key.key_id(), "Python computes the same key id");
    assert_eq!(commit.metadata.len(), 2);
    let allowed = [AllowedSigner::new(vec!["agent:agent-py".into()], key.public_key()).expect("entry")];
    assert_eq!(verify(&commit, &allowed).status, Status::Good);
    // And Muse signs the same bytes to the same value (Ed25519 is deterministic).
    let mut again = Commit { signature: String::new(), ..commit.clone() };
    sign_commit(&key, &mut again);
    assert_eq!(again.encode(), stored);
}

#[test]
fn a_commit_signed_here_verifies_in_python() {
    let key = SigningKey::generate().expect("random key");
    let mut commit = Commit {
        message: "fix: signed by Muse\n".into(),
        author: "Bob <bob@example.com>".into(),
        committed_at: "2026-11-30T08:00:00Z".into(),
        breaking_changes: vec!["a\nb".into()],
        structured_delta: Some(String::new()),
        ..Commit::default()
    };
    sign_commit(&key, &mut commit);
    assert_eq!(python(&["verify", &hex::encode(commit.encode())]), key.key_id());
    // A tampered commit does not verify there either.
    let tampered = Commit { message: "fix: signed by Mose\n".into(), ..commit };
    let out = Command::new("python3").arg(SCRIPT).args(["verify", &hex::encode(tampered.encode())]).output().expect("python3 runs");
    assert!(!out.status.success(), "Python accepted a tampered commit");
}
