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
    walk_dir(root, "", &None)
}

/// A directory entry kept for the second pass: its name and whether it is a directory.
struct Listed {
    name: String,
    entry: fs::DirEntry,
    is_dir: bool,
}

impl Listed {
    /// Orders siblings with directories compared as `name/`, which makes a depth-first walk come
    /// out in the byte order of full paths ("a.txt" < "a/x" because '.' < '/'), so no global
    /// sort is needed.
    fn path_order(&self, other: &Listed) -> std::cmp::Ordering {
        let (x, y) = (self.name.as_bytes(), other.name.as_bytes());
        let n = x.len().min(y.len());
        x[..n].cmp(&y[..n]).then_with(|| {
            let next = |name: &[u8], is_dir: bool| name.get(n).copied().or(is_dir.then_some(b'/'));
            next(x, self.is_dir).cmp(&next(y, other.is_dir))
        })
    }
}

/// `rel/name`, or `name` at the top, allocated once at its final size.
fn join_rel(rel: &str, name: &str) -> String {
    let mut path = String::with_capacity(rel.len() + 1 + name.len());
    if !rel.is_empty() {
        path.push_str(rel);
        path.push('/');
    }
    path.push_str(name);
    path
}

/// What one directory level yields, in path order.
enum Item {
    File(WalkedFile),
    Dir(PathBuf, String),
}

fn walk_dir(abs: &Path, rel: &str, ignores: &Option<Arc<Ignores>>) -> Result<Vec<WalkedFile>> {
    let mut listed = Vec::new();
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
        let is_dir = entry.file_type().ctx("stat", &entry.path())?.is_dir();
        listed.push(Listed { name, entry, is_dir });
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
    listed.sort_unstable_by(Listed::path_order);
    // Files are stat'ed here; subdirectories are walked in parallel and spliced back in order.
    let mut items: Vec<Item> = Vec::with_capacity(listed.len());
    for item in listed {
        if ignores.is_some() && Ignores::is_ignored(&ignores, &abs.join(&item.name), item.is_dir) {
            continue;
        }
        if item.is_dir {
            let dir = abs.join(&item.name);
            if !dir.join(DOT_MUSE).exists() {
                items.push(Item::Dir(dir, join_rel(rel, &item.name)));
            }
            continue;
        }
        let meta = match item.entry.metadata() {
            Ok(meta) => meta,
            // Deleted between readdir and lstat: it is simply not there any more.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(StoreError::Io { op: "stat", path: item.entry.path(), source: e }),
        };
        if let Some(kind) = kind_of(&meta) {
            items.push(Item::File(WalkedFile { path: join_rel(rel, &item.name), kind, stat: FileStat::of(&meta) }));
        }
    }
    let nested: Vec<Vec<WalkedFile>> = items
        .par_iter()
        .filter_map(|item| match item {
            Item::Dir(dir, dir_rel) => Some(walk_dir(dir, dir_rel, &ignores)),
            Item::File(_) => None,
        })
        .collect::<Result<_>>()?;
    let total = items.len() + nested.iter().map(Vec::len).sum::<usize>();
    let mut nested = nested.into_iter();
    let mut files = Vec::with_capacity(total);
    for item in items {
        match item {
            Item::File(file) => files.push(file),
            Item::Dir(..) => files.extend(nested.next().expect("one walk result per subdirectory")),
        }
    }
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
