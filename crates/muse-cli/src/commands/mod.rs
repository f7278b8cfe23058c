//! One module per command; [`Command`] lists them and [`run`] dispatches.

mod init;

use crate::error::CliResult;
use crate::output::Ctx;

/// The commands of `muse`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Create an empty repository.
    Init(init::Args),
}

/// Runs one parsed command.
pub fn run(command: Command, ctx: &Ctx) -> CliResult {
    match command {
        Command::Init(args) => init::run(args, ctx),
    }
}
