//! The blame cache (`docs/formats.md` §11.1): whole-file blames stored in
//! `history/blame/HEX.mbl`, keyed by (commit, path, ignored revisions). A blame never changes
//! (history under a commit is immutable), so an entry is valid forever; the cache is bounded in
//! entries, and a damaged entry is ignored and written again.

use std::collections::HashMap;
use std::fs;
use std::path::PathBuf;
use std::sync::Arc;

use muse_core::{CommitId, ObjectId};
use muse_store::index::HistoryIndex;
use muse_store::Store;
use sha2::{Digest, Sha256};

use crate::walk::{blame_with_cache, file_at, CachedLine};
use crate::{Blame, BlameOptions, BlameResult, BlamedLine};

const MAGIC: &[u8; 8] = b"MUSEBLM1";
/// At most this many entries; past it, writing one removes half of the others.
const MAX_ENTRIES: usize = 4096;

/// Blames `path` at `commit` like [`crate::blame`], answering from the cache when it holds the
/// whole-file blame (a line range is cut from it), and storing whole-file blames it computes
/// (failures to store are ignored: a read-only store still answers). The walk also takes the
/// cached blame of any earlier commit it reaches. Returns the blame and whether it came from the
/// cache.
pub fn cached_blame(store: &Store, index: &HistoryIndex, commit: CommitId, path: &str, options: &BlameOptions) -> BlameResult<(Blame, bool)> {
    let path = path.trim_matches('/');
    let whole = BlameOptions { lines: None, ..options.clone() };
    if let Some(lines) = read_entry(store, commit, path, &whole) {
        let (_, blob) = file_at(store, commit, path)?;
        let content = store.objects().read(&blob)?.data;
        let total = crate::walk::line_count(&content) as usize;
        if lines.len() == total {
            let mut blame = Blame { commit, path: path.to_string(), content, lines };
            if let Some((start, end)) = options.lines {
                if start < 1 || start > end || end as usize > total {
                    return Err(crate::BlameError::BadRange { start, end, lines: total as u32 });
                }
                blame.lines = blame.lines[start as usize - 1..end as usize].to_vec();
            }
            return Ok((blame, true));
        }
    }
    let lookup = |id: CommitId, p: &str| -> Option<Vec<CachedLine>> {
        let lines = read_entry(store, id, p, &whole)?;
        let mut paths: HashMap<String, Arc<str>> = HashMap::new();
        Some(
            lines
                .into_iter()
                .map(|l| (l.commit, l.orig_line - 1, Arc::clone(paths.entry(l.orig_path.clone()).or_insert_with(|| Arc::from(l.orig_path)))))
                .collect(),
        )
    };
    let blame = blame_with_cache(store, index, commit, path, options, Some(&lookup))?;
    if options.lines.is_none() {
        let _ = write_entry(store, &blame, &whole);
    }
    Ok((blame, false))
}

fn dir(store: &Store) -> PathBuf {
    store.store_dir().join("history").join("blame")
}

/// The entry's file name: SHA-256 of the key, in hex.
fn key(commit: CommitId, path: &str, options: &BlameOptions) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"muse-blame-key 1\n");
    hasher.update(commit.0.to_hex());
    hasher.update(b"\n");
    hasher.update(path);
    hasher.update(b"\n");
    for id in &options.ignore {
        hasher.update(id.0.to_hex());
        hasher.update(b"\n");
    }
    format!("{}.mbl", hex::encode(hasher.finalize()))
}

/// The encoded entry: `MAGIC count:u32 paths:u32 (len:u32 bytes)×paths (commit[32] orig_line:u32
/// path:u32)×count sha256[32]`.
fn encode(blame: &Blame) -> Vec<u8> {
    let mut paths: Vec<&str> = Vec::new();
    let mut out = MAGIC.to_vec();
    let mut records = Vec::with_capacity(blame.lines.len() * 40);
    for line in &blame.lines {
        let at = match paths.iter().position(|p| *p == line.orig_path) {
            Some(at) => at,
            None => {
                paths.push(&line.orig_path);
                paths.len() - 1
            }
        };
        records.extend_from_slice(line.commit.0.as_bytes());
        records.extend_from_slice(&line.orig_line.to_le_bytes());
        records.extend_from_slice(&(at as u32).to_le_bytes());
    }
    out.extend_from_slice(&(blame.lines.len() as u32).to_le_bytes());
    out.extend_from_slice(&(paths.len() as u32).to_le_bytes());
    for path in paths {
        out.extend_from_slice(&(path.len() as u32).to_le_bytes());
        out.extend_from_slice(path.as_bytes());
    }
    out.extend_from_slice(&records);
    let sum = Sha256::digest(&out);
    out.extend_from_slice(&sum);
    out
}

/// Decodes an entry; `None` when damaged.
fn decode(bytes: &[u8]) -> Option<Vec<BlamedLine>> {
    let (body, sum) = bytes.split_at_checked(bytes.len().checked_sub(32)?)?;
    if Sha256::digest(body).as_slice() != sum || !body.starts_with(MAGIC) {
        return None;
    }
    let mut at = MAGIC.len();
    let u32_next = |at: &mut usize| -> Option<u32> {
        let value = u32::from_le_bytes(body.get(*at..*at + 4)?.try_into().ok()?);
        *at += 4;
        Some(value)
    };
    let count = u32_next(&mut at)? as usize;
    let path_count = u32_next(&mut at)? as usize;
    let mut paths = Vec::new();
    for _ in 0..path_count.min(body.len()) {
        let len = u32_next(&mut at)? as usize;
        let bytes = body.get(at..at.checked_add(len)?)?;
        paths.push(String::from_utf8(bytes.to_vec()).ok()?);
        at += len;
    }
    if body.len() - at != count.checked_mul(40)? {
        return None;
    }
    let mut lines = Vec::with_capacity(count);
    for (i, record) in body[at..].chunks_exact(40).enumerate() {
        let commit = CommitId(ObjectId::from_slice(&record[..32])?);
        let orig_line = u32::from_le_bytes(record[32..36].try_into().ok()?);
        let path = paths.get(u32::from_le_bytes(record[36..40].try_into().ok()?) as usize)?.clone();
        if orig_line == 0 {
            return None;
        }
        lines.push(BlamedLine { line: i as u32 + 1, commit, orig_line, orig_path: path });
    }
    Some(lines)
}

fn read_entry(store: &Store, commit: CommitId, path: &str, options: &BlameOptions) -> Option<Vec<BlamedLine>> {
    decode(&fs::read(dir(store).join(key(commit, path, options))).ok()?)
}

fn write_entry(store: &Store, blame: &Blame, options: &BlameOptions) -> std::io::Result<()> {
    muse_store::put_cache_entry(&dir(store), &key(blame.commit, &blame.path, options), &encode(blame), MAX_ENTRIES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_damage_is_refused() {
        let commit = CommitId(ObjectId::sha256(b"c"));
        let blame = Blame {
            commit,
            path: "a".into(),
            content: b"x\ny\n".to_vec(),
            lines: vec![
                BlamedLine { line: 1, commit, orig_line: 1, orig_path: "a".into() },
                BlamedLine { line: 2, commit, orig_line: 7, orig_path: "old/a".into() },
            ],
        };
        let bytes = encode(&blame);
        assert_eq!(decode(&bytes), Some(blame.lines.clone()));
        for at in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[at] ^= 1;
            assert_eq!(decode(&bad), None);
            assert_eq!(decode(&bytes[..at]), None);
        }
    }
}
