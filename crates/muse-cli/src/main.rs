//! `muse`: the command-line interface. Parsing and dispatch only; the work is in the library
//! crates, one module per command under `commands/`.

mod allocator;
mod commands;
mod error;
mod output;

use std::process::ExitCode;

use clap::Parser;

use crate::output::Ctx;

/// Version control for people and AI agents: content-addressed, provenance on every commit.
#[derive(Parser)]
#[command(name = "muse", version, about, propagate_version = true)]
struct Cli {
    /// Print machine-readable JSON (documented in docs/cli.md) instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Run as if started in DIR.
    #[arg(short = 'C', global = true, value_name = "DIR")]
    directory: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: commands::Command,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version: printed on stdout, success.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // Usage errors are found before `--json` is parsed, so look for it by hand.
            let json = std::env::args_os().any(|a| a == "--json");
            if !json {
                let _ = e.print();
                return ExitCode::from(error::EXIT_USAGE);
            }
            let message = e.render().to_string();
            let first_line = message.lines().next().unwrap_or("usage error").trim_start_matches("error: ").to_string();
            return error::CliError::new(error::EXIT_USAGE, "usage", first_line).report(true);
        }
    };
    let ctx = match Ctx::new(cli.json, cli.directory) {
        Ok(ctx) => ctx,
        Err(e) => return e.report(cli.json),
    };
    match commands::run(cli.command, &ctx) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => e.report(ctx.json),
    }
}
