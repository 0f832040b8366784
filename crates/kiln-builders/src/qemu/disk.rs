//! The VM's disks: created before the VM starts ([`DiskPlan::create`], StepCreateDisk) and
//! turned into the artifact after it stops ([`DiskPlan::finish`], StepConvertDisk), with
//! `qemu-img`, in as few passes over the data as the options allow:
//!
//! - installer ISO: a blank disk of `disk_size` is the output; at the end one
//!   `qemu-img convert [-c]` compacts it (qcow2, unless `skip_compaction`), as Packer does;
//! - `disk_image` + `use_backing_file`: the output is a qcow2 overlay on the source image; it is
//!   never flattened (compaction would drop the backing file);
//! - `disk_image` otherwise: Packer copies (or converts) the source into the output, resizes it,
//!   and compacts it at the end: two full passes. When the output is rewritten at the end anyway
//!   (compaction, compression, or a format other than the source's), kiln boots a temporary
//!   qcow2 overlay on the source (sized to `disk_size` at creation, so no resize) and writes the
//!   output once, at the end, with one `qemu-img convert [-c]` from the overlay. Otherwise
//!   (`skip_compaction`, same format) the plain copy is the one pass, as in Packer; so too when
//!   `qemu_img_args.resize` is set, so that those arguments apply.
//!
//! Additional disks (`disk_additional_size`) are created blank as `VM_NAME-1` … and kept as
//! the VM left them.

use std::path::{Path, PathBuf};

use kiln_core::progress::Progress;
use kiln_core::{Error, Result};

use super::args::Disk;
use super::config::{Config, DiskSize, Format};
use super::process;

/// `qemu-img`, by path or name.
#[derive(Debug, Clone)]
pub struct QemuImg {
    pub program: PathBuf,
}

impl Default for QemuImg {
    fn default() -> Self {
        QemuImg { program: PathBuf::from("qemu-img") }
    }
}

/// What `qemu-img info` says about an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    /// `qcow2`, `raw`, `vmdk` …
    pub format: String,
    pub virtual_size: u64,
    pub backing_file: Option<String>,
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

impl QemuImg {
    async fn run(&self, args: Vec<String>) -> Result<process::Output> {
        process::run(&self.program, &args).await
    }

    pub async fn info(&self, path: &Path) -> Result<ImageInfo> {
        // --force-share: the image may be open in a running VM (a backing file).
        let out = self.run(vec!["info".into(), "--force-share".into(), "--output=json".into(), s(path)]).await?;
        let v: serde_json::Value = serde_json::from_str(&out.stdout)
            .map_err(|e| Error::new(format!("qemu-img info {}: unexpected output ({e})", path.display())))?;
        Ok(ImageInfo {
            format: v["format"].as_str().unwrap_or("").to_string(),
            virtual_size: v["virtual-size"].as_u64().unwrap_or(0),
            backing_file: v["backing-filename"].as_str().map(str::to_string),
        })
    }

    /// Whether `path` and every image under it (its backing chain) can be opened.
    pub async fn check_chain(&self, path: &Path) -> Result<()> {
        self.run(vec!["info".into(), "--force-share".into(), "--backing-chain".into(), s(path)]).await.map(drop)
    }

    /// `qemu-img create -f FORMAT [-b BACKING -F BACKING_FORMAT] [extra] PATH [SIZE]`.
    pub async fn create(
        &self,
        path: &Path,
        format: &str,
        size: Option<&str>,
        backing: Option<(&Path, &str)>,
        extra: &[String],
    ) -> Result<()> {
        let mut a = vec!["create".to_string(), "-f".into(), format.into()];
        if let Some((b, bf)) = backing {
            // -F: QEMU 7 refuses a backing file without its format (Packer 1.6.6 omits it).
            a.extend(["-b".into(), s(b), "-F".into(), bf.into()]);
        }
        a.extend(extra.iter().cloned());
        a.push(s(path));
        a.extend(size.map(str::to_string));
        self.run(a).await.map(drop)
    }

    /// `qemu-img resize -f FORMAT [extra] PATH SIZE`.
    pub async fn resize(&self, path: &Path, format: &str, size: &str, extra: &[String]) -> Result<()> {
        let mut a = vec!["resize".to_string(), "-f".into(), format.into()];
        a.extend(extra.iter().cloned());
        a.extend([s(path), size.into()]);
        self.run(a).await.map(drop)
    }

    /// `qemu-img convert -p [-c] [extra] -O FORMAT SRC DST`; `progress` follows `-p`'s percent,
    /// scaled to its total (nothing is added to a progress without one).
    pub async fn convert(
        &self,
        src: &Path,
        dst: &Path,
        format: &str,
        compress: bool,
        extra: &[String],
        progress: Option<&Progress>,
    ) -> Result<()> {
        let progress = progress.and_then(|p| Some((p, p.total()?)));
        let mut a = vec!["convert".to_string(), "-p".into()];
        if compress {
            a.push("-c".into());
        }
        a.extend(extra.iter().cloned());
        a.extend(["-O".into(), format.into(), s(src), s(dst)]);
        let mut reported = 0u64;
        let on_stdout = |chunk: &str| {
            if let (Some((p, total)), Some(pct)) = (progress, last_percent(chunk)) {
                let now = (total as f64 * pct / 100.0) as u64;
                if now > reported {
                    p.add(now - reported);
                    reported = now;
                }
            }
        };
        process::run_with(&self.program, &a, on_stdout).await.map(drop)
    }
}

/// The last `(12.34/100%)` of qemu-img's `-p` output in `chunk`.
pub fn last_percent(chunk: &str) -> Option<f64> {
    let end = chunk.rfind("/100%)")?;
    let start = chunk[..end].rfind('(')? + 1;
    chunk[start..end].trim().parse().ok()
}

/// How the main disk comes to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Main {
    /// A blank disk (installer ISO builds).
    Blank { size: DiskSize },
    /// A qcow2 overlay on `source` kept as the output (`use_backing_file`).
    Backed { source: PathBuf, source_format: String, size: Option<DiskSize> },
    /// A temporary overlay on `source`; the output is written from it at the end.
    Overlay { source: PathBuf, source_format: String, size: Option<DiskSize> },
    /// Packer's way: copy or convert `source` into the output, then resize it.
    Copy { source: PathBuf, source_format: String, size: Option<DiskSize> },
}

/// The disks of one build and what happens to them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskPlan {
    pub main: Main,
    /// The artifact's main disk: `OUTPUT_DIRECTORY/VM_NAME`.
    pub output: PathBuf,
    /// The file the VM writes (the output itself, or the temporary overlay).
    pub working: PathBuf,
    pub format: Format,
    pub additional: Vec<(PathBuf, DiskSize)>,
    /// Rewrite the main disk at the end (compaction, compression or the overlay's flattening).
    pub convert_at_end: bool,
    pub compress: bool,
    pub args: super::config::QemuImgArgs,
}

impl DiskPlan {
    /// The plan for `config`; `source` is the downloaded `iso_url` with its format (from
    /// [`QemuImg::info`]) when `disk_image` is set.
    pub fn new(config: &Config, output_dir: &Path, vm_name: &str, source: Option<(&Path, &str)>) -> Result<DiskPlan> {
        let output = output_dir.join(vm_name);
        let size = config.disk_size().map_err(Error::new)?;
        let additional = config
            .additional_sizes()
            .map_err(Error::new)?
            .into_iter()
            .enumerate()
            .map(|(i, sz)| (output_dir.join(format!("{vm_name}-{}", i + 1)), sz))
            .collect();
        let resize = (!config.skip_resize_disk).then_some(size.clone());
        let qcow2 = config.format == Format::Qcow2;
        let compress = qcow2 && config.disk_compression;
        let compact = qcow2 && (!config.skip_compaction || config.disk_compression);
        let (main, working, convert_at_end) = match (config.disk_image, source) {
            (false, _) => (Main::Blank { size }, output.clone(), compact),
            (true, None) => return Err(Error::new("disk_image is set but there is no source image (iso_url)")),
            (true, Some((src, fmt))) => {
                let (source, source_format) = (absolute(src)?, fmt.to_string());
                // The overlay saves a pass only when the output is rewritten anyway (compaction,
                // or another format); otherwise a plain copy is the one pass, and the cheaper.
                let rewritten = compact || source_format != config.format.as_str();
                if config.use_backing_file {
                    (Main::Backed { source, source_format, size: resize }, output.clone(), false)
                } else if rewritten && config.qemu_img_args.resize.is_empty() {
                    let overlay = output_dir.join(format!(".{vm_name}.kiln-overlay.qcow2"));
                    (Main::Overlay { source, source_format, size: resize }, overlay, true)
                } else {
                    (Main::Copy { source, source_format, size: resize }, output.clone(), compact)
                }
            }
        };
        Ok(DiskPlan {
            main,
            output,
            working,
            format: config.format,
            additional,
            convert_at_end,
            compress,
            args: config.qemu_img_args.clone(),
        })
    }

    /// The same plan with the VM's disk a new qcow2 layer `working` on `base` (the step
    /// cache's layer to start from; the source image when `None`), written into the output at
    /// the end in one pass.
    pub fn layered(mut self, working: PathBuf, base: Option<PathBuf>) -> Result<DiskPlan> {
        let (source, source_format, size) = match self.main {
            Main::Overlay { source, source_format, size }
            | Main::Copy { source, source_format, size }
            | Main::Backed { source, source_format, size } => (source, source_format, size),
            Main::Blank { .. } => return Err(Error::new("the step cache's disk layers need a disk_image")),
        };
        let (source, source_format) = match base {
            Some(b) => (b, "qcow2".to_string()),
            None => (source, source_format),
        };
        self.main = Main::Overlay { source, source_format, size };
        self.working = working;
        self.convert_at_end = true;
        Ok(self)
    }

    /// The disks the VM gets, main first.
    pub fn disks(&self) -> Vec<Disk> {
        let main_format = if matches!(self.main, Main::Overlay { .. }) { Format::Qcow2 } else { self.format };
        let mut v = vec![Disk { path: self.working.clone(), format: main_format }];
        v.extend(self.additional.iter().map(|(p, _)| Disk { path: p.clone(), format: self.format }));
        v
    }

    /// Every file [`DiskPlan::create`] may make (for cleanup on failure).
    pub fn files(&self) -> Vec<PathBuf> {
        let mut v = vec![self.output.clone(), self.working.clone(), convert_target(&self.output)];
        v.extend(self.additional.iter().map(|(p, _)| p.clone()));
        v.dedup();
        v
    }

    /// Creates the disks (StepCreateDisk). `say` reports each action.
    pub async fn create(&self, img: &QemuImg, say: &(dyn Fn(String) + Sync)) -> Result<()> {
        let fmt = self.format.as_str();
        let create_args = &self.args.create;
        match &self.main {
            Main::Blank { size } => {
                say(format!("Creating disk {} ({})", self.output.display(), size.text));
                img.create(&self.output, fmt, Some(&size.text), None, create_args).await?;
            }
            Main::Backed { source, source_format, size } | Main::Overlay { source, source_format, size } => {
                let info = img.info(source).await?;
                check_not_shrinking(size.as_ref(), info.virtual_size, &[])?;
                let target_format = if matches!(self.main, Main::Backed { .. }) { fmt } else { "qcow2" };
                say(format!("Creating {} on {}", self.working.display(), source.display()));
                let size = size.as_ref().map(|s| s.text.as_str());
                img.create(&self.working, target_format, size, Some((source, source_format)), create_args).await?;
            }
            Main::Copy { source, source_format, size } => {
                let info = img.info(source).await?;
                check_not_shrinking(size.as_ref(), info.virtual_size, &self.args.resize)?;
                if source_format == fmt {
                    say(format!("Copying {} to {}", source.display(), self.output.display()));
                    copy(source, &self.output).await?;
                } else {
                    say(format!("Converting {} to {fmt} at {}", source.display(), self.output.display()));
                    img.convert(source, &self.output, fmt, false, &[], None).await?;
                }
                if let Some(size) = size {
                    say(format!("Resizing {} to {}", self.output.display(), size.text));
                    img.resize(&self.output, fmt, &size.text, &self.args.resize).await?;
                }
            }
        }
        for (path, size) in &self.additional {
            say(format!("Creating disk {} ({})", path.display(), size.text));
            img.create(path, fmt, Some(&size.text), None, create_args).await?;
        }
        Ok(())
    }

    /// Writes the artifact's main disk after the VM stopped (StepConvertDisk): compaction,
    /// compression or the overlay's one pass; nothing when the working disk is the output and
    /// needs no rewrite. `progress` follows it, scaled to its total (the working disk's virtual
    /// size).
    pub async fn finish(
        &self,
        img: &QemuImg,
        say: &(dyn Fn(String) + Sync),
        progress: Option<&Progress>,
    ) -> Result<()> {
        if !self.convert_at_end {
            return Ok(());
        }
        let fmt = self.format.as_str();
        let what = if self.compress { "Compressing" } else { "Converting" };
        say(format!("{what} the disk into {}", self.output.display()));
        let target = convert_target(&self.output);
        let r = img.convert(&self.working, &target, fmt, self.compress, &self.args.convert, progress).await;
        if let Err(e) = r {
            let _ = tokio::fs::remove_file(&target).await;
            return Err(e);
        }
        tokio::fs::rename(&target, &self.output)
            .await
            .map_err(|e| Error::new(format!("renaming {} to {}: {e}", target.display(), self.output.display())))?;
        if self.working != self.output {
            tokio::fs::remove_file(&self.working)
                .await
                .map_err(|e| Error::new(format!("removing {}: {e}", self.working.display())))?;
        }
        Ok(())
    }
}

/// With `efi_boot`: copies `efi_firmware_vars` to `OUTPUT_DIRECTORY/efivars.fd`, the VM's own
/// writable variable store (the template stays untouched). `None` without `efi_boot`.
pub async fn prepare_efi_vars(config: &Config, output_dir: &Path) -> Result<Option<PathBuf>> {
    if !config.efi() {
        return Ok(None);
    }
    let dst = output_dir.join("efivars.fd");
    copy(Path::new(config.efi_vars()), &dst).await?;
    Ok(Some(dst))
}

/// Where the final conversion writes before it replaces the output (as Packer: `NAME.convert`).
fn convert_target(output: &Path) -> PathBuf {
    let mut s = output.as_os_str().to_owned();
    s.push(".convert");
    PathBuf::from(s)
}

/// Growing is fine; shrinking loses data unless the user asked for it with `--shrink`.
fn check_not_shrinking(size: Option<&DiskSize>, current: u64, resize_args: &[String]) -> Result<()> {
    match size {
        Some(s) if s.bytes < current && !resize_args.iter().any(|a| a == "--shrink") => Err(Error::new(format!(
            "disk_size {} is smaller than the source image ({current} bytes): set skip_resize_disk to keep the image's size, or a larger disk_size",
            s.text
        ))),
        _ => Ok(()),
    }
}

fn absolute(p: &Path) -> Result<PathBuf> {
    std::path::absolute(p).map_err(|e| Error::new(format!("{}: {e}", p.display())))
}

/// A plain copy: the kernel's copy_file_range (a reflink where the file system can) beats
/// reading through qemu-img.
async fn copy(src: &Path, dst: &Path) -> Result<()> {
    tokio::fs::copy(src, dst)
        .await
        .map(drop)
        .map_err(|e| Error::new(format!("copying {} to {}: {e}", src.display(), dst.display())))
}

#[cfg(test)]
#[path = "disk_tests.rs"]
mod tests;
