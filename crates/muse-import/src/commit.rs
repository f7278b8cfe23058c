//! Git commits → Muse commits, keeping everything Muse has no field for in `metadata`.
//!
//! The keys written (all documented in `docs/import-git.md`):
//! - `git.commit-id`: the git commit id (40 hex digits);
//! - `git.author-date`: the author time in RFC 3339 (git orders by committer time, which becomes
//!   `committed_at`);
//! - `git.committer`: the committer identity, `Name <email>`;
//! - `git.author-raw-date` / `git.committer-raw-date`: the raw git time text, when RFC 3339 could
//!   not express it (an offset such as `+051800`, a year past 9999);
//! - `git.encoding`: the `encoding` header, when present;
//! - `git.header.NAME` (then `git.header.NAME.2`, …): every other header (`gpgsig`, `mergetag`, …),
//!   with continuation lines unfolded;
//! - `git.shallow-parents`: the parents a shallow clone does not hold, space-separated;
//! - `git.raw-object-hex`: the whole git object in hex, when some text in it is not UTF-8 (the
//!   Muse fields then hold a lossy conversion).

use std::collections::BTreeMap;

use gix::ObjectId as GitId;
use muse_core::{Commit, CommitId, TreeId};

use crate::error::{ImportError, Result};
use crate::{time, trailers};

/// Checks that a git object has the expected kind and hashes to its id.
pub(crate) fn verify(object: &gix::Object<'_>, expected: &'static str) -> Result<()> {
    let corrupt = |reason: String| ImportError::CorruptObject { kind: expected, id: object.id, reason };
    if object.kind.as_bytes() != expected.as_bytes() {
        return Err(corrupt(format!("it is a {}", object.kind)));
    }
    verify_hash(object.id, object.kind, &object.data).map_err(corrupt)
}

/// Checks that `data` of kind `kind` hashes to the git id `id`.
pub(crate) fn verify_hash(id: GitId, kind: gix::object::Kind, data: &[u8]) -> std::result::Result<(), String> {
    match gix::objs::compute_hash(gix::hash::Kind::Sha1, kind, data) {
        Ok(actual) if actual == id => Ok(()),
        Ok(actual) => Err(format!("its content hashes to {actual}")),
        Err(e) => Err(format!("hashing it failed: {e:#}")),
    }
}

/// Splits a raw `author`/`committer` value into identity (`Name <email>`) and time text.
fn split_signature(raw: &[u8]) -> (&[u8], &[u8]) {
    match raw.iter().rposition(|&b| b == b'>') {
        Some(end) => (&raw[..=end], raw[end + 1..].trim_ascii()),
        None => (raw, b""),
    }
}

/// Text for a Muse field: the bytes if they are UTF-8, else a lossy copy (and `lossy` is set).
fn text(bytes: &[u8], lossy: &mut bool) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => {
            *lossy = true;
            String::from_utf8_lossy(bytes).into_owned()
        }
    }
}

/// Converts the git commit `id` (raw object bytes `data`, already verified) into a Muse commit
/// with the given parents and snapshot. `missing_parents` are the parents a shallow clone lacks.
pub(crate) fn convert(id: GitId, data: &[u8], parents: Vec<CommitId>, missing_parents: &[GitId], snapshot: TreeId) -> Result<Commit> {
    let git = gix::objs::CommitRef::from_bytes(data, gix::hash::Kind::Sha1).map_err(|e| ImportError::CorruptObject {
        kind: "commit",
        id,
        reason: format!("{e:#}"),
    })?;
    let mut lossy = false;
    let (author_identity, author_time) = split_signature(git.author);
    let (committer_identity, committer_time) = split_signature(git.committer);
    let author_time_text = text(author_time, &mut lossy);
    let committer_time_text = text(committer_time, &mut lossy);
    let author_date = time::convert(&author_time_text);
    let committed_at = time::convert(&committer_time_text);
    let message = text(git.message, &mut lossy);

    let mut metadata = BTreeMap::new();
    metadata.insert("git.commit-id".to_string(), id.to_string());
    metadata.insert("git.author-date".to_string(), author_date.rfc3339);
    if !author_date.exact {
        metadata.insert("git.author-raw-date".to_string(), author_time_text);
    }
    metadata.insert("git.committer".to_string(), text(committer_identity, &mut lossy));
    if !committed_at.exact {
        metadata.insert("git.committer-raw-date".to_string(), committer_time_text);
    }
    if let Some(encoding) = git.encoding {
        metadata.insert("git.encoding".to_string(), text(encoding, &mut lossy));
    }
    for (name, value) in &git.extra_headers {
        let base = format!("git.header.{}", text(name, &mut lossy).replace('\0', "\u{fffd}"));
        let key = (1..).map(|n| if n == 1 { base.clone() } else { format!("{base}.{n}") }).find(|k| !metadata.contains_key(k)).unwrap_or(base);
        metadata.insert(key, text(value, &mut lossy));
    }
    if !missing_parents.is_empty() {
        let ids: Vec<String> = missing_parents.iter().map(ToString::to_string).collect();
        metadata.insert("git.shallow-parents".to_string(), ids.join(" "));
    }
    let author = text(author_identity, &mut lossy);
    if lossy {
        metadata.insert("git.raw-object-hex".to_string(), hex::encode(data));
    }

    let provenance = trailers::provenance(&message);
    Ok(Commit {
        parents,
        snapshot,
        message,
        author,
        committed_at: committed_at.rfc3339,
        agent_id: provenance.agent_id,
        model_id: provenance.model_id,
        toolchain_id: provenance.toolchain_id,
        sem_ver_bump: provenance.sem_ver_bump,
        breaking_changes: provenance.breaking_changes,
        metadata,
        ..Commit::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use muse_core::{ObjectId, SemVerBump, Tree};

    fn git_id(data: &[u8]) -> GitId {
        gix::objs::compute_hash(gix::hash::Kind::Sha1, gix::object::Kind::Commit, data).unwrap()
    }

    const TREE: &str = "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n";

    #[test]
    fn keeps_identities_times_and_headers() {
        let data = format!(
            "{TREE}author A U Thor <a@x.org> 1313584730 +051800\ncommitter C O Mitter <c@x.org> 1313584800 -0700\n\
             gpgsig -----BEGIN PGP SIGNATURE-----\n line2\n -----END PGP SIGNATURE-----\n\n\
             feat!: drop v1\n\nCo-authored-by: Claude <noreply@anthropic.com>\n"
        );
        let id = git_id(data.as_bytes());
        let parent = CommitId(ObjectId::sha256(b"p"));
        let commit = convert(id, data.as_bytes(), vec![parent], &[], Tree::empty_id()).unwrap();
        commit.validate().unwrap();
        assert_eq!(commit.author, "A U Thor <a@x.org>");
        assert_eq!(commit.committed_at, "2011-08-17T05:40:00-07:00");
        assert_eq!(commit.metadata["git.author-date"], "2011-08-17T12:38:50Z");
        assert_eq!(commit.metadata["git.author-raw-date"], "1313584730 +051800");
        assert!(!commit.metadata.contains_key("git.committer-raw-date"));
        assert_eq!(commit.metadata["git.committer"], "C O Mitter <c@x.org>");
        assert_eq!(commit.metadata["git.commit-id"], id.to_string());
        assert!(commit.metadata["git.header.gpgsig"].starts_with("-----BEGIN PGP SIGNATURE-----\nline2\n"));
        assert_eq!(commit.parents, [parent]);
        assert_eq!(commit.agent_id, "claude");
        assert_eq!(commit.breaking_changes, ["drop v1"]);
        assert_eq!(commit.sem_ver_bump, SemVerBump::Major);
        assert_eq!(commit.message, "feat!: drop v1\n\nCo-authored-by: Claude <noreply@anthropic.com>\n");
    }

    #[test]
    fn non_utf8_text_is_kept_raw() {
        let mut data = format!("{TREE}author Ren\u{e9} <r@x> 1 +0000\ncommitter R <r@x> 1 +0000\nencoding ISO-8859-1\n\n").into_bytes();
        data.extend_from_slice(b"caf\xe9\n");
        let id = git_id(&data);
        let commit = convert(id, &data, vec![], &[GitId::from_bytes_or_panic(&[7; 20])], Tree::empty_id()).unwrap();
        assert_eq!(commit.message, "caf\u{fffd}\n");
        assert_eq!(commit.metadata["git.raw-object-hex"], hex::encode(&data));
        assert_eq!(commit.metadata["git.encoding"], "ISO-8859-1");
        assert_eq!(commit.metadata["git.shallow-parents"], "0707070707070707070707070707070707070707");
    }

    #[test]
    fn hash_mismatches_are_detected() {
        assert!(verify_hash(GitId::from_bytes_or_panic(&[1; 20]), gix::object::Kind::Blob, b"x").is_err());
        let id = gix::objs::compute_hash(gix::hash::Kind::Sha1, gix::object::Kind::Blob, b"x").unwrap();
        verify_hash(id, gix::object::Kind::Blob, b"x").unwrap();
    }
}
