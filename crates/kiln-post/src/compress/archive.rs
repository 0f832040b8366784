//! Archives of several files: tar (streamed into a compressor or a file) and zip (written here,
//! each entry deflated in parallel). Both are deterministic: entries in the order given (the
//! caller sorts them), a fixed time, owner root.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::sync::Arc;

use super::deflate::{Engine, ParDeflate};

/// One file to archive: the name inside the archive, the path to read.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub path: String,
}

/// Called after each read with the bytes read so far; an error (cancellation) stops the work.
pub type Report<'a> = &'a mut dyn FnMut(u64) -> io::Result<()>;

/// Reads a file, reporting how far it got (progress events, cancellation).
pub struct Counting<'a, R> {
    pub inner: R,
    pub done: u64,
    pub report: Report<'a>,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.done += n as u64;
        (self.report)(self.done)?;
        Ok(n)
    }
}

#[cfg(unix)]
fn mode_of(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
fn mode_of(_meta: &std::fs::Metadata) -> u32 {
    0o644
}

/// Writes a tar of `entries` into `out` (any writer: a file or a compressor). Headers come
/// from the `tar` crate; the data is copied here in 4 MiB reads (the crate's copy reads 8 KiB
/// at a time, a syscall and a call into the compressor each).
pub fn write_tar<W: Write>(mut out: W, entries: &[Entry], mtime: u64, report: Report<'_>) -> io::Result<W> {
    let mut done = 0u64;
    let mut buf = vec![0u8; 4 << 20];
    for e in entries {
        let mut f = File::open(&e.path).map_err(|err| with_path(err, &e.path))?;
        let meta = f.metadata()?;
        let size = meta.len();
        let mut h = tar::Header::new_gnu();
        if h.set_path(&e.name).is_err() || e.name.len() > 100 {
            // GNU long name: an `L` entry holding the name, then the header with a cut name.
            let mut l = tar::Header::new_gnu();
            let name = e.name.as_bytes();
            if let Some(g) = l.as_gnu_mut() {
                g.name[..13].copy_from_slice(b"././@LongLink");
            }
            l.set_entry_type(tar::EntryType::GNULongName);
            l.set_size(name.len() as u64 + 1);
            l.set_mode(0o644);
            l.set_mtime(mtime);
            l.set_cksum();
            out.write_all(l.as_bytes())?;
            out.write_all(name)?;
            out.write_all(&[0])?;
            out.write_all(&vec![0u8; pad(name.len() as u64 + 1)])?;
            if let Some(g) = h.as_gnu_mut() {
                let cut = &name[..name.len().min(100)];
                g.name = [0; 100];
                g.name[..cut.len()].copy_from_slice(cut);
            }
        }
        h.set_size(size);
        h.set_mode(mode_of(&meta));
        h.set_mtime(mtime);
        h.set_uid(0);
        h.set_gid(0);
        h.set_username("root")?;
        h.set_groupname("root")?;
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        out.write_all(h.as_bytes())?;
        let mut left = size;
        while left > 0 {
            let want = buf.len().min(left as usize);
            let n = f.read(&mut buf[..want])?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("{} shrank while being archived", e.path),
                ));
            }
            out.write_all(&buf[..n])?;
            left -= n as u64;
            done += n as u64;
            report(done)?;
        }
        out.write_all(&vec![0u8; pad(size)])?;
    }
    // The end of a tar: two empty blocks.
    out.write_all(&[0u8; 1024])?;
    Ok(out)
}

/// Zeros after `n` bytes of data up to the next 512-byte block.
fn pad(n: u64) -> usize {
    ((512 - n % 512) % 512) as usize
}

fn with_path(e: io::Error, path: &str) -> io::Error {
    io::Error::new(e.kind(), format!("{path}: {e}"))
}

const MAX32: u64 = 0xffff_ffff;
/// Entries at least this big get zip64 sizes in their local header (deflate can grow data a little).
const ZIP64_FROM: u64 = 0xf000_0000;

struct Central {
    name: Vec<u8>,
    crc: u32,
    csize: u64,
    usize: u64,
    offset: u64,
    mode: u32,
    zip64_local: bool,
}

/// DOS date and time of a Unix time (zip cannot say anything before 1980).
pub fn dos_time(unix: u64) -> (u16, u16) {
    let secs = unix % 86400;
    let (y, m, d) = kiln_config::civil::civil_from_days((unix / 86400) as i64);
    if !(1980..=2107).contains(&y) {
        return (if y < 1980 { (1 << 5) | 1 } else { (127 << 9) | (12 << 5) | 31 }, 0);
    }
    let date = (((y - 1980) as u16) << 9) | ((m as u16) << 5) | d as u16;
    let time = (((secs / 3600) as u16) << 11) | ((((secs / 60) % 60) as u16) << 5) | ((secs % 60) / 2) as u16;
    (date, time)
}

/// Writes a zip of `entries` into `out`, each deflated at `level`.
pub fn write_zip(out: &mut File, entries: &[Entry], level: u32, mtime: u64, report: Report<'_>) -> io::Result<()> {
    let (date, time) = dos_time(mtime);
    let engine = Arc::new(Engine::new(level));
    let mut central = Vec::new();
    let mut done = 0u64;
    let mut pos = out.stream_position()?;
    for e in entries {
        let f = File::open(&e.path).map_err(|err| with_path(err, &e.path))?;
        let meta = f.metadata()?;
        let name = e.name.as_bytes().to_vec();
        let zip64 = meta.len() >= ZIP64_FROM;
        let offset = pos;
        let mut h = Vec::with_capacity(30 + name.len() + 20);
        h.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        h.extend_from_slice(&(if zip64 { 45u16 } else { 20 }).to_le_bytes());
        h.extend_from_slice(&0x0800u16.to_le_bytes()); // names are UTF-8
        h.extend_from_slice(&8u16.to_le_bytes());
        h.extend_from_slice(&time.to_le_bytes());
        h.extend_from_slice(&date.to_le_bytes());
        h.extend_from_slice(&[0; 4]); // crc, patched below
        let placeholder = if zip64 { MAX32 as u32 } else { 0 };
        h.extend_from_slice(&placeholder.to_le_bytes());
        h.extend_from_slice(&placeholder.to_le_bytes());
        h.extend_from_slice(&(name.len() as u16).to_le_bytes());
        h.extend_from_slice(&(if zip64 { 20u16 } else { 0 }).to_le_bytes());
        h.extend_from_slice(&name);
        if zip64 {
            h.extend_from_slice(&1u16.to_le_bytes());
            h.extend_from_slice(&16u16.to_le_bytes());
            h.extend_from_slice(&[0; 16]);
        }
        out.write_all(&h)?;
        let base = done;
        let mut rep = |n: u64| report(base + n);
        let mut reader = Counting { inner: f, done: 0, report: &mut rep };
        let mut w = ParDeflate::new(io::BufWriter::with_capacity(1 << 20, &mut *out), Arc::clone(&engine));
        super::copy_big(&mut reader, &mut w)?;
        let (bw, crc, usize_) = w.finish()?;
        bw.into_inner().map_err(|e| e.into_error())?;
        let end = out.stream_position()?;
        let csize = end - offset - h.len() as u64;
        if !zip64 && (csize > MAX32 || usize_ > MAX32) {
            return Err(io::Error::other(format!("{} grew past 4 GiB while being archived", e.path)));
        }
        out.seek(SeekFrom::Start(offset + 14))?;
        out.write_all(&crc.to_le_bytes())?;
        if zip64 {
            out.seek(SeekFrom::Start(offset + 30 + name.len() as u64 + 4))?;
            out.write_all(&usize_.to_le_bytes())?;
            out.write_all(&csize.to_le_bytes())?;
        } else {
            out.write_all(&(csize as u32).to_le_bytes())?;
            out.write_all(&(usize_ as u32).to_le_bytes())?;
        }
        out.seek(SeekFrom::Start(end))?;
        pos = end;
        done += usize_;
        central.push(Central { name, crc, csize, usize: usize_, offset, mode: mode_of(&meta), zip64_local: zip64 });
    }
    let cd_start = pos;
    let mut cd = Vec::new();
    for c in &central {
        let mut extra = Vec::new();
        let big = |v: u64| v >= MAX32;
        for v in [c.usize, c.csize, c.offset] {
            if big(v) {
                extra.extend_from_slice(&v.to_le_bytes());
            }
        }
        let needed: u16 = if c.zip64_local || !extra.is_empty() { 45 } else { 20 };
        cd.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        cd.extend_from_slice(&(needed | (3 << 8)).to_le_bytes()); // made by Unix
        cd.extend_from_slice(&needed.to_le_bytes());
        cd.extend_from_slice(&0x0800u16.to_le_bytes());
        cd.extend_from_slice(&8u16.to_le_bytes());
        cd.extend_from_slice(&time.to_le_bytes());
        cd.extend_from_slice(&date.to_le_bytes());
        cd.extend_from_slice(&c.crc.to_le_bytes());
        for v in [c.csize, c.usize] {
            cd.extend_from_slice(&(v.min(MAX32) as u32).to_le_bytes());
        }
        cd.extend_from_slice(&(c.name.len() as u16).to_le_bytes());
        let extra_len = if extra.is_empty() { 0 } else { extra.len() + 4 };
        cd.extend_from_slice(&(extra_len as u16).to_le_bytes());
        cd.extend_from_slice(&[0; 6]); // comment length, disk, internal attributes
        cd.extend_from_slice(&((0o100000 | c.mode) << 16).to_le_bytes());
        cd.extend_from_slice(&(c.offset.min(MAX32) as u32).to_le_bytes());
        cd.extend_from_slice(&c.name);
        if !extra.is_empty() {
            cd.extend_from_slice(&1u16.to_le_bytes());
            cd.extend_from_slice(&(extra.len() as u16).to_le_bytes());
            cd.extend_from_slice(&extra);
        }
    }
    out.write_all(&cd)?;
    let cd_len = cd.len() as u64;
    let n = central.len() as u64;
    if n >= 0xffff || cd_start >= MAX32 || cd_len >= MAX32 {
        let z64_at = cd_start + cd_len;
        let mut r = Vec::new();
        r.extend_from_slice(&0x0606_4b50u32.to_le_bytes());
        r.extend_from_slice(&44u64.to_le_bytes());
        r.extend_from_slice(&(45u16 | (3 << 8)).to_le_bytes());
        r.extend_from_slice(&45u16.to_le_bytes());
        r.extend_from_slice(&[0; 8]); // this disk, disk with the directory
        r.extend_from_slice(&n.to_le_bytes());
        r.extend_from_slice(&n.to_le_bytes());
        r.extend_from_slice(&cd_len.to_le_bytes());
        r.extend_from_slice(&cd_start.to_le_bytes());
        r.extend_from_slice(&0x0706_4b50u32.to_le_bytes());
        r.extend_from_slice(&0u32.to_le_bytes());
        r.extend_from_slice(&z64_at.to_le_bytes());
        r.extend_from_slice(&1u32.to_le_bytes());
        out.write_all(&r)?;
    }
    let mut end = Vec::new();
    end.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    end.extend_from_slice(&[0; 4]);
    for _ in 0..2 {
        end.extend_from_slice(&(n.min(0xffff) as u16).to_le_bytes());
    }
    end.extend_from_slice(&(cd_len.min(MAX32) as u32).to_le_bytes());
    end.extend_from_slice(&(cd_start.min(MAX32) as u32).to_le_bytes());
    end.extend_from_slice(&0u16.to_le_bytes());
    out.write_all(&end)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_and_padding_read_back() {
        let d = kiln_testing::TempDir::new("tar-long");
        let dir = &d.0;
        let p = dir.join("f");
        std::fs::write(&p, vec![7u8; 1000]).unwrap();
        let long = format!("{}.vmdk", "n".repeat(150));
        let entries = [
            Entry { name: long.clone(), path: p.to_string_lossy().into_owned() },
            Entry { name: "short".into(), path: p.to_string_lossy().into_owned() },
        ];
        let out = write_tar(Vec::new(), &entries, 5, &mut |_| Ok(())).unwrap();
        assert_eq!(out.len() % 512, 0);
        let mut a = tar::Archive::new(&out[..]);
        let got: Vec<(String, usize, u64)> = a
            .entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let mut v = Vec::new();
                e.read_to_end(&mut v).unwrap();
                (e.path().unwrap().to_string_lossy().into_owned(), v.len(), e.header().mtime().unwrap())
            })
            .collect();
        assert_eq!(got, [(long, 1000, 5), ("short".to_string(), 1000, 5)]);
    }

    #[test]
    fn dos_times() {
        assert_eq!(dos_time(0), ((1 << 5) | 1, 0));
        // 2021-03-04 05:06:08 UTC
        assert_eq!(dos_time(1614834368), ((41 << 9) | (3 << 5) | 4, (5 << 11) | (6 << 5) | 4));
    }
}
