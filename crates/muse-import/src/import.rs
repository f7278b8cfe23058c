//! The import run: find new commits, convert them window by window, publish packs, move refs.

use std::path::Path;
use std::time::Instant;

use gix::hashtable::{HashMap, HashSet};
use gix::ObjectId as GitId;
use muse_core::{CommitId, Tree, TreeId};
use muse_store::odb::{compress, Encoding};
use muse_store::Repository;

use crate::blobs::{read_blob, BlobReader, ConvertedBlob, UNKNOWN_DEPTH};
use crate::error::{ImportError, Result};
use crate::map::{GitMap, ImportLock};
use crate::sink::Sink;
use crate::summary::{ImportOptions, ImportPhase, ImportProgress, ImportSummary, Skips};
use crate::tree::{TreeConverter, Window};
use crate::{commit, graph, refs};

/// Imports every commit reachable from the branches and tags of the git repository at
/// `git_dir` (bare or not) into `repo`, then mirrors those branches and tags; see the crate
/// documentation. Commits imported by earlier runs (recorded in `.muse/import/git-map`) are
/// skipped, so a re-run only converts what is new. `progress` is called now and then.
pub fn import_git(git_dir: &Path, repo: &Repository, opts: &ImportOptions, progress: &mut dyn FnMut(ImportProgress)) -> Result<ImportSummary> {
    let started = Instant::now();
    let _lock = ImportLock::acquire(repo.store_dir())?;
    let sync = gix::open::Options::isolated().open(git_dir).map_err(|source| ImportError::NotAGitRepository { path: git_dir.to_path_buf(), source })?;
    let git = sync.to_thread_local();
    let mut summary = ImportSummary::default();
    let mut map = GitMap::load(repo.store_dir())?;
    summary.commits_previously_imported = map.len() as u64;

    let refs = refs::list(&git, &mut summary)?;
    let mut tips: Vec<(String, GitId)> = refs.iter().map(|r| (r.full_name.clone(), r.target)).collect();
    if let Ok(head) = git.head() {
        if let gix::head::Kind::Detached { target, peeled } = head.kind {
            tips.push(("HEAD".into(), peeled.unwrap_or(target)));
        }
    }
    let shallow = shallow_commits(&git)?;
    if !shallow.is_empty() {
        summary.shallow = true;
        summary
            .warnings
            .push(format!("the git repository is a shallow clone: history stops at {} boundary commit(s), imported without their parents", shallow.len()));
    }

    let report = |phase, done: u64, total: u64, bytes: u64| ImportProgress {
        phase,
        commits_done: done,
        commits_total: total,
        bytes_written: bytes,
        elapsed: started.elapsed(),
    };
    let order = graph::new_commits(&git, &tips, &|id| map.contains(id), &shallow, &mut |n| progress(report(ImportPhase::Scanning, n as u64, 0, 0)))?;
    if !order.is_empty() {
        let mut run = Run { git: &git, repo, opts, shallow: &shallow, summary: &mut summary, adopted: HashSet::default() };
        run.convert(&sync, &order, &mut map, &mut |done, bytes| progress(report(ImportPhase::Importing, done, order.len() as u64, bytes)))?;
    }

    progress(report(ImportPhase::UpdatingRefs, summary.commits, order.len() as u64, summary.bytes_written));
    let head_was_unborn = refs::head_is_unborn(repo)?;
    refs::update(repo, &refs, &map, &mut summary)?;
    if head_was_unborn {
        summary.head = refs::adopt_head(repo, &git, &refs, &map)?;
    }
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// The shallow boundary: commits whose parents the git repository does not hold.
fn shallow_commits(git: &gix::Repository) -> Result<HashSet<GitId>> {
    let commits = git.shallow_commits().map_err(|e| ImportError::git("read the shallow file", e))?;
    Ok(commits.map(|c| c.iter().copied().collect()).unwrap_or_default())
}

/// Writes a converted blob and returns its delta depth in the store ([`UNKNOWN_DEPTH`] if it was
/// already there). A delta is accepted only if its base's depth is known and one less than the
/// worker proposed; otherwise the blob is read again and stored whole.
fn store_blob(git: &gix::Repository, blob: &ConvertedBlob, sink: &mut Sink<'_>, converter: &mut TreeConverter, window: &Window) -> Result<u8> {
    let Some(payload) = &blob.payload else { return Ok(UNKNOWN_DEPTH) };
    let (encoding, depth, whole) = match blob.delta {
        Some((base_git, base_id, proposed)) if converter.depth_of(&base_git, window) == Some(proposed - 1) => (Encoding::ZstdDelta(base_id), proposed, None),
        Some(_) => (Encoding::Zstd, 0, Some(compress(&read_blob(git, blob.git, blob.commit)?))),
        None => (Encoding::Zstd, 0, None),
    };
    let written = sink.add_blob(blob.id, blob.size, encoding, whole.as_deref().unwrap_or(payload))?;
    Ok(if written { depth } else { UNKNOWN_DEPTH })
}

/// The state of converting one run's commits.
struct Run<'a> {
    git: &'a gix::Repository,
    repo: &'a Repository,
    opts: &'a ImportOptions,
    shallow: &'a HashSet<GitId>,
    summary: &'a mut ImportSummary,
    /// Commits of earlier runs, used as parents, whose trees were taught to the converter.
    adopted: HashSet<GitId>,
}

impl Run<'_> {
    /// Converts `order` (parents first) window by window, publishing a pack every
    /// `commits_per_pack` commits and recording its commits in `map`.
    fn convert(&mut self, sync: &gix::ThreadSafeRepository, order: &[GitId], map: &mut GitMap, progress: &mut dyn FnMut(u64, u64)) -> Result<()> {
        let check_store = !self.repo.objects().packs()?.is_empty();
        let mut sink = Sink::new(self.repo.objects(), check_store);
        let mut converter = TreeConverter::new(self.opts.memo_capacity, self.opts.strict_paths);
        let reader = BlobReader::new(sync.clone());
        let mut skips = Skips::default();
        let mut snapshots: std::collections::HashSet<TreeId> = std::collections::HashSet::new();
        let mut unpublished: HashMap<GitId, CommitId> = HashMap::default();
        for window_ids in order.chunks(self.opts.window_commits.max(1)) {
            let mut window = Window::default();
            let mut commits = Vec::with_capacity(window_ids.len());
            for &id in window_ids {
                let (data, tree) = self.read_commit(id)?;
                for parent in gix::objs::CommitRefIter::from_bytes(&data, gix::hash::Kind::Sha1).parent_ids() {
                    if !unpublished.contains_key(&parent) && !self.shallow.contains(&id) {
                        self.adopt_parent(parent, map, &mut converter)?;
                    }
                }
                converter.collect(self.git, tree, id, &mut window, &mut skips)?;
                commits.push((id, tree, data));
            }
            let chains = std::mem::take(&mut window.chains);
            reader.convert(&chains, self.repo.objects(), sink.checks_store(), &mut |blob| {
                let depth = store_blob(self.git, &blob, &mut sink, &mut converter, &window)?;
                converter.blob_converted(blob.git, (blob.id, depth), &mut window);
                Ok(())
            })?;
            converter.build(&mut window, &mut sink)?;
            for (id, tree, data) in commits {
                // Trees are measured where first met; a converted tree reused deeper is caught
                // here, on the snapshot (a subtree beyond the limits makes its root so too).
                if let Err(reason) = window.shape(&tree).unwrap_or_default().check() {
                    return Err(ImportError::PathTooDeep { commit: id, path: "its snapshot".into(), reason });
                }
                let snapshot = match window.tree(&tree).expect("every commit's tree was collected") {
                    Some(snapshot) => snapshot,
                    None => sink.add_tree(&Tree::default())?,
                };
                let (parents, missing) = self.parents(id, &data, map, &unpublished)?;
                let converted = commit::convert(id, &data, parents, &missing, snapshot)?;
                unpublished.insert(id, sink.add_commit(id, &converted)?);
                snapshots.insert(snapshot);
                self.summary.commits += 1;
            }
            if sink.pending_commits() >= self.opts.commits_per_pack {
                map.append(&sink.publish()?)?;
                unpublished.clear();
            }
            progress(self.summary.commits, sink.stats.bytes);
        }
        map.append(&sink.publish()?)?;
        let stats = sink.stats;
        let summary = &mut *self.summary;
        summary.snapshots = snapshots.len() as u64;
        (summary.blobs_written, summary.trees_written, summary.commits_written) = (stats.blobs, stats.trees, stats.commits);
        summary.objects_written = stats.blobs + stats.trees + stats.commits;
        summary.bytes_written = stats.bytes;
        skips.fill(summary);
        Ok(())
    }

    /// Reads and checks a git commit; returns its bytes and its tree id.
    fn read_commit(&self, id: GitId) -> Result<(Vec<u8>, GitId)> {
        let object = self.git.find_object(id).map_err(|e| ImportError::git(format!("read commit {id}"), e))?;
        commit::verify(&object, "commit")?;
        let data = object.detach().data;
        let tree = gix::objs::CommitRefIter::from_bytes(&data, gix::hash::Kind::Sha1).tree_id().map_err(|e| ImportError::CorruptObject {
            kind: "commit",
            id,
            reason: format!("{e:#}"),
        })?;
        Ok((data, tree))
    }

    /// Prepares a parent imported by an earlier run (once each): checks that the store holds
    /// what the map says, and teaches the converter its tree, so only changes are re-read.
    fn adopt_parent(&mut self, parent: GitId, map: &GitMap, converter: &mut TreeConverter) -> Result<()> {
        let Some(muse) = map.get(&parent) else { return Ok(()) };
        if !self.adopted.insert(parent) {
            return Ok(());
        }
        let snapshot = match self.repo.objects().read_commit(&muse) {
            Ok(commit) => commit.snapshot,
            Err(muse_store::StoreError::ObjectNotFound(_)) => {
                return Err(ImportError::CorruptMap {
                    path: GitMap::path_in(self.repo.store_dir()),
                    line: 0,
                    reason: format!("it names commit {muse} (git {parent}), which the store does not hold"),
                })
            }
            Err(e) => return Err(e.into()),
        };
        let (_, git_tree) = self.read_commit(parent)?;
        converter.seed(self.git, self.repo.objects(), git_tree, snapshot)
    }

    /// The Muse parents of git commit `id`, and the git parents a shallow clone lacks.
    fn parents(&self, id: GitId, data: &[u8], map: &GitMap, unpublished: &HashMap<GitId, CommitId>) -> Result<(Vec<CommitId>, Vec<GitId>)> {
        let mut parents = Vec::new();
        let mut missing = Vec::new();
        for parent in gix::objs::CommitRefIter::from_bytes(data, gix::hash::Kind::Sha1).parent_ids() {
            if self.shallow.contains(&id) {
                missing.push(parent);
            } else if let Some(muse) = unpublished.get(&parent).copied().or_else(|| map.get(&parent)) {
                parents.push(muse);
            } else {
                return Err(ImportError::MissingObject { kind: "commit", id: parent, needed_by: format!("commit {id}") });
            }
        }
        Ok((parents, missing))
    }
}
