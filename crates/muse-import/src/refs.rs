//! Git branches and tags → Muse refs, and HEAD.
//!
//! Only `refs/heads/*` and `refs/tags/*` are mirrored (a bare or `--mirror` clone has every
//! branch there; a working clone's other branches live under `refs/remotes/` and are listed as
//! skipped). Annotated tags are peeled to their commit and become plain Muse tags. A Muse ref is
//! created or moved only if it is absent or still points at an imported commit: a branch that
//! gained Muse-only commits is left alone and reported.

use std::collections::HashSet;

use gix::ObjectId as GitId;
use muse_core::CommitId;
use muse_store::{Head, RefName, Repository};

use crate::error::{ImportError, Result};
use crate::map::GitMap;
use crate::summary::{skip_ref, ImportSummary};

/// A git branch or tag to mirror.
pub(crate) struct GitRef {
    /// The full git name, e.g. `refs/heads/main`.
    pub full_name: String,
    /// The Muse ref it becomes.
    pub muse: RefName,
    /// The commit it peels to.
    pub target: GitId,
}

/// The branches and tags of `repo` that can be mirrored; the others are recorded as skipped.
pub(crate) fn list(repo: &gix::Repository, summary: &mut ImportSummary) -> Result<Vec<GitRef>> {
    let platform = repo.references().map_err(|e| ImportError::git("list refs", e))?;
    let mut names = Vec::new();
    for reference in platform.all().map_err(|e| ImportError::git("list refs", e))? {
        let reference = reference.map_err(|e| ImportError::git("list refs", e))?;
        names.push(reference.name().to_owned());
    }
    let mut refs = Vec::new();
    for git_name in names {
        let raw_name = git_name.as_bstr();
        let full_name = crate::tree::escape(raw_name);
        if !(full_name.starts_with("refs/heads/") || full_name.starts_with("refs/tags/")) {
            skip_ref(summary, full_name, "only branches (refs/heads/) and tags (refs/tags/) are imported".into());
            continue;
        }
        let muse = match RefName::parse(&full_name) {
            Ok(muse) if full_name.as_bytes() == raw_name.as_ref() as &[u8] => muse,
            Ok(_) => {
                skip_ref(summary, full_name, "the name is not UTF-8".into());
                continue;
            }
            Err(e) => {
                skip_ref(summary, full_name, e.to_string());
                continue;
            }
        };
        let peeled = repo.find_reference(git_name.as_ref()).and_then(|mut r| r.peel_to_id().map(|id| id.detach()));
        let target = match peeled {
            Ok(target) => target,
            Err(e) => {
                summary.warnings.push(format!("{full_name} was not imported: it cannot be resolved ({e:#})"));
                skip_ref(summary, full_name, format!("cannot be resolved: {e:#}"));
                continue;
            }
        };
        let header = repo.try_find_header(target).map_err(|e| ImportError::git(format!("read object {target} of {full_name}"), e))?;
        match header.map(|h| h.kind()) {
            Some(gix::object::Kind::Commit) => refs.push(GitRef { full_name, muse, target }),
            Some(kind) => skip_ref(summary, full_name, format!("it points at a {kind}, not a commit")),
            None => return Err(ImportError::MissingObject { kind: "commit", id: target, needed_by: full_name }),
        }
    }
    Ok(refs)
}

/// Creates or moves the Muse refs to the imported commits; counts them into `summary`.
pub(crate) fn update(repo: &Repository, refs: &[GitRef], map: &GitMap, summary: &mut ImportSummary) -> Result<()> {
    let mut imported: Option<HashSet<CommitId>> = None;
    for git_ref in refs {
        let target = map.get(&git_ref.target).ok_or_else(|| ImportError::CorruptMap {
            path: GitMap::path_in(repo.store_dir()),
            line: 0,
            reason: format!("{} points at git commit {}, which was not imported", git_ref.full_name, git_ref.target),
        })?;
        let current = repo.refs().read(&git_ref.muse)?;
        if current != Some(target) {
            let movable = match current {
                None => true,
                Some(id) => imported.get_or_insert_with(|| map.muse_ids().copied().collect()).contains(&id),
            };
            if !movable {
                summary.warnings.push(format!("{} was left alone: it has Muse commits that are not from git", git_ref.muse));
                skip_ref(summary, git_ref.full_name.clone(), "the Muse ref has commits that are not from git".into());
                continue;
            }
            ensure_stored(repo, target)?;
            repo.refs().compare_and_swap(&git_ref.muse, current, Some(target))?;
            summary.refs_updated += 1;
        }
        if git_ref.muse.is_branch() {
            summary.branches += 1;
        } else {
            summary.tags += 1;
        }
    }
    Ok(())
}

/// Checks that a commit the map names is really in the store before a ref points at it.
fn ensure_stored(repo: &Repository, id: CommitId) -> Result<()> {
    if repo.objects().contains(&id.0)? {
        return Ok(());
    }
    Err(ImportError::CorruptMap { path: GitMap::path_in(repo.store_dir()), line: 0, reason: format!("it names commit {id}, which the store does not hold") })
}

/// Whether the Muse HEAD is on a branch that does not exist yet (a fresh repository).
pub(crate) fn head_is_unborn(repo: &Repository) -> Result<bool> {
    Ok(match repo.head()? {
        Head::Branch(branch) => repo.refs().read(&branch)?.is_none(),
        Head::Detached(_) => false,
    })
}

/// Points the Muse HEAD where the git HEAD points (used when it was unborn before the import,
/// as `git clone` would). Returns what it was set to.
pub(crate) fn adopt_head(repo: &Repository, git: &gix::Repository, refs: &[GitRef], map: &GitMap) -> Result<Option<String>> {
    let head = git.head().map_err(|e| ImportError::git("read HEAD", e))?;
    let new_head = match head.kind {
        gix::head::Kind::Symbolic(reference) => {
            let name = reference.name.as_bstr().to_owned();
            refs.iter().find(|r| r.full_name.as_bytes() == name.as_slice() && r.muse.is_branch()).map(|r| Head::Branch(r.muse.clone()))
        }
        gix::head::Kind::Detached { target, peeled } => map.get(&peeled.unwrap_or(target)).map(Head::Detached),
        gix::head::Kind::Unborn(_) => None,
    };
    let Some(new_head) = new_head else { return Ok(None) };
    repo.set_head(&new_head)?;
    Ok(Some(match new_head {
        Head::Branch(name) => name.short().to_string(),
        Head::Detached(id) => format!("detached {id}"),
    }))
}
