//! The content of hosted repositories: objects, received and served as mpacks.
//!
//! Handlers see only [`RepoContent`]; metadata and refs live in the hub's database
//! (`muse_hub::Hub`). The trait is shaped for more than one implementation:
//!
//! - [`FsContent`], today's: one bare Muse store per repository at `DATA/repos/<id>.muse`,
//!   written with `muse_pack::apply` (every hash and closure verified, PF-1..PF-4, all or nothing)
//!   and read with `muse_pack::build` (incremental, streamed; stored entries are copied as they
//!   are). Identical objects in two repositories are stored twice: there is no cross-repository
//!   sharing yet. The pack of a full clone (no haves) is built once per repository and wants,
//!   kept as an immutable file (`DATA/repos/.clone-packs/<id>/<key>.mpack`, published whole)
//!   and served to every clone of that state; at most [`BuildLimits::builds`] packs are built at
//!   once (a fetch over the cap waits, then gets [`ContentError::Busy`]).
//! - a later one can keep immutable packs in S3-compatible object storage (the `object_store`
//!   crate) shared by every repository, with per-repository reachability: nothing here needs a
//!   rename, an append or a directory listing of content; packs come in as one finished reader
//!   and go out as a stream.
//!
//! Every method is async; blocking store work runs on tokio's blocking pool.

use std::collections::HashMap;
use std::fs::File;
use std::future::Future;
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
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
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, OnceCell, OwnedSemaphorePermit, Semaphore};

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
    /// As many packs are being built as the server allows, and this one waited its longest:
    /// nothing was done; retry after this many seconds.
    #[error("the server is building as many packs as it allows; retry in {0} s")]
    Busy(u64),
}

/// A receiver's check of each commit of a pack (see [`RepoContent::apply_pack`]): the hub's
/// signature policy. Runs on a blocking thread.
pub type PackCommitCheck = Arc<dyn Fn(&CommitId, &muse_core::Commit) -> Result<(), String> + Send + Sync>;

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
    /// `check`, when given, runs on every received commit before anything is written; a commit
    /// it refuses is rejected like an invalid record (so nothing of the pack is kept).
    fn apply_pack(&self, repo: RepoId, pack: PackReader, check: Option<PackCommitCheck>) -> BoxFuture<'_, Result<Written, ContentError>>;

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
    /// One permit per pack build allowed at once.
    builds: Arc<Semaphore>,
    build_limits: BuildLimits,
    /// Fetches waiting for a permit.
    waiting: AtomicUsize,
    /// Full-clone packs being built, by cache key: the first fetch builds, the others wait for
    /// it (the cell holds the pack's length once its file is published).
    clones: Mutex<HashMap<String, Arc<OnceCell<u64>>>>,
    /// Numbers temporary files apart.
    temp: AtomicU64,
}

/// How many packs a hub builds at once, and what a fetch over that number does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildLimits {
    /// Pack builds at once (each holds about 20 MiB while it runs).
    pub builds: usize,
    /// Fetches that may wait for a build slot; one more is answered [`ContentError::Busy`] at
    /// once.
    pub queue: usize,
    /// How long a fetch waits for a build slot before it is answered [`ContentError::Busy`].
    pub wait: Duration,
}

impl Default for BuildLimits {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        BuildLimits { builds: cores.max(2), queue: 64, wait: Duration::from_secs(30) }
    }
}

/// Open stores kept for reuse; past this many the cache starts over.
const OPEN_STORES: usize = 256;
/// Full-clone packs kept per repository (the newest; older ones are removed when a new one is
/// published).
const CLONE_PACKS_KEPT: usize = 2;
/// The `Retry-After` of a [`ContentError::Busy`], in seconds.
const BUSY_RETRY_SECS: u64 = 2;

impl FsContent {
    /// Content under `root` (`DATA/repos`), created if missing. `stall` is how long a fetch
    /// waits for a client that stopped reading before giving up on it.
    pub fn new(root: &Path, stall: Duration) -> io::Result<FsContent> {
        FsContent::with_build_limits(root, stall, BuildLimits::default())
    }

    /// Like [`FsContent::new`], with `limits` on concurrent pack builds.
    pub fn with_build_limits(root: &Path, stall: Duration, limits: BuildLimits) -> io::Result<FsContent> {
        std::fs::create_dir_all(root)?;
        let inner = FsInner {
            root: root.to_path_buf(),
            limits: ApplyLimits::default(),
            build: BuildOptions::default(),
            stall,
            open: Mutex::new(HashMap::new()),
            builds: Arc::new(Semaphore::new(limits.builds.max(1))),
            build_limits: limits,
            waiting: AtomicUsize::new(0),
            clones: Mutex::new(HashMap::new()),
            temp: AtomicU64::new(0),
        };
        Ok(FsContent(Arc::new(inner)))
    }

    /// The store directory of a repository.
    pub fn store_dir(&self, repo: RepoId) -> PathBuf {
        self.0.store_dir(repo)
    }
}

/// Takes one off the count of waiting fetches when dropped (also when the waiting fetch is
/// cancelled because its client went away).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl FsInner {
    fn store_dir(&self, repo: RepoId) -> PathBuf {
        self.root.join(format!("{}.muse", repo.0))
    }

    /// Where a repository's full-clone packs are kept.
    fn clone_packs_dir(&self, repo: RepoId) -> PathBuf {
        self.root.join(".clone-packs").join(repo.0.to_string())
    }

    /// A slot to build a pack in: at once if one is free, else after waiting at most
    /// [`BuildLimits::wait`] behind at most [`BuildLimits::queue`] others; otherwise
    /// [`ContentError::Busy`].
    async fn build_slot(&self) -> Result<OwnedSemaphorePermit, ContentError> {
        if let Ok(permit) = Arc::clone(&self.builds).try_acquire_owned() {
            return Ok(permit);
        }
        let _waiting = Waiting(&self.waiting);
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.build_limits.queue {
            return Err(ContentError::Busy(BUSY_RETRY_SECS));
        }
        match tokio::time::timeout(self.build_limits.wait, Arc::clone(&self.builds).acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(ContentError::Busy(BUSY_RETRY_SECS)),
        }
    }

    /// The file of the full-clone pack of `wants` (building and publishing it first if no
    /// other fetch did) and its length. Concurrent fetches of one state share one build.
    async fn clone_pack(self: &Arc<Self>, repo: RepoId, wants: Vec<CommitId>) -> Result<(PathBuf, u64), ContentError> {
        let mut hasher = Sha256::new();
        hasher.update(b"muse clone pack 1\0");
        hasher.update(repo.0.to_be_bytes());
        for want in &wants {
            hasher.update(want.0.as_bytes());
        }
        let key = hex::encode(hasher.finalize());
        let path = self.clone_packs_dir(repo).join(format!("{key}.mpack"));
        let cell = Arc::clone(self.clones.lock().unwrap_or_else(|e| e.into_inner()).entry(key.clone()).or_default());
        let result = cell
            .get_or_try_init(|| async {
                if let Ok(meta) = tokio::fs::metadata(&path).await {
                    return Ok(meta.len());
                }
                let permit = self.build_slot().await?;
                let this = Arc::clone(self);
                let target = path.clone();
                blocking(move || {
                    let _permit = permit;
                    this.publish_clone_pack(repo, &wants, &target)
                })
                .await
            })
            .await
            .copied();
        // Once published (or failed), later fetches find the file (or try again) themselves.
        self.clones.lock().unwrap_or_else(|e| e.into_inner()).remove(&key);
        Ok((path, result?))
    }

    /// Builds the pack into a temporary file and publishes it whole at `target` (on object
    /// storage: one put of a finished object); removes the repository's older clone packs.
    fn publish_clone_pack(&self, repo: RepoId, wants: &[CommitId], target: &Path) -> Result<u64, ContentError> {
        let store = self.store(repo, false)?.ok_or_else(|| ContentError::Storage(format!("repository #{repo} has no content")))?;
        let dir = target.parent().ok_or_else(|| ContentError::Storage("no directory for clone packs".into()))?;
        std::fs::create_dir_all(dir).map_err(storage)?;
        let temp = dir.join(format!(".tmp-{}-{}", std::process::id(), self.temp.fetch_add(1, Ordering::Relaxed)));
        let written = (|| {
            let file = File::create(&temp).map_err(storage)?;
            let mut out = io::BufWriter::with_capacity(1 << 20, file);
            muse_pack::build(store.objects(), wants, &[], &mut out, &self.build).map_err(storage)?;
            let file = out.into_inner().map_err(|e| storage(e.into_error()))?;
            file.sync_all().map_err(storage)?;
            let length = file.metadata().map_err(storage)?.len();
            std::fs::rename(&temp, target).map_err(storage)?;
            Ok(length)
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        let length = written?;
        // Older packs of the repository: the newest are kept, the rest removed (a fetch still
        // reading one keeps its open file).
        if let Ok(entries) = std::fs::read_dir(dir) {
            let mut packs: Vec<(std::time::SystemTime, PathBuf)> = entries
                .flatten()
                .filter(|e| e.path() != target && e.path().extension().is_some_and(|x| x == "mpack"))
                .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
                .collect();
            packs.sort();
            let excess = packs.len().saturating_sub(CLONE_PACKS_KEPT - 1);
            for (_, old) in packs.into_iter().take(excess) {
                let _ = std::fs::remove_file(old);
            }
        }
        Ok(length)
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

/// Copies a published pack file of `length` bytes to `writer` (which skips what the fetch
/// resumes past).
fn copy_file(mut file: File, length: u64, writer: &mut ChunkWriter) -> Result<(), String> {
    // Whole chunks skipped by seeking, not read.
    let skip = writer.skip.min(length);
    file.seek(io::SeekFrom::Start(skip)).map_err(|e| e.to_string())?;
    writer.skip -= skip;
    writer.written += skip;
    let mut buf = vec![0u8; CHUNK_BYTES];
    let mut left = length - skip;
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = file.read(&mut buf[..want]).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the published pack is shorter than it was".into());
        }
        writer.write_all(&buf[..n]).map_err(|e| e.to_string())?;
        left -= n as u64;
    }
    Ok(())
}

/// Runs `produce` on the blocking pool, writing a pack through a [`ChunkWriter`] that skips its
/// first `skip` bytes, and answers once the first chunk (or the end, or a failure) is there: a
/// failure before the first byte is still an error response.
async fn spawn_writer(
    stall: Duration,
    skip: u64,
    produce: impl FnOnce(&mut ChunkWriter) -> Result<(), String> + Send + 'static,
) -> Result<PackStream, ContentError> {
    let (tx, mut rx) = mpsc::channel(CHUNKS_IN_FLIGHT);
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let mut writer = ChunkWriter { tx, runtime, buf: Vec::with_capacity(CHUNK_BYTES), skip, written: 0, stall };
        let last = match produce(&mut writer).and_then(|()| writer.flush().map_err(|e| e.to_string())) {
            Ok(()) => Chunk::End(writer.written),
            Err(reason) => Chunk::Failed(reason),
        };
        // The client may be gone: nothing to tell it then.
        let _ = writer.send(last);
    });
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
            match std::fs::remove_dir_all(this.clone_packs_dir(repo)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(storage(e)),
                _ => {}
            }
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

    fn apply_pack(&self, repo: RepoId, pack: PackReader, check: Option<PackCommitCheck>) -> BoxFuture<'_, Result<Written, ContentError>> {
        let this = Arc::clone(&self.0);
        Box::pin(blocking(move || {
            let store = this.store(repo, true)?.ok_or_else(|| ContentError::Storage(format!("no store for repository #{repo}")))?;
            let commit_check = check.as_deref().map(|f| f as muse_pack::CommitCheck<'_>);
            let options = ApplyOptions { limits: this.limits, all_or_nothing: true, commit_check, ..ApplyOptions::default() };
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
            let stall = this.stall;
            if haves.is_empty() {
                // A full clone: served from the one pack of this state. A newer state's pack
                // may remove it between publication and opening: then it is published again.
                let mut attempts = 0;
                let (file, length) = loop {
                    let (path, length) = this.clone_pack(repo, wants.clone()).await?;
                    match File::open(&path) {
                        Ok(file) => break (file, length),
                        Err(e) if e.kind() == io::ErrorKind::NotFound && attempts < 2 => attempts += 1,
                        Err(e) => return Err(storage(e)),
                    }
                };
                return spawn_writer(stall, skip, move |writer| copy_file(file, length, writer)).await;
            }
            let permit = this.build_slot().await?;
            spawn_writer(stall, skip, move |writer| {
                let _permit = permit;
                match this.store(repo, false) {
                    Ok(Some(store)) => muse_pack::build(store.objects(), &wants, &haves, writer, &this.build).map(drop).map_err(|e| e.to_string()),
                    Ok(None) => Err(format!("repository #{repo} has no content")),
                    Err(e) => Err(e.to_string()),
                }
            })
            .await
        })
    }
}
