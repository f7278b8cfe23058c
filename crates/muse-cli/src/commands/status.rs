//! `muse status`: how the working copy differs from HEAD.

use muse_core::Tree;
use muse_store::worktree::scan;
use muse_store::Head;

use super::common::change_word;
use crate::error::CliResult;
use crate::output::Ctx;

/// Arguments of `muse status`.
#[derive(clap::Args)]
pub struct Args {
    /// One line per change: a status letter and the path.
    #[arg(short, long)]
    short: bool,
}

#[derive(serde::Serialize)]
struct StatusJson {
    branch: Option<String>,
    head: Option<muse_core::CommitId>,
    workspace: Option<String>,
    clean: bool,
    changes: Vec<ChangeJson>,
}

#[derive(serde::Serialize)]
struct ChangeJson {
    path: String,
    status: &'static str,
    kind: Option<muse_core::EntryKind>,
}

/// Scans the working copy (refreshing the stat cache) and prints the changes.
pub fn run(args: Args, ctx: &Ctx) -> CliResult {
    let repo = ctx.repo()?;
    let head = repo.head()?;
    let head_commit = repo.head_commit()?;
    let base = match head_commit {
        Some(id) => repo.objects().read_commit(&id)?.snapshot,
        None => Tree::empty_id(),
    };
    let result = scan(&repo, base, None)?;
    result.save_cache(&repo)?;
    let branch = match &head {
        Head::Branch(name) => Some(name.short().to_string()),
        Head::Detached(_) => None,
    };
    let changes: Vec<ChangeJson> = result
        .changes
        .iter()
        .map(|c| ChangeJson { path: c.path.clone(), status: change_word(c.base, c.work), kind: c.work.or(c.base).map(|(k, _)| k) })
        .collect();
    // The scan holds one entry per file; the process ends right after printing, and freeing
    // 100,000 paths one by one would cost a good share of a clean status.
    std::mem::forget(result);
    if ctx.json {
        return ctx.print_json(&StatusJson { branch, head: head_commit, workspace: repo.workspace().map(str::to_string), clean: changes.is_empty(), changes });
    }
    if args.short {
        for c in &changes {
            let letter = match c.status {
                "added" => 'A',
                "deleted" => 'D',
                "type_changed" => 'T',
                _ => 'M',
            };
            println!("{letter} {}", c.path);
        }
        return Ok(());
    }
    match (&branch, head_commit) {
        (Some(b), Some(_)) => println!("On branch {b}"),
        (Some(b), None) => println!("On branch {b} (no commits yet)"),
        (None, Some(id)) => println!("HEAD detached at {}", id.0.short(12)),
        (None, None) => {}
    }
    if changes.is_empty() {
        println!("nothing to commit, working copy clean");
    } else {
        println!("Changes to be committed (everything not in .museignore):");
        for c in &changes {
            println!("  {:<13}{}", format!("{}:", c.status.replace('_', " ")), c.path);
        }
    }
    Ok(())
}
