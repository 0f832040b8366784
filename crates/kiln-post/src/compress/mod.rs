//! `compress`: packs the artifact's files into one archive (tar or zip) and/or compresses them
//! (gzip, lz4, bgzf, xz), on every core where the format allows.
//!
//! The format comes from the *rendered* output file name (Packer 1.6.6 looks at the template
//! text instead, see docs/compatibility.md), or from `format`. Output is deterministic: tar and
//! zip entries sorted by name, time `SOURCE_DATE_EPOCH` (else 0), owner root, no names or
//! times in gzip headers. An existing output file is only replaced with `-force`.

pub mod archive;
pub mod bgzf;
pub mod deflate;
mod format;
mod libdeflate;

use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::Arc;

use kiln_config::diag::{Diagnostic, Diagnostics};
use kiln_config::node::Node;
use kiln_core::{
    async_trait, Artifact, BasicArtifact, BuildInfo, Cancel, Error, PostProcessed, PostProcessor, Result, RunContext,
    Ui,
};
use serde::Deserialize;

pub use format::{detect, Algorithm, ArchiveKind, Format};

pub const BUILDER_ID: &str = "packer.post-processor.compress";
/// Packer's default: no extension, so tar + gzip.
const DEFAULT_OUTPUT: &str = "packer_{{.BuildName}}_{{.BuilderType}}";
const DEFAULT_LEVEL: u32 = 6;

/// Options of `compress`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The archive to write; `{{.BuildName}}` and `{{.BuilderType}}` are replaced. Its extension
    /// picks the format (`.tar.gz`, `.tgz`, `.gz`, `.zip`, `.tar`, `.lz4`, `.tar.lz4`, `.bgzf`,
    /// `.tar.bgzf`, `.xz`, `.tar.xz`); anything else gives tar + gzip. Default `packer_{{.BuildName}}_{{.BuilderType}}`.
    #[serde(default)]
    pub output: Option<String>,
    /// The format, as an extension (`tar.gz`, `zip`, `lz4` …), instead of the output's.
    #[serde(default)]
    pub format: Option<String>,
    /// 1 (fastest) to 9 (smallest); 0 and -1 mean the default, 6; above 9 means 9. kiln's
    /// deflate (libdeflate) is faster than Packer's and its output at each level is no larger
    /// than Packer's at the same level.
    #[serde(default)]
    pub compression_level: Option<i64>,
}

#[derive(Default)]
pub struct Compress {
    config: Config,
    level: u32,
}

pub fn new() -> Box<dyn PostProcessor> {
    Box::<Compress>::default()
}

#[async_trait]
impl PostProcessor for Compress {
    fn configure(&mut self, config: &Node, _info: &BuildInfo) -> Result<Vec<Diagnostic>, Diagnostics> {
        let c: Config = kiln_config::decode::decode_component(config, "the \"compress\" post-processor")?;
        let mut warnings = Vec::new();
        self.level = match c.compression_level {
            None | Some(0) | Some(-1) => DEFAULT_LEVEL,
            Some(n @ 1..=9) => n as u32,
            Some(n) if n > 9 => 9,
            Some(n) => {
                return Err(Diagnostic::error(format!("compression_level {n} is out of range"))
                    .at_opt(config.span_of("compression_level"))
                    .with_detail("levels go from 1 (fastest) to 9 (smallest); 0 and -1 mean the default, 6")
                    .with_help("use a level from 1 to 9, or leave it out for 6")
                    .into())
            }
        };
        if let Some(f) = &c.format {
            if format::parse(f).is_none() {
                let mut w =
                    Diagnostic::warning(format!("unknown compress format {f:?}: the output's extension decides"))
                        .at_opt(config.span_of("format"))
                        .with_detail(format!("the formats are: {}", format::NAMES.join(", ")));
                if let Some(s) = kiln_config::diag::did_you_mean(f, format::NAMES.iter().copied()) {
                    w = w.with_help(format!("did you mean {s:?}?"));
                }
                warnings.push(w);
            }
        }
        if let Some(o) = &c.output {
            if o.is_empty() {
                return Err(Diagnostic::error("compress output is empty")
                    .at_opt(config.span_of("output"))
                    .with_help("name the archive to write, e.g. \"output\": \"image.tar.gz\"")
                    .into());
            }
        }
        self.config = c;
        Ok(warnings)
    }

    async fn post_process(&self, ctx: &RunContext, artifact: Arc<dyn Artifact>) -> Result<PostProcessed> {
        let template = self.config.output.clone().unwrap_or_else(|| DEFAULT_OUTPUT.to_string());
        let target = kiln_core::late::render(&template, &crate::template_data(&ctx.info))?;
        let fmt = self.config.format.as_deref().and_then(format::parse).unwrap_or_else(|| detect(&target));
        let files = artifact.files();
        if files.is_empty() {
            // Packer writes the empty archive without a word; kiln does the same, and says so.
            ctx.ui.error(format!(
                "Warning: the input artifact ({}) has no files: {target} is an empty archive",
                artifact.description().lines().next().unwrap_or_default()
            ));
        }
        let job = Job {
            target: target.clone(),
            files,
            format: fmt,
            level: self.level,
            force: ctx.info.force,
            mtime: source_date_epoch(),
            ui: ctx.ui.clone(),
            cancel: ctx.cancel.clone(),
        };
        // On cancellation the job notices at its next read and removes its partial file.
        let task = tokio::task::spawn_blocking(move || job.run());
        let out = ctx.cancel.run(task).await?.map_err(|e| Error::new(e.to_string()))??;
        let a = BasicArtifact {
            builder_id: BUILDER_ID.into(),
            id: out.clone(),
            description: format!("compressed artifacts in: {out}"),
            files: vec![out],
            owns_files: true,
            ..BasicArtifact::default()
        };
        // Like Packer: the input goes unless keep_input_artifact says otherwise.
        Ok(PostProcessed { artifact: Some(Arc::new(a)), keep: false, force_keep: false })
    }
}

/// `SOURCE_DATE_EPOCH` (reproducible builds' convention) or 0.
pub(crate) fn source_date_epoch() -> u64 {
    std::env::var("SOURCE_DATE_EPOCH").ok().and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

/// One compression, free of the async runtime.
pub struct Job {
    pub target: String,
    pub files: Vec<String>,
    pub format: Format,
    pub level: u32,
    pub force: bool,
    pub mtime: u64,
    pub ui: Ui,
    pub cancel: Cancel,
}

impl Job {
    /// Writes the archive next to the target under a temporary name, then renames it, so a
    /// failed or cancelled run never leaves a half archive under the real name.
    pub fn run(&self) -> Result<String> {
        let target = Path::new(&self.target);
        if self.format.archive.is_none() && self.files.len() != 1 {
            return Err(Error::new(format!(
                "{} can hold only one file, but the artifact has {}: {}; use a .tar.{} or .zip output to \
                 archive several files",
                self.target,
                self.files.len(),
                self.files.join(", "),
                self.format.algorithm.map_or("gz", Algorithm::extension)
            )));
        }
        // A unique temporary file, removed when anything fails (or the process exits mid-write).
        let mut out = kiln_core::output::OutputFile::create(target, self.force, &self.files)?;
        self.say_start();
        if let Err(e) = self.write(out.file()) {
            drop(out);
            if self.cancel.is_cancelled() {
                return Err(Error::cancelled());
            }
            return Err(Error::new(format!("writing {}: {e}", self.target)));
        }
        out.commit(0o644)?;
        self.ui.say(format!("Archive {} completed", self.target));
        Ok(self.target.clone())
    }

    fn say_start(&self) {
        let f = &self.format;
        if let Some(a) = f.algorithm {
            let cores = if a.parallel() { deflate::threads() } else { 1 };
            let s = if cores == 1 { "" } else { "s" };
            self.ui.say(format!("Using {} compression with {cores} core{s} for {}", a.name(), self.target));
        }
        match (f.archive, f.algorithm) {
            (Some(ArchiveKind::Zip), _) => self.ui.say(format!("Zipping {}", self.target)),
            (Some(ArchiveKind::Tar), a) => {
                self.ui.say(format!("Tarring {} with {}", self.target, a.map_or("no compression", Algorithm::name)))
            }
            (None, a) => self.ui.say(format!(
                "Archiving {} with {}",
                self.files.first().map_or("", String::as_str),
                a.map_or("no compression", Algorithm::name)
            )),
        }
    }

    /// Archive entries: base names for tar (as Packer), relative paths for zip; sorted.
    fn entries(&self, zip: bool) -> Vec<archive::Entry> {
        let mut v: Vec<archive::Entry> = self
            .files
            .iter()
            .map(|f| {
                let name = if zip {
                    f.trim_start_matches("./").trim_start_matches('/').to_string()
                } else {
                    Path::new(f).file_name().map_or_else(|| f.clone(), |n| n.to_string_lossy().into_owned())
                };
                archive::Entry { name, path: f.clone() }
            })
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.path.cmp(&b.path)));
        v
    }

    fn write(&self, file: &mut std::fs::File) -> io::Result<()> {
        let total: u64 = self.files.iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum();
        let label = format!("compressing into {}", self.target);
        let (ui, cancel) = (self.ui.clone(), self.cancel.clone());
        let mut shown = 0u64;
        let mut report = move |done: u64| {
            if cancel.is_cancelled() {
                // Not ErrorKind::Interrupted: io::copy retries those forever.
                return Err(io::Error::other("cancelled"));
            }
            // Every 64 MiB is enough for a progress bar and costs nothing.
            if done >> 26 != shown >> 26 || done == total {
                shown = done;
                ui.progress(&label, done, Some(total));
            }
            Ok(())
        };
        match (self.format.archive, self.format.algorithm) {
            (Some(ArchiveKind::Zip), _) => {
                archive::write_zip(file, &self.entries(true), self.level, self.mtime, &mut report)?;
            }
            (Some(ArchiveKind::Tar), alg) => {
                let entries = self.entries(false);
                let w = compressor(io::BufWriter::with_capacity(1 << 20, file), alg, self.level)?;
                let w = archive::write_tar(w, &entries, self.mtime, &mut report)?;
                w.finish()?;
            }
            (None, alg) => {
                let path = self.files.first().map(String::as_str).unwrap_or_default();
                let src = std::fs::File::open(path).map_err(|e| io::Error::new(e.kind(), format!("{path}: {e}")))?;
                let mut reader = archive::Counting { inner: src, done: 0, report: &mut report };
                let mut w = compressor(io::BufWriter::with_capacity(1 << 20, file), alg, self.level)?;
                w.copy_from(&mut reader)?;
                w.finish()?;
            }
        }
        Ok(())
    }
}

/// Feeds all of `r` to `w`, which reads it straight into its own buffers (big reads; no copy).
pub(crate) fn copy_big(r: &mut impl Read, w: &mut impl deflate::ReadInto) -> io::Result<()> {
    while w.read_into(r)? != 0 {}
    Ok(())
}

/// The xz preset for a template's `compression_level`. Packer 1.6.6 ignores the level for xz
/// and writes about what xz's preset 0 does; the default (6) maps to preset 1, a little smaller
/// than Packer's output and several times faster, and 9 stays 9.
pub fn xz_preset(level: u32) -> u32 {
    const MAP: [u32; 10] = [1, 0, 0, 1, 1, 1, 1, 3, 6, 9];
    MAP[level.min(9) as usize]
}

/// xz on every core: liblzma's multi-threaded encoder, CRC-64 like `xz`. Its blocks (3 x the
/// preset's dictionary) are compressed independently, so the bytes do not depend on the
/// number of threads.
fn xz<W: Write>(out: W, level: u32) -> io::Result<liblzma::write::XzEncoder<W>> {
    let stream = liblzma::stream::MtStreamBuilder::new()
        .preset(xz_preset(level))
        .check(liblzma::stream::Check::Crc64)
        .threads(deflate::threads() as u32)
        .encoder()
        .map_err(io::Error::other)?;
    Ok(liblzma::write::XzEncoder::new_stream(out, stream))
}

/// The compressing writer for one algorithm (or none) over `out`.
pub(crate) enum Compressor<W: Write + Send> {
    Plain(W),
    Gzip(deflate::GzWriter<W>),
    Bgzf(bgzf::BgzfWriter<W>),
    Lz4(lz4_flex::frame::FrameEncoder<W>),
    Xz(liblzma::write::XzEncoder<W>),
}

pub(crate) fn compressor<W: Write + Send>(out: W, alg: Option<Algorithm>, level: u32) -> io::Result<Compressor<W>> {
    Ok(match alg {
        None => Compressor::Plain(out),
        Some(Algorithm::Gzip) => Compressor::Gzip(deflate::GzWriter::new(out, level)?),
        Some(Algorithm::Bgzf) => Compressor::Bgzf(bgzf::BgzfWriter::new(out, level)),
        Some(Algorithm::Xz) => Compressor::Xz(xz(out, level)?),
        Some(Algorithm::Lz4) => {
            let info = lz4_flex::frame::FrameInfo::new().block_size(lz4_flex::frame::BlockSize::Max4MB);
            Compressor::Lz4(lz4_flex::frame::FrameEncoder::with_frame_info(info, out))
        }
    })
}

impl<W: Write + Send> Compressor<W> {
    pub(crate) fn finish(self) -> io::Result<()> {
        let mut w = match self {
            Compressor::Plain(w) => w,
            Compressor::Gzip(g) => g.finish()?,
            Compressor::Bgzf(b) => b.finish()?,
            Compressor::Lz4(l) => l.finish().map_err(io::Error::other)?,
            Compressor::Xz(x) => x.finish()?,
        };
        w.flush()
    }
}

impl<W: Write + Send> Compressor<W> {
    /// Compresses all of `r`: the parallel writers read it into their own buffers; the others
    /// take it through one 4 MiB buffer.
    fn copy_from(&mut self, r: &mut impl Read) -> io::Result<()> {
        match self {
            Compressor::Gzip(g) => copy_big(r, g),
            Compressor::Bgzf(b) => copy_big(r, b),
            _ => {
                let mut buf = vec![0u8; 4 << 20];
                loop {
                    let n = r.read(&mut buf)?;
                    if n == 0 {
                        return Ok(());
                    }
                    self.write_all(&buf[..n])?;
                }
            }
        }
    }
}

impl<W: Write + Send> Write for Compressor<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        match self {
            Compressor::Plain(w) => w.write(data),
            Compressor::Gzip(g) => g.write(data),
            Compressor::Bgzf(b) => b.write(data),
            Compressor::Lz4(l) => l.write(data),
            Compressor::Xz(x) => x.write(data),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
