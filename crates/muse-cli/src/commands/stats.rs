//! `muse stats [REV] [-- PATH…]`: the share of lines by model, by agent and human, from blame.

use std::collections::BTreeMap;

use muse_blame::stats::stats;
use muse_store::index::HistoryIndex;

use super::blame::blame_error;
use super::common::{repo_path, short};
use crate::error::CliResult;
use crate::output::{outln, Ctx};

/// Arguments of `muse stats`.
#[derive(clap::Args)]
pub struct Args {
    /// The revision (default: HEAD).
    #[arg(default_value = "HEAD")]
    revision: String,
    /// Only files under these paths (files or directories).
    #[arg(last = true, value_name = "PATH")]
    paths: Vec<String>,
}

fn percent(part: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        part as f64 * 100.0 / total as f64
    }
}

/// Counts and prints.
pub fn run(args: Args, ctx: &Ctx) -> CliResult {
    let repo = ctx.repo()?;
    let commit = repo.resolve(&args.revision)?;
    let paths = args.paths.iter().map(|p| repo_path(&repo, &ctx.cwd, p)).collect::<CliResult<Vec<_>>>()?;
    let index = HistoryIndex::open(&repo, &[commit])?;
    let bar = ctx.progress(None, "blaming files");
    let result = stats(&repo, &index, commit, &paths, &crate::output::counted_progress(&bar)).map_err(blame_error)?;
    bar.finish_and_clear();
    if ctx.json {
        let mut value = serde_json::to_value(&result).map_err(|e| crate::error::CliError::failed(e.to_string()))?;
        value["commit_id"] = serde_json::to_value(commit).map_err(|e| crate::error::CliError::failed(e.to_string()))?;
        return ctx.print_json(&value);
    }
    outln!("{} lines in {} files at {}", result.total_lines, result.files, short(commit))?;
    let table = |title: &str, map: &BTreeMap<String, u64>| -> CliResult {
        outln!("by {title}:")?;
        let mut rows: Vec<(&String, &u64)> = map.iter().collect();
        rows.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for (key, lines) in rows {
            outln!("  {key:<32} {lines:>8}  {:>5.1}%", percent(*lines, result.total_lines))?;
        }
        Ok(())
    };
    table("model", &result.by_model)?;
    table("agent", &result.by_agent)?;
    if !result.binary_files.is_empty() {
        outln!("{} binary file(s) not counted", result.binary_files.len())?;
    }
    Ok(())
}
