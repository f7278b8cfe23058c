//! `muse config [KEY [VALUE]]`: read or set repository settings (user.author, agent.id,
//! agent.model, agent.toolchain).

use crate::error::{CliError, CliResult, EXIT_NOT_FOUND};
use crate::output::{outln, Ctx};

/// Arguments of `muse config`.
#[derive(clap::Args)]
pub struct Args {
    /// The key to read or set; without it, list every setting.
    key: Option<String>,
    /// The value to set (an empty string removes the key).
    value: Option<String>,
}

/// Lists, reads or writes one setting.
pub fn run(args: Args, ctx: &Ctx) -> CliResult {
    let repo = ctx.repo()?;
    match (args.key, args.value) {
        (None, _) => {
            let config = repo.config()?;
            if ctx.json {
                return ctx.print_json(&config);
            }
            for (k, v) in config {
                outln!("{k} = {v}")?;
            }
        }
        (Some(key), None) => {
            let config = repo.config()?;
            let value = config.get(&key).ok_or_else(|| CliError::new(EXIT_NOT_FOUND, "not_found", format!("config key '{key}' is not set")))?;
            if ctx.json {
                return ctx.print_json(&serde_json::json!({ "key": key, "value": value }));
            }
            outln!("{value}")?;
        }
        (Some(key), Some(value)) => {
            repo.set_config(&key, &value)?;
            if ctx.json {
                return ctx.print_json(&serde_json::json!({ "key": key, "value": value }));
            }
        }
    }
    Ok(())
}
