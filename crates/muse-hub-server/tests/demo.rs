//! `musehub serve --demo`: the binary starts on a scratch SQLite data directory, says where the
//! seed's page is, and serves the demo repositories over HTTP: the public one readable by anyone,
//! with the seed's file changed by exactly the seed's six commits (over the wire and in the File
//! History's JSON twin), and the private one hidden.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use common::*;
use muse_core::{rfc3339_to_unix, CommitId, SemVerBump};
use muse_hub_server::demo;
use muse_store::snapshot::lookup;
use serde_json::{json, Value};

/// The `musehub serve --demo` process, killed when dropped.
struct Served {
    child: Child,
    first: Value,
}

impl Served {
    fn start(args: &[&str]) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_musehub"))
            .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--json"])
            .args(args)
            .env("MUSEHUB_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let first = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        Served { child, first }
    }

    fn base(&self) -> &str {
        self.first["listening"].as_str().unwrap()
    }

    /// SIGTERM, then the exit status must be a clean 0.
    fn stop(mut self) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        assert!(self.child.wait().unwrap().success());
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

#[test]
fn serve_demo_serves_the_seeds_file_and_its_six_commits() {
    let served = Served::start(&[]);
    let base = served.base().to_string();
    let page = served.first["demo"]["page"].as_str().unwrap();
    assert_eq!(page, format!("{base}/demo/muse/blob/main/tests/test_apply_mpack_partial_failure.py"));
    assert_eq!((served.first["demo"]["user"].as_str(), served.first["demo"]["password"].as_str()), (Some("demo"), Some("demo")));
    let data = std::path::PathBuf::from(served.first["demo"]["data"].as_str().unwrap());
    assert!(data.join("hub.db").is_file(), "the demo runs on embedded SQLite in a scratch directory");
    let agent = agent();

    // The JSON API: the public repository for anyone, the private one hidden.
    let (status, body) = call(&agent, "GET", &format!("{base}/api/v1/repos/demo/muse"), None, None);
    assert_eq!((status, body["private"].as_bool()), (200, Some(false)), "{body}");
    let (status, _) = call(&agent, "GET", &format!("{base}/api/v1/repos/demo/notes"), None, None);
    assert_eq!(status, 404);
    let (status, body) = call(&agent, "GET", &format!("{base}/api/v1/users/demo/repos"), None, None);
    assert_eq!((status, body.as_array().map(Vec::len)), (200, Some(1)), "{body}");

    // The wire protocol: branches and tags, then the whole history fetched into a local store.
    let (status, refs) = call(&agent, "GET", &format!("{base}/demo/muse/muse/refs"), None, None);
    assert_eq!(status, 200, "{refs}");
    let refs: Vec<(String, CommitId)> = refs["refs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["name"].as_str().unwrap().to_string(), CommitId::parse(r["commit_id"].as_str().unwrap()).unwrap()))
        .collect();
    let names: Vec<&str> = refs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["refs/heads/agent/gemini/blob-cache", "refs/heads/main", "refs/tags/v0.1.0", "refs/tags/v0.2.0"]);
    let main = refs[1].1;
    let request = ureq::http::Request::post(format!("{base}/demo/muse/muse/fetch"))
        .header("Muse-Protocol", "1")
        .header("Content-Type", "application/json")
        .body(serde_json::to_vec(&json!({"wants": [main], "haves": []})).unwrap())
        .unwrap();
    let response = agent.run(request).unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let pack = response.into_body().into_with_config().limit(u64::MAX).read_to_vec().unwrap();
    let local = Local::new();
    local.apply(&pack);

    // First parents from main's tip: the commits that changed the seed's file.
    let mut changed = Vec::new();
    let mut others = Vec::new();
    let mut at = Some(main);
    while let Some(id) = at {
        let commit = local.store.read_commit(&id).unwrap();
        let parent = commit.parents.first().copied();
        let here = lookup(&local.store, commit.snapshot, demo::SEED_PATH).unwrap();
        let before = match parent {
            Some(p) => lookup(&local.store, local.store.read_commit(&p).unwrap().snapshot, demo::SEED_PATH).unwrap(),
            None => None,
        };
        if here != before {
            changed.push(commit);
        } else {
            others.push(commit);
        }
        at = parent;
    }
    let now = unix_now();
    let rows: Vec<(String, &str, SemVerBump, usize, i64)> = changed
        .iter()
        .map(|c| {
            let (secs, _) = rfc3339_to_unix(&c.committed_at).unwrap();
            (c.message.lines().next().unwrap().to_string(), c.model_id.as_str(), c.sem_ver_bump, c.breaking_changes.len(), (now - secs) / 86_400)
        })
        .collect();
    let expected = [
        ("fix: remove commit_exists filter from have anchors — server decides which haves it knows", SemVerBump::Patch, 0, 20),
        ("fix: rename objects→blobs in push client and all stale test fixtures", SemVerBump::Patch, 0, 22),
        ("rename: delta_add → delta_upsert across wire format, source, and tests", SemVerBump::Minor, 2, 22),
        ("fix(push): step 0 log shows full /refs URL instead of misleading base URL", SemVerBump::Patch, 0, 22),
        ("fix: repair four test failures from post-migration audit", SemVerBump::Patch, 0, 28),
        ("fix: unified object store migration — idempotent writes, JSON-safe manifests", SemVerBump::Minor, 2, 28),
    ];
    assert_eq!(rows.len(), 6, "{rows:#?}");
    for (row, (message, bump, breaking, days)) in rows.iter().zip(expected) {
        assert_eq!((row.0.as_str(), row.1, row.2, row.3, row.4), (message, "claude-sonnet-4-6", bump, breaking, days));
    }
    // The seed's cut first lines (59 characters and an ellipsis) are prefixes of the messages.
    for (row, cut) in rows.iter().zip(SEED_CUTS) {
        let kept = cut.strip_suffix('…').unwrap_or(cut);
        assert!(row.0.starts_with(kept) && kept.chars().count() == row.0.chars().count().min(if cut.ends_with('…') { 59 } else { 60 }), "{cut} / {}", row.0);
    }
    // Among other commits: people and other models.
    let models: std::collections::BTreeSet<&str> = others.iter().map(|c| c.model_id.as_str()).collect();
    assert!(models.contains("") && models.contains("gpt-5.1-codex") && models.contains("gemini-2.5-pro"), "{models:?}");
    // The file as served is the seed's.
    let newest = local.store.read_commit(&main).unwrap();
    let (_, blob) = lookup(&local.store, newest.snapshot, demo::SEED_PATH).unwrap().unwrap();
    assert_eq!(local.store.read(&blob).unwrap().data, demo::SEED_FILE.as_bytes());

    // The File History's JSON twin says the same; the private repository's is hidden.
    let (status, history) = call(&agent, "GET", &format!("{base}/api/repos/demo/muse/history/main/{}", demo::SEED_PATH), None, None);
    assert_eq!((status, history["count"].as_u64()), (200, Some(6)), "{history}");
    let twin: Vec<(&str, &str)> =
        history["commits"].as_array().unwrap().iter().map(|c| (c["message"].as_str().unwrap(), c["model_id"].as_str().unwrap())).collect();
    for ((message, model), commit) in twin.iter().zip(&changed) {
        assert_eq!((*message, *model), (commit.message.as_str(), "claude-sonnet-4-6"));
    }
    let (status, _) = call(&agent, "GET", &format!("{base}/api/repos/demo/notes/history/main/NOTES.md"), None, None);
    assert_eq!(status, 404);

    served.stop();
    assert!(!data.exists(), "the scratch data directory is removed on exit");
}

/// The first lines as the seed shows them, newest first.
const SEED_CUTS: [&str; 6] = [
    "fix: remove commit_exists filter from have anchors — server…",
    "fix: rename objects→blobs in push client and all stale test…",
    "rename: delta_add → delta_upsert across wire format, source…",
    "fix(push): step 0 log shows full /refs URL instead of misle…",
    "fix: repair four test failures from post-migration audit",
    "fix: unified object store migration — idempotent writes, JS…",
];

#[test]
fn serve_demo_on_a_given_data_directory_keeps_the_demo_on_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("hub");
    let data_arg = data.to_str().unwrap();
    let served = Served::start(&["--data", data_arg]);
    assert_eq!(served.first["demo"]["created"], true);
    let base = served.base().to_string();
    let (_, first_refs) = call(&agent(), "GET", &format!("{base}/demo/muse/muse/refs"), None, None);
    served.stop();
    assert!(data.join("hub.db").is_file(), "a given data directory stays");

    let served = Served::start(&["--data", data_arg]);
    assert_eq!(served.first["demo"]["created"], false);
    let (status, refs) = call(&agent(), "GET", &format!("{}/demo/muse/muse/refs", served.base()), None, None);
    assert_eq!((status, refs), (200, first_refs), "the demo repository is kept as it was");
    served.stop();

    // Without --demo, --data is required (a usage error).
    let out = Command::new(env!("CARGO_BIN_EXE_musehub")).args(["serve", "--listen", "127.0.0.1:0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
}
