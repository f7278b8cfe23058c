//! How commits and times are shown: model ids in human form, relative ages, cut messages, and
//! the JSON shape of a commit (the fields of `muse log --json`).

use std::collections::BTreeMap;

use muse_core::{Commit, CommitId, SemVerBump, SnapshotId};
use serde::Serialize;

/// The label of commits that name neither an agent nor a model.
pub const HUMAN: &str = "human";

/// The human form of a model id, for people: `claude-sonnet-4-6` → `Sonnet 4.6`,
/// `claude-opus-4-1` → `Opus 4.1`, `claude-3-5-sonnet-20241022` → `3.5 Sonnet`, `gpt-5.1-codex` →
/// `GPT-5.1 Codex`, `gpt-4o-mini` → `GPT-4o Mini`, `gemini-2.5-pro` → `Gemini 2.5 Pro`. Rules:
/// the id is split at `-`; for `claude-…` the vendor word is dropped, a trailing date (8 digits)
/// too, runs of numbers are joined with `.` and words capitalised; for `gpt-…` the first two
/// parts become `GPT-X`; for `gemini-…` each part is capitalised. Any other id, or one with
/// characters beyond `[a-z0-9.]` between the dashes, is shown as given.
pub fn model_name(model_id: &str) -> String {
    let parts: Vec<&str> = model_id.split('-').collect();
    let plain = parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.'));
    if !plain || parts.len() < 2 {
        return model_id.to_string();
    }
    match parts[0] {
        "claude" => {
            let mut rest = &parts[1..];
            if let Some((last, init)) = rest.split_last() {
                if last.len() == 8 && last.bytes().all(|b| b.is_ascii_digit()) && !init.is_empty() {
                    rest = init;
                }
            }
            let mut groups: Vec<String> = Vec::new();
            let mut numbers: Vec<&str> = Vec::new();
            for part in rest {
                if part.bytes().all(|b| b.is_ascii_digit()) {
                    numbers.push(part);
                } else {
                    if !numbers.is_empty() {
                        groups.push(numbers.join("."));
                        numbers.clear();
                    }
                    groups.push(capitalised(part));
                }
            }
            if !numbers.is_empty() {
                groups.push(numbers.join("."));
            }
            groups.join(" ")
        }
        "gpt" => {
            let mut words = vec![format!("GPT-{}", parts[1])];
            words.extend(parts[2..].iter().map(|p| capitalised(p)));
            words.join(" ")
        }
        "gemini" => parts.iter().map(|p| capitalised(p)).collect::<Vec<_>>().join(" "),
        _ => model_id.to_string(),
    }
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Who wrote a commit, for people: the model in human form ([`model_name`]), the agent id when
/// an agent names no model, or [`HUMAN`] when the commit names neither.
pub fn author_label(commit: &Commit) -> String {
    if !commit.model_id.is_empty() {
        model_name(&commit.model_id)
    } else if !commit.agent_id.is_empty() {
        commit.agent_id.clone()
    } else {
        HUMAN.to_string()
    }
}

/// `secs` seconds ago in words: `just now`, `1 minute ago`, `20 days ago`, `3 months ago`,
/// `2 years ago` (a time in the future is `just now`).
pub fn relative_age(secs: i64) -> String {
    let unit = |n: i64, word: &str| format!("{n} {word}{} ago", if n == 1 { "" } else { "s" });
    match secs {
        s if s < 60 => "just now".to_string(),
        s if s < 3600 => unit(s / 60, "minute"),
        s if s < 86_400 => unit(s / 3600, "hour"),
        s if s < 30 * 86_400 => unit(s / 86_400, "day"),
        s if s < 365 * 86_400 => unit(s / (30 * 86_400), "month"),
        s => unit(s / (365 * 86_400), "year"),
    }
}

/// The first unix time after `now` at which [`relative_age`] of a commit made at `time` reads
/// differently: how long a page showing that age may be kept.
pub fn age_changes_at(now: i64, time: i64) -> i64 {
    const DAY: i64 = 86_400;
    let secs = now.saturating_sub(time);
    // The unit the age counts in, and where the next wording starts.
    let (unit, end) = match secs {
        s if s < 60 => return time.saturating_add(60),
        s if s < 3600 => (60, 3600),
        s if s < DAY => (3600, DAY),
        s if s < 30 * DAY => (DAY, 30 * DAY),
        s if s < 365 * DAY => (30 * DAY, 365 * DAY),
        _ => (365 * DAY, i64::MAX),
    };
    time.saturating_add(((secs / unit + 1) * unit).min(end))
}

/// When the first of the ages of commits made at `times` reads differently, seen at `now`
/// (`i64::MAX` for none).
pub fn ages_change_at(now: i64, times: impl IntoIterator<Item = i64>) -> i64 {
    times.into_iter().map(|t| age_changes_at(now, t)).min().unwrap_or(i64::MAX)
}

/// The first line of a message, and that line as lists show it: whole up to 60 characters,
/// else its first 59 (trailing spaces trimmed) and `…`.
pub fn summary(message: &str) -> (String, String) {
    let first = message.lines().next().unwrap_or("").trim_end().to_string();
    // As the seed shows them: past 60 characters, the first 59 and `…` (60 in all).
    let cut = if first.chars().count() > 60 { format!("{}…", first.chars().take(59).collect::<String>().trim_end()) } else { first.clone() };
    (first, cut)
}

/// Unix seconds now.
pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// A commit as `muse log --json` prints it (`docs/cli.md` §The commit object in JSON).
#[derive(Debug, Clone, Serialize)]
pub struct CommitJson {
    /// `sha256:…`.
    pub commit_id: CommitId,
    /// Parents, first first.
    pub parents: Vec<CommitId>,
    /// The root tree.
    pub snapshot_id: SnapshotId,
    /// The whole message.
    pub message: String,
    /// The author.
    pub author: String,
    /// RFC 3339, as recorded.
    pub committed_at: String,
    /// The agent, or `""`.
    pub agent_id: String,
    /// The model, or `""`.
    pub model_id: String,
    /// The toolchain, or `""`.
    pub toolchain_id: String,
    /// The prompt's hash, or `""`.
    pub prompt_hash: String,
    /// The declared bump.
    pub sem_ver_bump: SemVerBump,
    /// The declared breaking changes.
    pub breaking_changes: Vec<String>,
    /// Free-form metadata.
    pub metadata: BTreeMap<String, String>,
    /// The structured delta, if any.
    pub structured_delta: Option<String>,
    /// The signer's key id, or `""`.
    pub signer_key_id: String,
    /// The signature, or `""`.
    pub signature: String,
}

impl CommitJson {
    /// The JSON view of `commit`, whose id is `id`.
    pub fn new(id: CommitId, commit: &Commit) -> Self {
        CommitJson {
            commit_id: id,
            parents: commit.parents.clone(),
            snapshot_id: commit.snapshot,
            message: commit.message.clone(),
            author: commit.author.clone(),
            committed_at: commit.committed_at.clone(),
            agent_id: commit.agent_id.clone(),
            model_id: commit.model_id.clone(),
            toolchain_id: commit.toolchain_id.clone(),
            prompt_hash: commit.prompt_hash.clone(),
            sem_ver_bump: commit.sem_ver_bump,
            breaking_changes: commit.breaking_changes.clone(),
            metadata: commit.metadata.clone(),
            structured_delta: commit.structured_delta.clone(),
            signer_key_id: commit.signer_key_id.clone(),
            signature: commit.signature.clone(),
        }
    }
}

/// A commit as the templates show it.
#[derive(Debug, Clone, Serialize)]
pub struct CommitRow {
    /// The hex id, without `sha256:`.
    pub hex: String,
    /// `sha256:` and the hex id.
    pub id: String,
    /// The message's first line.
    pub title: String,
    /// That line cut for a row.
    pub short: String,
    /// The whole message.
    pub message: String,
    /// The author.
    pub author: String,
    /// [`author_label`].
    pub label: String,
    /// The agent id.
    pub agent_id: String,
    /// The model id.
    pub model_id: String,
    /// The toolchain id.
    pub toolchain_id: String,
    /// The prompt hash.
    pub prompt_hash: String,
    /// The signer's key id.
    pub signer_key_id: String,
    /// Whether the commit is signed.
    pub signed: bool,
    /// `none|patch|minor|major`.
    pub bump: &'static str,
    /// Declared breaking changes.
    pub breaking: Vec<String>,
    /// The breaking changes joined by newlines, for a `title`.
    pub breaking_title: String,
    /// The time as recorded.
    pub committed_at: String,
    /// The time in RFC 3339 UTC, for `datetime`.
    pub datetime: String,
    /// [`relative_age`].
    pub age: String,
    /// Parents' hex ids.
    pub parents: Vec<String>,
    /// Unix seconds of the commit (0 if unreadable).
    pub time: i64,
    /// The signature badge, from the hub's own verification ([`crate::signing::badges`]); `None`
    /// for an unsigned commit or a row made without verifying.
    pub badge: Option<crate::signing::Badge>,
}

impl CommitRow {
    /// The row of `commit` (whose id is `id`) seen at unix time `now`.
    pub fn new(id: CommitId, commit: &Commit, now: i64) -> Self {
        let (title, short) = summary(&commit.message);
        let time = muse_core::rfc3339_to_unix(&commit.committed_at).map_or(0, |(s, _)| s);
        CommitRow {
            hex: id.0.to_hex(),
            id: id.to_string(),
            title,
            short,
            message: commit.message.clone(),
            author: commit.author.clone(),
            label: author_label(commit),
            agent_id: commit.agent_id.clone(),
            model_id: commit.model_id.clone(),
            toolchain_id: commit.toolchain_id.clone(),
            prompt_hash: commit.prompt_hash.clone(),
            signer_key_id: commit.signer_key_id.clone(),
            signed: !commit.signature.is_empty(),
            bump: commit.sem_ver_bump.as_str(),
            breaking: commit.breaking_changes.clone(),
            breaking_title: commit.breaking_changes.join("\n"),
            committed_at: commit.committed_at.clone(),
            datetime: muse_core::unix_to_rfc3339_utc(time),
            age: relative_age(now - time),
            parents: commit.parents.iter().map(|p| p.0.to_hex()).collect(),
            time,
            badge: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_in_human_form() {
        for (id, shown) in [
            ("claude-sonnet-4-6", "Sonnet 4.6"),
            ("claude-opus-4-1", "Opus 4.1"),
            ("claude-opus-4", "Opus 4"),
            ("claude-opus-4-1-20250805", "Opus 4.1"),
            ("claude-3-5-sonnet-20241022", "3.5 Sonnet"),
            ("gpt-5.1-codex", "GPT-5.1 Codex"),
            ("gpt-4o-mini", "GPT-4o Mini"),
            ("gemini-2.5-pro", "Gemini 2.5 Pro"),
            ("llama-3", "llama-3"),
            ("claude", "claude"),
            ("Claude-Sonnet-4", "Claude-Sonnet-4"),
            ("claude--x", "claude--x"),
            ("<script>alert(1)</script>", "<script>alert(1)</script>"),
            ("", ""),
        ] {
            assert_eq!(model_name(id), shown, "{id}");
        }
    }

    #[test]
    fn labels_ages_and_summaries() {
        let mut commit = Commit::default();
        assert_eq!(author_label(&commit), "human");
        commit.agent_id = "agent-7".into();
        assert_eq!(author_label(&commit), "agent-7");
        commit.model_id = "claude-sonnet-4-6".into();
        assert_eq!(author_label(&commit), "Sonnet 4.6");
        for (secs, text) in [
            (-5, "just now"),
            (59, "just now"),
            (60, "1 minute ago"),
            (7200, "2 hours ago"),
            (86_400, "1 day ago"),
            (20 * 86_400 + 5, "20 days ago"),
            (45 * 86_400, "1 month ago"),
            (800 * 86_400, "2 years ago"),
        ] {
            assert_eq!(relative_age(secs), text, "{secs}");
        }
        // Each age is kept exactly until it reads differently.
        let made = 1_700_000_000;
        for secs in [-5, 0, 59, 60, 61, 3599, 3600, 86_399, 86_400, 29 * 86_400 + 7, 30 * 86_400, 364 * 86_400 + 5, 365 * 86_400, 800 * 86_400] {
            let now = made + secs;
            let until = age_changes_at(now, made);
            assert!(until > now, "{secs}");
            assert_eq!(relative_age(until - 1 - made), relative_age(now - made), "{secs}");
            assert_ne!(relative_age(until - made), relative_age(now - made), "{secs}");
        }
        assert_eq!(ages_change_at(made, []), i64::MAX);
        assert_eq!(ages_change_at(made, [made - 10, made - 400 * 86_400]), made + 50);
        let long = "fix: remove commit_exists filter from have anchors — server must keep them all";
        assert_eq!(summary(long).1, "fix: remove commit_exists filter from have anchors — server…");
        let exactly_60 = "x".repeat(60);
        assert_eq!(summary(&exactly_60).1, exactly_60);
        assert_eq!(summary(&"y".repeat(61)).1, format!("{}…", "y".repeat(59)));
        assert_eq!(summary("short\n\nbody").0, "short");
        assert_eq!(summary("short\n\nbody").1, "short");
    }
}
