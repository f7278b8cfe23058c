//! The merge state of a working copy: what a merge, cherry-pick or revert stopped on, kept in
//! the working copy's state directory as `merge-state` (JSON, docs/formats.md §Merge state)
//! until `--continue` commits the resolution or `--abort` puts the files back.

use std::fs;
use std::io::{self, Write};
use std::path::PathBuf;

use muse_core::{CommitId, TreeId};
use muse_store::{Repository, StoreError};

use crate::tree::Conflict;
use crate::Result;

/// The state file's name in the working copy's state directory.
pub const STATE_FILE: &str = "merge-state";
/// The format version written in the state.
pub const STATE_VERSION: u32 = 1;

/// What stopped on conflicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepKind {
    /// `muse merge` (or `muse pull`).
    Merge,
    /// `muse cherry-pick`.
    CherryPick,
    /// `muse revert`.
    Revert,
}

impl StepKind {
    /// The command's name: `merge`, `cherry-pick`, `revert`.
    pub fn command(self) -> &'static str {
        match self {
            StepKind::Merge => "merge",
            StepKind::CherryPick => "cherry-pick",
            StepKind::Revert => "revert",
        }
    }
}

/// A merge (or pick) stopped on conflicts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MergeState {
    /// The format version ([`STATE_VERSION`]).
    pub version: u32,
    /// What stopped.
    pub kind: StepKind,
    /// HEAD's commit when it started (ours; `None` on an unborn branch).
    pub head: Option<CommitId>,
    /// The commit merged, picked or reverted.
    pub theirs: CommitId,
    /// How the user named it (the conflict markers' label).
    pub theirs_label: String,
    /// The snapshot written to the working copy (the merged tree, with marker files).
    pub tree: TreeId,
    /// The commit message `--continue` uses unless given another.
    pub message: String,
    /// The conflicts, as reported.
    pub conflicts: Vec<Conflict>,
    /// Revisions still to merge after this one (`muse merge A B C` stopped at A).
    #[serde(default)]
    pub remaining: Vec<String>,
    /// The op-log operation that wrote the conflicts (what `muse undo` aborts).
    pub operation: Option<u64>,
}

fn path(repo: &Repository) -> PathBuf {
    repo.state_dir().join(STATE_FILE)
}

impl MergeState {
    /// The working copy's merge state, if a merge is stopped.
    pub fn read(repo: &Repository) -> Result<Option<MergeState>> {
        let path = path(repo);
        let text = match fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::Io { op: "read", path, source: e }),
        };
        match serde_json::from_slice::<MergeState>(&text) {
            Ok(state) if state.version == STATE_VERSION => Ok(Some(state)),
            _ => Err(StoreError::Workspace(format!(
                "{} is not a merge state muse can read; `muse merge --abort` cannot use it: remove it by hand",
                path.display()
            ))),
        }
    }

    /// Writes the state durably (a temporary file renamed over the old one).
    pub fn write(&self, repo: &Repository) -> Result<()> {
        let path = path(repo);
        let tmp = repo.state_dir().join(format!(".{STATE_FILE}.tmp"));
        let io = |op, e| StoreError::Io { op, path: path.clone(), source: e };
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| io("encode", io::Error::other(e)))?;
        let mut file = fs::File::create(&tmp).map_err(|e| io("write", e))?;
        file.write_all(&bytes).and_then(|()| file.sync_all()).map_err(|e| io("write", e))?;
        fs::rename(&tmp, &path).map_err(|e| io("rename", e))?;
        fs::File::open(repo.state_dir()).and_then(|d| d.sync_all()).map_err(|e| io("fsync", e))
    }

    /// Removes the state: the merge is over.
    pub fn remove(repo: &Repository) -> Result<()> {
        let path = path(repo);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::Io { op: "remove", path, source: e }),
        }
    }
}

/// Refuses `command` while a merge, cherry-pick or revert is stopped in the working copy.
pub fn ensure_no_merge(repo: &Repository, command: &str) -> Result<()> {
    match MergeState::read(repo)? {
        None => Ok(()),
        Some(state) => Err(StoreError::Conflict(format!(
            "a {} is stopped on conflicts in this working copy: resolve them and run `muse {} --continue`, or `muse {} --abort`, before `muse {command}`",
            state.kind.command(),
            state.kind.command(),
            state.kind.command()
        ))),
    }
}
