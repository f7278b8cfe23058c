//! `muse gc`: repack the whole store into one pack with deltas; remove temporary files left by
//! writers that died.

use muse_pack::BuildOptions;

use super::bundle::pack_error;
use crate::error::CliResult;
use crate::output::{outln, Ctx};

/// Arguments of `muse gc`.
#[derive(clap::Args)]
pub struct Args {
    /// zstd level of the new pack (1-22).
    #[arg(long, default_value_t = 19, value_parser = clap::value_parser!(i32).range(1..=22))]
    level: i32,
}

/// Repacks and reports.
pub fn run(args: Args, ctx: &Ctx) -> CliResult {
    let repo = ctx.repo()?;
    let spinner = ctx.progress(None, "repacking");
    let report = muse_pack::gc(&repo, &BuildOptions { level: args.level, ..BuildOptions::default() }).map_err(pack_error)?;
    spinner.finish_and_clear();
    if ctx.json {
        return ctx.print_json(&report);
    }
    outln!(
        "Repacked {} objects ({} reachable, {} as deltas, {} unreachable kept) from {} pack(s) of {} bytes into 1 pack of {} bytes",
        report.objects, report.reachable, report.deltas, report.unreachable_kept, report.packs_before, report.bytes_before, report.bytes_after
    )?;
    if report.temp_files_removed > 0 {
        outln!("Removed {} temporary file(s) of interrupted writes", report.temp_files_removed)?;
    }
    Ok(())
}
