//! The kind rule: what each kind of object hashes, so that no two kinds can share an id.
//!
//! An object's id is the SHA-256 of its *hash input*, and every kind's hash input opens with
//! its own magic line (`docs/formats.md` §1):
//!
//! | kind | hash input |
//! |---|---|
//! | blob | `muse-blob/1\n` followed by the content |
//! | tree | the canonical encoding, which opens with `muse-tree/1\n` |
//! | commit | the canonical encoding without the signature, which opens with `muse-commit/1\n` |
//!
//! No magic is a prefix of another, so the hash inputs of two objects of different kinds always
//! differ, and so do their ids (barring a SHA-256 collision). A file whose bytes are a tree's
//! encoding therefore has another id than that tree.

use sha2::{Digest, Sha256};

use crate::{Commit, ObjectId, COMMIT_MAGIC, TREE_MAGIC};

/// The magic line that opens the hash input of every blob (never stored: a blob is stored as
/// its bare content).
pub const BLOB_MAGIC: &[u8] = b"muse-blob/1\n";

/// What kind of object some bytes are. The discriminants are the kind codes of store packs and
/// mpack records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ObjectKind {
    /// File content (or a symlink's target).
    Blob = 1,
    /// One directory level.
    Tree = 2,
    /// A commit record.
    Commit = 3,
}

impl ObjectKind {
    /// The kind a code byte (1, 2 or 3) stands for.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            1 => ObjectKind::Blob,
            2 => ObjectKind::Tree,
            3 => ObjectKind::Commit,
            _ => return None,
        })
    }

    /// The lowercase name used in messages and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Blob => "blob",
            ObjectKind::Tree => "tree",
            ObjectKind::Commit => "commit",
        }
    }

    /// The id of an object of this kind whose stored bytes are `stored`, or `None` when the
    /// bytes cannot be an object of this kind (a tree that does not open with the tree magic, a
    /// commit that does not decode canonically). For a signed commit, `stored` includes the
    /// signature field and the id covers the part before it. A tree's entries are not checked
    /// here ([`crate::Tree::decode`] does that).
    pub fn id_of(self, stored: &[u8]) -> Option<ObjectId> {
        match self {
            ObjectKind::Blob => Some(blob_id(stored)),
            ObjectKind::Tree => stored.starts_with(TREE_MAGIC).then(|| ObjectId::sha256(stored)),
            ObjectKind::Commit => stored.starts_with(COMMIT_MAGIC).then(|| Commit::decode(stored).ok()).flatten().map(|(_, id)| id.0),
        }
    }
}

impl std::fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The id of a blob with content `content`: SHA-256 of [`BLOB_MAGIC`] followed by the content.
pub fn blob_id(content: &[u8]) -> ObjectId {
    let mut hasher = BlobHasher::new();
    hasher.update(content);
    hasher.finish()
}

/// Computes a blob's id from its content fed in pieces, for files of any size.
#[derive(Clone)]
pub struct BlobHasher(Sha256);

impl BlobHasher {
    /// Starts a blob id (the blob magic is already fed).
    pub fn new() -> Self {
        let mut sha = Sha256::new();
        sha.update(BLOB_MAGIC);
        BlobHasher(sha)
    }

    /// Feeds more content.
    pub fn update(&mut self, content: &[u8]) {
        self.0.update(content);
    }

    /// The id of the blob whose content is everything fed so far.
    pub fn finish(self) -> ObjectId {
        ObjectId::from_bytes(self.0.finalize().into())
    }
}

impl Default for BlobHasher {
    fn default() -> Self {
        BlobHasher::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Tree;

    #[test]
    fn no_magic_is_a_prefix_of_another() {
        let magics = [BLOB_MAGIC, TREE_MAGIC, COMMIT_MAGIC];
        for (i, a) in magics.iter().enumerate() {
            for (j, b) in magics.iter().enumerate() {
                assert!(i == j || !b.starts_with(a), "{:?} opens {:?}", String::from_utf8_lossy(a), String::from_utf8_lossy(b));
            }
        }
    }

    #[test]
    fn a_blob_holding_a_tree_encoding_has_another_id_than_the_tree() {
        let empty = Tree::default().encode();
        assert_eq!(ObjectKind::Tree.id_of(&empty), Some(Tree::empty_id().0));
        assert_ne!(blob_id(&empty), Tree::empty_id().0);
        assert_eq!(ObjectKind::Blob.id_of(&empty), Some(blob_id(&empty)));
    }

    #[test]
    fn streaming_blob_hash_equals_one_shot_and_differs_from_plain_sha256() {
        let mut h = BlobHasher::new();
        h.update(b"hello ");
        h.update(b"world");
        assert_eq!(h.finish(), blob_id(b"hello world"));
        assert_ne!(blob_id(b"hello world"), ObjectId::sha256(b"hello world"));
        let mut prefixed = BLOB_MAGIC.to_vec();
        prefixed.extend_from_slice(b"hello world");
        assert_eq!(blob_id(b"hello world"), ObjectId::sha256(&prefixed));
    }

    #[test]
    fn bytes_of_the_wrong_kind_have_no_id() {
        assert_eq!(ObjectKind::Tree.id_of(b"hello\n"), None);
        assert_eq!(ObjectKind::Commit.id_of(b"hello\n"), None);
        assert_eq!(ObjectKind::Commit.id_of(&Tree::default().encode()), None);
        assert!(ObjectKind::Blob.id_of(b"anything").is_some());
        for code in 1..=3 {
            assert_eq!(ObjectKind::from_code(code).map(|k| k as u8), Some(code));
        }
        assert_eq!(ObjectKind::from_code(0), None);
    }
}
