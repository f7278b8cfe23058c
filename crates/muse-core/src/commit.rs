//! Commits: a snapshot with its parents, message, author, time and agent provenance.
//!
//! Encoding (see `docs/formats.md`): the magic line `muse-commit/1\n`, then fields in a fixed
//! order, each `<key> <decimal byte length>\n<value>\n`. The commit id is the SHA-256 of those
//! bytes. A signature, when present, is appended as one more field after them and is therefore
//! the only part of a commit that its id does not cover. It signs those same bytes (which
//! include `signer-key-id`): `docs/formats.md` §4.1, implemented by the `muse-sign` crate.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::error::DecodeError;
use crate::id::{CommitId, ObjectId, SnapshotId, TreeId};
use crate::timestamp::validate_rfc3339;

/// The first bytes of every encoded commit.
pub const COMMIT_MAGIC: &[u8] = b"muse-commit/1\n";

/// The semantic-version impact of a commit, as declared by its author.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SemVerBump {
    /// No change to the public surface.
    #[default]
    None,
    /// Backwards-compatible fixes.
    Patch,
    /// Backwards-compatible additions.
    Minor,
    /// Incompatible changes.
    Major,
}

impl SemVerBump {
    /// The spelling used in encodings, JSON and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            SemVerBump::None => "none",
            SemVerBump::Patch => "patch",
            SemVerBump::Minor => "minor",
            SemVerBump::Major => "major",
        }
    }
}

impl fmt::Display for SemVerBump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SemVerBump {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "none" => SemVerBump::None,
            "patch" => SemVerBump::Patch,
            "minor" => SemVerBump::Minor,
            "major" => SemVerBump::Major,
            _ => return Err(format!("'{s}' is not a bump (expected none, patch, minor or major)")),
        })
    }
}

/// A commit record. Every field but `signature` is covered by the commit id.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Commit {
    /// The commits this one follows, first parent first (empty for a root commit).
    pub parents: Vec<CommitId>,
    /// The root tree of the commit's snapshot.
    pub snapshot: SnapshotId,
    /// The commit message.
    pub message: String,
    /// Who is accountable for the commit, e.g. `Ada <ada@example.com>`.
    pub author: String,
    /// When it was committed, as an RFC 3339 string kept exactly as given.
    pub committed_at: String,
    /// The agent that made the change (empty for a person working alone).
    pub agent_id: String,
    /// The model behind the agent.
    pub model_id: String,
    /// The toolchain the agent ran in.
    pub toolchain_id: String,
    /// `sha256:<hex>` of the prompt that produced the change, or empty.
    pub prompt_hash: String,
    /// The declared semantic-version bump.
    pub sem_ver_bump: SemVerBump,
    /// Declared breaking changes, in the author's order.
    pub breaking_changes: Vec<String>,
    /// Free-form string metadata, sorted by key.
    pub metadata: BTreeMap<String, String>,
    /// Domain-specific description of the change (JSON text by convention), if any.
    pub structured_delta: Option<String>,
    /// The id of the key that signed (or will sign) the commit, or empty: the key's OpenSSH
    /// SHA-256 fingerprint (`SHA256:…`). Covered by the id and by the signature.
    pub signer_key_id: String,
    /// A signature over the commit's unsigned encoding ([`Commit::encode_unsigned`], the bytes
    /// the id covers), `ed25519 PUB SIG` (`docs/formats.md` §4.1), or empty. Not covered by the id.
    pub signature: String,
}

impl Default for TreeId {
    fn default() -> Self {
        crate::tree::Tree::empty_id()
    }
}

/// Field keys, in the order they are encoded.
mod key {
    pub const SNAPSHOT: &str = "snapshot";
    pub const PARENT: &str = "parent";
    pub const AUTHOR: &str = "author";
    pub const COMMITTED_AT: &str = "committed-at";
    pub const AGENT_ID: &str = "agent-id";
    pub const MODEL_ID: &str = "model-id";
    pub const TOOLCHAIN_ID: &str = "toolchain-id";
    pub const PROMPT_HASH: &str = "prompt-hash";
    pub const SEM_VER_BUMP: &str = "sem-ver-bump";
    pub const BREAKING_CHANGE: &str = "breaking-change";
    pub const METADATA: &str = "metadata";
    pub const STRUCTURED_DELTA: &str = "structured-delta";
    pub const SIGNER_KEY_ID: &str = "signer-key-id";
    pub const MESSAGE: &str = "message";
    pub const SIGNATURE: &str = "signature";
}

fn put(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    out.extend_from_slice(key.as_bytes());
    out.push(b' ');
    out.extend_from_slice(value.len().to_string().as_bytes());
    out.push(b'\n');
    out.extend_from_slice(value);
    out.push(b'\n');
}

impl Commit {
    /// Checks the invariants the encoding relies on: timestamp, prompt hash, metadata keys.
    pub fn validate(&self) -> Result<(), String> {
        validate_rfc3339(&self.committed_at).map_err(|e| e.to_string())?;
        let well_formed = self.prompt_hash.starts_with("sha256:") && ObjectId::parse(&self.prompt_hash).is_ok();
        if !self.prompt_hash.is_empty() && !well_formed {
            return Err(format!("prompt hash '{}' is not sha256:<64 lowercase hex digits>", self.prompt_hash));
        }
        if let Some(bad) = self.metadata.keys().find(|k| k.is_empty() || k.contains('\0')) {
            return Err(format!("metadata key {bad:?} is empty or holds a NUL"));
        }
        Ok(())
    }

    /// The canonical bytes covered by the commit id (everything but the signature).
    pub fn encode_unsigned(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512 + self.message.len());
        out.extend_from_slice(COMMIT_MAGIC);
        put(&mut out, key::SNAPSHOT, self.snapshot.to_string().as_bytes());
        for parent in &self.parents {
            put(&mut out, key::PARENT, parent.to_string().as_bytes());
        }
        put(&mut out, key::AUTHOR, self.author.as_bytes());
        put(&mut out, key::COMMITTED_AT, self.committed_at.as_bytes());
        put(&mut out, key::AGENT_ID, self.agent_id.as_bytes());
        put(&mut out, key::MODEL_ID, self.model_id.as_bytes());
        put(&mut out, key::TOOLCHAIN_ID, self.toolchain_id.as_bytes());
        put(&mut out, key::PROMPT_HASH, self.prompt_hash.as_bytes());
        put(&mut out, key::SEM_VER_BUMP, self.sem_ver_bump.as_str().as_bytes());
        for change in &self.breaking_changes {
            put(&mut out, key::BREAKING_CHANGE, change.as_bytes());
        }
        for (k, v) in &self.metadata {
            let mut pair = Vec::with_capacity(k.len() + 1 + v.len());
            pair.extend_from_slice(k.as_bytes());
            pair.push(0);
            pair.extend_from_slice(v.as_bytes());
            put(&mut out, key::METADATA, &pair);
        }
        if let Some(delta) = &self.structured_delta {
            put(&mut out, key::STRUCTURED_DELTA, delta.as_bytes());
        }
        put(&mut out, key::SIGNER_KEY_ID, self.signer_key_id.as_bytes());
        put(&mut out, key::MESSAGE, self.message.as_bytes());
        out
    }

    /// The stored form: the unsigned encoding, plus a `signature` field when signed.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.encode_unsigned();
        if !self.signature.is_empty() {
            put(&mut out, key::SIGNATURE, self.signature.as_bytes());
        }
        out
    }

    /// The commit id: SHA-256 of [`Commit::encode_unsigned`].
    pub fn id(&self) -> CommitId {
        CommitId(ObjectId::sha256(&self.encode_unsigned()))
    }

    /// Decodes a stored commit, rejecting any encoding [`Commit::encode`] would not produce.
    /// Returns the commit and its id (computed over the bytes before any signature).
    pub fn decode(bytes: &[u8]) -> Result<(Self, CommitId), DecodeError> {
        let mut reader = FieldReader { bytes, pos: 0 };
        if !bytes.starts_with(COMMIT_MAGIC) {
            return Err(reader.err("missing 'muse-commit/1' magic line"));
        }
        reader.pos = COMMIT_MAGIC.len();
        let mut commit = Commit { snapshot: TreeId(reader.id_field(key::SNAPSHOT)?), ..Commit::default() };
        while reader.peek_key() == Some(key::PARENT) {
            commit.parents.push(CommitId(reader.id_field(key::PARENT)?));
        }
        commit.author = reader.text_field(key::AUTHOR)?;
        commit.committed_at = reader.text_field(key::COMMITTED_AT)?;
        commit.agent_id = reader.text_field(key::AGENT_ID)?;
        commit.model_id = reader.text_field(key::MODEL_ID)?;
        commit.toolchain_id = reader.text_field(key::TOOLCHAIN_ID)?;
        commit.prompt_hash = reader.text_field(key::PROMPT_HASH)?;
        let bump_at = reader.pos;
        commit.sem_ver_bump = reader.text_field(key::SEM_VER_BUMP)?.parse().map_err(|e: String| DecodeError::new("commit", bump_at, e))?;
        while reader.peek_key() == Some(key::BREAKING_CHANGE) {
            commit.breaking_changes.push(reader.text_field(key::BREAKING_CHANGE)?);
        }
        while reader.peek_key() == Some(key::METADATA) {
            let at = reader.pos;
            let pair = reader.text_field(key::METADATA)?;
            let (k, v) = pair.split_once('\0').ok_or_else(|| DecodeError::new("commit", at, "metadata field has no NUL separator"))?;
            if commit.metadata.keys().next_back().is_some_and(|last| last.as_bytes() >= k.as_bytes()) {
                return Err(DecodeError::new("commit", at, "metadata keys are not in strictly ascending order"));
            }
            commit.metadata.insert(k.to_string(), v.to_string());
        }
        if reader.peek_key() == Some(key::STRUCTURED_DELTA) {
            commit.structured_delta = Some(reader.text_field(key::STRUCTURED_DELTA)?);
        }
        commit.signer_key_id = reader.text_field(key::SIGNER_KEY_ID)?;
        commit.message = reader.text_field(key::MESSAGE)?;
        let unsigned_end = reader.pos;
        if reader.pos < bytes.len() {
            commit.signature = reader.text_field(key::SIGNATURE)?;
            if commit.signature.is_empty() {
                return Err(reader.err("an empty signature must be omitted"));
            }
        }
        if reader.pos != bytes.len() {
            return Err(reader.err("unexpected bytes after the last field"));
        }
        commit.validate().map_err(|reason| DecodeError::new("commit", 0, reason))?;
        Ok((commit, CommitId(ObjectId::sha256(&bytes[..unsigned_end]))))
    }
}

struct FieldReader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> FieldReader<'a> {
    fn err(&self, reason: &str) -> DecodeError {
        DecodeError::new("commit", self.pos, reason)
    }

    fn peek_key(&self) -> Option<&'a str> {
        let rest = &self.bytes[self.pos..];
        let space = rest.iter().position(|&b| b == b' ')?;
        std::str::from_utf8(&rest[..space]).ok()
    }

    fn raw_field(&mut self, expected: &str) -> Result<&'a [u8], DecodeError> {
        let rest = &self.bytes[self.pos..];
        let header_end = rest.iter().position(|&b| b == b'\n').ok_or_else(|| self.err("truncated field header"))?;
        let header = &rest[..header_end];
        let (key, len) = header.split_at(header.iter().position(|&b| b == b' ').ok_or_else(|| self.err("field header has no space"))?);
        if key != expected.as_bytes() {
            return Err(self.err(&format!("expected field '{expected}'")));
        }
        let len = &len[1..];
        let canonical_len = !len.is_empty() && len.iter().all(u8::is_ascii_digit) && (len == b"0" || len[0] != b'0') && len.len() <= 12;
        if !canonical_len {
            return Err(self.err("field length is not a canonical decimal number"));
        }
        let len: usize = std::str::from_utf8(len).ok().and_then(|s| s.parse().ok()).ok_or_else(|| self.err("bad field length"))?;
        let start = header_end + 1;
        let end = start.checked_add(len).filter(|&e| e < rest.len()).ok_or_else(|| self.err("truncated field value"))?;
        if rest[end] != b'\n' {
            return Err(self.err("field value is not followed by a newline"));
        }
        self.pos += end + 1;
        Ok(&rest[start..end])
    }

    fn text_field(&mut self, expected: &str) -> Result<String, DecodeError> {
        let at = self.pos;
        let raw = self.raw_field(expected)?;
        String::from_utf8(raw.to_vec()).map_err(|_| DecodeError::new("commit", at, format!("field '{expected}' is not UTF-8")))
    }

    fn id_field(&mut self, expected: &str) -> Result<ObjectId, DecodeError> {
        let at = self.pos;
        let text = self.text_field(expected)?;
        if !text.starts_with("sha256:") {
            return Err(DecodeError::new("commit", at, format!("field '{expected}' is not a sha256: id")));
        }
        ObjectId::parse(&text).map_err(|e| DecodeError::new("commit", at, e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Commit {
        Commit {
            parents: vec![CommitId(ObjectId::sha256(b"p1")), CommitId(ObjectId::sha256(b"p2"))],
            message: "fix: multi\nline\n".into(),
            author: "Ada <ada@example.com>".into(),
            committed_at: "2026-01-01T00:00:00Z".into(),
            agent_id: "agent-7".into(),
            model_id: "claude".into(),
            toolchain_id: "muse-cli".into(),
            prompt_hash: ObjectId::sha256(b"prompt").to_string(),
            sem_ver_bump: SemVerBump::Major,
            breaking_changes: vec!["removed foo()".into(), "b\nc".into()],
            metadata: [("k".to_string(), "v\0?".to_string()), ("a".into(), "".into())].into_iter().collect(),
            structured_delta: Some("{}".into()),
            signer_key_id: "key1".into(),
            ..Commit::default()
        }
    }

    #[test]
    fn round_trips_with_and_without_signature() {
        let commit = sample();
        let (back, id) = Commit::decode(&commit.encode()).unwrap();
        assert_eq!(back, commit);
        assert_eq!(id, commit.id());
        let signed = Commit { signature: "sig".into(), ..commit.clone() };
        let (back, signed_id) = Commit::decode(&signed.encode()).unwrap();
        assert_eq!(back, signed);
        assert_eq!(signed_id, id, "the signature is not covered by the id");
    }

    #[test]
    fn every_other_field_changes_the_id() {
        let base = sample();
        let id = base.id();
        let variants: Vec<Commit> = vec![
            Commit { agent_id: "x".into(), ..base.clone() },
            Commit { model_id: "x".into(), ..base.clone() },
            Commit { toolchain_id: "x".into(), ..base.clone() },
            Commit { prompt_hash: String::new(), ..base.clone() },
            Commit { sem_ver_bump: SemVerBump::Minor, ..base.clone() },
            Commit { breaking_changes: vec![], ..base.clone() },
            Commit { metadata: BTreeMap::new(), ..base.clone() },
            Commit { structured_delta: None, ..base.clone() },
            Commit { signer_key_id: String::new(), ..base.clone() },
            Commit { parents: vec![], ..base.clone() },
            Commit { committed_at: "2026-01-01T00:00:00+00:00".into(), ..base.clone() },
        ];
        for v in variants {
            assert_ne!(v.id(), id, "{v:?}");
        }
    }

    #[test]
    fn rejects_non_canonical_lengths_and_trailing_bytes() {
        let bytes = sample().encode();
        let text = String::from_utf8_lossy(&bytes).replace("author 21\n", "author 021\n");
        assert!(Commit::decode(text.as_bytes()).is_err());
        let mut extra = bytes.clone();
        extra.push(b'x');
        assert!(Commit::decode(&extra).is_err());
        let bad_time = Commit { committed_at: "yesterday".into(), ..sample() };
        assert!(Commit::decode(&bad_time.encode()).is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_commits_round_trip(
            message in ".*", author in ".*", agent in ".*", breaking in proptest::collection::vec(".*", 0..3),
            meta in proptest::collection::btree_map("[^\u{0}]{1,8}", ".*", 0..3), delta in proptest::option::of(".*"),
            nparents in 0usize..4, bump in 0usize..4, sig in ".*",
        ) {
            let commit = Commit {
                parents: (0..nparents).map(|i| CommitId(ObjectId::sha256(&[i as u8]))).collect(),
                message, author, agent_id: agent, breaking_changes: breaking, metadata: meta, structured_delta: delta,
                committed_at: "2026-11-25T07:00:00.5-03:00".into(),
                sem_ver_bump: [SemVerBump::None, SemVerBump::Patch, SemVerBump::Minor, SemVerBump::Major][bump],
                signature: sig,
                ..Commit::default()
            };
            let (back, id) = Commit::decode(&commit.encode()).unwrap();
            prop_assert_eq!(id, commit.id());
            prop_assert_eq!(back, commit);
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut input = COMMIT_MAGIC.to_vec();
            input.extend(bytes);
            let _ = Commit::decode(&input);
        }
    }
}
