//! The shutdown step over a real SSH connection (OpenSSH's sshd on 127.0.0.1): the "machine" is
//! stopped when a marker file exists; its power-off is recorded.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use kiln_config::decode::Duration as GoDuration;
use kiln_core::step::Step;
use kiln_core::{async_trait, Result};
use kiln_testing::sshd::sshd_or_skip;
use kiln_toolkit::connect::StepConnect;
use kiln_toolkit::shutdown::{Machine, ShutdownConfig, StepShutdown};
use kiln_toolkit::testing::context;
use kiln_toolkit::CommonState;

struct State {
    common: CommonState,
    marker: PathBuf,
    powered_off: u32,
}
kiln_toolkit::impl_has_common!(State, common);

#[async_trait]
impl Machine for State {
    async fn wait_stopped(&mut self) -> Result<()> {
        while !self.marker.exists() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }
    async fn power_off(&mut self) -> Result<()> {
        self.powered_off += 1;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_command_timeout_and_power_off() {
    let Some(sshd) = sshd_or_skip() else { return };
    let (ctx, rec) = context();
    let comm = kiln_comm::Config {
        ssh_host: Some("127.0.0.1".into()),
        ssh_port: Some(sshd.port),
        ssh_username: Some(sshd.user.clone()),
        ssh_private_key_file: Some(sshd.key.to_string_lossy().into_owned()),
        ..kiln_comm::Config::default()
    };
    let marker = sshd.dir.join("stopped");
    let mut state = State { common: CommonState::default(), marker: marker.clone(), powered_off: 0 };
    StepConnect::new(&comm).run(&mut state, &ctx).await.unwrap();

    // The command stops the machine (a moment later, as a real shutdown does).
    let c =
        ShutdownConfig { shutdown_command: format!("(sleep 0.5; touch {}) &", marker.display()), ..Default::default() };
    StepShutdown::new(&c).run(&mut state, &ctx).await.unwrap();
    assert_eq!(state.powered_off, 0);
    let says = rec.says();
    assert!(
        says.ends_with(&[
            "Gracefully halting the machine...".to_string(),
            "Waiting up to 5m0s for the machine to shut down...".to_string()
        ]),
        "{says:?}"
    );

    // A command that does not stop it: powered off after shutdown_timeout, and an error.
    std::fs::remove_file(&marker).unwrap();
    let c = ShutdownConfig {
        shutdown_command: "echo not stopping; exit 3".into(),
        shutdown_timeout: Some(GoDuration(Duration::from_secs(3))),
    };
    let start = Instant::now();
    let e = StepShutdown::new(&c).run(&mut state, &ctx).await.unwrap_err();
    assert!(start.elapsed() >= Duration::from_secs(3) && start.elapsed() < Duration::from_secs(8));
    assert_eq!(state.powered_off, 1);
    assert!(
        e.message.starts_with(
            "Timeout while waiting for the machine to shut down after 3s (the shutdown command exited with status 3)"
        ),
        "{e}"
    );
    assert!(rec.messages().contains(&"not stopping".to_string()));

    // No command: the builder's power-off at once.
    StepShutdown::new(&ShutdownConfig::default()).run(&mut state, &ctx).await.unwrap();
    assert_eq!(state.powered_off, 2);
    assert_eq!(rec.says().last().unwrap(), "Halting the machine...");
}
