//! `gc`: rewrite every pack of a store into one, with deltas; prune objects that have been
//! unreachable for longer than a grace period; remove the temporary files of writers that died.
//!
//! Everything reachable from the roots ([`roots`]: every ref, every working copy's HEAD, what
//! the op log may restore) is
//! planned as for a clone (path-based deltas, chains at most [`STORE_MAX_DEPTH`] long) into one
//! new pack. An unreachable object is dropped only if every pack holding it is older than the
//! grace period ([`Prune`]) and older than [`MIN_PRUNE_AGE`]; the others are copied whole into
//! "cruft" packs that keep the age of the packs they came from. Before the old packs are
//! removed, the roots and the old packs' times are read again, and whatever a writer started to
//! reference meanwhile is rescued (docs/formats.md §5 states the rule and what it cannot
//! guard). The old packs are removed only after the new ones are durable; a crash in between
//! leaves duplicates, never a loss.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::OpenOptions;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use muse_core::{CommitId, ObjectId, TreeId};
use muse_store::odb::{Encoding, PackInfo, PackWriter, MAX_DELTA_DEPTH as STORE_MAX_DEPTH};
use muse_store::{ObjectKind, ObjectStore, Store};

use crate::build::{encode_plan, plan, BuildOptions, Source};
use crate::compress::compress;
use crate::error::{PackError, Result};

/// Unreachable objects in packs younger than this are kept even by `--prune=now`: a writer
/// publishes its pack before it moves its ref (which may wait up to 10 s for a ref lock), and
/// until then its objects are unreachable.
pub const MIN_PRUNE_AGE: Duration = Duration::from_secs(60);

/// The default grace period: two weeks, as git's `gc.pruneExpire`.
pub const DEFAULT_PRUNE_EXPIRE: Duration = Duration::from_secs(14 * 24 * 3600);

/// Which unreachable objects `gc` drops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Prune {
    /// Keep every unreachable object.
    Never,
    /// Drop unreachable objects whose packs are older than this (and than [`MIN_PRUNE_AGE`]).
    OlderThan(Duration),
}

impl Default for Prune {
    fn default() -> Self {
        Prune::OlderThan(DEFAULT_PRUNE_EXPIRE)
    }
}

impl Prune {
    /// Parses a `--prune` value or the `gc.pruneExpire` setting: `now`, `never`, or a duration
    /// `N` followed by a unit (`s`, `m`, `h`, `d`, `w`, or their long forms `second(s)`,
    /// `minute(s)`, `hour(s)`, `day(s)`, `week(s)`), optionally written git's way with dots and
    /// `ago` (`2.weeks.ago`). Returns `None` for anything else.
    pub fn parse(text: &str) -> Option<Prune> {
        let text = text.trim().to_ascii_lowercase();
        match text.as_str() {
            "now" => return Some(Prune::OlderThan(Duration::ZERO)),
            "never" => return Some(Prune::Never),
            _ => {}
        }
        let text = text.strip_suffix(".ago").or_else(|| text.strip_suffix(" ago")).unwrap_or(&text);
        let digits = text.bytes().take_while(u8::is_ascii_digit).count();
        let number: u64 = text[..digits].parse().ok()?;
        let unit = text[digits..].trim_start_matches(['.', ' ']);
        let seconds = match unit {
            "s" | "sec" | "second" | "seconds" => 1,
            "m" | "min" | "minute" | "minutes" => 60,
            "h" | "hour" | "hours" => 3600,
            "d" | "day" | "days" => 86_400,
            "w" | "week" | "weeks" => 7 * 86_400,
            _ => return None,
        };
        Some(Prune::OlderThan(Duration::from_secs(number.checked_mul(seconds)?)))
    }
}

/// How to gc.
#[derive(Clone, Copy)]
pub struct GcOptions<'a> {
    /// How to encode the new pack. Its chains may be as long as the store's readers follow
    /// ([`muse_store::odb::MAX_DELTA_DEPTH`], the default here), longer than an mpack's.
    pub build: BuildOptions,
    /// Which unreachable objects to drop.
    pub prune: Prune,
    /// Called once the new packs are durable, before the roots and the old packs' times are
    /// read again and the old packs removed (for tests: what a concurrent writer does then).
    pub hook: Option<&'a dyn Fn()>,
}

impl Default for GcOptions<'_> {
    fn default() -> Self {
        GcOptions { build: BuildOptions { max_depth: STORE_MAX_DEPTH as u32, ..BuildOptions::default() }, prune: Prune::default(), hook: None }
    }
}

/// What a gc did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct GcReport {
    /// Packs before.
    pub packs_before: usize,
    /// Bytes of all packs before.
    pub bytes_before: u64,
    /// Objects kept (in the new packs).
    pub objects: u64,
    /// Of which reachable from a ref or HEAD.
    pub reachable: u64,
    /// Of which stored as deltas.
    pub deltas: u64,
    /// Unreachable objects kept (copied whole): younger than the grace period.
    pub unreachable_kept: u64,
    /// Unreachable objects dropped.
    pub pruned: u64,
    /// Packs after.
    pub packs_after: usize,
    /// Bytes of all packs after.
    pub bytes_after: u64,
    /// Temporary files of dead writers removed (`objects/tmp`, and the hidden `.tmp` files of
    /// interrupted ref, HEAD, config and stat-cache replacements).
    pub temp_files_removed: u64,
}

/// Repacks the store of `repo` and prunes what `options.prune` allows.
pub fn gc(repo: &Store, options: &GcOptions<'_>) -> Result<GcReport> {
    // The repack lock keeps a commit's pack consolidation (or another gc) from removing packs
    // this gc reads, and this gc from removing packs they read.
    let _lock = repo.objects().repack_lock(true)?.ok_or_else(|| PackError::Locked(repo.store_dir().join("objects/packs/repack.lock")))?;
    // An import publishes packs long before it moves refs: while one runs, nothing is pruned
    // (and none starts until this gc is done).
    let (import_idle, _import_lock) = import_lock(repo)?;
    let first_roots = roots(repo, options.prune)?;
    let prune = if import_idle { options.prune } else { Prune::Never };
    let store = repo.objects();
    let started = SystemTime::now();
    let before = store.packs()?;
    let mut report = GcReport { packs_before: before.len(), bytes_before: before.iter().map(|p| p.bytes).sum(), ..GcReport::default() };
    let source = Source::new(store);
    // Every base precedes its deltas in the plan, so the new pack names each by offset.
    // Deltas chosen anew (no reuse): gc is where the store's encoding is improved.
    let plan = plan(&source, &first_roots, &[], options.build.max_depth.min(STORE_MAX_DEPTH as u32), false)?;
    let mut kept: HashSet<ObjectId> = plan.ids().collect();
    let mut new_packs = Vec::new();
    let mut writer = store.begin_write()?;
    let stats = encode_plan(&source, &plan, options.build.level, &mut |header, payload| {
        Ok(writer.add_raw(header.kind, header.id, header.encoding, header.size, &payload)?)
    })?;
    drop(plan);
    new_packs.extend(writer.finish()?);
    report.reachable = stats.blobs + stats.trees + stats.commits;
    report.deltas = stats.deltas;

    // Unreachable objects: the newest time of the packs holding each.
    let mut unreachable: HashMap<ObjectId, (ObjectKind, SystemTime)> = HashMap::new();
    for pack in &before {
        for (id, kind) in store.pack_objects(&pack.path)? {
            if !kept.contains(&id) {
                let entry = unreachable.entry(id).or_insert((kind, pack.modified));
                entry.1 = entry.1.max(pack.modified);
            }
        }
    }
    // Kept ones go to cruft packs, one per day of age, each dated like its newest source.
    let mut cruft: BTreeMap<u64, (SystemTime, Vec<(ObjectId, ObjectKind)>)> = BTreeMap::new();
    let mut dropped: HashSet<ObjectId> = HashSet::new();
    for (id, (kind, modified)) in unreachable {
        if prunable(prune, started, modified) {
            dropped.insert(id);
        } else {
            let day = modified.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs() / 86_400).unwrap_or(0);
            let group = cruft.entry(day).or_insert((modified, Vec::new()));
            group.0 = group.0.max(modified);
            group.1.push((id, kind));
        }
    }
    for (modified, mut objects) in cruft.into_values() {
        objects.sort_unstable_by_key(|(id, _)| *id);
        let mut writer = store.begin_write()?;
        for (id, kind) in objects {
            copy_whole(store, &mut writer, id, kind, options.build.level)?;
            kept.insert(id);
            report.unreachable_kept += 1;
        }
        if let Some(path) = writer.finish()? {
            store.set_pack_modified(&path, modified)?;
            new_packs.push(path);
        }
    }

    // What writers did meanwhile: a ref moved to a commit that reaches a dropped object, or a
    // writer reused an object of an old pack (and freshened it). Rescue those.
    if let Some(hook) = options.hook {
        hook();
    }
    if !dropped.is_empty() {
        let rescued = rescue(store, &roots(repo, options.prune)?, &first_roots, &before, &kept, &dropped)?;
        if !rescued.is_empty() {
            let mut writer = store.begin_write()?;
            for (id, kind) in &rescued {
                copy_whole(store, &mut writer, *id, *kind, options.build.level)?;
                dropped.remove(id);
                report.unreachable_kept += 1;
            }
            new_packs.extend(writer.finish()?);
        }
    }
    report.pruned = dropped.len() as u64;
    report.objects = report.reachable + report.unreachable_kept;
    let old: Vec<PathBuf> = before.into_iter().map(|p| p.path).filter(|p| !new_packs.contains(p)).collect();
    store.remove_packs(&old)?;
    let after = store.packs()?;
    report.packs_after = after.len();
    report.bytes_after = after.iter().map(|p| p.bytes).sum();
    report.temp_files_removed = repo.remove_dead_temp_files()? as u64;
    Ok(report)
}

/// Whether an unreachable object whose newest pack was written at `modified` may be dropped.
fn prunable(prune: Prune, now: SystemTime, modified: SystemTime) -> bool {
    match prune {
        Prune::Never => false,
        Prune::OlderThan(expire) => now.duration_since(modified).is_ok_and(|age| age > expire.max(MIN_PRUNE_AGE)),
    }
}

/// Copies an object whole (compressed at `level`) into `writer`.
fn copy_whole(store: &ObjectStore, writer: &mut PackWriter<'_>, id: ObjectId, kind: ObjectKind, level: i32) -> Result<()> {
    let data = match kind {
        ObjectKind::Commit => store.read_commit(&CommitId(id))?.encode(),
        _ => store.read(&id)?.data,
    };
    writer.add_raw(kind, id, Encoding::Zstd, data.len() as u64, &compress(&data, None, level))?;
    Ok(())
}

/// The dropped objects a writer may have started to reference since the gc began: every one in
/// an old pack whose time moved (a writer found an object there and freshened it), and every
/// one reachable from roots that were not roots at the start.
fn rescue(
    store: &ObjectStore,
    roots: &[CommitId],
    first_roots: &[CommitId],
    before: &[PackInfo],
    kept: &HashSet<ObjectId>,
    dropped: &HashSet<ObjectId>,
) -> Result<Vec<(ObjectId, ObjectKind)>> {
    let mut rescued: BTreeMap<ObjectId, ObjectKind> = BTreeMap::new();
    let now: HashMap<PathBuf, SystemTime> = store.packs()?.into_iter().map(|p| (p.path, p.modified)).collect();
    for pack in before {
        if now.get(&pack.path).is_some_and(|t| *t != pack.modified) {
            for (id, kind) in store.pack_objects(&pack.path)? {
                if dropped.contains(&id) {
                    rescued.insert(id, kind);
                }
            }
        }
    }
    // Walk what the new roots reach, stopping at kept objects (a kept commit or tree has its
    // whole closure kept).
    let mut commits: Vec<CommitId> = roots.iter().filter(|r| !first_roots.contains(r)).copied().collect();
    let mut trees: Vec<TreeId> = Vec::new();
    let mut seen: HashSet<ObjectId> = HashSet::new();
    while let Some(id) = commits.pop() {
        if kept.contains(&id.0) || !seen.insert(id.0) {
            continue;
        }
        if dropped.contains(&id.0) {
            rescued.insert(id.0, ObjectKind::Commit);
        }
        let commit = store.read_commit(&id)?;
        commits.extend(commit.parents);
        trees.push(commit.snapshot);
    }
    while let Some(id) = trees.pop() {
        if kept.contains(&id.0) || !seen.insert(id.0) {
            continue;
        }
        if dropped.contains(&id.0) {
            rescued.insert(id.0, ObjectKind::Tree);
        }
        for entry in store.read_tree(&id)?.entries() {
            if entry.kind.is_blob() {
                if dropped.contains(&entry.id) {
                    rescued.insert(entry.id, ObjectKind::Blob);
                }
            } else {
                trees.push(TreeId(entry.id));
            }
        }
    }
    Ok(rescued.into_iter().collect())
}

/// Whether no import runs (then the import lock, if any import ever ran, is held until the
/// returned handle is dropped, so that none starts meanwhile).
fn import_lock(repo: &Store) -> Result<(bool, Option<std::fs::File>)> {
    let path = repo.store_dir().join("import").join("lock");
    let file = match OpenOptions::new().write(true).open(&path) {
        Ok(file) => file,
        // No import ever ran. One starting now creates the lock and writes its objects into new
        // packs, which this gc neither reads nor removes.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((true, None)),
        Err(e) => return Err(PackError::io("open", path.display(), e)),
    };
    match file.try_lock() {
        Ok(()) => Ok((true, Some(file))),
        Err(std::fs::TryLockError::WouldBlock) => Ok((false, None)),
        Err(std::fs::TryLockError::Error(e)) => Err(PackError::io("lock", path.display(), e)),
    }
}

/// How long the op log protects the commits it names: operations of the last 90 days (git's
/// `gc.reflogExpire`), or of the grace period if that is longer.
pub const OPLOG_KEEP: Duration = Duration::from_secs(90 * 24 * 3600);

/// The commits gc keeps with everything they reach: every ref (branches, tags, any other
/// namespace), each working copy's HEAD (read from the store: its directory may be gone), and
/// every commit named by an operation the op log may still undo or restore
/// ([`muse_store::oplog::retained_commits`]). This is the one place gc's roots are gathered.
pub fn roots(repo: &Store, prune: Prune) -> Result<Vec<CommitId>> {
    let mut roots: Vec<CommitId> = repo.refs().list("refs/")?.into_iter().map(|(_, id)| id).collect();
    roots.extend(repo.head_commits()?);
    let keep = match prune {
        Prune::Never => Duration::MAX,
        Prune::OlderThan(expire) => expire.max(OPLOG_KEEP),
    };
    roots.extend(muse_store::oplog::retained_commits(repo, keep)?);
    roots.sort();
    roots.dedup();
    Ok(roots)
}
