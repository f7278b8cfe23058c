//! `muse import git GIT_REPO [DIR]`: convert a git history into a Muse repository (created if
//! needed, updated incrementally otherwise) and check out the git default branch, as
//! `git clone` would. The conversion itself is `muse_import::import_git`.

use std::path::{Path, PathBuf};

use indicatif::ProgressBar;
use muse_core::{Tree, TreeId};
use muse_import::{ImportError, ImportOptions, ImportPhase, ImportProgress, ImportSummary};
use muse_store::worktree::checkout::{checkout, CheckoutStats};
use muse_store::{Repository, StoreError, DOT_MUSE};

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
    let before = head_snapshot(&repo)?;
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
    let after = head_snapshot(&repo)?;
    // The refs moved whether or not the files can follow: record them either way.
    let checked = match (before, after) {
        (from, Some(to)) if from != Some(to) => Some(checkout(&repo, from.unwrap_or_else(Tree::empty_id), to, false)),
        _ => None,
    };
    let heads = head_moved(&repo, head_before, repo.head()?, matches!(checked, Some(Ok(_))));
    record(&repo, "import", view_diff(&view_before, &ref_view(&repo)?), heads);
    let stats = checked.transpose().map_err(|e| checkout_error(e, &dir))?;
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

/// The snapshot HEAD points at, if HEAD is born.
fn head_snapshot(repo: &Repository) -> CliResult<Option<TreeId>> {
    match repo.head_commit()? {
        Some(id) => Ok(Some(repo.objects().read_commit(&id)?.snapshot)),
        None => Ok(None),
    }
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
fn checkout_error(e: StoreError, dir: &Path) -> CliError {
    let mut err = CliError::from(e);
    err.message = format!("the history was imported, but the working copy in {} was not updated: {}", dir.display(), err.message);
    err
}
