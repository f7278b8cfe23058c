//! `muse import git GIT_REPO [DIR]`: convert a git history into a Muse repository (created if
//! needed, updated incrementally otherwise) and check out the git default branch, as
//! `git clone` would. The conversion itself is `muse_import::import_git`.

use std::path::{Path, PathBuf};

use indicatif::ProgressBar;
use muse_core::CommitId;
use muse_core::{Tree, TreeId};
use muse_import::{ImportError, ImportOptions, ImportPhase, ImportProgress, ImportSummary};
use muse_store::worktree::checkout::{transition, CheckoutStats, Transition};
use muse_store::worktree::operation::RefMove;
use muse_store::{Head, Repository, StoreError, DOT_MUSE};

use super::record::{head_moved, record, ref_view, view_diff};
use crate::error::{CliError, CliResult, EXIT_CONFLICT};
use crate::output::{outln, Ctx};

/// Arguments of `muse import`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    source: Source,
}

/// Where to import from.
#[derive(clap::Subcommand)]
enum Source {
    /// Import a git repository (bare or not): every branch and tag, with full history.
    Git(GitArgs),
}

/// Arguments of `muse import git`.
#[derive(clap::Args)]
struct GitArgs {
    /// The git repository to read.
    git_repo: PathBuf,
    /// The Muse repository to create or update (default: the git repository's name, without
    /// `.git`, in the current directory).
    dir: Option<PathBuf>,
    /// Fail on a path Muse cannot store (e.g. a non-UTF-8 name) instead of skipping it.
    #[arg(long)]
    strict_paths: bool,
}

/// JSON output of `muse import git`.
#[derive(serde::Serialize)]
struct ImportJson {
    repository: String,
    #[serde(flatten)]
    summary: ImportSummary,
    checkout: Option<CheckoutStats>,
}

/// Imports, then updates the working copy.
pub fn run(args: Args, ctx: &Ctx) -> CliResult {
    let Source::Git(args) = args.source;
    let git_repo = ctx.cwd.join(&args.git_repo);
    let dir = ctx.cwd.join(args.dir.clone().unwrap_or_else(|| default_dir(&git_repo)));
    let (repo, created) = open_or_init(&dir)?;
    let before = repo.head_commit()?;
    let (view_before, head_before) = (ref_view(&repo)?, repo.head()?);
    let opts = ImportOptions { strict_paths: args.strict_paths, ..ImportOptions::default() };
    let mut bar: Option<(ImportPhase, ProgressBar)> = None;
    let result = muse_import::import_git(&git_repo, &repo, &opts, &mut |p| show_progress(ctx, &mut bar, p));
    if let Some((_, b)) = bar.take() {
        b.finish_and_clear();
    }
    let summary = match result {
        Ok(summary) => summary,
        Err(e) => {
            // Like `git clone`: a failed first import leaves nothing behind.
            if let Some(created) = created {
                drop(repo);
                let _ = std::fs::remove_dir_all(created);
            }
            return Err(cli_error(e));
        }
    };
    let after = repo.head_commit()?;
    // The refs moved whether or not the files can follow (when they cannot, HEAD's branch goes
    // back): record what moved either way.
    let checked = match after {
        Some(to) if before != after => {
            let head = repo.head()?;
            Some(update_working_copy(&repo, &head, before, to).map_err(|e| checkout_error(e, &dir, &head)))
        }
        _ => None,
    };
    let heads = head_moved(&repo, head_before, repo.head()?, matches!(checked, Some(Ok(_))));
    record(&repo, "import", view_diff(&view_before, &ref_view(&repo)?), heads);
    let stats = checked.transpose()?;
    let out = ImportJson { repository: repo.work_dir().display().to_string(), summary, checkout: stats };
    if ctx.json {
        return ctx.print_json(&out);
    }
    print_text(&out)
}

/// Like `git clone`: `../x.git` and `../x` both import into `./x`.
fn default_dir(git_repo: &Path) -> PathBuf {
    let trimmed = git_repo.components().filter(|c| !matches!(c, std::path::Component::CurDir)).collect::<PathBuf>();
    let name = trimmed.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "imported".into());
    let name = if name == ".git" { trimmed.parent().and_then(Path::file_name).map(|n| n.to_string_lossy().into_owned()).unwrap_or(name) } else { name };
    PathBuf::from(name.strip_suffix(".git").filter(|n| !n.is_empty()).unwrap_or(&name))
}

/// Opens the Muse repository at `dir`, or creates it there if `dir` is absent or empty; then
/// also returns what was created (the directory, or its `.muse`), to remove if the import fails.
fn open_or_init(dir: &Path) -> CliResult<(Repository, Option<PathBuf>)> {
    if dir.join(DOT_MUSE).exists() {
        return Ok((Repository::open(dir)?, None));
    }
    let created = match dir.read_dir().map(|mut entries| entries.next().is_some()) {
        Ok(true) => {
            return Err(CliError::new(EXIT_CONFLICT, "conflict", format!("{} exists, is not empty and is not a muse repository", dir.display())));
        }
        Ok(false) => dir.join(DOT_MUSE),
        Err(_) => dir.to_path_buf(),
    };
    Ok((Repository::init(dir, "main")?, Some(created)))
}

/// The snapshot of a commit (the empty tree for none).
fn snapshot_of(repo: &Repository, commit: Option<CommitId>) -> Result<TreeId, StoreError> {
    match commit {
        Some(id) => Ok(repo.objects().read_commit(&id)?.snapshot),
        None => Ok(Tree::empty_id()),
    }
}

/// Checks out the import's new HEAD commit (`after`; HEAD held `before`), all or nothing. The
/// import moved HEAD's branch already (or pointed an unborn HEAD at git's); when the files
/// cannot follow, the branch goes back to where it was, so that HEAD and the files agree (and
/// the next import moves it again).
fn update_working_copy(repo: &Repository, head: &Head, before: Option<CommitId>, after: CommitId) -> Result<CheckoutStats, StoreError> {
    let refs = match head {
        Head::Branch(name) => vec![RefMove { name: name.clone(), old: before, new: Some(after) }],
        Head::Detached(_) => Vec::new(),
    };
    let t = Transition { kind: "import".into(), from: snapshot_of(repo, before)?, to: snapshot_of(repo, Some(after))?, head_after: None, refs, force: false };
    transition(repo, &t).inspect_err(|_| {
        if let Head::Branch(name) = head {
            let _ = repo.refs().compare_and_swap(name, Some(after), before);
        }
    })
}

/// Shows a spinner while scanning and a commits bar (with commits/s) while importing.
fn show_progress(ctx: &Ctx, bar: &mut Option<(ImportPhase, ProgressBar)>, p: ImportProgress) {
    if bar.as_ref().is_none_or(|(phase, _)| *phase != p.phase) {
        if let Some((_, old)) = bar.take() {
            old.finish_and_clear();
        }
        let new = match p.phase {
            ImportPhase::Scanning => ctx.progress(None, "scanning git history: commits"),
            ImportPhase::Importing => ctx.progress(Some(p.commits_total), "commits"),
            ImportPhase::UpdatingRefs => ctx.progress(None, "updating refs"),
        };
        *bar = Some((p.phase, new));
    }
    if let Some((_, b)) = bar {
        b.set_position(p.commits_done);
    }
}

fn print_text(out: &ImportJson) -> CliResult {
    let s = &out.summary;
    outln!(
        "Imported {} commit(s) ({} snapshot(s), {} objects, {:.1} MiB) into {} in {:.1}s",
        s.commits,
        s.snapshots,
        s.objects_written,
        s.bytes_written as f64 / (1024.0 * 1024.0),
        out.repository,
        s.seconds
    )?;
    if s.commits_previously_imported > 0 {
        outln!("{} commit(s) were already imported by earlier runs", s.commits_previously_imported)?;
    }
    outln!("{} branch(es), {} tag(s), {} ref(s) created or moved", s.branches, s.tags, s.refs_updated)?;
    if let Some(head) = &s.head {
        outln!("HEAD is on {head}")?;
    }
    if let Some(stats) = &out.checkout {
        outln!("checked out {} file(s)", stats.written)?;
    }
    if s.submodules_skipped > 0 {
        outln!("skipped {} submodule(s): {}", s.submodules_skipped, s.submodule_paths.join(", "))?;
    }
    for p in &s.skipped_paths {
        outln!("skipped {} (git commit {}): {}", p.path, p.commit, p.reason)?;
    }
    if s.paths_skipped > s.skipped_paths.len() as u64 {
        outln!("… and {} more skipped path(s)", s.paths_skipped - s.skipped_paths.len() as u64)?;
    }
    for w in &s.warnings {
        outln!("warning: {w}")?;
    }
    Ok(())
}

/// Maps an import failure to the CLI's exit codes (docs/cli.md).
fn cli_error(e: ImportError) -> CliError {
    CliError::of_kind(e.kind(), e.to_string())
}

/// The history is imported and the refs moved; only the working copy could not follow.
fn checkout_error(e: StoreError, dir: &Path, head: &Head) -> CliError {
    let mut err = CliError::from(e);
    let branch = match head {
        Head::Branch(name) => format!("branch '{}' stays at its previous commit", name.short()),
        Head::Detached(_) => "HEAD stays where it was".to_string(),
    };
    err.message = format!(
        "the history was imported, but the working copy in {} was not updated and {branch}: {}; commit or move them away and import again",
        dir.display(),
        err.message
    );
    err
}
