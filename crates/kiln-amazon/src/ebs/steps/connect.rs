//! Connecting to the instance: the communicator the template names, at the address
//! [`super::StepInstanceAddress`] found, with the temporary key pair's private key. Sets the
//! connection's generated data (`Host`, `Port`, `User`, `SSHPrivateKey`, ...) as Packer does.
//!
//! This is kiln-comm's connect (SSH retried until `ssh_timeout`) wrapped as a step; it gives
//! way to the builder toolkit's connect step once that exists.

use kiln_core::step::{Outcome, Step};
use kiln_core::{async_trait, Result, RunContext};

use crate::ebs::State;

pub struct StepConnect;

#[async_trait]
impl Step<State> for StepConnect {
    fn name(&self) -> &'static str {
        "StepConnect"
    }

    /// Waiting for SSH holds nothing yet: a cancel stops it at once.
    fn role(&self) -> kiln_core::step::StepRole {
        kiln_core::step::StepRole::Wait
    }

    async fn run(&self, state: &mut State, ctx: &RunContext) -> Result<()> {
        let c = state.communicator_config();
        let kind = c.kind().to_string();
        if kind != "none" {
            ctx.ui.say(format!("Using {kind} communicator to connect: {}", c.ssh_host.as_deref().unwrap_or("")));
        }
        let ui = ctx.ui.clone();
        let say = move |s: &str| ui.say(s);
        state.comm = Some(ctx.cancel.run(c.connect(&say)).await??);
        let port = c.ssh_port.unwrap_or(22).to_string();
        // The key the build logs in with (the temporary pair's, or the user's key file), for
        // provisioners that connect on their own (ansible): a secret, never shown.
        let public = state.temp_key_pair.as_ref().map(|k| k.public_authorized_key.clone()).unwrap_or_default();
        let private = match &c.ssh_private_key {
            Some(k) => k.clone(),
            None => c.private_key_file_text(),
        };
        ctx.ui.add_secrets([private.clone()]);
        for (k, v) in [
            ("ConnType", kind.as_str()),
            ("Host", c.ssh_host.as_deref().unwrap_or("")),
            ("Port", port.as_str()),
            ("User", c.ssh_username.as_deref().unwrap_or("")),
            ("Password", c.ssh_password.as_deref().unwrap_or("")),
            ("SSHPublicKey", public.as_str()),
            ("SSHPrivateKey", private.as_str()),
        ] {
            state.generated.insert(k.to_string(), v.to_string());
        }
        Ok(())
    }

    async fn cleanup(&self, state: &mut State, _ctx: &RunContext, _outcome: Outcome) {
        state.comm = None;
    }
}
