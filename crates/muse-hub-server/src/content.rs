//! The content of hosted repositories: objects, received and served as mpacks.
//!
//! Handlers see only [`RepoContent`]; metadata and refs live in the hub's database
//! (`muse_hub::Hub`). The trait is shaped for more than one implementation:
//!
//! - [`FsContent`], today's: one bare Muse store per repository at `DATA/repos/<id>.muse`,
//!   written with `muse_pack::apply` (every hash and closure verified, PF-1..PF-4, all or nothing)
//!   and read with `muse_pack::build` (incremental, streamed). Identical objects in two
//!   repositories are stored twice: there is no cross-repository sharing yet.
//! - a later one can keep immutable packs in S3-compatible object storage (the `object_store`
//!   crate) shared by every repository, with per-repository reachability: nothing here needs a
//!   rename, an append or a directory listing of content; packs come in as one finished reader
//!   and go out as a stream.
//!
//! Every method is async; blocking store work runs on tokio's blocking pool.

use std::collections::HashMap;
use std::future::Future;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use muse_core::CommitId;
use muse_hub::RepoId;
use muse_pack::{ApplyLimits, ApplyOptions, BuildOptions, PackError, Rejected};
use muse_protocol::Written;
use muse_store::{ObjectKind, Store, StoreError};
use tokio::sync::mpsc;

/// A boxed future, for object-safe async traits.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A pack to apply, read from the start (blocking reads; it is read on the blocking pool).
pub type PackReader = Box<dyn Read + Send>;

/// Why a content operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    /// The pack was applied all or nothing and these records were rejected: nothing was written.
    #[error("{} record(s) of the pack were rejected; nothing was written", .0.len())]
    Rejected(Vec<Rejected>),
    /// The pack is malformed, truncated, over a budget or fails its checksum: nothing was
    /// written.
    #[error("{0}")]
    BadPack(String),
    /// The storage failed.
    #[error("{0}")]
    Storage(String),
}

/// The content of every hosted repository, by [`RepoId`].
pub trait RepoContent: Send + Sync + 'static {
    /// Prepares storage for a new, empty repository (idempotent).
    fn create(&self, repo: RepoId) -> BoxFuture<'_, Result<(), ContentError>>;

    /// Forgets a deleted repository's content (idempotent).
    fn delete(&self, repo: RepoId) -> BoxFuture<'_, Result<(), ContentError>>;

    /// For each id, whether the repository holds that commit, which by the store's closure rule
    /// means with its whole closure (snapshot trees, blobs, ancestors).
    fn has_commits(&self, repo: RepoId, ids: Vec<CommitId>) -> BoxFuture<'_, Result<Vec<bool>, ContentError>>;

    /// Verifies and stores every object of an mpack, all or nothing, durably before it returns.
    fn apply_pack(&self, repo: RepoId, pack: PackReader) -> BoxFuture<'_, Result<Written, ContentError>>;

    /// Streams an mpack of everything reachable from `wants` and not from the `haves` the
    /// repository holds, without its first `skip` bytes. Fails before the stream starts if the
    /// pack cannot be planned; a failure later ends the stream with an error.
    fn build_pack(&self, repo: RepoId, wants: Vec<CommitId>, haves: Vec<CommitId>, skip: u64) -> BoxFuture<'_, Result<PackStream, ContentError>>;

    /// A reader of the repository's objects and history, for the web pages; `None` when
    /// nothing was pushed to it yet.
    fn reader(&self, repo: RepoId) -> BoxFuture<'_, Result<Option<RepoReader>, ContentError>>;
}

/// Read access to one repository's commits, trees and blobs and its history index (which the
/// reader brings up to date with the tips it is given). Cheap to clone. Today's implementation
/// reads the repository's local store.
#[derive(Clone)]
pub struct RepoReader {
    store: Arc<Store>,
}

impl RepoReader {
    /// The store to read (blocking reads: call from the blocking pool).
    pub fn store(&self) -> &Store {
        &self.store
    }
}

/// One message from a pack builder to the response.
#[derive(Debug)]
enum Chunk {
    Data(Bytes),
    /// The pack is complete; its whole length (whatever was skipped).
    End(u64),
    Failed(String),
}

/// A pack being built: the body of a fetch response. Yields the bytes, then ends; a failure of
/// the builder is an error item (which aborts the HTTP response).
pub struct PackStream {
    first: Option<Bytes>,
    rx: mpsc::Receiver<Chunk>,
    on_end: Option<Box<dyn FnOnce(u64) + Send>>,
    done: bool,
}

impl PackStream {
    /// Calls `f` with the pack's whole length once the stream has delivered its last byte.
    pub fn on_end(mut self, f: impl FnOnce(u64) + Send + 'static) -> Self {
        self.on_end = Some(Box::new(f));
        self
    }

    /// Reads the stream to its end and returns the pack's whole length.
    pub async fn length(mut self) -> Result<u64, ContentError> {
        loop {
            match self.rx.recv().await {
                Some(Chunk::Data(_)) => {}
                Some(Chunk::End(total)) => return Ok(total),
                Some(Chunk::Failed(reason)) => return Err(ContentError::Storage(reason)),
                None => return Err(ContentError::Storage("the pack builder stopped".into())),
            }
        }
    }
}

impl Stream for PackStream {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(first) = self.first.take() {
            return Poll::Ready(Some(Ok(first)));
        }
        if self.done {
            return Poll::Ready(None);
        }
        match self.rx.poll_recv(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Chunk::Data(bytes))) => Poll::Ready(Some(Ok(bytes))),
            Poll::Ready(Some(Chunk::End(total))) => {
                self.done = true;
                if let Some(f) = self.on_end.take() {
                    f(total);
                }
                Poll::Ready(None)
            }
            Poll::Ready(Some(Chunk::Failed(reason))) => {
                self.done = true;
                Poll::Ready(Some(Err(io::Error::other(reason))))
            }
            Poll::Ready(None) => {
                self.done = true;
                Poll::Ready(Some(Err(io::Error::other("the pack builder stopped"))))
            }
        }
    }
}

/// Bytes the builder buffers before handing a chunk to the response.
const CHUNK_BYTES: usize = 64 << 10;
/// Chunks in flight between the builder and the response: with [`CHUNK_BYTES`], at most 1 MiB
/// per fetch.
const CHUNKS_IN_FLIGHT: usize = 16;

/// The writing end of a [`PackStream`], used on a blocking thread: skips the first `skip`
/// bytes, sends the rest in chunks, and fails if the reader (the client) stops taking them for
/// longer than `stall`.
struct ChunkWriter {
    tx: mpsc::Sender<Chunk>,
    runtime: tokio::runtime::Handle,
    buf: Vec<u8>,
    skip: u64,
    written: u64,
    stall: Duration,
}

impl ChunkWriter {
    fn send(&self, chunk: Chunk) -> io::Result<()> {
        match self.runtime.block_on(self.tx.send_timeout(chunk, self.stall)) {
            Ok(()) => Ok(()),
            Err(mpsc::error::SendTimeoutError::Timeout(_)) => Err(io::Error::new(io::ErrorKind::TimedOut, "the client stopped reading")),
            Err(mpsc::error::SendTimeoutError::Closed(_)) => Err(io::Error::new(io::ErrorKind::BrokenPipe, "the client went away")),
        }
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len();
        self.written += n as u64;
        let skipped = usize::try_from(self.skip.min(n as u64)).unwrap_or(n);
        self.skip -= skipped as u64;
        // Chunks of at most CHUNK_BYTES, whatever the size of one write (a record can be
        // gigabytes): the channel bounds the bytes in flight.
        let mut rest = &data[skipped..];
        while !rest.is_empty() {
            let take = (CHUNK_BYTES - self.buf.len()).min(rest.len());
            self.buf.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.buf.len() >= CHUNK_BYTES {
                self.flush()?;
            }
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK_BYTES)));
        self.send(Chunk::Data(chunk))
    }
}

/// [`RepoContent`] on the local filesystem: one bare Muse store per repository. Cheap to
/// clone (shared state behind an `Arc`).
#[derive(Clone)]
pub struct FsContent(Arc<FsInner>);

struct FsInner {
    root: PathBuf,
    limits: ApplyLimits,
    build: BuildOptions,
    stall: Duration,
    open: Mutex<HashMap<RepoId, Arc<Store>>>,
}

/// Open stores kept for reuse; past this many the cache starts over.
const OPEN_STORES: usize = 256;

impl FsContent {
    /// Content under `root` (`DATA/repos`), created if missing. `stall` is how long a fetch
    /// waits for a client that stopped reading before giving up on it.
    pub fn new(root: &Path, stall: Duration) -> io::Result<FsContent> {
        std::fs::create_dir_all(root)?;
        let inner =
            FsInner { root: root.to_path_buf(), limits: ApplyLimits::default(), build: BuildOptions::default(), stall, open: Mutex::new(HashMap::new()) };
        Ok(FsContent(Arc::new(inner)))
    }

    /// The store directory of a repository.
    pub fn store_dir(&self, repo: RepoId) -> PathBuf {
        self.0.store_dir(repo)
    }
}

impl FsInner {
    fn store_dir(&self, repo: RepoId) -> PathBuf {
        self.root.join(format!("{}.muse", repo.0))
    }

    /// The repository's store, created if `create` and missing; `None` if missing otherwise (a
    /// repository nothing was pushed to yet).
    fn store(&self, repo: RepoId, create: bool) -> Result<Option<Arc<Store>>, ContentError> {
        if let Some(store) = self.open.lock().unwrap_or_else(|e| e.into_inner()).get(&repo) {
            return Ok(Some(Arc::clone(store)));
        }
        let dir = self.store_dir(repo);
        let store = match Store::open(&dir) {
            Ok(store) => store,
            Err(StoreError::NotARepository(_)) if create => match Store::init_bare(&dir, "main") {
                Ok(store) => store,
                // Another request created it meanwhile.
                Err(StoreError::AlreadyExists(_)) => Store::open(&dir).map_err(storage)?,
                Err(e) => return Err(storage(e)),
            },
            Err(StoreError::NotARepository(_)) => return Ok(None),
            Err(e) => return Err(storage(e)),
        };
        let store = Arc::new(store);
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if open.len() >= OPEN_STORES {
            open.clear();
        }
        open.insert(repo, Arc::clone(&store));
        Ok(Some(store))
    }
}

fn storage(error: impl std::fmt::Display) -> ContentError {
    ContentError::Storage(error.to_string())
}

/// Runs blocking store work on the blocking pool.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, ContentError> + Send + 'static) -> Result<T, ContentError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ContentError::Storage(format!("a store worker failed: {e}")))?
}

impl RepoContent for FsContent {
    fn reader(&self, repo: RepoId) -> BoxFuture<'_, Result<Option<RepoReader>, ContentError>> {
        let this = Arc::clone(&self.0);
        Box::pin(blocking(move || Ok(this.store(repo, false)?.map(|store| RepoReader { store }))))
    }

    fn create(&self, repo: RepoId) -> BoxFuture<'_, Result<(), ContentError>> {
        let this = Arc::clone(&self.0);
        Box::pin(blocking(move || this.store(repo, true).map(drop)))
    }

    fn delete(&self, repo: RepoId) -> BoxFuture<'_, Result<(), ContentError>> {
        let this = Arc::clone(&self.0);
        Box::pin(blocking(move || {
            this.open.lock().unwrap_or_else(|e| e.into_inner()).remove(&repo);
            let dir = this.store_dir(repo);
            // Out of sight first (one rename), then removed: a crash leaves a `.deleted-` directory, never half a store.
            let doomed = this.root.join(format!(".deleted-{}-{}", repo.0, std::process::id()));
            match std::fs::rename(&dir, &doomed) {
                Ok(()) => std::fs::remove_dir_all(&doomed).map_err(storage),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(storage(e)),
            }
        }))
    }

    fn has_commits(&self, repo: RepoId, ids: Vec<CommitId>) -> BoxFuture<'_, Result<Vec<bool>, ContentError>> {
        let this = Arc::clone(&self.0);
        Box::pin(blocking(move || {
            let Some(store) = this.store(repo, false)? else { return Ok(vec![false; ids.len()]) };
            ids.iter().map(|id| store.objects().contains_kind(&id.0, ObjectKind::Commit).map_err(storage)).collect()
        }))
    }

    fn apply_pack(&self, repo: RepoId, pack: PackReader) -> BoxFuture<'_, Result<Written, ContentError>> {
        let this = Arc::clone(&self.0);
        Box::pin(blocking(move || {
            let store = this.store(repo, true)?.ok_or_else(|| ContentError::Storage(format!("no store for repository #{repo}")))?;
            let options = ApplyOptions { limits: this.limits, all_or_nothing: true, ..ApplyOptions::default() };
            match muse_pack::apply(store.objects(), io::BufReader::with_capacity(256 << 10, pack), options) {
                Ok(report) => Ok(Written { commits: report.commits_written, trees: report.snapshots_written, blobs: report.blobs_written }),
                Err(PackError::Rejected(rejected)) => Err(ContentError::Rejected(rejected)),
                Err(e) if e.kind() == muse_store::ErrorKind::InvalidInput => Err(ContentError::BadPack(e.to_string())),
                Err(e) => Err(storage(e)),
            }
        }))
    }

    fn build_pack(&self, repo: RepoId, wants: Vec<CommitId>, haves: Vec<CommitId>, skip: u64) -> BoxFuture<'_, Result<PackStream, ContentError>> {
        let this = Arc::clone(&self.0);
        Box::pin(async move {
            let (tx, mut rx) = mpsc::channel(CHUNKS_IN_FLIGHT);
            let runtime = tokio::runtime::Handle::current();
            tokio::task::spawn_blocking(move || {
                let mut writer = ChunkWriter { tx: tx.clone(), runtime, buf: Vec::with_capacity(CHUNK_BYTES), skip, written: 0, stall: this.stall };
                let result = match this.store(repo, false) {
                    Ok(Some(store)) => muse_pack::build(store.objects(), &wants, &haves, &mut writer, &this.build).map_err(|e| e.to_string()),
                    Ok(None) => Err(format!("repository #{repo} has no content")),
                    Err(e) => Err(e.to_string()),
                };
                let last = match result.and_then(|_| writer.flush().map_err(|e| e.to_string())) {
                    Ok(()) => Chunk::End(writer.written),
                    Err(reason) => Chunk::Failed(reason),
                };
                // The client may be gone: nothing to tell it then.
                let _ = writer.send(last);
            });
            // Planning happens before the first byte: its failure is still an error response.
            let first = match rx.recv().await {
                Some(Chunk::Data(bytes)) => Some(bytes),
                Some(Chunk::End(total)) => {
                    // Everything was skipped (or fit in no chunk): an empty body.
                    let (tx, rx) = mpsc::channel(1);
                    let _ = tx.try_send(Chunk::End(total));
                    return Ok(PackStream { first: None, rx, on_end: None, done: false });
                }
                Some(Chunk::Failed(reason)) => return Err(ContentError::Storage(reason)),
                None => return Err(ContentError::Storage("the pack builder stopped".into())),
            };
            Ok(PackStream { first, rx, on_end: None, done: false })
        })
    }
}
