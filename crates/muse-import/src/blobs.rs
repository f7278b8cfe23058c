//! Reading, verifying, hashing and compressing file contents on every core.
//!
//! Rayon workers each borrow a thread-local gix handle from a pool, read a blob, check its SHA-1,
//! compute its SHA-256 (the Muse blob id) and zstd-compress it. Results flow to the calling
//! thread through a bounded channel, so at most a few blobs per worker are in memory at once
//! whatever the size of the window; the calling thread appends them to the open pack.

use std::sync::mpsc;
use std::sync::Mutex;

use gix::ObjectId as GitId;
use muse_core::ObjectId;
use muse_store::odb::compress;
use muse_store::ObjectStore;
use rayon::prelude::*;

use crate::error::{ImportError, Result};

/// One blob, converted.
pub(crate) struct ConvertedBlob {
    /// The git blob id.
    pub git: GitId,
    /// The Muse blob id (SHA-256 of the bytes).
    pub id: ObjectId,
    /// The uncompressed size.
    pub size: u64,
    /// The zstd frame, or `None` when the store already holds the blob.
    pub payload: Option<Vec<u8>>,
}

/// Reads blobs of one git repository in parallel.
pub(crate) struct BlobReader {
    repo: gix::ThreadSafeRepository,
    pool: Mutex<Vec<gix::Repository>>,
}

/// A gix handle borrowed from the pool, returned to it on drop (so its caches survive).
struct Lease<'a> {
    repo: Option<gix::Repository>,
    pool: &'a Mutex<Vec<gix::Repository>>,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(repo) = self.repo.take() {
            self.pool.lock().unwrap_or_else(|e| e.into_inner()).push(repo);
        }
    }
}

impl BlobReader {
    /// A reader over `repo`.
    pub fn new(repo: gix::ThreadSafeRepository) -> Self {
        BlobReader { repo, pool: Mutex::new(Vec::new()) }
    }

    fn lease(&self) -> Lease<'_> {
        let pooled = self.pool.lock().unwrap_or_else(|e| e.into_inner()).pop();
        Lease { repo: Some(pooled.unwrap_or_else(|| self.repo.to_thread_local())), pool: &self.pool }
    }

    /// Converts every blob of `jobs` (git id, a commit needing it) and hands each result to
    /// `consume` on the calling thread, in no particular order. Stops at the first error.
    /// With `check_store`, blobs the store already holds are not compressed.
    pub fn convert(
        &self,
        jobs: &[(GitId, GitId)],
        store: &ObjectStore,
        check_store: bool,
        consume: &mut dyn FnMut(ConvertedBlob) -> Result<()>,
    ) -> Result<()> {
        let (tx, rx) = mpsc::sync_channel::<Result<ConvertedBlob>>(rayon::current_num_threads() * 2);
        std::thread::scope(|scope| {
            scope.spawn(move || {
                // An Err only means "stop": the error itself went through the channel.
                let _ = jobs.par_iter().try_for_each_init(
                    || (self.lease(), tx.clone()),
                    |(lease, tx), (git, commit)| {
                        let repo = lease.repo.as_ref().expect("a lease holds a handle until dropped");
                        let result = convert_one(repo, *git, *commit, store, check_store);
                        let failed = result.is_err();
                        if tx.send(result).is_err() || failed {
                            return Err(());
                        }
                        Ok(())
                    },
                );
            });
            for result in rx {
                result.and_then(&mut *consume)?;
            }
            Ok(())
        })
    }
}

fn convert_one(repo: &gix::Repository, git: GitId, commit: GitId, store: &ObjectStore, check_store: bool) -> Result<ConvertedBlob> {
    let object = repo.try_find_object(git).map_err(|e| ImportError::git(format!("read blob {git}"), e))?;
    let object = object.ok_or_else(|| ImportError::MissingObject { kind: "blob", id: git, needed_by: format!("a tree of commit {commit}") })?;
    crate::commit::verify(&object, "blob")?;
    let id = ObjectId::of(&object.data);
    let payload = if check_store && store.contains(&id)? { None } else { Some(compress(&object.data)) };
    Ok(ConvertedBlob { git, id, size: object.data.len() as u64, payload })
}
