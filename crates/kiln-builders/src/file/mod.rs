//! The `file` builder: writes `content` (or copies `source`) to `target`; the file is the
//! artifact. Provisioners run without a machine (communicator `none`).

pub mod config;

use std::path::PathBuf;
use std::sync::Arc;

use kiln_config::diag::{Diagnostic, Diagnostics};
use kiln_config::node::Node;
use kiln_core::hook::{HasCommunicator, StepProvision};
use kiln_core::step::{run_steps, Outcome, Step};
use kiln_core::{
    async_trait, Artifact, BasicArtifact, BuildInfo, Builder, Communicator, Error, ProvisionHook, Result, RunContext,
};

pub use config::Config;

pub const BUILDER_ID: &str = "packer.file";

#[derive(Default)]
pub struct FileBuilder {
    config: Config,
}

pub fn new() -> Box<dyn Builder> {
    Box::<FileBuilder>::default()
}

#[derive(Default)]
struct State {
    /// The target, once this build has written it.
    written: Option<PathBuf>,
}

impl HasCommunicator for State {
    fn communicator(&self) -> Option<Arc<dyn Communicator>> {
        Some(Arc::new(kiln_comm::NoneComm))
    }
}

struct StepWriteFile(Config);

#[async_trait]
impl Step<State> for StepWriteFile {
    fn name(&self) -> &'static str {
        "StepWriteFile"
    }

    async fn run(&self, state: &mut State, ctx: &RunContext) -> Result<()> {
        let target = PathBuf::from(&self.0.target);
        // The target is the artifact: an existing one is only replaced with -force, never when
        // it is the source, and is created whole (a temporary file renamed into place).
        let inputs: Vec<&str> = self.0.source.iter().map(String::as_str).collect();
        let mut out = kiln_core::output::OutputFile::create(&target, ctx.info.force, &inputs)?;
        match &self.0.source {
            Some(src) => {
                ctx.ui.say(format!("Copying {src} to {}", self.0.target));
                let size = tokio::fs::metadata(src).await.map(|m| m.len()).ok();
                let progress = kiln_core::progress::Progress::new(&ctx.ui, format!("copying {src}"), size);
                let from = std::path::PathBuf::from(src);
                let copied = tokio::task::spawn_blocking(move || {
                    let r = kiln_core::progress::copy_with_progress(&from, out.file(), &progress);
                    (out, r)
                })
                .await
                .map_err(|e| Error::new(e.to_string()))?;
                out = copied.0;
                copied.1.map_err(|e| Error::new(format!("copying source {src} to target {}: {e}", self.0.target)))?;
            }
            None => {
                use std::io::Write;
                let content = self.0.content.as_deref().unwrap_or("");
                out.file()
                    .write_all(content.as_bytes())
                    .map_err(|e| Error::new(format!("writing target {}: {e}", self.0.target)))?;
            }
        }
        out.commit(0o644)?;
        state.written = Some(target);
        Ok(())
    }

    fn cleans(&self, state: &State) -> Option<String> {
        state.written.as_ref().map(|t| format!("deleting target file {}", t.display()))
    }

    async fn cleanup(&self, state: &mut State, _ctx: &RunContext, outcome: Outcome) {
        // The file is the artifact: keep it unless the build did not finish.
        if outcome.failed || outcome.cancelled {
            if let Some(t) = state.written.take() {
                let _ = tokio::fs::remove_file(t).await;
            }
        }
    }
}

#[async_trait]
impl Builder for FileBuilder {
    fn prepare(&mut self, config: &Node, _info: &BuildInfo) -> Result<Vec<Diagnostic>, Diagnostics> {
        let c: Config = kiln_config::decode::decode_component(config, "the \"file\" builder")?;
        let mut d = Diagnostics::new();
        let mut warnings = Vec::new();
        if c.target.is_empty() {
            d.push(
                Diagnostic::error("the file builder needs a target")
                    .at_opt(config.span_of("target"))
                    .with_help("add \"target\": the path of the file to create"),
            );
        }
        match (&c.source, &c.content) {
            (Some(_), Some(_)) => d.push(
                Diagnostic::error("source and content cannot both be set")
                    .at_opt(config.span_of("content"))
                    .with_help("keep one: content writes literal text, source copies a file"),
            ),
            (None, None) => warnings.push(
                Diagnostic::warning("neither source nor content is set: the target will be an empty file")
                    .at_opt(config.span.clone()),
            ),
            (Some(src), None) if !std::path::Path::new(src).is_file() => d.push(
                Diagnostic::error(format!("source file {src:?} does not exist"))
                    .at_opt(config.span_of("source"))
                    .with_help("give the path of an existing file, relative to the current directory"),
            ),
            _ => {}
        }
        d.into_result()?;
        self.config = c;
        Ok(warnings)
    }

    async fn run(&self, ctx: &RunContext, hook: Arc<dyn ProvisionHook>) -> Result<Option<Arc<dyn Artifact>>> {
        let steps: Vec<Box<dyn Step<State>>> =
            vec![Box::new(StepWriteFile(self.config.clone())), Box::new(StepProvision { hook })];
        run_steps(&steps, &mut State::default(), ctx).await?;
        Ok(Some(Arc::new(BasicArtifact {
            builder_id: BUILDER_ID.into(),
            id: "File".into(),
            files: vec![self.config.target.clone()],
            description: format!("Stored file: {}", self.config.target),
            owns_files: true,
            ..BasicArtifact::default()
        })))
    }
}
