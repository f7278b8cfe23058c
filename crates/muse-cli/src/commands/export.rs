//! `muse export agent-trace REV… [-- PATH…]`: line attribution in the formats other tools read.

use muse_blame::trace::{trace, TraceRecord, TraceTool};
use muse_store::index::HistoryIndex;

use super::blame::blame_error;
use super::common::repo_path;
use crate::error::{CliError, CliResult};
use crate::output::{outln, Ctx};

/// Arguments of `muse export`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    format: Format,
}

/// The export formats.
#[derive(clap::Subcommand)]
enum Format {
    /// Agent Trace records (Cursor's open RFC, version 0.1.0), one per revision, from blame:
    /// every line of every text file, attributed to the commit that wrote it and its model.
    AgentTrace {
        /// The revisions (default: HEAD).
        revisions: Vec<String>,
        /// Only files under these paths (files or directories).
        #[arg(last = true, value_name = "PATH")]
        paths: Vec<String>,
    },
}

/// Computes and prints the records: one JSON object per line (JSON Lines, the form trace files
/// take), or under `--json` one array of them.
pub fn run(args: Args, ctx: &Ctx) -> CliResult {
    let Format::AgentTrace { revisions, paths } = args.format;
    let repo = ctx.repo()?;
    let mut commits = Vec::new();
    for rev in if revisions.is_empty() { vec!["HEAD".to_string()] } else { revisions } {
        commits.push(repo.resolve(&rev)?);
    }
    let paths = paths.iter().map(|p| repo_path(&repo, &ctx.cwd, p)).collect::<CliResult<Vec<_>>>()?;
    let index = HistoryIndex::open(&repo, &commits)?;
    let mut records: Vec<TraceRecord> = Vec::with_capacity(commits.len());
    for commit in commits {
        let bar = ctx.progress(None, "blaming files");
        let tool = TraceTool { name: "muse".into(), version: env!("CARGO_PKG_VERSION").into() };
        let record = trace(&repo, &index, commit, &paths, tool, &crate::output::counted_progress(&bar)).map_err(blame_error)?;
        bar.finish_and_clear();
        if !ctx.json {
            outln!("{}", serde_json::to_string(&record).map_err(|e| CliError::failed(e.to_string()))?)?;
        }
        records.push(record);
    }
    if ctx.json {
        return ctx.print_json(&records);
    }
    Ok(())
}
