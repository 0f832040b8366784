//! Choosing the accelerator, and noticing when it does not work.
//!
//! Packer picks `kvm` whenever `/dev/kvm` exists. That is not enough: `/dev/kvm` may be
//! unreadable, or provided by a backend that cannot run an ordinary guest. The machines kiln is
//! developed on are such a case: their `/dev/kvm` comes from `kvm_pvm` (PVM, a KVM backend for
//! hosts without VT-x, for specially built guest kernels); a normal guest stops with
//! `internal-error` in its boot loader, or crawls through its kernel's decompressor. So:
//!
//! - [`detect`] takes `kvm` only when `/dev/kvm` opens for reading and writing and no PVM module
//!   is loaded (`/sys/module/kvm_pvm`, or `kvm_pvm` in `/proc/modules`); otherwise `tcg`, with
//!   the one message [`TCG_MESSAGE`];
//! - [`watch_start`] follows a starting VM over QMP and turns `internal-error` and
//!   `guest-panicked` into an error that says which accelerator failed and that
//!   `accelerator = "tcg"` avoids it.

use std::path::Path;
use std::time::Duration;

use kiln_core::Error;

use super::config::Accelerator;
use super::qmp::{Qmp, QmpError, RunState};

/// Said once when kiln falls back to TCG by itself.
pub const TCG_MESSAGE: &str = "running without hardware acceleration (TCG): builds are much slower";

/// What [`detect`] looks at, gathered by [`HostFacts::probe`] (separate so the decision can be
/// tested on any machine).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostFacts {
    /// `/dev/kvm` exists.
    pub kvm_device: bool,
    /// `/dev/kvm` opens for reading and writing (the user may use it).
    pub kvm_usable: bool,
    /// A PVM backend provides `/dev/kvm`.
    pub kvm_pvm: bool,
    /// The operating system (`std::env::consts::OS`).
    pub os: &'static str,
}

impl HostFacts {
    /// This machine's facts.
    pub fn probe() -> HostFacts {
        Self::probe_at(Path::new("/"))
    }

    /// The facts under `root` (tests use a fake tree).
    pub fn probe_at(root: &Path) -> HostFacts {
        let dev = root.join("dev/kvm");
        let kvm_device = dev.exists();
        let kvm_usable = kvm_device && std::fs::OpenOptions::new().read(true).write(true).open(&dev).is_ok();
        let kvm_pvm = root.join("sys/module/kvm_pvm").exists()
            || std::fs::read_to_string(root.join("proc/modules"))
                .is_ok_and(|m| m.lines().any(|l| l.split_whitespace().next() == Some("kvm_pvm")));
        HostFacts { kvm_device, kvm_usable, kvm_pvm, os: std::env::consts::OS }
    }
}

/// The accelerator to use and, when it is a fallback, the message to say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detection {
    pub accelerator: Accelerator,
    /// Why (for the debug log): "/dev/kvm is usable", "/dev/kvm is provided by kvm_pvm …".
    pub reason: String,
    /// [`TCG_MESSAGE`] when falling back to TCG.
    pub message: Option<&'static str>,
}

/// The accelerator for an unset `accelerator`.
pub fn detect(facts: &HostFacts) -> Detection {
    let tcg = |reason: &str| Detection {
        accelerator: Accelerator::Tcg,
        reason: reason.to_string(),
        message: Some(TCG_MESSAGE),
    };
    match facts.os {
        "linux" => {}
        "macos" => {
            return Detection {
                accelerator: Accelerator::Hvf,
                reason: "macOS: Hypervisor.framework".into(),
                message: None,
            }
        }
        _ => return tcg("no KVM on this operating system"),
    }
    if !facts.kvm_device {
        tcg("/dev/kvm does not exist")
    } else if !facts.kvm_usable {
        tcg("/dev/kvm cannot be opened for reading and writing (is the user in the kvm group?)")
    } else if facts.kvm_pvm {
        tcg("/dev/kvm is provided by kvm_pvm, which cannot run ordinary guests")
    } else {
        Detection { accelerator: Accelerator::Kvm, reason: "/dev/kvm is usable".into(), message: None }
    }
}

/// A warning for an explicit `accelerator` that will probably not work here (`None`: no
/// reason to think so).
pub fn explicit_warning(chosen: Accelerator, facts: &HostFacts) -> Option<String> {
    if chosen != Accelerator::Kvm || facts.os != "linux" {
        return None;
    }
    if !facts.kvm_device {
        Some("accelerator is \"kvm\" but /dev/kvm does not exist: QEMU will fail to start".into())
    } else if !facts.kvm_usable {
        Some("accelerator is \"kvm\" but /dev/kvm cannot be opened for reading and writing".into())
    } else if facts.kvm_pvm {
        Some("accelerator is \"kvm\" but /dev/kvm is provided by kvm_pvm, which cannot run ordinary guests: the VM will probably stop with an internal error".into())
    } else {
        None
    }
}

/// How the VM was found to have failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// `query-status` or a `STOP` said `internal-error`/`guest-panicked`/`io-error`.
    Stopped { state: RunState, after: Duration },
    /// QEMU exited (the QMP connection closed).
    Exited { after: Duration },
}

impl Failure {
    /// The error for the user: what happened and, for an accelerator failure, the fix.
    pub fn to_error(&self, accelerator: Accelerator) -> Error {
        let secs = |d: &Duration| d.as_secs_f32();
        match self {
            Failure::Stopped { state: RunState::InternalError, after } => Error::new(format!(
                "the VM stopped with an internal error of the {} accelerator {:.0}s after starting; \
                 the host's accelerator cannot run this guest. Set accelerator = \"tcg\" to emulate the CPU instead (slower, but it works everywhere)",
                accelerator.as_str(),
                secs(after)
            )),
            Failure::Stopped { state: RunState::GuestPanicked, after } => {
                Error::new(format!("the guest panicked {:.0}s after starting", secs(after)))
            }
            Failure::Stopped { state, after } => {
                Error::new(format!("the VM stopped ({state:?}) {:.0}s after starting", secs(after)))
            }
            Failure::Exited { after } => Error::new(format!("QEMU exited {:.0}s after starting", secs(after))),
        }
    }
}

/// Follows a started VM until it fails or `window` passes: polls `query-status` every `poll`
/// and listens for `STOP`/`GUEST_PANICKED`. `Ok(())`: nothing went wrong within the window.
pub async fn watch_start(qmp: &Qmp, window: Duration, poll: Duration) -> Result<(), Failure> {
    let started = tokio::time::Instant::now();
    let mut events = qmp.subscribe();
    let deadline = started + window;
    loop {
        match qmp.query_status().await {
            Ok(s) if s.state.is_fatal() => return Err(Failure::Stopped { state: s.state, after: started.elapsed() }),
            Ok(_) => {}
            Err(QmpError::Closed) => return Err(Failure::Exited { after: started.elapsed() }),
            // A slow answer is not a failure of the guest.
            Err(_) => {}
        }
        let next = (tokio::time::Instant::now() + poll).min(deadline);
        if tokio::time::Instant::now() >= deadline {
            return Ok(());
        }
        tokio::select! {
            ev = events.recv() => match ev {
                Ok(e) if e.name == "GUEST_PANICKED" => {
                    return Err(Failure::Stopped { state: RunState::GuestPanicked, after: started.elapsed() })
                }
                // STOP and friends: the next query-status tells why.
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                    return Err(Failure::Exited { after: started.elapsed() })
                }
            },
            _ = tokio::time::sleep_until(next) => {}
            _ = qmp.closed() => return Err(Failure::Exited { after: started.elapsed() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(kvm_device: bool, kvm_usable: bool, kvm_pvm: bool) -> HostFacts {
        HostFacts { kvm_device, kvm_usable, kvm_pvm, os: "linux" }
    }

    #[test]
    fn kvm_only_when_usable_and_not_pvm() {
        assert_eq!(detect(&facts(true, true, false)).accelerator, Accelerator::Kvm);
        assert_eq!(detect(&facts(true, true, false)).message, None);
        for f in [facts(false, false, false), facts(true, false, false), facts(true, true, true)] {
            let d = detect(&f);
            assert_eq!(d.accelerator, Accelerator::Tcg, "{f:?}");
            assert_eq!(d.message, Some(TCG_MESSAGE));
        }
        assert!(detect(&facts(true, true, true)).reason.contains("kvm_pvm"));
        assert_eq!(detect(&HostFacts { os: "windows", ..facts(false, false, false) }).accelerator, Accelerator::Tcg);
        assert!(explicit_warning(Accelerator::Kvm, &facts(true, true, true)).unwrap().contains("kvm_pvm"));
        assert_eq!(explicit_warning(Accelerator::Kvm, &facts(true, true, false)), None);
        assert_eq!(explicit_warning(Accelerator::Tcg, &facts(false, false, false)), None);
    }

    #[test]
    fn facts_come_from_the_tree() {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(HostFacts::probe_at(root.path()), HostFacts { os: std::env::consts::OS, ..Default::default() });
        std::fs::create_dir_all(root.path().join("dev")).unwrap();
        std::fs::write(root.path().join("dev/kvm"), "").unwrap();
        std::fs::create_dir_all(root.path().join("proc")).unwrap();
        std::fs::write(root.path().join("proc/modules"), "kvm 1 0 - Live 0x0\nkvm_pvm 2 0 - Live 0x0\n").unwrap();
        let f = HostFacts::probe_at(root.path());
        assert!(f.kvm_device && f.kvm_usable && f.kvm_pvm, "{f:?}");
        std::fs::write(root.path().join("proc/modules"), "kvm_pvmx 1 0 - Live 0x0\n").unwrap();
        assert!(!HostFacts::probe_at(root.path()).kvm_pvm);
        std::fs::create_dir_all(root.path().join("sys/module/kvm_pvm")).unwrap();
        assert!(HostFacts::probe_at(root.path()).kvm_pvm);
    }

    #[test]
    fn an_internal_error_names_the_fix() {
        let e = Failure::Stopped { state: RunState::InternalError, after: Duration::from_secs(17) }
            .to_error(Accelerator::Kvm);
        assert!(e.message.contains("internal error of the kvm accelerator 17s after starting"), "{e}");
        assert!(e.message.contains("accelerator = \"tcg\""), "{e}");
    }
}
