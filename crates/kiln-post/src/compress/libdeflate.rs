//! The vendored libdeflate compressor (crates/kiln-post/libdeflate): whole buffers into raw
//! deflate, either as a complete stream or as one that another stream can follow (no final
//! block, byte-aligned end: what a zlib sync flush leaves), which is what lets chunks
//! compressed on different cores join into one gzip member or zip entry.

use std::ffi::{c_int, c_void};
use std::ptr::NonNull;

#[repr(C)]
struct RawCompressor {
    _private: [u8; 0],
}

// The vendored library's symbols carry a `kiln_` prefix (see build.rs).
extern "C" {
    #[link_name = "kiln_libdeflate_alloc_compressor"]
    fn libdeflate_alloc_compressor(level: c_int) -> *mut RawCompressor;
    #[link_name = "kiln_libdeflate_free_compressor"]
    fn libdeflate_free_compressor(c: *mut RawCompressor);
    #[link_name = "kiln_libdeflate_deflate_compress_bound"]
    fn libdeflate_deflate_compress_bound(c: *mut RawCompressor, in_nbytes: usize) -> usize;
    #[link_name = "kiln_libdeflate_deflate_compress"]
    fn libdeflate_deflate_compress(
        c: *mut RawCompressor,
        input: *const c_void,
        in_nbytes: usize,
        out: *mut c_void,
        out_nbytes_avail: usize,
    ) -> usize;
    fn kiln_deflate_compress_sync(
        c: *mut RawCompressor,
        input: *const c_void,
        in_nbytes: usize,
        out: *mut c_void,
        out_nbytes_avail: usize,
    ) -> usize;
}

/// One compressor state (a few hundred KiB), for one thread at a time.
pub struct Compressor(NonNull<RawCompressor>);

// SAFETY: a libdeflate compressor has no thread affinity; `&mut self` on every use keeps it to
// one thread at a time, as libdeflate requires.
unsafe impl Send for Compressor {}

impl Compressor {
    /// `level` 0 (stored) to 12 (smallest); out-of-range levels are clamped.
    pub fn new(level: i32) -> Compressor {
        // SAFETY: any level in 0..=12 is valid; NULL (out of memory) is handled below.
        let p = unsafe { libdeflate_alloc_compressor(level.clamp(0, 12)) };
        match NonNull::new(p) {
            Some(p) => Compressor(p),
            None => std::alloc::handle_alloc_error(std::alloc::Layout::new::<[u8; 1 << 20]>()),
        }
    }

    /// The most a stream of `n` input bytes can take, with room for the sync-flush ending.
    pub fn bound(&mut self, n: usize) -> usize {
        // SAFETY: the pointer is a live compressor.
        unsafe { libdeflate_deflate_compress_bound(self.0.as_ptr(), n) + 5 }
    }

    /// Compresses `data` into `out` (at least [`Compressor::bound`] bytes for a guaranteed
    /// fit): a complete stream when `last`, else one that does not end. The size written, or
    /// `None` when it did not fit or `data` is too short to be worth compressing (then the
    /// caller writes stored blocks).
    pub fn compress(&mut self, data: &[u8], out: &mut [u8], last: bool) -> Option<usize> {
        let f = if last { libdeflate_deflate_compress } else { kiln_deflate_compress_sync };
        // SAFETY: both buffers are valid for the lengths given; libdeflate writes at most
        // `out.len()` bytes and reads `data.len()`.
        let n = unsafe { f(self.0.as_ptr(), data.as_ptr().cast(), data.len(), out.as_mut_ptr().cast(), out.len()) };
        (n != 0).then_some(n)
    }
}

impl Drop for Compressor {
    fn drop(&mut self) {
        // SAFETY: allocated by libdeflate_alloc_compressor, freed once.
        unsafe { libdeflate_free_compressor(self.0.as_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn inflate(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::DeflateDecoder::new(data).read_to_end(&mut out).unwrap();
        out
    }

    fn deflate(data: &[u8], level: i32, last: bool) -> Option<Vec<u8>> {
        let mut c = Compressor::new(level);
        let mut out = vec![0; c.bound(data.len())];
        let n = c.compress(data, &mut out, last)?;
        out.truncate(n);
        Some(out)
    }

    /// Every level (stored, fixed and dynamic blocks, every end-of-data bit offset) joins
    /// with what follows into one stream that inflates to both inputs.
    #[test]
    fn open_streams_join() {
        let text = crate::compress::deflate::tests::sample_data(300_000);
        for level in 0..=12 {
            for len in [100usize, 1000, 65_536, 70_000, 300_000] {
                let (a, b) = (&text[..len], &text[len / 3..]);
                let Some(mut joined) = deflate(a, level, false) else {
                    assert!(len <= 100 || level == 0, "level {level}, {len} bytes");
                    continue;
                };
                assert!(joined.ends_with(&[0, 0, 0xff, 0xff]), "a sync-flush ending");
                joined.extend(deflate(b, level, true).unwrap());
                assert_eq!(inflate(&joined), [a, b].concat(), "level {level}, {len} bytes");
            }
        }
    }

    /// Short streams of many lengths (so the bits pending before the empty stored block vary)
    /// join with what follows.
    #[test]
    fn many_lengths_join() {
        for n in 60..460usize {
            let a: Vec<u8> = (0..n).map(|i| (i * i * 7 % (13 + n % 17)) as u8 + b'a').collect();
            let level = 1 + n as i32 % 9;
            let Some(mut s) = deflate(&a, level, false) else { continue };
            s.extend(deflate(b"tail, long enough to be compressed, and then some more", 1, true).unwrap());
            let back = inflate(&s);
            assert_eq!(&back[..n], &a[..], "{n}");
        }
    }

    #[test]
    fn short_inputs_and_small_buffers_say_so() {
        let mut c = Compressor::new(6);
        let mut out = vec![0; 64];
        assert_eq!(c.compress(b"tiny", &mut out, false), None, "the caller stores these");
        let data = crate::compress::deflate::tests::sample_data(100_000);
        assert_eq!(c.compress(&data, &mut out, false), None);
        assert_eq!(c.compress(&data, &mut out, true), None);
        let mut big = vec![0; c.bound(data.len())];
        let n = c.compress(&data, &mut big, true).unwrap();
        assert_eq!(inflate(&big[..n]), data);
    }
}
