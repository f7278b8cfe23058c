//! A parallel walk of a working tree that honours `.museignore` files (gitignore syntax).

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::Match;
use muse_core::EntryKind;
use rayon::prelude::*;

use crate::error::{IoContext, Result, StoreError};
use crate::repo::DOT_MUSE;

/// The name of the per-directory ignore file.
pub const IGNORE_FILE: &str = ".museignore";

/// The `lstat` fields that tell whether a file may have changed since it was hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileStat {
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i64,
    /// Status-change time, nanoseconds since the epoch.
    pub ctime_ns: i64,
    /// Size in bytes.
    pub size: u64,
    /// Inode number.
    pub ino: u64,
}

impl FileStat {
    /// The fields of `meta`.
    pub fn of(meta: &fs::Metadata) -> Self {
        FileStat {
            mtime_ns: meta.mtime().saturating_mul(1_000_000_000).saturating_add(meta.mtime_nsec()),
            ctime_ns: meta.ctime().saturating_mul(1_000_000_000).saturating_add(meta.ctime_nsec()),
            size: meta.size(),
            ino: meta.ino(),
        }
    }
}

/// The kind a file's metadata says it has, or `None` for what trees cannot hold (sockets, …).
pub fn kind_of(meta: &fs::Metadata) -> Option<EntryKind> {
    let ft = meta.file_type();
    if ft.is_symlink() {
        Some(EntryKind::Symlink)
    } else if ft.is_file() {
        Some(if meta.mode() & 0o100 != 0 { EntryKind::Executable } else { EntryKind::File })
    } else {
        None
    }
}

/// A file found by the walk.
#[derive(Debug, Clone)]
pub struct WalkedFile {
    /// Path relative to the working-copy root, `/`-separated.
    pub path: String,
    /// File, executable or symlink.
    pub kind: EntryKind,
    /// Its stat fields at walk time.
    pub stat: FileStat,
}

/// A chain of ignore matchers, innermost directory first.
struct Ignores {
    matcher: Gitignore,
    parent: Option<Arc<Ignores>>,
}

impl Ignores {
    fn is_ignored(chain: &Option<Arc<Ignores>>, abs: &Path, is_dir: bool) -> bool {
        let mut current = chain.as_ref();
        while let Some(level) = current {
            match level.matcher.matched(abs, is_dir) {
                Match::Ignore(_) => return true,
                Match::Whitelist(_) => return false,
                Match::None => current = level.parent.as_ref(),
            }
        }
        false
    }
}

/// Every file under `root` that is not ignored, sorted by path bytes. Skips `.muse`, and
/// directories holding their own `.muse` (nested repositories and workspaces).
pub fn walk(root: &Path) -> Result<Vec<WalkedFile>> {
    let mut files = walk_dir(root, "", &None)?;
    // Directory order is not full-path byte order ("a/x" sorts after "a.txt"), so sort once.
    files.par_sort_unstable_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    Ok(files)
}

fn walk_dir(abs: &Path, rel: &str, ignores: &Option<Arc<Ignores>>) -> Result<Vec<WalkedFile>> {
    let mut names = Vec::new();
    let mut has_ignore_file = false;
    for entry in fs::read_dir(abs).ctx("list", abs)? {
        let entry = entry.ctx("list", abs)?;
        let name = entry.file_name().into_string().map_err(|raw| StoreError::InvalidPath {
            path: abs.join(raw),
            reason: "the name is not valid UTF-8; muse stores UTF-8 paths only (rename it or add it to .museignore)".into(),
        })?;
        if name == DOT_MUSE {
            continue;
        }
        has_ignore_file |= name == IGNORE_FILE;
        let file_type = entry.file_type().ctx("stat", &entry.path())?;
        names.push((name, file_type));
    }
    let ignores = if has_ignore_file {
        let file = abs.join(IGNORE_FILE);
        let mut builder = GitignoreBuilder::new(abs);
        if let Some(err) = builder.add(&file) {
            return Err(StoreError::InvalidPath { path: file, reason: err.to_string() });
        }
        let matcher = builder.build().map_err(|e| StoreError::InvalidPath { path: file, reason: e.to_string() })?;
        Some(Arc::new(Ignores { matcher, parent: ignores.clone() }))
    } else {
        ignores.clone()
    };
    let mut files = Vec::new();
    let mut dirs: Vec<(PathBuf, String)> = Vec::new();
    for (name, file_type) in names {
        let child = abs.join(&name);
        let child_rel = if rel.is_empty() { name } else { format!("{rel}/{name}") };
        if Ignores::is_ignored(&ignores, &child, file_type.is_dir()) {
            continue;
        }
        if file_type.is_dir() {
            if !child.join(DOT_MUSE).exists() {
                dirs.push((child, child_rel));
            }
            continue;
        }
        let meta = match fs::symlink_metadata(&child) {
            Ok(meta) => meta,
            // Deleted between readdir and lstat: it is simply not there any more.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(StoreError::Io { op: "stat", path: child, source: e }),
        };
        if let Some(kind) = kind_of(&meta) {
            files.push(WalkedFile { path: child_rel, kind, stat: FileStat::of(&meta) });
        }
    }
    let nested: Vec<Vec<WalkedFile>> = dirs.par_iter().map(|(dir, dir_rel)| walk_dir(dir, dir_rel, &ignores)).collect::<Result<_>>()?;
    files.extend(nested.into_iter().flatten());
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn honours_nested_ignore_files_and_skips_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for (path, content) in [("a.txt", "x"), ("a/x", "x"), ("a/build/out", "x"), ("b/keep.log", "x"), ("b/drop.log", "x"), (".muse/HEAD", "x"), ("nested/.muse", "x"), ("nested/f", "x")] {
            fs::create_dir_all(root.join(path).parent().unwrap()).unwrap();
            fs::write(root.join(path), content).unwrap();
        }
        fs::write(root.join(".museignore"), "build/\n*.log\n").unwrap();
        fs::write(root.join("b/.museignore"), "!keep.log\n").unwrap();
        let paths: Vec<String> = walk(root).unwrap().into_iter().map(|f| f.path).collect();
        assert_eq!(paths, [".museignore", "a.txt", "a/x", "b/.museignore", "b/keep.log"]);
    }
}
