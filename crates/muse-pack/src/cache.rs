//! A byte-bounded least-recently-used cache of decoded objects, for resolving delta chains
//! without decoding them again (the applier's delta bases, the builder's store reads).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use muse_core::ObjectId;

/// Bytes of bookkeeping per cached object (map and queue entries, the `Arc` and `Vec` headers,
/// allocator overhead), counted against the budget so that many tiny objects cannot exceed it.
const ENTRY_OVERHEAD: usize = 160;

/// Recently used decoded objects kept for resolving deltas, within a byte budget (least
/// recently used out first).
pub struct BaseCache {
    /// Each object with the generation of its last use.
    map: HashMap<ObjectId, (Arc<Vec<u8>>, u64)>,
    /// Uses in order; an entry whose generation is not the map's current one is stale.
    order: VecDeque<(ObjectId, u64)>,
    generation: u64,
    bytes: usize,
    budget: usize,
}

impl BaseCache {
    /// An empty cache holding at most `budget` bytes of objects.
    pub fn new(budget: usize) -> Self {
        BaseCache { map: HashMap::new(), order: VecDeque::new(), generation: 0, bytes: 0, budget }
    }

    fn touch(&mut self, id: ObjectId) -> u64 {
        self.generation += 1;
        self.order.push_back((id, self.generation));
        if self.order.len() > 4 * self.map.len() + 64 {
            let map = &self.map;
            self.order.retain(|(id, generation)| map.get(id).is_some_and(|(_, current)| current == generation));
        }
        self.generation
    }

    /// The cached bytes of `id`, marking them used.
    pub fn get(&mut self, id: &ObjectId) -> Option<Arc<Vec<u8>>> {
        let data = Arc::clone(&self.map.get(id)?.0);
        let generation = self.touch(*id);
        if let Some(entry) = self.map.get_mut(id) {
            entry.1 = generation;
        }
        Some(data)
    }

    /// Caches `data` as the bytes of `id` (ignored if larger than the whole budget).
    pub fn put(&mut self, id: ObjectId, data: Arc<Vec<u8>>) {
        let cost = data.len() + ENTRY_OVERHEAD;
        if cost > self.budget || self.map.contains_key(&id) {
            return;
        }
        self.bytes += cost;
        let generation = self.touch(id);
        self.map.insert(id, (data, generation));
        while self.bytes > self.budget {
            let Some((old, generation)) = self.order.pop_front() else { break };
            if self.map.get(&old).is_some_and(|(_, current)| *current == generation) {
                if let Some((evicted, _)) = self.map.remove(&old) {
                    self.bytes -= evicted.len() + ENTRY_OVERHEAD;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_evicts_the_least_recently_used() {
        let mut cache = BaseCache::new(30 + 3 * ENTRY_OVERHEAD);
        let ids: Vec<ObjectId> = (0u8..4).map(|i| ObjectId::sha256(&[i])).collect();
        cache.put(ids[0], Arc::new(vec![0; 10]));
        cache.put(ids[1], Arc::new(vec![1; 10]));
        cache.put(ids[2], Arc::new(vec![2; 10]));
        assert!(cache.get(&ids[0]).is_some());
        cache.put(ids[3], Arc::new(vec![3; 10]));
        assert!(cache.get(&ids[1]).is_none(), "the least recently used goes first");
        assert!(cache.get(&ids[0]).is_some() && cache.get(&ids[2]).is_some() && cache.get(&ids[3]).is_some());
        cache.put(ids[1], Arc::new(vec![0; 31 + 3 * ENTRY_OVERHEAD]));
        assert!(cache.get(&ids[1]).is_none(), "larger than the budget: not kept");
    }
}
