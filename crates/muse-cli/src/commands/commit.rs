//! `muse commit`: record the working copy, with its author and agent provenance.

use std::collections::BTreeMap;
use std::path::PathBuf;

use muse_core::{unix_to_rfc3339_utc, validate_rfc3339, Commit, ObjectId, SemVerBump};
use muse_store::commit::CommitOutcome;
use muse_store::{Head, Repository};

use super::common::{short, CommitJson};
use super::record::{head_moved, pick, record, ref_change};
use super::semver::{amend_checked, commit_checked, print_commit_json, warn_if_lower, Check, Declared};
use super::signing::{SignFlags, Signer};
use crate::error::{CliError, CliResult};
use crate::output::{outln, Ctx};

/// Arguments of `muse commit`.
#[derive(clap::Args)]
pub struct Args {
    /// The commit message (with --amend: default, the amended commit's).
    #[arg(short, long, required_unless_present = "amend")]
    message: Option<String>,
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
    /// The declared semantic-version bump: none, patch, minor or major (default: none; with
    /// --amend, the amended commit's).
    #[arg(long)]
    bump: Option<String>,
    /// A breaking change (repeatable).
    #[arg(long = "breaking", value_name = "TEXT")]
    breaking: Vec<String>,
    /// Extra metadata, KEY=VALUE (repeatable).
    #[arg(long = "meta", value_name = "KEY=VALUE")]
    meta: Vec<String>,
    /// Record a commit even if nothing changed.
    #[arg(long)]
    allow_empty: bool,
    /// Replace HEAD's commit (same parents) with one of the working copy; every field the
    /// flags do not give is kept from it (the date becomes now). `muse undo` restores it.
    #[arg(long)]
    amend: bool,
    #[command(flatten)]
    signing: SignFlags,
}

/// Builds the commit from the flags and records the working copy.
pub fn run(args: Args, ctx: &Ctx) -> CliResult {
    let repo = ctx.repo()?;
    muse_merge::state::ensure_no_merge(&repo, "commit")?;
    let config = repo.config()?;
    let amended = match (args.amend, repo.head_commit()?) {
        (true, Some(id)) => Some(repo.objects().read_commit(&id)?),
        (true, None) => return Err(CliError::invalid("there is no commit to amend yet")),
        (false, _) => None,
    };
    if let Some(old) = amended {
        return amend(&repo, ctx, args, old);
    }
    let author = pick(args.author, "MUSE_AUTHOR", &config, "user.author");
    if author.trim().is_empty() {
        return Err(CliError::invalid("no author: pass --author, set MUSE_AUTHOR, or run `muse config user.author \"Name <email>\"`"));
    }
    let prompt_hash = prompt_hash(ctx, args.prompt_file, args.prompt_hash)?.unwrap_or_default();
    let bump_declared = args.bump.is_some();
    let sem_ver_bump: SemVerBump = args.bump.as_deref().unwrap_or("none").parse().map_err(CliError::invalid)?;
    let metadata = metadata(args.meta)?;
    let template = Commit {
        message: args.message.unwrap_or_default(),
        author,
        committed_at: commit_time(args.date)?,
        agent_id: pick(args.agent_id, "MUSE_AGENT_ID", &config, "agent.id"),
        model_id: pick(args.model_id, "MUSE_MODEL_ID", &config, "agent.model"),
        toolchain_id: pick(args.toolchain_id, "MUSE_TOOLCHAIN_ID", &config, "agent.toolchain"),
        prompt_hash,
        sem_ver_bump,
        breaking_changes: args.breaking,
        metadata,
        ..Commit::default()
    };
    let declared = Declared { bump: bump_declared.then_some(template.sem_ver_bump), breaking: template.breaking_changes.clone() };
    let bar = ctx.progress(None, "committing");
    let signer = signed(&repo, args.signing)?;
    let (outcome, check) = commit_checked(&repo, template, args.allow_empty, &crate::output::hashing_progress(&bar), &declared, signer.as_ref())?;
    bar.finish_and_clear();
    finish(&repo, ctx, "commit", &outcome, check.as_ref())
}

/// `commit --amend`: the old commit's fields, overridden by the flags given.
fn amend(repo: &Repository, ctx: &Ctx, args: Args, old: Commit) -> CliResult {
    let earlier = Declared::of_amended(&old);
    let (bump_given, breaking_given) = (args.bump.is_some(), !args.breaking.is_empty());
    let template = Commit {
        message: args.message.unwrap_or(old.message),
        author: args.author.unwrap_or(old.author),
        committed_at: commit_time(args.date)?,
        agent_id: args.agent_id.unwrap_or(old.agent_id),
        model_id: args.model_id.unwrap_or(old.model_id),
        toolchain_id: args.toolchain_id.unwrap_or(old.toolchain_id),
        prompt_hash: prompt_hash(ctx, args.prompt_file, args.prompt_hash)?.unwrap_or(old.prompt_hash),
        sem_ver_bump: match args.bump {
            Some(bump) => bump.parse().map_err(CliError::invalid)?,
            None => old.sem_ver_bump,
        },
        breaking_changes: if args.breaking.is_empty() { old.breaking_changes } else { args.breaking },
        metadata: if args.meta.is_empty() { old.metadata } else { metadata(args.meta)? },
        ..Commit::default()
    };
    if template.author.trim().is_empty() {
        return Err(CliError::invalid("no author: pass --author"));
    }
    let declared = Declared {
        bump: if bump_given { Some(template.sem_ver_bump) } else { earlier.bump },
        breaking: if breaking_given { template.breaking_changes.clone() } else { earlier.breaking },
    };
    let bar = ctx.progress(None, "committing");
    let signer = signed(repo, args.signing)?;
    let (outcome, check) = amend_checked(repo, template, &crate::output::hashing_progress(&bar), &declared, signer.as_ref())?;
    bar.finish_and_clear();
    finish(repo, ctx, "commit", &outcome, check.as_ref())
}

/// The signer when signing is on, loaded before any work (so that a missing or
/// passphrase-protected key fails the commit before it writes anything).
fn signed(repo: &Repository, flags: SignFlags) -> CliResult<Option<Signer>> {
    Signer::for_commit(repo, flags)
}

/// Records the operation and prints the outcome.
fn finish(repo: &Repository, ctx: &Ctx, command: &str, outcome: &CommitOutcome, check: Option<&Check>) -> CliResult {
    if let Some(why) = &outcome.cache_error {
        super::common::warn_cache_not_saved(why);
    }
    match &outcome.branch {
        Some(branch) => record(repo, command, vec![ref_change(branch, outcome.previous, Some(outcome.id))], vec![]),
        None => record(
            repo,
            command,
            vec![],
            head_moved(repo, outcome.previous.map_or(Head::Detached(outcome.id), Head::Detached), Head::Detached(outcome.id), false),
        ),
    };
    warn_if_lower(check);
    if ctx.json {
        return print_commit_json(ctx, CommitJson::new(outcome.id, &outcome.commit), check);
    }
    let place = outcome.branch.as_ref().map_or_else(|| "detached HEAD".to_string(), |b| b.short().to_string());
    let first_line = outcome.commit.message.lines().next().unwrap_or("");
    outln!("[{place} {}] {first_line}", short(outcome.id))?;
    outln!(" {} file(s) changed", outcome.changes.len())?;
    Ok(())
}

/// The commit time: `--date` as given (checked), or now in UTC.
pub(super) fn commit_time(date: Option<String>) -> CliResult<String> {
    match date {
        Some(date) => {
            validate_rfc3339(&date).map_err(|e| CliError::invalid(e.to_string()))?;
            Ok(date)
        }
        None => {
            let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
            Ok(unix_to_rfc3339_utc(secs))
        }
    }
}

/// `--meta KEY=VALUE` pairs.
pub(super) fn metadata(pairs: Vec<String>) -> CliResult<BTreeMap<String, String>> {
    let mut metadata = BTreeMap::new();
    for pair in pairs {
        let (k, v) = pair.split_once('=').ok_or_else(|| CliError::invalid(format!("metadata '{pair}' is not KEY=VALUE")))?;
        if k.is_empty() || k.contains('\0') {
            return Err(CliError::invalid(format!("metadata key in '{pair}' is empty or holds a NUL")));
        }
        metadata.insert(k.to_string(), v.to_string());
    }
    Ok(metadata)
}

/// The prompt hash from `--prompt-file` or `--prompt-hash`, if either is given.
pub(super) fn prompt_hash(ctx: &Ctx, file: Option<PathBuf>, hash: Option<String>) -> CliResult<Option<String>> {
    match (file, hash) {
        (Some(file), _) => {
            let path = ctx.cwd.join(&file);
            let bytes =
                std::fs::read(&path).map_err(|e| CliError::new(crate::error::EXIT_IO, "io", format!("cannot read prompt file {}: {e}", path.display())))?;
            // The prompt hash is a plain SHA-256 of the prompt, not an object id (no kind magic).
            Ok(Some(ObjectId::sha256(&bytes).to_string()))
        }
        (None, Some(hash)) => {
            if !hash.starts_with("sha256:") || ObjectId::parse(&hash).is_err() {
                return Err(CliError::invalid(format!("'{hash}' is not a prompt hash (expected sha256:<64 lowercase hex digits>)")));
            }
            Ok(Some(hash))
        }
        (None, None) => Ok(None),
    }
}
