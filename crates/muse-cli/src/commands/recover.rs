//! `muse recover [--abort | --continue]`: make a working copy consistent after an interrupted
//! checkout (switch, clone, import, bundle apply): roll it back (the default) or finish it.

use muse_store::worktree::checkout::{finish, roll_back, RecoverReport};

use crate::error::CliResult;
use crate::output::{outln, Ctx};

/// Arguments of `muse recover`.
#[derive(clap::Args)]
pub struct Args {
    /// Roll the operation back: files, refs and HEAD as before it (the default).
    #[arg(long, conflicts_with = "cont")]
    abort: bool,
    /// Finish the operation: files, refs and HEAD as after it.
    #[arg(long = "continue", id = "cont")]
    cont: bool,
}

/// Rolls back or finishes the pending operation, if any.
pub fn run(args: Args, ctx: &Ctx) -> CliResult {
    let repo = ctx.repo()?;
    let report: Option<RecoverReport> = if args.cont { finish(&repo)? } else { roll_back(&repo)? };
    print(ctx, report)
}

/// Prints what a recovery did (`recover`, and `undo` of an interrupted operation).
pub fn print(ctx: &Ctx, report: Option<RecoverReport>) -> CliResult {
    if ctx.json {
        return ctx.print_json(&report);
    }
    let Some(r) = report else {
        return outln!("No interrupted operation in this working copy; nothing to do");
    };
    let verb = if r.outcome == "finished" { "Finished" } else { "Rolled back" };
    outln!("{verb} the interrupted {}: {} file(s) written, {} removed", r.kind, r.written, r.removed)?;
    for path in &r.kept {
        outln!("kept {path}: it was changed after the interruption (status shows it)")?;
    }
    for name in &r.refs_left {
        outln!("left {name} alone: another command moved it meanwhile")?;
    }
    Ok(())
}
