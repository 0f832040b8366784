//! kiln-testing is the test support every kiln crate shares. It is a dev-dependency only:
//! no shipped crate may depend on it normally.
//!
//! - [`sshd`]: a private OpenSSH server on 127.0.0.1, stopped by its PID on drop;
//! - [`TempDir`]: a fresh folder per test, removed on drop (also when the test fails);
//! - tools and shared data: [`require_tools`] / [`skip`] (`KILN_REQUIRE_TOOLS=1` turns "missing,
//!   skipped" into a failure), [`corpus_dir`] / [`shared_dir`] (`KILN_CORPUS`, `KILN_SHARED`),
//!   [`packer_runs`];
//! - [`cli`]: running the `kiln` binary from its own tests;
//! - [`plugins`]: Packer 1.6.6's components as plugin executables, and the fake SDK plugin.
//!
//! The other real peers tests need go here as they arrive (QEMU with TCG, podman's Docker API
//! service, moto's EC2 server, a distribution registry, ansible-core): each one a module with a
//! `start` that listens on 127.0.0.1 only (a free port) and a `Drop` that stops exactly the
//! process it started, by PID, never by name, and removes its files; and an `_or_skip`
//! constructor that skips with a notice when the tool is missing, or fails under
//! `KILN_REQUIRE_TOOLS=1`.
//!
//! It depends on no kiln crate, so any crate's tests can use it without a dependency cycle.
//! (Configuration nodes written as JSON come from the JSON loader:
//! `kiln_template::testing::json_node`.)

pub mod cli;
pub mod plugins;
pub mod sshd;
mod tempdir;
mod tools;

pub use tempdir::TempDir;
pub use tools::{
    corpus_dir, corpus_or_skip, packer_or_skip, packer_runs, require_tools, shared_dir, shared_or_skip, skip,
};
