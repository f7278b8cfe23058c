//! The computed semver bump on the command line: `muse semver [REV]`, `muse diff --semantic`, and
//! the check `muse commit` makes before it records a commit (config `semver.compute`,
//! `semver.enforce`).

use std::collections::BTreeMap;
use std::io::Write;

use muse_code::{diff_snapshots_semantic, Extractor, Finding, SemanticDiff, StructuredDelta, SymbolCache, WorkingCopySource, MAX_DELTA_FINDINGS};
use muse_core::{Commit, CommitId, SemVerBump, Tree};
use muse_store::commit::{amend_worktree_reviewed, commit_worktree_reviewed, CommitDraft, CommitOutcome};
use muse_store::snapshot::{diff_snapshots, Change};
use muse_store::worktree::HashProgress;
use muse_store::Repository;

use super::common::{short, CommitJson};
use super::signing::{seal, Signer};
use crate::error::{CliError, CliResult, EXIT_BUMP_TOO_LOW};
use crate::output::{stdout_error, Ctx};

/// Arguments of `muse semver`.
#[derive(clap::Args)]
pub struct Args {
    /// The commit (default: HEAD); its bump is computed against its first parent.
    #[arg(default_value = "HEAD")]
    revision: String,
}

/// The `semver.*` settings.
struct Settings {
    /// `semver.compute` (default true): compute the bump on commit.
    compute: bool,
    /// `semver.enforce` (default false): refuse a commit whose declared bump is lower.
    enforce: bool,
}

fn flag(config: &BTreeMap<String, String>, key: &str, default: bool) -> CliResult<bool> {
    match config.get(key).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) => match v.as_str() {
            "true" | "yes" | "on" | "1" => Ok(true),
            "false" | "no" | "off" | "0" => Ok(false),
            _ => Err(CliError::invalid(format!("config {key} = '{v}' is not true or false"))),
        },
    }
}

fn settings(repo: &Repository) -> CliResult<Settings> {
    let config = repo.config()?;
    Ok(Settings { compute: flag(&config, "semver.compute", true)?, enforce: flag(&config, "semver.enforce", false)? })
}

/// What the author declared of a commit's bump (`None`: not declared, the computed one is
/// recorded).
pub struct Declared {
    /// The declared bump.
    pub bump: Option<SemVerBump>,
    /// The declared breaking changes (empty: none declared).
    pub breaking: Vec<String>,
}

impl Declared {
    /// What an amended commit had declared: its bump and breaking changes, unless its
    /// structured delta says they were computed.
    pub fn of_amended(old: &Commit) -> Declared {
        match old.structured_delta.as_deref().and_then(StructuredDelta::parse) {
            Some(delta) if delta.declared.is_none() => Declared { bump: None, breaking: Vec::new() },
            _ => Declared { bump: Some(old.sem_ver_bump), breaking: old.breaking_changes.clone() },
        }
    }
}

/// The outcome of the check `commit` made, printed with the commit (`semver` in its JSON).
#[derive(serde::Serialize)]
pub struct Check {
    /// The computed bump.
    pub computed: SemVerBump,
    /// The declared bump, if the author declared one.
    pub declared: Option<SemVerBump>,
    /// The bump recorded in the commit.
    pub recorded: SemVerBump,
    /// Whether the declared bump is lower than the computed one (a warning was printed).
    pub lower_than_computed: bool,
    /// The breaking changes found.
    pub breaking: Vec<Finding>,
    /// The additions found.
    pub additions: Vec<Finding>,
}

/// The review `muse commit` runs before writing a commit: computes the bump of the working copy
/// against the first parent, records it in `structured_delta`, fills the bump and breaking
/// changes the author did not declare, and refuses (`semver.enforce`) when the declared bump is
/// lower than the computed one. `check` receives the outcome (`None` when `semver.compute` is
/// off).
pub fn review(repo: &Repository, draft: &CommitDraft<'_>, mut template: Commit, declared: &Declared, check: &mut Option<Check>) -> CliResult<Commit> {
    let settings = settings(repo)?;
    if !settings.compute {
        return Ok(template);
    }
    let changes = changes_against_parent(repo, draft)?;
    let source = WorkingCopySource { store: repo.objects(), work_dir: repo.work_dir() };
    let diff = Extractor::new(&source, Some(SymbolCache::in_store(repo.store().store_dir()))).diff(&changes)?;
    let lower = declared.bump.is_some_and(|d| d < diff.bump);
    if lower && settings.enforce {
        return Err(CliError::new(
            EXIT_BUMP_TOO_LOW,
            "bump_too_low",
            format!(
                "the declared bump {} is lower than the computed {} ({}); declare --bump {}, or set semver.enforce = false",
                declared.bump.unwrap_or_default(),
                diff.bump,
                reasons(&diff),
                diff.bump
            ),
        ));
    }
    template.sem_ver_bump = declared.bump.unwrap_or(diff.bump);
    template.breaking_changes = if declared.breaking.is_empty() { breaking_texts(&diff) } else { declared.breaking.clone() };
    template.structured_delta = Some(StructuredDelta::new(&diff, declared.bump).to_json());
    *check = Some(Check {
        computed: diff.bump,
        declared: declared.bump,
        recorded: template.sem_ver_bump,
        lower_than_computed: lower,
        breaking: diff.breaking,
        additions: diff.additions,
    });
    Ok(template)
}

/// The findings that make the bump what it is, for a one-line message.
fn reasons(diff: &SemanticDiff) -> String {
    let findings = if diff.breaking.is_empty() { &diff.additions } else { &diff.breaking };
    if findings.is_empty() {
        return "code changed".to_string();
    }
    let mut text: Vec<String> = findings.iter().take(5).map(Finding::to_text).collect();
    if findings.len() > 5 {
        text.push(format!("and {} more", findings.len() - 5));
    }
    text.join("; ")
}

/// The breaking changes recorded in a commit: the findings' text, at most
/// [`MAX_DELTA_FINDINGS`] (then one line counting the rest).
fn breaking_texts(diff: &SemanticDiff) -> Vec<String> {
    let mut out: Vec<String> = diff.breaking.iter().take(MAX_DELTA_FINDINGS).map(Finding::to_text).collect();
    if diff.breaking.len() > MAX_DELTA_FINDINGS {
        out.push(format!("and {} more breaking changes (muse semver)", diff.breaking.len() - MAX_DELTA_FINDINGS));
    }
    out
}

/// The changed files of a commit being made against its first parent. For a plain commit that
/// is the working copy's changes; for an amend (whose working copy was compared with the amended
/// commit) the amended commit's own changes are composed with them.
fn changes_against_parent(repo: &Repository, draft: &CommitDraft<'_>) -> CliResult<Vec<Change>> {
    let parent = match draft.parents.first() {
        Some(p) => repo.objects().read_commit(p)?.snapshot,
        None => Tree::empty_id(),
    };
    let work: Vec<Change> = draft.changes.iter().map(|c| Change { path: c.path.clone(), old: c.base, new: c.work }).collect();
    if parent == draft.base {
        return Ok(work);
    }
    let mut by_path: BTreeMap<String, Change> =
        diff_snapshots(repo.objects(), Some(parent), Some(draft.base))?.into_iter().map(|c| (c.path.clone(), c)).collect();
    for c in work {
        let old = by_path.get(&c.path).map_or(c.old, |earlier| earlier.old);
        by_path.insert(c.path.clone(), Change { path: c.path, old, new: c.new });
    }
    Ok(by_path.into_values().filter(|c| c.old != c.new).collect())
}

/// Prints the warning of a declared bump lower than the computed one, on stderr.
pub fn warn_if_lower(check: Option<&Check>) {
    let Some(check) = check.filter(|c| c.lower_than_computed) else { return };
    let declared = check.declared.unwrap_or_default();
    eprintln!("warning: the declared bump {declared} is lower than the computed {}:", check.computed);
    let findings = if check.breaking.is_empty() { &check.additions } else { &check.breaking };
    for f in findings {
        eprintln!("  {}", f.to_text());
    }
    if findings.is_empty() {
        eprintln!("  code changed");
    }
}

/// `commit --json`: the commit object with the check under `semver` (`null` when not computed).
pub fn print_commit_json(ctx: &Ctx, commit: CommitJson<'_>, check: Option<&Check>) -> CliResult {
    #[derive(serde::Serialize)]
    struct WithCheck<'a, 'c> {
        #[serde(flatten)]
        commit: CommitJson<'a>,
        semver: Option<&'c Check>,
    }
    ctx.print_json(&WithCheck { commit, semver: check })
}

/// `muse semver [REV]`: the bump of REV against its first parent, recorded and computed.
pub fn run(args: Args, ctx: &Ctx) -> CliResult {
    let repo = ctx.repo()?;
    let id = repo.resolve(&args.revision)?;
    let commit = repo.objects().read_commit(&id)?;
    let parent = commit.parents.first().copied();
    let parent_snapshot = parent.map(|p| repo.objects().read_commit(&p).map(|c| c.snapshot)).transpose()?;
    let diff = diff_snapshots_semantic(repo.store(), parent_snapshot, Some(commit.snapshot))?;
    let delta = commit.structured_delta.as_deref().and_then(StructuredDelta::parse);
    let source = if delta.as_ref().is_some_and(|d| d.declared.is_none()) { "computed" } else { "author" };
    let agrees = commit.sem_ver_bump >= diff.bump;
    if ctx.json {
        return ctx.print_json(&serde_json::json!({
            "commit_id": id,
            "parent": parent,
            "recorded": commit.sem_ver_bump,
            "recorded_source": source,
            "recorded_breaking": commit.breaking_changes,
            "computed": diff.bump,
            "agrees": agrees,
            "breaking": diff.breaking,
            "additions": diff.additions,
            "files": diff.files,
        }));
    }
    let mut out = std::io::stdout().lock();
    let by = if source == "computed" { "computed when committed" } else { "declared" };
    let lines = [format!("commit {}", short(id)), format!("recorded: {} ({by})", commit.sem_ver_bump), format!("computed: {}", diff.bump)];
    for line in lines {
        writeln!(out, "{line}").map_err(stdout_error)?;
    }
    if !agrees {
        writeln!(out, "⚠ the recorded bump is lower than the computed one").map_err(stdout_error)?;
    }
    write_findings(&mut out, &diff).map_err(stdout_error)
}

/// The findings of a diff as text: `breaking:` and `additions:` blocks, one finding a line.
fn write_findings(out: &mut dyn Write, diff: &SemanticDiff) -> std::io::Result<()> {
    for (title, findings) in [("breaking", &diff.breaking), ("additions", &diff.additions)] {
        if !findings.is_empty() {
            writeln!(out, "{title}:")?;
            for f in findings {
                writeln!(out, "  {}", f.to_text())?;
            }
        }
    }
    Ok(())
}

/// `muse diff --semantic`: the symbol diff of `changes` (from `from` to `to`, `None` for the
/// working copy), new content read from the working copy when `working_copy`.
pub fn print_semantic_diff(repo: &Repository, ctx: &Ctx, changes: &[Change], from: Option<CommitId>, to: Option<CommitId>, working_copy: bool) -> CliResult {
    let cache = Some(SymbolCache::in_store(repo.store().store_dir()));
    let diff = if working_copy {
        let source = WorkingCopySource { store: repo.objects(), work_dir: repo.work_dir() };
        Extractor::new(&source, cache).diff(changes)?
    } else {
        Extractor::new(repo.objects(), cache).diff(changes)?
    };
    if ctx.json {
        return ctx.print_json(&serde_json::json!({
            "from": from,
            "to": to,
            "bump": diff.bump,
            "breaking": diff.breaking,
            "additions": diff.additions,
            "files": diff.files,
        }));
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    write_semantic(&mut out, &diff).and_then(|()| out.flush()).map_err(stdout_error)
}

fn write_semantic(out: &mut dyn Write, diff: &SemanticDiff) -> std::io::Result<()> {
    for f in &diff.files {
        let language = f.language.map_or("", |l| l.as_str());
        match f.unknown {
            Some(reason) => writeln!(out, "{} ({}): no symbols ({})", f.path, if language.is_empty() { "?" } else { language }, reason.as_str())?,
            None => writeln!(out, "{} ({language}){}", f.path, if f.api { "" } else { ", not API" })?,
        }
        for c in &f.changes {
            let change = serde_json::to_value(c.change).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
            let visibility = if c.public { "public" } else { "private" };
            let was = match (&c.old_symbol, &c.old_path) {
                (Some(name), Some(path)) => format!(" (was {name} in {path})"),
                (Some(name), None) => format!(" (was {name})"),
                _ => String::new(),
            };
            writeln!(out, "  {change:<18} {visibility:<7} {} {}{was}  line {}", c.kind, c.signature, c.line)?;
            if let Some(old) = &c.old_signature {
                writeln!(out, "  {:<18} {:<7} was {old}", "", "")?;
            }
        }
    }
    writeln!(out, "bump: {}", diff.bump)?;
    write_findings(out, diff)
}

impl From<muse_code::CodeError> for CliError {
    fn from(e: muse_code::CodeError) -> Self {
        CliError::of_kind(e.kind(), e.to_string())
    }
}

/// `commit_worktree` with the semver review: the commit and the check made.
pub fn commit_checked(
    repo: &Repository,
    template: Commit,
    allow_empty: bool,
    progress: HashProgress<'_>,
    declared: &Declared,
    signer: Option<&Signer>,
) -> CliResult<(CommitOutcome, Option<Check>)> {
    let mut check = None;
    let outcome = commit_worktree_reviewed::<CliError>(repo, template, allow_empty, progress, &mut |draft, t| {
        Ok(seal(signer, draft, review(repo, draft, t, declared, &mut check)?))
    })?;
    Ok((outcome, check))
}

/// `amend_worktree` with the semver review: the commit and the check made.
pub fn amend_checked(
    repo: &Repository,
    template: Commit,
    progress: HashProgress<'_>,
    declared: &Declared,
    signer: Option<&Signer>,
) -> CliResult<(CommitOutcome, Option<Check>)> {
    let mut check = None;
    let outcome =
        amend_worktree_reviewed::<CliError>(repo, template, progress, &mut |draft, t| Ok(seal(signer, draft, review(repo, draft, t, declared, &mut check)?)))?;
    Ok((outcome, check))
}
