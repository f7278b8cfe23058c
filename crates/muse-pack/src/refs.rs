//! Moving refs after an apply: only to commits that are durable in the store, only by
//! compare-and-swap, and (unless forced) only forward.

use std::collections::HashSet;

use muse_core::CommitId;
use muse_store::{RefName, Store, StoreError};

use crate::apply::{run_hook, WriteHook, WriteStep};
use crate::error::Result;

/// What happened to one ref.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RefStatus {
    /// It did not exist and now points at the commit.
    Created,
    /// It moved forward to the commit (the old value is an ancestor).
    FastForward,
    /// It was moved to a commit that does not descend from its old value (forced).
    Forced,
    /// It already pointed at the commit.
    UpToDate,
    /// It was left alone; `reason` says why.
    Rejected,
}

/// One ref update, as reported by `bundle apply` and `clone`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RefUpdate {
    /// The full ref name.
    pub name: String,
    /// Its value before.
    pub old: Option<CommitId>,
    /// The value it was to take.
    pub new: CommitId,
    /// What happened.
    pub status: RefStatus,
    /// Why it was rejected, if it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Points each ref at its commit if that commit is in the store (and so, by the store's rule,
/// its whole chain). Without `force`, a ref only moves forward. Branches checked out in a
/// working copy are left alone (moving them would make the files disagree with HEAD). `hook`
/// runs before each ref is moved, as in [`crate::apply`].
pub fn update_refs(repo: &Store, updates: &[(RefName, CommitId)], force: bool, hook: Option<WriteHook<'_>>) -> Result<Vec<RefUpdate>> {
    let checked_out: HashSet<RefName> = repo.checked_out_branches()?.into_iter().collect();
    let mut report = Vec::with_capacity(updates.len());
    for (name, new) in updates {
        let old = repo.refs().read(name)?;
        let mut update = RefUpdate { name: name.to_string(), old, new: *new, status: RefStatus::Rejected, reason: None };
        let reject = |update: &mut RefUpdate, reason: String| update.reason = Some(reason);
        match repo.objects().read_commit(new) {
            Ok(_) => {}
            Err(StoreError::ObjectNotFound(_)) => {
                reject(&mut update, format!("commit {new} was not written (see the rejected records)"));
                report.push(update);
                continue;
            }
            Err(e) => return Err(e.into()),
        }
        let status = if old == Some(*new) {
            RefStatus::UpToDate
        } else if checked_out.contains(name) && old.is_some() {
            reject(&mut update, "the branch is checked out in a working copy; switch away from it first".into());
            RefStatus::Rejected
        } else if old.is_none() {
            RefStatus::Created
        } else if old.is_some_and(|old| descends_from(repo, *new, old).unwrap_or(false)) {
            RefStatus::FastForward
        } else if force {
            RefStatus::Forced
        } else {
            reject(&mut update, format!("{new} does not descend from {}; not a fast-forward", old.map(|o| o.to_string()).unwrap_or_default()));
            RefStatus::Rejected
        };
        if matches!(status, RefStatus::Created | RefStatus::FastForward | RefStatus::Forced) {
            run_hook(hook, WriteStep::Ref(name.as_str()))?;
            if let Err(e) = repo.refs().compare_and_swap(name, old, Some(*new)) {
                match e {
                    StoreError::RefConflict { .. } | StoreError::RefLocked { .. } => {
                        reject(&mut update, e.to_string());
                        update.status = RefStatus::Rejected;
                        report.push(update);
                        continue;
                    }
                    other => return Err(other.into()),
                }
            }
        }
        update.status = status;
        report.push(update);
    }
    Ok(report)
}

/// Whether `ancestor` is reachable from `descendant` through parents.
fn descends_from(repo: &Store, descendant: CommitId, ancestor: CommitId) -> Result<bool> {
    let mut seen = HashSet::new();
    let mut stack = vec![descendant];
    while let Some(id) = stack.pop() {
        if id == ancestor {
            return Ok(true);
        }
        if seen.insert(id) {
            stack.extend(repo.objects().read_commit(&id)?.parents);
        }
    }
    Ok(false)
}
