//! Counters of the changes made through a [`Hub`], for caches of what is derived from a
//! repository (the server's rendered pages): a cache that keys its entries by
//! [`Hub::generation`] misses as soon as anything they show may have changed, without being
//! told which entries those are.
//!
//! The counters live in this process: a ref update, a change of visibility or a deletion made
//! through any clone of the hub counts at once. Changes the hub does not make itself (a signing
//! key added or revoked, which changes what a page says of every commit the key signed) are
//! counted by [`Hub::invalidate`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::model::RepoId;
use crate::Hub;

/// Where a repository's derived data stands: it changes whenever a change that could alter a
/// page of the repository went through this hub. Equal generations mean nothing changed in
/// between.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Generation {
    /// Changes to every repository at once ([`Hub::invalidate`] with `None`).
    pub all: u64,
    /// Changes to this repository.
    pub repo: u64,
}

/// The counters: one for every repository at once, one per repository changed since start.
#[derive(Debug, Default)]
pub(crate) struct Generations {
    all: AtomicU64,
    repos: Mutex<HashMap<RepoId, u64>>,
}

impl Generations {
    fn get(&self, repo: RepoId) -> Generation {
        // `all` first: a change to every repository that lands between the two reads is seen
        // at the latest by the next call.
        let all = self.all.load(Ordering::SeqCst);
        let repo = self.repos.lock().unwrap_or_else(|e| e.into_inner()).get(&repo).copied().unwrap_or(0);
        Generation { all, repo }
    }

    fn bump(&self, scope: Option<RepoId>) {
        match scope {
            None => {
                self.all.fetch_add(1, Ordering::SeqCst);
            }
            Some(repo) => *self.repos.lock().unwrap_or_else(|e| e.into_inner()).entry(repo).or_default() += 1,
        }
    }

    /// Forgets a deleted repository's counter: its id is never reused, and nothing of it can
    /// be shown again.
    fn forget(&self, repo: RepoId) {
        self.repos.lock().unwrap_or_else(|e| e.into_inner()).remove(&repo);
    }
}

impl Hub {
    /// The generation of a repository's derived data (see the module documentation): part of
    /// the key of every cached page.
    pub fn generation(&self, repo: RepoId) -> Generation {
        self.generations.get(repo)
    }

    /// Counts a change that alters what the pages of one repository (`Some`) or of every
    /// repository (`None`) show, made elsewhere than through this hub's own methods: every
    /// cache keyed by [`Hub::generation`] misses from now on. Ref updates, visibility changes
    /// and deletions through the hub count themselves.
    pub fn invalidate(&self, scope: Option<RepoId>) {
        self.generations.bump(scope);
    }

    /// Drops the counter of a deleted repository.
    pub(crate) fn forget_generation(&self, repo: RepoId) {
        self.generations.forget(repo);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bumps_are_seen_per_repository_and_for_all() {
        let g = Generations::default();
        let (a, b) = (RepoId(1), RepoId(2));
        let start = g.get(a);
        g.bump(Some(a));
        assert_ne!(g.get(a), start);
        assert_eq!(g.get(b), Generation::default());
        let before = (g.get(a), g.get(b));
        g.bump(None);
        assert_ne!(g.get(a), before.0);
        assert_ne!(g.get(b), before.1);
        g.forget(a);
        assert_eq!(g.repos.lock().unwrap().len(), 0, "a deleted repository's counter is dropped");
    }
}
