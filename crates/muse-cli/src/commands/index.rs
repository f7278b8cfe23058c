//! `muse index rebuild|status`: the history index behind `log -- PATH`, `blame` and `stats`.

use muse_store::index::{HistoryIndex, IndexStats};

use crate::error::CliResult;
use crate::output::{outln, Ctx};

/// Arguments of `muse index`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Write the history index anew from every ref and HEAD.
    Rebuild,
    /// Show what the history index holds, bringing it up to date first.
    Status,
}

/// Runs `muse index`.
pub fn run(args: Args, ctx: &Ctx) -> CliResult {
    let repo = ctx.repo()?;
    let stats: IndexStats = match args.action {
        Action::Rebuild => {
            let bar = ctx.progress(None, "indexing commits");
            let stats = HistoryIndex::rebuild(&repo, &crate::output::counted_progress(&bar))?;
            bar.finish_and_clear();
            stats
        }
        Action::Status => {
            let mut stats = HistoryIndex::open(&repo, &[])?.stats();
            // Reopen to count what is published (a catch-up may have stayed in memory).
            stats.segments = HistoryIndex::read(&repo)?.stats().segments;
            stats
        }
    };
    if ctx.json {
        return ctx.print_json(&stats);
    }
    outln!("{} commits indexed in {} segment(s), {} bytes ({} added now)", stats.commits, stats.segments, stats.bytes, stats.added)
}
