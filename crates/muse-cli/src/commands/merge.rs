//! `muse merge REV… [--no-ff|--ff-only]` · `--continue` · `--abort`, and the steps `cherry-pick`,
//! `revert` and `pull` share: land a commit (files, then the branch, all or nothing), or stop on
//! conflicts (marker files written through the same checkout, the merge state recorded), and
//! record each step in the operation log.

use std::path::PathBuf;

use muse_core::{Commit, CommitId, Tree, TreeId};
use muse_merge::state::{MergeState, StepKind, STATE_VERSION};
use muse_merge::{Conflict, Labels, Options};
use muse_store::commit::{commit_merge_worktree_reviewed, commit_worktree_reviewed, CommitDraft, CommitOutcome};
use muse_store::history::is_ancestor;
use muse_store::worktree::checkout::{transition, CheckoutStats, Transition};
use muse_store::worktree::operation::{ensure_none_pending, RefMove};
use muse_store::{Head, Repository};

use super::common::short;
use super::record::{head_moved, pick, record, ref_change};
use super::signing::{seal, SignFlags, Signer};
use crate::error::{CliError, CliResult, EXIT_CONFLICT, EXIT_FAILED, EXIT_NOT_FOUND};
use crate::output::{outln, Ctx};

/// The provenance flags of `commit`, for the commits a merge, cherry-pick or revert makes.
#[derive(clap::Args, Default)]
pub struct Provenance {
    /// Who is accountable (default: $MUSE_AUTHOR, then config user.author; cherry-pick: the
    /// picked commit's).
    #[arg(long)]
    author: Option<String>,
    /// The commit time, RFC 3339 (default: now, UTC).
    #[arg(long)]
    date: Option<String>,
    /// The agent that made (or resolved) the change (default: $MUSE_AGENT_ID, then config agent.id).
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
    #[arg(long)]
    bump: Option<String>,
    /// A breaking change (repeatable).
    #[arg(long = "breaking", value_name = "TEXT")]
    breaking: Vec<String>,
    /// Extra metadata, KEY=VALUE (repeatable).
    #[arg(long = "meta", value_name = "KEY=VALUE")]
    meta: Vec<String>,
    #[command(flatten)]
    signing: SignFlags,
}

impl Provenance {
    /// The commit fields from the flags, then the environment and configuration as `commit`
    /// picks them; with `picked`, that commit's fields stand in for flags not given (a
    /// cherry-pick keeps the change's author and agent).
    pub fn template(&self, ctx: &Ctx, repo: &Repository, message: String, picked: Option<&Commit>) -> CliResult<Commit> {
        let config = repo.config()?;
        let from = |flag: &Option<String>, env: &str, key: &str, old: Option<&String>| match old {
            Some(old) if flag.is_none() => old.clone(),
            _ => pick(flag.clone(), env, &config, key),
        };
        let author = from(&self.author, "MUSE_AUTHOR", "user.author", picked.map(|c| &c.author));
        if author.trim().is_empty() {
            return Err(CliError::invalid("no author: pass --author, set MUSE_AUTHOR, or run `muse config user.author \"Name <email>\"`"));
        }
        let prompt = super::commit::prompt_hash(ctx, self.prompt_file.clone(), self.prompt_hash.clone())?;
        let mut metadata = super::commit::metadata(self.meta.clone())?;
        if let (Some(old), true) = (picked, self.meta.is_empty()) {
            metadata = old.metadata.clone();
        }
        let mut template = Commit {
            message,
            author,
            committed_at: super::commit::commit_time(self.date.clone())?,
            agent_id: from(&self.agent_id, "MUSE_AGENT_ID", "agent.id", picked.map(|c| &c.agent_id)),
            model_id: from(&self.model_id, "MUSE_MODEL_ID", "agent.model", picked.map(|c| &c.model_id)),
            toolchain_id: from(&self.toolchain_id, "MUSE_TOOLCHAIN_ID", "agent.toolchain", picked.map(|c| &c.toolchain_id)),
            prompt_hash: prompt.or_else(|| picked.map(|c| c.prompt_hash.clone())).unwrap_or_default(),
            sem_ver_bump: match (&self.bump, picked) {
                (Some(bump), _) => bump.parse().map_err(CliError::invalid)?,
                (None, Some(old)) => old.sem_ver_bump,
                (None, None) => Default::default(),
            },
            breaking_changes: match picked {
                Some(old) if self.breaking.is_empty() => old.breaking_changes.clone(),
                _ => self.breaking.clone(),
            },
            metadata,
            ..Commit::default()
        };
        if let Some(signer) = Signer::for_commit(repo, self.signing)? {
            signer.prepare(&mut template);
        }
        Ok(template)
    }
}

/// Arguments of `muse merge`.
#[derive(clap::Args)]
pub struct Args {
    /// The branches or revisions to merge into HEAD, one after the other.
    #[arg(required_unless_present_any = ["cont", "abort"])]
    revs: Vec<String>,
    /// The merge commit's message (default: "Merge REV into BRANCH").
    #[arg(short, long)]
    message: Option<String>,
    /// Make a merge commit even when HEAD could fast-forward.
    #[arg(long, conflicts_with = "ff_only")]
    no_ff: bool,
    /// Only fast-forward: refuse (exit 5) when a merge commit would be needed.
    #[arg(long)]
    ff_only: bool,
    /// Commit the resolved conflicts of a stopped merge, then merge the revisions left.
    #[arg(long = "continue", conflicts_with_all = ["abort", "revs", "no_ff", "ff_only"])]
    cont: bool,
    /// Put the working copy back as it was before the stopped merge.
    #[arg(long, conflicts_with_all = ["revs", "no_ff", "ff_only", "message"])]
    abort: bool,
    #[command(flatten)]
    provenance: Provenance,
}

/// What a step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// HEAD already contains the revision: nothing changed.
    UpToDate,
    /// HEAD moved forward to the revision.
    FastForward,
    /// A new commit was made (a merge commit, or the picked or reverted change).
    Committed,
    /// The step stopped on conflicts; the merge state is recorded.
    Conflict,
}

/// One step of a merge, cherry-pick or revert, as `--json` prints it (docs/cli.md §Merging).
#[derive(Debug, serde::Serialize)]
pub struct StepJson {
    /// `merge`, `cherry-pick` or `revert`.
    pub kind: StepKind,
    /// The revision as given.
    pub rev: String,
    /// The commit it names.
    pub rev_commit: CommitId,
    /// What happened.
    pub status: StepStatus,
    /// HEAD's commit before.
    pub old: Option<CommitId>,
    /// HEAD's commit after (unchanged when stopped on conflicts).
    pub new: Option<CommitId>,
    /// The merge bases used (merge only).
    pub bases: Vec<CommitId>,
    /// Every conflict (empty unless stopped).
    pub conflicts: Vec<Conflict>,
    /// What the working copy's files did.
    pub checkout: Option<CheckoutStats>,
}

#[derive(serde::Serialize)]
struct MergeJson<'a> {
    steps: &'a [StepJson],
    /// Whether a step stopped on conflicts (the merge state is recorded).
    stopped: bool,
    /// Revisions not merged yet (after a stop).
    remaining: &'a [String],
}

/// HEAD's name for markers and messages: the branch, or `HEAD` when detached.
fn head_label(head: &Head) -> String {
    match head {
        Head::Branch(name) => name.short().to_string(),
        Head::Detached(_) => "HEAD".to_string(),
    }
}

fn tree_of(repo: &Repository, id: Option<CommitId>) -> CliResult<TreeId> {
    Ok(match id {
        Some(id) => repo.objects().read_commit(&id)?.snapshot,
        None => Tree::empty_id(),
    })
}

/// Moves the files from `from` to `to` and HEAD (its branch, or a detached HEAD) from `old` to
/// `new`, all or nothing, and records it as `command`.
fn move_head(repo: &Repository, command: &str, from: TreeId, to: TreeId, old: Option<CommitId>, new: CommitId) -> CliResult<CheckoutStats> {
    let head = repo.head()?;
    let (refs, head_after, after) = match &head {
        Head::Branch(name) => (vec![RefMove { name: name.clone(), old, new: Some(new) }], None, head.clone()),
        Head::Detached(_) => (Vec::new(), Some(Head::Detached(new)), Head::Detached(new)),
    };
    let changes = refs.iter().map(|m| ref_change(&m.name, m.old, m.new)).collect();
    let stats = transition(repo, &Transition { kind: command.into(), from, to, head_after, refs, force: false })?;
    record(repo, command, changes, head_moved(repo, head, after, true));
    Ok(stats)
}

/// Writes `commit` and lands it: files, then HEAD's branch. Returns its id and the checkout.
fn land(repo: &Repository, command: &str, old: Option<CommitId>, commit: &Commit) -> CliResult<(CommitId, CheckoutStats)> {
    let mut commit = commit.clone();
    if let Some(signer) = Signer::for_template(repo, &commit)? {
        signer.sign(&mut commit);
    }
    let mut writer = repo.objects().begin_write()?;
    let id = writer.add_commit(&commit)?;
    writer.finish()?;
    let stats = move_head(repo, command, tree_of(repo, old)?, commit.snapshot, old, id)?;
    Ok((id, stats))
}

/// Stops on conflicts: records the state, writes the merged tree (marker files and all) into the
/// working copy through the all-or-nothing checkout (refused, with nothing changed, when
/// uncommitted changes touch a path it writes), and logs the step so `undo` can abort it.
fn stop(repo: &Repository, command: &str, mut state: MergeState) -> CliResult<CheckoutStats> {
    let from = tree_of(repo, state.head)?;
    state.write(repo)?;
    let t = Transition { kind: command.into(), from, to: state.tree, head_after: None, refs: Vec::new(), force: false };
    let stats = match transition(repo, &t) {
        Ok(stats) => stats,
        Err(e) => {
            MergeState::remove(repo)?;
            return Err(e.into());
        }
    };
    let head = repo.head()?;
    if let Some(op) = record(repo, command, Vec::new(), head_moved(repo, head.clone(), head, true)) {
        state.operation = Some(op.id);
        state.write(repo)?;
    }
    Ok(stats)
}

/// The per-step settings of a merge.
pub struct MergeStep<'a> {
    /// The commit fields (the message is replaced per step unless `message` is given).
    pub template: &'a Commit,
    /// The message for every merge commit, if given.
    pub message: Option<&'a str>,
    /// Make a merge commit even when fast-forwarding is possible.
    pub no_ff: bool,
    /// Refuse anything but a fast-forward.
    pub ff_only: bool,
    /// The command recorded in the op log.
    pub command: &'a str,
}

/// Merges `rev` (naming `theirs`) into HEAD: up to date, fast-forward, a merge commit, or a
/// stop on conflicts with `remaining` recorded for `--continue`.
pub fn merge_step(repo: &Repository, step: &MergeStep<'_>, rev: &str, theirs: CommitId, remaining: &[String]) -> CliResult<StepJson> {
    let head = repo.head()?;
    let ours = repo.head_commit()?;
    let mut json = StepJson {
        kind: StepKind::Merge,
        rev: rev.to_string(),
        rev_commit: theirs,
        status: StepStatus::UpToDate,
        old: ours,
        new: ours,
        bases: Vec::new(),
        conflicts: Vec::new(),
        checkout: None,
    };
    let can_ff = match ours {
        None => true,
        Some(ours) if ours == theirs || is_ancestor(repo, theirs, ours)? => return Ok(json),
        Some(ours) => is_ancestor(repo, ours, theirs)?,
    };
    if can_ff && (!step.no_ff || ours.is_none()) {
        let stats = move_head(repo, step.command, tree_of(repo, ours)?, tree_of(repo, Some(theirs))?, ours, theirs)?;
        json.status = StepStatus::FastForward;
        json.new = Some(theirs);
        json.checkout = Some(stats);
        return Ok(json);
    }
    let Some(ours) = ours else { return Err(CliError::failed("internal: an unborn HEAD always fast-forwards")) };
    if step.ff_only {
        return Err(CliError::new(
            EXIT_CONFLICT,
            "diverged",
            format!(
                "{} ({}) and {rev} ({}) have diverged: --ff-only refuses a merge commit; nothing was changed",
                head_label(&head),
                short(ours),
                short(theirs)
            ),
        ));
    }
    let bases_label = |bases: &[CommitId]| match bases {
        [one] => short(*one),
        [] => "empty tree".to_string(),
        _ => "merged common ancestors".to_string(),
    };
    let bases = muse_merge::merge_bases(repo, ours, theirs)?;
    let labels = Labels { base: bases_label(&bases), ours: head_label(&head), theirs: rev.to_string() };
    let merged = muse_merge::merge_commits(repo, ours, theirs, &labels, Options::standard())?;
    json.bases = merged.bases.clone();
    let message = step.message.map_or_else(|| format!("Merge {rev} into {}", head_label(&head)), str::to_string);
    if merged.merge.is_clean() {
        let commit = Commit { parents: vec![ours, theirs], snapshot: merged.merge.tree, message, ..step.template.clone() };
        let (id, stats) = land(repo, step.command, Some(ours), &commit)?;
        json.status = StepStatus::Committed;
        json.new = Some(id);
        json.checkout = Some(stats);
        return Ok(json);
    }
    let state = MergeState {
        version: STATE_VERSION,
        kind: StepKind::Merge,
        head: Some(ours),
        theirs,
        theirs_label: rev.to_string(),
        tree: merged.merge.tree,
        message,
        conflicts: merged.merge.conflicts.clone(),
        remaining: remaining.to_vec(),
        operation: None,
    };
    json.checkout = Some(stop(repo, step.command, state)?);
    json.status = StepStatus::Conflict;
    json.conflicts = merged.merge.conflicts;
    Ok(json)
}

/// Applies (or with `revert`, undoes) the change `picked` made onto HEAD, committing it with
/// `template`, or stops on conflicts.
pub fn pick_step(repo: &Repository, kind: StepKind, rev: &str, picked: CommitId, template: Commit) -> CliResult<StepJson> {
    let head = repo.head()?;
    let ours = repo.head_commit()?.ok_or_else(|| CliError::invalid(format!("HEAD has no commit yet: there is nothing to {} onto", kind.command())))?;
    let commit = repo.objects().read_commit(&picked)?;
    if commit.parents.len() > 1 {
        return Err(CliError::invalid(format!("{rev} is a merge commit: {} of merges is not supported", kind.command())));
    }
    let revert = kind == StepKind::Revert;
    let parent_label = commit.parents.first().map_or_else(|| "empty tree".to_string(), |p| format!("parent of {}", short(*p)));
    let labels = if revert {
        Labels { base: rev.to_string(), ours: head_label(&head), theirs: parent_label }
    } else {
        Labels { base: parent_label, ours: head_label(&head), theirs: rev.to_string() }
    };
    let merged = muse_merge::pick(repo, ours, picked, revert, &labels, Options::standard())?;
    let mut json = StepJson {
        kind,
        rev: rev.to_string(),
        rev_commit: picked,
        status: StepStatus::Committed,
        old: Some(ours),
        new: Some(ours),
        bases: Vec::new(),
        conflicts: Vec::new(),
        checkout: None,
    };
    if merged.is_clean() {
        if merged.tree == tree_of(repo, Some(ours))? {
            return Err(CliError::new(EXIT_FAILED, "nothing_to_commit", format!("the {} of {rev} changes nothing: HEAD already has it", kind.command())));
        }
        let commit = Commit { parents: vec![ours], snapshot: merged.tree, ..template };
        let (id, stats) = land(repo, kind.command(), Some(ours), &commit)?;
        json.new = Some(id);
        json.checkout = Some(stats);
        return Ok(json);
    }
    let state = MergeState {
        version: STATE_VERSION,
        kind,
        head: Some(ours),
        theirs: picked,
        theirs_label: rev.to_string(),
        tree: merged.tree,
        message: template.message.clone(),
        conflicts: merged.conflicts.clone(),
        remaining: Vec::new(),
        operation: None,
    };
    json.checkout = Some(stop(repo, kind.command(), state)?);
    json.status = StepStatus::Conflict;
    json.conflicts = merged.conflicts;
    Ok(json)
}

/// The stopped state of `kind`, or exit 4 when there is none (or another kind is stopped).
pub fn stopped(repo: &Repository, kind: StepKind) -> CliResult<MergeState> {
    match MergeState::read(repo)? {
        Some(state) if state.kind == kind => Ok(state),
        Some(state) => Err(CliError::new(
            EXIT_CONFLICT,
            "conflict",
            format!("a {} is stopped here, not a {}: use `muse {} --continue` or `--abort`", state.kind.command(), kind.command(), state.kind.command()),
        )),
        None => Err(CliError::new(EXIT_NOT_FOUND, "no_merge", format!("no {} is stopped in this working copy", kind.command()))),
    }
}

/// HEAD must still be where the stopped step left it.
fn check_head(repo: &Repository, state: &MergeState) -> CliResult {
    let now = repo.head_commit()?;
    if now != state.head {
        return Err(CliError::new(
            EXIT_CONFLICT,
            "conflict",
            format!(
                "HEAD moved since the {} stopped (was {}, is {}); remove {} by hand if the stop is stale",
                state.kind.command(),
                state.head.map_or_else(|| "(none)".into(), short),
                now.map_or_else(|| "(none)".into(), short),
                repo.state_dir().join(muse_merge::state::STATE_FILE).display()
            ),
        ));
    }
    Ok(())
}

/// Commits the resolution of the stopped step: a merge commit (HEAD, then the merged commit)
/// or the picked or reverted change. Refused (exit 5) while a conflicted file still holds a
/// marker line.
pub fn continue_stopped(repo: &Repository, ctx: &Ctx, state: &MergeState, provenance: &Provenance, message: Option<String>) -> CliResult<StepJson> {
    check_head(repo, state)?;
    ensure_none_pending(repo, &format!("{} --continue", state.kind.command()))?;
    let mut unresolved: Vec<&str> = Vec::new();
    for c in &state.conflicts {
        let path = repo.work_dir().join(&c.path);
        let is_file = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file());
        if is_file && !unresolved.contains(&c.path.as_str()) {
            let data = std::fs::read(&path).map_err(|e| CliError::new(crate::error::EXIT_IO, "io", format!("cannot read {}: {e}", path.display())))?;
            if muse_merge::has_conflict_markers(&data) {
                unresolved.push(&c.path);
            }
        }
    }
    if !unresolved.is_empty() {
        return Err(CliError::new(
            EXIT_CONFLICT,
            "unresolved",
            format!("conflict markers are still in: {} (edit them out, then run `muse {} --continue` again)", unresolved.join(", "), state.kind.command()),
        ));
    }
    let picked = match state.kind {
        StepKind::CherryPick => Some(repo.objects().read_commit(&state.theirs)?),
        _ => None,
    };
    let template = provenance.template(ctx, repo, message.unwrap_or_else(|| state.message.clone()), picked.as_ref())?;
    let command = format!("{} --continue", state.kind.command());
    let signer = Signer::for_template(repo, &template)?;
    let mut sign = |draft: &CommitDraft<'_>, t: Commit| -> CliResult<Commit> { Ok(seal(signer.as_ref(), draft, t)) };
    let outcome: CommitOutcome = match state.kind {
        StepKind::Merge => commit_merge_worktree_reviewed(repo, template, vec![state.theirs], &|_, _| {}, &mut sign)?,
        _ => commit_worktree_reviewed(repo, template, false, &|_, _| {}, &mut sign)?,
    };
    MergeState::remove(repo)?;
    match &outcome.branch {
        Some(branch) => record(repo, &command, vec![ref_change(branch, outcome.previous, Some(outcome.id))], vec![]),
        None => record(
            repo,
            &command,
            vec![],
            head_moved(repo, outcome.previous.map_or(Head::Detached(outcome.id), Head::Detached), Head::Detached(outcome.id), false),
        ),
    };
    Ok(StepJson {
        kind: state.kind,
        rev: state.theirs_label.clone(),
        rev_commit: state.theirs,
        status: StepStatus::Committed,
        old: outcome.previous,
        new: Some(outcome.id),
        bases: Vec::new(),
        conflicts: Vec::new(),
        checkout: None,
    })
}

/// Puts the working copy back as it was before the stopped step: every path the step wrote
/// returns to HEAD's content (edits made while resolving are discarded; other uncommitted
/// changes are untouched), and the state is removed.
pub fn abort_stopped(repo: &Repository, state: &MergeState) -> CliResult<CheckoutStats> {
    check_head(repo, state)?;
    let to = tree_of(repo, state.head)?;
    let t = Transition { kind: format!("{} --abort", state.kind.command()), from: state.tree, to, head_after: None, refs: Vec::new(), force: true };
    let stats = transition(repo, &t)?;
    MergeState::remove(repo)?;
    Ok(stats)
}

/// Prints the steps (text), and fails with exit 1 when the last one stopped on conflicts.
pub fn report(ctx: &Ctx, steps: &[StepJson], remaining: &[String]) -> CliResult {
    let stopped = steps.last().filter(|s| s.status == StepStatus::Conflict);
    if ctx.json {
        ctx.print_json(&MergeJson { steps, stopped: stopped.is_some(), remaining })?;
    } else {
        for step in steps {
            print_step(step)?;
        }
    }
    match stopped {
        Some(step) => Err(CliError::new(
            EXIT_FAILED,
            "conflicts",
            format!(
                "the {} of {} stopped on {} conflict(s): resolve them, then `muse {} --continue` (or `--abort`)",
                step.kind.command(),
                step.rev,
                step.conflicts.len(),
                step.kind.command()
            ),
        )),
        None => Ok(()),
    }
}

/// One step in text.
pub fn print_step(step: &StepJson) -> CliResult {
    let files = |c: &Option<CheckoutStats>| c.as_ref().map_or_else(String::new, |c| format!(" ({} file(s) written, {} removed)", c.written, c.removed));
    let id = |id: Option<CommitId>| id.map_or_else(|| "(none)".into(), short);
    match step.status {
        StepStatus::UpToDate => outln!("Already up to date with {}", step.rev),
        StepStatus::FastForward => outln!("Fast-forwarded {} -> {} ({}){}", id(step.old), id(step.new), step.rev, files(&step.checkout)),
        StepStatus::Committed => outln!("{} {}: committed {}{}", capitalized(step.kind), step.rev, id(step.new), files(&step.checkout)),
        StepStatus::Conflict => {
            for c in &step.conflicts {
                outln!("CONFLICT ({}): {}", c.kind.as_str(), c.path)?;
            }
            Ok(())
        }
    }
}

fn capitalized(kind: StepKind) -> &'static str {
    match kind {
        StepKind::Merge => "Merged",
        StepKind::CherryPick => "Cherry-picked",
        StepKind::Revert => "Reverted",
    }
}

/// Runs `muse merge`.
pub fn run(args: Args, ctx: &Ctx) -> CliResult {
    let repo = ctx.repo()?;
    if args.abort {
        let state = stopped(&repo, StepKind::Merge)?;
        let stats = abort_stopped(&repo, &state)?;
        if ctx.json {
            return ctx.print_json(&serde_json::json!({ "aborted": state.kind, "head": state.head, "checkout": stats }));
        }
        return outln!("Aborted the merge of {}; the working copy is back at {}", state.theirs_label, state.head.map_or_else(|| "(none)".into(), short));
    }
    let mut steps = Vec::new();
    let revs = if args.cont {
        let state = stopped(&repo, StepKind::Merge)?;
        steps.push(continue_stopped(&repo, ctx, &state, &args.provenance, args.message.clone())?);
        state.remaining
    } else {
        ensure_none_pending(&repo, "merge")?;
        muse_merge::state::ensure_no_merge(&repo, "merge")?;
        args.revs
    };
    // Every revision resolves before anything moves.
    let targets: Vec<(String, CommitId)> = revs.iter().map(|r| Ok((r.clone(), repo.resolve(r)?))).collect::<CliResult<_>>()?;
    let template = args.provenance.template(ctx, &repo, String::new(), None)?;
    let step = MergeStep { template: &template, message: args.message.as_deref(), no_ff: args.no_ff, ff_only: args.ff_only, command: "merge" };
    let mut remaining: Vec<String> = Vec::new();
    for (i, (rev, id)) in targets.iter().enumerate() {
        let left: Vec<String> = revs[i + 1..].to_vec();
        let done = merge_step(&repo, &step, rev, *id, &left)?;
        let stop = done.status == StepStatus::Conflict;
        steps.push(done);
        if stop {
            remaining = left;
            break;
        }
    }
    report(ctx, &steps, &remaining)
}

/// Arguments of `muse merge-tree`.
#[derive(clap::Args)]
pub struct TreeArgs {
    /// The commit merged into (ours).
    ours: String,
    /// The commit merged in (theirs).
    theirs: String,
}

#[derive(serde::Serialize)]
struct TreeJson<'a> {
    tree: TreeId,
    bases: &'a [CommitId],
    clean: bool,
    conflicts: &'a [Conflict],
}

/// Runs `muse merge-tree`: the merge of two commits, written to the store only.
pub fn run_tree(args: TreeArgs, ctx: &Ctx) -> CliResult {
    let repo = ctx.repo()?;
    let (ours, theirs) = (repo.resolve(&args.ours)?, repo.resolve(&args.theirs)?);
    let bases = muse_merge::merge_bases(&repo, ours, theirs)?;
    let base = match bases.as_slice() {
        [one] => short(*one),
        _ => "merged common ancestors".to_string(),
    };
    let labels = Labels { base, ours: args.ours.clone(), theirs: args.theirs.clone() };
    let merged = muse_merge::merge_commits(&repo, ours, theirs, &labels, Options::standard())?;
    let conflicts = &merged.merge.conflicts;
    if ctx.json {
        ctx.print_json(&TreeJson { tree: merged.merge.tree, bases: &merged.bases, clean: conflicts.is_empty(), conflicts })?;
    } else {
        outln!("{}", merged.merge.tree)?;
        for c in conflicts {
            outln!("CONFLICT ({}): {}", c.kind.as_str(), c.path)?;
        }
    }
    if conflicts.is_empty() {
        return Ok(());
    }
    Err(CliError::new(EXIT_FAILED, "conflicts", format!("the merge of {} into {} has {} conflict(s)", args.theirs, args.ours, conflicts.len())))
}
