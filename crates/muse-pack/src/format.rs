//! The mpack byte layout, as specified in `docs/mpack.md`: constants, record headers, and a
//! streaming writer. Integers are big-endian; every object record is self-delimiting.
//!
//! ```text
//! mpack   := header record* end trailer
//! header  := "\x89MPACK\r\n" u32:version=1 u32:flags=0
//! record  := u8:1 u8:kind u8:encoding id[32] [base[32] if encoding=1] u64:size u64:payload_len payload
//! end     := u8:0 u64:record_count
//! trailer := sha256(every byte of header, records and end)
//! ```

use std::io::{self, Write};

use muse_core::{Hasher, ObjectId};
use muse_store::odb::Encoding;
use muse_store::ObjectKind;

/// The first eight bytes of every mpack.
pub const MAGIC: [u8; 8] = *b"\x89MPACK\r\n";
/// The format version this crate writes and reads.
pub const VERSION: u32 = 1;
/// Bytes of the pack header: magic, version, flags.
pub const HEADER_LEN: u64 = 16;
/// Record type byte of the end record.
pub const RECORD_END: u8 = 0;
/// Record type byte of an object record.
pub const RECORD_OBJECT: u8 = 1;
/// Encoding byte: the payload is one zstd frame of the object.
pub const ENCODING_ZSTD: u8 = 0;
/// Encoding byte: one zstd frame compressed with the base object's bytes as a raw prefix.
pub const ENCODING_ZSTD_DELTA: u8 = 1;
/// Largest tree, commit, delta target or delta base a reader must accept (they are decoded in
/// memory); full blobs have no size limit (they are streamed).
pub const MAX_INLINE_SIZE: u64 = 64 << 20;
/// Longest chain of deltas (a delta whose base is a delta whose base is …) a reader must accept.
pub const MAX_DELTA_DEPTH: u32 = 50;

/// The fixed fields of one object record, everything but the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    /// What the object is.
    pub kind: ObjectKind,
    /// How the payload encodes it (with the delta base's id, if any).
    pub encoding: Encoding,
    /// The declared id: SHA-256 of the object's bytes (of the unsigned part, for a commit).
    pub id: ObjectId,
    /// The object's length once decoded.
    pub size: u64,
    /// The payload's length in the pack.
    pub payload_len: u64,
}

impl RecordHeader {
    /// The record's bytes up to (not including) the payload.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(3 + 64 + 16);
        out.push(RECORD_OBJECT);
        out.push(self.kind as u8);
        match self.encoding {
            Encoding::Zstd => {
                out.push(ENCODING_ZSTD);
                out.extend_from_slice(self.id.as_bytes());
            }
            Encoding::ZstdDelta(base) => {
                out.push(ENCODING_ZSTD_DELTA);
                out.extend_from_slice(self.id.as_bytes());
                out.extend_from_slice(base.as_bytes());
            }
        }
        out.extend_from_slice(&self.size.to_be_bytes());
        out.extend_from_slice(&self.payload_len.to_be_bytes());
        out
    }
}

/// Writes an mpack to any byte sink, computing the trailer as it goes. Records must be given in
/// the order the format requires (blobs, then trees, then commits; bases before their deltas).
pub struct MpackWriter<W: Write> {
    out: W,
    hasher: Hasher,
    records: u64,
    last_kind: u8,
}

impl<W: Write> MpackWriter<W> {
    /// Writes the pack header.
    pub fn new(out: W) -> io::Result<Self> {
        let mut writer = MpackWriter { out, hasher: Hasher::new(), records: 0, last_kind: 0 };
        let mut header = MAGIC.to_vec();
        header.extend_from_slice(&VERSION.to_be_bytes());
        header.extend_from_slice(&0u32.to_be_bytes());
        writer.put(&header)?;
        Ok(writer)
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.hasher.update(bytes);
        Ok(())
    }

    /// Appends one object record. Fails if `payload` is not `header.payload_len` bytes long or
    /// if the record's kind comes before the previous record's.
    pub fn write_object(&mut self, header: &RecordHeader, payload: &[u8]) -> io::Result<()> {
        if payload.len() as u64 != header.payload_len {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "payload length differs from the record header"));
        }
        if (header.kind as u8) < self.last_kind {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "mpack records must be blobs, then trees, then commits"));
        }
        self.last_kind = header.kind as u8;
        self.put(&header.encode())?;
        self.put(payload)?;
        self.records += 1;
        Ok(())
    }

    /// The number of object records written so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Writes the end record and the trailer, flushes, and returns the sink.
    pub fn finish(mut self) -> io::Result<W> {
        let mut end = vec![RECORD_END];
        end.extend_from_slice(&self.records.to_be_bytes());
        self.put(&end)?;
        let checksum = std::mem::take(&mut self.hasher).finish();
        self.out.write_all(checksum.as_bytes())?;
        self.out.flush()?;
        Ok(self.out)
    }
}
