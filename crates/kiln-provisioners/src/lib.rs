//! kiln's provisioners, one module each. `shell_local` is also the engine of the shell-local
//! post-processor.

pub mod breakpoint;
pub mod file;
pub mod shell;
pub mod shell_local;
