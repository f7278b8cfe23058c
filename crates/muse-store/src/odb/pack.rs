//! The local pack format: many objects in one append-only file, found through a sorted index.
//!
//! Layout (big-endian integers; see `docs/formats.md` §Store packs):
//!
//! ```text
//! pack  := "MUSEPACK" u32:version=2 entry* sha256(all preceding bytes)
//! entry := u8:kind u8:encoding u64:size u64:payload_len [32:base if encoding=1] payload
//! index := "MUSEIDX1" u32:count [u32;256]:fanout (id[32] u64:offset)*count
//!          32:pack_checksum sha256(all preceding index bytes)
//! ```

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use muse_core::{IdPrefix, ObjectId};

use crate::error::{IoContext, Result, StoreError};

/// Magic bytes opening a pack file.
pub(crate) const PACK_MAGIC: &[u8; 8] = b"MUSEPACK";
/// Magic bytes opening an index file.
pub(crate) const INDEX_MAGIC: &[u8; 8] = b"MUSEIDX1";
/// The pack format version this code writes and reads.
/// Version 2 is the first with the kind rule (`docs/formats.md` §1): a version 1 pack's blob ids
/// are plain SHA-256 digests and are refused (a clean break).
pub(crate) const PACK_VERSION: u32 = 2;
/// Bytes before the first entry of a pack.
pub(crate) const PACK_HEADER_LEN: u64 = 12;
/// Bytes of an index entry: id and offset.
const INDEX_ENTRY_LEN: usize = 40;
/// Where the entries of an index start: after magic, count and fanout.
const INDEX_ENTRIES_AT: usize = 12 + 1024;
/// Bytes of an entry header without the optional base id.
pub(crate) const ENTRY_HEADER_LEN: usize = 18;

pub use muse_core::ObjectKind;

/// How an entry's payload encodes the object's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// One zstd frame of the whole object.
    Zstd,
    /// One zstd frame compressed with the base object's bytes as a raw-content prefix.
    ZstdDelta(ObjectId),
}

/// A decoded entry header.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EntryHeader {
    pub kind: ObjectKind,
    pub encoding: Encoding,
    pub size: u64,
    pub payload_len: u64,
    /// Offset of the payload in the pack file.
    pub payload_offset: u64,
}

/// Encodes an entry header.
pub(crate) fn encode_entry_header(kind: ObjectKind, encoding: Encoding, size: u64, payload_len: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(ENTRY_HEADER_LEN + 32);
    out.push(kind as u8);
    out.push(match encoding {
        Encoding::Zstd => 0,
        Encoding::ZstdDelta(_) => 1,
    });
    out.extend_from_slice(&size.to_be_bytes());
    out.extend_from_slice(&payload_len.to_be_bytes());
    if let Encoding::ZstdDelta(base) = encoding {
        out.extend_from_slice(base.as_bytes());
    }
    out
}

/// One pack file with its index loaded in memory.
pub(crate) struct Pack {
    pub pack_path: PathBuf,
    pub index_path: PathBuf,
    file: File,
    pack_len: u64,
    fanout: Box<[u32; 256]>,
    /// The whole index file, memory-mapped so that opening a store reads nothing up front; its
    /// sorted `id || offset` records start at [`INDEX_ENTRIES_AT`].
    index: memmap2::Mmap,
    /// When this process last freshened the pack (seconds since the epoch; 0: never).
    freshened: std::sync::atomic::AtomicU64,
}

impl Pack {
    /// Opens `NAME.idx` and its `NAME.pack`, checking the index's structure (magic, length,
    /// fanout). The checksums and the id order are checked by [`Pack::verify`] (fsck), so
    /// opening a store stays cheap for every command.
    pub fn open(index_path: &Path) -> Result<Pack> {
        let pack_path = index_path.with_extension("pack");
        let corrupt = |reason: &str| StoreError::CorruptPack { path: index_path.to_path_buf(), reason: reason.to_string() };
        let index_file = File::open(index_path).ctx("open", index_path)?;
        // SAFETY: index files are written once, published by rename, and never modified or
        // truncated afterwards (only removed, which keeps an existing mapping valid).
        let bytes = unsafe { memmap2::Mmap::map(&index_file) }.ctx("map", index_path)?;
        if bytes.len() < 12 + 1024 + 64 || &bytes[..8] != INDEX_MAGIC {
            return Err(corrupt("not a muse pack index"));
        }
        let count = u32::from_be_bytes(bytes[8..12].try_into().expect("4 bytes")) as usize;
        let entries_start = 12 + 1024;
        let entries_end = entries_start + count * INDEX_ENTRY_LEN;
        if entries_end + 64 != bytes.len() {
            return Err(corrupt("index length does not match its entry count"));
        }
        let mut fanout = Box::new([0u32; 256]);
        for (i, slot) in fanout.iter_mut().enumerate() {
            *slot = u32::from_be_bytes(bytes[12 + 4 * i..16 + 4 * i].try_into().expect("4 bytes"));
        }
        if fanout[255] as usize != count || fanout.windows(2).any(|w| w[0] > w[1]) {
            return Err(corrupt("index fanout table is inconsistent"));
        }
        let file = File::open(&pack_path).ctx("open", &pack_path)?;
        let pack_len = file.metadata().ctx("stat", &pack_path)?.len();
        Ok(Pack { pack_path, index_path: index_path.to_path_buf(), file, pack_len, fanout, index: bytes, freshened: Default::default() })
    }

    /// The pack file's modification time (now, if it cannot be read: the safe answer for `gc`,
    /// which keeps unreachable objects of young packs).
    pub fn modified(&self) -> std::time::SystemTime {
        self.file.metadata().and_then(|m| m.modified()).unwrap_or_else(|_| std::time::SystemTime::now())
    }

    /// Sets the pack file's modification time to now (at most once every 10 s per process), to
    /// tell `gc` that a writer is about to reference objects it holds. Best effort: a store on
    /// a read-only medium is not pruned either.
    pub fn freshen(&self) {
        use std::sync::atomic::Ordering;
        let now = std::time::SystemTime::now();
        let secs = now.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        if secs.saturating_sub(self.freshened.load(Ordering::Relaxed)) >= 10 {
            self.freshened.store(secs, Ordering::Relaxed);
            let _ = self.file.set_modified(now);
        }
    }

    /// Checks the index checksum, the strict order of its ids and the pack's trailing checksum.
    pub fn verify(&self) -> Result<()> {
        let corrupt = |reason: &str| StoreError::CorruptPack { path: self.index_path.clone(), reason: reason.to_string() };
        let (body, checksum) = self.index.split_at(self.index.len() - 32);
        if ObjectId::sha256(body).as_bytes() != checksum {
            return Err(corrupt("index checksum mismatch"));
        }
        if (1..self.len()).any(|i| self.id_at(i - 1) >= self.id_at(i)) {
            return Err(corrupt("index ids are not strictly sorted"));
        }
        self.verify_checksum()
    }

    /// The number of objects in the pack.
    pub fn len(&self) -> usize {
        (self.index.len() - INDEX_ENTRIES_AT - 64) / INDEX_ENTRY_LEN
    }

    /// The size of the pack file in bytes.
    pub fn pack_len(&self) -> u64 {
        self.pack_len
    }

    fn id_at(&self, i: usize) -> ObjectId {
        let at = INDEX_ENTRIES_AT + i * INDEX_ENTRY_LEN;
        ObjectId::from_slice(&self.index[at..at + 32]).expect("32 bytes")
    }

    fn offset_at(&self, i: usize) -> u64 {
        let at = INDEX_ENTRIES_AT + i * INDEX_ENTRY_LEN + 32;
        u64::from_be_bytes(self.index[at..at + 8].try_into().expect("8 bytes"))
    }

    fn bucket(&self, first: u8) -> (usize, usize) {
        let lo = if first == 0 { 0 } else { self.fanout[first as usize - 1] as usize };
        (lo, self.fanout[first as usize] as usize)
    }

    /// The entry offset of `id`, if this pack holds it.
    pub fn find(&self, id: &ObjectId) -> Option<u64> {
        let (mut lo, mut hi) = self.bucket(id.as_bytes()[0]);
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.id_at(mid).cmp(id) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(self.offset_at(mid)),
            }
        }
        None
    }

    /// The ids in this pack that start with `prefix`.
    pub fn ids_with_prefix(&self, prefix: &IdPrefix) -> Vec<ObjectId> {
        let low = prefix.lower_bound();
        let (mut lo, mut hi) = self.bucket(low.as_bytes()[0]);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.id_at(mid) < low {
                lo = mid + 1
            } else {
                hi = mid
            }
        }
        let (_, end) = self.bucket(low.as_bytes()[0]);
        (lo..end).map(|i| self.id_at(i)).take_while(|id| prefix.matches(id)).collect()
    }

    /// Every `(id, entry offset)` in id order.
    pub fn iter(&self) -> impl Iterator<Item = (ObjectId, u64)> + '_ {
        (0..self.len()).map(|i| (self.id_at(i), self.offset_at(i)))
    }

    /// Reads and checks the header of the entry at `offset`.
    pub fn header_at(&self, offset: u64) -> Result<EntryHeader> {
        let corrupt = |reason: &str| StoreError::CorruptPack { path: self.pack_path.clone(), reason: format!("entry at offset {offset}: {reason}") };
        let mut buf = [0u8; ENTRY_HEADER_LEN + 32];
        let avail = (self.pack_len.saturating_sub(offset)).min(buf.len() as u64) as usize;
        if avail < ENTRY_HEADER_LEN {
            return Err(corrupt("header past the end of the pack"));
        }
        self.file.read_exact_at(&mut buf[..avail], offset).ctx("read", &self.pack_path)?;
        let kind = ObjectKind::from_code(buf[0]).ok_or_else(|| corrupt("unknown object kind"))?;
        let size = u64::from_be_bytes(buf[2..10].try_into().expect("8 bytes"));
        let payload_len = u64::from_be_bytes(buf[10..18].try_into().expect("8 bytes"));
        let (encoding, header_len) = match buf[1] {
            0 => (Encoding::Zstd, ENTRY_HEADER_LEN),
            1 if avail >= ENTRY_HEADER_LEN + 32 => (Encoding::ZstdDelta(ObjectId::from_slice(&buf[18..50]).expect("32 bytes")), ENTRY_HEADER_LEN + 32),
            _ => return Err(corrupt("unknown or truncated encoding")),
        };
        let payload_offset = offset + header_len as u64;
        if payload_offset.checked_add(payload_len).is_none_or(|end| end > self.pack_len.saturating_sub(32)) {
            return Err(corrupt("payload runs past the end of the pack"));
        }
        Ok(EntryHeader { kind, encoding, size, payload_len, payload_offset })
    }

    /// Reads an entry's compressed payload into memory.
    pub fn read_payload(&self, header: &EntryHeader) -> Result<Vec<u8>> {
        let len =
            usize::try_from(header.payload_len).map_err(|_| StoreError::CorruptPack { path: self.pack_path.clone(), reason: "payload too large".into() })?;
        let mut buf = vec![0u8; len];
        self.file.read_exact_at(&mut buf, header.payload_offset).ctx("read", &self.pack_path)?;
        Ok(buf)
    }

    /// A reader over an entry's compressed payload, for streaming large objects.
    pub fn payload_reader(&self, header: &EntryHeader) -> RegionReader<'_> {
        RegionReader { file: &self.file, offset: header.payload_offset, remaining: header.payload_len }
    }

    /// Checks the pack's header and trailing checksum against its bytes.
    fn verify_checksum(&self) -> Result<()> {
        let corrupt = |reason: &str| StoreError::CorruptPack { path: self.pack_path.clone(), reason: reason.to_string() };
        if self.pack_len < PACK_HEADER_LEN + 32 {
            return Err(corrupt("too short"));
        }
        let mut hasher = muse_core::Hasher::new();
        let mut reader = RegionReader { file: &self.file, offset: 0, remaining: self.pack_len - 32 };
        let mut header = [0u8; 12];
        reader.read_exact(&mut header).ctx("read", &self.pack_path)?;
        if &header[..8] != PACK_MAGIC || header[8..12] != PACK_VERSION.to_be_bytes() {
            return Err(corrupt("bad magic or version"));
        }
        hasher.update(&header);
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = reader.read(&mut buf).ctx("read", &self.pack_path)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        let mut trailer = [0u8; 32];
        self.file.read_exact_at(&mut trailer, self.pack_len - 32).ctx("read", &self.pack_path)?;
        if hasher.finish().as_bytes() != &trailer {
            return Err(corrupt("trailing checksum mismatch"));
        }
        Ok(())
    }
}

/// Reads a byte range of a file with positional reads (no shared cursor, so many readers can
/// share one file handle).
pub struct RegionReader<'a> {
    file: &'a File,
    offset: u64,
    remaining: u64,
}

impl Read for RegionReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = (buf.len() as u64).min(self.remaining) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.offset)?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "pack entry truncated"));
        }
        self.offset += n as u64;
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// Builds the bytes of an index for `entries` (sorted here) of a pack with checksum `pack_checksum`.
pub(crate) fn encode_index(entries: &mut [(ObjectId, u64)], pack_checksum: &ObjectId) -> Vec<u8> {
    entries.sort_unstable_by_key(|a| a.0);
    let mut out = Vec::with_capacity(12 + 1024 + entries.len() * INDEX_ENTRY_LEN + 64);
    out.extend_from_slice(INDEX_MAGIC);
    out.extend_from_slice(&(entries.len() as u32).to_be_bytes());
    let mut fanout = [0u32; 256];
    for (id, _) in entries.iter() {
        fanout[id.as_bytes()[0] as usize] += 1;
    }
    let mut running = 0;
    for slot in fanout.iter_mut() {
        running += *slot;
        *slot = running;
    }
    for count in fanout {
        out.extend_from_slice(&count.to_be_bytes());
    }
    for (id, offset) in entries.iter() {
        out.extend_from_slice(id.as_bytes());
        out.extend_from_slice(&offset.to_be_bytes());
    }
    out.extend_from_slice(pack_checksum.as_bytes());
    let checksum = ObjectId::sha256(&out);
    out.extend_from_slice(checksum.as_bytes());
    out
}
