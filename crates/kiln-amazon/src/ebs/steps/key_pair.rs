//! The key pair the instance is launched with: the template's (`ssh_keypair_name`), the one
//! already in the AMI, or a temporary one whose private key goes to the communicator.

use std::path::PathBuf;

use kiln_core::step::{Outcome, Step};
use kiln_core::{async_trait, Error, Result, RunContext};

use crate::client::Secret;
use crate::common::{aws_error, journal, names};
use crate::ebs::state::KeyPairHandle;
use crate::ebs::State;

pub struct StepKeyPair;

/// Where `-debug` saves the temporary private key (Packer's `ec2_<build>.pem`).
fn debug_key_path(ctx: &RunContext) -> PathBuf {
    let name = if ctx.info.name.is_empty() { "amazon-ebs" } else { ctx.info.name.as_str() };
    PathBuf::from(format!("ec2_{}.pem", name.replace(['/', '\\'], "_")))
}

#[async_trait]
impl Step<State> for StepKeyPair {
    fn name(&self) -> &'static str {
        "StepKeyPair"
    }

    async fn run(&self, state: &mut State, ctx: &RunContext) -> Result<()> {
        let s = state.settings.clone();
        let comm = &s.comm;
        let set = |o: &Option<String>| o.as_deref().is_some_and(|v| !v.is_empty());
        let keypair_name = s.run.ssh_keypair_name.clone().filter(|n| !n.is_empty());
        if comm.kind() == "none" {
            ctx.ui.say("Not using temporary keypair");
            state.key_name = keypair_name;
            return Ok(());
        }
        if set(&comm.ssh_private_key_file) {
            ctx.ui.say("Using existing SSH private key");
            state.key_name = keypair_name;
            return Ok(());
        }
        if comm.ssh_agent_auth == Some(true) {
            match &keypair_name {
                None => ctx.ui.say("Using SSH Agent with key pair in Source AMI"),
                Some(k) => ctx.ui.say(format!("Using SSH Agent for existing key pair {k}")),
            }
            state.key_name = keypair_name;
            return Ok(());
        }
        if set(&comm.ssh_password) {
            ctx.ui.say("Not using temporary keypair");
            return Ok(());
        }

        let name =
            s.run.temporary_key_pair_name.clone().filter(|n| !n.is_empty()).unwrap_or_else(names::temporary_name);
        ctx.ui.say(format!("Creating temporary keypair: {name}"));
        state.temporary_key = Some(KeyPairHandle { name: name.clone(), created: false });
        state.journal.record(&ctx.ui, journal::KEY_PAIR, &name, &state.region, &[]);
        let key_type = s.run.temporary_key_pair_type.as_deref().filter(|t| *t != "rsa");
        let key = match state.ec2.create_key_pair(&name, key_type, &[]).await {
            Ok(k) => k,
            Err(e) => {
                // An answer from EC2 means nothing was made; otherwise the cleanup deletes it by name.
                if matches!(e, crate::client::Error::Service(_)) {
                    state.temporary_key = None;
                    state.journal.forget(&ctx.ui, journal::KEY_PAIR, &name);
                }
                return Err(aws_error(e, "Error creating temporary keypair"));
            }
        };
        ctx.ui.add_secrets([key.key_material.expose().trim().to_string()]);
        state.temporary_key = Some(KeyPairHandle { name: name.clone(), created: true });
        state.key_name = Some(name.clone());
        if ctx.info.debug {
            let path = debug_key_path(ctx);
            ctx.ui.message(format!("Saving key for debug purposes: {}", path.display()));
            write_private(&path, key.key_material.expose())
                .map_err(|e| Error::new(format!("Error saving debug key: {e}")))?;
        }
        state.private_key = Some(Secret::new(key.key_material.expose().clone()));
        if s.comm.ssh_clear_authorized_keys == Some(true) {
            // Only needed to find the key's line on the instance again.
            match kiln_comm::keys::TempKeyPair::from_private(key.key_material.expose(), &name) {
                Ok(pair) => state.temp_key_pair = Some(pair),
                Err(e) => ctx.ui.error(format!("ssh_clear_authorized_keys: {e}; the key stays in the image")),
            }
        }
        Ok(())
    }

    fn cleans(&self, state: &State) -> Option<String> {
        state.temporary_key.as_ref().map(|k| format!("deleting temporary keypair {}", k.name))
    }

    async fn cleanup(&self, state: &mut State, ctx: &RunContext, _outcome: Outcome) {
        let Some(key) = state.temporary_key.clone() else { return };
        ctx.ui.say("Deleting temporary keypair...");
        match state.ec2.delete_key_pair(&key.name).await {
            Err(e) if !e.is_not_found() => {
                ctx.ui.error(format!("Error cleaning up keypair. Please delete the key manually: {} ({e})", key.name))
            }
            _ => {
                state.temporary_key = None;
                state.journal.forget(&ctx.ui, journal::KEY_PAIR, &key.name);
            }
        }
        state.private_key = None;
        state.temp_key_pair = None;
        if ctx.info.debug {
            let _ = std::fs::remove_file(debug_key_path(ctx));
        }
    }
}

/// Writes a file only its owner can read.
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    f.write_all(text.as_bytes())
}
