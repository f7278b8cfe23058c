//! Finding the commits to import: everything reachable from the tips that is not imported yet,
//! parents before children.
//!
//! An iterative depth-first walk (histories are deeper than any thread stack) that stops at
//! commits the map already knows and at the shallow boundary. Only ids are kept, so memory is a
//! few dozen bytes per commit however large the trees are.

use gix::hashtable::HashSet;
use gix::ObjectId as GitId;

use crate::error::{ImportError, Result};

/// One commit on the walk's stack: its id, its parents, and how many of them were looked at.
struct Frame {
    id: GitId,
    parents: Vec<GitId>,
    next: usize,
}

/// The parents of a commit as far as the import is concerned: none past the shallow boundary.
fn parents_of(repo: &gix::Repository, id: GitId, shallow: &HashSet<GitId>, needed_by: &str) -> Result<Vec<GitId>> {
    let object = repo.try_find_object(id).map_err(|e| ImportError::git(format!("read commit {id}"), e))?;
    let object = object.ok_or_else(|| ImportError::MissingObject { kind: "commit", id, needed_by: needed_by.to_string() })?;
    if object.kind != gix::object::Kind::Commit {
        return Err(ImportError::CorruptObject { kind: "commit", id, reason: format!("it is a {}, not a commit", object.kind) });
    }
    if shallow.contains(&id) {
        return Ok(Vec::new());
    }
    let iter = gix::objs::CommitRefIter::from_bytes(&object.data, gix::hash::Kind::Sha1);
    Ok(iter.parent_ids().collect())
}

/// The commits reachable from `tips` that `is_known` rejects, in an order where every commit
/// comes after its parents. `progress` is told the number found so far, now and then.
pub(crate) fn new_commits(
    repo: &gix::Repository,
    tips: &[(String, GitId)],
    is_known: &dyn Fn(&GitId) -> bool,
    shallow: &HashSet<GitId>,
    progress: &mut dyn FnMut(usize),
) -> Result<Vec<GitId>> {
    let mut order = Vec::new();
    let mut visited: HashSet<GitId> = HashSet::default();
    let mut stack: Vec<Frame> = Vec::new();
    for (ref_name, tip) in tips {
        if is_known(tip) || !visited.insert(*tip) {
            continue;
        }
        stack.push(Frame { id: *tip, parents: parents_of(repo, *tip, shallow, ref_name)?, next: 0 });
        while let Some(frame) = stack.last_mut() {
            let Some(parent) = frame.parents.get(frame.next).copied() else {
                order.push(frame.id);
                stack.pop();
                if order.len() % 4096 == 0 {
                    progress(order.len());
                }
                continue;
            };
            frame.next += 1;
            if is_known(&parent) || !visited.insert(parent) {
                continue;
            }
            let child = frame.id;
            let parents = parents_of(repo, parent, shallow, &format!("commit {child}"))?;
            stack.push(Frame { id: parent, parents, next: 0 });
        }
    }
    progress(order.len());
    Ok(order)
}
