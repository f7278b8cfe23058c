//! Where file contents come from (the store, or a working copy for what is not committed yet),
//! and the semantic diff of a set of changed files: only those files are read, each side through
//! the symbol cache, in parallel.

use std::path::Path;

use muse_core::{blob_id, EntryKind, ObjectId, TreeId};
use muse_store::snapshot::{diff_snapshots, Change};
use muse_store::{ObjectStore, Store};
use rayon::prelude::*;

use crate::cache::SymbolCache;
use crate::diff::{diff_files, FileSides, SemanticDiff};
use crate::error::{CodeError, Result};
use crate::extract::extract;
use crate::model::{FileSymbols, Language, UnknownReason};

/// Reads the content of a file of a snapshot.
pub trait BlobSource: Sync {
    /// The content of blob `id`, found at `path`.
    fn read(&self, path: &str, id: &ObjectId) -> Result<Vec<u8>>;
}

impl BlobSource for ObjectStore {
    fn read(&self, _path: &str, id: &ObjectId) -> Result<Vec<u8>> {
        Ok(ObjectStore::read(self, id)?.data)
    }
}

/// Blobs from the store, or from the working copy's files for content not stored yet (a commit
/// being made, `diff --semantic` of uncommitted changes). A file read from the working copy must
/// still hash to the id it was scanned with, or the read fails with
/// [`CodeError::FileChanged`].
pub struct WorkingCopySource<'a> {
    /// The store.
    pub store: &'a ObjectStore,
    /// The working copy's root directory.
    pub work_dir: &'a Path,
}

impl BlobSource for WorkingCopySource<'_> {
    fn read(&self, path: &str, id: &ObjectId) -> Result<Vec<u8>> {
        if self.store.contains(id)? {
            return Ok(self.store.read(id)?.data);
        }
        let full = self.work_dir.join(path);
        let bytes = std::fs::read(&full).map_err(|source| CodeError::Io { path: full.clone(), source })?;
        if blob_id(&bytes) != *id {
            return Err(CodeError::FileChanged { path: full, id: *id });
        }
        Ok(bytes)
    }
}

/// Extracts files' symbols, reading through a [`BlobSource`] and a [`SymbolCache`].
pub struct Extractor<'a> {
    source: &'a dyn BlobSource,
    cache: Option<SymbolCache>,
}

impl<'a> Extractor<'a> {
    /// An extractor reading from `source`, caching in `cache` when given.
    pub fn new(source: &'a dyn BlobSource, cache: Option<SymbolCache>) -> Extractor<'a> {
        Extractor { source, cache }
    }

    /// The symbols of the file at `path` in state `state` (`None`: absent).
    pub fn file(&self, path: &str, state: Option<(EntryKind, ObjectId)>) -> Result<Option<FileSymbols>> {
        let Some((kind, id)) = state else { return Ok(None) };
        if kind == EntryKind::Symlink {
            return Ok(Some(FileSymbols::Unknown { reason: UnknownReason::Symlink }));
        }
        let Some(language) = Language::of_path(path) else {
            return Ok(Some(FileSymbols::Unknown { reason: UnknownReason::UnknownLanguage }));
        };
        if let Some(hit) = self.cache.as_ref().and_then(|c| c.get(language, &id)) {
            return Ok(Some(hit));
        }
        let symbols = extract(language, &self.source.read(path, &id)?);
        if let Some(cache) = &self.cache {
            let _ = cache.put(language, &id, &symbols);
        }
        Ok(Some(symbols))
    }

    /// The semantic diff of `changes` (each file's two states, as `muse_store::snapshot`
    /// lists them); only these files are read, in parallel.
    pub fn diff(&self, changes: &[Change]) -> Result<SemanticDiff> {
        let sides: Vec<FileSides> = changes
            .par_iter()
            .map(|c| {
                Ok(FileSides { path: c.path.clone(), language: Language::of_path(&c.path), old: self.file(&c.path, c.old)?, new: self.file(&c.path, c.new)? })
            })
            .collect::<Result<_>>()?;
        Ok(diff_files(&sides))
    }
}

/// The semantic diff between two snapshots of a store (`None`: the empty snapshot), through the
/// store's symbol cache. Works on a bare store.
pub fn diff_snapshots_semantic(store: &Store, old: Option<TreeId>, new: Option<TreeId>) -> Result<SemanticDiff> {
    let changes = diff_snapshots(store.objects(), old, new)?;
    Extractor::new(store.objects(), Some(SymbolCache::in_store(store.store_dir()))).diff(&changes)
}
