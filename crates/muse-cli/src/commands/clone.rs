//! `muse clone PATH [DIR]`: copy a local repository (every branch and tag, HEAD, the files)
//! through the same mpack path as every transfer.

use std::path::PathBuf;

use muse_pack::BuildOptions;

use super::bundle::pack_error;
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
            let name = source.canonicalize().ok().and_then(|p| p.file_name().map(PathBuf::from));
            ctx.cwd.join(name.ok_or_else(|| CliError::invalid(format!("cannot derive a directory name from {}; give DIR", args.source.display())))?)
        }
    };
    let spinner = ctx.progress(None, "cloning");
    // A local clone is not sent anywhere: a fast level keeps it quick; `muse gc` recompresses.
    let report = muse_pack::clone_local(&source, &dir, &BuildOptions { level: 3, ..BuildOptions::default() }).map_err(pack_error)?;
    spinner.finish_and_clear();
    if ctx.json {
        return ctx.print_json(&report);
    }
    outln!(
        "Cloned into {}: {} commits, {} trees, {} blobs; {} refs; HEAD {}; {} files checked out",
        report.path,
        report.apply.commits_written,
        report.apply.snapshots_written,
        report.apply.blobs_written,
        report.refs.len(),
        report.head,
        report.files
    )?;
    Ok(())
}
