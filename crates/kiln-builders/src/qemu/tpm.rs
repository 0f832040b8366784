//! The VM's software TPM (`vtpm`): an `swtpm socket` process that QEMU's `tpm-emulator` backend
//! talks to over a unix socket. Its folder (the TPM's state, its socket and log) is inside
//! kiln's private folder for the VM, so the TPM's secrets never reach the output directory and
//! go when the VM's folder goes.
//!
//! swtpm runs with `--terminate`: it exits when QEMU's connection ends, so it cannot outlive the
//! VM even when kiln itself is killed and cannot stop it. kiln stops it as well, after the VM.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::process::{self, Child};
use kiln_core::{Error, Result};

/// How long swtpm has to create its socket.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// `swtpm` on `PATH`, if it is there.
pub fn find_swtpm() -> Option<PathBuf> {
    find_in(&std::env::var_os("PATH")?)
}

/// An executable `swtpm` in the folders of `path` (a `PATH` value).
pub fn find_in(path: &std::ffi::OsStr) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(path)
        .map(|d| d.join("swtpm"))
        .find(|p| p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// A running swtpm.
#[derive(Debug)]
pub struct Swtpm {
    child: Child,
    /// Its pid, for messages.
    pub pid: u32,
    /// The control socket QEMU connects to.
    pub socket: PathBuf,
    log: PathBuf,
}

impl Swtpm {
    /// Starts swtpm with its state in `dir` (created here, private), a TPM 2.0 unless `tpm1`.
    /// It returns as soon as the process runs: [`Swtpm::ready`] waits for its socket.
    pub fn start(program: &Path, dir: &Path, tpm1: bool) -> Result<Swtpm> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(dir)
            .map_err(|e| Error::new(format!("creating the TPM's folder {}: {e}", dir.display())))?;
        let socket = dir.join("swtpm.sock");
        let log = dir.join("swtpm.log");
        let mut cmd = tokio::process::Command::new(program);
        cmd.arg("socket")
            .arg("--tpmstate")
            .arg(format!("dir={}", dir.display()))
            .arg("--ctrl")
            .arg(format!("type=unixio,path={}", socket.display()))
            .arg("--log")
            .arg(format!("file={}", log.display()))
            .arg("--terminate");
        if !tpm1 {
            cmd.arg("--tpm2");
        }
        cmd.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
        let child = process::spawn(&mut cmd)
            .map_err(|e| Error::new(format!("cannot start {} (for vtpm): {e}", program.display())))?;
        let pid = child.id().unwrap_or_default();
        Ok(Swtpm { child, pid, socket, log })
    }

    /// Waits until swtpm listens on its socket; fails with its log if it exits first.
    pub async fn ready(&mut self) -> Result<()> {
        let started = Instant::now();
        loop {
            if self.socket.exists() {
                return Ok(());
            }
            let exited = self.child.try_wait().map_err(|e| Error::new(format!("watching swtpm: {e}")))?;
            if let Some(status) = exited {
                return Err(Error::new(format!(
                    "swtpm (for vtpm) exited before it listened ({status}){}",
                    self.log_tail()
                )));
            }
            if started.elapsed() > READY_TIMEOUT {
                return Err(Error::new(format!(
                    "swtpm (for vtpm, pid {}) did not create its socket within {}s{}",
                    self.pid,
                    READY_TIMEOUT.as_secs(),
                    self.log_tail()
                )));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Stops it: it normally exits by itself once QEMU is gone; after `grace`, SIGTERM (then
    /// SIGKILL, by dropping the handle).
    pub async fn stop(mut self, grace: Duration) {
        if tokio::time::timeout(grace, self.child.wait()).await.is_err() {
            self.child.signal_group(libc::SIGTERM);
            let _ = tokio::time::timeout(Duration::from_secs(2), self.child.wait()).await;
        }
    }

    /// Whether it still runs.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let text = text.trim();
        if text.is_empty() {
            String::new()
        } else {
            format!(": {}", process::tail(text, 1000))
        }
    }
}

/// QEMU's arguments for the TPM behind `socket`: the character device and backend, then the
/// guest's `device` (`tpm-tis` …).
pub fn qemu_args(socket: &Path, device: &str) -> [(&'static str, String); 3] {
    [
        ("-chardev", format!("socket,id=kiln-vtpm,path={}", socket.display())),
        ("-tpmdev", "emulator,id=kiln-tpm0,chardev=kiln-vtpm".to_string()),
        ("-device", format!("{device},tpmdev=kiln-tpm0")),
    ]
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn swtpm_is_an_executable_file_on_path() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir_all(a.join("swtpm")).unwrap(); // a folder of that name
        std::fs::create_dir_all(&b).unwrap();
        let path = std::env::join_paths([&a, &b]).unwrap();
        assert_eq!(find_in(&path), None);
        std::fs::write(b.join("swtpm"), "#!/bin/sh\n").unwrap();
        assert_eq!(find_in(&path), None, "not executable");
        std::fs::set_permissions(b.join("swtpm"), std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(find_in(&path), Some(b.join("swtpm")));
    }
}
