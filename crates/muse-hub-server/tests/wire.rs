//! The wire protocol against a real server on 127.0.0.1, on SQLite and on PostgreSQL: refs,
//! negotiation, fetch (full, incremental, resumed), push (create, update, delete, force, a
//! branch at an existing commit, stale, concurrent, poisoned, missing parent), uploads (cut off
//! and resumed, wrong offset, bad checksum, over the cap) and error shapes.

mod common;

use std::io::Write;
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use common::*;
use muse_core::CommitId;
use muse_hub::{Backend, Role};
use serde_json::{json, Value};

on_both_backends!(
    refs_of_an_empty_repository_and_with_branches_and_tags,
    negotiate_answers_the_haves_held,
    fetch_full_then_incremental,
    fetch_resumes_with_range_sending_only_the_rest,
    concurrent_clones_share_one_published_pack,
    push_create_update_delete_force_and_branch_at_existing_commit,
    stale_old_moves_nothing,
    concurrent_pushes_one_winner_per_old_value_none_lost,
    poisoned_and_missing_parent_packs_write_nothing,
    upload_cut_off_and_resumed,
    upload_errors_offset_checksum_and_caps,
    errors_have_the_documented_shape,
);

fn setup(backend: Backend) -> (TestHub, String) {
    let hub = TestHub::start(backend);
    hub.user("ada");
    hub.repo("ada", "engine", false);
    let token = hub.token("ada", Role::Write, None);
    (hub, token)
}

fn id(value: &Value) -> CommitId {
    CommitId::parse(value.as_str().unwrap()).unwrap()
}

fn refs_of_an_empty_repository_and_with_branches_and_tags(backend: Backend) {
    let (hub, token) = setup(backend);
    let advert = hub.refs("ada/engine", None);
    assert_eq!(advert, json!({"protocol": 1, "capabilities": ["fetch-resume", "push-resume", "atomic-push", "ref-delete"], "head": null, "refs": []}));
    let local = Local::new();
    let line = local.line(None, 3, "a");
    let pack = local.pack(&[line[2]], &[]);
    let updates = json!([
        {"name": "refs/heads/topic", "old": null, "new": line[2]},
        {"name": "refs/heads/main", "old": null, "new": line[1]},
        {"name": "refs/tags/v1", "old": null, "new": line[0]},
    ]);
    let (status, body) = hub.push("ada/engine", &token, Some(&pack), updates);
    assert_eq!(status, 200, "{body}");
    // `.muse` on the name is the same repository; owner and name compare case-insensitively.
    let advert = hub.refs("Ada/engine.muse", None);
    assert_eq!(advert["head"], "refs/heads/main");
    assert_eq!(
        advert["refs"],
        json!([
            {"name": "refs/heads/main", "commit_id": line[1]},
            {"name": "refs/heads/topic", "commit_id": line[2]},
            {"name": "refs/tags/v1", "commit_id": line[0]},
        ])
    );
    // Without main, the first branch by name is the head.
    let (status, body) = hub.push("ada/engine", &token, None, json!([{"name": "refs/heads/main", "old": line[1], "new": null}]));
    assert_eq!(status, 200, "{body}");
    assert_eq!(hub.refs("ada/engine", None)["head"], "refs/heads/topic");
}

fn negotiate_answers_the_haves_held(backend: Backend) {
    let (hub, token) = setup(backend);
    let local = Local::new();
    let line = local.line(None, 4, "n");
    let (status, _) = hub.push("ada/engine", &token, Some(&local.pack(&[line[1]], &[])), json!([{"name": "refs/heads/main", "old": null, "new": line[1]}]));
    assert_eq!(status, 200);
    let url = hub.repo_url("ada/engine", "negotiate");
    let (status, body) = call(&hub.agent, "POST", &url, None, Some(json!({"haves": [line[3], line[0], line[2], line[1]]})));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"common": [line[0], line[1]]}), "the held haves, in request order");
    let too_many: Vec<CommitId> = vec![line[0]; 4097];
    let (status, body) = call(&hub.agent, "POST", &url, None, Some(json!({"haves": too_many})));
    assert_eq!((status, body["error"]["code"].as_str()), (413, Some("too_many_haves")));
    let (status, body) = call(&hub.agent, "POST", &url, None, Some(json!({"wrong": []})));
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("bad_request")));
}

fn fetch_full_then_incremental(backend: Backend) {
    let (hub, token) = setup(backend);
    let local = Local::new();
    let line = local.line(None, 6, "f");
    let (status, _) = hub.push("ada/engine", &token, Some(&local.pack(&[line[3]], &[])), json!([{"name": "refs/heads/main", "old": null, "new": line[3]}]));
    assert_eq!(status, 200);
    // A clone: everything.
    let clone = Local::new();
    let (status, pack, headers) = hub.fetch("ada/engine", None, &[line[3]], &[]);
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/vnd.muse.mpack");
    assert_eq!(headers["accept-ranges"], "bytes");
    assert!(headers.get("etag").is_some());
    assert_eq!(headers["muse-protocol"], "1");
    let report = clone.apply(&pack);
    assert_eq!(report.commits_written, 4);
    // The rest arrives by push; a fetch with haves sends only the two new commits.
    let (status, _) =
        hub.push("ada/engine", &token, Some(&local.pack(&[line[5]], &[line[3]])), json!([{"name": "refs/heads/main", "old": line[3], "new": line[5]}]));
    assert_eq!(status, 200);
    let (status, pack, _) = hub.fetch("ada/engine", None, &[line[5]], &[line[3]]);
    assert_eq!(status, 200);
    let report = clone.apply(&pack);
    assert_eq!(report.commits_written, 2);
    assert!(clone.store.read_commit(&line[5]).is_ok());
    // A have the server does not hold is ignored; a want that is no ref's commit is refused.
    let stranger = Local::new().line(None, 1, "x")[0];
    let (status, _, _) = hub.fetch("ada/engine", None, &[line[5]], &[stranger]);
    assert_eq!(status, 200);
    let (status, body, _) = hub.fetch("ada/engine", None, &[line[4]], &[]);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("bad_want")), "{body}");
    let (status, body, _) = hub.fetch("ada/engine", None, &[], &[]);
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
}

fn fetch_resumes_with_range_sending_only_the_rest(backend: Backend) {
    let (mut hub, token) = setup(backend);
    let local = Local::new();
    let tip = local.commit(&[], &[("big.bin", &pseudo_random(3 << 20)), ("small.txt", b"hello\n")], "big");
    let (status, _) = hub.push("ada/engine", &token, Some(&local.pack(&[tip], &[])), json!([{"name": "refs/heads/main", "old": null, "new": tip}]));
    assert_eq!(status, 200);
    let (_, full, headers) = hub.fetch("ada/engine", None, &[tip], &[]);
    let etag = headers["etag"].to_str().unwrap().to_string();
    let cut = full.len() * 9 / 10;
    let (status, headers, rest) = resume(&hub, tip, cut, &etag);
    assert_eq!(status, 206);
    assert_eq!(headers["content-range"], format!("bytes {cut}-{}/{}", full.len() - 1, full.len()).as_str());
    assert_eq!(rest.len(), full.len() - cut, "only the bytes after the cut are sent again");
    let mut joined = full[..cut].to_vec();
    joined.extend_from_slice(&rest);
    assert_eq!(joined, full);
    Local::new().apply(&joined);
    eprintln!("resumed fetch: {} of {} bytes re-sent ({:.1} %)", rest.len(), full.len(), 100.0 * rest.len() as f64 / full.len() as f64);
    // Asked again of a restarted server, which does not remember the pack's length: it builds
    // the pack once more to learn it, and answers the same bytes.
    hub.restart();
    let (status, _, rest_again) = resume(&hub, tip, cut, &etag);
    assert_eq!((status, rest_again), (206, rest));
    // Refs moved: the ETag no longer matches, so the whole (new) pack comes back with 200.
    let next = local.commit(&[tip], &[("small.txt", b"bye\n")], "next");
    let (status, _) = hub.push("ada/engine", &token, Some(&local.pack(&[next], &[tip])), json!([{"name": "refs/heads/next", "old": null, "new": next}]));
    assert_eq!(status, 200);
    let (status, headers, whole) = resume(&hub, tip, cut, &etag);
    assert_eq!(status, 200);
    assert_ne!(headers["etag"].to_str().unwrap(), etag);
    assert_eq!(whole.len(), full.len(), "the old want, rebuilt whole");
}

/// The full-clone packs the hub keeps for a repository.
fn clone_packs(hub: &TestHub, repo: &muse_hub::Repo) -> Vec<std::path::PathBuf> {
    let dir = hub.data.path().join("repos").join(".clone-packs").join(repo.id.0.to_string());
    let mut packs: Vec<_> = std::fs::read_dir(dir).map(|d| d.map(|e| e.unwrap().path()).collect()).unwrap_or_default();
    packs.sort();
    packs
}

fn concurrent_clones_share_one_published_pack(backend: Backend) {
    let hub = TestHub::start(backend);
    hub.user("ada");
    let repo = hub.repo("ada", "engine", false);
    let token = hub.token("ada", Role::Write, None);
    let local = Local::new();
    let line = local.line(None, 20, "c");
    let (status, _) = hub.push("ada/engine", &token, Some(&local.pack(&[line[19]], &[])), json!([{"name": "refs/heads/main", "old": null, "new": line[19]}]));
    assert_eq!(status, 200);
    // Twelve clones at once: every one gets the same bytes, built once.
    let clients = 12;
    let barrier = Arc::new(Barrier::new(clients));
    let bodies: Vec<(u16, Vec<u8>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|_| {
                let barrier = Arc::clone(&barrier);
                let (hub, tip) = (&hub, line[19]);
                scope.spawn(move || {
                    barrier.wait();
                    let (status, body, _) = hub.fetch("ada/engine", None, &[tip], &[]);
                    (status, body)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (status, body) in &bodies {
        assert_eq!(*status, 200);
        assert_eq!(body, &bodies[0].1, "every clone of one state gets the same pack");
    }
    let report = Local::new().apply(&bodies[0].1);
    assert_eq!(report.commits_written, 20);
    let packs = clone_packs(&hub, &repo);
    assert_eq!(packs.len(), 1, "{packs:?}");
    assert_eq!(std::fs::read(&packs[0]).unwrap(), bodies[0].1, "the published pack is what was served");
    // A new state gets its own pack; the repository keeps the newest two; an incremental
    // fetch is built for its request, not kept.
    let more = local.line(Some(line[19]), 2, "d");
    for (i, tip) in more.iter().enumerate() {
        let old = if i == 0 { line[19] } else { more[0] };
        let (status, _) = hub.push("ada/engine", &token, Some(&local.pack(&[*tip], &[old])), json!([{"name": "refs/heads/main", "old": old, "new": tip}]));
        assert_eq!(status, 200);
        let (status, pack, _) = hub.fetch("ada/engine", None, &[*tip], &[]);
        assert_eq!(status, 200);
        assert_eq!(Local::new().apply(&pack).commits_written, 21 + i as u64);
    }
    let (status, _, _) = hub.fetch("ada/engine", None, &[more[1]], &[line[19]]);
    assert_eq!(status, 200);
    assert_eq!(clone_packs(&hub, &repo).len(), 2);
    // Deleting the repository removes them.
    let (status, _) = call(&hub.agent, "DELETE", &hub.url("/api/v1/repos/ada/engine"), Some(&hub.token("ada", Role::Admin, None)), None);
    assert_eq!(status, 204);
    assert!(clone_packs(&hub, &repo).is_empty());
}

/// A fetch over the cap on concurrent pack builds is answered `503 unavailable` with
/// `Retry-After`, and is served once a slot is free (the cap does not depend on the backend).
#[test]
fn a_fetch_over_the_build_cap_is_503_with_retry_after() {
    let builds = muse_hub_server::content::BuildLimits { builds: 1, queue: 0, wait: Duration::ZERO };
    let hub = TestHub::with_limits(Backend::Sqlite, muse_hub_server::Limits { pack_builds: builds, ..test_limits() });
    hub.user("ada");
    hub.repo("ada", "engine", false);
    let token = hub.token("ada", Role::Write, None);
    let local = Local::new();
    let base = local.commit(&[], &[("a.txt", b"a\n")], "base");
    let big = local.commit(&[base], &[("big.bin", &pseudo_random(24 << 20))], "big");
    let (status, _) = hub.push("ada/engine", &token, Some(&local.pack(&[big], &[])), json!([{"name": "refs/heads/main", "old": null, "new": big}]));
    assert_eq!(status, 200);
    let request = || {
        ureq::http::Request::post(hub.repo_url("ada/engine", "fetch"))
            .header("Content-Type", "application/json")
            .body(serde_json::to_vec(&json!({"wants": [big], "haves": [base]})).unwrap())
            .unwrap()
    };
    // A client that stops reading holds the one build slot (its builder waits for it).
    let stalled = hub.agent.run(request()).unwrap();
    assert_eq!(stalled.status().as_u16(), 200);
    let response = hub.agent.run(request()).unwrap();
    assert_eq!(response.status().as_u16(), 503);
    assert_eq!(response.headers()["retry-after"], "2");
    let body: Value = serde_json::from_slice(&response.into_body().read_to_vec().unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "unavailable", "{body}");
    // Once it goes away, the slot is free again.
    drop(stalled);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let response = hub.agent.run(request()).unwrap();
        if response.status().as_u16() == 200 {
            let pack = response.into_body().into_with_config().limit(u64::MAX).read_to_vec().unwrap();
            let client = Local::new();
            client.apply(&local.pack(&[base], &[]));
            assert_eq!(client.apply(&pack).commits_written, 1);
            break;
        }
        assert!(Instant::now() < deadline, "the slot was never freed");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The fetch of `tip` again from byte `cut`, under `If-Range: etag`.
fn resume(hub: &TestHub, tip: CommitId, cut: usize, etag: &str) -> (u16, ureq::http::HeaderMap, Vec<u8>) {
    let request = ureq::http::Request::post(hub.repo_url("ada/engine", "fetch"))
        .header("Range", format!("bytes={cut}-"))
        .header("If-Range", etag)
        .body(serde_json::to_vec(&json!({"wants": [tip], "haves": []})).unwrap())
        .unwrap();
    let response = hub.agent.run(request).unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.into_body().into_with_config().limit(u64::MAX).read_to_vec().unwrap())
}

fn pseudo_random(n: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

fn push_create_update_delete_force_and_branch_at_existing_commit(backend: Backend) {
    let (hub, token) = setup(backend);
    let local = Local::new();
    let line = local.line(None, 3, "p");
    let (status, body) = hub.push("ada/engine", &token, Some(&local.pack(&[line[0]], &[])), json!([{"name": "refs/heads/main", "old": null, "new": line[0]}]));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["written"], json!({"commits": 1, "trees": 1, "blobs": 1}));
    assert_eq!(body["updated"], json!([{"name": "refs/heads/main", "old": null, "new": line[0]}]));
    // Update (fast-forward).
    let (status, body) =
        hub.push("ada/engine", &token, Some(&local.pack(&[line[2]], &[line[0]])), json!([{"name": "refs/heads/main", "old": line[0], "new": line[2]}]));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["written"]["commits"], 2);
    // A branch and a tag at commits the server has: no pack at all.
    let (status, body) = hub.push(
        "ada/engine",
        &token,
        None,
        json!([{"name": "refs/heads/old", "old": null, "new": line[1]}, {"name": "refs/tags/first", "old": null, "new": line[0]}]),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["written"], json!({"commits": 0, "trees": 0, "blobs": 0}));
    // Force: main back to a diverging commit (the server does not judge ancestry).
    let side = local.commit(&[line[0]], &[("side.txt", b"side\n")], "side");
    let (status, body) =
        hub.push("ada/engine", &token, Some(&local.pack(&[side], &[line[2]])), json!([{"name": "refs/heads/main", "old": line[2], "new": side}]));
    assert_eq!(status, 200, "{body}");
    // Delete; `old == new` only checks.
    let (status, body) = hub.push(
        "ada/engine",
        &token,
        None,
        json!([{"name": "refs/heads/old", "old": line[1], "new": null}, {"name": "refs/heads/main", "old": side, "new": side}]),
    );
    assert_eq!(status, 200, "{body}");
    let advert = hub.refs("ada/engine", None);
    assert_eq!(advert["refs"], json!([{"name": "refs/heads/main", "commit_id": side}, {"name": "refs/tags/first", "commit_id": line[0]}]));
    // A branch at a commit the server lacks, without a pack: missing_object, nothing moved.
    let unknown = Local::new().line(None, 1, "u")[0];
    let (status, body) = hub.push("ada/engine", &token, None, json!([{"name": "refs/heads/x", "old": null, "new": unknown}]));
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("missing_object")), "{body}");
    // Names the ref rules refuse; the same ref twice.
    for bad in ["refs/heads/a..b", "refs/heads/.hidden", "refs/remotes/x", "refs/heads/x.lock", "HEAD", "refs/heads/a b"] {
        let (status, body) = hub.push("ada/engine", &token, None, json!([{"name": bad, "old": null, "new": side}]));
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_ref")), "{bad}: {body}");
    }
    let twice = json!([{"name": "refs/heads/y", "old": null, "new": side}, {"name": "refs/heads/y", "old": null, "new": side}]);
    let (status, body) = hub.push("ada/engine", &token, None, twice);
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("bad_request")), "{body}");
    assert_eq!(hub.refs("ada/engine", None), advert);
    // A pack naming no upload of this user.
    let (status, body) =
        json_call(&hub.agent, "POST", &hub.repo_url("ada/engine", "push"), Some(&token), Some(json!({"pack": "ab".repeat(32), "updates": []})));
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")), "{body}");
}

fn stale_old_moves_nothing(backend: Backend) {
    let (hub, token) = setup(backend);
    let local = Local::new();
    let line = local.line(None, 3, "s");
    let (status, _) = hub.push(
        "ada/engine",
        &token,
        Some(&local.pack(&[line[1]], &[])),
        json!([{"name": "refs/heads/main", "old": null, "new": line[1]}, {"name": "refs/heads/dev", "old": null, "new": line[0]}]),
    );
    assert_eq!(status, 200);
    let before = hub.refs("ada/engine", None);
    let repo = hub.rt.block_on(hub.hub.authorize(&muse_hub::Actor::Anonymous, "ada", "engine", muse_hub::Action::Read)).unwrap();
    let packs = hub.server_packs(&repo);
    // dev's update is fine, main's old is stale: neither moves, and the pack is not even written.
    let (status, body) = hub.push(
        "ada/engine",
        &token,
        Some(&local.pack(&[line[2]], &[line[1]])),
        json!([{"name": "refs/heads/dev", "old": line[0], "new": line[1]}, {"name": "refs/heads/main", "old": line[0], "new": line[2]}]),
    );
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("stale_ref")), "{body}");
    let details = &body["error"]["details"];
    assert_eq!((details["ref"].as_str(), id(&details["expected"]), id(&details["actual"])), (Some("refs/heads/main"), line[0], line[1]), "{body}");
    assert_eq!(hub.refs("ada/engine", None), before);
    assert_eq!(hub.server_packs(&repo), packs);
    // Creating what exists is stale too.
    let (status, body) = hub.push("ada/engine", &token, None, json!([{"name": "refs/heads/dev", "old": null, "new": line[1]}]));
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("stale_ref")), "{body}");
    assert_eq!(body["error"]["details"]["expected"], Value::Null);
    assert_eq!(hub.refs("ada/engine", None), before);
}

/// Eight clients push to main at once, each on top of the tip it read, retrying on
/// `stale_ref`: every push that succeeded moved main from the previous winner's commit (one
/// winner per old value), and the final history holds every client's commits (none lost).
fn concurrent_pushes_one_winner_per_old_value_none_lost(backend: Backend) {
    let (hub, token) = setup(backend);
    let local = Arc::new(Local::new());
    let root = local.commit(&[], &[("root.txt", b"root\n")], "root");
    let (status, _) = hub.push("ada/engine", &token, Some(&local.pack(&[root], &[])), json!([{"name": "refs/heads/main", "old": null, "new": root}]));
    assert_eq!(status, 200);
    const CLIENTS: usize = 8;
    const COMMITS_EACH: usize = 3;
    let wins: Arc<Mutex<Vec<(CommitId, CommitId)>>> = Arc::default();
    let stale = Arc::new(Mutex::new(0usize));
    let barrier = Arc::new(Barrier::new(CLIENTS));
    let hub = Arc::new(hub);
    let threads: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (hub, local, token, wins, stale, barrier) =
                (Arc::clone(&hub), Arc::clone(&local), token.clone(), Arc::clone(&wins), Arc::clone(&stale), Arc::clone(&barrier));
            std::thread::spawn(move || {
                let agent = agent();
                barrier.wait();
                for round in 0..COMMITS_EACH {
                    loop {
                        let (_, advert) = call(&agent, "GET", &hub.repo_url("ada/engine", "refs"), None, None);
                        let tip = id(&advert["refs"][0]["commit_id"]);
                        let name = format!("client-{client}-{round}.txt");
                        let new = local.commit(&[tip], &[(name.as_str(), name.as_bytes())], &name);
                        let pack = local.pack(&[new], &[tip]);
                        let url = hub.repo_url("ada/engine", &format!("uploads/{}", checksum(&pack)));
                        assert_eq!(put_upload(&agent, &url, &token, 0, pack.len() as u64, &pack).0, 200);
                        let body = json!({"pack": checksum(&pack), "updates": [{"name": "refs/heads/main", "old": tip, "new": new}]});
                        let (status, answer) = call(&agent, "POST", &hub.repo_url("ada/engine", "push"), Some(&token), Some(body));
                        match status {
                            200 => {
                                wins.lock().unwrap().push((tip, new));
                                break;
                            }
                            409 => {
                                assert_eq!(answer["error"]["code"], "stale_ref");
                                *stale.lock().unwrap() += 1;
                            }
                            other => panic!("push answered {other}: {answer}"),
                        }
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let wins = wins.lock().unwrap().clone();
    assert_eq!(wins.len(), CLIENTS * COMMITS_EACH);
    let mut olds: Vec<CommitId> = wins.iter().map(|(old, _)| *old).collect();
    olds.sort();
    olds.dedup();
    assert_eq!(olds.len(), wins.len(), "two pushes won from the same old value");
    // The winners form one chain from root to the tip: nothing was lost.
    let tip = id(&hub.refs("ada/engine", None)["refs"][0]["commit_id"]);
    let mut at = tip;
    let mut chain = 0;
    while at != root {
        let (old, _) = wins.iter().find(|(_, new)| *new == at).expect("the tip's history holds only winners");
        at = *old;
        chain += 1;
    }
    assert_eq!(chain, wins.len());
    let clone = Local::new();
    let (_, pack, _) = hub.fetch("ada/engine", None, &[tip], &[]);
    assert_eq!(clone.apply(&pack).commits_written as usize, 1 + CLIENTS * COMMITS_EACH);
    eprintln!("{} pushes won, {} lost a race and retried", wins.len(), stale.lock().unwrap());
}

fn poisoned_and_missing_parent_packs_write_nothing(backend: Backend) {
    let (hub, token) = setup(backend);
    let local = Local::new();
    let line = local.line(None, 2, "q");
    let (status, _) = hub.push("ada/engine", &token, Some(&local.pack(&[line[0]], &[])), json!([{"name": "refs/heads/main", "old": null, "new": line[0]}]));
    assert_eq!(status, 200);
    let repo = hub.rt.block_on(hub.hub.authorize(&muse_hub::Actor::Anonymous, "ada", "engine", muse_hub::Action::Read)).unwrap();
    let packs_before = hub.server_packs(&repo);
    let refs_before = hub.refs("ada/engine", None);
    // A blob whose bytes do not match its id, under a tree and a commit.
    let (pack, poisoned) = poisoned_pack(Some(line[0]));
    let (status, body) = hub.push("ada/engine", &token, Some(&pack), json!([{"name": "refs/heads/main", "old": line[0], "new": poisoned}]));
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("pack_rejected")), "{body}");
    let rejected = body["error"]["details"]["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 3, "blob, tree and commit: {body}");
    assert!(rejected[0]["reason"].as_str().unwrap().contains("hash to"), "{body}");
    // A commit whose parent is on neither side, with a clean blob and tree beside it.
    let (pack, orphan) = orphan_pack();
    let (status, body) = hub.push("ada/engine", &token, Some(&pack), json!([{"name": "refs/heads/main", "old": line[0], "new": orphan}]));
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("pack_rejected")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("parent"), "{body}");
    assert_eq!(hub.server_packs(&repo), packs_before, "a rejected push left objects on the server");
    assert_eq!(hub.refs("ada/engine", None), refs_before);
    // A pack that is not an mpack at all: the upload's checksum is right, the content is not.
    let mut junk = b"not a pack, just bytes".to_vec();
    let sum = muse_core::ObjectId::sha256(&junk);
    junk.extend_from_slice(sum.as_bytes());
    let (status, body) = hub.push("ada/engine", &token, Some(&junk), json!([]));
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("pack_rejected")), "{body}");
    assert_eq!(hub.server_packs(&repo), packs_before);
    // The clean next commit still goes through.
    let (status, body) =
        hub.push("ada/engine", &token, Some(&local.pack(&[line[1]], &[line[0]])), json!([{"name": "refs/heads/main", "old": line[0], "new": line[1]}]));
    assert_eq!(status, 200, "{body}");
}

fn head(hub: &TestHub, url: &str, token: &str) -> (u16, Option<u64>, Option<u64>) {
    let request = ureq::http::Request::head(url).header("Authorization", bearer(token)).body(()).unwrap();
    let response = hub.agent.run(request).unwrap();
    let number = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    (response.status().as_u16(), number("upload-offset"), number("upload-length"))
}

fn upload_cut_off_and_resumed(backend: Backend) {
    let (hub, token) = setup(backend);
    let local = Local::new();
    let tip = local.commit(&[], &[("big.bin", &pseudo_random(2 << 20))], "big");
    let pack = local.pack(&[tip], &[]);
    let url = hub.repo_url("ada/engine", &format!("uploads/{}", checksum(&pack)));
    assert_eq!(head(&hub, &url, &token).0, 404, "no upload yet");
    // A client sends 90 % of the body and drops the connection.
    let cut = pack.len() * 9 / 10;
    let addr = hub.base.trim_start_matches("http://").to_string();
    let mut socket = std::net::TcpStream::connect(&addr).unwrap();
    let path = url.trim_start_matches(&hub.base);
    write!(
        socket,
        "PUT {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nUpload-Offset: 0\r\nUpload-Length: {}\r\nContent-Length: {}\r\n\r\n",
        pack.len(),
        pack.len()
    )
    .unwrap();
    socket.write_all(&pack[..cut]).unwrap();
    socket.flush().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    drop(socket);
    // The server keeps what arrived.
    let deadline = Instant::now() + Duration::from_secs(10);
    let held = loop {
        let (status, offset, length) = head(&hub, &url, &token);
        if status == 200 && offset == Some(cut as u64) {
            assert_eq!(length, Some(pack.len() as u64));
            break cut;
        }
        assert!(Instant::now() < deadline, "HEAD says {status} {offset:?}, expected offset {cut}");
        std::thread::sleep(Duration::from_millis(50));
    };
    // Another user cannot see it.
    hub.user("bob");
    let bob_repo = hub.repo("ada", "shared", false);
    hub.collaborator(&bob_repo, "bob", Role::Write);
    let bob = hub.token("bob", Role::Write, None);
    assert_eq!(head(&hub, &hub.repo_url("ada/shared", &format!("uploads/{}", checksum(&pack))), &bob).0, 404);
    // Resume from the offset: only the rest is sent.
    let (status, body) = put_upload(&hub.agent, &url, &token, held as u64, pack.len() as u64, &pack[held..]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"offset": pack.len(), "length": pack.len(), "complete": true}));
    eprintln!("resumed upload: {} of {} bytes re-sent", pack.len() - held, pack.len());
    let push = json!({"pack": checksum(&pack), "updates": [{"name": "refs/heads/main", "old": null, "new": tip}]});
    let (status, body) = call(&hub.agent, "POST", &hub.repo_url("ada/engine", "push"), Some(&token), Some(push));
    assert_eq!(status, 200, "{body}");
    // The upload is forgotten after the push that used it.
    assert_eq!(head(&hub, &url, &token).0, 404);
}

fn upload_errors_offset_checksum_and_caps(backend: Backend) {
    let mut limits = test_limits();
    limits.max_upload = 1 << 20;
    let hub = TestHub::with_limits(backend, limits);
    hub.user("ada");
    hub.repo("ada", "engine", false);
    let token = hub.token("ada", Role::Write, None);
    let local = Local::new();
    let tip = local.commit(&[], &[("a.bin", &pseudo_random(100_000))], "a");
    let pack = local.pack(&[tip], &[]);
    let url = hub.repo_url("ada/engine", &format!("uploads/{}", checksum(&pack)));
    let len = pack.len() as u64;
    let (status, body) = put_upload(&hub.agent, &url, &token, 0, len, &pack[..1000]);
    assert_eq!((status, body["offset"].as_u64(), body["complete"].as_bool()), (200, Some(1000), Some(false)), "{body}");
    // Wrong offset: 409 with the right one, nothing kept.
    for wrong in [0, 500, 2000] {
        let (status, body) = put_upload(&hub.agent, &url, &token, wrong, len, &pack[wrong as usize..wrong as usize + 100]);
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("upload_offset")), "{body}");
        assert_eq!(body["error"]["details"]["offset"], 1000);
    }
    assert_eq!(head(&hub, &url, &token).1, Some(1000));
    // More than Upload-Length: refused, nothing of it kept.
    let mut long = pack[1000..].to_vec();
    long.extend_from_slice(b"extra");
    let (status, body) = put_upload(&hub.agent, &url, &token, 1000, len, &long);
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("past Upload-Length"), "{body}");
    assert_eq!(head(&hub, &url, &token).1, Some(1000));
    // Bytes that do not match the checksum: 422, and the upload is gone.
    let mut bad = pack.clone();
    bad[5000] ^= 1;
    let (status, body) = put_upload(&hub.agent, &url, &token, 1000, len, &bad[1000..]);
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("bad_checksum")), "{body}");
    assert_eq!(head(&hub, &url, &token).0, 404);
    // A checksum in the URL that the (intact) bytes do not have.
    let other = hub.repo_url("ada/engine", &format!("uploads/{}", "0".repeat(64)));
    let (status, body) = put_upload(&hub.agent, &other, &token, 0, len, &pack);
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("bad_checksum")), "{body}");
    // Over the server's cap: 413 before a byte is read.
    let (status, body) = put_upload(&hub.agent, &url, &token, 0, (1 << 20) + 1, &pack);
    assert_eq!((status, body["error"]["code"].as_str()), (413, Some("too_large")), "{body}");
    // A JSON body over 1 MiB: 413.
    let huge = json!({"pack": null, "updates": [], "padding": "x".repeat(1 << 20)});
    let (status, body) = call(&hub.agent, "POST", &hub.repo_url("ada/engine", "push"), Some(&token), Some(huge));
    assert_eq!((status, body["error"]["code"].as_str()), (413, Some("too_large")), "{body}");
    // Not a checksum.
    let (status, _) = put_upload(&hub.agent, &hub.repo_url("ada/engine", "uploads/XYZ"), &token, 0, len, &pack);
    assert_eq!(status, 400);
    // The whole pack in one go still works.
    let (status, body) = put_upload(&hub.agent, &url, &token, 0, len, &pack);
    assert_eq!((status, body["complete"].as_bool()), (200, Some(true)), "{body}");
}

fn errors_have_the_documented_shape(backend: Backend) {
    let (hub, _) = setup(backend);
    let (status, body) = call(&hub.agent, "GET", &hub.repo_url("ada/nothing", "refs"), None, None);
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");
    assert!(body["error"]["message"].is_string());
    // Text for a client that asks for it.
    let request = ureq::http::Request::get(hub.repo_url("ada/nothing", "refs")).header("Accept", "text/plain").body(()).unwrap();
    let response = hub.agent.run(request).unwrap();
    assert_eq!(response.status().as_u16(), 404);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = response.into_body().read_to_string().unwrap();
    assert!(text.starts_with("not_found: ") && text.ends_with('\n'), "{text:?}");
    // An unknown protocol version; an unknown endpoint.
    let request = ureq::http::Request::get(hub.repo_url("ada/engine", "refs")).header("Muse-Protocol", "2").body(()).unwrap();
    let mut response = hub.agent.run(request).unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = serde_json::from_slice(&response.body_mut().read_to_vec().unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "unsupported_protocol");
    let (status, body) = call(&hub.agent, "GET", &hub.repo_url("ada/engine", "nope"), None, None);
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")));
    let (status, _) = call(&hub.agent, "DELETE", &hub.repo_url("ada/engine", "refs"), None, None);
    assert_eq!(status, 404);
    // Malformed JSON.
    let request = ureq::http::Request::post(hub.repo_url("ada/engine", "negotiate")).body(b"{not json".to_vec()).unwrap();
    let mut response = hub.agent.run(request).unwrap();
    assert_eq!(response.status().as_u16(), 400);
    assert!(response.body_mut().read_to_string().unwrap().contains("bad_request"));
}
