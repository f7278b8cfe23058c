//! The bytes of one history-index segment (`docs/formats.md` §11): encoding a segment that was
//! built in memory, and reading a published one with every count and offset checked against the
//! file's length first, so that a damaged or hostile file is an error, never a panic or an
//! allocation larger than the file.

use std::collections::BTreeMap;

use muse_core::{CommitId, ObjectId};
use sha2::{Digest, Sha256};

/// The first 8 bytes of a segment.
const MAGIC: &[u8; 8] = b"MUSEHIX1";
/// The parent number of a root commit's changes: against the empty tree.
pub(crate) const ROOT_PARENT: u32 = u32::MAX;
/// Commit flag: more paths changed than the index lists; such a commit is answered from trees.
pub(crate) const FLAG_UNINDEXED: u32 = 1;
const HEADER_LEN: usize = 8 + 4 * 6;
const COMMIT_LEN: usize = 32 + 8 + 4 * 5;
const PATH_RECORD_LEN: usize = 16;
const POSTING_LEN: usize = 8;
const CHECKSUM_LEN: usize = 32;

/// One commit as a segment records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CommitRecord {
    /// The commit.
    pub id: CommitId,
    /// `committed_at` as seconds and nanoseconds since the epoch (the log's sort key).
    pub time: (i64, u32),
    /// 1 for a root commit, else 1 + the largest generation of its parents.
    pub generation: u32,
    /// The global positions of its parents, in order.
    pub parents: Vec<u32>,
    /// [`FLAG_UNINDEXED`] or 0.
    pub flags: u32,
}

/// A segment's content in memory: commits at global positions `base..base + commits.len()`, and
/// for each path the `(commit position, parent number)` pairs at which it changed, ascending.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct SegmentData {
    /// The global position of the first commit.
    pub base: u32,
    /// The commits, parents before children.
    pub commits: Vec<CommitRecord>,
    /// The change lists.
    pub paths: BTreeMap<String, Vec<(u32, u32)>>,
    /// How many pairs `paths` holds in all.
    pub postings: usize,
}

impl SegmentData {
    /// An empty segment whose first commit will have position `base`.
    pub fn new(base: u32) -> Self {
        SegmentData { base, ..SegmentData::default() }
    }

    /// Appends `later`, which must start where this one ends.
    pub fn append(&mut self, later: SegmentData) {
        self.commits.extend(later.commits);
        for (path, list) in later.paths {
            self.paths.entry(path).or_default().extend(list);
        }
        self.postings += later.postings;
    }

    /// The bytes of the segment, checksum included.
    pub fn encode(&self) -> Vec<u8> {
        let parents_len: usize = self.commits.iter().map(|c| c.parents.len()).sum();
        let names_len: usize = self.paths.keys().map(String::len).sum();
        let mut out = Vec::with_capacity(
            HEADER_LEN
                + self.commits.len() * COMMIT_LEN
                + parents_len * 4
                + self.paths.len() * PATH_RECORD_LEN
                + names_len
                + self.postings * POSTING_LEN
                + CHECKSUM_LEN,
        );
        out.extend_from_slice(MAGIC);
        for n in [self.base as usize, self.commits.len(), parents_len, self.paths.len(), names_len, self.postings] {
            out.extend_from_slice(&(n as u32).to_le_bytes());
        }
        let mut parent_at = 0u32;
        for c in &self.commits {
            out.extend_from_slice(c.id.0.as_bytes());
            out.extend_from_slice(&c.time.0.to_le_bytes());
            for n in [c.time.1, c.generation, parent_at, c.parents.len() as u32, c.flags] {
                out.extend_from_slice(&n.to_le_bytes());
            }
            parent_at += c.parents.len() as u32;
        }
        for c in &self.commits {
            for p in &c.parents {
                out.extend_from_slice(&p.to_le_bytes());
            }
        }
        let (mut name_at, mut posting_at) = (0u32, 0u32);
        for (path, list) in &self.paths {
            for n in [name_at, path.len() as u32, posting_at, list.len() as u32] {
                out.extend_from_slice(&n.to_le_bytes());
            }
            name_at += path.len() as u32;
            posting_at += list.len() as u32;
        }
        for path in self.paths.keys() {
            out.extend_from_slice(path.as_bytes());
        }
        for list in self.paths.values() {
            for (commit, parent) in list {
                out.extend_from_slice(&commit.to_le_bytes());
                out.extend_from_slice(&parent.to_le_bytes());
            }
        }
        let sum = Sha256::digest(&out);
        out.extend_from_slice(&sum);
        out
    }
}

/// The bytes of a published segment: mapped from its file, or owned (a catch-up that could not
/// be written, kept in memory).
pub(crate) enum SegmentBytes {
    /// A mapped file (published segments are never modified, only replaced and unlinked).
    Mapped(memmap2::Mmap),
    /// Bytes in memory.
    Owned(Vec<u8>),
}

impl std::ops::Deref for SegmentBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            SegmentBytes::Mapped(map) => map,
            SegmentBytes::Owned(bytes) => bytes,
        }
    }
}

/// A checked segment: a view over its bytes that answers path lookups without decoding.
pub(crate) struct Segment {
    bytes: SegmentBytes,
    base: u32,
    count: u32,
    commits_at: usize,
    parents_at: usize,
    records_at: usize,
    path_count: usize,
    names_at: usize,
    postings_at: usize,
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    bytes.get(at..at + 4).and_then(|b| b.try_into().ok()).map_or(0, u32::from_le_bytes)
}

fn i64_at(bytes: &[u8], at: usize) -> i64 {
    bytes.get(at..at + 8).and_then(|b| b.try_into().ok()).map_or(0, i64::from_le_bytes)
}

impl Segment {
    /// Checks the structure of `bytes` (every length, offset, position and path) and returns
    /// the view; `expected_base` is the number of commits in the segments before it. The
    /// checksum is checked by [`Segment::verify_checksum`] (by `fsck`), not here: opening stays
    /// one pass over the tables.
    pub fn parse(bytes: SegmentBytes, expected_base: u32) -> Result<Segment, String> {
        let b: &[u8] = &bytes;
        if b.len() < HEADER_LEN + CHECKSUM_LEN || &b[..8] != MAGIC {
            return Err("not a history-index segment (bad magic or too short)".into());
        }
        let field = |i: usize| u32_at(b, 8 + 4 * i) as usize;
        let (base, count, parents_len, path_count, names_len, postings_len) = (field(0), field(1), field(2), field(3), field(4), field(5));
        if base != expected_base as usize {
            return Err(format!("starts at commit {base}, but the segments before it hold {expected_base}"));
        }
        let commits_at = HEADER_LEN;
        let parents_at = commits_at + count * COMMIT_LEN;
        let records_at = parents_at + parents_len * 4;
        let names_at = records_at + path_count * PATH_RECORD_LEN;
        let postings_at = names_at + names_len;
        let end = postings_at + postings_len * POSTING_LEN + CHECKSUM_LEN;
        if end != b.len() {
            return Err(format!("its tables need {end} bytes, the file has {}", b.len()));
        }
        let end_position = base.checked_add(count).filter(|n| *n < ROOT_PARENT as usize).ok_or("too many commits")? as u32;
        let segment = Segment { base: base as u32, count: count as u32, commits_at, parents_at, records_at, path_count, names_at, postings_at, bytes };
        segment.check_tables(parents_len, names_len, postings_len, end_position)?;
        Ok(segment)
    }

    fn check_tables(&self, parents_len: usize, names_len: usize, postings_len: usize, end_position: u32) -> Result<(), String> {
        let b: &[u8] = &self.bytes;
        let mut parent_counts = Vec::with_capacity(self.count as usize);
        for i in 0..self.count {
            let at = self.commits_at + i as usize * COMMIT_LEN;
            let (start, n) = (u32_at(b, at + 48) as usize, u32_at(b, at + 52) as usize);
            if start.checked_add(n).is_none_or(|e| e > parents_len) {
                return Err(format!("commit {} has parents outside the parent table", self.base + i));
            }
            for k in 0..n {
                if u32_at(b, self.parents_at + 4 * (start + k)) >= self.base + i {
                    return Err(format!("commit {} has a parent that is not before it", self.base + i));
                }
            }
            parent_counts.push(n as u32);
        }
        let mut previous: Option<&[u8]> = None;
        for r in 0..self.path_count {
            let at = self.records_at + r * PATH_RECORD_LEN;
            let (name_at, name_len) = (u32_at(b, at) as usize, u32_at(b, at + 4) as usize);
            let (post_at, post_len) = (u32_at(b, at + 8) as usize, u32_at(b, at + 12) as usize);
            let name = name_at
                .checked_add(name_len)
                .filter(|e| *e <= names_len)
                .map(|e| &b[self.names_at + name_at..self.names_at + e])
                .ok_or("a path outside the name table")?;
            if std::str::from_utf8(name).is_err() || previous.is_some_and(|p| p >= name) {
                return Err("paths not valid UTF-8 or not strictly sorted".into());
            }
            previous = Some(name);
            if post_at.checked_add(post_len).is_none_or(|e| e > postings_len) {
                return Err("a change list outside the change table".into());
            }
            for k in post_at..post_at + post_len {
                let (commit, parent) = self.posting(k);
                let own = commit.checked_sub(self.base).filter(|_| commit < end_position).ok_or("a change names a commit outside its segment")?;
                let parents = parent_counts[own as usize];
                if !(parent < parents || (parent == ROOT_PARENT && parents == 0)) {
                    return Err(format!("a change names parent {parent} of commit {commit}, which has {parents}"));
                }
            }
        }
        Ok(())
    }

    /// Whether the trailing checksum matches the content.
    pub fn verify_checksum(&self) -> bool {
        let b: &[u8] = &self.bytes;
        let split = b.len() - CHECKSUM_LEN;
        Sha256::digest(&b[..split]).as_slice() == &b[split..]
    }

    /// The checksum (the file's name in the chain, in hex).
    pub fn checksum(&self) -> &[u8] {
        &self.bytes[self.bytes.len() - CHECKSUM_LEN..]
    }

    /// The size in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// The number of commits.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The `i`-th commit of the segment (`i < count`).
    pub fn commit(&self, i: u32) -> CommitRecord {
        let b: &[u8] = &self.bytes;
        let at = self.commits_at + i as usize * COMMIT_LEN;
        let id = ObjectId::from_slice(b.get(at..at + 32).unwrap_or(&[0; 32])).map_or(CommitId(ObjectId::sha256(b"")), CommitId);
        let (start, n) = (u32_at(b, at + 48) as usize, u32_at(b, at + 52) as usize);
        CommitRecord {
            id,
            time: (i64_at(b, at + 32), u32_at(b, at + 40)),
            generation: u32_at(b, at + 44),
            parents: (start..start + n).map(|k| u32_at(b, self.parents_at + 4 * k)).collect(),
            flags: u32_at(b, at + 56),
        }
    }

    fn posting(&self, k: usize) -> (u32, u32) {
        let at = self.postings_at + k * POSTING_LEN;
        (u32_at(&self.bytes, at), u32_at(&self.bytes, at + 4))
    }

    fn record(&self, r: usize) -> (&[u8], usize, usize) {
        let b: &[u8] = &self.bytes;
        let at = self.records_at + r * PATH_RECORD_LEN;
        let (name_at, name_len) = (self.names_at + u32_at(b, at) as usize, u32_at(b, at + 4) as usize);
        (b.get(name_at..name_at + name_len).unwrap_or_default(), u32_at(b, at + 8) as usize, u32_at(b, at + 12) as usize)
    }

    /// The `(commit position, parent number)` pairs at which `path` changed in this segment.
    pub fn changes(&self, path: &str) -> Vec<(u32, u32)> {
        let (mut lo, mut hi) = (0, self.path_count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let (name, start, len) = self.record(mid);
            match name.cmp(path.as_bytes()) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return (start..start + len).map(|k| self.posting(k)).collect(),
            }
        }
        Vec::new()
    }

    /// The whole content, decoded (to merge segments, and for `fsck`).
    pub fn decode(&self) -> SegmentData {
        let mut data = SegmentData::new(self.base);
        data.commits = (0..self.count).map(|i| self.commit(i)).collect();
        for r in 0..self.path_count {
            let (name, start, len) = self.record(r);
            let list: Vec<(u32, u32)> = (start..start + len).map(|k| self.posting(k)).collect();
            data.postings += list.len();
            data.paths.insert(String::from_utf8_lossy(name).into_owned(), list);
        }
        data
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SegmentData {
        let id = |n: u8| CommitId(ObjectId::sha256(&[n]));
        let mut data = SegmentData::new(0);
        data.commits.push(CommitRecord { id: id(1), time: (1_700_000_000, 0), generation: 1, parents: vec![], flags: 0 });
        data.commits.push(CommitRecord { id: id(2), time: (1_700_000_060, 5), generation: 2, parents: vec![0], flags: 0 });
        data.paths.insert(String::new(), vec![(0, ROOT_PARENT), (1, 0)]);
        data.paths.insert("a.txt".into(), vec![(0, ROOT_PARENT), (1, 0)]);
        data.postings = 4;
        data
    }

    #[test]
    fn a_segment_round_trips_and_answers_lookups() {
        let data = sample();
        let segment = Segment::parse(SegmentBytes::Owned(data.encode()), 0).unwrap();
        assert!(segment.verify_checksum());
        assert_eq!(segment.decode(), data);
        assert_eq!(segment.changes("a.txt"), vec![(0, ROOT_PARENT), (1, 0)]);
        assert_eq!(segment.changes("b.txt"), vec![]);
        assert!(Segment::parse(SegmentBytes::Owned(data.encode()), 1).is_err());
    }

    /// The test vector of `docs/formats.md` §11.
    #[test]
    fn the_documented_test_vector_matches() {
        let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/formats.md")).unwrap();
        let start = doc.find("<!-- history-vector:begin -->").unwrap();
        let end = doc.find("<!-- history-vector:end -->").unwrap();
        let hex_text: String = doc[start..end].lines().filter_map(|l| l.strip_prefix("segment: ")).collect();
        let actual = hex::encode(sample().encode());
        assert_eq!(hex_text, actual, "docs/formats.md §11 test vector");
    }

    #[test]
    fn every_truncation_and_byte_flip_is_refused_or_harmless() {
        let bytes = sample().encode();
        for len in 0..bytes.len() {
            assert!(Segment::parse(SegmentBytes::Owned(bytes[..len].to_vec()), 0).is_err());
        }
        for at in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[at] ^= 0x5a;
            if let Ok(segment) = Segment::parse(SegmentBytes::Owned(bad), 0) {
                // Structurally valid: the checksum tells.
                assert!(!segment.verify_checksum());
                let _ = segment.decode();
            }
        }
    }
}
