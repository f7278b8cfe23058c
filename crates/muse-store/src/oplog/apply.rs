//! Putting refs, HEADs and working copies back: the engine behind `muse undo` and
//! `muse op restore`. All or nothing: every ref and HEAD is checked against its expected value
//! first, then the working copies are checked out (which refuses to overwrite uncommitted
//! changes), then the refs move by compare-and-swap (rolled back if one of them moved
//! meanwhile), and last the HEADs move and workspaces are removed or re-created.

use muse_core::{CommitId, TreeId};

use super::{HeadChange, Operation, RefChange};
use crate::error::{Result, StoreError};
use crate::refs::RefName;
use crate::repo::Repository;
use crate::store::Head;
use crate::workspace::{self, head_snapshot, workspace_dir, workspace_head};
use crate::worktree::checkout::checkout;

/// The changes that undo `op`: each of its moves reversed. Moves that never landed (a ref or HEAD
/// still at its old value, as after a crash before the move) are left out by
/// [`apply_transition`], which skips changes already at their target.
pub fn undo_transition(op: &Operation) -> (Vec<RefChange>, Vec<HeadChange>) {
    let refs = op.refs.iter().rev().map(|r| RefChange { name: r.name.clone(), old: r.new, new: r.old }).collect();
    let heads = op
        .heads
        .iter()
        .rev()
        .map(|h| HeadChange { workspace: h.workspace.clone(), path: h.path.clone(), old: h.new.clone(), new: h.old.clone(), checkout: h.checkout })
        .collect();
    (refs, heads)
}

fn conflict(message: String) -> StoreError {
    StoreError::Conflict(message)
}

fn show(id: Option<CommitId>) -> String {
    id.map_or_else(|| "nothing".into(), |id| id.to_string())
}

fn show_head(head: &Option<Head>) -> String {
    head.as_ref().map_or_else(|| "no workspace".into(), super::head_to_text)
}

fn label(workspace: &Option<String>) -> String {
    workspace.as_deref().map_or_else(|| "the main working copy".into(), |n| format!("workspace '{n}'"))
}

/// One HEAD change, prepared: where the working copy is and which snapshots its files move
/// between.
struct Planned {
    change: HeadChange,
    dir: std::path::PathBuf,
    from: TreeId,
    to: TreeId,
}

/// Moves every ref from `old` to `new` and every HEAD likewise, or nothing: a ref or HEAD that
/// is neither at `old` nor already at `new` is a conflict ([`StoreError::Conflict`]); so is a
/// checkout that would overwrite uncommitted changes, and a workspace to remove that holds
/// uncommitted work. Returns the changes actually made (those already at `new` left out).
pub fn apply_transition(repo: &Repository, refs: Vec<RefChange>, heads: Vec<HeadChange>) -> Result<(Vec<RefChange>, Vec<HeadChange>)> {
    // 1. Every ref and HEAD is where the transition expects it.
    let mut ref_moves = Vec::new();
    for change in refs {
        let name = RefName::parse_any(&change.name)?;
        let current = repo.refs().read(&name)?;
        if current == change.new {
            continue;
        }
        if current != change.old {
            return Err(conflict(format!("{} moved since: expected {}, found {}", change.name, show(change.old), show(current))));
        }
        ref_moves.push((name, change));
    }
    let target_ref = |name: &RefName| -> Result<Option<CommitId>> {
        match ref_moves.iter().find(|(n, _)| n == name) {
            Some((_, change)) => Ok(change.new),
            None => repo.refs().read(name),
        }
    };
    let resolve = |head: &Head, target: bool| -> Result<TreeId> {
        match (head, target) {
            (Head::Branch(name), true) => match target_ref(name)? {
                Some(id) => Ok(repo.objects().read_commit(&id)?.snapshot),
                None => Ok(muse_core::Tree::empty_id()),
            },
            _ => head_snapshot(repo, head),
        }
    };
    let mut planned = Vec::new();
    for change in heads {
        let current = workspace_head(repo, change.workspace.as_deref())?;
        if current != change.new && current != change.old {
            return Err(conflict(format!(
                "HEAD of {} moved since: expected {}, found {}",
                label(&change.workspace),
                show_head(&change.old),
                show_head(&current)
            )));
        }
        let dir = workspace_dir(repo, change.workspace.as_deref())?.unwrap_or_else(|| change.path.clone().into());
        // The files move from what HEAD shows now to what it will show once refs have moved
        // (a HEAD that stays on its branch still follows that branch's move).
        let from = match &current {
            Some(head) => resolve(head, false)?,
            None => muse_core::Tree::empty_id(),
        };
        let to = match &change.new {
            Some(head) => resolve(head, true)?,
            None => muse_core::Tree::empty_id(),
        };
        if current == change.new && (!change.checkout || from == to) {
            continue;
        }
        let change = HeadChange { old: current, ..change };
        match (&change.old, &change.new, &change.workspace) {
            (Some(_), None, Some(name)) => {
                // A workspace to remove: only if all its work is committed.
                if dir.exists() {
                    let ws = Repository::open(&dir)?;
                    if let Some(why) = workspace::removal_obstacle(&ws)? {
                        return Err(conflict(format!("workspace '{name}' cannot be removed: {why}")));
                    }
                }
            }
            (None, Some(_), Some(_)) => {
                // A workspace to re-create: its directory must be free.
                if dir.exists() && std::fs::read_dir(&dir).map(|mut d| d.next().is_some()).unwrap_or(true) {
                    return Err(conflict(format!("cannot re-create {} at {}: the directory exists and is not empty", label(&change.workspace), dir.display())));
                }
            }
            (Some(_), Some(_), _) => {}
            _ => return Err(conflict(format!("cannot create or remove {}", label(&change.workspace)))),
        }
        planned.push(Planned { change, dir, from, to });
    }

    // 2. Working copies follow (each checkout refuses to overwrite uncommitted changes).
    let mut checked_out: Vec<&Planned> = Vec::new();
    let mut result = Ok(());
    for plan in planned.iter().filter(|p| p.change.checkout && p.change.old.is_some() && p.change.new.is_some() && p.from != p.to) {
        match Repository::open(&plan.dir).and_then(|ws| checkout(&ws, plan.from, plan.to, false)) {
            Ok(_) => checked_out.push(plan),
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    // 3. Refs move by compare-and-swap; one that moved meanwhile puts the others back.
    if result.is_ok() {
        let mut moved: Vec<&(RefName, RefChange)> = Vec::new();
        for entry in &ref_moves {
            let (name, change) = entry;
            match repo.refs().compare_and_swap(name, change.old, change.new) {
                Ok(()) => moved.push(entry),
                Err(e) => {
                    for (name, change) in moved.iter().rev() {
                        let _ = repo.refs().compare_and_swap(name, change.new, change.old);
                    }
                    result = Err(e);
                    break;
                }
            }
        }
    }
    if let Err(e) = result {
        for plan in checked_out.iter().rev() {
            let _ = Repository::open(&plan.dir).and_then(|ws| checkout(&ws, plan.to, plan.from, false));
        }
        return Err(e);
    }
    // 4. HEADs move; workspaces are removed or re-created.
    for plan in &planned {
        match (&plan.change.new, &plan.change.workspace) {
            (None, Some(name)) => {
                // Checked in step 1, against HEAD's commit then: the branch it was on may be
                // gone by now (undoing `workspace add` deletes the branch the add created).
                workspace::remove(repo, name, true)?;
            }
            (Some(head), Some(name)) if plan.change.old.is_none() => {
                workspace::add(repo, &plan.dir, name, head, plan.to)?;
            }
            (Some(head), _) if plan.change.old.as_ref() != Some(head) => Repository::open(&plan.dir)?.set_head(head)?,
            (Some(_), _) => {}
            (None, None) => {}
        }
    }
    let refs = ref_moves.into_iter().map(|(_, change)| change).collect();
    let heads = planned.into_iter().map(|p| p.change).collect();
    Ok((refs, heads))
}
