//! The build's temporary SSH key pair (Packer's `StepSSHKeyGen`): made when the communicator is
//! SSH and no password, key file or agent is configured, of the type `temporary_key_pair_type`
//! asks for (ed25519 by default, or RSA of `temporary_key_pair_bits`). It lives in
//! [`crate::CommonState::temp_key`]: the builder puts its public half on the machine
//! ([`public_key`]: cloud-init, `authorized_keys`, EC2's key import), `StepConnect` logs in with
//! it, and kiln-comm's `StepCleanupTempKeys` (`ssh_clear_authorized_keys`) takes it off the
//! machine after provisioning. It is never written to disk.

use kiln_comm::keys::{KeyType, TempKeyPair};
use kiln_core::step::Step;
use kiln_core::{async_trait, Error, Result, RunContext};

use crate::HasCommon;

/// Whether a build with these communicator options needs a temporary key pair.
pub fn needs_temp_key(c: &kiln_comm::Config) -> bool {
    let set = |o: &Option<String>| o.as_deref().is_some_and(|s| !s.is_empty());
    c.kind() == "ssh" && !set(&c.ssh_password) && !set(&c.ssh_private_key_file) && c.ssh_agent_auth != Some(true)
}

/// The public key as an `authorized_keys` line, once [`StepTempKeyPair`] made one.
pub fn public_key(state: &impl HasCommon) -> Option<&str> {
    state.common().temp_key.as_ref().map(|k| k.public_authorized_key.as_str())
}

/// Makes the temporary key pair when [`needs_temp_key`]; sets [`crate::CommonState::temp_key`].
pub struct StepTempKeyPair {
    pub config: kiln_comm::Config,
}

impl StepTempKeyPair {
    pub fn new(config: &kiln_comm::Config) -> StepTempKeyPair {
        StepTempKeyPair { config: config.clone() }
    }
}

#[async_trait]
impl<S: HasCommon> Step<S> for StepTempKeyPair {
    fn name(&self) -> &'static str {
        "StepSSHKeyGen"
    }

    async fn run(&self, state: &mut S, ctx: &RunContext) -> Result<()> {
        if !needs_temp_key(&self.config) {
            return Ok(());
        }
        let kind =
            KeyType::from_options(self.config.temporary_key_pair_type.as_deref(), self.config.temporary_key_pair_bits)
                .map_err(Error::new)?;
        ctx.ui.say(format!("Creating temporary {} SSH key for instance...", kind.name()));
        let id: String = ctx.info.run_uuid.chars().filter(|c| *c != '-').take(12).collect();
        let comment = if id.is_empty() { "packer".to_string() } else { format!("packer_{id}") };
        // RSA keys take a moment to make: off the runtime's threads.
        let pair = tokio::task::spawn_blocking(move || TempKeyPair::generate_type(kind, &comment))
            .await
            .map_err(|e| Error::new(format!("making the temporary key: {e}")))??;
        ctx.ui.add_secrets([pair.private_openssh.clone()]);
        state.common_mut().temp_key = Some(pair);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::context;
    use crate::CommonState;

    #[tokio::test]
    async fn made_only_when_nothing_else_logs_in() {
        let (ctx, rec) = context();
        let mut s = CommonState::default();
        let with_password = kiln_comm::Config { ssh_password: Some("pw".into()), ..Default::default() };
        StepTempKeyPair::new(&with_password).run(&mut s, &ctx).await.unwrap();
        assert!(public_key(&s).is_none());
        let none = kiln_comm::Config { communicator: Some("none".into()), ..Default::default() };
        assert!(!needs_temp_key(&none));
        let rsa = kiln_comm::Config {
            temporary_key_pair_type: Some("rsa".into()),
            temporary_key_pair_bits: Some(2048),
            ..Default::default()
        };
        StepTempKeyPair::new(&rsa).run(&mut s, &ctx).await.unwrap();
        assert!(public_key(&s).unwrap().starts_with("ssh-rsa "));
        assert_eq!(rec.says(), ["Creating temporary RSA SSH key for instance..."]);
        let bad = kiln_comm::Config { temporary_key_pair_type: Some("dsa".into()), ..Default::default() };
        assert!(StepTempKeyPair::new(&bad).run(&mut s, &ctx).await.is_err());
    }
}
