//! `file`: uploads files or folders to the machine (or downloads them from it).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kiln_config::diag::{Diagnostic, Diagnostics};
use kiln_config::node::Node;
use kiln_core::cache::{Cacheable, Inputs};
use kiln_core::{async_trait, BuildInfo, Communicator, Error, GeneratedData, Provisioner, Result, RunContext};
use serde::Deserialize;

/// Options of `file`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// A file or folder to copy. A folder ending in `/` copies its contents; without the `/`,
    /// the folder itself is copied into `destination`.
    #[serde(default)]
    pub source: Option<String>,
    /// Several sources; `destination` is then a folder.
    #[serde(default)]
    pub sources: Option<Vec<String>>,
    /// Literal content to write to `destination` (instead of a source).
    #[serde(default)]
    pub content: Option<String>,
    /// Where to copy to. Required. Ending in `/` means "into this folder".
    #[serde(default)]
    pub destination: String,
    /// `upload` (default) or `download`.
    #[serde(default)]
    pub direction: Option<String>,
    /// The source is made during the build: don't check that it exists beforehand.
    #[serde(default)]
    pub generated: bool,
}

#[derive(Default)]
pub struct FileProv {
    config: Config,
}

pub fn new() -> Box<dyn Provisioner> {
    Box::<FileProv>::default()
}

/// `dst` with the source's file name appended when `dst` names a folder (ends in `/`).
fn file_destination(dst: &str, src: &str) -> String {
    if dst.ends_with('/') {
        let name = Path::new(src.trim_end_matches('/')).file_name().map(|n| n.to_string_lossy().into_owned());
        format!("{dst}{}", name.unwrap_or_default())
    } else {
        dst.to_string()
    }
}

#[async_trait]
impl Provisioner for FileProv {
    fn prepare(&mut self, config: &Node, _info: &BuildInfo) -> Result<Vec<Diagnostic>, Diagnostics> {
        let c: Config = kiln_config::decode::decode_component(config, "the \"file\" provisioner")?;
        let mut d = Diagnostics::new();
        let direction = c.direction.as_deref().unwrap_or("upload");
        if direction != "upload" && direction != "download" {
            d.push(
                Diagnostic::error(format!("invalid direction {direction:?}"))
                    .at_opt(config.span_of("direction"))
                    .with_help("use \"upload\" or \"download\""),
            );
        }
        let n = usize::from(c.source.is_some()) + usize::from(c.sources.is_some()) + usize::from(c.content.is_some());
        if n == 0 {
            d.push(
                Diagnostic::error("the file provisioner has nothing to copy")
                    .at_opt(config.span.clone())
                    .with_help("set \"source\", \"sources\" or \"content\""),
            );
        } else if n > 1 {
            d.push(Diagnostic::error("only one of source, sources or content may be set").at_opt(config.span.clone()));
        }
        if c.content.is_some() && direction == "download" {
            d.push(Diagnostic::error("content can only be uploaded").at_opt(config.span_of("content")));
        }
        if c.destination.is_empty() {
            d.push(
                Diagnostic::error("the file provisioner needs a destination")
                    .at_opt(config.span_of("destination"))
                    .with_help("add \"destination\""),
            );
        }
        if direction == "upload" && !c.generated {
            for s in c.source.iter().chain(c.sources.iter().flatten()) {
                if !Path::new(s).exists() {
                    let key = if c.source.is_some() { "source" } else { "sources" };
                    d.push(
                        Diagnostic::error(format!("source {s:?} does not exist"))
                            .at_opt(config.span_of(key))
                            .with_help("fix the path, or set \"generated\": true if the build creates it"),
                    );
                }
            }
        }
        d.into_result()?;
        self.config = c;
        Ok(Vec::new())
    }

    /// The bytes of every file and folder it uploads (`content` is in the configuration). A
    /// download writes files on this machine, which a cached step would not do: not cacheable.
    fn inputs(&self, _info: &BuildInfo, inputs: &mut Inputs) -> Result<Cacheable> {
        let c = &self.config;
        if c.direction.as_deref() == Some("download") {
            return Ok(Cacheable::No("it downloads files to this machine (direction \"download\")".into()));
        }
        for s in c.source.iter().chain(c.sources.iter().flatten()) {
            inputs.add_path("source", Path::new(s))?;
        }
        Ok(Cacheable::Yes)
    }

    async fn provision(&self, ctx: &RunContext, comm: Arc<dyn Communicator>, _data: &GeneratedData) -> Result<()> {
        let r = self.transfer(ctx, &comm).await;
        if matches!(r, Err(ref e) if e.cancelled) {
            // A cancelled upload's partial file is being removed: wait for it and say so.
            comm.stop_cancelled(&ctx.ui).await;
        }
        r
    }
}

impl FileProv {
    async fn transfer(&self, ctx: &RunContext, comm: &Arc<dyn Communicator>) -> Result<()> {
        let c = &self.config;
        let ui = &ctx.ui;
        let dst = &c.destination;
        if let Some(content) = &c.content {
            ui.say(format!("Uploading content => {dst}"));
            return ctx.cancel.run(comm.upload_bytes(dst, content.as_bytes())).await?;
        }
        let sources: Vec<String> = c.source.iter().chain(c.sources.iter().flatten()).cloned().collect();
        // Several sources go into the destination folder.
        let dst = if sources.len() > 1 && !dst.ends_with('/') { format!("{dst}/") } else { dst.clone() };
        for src in &sources {
            if c.direction.as_deref() == Some("download") {
                ui.say(format!("Downloading {src} => {dst}"));
                if src.ends_with('/') {
                    ctx.cancel.run(comm.download_dir(src, Path::new(&dst), &[])).await??;
                } else {
                    let target = PathBuf::from(file_destination(&dst, src));
                    ctx.cancel.run(comm.download_file(src, &target)).await??;
                }
                continue;
            }
            ui.say(format!("Uploading {src} => {dst}"));
            let meta = tokio::fs::metadata(src).await.map_err(|e| Error::new(format!("reading source {src}: {e}")))?;
            if meta.is_dir() {
                ctx.cancel.run(comm.upload_dir(&dst, Path::new(src), &[])).await??;
            } else {
                let progress = kiln_core::progress::Progress::new(ui, format!("uploading {src}"), Some(meta.len()));
                ctx.cancel
                    .run(comm.upload_file_progress(&file_destination(&dst, src), Path::new(src), progress))
                    .await??;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_destinations_take_the_source_name() {
        assert_eq!(file_destination("/etc/", "app/nginx.conf"), "/etc/nginx.conf");
        assert_eq!(file_destination("/etc/x.conf", "app/nginx.conf"), "/etc/x.conf");
    }
}
