//! The `musehub` command line (`docs/hub.md` §Commands): `serve`, and admin commands that work
//! directly on the data directory and database.

use std::io::{BufRead, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use muse_hub::{HubError, NewToken, Repo, Role};
use serde_json::json;

use crate::api::{days_from_now, split_full_name, TokenView};
use crate::error::ApiError;
use crate::rate::Rate;
use crate::{AppState, Config, StartError};

/// MuseHub: hosts Muse repositories over HTTP.
#[derive(Debug, Parser)]
#[command(name = "musehub", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the hub's data lives.
#[derive(Debug, Args)]
struct Data {
    /// The data directory (hub.db, repos/, uploads/).
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// The metadata database (sqlite://PATH?mode=rwc or postgres://…); default: DIR/hub.db.
    #[arg(long, value_name = "URL")]
    database: Option<String>,
    /// Print one JSON document instead of text.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the wire protocol and the JSON API.
    Serve(Serve),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage repositories.
    #[command(subcommand)]
    Repo(RepoCommand),
    /// Manage access tokens.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Debug, Args)]
struct Serve {
    /// The data directory (hub.db, repos/, uploads/); with --demo, by default a temporary one
    /// removed on exit.
    #[arg(long, value_name = "DIR", required_unless_present = "demo")]
    data: Option<PathBuf>,
    /// The metadata database (sqlite://PATH?mode=rwc or postgres://…); default: DIR/hub.db.
    #[arg(long, value_name = "URL")]
    database: Option<String>,
    /// Print one JSON document instead of text.
    #[arg(long)]
    json: bool,
    /// Create the demo user (`demo`, password `demo`) with a public repository whose history
    /// reproduces the seed's page and a private one, unless the data directory has them.
    #[arg(long)]
    demo: bool,
    /// The address to listen on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The reverse proxy whose X-Forwarded-For is believed (for rate limits and logs).
    #[arg(long, value_name = "IP")]
    trusted_proxy: Option<IpAddr>,
    /// Largest pack a push may upload, in bytes.
    #[arg(long, value_name = "BYTES")]
    max_upload_bytes: Option<u64>,
    /// Requests per minute per client address and per token (0: no limit).
    #[arg(long, value_name = "N")]
    rate_limit: Option<u32>,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a user.
    Add {
        #[command(flatten)]
        data: Data,
        /// The user name.
        name: String,
        /// An e-mail address.
        #[arg(long)]
        email: Option<String>,
        /// Read a password (for `POST /api/v1/tokens`) from the first line of stdin.
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Debug, Subcommand)]
enum RepoCommand {
    /// Create a repository.
    Create {
        #[command(flatten)]
        data: Data,
        /// OWNER/NAME.
        repo: String,
        /// Only the owner and collaborators may see it.
        #[arg(long)]
        private: bool,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a token and print its secret (shown only this once).
    Create {
        #[command(flatten)]
        data: Data,
        /// The user the token acts for.
        #[arg(long)]
        user: String,
        /// The most it allows: read, write or admin.
        #[arg(long, default_value = "write")]
        scope: String,
        /// Limit it to one repository, OWNER/NAME.
        #[arg(long)]
        repo: Option<String>,
        /// It stops working after N days.
        #[arg(long, value_name = "N")]
        expires_in_days: Option<u32>,
        /// A label for listings.
        #[arg(long, default_value = "")]
        label: String,
    },
    /// List a user's tokens (never their secrets).
    List {
        #[command(flatten)]
        data: Data,
        /// The user.
        #[arg(long)]
        user: String,
    },
    /// Revoke a token: it stops working at once.
    Revoke {
        #[command(flatten)]
        data: Data,
        /// The user.
        #[arg(long)]
        user: String,
        /// The token's id (from `token list`).
        id: i64,
    },
}

/// A command's failure: the exit code, its kind, and the message.
struct Failure {
    exit: u8,
    kind: &'static str,
    message: String,
}

impl From<HubError> for Failure {
    fn from(e: HubError) -> Self {
        let (exit, kind) = match e {
            HubError::NotFound(_) => (4, "not_found"),
            HubError::Conflict(_) | HubError::StaleRef { .. } => (5, "conflict"),
            HubError::ReservedName { .. } => (8, "reserved_name"),
            HubError::InvalidName { .. } | HubError::InvalidRef { .. } | HubError::BadRequest(_) => (8, "invalid_input"),
            HubError::Database(_) | HubError::Migrate(_) => (7, "io"),
            _ => (1, "failed"),
        };
        Failure { exit, kind, message: e.to_string() }
    }
}

impl From<StartError> for Failure {
    fn from(e: StartError) -> Self {
        match e {
            StartError::Database(hub) => Failure::from(hub),
            other => Failure { exit: 7, kind: "io", message: other.to_string() },
        }
    }
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        let (exit, kind) = match e.status() {
            404 => (4, "not_found"),
            409 => (5, "conflict"),
            400 => (8, "invalid_input"),
            _ => (1, "failed"),
        };
        Failure { exit, kind, message: e.body().error.message }
    }
}

/// Runs `musehub` with the process's arguments.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let json = match &cli.command {
        Command::Serve(s) => s.json,
        Command::User(UserCommand::Add { data, .. }) | Command::Repo(RepoCommand::Create { data, .. }) => data.json,
        Command::Token(TokenCommand::Create { data, .. } | TokenCommand::List { data, .. } | TokenCommand::Revoke { data, .. }) => data.json,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return fail(json, Failure { exit: 7, kind: "io", message: format!("cannot start the runtime: {e}") }),
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => fail(json, failure),
    }
}

fn fail(json: bool, failure: Failure) -> ExitCode {
    if json {
        eprintln!("{}", json!({"error": {"code": failure.exit, "kind": failure.kind, "message": failure.message}}));
    } else {
        eprintln!("error: {}", failure.message);
    }
    ExitCode::from(failure.exit)
}

fn config(data: &Data) -> Config {
    let mut config = Config::new(data.data.clone());
    config.database_url = data.database.clone();
    config
}

/// Prints `value` as JSON, or `text` otherwise.
fn print(json: bool, value: serde_json::Value, text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = if json { writeln!(out, "{value}") } else { writeln!(out, "{text}") };
}

async fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Serve(serve) => run_serve(serve).await,
        Command::User(UserCommand::Add { data, name, email, password_stdin }) => {
            let password = if password_stdin { Some(read_password()?) } else { None };
            let state = AppState::open(config(&data)).await?;
            let user = state.hub().create_user(&name, email.as_deref(), password.as_deref()).await?;
            print(data.json, json!({"name": user.name, "email": user.email, "created_at": user.created_at}), &format!("created user {}", user.name));
            Ok(())
        }
        Command::Repo(RepoCommand::Create { data, repo, private }) => {
            let (owner, name) = split_full_name(&repo)?;
            let state = AppState::open(config(&data)).await?;
            let repo = state.create_repo(&owner, &name, private).await?;
            let value = json!({"owner": repo.owner, "name": repo.name, "full_name": repo.full_name(), "private": repo.private, "created_at": repo.created_at});
            print(data.json, value, &format!("created {} repository {}", if repo.private { "private" } else { "public" }, repo.full_name()));
            Ok(())
        }
        Command::Token(TokenCommand::Create { data, user, scope, repo, expires_in_days, label }) => {
            let scope: Role = scope.parse()?;
            let repo = repo.as_deref().map(split_full_name).transpose()?;
            let state = AppState::open(config(&data)).await?;
            let new = NewToken { label, scope, repo, expires_at: expires_in_days.map(days_from_now) };
            let (info, secret) = state.hub().create_token(&user, new).await?;
            let mut view = TokenView::from(info);
            view.token = Some(secret.clone());
            print(data.json, serde_json::to_value(&view).unwrap_or_default(), &secret);
            Ok(())
        }
        Command::Token(TokenCommand::List { data, user }) => {
            let state = AppState::open(config(&data)).await?;
            let tokens: Vec<TokenView> = state.hub().tokens(&user).await?.into_iter().map(TokenView::from).collect();
            let text = tokens.iter().map(TokenView::line).collect::<Vec<_>>().join("\n");
            print(data.json, serde_json::to_value(&tokens).unwrap_or_default(), &text);
            Ok(())
        }
        Command::Token(TokenCommand::Revoke { data, user, id }) => {
            let state = AppState::open(config(&data)).await?;
            state.hub().revoke_token(&user, id).await?;
            print(data.json, json!({"revoked": id}), &format!("revoked token {id}"));
            Ok(())
        }
    }
}

fn read_password() -> Result<String, Failure> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|e| Failure { exit: 7, kind: "io", message: format!("reading the password from stdin: {e}") })?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

async fn run_serve(serve: Serve) -> Result<(), Failure> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MUSEHUB_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(false).try_init();
    // Without --data (only allowed with --demo), a scratch directory removed when serving ends.
    let (data_dir, scratch) = match serve.data {
        Some(dir) => (dir, None),
        None => {
            let scratch = tempfile::Builder::new().prefix("musehub-demo").tempdir().map_err(|e| Failure {
                exit: 7,
                kind: "io",
                message: format!("cannot make a temporary data directory: {e}"),
            })?;
            (scratch.path().to_path_buf(), Some(scratch))
        }
    };
    let mut config = Config::new(data_dir.clone());
    config.database_url = serve.database;
    config.listen = serve.listen;
    config.trusted_proxy = serve.trusted_proxy;
    if let Some(max) = serve.max_upload_bytes {
        config.limits.max_upload = max;
    }
    if let Some(per_minute) = serve.rate_limit {
        let rate = Rate { per_minute, burst: per_minute.div_ceil(4).max(1) };
        config.limits.rate_per_ip = rate;
        config.limits.rate_per_token = rate;
    }
    let server = crate::start(config).await?;
    let base = format!("http://{}", server.addr());
    let mut text = format!("listening on {base}");
    let mut value = json!({"listening": base});
    if serve.demo {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
        let seeded = match crate::demo::seed(server.state(), now).await {
            Ok(seeded) => seeded,
            Err(e) => {
                server.shutdown().await;
                return Err(match e {
                    crate::demo::DemoError::Hub(hub) => Failure::from(hub),
                    other => Failure { exit: 7, kind: "io", message: other.to_string() },
                });
            }
        };
        let page = format!("{base}{}", seeded.page);
        let kept = if seeded.created { "" } else { " (kept from an earlier run)" };
        let removed = if scratch.is_some() { ", removed on exit" } else { "" };
        text.push_str(&format!(
            "\ndemo: the seed's page: {page}\ndemo: sign in as {} with password {}; data in {}{removed}{kept}",
            crate::demo::USER,
            crate::demo::PASSWORD,
            data_dir.display()
        ));
        value["demo"] = json!({
            "page": page,
            "user": crate::demo::USER,
            "password": crate::demo::PASSWORD,
            "data": data_dir.display().to_string(),
            "created": seeded.created,
        });
    }
    print(serve.json, value, &text);
    shutdown_signal().await;
    tracing::info!("signal received");
    server.shutdown().await;
    drop(scratch);
    Ok(())
}

/// Waits for SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

impl TokenView {
    fn line(&self) -> String {
        let state = if self.revoked_at.is_some() { " revoked" } else { "" };
        let repo = self.repo.as_deref().map(|r| format!(" repo {r}")).unwrap_or_default();
        format!("{}\t{}\t{}{repo}{state}", self.id, self.scope, self.label)
    }
}

impl AppState {
    /// Creates a repository: its metadata, then its content storage (the metadata is removed
    /// again if that fails).
    pub async fn create_repo(&self, owner: &str, name: &str, private: bool) -> Result<Repo, ApiError> {
        let repo = self.hub().create_repo(owner, name, private).await?;
        if let Err(e) = self.content().create(repo.id).await {
            let _ = self.hub().delete_repo(repo.id).await;
            return Err(ApiError::internal(e));
        }
        tracing::info!(repo = %repo.full_name(), private, "repository created");
        Ok(repo)
    }
}
