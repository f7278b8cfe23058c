//! The symbol cache (`docs/formats.md` §12): what extraction found in a blob, kept in the store
//! directory by (extractor version, language, blob id), so that a file is parsed once for all
//! commits, diffs and `semver` runs that meet its content. A blob never changes, so an entry
//! never goes stale; an entry of another extractor version is never read.
//!
//! Entries are written to a temporary file in their directory and renamed into place, so
//! concurrent readers and writers (two commits, a commit and a `semver`) only ever see whole
//! entries; two writers of one entry write the same bytes. No fsync: it is a cache. Failures to
//! write are ignored (a read-only store still answers, parsing again).

use std::fs;
use std::path::{Path, PathBuf};

use muse_core::ObjectId;
use serde::{Deserialize, Serialize};

use crate::extract::EXTRACTOR_VERSION;
use crate::model::{FileSymbols, Language, Symbol, UnknownReason};

/// Entries per fan-out directory: past it, writing one removes every second entry of that
/// directory (256 directories, so at most 65,536 entries in all).
const MAX_ENTRIES_PER_DIR: usize = 256;

/// Entries larger than this are not read (a damaged or foreign file).
const MAX_ENTRY_BYTES: u64 = 16 << 20;

/// The cache of one store.
#[derive(Debug, Clone)]
pub struct SymbolCache {
    dir: PathBuf,
}

/// One entry's JSON: the key it answers, then what extraction found, flat (a tagged enum would
/// make the decoder buffer the whole entry first).
#[derive(Serialize, Deserialize)]
struct Entry {
    extractor: u32,
    language: Language,
    blob: String,
    /// The symbols of a parsed file; absent when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    symbols: Option<Vec<Symbol>>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    syntax_errors: bool,
    /// Why the symbols are unknown; absent when parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    unknown: Option<UnknownReason>,
}

impl Entry {
    fn new(language: Language, blob: &ObjectId, symbols: &FileSymbols) -> Entry {
        let (symbols, syntax_errors, unknown) = match symbols {
            FileSymbols::Parsed { symbols, syntax_errors } => (Some(symbols.clone()), *syntax_errors, None),
            FileSymbols::Unknown { reason } => (None, false, Some(*reason)),
        };
        Entry { extractor: EXTRACTOR_VERSION, language, blob: blob.to_string(), symbols, syntax_errors, unknown }
    }

    fn symbols(self) -> Option<FileSymbols> {
        match (self.symbols, self.unknown) {
            (Some(symbols), None) => Some(FileSymbols::Parsed { symbols, syntax_errors: self.syntax_errors }),
            (None, Some(reason)) => Some(FileSymbols::Unknown { reason }),
            _ => None,
        }
    }
}

impl SymbolCache {
    /// The cache of the store at `store_dir` (`STORE/code/symbols-vN/`, N the extractor
    /// version). Nothing is created until the first entry is written.
    pub fn in_store(store_dir: &Path) -> SymbolCache {
        SymbolCache { dir: store_dir.join("code").join(format!("symbols-v{EXTRACTOR_VERSION}")) }
    }

    /// The directory holding this version's entries.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, language: Language, blob: &ObjectId) -> PathBuf {
        let hex = blob.to_hex();
        self.dir.join(&hex[..2]).join(format!("{}.{}.json", &hex[2..], language.as_str()))
    }

    /// The cached symbols of `blob` read as `language`, if an intact entry holds them.
    pub fn get(&self, language: Language, blob: &ObjectId) -> Option<FileSymbols> {
        let path = self.path(language, blob);
        if fs::metadata(&path).ok()?.len() > MAX_ENTRY_BYTES {
            return None;
        }
        let entry: Entry = serde_json::from_slice(&fs::read(&path).ok()?).ok()?;
        if entry.extractor != EXTRACTOR_VERSION || entry.language != language || entry.blob != blob.to_string() {
            return None;
        }
        entry.symbols()
    }

    /// Stores the symbols of `blob` read as `language` (atomically: temporary file, rename).
    pub fn put(&self, language: Language, blob: &ObjectId, symbols: &FileSymbols) -> std::io::Result<()> {
        let path = self.path(language, blob);
        let dir = path.parent().unwrap_or(&self.dir);
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("entry");
        let bytes = serde_json::to_vec(&Entry::new(language, blob, symbols)).map_err(std::io::Error::other)?;
        muse_store::put_cache_entry(dir, name, &bytes, MAX_ENTRIES_PER_DIR)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_foreign_or_damaged_ones_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let cache = SymbolCache::in_store(dir.path());
        let blob = muse_core::blob_id(b"def f(): pass\n");
        let symbols = FileSymbols::Parsed { symbols: Vec::new(), syntax_errors: true };
        assert_eq!(cache.get(Language::Python, &blob), None);
        cache.put(Language::Python, &blob, &symbols).unwrap();
        assert_eq!(cache.get(Language::Python, &blob), Some(symbols.clone()));
        assert_eq!(cache.get(Language::Rust, &blob), None, "another language is another entry");
        let path = cache.path(Language::Python, &blob);
        assert!(path.starts_with(dir.path().join("code/symbols-v1")), "{}", path.display());
        // A torn or foreign entry is ignored, then written again.
        fs::write(&path, b"{\"extractor\":1,").unwrap();
        assert_eq!(cache.get(Language::Python, &blob), None);
        let other = muse_core::blob_id(b"other");
        let foreign = serde_json::to_vec(&Entry::new(Language::Python, &other, &symbols)).unwrap();
        fs::write(&path, foreign).unwrap();
        assert_eq!(cache.get(Language::Python, &blob), None, "an entry naming another blob is not this blob's");
        let unknown = FileSymbols::Unknown { reason: UnknownReason::TooLarge };
        cache.put(Language::Python, &blob, &unknown).unwrap();
        assert_eq!(cache.get(Language::Python, &blob), Some(unknown));
        let leftovers: Vec<_> =
            fs::read_dir(path.parent().unwrap()).unwrap().filter_map(|e| e.ok()).filter(|e| e.file_name().to_string_lossy().ends_with(".tmp")).collect();
        assert!(leftovers.is_empty());
    }
}
