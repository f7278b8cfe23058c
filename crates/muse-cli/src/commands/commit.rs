//! `muse commit`: record the working copy, with its author and agent provenance.

use std::collections::BTreeMap;
use std::path::PathBuf;

use muse_core::{unix_to_rfc3339_utc, validate_rfc3339, Commit, ObjectId, SemVerBump};
use muse_store::commit::commit_worktree;

use super::common::{short, CommitJson};
use crate::error::{CliError, CliResult};
use crate::output::{outln, Ctx};

/// Arguments of `muse commit`.
#[derive(clap::Args)]
pub struct Args {
    /// The commit message.
    #[arg(short, long)]
    message: String,
    /// Who is accountable (default: $MUSE_AUTHOR, then config user.author).
    #[arg(long)]
    author: Option<String>,
    /// The commit time, RFC 3339 (default: now, UTC). Kept exactly as given.
    #[arg(long)]
    date: Option<String>,
    /// The agent that made the change (default: $MUSE_AGENT_ID, then config agent.id).
    #[arg(long)]
    agent_id: Option<String>,
    /// The model behind the agent (default: $MUSE_MODEL_ID, then config agent.model).
    #[arg(long)]
    model_id: Option<String>,
    /// The agent's toolchain (default: $MUSE_TOOLCHAIN_ID, then config agent.toolchain).
    #[arg(long)]
    toolchain_id: Option<String>,
    /// A file holding the prompt; only its SHA-256 is stored.
    #[arg(long, conflicts_with = "prompt_hash")]
    prompt_file: Option<PathBuf>,
    /// The prompt's hash, `sha256:<64 hex>`.
    #[arg(long)]
    prompt_hash: Option<String>,
    /// The declared semantic-version bump: none, patch, minor or major.
    #[arg(long, default_value = "none")]
    bump: String,
    /// A breaking change (repeatable).
    #[arg(long = "breaking", value_name = "TEXT")]
    breaking: Vec<String>,
    /// Extra metadata, KEY=VALUE (repeatable).
    #[arg(long = "meta", value_name = "KEY=VALUE")]
    meta: Vec<String>,
    /// Record a commit even if nothing changed.
    #[arg(long)]
    allow_empty: bool,
}

/// Picks a value: the flag, then the environment variable, then the config key, then "".
fn pick(flag: Option<String>, env: &str, config: &BTreeMap<String, String>, key: &str) -> String {
    flag.or_else(|| std::env::var(env).ok().filter(|v| !v.is_empty())).or_else(|| config.get(key).cloned()).unwrap_or_default()
}

/// Builds the commit from the flags and records the working copy.
pub fn run(args: Args, ctx: &Ctx) -> CliResult {
    let repo = ctx.repo()?;
    let config = repo.config()?;
    let author = pick(args.author, "MUSE_AUTHOR", &config, "user.author");
    if author.trim().is_empty() {
        return Err(CliError::invalid("no author: pass --author, set MUSE_AUTHOR, or run `muse config user.author \"Name <email>\"`"));
    }
    let committed_at = match args.date {
        Some(date) => {
            validate_rfc3339(&date).map_err(|e| CliError::invalid(e.to_string()))?;
            date
        }
        None => {
            let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
            unix_to_rfc3339_utc(secs)
        }
    };
    let prompt_hash = match (args.prompt_file, args.prompt_hash) {
        (Some(file), _) => {
            let path = ctx.cwd.join(&file);
            let bytes = std::fs::read(&path).map_err(|e| CliError::new(crate::error::EXIT_IO, "io", format!("cannot read prompt file {}: {e}", path.display())))?;
            ObjectId::of(&bytes).to_string()
        }
        (None, Some(hash)) => {
            if !hash.starts_with("sha256:") || ObjectId::parse(&hash).is_err() {
                return Err(CliError::invalid(format!("'{hash}' is not a prompt hash (expected sha256:<64 lowercase hex digits>)")));
            }
            hash
        }
        (None, None) => String::new(),
    };
    let sem_ver_bump: SemVerBump = args.bump.parse().map_err(CliError::invalid)?;
    let mut metadata = BTreeMap::new();
    for pair in args.meta {
        let (k, v) = pair.split_once('=').ok_or_else(|| CliError::invalid(format!("metadata '{pair}' is not KEY=VALUE")))?;
        if k.is_empty() || k.contains('\0') {
            return Err(CliError::invalid(format!("metadata key in '{pair}' is empty or holds a NUL")));
        }
        metadata.insert(k.to_string(), v.to_string());
    }
    let template = Commit {
        message: args.message,
        author,
        committed_at,
        agent_id: pick(args.agent_id, "MUSE_AGENT_ID", &config, "agent.id"),
        model_id: pick(args.model_id, "MUSE_MODEL_ID", &config, "agent.model"),
        toolchain_id: pick(args.toolchain_id, "MUSE_TOOLCHAIN_ID", &config, "agent.toolchain"),
        prompt_hash,
        sem_ver_bump,
        breaking_changes: args.breaking,
        metadata,
        ..Commit::default()
    };
    let bar = ctx.progress(None, "committing");
    let outcome = commit_worktree(&repo, template, args.allow_empty, &crate::output::hashing_progress(&bar))?;
    bar.finish_and_clear();
    if ctx.json {
        return ctx.print_json(&CommitJson::new(outcome.id, &outcome.commit));
    }
    let place = outcome.branch.as_ref().map_or_else(|| "detached HEAD".to_string(), |b| b.short().to_string());
    let first_line = outcome.commit.message.lines().next().unwrap_or("");
    outln!("[{place} {}] {first_line}", short(outcome.id))?;
    outln!(" {} file(s) changed", outcome.changes.len())?;
    Ok(())
}
