//! zstd helpers shared by the builder, the applier and gc: whole-object frames and delta frames
//! (a frame compressed with the base object's bytes as a raw-content prefix).

use zstd::zstd_safe::{self, CCtx, CParameter};

thread_local! {
    /// One compression context per thread, reused: creating one (and zeroing its tables) for
    /// every object costs more than compressing a small tree or commit.
    static COMPRESSOR: std::cell::RefCell<CCtx<'static>> = std::cell::RefCell::new(CCtx::create());
}

/// Compresses `data` into one zstd frame at `level`, against `base` as a prefix if given.
pub fn compress(data: &[u8], base: Option<&[u8]>, level: i32) -> Vec<u8> {
    let mut out = Vec::with_capacity(zstd_safe::compress_bound(data.len()));
    let result = COMPRESSOR.with(|cell| {
        let mut cctx = cell.borrow_mut();
        let result = (|| {
            cctx.set_parameter(CParameter::CompressionLevel(level))?;
            // Neither a checksum nor the content size (docs/mpack.md): the record or entry
            // header has the size, and the id covers the content.
            cctx.set_parameter(CParameter::ChecksumFlag(false))?;
            cctx.set_parameter(CParameter::ContentSizeFlag(false))?;
            if let Some(base) = base {
                // A window that spans the base and the object, so matches reach the whole base.
                let span = (base.len() + data.len()).max(1);
                let log = usize::BITS - (span - 1).leading_zeros();
                cctx.set_parameter(CParameter::WindowLog(log.clamp(10, 27)))?;
                // SAFETY: the context keeps this reference for the next frame only (the
                // `compress2` call below), and the reset right after that call drops it: the
                // context never reads it once `base` is gone.
                let base: &'static [u8] = unsafe { std::slice::from_raw_parts(base.as_ptr(), base.len()) };
                cctx.ref_prefix(base)?;
            }
            cctx.compress2(&mut out, data)
        })();
        let _ = cctx.reset(zstd_safe::ResetDirective::SessionAndParameters);
        result
    });
    match result {
        Ok(_) => {
            // The buffer was sized for incompressible data; a delta is often a hundredth of
            // that, and encoded batches are held until written.
            out.shrink_to_fit();
            out
        }
        // Only a zstd bug can fail here: the buffer is large enough and the parameters valid.
        Err(code) => panic!("zstd compression failed: {}", zstd_safe::get_error_name(code)),
    }
}

/// Decompresses one frame that must yield exactly `size` bytes, optionally against a base: the
/// store's decoder (a reused context per thread; a lying size cannot make it allocate more than
/// 64 MiB before the frame proves it), after checking that the payload is exactly one frame
/// (docs/mpack.md: a record's payload is one frame; the store's decoder would also take several
/// concatenated ones).
pub fn decompress(payload: &[u8], size: u64, base: Option<&[u8]>) -> Result<Vec<u8>, String> {
    match zstd_safe::find_frame_compressed_size(payload) {
        Ok(len) if len == payload.len() => muse_store::odb::decompress(payload, size, base),
        Ok(len) => Err(format!("zstd: {} bytes after the frame", payload.len() - len)),
        Err(code) => Err(format!("zstd: {}", zstd_safe::get_error_name(code))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delta_frames_are_small_and_round_trip() {
        let base: Vec<u8> = (0..200_000u32).flat_map(|i| (i * 7919).to_le_bytes()).collect();
        let mut target = base.clone();
        target[123_456] ^= 0xff;
        let delta = compress(&target, Some(&base), 3);
        assert!(delta.len() < 2000, "delta of {} bytes for {} bytes", delta.len(), target.len());
        assert_eq!(decompress(&delta, target.len() as u64, Some(&base)).unwrap(), target);
        assert!(decompress(&delta, target.len() as u64, None).is_err());
        let full = compress(&target, None, 3);
        assert_eq!(decompress(&full, target.len() as u64, None).unwrap(), target);
        assert!(decompress(&full, target.len() as u64 - 1, None).is_err());
        assert!(decompress(&full, target.len() as u64 + 1, None).is_err());
    }

    #[test]
    fn a_payload_is_exactly_one_frame() {
        let frame = compress(b"hello\n", None, 3);
        assert_eq!(decompress(&frame, 6, None).unwrap(), b"hello\n");
        // Two frames that together decode to the right size: not one record's payload.
        let two = [frame.clone(), compress(b"", None, 3)].concat();
        assert!(decompress(&two, 6, None).unwrap_err().contains("after the frame"));
        let mut trailing = frame.clone();
        trailing.push(0);
        assert!(decompress(&trailing, 6, None).is_err());
        assert!(decompress(&frame[..frame.len() - 1], 6, None).is_err());
        assert!(decompress(&[], 0, None).is_err());
    }
}
