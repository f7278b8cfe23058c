//! Pieces several commands share: the JSON shape of a commit, path arguments, short ids.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use muse_core::{Commit, CommitId, EntryKind, ObjectId, SemVerBump};
use muse_store::Repository;

use crate::error::{CliError, CliResult};

/// A commit as printed by `log --json`, `show --json` and `commit --json` (docs/cli.md).
#[derive(serde::Serialize)]
pub struct CommitJson<'a> {
    pub commit_id: CommitId,
    pub parents: &'a [CommitId],
    pub snapshot_id: muse_core::TreeId,
    pub message: &'a str,
    pub author: &'a str,
    pub committed_at: &'a str,
    pub agent_id: &'a str,
    pub model_id: &'a str,
    pub toolchain_id: &'a str,
    pub prompt_hash: &'a str,
    pub sem_ver_bump: SemVerBump,
    pub breaking_changes: &'a [String],
    pub metadata: &'a BTreeMap<String, String>,
    pub structured_delta: Option<&'a str>,
    pub signer_key_id: &'a str,
    pub signature: &'a str,
}

impl<'a> CommitJson<'a> {
    /// The JSON view of `commit`, whose id is `id`.
    pub fn new(id: CommitId, commit: &'a Commit) -> Self {
        CommitJson {
            commit_id: id,
            parents: &commit.parents,
            snapshot_id: commit.snapshot,
            message: &commit.message,
            author: &commit.author,
            committed_at: &commit.committed_at,
            agent_id: &commit.agent_id,
            model_id: &commit.model_id,
            toolchain_id: &commit.toolchain_id,
            prompt_hash: &commit.prompt_hash,
            sem_ver_bump: commit.sem_ver_bump,
            breaking_changes: &commit.breaking_changes,
            metadata: &commit.metadata,
            structured_delta: commit.structured_delta.as_deref(),
            signer_key_id: &commit.signer_key_id,
            signature: &commit.signature,
        }
    }
}

/// The 12-digit short form of an id used in text output.
pub fn short(id: impl Into<ObjectId>) -> String {
    id.into().short(12)
}

/// The full text header of a commit, as `log` and `show` print it.
pub fn commit_header(id: CommitId, commit: &Commit, decoration: &str) -> String {
    let mut out = format!("commit {id}{decoration}\n");
    if commit.parents.len() > 1 {
        let parents: Vec<String> = commit.parents.iter().map(|p| short(*p)).collect();
        out.push_str(&format!("Merge:  {}\n", parents.join(" ")));
    }
    out.push_str(&format!("Author: {}\nDate:   {}\n", commit.author, commit.committed_at));
    let provenance: Vec<String> = [("agent", &commit.agent_id), ("model", &commit.model_id), ("toolchain", &commit.toolchain_id)]
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    if !provenance.is_empty() {
        out.push_str(&format!("Agent:  {}\n", provenance.join(", ")));
    }
    if !commit.prompt_hash.is_empty() {
        out.push_str(&format!("Prompt: {}\n", commit.prompt_hash));
    }
    let warning = if commit.breaking_changes.is_empty() { String::new() } else { " ⚠ breaking".to_string() };
    out.push_str(&format!("Bump:   {}{warning}\n", commit.sem_ver_bump));
    for change in &commit.breaking_changes {
        out.push_str(&format!("Breaking: {change}\n"));
    }
    out.push('\n');
    for line in commit.message.lines() {
        out.push_str(&format!("    {line}\n"));
    }
    out
}

/// A user-typed path made relative to the working-copy root (resolving `.` and `..` from the
/// current directory). Fails for paths outside the working copy.
pub fn repo_path(repo: &Repository, cwd: &Path, arg: &str) -> CliResult<String> {
    let joined = if Path::new(arg).is_absolute() { PathBuf::from(arg) } else { cwd.canonicalize().unwrap_or_else(|_| cwd.to_path_buf()).join(arg) };
    let mut normal = PathBuf::new();
    for component in joined.components() {
        match component {
            Component::ParentDir => {
                normal.pop();
            }
            Component::CurDir => {}
            other => normal.push(other),
        }
    }
    let rel = normal
        .strip_prefix(repo.work_dir())
        .map_err(|_| CliError::invalid(format!("path '{arg}' is outside the repository at {}", repo.work_dir().display())))?;
    let text = rel.to_str().ok_or_else(|| CliError::invalid(format!("path '{arg}' is not valid UTF-8")))?;
    Ok(text.trim_end_matches('/').to_string())
}

/// The word for how a path changed, used by `status`, `diff` and `show`.
pub fn change_word(old: Option<(EntryKind, ObjectId)>, new: Option<(EntryKind, ObjectId)>) -> &'static str {
    match (old, new) {
        (None, Some(_)) => "added",
        (Some(_), None) => "deleted",
        (Some((a, _)), Some((b, _))) if a != b => "type_changed",
        _ => "modified",
    }
}

/// Saves the stat cache `scan` refreshed. A cache that cannot be written (full disk, read-only
/// store) never fails a command: it is one warning on stderr, and the next scan re-reads files.
pub fn save_cache_or_warn(repo: &Repository, scan: &muse_store::worktree::Scan) {
    if let Err(e) = scan.save_cache(repo) {
        warn_cache_not_saved(&e.to_string());
    }
}

/// The warning of [`save_cache_or_warn`].
pub fn warn_cache_not_saved(why: &str) {
    eprintln!("warning: could not save the stat cache ({why}): the next status will re-read files");
}

/// Warns on stderr about each path a scan skipped: `warning: skipped PATH: reason`.
pub fn warn_skipped(skipped: &[muse_store::worktree::walk::Skipped]) {
    for s in skipped {
        eprintln!("warning: skipped {}: {}", s.path.display(), s.reason);
    }
}
