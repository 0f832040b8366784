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

/// A run context whose output is recorded, for unit tests.
#[cfg(test)]
fn test_context(info: kiln_core::BuildInfo) -> (kiln_core::RunContext, kiln_core::event::MemoryRenderer) {
    let r = kiln_core::event::MemoryRenderer::default();
    let ui = kiln_core::Ui::new(Box::new(r.clone())).for_build("b");
    (kiln_core::RunContext { ui, cancel: kiln_core::Cancel::new(), info: std::sync::Arc::new(info) }, r)
}
