//! The local pack format: many objects in one append-only file, found through a sorted index.
//!
//! Layout (see `docs/formats.md` §6; fixed-width integers big-endian, varints LEB128):
//!
//! ```text
//! pack   := "MUSEPACK" u32:version=3 entry* sha256(all preceding bytes)
//! entry  := u8:tag varint:size varint:payload_len [base] payload
//! tag    := kind (1 blob, 2 tree, 3 commit) | encoding << 4 (0 whole, 1 delta against the
//!           object id[32], 2 delta against the entry varint:distance bytes before this one)
//! payload:= one zstd frame without its 4-byte magic number
//! index  := "MUSEIDX3" u32:count [u32;256]:fanout id[32]*count u32:offset*count
//!           u64:large_offset* 32:pack_checksum sha256(all preceding index bytes)
//! ```

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use muse_core::{IdPrefix, ObjectId};

use crate::error::{IoContext, Result, StoreError};

/// Magic bytes opening a pack file.
pub(crate) const PACK_MAGIC: &[u8; 8] = b"MUSEPACK";
/// Magic bytes opening an index file (the `3` follows the pack version).
pub(crate) const INDEX_MAGIC: &[u8; 8] = b"MUSEIDX3";
/// The pack format version this code writes and reads.
/// Version 3 (varint entry headers, delta bases by offset, magicless zstd frames, a compact
/// index) is a clean break: version 2 and older packs are refused.
pub(crate) const PACK_VERSION: u32 = 3;
/// Bytes before the first entry of a pack.
pub(crate) const PACK_HEADER_LEN: u64 = 12;
/// The 4-byte magic number opening every standard zstd frame; store packs omit it.
pub(crate) const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
/// The most bytes a varint may take (enough for any u64).
const MAX_VARINT_LEN: usize = 10;
/// The most bytes an entry header takes: tag, two varints and a base id.
const MAX_ENTRY_HEADER_LEN: usize = 1 + 2 * MAX_VARINT_LEN + 32;
/// Where the ids of an index start: after magic, count and fanout.
const INDEX_IDS_AT: usize = 12 + 1024;
/// Bytes of an index besides its tables: magic, count, fanout, the two checksums.
const INDEX_FIXED_LEN: usize = INDEX_IDS_AT + 64;
/// An offset entry with this bit set is an index into the large-offset table.
const LARGE_OFFSET_FLAG: u32 = 1 << 31;
/// Encoding nibble: one zstd frame of the whole object.
const ENCODING_WHOLE: u8 = 0;
/// Encoding nibble: a delta whose base is named by its id.
const ENCODING_DELTA_ID: u8 = 1;
/// Encoding nibble: a delta whose base is an earlier entry of the same pack.
const ENCODING_DELTA_BACK: u8 = 2;

pub use muse_core::ObjectKind;

/// How an entry's payload encodes the object's bytes, as writers and transfer code see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// One zstd frame of the whole object.
    Zstd,
    /// One zstd frame compressed with the base object's bytes as a raw-content prefix. A pack
    /// writer stores the base as an offset when it is earlier in the same pack, else by id.
    ZstdDelta(ObjectId),
}

/// Where a stored delta's base is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Base {
    /// Not a delta.
    None,
    /// The object with this id, in any pack of the store.
    Id(ObjectId),
    /// The entry at this offset of the same pack (strictly before the delta).
    Offset(u64),
}

/// A decoded entry header.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EntryHeader {
    pub kind: ObjectKind,
    pub base: Base,
    pub size: u64,
    /// Stored payload bytes (the frame without its magic number).
    pub payload_len: u64,
    /// Offset of the payload in the pack file.
    pub payload_offset: u64,
}

/// Appends `value` as an unsigned LEB128 varint in its shortest form.
pub(crate) fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads a varint from the start of `bytes`: its value and length, or why it is malformed.
fn get_varint(bytes: &[u8]) -> std::result::Result<(u64, usize), &'static str> {
    let mut value = 0u64;
    for (i, &byte) in bytes.iter().take(MAX_VARINT_LEN).enumerate() {
        if i == MAX_VARINT_LEN - 1 && byte > 1 {
            return Err("a varint overflows 64 bits");
        }
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            if byte == 0 && i > 0 {
                return Err("a varint is not in its shortest form");
            }
            return Ok((value, i + 1));
        }
    }
    Err(if bytes.len() >= MAX_VARINT_LEN { "a varint is longer than 10 bytes" } else { "header truncated" })
}

/// The stored form of a delta base when encoding an entry header.
#[derive(Debug, Clone, Copy)]
pub(crate) enum StoredBase {
    /// A whole object.
    None,
    /// A delta whose base is named by id.
    Id(ObjectId),
    /// A delta whose base starts this many bytes before the entry.
    Distance(u64),
}

/// Encodes an entry header; `payload_len` is the stored payload's length (without the magic).
pub(crate) fn encode_entry_header(kind: ObjectKind, base: StoredBase, size: u64, payload_len: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAX_ENTRY_HEADER_LEN);
    let encoding = match base {
        StoredBase::None => ENCODING_WHOLE,
        StoredBase::Id(_) => ENCODING_DELTA_ID,
        StoredBase::Distance(_) => ENCODING_DELTA_BACK,
    };
    out.push(kind as u8 | encoding << 4);
    put_varint(&mut out, size);
    put_varint(&mut out, payload_len);
    match base {
        StoredBase::None => {}
        StoredBase::Id(id) => out.extend_from_slice(id.as_bytes()),
        StoredBase::Distance(distance) => put_varint(&mut out, distance),
    }
    out
}

/// One pack file with its index loaded in memory.
pub(crate) struct Pack {
    pub pack_path: PathBuf,
    pub index_path: PathBuf,
    file: File,
    pack_len: u64,
    count: usize,
    fanout: Box<[u32; 256]>,
    /// Entries of the large-offset table.
    large: usize,
    /// The whole index file, memory-mapped so that opening a store reads nothing up front.
    index: memmap2::Mmap,
    /// Index positions sorted by entry offset, built on first need (resolving a delta base
    /// given by offset to its id).
    by_offset: OnceLock<Box<[u32]>>,
    /// When this process last freshened the pack (seconds since the epoch; 0: never).
    freshened: std::sync::atomic::AtomicU64,
}

impl Pack {
    /// Opens `NAME.idx` and its `NAME.pack`, checking the index's structure (magic, length,
    /// fanout). The checksums, the id order and the offsets are checked by [`Pack::verify`]
    /// (fsck), so opening a store stays cheap for every command.
    pub fn open(index_path: &Path) -> Result<Pack> {
        let pack_path = index_path.with_extension("pack");
        let corrupt = |reason: &str| StoreError::CorruptPack { path: index_path.to_path_buf(), reason: reason.to_string() };
        let index_file = File::open(index_path).ctx("open", index_path)?;
        // SAFETY: index files are written once, published by rename, and never modified or
        // truncated afterwards (only removed, which keeps an existing mapping valid).
        let bytes = unsafe { memmap2::Mmap::map(&index_file) }.ctx("map", index_path)?;
        if bytes.len() < INDEX_FIXED_LEN || &bytes[..8] != INDEX_MAGIC {
            return Err(corrupt("not a version 3 muse pack index"));
        }
        let count = u32::from_be_bytes(bytes[8..12].try_into().expect("4 bytes")) as usize;
        let tables = bytes.len() - INDEX_FIXED_LEN;
        let large = match tables.checked_sub(count * 36) {
            Some(rest) if rest % 8 == 0 => rest / 8,
            _ => return Err(corrupt("index length does not match its entry count")),
        };
        let mut fanout = Box::new([0u32; 256]);
        for (i, slot) in fanout.iter_mut().enumerate() {
            *slot = u32::from_be_bytes(bytes[12 + 4 * i..16 + 4 * i].try_into().expect("4 bytes"));
        }
        if fanout[255] as usize != count || fanout.windows(2).any(|w| w[0] > w[1]) {
            return Err(corrupt("index fanout table is inconsistent"));
        }
        let file = File::open(&pack_path).ctx("open", &pack_path)?;
        let pack_len = file.metadata().ctx("stat", &pack_path)?.len();
        Ok(Pack {
            pack_path,
            index_path: index_path.to_path_buf(),
            file,
            pack_len,
            count,
            fanout,
            large,
            index: bytes,
            by_offset: OnceLock::new(),
            freshened: Default::default(),
        })
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

    /// Checks the index checksum, the strict order of its ids, its offsets (each names a
    /// distinct position inside the pack, large ones through the large-offset table, used
    /// once each and in order) and the pack's trailing checksum.
    pub fn verify(&self) -> Result<()> {
        let corrupt = |reason: &str| StoreError::CorruptPack { path: self.index_path.clone(), reason: reason.to_string() };
        let (body, checksum) = self.index.split_at(self.index.len() - 32);
        if ObjectId::sha256(body).as_bytes() != checksum {
            return Err(corrupt("index checksum mismatch"));
        }
        if (1..self.len()).any(|i| self.id_at(i - 1) >= self.id_at(i)) {
            return Err(corrupt("index ids are not strictly sorted"));
        }
        let mut next_large = 0;
        for i in 0..self.len() {
            let raw = self.raw_offset_at(i);
            if raw & LARGE_OFFSET_FLAG != 0 {
                if (raw & !LARGE_OFFSET_FLAG) as usize != next_large || self.offset_at(i) < u64::from(LARGE_OFFSET_FLAG) {
                    return Err(corrupt("index large offsets are not used once each, in order, for large offsets only"));
                }
                next_large += 1;
            }
            let offset = self.offset_at(i);
            if offset < PACK_HEADER_LEN || offset >= self.pack_len.saturating_sub(32) {
                return Err(corrupt("index offset outside the pack's entries"));
            }
        }
        if next_large != self.large {
            return Err(corrupt("index large-offset table has unused entries"));
        }
        let sorted = self.by_offset();
        if sorted.windows(2).any(|w| self.offset_at(w[0] as usize) == self.offset_at(w[1] as usize)) {
            return Err(corrupt("two index entries share an offset"));
        }
        self.verify_checksum()
    }

    /// The number of objects in the pack.
    pub fn len(&self) -> usize {
        self.count
    }

    /// The size of the pack file in bytes.
    pub fn pack_len(&self) -> u64 {
        self.pack_len
    }

    fn id_at(&self, i: usize) -> ObjectId {
        let at = INDEX_IDS_AT + i * 32;
        ObjectId::from_slice(&self.index[at..at + 32]).expect("32 bytes")
    }

    fn raw_offset_at(&self, i: usize) -> u32 {
        let at = INDEX_IDS_AT + self.count * 32 + i * 4;
        u32::from_be_bytes(self.index[at..at + 4].try_into().expect("4 bytes"))
    }

    /// The entry offset at index position `i`; `u64::MAX` (past any pack) when it names a
    /// large-offset slot that does not exist.
    fn offset_at(&self, i: usize) -> u64 {
        let raw = self.raw_offset_at(i);
        if raw & LARGE_OFFSET_FLAG == 0 {
            return u64::from(raw);
        }
        let slot = (raw & !LARGE_OFFSET_FLAG) as usize;
        if slot >= self.large {
            return u64::MAX;
        }
        let at = INDEX_IDS_AT + self.count * 36 + slot * 8;
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

    /// Index positions in the order of their entries in the pack.
    fn by_offset(&self) -> &[u32] {
        self.by_offset.get_or_init(|| {
            let mut positions: Vec<u32> = (0..self.count as u32).collect();
            positions.sort_unstable_by_key(|&i| self.offset_at(i as usize));
            positions.into_boxed_slice()
        })
    }

    /// The id of the entry that starts at `offset`, if one does.
    pub fn id_at_offset(&self, offset: u64) -> Option<ObjectId> {
        let sorted = self.by_offset();
        let at = sorted.binary_search_by_key(&offset, |&i| self.offset_at(i as usize)).ok()?;
        Some(self.id_at(sorted[at] as usize))
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

    /// Every `(id, entry offset)` in the order of the entries in the pack (delta bases given
    /// by offset come before their deltas).
    pub fn iter_by_offset(&self) -> impl Iterator<Item = (ObjectId, u64)> + '_ {
        self.by_offset().iter().map(|&i| (self.id_at(i as usize), self.offset_at(i as usize)))
    }

    /// Reads and checks the header of the entry at `offset`. A base given by distance is
    /// returned as the offset it names, checked to lie after the pack header and before this
    /// entry (whether an entry starts there is checked by [`Pack::id_at_offset`]).
    pub fn header_at(&self, offset: u64) -> Result<EntryHeader> {
        let corrupt = |reason: &str| StoreError::CorruptPack { path: self.pack_path.clone(), reason: format!("entry at offset {offset}: {reason}") };
        let end = self.pack_len.saturating_sub(32);
        if offset < PACK_HEADER_LEN || offset >= end {
            return Err(corrupt("outside the pack's entries"));
        }
        let mut buf = [0u8; MAX_ENTRY_HEADER_LEN];
        let avail = (end - offset).min(buf.len() as u64) as usize;
        self.file.read_exact_at(&mut buf[..avail], offset).ctx("read", &self.pack_path)?;
        let buf = &buf[..avail];
        let kind = ObjectKind::from_code(buf[0] & 0x0f).ok_or_else(|| corrupt("unknown object kind"))?;
        let encoding = buf[0] >> 4;
        let mut at = 1;
        let varint = |at: &mut usize| -> Result<u64> {
            let (value, len) = get_varint(&buf[*at..]).map_err(corrupt)?;
            *at += len;
            Ok(value)
        };
        let size = varint(&mut at)?;
        let payload_len = varint(&mut at)?;
        let base = match encoding {
            ENCODING_WHOLE => Base::None,
            ENCODING_DELTA_ID => {
                let id = buf.get(at..at + 32).ok_or_else(|| corrupt("header truncated"))?;
                at += 32;
                Base::Id(ObjectId::from_slice(id).expect("32 bytes"))
            }
            ENCODING_DELTA_BACK => {
                let distance = varint(&mut at)?;
                match offset.checked_sub(distance) {
                    Some(base) if distance > 0 && base >= PACK_HEADER_LEN => Base::Offset(base),
                    _ => return Err(corrupt("delta base distance does not point at an earlier entry")),
                }
            }
            _ => return Err(corrupt("unknown encoding")),
        };
        let payload_offset = offset + at as u64;
        if payload_offset.checked_add(payload_len).is_none_or(|payload_end| payload_end > end) {
            return Err(corrupt("payload runs past the end of the pack"));
        }
        Ok(EntryHeader { kind, base, size, payload_len, payload_offset })
    }

    /// Reads an entry's payload into memory as a standard zstd frame (magic number restored).
    /// Its length is bounded by the pack file's (checked by [`Pack::header_at`]).
    pub fn read_payload(&self, header: &EntryHeader) -> Result<Vec<u8>> {
        let len =
            usize::try_from(header.payload_len).map_err(|_| StoreError::CorruptPack { path: self.pack_path.clone(), reason: "payload too large".into() })?;
        let mut buf = vec![0u8; len + ZSTD_MAGIC.len()];
        buf[..4].copy_from_slice(&ZSTD_MAGIC);
        self.file.read_exact_at(&mut buf[4..], header.payload_offset).ctx("read", &self.pack_path)?;
        Ok(buf)
    }

    /// A reader over an entry's payload as a standard zstd frame (magic number restored), for
    /// streaming large objects.
    pub fn payload_reader(&self, header: &EntryHeader) -> impl Read + '_ {
        (&ZSTD_MAGIC[..]).chain(RegionReader { file: &self.file, offset: header.payload_offset, remaining: header.payload_len })
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
            return Err(corrupt("bad magic or version (not a version 3 pack)"));
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
pub(crate) struct RegionReader<'a> {
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
    let mut out = Vec::with_capacity(INDEX_FIXED_LEN + entries.len() * 36);
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
    for (id, _) in entries.iter() {
        out.extend_from_slice(id.as_bytes());
    }
    let mut large = Vec::new();
    for (_, offset) in entries.iter() {
        let small = match u32::try_from(*offset) {
            Ok(small) if small & LARGE_OFFSET_FLAG == 0 => small,
            _ => {
                large.push(*offset);
                LARGE_OFFSET_FLAG | (large.len() as u32 - 1)
            }
        };
        out.extend_from_slice(&small.to_be_bytes());
    }
    for offset in large {
        out.extend_from_slice(&offset.to_be_bytes());
    }
    out.extend_from_slice(pack_checksum.as_bytes());
    let checksum = ObjectId::sha256(&out);
    out.extend_from_slice(checksum.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_and_malformed_ones_are_refused() {
        for value in [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, value);
            assert_eq!(get_varint(&out), Ok((value, out.len())));
        }
        assert!(get_varint(&[0x80, 0x00]).is_err(), "not the shortest form");
        assert!(get_varint(&[0xff; 9].iter().copied().chain([0x02]).collect::<Vec<_>>()).is_err(), "overflow");
        assert!(get_varint(&[0x80]).is_err(), "truncated");
        assert!(get_varint(&[0x80; 11]).is_err(), "too long");
    }
}
