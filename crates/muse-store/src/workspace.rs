//! Adding, removing and pruning workspaces with the checks that keep work safe: a workspace is
//! removed only when everything in its directory is committed, and never together with a nested
//! repository or workspace that its scan does not cover.

use std::fs;
use std::path::{Path, PathBuf};

use muse_core::{Tree, TreeId};

use crate::error::{IoContext, Result, StoreError};
use crate::oplog::head_from_text;
use crate::repo::{Repository, DOT_MUSE};
use crate::store::{Head, Store};
use crate::worktree::checkout::{checkout, CheckoutStats};
use crate::worktree::scan;

/// The directory of a working copy (`None`: the main one), or `None` if no such workspace.
pub fn workspace_dir(store: &Store, name: Option<&str>) -> Result<Option<PathBuf>> {
    match name {
        None => Ok(Some(store.store_dir().parent().unwrap_or(store.store_dir()).to_path_buf())),
        Some(name) => {
            let path_file = store.store_dir().join("workspaces").join(name).join("path");
            match fs::read_to_string(&path_file) {
                Ok(text) => Ok(Some(PathBuf::from(text.trim_end_matches('\n')))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(StoreError::Io { op: "read", path: path_file, source: e }),
            }
        }
    }
}

/// The HEAD of a working copy (`None`: the main one), or `None` if no such workspace.
pub fn workspace_head(store: &Store, name: Option<&str>) -> Result<Option<Head>> {
    let path = match name {
        None => store.store_dir().join("HEAD"),
        Some(name) => store.store_dir().join("workspaces").join(name).join("HEAD"),
    };
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StoreError::Io { op: "read", path, source: e }),
    };
    head_from_text(text.trim_end_matches('\n'))
        .map(Some)
        .ok_or_else(|| StoreError::CorruptRef { name: "HEAD".into(), reason: format!("holds {:?}", text.trim_end()) })
}

/// The snapshot `head` resolves to (the empty tree on an unborn branch).
pub fn head_snapshot(store: &Store, head: &Head) -> Result<TreeId> {
    let id = match head {
        Head::Branch(name) => store.refs().read(name)?,
        Head::Detached(id) => Some(*id),
    };
    match id {
        Some(id) => Ok(store.objects().read_commit(&id)?.snapshot),
        None => Ok(Tree::empty_id()),
    }
}

/// Creates workspace `name` at `path` with HEAD `head` and checks out `snapshot` there.
pub fn add(repo: &Repository, path: &Path, name: &str, head: &Head, snapshot: TreeId) -> Result<(Repository, CheckoutStats)> {
    let workspace = repo.add_workspace(path, name, head)?;
    let stats = checkout(&workspace, Tree::empty_id(), snapshot, false)?;
    Ok((workspace, stats))
}

/// Directories under `dir` (not `dir` itself) that hold their own `.muse`: nested repositories
/// and workspaces, which a scan of `dir` does not cover. Symlinks are not followed.
pub fn nested_stores(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        let entries = match fs::read_dir(&current) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(StoreError::Io { op: "list", path: current, source: e }),
        };
        for entry in entries {
            let entry = entry.ctx("list", &current)?;
            if entry.file_name() == DOT_MUSE {
                continue;
            }
            if entry.file_type().ctx("stat", &entry.path())?.is_dir() {
                let sub = entry.path();
                if fs::symlink_metadata(sub.join(DOT_MUSE)).is_ok() {
                    found.push(sub);
                } else {
                    stack.push(sub);
                }
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Why a workspace cannot be removed without `--force`, or `None` if it can.
pub fn removal_obstacle(workspace: &Repository) -> Result<Option<String>> {
    let nested = nested_stores(workspace.work_dir())?;
    if !nested.is_empty() {
        let names: Vec<String> = nested.iter().map(|p| p.strip_prefix(workspace.work_dir()).unwrap_or(p).display().to_string()).collect();
        return Ok(Some(format!("it holds a nested repository or workspace ({})", names.join(", "))));
    }
    let base = head_snapshot(workspace, &workspace.head()?)?;
    let scanned = scan(workspace, base, None)?;
    if !scanned.skipped.is_empty() {
        let names: Vec<String> = scanned.skipped.iter().map(|s| s.path.display().to_string()).collect();
        return Ok(Some(format!("it holds paths that could not be read ({})", names.join(", "))));
    }
    if !scanned.is_clean() {
        return Ok(Some(format!("it has {} uncommitted change(s)", scanned.changes.len())));
    }
    Ok(None)
}

/// What removing a workspace did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Removed {
    /// The workspace's name.
    pub name: String,
    /// Its directory.
    pub path: PathBuf,
    /// Its HEAD when it was removed.
    pub head: Option<Head>,
    /// Nested repositories and workspaces left in place (only with `force`).
    pub kept: Vec<PathBuf>,
}

/// Removes workspace `name`: its files and its state in the store. Refused (a conflict) when
/// its directory holds uncommitted changes or a nested repository or workspace, unless `force`;
/// even then nested repositories and workspaces are left in place. A workspace whose directory
/// is gone is just forgotten.
pub fn remove(repo: &Repository, name: &str, force: bool) -> Result<Removed> {
    let dir = workspace_dir(repo, Some(name))?.ok_or_else(|| StoreError::Workspace(format!("no workspace named '{name}'")))?;
    let head = workspace_head(repo, Some(name))?;
    if !dir.exists() {
        repo.remove_workspace(name)?;
        return Ok(Removed { name: name.to_string(), path: dir, head, kept: Vec::new() });
    }
    if !force {
        let workspace = Repository::open(&dir)?;
        if let Some(why) = removal_obstacle(&workspace)? {
            return Err(StoreError::Conflict(format!(
                "workspace '{name}' was not removed: {why}; use --force to remove it anyway (nested repositories are always kept)"
            )));
        }
    }
    let kept = nested_stores(&dir)?;
    repo.remove_workspace(name)?;
    remove_tree_except(&dir, &kept)?;
    Ok(Removed { name: name.to_string(), path: dir, head, kept })
}

/// Deletes `dir` and everything in it except the directories in `keep` (and their parents).
fn remove_tree_except(dir: &Path, keep: &[PathBuf]) -> Result<()> {
    if keep.is_empty() {
        return fs::remove_dir_all(dir).ctx("remove", dir);
    }
    // Depth-first, with an explicit stack: files go first, then each directory once empty.
    let mut stack = vec![(dir.to_path_buf(), false)];
    while let Some((current, listed)) = stack.pop() {
        if listed {
            if !keep.iter().any(|k| k.starts_with(&current)) {
                fs::remove_dir(&current).ctx("remove", &current)?;
            }
            continue;
        }
        stack.push((current.clone(), true));
        for entry in fs::read_dir(&current).ctx("list", &current)? {
            let entry = entry.ctx("list", &current)?;
            let path = entry.path();
            if keep.contains(&path) {
                continue;
            }
            if entry.file_type().ctx("stat", &path)?.is_dir() {
                stack.push((path, false));
            } else {
                fs::remove_file(&path).ctx("remove", &path)?;
            }
        }
    }
    Ok(())
}

/// Forgets every workspace whose directory is gone (or no longer points at this store); returns
/// each one's name, directory and last HEAD.
pub fn prune(repo: &Repository) -> Result<Vec<Removed>> {
    let mut pruned = Vec::new();
    for (name, dir) in repo.workspaces()? {
        let Some(name) = name else { continue };
        let alive = Repository::open(&dir).is_ok_and(|w| w.store_dir() == repo.store_dir() && w.workspace() == Some(name.as_str()));
        if !alive {
            let head = workspace_head(repo, Some(&name))?;
            let state = repo.store_dir().join("workspaces").join(&name);
            fs::remove_dir_all(&state).ctx("remove", &state)?;
            pruned.push(Removed { name, path: dir, head, kept: Vec::new() });
        }
    }
    Ok(pruned)
}
