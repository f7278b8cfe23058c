//! `gc`: rewrite every pack of a store into one, with deltas, and remove leftover temporary files
//! of writers that died.
//!
//! Everything reachable from the refs and from the HEAD of every working copy is planned as for a
//! clone (path-based deltas, chains at most [`MAX_DELTA_DEPTH`] long). Unreachable objects are
//! kept, copied whole: a concurrent commit's objects are unreachable until its ref moves, so
//! dropping them would race with it. The old packs are removed only after the new one is durable;
//! a crash in between leaves duplicates, never a loss.

use std::collections::HashSet;
use std::path::PathBuf;

use muse_core::{CommitId, ObjectId};
use muse_store::odb::Encoding;
use muse_store::{ObjectKind, Store};

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
    /// Temporary files of dead writers removed (`objects/tmp`, and the hidden `.tmp` files of
    /// interrupted ref, HEAD, config and stat-cache replacements).
    pub temp_files_removed: u64,
}

/// Repacks the store of `repo` into one pack.
pub fn gc(repo: &Store, options: &BuildOptions) -> Result<GcReport> {
    // The repack lock keeps a commit's pack consolidation (or another gc) from removing packs
    // this gc reads, and this gc from removing packs they read.
    let _lock = repo.objects().repack_lock(true)?.ok_or_else(|| PackError::Locked(repo.store_dir().join("objects/packs/repack.lock")))?;
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
    report.temp_files_removed = repo.remove_dead_temp_files()? as u64;
    Ok(report)
}

/// The commits gc treats as reachable roots: every branch and tag, and each working copy's HEAD.
fn roots(repo: &Store) -> Result<Vec<CommitId>> {
    let mut roots: Vec<CommitId> = Vec::new();
    for prefix in ["refs/heads/", "refs/tags/"] {
        roots.extend(repo.refs().list(prefix)?.into_iter().map(|(_, id)| id));
    }
    // Every working copy's HEAD, read from the store (its directory may be gone).
    roots.extend(repo.head_commits()?);
    roots.sort();
    roots.dedup();
    Ok(roots)
}
