//! Signed commits, black-box: `muse key generate|list|allow|revoke`, `commit --sign`, config and
//! environment, `verify` and `log --show-signature` with every status the CLI can reach, merge,
//! cherry-pick and revert signing when signing is on, passphrase keys refused without a prompt,
//! and read-only commands never opening the private key.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{exit, TestRepo};
use serde_json::Value;

/// A repository with one file, and a key directory beside it.
fn setup() -> (TestRepo, PathBuf) {
    let repo = TestRepo::new();
    let keys = repo.root.parent().expect("parent").join("keys");
    repo.write("a.txt", "a\n");
    (repo, keys)
}

fn keyed(repo: &TestRepo, keys: &Path) -> common::Muse {
    repo.cmd().env("MUSE_KEY_DIR", keys.to_str().expect("utf-8"))
}

fn generate(repo: &TestRepo, keys: &Path, name: &str) -> Value {
    keyed(repo, keys).args(["--json", "key", "generate", "--name", name]).run().ok().json()
}

fn verify(repo: &TestRepo, rev: &str) -> (i32, Value) {
    repo.json(["verify", rev]).run_code()
}

trait RunCode {
    fn run_code(self) -> (i32, Value);
}

impl RunCode for common::Run {
    fn run_code(self) -> (i32, Value) {
        let code = self.code.unwrap_or(-1);
        let json = serde_json::from_str(&self.stdout).expect("verify --json prints JSON whatever the outcome");
        (code, json)
    }
}

#[test]
fn generate_writes_a_private_key_for_the_owner_only_and_never_prints_it() {
    let (repo, keys) = setup();
    let run = keyed(&repo, &keys).args(["key", "generate", "--name", "agent-7"]).run().ok();
    let out = run.stdout.clone() + &run.stderr;
    assert!(!out.contains("PRIVATE KEY") && !out.contains("AAAA"), "printed key material: {out}");
    let private = keys.join("agent-7");
    assert!(std::fs::read_to_string(&private).expect("private key").starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&private).expect("meta").permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(&keys).expect("meta").permissions().mode() & 0o777, 0o700);
    }
    let public = std::fs::read_to_string(keys.join("agent-7.pub")).expect("public key");
    assert!(public.starts_with("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5") && public.trim_end().ends_with(" agent-7"), "{public}");
    // ssh-keygen reads it and agrees on the key id, when it is installed.
    if let Ok(out) = std::process::Command::new("ssh-keygen").arg("-lf").args([keys.join("agent-7.pub")]).output() {
        let listing = keyed(&repo, &keys).args(["--json", "key", "list"]).run().ok().json();
        let id = listing["keys"][0]["key_id"].as_str().expect("key id").to_string();
        assert!(String::from_utf8_lossy(&out.stdout).contains(&id), "ssh-keygen -l: {}", String::from_utf8_lossy(&out.stdout));
    }
    keyed(&repo, &keys).args(["--json", "key", "generate", "--name", "agent-7"]).run().fails_with(exit::CONFLICT, "conflict");
    keyed(&repo, &keys).args(["--json", "key", "generate", "--name", "../x"]).run().fails_with(exit::INVALID, "invalid_input");
}

#[test]
fn sign_allow_verify_revoke() {
    let (repo, keys) = setup();
    let key = generate(&repo, &keys, "ada");
    let key_id = key["key_id"].as_str().expect("key_id").to_string();
    let date = repo.next_date();
    let commit = keyed(&repo, &keys).env("MUSE_SIGNING_KEY", "ada").args(["--json", "commit", "-m", "signed", "--date", &date]).run().ok().json();
    assert_eq!(commit["signer_key_id"], key_id.as_str());
    assert!(commit["signature"].as_str().expect("signature").starts_with("ed25519 "));

    // Not allowed yet: unknown_key, exit 1, with the documented JSON shape.
    let (code, report) = verify(&repo, "HEAD");
    assert_eq!(code, exit::FAILED);
    assert_eq!(report[0]["status"], "unknown_key");
    assert_eq!(report[0]["commit_id"], commit["commit_id"]);
    assert_eq!(report[0]["key_id"], key_id.as_str());
    assert_eq!(report[0]["signer"], Value::Null);
    assert!(report[0]["reason"].as_str().expect("reason").contains(&key_id));

    let allowed = keyed(&repo, &keys).args(["--json", "key", "allow"]).args([keys.join("ada.pub")]).args(["--identity", "test@example.com"]).run().ok().json();
    assert_eq!(allowed["entry"]["key_id"], key_id.as_str());
    assert!(repo.root.join(".muse/allowed_signers").is_file());
    let (code, report) = verify(&repo, "HEAD");
    assert_eq!((code, report[0]["status"].as_str(), report[0]["signer"].as_str()), (exit::OK, Some("good"), Some("test@example.com")));
    assert_eq!(report[0]["reason"], "");
    let text = repo.muse(["verify", "HEAD"]).ok();
    assert!(text.stdout.contains("good by test@example.com"));

    // log --show-signature, text and JSON.
    let log = repo.muse(["log", "--show-signature"]).ok();
    let log = log.stdout;
    assert!(log.lines().nth(1).is_some_and(|l| l.starts_with("Signature: good by test@example.com")), "{log}");
    let log = repo.json(["log", "--show-signature"]).ok().json();
    assert_eq!(log[0]["verification"]["status"], "good");
    assert!(repo.json(["log"]).ok().json()[0].get("verification").is_none());

    // An unsigned commit: verify fails for it, and for the list as a whole.
    repo.write("b.txt", "b\n");
    let unsigned = repo.commit("unsigned");
    let (code, report) = repo.json(["verify", "HEAD~1", &unsigned]).run_code();
    assert_eq!(code, exit::FAILED);
    assert_eq!([report[0]["status"].as_str(), report[1]["status"].as_str()], [Some("good"), Some("unsigned")]);

    // Revocation turns the past commit's status to revoked.
    let revoked = keyed(&repo, &keys).args(["--json", "key", "revoke", &key_id]).run().ok().json();
    assert_eq!(revoked["entries_revoked"], 1);
    assert_eq!(verify(&repo, "HEAD~1").1[0]["status"], "revoked");
    let list = keyed(&repo, &keys).args(["--json", "key", "list"]).run().ok().json();
    assert_eq!(list["keys"][0]["name"], "ada");
    assert_eq!(list["allowed_signers"]["entries"][0]["revoked"], true);
    repo.json(["key", "revoke", "SHA256:nothere"]).fails_with(exit::NOT_FOUND, "not_found");
}

#[test]
fn an_agent_key_may_sign_only_for_its_agent_and_models() {
    let (repo, keys) = setup();
    generate(&repo, &keys, "agent-7");
    keyed(&repo, &keys)
        .args(["key", "allow"])
        .args([keys.join("agent-7.pub")])
        .args(["--identity", "agent:agent-7", "--models", "claude-opus-4,gpt-5"])
        .run()
        .ok();
    let sign = |agent: &str, model: &str, msg: &str| {
        repo.write("a.txt", format!("{msg}\n"));
        let date = repo.next_date();
        keyed(&repo, &keys)
            .env("MUSE_SIGNING_KEY", "agent-7")
            .args(["--json", "commit", "-m", msg, "--date", &date, "--agent-id", agent, "--model-id", model])
            .run()
            .ok()
            .json()["commit_id"]
            .as_str()
            .expect("id")
            .to_string()
    };
    let good = sign("agent-7", "claude-opus-4", "one");
    let other_agent = sign("agent-8", "claude-opus-4", "two");
    let other_model = sign("agent-7", "gemini-2.5-pro", "three");
    let (code, report) = repo.json(["verify", &good, &other_agent, &other_model]).run_code();
    assert_eq!(code, exit::FAILED);
    let statuses: Vec<&str> = report.as_array().expect("array").iter().map(|r| r["status"].as_str().expect("status")).collect();
    assert_eq!(statuses, ["good", "signer_mismatch", "signer_mismatch"]);
    assert!(report[1]["reason"].as_str().expect("reason").contains("agent:agent-8"));
    // An expired window.
    let path = repo.root.join(".muse/allowed_signers");
    let text = std::fs::read_to_string(&path).expect("allowed signers").replace("models=", "valid-before=\"20000101\",models=");
    std::fs::write(&path, text).expect("write");
    assert_eq!(verify(&repo, &good).1[0]["status"], "expired");
    // A broken file is an error naming the line, never skipped.
    std::fs::write(&path, "# c\nnonsense\n").expect("write");
    repo.json(["verify", &good]).fails_with(exit::INVALID, "bad_allowed_signers");
}

#[test]
fn config_turns_signing_on_for_commit_amend_merge_cherry_pick_and_revert() {
    let (repo, keys) = setup();
    generate(&repo, &keys, "me");
    let key_path = keys.join("me");
    repo.muse(["config", "commit.sign", "true"]).ok();
    repo.muse(["config", "user.signing_key", key_path.to_str().expect("utf-8")]).ok();
    keyed(&repo, &keys).args(["key", "allow"]).args([keys.join("me.pub")]).args(["--identity", "test@example.com"]).run().ok();
    let base = repo.commit("base");
    repo.muse(["switch", "-c", "topic"]).ok();
    repo.write("t.txt", "t\n");
    let topic = repo.commit("topic");
    repo.muse(["switch", "main"]).ok();
    repo.write("m.txt", "m\n");
    repo.commit("main");
    repo.muse(["merge", "--no-ff", "topic"]).ok();
    let merge = repo.rev("HEAD");
    repo.json(["cherry-pick", &topic]).fails_with(exit::FAILED, "nothing_to_commit");
    repo.muse(["revert", &topic]).ok();
    let revert = repo.rev("HEAD");
    repo.muse(["cherry-pick", &topic]).ok();
    let pick = repo.rev("HEAD");
    repo.write("a.txt", "amended\n");
    let date = repo.next_date();
    repo.json(["commit", "--amend", "--date", &date]).ok();
    let amended = repo.rev("HEAD");
    let (code, report) = repo.json(["verify", &base, &topic, &merge, &revert, &pick, &amended]).run_code();
    assert_eq!(code, exit::OK, "{report:#}");
    assert!(report.as_array().expect("array").iter().all(|r| r["status"] == "good"));
    // --no-sign wins over the config.
    repo.write("n.txt", "n\n");
    let date = repo.next_date();
    let unsigned = repo.json(["commit", "-m", "n", "--date", &date, "--no-sign"]).ok().json();
    assert_eq!((unsigned["signer_key_id"].as_str(), unsigned["signature"].as_str()), (Some(""), Some("")));
}

/// Made by `ssh-keygen -t ed25519 -N secretpass`.
const ENCRYPTED_KEY: &str = "-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAACmFlczI1Ni1jdHIAAAAGYmNyeXB0AAAAGAAAABBGZXvrGO
tIECUewQ10a2WkAAAAEAAAAAEAAAAzAAAAC3NzaC1lZDI1NTE5AAAAIDYEaiKsnbrxa+XW
PyAoH1oX1w34wGVH3+Z+96rLW2AhAAAAkPH5ObQm2DBO/rVE+cAZpjxd0UVzDrn84IGAod
3drtwio0kfGyFgniPnUTvVCKfunot+9Gzr57Z8kB/cD3Eyd51WT5Fa/BahseEqOt7+28bG
SYudnC96XHQ6osKVwGLYn7bV+//lqHPfnoeOtUMkA7dDzFngXnPhVu0z07ZunURclnNO7k
yVRxg0Vqm6Ci2GmQ==
-----END OPENSSH PRIVATE KEY-----
";

#[test]
fn a_key_with_a_passphrase_is_refused_without_a_prompt_and_nothing_is_committed() {
    let (repo, keys) = setup();
    std::fs::create_dir_all(&keys).expect("keys");
    std::fs::write(keys.join("locked"), ENCRYPTED_KEY).expect("key");
    let before = repo.json(["log"]).ok().json();
    let run = keyed(&repo, &keys).env("MUSE_SIGNING_KEY", "locked").args(["--json", "commit", "-m", "x"]).run().fails_with(exit::INVALID, "encrypted_key");
    assert!(run.stderr.contains("passphrase"));
    assert_eq!(repo.json(["log"]).ok().json(), before);
    keyed(&repo, &keys).env("MUSE_SIGNING_KEY", "missing").args(["--json", "commit", "-m", "x"]).run().fails_with(exit::NOT_FOUND, "not_found");
}

/// Read-only commands never open the private key: with signing on and the key a FIFO (opening
/// it for reading would block until a writer comes), they all finish.
#[test]
#[cfg(unix)]
fn read_only_commands_never_open_the_private_key() {
    let (repo, keys) = setup();
    generate(&repo, &keys, "real");
    repo.muse(["config", "user.signing_key", keys.join("real").to_str().expect("utf-8")]).ok();
    repo.muse(["config", "commit.sign", "true"]).ok();
    repo.commit("signed");
    let fifo = keys.join("fifo");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo").success());
    let fifo = fifo.to_str().expect("utf-8").to_string();
    for args in [&["log", "--show-signature"][..], &["verify", "HEAD"], &["status"], &["show"], &["diff"], &["key", "list"], &["blame", "a.txt"], &["fsck"]] {
        let mut child = keyed(&repo, &keys).env("MUSE_SIGNING_KEY", &fifo).args(args).spawn();
        let started = Instant::now();
        loop {
            if child.try_wait().expect("wait").is_some() {
                break;
            }
            if started.elapsed() > Duration::from_secs(20) {
                let _ = child.kill();
                panic!("muse {args:?} blocked opening the signing key");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
