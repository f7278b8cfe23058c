//! Who wrote the lines of a tree: blame every text file under the given paths and count the
//! lines by model and by agent (lines of commits with neither are "human"), and per commit.

use std::collections::{BTreeMap, HashMap};

use muse_core::{Commit, CommitId, EntryKind};
use muse_store::index::HistoryIndex;
use muse_store::snapshot::flatten;
use muse_store::Store;

use crate::cache::cached_blame;
use crate::{BlameError, BlameOptions, BlameResult};

/// The key under which lines of commits without an agent or a model are counted.
pub const HUMAN: &str = "human";

/// The lines one commit wrote that are still in the tree.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CommitLines {
    /// The commit.
    pub commit_id: CommitId,
    /// `"agent"` (it names an agent or a model) or `"human"`.
    pub kind: &'static str,
    /// Its agent (empty for none).
    pub agent_id: String,
    /// Its model (empty for none).
    pub model_id: String,
    /// Its lines in the tree.
    pub lines: u64,
}

/// Line shares of a tree, by model, agent and commit.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    /// Text lines counted.
    pub total_lines: u64,
    /// Text files counted.
    pub files: u64,
    /// Lines per model id ([`HUMAN`] for commits without agent and model; `"unknown"` for an
    /// agent commit that names no model).
    pub by_model: BTreeMap<String, u64>,
    /// Lines per agent id ([`HUMAN`] likewise; `"unknown"` for a model without an agent).
    pub by_agent: BTreeMap<String, u64>,
    /// Lines per commit, most lines first (then by id).
    pub by_commit: Vec<CommitLines>,
    /// Binary files under the paths, not counted.
    pub binary_files: Vec<String>,
}

/// Whether a commit counts as written by an agent.
pub fn is_agent(commit: &Commit) -> bool {
    !commit.agent_id.is_empty() || !commit.model_id.is_empty()
}

/// Counts the lines of every text file under `paths` (files or directories; all files when
/// empty) at `commit`. `progress(done, total)` after each file.
pub fn stats(store: &Store, index: &HistoryIndex, commit: CommitId, paths: &[String], progress: &dyn Fn(u64, u64)) -> BlameResult<Stats> {
    let files = files_under(store, commit, paths)?;
    let mut per_commit: HashMap<CommitId, u64> = HashMap::new();
    let mut out = Stats::default();
    for (done, file) in files.iter().enumerate() {
        match cached_blame(store, index, commit, file, &BlameOptions::default()) {
            Ok((blame, _)) => {
                out.files += 1;
                for line in &blame.lines {
                    *per_commit.entry(line.commit).or_default() += 1;
                }
            }
            Err(BlameError::Binary { path }) => out.binary_files.push(path),
            Err(e) => return Err(e),
        }
        progress(done as u64 + 1, files.len() as u64);
    }
    for (id, lines) in per_commit {
        let c = store.objects().read_commit(&id)?;
        let agent = is_agent(&c);
        let or_unknown = |s: &str| if s.is_empty() { "unknown".to_string() } else { s.to_string() };
        let (model_key, agent_key) = if agent { (or_unknown(&c.model_id), or_unknown(&c.agent_id)) } else { (HUMAN.to_string(), HUMAN.to_string()) };
        out.total_lines += lines;
        *out.by_model.entry(model_key).or_default() += lines;
        *out.by_agent.entry(agent_key).or_default() += lines;
        out.by_commit.push(CommitLines { commit_id: id, kind: if agent { "agent" } else { HUMAN }, agent_id: c.agent_id, model_id: c.model_id, lines });
    }
    out.by_commit.sort_by(|a, b| b.lines.cmp(&a.lines).then(a.commit_id.0.as_bytes().cmp(b.commit_id.0.as_bytes())));
    Ok(out)
}

/// The files (not symlinks) of `commit`'s tree under `paths` (files or directories; all when
/// empty), in tree order. A path matching nothing is an error.
pub(crate) fn files_under(store: &Store, commit: CommitId, paths: &[String]) -> BlameResult<Vec<String>> {
    let snapshot = store.objects().read_commit(&commit)?.snapshot;
    let prefixes: Vec<&str> = paths.iter().map(|p| p.trim_matches('/')).collect();
    let under = |file: &str, p: &str| p.is_empty() || file == p || file.strip_prefix(p).is_some_and(|rest| rest.starts_with('/'));
    let files: Vec<String> = flatten(store.objects(), snapshot)?
        .into_iter()
        .filter(|f| f.kind != EntryKind::Symlink && (prefixes.is_empty() || prefixes.iter().any(|p| under(&f.path, p))))
        .map(|f| f.path)
        .collect();
    if let Some(missing) = prefixes.iter().find(|p| !files.iter().any(|f| under(f, p))) {
        return Err(BlameError::PathNotFound { path: missing.to_string(), commit });
    }
    Ok(files)
}
