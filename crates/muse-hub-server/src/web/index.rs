//! The history index of each repository, opened once and shared by the pages, and brought up
//! to date by one build at a time per repository: after each push in the background (one
//! repository at a time, with the branch moves of the pushes that wait for it), and by a page
//! that needs commits the index lacks, which waits for a build under way instead of starting a
//! second one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use muse_core::CommitId;
use muse_hub::RepoId;
use muse_store::index::HistoryIndex;
use muse_store::{Store, StoreError};
use tokio::sync::Semaphore;

use super::Memo;

/// The indexes kept open at once (each is memory-mapped; weighed one each).
const OPEN_INDEXES: usize = 256;
/// The most branch moves kept for one waiting build.
const MAX_QUEUED_MOVES: usize = 64;

/// The open indexes and the builds under way.
pub(crate) struct Indexes {
    open: Memo<RepoId, HistoryIndex>,
    /// One lock per repository whose index is being built.
    building: Mutex<HashMap<RepoId, Arc<Mutex<()>>>>,
    /// Repositories waiting for a background build, with the branch moves (old tip, new tip)
    /// of the pushes that queued it.
    queued: Mutex<HashMap<RepoId, Vec<(CommitId, CommitId)>>>,
    /// Background builds run one at a time.
    background: Arc<Semaphore>,
}

impl Default for Indexes {
    fn default() -> Self {
        Indexes { open: Memo::new(OPEN_INDEXES), building: Mutex::default(), queued: Mutex::default(), background: Arc::new(Semaphore::new(1)) }
    }
}

impl Indexes {
    /// The index of `repo` covering every commit of `tips`: the one kept if it does, else
    /// brought up to date, by this call or by the build under way it waits for. Blocking.
    pub(crate) fn covering(&self, repo: RepoId, store: &Store, tips: &[CommitId]) -> Result<Arc<HistoryIndex>, StoreError> {
        let covers = |index: &HistoryIndex| tips.iter().all(|t| index.position(t).is_some());
        if let Some(index) = self.open.get(&repo).filter(|i| covers(i)) {
            return Ok(index);
        }
        let lock = Arc::clone(self.building.lock().unwrap_or_else(|e| e.into_inner()).entry(repo).or_default());
        let built = {
            let _building = lock.lock().unwrap_or_else(|e| e.into_inner());
            match self.open.get(&repo).filter(|i| covers(i)) {
                // Built while this call waited.
                Some(index) => Ok(index),
                None => HistoryIndex::open(store, tips).map(|index| {
                    let index = Arc::new(index);
                    self.open.put(repo, Arc::clone(&index), 1);
                    index
                }),
            }
        };
        let mut building = self.building.lock().unwrap_or_else(|e| e.into_inner());
        // No one else holds or waits for the lock: the map's reference and ours.
        if building.get(&repo).is_some_and(|l| Arc::ptr_eq(l, &lock)) && Arc::strong_count(&lock) == 2 {
            building.remove(&repo);
        }
        built
    }

    /// Marks `repo` as waiting for a background build, with the branch moves `moved`; `false`
    /// if it already was (the moves are added to that build, which will see the refs as they
    /// are when it starts).
    pub(crate) fn enqueue(&self, repo: RepoId, moved: Vec<(CommitId, CommitId)>) -> bool {
        let mut queued = self.queued.lock().unwrap_or_else(|e| e.into_inner());
        match queued.get_mut(&repo) {
            Some(waiting) => {
                // Bounded: a build highlights a bounded number of bytes anyway.
                if waiting.len() < MAX_QUEUED_MOVES {
                    waiting.extend(moved);
                }
                false
            }
            None => {
                queued.insert(repo, moved);
                true
            }
        }
    }

    /// Waits for the background builder, then takes `repo` off the queue with its moves (a push
    /// from now on queues another build).
    pub(crate) async fn start_background(&self, repo: RepoId) -> (Option<tokio::sync::OwnedSemaphorePermit>, Vec<(CommitId, CommitId)>) {
        let permit = Arc::clone(&self.background).acquire_owned().await.ok();
        let moved = self.queued.lock().unwrap_or_else(|e| e.into_inner()).remove(&repo).unwrap_or_default();
        (permit, moved)
    }
}
