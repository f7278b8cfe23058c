//! Committing a working copy: hash and store changed files, write the trees on changed paths,
//! write the commit, publish the pack durably, then move the branch by compare-and-swap.

use std::sync::Mutex;

use muse_core::{Commit, CommitId, Tree};

use crate::error::{Result, StoreError};
use crate::refs::RefName;
use crate::repo::Repository;
use crate::snapshot::update_snapshot;
use crate::store::Head;
use crate::worktree::{save_committed_cache, scan_reporting, store_changed_content, HashProgress, WorkChange};
use muse_core::TreeId;

/// What a commit did.
#[derive(Debug, Clone)]
pub struct CommitOutcome {
    /// The new commit's id.
    pub id: CommitId,
    /// The new commit.
    pub commit: Commit,
    /// The files it changed.
    pub changes: Vec<WorkChange>,
    /// The branch it moved, or `None` on a detached HEAD.
    pub branch: Option<RefName>,
    /// What HEAD resolved to before: the parent, or for an amend the commit replaced.
    pub previous: Option<CommitId>,
    /// Why the stat cache could not be saved afterwards, if it could not (the commit stands;
    /// the next scan re-reads files).
    pub cache_error: Option<String>,
}

/// Commits the working copy on top of HEAD. `template` supplies every field but `parents` and
/// `snapshot`. Refuses an empty commit unless `allow_empty`. `progress` hears how many of the
/// files to read are done.
///
/// Order of durability: blobs, trees and the commit go into one pack, fsynced and published
/// before the branch moves; the branch moves by compare-and-swap from the parent read at the
/// start, so a concurrent commit to the same branch makes this one fail instead of being lost.
pub fn commit_worktree(repo: &Repository, template: Commit, allow_empty: bool, progress: HashProgress<'_>) -> Result<CommitOutcome> {
    record(repo, template, allow_empty, false, Vec::new(), progress, &mut keep)
}

/// What a commit is about to record, shown to a [`Review`] before the commit is written.
pub struct CommitDraft<'a> {
    /// The snapshot the working copy was compared with: HEAD's, or for an amend the amended
    /// commit's.
    pub base: TreeId,
    /// The parents the commit will have.
    pub parents: &'a [CommitId],
    /// The snapshot the commit will have (with `parents` and the reviewed fields, the whole
    /// commit: what a signature covers).
    pub snapshot: TreeId,
    /// The files that differ from `base`, with the ids of their new content (which is in the
    /// pack being written, not readable from the store yet: read the working copy's files).
    pub changes: &'a [WorkChange],
}

/// A last look at a commit before it is written: gets the draft and the commit's fields
/// (`template`) and returns the fields to record, or an error that stops the commit (nothing is
/// written then, no ref moves).
pub type Review<'r, E> = &'r mut dyn FnMut(&CommitDraft<'_>, Commit) -> std::result::Result<Commit, E>;

fn keep(_: &CommitDraft<'_>, template: Commit) -> Result<Commit> {
    Ok(template)
}

/// [`commit_worktree`] with a [`Review`] of the commit before it is written (`muse commit`
/// computes its semver bump there).
pub fn commit_worktree_reviewed<E: From<StoreError>>(
    repo: &Repository,
    template: Commit,
    allow_empty: bool,
    progress: HashProgress<'_>,
    review: Review<'_, E>,
) -> std::result::Result<CommitOutcome, E> {
    record(repo, template, allow_empty, false, Vec::new(), progress, review)
}

/// [`amend_worktree`] with a [`Review`] of the commit before it is written.
pub fn amend_worktree_reviewed<E: From<StoreError>>(
    repo: &Repository,
    template: Commit,
    progress: HashProgress<'_>,
    review: Review<'_, E>,
) -> std::result::Result<CommitOutcome, E> {
    record(repo, template, true, true, Vec::new(), progress, review)
}

/// Commits the working copy on top of HEAD with `others` as further parents: a merge commit
/// (HEAD first, then `others` in order), recorded even when its snapshot equals HEAD's.
pub fn commit_merge_worktree(repo: &Repository, template: Commit, others: Vec<CommitId>, progress: HashProgress<'_>) -> Result<CommitOutcome> {
    record(repo, template, true, false, others, progress, &mut keep)
}

/// [`commit_merge_worktree`] with a [`Review`] of the commit before it is written (`muse merge
/// --continue` signs it there).
pub fn commit_merge_worktree_reviewed<E: From<StoreError>>(
    repo: &Repository,
    template: Commit,
    others: Vec<CommitId>,
    progress: HashProgress<'_>,
    review: Review<'_, E>,
) -> std::result::Result<CommitOutcome, E> {
    record(repo, template, true, false, others, progress, review)
}

/// Replaces HEAD's commit with one of the working copy that keeps its parents (`commit
/// --amend`); `template` supplies every other field. The branch (or detached HEAD) moves from
/// the old commit to the new one by compare-and-swap; the old commit stays in the store.
pub fn amend_worktree(repo: &Repository, template: Commit, progress: HashProgress<'_>) -> Result<CommitOutcome> {
    record(repo, template, true, true, Vec::new(), progress, &mut keep)
}

fn record<E: From<StoreError>>(
    repo: &Repository,
    template: Commit,
    allow_empty: bool,
    amend: bool,
    others: Vec<CommitId>,
    progress: HashProgress<'_>,
    review: Review<'_, E>,
) -> std::result::Result<CommitOutcome, E> {
    crate::worktree::operation::ensure_none_pending(repo, if amend { "commit --amend" } else { "commit" })?;
    let head = repo.head()?;
    let previous = repo.head_commit()?;
    let (base, mut parents) = match (previous, amend) {
        (Some(id), false) => (repo.objects().read_commit(&id)?.snapshot, vec![id]),
        (Some(id), true) => {
            let old = repo.objects().read_commit(&id)?;
            (old.snapshot, old.parents)
        }
        (None, false) => (Tree::empty_id(), Vec::new()),
        (None, true) => return Err(StoreError::InvalidCommit("there is no commit to amend yet".into()).into()),
    };
    parents.extend(others);
    let sink = Mutex::new(repo.objects().begin_write()?);
    let mut scanned = scan_reporting(repo, base, Some(&sink), progress)?;
    if !scanned.skipped.is_empty() {
        // Their content is unknown: committing without them would record them as deleted or
        // leave them out silently.
        return Err(StoreError::Unreadable(scanned.skipped).into());
    }
    store_changed_content(repo, &mut scanned, &sink)?;
    if scanned.is_clean() && !allow_empty {
        // Only a cache: failing to save it must not change the answer.
        let _ = scanned.save_cache(repo);
        return Err(StoreError::NothingToCommit.into());
    }
    let mut writer = sink.into_inner().map_err(|_| StoreError::Workspace("pack writer poisoned".into()))?;
    let changes: Vec<_> = scanned.changes.iter().map(|c| (c.path.clone(), c.work)).collect();
    let snapshot = update_snapshot(repo.objects(), &mut writer, base, &changes)?;
    let template = review(&CommitDraft { base, parents: &parents, snapshot, changes: &scanned.changes }, template)?;
    let commit = Commit { parents, snapshot, ..template };
    let id = writer.add_commit(&commit)?;
    writer.finish()?;
    let branch = match head {
        Head::Branch(name) => {
            repo.refs().compare_and_swap(&name, previous, Some(id))?;
            Some(name)
        }
        Head::Detached(_) => {
            repo.set_head(&Head::Detached(id))?;
            None
        }
    };
    let changes = scanned.changes.clone();
    // The commit has landed: a cache that cannot be saved is reported, not an error.
    let cache_error = save_committed_cache(repo, scanned, snapshot).err().map(|e| e.to_string());
    // Consolidation only keeps lookups fast; the commit has landed whatever it does, so a
    // failure here must not turn a successful commit into an error.
    let _ = repo.objects().consolidate_if_needed();
    Ok(CommitOutcome { id, commit, changes, branch, previous, cache_error })
}
