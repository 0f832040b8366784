//! A running QEMU: started in its own process group ([`Vm::start`] returns the pid and the QMP
//! socket before anything is awaited, so the builder records them at once), watched for its
//! exit, stopped cleanly ([`Vm::stop`]: ACPI power button, then `quit`, then SIGKILL), and
//! killed with its group when the handle is dropped.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kiln_core::{Error, Result};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::watch;

use super::process;
use super::qmp::{Qmp, RunState};

/// How much of QEMU's stderr is kept for error messages.
const STDERR_KEEP: usize = 8 * 1024;

/// Called with each line QEMU writes to stderr (for the debug log).
pub type LineFn = Arc<dyn Fn(&str) + Send + Sync>;

/// How to start the VM.
#[derive(Clone)]
pub struct VmSpec {
    /// `qemu-system-x86_64` or a path.
    pub program: PathBuf,
    /// From [`super::args::command_line`]; must open `qmp_socket` as a QMP server.
    pub args: Vec<String>,
    pub qmp_socket: PathBuf,
    pub on_stderr: Option<LineFn>,
}

/// How QEMU ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    /// Exit status 0: the guest powered off, or QEMU was asked to quit.
    Clean,
    /// A non-zero exit status (QEMU could not start, or failed); the end of its stderr.
    Failed { code: i32, stderr: String },
    /// Killed by a signal (kiln's SIGKILL, or a crash: SIGSEGV, SIGABRT).
    Signalled { signal: i32, stderr: String },
}

impl Exit {
    pub fn is_clean(&self) -> bool {
        *self == Exit::Clean
    }

    /// A sentence for an error message.
    pub fn describe(&self) -> String {
        match self {
            Exit::Clean => "QEMU exited".into(),
            Exit::Failed { code, stderr } if stderr.is_empty() => format!("QEMU exited with status {code}"),
            Exit::Failed { code, stderr } => format!("QEMU exited with status {code}: {stderr}"),
            Exit::Signalled { signal, stderr } if stderr.is_empty() => format!("QEMU was killed by signal {signal}"),
            Exit::Signalled { signal, stderr } => format!("QEMU was killed by signal {signal}: {stderr}"),
        }
    }
}

/// A running (or finished) QEMU.
pub struct Vm {
    pub pid: u32,
    pub qmp_socket: PathBuf,
    exit: watch::Receiver<Option<Exit>>,
    stderr: Arc<Mutex<String>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Vm {
    /// Starts QEMU. Synchronous on purpose: the caller stores the handle (pid, socket) in its
    /// state before its next await. Needs a tokio runtime (a task reaps the child).
    pub fn start(spec: VmSpec) -> Result<Vm> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| Error::new("starting QEMU needs a tokio runtime (to reap it)"))?;
        let mut cmd = tokio::process::Command::new(&spec.program);
        cmd.args(&spec.args).stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = process::spawn(&mut cmd)
            .map_err(|e| Error::new(format!("cannot start {}: {e}", spec.program.display())))?;
        let pid = child.id().ok_or_else(|| Error::new("QEMU exited before it could be watched"))?;
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = watch::channel(None);
        let (keep, on_line) = (stderr.clone(), spec.on_stderr.clone());
        let pipe = child.stderr();
        runtime.spawn(async move {
            let read = async {
                let Some(pipe) = pipe else { return };
                let mut lines = BufReader::new(pipe).lines();
                while let Ok(Some(l)) = lines.next_line().await {
                    if let Some(f) = &on_line {
                        f(&l);
                    }
                    let mut k = lock(&keep);
                    k.push_str(&l);
                    k.push('\n');
                    if k.len() > STDERR_KEEP {
                        let cut = process::tail(&k, STDERR_KEEP / 2).to_string();
                        *k = cut;
                    }
                }
            };
            let (_, status) = tokio::join!(read, child.wait());
            let tail = process::tail(&lock(&keep), 1500).to_string();
            let exit = match status {
                Ok(st) => {
                    use std::os::unix::process::ExitStatusExt;
                    match (st.code(), st.signal()) {
                        (Some(0), _) => Exit::Clean,
                        (Some(code), _) => Exit::Failed { code, stderr: tail },
                        (None, Some(signal)) => Exit::Signalled { signal, stderr: tail },
                        (None, None) => Exit::Failed { code: -1, stderr: tail },
                    }
                }
                Err(e) => Exit::Failed { code: -1, stderr: format!("waiting for QEMU: {e}") },
            };
            let _ = tx.send(Some(exit));
        });
        Ok(Vm { pid, qmp_socket: spec.qmp_socket, exit: rx, stderr })
    }

    /// How QEMU ended, if it has.
    pub fn exited(&self) -> Option<Exit> {
        self.exit.borrow().clone()
    }

    /// Waits for QEMU to exit.
    pub async fn wait(&self) -> Exit {
        let mut rx = self.exit.clone();
        let seen = rx.wait_for(Option::is_some).await.map(|v| v.clone());
        match seen {
            Ok(Some(exit)) => exit,
            // The reaper is gone only when the runtime is: report what is known.
            _ => self.exited().unwrap_or(Exit::Failed { code: -1, stderr: "QEMU's watcher ended".into() }),
        }
    }

    /// Waits at most `timeout` for QEMU to exit.
    pub async fn wait_timeout(&self, timeout: Duration) -> Option<Exit> {
        tokio::time::timeout(timeout, self.wait()).await.ok()
    }

    /// What QEMU has written to stderr (the last few KiB).
    pub fn stderr(&self) -> String {
        lock(&self.stderr).clone()
    }

    /// Connects to the VM's QMP socket, failing at once (with QEMU's stderr) if QEMU exits
    /// first.
    pub async fn connect_qmp(&self, timeout: Duration) -> Result<Qmp> {
        tokio::select! {
            r = Qmp::connect_retry(&self.qmp_socket, timeout) => r.map_err(|e| match self.exited() {
                Some(exit) => Error::new(format!("QEMU did not start: {}", exit.describe())),
                None => Error::from(e),
            }),
            exit = self.wait() => Err(Error::new(format!("QEMU did not start: {}", exit.describe()))),
        }
    }

    /// Sends `signal` to QEMU's process group, unless QEMU has exited.
    pub fn signal(&self, signal: i32) {
        if self.exited().is_none() {
            if let Ok(pgid) = i32::try_from(self.pid) {
                // SAFETY: killpg only sends a signal, to the group QEMU leads.
                unsafe {
                    libc::killpg(pgid, signal);
                }
            }
        }
    }

    /// Stops the VM: the ACPI power button and `grace` for the guest to shut down, then QMP
    /// `quit` (5 s), then SIGKILL. Returns how QEMU ended.
    pub async fn stop(&self, qmp: Option<&Qmp>, grace: Duration) -> Exit {
        if let Some(e) = self.exited() {
            return e;
        }
        if let Some(q) = qmp {
            if q.system_powerdown().await.is_ok() {
                if let Some(e) = self.wait_timeout(grace).await {
                    return e;
                }
            }
            let _ = q.quit().await;
            if let Some(e) = self.wait_timeout(Duration::from_secs(5)).await {
                return e;
            }
        }
        self.signal(libc::SIGKILL);
        self.wait().await
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        self.signal(libc::SIGKILL);
    }
}

/// A random VNC password (`vnc_use_password`): VNC uses at most 8 characters. It is a secret:
/// register it as sensitive before showing it.
pub fn vnc_password() -> Result<String> {
    const CHARS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut bytes = [0u8; 8];
    kiln_config::random::fill(&mut bytes).map_err(|e| Error::new(format!("{e}, for the VNC password")))?;
    Ok(bytes.iter().map(|b| CHARS[usize::from(*b) % CHARS.len()] as char).collect())
}

/// How a guest's run ended early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuestEnd {
    /// QEMU exited (the guest powered off, or QEMU failed).
    Exited(Exit),
    /// The VM stopped and cannot go on (`internal-error`, `guest-panicked`, `io-error`).
    Stopped(RunState),
}

impl GuestEnd {
    pub fn to_error(&self) -> Error {
        match self {
            GuestEnd::Exited(Exit::Clean) => Error::new("the VM shut down unexpectedly"),
            GuestEnd::Exited(e) => Error::new(e.describe()),
            GuestEnd::Stopped(RunState::InternalError) => {
                Error::new("the VM stopped with an internal error of its accelerator (accelerator = \"tcg\" avoids it)")
            }
            GuestEnd::Stopped(RunState::GuestPanicked) => Error::new("the guest panicked"),
            GuestEnd::Stopped(s) => Error::new(format!("the VM stopped ({s:?})")),
        }
    }
}

/// Resolves as soon as the guest's run ends: QEMU exits, or QMP reports a stop it cannot
/// recover from. Run it next to a step that needs the VM (`select!`) to fail at once.
pub async fn watch(vm: &Vm, qmp: &Qmp) -> GuestEnd {
    let mut events = qmp.subscribe();
    // An event may have come before we subscribed.
    let seen_stop = qmp.events_so_far().iter().any(|e| e.name == "STOP" || e.name == "GUEST_PANICKED");
    if seen_stop {
        if let Ok(s) = qmp.query_status().await {
            if s.state.is_fatal() {
                return GuestEnd::Stopped(s.state);
            }
        }
    }
    loop {
        tokio::select! {
            exit = vm.wait() => return GuestEnd::Exited(exit),
            ev = events.recv() => match ev {
                Ok(e) if e.name == "GUEST_PANICKED" => return GuestEnd::Stopped(RunState::GuestPanicked),
                Ok(e) if e.name == "STOP" => {
                    if let Ok(s) = qmp.query_status().await {
                        if s.state.is_fatal() {
                            return GuestEnd::Stopped(s.state);
                        }
                    }
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                // The connection closed: QEMU is exiting; its exit status follows.
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return GuestEnd::Exited(vm.wait().await),
            },
        }
    }
}
