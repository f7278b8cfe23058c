//! `muse cherry-pick REV` and `muse revert REV` (each with `--continue` / `--abort`): apply the
//! change a commit made, or undo it, on top of HEAD, with the merge engine (docs/cli.md
//! §Merging).

use muse_merge::state::StepKind;
use muse_store::worktree::operation::ensure_none_pending;

use super::common::short;
use super::merge::{abort_stopped, continue_stopped, pick_step, report, stopped, Provenance};
use crate::error::CliResult;
use crate::output::{outln, Ctx};

/// Arguments of `muse cherry-pick` and `muse revert`.
#[derive(clap::Args)]
pub struct Args {
    /// The commit whose change to apply (cherry-pick) or undo (revert).
    #[arg(required_unless_present_any = ["cont", "abort"])]
    rev: Option<String>,
    /// The commit message (cherry-pick: default, the picked commit's; revert: "Revert \"…\"").
    #[arg(short, long)]
    message: Option<String>,
    /// Commit the resolved conflicts of the stopped step.
    #[arg(long = "continue", conflicts_with_all = ["abort", "rev"])]
    cont: bool,
    /// Put the working copy back as it was before the stopped step.
    #[arg(long, conflicts_with_all = ["rev", "message"])]
    abort: bool,
    #[command(flatten)]
    provenance: Provenance,
}

/// Runs `muse cherry-pick` (`kind` CherryPick) or `muse revert` (`kind` Revert).
pub fn run(args: Args, ctx: &Ctx, kind: StepKind) -> CliResult {
    let repo = ctx.repo()?;
    if args.abort {
        let state = stopped(&repo, kind)?;
        let stats = abort_stopped(&repo, &state)?;
        if ctx.json {
            return ctx.print_json(&serde_json::json!({ "aborted": state.kind, "head": state.head, "checkout": stats }));
        }
        return outln!(
            "Aborted the {} of {}; the working copy is back at {}",
            kind.command(),
            state.theirs_label,
            state.head.map_or_else(|| "(none)".into(), short)
        );
    }
    if args.cont {
        let state = stopped(&repo, kind)?;
        let step = continue_stopped(&repo, ctx, &state, &args.provenance, args.message)?;
        return report(ctx, &[step], &[]);
    }
    ensure_none_pending(&repo, kind.command())?;
    muse_merge::state::ensure_no_merge(&repo, kind.command())?;
    let rev = args.rev.unwrap_or_default();
    let id = repo.resolve(&rev)?;
    let picked = repo.objects().read_commit(&id)?;
    let template = match kind {
        StepKind::Revert => {
            let subject = picked.message.lines().next().unwrap_or("");
            let message = args.message.clone().unwrap_or_else(|| format!("Revert \"{subject}\"\n\nThis reverts commit {id}.\n"));
            args.provenance.template(ctx, &repo, message, None)?
        }
        _ => {
            let mut message = args.message.clone().unwrap_or_else(|| picked.message.clone());
            if args.message.is_none() {
                message = format!("{}\n\n(cherry picked from commit {id})\n", message.trim_end());
            }
            args.provenance.template(ctx, &repo, message, Some(&picked))?
        }
    };
    let step = pick_step(&repo, kind, &rev, id, template)?;
    report(ctx, &[step], &[])
}
