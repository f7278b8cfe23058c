//! Reading an mpack as a stream: the framing (header, record headers, end record, trailer) and
//! the decoding of one payload with bounded memory. Nothing here trusts a length field for an
//! allocation: payloads are streamed, and only objects known to be at most
//! [`MAX_INLINE_SIZE`] bytes are collected in memory.

use std::cell::RefCell;
use std::io::{self, BufReader, Read, Write};

use zstd::zstd_safe;

use muse_core::{BlobHasher, Hasher, ObjectId};
use muse_store::ObjectKind;

use crate::error::{PackError, Result};
use crate::format::{ENCODING_DELTA_BACK, ENCODING_DELTA_ID, ENCODING_ZSTD, ID_PREFIX_LEN, MAGIC, MAX_INLINE_SIZE, MAX_VARINT_LEN, TAG_END, VERSION};

/// How a delta record names its base.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaseRef {
    /// By full id: an earlier record or an object the receiver has.
    Id(ObjectId),
    /// By the index (from 0) of an earlier record of the pack.
    Record(u64),
}

/// One object record's header, as read (the id is only declared, by its first bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    /// The record's index in the pack, from 0.
    pub index: u64,
    /// What the object is.
    pub kind: ObjectKind,
    /// The first [`ID_PREFIX_LEN`] bytes of the object's id, as the sender declares them.
    pub declared: [u8; ID_PREFIX_LEN],
    /// The delta base, for a delta.
    pub base: Option<BaseRef>,
    /// The object's length once decoded.
    pub size: u64,
    /// The payload's length in the pack.
    pub payload_len: u64,
}

impl Record {
    /// The declared id prefix as `sha256:<16 hex digits>` (a valid id prefix for `muse show`).
    pub fn declared_text(&self) -> String {
        let hex: String = self.declared.iter().map(|b| format!("{b:02x}")).collect();
        format!("sha256:{hex}")
    }

    /// Whether `id` is what the record declares.
    pub fn declares(&self, id: &ObjectId) -> bool {
        id.as_bytes()[..ID_PREFIX_LEN] == self.declared
    }
}

/// An mpack being read: counts and hashes every byte before the trailer.
pub struct Input<R> {
    inner: R,
    hasher: Hasher,
    offset: u64,
    records: u64,
    last_kind: u8,
}

impl<R: Read> Input<R> {
    /// Reads and checks the pack header.
    pub fn open(inner: R) -> Result<Self> {
        let mut input = Input { inner, hasher: Hasher::new(), offset: 0, records: 0, last_kind: 0 };
        let mut magic = [0u8; 8];
        match input.read_exact(&mut magic, || "the header".into()) {
            Err(PackError::Truncated { .. }) => return Err(PackError::NotAPack),
            other => other?,
        }
        if magic != MAGIC {
            return Err(PackError::NotAPack);
        }
        let version = input.read_u32(|| "the header".into())?;
        if version != VERSION {
            return Err(PackError::UnsupportedVersion(version));
        }
        let flags = input.read_u32(|| "the header".into())?;
        if flags != 0 {
            return Err(input.malformed(4, format!("unknown header flags {flags:#x} (must be 0)")));
        }
        Ok(input)
    }

    /// Bytes read so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    fn malformed(&self, back: u64, reason: String) -> PackError {
        PackError::Malformed { offset: self.offset.saturating_sub(back), reason }
    }

    /// Reads up to `buf.len()` bytes of the pack body; 0 only at the end of the stream.
    fn read_some(&mut self, buf: &mut [u8]) -> Result<usize> {
        loop {
            match self.inner.read(buf) {
                Ok(n) => {
                    self.hasher.update(&buf[..n]);
                    self.offset += n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(PackError::io("read", "the mpack stream", e)),
            }
        }
    }

    fn read_exact(&mut self, mut buf: &mut [u8], inside: impl Fn() -> String) -> Result<()> {
        while !buf.is_empty() {
            let n = self.read_some(buf)?;
            if n == 0 {
                return Err(PackError::Truncated { offset: self.offset, inside: inside() });
            }
            buf = &mut buf[n..];
        }
        Ok(())
    }

    fn read_u8(&mut self, inside: impl Fn() -> String) -> Result<u8> {
        let mut b = [0u8; 1];
        self.read_exact(&mut b, inside)?;
        Ok(b[0])
    }

    fn read_u32(&mut self, inside: impl Fn() -> String) -> Result<u32> {
        let mut b = [0u8; 4];
        self.read_exact(&mut b, inside)?;
        Ok(u32::from_be_bytes(b))
    }

    fn read_u64(&mut self, inside: impl Fn() -> String) -> Result<u64> {
        let mut b = [0u8; 8];
        self.read_exact(&mut b, inside)?;
        Ok(u64::from_be_bytes(b))
    }

    fn read_id(&mut self, inside: impl Fn() -> String) -> Result<ObjectId> {
        let mut b = [0u8; 32];
        self.read_exact(&mut b, inside)?;
        Ok(ObjectId::from_bytes(b))
    }

    /// Reads an unsigned LEB128 varint of at most [`MAX_VARINT_LEN`] bytes, in minimal form.
    fn read_varint(&mut self, inside: impl Fn() -> String) -> Result<u64> {
        let mut value = 0u64;
        for i in 0..MAX_VARINT_LEN {
            let byte = self.read_u8(&inside)?;
            let bits = u64::from(byte & 0x7f);
            if i == MAX_VARINT_LEN - 1 && byte > 1 {
                return Err(self.malformed(1, "a varint overflows 64 bits".into()));
            }
            value |= bits << (7 * i);
            if byte & 0x80 == 0 {
                if byte == 0 && i > 0 {
                    return Err(self.malformed(1, "a varint is not in its shortest form".into()));
                }
                return Ok(value);
            }
        }
        Err(self.malformed(0, "a varint is longer than 10 bytes".into()))
    }

    /// The next object record's header, or `None` once the end record has been read (its record
    /// count checked). Rejects unknown tags, kinds out of order and bad back-references.
    pub fn next_record(&mut self) -> Result<Option<Record>> {
        let at = || "a record header".to_string();
        let tag = self.read_u8(at)?;
        if tag == TAG_END {
            let count = self.read_u64(at)?;
            if count != self.records {
                return Err(self.malformed(8, format!("the end record counts {count} records, the pack holds {}", self.records)));
            }
            return Ok(None);
        }
        let code = tag & 0x0f;
        let kind = ObjectKind::from_code(code).ok_or_else(|| self.malformed(1, format!("unknown record tag {tag:#04x}")))?;
        if code < self.last_kind {
            return Err(self.malformed(1, format!("a {} record after a {} record (order is blobs, trees, commits)", kind.as_str(), kind_name(self.last_kind))));
        }
        self.last_kind = code;
        let mut declared = [0u8; ID_PREFIX_LEN];
        self.read_exact(&mut declared, at)?;
        let base = match tag >> 4 {
            ENCODING_ZSTD => None,
            ENCODING_DELTA_ID => Some(BaseRef::Id(self.read_id(at)?)),
            ENCODING_DELTA_BACK => {
                let distance = self.read_varint(at)?;
                let index = Some(distance).filter(|d| *d >= 1).and_then(|d| self.records.checked_sub(d));
                Some(BaseRef::Record(index.ok_or_else(|| self.malformed(1, format!("a delta base {distance} records back, outside the pack")))?))
            }
            _ => return Err(self.malformed(1 + ID_PREFIX_LEN as u64, format!("unknown record tag {tag:#04x}"))),
        };
        let size = self.read_varint(at)?;
        let payload_len = self.read_varint(at)?;
        let record = Record { index: self.records, kind, declared, base, size, payload_len };
        self.records += 1;
        Ok(Some(record))
    }

    /// Reads the trailer and checks it against the bytes read, then checks the stream ends.
    pub fn finish(mut self) -> Result<()> {
        let actual = std::mem::take(&mut self.hasher).finish();
        let mut trailer = [0u8; 32];
        let mut filled = 0;
        while filled < trailer.len() {
            match self.inner.read(&mut trailer[filled..]) {
                Ok(0) => return Err(PackError::Truncated { offset: self.offset + filled as u64, inside: "the trailer".into() }),
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(PackError::io("read", "the mpack stream", e)),
            }
        }
        let expected = ObjectId::from_bytes(trailer);
        if expected != actual {
            return Err(PackError::ChecksumMismatch { expected, actual });
        }
        let mut extra = [0u8; 1];
        loop {
            match self.inner.read(&mut extra) {
                Ok(0) => return Ok(()),
                Ok(_) => return Err(PackError::Malformed { offset: self.offset + 32, reason: "bytes after the trailer".into() }),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(PackError::io("read", "the mpack stream", e)),
            }
        }
    }

    /// Reads and discards a record's payload (still hashed into the checksum).
    pub fn skip_payload(&mut self, record: &Record) -> Result<()> {
        let mut sink = io::sink();
        let mut reader = PayloadReader { input: self, record, remaining: record.payload_len, tee: None, fatal: None };
        drain(&mut reader, &mut sink)
    }

    /// Decodes a record's payload, streaming it (and copying its raw bytes to `tee`, if given).
    /// The outer error is fatal (I/O, truncation); the inner one is why the record is invalid.
    /// `keep` collects the decoded bytes; callers pass it only for records of at most
    /// [`MAX_INLINE_SIZE`] bytes.
    pub fn decode_payload(&mut self, record: &Record, base: Option<&[u8]>, tee: Option<&mut dyn Write>, keep: bool) -> Result<Decoded> {
        let mut reader = PayloadReader { input: self, record, remaining: record.payload_len, tee, fatal: None };
        if record.payload_len == 0 {
            return Ok(Err("the payload is empty (a zstd frame is at least 9 bytes)".into()));
        }
        let outcome = decode_frame(&mut reader, record.kind, record.size, base, keep && record.size <= MAX_INLINE_SIZE);
        if let Some(fatal) = reader.fatal.take() {
            return Err(fatal);
        }
        let leftover = reader.remaining;
        drain(&mut reader, &mut io::sink())?;
        Ok(match outcome {
            Ok(_) if leftover > 0 => Err("the payload has bytes after its zstd frame".into()),
            other => other,
        })
    }
}

fn kind_name(code: u8) -> &'static str {
    ObjectKind::from_code(code).map_or("?", ObjectKind::as_str)
}

/// A decoded payload: its hash by the kind rule (for a blob its id, the SHA-256 of the blob magic
/// and the bytes; for a tree or commit the plain SHA-256 of the bytes, which is a tree's id once
/// the bytes decode as a tree) and, if asked for, the bytes; or why it is invalid.
pub type Decoded = std::result::Result<(ObjectId, Option<Vec<u8>>), String>;

/// Reads exactly one payload from the pack, teeing it to a spool, remembering fatal errors so
/// they are not mistaken for a bad zstd frame.
struct PayloadReader<'a, 't, R> {
    input: &'a mut Input<R>,
    record: &'a Record,
    remaining: u64,
    tee: Option<&'t mut dyn Write>,
    fatal: Option<PackError>,
}

impl<R: Read> Read for PayloadReader<'_, '_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 || self.fatal.is_some() {
            return Ok(0);
        }
        let want = buf.len().min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let fail = |this: &mut Self, e: PackError| {
            this.fatal = Some(e);
            Err(io::Error::other("the mpack stream failed"))
        };
        let n = match self.input.read_some(&mut buf[..want]) {
            Ok(0) => {
                let e = PackError::Truncated {
                    offset: self.input.offset,
                    inside: format!("the payload of record {} ({})", self.record.index, self.record.declared_text()),
                };
                return fail(self, e);
            }
            Ok(n) => n,
            Err(e) => return fail(self, e),
        };
        if let Some(tee) = self.tee.as_mut() {
            if let Err(e) = tee.write_all(&buf[..n]) {
                return fail(self, PackError::io("write", "the apply spool", e));
            }
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// Reads the rest of a payload into `sink`, surfacing a fatal error of the stream.
fn drain<R: Read>(reader: &mut PayloadReader<'_, '_, R>, sink: &mut dyn Write) -> Result<()> {
    if reader.remaining == 0 {
        return reader.fatal.take().map_or(Ok(()), Err);
    }
    let mut buf = vec![0u8; usize::try_from(reader.remaining).unwrap_or(usize::MAX).min(64 << 10)];
    loop {
        let n = reader.read(&mut buf).unwrap_or(0);
        if let Some(fatal) = reader.fatal.take() {
            return Err(fatal);
        }
        if n == 0 {
            return Ok(());
        }
        let _ = sink.write_all(&buf[..n]);
    }
}

/// Hashes an object's bytes as its kind's hash input (see [`Decoded`]).
enum KindHasher {
    Blob(BlobHasher),
    Plain(Hasher),
}

impl KindHasher {
    fn new(kind: ObjectKind) -> Self {
        match kind {
            ObjectKind::Blob => KindHasher::Blob(BlobHasher::new()),
            ObjectKind::Tree | ObjectKind::Commit => KindHasher::Plain(Hasher::new()),
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        match self {
            KindHasher::Blob(h) => h.update(bytes),
            KindHasher::Plain(h) => h.update(bytes),
        }
    }

    fn finish(self) -> ObjectId {
        match self {
            KindHasher::Blob(h) => h.finish(),
            KindHasher::Plain(h) => h.finish(),
        }
    }
}

thread_local! {
    /// One decompression context and one output buffer per thread, reused from record to
    /// record: creating a context for every record cost a fifth of a clone's CPU, and a fresh
    /// zeroed buffer another tenth.
    static FRAME_DECODER: RefCell<(zstd_safe::DCtx<'static>, Vec<u8>)> = RefCell::new((zstd_safe::DCtx::create(), Vec::new()));
}

/// The size of the reused output buffer of [`decode_frame`].
const DECODE_CHUNK: usize = 256 << 10;

/// Decodes one zstd frame of exactly `size` bytes from `source`, hashing it as it goes.
fn decode_frame(source: &mut dyn Read, kind: ObjectKind, size: u64, base: Option<&[u8]>, keep: bool) -> Decoded {
    FRAME_DECODER.with(|cell| {
        let (dctx, buf) = &mut *cell.borrow_mut();
        let result = (|| {
            if let Some(base) = base {
                // SAFETY: the context keeps this reference for the next frame only (the one
                // decoded below), and the reset after it drops the reference: the context never
                // reads it once `base` is gone, even when the frame fails halfway.
                let base: &'static [u8] = unsafe { std::slice::from_raw_parts(base.as_ptr(), base.len()) };
                dctx.ref_prefix(base).map_err(|code| format!("zstd: {}", zstd_safe::get_error_name(code)))?;
            }
            if buf.len() < DECODE_CHUNK {
                buf.resize(DECODE_CHUNK, 0);
            }
            let buffered = BufReader::with_capacity(64 << 10, source);
            let decoder = zstd::stream::read::Decoder::with_context(buffered, dctx).single_frame();
            decode_with(decoder, kind, size, buf, keep)
        })();
        let _ = dctx.reset(zstd_safe::ResetDirective::SessionAndParameters);
        result
    })
}

/// The loop of [`decode_frame`]: reads the frame through `decoder` into `buf`, chunk by chunk.
fn decode_with(mut decoder: zstd::stream::read::Decoder<'_, BufReader<&mut dyn Read>>, kind: ObjectKind, size: u64, buf: &mut [u8], keep: bool) -> Decoded {
    let mut hasher = KindHasher::new(kind);
    // The declared size is untrusted: the buffer grows with what really decodes.
    let mut kept = if keep { Vec::with_capacity(usize::try_from(size).unwrap_or(0).min(1 << 20)) } else { Vec::new() };
    // One byte more than declared, to notice a frame that decodes to more.
    let window = usize::try_from(size.saturating_add(1)).unwrap_or(usize::MAX).min(buf.len());
    let mut total = 0u64;
    loop {
        let n = decoder.read(&mut buf[..window]).map_err(|e| format!("the payload is not a valid zstd frame: {e}"))?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > size {
            return Err(format!("the payload decodes to more than its declared size of {size} bytes"));
        }
        hasher.update(&buf[..n]);
        if keep {
            kept.extend_from_slice(&buf[..n]);
        }
    }
    if total != size {
        return Err(format!("the payload decodes to {total} bytes, its header declares {size}"));
    }
    if !decoder.finish().buffer().is_empty() {
        return Err("the payload has bytes after its zstd frame".into());
    }
    Ok((hasher.finish(), keep.then_some(kept)))
}
