//! Trees: one directory level of a snapshot, encoded canonically and addressed by SHA-256.
//!
//! Encoding (see `docs/formats.md`): the magic line `muse-tree/1\n`, then for each entry in
//! ascending byte order of its name: one kind byte, a space, the name, a NUL, the 32 raw bytes
//! of the entry's id. No two entries share a name; no subtree is empty.

use crate::error::DecodeError;
use crate::id::{ObjectId, TreeId};
use crate::path::validate_name;

/// The first bytes of every encoded tree.
pub const TREE_MAGIC: &[u8] = b"muse-tree/1\n";

/// The most names a path of a snapshot may have (`a/b/c` has 3): a tree whose deepest path is
/// longer is not stored, applied or checked out (see `docs/formats.md` §Limits).
pub const MAX_TREE_DEPTH: usize = 1024;

/// The most bytes a path of a snapshot may have, its names joined by `/` (Linux's `PATH_MAX`).
pub const MAX_PATH_LEN: usize = 4096;

/// How far the paths under a tree reach: the names in its deepest path and the bytes of its
/// longest one. The limits apply to a snapshot's root; a subtree's shape is what it adds below
/// the name it is stored under.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TreeShape {
    /// Names in the deepest path (0 for the empty tree).
    pub depth: usize,
    /// Bytes in the longest path.
    pub path_len: usize,
}

impl TreeShape {
    /// The shape of `tree`, given the shape of each subtree entry.
    pub fn of(tree: &Tree, mut subtree: impl FnMut(&TreeEntry) -> TreeShape) -> TreeShape {
        let mut shape = TreeShape::default();
        for entry in tree.entries() {
            let (depth, path_len) = match entry.kind {
                EntryKind::Tree => {
                    let below = subtree(entry);
                    (below.depth.saturating_add(1), entry.name.len().saturating_add(1).saturating_add(below.path_len))
                }
                _ => (1, entry.name.len()),
            };
            shape.depth = shape.depth.max(depth);
            shape.path_len = shape.path_len.max(path_len);
        }
        shape
    }

    /// Why a snapshot of this shape cannot be stored, if it cannot.
    pub fn check(&self) -> Result<(), String> {
        if self.depth > MAX_TREE_DEPTH {
            return Err(format!("it holds a path of {} names, more than the {MAX_TREE_DEPTH} a snapshot may have", self.depth));
        }
        if self.path_len > MAX_PATH_LEN {
            return Err(format!("it holds a path of {} bytes, more than the {MAX_PATH_LEN} a snapshot may have", self.path_len));
        }
        Ok(())
    }
}

/// Why a path of `depth` names and `len` bytes cannot be stored in a snapshot, if it cannot.
pub fn check_path_limits(depth: usize, len: usize) -> Result<(), String> {
    TreeShape { depth, path_len: len }.check()
}

/// The longest symlink target a store accepts, in bytes (Linux's `PATH_MAX` of 4096 counts the
/// terminating NUL). `docs/formats.md` §3.
pub const MAX_SYMLINK_TARGET: usize = 4095;

/// Checks that `target` can be a symlink's target on every supported system: 1 to
/// [`MAX_SYMLINK_TARGET`] bytes of UTF-8 without NUL. A tree's `l` entry must name a blob that
/// passes this check; the reason is returned otherwise.
pub fn check_symlink_target(target: &[u8]) -> Result<(), String> {
    if target.is_empty() {
        return Err("its target is empty".into());
    }
    if target.len() > MAX_SYMLINK_TARGET {
        return Err(format!("its target is {} bytes long (at most {MAX_SYMLINK_TARGET})", target.len()));
    }
    if target.contains(&0) {
        return Err("its target contains a NUL byte".into());
    }
    if std::str::from_utf8(target).is_err() {
        return Err("its target is not UTF-8".into());
    }
    Ok(())
}

/// What a tree entry points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// A regular file; the id is its blob.
    File,
    /// A file with the executable bit; the id is its blob.
    Executable,
    /// A symbolic link; the id is the blob of its target path.
    Symlink,
    /// A subdirectory; the id is its tree.
    Tree,
}

impl EntryKind {
    /// The byte that encodes this kind in a tree: `f`, `x`, `l` or `d`.
    pub fn code(self) -> u8 {
        match self {
            EntryKind::File => b'f',
            EntryKind::Executable => b'x',
            EntryKind::Symlink => b'l',
            EntryKind::Tree => b'd',
        }
    }

    /// The kind a code byte stands for.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            b'f' => EntryKind::File,
            b'x' => EntryKind::Executable,
            b'l' => EntryKind::Symlink,
            b'd' => EntryKind::Tree,
            _ => return None,
        })
    }

    /// Whether the entry's id names a blob (anything but a subtree).
    pub fn is_blob(self) -> bool {
        self != EntryKind::Tree
    }

    /// The name used in JSON and in `docs/cli.md`.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::File => "file",
            EntryKind::Executable => "executable",
            EntryKind::Symlink => "symlink",
            EntryKind::Tree => "tree",
        }
    }
}

/// One named entry of a tree.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct TreeEntry {
    /// The entry's name within its directory (no `/`).
    pub name: String,
    /// What the entry is.
    pub kind: EntryKind,
    /// The blob or tree it points at.
    pub id: ObjectId,
}

/// One directory level: entries sorted by name, names unique.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tree {
    entries: Vec<TreeEntry>,
}

impl Tree {
    /// The id of the empty tree, the root of an empty snapshot.
    pub fn empty_id() -> TreeId {
        TreeId(ObjectId::sha256(TREE_MAGIC))
    }

    /// Builds a tree from entries in any order, checking names, uniqueness and non-empty subtrees.
    pub fn from_entries(mut entries: Vec<TreeEntry>) -> Result<Self, DecodeError> {
        entries.sort_unstable_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
        for (i, entry) in entries.iter().enumerate() {
            check_entry(entry).map_err(|reason| DecodeError::new("tree", 0, reason))?;
            if i > 0 && entries[i - 1].name == entry.name {
                return Err(DecodeError::new("tree", 0, format!("duplicate entry name '{}'", entry.name)));
            }
        }
        Ok(Tree { entries })
    }

    /// The entries, sorted by name bytes.
    pub fn entries(&self) -> &[TreeEntry] {
        &self.entries
    }

    /// Consumes the tree, yielding its sorted entries.
    pub fn into_entries(self) -> Vec<TreeEntry> {
        self.entries
    }

    /// The entry named `name`, by binary search.
    pub fn get(&self, name: &str) -> Option<&TreeEntry> {
        self.entries.binary_search_by(|e| e.name.as_bytes().cmp(name.as_bytes())).ok().map(|i| &self.entries[i])
    }

    /// Whether the tree has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The canonical bytes whose SHA-256 is the tree's id.
    pub fn encode(&self) -> Vec<u8> {
        let size: usize = self.entries.iter().map(|e| e.name.len() + 35).sum();
        let mut out = Vec::with_capacity(TREE_MAGIC.len() + size);
        out.extend_from_slice(TREE_MAGIC);
        for entry in &self.entries {
            out.push(entry.kind.code());
            out.push(b' ');
            out.extend_from_slice(entry.name.as_bytes());
            out.push(0);
            out.extend_from_slice(entry.id.as_bytes());
        }
        out
    }

    /// The tree's id: SHA-256 of [`Tree::encode`].
    pub fn id(&self) -> TreeId {
        TreeId(ObjectId::sha256(&self.encode()))
    }

    /// Decodes canonical tree bytes, rejecting anything [`Tree::encode`] would not produce.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let err = |offset: usize, reason: &str| DecodeError::new("tree", offset, reason);
        let mut rest = bytes.strip_prefix(TREE_MAGIC).ok_or_else(|| err(0, "missing 'muse-tree/1' magic line"))?;
        let mut entries: Vec<TreeEntry> = Vec::new();
        while !rest.is_empty() {
            let offset = bytes.len() - rest.len();
            let kind = EntryKind::from_code(rest[0]).ok_or_else(|| err(offset, "unknown entry kind"))?;
            if rest.get(1) != Some(&b' ') {
                return Err(err(offset + 1, "expected a space after the entry kind"));
            }
            let nul = rest[2..].iter().position(|&b| b == 0).ok_or_else(|| err(offset + 2, "entry name is not NUL-terminated"))?;
            let name = std::str::from_utf8(&rest[2..2 + nul]).map_err(|_| err(offset + 2, "entry name is not UTF-8"))?;
            let id_start = 2 + nul + 1;
            let id = rest.get(id_start..id_start + 32).and_then(ObjectId::from_slice).ok_or_else(|| err(offset + id_start, "truncated entry id"))?;
            let entry = TreeEntry { name: name.to_string(), kind, id };
            check_entry(&entry).map_err(|reason| DecodeError::new("tree", offset, reason))?;
            if let Some(prev) = entries.last() {
                if prev.name.as_bytes() >= entry.name.as_bytes() {
                    return Err(err(offset, "entries are not in strictly ascending name order"));
                }
            }
            entries.push(entry);
            rest = &rest[id_start + 32..];
        }
        Ok(Tree { entries })
    }
}

fn check_entry(entry: &TreeEntry) -> Result<(), String> {
    validate_name(&entry.name).map_err(|e| e.to_string())?;
    if entry.kind == EntryKind::Tree && entry.id == Tree::empty_id().0 {
        return Err(format!("subtree '{}' is empty; empty directories are not stored", entry.name));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_counts_names_and_bytes_of_the_deepest_and_longest_paths() {
        let id = ObjectId::sha256(b"x");
        let sub = Tree::from_entries(vec![TreeEntry { name: "file.rs".into(), kind: EntryKind::File, id }]).unwrap();
        let sub_shape = TreeShape::of(&sub, |_| unreachable!("no subtree"));
        assert_eq!(sub_shape, TreeShape { depth: 1, path_len: 7 });
        let root = Tree::from_entries(vec![
            TreeEntry { name: "src".into(), kind: EntryKind::Tree, id: sub.id().0 },
            TreeEntry { name: "a-long-top-level-name".into(), kind: EntryKind::File, id },
        ])
        .unwrap();
        // "src/file.rs" is the deepest (2 names), "a-long-top-level-name" the longest (21 bytes).
        assert_eq!(TreeShape::of(&root, |_| sub_shape), TreeShape { depth: 2, path_len: 21 });
        assert_eq!(TreeShape::of(&Tree::default(), |_| sub_shape), TreeShape::default());
        assert!(check_path_limits(MAX_TREE_DEPTH, MAX_PATH_LEN).is_ok());
        assert!(check_path_limits(MAX_TREE_DEPTH + 1, 10).unwrap_err().contains("1025 names"));
        assert!(check_path_limits(1, MAX_PATH_LEN + 1).unwrap_err().contains("4097 bytes"));
    }
    use proptest::prelude::*;

    fn entry(name: &str, kind: EntryKind, seed: &[u8]) -> TreeEntry {
        TreeEntry { name: name.into(), kind, id: ObjectId::sha256(seed) }
    }

    #[test]
    fn symlink_targets_must_be_short_utf8_without_nul() {
        assert!(check_symlink_target(b"../README").is_ok());
        assert!(check_symlink_target(&[b'a'; MAX_SYMLINK_TARGET]).is_ok());
        for (bad, why) in [(&b""[..], "empty"), (b"a\0b", "NUL"), (b"\xff", "UTF-8"), (&[b'a'; MAX_SYMLINK_TARGET + 1], "long")] {
            let reason = check_symlink_target(bad).unwrap_err();
            assert!(reason.contains(why), "{reason}");
        }
    }

    #[test]
    fn encoding_is_sorted_and_round_trips() {
        let tree = Tree::from_entries(vec![entry("b", EntryKind::File, b"1"), entry("a", EntryKind::Tree, b"2")]).unwrap();
        assert_eq!(tree.entries()[0].name, "a");
        assert_eq!(Tree::decode(&tree.encode()).unwrap(), tree);
        assert_eq!(tree.get("b").unwrap().kind, EntryKind::File);
    }

    #[test]
    fn decode_rejects_non_canonical_input() {
        let a = entry("a", EntryKind::File, b"1");
        let mut unsorted = Tree { entries: vec![entry("b", EntryKind::File, b"1"), a.clone()] }.encode();
        assert!(Tree::decode(&unsorted).is_err());
        unsorted.truncate(unsorted.len() - 1);
        assert!(Tree::decode(&unsorted).is_err());
        let dup = Tree { entries: vec![a.clone(), a] }.encode();
        assert!(Tree::decode(&dup).is_err());
        let empty_sub = Tree { entries: vec![TreeEntry { name: "d".into(), kind: EntryKind::Tree, id: Tree::empty_id().0 }] };
        assert!(Tree::decode(&empty_sub.encode()).is_err());
        assert!(Tree::decode(b"muse-tree/2\n").is_err());
    }

    fn arb_entry() -> impl Strategy<Value = TreeEntry> {
        ("[a-zA-Z0-9_.-]{1,12}", 0u8..4, any::<[u8; 32]>()).prop_filter_map("valid name", |(name, k, id)| {
            let kind = [EntryKind::File, EntryKind::Executable, EntryKind::Symlink, EntryKind::Tree][k as usize];
            let e = TreeEntry { name, kind, id: ObjectId::from_bytes(id) };
            check_entry(&e).ok().map(|_| e)
        })
    }

    proptest! {
        #[test]
        fn any_valid_tree_round_trips(entries in proptest::collection::vec(arb_entry(), 0..20)) {
            let mut entries = entries;
            entries.sort_by(|a, b| a.name.cmp(&b.name));
            entries.dedup_by(|a, b| a.name == b.name);
            let tree = Tree::from_entries(entries).unwrap();
            let bytes = tree.encode();
            let back = Tree::decode(&bytes).unwrap();
            prop_assert_eq!(back.id(), tree.id());
            prop_assert_eq!(back, tree);
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut input = TREE_MAGIC.to_vec();
            input.extend(bytes);
            if let Ok(tree) = Tree::decode(&input) {
                prop_assert_eq!(tree.encode(), input);
            }
        }
    }
}
