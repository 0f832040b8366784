//! Re-opening a finished deflate stream so another can follow it.
//!
//! libdeflate compresses a whole buffer into a complete stream whose last block has BFINAL set;
//! it cannot end with a sync flush the way zlib can. To join chunks compressed in parallel into
//! one stream, [`reopen`] walks the blocks (decoding symbols but producing no output), clears the
//! BFINAL bit of the last block and appends an empty stored block, which ends the data on a
//! byte boundary with BFINAL = 0: exactly what a zlib sync flush would have left.

/// Why a stream could not be walked; the caller falls back to stored blocks.
#[derive(Debug, PartialEq, Eq)]
pub struct Malformed;

/// Extra bits after length codes 257..=285 and distance codes 0..=29.
const LEN_EXTRA: [u8; 29] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_EXTRA: [u8; 30] =
    [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
/// The order code-length code lengths come in (RFC 1951, 3.2.7).
const CL_ORDER: [usize; 19] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/// An LSB-first bit reader over a 64-bit buffer refilled a word at a time, so that decoding a
/// symbol is a mask, a table lookup and a shift.
struct Bits<'a> {
    data: &'a [u8],
    /// The next byte to load into `buf`.
    next: usize,
    buf: u64,
    /// Valid bits in `buf`.
    count: u32,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8]) -> Bits<'a> {
        let mut b = Bits { data, next: 0, buf: 0, count: 0 };
        b.refill();
        b
    }

    /// Position in bits from the start of `data`.
    fn pos(&self) -> usize {
        self.next * 8 - self.count as usize
    }

    /// Moves to bit `pos`; past the end, the next read fails.
    fn seek(&mut self, pos: usize) -> Result<(), Malformed> {
        if pos > self.data.len() * 8 {
            return Err(Malformed);
        }
        (self.next, self.buf, self.count) = (pos / 8, 0, 0);
        self.refill();
        self.skip((pos % 8) as u32)
    }

    /// Tops `buf` up to at least 56 bits, or to the end of the data.
    fn refill(&mut self) {
        if let Some(w) = self.data.get(self.next..self.next + 8) {
            let bytes = (63 - self.count) / 8;
            self.buf |= u64::from_le_bytes(w.try_into().unwrap_or_default()) << self.count;
            self.next += bytes as usize;
            self.count += bytes * 8;
            // The bytes loaded past `count` are loaded again next time; keep `buf` exact.
            self.buf &= u64::MAX >> (64 - self.count);
            return;
        }
        while self.count <= 56 && self.next < self.data.len() {
            self.buf |= u64::from(self.data[self.next]) << self.count;
            self.next += 1;
            self.count += 8;
        }
    }

    /// The next `n` (≤ 32) bits without consuming them; zeros past the end.
    #[inline(always)]
    fn peek(&self, n: u32) -> u32 {
        (self.buf & ((1u64 << n) - 1)) as u32
    }

    #[inline(always)]
    fn skip(&mut self, n: u32) -> Result<(), Malformed> {
        if n > self.count {
            return Err(Malformed);
        }
        self.buf >>= n;
        self.count -= n;
        Ok(())
    }

    fn take(&mut self, n: u32) -> Result<u32, Malformed> {
        if self.count < n {
            self.refill();
        }
        let v = self.peek(n);
        self.skip(n)?;
        Ok(v)
    }
}

/// Codes up to this length resolve in one lookup in a table that stays in L1 cache; longer
/// (rare, by construction) ones take a second lookup in the full table.
const FAST: u32 = 10;

/// The symbol of a fast-table entry holding two literals.
const PAIR: u16 = u16::MAX;

/// A decoded table entry: (symbol, code length, code length + the symbol's extra bits); length
/// 0 marks a bit pattern no code starts with (or, in the fast table, a longer code).
type Entry = (u16, u8, u8);

/// A canonical Huffman code as lookup tables indexed by the next bits of the stream.
struct Table {
    fast_width: u32,
    fast: Vec<Entry>,
    width: u32,
    /// Empty when every code fits the fast table.
    full: Vec<Entry>,
}

impl Table {
    /// `extra(symbol)` is the number of extra bits following the symbol, so that skipping a
    /// symbol with its extra bits is one lookup and one add.
    fn new(lengths: &[u8], extra: impl Fn(usize) -> u8) -> Result<Table, Malformed> {
        let width = u32::from(lengths.iter().copied().max().unwrap_or(0)).max(1);
        if width > 15 {
            return Err(Malformed);
        }
        let fast_width = width.min(FAST);
        let mut count = [0u16; 16];
        for &l in lengths {
            count[l as usize] += 1;
        }
        count[0] = 0;
        let mut next = [0u32; 16];
        let mut code = 0u32;
        for bits in 1..16 {
            code = (code + u32::from(count[bits - 1])) << 1;
            next[bits] = code;
        }
        let mut fast = vec![(0u16, 0u8, 0u8); 1 << fast_width];
        let mut full = if width > fast_width { vec![(0u16, 0u8, 0u8); 1 << width] } else { Vec::new() };
        for (sym, &len) in lengths.iter().enumerate() {
            if len == 0 {
                continue;
            }
            let c = next[len as usize];
            next[len as usize] += 1;
            if c >= 1 << len {
                return Err(Malformed); // over-subscribed
            }
            // Codes are stored MSB first; the stream is read LSB first.
            let rev = (c.reverse_bits() >> (32 - u32::from(len))) as usize;
            let entry = (sym as u16, len, len + extra(sym));
            let table = if u32::from(len) <= fast_width { &mut fast } else { &mut full };
            for e in table.iter_mut().skip(rev).step_by(1 << len) {
                *e = entry;
            }
        }
        Ok(Table { fast_width, fast, width, full })
    }

    /// Makes each fast entry that starts with two literal codes skip both at once: literals
    /// are most of the symbols, and each lookup waits for the one before.
    fn pair_literals(mut self) -> Table {
        let base = self.fast.clone();
        for (i, e) in self.fast.iter_mut().enumerate() {
            let (sym, len, _) = base[i];
            if len == 0 || sym > 255 || u32::from(len) >= self.fast_width {
                continue;
            }
            let (sym2, len2, _) = base[i >> len];
            if len2 != 0 && sym2 <= 255 && u32::from(len + len2) <= self.fast_width {
                *e = (PAIR, len + len2, len + len2);
            }
        }
        self
    }

    #[inline(always)]
    fn lookup(&self, bits: &Bits) -> Result<Entry, Malformed> {
        let e = self.fast[bits.peek(self.fast_width) as usize];
        if e.1 != 0 {
            return Ok(e);
        }
        self.lookup_long(bits)
    }

    #[inline(never)]
    fn lookup_long(&self, bits: &Bits) -> Result<Entry, Malformed> {
        match self.full.get(bits.peek(self.width) as usize) {
            Some(&e) if e.1 != 0 => Ok(e),
            _ => Err(Malformed),
        }
    }

    /// The next symbol, consuming its code but not its extra bits.
    fn decode(&self, bits: &mut Bits) -> Result<u16, Malformed> {
        if bits.count < 15 {
            bits.refill();
        }
        let (sym, len, _) = self.lookup(bits)?;
        bits.skip(u32::from(len))?;
        Ok(sym)
    }

    /// The next symbol, consuming its code and its extra bits; the caller has refilled `bits`.
    #[inline(always)]
    fn skip(&self, bits: &mut Bits) -> Result<u16, Malformed> {
        let (sym, _, all) = self.lookup(bits)?;
        bits.skip(u32::from(all))?;
        Ok(sym)
    }
}

fn no_extra(_: usize) -> u8 {
    0
}

fn lit_extra(sym: usize) -> u8 {
    sym.checked_sub(257).and_then(|i| LEN_EXTRA.get(i)).copied().unwrap_or(0)
}

fn dist_extra(sym: usize) -> u8 {
    DIST_EXTRA.get(sym).copied().unwrap_or(0)
}

fn huffman_tables(lengths: &[u8], hlit: usize) -> Result<(Table, Table), Malformed> {
    // Symbols 286, 287 and distances 30, 31 take part in the code but never occur.
    if lengths[286.min(hlit)..hlit].iter().chain(lengths[hlit..].iter().skip(30)).any(|&l| l != 0) {
        return Err(Malformed);
    }
    Ok((Table::new(&lengths[..hlit], lit_extra)?.pair_literals(), Table::new(&lengths[hlit..], dist_extra)?))
}

fn fixed_tables() -> Result<(Table, Table), Malformed> {
    let mut lengths = [8u8; 288 + 30];
    lengths[144..256].fill(9);
    lengths[256..280].fill(7);
    lengths[288..].fill(5);
    let (lit, dist) =
        (Table::new(&lengths[..288], lit_extra)?.pair_literals(), Table::new(&lengths[288..], dist_extra)?);
    Ok((lit, dist))
}

fn dynamic_tables(bits: &mut Bits) -> Result<(Table, Table), Malformed> {
    let hlit = bits.take(5)? as usize + 257;
    let hdist = bits.take(5)? as usize + 1;
    let hclen = bits.take(4)? as usize + 4;
    let mut cl = [0u8; 19];
    for &i in &CL_ORDER[..hclen] {
        cl[i] = bits.take(3)? as u8;
    }
    let cl = Table::new(&cl, no_extra)?;
    let mut lengths = Vec::with_capacity(hlit + hdist);
    while lengths.len() < hlit + hdist {
        let (value, repeat) = match cl.decode(bits)? {
            n @ 0..=15 => (n as u8, 1),
            16 => (*lengths.last().ok_or(Malformed)?, 3 + bits.take(2)? as usize),
            17 => (0, 3 + bits.take(3)? as usize),
            _ => (0, 11 + bits.take(7)? as usize),
        };
        lengths.extend(std::iter::repeat_n(value, repeat));
    }
    if lengths.len() != hlit + hdist {
        return Err(Malformed);
    }
    huffman_tables(&lengths, hlit)
}

/// Skips the symbols of one Huffman-coded block up to its end-of-block code.
///
/// The hot loop of [`reopen`]: each lookup waits for the one before, so the bit buffer lives in
/// registers (not behind `bits`), refills are branch-free while 8 bytes remain, and two
/// literals in a row cost one lookup (see [`Table::pair_literals`]).
fn skip_symbols(bits: &mut Bits, lit: &Table, dist: &Table) -> Result<(), Malformed> {
    let data = bits.data;
    let lit_mask = (1u64 << lit.fast_width) - 1;
    let dist_mask = (1u64 << dist.fast_width) - 1;
    loop {
        let (mut buf, mut count, mut next) = (bits.buf, bits.count, bits.next);
        while let Some(w) = data.get(next..next + 8) {
            // Top up to at least 56 bits; a length and a distance with their extra bits take 48.
            // The bits loaded past `count` are the next bytes' own: loading them again later ORs
            // in the same values, so they need no masking.
            buf |= u64::from_le_bytes(w.try_into().unwrap_or_default()) << count;
            next += ((63 - count) / 8) as usize;
            count |= 56;
            let (sym, _, all) = lit.fast[(buf & lit_mask) as usize];
            if all == 0 || sym == 256 || (sym > 285 && sym != PAIR) {
                break; // a long or invalid code, or the end of the block: the careful path
            }
            if (257..=285).contains(&sym) {
                let (_, dlen, dall) = dist.fast[((buf >> all) & dist_mask) as usize];
                if dlen == 0 {
                    break;
                }
                buf >>= all;
                count -= u32::from(all);
                buf >>= dall;
                count -= u32::from(dall);
            } else {
                buf >>= all;
                count -= u32::from(all);
            }
        }
        // The careful path below expects no bits above `count`.
        buf &= u64::MAX.checked_shr(64 - count).unwrap_or(0);
        (bits.buf, bits.count, bits.next) = (buf, count, next);
        // One symbol the careful way (every check, the long-code tables, the end of the data).
        if bits.count < 48 {
            bits.refill();
        }
        match lit.skip(bits)? {
            0..=255 | PAIR => {}
            256 => return Ok(()),
            257..=285 => {
                dist.skip(bits)?;
            }
            _ => return Err(Malformed),
        }
    }
}

/// The bit positions of the last block's header and of the end of the stream.
fn last_block(data: &[u8]) -> Result<(usize, usize), Malformed> {
    let mut bits = Bits::new(data);
    loop {
        let header = bits.pos();
        let last = bits.take(1)? == 1;
        match bits.take(2)? {
            0 => {
                bits.seek(bits.pos().div_ceil(8) * 8)?;
                let len = bits.take(16)?;
                if bits.take(16)? != !len & 0xffff {
                    return Err(Malformed);
                }
                bits.seek(bits.pos() + len as usize * 8)?;
            }
            1 => {
                let (lit, dist) = fixed_tables()?;
                skip_symbols(&mut bits, &lit, &dist)?;
            }
            2 => {
                let (lit, dist) = dynamic_tables(&mut bits)?;
                skip_symbols(&mut bits, &lit, &dist)?;
            }
            _ => return Err(Malformed),
        }
        if last {
            return Ok((header, bits.pos()));
        }
    }
}

/// Turns the complete deflate stream in `data` into one that does not end: the last block is
/// no longer final and an empty stored block (a sync flush) aligns the end to a byte.
pub fn reopen(data: &mut Vec<u8>) -> Result<(), Malformed> {
    let (header, end) = last_block(data)?;
    data[header / 8] &= !(1u8 << (header % 8));
    data.truncate(end.div_ceil(8));
    let used = end % 8;
    if used != 0 {
        // Clear whatever follows the end-of-block code in its byte: the stored block's header.
        let last = data.len() - 1;
        data[last] &= (1u8 << used) - 1;
    }
    // The stored block's 3 header bits go in the last byte's free bits if they fit there.
    if used == 0 || used > 5 {
        data.push(0);
    }
    data.extend_from_slice(&[0, 0, 0xff, 0xff]);
    Ok(())
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

    fn libdeflate(data: &[u8], level: i32) -> Vec<u8> {
        let mut c = libdeflater::Compressor::new(libdeflater::CompressionLvl::new(level).unwrap());
        let mut out = vec![0; c.deflate_compress_bound(data.len())];
        let n = c.deflate_compress(data, &mut out).unwrap();
        out.truncate(n);
        out
    }

    /// Every level (stored, fixed and dynamic blocks, every end-of-stream bit offset) joins
    /// with what follows into one stream that inflates to both inputs.
    #[test]
    fn reopened_streams_join() {
        let text = crate::compress::deflate::tests::sample_data(300_000);
        let mut offsets = std::collections::BTreeSet::new();
        for level in 0..=12 {
            for len in [0usize, 1, 2, 7, 100, 1000, 65_536, 70_000, 300_000] {
                let a = &text[..len];
                let b = &text[len / 3..];
                let mut joined = libdeflate(a, level);
                let (_, end) = last_block(&joined).unwrap();
                offsets.insert(end % 8);
                reopen(&mut joined).unwrap();
                joined.extend(libdeflate(b, level));
                assert_eq!(inflate(&joined), [a, b].concat(), "level {level}, {len} bytes");
            }
        }
        assert!(offsets.len() >= 6, "bit offsets seen: {offsets:?}");
    }

    /// Skewed byte frequencies give Huffman codes longer than the fast table (up to 15 bits),
    /// which take the careful path; the walk must agree with a real inflater either way.
    #[test]
    fn long_codes_take_the_careful_path() {
        let mut x: u64 = 0x2545f4914f6cdd1d;
        let skewed: Vec<u8> = (0..400_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x | (1 << 40)).trailing_zeros() as u8 * 3 // P(n) = 2^-(n+1): 16+ bit codes
            })
            .collect();
        let lengths_seen = {
            let s = libdeflate(&skewed, 6);
            let mut b = Bits::new(&s);
            b.take(1).unwrap();
            assert_eq!(b.take(2).unwrap(), 2, "a dynamic block");
            let (lit, _) = dynamic_tables(&mut b).unwrap();
            lit.width
        };
        assert!(lengths_seen > FAST, "longest code {lengths_seen} bits");
        for level in [1, 6, 12] {
            let mut s = libdeflate(&skewed, level);
            reopen(&mut s).unwrap();
            s.extend(libdeflate(b"end", 6));
            assert_eq!(inflate(&s), [&skewed[..], b"end"].concat(), "level {level}");
        }
    }

    #[test]
    fn byte_by_byte_end_offsets() {
        // Short inputs end at every bit offset; each one must reopen correctly.
        let mut seen = [false; 8];
        for n in 0..400usize {
            let a: Vec<u8> = (0..n).map(|i| (i * i * 7 % (13 + n % 17)) as u8 + b'a').collect();
            let mut s = libdeflate(&a, 1 + n as i32 % 9);
            seen[last_block(&s).unwrap().1 % 8] = true;
            reopen(&mut s).unwrap();
            s.extend(libdeflate(b"tail", 1));
            assert_eq!(inflate(&s), [&a[..], b"tail"].concat(), "{n}");
        }
        assert!(seen.iter().all(|&s| s), "{seen:?}");
    }

    #[test]
    fn garbage_is_refused_not_panicked_on() {
        for junk in [&[][..], &[0xff; 3], &[0x06, 0xff, 0xff, 0xff], &[0x01, 0x05, 0x00, 0x00, 0x00]] {
            assert_eq!(reopen(&mut junk.to_vec()), Err(Malformed), "{junk:?}");
        }
        // A truncated real stream.
        let mut s = libdeflate(&crate::compress::deflate::tests::sample_data(50_000), 6);
        s.truncate(s.len() / 2);
        assert_eq!(reopen(&mut s), Err(Malformed));
    }
}
