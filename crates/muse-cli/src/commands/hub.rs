//! `muse hub …`: runs the `musehub` executable (the server and its administration) with the
//! remaining arguments, as git runs `git-NAME` for an external subcommand. `musehub` is looked
//! for beside the running `muse` first, then on `PATH`.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;

use crate::error::{CliError, CliResult, EXIT_FAILED, EXIT_IO, EXIT_NOT_FOUND};
use crate::output::Ctx;

/// The hub's executable.
const HUB_EXE: &str = "musehub";

/// Arguments of `muse hub`.
#[derive(clap::Args)]
pub struct Args {
    /// The arguments for `musehub` (`serve --data DIR`, `user add NAME`, …).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<OsString>,
}

/// Where `musehub` is: beside this executable, else the first on `PATH`.
fn locate() -> Option<PathBuf> {
    let name = format!("{HUB_EXE}{}", std::env::consts::EXE_SUFFIX);
    let beside = std::env::current_exe().ok().and_then(|exe| exe.parent().map(|dir| dir.join(&name))).filter(|p| p.is_file());
    beside.or_else(|| std::env::var_os("PATH").and_then(|path| std::env::split_paths(&path).map(|dir| dir.join(&name)).find(|p| p.is_file())))
}

/// Runs `musehub` and ends with its exit code.
pub fn run(args: Args, ctx: &Ctx) -> CliResult {
    let exe = locate().ok_or_else(|| {
        CliError::new(
            EXIT_NOT_FOUND,
            "not_found",
            format!("`muse hub` runs `{HUB_EXE}`, which is neither beside muse nor on PATH; install it (cargo install --path crates/muse-hub-server)"),
        )
    })?;
    let mut command = Command::new(&exe);
    command.args(&args.args).current_dir(&ctx.cwd);
    if ctx.json && !args.args.iter().any(|a| a == "--json") {
        command.arg("--json");
    }
    let status = command.status().map_err(|e| CliError::new(EXIT_IO, "io", format!("cannot run {}: {e}", exe.display())))?;
    match status.code() {
        Some(0) => Ok(()),
        // Its own message is already on stderr: pass its code on, quietly.
        Some(code) => Err(CliError::external(u8::try_from(code).unwrap_or(EXIT_FAILED))),
        None => Err(CliError::failed(format!("{} was killed by a signal", exe.display()))),
    }
}
