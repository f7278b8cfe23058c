//! A repository: a [`Store`] plus one working copy (the main one, or a workspace).
//!
//! The store's layout is described in [`crate::store`]. An extra workspace's working directory
//! holds a `.muse` *file* (`muse-workspace 1`, `store:` and `name:` lines) that points back at the
//! shared store; its HEAD and stat cache live in the store under `workspaces/NAME/`.

use std::fs;
use std::ops::Deref;
use std::path::{Path, PathBuf};

use muse_core::CommitId;

use crate::error::{IoContext, Result, StoreError};
use crate::fsutil::write_atomic;
use crate::store::{create_layout, Head, Store};

/// The name of the store directory (or workspace pointer file) at a working copy's root.
pub const DOT_MUSE: &str = ".muse";
const WORKSPACE_MAGIC: &str = "muse-workspace 1";

/// An open repository: the shared store and the state of one working copy. Everything that
/// needs no working copy (objects, refs, configuration, history) is reached through
/// [`Deref`] to the [`Store`].
pub struct Repository {
    store: Store,
    work_dir: PathBuf,
    state_dir: PathBuf,
    workspace: Option<String>,
}

impl Deref for Repository {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.store
    }
}

impl Repository {
    /// Creates a repository with an empty store in `work_dir/.muse`, HEAD on `initial_branch`.
    pub fn init(work_dir: &Path, initial_branch: &str) -> Result<Repository> {
        let branch = crate::RefName::branch(initial_branch)?;
        fs::create_dir_all(work_dir).ctx("create", work_dir)?;
        let work_dir = work_dir.canonicalize().ctx("resolve", work_dir)?;
        let store_dir = work_dir.join(DOT_MUSE);
        if store_dir.exists() {
            return Err(StoreError::AlreadyExists(work_dir));
        }
        create_layout(&work_dir, &store_dir, &format!(".muse-init-{}", std::process::id()), &branch, false)?;
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
        let store = match Store::open(&store_dir) {
            Err(StoreError::NotARepository(_)) => return Err(StoreError::NotARepository(work_dir)),
            other => other?,
        };
        if store.is_bare() {
            return Err(StoreError::Workspace(format!("{} is a bare store: it has no working copy", store_dir.display())));
        }
        let state_dir = match &workspace {
            None => store_dir.clone(),
            Some(name) => store_dir.join("workspaces").join(name),
        };
        if !state_dir.is_dir() {
            return Err(StoreError::Workspace(format!("workspace '{}' no longer exists in {}", workspace.unwrap_or_default(), store_dir.display())));
        }
        Ok(Repository { store, work_dir, state_dir, workspace })
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

    /// The store without the working copy.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The store, without the working copy.
    pub fn into_store(self) -> Store {
        self.store
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

    /// What this working copy has checked out.
    pub fn head(&self) -> Result<Head> {
        self.store.head_at(&self.state_dir)
    }

    /// The commit HEAD resolves to, or `None` on an unborn branch.
    pub fn head_commit(&self) -> Result<Option<CommitId>> {
        match self.head()? {
            Head::Branch(name) => self.refs().read(&name),
            Head::Detached(id) => Ok(Some(id)),
        }
    }

    /// Points HEAD at a branch or a commit (atomically; HEAD is per working copy).
    pub fn set_head(&self, head: &Head) -> Result<()> {
        let path = self.state_dir.join("HEAD");
        write_atomic(&path, head.to_file_text().as_bytes()).ctx("write", &path)
    }

    /// Creates a new working copy at `path` sharing this store, with HEAD set to `head`.
    /// The caller then checks out the files. Returns the new working copy, opened.
    pub fn add_workspace(&self, path: &Path, name: &str, head: &Head) -> Result<Repository> {
        muse_core::validate_name(name).map_err(|e| StoreError::Workspace(e.to_string()))?;
        let state = self.store_dir().join("workspaces").join(name);
        if state.exists() {
            return Err(StoreError::WorkspaceExists(format!("a workspace named '{name}' already exists")));
        }
        if path.exists() && fs::read_dir(path).ctx("list", path)?.next().is_some() {
            return Err(StoreError::WorkspaceExists(format!("{} exists and is not empty", path.display())));
        }
        fs::create_dir_all(path).ctx("create", path)?;
        let abs = path.canonicalize().ctx("resolve", path)?;
        let tmp_state = self.store_dir().join("workspaces").join(format!(".{name}.tmp"));
        let _ = fs::remove_dir_all(&tmp_state);
        fs::create_dir_all(&tmp_state).ctx("create", &tmp_state)?;
        write_atomic(&tmp_state.join("path"), format!("{}\n", abs.display()).as_bytes()).ctx("write", &tmp_state)?;
        write_atomic(&tmp_state.join("HEAD"), head.to_file_text().as_bytes()).ctx("write", &tmp_state)?;
        fs::rename(&tmp_state, &state).ctx("rename", &state)?;
        let pointer = format!("{WORKSPACE_MAGIC}\nstore: {}\nname: {name}\n", self.store_dir().display());
        write_atomic(&abs.join(DOT_MUSE), pointer.as_bytes()).ctx("write", &abs)?;
        Repository::open(&abs)
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RefName;

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
