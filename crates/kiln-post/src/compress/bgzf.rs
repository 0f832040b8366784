//! BGZF (blocked gzip, as samtools' `bgzip` writes): a series of gzip members of at most 64 KiB,
//! each with a `BC` extra field giving its size, ending with the standard empty member. Blocks
//! are independent, so they are compressed on every core.

use std::io::{self, Read, Write};
use std::sync::Arc;

use super::deflate::{all_zero, par_map, stored, threads, Batches, Pool, ReadInto, Scratch};

/// Input bytes per block (what bgzip uses, so a stored block still fits in 64 KiB).
pub const BLOCK: usize = 0xff00;
/// Blocks tested and compressed together on one thread.
const GROUP: usize = 16;
pub const EOF_BLOCK: [u8; 28] =
    [0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 0xff, 6, 0, b'B', b'C', 2, 0, 0x1b, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0];

/// One BGZF member holding `data` (at most [`BLOCK`] bytes).
fn member(data: &[u8], s: &mut Scratch, store: bool) -> Vec<u8> {
    let mut body = if store { stored(data, true) } else { s.deflate(data, true) };
    if body.len() > 0x10000 - 26 {
        body = stored(data, true);
    }
    let total = body.len() + 26;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&[0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 0xff, 6, 0, b'B', b'C', 2, 0]);
    out.extend_from_slice(&((total - 1) as u16).to_le_bytes());
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

/// A `Write` producing BGZF into `inner`. As in [`super::deflate::ParDeflate`], batches are
/// compressed behind the caller, two at a time ([`Batches`]).
pub struct BgzfWriter<W: Write> {
    inner: W,
    pool: Arc<Pool>,
    threads: usize,
    /// The member of an all-zero block, shared by every one.
    zero: Option<Arc<Vec<u8>>>,
    /// Each batch's members.
    batches: Batches<Vec<Member>>,
}

/// A compressed member, or a copy of the zero member.
enum Member {
    Own(Vec<u8>),
    Zero(Arc<Vec<u8>>),
}

impl<W: Write> BgzfWriter<W> {
    pub fn new(inner: W, level: u32) -> BgzfWriter<W> {
        let threads = threads();
        BgzfWriter { inner, pool: Arc::new(Pool::new(level)), threads, zero: None, batches: Batches::new("kiln-bgzf") }
    }

    fn batch_bytes(&self) -> usize {
        self.threads * 4 * GROUP * BLOCK
    }

    /// Waits for the oldest running batch and writes it out; false when none was running.
    fn write_oldest(&mut self) -> io::Result<bool> {
        let Some((members, _)) = self.batches.oldest()? else { return Ok(false) };
        for m in members {
            match m {
                Member::Own(v) => self.inner.write_all(&v)?,
                Member::Zero(z) => self.inner.write_all(&z)?,
            }
        }
        Ok(true)
    }

    fn drain(&mut self, all: bool) -> io::Result<()> {
        if self.batches.full() {
            self.write_oldest()?;
        }
        let len = self.batches.buf.len;
        let whole = if all { len } else { len / (GROUP * BLOCK) * (GROUP * BLOCK) };
        let (zero, pool, threads) = (self.zero.clone(), Arc::clone(&self.pool), self.threads);
        self.batches.start(whole, move |input| {
            let groups: Vec<&[u8]> = input.chunks(GROUP * BLOCK).collect();
            let out = par_map(&groups, threads, |g| {
                pool.with(|s| {
                    let store = s.incompressible(g);
                    g.chunks(BLOCK)
                        .map(|b| match &zero {
                            Some(z) if b.len() == BLOCK && all_zero(b) => Member::Zero(Arc::clone(z)),
                            _ => Member::Own(member(b, s, store)),
                        })
                        .collect::<Vec<_>>()
                })
            });
            out.into_iter().flatten().collect()
        })
    }

    pub fn finish(mut self) -> io::Result<W> {
        self.drain(true)?;
        while self.write_oldest()? {}
        self.inner.write_all(&EOF_BLOCK)?;
        Ok(self.inner)
    }
}

impl<W: Write> BgzfWriter<W> {
    fn filled(&mut self) -> io::Result<()> {
        if self.zero.is_none() {
            self.zero = Some(Arc::new(self.pool.with(|s| member(&vec![0; BLOCK], s, false))));
        }
        if self.batches.buf.len >= self.batch_bytes() {
            self.drain(false)?;
        }
        Ok(())
    }
}

impl<W: Write> ReadInto for BgzfWriter<W> {
    fn read_into(&mut self, r: &mut dyn Read) -> io::Result<usize> {
        let n = self.batches.buf.read_from(r)?;
        self.filled()?;
        Ok(n)
    }
}

impl<W: Write> Write for BgzfWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.batches.buf.push(data);
        self.filled()?;
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn members_read_back_as_gzip() {
        let data = super::super::deflate::tests::sample_data(40 * BLOCK + 99);
        let run = || {
            let mut w = BgzfWriter::new(Vec::new(), 6);
            w.write_all(&data).unwrap();
            w.finish().unwrap()
        };
        let out = run();
        assert_eq!(out, run(), "deterministic");
        assert!(out.ends_with(&EOF_BLOCK));
        // Every member says its own size in the BC field.
        let mut at = 0;
        let mut members = 0;
        while at < out.len() {
            assert_eq!(&out[at..at + 4], &[0x1f, 0x8b, 8, 4]);
            assert_eq!(&out[at + 12..at + 14], b"BC");
            at += u16::from_le_bytes([out[at + 16], out[at + 17]]) as usize + 1;
            members += 1;
        }
        assert_eq!(at, out.len());
        assert_eq!(members, 41 + 1);
        let mut back = Vec::new();
        flate2::read::MultiGzDecoder::new(&out[..]).read_to_end(&mut back).unwrap();
        assert_eq!(back, data);
    }
}
