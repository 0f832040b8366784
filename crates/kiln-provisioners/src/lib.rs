//! kiln's provisioners, one module each. The shell-local engine they share with the
//! post-processor of that name is `kiln_comm::shell_local`.

pub mod ansible;
pub mod ansible_local;
pub mod breakpoint;
pub mod file;
pub mod shell;
pub mod shell_local;
