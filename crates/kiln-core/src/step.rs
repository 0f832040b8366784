//! The step runner: a builder is a list of steps, each `run` + `cleanup`, sharing one typed
//! state struct. The runner runs them in order and the cleanups of the steps that ran in reverse
//! order, on success, on error (as `-on-error` says) and on cancellation.
//!
//! The rules for steps that own outside resources (processes, files, containers, instances):
//! - a resource's handle is in the state before the step's next await, so a step cancelled at
//!   any await leaves its cleanup all it needs (checked by `testing::cancel_at_each_await`);
//! - `cleans()` says what the cleanup will undo; the runner records it after each step ran (in
//!   [`left_behind`], what a second Ctrl-C prints) and forgets it once that cleanup finished;
//! - each cleanup has a deadline ([`Step::cleanup_timeout`]); one that passes it is abandoned
//!   with a message naming what is left;
//! - child processes come from [`crate::process`] (stopped with their group when dropped);
//! - resources that can outlive kiln (cloud instances, containers) are also written to the
//!   cleanup journal before they are created ([`crate::journal`]).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use crate::component::{OnError, RunContext};
use crate::Result;

/// How the steps ended, for cleanups that do something only on failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Outcome {
    pub failed: bool,
    pub cancelled: bool,
}

#[async_trait]
pub trait Step<S: Send>: Send + Sync {
    /// Packer-style name (`StepCreateFile`), shown by `-debug` and in the debug log.
    fn name(&self) -> &'static str;
    async fn run(&self, state: &mut S, ctx: &RunContext) -> Result<()>;
    /// What `cleanup` will undo, when there is something ("deleting output directory out/"):
    /// said to the user when cleaning up after a cancellation or failure.
    fn cleans(&self, _state: &S) -> Option<String> {
        None
    }
    async fn cleanup(&self, _state: &mut S, _ctx: &RunContext, _outcome: Outcome) {}
    /// What kind of step this is, for the runner (see [`StepRole`]).
    fn role(&self) -> StepRole {
        StepRole::Normal
    }
    /// How long the cleanup may take before it is abandoned (its `cleans()` then reported as
    /// left behind).
    fn cleanup_timeout(&self) -> Duration {
        DEFAULT_CLEANUP_TIMEOUT
    }
}

/// What kind of step a step is, where the runner treats it differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StepRole {
    /// Makes or changes something: cancelled, it gets [`CANCEL_GRACE`] to finish or undo what
    /// it was in the middle of (an API call whose resource it must still record).
    #[default]
    Normal,
    /// Only waits (for SSH, a boot, an instance state) and holds nothing of its own: cancelled,
    /// it is dropped at once.
    Wait,
    /// The provisioning step: its cleanup runs the `error-cleanup-provisioner`, even with
    /// `-on-error=run-cleanup-provisioner`; the step cache snapshots around it.
    Provision,
}

/// How long a cancelled step may take to stop by itself (removing what it was making) before
/// it is dropped.
pub const CANCEL_GRACE: Duration = Duration::from_secs(10);

/// The default of [`Step::cleanup_timeout`].
pub const DEFAULT_CLEANUP_TIMEOUT: Duration = Duration::from_secs(300);

/// Runs `fut`; once `cancel` fires, lets it wind down for `grace`, then drops it.
async fn run_with_grace<T>(
    fut: impl std::future::Future<Output = Result<T>>,
    cancel: &crate::cancel::Cancel,
    grace: Duration,
) -> Result<T> {
    tokio::pin!(fut);
    tokio::select! {
        r = &mut fut => r,
        _ = cancel.cancelled() => match tokio::time::timeout(grace, &mut fut).await {
            Ok(Err(e)) => Err(e),
            // Finished or not, the build was cancelled.
            Ok(Ok(_)) | Err(_) => Err(crate::Error::cancelled()),
        },
    }
}

/// Runs `fut`; once `cancel` fires, lets it wind down for [`CANCEL_GRACE`], then drops it.
pub async fn run_cancellable<T>(
    fut: impl std::future::Future<Output = Result<T>>,
    cancel: &crate::cancel::Cancel,
) -> Result<T> {
    run_with_grace(fut, cancel, CANCEL_GRACE).await
}

/// What the running builds' steps would leave behind if kiln stopped now: (build, what), as
/// each step's `cleans()` said after it ran, until its cleanup finished.
pub fn left_behind() -> Vec<(String, String)> {
    let pending = PENDING.lock().unwrap_or_else(|p| p.into_inner());
    pending.values().flat_map(|(build, list)| list.iter().map(move |w| (build.clone(), w.clone()))).collect()
}

/// Per running step list: its build's name and what its steps' cleanups would undo.
static PENDING: Mutex<BTreeMap<u64, (String, Vec<String>)>> = Mutex::new(BTreeMap::new());
static NEXT_RUN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// This step list's entry in [`PENDING`]; removed when dropped (the runner ended or was dropped).
struct Pending {
    id: u64,
    build: String,
}

impl Pending {
    fn new(build: &str) -> Pending {
        Pending { id: NEXT_RUN.fetch_add(1, std::sync::atomic::Ordering::SeqCst), build: build.to_string() }
    }

    /// Records what the cleanups of `steps` would undo now.
    fn record<S: Send>(&self, steps: &[Box<dyn Step<S>>], state: &S) {
        let list: Vec<String> = steps.iter().filter_map(|s| s.cleans(state)).collect();
        let mut pending = PENDING.lock().unwrap_or_else(|p| p.into_inner());
        pending.insert(self.id, (self.build.clone(), list));
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        PENDING.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.id);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cleanups {
    All,
    None,
    ProvisionOnly,
}

/// Runs `steps` over `state`; returns the first error (or the cancellation).
pub async fn run_steps<S: Send>(steps: &[Box<dyn Step<S>>], state: &mut S, ctx: &RunContext) -> Result<()> {
    let ui = &ctx.ui;
    let pending = Pending::new(&ctx.info.name);
    let mut ran = 0;
    let mut result = Ok(());
    let mut policy = Cleanups::All;
    let mut i = 0;
    while i < steps.len() {
        if ctx.cancel.is_cancelled() {
            result = Err(crate::Error::cancelled());
            break;
        }
        let step = &steps[i];
        ran = ran.max(i + 1);
        ui.log(format!("Running step {}", step.name()));
        let grace = if step.role() == StepRole::Wait { Duration::ZERO } else { CANCEL_GRACE };
        let r = run_with_grace(step.run(state, ctx), &ctx.cancel, grace).await;
        pending.record(&steps[..ran], state);
        match r {
            Ok(()) => {
                if ctx.info.debug && i + 1 < steps.len() {
                    let q = format!("Pausing after run of step '{}'. Press enter to continue.", step.name());
                    if let Err(e) = ctx.debug_pause(&q).await {
                        result = Err(e);
                        break;
                    }
                }
                i += 1;
            }
            Err(e) if e.cancelled => {
                result = Err(e);
                break;
            }
            Err(e) => {
                policy = match ctx.info.on_error {
                    OnError::Cleanup => Cleanups::All,
                    OnError::Abort => Cleanups::None,
                    OnError::RunCleanupProvisioner => Cleanups::ProvisionOnly,
                    OnError::Ask => {
                        ui.error(format!("Step \"{}\" failed: {e}", step.name()));
                        let q = "[c] Clean up and exit, [a] abort without cleanup, or [r] retry step (build may fail even if retry succeeds)?";
                        match ui.ask(q).await.as_deref().map(str::trim) {
                            Some("r") | Some("R") => {
                                ui.say(format!("Retrying step '{}'...", step.name()));
                                continue;
                            }
                            Some("a") | Some("A") => Cleanups::None,
                            _ => Cleanups::All,
                        }
                    }
                };
                result = Err(e);
                break;
            }
        }
    }
    let outcome = Outcome {
        failed: result.as_ref().is_err_and(|e| !e.cancelled),
        cancelled: result.as_ref().is_err_and(|e| e.cancelled),
    };
    if !outcome.failed {
        policy = Cleanups::All;
    }
    // Cleanups must run to the end even though the build's token is cancelled.
    let cctx = ctx.with_cancel(crate::cancel::Cancel::new());
    let mut left = Vec::new();
    for (i, step) in steps[..ran].iter().enumerate().rev() {
        let run_it = match policy {
            Cleanups::All => true,
            Cleanups::None => false,
            Cleanups::ProvisionOnly => step.role() == StepRole::Provision,
        };
        if !run_it {
            left.extend(step.cleans(state));
            continue;
        }
        let what = step.cleans(state);
        if outcome.failed || outcome.cancelled {
            if let Some(what) = &what {
                ui.say(format!("Cleaning up: {what}"));
            }
        }
        ui.log(format!("Cleaning up step {}", step.name()));
        let limit = step.cleanup_timeout();
        if tokio::time::timeout(limit, step.cleanup(state, &cctx, outcome)).await.is_err() {
            ui.error(format!(
                "Cleanup of step {} did not finish within {}; abandoned it, left behind: {}",
                step.name(),
                kiln_config::golang::format_go_duration(limit),
                what.as_deref().unwrap_or("whatever it was undoing")
            ));
        }
        pending.record(&steps[..i], state);
    }
    if !left.is_empty() {
        ui.error(format!(
            "Not cleaning up, as -on-error asked; left as they are:\n{}",
            left.iter().map(|l| format!("  - {l}")).collect::<Vec<_>>().join("\n")
        ));
    }
    result
}

#[cfg(test)]
mod rules_tests;
#[cfg(test)]
mod tests;
