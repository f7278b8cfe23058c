//! A bounded memo from git object ids to the Muse ids they converted to.
//!
//! Two generations: entries go into the young one; when it is full it becomes the old one and
//! the previous old one is dropped. A hit in the old generation moves the entry back to the young
//! one, so ids still in use (the trees and files of recent commits) survive and memory stays
//! bounded however long the history is. A miss only costs a re-conversion, never a wrong answer.

use gix::hashtable::HashMap;
use gix::ObjectId as GitId;

/// A generational map of git id → converted value, holding at most `2 × capacity` entries.
pub(crate) struct Memo<V: Copy> {
    young: HashMap<GitId, V>,
    old: HashMap<GitId, V>,
    capacity: usize,
}

impl<V: Copy> Memo<V> {
    /// An empty memo whose generations hold `capacity` entries each.
    pub fn new(capacity: usize) -> Self {
        Memo { young: HashMap::default(), old: HashMap::default(), capacity: capacity.max(1) }
    }

    /// The value for `id`, refreshing it if it was about to be forgotten.
    pub fn get(&mut self, id: &GitId) -> Option<V> {
        if let Some(v) = self.young.get(id) {
            return Some(*v);
        }
        let v = self.old.remove(id)?;
        self.insert(*id, v);
        Some(v)
    }

    /// Records the value for `id`.
    pub fn insert(&mut self, id: GitId, value: V) {
        if self.young.len() >= self.capacity {
            self.old = std::mem::take(&mut self.young);
        }
        self.young.insert(id, value);
    }

    /// The number of entries held.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.young.len() + self.old.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> GitId {
        GitId::from_bytes_or_panic(&[n; 20])
    }

    #[test]
    fn stays_bounded_and_keeps_recently_used_entries() {
        let mut memo = Memo::new(2);
        memo.insert(id(1), 1);
        memo.insert(id(2), 2);
        memo.insert(id(3), 3); // 1 and 2 become old
        assert_eq!(memo.get(&id(1)), Some(1)); // refreshed into young
        memo.insert(id(4), 4); // young {1, 3} becomes old; 2 is dropped
        assert_eq!(memo.get(&id(2)), None);
        assert_eq!(memo.get(&id(1)), Some(1));
        assert!(memo.len() <= 4);
    }
}
