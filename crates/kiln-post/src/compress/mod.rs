//! `compress`: packs the artifact's files into one archive. The format comes from the output
//! file's final name (`.tar.gz`, `.tgz`, `.tar`, `.gz`, `.zip`, `.lz4`, `.tar.lz4`, `.bgzf`,
//! `.tar.bgzf`), or from `format`. gzip and BGZF compress blocks on every core.
//!
//! Unlike Packer 1.6.6, which looks at the output string before `{{ }}` are rendered (so a
//! templated name ending in `.tar` silently becomes gzip), kiln looks at the rendered name.

mod archive;
mod blocks;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use kiln_core::{
    async_trait, Artifact, BasicArtifact, BuildInfo, Error, PostProcessed, PostProcessor, Result, RunContext,
};
use kiln_template::diag::{did_you_mean, Diagnostic, Diagnostics};
use kiln_template::node::Node;
use serde::Deserialize;

pub use archive::Format;

pub const BUILDER_ID: &str = "packer.post-processor.compress";
const DEFAULT_OUTPUT: &str = "packer_{{.BuildName}}_{{.BuilderType}}";

/// Options of `compress`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The archive to write; its extension picks the format (default
    /// `packer_{{.BuildName}}_{{.BuilderType}}`, a .tar.gz). `{{.BuildName}}` and
    /// `{{.BuilderType}}` are replaced.
    #[serde(default)]
    pub output: Option<String>,
    /// The format, whatever the extension: `tar.gz`, `tar`, `gz`, `zip`, `lz4`, `tar.lz4`,
    /// `bgzf`, `tar.bgzf`.
    #[serde(default)]
    pub format: Option<String>,
    /// 1 (fastest) to 9 (smallest); default 6.
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
        let c: Config = kiln_template::decode::decode_component(config, "the \"compress\" post-processor")?;
        let at = |k: &str| config.get(k).and_then(|n| n.span.clone()).or(config.span.clone());
        if let Some(f) = &c.format {
            if let Err(e) = Format::from_option(f) {
                let mut d = Diagnostic::error(e)
                    .at_opt(at("format"))
                    .with_detail(format!("the formats are: {}", Format::NAMES.join(", ")));
                if let Some(s) = did_you_mean(f.trim_start_matches('.'), Format::NAMES.iter().copied()) {
                    d = d.with_help(format!("did you mean {s:?}?"));
                }
                return Err(d.into());
            }
        }
        // Packer is lenient here: unset, 0 and -1 mean the default, higher values the maximum.
        self.level = match c.compression_level {
            None | Some(0) | Some(-1) => 6,
            Some(l) => l.clamp(1, 9) as u32,
        };
        self.config = c;
        Ok(Vec::new())
    }

    async fn post_process(&self, ctx: &RunContext, artifact: Arc<dyn Artifact>) -> Result<PostProcessed> {
        let output = self.config.output.as_deref().unwrap_or(DEFAULT_OUTPUT);
        let output = kiln_core::late::render(output, &crate::template_data(&ctx.info))?;
        let format = match &self.config.format {
            Some(f) => Format::from_option(f),
            None => Format::from_name(&output),
        }
        .map_err(Error::new)?;
        let files = artifact.files();
        if files.is_empty() {
            return Err(Error::new("the artifact has no files to compress"));
        }
        if !format.is_archive() && files.len() > 1 {
            return Err(Error::new(format!(
                "{output}: the {} format holds one file, but the artifact has {}; name the output .tar.gz, .tar.lz4 or .zip",
                format.name(),
                files.len()
            )));
        }
        let out_path = PathBuf::from(&output);
        // Packer overwrites an existing archive (its -force is for builders' output folders);
        // kiln does too, but says so.
        if out_path.exists() {
            ctx.ui.say(format!("Overwriting the existing {output}"));
        }
        ctx.ui.say(format!("Compressing {} file(s) into {output} ({})", files.len(), format.name()));
        let total = files.iter().map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0)).sum();
        let progress = kiln_core::progress::Progress::new(&ctx.ui, format!("compressing into {output}"), Some(total));
        let stop = Arc::new(AtomicBool::new(false));
        let job = {
            let (files, out_path, stop, progress) =
                (files.clone(), out_path.clone(), Arc::clone(&stop), Arc::clone(&progress));
            let level = self.level;
            tokio::task::spawn_blocking(move || archive::write(format, &files, &out_path, level, &progress, &stop))
        };
        tokio::pin!(job);
        let r = tokio::select! {
            r = &mut job => r,
            _ = ctx.cancel.cancelled() => {
                stop.store(true, Ordering::SeqCst);
                let _ = job.await;
                let _ = std::fs::remove_file(&out_path);
                return Err(Error::cancelled());
            }
        };
        match r
            .map_err(|e| Error::new(e.to_string()))
            .and_then(|r| r.map_err(|e| Error::new(format!("compressing into {output}: {e}"))))
        {
            Ok(()) => {}
            Err(e) => {
                // A half-written archive is worse than none.
                let _ = std::fs::remove_file(&out_path);
                return Err(e);
            }
        }
        progress.finish();
        let a = BasicArtifact {
            builder_id: BUILDER_ID.into(),
            description: format!("compressed artifacts in: {output}"),
            files: vec![output],
            owns_files: true,
            ..BasicArtifact::default()
        };
        Ok(PostProcessed { artifact: Some(Arc::new(a)), keep: false, force_keep: false })
    }
}
