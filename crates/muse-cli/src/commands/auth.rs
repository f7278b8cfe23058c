//! `muse auth login URL [--token-stdin | --user NAME --password-stdin]` · `logout URL` ·
//! `status`: the tokens muse sends to hubs, kept in the user's credentials file (mode 0600).
//! Tokens are read from standard input, never from the command line, and never printed.

use std::io::{BufRead, IsTerminal};

use muse_transport::auth::{normalize_hub, Credentials, TOKEN_ENV};

use super::remote::transport_error;
use crate::error::{CliError, CliResult, EXIT_IO};
use crate::output::{outln, Ctx};

/// Arguments of `muse auth`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Store a token for a hub: given on standard input (--token-stdin), or obtained from the
    /// hub with a user name and a password read from standard input.
    Login {
        /// The hub's URL (http[s]://HOST[:PORT][/PREFIX]).
        url: String,
        /// Read the token from standard input.
        #[arg(long, conflicts_with_all = ["user", "password_stdin"])]
        token_stdin: bool,
        /// Ask the hub for a new token as this user (with --password-stdin).
        #[arg(long, requires = "password_stdin")]
        user: Option<String>,
        /// Read the password from standard input.
        #[arg(long, requires = "user")]
        password_stdin: bool,
        /// The scope of a token asked for with --user: read, write or admin.
        #[arg(long, default_value = "write", value_parser = ["read", "write", "admin"], requires = "user")]
        scope: String,
    },
    /// Forget the token stored for a hub.
    Logout {
        /// The hub's URL.
        url: String,
    },
    /// Show which hubs have a stored token (never the tokens).
    Status,
}

/// Runs the action.
pub fn run(args: Args, ctx: &Ctx) -> CliResult {
    match args.action {
        Action::Login { url, token_stdin, user, password_stdin: _, scope } => {
            let hub = normalize_hub(&url).map_err(transport_error)?;
            let (token, user) = match user {
                Some(user) => {
                    let password = read_secret("password")?;
                    let label = format!("muse on {}", hostname());
                    let token = muse_transport::request_token(&hub, &user, &password, &label, &scope).map_err(transport_error)?;
                    (token, Some(user))
                }
                None if token_stdin => (read_secret("token")?, None),
                None => return Err(CliError::new(crate::error::EXIT_USAGE, "usage", "give --token-stdin, or --user NAME --password-stdin")),
            };
            let mut creds = Credentials::load_default().map_err(transport_error)?;
            creds.set(&hub, &token, user.as_deref());
            creds.save().map_err(transport_error)?;
            if ctx.json {
                return ctx.print_json(&serde_json::json!({ "hub": hub, "user": user, "credentials": creds.path() }));
            }
            outln!("Logged in to {hub}{} (token stored in {})", user.map(|u| format!(" as {u}")).unwrap_or_default(), creds.path().display())?;
        }
        Action::Logout { url } => {
            let hub = normalize_hub(&url).map_err(transport_error)?;
            let mut creds = Credentials::load_default().map_err(transport_error)?;
            let removed = creds.remove(&hub);
            if removed {
                creds.save().map_err(transport_error)?;
            }
            if ctx.json {
                return ctx.print_json(&serde_json::json!({ "hub": hub, "removed": removed }));
            }
            match removed {
                true => outln!("Logged out of {hub}")?,
                false => outln!("No token was stored for {hub}")?,
            }
        }
        Action::Status => {
            let creds = Credentials::load_default().map_err(transport_error)?;
            let env = std::env::var(TOKEN_ENV).is_ok_and(|t| !t.is_empty());
            let hubs: Vec<serde_json::Value> = creds.hubs().iter().map(|c| serde_json::json!({ "hub": c.hub, "user": c.user })).collect();
            if ctx.json {
                return ctx.print_json(&serde_json::json!({ "env_token": env, "credentials": creds.path(), "hubs": hubs }));
            }
            if env {
                outln!("{TOKEN_ENV} is set: it is sent to every hub")?;
            }
            if creds.hubs().is_empty() {
                outln!("No stored tokens ({})", creds.path().display())?;
            }
            for c in creds.hubs() {
                outln!("{}{}", c.hub, c.user.as_deref().map(|u| format!(" (as {u})")).unwrap_or_default())?;
            }
        }
    }
    Ok(())
}

/// One line of standard input, without its line ending; refused when empty.
fn read_secret(what: &str) -> CliResult<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("{what}: ");
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line).map_err(|e| CliError::new(EXIT_IO, "io", format!("cannot read the {what} from standard input: {e}")))?;
    let secret = line.trim_end_matches(['\n', '\r']).to_string();
    if secret.is_empty() {
        return Err(CliError::invalid(format!("no {what} on standard input")));
    }
    Ok(secret)
}

/// This machine's name, for the label of a token asked for (best effort).
fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname").ok().map(|h| h.trim().to_string()).filter(|h| !h.is_empty()).unwrap_or_else(|| "this machine".into())
}
