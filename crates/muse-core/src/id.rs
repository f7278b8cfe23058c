//! Content ids: SHA-256 digests, written `sha256:<64 lowercase hex>`.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// The textual prefix of every id users see.
const PREFIX: &str = "sha256:";

/// The SHA-256 of some stored bytes: the address of any object in a Muse store.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId([u8; 32]);

/// Why a string is not an id or an id prefix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdParseError {
    /// The text is not `sha256:` followed by 64 lowercase hex digits (the prefix is optional).
    #[error("'{0}' is not an id (expected sha256:<64 lowercase hex digits>)")]
    Malformed(String),
    /// A prefix was shorter than the 7 hex digits needed to be accepted.
    #[error("'{0}' is too short to name an object (at least 7 hex digits are needed)")]
    TooShort(String),
}

impl ObjectId {
    /// The number of bytes in a raw id.
    pub const LEN: usize = 32;

    /// Wraps 32 raw digest bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        ObjectId(bytes)
    }

    /// Reads an id from a slice of exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        Some(ObjectId(bytes.try_into().ok()?))
    }

    /// The raw 32 digest bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The plain SHA-256 of `bytes`. This is the id of a tree or commit given its canonical
    /// encoding, but **not** of a blob holding `bytes` (see [`crate::blob_id`] and the kind rule
    /// in [`crate::ObjectKind`]); it is also used for checksums that are not object ids.
    pub fn sha256(bytes: &[u8]) -> Self {
        ObjectId(Sha256::digest(bytes).into())
    }

    /// The 64 lowercase hex digits, without the `sha256:` prefix.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The first `n` hex digits (at most 64), for short displays.
    pub fn short(&self, n: usize) -> String {
        let mut hex = self.to_hex();
        hex.truncate(n.min(64));
        hex
    }

    /// Parses `sha256:<64 hex>` or bare `<64 hex>` (lowercase only, so every id has one spelling).
    pub fn parse(text: &str) -> Result<Self, IdParseError> {
        let hex_part = text.strip_prefix(PREFIX).unwrap_or(text);
        if hex_part.len() != 64 || !is_lower_hex(hex_part) {
            return Err(IdParseError::Malformed(text.to_string()));
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(hex_part, &mut bytes).map_err(|_| IdParseError::Malformed(text.to_string()))?;
        Ok(ObjectId(bytes))
    }
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PREFIX}{}", self.to_hex())
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PREFIX}{}", self.short(12))
    }
}

impl FromStr for ObjectId {
    type Err = IdParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ObjectId::parse(s)
    }
}

impl serde::Serialize for ObjectId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for ObjectId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        ObjectId::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A streaming plain SHA-256, for checksums (pack trailers, mpack trailers). A blob's id is
/// computed by [`crate::BlobHasher`] instead.
#[derive(Default, Clone)]
pub struct Hasher(Sha256);

impl Hasher {
    /// Starts an empty hash.
    pub fn new() -> Self {
        Hasher(Sha256::new())
    }

    /// Feeds more bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The SHA-256 of every byte fed so far.
    pub fn finish(self) -> ObjectId {
        ObjectId(self.0.finalize().into())
    }
}

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub ObjectId);

        impl $name {
            /// The untyped object id.
            pub fn object_id(&self) -> ObjectId {
                self.0
            }

            /// Parses `sha256:<64 hex>` or bare `<64 hex>`.
            pub fn parse(text: &str) -> Result<Self, IdParseError> {
                ObjectId::parse(text).map($name)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl From<$name> for ObjectId {
            fn from(id: $name) -> ObjectId {
                id.0
            }
        }
    };
}

typed_id!(
    /// The id of a blob: the SHA-256 of `muse-blob/1\n` followed by a file's bytes (or a
    /// symlink's target); see [`crate::blob_id`].
    BlobId
);
typed_id!(
    /// The id of a tree: the SHA-256 of its canonical encoding (see [`crate::Tree`]).
    TreeId
);
typed_id!(
    /// The id of a commit: the SHA-256 of its canonical encoding without the signature.
    CommitId
);

/// A snapshot is a whole tree; its id is the id of its root tree.
pub type SnapshotId = TreeId;

/// A user-typed abbreviation of an id: at least 7 lowercase hex digits, `sha256:` optional.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdPrefix {
    hex: String,
}

impl IdPrefix {
    /// The fewest hex digits accepted as a prefix.
    pub const MIN_LEN: usize = 7;

    /// Parses a prefix; uppercase hex is accepted and folded to lowercase, except in a full
    /// 64-digit id, which must be lowercase like every id written (one spelling per id).
    pub fn parse(text: &str) -> Result<Self, IdParseError> {
        let typed = text.strip_prefix(PREFIX).unwrap_or(text);
        if typed.len() == 64 && !is_lower_hex(typed) {
            return Err(IdParseError::Malformed(text.to_string()));
        }
        let hex_part = typed.to_ascii_lowercase();
        if hex_part.len() > 64 || !is_lower_hex(&hex_part) || hex_part.is_empty() {
            return Err(IdParseError::Malformed(text.to_string()));
        }
        if hex_part.len() < Self::MIN_LEN {
            return Err(IdParseError::TooShort(text.to_string()));
        }
        Ok(IdPrefix { hex: hex_part })
    }

    /// The hex digits of the prefix.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The smallest id that starts with this prefix, for range scans over sorted ids.
    pub fn lower_bound(&self) -> ObjectId {
        let mut padded = self.hex.clone();
        padded.extend(std::iter::repeat_n('0', 64 - padded.len()));
        ObjectId::parse(&padded).unwrap_or(ObjectId([0; 32]))
    }

    /// Whether `id` starts with this prefix.
    pub fn matches(&self, id: &ObjectId) -> bool {
        id.to_hex().starts_with(&self.hex)
    }
}

impl fmt::Display for IdPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_input_hashes_to_the_known_sha256() {
        assert_eq!(ObjectId::sha256(b"").to_string(), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }

    #[test]
    fn parse_accepts_prefixed_and_bare_lowercase_only() {
        let id = ObjectId::sha256(b"x");
        assert_eq!(ObjectId::parse(&id.to_string()).unwrap(), id);
        assert_eq!(ObjectId::parse(&id.to_hex()).unwrap(), id);
        assert!(ObjectId::parse(&id.to_hex().to_uppercase()).is_err());
        assert!(ObjectId::parse("sha256:abc").is_err());
    }

    #[test]
    fn prefixes_need_seven_digits() {
        assert!(matches!(IdPrefix::parse("abcdef"), Err(IdParseError::TooShort(_))));
        let p = IdPrefix::parse("sha256:ABCDEF0").unwrap();
        assert_eq!(p.hex(), "abcdef0");
        let full = ObjectId::sha256(b"z").to_hex();
        assert!(IdPrefix::parse(&full).is_ok());
        assert!(IdPrefix::parse(&full[..63].to_uppercase()).is_ok(), "a 63-digit prefix is case-insensitive");
        assert!(IdPrefix::parse(&full.to_uppercase()).is_err(), "an uppercase full id is rejected");
        assert!(IdPrefix::parse(&format!("sha256:{}", full.to_uppercase())).is_err());
        assert!(IdPrefix::parse("xyzxyzx").is_err());
        let id = ObjectId::sha256(b"y");
        assert!(IdPrefix::parse(&id.short(9)).unwrap().matches(&id));
        assert!(IdPrefix::parse(&id.short(9)).unwrap().lower_bound() <= id);
    }

    #[test]
    fn streaming_hash_equals_one_shot() {
        let mut h = Hasher::new();
        h.update(b"hello ");
        h.update(b"world");
        assert_eq!(h.finish(), ObjectId::sha256(b"hello world"));
    }
}
