//! `muse restore PATH… [--source REV]`: bring files back to HEAD's (or REV's) content, as
//! `git restore` does, discarding uncommitted changes to them.

use muse_core::{Tree, TreeId};
use muse_store::worktree::checkout::restore_paths;

use super::common::repo_path;
use super::record::{head_moved, record};
use crate::error::CliResult;
use crate::output::{outln, Ctx};

/// Arguments of `muse restore`.
#[derive(clap::Args)]
pub struct Args {
    /// Files or directories to restore, relative to the current directory (`.`: everything
    /// under it).
    #[arg(required = true)]
    paths: Vec<String>,
    /// The revision whose content to restore (default: HEAD).
    #[arg(long, short = 's')]
    source: Option<String>,
}

#[derive(serde::Serialize)]
struct RestoreJson {
    source: TreeId,
    restored: Vec<String>,
    removed: Vec<String>,
}

/// Restores the paths.
pub fn run(args: Args, ctx: &Ctx) -> CliResult {
    let repo = ctx.repo()?;
    let commit = match &args.source {
        Some(rev) => Some(repo.resolve(rev)?),
        None => repo.head_commit()?,
    };
    let source = match commit {
        Some(id) => repo.objects().read_commit(&id)?.snapshot,
        None => Tree::empty_id(),
    };
    let mut paths = args.paths.iter().map(|p| repo_path(&repo, &ctx.cwd, p)).collect::<CliResult<Vec<_>>>()?;
    paths.sort();
    paths.dedup();
    let stats = restore_paths(&repo, source, &paths)?;
    if !stats.restored.is_empty() || !stats.removed.is_empty() {
        let head = repo.head()?;
        record(&repo, "restore", vec![], head_moved(&repo, head.clone(), head, true));
    }
    if ctx.json {
        return ctx.print_json(&RestoreJson { source, restored: stats.restored, removed: stats.removed });
    }
    if stats.restored.is_empty() && stats.removed.is_empty() {
        return outln!("nothing to restore");
    }
    for path in &stats.restored {
        outln!("restored {path}")?;
    }
    for path in &stats.removed {
        outln!("removed {path}")?;
    }
    Ok(())
}
