//! The object database: content-addressed objects in pack files, written atomically.
//!
//! Every write goes through a [`PackWriter`]: objects are appended to a temporary pack, and
//! [`PackWriter::finish`] makes the pack and its index durable (fsync) and visible (rename, index
//! last) in one step. A reader therefore sees all of a pack's objects or none of them; this is how
//! the store keeps its integrity rule (a commit is visible only once its closure is durable).

#[cfg(test)]
mod format_tests;
mod pack;
mod raw;

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use muse_core::{BlobHasher, Commit, CommitId, IdPrefix, ObjectId, Tree, TreeId};

use crate::error::{IoContext, Result, StoreError};
use crate::fsutil::{create_temp, sync_dir};
use pack::{encode_entry_header, encode_index, Base, Pack, StoredBase, PACK_HEADER_LEN, PACK_MAGIC, PACK_VERSION, ZSTD_MAGIC};
pub use pack::{Encoding, ObjectKind};
pub use raw::{RawEntry, RawInfo};

/// The zstd level used for objects written by commits and imports.
pub const COMPRESSION_LEVEL: i32 = 3;
/// Files above this size are compressed as a stream through a spill file instead of in memory.
pub const STREAM_THRESHOLD: u64 = 16 << 20;
/// The most delta bases a reader follows to decode one object before declaring the store
/// corrupted (`docs/formats.md` §6).
pub const MAX_DELTA_DEPTH: usize = 64;
/// Consolidate packs when a store holds more than this many.
const CONSOLIDATE_ABOVE: usize = 48;

/// An object read from the store: its kind and its verified bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// What the bytes encode.
    pub kind: ObjectKind,
    /// The stored bytes: a blob's content, a tree's encoding, a commit's encoding (with its
    /// signature field, if signed). `kind.id_of(&data)` is the object's id.
    pub data: Vec<u8>,
}

/// The objects of a store, as listed by [`ObjectStore::list_objects`].
#[derive(Debug, Clone, Default)]
pub struct ObjectListing {
    /// Readable entries: id and kind.
    pub objects: Vec<(ObjectId, ObjectKind)>,
    /// Entries whose header cannot be read, with the reason.
    pub damaged: Vec<(ObjectId, String)>,
}

/// The store's repack lock (see [`ObjectStore::repack_lock`]); released when dropped.
pub struct RepackLock {
    _file: File,
}

/// Summary of one pack, for `fsck` and `gc`.
#[derive(Debug, Clone)]
pub struct PackInfo {
    /// The pack file.
    pub path: PathBuf,
    /// Objects it holds.
    pub objects: usize,
    /// Its size in bytes.
    pub bytes: u64,
    /// When it was written (packs are immutable) or last freshened (see
    /// [`PackWriter::needs`]): the age `gc` judges its unreachable objects by.
    pub modified: std::time::SystemTime,
}

/// The objects of one store (`.muse/objects`): a set of packs, re-scanned when an id is missing.
pub struct ObjectStore {
    packs_dir: PathBuf,
    tmp_dir: PathBuf,
    packs: RwLock<Vec<Arc<Pack>>>,
    /// The pack directory's mtime at the last scan that found it settled.
    scanned_mtime: Mutex<Option<std::time::SystemTime>>,
}

impl ObjectStore {
    /// Opens the object directory `dir` (which holds `packs/`). Writes nothing: `tmp/` is
    /// created by the first write that needs it.
    pub fn open(dir: &Path) -> Result<Self> {
        let packs_dir = dir.join("packs");
        let tmp_dir = dir.join("tmp");
        let store = ObjectStore { packs_dir, tmp_dir, packs: RwLock::new(Vec::new()), scanned_mtime: Mutex::new(None) };
        store.rescan()?;
        Ok(store)
    }

    /// Creates the object directory `dir` (`packs/` and `tmp/`) if needed, then opens it.
    pub fn create(dir: &Path) -> Result<Self> {
        for sub in ["packs", "tmp"] {
            fs::create_dir_all(dir.join(sub)).ctx("create", &dir.join(sub))?;
        }
        ObjectStore::open(dir)
    }

    /// The directory where temporary files of in-progress writes live (it may not exist yet;
    /// see [`ObjectStore::writable_tmp_dir`]).
    pub fn tmp_dir(&self) -> &Path {
        &self.tmp_dir
    }

    /// Creates a new temporary file `STEM-…` in [`ObjectStore::tmp_dir`], open for reading and
    /// writing, and locked (`flock`, exclusive) for as long as the returned handle is open, so
    /// that `gc` leaves it alone while its writer lives (see `docs/formats.md` §5). The caller
    /// removes it when done.
    pub fn create_temp_file(&self, stem: &str) -> Result<(PathBuf, File)> {
        create_temp(self.writable_tmp_dir()?, "", stem, "").ctx("create", &self.tmp_dir)
    }

    /// The temporary directory, created if it is missing: for writers only.
    pub fn writable_tmp_dir(&self) -> Result<&Path> {
        fs::create_dir_all(&self.tmp_dir).ctx("create", &self.tmp_dir)?;
        Ok(&self.tmp_dir)
    }

    /// Loads packs that appeared since the last scan and forgets packs that were removed.
    pub fn rescan(&self) -> Result<()> {
        // A pack that vanished was merged by a concurrent consolidation or gc, which publishes
        // the merged pack before removing the others: listing again finds it.
        for _ in 0..10 {
            if self.scan_once()? {
                return Ok(());
            }
        }
        Ok(())
    }

    /// One scan of the pack directory; `false` if a pack vanished (removed since the last scan,
    /// or listed but gone when opened).
    fn scan_once(&self) -> Result<bool> {
        let mut complete = true;
        let mut found = Vec::new();
        for entry in fs::read_dir(&self.packs_dir).ctx("list", &self.packs_dir)? {
            let path = entry.ctx("list", &self.packs_dir)?.path();
            if path.extension().is_some_and(|e| e == "idx") {
                found.push(path);
            }
        }
        found.sort();
        let mut packs = self.packs.write().unwrap_or_else(|e| e.into_inner());
        let held = packs.len();
        packs.retain(|p| found.binary_search(&p.index_path).is_ok());
        // A pack removed meanwhile may have been merged into one this listing missed (a
        // directory listing is not atomic): list again.
        complete &= packs.len() == held;
        for path in found {
            if packs.iter().any(|p| p.index_path == path) {
                continue;
            }
            match Pack::open(&path) {
                Ok(pack) => packs.push(Arc::new(pack)),
                // Removed by a concurrent consolidation between listing and opening.
                Err(StoreError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => complete = false,
                Err(e) => return Err(e),
            }
        }
        // Biggest packs first: they hold most objects, so most lookups end at the first probe.
        packs.sort_by_key(|p| std::cmp::Reverse(p.len()));
        Ok(complete)
    }

    fn snapshot_packs(&self) -> Vec<Arc<Pack>> {
        self.packs.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn locate_loaded(&self, id: &ObjectId) -> Option<(Arc<Pack>, u64)> {
        let packs = self.packs.read().unwrap_or_else(|e| e.into_inner());
        packs.iter().find_map(|p| p.find(id).map(|off| (Arc::clone(p), off)))
    }

    fn locate(&self, id: &ObjectId) -> Result<Option<(Arc<Pack>, u64)>> {
        if let Some(found) = self.locate_loaded(id) {
            return Ok(Some(found));
        }
        if self.rescan_if_changed()? {
            return Ok(self.locate_loaded(id));
        }
        Ok(None)
    }

    /// Rescans the pack directory unless it provably did not change since the last scan (same
    /// mtime, and that mtime is old enough that the coarse file clock cannot hide a later
    /// change). Returns whether it rescanned. This keeps a storm of misses (checking which of
    /// 100,000 new objects exist) from listing the directory 100,000 times.
    fn rescan_if_changed(&self) -> Result<bool> {
        let meta = fs::metadata(&self.packs_dir).ctx("stat", &self.packs_dir)?;
        let mtime = meta.modified().ok();
        let settled = mtime.and_then(|t| t.elapsed().ok()).is_some_and(|age| age > std::time::Duration::from_secs(2));
        let mut last = self.scanned_mtime.lock().unwrap_or_else(|e| e.into_inner());
        if settled && *last == mtime {
            return Ok(false);
        }
        self.rescan()?;
        *last = mtime;
        Ok(true)
    }

    /// Whether the store holds `id`, of whatever kind. Callers that know the kind they need use
    /// [`ObjectStore::contains_kind`].
    pub fn contains(&self, id: &ObjectId) -> Result<bool> {
        Ok(self.locate(id)?.is_some())
    }

    /// Whether the store holds `id` as an object of `kind`. An id held under another kind is
    /// not treated as present: it is an error ([`StoreError::WrongKind`]), since under the kind
    /// rule two kinds cannot share an id and such an entry means a damaged store.
    pub fn contains_kind(&self, id: &ObjectId, kind: ObjectKind) -> Result<bool> {
        match self.kind(id)? {
            None => Ok(false),
            Some(held) if held == kind => Ok(true),
            Some(held) => Err(StoreError::WrongKind { id: *id, expected: kind.as_str(), actual: held.as_str() }),
        }
    }

    /// The kind of object `id`, if present.
    pub fn kind(&self, id: &ObjectId) -> Result<Option<ObjectKind>> {
        match self.locate(id)? {
            Some((pack, offset)) => Ok(Some(pack.header_at(offset)?.kind)),
            None => Ok(None),
        }
    }

    /// Reads an object fully into memory and checks that its bytes are an object of its stored
    /// kind whose id is `id` (the kind rule: `docs/formats.md` §1). The delta bases decoded on
    /// the way are checked by kind, not hashed: the object's own id covers them.
    pub fn read(&self, id: &ObjectId) -> Result<Object> {
        let (pack, offset) = self.locate(id)?.ok_or(StoreError::ObjectNotFound(*id))?;
        self.read_entry(&pack, offset, id, 0)
    }

    /// Decodes the entry at `offset` of `pack`, which the index says is `id`, following its
    /// delta chain (at most [`MAX_DELTA_DEPTH`] bases, each checked by its kind). Only the
    /// object asked for (`depth` 0) is hashed: a base's bytes are the prefix its delta decodes
    /// against, so a damaged base yields bytes that do not hash to `id` and the read fails all
    /// the same; hashing every base too made a blame that reads 700 versions of a file hash
    /// each version's whole chain (`docs/formats.md` §6).
    fn read_entry(&self, pack: &Arc<Pack>, offset: u64, id: &ObjectId, depth: usize) -> Result<Object> {
        let corrupt = |reason: String| StoreError::CorruptObject { id: *id, reason };
        if depth > MAX_DELTA_DEPTH {
            return Err(corrupt("delta chain too long (or cyclic)".into()));
        }
        let header = pack.header_at(offset)?;
        let base = match header.base {
            Base::None => None,
            Base::Id(base) => {
                let (base_pack, base_offset) = self.locate(&base)?.ok_or(StoreError::ObjectNotFound(base))?;
                Some(self.read_entry(&base_pack, base_offset, &base, depth + 1)?)
            }
            Base::Offset(base_offset) => {
                let base = pack.id_at_offset(base_offset).ok_or_else(|| StoreError::CorruptPack {
                    path: pack.pack_path.clone(),
                    reason: format!("entry at offset {offset}: its delta base offset {base_offset} is not an entry"),
                })?;
                Some(self.read_entry(pack, base_offset, &base, depth + 1)?)
            }
        };
        let payload = pack.read_payload(&header)?;
        let data = match base {
            None => decompress(&payload, header.size, None).map_err(corrupt)?,
            Some(base) => {
                check_base_kind(header.kind, base.kind).map_err(corrupt)?;
                decompress(&payload, header.size, Some(&base.data)).map_err(corrupt)?
            }
        };
        if depth == 0 && header.kind.id_of(&data) != Some(*id) {
            return Err(corrupt(format!("content is not a {} with this id", header.kind)));
        }
        Ok(Object { kind: header.kind, data })
    }

    /// Streams an object's bytes into `out` with bounded memory, checking the hash at the end.
    /// Returns the number of bytes written. On a hash mismatch the bytes already written are
    /// not to be trusted: write to a temporary file and rename only on success.
    pub fn read_into(&self, id: &ObjectId, out: &mut dyn Write) -> Result<u64> {
        let (pack, offset) = self.locate(id)?.ok_or(StoreError::ObjectNotFound(*id))?;
        let header = pack.header_at(offset)?;
        if header.size < STREAM_THRESHOLD || header.base != Base::None || header.kind != ObjectKind::Blob {
            let object = self.read_entry(&pack, offset, id, 0)?;
            out.write_all(&object.data).map_err(|source| StoreError::Io { op: "write", path: PathBuf::from("<output>"), source })?;
            return Ok(object.data.len() as u64);
        }
        let corrupt = |reason: String| StoreError::CorruptObject { id: *id, reason };
        let mut decoder = zstd::stream::read::Decoder::new(pack.payload_reader(&header)).map_err(|e| corrupt(e.to_string()))?;
        let mut hasher = BlobHasher::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0u64;
        loop {
            let n = decoder.read(&mut buf).map_err(|e| corrupt(format!("zstd: {e}")))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n]).map_err(|source| StoreError::Io { op: "write", path: PathBuf::from("<output>"), source })?;
            total += n as u64;
        }
        if total != header.size || hasher.finish() != *id {
            return Err(corrupt("content does not hash to its id".into()));
        }
        Ok(total)
    }

    /// Reads and decodes a tree.
    pub fn read_tree(&self, id: &TreeId) -> Result<Tree> {
        let object = self.read_kind(&id.0, ObjectKind::Tree)?;
        Tree::decode(&object.data).map_err(|source| StoreError::Decode { id: id.0, source })
    }

    /// Reads and decodes a commit, checking that its fields hash to `id`. A signed commit's
    /// stored bytes are longer than what its id covers: the check is made by decoding, over
    /// the unsigned part. A commit delta's base is another commit's full stored bytes.
    pub fn read_commit(&self, id: &CommitId) -> Result<Commit> {
        let object = self.read_kind(&id.0, ObjectKind::Commit)?;
        let (commit, actual) = Commit::decode(&object.data).map_err(|source| StoreError::Decode { id: id.0, source })?;
        if actual != *id {
            return Err(StoreError::CorruptObject { id: id.0, reason: format!("fields hash to {actual}") });
        }
        Ok(commit)
    }

    fn read_kind(&self, id: &ObjectId, expected: ObjectKind) -> Result<Object> {
        let (pack, offset) = self.locate(id)?.ok_or(StoreError::ObjectNotFound(*id))?;
        let kind = pack.header_at(offset)?.kind;
        if kind != expected {
            return Err(StoreError::WrongKind { id: *id, expected: expected.as_str(), actual: kind.as_str() });
        }
        self.read_entry(&pack, offset, id, 0)
    }

    /// Every stored id that starts with `prefix` (deduplicated, sorted).
    pub fn resolve_prefix(&self, prefix: &IdPrefix) -> Result<Vec<ObjectId>> {
        self.rescan()?;
        let mut ids: Vec<ObjectId> = self.snapshot_packs().iter().flat_map(|p| p.ids_with_prefix(prefix)).collect();
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }

    /// Every object id in the store with its kind (deduplicated), for `gc` and tests. Fails on
    /// the first entry whose header cannot be read; [`ObjectStore::list_objects`] reports them.
    pub fn all_objects(&self) -> Result<Vec<(ObjectId, ObjectKind)>> {
        let listing = self.list_objects()?;
        match listing.damaged.into_iter().next() {
            Some((id, reason)) => Err(StoreError::CorruptObject { id, reason }),
            None => Ok(listing.objects),
        }
    }

    /// Every object id with its kind (deduplicated), and the entries whose headers are damaged.
    pub fn list_objects(&self) -> Result<ObjectListing> {
        self.rescan()?;
        let mut listing = ObjectListing::default();
        let mut seen = HashSet::new();
        for pack in self.snapshot_packs() {
            for (id, offset) in pack.iter() {
                if seen.insert(id) {
                    match pack.header_at(offset) {
                        Ok(header) => listing.objects.push((id, header.kind)),
                        Err(e) => listing.damaged.push((id, e.to_string())),
                    }
                }
            }
        }
        Ok(listing)
    }

    /// The packs of the store, biggest first.
    pub fn packs(&self) -> Result<Vec<PackInfo>> {
        self.rescan()?;
        Ok(self
            .snapshot_packs()
            .iter()
            .map(|p| PackInfo { path: p.pack_path.clone(), objects: p.len(), bytes: p.pack_len(), modified: p.modified() })
            .collect())
    }

    /// The objects of one pack (a path listed by [`ObjectStore::packs`]) with their kinds, in id
    /// order.
    pub fn pack_objects(&self, pack: &Path) -> Result<Vec<(ObjectId, ObjectKind)>> {
        let packs = self.snapshot_packs();
        let pack = packs
            .iter()
            .find(|p| p.pack_path == pack)
            .ok_or_else(|| StoreError::InvalidPath { path: pack.to_path_buf(), reason: "not a pack of this store".into() })?;
        pack.iter().map(|(id, offset)| Ok((id, pack.header_at(offset)?.kind))).collect()
    }

    /// Sets the modification time of a pack (a path listed by [`ObjectStore::packs`]): `gc`
    /// gives the pack into which it copies unreachable objects the time of the packs they
    /// came from, so that copying them does not make them look new.
    pub fn set_pack_modified(&self, pack: &Path, time: std::time::SystemTime) -> Result<()> {
        if pack.parent() != Some(self.packs_dir.as_path()) || pack.extension().is_none_or(|e| e != "pack") {
            return Err(StoreError::InvalidPath { path: pack.to_path_buf(), reason: "not a pack of this store".into() });
        }
        File::open(pack).and_then(|f| f.set_modified(time)).ctx("set the time of", pack)
    }

    /// Checks every pack's and index's checksum and the index order; returns the packs that
    /// fail, with the reason.
    pub fn verify_packs(&self) -> Result<Vec<(PathBuf, String)>> {
        self.rescan()?;
        Ok(self.snapshot_packs().iter().filter_map(|p| p.verify().err().map(|e| (p.pack_path.clone(), e.to_string()))).collect())
    }

    /// Starts a new pack. Nothing it holds is visible until [`PackWriter::finish`].
    pub fn begin_write(&self) -> Result<PackWriter<'_>> {
        PackWriter::new(self)
    }

    /// Merges every pack but the largest into one when the store holds too many, so lookups stay
    /// fast after many small commits. Entries are copied as they are (no recompression); the old
    /// packs are removed only after the merged one is durable. Skipped if another process is at it.
    pub fn consolidate_if_needed(&self) -> Result<bool> {
        self.rescan()?;
        let packs = self.snapshot_packs();
        if packs.len() <= CONSOLIDATE_ABOVE {
            return Ok(false);
        }
        self.consolidate(&packs[1..])
    }

    /// Takes the store's repack lock, held by whoever rewrites packs and removes the old ones
    /// (consolidation, `gc`), so that two of them never remove packs the other is reading. It is
    /// an advisory lock (`flock` on `objects/packs/repack.lock`): the kernel releases it when its
    /// holder dies. With `wait`, waits up to 10 s for another holder; without, returns `None`
    /// at once if the lock is taken.
    pub fn repack_lock(&self, wait: bool) -> Result<Option<RepackLock>> {
        let path = self.packs_dir.join("repack.lock");
        let file = OpenOptions::new().write(true).create(true).truncate(false).open(&path).ctx("create", &path)?;
        let started = std::time::Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Some(RepackLock { _file: file })),
                Err(fs::TryLockError::WouldBlock) if wait && started.elapsed() < std::time::Duration::from_secs(10) => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(fs::TryLockError::WouldBlock) => return Ok(None),
                Err(fs::TryLockError::Error(e)) => return Err(StoreError::Io { op: "lock", path, source: e }),
            }
        }
    }

    /// Merges the given packs into one new pack and removes them.
    fn consolidate(&self, packs: &[Arc<Pack>]) -> Result<bool> {
        let Some(lock) = self.repack_lock(false)? else {
            return Ok(false);
        };
        let result = (|| {
            let mut writer = self.begin_write()?;
            writer.skip_existing = false;
            for pack in packs {
                // In pack order, so that a base given by offset is written before its deltas
                // (and is given by offset again).
                for (id, offset) in pack.iter_by_offset() {
                    if writer.written.contains_key(&id) {
                        continue;
                    }
                    let entry = pack.raw_entry(offset)?;
                    writer.add_raw(entry.kind, id, entry.encoding, entry.size, &entry.payload)?;
                }
            }
            writer.finish()?;
            self.remove_packs(&packs.iter().map(|p| p.pack_path.clone()).collect::<Vec<_>>())
        })();
        drop(lock);
        result.map(|()| true)
    }

    fn register(&self, index_path: &Path) -> Result<()> {
        let pack = Arc::new(Pack::open(index_path)?);
        let mut packs = self.packs.write().unwrap_or_else(|e| e.into_inner());
        if !packs.iter().any(|p| p.index_path == pack.index_path) {
            packs.push(pack);
        }
        Ok(())
    }
}

/// Checks the kind rule of deltas: a commit's base is a commit; a blob's or tree's base is a
/// blob or a tree.
fn check_base_kind(kind: ObjectKind, base: ObjectKind) -> Result<(), String> {
    if (kind == ObjectKind::Commit) == (base == ObjectKind::Commit) {
        return Ok(());
    }
    Err(format!("a {kind}'s delta base is a {base}"))
}

/// Decompresses one zstd frame (a standard one, magic number included) of exactly `size`
/// bytes, optionally against a base prefix. Objects up to 64 MiB are decoded in one call into a
/// buffer of exactly `size` bytes (a frame that would produce more fails instead of growing
/// it); larger ones are streamed, reading at most `size + 1` bytes, so that a damaged size
/// field cannot make it allocate more than the frame really holds.
pub fn decompress(payload: &[u8], size: u64, base: Option<&[u8]>) -> Result<Vec<u8>, String> {
    let size = usize::try_from(size).map_err(|_| "object too large for memory".to_string())?;
    let zstd_error = |code| format!("zstd: {}", zstd::zstd_safe::get_error_name(code));
    if size <= BULK_DECOMPRESS_LIMIT {
        let mut out = Vec::with_capacity(size);
        let written = DECOMPRESSOR
            .with(|cell| {
                let mut dctx = cell.borrow_mut();
                let result = (|| {
                    if let Some(base) = base {
                        // SAFETY: the context keeps this reference for the next frame only (the
                        // `decompress` call below), and the reset right after that call drops
                        // it: the context never reads it once `base` is gone.
                        let base: &'static [u8] = unsafe { std::slice::from_raw_parts(base.as_ptr(), base.len()) };
                        dctx.ref_prefix(base)?;
                    }
                    dctx.decompress(&mut out, payload)
                })();
                let _ = dctx.reset(zstd::zstd_safe::ResetDirective::SessionAndParameters);
                result
            })
            .map_err(zstd_error)?;
        if written != size {
            return Err(format!("decompressed to {written} bytes, header says {size}"));
        }
        return Ok(out);
    }
    let mut out = Vec::with_capacity(BULK_DECOMPRESS_LIMIT);
    let decoder = match base {
        Some(base) => zstd::stream::read::Decoder::with_ref_prefix(payload, base),
        None => zstd::stream::read::Decoder::with_buffer(payload),
    }
    .map_err(|e| format!("zstd: {e}"))?;
    decoder.take(size as u64 + 1).read_to_end(&mut out).map_err(|e| format!("zstd: {e}"))?;
    if out.len() != size {
        return Err(format!("decompressed to {} bytes, header says {size}", out.len()));
    }
    Ok(out)
}

/// Objects up to this size are decompressed in one call into a buffer of their exact size.
const BULK_DECOMPRESS_LIMIT: usize = 64 << 20;

thread_local! {
    /// One decompression context per thread, reused across objects (creating one per object
    /// costs more than decompressing a small tree or commit).
    static DECOMPRESSOR: std::cell::RefCell<zstd::zstd_safe::DCtx<'static>> = std::cell::RefCell::new(zstd::zstd_safe::DCtx::create());
}

thread_local! {
    /// One compression context per thread: creating a context costs as much as compressing a
    /// few kilobytes, and a commit compresses one small file after another.
    static COMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> = const { std::cell::RefCell::new(None) };
}

/// Compresses `data` into one zstd frame (the `Zstd` encoding) at [`COMPRESSION_LEVEL`].
pub fn compress(data: &[u8]) -> Vec<u8> {
    COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = zstd::bulk::Compressor::new(COMPRESSION_LEVEL).ok();
        }
        match slot.as_mut() {
            Some(compressor) => compressor.compress(data),
            None => zstd::bulk::compress(data, COMPRESSION_LEVEL),
        }
        .expect("zstd compression of an in-memory buffer cannot fail")
    })
}

/// A blob compressed into a temporary spill file, ready to be copied into a pack.
pub struct SpilledBlob {
    /// The blob's id.
    pub id: ObjectId,
    /// Its uncompressed size.
    pub size: u64,
    file: File,
    path: PathBuf,
    compressed_len: u64,
}

impl Drop for SpilledBlob {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Hashes and compresses a stream of any size with bounded memory, spilling the compressed bytes
/// to a temporary file in `tmp_dir`.
pub fn spill_blob(reader: &mut dyn Read, tmp_dir: &Path) -> Result<SpilledBlob> {
    let (path, file) = create_temp(tmp_dir, "", "spill", "").ctx("create", tmp_dir)?;
    let mut spilled = SpilledBlob { id: muse_core::blob_id(b""), size: 0, file, path, compressed_len: 0 };
    let mut encoder = zstd::stream::write::Encoder::new(BufWriter::new(&spilled.file), COMPRESSION_LEVEL).ctx("compress", &spilled.path)?;
    let mut hasher = BlobHasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(StoreError::Io { op: "read", path: spilled.path.clone(), source: e }),
        };
        hasher.update(&buf[..n]);
        encoder.write_all(&buf[..n]).ctx("write", &spilled.path)?;
        spilled.size += n as u64;
    }
    encoder.finish().and_then(|mut w| w.flush()).ctx("write", &spilled.path)?;
    spilled.compressed_len = spilled.file.metadata().ctx("stat", &spilled.path)?.len();
    spilled.id = hasher.finish();
    Ok(spilled)
}

/// Appends objects to a new pack; [`PackWriter::finish`] makes them durable and visible at once.
/// Dropping a writer without finishing it discards everything it was given.
pub struct PackWriter<'a> {
    store: &'a ObjectStore,
    tmp_path: PathBuf,
    out: BufWriter<File>,
    hasher: muse_core::Hasher,
    offset: u64,
    entries: Vec<(ObjectId, u64)>,
    /// What this pack holds, with each object's kind and entry offset.
    written: HashMap<ObjectId, (ObjectKind, u64)>,
    skip_existing: bool,
    finished: bool,
}

impl<'a> PackWriter<'a> {
    fn new(store: &'a ObjectStore) -> Result<Self> {
        store.rescan_if_changed()?;
        let (tmp_path, file) = create_temp(store.writable_tmp_dir()?, "", "pack", ".pack").ctx("create", &store.tmp_dir)?;
        let mut writer = PackWriter {
            store,
            tmp_path,
            out: BufWriter::with_capacity(1 << 20, file),
            hasher: muse_core::Hasher::new(),
            offset: 0,
            entries: Vec::new(),
            written: HashMap::new(),
            skip_existing: true,
            finished: false,
        };
        let mut header = PACK_MAGIC.to_vec();
        header.extend_from_slice(&PACK_VERSION.to_be_bytes());
        writer.write_bytes(&header)?;
        debug_assert_eq!(writer.offset, PACK_HEADER_LEN);
        Ok(writer)
    }

    fn write_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        self.out.write_all(bytes).ctx("write", &self.tmp_path)?;
        self.hasher.update(bytes);
        self.offset += bytes.len() as u64;
        Ok(())
    }

    /// Whether the object `id` of kind `kind` needs writing: not already in this pack nor in
    /// the store. An id held under another kind is never taken as present: it is an error
    /// ([`StoreError::WrongKind`]; the kind rule makes it impossible in a sound store). A pack
    /// found to hold it is freshened (its modification time set to now, at most once every
    /// 10 s), since the caller is about to reference the object.
    pub fn needs(&self, kind: ObjectKind, id: &ObjectId) -> Result<bool> {
        if let Some((held, _)) = self.written.get(id) {
            return same_kind(id, kind, *held).map(|()| false);
        }
        // Only the packs loaded when the writer started (and those published since by this
        // process) count: an object another process publishes meanwhile is merely stored twice.
        if !self.skip_existing {
            return Ok(true);
        }
        match self.store.locate_loaded(id) {
            Some((pack, offset)) => {
                same_kind(id, kind, pack.header_at(offset)?.kind)?;
                // The new objects will reference this one, perhaps unreachable until now: make
                // its pack look new, so that `gc` does not prune it meanwhile (docs/formats.md
                // §5, pruning).
                pack.freshen();
                Ok(false)
            }
            None => Ok(true),
        }
    }

    /// Adds an object given its stored bytes; returns its id (computed by the kind rule).
    /// Already-stored objects are skipped. Bytes that cannot be an object of `kind` (a tree
    /// without the tree magic, a commit that does not decode) are refused.
    pub fn add(&mut self, kind: ObjectKind, data: &[u8]) -> Result<ObjectId> {
        let id = kind.id_of(data).ok_or_else(|| StoreError::CorruptObject { id: ObjectId::sha256(data), reason: format!("these bytes are not a {kind}") })?;
        if self.needs(kind, &id)? {
            let payload = compress(data);
            self.add_raw(kind, id, Encoding::Zstd, data.len() as u64, &payload)?;
        }
        Ok(id)
    }

    /// Adds a tree; returns its id.
    pub fn add_tree(&mut self, tree: &Tree) -> Result<TreeId> {
        self.add(ObjectKind::Tree, &tree.encode()).map(TreeId)
    }

    /// Adds a commit (with its signature, if any); returns its id.
    pub fn add_commit(&mut self, commit: &Commit) -> Result<CommitId> {
        commit.validate().map_err(StoreError::InvalidCommit)?;
        let id = commit.id();
        if self.needs(ObjectKind::Commit, &id.0)? {
            let data = commit.encode();
            self.add_raw(ObjectKind::Commit, id.0, Encoding::Zstd, data.len() as u64, &compress(&data))?;
        }
        Ok(id)
    }

    /// Appends an entry whose payload (one standard zstd frame) the caller already encoded. The
    /// caller vouches that the payload decodes to `size` bytes that are an object of `kind` with
    /// id `id` (the kind rule). A delta base added earlier to this pack is stored as an offset,
    /// any other by id. An id already added under another kind is an error, and so is a
    /// payload that is not a zstd frame.
    pub fn add_raw(&mut self, kind: ObjectKind, id: ObjectId, encoding: Encoding, size: u64, payload: &[u8]) -> Result<()> {
        let frame = payload.strip_prefix(&ZSTD_MAGIC[..]).ok_or_else(|| not_a_frame(id))?;
        if self.begin_entry(kind, id, encoding, size, frame.len() as u64)? {
            self.write_bytes(frame)?;
        }
        Ok(())
    }

    /// Writes the header of a new entry whose stored payload (the frame without its magic) is
    /// `payload_len` bytes; returns `false`, writing nothing, if `id` is already in this pack.
    fn begin_entry(&mut self, kind: ObjectKind, id: ObjectId, encoding: Encoding, size: u64, payload_len: u64) -> Result<bool> {
        if let Some((held, _)) = self.written.get(&id) {
            return same_kind(&id, kind, *held).map(|()| false);
        }
        let base = match encoding {
            Encoding::Zstd => StoredBase::None,
            Encoding::ZstdDelta(base) => match self.written.get(&base) {
                Some((_, at)) => StoredBase::Distance(self.offset - at),
                None => StoredBase::Id(base),
            },
        };
        let header = encode_entry_header(kind, base, size, payload_len);
        self.entries.push((id, self.offset));
        self.written.insert(id, (kind, self.offset));
        self.write_bytes(&header)?;
        Ok(true)
    }

    /// Copies a spilled blob into the pack (unless already stored); returns its id.
    pub fn add_spilled(&mut self, mut spilled: SpilledBlob) -> Result<ObjectId> {
        let id = spilled.id;
        if !self.needs(ObjectKind::Blob, &id)? {
            return Ok(id);
        }
        spilled.file.rewind().ctx("read", &spilled.path)?;
        let mut magic = [0u8; 4];
        spilled.file.read_exact(&mut magic).ctx("read", &spilled.path)?;
        if magic != ZSTD_MAGIC || spilled.compressed_len < 4 {
            return Err(not_a_frame(id));
        }
        let mut remaining = spilled.compressed_len - 4;
        if !self.begin_entry(ObjectKind::Blob, id, Encoding::Zstd, spilled.size, remaining)? {
            return Ok(id);
        }
        let mut buf = vec![0u8; 1 << 20];
        while remaining > 0 {
            let n = spilled.file.read(&mut buf).ctx("read", &spilled.path)?;
            if n == 0 {
                return Err(StoreError::Io { op: "read", path: spilled.path.clone(), source: io::ErrorKind::UnexpectedEof.into() });
            }
            let n = n.min(remaining as usize);
            self.write_bytes(&buf[..n])?;
            remaining -= n as u64;
        }
        Ok(id)
    }

    /// The store's directory for temporary files (for [`spill_blob`]).
    pub fn store_tmp_dir(&self) -> &Path {
        &self.store.tmp_dir
    }

    /// The number of objects added so far.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no object was added.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Makes the pack durable and visible: fsync pack, fsync index, rename pack, rename index
    /// (the index's appearance is what publishes the objects), fsync the directory. Returns the
    /// pack's path, or `None` if nothing was added (then nothing is written).
    pub fn finish(mut self) -> Result<Option<PathBuf>> {
        self.finished = true;
        if self.entries.is_empty() {
            let _ = fs::remove_file(&self.tmp_path);
            return Ok(None);
        }
        let checksum = std::mem::take(&mut self.hasher).finish();
        self.out.write_all(checksum.as_bytes()).ctx("write", &self.tmp_path)?;
        self.out.flush().ctx("write", &self.tmp_path)?;
        self.out.get_ref().sync_all().ctx("fsync", &self.tmp_path)?;
        let name = checksum.to_hex();
        let index_bytes = encode_index(&mut self.entries, &checksum);
        let mut tmp_index = PathBuf::new();
        let result = (|| {
            let (path, mut index_file) = create_temp(&self.store.tmp_dir, "", "pack", ".idx").ctx("create", &self.store.tmp_dir)?;
            tmp_index = path;
            index_file.write_all(&index_bytes).ctx("write", &tmp_index)?;
            index_file.sync_all().ctx("fsync", &tmp_index)?;
            let pack_path = self.store.packs_dir.join(format!("{name}.pack"));
            let index_path = self.store.packs_dir.join(format!("{name}.idx"));
            fs::rename(&self.tmp_path, &pack_path).ctx("rename", &pack_path)?;
            sync_dir(&self.store.packs_dir).ctx("fsync", &self.store.packs_dir)?;
            fs::rename(&tmp_index, &index_path).ctx("rename", &index_path)?;
            sync_dir(&self.store.packs_dir).ctx("fsync", &self.store.packs_dir)?;
            match self.store.register(&index_path) {
                // Another process's consolidation merged the new pack already (publishing the
                // merged pack before removing this one): find the objects there.
                Err(StoreError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => self.store.rescan()?,
                other => other?,
            }
            Ok(pack_path)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&self.tmp_path);
            if !tmp_index.as_os_str().is_empty() {
                let _ = fs::remove_file(&tmp_index);
            }
        }
        result.map(Some)
    }
}

/// The error for a payload that does not open with the zstd magic number.
fn not_a_frame(id: ObjectId) -> StoreError {
    StoreError::CorruptObject { id, reason: "the payload to store is not a zstd frame".into() }
}

/// `Ok` if an object wanted as `wanted` is held as `held`; the kind-confusion error otherwise.
fn same_kind(id: &ObjectId, wanted: ObjectKind, held: ObjectKind) -> Result<()> {
    if wanted == held {
        return Ok(());
    }
    Err(StoreError::WrongKind { id: *id, expected: wanted.as_str(), actual: held.as_str() })
}

impl Drop for PackWriter<'_> {
    fn drop(&mut self) {
        if !self.finished {
            let _ = fs::remove_file(&self.tmp_path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_invisible_until_finish_and_then_readable() {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectStore::create(dir.path()).unwrap();
        let mut writer = store.begin_write().unwrap();
        let id = writer.add(ObjectKind::Blob, b"hello").unwrap();
        assert!(!store.contains(&id).unwrap());
        writer.finish().unwrap().unwrap();
        assert!(store.contains(&id).unwrap());
        assert_eq!(store.read(&id).unwrap().data, b"hello");
        let reopened = ObjectStore::create(dir.path()).unwrap();
        assert_eq!(reopened.read(&id).unwrap().kind, ObjectKind::Blob);
        assert!(reopened.verify_packs().unwrap().is_empty());
    }

    #[test]
    fn dropped_writer_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectStore::create(dir.path()).unwrap();
        let mut writer = store.begin_write().unwrap();
        let id = writer.add(ObjectKind::Blob, b"lost").unwrap();
        drop(writer);
        assert!(!store.contains(&id).unwrap());
        assert_eq!(fs::read_dir(store.tmp_dir()).unwrap().count(), 0);
    }

    #[test]
    fn corrupted_payload_is_detected_on_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectStore::create(dir.path()).unwrap();
        let mut writer = store.begin_write().unwrap();
        let data = vec![7u8; 1000];
        let id = writer.add(ObjectKind::Blob, &data).unwrap();
        let pack = writer.finish().unwrap().unwrap();
        let mut bytes = fs::read(&pack).unwrap();
        // Replace the payload with a valid frame of other content.
        let other = compress(&[8u8; 1000])[4..].to_vec();
        let stored_len = bytes.len() - PACK_HEADER_LEN as usize - 32 - 4;
        let start = (PACK_HEADER_LEN as usize) + encode_entry_header(ObjectKind::Blob, StoredBase::None, 1000, stored_len as u64).len();
        bytes.splice(start..start + other.len().min(bytes.len() - start - 32), other.iter().copied());
        fs::write(&pack, &bytes).unwrap();
        let fresh = ObjectStore::create(dir.path()).unwrap();
        assert!(matches!(fresh.read(&id), Err(StoreError::CorruptObject { .. } | StoreError::CorruptPack { .. })));
        assert!(!fresh.verify_packs().unwrap().is_empty());
    }

    #[test]
    fn a_damaged_delta_base_fails_the_read_of_the_object_built_on_it_and_fsck() {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectStore::create(dir.path()).unwrap();
        // Bytes zstd cannot compress, so the base's frame holds them as they are.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let base: Vec<u8> = (0..16000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect();
        let mut target = base.clone();
        target[100] ^= 1;
        let mut writer = store.begin_write().unwrap();
        let base_id = writer.add(ObjectKind::Blob, &base).unwrap();
        let target_id = muse_core::blob_id(&target);
        writer.add_raw(ObjectKind::Blob, target_id, Encoding::ZstdDelta(base_id), target.len() as u64, &delta_payload(&base, &target)).unwrap();
        let pack = writer.finish().unwrap().unwrap();
        assert_eq!(store.read(&target_id).unwrap().data, target);
        // One byte of the base's stored content flipped: every header still parses.
        let mut bytes = fs::read(&pack).unwrap();
        let at = bytes.windows(64).position(|w| w == &base[8000..8064]).unwrap();
        bytes[at] ^= 1;
        fs::write(&pack, &bytes).unwrap();
        let fresh = ObjectStore::open(dir.path()).unwrap();
        assert!(matches!(fresh.read(&base_id), Err(StoreError::CorruptObject { id, .. }) if id == base_id));
        assert!(matches!(fresh.read(&target_id), Err(StoreError::CorruptObject { id, .. }) if id == target_id));
        assert!(!fresh.verify_packs().unwrap().is_empty());
    }

    fn delta_payload(base: &[u8], target: &[u8]) -> Vec<u8> {
        let mut cctx = zstd::zstd_safe::CCtx::create();
        cctx.ref_prefix(base).unwrap();
        let mut payload = Vec::with_capacity(zstd::zstd_safe::compress_bound(target.len()));
        cctx.compress2(&mut payload, target).unwrap();
        payload
    }

    /// docs/formats.md §6: a commit entry may be a delta whose base is a signed commit (the
    /// prefix is its full stored bytes); a delta whose base has an incompatible kind is corrupt.
    #[test]
    fn a_signed_commit_is_a_readable_delta_base_and_kinds_of_bases_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectStore::create(dir.path()).unwrap();
        let mut writer = store.begin_write().unwrap();
        let root = writer.add_tree(&Tree::default()).unwrap();
        let signed =
            Commit { snapshot: root, committed_at: "2026-01-01T00:00:00Z".into(), signer_key_id: "k".into(), signature: "sig".into(), ..Commit::default() };
        let signed_id = writer.add_commit(&signed).unwrap();
        let child = Commit { parents: vec![signed_id], message: "child".into(), ..signed.clone() };
        let child_bytes = child.encode();
        let payload = delta_payload(&signed.encode(), &child_bytes);
        writer.add_raw(ObjectKind::Commit, child.id().0, Encoding::ZstdDelta(signed_id.0), child_bytes.len() as u64, &payload).unwrap();
        let blob = b"a blob delta against a commit".to_vec();
        let blob_id = muse_core::blob_id(&blob);
        let payload = delta_payload(&signed.encode(), &blob);
        writer.add_raw(ObjectKind::Blob, blob_id, Encoding::ZstdDelta(signed_id.0), blob.len() as u64, &payload).unwrap();
        writer.finish().unwrap();
        assert_eq!(store.read_commit(&child.id()).unwrap(), child);
        assert_eq!(store.read(&child.id().0).unwrap().data, child_bytes);
        assert!(matches!(store.read(&blob_id), Err(StoreError::CorruptObject { reason, .. }) if reason.contains("delta base is a commit")));
    }

    /// The kind rule in the store: an id held under one kind is never present for another.
    #[test]
    fn an_id_held_under_another_kind_is_not_taken_as_present() {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectStore::create(dir.path()).unwrap();
        let encoding = Tree::default().encode();
        let mut writer = store.begin_write().unwrap();
        let blob = writer.add(ObjectKind::Blob, &encoding).unwrap();
        let tree = writer.add(ObjectKind::Tree, &encoding).unwrap();
        assert_ne!(blob, tree, "a blob holding a tree's encoding has its own id");
        assert!(writer.add(ObjectKind::Tree, b"not a tree").is_err(), "bytes that are not a tree are refused");
        // A damaged (or forged) entry: the empty tree's id filed as a blob.
        let forged = Tree::empty_id().0;
        let mut damaged = store.begin_write().unwrap();
        damaged.skip_existing = false;
        damaged.add_raw(ObjectKind::Blob, forged, Encoding::Zstd, encoding.len() as u64, &compress(&encoding)).unwrap();
        assert!(matches!(damaged.needs(ObjectKind::Tree, &forged), Err(StoreError::WrongKind { .. })));
        assert!(damaged.add_raw(ObjectKind::Tree, forged, Encoding::Zstd, 0, b"").is_err());
        drop(damaged);
        writer.finish().unwrap();
        assert!(store.contains_kind(&blob, ObjectKind::Blob).unwrap());
        assert!(matches!(store.contains_kind(&blob, ObjectKind::Tree), Err(StoreError::WrongKind { .. })));
        let other = store.begin_write().unwrap();
        assert!(matches!(other.needs(ObjectKind::Tree, &blob), Err(StoreError::WrongKind { .. })));
        assert!(!other.needs(ObjectKind::Tree, &tree).unwrap());
        assert_eq!(store.read(&blob).unwrap().data, encoding);
        assert_eq!(store.read_tree(&TreeId(tree)).unwrap(), Tree::default());
    }

    #[test]
    fn deltas_and_spills_and_consolidation_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectStore::create(dir.path()).unwrap();
        let base: Vec<u8> = (0..5000u32).flat_map(|i| i.to_le_bytes()).collect();
        let mut target = base.clone();
        target[100] ^= 1;
        let mut writer = store.begin_write().unwrap();
        let base_id = writer.add(ObjectKind::Blob, &base).unwrap();
        writer.finish().unwrap();
        let mut cctx = zstd::zstd_safe::CCtx::create();
        cctx.ref_prefix(&base).unwrap();
        let mut payload = Vec::with_capacity(target.len());
        cctx.compress2(&mut payload, &target).unwrap();
        assert!(payload.len() < 200, "delta should be small, got {}", payload.len());
        let target_id = muse_core::blob_id(&target);
        for i in 0..CONSOLIDATE_ABOVE + 1 {
            let mut writer = store.begin_write().unwrap();
            if i == 0 {
                writer.add_raw(ObjectKind::Blob, target_id, Encoding::ZstdDelta(base_id), target.len() as u64, &payload).unwrap();
            }
            writer.add(ObjectKind::Blob, format!("small {i}").as_bytes()).unwrap();
            let spilled = spill_blob(&mut &format!("spilled {i}").into_bytes()[..], store.tmp_dir()).unwrap();
            writer.add_spilled(spilled).unwrap();
            writer.finish().unwrap();
        }
        assert_eq!(store.read(&target_id).unwrap().data, target);
        assert!(store.consolidate_if_needed().unwrap());
        assert!(store.packs().unwrap().len() <= 2);
        assert_eq!(store.read(&target_id).unwrap().data, target);
        let mut streamed = Vec::new();
        store.read_into(&muse_core::blob_id(b"spilled 3"), &mut streamed).unwrap();
        assert_eq!(streamed, b"spilled 3");
        assert_eq!(store.resolve_prefix(&IdPrefix::parse(&target_id.short(10)).unwrap()).unwrap(), vec![target_id]);
    }
}
