//! `vagrant`: turns an artifact into a Vagrant box (a tar, gzipped, holding `metadata.json`, a
//! `Vagrantfile` and the provider's files).
//!
//! The provider comes from the artifact's builder id, as in Packer: `libvirt` from qemu (the
//! disk image becomes `box.img`), `aws` from amazon-ebs (a Vagrantfile naming the AMI of each
//! region), `docker` from the docker builder's committed image or docker-import/tag/push (a
//! Vagrantfile naming the image). Other inputs need `provider_override`.
//!
//! The box is written with compress's parallel gzip and is deterministic: entries sorted by
//! name, time `SOURCE_DATE_EPOCH` (else 0), owner root, no name or time in the gzip header.

use std::collections::BTreeMap;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kiln_config::diag::{Diagnostic, Diagnostics};
use kiln_config::node::Node;
use kiln_core::{
    async_trait, Artifact, BasicArtifact, BuildInfo, Cancel, Error, PostProcessed, PostProcessor, Result, RunContext,
    Ui,
};
use serde::Deserialize;

use crate::compress::{archive, Algorithm};

pub const BUILDER_ID: &str = "mitchellh.post-processor.vagrant";
const DEFAULT_OUTPUT: &str = "packer_{{ .BuildName }}_{{.Provider}}.box";
const DEFAULT_LEVEL: u32 = 6;

/// The providers kiln makes boxes for, and the builder ids that select each (Packer's).
const PROVIDERS: &[(&str, &[&str])] = &[
    ("aws", &["mitchellh.amazonebs", "mitchellh.amazon.instance"]),
    (
        "docker",
        &[
            "packer.post-processor.docker-import",
            "packer.post-processor.docker-tag",
            "packer.post-processor.docker-push",
        ],
    ),
    ("libvirt", &["transcend.qemu"]),
];

/// Options of `vagrant`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The box to write. `{{.Provider}}`, `{{.BuildName}}`, `{{.ArtifactId}}` and the build's
    /// generated data are replaced. Default `packer_{{ .BuildName }}_{{.Provider}}.box`.
    #[serde(default)]
    pub output: Option<String>,
    /// gzip level of the box: 1 (fastest) to 9 (smallest); -1 means the default, 6; 0 writes
    /// an uncompressed tar (Vagrant reads both); above 9 means 9.
    #[serde(default)]
    pub compression_level: Option<i64>,
    /// Files added to the box's top level under their base names (a box's `info.json`, a
    /// README); the files the provider makes win over an include of the same name.
    #[serde(default)]
    pub include: Vec<String>,
    /// A file whose contents are added to the box's Vagrantfile, after the provider's part.
    /// Go template fields as in `output` are replaced in it.
    #[serde(default)]
    pub vagrantfile_template: Option<String>,
    /// The `vagrantfile_template` is made during the build (by a provisioner, for example),
    /// so it is not checked before the build starts. Default false.
    #[serde(default)]
    pub vagrantfile_template_generated: bool,
    /// The provider to make the box for, whatever the artifact: needed after `artifice`. One
    /// of `aws`, `docker`, `libvirt`.
    #[serde(default)]
    pub provider_override: Option<String>,
    /// The box's architecture (`amd64`, `arm64` …), written into `metadata.json`; Vagrant 2.4
    /// and newer pick boxes by it.
    #[serde(default)]
    pub architecture: Option<String>,
}

#[derive(Default)]
pub struct Vagrant {
    config: Config,
    level: u32,
}

pub fn new() -> Box<dyn PostProcessor> {
    Box::<Vagrant>::default()
}

fn provider_names() -> Vec<&'static str> {
    PROVIDERS.iter().map(|(p, _)| *p).collect()
}

#[async_trait]
impl PostProcessor for Vagrant {
    fn configure(&mut self, config: &Node, _info: &BuildInfo) -> Result<Vec<Diagnostic>, Diagnostics> {
        let c: Config = kiln_config::decode::decode_component(config, "the \"vagrant\" post-processor")?;
        self.level = match c.compression_level {
            None | Some(-1) => DEFAULT_LEVEL,
            Some(n @ 0..=9) => n as u32,
            Some(n) if n > 9 => 9,
            Some(n) => {
                return Err(Diagnostic::error(format!("compression_level {n} is out of range"))
                    .at_opt(config.span_of("compression_level"))
                    .with_detail("levels go from 0 (no compression) to 9 (smallest); -1 means the default, 6")
                    .with_help("use a level from 0 to 9, or leave it out for 6")
                    .into())
            }
        };
        if let Some(p) = &c.provider_override {
            if !provider_names().contains(&p.as_str()) {
                let mut d =
                    Diagnostic::error(format!("provider_override {p:?} is not a provider kiln makes boxes for"))
                        .at_opt(config.span_of("provider_override"))
                        .with_detail(format!("the providers are: {}", provider_names().join(", ")));
                if let Some(s) = kiln_config::diag::did_you_mean(p, provider_names()) {
                    d = d.with_help(format!("did you mean {s:?}?"));
                }
                return Err(d.into());
            }
        }
        if let Some(o) = &c.output {
            if o.is_empty() {
                return Err(Diagnostic::error("vagrant output is empty")
                    .at_opt(config.span_of("output"))
                    .with_help("name the box to write, e.g. output = \"{{.Provider}}.box\", or leave it out")
                    .into());
            }
        }
        if let Some(t) = &c.vagrantfile_template {
            if !c.vagrantfile_template_generated && !Path::new(t).is_file() {
                return Err(Diagnostic::error(format!("vagrantfile_template {t:?} does not exist"))
                    .at_opt(config.span_of("vagrantfile_template"))
                    .with_help(
                        "give the path of an existing file, or set vagrantfile_template_generated = true when \
                         the build makes it",
                    )
                    .into());
            }
        }
        for (i, f) in c.include.iter().enumerate() {
            if !Path::new(f).is_file() {
                return Err(Diagnostic::error(format!("include {f:?} is not a file"))
                    .at_opt(include_span(config, i))
                    .with_help("list existing files in \"include\" (directories are not copied)")
                    .into());
            }
        }
        self.config = c;
        Ok(Vec::new())
    }

    async fn post_process(&self, ctx: &RunContext, artifact: Arc<dyn Artifact>) -> Result<PostProcessed> {
        let provider = match &self.config.provider_override {
            Some(p) => p.clone(),
            None => provider_for(artifact.builder_id())?.to_string(),
        };
        ctx.ui.say(format!("Creating Vagrant box for '{provider}' provider"));

        let mut data: BTreeMap<String, String> = artifact.generated_data().into_iter().collect();
        data.insert("ArtifactId".into(), artifact.id());
        data.insert("BuildName".into(), ctx.info.name.clone());
        data.insert("BuilderType".into(), ctx.info.builder_type.clone());
        data.insert("Provider".into(), provider.clone());
        let template = self.config.output.clone().unwrap_or_else(|| DEFAULT_OUTPUT.to_string());
        let target = kiln_core::late::render(&template, &data)?;

        let made = match provider.as_str() {
            "aws" => aws(artifact.as_ref())?,
            "docker" => docker(artifact.as_ref())?,
            "libvirt" => libvirt(artifact.as_ref())?,
            other => return Err(Error::new(format!("no box layout for provider {other:?}"))),
        };
        let custom = match &self.config.vagrantfile_template {
            Some(t) => {
                ctx.ui.message(format!("Using custom Vagrantfile: {t}"));
                let text = std::fs::read_to_string(t).map_err(|e| Error::new(format!("reading {t}: {e}")))?;
                kiln_core::late::render(&text, &data)?
            }
            None => String::new(),
        };
        let mut metadata = made.metadata;
        metadata.insert("provider".into(), provider.clone().into());
        if let Some(a) = &self.config.architecture {
            metadata.insert("architecture".into(), a.clone().into());
        }
        let job = BoxJob {
            target: target.clone(),
            metadata: serde_json::to_vec(&metadata).map_err(|e| Error::new(e.to_string()))?,
            vagrantfile: vagrantfile(&made.vagrantfile, &custom),
            files: made.files,
            include: self.config.include.clone(),
            level: self.level,
            force: ctx.info.force,
            mtime: crate::compress::source_date_epoch(),
            ui: ctx.ui.clone(),
            cancel: ctx.cancel.clone(),
        };
        let task = tokio::task::spawn_blocking(move || job.run());
        ctx.cancel.run(task).await?.map_err(|e| Error::new(e.to_string()))??;
        let a = BasicArtifact {
            builder_id: BUILDER_ID.into(),
            id: provider.clone(),
            description: format!("'{provider}' provider box: {target}"),
            files: vec![target],
            owns_files: true,
            ..BasicArtifact::default()
        };
        // A box of an AMI or an image refers to it: the input stays whatever the template says.
        // A libvirt box holds its own copy of the disk: keep_input_artifact decides (default
        // off), as in Packer.
        let refers = provider != "libvirt";
        Ok(PostProcessed { artifact: Some(Arc::new(a)), keep: refers, force_keep: refers })
    }
}

/// Where element `i` of `include` is (else the option, else the block).
fn include_span(config: &Node, i: usize) -> Option<kiln_config::diag::Span> {
    let inc = config.get("include")?;
    match &inc.settled().kind {
        kiln_config::node::NodeKind::Array(items) => items.get(i).and_then(|n| n.span.clone()).or(inc.span.clone()),
        _ => inc.span.clone(),
    }
    .or_else(|| config.span.clone())
}

/// The provider for an artifact's builder id, or an error naming what would work.
pub fn provider_for(builder_id: &str) -> Result<&'static str> {
    if let Some((p, _)) = PROVIDERS.iter().find(|(_, ids)| ids.contains(&builder_id)) {
        return Ok(p);
    }
    let mut msg = format!("the vagrant post-processor cannot make a box from a {builder_id} artifact");
    if builder_id == crate::artifice::BUILDER_ID {
        msg.push_str(&format!(
            "; after artifice, set provider_override to the box's provider ({})",
            provider_names().join(", ")
        ));
    } else if builder_id == "packer.docker" {
        msg.push_str("; the docker builder makes an image for a box only with commit = true");
    } else {
        msg.push_str(&format!(
            "; kiln makes boxes from qemu (libvirt), amazon-ebs (aws) and docker images (docker), or for \
             provider_override ({})",
            provider_names().join(", ")
        ));
    }
    Err(Error::new(msg))
}

/// What a provider puts into the box besides metadata.json's `provider`.
struct Made {
    metadata: serde_json::Map<String, serde_json::Value>,
    vagrantfile: String,
    /// (name in the box, path) of files copied into the box.
    files: Vec<archive::Entry>,
}

/// The box's Vagrantfile: the provider's part, then the template's.
fn vagrantfile(provider: &str, custom: &str) -> String {
    format!(
        "# Made by kiln's vagrant post-processor.\n{}\n# From the template's vagrantfile_template (if any).\n{}\n",
        provider.trim_end(),
        custom.trim_end()
    )
}

/// Ruby's double-quoted string of `s`.
fn ruby_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' | '\\' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// aws: the AMI of each region (the artifact id is `region:ami,region:ami`).
fn aws(artifact: &dyn Artifact) -> Result<Made> {
    let id = artifact.id();
    let mut amis = BTreeMap::new();
    for part in id.split(',').filter(|p| !p.is_empty()) {
        let Some((region, ami)) = part.split_once(':') else {
            return Err(Error::new(format!("the artifact id {id:?} is not region:ami pairs; cannot make an aws box")));
        };
        amis.insert(region.to_string(), ami.to_string());
    }
    if amis.is_empty() {
        return Err(Error::new("the artifact names no AMI; cannot make an aws box"));
    }
    let mut v = String::from("Vagrant.configure(\"2\") do |config|\n  config.vm.provider \"aws\" do |aws|\n");
    for (region, ami) in &amis {
        v.push_str(&format!("    aws.region_config {}, ami: {}\n", ruby_string(region), ruby_string(ami)));
    }
    v.push_str("  end\nend\n");
    Ok(Made { metadata: Default::default(), vagrantfile: v, files: Vec::new() })
}

/// docker: the image (the artifact id).
fn docker(artifact: &dyn Artifact) -> Result<Made> {
    let image = artifact.id();
    if image.is_empty() {
        return Err(Error::new("the artifact names no image; cannot make a docker box"));
    }
    let v = format!(
        "Vagrant.configure(\"2\") do |config|\n  config.vm.provider :docker do |docker, override|\n    docker.image = {}\n  end\nend\n",
        ruby_string(&image)
    );
    Ok(Made { metadata: Default::default(), vagrantfile: v, files: Vec::new() })
}

/// libvirt: the build's disk image as `box.img`, its format and size (whole GiB, rounded up)
/// in metadata.json, the libvirt driver for the build's accelerator.
fn libvirt(artifact: &dyn Artifact) -> Result<Made> {
    let files = artifact.files();
    let state_str = |k: &str| artifact.state(k).and_then(|v| v.as_str().map(str::to_string));
    let disk_name = state_str("diskName");
    let disk = match &disk_name {
        Some(name) => files.iter().find(|f| Path::new(f).file_name().is_some_and(|n| n.to_string_lossy() == *name)),
        None if files.len() == 1 => files.first(),
        None => None,
    };
    let Some(disk) = disk.cloned() else {
        return Err(Error::new(format!(
            "no disk image{} among the artifact's files ({}); cannot make a libvirt box",
            disk_name.map(|n| format!(" named {n}")).unwrap_or_default(),
            files.join(", ")
        )));
    };
    let (format, bytes) = disk_format_and_size(Path::new(&disk))?;
    if let Some(stated) = state_str("diskType") {
        if !stated.is_empty() && stated != format {
            return Err(Error::new(format!("{disk} is a {format} image, but the build says {stated}")));
        }
    }
    let gib = bytes.div_ceil(1 << 30);
    let driver = match state_str("domainType").as_deref() {
        Some("kvm") => "kvm",
        _ => "qemu",
    };
    let mut metadata = serde_json::Map::new();
    metadata.insert("format".into(), format.into());
    metadata.insert("virtual_size".into(), gib.into());
    let v = format!(
        "Vagrant.configure(\"2\") do |config|\n  config.vm.provider :libvirt do |libvirt|\n    libvirt.driver = {}\n  end\nend\n",
        ruby_string(driver)
    );
    Ok(Made { metadata, vagrantfile: v, files: vec![archive::Entry { name: "box.img".into(), path: disk }] })
}

/// The format (`qcow2` or `raw`) and virtual size in bytes of a disk image, read from the
/// image itself: a qcow2 header's size field, else the file's length.
pub fn disk_format_and_size(path: &Path) -> Result<(&'static str, u64)> {
    let err = |e: io::Error| Error::new(format!("reading {}: {e}", path.display()));
    let mut f = std::fs::File::open(path).map_err(err)?;
    let mut head = [0u8; 32];
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]).map_err(err)? {
            0 => break,
            k => n += k,
        }
    }
    if n == head.len() && &head[..4] == b"QFI\xfb" {
        let size = u64::from_be_bytes(head[24..32].try_into().expect("8 bytes"));
        return Ok(("qcow2", size));
    }
    let len = f.seek(SeekFrom::End(0)).map_err(err)?;
    Ok(("raw", len))
}

/// Writing one box, free of the async runtime.
struct BoxJob {
    target: String,
    metadata: Vec<u8>,
    vagrantfile: String,
    files: Vec<archive::Entry>,
    include: Vec<String>,
    level: u32,
    force: bool,
    mtime: u64,
    ui: Ui,
    cancel: Cancel,
}

/// A folder removed with everything in it when dropped.
struct Staging(PathBuf);

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl BoxJob {
    fn run(&self) -> Result<()> {
        let target = Path::new(&self.target);
        let inputs: Vec<&str> =
            self.files.iter().map(|e| e.path.as_str()).chain(self.include.iter().map(String::as_str)).collect();
        let mut out = kiln_core::output::OutputFile::create(target, self.force, &inputs)?;
        // metadata.json and the Vagrantfile are written into a private folder beside the box;
        // the disk image is read where it is (never copied).
        let staging = Staging(kiln_core::output::temp_path_beside(target, "vagrant"));
        std::fs::create_dir(&staging.0).map_err(|e| Error::new(format!("creating {}: {e}", staging.0.display())))?;
        let mut by_name: BTreeMap<String, String> = BTreeMap::new();
        for inc in &self.include {
            self.ui.message(format!("Copying from include: {inc}"));
            let name = Path::new(inc).file_name().map_or_else(|| inc.clone(), |n| n.to_string_lossy().into_owned());
            by_name.insert(name, inc.clone());
        }
        for (name, bytes) in [("metadata.json", self.metadata.as_slice()), ("Vagrantfile", self.vagrantfile.as_bytes())]
        {
            let p = staging.0.join(name);
            write_file(&p, bytes).map_err(|e| Error::new(format!("writing {}: {e}", p.display())))?;
            by_name.insert(name.to_string(), p.to_string_lossy().into_owned());
        }
        for e in &self.files {
            self.ui.message(format!("Copying from artifact: {}", e.path));
            by_name.insert(e.name.clone(), e.path.clone());
        }
        let entries: Vec<archive::Entry> =
            by_name.into_iter().map(|(name, path)| archive::Entry { name, path }).collect();
        let alg = if self.level == 0 { None } else { Some(Algorithm::Gzip) };
        if let Some(a) = alg {
            let cores = crate::compress::deflate::threads();
            self.ui.say(format!("Compressing box with {} on {cores} core(s): {}", a.name(), self.target));
        }
        if let Err(e) = self.write(out.file(), &entries, alg) {
            drop(out);
            if self.cancel.is_cancelled() {
                return Err(Error::cancelled());
            }
            return Err(Error::new(format!("writing {}: {e}", self.target)));
        }
        out.commit(0o644)?;
        self.ui.say(format!("Box {} completed", self.target));
        Ok(())
    }

    fn write(&self, file: &mut std::fs::File, entries: &[archive::Entry], alg: Option<Algorithm>) -> io::Result<()> {
        let total: u64 = entries.iter().filter_map(|e| std::fs::metadata(&e.path).ok()).map(|m| m.len()).sum();
        let label = format!("writing {}", self.target);
        let (ui, cancel) = (self.ui.clone(), self.cancel.clone());
        let mut shown = 0u64;
        let mut report = move |done: u64| {
            if cancel.is_cancelled() {
                return Err(io::Error::other("cancelled"));
            }
            if done >> 26 != shown >> 26 || done == total {
                shown = done;
                ui.progress(&label, done, Some(total));
            }
            Ok(())
        };
        let w = crate::compress::compressor(io::BufWriter::with_capacity(1 << 20, file), alg, self.level)?;
        let w = archive::write_tar(w, entries, self.mtime, &mut report)?;
        w.finish()
    }
}

/// Writes a small file with mode 0644 (the tar entry takes the file's mode).
fn write_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let mut f = kiln_core::output::create_exclusive(path)?;
    f.write_all(bytes)?;
    f.set_permissions(std::fs::Permissions::from_mode(0o644))
}

#[cfg(test)]
mod tests;
