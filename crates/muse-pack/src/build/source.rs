//! Reading the objects to pack. A store written by `gc` or an apply keeps delta chains, and the
//! store's reader decodes each chain from its root on every read; packing every version of a
//! file that way costs the square of the chain length. This source decodes raw entries itself
//! and keeps recently decoded objects (shared by the parallel encoders), so each version is
//! decoded once.

use std::sync::{Arc, Mutex};

use muse_core::{ObjectId, Tree, TreeId};
use muse_store::odb::Encoding;
use muse_store::{ObjectStore, StoreError};

use crate::cache::BaseCache;
use crate::error::Result;

/// Decoded bytes kept for the encoders and the planner.
const CACHE_BYTES: usize = 8 << 20;
/// The longest stored delta chain followed (the store's own reader allows as many).
const MAX_STORED_DEPTH: usize = 64;

/// The store's blobs and trees, decoded through a cache.
pub struct Source<'s> {
    store: &'s ObjectStore,
    cache: Mutex<BaseCache>,
}

impl<'s> Source<'s> {
    /// A source over `store` with an empty cache.
    pub fn new(store: &'s ObjectStore) -> Self {
        Source { store, cache: Mutex::new(BaseCache::new(CACHE_BYTES)) }
    }

    /// The store being read.
    pub fn store(&self) -> &'s ObjectStore {
        self.store
    }

    /// The verified bytes of a blob or tree.
    pub fn object(&self, id: &ObjectId) -> Result<Arc<Vec<u8>>> {
        self.decode(id, 0)
    }

    /// A decoded tree.
    pub fn tree(&self, id: &TreeId) -> Result<Tree> {
        let data = self.object(&id.0)?;
        Tree::decode(&data).map_err(|source| StoreError::Decode { id: id.0, source }.into())
    }

    fn decode(&self, id: &ObjectId, depth: usize) -> Result<Arc<Vec<u8>>> {
        if let Some(data) = self.cache.lock().unwrap_or_else(|e| e.into_inner()).get(id) {
            return Ok(data);
        }
        let corrupt = |reason: String| StoreError::CorruptObject { id: *id, reason };
        if depth > MAX_STORED_DEPTH {
            return Err(corrupt("delta chain too long (or cyclic)".into()).into());
        }
        let raw = self.store.read_raw(id)?;
        let base = match raw.encoding {
            Encoding::Zstd => None,
            Encoding::ZstdDelta(base) => Some(self.decode(&base, depth + 1)?),
        };
        let data = muse_store::odb::decompress(&raw.payload, raw.size, base.as_deref().map(Vec::as_slice)).map_err(corrupt)?;
        if raw.kind.id_of(&data) != Some(*id) {
            return Err(corrupt(format!("content is not a {} with this id", raw.kind)).into());
        }
        let data = Arc::new(data);
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).put(*id, Arc::clone(&data));
        Ok(data)
    }
}
