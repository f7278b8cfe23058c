//! A parallel walk of a working tree that honours `.museignore` files (gitignore syntax).

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::Match;
use muse_core::EntryKind;
use rayon::prelude::*;
use rustix::fd::AsFd;

use crate::error::{Result, StoreError};
use crate::repo::DOT_MUSE;

/// Names at the working-copy root starting with this are checkouts' staging directories
/// (used when the state directory is on another file system), never files of the tree.
pub const STAGING_PREFIX: &str = ".muse-staging-";

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

/// A path of the working copy whose state could not be learned (status reports it and goes
/// on; commit refuses it). `.museignore` excludes such paths like any other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Its path relative to the working-copy root, `/`-separated; a directory is skipped with
    /// everything under it.
    pub path: PathBuf,
    /// Why it was skipped.
    pub reason: SkipReason,
}

/// Why a path was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// Its name is not valid UTF-8 (snapshots hold UTF-8 paths only).
    NotUtf8,
    /// It could not be opened, read or `lstat`ed: the operating system's message.
    Unreadable(String),
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SkipReason::NotUtf8 => f.write_str("the name is not valid UTF-8; muse stores UTF-8 paths only (rename it or add it to .museignore)"),
            SkipReason::Unreadable(why) => write!(f, "{why} (fix its permissions or add it to .museignore)"),
        }
    }
}

impl Skipped {
    /// Whether `path` (a `/`-separated path of the working copy) is this path or lies under it.
    pub fn covers(&self, path: &str) -> bool {
        let own = self.path.as_os_str().as_bytes();
        path.as_bytes().strip_prefix(own).is_some_and(|rest| rest.is_empty() || rest[0] == b'/')
    }
}

/// Unit tests make files and directories of this name fail to open while
/// [`TEST_UNREADABLE_ON`] is set: running as root, nothing else makes an open fail.
#[cfg(test)]
pub(crate) const TEST_UNREADABLE: &str = "muse-test-unreadable";
/// See [`TEST_UNREADABLE`].
#[cfg(test)]
pub(crate) static TEST_UNREADABLE_ON: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether a test made `path` unreadable (see [`TEST_UNREADABLE`]).
#[cfg(test)]
pub(crate) fn test_unreadable(path: &Path) -> bool {
    TEST_UNREADABLE_ON.load(std::sync::atomic::Ordering::Relaxed) && path.file_name().is_some_and(|n| n == TEST_UNREADABLE)
}

fn skip(skipped: &Mutex<Vec<Skipped>>, path: PathBuf, reason: SkipReason) {
    skipped.lock().unwrap_or_else(|e| e.into_inner()).push(Skipped { path, reason });
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
/// directories holding their own `.muse` (nested repositories and workspaces). Names that are
/// not UTF-8, subdirectories that cannot be opened and files that cannot be `lstat`ed are
/// appended to `skipped` (sorted by path bytes) instead of failing the walk.
///
/// Directories are read with `getdents` through their own descriptors and files are `lstat`ed
/// relative to them (`fstatat`), so no path is resolved twice; subdirectories are walked in
/// parallel and their results spliced back in order.
///
/// The walk recurses once per directory level, at most [`muse_core::MAX_TREE_DEPTH`] levels
/// (deeper directories are refused), on a pool of threads whose stacks are large enough for
/// that depth ([`WALK_STACK_BYTES`]; untouched stack pages cost no memory).
pub fn walk(root: &Path, skipped: &mut Vec<Skipped>) -> Result<Vec<WalkedFile>> {
    let fd = open_dir(rustix::fs::CWD, root, root)?;
    let skips = Mutex::new(Vec::new());
    let run = || Ok(walk_dir(fd, root, "", &None, &skips)?.unwrap_or_default());
    let files = match walk_pool() {
        Some(pool) => pool.install(run),
        None => run(),
    };
    let mut skips = skips.into_inner().unwrap_or_else(|e| e.into_inner());
    skips.sort_unstable_by(|a, b| a.path.as_os_str().as_bytes().cmp(b.path.as_os_str().as_bytes()));
    skipped.append(&mut skips);
    files
}

/// Stack size of the walk's threads: a level of the walk (its frame and rayon's) takes a few
/// KiB, so the deepest legal tree needs a few MiB; this leaves a wide margin.
pub const WALK_STACK_BYTES: usize = 64 << 20;

/// The walk's thread pool (`None` if it could not be created: the walk then runs on the
/// global pool, whose stacks fit all but the deepest trees).
fn walk_pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: std::sync::OnceLock<Option<rayon::ThreadPool>> = std::sync::OnceLock::new();
    POOL.get_or_init(|| rayon::ThreadPoolBuilder::new().stack_size(WALK_STACK_BYTES).thread_name(|i| format!("muse-walk-{i}")).build().ok()).as_ref()
}

fn open_dir(parent: impl rustix::fd::AsFd, name: impl rustix::path::Arg, abs: &Path) -> Result<rustix::fd::OwnedFd> {
    use rustix::fs::{Mode, OFlags};
    #[cfg(test)]
    if test_unreadable(abs) {
        return Err(StoreError::Io { op: "open", path: abs.to_path_buf(), source: std::io::ErrorKind::PermissionDenied.into() });
    }
    rustix::fs::openat(parent, name, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW, Mode::empty()).map_err(|e| StoreError::Io {
        op: "open",
        path: abs.to_path_buf(),
        source: e.into(),
    })
}

/// One entry of a directory: its name's place in the directory's name buffer, and its type.
/// In the buffer a directory's name is followed by `/` (so that its sort key is `name/`, see
/// [`path_order`]) and every name by a NUL (so that it can be passed to the kernel as it is).
struct Listed {
    start: usize,
    len: usize,
    file_type: rustix::fs::FileType,
}

impl Listed {
    fn is_dir(&self) -> bool {
        self.file_type == rustix::fs::FileType::Directory
    }

    /// The bytes siblings are ordered by: the name, plus `/` for a directory.
    fn key<'n>(&self, names: &'n [u8]) -> &'n [u8] {
        &names[self.start..self.start + self.len + usize::from(self.is_dir())]
    }

    /// The name as the kernel takes it (a directory's with its `/`, which names the same).
    fn c_name<'n>(&self, names: &'n [u8]) -> &'n std::ffi::CStr {
        let end = self.start + self.len + usize::from(self.is_dir());
        std::ffi::CStr::from_bytes_with_nul(&names[self.start..=end]).expect("one NUL after each name")
    }
}

/// Orders siblings with directories compared as `name/`, which makes a depth-first walk come
/// out in the byte order of full paths ("a.txt" < "a/x" because '.' < '/'), so no global sort
/// is needed.
fn path_order(names: &[u8], a: &Listed, b: &Listed) -> std::cmp::Ordering {
    a.key(names).cmp(b.key(names))
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
    /// A subdirectory: its index in the listing, absolute path and relative path. It is
    /// opened only when walked, so at most one descriptor per level and thread is open.
    Dir(usize, PathBuf, String),
}

/// Walks one directory; `None` when it is a nested repository or workspace (it holds `.muse`).
fn walk_dir(fd: rustix::fd::OwnedFd, abs: &Path, rel: &str, ignores: &Option<Arc<Ignores>>, skips: &Mutex<Vec<Skipped>>) -> Result<Option<Vec<WalkedFile>>> {
    use rustix::fs::{AtFlags, FileType};
    let io_err = |op: &'static str, path: PathBuf| move |e: rustix::io::Errno| StoreError::Io { op, path, source: e.into() };
    // Names live in one buffer (see `Listed`); entries are read straight from getdents
    // buffers, without an allocation per entry.
    let mut names: Vec<u8> = Vec::new();
    let mut listed = Vec::new();
    let mut has_ignore_file = false;
    let mut buf = vec![std::mem::MaybeUninit::<u8>::uninit(); 32 * 1024];
    let mut dir = rustix::fs::RawDir::new(&fd, &mut buf);
    while let Some(entry) = dir.next() {
        let entry = entry.map_err(io_err("list", abs.to_path_buf()))?;
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        if name == DOT_MUSE.as_bytes() {
            if !rel.is_empty() {
                return Ok(None);
            }
            continue;
        }
        if rel.is_empty() && name.starts_with(STAGING_PREFIX.as_bytes()) {
            continue;
        }
        has_ignore_file |= name == IGNORE_FILE.as_bytes();
        let item = Listed { start: names.len(), len: name.len(), file_type: entry.file_type() };
        names.extend_from_slice(name);
        if item.is_dir() {
            names.push(b'/');
        }
        names.push(0);
        listed.push(item);
    }
    let dir_fd = fd.as_fd();
    // Some file systems do not report types in directory entries: ask them.
    for item in listed.iter_mut().filter(|l| l.file_type == FileType::Unknown) {
        if let Ok(stat) = rustix::fs::statat(dir_fd, item.c_name(&names), AtFlags::SYMLINK_NOFOLLOW) {
            item.file_type = FileType::from_raw_mode(stat.st_mode as _);
            if item.is_dir() {
                // Give it the `/` its sort key and name need, at the end of the buffer.
                let name = names[item.start..item.start + item.len].to_vec();
                item.start = names.len();
                names.extend_from_slice(&name);
                names.extend_from_slice(b"/\0");
            }
        }
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
    listed.sort_unstable_by(|a, b| path_order(&names, a, b));
    // Validating the whole buffer at once is much cheaper than name by name; NUL separators
    // are ASCII, so every name is then a valid slice of it.
    let names_text = std::str::from_utf8(&names).ok();
    let mut items: Vec<Item> = Vec::with_capacity(listed.len());
    for (index, item) in listed.iter().enumerate() {
        let raw_name = &names[item.start..item.start + item.len];
        let c_name = item.c_name(&names);
        if ignores.is_some() && Ignores::is_ignored(&ignores, &abs.join(std::ffi::OsStr::from_bytes(raw_name)), item.is_dir()) {
            continue;
        }
        let name = names_text.and_then(|t| t.get(item.start..item.start + item.len)).map_or_else(|| std::str::from_utf8(raw_name), Ok);
        let Ok(name) = name else {
            skip(skips, Path::new(rel).join(std::ffi::OsStr::from_bytes(raw_name)), SkipReason::NotUtf8);
            continue;
        };
        if item.is_dir() {
            let dir_rel = join_rel(rel, name);
            // Anything inside would have more names than a snapshot may hold; refusing here
            // also bounds this walk's recursion.
            if dir_rel.split('/').count() >= muse_core::MAX_TREE_DEPTH {
                return Err(StoreError::InvalidPath {
                    path: abs.join(name),
                    reason: format!("directories nest deeper than the {} names a snapshot path may have (add it to .museignore)", muse_core::MAX_TREE_DEPTH),
                });
            }
            items.push(Item::Dir(index, abs.join(name), dir_rel));
            continue;
        }
        if !matches!(item.file_type, FileType::RegularFile | FileType::Symlink) {
            continue;
        }
        let stat = match rustix::fs::statat(dir_fd, c_name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => stat,
            // Deleted between readdir and lstat: it is simply not there any more.
            Err(rustix::io::Errno::NOENT) => continue,
            Err(e) => {
                skip(skips, join_rel(rel, name).into(), SkipReason::Unreadable(format!("cannot stat it: {}", std::io::Error::from(e))));
                continue;
            }
        };
        let kind = match FileType::from_raw_mode(stat.st_mode as _) {
            FileType::Symlink => EntryKind::Symlink,
            FileType::RegularFile if stat.st_mode & 0o100 != 0 => EntryKind::Executable,
            FileType::RegularFile => EntryKind::File,
            _ => continue,
        };
        let stat = FileStat {
            mtime_ns: (stat.st_mtime as i64).saturating_mul(1_000_000_000).saturating_add(stat.st_mtime_nsec as i64),
            ctime_ns: (stat.st_ctime as i64).saturating_mul(1_000_000_000).saturating_add(stat.st_ctime_nsec as i64),
            size: stat.st_size as u64,
            ino: stat.st_ino as u64,
        };
        items.push(Item::File(WalkedFile { path: join_rel(rel, name), kind, stat }));
    }
    let nested: Vec<Option<Vec<WalkedFile>>> = items
        .par_iter()
        .filter_map(|item| match item {
            Item::Dir(at, dir, dir_rel) => Some(match open_dir(dir_fd, listed[*at].c_name(&names), dir) {
                Ok(fd) => walk_dir(fd, dir, dir_rel, &ignores, skips),
                // Removed since it was listed: it is simply not there any more.
                Err(StoreError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(StoreError::Io { source, .. }) => {
                    skip(skips, dir_rel.into(), SkipReason::Unreadable(format!("cannot open the directory: {source}")));
                    Ok(None)
                }
                Err(e) => Err(e),
            }),
            Item::File(_) => None,
        })
        .collect::<Result<_>>()?;
    let total = items.len() + nested.iter().flatten().map(Vec::len).sum::<usize>();
    let mut nested = nested.into_iter();
    let mut files = Vec::with_capacity(total);
    for item in items {
        match item {
            Item::File(file) => files.push(file),
            Item::Dir(..) => files.extend(nested.next().expect("one walk result per subdirectory").unwrap_or_default()),
        }
    }
    Ok(Some(files))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn honours_nested_ignore_files_and_skips_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for (path, content) in [
            ("a.txt", "x"),
            ("a/x", "x"),
            ("a/build/out", "x"),
            ("b/keep.log", "x"),
            ("b/drop.log", "x"),
            (".muse/HEAD", "x"),
            ("nested/.muse", "x"),
            ("nested/f", "x"),
        ] {
            fs::create_dir_all(root.join(path).parent().unwrap()).unwrap();
            fs::write(root.join(path), content).unwrap();
        }
        fs::write(root.join(".museignore"), "build/\n*.log\n").unwrap();
        fs::write(root.join("b/.museignore"), "!keep.log\n").unwrap();
        let paths: Vec<String> = walk(root, &mut Vec::new()).unwrap().into_iter().map(|f| f.path).collect();
        assert_eq!(paths, [".museignore", "a.txt", "a/x", "b/.museignore", "b/keep.log"]);
    }
}
