//! Merge bases: every lowest common ancestor of two commits (what `git merge-base --all`
//! prints), found iteratively.
//!
//! Both tips are walked newest first by commit time, each commit painted with the sides that
//! reach it; a commit reached from both is a candidate, and its ancestors are painted stale.
//! The walk ends when only stale commits are queued. Commit times can lie (clock skew), so a
//! candidate may be an ancestor of another: such redundant candidates are removed by walking
//! from each candidate.

use std::collections::{HashMap, HashSet};

use muse_core::CommitId;
use muse_store::history::NewestFirst;
use muse_store::Store;

use crate::Result;

const OURS: u8 = 1;
const THEIRS: u8 = 2;
const STALE: u8 = 4;

fn time_of(store: &Store, id: &CommitId) -> Result<((i64, u32), Vec<CommitId>)> {
    let commit = store.objects().read_commit(id)?;
    let time = muse_core::rfc3339_to_unix(&commit.committed_at).unwrap_or((i64::MIN, 0));
    Ok((time, commit.parents))
}

/// The lowest common ancestors of `a` and `b`, oldest first (the order in which merge-ort
/// folds them into a virtual base). Empty when the histories share no commit.
pub fn merge_bases(store: &Store, a: CommitId, b: CommitId) -> Result<Vec<CommitId>> {
    if a == b {
        return Ok(vec![a]);
    }
    let mut flags: HashMap<CommitId, u8> = HashMap::new();
    let mut parents: HashMap<CommitId, ((i64, u32), Vec<CommitId>)> = HashMap::new();
    let mut queue: NewestFirst<CommitId> = NewestFirst::new();
    for (id, side) in [(a, OURS), (b, THEIRS)] {
        let entry = time_of(store, &id)?;
        queue.push(entry.0, id);
        parents.insert(id, entry);
        *flags.entry(id).or_default() |= side;
    }
    let mut found: Vec<CommitId> = Vec::new();
    // As git's paint_down_to_common: go on while a queued commit is not stale.
    while queue.iter().any(|q| flags.get(q).is_some_and(|f| f & STALE == 0)) {
        let Some(id) = queue.pop() else { break };
        let mut f = flags.get(&id).copied().unwrap_or(0);
        if f & (OURS | THEIRS) == OURS | THEIRS && f & STALE == 0 {
            if !found.contains(&id) {
                found.push(id);
            }
            f |= STALE;
            flags.insert(id, f);
        }
        let list = match parents.get(&id) {
            Some((_, p)) => p.clone(),
            None => time_of(store, &id)?.1,
        };
        for parent in list {
            let pf = flags.get(&parent).copied().unwrap_or(0);
            if pf & f == f {
                continue;
            }
            flags.insert(parent, pf | f);
            let time = match parents.get(&parent) {
                Some(e) => e.0,
                None => {
                    let e = time_of(store, &parent)?;
                    let t = e.0;
                    parents.insert(parent, e);
                    t
                }
            };
            queue.push(time, parent);
        }
    }
    remove_redundant(store, found, &parents)
}

/// Drops every candidate that is an ancestor of another one; returns the rest oldest first.
fn remove_redundant(store: &Store, candidates: Vec<CommitId>, known: &HashMap<CommitId, ((i64, u32), Vec<CommitId>)>) -> Result<Vec<CommitId>> {
    let time = |id: &CommitId| -> Result<(i64, u32)> {
        match known.get(id) {
            Some((t, _)) => Ok(*t),
            None => Ok(time_of(store, id)?.0),
        }
    };
    let mut keep: Vec<CommitId> = Vec::new();
    if candidates.len() > 1 {
        // Every commit below some candidate (not the candidate itself): candidates found there
        // are redundant.
        let mut below: HashSet<CommitId> = HashSet::new();
        for &c in &candidates {
            let mut stack: Vec<CommitId> = time_of(store, &c)?.1;
            while let Some(id) = stack.pop() {
                if !below.insert(id) {
                    continue;
                }
                stack.extend(time_of(store, &id)?.1);
            }
        }
        keep.extend(candidates.into_iter().filter(|c| !below.contains(c)));
    } else {
        keep = candidates;
    }
    let mut timed: Vec<((i64, u32), CommitId)> = keep.into_iter().map(|c| Ok((time(&c)?, c))).collect::<Result<_>>()?;
    timed.sort();
    Ok(timed.into_iter().map(|(_, c)| c).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use muse_core::{Commit, Tree};
    use muse_store::Repository;

    fn commit(repo: &Repository, parents: &[CommitId], time: i64) -> CommitId {
        let mut writer = repo.objects().begin_write().unwrap();
        let commit = Commit {
            parents: parents.to_vec(),
            snapshot: Tree::empty_id(),
            message: format!("at {time}"),
            author: "A <a@example.com>".into(),
            committed_at: muse_core::unix_to_rfc3339_utc(1_700_000_000 + time),
            ..Commit::default()
        };
        let id = writer.add_commit(&commit).unwrap();
        writer.finish().unwrap();
        id
    }

    #[test]
    fn bases_of_forks_ancestors_and_criss_crosses() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path(), "main").unwrap();
        let a = commit(&repo, &[], 0);
        let b = commit(&repo, &[a], 1);
        let c = commit(&repo, &[b], 2);
        let d = commit(&repo, &[b], 3);
        assert_eq!(merge_bases(&repo, c, d).unwrap(), vec![b]);
        assert_eq!(merge_bases(&repo, c, b).unwrap(), vec![b]);
        assert_eq!(merge_bases(&repo, a, d).unwrap(), vec![a]);
        // Criss-cross: x merges c into d, y merges d into c: both c and d are bases of x and y.
        let x = commit(&repo, &[d, c], 4);
        let y = commit(&repo, &[c, d], 5);
        assert_eq!(merge_bases(&repo, x, y).unwrap(), vec![c, d]);
        // Unrelated histories share nothing.
        let lone = commit(&repo, &[], 6);
        assert_eq!(merge_bases(&repo, lone, y).unwrap(), Vec::<CommitId>::new());
        // A skewed clock (a parent newer than its child) still gives the lowest ancestor only.
        let old_child = commit(&repo, &[d], -100);
        let e = commit(&repo, &[old_child], 7);
        assert_eq!(merge_bases(&repo, e, c).unwrap(), vec![b]);
    }
}
