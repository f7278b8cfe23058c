//! Recording operations in the op log: one call per mutating command, after its changes land.

use std::collections::BTreeMap;

use muse_core::CommitId;
use muse_store::oplog::{HeadChange, OpLog, Operation, RefChange};
use muse_store::{Head, RefName, Repository};

/// For benchmarks only (bench/oplog.sh): with this variable set to 1, nothing is recorded, so
/// `undo` cannot see the command.
const BENCH_SKIP: &str = "MUSE_OPLOG_BENCH_SKIP";

/// Picks a value: the flag, then the environment variable, then the config key, then "".
pub fn pick(flag: Option<String>, env: &str, config: &BTreeMap<String, String>, key: &str) -> String {
    flag.or_else(|| std::env::var(env).ok().filter(|v| !v.is_empty())).or_else(|| config.get(key).cloned()).unwrap_or_default()
}

/// Records `command`'s changes in `repo`'s op log, with the command line, the author and agent
/// (picked as `commit` picks them) and the working copy. Nothing is recorded for no change. A
/// failure to record does not undo the command: it is reported as a warning on stderr.
pub fn record(repo: &Repository, command: &str, refs: Vec<RefChange>, heads: Vec<HeadChange>) -> Option<Operation> {
    record_with(repo, command, refs, heads, |_| {})
}

/// [`record`], letting `fill` set the remaining fields (`undoes`, `restores`).
pub fn record_with(repo: &Repository, command: &str, refs: Vec<RefChange>, heads: Vec<HeadChange>, fill: impl FnOnce(&mut Operation)) -> Option<Operation> {
    if std::env::var(BENCH_SKIP).is_ok_and(|v| v == "1") {
        return None;
    }
    let config = repo.config().unwrap_or_default();
    let author = pick(None, "MUSE_AUTHOR", &config, "user.author");
    let agent = pick(None, "MUSE_AGENT_ID", &config, "agent.id");
    let args = std::env::args_os().skip(1).map(|a| a.to_string_lossy().into_owned()).collect();
    let mut op = Operation::new(repo, command, args, author, agent);
    op.refs = refs;
    op.heads = heads;
    fill(&mut op);
    if op.is_empty() && op.undoes.is_none() && op.restores.is_none() {
        return None;
    }
    match OpLog::of(repo).append(op) {
        Ok(op) => Some(op),
        Err(e) => {
            eprintln!("warning: the {command} was done, but it could not be recorded in the op log (so `muse undo` cannot see it): {e}");
            None
        }
    }
}

/// One ref moved.
pub fn ref_change(name: &RefName, old: Option<CommitId>, new: Option<CommitId>) -> RefChange {
    RefChange { name: name.to_string(), old, new }
}

/// Every branch and tag with its commit (for commands that move many refs: import).
pub fn ref_view(repo: &Repository) -> muse_store::Result<BTreeMap<String, CommitId>> {
    let mut refs = repo.refs().list("refs/heads/")?;
    refs.extend(repo.refs().list("refs/tags/")?);
    Ok(refs.into_iter().map(|(n, id)| (n.to_string(), id)).collect())
}

/// The refs that differ between two views.
pub fn view_diff(before: &BTreeMap<String, CommitId>, after: &BTreeMap<String, CommitId>) -> Vec<RefChange> {
    let names: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    names
        .into_iter()
        .filter(|n| before.get(*n) != after.get(*n))
        .map(|n| RefChange { name: n.clone(), old: before.get(n).copied(), new: after.get(n).copied() })
        .collect()
}

/// A HEAD move of `repo`'s working copy, as a list (empty when HEAD did not move).
pub fn head_moved(repo: &Repository, old: Head, new: Head, checkout: bool) -> Vec<HeadChange> {
    if old == new && !checkout {
        return Vec::new();
    }
    vec![HeadChange::of(repo, old, new, checkout)]
}
