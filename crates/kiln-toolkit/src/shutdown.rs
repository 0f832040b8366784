//! Shutting the machine down (Packer's `shutdown_command` / `shutdown_timeout` and
//! `StepShutdown`): the command over the communicator, then a wait of up to `shutdown_timeout`
//! (default 5m) for the machine to stop, saying so; after the timeout the builder's power-off
//! and an error, as Packer does. Without a command, the builder's power-off right away.
//!
//! What "stopped" and "power-off" mean is the builder's: its state implements [`Machine`]
//! (QEMU: the process exited / quit it; EC2: the instance is stopped / StopInstances).

use std::time::Duration;

use kiln_config::decode::Duration as GoDuration;
use kiln_config::golang::format_go_duration;
use kiln_core::step::Step;
use kiln_core::{async_trait, Error, Result, RunContext, Stream};
use serde::Deserialize;

use crate::HasCommon;

/// The shutdown options.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShutdownConfig {
    /// The command that shuts the machine down (`sudo shutdown -P now`), run over the
    /// communicator after provisioning. Unset: the builder stops the machine itself.
    #[serde(default)]
    pub shutdown_command: String,
    /// How long to wait for the machine to stop after `shutdown_command` (default 5m); it is
    /// then powered off and the build fails.
    #[serde(default)]
    pub shutdown_timeout: Option<GoDuration>,
}

impl ShutdownConfig {
    pub fn timeout(&self) -> Duration {
        self.shutdown_timeout.map_or(Duration::from_secs(300), |d| d.get())
    }
}

/// A builder's machine, as the shutdown step needs it.
#[async_trait]
pub trait Machine: HasCommon {
    /// Returns once the machine has stopped (QEMU's process ended, the instance is stopped).
    async fn wait_stopped(&mut self) -> Result<()>;
    /// Stops the machine the builder's own way, now.
    async fn power_off(&mut self) -> Result<()>;
}

/// Runs `shutdown_command` and waits for the machine to stop; powers it off otherwise.
pub struct StepShutdown {
    pub config: ShutdownConfig,
}

impl StepShutdown {
    pub fn new(config: &ShutdownConfig) -> StepShutdown {
        StepShutdown { config: config.clone() }
    }
}

#[async_trait]
impl<S: Machine> Step<S> for StepShutdown {
    fn name(&self) -> &'static str {
        "StepShutdown"
    }

    async fn run(&self, state: &mut S, ctx: &RunContext) -> Result<()> {
        let ui = &ctx.ui;
        let command = self.config.shutdown_command.trim();
        let comm = state.common().comm.clone();
        let (Some(comm), false) = (comm, command.is_empty()) else {
            ui.say("Halting the machine...");
            return ctx.cancel.run(state.power_off()).await?;
        };
        ui.say("Gracefully halting the machine...");
        ui.log(format!("Executing shutdown command: {command}"));
        let timeout = self.config.timeout();
        let out_ui = ui.clone();
        let output = move |s: Stream, line: &str| match s {
            Stream::Stdout => out_ui.message(line),
            Stream::Stderr => out_ui.error(line),
        };
        let mut sent = Box::pin(comm.start(command, &output));
        let mut command_ended: Option<String> = None;
        ui.say(format!("Waiting up to {} for the machine to shut down...", format_go_duration(timeout)));
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let stopped = {
            let mut wait = state.wait_stopped();
            loop {
                tokio::select! {
                    r = &mut wait => break Some(r),
                    _ = &mut deadline => break None,
                    _ = ctx.cancel.cancelled() => return Err(Error::cancelled()),
                    // The connection usually drops as the machine goes down: only worth a note.
                    r = &mut sent, if command_ended.is_none() => {
                        let how = match r {
                            Ok(Some(code)) => format!("exited with status {code}"),
                            Ok(None) => "ended without a status (the connection closed)".to_string(),
                            Err(e) => format!("failed: {e}"),
                        };
                        ui.log(format!("shutdown command {how}"));
                        command_ended = Some(how);
                    }
                }
            }
        };
        match stopped {
            Some(r) => r,
            None => {
                ui.error("Timeout while waiting for the machine to shut down; powering it off.");
                if let Err(e) = state.power_off().await {
                    ui.error(format!("Powering off failed: {e}"));
                }
                let why = command_ended.map(|h| format!(" (the shutdown command {h})")).unwrap_or_default();
                Err(Error::new(format!(
                    "Timeout while waiting for the machine to shut down after {}{why}; check shutdown_command, or raise shutdown_timeout",
                    format_go_duration(timeout)
                )))
            }
        }
    }
}
