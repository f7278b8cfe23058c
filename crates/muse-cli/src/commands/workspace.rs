//! `muse workspace add|list|remove`: extra working copies sharing this repository's store, each
//! with its own HEAD and stat cache (one agent, one workspace, one branch).

use std::path::PathBuf;

use muse_core::{CommitId, Tree};
use muse_store::history::resolve_revision;
use muse_store::worktree::checkout::checkout;
use muse_store::worktree::scan;
use muse_store::{Head, RefName, Repository};

use super::branch::{checked_out, workspace_label};
use crate::error::{CliError, CliResult, EXIT_CONFLICT, EXIT_IO};
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
    /// Delete a workspace's files and forget it (refused if it has uncommitted changes).
    Remove {
        /// The workspace's directory.
        path: PathBuf,
        /// Remove even with uncommitted changes.
        #[arg(long)]
        force: bool,
    },
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
            let name = path.file_name().and_then(|n| n.to_str()).ok_or_else(|| CliError::invalid(format!("cannot name a workspace after {}", path.display())))?.to_string();
            let branch_name = branch.unwrap_or_else(|| name.clone());
            let ref_name = RefName::branch(&branch_name)?;
            if let Some((_, holder)) = checked_out(&repo)?.into_iter().find(|(b, _)| *b == ref_name) {
                return Err(CliError::new(EXIT_CONFLICT, "conflict", format!("branch '{branch_name}' is already checked out in {}", workspace_label(holder.as_deref()))));
            }
            let existing = repo.refs().read(&ref_name)?;
            let target = match (existing, &start) {
                (Some(id), None) => Some(id),
                (Some(_), Some(_)) => return Err(CliError::new(EXIT_CONFLICT, "conflict", format!("branch '{branch_name}' already exists; --start only applies to a new branch"))),
                (None, Some(rev)) => Some(resolve_revision(&repo, rev)?),
                (None, None) => repo.head_commit()?,
            };
            let workspace = repo.add_workspace(&path, &name, &Head::Branch(ref_name.clone()))?;
            if existing.is_none() {
                if let Some(id) = target {
                    repo.refs().compare_and_swap(&ref_name, None, Some(id))?;
                }
            }
            let snapshot = match target {
                Some(id) => repo.objects().read_commit(&id)?.snapshot,
                None => Tree::empty_id(),
            };
            let stats = checkout(&workspace, Tree::empty_id(), snapshot, false)?;
            if ctx.json {
                return ctx.print_json(&describe(Some(name), workspace.work_dir().to_path_buf()));
            }
            outln!("Created workspace '{name}' at {} on branch '{branch_name}' ({} files)", workspace.work_dir().display(), stats.written)?;
            Ok(())
        }
        Action::Remove { path, force } => {
            let dir = ctx.cwd.join(&path).canonicalize().map_err(|e| CliError::new(EXIT_IO, "io", format!("{}: {e}", path.display())))?;
            let workspaces = repo.workspaces()?;
            let name = workspaces
                .iter()
                .find(|(n, d)| n.is_some() && *d == dir)
                .and_then(|(n, _)| n.clone())
                .ok_or_else(|| CliError::invalid(format!("{} is not a workspace of this repository (the main working copy cannot be removed)", dir.display())))?;
            if !force {
                let workspace = Repository::open(&dir)?;
                let base = match workspace.head_commit()? {
                    Some(id) => workspace.objects().read_commit(&id)?.snapshot,
                    None => Tree::empty_id(),
                };
                let scanned = scan(&workspace, base, None)?;
                if !scanned.is_clean() {
                    return Err(CliError::new(EXIT_CONFLICT, "conflict", format!("workspace '{name}' has {} uncommitted change(s); commit them or use --force", scanned.changes.len())));
                }
            }
            repo.remove_workspace(&name)?;
            std::fs::remove_dir_all(&dir).map_err(|e| CliError::new(EXIT_IO, "io", format!("cannot remove {}: {e}", dir.display())))?;
            if ctx.json {
                return ctx.print_json(&serde_json::json!({ "removed": name, "path": dir.display().to_string() }));
            }
            outln!("Removed workspace '{name}' ({})", dir.display())?;
            Ok(())
        }
    }
}
