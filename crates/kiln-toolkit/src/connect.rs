//! Connecting to the machine (Packer's `StepConnect`): the communicator's options
//! (`kiln_comm::Config`) with the host and port the builder put in the state, the build's
//! temporary key, `pause_before_connecting`, and kiln-comm's waiting rules (retries until
//! `ssh_timeout`; connection refused, a port that accepts but never answers, and failed logins
//! while the machine boots, up to `ssh_handshake_attempts`; bastion hosts). It says what it waits
//! for and for how long, stops at once when the build is cancelled, and fills the generated data
//! (`Host`, `Port`, `User`, `Password`, `ConnType`, `SSHPublicKey`, `SSHPrivateKey`). Its cleanup
//! closes the connection.

use kiln_config::golang::format_go_duration;
use kiln_core::step::{Outcome, Step};
use kiln_core::{async_trait, Error, Result, RunContext};

use crate::HasCommon;

/// Connects with the communicator; sets [`crate::CommonState::comm`].
///
/// The host is `ssh_host` when set, else [`crate::CommonState::host`] (the builder's address for
/// its machine); the port is [`crate::CommonState::port`] when the builder forwarded one (QEMU),
/// else `ssh_port` (default 22). A temporary key pair in the state is used when no
/// `ssh_private_key_file` is given.
pub struct StepConnect {
    pub config: kiln_comm::Config,
}

impl StepConnect {
    pub fn new(config: &kiln_comm::Config) -> StepConnect {
        StepConnect { config: config.clone() }
    }

    /// The options to connect with for `state`: host, port and key filled in.
    pub fn resolve(&self, state: &crate::CommonState) -> Result<kiln_comm::Config> {
        let mut c = self.config.clone();
        let host = c.ssh_host.clone().filter(|h| !h.is_empty()).or_else(|| state.host.clone());
        let Some(host) = host.filter(|h| !h.is_empty()) else {
            return Err(Error::new("no host to connect to: set ssh_host (the builder did not give an address)"));
        };
        c.ssh_host = Some(host);
        c.ssh_port = Some(state.port.or(c.ssh_port).unwrap_or(22));
        if let Some(key) = &state.temp_key {
            if c.ssh_private_key_file.as_deref().unwrap_or("").is_empty() {
                c.ssh_private_key = Some(key.private_openssh.clone());
            }
        }
        // Paused here, where the cancellation is watched.
        c.pause_before_connecting = None;
        Ok(c)
    }
}

#[async_trait]
impl<S: HasCommon> Step<S> for StepConnect {
    fn name(&self) -> &'static str {
        "StepConnect"
    }

    /// Waiting for the communicator holds nothing yet: a cancel stops it at once.
    fn role(&self) -> kiln_core::step::StepRole {
        kiln_core::step::StepRole::Wait
    }

    async fn run(&self, state: &mut S, ctx: &RunContext) -> Result<()> {
        let kind = self.config.kind().to_string();
        let ui = &ctx.ui;
        if kind == "none" {
            ui.log("communicator none: not connecting");
            // A communicator that refuses everything, so provisioners that need none still run.
            let common = state.common_mut();
            common.comm = Some(std::sync::Arc::new(kiln_comm::NoneComm));
            common.set_data("ConnType", "none");
            return Ok(());
        }
        let mut c = if kind == "ssh" { self.resolve(state.common())? } else { self.config.clone() };
        c.pause_before_connecting = None;
        if let Some(p) = self.config.pause_before_connecting.map(|d| d.get()).filter(|d| !d.is_zero()) {
            ui.say(format!("Pausing {} before connecting...", format_go_duration(p)));
            ctx.cancel.run(tokio::time::sleep(p)).await?;
        }
        let host = c.ssh_host.clone().unwrap_or_else(|| "localhost".into());
        ui.say(format!("Using {kind} communicator to connect: {host}"));
        ui.add_secrets([
            c.ssh_password.clone().unwrap_or_default(),
            c.ssh_bastion_password.clone().unwrap_or_default(),
        ]);
        let say_ui = ui.clone();
        let say = move |s: &str| say_ui.say(s);
        let comm = ctx.cancel.run(c.connect(&say)).await??;
        let common = state.common_mut();
        common.comm = Some(comm);
        let port = c.ssh_port.unwrap_or(22).to_string();
        let (public, private) = match &common.temp_key {
            Some(k) => (k.public_authorized_key.clone(), k.private_openssh.clone()),
            // As in Packer, SSHPrivateKey is the key the build logs in with, also when the
            // user gave it as a file (the ansible provisioner hands it to Ansible).
            None => (String::new(), c.private_key_file_text()),
        };
        ui.add_secrets([private.clone()]);
        for (k, v) in [
            ("ConnType", kind.clone()),
            ("Host", host),
            ("Port", port),
            ("User", c.ssh_username.clone().unwrap_or_default()),
            ("Password", c.ssh_password.clone().unwrap_or_default()),
            ("SSHPublicKey", public),
            ("SSHPrivateKey", private),
        ] {
            common.set_data(k, v);
        }
        Ok(())
    }

    async fn cleanup(&self, state: &mut S, _ctx: &RunContext, _outcome: Outcome) {
        // The last reference closes the connection (provisioners are done with theirs).
        state.common_mut().comm = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CommonState;

    #[test]
    fn host_port_and_key_come_from_the_state() {
        let step = StepConnect::new(&kiln_comm::Config { ssh_port: Some(2200), ..Default::default() });
        let mut s = CommonState::default();
        assert!(step.resolve(&s).unwrap_err().message.starts_with("no host to connect to"));
        s.host = Some("10.0.0.9".into());
        let c = step.resolve(&s).unwrap();
        assert_eq!((c.ssh_host.as_deref(), c.ssh_port), (Some("10.0.0.9"), Some(2200)));
        s.port = Some(3333);
        s.temp_key = Some(kiln_comm::keys::TempKeyPair::generate("packer_t").unwrap());
        let c = step.resolve(&s).unwrap();
        assert_eq!(c.ssh_port, Some(3333));
        assert!(c.ssh_private_key.as_deref().unwrap().contains("OPENSSH PRIVATE KEY"));
        let step = StepConnect::new(&kiln_comm::Config {
            ssh_host: Some("given".into()),
            ssh_private_key_file: Some("k".into()),
            ..Default::default()
        });
        let c = step.resolve(&s).unwrap();
        assert_eq!(c.ssh_host.as_deref(), Some("given"));
        assert!(c.ssh_private_key.is_none());
    }
}
