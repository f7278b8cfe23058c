//! Push (`docs/protocol.md` §Push): decide each ref update against the advertisement, build one
//! mpack of what the server lacks to a temporary file, upload it resumably, then ask the server
//! to move every ref by compare-and-swap, all or none.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use muse_core::CommitId;
use muse_pack::{build, BuildOptions, BuildStats};
use muse_protocol::{capability, endpoint, ErrorCode, PushRequest, PushResponse, RefAdvertisement, RefUpdate, UploadStatus, Written};
use muse_store::Store;

use crate::client::{check_status, network, protocol, read_json, Attempt, Remote};
use crate::error::{Result, TransportError};
use crate::negotiate::CommitGraph;
use crate::progress::{Phase, Progress};

/// One ref a push sets on the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushUpdate {
    /// The full name on the server (`refs/heads/main`).
    pub name: String,
    /// The commit to set, or `None` to delete the ref.
    pub new: Option<CommitId>,
    /// Set it even when its server value is not an ancestor of `new` (what the server had
    /// there is then lost from the ref).
    pub force: bool,
}

/// What a push did to one ref.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PushStatus {
    /// The ref did not exist and was created.
    Created,
    /// The ref moved to a descendant of its old commit.
    FastForward,
    /// The ref moved to a commit that does not descend from its old one (`force`).
    Forced,
    /// The ref was deleted.
    Deleted,
    /// The ref already had the value: nothing was sent for it.
    UpToDate,
}

/// One ref of a push.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PushedRef {
    /// The full ref name on the server.
    pub name: String,
    /// Its value on the server before.
    pub old: Option<CommitId>,
    /// Its value now (`None`: deleted).
    pub new: Option<CommitId>,
    /// What happened.
    pub status: PushStatus,
}

/// The pack a push sent.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PackSent {
    /// Its checksum (the mpack trailer, 64 hex digits).
    pub checksum: String,
    /// Its length in bytes.
    pub bytes: u64,
    /// What it holds.
    #[serde(flatten)]
    pub stats: BuildStats,
    /// Bytes sent by this call (all attempts; bytes lost in flight when a connection was cut
    /// are counted, and sent again).
    pub bytes_uploaded: u64,
    /// Bytes the server held when the last attempt began, sent by an earlier attempt of this
    /// call or an earlier run: not sent again.
    pub bytes_resumed: u64,
}

/// What a push did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PushReport {
    /// Every ref asked for, in request order.
    pub refs: Vec<PushedRef>,
    /// The pack sent, if one was needed.
    pub pack: Option<PackSent>,
    /// What the server stored (zero when the answer was lost and the refs were found moved).
    pub written: Written,
}

/// A temporary file removed when dropped.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

impl Remote {
    /// Pushes `updates` from `store`: refuses (before sending anything) an update whose server
    /// value is not an ancestor of the new commit unless it is forced, sends the objects the
    /// server lacks, and moves every ref on the server, all or none.
    pub fn push(&self, store: &Store, updates: &[PushUpdate], progress: &dyn Progress) -> Result<PushReport> {
        let advert = self.advertise()?;
        let refs = plan(store.objects(), &advert, updates)?;
        let changes: Vec<RefUpdate> =
            refs.iter().filter(|r| r.status != PushStatus::UpToDate).map(|r| RefUpdate { name: r.name.clone(), old: r.old, new: r.new }).collect();
        if changes.is_empty() {
            return Ok(PushReport { refs, pack: None, written: Written::default() });
        }
        if changes.iter().any(|c| c.new.is_none()) && !advert.supports(capability::REF_DELETE) {
            return Err(TransportError::Unsupported("deleting refs"));
        }
        let mut haves = Vec::new();
        for r in &advert.refs {
            if store.objects().has(&r.commit_id)? {
                haves.push(r.commit_id);
            }
        }
        let wants: Vec<CommitId> = changes.iter().filter_map(|c| c.new).collect();
        progress.phase(Phase::Packing);
        let mut pack = None;
        let mut _file = None;
        if !wants.is_empty() {
            let (file, stats, bytes, checksum) = build_pack(store, &wants, &haves)?;
            if stats.commits + stats.trees + stats.blobs > 0 {
                let (bytes_uploaded, bytes_resumed) = self.upload(&file.0, bytes, &checksum, progress)?;
                pack = Some(PackSent { checksum, bytes, stats, bytes_uploaded, bytes_resumed });
            }
            _file = Some(file);
        }
        progress.phase(Phase::Updating);
        let request = PushRequest { pack: pack.as_ref().map(|p| p.checksum.clone()), updates: changes };
        let response = self.push_call(&request)?;
        Ok(PushReport { refs, pack, written: response.map(|r| r.written).unwrap_or_default() })
    }

    /// Uploads the pack at `path` (`bytes` long), resuming from what the server holds. Returns
    /// the bytes sent (all attempts) and the bytes the server held when the last attempt began.
    fn upload(&self, path: &Path, bytes: u64, checksum: &str, progress: &dyn Progress) -> Result<(u64, u64)> {
        let url = format!("{}/{checksum}", self.url().endpoint(endpoint::UPLOADS));
        progress.phase(Phase::Uploading { total: bytes });
        let mut sent = 0u64;
        let mut last_start = 0;
        self.with_retries(|| loop {
            let held = self.upload_offset(&url)?;
            last_start = held;
            if held >= bytes {
                return Ok(());
            }
            let mut file = File::open(path).map_err(|e| TransportError::io("open", path, e))?;
            file.seek(SeekFrom::Start(held)).map_err(|e| TransportError::io("seek", path, e))?;
            let mut body = Counting { inner: file.take(bytes - held), sent: &mut sent, done: held, total: bytes, progress };
            let request = self
                .prepare(self.agent().put(&url))
                .header("Content-Type", muse_protocol::MPACK_CONTENT_TYPE)
                .header("Content-Length", (bytes - held).to_string())
                .header(muse_protocol::UPLOAD_OFFSET_HEADER, held.to_string())
                .header(muse_protocol::UPLOAD_LENGTH_HEADER, bytes.to_string());
            let response = request.send(ureq::SendBody::from_reader(&mut body)).map_err(|e| network(&url, e));
            let status: UploadStatus = match response.and_then(|r| check_status(&url, r)) {
                Ok(response) => read_json(&url, response)?,
                // The server holds another offset than we thought: ask again.
                Err(Attempt::Fail(e)) if e.server_error().and_then(|b| b.code()) == Some(ErrorCode::UploadOffset) => return Err(Attempt::Retry(e)),
                Err(e) => return Err(e),
            };
            if status.complete {
                return Ok(());
            }
        })?;
        Ok((sent, last_start))
    }

    /// `HEAD REPO/muse/uploads/CHECKSUM`: the bytes the server holds (0 when it has none).
    fn upload_offset(&self, url: &str) -> std::result::Result<u64, Attempt> {
        let response = self.prepare(self.agent().head(url)).call().map_err(|e| network(url, e))?;
        if response.status().as_u16() == 404 {
            return Ok(0);
        }
        let response = check_status(url, response)?;
        let header = response.headers().get(muse_protocol::UPLOAD_OFFSET_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
        header.trim().parse().map_err(|_| Attempt::Fail(protocol(url, format!("Upload-Offset {header:?} is not a number"))))
    }

    /// `POST REPO/muse/push`. When the answer is lost, the refs are read again: if every ref is
    /// at its new value the push happened (`None`: what it wrote is unknown); if every ref is
    /// still at its old value it is sent again; otherwise the loss is reported.
    fn push_call(&self, request: &PushRequest) -> Result<Option<PushResponse>> {
        let url = self.url().endpoint(endpoint::PUSH);
        let body = serde_json::to_vec(request).map_err(|e| protocol(&url, e))?;
        let mut tries = 0;
        loop {
            let attempt = self
                .prepare(self.agent().post(&url))
                .header("Content-Type", muse_protocol::JSON_CONTENT_TYPE)
                .send(&body[..])
                .map_err(|e| network(&url, e))
                .and_then(|r| check_status(&url, r))
                .and_then(|r| read_json::<PushResponse>(&url, r));
            let lost = match attempt {
                Ok(response) => return Ok(Some(response)),
                Err(Attempt::Fail(e)) => return Err(e),
                Err(Attempt::Retry(e)) => e,
            };
            if tries >= self.retry().retries {
                return Err(lost);
            }
            tries += 1;
            std::thread::sleep(self.retry().delay(tries));
            let Ok(advert) = self.advertise() else { continue };
            if request.updates.iter().all(|u| advert.commit_of(&u.name) == u.new) {
                return Ok(None);
            }
            if !request.updates.iter().all(|u| advert.commit_of(&u.name) == u.old) {
                return Err(lost);
            }
        }
    }
}

/// Each update with its server value and what it will do; refuses non-fast-forwards that are
/// not forced, and deleting a ref the server does not have.
fn plan<G: CommitGraph + ?Sized>(graph: &G, advert: &RefAdvertisement, updates: &[PushUpdate]) -> Result<Vec<PushedRef>> {
    let mut out = Vec::with_capacity(updates.len());
    for update in updates {
        let old = advert.commit_of(&update.name);
        let status = match (old, update.new) {
            (None, None) => return Err(TransportError::NoSuchRemoteRef(update.name.clone())),
            (Some(old), Some(new)) if old == new => PushStatus::UpToDate,
            (None, Some(_)) => PushStatus::Created,
            (Some(_), None) => PushStatus::Deleted,
            (Some(old), Some(new)) => {
                if graph.has(&old)? && is_ancestor(graph, old, new)? {
                    PushStatus::FastForward
                } else if update.force {
                    PushStatus::Forced
                } else {
                    return Err(TransportError::NonFastForward { name: update.name.clone(), remote: old, fetch_first: !graph.has(&old)? });
                }
            }
        };
        out.push(PushedRef { name: update.name.clone(), old, new: update.new, status });
    }
    Ok(out)
}

/// Whether `ancestor` is reachable from `descendant` through parents.
pub(crate) fn is_ancestor<G: CommitGraph + ?Sized>(graph: &G, ancestor: CommitId, descendant: CommitId) -> Result<bool> {
    let mut seen = HashSet::new();
    let mut stack = vec![descendant];
    while let Some(id) = stack.pop() {
        if id == ancestor {
            return Ok(true);
        }
        if seen.insert(id) {
            stack.extend(graph.parents_and_time(&id)?.0);
        }
    }
    Ok(false)
}

/// Builds the pack of what `wants` reach and `haves` do not into a temporary file of the store;
/// returns it with its stats, length and checksum.
fn build_pack(store: &Store, wants: &[CommitId], haves: &[CommitId]) -> Result<(TempFile, BuildStats, u64, String)> {
    let dir = store.objects().tmp_dir();
    let path = dir.join(format!("push-{}-{}.mpack", std::process::id(), unique()));
    let temp = TempFile(path.clone());
    let file = fs::OpenOptions::new().read(true).write(true).create_new(true).open(&path).map_err(|e| TransportError::io("create", &path, e))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let stats = build(store.objects(), wants, haves, &mut out, &BuildOptions::default())?;
    out.flush().map_err(|e| TransportError::io("write", &path, e))?;
    let mut file = out.into_inner().map_err(|e| TransportError::io("write", &path, e.into_error()))?;
    let bytes = file.stream_position().map_err(|e| TransportError::io("stat", &path, e))?;
    let mut trailer = [0u8; 32];
    file.seek(SeekFrom::End(-32)).and_then(|_| file.read_exact(&mut trailer)).map_err(|e| TransportError::io("read", &path, e))?;
    Ok((temp, stats, bytes, hex::encode(trailer)))
}

/// A number distinct per call in this process (temporary file names).
fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Counts the bytes an upload body sends, and reports them.
struct Counting<'a, R> {
    inner: R,
    sent: &'a mut u64,
    done: u64,
    total: u64,
    progress: &'a dyn Progress,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        *self.sent += n as u64;
        self.done += n as u64;
        self.progress.bytes(self.done, Some(self.total));
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use muse_core::ObjectId;
    use muse_protocol::AdvertisedRef;
    use std::collections::HashMap;

    struct Graph(HashMap<CommitId, Vec<CommitId>>);

    impl CommitGraph for Graph {
        fn has(&self, id: &CommitId) -> Result<bool> {
            Ok(self.0.contains_key(id))
        }
        fn parents_and_time(&self, id: &CommitId) -> Result<(Vec<CommitId>, (i64, u32))> {
            Ok((self.0.get(id).cloned().unwrap_or_default(), (0, 0)))
        }
    }

    fn id(n: u8) -> CommitId {
        CommitId(ObjectId::sha256(&[n]))
    }

    fn advert(refs: &[(&str, CommitId)]) -> RefAdvertisement {
        RefAdvertisement {
            protocol: 1,
            capabilities: vec![],
            head: None,
            refs: refs.iter().map(|(n, c)| AdvertisedRef { name: n.to_string(), commit_id: *c }).collect(),
        }
    }

    #[test]
    fn plans_refuse_non_fast_forwards_unless_forced() {
        // 1 <- 2 <- 3 and 1 <- 4
        let g = Graph(HashMap::from([(id(1), vec![]), (id(2), vec![id(1)]), (id(3), vec![id(2)]), (id(4), vec![id(1)])]));
        let a = advert(&[("refs/heads/main", id(2)), ("refs/heads/old", id(1))]);
        let up = |name: &str, new: Option<CommitId>| PushUpdate { name: name.into(), new, force: false };
        let forced = |name: &str, new: Option<CommitId>| PushUpdate { name: name.into(), new, force: true };
        let refs = plan(&g, &a, &[up("refs/heads/main", Some(id(3))), up("refs/heads/new", Some(id(1))), up("refs/heads/old", None)]).unwrap();
        let statuses: Vec<PushStatus> = refs.iter().map(|r| r.status).collect();
        assert_eq!(statuses, [PushStatus::FastForward, PushStatus::Created, PushStatus::Deleted]);
        assert_eq!(refs[0].old, Some(id(2)));
        let diverged = plan(&g, &a, &[up("refs/heads/main", Some(id(4)))]).unwrap_err();
        assert!(matches!(diverged, TransportError::NonFastForward { fetch_first: false, .. }), "{diverged}");
        assert_eq!(plan(&g, &a, &[forced("refs/heads/main", Some(id(4)))]).unwrap()[0].status, PushStatus::Forced);
        let unknown = advert(&[("refs/heads/main", id(9))]);
        assert!(matches!(plan(&g, &unknown, &[up("refs/heads/main", Some(id(3)))]), Err(TransportError::NonFastForward { fetch_first: true, .. })));
        assert!(matches!(plan(&g, &a, &[up("refs/heads/nope", None)]), Err(TransportError::NoSuchRemoteRef(_))));
        assert_eq!(plan(&g, &a, &[up("refs/heads/main", Some(id(2)))]).unwrap()[0].status, PushStatus::UpToDate);
    }
}
