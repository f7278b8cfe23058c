//! Test support: a hub server started in-process on 127.0.0.1 (port 0) over a fresh SQLite or
//! PostgreSQL database, a plain HTTP client, and client-side Muse stores whose packs are built
//! with `muse_pack` (or crafted byte by byte to be poisoned).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Duration;

use muse_core::{Commit, CommitId, EntryKind, ObjectId, Tree, TreeEntry, TreeId};
use muse_hub::testing::TestDb;
use muse_hub::{Backend, Hub, NewToken, Repo, Role};
use muse_hub_server::{Config, Limits, RunningServer};
use muse_store::{ObjectKind, ObjectStore};
use serde_json::{json, Value};

/// Runs each listed test once per backend: `mod sqlite { fn NAME }` and `mod postgres { fn NAME }`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { super::$name(muse_hub::Backend::Sqlite) })*
        }
        mod postgres {
            $(#[test] fn $name() { super::$name(muse_hub::Backend::Postgres) })*
        }
    };
}

/// Limits for tests: no rate limits (tests send many requests from one address), short
/// timeouts.
pub fn test_limits() -> Limits {
    let none = muse_hub_server::rate::Rate { per_minute: 0, burst: 0 };
    Limits { rate_per_ip: none, rate_per_token: none, body_idle: Duration::from_secs(20), client_stall: Duration::from_secs(20), ..Limits::default() }
}

/// A running hub with its database, data directory and runtime; stopped when dropped.
pub struct TestHub {
    pub base: String,
    pub data: tempfile::TempDir,
    server: Option<RunningServer>,
    pub hub: Hub,
    db: Option<TestDb>,
    pub rt: tokio::runtime::Runtime,
    pub agent: ureq::Agent,
    config: Config,
}

impl TestHub {
    pub fn start(backend: Backend) -> TestHub {
        TestHub::with_limits(backend, test_limits())
    }

    pub fn with_limits(backend: Backend, limits: Limits) -> TestHub {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().unwrap();
        let db = rt.block_on(TestDb::new(backend));
        let data = tempfile::tempdir().unwrap();
        let mut config = Config::new(data.path().to_path_buf());
        config.database_url = Some(db.url().to_string());
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.limits = limits;
        let server = rt.block_on(muse_hub_server::start(config.clone())).unwrap();
        let base = format!("http://{}", server.addr());
        let hub = server.state().hub().clone();
        config.listen = server.addr();
        TestHub { base, data, server: Some(server), hub, db: Some(db), rt, agent: agent(), config }
    }

    /// Stops the server (gracefully); the database stays for inspection.
    pub fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            self.rt.block_on(server.shutdown());
        }
    }

    /// Stops the server and starts a new one on the same address, data and database: it
    /// remembers nothing but what is stored.
    pub fn restart(&mut self) {
        self.stop();
        let server = self.rt.block_on(muse_hub_server::start(self.config.clone())).unwrap();
        self.hub = server.state().hub().clone();
        self.server = Some(server);
        self.agent = agent();
    }

    /// The running server's shared state (the hub, content and uploads).
    pub fn state(&self) -> &muse_hub_server::AppState {
        self.server.as_ref().unwrap().state()
    }

    pub fn user(&self, name: &str) {
        self.rt.block_on(self.hub.create_user(name, None, None)).unwrap();
    }

    pub fn user_with_password(&self, name: &str, password: &str) {
        self.rt.block_on(self.hub.create_user(name, None, Some(password))).unwrap();
    }

    /// Creates `owner/name` (metadata and content) as `musehub repo create` does.
    pub fn repo(&self, owner: &str, name: &str, private: bool) -> Repo {
        let state = self.server.as_ref().unwrap().state();
        self.rt.block_on(state.create_repo(owner, name, private)).unwrap()
    }

    pub fn token(&self, user: &str, scope: Role, repo: Option<(&str, &str)>) -> String {
        let new = NewToken { label: "test".into(), scope, repo: repo.map(|(o, n)| (o.to_string(), n.to_string())), expires_at: None };
        self.rt.block_on(self.hub.create_token(user, new)).unwrap().1
    }

    /// A token that expired a minute ago (created through a hub whose clock runs late).
    pub fn expired_token(&self, user: &str) -> String {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
        let late = self.hub.clone().with_clock(move || now - 3600);
        let new = NewToken { label: "expired".into(), scope: Role::Admin, repo: None, expires_at: Some(now - 60) };
        self.rt.block_on(late.create_token(user, new)).unwrap().1
    }

    pub fn revoked_token(&self, user: &str) -> String {
        let new = NewToken { label: "revoked".into(), scope: Role::Admin, repo: None, expires_at: None };
        let (info, secret) = self.rt.block_on(self.hub.create_token(user, new)).unwrap();
        self.rt.block_on(self.hub.revoke_token(user, info.id)).unwrap();
        secret
    }

    pub fn collaborator(&self, repo: &Repo, user: &str, role: Role) {
        self.rt.block_on(self.hub.set_collaborator(repo.id, user, Some(role))).unwrap();
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn repo_url(&self, full: &str, endpoint: &str) -> String {
        format!("{}/{full}/muse/{endpoint}", self.base)
    }

    /// The store files (packs and indexes) of a repository on the server.
    pub fn server_packs(&self, repo: &Repo) -> Vec<String> {
        let dir = self.data.path().join("repos").join(format!("{}.muse", repo.id.0)).join("objects").join("packs");
        let mut names: Vec<String> =
            std::fs::read_dir(dir).map(|d| d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()).unwrap_or_default();
        names.sort();
        names
    }

    pub fn refs(&self, full: &str, token: Option<&str>) -> Value {
        let (status, body) = call(&self.agent, "GET", &self.repo_url(full, "refs"), token, None);
        assert_eq!(status, 200, "{body}");
        serde_json::from_slice(&body_bytes(&body)).unwrap()
    }

    /// Uploads a whole pack in one PUT; returns the status and JSON.
    pub fn upload(&self, full: &str, token: &str, pack: &[u8]) -> (u16, Value) {
        put_upload(&self.agent, &self.repo_url(full, &format!("uploads/{}", checksum(pack))), token, 0, pack.len() as u64, pack)
    }

    pub fn push(&self, full: &str, token: &str, pack: Option<&[u8]>, updates: Value) -> (u16, Value) {
        if let Some(pack) = pack {
            let (status, body) = self.upload(full, token, pack);
            assert_eq!(status, 200, "upload: {body}");
            assert_eq!(body["complete"], true, "{body}");
        }
        let body = json!({"pack": pack.map(checksum), "updates": updates});
        json_call(&self.agent, "POST", &self.repo_url(full, "push"), Some(token), Some(body))
    }

    pub fn fetch(&self, full: &str, token: Option<&str>, wants: &[CommitId], haves: &[CommitId]) -> (u16, Vec<u8>, ureq::http::HeaderMap) {
        let body = json!({"wants": wants, "haves": haves});
        let mut request = ureq::http::Request::post(self.repo_url(full, "fetch")).header("Muse-Protocol", "1");
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        let request = request.header("Content-Type", "application/json").body(serde_json::to_vec(&body).unwrap()).unwrap();
        let response = self.agent.run(request).unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.into_body().into_with_config().limit(u64::MAX).read_to_vec().unwrap();
        (status, bytes, headers)
    }
}

impl Drop for TestHub {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            self.rt.block_on(server.shutdown());
        }
        // The database is dropped after the server's connections are gone.
        self.db.take();
    }
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(Duration::from_secs(120))).build().into()
}

/// What a response body was: JSON or bytes.
pub fn body_bytes(value: &Value) -> Vec<u8> {
    match value {
        Value::String(s) => s.clone().into_bytes(),
        other => serde_json::to_vec(other).unwrap(),
    }
}

/// A request with an optional bearer token and JSON body; returns the status and body (JSON if
/// it parses, else a string).
pub fn call(agent: &ureq::Agent, method: &str, url: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
    let mut request = ureq::http::Request::builder().method(method).uri(url).header("Muse-Protocol", "1");
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    let request = match body {
        Some(body) => request.header("Content-Type", "application/json").body(serde_json::to_vec(&body).unwrap()).unwrap(),
        None => request.body(Vec::new()).unwrap(),
    };
    let response = agent.run(request).unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().into_with_config().limit(u64::MAX).read_to_vec().unwrap();
    let value = serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, value)
}

pub fn json_call(agent: &ureq::Agent, method: &str, url: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
    call(agent, method, url, token, body)
}

pub fn put_upload(agent: &ureq::Agent, url: &str, token: &str, offset: u64, length: u64, body: &[u8]) -> (u16, Value) {
    let request = ureq::http::Request::put(url)
        .header("Muse-Protocol", "1")
        .header("Authorization", format!("Bearer {token}"))
        .header("Upload-Offset", offset.to_string())
        .header("Upload-Length", length.to_string())
        .body(body.to_vec())
        .unwrap();
    let response = agent.run(request).unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().read_to_vec().unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// The pack's checksum as the protocol names it: its trailer in hex.
pub fn checksum(pack: &[u8]) -> String {
    hex::encode(&pack[pack.len() - 32..])
}

/// A client-side object store in a temporary directory.
pub struct Local {
    _dir: tempfile::TempDir,
    pub store: ObjectStore,
}

impl Local {
    pub fn new() -> Local {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectStore::create(&dir.path().join("objects")).unwrap();
        Local { _dir: dir, store }
    }

    /// Commits `files` (flat names) on top of `parents`.
    pub fn commit(&self, parents: &[CommitId], files: &[(&str, &[u8])], message: &str) -> CommitId {
        let mut writer = self.store.begin_write().unwrap();
        let mut entries = Vec::new();
        for (name, data) in files {
            let id = writer.add(ObjectKind::Blob, data).unwrap();
            entries.push(TreeEntry { name: (*name).into(), kind: EntryKind::File, id });
        }
        let root = writer.add_tree(&Tree::from_entries(entries).unwrap()).unwrap();
        let id = writer.add_commit(&commit(root, parents.to_vec(), message)).unwrap();
        writer.finish().unwrap();
        id
    }

    /// A line of `n` commits on top of `parent`, one new file each.
    pub fn line(&self, parent: Option<CommitId>, n: usize, tag: &str) -> Vec<CommitId> {
        let mut ids = Vec::new();
        let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        let mut tip = parent;
        for i in 0..n {
            files.insert(format!("{tag}-{i}.txt"), format!("{tag} file {i}\n").repeat(i + 1).into_bytes());
            let listed: Vec<(&str, &[u8])> = files.iter().map(|(k, v)| (k.as_str(), v.as_slice())).collect();
            let id = self.commit(tip.as_slice(), &listed, &format!("{tag} {i}"));
            ids.push(id);
            tip = Some(id);
        }
        ids
    }

    /// An mpack of what `wants` reach and `haves` do not.
    pub fn pack(&self, wants: &[CommitId], haves: &[CommitId]) -> Vec<u8> {
        let mut out = Vec::new();
        muse_pack::build(&self.store, wants, haves, &mut out, &muse_pack::BuildOptions::default()).unwrap();
        out
    }

    /// Applies a fetched pack (which must verify completely).
    pub fn apply(&self, pack: &[u8]) -> muse_pack::ApplyReport {
        let report = muse_pack::apply(&self.store, pack, muse_pack::ApplyOptions::default()).unwrap();
        assert!(report.rejected.is_empty(), "{:?}", report.rejected);
        report
    }
}

pub fn commit(snapshot: TreeId, parents: Vec<CommitId>, message: &str) -> Commit {
    Commit {
        parents,
        snapshot,
        message: message.into(),
        author: "Ada <ada@example.com>".into(),
        committed_at: "2026-01-01T00:00:00Z".into(),
        ..Commit::default()
    }
}

/// A pack crafted byte by byte (`docs/mpack.md`), for packs `muse_pack` would never build.
pub struct Craft {
    bytes: Vec<u8>,
    records: u64,
}

impl Craft {
    pub fn new() -> Craft {
        let mut bytes = b"\x89MPACK\r\n".to_vec();
        bytes.extend_from_slice(&[0, 0, 0, 2, 0, 0, 0, 0]);
        Craft { bytes, records: 0 }
    }

    /// A whole object declared as `id` whose payload is `data` compressed.
    pub fn object(mut self, kind: u8, id: ObjectId, data: &[u8]) -> Craft {
        let payload = zstd::bulk::compress(data, 3).unwrap();
        self.bytes.push(kind);
        self.bytes.extend_from_slice(&id.as_bytes()[..8]);
        muse_pack::format::put_varint(&mut self.bytes, data.len() as u64);
        muse_pack::format::put_varint(&mut self.bytes, payload.len() as u64);
        self.bytes.extend_from_slice(&payload);
        self.records += 1;
        self
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.bytes.push(0);
        self.bytes.extend_from_slice(&self.records.to_be_bytes());
        let sum = ObjectId::sha256(&self.bytes);
        self.bytes.extend_from_slice(sum.as_bytes());
        self.bytes
    }
}

/// A pack whose blob does not hash to the id it declares, with a tree and commit over it.
pub fn poisoned_pack(parent: Option<CommitId>) -> (Vec<u8>, CommitId) {
    let declared = muse_core::blob_id(b"what the tree says\n");
    let root = Tree::from_entries(vec![TreeEntry { name: "poison.txt".into(), kind: EntryKind::File, id: declared }]).unwrap();
    let c = commit(root.id(), parent.into_iter().collect(), "poisoned");
    let pack = Craft::new().object(1, declared, b"other bytes entirely\n").object(2, root.id().0, &root.encode()).object(3, c.id().0, &c.encode()).finish();
    (pack, c.id())
}

/// A clean blob and tree, and a commit over them whose parent is nowhere.
pub fn orphan_pack() -> (Vec<u8>, CommitId) {
    let data = b"orphaned content\n";
    let blob = muse_core::blob_id(data);
    let root = Tree::from_entries(vec![TreeEntry { name: "orphan.txt".into(), kind: EntryKind::File, id: blob }]).unwrap();
    let missing_parent = CommitId(ObjectId::sha256(b"a parent nobody has"));
    let c = commit(root.id(), vec![missing_parent], "orphan");
    let pack = Craft::new().object(1, blob, data).object(2, root.id().0, &root.encode()).object(3, c.id().0, &c.encode()).finish();
    (pack, c.id())
}

/// `Authorization: Bearer` value for `token`.
pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}
