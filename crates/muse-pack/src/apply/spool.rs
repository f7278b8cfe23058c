//! The apply spool: a scratch file in the store's `objects/tmp/` holding each received record in
//! store-ready form (encoded payload kept as it arrived, deltas kept as deltas), so that after
//! the whole pack is verified the accepted subset can be copied into one store pack, and so that
//! delta bases received earlier can be decoded again without holding them in memory.
//!
//! Entry layout (private to this process): `u8:kind u8:encoding [base[32]] u64:size
//! u64:payload_len payload`. The entry's id is kept by the caller, with its offset.

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use muse_core::ObjectId;
use muse_store::odb::Encoding;
use muse_store::{ObjectKind, ObjectStore};

use crate::error::{PackError, Result};

/// The fixed part of a spool entry.
#[derive(Debug, Clone, Copy)]
pub struct EntryHeader {
    /// The object's kind.
    pub kind: ObjectKind,
    /// How its payload is encoded.
    pub encoding: Encoding,
    /// Its decoded size.
    pub size: u64,
    /// The payload's length.
    pub payload_len: u64,
}

impl EntryHeader {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(2 + 32 + 16);
        out.push(self.kind as u8);
        match self.encoding {
            Encoding::Zstd => out.push(0),
            Encoding::ZstdDelta(base) => {
                out.push(1);
                out.extend_from_slice(base.as_bytes());
            }
        }
        out.extend_from_slice(&self.size.to_be_bytes());
        out.extend_from_slice(&self.payload_len.to_be_bytes());
        out
    }

    fn decode(read: &mut dyn Read) -> io::Result<EntryHeader> {
        let bad = || io::Error::new(io::ErrorKind::InvalidData, "damaged spool entry");
        let mut fixed = [0u8; 2];
        read.read_exact(&mut fixed)?;
        let kind = ObjectKind::from_code(fixed[0]).ok_or_else(bad)?;
        let encoding = match fixed[1] {
            0 => Encoding::Zstd,
            1 => {
                let mut base = [0u8; 32];
                read.read_exact(&mut base)?;
                Encoding::ZstdDelta(ObjectId::from_bytes(base))
            }
            _ => return Err(bad()),
        };
        let mut sizes = [0u8; 16];
        read.read_exact(&mut sizes)?;
        let (size, payload_len) = sizes.split_at(8);
        let size = u64::from_be_bytes(size.try_into().map_err(|_| bad())?);
        let payload_len = u64::from_be_bytes(payload_len.try_into().map_err(|_| bad())?);
        Ok(EntryHeader { kind, encoding, size, payload_len })
    }
}

/// The spool file of one apply; removed when dropped.
pub struct Spool {
    path: PathBuf,
    out: BufWriter<File>,
    offset: u64,
}

impl Spool {
    /// Creates an empty spool in the store's temporary directory, locked for as long as it lives
    /// so that `gc` leaves it alone (see [`ObjectStore::create_temp_file`]).
    pub fn create(store: &ObjectStore) -> Result<Spool> {
        let (path, file) = store.create_temp_file("spool")?;
        Ok(Spool { path, out: BufWriter::with_capacity(1 << 20, file), offset: 0 })
    }

    fn err(&self, op: &'static str, e: io::Error) -> PackError {
        PackError::io(op, self.path.display(), e)
    }

    /// Starts an entry; its payload is then written through [`Write`]. Returns its offset.
    pub fn begin(&mut self, header: &EntryHeader) -> Result<u64> {
        let at = self.offset;
        let bytes = header.encode();
        self.write_all(&bytes).map_err(|e| self.err("write", e))?;
        Ok(at)
    }

    /// Writes a whole entry; returns its offset.
    pub fn put(&mut self, header: &EntryHeader, payload: &[u8]) -> Result<u64> {
        let at = self.begin(header)?;
        self.write_all(payload).map_err(|e| self.err("write", e))?;
        Ok(at)
    }

    /// Reads back the header of the entry at `offset`; returns it and where its payload starts.
    pub fn header_at(&mut self, offset: u64) -> Result<(EntryHeader, u64)> {
        self.out.flush().map_err(|e| self.err("write", e))?;
        let mut reader = PositionalReader { file: self.out.get_ref(), offset };
        let header = EntryHeader::decode(&mut reader).map_err(|e| self.err("read", e))?;
        Ok((header, reader.offset))
    }

    /// Reads `len` payload bytes at `offset` (only used for delta bases, whose size the caller
    /// has checked against `MAX_INLINE_SIZE`).
    pub fn payload_at(&mut self, offset: u64, len: u64) -> Result<Vec<u8>> {
        let len = usize::try_from(len).map_err(|_| self.err("read", io::ErrorKind::InvalidData.into()))?;
        let mut payload = vec![0u8; len];
        self.out.get_ref().read_exact_at(&mut payload, offset).map_err(|e| self.err("read", e))?;
        Ok(payload)
    }

    /// A reader for visiting entries in ascending offset order (for publishing).
    pub fn entries(&mut self) -> Result<SpoolEntries> {
        self.out.flush().map_err(|e| self.err("write", e))?;
        let file = File::open(&self.path).map_err(|e| self.err("open", e))?;
        Ok(SpoolEntries { reader: BufReader::with_capacity(1 << 20, file), path: self.path.clone() })
    }
}

/// Buffered sequential access to a spool's entries, skipping forward between them.
pub struct SpoolEntries {
    reader: BufReader<File>,
    path: PathBuf,
}

impl SpoolEntries {
    /// The header of the entry at `offset` and a reader over its payload. Offsets must come in
    /// ascending order (the buffer is kept when moving forward a little).
    pub fn open(&mut self, offset: u64) -> Result<(EntryHeader, impl Read + '_)> {
        let err = |e: io::Error| PackError::io("read", self.path.display(), e);
        let here = self.reader.stream_position().map_err(err)?;
        let skip = i64::try_from(i128::from(offset) - i128::from(here)).map_err(|_| err(io::ErrorKind::InvalidInput.into()))?;
        self.reader.seek_relative(skip).map_err(err)?;
        let header = EntryHeader::decode(&mut self.reader).map_err(err)?;
        Ok((header, (&mut self.reader).take(header.payload_len)))
    }
}

impl Write for Spool {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        self.offset += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

struct PositionalReader<'a> {
    file: &'a File,
    offset: u64,
}

impl Read for PositionalReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read_at(buf, self.offset)?;
        self.offset += n as u64;
        Ok(n)
    }
}
