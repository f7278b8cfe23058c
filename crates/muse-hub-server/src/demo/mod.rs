//! The demo hub (`musehub serve --demo`, `docs/hub.md` §Demo): a user and repositories whose
//! history reproduces the seed's page, built through the store and pack APIs.
//!
//! [`History`] writes commits with any provenance and any date into a scratch store; its pack and
//! refs are then published to a hosted repository as a push would (the pack applied all or
//! nothing, the refs created by compare-and-swap). [`seed`] uses it to build `demo/muse`, whose
//! `tests/test_apply_mpack_partial_failure.py` was changed by exactly the six commits of the seed
//! (Sonnet 4.6, bumps patch/patch/minor/patch/patch/minor from newest to oldest, breaking changes
//! on the two minor ones, 20 to 28 days old), among human commits and commits of other models, a
//! second branch and tags; and the private `demo/notes`.

use std::collections::BTreeMap;
use std::io::Cursor;

use muse_core::{unix_to_rfc3339_utc, Commit, CommitId, EntryKind, ObjectId, SemVerBump};
use muse_hub::{HubError, RefChange, Repo};
use muse_store::snapshot::{build_snapshot, FileEntry};
use muse_store::{ObjectKind, ObjectStore, StoreError};

use crate::content::ContentError;
use crate::AppState;

/// The demo user.
pub const USER: &str = "demo";
/// The demo user's password (the demo is for trying the hub on one's own machine).
pub const PASSWORD: &str = "demo";
/// The public demo repository (under [`USER`]).
pub const REPO: &str = "muse";
/// The private demo repository (under [`USER`]): visible only once signed in.
pub const PRIVATE_REPO: &str = "notes";
/// The seed's file in [`REPO`].
pub const SEED_PATH: &str = "tests/test_apply_mpack_partial_failure.py";
/// The seed's file as the newest commit leaves it.
pub const SEED_FILE: &str = include_str!("test_apply_mpack_partial_failure.py");

const DAY: i64 = 86_400;
const HOUR: i64 = 3_600;

/// Why the demo could not be built.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The scratch store failed.
    #[error("demo store: {0}")]
    Store(#[from] StoreError),
    /// The scratch directory could not be made.
    #[error("demo scratch directory: {0}")]
    Io(#[from] std::io::Error),
    /// The pack could not be built.
    #[error("demo pack: {0}")]
    Pack(#[from] muse_pack::PackError),
    /// The hosted repository's content refused the pack.
    #[error("demo content: {0}")]
    Content(#[from] ContentError),
    /// The hub's database failed.
    #[error("{0}")]
    Hub(#[from] HubError),
    /// A demo repository could not be created.
    #[error("demo repository: {0}")]
    Create(String),
    /// A branch was used before it was made.
    #[error("demo history: no branch {0}")]
    NoBranch(String),
}

/// Who made a commit: a person alone, or an agent (with its model) on a person's behalf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    /// `Name <email>`.
    pub person: String,
    /// The agent's id (empty for a person alone).
    pub agent_id: String,
    /// The model behind the agent.
    pub model_id: String,
    /// The agent's toolchain.
    pub toolchain_id: String,
}

impl Author {
    /// A person working alone.
    pub fn human(person: &str) -> Author {
        Author { person: person.into(), agent_id: String::new(), model_id: String::new(), toolchain_id: String::new() }
    }

    /// An agent running `model_id` on behalf of `person`.
    pub fn agent(person: &str, agent_id: &str, model_id: &str, toolchain_id: &str) -> Author {
        Author { person: person.into(), agent_id: agent_id.into(), model_id: model_id.into(), toolchain_id: toolchain_id.into() }
    }
}

/// One commit to write: when, by whom, what it says and what it changes.
#[derive(Debug, Clone)]
pub struct CommitSpec {
    /// How long before `now` it was committed, in seconds.
    pub age_secs: i64,
    /// Who made it.
    pub author: Author,
    /// The whole message.
    pub message: String,
    /// The declared bump.
    pub bump: SemVerBump,
    /// The declared breaking changes.
    pub breaking: Vec<String>,
    /// Path → new content (`None`: the file is removed).
    pub changes: Vec<(String, Option<Vec<u8>>)>,
}

impl CommitSpec {
    /// A commit `age_secs` old by `author` with `message` and no bump, changing nothing yet.
    pub fn new(age_secs: i64, author: &Author, message: &str) -> CommitSpec {
        CommitSpec { age_secs, author: author.clone(), message: message.into(), bump: SemVerBump::None, breaking: Vec::new(), changes: Vec::new() }
    }

    /// Declares the bump.
    pub fn bump(mut self, bump: SemVerBump) -> CommitSpec {
        self.bump = bump;
        self
    }

    /// Declares a breaking change.
    pub fn breaking(mut self, text: &str) -> CommitSpec {
        self.breaking.push(text.into());
        self
    }

    /// Sets the content of `path`.
    pub fn file(mut self, path: &str, content: impl Into<Vec<u8>>) -> CommitSpec {
        self.changes.push((path.into(), Some(content.into())));
        self
    }

    /// Removes `path`.
    pub fn remove(mut self, path: &str) -> CommitSpec {
        self.changes.push((path.into(), None));
        self
    }
}

/// A branch being written: its tip and its files.
#[derive(Debug, Clone, Default)]
struct Tip {
    commit: Option<CommitId>,
    files: BTreeMap<String, Vec<u8>>,
}

/// Commits written into a scratch store, then packed with their refs.
pub struct History {
    _dir: tempfile::TempDir,
    store: ObjectStore,
    now: i64,
    branches: BTreeMap<String, Tip>,
    tags: BTreeMap<String, CommitId>,
}

/// A history ready to publish: an mpack of every commit and the refs to create.
pub struct Packed {
    /// The mpack.
    pub pack: Vec<u8>,
    /// Full ref names (`refs/heads/…`, `refs/tags/…`) and their commits.
    pub refs: Vec<(String, CommitId)>,
}

impl History {
    /// An empty history whose commits are dated relative to `now` (unix seconds), with an
    /// empty branch `main`.
    pub fn new(now: i64) -> Result<History, DemoError> {
        let dir = tempfile::Builder::new().prefix("musehub-history").tempdir()?;
        let store = ObjectStore::create(&dir.path().join("objects"))?;
        let branches = BTreeMap::from([("main".to_string(), Tip::default())]);
        Ok(History { _dir: dir, store, now, branches, tags: BTreeMap::new() })
    }

    /// Starts branch `name` at the tip of `from`.
    pub fn branch(&mut self, name: &str, from: &str) -> Result<(), DemoError> {
        let tip = self.branches.get(from).ok_or_else(|| DemoError::NoBranch(from.into()))?.clone();
        self.branches.insert(name.into(), tip);
        Ok(())
    }

    /// Tags `commit` as `name`.
    pub fn tag(&mut self, name: &str, commit: CommitId) {
        self.tags.insert(name.into(), commit);
    }

    /// Writes `spec` on top of `branch` and moves the branch to it.
    pub fn commit(&mut self, branch: &str, spec: CommitSpec) -> Result<CommitId, DemoError> {
        let tip = self.branches.get_mut(branch).ok_or_else(|| DemoError::NoBranch(branch.into()))?;
        for (path, content) in spec.changes {
            match content {
                Some(content) => tip.files.insert(path, content),
                None => tip.files.remove(&path),
            };
        }
        let mut writer = self.store.begin_write()?;
        let mut entries = Vec::with_capacity(tip.files.len());
        for (path, content) in &tip.files {
            let id: ObjectId = writer.add(ObjectKind::Blob, content)?;
            entries.push(FileEntry { path: path.clone(), kind: EntryKind::File, id });
        }
        let snapshot = build_snapshot(&mut writer, &entries)?;
        let author = spec.author;
        let prompt = format!("{}\n{}", author.agent_id, spec.message);
        let commit = Commit {
            parents: tip.commit.into_iter().collect(),
            snapshot,
            message: spec.message,
            author: author.person,
            committed_at: unix_to_rfc3339_utc(self.now - spec.age_secs),
            prompt_hash: if author.agent_id.is_empty() { String::new() } else { ObjectId::sha256(prompt.as_bytes()).to_string() },
            agent_id: author.agent_id,
            model_id: author.model_id,
            toolchain_id: author.toolchain_id,
            sem_ver_bump: spec.bump,
            breaking_changes: spec.breaking,
            ..Commit::default()
        };
        let id = writer.add_commit(&commit)?;
        writer.finish()?;
        tip.commit = Some(id);
        Ok(id)
    }

    /// The pack of every branch and tag, and the refs to create.
    pub fn pack(self) -> Result<Packed, DemoError> {
        let mut refs: Vec<(String, CommitId)> = self.branches.iter().filter_map(|(name, tip)| Some((format!("refs/heads/{name}"), tip.commit?))).collect();
        refs.extend(self.tags.iter().map(|(name, id)| (format!("refs/tags/{name}"), *id)));
        let wants: Vec<CommitId> = refs.iter().map(|(_, id)| *id).collect();
        let mut pack = Vec::new();
        muse_pack::build(&self.store, &wants, &[], &mut pack, &muse_pack::BuildOptions::default())?;
        Ok(Packed { pack, refs })
    }
}

/// Publishes a packed history to an empty hosted repository: the pack applied all or nothing,
/// then every ref created in one compare-and-swap.
pub async fn publish(state: &AppState, repo: &Repo, packed: Packed) -> Result<(), DemoError> {
    state.content().apply_pack(repo.id, Box::new(Cursor::new(packed.pack)), None).await?;
    let changes: Vec<RefChange> = packed.refs.into_iter().map(|(name, id)| RefChange { name, old: None, new: Some(id) }).collect();
    state.hub().update_refs(repo.id, &changes).await?;
    crate::web::after_push(state, repo.id, Vec::new());
    Ok(())
}

/// What [`seed`] made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seeded {
    /// `false` when the demo repositories were already there (kept as they were).
    pub created: bool,
    /// The path of the seed's page: `/demo/muse/blob/main/tests/test_apply_mpack_partial_failure.py`.
    pub page: String,
}

/// Creates the demo user (password [`PASSWORD`]) and its repositories, public [`REPO`] and
/// private [`PRIVATE_REPO`], with histories dated relative to `now` (unix seconds). Existing demo
/// repositories (a data directory used before) are kept as they are.
pub async fn seed(state: &AppState, now: i64) -> Result<Seeded, DemoError> {
    match state.hub().create_user(USER, Some("demo@example.com"), Some(PASSWORD)).await {
        Ok(_) | Err(HubError::Conflict(_)) => {}
        Err(e) => return Err(e.into()),
    }
    let page = format!("/{USER}/{REPO}/blob/main/{SEED_PATH}");
    let mut created = false;
    for (name, private) in [(REPO, false), (PRIVATE_REPO, true)] {
        let repo = match state.create_repo(USER, name, private).await {
            Ok(repo) => repo,
            Err(e) if e.status() == 409 => continue,
            Err(e) => return Err(DemoError::Create(e.body().error.message)),
        };
        let packed = tokio::task::spawn_blocking(move || if private { notes_history(now) } else { muse_history(now) })
            .await
            .map_err(|e| DemoError::Io(std::io::Error::other(e.to_string())))??;
        publish(state, &repo, packed).await?;
        created = true;
    }
    Ok(Seeded { created, page })
}

/// The six versions of the seed's file, oldest first: each commit of the seed undone in turn,
/// newest first, from the file as it is now.
pub fn seed_file_versions() -> [String; 6] {
    let v6 = SEED_FILE.to_string();
    // Before "fix: remove commit_exists filter from have anchors": the haves were filtered.
    let v5 = v6.replacen("    CommitRecord,\n    read_commit,\n", "    CommitRecord,\n    commit_exists,\n    read_commit,\n", 1).replacen(
        "mpack = build_mpack(src, [cid], have=[])",
        "mpack = build_mpack(src, [cid], have=[h for h in [cid] if commit_exists(dst, h)])",
        1,
    );
    // Before "fix: rename objects→blobs in push client and all stale test fixtures".
    let v4 = v5.replace("\"blobs\": [", "\"objects\": [").replace("result[\"blobs_written\"]", "result[\"objects_written\"]");
    // Before "rename: delta_add → delta_upsert across wire format, source, and tests".
    let v3 = v4.replace("delta_upsert", "delta_add");
    // Before "fix(push): step 0 log shows full /refs URL …": PF-2 patched the old write path.
    let v2 = v3.replacen("patch(\"muse.core.mpack.write_pack\"", "patch(\"muse.core.object_store.write_object\"", 1);
    // Before "fix: repair four test failures from post-migration audit".
    let v1 = v2
        .replacen("datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)", "datetime.datetime(2026, 1, 1)", 1)
        .replacen("(\"commits\", \"snapshots\", \"objects\", \"refs/heads\")", "(\"commits\", \"snapshots\", \"objects\")", 1)
        .replacen("    (dot / \"config.toml\").write_text(\"\")\n", "", 1)
        .replacen("assert read_commit(dst, clean_cid) is not None, ", "assert read_commit(dst, clean_cid), ", 1);
    [v1, v2, v3, v4, v5, v6]
}

/// The history of `demo/muse`.
fn muse_history(now: i64) -> Result<Packed, DemoError> {
    let ada = Author::human("Ada Lovelace <ada@example.com>");
    let grace = Author::human("Grace Hopper <grace@example.com>");
    let sonnet = Author::agent("Gabriel <gabriel@example.com>", "claude-code", "claude-sonnet-4-6", "claude-code/2.0.14");
    let codex = Author::agent("Ada Lovelace <ada@example.com>", "codex", "gpt-5.1-codex", "codex-cli/0.58.0");
    let gemini = Author::agent("Grace Hopper <grace@example.com>", "gemini-cli", "gemini-2.5-pro", "gemini-cli/0.14.0");
    let [t1, t2, t3, t4, t5, t6] = seed_file_versions();
    let mut h = History::new(now)?;

    let readme = README_V1.to_string();
    let mpack = MPACK_V1.to_string();
    let store = STORE_V1.to_string();
    h.commit(
        "main",
        CommitSpec::new(35 * DAY + 4 * HOUR, &ada, "Initial import: mpack transfer and the object store")
            .bump(SemVerBump::Minor)
            .file("README.md", readme.clone())
            .file("pyproject.toml", PYPROJECT.replace("{version}", "0.1.0"))
            .file("muse/__init__.py", "\"\"\"Muse: version control for people and agents.\"\"\"\n")
            .file("muse/core/mpack.py", mpack.clone())
            .file("muse/core/object_store.py", store.clone()),
    )?;
    let mpack = mpack.replace(MPACK_BUILD_OLD, MPACK_BUILD_NEW);
    h.commit(
        "main",
        CommitSpec::new(
            31 * DAY + 2 * HOUR,
            &codex,
            "feat(mpack): build_mpack sends blobs in manifest order\n\nA receiver can then write each snapshot's blobs as they arrive.",
        )
        .bump(SemVerBump::Minor)
        .file("muse/core/mpack.py", mpack.clone()),
    )?;
    let readme = format!("{readme}{README_ORDER}");
    h.commit("main", CommitSpec::new(29 * DAY + 6 * HOUR, &ada, "docs: how an mpack apply is ordered").file("README.md", readme.clone()))?;
    let store = format!("{store}{STORE_IDEMPOTENT}");
    let v010 = h.commit(
        "main",
        CommitSpec::new(28 * DAY + 5 * HOUR, &sonnet, "fix: unified object store migration — idempotent writes, JSON-safe manifests\n\nBlobs and packs now live in one object store under .muse/objects/. write_object() is\nidempotent: writing an id that is there with the same bytes does nothing, with other bytes\nit raises. Adds the partial-failure tests PF-1..PF-4 for apply_mpack.")
            .bump(SemVerBump::Minor)
            .breaking("The .muse/blobs/ directory is gone: objects live in .muse/objects/; run `muse migrate` on repositories made before this change")
            .breaking("write_object() raises ValueError when the content does not hash to the id given (it used to overwrite silently)")
            .file("muse/core/object_store.py", store.clone())
            .file(SEED_PATH, t1),
    )?;
    h.tag("v0.1.0", v010);
    h.commit(
        "main",
        CommitSpec::new(28 * DAY + 3 * HOUR, &sonnet, "fix: repair four test failures from post-migration audit\n\n_init_repo makes refs/heads/ and config.toml, _DT is timezone-aware, and PF-3 checks that\nthe clean commit's record exists rather than its truthiness.")
            .bump(SemVerBump::Patch)
            .file(SEED_PATH, t2),
    )?;
    let store = store.replace(STORE_PATH_OLD, STORE_PATH_NEW);
    h.commit(
        "main",
        CommitSpec::new(25 * DAY + 7 * HOUR, &gemini, "perf(object_store): fan objects out into 256 directories")
            .bump(SemVerBump::Patch)
            .file("muse/core/object_store.py", store.clone()),
    )?;
    let push = PUSH_V1.to_string();
    h.commit(
        "main",
        CommitSpec::new(22 * DAY + 6 * HOUR, &sonnet, "fix(push): step 0 log shows full /refs URL instead of misleading base URL\n\nThe first step of a push logged the remote's base URL although it requests {base}/refs;\nthe log now shows the URL actually requested. PF-2 patches the write path apply_mpack uses.")
            .bump(SemVerBump::Patch)
            .file("muse/cli/push.py", push.clone())
            .file(SEED_PATH, t3),
    )?;
    let mpack = mpack.replace("delta_add", "delta_upsert");
    h.commit(
        "main",
        CommitSpec::new(22 * DAY + 5 * HOUR, &sonnet, "rename: delta_add → delta_upsert across wire format, source, and tests\n\nThe field also replaces entries that exist: \"add\" said less than it does.")
            .bump(SemVerBump::Minor)
            .breaking("mpack snapshot records carry `delta_upsert` instead of `delta_add`: packs from clients before this change are refused")
            .breaking("SnapshotRecord.delta_add is renamed SnapshotRecord.delta_upsert")
            .file("muse/core/mpack.py", mpack.clone())
            .file(SEED_PATH, t4),
    )?;
    let push = push.replace("\"objects\"", "\"blobs\"");
    h.commit(
        "main",
        CommitSpec::new(22 * DAY + 4 * HOUR, &sonnet, "fix: rename objects→blobs in push client and all stale test fixtures")
            .bump(SemVerBump::Patch)
            .file("muse/cli/push.py", push.clone())
            .file(SEED_PATH, t5),
    )?;
    let readme = format!("{readme}{README_QUICK_START}");
    h.commit("main", CommitSpec::new(21 * DAY + 2 * HOUR, &grace, "docs: a quick start in the README").file("README.md", readme))?;
    let mpack = mpack.replace(MPACK_HAVES_OLD, MPACK_HAVES_NEW);
    h.commit(
        "main",
        CommitSpec::new(20 * DAY + 3 * HOUR, &sonnet, "fix: remove commit_exists filter from have anchors — server decides which haves it knows\n\nThe client dropped every have it could not find locally, so a shallow clone sent none and\nreceived everything again. It now sends its haves as they are; the server ignores those it\ndoes not know.")
            .bump(SemVerBump::Patch)
            .file("muse/core/mpack.py", mpack)
            .file(SEED_PATH, t6),
    )?;
    let push = push.replace(PUSH_UPLOAD_OLD, PUSH_UPLOAD_NEW);
    let v020 = h.commit(
        "main",
        CommitSpec::new(12 * DAY + 5 * HOUR, &codex, "feat(push): resumable uploads\n\nAn upload cut off resumes from the offset the server reports.")
            .bump(SemVerBump::Minor)
            .file("muse/cli/push.py", push),
    )?;
    h.tag("v0.2.0", v020);
    h.branch("agent/gemini/blob-cache", "main")?;
    h.commit(
        "agent/gemini/blob-cache",
        CommitSpec::new(5 * DAY + 2 * HOUR, &gemini, "feat(object_store): an LRU cache of decoded blobs")
            .bump(SemVerBump::Minor)
            .file("muse/core/object_store.py", format!("{store}{STORE_CACHE}")),
    )?;
    h.commit(
        "main",
        CommitSpec::new(2 * DAY + 3 * HOUR, &ada, "chore: version 0.2.1")
            .bump(SemVerBump::Patch)
            .file("pyproject.toml", PYPROJECT.replace("{version}", "0.2.1")),
    )?;
    h.pack()
}

/// The history of the private `demo/notes`.
fn notes_history(now: i64) -> Result<Packed, DemoError> {
    let ada = Author::human("Ada Lovelace <ada@example.com>");
    let mut h = History::new(now)?;
    h.commit(
        "main",
        CommitSpec::new(3 * DAY, &ada, "Private notes: only the signed-in demo user sees this repository")
            .file("NOTES.md", "# Notes\n\nThis repository is private: signed out, every page of it answers 404.\n"),
    )?;
    h.pack()
}

const PYPROJECT: &str =
    "[project]\nname = \"muse\"\nversion = \"{version}\"\nrequires-python = \">=3.11\"\n\n[tool.pytest.ini_options]\ntestpaths = [\"tests\"]\n";

const README_V1: &str = "# Muse\n\nVersion control for teams of people and AI agents: every commit records which agent and\nmodel made it, and the semantic-version bump it declares.\n";

const README_ORDER: &str = "\n## Applying an mpack\n\nObjects are written first, then snapshots, then commits. A snapshot whose objects did not\nall arrive is skipped, and so is every commit over it: a store never holds a dangling\nreference.\n";

const README_QUICK_START: &str = "\n## Quick start\n\n```sh\npip install -e .\npytest\n```\n";

const MPACK_V1: &str = r#""""mpack: the transfer pack of commits, snapshots and blobs."""
from __future__ import annotations

from typing import TypedDict

from muse.core.commits import commit_exists
from muse.core.object_store import has_object, write_object


class MPack(TypedDict):
    commits: list[dict]
    snapshots: list[dict]
    blobs: list[dict]


def build_mpack(root, wants: list[str], have: list[str]) -> MPack:
    """Everything reachable from wants and not from have."""
    commits = _walk(root, wants, set(have))
    snapshots = [_snapshot_record(root, c) for c in commits]
    blobs = [_blob(root, oid) for s in snapshots for oid in set(s["delta_add"].values())]
    return {"commits": commits, "snapshots": snapshots, "blobs": blobs}


def apply_mpack(root, mpack: MPack) -> dict[str, int]:
    """Writes blobs, then snapshots, then commits; skips whatever refers to a missing blob."""
    written = {"blobs_written": 0, "snapshots_written": 0, "commits_written": 0}
    failed: set[str] = set()
    for blob in mpack["blobs"]:
        try:
            write_object(root, blob["object_id"], blob["content"])
            written["blobs_written"] += 1
        except ValueError:
            failed.add(blob["object_id"])
    for snapshot in mpack["snapshots"]:
        if failed.isdisjoint(snapshot["delta_add"].values()):
            _write_snapshot(root, snapshot)
            written["snapshots_written"] += 1
    return written


def negotiate(root, remote_haves: list[str]) -> list[str]:
    """The haves a client sends: its branch tips."""
    return [h for h in remote_haves if commit_exists(root, h)]
"#;

const MPACK_BUILD_OLD: &str = "    blobs = [_blob(root, oid) for s in snapshots for oid in set(s[\"delta_add\"].values())]\n";
const MPACK_BUILD_NEW: &str =
    "    # Manifest order: a receiver writes each snapshot's blobs as they arrive.\n    seen: set[str] = set()\n    blobs = []\n    for s in snapshots:\n        for oid in s[\"delta_add\"].values():\n            if oid not in seen:\n                seen.add(oid)\n                blobs.append(_blob(root, oid))\n";
const MPACK_HAVES_OLD: &str = "    return [h for h in remote_haves if commit_exists(root, h)]\n";
const MPACK_HAVES_NEW: &str =
    "    # The server knows which haves it has; filtering here dropped the anchors of shallow clones.\n    return list(remote_haves)\n";

const STORE_V1: &str = r#""""The object store: blobs by id."""
from __future__ import annotations

import pathlib

from muse.core.paths import muse_dir


def object_path(root: pathlib.Path, oid: str) -> pathlib.Path:
    return muse_dir(root) / "blobs" / oid.removeprefix("sha256:")


def has_object(root: pathlib.Path, oid: str) -> bool:
    return object_path(root, oid).exists()
"#;

const STORE_IDEMPOTENT: &str = r#"

def write_object(root: pathlib.Path, oid: str, content: bytes) -> None:
    """Writes content under oid, once; refuses content that does not hash to oid."""
    from muse.core.types import blob_id

    if blob_id(content) != oid:
        raise ValueError(f"content does not hash to {oid}")
    path = object_path(root, oid)
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(content)
    tmp.replace(path)
"#;

const STORE_PATH_OLD: &str = "    return muse_dir(root) / \"blobs\" / oid.removeprefix(\"sha256:\")\n";
const STORE_PATH_NEW: &str = "    hex_id = oid.removeprefix(\"sha256:\")\n    return muse_dir(root) / \"objects\" / hex_id[:2] / hex_id[2:]\n";

const STORE_CACHE: &str = r#"

_CACHE: dict[str, bytes] = {}
_CACHE_LIMIT = 1024


def read_object(root: pathlib.Path, oid: str) -> bytes:
    """The content of oid, from a small cache of recently read blobs."""
    if oid in _CACHE:
        content = _CACHE.pop(oid)
    else:
        content = object_path(root, oid).read_bytes()
    _CACHE[oid] = content
    while len(_CACHE) > _CACHE_LIMIT:
        _CACHE.pop(next(iter(_CACHE)))
    return content
"#;

const PUSH_V1: &str = r#""""muse push: send an mpack and move the remote's refs."""
from __future__ import annotations

import logging

from muse.core.mpack import build_mpack

log = logging.getLogger(__name__)


def push(session, base_url: str, root, branch: str, tip: str) -> None:
    refs_url = f"{base_url}/refs"
    log.info("step 0: reading remote refs from %s", refs_url)
    remote = session.get(refs_url).json()
    mpack = build_mpack(root, [tip], have=list(remote["refs"].values()))
    log.info("step 1: sending %d objects", len(mpack["objects"]))
    session.post(f"{base_url}/push", json={"branch": branch, "mpack": mpack}).raise_for_status()
"#;

const PUSH_UPLOAD_OLD: &str = "    session.post(f\"{base_url}/push\", json={\"branch\": branch, \"mpack\": mpack}).raise_for_status()\n";
const PUSH_UPLOAD_NEW: &str = "    upload = f\"{base_url}/uploads/{tip}\"\n    offset = int(session.head(upload).headers.get(\"Upload-Offset\", 0))\n    session.put(upload, data=_encode(mpack)[offset:], headers={\"Upload-Offset\": str(offset)}).raise_for_status()\n    session.post(f\"{base_url}/push\", json={\"branch\": branch, \"upload\": tip}).raise_for_status()\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_seed_commit_changes_the_seed_file() {
        let versions = seed_file_versions();
        for pair in versions.windows(2) {
            assert_ne!(pair[0], pair[1]);
        }
        assert_eq!(versions[5], SEED_FILE);
        assert!(versions[0].contains("datetime.datetime(2026, 1, 1)\n") && !versions[0].contains("config.toml"));
        assert!(versions[2].contains("delta_add") && !versions[3].contains("delta_add"));
        assert!(versions[3].contains("objects_written") && !versions[4].contains("objects_written"));
        assert!(versions[4].contains("commit_exists") && !versions[5].contains("commit_exists"));
    }

    #[test]
    fn the_other_files_change_where_the_history_says() {
        let mpack = MPACK_V1.replace(MPACK_BUILD_OLD, MPACK_BUILD_NEW);
        assert_ne!(mpack, MPACK_V1);
        assert_ne!(mpack.replace(MPACK_HAVES_OLD, MPACK_HAVES_NEW), mpack);
        assert_ne!(STORE_V1.replace(STORE_PATH_OLD, STORE_PATH_NEW), STORE_V1);
        assert_ne!(PUSH_V1.replace(PUSH_UPLOAD_OLD, PUSH_UPLOAD_NEW), PUSH_V1);
        assert!(PUSH_V1.contains("\"objects\""));
    }

    #[test]
    fn the_demo_history_packs_every_branch_and_tag() {
        let packed = muse_history(1_800_000_000).unwrap();
        let names: Vec<&str> = packed.refs.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["refs/heads/agent/gemini/blob-cache", "refs/heads/main", "refs/tags/v0.1.0", "refs/tags/v0.2.0"]);
        assert!(!packed.pack.is_empty());
    }
}
