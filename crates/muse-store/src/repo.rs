//! A repository: the shared store (`.muse/`) plus one working copy (the main one, or a workspace).
//!
//! Layout of the store directory:
//!
//! ```text
//! .muse/
//!   format            "muse-store 2": the layout version
//!   config            key = value lines (user.author, agent.id, agent.model, agent.toolchain)
//!   HEAD              the main working copy's HEAD: "ref: refs/heads/NAME\n" or "sha256:<hex>\n"
//!   statcache         the main working copy's stat cache (a cache: rebuilt if lost)
//!   objects/packs/    *.pack + *.idx
//!   objects/tmp/      in-progress writes (removed by fsck --repair / gc)
//!   refs/heads/…      branches; refs/tags/… tags
//!   workspaces/NAME/  HEAD, statcache and `path` (the working directory) of each extra workspace
//! ```
//!
//! An extra workspace's working directory holds a `.muse` *file* (`muse-workspace 1`, `store:` and
//! `name:` lines) that points back at the shared store.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use muse_core::CommitId;

use crate::error::{IoContext, Result, StoreError};
use crate::fsutil::{create_dir_all_durable, list_dir, write_atomic};
use crate::odb::ObjectStore;
use crate::refs::{read_id_file, RefName, RefStore};

/// The name of the store directory (or workspace pointer file) at a working copy's root.
pub const DOT_MUSE: &str = ".muse";
/// Version 2 introduced the kind rule (`docs/formats.md` §1); version 1 stores are refused (a
/// clean break: nothing was released with version 1).
const FORMAT_LINE: &str = "muse-store 2\n";
const WORKSPACE_MAGIC: &str = "muse-workspace 1";

/// What a working copy has checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Head {
    /// On a branch (which may not exist yet: an unborn branch).
    Branch(RefName),
    /// On a commit, with no branch.
    Detached(CommitId),
}

/// An open repository: shared store, refs, and the state of one working copy.
pub struct Repository {
    store_dir: PathBuf,
    work_dir: PathBuf,
    state_dir: PathBuf,
    workspace: Option<String>,
    objects: ObjectStore,
    refs: RefStore,
}

impl Repository {
    /// Creates a repository with an empty store in `work_dir/.muse`, HEAD on `initial_branch`.
    pub fn init(work_dir: &Path, initial_branch: &str) -> Result<Repository> {
        let branch = RefName::branch(initial_branch)?;
        fs::create_dir_all(work_dir).ctx("create", work_dir)?;
        let work_dir = work_dir.canonicalize().ctx("resolve", work_dir)?;
        let store_dir = work_dir.join(DOT_MUSE);
        if store_dir.exists() {
            return Err(StoreError::AlreadyExists(work_dir));
        }
        // Build the store under a temporary name and rename it into place, so that a crash
        // leaves either no repository or a complete one.
        let tmp = work_dir.join(format!(".muse-init-{}", std::process::id()));
        let build = || -> Result<()> {
            for sub in ["objects/packs", "objects/tmp", "refs/heads", "refs/tags", "workspaces"] {
                create_dir_all_durable(&tmp.join(sub)).ctx("create", &tmp.join(sub))?;
            }
            write_atomic(&tmp.join("config"), b"").ctx("write", &tmp.join("config"))?;
            write_atomic(&tmp.join("HEAD"), format!("ref: {branch}\n").as_bytes()).ctx("write", &tmp.join("HEAD"))?;
            write_atomic(&tmp.join("format"), FORMAT_LINE.as_bytes()).ctx("write", &tmp.join("format"))?;
            fs::rename(&tmp, &store_dir).ctx("rename", &store_dir)?;
            crate::fsutil::sync_dir(&work_dir).ctx("fsync", &work_dir)
        };
        if let Err(e) = build() {
            let _ = fs::remove_dir_all(&tmp);
            return Err(e);
        }
        Repository::open(&work_dir)
    }

    /// Opens the working copy whose root is `work_dir` (it must hold `.muse`).
    pub fn open(work_dir: &Path) -> Result<Repository> {
        let work_dir = work_dir.canonicalize().map_err(|_| StoreError::NotARepository(work_dir.to_path_buf()))?;
        let marker = work_dir.join(DOT_MUSE);
        let meta = fs::metadata(&marker).map_err(|_| StoreError::NotARepository(work_dir.clone()))?;
        let (store_dir, workspace) = if meta.is_dir() {
            (marker, None)
        } else {
            let (store, name) = read_workspace_pointer(&marker)?;
            (store, Some(name))
        };
        let format = fs::read_to_string(store_dir.join("format")).map_err(|_| StoreError::NotARepository(work_dir.clone()))?;
        if format == "muse-store 1\n" {
            return Err(StoreError::Workspace(format!(
                "{} is a 'muse-store 1' store, from before blob ids were separated from tree and commit ids; this muse reads 'muse-store 2' only (a clean break, no migration): re-create it (muse init, or muse import from git)",
                store_dir.display()
            )));
        }
        if format != FORMAT_LINE {
            return Err(StoreError::Workspace(format!("unsupported store format {:?} in {}", format.trim(), store_dir.display())));
        }
        let state_dir = match &workspace {
            None => store_dir.clone(),
            Some(name) => store_dir.join("workspaces").join(name),
        };
        if !state_dir.is_dir() {
            return Err(StoreError::Workspace(format!("workspace '{}' no longer exists in {}", workspace.unwrap_or_default(), store_dir.display())));
        }
        let objects = ObjectStore::open(&store_dir.join("objects"))?;
        let refs = RefStore::new(&store_dir);
        Ok(Repository { store_dir, work_dir, state_dir, workspace, objects, refs })
    }

    /// Opens the working copy containing `dir` (searching `dir` and its parents).
    pub fn discover(dir: &Path) -> Result<Repository> {
        let start = dir.canonicalize().map_err(|_| StoreError::NotARepository(dir.to_path_buf()))?;
        let mut current = Some(start.as_path());
        while let Some(candidate) = current {
            if candidate.join(DOT_MUSE).exists() {
                return Repository::open(candidate);
            }
            current = candidate.parent();
        }
        Err(StoreError::NotARepository(start))
    }

    /// The shared store directory (`.muse` of the main working copy).
    pub fn store_dir(&self) -> &Path {
        &self.store_dir
    }

    /// The root of this working copy.
    pub fn work_dir(&self) -> &Path {
        &self.work_dir
    }

    /// Where this working copy's HEAD and stat cache live.
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// The workspace name, or `None` for the main working copy.
    pub fn workspace(&self) -> Option<&str> {
        self.workspace.as_deref()
    }

    /// The object database.
    pub fn objects(&self) -> &ObjectStore {
        &self.objects
    }

    /// The branches and tags.
    pub fn refs(&self) -> &RefStore {
        &self.refs
    }

    /// What this working copy has checked out.
    pub fn head(&self) -> Result<Head> {
        read_head(&self.state_dir.join("HEAD"))
    }

    /// The commit HEAD resolves to, or `None` on an unborn branch.
    pub fn head_commit(&self) -> Result<Option<CommitId>> {
        match self.head()? {
            Head::Branch(name) => self.refs.read(&name),
            Head::Detached(id) => Ok(Some(id)),
        }
    }

    /// Points HEAD at a branch or a commit (atomically; HEAD is per working copy).
    pub fn set_head(&self, head: &Head) -> Result<()> {
        let text = match head {
            Head::Branch(name) => format!("ref: {name}\n"),
            Head::Detached(id) => format!("{id}\n"),
        };
        let path = self.state_dir.join("HEAD");
        write_atomic(&path, text.as_bytes()).ctx("write", &path)
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

    /// Every working copy of this store: `(name, working directory)`, the main one as `None`.
    pub fn workspaces(&self) -> Result<Vec<(Option<String>, PathBuf)>> {
        let main_dir = self.store_dir.parent().unwrap_or(&self.store_dir).to_path_buf();
        let mut out = vec![(None, main_dir)];
        let dir = self.store_dir.join("workspaces");
        let mut names = Vec::new();
        for entry in fs::read_dir(&dir).ctx("list", &dir)? {
            let entry = entry.ctx("list", &dir)?;
            if let Some(name) = entry.file_name().to_str() {
                if !name.starts_with('.') {
                    names.push(name.to_string());
                }
            }
        }
        names.sort();
        for name in names {
            let path_file = dir.join(&name).join("path");
            let path = fs::read_to_string(&path_file).ctx("read", &path_file)?;
            out.push((Some(name), PathBuf::from(path.trim_end_matches('\n'))));
        }
        Ok(out)
    }

    /// Temporary files left by interrupted writes: everything in `objects/tmp`, and the hidden
    /// `.NAME-….tmp` files of atomic replacements (refs, HEADs, config, stat caches). They are
    /// harmless (never read), but take space; a live writer may be using some of them: its lock on
    /// the file tells (see [`Repository::remove_dead_temp_files`]).
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
        for entry in fs::read_dir(tmp).ctx("list", tmp)? {
            out.push(entry.ctx("list", tmp)?.path());
        }
        hidden_tmp(&self.store_dir, false, &mut out)?;
        hidden_tmp(&self.store_dir.join("refs"), true, &mut out)?;
        hidden_tmp(&self.store_dir.join("workspaces"), true, &mut out)?;
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

    /// Creates a new working copy at `path` sharing this store, with HEAD set to `head`.
    /// The caller then checks out the files. Returns the new working copy, opened.
    pub fn add_workspace(&self, path: &Path, name: &str, head: &Head) -> Result<Repository> {
        muse_core::validate_name(name).map_err(|e| StoreError::Workspace(e.to_string()))?;
        let state = self.store_dir.join("workspaces").join(name);
        if state.exists() {
            return Err(StoreError::WorkspaceExists(format!("a workspace named '{name}' already exists")));
        }
        if path.exists() && fs::read_dir(path).ctx("list", path)?.next().is_some() {
            return Err(StoreError::WorkspaceExists(format!("{} exists and is not empty", path.display())));
        }
        fs::create_dir_all(path).ctx("create", path)?;
        let abs = path.canonicalize().ctx("resolve", path)?;
        let tmp_state = self.store_dir.join("workspaces").join(format!(".{name}.tmp"));
        let _ = fs::remove_dir_all(&tmp_state);
        fs::create_dir_all(&tmp_state).ctx("create", &tmp_state)?;
        write_atomic(&tmp_state.join("path"), format!("{}\n", abs.display()).as_bytes()).ctx("write", &tmp_state)?;
        let head_text = match head {
            Head::Branch(b) => format!("ref: {b}\n"),
            Head::Detached(id) => format!("{id}\n"),
        };
        write_atomic(&tmp_state.join("HEAD"), head_text.as_bytes()).ctx("write", &tmp_state)?;
        fs::rename(&tmp_state, &state).ctx("rename", &state)?;
        let pointer = format!("{WORKSPACE_MAGIC}\nstore: {}\nname: {name}\n", self.store_dir.display());
        write_atomic(&abs.join(DOT_MUSE), pointer.as_bytes()).ctx("write", &abs)?;
        Repository::open(&abs)
    }

    /// Forgets a workspace: removes its state from the store and its `.muse` pointer file.
    /// Its files are left on disk, as `git worktree remove` would refuse to delete them unasked.
    pub fn remove_workspace(&self, name: &str) -> Result<PathBuf> {
        let state = self.store_dir.join("workspaces").join(name);
        let path_file = state.join("path");
        let path = fs::read_to_string(&path_file).map_err(|_| StoreError::Workspace(format!("no workspace named '{name}'")))?;
        let path = PathBuf::from(path.trim_end_matches('\n'));
        let pointer = path.join(DOT_MUSE);
        if pointer.is_file() {
            fs::remove_file(&pointer).ctx("remove", &pointer)?;
        }
        fs::remove_dir_all(&state).ctx("remove", &state)?;
        Ok(path)
    }
}

fn read_head(path: &Path) -> Result<Head> {
    let text = fs::read_to_string(path).ctx("read", path)?;
    let line = text.strip_suffix('\n').unwrap_or(&text);
    if let Some(name) = line.strip_prefix("ref: ") {
        return RefName::parse(name).map(Head::Branch);
    }
    read_id_file(path, "HEAD")?
        .map(Head::Detached)
        .ok_or_else(|| StoreError::CorruptRef { name: "HEAD".into(), reason: "empty".into() })
}

fn read_workspace_pointer(path: &Path) -> Result<(PathBuf, String)> {
    let text = fs::read_to_string(path).ctx("read", path)?;
    let mut lines = text.lines();
    let bad = || StoreError::Workspace(format!("{} is not a muse workspace pointer", path.display()));
    if lines.next() != Some(WORKSPACE_MAGIC) {
        return Err(bad());
    }
    let store = lines.next().and_then(|l| l.strip_prefix("store: ")).ok_or_else(bad)?;
    let name = lines.next().and_then(|l| l.strip_prefix("name: ")).ok_or_else(bad)?;
    Ok((PathBuf::from(store), name.to_string()))
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

    #[test]
    fn init_open_discover_and_config() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path(), "main").unwrap();
        assert_eq!(repo.head().unwrap(), Head::Branch(RefName::branch("main").unwrap()));
        assert_eq!(repo.head_commit().unwrap(), None);
        assert!(matches!(Repository::init(dir.path(), "main"), Err(StoreError::AlreadyExists(_))));
        fs::create_dir_all(dir.path().join("a/b")).unwrap();
        let found = Repository::discover(&dir.path().join("a/b")).unwrap();
        assert_eq!(found.work_dir(), repo.work_dir());
        repo.set_config("user.author", "Ada <ada@example.com>").unwrap();
        assert_eq!(found.config().unwrap()["user.author"], "Ada <ada@example.com>");
        let elsewhere = tempfile::tempdir().unwrap();
        assert!(matches!(Repository::discover(elsewhere.path()), Err(StoreError::NotARepository(_))));
    }

    #[test]
    fn workspaces_share_the_store_and_keep_their_own_head() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(&dir.path().join("main"), "main").unwrap();
        let side = repo.add_workspace(&dir.path().join("side"), "side", &Head::Branch(RefName::branch("side").unwrap())).unwrap();
        assert_eq!(side.store_dir(), repo.store_dir());
        assert_eq!(side.head().unwrap(), Head::Branch(RefName::branch("side").unwrap()));
        assert_eq!(repo.head().unwrap(), Head::Branch(RefName::branch("main").unwrap()));
        assert_eq!(repo.workspaces().unwrap().len(), 2);
        repo.remove_workspace("side").unwrap();
        assert_eq!(repo.workspaces().unwrap().len(), 1);
        assert!(Repository::open(&dir.path().join("side")).is_err());
    }
}
