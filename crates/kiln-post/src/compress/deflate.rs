//! Parallel deflate: the input is cut into chunks compressed independently on every core, then
//! joined in order. A non-final chunk ends with a sync flush (byte-aligned, BFINAL=0), so the
//! chunks concatenate into one valid deflate stream that any inflater reads (the pigz method).
//! The gzip (.gz) and zip writers wrap it; BGZF uses the same pool on its own 64 KiB members.
//!
//! Chunks are compressed by libdeflate (whole-buffer, about three times zlib's speed at the same
//! level, smaller output), patched to end a chunk the way a sync flush does (see
//! [`super::libdeflate`]). Two shortcuts keep the output identical run to run while saving
//! most of the time on disk images: an all-zero chunk reuses the bytes of the first all-zero
//! chunk compressed, and a chunk whose samples do not compress is written as stored blocks
//! (what deflate would end up close to anyway, at memory speed).

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread::JoinHandle;

use super::libdeflate::Compressor;

/// Input bytes per parallel chunk.
pub const CHUNK: usize = 1 << 20;
/// Samples per chunk for the incompressibility test, and their size.
const SAMPLES: usize = 4;
const SAMPLE: usize = 4 << 10;

pub fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Runs `f` over `items` on `threads` threads, results in the items' order.
pub fn par_map<T: Sync, R: Send>(items: &[T], threads: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    if threads <= 1 || items.len() <= 1 {
        return items.iter().map(&f).collect();
    }
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..threads.min(items.len()) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let r = f(item);
                if let Ok(mut slot) = slots[i].lock() {
                    *slot = Some(r);
                }
            });
        }
    });
    slots.into_iter().filter_map(|m| m.into_inner().ok().flatten()).collect()
}

/// libdeflate's level for a template's `compression_level` (1..=9). libdeflate compresses
/// better than the deflate Packer 1.6.6 uses at every level, so each level maps to the fastest
/// libdeflate level whose output on a disk image is still no larger than Packer's at that
/// level (bench/pp.sh prints both sizes); 9 stays libdeflate's 9 for the smallest output.
pub fn libdeflate_level(level: u32) -> i32 {
    const MAP: [i32; 10] = [3, 1, 1, 2, 2, 3, 3, 5, 7, 9];
    MAP[level.min(9) as usize]
}

fn compressor(level: u32) -> Compressor {
    Compressor::new(libdeflate_level(level))
}

/// Compressor states kept between chunks: a fresh one allocates a few hundred KiB, which per
/// 64 KiB BGZF block costs more than compressing random data.
pub struct Scratch {
    quick: Compressor,
    main: Compressor,
    /// libdeflate's output buffer, sized for the worst case once: a fresh zeroed megabyte per
    /// chunk would cost page faults on every one.
    out: Vec<u8>,
}

/// The states of one writer, shared by its worker threads.
pub struct Pool {
    level: u32,
    free: Mutex<Vec<Scratch>>,
}

impl Pool {
    pub fn new(level: u32) -> Pool {
        Pool { level, free: Mutex::new(Vec::new()) }
    }

    /// Runs `f` with a state of this pool's level.
    pub fn with<R>(&self, f: impl FnOnce(&mut Scratch) -> R) -> R {
        let taken = self.free.lock().ok().and_then(|mut v| v.pop());
        let mut s =
            taken.unwrap_or_else(|| Scratch { quick: compressor(1), main: compressor(self.level), out: Vec::new() });
        let r = f(&mut s);
        if let Ok(mut v) = self.free.lock() {
            v.push(s);
        }
        r
    }
}

impl Scratch {
    /// `data` as raw deflate blocks: ending the stream when `last`, else with a sync flush.
    pub fn deflate(&mut self, data: &[u8], last: bool) -> Vec<u8> {
        let bound = self.main.bound(data.len());
        if self.out.len() < bound {
            self.out.resize(bound, 0);
        }
        match self.main.compress(data, &mut self.out, last) {
            Some(n) => self.out[..n].to_vec(),
            None => stored(data, last),
        }
    }
    pub fn incompressible(&mut self, data: &[u8]) -> bool {
        incompressible_with(&mut self.quick, data)
    }
}

/// `data` as stored deflate blocks (byte-aligned: each chunk before ends with a sync flush).
pub fn stored(data: &[u8], last: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 65535 * 5 + 5);
    let mut pieces = data.chunks(65535).peekable();
    if data.is_empty() {
        out.push(u8::from(last));
        out.extend_from_slice(&[0, 0, 0xff, 0xff]);
        return out;
    }
    while let Some(p) = pieces.next() {
        out.push(u8::from(last && pieces.peek().is_none()));
        let n = p.len() as u16;
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&(!n).to_le_bytes());
        out.extend_from_slice(p);
    }
    out
}

/// Whether samples of `data` gain less than 2% at the fastest level (with `c`, a level-1
/// compressor): random or already compressed data, which deflate would only slow down on.
fn incompressible_with(c: &mut Compressor, data: &[u8]) -> bool {
    if data.len() < SAMPLES * SAMPLE * 2 {
        return false;
    }
    let step = data.len() / SAMPLES;
    let mut out = vec![0; c.bound(SAMPLE)];
    let total_out: usize =
        (0..SAMPLES).map(|i| c.compress(&data[i * step..i * step + SAMPLE], &mut out, true).unwrap_or(SAMPLE)).sum();
    total_out * 100 >= SAMPLES * SAMPLE * 98
}

pub fn all_zero(data: &[u8]) -> bool {
    // 64 bytes at a time (vectorised), stopping at the first block that is not zero.
    let blocks = data.chunks_exact(64);
    let tail = blocks.remainder();
    blocks.into_iter().all(|b| b.iter().fold(0u8, |acc, &x| acc | x) == 0) && tail.iter().all(|&b| b == 0)
}

/// The compressed bytes of one chunk and its CRC-32. `stored` pieces carry no bytes: the
/// writer copies the input straight out as stored blocks (see [`write_stored`]).
pub struct Piece {
    pub data: Vec<u8>,
    pub stored: bool,
    pub crc: u32,
    pub len: usize,
}

/// Writes `data` as stored blocks without building them in memory first: one vectored write
/// of headers and slices of the input, so a buffered writer passes it straight through.
pub fn write_stored(w: &mut impl Write, data: &[u8], last: bool) -> io::Result<u64> {
    if data.is_empty() {
        w.write_all(&stored(data, last))?;
        return Ok(5);
    }
    let pieces: Vec<&[u8]> = data.chunks(65535).collect();
    let n = pieces.len();
    let headers: Vec<[u8; 5]> = pieces
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let len = p.len() as u16;
            let mut h = [u8::from(last && i + 1 == n), 0, 0, 0, 0];
            h[1..3].copy_from_slice(&len.to_le_bytes());
            h[3..5].copy_from_slice(&(!len).to_le_bytes());
            h
        })
        .collect();
    let mut slices: Vec<io::IoSlice> = Vec::with_capacity(2 * n);
    for (h, p) in headers.iter().zip(&pieces) {
        slices.push(io::IoSlice::new(h));
        slices.push(io::IoSlice::new(p));
    }
    let mut rest = &mut slices[..];
    while !rest.is_empty() {
        let k = w.write_vectored(rest)?;
        if k == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        io::IoSlice::advance_slices(&mut rest, k);
    }
    Ok(data.len() as u64 + 5 * n as u64)
}

/// Compresses chunks in parallel, with the zero-chunk cache and the stored shortcut.
pub struct Engine {
    pub threads: usize,
    pool: Pool,
    zero: Mutex<Option<(usize, Vec<u8>, u32)>>,
}

impl Engine {
    pub fn new(level: u32) -> Engine {
        Engine { threads: threads(), pool: Pool::new(level), zero: Mutex::new(None) }
    }

    fn one(&self, data: &[u8], last: bool) -> Piece {
        let zero = !last && data.len() == CHUNK && all_zero(data);
        if zero {
            if let Ok(z) = self.zero.lock() {
                if let Some((n, bytes, crc)) = z.as_ref().filter(|z| z.0 == data.len()) {
                    return Piece { data: bytes.clone(), stored: false, crc: *crc, len: *n };
                }
            }
        }
        let crc = crc32fast::hash(data);
        let (store, out) = self.pool.with(|s| {
            if !zero && s.incompressible(data) {
                (true, Vec::new())
            } else {
                (false, s.deflate(data, last))
            }
        });
        if store {
            return Piece { data: out, stored: true, crc, len: data.len() };
        }
        if zero {
            if let Ok(mut z) = self.zero.lock() {
                *z = Some((data.len(), out.clone(), crc));
            }
        }
        Piece { data: out, stored: false, crc, len: data.len() }
    }

    /// Compresses `chunks`; the last one ends the stream when `last`.
    pub fn run(&self, chunks: &[&[u8]], last: bool) -> Vec<Piece> {
        let n = chunks.len();
        let idx: Vec<usize> = (0..n).collect();
        par_map(&idx, self.threads, |&i| self.one(chunks[i], last && i + 1 == n))
    }
}

/// How much a parallel writer reads from its source at a time.
const READ: usize = 4 << 20;

/// A parallel writer's input: memory initialised once and reused batch after batch, filled by
/// copies (`Write`) or straight from a reader ([`InBuf::read_from`]), so that a big input is
/// neither copied twice nor has its pages faulted in again for every batch.
#[derive(Default)]
pub struct InBuf {
    data: Vec<u8>,
    pub len: usize,
}

impl InBuf {
    pub fn filled(&self) -> &[u8] {
        &self.data[..self.len]
    }

    fn room(&mut self, n: usize) -> &mut [u8] {
        if self.data.len() < self.len + n {
            self.data.resize(self.len + n, 0);
        }
        &mut self.data[self.len..self.len + n]
    }

    pub fn push(&mut self, d: &[u8]) {
        self.room(d.len()).copy_from_slice(d);
        self.len += d.len();
    }

    /// One read of up to [`READ`] bytes from `r`; the bytes read.
    pub fn read_from(&mut self, r: &mut dyn Read) -> io::Result<usize> {
        let n = r.read(self.room(READ))?;
        self.len += n;
        Ok(n)
    }

    /// Cuts the buffer at `at`: returns a buffer holding the first `at` bytes (this one's
    /// memory) and keeps the rest, moved into `next`'s memory.
    pub fn cut(&mut self, at: usize, mut next: InBuf) -> InBuf {
        next.len = 0;
        next.push(&self.data[at..self.len]);
        let mut head = std::mem::replace(self, next);
        head.len = at;
        head
    }
}

/// Writers that can fill their input straight from a reader.
pub trait ReadInto: Write {
    /// One read from `r` into the writer; the bytes read (0 at the end of `r`).
    fn read_into(&mut self, r: &mut dyn Read) -> io::Result<usize>;
}

/// A parallel writer's input, cut into batches that are compressed behind the caller, each on a
/// thread of its own, two at a time (so that no core waits for the slowest piece of a batch
/// before the next batch starts). A batch's input memory is reused by the batch after it.
pub struct Batches<R> {
    /// What has not been handed to a batch yet.
    pub buf: InBuf,
    spare: InBuf,
    /// The running batches, oldest first: each gives its result and its input back.
    running: VecDeque<JoinHandle<(R, InBuf)>>,
    name: &'static str,
}

impl<R: Send + 'static> Batches<R> {
    /// `name` names the batches' threads.
    pub fn new(name: &'static str) -> Batches<R> {
        Batches { buf: InBuf::default(), spare: InBuf::default(), running: VecDeque::new(), name }
    }

    /// Whether two batches are running: the oldest is to be written out before another starts.
    pub fn full(&self) -> bool {
        self.running.len() >= 2
    }

    /// Waits for the oldest batch: its result and its input (`None` when none runs).
    pub fn oldest(&mut self) -> io::Result<Option<(R, &[u8])>> {
        let Some(h) = self.running.pop_front() else { return Ok(None) };
        let (r, input) = h.join().map_err(|_| io::Error::other("a compression thread failed"))?;
        self.spare = input;
        Ok(Some((r, self.spare.filled())))
    }

    /// Starts `work` on the first `at` bytes of the buffer; the rest stays buffered.
    pub fn start(&mut self, at: usize, work: impl FnOnce(&[u8]) -> R + Send + 'static) -> io::Result<()> {
        let input = self.buf.cut(at, std::mem::take(&mut self.spare));
        let h = std::thread::Builder::new().name(self.name.into()).spawn(move || (work(input.filled()), input))?;
        self.running.push_back(h);
        Ok(())
    }
}

/// A compressed batch waiting to be written: its pieces, and whether it ends the stream.
struct Batch {
    pieces: Vec<Piece>,
    last: bool,
}

/// Writes `b`, whose input was `input` (stored pieces are copied from it).
fn write_batch<W: Write>(w: &mut W, b: &Batch, input: &[u8]) -> io::Result<()> {
    let n = b.pieces.len();
    for (i, p) in b.pieces.iter().enumerate() {
        if p.stored {
            let from = (i * CHUNK).min(input.len());
            let to = (from + CHUNK).min(input.len());
            write_stored(w, &input[from..to], b.last && i + 1 == n)?;
        } else {
            w.write_all(&p.data)?;
        }
    }
    Ok(())
}

/// A `Write` that deflates what it is given in parallel into `inner`, tracking the CRC-32 and
/// size a gzip trailer or zip header needs. Compression runs behind the caller: while a batch
/// compresses, the caller reads the next one and the batch before is written out.
pub struct ParDeflate<W: Write> {
    inner: W,
    engine: std::sync::Arc<Engine>,
    batches: Batches<Batch>,
    batch: usize,
    crc: crc32fast::Hasher,
    pub total_in: u64,
}

impl<W: Write> ParDeflate<W> {
    pub fn new(inner: W, engine: std::sync::Arc<Engine>) -> ParDeflate<W> {
        let batch = engine.threads.max(1) * 4;
        ParDeflate {
            inner,
            engine,
            batches: Batches::new("kiln-deflate"),
            batch,
            crc: crc32fast::Hasher::new(),
            total_in: 0,
        }
    }

    /// Waits for the oldest running batch and writes it out; false when none was running.
    fn write_oldest(&mut self) -> io::Result<bool> {
        let Some((b, input)) = self.batches.oldest()? else { return Ok(false) };
        write_batch(&mut self.inner, &b, input)?;
        for p in &b.pieces {
            self.crc.combine(&crc32fast::Hasher::new_with_initial_len(p.crc, p.len as u64));
            self.total_in += p.len as u64;
        }
        Ok(true)
    }

    /// Starts compressing every whole chunk in the buffer, or everything (ending the stream)
    /// when `last`; writes out the oldest batch when two are already running.
    fn drain(&mut self, last: bool) -> io::Result<()> {
        if self.batches.full() {
            self.write_oldest()?;
        }
        let len = self.batches.buf.len;
        let whole = if last { len } else { len / CHUNK * CHUNK };
        let engine = std::sync::Arc::clone(&self.engine);
        self.batches.start(whole, move |input| {
            let mut chunks: Vec<&[u8]> = input.chunks(CHUNK).collect();
            if last && chunks.is_empty() {
                chunks.push(&[]);
            }
            Batch { pieces: engine.run(&chunks, last), last }
        })
    }

    /// Ends the deflate stream; returns the writer, the CRC-32 and the input size.
    pub fn finish(mut self) -> io::Result<(W, u32, u64)> {
        self.drain(true)?;
        while self.write_oldest()? {}
        Ok((self.inner, self.crc.clone().finalize(), self.total_in))
    }
}

impl<W: Write> ParDeflate<W> {
    fn filled(&mut self) -> io::Result<()> {
        // Keep the tail back: only `finish` knows which chunk is the last.
        if self.batches.buf.len > self.batch * CHUNK {
            self.drain(false)?;
        }
        Ok(())
    }
}

impl<W: Write> ReadInto for ParDeflate<W> {
    fn read_into(&mut self, r: &mut dyn Read) -> io::Result<usize> {
        let n = self.batches.buf.read_from(r)?;
        self.filled()?;
        Ok(n)
    }
}

impl<W: Write> Write for ParDeflate<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.batches.buf.push(data);
        self.filled()?;
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One gzip member around a parallel deflate stream (what `gunzip` and pgzip readers expect).
pub struct GzWriter<W: Write> {
    deflate: ParDeflate<W>,
}

impl<W: Write> GzWriter<W> {
    pub fn new(mut inner: W, level: u32) -> io::Result<GzWriter<W>> {
        // Fixed header: no name, mtime 0, OS "unknown", so the bytes depend on the data only.
        let xfl = match level {
            9 => 2,
            1 => 4,
            _ => 0,
        };
        inner.write_all(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 255])?;
        Ok(GzWriter { deflate: ParDeflate::new(inner, std::sync::Arc::new(Engine::new(level))) })
    }

    pub fn finish(self) -> io::Result<W> {
        let (mut w, crc, len) = self.deflate.finish()?;
        w.write_all(&crc.to_le_bytes())?;
        w.write_all(&(len as u32).to_le_bytes())?;
        Ok(w)
    }
}

impl<W: Write> ReadInto for GzWriter<W> {
    fn read_into(&mut self, r: &mut dyn Read) -> io::Result<usize> {
        self.deflate.read_into(r)
    }
}

impl<W: Write> Write for GzWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.deflate.write(data)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Read;

    fn inflate(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::DeflateDecoder::new(data).read_to_end(&mut out).unwrap();
        out
    }

    pub fn sample_data(n: usize) -> Vec<u8> {
        // Text-like runs, zeros and pseudo-random bytes: every path of the engine.
        let mut v = Vec::with_capacity(n);
        let mut x: u64 = 0x9e3779b97f4a7c15;
        while v.len() < n {
            let kind = (v.len() / (300 << 10)) % 3;
            for _ in 0..4096 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                v.push(match kind {
                    0 => b"kiln builds images "[(x % 19) as usize],
                    1 => 0,
                    _ => x as u8,
                });
            }
        }
        v.truncate(n);
        v
    }

    #[test]
    fn chunks_join_into_one_stream() {
        let data = sample_data(5 * CHUNK + 12345);
        let mut w = ParDeflate::new(Vec::new(), std::sync::Arc::new(Engine::new(6)));
        for part in data.chunks(700_001) {
            w.write_all(part).unwrap();
        }
        let (out, crc, len) = w.finish().unwrap();
        assert_eq!(len, data.len() as u64);
        assert_eq!(crc, crc32fast::hash(&data));
        assert!(out.len() < data.len() * 3 / 4, "compressible parts were compressed");
        assert_eq!(inflate(&out), data);
    }

    #[test]
    fn zero_and_random_chunks_take_the_shortcuts() {
        let mut x: u32 = 7;
        let mut data = vec![0u8; 3 * CHUNK];
        data.extend((0..3 * CHUNK + 5).map(|_| {
            x = x.wrapping_mul(1664525).wrapping_add(1013904223);
            (x >> 24) as u8
        }));
        let mut w = ParDeflate::new(Vec::new(), std::sync::Arc::new(Engine::new(6)));
        w.write_all(&data).unwrap();
        let (out, crc, _) = w.finish().unwrap();
        assert_eq!(crc, crc32fast::hash(&data));
        // Zeros shrink to almost nothing, random bytes cost 5 bytes per 64 KiB block.
        assert!(out.len() < 3 * CHUNK + 3 * CHUNK / 65535 * 5 + 4096, "{}", out.len());
        assert_eq!(inflate(&out), data);
    }

    #[test]
    fn batches_written_while_the_next_compresses_stay_in_order() {
        // Several batches (threads x 4 chunks each), a mix of every kind of chunk.
        let engine = std::sync::Arc::new(Engine::new(1));
        let mut data = sample_data((engine.threads * 4 * 2 + 3) * CHUNK + 99);
        let mut x: u32 = 3;
        for b in data[CHUNK..3 * CHUNK].iter_mut() {
            x = x.wrapping_mul(1664525).wrapping_add(1013904223);
            *b = (x >> 24) as u8;
        }
        data[4 * CHUNK..6 * CHUNK].fill(0);
        let mut w = ParDeflate::new(Vec::new(), engine);
        for part in data.chunks(3 << 20) {
            w.write_all(part).unwrap();
        }
        let (out, crc, len) = w.finish().unwrap();
        assert_eq!((crc, len), (crc32fast::hash(&data), data.len() as u64));
        assert_eq!(inflate(&out), data);
    }

    #[test]
    fn stored_blocks_and_empty_input() {
        let data = sample_data(200_000);
        assert_eq!(inflate(&stored(&data, true)), data);
        assert_eq!(inflate(&stored(&[], true)), Vec::<u8>::new());
        let (out, _, _) = ParDeflate::new(Vec::new(), std::sync::Arc::new(Engine::new(6))).finish().unwrap();
        assert_eq!(inflate(&out), Vec::<u8>::new());
    }

    #[test]
    fn random_is_detected_and_text_is_not() {
        let mut x: u32 = 1;
        let random: Vec<u8> = (0..CHUNK)
            .map(|_| {
                x = x.wrapping_mul(1664525).wrapping_add(1013904223);
                (x >> 24) as u8
            })
            .collect();
        assert!(incompressible_with(&mut compressor(1), &random));
        assert!(!incompressible_with(&mut compressor(1), &vec![b'a'; CHUNK]));
        assert!(all_zero(&vec![0; 1000]) && !all_zero(&[0, 0, 1]));
    }

    #[test]
    fn gzip_reads_back_and_is_deterministic() {
        let data = sample_data(3 * CHUNK + 7);
        let gz = |d: &[u8]| {
            let mut w = GzWriter::new(Vec::new(), 6).unwrap();
            w.write_all(d).unwrap();
            w.finish().unwrap()
        };
        let a = gz(&data);
        assert_eq!(a, gz(&data));
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&a[..]).read_to_end(&mut back).unwrap();
        assert_eq!(back, data);
    }
}
