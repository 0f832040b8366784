//! The step runner: a builder is a list of steps, each `run` + `cleanup`, sharing one typed
//! state struct. The runner runs them in order and the cleanups of the steps that ran in reverse
//! order, on success, on error (as `-on-error` says) and on cancellation.

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
    /// The provisioning step, whose cleanup runs the `error-cleanup-provisioner`: it runs even
    /// with `-on-error=run-cleanup-provisioner`.
    fn is_provision(&self) -> bool {
        false
    }
}

/// How long a cancelled step may take to stop by itself (removing what it was making) before
/// it is dropped.
pub const CANCEL_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Runs `fut`; once `cancel` fires, lets it wind down for [`CANCEL_GRACE`], then drops it.
pub async fn run_cancellable<T>(
    fut: impl std::future::Future<Output = Result<T>>,
    cancel: &crate::cancel::Cancel,
) -> Result<T> {
    tokio::pin!(fut);
    tokio::select! {
        r = &mut fut => r,
        _ = cancel.cancelled() => match tokio::time::timeout(CANCEL_GRACE, &mut fut).await {
            Ok(Err(e)) => Err(e),
            // Finished or not, the build was cancelled.
            Ok(Ok(_)) | Err(_) => Err(crate::Error::cancelled()),
        },
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
        let r = run_cancellable(step.run(state, ctx), &ctx.cancel).await;
        match r {
            Ok(()) => {
                if ctx.info.debug && i + 1 < steps.len() {
                    let q = format!("Pausing after run of step '{}'. Press enter to continue.", step.name());
                    let answered = tokio::select! {
                        a = ui.ask(&q) => a,
                        _ = ctx.cancel.cancelled() => None,
                    };
                    if answered.is_none() && ctx.cancel.is_cancelled() {
                        result = Err(crate::Error::cancelled());
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
    for step in steps[..ran].iter().rev() {
        let run_it = match policy {
            Cleanups::All => true,
            Cleanups::None => false,
            Cleanups::ProvisionOnly => step.is_provision(),
        };
        if !run_it {
            left.extend(step.cleans(state));
            continue;
        }
        if outcome.failed || outcome.cancelled {
            if let Some(what) = step.cleans(state) {
                ui.say(format!("Cleaning up: {what}"));
            }
        }
        ui.log(format!("Cleaning up step {}", step.name()));
        step.cleanup(state, &cctx, outcome).await;
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
mod tests;
