//! `muse diff [REV [REV]] [-- PATH…]`: line diffs between the working copy and a commit, or
//! between two commits.

use std::io::Write;

use muse_core::{EntryKind, ObjectId, Tree, TreeId};
use muse_diff::{diff_lines, render_hunks, FileDiff};
use muse_store::snapshot::{diff_snapshots, Change};
use muse_store::worktree::scan;
use muse_store::Repository;

use super::common::{change_word, repo_path, save_cache_or_warn, warn_skipped};
use crate::error::{CliError, CliResult, EXIT_IO};
use crate::output::{stdout_error, Ctx};

/// Arguments of `muse diff`.
#[derive(clap::Args)]
pub struct Args {
    /// Zero revisions: working copy vs HEAD; one: working copy vs REV; two: REV vs REV.
    #[arg(num_args = 0..=2)]
    revisions: Vec<String>,
    /// Only list the changed paths.
    #[arg(long)]
    name_only: bool,
    /// Only these paths (files or directories).
    #[arg(last = true, value_name = "PATH")]
    paths: Vec<String>,
}

/// One file of a diff, as printed by `diff --json` and `show --json`.
#[derive(serde::Serialize)]
pub struct FileDiffJson {
    pub path: String,
    pub status: &'static str,
    pub old_kind: Option<EntryKind>,
    pub new_kind: Option<EntryKind>,
    pub old_id: Option<ObjectId>,
    pub new_id: Option<ObjectId>,
    #[serde(flatten)]
    pub diff: FileDiff,
}

/// Where the new side of a diff is read from.
pub enum Side {
    /// Blobs in the store.
    Store,
    /// Files in the working copy (for paths whose content is not stored yet).
    WorkingCopy,
}

fn content(repo: &Repository, state: Option<(EntryKind, ObjectId)>, path: &str, side: &Side) -> CliResult<Vec<u8>> {
    let Some((kind, id)) = state else {
        return Ok(Vec::new());
    };
    match side {
        Side::WorkingCopy => {
            let full = repo.work_dir().join(path);
            let bytes =
                if kind == EntryKind::Symlink { std::fs::read_link(&full).map(|t| t.into_os_string().into_encoded_bytes()) } else { std::fs::read(&full) };
            bytes.map_err(|e| CliError::new(EXIT_IO, "io", format!("cannot read {}: {e}", full.display())))
        }
        Side::Store => Ok(repo.objects().read(&id)?.data),
    }
}

/// Computes the line diff of each change.
pub fn file_diffs(repo: &Repository, changes: &[Change], new_side: Side) -> CliResult<Vec<FileDiffJson>> {
    changes
        .iter()
        .map(|c| {
            let old = content(repo, c.old, &c.path, &Side::Store)?;
            let new = content(repo, c.new, &c.path, &new_side)?;
            Ok(FileDiffJson {
                path: c.path.clone(),
                status: change_word(c.old, c.new),
                old_kind: c.old.map(|s| s.0),
                new_kind: c.new.map(|s| s.0),
                old_id: c.old.map(|s| s.1),
                new_id: c.new.map(|s| s.1),
                diff: diff_lines(&old, &new, 3),
            })
        })
        .collect()
}

/// Prints file diffs as git-style unified diff text.
pub fn print_diffs(files: &[FileDiffJson]) -> CliResult {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for f in files {
        writeln!(out, "diff --muse a/{0} b/{0}", f.path).map_err(stdout_error)?;
        match f.status {
            "added" => writeln!(out, "new file ({})", f.new_kind.map_or("file", EntryKind::as_str)),
            "deleted" => writeln!(out, "deleted file ({})", f.old_kind.map_or("file", EntryKind::as_str)),
            "type_changed" => writeln!(out, "kind changed: {} -> {}", f.old_kind.map_or("", EntryKind::as_str), f.new_kind.map_or("", EntryKind::as_str)),
            _ => Ok(()),
        }
        .map_err(stdout_error)?;
        if f.diff.binary {
            writeln!(out, "Binary files differ").map_err(stdout_error)?;
            continue;
        }
        if f.diff.hunks.is_empty() {
            continue;
        }
        let old = if f.old_id.is_some() { format!("a/{}", f.path) } else { "/dev/null".into() };
        let new = if f.new_id.is_some() { format!("b/{}", f.path) } else { "/dev/null".into() };
        write!(out, "--- {old}\n+++ {new}\n{}", render_hunks(&f.diff)).map_err(stdout_error)?;
    }
    out.flush().map_err(stdout_error)
}

fn snapshot_of(repo: &Repository, rev: &str) -> CliResult<TreeId> {
    let id = repo.resolve(rev)?;
    Ok(repo.objects().read_commit(&id)?.snapshot)
}

/// Computes and prints the diff.
pub fn run(args: Args, ctx: &Ctx) -> CliResult {
    let repo = ctx.repo()?;
    let paths = args.paths.iter().map(|p| repo_path(&repo, &ctx.cwd, p)).collect::<CliResult<Vec<_>>>()?;
    let (mut changes, side) = match args.revisions.as_slice() {
        [from, to] => (diff_snapshots(repo.objects(), Some(snapshot_of(&repo, from)?), Some(snapshot_of(&repo, to)?))?, Side::Store),
        revs => {
            let base = match revs.first() {
                Some(rev) => snapshot_of(&repo, rev)?,
                None => repo.head_commit()?.map(|id| repo.objects().read_commit(&id).map(|c| c.snapshot)).transpose()?.unwrap_or_else(Tree::empty_id),
            };
            let scanned = scan(&repo, base, None)?;
            save_cache_or_warn(&repo, &scanned);
            warn_skipped(&scanned.skipped);
            let changes = scanned.changes.into_iter().map(|c| Change { path: c.path, old: c.base, new: c.work }).collect();
            (changes, Side::WorkingCopy)
        }
    };
    if !paths.is_empty() {
        changes.retain(|c| paths.iter().any(|p| p.is_empty() || c.path == *p || c.path.starts_with(&format!("{p}/"))));
    }
    if args.name_only && !ctx.json {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        for c in &changes {
            writeln!(out, "{}", c.path).map_err(stdout_error)?;
        }
        return out.flush().map_err(stdout_error);
    }
    let files = file_diffs(&repo, &changes, side)?;
    if ctx.json {
        return ctx.print_json(&serde_json::json!({ "files": files }));
    }
    print_diffs(&files)
}
