//! `muse bundle create FILE [REV…] [--not REV…]` and `muse bundle apply FILE`: offline transfer
//! of history as an mpack with a ref header (see docs/mpack.md §Bundles and docs/cli.md).

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use muse_core::{CommitId, Tree};
use muse_pack::{apply_bundle, create_bundle, ApplyOptions, BuildOptions, BundleHeader, PackError, RefStatus, WriteStep};
use muse_store::worktree::checkout::{transition, CheckoutStats, Transition};
use muse_store::worktree::operation::RefMove;
use muse_store::{Head, RefName, Repository};

use super::common::short;
use super::record::{head_moved, record};
use crate::error::{CliError, CliResult, EXIT_IO, EXIT_NOT_FOUND};
use crate::output::{outln, Ctx};

/// Arguments of `muse bundle`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Write the history of REVs (branches, tags or HEAD; default: every branch and tag) to
    /// FILE, leaving out what the `--not` revisions reach.
    Create {
        /// The bundle file to write (`-` for standard output).
        file: PathBuf,
        /// Branches, tags or HEAD to include.
        revs: Vec<String>,
        /// Leave out what this revision reaches (the receiver must have it). Repeatable.
        #[arg(long = "not", value_name = "REV")]
        not: Vec<String>,
        /// zstd level of the payloads (1-22; 19 is 1-3 % smaller and 4-5 times slower).
        #[arg(long, default_value_t = 9, value_parser = clap::value_parser!(i32).range(1..=22))]
        level: i32,
    },
    /// Write a bundle's objects (every valid chain; invalid records are reported), then move
    /// its refs forward. Exit 1 if anything was rejected.
    Apply {
        /// The bundle file (`-` for standard input).
        file: PathBuf,
        /// Move refs even when that is not a fast-forward.
        #[arg(long)]
        force: bool,
    },
}

/// Runs `bundle create` or `bundle apply`.
pub fn run(args: Args, ctx: &Ctx) -> CliResult {
    let repo = ctx.repo()?;
    match args.action {
        Action::Create { file, revs, not, level } => create(&repo, ctx, &resolve(ctx, file), &revs, &not, level),
        Action::Apply { file, force } => apply(&repo, ctx, &resolve(ctx, file), force),
    }
}

/// A FILE argument relative to the command's directory (`-C`), `-` left as is.
fn resolve(ctx: &Ctx, file: PathBuf) -> PathBuf {
    if file == Path::new("-") {
        file
    } else {
        ctx.cwd.join(file)
    }
}

#[derive(serde::Serialize)]
struct RefJson {
    name: String,
    commit_id: CommitId,
}

#[derive(serde::Serialize)]
struct Created {
    file: String,
    refs: Vec<RefJson>,
    prerequisites: Vec<CommitId>,
    #[serde(flatten)]
    stats: muse_pack::BuildStats,
    bytes: u64,
}

fn create(repo: &Repository, ctx: &Ctx, file: &Path, revs: &[String], not: &[String], level: i32) -> CliResult {
    let refs = if revs.is_empty() { all_refs(repo)? } else { revs.iter().map(|rev| named_ref(repo, rev)).collect::<CliResult<Vec<_>>>()? };
    let prerequisites = not.iter().map(|rev| repo.resolve(rev)).collect::<Result<Vec<_>, _>>()?;
    let head = match repo.head()? {
        Head::Branch(name) if refs.iter().any(|(r, _)| *r == name) => Some(name),
        _ => None,
    };
    let header = BundleHeader { prerequisites, refs, head };
    let options = BuildOptions { level, ..BuildOptions::default() };
    let spinner = ctx.progress(None, "packing");
    let (stats, bytes) = if file == Path::new("-") {
        let mut out = CountingWriter { inner: BufWriter::new(io::stdout().lock()), bytes: 0 };
        let stats = create_bundle(repo, &header, &mut out, &options).map_err(pack_error)?;
        (stats, out.bytes)
    } else {
        write_atomically(file, |out| create_bundle(repo, &header, out, &options))?
    };
    spinner.finish_and_clear();
    let out = Created {
        file: file.display().to_string(),
        refs: header.refs.iter().map(|(name, id)| RefJson { name: name.to_string(), commit_id: *id }).collect(),
        prerequisites: header.prerequisites.clone(),
        stats,
        bytes,
    };
    if ctx.json && file == Path::new("-") {
        // The pack owns stdout: the report goes to stderr, so that `> out.mpack` stays a pack.
        let report = serde_json::to_string(&out).map_err(|e| CliError::failed(format!("cannot encode the report: {e}")))?;
        eprintln!("{report}");
        return Ok(());
    }
    if ctx.json {
        return ctx.print_json(&out);
    }
    if file != Path::new("-") {
        outln!("Wrote {}: {} commits, {} trees, {} blobs ({} as deltas), {bytes} bytes", out.file, stats.commits, stats.trees, stats.blobs, stats.deltas)?;
        for r in &out.refs {
            outln!("  {} {}", short(r.commit_id), r.name)?;
        }
    }
    Ok(())
}

/// Writes `file` through a temporary file renamed into place, so a failed create leaves nothing.
fn write_atomically(
    file: &Path,
    write: impl FnOnce(&mut CountingWriter<BufWriter<File>>) -> muse_pack::Result<muse_pack::BuildStats>,
) -> CliResult<(muse_pack::BuildStats, u64)> {
    let io_err = |op: &str, e: io::Error| CliError::new(EXIT_IO, "io", format!("{op} {}: {e}", file.display()));
    let mut tmp_name = file.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = file.with_file_name(tmp_name);
    let result = (|| {
        let mut out = CountingWriter { inner: BufWriter::new(File::create(&tmp).map_err(|e| io_err("create", e))?), bytes: 0 };
        let stats = write(&mut out).map_err(pack_error)?;
        let file_handle = out.inner.into_inner().map_err(|e| io_err("write", e.into_error()))?;
        file_handle.sync_all().map_err(|e| io_err("fsync", e))?;
        fs::rename(&tmp, file).map_err(|e| io_err("rename to", e))?;
        Ok((stats, out.bytes))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Counts the bytes written through it.
struct CountingWriter<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Every branch and tag.
fn all_refs(repo: &Repository) -> CliResult<Vec<(RefName, CommitId)>> {
    let mut refs = repo.refs().list("refs/heads/")?;
    refs.extend(repo.refs().list("refs/tags/")?);
    Ok(refs)
}

/// A bundle carries refs by name: `rev` must be HEAD (on a branch), a branch, a tag or a full
/// ref name.
fn named_ref(repo: &Repository, rev: &str) -> CliResult<(RefName, CommitId)> {
    let not_found = || CliError::new(EXIT_NOT_FOUND, "not_found", format!("'{rev}' is not a branch or tag (a bundle carries refs by name)"));
    let candidates: Vec<RefName> = if rev == "HEAD" || rev == "@" {
        match repo.head()? {
            Head::Branch(name) => vec![name],
            Head::Detached(_) => return Err(CliError::invalid("HEAD is detached; name a branch or tag to bundle")),
        }
    } else if rev.starts_with("refs/") {
        vec![RefName::parse(rev)?]
    } else {
        [RefName::branch(rev), RefName::tag(rev)].into_iter().filter_map(Result::ok).collect()
    };
    for name in candidates {
        if let Some(id) = repo.refs().read(&name)? {
            return Ok((name, id));
        }
    }
    Err(not_found())
}

fn apply(repo: &Repository, ctx: &Ctx, file: &Path, force: bool) -> CliResult {
    let bar = ctx.progress(None, "applying");
    let steps = AtomicU64::new(0);
    let hook = |_: &WriteStep<'_>| {
        bar.set_position(steps.fetch_add(1, Ordering::Relaxed) + 1);
        Ok(())
    };
    let options = ApplyOptions { hook: Some(&hook), ..ApplyOptions::default() };
    // HEAD on a branch that does not exist yet (a fresh repository): if the bundle creates it,
    // its files are checked out, as `clone` does; otherwise status would list every file as
    // deleted and the next commit would record that.
    let unborn = match repo.head()? {
        Head::Branch(name) if repo.refs().read(&name)?.is_none() => Some(name),
        _ => None,
    };
    let report = if file == Path::new("-") {
        apply_bundle(repo, io::stdin().lock(), force, options)
    } else {
        let input = File::open(file).map_err(|e| CliError::new(EXIT_IO, "io", format!("open {}: {e}", file.display())))?;
        apply_bundle(repo, BufReader::with_capacity(1 << 20, input), force, options)
    }
    .map_err(pack_error)?;
    bar.finish_and_clear();
    let checkout = match &unborn {
        Some(name) => check_out_created(repo, name),
        None => Ok(None),
    };
    // A branch removed again because its files could not be checked out did not move.
    let moved = moved_refs(&report.refs).into_iter().filter(|r| checkout.is_ok() || unborn.as_ref().is_none_or(|n| n.as_str() != r.name)).collect();
    let heads = match (&checkout, repo.head()?) {
        (Ok(Some(_)), head) => head_moved(repo, head.clone(), head, true),
        _ => Vec::new(),
    };
    record(repo, "bundle apply", moved, heads);
    let checkout = checkout?;
    let refs_rejected = report.refs.iter().filter(|r| r.status == RefStatus::Rejected).count();
    if ctx.json {
        let mut doc = serde_json::to_value(&report).map_err(|e| CliError::failed(e.to_string()))?;
        doc["checkout"] = serde_json::to_value(&checkout).map_err(|e| CliError::failed(e.to_string()))?;
        ctx.print_json(&doc)?;
    } else {
        outln!("Wrote {} commits, {} trees, {} blobs", report.apply.commits_written, report.apply.snapshots_written, report.apply.blobs_written)?;
        for r in &report.apply.rejected {
            outln!("rejected {} {}: {}", r.kind.as_str(), r.id, r.reason)?;
        }
        for r in &report.refs {
            let status = serde_json::to_value(r.status).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
            outln!(
                "{:<12} {} -> {} {}{}",
                status,
                r.old.map(short).unwrap_or_else(|| "(none)".into()),
                short(r.new),
                r.name,
                r.reason.as_deref().map(|why| format!(": {why}")).unwrap_or_default()
            )?;
        }
        if let Some(stats) = &checkout {
            outln!("Checked out {} file(s)", stats.written)?;
        }
    }
    let rejected = report.apply.rejected.len() + refs_rejected;
    if rejected > 0 {
        return Err(CliError::failed(format!("{rejected} record(s) or ref(s) were rejected; everything else was applied")));
    }
    Ok(())
}

/// Checks out HEAD's branch if the apply created it (all or nothing). When files are in the
/// way, the branch is removed again, so that HEAD (unborn) and the files agree.
fn check_out_created(repo: &Repository, name: &RefName) -> CliResult<Option<CheckoutStats>> {
    let Some(id) = repo.refs().read(name)? else { return Ok(None) };
    let to = repo.objects().read_commit(&id)?.snapshot;
    let refs = vec![RefMove { name: name.clone(), old: None, new: Some(id) }];
    let t = Transition { kind: "bundle apply".into(), from: Tree::empty_id(), to, head_after: None, refs, force: false };
    match transition(repo, &t) {
        Ok(stats) => Ok(Some(stats)),
        Err(e) => {
            let _ = repo.refs().compare_and_swap(name, Some(id), None);
            let mut err = CliError::from(e);
            err.message =
                format!("the history was applied, but branch '{}' was not created because its files cannot be checked out: {}", name.short(), err.message);
            Err(err)
        }
    }
}

/// Maps a pack error to the CLI's exit codes (docs/cli.md).
pub fn pack_error(e: PackError) -> CliError {
    CliError::of_kind(e.kind(), e.to_string())
}

/// The ref moves of an apply or clone report, for the op log.
pub fn moved_refs(updates: &[muse_pack::RefUpdate]) -> Vec<muse_store::oplog::RefChange> {
    updates
        .iter()
        .filter(|r| matches!(r.status, RefStatus::Created | RefStatus::FastForward | RefStatus::Forced))
        .map(|r| muse_store::oplog::RefChange { name: r.name.clone(), old: r.old, new: Some(r.new) })
        .collect()
}
