//! Finding where a file added by a commit came from, as git's blame does when the path is not in
//! a parent: rename detection between the parent's and the commit's snapshots, with deleted
//! files as the only sources (git's default `diff.renames`) and the blamed file as the only
//! destination: an exact rename first, then the one source of the same basename when similar
//! enough, then the most similar source by git's similarity estimate (at least 50%).

use std::collections::HashMap;

use muse_core::{EntryKind, ObjectId, TreeId};
use muse_store::snapshot::diff_snapshots;
use muse_store::Store;

use crate::BlameResult;

/// git's `MAX_SCORE`: similarity scores are out of this.
const MAX_SCORE: u64 = 60_000;
/// git's default minimum score for a rename (50%).
const MIN_SCORE: u64 = 30_000;
/// The score two files of the same unique basename need to pair early (git's
/// `basename_prefetch` threshold: halfway between the minimum and a perfect score).
const MIN_BASENAME_SCORE: u64 = MIN_SCORE + (MAX_SCORE - MIN_SCORE) / 2;
/// git's default `diff.renameLimit`: above this many sources × destinations squared, only exact
/// renames are looked for.
const RENAME_LIMIT: usize = 1000;
/// git's `HASHBASE` for similarity chunks.
const HASH_BASE: u32 = 107_927;

/// A file of one side of the diff.
#[derive(Clone)]
struct Side {
    path: String,
    kind: EntryKind,
    id: ObjectId,
}

/// Where `path` (added by the commit whose snapshot is `commit`) came from in the parent whose
/// snapshot is `parent`: the source path, its kind and blob; `None` if it was not renamed. As
/// in git's blame (`single_follow`), `path` is the only destination considered.
pub(crate) fn find_rename(store: &Store, parent: TreeId, commit: TreeId, path: &str) -> BlameResult<Option<(String, EntryKind, ObjectId)>> {
    let changes = diff_snapshots(store.objects(), Some(parent), Some(commit))?;
    let mut sources: Vec<Side> = Vec::new();
    let mut target = None;
    for change in changes {
        match (change.old, change.new) {
            (Some((kind, id)), None) => sources.push(Side { path: change.path, kind, id }),
            (None, Some((kind, id))) if change.path == path => target = Some(Side { path: change.path, kind, id }),
            _ => {}
        }
    }
    let Some(target) = target else { return Ok(None) };
    let found = |s: &Side| Some((s.path.clone(), s.kind, s.id));
    let name = basename(&target.path);
    // Exact renames: the same blob, a source of the same basename preferred.
    let exact: Vec<&Side> = sources.iter().filter(|s| s.id == target.id).collect();
    if let Some(s) = exact.iter().find(|s| basename(&s.path) == name).or(exact.first()) {
        return Ok(found(s));
    }
    if sources.len() > RENAME_LIMIT * RENAME_LIMIT {
        return Ok(None);
    }
    let mut chunks = ChunkCache { store, by_blob: HashMap::new() };
    // A source with the same basename, the only one with it, pairs early when similar enough.
    let same_name: Vec<&Side> = sources.iter().filter(|s| basename(&s.path) == name).collect();
    if let [only] = same_name.as_slice() {
        if chunks.score(only, &target)? >= MIN_BASENAME_SCORE {
            return Ok(found(only));
        }
    }
    // Else the most similar source (at least 50%); among equals, one of the same basename, then
    // the first by path.
    let mut best: Option<(u64, bool, &Side)> = None;
    for source in &sources {
        let score = chunks.score(source, &target)?;
        let same = basename(&source.path) == name;
        if score >= MIN_SCORE && best.is_none_or(|(s, n, _)| (score, same) > (s, n)) {
            best = Some((score, same, source));
        }
    }
    Ok(best.and_then(|(_, _, s)| found(s)))
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Chunk statistics of blobs, computed once each.
struct ChunkCache<'a> {
    store: &'a Store,
    by_blob: HashMap<ObjectId, (u64, HashMap<u32, u64>)>,
}

impl ChunkCache<'_> {
    fn stats(&mut self, id: ObjectId) -> BlameResult<&(u64, HashMap<u32, u64>)> {
        if !self.by_blob.contains_key(&id) {
            let data = self.store.objects().read(&id)?.data;
            let stats = (data.len() as u64, chunk_hashes(&data));
            self.by_blob.insert(id, stats);
        }
        Ok(&self.by_blob[&id])
    }

    /// git's `estimate_similarity`: 0 unless both are regular files of sizes close enough.
    fn score(&mut self, source: &Side, target: &Side) -> BlameResult<u64> {
        let regular = |k: EntryKind| matches!(k, EntryKind::File | EntryKind::Executable);
        if !regular(source.kind) || !regular(target.kind) {
            return Ok(0);
        }
        let (src_size, src) = self.stats(source.id)?.clone();
        let (dst_size, dst) = self.stats(target.id)?;
        let (max, min) = (src_size.max(*dst_size), src_size.min(*dst_size));
        if max == 0 || max * (MAX_SCORE - MIN_SCORE) < (max - min) * MAX_SCORE {
            return Ok(0);
        }
        let copied: u64 = src.iter().map(|(hash, count)| (*count).min(dst.get(hash).copied().unwrap_or(0))).sum();
        Ok(copied * MAX_SCORE / max)
    }
}

/// git's `hash_chars` (diffcore-delta.c): the content cut into chunks that end after a newline
/// or at 64 bytes (a carriage return before a newline skipped in text), each hashed into one
/// of [`HASH_BASE`] buckets; returns the bytes per bucket. A last chunk without a newline
/// that is shorter than 64 bytes is not counted, as in git.
pub fn chunk_hashes(data: &[u8]) -> HashMap<u32, u64> {
    let text = !muse_diff::is_binary(data);
    let mut out: HashMap<u32, u64> = HashMap::new();
    let (mut accum1, mut accum2, mut n) = (0u32, 0u32, 0u64);
    for (i, &c) in data.iter().enumerate() {
        if text && c == b'\r' && data.get(i + 1) == Some(&b'\n') {
            continue;
        }
        let old1 = accum1;
        accum1 = (accum1 << 7) ^ (accum2 >> 25);
        accum2 = (accum2 << 7) ^ (old1 >> 25);
        accum1 = accum1.wrapping_add(u32::from(c));
        n += 1;
        if n < 64 && c != b'\n' {
            continue;
        }
        let hash = accum1.wrapping_add(accum2.wrapping_mul(0x61)) % HASH_BASE;
        *out.entry(hash).or_default() += n;
        (accum1, accum2, n) = (0, 0, 0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_end_at_newlines_or_64_bytes_and_a_short_unterminated_tail_is_dropped() {
        let counts = chunk_hashes(b"abc\nabc\nxyz");
        assert_eq!(counts.values().sum::<u64>(), 8);
        assert_eq!(counts.len(), 1);
        let long = vec![b'a'; 130];
        assert_eq!(chunk_hashes(&long).values().sum::<u64>(), 128);
        assert_eq!(chunk_hashes(b"a\r\nb\r\n"), chunk_hashes(b"a\nb\n"));
    }
}
