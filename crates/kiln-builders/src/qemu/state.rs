//! What the qemu builder's steps share: the toolkit's common part (output directory, downloaded
//! image, CD and floppy, forwarded port, HTTP address, communicator, generated data) and the
//! VM's own (disk plan, QEMU process, QMP connection).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kiln_core::{async_trait, Error, Result};
use kiln_toolkit::shutdown::Machine;
use kiln_toolkit::CommonState;

use super::config::Accelerator;
use super::disk::DiskPlan;
use super::qmp::Qmp;
use super::tpm::Swtpm;
use super::upload::DriveUpload;
use super::vm::{Exit, Vm};

/// How long the guest gets to shut down after the ACPI power button, before QEMU is told to quit.
const POWER_BUTTON_GRACE: std::time::Duration = std::time::Duration::from_secs(60);

#[derive(Default)]
pub(super) struct State {
    pub common: CommonState,
    /// `vm_name`, or `packer-BUILDNAME`.
    pub vm_name: String,
    /// Whether the VM boots an installer ISO (not `disk_image`): the ISO is its first CD.
    pub boot_from_iso: bool,
    /// The guest port the communicator's forward goes to (22, or `ssh_port`).
    pub guest_port: u16,
    /// The VM is on a host bridge (`net_bridge`), not QEMU's user-mode network.
    pub bridged: bool,
    /// The disks, from the moment they are planned (before any is written).
    pub plan: Option<DiskPlan>,
    /// The VM's copy of the UEFI variable store.
    pub efi_vars: Option<PathBuf>,
    /// The accelerator the VM runs with (detected when `accelerator` is unset).
    pub accelerator: Accelerator,
    /// The VNC port reserved for the VM (`None` with `disable_vnc`).
    pub vnc_port: Option<u16>,
    /// kiln's private folder for QEMU's control socket.
    pub control_dir: Option<PathBuf>,
    /// The VM's software TPM (`vtpm`), from the moment it was started.
    pub swtpm: Option<Swtpm>,
    /// QEMU, from the moment it was started.
    pub vm: Option<Arc<Vm>>,
    /// kiln's QMP connection to it.
    pub qmp: Option<Arc<Qmp>>,
    /// The dump of the user-mode network kiln reads to know when the guest's network is up
    /// (see [`super::netwatch`]), while it runs.
    pub net_watch: Option<PathBuf>,
    /// `qemu_binary` (for the step cache's key).
    pub qemu_binary: String,
    /// The digest of the options that change the machine (see [`super::snapshot`]).
    pub config_digest: String,
    /// With the step cache on: the folder of its disk layers and machine states.
    pub layers_dir: Option<PathBuf>,
    /// Why this VM cannot be snapshotted (the step cache says it once).
    pub cache_unsupported: Option<String>,
    /// Where the step cache let the VM start (its source, or an entry's snapshot).
    pub start: Option<kiln_core::cache::Start>,
    /// Machine states being written (deleted if the build stops before they are complete).
    pub partials: Vec<PathBuf>,
    /// The upload channel, whose hot-plugged disks must be gone before a snapshot.
    pub uploads: Option<Arc<DriveUpload>>,
}

kiln_toolkit::impl_has_common!(State, common, snapshots);

impl State {
    /// The step cache's snapshot the VM starts from, if any.
    pub fn resumed(&self) -> Option<&str> {
        self.start.as_ref()?.entry.as_ref().map(|e| e.snapshot.as_str())
    }

    pub fn output_dir(&self) -> &Path {
        self.common.output_dir.as_deref().unwrap_or(Path::new("."))
    }

    /// The downloaded `iso_url`: the installer ISO, or the source disk with `disk_image`.
    pub fn source(&self) -> Option<&Path> {
        self.common.iso_path.as_deref()
    }

    /// The port forwarded to the guest's SSH (or WinRM) port.
    pub fn host_port(&self) -> Option<u16> {
        self.common.port
    }

    /// The VM's CDs in order: the installer ISO, then the `cd_files` image.
    pub fn cdroms(&self) -> Vec<PathBuf> {
        let iso = self.source().filter(|_| self.boot_from_iso).map(Path::to_path_buf);
        iso.into_iter().chain(self.common.cd_path.clone()).collect()
    }

    /// The values `qemuargs` and `boot_command` templates may use.
    pub fn template_data(&self) -> BTreeMap<String, String> {
        let mut d = BTreeMap::new();
        // On QEMU's user-mode network the host is 10.0.2.2 for the guest.
        let (ip, port) = match self.common.http_addr {
            Some(a) if self.bridged => (a.ip().to_string(), a.port().to_string()),
            Some(a) => ("10.0.2.2".to_string(), a.port().to_string()),
            None => (String::new(), "0".to_string()),
        };
        d.insert("HTTPIP".into(), ip);
        d.insert("HTTPPort".into(), port);
        d.insert("HTTPDir".into(), String::new());
        d.insert("OutputDir".into(), self.output_dir().display().to_string());
        d.insert("Name".into(), self.vm_name.clone());
        d.insert("SSHHostPort".into(), self.host_port().map(|p| p.to_string()).unwrap_or_default());
        d
    }
}

/// The VM as the toolkit's shutdown step sees it.
#[async_trait]
impl Machine for State {
    async fn wait_stopped(&mut self) -> Result<()> {
        let vm = self.vm.clone().ok_or_else(|| Error::new("no VM to wait for"))?;
        match vm.wait().await {
            Exit::Clean => Ok(()),
            other => Err(Error::new(format!("the VM did not shut down cleanly: {}", other.describe()))),
        }
    }

    /// The ACPI power button, then QMP `quit`, then SIGKILL (see [`Vm::stop`]).
    async fn power_off(&mut self) -> Result<()> {
        let vm = self.vm.clone().ok_or_else(|| Error::new("no VM to power off"))?;
        match vm.stop(self.qmp.as_deref(), POWER_BUTTON_GRACE).await {
            Exit::Clean => Ok(()),
            other => Err(Error::new(format!("the VM did not power off cleanly: {}", other.describe()))),
        }
    }
}
