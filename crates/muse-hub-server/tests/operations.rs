//! Operations: rate limits (429 with Retry-After, keyed by the socket peer, never a forwarded
//! header), a graceful shutdown that finishes a push in flight, a client that stops reading,
//! and one push of 100,000 objects. On SQLite and on PostgreSQL.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::*;
use muse_core::{CommitId, EntryKind, Tree, TreeEntry};
use muse_hub::{Backend, Role};
use muse_hub_server::rate::Rate;
use muse_store::ObjectKind;
use serde_json::json;

on_both_backends!(
    rate_limits_answer_429_and_ignore_forwarded_headers,
    shutdown_finishes_a_push_in_flight,
    a_client_that_stops_reading_is_dropped,
    a_client_that_stops_sending_is_dropped,
    push_of_100k_objects_in_one_go
);

fn rate_limits_answer_429_and_ignore_forwarded_headers(backend: Backend) {
    let mut limits = test_limits();
    limits.rate_per_ip = Rate { per_minute: 60, burst: 5 };
    let hub = TestHub::with_limits(backend, limits);
    hub.user("ada");
    hub.repo("ada", "engine", false);
    let url = hub.repo_url("ada/engine", "refs");
    let get = |forwarded: &str| {
        let request = ureq::http::Request::get(&url).header("X-Forwarded-For", forwarded).body(()).unwrap();
        let response = hub.agent.run(request).unwrap();
        (response.status().as_u16(), response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string()))
    };
    for n in 0..5 {
        assert_eq!(get(&format!("10.0.0.{n}")).0, 200);
    }
    // A new forwarded address does not buy a new bucket: the socket peer is what counts.
    let (status, retry) = get("10.9.9.9");
    assert_eq!(status, 429);
    assert_eq!(retry.as_deref(), Some("1"));
}

/// A push whose pack takes a while to apply is in flight when the server is told to stop: it
/// completes (200, ref moved) and only then does the server stop.
fn shutdown_finishes_a_push_in_flight(backend: Backend) {
    let mut hub = TestHub::start(backend);
    hub.user("ada");
    hub.repo("ada", "engine", false);
    let token = hub.token("ada", Role::Write, None);
    let local = Local::new();
    let tip = local.commit(&[], &[("big.bin", &vec![7u8; 64 << 20])], "big");
    let pack = local.pack(&[tip], &[]);
    let (status, _) = hub.upload("ada/engine", &token, &pack);
    assert_eq!(status, 200);
    let url = hub.repo_url("ada/engine", "push");
    let body = json!({"pack": checksum(&pack), "updates": [{"name": "refs/heads/main", "old": null, "new": tip}]});
    let pusher = std::thread::spawn(move || call(&agent(), "POST", &url, Some(&token), Some(body)));
    std::thread::sleep(Duration::from_millis(150));
    let started = Instant::now();
    hub.stop();
    let (status, answer) = pusher.join().unwrap();
    assert_eq!(status, 200, "the push in flight was cut: {answer}");
    eprintln!("shutdown waited {:?} for the push", started.elapsed());
    // The ref moved, durably: a new server on the same data sees it.
    let refs = hub
        .rt
        .block_on(hub.hub.refs(hub.rt.block_on(hub.hub.authorize(&muse_hub::Actor::Anonymous, "ada", "engine", muse_hub::Action::Read)).unwrap().id))
        .unwrap();
    assert_eq!(refs, vec![("refs/heads/main".to_string(), tip)]);
}

/// A fetch whose client stops reading does not hold the server: other requests go on, and the
/// builder gives up after the stall timeout.
fn a_client_that_stops_reading_is_dropped(backend: Backend) {
    let mut limits = test_limits();
    limits.client_stall = Duration::from_secs(1);
    let hub = TestHub::with_limits(backend, limits);
    hub.user("ada");
    hub.repo("ada", "engine", false);
    let token = hub.token("ada", Role::Write, None);
    let local = Local::new();
    let files: Vec<(String, Vec<u8>)> = (0..8).map(|i| (format!("f{i}.bin"), noise(4 << 20, i))).collect();
    let listed: Vec<(&str, &[u8])> = files.iter().map(|(n, d)| (n.as_str(), d.as_slice())).collect();
    let tip = local.commit(&[], &listed, "big");
    let (status, _) = hub.push("ada/engine", &token, Some(&local.pack(&[tip], &[])), json!([{"name": "refs/heads/main", "old": null, "new": tip}]));
    assert_eq!(status, 200);
    // How long building the pack takes here: the stalled client below waits longer than that.
    let started = Instant::now();
    let (status, full, _) = hub.fetch("ada/engine", None, &[tip], &[]);
    assert_eq!(status, 200);
    let build = started.elapsed();
    let addr = hub.base.trim_start_matches("http://").to_string();
    let mut socket = std::net::TcpStream::connect(&addr).unwrap();
    // A small receive buffer, so that the kernel does not take the whole pack in for the client.
    rustix::net::sockopt::set_socket_recv_buffer_size(&socket, 64 << 10).unwrap();
    let body = serde_json::to_vec(&json!({"wants": [tip], "haves": []})).unwrap();
    write!(socket, "POST /ada/engine/muse/fetch HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n\r\n", body.len()).unwrap();
    socket.write_all(&body).unwrap();
    let mut first = [0u8; 64];
    socket.read_exact(&mut first).unwrap();
    // The client reads nothing more; the server goes on serving others.
    for _ in 0..3 {
        let (status, _) = call(&hub.agent, "GET", &hub.repo_url("ada/engine", "refs"), None, None);
        assert_eq!(status, 200);
    }
    std::thread::sleep(build + Duration::from_secs(3));
    // By now the server gave up on it: what is left of the response ends early.
    socket.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut rest = Vec::new();
    let _ = socket.read_to_end(&mut rest);
    eprintln!("stalled client: {} of {} bytes sent before the server gave up", 64 + rest.len(), full.len());
    assert!(rest.len() < full.len() - 64, "the whole pack was sent to a client that stopped reading");
}

/// A client that stops sending its headers is disconnected; one that stops sending an upload's
/// body gets an answer after the idle timeout, and the bytes that arrived are kept for a resume
/// (nothing else was written).
fn a_client_that_stops_sending_is_dropped(backend: Backend) {
    let mut limits = test_limits();
    limits.header_timeout = Duration::from_secs(1);
    limits.body_idle = Duration::from_secs(1);
    let hub = TestHub::with_limits(backend, limits);
    hub.user("ada");
    hub.repo("ada", "engine", false);
    let token = hub.token("ada", Role::Write, None);
    let addr = hub.base.trim_start_matches("http://").to_string();
    let mut socket = std::net::TcpStream::connect(&addr).unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(socket, "GET /ada/engine/muse/refs HTTP/1.1\r\nHost: {addr}\r\n").unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let _ = socket.read_to_end(&mut answer);
    assert!(started.elapsed() < Duration::from_secs(8), "the half-sent request was kept open");
    assert!(!String::from_utf8_lossy(&answer).contains("200 OK"));
    // An upload body that stops half-way.
    let local = Local::new();
    let tip = local.commit(&[], &[("a.bin", &noise(200_000, 1))], "a");
    let pack = local.pack(&[tip], &[]);
    let path = format!("/ada/engine/muse/uploads/{}", checksum(&pack));
    let mut socket = std::net::TcpStream::connect(&addr).unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        socket,
        "PUT {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nUpload-Offset: 0\r\nUpload-Length: {}\r\nContent-Length: {}\r\n\r\n",
        pack.len(),
        pack.len()
    )
    .unwrap();
    socket.write_all(&pack[..1000]).unwrap();
    let mut answer = Vec::new();
    let _ = socket.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 400") && answer.contains("\"offset\":1000"), "{answer}");
    let request = ureq::http::Request::head(hub.url(&path)).header("Authorization", bearer(&token)).body(()).unwrap();
    let response = hub.agent.run(request).unwrap();
    assert_eq!(response.headers()["upload-offset"], "1000");
}

fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ seed.wrapping_mul(0x2545_f491_4f6c_dd1d);
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// One commit whose snapshot holds 99,898 small files in 100 directories (with the 101 trees and
/// the commit, 100,000 objects): one
/// pack, one upload, one push; then a clone of it.
fn push_of_100k_objects_in_one_go(backend: Backend) {
    let hub = TestHub::start(backend);
    hub.user("ada");
    hub.repo("ada", "engine", false);
    let token = hub.token("ada", Role::Write, None);
    let local = Local::new();
    let mut writer = local.store.begin_write().unwrap();
    let mut dirs = Vec::new();
    for d in 0..100 {
        let mut entries = Vec::new();
        for f in 0..1000 {
            if d * 1000 + f >= 99_898 {
                break;
            }
            let id = writer.add(ObjectKind::Blob, format!("file {d}/{f}\n").as_bytes()).unwrap();
            entries.push(TreeEntry { name: format!("f{f:04}.txt"), kind: EntryKind::File, id });
        }
        let tree = writer.add_tree(&Tree::from_entries(entries).unwrap()).unwrap();
        dirs.push(TreeEntry { name: format!("d{d:02}"), kind: EntryKind::Tree, id: tree.0 });
    }
    let root = writer.add_tree(&Tree::from_entries(dirs).unwrap()).unwrap();
    let tip: CommitId = writer.add_commit(&commit(root, vec![], "100k")).unwrap();
    writer.finish().unwrap();
    let started = Instant::now();
    let pack = local.pack(&[tip], &[]);
    let (status, body) = hub.push("ada/engine", &token, Some(&pack), json!([{"name": "refs/heads/main", "old": null, "new": tip}]));
    assert_eq!(status, 200, "{body}");
    let written = &body["written"];
    assert_eq!(written["commits"].as_u64().unwrap() + written["trees"].as_u64().unwrap() + written["blobs"].as_u64().unwrap(), 100_000, "{body}");
    eprintln!("push of 100,000 objects ({} bytes): {:?}", pack.len(), started.elapsed());
    let (status, fetched, _) = hub.fetch("ada/engine", None, &[tip], &[]);
    assert_eq!(status, 200);
    let report = Local::new().apply(&fetched);
    assert_eq!(report.commits_written + report.snapshots_written + report.blobs_written, 100_000);
}
