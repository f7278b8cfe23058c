//! Raw entry access for transfer packs and repacking (used by `muse-pack`): reading an entry as
//! stored, streaming an already-encoded payload into a new pack, and removing packs whose
//! objects were rewritten.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use muse_core::ObjectId;

use super::pack::{Base, EntryHeader, Pack, ZSTD_MAGIC};
use super::{Encoding, ObjectKind, ObjectStore, PackWriter};
use crate::error::{IoContext, Result, StoreError};
use crate::fsutil::sync_dir;

impl PackWriter<'_> {
    /// Like [`PackWriter::add_raw`], but streams the `payload_len` payload bytes (one standard
    /// zstd frame) from `payload` instead of taking them in memory, so entries of any size are
    /// copied with bounded memory. The caller vouches for the payload as for `add_raw`. An entry
    /// for an id already added to this pack is skipped (its payload is left unread); one added
    /// under another kind is an error.
    pub fn add_raw_from_reader(
        &mut self,
        kind: ObjectKind,
        id: ObjectId,
        encoding: Encoding,
        size: u64,
        payload_len: u64,
        payload: &mut dyn Read,
    ) -> Result<()> {
        if let Some((held, _)) = self.written.get(&id) {
            return super::same_kind(&id, kind, *held);
        }
        let mut magic = [0u8; 4];
        if payload_len < 4 {
            return Err(super::not_a_frame(id));
        }
        payload.read_exact(&mut magic).map_err(|e| payload_error(id, e))?;
        if magic != ZSTD_MAGIC {
            return Err(super::not_a_frame(id));
        }
        let payload_len = payload_len - 4;
        self.begin_entry(kind, id, encoding, size, payload_len)?;
        let mut buf = vec![0u8; (1 << 20).min(payload_len.max(1) as usize)];
        let mut remaining = payload_len;
        while remaining > 0 {
            let want = buf.len().min(usize::try_from(remaining).unwrap_or(usize::MAX));
            let n = match payload.read(&mut buf[..want]) {
                Ok(0) => return Err(payload_error(id, io::ErrorKind::UnexpectedEof.into())),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(payload_error(id, e)),
            };
            self.write_bytes(&buf[..n])?;
            remaining -= n as u64;
        }
        Ok(())
    }
}

fn payload_error(id: ObjectId, source: io::Error) -> StoreError {
    StoreError::Io { op: "read the payload of", path: PathBuf::from(id.to_string()), source }
}

/// One stored entry as encoded: not decompressed, not verified.
#[derive(Debug, Clone)]
pub struct RawEntry {
    /// What the object is.
    pub kind: ObjectKind,
    /// How the payload encodes it (with the delta base, if any).
    pub encoding: Encoding,
    /// The object's decoded size.
    pub size: u64,
    /// The encoded payload: one standard zstd frame.
    pub payload: Vec<u8>,
}

/// A stored entry's header: what [`ObjectStore::read_raw`] returns, without the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawInfo {
    /// What the object is.
    pub kind: ObjectKind,
    /// How the payload encodes it (with the delta base, if any).
    pub encoding: Encoding,
    /// The object's decoded size.
    pub size: u64,
    /// The payload's length as a standard zstd frame (the stored bytes and the 4-byte magic).
    pub frame_len: u64,
}

impl ObjectStore {
    /// The header of the entry of `id` as stored (`None` if the store does not hold it),
    /// without reading its payload: for deciding whether the entry can be copied as it is.
    pub fn raw_info(&self, id: &ObjectId) -> Result<Option<RawInfo>> {
        let Some((pack, offset)) = self.locate(id)? else { return Ok(None) };
        let header = pack.header_at(offset)?;
        let encoding = pack.encoding_of(offset, &header)?;
        Ok(Some(RawInfo { kind: header.kind, encoding, size: header.size, frame_len: header.payload_len + ZSTD_MAGIC.len() as u64 }))
    }

    /// The entry of `id` as stored, for callers that decode delta chains themselves with a cache
    /// (reading many versions of one file through [`ObjectStore::read`] decodes each chain from
    /// its root every time). The caller must verify what it decodes.
    pub fn read_raw(&self, id: &ObjectId) -> Result<RawEntry> {
        let (pack, offset) = self.locate(id)?.ok_or(StoreError::ObjectNotFound(*id))?;
        pack.raw_entry(offset)
    }

    /// Removes the given packs (each `.pack` path as listed by [`ObjectStore::packs`]): index
    /// first, so readers stop finding its objects before its data goes, then the pack, then the
    /// directory is fsynced. The caller guarantees every object they hold is durable elsewhere
    /// (e.g. in a pack it just finished). A pack already gone is not an error.
    pub fn remove_packs(&self, packs: &[PathBuf]) -> Result<()> {
        for pack in packs {
            if pack.parent() != Some(self.packs_dir.as_path()) || pack.extension().is_none_or(|e| e != "pack") {
                return Err(StoreError::InvalidPath { path: pack.clone(), reason: "not a pack of this store".into() });
            }
            remove_if_present(&pack.with_extension("idx"))?;
            remove_if_present(pack)?;
        }
        sync_dir(&self.packs_dir).ctx("fsync", &self.packs_dir)?;
        self.rescan()
    }
}

impl Pack {
    /// The entry at `offset` as stored, its delta base (if any) named by id.
    pub(crate) fn raw_entry(&self, offset: u64) -> Result<RawEntry> {
        let header = self.header_at(offset)?;
        let encoding = self.encoding_of(offset, &header)?;
        let payload = self.read_payload(&header)?;
        Ok(RawEntry { kind: header.kind, encoding, size: header.size, payload })
    }

    /// How the entry at `offset` (whose header is `header`) is encoded, its base named by id.
    fn encoding_of(&self, offset: u64, header: &EntryHeader) -> Result<Encoding> {
        Ok(match header.base {
            Base::None => Encoding::Zstd,
            Base::Id(base) => Encoding::ZstdDelta(base),
            Base::Offset(base_offset) => Encoding::ZstdDelta(self.id_at_offset(base_offset).ok_or_else(|| StoreError::CorruptPack {
                path: self.pack_path.clone(),
                reason: format!("entry at offset {offset}: its delta base offset {base_offset} is not an entry"),
            })?),
        })
    }
}

fn remove_if_present(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(StoreError::Io { op: "remove", path: path.to_path_buf(), source: e }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streamed_raw_entries_read_back_and_removed_packs_vanish() {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectStore::create(dir.path()).unwrap();
        let data = vec![42u8; 3 << 20];
        let payload = super::super::compress(&data);
        let id = muse_core::blob_id(&data);
        let mut writer = store.begin_write().unwrap();
        writer.add_raw_from_reader(ObjectKind::Blob, id, Encoding::Zstd, data.len() as u64, payload.len() as u64, &mut &payload[..]).unwrap();
        let first = writer.finish().unwrap().unwrap();
        assert_eq!(store.read(&id).unwrap().data, data);
        let raw = store.read_raw(&id).unwrap();
        let info = store.raw_info(&id).unwrap().unwrap();
        assert_eq!((info.kind, info.encoding, info.size, info.frame_len), (ObjectKind::Blob, Encoding::Zstd, data.len() as u64, payload.len() as u64));
        assert_eq!((raw.kind, raw.encoding, raw.size, raw.payload), (ObjectKind::Blob, Encoding::Zstd, data.len() as u64, payload));
        assert_eq!(store.raw_info(&ObjectId::sha256(b"absent")).unwrap(), None);
        let mut short = store.begin_write().unwrap();
        let other = ObjectId::sha256(b"other");
        assert!(short.add_raw_from_reader(ObjectKind::Blob, other, Encoding::Zstd, 5, 10, &mut &[0u8; 3][..]).is_err());
        drop(short);
        store.remove_packs(&[first]).unwrap();
        assert!(!store.contains(&id).unwrap());
        assert!(store.remove_packs(&[dir.path().join("elsewhere.pack")]).is_err());
    }
}
