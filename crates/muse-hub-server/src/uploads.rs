//! Resumable uploads of packs to push (`docs/protocol.md` §Uploads), behind [`UploadStore`].
//!
//! An upload is keyed by (repository, user, checksum) and private to its user. [`FsUploads`]
//! keeps one file per upload under `DATA/uploads/<repo-id>/<user-id>/`:
//! `<checksum>.<length>.part` while bytes arrive, renamed to `<checksum>.<length>.pack` once
//! every byte is there and the SHA-256 matched. A later implementation on object storage would
//! keep parts as separate immutable objects (a multipart upload) and never rename.

use std::collections::HashSet;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use muse_hub::{RepoId, UserId};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::content::{BoxFuture, PackReader};

/// A request body, chunk by chunk.
pub type BodyStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// Which upload: the repository, the user who sends it, and the pack's checksum.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UploadKey {
    /// The repository pushed to.
    pub repo: RepoId,
    /// The user uploading.
    pub user: UserId,
    /// The mpack trailer, 64 lowercase hex digits.
    checksum: String,
}

impl UploadKey {
    /// The key, if `checksum` is 64 lowercase hex digits.
    pub fn new(repo: RepoId, user: UserId, checksum: &str) -> Option<UploadKey> {
        let valid = checksum.len() == 64 && checksum.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        valid.then(|| UploadKey { repo, user, checksum: checksum.to_string() })
    }

    /// The checksum.
    pub fn checksum(&self) -> &str {
        &self.checksum
    }
}

/// How much of an upload the server holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadState {
    /// Bytes held.
    pub offset: u64,
    /// The pack's whole length.
    pub length: u64,
    /// Whether every byte arrived and the checksum matched.
    pub complete: bool,
}

/// Why bytes were not (all) taken.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// The body starts elsewhere than at the bytes held (or another request is writing this
    /// upload): nothing of it was kept.
    #[error("the upload holds {held} bytes; send from there")]
    Offset {
        /// Bytes held.
        held: u64,
    },
    /// `Upload-Length` differs from the length the upload was started with.
    #[error("this upload was started with Upload-Length {held}")]
    Length {
        /// The length it was started with.
        held: u64,
    },
    /// The body goes past `Upload-Length`: nothing of it was kept.
    #[error("the body goes past Upload-Length")]
    TooLong,
    /// Every byte arrived but they do not hash to the checksum: the upload is discarded.
    #[error("the uploaded bytes do not match checksum {0}")]
    BadChecksum(String),
    /// The body stopped before its end (the client went away or stalled); the bytes that arrived
    /// are kept, so the upload resumes from `held`.
    #[error("the body was cut off after {held} bytes of the upload")]
    Interrupted {
        /// Bytes held now.
        held: u64,
        /// What stopped it.
        cause: String,
    },
    /// The storage failed.
    #[error("upload storage: {0}")]
    Storage(String),
}

/// Where partial and complete uploads live.
pub trait UploadStore: Send + Sync + 'static {
    /// The state of an upload, if the server holds one.
    fn status(&self, key: &UploadKey) -> BoxFuture<'_, Result<Option<UploadState>, UploadError>>;

    /// Appends `body`, which starts at `offset` in a pack of `length` bytes, and verifies the
    /// checksum once the upload is complete.
    fn append(&self, key: &UploadKey, offset: u64, length: u64, body: BodyStream) -> BoxFuture<'_, Result<UploadState, UploadError>>;

    /// A reader of a complete upload, if there is one.
    fn open(&self, key: &UploadKey) -> BoxFuture<'_, Result<Option<PackReader>, UploadError>>;

    /// Forgets an upload (idempotent).
    fn remove(&self, key: &UploadKey) -> BoxFuture<'_, Result<(), UploadError>>;

    /// Forgets every upload last written more than `max_age` ago; returns how many.
    fn sweep(&self, max_age: Duration) -> BoxFuture<'_, Result<usize, UploadError>>;
}

/// [`UploadStore`] on the local filesystem, under `DATA/uploads`. Cheap to clone.
#[derive(Clone)]
pub struct FsUploads(Arc<FsUploadsInner>);

struct FsUploadsInner {
    root: PathBuf,
    /// Uploads a request is writing right now: a second writer gets [`UploadError::Offset`].
    busy: Mutex<HashSet<UploadKey>>,
}

/// One upload's file and what its name says.
struct Found {
    path: PathBuf,
    length: u64,
    complete: bool,
}

fn storage(error: impl std::fmt::Display) -> UploadError {
    UploadError::Storage(error.to_string())
}

impl FsUploads {
    /// Uploads under `root`, created if missing.
    pub fn new(root: &Path) -> io::Result<FsUploads> {
        std::fs::create_dir_all(root)?;
        Ok(FsUploads(Arc::new(FsUploadsInner { root: root.to_path_buf(), busy: Mutex::new(HashSet::new()) })))
    }
}

impl FsUploadsInner {
    fn dir(&self, key: &UploadKey) -> PathBuf {
        self.root.join(key.repo.0.to_string()).join(key.user.0.to_string())
    }

    fn path(&self, key: &UploadKey, length: u64, complete: bool) -> PathBuf {
        self.dir(key).join(format!("{}.{length}.{}", key.checksum, if complete { "pack" } else { "part" }))
    }

    /// The upload's file, if any.
    async fn find(&self, key: &UploadKey) -> Result<Option<Found>, UploadError> {
        let dir = self.dir(key);
        let mut entries = match tokio::fs::read_dir(&dir).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(storage(e)),
        };
        while let Some(entry) = entries.next_entry().await.map_err(storage)? {
            let name = entry.file_name();
            let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(key.checksum.as_str())).and_then(|r| r.strip_prefix('.')) else { continue };
            let Some((length, kind)) = rest.split_once('.') else { continue };
            let Ok(length) = length.parse::<u64>() else { continue };
            if kind == "part" || kind == "pack" {
                return Ok(Some(Found { path: entry.path(), length, complete: kind == "pack" }));
            }
        }
        Ok(None)
    }

    async fn state(&self, key: &UploadKey) -> Result<Option<UploadState>, UploadError> {
        let Some(found) = self.find(key).await? else { return Ok(None) };
        if found.complete {
            return Ok(Some(UploadState { offset: found.length, length: found.length, complete: true }));
        }
        let held = tokio::fs::metadata(&found.path).await.map_err(storage)?.len();
        Ok(Some(UploadState { offset: held, length: found.length, complete: false }))
    }

    async fn append(&self, key: &UploadKey, offset: u64, length: u64, mut body: BodyStream) -> Result<UploadState, UploadError> {
        let state = self.state(key).await?;
        let held = state.map_or(0, |s| s.offset);
        if let Some(state) = state {
            if state.length != length {
                return Err(UploadError::Length { held: state.length });
            }
        }
        if offset != held {
            return Err(UploadError::Offset { held });
        }
        if state.is_some_and(|s| s.complete) {
            // Everything is here already: only an empty body fits.
            return match body.next().await {
                Some(Ok(bytes)) if !bytes.is_empty() => Err(UploadError::TooLong),
                _ => Ok(UploadState { offset: length, length, complete: true }),
            };
        }
        let path = self.path(key, length, false);
        tokio::fs::create_dir_all(self.dir(key)).await.map_err(storage)?;
        let mut file = tokio::fs::OpenOptions::new().create(true).append(true).open(&path).await.map_err(storage)?;
        let mut at = held;
        let mut cut: Option<String> = None;
        while let Some(chunk) = body.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => {
                    cut = Some(e.to_string());
                    break;
                }
            };
            if at + chunk.len() as u64 > length {
                // tokio's file finishes a write in the background: wait for it before cutting.
                file.flush().await.map_err(storage)?;
                drop(file);
                truncate(&path, held).await?;
                return Err(UploadError::TooLong);
            }
            file.write_all(&chunk).await.map_err(storage)?;
            at += chunk.len() as u64;
        }
        file.flush().await.map_err(storage)?;
        file.sync_all().await.map_err(storage)?;
        drop(file);
        if let Some(cause) = cut {
            return Err(UploadError::Interrupted { held: at, cause });
        }
        if at < length {
            return Ok(UploadState { offset: at, length, complete: false });
        }
        self.complete(key, &path, length).await
    }

    /// Checks a fully received upload against its checksum; publishes or discards it.
    async fn complete(&self, key: &UploadKey, path: &Path, length: u64) -> Result<UploadState, UploadError> {
        let part = path.to_path_buf();
        let checked = tokio::task::spawn_blocking(move || verify_checksum(&part, length)).await.map_err(storage)?.map_err(storage)?;
        if checked.as_deref() != Some(key.checksum.as_str()) {
            let _ = tokio::fs::remove_file(path).await;
            return Err(UploadError::BadChecksum(key.checksum.clone()));
        }
        tokio::fs::rename(path, self.path(key, length, true)).await.map_err(storage)?;
        Ok(UploadState { offset: length, length, complete: true })
    }
}

/// The checksum a pack of `length` bytes at `path` carries, if its trailer matches its bytes.
fn verify_checksum(path: &Path, length: u64) -> io::Result<Option<String>> {
    if length < 32 {
        return Ok(None);
    }
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut body = (&mut file).take(length - 32);
    let mut buf = vec![0u8; 256 << 10];
    loop {
        let n = body.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let mut trailer = [0u8; 32];
    file.read_exact(&mut trailer)?;
    let computed: [u8; 32] = hasher.finalize().into();
    Ok((computed == trailer).then(|| hex::encode(computed)))
}

async fn truncate(path: &Path, length: u64) -> Result<(), UploadError> {
    let file = tokio::fs::OpenOptions::new().write(true).open(path).await.map_err(storage)?;
    file.set_len(length).await.map_err(storage)?;
    file.sync_all().await.map_err(storage)
}

/// Marks an upload busy for as long as it lives.
struct Busy<'a> {
    set: &'a Mutex<HashSet<UploadKey>>,
    key: UploadKey,
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.set.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.key);
    }
}

impl UploadStore for FsUploads {
    fn status(&self, key: &UploadKey) -> BoxFuture<'_, Result<Option<UploadState>, UploadError>> {
        let key = key.clone();
        Box::pin(async move { self.0.state(&key).await })
    }

    fn append(&self, key: &UploadKey, offset: u64, length: u64, body: BodyStream) -> BoxFuture<'_, Result<UploadState, UploadError>> {
        let key = key.clone();
        Box::pin(async move {
            let inner = &self.0;
            if !inner.busy.lock().unwrap_or_else(|e| e.into_inner()).insert(key.clone()) {
                let held = inner.state(&key).await?.map_or(0, |s| s.offset);
                return Err(UploadError::Offset { held });
            }
            let _busy = Busy { set: &inner.busy, key: key.clone() };
            inner.append(&key, offset, length, body).await
        })
    }

    fn open(&self, key: &UploadKey) -> BoxFuture<'_, Result<Option<PackReader>, UploadError>> {
        let key = key.clone();
        Box::pin(async move {
            match self.0.find(&key).await? {
                Some(found) if found.complete => {
                    let file = std::fs::File::open(&found.path).map_err(storage)?;
                    Ok(Some(Box::new(file) as PackReader))
                }
                _ => Ok(None),
            }
        })
    }

    fn remove(&self, key: &UploadKey) -> BoxFuture<'_, Result<(), UploadError>> {
        let key = key.clone();
        Box::pin(async move {
            if let Some(found) = self.0.find(&key).await? {
                match tokio::fs::remove_file(&found.path).await {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(storage(e)),
                    _ => {}
                }
            }
            Ok(())
        })
    }

    fn sweep(&self, max_age: Duration) -> BoxFuture<'_, Result<usize, UploadError>> {
        let root = self.0.root.clone();
        Box::pin(async move { tokio::task::spawn_blocking(move || sweep_dir(&root, max_age, 2)).await.map_err(storage)?.map_err(storage) })
    }
}

/// Removes files older than `max_age` `depth` directories below `dir` (`<repo>/<user>/file`).
fn sweep_dir(dir: &Path, max_age: Duration, depth: u32) -> io::Result<usize> {
    let now = SystemTime::now();
    let mut removed = 0;
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let meta = entry.metadata()?;
        if meta.is_dir() && depth > 0 {
            removed += sweep_dir(&entry.path(), max_age, depth - 1)?;
        } else if meta.is_file() && depth == 0 {
            let age = meta.modified().ok().and_then(|m| now.duration_since(m).ok()).unwrap_or_default();
            if age > max_age && std::fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(bytes: &[u8]) -> BodyStream {
        Box::pin(futures_util::stream::iter(vec![Ok(Bytes::copy_from_slice(bytes))]))
    }

    /// A pack-shaped blob: bytes and their SHA-256 as trailer.
    fn packed(bytes: &[u8]) -> (Vec<u8>, String) {
        let mut data = bytes.to_vec();
        let sum: [u8; 32] = Sha256::digest(bytes).into();
        data.extend_from_slice(&sum);
        (data, hex::encode(sum))
    }

    #[tokio::test]
    async fn appends_checks_and_sweeps() {
        let dir = tempfile::tempdir().unwrap();
        let uploads = FsUploads::new(dir.path()).unwrap();
        let (data, sum) = packed(b"some pack bytes");
        let key = UploadKey::new(RepoId(1), UserId(2), &sum).unwrap();
        assert!(UploadKey::new(RepoId(1), UserId(2), &sum.to_uppercase()).is_none());
        assert!(UploadKey::new(RepoId(1), UserId(2), "../x").is_none());
        let length = data.len() as u64;
        let state = uploads.append(&key, 0, length, body(&data[..10])).await.unwrap();
        assert_eq!(state, UploadState { offset: 10, length, complete: false });
        assert!(matches!(uploads.append(&key, 3, length, body(&data[3..])).await, Err(UploadError::Offset { held: 10 })));
        assert!(matches!(uploads.append(&key, 10, length + 1, body(&data[10..])).await, Err(UploadError::Length { .. })));
        assert!(uploads.open(&key).await.unwrap().is_none(), "incomplete uploads cannot be applied");
        let state = uploads.append(&key, 10, length, body(&data[10..])).await.unwrap();
        assert_eq!(state, UploadState { offset: length, length, complete: true });
        let mut read = Vec::new();
        uploads.open(&key).await.unwrap().unwrap().read_to_end(&mut read).unwrap();
        assert_eq!(read, data);
        // Only old files are swept.
        let other = UploadKey::new(RepoId(1), UserId(3), &sum).unwrap();
        uploads.append(&other, 0, length, body(&data[..5])).await.unwrap();
        let old = uploads.0.find(&key).await.unwrap().unwrap().path;
        let file = std::fs::File::options().write(true).open(&old).unwrap();
        file.set_modified(SystemTime::now() - Duration::from_secs(25 * 3600)).unwrap();
        assert_eq!(uploads.sweep(Duration::from_secs(24 * 3600)).await.unwrap(), 1);
        assert!(uploads.status(&key).await.unwrap().is_none());
        assert_eq!(uploads.status(&other).await.unwrap().map(|s| s.offset), Some(5));
        // A complete upload whose bytes do not match is discarded.
        let (mut bad, sum) = packed(b"other bytes");
        bad[0] ^= 1;
        let key = UploadKey::new(RepoId(1), UserId(2), &sum).unwrap();
        assert!(matches!(uploads.append(&key, 0, bad.len() as u64, body(&bad)).await, Err(UploadError::BadChecksum(_))));
        assert!(uploads.status(&key).await.unwrap().is_none());
    }
}
