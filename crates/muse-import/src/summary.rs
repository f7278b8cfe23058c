//! What callers pass in and get back: options, progress reports, and the run's summary.

use std::collections::BTreeSet;
use std::time::Duration;

use gix::ObjectId as GitId;

/// At most this many items are listed per kind of skip; the counts stay exact.
const MAX_LISTED: usize = 100;

/// How an import behaves.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Fail on a path Muse cannot store (not UTF-8, `.muse`, …) instead of skipping it.
    pub strict_paths: bool,
    /// Publish a pack (and record its commits in the map) every this many commits.
    pub commits_per_pack: usize,
    /// Convert trees in windows of this many commits: the unit of parallel blob hashing.
    pub window_commits: usize,
    /// Remember about twice this many converted trees and blobs each (bounds memory; a forgotten
    /// one is converted again, to the same id, if it comes back).
    pub memo_capacity: usize,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions { strict_paths: false, commits_per_pack: 5000, window_commits: 256, memo_capacity: 1 << 19 }
    }
}

/// Which step an import is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImportPhase {
    /// Walking the git history for commits not imported yet (`commits_done` counts those found).
    Scanning,
    /// Converting commits, trees and files.
    Importing,
    /// Creating and moving branches and tags.
    UpdatingRefs,
}

/// A progress report, sent now and then during [`crate::import_git`].
#[derive(Debug, Clone, Copy)]
pub struct ImportProgress {
    /// The current step.
    pub phase: ImportPhase,
    /// Commits found (scanning) or converted (importing) so far.
    pub commits_done: u64,
    /// Commits to convert in this run (0 while scanning).
    pub commits_total: u64,
    /// Compressed bytes written to the store so far.
    pub bytes_written: u64,
    /// Time since the import started.
    pub elapsed: Duration,
}

/// A tree entry that was not imported because Muse cannot store its name or mode.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SkippedPath {
    /// The first commit (in import order) whose tree held it.
    pub commit: String,
    /// The path, non-UTF-8 bytes written `\xNN`.
    pub path: String,
    /// Why it was skipped.
    pub reason: String,
}

/// A git ref that was not recreated in Muse.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SkippedRef {
    /// The full git ref name.
    pub name: String,
    /// Why it was skipped.
    pub reason: String,
}

/// What an import did, as `muse import git --json` prints it.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ImportSummary {
    /// Commits converted by this run.
    pub commits: u64,
    /// Commits that earlier runs had imported (the map's size before this run).
    pub commits_previously_imported: u64,
    /// Distinct snapshots (root trees) of the commits converted by this run.
    pub snapshots: u64,
    /// Objects appended to the store: blobs + trees + commits.
    pub objects_written: u64,
    /// Blobs appended.
    pub blobs_written: u64,
    /// Trees appended.
    pub trees_written: u64,
    /// Commits appended.
    pub commits_written: u64,
    /// Compressed bytes appended to packs.
    pub bytes_written: u64,
    /// Git branches mirrored as Muse branches.
    pub branches: u64,
    /// Git tags mirrored as Muse tags.
    pub tags: u64,
    /// Branches and tags created or moved by this run.
    pub refs_updated: u64,
    /// The branch (or `detached <id>`) HEAD was set to, if this run set it.
    pub head: Option<String>,
    /// Whether the git repository is a shallow clone (history stops at its boundary commits).
    pub shallow: bool,
    /// Distinct submodule paths (gitlinks) skipped.
    pub submodules_skipped: u64,
    /// Those paths (the first 100).
    pub submodule_paths: Vec<String>,
    /// Tree entries skipped because Muse cannot store them.
    pub paths_skipped: u64,
    /// Those entries (the first 100).
    pub skipped_paths: Vec<SkippedPath>,
    /// Git refs not mirrored, with the reason.
    pub skipped_refs: Vec<SkippedRef>,
    /// Things the user should know (shallow history, refs left alone, …).
    pub warnings: Vec<String>,
    /// Wall-clock duration of the run.
    pub seconds: f64,
}

/// Skips recorded while converting trees.
#[derive(Default)]
pub(crate) struct Skips {
    submodules: BTreeSet<String>,
    paths: Vec<SkippedPath>,
    path_count: u64,
}

impl Skips {
    /// Records a gitlink at `path`.
    pub fn submodule(&mut self, path: String) {
        self.submodules.insert(path);
    }

    /// Records an entry Muse cannot store.
    pub fn invalid_path(&mut self, commit: GitId, path: String, reason: String) {
        self.path_count += 1;
        if self.paths.len() < MAX_LISTED {
            self.paths.push(SkippedPath { commit: commit.to_string(), path, reason });
        }
    }

    /// Moves the records into `summary`.
    pub fn fill(self, summary: &mut ImportSummary) {
        summary.submodules_skipped = self.submodules.len() as u64;
        summary.submodule_paths = self.submodules.into_iter().take(MAX_LISTED).collect();
        summary.paths_skipped = self.path_count;
        summary.skipped_paths = self.paths;
    }
}

/// Records a skipped ref, listing at most [`MAX_LISTED`] of them.
pub(crate) fn skip_ref(summary: &mut ImportSummary, name: String, reason: String) {
    if summary.skipped_refs.len() < MAX_LISTED {
        summary.skipped_refs.push(SkippedRef { name, reason });
    }
}
