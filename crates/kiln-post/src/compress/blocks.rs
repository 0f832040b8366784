//! Parallel block compression: the input is cut into blocks that worker threads compress at
//! once; the results are written in order. Multi-member gzip (every gzip reader reads the
//! concatenation of members) and BGZF (gzip members of at most 64 KiB with their size in an
//! extra field) are both built this way.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::mpsc;
use std::thread::JoinHandle;

/// Compresses one block into a complete, self-contained member.
pub type BlockFn = fn(&[u8], u32) -> io::Result<Vec<u8>>;

pub struct BlockWriter<W: Write> {
    out: W,
    block_size: usize,
    buf: Vec<u8>,
    next_seq: u64,
    next_write: u64,
    in_flight: usize,
    max_in_flight: usize,
    pending: BTreeMap<u64, Vec<u8>>,
    jobs: Option<mpsc::SyncSender<(u64, Vec<u8>)>>,
    results: mpsc::Receiver<(u64, io::Result<Vec<u8>>)>,
    /// Dropping the writer drops the job channel, which ends the workers.
    workers: Vec<JoinHandle<()>>,
    /// Appended after the last block (BGZF's empty end-of-file block).
    trailer: &'static [u8],
}

impl<W: Write> BlockWriter<W> {
    pub fn new(out: W, block_size: usize, level: u32, compress: BlockFn, trailer: &'static [u8]) -> BlockWriter<W> {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let (job_tx, job_rx) = mpsc::sync_channel::<(u64, Vec<u8>)>(threads * 2);
        let job_rx = std::sync::Arc::new(std::sync::Mutex::new(job_rx));
        let (res_tx, results) = mpsc::channel();
        let workers = (0..threads)
            .map(|_| {
                let rx = std::sync::Arc::clone(&job_rx);
                let tx = res_tx.clone();
                std::thread::spawn(move || loop {
                    let job = match rx.lock() {
                        Ok(r) => r.recv(),
                        Err(_) => return,
                    };
                    let Ok((seq, data)) = job else { return };
                    if tx.send((seq, compress(&data, level))).is_err() {
                        return;
                    }
                })
            })
            .collect();
        BlockWriter {
            out,
            block_size,
            buf: Vec::with_capacity(block_size),
            next_seq: 0,
            next_write: 0,
            in_flight: 0,
            max_in_flight: threads * 4,
            pending: BTreeMap::new(),
            jobs: Some(job_tx),
            results,
            workers,
            trailer,
        }
    }

    fn submit(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        while self.in_flight >= self.max_in_flight {
            self.collect_one()?;
        }
        let block = std::mem::replace(&mut self.buf, Vec::with_capacity(self.block_size));
        let jobs = self.jobs.as_ref().ok_or_else(|| io::Error::other("compressor already finished"))?;
        jobs.send((self.next_seq, block)).map_err(|_| io::Error::other("compression worker stopped"))?;
        self.next_seq += 1;
        self.in_flight += 1;
        Ok(())
    }

    /// Waits for one result and writes every block that is now in order.
    fn collect_one(&mut self) -> io::Result<()> {
        let (seq, r) = self.results.recv().map_err(|_| io::Error::other("compression worker stopped"))?;
        self.in_flight -= 1;
        self.pending.insert(seq, r?);
        while let Some(block) = self.pending.remove(&self.next_write) {
            self.out.write_all(&block)?;
            self.next_write += 1;
        }
        Ok(())
    }

    /// Compresses what is left, writes everything in order and returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        self.submit()?;
        while self.in_flight > 0 {
            self.collect_one()?;
        }
        self.out.write_all(self.trailer)?;
        self.out.flush()?;
        self.jobs = None;
        for w in std::mem::take(&mut self.workers) {
            let _ = w.join();
        }
        Ok(self.out)
    }
}

impl<W: Write> Write for BlockWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = self.block_size - self.buf.len();
        let n = room.min(data.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == self.block_size {
            self.submit()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One gzip member.
pub fn gzip_member(data: &[u8], level: u32) -> io::Result<Vec<u8>> {
    let mut e = flate2::write::GzEncoder::new(Vec::with_capacity(data.len() / 2), flate2::Compression::new(level));
    e.write_all(data)?;
    e.finish()
}

/// BGZF's input limit per block, so the compressed block stays within 64 KiB.
pub const BGZF_BLOCK: usize = 65280;

/// The empty block that ends a BGZF file.
pub const BGZF_EOF: &[u8] = &[
    0x1f, 0x8b, 0x08, 0x04, 0, 0, 0, 0, 0, 0xff, 0x06, 0, 0x42, 0x43, 0x02, 0, 0x1b, 0, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

/// One BGZF block: a gzip member whose extra field `BC` holds the block size minus one.
pub fn bgzf_block(data: &[u8], level: u32) -> io::Result<Vec<u8>> {
    let mut deflated = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::new(level));
    deflated.write_all(data)?;
    let deflated = deflated.finish()?;
    let mut crc = flate2::Crc::new();
    crc.update(data);
    let total = 18 + deflated.len() + 8;
    let bsize = u16::try_from(total - 1).map_err(|_| io::Error::other("BGZF block too large"))?;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&[0x1f, 0x8b, 0x08, 0x04, 0, 0, 0, 0, 0, 0xff, 0x06, 0, 0x42, 0x43, 0x02, 0]);
    out.extend_from_slice(&bsize.to_le_bytes());
    out.extend_from_slice(&deflated);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn sample(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[test]
    fn parallel_gzip_reads_back_in_order() {
        let data = sample(5 * 1024 * 1024 + 123);
        let mut w = BlockWriter::new(Vec::new(), 1 << 20, 6, gzip_member, &[]);
        w.write_all(&data).unwrap();
        let gz = w.finish().unwrap();
        let mut back = Vec::new();
        flate2::read::MultiGzDecoder::new(&gz[..]).read_to_end(&mut back).unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn bgzf_blocks_carry_their_size_and_end_with_the_eof_block() {
        let data = sample(200_000);
        let mut w = BlockWriter::new(Vec::new(), BGZF_BLOCK, 6, bgzf_block, BGZF_EOF);
        w.write_all(&data).unwrap();
        let out = w.finish().unwrap();
        // Walk the blocks by their BSIZE fields.
        let mut pos = 0;
        let mut blocks = 0;
        while pos < out.len() {
            assert_eq!(&out[pos..pos + 4], &[0x1f, 0x8b, 0x08, 0x04]);
            assert_eq!(&out[pos + 12..pos + 14], b"BC");
            let bsize = u16::from_le_bytes([out[pos + 16], out[pos + 17]]) as usize + 1;
            pos += bsize;
            blocks += 1;
        }
        assert_eq!(pos, out.len());
        assert_eq!(blocks, 200_000usize.div_ceil(BGZF_BLOCK) + 1);
        assert!(out.ends_with(BGZF_EOF));
        let mut back = Vec::new();
        flate2::read::MultiGzDecoder::new(&out[..]).read_to_end(&mut back).unwrap();
        assert_eq!(back, data);
    }
}
