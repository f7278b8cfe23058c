//! `muse gc`: repack the whole store into one pack with deltas; prune objects unreachable for
//! longer than the grace period; remove temporary files left by writers that died.

use muse_pack::{BuildOptions, GcOptions, Prune};

use super::bundle::pack_error;
use crate::error::{CliError, CliResult, EXIT_INVALID_INPUT};
use crate::output::{outln, Ctx};

/// Arguments of `muse gc`.
#[derive(clap::Args)]
pub struct Args {
    /// zstd level of the new pack (1-22; 19 makes it about 1.5 % smaller and is 5 times slower).
    #[arg(long, default_value_t = 9, value_parser = clap::value_parser!(i32).range(1..=22))]
    level: i32,
    /// Drop unreachable objects whose packs are older than this: `now`, `never`, or a duration
    /// like `2w`, `3d`, `12h`, `2.weeks.ago` (default: config `gc.pruneExpire`, else 2 weeks).
    #[arg(long, value_name = "WHEN", value_parser = parse_prune)]
    prune: Option<Prune>,
}

fn parse_prune(text: &str) -> Result<Prune, String> {
    Prune::parse(text).ok_or_else(|| format!("'{text}' is not now, never or a duration such as 2w, 3d, 12h"))
}

/// Repacks and reports.
pub fn run(args: Args, ctx: &Ctx) -> CliResult {
    // gc holds decoded objects for every encoder thread at once: its peak memory is what a
    // machine running it beside other work notices (bench/gc-results.md).
    crate::allocator::prefer_small_footprint();
    let repo = ctx.repo()?;
    let prune = match args.prune {
        Some(prune) => prune,
        None => match repo.config()?.get("gc.pruneExpire") {
            Some(text) => Prune::parse(text).ok_or_else(|| {
                CliError::new(
                    EXIT_INVALID_INPUT,
                    "invalid_input",
                    format!("config gc.pruneExpire = '{text}' is not now, never or a duration such as 2w, 3d, 12h"),
                )
            })?,
            None => Prune::default(),
        },
    };
    let spinner = ctx.progress(None, "repacking");
    let defaults = GcOptions::default();
    let options = GcOptions { build: BuildOptions { level: args.level, ..defaults.build }, prune, ..defaults };
    let report = muse_pack::gc(&repo, &options).map_err(pack_error)?;
    spinner.finish_and_clear();
    if ctx.json {
        return ctx.print_json(&report);
    }
    outln!(
        "Repacked {} objects ({} reachable, {} as deltas, {} unreachable kept, {} pruned) from {} pack(s) of {} bytes into {} pack(s) of {} bytes",
        report.objects,
        report.reachable,
        report.deltas,
        report.unreachable_kept,
        report.pruned,
        report.packs_before,
        report.bytes_before,
        report.packs_after,
        report.bytes_after
    )?;
    if report.temp_files_removed > 0 {
        outln!("Removed {} temporary file(s) of interrupted writes", report.temp_files_removed)?;
    }
    Ok(())
}
