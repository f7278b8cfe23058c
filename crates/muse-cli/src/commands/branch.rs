//! `muse branch`: list, create (`muse branch NAME [REV]`) or delete (`-d NAME`, `-D NAME`)
//! branches.

use std::io::Write;

use muse_core::CommitId;
use muse_store::history::is_ancestor;
use muse_store::{Head, RefName, Repository};

use super::common::short;
use super::record::{record, ref_change};
use crate::error::{CliError, CliResult, EXIT_CONFLICT, EXIT_NOT_FOUND};
use crate::output::{outln, stdout_error, Ctx};

/// Arguments of `muse branch`.
#[derive(clap::Args)]
pub struct Args {
    /// The branch to create (or delete, with -d). Without it, list branches.
    name: Option<String>,
    /// Where the new branch points (default: HEAD).
    start: Option<String>,
    /// Delete the branch (refused unless it is merged into HEAD).
    #[arg(short, long, requires = "name", conflicts_with = "start")]
    delete: bool,
    /// Delete the branch even if it is not merged (`muse undo` brings it back).
    #[arg(short = 'D', requires = "name", conflicts_with_all = ["start", "delete"])]
    force_delete: bool,
    /// List the remote-tracking refs (`origin/main`) instead.
    #[arg(short = 'r', long = "remotes", conflicts_with_all = ["name", "delete", "force_delete"])]
    remotes: bool,
}

#[derive(serde::Serialize)]
struct BranchJson {
    name: String,
    commit_id: CommitId,
    current: bool,
}

/// The branches checked out by any working copy, with the workspace holding them (`None`: the
/// main working copy).
pub fn checked_out(repo: &Repository) -> CliResult<Vec<(RefName, Option<String>)>> {
    let mut out = Vec::new();
    for (name, dir) in repo.workspaces()? {
        if let Ok(Head::Branch(branch)) = Repository::open(&dir).and_then(|r| r.head()) {
            out.push((branch, name));
        }
    }
    Ok(out)
}

/// How a workspace is named in messages.
pub fn workspace_label(name: Option<&str>) -> String {
    name.map_or_else(|| "the main working copy".to_string(), |n| format!("workspace '{n}'"))
}

/// Lists, creates or deletes.
pub fn run(args: Args, ctx: &Ctx) -> CliResult {
    let repo = ctx.repo()?;
    if args.remotes {
        let list: Vec<serde_json::Value> =
            repo.refs().list("refs/remotes/")?.into_iter().map(|(n, id)| serde_json::json!({ "name": n.short(), "commit_id": id })).collect();
        if ctx.json {
            return ctx.print_json(&list);
        }
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        for (name, id) in repo.refs().list("refs/remotes/")? {
            writeln!(out, "  {:<24} {}", name.short(), short(id)).map_err(stdout_error)?;
        }
        return out.flush().map_err(stdout_error);
    }
    let Some(name) = args.name else {
        let head = repo.head()?;
        let list: Vec<BranchJson> = repo
            .refs()
            .list("refs/heads/")?
            .into_iter()
            .map(|(n, id)| BranchJson { current: head == Head::Branch(n.clone()), name: n.short().to_string(), commit_id: id })
            .collect();
        if ctx.json {
            return ctx.print_json(&list);
        }
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        for b in list {
            writeln!(out, "{} {:<24} {}", if b.current { '*' } else { ' ' }, b.name, short(b.commit_id)).map_err(stdout_error)?;
        }
        return out.flush().map_err(stdout_error);
    };
    let ref_name = RefName::branch(&name)?;
    if args.delete || args.force_delete {
        let current = repo.refs().read(&ref_name)?.ok_or_else(|| CliError::new(EXIT_NOT_FOUND, "not_found", format!("branch '{name}' not found")))?;
        if let Some((_, holder)) = checked_out(&repo)?.into_iter().find(|(b, _)| *b == ref_name) {
            return Err(CliError::new(
                EXIT_CONFLICT,
                "conflict",
                format!("cannot delete branch '{name}': it is checked out in {}", workspace_label(holder.as_deref())),
            ));
        }
        if args.delete {
            let merged = match repo.head_commit()? {
                Some(head) => is_ancestor(&repo, current, head)?,
                None => false,
            };
            if !merged {
                return Err(CliError::new(
                    EXIT_CONFLICT,
                    "conflict",
                    format!("branch '{name}' is not merged into HEAD; `muse branch -D {name}` deletes it anyway"),
                ));
            }
        }
        repo.refs().compare_and_swap(&ref_name, Some(current), None)?;
        record(&repo, "branch", vec![ref_change(&ref_name, Some(current), None)], vec![]);
        if ctx.json {
            return ctx.print_json(&serde_json::json!({ "deleted": name, "commit_id": current }));
        }
        outln!("Deleted branch {name} (was {})", short(current))?;
        return Ok(());
    }
    let target = repo.resolve(args.start.as_deref().unwrap_or("HEAD"))?;
    if repo.refs().read(&ref_name)?.is_some() {
        return Err(CliError::new(EXIT_CONFLICT, "conflict", format!("a branch named '{name}' already exists")));
    }
    repo.refs().compare_and_swap(&ref_name, None, Some(target))?;
    record(&repo, "branch", vec![ref_change(&ref_name, None, Some(target))], vec![]);
    if ctx.json {
        return ctx.print_json(&BranchJson { name, commit_id: target, current: false });
    }
    outln!("Created branch {name} at {}", short(target))?;
    Ok(())
}
