//! `muse switch NAME` / `muse switch -c NAME [START]` / `muse switch --detach REV`: change the
//! working copy's branch, updating only the files that differ.

use muse_core::{CommitId, Tree};
use muse_store::worktree::checkout::{transition, Transition};
use muse_store::worktree::operation::RefMove;
use muse_store::{Head, RefName};

use super::branch::{checked_out, workspace_label};
use super::common::short;
use super::record::{head_moved, record, ref_change};
use crate::error::{CliError, CliResult, EXIT_CONFLICT, EXIT_NOT_FOUND};
use crate::output::{outln, Ctx};

/// Arguments of `muse switch`.
#[derive(clap::Args)]
pub struct Args {
    /// The branch to switch to (or the revision, with --detach).
    target: String,
    /// Create the branch first, at START (default: HEAD).
    #[arg(short = 'c', long = "create")]
    create: bool,
    /// Where a branch created with -c starts.
    #[arg(requires = "create")]
    start: Option<String>,
    /// Check out a revision without a branch.
    #[arg(long, conflicts_with = "create")]
    detach: bool,
    /// Discard uncommitted changes to files that differ between the two commits.
    #[arg(long)]
    force: bool,
}

#[derive(serde::Serialize)]
struct SwitchJson {
    branch: Option<String>,
    commit_id: Option<CommitId>,
    /// Commits reachable only from the detached HEAD that was left (none: an empty list).
    left_behind: Vec<CommitId>,
    #[serde(flatten)]
    stats: muse_store::worktree::checkout::CheckoutStats,
}

/// Moves HEAD and the files.
pub fn run(args: Args, ctx: &Ctx) -> CliResult {
    let repo = ctx.repo()?;
    muse_merge::state::ensure_no_merge(&repo, "switch")?;
    let from = match repo.head_commit()? {
        Some(id) => repo.objects().read_commit(&id)?.snapshot,
        None => Tree::empty_id(),
    };
    let (head, target) = if args.detach {
        let id = repo.resolve(&args.target)?;
        (Head::Detached(id), Some(id))
    } else {
        let name = RefName::branch(&args.target)?;
        let existing = repo.refs().read(&name)?;
        if args.create {
            if existing.is_some() {
                return Err(CliError::new(EXIT_CONFLICT, "conflict", format!("a branch named '{}' already exists", args.target)));
            }
            let start = match &args.start {
                Some(rev) => Some(repo.resolve(rev)?),
                None => repo.head_commit()?,
            };
            (Head::Branch(name), start)
        } else {
            let id = existing.ok_or_else(|| CliError::new(EXIT_NOT_FOUND, "not_found", format!("branch '{}' not found (use -c to create it)", args.target)))?;
            if let Some((_, holder)) = checked_out(&repo)?.into_iter().find(|(b, holder)| *b == name && holder.as_deref() != repo.workspace()) {
                return Err(CliError::new(
                    EXIT_CONFLICT,
                    "conflict",
                    format!("branch '{}' is already checked out in {}", args.target, workspace_label(holder.as_deref())),
                ));
            }
            (Head::Branch(name), Some(id))
        }
    };
    let to = match target {
        Some(id) => repo.objects().read_commit(&id)?.snapshot,
        None => Tree::empty_id(),
    };
    let old_head = repo.head()?;
    let left_behind = match (&old_head, target) {
        (Head::Detached(old), _) if target != Some(*old) => left_behind(&repo, *old, target)?,
        _ => Vec::new(),
    };
    // A branch created with -c appears with the files, HEAD last (all or nothing).
    let moves = match (&head, args.create, target) {
        (Head::Branch(name), true, Some(id)) => vec![RefMove { name: name.clone(), old: None, new: Some(id) }],
        _ => Vec::new(),
    };
    let refs = moves.iter().map(|m| ref_change(&m.name, m.old, m.new)).collect();
    let t = Transition { kind: "switch".into(), from, to, head_after: Some(head.clone()), refs: moves, force: args.force };
    let stats = transition(&repo, &t)?;
    record(&repo, "switch", refs, head_moved(&repo, old_head, head.clone(), true));
    if let Some(first) = left_behind.first() {
        eprintln!(
            "warning: {} commit(s) left behind on the detached HEAD, reachable from no branch or tag; `muse undo` or `muse branch NAME {}` keeps them",
            left_behind.len(),
            short(*first)
        );
    }
    let branch = match &head {
        Head::Branch(n) => Some(n.short().to_string()),
        Head::Detached(_) => None,
    };
    if ctx.json {
        return ctx.print_json(&SwitchJson { branch, commit_id: target, left_behind, stats });
    }
    match (&branch, target) {
        (Some(b), _) if args.create => outln!("Switched to a new branch '{b}'")?,
        (Some(b), _) => outln!("Switched to branch '{b}'")?,
        (None, Some(id)) => outln!("HEAD is now at {} (detached)", short(id))?,
        (None, None) => {}
    }
    if stats.carried > 0 {
        outln!("{} uncommitted change(s) carried over", stats.carried)?;
    }
    Ok(())
}

/// The commits reachable from `old` (a detached HEAD being left) but from no branch, tag, the
/// new HEAD or another working copy's HEAD: what would be lost from sight.
fn left_behind(repo: &muse_store::Repository, old: CommitId, new: Option<CommitId>) -> CliResult<Vec<CommitId>> {
    let mut others: Vec<CommitId> = repo.refs().list("refs/heads/")?.into_iter().chain(repo.refs().list("refs/tags/")?).map(|(_, id)| id).collect();
    others.extend(new);
    // Other working copies' detached HEADs keep their commits in sight too.
    for (name, _) in repo.workspaces()? {
        if name.as_deref() != repo.workspace() {
            if let Ok(Some(muse_store::Head::Detached(id))) = muse_store::workspace::workspace_head(repo, name.as_deref()) {
                others.push(id);
            }
        }
    }
    others.sort();
    others.dedup();
    Ok(muse_store::history::only_reachable_from(repo, old, &others)?)
}
