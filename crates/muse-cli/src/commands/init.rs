//! `muse init [DIR]`: create an empty repository.

use std::path::PathBuf;

use muse_store::Repository;

use crate::error::CliResult;
use crate::output::{outln, Ctx};

/// Arguments of `muse init`.
#[derive(clap::Args)]
pub struct Args {
    /// Where to create the repository (default: the current directory).
    dir: Option<PathBuf>,
    /// The name of the initial branch.
    #[arg(short = 'b', long, default_value = "main")]
    initial_branch: String,
}

/// JSON output of `muse init`.
#[derive(serde::Serialize)]
struct Initialized {
    path: String,
    branch: String,
}

/// Creates the repository and reports where.
pub fn run(args: Args, ctx: &Ctx) -> CliResult {
    let dir = ctx.cwd.join(args.dir.unwrap_or_default());
    let repo = Repository::init(&dir, &args.initial_branch)?;
    let out = Initialized { path: repo.work_dir().display().to_string(), branch: args.initial_branch };
    if ctx.json {
        ctx.print_json(&out)
    } else {
        outln!("Initialized empty muse repository in {}/.muse (branch {})", out.path, out.branch)
    }
}
