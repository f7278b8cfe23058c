//! `muse clone PATH [DIR]`: copy a local repository (every branch and tag, HEAD, the files)
//! through the same mpack path as every transfer.

use std::path::PathBuf;

use muse_pack::{BuildOptions, RefStatus};

use super::bundle::{moved_refs, pack_error};
use super::record::{head_moved, record};
use crate::error::{CliError, CliResult};
use crate::output::{outln, Ctx};

/// Arguments of `muse clone`.
#[derive(clap::Args)]
pub struct Args {
    /// The repository to clone (a working copy directory).
    source: PathBuf,
    /// Where to create the clone (default: the source's directory name, here).
    dir: Option<PathBuf>,
}

/// Clones and reports.
pub fn run(args: Args, ctx: &Ctx) -> CliResult {
    let source = ctx.cwd.join(&args.source);
    let dir = match args.dir {
        Some(dir) => ctx.cwd.join(dir),
        None => {
            // `project.muse` (a bare store) clones into `project`, as git drops `.git`.
            let name = source.canonicalize().ok().and_then(|p| {
                p.file_name().map(|n| {
                    let n = n.to_string_lossy();
                    PathBuf::from(n.strip_suffix(".muse").filter(|s| !s.is_empty()).unwrap_or(&n))
                })
            });
            ctx.cwd.join(name.ok_or_else(|| CliError::invalid(format!("cannot derive a directory name from {}; give DIR", args.source.display())))?)
        }
    };
    let spinner = ctx.progress(None, "cloning");
    // A local clone is not sent anywhere: a fast level keeps it quick; `muse gc` recompresses.
    let report = muse_pack::clone_local(&source, &dir, &BuildOptions { level: 3, ..BuildOptions::default() }).map_err(pack_error)?;
    spinner.finish_and_clear();
    // The clone's first operation: its refs and HEAD, so that gc and `op log` see them.
    if let Ok(repo) = muse_store::Repository::open(std::path::Path::new(&report.path)) {
        let head = repo.head().ok();
        let heads = match head {
            Some(head @ muse_store::Head::Detached(_)) => head_moved(&repo, head.clone(), head, true),
            _ => Vec::new(),
        };
        record(&repo, "clone", moved_refs(&report.refs), heads);
    }
    if ctx.json {
        ctx.print_json(&report)?;
    } else {
        outln!(
            "Cloned into {}: {} commits, {} trees, {} blobs; {} refs; HEAD {}; {} files checked out",
            report.path,
            report.apply.commits_written,
            report.apply.snapshots_written,
            report.apply.blobs_written,
            report.refs.iter().filter(|r| r.status != RefStatus::Rejected).count(),
            report.head,
            report.files
        )?;
        for r in &report.apply.rejected {
            outln!("rejected {} {}: {}", r.kind.as_str(), r.id, r.reason)?;
        }
        for r in report.refs.iter().filter(|r| r.status == RefStatus::Rejected) {
            outln!("rejected ref {}: {}", r.name, r.reason.as_deref().unwrap_or("not written"))?;
        }
    }
    // As `bundle apply`: what was valid is kept; anything rejected makes the clone a failure.
    let rejected = report.apply.rejected.len() + report.refs.iter().filter(|r| r.status == RefStatus::Rejected).count();
    if rejected > 0 {
        return Err(CliError::failed(format!("{rejected} record(s) or ref(s) were rejected; the clone holds everything else")));
    }
    Ok(())
}
