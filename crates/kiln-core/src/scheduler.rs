//! The scheduler: runs prepared builds (see [`crate::prepare`]) in parallel
//! (`-parallel-builds`), runs each build's post-processor chains, and prints Packer's end-of-run
//! summary. One failed build never stops the others.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kiln_config::build::Build;

use crate::cancel::Cancel;
use crate::component::{Artifact, BuildInfo, OnError, ProvisionHook, RunContext};
use crate::event::{Event, Ui};
use crate::prepare::{PreparedBuild, PreparedPostProcessor};
use crate::render::format_duration;

/// What the `build` command's flags ask for.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// `-parallel-builds`; 0 means no limit.
    pub parallel_builds: usize,
    pub debug: bool,
    pub force: bool,
    pub on_error: OnError,
    /// The folder of the template, for relative paths.
    pub template_dir: PathBuf,
    /// The run's id (manifest's `packer_run_uuid`); generated when empty.
    pub run_uuid: String,
    /// The step cache (`-cache`, `KILN_CACHE`); `None` when off.
    pub cache: Option<Arc<crate::cache::StepCache>>,
}

/// The [`BuildInfo`] components of `build` get.
pub fn build_info(build: &Build, opts: &RunOptions) -> BuildInfo {
    BuildInfo {
        name: build.name.clone(),
        builder_type: build.builder_type.clone(),
        debug: opts.debug,
        force: opts.force,
        on_error: opts.on_error,
        template_dir: opts.template_dir.clone(),
        run_uuid: opts.run_uuid.clone(),
        hcl2: build.hcl2,
        cache: opts.cache.clone(),
    }
}

/// How a run ended.
#[derive(Debug, Default)]
pub struct Summary {
    /// Per build, in order: its artifacts (successful builds only).
    pub artifacts: Vec<(String, Vec<Arc<dyn Artifact>>)>,
    /// Per failed build: the error.
    pub errors: Vec<(String, String)>,
    pub cancelled: bool,
}

impl Summary {
    /// Packer's exit code: 1 when any build failed or the run was cancelled.
    pub fn exit_code(&self) -> u8 {
        u8::from(self.cancelled || !self.errors.is_empty())
    }
}

enum Outcome {
    Done(Vec<Arc<dyn Artifact>>),
    Failed(String),
    Cancelled,
}

/// Runs prepared builds and prints the summary.
pub async fn run_builds(builds: Vec<PreparedBuild>, opts: &RunOptions, ui: &Ui, cancel: &Cancel) -> Summary {
    let start = Instant::now();
    if opts.debug {
        ui.emit(Event::Plain { text: "Debug mode enabled. Builds will not be parallelized.".into() });
    }
    ui.emit(Event::Start { builds: builds.iter().map(|b| b.info.name.clone()).collect() });
    let limit = if opts.debug { 1 } else { opts.parallel_builds };
    let sem =
        Arc::new(tokio::sync::Semaphore::new(if limit == 0 { tokio::sync::Semaphore::MAX_PERMITS } else { limit }));
    let mut set = tokio::task::JoinSet::new();
    let names: Vec<String> = builds.iter().map(|b| b.info.name.clone()).collect();
    for (i, b) in builds.into_iter().enumerate() {
        let sem = Arc::clone(&sem);
        let ui = ui.for_build(&b.info.name);
        let cancel = cancel.clone();
        set.spawn(async move {
            let _permit = tokio::select! {
                p = sem.acquire_owned() => p.ok(),
                _ = cancel.cancelled() => None,
            };
            if cancel.is_cancelled() {
                return (i, Outcome::Cancelled);
            }
            (i, run_one(b, ui, cancel).await)
        });
    }
    let mut outcomes: Vec<Option<Outcome>> = names.iter().map(|_| None).collect();
    while let Some(r) = set.join_next().await {
        match r {
            Ok((i, o)) => outcomes[i] = Some(o),
            // A panicking component is a bug; report it as that build's failure.
            Err(e) => ui.error(format!("internal error: a build task failed: {e}")),
        }
    }
    let mut summary = Summary::default();
    for (name, o) in names.into_iter().zip(outcomes) {
        match o {
            Some(Outcome::Done(a)) => summary.artifacts.push((name, a)),
            Some(Outcome::Failed(e)) => summary.errors.push((name, e)),
            Some(Outcome::Cancelled) => summary.cancelled = true,
            None => summary.errors.push((name, "the build stopped unexpectedly".into())),
        }
    }
    summary.cancelled |= cancel.is_cancelled();
    print_summary(ui, &summary, start.elapsed());
    if let Some(cache) = &opts.cache {
        ui.emit(Event::Plain { text: format!("==> {}", cache.summary()) });
    }
    summary
}

fn print_summary(ui: &Ui, s: &Summary, took: Duration) {
    let plain = |t: String| ui.emit(Event::Plain { text: t });
    plain(format!("\n==> Wait completed after {}", format_duration(took)));
    if s.cancelled {
        plain("Cleanly cancelled builds after being interrupted.".into());
        return;
    }
    if !s.errors.is_empty() {
        ui.emit(Event::ErrorSummary { errors: s.errors.clone() });
    }
    if s.artifacts.iter().any(|(_, a)| !a.is_empty()) {
        plain("\n==> Builds finished. The artifacts of successful builds are:".into());
        for (name, arts) in &s.artifacts {
            ui.emit(Event::ArtifactCount { build: name.clone(), count: arts.len() });
            for (index, a) in arts.iter().enumerate() {
                ui.emit(Event::Artifact {
                    build: name.clone(),
                    index,
                    builder_id: a.builder_id().to_string(),
                    id: a.id(),
                    description: a.description(),
                    files: a.files(),
                });
            }
        }
    } else {
        plain("\n==> Builds finished but no artifacts were created.".into());
    }
}

async fn run_one(b: PreparedBuild, ui: Ui, cancel: Cancel) -> Outcome {
    let start = Instant::now();
    let name = b.info.name.clone();
    let ctx = RunContext { ui: ui.clone(), cancel: cancel.clone(), info: Arc::clone(&b.info) };
    let hook: Arc<dyn ProvisionHook> = b.provisioners.clone();
    let line = |text: String, error: bool| ui.emit(Event::BuildLine { build: name.clone(), text, error });
    let artifact = match b.builder.run(&ctx, hook).await {
        Err(e) if e.cancelled || cancel.is_cancelled() => {
            line(format!("Build '{name}' cancelled after {}.", format_duration(start.elapsed())), true);
            return Outcome::Cancelled;
        }
        Err(e) => {
            line(format!("Build '{name}' errored after {}: {e}", format_duration(start.elapsed())), true);
            return Outcome::Failed(e.message);
        }
        Ok(a) => a,
    };
    let (artifacts, errors) = match artifact {
        Some(a) => post_process(&b.post_processors, a, &ctx).await,
        None => (Vec::new(), Vec::new()),
    };
    if cancel.is_cancelled() {
        line(format!("Build '{name}' cancelled after {}.", format_duration(start.elapsed())), true);
        return Outcome::Cancelled;
    }
    if !errors.is_empty() {
        let msg = if errors.len() == 1 {
            errors[0].clone()
        } else {
            format!(
                "{} errors occurred:\n{}",
                errors.len(),
                errors.iter().map(|e| format!("\t* {e}")).collect::<Vec<_>>().join("\n")
            )
        };
        line(format!("Build '{name}' errored after {}: {msg}", format_duration(start.elapsed())), true);
        return Outcome::Failed(msg);
    }
    line(format!("Build '{name}' finished after {}.", format_duration(start.elapsed())), false);
    Outcome::Done(artifacts)
}

/// Runs the post-processor chains on the builder's artifact, keeping or destroying
/// intermediate artifacts as `keep_input_artifact` and the post-processors decide.
async fn post_process(
    chains: &[Vec<PreparedPostProcessor>],
    original: Arc<dyn Artifact>,
    ctx: &RunContext,
) -> (Vec<Arc<dyn Artifact>>, Vec<String>) {
    let mut artifacts: Vec<Arc<dyn Artifact>> = Vec::new();
    let mut errors = Vec::new();
    let mut keep_original = chains.is_empty();
    // What post-processors refer to as `build.X`: the data of the build that made the artifact.
    let data = crate::generated::build_data(&original.generated_data(), &ctx.info);
    'chains: for chain in chains {
        let mut prior = Arc::clone(&original);
        for (i, pp) in chain.iter().enumerate() {
            if ctx.cancel.is_cancelled() {
                break 'chains;
            }
            ctx.ui.say(format!("Running post-processor: {}", pp.label));
            // A post-processor speaks as `build (label)`, as in Packer: `==> f (compress): …`.
            let pp_ctx = RunContext {
                ui: ctx.ui.for_build(&format!("{} ({})", ctx.ui.build_name().unwrap_or(&ctx.info.name), pp.label)),
                ..ctx.clone()
            };
            let fresh = match pp.for_run(&data, &ctx.info) {
                Ok(f) => f,
                Err(e) => {
                    errors.push(format!("Post-processor failed: {e}"));
                    continue 'chains;
                }
            };
            let post = fresh.as_deref().unwrap_or(pp.post_processor.as_ref());
            let out = match post.post_process(&pp_ctx, Arc::clone(&prior)).await {
                Ok(o) => o,
                Err(e) => {
                    errors.push(format!("Post-processor failed: {e}"));
                    continue 'chains;
                }
            };
            let Some(next) = out.artifact else {
                continue 'chains;
            };
            let keep = match pp.keep_input_artifact {
                Some(false) if out.keep && out.force_keep => {
                    ctx.ui.log(format!("{} needs its input artifact: keep_input_artifact=false ignored", pp.label));
                    true
                }
                Some(user) => user,
                // Files the user had before the build are not the post-processor's to delete.
                None if prior.user_files() => true,
                None => out.keep,
            };
            if !keep && i > 0 && !prior.files().is_empty() {
                // Say what goes: these may be files the user named (artifice).
                ctx.ui.say(format!("Deleting the input artifact of {}: {}", pp.label, prior.files().join(", ")));
            }
            if i == 0 {
                // Other chains may still need the builder's artifact: decide at the end.
                keep_original |= keep;
            } else if keep {
                artifacts.push(Arc::clone(&prior));
            } else if let Err(e) = prior.destroy().await {
                errors.push(format!("Failed cleaning up prior artifact: {e}; post-processor is {}", pp.label));
            }
            prior = next;
        }
        if chain.is_empty() {
            keep_original = true;
            continue;
        }
        artifacts.push(prior);
    }
    if keep_original {
        artifacts.insert(0, original);
    } else if let Err(e) = original.destroy().await {
        errors.push(format!("Error destroying builder artifact: {e}"));
    }
    (artifacts, errors)
}

/// A random version-4 UUID from the OS's random source, for `packer_run_uuid`.
pub fn new_uuid() -> String {
    kiln_config::random::uuid_v4()
}

#[cfg(test)]
mod tests;
