//! Reading, verifying, hashing and compressing file contents on every core.
//!
//! Work comes as chains: the new versions of one path in one window, in history order. A rayon
//! worker takes a whole chain, with a thread-local gix handle borrowed from a pool: it reads each
//! blob, checks its SHA-1, computes its SHA-256 (the Muse blob id) and zstd-compresses it with the
//! previous version as a prefix (the store's `ZstdDelta` encoding), so a file edited a hundred
//! times is stored about once plus its edits. Results flow to the calling thread through a
//! bounded channel, in chain order, so at most a few blobs per worker are in memory at once.
//!
//! Delta chains are capped at [`MAX_DELTA_DEPTH`]. A worker only proposes a depth; the calling
//! thread accepts a delta only if the base's actual depth in the store is known from this run
//! and is one less, and otherwise stores the blob whole. So no chain outgrows the cap, whatever
//! was in the store before or was forgotten by the memo.

use std::sync::mpsc;
use std::sync::Mutex;

use gix::ObjectId as GitId;
use muse_core::ObjectId;
use muse_store::odb::{compress, COMPRESSION_LEVEL, STREAM_THRESHOLD};
use muse_store::{ObjectKind, ObjectStore};
use rayon::prelude::*;

use crate::error::{ImportError, Result};

/// The longest delta chain written: reading a blob decompresses at most this many bases.
pub(crate) const MAX_DELTA_DEPTH: u8 = 10;
/// The depth recorded for a blob this run did not write (so it never serves as a base).
pub(crate) const UNKNOWN_DEPTH: u8 = u8::MAX;

/// A converted blob: its Muse id and its delta depth in the store (0: stored whole).
pub(crate) type Converted = (ObjectId, u8);

/// An earlier version of a path, the delta base of a chain's first version.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChainBase {
    /// Its git id.
    pub git: GitId,
    /// Its Muse id.
    pub muse: ObjectId,
    /// Its delta depth in the store.
    pub depth: u8,
}

/// The new versions of one path, in history order.
#[derive(Debug, Default)]
pub(crate) struct Chain {
    /// The version before the first, if known.
    pub base: Option<ChainBase>,
    /// (git blob id, a commit needing it) for each version.
    pub versions: Vec<(GitId, GitId)>,
}

/// One blob, converted.
pub(crate) struct ConvertedBlob {
    /// The git blob id.
    pub git: GitId,
    /// A commit needing it (for error messages).
    pub commit: GitId,
    /// The Muse blob id (SHA-256 of the bytes).
    pub id: ObjectId,
    /// The uncompressed size.
    pub size: u64,
    /// The compressed bytes, or `None` when the store already holds the blob.
    pub payload: Option<Vec<u8>>,
    /// The (git, Muse) ids of the base the payload is a delta against, and the proposed depth.
    pub delta: Option<(GitId, ObjectId, u8)>,
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

/// The previous version of a chain, as a worker holds it.
struct Previous {
    git: GitId,
    id: ObjectId,
    depth: u8,
    data: Vec<u8>,
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

    /// Converts every blob of `chains` and hands each result to `consume` on the calling
    /// thread, each chain's versions in order. Stops at the first error. With `check_store`,
    /// blobs the store already holds are not compressed.
    pub fn convert(&self, chains: &[Chain], store: &ObjectStore, check_store: bool, consume: &mut dyn FnMut(ConvertedBlob) -> Result<()>) -> Result<()> {
        let (tx, rx) = mpsc::sync_channel::<Result<ConvertedBlob>>(rayon::current_num_threads() * 2);
        std::thread::scope(|scope| {
            scope.spawn(move || {
                // An Err only means "stop": the error itself went through the channel.
                let _ = chains.par_iter().try_for_each_init(
                    || (self.lease(), tx.clone()),
                    |(lease, tx), chain| {
                        let repo = lease.repo.as_ref().expect("a lease holds a handle until dropped");
                        convert_chain(repo, chain, store, check_store, &mut |result| {
                            let failed = result.is_err();
                            if tx.send(result).is_err() || failed {
                                return Err(());
                            }
                            Ok(())
                        })
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

/// Reads and checks one git blob.
pub(crate) fn read_blob(repo: &gix::Repository, git: GitId, commit: GitId) -> Result<Vec<u8>> {
    let object = repo.try_find_object(git).map_err(|e| ImportError::git(format!("read blob {git}"), e))?;
    let object = object.ok_or_else(|| ImportError::MissingObject { kind: "blob", id: git, needed_by: format!("a tree of commit {commit}") })?;
    crate::commit::verify(&object, "blob")?;
    Ok(object.detach().data)
}

fn convert_chain(
    repo: &gix::Repository,
    chain: &Chain,
    store: &ObjectStore,
    check_store: bool,
    send: &mut dyn FnMut(Result<ConvertedBlob>) -> std::result::Result<(), ()>,
) -> std::result::Result<(), ()> {
    let mut previous = match chain.base {
        Some(base) => match chain.versions.first().map(|(_, commit)| read_blob(repo, base.git, *commit)) {
            Some(Ok(data)) => Some(Previous { git: base.git, id: base.muse, depth: base.depth, data }),
            Some(Err(e)) => return send(Err(e)),
            None => None,
        },
        None => None,
    };
    for &(git, commit) in &chain.versions {
        let data = match read_blob(repo, git, commit) {
            Ok(data) => data,
            Err(e) => return send(Err(e)),
        };
        let id = muse_core::blob_id(&data);
        let stored = match check_store.then(|| store.contains_kind(&id, ObjectKind::Blob)) {
            Some(Ok(found)) => found,
            Some(Err(e)) => return send(Err(e.into())),
            None => false,
        };
        let size = data.len() as u64;
        if stored {
            // Its depth in the store is unknown, so it cannot be a base.
            previous = None;
            send(Ok(ConvertedBlob { git, commit, id, size, payload: None, delta: None }))?;
            continue;
        }
        let delta = previous.as_ref().filter(|p| p.depth < MAX_DELTA_DEPTH && size < STREAM_THRESHOLD && (p.data.len() as u64) < STREAM_THRESHOLD);
        let (payload, delta, depth) = match delta.and_then(|p| compress_delta(&data, &p.data).map(|payload| (payload, p))) {
            Some((payload, p)) => (payload, Some((p.git, p.id, p.depth + 1)), p.depth + 1),
            None => (compress(&data), None, 0),
        };
        send(Ok(ConvertedBlob { git, commit, id, size, payload: Some(payload), delta }))?;
        previous = Some(Previous { git, id, depth, data });
    }
    Ok(())
}

/// Compresses `data` into one zstd frame with `base` as a raw-content prefix (the store's
/// `ZstdDelta` encoding), or `None` if zstd fails.
pub(crate) fn compress_delta(data: &[u8], base: &[u8]) -> Option<Vec<u8>> {
    use zstd::zstd_safe::{compress_bound, CCtx, CParameter};
    let mut cctx = CCtx::create();
    cctx.set_parameter(CParameter::CompressionLevel(COMPRESSION_LEVEL)).ok()?;
    cctx.ref_prefix(base).ok()?;
    let mut out = Vec::with_capacity(compress_bound(data.len()));
    cctx.compress2(&mut out, data).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_are_small_and_decode_against_their_base() {
        let base: Vec<u8> = (0..20_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let mut edited = base.clone();
        edited[4000] ^= 0xff;
        let delta = compress_delta(&edited, &base).unwrap();
        assert!(delta.len() < 200, "delta of a one-byte edit is {} bytes", delta.len());
        let mut decoder = zstd::stream::read::Decoder::with_ref_prefix(&delta[..], &base).unwrap();
        let mut back = Vec::new();
        std::io::Read::read_to_end(&mut decoder, &mut back).unwrap();
        assert_eq!(back, edited);
    }
}
