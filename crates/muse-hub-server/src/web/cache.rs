//! The cache of rendered answers and the refs snapshots its keys are made from
//! (`docs/hub.md` §Caching).
//!
//! A page is rendered once per [`PageKey`] (the repository, its [`Generation`], a digest of
//! its refs, the view, the resolved commit, the ref as written, the path, the query, HTML or
//! JSON, the origin of the clone URL) and kept as bytes, with the anonymous visitor's sign-in
//! link in place; another visitor's nav bar is put in its place when it is sent. The
//! authorization of the visitor is checked before the cache is consulted, on every request.
//! An entry shows relative ages ("20 days ago"), so it is kept only until the first of them
//! would read differently. Requests for a page being rendered wait for that rendering.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use muse_core::CommitId;
use muse_hub::{Generation, RepoId};
use sha2::{Digest, Sha256};
use tokio::sync::OwnedMutexGuard;

/// How long a refs snapshot is believed while the hub counts no change to the repository:
/// the bound on how late a page shows a ref moved by another process on the same database.
const REFS_TTL: Duration = Duration::from_secs(2);
/// The most repositories whose refs snapshots are kept (past it they are all dropped).
const REFS_KEPT: usize = 4096;
/// The rendered answers kept, in bytes (about: bodies and keys).
pub(crate) const PAGE_BUDGET: usize = 128 << 20;

/// A repository's refs, read at one generation.
pub(crate) struct Refs {
    /// The generation they were read at (read before them).
    pub(crate) generation: Generation,
    /// Every ref, sorted by name.
    pub(crate) list: Vec<(String, CommitId)>,
    /// A digest of `list`, in every page key: a page that lists branches misses when one moves.
    pub(crate) digest: [u8; 16],
    loaded: Instant,
}

/// The refs snapshots of repositories.
#[derive(Default)]
pub(crate) struct RefsCache(Mutex<HashMap<RepoId, Arc<Refs>>>);

impl RefsCache {
    /// The snapshot of `repo` if it was read at `generation` less than [`REFS_TTL`] ago.
    pub(crate) fn get(&self, repo: RepoId, generation: Generation) -> Option<Arc<Refs>> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&repo).filter(|r| r.generation == generation && r.loaded.elapsed() < REFS_TTL).cloned()
    }

    /// Keeps `list`, read after `generation` was.
    pub(crate) fn put(&self, repo: RepoId, generation: Generation, list: Vec<(String, CommitId)>) -> Arc<Refs> {
        let mut hasher = Sha256::new();
        for (name, id) in &list {
            hasher.update(name.as_bytes());
            hasher.update([0]);
            hasher.update(id.0.as_bytes());
        }
        let mut digest = [0u8; 16];
        digest.copy_from_slice(&hasher.finalize()[..16]);
        let refs = Arc::new(Refs { generation, list, digest, loaded: Instant::now() });
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= REFS_KEPT {
            map.clear();
        }
        map.insert(repo, Arc::clone(&refs));
        refs
    }
}

/// What determines a rendered answer (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct PageKey {
    /// The repository.
    pub(crate) repo: RepoId,
    /// Its generation: pushes, visibility and key changes counted by the hub.
    pub(crate) generation: Generation,
    /// The digest of its refs.
    pub(crate) refs: [u8; 16],
    /// Which page.
    pub(crate) view: &'static str,
    /// The commit the ref resolved to, when the page has one.
    pub(crate) commit: Option<CommitId>,
    /// JSON rather than HTML.
    pub(crate) json: bool,
    /// Everything else the page shows that the request chose, `\0`-separated: the ref as
    /// written, the path, the query, the origin.
    pub(crate) rest: String,
}

/// A rendered answer.
pub(crate) struct Cached {
    /// JSON rather than HTML.
    pub(crate) json: bool,
    /// The body as an anonymous visitor gets it.
    pub(crate) body: Bytes,
    /// Where the anonymous visitor's nav bar is in `body`: another visitor's goes there.
    pub(crate) nav: Option<(usize, usize)>,
    /// The first 16 bytes of `body`'s SHA-256: the entity tag's base.
    pub(crate) digest: [u8; 16],
    /// The unix second from which it is stale (a relative age it shows reads differently).
    pub(crate) until: i64,
}

impl Cached {
    /// An answer of `body`, whose nav bar (if any) is at `nav`.
    pub(crate) fn new(json: bool, body: String, nav: Option<(usize, usize)>, until: i64) -> Cached {
        let mut digest = [0u8; 16];
        digest.copy_from_slice(&Sha256::digest(body.as_bytes())[..16]);
        Cached { json, body: Bytes::from(body), nav, digest, until }
    }

    fn weight(&self, key: &PageKey) -> usize {
        self.body.len() + key.rest.len() + 256
    }
}

/// Two maps, the recent and the older half: entries are put in the recent one; when it holds
/// half the budget it becomes the older one and the older one is dropped; a hit in the older
/// half moves the entry back to the recent one. An approximation of least-recently-used
/// eviction at the cost of two hash lookups.
#[derive(Default)]
struct Halves {
    recent: HashMap<PageKey, Arc<Cached>>,
    recent_bytes: usize,
    older: HashMap<PageKey, Arc<Cached>>,
}

/// The rendered answers, bounded by bytes, and the renderings under way.
pub(crate) struct PageCache {
    budget: usize,
    halves: Mutex<Halves>,
    flights: Mutex<HashMap<PageKey, Arc<tokio::sync::Mutex<()>>>>,
}

impl PageCache {
    /// A cache of about `budget` bytes.
    pub(crate) fn new(budget: usize) -> PageCache {
        PageCache { budget, halves: Mutex::default(), flights: Mutex::default() }
    }

    /// The answer for `key` if it is kept and still fresh at unix time `now`.
    pub(crate) fn get(&self, key: &PageKey, now: i64) -> Option<Arc<Cached>> {
        let mut halves = self.halves.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(found) = halves.recent.get(key) {
            if found.until > now {
                return Some(Arc::clone(found));
            }
            let stale = halves.recent.remove(key);
            halves.recent_bytes = halves.recent_bytes.saturating_sub(stale.map_or(0, |s| s.weight(key)));
            return None;
        }
        let found = halves.older.remove(key)?;
        if found.until <= now {
            return None;
        }
        self.insert(&mut halves, key.clone(), Arc::clone(&found));
        Some(found)
    }

    /// Keeps `value` for `key` (not if it is over a quarter of the budget).
    pub(crate) fn put(&self, key: PageKey, value: Arc<Cached>) {
        if value.weight(&key) > self.budget / 4 {
            return;
        }
        let mut halves = self.halves.lock().unwrap_or_else(|e| e.into_inner());
        self.insert(&mut halves, key, value);
    }

    fn insert(&self, halves: &mut Halves, key: PageKey, value: Arc<Cached>) {
        let weight = value.weight(&key);
        if halves.recent_bytes + weight > self.budget / 2 {
            halves.older = std::mem::take(&mut halves.recent);
            halves.recent_bytes = 0;
        }
        halves.older.remove(&key);
        if let Some(old) = halves.recent.insert(key.clone(), value) {
            halves.recent_bytes = halves.recent_bytes.saturating_sub(old.weight(&key));
        }
        halves.recent_bytes += weight;
    }

    /// The right to render `key`: waits while another request renders it (the caller then
    /// finds it cached). Dropped, it lets the next one in.
    pub(crate) async fn flight(&self, key: &PageKey) -> Flight<'_> {
        let lock = Arc::clone(self.flights.lock().unwrap_or_else(|e| e.into_inner()).entry(key.clone()).or_default());
        let guard = Arc::clone(&lock).lock_owned().await;
        Flight { cache: self, key: key.clone(), lock, _guard: guard }
    }

    /// The number of answers kept and their weight, for tests.
    #[cfg(test)]
    fn len(&self) -> (usize, usize) {
        let halves = self.halves.lock().unwrap();
        (halves.recent.len() + halves.older.len(), halves.recent_bytes)
    }
}

/// A rendering under way (see [`PageCache::flight`]).
pub(crate) struct Flight<'a> {
    cache: &'a PageCache,
    key: PageKey,
    lock: Arc<tokio::sync::Mutex<()>>,
    _guard: OwnedMutexGuard<()>,
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        let mut flights = self.cache.flights.lock().unwrap_or_else(|e| e.into_inner());
        // Ours, and no one else waits on it (the map's reference, ours, and the guard's).
        if flights.get(&self.key).is_some_and(|l| Arc::ptr_eq(l, &self.lock)) && Arc::strong_count(&self.lock) <= 3 {
            flights.remove(&self.key);
        }
    }
}

/// The entity tag of an answer: its digest, and the nav bar put in it (none: the anonymous one).
pub(crate) fn etag(digest: &[u8; 16], nav: Option<&str>) -> String {
    match nav {
        None => format!("\"{}\"", hex::encode(digest)),
        Some(nav) => {
            let mut hasher = Sha256::new();
            hasher.update(digest);
            hasher.update(nav.as_bytes());
            format!("\"{}\"", hex::encode(&hasher.finalize()[..16]))
        }
    }
}

/// Whether an `If-None-Match` value names `etag` (or is `*`); weak tags compare by their value.
pub(crate) fn none_match(header: &str, etag: &str) -> bool {
    header.split(',').map(str::trim).any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> PageKey {
        PageKey { repo: RepoId(1), generation: Generation::default(), refs: [0; 16], view: "blob", commit: None, json: false, rest: format!("main\0file{n}") }
    }

    fn page(bytes: usize, until: i64) -> Arc<Cached> {
        Arc::new(Cached::new(false, "x".repeat(bytes), None, until))
    }

    #[test]
    fn entries_expire_and_the_budget_holds() {
        let cache = PageCache::new(10_000);
        cache.put(key(1), page(100, 50));
        assert!(cache.get(&key(1), 49).is_some());
        assert!(cache.get(&key(1), 50).is_none(), "stale once an age it shows changes");
        assert!(cache.get(&key(1), 0).is_none(), "and dropped");
        cache.put(key(9), page(5000, i64::MAX));
        assert_eq!(cache.len().0, 0, "over a quarter of the budget: not kept");
        for n in 0..40 {
            cache.put(key(n), page(1000, i64::MAX));
            assert!(cache.len().1 <= 5000);
        }
        let (kept, _) = cache.len();
        assert!((4..=8).contains(&kept), "{kept}");
        assert!(cache.get(&key(39), 0).is_some(), "the newest are kept");
        assert!(cache.get(&key(0), 0).is_none());
    }

    #[test]
    fn a_hit_in_the_older_half_is_kept_longer() {
        let cache = PageCache::new(12_000);
        for n in 0..4 {
            cache.put(key(n), page(1000, i64::MAX));
        }
        // Key 0 is now in the older half; a hit brings it back.
        for n in 4..6 {
            cache.put(key(n), page(1000, i64::MAX));
        }
        assert!(cache.get(&key(0), 0).is_some());
        for n in 6..10 {
            cache.put(key(n), page(1000, i64::MAX));
        }
        assert!(cache.get(&key(0), 0).is_some(), "used recently");
        assert!(cache.get(&key(1), 0).is_none(), "not used");
    }

    #[test]
    fn entity_tags() {
        let digest = [7u8; 16];
        let plain = etag(&digest, None);
        assert_eq!(plain, format!("\"{}\"", "07".repeat(16)));
        assert_ne!(etag(&digest, Some("<a>ada</a>")), plain);
        assert_ne!(etag(&digest, Some("<a>ada</a>")), etag(&digest, Some("<a>bob</a>")));
        assert!(none_match(&plain, &plain));
        assert!(none_match(&format!("\"x\", W/{plain}"), &plain));
        assert!(none_match("*", &plain));
        assert!(!none_match("\"x\"", &plain));
    }

    #[tokio::test]
    async fn one_rendering_at_a_time_per_key() {
        let cache = Arc::new(PageCache::new(1 << 20));
        let first = cache.flight(&key(1)).await;
        let waiter = {
            let cache = Arc::clone(&cache);
            tokio::spawn(async move {
                let _flight = cache.flight(&key(1)).await;
                cache.get(&key(1), 0).is_some()
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished(), "waits for the rendering under way");
        cache.put(key(1), page(10, i64::MAX));
        drop(first);
        assert!(waiter.await.unwrap(), "and then finds it cached");
        assert!(cache.flights.lock().unwrap().is_empty(), "nothing is left behind");
        let _other = cache.flight(&key(2)).await;
    }
}
