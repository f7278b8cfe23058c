//! `muse show [REV]`: one commit, its provenance and its diff against its first parent.

use std::io::Write;

use muse_store::snapshot::diff_snapshots;

use super::common::{commit_header, CommitJson};
use super::diff::{file_diffs, print_diffs, Side};
use crate::error::CliResult;
use crate::output::{stdout_error, Ctx};

/// Arguments of `muse show`.
#[derive(clap::Args)]
pub struct Args {
    /// The commit (default: HEAD).
    #[arg(default_value = "HEAD")]
    revision: String,
}

/// Prints the commit and its changes.
pub fn run(args: Args, ctx: &Ctx) -> CliResult {
    let repo = ctx.repo()?;
    let id = repo.resolve(&args.revision)?;
    let commit = repo.objects().read_commit(&id)?;
    let parent_snapshot = match commit.parents.first() {
        Some(p) => Some(repo.objects().read_commit(p)?.snapshot),
        None => None,
    };
    let changes = diff_snapshots(repo.objects(), parent_snapshot, Some(commit.snapshot))?;
    let files = file_diffs(&repo, &changes, Side::Store)?;
    if ctx.json {
        return ctx.print_json(&serde_json::json!({ "commit": CommitJson::new(id, &commit), "files": files }));
    }
    writeln!(std::io::stdout().lock(), "{}", commit_header(id, &commit, "")).map_err(stdout_error)?;
    print_diffs(&files)
}
