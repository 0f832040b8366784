//! kiln's provisioners, one module each. The shell-local engine they share with the
//! post-processor of that name is `kiln_comm::shell_local`.

pub mod ansible;
pub mod ansible_local;
pub mod breakpoint;
pub mod chef_solo;
pub mod file;
pub mod puppet_masterless;
mod remote;
pub mod shell;
pub mod shell_local;
pub mod sleep;

/// Adds the environment kiln gives a provisioner's commands to its step cache digest.
fn add_env(inputs: &mut kiln_core::cache::Inputs, env: &[(String, String)]) {
    for (k, v) in env {
        inputs.add("env", format!("{k}={v}").as_bytes());
    }
}
