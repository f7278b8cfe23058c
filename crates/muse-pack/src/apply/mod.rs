//! Applying an mpack to a store, under the seed's integrity rules (PF-1..PF-4, `docs/mpack.md`
//! §Apply): a commit, tree or delta is only ever published together with everything it needs.
//!
//! The pack is read once, as a stream. Each record is decoded and verified as it arrives (its
//! computed id against the id it declares; a tree's entries and a commit's snapshot and parents against what was
//! accepted earlier in the pack or is already in the store) and its encoded payload is copied to
//! a spool file. Nothing is visible yet. Only once the trailer's checksum has matched are the
//! accepted records copied from the spool into one new store pack, which is published atomically
//! (the store's index rename). Any I/O error before that leaves the store as it was.

mod closure;
mod spool;

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::{self, Read, Write};
use std::sync::Arc;

use muse_core::{Commit, CommitId, ObjectId, Tree, TreeId, TreeShape};
use muse_store::odb::Encoding;
use muse_store::{ObjectKind, ObjectStore, StoreError};

use crate::cache::BaseCache;
use crate::compress::{compress, decompress};
use crate::error::{PackError, Result};
use crate::format::{ID_PREFIX_LEN, MAX_DELTA_DEPTH, MAX_INLINE_SIZE};
use crate::input::{BaseRef, Input, Record};
use spool::{EntryHeader, Spool};

/// Decoded objects kept in memory for resolving later deltas.
const BASE_CACHE_BYTES: usize = 16 << 20;
/// Blobs above this size are not kept for the base cache (they are re-read from the spool).
const CACHE_OBJECT_MAX: u64 = 8 << 20;
/// zstd level for objects re-encoded whole (see `Applier::reencode`).
const REENCODE_LEVEL: i32 = 3;

/// One record that was not written, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Rejected {
    /// The object's full id when its bytes were decoded and match the record's declaration;
    /// otherwise the declared id prefix (`sha256:` and 16 hex digits).
    pub id: String,
    /// "blob", "tree" or "commit".
    pub kind: ObjectKind,
    /// Why it was rejected, naming the object at fault.
    pub reason: String,
}

/// What an apply wrote (the seed's names) and what it rejected.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ApplyReport {
    /// Commits newly written to the store.
    pub commits_written: u64,
    /// Tree objects newly written (a snapshot is a tree of trees; its records are tree records).
    pub snapshots_written: u64,
    /// Blobs newly written.
    pub blobs_written: u64,
    /// Records not written, in pack order.
    pub rejected: Vec<Rejected>,
}

/// A write step of an apply, passed to [`ApplyOptions::hook`] before it happens.
#[derive(Debug, Clone, Copy)]
pub enum WriteStep<'a> {
    /// A received record is about to be copied to the spool.
    Spool(&'a Record),
    /// An accepted object is about to be appended to the new store pack.
    Store(&'a ObjectId),
    /// The new store pack is about to be made durable and visible.
    Publish,
    /// A ref is about to be moved (after the pack is published).
    Ref(&'a str),
}

impl fmt::Display for WriteStep<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteStep::Spool(record) => write!(f, "spool record {} ({})", record.index, record.declared_text()),
            WriteStep::Store(id) => write!(f, "write {id} to the store"),
            WriteStep::Publish => f.write_str("publish the received objects"),
            WriteStep::Ref(name) => write!(f, "move {name}"),
        }
    }
}

/// A callback run before every write step; an error aborts the apply as an I/O error would.
/// Used for progress reporting and, in tests, for fault injection.
pub type WriteHook<'a> = &'a (dyn Fn(&WriteStep<'_>) -> io::Result<()> + Sync);

/// A receiver's own check of each commit, after its bytes and references were verified and
/// before anything is written: `Err(reason)` rejects the commit like any invalid record (with
/// everything that depends on it). A hub checks commit signatures with it (`docs/hub.md`).
pub type CommitCheck<'a> = &'a (dyn Fn(&CommitId, &Commit) -> std::result::Result<(), String> + Sync);

/// Options of [`apply`].
#[derive(Default, Clone, Copy)]
pub struct ApplyOptions<'a> {
    /// Called before each write step.
    pub hook: Option<WriteHook<'a>>,
    /// What one pack may cost this receiver.
    pub limits: ApplyLimits,
    /// Quarantine: if any record is rejected, publish nothing and fail with
    /// [`PackError::Rejected`] listing the rejections (a hub's push), instead of writing every
    /// clean chain (PF-3, a local bundle apply).
    pub all_or_nothing: bool,
    /// Run on every received commit (see [`CommitCheck`]).
    pub commit_check: Option<CommitCheck<'a>>,
}

/// Budgets of one apply: what a pack from a stranger may cost the receiver, beyond the format's
/// own limits (`docs/mpack.md` §Limits, which gives the defaults and why). Per-record budgets
/// reject the record (and everything depending on it); whole-pack budgets stop the apply with
/// [`PackError::BudgetExceeded`] before anything is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApplyLimits {
    /// Most records in the pack (whole pack). Bounds the table of received ids.
    pub max_records: u64,
    /// Most bytes the pack's records may decode to, all together (whole pack; counted from the
    /// declared sizes before decoding, which a record cannot exceed).
    pub max_decoded_bytes: u64,
    /// Largest tree, in decoded bytes (per record).
    pub max_tree_size: u64,
    /// Largest commit, in decoded bytes (per record).
    pub max_commit_size: u64,
    /// Most rejected records (whole pack): a pack this broken is refused rather than reported
    /// record by record.
    pub max_rejected: usize,
    /// Most payload bytes copied to the apply's spool file (whole pack).
    pub max_spool_bytes: u64,
}

impl Default for ApplyLimits {
    fn default() -> Self {
        ApplyLimits {
            max_records: 20_000_000,
            max_decoded_bytes: 64 << 30,
            max_tree_size: 16 << 20,
            max_commit_size: 4 << 20,
            max_rejected: 100_000,
            max_spool_bytes: 16 << 30,
        }
    }
}

/// Reads an mpack from `input` and writes every record whose closure is complete to `store`,
/// in one atomically published pack. Records that fail verification, and everything that
/// depends on them, are reported in [`ApplyReport::rejected`]. A malformed, truncated or
/// checksum-failing pack, a pack over a whole-pack budget ([`ApplyLimits`]), or an I/O error
/// before the new pack is published, writes nothing and returns the error; so does any rejected
/// record under [`ApplyOptions::all_or_nothing`] ([`PackError::Rejected`]).
pub fn apply(store: &ObjectStore, input: impl Read, options: ApplyOptions<'_>) -> Result<ApplyReport> {
    let mut input = Input::open(input)?;
    let mut applier = Applier {
        store,
        hook: options.hook,
        commit_check: options.commit_check,
        spool: Spool::create(store)?,
        slots: HashMap::new(),
        ids: Vec::new(),
        rejected_prefixes: HashSet::new(),
        cache: BaseCache::new(BASE_CACHE_BYTES),
        rejected: Vec::new(),
        shapes: RefCell::new(HashMap::new()),
        limits: options.limits,
        all_or_nothing: options.all_or_nothing,
        decoded_bytes: 0,
        spooled_bytes: 0,
    };
    while let Some(record) = input.next_record()? {
        applier.record(&mut input, record)?;
    }
    input.finish()?;
    applier.publish()
}

/// What is known about one received record.
#[derive(Debug, Clone, Copy)]
struct Slot {
    kind: ObjectKind,
    accepted: bool,
    /// Its decoded size.
    size: u64,
    /// Length of the delta chain within the spool (0 for a whole object; at most 50).
    depth: u8,
    /// Where its entry starts in the spool.
    offset: u64,
    /// For a blob: whether it can be a symlink's target (`muse_core::check_symlink_target`).
    link_ok: bool,
}

/// The outcome of verifying one record: its id, spool offset, delta depth and whether it can be a
/// symlink's target; or the reason it is rejected, with its id when its bytes are what the
/// record declares.
type Verdict = std::result::Result<(ObjectId, u64, u8, bool), (Option<ObjectId>, String)>;

/// A resolved delta base: its bytes, the chain depth the new object would have, and whether the
/// base is in the store rather than the pack (a "thin" delta).
struct Base {
    data: Arc<Vec<u8>>,
    depth: u8,
    thin: bool,
}

/// Runs the hook (if any) before a write step.
pub(crate) fn run_hook(hook: Option<WriteHook<'_>>, step: WriteStep<'_>) -> Result<()> {
    match hook {
        Some(hook) => hook(&step).map_err(|source| PackError::Hook { step: step.to_string(), source }),
        None => Ok(()),
    }
}

/// The state of one apply: what was received, where it is spooled, what was rejected.
struct Applier<'s> {
    store: &'s ObjectStore,
    hook: Option<WriteHook<'s>>,
    commit_check: Option<CommitCheck<'s>>,
    spool: Spool,
    /// Every record whose id is known, by id.
    slots: HashMap<ObjectId, Slot>,
    /// The id of each record by index (for bases named by distance); `None` if not known.
    ids: Vec<Option<ObjectId>>,
    /// Declared id prefixes of records rejected before their id was known, so that a reference
    /// to one of them is reported as "rejected" rather than "missing".
    rejected_prefixes: HashSet<[u8; ID_PREFIX_LEN]>,
    cache: BaseCache,
    rejected: Vec<Rejected>,
    /// The shapes of accepted trees and of the store trees they reference (see `check_tree`).
    shapes: RefCell<HashMap<TreeId, TreeShape>>,
    limits: ApplyLimits,
    /// Publish nothing if anything was rejected (see [`ApplyOptions::all_or_nothing`]).
    all_or_nothing: bool,
    /// Declared decoded sizes of the records so far.
    decoded_bytes: u64,
    /// Payload bytes copied to the spool so far.
    spooled_bytes: u64,
}

impl Applier<'_> {
    fn step(&self, step: WriteStep<'_>) -> Result<()> {
        run_hook(self.hook, step)
    }

    /// Counts `bytes` more against the spool budget.
    fn charge_spool(&mut self, bytes: u64) -> Result<()> {
        self.spooled_bytes = self.spooled_bytes.saturating_add(bytes);
        if self.spooled_bytes > self.limits.max_spool_bytes {
            return Err(PackError::BudgetExceeded { what: "spooled bytes", limit: self.limits.max_spool_bytes });
        }
        Ok(())
    }

    fn record<R: Read>(&mut self, input: &mut Input<R>, record: Record) -> Result<()> {
        if record.index >= self.limits.max_records {
            return Err(PackError::BudgetExceeded { what: "records", limit: self.limits.max_records });
        }
        self.decoded_bytes = self.decoded_bytes.saturating_add(record.size);
        if self.decoded_bytes > self.limits.max_decoded_bytes {
            return Err(PackError::BudgetExceeded { what: "decoded bytes", limit: self.limits.max_decoded_bytes });
        }
        let verdict = self.receive(input, &record)?;
        let id = match verdict {
            Ok((id, offset, depth, link_ok)) => {
                if self.slots.contains_key(&id) {
                    return Err(PackError::Malformed { offset: input.offset(), reason: format!("{id} appears twice") });
                }
                self.slots.insert(id, Slot { kind: record.kind, accepted: true, size: record.size, depth, offset, link_ok });
                Some(id)
            }
            Err((id, reason)) => {
                if self.rejected.len() >= self.limits.max_rejected {
                    return Err(PackError::BudgetExceeded { what: "rejected records", limit: self.limits.max_rejected as u64 });
                }
                let shown = id.map_or_else(|| record.declared_text(), |id| id.to_string());
                self.rejected.push(Rejected { id: shown, kind: record.kind, reason });
                match id {
                    Some(id) => {
                        self.slots.entry(id).or_insert(Slot { kind: record.kind, accepted: false, size: record.size, depth: 0, offset: 0, link_ok: false });
                    }
                    None => {
                        self.rejected_prefixes.insert(record.declared);
                    }
                }
                id
            }
        };
        self.ids.push(id);
        Ok(())
    }

    /// Decodes and verifies one record, spooling it. Fatal errors are returned as `Err`.
    fn receive<R: Read>(&mut self, input: &mut Input<R>, record: &Record) -> Result<Verdict> {
        if let Some(reason) = limits(record, &self.limits) {
            input.skip_payload(record)?;
            return Ok(Err((None, reason)));
        }
        let base_id = match record.base {
            None => None,
            Some(BaseRef::Id(id)) => Some(id),
            Some(BaseRef::Record(index)) => match self.ids.get(index as usize).copied().flatten() {
                Some(id) => Some(id),
                None => {
                    input.skip_payload(record)?;
                    return Ok(Err((None, format!("its delta base, record {index} of the pack, was rejected"))));
                }
            },
        };
        let base = match base_id {
            None => None,
            Some(base_id) => match self.base_for(&base_id, record.kind)? {
                Ok(found) => Some((base_id, found)),
                Err(reason) => {
                    input.skip_payload(record)?;
                    return Ok(Err((None, reason)));
                }
            },
        };
        // Thin deltas and commit deltas are stored whole (see `reencode`); the rest as received.
        let thin = base.as_ref().is_some_and(|(_, b)| b.thin);
        let whole = thin || (record.kind == ObjectKind::Commit && base.is_some());
        let depth = base.as_ref().map_or(0, |(_, b)| b.depth);
        let keep = record.kind != ObjectKind::Blob || record.size <= CACHE_OBJECT_MAX || whole;
        let base_bytes = base.as_ref().map(|(_, b)| b.data.as_slice());
        let (offset, decoded) = if whole {
            (None, input.decode_payload(record, base_bytes, None, keep)?)
        } else {
            self.charge_spool(record.payload_len)?;
            self.step(WriteStep::Spool(record))?;
            let encoding = base.as_ref().map_or(Encoding::Zstd, |(id, _)| Encoding::ZstdDelta(*id));
            let header = EntryHeader { kind: record.kind, encoding, size: record.size, payload_len: record.payload_len };
            let at = self.spool.begin(&header)?;
            (Some(at), input.decode_payload(record, base_bytes, Some(&mut self.spool as &mut dyn Write), keep)?)
        };
        let (hash, bytes) = match decoded {
            Ok(decoded) => decoded,
            Err(reason) => return Ok(Err((None, reason))),
        };
        let id = match self.verify(record, hash, bytes.as_deref())? {
            Ok(id) => id,
            Err(rejection) => return Ok(Err(rejection)),
        };
        let offset = match offset {
            Some(at) => at,
            None => self.reencode(record, bytes.as_deref().unwrap_or_default())?,
        };
        let link_ok = record.kind == ObjectKind::Blob && bytes.as_deref().is_some_and(|b| muse_core::check_symlink_target(b).is_ok());
        if let Some(data) = bytes {
            self.cache.put(id, Arc::new(data));
        }
        Ok(Ok((id, offset, if whole { 0 } else { depth }, link_ok)))
    }

    /// Computes a decoded record's id, checks it against the declaration and, for trees and
    /// commits, checks their references. Returns the id, or the rejection.
    fn verify(&self, record: &Record, hash: ObjectId, bytes: Option<&[u8]>) -> Result<std::result::Result<ObjectId, (Option<ObjectId>, String)>> {
        let bytes = bytes.unwrap_or_default();
        let mismatch = |what: &str, actual: ObjectId| (None, format!("its {what} hash to {actual}, not to the declared {}", record.declared_text()));
        Ok(match record.kind {
            ObjectKind::Blob | ObjectKind::Tree if !record.declares(&hash) => Err(mismatch("bytes", hash)),
            ObjectKind::Blob => Ok(hash),
            ObjectKind::Tree => match Tree::decode(bytes) {
                Ok(tree) => self.check_tree(&hash, &tree)?.map(|()| hash).map_err(|reason| (Some(hash), reason)),
                Err(e) => Err((Some(hash), e.to_string())),
            },
            ObjectKind::Commit => match Commit::decode(bytes) {
                Ok((_, actual)) if !record.declares(&actual.0) => Err(mismatch("fields", actual.0)),
                Ok((commit, actual)) => self
                    .check_commit(&commit)?
                    .and_then(|()| self.commit_check.map_or(Ok(()), |check| check(&actual, &commit)))
                    .map(|()| actual.0)
                    .map_err(|reason| (Some(actual.0), reason)),
                Err(e) => Err((None, e.to_string())),
            },
        })
    }

    /// Spools a verified object whole. Used for deltas against store objects (the store's reader
    /// bounds delta chains, and the base's chain length in the store is not known here) and for
    /// commit deltas (commits are small; stored whole, reading one never decodes a chain).
    fn reencode(&mut self, record: &Record, data: &[u8]) -> Result<u64> {
        let payload = compress(data, None, REENCODE_LEVEL);
        self.charge_spool(payload.len() as u64)?;
        self.step(WriteStep::Spool(record))?;
        let header = EntryHeader { kind: record.kind, encoding: Encoding::Zstd, size: record.size, payload_len: payload.len() as u64 };
        self.spool.put(&header, &payload)
    }

    /// The delta base of a record of kind `kind`, or why the delta cannot be accepted.
    fn base_for(&mut self, base: &ObjectId, kind: ObjectKind) -> Result<std::result::Result<Base, String>> {
        let compatible = |base_kind: ObjectKind| (base_kind == ObjectKind::Commit) == (kind == ObjectKind::Commit);
        let wrong_kind = |base_kind: ObjectKind| {
            format!(
                "its delta base {base} is a {}; a {}'s base must be {}",
                base_kind.as_str(),
                kind.as_str(),
                if kind == ObjectKind::Commit { "a commit" } else { "a blob or a tree" }
            )
        };
        if let Some(slot) = self.slots.get(base).copied() {
            if !slot.accepted {
                return Ok(Err(format!("its delta base {base} was rejected")));
            }
            if !compatible(slot.kind) {
                return Ok(Err(wrong_kind(slot.kind)));
            }
            if u32::from(slot.depth) + 1 > MAX_DELTA_DEPTH {
                return Ok(Err(format!("its delta chain is longer than {MAX_DELTA_DEPTH}")));
            }
            if slot.size > MAX_INLINE_SIZE {
                return Ok(Err(format!("its delta base {base} is larger than {MAX_INLINE_SIZE} bytes")));
            }
            let data = self.spooled_object(base, slot)?;
            return Ok(Ok(Base { data, depth: slot.depth + 1, thin: false }));
        }
        match self.store.kind(base)? {
            None if self.rejected_prefixes.contains(&base.as_bytes()[..ID_PREFIX_LEN]) => Ok(Err(format!("its delta base {base} was rejected"))),
            None => Ok(Err(format!("its delta base {base} is neither earlier in the pack nor in the store"))),
            Some(base_kind) if !compatible(base_kind) => Ok(Err(wrong_kind(base_kind))),
            Some(ObjectKind::Commit) => Ok(Ok(Base { data: Arc::new(self.store.read_commit(&CommitId(*base))?.encode()), depth: 1, thin: true })),
            Some(_) => {
                let mut capped = CappedVec::default();
                match self.store.read_into(base, &mut capped) {
                    Ok(_) => Ok(Ok(Base { data: Arc::new(capped.data), depth: 1, thin: true })),
                    Err(StoreError::Io { op: "write", .. }) if capped.full => Ok(Err(format!("its delta base {base} is larger than {MAX_INLINE_SIZE} bytes"))),
                    Err(e) => Err(e.into()),
                }
            }
        }
    }

    /// The bytes of an accepted record (at most `MAX_INLINE_SIZE`, as are its chain's), from the
    /// cache or decoded again from the spool.
    fn spooled_object(&mut self, id: &ObjectId, slot: Slot) -> Result<Arc<Vec<u8>>> {
        if let Some(data) = self.cache.get(id) {
            return Ok(data);
        }
        // The base first, then this payload: nothing large is held while the chain below decodes.
        let (header, payload_at) = self.spool.header_at(slot.offset)?;
        let base = match header.encoding {
            Encoding::Zstd => None,
            Encoding::ZstdDelta(base) => {
                let base_slot = self.slots.get(&base).copied().ok_or_else(|| spool_damaged(id))?;
                Some(self.spooled_object(&base, base_slot)?)
            }
        };
        let payload = self.spool.payload_at(payload_at, header.payload_len)?;
        let data = decompress(&payload, header.size, base.as_deref().map(Vec::as_slice)).map_err(|_| spool_damaged(id))?;
        if header.kind.id_of(&data) != Some(*id) {
            return Err(spool_damaged(id));
        }
        let data = Arc::new(data);
        self.cache.put(*id, Arc::clone(&data));
        Ok(data)
    }

    /// Copies the accepted records from the spool into one new store pack and publishes it.
    fn publish(mut self) -> Result<ApplyReport> {
        if self.all_or_nothing && !self.rejected.is_empty() {
            return Err(PackError::Rejected(std::mem::take(&mut self.rejected)));
        }
        let mut report = ApplyReport { rejected: std::mem::take(&mut self.rejected), ..ApplyReport::default() };
        // Only the table of accepted records is needed from here on.
        self.ids = Vec::new();
        self.rejected_prefixes = HashSet::new();
        self.cache = BaseCache::new(0);
        let mut accepted: Vec<(u64, ObjectId, ObjectKind)> =
            std::mem::take(&mut self.slots).into_iter().filter(|(_, slot)| slot.accepted).map(|(id, slot)| (slot.offset, id, slot.kind)).collect();
        accepted.sort_unstable();
        let mut writer = self.store.begin_write()?;
        let mut entries = self.spool.entries()?;
        for (offset, id, kind) in accepted {
            // An id the store holds under another kind is an error, never "already present".
            if self.store.contains_kind(&id, kind)? {
                continue;
            }
            run_hook(self.hook, WriteStep::Store(&id))?;
            let (header, mut payload) = entries.open(offset)?;
            writer.add_raw_from_reader(header.kind, id, header.encoding, header.size, header.payload_len, &mut payload)?;
            match header.kind {
                ObjectKind::Blob => report.blobs_written += 1,
                ObjectKind::Tree => report.snapshots_written += 1,
                ObjectKind::Commit => report.commits_written += 1,
            }
        }
        self.step(WriteStep::Publish)?;
        writer.finish()?;
        Ok(report)
    }
}

/// Size limits a record must meet before it is decoded (see `docs/mpack.md` §Limits): the
/// format's, then this receiver's budgets for trees and commits.
fn limits(record: &Record, budgets: &ApplyLimits) -> Option<String> {
    let kind = record.kind.as_str();
    let inline = record.kind != ObjectKind::Blob || record.base.is_some();
    if inline && record.size > MAX_INLINE_SIZE {
        return Some(format!("a {kind} of {} bytes exceeds the {MAX_INLINE_SIZE}-byte limit for trees, commits and deltas", record.size));
    }
    let budget = match record.kind {
        ObjectKind::Tree => budgets.max_tree_size,
        ObjectKind::Commit => budgets.max_commit_size,
        ObjectKind::Blob => u64::MAX,
    };
    if record.size > budget {
        return Some(format!("a {kind} of {} bytes exceeds this receiver's limit of {budget} bytes for a {kind}", record.size));
    }
    let bound = usize::try_from(record.size).map_or(u64::MAX, |size| zstd::zstd_safe::compress_bound(size) as u64).saturating_add(4096);
    if record.payload_len > bound {
        return Some(format!("its payload of {} bytes is larger than any zstd frame of {} bytes", record.payload_len, record.size));
    }
    None
}

fn spool_damaged(id: &ObjectId) -> PackError {
    PackError::io("read", format!("the spooled copy of {id}"), io::Error::new(io::ErrorKind::InvalidData, "damaged apply spool"))
}

/// A writer that collects at most `limit` bytes ([`MAX_INLINE_SIZE`] by default) and fails
/// after that.
struct CappedVec {
    data: Vec<u8>,
    full: bool,
    limit: u64,
}

impl Default for CappedVec {
    fn default() -> Self {
        CappedVec::with_limit(MAX_INLINE_SIZE)
    }
}

impl CappedVec {
    fn with_limit(limit: u64) -> Self {
        CappedVec { data: Vec::new(), full: false, limit }
    }
}

impl Write for CappedVec {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.data.len() as u64 + buf.len() as u64 > self.limit {
            self.full = true;
            return Err(io::Error::other("delta base too large"));
        }
        self.data.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
