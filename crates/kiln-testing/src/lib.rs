//! kiln-testing is the test support every kiln crate shares. It is a dev-dependency only:
//! no shipped crate may depend on it normally.
//!
//! - [`sshd`]: a private OpenSSH server on 127.0.0.1, stopped by its PID on drop;
//! - [`http`]: a small HTTP/1.1 server on 127.0.0.1 that answers with a test's handler and
//!   records the requests, stopped on drop;
//! - [`TempDir`]: a fresh folder per test, removed on drop (also when the test fails);
//! - tools and shared data: [`require_tools`] / [`skip`] (`KILN_REQUIRE_TOOLS=1` turns "missing,
//!   skipped" into a failure), [`corpus_dir`] / [`shared_dir`] (`KILN_CORPUS`, `KILN_SHARED`),
//!   [`packer_runs`];
//! - [`cli`]: running the `kiln` binary from its own tests;
//! - [`base_image`]: a Debian root filesystem from debootstrap, cached as a tarball;
//! - [`moto`]: moto's EC2/STS/SSM/Secrets Manager server on 127.0.0.1;
//! - [`standin`]: a stand-in for a cloud instance: sshd in a podman container from the base
//!   image, published on 127.0.0.1.
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

pub mod base_image;
pub mod cli;
pub mod http;
pub mod moto;
pub mod plugins;
pub mod sshd;
pub mod standin;
mod tempdir;
mod tools;

pub use tempdir::{process_dir, TempDir};
pub use tools::{
    corpus_dir, corpus_or_skip, packer_or_skip, packer_runs, require_tools, shared_dir, shared_or_skip, skip,
};

/// kiln's cache, where tests keep what is slow to make (the base image, podman's store):
/// `KILN_CACHE_DIR`, else `~/.cache/kiln`.
pub fn cache_dir() -> std::path::PathBuf {
    if let Some(dir) = std::env::var_os("KILN_CACHE_DIR").filter(|d| !d.is_empty()) {
        return std::path::PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from).unwrap_or_else(std::env::temp_dir);
    home.join(".cache").join("kiln")
}
