//! `muse init [DIR]`: create an empty repository.

use std::path::PathBuf;

use muse_store::{Repository, Store};

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
    /// Create a bare store (no working copy, as a hub keeps it) in DIR itself.
    #[arg(long)]
    bare: bool,
}

/// JSON output of `muse init`.
#[derive(serde::Serialize)]
struct Initialized {
    path: String,
    branch: String,
    bare: bool,
}

/// Creates the repository and reports where.
pub fn run(args: Args, ctx: &Ctx) -> CliResult {
    let dir = ctx.cwd.join(args.dir.unwrap_or_default());
    let path = if args.bare {
        Store::init_bare(&dir, &args.initial_branch)?.store_dir().canonicalize().unwrap_or(dir).display().to_string()
    } else {
        Repository::init(&dir, &args.initial_branch)?.work_dir().display().to_string()
    };
    let out = Initialized { path, branch: args.initial_branch, bare: args.bare };
    if ctx.json {
        ctx.print_json(&out)
    } else if out.bare {
        outln!("Initialized empty bare muse store in {} (default branch {})", out.path, out.branch)
    } else {
        outln!("Initialized empty muse repository in {}/.muse (branch {})", out.path, out.branch)
    }
}
