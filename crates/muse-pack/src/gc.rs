//! `gc`: rewrite every pack of a store into one, with deltas, and remove leftover temporary files
//! of writers that died.
//!
//! Everything reachable from the refs and from the HEAD of every working copy is planned as for a
//! clone (path-based deltas, chains at most [`MAX_DELTA_DEPTH`] long). Unreachable objects are
//! kept, copied whole: a concurrent commit's objects are unreachable until its ref moves, so
//! dropping them would race with it. The old packs are removed only after the new one is durable;
//! a crash in between leaves duplicates, never a loss.

use std::collections::HashSet;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use muse_core::{CommitId, ObjectId};
use muse_store::odb::Encoding;
use muse_store::{ObjectKind, Repository};

use crate::build::{encode_plan, plan, BuildOptions, Source};
use crate::compress::compress;
use crate::error::{PackError, Result};
use crate::format::MAX_DELTA_DEPTH;

/// What a gc did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct GcReport {
    /// Packs before.
    pub packs_before: usize,
    /// Bytes of all packs before.
    pub bytes_before: u64,
    /// Objects in the new pack.
    pub objects: u64,
    /// Of which reachable from a ref or HEAD.
    pub reachable: u64,
    /// Of which stored as deltas.
    pub deltas: u64,
    /// Unreachable objects kept (copied whole).
    pub unreachable_kept: u64,
    /// Bytes of the new pack.
    pub bytes_after: u64,
    /// Temporary files of dead writers removed from `objects/tmp`.
    pub temp_files_removed: u64,
}

/// Repacks the store of `repo` into one pack.
pub fn gc(repo: &Repository, options: &BuildOptions) -> Result<GcReport> {
    let _lock = GcLock::acquire(repo.store_dir())?;
    let store = repo.objects();
    let before = store.packs()?;
    let mut report = GcReport { packs_before: before.len(), bytes_before: before.iter().map(|p| p.bytes).sum(), ..GcReport::default() };
    let source = Source::new(store);
    let mut plan = plan(&source, &roots(repo)?, &[], options.max_depth.min(MAX_DELTA_DEPTH))?;
    // The store resolves a delta base by its content hash, which a signed commit's bytes do not
    // have: commits are stored whole.
    for commit in &mut plan.commits {
        commit.base = None;
    }
    let planned: HashSet<ObjectId> = plan.ids().collect();
    let mut writer = store.begin_write()?;
    let stats = encode_plan(&source, &plan, options.level, &mut |header, payload| {
        Ok(writer.add_raw(header.kind, header.id, header.encoding, header.size, &payload)?)
    })?;
    report.reachable = stats.blobs + stats.trees + stats.commits;
    report.deltas = stats.deltas;
    for (id, kind) in store.all_objects()? {
        if planned.contains(&id) {
            continue;
        }
        let data = match kind {
            ObjectKind::Commit => store.read_commit(&CommitId(id))?.encode(),
            _ => store.read(&id)?.data,
        };
        writer.add_raw(kind, id, Encoding::Zstd, data.len() as u64, &compress(&data, None, options.level))?;
        report.unreachable_kept += 1;
    }
    report.objects = report.reachable + report.unreachable_kept;
    let new_pack = writer.finish()?;
    let old: Vec<PathBuf> = before.into_iter().map(|p| p.path).filter(|p| Some(p) != new_pack.as_ref()).collect();
    store.remove_packs(&old)?;
    report.bytes_after = store.packs()?.iter().map(|p| p.bytes).sum();
    report.temp_files_removed = remove_dead_temp_files(store.tmp_dir())?;
    Ok(report)
}

/// The commits gc treats as reachable roots: every branch and tag, and each working copy's HEAD.
fn roots(repo: &Repository) -> Result<Vec<CommitId>> {
    let mut roots: Vec<CommitId> = Vec::new();
    for prefix in ["refs/heads/", "refs/tags/"] {
        roots.extend(repo.refs().list(prefix)?.into_iter().map(|(_, id)| id));
    }
    roots.extend(repo.head_commit()?);
    for (_, dir) in repo.workspaces()? {
        // A workspace whose directory is gone has no HEAD to protect; its commits are kept anyway.
        if let Ok(Some(id)) = Repository::open(&dir).and_then(|ws| ws.head_commit()) {
            roots.push(id);
        }
    }
    roots.sort();
    roots.dedup();
    Ok(roots)
}

/// Removes files in `tmp` whose writer (the pid in their `stem-pid-…` name) no longer runs.
fn remove_dead_temp_files(tmp: &Path) -> Result<u64> {
    let mut removed = 0;
    let entries = fs::read_dir(tmp).map_err(|e| PackError::io("list", tmp.display(), e))?;
    for entry in entries {
        let path = entry.map_err(|e| PackError::io("list", tmp.display(), e))?.path();
        let pid = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.split('-').nth(1)).and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|pid| !process_runs(pid)) && fs::remove_file(&path).is_ok() {
            removed += 1;
        }
    }
    Ok(removed)
}

fn process_runs(pid: u32) -> bool {
    pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists()
}

/// `.muse/gc.lock`, held while a gc runs, so two never remove each other's packs.
struct GcLock {
    path: PathBuf,
}

impl GcLock {
    fn acquire(store_dir: &Path) -> Result<GcLock> {
        let path = store_dir.join("gc.lock");
        for _ in 0..2 {
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut file) => {
                    file.write_all(format!("{}\n", std::process::id()).as_bytes()).map_err(|e| PackError::io("write", path.display(), e))?;
                    return Ok(GcLock { path });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let holder = fs::read_to_string(&path).ok().and_then(|t| t.trim().parse::<u32>().ok());
                    if holder.is_some_and(process_runs) {
                        break;
                    }
                    // The holder died: break its lock and try once more.
                    let _ = fs::remove_file(&path);
                }
                Err(e) => return Err(PackError::io("create", path.display(), e)),
            }
        }
        Err(PackError::Locked(path))
    }
}

impl Drop for GcLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}
