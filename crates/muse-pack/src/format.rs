//! The mpack byte layout, as specified in `docs/mpack.md`: constants, record headers, varints,
//! and a streaming writer. Fixed-width integers are big-endian; varints are LEB128.
//!
//! ```text
//! mpack   := header record* end trailer
//! header  := "\x89MPACK\r\n" u32:version=2 u32:flags=0
//! record  := u8:tag id8[8] [base] varint:size varint:payload_len payload
//! tag     := kind (low nibble: 1 blob, 2 tree, 3 commit) | encoding << 4 (0 zstd,
//!            1 delta against the base named by its full id[32], 2 delta against the record
//!            varint:distance back)
//! end     := u8:0 u64:record_count
//! trailer := sha256(every byte of header, records and end)
//! ```

use std::collections::HashMap;
use std::io::{self, Write};

use muse_core::{Hasher, ObjectId};
use muse_store::odb::Encoding;
use muse_store::ObjectKind;

/// The first eight bytes of every mpack.
pub const MAGIC: [u8; 8] = *b"\x89MPACK\r\n";
/// The format version this crate writes and reads. Version 2 is the first with the kind rule
/// (blob ids hash the blob magic first, `docs/formats.md` §1); version 1 packs are refused.
pub const VERSION: u32 = 2;
/// Tag byte of the end record.
pub const TAG_END: u8 = 0;
/// Encoding nibble: the payload is one zstd frame of the object.
pub const ENCODING_ZSTD: u8 = 0;
/// Encoding nibble: a delta whose base is named by its id.
pub const ENCODING_DELTA_ID: u8 = 1;
/// Encoding nibble: a delta whose base is an earlier record, named by its distance back.
pub const ENCODING_DELTA_BACK: u8 = 2;
/// Largest tree, commit, delta target or delta base a reader must accept (they are decoded in
/// memory); full blobs have no size limit (they are streamed).
pub const MAX_INLINE_SIZE: u64 = 64 << 20;
/// Longest chain of deltas (a delta whose base is a delta whose base is …) a reader must accept.
pub const MAX_DELTA_DEPTH: u32 = 50;
/// Bytes of a record's declared id: the first bytes of the object's SHA-256. The receiver always
/// computes the full id itself; the declaration only attributes a mismatch to the record.
pub const ID_PREFIX_LEN: usize = 8;
/// The most bytes a varint may take (enough for any u64).
pub const MAX_VARINT_LEN: usize = 10;

/// The fixed fields of one object record, everything but the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    /// What the object is.
    pub kind: ObjectKind,
    /// How the payload encodes it (with the delta base's id, if any).
    pub encoding: Encoding,
    /// The object's id: SHA-256 of its bytes (of the unsigned part, for a commit). The record
    /// declares its first [`ID_PREFIX_LEN`] bytes.
    pub id: ObjectId,
    /// The object's length once decoded.
    pub size: u64,
    /// The payload's length in the pack.
    pub payload_len: u64,
}

impl RecordHeader {
    /// The record's bytes up to (not including) the payload. A delta base that is the record
    /// `back` records earlier in the same pack is written as that distance, otherwise by id.
    pub fn encode(&self, back: Option<u64>) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + ID_PREFIX_LEN + 32 + 3 * MAX_VARINT_LEN);
        let kind = self.kind as u8;
        let declared = &self.id.as_bytes()[..ID_PREFIX_LEN];
        match (self.encoding, back) {
            (Encoding::Zstd, _) => {
                out.push(kind | ENCODING_ZSTD << 4);
                out.extend_from_slice(declared);
            }
            (Encoding::ZstdDelta(base), None) => {
                out.push(kind | ENCODING_DELTA_ID << 4);
                out.extend_from_slice(declared);
                out.extend_from_slice(base.as_bytes());
            }
            (Encoding::ZstdDelta(_), Some(distance)) => {
                out.push(kind | ENCODING_DELTA_BACK << 4);
                out.extend_from_slice(declared);
                put_varint(&mut out, distance);
            }
        }
        put_varint(&mut out, self.size);
        put_varint(&mut out, self.payload_len);
        out
    }
}

/// Appends `value` as an unsigned LEB128 varint (7 bits per byte, least significant first, high
/// bit set on every byte but the last; minimal length).
pub fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Writes an mpack to any byte sink, computing the trailer as it goes. Records must be given in
/// the order the format requires (blobs, then trees, then commits; bases before their deltas).
pub struct MpackWriter<W: Write> {
    out: W,
    hasher: Hasher,
    records: u64,
    last_kind: u8,
    /// Record number of every object written, to name delta bases by distance.
    index: HashMap<ObjectId, u64>,
}

impl<W: Write> MpackWriter<W> {
    /// Writes the pack header.
    pub fn new(out: W) -> io::Result<Self> {
        let mut writer = MpackWriter { out, hasher: Hasher::new(), records: 0, last_kind: 0, index: HashMap::new() };
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
        let back = match header.encoding {
            Encoding::ZstdDelta(base) => self.index.get(&base).map(|at| self.records - at),
            Encoding::Zstd => None,
        };
        self.put(&header.encode(back))?;
        self.put(payload)?;
        self.index.insert(header.id, self.records);
        self.records += 1;
        Ok(())
    }

    /// The number of object records written so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Writes the end record and the trailer, flushes, and returns the sink.
    pub fn finish(mut self) -> io::Result<W> {
        let mut end = vec![TAG_END];
        end.extend_from_slice(&self.records.to_be_bytes());
        self.put(&end)?;
        let checksum = std::mem::take(&mut self.hasher).finish();
        self.out.write_all(checksum.as_bytes())?;
        self.out.flush()?;
        Ok(self.out)
    }
}
