//! kiln's builders, one folder each: a `config.rs` with the documented options and the
//! builder with its list of steps.

pub mod file;
pub mod null;
pub mod qemu;
