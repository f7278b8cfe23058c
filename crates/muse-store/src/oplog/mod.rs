//! The operation log: every command that moves refs, HEAD or a working copy appends one
//! [`Operation`] (what ran, when, by whom, in which working copy, and each ref and HEAD it moved,
//! old → new), so that `muse undo` and `muse op restore` can put them back. The format is in
//! docs/formats.md §Operation log.
//!
//! The log is one append-only file, `.muse/oplog`: a magic line, then records of
//! `u32 length (little-endian) ‖ JSON payload ‖ SHA-256(payload)`. Appends happen under an
//! exclusive `flock` on `.muse/oplog.lock`, end with an fsync, and number the operations
//! (1, 2, …) from the last record, so operations from concurrent processes and workspaces are
//! serialized and none is lost. A record cut short by a crash (a torn tail) fails its length or
//! checksum: readers stop there and report it, and the next append truncates it away.
//!
//! Records hold only what an operation changed, not whole views of every ref: a store may hold
//! thousands of tags, and copying them into every commit's record would cost more than the
//! commit. The state of the refs right after any operation is recovered by walking back from
//! the present through the later records' old values (see [`restore_transition`]).

mod apply;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use muse_core::CommitId;
use sha2::{Digest, Sha256};

pub use apply::{apply_transition, undo_transition};

use crate::error::{IoContext, Result, StoreError};
use crate::refs::{acquire_lock, LockFile, RefName};
use crate::repo::Repository;
use crate::store::{Head, Store};

/// The log's file name inside the store directory.
pub const OPLOG_FILE: &str = "oplog";
/// The first bytes of the log file.
pub const MAGIC: &[u8] = b"muse-oplog 1\n";
/// The largest record a reader accepts (a bound on what a damaged length can make it read).
pub const MAX_RECORD: u32 = 64 << 20;
/// Bytes around each payload: the length before it and the checksum after it.
const FRAME: u64 = 4 + 32;

/// One ref moved by an operation: `old` → `new` (`None`: absent).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RefChange {
    /// The full ref name (`refs/heads/…`, `refs/tags/…`).
    pub name: String,
    /// Its value before.
    pub old: Option<CommitId>,
    /// Its value after.
    pub new: Option<CommitId>,
}

/// One working copy's HEAD moved (or the working copy created or removed) by an operation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HeadChange {
    /// The workspace name (`None`: the main working copy).
    pub workspace: Option<String>,
    /// The working copy's directory.
    pub path: String,
    /// HEAD before (`None`: the workspace did not exist), as HEAD's file holds it.
    #[serde(with = "head_text")]
    pub old: Option<Head>,
    /// HEAD after (`None`: the workspace was removed).
    #[serde(with = "head_text")]
    pub new: Option<Head>,
    /// Whether the files were checked out to follow HEAD (a switch) or left alone (a commit).
    pub checkout: bool,
}

impl HeadChange {
    /// A move of `repo`'s own HEAD.
    pub fn of(repo: &Repository, old: Head, new: Head, checkout: bool) -> HeadChange {
        HeadChange { workspace: repo.workspace().map(str::to_string), path: repo.work_dir().display().to_string(), old: Some(old), new: Some(new), checkout }
    }
}

/// One recorded operation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Operation {
    /// Its number in the log (1, 2, …), given when it is appended.
    pub id: u64,
    /// When it ran, in milliseconds since the Unix epoch (UTC).
    pub unix_ms: i64,
    /// The command (`commit`, `branch`, `undo`, …).
    pub command: String,
    /// The command line after the program name.
    pub args: Vec<String>,
    /// Who ran it (as `commit` picks the author).
    pub author: String,
    /// The agent that ran it (as `commit` picks `agent_id`), or "".
    pub agent_id: String,
    /// The working copy it ran in (`None`: the main one).
    pub workspace: Option<String>,
    /// The refs it moved.
    pub refs: Vec<RefChange>,
    /// The HEADs it moved and the workspaces it created or removed.
    pub heads: Vec<HeadChange>,
    /// For `undo`: the operation it undid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undoes: Option<u64>,
    /// For `op restore`: the operation whose state it restored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restores: Option<u64>,
}

impl Operation {
    /// An operation of `command` run now by `author`/`agent_id` in `repo`'s working copy, with
    /// no changes yet; the caller fills [`Operation::refs`] and [`Operation::heads`].
    pub fn new(repo: &Repository, command: &str, args: Vec<String>, author: String, agent_id: String) -> Operation {
        let unix_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
        Operation {
            id: 0,
            unix_ms,
            command: command.to_string(),
            args,
            author,
            agent_id,
            workspace: repo.workspace().map(str::to_string),
            refs: Vec::new(),
            heads: Vec::new(),
            undoes: None,
            restores: None,
        }
    }

    /// Whether it changed nothing (such operations are not recorded).
    pub fn is_empty(&self) -> bool {
        self.refs.iter().all(|r| r.old == r.new) && self.heads.iter().all(|h| h.old == h.new && !h.checkout)
    }

    /// Every commit it names (old and new ref values, detached HEADs).
    pub fn commits(&self) -> impl Iterator<Item = CommitId> + '_ {
        let refs = self.refs.iter().flat_map(|r| [r.old, r.new]).flatten();
        let heads = self.heads.iter().flat_map(|h| [&h.old, &h.new]).filter_map(|h| match h {
            Some(Head::Detached(id)) => Some(*id),
            _ => None,
        });
        refs.chain(heads)
    }
}

/// HEAD as its file holds it: `ref: refs/heads/NAME` or `sha256:<hex>`; `null` for no workspace.
mod head_text {
    use super::*;

    pub fn serialize<S: serde::Serializer>(head: &Option<Head>, s: S) -> std::result::Result<S::Ok, S::Error> {
        match head {
            None => s.serialize_none(),
            Some(h) => s.serialize_some(&super::head_to_text(h)),
        }
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<Head>, D::Error> {
        let text: Option<String> = serde::Deserialize::deserialize(d)?;
        text.map(|t| super::head_from_text(&t).ok_or_else(|| serde::de::Error::custom(format!("not a HEAD: {t:?}")))).transpose()
    }
}

impl serde::Serialize for Head {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&head_to_text(self))
    }
}

/// HEAD's text form, as in its file (without the newline).
pub fn head_to_text(head: &Head) -> String {
    match head {
        Head::Branch(name) => format!("ref: {name}"),
        Head::Detached(id) => id.to_string(),
    }
}

/// Parses [`head_to_text`]'s form.
pub fn head_from_text(text: &str) -> Option<Head> {
    match text.strip_prefix("ref: ") {
        Some(name) => RefName::parse(name).ok().map(Head::Branch),
        None => CommitId::parse(text).ok().map(Head::Detached),
    }
}

/// What reading the log found.
#[derive(Debug, Default)]
pub struct LogContents {
    /// Every readable operation, oldest first.
    pub operations: Vec<Operation>,
    /// Where unreadable bytes start (a torn or damaged record) and how many there are; they
    /// are ignored, and the next append removes them.
    pub torn: Option<(u64, u64)>,
}

/// The operation log of one store.
pub struct OpLog {
    path: PathBuf,
}

impl OpLog {
    /// The log of the store at `store_dir` (`.muse`).
    pub fn new(store_dir: &Path) -> OpLog {
        OpLog { path: store_dir.join(OPLOG_FILE) }
    }

    /// The log of `store`.
    pub fn of(store: &Store) -> OpLog {
        OpLog::new(store.store_dir())
    }

    /// The log file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> Result<LockFile> {
        acquire_lock(&self.path, &"the operation log")
    }

    /// Appends `op`, numbering it after the last readable record; returns it with its id. A
    /// torn tail left by a crash is cut off first. Durable on return.
    pub fn append(&self, mut op: Operation) -> Result<Operation> {
        let _lock = self.lock()?;
        let mut file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&self.path).ctx("open", &self.path)?;
        let len = file.metadata().ctx("stat", &self.path)?.len();
        let (end, last_id) = if len == 0 {
            file.write_all(MAGIC).ctx("write", &self.path)?;
            (MAGIC.len() as u64, 0)
        } else {
            match last_record(&mut file, len, &self.path)? {
                Some((last, end)) => (end, last.id),
                None => {
                    // The tail is damaged: find the last good record the slow way.
                    let contents = read_records(&mut file, &self.path)?;
                    let end = contents.torn.map_or(len, |(at, _)| at);
                    (end, contents.operations.last().map_or(0, |o| o.id))
                }
            }
        };
        if end != len {
            file.set_len(end).ctx("truncate", &self.path)?;
        }
        op.id = last_id + 1;
        let record = encode_record(&op)?;
        file.seek(SeekFrom::Start(end)).ctx("seek", &self.path)?;
        file.write_all(&record).ctx("write", &self.path)?;
        file.sync_data().ctx("fsync", &self.path)?;
        if len == 0 {
            if let Some(dir) = self.path.parent() {
                crate::fsutil::sync_dir(dir).ctx("fsync", dir)?;
            }
        }
        Ok(op)
    }

    /// Reads every readable operation, oldest first (an absent log is empty).
    pub fn read(&self) -> Result<LogContents> {
        let mut file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(LogContents::default()),
            Err(e) => return Err(StoreError::Io { op: "open", path: self.path.clone(), source: e }),
        };
        // Wait for a writer in the middle of an append, so its record is not taken for a torn
        // one; a store the reader may not write (no lock file) is read as it is.
        let _lock = self.lock().ok();
        read_records(&mut file, &self.path)
    }
}

/// One record as stored: length, JSON payload, SHA-256 of the payload.
pub fn encode_record(op: &Operation) -> Result<Vec<u8>> {
    let payload = serde_json::to_vec(op).map_err(|e| StoreError::Workspace(format!("cannot encode operation: {e}")))?;
    let payload_len =
        u32::try_from(payload.len()).ok().filter(|n| *n <= MAX_RECORD).ok_or_else(|| StoreError::Workspace("operation record too large".into()))?;
    let mut record = Vec::with_capacity(payload.len() + FRAME as usize);
    record.extend_from_slice(&payload_len.to_le_bytes());
    record.extend_from_slice(&payload);
    record.extend_from_slice(&Sha256::digest(&payload));
    Ok(record)
}

/// The last record if it is whole: `(operation, end offset)`; `None` if the tail is damaged.
fn last_record(file: &mut File, len: u64, path: &Path) -> Result<Option<(Operation, u64)>> {
    // Records are framed from the front only; the last one is found by reading its checksum
    // and trying the lengths that end exactly at the end of the file: read back a window.
    let window = len.min(1 << 16);
    let mut tail = vec![0u8; window as usize];
    file.seek(SeekFrom::Start(len - window)).ctx("seek", path)?;
    file.read_exact(&mut tail).ctx("read", path)?;
    // Scan the window for a length prefix whose record ends at the file's end.
    for start in 0..tail.len().saturating_sub(FRAME as usize) {
        let n = u32::from_le_bytes([tail[start], tail[start + 1], tail[start + 2], tail[start + 3]]) as usize;
        if start + 4 + n + 32 != tail.len() {
            continue;
        }
        let payload = &tail[start + 4..start + 4 + n];
        if Sha256::digest(payload).as_slice() != &tail[start + 4 + n..] {
            continue;
        }
        if let Ok(op) = serde_json::from_slice::<Operation>(payload) {
            return Ok(Some((op, len)));
        }
    }
    Ok(None)
}

/// Reads records from the start of the file until the end or the first damaged one.
fn read_records(file: &mut File, path: &Path) -> Result<LogContents> {
    file.seek(SeekFrom::Start(0)).ctx("seek", path)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).ctx("read", path)?;
    Ok(parse_log(&bytes))
}

/// Parses a whole log file.
pub fn parse_log(bytes: &[u8]) -> LogContents {
    let mut out = LogContents::default();
    if bytes.is_empty() {
        return out;
    }
    if !bytes.starts_with(MAGIC) {
        out.torn = Some((0, bytes.len() as u64));
        return out;
    }
    let mut at = MAGIC.len();
    while at < bytes.len() {
        let record = (|| {
            let len_bytes: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
            let n = u32::from_le_bytes(len_bytes);
            if n > MAX_RECORD {
                return None;
            }
            let payload = bytes.get(at + 4..at + 4 + n as usize)?;
            let sum = bytes.get(at + 4 + n as usize..at + 4 + n as usize + 32)?;
            if Sha256::digest(payload).as_slice() != sum {
                return None;
            }
            let op: Operation = serde_json::from_slice(payload).ok()?;
            Some((op, at + 4 + n as usize + 32))
        })();
        match record {
            Some((op, next)) => {
                out.operations.push(op);
                at = next;
            }
            None => {
                out.torn = Some((at as u64, (bytes.len() - at) as u64));
                break;
            }
        }
    }
    out
}

/// The operation a plain `muse undo` undoes: the newest one that is neither an undo nor undone
/// by a later undo.
pub fn undo_target(ops: &[Operation]) -> Option<&Operation> {
    let mut undone = HashSet::new();
    for op in ops.iter().rev() {
        if let Some(target) = op.undoes {
            undone.insert(target);
            continue;
        }
        if !undone.contains(&op.id) {
            return Some(op);
        }
    }
    None
}

/// The changes that put refs and HEADs back to their state right after operation `id`: for
/// every ref and HEAD a later operation moved, the value before the earliest such move; each
/// paired with its current value (`current_ref`, `current_head`) as the expected one.
pub fn restore_transition(
    ops: &[Operation],
    id: u64,
    current_ref: &dyn Fn(&str) -> Result<Option<CommitId>>,
    current_head: &dyn Fn(&Option<String>) -> Result<Option<Head>>,
) -> Result<(Vec<RefChange>, Vec<HeadChange>)> {
    let Some(pos) = ops.iter().position(|o| o.id == id) else {
        return Err(StoreError::UnknownRevision(format!("operation {id}")));
    };
    let mut refs: BTreeMap<&str, Option<CommitId>> = BTreeMap::new();
    let mut heads: BTreeMap<&Option<String>, (&HeadChange, bool)> = BTreeMap::new();
    for op in ops[pos + 1..].iter().rev() {
        for r in &op.refs {
            refs.insert(&r.name, r.old);
        }
        for h in &op.heads {
            let checkout = heads.get(&h.workspace).is_some_and(|(_, c)| *c) || h.checkout;
            heads.insert(&h.workspace, (h, checkout));
        }
    }
    let mut ref_changes = Vec::new();
    for (name, target) in refs {
        let current = current_ref(name)?;
        if current != target {
            ref_changes.push(RefChange { name: name.to_string(), old: current, new: target });
        }
    }
    let mut head_changes = Vec::new();
    for (workspace, (h, checkout)) in heads {
        let current = current_head(workspace)?;
        if current != h.old {
            head_changes.push(HeadChange { workspace: workspace.clone(), path: h.path.clone(), old: current, new: h.old.clone(), checkout });
        }
    }
    Ok((ref_changes, head_changes))
}

/// The commits the op log still reaches and may restore: every commit named by an operation
/// recorded less than `keep` ago. `gc` keeps them (and their history) as roots.
pub fn retained_commits(store: &Store, keep: Duration) -> Result<Vec<CommitId>> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
    let cutoff = now.saturating_sub(i64::try_from(keep.as_millis()).unwrap_or(i64::MAX));
    let log = OpLog::of(store).read()?;
    let set: BTreeSet<CommitId> = log.operations.iter().filter(|o| o.unix_ms >= cutoff).flat_map(Operation::commits).collect();
    Ok(set.into_iter().collect())
}

#[cfg(test)]
mod tests;
