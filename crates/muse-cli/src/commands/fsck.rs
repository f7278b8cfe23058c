//! `muse fsck`: verify the whole store; exit 6 if anything is wrong.

use crate::error::{CliError, CliResult, EXIT_CORRUPT};
use crate::output::{outln, Ctx};

/// Arguments of `muse fsck`.
#[derive(clap::Args)]
pub struct Args {}

/// Checks and reports.
pub fn run(_args: Args, ctx: &Ctx) -> CliResult {
    let repo = ctx.repo()?;
    let spinner = ctx.progress(None, "checking");
    let report = muse_store::fsck::fsck(&repo)?;
    spinner.finish_and_clear();
    let ok = report.problems.is_empty();
    if ctx.json {
        ctx.print_json(&serde_json::json!({ "ok": ok, "report": report }))?;
    } else {
        for p in &report.problems {
            outln!("error: {}: {}", p.subject, p.message)?;
        }
        outln!(
            "checked {} objects ({} commits) in {} packs, {} refs: {}",
            report.objects,
            report.commits,
            report.packs,
            report.refs,
            if ok { "ok" } else { "PROBLEMS FOUND" }
        )?;
        if report.leftover_temp_files > 0 {
            outln!("note: {} temporary file(s) of interrupted writes can be removed by `muse gc`", report.leftover_temp_files)?;
        }
    }
    if ok {
        Ok(())
    } else {
        Err(CliError::new(EXIT_CORRUPT, "corrupt", format!("{} problem(s) found in the store", report.problems.len())))
    }
}
