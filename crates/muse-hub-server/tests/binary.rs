//! The `musehub` binary: admin commands on a data directory, `serve` printing its address on
//! stdout and stopping on SIGTERM, exit codes, `--json`. On SQLite (the default database) and on
//! PostgreSQL (`--database`).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use common::*;
use muse_hub::testing::TestDb;
use muse_hub::Backend;
use serde_json::{json, Value};

on_both_backends!(admin_commands_then_serve_then_sigterm);

fn musehub(data: &Path, database: Option<&str>, args: &[&str]) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_musehub"));
    command.args(args).arg("--data").arg(data);
    if let Some(url) = database {
        command.arg("--database").arg(url);
    }
    let out = command.output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn admin_commands_then_serve_then_sigterm(backend: Backend) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(TestDb::new(backend));
    let database = (backend == Backend::Postgres).then(|| db.url().to_string());
    let database = database.as_deref();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Users, with a password from stdin.
    let (code, out, err) = musehub(&data, database, &["user", "add", "ada", "--email", "ada@example.com", "--json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["name"], "ada");
    let mut child = Command::new(env!("CARGO_BIN_EXE_musehub"))
        .args(["user", "add", "bob", "--password-stdin", "--data"])
        .arg(&data)
        .args(database.map(|d| vec!["--database", d]).unwrap_or_default())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"hunter22\n").unwrap();
    assert!(child.wait().unwrap().success());
    // Exit codes: exists 5, invalid 8, not found 4, usage 2.
    assert_eq!(musehub(&data, database, &["user", "add", "ADA"]).0, 5);
    assert_eq!(musehub(&data, database, &["user", "add", "bad/name"]).0, 8);
    let (code, _, err) = musehub(&data, database, &["repo", "create", "nobody/x", "--json"]);
    assert_eq!(code, 4);
    let err: Value = serde_json::from_str(err.trim()).unwrap();
    assert_eq!((err["error"]["code"].as_i64(), err["error"]["kind"].as_str()), (Some(4), Some("not_found")));
    assert_eq!(musehub(&data, database, &["repo", "frobnicate"]).0, 2);
    // Repositories and tokens.
    let (code, out, err) = musehub(&data, database, &["repo", "create", "ada/engine"]);
    assert_eq!((code, out.trim()), (0, "created public repository ada/engine"), "{err}");
    assert_eq!(musehub(&data, database, &["repo", "create", "ada/vault", "--private"]).0, 0);
    let (code, secret, err) = musehub(&data, database, &["token", "create", "--user", "ada", "--scope", "admin", "--label", "laptop"]);
    assert_eq!(code, 0, "{err}");
    let secret = secret.trim().to_string();
    assert!(secret.starts_with("muse_"), "{secret}");
    let (code, out, _) =
        musehub(&data, database, &["token", "create", "--user", "ada", "--scope", "read", "--repo", "ada/vault", "--expires-in-days", "3", "--json"]);
    assert_eq!(code, 0);
    let limited: Value = serde_json::from_str(&out).unwrap();
    assert_eq!((limited["scope"].as_str(), limited["repo"].as_str()), (Some("read"), Some("ada/vault")));
    assert!(limited["token"].as_str().unwrap().starts_with("muse_"));
    assert_eq!(musehub(&data, database, &["token", "create", "--user", "ada", "--scope", "root"]).0, 8);
    let (code, out, _) = musehub(&data, database, &["token", "list", "--user", "ada", "--json"]);
    assert_eq!(code, 0);
    let listed: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert!(!out.contains("muse_"), "a listing shows no secret: {out}");
    let limited_id = limited["id"].as_i64().unwrap().to_string();
    assert_eq!(musehub(&data, database, &["token", "revoke", "--user", "ada", &limited_id]).0, 0);
    assert_eq!(musehub(&data, database, &["token", "revoke", "--user", "bob", &limited_id]).0, 4, "another user's token");
    assert!(data.join("repos").is_dir() && data.join("uploads").is_dir());
    if backend == Backend::Sqlite {
        assert!(data.join("hub.db").is_file());
    }
    // Serve on a free port: the first stdout line says where.
    let mut server = Command::new(env!("CARGO_BIN_EXE_musehub"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .args(database.map(|d| vec!["--database", d]).unwrap_or_default())
        .env("MUSEHUB_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected first line {line:?}")).to_string();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    let agent = agent();
    let (status, body) = call(&agent, "GET", &format!("{base}/ada/engine/muse/refs"), None, None);
    assert_eq!((status, &body["refs"]), (200, &json!([])));
    let (status, body) = call(&agent, "GET", &format!("{base}/api/v1/user"), Some(&secret), None);
    assert_eq!((status, body["name"].as_str()), (200, Some("ada")));
    let (status, _) = call(&agent, "GET", &format!("{base}/ada/vault/muse/refs"), None, None);
    assert_eq!(status, 404);
    // A password creates a token through the API.
    let basic = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "bob:hunter22");
    let request = ureq::http::Request::post(format!("{base}/api/v1/tokens"))
        .header("Authorization", format!("Basic {basic}"))
        .body(serde_json::to_vec(&json!({"label": "cli", "scope": "write"})).unwrap())
        .unwrap();
    let mut response = agent.run(request).unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let made: Value = serde_json::from_slice(&response.body_mut().read_to_vec().unwrap()).unwrap();
    assert!(made["token"].as_str().unwrap().starts_with("muse_"));
    let wrong = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "bob:wrong");
    let request = ureq::http::Request::get(format!("{base}/api/v1/tokens")).header("Authorization", format!("Basic {wrong}")).body(()).unwrap();
    assert_eq!(agent.run(request).unwrap().status().as_u16(), 401);
    // SIGTERM: a clean exit, and the log has one line per request without any secret.
    let pid = server.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let output = server.wait_with_output().unwrap();
    assert!(output.status.success(), "{:?}", output.status);
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("path=/api/v1/user") && log.contains("status=200") && log.contains("user=ada"), "{log}");
    assert!(!log.contains(&secret) && !log.contains("hunter22"), "a secret reached the log: {log}");
}
