//! `muse workspace add|list|remove|prune`: extra working copies sharing this repository's store, each
//! with its own HEAD and stat cache (one agent, one workspace, one branch).

use std::path::PathBuf;

use muse_core::{CommitId, Tree};
use muse_store::oplog::HeadChange;
use muse_store::{workspace, Head, RefName, Repository};

use super::branch::{checked_out, workspace_label};
use super::record::{record, ref_change};
use crate::error::{CliError, CliResult, EXIT_CONFLICT};
use crate::output::{outln, Ctx};

/// Arguments of `muse workspace`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Create a workspace at PATH on a branch (created at HEAD if it does not exist; default:
    /// a branch named after PATH's last component).
    Add {
        /// Where the new working copy goes (must not exist or be empty).
        path: PathBuf,
        /// The branch to check out there.
        #[arg(short = 'b', long)]
        branch: Option<String>,
        /// Where a newly created branch starts (default: HEAD).
        #[arg(long)]
        start: Option<String>,
    },
    /// List every working copy of this store.
    List,
    /// Delete a workspace's files and forget it (refused if it has uncommitted changes or holds
    /// a nested repository or workspace).
    Remove {
        /// The workspace's directory.
        path: PathBuf,
        /// Remove even with uncommitted changes (nested repositories and workspaces are kept).
        #[arg(long)]
        force: bool,
    },
    /// Forget every workspace whose directory is gone.
    Prune,
}

#[derive(serde::Serialize)]
struct WorkspaceJson {
    name: Option<String>,
    path: String,
    branch: Option<String>,
    head: Option<CommitId>,
}

fn describe(name: Option<String>, dir: PathBuf) -> WorkspaceJson {
    let (branch, head) = match Repository::open(&dir) {
        Ok(repo) => {
            let branch = match repo.head() {
                Ok(Head::Branch(b)) => Some(b.short().to_string()),
                _ => None,
            };
            (branch, repo.head_commit().ok().flatten())
        }
        Err(_) => (None, None),
    };
    WorkspaceJson { name, path: dir.display().to_string(), branch, head }
}

/// Adds, lists or removes workspaces.
pub fn run(args: Args, ctx: &Ctx) -> CliResult {
    let repo = ctx.repo()?;
    match args.action {
        Action::List => {
            let list: Vec<WorkspaceJson> = repo.workspaces()?.into_iter().map(|(n, d)| describe(n, d)).collect();
            if ctx.json {
                return ctx.print_json(&list);
            }
            for w in list {
                let head = w.head.map(|h| h.0.short(12)).unwrap_or_else(|| "(no commits)".into());
                outln!("{:<40} {:<12} [{}]", w.path, head, w.branch.as_deref().unwrap_or("detached"))?;
            }
            Ok(())
        }
        Action::Add { path, branch, start } => {
            let path = ctx.cwd.join(path);
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .ok_or_else(|| CliError::invalid(format!("cannot name a workspace after {}", path.display())))?
                .to_string();
            let branch_name = branch.unwrap_or_else(|| name.clone());
            let ref_name = RefName::branch(&branch_name)?;
            if let Some((_, holder)) = checked_out(&repo)?.into_iter().find(|(b, _)| *b == ref_name) {
                return Err(CliError::new(
                    EXIT_CONFLICT,
                    "conflict",
                    format!("branch '{branch_name}' is already checked out in {}", workspace_label(holder.as_deref())),
                ));
            }
            let existing = repo.refs().read(&ref_name)?;
            let target = match (existing, &start) {
                (Some(id), None) => Some(id),
                (Some(_), Some(_)) => {
                    return Err(CliError::new(
                        EXIT_CONFLICT,
                        "conflict",
                        format!("branch '{branch_name}' already exists; --start only applies to a new branch"),
                    ))
                }
                (None, Some(rev)) => Some(repo.resolve(rev)?),
                (None, None) => repo.head_commit()?,
            };
            if existing.is_none() {
                if let Some(id) = target {
                    repo.refs().compare_and_swap(&ref_name, None, Some(id))?;
                }
            }
            let snapshot = match target {
                Some(id) => repo.objects().read_commit(&id)?.snapshot,
                None => Tree::empty_id(),
            };
            let head = Head::Branch(ref_name.clone());
            let added = workspace::add(&repo, &path, &name, &head, snapshot);
            let created = existing.is_none() && target.is_some();
            let (workspace, stats) = match added {
                Ok(added) => added,
                Err(e) => {
                    if created {
                        // Nothing was made: the new branch goes too.
                        let _ = repo.refs().compare_and_swap(&ref_name, target, None);
                    }
                    return Err(e.into());
                }
            };
            let refs = if created { vec![ref_change(&ref_name, None, target)] } else { Vec::new() };
            let heads = vec![HeadChange {
                workspace: Some(name.clone()),
                path: workspace.work_dir().display().to_string(),
                old: None,
                new: Some(head),
                checkout: true,
            }];
            record(&repo, "workspace add", refs, heads);
            if ctx.json {
                return ctx.print_json(&describe(Some(name), workspace.work_dir().to_path_buf()));
            }
            outln!("Created workspace '{name}' at {} on branch '{branch_name}' ({} files)", workspace.work_dir().display(), stats.written)?;
            Ok(())
        }
        Action::Remove { path, force } => {
            let joined = ctx.cwd.join(&path);
            let dir = joined.canonicalize().unwrap_or(joined);
            let workspaces = repo.workspaces()?;
            let name = workspaces.iter().find(|(n, d)| n.is_some() && *d == dir).and_then(|(n, _)| n.clone()).ok_or_else(|| {
                CliError::invalid(format!("{} is not a workspace of this repository (the main working copy cannot be removed)", dir.display()))
            })?;
            let removed = workspace::remove(&repo, &name, force)?;
            record(&repo, "workspace remove", vec![], vec![forgotten(&removed)]);
            if ctx.json {
                return ctx.print_json(&serde_json::json!({ "removed": name, "path": dir.display().to_string(), "kept": removed.kept }));
            }
            outln!("Removed workspace '{name}' ({})", dir.display())?;
            for kept in &removed.kept {
                outln!("kept the nested repository or workspace {}", kept.display())?;
            }
            Ok(())
        }
        Action::Prune => {
            let pruned = workspace::prune(&repo)?;
            record(&repo, "workspace prune", vec![], pruned.iter().map(forgotten).collect());
            if ctx.json {
                let list: Vec<_> = pruned.iter().map(|p| serde_json::json!({ "name": p.name, "path": p.path.display().to_string() })).collect();
                return ctx.print_json(&serde_json::json!({ "pruned": list }));
            }
            for p in &pruned {
                outln!("Forgot workspace '{}' ({}: directory gone)", p.name, p.path.display())?;
            }
            Ok(())
        }
    }
}

/// The op-log entry of a workspace removed or pruned.
fn forgotten(removed: &workspace::Removed) -> HeadChange {
    HeadChange { workspace: Some(removed.name.clone()), path: removed.path.display().to_string(), old: removed.head.clone(), new: None, checkout: true }
}
