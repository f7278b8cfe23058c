//! Black-box tests of the client commands (`remote`, `fetch`, `pull`, `push`, `clone URL`,
//! `auth`) against the real hub: `musehub serve` on 127.0.0.1 and a free port, with a temporary
//! data directory, users, repositories and tokens made with its admin commands. A small TCP
//! proxy between the two cuts connections after a number of bytes (resumed transfers) or holds
//! a push back (a stale push).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::{exit, Muse, Run, TestRepo};
use serde_json::Value;

/// The `musehub` executable: `$MUSEHUB_BIN`, else built by cargo into the target directory of
/// the `muse` under test (once per test process; a no-op when it is up to date).
fn musehub() -> &'static Path {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        if let Some(exe) = std::env::var_os("MUSEHUB_BIN") {
            return PathBuf::from(exe);
        }
        let muse = Path::new(common::bin());
        let profile_dir = muse.parent().expect("the muse binary has a directory");
        let target_dir = profile_dir.parent().expect("the profile directory has a parent");
        let mut build = Command::new(env!("CARGO"));
        build.args(["build", "--quiet", "--locked", "-p", "muse-hub-server", "--bin", "musehub", "--target-dir"]).arg(target_dir);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            build.arg("--release");
        }
        let status = build.current_dir(env!("CARGO_MANIFEST_DIR")).status().expect("cargo runs");
        assert!(status.success(), "cargo build -p muse-hub-server failed");
        profile_dir.join("musehub")
    })
}

/// A running hub with its data directory; stopped when dropped.
struct Hub {
    child: Child,
    data: tempfile::TempDir,
    /// `http://127.0.0.1:PORT`.
    url: String,
}

impl Hub {
    fn start() -> Hub {
        let data = tempfile::Builder::new().prefix("musehub-test-").tempdir().unwrap();
        let mut child = Command::new(musehub())
            .args(["serve", "--json", "--listen", "127.0.0.1:0", "--data"])
            .arg(data.path())
            .env("MUSEHUB_LOG", "warn")
            .env_remove("MUSEHUB_DATABASE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("musehub starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let doc: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("musehub printed {line:?}: {e}"));
        let url = doc["listening"].as_str().expect("the bound address").to_string();
        Hub { child, data, url }
    }

    /// Runs `musehub ARGS --data DIR --json` and returns its JSON output.
    fn admin(&self, args: &[&str], stdin: Option<&str>) -> Value {
        let mut child = Command::new(musehub())
            .args(args)
            .arg("--data")
            .arg(self.data.path())
            .arg("--json")
            .env_remove("MUSEHUB_DATABASE")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(input) = stdin {
            child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        }
        drop(child.stdin.take());
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "musehub {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("musehub {args:?} printed no JSON ({e})"))
    }

    fn user(&self, name: &str) {
        self.admin(&["user", "add", name], None);
    }

    fn repo(&self, full: &str, private: bool) -> String {
        let mut args = vec!["repo", "create", full];
        if private {
            args.push("--private");
        }
        self.admin(&args, None);
        format!("{}/{full}", self.url)
    }

    fn token(&self, user: &str, scope: &str) -> String {
        let out = self.admin(&["token", "create", "--user", user, "--scope", scope, "--label", "test"], None);
        out["token"].as_str().expect("a token").to_string()
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A hub with user `ada`, her public repository `ada/parser` and a write token.
struct Setup {
    hub: Hub,
    url: String,
    token: String,
}

fn setup() -> Setup {
    let hub = Hub::start();
    hub.user("ada");
    let url = hub.repo("ada/parser", false);
    let token = hub.token("ada", "write");
    Setup { hub, url, token }
}

/// `muse --json ARGS` in `dir` with `token` (if any) as `MUSE_TOKEN` and no credentials file.
fn muse_in(dir: &Path, token: Option<&str>, args: &[&str]) -> Run {
    let config = dir.parent().unwrap_or(dir).join(".muse-config");
    let mut cmd = Muse::new(dir).env("MUSE_CONFIG_DIR", config.to_str().unwrap()).env_remove("MUSE_TOKEN").args(["--json"]).args(args);
    if let Some(token) = token {
        cmd = cmd.env("MUSE_TOKEN", token);
    }
    cmd.run()
}

/// A repository with two commits on main (a.txt, dir/b.txt), remote `origin` at `url`.
fn source(url: &str) -> TestRepo {
    let repo = TestRepo::new();
    repo.write("a.txt", "one\n");
    repo.write("dir/b.txt", "bee\n");
    repo.commit("first");
    repo.write("a.txt", "two\n");
    repo.commit("second");
    repo.json(["remote", "add", "origin", url]).ok();
    repo
}

/// `muse log --json` of every branch and the tags of the repository at `dir`.
fn history(dir: &Path) -> (Value, Value, Value) {
    let branches = muse_in(dir, None, &["branch"]).ok().json();
    let mut logs = serde_json::Map::new();
    for b in branches.as_array().unwrap() {
        let name = b["name"].as_str().unwrap();
        logs.insert(name.to_string(), muse_in(dir, None, &["log", name]).ok().json());
    }
    let names: Vec<&str> = branches.as_array().unwrap().iter().map(|b| b["name"].as_str().unwrap()).collect();
    (serde_json::json!(names), Value::Object(logs), muse_in(dir, None, &["tag"]).ok().json())
}

#[test]
fn clone_fetch_pull_and_push_round_trip() {
    let s = setup();
    let a = source(&s.url);
    let pushed = muse_in(&a.root, Some(&s.token), &["push", "-u"]).ok().json();
    assert_eq!(pushed["refs"][0]["name"], "refs/heads/main");
    assert_eq!(pushed["refs"][0]["status"], "created");
    assert_eq!(pushed["pack"]["commits"], 2);
    assert_eq!(pushed["written"]["commits"], 2);
    assert_eq!(a.rev("origin/main"), a.rev("main"), "push sets the remote-tracking ref");

    // Anonymous clone of a public repository.
    let b_parent = tempfile::tempdir().unwrap();
    let cloned = muse_in(b_parent.path(), None, &["clone", &s.url]).ok().json();
    let b = b_parent.path().join("parser");
    assert_eq!(cloned["head"], "refs/heads/main");
    assert_eq!(cloned["files"], 2);
    assert_eq!(cloned["commits_written"], 2);
    assert_eq!(std::fs::read_to_string(b.join("a.txt")).unwrap(), "two\n");
    assert_eq!(history(&b), history(&a.root));
    assert_eq!(muse_in(&b, None, &["status"]).ok().json()["clean"], true);
    let remotes = muse_in(&b, None, &["branch", "-r"]).ok().json();
    assert_eq!(remotes[0]["name"], "origin/main");

    // A new commit pushed from a, fetched and pulled (fast-forward) into b.
    a.write("c.txt", "sea\n");
    let third = a.commit("third");
    let pushed = muse_in(&a.root, Some(&s.token), &["push"]).ok().json();
    assert_eq!(pushed["refs"][0]["status"], "fast-forward");
    assert_eq!(pushed["pack"]["commits"], 1, "only what the hub lacks");
    let fetched = muse_in(&b, None, &["fetch"]).ok().json();
    let tracking = &fetched["refs"].as_array().unwrap().iter().find(|r| r["name"] == "refs/remotes/origin/main").unwrap().clone();
    assert_eq!(tracking["status"], "fast-forward");
    assert_eq!(tracking["new"], third);
    assert_eq!(fetched["commits_written"], 1);
    assert!(fetched["negotiation_rounds"].as_u64().unwrap() <= 1);
    assert_ne!(muse_in(&b, None, &["log", "-n", "1", "main"]).ok().json()[0]["commit_id"], third, "fetch does not move the branch");
    let pulled = muse_in(&b, None, &["pull"]).ok().json();
    assert_eq!((pulled["status"].as_str(), pulled["new"].as_str()), (Some("fast-forward"), Some(third.as_str())));
    assert_eq!(std::fs::read_to_string(b.join("c.txt")).unwrap(), "sea\n");
    assert_eq!(muse_in(&b, None, &["pull"]).ok().json()["status"], "up-to-date");
    // The pull is one operation: undo puts the branch and the files back.
    muse_in(&b, None, &["undo"]).ok();
    muse_in(&b, None, &["undo"]).ok();
    assert!(!b.join("c.txt").exists(), "undo of the pull removes the pulled file");
    assert_eq!(history(&b).1["main"].as_array().unwrap().len(), 2);
    // Nothing new: the fetch asks for no pack.
    let again = muse_in(&b, None, &["fetch"]).ok().json();
    assert_eq!(again["pack_bytes"], 0);
}

#[test]
fn diverged_pull_merges_and_force_push_and_deletes_work() {
    let s = setup();
    let a = source(&s.url);
    muse_in(&a.root, Some(&s.token), &["push", "-u"]).ok();
    let b_parent = tempfile::tempdir().unwrap();
    muse_in(b_parent.path(), Some(&s.token), &["clone", &s.url, "b"]).ok();
    let b = b_parent.path().join("b");

    a.write("a.txt", "from a\n");
    let from_a = a.commit("a's change");
    muse_in(&a.root, Some(&s.token), &["push"]).ok();
    std::fs::write(b.join("a.txt"), "from b\n").unwrap();
    muse_in(&b, None, &["commit", "-m", "b's change"]).ok();
    let b_main = muse_in(&b, None, &["log", "-n", "1"]).ok().json()[0]["commit_id"].clone();

    // Diverged on the same line: the pull merges and stops on the conflict (exit 1, the report
    // on stdout); `merge --abort` puts the files back, so only the tracking ref changed.
    let run = muse_in(&b, Some(&s.token), &["pull"]).fails_with(exit::FAILED, "conflicts");
    let report = run.json();
    assert_eq!(report["status"], "conflict");
    assert_eq!(report["merge"]["conflicts"][0]["path"], "a.txt");
    assert!(std::fs::read_to_string(b.join("a.txt")).unwrap().contains("<<<<<<< main\nfrom b\n"));
    muse_in(&b, None, &["merge", "--abort"]).ok();
    assert_eq!(std::fs::read_to_string(b.join("a.txt")).unwrap(), "from b\n");
    assert_eq!(muse_in(&b, None, &["log", "-n", "1"]).ok().json()[0]["commit_id"], b_main);
    assert_eq!(muse_in(&b, None, &["log", "-n", "1", "origin/main"]).ok().json()[0]["commit_id"], from_a);

    // A non-fast-forward push is refused before anything is sent; --force goes through.
    let run = muse_in(&b, Some(&s.token), &["push"]).fails_with(exit::CONFLICT, "conflict");
    assert!(run.error_json()["message"].as_str().unwrap().contains("non-fast-forward"), "{}", run.stderr);
    let forced = muse_in(&b, Some(&s.token), &["push", "--force"]).ok().json();
    assert_eq!(forced["refs"][0]["status"], "forced");
    // a has not seen b's commit: "fetch first".
    a.write("a.txt", "again\n");
    a.commit("a again");
    let run = muse_in(&a.root, Some(&s.token), &["push"]).fails_with(exit::CONFLICT, "conflict");
    assert!(run.error_json()["message"].as_str().unwrap().contains("fetch first"), "{}", run.stderr);
    let fetched = muse_in(&a.root, None, &["fetch"]).ok().json();
    let main = fetched["refs"].as_array().unwrap().iter().find(|r| r["name"] == "refs/remotes/origin/main").unwrap().clone();
    assert_eq!(main["status"], "forced");

    // A branch at an existing commit: no pack. Then deleted, and pruned from a's tracking refs.
    let created = muse_in(&b, Some(&s.token), &["push", "origin", "HEAD~1:refs/heads/old"]).ok().json();
    assert_eq!(created["refs"][0]["status"], "created");
    assert_eq!(created["pack"], Value::Null, "the hub has the commit: nothing to send");
    muse_in(&a.root, None, &["fetch"]).ok();
    assert_eq!(a.rev("origin/old"), muse_in(&b, None, &["log", "-n", "1", "HEAD~1"]).ok().json()[0]["commit_id"].as_str().unwrap());
    let deleted = muse_in(&b, Some(&s.token), &["push", "--delete", "origin", "old"]).ok().json();
    assert_eq!(deleted["refs"][0]["status"], "deleted");
    muse_in(&b, Some(&s.token), &["push", "--delete", "origin", "old"]).fails_with(exit::NOT_FOUND, "not_found");
    let pruned = muse_in(&a.root, None, &["fetch", "--prune"]).ok().json();
    assert!(pruned["refs"].as_array().unwrap().iter().any(|r| r["name"] == "refs/remotes/origin/old" && r["status"] == "pruned"));
    muse_in(&a.root, None, &["log", "origin/old"]).code(exit::NOT_FOUND);

    // Tags: pushed with --tags, fetched into the other repository.
    muse_in(&b, None, &["tag", "v1"]).ok();
    let tags = muse_in(&b, Some(&s.token), &["push", "--tags"]).ok().json();
    assert!(tags["refs"].as_array().unwrap().iter().any(|r| r["name"] == "refs/tags/v1" && r["status"] == "created"));
    let fetched = muse_in(&a.root, None, &["fetch"]).ok().json();
    assert!(fetched["refs"].as_array().unwrap().iter().any(|r| r["name"] == "refs/tags/v1" && r["status"] == "created"));
}

#[test]
fn auth_and_private_repositories() {
    let s = setup();
    let private = s.hub.repo("ada/secret", true);
    let a = source(&private);
    let parent = tempfile::tempdir().unwrap();
    // Anonymous: a private repository is the same 404 as a missing one.
    muse_in(parent.path(), None, &["clone", &private, "x"]).fails_with(exit::NOT_FOUND, "not_found");
    muse_in(parent.path(), None, &["clone", &format!("{}/ada/nothing", s.hub.url), "y"]).fails_with(exit::NOT_FOUND, "not_found");
    assert!(!parent.path().join("x").exists(), "a failed clone leaves nothing");
    // Anonymous push to a public repository: authentication needed.
    let p = source(&s.url);
    muse_in(&p.root, None, &["push"]).fails_with(10, "auth");
    muse_in(&p.root, Some("muse_not_a_token"), &["push"]).fails_with(10, "auth");
    // A read token cannot push.
    let read = s.hub.token("ada", "read");
    muse_in(&a.root, Some(&read), &["push"]).fails_with(10, "auth");

    // `muse hub …` runs musehub (beside muse), passing --json and the exit code on.
    let data = s.hub.data.path().to_str().unwrap().to_string();
    let added = Muse::new(parent.path()).args(["--json", "hub", "user", "add", "dave", "--data", &data]).run().ok().json();
    assert_eq!(added["name"], "dave");
    Muse::new(parent.path()).args(["hub", "user", "add", "dave", "--data", &data]).run().code(exit::CONFLICT);

    // Login with a password: the hub issues a token, stored 0600 and never printed.
    s.hub.admin(&["user", "add", "carol", "--password-stdin"], Some("hunter2\n"));
    let repo = s.hub.repo("carol/notes", true);
    let c = source(&repo);
    let config = c.root.parent().unwrap().join(".muse-config");
    let login = Muse::new(&c.root).env("MUSE_CONFIG_DIR", config.to_str().unwrap()).env_remove("MUSE_TOKEN").args([
        "--json",
        "auth",
        "login",
        &s.hub.url,
        "--user",
        "carol",
        "--password-stdin",
    ]);
    let run = stdin_run(login, "hunter2\n").ok();
    assert_eq!(run.json()["user"], "carol");
    let file = config.join("credentials");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    let token = serde_json::from_slice::<Value>(&std::fs::read(&file).unwrap()).unwrap()["hubs"][0]["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("muse_"));
    let status = muse_in(&c.root, None, &["auth", "status"]).ok();
    assert!(!status.stdout.contains(&token) && !run.stdout.contains(&token) && !run.stderr.contains(&token));
    // The stored token is used: carol pushes to her private repository.
    muse_in(&c.root, None, &["push"]).ok();
    let wrong = Muse::new(&c.root).env("MUSE_CONFIG_DIR", config.to_str().unwrap()).args([
        "--json",
        "auth",
        "login",
        &s.hub.url,
        "--user",
        "carol",
        "--password-stdin",
    ]);
    stdin_run(wrong, "wrong\n").fails_with(10, "auth");
    assert_eq!(muse_in(&c.root, None, &["auth", "logout", &s.hub.url]).ok().json()["removed"], true);
    muse_in(&c.root, None, &["fetch"]).fails_with(exit::NOT_FOUND, "not_found");
}

/// Runs `cmd` with `input` on its standard input.
fn stdin_run(mut cmd: Muse, input: &str) -> Run {
    cmd.command_mut().stdin(Stdio::piped());
    let mut child = cmd.spawn();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    Run::from_output("muse auth login", child.wait_with_output().unwrap())
}

/// A TCP proxy in front of the hub that can cut the connection after a number of bytes in one
/// direction, once, and hold a push request until released.
struct Proxy {
    url: String,
    /// Cut when the bytes sent to the client (downstream) reach this (u64::MAX: never).
    cut_down_at: Arc<AtomicU64>,
    /// Cut when the bytes sent to the hub (upstream) reach this.
    cut_up_at: Arc<AtomicU64>,
    down: Arc<AtomicU64>,
    up: Arc<AtomicU64>,
    /// While set, a `POST …/muse/push` waits before it is forwarded.
    gate: Arc<AtomicBool>,
    held: Arc<AtomicBool>,
}

impl Proxy {
    fn start(hub: &str) -> Proxy {
        let target = hub.trim_start_matches("http://").to_string();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let p = Proxy {
            url,
            cut_down_at: Arc::new(AtomicU64::new(u64::MAX)),
            cut_up_at: Arc::new(AtomicU64::new(u64::MAX)),
            down: Arc::new(AtomicU64::new(0)),
            up: Arc::new(AtomicU64::new(0)),
            gate: Arc::new(AtomicBool::new(false)),
            held: Arc::new(AtomicBool::new(false)),
        };
        let (cut_down, cut_up, down, up, gate, held) =
            (p.cut_down_at.clone(), p.cut_up_at.clone(), p.down.clone(), p.up.clone(), p.gate.clone(), p.held.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { break };
                let Ok(server) = TcpStream::connect(&target) else { continue };
                let pair = Arc::new(Mutex::new(()));
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let (cut_up, up, gate, held, pair_up) = (cut_up.clone(), up.clone(), gate.clone(), held.clone(), pair.clone());
                std::thread::spawn(move || pump(client, server, &up, &cut_up, Some((&gate, &held)), &pair_up));
                let (cut_down, down) = (cut_down.clone(), down.clone());
                std::thread::spawn(move || pump(s2, c2, &down, &cut_down, None, &pair));
            }
        });
        p
    }
}

/// Copies `from` to `to`, counting into `total`; when `total` would pass `cut_at`, sends only
/// up to it, disarms the cut and closes both sockets.
fn pump(mut from: TcpStream, mut to: TcpStream, total: &AtomicU64, cut_at: &AtomicU64, gate: Option<(&AtomicBool, &AtomicBool)>, _pair: &Mutex<()>) {
    let mut buf = vec![0u8; 16 << 10];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some((gate, held)) = gate {
            if buf[..n].starts_with(b"POST ") && buf[..n].windows(11).any(|w| w == b"/muse/push ") {
                held.store(true, Ordering::SeqCst);
                while gate.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
        let before = total.fetch_add(n as u64, Ordering::SeqCst);
        let limit = cut_at.load(Ordering::SeqCst);
        if before + n as u64 >= limit {
            let keep = limit.saturating_sub(before) as usize;
            let _ = to.write_all(&buf[..keep]);
            cut_at.store(u64::MAX, Ordering::SeqCst);
            let _ = to.shutdown(Shutdown::Both);
            let _ = from.shutdown(Shutdown::Both);
            return;
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// `len` incompressible bytes from an xorshift generator at `state` (which it advances).
fn noise(state: &mut u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|_| {
            *state ^= *state << 13;
            *state ^= *state >> 7;
            *state ^= *state << 17;
            *state as u8
        })
        .collect()
}

/// A repository whose pack is about 3 MiB (incompressible files), pushed to `url`.
fn big_source(url: &str, token: &str) -> TestRepo {
    let repo = TestRepo::new();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for i in 0..3 {
        repo.write(&format!("blob{i}.bin"), noise(&mut state, 1 << 20));
    }
    repo.commit("big");
    repo.json(["remote", "add", "origin", url]).ok();
    muse_in(&repo.root, Some(token), &["push"]).ok();
    repo
}

#[test]
fn an_interrupted_clone_is_resumed_without_sending_again_what_arrived() {
    let s = setup();
    let a = big_source(&s.url, &s.token);
    let proxy = Proxy::start(&s.hub.url);
    let through = s.url.replacen(&s.hub.url, &proxy.url, 1);

    // Cut once after 1.5 MB: the clone retries and asks only for the rest.
    proxy.cut_down_at.store(1_500_000, Ordering::SeqCst);
    let parent = tempfile::tempdir().unwrap();
    let out = muse_in(parent.path(), None, &["clone", &through, "one"]).ok().json();
    let pack = out["pack_bytes"].as_u64().unwrap();
    let resumed = out["bytes_resumed"].as_u64().unwrap();
    let received = out["bytes_received"].as_u64().unwrap();
    assert!(pack > 3_000_000, "{out}");
    assert_eq!(out["resumes"], 1, "{out}");
    assert!(resumed > 1_000_000 && resumed < 1_500_000, "{out}");
    eprintln!("resumed clone (same run): pack {pack} bytes, cut at {resumed}, received {received}, re-sent {}", received - pack);
    assert_eq!(received, pack, "nothing sent twice");
    assert_eq!(history(&parent.path().join("one")), history(&a.root));

    // With no retries, the cut clone stops (exit 9) and keeps what arrived; the next run resumes.
    proxy.cut_down_at.store(proxy.down.load(Ordering::SeqCst) + 2_000_000, Ordering::SeqCst);
    let cut = Muse::new(parent.path()).env("MUSE_NET_RETRIES", "0").env_remove("MUSE_TOKEN").args(["--json", "clone", &through, "two"]).run();
    cut.fails_with(9, "network");
    assert!(parent.path().join("two/.muse").is_dir(), "the pending clone is kept");
    let out = muse_in(parent.path(), None, &["clone", &through, "two"]).ok().json();
    assert_eq!(out["resumed"], true);
    let resumed = out["bytes_resumed"].as_u64().unwrap();
    let received = out["bytes_received"].as_u64().unwrap();
    assert!(resumed > 1_000_000, "{out}");
    assert_eq!(received + resumed, out["pack_bytes"].as_u64().unwrap(), "{out}");
    eprintln!("resumed clone (next run): pack {} bytes, {resumed} kept from the cut run, {received} received", out["pack_bytes"]);
    assert_eq!(history(&parent.path().join("two")), history(&a.root));
    assert_eq!(muse_in(&parent.path().join("two"), None, &["fsck"]).ok().json()["ok"], true);
}

#[test]
fn an_interrupted_push_is_resumed_and_a_stale_push_is_refused() {
    let s = setup();
    let a = source(&s.url);
    muse_in(&a.root, Some(&s.token), &["push"]).ok();
    let proxy = Proxy::start(&s.hub.url);
    let through = s.url.replacen(&s.hub.url, &proxy.url, 1);
    a.json(["remote", "add", "proxy", &through]).ok();

    // A 3 MiB commit, its upload cut after 1.5 MB: the push resumes where the hub stopped.
    a.write("big.bin", noise(&mut 0x9e37_79b9_7f4a_7c15, 3 << 20));
    a.commit("big");
    proxy.cut_up_at.store(proxy.up.load(Ordering::SeqCst) + 1_500_000, Ordering::SeqCst);
    let out = muse_in(&a.root, Some(&s.token), &["push", "proxy", "main"]).ok().json();
    let pack = &out["pack"];
    let (size, uploaded, resumed) = (pack["bytes"].as_u64().unwrap(), pack["bytes_uploaded"].as_u64().unwrap(), pack["bytes_resumed"].as_u64().unwrap());
    eprintln!(
        "resumed push (same run): pack {size} bytes, cut after the hub held {resumed}, uploaded {uploaded}, sent twice {} (lost in flight)",
        uploaded - size
    );
    assert!(resumed > 1_000_000 && resumed <= 1_500_000, "the retry starts where the hub stopped: {out}");
    assert!(uploaded < 2 * size, "not started over: {out}");
    assert_eq!(out["refs"][0]["status"], "fast-forward");

    // The next run of a cut push resumes from what the hub kept.
    a.write("big.bin", "small now\n");
    a.write("other.bin", vec![7u8; 10]);
    a.write("big2.bin", noise(&mut 0x1234_5678_9abc_def1, 2 << 20));
    a.commit("big two");
    proxy.cut_up_at.store(proxy.up.load(Ordering::SeqCst) + 1_000_000, Ordering::SeqCst);
    Muse::new(&a.root).env("MUSE_NET_RETRIES", "0").env("MUSE_TOKEN", &s.token).args(["--json", "push", "proxy", "main"]).run().fails_with(9, "network");
    let out = muse_in(&a.root, Some(&s.token), &["push", "proxy", "main"]).ok().json();
    let pack = &out["pack"];
    let (size, uploaded, resumed) = (pack["bytes"].as_u64().unwrap(), pack["bytes_uploaded"].as_u64().unwrap(), pack["bytes_resumed"].as_u64().unwrap());
    eprintln!("resumed push (next run): pack {size} bytes, {resumed} held by the hub, {uploaded} sent");
    assert!(resumed > 500_000, "{out}");
    assert_eq!(uploaded + resumed, size);

    // A stale push: the hub's main moves between the advertisement and the push call.
    a.write("a.txt", "held back\n");
    a.commit("held");
    proxy.gate.store(true, Ordering::SeqCst);
    let held = Muse::new(&a.root).env("MUSE_TOKEN", &s.token).env_remove("MUSE_CONFIG_DIR").args(["--json", "push", "proxy", "main"]).spawn();
    let started = Instant::now();
    while !proxy.held.load(Ordering::SeqCst) {
        assert!(started.elapsed() < Duration::from_secs(30), "the push never reached the hub");
        std::thread::sleep(Duration::from_millis(20));
    }
    let b_parent = tempfile::tempdir().unwrap();
    muse_in(b_parent.path(), Some(&s.token), &["clone", &s.url, "b"]).ok();
    let b = b_parent.path().join("b");
    std::fs::write(b.join("a.txt"), "b wins\n").unwrap();
    muse_in(&b, None, &["commit", "-m", "b wins"]).ok();
    muse_in(&b, Some(&s.token), &["push"]).ok();
    proxy.gate.store(false, Ordering::SeqCst);
    let run = Run::from_output("muse push (held)", held.wait_with_output().unwrap());
    let run = run.fails_with(exit::CONFLICT, "conflict");
    let message = run.error_json()["message"].as_str().unwrap().to_string();
    assert!(message.contains("stale_ref") && message.contains("refs/heads/main"), "{message}");
    let hub_main = muse_in(&b, None, &["log", "-n", "1"]).ok().json()[0]["commit_id"].clone();
    muse_in(&a.root, None, &["fetch"]).ok();
    assert_eq!(muse_in(&a.root, None, &["log", "-n", "1", "origin/main"]).ok().json()[0]["commit_id"], hub_main, "the other push won, whole");
}

/// Runs git in `dir` with no user configuration.
fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git").args(args).current_dir(dir).env("GIT_CONFIG_NOSYSTEM", "1").env("GIT_CONFIG_GLOBAL", "/dev/null").output().expect("git");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_real_history_round_trips_through_the_hub() {
    let corpus = match std::env::var_os("MUSE_CORPUS") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
    };
    let bundle = corpus.join("muse-python.bundle");
    assert!(bundle.is_file(), "corpus bundle {} not found (set MUSE_CORPUS)", bundle.display());
    let s = setup();
    let work = tempfile::tempdir().unwrap();
    git(work.path(), &["clone", "--quiet", "--mirror", bundle.to_str().unwrap(), "src.git"]);
    Muse::new(work.path()).args(["--json", "import", "git", "src.git", "orig"]).run().ok();
    let orig = work.path().join("orig");
    muse_in(&orig, None, &["remote", "add", "origin", &s.url]).ok();
    let pushed = muse_in(&orig, Some(&s.token), &["push", "--all", "--tags"]).ok().json();
    assert!(pushed["pack"]["commits"].as_u64().unwrap() >= 531, "{}", pushed["pack"]);
    let cloned = muse_in(work.path(), None, &["clone", &s.url, "copy"]).ok().json();
    let copy = work.path().join("copy");
    // Every branch of the original is a remote-tracking ref of the copy with the same history.
    let (names, logs, tags) = history(&orig);
    assert_eq!(muse_in(&copy, None, &["tag"]).ok().json(), tags);
    for name in names.as_array().unwrap() {
        let name = name.as_str().unwrap();
        let copy_log = muse_in(&copy, None, &["log", &format!("origin/{name}")]).ok().json();
        assert_eq!(copy_log, logs[name], "branch {name}");
    }
    // The checked-out default branch equals the original's files.
    let head = cloned["head"].as_str().unwrap().trim_start_matches("refs/heads/").to_string();
    assert_eq!(muse_in(&copy, None, &["log", &head]).ok().json(), logs[&head]);
    assert_eq!(muse_in(&copy, None, &["status"]).ok().json()["clean"], true);
    assert_eq!(muse_in(&copy, None, &["fsck"]).ok().json()["ok"], true);
}
