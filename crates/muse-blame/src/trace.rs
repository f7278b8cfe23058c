//! Agent Trace records (Cursor's open RFC, version 0.1.0: `files[{path, conversations[{contributor
//! {type, model_id}, ranges[{start_line, end_line}]}]}]`) computed from blame, so exact by
//! construction: every line of every text file at a revision falls in exactly one range, that of
//! the commit that last changed it, whose recorded provenance says who wrote it.
//!
//! One conversation per commit that still owns lines of the file: its contributor is `ai` when
//! the commit names an agent or a model (`model_id` then the commit's model), else `human`; its
//! ranges are the maximal runs of consecutive lines it owns; its `metadata` under the namespace
//! `dev.muse` names the commit and its provenance. `docs/cli.md` (`muse export agent-trace`)
//! documents the record.

use std::collections::BTreeMap;

use muse_core::CommitId;
use muse_store::index::HistoryIndex;
use muse_store::Store;
use sha2::{Digest, Sha256};

use crate::cache::cached_blame;
use crate::stats::{files_under, is_agent};
use crate::{BlameError, BlameOptions, BlameResult};

/// The Agent Trace version written.
pub const TRACE_VERSION: &str = "0.1.0";

/// One trace record: the attribution of every line of a revision's text files.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TraceRecord {
    /// [`TRACE_VERSION`].
    pub version: &'static str,
    /// A UUID derived from the revision and the paths, so that the same question gives the
    /// same record.
    pub id: String,
    /// The revision's `committed_at`.
    pub timestamp: String,
    /// The version control system and revision.
    pub vcs: TraceVcs,
    /// The tool that wrote the record.
    pub tool: TraceTool,
    /// One entry per text file, in tree order.
    pub files: Vec<TraceFile>,
}

/// The `vcs` member: `{"type": "muse", "revision": "sha256:…"}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TraceVcs {
    /// Always `muse`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The revision's commit id.
    pub revision: CommitId,
}

/// The `tool` member.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TraceTool {
    /// The tool's name.
    pub name: String,
    /// Its version.
    pub version: String,
}

/// One file of a record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TraceFile {
    /// The file's path at the revision.
    pub path: String,
    /// One per commit owning lines of the file, in the order of their first line.
    pub conversations: Vec<TraceConversation>,
}

/// The lines one commit wrote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TraceConversation {
    /// Who wrote them.
    pub contributor: TraceContributor,
    /// The runs of lines, 1-based and inclusive, ascending.
    pub ranges: Vec<TraceRange>,
    /// `{"dev.muse": {"commit_id", "agent_id", "author", "committed_at", "prompt_hash"}}`.
    pub metadata: BTreeMap<&'static str, TraceCommit>,
}

/// A contributor: `{"type": "ai", "model_id": "…"}` or `{"type": "human"}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TraceContributor {
    /// `ai` or `human`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The model, for `ai` when the commit names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
}

/// A run of lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct TraceRange {
    /// First line (1-based).
    pub start_line: u32,
    /// Last line (inclusive).
    pub end_line: u32,
}

/// The commit behind a conversation, as Muse recorded it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TraceCommit {
    /// The commit.
    pub commit_id: CommitId,
    /// Its agent (empty for none).
    pub agent_id: String,
    /// Its author.
    pub author: String,
    /// When it was made.
    pub committed_at: String,
    /// The hash of the prompt behind it (empty for none).
    pub prompt_hash: String,
}

/// The trace record of the text files under `paths` (all when empty) at `commit`. Binary files
/// are left out. `progress(done, total)` after each file.
pub fn trace(
    store: &Store,
    index: &HistoryIndex,
    commit: CommitId,
    paths: &[String],
    tool: TraceTool,
    progress: &dyn Fn(u64, u64),
) -> BlameResult<TraceRecord> {
    let files = files_under(store, commit, paths)?;
    let mut commits: BTreeMap<CommitId, (TraceContributor, TraceCommit)> = BTreeMap::new();
    let mut out = Vec::with_capacity(files.len());
    for (done, path) in files.iter().enumerate() {
        let blame = match cached_blame(store, index, commit, path, &BlameOptions::default()) {
            Ok((blame, _)) => blame,
            Err(BlameError::Binary { .. }) => continue,
            Err(e) => return Err(e),
        };
        let mut conversations: Vec<(CommitId, Vec<TraceRange>)> = Vec::new();
        for line in &blame.lines {
            let at = match conversations.iter().position(|(id, _)| *id == line.commit) {
                Some(at) => at,
                None => {
                    conversations.push((line.commit, Vec::new()));
                    conversations.len() - 1
                }
            };
            let ranges = &mut conversations[at].1;
            match ranges.last_mut() {
                Some(last) if last.end_line + 1 == line.line => last.end_line = line.line,
                _ => ranges.push(TraceRange { start_line: line.line, end_line: line.line }),
            }
        }
        let mut file = TraceFile { path: path.clone(), conversations: Vec::with_capacity(conversations.len()) };
        for (id, ranges) in conversations {
            let (contributor, about) = match commits.entry(id) {
                std::collections::btree_map::Entry::Occupied(known) => known.get().clone(),
                std::collections::btree_map::Entry::Vacant(slot) => {
                    let c = store.objects().read_commit(&id)?;
                    let contributor = if is_agent(&c) {
                        TraceContributor { kind: "ai", model_id: (!c.model_id.is_empty()).then(|| c.model_id.clone()) }
                    } else {
                        TraceContributor { kind: "human", model_id: None }
                    };
                    let about = TraceCommit { commit_id: id, agent_id: c.agent_id, author: c.author, committed_at: c.committed_at, prompt_hash: c.prompt_hash };
                    slot.insert((contributor, about)).clone()
                }
            };
            file.conversations.push(TraceConversation { contributor, ranges, metadata: BTreeMap::from([("dev.muse", about)]) });
        }
        out.push(file);
        progress(done as u64 + 1, files.len() as u64);
    }
    Ok(TraceRecord {
        version: TRACE_VERSION,
        id: record_id(commit, paths),
        timestamp: store.objects().read_commit(&commit)?.committed_at,
        vcs: TraceVcs { kind: "muse", revision: commit },
        tool,
        files: out,
    })
}

/// A UUID (version 8, RFC 9562's custom version) from SHA-256 of the revision and the paths.
fn record_id(commit: CommitId, paths: &[String]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"muse agent-trace\0");
    hasher.update(commit.0.as_bytes());
    for path in paths {
        hasher.update(b"\0");
        hasher.update(path.as_bytes());
    }
    let mut bytes: [u8; 16] = hasher.finalize()[..16].try_into().unwrap_or_default();
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_ids_are_uuids_of_version_8() {
        let id = record_id(CommitId(muse_core::ObjectId::from_bytes([7; 32])), &[]);
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "8");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "{id}");
        assert_ne!(id, record_id(CommitId(muse_core::ObjectId::from_bytes([7; 32])), &["a".into()]));
    }
}
