//! `muse remote add NAME URL` · `remove NAME` · `list`: the hubs this repository talks to,
//! kept as `remote.NAME.url` in the store's config; and what fetch, pull, push and clone share:
//! which remote a command means, the transport's errors as CLI errors, progress bars.

use std::sync::Mutex;

use indicatif::ProgressBar;
use muse_store::refs::validate_remote_name;
use muse_store::{Head, RefName, Repository};
use muse_transport::{Phase, Progress, Remote, RetryPolicy, TransportError};

use super::record::{record, ref_change};
use crate::error::{CliError, CliResult, EXIT_CONFLICT, EXIT_NOT_FOUND};
use crate::output::{bar_style, outln, Ctx};

/// Arguments of `muse remote`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Option<Action>,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Add a remote: a repository on a hub (http[s]://HOST[:PORT]/OWNER/NAME).
    Add {
        /// Its name (`origin`).
        name: String,
        /// The repository's URL.
        url: String,
    },
    /// Remove a remote, its remote-tracking refs and the upstream settings naming it.
    Remove {
        /// The remote.
        name: String,
    },
    /// List the remotes (the default).
    List,
}

/// The config key of a remote's URL.
pub fn url_key(name: &str) -> String {
    format!("remote.{name}.url")
}

#[derive(serde::Serialize)]
struct RemoteJson {
    name: String,
    url: String,
}

/// Adds, removes or lists remotes.
pub fn run(args: Args, ctx: &Ctx) -> CliResult {
    let repo = ctx.repo()?;
    match args.action.unwrap_or(Action::List) {
        Action::Add { name, url } => {
            validate_remote_name(&name)?;
            muse_protocol::RepoUrl::parse(&url).map_err(|e| CliError::invalid(e.to_string()))?;
            if repo.config()?.contains_key(&url_key(&name)) {
                return Err(CliError::new(EXIT_CONFLICT, "conflict", format!("remote '{name}' already exists")));
            }
            repo.set_config(&url_key(&name), &url)?;
            if ctx.json {
                return ctx.print_json(&RemoteJson { name, url });
            }
            outln!("Added remote {name} -> {url}")?;
        }
        Action::Remove { name } => {
            let url = remote_url(&repo, &name)?;
            let mut changes = Vec::new();
            for (tracking, id) in repo.refs().list(&format!("refs/remotes/{name}/"))? {
                repo.refs().compare_and_swap(&tracking, Some(id), None)?;
                changes.push(ref_change(&tracking, Some(id), None));
            }
            let config = repo.config()?;
            for key in config.keys().filter(|k| k.starts_with("branch.") && k.ends_with(".remote") && config.get(*k) == Some(&name)) {
                let base = key.trim_end_matches(".remote");
                repo.set_config(key, "")?;
                repo.set_config(&format!("{base}.merge"), "")?;
            }
            repo.set_config(&url_key(&name), "")?;
            record(&repo, "remote remove", changes.clone(), vec![]);
            if ctx.json {
                return ctx.print_json(&serde_json::json!({ "removed": name, "url": url, "refs_removed": changes.len() }));
            }
            outln!("Removed remote {name} ({} remote-tracking ref(s))", changes.len())?;
        }
        Action::List => {
            let list: Vec<RemoteJson> = remotes(&repo)?.into_iter().map(|(name, url)| RemoteJson { name, url }).collect();
            if ctx.json {
                return ctx.print_json(&list);
            }
            for r in list {
                outln!("{}\t{}", r.name, r.url)?;
            }
        }
    }
    Ok(())
}

/// Every remote as (name, URL), sorted by name.
pub fn remotes(repo: &Repository) -> CliResult<Vec<(String, String)>> {
    Ok(repo
        .config()?
        .into_iter()
        .filter_map(|(k, v)| k.strip_prefix("remote.").and_then(|r| r.strip_suffix(".url")).map(|name| (name.to_string(), v)))
        .collect())
}

/// The URL of remote `name`; exit 4 when there is none.
pub fn remote_url(repo: &Repository, name: &str) -> CliResult<String> {
    repo.config()?.get(&url_key(name)).cloned().ok_or_else(|| {
        CliError::new(EXIT_NOT_FOUND, "not_found", format!("no remote named '{name}' (see `muse remote list`; `muse remote add {name} URL` adds it)"))
    })
}

/// The remote a command means when none is given: the current branch's upstream remote, else
/// `origin`.
pub fn default_remote(repo: &Repository) -> CliResult<String> {
    if let Head::Branch(branch) = repo.head()? {
        if let Some(remote) = repo.config()?.get(&format!("branch.{}.remote", branch.short())) {
            return Ok(remote.clone());
        }
    }
    Ok("origin".to_string())
}

/// The remote-tracking ref of `remote`'s ref `name` (`refs/heads/B` → `refs/remotes/R/B`), or
/// `None` for refs that are not branches.
pub fn tracking_ref(remote: &str, name: &str) -> Option<RefName> {
    RefName::remote(remote, name.strip_prefix("refs/heads/")?).ok()
}

/// The environment variable that sets how often a cut transfer is retried (default 4; 0: fail
/// at the first cut, leaving the bytes received for the next run).
const RETRIES_ENV: &str = "MUSE_NET_RETRIES";

/// A client of the repository at `url`, with its token and the retry policy.
pub fn connect(url: &str) -> CliResult<Remote> {
    let remote = Remote::connect(url).map_err(transport_error)?;
    Ok(match std::env::var(RETRIES_ENV).ok().and_then(|v| v.trim().parse::<u32>().ok()) {
        Some(retries) => remote.with_retry(RetryPolicy { retries, ..RetryPolicy::default() }),
        None => remote,
    })
}

/// A transport failure as a CLI error (exit code by its kind; docs/cli.md).
pub fn transport_error(e: TransportError) -> CliError {
    let mut err = CliError::of_kind(e.kind(), e.to_string());
    if let Some(body) = e.server_error() {
        if body.code() == Some(muse_protocol::ErrorCode::StaleRef) {
            err.message.push_str(": the remote moved since it was read; fetch and try again");
        }
    }
    err
}

/// A transport [`Progress`] drawn as one bar on stderr (hidden on a pipe and under `--json`):
/// bytes and objects while receiving, bytes while uploading.
pub struct Bar {
    bar: ProgressBar,
    objects: Mutex<u64>,
    hidden: bool,
}

impl Bar {
    /// A bar for `what` (hidden when the context says so).
    pub fn new(ctx: &Ctx, what: &str) -> Bar {
        let bar = ctx.progress(None, what);
        Bar { hidden: bar.is_hidden(), bar, objects: Mutex::new(0) }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Progress for Bar {
    fn phase(&self, phase: Phase) {
        if self.hidden {
            return;
        }
        match phase {
            Phase::Negotiating => self.bar.set_message("negotiating"),
            Phase::Receiving => self.bar.set_message("receiving"),
            Phase::Packing => self.bar.set_message("packing"),
            Phase::Updating => self.bar.set_message("updating refs"),
            Phase::Uploading { total } => {
                self.bar.set_length(total);
                self.bar.set_position(0);
                self.bar.set_style(bytes_style());
                self.bar.set_message("uploading");
            }
        }
    }

    fn bytes(&self, done: u64, total: Option<u64>) {
        if self.hidden {
            return;
        }
        if let Some(total) = total {
            self.bar.set_length(total);
            self.bar.set_position(done);
        } else {
            let objects = self.objects.lock().map(|o| *o).unwrap_or(0);
            self.bar.set_message(format!("receiving: {} ({objects} objects)", indicatif::HumanBytes(done)));
        }
    }

    fn objects(&self, done: u64) {
        if let Ok(mut objects) = self.objects.lock() {
            *objects = done;
        }
    }
}

/// The style of byte-counted bars: `uploading [=====>    ] 1.2 MiB/4.0 MiB (3s)`.
fn bytes_style() -> indicatif::ProgressStyle {
    indicatif::ProgressStyle::with_template("{msg:>12} [{bar:30}] {bytes}/{total_bytes} ({eta})").unwrap_or_else(|_| bar_style()).progress_chars("=> ")
}
