//! Checkout, all or nothing: moving a working copy from one snapshot to another.
//!
//! 1. **Plan.** Diff the two snapshots, look at every path that differs (and at its parent
//!    directories) on disk, and collect *every* obstacle before touching anything: uncommitted
//!    changes, untracked or ignored files in the way, directories that are not empty, symbolic
//!    links where a directory must be (never written through), directories that cannot be
//!    written, names that alias under case folding. Any obstacle: nothing is changed.
//! 2. **Record.** Write the "operation in progress" record ([`super::operation`]) durably.
//! 3. **Stage.** Write every new file's content into a staging directory on the same file
//!    system; nothing visible has changed yet (a full disk fails here, harmlessly).
//! 4. **Apply.** Removals, then renames of staged files into place, then refs and HEAD, then the
//!    record is removed. A failure while applying rolls the files back (every old content is
//!    in the `from` snapshot, and no path with uncommitted changes was touched unless forced).
//!
//! After a crash the record stays; [`roll_back`] and [`finish`] (`muse recover [--continue]`)
//! bring the tree to one side or the other from what is on disk.

use std::collections::{HashMap, HashSet};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use muse_core::{EntryKind, ObjectId, TreeId};
use rayon::prelude::*;

use super::operation::{pending, remove_record, same_device, write_record, Pending, RefMove};
use super::statcache::{CacheEntry, StatCache, WorkInfo};
use super::walk::{kind_of, FileStat, STAGING_PREFIX};
use super::{cache_path, hash_path, now_ns, scan};
use crate::error::{IoContext, Result, StoreError};
use crate::fsutil::unique_name;
use crate::repo::Repository;
use crate::snapshot::{diff_snapshots, flatten, Change, PathState};
use crate::store::Head;

/// What a checkout did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CheckoutStats {
    /// Files written (added or changed).
    pub written: usize,
    /// Files removed.
    pub removed: usize,
    /// Uncommitted changes carried over untouched.
    pub carried: usize,
}

/// Why a path stops a checkout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// A tracked file has uncommitted changes (or was deleted) and differs between the snapshots.
    Modified,
    /// An untracked file stands where the target snapshot has a file.
    Untracked,
    /// An ignored file stands where the target snapshot has a file.
    Ignored,
    /// A file stands where the target snapshot needs a directory.
    FileInTheWay,
    /// A symbolic link stands where a directory is needed: muse never writes through one.
    Symlink,
    /// A directory holding files of its own stands where the target snapshot has a file.
    DirectoryNotEmpty,
    /// A directory whose entries must change cannot be written.
    NotWritable,
    /// Two names differ only in case, and this file system folds case.
    CaseCollision,
}

impl Reason {
    /// Whether `--force` may discard what is in the way.
    pub fn forceable(self) -> bool {
        matches!(self, Reason::Modified | Reason::Untracked | Reason::Ignored | Reason::FileInTheWay)
    }

    fn describe(self) -> &'static str {
        match self {
            Reason::Modified => "uncommitted changes would be overwritten",
            Reason::Untracked => "an untracked file would be overwritten",
            Reason::Ignored => "an ignored file would be overwritten",
            Reason::FileInTheWay => "a file stands where a directory must go",
            Reason::Symlink => "a symbolic link stands where a directory must be (muse never writes through one)",
            Reason::DirectoryNotEmpty => "a directory with other files in it stands where a file must go",
            Reason::NotWritable => "the directory is not writable",
            Reason::CaseCollision => "another name differs only in case, and this file system folds case",
        }
    }
}

/// One thing in the way of a checkout.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Obstacle {
    /// The path (`/`-separated, relative to the working-copy root).
    pub path: String,
    /// Why.
    pub reason: Reason,
}

impl std::fmt::Display for Obstacle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.path, self.reason.describe())
    }
}

/// A checkout to run: the snapshots, HEAD afterwards and the refs that move with the files.
#[derive(Debug, Clone)]
pub struct Transition {
    /// What runs, for the record and messages: `switch`, `clone`, `import`, `bundle apply`, …
    pub kind: String,
    /// The snapshot the working copy holds (its base).
    pub from: TreeId,
    /// The snapshot to check out.
    pub to: TreeId,
    /// HEAD afterwards (`None`: HEAD stays as it is).
    pub head_after: Option<Head>,
    /// Refs moved with the files (after them, before HEAD). A ref already at its new value is
    /// left alone, so callers that moved refs before the checkout list them too: a roll-back
    /// then moves them back.
    pub refs: Vec<RefMove>,
    /// Discard uncommitted changes and untracked files in the way (never symbolic links,
    /// non-empty directories, unwritable directories or case collisions).
    pub force: bool,
}

/// Moves the working copy from snapshot `from` to snapshot `to`, HEAD unchanged (see
/// [`transition`]).
pub fn checkout(repo: &Repository, from: TreeId, to: TreeId, force: bool) -> Result<CheckoutStats> {
    let t = Transition { kind: "checkout".into(), from, to, head_after: None, refs: Vec::new(), force };
    transition(repo, &t)
}

/// What a path holds on disk, as far as a checkout cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnDisk {
    Absent,
    Dir,
    /// A file or symlink with this content; `tracked_view` is false when the scan did not see
    /// it (ignored, or under a nested repository).
    Entry(PathState, bool),
}

/// One change to make: `want` is the path's content afterwards (`None`: removed).
#[derive(Debug, Clone)]
struct Step {
    path: String,
    want: Option<PathState>,
}

/// Looks at directories on disk without following symbolic links, remembering what it saw.
struct Disk<'r> {
    root: &'r Path,
    kinds: HashMap<String, Option<fs::FileType>>,
    writable: HashMap<String, bool>,
}

impl<'r> Disk<'r> {
    fn new(root: &'r Path) -> Self {
        Disk { root, kinds: HashMap::new(), writable: HashMap::new() }
    }

    /// The type of `rel` (`None`: absent), by `lstat`.
    fn kind(&mut self, rel: &str) -> Option<fs::FileType> {
        if let Some(k) = self.kinds.get(rel) {
            return *k;
        }
        let k = fs::symlink_metadata(self.root.join(rel)).ok().map(|m| m.file_type());
        self.kinds.insert(rel.to_string(), k);
        k
    }

    /// The first ancestor of `rel` that is not a real directory: `(ancestor, its type)`, or
    /// `None` when every ancestor is a directory or the first non-directory is absent.
    fn blocked_parent(&mut self, rel: &str) -> Option<(String, fs::FileType)> {
        for (i, _) in rel.match_indices('/') {
            let dir = &rel[..i];
            match self.kind(dir) {
                Some(k) if k.is_dir() => continue,
                Some(k) => return Some((dir.to_string(), k)),
                None => return None,
            }
        }
        None
    }

    /// Whether every ancestor of `rel` exists as a real directory.
    fn parents_real(&mut self, rel: &str) -> bool {
        rel.match_indices('/').all(|(i, _)| self.kind(&rel[..i]).is_some_and(|k| k.is_dir()))
    }

    /// Whether entries can be created and removed in the nearest existing ancestor of `rel`.
    fn can_change_entry(&mut self, rel: &str) -> (bool, String) {
        let mut dir = rel.rsplit_once('/').map_or("", |(d, _)| d);
        loop {
            if dir.is_empty() || self.kind(dir).is_some_and(|k| k.is_dir()) {
                break;
            }
            dir = dir.rsplit_once('/').map_or("", |(d, _)| d);
        }
        if let Some(&ok) = self.writable.get(dir) {
            return (ok, dir.to_string());
        }
        let abs = if dir.is_empty() { self.root.to_path_buf() } else { self.root.join(dir) };
        let ok = rustix::fs::access(&abs, rustix::fs::Access::WRITE_OK | rustix::fs::Access::EXEC_OK).is_ok();
        self.writable.insert(dir.to_string(), ok);
        (ok, dir.to_string())
    }

    /// What `rel` holds, reading the file when it is one (its parents must be real
    /// directories: nothing is read through a symbolic link).
    fn probe(&mut self, rel: &str) -> Result<OnDisk> {
        if !self.parents_real(rel) {
            return Ok(OnDisk::Absent);
        }
        let path = self.root.join(rel);
        let Ok(meta) = fs::symlink_metadata(&path) else { return Ok(OnDisk::Absent) };
        if meta.is_dir() {
            return Ok(OnDisk::Dir);
        }
        let Some(kind) = kind_of(&meta) else { return Ok(OnDisk::Dir) };
        Ok(match hash_path(&path, kind, None)? {
            Some((id, _)) => OnDisk::Entry((kind, id), false),
            None => OnDisk::Absent,
        })
    }
}

/// Whether the file system of `root` folds case: `.muse` (which every working copy has) is
/// also found as `.MUSE`, as the same file.
fn folds_case(root: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::symlink_metadata(root.join(crate::repo::DOT_MUSE)), fs::symlink_metadata(root.join(".MUSE"))) {
        (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
        _ => false,
    }
}

/// Adds the case collisions among `written` (paths about to be created) when the file system
/// folds case, then fails with every obstacle at once, sorted, if there is any.
fn refuse_if_blocked<'p>(root: &Path, written: impl IntoIterator<Item = &'p str>, mut obstacles: Vec<Obstacle>) -> Result<()> {
    if folds_case(root) {
        obstacles.extend(case_collisions(written).into_iter().map(|path| Obstacle { path, reason: Reason::CaseCollision }));
    }
    if obstacles.is_empty() {
        return Ok(());
    }
    obstacles.sort_by(|a, b| a.path.cmp(&b.path).then((a.reason as u8).cmp(&(b.reason as u8))));
    obstacles.dedup();
    Err(StoreError::Blocked { obstacles })
}

/// Paths (files and the directories above them) of `paths` that fold to the same name as
/// another one. Lower-casing stands in for the file system's folding (which may be wider).
pub fn case_collisions<'p>(paths: impl IntoIterator<Item = &'p str>) -> Vec<String> {
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut out = Vec::new();
    for path in paths {
        let ends = path.match_indices('/').map(|(i, _)| i).chain(std::iter::once(path.len()));
        for end in ends {
            let prefix = &path[..end];
            let folded = prefix.to_lowercase();
            match seen.get(&folded) {
                Some(first) if first != prefix => {
                    out.push(first.clone());
                    out.push(prefix.to_string());
                }
                Some(_) => {}
                None => {
                    seen.insert(folded, prefix.to_string());
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Whether the tree under directory `dir` (relative) holds only files in `removable`.
fn only_removable(root: &Path, dir: &str, removable: &HashSet<&str>) -> bool {
    let Ok(entries) = fs::read_dir(root.join(dir)) else { return false };
    for entry in entries {
        let Ok(entry) = entry else { return false };
        let Some(name) = entry.file_name().to_str().map(str::to_string) else { return false };
        let rel = format!("{dir}/{name}");
        match entry.file_type() {
            Ok(t) if t.is_dir() => {
                if !only_removable(root, &rel, removable) {
                    return false;
                }
            }
            Ok(_) if removable.contains(rel.as_str()) => {}
            _ => return false,
        }
    }
    true
}

/// How a plan treats a path holding neither side's content.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// A checkout: it is an obstacle (or discarded, forced).
    Checkout { force: bool },
    /// A recovery: it is the user's, and stays as it is.
    Recover,
}

/// The steps that bring every path of `diff` to its `want` side, or every obstacle.
/// `state` tells what a path holds; paths holding content of neither side are obstacles
/// (checkout) or kept and returned (recovery).
fn plan(
    root: &Path,
    diff: &[Change],
    to_new: bool,
    mode: Mode,
    state: &mut dyn FnMut(&mut Disk<'_>, &str) -> Result<OnDisk>,
) -> Result<(Vec<Step>, Vec<String>)> {
    let mut disk = Disk::new(root);
    let side = |c: &Change| if to_new { (c.new, c.old) } else { (c.old, c.new) };
    let force = matches!(mode, Mode::Checkout { force: true });
    let mut obstacles: Vec<Obstacle> = Vec::new();
    let mut steps: Vec<Step> = Vec::new();
    let mut kept = Vec::new();
    let mut states: Vec<OnDisk> = Vec::with_capacity(diff.len());
    for c in diff {
        states.push(state(&mut disk, &c.path)?);
    }
    // Files that go away (clean, or forced): directories holding only these may be replaced.
    let removable: HashSet<&str> = diff
        .iter()
        .zip(&states)
        .filter(|(c, s)| side(c).0.is_none() && matches!(s, OnDisk::Entry(state, _) if Some(*state) == side(c).1 || force))
        .map(|(c, _)| c.path.as_str())
        .collect();
    let is_removed = |path: &str| removable.contains(path);
    let mut extra_removals: HashSet<String> = HashSet::new();
    for (c, s) in diff.iter().zip(&states) {
        let (want, other) = side(c);
        let mut block = |reason: Reason| obstacles.push(Obstacle { path: c.path.clone(), reason });
        let act = match *s {
            OnDisk::Entry(state, _) if Some(state) == want => false,
            OnDisk::Entry(state, _) if Some(state) == other => true,
            OnDisk::Entry(_, seen) => match mode {
                Mode::Recover => {
                    kept.push(c.path.clone());
                    false
                }
                Mode::Checkout { force } => {
                    if !force {
                        block(if other.is_some() {
                            Reason::Modified
                        } else if seen {
                            Reason::Untracked
                        } else {
                            Reason::Ignored
                        });
                    }
                    true
                }
            },
            OnDisk::Absent => match (other, want, mode) {
                (_, None, _) => false,
                (None, Some(_), _) | (Some(_), Some(_), Mode::Recover) => true,
                (Some(_), Some(_), Mode::Checkout { force }) => {
                    if !force {
                        block(Reason::Modified);
                    }
                    true
                }
            },
            OnDisk::Dir => {
                if want.is_some() && !only_removable(root, &c.path, &removable) {
                    block(Reason::DirectoryNotEmpty);
                }
                want.is_some()
            }
        };
        if !act {
            continue;
        }
        if want.is_some() {
            if let Some((dir, kind)) = disk.blocked_parent(&c.path) {
                if !is_removed(&dir) {
                    let reason = if kind.is_symlink() { Reason::Symlink } else { Reason::FileInTheWay };
                    if reason == Reason::Symlink || !force {
                        obstacles.push(Obstacle { path: dir.clone(), reason });
                    } else {
                        extra_removals.insert(dir);
                    }
                }
            }
        } else if !disk.parents_real(&c.path) {
            // What it removes is not there (a parent is gone or is not a directory).
            continue;
        }
        let (writable, dir) = disk.can_change_entry(&c.path);
        if !writable {
            obstacles.push(Obstacle { path: if dir.is_empty() { ".".into() } else { dir }, reason: Reason::NotWritable });
        }
        steps.push(Step { path: c.path.clone(), want });
    }
    refuse_if_blocked(root, diff.iter().filter(|c| side(c).0.is_some()).map(|c| c.path.as_str()), obstacles)?;
    steps.extend(extra_removals.into_iter().map(|path| Step { path, want: None }));
    steps.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    Ok((steps, kept))
}

/// The test hook (docs/cli.md, "Interrupted operations"): `MUSE_TEST_CRASH_AFTER=POINT` aborts
/// the process at POINT of a checkout, as `kill -9` would stop it; `fail:POINT` makes the
/// checkout fail there with an I/O error instead. POINT is `record`, `staged`, `head`, or N
/// (after the N-th visible change: a removal or a rename).
struct Hook(Option<String>);

impl Hook {
    fn from_env() -> Hook {
        Hook(std::env::var("MUSE_TEST_CRASH_AFTER").ok())
    }

    fn at(&self, point: &str) -> Result<()> {
        match self.0.as_deref() {
            Some(v) if v == point => std::process::abort(),
            Some(v) if v.strip_prefix("fail:") == Some(point) => {
                Err(StoreError::Io { op: "test", path: PathBuf::from(point), source: std::io::Error::other("failure injected by MUSE_TEST_CRASH_AFTER") })
            }
            _ => Ok(()),
        }
    }
}

/// Writes every step's new content into `staging` (nothing visible changes), then applies
/// removals and renames. Returns the stat of each written path.
fn execute(repo: &Repository, steps: &[Step], staging: &Path, hook: &Hook) -> Result<(Vec<(String, WorkInfo)>, usize)> {
    let root = repo.work_dir();
    fs::create_dir_all(staging).ctx("create", staging)?;
    steps.par_iter().enumerate().filter(|(_, s)| s.want.is_some()).try_for_each(|(i, s)| {
        let (kind, id) = s.want.expect("filtered");
        stage_file(repo, &staging.join(i.to_string()), kind, &id)
    })?;
    hook.at("staged")?;
    let mut changed = 0usize;
    let mut tick = || {
        changed += 1;
        if hook.0.is_some() {
            hook.at(&changed.to_string())
        } else {
            Ok(())
        }
    };
    let mut disk = Disk::new(root);
    let mut removed = 0;
    for s in steps.iter().rev().filter(|s| s.want.is_none()) {
        if !disk.parents_real(&s.path) {
            continue;
        }
        let path = root.join(&s.path);
        match fs::symlink_metadata(&path) {
            Ok(m) if !m.is_dir() => {
                fs::remove_file(&path).ctx("remove", &path)?;
                removed += 1;
                tick()?;
                prune_empty_parents(root, &path);
            }
            _ => {}
        }
    }
    disk.kinds.clear();
    let mut written = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        let Some((kind, id)) = s.want else { continue };
        make_parents(root, &s.path, &mut disk)?;
        let path = root.join(&s.path);
        if fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
            fs::remove_dir(&path).ctx("remove", &path)?;
        }
        let staged = staging.join(i.to_string());
        fs::rename(&staged, &path).ctx("rename", &path)?;
        tick()?;
        let stat = FileStat::of(&fs::symlink_metadata(&path).ctx("stat", &path)?);
        written.push((s.path.clone(), WorkInfo { kind, id, stat }));
    }
    Ok((written, removed))
}

/// Creates the directories above `rel`, one at a time, refusing anything but a directory.
fn make_parents(root: &Path, rel: &str, disk: &mut Disk<'_>) -> Result<()> {
    for (i, _) in rel.match_indices('/') {
        let dir = &rel[..i];
        match disk.kind(dir) {
            Some(k) if k.is_dir() => {}
            Some(_) => return Err(StoreError::Blocked { obstacles: vec![Obstacle { path: dir.to_string(), reason: Reason::FileInTheWay }] }),
            None => {
                let abs = root.join(dir);
                match fs::create_dir(&abs) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && fs::symlink_metadata(&abs).is_ok_and(|m| m.is_dir()) => {}
                    Err(e) => return Err(StoreError::Io { op: "create", path: abs, source: e }),
                }
                disk.kinds.insert(dir.to_string(), fs::symlink_metadata(&abs).ok().map(|m| m.file_type()));
            }
        }
    }
    Ok(())
}

/// Removes the directories above `path` that became empty (never the root).
fn prune_empty_parents(root: &Path, path: &Path) {
    let mut dir = path.parent();
    while let Some(d) = dir.filter(|d| *d != root && d.starts_with(root)) {
        if fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

/// Writes one file (content and mode) or symlink at `path`, a staging name.
fn stage_file(repo: &Repository, path: &Path, kind: EntryKind, id: &ObjectId) -> Result<()> {
    let _ = fs::remove_file(path);
    if kind == EntryKind::Symlink {
        let target = repo.objects().read(id)?.data;
        muse_core::check_symlink_target(&target).map_err(|reason| StoreError::CorruptObject { id: *id, reason: format!("not a valid symlink: {reason}") })?;
        let target = String::from_utf8(target).map_err(|_| StoreError::CorruptObject { id: *id, reason: "symlink target is not UTF-8".into() })?;
        return std::os::unix::fs::symlink(&target, path).ctx("symlink", path);
    }
    let mut file = OpenOptions::new().write(true).create_new(true).open(path).ctx("create", path)?;
    let mut writer = std::io::BufWriter::with_capacity(1 << 16, &mut file);
    repo.objects().read_into(id, &mut writer)?;
    writer.flush().ctx("write", path)?;
    drop(writer);
    let mode = if kind == EntryKind::Executable { 0o755 } else { 0o644 };
    file.set_permissions(fs::Permissions::from_mode(mode)).ctx("chmod", path)
}

/// A fresh staging directory on the working copy's file system: in the state directory when
/// it shares the file system, else a hidden directory at the root (skipped by the walk).
fn new_staging(repo: &Repository) -> PathBuf {
    let name = unique_name("staging");
    if same_device(repo.state_dir(), repo.work_dir()) {
        repo.state_dir().join(name)
    } else {
        repo.work_dir().join(format!("{STAGING_PREFIX}{name}"))
    }
}

/// Removes a staging directory named by a record (only one muse made).
fn remove_staging(repo: &Repository, staging: &Path) {
    let name = staging.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let ours = (staging.parent() == Some(repo.state_dir()) && name.starts_with("staging-"))
        || (staging.parent() == Some(repo.work_dir()) && name.starts_with(STAGING_PREFIX));
    if ours {
        let _ = fs::remove_dir_all(staging);
    }
}

/// Moves each ref towards one side of its move: from the other side only, never from a value
/// someone else gave it. Returns the refs left alone.
fn move_refs(repo: &Repository, refs: &[RefMove], forward: bool) -> Result<Vec<String>> {
    let mut left = Vec::new();
    for r in refs {
        let (want, other) = if forward { (r.new, r.old) } else { (r.old, r.new) };
        let now = repo.refs().read(&r.name)?;
        if now == want {
            continue;
        }
        if now == other {
            repo.refs().compare_and_swap(&r.name, other, want)?;
        } else {
            left.push(r.name.to_string());
        }
    }
    Ok(left)
}

/// Runs a checkout all or nothing (see the module documentation). On any obstacle returns
/// [`StoreError::Blocked`] listing them all, with nothing changed.
pub fn transition(repo: &Repository, t: &Transition) -> Result<CheckoutStats> {
    super::operation::ensure_none_pending(repo, &t.kind)?;
    let root = repo.work_dir();
    let current = scan(repo, t.from, None)?;
    if !current.skipped.is_empty() {
        // What they hold is unknown, so whether they are safe to overwrite is too.
        return Err(StoreError::Unreadable(current.skipped));
    }
    let diff = diff_snapshots(repo.objects(), Some(t.from), Some(t.to))?;
    let entry_at = |path: &str| current.cache.entries.binary_search_by(|e| e.path.as_bytes().cmp(path.as_bytes())).ok();
    let (steps, _) = plan(root, &diff, true, Mode::Checkout { force: t.force }, &mut |disk, path| match entry_at(path).map(|i| &current.cache.entries[i]) {
        Some(e) => Ok(match e.work {
            Some(w) => OnDisk::Entry((w.kind, w.id), true),
            None => disk.probe(path)?,
        }),
        None => disk.probe(path),
    })?;
    let head_before = repo.head()?;
    let record = Pending {
        kind: t.kind.clone(),
        from: t.from,
        to: t.to,
        head_after: t.head_after.clone().unwrap_or_else(|| head_before.clone()),
        head_before,
        refs: t.refs.clone(),
        staging: new_staging(repo),
    };
    write_record(repo, &record)?;
    let hook = Hook::from_env();
    if let Err(e) = hook.at("record") {
        return Err(undo_after_failure(repo, &record, e));
    }
    let (written, removed) = match execute(repo, &steps, &record.staging, &hook) {
        Ok(done) => done,
        Err(e) => return Err(undo_after_failure(repo, &record, e)),
    };
    // The stat cache: what the scan knew of paths the checkout did not touch, plus every
    // written file; a path already holding its new content keeps its entry with the new base.
    let touched: HashSet<&str> = steps.iter().map(|s| s.path.as_str()).collect();
    let new_state: HashMap<&str, Option<PathState>> = diff.iter().map(|c| (c.path.as_str(), c.new)).collect();
    let carried = current.changes.iter().filter(|c| !new_state.contains_key(c.path.as_str())).count();
    let mut entries: Vec<CacheEntry> = Vec::with_capacity(current.cache.entries.len() + written.len());
    for e in current.cache.entries {
        match new_state.get(e.path.as_str()) {
            _ if touched.contains(e.path.as_str()) => {}
            None => entries.push(e),
            Some(new) => {
                if new.is_some() || e.work.is_some() {
                    entries.push(CacheEntry { base: *new, ..e });
                }
            }
        }
    }
    let stats = CheckoutStats { written: written.len(), removed, carried };
    entries.extend(written.into_iter().map(|(path, info)| CacheEntry { path, base: Some((info.kind, info.id)), work: Some(info) }));
    entries.sort_unstable_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    let cache = StatCache { base_snapshot: Some(t.to), scan_started_ns: now_ns(), entries };
    let path = cache_path(repo);
    if cache.save(&path).is_err() {
        // A cache: the next scan rebuilds it.
        let _ = fs::remove_file(&path);
    }
    let done = move_refs(repo, &record.refs, true).and_then(|left| match left.first() {
        None => repo.set_head(&record.head_after),
        Some(name) => Err(StoreError::Workspace(format!("{name} was moved by another command during the {}", t.kind))),
    });
    if let Err(e) = done {
        return Err(undo_after_failure(repo, &record, e));
    }
    hook.at("head")?;
    remove_staging(repo, &record.staging);
    remove_record(repo)?;
    Ok(stats)
}

/// After a failure while applying: roll back, and say what happened.
fn undo_after_failure(repo: &Repository, record: &Pending, error: StoreError) -> StoreError {
    match recover(repo, false) {
        Ok(_) => error,
        Err(again) => StoreError::Workspace(format!(
            "{} failed ({error}) and could not be rolled back ({again}); run `muse recover` once the cause is fixed",
            record.kind
        )),
    }
}

/// What a recovery did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RecoverReport {
    /// The interrupted operation (`switch`, …).
    pub kind: String,
    /// `rolled_back` or `finished`.
    pub outcome: &'static str,
    /// Files written.
    pub written: usize,
    /// Files removed.
    pub removed: usize,
    /// Paths holding content of neither side (changed since the interruption): left as they are.
    pub kept: Vec<String>,
    /// Refs someone else moved meanwhile: left as they are.
    pub refs_left: Vec<String>,
}

/// Rolls back the working copy's interrupted operation: files, refs and HEAD as before it.
/// `None` when no operation is pending.
pub fn roll_back(repo: &Repository) -> Result<Option<RecoverReport>> {
    recover(repo, false)
}

/// Finishes the working copy's interrupted operation: files, refs and HEAD as after it.
/// `None` when no operation is pending.
pub fn finish(repo: &Repository) -> Result<Option<RecoverReport>> {
    recover(repo, true)
}

fn recover(repo: &Repository, forward: bool) -> Result<Option<RecoverReport>> {
    let Some(record) = pending(repo)? else { return Ok(None) };
    let diff = diff_snapshots(repo.objects(), Some(record.from), Some(record.to))?;
    let (steps, kept) = plan(repo.work_dir(), &diff, forward, Mode::Recover, &mut |disk, path| disk.probe(path))?;
    remove_staging(repo, &record.staging);
    let staging = new_staging(repo);
    let result = execute(repo, &steps, &staging, &Hook(None));
    remove_staging(repo, &staging);
    let (written, removed) = result?;
    let refs_left = move_refs(repo, &record.refs, forward)?;
    repo.set_head(if forward { &record.head_after } else { &record.head_before })?;
    remove_record(repo)?;
    Ok(Some(RecoverReport { kind: record.kind, outcome: if forward { "finished" } else { "rolled_back" }, written: written.len(), removed, kept, refs_left }))
}

/// What a restore did: paths relative to the working-copy root, sorted by path bytes.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RestoreStats {
    /// Paths written with the source's content and mode.
    pub restored: Vec<String>,
    /// Paths HEAD tracks that the source lacks, removed.
    pub removed: Vec<String>,
}

/// Whether `path` is `scope` or lies under it (`""`: the whole working copy).
fn in_scope(path: &str, scope: &str) -> bool {
    scope.is_empty() || path == scope || path.strip_prefix(scope).is_some_and(|rest| rest.starts_with('/'))
}

/// Brings every path under `paths` (`/`-separated, relative to the root; `""`: everything) to
/// its content in snapshot `source`, `git restore` style: a path the source has gets exactly its
/// content and mode, a path only HEAD tracks is removed, an untracked path is never touched.
/// Uncommitted changes to those paths are discarded. A path matching nothing in the source,
/// HEAD's snapshot or the working copy is [`StoreError::PathNotFound`]; every obstacle (a
/// symbolic link or a file where a directory must be, a non-empty directory where a file must
/// go, an unwritable directory) is found first and returned as [`StoreError::Blocked`], with
/// nothing changed. Files are staged and renamed into place as a checkout writes them.
pub fn restore_paths(repo: &Repository, source: TreeId, paths: &[String]) -> Result<RestoreStats> {
    super::operation::ensure_none_pending(repo, "restore")?;
    let root = repo.work_dir();
    let head = match repo.head_commit()? {
        Some(id) => repo.objects().read_commit(&id)?.snapshot,
        None => muse_core::Tree::empty_id(),
    };
    let wanted: HashMap<String, PathState> = flatten(repo.objects(), source)?.into_iter().map(|e| (e.path, (e.kind, e.id))).collect();
    let tracked: Vec<String> = flatten(repo.objects(), head)?.into_iter().map(|e| e.path).collect();
    for scope in paths {
        let found = scope.is_empty() || fs::symlink_metadata(root.join(scope)).is_ok() || wanted.keys().chain(tracked.iter()).any(|p| in_scope(p, scope));
        if !found {
            return Err(StoreError::PathNotFound(scope.clone()));
        }
    }
    let mut candidates: Vec<&str> =
        wanted.keys().map(String::as_str).chain(tracked.iter().map(String::as_str)).filter(|p| paths.iter().any(|s| in_scope(p, s))).collect();
    candidates.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    candidates.dedup();
    let mut disk = Disk::new(root);
    let mut steps: Vec<Step> = Vec::new();
    let mut states = Vec::with_capacity(candidates.len());
    for path in &candidates {
        let want = wanted.get(*path).copied();
        let state = disk.probe(path)?;
        let act = match (state, want) {
            (OnDisk::Entry(have, _), Some(w)) => have != w,
            (OnDisk::Entry(..), None) => true,
            (OnDisk::Absent, want) => want.is_some(),
            (OnDisk::Dir, want) => want.is_some(),
        };
        if act {
            states.push(state);
            steps.push(Step { path: path.to_string(), want });
        }
    }
    let removable: HashSet<&str> = steps.iter().filter(|s| s.want.is_none()).map(|s| s.path.as_str()).collect();
    let mut obstacles = Vec::new();
    for (s, state) in steps.iter().zip(&states) {
        if s.want.is_some() {
            if let Some((dir, kind)) = disk.blocked_parent(&s.path) {
                if !removable.contains(dir.as_str()) {
                    let reason = if kind.is_symlink() { Reason::Symlink } else { Reason::FileInTheWay };
                    obstacles.push(Obstacle { path: dir, reason });
                }
            }
            if *state == OnDisk::Dir && !only_removable(root, &s.path, &removable) {
                obstacles.push(Obstacle { path: s.path.clone(), reason: Reason::DirectoryNotEmpty });
            }
        }
        let (writable, dir) = disk.can_change_entry(&s.path);
        if !writable {
            obstacles.push(Obstacle { path: if dir.is_empty() { ".".into() } else { dir }, reason: Reason::NotWritable });
        }
    }
    refuse_if_blocked(root, steps.iter().filter(|s| s.want.is_some()).map(|s| s.path.as_str()), obstacles)?;
    if steps.is_empty() {
        return Ok(RestoreStats::default());
    }
    // The stat cache forgets what it knew of every path about to change (keeping what the base
    // holds there): the next scan hashes them again.
    let cache_file = cache_path(repo);
    let mut cache = StatCache::load(&cache_file);
    let touched: HashSet<&str> = steps.iter().map(|s| s.path.as_str()).collect();
    for e in cache.entries.iter_mut().filter(|e| touched.contains(e.path.as_str())) {
        e.work = None;
    }
    cache.entries.retain(|e| e.base.is_some() || e.work.is_some());
    if cache.save(&cache_file).is_err() {
        let _ = fs::remove_file(&cache_file);
    }
    let staging = new_staging(repo);
    let result = execute(repo, &steps, &staging, &Hook::from_env());
    remove_staging(repo, &staging);
    result?;
    let (restored, removed): (Vec<Step>, Vec<Step>) = steps.into_iter().partition(|s| s.want.is_some());
    Ok(RestoreStats { restored: restored.into_iter().map(|s| s.path).collect(), removed: removed.into_iter().map(|s| s.path).collect() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_collisions_cover_files_and_directories() {
        assert_eq!(case_collisions(["A/x", "a", "b/c", "B/d", "readme"]), ["A", "B", "a", "b"]);
        assert!(case_collisions(["a/x", "a/y", "b"]).is_empty());
        assert_eq!(case_collisions(["Readme", "README"]), ["README", "Readme"]);
    }
}
