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
    /// Compare symbols instead of lines: added, removed, renamed and changed functions,
    /// classes and types, and the semver bump they imply.
    #[arg(long, conflicts_with = "name_only")]
    semantic: bool,
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
    write_diffs(&mut out, files).and_then(|()| out.flush()).map_err(stdout_error)
}

/// Writes file diffs as git-style unified diff text.
pub fn write_diffs(out: &mut dyn Write, files: &[FileDiffJson]) -> std::io::Result<()> {
    for f in files {
        writeln!(out, "diff --muse a/{0} b/{0}", f.path)?;
        match f.status {
            "added" => writeln!(out, "new file ({})", f.new_kind.map_or("file", EntryKind::as_str))?,
            "deleted" => writeln!(out, "deleted file ({})", f.old_kind.map_or("file", EntryKind::as_str))?,
            "type_changed" => writeln!(out, "kind changed: {} -> {}", f.old_kind.map_or("", EntryKind::as_str), f.new_kind.map_or("", EntryKind::as_str))?,
            _ => {}
        }
        if f.diff.binary {
            writeln!(out, "Binary files differ")?;
            continue;
        }
        if f.diff.hunks.is_empty() {
            continue;
        }
        let old = if f.old_id.is_some() { format!("a/{}", f.path) } else { "/dev/null".into() };
        let new = if f.new_id.is_some() { format!("b/{}", f.path) } else { "/dev/null".into() };
        write!(out, "--- {old}\n+++ {new}\n{}", render_hunks(&f.diff))?;
    }
    Ok(())
}

/// The `--stat` summary of a diff, as `diff --stat --json`, `show --stat --json` and `log
/// --stat --json` print it.
#[derive(serde::Serialize)]
pub struct StatJson {
    /// Files changed.
    pub files_changed: usize,
    /// Lines added, over all files.
    pub insertions: u64,
    /// Lines removed, over all files.
    pub deletions: u64,
    /// One entry per file.
    pub files: Vec<FileStatJson>,
}

/// One file of a [`StatJson`].
#[derive(serde::Serialize)]
pub struct FileStatJson {
    /// The path.
    pub path: String,
    /// `added`, `deleted`, `modified` or `type_changed`.
    pub status: &'static str,
    /// Lines added (0 for binary files).
    pub insertions: u32,
    /// Lines removed (0 for binary files).
    pub deletions: u32,
    /// Either side is binary.
    pub binary: bool,
}

/// The stat of file diffs.
pub fn stat(files: &[FileDiffJson]) -> StatJson {
    let files: Vec<FileStatJson> = files
        .iter()
        .map(|f| FileStatJson { path: f.path.clone(), status: f.status, insertions: f.diff.added, deletions: f.diff.removed, binary: f.diff.binary })
        .collect();
    StatJson {
        files_changed: files.len(),
        insertions: files.iter().map(|f| u64::from(f.insertions)).sum(),
        deletions: files.iter().map(|f| u64::from(f.deletions)).sum(),
        files,
    }
}

/// The widest bar of `--stat`, in characters.
const STAT_BAR: u64 = 50;

/// Writes a stat as git's `--stat` does: ` path | 12 +++---` per file, then a summary line.
pub fn write_stat(out: &mut dyn Write, stat: &StatJson) -> std::io::Result<()> {
    let name_width = stat.files.iter().map(|f| f.path.chars().count()).max().unwrap_or(0);
    let largest = stat.files.iter().map(|f| u64::from(f.insertions) + u64::from(f.deletions)).max().unwrap_or(0);
    let count_width = largest.to_string().len();
    for f in &stat.files {
        let pad = " ".repeat(name_width - f.path.chars().count());
        if f.binary {
            writeln!(out, " {}{pad} | Bin", f.path)?;
            continue;
        }
        let total = u64::from(f.insertions) + u64::from(f.deletions);
        // Scale the bar down when the largest change would not fit, keeping at least one mark
        // for a side that changed.
        let scale = |n: u64| if largest <= STAT_BAR || n == 0 { n } else { (n * STAT_BAR / largest).max(1) };
        let bar = format!("{}{}", "+".repeat(scale(u64::from(f.insertions)) as usize), "-".repeat(scale(u64::from(f.deletions)) as usize));
        writeln!(out, " {}{pad} | {total:>count_width$} {bar}", f.path)?;
    }
    let plural = |n: u64, one: &str, many: &str| if n == 1 { format!("{n} {one}") } else { format!("{n} {many}") };
    let mut summary = plural(stat.files_changed as u64, "file changed", "files changed");
    if stat.insertions > 0 || stat.deletions == 0 {
        summary.push_str(&format!(", {}", plural(stat.insertions, "insertion(+)", "insertions(+)")));
    }
    if stat.deletions > 0 || stat.insertions == 0 {
        summary.push_str(&format!(", {}", plural(stat.deletions, "deletion(-)", "deletions(-)")));
    }
    writeln!(out, " {summary}")
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
    if args.semantic {
        return semantic(&repo, ctx, &args.revisions, &changes, matches!(side, Side::WorkingCopy));
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

/// `--semantic`: the symbol diff of the same changes.
fn semantic(repo: &Repository, ctx: &Ctx, revisions: &[String], changes: &[Change], working_copy: bool) -> CliResult {
    let (from, to) = match revisions {
        [a, b] => (Some(repo.resolve(a)?), Some(repo.resolve(b)?)),
        [a] => (Some(repo.resolve(a)?), None),
        _ => (repo.head_commit()?, None),
    };
    super::semver::print_semantic_diff(repo, ctx, changes, from, to, working_copy)
}
