//! `muse pull [REMOTE] [BRANCH]`: fetch, then fast-forward the current branch to the remote's
//! branch, moving the files as `switch` does (all or nothing); a branch that diverged from the
//! remote's is merged with it as `muse merge REMOTE/BRANCH` does (a merge commit, or a stop on
//! conflicts that `muse merge --continue` or `--abort` ends).

use muse_core::{CommitId, Tree};
use muse_store::history::is_ancestor;
use muse_store::worktree::checkout::{transition, CheckoutStats, Transition};
use muse_store::worktree::operation::RefMove;
use muse_store::Head;

use super::common::short;
use super::fetch::{fail_if_rejected, fetch, print_text, with_change, FetchJson, Options};
use super::merge::{merge_step, print_step, MergeStep, Provenance, StepJson, StepStatus};
use super::record::{head_moved, record};
use super::remote::{default_remote, remote_url, Bar};
use crate::error::{CliError, CliResult, EXIT_FAILED, EXIT_NOT_FOUND};
use crate::output::{outln, Ctx};

/// Arguments of `muse pull`.
#[derive(clap::Args)]
pub struct Args {
    /// The remote (default: the current branch's upstream remote, else `origin`).
    remote: Option<String>,
    /// The remote's branch (default: the current branch's upstream branch, else its own name).
    branch: Option<String>,
}

/// What a pull did to the current branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
enum Status {
    /// The branch did not exist (an unborn HEAD) and was created.
    Created,
    /// The branch moved forward.
    FastForward,
    /// The branch already had the remote's commit, or is ahead of it.
    UpToDate,
    /// The branches had diverged: a merge commit was made.
    Merged,
    /// The branches had diverged and the merge stopped on conflicts (see `merge`).
    Conflict,
}

#[derive(serde::Serialize)]
struct PullJson<'a> {
    fetch: &'a FetchJson,
    branch: String,
    upstream: String,
    old: Option<CommitId>,
    new: Option<CommitId>,
    status: Status,
    checkout: Option<CheckoutStats>,
    /// The merge step when the branches had diverged (docs/cli.md §Merging), else `null`.
    merge: Option<StepJson>,
}

/// Fetches and fast-forwards.
pub fn run(args: Args, ctx: &Ctx) -> CliResult {
    let repo = ctx.repo()?;
    muse_merge::state::ensure_no_merge(&repo, "pull")?;
    let Head::Branch(branch) = repo.head()? else {
        return Err(CliError::invalid("HEAD is detached: switch to a branch to pull into"));
    };
    let config = repo.config()?;
    let remote = match args.remote {
        Some(remote) => remote,
        None => default_remote(&repo)?,
    };
    let upstream = match args.branch {
        Some(b) => b,
        None => config
            .get(&format!("branch.{}.merge", branch.short()))
            .filter(|_| config.get(&format!("branch.{}.remote", branch.short())) == Some(&remote))
            .map(|m| m.strip_prefix("refs/heads/").unwrap_or(m).to_string())
            .unwrap_or_else(|| branch.short().to_string()),
    };
    let url = remote_url(&repo, &remote)?;
    let bar = Bar::new(ctx, "fetching");
    let fetched = fetch(&repo, &remote, &url, &Options::default(), &bar);
    bar.finish();
    let fetched = fetched?;
    let tracking = muse_store::RefName::remote(&remote, &upstream)?;
    let theirs = repo.refs().read(&tracking)?.ok_or_else(|| {
        record(&repo, "pull", fetched.changes(), vec![]);
        CliError::new(EXIT_NOT_FOUND, "not_found", format!("the remote '{remote}' has no branch '{upstream}'"))
    })?;
    let ours = repo.refs().read(&branch)?;
    let status = match ours {
        None => Status::Created,
        Some(ours) if ours == theirs || is_ancestor(&repo, theirs, ours)? => Status::UpToDate,
        Some(ours) if is_ancestor(&repo, ours, theirs)? => Status::FastForward,
        Some(ours) => {
            record(&repo, "pull", fetched.changes(), vec![]);
            let template = Provenance::default().template(ctx, &repo, String::new(), None)?;
            let step = MergeStep { template: &template, message: None, no_ff: false, ff_only: false, command: "pull" };
            let done = merge_step(&repo, &step, &format!("{remote}/{upstream}"), theirs, &[])?;
            let status = if done.status == StepStatus::Conflict { Status::Conflict } else { Status::Merged };
            if ctx.json {
                ctx.print_json(&PullJson {
                    fetch: &fetched,
                    branch: branch.short().to_string(),
                    upstream: format!("{remote}/{upstream}"),
                    old: Some(ours),
                    new: done.new,
                    status,
                    checkout: done.checkout.clone(),
                    merge: Some(done),
                })?;
                return fail_if_rejected(&fetched).and(report_stop(status, &remote, &upstream));
            }
            print_text(&fetched)?;
            print_step(&done)?;
            fail_if_rejected(&fetched)?;
            return report_stop(status, &remote, &upstream);
        }
    };
    let mut checkout = None;
    let mut changes = fetched.changes();
    let mut heads = Vec::new();
    if status != Status::UpToDate {
        let from = match ours {
            Some(id) => repo.objects().read_commit(&id)?.snapshot,
            None => Tree::empty_id(),
        };
        let to = repo.objects().read_commit(&theirs)?.snapshot;
        let t = Transition {
            kind: "pull".into(),
            from,
            to,
            head_after: None,
            refs: vec![RefMove { name: branch.clone(), old: ours, new: Some(theirs) }],
            force: false,
        };
        match transition(&repo, &t) {
            Ok(stats) => checkout = Some(stats),
            Err(e) => {
                record(&repo, "pull", changes, vec![]);
                return Err(e.into());
            }
        }
        changes = with_change(changes, &branch, ours, Some(theirs));
        heads = head_moved(&repo, Head::Branch(branch.clone()), Head::Branch(branch.clone()), true);
    }
    record(&repo, "pull", changes, heads);
    let new = if status == Status::UpToDate { ours } else { Some(theirs) };
    if ctx.json {
        ctx.print_json(&PullJson {
            fetch: &fetched,
            branch: branch.short().to_string(),
            upstream: format!("{remote}/{upstream}"),
            old: ours,
            new,
            status,
            checkout,
            merge: None,
        })?;
    } else {
        print_text(&fetched)?;
        match status {
            Status::UpToDate => outln!("Already up to date with {remote}/{upstream}")?,
            _ => outln!(
                "Fast-forwarded {} {} -> {} ({} file(s) written, {} removed)",
                branch.short(),
                ours.map(short).unwrap_or_else(|| "(none)".into()),
                short(theirs),
                checkout.as_ref().map_or(0, |c| c.written),
                checkout.as_ref().map_or(0, |c| c.removed)
            )?,
        }
    }
    fail_if_rejected(&fetched)
}

/// Exit 1 when the merge of a pull stopped on conflicts.
fn report_stop(status: Status, remote: &str, upstream: &str) -> CliResult {
    if status == Status::Conflict {
        return Err(CliError::new(
            EXIT_FAILED,
            "conflicts",
            format!("the merge of {remote}/{upstream} stopped on conflicts: resolve them, then `muse merge --continue` (or `muse merge --abort`)"),
        ));
    }
    Ok(())
}
