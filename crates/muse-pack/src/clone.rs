//! Local clone: a new repository filled through the same mpack path as any transfer (the source
//! builds a pack of every ref, streamed through an in-process pipe into the target's apply), then
//! refs set, HEAD set, and the working copy checked out.

use std::fs;
use std::path::Path;

use muse_core::{CommitId, Tree};
use muse_store::worktree::checkout::{transition, Transition};
use muse_store::worktree::operation::RefMove;
use muse_store::{Head, RefName, Repository, Store};

use crate::apply::{apply, ApplyOptions, ApplyReport};
use crate::build::{build, BuildOptions};
use crate::error::{PackError, Result};
use crate::pipe::pipe;
use crate::refs::{update_refs, RefUpdate};

/// What a clone did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CloneReport {
    /// The new working copy's root.
    pub path: String,
    /// The objects written (none are rejected from a sound source).
    #[serde(flatten)]
    pub apply: ApplyReport,
    /// The refs created.
    pub refs: Vec<RefUpdate>,
    /// What HEAD is: a full ref name, or a commit id when the source's HEAD was detached.
    pub head: String,
    /// Files checked out.
    pub files: usize,
}

/// Clones the repository at `source` (a working copy, or a bare store) into `target` (which must
/// not exist or be empty). On failure, whatever the clone created is removed.
pub fn clone_local(source: &Path, target: &Path, options: &BuildOptions) -> Result<CloneReport> {
    let (src, head) = open_source(source)?;
    if target.exists() && fs::read_dir(target).map_err(|e| PackError::io("list", target.display(), e))?.next().is_some() {
        return Err(PackError::TargetNotEmpty(target.to_path_buf()));
    }
    let existed = target.exists();
    let branch = match &head {
        Head::Branch(name) => name.short().to_string(),
        Head::Detached(_) => "main".to_string(),
    };
    let dst = Repository::init(target, &branch)?;
    let result = fill(&src, &dst, &head, options);
    if result.is_err() {
        let cleanup = if existed { fs::read_dir(target).map(|d| d.flatten().map(|e| e.path()).collect()) } else { Ok(vec![target.to_path_buf()]) };
        for path in cleanup.unwrap_or_default() {
            let _ = if path.is_dir() { fs::remove_dir_all(&path) } else { fs::remove_file(&path) };
        }
    }
    result
}

/// The store to clone from and the HEAD the clone takes: a bare store's default branch, or the
/// HEAD of the working copy found at or above `source`.
fn open_source(source: &Path) -> Result<(Store, Head)> {
    if source.join("format").is_file() {
        let store = Store::open(source)?;
        let head = store.default_head()?;
        return Ok((store, head));
    }
    let repo = Repository::discover(source)?;
    let head = repo.head()?;
    Ok((repo.into_store(), head))
}

fn fill(src: &Store, dst: &Repository, head: &Head, options: &BuildOptions) -> Result<CloneReport> {
    let mut refs: Vec<(RefName, CommitId)> = src.refs().list("refs/heads/")?;
    refs.extend(src.refs().list("refs/tags/")?);
    let mut want: Vec<CommitId> = refs.iter().map(|(_, id)| *id).collect();
    if let Head::Detached(id) = head {
        want.push(*id);
    }
    let (writer, reader) = pipe();
    let (built, applied) = std::thread::scope(|scope| {
        let builder = scope.spawn(move || build(src.objects(), &want, &[], writer, options));
        let applied = apply(dst.objects(), reader, ApplyOptions::default());
        (builder.join(), applied)
    });
    let built = built.map_err(|_| PackError::io("build", "the pack", std::io::Error::other("the pack builder panicked")))?;
    // A builder failure surfaces in the applier as a truncated stream: report the cause.
    built?;
    let apply = applied?;
    let refs = update_refs(dst, &refs, false, None)?;
    // As after any apply (see `apply_bundle`): merge packs if they pile up.
    let _ = dst.objects().consolidate_if_needed();
    let head_text = match head {
        Head::Branch(name) => name.to_string(),
        Head::Detached(id) => {
            dst.set_head(&Head::Detached(*id))?;
            id.to_string()
        }
    };
    let files = match dst.head_commit()? {
        Some(id) => {
            let snapshot = dst.objects().read_commit(&id)?.snapshot;
            // The branch was created with the others: a roll-back (`muse recover`) leaves it
            // unborn, with no files, rather than born with every file missing.
            let refs = match head {
                Head::Branch(name) => vec![RefMove { name: name.clone(), old: None, new: Some(id) }],
                Head::Detached(_) => Vec::new(),
            };
            let t = Transition { kind: "clone".into(), from: Tree::empty_id(), to: snapshot, head_after: None, refs, force: false };
            transition(dst, &t)?.written
        }
        None => 0,
    };
    Ok(CloneReport { path: dst.work_dir().display().to_string(), apply, refs, head: head_text, files })
}
