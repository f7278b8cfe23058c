//! Fetch: the pack streamed from the server straight into [`muse_pack::apply`], every received
//! byte also kept in a partial file under the store's `objects/tmp`, so that a fetch cut off is
//! resumed with `Range`/`If-Range` (`docs/protocol.md` §Fetch, Resuming) by a retry of the same
//! call or by the next run of the same fetch.
//!
//! The partial file is named after the request (URL and body), its ETag kept beside it; both are
//! removed once the pack is applied. A resumed apply reads the kept bytes from the file, then the
//! rest from the network: nothing is written to the store before the whole pack's trailer
//! matched, as with any apply.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use muse_core::CommitId;
use muse_pack::{apply, ApplyOptions, ApplyReport, PackError, WriteStep};
use muse_protocol::{endpoint, FetchRequest};
use muse_store::ObjectStore;
use sha2::{Digest, Sha256};

use crate::client::{check_status, network, protocol, Attempt, Remote};
use crate::error::{Result, TransportError};
use crate::progress::Progress;

/// What a fetch received and wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct FetchReport {
    /// What the apply wrote (and rejected).
    #[serde(flatten)]
    pub apply: ApplyReport,
    /// The pack's length in bytes.
    pub pack_bytes: u64,
    /// Bytes received from the network by this call (all attempts).
    pub bytes_received: u64,
    /// Bytes of the pack that an earlier, cut-off attempt (of this call or an earlier run) had
    /// kept and that were not sent again.
    pub bytes_resumed: u64,
    /// How many times the transfer was resumed from a kept prefix.
    pub resumes: u32,
}

/// The partial file of one fetch request, locked while a fetch uses it.
struct Partial {
    path: PathBuf,
    etag_path: PathBuf,
    file: File,
}

impl Partial {
    /// Opens (creating) the partial file of the request whose key is `key`, locked for this
    /// process; [`TransportError::Busy`] when another process holds it.
    fn open(tmp_dir: &Path, key: &str) -> Result<Partial> {
        let path = tmp_dir.join(format!("fetch-{key}.partial"));
        let etag_path = tmp_dir.join(format!("fetch-{key}.etag"));
        let file = OpenOptions::new().read(true).append(true).create(true).open(&path).map_err(|e| TransportError::io("create", &path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => return Err(TransportError::Busy(path)),
            Err(fs::TryLockError::Error(e)) => return Err(TransportError::io("lock", &path, e)),
        }
        Ok(Partial { path, etag_path, file })
    }

    /// The kept prefix's length and the ETag it belongs to; a prefix without an ETag is dropped.
    fn kept(&mut self) -> Result<(u64, Option<String>)> {
        let len = self.file.metadata().map_err(|e| TransportError::io("stat", &self.path, e))?.len();
        let etag = fs::read_to_string(&self.etag_path).ok().map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
        match (len, etag) {
            (0, _) | (_, None) => {
                self.reset(None)?;
                Ok((0, None))
            }
            (len, etag) => Ok((len, etag)),
        }
    }

    /// Empties the file and records `etag` (if any) as the one its bytes will belong to.
    fn reset(&mut self, etag: Option<&str>) -> Result<()> {
        self.file.set_len(0).map_err(|e| TransportError::io("truncate", &self.path, e))?;
        match etag {
            Some(etag) => fs::write(&self.etag_path, etag).map_err(|e| TransportError::io("write", &self.etag_path, e)),
            None => match fs::remove_file(&self.etag_path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(TransportError::io("remove", &self.etag_path, e)),
                _ => Ok(()),
            },
        }
    }

    /// Removes both files (the transfer is done, or its bytes are useless).
    fn remove(self) {
        let _ = fs::remove_file(&self.etag_path);
        let _ = fs::remove_file(&self.path);
    }
}

/// Reads the network body, appending every byte read to the partial file; remembers whether
/// the network failed, so that a failed apply can tell a cut from a bad pack.
struct Tee<'a, R> {
    body: R,
    kept: BufWriter<&'a File>,
    received: &'a AtomicU64,
    cut: Option<io::Error>,
    progress: &'a dyn Progress,
    offset: u64,
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = match self.body.read(buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Err(e),
            Err(e) => {
                self.cut = Some(io::Error::new(e.kind(), e.to_string()));
                return Err(e);
            }
        };
        self.kept.write_all(&buf[..n])?;
        self.offset += n as u64;
        self.received.fetch_add(n as u64, Ordering::Relaxed);
        self.progress.bytes(self.offset, None);
        Ok(n)
    }
}

impl Remote {
    /// `POST REPO/muse/fetch`: receives the pack of what `wants` reach and `haves` do not, and
    /// applies it to `store` (objects only: moving refs is the caller's). A cut-off transfer is
    /// retried and resumed from the bytes already received (see the module documentation); a
    /// cut that outlasts the retries leaves them for the next run of the same fetch.
    pub fn fetch(&self, store: &ObjectStore, wants: &[CommitId], haves: &[CommitId], progress: &dyn Progress) -> Result<FetchReport> {
        if wants.is_empty() {
            return Ok(FetchReport::default());
        }
        let url = self.url().endpoint(endpoint::FETCH);
        let body = serde_json::to_vec(&FetchRequest { wants: wants.to_vec(), haves: haves.to_vec() }).map_err(|e| protocol(&url, e))?;
        let key = hex::encode(&Sha256::new().chain_update(url.as_bytes()).chain_update(b"\n").chain_update(&body).finalize()[..16]);
        let mut partial = Partial::open(store.tmp_dir(), &key)?;
        let received = AtomicU64::new(0);
        let resumes = AtomicU64::new(0);
        let mut report = FetchReport::default();
        let mut tries = 0;
        // After a resumed pack failed its checksum: one more try, from byte 0.
        let mut restarted = false;
        loop {
            let (kept, etag) = partial.kept()?;
            match self.fetch_once(store, &url, &body, &mut partial, kept, etag.as_deref(), (&received, &resumes), progress) {
                Ok((apply_report, pack_bytes, resumed_from)) => {
                    partial.remove();
                    report.apply = apply_report;
                    report.pack_bytes = pack_bytes;
                    report.bytes_resumed = resumed_from;
                    report.bytes_received = received.load(Ordering::Relaxed);
                    report.resumes = u32::try_from(resumes.load(Ordering::Relaxed)).unwrap_or(u32::MAX);
                    return Ok(report);
                }
                Err(Attempt::Retry(e)) => {
                    if tries >= self.retry().retries {
                        return Err(e);
                    }
                    tries += 1;
                    std::thread::sleep(self.retry().delay(tries));
                }
                Err(Attempt::Fail(TransportError::Pack(PackError::ChecksumMismatch { .. }))) if kept > 0 && !restarted => {
                    // The server could not rebuild the same bytes: start over, once.
                    restarted = true;
                    partial.reset(None)?;
                }
                Err(Attempt::Fail(e)) => {
                    partial.remove();
                    return Err(e);
                }
            }
        }
    }

    /// One attempt: asks for the pack (from `kept` when resuming) and applies kept bytes plus the
    /// body. Returns the apply's report, the pack's length and the offset the body started at.
    #[allow(clippy::too_many_arguments)]
    fn fetch_once(
        &self,
        store: &ObjectStore,
        url: &str,
        body: &[u8],
        partial: &mut Partial,
        kept: u64,
        etag: Option<&str>,
        (received, resumes): (&AtomicU64, &AtomicU64),
        progress: &dyn Progress,
    ) -> std::result::Result<(ApplyReport, u64, u64), Attempt> {
        let mut request = self.prepare(self.agent().post(url)).header("Content-Type", muse_protocol::JSON_CONTENT_TYPE);
        if let (true, Some(etag)) = (kept > 0, etag) {
            request = request.header("Range", format!("bytes={kept}-")).header("If-Range", etag);
        }
        let response = request.send(body).map_err(|e| network(url, e))?;
        let response = check_status(url, response)?;
        let status = response.status().as_u16();
        let start = if status == 206 {
            let range = response.headers().get("content-range").and_then(|v| v.to_str().ok()).unwrap_or_default();
            match parse_content_range(range) {
                Some(start) if start == kept => {
                    resumes.fetch_add(1, Ordering::Relaxed);
                    kept
                }
                _ => return Err(Attempt::Retry(protocol(url, format!("a resumed fetch answered Content-Range {range:?}, not bytes {kept}-")))),
            }
        } else {
            // A whole new pack (the refs moved, or the server does not resume): drop the prefix.
            let etag = response.headers().get("etag").and_then(|v| v.to_str().ok());
            partial.reset(etag).map_err(Attempt::Fail)?;
            0
        };
        progress.bytes(start, None);
        let prefix = File::open(&partial.path).map_err(|e| Attempt::Fail(TransportError::io("open", &partial.path, e)))?;
        let mut tee = Tee {
            body: response.into_body().into_reader(),
            kept: BufWriter::with_capacity(256 << 10, &partial.file),
            received,
            cut: None,
            progress,
            offset: start,
        };
        let objects = AtomicU64::new(0);
        let hook = |step: &WriteStep<'_>| {
            if let WriteStep::Spool(_) = step {
                progress.objects(objects.fetch_add(1, Ordering::Relaxed) + 1);
            }
            Ok(())
        };
        let options = ApplyOptions { hook: Some(&hook), ..ApplyOptions::default() };
        let result = apply(store, prefix.take(start).chain(&mut tee), options);
        let flushed = tee.kept.flush();
        let pack_bytes = tee.offset;
        match result {
            Ok(report) => Ok((report, pack_bytes, start)),
            // The network failed (or the body ended early): what arrived is kept; try again.
            Err(e) if tee.cut.is_some() || matches!(e, PackError::Truncated { .. }) => {
                flushed.map_err(|e| Attempt::Fail(TransportError::io("write", &partial.path, e)))?;
                let reason = tee.cut.map_or_else(|| e.to_string(), |cut| format!("the connection failed after {pack_bytes} bytes of the pack: {cut}"));
                Err(Attempt::Retry(TransportError::Network { url: url.to_string(), reason }))
            }
            Err(e) => Err(Attempt::Fail(e.into())),
        }
    }
}

/// The first byte of a `Content-Range: bytes START-END/TOTAL` header.
fn parse_content_range(value: &str) -> Option<u64> {
    let range = value.trim().strip_prefix("bytes ")?;
    let (start, _) = range.split_once('-')?;
    start.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range() {
        assert_eq!(parse_content_range("bytes 100-199/*"), Some(100));
        assert_eq!(parse_content_range("bytes 0-0/1"), Some(0));
        assert_eq!(parse_content_range("items 1-2/3"), None);
        assert_eq!(parse_content_range("bytes x-2/3"), None);
    }

    #[test]
    fn a_partial_file_is_locked_and_keeps_its_prefix_with_its_etag() {
        let dir = tempfile::tempdir().unwrap();
        let mut partial = Partial::open(dir.path(), "k").unwrap();
        assert!(matches!(Partial::open(dir.path(), "k"), Err(TransportError::Busy(_))));
        partial.reset(Some("\"e1\"")).unwrap();
        (&partial.file).write_all(b"hello").unwrap();
        assert_eq!(partial.kept().unwrap(), (5, Some("\"e1\"".to_string())));
        assert_eq!(fs::read(&partial.path).unwrap(), b"hello");
        drop(partial);
        let mut again = Partial::open(dir.path(), "k").unwrap();
        assert_eq!(again.kept().unwrap().0, 5);
        // Without its ETag a prefix cannot be resumed: it is dropped.
        fs::remove_file(&again.etag_path).unwrap();
        assert_eq!(again.kept().unwrap(), (0, None));
        again.remove();
        assert!(fs::read_dir(dir.path()).unwrap().next().is_none());
    }
}
