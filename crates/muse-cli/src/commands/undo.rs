//! `muse undo`: put back what the last operation not undone yet changed (refs, HEAD, and the
//! files a switch checked out); repeatable, each undo going one operation further back.

use muse_store::oplog::{apply_transition, undo_target, undo_transition, HeadChange, LogContents, OpLog, Operation, RefChange};
use muse_store::Repository;

use super::common::short;
use super::record::record_with;
use crate::error::{CliError, CliResult};
use crate::output::{outln, Ctx};

/// Arguments of `muse undo` (none).
#[derive(clap::Args)]
pub struct Args {}

/// What `undo` and `op restore` print under `--json`.
#[derive(serde::Serialize)]
pub struct RevertJson<'a> {
    /// The operation undone or restored.
    pub target: OpJson<'a>,
    /// The id of the operation recorded for this command (`null` if it could not be recorded).
    pub operation: Option<u64>,
    /// The refs moved.
    pub refs: &'a [RefChange],
    /// The HEADs moved, workspaces removed or re-created.
    pub heads: &'a [HeadChange],
}

/// An operation as `op log --json` prints it: the record plus its time in RFC 3339.
#[derive(serde::Serialize)]
pub struct OpJson<'a> {
    #[serde(flatten)]
    pub op: &'a Operation,
    /// When it ran, RFC 3339 UTC.
    pub time: String,
    /// Whether a later `undo` undid it.
    pub undone: bool,
}

impl<'a> OpJson<'a> {
    /// The JSON view of `op`.
    pub fn new(op: &'a Operation, undone: bool) -> Self {
        OpJson { op, time: muse_core::unix_to_rfc3339_utc(op.unix_ms.div_euclid(1000)), undone }
    }
}

/// Reads the op log, warning (once, on stderr) about a torn tail.
pub fn read_log(repo: &Repository) -> CliResult<LogContents> {
    let log = OpLog::of(repo).read()?;
    if let Some((at, bytes)) = log.torn {
        eprintln!("warning: the op log ends with {bytes} unreadable byte(s) at offset {at} (an interrupted write); they are ignored");
    }
    Ok(log)
}

/// Undoes one operation.
pub fn run(_args: Args, ctx: &Ctx) -> CliResult {
    let repo = ctx.repo()?;
    // An interrupted checkout was never recorded: undoing it is rolling it back.
    if let Some(report) = muse_store::worktree::checkout::roll_back(&repo)? {
        return super::recover::print(ctx, Some(report));
    }
    let log = read_log(&repo)?;
    let target = undo_target(&log.operations)
        .ok_or_else(|| CliError::new(crate::error::EXIT_FAILED, "nothing_to_undo", "nothing to undo: the op log holds no operation that is not undone yet"))?;
    // The step that stopped on conflicts: undoing it is aborting it.
    if let Some(state) = muse_merge::state::MergeState::read(&repo)?.filter(|s| s.operation == Some(target.id)) {
        super::merge::abort_stopped(&repo, &state)?;
        let heads: Vec<HeadChange> = target.heads.clone();
        let recorded = record_with(&repo, "undo", vec![], heads.clone(), |op| op.undoes = Some(target.id));
        return report(ctx, "Undid", target, recorded.map(|o| o.id), &[], &heads);
    }
    let (refs, heads) = undo_transition(target);
    let (refs, heads) = apply_transition(&repo, refs, heads)?;
    let recorded = record_with(&repo, "undo", refs.clone(), heads.clone(), |op| op.undoes = Some(target.id));
    report(ctx, "Undid", target, recorded.map(|o| o.id), &refs, &heads)
}

/// Prints what an undo or restore did.
pub fn report(ctx: &Ctx, verb: &str, target: &Operation, recorded: Option<u64>, refs: &[RefChange], heads: &[HeadChange]) -> CliResult {
    if ctx.json {
        return ctx.print_json(&RevertJson { target: OpJson::new(target, verb == "Undid"), operation: recorded, refs, heads });
    }
    outln!("{verb} operation {} ({})", target.id, describe(target))?;
    print_changes(refs, heads)
}

/// `muse commit -m …`, from the recorded command line.
pub fn describe(op: &Operation) -> String {
    let mut line = String::from("muse");
    for arg in &op.args {
        line.push(' ');
        if arg.is_empty() || arg.contains(|c: char| c.is_whitespace() || c == '\'' || c == '"') {
            line.push_str(&format!("{arg:?}"));
        } else {
            line.push_str(arg);
        }
    }
    line
}

/// One line per ref and HEAD moved.
pub fn print_changes(refs: &[RefChange], heads: &[HeadChange]) -> CliResult {
    let id = |id: Option<muse_core::CommitId>| id.map_or_else(|| "(none)".to_string(), short);
    let head = |h: &Option<muse_store::Head>| match h {
        None => "(no workspace)".to_string(),
        Some(muse_store::Head::Branch(b)) => b.short().to_string(),
        Some(muse_store::Head::Detached(c)) => format!("{} (detached)", short(*c)),
    };
    for r in refs {
        outln!("    {}: {} -> {}", r.name, id(r.old), id(r.new))?;
    }
    for h in heads {
        let place = h.workspace.as_deref().map_or_else(|| "HEAD".to_string(), |w| format!("HEAD of workspace '{w}'"));
        let files = if h.checkout { " (files checked out)" } else { "" };
        outln!("    {place}: {} -> {}{files}", head(&h.old), head(&h.new))?;
    }
    Ok(())
}
