//! The stat cache: for each file of a working copy, the stat fields it had when it was hashed and
//! its id, plus the snapshot the working copy is based on. A clean tree is answered by comparing
//! stat fields, without reading any file.
//!
//! The file is a cache: it is written atomically without fsync, checked by a trailing 64-bit
//! checksum (fast, not cryptographic: it guards against damage, and the file is never trusted
//! across machines), and simply ignored (everything is re-hashed) when missing, damaged or of
//! another version.
//!
//! ```text
//! "MUSESC03" base_snapshot[32] scan_started_ns:i64 count:u32 paths_len:u32
//!            path_len:u16 × count   paths (paths_len bytes, all paths back to back)
//!            record × count         checksum:u64
//! record := flags:u8 [base_kind:u8 base_id[32]] [work_kind:u8 [work_id[32]] mtime:i64 ctime:i64 size:u64 ino:u64]
//! flags := bit0 has base, bit1 has work, bit2 work id equals base id (work_id omitted)
//! ```

use std::path::Path;

use muse_core::{EntryKind, ObjectId, TreeId};

use super::walk::FileStat;
use crate::fsutil::write_atomic_with;

const MAGIC: &[u8; 8] = b"MUSESC03";
const HAS_BASE: u8 = 1;
const HAS_WORK: u8 = 2;
const SAME_ID: u8 = 4;

/// What the working copy had at a path when last scanned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkInfo {
    /// Its kind.
    pub kind: EntryKind,
    /// The id of its content.
    pub id: ObjectId,
    /// The stat fields it had when hashed.
    pub stat: FileStat,
}

/// One path of the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry {
    /// The path, `/`-separated.
    pub path: String,
    /// Its kind and blob in the base snapshot.
    pub base: Option<(EntryKind, ObjectId)>,
    /// Its kind, blob and stat in the working copy.
    pub work: Option<WorkInfo>,
}

/// The whole cache of one working copy.
#[derive(Debug, Clone, Default)]
pub struct StatCache {
    /// The snapshot the `base` fields describe.
    pub base_snapshot: Option<TreeId>,
    /// When the scan that produced the cache started; files modified after (or shortly before)
    /// it are not trusted, since a later change may keep the same stat fields.
    pub scan_started_ns: i64,
    /// Entries sorted by path bytes.
    pub entries: Vec<CacheEntry>,
}

impl StatCache {
    /// Loads the cache at `path`; a missing or damaged file gives an empty cache.
    pub fn load(path: &Path) -> StatCache {
        std::fs::read(path).ok().and_then(|bytes| decode(&bytes)).unwrap_or_default()
    }

    /// Writes the cache atomically (without fsync: a crash loses at most the cache).
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        write_atomic_with(path, &self.encode(), false)
    }

    fn encode(&self) -> Vec<u8> {
        let paths_len: usize = self.entries.iter().map(|e| e.path.len()).sum();
        let mut out = Vec::with_capacity(64 + paths_len + self.entries.len() * 80);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(self.base_snapshot.map(|t| *t.0.as_bytes()).unwrap_or([0; 32]).as_slice());
        out.extend_from_slice(&self.scan_started_ns.to_be_bytes());
        out.extend_from_slice(&(self.entries.len() as u32).to_be_bytes());
        out.extend_from_slice(&(paths_len as u32).to_be_bytes());
        // Paths are kept together so that a load validates them as UTF-8 in one pass.
        for e in &self.entries {
            out.extend_from_slice(&(e.path.len() as u16).to_be_bytes());
        }
        for e in &self.entries {
            out.extend_from_slice(e.path.as_bytes());
        }
        for e in &self.entries {
            let same = matches!((e.base, e.work), (Some((_, b)), Some(w)) if b == w.id);
            let flags = (u8::from(e.base.is_some()) * HAS_BASE) | (u8::from(e.work.is_some()) * HAS_WORK) | (u8::from(same) * SAME_ID);
            out.push(flags);
            if let Some((kind, id)) = e.base {
                out.push(kind.code());
                out.extend_from_slice(id.as_bytes());
            }
            if let Some(w) = e.work {
                out.push(w.kind.code());
                if !same {
                    out.extend_from_slice(w.id.as_bytes());
                }
                for v in [w.stat.mtime_ns, w.stat.ctime_ns] {
                    out.extend_from_slice(&v.to_be_bytes());
                }
                for v in [w.stat.size, w.stat.ino] {
                    out.extend_from_slice(&v.to_be_bytes());
                }
            }
        }
        let sum = checksum(&out);
        out.extend_from_slice(&sum.to_be_bytes());
        out
    }
}

/// A fast 64-bit checksum: 8-byte words mixed with a multiply and a rotation (several GB/s).
fn checksum(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut chunks = bytes.chunks_exact(8);
    let mut h = bytes.len() as u64 ^ K;
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        h = (h ^ word).wrapping_mul(K).rotate_left(29);
    }
    let mut tail = [0u8; 8];
    tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    h = (h ^ u64::from_le_bytes(tail)).wrapping_mul(K);
    h ^ (h >> 32)
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let slice = self.bytes.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(slice)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8).map(|b| u64::from_be_bytes(b.try_into().expect("8 bytes")))
    }
    fn id(&mut self) -> Option<ObjectId> {
        self.take(32).and_then(ObjectId::from_slice)
    }
}

fn decode(bytes: &[u8]) -> Option<StatCache> {
    if bytes.len() < 8 + 32 + 8 + 4 + 4 + 8 || &bytes[..8] != MAGIC {
        return None;
    }
    let (body, sum) = bytes.split_at(bytes.len() - 8);
    if checksum(body).to_be_bytes() != sum {
        return None;
    }
    let mut c = Cursor { bytes: body, pos: 8 };
    let base = c.id()?;
    let base_snapshot = (base.as_bytes() != &[0; 32]).then_some(TreeId(base));
    let scan_started_ns = c.u64()? as i64;
    let count = u32::from_be_bytes(c.take(4)?.try_into().ok()?) as usize;
    let paths_len = u32::from_be_bytes(c.take(4)?.try_into().ok()?) as usize;
    let lengths = c.take(count.checked_mul(2)?)?;
    let paths = std::str::from_utf8(c.take(paths_len)?).ok()?;
    let mut entries = Vec::with_capacity(count);
    let mut path_at = 0;
    for len in lengths.chunks_exact(2) {
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        let path = paths.get(path_at..path_at + len)?.to_string();
        path_at += len;
        let flags = c.u8()?;
        let base = if flags & HAS_BASE != 0 { Some((EntryKind::from_code(c.u8()?)?, c.id()?)) } else { None };
        let work = if flags & HAS_WORK != 0 {
            let kind = EntryKind::from_code(c.u8()?)?;
            let id = if flags & SAME_ID != 0 { base?.1 } else { c.id()? };
            let (mtime_ns, ctime_ns) = (c.u64()? as i64, c.u64()? as i64);
            Some(WorkInfo { kind, id, stat: FileStat { mtime_ns, ctime_ns, size: c.u64()?, ino: c.u64()? } })
        } else {
            None
        };
        entries.push(CacheEntry { path, base, work });
    }
    (c.pos == body.len() && path_at == paths_len).then_some(StatCache { base_snapshot, scan_started_ns, entries })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_damage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("statcache");
        let id = ObjectId::sha256(b"a");
        let stat = FileStat { mtime_ns: 5, ctime_ns: 6, size: 7, ino: 8 };
        let cache = StatCache {
            base_snapshot: Some(TreeId(ObjectId::sha256(b"t"))),
            scan_started_ns: 99,
            entries: vec![
                CacheEntry { path: "a".into(), base: Some((EntryKind::File, id)), work: Some(WorkInfo { kind: EntryKind::File, id, stat }) },
                CacheEntry { path: "b".into(), base: None, work: Some(WorkInfo { kind: EntryKind::Executable, id: ObjectId::sha256(b"b"), stat }) },
                CacheEntry { path: "c".into(), base: Some((EntryKind::Symlink, id)), work: None },
            ],
        };
        cache.save(&path).unwrap();
        let back = StatCache::load(&path);
        assert_eq!(back.entries, cache.entries);
        assert_eq!(back.base_snapshot, cache.base_snapshot);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[20] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        assert!(StatCache::load(&path).entries.is_empty());
    }
}
