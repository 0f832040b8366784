//! Writing the archive formats.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use kiln_core::progress::Progress;

use super::blocks::{bgzf_block, gzip_member, BlockWriter, BGZF_BLOCK, BGZF_EOF};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Tar,
    TarGz,
    Gz,
    Zip,
    Lz4,
    TarLz4,
    Bgzf,
    TarBgzf,
}

impl Format {
    pub const NAMES: &'static [&'static str] =
        &["tar.gz", "tgz", "tar", "gz", "zip", "lz4", "tar.lz4", "bgzf", "tar.bgzf"];

    pub fn name(self) -> &'static str {
        match self {
            Format::Tar => "tar",
            Format::TarGz => "tar.gz",
            Format::Gz => "gz",
            Format::Zip => "zip",
            Format::Lz4 => "lz4",
            Format::TarLz4 => "tar.lz4",
            Format::Bgzf => "bgzf",
            Format::TarBgzf => "tar.bgzf",
        }
    }

    /// Whether the format holds several files.
    pub fn is_archive(self) -> bool {
        !matches!(self, Format::Gz | Format::Lz4 | Format::Bgzf)
    }

    /// From the output's name; anything unknown is a .tar.gz, as in Packer.
    pub fn from_name(name: &str) -> Result<Format, String> {
        let n = name.to_ascii_lowercase();
        for (ext, f) in [
            (".tar.gz", Format::TarGz),
            (".tgz", Format::TarGz),
            (".tar.lz4", Format::TarLz4),
            (".tar.bgzf", Format::TarBgzf),
            (".tar", Format::Tar),
            (".zip", Format::Zip),
            (".gz", Format::Gz),
            (".lz4", Format::Lz4),
            (".bgzf", Format::Bgzf),
        ] {
            if n.ends_with(ext) {
                return Ok(f);
            }
        }
        for ext in [".xz", ".zst", ".bz2"] {
            if n.ends_with(ext) {
                return Err(format!(
                    "{name}: kiln cannot write {ext} archives yet; use .tar.gz, .tar.lz4, .zip or .tar.bgzf"
                ));
            }
        }
        Ok(Format::TarGz)
    }

    /// From the `format` option (`tar.gz`, `.zip` …).
    pub fn from_option(f: &str) -> Result<Format, String> {
        let t = f.trim().trim_start_matches('.').to_ascii_lowercase();
        if !Format::NAMES.contains(&t.as_str()) {
            return Err(format!("unknown compress format {f:?}"));
        }
        Format::from_name(&format!("x.{t}"))
    }
}

/// Counts bytes read for the progress bar and stops when asked.
struct Counting<'a, R> {
    inner: R,
    progress: &'a Progress,
    stop: &'a AtomicBool,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.stop.load(Ordering::Relaxed) {
            return Err(io::Error::other("cancelled"));
        }
        let n = self.inner.read(buf)?;
        self.progress.add(n as u64);
        Ok(n)
    }
}

/// The name a file gets inside an archive: relative, `/` separators.
fn entry_name(path: &str, base_only: bool) -> String {
    let p = Path::new(path);
    if base_only {
        return p.file_name().map_or_else(|| path.to_string(), |n| n.to_string_lossy().into_owned());
    }
    let s = path.replace('\\', "/");
    s.trim_start_matches("./").trim_start_matches('/').to_string()
}

/// A tar stream of `files` into `w`: Packer's layout (file names only, mtime 0, uid/gid 0),
/// which makes the archive the same bytes for the same inputs.
fn tar_into<W: Write>(w: W, files: &[String], progress: &Progress, stop: &AtomicBool) -> io::Result<W> {
    let mut b = tar::Builder::new(w);
    for f in files {
        let file = File::open(f)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(io::Error::other(format!("{f} is not a regular file")));
        }
        let mut h = tar::Header::new_gnu();
        h.set_size(meta.len());
        h.set_mode(std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o7777);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, entry_name(f, true), Counting { inner: file, progress, stop })?;
    }
    b.into_inner()
}

fn copy_one(files: &[String], w: &mut dyn Write, progress: &Progress, stop: &AtomicBool) -> io::Result<()> {
    let f = files.first().ok_or_else(|| io::Error::other("no file to compress"))?;
    let mut r = Counting { inner: File::open(f)?, progress, stop };
    io::copy(&mut r, w)?;
    Ok(())
}

/// Writes `files` to `output` as `format`.
pub fn write(
    format: Format,
    files: &[String],
    output: &Path,
    level: u32,
    progress: &Progress,
    stop: &AtomicBool,
) -> io::Result<()> {
    if let Some(parent) = output.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let out = BufWriter::with_capacity(1 << 20, File::create(output)?);
    const GZ_BLOCK: usize = 1 << 20;
    let mut done = match format {
        Format::Tar => tar_into(out, files, progress, stop)?,
        Format::TarGz => {
            tar_into(BlockWriter::new(out, GZ_BLOCK, level, gzip_member, &[]), files, progress, stop)?.finish()?
        }
        Format::TarBgzf => {
            tar_into(BlockWriter::new(out, BGZF_BLOCK, level, bgzf_block, BGZF_EOF), files, progress, stop)?.finish()?
        }
        Format::TarLz4 => {
            let enc = tar_into(lz4_flex::frame::FrameEncoder::new(out), files, progress, stop)?;
            enc.finish().map_err(io::Error::other)?
        }
        Format::Gz => {
            let mut w = BlockWriter::new(out, GZ_BLOCK, level, gzip_member, &[]);
            copy_one(files, &mut w, progress, stop)?;
            w.finish()?
        }
        Format::Bgzf => {
            let mut w = BlockWriter::new(out, BGZF_BLOCK, level, bgzf_block, BGZF_EOF);
            copy_one(files, &mut w, progress, stop)?;
            w.finish()?
        }
        Format::Lz4 => {
            let mut w = lz4_flex::frame::FrameEncoder::new(out);
            copy_one(files, &mut w, progress, stop)?;
            w.finish().map_err(io::Error::other)?
        }
        Format::Zip => {
            let mut z = zip::ZipWriter::new(out);
            let options = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated)
                .compression_level(Some(i64::from(level)))
                .large_file(true);
            for f in files {
                z.start_file(entry_name(f, false), options).map_err(io::Error::other)?;
                let mut r = Counting { inner: File::open(f)?, progress, stop };
                io::copy(&mut r, &mut z)?;
            }
            z.finish().map_err(io::Error::other)?
        }
    };
    done.flush()?;
    done.into_inner().map_err(|e| e.into_error())?.sync_all()
}

#[cfg(test)]
mod tests;
