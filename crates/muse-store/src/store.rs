//! The bare store: objects, refs, configuration and the HEAD of every working copy, with no
//! working copy of its own. A hub serves repositories as bare stores; a [`crate::Repository`] is
//! a store plus one working copy.
//!
//! Opening a store writes nothing, so a store on a read-only file system (or owned by another
//! user) can be read; writes then fail with an I/O error naming the file. A `Store` is
//! `Send + Sync`: many threads may read it at once, and writers elsewhere (other processes) never
//! disturb them, because packs are immutable and refs are replaced atomically.
//!
//! Layout of the store directory (the `.muse` directory of a main working copy, or a bare store):
//!
//! ```text
//! format            "muse-store 3": the layout version
//! config            key = value lines (user.author, agent.id, ...; core.bare = true when bare)
//! HEAD              the main working copy's HEAD (a bare store's default branch):
//!                   "ref: refs/heads/NAME\n" or "sha256:<hex>\n"
//! statcache         the main working copy's stat cache (a cache: rebuilt if lost)
//! objects/packs/    *.pack + *.idx
//! objects/tmp/      in-progress writes
//! refs/heads/…      branches; refs/tags/… tags
//! workspaces/NAME/  HEAD, statcache and `path` (the working directory) of each extra workspace
//! history/          the history index (a cache: see `crate::index`)
//! ```

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use muse_core::CommitId;

use crate::error::{IoContext, Result, StoreError};
use crate::fsutil::{create_dir_all_durable, list_dir, sync_dir, write_atomic};
use crate::odb::ObjectStore;
use crate::refs::{read_id_file, RefName, RefStore};

/// The first line of `format`: the layout version this build reads and writes. Version 2
/// introduced the kind rule (`docs/formats.md` §1), version 3 the compact store packs (§6);
/// older stores are refused (a clean break: nothing was released before version 3).
pub(crate) const FORMAT_LINE: &str = "muse-store 3\n";
/// The configuration key that marks a bare store.
const BARE_KEY: &str = "core.bare";

/// What a working copy has checked out (for a bare store: its default branch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Head {
    /// On a branch (which may not exist yet: an unborn branch).
    Branch(RefName),
    /// On a commit, with no branch.
    Detached(CommitId),
}

impl Head {
    /// The file form: `ref: refs/heads/NAME\n` or `sha256:<hex>\n`.
    pub(crate) fn to_file_text(&self) -> String {
        match self {
            Head::Branch(name) => format!("ref: {name}\n"),
            Head::Detached(id) => format!("{id}\n"),
        }
    }
}

/// One working copy of a store, as the store records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkingCopy {
    /// The workspace name; `None` for the main working copy.
    pub name: Option<String>,
    /// Its working directory (which may have been deleted since).
    pub path: PathBuf,
    /// Where its HEAD and stat cache live inside the store.
    pub state_dir: PathBuf,
}

/// A store without a working copy: objects, refs, configuration, and the HEADs of its working
/// copies (kept inside the store, so they can be read without the working directories).
pub struct Store {
    store_dir: PathBuf,
    objects: ObjectStore,
    refs: RefStore,
    bare: bool,
}

impl Store {
    /// Creates a bare store (no working copy) in the empty or missing directory `dir`, with its
    /// HEAD (the default branch) on `default_branch`.
    pub fn init_bare(dir: &Path, default_branch: &str) -> Result<Store> {
        let branch = RefName::branch(default_branch)?;
        if dir.join("format").exists() {
            return Err(StoreError::AlreadyExists(dir.to_path_buf()));
        }
        let parent = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        fs::create_dir_all(parent).ctx("create", parent)?;
        let name = dir.file_name().ok_or_else(|| StoreError::InvalidPath { path: dir.to_path_buf(), reason: "a store needs a directory name".into() })?;
        create_layout(parent, dir, &format!(".{}-init-{}", name.to_string_lossy(), std::process::id()), &branch, true)?;
        Store::open(dir)
    }

    /// Opens the store directory `store_dir` (a `.muse` directory or a bare store). Writes
    /// nothing: every directory a write needs is created by `init`.
    pub fn open(store_dir: &Path) -> Result<Store> {
        let format = match fs::read_to_string(store_dir.join("format")) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(StoreError::NotARepository(store_dir.to_path_buf())),
            Err(e) => return Err(StoreError::Io { op: "read", path: store_dir.join("format"), source: e }),
        };
        if format != FORMAT_LINE {
            return Err(StoreError::UnsupportedFormat { path: store_dir.to_path_buf(), found: format.trim().chars().take(40).collect() });
        }
        let objects = ObjectStore::open(&store_dir.join("objects"))?;
        let refs = RefStore::new(store_dir);
        let mut store = Store { store_dir: store_dir.to_path_buf(), objects, refs, bare: false };
        store.bare = store.config()?.get(BARE_KEY).is_some_and(|v| v == "true");
        Ok(store)
    }

    /// The store directory.
    pub fn store_dir(&self) -> &Path {
        &self.store_dir
    }

    /// Whether this store has no main working copy (a hub's repository).
    pub fn is_bare(&self) -> bool {
        self.bare
    }

    /// The object database.
    pub fn objects(&self) -> &ObjectStore {
        &self.objects
    }

    /// The branches and tags.
    pub fn refs(&self) -> &RefStore {
        &self.refs
    }

    /// The HEAD of the working copy whose state lives in `state_dir` (see [`Store::working_copies`]).
    pub fn head_at(&self, state_dir: &Path) -> Result<Head> {
        read_head(&state_dir.join("HEAD"))
    }

    /// The store's own HEAD: the main working copy's, or a bare store's default branch.
    pub fn default_head(&self) -> Result<Head> {
        self.head_at(&self.store_dir)
    }

    /// Every HEAD of the store: the main one (or a bare store's) and each workspace's. A
    /// workspace whose HEAD cannot be read is reported with its error, so that `fsck` can name it
    /// and `gc` can refuse to guess.
    pub fn heads(&self) -> Result<Vec<(WorkingCopy, Result<Head>)>> {
        Ok(self
            .working_copies()?
            .into_iter()
            .map(|wc| {
                let head = self.head_at(&wc.state_dir);
                (wc, head)
            })
            .collect())
    }

    /// The commits the HEADs of all working copies resolve to (detached or on an existing branch).
    pub fn head_commits(&self) -> Result<Vec<CommitId>> {
        let mut out = Vec::new();
        for (_, head) in self.heads()? {
            match head? {
                Head::Detached(id) => out.push(id),
                Head::Branch(name) => out.extend(self.refs.read(&name)?),
            }
        }
        Ok(out)
    }

    /// The branches checked out in any working copy (a bare store's default branch is not one).
    pub fn checked_out_branches(&self) -> Result<Vec<RefName>> {
        let mut out = Vec::new();
        for (wc, head) in self.heads()? {
            if self.bare && wc.name.is_none() {
                continue;
            }
            if let Ok(Head::Branch(name)) = head {
                out.push(name);
            }
        }
        Ok(out)
    }

    /// The working copies of this store: the main one (unless bare) and every workspace, sorted
    /// by name.
    pub fn working_copies(&self) -> Result<Vec<WorkingCopy>> {
        let mut out = Vec::new();
        if !self.bare {
            let main_dir = self.store_dir.parent().unwrap_or(&self.store_dir).to_path_buf();
            out.push(WorkingCopy { name: None, path: main_dir, state_dir: self.store_dir.clone() });
        } else {
            // A bare store's HEAD still names its default branch; it has no directory.
            out.push(WorkingCopy { name: None, path: self.store_dir.clone(), state_dir: self.store_dir.clone() });
        }
        let dir = self.store_dir.join("workspaces");
        let mut names = Vec::new();
        for entry in list_dir(&dir)? {
            if let Some(name) = entry.file_name().to_str() {
                if !name.starts_with('.') {
                    names.push(name.to_string());
                }
            }
        }
        names.sort();
        for name in names {
            let state_dir = dir.join(&name);
            let path_file = state_dir.join("path");
            let path = fs::read_to_string(&path_file).ctx("read", &path_file)?;
            out.push(WorkingCopy { name: Some(name), path: PathBuf::from(path.trim_end_matches('\n')), state_dir });
        }
        Ok(out)
    }

    /// Every working copy as `(name, working directory)`, the main one as `None`.
    pub fn workspaces(&self) -> Result<Vec<(Option<String>, PathBuf)>> {
        Ok(self.working_copies()?.into_iter().filter(|wc| !(self.bare && wc.name.is_none())).map(|wc| (wc.name, wc.path)).collect())
    }

    /// Forgets a workspace: removes its state from the store and its `.muse` pointer file.
    /// Its files are left on disk, as `git worktree remove` would refuse to delete them unasked.
    pub fn remove_workspace(&self, name: &str) -> Result<PathBuf> {
        let state = self.store_dir.join("workspaces").join(name);
        let path_file = state.join("path");
        let path = fs::read_to_string(&path_file).map_err(|_| StoreError::Workspace(format!("no workspace named '{name}'")))?;
        let path = PathBuf::from(path.trim_end_matches('\n'));
        let pointer = path.join(crate::DOT_MUSE);
        if pointer.is_file() {
            fs::remove_file(&pointer).ctx("remove", &pointer)?;
        }
        fs::remove_dir_all(&state).ctx("remove", &state)?;
        Ok(path)
    }

    /// The store's configuration (`.muse/config`), as key → value.
    pub fn config(&self) -> Result<BTreeMap<String, String>> {
        let path = self.store_dir.join("config");
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(StoreError::Io { op: "read", path, source: e }),
        };
        Ok(parse_config(&text))
    }

    /// Sets one configuration key (atomically rewriting the file). An empty value removes it.
    pub fn set_config(&self, key: &str, value: &str) -> Result<()> {
        if key.is_empty() || key.contains(['=', '\n', '#']) || value.contains('\n') {
            return Err(StoreError::Workspace(format!("invalid config key or value: {key:?}")));
        }
        let mut config = self.config()?;
        if value.is_empty() {
            config.remove(key);
        } else {
            config.insert(key.to_string(), value.to_string());
        }
        let text: String = config.iter().map(|(k, v)| format!("{k} = {v}\n")).collect();
        let path = self.store_dir.join("config");
        write_atomic(&path, text.as_bytes()).ctx("write", &path)
    }

    /// Temporary files left by interrupted writes: everything in `objects/tmp`, and the hidden
    /// `.NAME-….tmp` files of atomic replacements (refs, HEADs, config, stat caches). They are
    /// harmless (never read), but take space; a live writer may be using some of them: its lock on
    /// the file tells (see [`Store::remove_dead_temp_files`]).
    pub fn leftover_temp_files(&self) -> Result<Vec<PathBuf>> {
        fn hidden_tmp(dir: &Path, recurse: bool, out: &mut Vec<PathBuf>) -> Result<()> {
            for entry in list_dir(dir)? {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                let is_dir = entry.file_type().ctx("stat", &entry.path())?.is_dir();
                if is_dir && recurse {
                    hidden_tmp(&entry.path(), true, out)?;
                } else if !is_dir && name.starts_with('.') && name.ends_with(".tmp") {
                    out.push(entry.path());
                }
            }
            Ok(())
        }
        let mut out = Vec::new();
        let tmp = self.objects.tmp_dir();
        out.extend(list_dir(tmp)?.into_iter().map(|entry| entry.path()));
        hidden_tmp(&self.store_dir, false, &mut out)?;
        hidden_tmp(&self.store_dir.join("refs"), true, &mut out)?;
        hidden_tmp(&self.store_dir.join("workspaces"), true, &mut out)?;
        hidden_tmp(&self.store_dir.join("history"), false, &mut out)?;
        out.sort();
        Ok(out)
    }

    /// Removes the leftover temporary files whose writer is gone; returns how many were removed.
    /// Every muse writer holds an exclusive advisory lock (`flock`) on its temporary file while
    /// it writes, which the kernel releases when the writer finishes or dies: a file whose lock
    /// can be taken is abandoned. (No pid is consulted: a pid means nothing in another PID
    /// namespace, and a recycled pid looks alive.) Directories are left alone.
    pub fn remove_dead_temp_files(&self) -> Result<usize> {
        let mut removed = 0;
        for path in self.leftover_temp_files()? {
            if path.is_file() && crate::fsutil::remove_if_abandoned(&path).ctx("remove", &path)? {
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// Builds a store's layout under the temporary name `tmp_name` in `parent` and renames it to
/// `store_dir`, so that a crash leaves either no store or a complete one.
pub(crate) fn create_layout(parent: &Path, store_dir: &Path, tmp_name: &str, branch: &RefName, bare: bool) -> Result<()> {
    let tmp = parent.join(tmp_name);
    let build = || -> Result<()> {
        for sub in ["objects/packs", "objects/tmp", "refs/heads", "refs/tags", "workspaces"] {
            create_dir_all_durable(&tmp.join(sub)).ctx("create", &tmp.join(sub))?;
        }
        let config = if bare { format!("{BARE_KEY} = true\n") } else { String::new() };
        write_atomic(&tmp.join("config"), config.as_bytes()).ctx("write", &tmp.join("config"))?;
        write_atomic(&tmp.join("HEAD"), Head::Branch(branch.clone()).to_file_text().as_bytes()).ctx("write", &tmp.join("HEAD"))?;
        write_atomic(&tmp.join("format"), FORMAT_LINE.as_bytes()).ctx("write", &tmp.join("format"))?;
        fs::rename(&tmp, store_dir).ctx("rename", store_dir)?;
        sync_dir(parent).ctx("fsync", parent)
    };
    let result = build();
    if result.is_err() {
        let _ = fs::remove_dir_all(&tmp);
    }
    result
}

/// Reads a HEAD file.
pub(crate) fn read_head(path: &Path) -> Result<Head> {
    let text = fs::read_to_string(path).ctx("read", path)?;
    let line = text.strip_suffix('\n').unwrap_or(&text);
    if let Some(name) = line.strip_prefix("ref: ") {
        return RefName::parse(name).map(Head::Branch);
    }
    read_id_file(path, "HEAD")?.map(Head::Detached).ok_or_else(|| StoreError::CorruptRef { name: "HEAD".into(), reason: "empty".into() })
}

fn parse_config(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn a_store_is_shared_between_threads() {
        assert_send_sync::<Store>();
        assert_send_sync::<crate::Repository>();
    }

    #[test]
    fn a_bare_store_has_a_default_branch_and_no_working_copy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub/alice/project.muse");
        let store = Store::init_bare(&path, "trunk").unwrap();
        assert!(store.is_bare());
        assert_eq!(store.default_head().unwrap(), Head::Branch(RefName::branch("trunk").unwrap()));
        assert!(store.workspaces().unwrap().is_empty());
        assert!(store.checked_out_branches().unwrap().is_empty());
        assert!(matches!(Store::init_bare(&path, "trunk"), Err(StoreError::AlreadyExists(_))));
        assert!(matches!(crate::Repository::open(&path), Err(StoreError::NotARepository(_))));
    }

    #[test]
    fn opening_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bare");
        Store::init_bare(&path, "main").unwrap();
        fs::remove_dir(path.join("objects/tmp")).unwrap();
        let listing = |p: &Path| {
            let mut names: Vec<String> = walk_names(p);
            names.sort();
            names
        };
        let before = listing(&path);
        let store = Store::open(&path).unwrap();
        assert_eq!(store.objects().all_objects().unwrap(), Vec::new());
        assert_eq!(store.head_commits().unwrap(), Vec::new());
        assert_eq!(listing(&path), before);
    }

    fn walk_names(dir: &Path) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for entry in fs::read_dir(&d).unwrap() {
                let entry = entry.unwrap();
                out.push(entry.path().display().to_string());
                if entry.file_type().unwrap().is_dir() {
                    stack.push(entry.path());
                }
            }
        }
        out
    }
}
